/*
 * layer_rescaling.c — Rescaling(scale, offset): y = x·scale + offset, e.g. scale 1/255
 * to take pixel values to [0, 1] inside the model, so that a saved model, an ensemble
 * and an ONNX export all apply it.
 */
#include "engine_impl.h"

typedef struct rescaling_state {
    double scale;
    double offset;
} rescaling_state;

static const ks_key rescaling_keys[] = {
    {"scale", KS_KEY_FLOAT, offsetof(rescaling_state, scale), 0, -INFINITY, INFINITY, NULL,
     NULL, KS_KEY_REQUIRED},
    {"offset", KS_KEY_FLOAT, offsetof(rescaling_state, offset), 0, -INFINITY, INFINITY, "0",
     NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status rescaling_build(ks_layer *l, ks_error *err)
{
    (void)err;
    l->out_shape = l->in_shape[0];
    return KS_OK;
}

static void rescaling_forward(ks_layer *l, const ks_fwd *f)
{
    const rescaling_state *st = l->state;
    const float scale = (float)st->scale, offset = (float)st->offset;
    const size_t len = (size_t)f->n * l->out_size;
    const float *restrict x = f->x[0];
    float *restrict y = f->y;
    for (size_t i = 0; i < len; i++)
        y[i] = x[i] * scale + offset;
}

static void rescaling_backward(ks_layer *l, const ks_bwd *b)
{
    const float scale = (float)((const rescaling_state *)l->state)->scale;
    const size_t len = (size_t)b->n * l->out_size;
    if (!b->dx[0])
        return;
    for (size_t i = 0; i < len; i++)
        b->dy[i] *= scale;
    ks_accumulate(b->dx[0], b->dy, len, b->dx_beta[0]);
}

/* ONNX: Mul by scale, then Add offset (scalar constants). */
static ks_status rescaling_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                                const char **out, ks_error *err)
{
    const rescaling_state *st = l->state;
    const char *x[2], *y = ks_onnx_layer_name(g, l, st->offset != 0.0 ? "/scaled:0" : ":0");
    (void)err;
    x[0] = in[0];
    x[1] = ks_onnx_const_float(g, ks_onnx_layer_name(g, l, "/scale"), 0, NULL,
                               (float)st->scale);
    ks_onnx_node(g, "Mul", x, 2, &y, 1);
    *out = y;
    if (st->offset != 0.0) {
        x[0] = y;
        x[1] = ks_onnx_const_float(g, ks_onnx_layer_name(g, l, "/offset"), 0, NULL,
                                   (float)st->offset);
        *out = ks_onnx_layer_name(g, l, ":0");
        ks_onnx_node(g, "Add", x, 2, out, 1);
    }
    return KS_OK;
}

const ks_layer_ops ks_layer_rescaling_ops = {
    .name = "Rescaling",
    .keys = rescaling_keys,
    .state_size = sizeof(rescaling_state),
    .build = rescaling_build,
    .forward = rescaling_forward,
    .backward = rescaling_backward,
    .onnx = rescaling_onnx,
};
