/*
 * layer_pooling.c — MaxPooling2D, AveragePooling2D, MaxPooling1D, AveragePooling1D:
 * the maximum or mean of each channel over a window, channels last.  strides default
 * to pool_size; padding same pads as TensorFlow (the odd one after) and the padding
 * takes no part (average pooling divides by the positions inside the input).
 */
#include "engine_impl.h"

typedef struct pool_state {
    ks_shape pool_size;
    ks_shape strides;           /* all 0 (None): pool_size, resolved at build */
    int padding;
    int data_format;
    /* derived at build */
    ks_window g;
} pool_state;

static const char *const pool_paddings[] = {"valid", "same", NULL};

#define POOL_KEYS(rank)                                                                      \
    {"pool_size", KS_KEY_INTS, offsetof(pool_state, pool_size), rank, 1, 1e6, "2", NULL, 0},  \
    {"strides", KS_KEY_INTS, offsetof(pool_state, strides), rank, 1, 1e6, "0", NULL,          \
     KS_KEY_NULLABLE},                                                                        \
    {"padding", KS_KEY_ENUM, offsetof(pool_state, padding), 0, 0, 0, "valid", pool_paddings,  \
     0},                                                                                      \
    KS_DATA_FORMAT_KEY(pool_state),                                                           \
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}

static const ks_key pool2d_keys[] = {POOL_KEYS(2)};
static const ks_key pool1d_keys[] = {POOL_KEYS(1)};

static ks_status pool_build(ks_layer *l, int rank, ks_error *err)
{
    pool_state *st = l->state;
    static const int one[2] = {1, 1};
    ks_status s;
    if (st->strides.dim[0] == 0)
        st->strides = st->pool_size;
    if ((s = ks_layer_check_input(l, rank, st->data_format, err)) != KS_OK ||
        (s = ks_layer_window(l, rank, "pool_size", st->pool_size.dim, st->strides.dim, one,
                             st->padding, &st->g, err)) != KS_OK)
        return s;
    ks_window_out_shape(&st->g, rank, l->in_shape[0].dim[rank], &l->out_shape);
    return KS_OK;
}

static ks_status pool2d_build(ks_layer *l, ks_error *err) { return pool_build(l, 2, err); }
static ks_status pool1d_build(ks_layer *l, ks_error *err) { return pool_build(l, 1, err); }

/* where each maximum came from: one int32 per output */
static size_t maxpool_scratch(const ks_layer *l, int batch)
{
    _Static_assert(sizeof(int32_t) == sizeof(float), "argmax offsets take a float's place");
    return (size_t)batch * l->out_size;
}

static void maxpool_forward(ks_layer *l, const ks_fwd *f)
{
    const pool_state *st = l->state;
    ks_maxpool_forward(&st->g, f->n, f->x[0], f->y, (int32_t *)f->scratch);
}

static void maxpool_backward(ks_layer *l, const ks_bwd *b)
{
    const pool_state *st = l->state;
    if (b->dx[0])
        ks_maxpool_backward(&st->g, b->n, b->dy, (const int32_t *)b->scratch, b->dx[0],
                            b->dx_beta[0]);
}

static void avgpool_forward(ks_layer *l, const ks_fwd *f)
{
    const pool_state *st = l->state;
    ks_avgpool_forward(&st->g, f->n, f->x[0], f->y);
}

static void avgpool_backward(ks_layer *l, const ks_bwd *b)
{
    const pool_state *st = l->state;
    if (b->dx[0])
        ks_avgpool_backward(&st->g, b->n, b->dy, b->dx[0], b->dx_beta[0]);
}

/* ONNX: MaxPool / AveragePool on channels-first data; the padding takes no part in
   either (count_include_pad 0), as TensorFlow. */
static ks_status pool_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                           const char **out, const char *op)
{
    const pool_state *st = l->state;
    int rank = l->in_shape[0].ndim - 1, nd;
    const char *x = ks_onnx_to_channels_first(g, l, in[0], rank);
    const char *y = ks_onnx_layer_name(g, l, "/channels_first_out:0");
    nd = ks_onnx_node(g, op, &x, 1, &y, 1);
    ks_onnx_window_attrs(g, nd, &st->g, rank, 0);
    if (op[0] == 'A')
        ks_onnx_attr_int(g, nd, "count_include_pad", 0);
    *out = ks_onnx_to_channels_last(g, y, ks_onnx_layer_name(g, l, ":0"), rank);
    return KS_OK;
}

static ks_status maxpool_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                              const char **out, ks_error *err)
{
    (void)err;
    return pool_onnx(l, g, in, out, "MaxPool");
}

static ks_status avgpool_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                              const char **out, ks_error *err)
{
    (void)err;
    return pool_onnx(l, g, in, out, "AveragePool");
}

const ks_layer_ops ks_layer_max_pooling2d_ops = {
    .name = "MaxPooling2D",
    .keys = pool2d_keys,
    .state_size = sizeof(pool_state),
    .build = pool2d_build,
    .scratch_size = maxpool_scratch,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .onnx = maxpool_onnx,
};

const ks_layer_ops ks_layer_max_pooling1d_ops = {
    .name = "MaxPooling1D",
    .keys = pool1d_keys,
    .state_size = sizeof(pool_state),
    .build = pool1d_build,
    .scratch_size = maxpool_scratch,
    .forward = maxpool_forward,
    .backward = maxpool_backward,
    .onnx = maxpool_onnx,
};

const ks_layer_ops ks_layer_average_pooling2d_ops = {
    .name = "AveragePooling2D",
    .keys = pool2d_keys,
    .state_size = sizeof(pool_state),
    .build = pool2d_build,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .onnx = avgpool_onnx,
};

const ks_layer_ops ks_layer_average_pooling1d_ops = {
    .name = "AveragePooling1D",
    .keys = pool1d_keys,
    .state_size = sizeof(pool_state),
    .build = pool1d_build,
    .forward = avgpool_forward,
    .backward = avgpool_backward,
    .onnx = avgpool_onnx,
};
