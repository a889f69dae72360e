/*
 * data_concat.c — one data set from the rows of two with the same arrays (training
 * rows followed by validation rows, for a refit on both): every array copied, text
 * cells included, sample weights kept (1 for the rows of the one without).
 */
#include "engine_impl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Whether two arrays of the same place hold the same kind of values; what differs. */
static const char *array_mismatch(const ks_array *a, const ks_array *b)
{
    const char *na = a->name ? a->name : "", *nb = b->name ? b->name : "";
    if (strcmp(na, nb) != 0)
        return "names";
    if (!ks_shape_equal(&a->shape, &b->shape) || a->size != b->size)
        return "shapes";
    if (a->is_label != b->is_label)
        return "kinds of targets (class indices against values)";
    if ((a->text != NULL) != (b->text != NULL) || (a->data != NULL) != (b->data != NULL))
        return "kinds of values (text against numbers)";
    return NULL;
}

/* The bytes of the text cells of an array's n rows, each with its NUL. */
static size_t text_bytes(const ks_array *a, size_t n)
{
    size_t total = 0;
    for (size_t i = 0; a->text && i < n * a->size; i++)
        total += strlen(a->text[i]) + 1;
    return total;
}

/* n × size floats of a, then of b, into a new block; NULL on no memory. */
static float *join_floats(const float *a, size_t na, const float *b, size_t nb, size_t size)
{
    float *out = malloc((na + nb) * size * sizeof(float) + 1);
    if (!out)
        return NULL;
    if (na && size)
        memcpy(out, a, na * size * sizeof(float));
    if (nb && size)
        memcpy(out + na * size, b, nb * size * sizeof(float));
    return out;
}

/* Array slot k of ds: a's rows then b's (data or text; *cursor walks ds->text). */
static ks_status join_array(ks_dataset *ds, int k, ks_array *to, const ks_array *a, size_t na,
                            const ks_array *b, size_t nb, char **cursor)
{
    *to = *a;
    if (a->name) {
        snprintf(ds->names[k], sizeof ds->names[k], "%s", a->name);
        to->name = ds->names[k];
    }
    to->n_classes = a->n_classes > b->n_classes ? a->n_classes : b->n_classes;
    to->data = NULL;
    to->text = NULL;
    if (a->data) {
        if (!(ds->arrays[k] = join_floats(a->data, na, b->data, nb, a->size)))
            return KS_ERR_NOMEM;
        to->data = ds->arrays[k];
    }
    if (a->text) {
        const char **cells = malloc((na + nb) * a->size * sizeof *cells + 1);
        if (!cells)
            return KS_ERR_NOMEM;
        ds->texts[k] = cells;
        for (size_t i = 0; i < (na + nb) * a->size; i++) {
            const char *src = i < na * a->size ? a->text[i] : b->text[i - na * a->size];
            size_t len = strlen(src) + 1;
            memcpy(*cursor, src, len);
            cells[i] = *cursor;
            *cursor += len;
        }
        to->text = cells;
    }
    return KS_OK;
}

/* The named arrays of a and b (n of each), or NULL when they agree. */
static const char *arrays_mismatch(const ks_array *a, const ks_array *b, int n)
{
    for (int k = 0; k < n; k++) {
        const char *why = array_mismatch(&a[k], &b[k]);
        if (why)
            return why;
    }
    return NULL;
}

ks_status ks_dataset_concat(const ks_data *a, const ks_data *b, ks_dataset **out, ks_error *err)
{
    ks_dataset *ds;
    ks_data *d;
    const char *why = NULL;
    size_t n = a->n + b->n, texts = 0, widest = a->x_size > a->y_size ? a->x_size : a->y_size;
    char *cursor = NULL;
    ks_status s = KS_OK;
    *out = NULL;
    if (a->n_inputs != b->n_inputs || a->n_targets != b->n_targets)
        why = "arrays";
    else if (!a->n_inputs && (!ks_shape_equal(&a->x_shape, &b->x_shape) ||
                              (a->x != NULL) != (b->x != NULL)))
        why = "input shapes";
    else if (!a->n_targets && (a->y_size != b->y_size || a->y_is_label != b->y_is_label ||
                               (a->y != NULL) != (b->y != NULL)))
        why = "targets";
    else
        why = arrays_mismatch(a->inputs, b->inputs, a->n_inputs);
    if (!why)
        why = arrays_mismatch(a->targets, b->targets, a->n_targets);
    if (why)
        return ks_error_set(err, KS_ERR_SHAPE,
                            "the two data sets cannot be joined: their %s differ", why);
    for (int k = 0; k < a->n_inputs; k++)
        if (a->inputs[k].size > widest)
            widest = a->inputs[k].size;
    for (int k = 0; k < a->n_targets; k++)
        if (a->targets[k].size > widest)
            widest = a->targets[k].size;
    if (n < a->n || (widest && n > SIZE_MAX / sizeof(void *) / widest))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory: %zu rows", n);
    if (!(ds = calloc(1, sizeof *ds)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    d = &ds->d;
    *d = *a;
    d->n = n;
    d->x = d->y = d->w = NULL;
    d->n_classes = a->n_classes > b->n_classes ? a->n_classes : b->n_classes;
    /* one block for every text cell of both */
    for (int k = 0; k < a->n_inputs; k++)
        texts += text_bytes(&a->inputs[k], a->n) + text_bytes(&b->inputs[k], b->n);
    for (int k = 0; k < a->n_targets; k++)
        texts += text_bytes(&a->targets[k], a->n) + text_bytes(&b->targets[k], b->n);
    if (texts && !(ds->text = cursor = malloc(texts)))
        s = KS_ERR_NOMEM;
    for (int k = 0; s == KS_OK && k < a->n_inputs; k++)
        s = join_array(ds, k, &d->inputs[k], &a->inputs[k], a->n, &b->inputs[k], b->n, &cursor);
    for (int k = 0; s == KS_OK && k < a->n_targets; k++)
        s = join_array(ds, KS_MAX_IO + k, &d->targets[k], &a->targets[k], a->n, &b->targets[k],
                       b->n, &cursor);
    if (s == KS_OK && !a->n_inputs && a->x &&
        !(d->x = ds->x = join_floats(a->x, a->n, b->x, b->n, a->x_size)))
        s = KS_ERR_NOMEM;
    if (s == KS_OK && !a->n_targets && a->y &&
        !(d->y = ds->y = join_floats(a->y, a->n, b->y, b->n, a->y_size)))
        s = KS_ERR_NOMEM;
    if (s == KS_OK && (a->w || b->w)) {
        if (!(d->w = ds->w = malloc(n * sizeof(float) + 1))) {
            s = KS_ERR_NOMEM;
        } else {
            for (size_t i = 0; i < n; i++)
                ds->w[i] = i < a->n ? (a->w ? a->w[i] : 1.0f) : (b->w ? b->w[i - a->n] : 1.0f);
        }
    }
    if (s != KS_OK) {
        ks_dataset_free(ds);
        return ks_error_set(err, s, "out of memory");
    }
    /* x and y mirror the first named array of each, as a loaded data set's do */
    if (a->n_inputs)
        d->x = d->inputs[0].data;
    if (a->n_targets) {
        d->y = d->targets[0].data;
        d->n_classes = d->targets[0].n_classes;
    }
    *out = ds;
    return KS_OK;
}
