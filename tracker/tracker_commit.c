/*
 * tracker_commit.c — the committer: the half of the tracker that runs in the one
 * writer.  It takes a trial's records in order and commits them: every epoch's logs,
 * the trial's objective (the best value of the study metric over all its segments), the
 * last and best checkpoints and weight histograms into the study database (one
 * transaction per epoch), and TensorBoard runs laid out as Keras's callback does.
 */
#include "tracker.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

struct ks_committer {
    ks_tracker_options opt;
    char log_dir[1024];
    char run_name[128];
    char objective[KS_LOG_NAME_MAX];
    char best_tag[KS_LOG_NAME_MAX + 8];     /* "best_val_accuracy" */
    ks_tb_run *session, *train, *val;       /* session is NULL when train is the session */
    double best;
    int best_epoch;
    int begun;                              /* a BEGIN was committed */
    int n_tags;                             /* the BEGIN's histogram tags, kept */
    char **tags;
    ks_status failure;                      /* a write failed: kept, returned again */
    ks_error err;
};

int ks_objective_better(double v, double best, int maximize)
{
    if (isnan(v))
        return 0;
    if (isnan(best))
        return 1;
    return maximize ? v > best : v < best;
}

static double wall_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

static ks_status fail(ks_committer *c, ks_status s, ks_error *err)
{
    c->failure = s;
    if (err)
        *err = c->err;
    return s;
}

static void run_dir(const ks_committer *c, const char *sub, char *dir, size_t size)
{
    if (c->run_name[0])
        snprintf(dir, size, "%s/%s%s%s", c->log_dir, c->run_name, sub[0] ? "/" : "", sub);
    else
        snprintf(dir, size, "%s%s%s", c->log_dir, sub[0] ? "/" : "", sub);
}

static ks_status open_run(ks_committer *c, const char *sub, ks_tb_run **out)
{
    char dir[1400];
    run_dir(c, sub, dir, sizeof dir);
    return ks_tb_run_open(dir, out, &c->err);
}

/* 1 if dir holds an event file already (an earlier segment of the same trial wrote it). */
static int has_events(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int found = 0;
    if (!d)
        return 0;
    while (!found && (e = readdir(d)) != NULL)
        found = strstr(e->d_name, "tfevents") != NULL;
    closedir(d);
    return found;
}

static void close_runs(ks_committer *c)
{
    ks_tb_run_close(c->train, NULL);
    ks_tb_run_close(c->val, NULL);
    ks_tb_run_close(c->session, NULL);
    c->train = c->val = c->session = NULL;
}

static void free_tags(ks_committer *c)
{
    for (int i = 0; c->tags && i < c->n_tags; i++)
        free(c->tags[i]);
    free(c->tags);
    c->tags = NULL;
    c->n_tags = 0;
}

static ks_status write_graph(ks_committer *c, const ks_record *r)
{
    ks_tb_node *nodes = calloc((size_t)r->n_nodes, sizeof *nodes);
    ks_status s;
    if (!nodes)
        return ks_error_set(&c->err, KS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < r->n_nodes; i++) {
        nodes[i].name = r->nodes[i].name;
        nodes[i].op = r->nodes[i].op;
        nodes[i].shape = r->nodes[i].shape;
        nodes[i].n_inputs = r->nodes[i].n_inputs;
        nodes[i].inputs = (const char *const *)r->nodes[i].inputs;
    }
    s = ks_tb_graph(c->train, nodes, r->n_nodes, r->wall_time, &c->err);
    free(nodes);
    return s;
}

/* The record's files (the projector's) into the train run. */
static ks_status write_files(ks_committer *c, const ks_record *r)
{
    char dir[1400];
    run_dir(c, "train", dir, sizeof dir);
    return ks_tb_files_write(dir, r->files, r->n_files, &c->err);
}

/* TensorBoard of a segment's start: the runs, and in its first segment the graph, the
   model summary and the HParams session start. */
static ks_status begin_tensorboard(ks_committer *c, const ks_record *r)
{
    ks_status s;
    /* The graph, the summary and the session start belong to the run's first segment: a
       resumed trial (initial_epoch > 0, or a restart of a trial whose session run was
       begun) only appends (TensorBoard keeps one graph and the first metadata per tag).
       Keras's layout (no run name) is shared by every fit of its file: each writes. */
    int first = r->initial_epoch == 0;
    if (first && c->run_name[0]) {
        char dir[1400];
        run_dir(c, "", dir, sizeof dir);
        first = !has_events(dir);
    }
    /* runs: RUN/train and RUN/validation; RUN itself is the hparams session */
    if ((s = open_run(c, "train", &c->train)) != KS_OK ||
        (s = open_run(c, "validation", &c->val)) != KS_OK)
        return s;
    if (c->run_name[0] && (s = open_run(c, "", &c->session)) != KS_OK)
        return s;
    if (!first)
        return KS_OK;
    if (c->opt.write_graph && r->n_nodes > 0 && (s = write_graph(c, r)) != KS_OK)
        return s;
    if (r->n_files > 0 && (s = write_files(c, r)) != KS_OK)
        return s;
    if (r->summary && (s = ks_tb_text(c->session ? c->session : c->train, "model_summary", 0,
                                      r->wall_time, r->summary, &c->err)) != KS_OK)
        return s;
    if (c->session && c->opt.n_hparams > 0)
        return ks_tb_hparams_session_start(c->session, c->opt.hparam_names,
                                           c->opt.hparam_values, c->opt.n_hparams, "",
                                           r->wall_time, &c->err);
    return KS_OK;
}

static ks_status put_begin(ks_committer *c, const ks_record *r)
{
    ks_status s;
    /* a segment's runs are its own: a second BEGIN (a fit again) closes the first's */
    close_runs(c);
    free_tags(c);
    if (r->n_weights > 0) {
        if (!(c->tags = calloc((size_t)r->n_weights, sizeof *c->tags)))
            return ks_error_set(&c->err, KS_ERR_NOMEM, "out of memory");
        c->n_tags = r->n_weights;
        for (int i = 0; i < r->n_weights; i++) {
            size_t n = strlen(r->histogram_tags[i]) + 1;
            if (!(c->tags[i] = malloc(n)))
                return ks_error_set(&c->err, KS_ERR_NOMEM, "out of memory");
            memcpy(c->tags[i], r->histogram_tags[i], n);
        }
    }
    /* a resumed or promoted trial: its objective so far, from the epochs before this fit,
       so that the objective, its epoch, the best checkpoint and the best_ series span
       every epoch however the trial's training was split */
    c->best = NAN;
    c->best_epoch = -1;
    if (c->opt.db && r->initial_epoch > 0 &&
        (s = ks_db_trial_best(c->opt.db, c->opt.trial_id, c->objective, c->opt.maximize,
                              r->initial_epoch, &c->best, &c->best_epoch, &c->err)) != KS_OK)
        return s;
    c->begun = 1;
    return c->opt.log_dir ? begin_tensorboard(c, r) : KS_OK;
}

static ks_status put_batch(ks_committer *c, const ks_record *r)
{
    ks_status s;
    if (c->opt.db && (s = ks_db_batch_write(c->opt.db, c->opt.trial_id, r->step, &r->logs,
                                            &c->err)) != KS_OK)
        return s;
    for (int i = 0; c->train && i < r->logs.n; i++) {
        char tag[KS_LOG_NAME_MAX + 8];
        snprintf(tag, sizeof tag, "batch_%s", r->logs.name[i]);
        if ((s = ks_tb_scalar(c->train, tag, r->step, r->wall_time, r->logs.value[i],
                              &c->err)) != KS_OK)
            return s;
    }
    return KS_OK;
}

/* TensorBoard: train and validation scalars as Keras names them, and the objective. */
static ks_status epoch_tensorboard(ks_committer *c, const ks_record *r)
{
    const ks_logs *logs = &r->logs;
    int epoch = r->epoch;
    double now = r->wall_time;
    char tag[KS_LOG_NAME_MAX + 40];
    ks_status s = KS_OK;
    for (int i = 0; i < logs->n && s == KS_OK; i++) {
        const char *name = logs->name[i];
        if (strcmp(name, KS_METRIC_ITERATIONS) == 0)
            continue;       /* the step of the evaluation_ series, not a series */
        if (strcmp(name, "learning_rate") == 0) {
            /* Keras 3 writes the optimizer's learning rate every epoch */
            s = ks_tb_scalar(c->train, "epoch_learning_rate", epoch, now, logs->value[i],
                             &c->err);
        } else if (strncmp(name, "val_", 4) == 0) {
            snprintf(tag, sizeof tag, "epoch_%s", name + 4);
            s = ks_tb_scalar(c->val, tag, epoch, now, logs->value[i], &c->err);
            if (s == KS_OK) {
                snprintf(tag, sizeof tag, "evaluation_%s_vs_iterations", name + 4);
                s = ks_tb_scalar(c->val, tag, r->step, now, logs->value[i], &c->err);
            }
        } else {
            snprintf(tag, sizeof tag, "epoch_%s", name);
            s = ks_tb_scalar(c->train, tag, epoch, now, logs->value[i], &c->err);
        }
    }
    if (s != KS_OK)
        return s;
    for (int i = 0; r->histograms && i < r->n_weights && i < c->n_tags; i++)
        if ((s = ks_tb_histogram(c->train, c->tags[i], epoch, now,
                                 r->histograms + (size_t)i * KS_HISTOGRAM_BUCKETS * 3,
                                 &c->err)) != KS_OK)
            return s;
    /* HParams shows a metric's last point: the best so far gets a series of its own */
    if (c->session && !isnan(c->best))
        return ks_tb_scalar(c->session, c->best_tag, epoch, now, c->best, &c->err);
    return KS_OK;
}

static ks_status put_epoch(ks_committer *c, const ks_record *r)
{
    ks_epoch_record rec;
    const double **hist_rows = NULL;
    double value = NAN;
    ks_status s = KS_OK;
    int n_hist = r->histograms ? (r->n_weights < c->n_tags ? r->n_weights : c->n_tags) : 0;
    memset(&rec, 0, sizeof rec);
    ks_logs_get(&r->logs, c->objective, &value);
    rec.epoch = r->epoch;
    rec.wall_time = r->wall_time;
    rec.logs = &r->logs;
    rec.objective = value;
    rec.improved = ks_objective_better(value, c->best, c->opt.maximize);
    if (rec.improved) {
        c->best = value;
        c->best_epoch = r->epoch;
    }
    rec.last_checkpoint = r->checkpoint;
    rec.last_len = r->checkpoint ? r->checkpoint_len : 0;
    if (rec.improved && r->checkpoint && !c->opt.last_only) {
        rec.best_checkpoint = r->checkpoint;
        rec.best_len = r->checkpoint_len;
    }
    if (n_hist > 0) {
        if (!(hist_rows = malloc((size_t)n_hist * sizeof *hist_rows)))
            return ks_error_set(&c->err, KS_ERR_NOMEM, "out of memory");
        for (int i = 0; i < n_hist; i++)
            hist_rows[i] = r->histograms + (size_t)i * KS_HISTOGRAM_BUCKETS * 3;
        rec.n_histograms = n_hist;
        rec.histogram_tags = (const char *const *)c->tags;
        rec.histograms = hist_rows;
    }
    if (c->opt.db)
        s = ks_db_epoch_write(c->opt.db, c->opt.trial_id, &rec, &c->err);
    free(hist_rows);
    if (s == KS_OK && c->train)
        s = epoch_tensorboard(c, r);
    if (s == KS_OK && c->train && r->n_files > 0)
        s = write_files(c, r);
    return s;
}

ks_status ks_committer_put(ks_committer *c, const ks_record *r, ks_error *err)
{
    ks_status s;
    if (c->failure)
        return fail(c, c->failure, err);
    switch (r->kind) {
    case KS_RECORD_BEGIN:
        s = put_begin(c, r);
        break;
    case KS_RECORD_EPOCH:
        s = put_epoch(c, r);
        break;
    case KS_RECORD_BATCH:
        s = put_batch(c, r);
        break;
    default:
        s = ks_error_set(&c->err, KS_ERR_INTERNAL, "ks_committer_put: an END record");
    }
    return s == KS_OK ? KS_OK : fail(c, s, err);
}

ks_status ks_committer_new(const ks_tracker_options *opt, ks_committer **out, ks_error *err)
{
    ks_committer *c = calloc(1, sizeof *c);
    *out = NULL;
    if (!c)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    c->opt = *opt;
    snprintf(c->objective, sizeof c->objective, "%s", opt->objective ? opt->objective : "");
    snprintf(c->best_tag, sizeof c->best_tag, "best_%s", c->objective);
    if (opt->log_dir)
        snprintf(c->log_dir, sizeof c->log_dir, "%s", opt->log_dir);
    snprintf(c->run_name, sizeof c->run_name, "%s", opt->run_name ? opt->run_name : "");
    c->opt.log_dir = opt->log_dir ? c->log_dir : NULL;
    c->opt.run_name = c->run_name;
    c->best = NAN;
    c->best_epoch = -1;
    *out = c;
    return KS_OK;
}

void ks_committer_free(ks_committer *c)
{
    if (!c)
        return;
    close_runs(c);
    free_tags(c);
    free(c);
}

double ks_committer_objective(const ks_committer *c, int *best_epoch)
{
    if (best_epoch)
        *best_epoch = c->best_epoch;
    return c->best;
}

ks_status ks_committer_end(ks_committer *c, ks_trial_status status, const char *error_text,
                           int session_end, const ks_job_span *span, ks_error *err)
{
    ks_status s = KS_OK;
    double end = 0;
    if (c->opt.db)
        s = ks_db_trial_end(c->opt.db, c->opt.trial_id, status, error_text, span, err);
    if (c->session && s == KS_OK && session_end) {
        /* the end the database recorded, so that both tell the same time */
        ks_trial_info info;
        ks_error ignored;
        if (c->opt.db && ks_db_trial_get(c->opt.db, c->opt.trial_id, &info, &ignored) == KS_OK) {
            end = info.ended;
            ks_trial_info_free(&info);
        }
        s = ks_tb_hparams_session_end(c->session, status, end > 0 ? end : wall_now(), err);
    }
    {
        /* close every run whatever happened; report the first failure */
        ks_tb_run *runs[3] = {c->train, c->val, c->session};
        c->train = c->val = c->session = NULL;
        return ks_tb_runs_close(runs, 3, s, err);
    }
}
