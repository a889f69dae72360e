/*
 * kde.c — BOHB's multivariate kernel density estimator (Falkner et al. 2018, fitted as
 * HpBandSter fits statsmodels' KDEMultivariate): product kernels, Gaussian for
 * continuous dimensions on [0, 1] and Aitchison–Aitken for categorical ones, bandwidths by
 * the normal reference rule; its log density and BOHB's proposals.  See search_impl.h.
 */
#include "search_impl.h"

#include <stdlib.h>
#include <string.h>

struct ks_kde {
    int n, d;
    double *data;               /* n × d */
    int *levels;                /* d: 0 continuous, else the number of values */
    double *bw;                 /* d */
    double *term;               /* n: scratch for the log density */
};

void ks_kde_free(ks_kde *k)
{
    if (!k)
        return;
    free(k->data);
    free(k->levels);
    free(k->bw);
    free(k);
}

ks_status ks_kde_fit(const double *data, int n, int d, const int *levels, double min_bandwidth,
                     ks_kde **out)
{
    ks_kde *k = calloc(1, sizeof *k);
    double scale = 1.06 * pow(n, -1.0 / (4 + d));
    *out = NULL;
    if (n < 1 || d < 1) {
        free(k);
        return KS_ERR_INTERNAL;
    }
    if (!k || !(k->data = malloc(sizeof *k->data * (size_t)n * d)) ||
        !(k->levels = malloc(sizeof *k->levels * (size_t)d)) ||
        !(k->bw = malloc(sizeof *k->bw * (size_t)(d + n)))) {
        ks_kde_free(k);
        return KS_ERR_NOMEM;
    }
    k->n = n;
    k->d = d;
    k->term = k->bw + d;
    memcpy(k->data, data, sizeof *k->data * (size_t)n * d);
    memcpy(k->levels, levels, sizeof *k->levels * (size_t)d);
    for (int j = 0; j < d; j++) {
        double mean = 0, var = 0, bw;
        for (int i = 0; i < n; i++)
            mean += data[(size_t)i * d + j];
        mean /= n;
        for (int i = 0; i < n; i++)
            var += pow(data[(size_t)i * d + j] - mean, 2);
        bw = fmax(scale * sqrt(var / n), min_bandwidth);
        if (levels[j] > 0)      /* beyond (L − 1)/L the kernel would favour the other values */
            bw = fmin(bw, (levels[j] - 1.0) / levels[j]);
        k->bw[j] = bw;
    }
    *out = k;
    return KS_OK;
}

const double *ks_kde_bandwidths(const ks_kde *k)
{
    return k->bw;
}

double ks_kde_log_pdf(const ks_kde *k, const double *x)
{
    double gauss = 0.5 * log(2 * M_PI);
    for (int i = 0; i < k->n; i++) {
        const double *p = k->data + (size_t)i * k->d;
        double t = 0;
        for (int j = 0; j < k->d; j++) {
            double h = k->bw[j];
            if (k->levels[j] > 0) {
                t += (int)x[j] == (int)p[j] ? log1p(-h) : log(h / (k->levels[j] - 1));
            } else {
                double z = (x[j] - p[j]) / h;
                t += -0.5 * z * z - log(h) - gauss;
            }
        }
        k->term[i] = t;
    }
    return ks_log_sum_exp(k->term, k->n) - log(k->n);
}

void ks_kde_propose(const ks_kde *k, ks_rng *rng, double bandwidth_factor, double *x)
{
    const double *p = k->data + (size_t)ks_rng_index(rng, (uint64_t)k->n) * k->d;
    for (int j = 0; j < k->d; j++) {
        if (k->levels[j] > 0)
            x[j] = ks_rng_uniform(rng) < 1 - k->bw[j]
                       ? p[j]
                       : (double)ks_rng_index(rng, (uint64_t)k->levels[j]);
        else
            x[j] = ks_truncnorm_draw(rng, p[j], bandwidth_factor * k->bw[j], 0, 1);
    }
}
