/*
 * layer_reshape.c — Reshape(target_shape): the same floats under another per-sample
 * shape; one axis may be -1 (inferred), as Keras.  Row-major data needs no copy, so
 * the output is the input buffer itself.
 */
#include "engine_impl.h"

typedef struct reshape_state {
    ks_shape target_shape;
} reshape_state;

static const ks_key reshape_keys[] = {
    {"target_shape", KS_KEY_INTS, offsetof(reshape_state, target_shape), 0, -1, 1e9, NULL, NULL,
     KS_KEY_REQUIRED},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status reshape_build(ks_layer *l, ks_error *err)
{
    const reshape_state *st = l->state;
    const ks_shape *t = &st->target_shape;
    size_t in = l->in_size[0], known = 1;
    int unknown = -1;
    char a[96], b[96];
    for (int i = 0; i < t->ndim; i++) {
        if (t->dim[i] == 0 || (t->dim[i] == -1 && unknown >= 0))
            return ks_error_set(err, KS_ERR_CONFIG,
                                "Reshape: target_shape %s may hold one -1 and no 0",
                                ks_shape_str(t, a, sizeof a));
        if (t->dim[i] == -1)
            unknown = i;
        else if (known <= in)
            known *= (size_t)t->dim[i];     /* past in: it cannot fit (and cannot overflow) */
    }
    l->out_shape = *t;
    if (unknown >= 0 && known > 0 && in % known == 0 && in / known <= 1000000000)
        l->out_shape.dim[unknown] = (int)(in / known);
    if ((unknown >= 0 && (in % known != 0 || in / known > 1000000000)) ||
        (unknown < 0 && known != in))
        return ks_error_set(err, KS_ERR_SHAPE,
                            "Reshape: the input %s has %zu values per sample, which target_shape "
                            "%s cannot hold",
                            ks_shape_str(&l->in_shape[0], a, sizeof a), in,
                            ks_shape_str(t, b, sizeof b));
    return KS_OK;
}

/* ONNX: Reshape to (N, the built target shape…); 0 keeps the batch axis. */
static ks_status reshape_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                              const char **out, ks_error *err)
{
    int64_t shape[KS_MAX_DIMS + 1] = {0};
    const char *x[2];
    (void)err;
    for (int i = 0; i < l->out_shape.ndim; i++)
        shape[i + 1] = l->out_shape.dim[i];
    x[0] = in[0];
    x[1] = ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/shape"), shape,
                               l->out_shape.ndim + 1);
    *out = ks_onnx_layer_name(g, l, ":0");
    ks_onnx_node(g, "Reshape", x, 2, out, 1);
    return KS_OK;
}

const ks_layer_ops ks_layer_reshape_ops = {
    .name = "Reshape",
    .keys = reshape_keys,
    .state_size = sizeof(reshape_state),
    .flags = KS_LAYER_ALIAS,
    .build = reshape_build,
    .onnx = reshape_onnx,
};
