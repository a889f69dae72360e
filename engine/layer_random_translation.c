/*
 * layer_random_translation.c — RandomTranslation(height_factor, width_factor,
 * fill_mode, interpolation, fill_value): in training, shifts each image by
 * factor × size pixels (drawn uniformly from [lower, upper] per image and axis) and
 * fills what comes in from outside as TensorFlow's ImageProjectiveTransform does,
 * which Keras uses (reflect: d c b a | a b c d | d c b a; wrap; nearest; constant);
 * at evaluate and predict it passes the input through.  Draws come from the model's
 * random stream (Keras's seed argument is accepted and not used).
 */
#include "engine_impl.h"

#include <string.h>

enum { FILL_REFLECT, FILL_WRAP, FILL_CONSTANT, FILL_NEAREST };
static const char *const fill_modes[] = {"reflect", "wrap", "constant", "nearest", NULL};
enum { INTERP_BILINEAR, INTERP_NEAREST };
static const char *const interpolations[] = {"bilinear", "nearest", NULL};

typedef struct random_translation_state {
    double height_factor[2];    /* [lower, upper] fractions of the height */
    double width_factor[2];
    int fill_mode;
    int interpolation;
    int seed;
    double fill_value;
    int data_format;
    /* derived at build */
    int dims[3];                /* rows, cols, channels */
} random_translation_state;

static const ks_key random_translation_keys[] = {
    {"height_factor", KS_KEY_RANGE, offsetof(random_translation_state, height_factor), 0, -1, 1,
     NULL, NULL, KS_KEY_REQUIRED},
    {"width_factor", KS_KEY_RANGE, offsetof(random_translation_state, width_factor), 0, -1, 1,
     NULL, NULL, KS_KEY_REQUIRED},
    {"fill_mode", KS_KEY_ENUM, offsetof(random_translation_state, fill_mode), 0, 0, 0,
     "reflect", fill_modes, 0},
    {"interpolation", KS_KEY_ENUM, offsetof(random_translation_state, interpolation), 0, 0, 0,
     "bilinear", interpolations, 0},
    KS_SEED_KEY(random_translation_state),
    {"fill_value", KS_KEY_FLOAT, offsetof(random_translation_state, fill_value), 0, -INFINITY,
     INFINITY, "0", NULL, 0},
    KS_DATA_FORMAT_KEY(random_translation_state),
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status random_translation_build(ks_layer *l, ks_error *err)
{
    random_translation_state *st = l->state;
    return ks_layer_image_input(l, st->data_format, st->dims, err);
}

/* the shift of each image: (rows, cols) */
static size_t random_translation_scratch(const ks_layer *l, int batch)
{
    (void)l;
    return 2 * (size_t)batch;
}

/* A coordinate outside [0, len − 1] brought back in, as TensorFlow's fill modes do. */
static float map_coordinate(int mode, float in, int len)
{
    if (mode == FILL_CONSTANT)
        return in;
    if (len <= 1)
        return 0.0f;
    if (mode == FILL_REFLECT && in < 0.0f) {
        float sz2 = 2.0f * (float)len;
        in = sz2 * (float)(long)(-in / sz2) + in;
        in = in < -(float)len ? in + sz2 : -in - 1.0f;
    } else if (mode == FILL_REFLECT && in > (float)(len - 1)) {
        float sz2 = 2.0f * (float)len;
        in -= sz2 * (float)(long)(in / sz2);
        if (in >= (float)len)
            in = sz2 - in - 1.0f;
    } else if (mode == FILL_WRAP && in < 0.0f) {
        in += (float)len * (float)((long)(-in / (float)(len - 1)) + 1);
    } else if (mode == FILL_WRAP && in > (float)(len - 1)) {
        in -= (float)len * (float)(long)(in / (float)(len - 1));
    }
    return in < 0.0f ? 0.0f : in > (float)(len - 1) ? (float)(len - 1) : in;
}

/* What an output pixel reads: up to 4 input pixels with weights, and the fill's weight. */
typedef struct taps {
    int n;
    int at[4];                  /* pixel index y·w + x within the image */
    float weight[4];
    float fill;                 /* weight of fill_value */
} taps;

static void tap(const random_translation_state *st, taps *t, float y, float x, float weight)
{
    int iy = (int)y, ix = (int)x;
    if (y >= 0.0f && x >= 0.0f && iy < st->dims[0] && ix < st->dims[1]) {
        t->at[t->n] = iy * st->dims[1] + ix;
        t->weight[t->n++] = weight;
    } else {
        t->fill += weight;
    }
}

static void pixel_taps(const random_translation_state *st, float sy, float sx, taps *t)
{
    float y = map_coordinate(st->fill_mode, sy, st->dims[0]);
    float x = map_coordinate(st->fill_mode, sx, st->dims[1]);
    t->n = 0;
    t->fill = 0.0f;
    if (x < 0.0f || x > (float)(st->dims[1] - 1) || y < 0.0f || y > (float)(st->dims[0] - 1)) {
        t->fill = 1.0f;
    } else if (st->interpolation == INTERP_NEAREST) {
        tap(st, t, roundf(y), roundf(x), 1.0f);
    } else {
        float y0 = floorf(y), x0 = floorf(x), y1 = y0 + 1.0f, x1 = x0 + 1.0f;
        tap(st, t, y0, x0, (y1 - y) * (x1 - x));
        tap(st, t, y0, x1, (y1 - y) * (x - x0));
        tap(st, t, y1, x0, (y - y0) * (x1 - x));
        tap(st, t, y1, x1, (y - y0) * (x - x0));
    }
}

/* forward (dx NULL): out = the shifted images; backward: dx = what each input pixel fed,
   added to dx with dx_beta 1 */
static void translate(const random_translation_state *st, int n, const float *shift,
                      const float *in, float *out, float *dx, const float *dy, float dx_beta)
{
    const size_t C = (size_t)st->dims[2], image = (size_t)st->dims[0] * st->dims[1] * C;
    const float fill = (float)st->fill_value;
    if (dx && dx_beta == 0.0f)
        memset(dx, 0, (size_t)n * image * sizeof(float));
    for (int b = 0; b < n; b++)
        for (int y = 0; y < st->dims[0]; y++)
            for (int x = 0; x < st->dims[1]; x++) {
                size_t o = (size_t)b * image + ((size_t)y * st->dims[1] + x) * C;
                taps t;
                /* output (y, x) reads input (y − shift, x − shift), in float as TensorFlow */
                pixel_taps(st, (float)y - shift[2 * b], (float)x - shift[2 * b + 1], &t);
                if (dx) {
                    for (int k = 0; k < t.n; k++)
                        for (size_t c = 0; c < C; c++)
                            dx[(size_t)b * image + (size_t)t.at[k] * C + c] +=
                                t.weight[k] * dy[o + c];
                    continue;
                }
                for (size_t c = 0; c < C; c++)
                    out[o + c] = t.fill * fill;
                for (int k = 0; k < t.n; k++)
                    for (size_t c = 0; c < C; c++)
                        out[o + c] += t.weight[k] * in[(size_t)b * image + (size_t)t.at[k] * C + c];
            }
}

static void random_translation_forward(ks_layer *l, const ks_fwd *f)
{
    const random_translation_state *st = l->state;
    if (!f->training) {
        memcpy(f->y, f->x[0], (size_t)f->n * l->out_size * sizeof(float));
        return;
    }
    for (int b = 0; b < f->n; b++) {
        double u = ks_rng_uniform(f->rng), v = ks_rng_uniform(f->rng);
        const double *hf = st->height_factor, *wf = st->width_factor;
        f->scratch[2 * b] = (float)((hf[0] + u * (hf[1] - hf[0])) * st->dims[0]);
        f->scratch[2 * b + 1] = (float)((wf[0] + v * (wf[1] - wf[0])) * st->dims[1]);
    }
    translate(st, f->n, f->scratch, f->x[0], f->y, NULL, NULL, 0.0f);
}

static void random_translation_backward(ks_layer *l, const ks_bwd *b)
{
    if (b->dx[0])
        translate(l->state, b->n, b->scratch, NULL, NULL, b->dx[0], b->dy, b->dx_beta[0]);
}

const ks_layer_ops ks_layer_random_translation_ops = {
    .name = "RandomTranslation",
    .keys = random_translation_keys,
    .state_size = sizeof(random_translation_state),
    .build = random_translation_build,
    .scratch_size = random_translation_scratch,
    .forward = random_translation_forward,
    .backward = random_translation_backward,
    .onnx = ks_onnx_identity,
};
