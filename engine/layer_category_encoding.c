/*
 * layer_category_encoding.c — CategoryEncoding(num_tokens, output_mode='multi_hot'), as
 * Keras: integer indices in [0, num_tokens) become one column per index — one_hot (each
 * value its own row of num_tokens columns: a last axis of 1 is replaced, else one is
 * added), multi_hot (1 where an index occurs in the row) or count (how often).  Data fed
 * straight from a model input (or a lookup) is checked before training (check_input);
 * an index out of range met anyway adds nothing.  No gradient flows back through it.
 */
#include "engine_impl.h"

#include <string.h>

enum { CE_ONE_HOT, CE_MULTI_HOT, CE_COUNT };
static const char *const ce_mode_names[] = {"one_hot", "multi_hot", "count", NULL};

typedef struct ce_state {
    int num_tokens;
    int output_mode;
    int sparse;                 /* refused */
} ce_state;

static const ks_key ce_keys[] = {
    {"num_tokens", KS_KEY_INT, offsetof(ce_state, num_tokens), 0, 1, 1 << 24, NULL, NULL,
     KS_KEY_REQUIRED},
    {"output_mode", KS_KEY_ENUM, offsetof(ce_state, output_mode), 0, 0, 0, "multi_hot",
     ce_mode_names, 0},
    {"sparse", KS_KEY_BOOL, offsetof(ce_state, sparse), 0, 0, 0, "false", NULL, KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status ce_build(ks_layer *l, ks_error *err)
{
    const ce_state *st = l->state;
    const ks_shape *in = &l->in_shape[0];
    char buf[96];
    if (st->sparse)
        return ks_error_set(err, KS_ERR_CONFIG, "CategoryEncoding: sparse is not supported by "
                                                "ksearch");
    if (st->output_mode == CE_ONE_HOT) {
        l->out_shape = *in;
        if (in->dim[in->ndim - 1] != 1) {
            if (in->ndim >= KS_MAX_DIMS)
                return ks_error_set(err, KS_ERR_SHAPE,
                                    "CategoryEncoding's input %s has too many axes",
                                    ks_shape_str(in, buf, sizeof buf));
            l->out_shape.ndim++;
        }
        l->out_shape.dim[l->out_shape.ndim - 1] = st->num_tokens;
        return KS_OK;
    }
    if (in->ndim != 1)
        return ks_error_set(err, KS_ERR_SHAPE,
                            "CategoryEncoding: output_mode %s takes rows of indices (one axis), "
                            "got %s",
                            ce_mode_names[st->output_mode], ks_shape_str(in, buf, sizeof buf));
    l->out_shape.ndim = 1;
    l->out_shape.dim[0] = st->num_tokens;
    return KS_OK;
}

static inline long token_of(float v, int num_tokens)
{
    return v >= 0.0f && v < (float)num_tokens && v == floorf(v) ? (long)v : -1;
}

static void ce_forward(ks_layer *l, const ks_fwd *f)
{
    const ce_state *st = l->state;
    const size_t per = l->in_size[0], k = (size_t)st->num_tokens;
    const int one_hot = st->output_mode == CE_ONE_HOT, count = st->output_mode == CE_COUNT;
    memset(f->y, 0, (size_t)f->n * l->out_size * sizeof *f->y);
    for (size_t r = 0; r < (size_t)f->n; r++)
        for (size_t c = 0; c < per; c++) {
            long t = token_of(f->x[0][r * per + c], st->num_tokens);
            float *o;
            if (t < 0)
                continue;
            o = f->y + (one_hot ? (r * per + c) * k : r * k) + (size_t)t;
            *o = count ? *o + 1.0f : 1.0f;
        }
}

/* Indices have no gradient: a layer before it receives zeros. */
static void ce_backward(ks_layer *l, const ks_bwd *b)
{
    if (b->dx[0] && b->dx_beta[0] == 0.0f)
        memset(b->dx[0], 0, (size_t)b->n * l->in_size[0] * sizeof(float));
}

static ks_status ce_check_input(const ks_layer *l, const float *x, size_t n, ks_error *err)
{
    const ce_state *st = l->state;
    const size_t per = l->in_size[0];
    for (size_t i = 0; i < n * per; i++)
        if (token_of(x[i], st->num_tokens) < 0)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "row %zu column %zu holds %.9g; CategoryEncoding takes indices in "
                                "[0, num_tokens %d)",
                                i / per, i % per, (double)x[i], st->num_tokens);
    return KS_OK;
}

/*
 * ONNX: OneHot of the indices (cast to int64) appends an axis of num_tokens; one_hot over
 * a last axis of 1 and multi_hot take its maximum over the indices' axis, count its sum.
 */
static ks_status ce_onnx(const ks_layer *l, ks_onnx *g, const char *const *in, const char **out,
                         ks_error *err)
{
    const ce_state *st = l->state;
    const int64_t depth = st->num_tokens, two = 2, axis = -2;
    int reduce = st->output_mode != CE_ONE_HOT || l->in_shape[0].dim[l->in_shape[0].ndim - 1] == 1;
    const char *ids = ks_onnx_layer_name(g, l, "/ids:0"), *x[3], *hot;
    const char *vname = ks_onnx_layer_name(g, l, "/values");
    float *values = vname ? ks_onnx_init_float(g, vname, 1, &two) : NULL;
    int node = ks_onnx_node(g, "Cast", in, 1, &ids, 1);
    (void)err;
    ks_onnx_attr_int(g, node, "to", KS_ONNX_INT64);
    if (values) {
        values[0] = 0.0f;
        values[1] = 1.0f;
    }
    x[0] = ids;
    x[1] = ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/depth"), &depth, 1);
    x[2] = vname;
    hot = ks_onnx_layer_name(g, l, reduce ? "/one_hot:0" : ":0");
    ks_onnx_attr_int(g, ks_onnx_node(g, "OneHot", x, 3, &hot, 1), "axis", -1);
    *out = hot;
    if (!reduce)
        return KS_OK;
    *out = ks_onnx_layer_name(g, l, ":0");
    if (st->output_mode == CE_COUNT) {
        x[0] = hot;
        x[1] = ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/axes"), &axis, 1);
        node = ks_onnx_node(g, "ReduceSum", x, 2, out, 1);
    } else {
        node = ks_onnx_node(g, "ReduceMax", &hot, 1, out, 1);
        ks_onnx_attr_ints(g, node, "axes", &axis, 1);
    }
    ks_onnx_attr_int(g, node, "keepdims", 0);
    return KS_OK;
}

const ks_layer_ops ks_layer_category_encoding_ops = {
    .name = "CategoryEncoding",
    .keys = ce_keys,
    .state_size = sizeof(ce_state),
    .build = ce_build,
    .forward = ce_forward,
    .backward = ce_backward,
    .check_input = ce_check_input,
    .onnx = ce_onnx,
};
