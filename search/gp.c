/*
 * gp.c — the Gaussian process of Bayesian optimization: a Matérn 5/2 kernel with one
 * length scale per input dimension (ARD), a signal and a noise variance, on inputs in
 * the unit cube and standardized outputs; hyperparameters by maximizing the log
 * marginal likelihood (analytic gradient, GSL's BFGS, several starts); expected improvement.
 */
#include "search_impl.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_randist.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

/*
 * Units.  Outputs are standardized before anything else: z = (y − mean) / sd, with sd
 * the population standard deviation (1 when the y are all equal or n = 1).  The signal
 * and noise variances — those ks_gp_fit_fixed takes and those ks_gp_fit fits — are in
 * units of z; ks_gp_predict transforms back (mean + sd·μ_z, sd²·var_z).
 *
 * Bounds of the fit (units of z, length scales in unit-cube units), enforced by a
 * quadratic penalty on the log-parameters during the search and by clamping after it.
 */
#define LS_MIN 0.01
#define LS_MAX 10.0
#define SF2_MIN 0.05
#define SF2_MAX 20.0
#define SN2_MIN 1e-6
#define SN2_MAX 1.0
#define PENALTY 100.0           /* per squared unit of log-parameter outside its bounds */
#define N_STARTS 3              /* the default start and two random ones */
#define MAX_ITER 200
#define STALL 5                 /* iterations over which the likelihood must improve */
#define BAD_NLL 1e10            /* the likelihood where the kernel matrix cannot be factored */

struct ks_gp {
    int n, dims;
    double *x;                  /* n × dims, row-major */
    double *inv_ls;             /* 1 / length scale, per dimension */
    double sf2, sn2;            /* signal and noise variance, units of z */
    double ymean, ysd;
    gsl_matrix *L;              /* Cholesky factor of K (lower triangle) */
    gsl_vector *alpha;          /* K⁻¹ z */
};

/* GSL's default error handler aborts; creating a ks_rng turns it off (once). */
static once_flag quiet_once = ONCE_FLAG_INIT;

static void quiet_gsl(void)
{
    ks_rng *r;
    if (ks_rng_new(0, 0, 0, &r) == KS_OK)
        ks_rng_free(r);
}

/* Matérn 5/2 correlation at scaled distance r: (1 + √5 r + 5r²/3) exp(−√5 r). */
static double matern52(double r)
{
    double s = sqrt(5.0) * r;
    return (1.0 + s + s * s / 3.0) * exp(-s);
}

/* Scaled distance between two points. */
static double scaled_dist(const double *a, const double *b, const double *inv_ls, int dims)
{
    double r2 = 0;
    for (int k = 0; k < dims; k++) {
        double t = (a[k] - b[k]) * inv_ls[k];
        r2 += t * t;
    }
    return sqrt(r2);
}

/* Population mean and standard deviation (1 when the values do not spread). */
static void standardize(const double *y, int n, double *mean, double *sd)
{
    double m = 0, v = 0;
    for (int i = 0; i < n; i++)
        m += y[i];
    m /= n;
    for (int i = 0; i < n; i++)
        v += (y[i] - m) * (y[i] - m);
    v = sqrt(v / n);
    *mean = m;
    *sd = v > 1e-12 * fmax(1.0, fabs(m)) && isfinite(v) ? v : 1.0;
}

/*
 * For each pair j < i (packed at i(i−1)/2 + j): sr = √5·r_ij and er = exp(−sr), from
 * which the kernel and its derivatives follow without another exp.
 */
static void pair_terms(const double *x, int n, int dims, const double *inv_ls, double *sr,
                       double *er)
{
    size_t at = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++, at++) {
            sr[at] = sqrt(5.0) * scaled_dist(x + (size_t)i * dims, x + (size_t)j * dims, inv_ls,
                                             dims);
            er[at] = exp(-sr[at]);
        }
}

/*
 * K = sf2·M + (sn2 + jitter)·I factored into L (in place, GSL's layout); jitter grows
 * from 0 until the factorization succeeds.  Returns 0, or -1 if even the largest fails.
 */
static int factor_kernel(gsl_matrix *K, int n, const double *sr, const double *er, double sf2,
                         double sn2)
{
    static const double jitters[] = {0, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2};
    size_t tda = K->tda;
    for (size_t t = 0; t < sizeof jitters / sizeof jitters[0]; t++) {
        double diag = sf2 + sn2 + jitters[t] * (sf2 + sn2);
        size_t at = 0;
        int ok = 1;
        for (int i = 0; i < n; i++) {
            double *row = K->data + (size_t)i * tda;
            row[i] = diag;
            for (int j = 0; j < i; j++, at++) {
                double s = sr[at];
                row[j] = K->data[(size_t)j * tda + (size_t)i] = sf2 * (1 + s + s * s / 3) * er[at];
            }
        }
        if (gsl_linalg_cholesky_decomp1(K) != GSL_SUCCESS)
            continue;
        for (int i = 0; i < n && ok; i++) {
            double d = K->data[(size_t)i * tda + (size_t)i];
            ok = isfinite(d) && d > 0;
        }
        if (ok)
            return 0;
    }
    return -1;
}

/* ------------------------------------------------------- the posterior */

static ks_status check_data(const double *x, const double *y, int n, int dims, ks_error *err)
{
    if (n < 1 || dims < 1)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "gaussian process needs at least one point and one dimension, got "
                            "%d points of %d dimensions", n, dims);
    for (int i = 0; i < n; i++) {
        if (!isfinite(y[i]))
            return ks_error_set(err, KS_ERR_NAN,
                                "gaussian process: output %d is %g, expected a finite number",
                                i, y[i]);
        for (int k = 0; k < dims; k++)
            if (!isfinite(x[(size_t)i * dims + k]))
                return ks_error_set(err, KS_ERR_NAN,
                                    "gaussian process: input %d has a non-finite coordinate %d",
                                    i, k);
    }
    return KS_OK;
}

void ks_gp_free(ks_gp *gp)
{
    if (!gp)
        return;
    free(gp->x);
    free(gp->inv_ls);
    if (gp->L)
        gsl_matrix_free(gp->L);
    if (gp->alpha)
        gsl_vector_free(gp->alpha);
    free(gp);
}

ks_status ks_gp_fit_fixed(const double *x, const double *y, int n, int dims,
                          const double *length_scales, double signal_var, double noise_var,
                          ks_gp **out, ks_error *err)
{
    ks_gp *gp;
    gsl_vector *z;
    double *sr;
    size_t pairs = (size_t)n * (size_t)(n - 1) / 2;
    ks_status s;
    *out = NULL;
    call_once(&quiet_once, quiet_gsl);
    if ((s = check_data(x, y, n, dims, err)) != KS_OK)
        return s;
    for (int k = 0; k < dims; k++)
        if (!(length_scales[k] > 0) || !isfinite(length_scales[k]))
            return ks_error_set(err, KS_ERR_CONFIG,
                                "gaussian process: length scale %d is %g, expected a finite "
                                "number > 0", k, length_scales[k]);
    if (!(signal_var > 0) || !isfinite(signal_var) || !(noise_var >= 0) || !isfinite(noise_var))
        return ks_error_set(err, KS_ERR_CONFIG,
                            "gaussian process: signal variance %g and noise variance %g, "
                            "expected finite numbers > 0 and >= 0", signal_var, noise_var);
    gp = calloc(1, sizeof *gp);
    if (!gp)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    gp->n = n;
    gp->dims = dims;
    gp->sf2 = signal_var;
    gp->sn2 = noise_var;
    gp->x = malloc((size_t)n * dims * sizeof *gp->x);
    gp->inv_ls = malloc((size_t)dims * sizeof *gp->inv_ls);
    gp->L = gsl_matrix_alloc((size_t)n, (size_t)n);
    gp->alpha = gsl_vector_alloc((size_t)n);
    z = gsl_vector_alloc((size_t)n);
    sr = malloc((2 * pairs + 1) * sizeof *sr);
    if (!gp->x || !gp->inv_ls || !gp->L || !gp->alpha || !z || !sr) {
        if (z)
            gsl_vector_free(z);
        free(sr);
        ks_gp_free(gp);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    memcpy(gp->x, x, (size_t)n * dims * sizeof *x);
    for (int k = 0; k < dims; k++)
        gp->inv_ls[k] = 1.0 / length_scales[k];
    standardize(y, n, &gp->ymean, &gp->ysd);
    for (int i = 0; i < n; i++)
        gsl_vector_set(z, (size_t)i, (y[i] - gp->ymean) / gp->ysd);
    pair_terms(gp->x, n, dims, gp->inv_ls, sr, sr + pairs);
    if (factor_kernel(gp->L, n, sr, sr + pairs, gp->sf2, gp->sn2) != 0 ||
        gsl_linalg_cholesky_solve(gp->L, z, gp->alpha) != GSL_SUCCESS) {
        gsl_vector_free(z);
        free(sr);
        ks_gp_free(gp);
        return ks_error_set(err, KS_ERR_NAN,
                            "gaussian process: the kernel matrix cannot be factored even with "
                            "jitter (signal variance %g, noise variance %g)", signal_var,
                            noise_var);
    }
    gsl_vector_free(z);
    free(sr);
    *out = gp;
    return KS_OK;
}

void ks_gp_predict(const ks_gp *gp, const double *x, double *mean, double *var)
{
    double stack[256], *v = gp->n <= 256 ? stack : malloc((size_t)gp->n * sizeof *v);
    double m = 0, q = 0;
    const double *L = gp->L->data;
    size_t tda = gp->L->tda;
    if (!v) {
        /* no memory for the solve: the prior, which is never overconfident */
        *mean = gp->ymean;
        *var = gp->sf2 * gp->ysd * gp->ysd;
        return;
    }
    for (int i = 0; i < gp->n; i++) {
        v[i] = gp->sf2 * matern52(scaled_dist(x, gp->x + (size_t)i * gp->dims, gp->inv_ls,
                                              gp->dims));
        m += v[i] * gp->alpha->data[(size_t)i * gp->alpha->stride];
    }
    /* forward substitution: v ← L⁻¹ k* */
    for (int i = 0; i < gp->n; i++) {
        const double *row = L + (size_t)i * tda;
        double t = v[i];
        for (int j = 0; j < i; j++)
            t -= row[j] * v[j];
        v[i] = t / row[i];
        q += v[i] * v[i];
    }
    if (v != stack)
        free(v);
    q = gp->sf2 - q;
    *mean = gp->ymean + gp->ysd * m;
    *var = (q > 0 ? q : 0) * gp->ysd * gp->ysd;
}

/* --------------------------------------------- expected improvement */

double ks_gp_expected_improvement(const ks_gp *gp, const double *x, double best)
{
    double mu, var, sigma, ei;
    ks_gp_predict(gp, x, &mu, &var);
    sigma = sqrt(var);
    if (!isfinite(mu) || !isfinite(best))
        return 0;
    if (!(sigma > 0))
        return best - mu > 0 ? best - mu : 0;
    {
        double z = (best - mu) / sigma;
        ei = (best - mu) * gsl_cdf_ugaussian_P(z) + sigma * gsl_ran_ugaussian_pdf(z);
    }
    return ei > 0 ? ei : 0;
}

/* ------------------------------------------------- the marginal likelihood */

/* The fit's state: data, and the workspace of one likelihood evaluation. */
typedef struct lik {
    const double *x;
    int n, dims;
    gsl_vector *z;              /* standardized outputs */
    gsl_matrix *K;              /* the Cholesky factor of K at last */
    gsl_matrix *W;              /* K⁻¹ − ααᵀ */
    gsl_vector *alpha;          /* K⁻¹z at last */
    double *inv_ls;             /* dims */
    double *lo, *hi;            /* bounds on the log-parameters (dims + 2 each) */
    double *grad;               /* dims + 2 */
    double *sr, *er;            /* pair terms at last (pair_terms) */
    double *last;               /* the log-parameters K, alpha, sr, er are for (dims + 2) */
    int have_last;              /* 1: last is valid and K factored */
    double last_f;              /* the NLL there, without the penalty */
} lik;

/* Factor K at th unless it is the last point factored; the NLL there, or BAD_NLL. */
static double factor_at(lik *p, const double *th)
{
    int n = p->n, d = p->dims, np = d + 2;
    double sf2, sn2, f;
    if (p->have_last && memcmp(th, p->last, (size_t)np * sizeof *th) == 0)
        return p->last_f;
    sf2 = exp(fmin(fmax(th[d], -50), 50));
    sn2 = exp(fmin(fmax(th[d + 1], -50), 50));
    for (int k = 0; k < d; k++)
        p->inv_ls[k] = exp(-fmin(fmax(th[k], -50), 50));
    memcpy(p->last, th, (size_t)np * sizeof *th);
    p->have_last = 1;
    pair_terms(p->x, n, d, p->inv_ls, p->sr, p->er);
    if (factor_kernel(p->K, n, p->sr, p->er, sf2, sn2) != 0 ||
        gsl_linalg_cholesky_solve(p->K, p->z, p->alpha) != GSL_SUCCESS) {
        p->have_last = 0;
        return BAD_NLL;
    }
    f = 0.5 * n * log(2 * M_PI);
    for (int i = 0; i < n; i++)
        f += 0.5 * p->z->data[(size_t)i * p->z->stride] * p->alpha->data[(size_t)i * p->alpha->stride] +
             log(p->K->data[(size_t)i * p->K->tda + (size_t)i]);
    if (!isfinite(f)) {
        p->have_last = 0;
        return BAD_NLL;
    }
    p->last_f = f;
    return f;
}

/*
 * The negative log marginal likelihood at log-parameters th = (log ℓ_1..ℓ_d, log sf2,
 * log sn2), plus the bound penalty, and its gradient into grad if not NULL:
 *   NLL = ½ zᵀα + Σ log L_ii + n/2 log 2π,  ∂NLL/∂θ = ½ tr((K⁻¹ − ααᵀ) ∂K/∂θ)
 * with ∂k/∂log ℓ_k = sf2·(5/3)(1 + √5r)·exp(−√5r)·(Δ_k/ℓ_k)² for the Matérn 5/2 kernel.
 */
static double nll(lik *p, const double *th, double *grad)
{
    int n = p->n, d = p->dims, np = d + 2;
    double pen = 0, f;
    for (int i = 0; i < np; i++) {
        double out = th[i] < p->lo[i] ? th[i] - p->lo[i] : th[i] > p->hi[i] ? th[i] - p->hi[i] : 0;
        pen += PENALTY * out * out;
        if (grad)
            grad[i] = 2 * PENALTY * out;
    }
    f = factor_at(p, th);
    if (f >= BAD_NLL)
        return BAD_NLL + pen;
    if (grad) {
        double sf2 = exp(fmin(fmax(th[d], -50), 50)), sn2 = exp(fmin(fmax(th[d + 1], -50), 50));
        double tr = 0, gsf = 0, *W = p->W->data;
        const double *al = p->alpha->data;
        size_t tda = p->W->tda, as = p->alpha->stride, at = 0;
        gsl_matrix_memcpy(p->W, p->K);
        if (gsl_linalg_cholesky_invert(p->W) != GSL_SUCCESS)
            return BAD_NLL + pen;
        for (int i = 0; i < n; i++) {
            const double *xi = p->x + (size_t)i * d;
            double wii = W[(size_t)i * tda + (size_t)i] - al[(size_t)i * as] * al[(size_t)i * as];
            tr += wii;
            gsf += wii * sf2;
            for (int j = 0; j < i; j++, at++) {
                const double *xj = p->x + (size_t)j * d;
                /* both triangles */
                double w = 2 * (W[(size_t)i * tda + (size_t)j] - al[(size_t)i * as] * al[(size_t)j * as]);
                double s = p->sr[at], e = p->er[at], dl = 0.5 * w * sf2 * (5.0 / 3.0) * (1 + s) * e;
                gsf += w * sf2 * (1 + s + s * s / 3.0) * e;
                for (int k = 0; k < d; k++) {
                    double t = (xi[k] - xj[k]) * p->inv_ls[k];
                    grad[k] += dl * t * t;
                }
            }
        }
        grad[d] += 0.5 * gsf;
        grad[d + 1] += 0.5 * sn2 * tr;
    }
    return f + pen;
}

static double lik_f(const gsl_vector *v, void *params)
{
    return nll(params, v->data, NULL);
}

static void lik_fdf(const gsl_vector *v, void *params, double *f, gsl_vector *g)
{
    lik *p = params;
    *f = nll(p, v->data, p->grad);
    for (int i = 0; i < p->dims + 2; i++)
        gsl_vector_set(g, (size_t)i, *f >= BAD_NLL ? 0.0 : p->grad[i]);
}

static void lik_df(const gsl_vector *v, void *params, gsl_vector *g)
{
    double f;
    lik_fdf(v, params, &f, g);
}

/* Minimize from th (in place); returns the value reached. */
static double minimize_from(lik *p, gsl_multimin_fdfminimizer *m, double *th)
{
    int np = p->dims + 2;
    gsl_multimin_function_fdf fn = {lik_f, lik_df, lik_fdf, (size_t)np, p};
    gsl_vector_view start = gsl_vector_view_array(th, (size_t)np);
    double best = nll(p, th, NULL), f_then = best;
    if (gsl_multimin_fdfminimizer_set(m, &fn, &start.vector, 0.1, 0.1) != GSL_SUCCESS)
        return best;
    for (int it = 0; it < MAX_ITER; it++) {
        if (gsl_multimin_fdfminimizer_iterate(m) != GSL_SUCCESS)
            break;
        if (gsl_multimin_test_gradient(m->gradient, 1e-5) == GSL_SUCCESS)
            break;
        /* a flat valley (a noise or length scale at its bound): stop when the last
           STALL iterations gained less than a statistically meaningless 1e-4 */
        if (it % STALL == 0) {
            if (it > 0 && f_then - m->f < 1e-4)
                break;
            f_then = m->f;
        }
    }
    if (m->f < best && isfinite(m->f)) {
        best = m->f;
        memcpy(th, m->x->data, (size_t)np * sizeof *th);
    }
    return best;
}

/* Free a fit's workspace. */
static void lik_free(lik *p)
{
    if (p->z)
        gsl_vector_free(p->z);
    if (p->K)
        gsl_matrix_free(p->K);
    if (p->W)
        gsl_matrix_free(p->W);
    if (p->alpha)
        gsl_vector_free(p->alpha);
    free(p->inv_ls);
}

/*
 * The best log-parameters from N_STARTS starts (the default one in th on entry, the
 * others drawn from rng) into th.  Returns 0, or -1 when out of memory.
 */
static int search_hyperparameters(const double *x, const double *y, int n, int dims,
                                  ks_rng *rng, double *th)
{
    int np = dims + 2, rc = 0;
    double best = INFINITY, mean, sd;
    size_t pairs = (size_t)n * (size_t)(n - 1) / 2;
    /* lo, hi, grad, start, default, last; then the pair terms */
    double *buf = malloc(((size_t)np * 6 + 2 * pairs) * sizeof *buf);
    gsl_multimin_fdfminimizer *m =
        gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, (size_t)np);
    lik p;
    memset(&p, 0, sizeof p);
    p.x = x;
    p.n = n;
    p.dims = dims;
    p.z = gsl_vector_alloc((size_t)n);
    p.K = gsl_matrix_alloc((size_t)n, (size_t)n);
    p.W = gsl_matrix_alloc((size_t)n, (size_t)n);
    p.alpha = gsl_vector_alloc((size_t)n);
    p.inv_ls = malloc((size_t)dims * sizeof *p.inv_ls);
    if (!buf || !m || !p.z || !p.K || !p.W || !p.alpha || !p.inv_ls) {
        rc = -1;
        goto done;
    }
    p.lo = buf;
    p.hi = buf + np;
    p.grad = buf + 2 * np;
    p.last = buf + 5 * np;
    p.sr = buf + 6 * np;
    p.er = p.sr + pairs;
    for (int k = 0; k < dims; k++) {
        p.lo[k] = log(LS_MIN);
        p.hi[k] = log(LS_MAX);
    }
    p.lo[dims] = log(SF2_MIN);
    p.hi[dims] = log(SF2_MAX);
    p.lo[dims + 1] = log(SN2_MIN);
    p.hi[dims + 1] = log(SN2_MAX);
    standardize(y, n, &mean, &sd);
    for (int i = 0; i < n; i++)
        gsl_vector_set(p.z, (size_t)i, (y[i] - mean) / sd);
    {
        double *start = buf + 3 * np, *def = buf + 4 * np;
        memcpy(def, th, (size_t)np * sizeof *th);
        for (int s = 0; s < N_STARTS; s++) {
            double f;
            if (s > 0 && !rng)
                break;
            if (s == 0) {
                memcpy(start, def, (size_t)np * sizeof *th);
            } else {
                for (int k = 0; k < dims; k++)
                    start[k] = log(0.05) + ks_rng_uniform(rng) * (log(2.0) - log(0.05));
                start[dims] = log(0.3) + ks_rng_uniform(rng) * (log(3.0) - log(0.3));
                start[dims + 1] = log(1e-5) + ks_rng_uniform(rng) * (log(0.1) - log(1e-5));
            }
            f = minimize_from(&p, m, start);
            if (f < best) {
                best = f;
                memcpy(th, start, (size_t)np * sizeof *th);
            }
        }
    }
done:
    if (m)
        gsl_multimin_fdfminimizer_free(m);
    lik_free(&p);
    free(buf);
    return rc;
}

ks_status ks_gp_fit(const double *x, const double *y, int n, int dims, ks_rng *rng,
                    ks_gp **out, ks_error *err)
{
    double *th, *ls;
    ks_status s;
    *out = NULL;
    call_once(&quiet_once, quiet_gsl);
    if ((s = check_data(x, y, n, dims, err)) != KS_OK)
        return s;
    th = malloc((size_t)(2 * dims + 2) * sizeof *th);
    if (!th)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    ls = th + dims + 2;
    /* the default start: length scales ½, unit signal, a little noise */
    for (int k = 0; k < dims; k++)
        th[k] = log(0.5);
    th[dims] = 0;
    th[dims + 1] = log(1e-2);
    /* fewer than 3 points say nothing about the hyperparameters: keep the default */
    if (n >= 3 && search_hyperparameters(x, y, n, dims, rng, th) != 0) {
        free(th);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < dims; k++)
        ls[k] = fmin(fmax(exp(th[k]), LS_MIN), LS_MAX);
    s = ks_gp_fit_fixed(x, y, n, dims, ls, fmin(fmax(exp(th[dims]), SF2_MIN), SF2_MAX),
                        fmin(fmax(exp(th[dims + 1]), SN2_MIN), SN2_MAX), out, err);
    free(th);
    return s;
}
