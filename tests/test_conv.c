/*
 * test_conv.c — the convolutional layers: gradient checks of every kind (strides,
 * same padding with even kernels, dilation, depth_multiplier, windows that do not
 * divide the input, …), forward outputs against naive reference loops written from
 * the definitions, output shapes and Keras names, and BatchNormalization over images.
 * Models and their data, files and augmentation: test_conv_model.c.
 */
#include "grad_check.h"

/* ------------------------------------------------------------- helpers */

/* A layer list from JSON text (the layers as a study file would give them). */
static int parse_layers(const char *json, ks_value *out, const char *why)
{
    ks_error err;
    if (ks_value_from_json(json, strlen(json), why, out, &err) != KS_OK) {
        CHECK(0, "%s: bad test JSON: %s", why, err.msg);
        return 0;
    }
    return 1;
}

static ks_model *build_json(const char *json, const char *loss, const char *why)
{
    ks_value layers;
    if (!parse_layers(json, &layers, why))
        return NULL;
    return build(&layers, loss, 0, 0, why);
}

/* Every trainable weight uniform in [lo, hi] (γ near 1 for BatchNormalization). */
static void randomize(ks_model *m, ks_rng *r, double lo, double hi)
{
    for (int i = 0; i < m->n_weights; i++) {
        ks_weight *w = m->weights[i];
        int gamma = strstr(w->name, "gamma") != NULL;
        if (!w->trainable)
            continue;
        for (size_t j = 0; j < w->size; j++)
            w->w[j] = (float)(gamma ? 0.5 + ks_rng_uniform(r) : lo + (hi - lo) * ks_rng_uniform(r));
    }
}

/* --------------------------------------------------------- gradient checks */

typedef struct grad_case {
    const char *why;
    const char *layers;         /* JSON; ends in a Dense of 3 units */
} grad_case;

/*
 * Each model starts with a trainable 1 × 1 convolution, so that the gradient check of
 * its kernel also checks the input gradient of the layers under test after it.
 */
#define IMG(h, w, c) "[{\"InputLayer\": {\"shape\": [" #h ", " #w ", " #c "]}}, "                  \
                     "{\"Conv2D\": {\"filters\": 2, \"kernel_size\": 1}}, "
#define SEQ(s, c) "[{\"InputLayer\": {\"shape\": [" #s ", " #c "]}}, "                             \
                  "{\"Conv1D\": {\"filters\": 2, \"kernel_size\": 1}}, "
#define OUT "{\"Flatten\": {}}, {\"Dense\": {\"units\": 3}}]"

static const grad_case grad_cases[] = {
    {"Conv2D valid 3x3", IMG(6, 5, 2) "{\"Conv2D\": {\"filters\": 3, \"kernel_size\": 3, "
                                      "\"activation\": \"tanh\"}}, " OUT},
    {"Conv2D same 2x2 strides 2 (padding after)",
     IMG(5, 6, 2) "{\"Conv2D\": {\"filters\": 3, \"kernel_size\": 2, \"strides\": 2, "
                  "\"padding\": \"same\"}}, " OUT},
    {"Conv2D same 4x4 even kernel",
     IMG(5, 5, 1) "{\"Conv2D\": {\"filters\": 2, \"kernel_size\": [4, 4], \"padding\": "
                  "\"same\", \"activation\": \"sigmoid\"}}, " OUT},
    {"Conv2D valid 3x2 strides (2, 1) no bias",
     IMG(7, 5, 2) "{\"Conv2D\": {\"filters\": 3, \"kernel_size\": [3, 2], \"strides\": [2, 1], "
                  "\"use_bias\": false}}, " OUT},
    {"Conv2D dilation 2 same",
     IMG(6, 6, 2) "{\"Conv2D\": {\"filters\": 2, \"kernel_size\": 3, \"dilation_rate\": 2, "
                  "\"padding\": \"same\"}}, " OUT},
    {"Conv2D dilation (2, 1) valid",
     IMG(7, 5, 1) "{\"Conv2D\": {\"filters\": 2, \"kernel_size\": [2, 3], \"dilation_rate\": "
                  "[2, 1]}}, " OUT},
    {"Conv2D 1x1 pointwise, l2 regularizer",
     IMG(3, 4, 3) "{\"Conv2D\": {\"filters\": 4, \"kernel_size\": 1, \"kernel_regularizer\": "
                  "{\"l2\": 0.01}}}, " OUT},
    {"Conv2D 1x1 strides 2 valid",
     IMG(5, 5, 2) "{\"Conv2D\": {\"filters\": 2, \"kernel_size\": 1, \"strides\": 2}}, " OUT},
    {"Conv1D valid 3 strides 2",
     SEQ(9, 2) "{\"Conv1D\": {\"filters\": 3, \"kernel_size\": 3, \"strides\": 2, "
               "\"activation\": \"tanh\"}}, " OUT},
    {"Conv1D same 4 even kernel",
     SEQ(7, 2) "{\"Conv1D\": {\"filters\": 2, \"kernel_size\": 4, \"padding\": \"same\"}}, " OUT},
    {"Conv1D causal dilation 2",
     SEQ(8, 2) "{\"Conv1D\": {\"filters\": 2, \"kernel_size\": 3, \"padding\": \"causal\", "
               "\"dilation_rate\": 2}}, " OUT},
    {"DepthwiseConv2D 3x3 valid",
     IMG(5, 5, 2) "{\"DepthwiseConv2D\": {\"kernel_size\": 3, \"activation\": \"tanh\"}}, " OUT},
    {"DepthwiseConv2D depth_multiplier 2 same strides 2",
     IMG(6, 5, 2) "{\"DepthwiseConv2D\": {\"kernel_size\": 2, \"depth_multiplier\": 2, "
                  "\"strides\": 2, \"padding\": \"same\"}}, " OUT},
    {"DepthwiseConv2D dilation 2 depth_multiplier 3 no bias",
     IMG(6, 6, 2) "{\"DepthwiseConv2D\": {\"kernel_size\": 2, \"depth_multiplier\": 3, "
                  "\"dilation_rate\": 2, \"use_bias\": false}}, " OUT},
    {"SeparableConv2D 3x3 valid",
     IMG(5, 5, 2) "{\"SeparableConv2D\": {\"filters\": 3, \"kernel_size\": 3, \"activation\": "
                  "\"elu\"}}, " OUT},
    {"SeparableConv2D depth_multiplier 2 same 4x4 strides 2",
     IMG(6, 6, 2) "{\"SeparableConv2D\": {\"filters\": 2, \"kernel_size\": 4, \"strides\": 2, "
                  "\"padding\": \"same\", \"depth_multiplier\": 2}}, " OUT},
    {"MaxPooling2D 3x3 strides 2 on 7x6 (overlapping, not dividing)",
     IMG(7, 6, 2) "{\"MaxPooling2D\": {\"pool_size\": 3, \"strides\": 2}}, " OUT},
    {"MaxPooling2D 2x2 same on 5x5",
     IMG(5, 5, 2) "{\"MaxPooling2D\": {\"pool_size\": 2, \"padding\": \"same\"}}, " OUT},
    {"MaxPooling2D (2, 3) strides 1",
     IMG(4, 5, 1) "{\"MaxPooling2D\": {\"pool_size\": [2, 3], \"strides\": 1}}, " OUT},
    {"AveragePooling2D 2x2 on 5x5 (dropping the last row)",
     IMG(5, 5, 2) "{\"AveragePooling2D\": {}}, " OUT},
    {"AveragePooling2D 3x3 same strides 2 (padding not counted)",
     IMG(5, 6, 2) "{\"AveragePooling2D\": {\"pool_size\": 3, \"strides\": 2, \"padding\": "
                  "\"same\"}}, " OUT},
    {"MaxPooling1D 3 strides 2",
     SEQ(8, 2) "{\"MaxPooling1D\": {\"pool_size\": 3, \"strides\": 2}}, " OUT},
    {"AveragePooling1D same",
     SEQ(7, 2) "{\"AveragePooling1D\": {\"padding\": \"same\"}}, " OUT},
    {"GlobalAveragePooling2D", IMG(4, 3, 3) "{\"GlobalAveragePooling2D\": {}}, " OUT},
    {"GlobalMaxPooling2D keepdims",
     IMG(4, 3, 3) "{\"GlobalMaxPooling2D\": {\"keepdims\": true}}, " OUT},
    {"GlobalAveragePooling1D keepdims",
     SEQ(5, 2) "{\"GlobalAveragePooling1D\": {\"keepdims\": true}}, " OUT},
    {"GlobalMaxPooling1D", SEQ(4, 3) "{\"GlobalMaxPooling1D\": {}}, " OUT},
    {"ZeroPadding2D ((1, 2), (0, 1)) then Conv2D",
     IMG(3, 3, 2) "{\"ZeroPadding2D\": {\"padding\": [[1, 2], [0, 1]]}}, "
                  "{\"Conv2D\": {\"filters\": 2, \"kernel_size\": 3}}, " OUT},
    {"ZeroPadding1D (2, 1) then Conv1D",
     SEQ(4, 2) "{\"ZeroPadding1D\": {\"padding\": [2, 1]}}, "
               "{\"Conv1D\": {\"filters\": 2, \"kernel_size\": 3}}, " OUT},
    {"Reshape (-1, 4) then Conv1D",
     IMG(3, 4, 2) "{\"Reshape\": {\"target_shape\": [-1, 4]}}, "
                  "{\"Conv1D\": {\"filters\": 2, \"kernel_size\": 2}}, " OUT},
    {"SpatialDropout2D", IMG(4, 4, 3) "{\"SpatialDropout2D\": {\"rate\": 0.4}}, " OUT},
    {"SpatialDropout1D", SEQ(5, 4) "{\"SpatialDropout1D\": {\"rate\": 0.4}}, " OUT},
    {"BatchNormalization over images",
     IMG(3, 4, 3) "{\"BatchNormalization\": {}}, {\"Conv2D\": {\"filters\": 2, "
                  "\"kernel_size\": 2, \"activation\": \"tanh\"}}, " OUT},
    {"BatchNormalization over sequences",
     SEQ(5, 3) "{\"BatchNormalization\": {\"center\": false}}, " OUT},
    {"Rescaling", IMG(3, 3, 2) "{\"Rescaling\": {\"scale\": 0.5, \"offset\": -0.25}}, " OUT},
    {"RandomFlip (training)", IMG(4, 3, 2) "{\"RandomFlip\": {}}, " OUT},
    {"RandomFlip horizontal (training)",
     IMG(4, 3, 2) "{\"RandomFlip\": {\"mode\": \"horizontal\"}}, " OUT},
    {"RandomTranslation bilinear reflect (training)",
     IMG(5, 6, 2) "{\"RandomTranslation\": {\"height_factor\": 0.3, \"width_factor\": 0.4}}, " OUT},
    {"RandomTranslation nearest constant (training)",
     IMG(5, 4, 2) "{\"RandomTranslation\": {\"height_factor\": [-0.5, 0.2], \"width_factor\": "
                  "0.5, \"fill_mode\": \"constant\", \"fill_value\": 0.5, \"interpolation\": "
                  "\"nearest\"}}, " OUT},
    {"RandomTranslation bilinear wrap (training)",
     IMG(4, 5, 1) "{\"RandomTranslation\": {\"height_factor\": 0.9, \"width_factor\": 0.9, "
                  "\"fill_mode\": \"wrap\"}}, " OUT},
    {"RandomTranslation bilinear nearest-fill (training)",
     IMG(4, 5, 1) "{\"RandomTranslation\": {\"height_factor\": 0.9, \"width_factor\": 0.9, "
                  "\"fill_mode\": \"nearest\"}}, " OUT},
    {"Conv2D, MaxPooling2D, Conv2D, GlobalAveragePooling2D, softmax (fused loss)",
     IMG(7, 7, 1) "{\"Conv2D\": {\"filters\": 3, \"kernel_size\": 3, \"activation\": \"tanh\"}}, "
                  "{\"MaxPooling2D\": {}}, {\"Conv2D\": {\"filters\": 4, \"kernel_size\": 2, "
                  "\"padding\": \"same\"}}, {\"GlobalAveragePooling2D\": {}}, {\"Dense\": "
                  "{\"units\": 3, \"activation\": \"softmax\"}}]"},
};

static void test_gradients(ks_rng *r)
{
    for (size_t i = 0; i < sizeof grad_cases / sizeof grad_cases[0]; i++) {
        const grad_case *gc = &grad_cases[i];
        int softmax = strstr(gc->layers, "softmax") != NULL;
        ks_model *m = build_json(gc->layers, softmax ? "categorical_crossentropy" : "mse", gc->why);
        batch b;
        if (!m)
            continue;
        CHECK(m->layers[0]->out_size <= 512, "%s: input too large for the test batch", gc->why);
        /* weights away from zero and inputs in ±[0.1, 1.1]: gradients of a useful size */
        randomize(m, r, -0.6, 0.6);
        fill_batch(&b, r, (int)m->layers[0]->out_size, 3, softmax ? "onehot" : "real");
        b.use_w = 0;
        grad_step = strstr(gc->layers, "Max") ? 2e-3 : 1e-2;
        check_grads(m, &b, gc->why);
        ks_model_free(m);
    }
}

/*
 * The same cases with the layer under test called twice on one tensor (a shared layer,
 * Keras's functional API) and the two calls added: the tensor's gradient is the sum of
 * both calls' input gradients (the second writer adds, dx_beta 1) and each weight's
 * gradient the sum over both calls (grad_beta 1).
 */
static int shared_variant(const char *json, const char *why, ks_value *out)
{
    ks_value src;
    int ok = 1;
    if (!parse_layers(json, &src, why))
        return 0;
    ks_value_init(out, KS_VALUE_LIST);
    for (size_t i = 0; i < src.n && ok; i++) {
        const ks_value *entry = &src.items[i].items[0];
        ks_value *e = ks_value_push(out, KS_VALUE_MAP), *call, *add;
        ok = e && ks_value_put_copy(e, entry->key, entry) == KS_OK;
        if (ok && (i == 1 || i == 2))
            ok = put_str(&e->items[0], "name", i == 1 ? "pre" : "under") != NULL;
        if (!ok || i != 2)
            continue;
        call = ks_value_put(ks_value_push(out, KS_VALUE_MAP), "under", KS_VALUE_MAP);
        add = ks_value_put(ks_value_push(out, KS_VALUE_MAP), "Add", KS_VALUE_MAP);
        ok = call && add && put_str(call, "inputs", "pre") && put_str(call, "name", "under_2");
        if (ok) {
            ks_value *list = ks_value_put(add, "inputs", KS_VALUE_LIST);
            ok = list && ks_value_set_string(ks_value_push(list, KS_VALUE_NULL), "under") ==
                             KS_OK &&
                 ks_value_set_string(ks_value_push(list, KS_VALUE_NULL), "under_2") == KS_OK;
        }
    }
    ks_value_free(&src);
    CHECK(ok, "%s: cannot make the shared variant", why);
    if (!ok)
        ks_value_free(out);
    return ok;
}

static void test_gradients_shared(ks_rng *r)
{
    for (size_t i = 0; i < sizeof grad_cases / sizeof grad_cases[0]; i++) {
        const grad_case *gc = &grad_cases[i];
        int softmax = strstr(gc->layers, "softmax") != NULL;
        char why[160];
        ks_value layers;
        ks_model *m;
        static batch b;
        snprintf(why, sizeof why, "%s, called twice", gc->why);
        if (!shared_variant(gc->layers, why, &layers))
            continue;
        m = build(&layers, softmax ? "categorical_crossentropy" : "mse", 0, 0, why);
        if (!m)
            continue;
        CHECK(m->n_nodes == m->n_layers + 1, "%s: %d calls of %d layers", why, m->n_nodes,
              m->n_layers);
        randomize(m, r, -0.6, 0.6);
        fill_batch(&b, r, (int)m->layers[0]->out_size, 3, softmax ? "onehot" : "real");
        b.use_w = 0;
        grad_step = strstr(gc->layers, "Max") ? 2e-3 : 1e-2;
        check_grads(m, &b, why);
        ks_model_free(m);
    }
}

/* ------------------------------------------------- forward against references */

enum { REF_CONV, REF_DEPTHWISE, REF_SEPARABLE, REF_MAX, REF_AVG };
enum { PAD_VALID, PAD_SAME, PAD_CAUSAL };

typedef struct fwd_case {
    int kind, rank;             /* REF_*; 1: a sequence (h = kh = sh = dh = 1) */
    int h, w, c;
    int kh, kw, sh, sw, dh, dw;
    int pad;
    int filters, dm;
    /* derived */
    int oh, ow, pt, pl;
} fwd_case;

/* Output size and padding before, from TensorFlow's definitions (written apart from the
   engine's: out = ceil((in − eff + 1) / s) valid, ceil(in / s) same). */
static void ref_axis(int in, int k, int s, int d, int pad, int *out, int *before)
{
    int eff = (k - 1) * d + 1;
    *before = 0;
    if (pad == PAD_VALID) {
        *out = (in - eff + 1 + s - 1) / s;
        return;
    }
    *out = (in + s - 1) / s;
    if (pad == PAD_CAUSAL)
        *before = eff - 1;
    else
        *before = ((*out - 1) * s + eff - in > 0 ? (*out - 1) * s + eff - in : 0) / 2;
}

static double ref_in(const fwd_case *g, const float *x, int b, int iy, int ix, int ci)
{
    if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
        return 0.0;
    return x[(((size_t)b * g->h + iy) * g->w + ix) * g->c + ci];
}

/* Convolutions: the sum over the window of input × kernel, plus bias (may be NULL). */
static void ref_conv(const fwd_case *g, int n, const float *x, const float *k, const float *pk,
                     const float *bias, float *y)
{
    int M = g->kind == REF_CONV ? g->filters : g->c * g->dm;
    int F = g->kind == REF_SEPARABLE ? g->filters : M;
    double mid[64];
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float *out = y + (((size_t)b * g->oh + oy) * g->ow + ox) * F;
                for (int j = 0; j < M; j++) {
                    double s = 0.0;
                    for (int ky = 0; ky < g->kh; ky++)
                        for (int kx = 0; kx < g->kw; kx++) {
                            int iy = oy * g->sh - g->pt + ky * g->dh;
                            int ix = ox * g->sw - g->pl + kx * g->dw;
                            size_t tap = (size_t)ky * g->kw + kx;
                            if (g->kind == REF_CONV)
                                for (int ci = 0; ci < g->c; ci++)
                                    s += ref_in(g, x, b, iy, ix, ci) *
                                         k[(tap * g->c + ci) * g->filters + j];
                            else    /* depthwise: output j = ci·dm + m reads channel ci */
                                s += ref_in(g, x, b, iy, ix, j / g->dm) * k[tap * M + j];
                        }
                    mid[j] = s;
                }
                for (int f = 0; f < F; f++) {
                    double s = bias ? bias[f] : 0.0;
                    if (g->kind == REF_SEPARABLE)
                        for (int j = 0; j < M; j++)
                            s += mid[j] * pk[(size_t)j * F + f];
                    else
                        s += mid[f];
                    out[f] = (float)s;
                }
            }
}

/* Pooling over the window positions inside the input. */
static void ref_pool(const fwd_case *g, int n, const float *x, float *y)
{
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                for (int ci = 0; ci < g->c; ci++) {
                    double best = -INFINITY, sum = 0.0;
                    int count = 0;
                    for (int ky = 0; ky < g->kh; ky++)
                        for (int kx = 0; kx < g->kw; kx++) {
                            int iy = oy * g->sh - g->pt + ky, ix = ox * g->sw - g->pl + kx;
                            double v;
                            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                continue;
                            v = ref_in(g, x, b, iy, ix, ci);
                            best = v > best ? v : best;
                            sum += v;
                            count++;
                        }
                    y[(((size_t)b * g->oh + oy) * g->ow + ox) * g->c + ci] =
                        (float)(g->kind == REF_MAX ? best : sum / count);
                }
}

/* The case as a model: an input and the one layer. */
static void case_json(const fwd_case *g, char *buf, size_t size)
{
    static const char *const cls[2][5] = {
        {"Conv1D", "", "", "MaxPooling1D", "AveragePooling1D"},
        {"Conv2D", "DepthwiseConv2D", "SeparableConv2D", "MaxPooling2D", "AveragePooling2D"}};
    static const char *const pads[] = {"valid", "same", "causal"};
    int len;
    char win[160];
    if (g->rank == 1)
        len = snprintf(buf, size, "[{\"InputLayer\": {\"shape\": [%d, %d]}}, ", g->w, g->c);
    else
        len = snprintf(buf, size, "[{\"InputLayer\": {\"shape\": [%d, %d, %d]}}, ", g->h, g->w,
                       g->c);
    if (g->rank == 1)
        snprintf(win, sizeof win, "%d, \"strides\": %d, \"padding\": \"%s\"", g->kw, g->sw,
                 pads[g->pad]);
    else
        snprintf(win, sizeof win, "[%d, %d], \"strides\": [%d, %d], \"padding\": \"%s\"", g->kh,
                 g->kw, g->sh, g->sw, pads[g->pad]);
    if (g->kind >= REF_MAX) {
        snprintf(buf + len, size - (size_t)len, "{\"%s\": {\"pool_size\": %s}}]",
                 cls[g->rank - 1][g->kind], win);
        return;
    }
    len += snprintf(buf + len, size - (size_t)len, "{\"%s\": {\"kernel_size\": %s, ",
                    cls[g->rank - 1][g->kind], win);
    if (g->rank == 1)
        len += snprintf(buf + len, size - (size_t)len, "\"dilation_rate\": %d", g->dw);
    else
        len += snprintf(buf + len, size - (size_t)len, "\"dilation_rate\": [%d, %d]", g->dh,
                        g->dw);
    if (g->kind != REF_CONV)
        len += snprintf(buf + len, size - (size_t)len, ", \"depth_multiplier\": %d", g->dm);
    if (g->kind != REF_DEPTHWISE)
        len += snprintf(buf + len, size - (size_t)len, ", \"filters\": %d", g->filters);
    snprintf(buf + len, size - (size_t)len, "}}]");
}

static void check_forward(fwd_case g, ks_rng *r)
{
    enum { N = 3 };
    char json[512], why[600];
    float x[N * 256], want[N * 512];
    const float *got;
    ks_model *m;
    ks_error err;
    double worst = 0.0;
    size_t out_size;
    ks_value layers;
    ref_axis(g.h, g.kh, g.sh, g.dh, g.pad, &g.oh, &g.pt);
    ref_axis(g.w, g.kw, g.sw, g.dw, g.pad, &g.ow, &g.pl);
    case_json(&g, json, sizeof json);
    snprintf(why, sizeof why, "forward %s", json);
    if (!parse_layers(json, &layers, why))
        return;
    m = build(&layers, "mse", 0, 0, why);
    if (!m)
        return;
    out_size = m->outputs[0].size;
    REQUIRE((size_t)g.oh * g.ow * (g.kind == REF_CONV || g.kind == REF_SEPARABLE ? g.filters
                                   : g.kind == REF_DEPTHWISE ? g.c * g.dm : g.c) == out_size &&
                out_size <= 512 && (size_t)g.h * g.w * g.c <= 256,
            "%s: output size %zu", why, out_size);
    randomize(m, r, -1.0, 1.0);
    for (int i = 0; i < N * g.h * g.w * g.c; i++)
        x[i] = (float)(2.0 * ks_rng_uniform(r) - 1.0);
    REQUIRE(ks_model_workspace(m, N, 0, &err) == KS_OK, "%s: workspace", why);
    got = ks_model_forward(m, (const float *const[]){x}, N, 0);
    if (g.kind >= REF_MAX)
        ref_pool(&g, N, x, want);
    else
        ref_conv(&g, N, x, m->weights[0]->w,
                 g.kind == REF_SEPARABLE ? m->weights[1]->w : NULL,
                 m->weights[g.kind == REF_SEPARABLE ? 2 : 1]->w, want);
    for (size_t i = 0; i < N * out_size; i++)
        worst = fmax(worst, fabs((double)got[i] - want[i]));
    CHECK(worst < 1e-5, "%s: differs from the reference by %g", why, worst);
    ks_model_free(m);
}

static void test_forward(ks_rng *r)
{
    /* kind, rank, h, w, c, kh, kw, sh, sw, dh, dw, pad, filters, dm */
    static const fwd_case cases[] = {
        {REF_CONV, 2, 6, 5, 2, 3, 3, 1, 1, 1, 1, PAD_VALID, 3, 1},
        {REF_CONV, 2, 6, 7, 2, 2, 2, 2, 2, 1, 1, PAD_SAME, 3, 1},
        {REF_CONV, 2, 5, 5, 3, 4, 4, 1, 1, 1, 1, PAD_SAME, 2, 1},
        {REF_CONV, 2, 7, 6, 1, 3, 2, 2, 3, 1, 1, PAD_SAME, 2, 1},
        {REF_CONV, 2, 7, 7, 2, 3, 3, 1, 1, 2, 2, PAD_SAME, 2, 1},
        {REF_CONV, 2, 8, 6, 2, 2, 3, 1, 1, 3, 1, PAD_VALID, 2, 1},
        {REF_CONV, 2, 4, 5, 3, 1, 1, 1, 1, 1, 1, PAD_VALID, 4, 1},
        {REF_CONV, 2, 5, 5, 3, 1, 1, 2, 2, 1, 1, PAD_SAME, 4, 1},
        {REF_CONV, 1, 1, 9, 2, 1, 3, 1, 2, 1, 1, PAD_VALID, 3, 1},
        {REF_CONV, 1, 1, 8, 3, 1, 4, 1, 1, 1, 1, PAD_SAME, 2, 1},
        {REF_CONV, 1, 1, 8, 2, 1, 3, 1, 1, 1, 2, PAD_CAUSAL, 2, 1},
        {REF_CONV, 1, 1, 9, 2, 1, 2, 1, 3, 1, 1, PAD_CAUSAL, 2, 1},
        {REF_DEPTHWISE, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1, PAD_VALID, 0, 1},
        {REF_DEPTHWISE, 2, 6, 5, 2, 2, 2, 2, 2, 1, 1, PAD_SAME, 0, 2},
        {REF_DEPTHWISE, 2, 7, 7, 2, 3, 3, 1, 1, 2, 2, PAD_SAME, 0, 3},
        {REF_SEPARABLE, 2, 5, 6, 2, 3, 3, 1, 1, 1, 1, PAD_VALID, 3, 1},
        {REF_SEPARABLE, 2, 6, 6, 2, 4, 4, 2, 2, 1, 1, PAD_SAME, 4, 2},
        {REF_MAX, 2, 7, 6, 2, 3, 3, 2, 2, 1, 1, PAD_VALID, 0, 1},
        {REF_MAX, 2, 5, 5, 3, 2, 2, 2, 2, 1, 1, PAD_SAME, 0, 1},
        {REF_MAX, 2, 6, 7, 2, 3, 2, 1, 3, 1, 1, PAD_SAME, 0, 1},
        {REF_AVG, 2, 5, 6, 2, 3, 3, 2, 2, 1, 1, PAD_SAME, 0, 1},
        {REF_AVG, 2, 5, 5, 2, 2, 2, 2, 2, 1, 1, PAD_VALID, 0, 1},
        {REF_MAX, 1, 1, 8, 2, 1, 3, 1, 2, 1, 1, PAD_VALID, 0, 1},
        {REF_AVG, 1, 1, 7, 3, 1, 2, 1, 2, 1, 1, PAD_SAME, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_forward(cases[i], r);
}


/* ------------------------------------------------------- shapes and names */

static void expect_layers(const char *json, const char *want_names, const char *want_shapes,
                          const char *want_weights)
{
    char names[512] = "", shapes[512] = "", weights[1024] = "", buf[96];
    ks_value layers;
    ks_model *m = NULL;
    ks_error err;
    if (!parse_layers(json, &layers, "shapes"))
        return;
    if (ks_model_from_config(&layers, NULL, 1, &m, &err) != KS_OK) {
        CHECK(0, "%s: %s", json, err.msg);
        ks_value_free(&layers);
        return;
    }
    for (int i = 1; i < m->n_layers; i++) {
        size_t n = strlen(names), s = strlen(shapes);
        snprintf(names + n, sizeof names - n, "%s%s", i > 1 ? " " : "", m->layers[i]->name);
        snprintf(shapes + s, sizeof shapes - s, "%s%s", i > 1 ? " " : "",
                 ks_shape_str(&m->layers[i]->out_shape, buf, sizeof buf));
    }
    for (int i = 0; i < m->n_weights; i++) {
        size_t n = strlen(weights);
        ks_shape_str(&m->weights[i]->shape, buf, sizeof buf);
        snprintf(weights + n, sizeof weights - n, "%s%s%s", i ? " " : "", m->weights[i]->name,
                 buf + 5);      /* without "(None" */
    }
    CHECK(strcmp(names, want_names) == 0, "names: got %s, want %s", names, want_names);
    CHECK(strcmp(shapes, want_shapes) == 0, "shapes: got %s, want %s", shapes, want_shapes);
    CHECK(strcmp(weights, want_weights) == 0, "weights: got %s, want %s", weights, want_weights);
    ks_model_free(m);
    ks_value_free(&layers);
}

/* The model's layer list, normalized, as JSON (malloc'd). */
static char *config_json(const ks_model *m)
{
    ks_value layers;
    char *json = NULL;
    if (ks_model_config(m, &layers, NULL) != KS_OK)
        return NULL;
    ks_value_to_json(&layers, &json, NULL);
    ks_value_free(&layers);
    return json;
}

/* Build json; the normalized config contains each of want (|-separated) and builds again to
   the same config. */
static void expect_config(const char *json, const char *want)
{
    ks_value layers, again;
    ks_model *m = NULL, *m2 = NULL;
    ks_error err;
    char *text = NULL, *text2 = NULL, pieces[512], *save = NULL;
    if (!parse_layers(json, &layers, "config"))
        return;
    if (ks_model_from_config(&layers, NULL, 1, &m, &err) != KS_OK) {
        CHECK(0, "%s: %s", json, err.msg);
        ks_value_free(&layers);
        return;
    }
    text = config_json(m);
    snprintf(pieces, sizeof pieces, "%s", want);
    for (char *p = strtok_r(pieces, "|", &save); p; p = strtok_r(NULL, "|", &save))
        CHECK(text && strstr(text, p), "config %s lacks %s", text ? text : "(none)", p);
    if (text && ks_value_from_json(text, strlen(text), "again", &again, &err) == KS_OK) {
        CHECK(ks_model_from_config(&again, NULL, 1, &m2, &err) == KS_OK, "rebuild: %s", err.msg);
        text2 = m2 ? config_json(m2) : NULL;
        CHECK(text2 && strcmp(text, text2) == 0, "config does not round-trip: %s vs %s", text,
              text2 ? text2 : "(none)");
        ks_value_free(&again);
    }
    free(text);
    free(text2);
    ks_model_free(m);
    ks_model_free(m2);
    ks_value_free(&layers);
}

/* Building json fails with code and a message containing want. */
static void expect_error(const char *json, ks_status code, const char *want)
{
    ks_value layers;
    ks_model *m = NULL;
    ks_error err;
    ks_status s;
    if (!parse_layers(json, &layers, "error"))
        return;
    s = ks_model_from_config(&layers, NULL, 1, &m, &err);
    CHECK(s == code && strstr(err.msg, want), "%s: got %s \"%s\", want %s \"%s\"", json,
          ks_status_str(s), s == KS_OK ? "" : err.msg, ks_status_str(code), want);
    ks_model_free(m);
    ks_value_free(&layers);
}

static void test_shapes_and_names(void)
{
    expect_layers("[{\"Conv2D\": {\"filters\": 32, \"kernel_size\": 3, \"input_shape\": [28, 28, "
                  "1]}}, {\"MaxPooling2D\": {}}, {\"Conv2D\": {\"filters\": 64, \"kernel_size\": "
                  "3, \"padding\": \"same\"}}, {\"MaxPooling2D\": {\"padding\": \"same\"}}, "
                  "{\"GlobalAveragePooling2D\": {}}]",
                  "conv2d max_pooling2d conv2d_1 max_pooling2d_1 global_average_pooling2d",
                  "(None, 26, 26, 32) (None, 13, 13, 32) (None, 13, 13, 64) (None, 7, 7, 64) "
                  "(None, 64)",
                  "conv2d/kernel, 3, 3, 1, 32) conv2d/bias, 32) conv2d_1/kernel, 3, 3, 32, 64) "
                  "conv2d_1/bias, 64)");
    expect_layers("[{\"InputLayer\": {\"shape\": [9, 9, 3]}}, {\"DepthwiseConv2D\": "
                  "{\"kernel_size\": 3, \"depth_multiplier\": 2, \"strides\": 2}}, "
                  "{\"SeparableConv2D\": {\"filters\": 5, \"kernel_size\": 2, \"padding\": "
                  "\"same\", \"use_bias\": false}}, {\"ZeroPadding2D\": {\"padding\": [[1, 2], "
                  "[0, 1]]}}, {\"BatchNormalization\": {}}, {\"SpatialDropout2D\": {\"rate\": "
                  "0.1}}, {\"GlobalMaxPooling2D\": {\"keepdims\": true}}, {\"Reshape\": "
                  "{\"target_shape\": [-1]}}]",
                  "depthwise_conv2d separable_conv2d zero_padding2d batch_normalization "
                  "spatial_dropout2d global_max_pooling2d reshape",
                  "(None, 4, 4, 6) (None, 4, 4, 5) (None, 7, 5, 5) (None, 7, 5, 5) "
                  "(None, 7, 5, 5) (None, 1, 1, 5) (None, 5)",
                  "depthwise_conv2d/kernel, 3, 3, 3, 2) depthwise_conv2d/bias, 6) "
                  "separable_conv2d/depthwise_kernel, 2, 2, 6, 1) "
                  "separable_conv2d/pointwise_kernel, 1, 1, 6, 5) batch_normalization/gamma, 5) "
                  "batch_normalization/beta, 5) batch_normalization/moving_mean, 5) "
                  "batch_normalization/moving_variance, 5)");
    expect_layers("[{\"InputLayer\": {\"shape\": [20, 3]}}, {\"Conv1D\": {\"filters\": 4, "
                  "\"kernel_size\": 5, \"padding\": \"causal\", \"dilation_rate\": 2}}, "
                  "{\"MaxPooling1D\": {}}, {\"AveragePooling1D\": {\"pool_size\": 3, \"strides\": "
                  "2, \"padding\": \"same\"}}, {\"ZeroPadding1D\": {}}, {\"SpatialDropout1D\": "
                  "{\"rate\": 0.2}}, {\"GlobalMaxPooling1D\": {}}]",
                  "conv1d max_pooling1d average_pooling1d zero_padding1d spatial_dropout1d "
                  "global_max_pooling1d",
                  "(None, 20, 4) (None, 10, 4) (None, 5, 4) (None, 7, 4) (None, 7, 4) (None, 4)",
                  "conv1d/kernel, 5, 3, 4) conv1d/bias, 4)");
    expect_layers("[{\"InputLayer\": {\"shape\": [28, 28]}}, {\"Reshape\": {\"target_shape\": "
                  "[28, 28, 1]}}, {\"Rescaling\": {\"scale\": 0.00392156862745098}}, "
                  "{\"RandomFlip\": {\"mode\": \"horizontal\"}}, {\"RandomTranslation\": "
                  "{\"height_factor\": 0.1, \"width_factor\": 0.1}}, {\"AveragePooling2D\": "
                  "{\"pool_size\": 3}}]",
                  "reshape rescaling random_flip random_translation average_pooling2d",
                  "(None, 28, 28, 1) (None, 28, 28, 1) (None, 28, 28, 1) (None, 28, 28, 1) "
                  "(None, 9, 9, 1)",
                  "");

    /* configs as Keras writes them: tuples as lists, strides resolved, factors as given */
    expect_config("[{\"InputLayer\": {\"shape\": [8, 8, 2]}}, {\"Conv2D\": {\"filters\": 3, "
                  "\"kernel_size\": 3, \"strides\": [2, 1]}}, {\"MaxPooling2D\": {\"pool_size\": "
                  "[2, 1]}}, {\"ZeroPadding2D\": {\"padding\": [1, [0, 2]]}}, "
                  "{\"RandomTranslation\": {\"height_factor\": [0.2, -0.1], \"width_factor\": "
                  "0.3, \"fill_mode\": \"wrap\"}}]",
                  "\"kernel_size\":[3,3],\"strides\":[2,1],\"padding\":\"valid\"|"
                  "\"dilation_rate\":[1,1]|\"pool_size\":[2,1],\"strides\":[2,1]|"
                  "\"padding\":[[1,1],[0,2]]|\"height_factor\":[-0.1,0.2],\"width_factor\":0.3");

    /* argument and shape errors, each one message */
    expect_error("[{\"InputLayer\": {\"shape\": [8, 8, 1]}}, {\"Conv2D\": {\"filters\": 2, "
                 "\"kernel_size\": [3]}}]",
                 KS_ERR_CONFIG, "Conv2D: kernel_size must be an integer >= 1 or a list of 2 of "
                                "them, got a list");
    expect_error("[{\"InputLayer\": {\"shape\": [8, 8, 1]}}, {\"Conv2D\": {\"filters\": 2, "
                 "\"kernel_size\": 3, \"strides\": 0}}]",
                 KS_ERR_CONFIG, "Conv2D: strides must be an integer >= 1 or a list of 2 of them, "
                                "got 0");
    expect_error("[{\"InputLayer\": {\"shape\": [8, 8, 1]}}, {\"MaxPooling2D\": {\"strides\": "
                 "[2, -1]}}]",
                 KS_ERR_CONFIG, "MaxPooling2D: strides must be an integer >= 1 or a list of 2 "
                                "of them, got -1");
    expect_error("[{\"InputLayer\": {\"shape\": [8, 8, 1]}}, {\"Conv2D\": {\"filters\": 2, "
                 "\"kernel_size\": 3, \"padding\": \"sme\"}}]",
                 KS_ERR_CONFIG, "Conv2D: padding must be one of valid, same, got \"sme\" (did "
                                "you mean \"same\"?)");
    expect_error("[{\"InputLayer\": {\"shape\": [8, 8]}}, {\"Conv1D\": {\"filters\": 2, "
                 "\"kernel_size\": 3, \"padding\": \"full\"}}]",
                 KS_ERR_CONFIG, "Conv1D: padding must be one of valid, same, causal, got "
                                "\"full\"");
    expect_error("[{\"InputLayer\": {\"shape\": [8, 8, 1]}}, {\"Conv2D\": {\"filters\": 2, "
                 "\"kernel_size\": 3, \"data_format\": \"channels_first\"}}]",
                 KS_ERR_CONFIG, "Conv2D: data_format channels_first is not supported");
    expect_error("[{\"InputLayer\": {\"shape\": [3, 4, 8]}}, {\"Conv2D\": {\"filters\": 2, "
                 "\"kernel_size\": 5}}]",
                 KS_ERR_SHAPE, "Conv2D: kernel_size (5, 5) is larger than its input (None, 3, "
                               "4, 8) with padding valid");
    expect_error("[{\"InputLayer\": {\"shape\": [5, 5, 1]}}, {\"MaxPooling2D\": {\"pool_size\": "
                 "[2, 6]}}]",
                 KS_ERR_SHAPE, "MaxPooling2D: pool_size (2, 6) is larger than its input");
    expect_error("[{\"InputLayer\": {\"shape\": [6, 2]}}, {\"Conv1D\": {\"filters\": 2, "
                 "\"kernel_size\": 3, \"dilation_rate\": 3}}]",
                 KS_ERR_SHAPE, "Conv1D: kernel_size (3,) with dilation_rate (3,) is larger than "
                               "its input (None, 6, 2)");
    expect_error("[{\"InputLayer\": {\"shape\": [8, 8, 1]}}, {\"Conv2D\": {\"filters\": 2, "
                 "\"kernel_size\": 3, \"strides\": 2, \"dilation_rate\": 2}}]",
                 KS_ERR_CONFIG, "strides > 1 is not supported together with dilation_rate > 1");
    expect_error("[{\"InputLayer\": {\"shape\": [784]}}, {\"Conv2D\": {\"filters\": 2, "
                 "\"kernel_size\": 3}}]",
                 KS_ERR_SHAPE, "Conv2D expects a 3-d input (batch, rows, cols, channels), got "
                               "(None, 784)");
    expect_error("[{\"InputLayer\": {\"shape\": [28, 28]}}, {\"MaxPooling2D\": {}}]",
                 KS_ERR_SHAPE, "images of one channel need the channel axis: input_shape: [28, "
                               "28, 1]");
    expect_error("[{\"InputLayer\": {\"shape\": [28, 28, 1]}}, {\"Conv1D\": {\"filters\": 2, "
                 "\"kernel_size\": 3}}]",
                 KS_ERR_SHAPE, "Conv1D expects a 2-d input (batch, steps, channels)");
    expect_error("[{\"InputLayer\": {\"shape\": [6, 6]}}, {\"Reshape\": {\"target_shape\": [-1, "
                 "-1]}}]",
                 KS_ERR_CONFIG, "Reshape: target_shape (None, -1, -1) may hold one -1 and no 0");
    expect_error("[{\"InputLayer\": {\"shape\": [6, 6]}}, {\"Reshape\": {\"target_shape\": [5, "
                 "-1]}}]",
                 KS_ERR_SHAPE, "the input (None, 6, 6) has 36 values per sample, which "
                               "target_shape (None, 5, -1) cannot hold");
    expect_error("[{\"InputLayer\": {\"shape\": [6, 6, 1]}}, {\"RandomTranslation\": "
                 "{\"height_factor\": 1.5, \"width_factor\": 0}}]",
                 KS_ERR_CONFIG, "RandomTranslation: height_factor must be a number in [-1, 1] "
                                "or a list [lower, upper] of two such, got 1.5");
    expect_error("[{\"InputLayer\": {\"shape\": [6, 6, 1]}}, {\"ZeroPadding2D\": {\"padding\": "
                 "[1, [2]]}}]",
                 KS_ERR_CONFIG, "ZeroPadding2D: padding must be an integer >= 0 or a list of 2 "
                                "such integers or [before, after] pairs, got a list");
}

/* ------------------------------------------- BatchNormalization's 1-d numbers */

/*
 * BatchNormalization on (batch, features) must give the same floats, bit for bit, as
 * it did before it learned images: mean and variance in double over the rows in
 * order, inv_std = (float)(1/√(var+ε)), x̂ = (float)((x − mean)·inv_std), and the
 * input gradient γ·inv_std/R·(R·dy − Σdy − x̂·Σ(dy·x̂)) in float.
 */
static void test_batchnorm_1d_numbers(ks_rng *r)
{
    enum { R = 7, C = 5 };
    static const char *json =
        "[{\"InputLayer\": {\"shape\": [5]}}, {\"BatchNormalization\": {\"momentum\": 0.9}}]";
    float x[R * C], dy[R * C], y_ref[R * C], dx_ref[R * C], xhat[R * C], inv[C];
    float mm[C], mv[C], dg[C], db[C];
    ks_value layers;
    ks_model *m;
    ks_error err;
    const float *y;
    ks_bwd bw;
    ks_layer *bn;
    float *gamma, *beta;
    if (!parse_layers(json, &layers, "bn"))
        return;
    m = build(&layers, "mse", 0, 0, "bn");
    REQUIRE(m != NULL, "bn model");
    bn = m->layers[1];
    randomize(m, r, -1.0, 1.0);
    gamma = bn->weights[0].w;
    beta = bn->weights[1].w;
    for (int i = 0; i < R * C; i++) {
        x[i] = (float)(3.0 * ks_rng_uniform(r) - 1.0);
        dy[i] = (float)(2.0 * ks_rng_uniform(r) - 1.0);
    }
    for (int c = 0; c < C; c++) {
        double sum = 0.0, sq = 0.0, mean, var, sdy = 0.0, sdyx = 0.0;
        for (int i = 0; i < R; i++)
            sum += x[i * C + c];
        mean = sum / R;
        for (int i = 0; i < R; i++)
            sq += (x[i * C + c] - mean) * (x[i * C + c] - mean);
        var = sq / R;
        inv[c] = (float)(1.0 / sqrt(var + 0.001));
        mm[c] = bn->weights[2].w[c] * 0.9f + (float)mean * (1.0f - 0.9f);
        mv[c] = bn->weights[3].w[c] * 0.9f + (float)var * (1.0f - 0.9f);
        for (int i = 0; i < R; i++) {
            xhat[i * C + c] = (float)((x[i * C + c] - mean) * inv[c]);
            y_ref[i * C + c] = xhat[i * C + c] * gamma[c] + beta[c];
            sdy += dy[i * C + c];
            sdyx += (double)dy[i * C + c] * xhat[i * C + c];
        }
        dg[c] = (float)sdyx;
        db[c] = (float)sdy;
        for (int i = 0; i < R; i++)
            dx_ref[i * C + c] = gamma[c] * inv[c] / (float)R *
                                ((float)R * dy[i * C + c] - (float)sdy - xhat[i * C + c] * (float)sdyx);
    }
    REQUIRE(ks_model_workspace(m, R, 1, &err) == KS_OK, "workspace");
    y = ks_model_forward(m, (const float *const[]){x}, R, 1);
    CHECK(memcmp(y, y_ref, sizeof y_ref) == 0, "BatchNormalization 1-d training output changed");
    CHECK(memcmp(bn->weights[2].w, mm, sizeof mm) == 0 &&
              memcmp(bn->weights[3].w, mv, sizeof mv) == 0,
          "BatchNormalization 1-d moving statistics changed");
    memset(&bw, 0, sizeof bw);
    bw.n = R;
    bw.x[0] = x;
    bw.y = y;
    bw.dy = dy;
    {
        float dx[R * C];
        bw.dx[0] = dx;
        bw.scratch = m->ws.scratch[1];
        bn->ops->backward(bn, &bw);
        CHECK(memcmp(dx, dx_ref, sizeof dx) == 0, "BatchNormalization 1-d input gradient changed");
        CHECK(memcmp(bn->weights[0].g, dg, sizeof dg) == 0 &&
                  memcmp(bn->weights[1].g, db, sizeof db) == 0,
              "BatchNormalization 1-d γ/β gradients changed");
    }
    /* inference: the moving statistics */
    for (int c = 0; c < C; c++) {
        inv[c] = (float)(1.0 / sqrt((double)mv[c] + 0.001));
        for (int i = 0; i < R; i++)
            y_ref[i * C + c] = (x[i * C + c] - mm[c]) * inv[c] * gamma[c] + beta[c];
    }
    y = ks_model_forward(m, (const float *const[]){x}, R, 0);
    CHECK(memcmp(y, y_ref, sizeof y_ref) == 0, "BatchNormalization 1-d inference output changed");
    ks_model_free(m);
}

/* ------------------------------------- backward kernels: write or add (beta) */

/*
 * The input gradient of a tensor that several calls read is their sum: each backward
 * kernel writes it (beta 0: old contents are never read, they may be NaN) or adds to
 * it (beta 1).  For each kernel: from a NaN-filled dx with beta 0 no NaN is left, and
 * with beta 1 over old contents p the result is p + what beta 0 gives.
 */
enum { BK_COL2IM, BK_DEPTHWISE, BK_MAXPOOL, BK_AVGPOOL, BK_KINDS };
static const char *const bk_names[] = {"col2im", "depthwise", "max pooling", "average pooling"};

static void backward_kernel(int kind, const ks_window *g, int n, const float *x, const float *w,
                            const float *dy, const int32_t *arg, float *dx, float beta,
                            float *dw)
{
    switch (kind) {
    case BK_COL2IM: ks_col2im(g, n, dy, dx, beta); break;
    case BK_DEPTHWISE: ks_depthwise_backward(g, 2, n, x, w, dy, dx, beta, dw, 0.0f); break;
    case BK_MAXPOOL: ks_maxpool_backward(g, n, dy, arg, dx, beta); break;
    default: ks_avgpool_backward(g, n, dy, dx, beta); break;
    }
}

static void test_backward_beta(ks_rng *r)
{
    /* (k, s, padding): tiled windows (max pooling's own path), overlapping, same */
    static const int cfg[][3] = {{2, 2, KS_PAD_VALID}, {3, 1, KS_PAD_VALID}, {3, 2, KS_PAD_SAME}};
    enum { N = 2, H = 5, W = 6, C = 3, MAX = N * H * W * C * 9 * 2 };
    static float x[N * H * W * C], w[3 * 3 * C * 2], dy[MAX], dw[3 * 3 * C * 2], y[MAX];
    static float dx0[N * H * W * C], dx1[N * H * W * C], old[N * H * W * C];
    static int32_t arg[MAX];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = (float)ks_rng_uniform(r) - 0.5f;
    for (size_t i = 0; i < sizeof w / sizeof *w; i++)
        w[i] = (float)ks_rng_uniform(r) - 0.5f;
    for (size_t i = 0; i < MAX; i++)
        dy[i] = (float)ks_rng_uniform(r) - 0.5f;
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++)
        for (int kind = 0; kind < BK_KINDS; kind++) {
            int k[2] = {cfg[c][0], cfg[c][0]}, s[2] = {cfg[c][1], cfg[c][1]}, d[2] = {1, 1};
            ks_window g;
            size_t len = sizeof dx0 / sizeof *dx0, bad = 0;
            double worst = 0.0;
            CHECK(ks_window_init(&g, H, W, C, k, s, d, cfg[c][2]), "window %zu", c);
            ks_maxpool_forward(&g, N, x, y, arg);
            for (size_t i = 0; i < len; i++) {
                dx0[i] = NAN;
                old[i] = dx1[i] = (float)ks_rng_uniform(r);
            }
            backward_kernel(kind, &g, N, x, w, dy, arg, dx0, 0.0f, dw);
            backward_kernel(kind, &g, N, x, w, dy, arg, dx1, 1.0f, dw);
            for (size_t i = 0; i < len; i++) {
                double e = fabs((double)dx1[i] - ((double)old[i] + dx0[i]));
                bad += !isfinite(dx0[i]);
                worst = e > worst || isnan(e) ? e : worst;
            }
            CHECK(bad == 0, "%s, window %d stride %d: beta 0 left %zu NaN of the old contents",
                  bk_names[kind], k[0], s[0], bad);
            CHECK(worst < 1e-5, "%s, window %d stride %d: beta 1 is not old + new (%g)",
                  bk_names[kind], k[0], s[0], worst);
        }
}

int main(void)
{
    ks_rng *r;
    if (ks_rng_new(2025, 0, 0, &r) != KS_OK)
        return 1;
    test_gradients(r);
    test_gradients_shared(r);
    test_forward(r);
    test_shapes_and_names();
    test_batchnorm_1d_numbers(r);
    test_backward_beta(r);
    ks_rng_free(r);
    return check_done();
}
