/*
 * layer_random_flip.c — RandomFlip(mode): in training, flips each image left-right
 * (horizontal), top-bottom (vertical) or both with probability 1/2, as Keras 3 (one
 * draw per image: horizontal_and_vertical flips both axes or neither); at evaluate and
 * predict it passes the input through.  Draws come from the model's random stream
 * (Keras's seed argument is accepted and not used), so a study stays reproducible.
 */
#include "engine_impl.h"

#include <string.h>

enum { FLIP_HORIZONTAL, FLIP_VERTICAL, FLIP_BOTH };
static const char *const flip_modes[] = {"horizontal", "vertical", "horizontal_and_vertical",
                                         NULL};

typedef struct random_flip_state {
    int mode;
    int seed;
    int data_format;
    /* derived at build */
    int dims[3];                /* rows, cols, channels */
} random_flip_state;

static const ks_key random_flip_keys[] = {
    {"mode", KS_KEY_ENUM, offsetof(random_flip_state, mode), 0, 0, 0, "horizontal_and_vertical",
     flip_modes, 0},
    KS_SEED_KEY(random_flip_state),
    KS_DATA_FORMAT_KEY(random_flip_state),
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status random_flip_build(ks_layer *l, ks_error *err)
{
    random_flip_state *st = l->state;
    return ks_layer_image_input(l, st->data_format, st->dims, err);
}

/* one flag per image: 1 if it was flipped */
static size_t random_flip_scratch(const ks_layer *l, int batch)
{
    (void)l;
    return (size_t)batch;
}

/* out = in with the flipped images flipped (its own inverse, so backward is the same);
   beta 1 adds to out instead (a gradient's later writer) */
static void flip(const random_flip_state *st, int n, const float *flags, const float *in,
                 float *out, float beta)
{
    const int H = st->dims[0], W = st->dims[1];
    const size_t C = (size_t)st->dims[2], image = (size_t)H * W * C;
    int hflip = st->mode != FLIP_VERTICAL, vflip = st->mode != FLIP_HORIZONTAL;
    for (int b = 0; b < n; b++) {
        const float *src = in + (size_t)b * image;
        float *dst = out + (size_t)b * image;
        if (flags[b] == 0.0f) {
            ks_accumulate(dst, src, image, beta);
            continue;
        }
        for (int y = 0; y < H; y++) {
            const float *row = src + (size_t)(vflip ? H - 1 - y : y) * W * C;
            float *orow = dst + (size_t)y * W * C;
            if (!hflip) {
                ks_accumulate(orow, row, (size_t)W * C, beta);
                continue;
            }
            for (int x = 0; x < W; x++)
                ks_accumulate(orow + (size_t)x * C, row + (size_t)(W - 1 - x) * C, C, beta);
        }
    }
}

static void random_flip_forward(ks_layer *l, const ks_fwd *f)
{
    const random_flip_state *st = l->state;
    if (!f->training) {
        memcpy(f->y, f->x[0], (size_t)f->n * l->out_size * sizeof(float));
        return;
    }
    for (int b = 0; b < f->n; b++)
        f->scratch[b] = ks_rng_uniform(f->rng) <= 0.5 ? 1.0f : 0.0f;
    flip(st, f->n, f->scratch, f->x[0], f->y, 0.0f);
}

static void random_flip_backward(ks_layer *l, const ks_bwd *b)
{
    if (b->dx[0])
        flip(l->state, b->n, b->scratch, b->dy, b->dx[0], b->dx_beta[0]);
}

const ks_layer_ops ks_layer_random_flip_ops = {
    .name = "RandomFlip",
    .keys = random_flip_keys,
    .state_size = sizeof(random_flip_state),
    .build = random_flip_build,
    .scratch_size = random_flip_scratch,
    .forward = random_flip_forward,
    .backward = random_flip_backward,
    .onnx = ks_onnx_identity,
};
