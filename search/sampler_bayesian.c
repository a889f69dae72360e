/*
 * sampler_bayesian.c — Bayesian optimization: the first trials are points of a shifted
 * Sobol sequence, later ones maximize the expected improvement of a Gaussian process
 * (gp.c) fitted to the trials so far, over Sobol, random and perturbed candidates with a
 * local refinement.  Pending trials of parallel workers count as "constant liars".
 *
 * Options (in the search section, next to method: bayesian):
 *   n_initial   trials from the Sobol sequence before the GP takes over [0 = automatic:
 *               2 × the number of parameters, at least 5, at most 20 and at most half of
 *               max_trials (at least 2)]  (Keras Tuner: num_initial_points)
 *   candidates  points at which the expected improvement is evaluated per suggestion,
 *               half Sobol and half uniform, plus 20 perturbations of each of the 5 best
 *               trials; the best 5 are refined by Nelder–Mead [2000]
 *   xi          exploration: the improvement counted is over best − xi·sd, sd the standard
 *               deviation of the objectives seen (scale-free, and still explores when the
 *               best is 0) [0.01]
 *   seed        seed of this method's draws [the study's seed]
 *
 * The history decides everything (the sampler interface's rule): trial n's draws come
 * from the stream (seed, "bayesian", n).  The objective is minimized (negated under
 * maximize).  A trial that ended without a finite objective (failed) counts as the worst
 * value seen, which keeps the GP away from it; a pending trial (queued, running,
 * interrupted) counts as the best value seen (CL-min), so that EI there is about zero and
 * parallel workers get different points.  A suggestion never repeats a trial's point; in
 * a space without floats whose every point has been tried, the method is done.
 *
 * Conditional spaces: the GP sees every trial in the full encoding, an inactive
 * parameter imputed as SMAC imputes it (its default: the middle of its range, a choice's
 * first value; ks_space_encode); candidates are decoded to points (inactive parameters
 * left out) and encoded again, so the acquisition is scored where trials would be.
 * The configurations of search.enqueue run first and count as trials of the design.
 */
#include "search_impl.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_qrng.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_sf_erf.h>
#include <stdlib.h>
#include <string.h>

typedef struct bayes_args {
    int n_initial;
    int candidates;
    double xi;
    int seed;                   /* -1: the study's */
} bayes_args;

static const ks_key bayes_keys[] = {
    {"n_initial", KS_KEY_INT, offsetof(bayes_args, n_initial), 0, 0, 100000, "0", NULL, 0},
    {"candidates", KS_KEY_INT, offsetof(bayes_args, candidates), 0, 10, 10000000, "2000", NULL,
     0},
    {"xi", KS_KEY_FLOAT, offsetof(bayes_args, xi), 0, 0, 100, "0.01", NULL, 0},
    {"seed", KS_KEY_INT, offsetof(bayes_args, seed), 0, 0, 2147483647, "-1", NULL,
     KS_KEY_NULLABLE | KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

#define SOBOL_MAX_DIMS 40       /* GSL's Sobol generator */
#define N_TOP 20                /* best distinct candidates kept */
#define N_REFINE 5              /* of which refined by Nelder–Mead */
#define N_SEEDS 5               /* best trials whose neighbourhoods are searched */
#define N_PERTURB 20            /* candidates around each */
#define FINITE_MAX 200000L      /* finite spaces up to this size are enumerated when needed */

static uint64_t method_seed(const bayes_args *a, const ks_history *h)
{
    return a->seed >= 0 ? (uint64_t)a->seed : h->seed;
}

static int initial_count(const bayes_args *a, const ks_history *h)
{
    int k;
    if (a->n_initial > 0)
        return a->n_initial;
    k = 2 * h->space->n;
    k = k < 5 ? 5 : k > 20 ? 20 : k;
    if (h->max_trials > 0 && k > h->max_trials / 2)
        k = h->max_trials / 2 > 2 ? h->max_trials / 2 : 2;
    return k;
}

/* The number of points of a space without floats (capped at FINITE_MAX + 1); 0 with floats. */
static long finite_size(const ks_space *sp)
{
    long size = ks_space_count(sp, 0, FINITE_MAX);
    return size < 0 ? FINITE_MAX + 1 : size;
}

/* The i-th point of a finite space (the last parameter fastest, inactive ones left out). */
static void finite_point(const ks_space *sp, long i, double *point)
{
    ks_space_point_at(sp, 0, i, point);
}

/* ks_space_decode, with floats kept within [min, max] (exp∘log may overshoot by an ulp). */
static void decode(const ks_space *sp, const double *u, double *point)
{
    ks_space_decode(sp, u, point);
    for (int i = 0; i < sp->n; i++)
        if (sp->params[i].kind == KS_PARAM_FLOAT && !isnan(point[i]))
            point[i] = fmin(fmax(point[i], sp->params[i].min), sp->params[i].max);
}

static int points_equal(const ks_space *sp, const double *a, const double *b)
{
    for (int i = 0; i < sp->n; i++) {
        double tol = sp->params[i].kind == KS_PARAM_FLOAT
                         ? 1e-12 * fmax(1.0, fmax(fabs(a[i]), fabs(b[i])))
                         : 1e-9;
        if (isnan(a[i]) || isnan(b[i])) {
            if (isnan(a[i]) != isnan(b[i]))
                return 0;   /* inactive in one only */
            continue;
        }
        if (!(fabs(a[i] - b[i]) <= tol))
            return 0;
    }
    return 1;
}

/* Is point one of the trials'? */
static int already_tried(const ks_history *h, const double *point)
{
    for (int i = 0; i < h->n; i++)
        if (h->trials[i].point && points_equal(h->space, h->trials[i].point, point))
            return 1;
    return 0;
}

/*
 * count points of the Sobol sequence from its output first (0-based, GSL's first output
 * being the centre), each shifted by shift modulo 1 (Cranley–Patterson), into out.
 * Returns 0, or -1 when out of memory or dims > SOBOL_MAX_DIMS.
 */
static int sobol_points(int dims, long first, int count, const double *shift, double *out)
{
    gsl_qrng *q;
    double *skip;
    if (dims > SOBOL_MAX_DIMS || !(q = gsl_qrng_alloc(gsl_qrng_sobol, (unsigned)dims)))
        return -1;
    skip = out;                 /* the skipped points are written over the first output */
    for (long i = 0; i < first; i++)
        gsl_qrng_get(q, skip);
    for (int j = 0; j < count; j++) {
        double *u = out + (size_t)j * dims;
        gsl_qrng_get(q, u);
        for (int k = 0; k < dims; k++) {
            u[k] += shift[k];
            u[k] -= floor(u[k]);
        }
    }
    gsl_qrng_free(q);
    return 0;
}

/*
 * Trial n of the initial design: the Sobol point n + 1 under the study's shift (uniform
 * draws when there are too many dimensions for Sobol).  Where integers and categories
 * make it a point already tried, uniform draws of the trial's own stream, then (in a
 * finite space) the first untried point; DONE when there is none.
 */
static ks_suggest_result initial_point(const bayes_args *a, const ks_history *h, int dims,
                                       double *point, ks_error *err)
{
    double *u = malloc((size_t)dims * 2 * sizeof *u), *shift = u ? u + dims : NULL;
    ks_rng *rng = NULL;
    uint64_t seed = method_seed(a, h);
    int found = 0;
    if (!u || ks_rng_new(seed, ks_hash_string("bayesian/shift"), 0, &rng) != KS_OK) {
        free(u);
        ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        return KS_SUGGEST_ERROR;
    }
    for (int k = 0; k < dims; k++)
        shift[k] = ks_rng_uniform(rng);
    ks_rng_reseed(rng, seed, ks_hash_string("bayesian/initial"), (uint64_t)h->n);
    if (sobol_points(dims, (long)h->n + 1, 1, shift, u) == 0) {
        decode(h->space, u, point);
        found = !already_tried(h, point);
    }
    for (int tries = 0; tries < 100 && !found; tries++) {
        for (int k = 0; k < dims; k++)
            u[k] = ks_rng_uniform(rng);
        decode(h->space, u, point);
        found = !already_tried(h, point);
    }
    ks_rng_free(rng);
    free(u);
    if (!found) {
        long size = finite_size(h->space);
        if (size == 0 || size > FINITE_MAX)
            return KS_SUGGEST_OK;       /* a repeat: surely a rare coincidence */
        for (long i = 0; i < size && !found; i++) {
            finite_point(h->space, i, point);
            found = !already_tried(h, point);
        }
        if (!found)
            return KS_SUGGEST_DONE;
    }
    return KS_SUGGEST_OK;
}

/* ------------------------------------------------------ the acquisition */

/* log of h(z) = z·Φ(z) + φ(z), accurate far in the lower tail (EI = σ·h(z)). */
static double log_h(double z)
{
    double t, c;
    if (z > -5)
        return log(z * gsl_cdf_ugaussian_P(z) + gsl_ran_ugaussian_pdf(z));
    /* z·Φ(z) + φ(z) = φ(t)·(1 − t/H(t)) with t = −z and H = φ/Q the hazard function */
    t = -z;
    c = t < 1e3 ? 1.0 - t / gsl_sf_hazard(t) : 1.0 / (t * t);
    if (!(c > 0))
        c = 1.0 / (t * t + 3.0);
    return -0.5 * t * t - 0.5 * log(2 * M_PI) + log(c);
}

/* The state of one suggestion. */
typedef struct bo {
    const ks_history *h;
    const ks_space *sp;
    int dims;
    ks_gp *gp;
    double target;              /* best − xi·sd */
    /* the best distinct candidates, by score */
    int n_top;
    double score[N_TOP];
    double *u_top;              /* N_TOP × dims */
    double *p_top;              /* N_TOP × space->n */
    /* scratch */
    double *u, *p;              /* dims, space->n */
    /* Nelder–Mead over the continuous coordinates of a start */
    int n_cont;
    int cont[KS_MAX_SEARCH_PARAMS];     /* their coordinates */
    const double *base;         /* the start, for the other coordinates */
} bo;

/* log EI at u (an encoded point); -inf where nothing is to be gained. */
static double score_at(const bo *b, const double *u)
{
    double mu, var, sigma;
    ks_gp_predict(b->gp, u, &mu, &var);
    sigma = sqrt(var);
    if (!isfinite(mu))
        return -INFINITY;
    if (!(sigma > 1e-300))
        return b->target - mu > 0 ? log(b->target - mu) : -INFINITY;
    return log(sigma) + log_h((b->target - mu) / sigma);
}

/* u → the nearest point of the space (into b->p) and back (in place). */
static void snap(const bo *b, double *u)
{
    decode(b->sp, u, b->p);
    ks_space_encode(b->sp, b->p, u);
}

/* Offer a snapped candidate u (its point in b->p) with its score to the top list. */
static void offer(bo *b, const double *u, double score)
{
    int at, n = b->sp->n, d = b->dims;
    if (score == -INFINITY && b->n_top > 0)
        return;
    for (int i = 0; i < b->n_top; i++)
        if (points_equal(b->sp, b->p_top + (size_t)i * n, b->p)) {
            if (score <= b->score[i])
                return;
            /* the same point scored higher (refined): take it out, put it back below */
            memmove(b->score + i, b->score + i + 1, (size_t)(b->n_top - i - 1) * sizeof *b->score);
            memmove(b->u_top + (size_t)i * d, b->u_top + (size_t)(i + 1) * d,
                    (size_t)(b->n_top - i - 1) * d * sizeof *b->u_top);
            memmove(b->p_top + (size_t)i * n, b->p_top + (size_t)(i + 1) * n,
                    (size_t)(b->n_top - i - 1) * n * sizeof *b->p_top);
            b->n_top--;
            break;
        }
    if (b->n_top == N_TOP && !(score > b->score[N_TOP - 1]))
        return;
    at = b->n_top < N_TOP ? b->n_top : N_TOP - 1;
    while (at > 0 && score > b->score[at - 1])
        at--;
    {
        int move = (b->n_top < N_TOP ? b->n_top : N_TOP - 1) - at;
        memmove(b->score + at + 1, b->score + at, (size_t)move * sizeof *b->score);
        memmove(b->u_top + (size_t)(at + 1) * d, b->u_top + (size_t)at * d,
                (size_t)move * d * sizeof *b->u_top);
        memmove(b->p_top + (size_t)(at + 1) * n, b->p_top + (size_t)at * n,
                (size_t)move * n * sizeof *b->p_top);
    }
    b->score[at] = score;
    memcpy(b->u_top + (size_t)at * d, u, (size_t)d * sizeof *u);
    memcpy(b->p_top + (size_t)at * n, b->p, (size_t)n * sizeof *b->p);
    if (b->n_top < N_TOP)
        b->n_top++;
}

/* Snap u (in place), score it and offer it. */
static void consider(bo *b, double *u)
{
    for (int k = 0; k < b->dims; k++)
        u[k] = u[k] < 0 ? 0 : u[k] > 1 ? 1 : u[k];
    snap(b, u);
    offer(b, u, score_at(b, u));
}

/* −log EI as a function of the continuous coordinates of b->base, for Nelder–Mead. */
static double refine_f(const gsl_vector *v, void *params)
{
    bo *b = params;
    double s;
    memcpy(b->u, b->base, (size_t)b->dims * sizeof *b->u);
    for (int j = 0; j < b->n_cont; j++) {
        double x = gsl_vector_get(v, (size_t)j);
        b->u[b->cont[j]] = x < 0 ? 0 : x > 1 ? 1 : x;
    }
    snap(b, b->u);
    s = score_at(b, b->u);
    return s == -INFINITY ? 1e300 : -s;
}

/* Refine the start u0 (a copy is taken) by Nelder–Mead; offer the result. */
static int refine(bo *b, const double *u0, double *base_copy)
{
    gsl_multimin_function fn = {refine_f, (size_t)b->n_cont, b};
    gsl_multimin_fminimizer *m =
        gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, (size_t)b->n_cont);
    gsl_vector *x = gsl_vector_alloc((size_t)b->n_cont), *step = gsl_vector_alloc((size_t)b->n_cont);
    int rc = 0;
    if (!m || !x || !step) {
        rc = -1;
    } else {
        memcpy(base_copy, u0, (size_t)b->dims * sizeof *base_copy);
        b->base = base_copy;
        for (int j = 0; j < b->n_cont; j++)
            gsl_vector_set(x, (size_t)j, base_copy[b->cont[j]]);
        gsl_vector_set_all(step, 0.05);
        if (gsl_multimin_fminimizer_set(m, &fn, x, step) == GSL_SUCCESS) {
            for (int it = 0; it < 100 * b->n_cont + 100; it++) {
                if (gsl_multimin_fminimizer_iterate(m) != GSL_SUCCESS)
                    break;
                if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(m), 1e-4) == GSL_SUCCESS)
                    break;
            }
            refine_f(m->x, b);  /* leaves the snapped best in b->u and its point in b->p */
            offer(b, b->u, score_at(b, b->u));
        }
    }
    if (m)
        gsl_multimin_fminimizer_free(m);
    if (x)
        gsl_vector_free(x);
    if (step)
        gsl_vector_free(step);
    return rc;
}

/* Move u (an encoded point) a little: Gaussian steps of sd on the ranges, and each
   categorical parameter redrawn with probability ¼. */
static void perturb(const bo *b, ks_rng *rng, double *u, double sd)
{
    int d = 0;
    for (int i = 0; i < b->sp->n; i++) {
        const ks_param *p = &b->sp->params[i];
        if (p->kind == KS_PARAM_CHOICE) {
            if (ks_rng_uniform(rng) < 0.25) {
                uint64_t c = ks_rng_index(rng, (uint64_t)p->n_values);
                for (int j = 0; j < p->n_values; j++)
                    u[d + j] = (uint64_t)j == c ? 1.0 : 0.0;
            }
            d += p->n_values;
        } else {
            u[d] += ks_rng_normal(rng, sd);
            d++;
        }
    }
}

/* ----------------------------------------------------------- suggest */

/* Which trials the GP sees, and as what: into y (minimized), rows of x. */
typedef struct observations {
    int n;                      /* rows */
    int n_obs;                  /* of which real results */
    double best, worst, sd;     /* over the real results */
    double *x, *y;
} observations;

static int objective_known(const ks_trial_view *t)
{
    return (t->status == KS_TRIAL_COMPLETE || t->status == KS_TRIAL_PRUNED ||
            t->status == KS_TRIAL_FAILED) && isfinite(t->objective);
}

static int pending(const ks_trial_view *t)
{
    return t->status == KS_TRIAL_QUEUED || t->status == KS_TRIAL_RUNNING ||
           t->status == KS_TRIAL_INTERRUPTED;
}

/* Trial i's objective, to be minimized. */
static double minimized(const ks_history *h, int i)
{
    return h->maximize ? -h->trials[i].objective : h->trials[i].objective;
}

/* Count the real results (best, worst, sd); with x and y allocated, fill them. */
static void gather(const ks_history *h, int dims, observations *o)
{
    double sum = 0, sum2 = 0;
    o->n = o->n_obs = 0;
    o->best = INFINITY;
    o->worst = -INFINITY;
    for (int i = 0; i < h->n; i++) {
        const ks_trial_view *t = &h->trials[i];
        if (t->point && objective_known(t)) {
            double y = minimized(h, i);
            o->n_obs++;
            sum += y;
            sum2 += y * y;
            o->best = fmin(o->best, y);
            o->worst = fmax(o->worst, y);
        }
    }
    o->sd = o->n_obs > 0 ? sqrt(fmax(sum2 / o->n_obs - (sum / o->n_obs) * (sum / o->n_obs), 0))
                         : 0;
    if (!o->x)
        return;
    for (int i = 0; i < h->n; i++) {
        const ks_trial_view *t = &h->trials[i];
        double y;
        if (!t->point)
            continue;
        if (objective_known(t))
            y = minimized(h, i);
        else if (pending(t))
            y = o->best;        /* the constant liar */
        else
            y = o->worst;       /* failed without a result */
        ks_space_encode(h->space, t->point, o->x + (size_t)o->n * dims);
        o->y[o->n++] = y;
    }
}

/* Candidates: Sobol + uniform + around the best trials, the best refined; into b's top list. */
static int search_candidates(bo *b, const bayes_args *a, ks_rng *rng, const observations *o)
{
    int d = b->dims, total = a->candidates, n_sobol = d <= SOBOL_MAX_DIMS ? total / 2 : 0;
    double *buf = malloc((size_t)d * 3 * sizeof *buf), *shift = buf ? buf + d : NULL;
    double *copy = buf ? buf + 2 * d : NULL;
    gsl_qrng *q = NULL;
    int rc = 0;
    if (!buf)
        return -1;
    /* Sobol under a shift of this suggestion's own */
    if (n_sobol > 0 && (q = gsl_qrng_alloc(gsl_qrng_sobol, (unsigned)d)) != NULL) {
        for (int k = 0; k < d; k++)
            shift[k] = ks_rng_uniform(rng);
        gsl_qrng_get(q, buf);   /* the centre */
        for (int j = 0; j < n_sobol; j++) {
            gsl_qrng_get(q, buf);
            for (int k = 0; k < d; k++) {
                buf[k] += shift[k];
                buf[k] -= floor(buf[k]);
            }
            consider(b, buf);
        }
        gsl_qrng_free(q);
    } else {
        n_sobol = 0;
    }
    for (int j = n_sobol; j < total; j++) {
        for (int k = 0; k < d; k++)
            buf[k] = ks_rng_uniform(rng);
        consider(b, buf);
    }
    /* around the N_SEEDS best results, at two scales */
    {
        int chosen[N_SEEDS], n_chosen = 0;
        for (int s = 0; s < N_SEEDS && s < o->n_obs; s++) {
            int best = -1;
            for (int i = 0; i < b->h->n; i++) {
                int taken = 0;
                if (!b->h->trials[i].point || !objective_known(&b->h->trials[i]))
                    continue;
                for (int c = 0; c < n_chosen; c++)
                    taken |= chosen[c] == i;
                if (!taken && (best < 0 || minimized(b->h, i) < minimized(b->h, best)))
                    best = i;
            }
            if (best < 0)
                break;
            chosen[n_chosen++] = best;
            for (int j = 0; j < N_PERTURB; j++) {
                ks_space_encode(b->sp, b->h->trials[best].point, buf);
                perturb(b, rng, buf, j % 2 ? 0.1 : 0.02);
                consider(b, buf);
            }
        }
    }
    /* the best few refined over their continuous coordinates */
    if (b->n_cont > 0) {
        int n_start = b->n_top < N_REFINE ? b->n_top : N_REFINE;
        double *starts = malloc((size_t)n_start * d * sizeof *starts + 1);
        if (!starts) {
            rc = -1;
        } else {
            memcpy(starts, b->u_top, (size_t)n_start * d * sizeof *starts);
            for (int s = 0; s < n_start && rc == 0; s++)
                rc = refine(b, starts + (size_t)s * d, copy);
            free(starts);
        }
    }
    free(buf);
    return rc;
}

/* The best candidate no trial has tried, into point; 1 if found. */
static int pick(const bo *b, double *point)
{
    for (int i = 0; i < b->n_top; i++)
        if (!already_tried(b->h, b->p_top + (size_t)i * b->sp->n)) {
            memcpy(point, b->p_top + (size_t)i * b->sp->n, (size_t)b->sp->n * sizeof *point);
            return 1;
        }
    return 0;
}

/* None of the top candidates is new: in a finite space, the best untried point of all
   (0 if every point was tried); else a uniform draw that is new, or the best anyway. */
static int pick_fallback(bo *b, ks_rng *rng, double *point)
{
    long size = finite_size(b->sp);
    double best = -INFINITY;
    int found = 0;
    if (size > 0 && size <= FINITE_MAX) {
        for (long i = 0; i < size; i++) {
            finite_point(b->sp, i, b->p);
            if (already_tried(b->h, b->p))
                continue;
            ks_space_encode(b->sp, b->p, b->u);
            {
                double s = score_at(b, b->u);
                if (!found || s > best) {
                    best = s;
                    memcpy(point, b->p, (size_t)b->sp->n * sizeof *point);
                    found = 1;
                }
            }
        }
        return found;
    }
    for (int tries = 0; tries < 1000; tries++) {
        ks_space_sample(b->sp, rng, point);
        ks_space_deactivate(b->sp, point);
        if (!already_tried(b->h, point))
            return 1;
    }
    memcpy(point, b->p_top, (size_t)b->sp->n * sizeof *point);
    return 1;
}

static ks_suggest_result bayes_suggest(const void *args, const ks_history *h,
                                       ks_suggestion *out, ks_error *err)
{
    const bayes_args *a = args;
    int dims = ks_space_dims(h->space);
    observations o;
    bo b;
    ks_history wh;
    ks_trial_view *wbuf = NULL;
    const ks_history *oh;
    ks_rng *rng = NULL;
    ks_suggest_result r = KS_SUGGEST_ERROR;
    ks_status s;
    if (h->max_trials > 0 && h->n >= h->max_trials)
        return KS_SUGGEST_DONE;
    out->continue_trial = -1;
    out->budget = h->max_epochs;
    if (ks_sampler_enqueued(h, out->point))
        return KS_SUGGEST_OK;
    /* the observations: a warm start's trials, then the study's own */
    if (!(oh = ks_history_observed(h, &wh, &wbuf))) {
        ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        return KS_SUGGEST_ERROR;
    }
    memset(&o, 0, sizeof o);
    gather(oh, dims, &o);
    if (oh->n < initial_count(a, h) || o.n_obs == 0) {
        free(wbuf);
        return initial_point(a, h, dims, out->point, err);
    }

    memset(&b, 0, sizeof b);
    b.h = oh;
    b.sp = h->space;
    b.dims = dims;
    o.x = malloc((size_t)oh->n * dims * sizeof *o.x);
    o.y = malloc((size_t)oh->n * sizeof *o.y);
    b.u_top = malloc((size_t)N_TOP * dims * sizeof *b.u_top);
    b.p_top = malloc((size_t)N_TOP * h->space->n * sizeof *b.p_top);
    b.u = malloc((size_t)dims * sizeof *b.u);
    b.p = malloc((size_t)h->space->n * sizeof *b.p);
    if (!o.x || !o.y || !b.u_top || !b.p_top || !b.u || !b.p ||
        ks_rng_new(method_seed(a, h), ks_hash_string("bayesian"), (uint64_t)h->n, &rng) != KS_OK) {
        ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        goto done;
    }
    gather(oh, dims, &o);
    if ((s = ks_gp_fit(o.x, o.y, o.n, dims, rng, &b.gp, err)) != KS_OK) {
        ks_error_prefix(err, "bayesian optimization at trial %d", h->n);
        goto done;
    }
    b.target = o.best - a->xi * o.sd;
    for (int i = 0, d = 0; i < h->space->n; i++) {
        const ks_param *p = &h->space->params[i];
        if (p->kind == KS_PARAM_CHOICE) {
            d += p->n_values;
        } else {
            b.cont[b.n_cont++] = d;
            d++;
        }
    }
    if (search_candidates(&b, a, rng, &o) != 0) {
        ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (pick(&b, out->point) || pick_fallback(&b, rng, out->point))
        r = KS_SUGGEST_OK;
    else
        r = KS_SUGGEST_DONE;    /* a finite space, every point tried */
done:
    free(wbuf);
    ks_gp_free(b.gp);
    ks_rng_free(rng);
    free(o.x);
    free(o.y);
    free(b.u_top);
    free(b.p_top);
    free(b.u);
    free(b.p);
    return r;
}

static ks_status bayes_check(const void *args, const ks_space *sp, const ks_history *h,
                             ks_error *err)
{
    const bayes_args *a = args;
    if (!sp || sp->n < 1 || ks_space_dims(sp) < 1)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "bayesian optimization needs at least one parameter to search");
    if (a->n_initial < 0 || a->candidates < 10 || !(a->xi >= 0) || !isfinite(a->xi))
        return ks_error_set(err, KS_ERR_CONFIG,
                            "bayesian optimization: n_initial must be >= 0, candidates >= 10 "
                            "and xi a number >= 0, got %d, %d and %g",
                            a->n_initial, a->candidates, a->xi);
    if (!h || h->max_trials <= 0)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "bayesian optimization needs max_trials: the number of trials to "
                            "run (e.g. max_trials: 30)");
    return KS_OK;
}

static int bayes_total(const void *args, const ks_history *h)
{
    long size = finite_size(h->space);
    (void)args;
    if (h->max_trials <= 0)
        return 0;
    return size > 0 && size < h->max_trials ? (int)size : h->max_trials;
}

const ks_sampler_ops ks_sampler_bayesian_ops = {
    "bayesian", bayes_keys, sizeof(bayes_args), bayes_check, bayes_suggest, bayes_total,
    NULL, NULL, 1,
};
