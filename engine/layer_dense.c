/*
 * layer_dense.c — Dense: y = activation(x·kernel + bias), kernel of shape
 * (input features, units) as in Keras.  Three matrix products per step, all sgemm;
 * the gradient with respect to x is skipped when nothing upstream needs it.
 */
#include "engine_impl.h"

#include <string.h>

typedef struct dense_state {
    int units;
    int activation;             /* ks_activation */
    int use_bias;
    int kernel_initializer;     /* ks_initializer */
    int bias_initializer;
    ks_value kernel_regularizer;
    ks_value bias_regularizer;
} dense_state;

static const ks_key dense_keys[] = {
    {"units", KS_KEY_INT, offsetof(dense_state, units), 0, 1, 1e8, NULL, NULL, KS_KEY_REQUIRED},
    {"activation", KS_KEY_ENUM, offsetof(dense_state, activation), 0, 0, 0, "linear",
     ks_activation_names, KS_KEY_NULLABLE},
    {"use_bias", KS_KEY_BOOL, offsetof(dense_state, use_bias), 0, 0, 0, "true", NULL, 0},
    {"kernel_initializer", KS_KEY_ENUM, offsetof(dense_state, kernel_initializer), 0, 0, 0,
     "glorot_uniform", ks_initializer_names, 0},
    {"bias_initializer", KS_KEY_ENUM, offsetof(dense_state, bias_initializer), 0, 0, 0, "zeros",
     ks_initializer_names, 0},
    {"kernel_regularizer", KS_KEY_VALUE, offsetof(dense_state, kernel_regularizer), 0, 0, 0,
     NULL, NULL, 0},
    {"bias_regularizer", KS_KEY_VALUE, offsetof(dense_state, bias_regularizer), 0, 0, 0, NULL,
     NULL, KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status dense_build(ks_layer *l, ks_error *err)
{
    dense_state *st = l->state;
    ks_shape ks = {2, {0}}, bs = {1, {0}};
    ks_weight *w;
    ks_status s;
    char buf[96];
    if (l->in_shape[0].ndim != 1)
        return ks_error_set(err, KS_ERR_SHAPE,
                            "Dense expects a 1-d input (batch, features), got %s; "
                            "put a Flatten layer before it",
                            ks_shape_str(&l->in_shape[0], buf, sizeof buf));
    l->out_shape.ndim = 1;
    l->out_shape.dim[0] = st->units;
    ks.dim[0] = l->in_shape[0].dim[0];
    ks.dim[1] = st->units;
    w = ks_layer_add_weight(l, "kernel", &ks, 1, (ks_initializer)st->kernel_initializer);
    if ((s = ks_regularizer_from_value(&st->kernel_regularizer, "Dense", &w->reg, err)) != KS_OK)
        return s;
    if (st->use_bias) {
        bs.dim[0] = st->units;
        w = ks_layer_add_weight(l, "bias", &bs, 1, (ks_initializer)st->bias_initializer);
        if ((s = ks_regularizer_from_value(&st->bias_regularizer, "Dense", &w->reg, err)) !=
            KS_OK)
            return s;
    }
    return KS_OK;
}

static void dense_forward(ks_layer *l, const ks_fwd *f)
{
    const dense_state *st = l->state;
    int in = (int)l->in_size[0], units = st->units;
    ks_gemm(0, 0, f->n, units, in, 1.0f, f->x[0], in, l->weights[0].w, units, 0.0f, f->y, units);
    if (st->use_bias)
        ks_add_row(f->y, l->weights[1].w, f->n, units);
    if (f->z)
        memcpy(f->z, f->y, (size_t)f->n * units * sizeof(float));
    ks_act_apply((ks_activation)st->activation, f->y, f->n, units);
}

static void dense_backward(ks_layer *l, const ks_bwd *b)
{
    const dense_state *st = l->state;
    int in = (int)l->in_size[0], units = st->units;
    float *dz = b->dy;
    if (!b->dy_is_dz)
        ks_act_grad((ks_activation)st->activation, b->y, dz, b->n, units);
    /* dx first: it needs the kernel before a fused update changes it */
    if (b->dx[0])
        ks_gemm(0, 1, b->n, in, units, 1.0f, dz, units, l->weights[0].w, units, b->dx_beta[0],
                b->dx[0], in);
    if (b->sgd_lr > 0.0f) {
        /* plain SGD fused: kernel −= lr·xᵀ·dz in the product itself, bias −= lr·Σdz */
        ks_gemm(1, 0, in, units, b->n, -b->sgd_lr, b->x[0], in, dz, units, 1.0f,
                l->weights[0].w, units);
        if (st->use_bias)
            ks_col_sums(dz, b->n, units, 1.0f, l->weights[1].w, -b->sgd_lr);
        return;
    }
    ks_gemm(1, 0, in, units, b->n, 1.0f, b->x[0], in, dz, units, b->grad_beta,
            l->weights[0].g, units);
    if (st->use_bias)
        ks_col_sums(dz, b->n, units, b->grad_beta, l->weights[1].g, 1.0f);
}

static ks_activation dense_activation(const ks_layer *l)
{
    return (ks_activation)((const dense_state *)l->state)->activation;
}

/* Gemm (Keras's kernel [in, units] is Gemm's B as it is), then the activation. */
static ks_status dense_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                            const char **out, ks_error *err)
{
    const dense_state *st = l->state;
    ks_activation act = (ks_activation)st->activation;
    const char *x[3], *z;
    int n = 0;
    x[n++] = in[0];
    x[n++] = ks_onnx_weight(g, l, 0);
    if (st->use_bias)
        x[n++] = ks_onnx_weight(g, l, 1);
    z = ks_onnx_layer_name(g, l, act == KS_ACT_LINEAR ? ":0" : "/linear:0");
    ks_onnx_node(g, "Gemm", x, n, &z, 1);
    return ks_onnx_activation(g, act, z, ks_onnx_layer_name(g, l, ":0"), out, err);
}

const ks_layer_ops ks_layer_dense_ops = {
    .name = "Dense",
    .keys = dense_keys,
    .state_size = sizeof(dense_state),
    .flags = KS_LAYER_FUSED_SGD,
    .build = dense_build,
    .forward = dense_forward,
    .backward = dense_backward,
    .activation = dense_activation,
    .onnx = dense_onnx,
};
