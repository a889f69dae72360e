/*
 * layer_zero_padding.c — ZeroPadding2D and ZeroPadding1D: zeros around the rows and
 * columns (or steps) of each channel, padding: an integer, one per axis, or
 * [before, after] pairs per axis as Keras.
 */
#include "engine_impl.h"

#include <string.h>

typedef struct zero_padding_state {
    ks_shape padding;           /* (top, bottom, left, right), or (left, right) for 1-D */
    int data_format;
    /* derived at build */
    int rank, h, w, c, pt, pb, pl, pr;
} zero_padding_state;

static const ks_key zero_padding2d_keys[] = {
    {"padding", KS_KEY_INTS, offsetof(zero_padding_state, padding), 2, 0, 1e6, "1", NULL,
     KS_KEY_PAIRS},
    KS_DATA_FORMAT_KEY(zero_padding_state),
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static const ks_key zero_padding1d_keys[] = {
    {"padding", KS_KEY_INTS, offsetof(zero_padding_state, padding), 1, 0, 1e6, "1", NULL,
     KS_KEY_PAIRS},
    KS_DATA_FORMAT_KEY(zero_padding_state),
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status zero_padding_build(ks_layer *l, int rank, ks_error *err)
{
    zero_padding_state *st = l->state;
    const ks_shape *in = &l->in_shape[0];
    const int *p = st->padding.dim;
    ks_status s;
    if ((s = ks_layer_check_input(l, rank, st->data_format, err)) != KS_OK)
        return s;
    st->rank = rank;
    st->h = rank == 2 ? in->dim[0] : 1;
    st->w = in->dim[rank - 1];
    st->c = in->dim[rank];
    st->pt = rank == 2 ? p[0] : 0;
    st->pb = rank == 2 ? p[1] : 0;
    st->pl = p[rank == 2 ? 2 : 0];
    st->pr = p[rank == 2 ? 3 : 1];
    if ((double)st->h + st->pt + st->pb > 1e9 || (double)st->w + st->pl + st->pr > 1e9)
        return ks_error_set(err, KS_ERR_SHAPE, "ZeroPadding: the padded input is too large");
    l->out_shape = *in;
    if (rank == 2)
        l->out_shape.dim[0] = st->h + st->pt + st->pb;
    l->out_shape.dim[rank - 1] = st->w + st->pl + st->pr;
    return KS_OK;
}

static ks_status zero_padding2d_build(ks_layer *l, ks_error *err)
{
    return zero_padding_build(l, 2, err);
}

static ks_status zero_padding1d_build(ks_layer *l, ks_error *err)
{
    return zero_padding_build(l, 1, err);
}

static void zero_padding_forward(ks_layer *l, const ks_fwd *f)
{
    const zero_padding_state *st = l->state;
    const size_t C = (size_t)st->c, ow = (size_t)st->w + st->pl + st->pr;
    const int oh = st->h + st->pt + st->pb;
    for (int b = 0; b < f->n; b++)
        for (int oy = 0; oy < oh; oy++) {
            float *out = f->y + ((size_t)b * oh + oy) * ow * C;
            int iy = oy - st->pt;
            if (iy < 0 || iy >= st->h) {
                memset(out, 0, ow * C * sizeof(float));
                continue;
            }
            memset(out, 0, (size_t)st->pl * C * sizeof(float));
            memcpy(out + (size_t)st->pl * C, f->x[0] + ((size_t)b * st->h + iy) * st->w * C,
                   (size_t)st->w * C * sizeof(float));
            memset(out + ((size_t)st->pl + st->w) * C, 0, (size_t)st->pr * C * sizeof(float));
        }
}

static void zero_padding_backward(ks_layer *l, const ks_bwd *b)
{
    const zero_padding_state *st = l->state;
    const size_t C = (size_t)st->c, ow = (size_t)st->w + st->pl + st->pr;
    const int oh = st->h + st->pt + st->pb;
    if (!b->dx[0])
        return;
    for (int i = 0; i < b->n; i++)
        for (int iy = 0; iy < st->h; iy++)
            ks_accumulate(b->dx[0] + ((size_t)i * st->h + iy) * st->w * C,
                          b->dy + (((size_t)i * oh + iy + st->pt) * ow + st->pl) * C,
                          (size_t)st->w * C, b->dx_beta[0]);
}

/* ONNX: Pad on the channels-last tensor, zeros before and after the spatial axes. */
static ks_status zero_padding_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                                   const char **out, ks_error *err)
{
    const zero_padding_state *st = l->state;
    int axes = st->rank + 2;
    int64_t pads[8] = {0};
    const char *x[2];
    (void)err;
    /* (N, [rows,] cols, C): begins of every axis, then ends */
    if (st->rank == 2) {
        pads[1] = st->pt;
        pads[1 + axes] = st->pb;
    }
    pads[st->rank] = st->pl;
    pads[st->rank + axes] = st->pr;
    x[0] = in[0];
    x[1] = ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/pads"), pads, 2 * axes);
    *out = ks_onnx_layer_name(g, l, ":0");
    ks_onnx_node(g, "Pad", x, 2, out, 1);
    return KS_OK;
}

const ks_layer_ops ks_layer_zero_padding2d_ops = {
    .name = "ZeroPadding2D",
    .keys = zero_padding2d_keys,
    .state_size = sizeof(zero_padding_state),
    .build = zero_padding2d_build,
    .forward = zero_padding_forward,
    .backward = zero_padding_backward,
    .onnx = zero_padding_onnx,
};

const ks_layer_ops ks_layer_zero_padding1d_ops = {
    .name = "ZeroPadding1D",
    .keys = zero_padding1d_keys,
    .state_size = sizeof(zero_padding_state),
    .build = zero_padding1d_build,
    .forward = zero_padding_forward,
    .backward = zero_padding_backward,
    .onnx = zero_padding_onnx,
};
