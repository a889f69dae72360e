/*
 * layer_global_pooling.c — GlobalAveragePooling2D/1D and GlobalMaxPooling2D/1D: the
 * mean or maximum of each channel over all positions, (batch, channels), or with
 * keepdims (batch, 1, 1, channels) / (batch, 1, channels) as Keras.  As in Keras 3,
 * GlobalAveragePooling1D reads a mask (the mean over the steps it keeps) and the others
 * drop it (GlobalMaxPooling1D takes its maximum over every step, padding included).
 */
#include "engine_impl.h"

#include <string.h>

typedef struct global_pool_state {
    int data_format;
    int keepdims;
    /* derived at build */
    int positions, channels;
} global_pool_state;

static const ks_key global_pool_keys[] = {
    KS_DATA_FORMAT_KEY(global_pool_state),
    {"keepdims", KS_KEY_BOOL, offsetof(global_pool_state, keepdims), 0, 0, 0, "false", NULL,
     KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status global_pool_build(ks_layer *l, int rank, ks_error *err)
{
    global_pool_state *st = l->state;
    ks_status s;
    if ((s = ks_layer_check_input(l, rank, st->data_format, err)) != KS_OK)
        return s;
    st->channels = l->in_shape[0].dim[rank];
    st->positions = (int)(ks_shape_size(&l->in_shape[0]) / (size_t)st->channels);
    l->out_shape.ndim = st->keepdims ? rank + 1 : 1;
    for (int i = 0; i < l->out_shape.ndim; i++)
        l->out_shape.dim[i] = 1;
    l->out_shape.dim[l->out_shape.ndim - 1] = st->channels;
    return KS_OK;
}

static ks_status global_pool2d_build(ks_layer *l, ks_error *err)
{
    return global_pool_build(l, 2, err);
}

static ks_status global_pool1d_build(ks_layer *l, ks_error *err)
{
    return global_pool_build(l, 1, err);
}

/*
 * The mean over the positions of each of n rows, over those mask keeps when mask is not
 * NULL (n × P, 0 skip): Keras's sum of kept steps / their count, except that a row with
 * every step masked gives zeros where Keras divides 0 by 0 (NaN).
 */
static void global_avg(const global_pool_state *st, int n, const float *x, const float *mask,
                       float *y)
{
    const int P = st->positions, C = st->channels;
    for (int b = 0; b < n; b++) {
        const float *restrict xb = x + (size_t)b * P * C;
        const float *m = mask ? mask + (size_t)b * P : NULL;
        float *restrict yb = y + (size_t)b * C, inv;
        int kept = 0;
        memset(yb, 0, (size_t)C * sizeof(float));
        for (int p = 0; p < P; p++) {
            if (m && m[p] == 0.0f)
                continue;
            kept++;
            for (int c = 0; c < C; c++)
                yb[c] += xb[(size_t)p * C + c];
        }
        inv = 1.0f / (float)(kept > 0 ? kept : 1);
        for (int c = 0; c < C; c++)
            yb[c] *= inv;
    }
}

/* dx = dy / count at each kept position, 0 at the masked ones (beta 1: added). */
static void global_avg_grad(const global_pool_state *st, const ks_bwd *b, const float *mask)
{
    const int P = st->positions, C = st->channels;
    for (int i = 0; i < b->n; i++) {
        const float *restrict dy = b->dy + (size_t)i * C;
        const float *m = mask ? mask + (size_t)i * P : NULL;
        float *restrict dx = b->dx[0] + (size_t)i * P * C;
        float inv;
        int kept = 0;
        for (int p = 0; p < P; p++)
            kept += !m || m[p] != 0.0f;
        inv = 1.0f / (float)(kept > 0 ? kept : 1);
        for (int p = 0; p < P; p++) {
            float use = !m || m[p] != 0.0f ? inv : 0.0f;
            float *restrict d = dx + (size_t)p * C;
            if (b->dx_beta[0] == 0.0f)
                for (int c = 0; c < C; c++)
                    d[c] = dy[c] * use;
            else
                for (int c = 0; c < C; c++)
                    d[c] += dy[c] * use;
        }
    }
}

static void global_avg_forward(ks_layer *l, const ks_fwd *f)
{
    global_avg(l->state, f->n, f->x[0], NULL, f->y);
}

static void global_avg_backward(ks_layer *l, const ks_bwd *b)
{
    if (b->dx[0])
        global_avg_grad(l->state, b, NULL);
}

/* GlobalAveragePooling1D: the mean over the steps its input's mask keeps */
static void global_avg1d_forward(ks_layer *l, const ks_fwd *f)
{
    global_avg(l->state, f->n, f->x[0], f->mask, f->y);
}

static void global_avg1d_backward(ks_layer *l, const ks_bwd *b)
{
    if (b->dx[0])
        global_avg_grad(l->state, b, b->mask);
}

/* where each maximum came from: one int32 per output */
static size_t global_max_scratch(const ks_layer *l, int batch)
{
    return (size_t)batch * l->out_size;
}

static void global_max_forward(ks_layer *l, const ks_fwd *f)
{
    const global_pool_state *st = l->state;
    const int P = st->positions, C = st->channels;
    for (int b = 0; b < f->n; b++) {
        const float *restrict x = f->x[0] + (size_t)b * P * C;
        float *restrict y = f->y + (size_t)b * C;
        int32_t *restrict arg = (int32_t *)f->scratch + (size_t)b * C;
        for (int c = 0; c < C; c++) {
            y[c] = x[c];
            arg[c] = c;
        }
        for (int p = 1; p < P; p++)
            for (int c = 0; c < C; c++) {
                /* a mask instead of a branch, so that it vectorizes */
                float v = x[(size_t)p * C + c], o = y[c];
                int32_t more = -(int32_t)(v > o);
                y[c] = v > o ? v : o;
                arg[c] = (arg[c] & ~more) | ((int32_t)((size_t)p * C + (size_t)c) & more);
            }
    }
}

static void global_max_backward(ks_layer *l, const ks_bwd *b)
{
    const global_pool_state *st = l->state;
    const int P = st->positions, C = st->channels;
    if (!b->dx[0])
        return;
    if (b->dx_beta[0] == 0.0f)
        memset(b->dx[0], 0, (size_t)b->n * P * C * sizeof(float));
    for (int i = 0; i < b->n; i++) {
        const int32_t *arg = (const int32_t *)b->scratch + (size_t)i * C;
        for (int c = 0; c < C; c++)
            b->dx[0][(size_t)i * P * C + (size_t)arg[c]] += b->dy[(size_t)i * C + c];
    }
}

/* ONNX: GlobalAveragePool / GlobalMaxPool give (N, C, 1…); keepdims moves that back
   to channels last, else Flatten makes it (N, C). */
static ks_status global_pool_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                                  const char **out, const char *op)
{
    const global_pool_state *st = l->state;
    int rank = l->in_shape[0].ndim - 1;
    const char *x = ks_onnx_to_channels_first(g, l, in[0], rank);
    const char *y = ks_onnx_node1(g, op, x, ks_onnx_layer_name(g, l, "/channels_first_out:0"));
    const char *z = ks_onnx_layer_name(g, l, ":0");
    if (st->keepdims) {
        *out = ks_onnx_to_channels_last(g, y, z, rank);
        return KS_OK;
    }
    ks_onnx_attr_int(g, ks_onnx_node(g, "Flatten", &y, 1, &z, 1), "axis", 1);
    *out = z;
    return KS_OK;
}

/* GlobalAveragePooling1D with a mask (N, T): ReduceSum(x · mask) / max(ReduceSum(mask), 1)
   over the steps, as global_avg (zeros for a row with every step masked). */
static void global_avg_masked_onnx(const ks_layer *l, ks_onnx *g, const char *x,
                                   const char *mask, const char **out)
{
    static const int64_t steps_axis = 1, feature_axis = 2;
    const int keep = ((const global_pool_state *)l->state)->keepdims;
    const char *axes = ks_onnx_layer_name(g, l, "/steps_axis");
    const char *one = ks_onnx_layer_name(g, l, "/one");
    const char *m3 = ks_onnx_layer_name(g, l, "/mask3:0");
    const char *kept = ks_onnx_layer_name(g, l, "/kept:0");
    const char *sum = ks_onnx_layer_name(g, l, "/sum:0");
    const char *count = ks_onnx_layer_name(g, l, "/count:0");
    const char *count1 = ks_onnx_layer_name(g, l, "/count_at_least_1:0");
    ks_onnx_const_shape(g, axes, &steps_axis, 1);
    ks_onnx_const_float(g, one, 0, NULL, 1.0f);
    ks_onnx_node2(g, "Unsqueeze", mask,
                  ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/feature_axis"),
                                      &feature_axis, 1),
                  m3);
    ks_onnx_node2(g, "Mul", x, m3, kept);
    ks_onnx_attr_int(g, ks_onnx_node2(g, "ReduceSum", kept, axes, sum), "keepdims", keep);
    ks_onnx_attr_int(g, ks_onnx_node2(g, "ReduceSum", m3, axes, count), "keepdims", keep);
    ks_onnx_node2(g, "Max", count, one, count1);
    *out = ks_onnx_layer_name(g, l, ":0");
    ks_onnx_node2(g, "Div", sum, count1, *out);
}

static ks_status global_avg_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                                 const char **out, ks_error *err)
{
    (void)err;
    if (ks_onnx_input_mask(g)) {
        global_avg_masked_onnx(l, g, in[0], ks_onnx_input_mask(g), out);
        return KS_OK;
    }
    return global_pool_onnx(l, g, in, out, "GlobalAveragePool");
}

static ks_status global_max_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                                 const char **out, ks_error *err)
{
    (void)err;
    return global_pool_onnx(l, g, in, out, "GlobalMaxPool");
}

const ks_layer_ops ks_layer_global_average_pooling2d_ops = {
    .name = "GlobalAveragePooling2D",
    .keys = global_pool_keys,
    .state_size = sizeof(global_pool_state),
    .build = global_pool2d_build,
    .forward = global_avg_forward,
    .backward = global_avg_backward,
    .onnx = global_avg_onnx,
};

const ks_layer_ops ks_layer_global_average_pooling1d_ops = {
    .name = "GlobalAveragePooling1D",
    .keys = global_pool_keys,
    .state_size = sizeof(global_pool_state),
    .flags = KS_LAYER_MASK_USE,
    .build = global_pool1d_build,
    .forward = global_avg1d_forward,
    .backward = global_avg1d_backward,
    .onnx = global_avg_onnx,
};

const ks_layer_ops ks_layer_global_max_pooling2d_ops = {
    .name = "GlobalMaxPooling2D",
    .keys = global_pool_keys,
    .state_size = sizeof(global_pool_state),
    .build = global_pool2d_build,
    .scratch_size = global_max_scratch,
    .forward = global_max_forward,
    .backward = global_max_backward,
    .onnx = global_max_onnx,
};

const ks_layer_ops ks_layer_global_max_pooling1d_ops = {
    .name = "GlobalMaxPooling1D",
    .keys = global_pool_keys,
    .state_size = sizeof(global_pool_state),
    .build = global_pool1d_build,
    .scratch_size = global_max_scratch,
    .forward = global_max_forward,
    .backward = global_max_backward,
    .onnx = global_max_onnx,
};
