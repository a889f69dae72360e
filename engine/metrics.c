/*
 * metrics.c — Keras's metrics: accuracy (binary, categorical or sparse, picked from
 * the loss as Keras does), mae and mse.  Each gives a weighted sum over a batch;
 * fit and evaluate keep the running totals.
 */
#include "engine_impl.h"

#include <stdio.h>
#include <string.h>

typedef struct metric_name {
    const char *name;
    int kind;                   /* ks_metric_kind, or -1 for "accuracy"/"acc" (resolved) */
} metric_name;

static const metric_name metric_names[] = {
    {"accuracy", -1},
    {"acc", -1},
    {"binary_accuracy", KS_METRIC_BINARY_ACCURACY},
    {"categorical_accuracy", KS_METRIC_CATEGORICAL_ACCURACY},
    {"sparse_categorical_accuracy", KS_METRIC_SPARSE_CATEGORICAL_ACCURACY},
    {"mae", KS_METRIC_MAE},
    {"mean_absolute_error", KS_METRIC_MAE},
    {"mse", KS_METRIC_MSE},
    {"mean_squared_error", KS_METRIC_MSE},
    {NULL, 0}};

ks_status ks_metric_resolve(const char *name, const ks_loss_ops *loss, ks_metric *out,
                            ks_error *err)
{
    const char *names[16];
    int n = 0;
    for (int i = 0; metric_names[i].name; i++) {
        names[n++] = metric_names[i].name;
        if (strcmp(metric_names[i].name, name) != 0)
            continue;
        snprintf(out->name, sizeof out->name, "%s", name);
        out->by_shape = metric_names[i].kind < 0;
        if (!out->by_shape)
            out->kind = (ks_metric_kind)metric_names[i].kind;
        else /* provisional until ks_metric_bind sees the data */
            out->kind = loss && loss->sparse ? KS_METRIC_SPARSE_CATEGORICAL_ACCURACY
                                             : KS_METRIC_CATEGORICAL_ACCURACY;
        return KS_OK;
    }
    names[n] = NULL;
    {
        const char *near = ks_nearest_name(name, names);
        return ks_error_set(err, KS_ERR_CONFIG,
                            "unknown metric \"%s\"%s%s%s; known: accuracy, binary_accuracy, "
                            "categorical_accuracy, sparse_categorical_accuracy, mae, mse",
                            name, near ? " (did you mean \"" : "", near ? near : "",
                            near ? "\"?)" : "");
    }
}

void ks_metric_bind(ks_metric *mt, int output_width, int targets_are_labels)
{
    if (!mt->by_shape)
        return;
    if (output_width == 1)
        mt->kind = KS_METRIC_BINARY_ACCURACY;
    else if (targets_are_labels)
        mt->kind = KS_METRIC_SPARSE_CATEGORICAL_ACCURACY;
    else
        mt->kind = KS_METRIC_CATEGORICAL_ACCURACY;
}

static int argmax(const float *x, int k)
{
    int best = 0;
    for (int j = 1; j < k; j++)
        if (x[j] > x[best])
            best = j;
    return best;
}

double ks_metric_sum(ks_metric_kind kind, const float *p, const float *t, const float *w, int n,
                     int k, int tk)
{
    double total = 0.0;
    /* targets of one column against k outputs (class indices) broadcast over them */
    size_t tj = tk == k ? 1 : 0;
    for (int i = 0; i < n; i++) {
        const float *pi = p + (size_t)i * k, *ti = t + (size_t)i * tk;
        double m = 0.0;
        switch (kind) {
        case KS_METRIC_BINARY_ACCURACY:
            for (int j = 0; j < k; j++)
                m += ((pi[j] > 0.5f) == (ti[j * tj] > 0.5f));
            m /= k;
            break;
        case KS_METRIC_CATEGORICAL_ACCURACY:
            m = argmax(pi, k) == argmax(ti, tk);
            break;
        case KS_METRIC_SPARSE_CATEGORICAL_ACCURACY:
            m = argmax(pi, k) == (int)ti[0];
            break;
        case KS_METRIC_MAE:
            for (int j = 0; j < k; j++)
                m += fabs((double)pi[j] - ti[j * tj]);
            m /= k;
            break;
        case KS_METRIC_MSE:
            for (int j = 0; j < k; j++) {
                double e = (double)pi[j] - ti[j * tj];
                m += e * e;
            }
            m /= k;
            break;
        }
        total += (w ? w[i] : 1.0) * m;
    }
    return total;
}
