/*
 * onnx_conv.c — what the convolution and pooling layers share when they lower
 * themselves to ONNX: the model's tensors stay channels last as in Keras, and each
 * such layer moves its input to ONNX's channels-first layout (NCHW, NCW), runs the ONNX
 * operator there with TensorFlow's padding as explicit pads, and moves the result back
 * (runtimes remove the Transpose pairs between consecutive layers); kernels are
 * transposed from Keras's (k…, in, out) to ONNX's (out, in, k…).
 */
#include "engine_impl.h"

#include <string.h>

/* Transpose x by perm (rank + 2 axes) into out. */
static const char *transpose(ks_onnx *g, const char *x, const char *out, const int64_t *perm,
                             int n)
{
    int nd = ks_onnx_node(g, "Transpose", &x, 1, &out, 1);
    ks_onnx_attr_ints(g, nd, "perm", perm, n);
    return nd < 0 ? NULL : out;
}

const char *ks_onnx_to_channels_first(ks_onnx *g, const ks_layer *l, const char *x, int rank)
{
    static const int64_t perm[2][4] = {{0, 2, 1}, {0, 3, 1, 2}};
    return transpose(g, x, ks_onnx_layer_name(g, l, "/channels_first:0"), perm[rank - 1],
                     rank + 2);
}

const char *ks_onnx_to_channels_last(ks_onnx *g, const char *y, const char *out, int rank)
{
    static const int64_t perm[2][4] = {{0, 2, 1}, {0, 2, 3, 1}};
    return transpose(g, y, out, perm[rank - 1], rank + 2);
}

void ks_onnx_window_attrs(ks_onnx *g, int node, const ks_window *w, int rank, int dilations)
{
    /* per spatial axis, rows then columns; a rank-1 layer is the columns alone */
    int64_t k[2] = {w->kh, w->kw}, s[2] = {w->sh, w->sw}, d[2] = {w->dh, w->dw};
    int64_t in[2] = {w->h, w->w}, out[2] = {w->oh, w->ow}, before[2] = {w->pt, w->pl};
    int64_t pads[4];
    int first = 2 - rank;
    for (int a = first; a < 2; a++) {
        /* the padding after: what the last window needs beyond the input */
        int64_t after = (out[a] - 1) * s[a] + (k[a] - 1) * d[a] + 1 - in[a] - before[a];
        pads[a - first] = before[a];
        pads[a - first + rank] = after > 0 ? after : 0;
    }
    ks_onnx_attr_ints(g, node, "kernel_shape", k + first, rank);
    ks_onnx_attr_ints(g, node, "strides", s + first, rank);
    ks_onnx_attr_ints(g, node, "pads", pads, 2 * rank);
    if (dilations)
        ks_onnx_attr_ints(g, node, "dilations", d + first, rank);
}

const char *ks_onnx_conv_kernel(ks_onnx *g, const ks_layer *l, int w, int depthwise)
{
    const ks_weight *wt = &l->weights[w];
    const ks_shape *s = &wt->shape;
    int rank = s->ndim - 2;
    size_t taps = 1, in = (size_t)s->dim[rank], out = (size_t)s->dim[rank + 1];
    int64_t dims[4];
    float *k;
    /* the initializer is named after the weight ("conv2d/kernel"), in ONNX's layout,
       made once: a shared layer's later calls read the first one's */
    const char *name = ks_onnx_weight_name(g, l, w);
    if (!name || ks_onnx_has_init(g, name))
        return name;
    for (int i = 0; i < rank; i++)
        taps *= (size_t)s->dim[i];
    if (depthwise) {
        /* (kh, kw, C, dm) → (C·dm, 1, kh, kw): output channel c·dm + m reads channel c */
        dims[0] = (int64_t)(in * out);
        dims[1] = 1;
    } else {
        dims[0] = (int64_t)out;
        dims[1] = (int64_t)in;
    }
    for (int i = 0; i < rank; i++)
        dims[2 + i] = s->dim[i];
    if (!(k = ks_onnx_init_float(g, name, rank + 2, dims)))
        return NULL;
    /* Keras's element (tap, i, o) at (tap·in + i)·out + o goes to (o, i, tap) — for a
       depthwise kernel o is m and the output channel i·dm + m */
    for (size_t t = 0; t < taps; t++)
        for (size_t i = 0; i < in; i++)
            for (size_t o = 0; o < out; o++) {
                float v = wt->w[(t * in + i) * out + o];
                if (depthwise)
                    k[(i * out + o) * taps + t] = v;
                else
                    k[(o * in + i) * taps + t] = v;
            }
    return name;
}

ks_status ks_onnx_identity(const ks_layer *l, ks_onnx *g, const char *const *in,
                           const char **out, ks_error *err)
{
    (void)l, (void)g, (void)err;
    *out = in[0];
    return KS_OK;
}
