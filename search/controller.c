/*
 * controller.c — running a study: a pool of worker threads takes jobs (a new trial
 * the sampler suggests, more epochs for a promoted one, an interrupted one to finish)
 * and trains them with the tracker attached; everything about a trial lives in
 * study.db, so a killed study resumes where it stopped.  One BLAS thread per worker;
 * the data is loaded once and shared read-only.
 */
#include "controller_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ the history */

/* Rebuild the samplers' view of the study (under the lock). */
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

/* The next job (under the lock): an interrupted trial first, then the sampler's. */
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

/* ---------------------------------------------------------- running a job */

/* Stops a fit at the next batch once Ctrl-C was pressed. */
static ks_status watch_interrupt(void *user, const ks_callback_ctx *ctx)
{
    const volatile sig_atomic_t *stop = user;
    (void)ctx;
    return *stop ? KS_INTERRUPTED : KS_OK;
}

typedef struct worker {
    controller *c;
    ks_db *db;
    int index;
} worker;

/*
 * The model of a trial: fresh, or restored from its last checkpoint to continue.  A
 * trial with recorded epochs whose checkpoint cannot be used is not trained again from
 * the start (its new epochs would not follow the recorded ones): the error says why, and
 * the trial is recorded failed with it.
 */
static ks_status trial_model(worker *w, const ks_run_config *cfg, trial_state *t, ks_model **m,
                             int *initial_epoch, ks_error *err)
{
    controller *c = w->c;
    ks_data tr = ks_dataset_data(c->data->train);
    ks_status s;
    *initial_epoch = 0;
    /* (epochs, not the objective's curve: with validation_freq > 1, val_ metrics are
       not logged every epoch) */
    if (t->epochs > 0) {
        unsigned char *blob = NULL;
        size_t len = 0;
        int epoch = 0;
        char why[sizeof err->msg];
        s = ks_db_checkpoint_get(w->db, t->id, KS_CHECKPOINT_LAST, &blob, &len, &epoch, err);
        if (s == KS_OK)
            s = ks_model_load_buffer(blob, len, "checkpoint", m, initial_epoch, err);
        free(blob);
        if (s == KS_OK && *initial_epoch != t->epochs) {
            ks_model_free(*m);
            *m = NULL;
            s = ks_error_set(err, KS_ERR_CORRUPT, "it is of epoch %d", *initial_epoch);
        }
        if (s == KS_OK || s == KS_ERR_NOMEM || s == KS_ERR_DB || s == KS_ERR_IO)
            return s;
        snprintf(why, sizeof why, "%s", err->msg);
        return ks_error_set(err, s, "trial %d cannot continue after its %d recorded epochs: "
                                    "its last checkpoint does not load (%s); it is not "
                                    "trained again from the start",
                            t->number, t->epochs, why);
    }
    s = ks_model_from_config(cfg->model, &tr.x_shape, ctl_trial_seed(c, t->number), m, err);
    if (s == KS_OK)
        s = ks_model_compile(*m, cfg->compile, err);
    if (s == KS_OK)
        s = ks_run_config_record_preprocessing(cfg, *m, err);
    return s;
}

/* The callbacks a trial runs: the file's (but TensorBoard, which the tracker writes),
   TerminateOnNaN, Ctrl-C's watcher, and the tracker last. */
static ks_status trial_callbacks(worker *w, const ks_run_config *cfg, ks_callback **list, int *n,
                                 ks_error *err)
{
    controller *c = w->c;
    int have_nan = 0;
    ks_status s;
    *n = 0;
    for (size_t i = 0; cfg->callbacks && i < cfg->callbacks->n; i++) {
        const ks_value *e = &cfg->callbacks->items[i];
        if (strcmp(e->items[0].key, "TensorBoard") == 0 || ks_study_skips_callback(e))
            continue;
        have_nan |= strcmp(e->items[0].key, "TerminateOnNaN") == 0;
        if (*n == KS_MAX_FILE_CALLBACKS)
            return ks_error_at(err, KS_ERR_CONFIG, e, "at most %d callbacks",
                               KS_MAX_FILE_CALLBACKS);
        if ((s = ks_callback_from_config(e->items[0].key, &e->items[0], &list[*n], err)) != KS_OK)
            return s;
        (*n)++;
    }
    if (!have_nan) {
        if ((s = ks_callback_from_config("TerminateOnNaN", NULL, &list[*n], err)) != KS_OK)
            return s;
        (*n)++;
    }
    list[*n] = calloc(1, sizeof **list);
    if (!list[*n])
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    list[*n]->name = "interrupt";
    list[*n]->user = (void *)c->o->stop;
    list[*n]->on_train_batch_end = watch_interrupt;
    (*n)++;
    return KS_OK;
}

/* One job: a trial's training from where it stands to its budget. */
typedef struct job {
    trial_state t;              /* a copy: another worker may move c->trials (realloc) */
    int number, budget, promote;
    ks_run_config *cfg;
    ks_model *model;
    ks_callback *cbs[KS_MAX_CALLBACKS], *tracker;
    int ncb, initial_epoch;
    int own_failure;            /* ksearch's own I/O failed (database, logs): not the trial */
    ks_error err;
    /* the tracker's options and what they point at */
    ks_tracker_options opt;
    char run_name[64];
    const char *hp_names[KS_MAX_SEARCH_PARAMS];
    ks_hp_value hp_values[KS_MAX_SEARCH_PARAMS];
    ks_value hp_store[KS_MAX_SEARCH_PARAMS];
    int n_hp;
    char *summary;
} job;

/* A failure of ksearch's writing (or reading back) its own records. */
static int is_own_io(ks_status s)
{
    return s == KS_ERR_DB || s == KS_ERR_IO;
}

/* The tracker of a job: this worker's database connection, the trial's TensorBoard runs,
   its parameters and model summary the first time it runs. */
static ks_status job_tracker(worker *w, job *j)
{
    controller *c = w->c;
    ks_tracker_options *opt = &j->opt;
    *opt = c->tb;
    opt->db = w->db;
    opt->trial_id = j->t.id;
    opt->objective = c->st->metric;
    opt->maximize = c->st->maximize;
    opt->checkpoints = 1;
    ks_tb_trial_run_name(j->number, j->run_name, sizeof j->run_name);
    opt->log_dir = c->log_dir;
    opt->run_name = j->run_name;
    if (j->initial_epoch == 0) {
        /* the model summary and the trial's parameters, shown once as text (without them,
           if there is no memory for them: the trial goes on) */
        char *json = NULL;
        ks_error ignored;
        if (ks_space_point_json(&c->st->space, j->t.point, &json) == KS_OK &&
            ks_tracker_summary_text(j->model, json, &j->summary, &ignored) == KS_OK)
            opt->model_summary = j->summary;
        free(json);
    }
    if (j->t.epochs == 0) {
        for (int i = 0; i < c->st->space.n; i++) {
            if (ks_space_value(&c->st->space, i, j->t.point, &j->hp_store[j->n_hp]) != KS_OK)
                continue;
            j->hp_names[j->n_hp] = c->st->space.params[i].name;
            ctl_hp_value(&j->hp_store[j->n_hp], &j->hp_values[j->n_hp]);
            j->n_hp++;
        }
        opt->n_hparams = j->n_hp;
        opt->hparam_names = j->hp_names;
        opt->hparam_values = j->hp_values;
    }
    return ks_tracker_callback_new(opt, &j->tracker, &j->err);
}

/* Everything before the fit: config, model, callbacks, the trial marked running. */
static ks_status job_prepare(worker *w, job *j)
{
    controller *c = w->c;
    ks_status s = ks_study_trial_config(c->st, j->t.point, &j->cfg, &j->err);
    if (s == KS_OK && (s = trial_model(w, j->cfg, &j->t, &j->model, &j->initial_epoch,
                                       &j->err)) != KS_OK)
        j->own_failure = is_own_io(s);    /* reading the checkpoint back failed */
    if (s == KS_OK)
        s = trial_callbacks(w, j->cfg, j->cbs, &j->ncb, &j->err);
    if (s != KS_OK)
        return s;
    if ((j->promote && (s = ks_db_trial_set_budget(w->db, j->t.id, j->budget, &j->err)) != KS_OK) ||
        (s = ks_db_trial_set_status(w->db, j->t.id, KS_TRIAL_RUNNING, NULL, &j->err)) != KS_OK ||
        (s = job_tracker(w, j)) != KS_OK) {
        j->own_failure = 1;
        return s;
    }
    j->cbs[j->ncb++] = j->tracker;
    return KS_OK;
}

static ks_status job_fit(worker *w, job *j)
{
    controller *c = w->c;
    ks_fit_params p = j->cfg->fit;
    ks_data tr = ks_dataset_data(c->data->train), va;
    ks_status s;
    if (c->data->val)
        va = ks_dataset_data(c->data->val);
    p.epochs = j->budget;
    p.initial_epoch = j->initial_epoch;
    p.verbose = 0;
    p.seed = ctl_trial_seed(c, j->number);
    s = ks_model_fit(j->model, &tr, c->data->val ? &va : NULL, &p, j->cbs, j->ncb, NULL,
                     &j->err);
    /* the tracker could not record (disk full, database error): not the trial's fault */
    if (s != KS_OK && ks_tracker_failed(j->tracker))
        j->own_failure = 1;
    return s;
}

/* Stop the study (under no lock): the database or the logs cannot be written. */
static void stop_study(controller *c, ks_status s, const ks_error *err)
{
    pthread_mutex_lock(&c->lock);
    if (!c->failure) {
        c->failure = s;
        c->err = *err;
    }
    c->stopping = 1;
    pthread_mutex_unlock(&c->lock);
}

/*
 * Record how the job ended.  A failure of ksearch's own I/O leaves the trial interrupted
 * (a rerun retries it once the disk or database is fixed) and stops the study: every
 * other trial would meet it too.
 */
static ks_trial_status job_finish(worker *w, job *j, ks_status s, char *msg, size_t size)
{
    controller *c = w->c;
    ks_trial_status status;
    ks_error ferr;
    ks_status fs;
    int final;
    if (s == KS_OK)
        status = KS_TRIAL_COMPLETE;
    else if (s == KS_INTERRUPTED || (*c->o->stop && s == KS_STOPPED) || j->own_failure)
        status = KS_TRIAL_INTERRUPTED;
    else
        status = KS_TRIAL_FAILED;
    if (status == KS_TRIAL_FAILED || j->own_failure)
        ks_error_format(&j->err, msg, size);
    if (j->own_failure)
        stop_study(c, s, &j->err);
    /* TensorBoard keeps a run's first session end: it is written once, when the status is
       final (a Hyperband rung below the full budget may still be promoted; those never
       promoted get theirs when the study marks them pruned) */
    final = status == KS_TRIAL_FAILED ||
            (status == KS_TRIAL_COMPLETE && !ctl_may_promote(c, &j->t));
    if (j->tracker)
        fs = ks_tracker_end(j->tracker, status, msg[0] ? msg : NULL, final, &ferr);
    else
        fs = ks_db_trial_set_status(w->db, j->t.id, status, msg[0] ? msg : NULL, &ferr);
    if (fs != KS_OK)
        stop_study(c, fs, &ferr);  /* the database itself failed: the study cannot go on */
    return status;
}

static void job_free(job *j)
{
    /* the tracker is one of cbs once the job is prepared */
    for (int i = 0; i < j->ncb; i++)
        ks_callback_free(j->cbs[i]);
    if (j->tracker && (j->ncb == 0 || j->cbs[j->ncb - 1] != j->tracker))
        ks_callback_free(j->tracker);
    for (int i = 0; i < j->n_hp; i++)
        ks_value_free(&j->hp_store[i]);
    free(j->summary);
    ks_model_free(j->model);
    ks_run_config_free(j->cfg);
}

static void run_job(worker *w, int number, int budget, int promote)
{
    controller *c = w->c;
    job *j = calloc(1, sizeof *j);
    ks_trial_status status;
    char msg[1200] = "";
    double t0 = ks_now();
    ks_status s;
    pthread_mutex_lock(&c->lock);
    if (j)
        j->t = c->trials[number];
    pthread_mutex_unlock(&c->lock);
    if (!j) {
        ks_error e;
        ks_error_set(&e, KS_ERR_NOMEM, "out of memory starting trial %d", number);
        stop_study(c, KS_ERR_NOMEM, &e);
        return;
    }
    j->number = number;
    j->budget = budget;
    j->promote = promote;
    ks_error_clear(&j->err);
    s = job_prepare(w, j);
    if (s == KS_OK)
        s = job_fit(w, j);
    status = job_finish(w, j, s, msg, sizeof msg);
    job_free(j);
    free(j);

    /* what the study now knows of the trial, from the database */
    pthread_mutex_lock(&c->lock);
    {
        ks_error rerr;
        ks_status rs = ctl_refresh_trial(c, w->db, number, status, ks_now() - t0, &rerr);
        if (rs != KS_OK) {
            /* what the search method would see next is not what the database holds */
            if (!c->failure) {
                c->failure = rs;
                c->err = rerr;
            }
            c->stopping = 1;
        }
    }
    ctl_report_trial(c, number, status == KS_TRIAL_FAILED ? msg : NULL);
    pthread_mutex_unlock(&c->lock);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    controller *c = w->c;
    ks_error err;
    if (ks_db_open(c->paths.db, 0, &w->db, &err) != KS_OK) {
        pthread_mutex_lock(&c->lock);
        if (!c->failure) {
            c->failure = err.code;
            c->err = err;
        }
        c->stopping = 1;
        pthread_cond_broadcast(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return NULL;
    }
    pthread_mutex_lock(&c->lock);
    for (;;) {
        int number = -1, budget = 0, promote;
        job_kind k = next_job(c, &number, &budget);
        if (k == JOB_NONE)
            break;
        if (k == JOB_WAIT) {
            pthread_cond_wait(&c->cond, &c->lock);
            continue;
        }
        /* a promotion shows at once: the sampler must not see this trial as still
           pending at its old rung (it would promote a second one in its place) */
        promote = budget != c->trials[number].budget;
        c->trials[number].budget = budget;
        c->trials[number].busy = 1;
        c->running++;
        ctl_status_line(c);
        pthread_mutex_unlock(&c->lock);
        run_job(w, number, budget, promote);
        pthread_mutex_lock(&c->lock);
        c->trials[number].busy = 0;
        c->running--;
        ctl_status_line(c);
        pthread_cond_broadcast(&c->cond);
    }
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    ks_db_close(w->db);
    return NULL;
}

ks_status ctl_run_workers(controller *c, int parallel)
{
    pthread_t threads[KS_MAX_PARALLEL];
    worker workers[KS_MAX_PARALLEL];
    int started = 0;
    /* one BLAS thread per worker: the workers are the parallelism */
    ks_blas_set_threads(1);
    for (int i = 0; i < parallel; i++) {
        workers[i].c = c;
        workers[i].db = NULL;
        workers[i].index = i;
        if (pthread_create(&threads[i], NULL, worker_main, &workers[i]) != 0)
            break;
        started++;
    }
    if (started == 0)
        return ks_error_set(&c->err, KS_ERR_INTERNAL, "cannot start worker threads");
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    return c->failure ? c->failure : KS_OK;
}
