/*
 * layer_normalization.c — Normalization(axis=-1, mean=None, variance=None, invert=False),
 * as Keras: y = (x − mean) / max(√variance, ε), or x·max(√variance, ε) + mean with invert,
 * per feature of the last axis (axis −1, or its index; Keras's other axes and None are
 * refused with a message).  The statistics
 * are given, or learned by adapt from the training rows of the input that feeds the layer
 * (population mean and variance, as numpy's); either way they are kept in the arguments
 * (so in the config) and in the non-trainable weights mean and variance of the model file.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct norm_state {
    int axis;                   /* -1, or the last axis's index (1-based after the batch) */
    ks_value mean, variance;    /* a number or one per feature; null until adapted */
    int invert;
    /* derived at build */
    int features;               /* values per statistic: the last axis's length */
} norm_state;

static const ks_key norm_keys[] = {
    {"axis", KS_KEY_INT, offsetof(norm_state, axis), 0, -1, KS_MAX_DIMS, "-1", NULL, 0},
    {"mean", KS_KEY_VALUE, offsetof(norm_state, mean), 0, 0, 0, NULL, NULL, 0},
    {"variance", KS_KEY_VALUE, offsetof(norm_state, variance), 0, 0, 0, NULL, NULL, 0},
    {"invert", KS_KEY_BOOL, offsetof(norm_state, invert), 0, 0, 0, "false", NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

/* Keras's floor on the standard deviation: backend.epsilon(). */
#define NORM_STD_FLOOR 1e-7

/* A statistic as given: a number, or a list of 1 or `features` numbers. */
static ks_status check_stat(const ks_value *v, const char *name, int features, ks_error *err)
{
    if (v->kind == KS_VALUE_NULL || v->kind == KS_VALUE_NUMBER)
        return v->kind == KS_VALUE_NUMBER && !isfinite(v->number)
                   ? ks_error_set(err, KS_ERR_CONFIG, "Normalization: %s must be finite", name)
                   : KS_OK;
    if (v->kind != KS_VALUE_LIST || !(v->n == 1 || v->n == (size_t)features))
        return ks_error_set(err, KS_ERR_CONFIG,
                            "Normalization: %s must be a number or a list of %d numbers (one "
                            "per feature of the last axis)",
                            name, features);
    for (size_t i = 0; i < v->n; i++)
        if (v->items[i].kind != KS_VALUE_NUMBER || !isfinite(v->items[i].number) ||
            (name[0] == 'v' && v->items[i].number < 0))
            return ks_error_set(err, KS_ERR_CONFIG,
                                "Normalization: %s entry %zu must be a finite number%s", name, i,
                                name[0] == 'v' ? " >= 0" : "");
    return KS_OK;
}

/* Value k of a statistic (a number broadcasts; lists were checked). */
static double stat_at(const ks_value *v, int k)
{
    if (v->kind == KS_VALUE_NUMBER)
        return v->number;
    return v->items[v->n == 1 ? 0 : k].number;
}

static ks_status norm_build(ks_layer *l, ks_error *err)
{
    norm_state *st = l->state;
    const ks_shape *in = &l->in_shape[0];
    ks_shape c = {1, {1}};
    ks_status s;
    if (st->axis != -1 && st->axis != in->ndim)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "Normalization: axis must be -1 (or %d): one mean and variance per "
                            "feature of the last axis, got %d",
                            in->ndim, st->axis);
    st->features = in->dim[in->ndim - 1];
    if ((st->mean.kind == KS_VALUE_NULL) != (st->variance.kind == KS_VALUE_NULL))
        return ks_error_set(err, KS_ERR_CONFIG,
                            "Normalization: give both mean and variance, or neither (then they "
                            "are learned from the training rows)");
    if ((s = check_stat(&st->mean, "mean", st->features, err)) != KS_OK ||
        (s = check_stat(&st->variance, "variance", st->features, err)) != KS_OK)
        return s;
    if (st->variance.kind == KS_VALUE_NUMBER && st->variance.number < 0)
        return ks_error_set(err, KS_ERR_CONFIG, "Normalization: variance must be >= 0");
    l->out_shape = *in;
    c.dim[0] = st->features;
    ks_layer_add_weight(l, "mean", &c, 0, KS_INIT_ZEROS);
    ks_layer_add_weight(l, "variance", &c, 0, KS_INIT_ONES);
    return KS_OK;
}

/* The weights from the arguments, when given (or adapted). */
static void norm_init_weights(ks_layer *l)
{
    const norm_state *st = l->state;
    if (st->mean.kind == KS_VALUE_NULL)
        return;
    for (int k = 0; k < st->features; k++) {
        l->weights[0].w[k] = (float)stat_at(&st->mean, k);
        l->weights[1].w[k] = (float)stat_at(&st->variance, k);
    }
}

static size_t norm_scratch(const ks_layer *l, int batch)
{
    (void)batch;
    return (size_t)((const norm_state *)l->state)->features;
}

/* The factor each feature's value is multiplied by: 1 / std, or std with invert. */
static void norm_factors(const ks_layer *l, float *f)
{
    const norm_state *st = l->state;
    const float *var = l->weights[1].w;
    for (int k = 0; k < st->features; k++) {
        double sd = sqrt(var[k] > 0.0f ? (double)var[k] : 0.0);
        if (sd < NORM_STD_FLOOR)
            sd = NORM_STD_FLOOR;
        f[k] = (float)(st->invert ? sd : 1.0 / sd);
    }
}

static void norm_forward(ks_layer *l, const ks_fwd *f)
{
    const norm_state *st = l->state;
    const size_t c = (size_t)st->features, len = (size_t)f->n * l->out_size;
    const float *restrict mean = l->weights[0].w, *restrict x = f->x[0];
    float *restrict y = f->y, *restrict fac = f->scratch;
    norm_factors(l, fac);
    if (st->invert) {
        for (size_t i = 0; i < len; i += c)
            for (size_t k = 0; k < c; k++)
                y[i + k] = x[i + k] * fac[k] + mean[k];
    } else {
        for (size_t i = 0; i < len; i += c)
            for (size_t k = 0; k < c; k++)
                y[i + k] = (x[i + k] - mean[k]) * fac[k];
    }
}

static void norm_backward(ks_layer *l, const ks_bwd *b)
{
    const size_t c = (size_t)((const norm_state *)l->state)->features;
    const size_t len = (size_t)b->n * l->out_size;
    float *restrict fac = b->scratch;
    if (!b->dx[0])
        return;
    norm_factors(l, fac);
    for (size_t i = 0; i < len; i += c)
        for (size_t k = 0; k < c; k++)
            b->dy[i + k] *= fac[k];
    ks_accumulate(b->dx[0], b->dy, len, b->dx_beta[0]);
}

static int norm_adapted(const ks_layer *l)
{
    return ((const norm_state *)l->state)->mean.kind != KS_VALUE_NULL;
}

/* The list value of c numbers into *v (replacing it). */
static ks_status put_stats(ks_value *v, const double *x, int c)
{
    ks_value list;
    ks_value_init(&list, KS_VALUE_LIST);
    for (int k = 0; k < c; k++) {
        ks_value *e = ks_value_push(&list, KS_VALUE_NUMBER);
        if (!e) {
            ks_value_free(&list);
            return KS_ERR_NOMEM;
        }
        e->number = (double)(float)x[k];    /* what the weight holds */
    }
    ks_value_free(v);
    *v = list;
    return KS_OK;
}

/* Mean and (population) variance per feature of the training rows, in double, two passes. */
static ks_status norm_adapt(ks_layer *l, const ks_array *rows, size_t n, ks_error *err)
{
    norm_state *st = l->state;
    const size_t c = (size_t)st->features, len = n * rows->size;
    double *mean, *var;
    size_t per;
    ks_status s = KS_OK;
    if (rows->text)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "Normalization adapts on numbers, and its input is text; map text "
                            "categories to numbers with a StringLookup first");
    if (n == 0 || len % c != 0)
        return ks_error_set(err, KS_ERR_CONFIG, "Normalization: no training rows to adapt on");
    per = len / c;
    if (!(mean = calloc(2 * c, sizeof *mean)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    var = mean + c;
    for (size_t i = 0; i < len; i += c)
        for (size_t k = 0; k < c; k++)
            mean[k] += rows->data[i + k];
    for (size_t k = 0; k < c; k++)
        mean[k] /= (double)per;
    for (size_t i = 0; i < len; i += c)
        for (size_t k = 0; k < c; k++) {
            double d = rows->data[i + k] - mean[k];
            var[k] += d * d;
        }
    for (size_t k = 0; k < c; k++)
        var[k] /= (double)per;
    if (put_stats(&st->mean, mean, (int)c) != KS_OK ||
        put_stats(&st->variance, var, (int)c) != KS_OK)
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    free(mean);
    if (s == KS_OK)
        norm_init_weights(l);
    return s;
}

/*
 * ONNX: Sub mean, then Div by the floored standard deviation (invert: Mul by it, then Add
 * mean); the standard deviation is an initializer computed from the variance.
 */
static ks_status norm_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                           const char **out, ks_error *err)
{
    const norm_state *st = l->state;
    int64_t dims[1] = {st->features};
    const char *sd_name = ks_onnx_layer_name(g, l, "/std");
    const char *x[2], *mid = ks_onnx_layer_name(g, l, st->invert ? "/scaled:0" : "/centered:0");
    float *sd = sd_name ? ks_onnx_init_float(g, sd_name, 1, dims) : NULL;
    (void)err;
    for (int k = 0; sd && k < st->features; k++) {
        double v = l->weights[1].w[k] > 0.0f ? sqrt((double)l->weights[1].w[k]) : 0.0;
        sd[k] = (float)(v < NORM_STD_FLOOR ? NORM_STD_FLOOR : v);
    }
    *out = ks_onnx_layer_name(g, l, ":0");
    x[0] = in[0];
    if (st->invert) {
        x[1] = sd_name;
        ks_onnx_node(g, "Mul", x, 2, &mid, 1);
        x[0] = mid;
        x[1] = ks_onnx_weight(g, l, 0);
        ks_onnx_node(g, "Add", x, 2, out, 1);
    } else {
        x[1] = ks_onnx_weight(g, l, 0);
        ks_onnx_node(g, "Sub", x, 2, &mid, 1);
        x[0] = mid;
        x[1] = sd_name;
        ks_onnx_node(g, "Div", x, 2, out, 1);
    }
    return KS_OK;
}

/* With invert, as a model output, it learns that output's targets (their standardization,
   undone inside the model). */
static int norm_adapt_targets(const ks_layer *l)
{
    return ((const norm_state *)l->state)->invert;
}

const ks_layer_ops ks_layer_normalization_ops = {
    .name = "Normalization",
    .keys = norm_keys,
    .state_size = sizeof(norm_state),
    .build = norm_build,
    .scratch_size = norm_scratch,
    .forward = norm_forward,
    .backward = norm_backward,
    .init_weights = norm_init_weights,
    .adapted = norm_adapted,
    .adapt = norm_adapt,
    .adapt_targets = norm_adapt_targets,
    .onnx = norm_onnx,
};
