/*
 * density.c — pieces the density-model samplers (TPE, BOHB) share: numeric parameters in
 * model coordinates (the log scale for log ranges, integers as the cells of their grid),
 * Gaussian masses accurate in the tails and truncated Gaussian draws (GSL's normal CDFs
 * and their inverses), a log-sum-exp, and the order of keyed indices.
 */
#include "search_impl.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_sf_erf.h>

int ks_keyed_cmp(const void *pa, const void *pb)
{
    const ks_keyed *a = pa, *b = pb;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->index - b->index;
}

static double int_step(const ks_param *p)
{
    return p->step >= 1 ? p->step : 1.0;
}

/* The ends of the cell of INT grid value x, on the linear scale. */
static void cell(const ks_param *p, double x, double *lo, double *hi)
{
    double h = int_step(p) / 2;
    *lo = x - h;
    *hi = x + h;
    if (p->log && !(*lo > 0))
        *lo = x / 2;
}

void ks_param_model_range(const ks_param *p, double *lo, double *hi)
{
    double a = p->min, b = p->max, unused;
    if (p->kind == KS_PARAM_INT) {
        cell(p, p->min, &a, &unused);
        cell(p, ks_param_snap(p, p->max), &unused, &b);
    }
    *lo = p->log ? log(a) : a;
    *hi = p->log ? log(b) : b;
}

double ks_param_to_model(const ks_param *p, double x)
{
    return p->log ? log(x) : x;
}

double ks_param_from_model(const ks_param *p, double v)
{
    return ks_param_snap(p, p->log ? exp(v) : v);
}

void ks_param_model_cell(const ks_param *p, double x, double *lo, double *hi)
{
    cell(p, x, lo, hi);
    if (p->log) {
        *lo = log(*lo);
        *hi = log(*hi);
    }
}

/* log Q(x), Q(x) = 1 − Φ(x) the upper tail, for any finite x. */
static double log_q(double x)
{
    return gsl_sf_log_erfc(x / M_SQRT2) - M_LN2;
}

double ks_gauss_mass(double a, double b)
{
    if (!(a < b))
        return 0;
    if (a >= 0)
        return gsl_cdf_ugaussian_Q(a) - gsl_cdf_ugaussian_Q(b);
    if (b <= 0)
        return gsl_cdf_ugaussian_P(b) - gsl_cdf_ugaussian_P(a);
    return 1 - gsl_cdf_ugaussian_Q(b) - gsl_cdf_ugaussian_P(a);
}

double ks_gauss_log_mass(double a, double b)
{
    double m = ks_gauss_mass(a, b);
    if (m > 1e-250)             /* the masses TPE meets: directly */
        return log(m);
    if (!(a < b))
        return -INFINITY;
    /* far in a tail: from log Q, without underflow */
    if (a >= 0) {               /* both in the upper tail: Q(a) − Q(b) */
        double la = log_q(a), lb = log_q(b);
        return la + log1p(-exp(lb - la));
    }
    if (b <= 0) {               /* both in the lower tail: Φ(b) − Φ(a) = Q(−b) − Q(−a) */
        double lb = log_q(-b), la = log_q(-a);
        return lb + log1p(-exp(la - lb));
    }
    /* a < 0 < b, an interval too narrow for doubles: φ(0)·(b − a) */
    return m > 0 ? log(m) : log(b - a) - 0.5 * log(2 * M_PI);
}

double ks_truncnorm_draw(ks_rng *rng, double mu, double sigma, double lo, double hi)
{
    double alpha = (lo - mu) / sigma, beta = (hi - mu) / sigma;
    double u = ks_rng_uniform(rng), z, x;
    if (alpha >= 0) {           /* the upper tail: invert Q for precision */
        double qa = gsl_cdf_ugaussian_Q(alpha), qb = gsl_cdf_ugaussian_Q(beta);
        z = qa > 0 ? gsl_cdf_ugaussian_Qinv(qa - u * (qa - qb))
                   : alpha - log1p(-u) / alpha;     /* beyond double range: the exponential tail */
    } else if (beta <= 0) {     /* the lower tail, by symmetry */
        double pa = gsl_cdf_ugaussian_P(alpha), pb = gsl_cdf_ugaussian_P(beta);
        z = pb > 0 ? gsl_cdf_ugaussian_Pinv(pb - u * (pb - pa)) : beta - log1p(-u) / beta;
    } else {
        double pa = gsl_cdf_ugaussian_P(alpha), pb = gsl_cdf_ugaussian_P(beta);
        z = gsl_cdf_ugaussian_Pinv(pa + u * (pb - pa));
    }
    x = mu + sigma * z;
    if (!(x >= lo))             /* also NaN, from an infinite z */
        x = isnan(x) ? mu : lo;
    return x > hi ? hi : x;
}

double ks_log_sum_exp(const double *x, int n)
{
    double m = -INFINITY, s = 0;
    for (int i = 0; i < n; i++)
        if (x[i] > m)
            m = x[i];
    if (m == -INFINITY || m == INFINITY)
        return m;
    for (int i = 0; i < n; i++)
        s += exp(x[i] - m);
    return m + log(s);
}
