/*
 * layer_window.c — what the convolution and pooling layers share when they are
 * built: the input's rank (sequences and images, channels last), data_format, and the
 * sliding window over the input with the messages Keras users need when it does not fit.
 */
#include "engine_impl.h"

#include <stdio.h>
#include <string.h>

const char *const ks_data_format_names[] = {"channels_last", "channels_first", NULL};

/* "(3, 3)" or "(3,)" as Python prints a tuple */
static const char *tuple_str(const int *v, int rank, char *buf, size_t size)
{
    if (rank == 1)
        snprintf(buf, size, "(%d,)", v[0]);
    else
        snprintf(buf, size, "(%d, %d)", v[0], v[1]);
    return buf;
}

ks_status ks_layer_check_input(const ks_layer *l, int rank, int data_format, ks_error *err)
{
    const ks_shape *in = &l->in_shape[0];
    char buf[96];
    if (data_format != 0)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "%s: data_format channels_first is not supported; ksearch is "
                            "channels_last (Keras's default): (batch, %s, channels)",
                            l->ops->name, rank == 1 ? "steps" : "rows, cols");
    if (in->ndim == rank + 1)
        return KS_OK;
    ks_shape_str(in, buf, sizeof buf);
    if (rank == 2 && in->ndim == 2)
        return ks_error_set(err, KS_ERR_SHAPE,
                            "%s expects a 3-d input (batch, rows, cols, channels), got %s; "
                            "images of one channel need the channel axis: input_shape: "
                            "[%d, %d, 1]",
                            l->ops->name, buf, in->dim[0], in->dim[1]);
    if (rank == 2)
        return ks_error_set(err, KS_ERR_SHAPE,
                            "%s expects a 3-d input (batch, rows, cols, channels), got %s",
                            l->ops->name, buf);
    return ks_error_set(err, KS_ERR_SHAPE,
                        "%s expects a 2-d input (batch, steps, channels), got %s", l->ops->name,
                        buf);
}

ks_status ks_layer_window(const ks_layer *l, int rank, const char *what, const int *k,
                          const int *s, const int *d, int padding, ks_window *g, ks_error *err)
{
    const ks_shape *in = &l->in_shape[0];
    int k2[2] = {1, k[0]}, s2[2] = {1, s[0]}, d2[2] = {1, d[0]};
    int h = rank == 2 ? in->dim[0] : 1, w = in->dim[rank == 2 ? 1 : 0];
    char kb[32], sb[32], db[32], ib[96];
    if (rank == 2) {
        k2[0] = k[0], k2[1] = k[1];
        s2[0] = s[0], s2[1] = s[1];
        d2[0] = d[0], d2[1] = d[1];
    }
    if ((s2[0] > 1 || s2[1] > 1) && (d2[0] > 1 || d2[1] > 1))
        return ks_error_set(err, KS_ERR_CONFIG,
                            "%s: strides > 1 is not supported together with dilation_rate > 1 "
                            "(as Keras), got strides %s and dilation_rate %s",
                            l->ops->name, tuple_str(s, rank, sb, sizeof sb),
                            tuple_str(d, rank, db, sizeof db));
    if (ks_window_init(g, h, w, in->dim[rank], k2, s2, d2, padding))
        return KS_OK;
    ks_shape_str(in, ib, sizeof ib);
    tuple_str(k, rank, kb, sizeof kb);
    if (d2[0] > 1 || d2[1] > 1)
        return ks_error_set(err, KS_ERR_SHAPE,
                            "%s: %s %s with dilation_rate %s is larger than its input %s with "
                            "padding valid; use padding same or a smaller window",
                            l->ops->name, what, kb, tuple_str(d, rank, db, sizeof db), ib);
    return ks_error_set(err, KS_ERR_SHAPE,
                        "%s: %s %s is larger than its input %s with padding valid; use padding "
                        "same or a smaller window",
                        l->ops->name, what, kb, ib);
}

ks_status ks_layer_image_input(ks_layer *l, int data_format, int dims[3], ks_error *err)
{
    ks_status s = ks_layer_check_input(l, 2, data_format, err);
    if (s != KS_OK)
        return s;
    for (int i = 0; i < 3; i++)
        dims[i] = l->in_shape[0].dim[i];
    l->out_shape = l->in_shape[0];
    return KS_OK;
}

void ks_window_out_shape(const ks_window *g, int rank, int channels, ks_shape *out)
{
    out->ndim = rank + 1;
    if (rank == 2) {
        out->dim[0] = g->oh;
        out->dim[1] = g->ow;
    } else {
        out->dim[0] = g->ow;
    }
    out->dim[rank] = channels;
}

void ks_bias_act(float *restrict y, const float *restrict bias, float *restrict z,
                 ks_activation act, int rows, int cols)
{
    if (bias && !z && act == KS_ACT_RELU) {
        /* the common case of a hidden convolution, in one pass over y */
        for (int i = 0; i < rows; i++) {
            float *restrict row = y + (size_t)i * cols;
            for (int j = 0; j < cols; j++) {
                float v = row[j] + bias[j];
                row[j] = v > 0.0f ? v : 0.0f;
            }
        }
        return;
    }
    if (bias)
        ks_add_row(y, bias, rows, cols);
    if (z)
        memcpy(z, y, (size_t)rows * cols * sizeof(float));
    ks_act_apply(act, y, rows, cols);
}

void ks_sgd_step(float *restrict w, const float *restrict g, size_t n, float lr)
{
    for (size_t i = 0; i < n; i++)
        w[i] -= lr * g[i];
}
