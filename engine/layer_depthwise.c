/*
 * layer_depthwise.c — DepthwiseConv2D and SeparableConv2D.  A depthwise convolution
 * filters each input channel on its own with depth_multiplier kernels (kernel of shape
 * (kh, kw, in, depth_multiplier), output channel c·depth_multiplier + m, as Keras);
 * SeparableConv2D follows it with a 1 × 1 convolution to filters channels (pointwise
 * kernel (1, 1, in·depth_multiplier, filters)), one sgemm over the whole batch.
 */
#include "engine_impl.h"

#include <string.h>

typedef struct depthwise_state {
    int filters;                /* SeparableConv2D only */
    ks_shape kernel_size;
    ks_shape strides;
    int padding;
    int depth_multiplier;
    int data_format;
    ks_shape dilation_rate;
    int activation;
    int use_bias;
    int depthwise_initializer, pointwise_initializer, bias_initializer;
    ks_value depthwise_regularizer, pointwise_regularizer, bias_regularizer;
    /* derived at build */
    ks_window g;
    int mid;                    /* in·depth_multiplier: the depthwise output channels */
} depthwise_state;

static const char *const depthwise_paddings[] = {"valid", "same", NULL};

#define KEY(name, type, field, size, lo, hi, def, choices, flags)                            \
    {name, type, offsetof(depthwise_state, field), size, lo, hi, def, choices, flags}
#define WINDOW_KEYS                                                                          \
    KEY("kernel_size", KS_KEY_INTS, kernel_size, 2, 1, 1e6, NULL, NULL, KS_KEY_REQUIRED),     \
    KEY("strides", KS_KEY_INTS, strides, 2, 1, 1e6, "1", NULL, 0),                            \
    KEY("padding", KS_KEY_ENUM, padding, 0, 0, 0, "valid", depthwise_paddings, 0),            \
    KEY("depth_multiplier", KS_KEY_INT, depth_multiplier, 0, 1, 1e6, "1", NULL, 0),           \
    KS_DATA_FORMAT_KEY(depthwise_state),                                                      \
    KEY("dilation_rate", KS_KEY_INTS, dilation_rate, 2, 1, 1e6, "1", NULL, 0),                \
    KEY("activation", KS_KEY_ENUM, activation, 0, 0, 0, "linear", ks_activation_names,       \
        KS_KEY_NULLABLE),                                                                     \
    KEY("use_bias", KS_KEY_BOOL, use_bias, 0, 0, 0, "true", NULL, 0),                         \
    KEY("depthwise_initializer", KS_KEY_ENUM, depthwise_initializer, 0, 0, 0,                 \
        "glorot_uniform", ks_initializer_names, 0)

static const ks_key depthwise_keys[] = {
    WINDOW_KEYS,
    KEY("bias_initializer", KS_KEY_ENUM, bias_initializer, 0, 0, 0, "zeros",
        ks_initializer_names, 0),
    KEY("depthwise_regularizer", KS_KEY_VALUE, depthwise_regularizer, 0, 0, 0, NULL, NULL, 0),
    KEY("bias_regularizer", KS_KEY_VALUE, bias_regularizer, 0, 0, 0, NULL, NULL, KS_KEY_HIDDEN),
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static const ks_key separable_keys[] = {
    KEY("filters", KS_KEY_INT, filters, 0, 1, 1e6, NULL, NULL, KS_KEY_REQUIRED),
    WINDOW_KEYS,
    KEY("pointwise_initializer", KS_KEY_ENUM, pointwise_initializer, 0, 0, 0, "glorot_uniform",
        ks_initializer_names, 0),
    KEY("bias_initializer", KS_KEY_ENUM, bias_initializer, 0, 0, 0, "zeros",
        ks_initializer_names, 0),
    KEY("depthwise_regularizer", KS_KEY_VALUE, depthwise_regularizer, 0, 0, 0, NULL, NULL, 0),
    KEY("pointwise_regularizer", KS_KEY_VALUE, pointwise_regularizer, 0, 0, 0, NULL, NULL, 0),
    KEY("bias_regularizer", KS_KEY_VALUE, bias_regularizer, 0, 0, 0, NULL, NULL, KS_KEY_HIDDEN),
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

#undef WINDOW_KEYS
#undef KEY

/* Declare a weight with its regularizer. */
static ks_status add_weight(ks_layer *l, const char *name, const ks_shape *shape, int init,
                            const ks_value *reg, ks_error *err)
{
    ks_weight *w = ks_layer_add_weight(l, name, shape, 1, (ks_initializer)init);
    return ks_regularizer_from_value(reg, l->ops->name, &w->reg, err);
}

/* Both kinds: the window and the depthwise kernel (weight 0); separable adds its own. */
static ks_status depthwise_common(ks_layer *l, int out_channels, ks_error *err)
{
    depthwise_state *st = l->state;
    int in_ch;
    ks_shape ks = {4, {0}};
    ks_status s;
    if ((s = ks_layer_check_input(l, 2, st->data_format, err)) != KS_OK ||
        (s = ks_layer_window(l, 2, "kernel_size", st->kernel_size.dim, st->strides.dim,
                             st->dilation_rate.dim, st->padding, &st->g, err)) != KS_OK)
        return s;
    in_ch = l->in_shape[0].dim[2];
    st->mid = in_ch * st->depth_multiplier;
    ks_window_out_shape(&st->g, 2, out_channels ? out_channels : st->mid, &l->out_shape);
    ks.dim[0] = st->kernel_size.dim[0];
    ks.dim[1] = st->kernel_size.dim[1];
    ks.dim[2] = in_ch;
    ks.dim[3] = st->depth_multiplier;
    return add_weight(l, out_channels ? "depthwise_kernel" : "kernel", &ks,
                      st->depthwise_initializer, &st->depthwise_regularizer, err);
}

static ks_status add_bias(ks_layer *l, int channels, ks_error *err)
{
    depthwise_state *st = l->state;
    ks_shape bs = {1, {channels}};
    if (!st->use_bias)
        return KS_OK;
    return add_weight(l, "bias", &bs, st->bias_initializer, &st->bias_regularizer, err);
}

static ks_status depthwise_build(ks_layer *l, ks_error *err)
{
    depthwise_state *st = l->state;
    ks_status s = depthwise_common(l, 0, err);
    return s != KS_OK ? s : add_bias(l, st->mid, err);
}

static ks_status separable_build(ks_layer *l, ks_error *err)
{
    depthwise_state *st = l->state;
    ks_shape ps = {4, {1, 1, 0, 0}};
    ks_status s = depthwise_common(l, st->filters, err);
    if (s != KS_OK)
        return s;
    ps.dim[2] = st->mid;
    ps.dim[3] = st->filters;
    if ((s = add_weight(l, "pointwise_kernel", &ps, st->pointwise_initializer,
                        &st->pointwise_regularizer, err)) != KS_OK)
        return s;
    return add_bias(l, st->filters, err);
}

static void depthwise_forward(ks_layer *l, const ks_fwd *f)
{
    const depthwise_state *st = l->state;
    int rows = f->n * st->g.oh * st->g.ow;
    ks_depthwise_forward(&st->g, st->depth_multiplier, f->n, f->x[0], l->weights[0].w, f->y);
    ks_bias_act(f->y, st->use_bias ? l->weights[1].w : NULL, f->z,
                (ks_activation)st->activation, rows, st->mid);
}

static void depthwise_backward(ks_layer *l, const ks_bwd *b)
{
    const depthwise_state *st = l->state;
    int rows = b->n * st->g.oh * st->g.ow;
    if (!b->dy_is_dz)
        ks_act_grad((ks_activation)st->activation, b->y, b->dy, rows, st->mid);
    if (st->use_bias)
        ks_col_sums(b->dy, rows, st->mid, b->grad_beta, l->weights[1].g, 1.0f);
    ks_depthwise_backward(&st->g, st->depth_multiplier, b->n, b->x[0], l->weights[0].w, b->dy,
                          b->dx[0], b->dx_beta[0], l->weights[0].g, b->grad_beta);
}

/* the depthwise output, kept for backward (where its gradient then takes its place) */
static size_t separable_scratch(const ks_layer *l, int batch)
{
    const depthwise_state *st = l->state;
    return (size_t)batch * st->g.oh * st->g.ow * st->mid;
}

static void separable_forward(ks_layer *l, const ks_fwd *f)
{
    const depthwise_state *st = l->state;
    int rows = f->n * st->g.oh * st->g.ow;
    ks_depthwise_forward(&st->g, st->depth_multiplier, f->n, f->x[0], l->weights[0].w,
                         f->scratch);
    ks_gemm(0, 0, rows, st->filters, st->mid, 1.0f, f->scratch, st->mid, l->weights[1].w,
            st->filters, 0.0f, f->y, st->filters);
    ks_bias_act(f->y, st->use_bias ? l->weights[2].w : NULL, f->z,
                (ks_activation)st->activation, rows, st->filters);
}

static void separable_backward(ks_layer *l, const ks_bwd *b)
{
    const depthwise_state *st = l->state;
    int rows = b->n * st->g.oh * st->g.ow, F = st->filters, M = st->mid;
    float *mid = b->scratch;
    if (!b->dy_is_dz)
        ks_act_grad((ks_activation)st->activation, b->y, b->dy, rows, F);
    if (st->use_bias)
        ks_col_sums(b->dy, rows, F, b->grad_beta, l->weights[2].g, 1.0f);
    /* pointwise kernel: midᵀ·dz; then mid's gradient dz·pointwiseᵀ takes mid's place */
    ks_gemm(1, 0, M, F, rows, 1.0f, mid, M, b->dy, F, b->grad_beta, l->weights[1].g, F);
    ks_gemm(0, 1, rows, M, F, 1.0f, b->dy, F, l->weights[1].w, F, 0.0f, mid, M);
    ks_depthwise_backward(&st->g, st->depth_multiplier, b->n, b->x[0], l->weights[0].w, mid,
                          b->dx[0], b->dx_beta[0], l->weights[0].g, b->grad_beta);
}

/*
 * ONNX: the depthwise convolution is a Conv of group in (kernel (in·dm, 1, k…)); the
 * separable one adds a 1 × 1 Conv (kernel (filters, in·dm, 1, 1)); then the activation.
 */
static ks_status depthwise_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                                const char **out, ks_error *err)
{
    const depthwise_state *st = l->state;
    ks_activation act = (ks_activation)st->activation;
    int separable = st->filters > 0, bias = separable ? 2 : 1, n = 2, nd;
    const char *x[3], *y = ks_onnx_layer_name(g, l, "/depthwise:0"), *z;
    x[0] = ks_onnx_to_channels_first(g, l, in[0], 2);
    x[1] = ks_onnx_conv_kernel(g, l, 0, 1);
    if (st->use_bias && !separable)
        x[n++] = ks_onnx_weight(g, l, bias);
    nd = ks_onnx_node(g, "Conv", x, n, &y, 1);
    ks_onnx_window_attrs(g, nd, &st->g, 2, 1);
    ks_onnx_attr_int(g, nd, "group", l->in_shape[0].dim[2]);
    if (separable) {
        x[0] = y;
        x[1] = ks_onnx_conv_kernel(g, l, 1, 0);
        n = 2;
        if (st->use_bias)
            x[n++] = ks_onnx_weight(g, l, bias);
        y = ks_onnx_layer_name(g, l, "/pointwise:0");
        ks_onnx_node(g, "Conv", x, n, &y, 1);
    }
    z = ks_onnx_to_channels_last(g, y, ks_onnx_layer_name(g, l, act ? "/linear:0" : ":0"), 2);
    return ks_onnx_activation(g, act, z, ks_onnx_layer_name(g, l, ":0"), out, err);
}

static ks_activation depthwise_activation(const ks_layer *l)
{
    return (ks_activation)((const depthwise_state *)l->state)->activation;
}

const ks_layer_ops ks_layer_depthwise_conv2d_ops = {
    .name = "DepthwiseConv2D",
    .keys = depthwise_keys,
    .state_size = sizeof(depthwise_state),
    .build = depthwise_build,
    .forward = depthwise_forward,
    .backward = depthwise_backward,
    .activation = depthwise_activation,
    .onnx = depthwise_onnx,
};

const ks_layer_ops ks_layer_separable_conv2d_ops = {
    .name = "SeparableConv2D",
    .keys = separable_keys,
    .state_size = sizeof(depthwise_state),
    .build = separable_build,
    .scratch_size = separable_scratch,
    .forward = separable_forward,
    .backward = separable_backward,
    .activation = depthwise_activation,
    .onnx = depthwise_onnx,
};
