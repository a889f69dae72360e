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

/* The model of a trial: fresh, or restored from its last checkpoint to continue. */
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
        s = ks_db_checkpoint_get(w->db, t->id, KS_CHECKPOINT_LAST, &blob, &len, &epoch, err);
        if (s == KS_OK)
            s = ks_model_load_buffer(blob, len, "checkpoint", m, initial_epoch, err);
        free(blob);
        if (s == KS_OK)
            return KS_OK;
        /* no usable checkpoint: train again from the start */
        *initial_epoch = 0;
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
        if (*n == 28)
            return ks_error_set(err, KS_ERR_CONFIG, "too many callbacks");
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

static void run_job(worker *w, int number, int budget, int promote)
{
    controller *c = w->c;
    trial_state snap, *t = &snap;
    ks_run_config *cfg = NULL;
    ks_model *m = NULL;
    ks_callback *cbs[32], *tracker = NULL;
    int ncb = 0, initial_epoch = 0, fresh;
    ks_error err;
    ks_status s;
    ks_trial_status status;
    char msg[1200] = "";
    double t0 = ks_now();
    ks_tracker_options opt;
    char run_name[64];
    const char *hp_names[KS_MAX_SEARCH_PARAMS];
    ks_hp_value hp_values[KS_MAX_SEARCH_PARAMS];
    ks_value hp_store[KS_MAX_SEARCH_PARAMS];
    int n_hp = 0;
    char *summary = NULL;

    ks_error_clear(&err);
    /* a copy: another worker adding a trial may move c->trials (realloc) meanwhile */
    pthread_mutex_lock(&c->lock);
    snap = c->trials[number];
    fresh = t->epochs == 0;
    pthread_mutex_unlock(&c->lock);

    s = ks_study_trial_config(c->st, t->point, &cfg, &err);
    if (s == KS_OK)
        s = trial_model(w, cfg, t, &m, &initial_epoch, &err);
    if (s == KS_OK)
        s = trial_callbacks(w, cfg, cbs, &ncb, &err);
    if (s == KS_OK && promote)
        s = ks_db_trial_set_budget(w->db, t->id, budget, &err);
    if (s == KS_OK)
        s = ks_db_trial_set_status(w->db, t->id, KS_TRIAL_RUNNING, NULL, &err);
    if (s == KS_OK) {
        /* the tracker: this worker's database connection, the trial's TensorBoard runs */
        opt = c->tb;
        opt.db = w->db;
        opt.trial_id = t->id;
        opt.objective = c->st->metric;
        opt.maximize = c->st->maximize;
        opt.checkpoints = 1;
        ks_tb_trial_run_name(number, run_name, sizeof run_name);
        opt.log_dir = c->log_dir;
        opt.run_name = run_name;
        if (initial_epoch == 0) {
            /* the model summary and the trial's parameters, shown once as text (without
               them, if there is no memory for them: the trial goes on) */
            char *json = NULL;
            ks_error ignored;
            if (ks_space_point_json(&c->st->space, t->point, &json) == KS_OK &&
                ks_tracker_summary_text(m, json, &summary, &ignored) == KS_OK)
                opt.model_summary = summary;
            free(json);
        }
        if (fresh) {
            for (int i = 0; i < c->st->space.n; i++) {
                if (ks_space_value(&c->st->space, i, t->point, &hp_store[n_hp]) != KS_OK)
                    continue;
                hp_names[n_hp] = c->st->space.params[i].name;
                ctl_hp_value(&hp_store[n_hp], &hp_values[n_hp]);
                n_hp++;
            }
            opt.n_hparams = n_hp;
            opt.hparam_names = hp_names;
            opt.hparam_values = hp_values;
        }
        s = ks_tracker_callback_new(&opt, &tracker, &err);
        if (s == KS_OK)
            cbs[ncb++] = tracker;
    }
    if (s == KS_OK) {
        ks_fit_params p = cfg->fit;
        ks_data tr = ks_dataset_data(c->data->train), va;
        if (c->data->val)
            va = ks_dataset_data(c->data->val);
        p.epochs = budget;
        p.initial_epoch = initial_epoch;
        p.verbose = 0;
        p.seed = ctl_trial_seed(c, number);
        s = ks_model_fit(m, &tr, c->data->val ? &va : NULL, &p, cbs, ncb, NULL, &err);
    }
    if (s == KS_OK)
        status = KS_TRIAL_COMPLETE;
    else if (s == KS_INTERRUPTED || (*c->o->stop && s == KS_STOPPED))
        status = KS_TRIAL_INTERRUPTED;
    else
        status = KS_TRIAL_FAILED;
    if (status == KS_TRIAL_FAILED)
        ks_error_format(&err, msg, sizeof msg);
    {
        ks_error ferr;
        ks_status fs = KS_OK;
        /* TensorBoard keeps a run's first session end: it is written once, when the status
           is final (a Hyperband rung below the full budget may still be promoted; those
           never promoted get theirs when the study marks them pruned) */
        int final = status == KS_TRIAL_FAILED ||
                    (status == KS_TRIAL_COMPLETE &&
                     (strcmp(c->st->method->name, "hyperband") != 0 ||
                      budget >= c->st->base->fit.epochs));
        if (tracker)
            fs = ks_tracker_end(tracker, status, status == KS_TRIAL_FAILED ? msg : NULL, final,
                                &ferr);
        else
            fs = ks_db_trial_set_status(w->db, t->id, status, msg[0] ? msg : NULL, &ferr);
        if (fs == KS_OK)    /* which worker ran this job, when: the report's timeline */
            fs = ks_db_segment_add(w->db, t->id, w->index, ks_now() - t0, initial_epoch, status,
                                   &ferr);
        if (fs != KS_OK) {
            /* the database itself failed: the study cannot go on safely */
            pthread_mutex_lock(&c->lock);
            if (!c->failure) {
                c->failure = fs;
                c->err = ferr;
            }
            c->stopping = 1;
            pthread_mutex_unlock(&c->lock);
        }
    }
    for (int i = 0; i < ncb; i++)
        ks_callback_free(cbs[i]);
    for (int i = 0; i < n_hp; i++)
        ks_value_free(&hp_store[i]);
    free(summary);
    ks_model_free(m);
    ks_run_config_free(cfg);

    /* what the study now knows of the trial, from the database */
    pthread_mutex_lock(&c->lock);
    ctl_refresh_trial(c, w->db, number, status, ks_now() - t0);
    ctl_report_trial(c, number, status == KS_TRIAL_FAILED ? msg : NULL);
    pthread_mutex_unlock(&c->lock);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    controller *c = w->c;
    ks_error err;
    if (ks_db_open(c->db_path, 0, &w->db, &err) != KS_OK) {
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
    pthread_t threads[256];
    worker workers[256];
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
