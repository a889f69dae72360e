/*
 * kernels_conv.c — the kernels under the convolution and pooling layers, over
 * channels-last (NHWC) batches; 1-D layers use one row (H = 1).  Window geometry as
 * TensorFlow pads, im2col/col2im around the convolutions' sgemm, depthwise
 * convolution, and max and average pooling.  Inner loops run along the channels,
 * which are contiguous, so that the compiler vectorizes them.
 */
#include "engine_impl.h"

#include <string.h>

const char *const ks_padding_names[] = {"valid", "same", "causal", NULL};

/* One axis: output size and the padding before it (the padding after is implied). */
static int window_axis(int in, int k, int s, int d, int padding, int *before)
{
    int eff = (k - 1) * d + 1, out;
    *before = 0;
    switch (padding) {
    case KS_PAD_SAME: {
        int total;
        out = (in + s - 1) / s;
        total = (out - 1) * s + eff - in;
        *before = total > 0 ? total / 2 : 0;    /* the odd one goes after, as TensorFlow */
        return out;
    }
    case KS_PAD_CAUSAL:
        *before = eff - 1;
        return (in - 1) / s + 1;
    default:
        return in >= eff ? (in - eff) / s + 1 : 0;
    }
}

int ks_window_init(ks_window *g, int h, int w, int c, const int k[2], const int s[2],
                   const int d[2], int padding)
{
    g->h = h;
    g->w = w;
    g->c = c;
    g->kh = k[0];
    g->kw = k[1];
    g->sh = s[0];
    g->sw = s[1];
    g->dh = d[0];
    g->dw = d[1];
    g->oh = window_axis(h, k[0], s[0], d[0], padding, &g->pt);
    g->ow = window_axis(w, k[1], s[1], d[1], padding, &g->pl);
    return g->oh > 0 && g->ow > 0;
}

int ks_window_is_pointwise(const ks_window *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->pt == 0 && g->pl == 0;
}

/* The input row a window row ky of output row oy reads, or -1 in the padding. */
static inline int in_row(const ks_window *g, int oy, int ky)
{
    int iy = oy * g->sh - g->pt + ky * g->dh;
    return iy >= 0 && iy < g->h ? iy : -1;
}

static inline int in_col(const ks_window *g, int ox, int kx)
{
    int ix = ox * g->sw - g->pl + kx * g->dw;
    return ix >= 0 && ix < g->w ? ix : -1;
}

/* Whether output column ox's whole window lies inside the input, contiguously. */
static inline int cols_contiguous(const ks_window *g, int ox)
{
    int x0 = ox * g->sw - g->pl;
    return g->dw == 1 && x0 >= 0 && x0 + g->kw <= g->w;
}

/* dst = src (len floats), or zeros if src is NULL; a loop for the few floats of a
   one-channel image's window row, where calling memcpy would cost more than the copy */
static inline void copy_or_zero(float *restrict dst, const float *restrict src, int len)
{
    if (len <= 16 && src) {
        for (int j = 0; j < len; j++)
            dst[j] = src[j];
    } else if (len <= 16) {
        for (int j = 0; j < len; j++)
            dst[j] = 0.0f;
    } else if (src) {
        memcpy(dst, src, (size_t)len * sizeof(float));
    } else {
        memset(dst, 0, (size_t)len * sizeof(float));
    }
}

void ks_im2col(const ks_window *g, int n, const float *restrict x, float *restrict cols)
{
    const int C = g->c, span = g->kw * C;
    const size_t K = (size_t)g->kh * span;
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float *col = cols + (((size_t)b * g->oh + oy) * g->ow + ox) * K;
                int whole = cols_contiguous(g, ox), x0 = ox * g->sw - g->pl;
                for (int ky = 0; ky < g->kh; ky++, col += span) {
                    int iy = in_row(g, oy, ky);
                    const float *row;
                    if (iy < 0) {
                        copy_or_zero(col, NULL, span);
                        continue;
                    }
                    row = x + ((size_t)b * g->h + iy) * g->w * C;
                    if (whole) {
                        copy_or_zero(col, row + (size_t)x0 * C, span);
                        continue;
                    }
                    for (int kx = 0; kx < g->kw; kx++) {
                        int ix = in_col(g, ox, kx);
                        copy_or_zero(col + kx * C, ix < 0 ? NULL : row + (size_t)ix * C, C);
                    }
                }
            }
}

static inline void add_to(float *restrict dst, const float *restrict src, int len)
{
    for (int j = 0; j < len; j++)
        dst[j] += src[j];
}

void ks_col2im(const ks_window *g, int n, const float *restrict dcols, float *restrict dx,
               float beta)
{
    const int C = g->c, span = g->kw * C;
    const size_t K = (size_t)g->kh * span;
    if (beta == 0.0f)
        memset(dx, 0, (size_t)n * g->h * g->w * C * sizeof(float));
    for (int b = 0; b < n; b++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                const float *col = dcols + (((size_t)b * g->oh + oy) * g->ow + ox) * K;
                int whole = cols_contiguous(g, ox), x0 = ox * g->sw - g->pl;
                for (int ky = 0; ky < g->kh; ky++, col += span) {
                    int iy = in_row(g, oy, ky);
                    float *row;
                    if (iy < 0)
                        continue;
                    row = dx + ((size_t)b * g->h + iy) * g->w * C;
                    if (whole) {
                        add_to(row + (size_t)x0 * C, col, span);
                        continue;
                    }
                    for (int kx = 0; kx < g->kw; kx++) {
                        int ix = in_col(g, ox, kx);
                        if (ix >= 0)
                            add_to(row + (size_t)ix * C, col + kx * C, C);
                    }
                }
            }
}

/*
 * The loops every window kernel below walks: FOR_OUTPUTS visits each output position
 * (b, oy, ox) with o its index in pixels; FOR_TAPS then visits each tap (ky, kx) of
 * its window that lies inside the input, with p the tapped pixel's index within the
 * image (iy·w + ix), in window order (rows, then columns).
 */
#define FOR_OUTPUTS(g, n, b, oy, ox, o)                                                      \
    for (int b = 0; b < (n); b++)                                                            \
        for (int oy = 0; oy < (g)->oh; oy++)                                                 \
            for (int ox = 0, o##_row = (b * (g)->oh + oy) * (g)->ow; ox < (g)->ow; ox++)      \
                for (size_t o = (size_t)o##_row + (size_t)ox, o##_once = 1; o##_once;        \
                     o##_once = 0)

#define FOR_TAPS(g, oy, ox, ky, kx, p, ...)                                                   \
    for (int ky = 0; ky < (g)->kh; ky++) {                                                   \
        int iy_ = in_row(g, oy, ky);                                                         \
        if (iy_ < 0)                                                                         \
            continue;                                                                        \
        for (int kx = 0; kx < (g)->kw; kx++) {                                               \
            int ix_ = in_col(g, ox, kx);                                                     \
            size_t p = (size_t)iy_ * (g)->w + (size_t)ix_;                                   \
            if (ix_ < 0)                                                                     \
                continue;                                                                    \
            __VA_ARGS__                                                                      \
        }                                                                                    \
    }

/* The inner loops, along the channels; each vectorizes (check with -fopt-info-vec). */

/* out += a ⊙ b */
static inline void mul_add(float *restrict out, const float *restrict a,
                           const float *restrict b, int len)
{
    for (int j = 0; j < len; j++)
        out[j] += a[j] * b[j];
}

/* out = max(out, in), a = where each maximum came from (at + channel); the first
   maximum wins, as TensorFlow and PyTorch.  A mask instead of a branch. */
static inline void max_update(float *restrict out, int32_t *restrict a,
                              const float *restrict in, int32_t at, int len)
{
    for (int c = 0; c < len; c++) {
        float v = in[c], best = out[c];
        int32_t more = -(int32_t)(v > best);
        out[c] = v > best ? v : best;
        a[c] = (a[c] & ~more) | ((at + c) & more);
    }
}

/* d = the gradient where the maximum came from at + channel, else 0 */
static inline void max_grad(float *restrict d, const float *restrict go,
                            const int32_t *restrict a, int32_t at, int len)
{
    for (int c = 0; c < len; c++) {
        float grad = go[c];     /* loaded unconditionally: vectorizes */
        d[c] = a[c] == at + c ? grad : 0.0f;
    }
}

/* ---------------------------------------------------------- depthwise */

void ks_depthwise_forward(const ks_window *g, int dm, int n, const float *restrict x,
                          const float *restrict w, float *restrict y)
{
    const int C = g->c, CO = C * dm;
    const size_t image = (size_t)g->h * g->w;
    FOR_OUTPUTS(g, n, b, oy, ox, o) {
        float *out = y + o * CO;
        memset(out, 0, (size_t)CO * sizeof(float));
        FOR_TAPS(g, oy, ox, ky, kx, p, {
            const float *in = x + ((size_t)b * image + p) * C;
            const float *wk = w + ((size_t)ky * g->kw + kx) * CO;
            if (dm == 1)
                mul_add(out, in, wk, C);
            else
                for (int c = 0; c < C; c++)
                    for (int m = 0; m < dm; m++)
                        out[c * dm + m] += in[c] * wk[c * dm + m];
        })
    }
}

void ks_depthwise_backward(const ks_window *g, int dm, int n, const float *restrict x,
                           const float *restrict w, const float *restrict dy,
                           float *restrict dx, float dx_beta, float *restrict dw, float beta)
{
    const int C = g->c, CO = C * dm;
    const size_t image = (size_t)g->h * g->w, wsize = (size_t)g->kh * g->kw * CO;
    for (size_t i = 0; i < wsize; i++)
        dw[i] = beta == 0.0f ? 0.0f : dw[i] * beta;
    if (dx && dx_beta == 0.0f)
        memset(dx, 0, (size_t)n * image * C * sizeof(float));
    FOR_OUTPUTS(g, n, b, oy, ox, o) {
        const float *go = dy + o * CO;
        FOR_TAPS(g, oy, ox, ky, kx, p, {
            size_t at = ((size_t)b * image + p) * C;
            const float *in = x + at, *wk = w + ((size_t)ky * g->kw + kx) * CO;
            float *gw = dw + ((size_t)ky * g->kw + kx) * CO;
            if (dm == 1) {
                mul_add(gw, go, in, C);
                if (dx)
                    mul_add(dx + at, go, wk, C);
                continue;
            }
            for (int c = 0; c < C; c++) {
                float acc = 0.0f;
                for (int m = 0; m < dm; m++) {
                    gw[c * dm + m] += go[c * dm + m] * in[c];
                    acc += go[c * dm + m] * wk[c * dm + m];
                }
                if (dx)
                    dx[at + c] += acc;
            }
        })
    }
}

/* ------------------------------------------------------------ pooling */

void ks_maxpool_forward(const ks_window *g, int n, const float *restrict x, float *restrict y,
                        int32_t *restrict arg)
{
    const int C = g->c;
    const size_t in_size = (size_t)g->h * g->w * C;
    FOR_OUTPUTS(g, n, b, oy, ox, o) {
        const float *xb = x + (size_t)b * in_size;
        float *restrict out = y + o * C;
        int32_t *restrict a = arg + o * C;
        int first = 1;
        FOR_TAPS(g, oy, ox, ky, kx, p, {
            int32_t at = (int32_t)(p * C);      /* an offset within the sample */
            const float *restrict in = xb + at;
            if (first) {
                for (int c = 0; c < C; c++) {
                    out[c] = in[c];
                    a[c] = at + c;
                }
                first = 0;
                continue;
            }
            max_update(out, a, in, at, C);
        })
    }
}

/*
 * Windows that tile the input (window = strides, as MaxPooling2D's default): every
 * input position lies in at most one window, so each is written once, its gradient
 * or 0, instead of zeroing everything and scattering.
 */
static void maxpool_backward_tiled(const ks_window *g, int n, const float *restrict dy,
                                   const int32_t *restrict arg, float *restrict dx)
{
    const int C = g->c;
    const size_t in_size = (size_t)g->h * g->w * C;
    /* rows and columns no window reaches (the last ones of a valid-padded input) */
    int rows = g->oh * g->sh - g->pt, cols = g->ow * g->sw - g->pl;
    rows = rows < g->h ? rows : g->h;
    cols = cols < g->w ? cols : g->w;
    for (int b = 0; b < n; b++)
        for (int iy = 0; iy < g->h; iy++) {
            float *row = dx + (size_t)b * in_size + (size_t)iy * g->w * C;
            if (iy >= rows)
                memset(row, 0, (size_t)g->w * C * sizeof(float));
            else if (cols < g->w)
                memset(row + (size_t)cols * C, 0, (size_t)(g->w - cols) * C * sizeof(float));
        }
    FOR_OUTPUTS(g, n, b, oy, ox, o) {
        const float *restrict go = dy + o * C;
        const int32_t *restrict a = arg + o * C;
        FOR_TAPS(g, oy, ox, ky, kx, p, {
            int32_t at = (int32_t)(p * C);
            float *restrict d = dx + (size_t)b * in_size + (size_t)at;
            max_grad(d, go, a, at, C);
        })
    }
}

void ks_maxpool_backward(const ks_window *g, int n, const float *restrict dy,
                         const int32_t *restrict arg, float *restrict dx, float beta)
{
    const size_t in_size = (size_t)g->h * g->w * g->c, out_size = (size_t)g->oh * g->ow * g->c;
    if (beta == 0.0f && g->kh == g->sh && g->kw == g->sw) {
        maxpool_backward_tiled(g, n, dy, arg, dx);
        return;
    }
    if (beta == 0.0f)
        memset(dx, 0, (size_t)n * in_size * sizeof(float));
    for (int b = 0; b < n; b++) {
        float *dxb = dx + (size_t)b * in_size;
        const float *dyb = dy + (size_t)b * out_size;
        const int32_t *ab = arg + (size_t)b * out_size;
        for (size_t o = 0; o < out_size; o++)
            dxb[ab[o]] += dyb[o];
    }
}

/* Window positions of output (oy, ox) that lie inside the input. */
static inline int window_count(const ks_window *g, int oy, int ox)
{
    int rows = 0, cols = 0;
    for (int ky = 0; ky < g->kh; ky++)
        rows += in_row(g, oy, ky) >= 0;
    for (int kx = 0; kx < g->kw; kx++)
        cols += in_col(g, ox, kx) >= 0;
    return rows * cols;
}

void ks_avgpool_forward(const ks_window *g, int n, const float *restrict x, float *restrict y)
{
    const int C = g->c;
    const size_t image = (size_t)g->h * g->w;
    FOR_OUTPUTS(g, n, b, oy, ox, o) {
        float *restrict out = y + o * C;
        /* the padding is not counted, as TensorFlow */
        float inv = 1.0f / (float)window_count(g, oy, ox);
        memset(out, 0, (size_t)C * sizeof(float));
        FOR_TAPS(g, oy, ox, ky, kx, p, { add_to(out, x + ((size_t)b * image + p) * C, C); })
        for (int c = 0; c < C; c++)
            out[c] *= inv;
    }
}

void ks_avgpool_backward(const ks_window *g, int n, const float *restrict dy, float *restrict dx,
                         float beta)
{
    const int C = g->c;
    const size_t image = (size_t)g->h * g->w;
    if (beta == 0.0f)
        memset(dx, 0, (size_t)n * image * C * sizeof(float));
    FOR_OUTPUTS(g, n, b, oy, ox, o) {
        const float *go = dy + o * C;
        float inv = 1.0f / (float)window_count(g, oy, ox);
        FOR_TAPS(g, oy, ox, ky, kx, p, {
            float *restrict in = dx + ((size_t)b * image + p) * C;
            for (int c = 0; c < C; c++)
                in[c] += go[c] * inv;
        })
    }
}
