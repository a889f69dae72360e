/*
 * onnx_export.c — models and ensembles as ONNX (opset 13, IR version 7), written with
 * the tracker's protobuf writer.  The graph is first built in memory (nodes naming
 * their input and output tensors, initializers borrowing the model's weights), then
 * checked for duplicate names and serialized as a ModelProto.
 */
#include "onnx_export.h"

#include "../engine/ks_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Field numbers, from onnx/onnx.proto (github.com/onnx/onnx, IR version 7):
 *   ModelProto        ir_version = 1, producer_name = 2, graph = 7, opset_import = 8,
 *                     metadata_props = 14
 *   OperatorSetIdProto domain = 1, version = 2
 *   StringStringEntryProto key = 1, value = 2
 *   GraphProto        node = 1, name = 2, initializer = 5, input = 11, output = 12
 *   NodeProto         input = 1, output = 2, name = 3, op_type = 4, attribute = 5
 *   AttributeProto    name = 1, f = 2, i = 3, type = 20 (AttributeType FLOAT = 1, INT = 2)
 *   TensorProto       dims = 1, data_type = 2 (DataType FLOAT = 1, INT64 = 7), name = 8,
 *                     raw_data = 9 (fixed-width little-endian)
 *   ValueInfoProto    name = 1, type = 2
 *   TypeProto         tensor_type = 1;  TypeProto.Tensor elem_type = 1, shape = 2
 *   TensorShapeProto  dim = 1;  Dimension dim_value = 1, dim_param = 2
 */
enum {
    MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8,
    MODEL_METADATA_PROPS = 14,
    OPSET_DOMAIN = 1, OPSET_VERSION = 2,
    ENTRY_KEY = 1, ENTRY_VALUE = 2,
    GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12,
    NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5,
    ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_TYPE = 20,
    ATTR_TYPE_FLOAT = 1, ATTR_TYPE_INT = 2,
    TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9,
    DTYPE_FLOAT = 1, DTYPE_INT64 = 7,
    VALUE_INFO_NAME = 1, VALUE_INFO_TYPE = 2,
    TYPE_TENSOR_TYPE = 1, TENSOR_TYPE_ELEM_TYPE = 1, TENSOR_TYPE_SHAPE = 2,
    SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2
};

/* Keras's constants, as the engine's activations use them (engine/activations.c). */
#define SELU_ALPHA 1.67326324235437728481f
#define SELU_SCALE 1.05070098735548049342f
#define ELU_ALPHA 1.0f
#define PROB_EPS 1e-7f      /* ks_ensemble_combine's clip of probabilities before logs */

/* ------------------------------------------------------------ the graph */

typedef struct ox_attr {
    const char *name;
    int type;                   /* ATTR_TYPE_FLOAT or ATTR_TYPE_INT */
    float f;
    int64_t i;
} ox_attr;

typedef struct ox_node {
    const char *op;
    char **in;                  /* owned strings */
    int n_in;
    char *out;                  /* owned */
    ox_attr attr[2];
    int n_attr;
} ox_node;

typedef struct ox_init {
    char *name;                 /* owned */
    int dtype;                  /* DTYPE_FLOAT or DTYPE_INT64 */
    int ndim;
    int64_t dims[KS_MAX_DIMS + 1];
    size_t n;                   /* elements */
    const float *f;             /* borrowed float data (model weights), or NULL */
    void *own;                  /* owned data: floats or int64s */
} ox_init;

typedef struct ox_graph {
    ox_node *nodes;
    int n_nodes, cap_nodes;
    ox_init *inits;
    int n_inits, cap_inits;
    ks_status status;           /* first allocation failure; later adds are no-ops */
} ox_graph;

static void graph_free(ox_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        for (int k = 0; k < g->nodes[i].n_in; k++)
            free(g->nodes[i].in[k]);
        free(g->nodes[i].in);
        free(g->nodes[i].out);
    }
    for (int i = 0; i < g->n_inits; i++) {
        free(g->inits[i].name);
        free(g->inits[i].own);
    }
    free(g->nodes);
    free(g->inits);
    memset(g, 0, sizeof *g);
}

/* A malloc'd formatted name, or NULL (and the graph's status set). */
static char *gname(ox_graph *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *gname(ox_graph *g, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !(s = malloc((size_t)n + 1))) {
        g->status = KS_ERR_NOMEM;
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

/*
 * Append a node op(in…) → out (out is taken over).  Returns the node, or NULL after a
 * failure (out then freed).
 */
static ox_node *add_node(ox_graph *g, const char *op, char *out, int n_in,
                         const char *const *in)
{
    ox_node *nd;
    if (g->status != KS_OK || !out) {
        free(out);
        return NULL;
    }
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? 2 * g->cap_nodes : 32;
        ox_node *p = realloc(g->nodes, (size_t)cap * sizeof *p);
        if (!p) {
            g->status = KS_ERR_NOMEM;
            free(out);
            return NULL;
        }
        g->nodes = p;
        g->cap_nodes = cap;
    }
    nd = &g->nodes[g->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    nd->out = out;
    if (!(nd->in = calloc((size_t)n_in + 1, sizeof *nd->in))) {
        g->status = KS_ERR_NOMEM;
        free(out);
        return NULL;
    }
    g->n_nodes++;
    for (int k = 0; k < n_in; k++) {
        if (!(nd->in[k] = strdup(in[k]))) {
            g->status = KS_ERR_NOMEM;
            return NULL;
        }
        nd->n_in++;
    }
    return nd;
}

/* A one-input node; returns its output name (borrowed from the node) or NULL. */
static const char *unary(ox_graph *g, const char *op, const char *x, char *out)
{
    ox_node *nd = add_node(g, op, out, 1, &x);
    return nd ? nd->out : NULL;
}

static const char *binary(ox_graph *g, const char *op, const char *a, const char *b, char *out)
{
    const char *in[2] = {a, b};
    ox_node *nd = add_node(g, op, out, 2, in);
    return nd ? nd->out : NULL;
}

static void node_attr(ox_node *nd, const char *name, int type, double value)
{
    if (!nd || nd->n_attr >= 2)
        return;
    nd->attr[nd->n_attr].name = name;
    nd->attr[nd->n_attr].type = type;
    if (type == ATTR_TYPE_FLOAT)
        nd->attr[nd->n_attr].f = (float)value;
    else
        nd->attr[nd->n_attr].i = (int64_t)value;
    nd->n_attr++;
}

/* Append an initializer (name taken over); data borrowed (f) or owned (own). */
static ox_init *add_init(ox_graph *g, char *name, int dtype, int ndim, const int64_t *dims,
                         const float *f, void *own)
{
    ox_init *t;
    if (g->status != KS_OK || !name) {
        free(name);
        free(own);
        return NULL;
    }
    if (g->n_inits == g->cap_inits) {
        int cap = g->cap_inits ? 2 * g->cap_inits : 32;
        ox_init *p = realloc(g->inits, (size_t)cap * sizeof *p);
        if (!p) {
            g->status = KS_ERR_NOMEM;
            free(name);
            free(own);
            return NULL;
        }
        g->inits = p;
        g->cap_inits = cap;
    }
    t = &g->inits[g->n_inits++];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = dtype;
    t->ndim = ndim;
    t->n = 1;
    for (int i = 0; i < ndim; i++) {
        t->dims[i] = dims[i];
        t->n *= (size_t)dims[i];
    }
    t->f = f;
    t->own = own;
    return t;
}

/* A float initializer holding n copies of value (a scalar when ndim is 0). */
static const char *const_floats(ox_graph *g, char *name, int ndim, const int64_t *dims,
                                float value)
{
    size_t n = 1;
    float *x;
    ox_init *t;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)dims[i];
    if (!(x = malloc(n * sizeof *x))) {
        g->status = KS_ERR_NOMEM;
        free(name);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        x[i] = value;
    t = add_init(g, name, DTYPE_FLOAT, ndim, dims, NULL, x);
    return t ? t->name : NULL;
}

/* A 1-d int64 initializer (a Reshape's target shape). */
static const char *const_shape(ox_graph *g, char *name, int n, const int64_t *v)
{
    int64_t *x = malloc((size_t)(n ? n : 1) * sizeof *x), dim = n;
    ox_init *t;
    if (!x) {
        g->status = KS_ERR_NOMEM;
        free(name);
        return NULL;
    }
    memcpy(x, v, (size_t)n * sizeof *x);
    t = add_init(g, name, DTYPE_INT64, 1, &dim, NULL, x);
    return t ? t->name : NULL;
}

/* ---------------------------------------------------------- one model */

/* The index of weight "LAYER/what", or -1. */
static int find_weight(const ks_model *m, const char *layer, const char *what)
{
    size_t ln = strlen(layer);
    for (int i = 0; i < ks_model_n_weights(m); i++) {
        const char *w = ks_model_weight_name(m, i);
        if (strncmp(w, layer, ln) == 0 && w[ln] == '/' && strcmp(w + ln + 1, what) == 0)
            return i;
    }
    return -1;
}

/* The model's weight i as an initializer named prefix + its name; checks its shape. */
static const char *weight_init(ox_graph *g, ks_model *m, int w, const char *prefix, int ndim,
                               const int *want, ks_error *err, ks_status *s)
{
    const ks_shape *sh = ks_model_weight_shape(m, w);
    int64_t dims[KS_MAX_DIMS];
    ox_init *t;
    if (sh->ndim != ndim)
        goto bad;
    for (int i = 0; i < ndim; i++) {
        if (sh->dim[i] != want[i])
            goto bad;
        dims[i] = sh->dim[i];
    }
    t = add_init(g, gname(g, "%s%s", prefix, ks_model_weight_name(m, w)), DTYPE_FLOAT, ndim,
                 dims, ks_model_weight_data(m, w), NULL);
    return t ? t->name : NULL;
bad:
    *s = ks_error_set(err, KS_ERR_INTERNAL, "weight %s has an unexpected shape",
                      ks_model_weight_name(m, w));
    return NULL;
}

/* The activation named act applied to x (NULL name for linear: x itself). */
static const char *activation(ox_graph *g, const char *act, const char *x, char *out,
                              ks_error *err, ks_status *s)
{
    static const struct {
        const char *keras, *onnx;
    } simple[] = {{"relu", "Relu"}, {"sigmoid", "Sigmoid"}, {"tanh", "Tanh"},
                  {"softplus", "Softplus"}};
    ox_node *nd;
    if (!act || strcmp(act, "linear") == 0) {
        free(out);
        return x;
    }
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
        if (strcmp(act, simple[i].keras) == 0)
            return unary(g, simple[i].onnx, x, out);
    if (strcmp(act, "softmax") == 0) {
        nd = add_node(g, "Softmax", out, 1, &x);
        node_attr(nd, "axis", ATTR_TYPE_INT, -1);     /* opset 13: the last axis, as Keras */
    } else if (strcmp(act, "selu") == 0) {
        nd = add_node(g, "Selu", out, 1, &x);
        node_attr(nd, "alpha", ATTR_TYPE_FLOAT, SELU_ALPHA);
        node_attr(nd, "gamma", ATTR_TYPE_FLOAT, SELU_SCALE);
    } else if (strcmp(act, "elu") == 0) {
        nd = add_node(g, "Elu", out, 1, &x);
        node_attr(nd, "alpha", ATTR_TYPE_FLOAT, ELU_ALPHA);
    } else {
        free(out);
        *s = ks_error_set(err, KS_ERR_CONFIG, "activation \"%s\" has no ONNX export", act);
        return NULL;
    }
    return nd ? nd->out : NULL;
}

static const char *arg_string(const ks_value *args, const char *key)
{
    const ks_value *v = ks_value_get(args, key);
    return v && v->kind == KS_VALUE_STRING ? v->string : NULL;
}

static const char *dense(ox_graph *g, ks_model *m, int i, const ks_value *args,
                         const char *prefix, const char *x, ks_error *err, ks_status *s)
{
    const char *name = ks_model_layer_name(m, i);
    const ks_shape *in = ks_model_layer_output_shape(m, ks_model_layer_input(m, i, 0));
    int units = ks_model_layer_output_shape(m, i)->dim[0];
    int wk = find_weight(m, name, "kernel"), wb = find_weight(m, name, "bias");
    int kdims[2] = {in->dim[0], units};
    const char *act = arg_string(args, "activation"), *in3[3], *y;
    int linear = !act || strcmp(act, "linear") == 0;
    ox_node *nd;
    if (wk < 0 || in->ndim != 1) {
        *s = ks_error_set(err, KS_ERR_INTERNAL, "Dense layer \"%s\" has no 1-d kernel", name);
        return NULL;
    }
    in3[0] = x;
    /* Keras's kernel is [in, units]: Gemm's B without transposition */
    if (!(in3[1] = weight_init(g, m, wk, prefix, 2, kdims, err, s)))
        return NULL;
    if (wb >= 0 && !(in3[2] = weight_init(g, m, wb, prefix, 1, &units, err, s)))
        return NULL;
    nd = add_node(g, "Gemm",
                  linear ? gname(g, "%s%s:0", prefix, name)
                         : gname(g, "%s%s/linear:0", prefix, name),
                  wb >= 0 ? 3 : 2, in3);
    if (!nd)
        return NULL;
    y = nd->out;
    return activation(g, act, y, gname(g, "%s%s:0", prefix, name), err, s);
}

/*
 * BatchNormalization in inference mode.  ONNX normalizes axis 1 of (N, C, …) while
 * Keras normalizes the last axis: a rank > 2 input goes through (-1, C) and back.
 */
static const char *batchnorm(ox_graph *g, ks_model *m, int i, const ks_value *args,
                             const char *prefix, const char *x, ks_error *err, ks_status *s)
{
    const char *name = ks_model_layer_name(m, i);
    const ks_shape *in = ks_model_layer_output_shape(m, ks_model_layer_input(m, i, 0));
    const ks_value *veps = ks_value_get(args, "epsilon");
    static const char *const parts[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    const char *in5[5];
    int c;
    int64_t cdim;
    ox_node *nd;
    if (in->ndim < 1 || !veps || veps->kind != KS_VALUE_NUMBER) {
        *s = ks_error_set(err, KS_ERR_INTERNAL, "BatchNormalization layer \"%s\" is incomplete",
                          name);
        return NULL;
    }
    c = in->dim[in->ndim - 1];
    cdim = c;
    for (int k = 0; k < 4; k++) {
        int w = find_weight(m, name, parts[k]);
        if (w < 0 && k >= 2) {
            *s = ks_error_set(err, KS_ERR_INTERNAL, "BatchNormalization layer \"%s\" has no %s",
                              name, parts[k]);
            return NULL;
        }
        if (w >= 0)
            in5[k + 1] = weight_init(g, m, w, prefix, 1, &c, err, s);
        else        /* scale: false → gamma 1, center: false → beta 0 */
            in5[k + 1] = const_floats(g, gname(g, "%s%s/%s", prefix, name, parts[k]), 1, &cdim,
                                      k == 0 ? 1.0f : 0.0f);
        if (!in5[k + 1])
            return NULL;
    }
    in5[0] = x;
    if (in->ndim > 1) {
        int64_t rows[2] = {-1, c}, back[KS_MAX_DIMS + 1];
        const char *shape = const_shape(g, gname(g, "%s%s/rows_shape", prefix, name), 2, rows);
        back[0] = -1;
        for (int k = 0; k < in->ndim; k++)
            back[k + 1] = in->dim[k];
        if (!shape || !(in5[0] = binary(g, "Reshape", x, shape, gname(g, "%s%s/rows:0", prefix,
                                                                       name))))
            return NULL;
        nd = add_node(g, "BatchNormalization", gname(g, "%s%s/norm:0", prefix, name), 5, in5);
        node_attr(nd, "epsilon", ATTR_TYPE_FLOAT, veps->number);
        if (!nd || !(shape = const_shape(g, gname(g, "%s%s/out_shape", prefix, name),
                                         in->ndim + 1, back)))
            return NULL;
        return binary(g, "Reshape", nd->out, shape, gname(g, "%s%s:0", prefix, name));
    }
    nd = add_node(g, "BatchNormalization", gname(g, "%s%s:0", prefix, name), 5, in5);
    node_attr(nd, "epsilon", ATTR_TYPE_FLOAT, veps->number);
    return nd ? nd->out : NULL;
}

/*
 * Append model m's nodes, its tensors and weights named with prefix; the graph input is
 * "input" and the model's output becomes the tensor out_name.
 */
static ks_status emit_model(ox_graph *g, ks_model *m, const char *prefix, const char *out_name,
                            ks_error *err)
{
    int n = ks_model_n_layers(m);
    const char **t = calloc((size_t)n, sizeof *t);    /* each layer's output tensor */
    ks_value cfg;
    ks_status s = KS_OK;
    if (!t || ks_model_config(m, &cfg, NULL) != KS_OK) {
        free(t);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n && s == KS_OK && g->status == KS_OK; i++) {
        const char *cls = ks_model_layer_class(m, i), *name = ks_model_layer_name(m, i), *x;
        const ks_value *args = i < (int)cfg.n && cfg.items[i].n == 1 ? &cfg.items[i].items[0]
                                                                   : NULL;
        int n_in = ks_model_layer_n_inputs(m, i);
        if (strcmp(cls, "InputLayer") == 0 && i == 0) {
            t[i] = "input";
            continue;
        }
        if (n_in != 1 || ks_model_layer_input(m, i, 0) < 0 || ks_model_layer_input(m, i, 0) >= i) {
            s = ks_error_set(err, KS_ERR_CONFIG,
                             "layer \"%s\" (%s) has %d inputs; the ONNX export handles "
                             "one-input layers after one InputLayer",
                             name, cls, n_in);
            break;
        }
        x = t[ks_model_layer_input(m, i, 0)];
        if (strcmp(cls, "Flatten") == 0) {
            ox_node *nd = add_node(g, "Flatten", gname(g, "%s%s:0", prefix, name), 1, &x);
            node_attr(nd, "axis", ATTR_TYPE_INT, 1);       /* [N, everything else] */
            t[i] = nd ? nd->out : NULL;
        } else if (strcmp(cls, "Dense") == 0) {
            t[i] = dense(g, m, i, args, prefix, x, err, &s);
        } else if (strcmp(cls, "Activation") == 0) {
            t[i] = activation(g, arg_string(args, "activation"), x,
                              gname(g, "%s%s:0", prefix, name), err, &s);
        } else if (strcmp(cls, "BatchNormalization") == 0) {
            t[i] = batchnorm(g, m, i, args, prefix, x, err, &s);
        } else if (strcmp(cls, "Dropout") == 0) {
            t[i] = x;       /* identity at inference */
        } else {
            s = ks_error_set(err, KS_ERR_CONFIG,
                             "layer \"%s\" is a %s, which the ONNX export does not support "
                             "(supported: InputLayer, Flatten, Dense, Activation, "
                             "BatchNormalization, Dropout)",
                             name, cls);
        }
        if (s == KS_OK && g->status == KS_OK && !t[i])
            s = ks_error_set(err, KS_ERR_INTERNAL, "layer \"%s\" gave no tensor", name);
    }
    if (s == KS_OK && g->status == KS_OK) {
        /* the last node makes the output: rename its tensor; else copy it with Identity */
        ox_node *last = g->n_nodes ? &g->nodes[g->n_nodes - 1] : NULL;
        if (n > 0 && last && last->out == t[n - 1]) {
            char *o = gname(g, "%s", out_name);
            if (o) {
                free(last->out);
                last->out = o;
            }
        } else if (n > 0) {
            unary(g, "Identity", t[n - 1], gname(g, "%s", out_name));
        }
    }
    ks_value_free(&cfg);
    free(t);
    if (s == KS_OK && g->status != KS_OK)
        s = ks_error_set(err, g->status, "out of memory");
    return s;
}

/* ------------------------------------------------------------ ensembles */

static ks_status emit_ensemble(ox_graph *g, ks_ensemble *e, ks_error *err)
{
    int n = ks_ensemble_size(e);
    ks_ensemble_average avg = ks_ensemble_average_of(e);
    const ks_shape *oshape = ks_model_output_shape(ks_ensemble_member(e, 0));
    size_t k = ks_shape_size(oshape);
    const char **terms = calloc((size_t)n, sizeof *terms);
    const char *lo = NULL, *hi = NULL, *one = NULL, *sum;
    ks_status s = KS_OK;
    ox_node *nd;
    if (!terms)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    if (avg == KS_ENSEMBLE_GEOMETRIC && oshape->ndim != 1) {
        char buf[64];
        free(terms);
        return ks_error_set(err, KS_ERR_CONFIG,
                            "a geometric-mean ensemble exports only 1-d outputs, got %s",
                            ks_shape_str(oshape, buf, sizeof buf));
    }
    if (avg == KS_ENSEMBLE_GEOMETRIC) {
        lo = const_floats(g, gname(g, "clip_min"), 0, NULL, PROB_EPS);
        hi = const_floats(g, gname(g, "clip_max"), 0, NULL, k == 1 ? 1.0f - PROB_EPS : 1.0f);
        if (k == 1)
            one = const_floats(g, gname(g, "one"), 0, NULL, 1.0f);
    }
    for (int i = 0; i < n && s == KS_OK && g->status == KS_OK; i++) {
        char prefix[32];
        const char *y, *w, *in3[3];
        snprintf(prefix, sizeof prefix, "m%d/", i);
        if (!(y = gname(g, "m%d/output", i)))
            break;
        s = emit_model(g, ks_ensemble_member(e, i), prefix, y, err);
        free((char *)y);
        if (s != KS_OK) {
            ks_error_prefix(err, "ensemble member %d", i);
            break;
        }
        y = g->nodes[g->n_nodes - 1].out;
        w = const_floats(g, gname(g, "m%d/weight", i), 0, NULL, (float)ks_ensemble_weight(e, i));
        if (avg == KS_ENSEMBLE_GEOMETRIC) {
            /* Σ w·log(clip p); for one sigmoid output Σ w·(log p − log(1 − p)) */
            const char *lp;
            in3[0] = y, in3[1] = lo, in3[2] = hi;
            nd = add_node(g, "Clip", gname(g, "m%d/clipped:0", i), 3, in3);
            lp = nd ? unary(g, "Log", nd->out, gname(g, "m%d/log:0", i)) : NULL;
            if (k == 1 && lp) {
                const char *q = binary(g, "Sub", one, y, gname(g, "m%d/complement:0", i));
                in3[0] = q;
                nd = q ? add_node(g, "Clip", gname(g, "m%d/complement_clipped:0", i), 3, in3)
                       : NULL;
                q = nd ? unary(g, "Log", nd->out, gname(g, "m%d/log_complement:0", i)) : NULL;
                lp = q ? binary(g, "Sub", lp, q, gname(g, "m%d/logit:0", i)) : NULL;
            }
            y = lp;
        }
        terms[i] = y && w ? binary(g, "Mul", y, w, gname(g, "m%d/weighted:0", i)) : NULL;
    }
    if (s == KS_OK && g->status == KS_OK) {
        if (avg == KS_ENSEMBLE_ARITHMETIC) {
            add_node(g, "Sum", gname(g, "output"), n, terms);
        } else {
            nd = add_node(g, "Sum", gname(g, k == 1 ? "logit:0" : "log_mean:0"), n, terms);
            sum = nd ? nd->out : NULL;
            if (sum && k == 1) {
                unary(g, "Sigmoid", sum, gname(g, "output"));
            } else if (sum) {
                /* exp and renormalize: a softmax over the classes */
                nd = add_node(g, "Softmax", gname(g, "output"), 1, &sum);
                node_attr(nd, "axis", ATTR_TYPE_INT, -1);
            }
        }
    }
    free(terms);
    if (s == KS_OK && g->status != KS_OK)
        s = ks_error_set(err, g->status, "out of memory");
    return s;
}

/* ---------------------------------------------------------- serialize */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every tensor name defined once: "input", initializers, node outputs. */
static ks_status check_names(const ox_graph *g, ks_error *err)
{
    size_t n = 1 + (size_t)g->n_inits + (size_t)g->n_nodes, j = 0;
    const char **all = malloc(n * sizeof *all);
    ks_status s = KS_OK;
    if (!all)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    all[j++] = "input";
    for (int i = 0; i < g->n_inits; i++)
        all[j++] = g->inits[i].name;
    for (int i = 0; i < g->n_nodes; i++)
        all[j++] = g->nodes[i].out;
    qsort(all, n, sizeof *all, cmp_str);
    for (size_t i = 1; i < n; i++)
        if (strcmp(all[i - 1], all[i]) == 0) {
            s = ks_error_set(err, KS_ERR_CONFIG,
                             "two tensors of the ONNX graph would be named \"%s\"; rename the "
                             "layer whose name makes it",
                             all[i]);
            break;
        }
    free(all);
    return s;
}

static void put_value_info(ks_pb_buf *b, int field, const char *name, const ks_shape *shape)
{
    size_t vi = ks_pb_begin(b, field), ty, tt, sh, d;
    ks_pb_string(b, VALUE_INFO_NAME, name);
    ty = ks_pb_begin(b, VALUE_INFO_TYPE);
    tt = ks_pb_begin(b, TYPE_TENSOR_TYPE);
    ks_pb_int(b, TENSOR_TYPE_ELEM_TYPE, DTYPE_FLOAT);
    sh = ks_pb_begin(b, TENSOR_TYPE_SHAPE);
    d = ks_pb_begin(b, SHAPE_DIM);
    ks_pb_string(b, DIM_PARAM, "N");
    ks_pb_end(b, d);
    for (int i = 0; i < shape->ndim; i++) {
        d = ks_pb_begin(b, SHAPE_DIM);
        ks_pb_int(b, DIM_VALUE, shape->dim[i]);
        ks_pb_end(b, d);
    }
    ks_pb_end(b, sh);
    ks_pb_end(b, tt);
    ks_pb_end(b, ty);
    ks_pb_end(b, vi);
}

static void put_init(ks_pb_buf *b, const ox_init *t)
{
    size_t mark = ks_pb_begin(b, GRAPH_INITIALIZER);
    for (int i = 0; i < t->ndim; i++)
        ks_pb_int(b, TENSOR_DIMS, t->dims[i]);     /* proto2 repeated int64: not packed */
    ks_pb_int(b, TENSOR_DATA_TYPE, t->dtype);
    ks_pb_string(b, TENSOR_NAME, t->name);
    if (t->dtype == DTYPE_FLOAT) {
        ks_pb_packed_float(b, TENSOR_RAW_DATA, t->f ? t->f : t->own, t->n);
    } else {
        const int64_t *v = t->own;
        unsigned char *p;
        ks_pb_key(b, TENSOR_RAW_DATA, KS_PB_LEN);
        ks_pb_varint(b, t->n * 8);
        if ((p = ks_pb_grow(b, t->n * 8)) != NULL)
            for (size_t i = 0; i < t->n; i++)
                for (int k = 0; k < 8; k++)
                    p[8 * i + k] = (unsigned char)((uint64_t)v[i] >> (8 * k));
    }
    ks_pb_end(b, mark);
}

static void put_node(ks_pb_buf *b, const ox_node *nd)
{
    size_t mark = ks_pb_begin(b, GRAPH_NODE);
    for (int k = 0; k < nd->n_in; k++)
        ks_pb_string(b, NODE_INPUT, nd->in[k]);
    ks_pb_string(b, NODE_OUTPUT, nd->out);
    ks_pb_string(b, NODE_NAME, nd->out);
    ks_pb_string(b, NODE_OP_TYPE, nd->op);
    for (int a = 0; a < nd->n_attr; a++) {
        size_t am = ks_pb_begin(b, NODE_ATTRIBUTE);
        ks_pb_string(b, ATTR_NAME, nd->attr[a].name);
        if (nd->attr[a].type == ATTR_TYPE_FLOAT)
            ks_pb_float(b, ATTR_F, nd->attr[a].f);
        else
            ks_pb_int(b, ATTR_I, nd->attr[a].i);
        ks_pb_int(b, ATTR_TYPE, nd->attr[a].type);
        ks_pb_end(b, am);
    }
    ks_pb_end(b, mark);
}

static ks_status serialize(const ox_graph *g, ks_model *m0, const char *graph_name,
                           unsigned char **out, size_t *len, ks_error *err)
{
    ks_pb_buf b = {0};
    size_t graph, mark;
    const ks_value *scale = ks_value_get(ks_model_meta(m0), "input_scale");
    ks_status s;
    if ((s = check_names(g, err)) != KS_OK)
        return s;
    ks_pb_int(&b, MODEL_IR_VERSION, KS_ONNX_IR_VERSION);
    ks_pb_string(&b, MODEL_PRODUCER_NAME, "ksearch");
    graph = ks_pb_begin(&b, MODEL_GRAPH);
    for (int i = 0; i < g->n_nodes; i++)
        put_node(&b, &g->nodes[i]);
    ks_pb_string(&b, GRAPH_NAME, graph_name);
    for (int i = 0; i < g->n_inits; i++)
        put_init(&b, &g->inits[i]);
    put_value_info(&b, GRAPH_INPUT, "input", ks_model_input_shape(m0));
    put_value_info(&b, GRAPH_OUTPUT, "output", ks_model_output_shape(m0));
    ks_pb_end(&b, graph);
    mark = ks_pb_begin(&b, MODEL_OPSET_IMPORT);
    ks_pb_string(&b, OPSET_DOMAIN, "");
    ks_pb_int(&b, OPSET_VERSION, KS_ONNX_OPSET);
    ks_pb_end(&b, mark);
    if (scale && scale->kind == KS_VALUE_NUMBER) {
        char text[64];
        snprintf(text, sizeof text, "%.17g", scale->number);
        mark = ks_pb_begin(&b, MODEL_METADATA_PROPS);
        ks_pb_string(&b, ENTRY_KEY, "input_scale");
        ks_pb_string(&b, ENTRY_VALUE, text);
        ks_pb_end(&b, mark);
    }
    if ((s = ks_pb_check(&b, "the ONNX model", err)) != KS_OK) {
        ks_pb_free(&b);
        return s;
    }
    *out = b.data;
    *len = b.len;
    return KS_OK;
}

ks_status ks_onnx_encode_model(ks_model *m, unsigned char **out, size_t *len, ks_error *err)
{
    ox_graph g = {0};
    ks_status s;
    *out = NULL;
    *len = 0;
    s = emit_model(&g, m, "", "output", err);
    if (s == KS_OK)
        s = serialize(&g, m, "ksearch_model", out, len, err);
    graph_free(&g);
    return s;
}

ks_status ks_onnx_encode_ensemble(ks_ensemble *e, unsigned char **out, size_t *len,
                                  ks_error *err)
{
    ox_graph g = {0};
    ks_status s;
    *out = NULL;
    *len = 0;
    s = emit_ensemble(&g, e, err);
    if (s == KS_OK)
        s = serialize(&g, ks_ensemble_member(e, 0), "ksearch_ensemble", out, len, err);
    graph_free(&g);
    return s;
}

/* ---------------------------------------------------------------- files */

ks_status ks_onnx_save_model(ks_model *m, const char *path, ks_error *err)
{
    unsigned char *buf;
    size_t len;
    ks_status s = ks_onnx_encode_model(m, &buf, &len, err);
    if (s == KS_OK)
        s = ks_write_file_atomic(path, buf, len, err);
    free(buf);
    return s;
}

ks_status ks_onnx_save_ensemble(ks_ensemble *e, const char *path, ks_error *err)
{
    unsigned char *buf;
    size_t len;
    ks_status s = ks_onnx_encode_ensemble(e, &buf, &len, err);
    if (s == KS_OK)
        s = ks_write_file_atomic(path, buf, len, err);
    free(buf);
    return s;
}
