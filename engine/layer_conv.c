/*
 * layer_conv.c — Conv2D and Conv1D: y = activation(conv(x, kernel) + bias), channels
 * last, kernel of shape (kh, kw, in, filters) or (k, in, filters) as Keras.  The whole
 * batch goes through one sgemm: im2col makes a row of kh·kw·in floats per output
 * position (a 1 × 1 convolution uses its input as is), times the kernel as a
 * (kh·kw·in) × filters matrix.  Backward: the kernel's gradient is colsᵀ·dz, the
 * input's dz·kernelᵀ folded back with col2im.
 */
#include "engine_impl.h"

#include <string.h>

typedef struct conv_state {
    int filters;
    ks_shape kernel_size;
    ks_shape strides;
    int padding;                /* KS_PAD_* */
    int data_format;
    ks_shape dilation_rate;
    int activation;             /* ks_activation */
    int use_bias;
    int kernel_initializer, bias_initializer;
    ks_value kernel_regularizer, bias_regularizer;
    /* derived at build */
    ks_window g;
    int patch;                  /* kh·kw·in: the length of an im2col row */
    int pointwise;              /* the input is its own im2col */
} conv_state;

static const char *const conv2d_paddings[] = {"valid", "same", NULL};

#define CONV_KEYS(rank, paddings)                                                            \
    {"filters", KS_KEY_INT, offsetof(conv_state, filters), 0, 1, 1e6, NULL, NULL,             \
     KS_KEY_REQUIRED},                                                                        \
    {"kernel_size", KS_KEY_INTS, offsetof(conv_state, kernel_size), rank, 1, 1e6, NULL, NULL, \
     KS_KEY_REQUIRED},                                                                        \
    {"strides", KS_KEY_INTS, offsetof(conv_state, strides), rank, 1, 1e6, "1", NULL, 0},      \
    {"padding", KS_KEY_ENUM, offsetof(conv_state, padding), 0, 0, 0, "valid", paddings, 0},   \
    KS_DATA_FORMAT_KEY(conv_state),                                                           \
    {"dilation_rate", KS_KEY_INTS, offsetof(conv_state, dilation_rate), rank, 1, 1e6, "1",    \
     NULL, 0},                                                                                \
    {"activation", KS_KEY_ENUM, offsetof(conv_state, activation), 0, 0, 0, "linear",          \
     ks_activation_names, KS_KEY_NULLABLE},                                                   \
    {"use_bias", KS_KEY_BOOL, offsetof(conv_state, use_bias), 0, 0, 0, "true", NULL, 0},      \
    {"kernel_initializer", KS_KEY_ENUM, offsetof(conv_state, kernel_initializer), 0, 0, 0,    \
     "glorot_uniform", ks_initializer_names, 0},                                              \
    {"bias_initializer", KS_KEY_ENUM, offsetof(conv_state, bias_initializer), 0, 0, 0,        \
     "zeros", ks_initializer_names, 0},                                                       \
    {"kernel_regularizer", KS_KEY_VALUE, offsetof(conv_state, kernel_regularizer), 0, 0, 0,   \
     NULL, NULL, 0},                                                                          \
    {"bias_regularizer", KS_KEY_VALUE, offsetof(conv_state, bias_regularizer), 0, 0, 0, NULL, \
     NULL, KS_KEY_HIDDEN},                                                                    \
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}

static const ks_key conv2d_keys[] = {CONV_KEYS(2, conv2d_paddings)};
static const ks_key conv1d_keys[] = {CONV_KEYS(1, ks_padding_names)};

static ks_status conv_build(ks_layer *l, int rank, ks_error *err)
{
    conv_state *st = l->state;
    ks_shape ks = {0, {0}}, bs = {1, {0}};
    int in_ch;
    ks_weight *w;
    ks_status s;
    if ((s = ks_layer_check_input(l, rank, st->data_format, err)) != KS_OK ||
        (s = ks_layer_window(l, rank, "kernel_size", st->kernel_size.dim, st->strides.dim,
                             st->dilation_rate.dim, st->padding, &st->g, err)) != KS_OK)
        return s;
    in_ch = l->in_shape[0].dim[rank];
    ks_window_out_shape(&st->g, rank, st->filters, &l->out_shape);
    st->patch = st->g.kh * st->g.kw * in_ch;
    st->pointwise = ks_window_is_pointwise(&st->g);
    for (int i = 0; i < rank; i++)
        ks.dim[ks.ndim++] = st->kernel_size.dim[i];
    ks.dim[ks.ndim++] = in_ch;
    ks.dim[ks.ndim++] = st->filters;
    w = ks_layer_add_weight(l, "kernel", &ks, 1, (ks_initializer)st->kernel_initializer);
    if ((s = ks_regularizer_from_value(&st->kernel_regularizer, l->ops->name, &w->reg, err)) !=
        KS_OK)
        return s;
    if (st->use_bias) {
        bs.dim[0] = st->filters;
        w = ks_layer_add_weight(l, "bias", &bs, 1, (ks_initializer)st->bias_initializer);
        if ((s = ks_regularizer_from_value(&st->bias_regularizer, l->ops->name, &w->reg,
                                           err)) != KS_OK)
            return s;
    }
    return KS_OK;
}

static ks_status conv2d_build(ks_layer *l, ks_error *err) { return conv_build(l, 2, err); }
static ks_status conv1d_build(ks_layer *l, ks_error *err) { return conv_build(l, 1, err); }

/*
 * im2col runs over chunks of the batch, a chunk's columns at most CHUNK_FLOATS (2 MB), so
 * that they are still in cache when sgemm reads them; backward makes them again (a copy,
 * cheap next to the products) instead of keeping the whole batch's.
 */
#define CHUNK_FLOATS ((size_t)1 << 19)

static int chunk_samples(const conv_state *st, int batch)
{
    size_t per = (size_t)st->g.oh * st->g.ow * st->patch;
    size_t k = per ? CHUNK_FLOATS / per : (size_t)batch;
    return k < 1 ? 1 : k > (size_t)batch ? batch : (int)k;
}

/* one chunk's im2col columns (none for a 1 × 1 convolution: its input is its columns) */
static size_t conv_scratch(const ks_layer *l, int batch)
{
    const conv_state *st = l->state;
    if (st->pointwise)
        return 0;
    return (size_t)chunk_samples(st, batch) * st->g.oh * st->g.ow * st->patch;
}

static void conv_forward(ks_layer *l, const ks_fwd *f)
{
    const conv_state *st = l->state;
    const int F = st->filters, P = st->patch, chunk = chunk_samples(st, f->n);
    const size_t pixels = (size_t)st->g.oh * st->g.ow, in_size = l->in_size[0];
    for (int b0 = 0; b0 < f->n; b0 += chunk) {
        int cn = f->n - b0 < chunk ? f->n - b0 : chunk, rows = cn * (int)pixels;
        const float *cols = f->x[0] + (size_t)b0 * in_size;
        if (!st->pointwise) {
            ks_im2col(&st->g, cn, cols, f->scratch);
            cols = f->scratch;
        }
        ks_gemm(0, 0, rows, F, P, 1.0f, cols, P, l->weights[0].w, F, 0.0f,
                f->y + (size_t)b0 * pixels * F, F);
    }
    ks_bias_act(f->y, st->use_bias ? l->weights[1].w : NULL, f->z,
                (ks_activation)st->activation, f->n * (int)pixels, F);
}

static void conv_backward(ks_layer *l, const ks_bwd *b)
{
    const conv_state *st = l->state;
    const int F = st->filters, P = st->patch, chunk = chunk_samples(st, b->n);
    const size_t pixels = (size_t)st->g.oh * st->g.ow, in_size = l->in_size[0];
    ks_weight *kernel = &l->weights[0], *bias = st->use_bias ? &l->weights[1] : NULL;
    int fused = b->sgd_lr > 0.0f;
    float beta = fused ? 0.0f : b->grad_beta;
    float *dz = b->dy;
    if (!b->dy_is_dz)
        ks_act_grad((ks_activation)st->activation, b->y, dz, b->n * (int)pixels, F);
    if (bias)
        ks_col_sums(dz, b->n * (int)pixels, F, beta, bias->g, 1.0f);
    for (int b0 = 0; b0 < b->n; b0 += chunk) {
        int cn = b->n - b0 < chunk ? b->n - b0 : chunk, rows = cn * (int)pixels;
        const float *x = b->x[0] + (size_t)b0 * in_size, *cols = x;
        const float *dzc = dz + (size_t)b0 * pixels * F;
        float *dx = b->dx[0] ? b->dx[0] + (size_t)b0 * in_size : NULL;
        if (!st->pointwise) {
            ks_im2col(&st->g, cn, x, b->scratch);
            cols = b->scratch;
        }
        /* the kernel's gradient colsᵀ·dz, summed over the chunks */
        ks_gemm(1, 0, P, F, rows, 1.0f, cols, P, dzc, F, b0 ? 1.0f : beta, kernel->g, F);
        if (!dx)
            continue;
        if (st->pointwise) {
            ks_gemm(0, 1, rows, P, F, 1.0f, dzc, F, kernel->w, F, b->dx_beta[0], dx, P);
        } else {
            /* the columns' gradient dz·kernelᵀ takes their place, then folds back */
            ks_gemm(0, 1, rows, P, F, 1.0f, dzc, F, kernel->w, F, 0.0f, b->scratch, P);
            ks_col2im(&st->g, cn, b->scratch, dx, b->dx_beta[0]);
        }
    }
    if (fused) {
        /* plain SGD, after dx has used the old kernel */
        ks_sgd_step(kernel->w, kernel->g, kernel->size, b->sgd_lr);
        if (bias)
            ks_sgd_step(bias->w, bias->g, bias->size, b->sgd_lr);
    }
}

/* ONNX: Conv on channels-first data, kernel (out, in, k…), then the activation. */
static ks_status conv_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                           const char **out, ks_error *err)
{
    const conv_state *st = l->state;
    ks_activation act = (ks_activation)st->activation;
    int rank = l->in_shape[0].ndim - 1, n = 2, nd;
    const char *x[3], *y = ks_onnx_layer_name(g, l, "/channels_first_out:0"), *z;
    x[0] = ks_onnx_to_channels_first(g, l, in[0], rank);
    x[1] = ks_onnx_conv_kernel(g, l, 0, 0);
    if (st->use_bias)
        x[n++] = ks_onnx_weight(g, l, 1);
    nd = ks_onnx_node(g, "Conv", x, n, &y, 1);
    ks_onnx_window_attrs(g, nd, &st->g, rank, 1);
    z = ks_onnx_to_channels_last(g, y, ks_onnx_layer_name(g, l, act ? "/linear:0" : ":0"), rank);
    return ks_onnx_activation(g, act, z, ks_onnx_layer_name(g, l, ":0"), out, err);
}

static ks_activation conv_activation(const ks_layer *l)
{
    return (ks_activation)((const conv_state *)l->state)->activation;
}

const ks_layer_ops ks_layer_conv2d_ops = {
    .name = "Conv2D",
    .keys = conv2d_keys,
    .state_size = sizeof(conv_state),
    .flags = KS_LAYER_FUSED_SGD,
    .build = conv2d_build,
    .scratch_size = conv_scratch,
    .forward = conv_forward,
    .backward = conv_backward,
    .activation = conv_activation,
    .onnx = conv_onnx,
};

const ks_layer_ops ks_layer_conv1d_ops = {
    .name = "Conv1D",
    .keys = conv1d_keys,
    .state_size = sizeof(conv_state),
    .flags = KS_LAYER_FUSED_SGD,
    .build = conv1d_build,
    .scratch_size = conv_scratch,
    .forward = conv_forward,
    .backward = conv_backward,
    .activation = conv_activation,
    .onnx = conv_onnx,
};
