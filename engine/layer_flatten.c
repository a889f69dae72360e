/*
 * layer_flatten.c — Flatten: (batch, d1, d2, …) → (batch, d1·d2·…).  Row-major data
 * is already flat, so the output is the input buffer itself and there is no work.
 */
#include "engine_impl.h"

typedef struct flatten_state {
    int data_format;            /* channels_last only */
} flatten_state;

static const char *const flatten_formats[] = {"channels_last", NULL};

static const ks_key flatten_keys[] = {
    {"data_format", KS_KEY_ENUM, offsetof(flatten_state, data_format), 0, 0, 0,
     "channels_last", flatten_formats, KS_KEY_NULLABLE | KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status flatten_build(ks_layer *l, ks_error *err)
{
    (void)err;
    l->out_shape.ndim = 1;
    l->out_shape.dim[0] = (int)ks_shape_size(&l->in_shape[0]);
    return KS_OK;
}

static ks_status flatten_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                              const char **out, ks_error *err)
{
    const char *y = ks_onnx_layer_name(g, l, ":0");
    (void)err;
    ks_onnx_attr_int(g, ks_onnx_node(g, "Flatten", in, 1, &y, 1), "axis", 1);  /* [N, rest] */
    *out = y;
    return KS_OK;
}

const ks_layer_ops ks_layer_flatten_ops = {
    .name = "Flatten",
    .keys = flatten_keys,
    .state_size = sizeof(flatten_state),
    .flags = KS_LAYER_ALIAS,
    .build = flatten_build,
    .onnx = flatten_onnx,
};
