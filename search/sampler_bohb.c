/*
 * sampler_bohb.c — BOHB (Falkner, Klein & Hutter, ICML 2018): Hyperband's brackets,
 * checkpoint continuation and asynchronous promotion (sampler_hyperband.c, used as it
 * is), with each new configuration drawn from density models instead of at random:
 * the configurations seen at the largest budget that has enough of them, split into the
 * best top_n_percent and the rest, a KDE of each (kde.c), num_samples proposals around the
 * good ones and the one with the largest l(x)/g(x); a random_fraction of the new
 * configurations stays random.
 *
 * Options (in the search section, next to method: bohb), HpBandSter's names and the
 * paper's defaults, besides Hyperband's max_epochs, factor and synchronous:
 *   min_points_in_model [0: d + 1, d the number of parameters; never fewer]
 *   top_n_percent [15]  num_samples [64]  random_fraction [1/3]
 *   bandwidth_factor [3]  min_bandwidth [0.001]
 *
 * The models, as HpBandSter builds them.  Every parameter is a coordinate in [0, 1]: a
 * float (on the log scale with log) or an int (as the cells of its grid, density.c)
 * linearly, a choice as the index of its value (categorical).  At budget b (one of the
 * plan's rung budgets) a trial counts once it was given b epochs or more and trained
 * them — or stopped before (early stopping, failure): its loss is its best objective
 * within the first b epochs (negated under maximize), +inf when it failed before b or has
 * no value.  With N of them, n_good = max(min_points, floor(top_n_percent·N/100)) and
 * n_bad = max(min_points, floor((100 − top_n_percent)·N/100)); sorted by loss (then by
 * number), the first n_good are the good and the next n_bad the bad.  A budget has a
 * model when N >= min_points and both sets have at least d + 1 points; the model of the
 * largest such budget is used.
 *
 * A proposal: a good point chosen uniformly, each continuous coordinate redrawn from a
 * Gaussian around it of bandwidth_factor × its bandwidth truncated to [0, 1], each
 * categorical one kept with probability 1 − λ (else uniform); scored by log l − log g at
 * the proposal (in log space: HpBandSter clips both densities at 1e-32 before the ratio).
 * The history decides everything: new trial n's draws come from the stream (seed,
 * "bohb", n); a random configuration is the random draw of its number, the one
 * Hyperband would try, so that BOHB and Hyperband of one seed share their random trials.
 * A parameter inactive in a trial (NaN) is imputed as HpBandSter imputes it, within the
 * good and within the bad set: from a point of the set chosen at random among those
 * where it is active (that point's values fill every dimension the row lacks, and again
 * while some remain), or, when none has it, a uniform value (stream (seed,
 * "bohb/impute", n)).  A proposal's inactive parameters are left out of the new point.
 */
#include "search_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct bohb_args {
    ks_hb_args hb;
    int min_points_in_model;
    double top_n_percent;
    int num_samples;
    double random_fraction;
    double bandwidth_factor;
    double min_bandwidth;
} bohb_args;

static const ks_key bohb_keys[] = {
    KS_HB_KEYS(bohb_args, hb),
    {"min_points_in_model", KS_KEY_INT, offsetof(bohb_args, min_points_in_model), 0, 0, 100000,
     "0", NULL, KS_KEY_NULLABLE},
    {"top_n_percent", KS_KEY_FLOAT, offsetof(bohb_args, top_n_percent), 0, 0, 100, "15", NULL,
     KS_KEY_MIN_EXCL | KS_KEY_MAX_EXCL},
    {"num_samples", KS_KEY_INT, offsetof(bohb_args, num_samples), 0, 1, 1000000, "64", NULL, 0},
    {"random_fraction", KS_KEY_FLOAT, offsetof(bohb_args, random_fraction), 0, 0, 1,
     "0.3333333333333333", NULL, 0},
    {"bandwidth_factor", KS_KEY_FLOAT, offsetof(bohb_args, bandwidth_factor), 0, 0, 1e6, "3",
     NULL, KS_KEY_MIN_EXCL},
    {"min_bandwidth", KS_KEY_FLOAT, offsetof(bohb_args, min_bandwidth), 0, 0, 1, "0.001", NULL,
     KS_KEY_MIN_EXCL},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

/* ---------------------------------------------------- the unit coordinates */

static double to_unit(const ks_param *p, double x)
{
    double lo, hi;
    ks_param_model_range(p, &lo, &hi);
    return hi > lo ? (ks_param_to_model(p, x) - lo) / (hi - lo) : 0.5;
}

static double from_unit(const ks_param *p, double u)
{
    double lo, hi;
    ks_param_model_range(p, &lo, &hi);
    return ks_param_from_model(p, lo + u * (hi - lo));
}

static void encode(const ks_space *sp, const double *point, double *u)
{
    for (int i = 0; i < sp->n; i++)
        u[i] = isnan(point[i])                        ? NAN       /* inactive: imputed */
               : sp->params[i].kind == KS_PARAM_CHOICE ? point[i]
                                                       : to_unit(&sp->params[i], point[i]);
}

/* HpBandSter's impute_conditional_data over the n rows of one set (d values each). */
static void impute(const ks_space *sp, double *rows, int n, ks_rng *rng, int *scratch)
{
    int d = sp->n;
    for (int r = 0; r < n; r++) {
        double *row = rows + (size_t)r * d;
        for (int j = 0; j < d; j++) {
            int m = 0;
            const double *from;
            if (!isnan(row[j]))
                continue;
            for (int q = 0; q < n; q++)
                if (!isnan(rows[(size_t)q * d + j]))
                    scratch[m++] = q;
            if (m == 0) {
                const ks_param *p = &sp->params[j];
                row[j] = p->kind == KS_PARAM_CHOICE
                             ? (double)ks_rng_index(rng, (uint64_t)p->n_values)
                             : ks_rng_uniform(rng);
                continue;
            }
            /* one donor fills every dimension this row lacks (those it has) */
            from = rows + (size_t)scratch[ks_rng_index(rng, (uint64_t)m)] * d;
            for (int k = j; k < d; k++)
                if (isnan(row[k]))
                    row[k] = from[k];
        }
    }
}

static void decode(const ks_space *sp, const double *u, double *point)
{
    for (int i = 0; i < sp->n; i++) {
        const ks_param *p = &sp->params[i];
        if (p->kind == KS_PARAM_CHOICE) {
            int v = (int)floor(u[i] + 0.5);
            point[i] = v < 0 ? 0 : v >= p->n_values ? p->n_values - 1 : v;
        } else {
            point[i] = from_unit(p, u[i]);
        }
    }
}

/* -------------------------------------------------- the data at a budget */

/* The trials with a result at budget b, sorted by loss (key: the loss, index: the trial's
   number); returns how many. */
static int observations_at(const ks_history *h, int b, ks_keyed *o)
{
    int n = 0;
    for (int i = 0; i < h->n; i++) {
        const ks_trial_view *t = &h->trials[i];
        double v;
        if (!t->point || t->budget < b || (ks_trial_pending(t->status) && t->epochs < b))
            continue;
        v = ks_trial_value_within(t, h->maximize, b);
        if (t->status == KS_TRIAL_FAILED && t->epochs < b)
            v = NAN;
        o[n].key = isfinite(v) ? (h->maximize ? -v : v) : INFINITY;
        o[n++].index = i;
    }
    qsort(o, (size_t)n, sizeof *o, ks_keyed_cmp);
    return n;
}

/* The good and bad sets' sizes for N results at a budget; 0 if it has no model. */
static int split_sizes(const bohb_args *a, int d, int N, int *good, int *bad)
{
    int min_points = a->min_points_in_model > d + 1 ? a->min_points_in_model : d + 1;
    int n_good = (int)floor(a->top_n_percent * N / 100);
    int n_bad = (int)floor((100 - a->top_n_percent) * N / 100);
    n_good = n_good > min_points ? n_good : min_points;
    n_bad = n_bad > min_points ? n_bad : min_points;
    *good = n_good < N ? n_good : N;
    *bad = n_bad < N - *good ? n_bad : N - *good;
    return N >= min_points && *good >= d + 1 && *bad >= d + 1;
}

ks_status ks_bohb_fit_model(const void *args, const ks_history *h, const int *budgets,
                            int n_budgets, ks_bohb_model *m)
{
    const bohb_args *a = args;
    const ks_space *sp = h->space;
    int d = sp->n, levels[KS_MAX_SEARCH_PARAMS], good = 0, bad = 0, N = 0, k = n_budgets - 1;
    ks_keyed *o = malloc(sizeof *o * (size_t)(h->n > 0 ? h->n : 1));
    double *rows = NULL;
    ks_status s = KS_OK;
    memset(m, 0, sizeof *m);
    if (!o)
        return KS_ERR_NOMEM;
    for (; k >= 0; k--) {
        N = observations_at(h, budgets[k], o);
        if (split_sizes(a, d, N, &good, &bad))
            break;
    }
    if (k < 0) {
        free(o);
        return KS_OK;
    }
    if (!(rows = malloc(sizeof *rows * (size_t)(good + bad) * d))) {
        free(o);
        return KS_ERR_NOMEM;
    }
    for (int i = 0; i < good + bad; i++)
        encode(sp, h->trials[o[i].index].point, rows + (size_t)i * d);
    if (ks_space_conditional(sp)) {
        ks_rng *rng = NULL;
        int *scratch = malloc(sizeof *scratch * (size_t)(good + bad));
        if (!scratch || ks_rng_new(h->seed, ks_hash_string("bohb/impute"), (uint64_t)h->n,
                                   &rng) != KS_OK) {
            free(scratch);
            free(rows);
            free(o);
            return KS_ERR_NOMEM;
        }
        impute(sp, rows, good, rng, scratch);
        impute(sp, rows + (size_t)good * d, bad, rng, scratch);
        ks_rng_free(rng);
        free(scratch);
    }
    for (int j = 0; j < d; j++)
        levels[j] = sp->params[j].kind == KS_PARAM_CHOICE ? sp->params[j].n_values : 0;
    m->budget = budgets[k];
    if ((s = ks_kde_fit(rows, good, d, levels, a->min_bandwidth, &m->good)) == KS_OK)
        s = ks_kde_fit(rows + (size_t)good * d, bad, d, levels, a->min_bandwidth, &m->bad);
    free(rows);
    free(o);
    return s;
}

/* --------------------------------------------------------- proposals */

/* The best of num_samples proposals from the model into point; 0 if none scored. */
static int propose(const bohb_args *a, const ks_space *sp, const ks_bohb_model *m, ks_rng *rng,
                   double *point)
{
    double u[KS_MAX_SEARCH_PARAMS], best_u[KS_MAX_SEARCH_PARAMS], best = NAN;
    for (int c = 0; c < a->num_samples; c++) {
        double score;
        ks_kde_propose(m->good, rng, a->bandwidth_factor, u);
        score = ks_kde_log_pdf(m->good, u) - ks_kde_log_pdf(m->bad, u);
        if (!isnan(score) && (isnan(best) || score > best)) {
            best = score;
            memcpy(best_u, u, sizeof *u * (size_t)sp->n);
        }
    }
    if (isnan(best))
        return 0;
    decode(sp, best_u, point);
    ks_space_deactivate(sp, point);
    return 1;
}

static ks_status bohb_new_point(const void *user, const ks_history *h, const int *budgets,
                                int n_budgets, double *point, ks_error *err)
{
    const bohb_args *a = user;
    ks_bohb_model m;
    ks_rng *rng = NULL;
    ks_status s;
    if ((s = ks_sampler_random_point(h->space, h->seed, h->n, point)) != KS_OK ||
        (s = ks_rng_new(h->seed, ks_hash_string("bohb"), (uint64_t)h->n, &rng)) != KS_OK)
        return ks_error_set(err, s, "out of memory drawing trial %d's parameters", h->n);
    /* the random draw stays when it is a random configuration, or there is no model yet,
       or no proposal could be scored */
    if (ks_rng_uniform(rng) >= a->random_fraction) {
        /* the observations: a warm start's trials, then the study's own */
        ks_history wh;
        ks_trial_view *wbuf = NULL;
        const ks_history *oh = ks_history_observed(h, &wh, &wbuf);
        memset(&m, 0, sizeof m);
        if (!oh)
            s = KS_ERR_NOMEM;
        else if ((s = ks_bohb_fit_model(a, oh, budgets, n_budgets, &m)) == KS_OK && m.good)
            propose(a, h->space, &m, rng, point);
        ks_kde_free(m.good);
        ks_kde_free(m.bad);
        free(wbuf);
    }
    ks_rng_free(rng);
    if (s != KS_OK)
        return ks_error_set(err, s, "out of memory modelling trial %d's parameters", h->n);
    return KS_OK;
}

static ks_status bohb_check(const void *args, const ks_space *sp, const ks_history *h,
                            ks_error *err)
{
    if (!sp || sp->n < 1)
        return ks_error_set(err, KS_ERR_CONFIG, "bohb needs at least one parameter to search");
    return ks_hyperband_check(&((const bohb_args *)args)->hb, h, err);
}

static ks_suggest_result bohb_suggest(const void *args, const ks_history *h, ks_suggestion *out,
                                      ks_error *err)
{
    const bohb_args *a = args;
    ks_hb_source src = {bohb_new_point, a};
    return ks_hyperband_suggest(&a->hb, h, &src, out, err);
}

static int bohb_total(const void *args, const ks_history *h)
{
    return ks_hyperband_total(&((const bohb_args *)args)->hb, h);
}

/* BOHB promotes trials as Hyperband does: a trial is done at R */
static int bohb_full_budget(const void *args, const ks_history *h)
{
    return ks_hyperband_full_budget(&((const bohb_args *)args)->hb, h);
}

/* and settles them as Hyperband does */
static ks_status bohb_settled(const void *args, const ks_history *h, unsigned char *settled,
                              ks_error *err)
{
    return ks_hyperband_settled(&((const bohb_args *)args)->hb, h, settled, err);
}

const ks_sampler_ops ks_sampler_bohb_ops = {
    "bohb", bohb_keys, sizeof(bohb_args), bohb_check, bohb_suggest, bohb_total, bohb_full_budget,
    bohb_settled, 1,
};
