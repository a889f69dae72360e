/*
 * onnx_graph.c — the ONNX graph builder that layer kinds lower themselves into (nodes,
 * attributes, initializers, graph inputs and outputs, metadata; every string and owned
 * array in one arena), and its serialization as a ModelProto with the protobuf writer
 * of ks_util.h.  The exporter of models and ensembles is onnx_export.c.
 */
#include "engine_impl.h"

#include <stdarg.h>
#include <stdalign.h>
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
 *   AttributeProto    name = 1, f = 2, i = 3, s = 4, ints = 8, type = 20
 *                     (AttributeType FLOAT = 1, INT = 2, STRING = 3, INTS = 7)
 *   TensorProto       dims = 1, data_type = 2, name = 8, raw_data = 9 (fixed-width
 *                     little-endian)
 *   ValueInfoProto    name = 1, type = 2
 *   TypeProto         tensor_type = 1;  TypeProto.Tensor elem_type = 1, shape = 2
 *   TensorShapeProto  dim = 1;  Dimension dim_value = 1, dim_param = 2
 * onnx.proto is proto2: repeated scalars (dims, ints) are written unpacked.
 */
enum {
    MODEL_IR_VERSION = 1, MODEL_PRODUCER_NAME = 2, MODEL_GRAPH = 7, MODEL_OPSET_IMPORT = 8,
    MODEL_METADATA_PROPS = 14,
    OPSET_DOMAIN = 1, OPSET_VERSION = 2,
    ENTRY_KEY = 1, ENTRY_VALUE = 2,
    GRAPH_NODE = 1, GRAPH_NAME = 2, GRAPH_INITIALIZER = 5, GRAPH_INPUT = 11, GRAPH_OUTPUT = 12,
    NODE_INPUT = 1, NODE_OUTPUT = 2, NODE_NAME = 3, NODE_OP_TYPE = 4, NODE_ATTRIBUTE = 5,
    ATTR_NAME = 1, ATTR_F = 2, ATTR_I = 3, ATTR_S = 4, ATTR_INTS = 8, ATTR_TYPE = 20,
    TENSOR_DIMS = 1, TENSOR_DATA_TYPE = 2, TENSOR_NAME = 8, TENSOR_RAW_DATA = 9,
    VALUE_INFO_NAME = 1, VALUE_INFO_TYPE = 2,
    TYPE_TENSOR_TYPE = 1, TENSOR_TYPE_ELEM_TYPE = 1, TENSOR_TYPE_SHAPE = 2,
    SHAPE_DIM = 1, DIM_VALUE = 1, DIM_PARAM = 2
};

typedef enum attr_type {        /* AttributeType */
    AT_FLOAT = 1, AT_INT = 2, AT_STRING = 3, AT_INTS = 7
} attr_type;

#define BATCH_DIM "N"               /* the symbolic batch dimension of inputs and outputs */
#define ARENA_BLOCK ((size_t)16384)

typedef struct onnx_attr {
    const char *name;
    attr_type type;
    float f;
    int64_t i;
    const char *s;
    const int64_t *ints;
    int n_ints;
} onnx_attr;

typedef struct onnx_node {
    const char *op;
    const char **in, **out;
    int n_in, n_out;
    onnx_attr *attr;
    int n_attr;
} onnx_node;

typedef struct onnx_init {
    const char *name;
    ks_onnx_dtype dtype;
    int ndim;
    const int64_t *dims;
    size_t n;                   /* elements */
    const void *data;           /* borrowed (weights) or in the arena */
} onnx_init;

typedef struct onnx_io {
    const char *name;
    ks_onnx_dtype elem;
    ks_shape shape;             /* without the batch axis */
    int is_output;
} onnx_io;

typedef struct onnx_meta {
    const char *key, *value;
} onnx_meta;

typedef struct arena_block {
    struct arena_block *next;
    size_t used, size;
    alignas(max_align_t) unsigned char data[];
} arena_block;

struct ks_onnx {
    ks_status status;           /* the first failure; later calls are no-ops */
    const char *prefix;
    const char *call;           /* the call being lowered ("enc_left/dense"), or NULL */
    const char *mask_in;        /* the mask of its first input (kinds that read one), or NULL */
    const char *mask_out;       /* the mask it makes (KS_MASK_MAKE kinds), or NULL */
    onnx_node *nodes;
    int n_nodes, cap_nodes;
    onnx_init *inits;
    int n_inits, cap_inits;
    onnx_io *io;                /* graph inputs and outputs, in declaration order */
    int n_io, cap_io;
    onnx_meta *meta;
    int n_meta, cap_meta;
    arena_block *arena;
};

/* ------------------------------------------------------------ memory */

static void fail(ks_onnx *g, ks_status s)
{
    if (g->status == KS_OK)
        g->status = s;
}

/* n bytes (aligned for any type) that live until ks_onnx_free, or NULL. */
static void *arena(ks_onnx *g, size_t n)
{
    arena_block *b = g->arena;
    void *p;
    if (g->status != KS_OK)
        return NULL;
    if (n > SIZE_MAX / 2) {
        fail(g, KS_ERR_NOMEM);
        return NULL;
    }
    n = (n + alignof(max_align_t) - 1) / alignof(max_align_t) * alignof(max_align_t);
    if (!b || b->size - b->used < n) {
        /* a large request gets a block of its own behind the current one */
        size_t size = n > ARENA_BLOCK / 4 ? n : ARENA_BLOCK;
        arena_block *nb = malloc(sizeof *nb + size);
        if (!nb) {
            fail(g, KS_ERR_NOMEM);
            return NULL;
        }
        nb->size = size;
        nb->used = 0;
        if (b && size != ARENA_BLOCK) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            g->arena = nb;
        }
        b = nb;
    }
    p = b->data + b->used;
    b->used += n;
    return p;
}

static const char *copy_str(ks_onnx *g, const char *s)
{
    size_t n;
    char *p;
    if (!s) {
        fail(g, KS_ERR_INTERNAL);       /* a name from a call that failed */
        return NULL;
    }
    n = strlen(s) + 1;
    if ((p = arena(g, n)))
        memcpy(p, s, n);
    return p;
}

/* Make room for one more element of an array of size elements. */
static int grow(ks_onnx *g, void **array, int n, int *cap, size_t size)
{
    void *p;
    int c;
    if (g->status != KS_OK)
        return 0;
    if (n < *cap)
        return 1;
    c = *cap ? 2 * *cap : 16;
    if (!(p = realloc(*array, (size_t)c * size))) {
        fail(g, KS_ERR_NOMEM);
        return 0;
    }
    *array = p;
    *cap = c;
    return 1;
}

ks_status ks_onnx_new(ks_onnx **out)
{
    ks_onnx *g = calloc(1, sizeof *g);
    *out = g;
    if (!g)
        return KS_ERR_NOMEM;
    g->prefix = "";
    return KS_OK;
}

void ks_onnx_free(ks_onnx *g)
{
    if (!g)
        return;
    while (g->arena) {
        arena_block *next = g->arena->next;
        free(g->arena);
        g->arena = next;
    }
    free(g->nodes);
    free(g->inits);
    free(g->io);
    free(g->meta);
    free(g);
}

ks_status ks_onnx_status(const ks_onnx *g)
{
    return g->status;
}

void ks_onnx_set_prefix(ks_onnx *g, const char *prefix)
{
    const char *p = copy_str(g, prefix);
    if (p)
        g->prefix = p;
}

/* ------------------------------------------------------------- names */

const char *ks_onnx_name(ks_onnx *g, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *s;
    if (g->status != KS_OK)
        return NULL;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fail(g, KS_ERR_INTERNAL);
        return NULL;
    }
    if (!(s = arena(g, (size_t)n + 1)))
        return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

void ks_onnx_set_call(ks_onnx *g, const char *call)
{
    g->call = call ? copy_str(g, call) : NULL;
}

const char *ks_onnx_layer_name(ks_onnx *g, const ks_layer *l, const char *suffix)
{
    return ks_onnx_name(g, "%s%s%s", g->prefix, g->call ? g->call : l->name, suffix);
}

/* ------------------------------------------------------------- masks */

void ks_onnx_set_input_mask(ks_onnx *g, const char *mask)
{
    g->mask_in = mask ? copy_str(g, mask) : NULL;
    g->mask_out = NULL;
}

const char *ks_onnx_input_mask(const ks_onnx *g)
{
    return g->mask_in;
}

void ks_onnx_set_output_mask(ks_onnx *g, const char *mask)
{
    g->mask_out = mask ? copy_str(g, mask) : NULL;
}

const char *ks_onnx_output_mask(const ks_onnx *g)
{
    return g->mask_out;
}

/* ------------------------------------------------------------- nodes */

/* Copies of names[0 .. n) in the arena, or NULL. */
static const char **copy_names(ks_onnx *g, const char *const *names, int n)
{
    const char **v = arena(g, (size_t)(n > 0 ? n : 1) * sizeof *v);
    for (int k = 0; v && k < n; k++)
        if (!(v[k] = copy_str(g, names[k])))
            return NULL;
    return v;
}

int ks_onnx_node(ks_onnx *g, const char *op, const char *const *in, int n_in,
                 const char *const *out, int n_out)
{
    onnx_node nd = {0};
    if (g->status != KS_OK)
        return -1;
    if (n_in < 0 || n_out < 1) {
        fail(g, KS_ERR_INTERNAL);
        return -1;
    }
    nd.op = copy_str(g, op);
    nd.in = copy_names(g, in, n_in);
    nd.out = copy_names(g, out, n_out);
    nd.n_in = n_in;
    nd.n_out = n_out;
    if (!nd.op || !nd.in || !nd.out ||
        !grow(g, (void **)&g->nodes, g->n_nodes, &g->cap_nodes, sizeof *g->nodes))
        return -1;
    g->nodes[g->n_nodes] = nd;
    return g->n_nodes++;
}

const char *ks_onnx_node1(ks_onnx *g, const char *op, const char *in, const char *out)
{
    int nd = ks_onnx_node(g, op, &in, 1, &out, 1);
    return nd < 0 ? NULL : g->nodes[nd].out[0];
}

int ks_onnx_node2(ks_onnx *g, const char *op, const char *a, const char *b, const char *out)
{
    const char *in[2] = {a, b};
    return ks_onnx_node(g, op, in, 2, &out, 1);
}

/* A new attribute of node, or NULL.  Attributes are few: the array is copied to grow. */
static onnx_attr *add_attr(ks_onnx *g, int node, const char *name, attr_type type)
{
    onnx_node *nd;
    onnx_attr *a;
    if (g->status != KS_OK || node < 0)
        return NULL;
    if (node >= g->n_nodes) {
        fail(g, KS_ERR_INTERNAL);
        return NULL;
    }
    nd = &g->nodes[node];
    if (!(a = arena(g, (size_t)(nd->n_attr + 1) * sizeof *a)))
        return NULL;
    if (nd->n_attr)
        memcpy(a, nd->attr, (size_t)nd->n_attr * sizeof *a);
    nd->attr = a;
    a = &nd->attr[nd->n_attr];
    memset(a, 0, sizeof *a);
    a->type = type;
    if (!(a->name = copy_str(g, name)))
        return NULL;
    nd->n_attr++;
    return a;
}

void ks_onnx_attr_int(ks_onnx *g, int node, const char *name, int64_t v)
{
    onnx_attr *a = add_attr(g, node, name, AT_INT);
    if (a)
        a->i = v;
}

void ks_onnx_attr_float(ks_onnx *g, int node, const char *name, float v)
{
    onnx_attr *a = add_attr(g, node, name, AT_FLOAT);
    if (a)
        a->f = v;
}

void ks_onnx_attr_string(ks_onnx *g, int node, const char *name, const char *v)
{
    onnx_attr *a = add_attr(g, node, name, AT_STRING);
    if (a)
        a->s = copy_str(g, v);
}

void ks_onnx_attr_ints(ks_onnx *g, int node, const char *name, const int64_t *v, int n)
{
    onnx_attr *a = add_attr(g, node, name, AT_INTS);
    int64_t *copy;
    if (!a)
        return;
    if (n < 0 || !(copy = arena(g, (size_t)(n > 0 ? n : 1) * sizeof *copy))) {
        fail(g, KS_ERR_INTERNAL);
        return;
    }
    if (n)
        memcpy(copy, v, (size_t)n * sizeof *copy);
    a->ints = copy;
    a->n_ints = n;
}

/* ------------------------------------------------------- initializers */

/* Append an initializer; data NULL: allocate it in the arena.  Returns it, or NULL. */
static onnx_init *add_init(ks_onnx *g, const char *name, ks_onnx_dtype dtype, int ndim,
                           const int64_t *dims, const void *data)
{
    onnx_init t = {0};
    int64_t *d;
    size_t width = dtype == KS_ONNX_INT64 ? 8 : 4;
    if (g->status != KS_OK)
        return NULL;
    if (ndim < 0 || ndim > KS_MAX_DIMS + 1) {
        fail(g, KS_ERR_INTERNAL);
        return NULL;
    }
    t.name = copy_str(g, name);
    t.dtype = dtype;
    t.ndim = ndim;
    t.n = 1;
    if (!t.name || !(d = arena(g, (size_t)(ndim ? ndim : 1) * sizeof *d)))
        return NULL;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0 || (dims[i] > 0 && t.n > SIZE_MAX / width / (size_t)dims[i])) {
            fail(g, KS_ERR_INTERNAL);
            return NULL;
        }
        d[i] = dims[i];
        t.n *= (size_t)dims[i];
    }
    t.dims = d;
    t.data = data ? data : arena(g, t.n * width);
    if (!t.data || !grow(g, (void **)&g->inits, g->n_inits, &g->cap_inits, sizeof *g->inits))
        return NULL;
    g->inits[g->n_inits] = t;
    return &g->inits[g->n_inits++];
}

const char *ks_onnx_weight(ks_onnx *g, const ks_layer *l, int w)
{
    const ks_weight *wt;
    int64_t dims[KS_MAX_DIMS];
    const onnx_init *t;
    if (g->status != KS_OK)
        return NULL;
    if (w < 0 || w >= l->n_weights) {
        fail(g, KS_ERR_INTERNAL);
        return NULL;
    }
    wt = &l->weights[w];
    /* a shared layer's later calls read the initializer of its first */
    for (int i = 0; i < g->n_inits; i++)
        if (g->inits[i].data == wt->w && g->inits[i].dtype == KS_ONNX_FLOAT)
            return g->inits[i].name;
    for (int i = 0; i < wt->shape.ndim; i++)
        dims[i] = wt->shape.dim[i];
    t = add_init(g, ks_onnx_name(g, "%s%s", g->prefix, wt->name), KS_ONNX_FLOAT,
                 wt->shape.ndim, dims, wt->w);
    return t ? t->name : NULL;
}

const char *ks_onnx_weight_name(ks_onnx *g, const ks_layer *l, int w)
{
    if (w < 0 || w >= l->n_weights) {
        fail(g, KS_ERR_INTERNAL);
        return NULL;
    }
    return ks_onnx_name(g, "%s%s", g->prefix, l->weights[w].name);
}

int ks_onnx_has_init(const ks_onnx *g, const char *name)
{
    for (int i = 0; name && i < g->n_inits; i++)
        if (strcmp(g->inits[i].name, name) == 0)
            return 1;
    return 0;
}

float *ks_onnx_init_float(ks_onnx *g, const char *name, int ndim, const int64_t *dims)
{
    const onnx_init *t = add_init(g, name, KS_ONNX_FLOAT, ndim, dims, NULL);
    return t ? (float *)t->data : NULL;
}

int64_t *ks_onnx_init_int64(ks_onnx *g, const char *name, int ndim, const int64_t *dims)
{
    const onnx_init *t = add_init(g, name, KS_ONNX_INT64, ndim, dims, NULL);
    return t ? (int64_t *)t->data : NULL;
}

const char *ks_onnx_const_float(ks_onnx *g, const char *name, int ndim, const int64_t *dims,
                                float value)
{
    float *x = ks_onnx_init_float(g, name, ndim, dims);
    if (!x)
        return NULL;
    for (size_t i = 0; i < g->inits[g->n_inits - 1].n; i++)
        x[i] = value;
    return g->inits[g->n_inits - 1].name;
}

const char *ks_onnx_const_shape(ks_onnx *g, const char *name, const int64_t *v, int n)
{
    int64_t dim = n;
    int64_t *x = ks_onnx_init_int64(g, name, 1, &dim);
    if (!x)
        return NULL;
    if (n)
        memcpy(x, v, (size_t)n * sizeof *x);
    return g->inits[g->n_inits - 1].name;
}

/* ------------------------------------------------ graph inputs, outputs */

static void add_io(ks_onnx *g, const char *name, ks_onnx_dtype elem, const ks_shape *shape,
                   int is_output)
{
    onnx_io io;
    io.name = copy_str(g, name);
    io.elem = elem;
    io.shape = *shape;
    io.is_output = is_output;
    if (io.name && grow(g, (void **)&g->io, g->n_io, &g->cap_io, sizeof *g->io))
        g->io[g->n_io++] = io;
}

void ks_onnx_input(ks_onnx *g, const char *name, ks_onnx_dtype elem, const ks_shape *shape)
{
    add_io(g, name, elem, shape, 0);
}

void ks_onnx_output(ks_onnx *g, const char *name, ks_onnx_dtype elem, const ks_shape *shape)
{
    add_io(g, name, elem, shape, 1);
}

int ks_onnx_rename(ks_onnx *g, const char *from, const char *to)
{
    const char *copy;
    int made = 0;
    if (g->status != KS_OK || !from)
        return 0;
    for (int i = 0; i < g->n_nodes && !made; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++)
            made |= strcmp(g->nodes[i].out[k], from) == 0;
    if (!made || !(copy = copy_str(g, to)))
        return 0;
    for (int i = 0; i < g->n_nodes; i++) {
        onnx_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_in; k++)
            if (strcmp(nd->in[k], from) == 0)
                nd->in[k] = copy;
        for (int k = 0; k < nd->n_out; k++)
            if (nd->out[k] != copy && strcmp(nd->out[k], from) == 0)
                nd->out[k] = copy;
    }
    return 1;
}

void ks_onnx_meta(ks_onnx *g, const char *key, const char *value)
{
    onnx_meta m;
    m.key = copy_str(g, key);
    m.value = copy_str(g, value);
    if (m.key && m.value && grow(g, (void **)&g->meta, g->n_meta, &g->cap_meta, sizeof m))
        g->meta[g->n_meta++] = m;
}

/* ------------------------------------------------------------ checks */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Every tensor defined once (graph inputs, initializers, node outputs), and every node
 * input and graph output defined.
 */
static ks_status check_names(const ks_onnx *g, ks_error *err)
{
    size_t n = (size_t)g->n_io + (size_t)g->n_inits, j = 0;
    const char **all;
    ks_status s = KS_OK;
    for (int i = 0; i < g->n_nodes; i++)
        n += (size_t)g->nodes[i].n_out;
    if (!(all = malloc((n ? n : 1) * sizeof *all)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < g->n_io; i++)
        if (!g->io[i].is_output)
            all[j++] = g->io[i].name;
    for (int i = 0; i < g->n_inits; i++)
        all[j++] = g->inits[i].name;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_out; k++)
            if (g->nodes[i].out[k][0])
                all[j++] = g->nodes[i].out[k];
    qsort(all, j, sizeof *all, cmp_str);
    for (size_t i = 1; i < j && s == KS_OK; i++)
        if (strcmp(all[i - 1], all[i]) == 0)
            s = ks_error_set(err, KS_ERR_CONFIG,
                             "two tensors of the ONNX graph would be named \"%s\"; rename the "
                             "layer whose name makes it",
                             all[i]);
    for (int i = 0; i < g->n_nodes && s == KS_OK; i++)
        for (int k = 0; k < g->nodes[i].n_in && s == KS_OK; k++) {
            const char *name = g->nodes[i].in[k];
            if (name[0] && !bsearch(&name, all, j, sizeof *all, cmp_str))
                s = ks_error_set(err, KS_ERR_INTERNAL,
                                 "the ONNX node making \"%s\" reads \"%s\", which nothing makes",
                                 g->nodes[i].out[0], name);
        }
    for (int i = 0; i < g->n_io && s == KS_OK; i++)
        if (g->io[i].is_output && !bsearch(&g->io[i].name, all, j, sizeof *all, cmp_str))
            s = ks_error_set(err, KS_ERR_INTERNAL, "the ONNX graph output \"%s\" is never made",
                             g->io[i].name);
    free(all);
    return s;
}

/* -------------------------------------------------------- serialize */

static void put_value_info(ks_pb_buf *b, int field, const onnx_io *io)
{
    size_t vi = ks_pb_begin(b, field), ty, tt, sh, d;
    ks_pb_string(b, VALUE_INFO_NAME, io->name);
    ty = ks_pb_begin(b, VALUE_INFO_TYPE);
    tt = ks_pb_begin(b, TYPE_TENSOR_TYPE);
    ks_pb_int(b, TENSOR_TYPE_ELEM_TYPE, io->elem);
    sh = ks_pb_begin(b, TENSOR_TYPE_SHAPE);
    d = ks_pb_begin(b, SHAPE_DIM);
    ks_pb_string(b, DIM_PARAM, BATCH_DIM);
    ks_pb_end(b, d);
    for (int i = 0; i < io->shape.ndim; i++) {
        d = ks_pb_begin(b, SHAPE_DIM);
        ks_pb_int(b, DIM_VALUE, io->shape.dim[i]);
        ks_pb_end(b, d);
    }
    ks_pb_end(b, sh);
    ks_pb_end(b, tt);
    ks_pb_end(b, ty);
    ks_pb_end(b, vi);
}

static void put_init(ks_pb_buf *b, const onnx_init *t)
{
    size_t mark = ks_pb_begin(b, GRAPH_INITIALIZER);
    for (int i = 0; i < t->ndim; i++)
        ks_pb_int(b, TENSOR_DIMS, t->dims[i]);
    ks_pb_int(b, TENSOR_DATA_TYPE, t->dtype);
    ks_pb_string(b, TENSOR_NAME, t->name);
    if (t->dtype == KS_ONNX_FLOAT) {
        ks_pb_packed_float(b, TENSOR_RAW_DATA, t->data, t->n);
    } else {
        const int64_t *v = t->data;
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

static void put_attr(ks_pb_buf *b, const onnx_attr *a)
{
    size_t mark = ks_pb_begin(b, NODE_ATTRIBUTE);
    ks_pb_string(b, ATTR_NAME, a->name);
    switch (a->type) {
    case AT_FLOAT:
        ks_pb_float(b, ATTR_F, a->f);
        break;
    case AT_INT:
        ks_pb_int(b, ATTR_I, a->i);
        break;
    case AT_STRING:
        ks_pb_string(b, ATTR_S, a->s);
        break;
    case AT_INTS:
        for (int k = 0; k < a->n_ints; k++)
            ks_pb_int(b, ATTR_INTS, a->ints[k]);
        break;
    }
    ks_pb_int(b, ATTR_TYPE, a->type);
    ks_pb_end(b, mark);
}

static void put_node(ks_pb_buf *b, const onnx_node *nd)
{
    size_t mark = ks_pb_begin(b, GRAPH_NODE);
    for (int k = 0; k < nd->n_in; k++)
        ks_pb_string(b, NODE_INPUT, nd->in[k]);
    for (int k = 0; k < nd->n_out; k++)
        ks_pb_string(b, NODE_OUTPUT, nd->out[k]);
    ks_pb_string(b, NODE_NAME, nd->out[0]);
    ks_pb_string(b, NODE_OP_TYPE, nd->op);
    for (int a = 0; a < nd->n_attr; a++)
        put_attr(b, &nd->attr[a]);
    ks_pb_end(b, mark);
}

ks_status ks_onnx_encode(const ks_onnx *g, const char *graph_name, unsigned char **out,
                         size_t *len, ks_error *err)
{
    ks_pb_buf b = {0};
    size_t graph, mark;
    ks_status s;
    *out = NULL;
    *len = 0;
    if (g->status != KS_OK)
        return ks_error_set(err, g->status, g->status == KS_ERR_NOMEM
                                                ? "out of memory"
                                                : "the ONNX graph could not be built");
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
    for (int i = 0; i < g->n_io; i++)
        if (!g->io[i].is_output)
            put_value_info(&b, GRAPH_INPUT, &g->io[i]);
    for (int i = 0; i < g->n_io; i++)
        if (g->io[i].is_output)
            put_value_info(&b, GRAPH_OUTPUT, &g->io[i]);
    ks_pb_end(&b, graph);
    mark = ks_pb_begin(&b, MODEL_OPSET_IMPORT);
    ks_pb_string(&b, OPSET_DOMAIN, "");
    ks_pb_int(&b, OPSET_VERSION, KS_ONNX_OPSET);
    ks_pb_end(&b, mark);
    for (int i = 0; i < g->n_meta; i++) {
        mark = ks_pb_begin(&b, MODEL_METADATA_PROPS);
        ks_pb_string(&b, ENTRY_KEY, g->meta[i].key);
        ks_pb_string(&b, ENTRY_VALUE, g->meta[i].value);
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
