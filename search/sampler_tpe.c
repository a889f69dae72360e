/*
 * sampler_tpe.c — the Tree-structured Parzen Estimator (Bergstra et al. 2011), with
 * Optuna's TPESampler defaults: random draws until n_startup_trials have finished; then
 * the finished trials split into the good ceil(gamma·n) (at most gamma_max) and the rest,
 * a Parzen estimator l(x) of the good and g(x) of the rest (parzen.c), n_ei_candidates
 * draws from l, and the one with the largest l(x)/g(x) — per parameter (univariate, as
 * Optuna by default) or over all parameters at once (multivariate: true).
 *
 * Options (in the search section, next to method: tpe), Optuna's names and defaults:
 *   n_startup_trials [10]  n_ei_candidates [24]  gamma [0.1]  gamma_max [25]
 *   consider_prior [true]  prior_weight [1.0]  consider_magic_clip [true]
 *   consider_endpoints [false]  multivariate [false]  constant_liar [false]
 *
 * The history decides everything: trial n's draws come from the stream (seed, "tpe", n);
 * before the model, its point is the random draw of its number (as random search and
 * Hyperband draw it, so that comparisons with them are paired).  Finished trials are the
 * complete ones with a result, ranked by it, then the pruned ones (more epochs first,
 * then their last value), as Optuna ranks them; failed trials take no part.  Pending
 * trials (queued, running, interrupted) are left out, or with constant_liar counted
 * among the bad.  A parameter whose value in a trial is not finite (inactive) is left
 * out of that trial's observations for it.
 *
 * Conditional spaces, as Optuna handles them.  Univariate: each parameter's estimators
 * are over the trials where it is active.  Multivariate: Optuna's group decomposition
 * (TPESampler(multivariate=True, group=True)): the finest partition of the parameters
 * such that every finished trial's set of active parameters is a union of groups; one
 * joint estimator per group over the trials that have it (one group of all parameters
 * when there are no conditions).  A parameter no finished trial has keeps the random
 * draw.  The conditions then apply to the chosen values: what is inactive is left out.
 * The configurations of search.enqueue run first and are trials like the others.
 */
#include "search_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct tpe_args {
    int n_startup_trials;
    int n_ei_candidates;
    double gamma;
    int gamma_max;
    int consider_prior;
    double prior_weight;
    int consider_magic_clip;
    int consider_endpoints;
    int multivariate;
    int constant_liar;
} tpe_args;

static const ks_key tpe_keys[] = {
    {"n_startup_trials", KS_KEY_INT, offsetof(tpe_args, n_startup_trials), 0, 0, 100000, "10",
     NULL, 0},
    {"n_ei_candidates", KS_KEY_INT, offsetof(tpe_args, n_ei_candidates), 0, 1, 100000, "24",
     NULL, 0},
    {"gamma", KS_KEY_FLOAT, offsetof(tpe_args, gamma), 0, 0, 1, "0.1", NULL, KS_KEY_MIN_EXCL},
    {"gamma_max", KS_KEY_INT, offsetof(tpe_args, gamma_max), 0, 1, 100000, "25", NULL, 0},
    {"consider_prior", KS_KEY_BOOL, offsetof(tpe_args, consider_prior), 0, 0, 0, "true", NULL,
     0},
    {"prior_weight", KS_KEY_FLOAT, offsetof(tpe_args, prior_weight), 0, 0, 1e6, "1.0", NULL,
     KS_KEY_MIN_EXCL},
    {"consider_magic_clip", KS_KEY_BOOL, offsetof(tpe_args, consider_magic_clip), 0, 0, 0,
     "true", NULL, 0},
    {"consider_endpoints", KS_KEY_BOOL, offsetof(tpe_args, consider_endpoints), 0, 0, 0,
     "false", NULL, 0},
    {"multivariate", KS_KEY_BOOL, offsetof(tpe_args, multivariate), 0, 0, 0, "false", NULL, 0},
    {"constant_liar", KS_KEY_BOOL, offsetof(tpe_args, constant_liar), 0, 0, 0, "false", NULL,
     0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

/* A finished trial in Optuna's order: complete by result, then pruned by epochs reached
   (more first) and their last value; then by number. */
typedef struct ranked {
    int number;
    int pruned;
    double key1, key2;          /* minimized */
} ranked;

static int ranked_cmp(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->pruned != b->pruned)
        return a->pruned - b->pruned;
    if (a->key1 != b->key1)
        return a->key1 < b->key1 ? -1 : 1;
    if (a->key2 != b->key2)
        return a->key2 < b->key2 ? -1 : 1;
    return a->number - b->number;
}

static int int_cmp(const void *pa, const void *pb)
{
    return *(const int *)pa - *(const int *)pb;
}

/* The finished trials, ranked, into r; returns how many. */
static int rank_finished(const ks_history *h, ranked *r)
{
    int n = 0;
    for (int i = 0; i < h->n; i++) {
        const ks_trial_view *t = &h->trials[i];
        double sign = h->maximize ? -1.0 : 1.0;
        if (!t->point || !isfinite(t->objective))
            continue;
        if (t->status == KS_TRIAL_COMPLETE) {
            r[n++] = (ranked){i, 0, sign * t->objective, 0};
        } else if (t->status == KS_TRIAL_PRUNED) {
            double last = t->curve && t->epochs > 0 ? t->curve[t->epochs - 1] : NAN;
            r[n++] = (ranked){i, 1, -(double)t->epochs,
                              sign * (isfinite(last) ? last : t->objective)};
        }
    }
    qsort(r, (size_t)n, sizeof *r, ranked_cmp);
    return n;
}

/* The good (below) and the bad (above) trials' points, each in trial-number order. */
typedef struct split {
    const double **below, **above;
    int n_below, n_above;
} split;

static void split_trials(const tpe_args *a, const ks_history *h, const ranked *r, int n,
                         int *numbers, split *s)
{
    int nb = (int)ceil(a->gamma * n);
    int m = 0;
    if (nb > a->gamma_max)
        nb = a->gamma_max;
    if (nb > n)
        nb = n;
    for (int i = 0; i < nb; i++)
        numbers[i] = r[i].number;
    qsort(numbers, (size_t)nb, sizeof *numbers, int_cmp);
    for (int i = 0; i < nb; i++)
        s->below[i] = h->trials[numbers[i]].point;
    s->n_below = nb;
    for (int i = nb; i < n; i++)
        numbers[m++] = r[i].number;
    for (int i = 0; a->constant_liar && i < h->n; i++)
        if (h->trials[i].point && ks_trial_pending(h->trials[i].status))
            numbers[m++] = i;
    qsort(numbers, (size_t)m, sizeof *numbers, int_cmp);
    for (int i = 0; i < m; i++)
        s->above[i] = h->trials[numbers[i]].point;
    s->n_above = m;
}

/*
 * The parameters dims: l and g over them, n_ei_candidates draws from l, the one with the
 * largest log l − log g (the first of equals) into point.  A draw equal to an earlier one
 * (integers and choices repeat) cannot change the choice and is not scored again.
 */
static ks_status choose(const tpe_args *a, const ks_history *h, const split *s, const int *dims,
                        int n_dims, ks_rng *rng, double *point)
{
    ks_parzen_options o = {a->consider_prior, a->prior_weight, a->consider_magic_clip,
                           a->consider_endpoints, a->multivariate};
    ks_parzen *l = NULL, *g = NULL;
    double cand[KS_MAX_SEARCH_PARAMS], best = -INFINITY;
    double *seen = malloc(sizeof *seen * (size_t)a->n_ei_candidates * n_dims);
    int found = 0;
    if (!seen || ks_parzen_new(h->space, dims, n_dims, s->below, s->n_below, &o, &l) != KS_OK ||
        ks_parzen_new(h->space, dims, n_dims, s->above, s->n_above, &o, &g) != KS_OK) {
        ks_parzen_free(l);
        free(seen);
        return KS_ERR_NOMEM;
    }
    memcpy(cand, point, sizeof *cand * (size_t)h->space->n);
    for (int c = 0; c < a->n_ei_candidates; c++) {
        double score, *mine = seen + (size_t)c * n_dims;
        int repeated = 0;
        ks_parzen_sample(l, rng, cand);
        for (int j = 0; j < n_dims; j++)
            mine[j] = cand[dims[j]];
        for (int e = 0; e < c && !repeated; e++)
            repeated = memcmp(seen + (size_t)e * n_dims, mine, sizeof *mine * (size_t)n_dims) == 0;
        if (repeated)
            continue;
        score = ks_parzen_log_pdf(l, cand) - ks_parzen_log_pdf(g, cand);
        if (!found || score > best) {
            found = !isnan(score);
            best = score;
            for (int j = 0; j < n_dims; j++)
                point[dims[j]] = cand[dims[j]];
        }
    }
    ks_parzen_free(l);
    ks_parzen_free(g);
    free(seen);
    return KS_OK;
}

/* The active parameters of a point, a bit each. */
static uint64_t active_set(const ks_space *sp, const double *point)
{
    uint64_t m = 0;
    for (int i = 0; i < sp->n; i++)
        if (!isnan(point[i]))
            m |= (uint64_t)1 << i;
    return m;
}

/* Optuna's _GroupDecomposedSearchSpace over the finished trials r[0..n) (in trial-number
   order, as Optuna adds them): the groups, a bitmask each, into groups; returns how many. */
static int decompose(const ks_history *h, const ranked *r, int n, int *numbers,
                     uint64_t *groups)
{
    int ng = 0;
    for (int i = 0; i < n; i++)
        numbers[i] = r[i].number;
    qsort(numbers, (size_t)n, sizeof *numbers, int_cmp);
    for (int t = 0; t < n; t++) {
        uint64_t set = active_set(h->space, h->trials[numbers[t]].point), rest = set;
        int before = ng;
        for (int g = 0; g < before; g++) {
            uint64_t in = groups[g] & set, out = groups[g] & ~set;
            rest &= ~groups[g];
            if (in && out && ng < KS_MAX_SEARCH_PARAMS) {
                groups[g] = in;
                groups[ng++] = out;
            }
        }
        if (rest && ng < KS_MAX_SEARCH_PARAMS)
            groups[ng++] = rest;
    }
    return ng;
}

static ks_suggest_result tpe_suggest(const void *args, const ks_history *h, ks_suggestion *out,
                                     ks_error *err)
{
    const tpe_args *a = args;
    const ks_space *sp = h->space;
    /* the observations: a warm start's trials, then the study's own (h: the new trial) */
    ks_history wh;
    ks_trial_view *wbuf = NULL;
    const ks_history *oh = ks_history_observed(h, &wh, &wbuf);
    size_t cap = (size_t)(oh && oh->n > 0 ? oh->n : 1);
    ranked *r = malloc(sizeof *r * cap);
    int *numbers = malloc(sizeof *numbers * cap);
    split s = {malloc(sizeof *s.below * cap), malloc(sizeof *s.above * cap), 0, 0};
    ks_rng *rng = NULL;
    ks_status st = KS_OK;
    int n;
    if (h->max_trials > 0 && h->n >= h->max_trials) {
        free(r);
        free(numbers);
        free(s.below);
        free(s.above);
        free(wbuf);
        return KS_SUGGEST_DONE;
    }
    out->continue_trial = -1;
    out->budget = h->max_epochs;
    if (!oh || !r || !numbers || !s.below || !s.above) {
        st = KS_ERR_NOMEM;
        goto done;
    }
    if (ks_sampler_enqueued(h, out->point))
        goto done;
    n = rank_finished(oh, r);
    /* the random draw of the trial's number: the start, and the base of every later point
       (every parameter drawn; the conditions apply at the end) */
    if ((st = ks_sampler_random_draw(sp, h->seed, h->n, out->point)) != KS_OK ||
        n < a->n_startup_trials || n == 0)
        goto conditions;
    if ((st = ks_rng_new(h->seed, ks_hash_string("tpe"), (uint64_t)h->n, &rng)) != KS_OK)
        goto done;
    if (a->multivariate) {
        uint64_t groups[KS_MAX_SEARCH_PARAMS];
        int ng = decompose(oh, r, n, numbers, groups);
        split_trials(a, oh, r, n, numbers, &s);
        for (int g = 0; g < ng && st == KS_OK; g++) {
            int dims[KS_MAX_SEARCH_PARAMS], nd = 0;
            for (int i = 0; i < sp->n; i++)
                if (groups[g] >> i & 1)
                    dims[nd++] = i;
            st = choose(a, oh, &s, dims, nd, rng, out->point);
        }
    } else {
        split_trials(a, oh, r, n, numbers, &s);
        for (int i = 0; i < sp->n && st == KS_OK; i++)
            st = choose(a, oh, &s, &i, 1, rng, out->point);
    }
conditions:
    ks_space_deactivate(sp, out->point);
done:
    ks_rng_free(rng);
    free(wbuf);
    free(r);
    free(numbers);
    free(s.below);
    free(s.above);
    if (st != KS_OK) {
        ks_error_set(err, st, "out of memory choosing trial %d's parameters", h->n);
        return KS_SUGGEST_ERROR;
    }
    return KS_SUGGEST_OK;
}

static ks_status tpe_check(const void *args, const ks_space *sp, const ks_history *h,
                           ks_error *err)
{
    (void)args;
    if (!sp || sp->n < 1)
        return ks_error_set(err, KS_ERR_CONFIG, "tpe needs at least one parameter to search");
    if (!h || h->max_trials <= 0)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "tpe needs max_trials: the number of trials to run (e.g. "
                            "max_trials: 30)");
    return KS_OK;
}

static int tpe_total(const void *args, const ks_history *h)
{
    (void)args;
    return h->max_trials > 0 ? h->max_trials : 0;
}

const ks_sampler_ops ks_sampler_tpe_ops = {
    "tpe", tpe_keys, sizeof(tpe_args), tpe_check, tpe_suggest, tpe_total, NULL, NULL, 1,
};
