/*
 * sampler_hyperband.c — Hyperband (Li et al. 2018, JMLR 18(185)): brackets of successive
 * halving over random configurations, run with ASHA's asynchronous promotion rule
 * (Li et al. 2020) so that parallel workers never wait while a configuration could be
 * started; the bracket table of the paper; a promoted trial continues from its epochs.
 */
#include "search_impl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/*
 * The schedule.  For R (max_epochs) and η (factor): s_max = floor(log_η R), computed in
 * integers (R = 81, η = 3 gives 4); brackets s = s_max..0 with n = ceil((s_max+1)/(s+1)·η^s)
 * configurations and rungs i = 0..s of n_i = floor(n·η^−i) configurations trained to
 * r_i = R·η^(i−s) epochs.  Epoch budgets are integers: r_i rounded to the nearest (at
 * least 1; the top rung is R itself).  They are exact when R is a power of η.
 *
 * Trial numbers map to brackets in order: the first n(s_max) new configurations form
 * bracket s_max, the next n(s_max − 1) bracket s_max − 1, …, and then the cycle starts
 * again at s_max (Li et al.'s outer loop) until max_trials configurations; without
 * max_trials one pass of every bracket (Σ n configurations).  A configuration's point is
 * the random draw of its trial number (ks_sampler_random_point), or what the caller's
 * ks_hb_source gives (BOHB: a draw from its density models); the configurations of
 * search.enqueue come first (trials 0 .. k−1, in the first bracket, pruned like others).
 *
 * The rule, a function of the history.  A trial sits at rung k of its bracket when its
 * budget is r_k; it has completed rung k when its budget is above r_k (it was promoted
 * from it) or is r_k and it is no longer queued, running or interrupted.  Its value at
 * rung k is the best objective of its first r_k epochs (of fewer when it stopped early);
 * a trial that failed at rung k, or has no value, ranks last there.  When a worker asks:
 *   1. in the oldest bracket first, from its highest rung down, look for a promotion:
 *      of the m trials that completed rung k, of which P were promoted, if P < floor(m/η)
 *      the best trial in the top floor(m/η) that was not promoted and did not fail is
 *      promoted: it continues (same number) to budget r_(k+1);
 *   2. otherwise, if fewer than the planned configurations were started, a new one starts
 *      at the bottom rung of the bracket its number falls in;
 *   3. otherwise WAIT while trials are pending (a result may allow a promotion), else DONE.
 * The cap P < floor(m/η) keeps each rung's final size at the paper's n_i and the bracket's
 * epochs at successive halving's (continued trials train only their new epochs), while
 * workers are never kept waiting for a rung to be complete (ASHA).  With synchronous: true
 * a rung promotes only once it is complete — all its configurations started and finished
 * and nothing more to come from the rung below — which with one worker is exactly Li et
 * al.'s successive halving; with more workers, workers go on to the next bracket's new
 * configurations while a rung completes.
 *
 * A study whose R grew (`ksearch STUDY --grow`, h->parts) is parts of trials, each
 * planned with its own R: the brackets of a part start at its first trial, in the order
 * above; an older part ends where the next begins (its last bracket keeps the trials it
 * had: those still promote, to at most that part's R), and the new configurations fill
 * the last part's brackets from its largest one.  A trial complete at an older part's R
 * is done (ctl_may_promote: it is not promoted to the new R).  Without max_trials the
 * grown study runs one pass of the last part's brackets after its first trial.
 */

typedef struct hb_args {
    ks_hb_args hb;
} hb_args;

static const ks_key hb_keys[] = {KS_HB_KEYS(hb_args, hb), {0}};

#define HB_MAX_BRACKETS 16

int ks_hyperband_brackets(int R, int eta, ks_hb_bracket *out, int max)
{
    int s_max = 0;
    long long p = 1;
    if (R < 1 || eta < 2)
        return 0;
    while (p * eta <= R) {      /* the largest s with η^s <= R, without floating error */
        p *= eta;
        s_max++;
    }
    for (int s = s_max; s >= 0; s--) {
        ks_hb_bracket *b;
        long long eta_s = 1, n;
        int n_rungs = s + 1 < 16 ? s + 1 : 16;
        if (s_max - s >= max)
            break;
        b = &out[s_max - s];
        for (int i = 0; i < s; i++)
            eta_s *= eta;
        n = ((long long)(s_max + 1) * eta_s + s) / (s + 1);    /* ceil((s_max+1)·η^s/(s+1)) */
        b->s = s;
        b->n_rungs = n_rungs;
        for (int i = 0; i < n_rungs; i++) {
            long long eta_i = 1, eta_rest = 1;
            for (int k = 0; k < i; k++)
                eta_i *= eta;
            for (int k = i; k < s; k++)
                eta_rest *= eta;
            b->rungs[i].n = (int)(n / eta_i);
            b->rungs[i].r = (double)R / (double)eta_rest;
        }
    }
    return s_max + 1;
}

/* The schedule of one study: the table, integer budgets, where each bracket starts. */
typedef struct hb_plan {
    int R, eta, sync;
    int n_brackets;
    ks_hb_bracket br[HB_MAX_BRACKETS];
    int budget[HB_MAX_BRACKETS][16];    /* r_i rounded */
    long first[HB_MAX_BRACKETS];        /* the bracket's first configuration in a cycle */
    long cycle;                         /* configurations in one pass of every bracket */
    long limit;                         /* configurations in all */
} hb_plan;

static ks_status hb_plan_make(const ks_hb_args *a, const ks_history *h, hb_plan *p,
                              ks_error *err)
{
    p->R = a->max_epochs > 0 ? a->max_epochs : h->max_epochs;
    p->eta = a->factor;
    p->sync = a->synchronous;
    if (p->R < 1)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "hyperband needs max_epochs >= 1 (R, the most epochs a trial may "
                            "get), got %d", p->R);
    if (p->eta < 2)
        return ks_error_set(err, KS_ERR_CONFIG, "hyperband needs factor >= 2, got %d", p->eta);
    p->n_brackets = ks_hyperband_brackets(p->R, p->eta, p->br, HB_MAX_BRACKETS);
    if (p->n_brackets > HB_MAX_BRACKETS)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "hyperband with max_epochs %d and factor %d would have %d brackets, "
                            "more than %d: use a larger factor or fewer max_epochs",
                            p->R, p->eta, p->n_brackets, HB_MAX_BRACKETS);
    p->cycle = 0;
    for (int j = 0; j < p->n_brackets; j++) {
        const ks_hb_bracket *b = &p->br[j];
        p->first[j] = p->cycle;
        p->cycle += b->rungs[0].n;
        for (int i = 0; i < b->n_rungs; i++) {
            double r = b->rungs[i].r;
            int e = i == b->n_rungs - 1 ? p->R : (int)floor(r + 0.5);
            p->budget[j][i] = e < 1 ? 1 : e;
        }
    }
    p->limit = h->max_trials > 0 ? h->max_trials : p->cycle;
    return KS_OK;
}

/* The parts of the trials (a study whose R never grew: one, from trial 0, with the
   args' R) into parts; returns how many. */
static int plan_parts(const ks_hb_args *a, const ks_history *h, ks_budget_part *parts)
{
    if (h->n_parts < 2 || !h->parts) {
        parts[0].first = 0;
        parts[0].max_epochs = a->max_epochs;
        return 1;
    }
    memcpy(parts, h->parts, sizeof *parts * (size_t)h->n_parts);
    parts[h->n_parts - 1].max_epochs = a->max_epochs;
    return h->n_parts;
}

/* The plan of part k of n (its R; the last part's limit counts from its first trial). */
static ks_status part_plan(const ks_hb_args *a, const ks_history *h,
                           const ks_budget_part *parts, int k, int n, hb_plan *p, ks_error *err)
{
    ks_hb_args pa = *a;
    ks_status s;
    pa.max_epochs = parts[k].max_epochs;
    if ((s = hb_plan_make(&pa, h, p, err)) != KS_OK)
        return s;
    if (k == n - 1 && h->max_trials <= 0)
        p->limit += parts[k].first;
    return KS_OK;
}

/* The trial's rung: the highest whose budget it has reached. */
static int rung_of(const hb_plan *p, int j, int budget)
{
    int k = 0;
    while (k + 1 < p->br[j].n_rungs && p->budget[j][k + 1] <= budget)
        k++;
    return k;
}

double ks_trial_value_within(const ks_trial_view *t, int maximize, int epochs)
{
    double best = NAN;
    int n = t->epochs < epochs ? t->epochs : epochs;
    if (!t->curve)
        return t->epochs <= epochs ? t->objective : NAN;
    for (int e = 0; e < n; e++) {
        double v = t->curve[e];
        if (isfinite(v) && (isnan(best) || (maximize ? v > best : v < best)))
            best = v;
    }
    return best;
}

/* A trial that completed a rung, ranked: bad (failed there, no value) last, then by value. */
typedef struct hb_entry {
    int bad;
    double key;                 /* the value, negated when larger is better */
    int number;
    int here;                   /* at this rung (not promoted from it) */
    int eligible;               /* at this rung, not promoted, not failed: may be promoted */
} hb_entry;

static int entry_cmp(const void *pa, const void *pb)
{
    const hb_entry *a = pa, *b = pb;
    if (a->bad != b->bad)
        return a->bad - b->bad;
    if (!a->bad && a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return (a->number > b->number) - (a->number < b->number);
}

/*
 * Of a closed rung's m trials ranked in scratch (no more will complete it), cap may be
 * promoted and promoted were: the best eligible ones of the top cap will be while fewer
 * than cap were; every other trial at the rung is settled (it stays where it is).
 */
static void rung_settled(const hb_entry *scratch, int m, int cap, int promoted,
                         unsigned char *settled)
{
    int slots = cap - promoted;
    for (int i = 0; i < m; i++) {
        if (!scratch[i].here)
            continue;
        if (scratch[i].eligible && i < cap && slots > 0)
            slots--;
        else
            settled[scratch[i].number] = 1;
    }
}

/*
 * Look for a promotion in the bracket of cycle position j whose trials are numbers
 * [begin, end) (planned: [begin, begin + planned)).  Returns the trial to promote and
 * sets *to_rung, or -1.  scratch holds end − begin entries.  With settled (not NULL),
 * the trials of the bracket's closed rungs that will never be promoted are marked 1.
 */
static int bracket_promotion(const hb_plan *p, const ks_history *h, int j, int begin, int end,
                             long planned, hb_entry *scratch, int *to_rung,
                             unsigned char *settled)
{
    const ks_hb_bracket *b = &p->br[j];
    int found = -1;
    int closed = (long)(end - begin) >= planned;    /* every configuration started */
    for (int k = 0; k + 1 < b->n_rungs; k++) {
        int m = 0, promoted = 0, pending_here = 0, cap, cand = -1, may;
        for (int t = begin; t < end; t++) {
            const ks_trial_view *v = &h->trials[t];
            int level = rung_of(p, j, v->budget);
            hb_entry *e;
            if (level < k)
                continue;
            if (level == k && ks_trial_pending(v->status)) {
                pending_here = 1;
                continue;
            }
            e = &scratch[m++];
            e->number = t;
            e->key = ks_trial_value_within(v, h->maximize, p->budget[j][k]);
            e->bad = isnan(e->key) || (level == k && v->status == KS_TRIAL_FAILED);
            if (h->maximize)
                e->key = -e->key;
            e->here = level == k;
            e->eligible = level == k && !e->bad;
            promoted += level > k;
        }
        closed = closed && !pending_here;
        cap = m / p->eta;
        may = promoted < cap && (closed || !p->sync);
        if (may || (settled && closed))
            qsort(scratch, (size_t)m, sizeof *scratch, entry_cmp);
        for (int i = 0; may && i < cap && cand < 0; i++)
            if (scratch[i].eligible)
                cand = scratch[i].number;
        if (settled && closed)
            rung_settled(scratch, m, cap, promoted, settled);
        if (cand >= 0) {
            found = cand;       /* the highest rung's candidate wins */
            *to_rung = k + 1;
        }
        closed = closed && cand < 0;    /* the rung above still receives trials */
    }
    return found;
}

ks_status ks_hyperband_check(const ks_hb_args *a, const ks_history *h, ks_error *err)
{
    hb_plan p;
    if (!h)
        return ks_error_set(err, KS_ERR_INTERNAL, "hyperband's check needs the study");
    return hb_plan_make(a, h, &p, err);
}

/* The plan's distinct rung budgets, ascending, into out; returns how many. */
static int plan_budgets(const hb_plan *p, int *out)
{
    int n = 0;
    for (int j = 0; j < p->n_brackets; j++)
        for (int i = 0; i < p->br[j].n_rungs; i++) {
            int b = p->budget[j][i], at = n;
            for (int k = 0; k < n; k++)
                if (out[k] >= b) {
                    at = k;
                    break;
                }
            if (at < n && out[at] == b)
                continue;
            memmove(out + at + 1, out + at, sizeof *out * (size_t)(n - at));
            out[at] = b;
            n++;
        }
    return n;
}

/*
 * A promotion among the brackets of part k (trials [first, end) of its plan p; the last
 * part's brackets go on to its limit): the trial and its new budget, or -1.  With
 * settled (not NULL) every bracket is looked at and the trials its closed rungs will never
 * promote are marked (see bracket_promotion); the result is then -1.
 */
static int part_promotion(const hb_plan *p, const ks_history *h, int first, int end, int last,
                          hb_entry *scratch, int *budget, unsigned char *settled)
{
    for (long begin = first, q = 0; begin < end; q++) {
        int j = (int)(q % p->n_brackets);
        long past = begin + p->br[j].rungs[0].n;   /* past the bracket's configurations */
        long stop = !last ? end : p->limit > h->n ? p->limit : h->n;
        long planned = (past < stop ? past : stop) - begin;
        int bend = (int)(past < end ? past : end), to_rung = 0;
        int t = bracket_promotion(p, h, j, (int)begin, bend, planned, scratch, &to_rung,
                                  settled);
        if (t >= 0 && !settled) {
            *budget = p->budget[j][to_rung];
            return t;
        }
        begin = past;
    }
    return -1;
}

/*
 * A promotion anywhere in the plan: every part's brackets in the order they were started,
 * each over its trial numbers (part_promotion).  *trial is the trial to continue, or −1
 * for none (then *p is the last part's plan); with settled, every bracket is looked at
 * and *trial is −1.  Fails when a part cannot be planned.
 */
static ks_status plan_promotion(const ks_hb_args *a, const ks_history *h,
                                const ks_budget_part *parts, int n_parts, hb_plan *p,
                                hb_entry *scratch, int *trial, int *budget,
                                unsigned char *settled, ks_error *err)
{
    ks_status s;
    *trial = -1;
    for (int k = 0; k < n_parts && *trial < 0; k++) {
        int last = k == n_parts - 1, end = last ? h->n : parts[k + 1].first;
        if ((s = part_plan(a, h, parts, k, n_parts, p, err)) != KS_OK)
            return s;
        *trial = part_promotion(p, h, parts[k].first, end < h->n ? end : h->n, last, scratch,
                                budget, settled);
    }
    return KS_OK;
}

ks_suggest_result ks_hyperband_suggest(const ks_hb_args *args, const ks_history *h,
                                       const ks_hb_source *src, ks_suggestion *out,
                                       ks_error *err)
{
    hb_plan p;
    hb_entry *scratch;
    ks_budget_part parts[KS_MAX_BUDGET_PARTS];
    int any_pending = 0, n_parts = plan_parts(args, h, parts), budget = 0, cont;
    ks_status s;
    scratch = malloc(sizeof *scratch * (size_t)(h->n > 0 ? h->n : 1));
    if (!scratch) {
        ks_error_set(err, KS_ERR_NOMEM, "out of memory ranking %d trials", h->n);
        return KS_SUGGEST_ERROR;
    }
    s = plan_promotion(args, h, parts, n_parts, &p, scratch, &cont, &budget, NULL, err);
    free(scratch);
    if (s != KS_OK)
        return KS_SUGGEST_ERROR;
    if (cont >= 0) {
        out->continue_trial = cont;
        out->budget = budget;
        return KS_SUGGEST_OK;
    }
    for (int t = 0; t < h->n; t++)
        any_pending |= ks_trial_pending(h->trials[t].status);
    /* p: the last part's plan */
    if (h->n < p.limit) {
        long off = (h->n - parts[n_parts - 1].first) % p.cycle;
        int j = 0;
        while (j + 1 < p.n_brackets && p.first[j + 1] <= off)
            j++;
        if (ks_sampler_enqueued(h, out->point)) {
            /* search.enqueue's configurations are the first bracket's first */
        } else if (src) {
            int budgets[HB_MAX_BRACKETS * 16];
            if (src->new_point(src->user, h, budgets, plan_budgets(&p, budgets), out->point,
                               err) != KS_OK)
                return KS_SUGGEST_ERROR;
        } else if (ks_sampler_random_point(h->space, h->seed, h->n, out->point) != KS_OK) {
            ks_error_set(err, KS_ERR_NOMEM, "out of memory drawing trial %d's parameters",
                         h->n);
            return KS_SUGGEST_ERROR;
        }
        out->continue_trial = -1;
        out->budget = p.budget[j][0];
        return KS_SUGGEST_OK;
    }
    return any_pending ? KS_SUGGEST_WAIT : KS_SUGGEST_DONE;
}

ks_status ks_hyperband_settled(const ks_hb_args *a, const ks_history *h, unsigned char *settled,
                               ks_error *err)
{
    hb_plan p;
    hb_entry *scratch;
    ks_budget_part parts[KS_MAX_BUDGET_PARTS];
    int n_parts = plan_parts(a, h, parts), budget = 0, t;
    ks_status s;
    memset(settled, 0, (size_t)(h->n > 0 ? h->n : 0));
    if (!(scratch = malloc(sizeof *scratch * (size_t)(h->n > 0 ? h->n : 1))))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory ranking %d trials", h->n);
    s = plan_promotion(a, h, parts, n_parts, &p, scratch, &t, &budget, settled, err);
    free(scratch);
    return s;
}

int ks_hyperband_total(const ks_hb_args *a, const ks_history *h)
{
    hb_plan p;
    ks_budget_part parts[KS_MAX_BUDGET_PARTS];
    int n = plan_parts(a, h, parts);
    if (part_plan(a, h, parts, n - 1, n, &p, NULL) != KS_OK)
        return 0;
    return p.limit > INT_MAX ? INT_MAX : (int)p.limit;
}

int ks_hyperband_full_budget(const ks_hb_args *a, const ks_history *h)
{
    hb_plan p;
    if (hb_plan_make(a, h, &p, NULL) != KS_OK)
        return h->max_epochs;
    return p.R;
}

static ks_status hb_check(const void *args, const ks_space *sp, const ks_history *h,
                          ks_error *err)
{
    (void)sp;
    return ks_hyperband_check(&((const hb_args *)args)->hb, h, err);
}

static ks_suggest_result hb_suggest(const void *args, const ks_history *h, ks_suggestion *out,
                                    ks_error *err)
{
    return ks_hyperband_suggest(&((const hb_args *)args)->hb, h, NULL, out, err);
}

static int hb_total(const void *args, const ks_history *h)
{
    return ks_hyperband_total(&((const hb_args *)args)->hb, h);
}

static int hb_full_budget(const void *args, const ks_history *h)
{
    return ks_hyperband_full_budget(&((const hb_args *)args)->hb, h);
}

static ks_status hb_settled(const void *args, const ks_history *h, unsigned char *settled,
                            ks_error *err)
{
    return ks_hyperband_settled(&((const hb_args *)args)->hb, h, settled, err);
}

const ks_sampler_ops ks_sampler_hyperband_ops = {
    "hyperband", hb_keys, sizeof(hb_args), hb_check, hb_suggest, hb_total, hb_full_budget,
    hb_settled,
};
