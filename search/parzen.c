/*
 * parzen.c — TPE's Parzen estimator (Bergstra et al. 2011, with Optuna's defaults for
 * the weights, bandwidths and prior): a mixture of one kernel per observation and a
 * prior, each a product of truncated Gaussians (discretized for integers) and smoothed
 * frequencies (categories); its draws and its log density.  See search_impl.h.
 */
#include "search_impl.h"

#include <stdlib.h>
#include <string.h>

#define EPS_SIGMA 1e-12         /* the smallest bandwidth without the magic clip */
#define FLAT_WEIGHTS 25         /* Optuna's default_weights: the newest 25 weigh 1 */

typedef struct pe_dim {
    const ks_param *p;
    int index;                  /* the parameter's index in the space */
    int n_values;               /* CHOICE: its values; 0 for a number */
    double lo, hi;              /* numbers: the model range */
    double *mu, *sigma;         /* numbers: per kernel */
    double *log_norm;           /* numbers: log of each kernel's mass over the range */
    double *scale;              /* numbers: 1/mass (INT), 1/(sigma·√(2π)·mass) (FLOAT) */
    double *prob;               /* CHOICE: kernels × values, each row summing to 1 */
} pe_dim;

struct ks_parzen {
    int n_dims;
    int k;                      /* kernels */
    double *weight;             /* k, summing to 1 */
    double *term;               /* k: scratch for the log density */
    pe_dim dim[KS_MAX_SEARCH_PARAMS];
};

void ks_parzen_free(ks_parzen *pe)
{
    if (!pe)
        return;
    for (int j = 0; j < pe->n_dims; j++) {
        free(pe->dim[j].mu);
        free(pe->dim[j].prob);
    }
    free(pe->weight);
    free(pe);
}

/* Optuna's default_weights(m): 1 each, but beyond 25 the oldest m − 25 ramp linearly
   from 1/m up to 1. */
static void default_weights(int m, double *w)
{
    int ramp = m > FLAT_WEIGHTS ? m - FLAT_WEIGHTS : 0;
    for (int i = 0; i < m; i++)
        w[i] = 1.0;
    for (int i = 0; i < ramp; i++)
        w[i] = ramp > 1 ? 1.0 / m + (1.0 - 1.0 / m) * i / (ramp - 1) : 1.0 / m;
}

/*
 * Univariate bandwidths of the k = m (+ the prior) mus: each the larger gap to its sorted
 * neighbours, the range's ends beyond the first and last; without consider_endpoints
 * the first and last take their inner gap.  s: scratch of k.
 */
static void neighbour_sigmas(const pe_dim *d, int k, int endpoints, ks_keyed *s)
{
    for (int i = 0; i < k; i++)
        s[i] = (ks_keyed){d->mu[i], i};
    qsort(s, (size_t)k, sizeof *s, ks_keyed_cmp);
    for (int r = 0; r < k; r++) {
        double left = s[r].key - (r > 0 ? s[r - 1].key : d->lo);
        double right = (r + 1 < k ? s[r + 1].key : d->hi) - s[r].key;
        d->sigma[s[r].index] = left > right ? left : right;
    }
    if (!endpoints && k >= 2) {
        d->sigma[s[0].index] = s[1].key - s[0].key;
        d->sigma[s[k - 1].index] = s[k - 1].key - s[k - 2].key;
    }
}

/* A number's kernels: mus from the observations (+ the prior), bandwidths, masses. */
static void numeric_dim(pe_dim *d, const double *const *pts, const int *used, int m, int prior,
                        int n_dims, const ks_parzen_options *o, ks_keyed *scratch)
{
    double width = d->hi - d->lo, lo_sigma, hi_sigma = width;
    int k = m + prior;
    for (int i = 0; i < m; i++)
        d->mu[i] = ks_param_to_model(d->p, pts[used[i]][d->index]);
    if (prior)
        d->mu[m] = 0.5 * (d->lo + d->hi);
    if (o->multivariate) {
        double s = 0.2 * pow(m > 1 ? m : 1, -1.0 / (n_dims + 4)) * width;
        for (int i = 0; i < m; i++)
            d->sigma[i] = s;
    } else {
        neighbour_sigmas(d, k, o->consider_endpoints, scratch);
    }
    lo_sigma = o->consider_magic_clip ? width / fmin(100.0, 1.0 + m + prior) : EPS_SIGMA;
    for (int i = 0; i < m; i++)
        d->sigma[i] = fmin(fmax(d->sigma[i], lo_sigma), hi_sigma);
    if (prior)
        d->sigma[m] = width;
    for (int i = 0; i < k; i++) {
        if (!(d->sigma[i] > 0))
            d->sigma[i] = EPS_SIGMA;    /* a range of one point: any positive width */
        d->log_norm[i] = ks_gauss_log_mass((d->lo - d->mu[i]) / d->sigma[i],
                                           (d->hi - d->mu[i]) / d->sigma[i]);
        d->scale[i] = exp(-d->log_norm[i]);
        if (d->p->kind != KS_PARAM_INT)
            d->scale[i] /= d->sigma[i] * sqrt(2 * M_PI);
    }
}

/* A choice's kernels: prior_weight/k on every value, 1 more on the observation's. */
static void choice_dim(pe_dim *d, const double *const *pts, const int *used, int m, int prior,
                       double prior_weight)
{
    int k = m + prior, c = d->n_values;
    for (int i = 0; i < k; i++) {
        double *row = d->prob + (size_t)i * c, sum = 0;
        for (int v = 0; v < c; v++)
            row[v] = prior_weight / k;
        if (i < m) {
            int v = (int)pts[used[i]][d->index];
            if (v >= 0 && v < c)
                row[v] += 1.0;
        }
        for (int v = 0; v < c; v++)
            sum += row[v];
        for (int v = 0; v < c; v++)
            row[v] /= sum;
    }
}

ks_status ks_parzen_new(const ks_space *sp, const int *dims, int n_dims,
                        const double *const *points, int n, const ks_parzen_options *o,
                        ks_parzen **out)
{
    ks_parzen *pe = calloc(1, sizeof *pe);
    int *used = malloc(sizeof *used * (size_t)(n > 0 ? n : 1));
    ks_keyed *scratch = malloc(sizeof *scratch * (size_t)(n + 1));
    int m = 0, prior, k;
    double sum = 0;
    *out = NULL;
    if (!pe || !used || !scratch)
        goto nomem;
    /* the observations with every parameter active */
    for (int i = 0; i < n; i++) {
        int active = 1;
        for (int j = 0; j < n_dims; j++)
            active &= isfinite(points[i][dims[j]]) != 0;
        if (active)
            used[m++] = i;
    }
    prior = o->consider_prior || m == 0;
    k = m + prior;
    pe->k = k;
    pe->n_dims = n_dims;
    if (!(pe->weight = malloc(sizeof *pe->weight * (size_t)k * 2)))
        goto nomem;
    pe->term = pe->weight + k;
    default_weights(m, pe->weight);
    if (prior)
        pe->weight[m] = m > 0 ? o->prior_weight : 1.0;
    for (int i = 0; i < k; i++)
        sum += pe->weight[i];
    for (int i = 0; i < k; i++)
        pe->weight[i] /= sum;
    for (int j = 0; j < n_dims; j++) {
        pe_dim *d = &pe->dim[j];
        d->p = &sp->params[dims[j]];
        d->index = dims[j];
        if (d->p->kind == KS_PARAM_CHOICE) {
            d->n_values = d->p->n_values > 0 ? d->p->n_values : 1;
            if (!(d->prob = malloc(sizeof *d->prob * (size_t)k * d->n_values)))
                goto nomem;
            choice_dim(d, points, used, m, prior, o->prior_weight);
        } else {
            ks_param_model_range(d->p, &d->lo, &d->hi);
            if (!(d->mu = malloc(sizeof *d->mu * (size_t)k * 4)))
                goto nomem;
            d->sigma = d->mu + k;
            d->log_norm = d->mu + 2 * k;
            d->scale = d->mu + 3 * k;
            numeric_dim(d, points, used, m, prior, n_dims, o, scratch);
        }
    }
    free(used);
    free(scratch);
    *out = pe;
    return KS_OK;
nomem:
    free(used);
    free(scratch);
    ks_parzen_free(pe);
    return KS_ERR_NOMEM;
}

int ks_parzen_kernels(const ks_parzen *pe)
{
    return pe->k;
}

void ks_parzen_kernel(const ks_parzen *pe, int k, int j, double *weight, double *mu,
                      double *sigma)
{
    const pe_dim *d = &pe->dim[j];
    *weight = pe->weight[k];
    *mu = d->mu ? d->mu[k] : NAN;
    *sigma = d->mu ? d->sigma[k] : NAN;
}

/* An index drawn with probabilities p[0..n) (summing to 1). */
static int draw_index(ks_rng *rng, const double *p, int n)
{
    double u = ks_rng_uniform(rng), c = 0;
    for (int i = 0; i < n - 1; i++) {
        c += p[i];
        if (u < c)
            return i;
    }
    return n - 1;
}

void ks_parzen_sample(const ks_parzen *pe, ks_rng *rng, double *point)
{
    int k = draw_index(rng, pe->weight, pe->k);
    for (int j = 0; j < pe->n_dims; j++) {
        const pe_dim *d = &pe->dim[j];
        if (d->prob) {
            point[d->index] = draw_index(rng, d->prob + (size_t)k * d->n_values, d->n_values);
        } else {
            double v = d->hi > d->lo ? ks_truncnorm_draw(rng, d->mu[k], d->sigma[k], d->lo, d->hi)
                                     : d->lo;
            point[d->index] = ks_param_from_model(d->p, v);
        }
    }
}

/* log of kernel i's density (mass for an INT) on dimension d at value x. */
static double kernel_log_pdf(const pe_dim *d, int i, double x)
{
    double mu = d->mu[i], s = d->sigma[i];
    if (!(d->hi > d->lo))
        return 0;               /* a range of one point */
    if (d->p->kind == KS_PARAM_INT) {
        double a, b;
        ks_param_model_cell(d->p, x, &a, &b);
        return ks_gauss_log_mass((a - mu) / s, (b - mu) / s) - d->log_norm[i];
    } else {
        double z = (ks_param_to_model(d->p, x) - mu) / s;
        return -0.5 * z * z - log(s) - 0.5 * log(2 * M_PI) - d->log_norm[i];
    }
}

/* Kernel i's density (mass for an INT) on dimension d at value x, without logs. */
static double kernel_pdf(const pe_dim *d, int i, double x)
{
    double mu = d->mu[i], s = d->sigma[i];
    if (!(d->hi > d->lo))
        return 1;
    if (d->p->kind == KS_PARAM_INT) {
        double a, b;
        ks_param_model_cell(d->p, x, &a, &b);
        return ks_gauss_mass((a - mu) / s, (b - mu) / s) * d->scale[i];
    } else {
        double z = (ks_param_to_model(d->p, x) - mu) / s;
        return exp(-0.5 * z * z) * d->scale[i];
    }
}

double ks_parzen_log_pdf(const ks_parzen *pe, const double *point)
{
    double sum = 0;
    /* the mixture without logs, unless it underflows (far from every kernel) */
    for (int i = 0; i < pe->k; i++) {
        double t = pe->weight[i];
        for (int j = 0; j < pe->n_dims && t > 0; j++) {
            const pe_dim *d = &pe->dim[j];
            double x = point[d->index];
            if (d->prob) {
                int v = (int)x;
                t *= v >= 0 && v < d->n_values ? d->prob[(size_t)i * d->n_values + v] : 0;
            } else {
                t *= kernel_pdf(d, i, x);
            }
        }
        sum += t;
    }
    if (sum > 1e-250 && isfinite(sum))
        return log(sum);
    for (int i = 0; i < pe->k; i++) {
        double t = log(pe->weight[i]);
        for (int j = 0; j < pe->n_dims; j++) {
            const pe_dim *d = &pe->dim[j];
            double x = point[d->index];
            if (d->prob) {
                int v = (int)x;
                t += v >= 0 && v < d->n_values ? log(d->prob[(size_t)i * d->n_values + v])
                                               : -INFINITY;
            } else {
                t += kernel_log_pdf(d, i, x);
            }
        }
        pe->term[i] = t;
    }
    return ks_log_sum_exp(pe->term, pe->k);
}
