/*
 * tensor.c — per-sample shapes and data views.
 */
#include "engine.h"

#include <stdio.h>
#include <string.h>

size_t ks_shape_size(const ks_shape *s)
{
    const size_t cap = (size_t)1 << 62;
    size_t n = 1;
    for (int i = 0; i < s->ndim; i++) {
        size_t d = s->dim[i] > 0 ? (size_t)s->dim[i] : 0;
        n = d && n > cap / d ? cap : n * d;
    }
    return n;
}

int ks_shape_equal(const ks_shape *a, const ks_shape *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i])
            return 0;
    return 1;
}

int ks_shape_feeds(const ks_shape *data, const ks_shape *input)
{
    if (data->ndim > input->ndim)
        return 0;
    for (int i = 0; i < input->ndim; i++)
        if (i < data->ndim ? data->dim[i] != input->dim[i] : input->dim[i] != 1)
            return 0;
    return 1;
}

const char *ks_shape_str(const ks_shape *s, char *buf, int size)
{
    int len = snprintf(buf, (size_t)size, "(None");
    for (int i = 0; i < s->ndim && len < size; i++)
        len += snprintf(buf + len, (size_t)(size - len), ", %d", s->dim[i]);
    if (len < size)
        snprintf(buf + len, (size_t)(size - len), ")");
    return buf;
}

ks_data ks_data_slice(const ks_data *d, size_t begin, size_t end)
{
    ks_data s = *d;
    if (end > d->n)
        end = d->n;
    if (begin > end)
        begin = end;
    s.n = end - begin;
    s.x = d->x ? d->x + begin * d->x_size : NULL;
    s.y = d->y ? d->y + begin * d->y_size : NULL;
    s.w = d->w ? d->w + begin : NULL;
    for (int k = 0; k < d->n_inputs && k < KS_MAX_IO; k++) {
        if (d->inputs[k].data)
            s.inputs[k].data = d->inputs[k].data + begin * d->inputs[k].size;
        if (d->inputs[k].text)
            s.inputs[k].text = d->inputs[k].text + begin * d->inputs[k].size;
    }
    for (int k = 0; k < d->n_targets && k < KS_MAX_IO; k++)
        if (d->targets[k].data)
            s.targets[k].data = d->targets[k].data + begin * d->targets[k].size;
    return s;
}
