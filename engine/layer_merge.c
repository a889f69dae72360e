/*
 * layer_merge.c — Keras's merge layers: Concatenate(axis) joins its inputs along an
 * axis; Add, Subtract (exactly two inputs), Multiply, Average, Maximum and Minimum
 * combine them element by element.  The element-wise kinds broadcast as Keras does
 * where inputs have the same rank: an axis of size 1 stretches to the others' size.
 * Each lowers itself to ONNX (Concat, Add/Sum, Sub, Mul, Mean, Max, Min).
 */
#include "engine_impl.h"

#include <string.h>

/* What the element-wise kinds compute. */
typedef enum merge_op { OP_ADD, OP_SUBTRACT, OP_MULTIPLY, OP_AVERAGE, OP_MAXIMUM, OP_MINIMUM } merge_op;

typedef struct merge_state {
    int unused;                 /* no Keras arguments */
    /* derived at build */
    int broadcast;              /* some input is smaller than the output */
    int rank;
    int dims[KS_MAX_DIMS];      /* the output's per-sample shape */
    size_t stride[KS_MAX_INPUTS][KS_MAX_DIMS];  /* per input; 0 along a stretched axis */
} merge_state;

static const ks_key no_keys[] = {{NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static const char *in_name(const ks_layer *l, int k)
{
    return l->in_name[k] ? l->in_name[k] : "?";
}

/* ----------------------------------------------------------- element-wise */

static ks_status elementwise_build(ks_layer *l, const char *cls, int exactly_two,
                                   ks_error *err)
{
    merge_state *st = l->state;
    ks_shape out;
    char a[64], b[64];
    if (l->n_in < 1 || (exactly_two && l->n_in != 2))
        return ks_error_set(err, KS_ERR_CONFIG, "%s takes %s inputs, got %d", cls,
                            exactly_two ? "exactly 2" : "at least 1", l->n_in);
    out = l->in_shape[0];
    for (int k = 1; k < l->n_in; k++) {
        const ks_shape *s = &l->in_shape[k];
        int ok = s->ndim == out.ndim;
        for (int d = 0; ok && d < s->ndim; d++) {
            if (s->dim[d] == out.dim[d] || s->dim[d] == 1)
                continue;
            if (out.dim[d] == 1)
                out.dim[d] = s->dim[d];
            else
                ok = 0;
        }
        if (!ok)
            return ks_error_set(err, KS_ERR_SHAPE,
                                "%s needs inputs of one shape (an axis may have size 1 to "
                                "stretch), got %s from \"%s\" and %s from \"%s\"",
                                cls, ks_shape_str(&l->in_shape[0], a, sizeof a), in_name(l, 0),
                                ks_shape_str(s, b, sizeof b), in_name(l, k));
    }
    l->out_shape = out;
    st->rank = out.ndim;
    st->broadcast = 0;
    memcpy(st->dims, out.dim, sizeof st->dims);
    for (int k = 0; k < l->n_in; k++) {
        size_t stride = 1;
        for (int d = out.ndim - 1; d >= 0; d--) {
            int stretched = l->in_shape[k].dim[d] == 1 && out.dim[d] != 1;
            st->stride[k][d] = stretched ? 0 : stride;
            stride *= (size_t)l->in_shape[k].dim[d];
            st->broadcast |= stretched;
        }
    }
    return KS_OK;
}

#define BUILD(fn, cls, two)                                    \
    static ks_status fn(ks_layer *l, ks_error *err)            \
    {                                                          \
        return elementwise_build(l, cls, two, err);            \
    }
BUILD(add_build, "Add", 0)
BUILD(subtract_build, "Subtract", 1)
BUILD(multiply_build, "Multiply", 0)
BUILD(average_build, "Average", 0)
BUILD(maximum_build, "Maximum", 0)
BUILD(minimum_build, "Minimum", 0)
#undef BUILD

/* Each input's offset for every output element of a sample (broadcasting only). */
static void offsets(const merge_state *st, int n_in, size_t j, size_t *off)
{
    for (int k = 0; k < n_in; k++)
        off[k] = 0;
    for (int d = st->rank - 1; d >= 0; d--) {
        size_t i = j % (size_t)st->dims[d];
        j /= (size_t)st->dims[d];
        for (int k = 0; k < n_in; k++)
            off[k] += i * st->stride[k][d];
    }
}

/* The index of the input holding the max (sign 1) or min (sign -1) of v[0..n). */
static int pick(const float *v, int n, int sign)
{
    int best = 0;
    for (int k = 1; k < n; k++)
        if (sign > 0 ? v[k] > v[best] : v[k] < v[best])
            best = k;
    return best;
}

static float combine(merge_op op, const float *v, int n)
{
    float y = v[0];
    switch (op) {
    case OP_ADD:
    case OP_AVERAGE:
        for (int k = 1; k < n; k++)
            y += v[k];
        return op == OP_AVERAGE ? y / (float)n : y;
    case OP_SUBTRACT:
        return v[0] - v[1];
    case OP_MULTIPLY:
        for (int k = 1; k < n; k++)
            y *= v[k];
        return y;
    case OP_MAXIMUM:
        return v[pick(v, n, 1)];
    case OP_MINIMUM:
        return v[pick(v, n, -1)];
    }
    return y;
}

/* ∂y/∂v[k] for one element. */
static float partial(merge_op op, const float *v, int n, int k)
{
    switch (op) {
    case OP_ADD:
        return 1.0f;
    case OP_AVERAGE:
        return 1.0f / (float)n;
    case OP_SUBTRACT:
        return k == 0 ? 1.0f : -1.0f;
    case OP_MULTIPLY: {
        float p = 1.0f;
        for (int j = 0; j < n; j++)
            if (j != k)
                p *= v[j];
        return p;
    }
    case OP_MAXIMUM:
        return pick(v, n, 1) == k ? 1.0f : 0.0f;
    case OP_MINIMUM:
        return pick(v, n, -1) == k ? 1.0f : 0.0f;
    }
    return 0.0f;
}

static void elementwise_forward(merge_op op, ks_layer *l, const ks_fwd *f)
{
    const merge_state *st = l->state;
    size_t size = l->out_size;
    int n_in = l->n_in;
    float v[KS_MAX_INPUTS];
    if (!st->broadcast) {
        size_t total = (size_t)f->n * size;
        if (op == OP_ADD && n_in == 2) {     /* the residual connection: the common case */
            const float *a = f->x[0], *b = f->x[1];
            for (size_t i = 0; i < total; i++)
                f->y[i] = a[i] + b[i];
            return;
        }
        for (size_t i = 0; i < total; i++) {
            for (int k = 0; k < n_in; k++)
                v[k] = f->x[k][i];
            f->y[i] = combine(op, v, n_in);
        }
        return;
    }
    for (int r = 0; r < f->n; r++)
        for (size_t j = 0; j < size; j++) {
            size_t off[KS_MAX_INPUTS];
            offsets(st, n_in, j, off);
            for (int k = 0; k < n_in; k++)
                v[k] = f->x[k][(size_t)r * l->in_size[k] + off[k]];
            f->y[(size_t)r * size + j] = combine(op, v, n_in);
        }
}

static void elementwise_backward(merge_op op, ks_layer *l, const ks_bwd *b)
{
    const merge_state *st = l->state;
    size_t size = l->out_size;
    int n_in = l->n_in;
    float v[KS_MAX_INPUTS];
    if (!st->broadcast) {
        size_t total = (size_t)b->n * size;
        for (int k = 0; k < n_in; k++) {
            float *dx = b->dx[k];
            if (!dx)
                continue;
            if (op == OP_ADD || op == OP_AVERAGE || op == OP_SUBTRACT) {
                float c = partial(op, v, n_in, k);
                if (c == 1.0f) {
                    ks_accumulate(dx, b->dy, total, b->dx_beta[k]);
                } else if (b->dx_beta[k] == 0.0f) {
                    for (size_t i = 0; i < total; i++)
                        dx[i] = c * b->dy[i];
                } else {
                    for (size_t i = 0; i < total; i++)
                        dx[i] += c * b->dy[i];
                }
                continue;
            }
            for (size_t i = 0; i < total; i++) {
                float g;
                for (int j = 0; j < n_in; j++)
                    v[j] = b->x[j][i];
                g = b->dy[i] * partial(op, v, n_in, k);
                dx[i] = b->dx_beta[k] == 0.0f ? g : dx[i] + g;
            }
        }
        return;
    }
    /* broadcasting: a stretched input sums its gradient over the stretched axes */
    for (int k = 0; k < n_in; k++)
        if (b->dx[k] && b->dx_beta[k] == 0.0f)
            memset(b->dx[k], 0, (size_t)b->n * l->in_size[k] * sizeof(float));
    for (int r = 0; r < b->n; r++)
        for (size_t j = 0; j < size; j++) {
            size_t off[KS_MAX_INPUTS];
            float dy = b->dy[(size_t)r * size + j];
            offsets(st, n_in, j, off);
            for (int k = 0; k < n_in; k++)
                v[k] = b->x[k][(size_t)r * l->in_size[k] + off[k]];
            for (int k = 0; k < n_in; k++)
                if (b->dx[k])
                    b->dx[k][(size_t)r * l->in_size[k] + off[k]] += dy * partial(op, v, n_in, k);
        }
}

/* ONNX: Add/Sum, Sub, Mul (a chain), Mean, Max, Min; their broadcasting is numpy's,
   which covers Keras's stretching of size-1 axes. */
static ks_status elementwise_onnx(merge_op op, const ks_layer *l, ks_onnx *g,
                                  const char *const *in, const char **out)
{
    static const char *const nary[] = {"Sum", "Sub", "Mul", "Mean", "Max", "Min"};
    const char *y = ks_onnx_layer_name(g, l, ":0");
    if (l->n_in == 1) {
        *out = in[0];
    } else if (op == OP_MULTIPLY) {
        const char *acc = in[0];
        for (int k = 1; k < l->n_in; k++) {
            const char *pair[2] = {acc, in[k]};
            const char *o = k + 1 < l->n_in ? ks_onnx_layer_name(g, l, ks_onnx_name(g, "/mul%d:0", k))
                                            : y;
            ks_onnx_node(g, "Mul", pair, 2, &o, 1);
            acc = o;
        }
        *out = y;
    } else {
        const char *opname = op == OP_ADD && l->n_in == 2 ? "Add" : nary[op];
        ks_onnx_node(g, opname, in, l->n_in, &y, 1);
        *out = y;
    }
    return KS_OK;
}

#define KIND(ops_name, cls, op, build_fn)                                          \
    static void op##_fwd(ks_layer *l, const ks_fwd *f)                         \
    {                                                                          \
        elementwise_forward(op, l, f);                                         \
    }                                                                          \
    static void op##_bwd(ks_layer *l, const ks_bwd *b)                         \
    {                                                                          \
        elementwise_backward(op, l, b);                                        \
    }                                                                          \
    static ks_status op##_onnx(const ks_layer *l, ks_onnx *g, const char *const *in, \
                               const char **out, ks_error *err)                \
    {                                                                          \
        (void)err;                                                             \
        return elementwise_onnx(op, l, g, in, out);                            \
    }                                                                          \
    const ks_layer_ops ops_name = {                                            \
        .name = cls,                                                           \
        .keys = no_keys,                                                       \
        .state_size = sizeof(merge_state),                                     \
        .flags = KS_LAYER_MERGE,                                               \
        .build = build_fn,                                                     \
        .forward = op##_fwd,                                                   \
        .backward = op##_bwd,                                                  \
        .onnx = op##_onnx,                                                     \
    };
KIND(ks_layer_add_ops, "Add", OP_ADD, add_build)
KIND(ks_layer_subtract_ops, "Subtract", OP_SUBTRACT, subtract_build)
KIND(ks_layer_multiply_ops, "Multiply", OP_MULTIPLY, multiply_build)
KIND(ks_layer_average_ops, "Average", OP_AVERAGE, average_build)
KIND(ks_layer_maximum_ops, "Maximum", OP_MAXIMUM, maximum_build)
KIND(ks_layer_minimum_ops, "Minimum", OP_MINIMUM, minimum_build)
#undef KIND

/* ------------------------------------------------------------ Concatenate */

typedef struct concat_state {
    int axis;                   /* Keras's, counting the batch axis: -1 is the last */
    /* derived at build */
    size_t outer;               /* elements per sample before the axis */
    size_t inner[KS_MAX_INPUTS];    /* each input's block after it, the axis included */
} concat_state;

static const ks_key concat_keys[] = {
    {"axis", KS_KEY_INT, offsetof(concat_state, axis), 0, -KS_MAX_DIMS - 1, KS_MAX_DIMS, "-1",
     NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status concat_build(ks_layer *l, ks_error *err)
{
    concat_state *st = l->state;
    const ks_shape *s0 = &l->in_shape[0];
    int rank = s0->ndim, a;
    char x[64], y[64];
    if (l->n_in < 1)
        return ks_error_set(err, KS_ERR_CONFIG, "Concatenate takes at least 1 input");
    /* Keras counts the batch axis: axis 1 is the first per-sample axis */
    a = st->axis < 0 ? rank + 1 + st->axis : st->axis;
    if (a <= 0 || a > rank)
        return ks_error_set(err, KS_ERR_SHAPE,
                            "Concatenate: axis %d is %s for inputs of shape %s", st->axis,
                            a == 0 ? "the batch axis, which cannot be joined" : "out of range",
                            ks_shape_str(s0, x, sizeof x));
    a -= 1;     /* per-sample axis */
    l->out_shape = *s0;
    for (int k = 1; k < l->n_in; k++) {
        const ks_shape *s = &l->in_shape[k];
        int ok = s->ndim == rank;
        for (int d = 0; ok && d < rank; d++)
            ok = d == a || s->dim[d] == s0->dim[d];
        if (!ok)
            return ks_error_set(err, KS_ERR_SHAPE,
                                "Concatenate needs inputs of one shape except along axis %d, "
                                "got %s from \"%s\" and %s from \"%s\"",
                                st->axis, ks_shape_str(s0, x, sizeof x), in_name(l, 0),
                                ks_shape_str(s, y, sizeof y), in_name(l, k));
        l->out_shape.dim[a] += s->dim[a];
    }
    st->outer = 1;
    for (int d = 0; d < a; d++)
        st->outer *= (size_t)s0->dim[d];
    for (int k = 0; k < l->n_in; k++)
        st->inner[k] = l->in_size[k] / st->outer;
    return KS_OK;
}

static void concat_forward(ks_layer *l, const ks_fwd *f)
{
    const concat_state *st = l->state;
    size_t rows = (size_t)f->n * st->outer;
    float *y = f->y;
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < l->n_in; k++) {
            memcpy(y, f->x[k] + r * st->inner[k], st->inner[k] * sizeof *y);
            y += st->inner[k];
        }
}

static void concat_backward(ks_layer *l, const ks_bwd *b)
{
    const concat_state *st = l->state;
    size_t rows = (size_t)b->n * st->outer;
    const float *dy = b->dy;
    for (size_t r = 0; r < rows; r++)
        for (int k = 0; k < l->n_in; k++) {
            if (b->dx[k])
                ks_accumulate(b->dx[k] + r * st->inner[k], dy, st->inner[k], b->dx_beta[k]);
            dy += st->inner[k];
        }
}

static ks_status concat_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                             const char **out, ks_error *err)
{
    const concat_state *st = l->state;
    const char *y = ks_onnx_layer_name(g, l, ":0");
    (void)err;
    /* ONNX counts the batch axis as Keras does: the same axis */
    ks_onnx_attr_int(g, ks_onnx_node(g, "Concat", in, l->n_in, &y, 1), "axis", st->axis);
    *out = y;
    return KS_OK;
}

const ks_layer_ops ks_layer_concatenate_ops = {
    .name = "Concatenate",
    .keys = concat_keys,
    .state_size = sizeof(concat_state),
    .flags = KS_LAYER_MERGE,
    .build = concat_build,
    .forward = concat_forward,
    .backward = concat_backward,
    .onnx = concat_onnx,
};
