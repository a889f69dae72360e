/*
 * losses.c — Keras's losses.  Each returns the weighted sum of per-sample losses of
 * a batch and, on request, its gradient.  The crossentropies fold the softmax or
 * sigmoid of the output layer in (working on logits) for numerical stability, as
 * Keras's TensorFlow backend does; on probabilities they clip to [1e-7, 1 − 1e-7].
 * Element indices are size_t: n·k may pass INT_MAX (as in metrics.c).
 */
#include "engine_impl.h"

#include <string.h>

#define EPS 1e-7

const ks_key ks_loss_keys[] = {
    {"from_logits", KS_KEY_BOOL, offsetof(ks_loss_args, from_logits), 0, 0, 0, "false", NULL,
     KS_KEY_HIDDEN},
    {"delta", KS_KEY_FLOAT, offsetof(ks_loss_args, delta), 0, 0, INFINITY, "1.0", NULL,
     KS_KEY_MIN_EXCL | KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static double weight(const float *w, int i)
{
    return w ? w[i] : 1.0;
}

/* ------------------------------------------------------------ regression */

static double mse_eval(const ks_loss_args *a, const float *p, const float *t, const float *w,
                       int n, int k, int logits, float *grad, float scale)
{
    double total = 0.0;
    (void)a;
    (void)logits;
    for (int i = 0; i < n; i++) {
        double s = 0.0, wi = weight(w, i);
        for (int j = 0; j < k; j++) {
            double e = (double)p[(size_t)i * k + j] - t[(size_t)i * k + j];
            s += e * e;
            if (grad)
                grad[(size_t)i * k + j] = (float)(scale * wi * 2.0 * e / k);
        }
        total += wi * s / k;
    }
    return total;
}

static double mae_eval(const ks_loss_args *a, const float *p, const float *t, const float *w,
                       int n, int k, int logits, float *grad, float scale)
{
    double total = 0.0;
    (void)a;
    (void)logits;
    for (int i = 0; i < n; i++) {
        double s = 0.0, wi = weight(w, i);
        for (int j = 0; j < k; j++) {
            double e = (double)p[(size_t)i * k + j] - t[(size_t)i * k + j];
            s += fabs(e);
            if (grad)
                grad[(size_t)i * k + j] =
                    (float)(scale * wi * (e > 0 ? 1.0 : e < 0 ? -1.0 : 0.0) / k);
        }
        total += wi * s / k;
    }
    return total;
}

static double huber_eval(const ks_loss_args *a, const float *p, const float *t, const float *w,
                         int n, int k, int logits, float *grad, float scale)
{
    double total = 0.0, d = a->delta;
    (void)logits;
    for (int i = 0; i < n; i++) {
        double s = 0.0, wi = weight(w, i);
        for (int j = 0; j < k; j++) {
            double e = (double)p[(size_t)i * k + j] - t[(size_t)i * k + j], ae = fabs(e), g;
            if (ae <= d) {
                s += 0.5 * e * e;
                g = e;
            } else {
                s += d * (ae - 0.5 * d);
                g = e > 0 ? d : -d;
            }
            if (grad)
                grad[(size_t)i * k + j] = (float)(scale * wi * g / k);
        }
        total += wi * s / k;
    }
    return total;
}

/* ---------------------------------------------------------- crossentropy */

static double bce_eval(const ks_loss_args *a, const float *p, const float *t, const float *w,
                       int n, int k, int logits, float *grad, float scale)
{
    double total = 0.0;
    logits = logits || a->from_logits;
    for (int i = 0; i < n; i++) {
        double s = 0.0, wi = weight(w, i);
        for (int j = 0; j < k; j++) {
            double x = p[(size_t)i * k + j], y = t[(size_t)i * k + j], g;
            if (logits) {
                /* max(x,0) − x·y + log(1 + e^−|x|) */
                s += fmax(x, 0.0) - x * y + log1p(exp(-fabs(x)));
                g = 1.0 / (1.0 + exp(-x)) - y;
            } else {
                double q = x < EPS ? EPS : x > 1.0 - EPS ? 1.0 - EPS : x;
                s += -(y * log(q) + (1.0 - y) * log(1.0 - q));
                g = (x < EPS || x > 1.0 - EPS) ? 0.0 : (q - y) / (q * (1.0 - q));
            }
            if (grad)
                grad[(size_t)i * k + j] = (float)(scale * wi * g / k);
        }
        total += wi * s / k;
    }
    return total;
}

/* log Σ e^z over a row, and the row's softmax into sm (may be NULL) */
static double log_sum_exp(const float *z, int k, float *sm)
{
    double mx = z[0], sum = 0.0, lse;
    for (int j = 1; j < k; j++)
        if (z[j] > mx)
            mx = z[j];
    for (int j = 0; j < k; j++)
        sum += exp((double)z[j] - mx);
    lse = mx + log(sum);
    if (sm)
        for (int j = 0; j < k; j++)
            sm[j] = (float)exp((double)z[j] - lse);
    return lse;
}

/* One row of categorical crossentropy against target distribution t (or label). */
static double cce_row(const float *p, const float *t, int label, int k, int logits, float *grad,
                      double gscale)
{
    double s = 0.0;
    if (logits) {
        double lse = log_sum_exp(p, k, grad), tsum = 0.0;
        for (int j = 0; j < k; j++) {
            double tj = t ? t[j] : (j == label);
            tsum += tj;
            s += tj * ((double)p[j] - lse);
        }
        if (grad)
            for (int j = 0; j < k; j++) {
                double tj = t ? t[j] : (j == label);
                grad[j] = (float)(gscale * (grad[j] * tsum - tj));
            }
        return -s;
    }
    {
        /* Keras: p / Σp, clipped to [ε, 1−ε], −Σ t·log */
        double psum = 0.0, tsum_unclipped = 0.0;
        for (int j = 0; j < k; j++)
            psum += p[j];
        if (psum <= 0.0)
            psum = EPS;
        for (int j = 0; j < k; j++) {
            double tj = t ? t[j] : (j == label), q = p[j] / psum;
            int clipped = q < EPS || q > 1.0 - EPS;
            if (clipped)
                q = q < EPS ? EPS : 1.0 - EPS;
            else
                tsum_unclipped += tj;
            s += tj * log(q);
        }
        if (grad)
            for (int j = 0; j < k; j++) {
                double tj = t ? t[j] : (j == label), q = p[j] / psum;
                int clipped = q < EPS || q > 1.0 - EPS;
                double g = tsum_unclipped / psum - (clipped ? 0.0 : tj / p[j]);
                grad[j] = (float)(gscale * g);
            }
        return -s;
    }
}

static double cce_eval(const ks_loss_args *a, const float *p, const float *t, const float *w,
                       int n, int k, int logits, float *grad, float scale)
{
    double total = 0.0;
    logits = logits || a->from_logits;
    for (int i = 0; i < n; i++) {
        double wi = weight(w, i);
        total += wi * cce_row(p + (size_t)i * k, t + (size_t)i * k, -1, k, logits,
                              grad ? grad + (size_t)i * k : NULL, scale * wi);
    }
    return total;
}

static double scce_eval(const ks_loss_args *a, const float *p, const float *t, const float *w,
                        int n, int k, int logits, float *grad, float scale)
{
    double total = 0.0;
    logits = logits || a->from_logits;
    for (int i = 0; i < n; i++) {
        double wi = weight(w, i);
        int label = (int)t[i];
        if (label < 0 || label >= k)
            label = label < 0 ? 0 : k - 1;   /* fit checks labels first; stay in bounds */
        total += wi * cce_row(p + (size_t)i * k, NULL, label, k, logits,
                              grad ? grad + (size_t)i * k : NULL, scale * wi);
    }
    return total;
}

/* ----------------------------------------------------------------- table */

static const char *const mse_aliases[] = {"mean_squared_error", "MeanSquaredError", NULL};
static const char *const mae_aliases[] = {"mean_absolute_error", "MeanAbsoluteError", NULL};
static const char *const huber_aliases[] = {"Huber", "huber_loss", NULL};
static const char *const bce_aliases[] = {"BinaryCrossentropy", NULL};
static const char *const cce_aliases[] = {"CategoricalCrossentropy", NULL};
static const char *const scce_aliases[] = {"SparseCategoricalCrossentropy", NULL};

static const ks_loss_ops loss_mse = {"mse", mse_aliases, 0, KS_ACT_LINEAR, mse_eval,
                                     -INFINITY, INFINITY, NULL};
static const ks_loss_ops loss_mae = {"mae", mae_aliases, 0, KS_ACT_LINEAR, mae_eval,
                                     -INFINITY, INFINITY, NULL};
static const ks_loss_ops loss_huber = {"huber", huber_aliases, 0, KS_ACT_LINEAR, huber_eval,
                                       -INFINITY, INFINITY, NULL};
static const ks_loss_ops loss_bce = {
    "binary_crossentropy", bce_aliases, 0, KS_ACT_SIGMOID, bce_eval, 0.0, 1.0,
    "targets in [0, 1] (probabilities); class indices need "
    "sparse_categorical_crossentropy and a softmax output"};
static const ks_loss_ops loss_cce = {"categorical_crossentropy", cce_aliases, 0,
                                     KS_ACT_SOFTMAX, cce_eval, 0.0, INFINITY,
                                     "targets >= 0 (one-hot rows or probabilities)"};
static const ks_loss_ops loss_scce = {"sparse_categorical_crossentropy", scce_aliases, 1,
                                      KS_ACT_SOFTMAX, scce_eval, 0.0, INFINITY, NULL};

const ks_loss_ops *const ks_loss_kinds[] = {&loss_mse, &loss_mae, &loss_huber, &loss_bce,
                                            &loss_cce, &loss_scce, NULL};

const ks_loss_ops *ks_loss_find(const char *name)
{
    for (int i = 0; ks_loss_kinds[i]; i++) {
        const ks_loss_ops *l = ks_loss_kinds[i];
        if (strcmp(l->name, name) == 0)
            return l;
        for (int j = 0; l->aliases && l->aliases[j]; j++)
            if (strcmp(l->aliases[j], name) == 0)
                return l;
    }
    return NULL;
}
