/*
 * controller.c — running a study: the controller hands jobs (a new trial the sampler
 * suggests, more epochs for a promoted one, an interrupted one to finish) to idle
 * workers as trial requests, and is the one writer of what comes back: each record is
 * committed to study.db and TensorBoard, and the trial's curve, status and objective
 * that the search method sees are kept from the records themselves.  Everything about a
 * trial lives in study.db, so a killed study resumes where it stopped.
 */
#include "controller_impl.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the history */

/* Rebuild the samplers' view of the study. */
static void make_history(controller *c, ks_history *h)
{
    for (int i = 0; i < c->n; i++) {
        trial_state *t = &c->trials[i];
        ks_trial_view *v = &c->views[i];
        v->number = t->number;
        v->point = t->point;
        v->status = t->busy ? KS_TRIAL_RUNNING : t->status;
        v->budget = t->budget;
        v->epochs = t->n_curve;
        v->curve = t->curve;
        v->objective = t->objective;
    }
    memset(h, 0, sizeof *h);
    h->space = &c->st->space;
    h->maximize = c->st->maximize;
    h->n = c->n;
    h->trials = c->views;
    h->max_trials = c->st->max_trials;
    h->max_epochs = c->st->base->fit.epochs;
    h->seed = c->st->base->seed;
    ctl_history_extras(c, h);
}

void ctl_history(controller *c, ks_history *h)
{
    make_history(c, h);
}

ks_status ctl_grow(controller *c, ks_error *err)
{
    if (c->n < c->cap)
        return KS_OK;
    {
        int cap = c->cap ? c->cap * 2 : 64;
        trial_state *t = realloc(c->trials, (size_t)cap * sizeof *t);
        ks_trial_view *v;
        if (!t)
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        c->trials = t;
        v = realloc(c->views, (size_t)cap * sizeof *v);
        if (!v)
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        c->views = v;
        memset(c->trials + c->cap, 0, (size_t)(cap - c->cap) * sizeof *t);
        c->cap = cap;
    }
    return KS_OK;
}

/* --------------------------------------------------------- choosing a job */

typedef enum { JOB_NONE, JOB_WAIT, JOB_RUN } job_kind;

/* The next job: an interrupted trial first, then the sampler's. */
static job_kind next_job(controller *c, int *number, int *budget)
{
    ks_history h;
    ks_suggestion sug;
    ks_suggest_result r;
    double point[KS_MAX_SEARCH_PARAMS];
    if (c->stopping || *c->o->stop)
        return JOB_NONE;
    while (c->n_resume > 0) {
        int k = c->resume[--c->n_resume];
        *number = k;
        *budget = c->trials[k].budget;
        return JOB_RUN;
    }
    if (c->sampler_done)
        return JOB_NONE;
    make_history(c, &h);
    memset(&sug, 0, sizeof sug);
    sug.point = point;
    sug.continue_trial = -1;
    r = c->st->method->suggest(c->st->method_args, &h, &sug, &c->err);
    if (r == KS_SUGGEST_ERROR) {
        /* the method could not answer (out of memory …): stop the study with its reason */
        c->stopping = 1;
        if (!c->failure)
            c->failure = c->err.code ? c->err.code : KS_ERR_INTERNAL;
        return JOB_NONE;
    }
    if (r == KS_SUGGEST_DONE) {
        c->sampler_done = 1;
        return JOB_NONE;
    }
    if (r == KS_SUGGEST_WAIT)
        return c->running > 0 ? JOB_WAIT : JOB_NONE;
    if (sug.continue_trial >= 0) {
        if (sug.continue_trial >= c->n || c->trials[sug.continue_trial].busy)
            return c->running > 0 ? JOB_WAIT : JOB_NONE;
        *number = sug.continue_trial;
        *budget = sug.budget;
        return JOB_RUN;
    }
    /* a new trial: within max_trials, recorded as queued before it runs */
    if (c->st->max_trials > 0 && c->n >= c->st->max_trials) {
        c->sampler_done = 1;
        return JOB_NONE;
    }
    if (ctl_add_trial(c, point, sug.budget > 0 ? sug.budget : c->st->base->fit.epochs) != KS_OK) {
        c->stopping = 1;
        c->failure = c->err.code;
        return JOB_NONE;
    }
    *number = c->n - 1;
    *budget = c->trials[c->n - 1].budget;
    return JOB_RUN;
}

/* ---------------------------------------------------------- starting a job */

/* A failure of ksearch's writing (or reading back) its own records. */
static int is_own_io(ks_status s)
{
    return s == KS_ERR_DB || s == KS_ERR_IO;
}

/* Stop the study: the database or the logs cannot be written (the first reason kept). */
static void stop_study(controller *c, ks_status s, const ks_error *err)
{
    if (!c->failure) {
        c->failure = s ? s : KS_ERR_INTERNAL;
        c->err = *err;
    }
    c->stopping = 1;
    atomic_store(&c->abort, 1);
}

double ctl_curve_best(const controller *c, const trial_state *t, int before)
{
    double best = NAN;
    for (int e = 0; e < before && e < t->n_curve; e++)
        if (ks_objective_better(t->curve[e], best, c->st->maximize))
            best = t->curve[e];
    return best;
}

/* The committer of a job: the trial's TensorBoard runs, its parameters the first time. */
static ks_status job_committer(controller *c, ctl_job *j, const trial_state *t, ks_error *err)
{
    ks_tracker_options opt = c->tb;
    opt.db = c->db;
    opt.trial_id = t->id;
    opt.objective = c->st->metric;
    opt.maximize = c->st->maximize;
    opt.last_only = !c->policy.keep_best;
    ks_tb_trial_run_name(t->number, j->run_name, sizeof j->run_name);
    opt.log_dir = c->log_dir;
    opt.run_name = j->run_name;
    for (int i = 0; i < j->n_hp; i++)
        ks_value_free(&j->hp_store[i]);
    j->n_hp = 0;
    if (t->epochs == 0) {
        for (int i = 0; i < c->st->space.n; i++) {
            if (ks_space_value(&c->st->space, i, t->point, &j->hp_store[j->n_hp]) != KS_OK)
                continue;
            if (!ks_hp_value_of(&j->hp_store[j->n_hp], &j->hp_values[j->n_hp])) {
                ks_value_free(&j->hp_store[j->n_hp]);
                continue;
            }
            j->hp_names[j->n_hp] = c->st->space.params[i].name;
            j->n_hp++;
        }
        opt.n_hparams = j->n_hp;
        opt.hparam_names = j->hp_names;
        opt.hparam_values = j->hp_values;
    }
    return ks_committer_new(&opt, &j->committer, err);
}

/*
 * The request of a job: the trial, and for one with recorded epochs the checkpoint to
 * continue from (its last: the epoch after it is where training goes on).
 */
static ks_status job_request(controller *c, const trial_state *t, int slot, int budget,
                             ks_trial_request *req, ks_error *err)
{
    memset(req, 0, sizeof *req);
    req->number = t->number;
    req->slot = slot;
    memcpy(req->point, t->point, sizeof req->point);
    req->seed = ctl_trial_seed(c, t->number);
    req->budget = budget;
    req->recorded = t->epochs;
    req->best_so_far = NAN;
    if (t->epochs > 0) {
        int epoch = -1;
        ks_status s = ks_db_checkpoint_get(c->db, t->id, KS_CHECKPOINT_LAST, &req->checkpoint,
                                           &req->checkpoint_len, &epoch, err);
        if (s == KS_ERR_NOMEM || is_own_io(s))
            return s;
        /* none, or one that does not fit: the worker says why the trial cannot go on;
           but under a policy that does not keep every epoch's, none yet is normal (it
           stopped before its first), and so is under retention a pruned trial's that a
           grown study promotes after all: it trains again from the start, and its epochs
           are recorded again, the same values (a trial's streams derive from its seed) */
        if (s == KS_OK && epoch >= 0 && epoch < budget)
            req->initial_epoch = epoch + 1;
        else
            ks_trial_request_clear(req);
        if (s != KS_OK && (c->policy.every != 1 || c->st->retain != KS_RETAIN_ALL))
            req->recorded = 0;
        req->best_so_far = ctl_curve_best(c, t, req->initial_epoch);
    }
    return KS_OK;
}

/* Hand trial number to idle slot with its budget: recorded running first. */
static void start_job(controller *c, ctl_transport *tp, int slot, int number, int budget)
{
    trial_state *t = &c->trials[number];
    ctl_job *j = &c->jobs[slot];
    ks_trial_request req;
    ks_error err;
    ks_status s = job_request(c, t, slot, budget, &req, &err);
    if (s == KS_OK)
        s = ks_db_trial_start(c->db, t->id, budget, &err);
    if (s == KS_OK)
        s = job_committer(c, j, t, &err);
    if (s != KS_OK) {
        ks_trial_request_clear(&req);
        stop_study(c, s, &err);
        return;
    }
    /* a promotion shows at once: the sampler must not see this trial as still pending at
       its old rung (it would promote a second one in its place) */
    t->budget = budget;
    t->busy = 1;
    j->number = number;
    j->failed = 0;
    j->started = ks_now();
    j->initial_epoch = req.initial_epoch;
    /* a trial resumed after a checked epoch asks for that epoch's verdict first: it may
       have stopped waiting for it */
    j->verdict_epoch = req.initial_epoch > 0 &&
                               ks_pruner_checks(c->st->pruner, c->st->pruner_args, number, budget,
                                                req.initial_epoch - 1)
                           ? req.initial_epoch - 1
                           : -1;
    c->running++;
    if ((s = tp->send(tp->user, &req, &err)) != KS_OK) {
        ks_committer_free(j->committer);
        j->committer = NULL;
        j->number = -1;
        t->busy = 0;
        t->status = KS_TRIAL_INTERRUPTED;
        c->running--;
        stop_study(c, s, &err);
    }
}

/* Give every idle slot a job while there is one; 0 when the method has none now. */
static int dispatch(controller *c, ctl_transport *tp)
{
    for (int slot = 0; slot < tp->slots; slot++) {
        int number = -1, budget = 0;
        job_kind k;
        if (c->jobs[slot].number >= 0)
            continue;
        k = next_job(c, &number, &budget);
        if (k != JOB_RUN)
            return 0;
        start_job(c, tp, slot, number, budget);
        ctl_status_line(c);
    }
    return 1;
}

/* ------------------------------------------------------------ the records */

/* The trial's curve as its records tell it: a segment from initial_epoch replaces what
   was recorded from there on. */
static void curve_record(controller *c, trial_state *t, const ks_record *r)
{
    if (r->kind == KS_RECORD_BEGIN) {
        if (t->n_curve > r->initial_epoch)
            t->n_curve = r->initial_epoch;
        return;
    }
    if (r->epoch >= t->cap_curve) {
        int cap = t->cap_curve ? t->cap_curve : 16;
        double *cv;
        while (cap <= r->epoch)
            cap *= 2;
        if (!(cv = realloc(t->curve, (size_t)cap * sizeof *cv))) {
            ks_error e;
            ks_error_set(&e, KS_ERR_NOMEM, "out of memory");
            stop_study(c, KS_ERR_NOMEM, &e);
            return;
        }
        t->curve = cv;
        t->cap_curve = cap;
    }
    for (int e = t->n_curve; e < r->epoch; e++)
        t->curve[e] = NAN;
    t->curve[r->epoch] = NAN;
    ks_logs_get(&r->logs, c->st->metric, &t->curve[r->epoch]);
    if (t->n_curve < r->epoch + 1)
        t->n_curve = r->epoch + 1;
    if (t->epochs < r->epoch + 1)
        t->epochs = r->epoch + 1;
}

/*
 * How the job ended.  A failure of ksearch's own I/O leaves the trial interrupted (a
 * rerun retries it once the disk or database is fixed) and stops the study: every other
 * trial would meet it too.
 */
static void finish_job(controller *c, ctl_job *j, const ks_record *r)
{
    trial_state *t = &c->trials[j->number];
    ks_trial_status status = r->status;
    const char *msg = r->error;
    char own[1200];
    ks_error ferr;
    /* which worker ran this job, from which epoch, for how long: the report's timeline
       (ending now, on the controller's clock, whatever the worker's host says) */
    ks_job_span span = {r->worker, r->seconds, r->initial_epoch};
    int final;
    if (j->failed || r->record_failed) {
        status = KS_TRIAL_INTERRUPTED;
        if (j->failed)
            msg = ks_error_format(&j->err, own, sizeof own);
    }
    if (status == KS_TRIAL_INTERRUPTED && !j->failed && !r->record_failed)
        msg = NULL;
    t->status = status;
    /* TensorBoard keeps a run's first session end: it is written once, when the status is
       final (a Hyperband rung below the full budget may still be promoted; those never
       promoted get theirs when the study marks them pruned) */
    final = status == KS_TRIAL_FAILED || status == KS_TRIAL_PRUNED ||
            (status == KS_TRIAL_COMPLETE && !ctl_may_promote(c, t));
    /* the status and the job's segment are one write */
    if (ks_committer_end(j->committer, status, msg, final, &span, &ferr) != KS_OK)
        stop_study(c, ferr.code, &ferr);   /* the database itself failed: the study cannot go on */
    ks_committer_free(j->committer);
    j->committer = NULL;
    t->seconds += r->seconds;
    t->objective = ctl_curve_best(c, t, t->n_curve);
    t->busy = 0;
    c->finished++;
    c->running--;
    j->number = -1;
    j->verdict_epoch = -1;
    ctl_report_trial(c, t->number, status == KS_TRIAL_FAILED ? msg : NULL);
}

void ctl_take_record(controller *c, const ks_record *r)
{
    ctl_job *j;
    ks_status s;
    if (r->worker < 0 || !c->jobs || r->worker >= c->n_jobs || c->jobs[r->worker].number < 0 ||
        c->jobs[r->worker].number != r->trial)
        return;     /* not a job of this controller's (cannot happen): ignored */
    j = &c->jobs[r->worker];
    if (r->kind == KS_RECORD_END) {
        finish_job(c, j, r);
        return;
    }
    if (j->failed)
        return;
    if ((s = ks_committer_put(j->committer, r, &j->err)) != KS_OK) {
        j->failed = 1;
        stop_study(c, s, &j->err);
        return;
    }
    if (r->kind != KS_RECORD_BATCH)
        curve_record(c, &c->trials[r->trial], r);
    /* the worker waits for the pruner's verdict after a checked epoch */
    if (r->kind == KS_RECORD_EPOCH &&
        ks_pruner_checks(c->st->pruner, c->st->pruner_args, r->trial, c->trials[r->trial].budget,
                         r->epoch))
        j->verdict_epoch = r->epoch;
}

void ctl_answer_verdicts(controller *c, ctl_transport *tp)
{
    ks_history h;
    int made = 0;
    for (int slot = 0; c->st->pruner && slot < c->n_jobs; slot++) {
        ctl_job *j = &c->jobs[slot];
        ks_error err;
        ks_status s;
        int v;
        if (j->number < 0 || j->verdict_epoch < 0)
            continue;
        if (!made) {
            make_history(c, &h);
            made = 1;
        }
        v = c->st->pruner->prune(c->st->pruner_args, &h, j->number, j->verdict_epoch);
        if (v == KS_VERDICT_WAIT)
            continue;
        if (v == KS_VERDICT_NOMEM) {
            ks_error_set(&err, KS_ERR_NOMEM, "out of memory");
            stop_study(c, KS_ERR_NOMEM, &err);
            return;
        }
        if ((s = tp->verdict(tp->user, slot, j->number, j->verdict_epoch, v == KS_VERDICT_PRUNE,
                             &err)) != KS_OK) {
            stop_study(c, s, &err);
            return;
        }
        j->verdict_epoch = -1;
    }
}

/*
 * The workers still training after the stop's grace time are lost (a rank that died
 * is why a launcher stops the job): their trials are recorded interrupted, to resume
 * when the study runs again, and the study stops naming them.
 */
static void abandon_jobs(controller *c, ctl_transport *tp)
{
    char names[600] = "";
    size_t len = 0;
    int n = 0;
    for (int slot = 0; slot < c->n_jobs; slot++) {
        ctl_job *j = &c->jobs[slot];
        ks_record end;
        char name[160];
        int number = j->number;
        if (number < 0)
            continue;
        memset(&end, 0, sizeof end);
        end.kind = KS_RECORD_END;
        end.trial = number;
        end.worker = slot;
        end.initial_epoch = j->initial_epoch;
        end.seconds = ks_now() - j->started;
        end.status = KS_TRIAL_INTERRUPTED;
        finish_job(c, j, &end);
        tp->lost(tp->user, slot, name, sizeof name);
        if (len < sizeof names)
            len += (size_t)snprintf(names + len, sizeof names - len,
                                    "%s%s ended while training trial %d", n ? "; " : "", name,
                                    number);
        n++;
    }
    if (n > 0) {
        ks_error e;
        ks_error_set(&e, KS_ERR_IO, "%s (killed, or %s host is gone)", names,
                     n == 1 ? "its" : "their");
        stop_study(c, KS_ERR_IO, &e);
    }
}

ks_status ctl_run(controller *c, ctl_transport *tp)
{
    int need_dispatch = 1, stop_sent = 0;
    double stop_seen = 0;
    if (!(c->jobs = calloc((size_t)tp->slots, sizeof *c->jobs)))
        return ks_error_set(&c->err, KS_ERR_NOMEM, "out of memory");
    c->n_jobs = tp->slots;
    for (int i = 0; i < tp->slots; i++) {
        c->jobs[i].number = -1;
        c->jobs[i].verdict_epoch = -1;
    }
    for (;;) {
        ks_record *r = NULL;
        ks_error err;
        ks_status s;
        /* the method is asked again once a job ended (or the study starts) */
        if (need_dispatch && !dispatch(c, tp))
            need_dispatch = 0;
        /* then the checkpoints of trials that became final go, as the policy says */
        if ((s = ctl_retain(c, 0, &err)) != KS_OK)
            stop_study(c, s, &err);
        /* verdicts the last record (or a job just started) made possible */
        ctl_answer_verdicts(c, tp);
        if (c->running == 0)
            break;
        /* the workers are told once that the study stops: their fits end at the next
           batch, interrupted, and they stay for the end of the run */
        if (!stop_sent && (*c->o->stop || c->stopping)) {
            if (tp->stop)
                tp->stop(tp->user);
            stop_sent = 1;
        }
        if (tp->stop_grace > 0 && *c->o->stop) {
            if (stop_seen == 0) {
                stop_seen = ks_now();
            } else if (ks_now() - stop_seen > tp->stop_grace) {
                abandon_jobs(c, tp);
                break;
            }
        }
        /* a stop is seen within 50 ms: a launcher that stops the job (a rank died) sends
           SIGKILL a second after its SIGTERM, and the grace and the records of the lost
           ranks' trials must fit in that second; a shorter wait costs nothing (the MPI
           transport polls every 0.2 ms within it, the threads' queue wakes on a record) */
        if ((s = tp->recv(tp->user, stop_seen > 0 ? 0.02 : 0.05, &r, &err)) != KS_OK) {
            /* the transport itself failed (a rank died): no more records will come */
            stop_study(c, s, &err);
            break;
        }
        if (!r)
            continue;
        ctl_take_record(c, r);
        if (r->kind == KS_RECORD_END) {
            need_dispatch = 1;
            ctl_status_line(c);
        }
        ks_record_free(r);
    }
    tp->finish(tp->user);
    return c->failure;
}
