/*
 * layer_activation.c — Activation: applies an activation function on its own.
 */
#include "engine_impl.h"

#include <string.h>

typedef struct activation_state {
    int activation;             /* ks_activation */
} activation_state;

static const ks_key activation_keys[] = {
    {"activation", KS_KEY_ENUM, offsetof(activation_state, activation), 0, 0, 0, NULL,
     ks_activation_names, KS_KEY_REQUIRED},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status activation_build(ks_layer *l, ks_error *err)
{
    (void)err;
    l->out_shape = l->in_shape[0];
    return KS_OK;
}

static int row_width(const ks_layer *l)
{
    /* softmax acts along the last axis */
    return l->out_shape.ndim ? l->out_shape.dim[l->out_shape.ndim - 1] : 1;
}

static void activation_forward(ks_layer *l, const ks_fwd *f)
{
    const activation_state *st = l->state;
    int w = row_width(l), rows = f->n * (int)(l->out_size / (size_t)w);
    size_t bytes = (size_t)f->n * l->out_size * sizeof(float);
    if (f->z)
        memcpy(f->z, f->x[0], bytes);
    memcpy(f->y, f->x[0], bytes);
    ks_act_apply((ks_activation)st->activation, f->y, rows, w);
}

static void activation_backward(ks_layer *l, const ks_bwd *b)
{
    const activation_state *st = l->state;
    int w = row_width(l), rows = b->n * (int)(l->out_size / (size_t)w);
    if (!b->dx[0])
        return;
    if (!b->dy_is_dz)
        ks_act_grad((ks_activation)st->activation, b->y, b->dy, rows, w);
    ks_accumulate(b->dx[0], b->dy, (size_t)b->n * l->out_size, b->dx_beta[0]);
}

static ks_activation activation_activation(const ks_layer *l)
{
    return (ks_activation)((const activation_state *)l->state)->activation;
}

static ks_status activation_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                                 const char **out, ks_error *err)
{
    return ks_onnx_activation(g, activation_activation(l), in[0],
                              ks_onnx_layer_name(g, l, ":0"), out, err);
}

const ks_layer_ops ks_layer_activation_ops = {
    .name = "Activation",
    .keys = activation_keys,
    .state_size = sizeof(activation_state),
    .build = activation_build,
    .forward = activation_forward,
    .backward = activation_backward,
    .activation = activation_activation,
    .onnx = activation_onnx,
};
