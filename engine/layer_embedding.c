/*
 * layer_embedding.c — Embedding(input_dim, output_dim): each token id of the input
 * becomes its row of the embeddings matrix (input_dim, output_dim), initialized
 * uniform(-0.05, 0.05) as Keras.  With mask_zero, id 0 is padding: the output carries
 * a mask that skips it.  Ids come as floats (exact up to 2^24); data fed straight from
 * a model input is checked before training (check_input), and an id out of range met
 * anyway gives a zero row, never a read outside the matrix.
 */
#include "engine_impl.h"

#include <string.h>

typedef struct embedding_state {
    int input_dim;
    int output_dim;
    int embeddings_initializer;     /* ks_initializer */
    ks_value embeddings_regularizer;
    int mask_zero;
    int input_length;               /* Keras 2's; the input's shape decides */
} embedding_state;

static const ks_key embedding_keys[] = {
    {"input_dim", KS_KEY_INT, offsetof(embedding_state, input_dim), 0, 1, 1 << 24, NULL, NULL,
     KS_KEY_REQUIRED},
    {"output_dim", KS_KEY_INT, offsetof(embedding_state, output_dim), 0, 1, 1e6, NULL, NULL,
     KS_KEY_REQUIRED},
    {"embeddings_initializer", KS_KEY_ENUM, offsetof(embedding_state, embeddings_initializer), 0,
     0, 0, "uniform", ks_initializer_names, 0},
    {"embeddings_regularizer", KS_KEY_VALUE, offsetof(embedding_state, embeddings_regularizer), 0,
     0, 0, NULL, NULL, 0},
    {"mask_zero", KS_KEY_BOOL, offsetof(embedding_state, mask_zero), 0, 0, 0, "false", NULL, 0},
    {"input_length", KS_KEY_INT, offsetof(embedding_state, input_length), 0, 0, 1e9, "0", NULL,
     KS_KEY_NULLABLE | KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status embedding_build(ks_layer *l, ks_error *err)
{
    embedding_state *st = l->state;
    const ks_shape *in = &l->in_shape[0];
    ks_shape es = {2, {st->input_dim, st->output_dim}};
    ks_weight *w;
    char buf[96];
    if (in->ndim >= KS_MAX_DIMS)
        return ks_error_set(err, KS_ERR_SHAPE, "Embedding's input %s has too many axes",
                            ks_shape_str(in, buf, sizeof buf));
    if (st->input_length > 0 && !(in->ndim == 1 && in->dim[0] == st->input_length))
        return ks_error_set(err, KS_ERR_SHAPE, "Embedding: input_length is %d but the input is %s",
                            st->input_length, ks_shape_str(in, buf, sizeof buf));
    l->out_shape = *in;
    l->out_shape.dim[l->out_shape.ndim++] = st->output_dim;
    w = ks_layer_add_weight(l, "embeddings", &es, 1, (ks_initializer)st->embeddings_initializer);
    return ks_regularizer_from_value(&st->embeddings_regularizer, "Embedding", &w->reg, err);
}

/* The row of token v, or -1 when v is not an id of the matrix. */
static inline long row_of(float v, int input_dim)
{
    return v >= 0.0f && v < (float)input_dim && v == floorf(v) ? (long)v : -1;
}

static void embedding_forward(ks_layer *l, const ks_fwd *f)
{
    const embedding_state *st = l->state;
    size_t len = (size_t)f->n * l->in_size[0], E = (size_t)st->output_dim;
    const float *table = l->weights[0].w;
    for (size_t k = 0; k < len; k++) {
        long r = row_of(f->x[0][k], st->input_dim);
        if (r >= 0)
            memcpy(f->y + k * E, table + (size_t)r * E, E * sizeof(float));
        else
            memset(f->y + k * E, 0, E * sizeof(float));
    }
    if (st->mask_zero && f->mask_out)
        for (size_t k = 0; k < len; k++)
            f->mask_out[k] = f->x[0][k] != 0.0f ? 1.0f : 0.0f;
}

static void embedding_backward(ks_layer *l, const ks_bwd *b)
{
    const embedding_state *st = l->state;
    size_t len = (size_t)b->n * l->in_size[0], E = (size_t)st->output_dim;
    float *g = l->weights[0].g;
    if (b->grad_beta == 0.0f)
        memset(g, 0, l->weights[0].size * sizeof *g);
    for (size_t k = 0; k < len; k++) {
        long r = row_of(b->x[0][k], st->input_dim);
        if (r >= 0) {
            float *gr = g + (size_t)r * E;
            const float *d = b->dy + k * E;
            for (size_t j = 0; j < E; j++)
                gr[j] += d[j];
        }
    }
    if (b->dx[0] && b->dx_beta[0] == 0.0f)      /* ids have no gradient */
        memset(b->dx[0], 0, len * sizeof(float));
}

static ks_mask_mode embedding_mask(const ks_layer *l)
{
    return ((const embedding_state *)l->state)->mask_zero ? KS_MASK_MAKE : KS_MASK_DROP;
}

static ks_status embedding_check(const ks_layer *l, const float *x, size_t n, ks_error *err)
{
    const embedding_state *st = l->state;
    size_t width = l->in_size[0];
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < width; j++) {
            float v = x[i * width + j];
            if (row_of(v, st->input_dim) < 0)
                return ks_error_set(err, KS_ERR_CONFIG,
                                    "row %zu column %zu holds %.9g; the Embedding takes %s "
                                    "token ids from 0 to %d (input_dim %d)",
                                    i, j, (double)v, v == floorf(v) ? "its" : "integer",
                                    st->input_dim - 1, st->input_dim);
        }
    return KS_OK;
}

/* Gather of the embeddings' rows at the ids, cast to int64 (ONNX's index type); with
   mask_zero, the mask (ids != 0 as 1 and 0: Cast to bool, then to float). */
static ks_status embedding_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                                const char **out, ks_error *err)
{
    const char *x[2], *ids = ks_onnx_layer_name(g, l, "/ids:0");
    int node = ks_onnx_node(g, "Cast", in, 1, &ids, 1);
    (void)err;
    if (((const embedding_state *)l->state)->mask_zero) {
        const char *used = ks_onnx_layer_name(g, l, "/nonzero:0");
        const char *mask = ks_onnx_layer_name(g, l, "/mask:0");
        ks_onnx_attr_int(g, ks_onnx_node(g, "Cast", in, 1, &used, 1), "to", KS_ONNX_BOOL);
        ks_onnx_attr_int(g, ks_onnx_node(g, "Cast", &used, 1, &mask, 1), "to", KS_ONNX_FLOAT);
        ks_onnx_set_output_mask(g, mask);
    }
    ks_onnx_attr_int(g, node, "to", KS_ONNX_INT64);
    x[0] = ks_onnx_weight(g, l, 0);
    x[1] = ids;
    *out = ks_onnx_layer_name(g, l, ":0");
    node = ks_onnx_node(g, "Gather", x, 2, out, 1);
    ks_onnx_attr_int(g, node, "axis", 0);
    return KS_OK;
}

const ks_layer_ops ks_layer_embedding_ops = {
    .name = "Embedding",
    .keys = embedding_keys,
    .state_size = sizeof(embedding_state),
    .build = embedding_build,
    .forward = embedding_forward,
    .backward = embedding_backward,
    .mask = embedding_mask,
    .check_input = embedding_check,
    .flags = KS_LAYER_TOKEN_TABLE,
    .onnx = embedding_onnx,
};
