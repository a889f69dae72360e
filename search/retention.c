/*
 * retention.c — search.checkpoints.retain: which trials' checkpoints stay in study.db
 * once the trials are final.  The decision is a function of the history (the method
 * says which trials it will never continue); the controller, the one writer, applies it
 * after every job that ends, so that a long study stays small while it runs, and at the
 * study's end, when the free pages go back to the file system.
 */
#include "controller_impl.h"

#include <stdlib.h>
#include <string.h>

const char *const ks_retain_names[KS_RETAIN_COUNT + 1] = {"all", "useful", "complete", NULL};

/* ---------------------------------------------------------------- the rule */

ks_retain_verdict ks_retain_decide(ks_retain p, const ks_trial_view *t, int full_budget,
                                   int settled)
{
    /* below the budget at which a promoting method's trial is done: it stopped at a rung */
    int below = full_budget > 0 && t->budget < full_budget;
    int final;
    switch (t->status) {
    case KS_TRIAL_FAILED:
    case KS_TRIAL_PRUNED:
        final = 1;
        break;
    case KS_TRIAL_COMPLETE:
        final = !below || settled;
        break;
    default:                    /* queued, running, interrupted: it trains again */
        final = 0;
        break;
    }
    if (!final)
        return KS_RETAIN_WAIT;
    switch (p) {
    case KS_RETAIN_USEFUL:
        return below && t->status != KS_TRIAL_FAILED ? KS_RETAIN_DROP : KS_RETAIN_KEEP;
    case KS_RETAIN_COMPLETE:
        return t->status == KS_TRIAL_COMPLETE && !below ? KS_RETAIN_KEEP : KS_RETAIN_DROP;
    default:
        return KS_RETAIN_KEEP;
    }
}

ks_status ks_retain_plan(const ks_study *st, const ks_history *h, int full_budget,
                         ks_retain_verdict *verdicts, ks_error *err)
{
    unsigned char *settled = NULL;
    ks_status s = KS_OK;
    if (h->n <= 0)
        return KS_OK;
    /* what the method will never continue matters only for trials below its full budget */
    if (full_budget > 0 && st->method->settled) {
        if (!(settled = malloc((size_t)h->n)))
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        if ((s = st->method->settled(st->method_args, h, settled, err)) != KS_OK) {
            free(settled);
            return s;
        }
    }
    for (int i = 0; i < h->n; i++)
        verdicts[i] = ks_retain_decide(st->retain, &h->trials[i], full_budget,
                                       settled ? settled[i] : 0);
    free(settled);
    return KS_OK;
}

int ks_study_full_budget(const ks_study *st)
{
    ks_history h;
    if (!st->method->full_budget)
        return 0;
    memset(&h, 0, sizeof h);
    h.space = &st->space;
    h.max_trials = st->max_trials;
    h.max_epochs = st->base->fit.epochs;
    h.seed = st->base->seed;
    return st->method->full_budget(st->method_args, &h);
}

int ks_study_retain_why(const ks_study *st, ks_trial_status status, int budget, char *why,
                        size_t size)
{
    ks_trial_view t;
    int full = ks_study_full_budget(st);
    memset(&t, 0, sizeof t);
    t.status = status;
    t.budget = budget;
    why[0] = '\0';
    if (ks_retain_decide(st->retain, &t, full, 1) != KS_RETAIN_DROP)
        return 0;
    if (st->retain == KS_RETAIN_USEFUL)
        snprintf(why, size,
                 "search.checkpoints retain: useful drops the checkpoints of the "
                 "configurations %s stopped below %d epochs once no rung can promote them; "
                 "retain: all keeps them",
                 st->method->name, full);
    else
        snprintf(why, size,
                 "search.checkpoints retain: %s keeps only complete trials' checkpoints; "
                 "retain: all keeps every trial's",
                 ks_retain_names[st->retain]);
    return 1;
}

/* ----------------------------------------------------------- the controller */

ks_status ctl_retain(controller *c, int force, ks_error *err)
{
    ks_history h;
    ks_retain_verdict *v;
    int64_t *ids, bytes = 0;
    int n_ids = 0, had = 0;
    ks_status s;
    if (c->st->retain == KS_RETAIN_ALL || c->n == 0 || (!force && c->retained_at == c->finished))
        return KS_OK;
    c->retained_at = c->finished;
    ctl_history(c, &h);
    v = malloc((size_t)c->n * sizeof *v);
    ids = malloc((size_t)c->n * sizeof *ids);
    if (!v || !ids) {
        free(v);
        free(ids);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    s = ks_retain_plan(c->st, &h, c->st->method->full_budget ? c->full_budget : 0, v, err);
    for (int i = 0; s == KS_OK && i < c->n; i++) {
        if (v[i] != KS_RETAIN_DROP)
            c->trials[i].dropped = 0;   /* (a grown study may promote one after all) */
        else if (!c->trials[i].dropped)
            ids[n_ids++] = c->trials[i].id;
    }
    if (s == KS_OK && n_ids > 0 &&
        (s = ks_db_checkpoints_drop(c->db, ids, n_ids, &had, &bytes, err)) == KS_OK) {
        for (int i = 0; i < c->n; i++)
            if (v[i] == KS_RETAIN_DROP)
                c->trials[i].dropped = 1;
        c->dropped_trials += had;
        c->dropped_bytes += bytes;
        /* their pages back to the file system now (a few page moves), not at the end; if
           that fails the pages stay free for new checkpoints, and a database that really
           fails says so at its next write */
        if (bytes > 0) {
            ks_error ignored;
            ks_db_reclaim(c->db, 0, NULL, NULL, &ignored);
        }
    }
    free(v);
    free(ids);
    return s;
}

void ctl_retain_end(controller *c, int allow_vacuum)
{
    ks_error e;
    int64_t before = 0, after = 0;
    if (c->st->retain == KS_RETAIN_ALL)
        return;
    if (ctl_retain(c, 1, &e) != KS_OK ||
        ks_db_reclaim(c->db, allow_vacuum, &before, &after, &e) != KS_OK) {
        char why[1200];
        fprintf(c->out, "warning: checkpoint retention: %s\n",
                ks_error_format(&e, why, sizeof why));
        return;
    }
    if (c->dropped_trials > 0 || after < before)
        fprintf(c->out, "retain: %s: the checkpoints of %d trial%s dropped (%.1f MB); %s is "
                        "%.1f MB\n",
                ks_retain_names[c->st->retain], c->dropped_trials,
                c->dropped_trials == 1 ? "" : "s", (double)c->dropped_bytes / 1e6, c->paths.db,
                (double)after / 1e6);
}
