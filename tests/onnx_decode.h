/*
 * onnx_decode.h — for tests/test_onnx.c: an ONNX protobuf decoder written from
 * onnx/onnx.proto, independent of the exporter's code, and a small reference
 * interpreter (in doubles) for the ops the exporter writes.
 */
#ifndef KS_TEST_ONNX_DECODE_H
#define KS_TEST_ONNX_DECODE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#define MAX_NODES 96
#define MAX_INITS 96
#define MAX_IN 8
#define MAX_OUT 4
#define MAX_IO 4
#define MAX_META 4
#define NAME 160

/* ---------------------------------------------------------- the decoder */

typedef struct field {
    int num, wire;
    uint64_t v;                 /* VARINT, I32, I64 */
    const uint8_t *p;           /* LEN */
    size_t n;
} field;

/* Next field of [*p, end): 1, 0 at the end, -1 if malformed. */
static int next_field(const uint8_t **p, const uint8_t *end, field *f)
{
    uint64_t key = 0, len = 0;
    int shift = 0;
    if (*p >= end)
        return 0;
    do {
        if (*p >= end || shift > 63)
            return -1;
        key |= (uint64_t)(**p & 0x7f) << shift;
        shift += 7;
    } while (*(*p)++ & 0x80);
    f->num = (int)(key >> 3);
    f->wire = (int)(key & 7);
    f->p = NULL;
    f->n = 0;
    f->v = 0;
    switch (f->wire) {
    case 0:
        shift = 0;
        do {
            if (*p >= end || shift > 63)
                return -1;
            f->v |= (uint64_t)(**p & 0x7f) << shift;
            shift += 7;
        } while (*(*p)++ & 0x80);
        return 1;
    case 1:
    case 5: {
        int nb = f->wire == 1 ? 8 : 4;
        if (end - *p < nb)
            return -1;
        for (int i = 0; i < nb; i++)
            f->v |= (uint64_t)(*p)[i] << (8 * i);
        *p += nb;
        return 1;
    }
    case 2:
        shift = 0;
        do {
            if (*p >= end || shift > 63)
                return -1;
            len |= (uint64_t)(**p & 0x7f) << shift;
            shift += 7;
        } while (*(*p)++ & 0x80);
        if (len > (uint64_t)(end - *p))
            return -1;
        f->p = *p;
        f->n = (size_t)len;
        *p += len;
        return 1;
    default:
        return -1;
    }
}

static void copy_str(char *dst, size_t size, const field *f)
{
    size_t n = f->n < size - 1 ? f->n : size - 1;
    memcpy(dst, f->p, n);
    dst[n] = '\0';
}

static float f32_of(uint64_t bits)
{
    uint32_t u = (uint32_t)bits;
    float x;
    memcpy(&x, &u, 4);
    return x;
}

typedef struct t_attr {
    char name[32];
    int type;
    float f;
    int64_t i;
    char s[64];
    int64_t ints[8];
    int n_ints;
} t_attr;

typedef struct t_node {
    char op[32], name[NAME];
    char out[MAX_OUT][NAME];
    char in[MAX_IN][NAME];
    int n_in, n_out;
    t_attr attr[8];
    int n_attr;
} t_node;

typedef struct t_tensor {
    char name[NAME];
    int dtype, ndim;
    int64_t dims[8];
    const uint8_t *raw;
    size_t raw_n;
} t_tensor;

typedef struct t_value_info {
    char name[NAME];
    int elem, ndim;
    char param[8][16];          /* dim_param, "" when dim_value */
    int64_t value[8];
} t_value_info;

typedef struct t_model {
    int64_t ir_version, opset_version;
    int n_opset, opset_domain_empty;
    char producer[32], graph_name[64], scale[32];
    t_node nodes[MAX_NODES];
    int n_nodes;
    t_tensor inits[MAX_INITS];
    int n_inits;
    t_value_info inputs[MAX_IO], outputs[MAX_IO];
    int n_inputs, n_outputs;
    char meta_key[MAX_META][32], meta_value[MAX_META][64];
    int n_meta;
} t_model;

static int decode_node(const field *g, t_node *nd)
{
    const uint8_t *p = g->p, *end = g->p + g->n;
    field f;
    int r;
    memset(nd, 0, sizeof *nd);
    while ((r = next_field(&p, end, &f)) > 0) {
        if (f.num == 1 && f.wire == 2 && nd->n_in < MAX_IN)
            copy_str(nd->in[nd->n_in++], NAME, &f);
        else if (f.num == 2 && f.wire == 2 && nd->n_out < MAX_OUT)
            copy_str(nd->out[nd->n_out++], NAME, &f);
        else if (f.num == 3 && f.wire == 2)
            copy_str(nd->name, NAME, &f);
        else if (f.num == 4 && f.wire == 2)
            copy_str(nd->op, sizeof nd->op, &f);
        else if (f.num == 5 && f.wire == 2 && nd->n_attr < 8) {
            t_attr *a = &nd->attr[nd->n_attr++];
            const uint8_t *q = f.p, *qe = f.p + f.n;
            field h;
            while ((r = next_field(&q, qe, &h)) > 0) {
                if (h.num == 1 && h.wire == 2)
                    copy_str(a->name, sizeof a->name, &h);
                else if (h.num == 20 && h.wire == 0)
                    a->type = (int)h.v;
                else if (h.num == 2 && h.wire == 5)
                    a->f = f32_of(h.v);
                else if (h.num == 3 && h.wire == 0)
                    a->i = (int64_t)h.v;
                else if (h.num == 4 && h.wire == 2)
                    copy_str(a->s, sizeof a->s, &h);
                else if (h.num == 8 && h.wire == 0 && a->n_ints < 8)
                    a->ints[a->n_ints++] = (int64_t)h.v;
                else if (h.num == 8 && h.wire == 2) {   /* packed, as a proto3 writer would */
                    const uint8_t *v = h.p, *ve = h.p + h.n;
                    while (v < ve && a->n_ints < 8) {
                        uint64_t x = 0;
                        int sh = 0;
                        do {
                            if (v >= ve || sh > 63)
                                return -1;
                            x |= (uint64_t)(*v & 0x7f) << sh;
                            sh += 7;
                        } while (*v++ & 0x80);
                        a->ints[a->n_ints++] = (int64_t)x;
                    }
                }
            }
            if (r < 0)
                return -1;
        }
    }
    return r;
}

static int decode_tensor(const field *g, t_tensor *t)
{
    const uint8_t *p = g->p, *end = g->p + g->n;
    field f;
    int r;
    memset(t, 0, sizeof *t);
    while ((r = next_field(&p, end, &f)) > 0) {
        if (f.num == 1 && f.wire == 0 && t->ndim < 8)
            t->dims[t->ndim++] = (int64_t)f.v;
        else if (f.num == 2 && f.wire == 0)
            t->dtype = (int)f.v;
        else if (f.num == 8 && f.wire == 2)
            copy_str(t->name, NAME, &f);
        else if (f.num == 9 && f.wire == 2)
            t->raw = f.p, t->raw_n = f.n;
    }
    return r;
}

/* ValueInfoProto → TypeProto.tensor_type → shape → dims */
static int decode_value_info(const field *g, t_value_info *v)
{
    const uint8_t *p = g->p, *end = g->p + g->n;
    field f, t, tt, sh, d;
    int r;
    memset(v, 0, sizeof *v);
    while ((r = next_field(&p, end, &f)) > 0) {
        if (f.num == 1 && f.wire == 2)
            copy_str(v->name, NAME, &f);
        if (!(f.num == 2 && f.wire == 2))
            continue;
        for (const uint8_t *q = f.p; next_field(&q, f.p + f.n, &t) > 0;) {
            if (t.num != 1 || t.wire != 2)
                continue;
            for (const uint8_t *s = t.p; next_field(&s, t.p + t.n, &tt) > 0;) {
                if (tt.num == 1 && tt.wire == 0)
                    v->elem = (int)tt.v;
                if (tt.num != 2 || tt.wire != 2)
                    continue;
                for (const uint8_t *u = tt.p; next_field(&u, tt.p + tt.n, &sh) > 0;) {
                    if (sh.num != 1 || sh.wire != 2 || v->ndim >= 8)
                        continue;
                    for (const uint8_t *w = sh.p; next_field(&w, sh.p + sh.n, &d) > 0;) {
                        if (d.num == 1 && d.wire == 0)
                            v->value[v->ndim] = (int64_t)d.v;
                        else if (d.num == 2 && d.wire == 2)
                            copy_str(v->param[v->ndim], sizeof v->param[0], &d);
                    }
                    v->ndim++;
                }
            }
        }
    }
    return r;
}

static int decode_model(const uint8_t *buf, size_t len, t_model *m)
{
    const uint8_t *p = buf, *end = buf + len;
    field f, g;
    int r;
    memset(m, 0, sizeof *m);
    while ((r = next_field(&p, end, &f)) > 0) {
        if (f.num == 1 && f.wire == 0) {
            m->ir_version = (int64_t)f.v;
        } else if (f.num == 2 && f.wire == 2) {
            copy_str(m->producer, sizeof m->producer, &f);
        } else if (f.num == 8 && f.wire == 2) {
            const uint8_t *q = f.p;
            m->n_opset++;
            m->opset_domain_empty = 1;
            while (next_field(&q, f.p + f.n, &g) > 0) {
                if (g.num == 1 && g.wire == 2 && g.n > 0)
                    m->opset_domain_empty = 0;
                if (g.num == 2 && g.wire == 0)
                    m->opset_version = (int64_t)g.v;
            }
        } else if (f.num == 14 && f.wire == 2 && m->n_meta < MAX_META) {
            const uint8_t *q = f.p;
            char *key = m->meta_key[m->n_meta], *value = m->meta_value[m->n_meta++];
            while (next_field(&q, f.p + f.n, &g) > 0) {
                if (g.num == 1 && g.wire == 2)
                    copy_str(key, sizeof m->meta_key[0], &g);
                if (g.num == 2 && g.wire == 2)
                    copy_str(value, sizeof m->meta_value[0], &g);
            }
            if (strcmp(key, "input_scale") == 0)
                snprintf(m->scale, sizeof m->scale, "%s", value);
        } else if (f.num == 7 && f.wire == 2) {
            const uint8_t *q = f.p;
            while ((r = next_field(&q, f.p + f.n, &g)) > 0) {
                if (g.num == 1 && g.wire == 2 && m->n_nodes < MAX_NODES) {
                    if (decode_node(&g, &m->nodes[m->n_nodes++]) < 0)
                        return -1;
                } else if (g.num == 2 && g.wire == 2) {
                    copy_str(m->graph_name, sizeof m->graph_name, &g);
                } else if (g.num == 5 && g.wire == 2 && m->n_inits < MAX_INITS) {
                    if (decode_tensor(&g, &m->inits[m->n_inits++]) < 0)
                        return -1;
                } else if (g.num == 11 && g.wire == 2 && m->n_inputs < MAX_IO) {
                    if (decode_value_info(&g, &m->inputs[m->n_inputs++]) < 0)
                        return -1;
                } else if (g.num == 12 && g.wire == 2 && m->n_outputs < MAX_IO) {
                    if (decode_value_info(&g, &m->outputs[m->n_outputs++]) < 0)
                        return -1;
                }
            }
            if (r < 0)
                return -1;
        }
    }
    return r;
}

static const t_tensor *find_init(const t_model *m, const char *name)
{
    for (int i = 0; i < m->n_inits; i++)
        if (strcmp(m->inits[i].name, name) == 0)
            return &m->inits[i];
    return NULL;
}

static const t_attr *find_attr(const t_node *nd, const char *name)
{
    for (int i = 0; i < nd->n_attr; i++)
        if (strcmp(nd->attr[i].name, name) == 0)
            return &nd->attr[i];
    return NULL;
}

static float raw_float(const t_tensor *t, size_t i)
{
    const uint8_t *b = t->raw + 4 * i;
    return f32_of((uint64_t)b[0] | (uint64_t)b[1] << 8 | (uint64_t)b[2] << 16 |
                  (uint64_t)b[3] << 24);
}

static int64_t raw_int64(const t_tensor *t, size_t i)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v |= (uint64_t)t->raw[8 * i + k] << (8 * k);
    return (int64_t)v;
}

/* ------------------------------------------------------ the interpreter */

typedef struct t_val {
    char name[NAME];
    int ndim;
    int64_t dims[8];
    size_t n;
    double *x;
} t_val;

typedef struct t_env {
    t_val v[MAX_NODES + MAX_INITS + 1];
    int n;
} t_env;

static t_val *env_get(t_env *e, const char *name)
{
    for (int i = 0; i < e->n; i++)
        if (strcmp(e->v[i].name, name) == 0)
            return &e->v[i];
    return NULL;
}

static t_val *env_new(t_env *e, const char *name, int ndim, const int64_t *dims)
{
    t_val *v = &e->v[e->n++];
    snprintf(v->name, NAME, "%s", name);
    v->ndim = ndim;
    v->n = 1;
    for (int i = 0; i < ndim; i++)
        v->dims[i] = dims[i], v->n *= (size_t)dims[i];
    v->x = calloc(v->n ? v->n : 1, sizeof *v->x);
    return v;
}

static void env_free(t_env *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->v[i].x);
    e->n = 0;
}

static double act1(const char *op, const t_node *nd, double z, int *ok)
{
    const t_attr *a = find_attr(nd, "alpha"), *g = find_attr(nd, "gamma");
    if (strcmp(op, "Relu") == 0)
        return z > 0 ? z : 0;
    if (strcmp(op, "Sigmoid") == 0)
        return 1 / (1 + exp(-z));
    if (strcmp(op, "Tanh") == 0)
        return tanh(z);
    if (strcmp(op, "Softplus") == 0)
        return log1p(exp(z));
    if (strcmp(op, "Log") == 0)
        return log(z);
    if (strcmp(op, "Identity") == 0)
        return z;
    if (strcmp(op, "Elu") == 0)
        return z > 0 ? z : (a ? a->f : 1.0) * expm1(z);
    if (strcmp(op, "Selu") == 0)
        return (g ? g->f : 1.0507) * (z > 0 ? z : (a ? a->f : 1.6733) * expm1(z));
    *ok = 0;
    return 0;
}

/* Run the graph on x (rows × the input shape); 0 on success, else a message. */
static const char *run_graph(const t_model *m, const float *x, int rows, t_env *e, t_val **out)
{
    int64_t dims[8];
    t_val *v;
    e->n = 0;
    dims[0] = rows;
    for (int i = 1; i < m->inputs[0].ndim; i++)
        dims[i] = m->inputs[0].value[i];
    v = env_new(e, "input", m->inputs[0].ndim, dims);
    for (size_t i = 0; i < v->n; i++)
        v->x[i] = x[i];
    for (int i = 0; i < m->n_inits; i++) {
        const t_tensor *t = &m->inits[i];
        v = env_new(e, t->name, t->ndim, t->dims);
        if (t->raw_n != v->n * (t->dtype == 7 ? 8 : 4))
            return "initializer size";
        for (size_t k = 0; k < v->n; k++)
            v->x[k] = t->dtype == 7 ? (double)raw_int64(t, k) : raw_float(t, k);
    }
    for (int ni = 0; ni < m->n_nodes; ni++) {
        const t_node *nd = &m->nodes[ni];
        t_val *in[MAX_IN], *y;
        int ok = 1;
        for (int k = 0; k < nd->n_in; k++)
            if (!(in[k] = env_get(e, nd->in[k])))
                return "a node reads a tensor not yet defined";
        if (nd->n_in < 1 || nd->n_out != 1 || env_get(e, nd->out[0]))
            return "bad node";
        if (strcmp(nd->op, "Flatten") == 0) {
            const t_attr *a = find_attr(nd, "axis");
            if (a && a->i != 1)
                return "Flatten axis";
            dims[0] = in[0]->dims[0];
            dims[1] = (int64_t)(in[0]->n / (size_t)dims[0]);
            y = env_new(e, nd->out[0], 2, dims);
            memcpy(y->x, in[0]->x, y->n * sizeof *y->x);
        } else if (strcmp(nd->op, "Reshape") == 0) {
            size_t known = 1;
            int free_at = -1, nd_ = (int)in[1]->n;
            for (int k = 0; k < nd_; k++) {
                dims[k] = (int64_t)in[1]->x[k];
                if (dims[k] == 0)
                    dims[k] = in[0]->dims[k];
                if (dims[k] == -1)
                    free_at = k;
                else
                    known *= (size_t)dims[k];
            }
            if (free_at >= 0)
                dims[free_at] = (int64_t)(in[0]->n / known);
            y = env_new(e, nd->out[0], nd_, dims);
            if (y->n != in[0]->n)
                return "Reshape size";
            memcpy(y->x, in[0]->x, y->n * sizeof *y->x);
        } else if (strcmp(nd->op, "Gemm") == 0) {
            int64_t r = in[0]->dims[0], kk = in[0]->dims[1], u = in[1]->dims[1];
            if (nd->n_attr || in[0]->ndim != 2 || in[1]->ndim != 2 || in[1]->dims[0] != kk ||
                (nd->n_in == 3 && (in[2]->ndim != 1 || in[2]->dims[0] != u)))
                return "Gemm shapes";
            dims[0] = r, dims[1] = u;
            y = env_new(e, nd->out[0], 2, dims);
            for (int64_t a = 0; a < r; a++)
                for (int64_t b = 0; b < u; b++) {
                    double s = nd->n_in == 3 ? in[2]->x[b] : 0;
                    for (int64_t c = 0; c < kk; c++)
                        s += in[0]->x[a * kk + c] * in[1]->x[c * u + b];
                    y->x[a * u + b] = s;
                }
        } else if (strcmp(nd->op, "BatchNormalization") == 0) {
            const t_attr *a = find_attr(nd, "epsilon");
            int64_t c = in[0]->dims[1];
            if (in[0]->ndim != 2 || nd->n_in != 5)
                return "BatchNormalization input";
            for (int k = 1; k < 5; k++)
                if (in[k]->n != (size_t)c)
                    return "BatchNormalization: parameters do not match the channels";
            y = env_new(e, nd->out[0], 2, in[0]->dims);
            for (size_t k = 0; k < y->n; k++) {
                size_t j = k % (size_t)c;
                y->x[k] = (in[0]->x[k] - in[3]->x[j]) / sqrt(in[4]->x[j] + (a ? a->f : 1e-5)) *
                              in[1]->x[j] + in[2]->x[j];
            }
        } else if (strcmp(nd->op, "Softmax") == 0) {
            const t_attr *a = find_attr(nd, "axis");
            int64_t w = in[0]->dims[in[0]->ndim - 1];
            if (a && a->i != -1 && a->i != in[0]->ndim - 1)
                return "Softmax axis";
            y = env_new(e, nd->out[0], in[0]->ndim, in[0]->dims);
            for (size_t r = 0; r < y->n; r += (size_t)w) {
                double mx = -INFINITY, z = 0;
                for (int64_t k = 0; k < w; k++)
                    mx = fmax(mx, in[0]->x[r + k]);
                for (int64_t k = 0; k < w; k++)
                    z += exp(in[0]->x[r + k] - mx);
                for (int64_t k = 0; k < w; k++)
                    y->x[r + k] = exp(in[0]->x[r + k] - mx) / z;
            }
        } else if (strcmp(nd->op, "Mul") == 0 || strcmp(nd->op, "Sub") == 0) {
            /* equal shapes or one side a scalar */
            const t_val *big = in[0]->n >= in[1]->n ? in[0] : in[1];
            if (in[0]->n != in[1]->n && in[0]->n != 1 && in[1]->n != 1)
                return "broadcast";
            y = env_new(e, nd->out[0], big->ndim, big->dims);
            for (size_t k = 0; k < y->n; k++) {
                double a = in[0]->x[in[0]->n == 1 ? 0 : k], b = in[1]->x[in[1]->n == 1 ? 0 : k];
                y->x[k] = nd->op[0] == 'M' ? a * b : a - b;
            }
        } else if (strcmp(nd->op, "Sum") == 0) {
            y = env_new(e, nd->out[0], in[0]->ndim, in[0]->dims);
            for (int k = 0; k < nd->n_in; k++) {
                if (in[k]->n != y->n)
                    return "Sum shapes";
                for (size_t j = 0; j < y->n; j++)
                    y->x[j] += in[k]->x[j];
            }
        } else if (strcmp(nd->op, "Clip") == 0) {
            if (nd->n_in != 3 || in[1]->n != 1 || in[2]->n != 1)
                return "Clip bounds";
            y = env_new(e, nd->out[0], in[0]->ndim, in[0]->dims);
            for (size_t k = 0; k < y->n; k++)
                y->x[k] = fmin(fmax(in[0]->x[k], in[1]->x[0]), in[2]->x[0]);
        } else {
            y = env_new(e, nd->out[0], in[0]->ndim, in[0]->dims);
            for (size_t k = 0; k < y->n && ok; k++)
                y->x[k] = act1(nd->op, nd, in[0]->x[k], &ok);
            if (!ok)
                return "an op the interpreter does not know";
        }
    }
    if (!(*out = env_get(e, "output")))
        return "no tensor named output";
    return NULL;
}

#endif
