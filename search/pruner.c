/*
 * pruner.c — search.pruner: the rules that stop poor trials early, as Optuna's
 * MedianPruner and SuccessiveHalvingPruner (ASHA, Li et al. 2020) do, made
 * deterministic: a verdict reads only the trials numbered below the one judged (pure
 * functions of curves, for the controller and for tests), and the study file's syntax.
 */
#include "search_impl.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the median rule */

/* median: {n_startup_trials: 5, n_warmup_epochs: 0, interval: 1, n_min_trials: 1} */
typedef struct median_args {
    int n_startup_trials;       /* trials 0 … n − 1 are never pruned */
    int n_warmup_epochs;        /* epochs 0 … n − 1 are never checked */
    int interval;               /* then every interval-th epoch */
    int n_min_trials;           /* values at the epoch needed to judge */
} median_args;

static const ks_key median_keys[] = {
    {"n_startup_trials", KS_KEY_INT, offsetof(median_args, n_startup_trials), 0, 0, 1000000, "5",
     NULL, 0},
    {"n_warmup_epochs", KS_KEY_INT, offsetof(median_args, n_warmup_epochs), 0, 0, 1000000, "0",
     NULL, 0},
    {"interval", KS_KEY_INT, offsetof(median_args, interval), 0, 1, 1000000, "1", NULL, 0},
    {"n_min_trials", KS_KEY_INT, offsetof(median_args, n_min_trials), 0, 1, 1000000, "1", NULL,
     0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static int median_checks(const void *args, int number, int epoch)
{
    const median_args *a = args;
    return number >= a->n_startup_trials && epoch >= a->n_warmup_epochs &&
           (epoch - a->n_warmup_epochs) % a->interval == 0;
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return (a > b) - (a < b);
}

/* The best of a trial's curve up to epoch (NaN values skipped; NaN if none). */
static double best_until(const ks_trial_view *t, int maximize, int epoch)
{
    return ks_trial_value_within(t, maximize, epoch + 1);
}

/*
 * What the verdict at epoch can know of an earlier trial: its values up to the epoch
 * (it recorded it), that it ended before (complete, failed or pruned: it has none), or
 * not yet (still to train, or to resume).
 */
typedef enum { EARLIER_KNOWN, EARLIER_ENDED, EARLIER_UNKNOWN } earlier;

static earlier earlier_state(const ks_trial_view *t, int epoch)
{
    if (t->epochs > epoch)
        return EARLIER_KNOWN;
    if (t->status == KS_TRIAL_COMPLETE || t->status == KS_TRIAL_FAILED ||
        t->status == KS_TRIAL_PRUNED)
        return EARLIER_ENDED;
    return EARLIER_UNKNOWN;
}

/* The median of the n sorted values v and x more, each −inf (inf < 0) or +inf. */
static double median_with(const double *v, int n, int x, double inf)
{
    int total = n + x, i = (total - 1) / 2;
    double a, b;
    /* the merged list: x infinities before v (−inf) or after it (+inf) */
    a = inf < 0 ? (i < x ? inf : v[i - x]) : (i < n ? v[i] : inf);
    if (total % 2)
        return a;
    i++;
    b = inf < 0 ? (i < x ? inf : v[i - x]) : (i < n ? v[i] : inf);
    return 0.5 * (a + b);
}

/*
 * Optuna's median rule (PercentilePruner at 50): prune when the trial's best value so
 * far is worse than the median of the values at this epoch of the earlier trials that
 * reached it (NaN ones left out; the mean of the middle two for an even count); none
 * while fewer than n_min_trials reached it.  A trial with no value at all is pruned.
 * While some earlier trials may still reach the epoch, the verdict is given if it holds
 * whatever they do (their values anywhere, or none): the lowest and the highest median
 * they can make; else it waits.
 */
static int median_prune(const void *args, const ks_history *h, int number, int epoch)
{
    const median_args *a = args;
    double sign = h->maximize ? 1.0 : -1.0, lo = INFINITY, hi = -INFINITY, *v;
    double best = sign * best_until(&h->trials[number], h->maximize, epoch);
    int n = 0, m = 0, need = a->n_min_trials > 1 ? a->n_min_trials : 1;
    if (isnan(best))
        return KS_VERDICT_PRUNE;
    if (number == 0)
        return KS_VERDICT_GO_ON;
    if (!(v = malloc((size_t)number * sizeof *v)))
        return KS_VERDICT_NOMEM;
    /* larger is better from here (minimizing: the values negated, the median with them) */
    for (int j = 0; j < number; j++) {
        const ks_trial_view *t = &h->trials[j];
        earlier e = earlier_state(t, epoch);
        if (e == EARLIER_KNOWN && t->curve && isfinite(t->curve[epoch]))
            v[n++] = sign * t->curve[epoch];
        m += e == EARLIER_UNKNOWN;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    for (int x = 0; x <= m; x++) {
        double low, high;
        if (n + x < need)
            continue;
        low = median_with(v, n, x, -INFINITY);
        high = median_with(v, n, x, INFINITY);
        lo = low < lo ? low : lo;
        hi = high > hi ? high : hi;
    }
    free(v);
    /* pruned whatever they do: every count judged, and worse than the lowest median */
    if (n >= need && best < lo)
        return KS_VERDICT_PRUNE;
    /* goes on whatever they do: at least the highest median of the counts judged */
    if (best >= hi)
        return KS_VERDICT_GO_ON;
    return KS_VERDICT_WAIT;
}

const ks_pruner_ops ks_pruner_median_ops = {"median", median_keys, sizeof(median_args),
                                            median_checks, median_prune};

/* ------------------------------------------------------- successive halving */

/* asha: {min_epochs: 1, factor: 3}: rungs after min_epochs · factor^k epochs */
typedef struct asha_args {
    int min_epochs;
    int factor;
} asha_args;

static const ks_key asha_keys[] = {
    {"min_epochs", KS_KEY_INT, offsetof(asha_args, min_epochs), 0, 1, 1000000, "1", NULL, 0},
    {"factor", KS_KEY_INT, offsetof(asha_args, factor), 0, 2, 1000, "3", NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static int asha_checks(const void *args, int number, int epoch)
{
    const asha_args *a = args;
    long r = a->min_epochs;
    (void)number;
    while (r < (long)epoch + 1)
        r *= a->factor;
    return r == (long)epoch + 1;
}

/* The trials that go on of n at a rung: ⌊n / factor⌋, at least 1. */
static int keep_of(int n, int factor)
{
    return n / factor > 1 ? n / factor : 1;
}

/*
 * At a rung (r = epoch + 1 epochs), each trial's value is its best over its first r
 * epochs, as Hyperband's rungs rank them.  Of the n trials that reached the rung — the
 * earlier ones with a value there, and this one — the best ⌊n / factor⌋ go on (ties go
 * on together); while fewer than factor reached it, only a trial that none of them beats
 * (Optuna's rule: the first always goes on).  A trial with no value is pruned.  While
 * some earlier trials may still reach the rung, the verdict is given if it holds whatever
 * they do (each reaching it better, or not, or not at all); else it waits.
 */
static int asha_prune(const void *args, const ks_history *h, int number, int epoch)
{
    const asha_args *a = args;
    double v = best_until(&h->trials[number], h->maximize, epoch);
    int n = 1, better = 0, m = 0, go_on = 1;
    if (isnan(v))
        return KS_VERDICT_PRUNE;
    for (int j = 0; j < number; j++) {
        const ks_trial_view *t = &h->trials[j];
        earlier e = earlier_state(t, epoch);
        double w;
        m += e == EARLIER_UNKNOWN;
        if (e != EARLIER_KNOWN || isnan(w = best_until(t, h->maximize, epoch)))
            continue;
        n++;
        better += ks_objective_better(w, v, h->maximize);
    }
    /* pruned even if none of the m reaches the rung ahead of it, with the most places;
       goes on even if every one that reaches it is better */
    if (better >= keep_of(n + m, a->factor))
        return KS_VERDICT_PRUNE;
    for (int x = 0; x <= m; x++)
        go_on &= better + x < keep_of(n + x, a->factor);
    return go_on ? KS_VERDICT_GO_ON : KS_VERDICT_WAIT;
}

const ks_pruner_ops ks_pruner_asha_ops = {"asha", asha_keys, sizeof(asha_args), asha_checks,
                                          asha_prune};

/* ------------------------------------------------------------- the registry */

static const ks_pruner_ops *const pruners[] = {&ks_pruner_median_ops, &ks_pruner_asha_ops,
                                               NULL};

const ks_pruner_ops *ks_pruner_find(const char *name)
{
    for (int i = 0; pruners[i]; i++)
        if (strcmp(pruners[i]->name, name) == 0)
            return pruners[i];
    return NULL;
}

int ks_pruner_checks(const ks_pruner_ops *ops, const void *args, int number, int budget,
                     int epoch)
{
    return ops && epoch >= 0 && epoch < budget - 1 && ops->checks(args, number, epoch);
}

/* ----------------------------------------------------------- search.pruner */

void ks_study_free_pruner(ks_study *st)
{
    if (st->pruner_args)
        ks_keys_free(st->pruner->keys, st->pruner_args);
    free(st->pruner_args);
    st->pruner_args = NULL;
    st->pruner = NULL;
}

/* The pruner named by v (a string or a map's key), or an error naming the nearest and
   every pruner of the table. */
static ks_status find_pruner(const ks_value *v, const char *name, const ks_pruner_ops **out,
                             ks_error *err)
{
    const char *names[8], *near;
    char list[128] = "", msg[300];
    size_t len = 0;
    int n = 0;
    if ((*out = ks_pruner_find(name)))
        return KS_OK;
    for (int i = 0; pruners[i] && n < 7; i++)
        names[n++] = pruners[i]->name;
    names[n] = NULL;
    for (int i = 0; i < n && len < sizeof list; i++)
        len += (size_t)snprintf(list + len, sizeof list - len, "%s%s",
                                i == 0 ? "" : i == n - 1 ? " or " : ", ", names[i]);
    near = ks_nearest_name(name, (const char *const *)names);
    snprintf(msg, sizeof msg, "search.pruner: no pruner \"%s\"%s%s%s; expected %s", name,
             near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "", list);
    if (v->kind == KS_VALUE_MAP)
        return ks_error_at_key(err, KS_ERR_CONFIG, &v->items[0], "%s", msg);
    return ks_error_at(err, KS_ERR_CONFIG, v, "%s", msg);
}

ks_status ks_study_read_pruner(ks_study *st, const ks_value *v, ks_error *err)
{
    const ks_value *opts = NULL;
    const char *name;
    char got[64], what[64];
    ks_status s;
    st->pruner = NULL;
    st->pruner_args = NULL;
    if (!v || v->kind == KS_VALUE_NULL)
        return KS_OK;
    if (v->kind == KS_VALUE_STRING) {
        name = v->string;
    } else if (v->kind == KS_VALUE_MAP && v->n == 1) {
        name = v->items[0].key;
        opts = &v->items[0];
    } else {
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "search.pruner must be a pruner's name or a one-key map, e.g. "
                           "median or {asha: {min_epochs: 1, factor: 3}}, got %s",
                           ks_value_describe(v, got, sizeof got));
    }
    if ((s = find_pruner(v, name, &st->pruner, err)) != KS_OK)
        return s;
    if (st->method && st->method->full_budget) {
        st->pruner = NULL;
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "search.pruner: %s prunes its trials by itself (its brackets of "
                           "successive halving): remove search.pruner, or choose a method that "
                           "trains every trial to its budget",
                           st->method->name);
    }
    if (!(st->pruner_args = calloc(1, st->pruner->args_size))) {
        st->pruner = NULL;
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    ks_keys_defaults(st->pruner->keys, st->pruner_args);
    snprintf(what, sizeof what, "search.pruner (%s)", st->pruner->name);
    if ((s = ks_keys_read(st->pruner->keys, opts, what, st->pruner_args, err)) != KS_OK)
        ks_study_free_pruner(st);
    return s;
}
