/*
 * trial_worker.c — the worker's side of the controller–worker boundary: train one trial
 * request (its config from its point, its model fresh or from the request's checkpoint,
 * the file's callbacks and the recorder) and send what happened as records, the last
 * an END.  Nothing here opens study.db or writes TensorBoard: the same code runs in a
 * worker thread and in an MPI rank.
 */
#include "controller_impl.h"

#include <stdlib.h>
#include <string.h>

/* Stops a fit at the next batch once Ctrl-C was pressed or the controller stops. */
static ks_status watch_interrupt(void *user, const ks_callback_ctx *ctx)
{
    const ctl_trainer *w = user;
    (void)ctx;
    return *w->stop || atomic_load(w->abort) ? KS_INTERRUPTED : KS_OK;
}

/* search.pruner in the fit: after a checked epoch (its record sent), the verdict. */
typedef struct prune_watch {
    const ctl_trainer *w;
    const ks_trial_request *req;
    int pruned;                         /* the verdict was to prune: the trial ends pruned */
} prune_watch;

static ks_status await_verdict(prune_watch *p, int epoch)
{
    const ks_study *st = p->w->st;
    int v;
    if (!ks_pruner_checks(st->pruner, st->pruner_args, p->req->number, p->req->budget, epoch))
        return KS_OK;
    v = p->w->await_verdict(p->w->verdict_user, p->req->slot, p->req->number, epoch);
    if (v < 0)
        return KS_INTERRUPTED;      /* the study stops */
    if (v == 0)
        return KS_OK;
    p->pruned = 1;
    return KS_STOPPED;
}

/* A trial resumed after a checked epoch asks for its verdict before it goes on (it may
   have been stopped waiting for it); the controller asks for the same. */
static ks_status prune_train_begin(void *user, const ks_callback_ctx *ctx)
{
    return ctx->params ? await_verdict(user, ctx->params->initial_epoch - 1) : KS_OK;
}

static ks_status prune_epoch_end(void *user, const ks_callback_ctx *ctx)
{
    return await_verdict(user, ctx->epoch);
}

/* One job's pieces, freed together. */
typedef struct job {
    ks_run_config *cfg;
    ks_model *model;
    ks_callback *cbs[KS_MAX_CALLBACKS];
    int ncb, initial_epoch;
    ks_callback *recorder;              /* one of cbs once made */
    prune_watch *pruner;                /* with search.pruner: the user of one of cbs */
    char *params_json;
    ks_error err;
} job;

/*
 * The model of a trial: fresh, or restored from the request's checkpoint to continue.  A
 * trial with recorded epochs whose checkpoint cannot be used is not trained again from
 * the start (its new epochs would not follow the recorded ones): the error says why, and
 * the trial is recorded failed with it.
 */
static ks_status trial_model(const ctl_trainer *w, const ks_trial_request *req, job *j)
{
    ks_data tr = ks_dataset_data(w->data->train);
    ks_status s;
    j->initial_epoch = 0;
    if (req->recorded > 0) {
        char why[sizeof j->err.msg];
        if (!req->checkpoint)
            s = ks_error_set(&j->err, KS_ERR_CORRUPT, "it has none");
        else
            s = ks_model_load_buffer(req->checkpoint, req->checkpoint_len, "checkpoint",
                                     &j->model, &j->initial_epoch, &j->err);
        if (s == KS_OK && j->initial_epoch != req->initial_epoch) {
            ks_model_free(j->model);
            j->model = NULL;
            s = ks_error_set(&j->err, KS_ERR_CORRUPT, "it is of epoch %d, not %d",
                             j->initial_epoch, req->initial_epoch);
        }
        if (s == KS_OK || s == KS_ERR_NOMEM)
            return s;
        snprintf(why, sizeof why, "%s", j->err.msg);
        return ks_error_set(&j->err, s, "trial %d cannot continue after its %d recorded epochs: "
                                        "its last checkpoint does not load (%s); it is not "
                                        "trained again from the start",
                            req->number, req->recorded, why);
    }
    s = ks_model_from_config(j->cfg->model, &tr.x_shape, req->seed, &j->model, &j->err);
    if (s == KS_OK)
        s = ks_model_compile(j->model, j->cfg->compile, &j->err);
    if (s == KS_OK)
        s = ks_run_config_record_preprocessing(j->cfg, j->model, &j->err);
    return s;
}

/* The callbacks a trial runs: the file's (but TensorBoard, which the tracker writes),
   TerminateOnNaN, the stop watcher, and the recorder last. */
static ks_status trial_callbacks(const ctl_trainer *w, const ks_trial_request *req, job *j)
{
    ks_recorder_options ro;
    int have_nan = 0;
    ks_status s;
    for (size_t i = 0; j->cfg->callbacks && i < j->cfg->callbacks->n; i++) {
        const ks_value *e = &j->cfg->callbacks->items[i];
        if (strcmp(e->items[0].key, "TensorBoard") == 0 || ks_study_skips_callback(e))
            continue;
        have_nan |= strcmp(e->items[0].key, "TerminateOnNaN") == 0;
        if (j->ncb == KS_MAX_FILE_CALLBACKS)
            return ks_error_at(&j->err, KS_ERR_CONFIG, e, "at most %d callbacks",
                               KS_MAX_FILE_CALLBACKS);
        if ((s = ks_callback_from_config(e->items[0].key, &e->items[0], &j->cbs[j->ncb],
                                         &j->err)) != KS_OK)
            return s;
        j->ncb++;
    }
    if (!have_nan) {
        if ((s = ks_callback_from_config("TerminateOnNaN", NULL, &j->cbs[j->ncb], &j->err)) !=
            KS_OK)
            return s;
        j->ncb++;
    }
    if (!(j->cbs[j->ncb] = calloc(1, sizeof **j->cbs)))
        return ks_error_set(&j->err, KS_ERR_NOMEM, "out of memory");
    j->cbs[j->ncb]->name = "interrupt";
    j->cbs[j->ncb]->user = (void *)w;
    j->cbs[j->ncb]->on_train_batch_end = watch_interrupt;
    j->ncb++;
    /* the recorder: the parameters shown above the model summary (without them, if there
       is no memory for them: the trial goes on) */
    if (req->recorded == 0 && ks_space_point_json(&w->st->space, req->point, &j->params_json) !=
                                  KS_OK)
        j->params_json = NULL;
    memset(&ro, 0, sizeof ro);
    ro.sink = w->sink;
    ro.trial = req->number;
    ro.worker = req->slot;
    ro.objective = w->st->metric;
    ro.maximize = w->st->maximize;
    ro.best_so_far = req->best_so_far;
    ro.checkpoints = 1;
    ro.policy = w->policy;
    ro.histogram_freq = w->tb.histogram_freq;
    ro.update_freq = w->tb.update_freq;
    ro.write_graph = w->tb.write_graph;
    ro.embeddings_freq = w->tb.embeddings_freq;
    ro.write_summary = 1;
    ro.summary_params = j->params_json;
    if ((s = ks_recorder_new(&ro, &j->cbs[j->ncb], &j->err)) != KS_OK)
        return s;
    j->recorder = j->cbs[j->ncb++];
    /* the pruner after the recorder: the controller judges the epoch from its record */
    if (w->st->pruner) {
        ks_callback *cb = calloc(1, sizeof *cb);
        if (!cb || !(j->pruner = calloc(1, sizeof *j->pruner))) {
            free(cb);
            return ks_error_set(&j->err, KS_ERR_NOMEM, "out of memory");
        }
        j->pruner->w = w;
        j->pruner->req = req;
        cb->name = "pruner";
        cb->user = j->pruner;
        cb->free = free;
        cb->on_train_begin = prune_train_begin;
        cb->on_epoch_end = prune_epoch_end;
        j->cbs[j->ncb++] = cb;
    }
    return KS_OK;
}

static void job_free(job *j)
{
    for (int i = 0; i < j->ncb; i++)
        ks_callback_free(j->cbs[i]);
    free(j->params_json);
    ks_model_free(j->model);
    ks_run_config_free(j->cfg);
}

void ctl_train(const ctl_trainer *w, const ks_trial_request *req)
{
    job j;
    /* the END first: a worker that cannot tell the controller it ended would hang it */
    ks_record *end = ks_record_new(KS_RECORD_END, req->number);
    double t0 = ks_now();
    ks_status s;
    ks_error ignored;
    memset(&j, 0, sizeof j);
    ks_error_clear(&j.err);
    s = ks_study_trial_config(w->st, req->point, &j.cfg, &j.err);
    if (s == KS_OK)
        s = trial_model(w, req, &j);
    if (s == KS_OK)
        s = trial_callbacks(w, req, &j);
    if (s == KS_OK) {
        ks_fit_params p = j.cfg->fit;
        ks_data tr = ks_dataset_data(w->data->train), va;
        if (w->data->val)
            va = ks_dataset_data(w->data->val);
        p.epochs = req->budget;
        p.initial_epoch = j.initial_epoch;
        p.verbose = 0;
        p.seed = req->seed;
        s = ks_model_fit(j.model, &tr, w->data->val ? &va : NULL, &p, j.cbs, j.ncb, NULL, &j.err);
    }
    if (end) {
        /* the segment table's row: who, from which epoch, how long, ending now */
        end->worker = req->slot;
        end->initial_epoch = req->initial_epoch;
        end->seconds = ks_now() - t0;
        end->wall_time += end->seconds;
        /* the recorder could not send (the writer failed): not the trial's fault */
        end->record_failed = ks_recorder_failed(j.recorder);
        if (s == KS_OK)
            end->status = j.pruner && j.pruner->pruned ? KS_TRIAL_PRUNED : KS_TRIAL_COMPLETE;
        else if (s == KS_INTERRUPTED || end->record_failed ||
                 ((*w->stop || atomic_load(w->abort)) && s == KS_STOPPED))
            end->status = KS_TRIAL_INTERRUPTED;
        else
            end->status = KS_TRIAL_FAILED;
        if (end->status == KS_TRIAL_FAILED || end->record_failed) {
            char msg[1200];
            size_t n = strlen(ks_error_format(&j.err, msg, sizeof msg)) + 1;
            if ((end->error = malloc(n)))
                memcpy(end->error, msg, n);
        }
    }
    job_free(&j);
    /* an END goes in even after the writer failed (the queue takes it): it frees the slot */
    w->sink.push(w->sink.user, end, &ignored);
}
