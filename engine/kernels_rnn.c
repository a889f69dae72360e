/*
 * kernels_rnn.c — the recurrent pass behind SimpleRNN, LSTM, GRU and Bidirectional:
 * the input projections of every step in one sgemm, the recurrent product per step in
 * sgemm, the cells element-wise, masks and dropout as Keras applies them, and
 * backpropagation through time over buffers carved from the call's scratch (sized at
 * build time; nothing is allocated here).  Everything runs time-major, in processing
 * order, so that the weight gradients are single products over all steps.
 */
#include "engine_impl.h"

#include <stdint.h>
#include <string.h>

/* The gate loops below vectorize once GCC may assume floating point does not trap (no
   value changes: nothing here reads the FP exception flags). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

/* ------------------------------------------------------------- activations */

/*
 * e^x over float's range without a call, so that loops of it vectorize: Cody-Waite
 * reduction by ln 2 and Cephes's degree-6 polynomial (relative error below 2e-7).
 */
static inline float exp_approx(float x)
{
    float n, r, p, scale;
    uint32_t bits;
    x = x < -87.0f ? -87.0f : x > 88.0f ? 88.0f : x;
    n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;    /* round(x / ln 2) */
    r = x - n * 0.693359375f - n * -2.12194440e-4f;
    p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    bits = (uint32_t)((int32_t)n + 127) << 23;      /* 2^n */
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* tanh: Cephes's odd polynomial below 0.625, 1 − 2/(e^{2|x|} + 1) above (error < 2e-7). */
static inline float tanh_approx(float x)
{
    float a = fabsf(x), z = x * x, small, big;
    small = -5.70498872745e-3f;
    small = small * z + 2.06390887954e-2f;
    small = small * z - 5.37397155531e-2f;
    small = small * z + 1.33314422036e-1f;
    small = small * z - 3.33332819422e-1f;
    small = x + x * z * small;
    big = copysignf(1.0f - 2.0f / (exp_approx(2.0f * a) + 1.0f), x);
    return a < 0.625f ? small : big;
}

/* Activation a over len floats in place: the cells' sigmoid and tanh inline, others as
   every layer computes them.  x86-64 also gets an AVX2 version, chosen at load time by
   an ifunc resolver; not in sanitizer builds, whose runtimes are not ready when the
   resolver runs (under TSan it crashed every program at load). */
#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define KS_NO_CLONES 1
#endif
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_THREAD__) && !defined(KS_NO_CLONES)
__attribute__((target_clones("avx2", "default")))
#endif
static void act_block(ks_activation a, float *restrict p, int len)
{
    switch (a) {
    case KS_ACT_SIGMOID:
        for (int i = 0; i < len; i++)
            p[i] = 1.0f / (1.0f + exp_approx(-p[i]));
        return;
    case KS_ACT_TANH:
        for (int i = 0; i < len; i++)
            p[i] = tanh_approx(p[i]);
        return;
    default:
        ks_act_apply(a, p, 1, len);
        return;
    }
}

/* ------------------------------------------------------------------ build */

ks_status ks_rnn_build(ks_layer *l, const ks_rnn_args *a, ks_rnn_cell cell, const char *prefix,
                       const char *what, ks_rnn *r, ks_error *err)
{
    const ks_shape *in = &l->in_shape[0];
    ks_shape ks = {2, {0}}, rs = {2, {0}}, bs = {1, {0}};
    char name[KS_WEIGHT_NAME_MAX], buf[96];
    ks_weight *w;
    ks_status s;
    if (in->ndim != 2) {
        if (in->ndim == 1)
            return ks_error_set(err, KS_ERR_SHAPE,
                                "%s expects a sequence (batch, timesteps, features), got %s%s%s%s; "
                                "a recurrent layer before it needs return_sequences: true",
                                what, ks_shape_str(in, buf, sizeof buf),
                                l->in_name[0] ? " from \"" : "",
                                l->in_name[0] ? l->in_name[0] : "", l->in_name[0] ? "\"" : "");
        return ks_error_set(err, KS_ERR_SHAPE,
                            "%s expects a sequence (batch, timesteps, features), got %s", what,
                            ks_shape_str(in, buf, sizeof buf));
    }
    if (a->stateful || a->unroll || a->return_state)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "%s: %s is not supported by ksearch; leave it false", what,
                            a->stateful ? "stateful" : a->unroll ? "unroll" : "return_state");
    memset(r, 0, sizeof *r);
    r->cell = cell;
    r->steps = in->dim[0];
    r->features = in->dim[1];
    r->units = a->units;
    r->gates = cell == KS_RNN_LSTM ? 4 : cell == KS_RNN_GRU ? 3 : 1;
    r->act = (ks_activation)a->activation;
    r->rec_act = cell == KS_RNN_SIMPLE ? KS_ACT_LINEAR : (ks_activation)a->recurrent_activation;
    r->use_bias = a->use_bias;
    r->unit_forget_bias = cell == KS_RNN_LSTM && a->unit_forget_bias;
    r->dropout = (float)a->dropout;
    r->recurrent_dropout = (float)a->recurrent_dropout;
    r->go_backwards = a->go_backwards;
    r->return_sequences = a->return_sequences;
    if (cell == KS_RNN_GRU && !a->reset_after)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "GRU: reset_after: false is not supported by ksearch; use the "
                            "default, true (Keras 2's and cuDNN's form)");
    if ((size_t)r->gates * (size_t)r->units > (size_t)1 << 24)
        return ks_error_set(err, KS_ERR_SHAPE, "%s: %d units are too many", what, r->units);
    ks.dim[0] = r->features;
    ks.dim[1] = r->gates * r->units;
    rs.dim[0] = r->units;
    rs.dim[1] = r->gates * r->units;
    r->kernel = l->n_weights;
    snprintf(name, sizeof name, "%skernel", prefix);
    w = ks_layer_add_weight(l, name, &ks, 1, (ks_initializer)a->kernel_initializer);
    if ((s = ks_regularizer_from_value(&a->kernel_regularizer, what, &w->reg, err)) != KS_OK)
        return s;
    r->recurrent = l->n_weights;
    snprintf(name, sizeof name, "%srecurrent_kernel", prefix);
    w = ks_layer_add_weight(l, name, &rs, 1, (ks_initializer)a->recurrent_initializer);
    if ((s = ks_regularizer_from_value(&a->recurrent_regularizer, what, &w->reg, err)) != KS_OK)
        return s;
    r->bias = -1;
    if (a->use_bias) {
        if (cell == KS_RNN_GRU) {
            bs.ndim = 2;
            bs.dim[0] = 2;      /* input and recurrent biases (reset_after) */
            bs.dim[1] = 3 * r->units;
        } else {
            bs.dim[0] = r->gates * r->units;
        }
        r->bias = l->n_weights;
        snprintf(name, sizeof name, "%sbias", prefix);
        w = ks_layer_add_weight(l, name, &bs, 1, (ks_initializer)a->bias_initializer);
        if ((s = ks_regularizer_from_value(&a->bias_regularizer, what, &w->reg, err)) != KS_OK)
            return s;
    }
    return KS_OK;
}

ks_shape ks_rnn_output_shape(const ks_rnn *r)
{
    ks_shape s = {1, {0}};
    if (r->return_sequences) {
        s.ndim = 2;
        s.dim[0] = r->steps;
        s.dim[1] = r->units;
    } else {
        s.dim[0] = r->units;
    }
    return s;
}

void ks_rnn_init_weights(const ks_rnn *r, ks_layer *l)
{
    if (r->unit_forget_bias && r->bias >= 0) {
        float *b = l->weights[r->bias].w + r->units;      /* the forget gate's block */
        for (int j = 0; j < r->units; j++)
            b[j] = 1.0f;
    }
}

ks_mask_mode ks_rnn_mask(const ks_rnn *r)
{
    return r->return_sequences ? KS_MASK_KEEP : KS_MASK_DROP;
}

/* ---------------------------------------------------------------- scratch */

typedef struct rnn_bufs {
    float *xs;                  /* cin × T·n·F: inputs, processing order, time-major, dropped */
    float *gates;               /* T·n·G·U: gate activations; their gradients in backward */
    float *h;                   /* (T+1)·n·U: states before each step, then the last */
    float *c;                   /* LSTM: (T+1)·n·U cell states */
    float *ac;                  /* LSTM: T·n·U act(c) */
    float *rh;                  /* GRU: T·n·U the candidate's recurrent part (bias included) */
    float *tmp;                 /* n·G·U */
    float *mask;                /* T·n: the mask in processing order */
    float *din;                 /* cin × n·F: input dropout masks */
    float *drec;                /* G × n·U: recurrent dropout masks */
    float *dh, *dc, *dhp, *hd;  /* n·U each */
} rnn_bufs;

/* Inputs dropped with one mask per gate (Keras's implementation 1, chosen by
   recurrent_dropout), else one mask for all. */
static int input_copies(const ks_rnn *r)
{
    return r->dropout > 0.0f && r->recurrent_dropout > 0.0f ? r->gates : 1;
}

/* Carve the buffers from base (NULL: only count); returns the floats used. */
static size_t layout(const ks_rnn *r, int n, float *base, rnn_bufs *b)
{
    size_t T = (size_t)r->steps, F = (size_t)r->features, U = (size_t)r->units;
    size_t GU = (size_t)r->gates * U, N = (size_t)n, cin = (size_t)input_copies(r), off = 0;
    int lstm = r->cell == KS_RNN_LSTM, gru = r->cell == KS_RNN_GRU;
#define CARVE(field, count)                                       \
    do {                                                          \
        size_t c_ = (count);                                      \
        b->field = base && c_ ? base + off : NULL;                \
        off += (c_ + 15) & ~(size_t)15;                           \
    } while (0)
    memset(b, 0, sizeof *b);
    CARVE(xs, cin * T * N * F);
    CARVE(gates, T * N * GU);
    CARVE(h, (T + 1) * N * U);
    CARVE(c, lstm ? (T + 1) * N * U : 0);
    CARVE(ac, lstm ? T * N * U : 0);
    CARVE(rh, gru ? T * N * U : 0);
    CARVE(tmp, N * GU);
    CARVE(mask, T * N);
    CARVE(din, r->dropout > 0.0f ? cin * N * F : 0);
    CARVE(drec, r->recurrent_dropout > 0.0f ? (size_t)r->gates * N * U : 0);
    CARVE(dh, N * U);
    CARVE(dc, N * U);
    CARVE(dhp, N * U);
    CARVE(hd, N * U);
#undef CARVE
    return off;
}

size_t ks_rnn_scratch_size(const ks_rnn *r, int n)
{
    rnn_bufs b;
    return layout(r, n, NULL, &b);
}

/* The time step processing step s reads. */
static inline int time_of(const ks_rnn *r, int s)
{
    return r->go_backwards ? r->steps - 1 - s : s;
}

static void dropout_masks(float *m, size_t len, float rate, ks_rng *rng)
{
    float keep = 1.0f / (1.0f - rate);
    for (size_t i = 0; i < len; i++)
        m[i] = ks_rng_uniform(rng) >= rate ? keep : 0.0f;
}

/* ----------------------------------------------------------------- forward */

/* The recurrent product of step s: h[s] (through the recurrent dropout masks) times the
   recurrent kernel, into out (n × G·U), written (beta 0) or added (beta 1). */
static void recurrent_product(const ks_rnn *r, const rnn_bufs *b, const float *R, int n,
                              const float *hp, int dropped, float *out, float beta)
{
    int U = r->units, GU = r->gates * U;
    if (!dropped) {
        ks_gemm(0, 0, n, GU, U, 1.0f, hp, U, R, GU, beta, out, GU);
        return;
    }
    for (int g = 0; g < r->gates; g++) {
        const float *m = b->drec + (size_t)g * n * U;
        for (size_t i = 0; i < (size_t)n * U; i++)
            b->hd[i] = hp[i] * m[i];
        ks_gemm(0, 0, n, U, U, 1.0f, b->hd, U, R + (size_t)g * U, GU, beta, out + (size_t)g * U,
                GU);
    }
}

/*
 * One row of one step.  g: the gates' pre-activations in, activations out; hp → hn the
 * state (LSTM: cp → cn, and ac = act(c) kept for backward); skip: a masked step, which
 * keeps the state.  GRU: t is the recurrent product (bias included) and rh keeps its
 * candidate part.
 */
static void lstm_row(const ks_rnn *r, int U, float *restrict g, const float *restrict hp,
                     float *restrict hn, const float *restrict cp, float *restrict cn,
                     float *restrict ac, int skip)
{
    act_block(r->rec_act, g, U);                /* i */
    act_block(r->rec_act, g + U, U);            /* f */
    act_block(r->act, g + 2 * U, U);            /* c̃ */
    act_block(r->rec_act, g + 3 * U, U);        /* o */
    if (skip) {
        memcpy(cn, cp, (size_t)U * sizeof *cn);
        memcpy(hn, hp, (size_t)U * sizeof *hn);
        return;
    }
    for (int j = 0; j < U; j++)
        cn[j] = ac[j] = g[U + j] * cp[j] + g[j] * g[2 * U + j];
    act_block(r->act, ac, U);
    for (int j = 0; j < U; j++)
        hn[j] = g[3 * U + j] * ac[j];
}

static void gru_row(const ks_rnn *r, int U, float *restrict g, const float *restrict t,
                    float *restrict rh, const float *restrict hp, float *restrict hn, int skip)
{
    for (int j = 0; j < 2 * U; j++)
        g[j] += t[j];
    act_block(r->rec_act, g, U);                /* z */
    act_block(r->rec_act, g + U, U);            /* r */
    for (int j = 0; j < U; j++) {
        rh[j] = t[2 * U + j];
        g[2 * U + j] += g[U + j] * rh[j];
    }
    act_block(r->act, g + 2 * U, U);            /* the candidate */
    if (skip) {
        memcpy(hn, hp, (size_t)U * sizeof *hn);
        return;
    }
    for (int j = 0; j < U; j++)
        hn[j] = g[j] * hp[j] + (1.0f - g[j]) * g[2 * U + j];
}

/* Step s of the cell over n rows; ms the step's mask (NULL: none). */
static void cell_forward(const ks_rnn *r, const rnn_bufs *b, int s, int n, const float *ms)
{
    size_t U = (size_t)r->units, GU = (size_t)r->gates * U, row = (size_t)s * n;
    for (int i = 0; i < n; i++) {
        float *g = b->gates + (row + i) * GU;
        const float *hp = b->h + (row + i) * U;
        float *hn = b->h + (row + n + i) * U;
        int skip = ms && ms[i] == 0.0f;
        switch (r->cell) {
        case KS_RNN_SIMPLE:
            act_block(r->act, g, (int)U);
            memcpy(hn, skip ? hp : g, U * sizeof *hn);
            break;
        case KS_RNN_LSTM:
            lstm_row(r, (int)U, g, hp, hn, b->c + (row + i) * U, b->c + (row + n + i) * U,
                     b->ac + (row + i) * U, skip);
            break;
        case KS_RNN_GRU:
            gru_row(r, (int)U, g, b->tmp + i * GU, b->rh + (row + i) * U, hp, hn, skip);
            break;
        }
    }
}

void ks_rnn_forward(const ks_rnn *r, const ks_layer *l, int n, const float *x,
                    const float *mask, float *y, float *scratch, int training, ks_rng *rng)
{
    rnn_bufs b;
    int T = r->steps, F = r->features, U = r->units, GU = r->gates * U;
    size_t TN = (size_t)T * n, NU = (size_t)n * U;
    int drop_in = training && r->dropout > 0.0f, drop_rec = training && r->recurrent_dropout > 0.0f;
    int cin = drop_in ? input_copies(r) : 1;
    const float *K = l->weights[r->kernel].w, *R = l->weights[r->recurrent].w;
    const float *B = r->bias >= 0 ? l->weights[r->bias].w : NULL;
    layout(r, n, scratch, &b);
    if (drop_in)
        dropout_masks(b.din, (size_t)cin * n * F, r->dropout, rng);
    if (drop_rec)
        dropout_masks(b.drec, (size_t)r->gates * NU, r->recurrent_dropout, rng);
    /* the inputs in processing order, time-major, through the dropout masks */
    for (int c = 0; c < cin; c++) {
        float *xs = b.xs + (size_t)c * TN * F;
        const float *m = drop_in ? b.din + (size_t)c * n * F : NULL;
        for (int s = 0; s < T; s++)
            for (int i = 0; i < n; i++) {
                const float *src = x + ((size_t)i * T + time_of(r, s)) * F;
                float *dst = xs + ((size_t)s * n + i) * F;
                if (m)
                    for (int j = 0; j < F; j++)
                        dst[j] = src[j] * m[(size_t)i * F + j];
                else
                    memcpy(dst, src, (size_t)F * sizeof *dst);
            }
    }
    if (mask)
        for (int s = 0; s < T; s++)
            for (int i = 0; i < n; i++)
                b.mask[(size_t)s * n + i] = mask[(size_t)i * T + time_of(r, s)];
    /* every step's input projection at once (one product per gate with per-gate masks) */
    if (cin == 1)
        ks_gemm(0, 0, (int)TN, GU, F, 1.0f, b.xs, F, K, GU, 0.0f, b.gates, GU);
    else
        for (int g = 0; g < cin; g++)
            ks_gemm(0, 0, (int)TN, U, F, 1.0f, b.xs + (size_t)g * TN * F, F, K + (size_t)g * U, GU,
                    0.0f, b.gates + (size_t)g * U, GU);
    if (B)
        ks_add_row(b.gates, B, (int)TN, GU);            /* GRU: the input bias, row 0 */
    memset(b.h, 0, NU * sizeof *b.h);
    if (b.c)
        memset(b.c, 0, NU * sizeof *b.c);
    for (int s = 0; s < T; s++) {
        const float *hp = b.h + (size_t)s * NU;
        const float *ms = mask ? b.mask + (size_t)s * n : NULL;
        if (r->cell == KS_RNN_GRU) {
            recurrent_product(r, &b, R, n, hp, drop_rec, b.tmp, 0.0f);
            if (B)
                ks_add_row(b.tmp, B + GU, n, GU);       /* the recurrent bias, row 1 */
        } else {
            recurrent_product(r, &b, R, n, hp, drop_rec, b.gates + (size_t)s * n * GU, 1.0f);
        }
        cell_forward(r, &b, s, n, ms);
        if (r->return_sequences) {
            const float *hn = b.h + (size_t)(s + 1) * NU;
            for (int i = 0; i < n; i++) {
                float *dst = y + ((size_t)i * T + s) * U;
                if (r->zero_output && ms && ms[i] == 0.0f)
                    memset(dst, 0, (size_t)U * sizeof *dst);
                else
                    memcpy(dst, hn + (size_t)i * U, (size_t)U * sizeof *dst);
            }
        }
    }
    if (!r->return_sequences)
        memcpy(y, b.h + (size_t)T * NU, NU * sizeof *y);
}

/* ---------------------------------------------------------------- backward */

/*
 * Backward through one row of one step: from dh (and the LSTM's dc), the gradients of
 * the gates' pre-activations replace their activations in g.  t and tc are work rows.
 * LSTM: dc becomes the gradient of the previous cell state.  GRU: rh becomes the
 * gradient of the candidate's recurrent part, direct what reaches the previous state
 * through the update gate.
 */
static void lstm_row_back(const ks_rnn *r, int U, float *restrict g, const float *restrict cp,
                          const float *restrict ac, const float *restrict dh,
                          float *restrict dc, float *restrict t, float *restrict tc)
{
    for (int j = 0; j < U; j++)
        t[j] = dh[j] * g[3 * U + j];            /* dL/d act(c) */
    ks_act_grad(r->act, ac, t, 1, U);
    for (int j = 0; j < U; j++) {
        float dcj = dc[j] + t[j];
        tc[j] = dcj * g[2 * U + j];             /* d i */
        tc[U + j] = dcj * cp[j];                /* d f */
        tc[2 * U + j] = dcj * g[j];             /* d c̃ */
        tc[3 * U + j] = dh[j] * ac[j];          /* d o */
        dc[j] = dcj * g[U + j];                 /* to c[s] */
    }
    ks_act_grad(r->rec_act, g, tc, 1, U);
    ks_act_grad(r->rec_act, g + U, tc + U, 1, U);
    ks_act_grad(r->act, g + 2 * U, tc + 2 * U, 1, U);
    ks_act_grad(r->rec_act, g + 3 * U, tc + 3 * U, 1, U);
    memcpy(g, tc, (size_t)4 * U * sizeof *g);
}

static void gru_row_back(const ks_rnn *r, int U, float *restrict g, const float *restrict hp,
                         float *restrict rh, const float *restrict dh, float *restrict direct,
                         float *restrict tc)
{
    for (int j = 0; j < U; j++) {
        tc[j] = dh[j] * (hp[j] - g[2 * U + j]);        /* d z */
        tc[2 * U + j] = dh[j] * (1.0f - g[j]);         /* d h̃ */
        direct[j] = dh[j] * g[j];
    }
    ks_act_grad(r->act, g + 2 * U, tc + 2 * U, 1, U);
    for (int j = 0; j < U; j++) {
        tc[U + j] = tc[2 * U + j] * rh[j];             /* d r */
        rh[j] = tc[2 * U + j] * g[U + j];              /* d (recurrent part) */
    }
    ks_act_grad(r->rec_act, g, tc, 1, U);
    ks_act_grad(r->rec_act, g + U, tc + U, 1, U);
    memcpy(g, tc, (size_t)3 * U * sizeof *g);
}

/* Step s backward over n rows (masked rows: zero gradients, the state's passes by). */
static void cell_backward(const ks_rnn *r, const rnn_bufs *b, int s, int n, const float *ms)
{
    size_t U = (size_t)r->units, GU = (size_t)r->gates * U, row = (size_t)s * n;
    for (int i = 0; i < n; i++) {
        float *g = b->gates + (row + i) * GU, *dh = b->dh + i * U, *t = b->hd + i * U;
        if (ms && ms[i] == 0.0f) {
            memset(g, 0, GU * sizeof *g);
            if (r->cell == KS_RNN_GRU)
                memset(b->rh + (row + i) * U, 0, U * sizeof(float));
            continue;
        }
        switch (r->cell) {
        case KS_RNN_SIMPLE:
            memcpy(t, dh, U * sizeof *t);
            ks_act_grad(r->act, g, t, 1, (int)U);
            memcpy(g, t, U * sizeof *g);
            break;
        case KS_RNN_LSTM:
            lstm_row_back(r, (int)U, g, b->c + (row + i) * U, b->ac + (row + i) * U, dh,
                          b->dc + i * U, t, b->tmp + i * GU);
            break;
        case KS_RNN_GRU:
            gru_row_back(r, (int)U, g, b->h + (row + i) * U, b->rh + (row + i) * U, dh,
                         b->dc + i * U, b->tmp + i * GU);
            break;
        }
    }
}

/* Bias gradients: the column sums of the gates' gradients (GRU: input and recurrent rows). */
static void bias_grads(const ks_rnn *r, const rnn_bufs *b, int rows, float *dB, float beta)
{
    int U = r->units, GU = r->gates * U;
    if (r->cell != KS_RNN_GRU) {
        ks_col_sums(b->gates, rows, GU, beta, dB, 1.0f);
        return;
    }
    ks_col_sums(b->gates, rows, GU, 0.0f, b->tmp, 1.0f);     /* tmp: n·GU floats */
    ks_col_sums(b->rh, rows, U, 0.0f, b->dhp, 1.0f);         /* dhp: n·U */
    for (int j = 0; j < GU; j++) {
        float rec = j < 2 * U ? b->tmp[j] : b->dhp[j - 2 * U];
        dB[j] = beta == 0.0f ? b->tmp[j] : dB[j] + b->tmp[j];
        dB[GU + j] = beta == 0.0f ? rec : dB[GU + j] + rec;
    }
}

void ks_rnn_backward(const ks_rnn *r, ks_layer *l, int n, const float *x, const float *mask,
                     float *dy, float *dx, float dx_beta, float grad_beta, float *scratch)
{
    rnn_bufs b;
    int T = r->steps, F = r->features, U = r->units, GU = r->gates * U;
    size_t TN = (size_t)T * n, NU = (size_t)n * U;
    int drop_in = r->dropout > 0.0f, drop_rec = r->recurrent_dropout > 0.0f;
    int cin = drop_in ? input_copies(r) : 1;
    const float *K = l->weights[r->kernel].w, *R = l->weights[r->recurrent].w;
    float *dK = l->weights[r->kernel].g, *dR = l->weights[r->recurrent].g;
    (void)x;
    layout(r, n, scratch, &b);
    if (r->return_sequences)
        memset(b.dh, 0, NU * sizeof *b.dh);
    else
        memcpy(b.dh, dy, NU * sizeof *b.dh);
    memset(b.dc, 0, NU * sizeof *b.dc);
    for (int s = T - 1; s >= 0; s--) {
        const float *ms = mask ? b.mask + (size_t)s * n : NULL;
        const float *hp = b.h + (size_t)s * NU;
        float *gs = b.gates + (size_t)s * n * GU, *dz = gs;
        if (r->return_sequences)
            for (int i = 0; i < n; i++) {
                const float *d = dy + ((size_t)i * T + s) * U;
                if (r->zero_output && ms && ms[i] == 0.0f)
                    continue;
                for (int j = 0; j < U; j++)
                    b.dh[(size_t)i * U + j] += d[j];
            }
        cell_backward(r, &b, s, n, ms);
        if (r->cell == KS_RNN_GRU) {
            /* the recurrent side's gradients: z, r as the input side's; the candidate's
               through the reset gate */
            for (int i = 0; i < n; i++) {
                memcpy(b.tmp + (size_t)i * GU, gs + (size_t)i * GU, (size_t)2 * U * sizeof(float));
                memcpy(b.tmp + (size_t)i * GU + 2 * U, b.rh + ((size_t)s * n + i) * U,
                       (size_t)U * sizeof(float));
            }
            dz = b.tmp;
        }
        if (!drop_rec) {
            ks_gemm(0, 1, n, U, GU, 1.0f, dz, GU, R, GU, 0.0f, b.dhp, U);
        } else {
            for (int g = 0; g < r->gates; g++) {
                const float *m = b.drec + (size_t)g * NU;
                ks_gemm(0, 1, n, U, U, 1.0f, dz + (size_t)g * U, GU, R + (size_t)g * U, GU, 0.0f,
                        b.hd, U);
                for (size_t k = 0; k < NU; k++)
                    b.dhp[k] = (g ? b.dhp[k] : 0.0f) + b.hd[k] * m[k];
                for (size_t k = 0; k < NU; k++)
                    b.hd[k] = hp[k] * m[k];
                ks_gemm(1, 0, U, U, n, 1.0f, b.hd, U, dz + (size_t)g * U, GU,
                        s == T - 1 ? grad_beta : 1.0f, dR + (size_t)g * U, GU);
            }
        }
        for (int i = 0; i < n; i++) {
            float *dhi = b.dh + (size_t)i * U;
            const float *dp = b.dhp + (size_t)i * U;
            if (ms && ms[i] == 0.0f)
                continue;       /* skipped: the gradient goes on to the previous state */
            if (r->cell == KS_RNN_GRU)
                for (int j = 0; j < U; j++)
                    dhi[j] = dp[j] + b.dc[(size_t)i * U + j];
            else
                memcpy(dhi, dp, (size_t)U * sizeof *dhi);
        }
    }
    /* weight gradients over every step at once */
    if (cin == 1)
        ks_gemm(1, 0, F, GU, (int)TN, 1.0f, b.xs, F, b.gates, GU, grad_beta, dK, GU);
    else
        for (int g = 0; g < cin; g++)
            ks_gemm(1, 0, F, U, (int)TN, 1.0f, b.xs + (size_t)g * TN * F, F, b.gates + (size_t)g * U,
                    GU, grad_beta, dK + (size_t)g * U, GU);
    if (!drop_rec) {
        if (r->cell == KS_RNN_GRU) {
            ks_gemm(1, 0, U, 2 * U, (int)TN, 1.0f, b.h, U, b.gates, GU, grad_beta, dR, GU);
            ks_gemm(1, 0, U, U, (int)TN, 1.0f, b.h, U, b.rh, U, grad_beta, dR + 2 * U, GU);
        } else {
            ks_gemm(1, 0, U, GU, (int)TN, 1.0f, b.h, U, b.gates, GU, grad_beta, dR, GU);
        }
    }
    if (r->bias >= 0)
        bias_grads(r, &b, (int)TN, l->weights[r->bias].g, grad_beta);
    if (!dx)
        return;
    /* dL/dx, time-major in xs (no longer needed), then back to (batch, time) order */
    for (int g = 0; g < cin; g++) {
        int width = cin == 1 ? GU : U;
        ks_gemm(0, 1, (int)TN, F, width, 1.0f, b.gates + (size_t)g * U, GU, K + (size_t)g * U, GU,
                0.0f, b.xs + (size_t)g * TN * F, F);
    }
    for (int s = 0; s < T; s++)
        for (int i = 0; i < n; i++) {
            float *d = dx + ((size_t)i * T + time_of(r, s)) * F;
            for (int j = 0; j < F; j++) {
                float v = 0.0f;
                for (int c = 0; c < cin; c++) {
                    float m = drop_in ? b.din[((size_t)c * n + i) * F + j] : 1.0f;
                    v += b.xs[(size_t)c * TN * F + ((size_t)s * n + i) * F + j] * m;
                }
                d[j] = dx_beta == 0.0f ? v : d[j] + v;
            }
        }
}
