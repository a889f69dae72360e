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

/* scratch: xhat (rows × C), then inv_std (C) */
static size_t batchnorm_scratch(const ks_layer *l, int batch)
{
    const batchnorm_state *st = l->state;
    return (size_t)batch * l->out_size + (size_t)st->channels;
}

static void batchnorm_forward(ks_layer *l, const ks_fwd *f)
{
    const batchnorm_state *st = l->state;
    int C = st->channels;
    size_t rows = (size_t)f->n * (l->out_size / (size_t)C);
    const float *x = f->x[0];
    const float *gamma = st->w_gamma >= 0 ? l->weights[st->w_gamma].w : NULL;
    const float *beta = st->w_beta >= 0 ? l->weights[st->w_beta].w : NULL;
    float *mm = l->weights[st->w_mean].w, *mv = l->weights[st->w_var].w;
    float *xhat = f->scratch, *inv_std = f->scratch + (size_t)f->n * l->out_size;
    if (f->training) {
        float mom = (float)st->momentum;
        for (int c = 0; c < C; c++) {
            double sum = 0.0, sq = 0.0, mean, var;
            for (size_t r = 0; r < rows; r++)
                sum += x[r * C + c];
            mean = sum / (double)rows;
            for (size_t r = 0; r < rows; r++) {
                double d = x[r * C + c] - mean;
                sq += d * d;
            }
            var = sq / (double)rows;
            inv_std[c] = (float)(1.0 / sqrt(var + st->epsilon));
            for (size_t r = 0; r < rows; r++)
                xhat[r * C + c] = (float)((x[r * C + c] - mean) * inv_std[c]);
            mm[c] = mm[c] * mom + (float)mean * (1.0f - mom);
            mv[c] = mv[c] * mom + (float)var * (1.0f - mom);
        }
        for (size_t r = 0; r < rows; r++)
            for (int c = 0; c < C; c++)
                f->y[r * C + c] = xhat[r * C + c] * (gamma ? gamma[c] : 1.0f) +
                                  (beta ? beta[c] : 0.0f);
    } else {
        for (int c = 0; c < C; c++)
            inv_std[c] = (float)(1.0 / sqrt((double)mv[c] + st->epsilon));
        for (size_t r = 0; r < rows; r++)
            for (int c = 0; c < C; c++)
                f->y[r * C + c] = (x[r * C + c] - mm[c]) * inv_std[c] * (gamma ? gamma[c] : 1.0f) +
                                  (beta ? beta[c] : 0.0f);
    }
}

static void batchnorm_backward(ks_layer *l, const ks_bwd *b)
{
    const batchnorm_state *st = l->state;
    int C = st->channels;
    size_t rows = (size_t)b->n * (l->out_size / (size_t)C);
    const float *xhat = b->scratch, *inv_std = b->scratch + (size_t)b->n * l->out_size;
    const float *gamma = st->w_gamma >= 0 ? l->weights[st->w_gamma].w : NULL;
    float *dgamma = st->w_gamma >= 0 ? l->weights[st->w_gamma].g : NULL;
    float *dbeta = st->w_beta >= 0 ? l->weights[st->w_beta].g : NULL;
    for (int c = 0; c < C; c++) {
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        float g = gamma ? gamma[c] : 1.0f;
        for (size_t r = 0; r < rows; r++) {
            sum_dy += b->dy[r * C + c];
            sum_dy_xhat += (double)b->dy[r * C + c] * xhat[r * C + c];
        }
        /* a first writer writes: old contents may be NaN, never scale them by 0 */
        if (dgamma)
            dgamma[c] = (b->grad_beta != 0.0f ? dgamma[c] : 0.0f) + (float)sum_dy_xhat;
        if (dbeta)
            dbeta[c] = (b->grad_beta != 0.0f ? dbeta[c] : 0.0f) + (float)sum_dy;
        if (b->dx[0]) {
            /* dx = γ·inv_std/R · (R·dy − Σdy − x̂·Σ(dy·x̂)) */
            float k = g * inv_std[c] / (float)rows;
            float m1 = (float)sum_dy, m2 = (float)sum_dy_xhat;
            float *dx = b->dx[0];
            if (b->dx_beta[0] == 0.0f)
                for (size_t r = 0; r < rows; r++)
                    dx[r * C + c] = k * ((float)rows * b->dy[r * C + c] - m1 - xhat[r * C + c] * m2);
            else
                for (size_t r = 0; r < rows; r++)
                    dx[r * C + c] += k * ((float)rows * b->dy[r * C + c] - m1 - xhat[r * C + c] * m2);
        }
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
