/*
 * layer_batchnorm.c — BatchNormalization over the last axis.  Training normalizes
 * with the batch's mean and (biased) variance and updates the moving statistics,
 * moving = moving·momentum + batch·(1 − momentum); evaluate and predict use the
 * moving statistics.
 */
#include "engine_impl.h"

#include <string.h>

typedef struct batchnorm_state {
    int axis;
    double momentum;
    double epsilon;
    int center, scale;
    int beta_initializer, gamma_initializer;
    int moving_mean_initializer, moving_variance_initializer;
    /* derived at build */
    int channels;
    int w_gamma, w_beta, w_mean, w_var;     /* weight indices, -1 if absent */
} batchnorm_state;

static const ks_key batchnorm_keys[] = {
    {"axis", KS_KEY_INT, offsetof(batchnorm_state, axis), 0, -1, -1, "-1", NULL, KS_KEY_HIDDEN},
    {"momentum", KS_KEY_FLOAT, offsetof(batchnorm_state, momentum), 0, 0, 1, "0.99", NULL, 0},
    {"epsilon", KS_KEY_FLOAT, offsetof(batchnorm_state, epsilon), 0, 0, INFINITY, "0.001", NULL,
     KS_KEY_MIN_EXCL},
    {"center", KS_KEY_BOOL, offsetof(batchnorm_state, center), 0, 0, 0, "true", NULL, 0},
    {"scale", KS_KEY_BOOL, offsetof(batchnorm_state, scale), 0, 0, 0, "true", NULL, 0},
    {"beta_initializer", KS_KEY_ENUM, offsetof(batchnorm_state, beta_initializer), 0, 0, 0,
     "zeros", ks_initializer_names, KS_KEY_HIDDEN},
    {"gamma_initializer", KS_KEY_ENUM, offsetof(batchnorm_state, gamma_initializer), 0, 0, 0,
     "ones", ks_initializer_names, KS_KEY_HIDDEN},
    {"moving_mean_initializer", KS_KEY_ENUM,
     offsetof(batchnorm_state, moving_mean_initializer), 0, 0, 0, "zeros", ks_initializer_names,
     KS_KEY_HIDDEN},
    {"moving_variance_initializer", KS_KEY_ENUM,
     offsetof(batchnorm_state, moving_variance_initializer), 0, 0, 0, "ones",
     ks_initializer_names, KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status batchnorm_build(ks_layer *l, ks_error *err)
{
    batchnorm_state *st = l->state;
    ks_shape c = {1, {0}};
    (void)err;
    l->out_shape = l->in_shape[0];
    st->channels = l->in_shape[0].dim[l->in_shape[0].ndim - 1];
    c.dim[0] = st->channels;
    st->w_gamma = st->w_beta = -1;
    if (st->scale) {
        st->w_gamma = l->n_weights;
        ks_layer_add_weight(l, "gamma", &c, 1, (ks_initializer)st->gamma_initializer);
    }
    if (st->center) {
        st->w_beta = l->n_weights;
        ks_layer_add_weight(l, "beta", &c, 1, (ks_initializer)st->beta_initializer);
    }
    st->w_mean = l->n_weights;
    ks_layer_add_weight(l, "moving_mean", &c, 0, (ks_initializer)st->moving_mean_initializer);
    st->w_var = l->n_weights;
    ks_layer_add_weight(l, "moving_variance", &c, 0,
                        (ks_initializer)st->moving_variance_initializer);
    return KS_OK;
}

/*
 * scratch: per-channel sums (2·C doubles), inv_std (C), three per-channel factors of
 * the input gradient (3·C), then x̂ (rows × C).  The loops run along the channels
 * (contiguous), each channel's sums in row order: the same numbers as a loop per
 * channel, without striding through the batch once per channel.
 */
#define BN_DOUBLES(C) ((size_t)4 * (size_t)(C))    /* floats that hold 2·C doubles */

static size_t batchnorm_scratch(const ks_layer *l, int batch)
{
    const batchnorm_state *st = l->state;
    return BN_DOUBLES(st->channels) + 4 * (size_t)st->channels + (size_t)batch * l->out_size;
}

typedef struct bn_scratch {
    double *sum, *sum2;         /* per channel: Σ and a second sum */
    float *inv_std;
    float *k, *m1, *m2;         /* per channel: the input gradient's factors */
    float *xhat;
} bn_scratch;

static bn_scratch bn_carve(float *scratch, int C)
{
    bn_scratch b;
    b.sum = (double *)scratch;      /* the block is 64-byte aligned; doubles come first */
    b.sum2 = b.sum + C;
    b.inv_std = scratch + BN_DOUBLES(C);
    b.k = b.inv_std + C;
    b.m1 = b.k + C;
    b.m2 = b.m1 + C;
    b.xhat = b.m2 + C;
    return b;
}

static void batchnorm_forward(ks_layer *l, const ks_fwd *f)
{
    const batchnorm_state *st = l->state;
    const int C = st->channels;
    const size_t rows = (size_t)f->n * (l->out_size / (size_t)C);
    const float *restrict x = f->x[0];
    float *restrict y = f->y;
    const float *gamma = st->w_gamma >= 0 ? l->weights[st->w_gamma].w : NULL;
    const float *beta = st->w_beta >= 0 ? l->weights[st->w_beta].w : NULL;
    float *mm = l->weights[st->w_mean].w, *mv = l->weights[st->w_var].w;
    bn_scratch b = bn_carve(f->scratch, C);
    double *restrict mean = b.sum, *restrict sq = b.sum2;
    float *restrict inv_std = b.inv_std, *restrict xhat = b.xhat;
    if (f->training) {
        float mom = (float)st->momentum;
        for (int c = 0; c < C; c++)
            mean[c] = sq[c] = 0.0;
        for (size_t r = 0; r < rows; r++)
            for (int c = 0; c < C; c++)
                mean[c] += x[r * C + c];
        for (int c = 0; c < C; c++)
            mean[c] /= (double)rows;
        for (size_t r = 0; r < rows; r++)
            for (int c = 0; c < C; c++) {
                double d = x[r * C + c] - mean[c];
                sq[c] += d * d;
            }
        for (int c = 0; c < C; c++) {
            double var = sq[c] / (double)rows;
            inv_std[c] = (float)(1.0 / sqrt(var + st->epsilon));
            mm[c] = mm[c] * mom + (float)mean[c] * (1.0f - mom);
            mv[c] = mv[c] * mom + (float)var * (1.0f - mom);
        }
        for (size_t r = 0; r < rows; r++)
            for (int c = 0; c < C; c++)
                xhat[r * C + c] = (float)((x[r * C + c] - mean[c]) * inv_std[c]);
        for (size_t r = 0; r < rows; r++)
            for (int c = 0; c < C; c++)
                y[r * C + c] = xhat[r * C + c] * (gamma ? gamma[c] : 1.0f) +
                               (beta ? beta[c] : 0.0f);
    } else {
        for (int c = 0; c < C; c++)
            inv_std[c] = (float)(1.0 / sqrt((double)mv[c] + st->epsilon));
        for (size_t r = 0; r < rows; r++)
            for (int c = 0; c < C; c++)
                y[r * C + c] = (x[r * C + c] - mm[c]) * inv_std[c] * (gamma ? gamma[c] : 1.0f) +
                               (beta ? beta[c] : 0.0f);
    }
}

static void batchnorm_backward(ks_layer *l, const ks_bwd *bw)
{
    const batchnorm_state *st = l->state;
    const int C = st->channels;
    const size_t rows = (size_t)bw->n * (l->out_size / (size_t)C);
    bn_scratch b = bn_carve(bw->scratch, C);
    const float *restrict dy = bw->dy, *restrict xhat = b.xhat;
    const float *gamma = st->w_gamma >= 0 ? l->weights[st->w_gamma].w : NULL;
    float *dgamma = st->w_gamma >= 0 ? l->weights[st->w_gamma].g : NULL;
    float *dbeta = st->w_beta >= 0 ? l->weights[st->w_beta].g : NULL;
    double *restrict sum_dy = b.sum, *restrict sum_dy_xhat = b.sum2;
    float *restrict k = b.k, *restrict m1 = b.m1, *restrict m2 = b.m2;
    for (int c = 0; c < C; c++)
        sum_dy[c] = sum_dy_xhat[c] = 0.0;
    for (size_t r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) {
            sum_dy[c] += dy[r * C + c];
            sum_dy_xhat[c] += (double)dy[r * C + c] * xhat[r * C + c];
        }
    for (int c = 0; c < C; c++) {
        /* a first writer writes: old contents may be NaN, never scale them by 0 */
        if (dgamma)
            dgamma[c] = (bw->grad_beta != 0.0f ? dgamma[c] : 0.0f) + (float)sum_dy_xhat[c];
        if (dbeta)
            dbeta[c] = (bw->grad_beta != 0.0f ? dbeta[c] : 0.0f) + (float)sum_dy[c];
        /* dx = γ·inv_std/R · (R·dy − Σdy − x̂·Σ(dy·x̂)) */
        k[c] = (gamma ? gamma[c] : 1.0f) * b.inv_std[c] / (float)rows;
        m1[c] = (float)sum_dy[c];
        m2[c] = (float)sum_dy_xhat[c];
    }
    if (bw->dx[0] && bw->dx_beta[0] == 0.0f) {
        float *restrict dx = bw->dx[0];
        for (size_t r = 0; r < rows; r++)
            for (int c = 0; c < C; c++)
                dx[r * C + c] =
                    k[c] * ((float)rows * dy[r * C + c] - m1[c] - xhat[r * C + c] * m2[c]);
    } else if (bw->dx[0]) {
        float *restrict dx = bw->dx[0];
        for (size_t r = 0; r < rows; r++)
            for (int c = 0; c < C; c++)
                dx[r * C + c] +=
                    k[c] * ((float)rows * dy[r * C + c] - m1[c] - xhat[r * C + c] * m2[c]);
    }
}

/*
 * Inference mode: ONNX's BatchNormalization with the moving statistics (gamma 1 for
 * scale: false, beta 0 for center: false).  ONNX normalizes axis 1 of (N, C, …) while
 * Keras normalizes the last axis: a rank > 2 input goes through (-1, C) and back.
 */
static ks_status batchnorm_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                                const char **out, ks_error *err)
{
    static const char *const absent[4] = {"/gamma", "/beta", "/moving_mean",
                                          "/moving_variance"};
    static const float identity[4] = {1.0f, 0.0f, 0.0f, 1.0f};
    const batchnorm_state *st = l->state;
    const ks_shape *sh = &l->in_shape[0];
    const int w[4] = {st->w_gamma, st->w_beta, st->w_mean, st->w_var};
    int64_t c = st->channels, rows[2] = {-1, st->channels}, back[KS_MAX_DIMS + 1];
    const char *x[5], *y;
    int nd;
    (void)err;
    for (int k = 0; k < 4; k++)
        x[k + 1] = w[k] >= 0 ? ks_onnx_weight(g, l, w[k])
                             : ks_onnx_const_float(g, ks_onnx_layer_name(g, l, absent[k]), 1,
                                                   &c, identity[k]);
    x[0] = in[0];
    if (sh->ndim > 1) {
        const char *shape = ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/rows_shape"),
                                                rows, 2);
        const char *reshape[2] = {in[0], shape};
        x[0] = ks_onnx_layer_name(g, l, "/rows:0");
        ks_onnx_node(g, "Reshape", reshape, 2, &x[0], 1);
    }
    y = ks_onnx_layer_name(g, l, sh->ndim > 1 ? "/norm:0" : ":0");
    nd = ks_onnx_node(g, "BatchNormalization", x, 5, &y, 1);
    ks_onnx_attr_float(g, nd, "epsilon", (float)st->epsilon);
    if (sh->ndim > 1) {
        const char *reshape[2];
        back[0] = -1;
        for (int k = 0; k < sh->ndim; k++)
            back[k + 1] = sh->dim[k];
        reshape[0] = y;
        reshape[1] = ks_onnx_const_shape(g, ks_onnx_layer_name(g, l, "/out_shape"), back,
                                         sh->ndim + 1);
        y = ks_onnx_layer_name(g, l, ":0");
        ks_onnx_node(g, "Reshape", reshape, 2, &y, 1);
    }
    *out = y;
    return KS_OK;
}

const ks_layer_ops ks_layer_batchnorm_ops = {
    .name = "BatchNormalization",
    .keys = batchnorm_keys,
    .state_size = sizeof(batchnorm_state),
    .build = batchnorm_build,
    .scratch_size = batchnorm_scratch,
    .forward = batchnorm_forward,
    .backward = batchnorm_backward,
    .onnx = batchnorm_onnx,
};
