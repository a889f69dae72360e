/*
 * tracker_callback.c — the engine callback that records a fit: every epoch's logs,
 * the trial's objective (the best value of the study metric so far), the last and
 * best checkpoints, weight histograms, into the study database (one transaction per
 * epoch) and into TensorBoard runs laid out as Keras's TensorBoard callback does.
 */
#include "tracker.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

typedef struct tracker {
    ks_callback *cb;                        /* the callback this is the state of */
    ks_tracker_options opt;
    char log_dir[1024];
    char run_name[128];
    char objective[KS_LOG_NAME_MAX];
    char best_tag[KS_LOG_NAME_MAX + 8];     /* "best_val_accuracy" */
    ks_tb_run *session, *train, *val;       /* session is NULL when train is the session */
    double best;
    int best_epoch;
    int started;
    int failed;                             /* a write failed: the fit was stopped */
    int first_segment;                      /* writes the graph, summary, session start */
    unsigned char *ckpt;                    /* the checkpoint's bytes, reused every epoch */
    size_t ckpt_cap;
    /* histograms: tags and one buffer for all of them, sized at train begin */
    int n_weights;
    char **tags;
    double *hist;                           /* n_weights × buckets × 3 */
    const double **hist_rows;               /* each weight's part of hist */
    ks_error err;                            /* why a write failed, reported once */
} tracker;

static double wall_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
}

static int better(const tracker *t, double v)
{
    if (isnan(v))
        return 0;
    if (isnan(t->best))
        return 1;
    return t->opt.maximize ? v > t->best : v < t->best;
}

/* Fail the fit with the writer's message (the trial is then recorded as failed). */
static ks_status fail(tracker *t, ks_status s)
{
    char buf[600];
    t->failed = 1;
    snprintf(t->cb->message, sizeof t->cb->message, "%s",
             ks_error_format(&t->err, buf, sizeof buf));
    return s;
}

static void run_dir(const tracker *t, const char *sub, char *dir, size_t size)
{
    if (t->run_name[0])
        snprintf(dir, size, "%s/%s%s%s", t->log_dir, t->run_name, sub[0] ? "/" : "", sub);
    else
        snprintf(dir, size, "%s%s%s", t->log_dir, sub[0] ? "/" : "", sub);
}

static ks_status open_run(tracker *t, const char *sub, ks_tb_run **out)
{
    char dir[1400];
    run_dir(t, sub, dir, sizeof dir);
    return ks_tb_run_open(dir, out, &t->err);
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

static void free_tags(tracker *t)
{
    for (int i = 0; t->tags && i < t->n_weights; i++)
        free(t->tags[i]);
    free(t->tags);
    free(t->hist);
    free(t->hist_rows);
    t->tags = NULL;
    t->hist = NULL;
    t->hist_rows = NULL;
    t->n_weights = 0;
}

/* After a failure, or when the callback is freed without ks_tracker_finish. */
static void close_runs(tracker *t)
{
    ks_tb_run_close(t->train, NULL);
    ks_tb_run_close(t->val, NULL);
    ks_tb_run_close(t->session, NULL);
    t->train = t->val = t->session = NULL;
}

static ks_status write_graph(tracker *t, ks_model *m, double now)
{
    return ks_tb_model_graph(t->train, m, now, &t->err);
}

static ks_status tr_train_begin(void *user, const ks_callback_ctx *ctx)
{
    tracker *t = user;
    ks_model *m = ctx->model;
    double now = wall_now();
    ks_status s;
    if (t->started)
        return KS_OK;       /* a resumed fit on the same callback: runs stay open */
    t->started = 1;
    t->n_weights = ks_model_n_weights(m);
    t->tags = calloc((size_t)t->n_weights + 1, sizeof *t->tags);
    t->hist = malloc(((size_t)t->n_weights + 1) * KS_HISTOGRAM_BUCKETS * 3 * sizeof *t->hist);
    t->hist_rows = calloc((size_t)t->n_weights + 1, sizeof *t->hist_rows);
    if (!t->tags || !t->hist || !t->hist_rows)
        return fail(t, ks_error_set(&t->err, KS_ERR_NOMEM, "out of memory"));
    for (int i = 0; i < t->n_weights; i++)
        t->hist_rows[i] = t->hist + (size_t)i * KS_HISTOGRAM_BUCKETS * 3;
    /* a resumed or promoted trial: its objective so far, from the epochs before this fit,
       so that the objective, its epoch, the best checkpoint and the best_ series span
       every epoch however the trial's training was split */
    if (t->opt.db && ctx->params && ctx->params->initial_epoch > 0 &&
        (s = ks_db_trial_best(t->opt.db, t->opt.trial_id, t->objective, t->opt.maximize,
                              ctx->params->initial_epoch, &t->best, &t->best_epoch,
                              &t->err)) != KS_OK)
        return fail(t, s);
    for (int i = 0; i < t->n_weights; i++) {
        size_t len = strlen(ks_model_weight_name(m, i)) + sizeof "/histogram";
        if (!(t->tags[i] = malloc(len)))
            return fail(t, ks_error_set(&t->err, KS_ERR_NOMEM, "out of memory"));
        snprintf(t->tags[i], len, "%s/histogram", ks_model_weight_name(m, i));
    }
    if (!t->opt.log_dir)
        return KS_OK;
    /* The graph, the summary and the session start belong to the run's first segment: a
       resumed trial (initial_epoch > 0, or a restart of a trial whose session run was
       begun) only appends (TensorBoard keeps one graph and the first metadata per tag).
       Keras's layout (no run name) is shared by every fit of its file: each writes. */
    t->first_segment = !ctx->params || ctx->params->initial_epoch == 0;
    if (t->first_segment && t->run_name[0]) {
        char dir[1400];
        run_dir(t, "", dir, sizeof dir);
        t->first_segment = !has_events(dir);
    }
    /* runs: RUN/train and RUN/validation; RUN itself is the hparams session */
    if ((s = open_run(t, "train", &t->train)) != KS_OK ||
        (s = open_run(t, "validation", &t->val)) != KS_OK)
        return fail(t, s);
    if (t->run_name[0] && (s = open_run(t, "", &t->session)) != KS_OK)
        return fail(t, s);
    if (!t->first_segment)
        return KS_OK;
    if (t->opt.write_graph && (s = write_graph(t, m, now)) != KS_OK)
        return fail(t, s);
    if (t->opt.model_summary &&
        (s = ks_tb_text(t->session ? t->session : t->train, "model_summary", 0, now,
                        t->opt.model_summary, &t->err)) != KS_OK)
        return fail(t, s);
    if (t->session && t->opt.n_hparams > 0 &&
        (s = ks_tb_hparams_session_start(t->session, t->opt.hparam_names, t->opt.hparam_values,
                                         t->opt.n_hparams, "", now, &t->err)) != KS_OK)
        return fail(t, s);
    return KS_OK;
}

static ks_status tr_batch_end(void *user, const ks_callback_ctx *ctx)
{
    tracker *t = user;
    int64_t step = ks_model_iterations(ctx->model);
    ks_status s;
    if (t->opt.update_freq <= 0 || step % t->opt.update_freq != 0)
        return KS_OK;
    if (t->opt.db && (s = ks_db_batch_write(t->opt.db, t->opt.trial_id, step, ctx->logs,
                                            &t->err)) != KS_OK)
        return fail(t, s);
    if (t->train) {
        double now = wall_now();
        for (int i = 0; i < ctx->logs->n; i++) {
            char tag[KS_LOG_NAME_MAX + 8];
            snprintf(tag, sizeof tag, "batch_%s", ctx->logs->name[i]);
            if ((s = ks_tb_scalar(t->train, tag, step, now, ctx->logs->value[i], &t->err)) !=
                KS_OK)
                return fail(t, s);
        }
    }
    return KS_OK;
}

/* TensorBoard: train and validation scalars as Keras names them, and the objective. */
static ks_status write_epoch_tb(tracker *t, const ks_callback_ctx *ctx, double now)
{
    const ks_logs *logs = ctx->epoch_logs ? ctx->epoch_logs : ctx->logs;
    int64_t iterations = ks_model_iterations(ctx->model);
    int epoch = ctx->epoch, have_lr = 0;
    char tag[KS_LOG_NAME_MAX + 40];
    ks_status s;
    for (int i = 0; i < logs->n; i++) {
        const char *name = logs->name[i];
        if (strcmp(name, "learning_rate") == 0) {
            have_lr = 1;
            snprintf(tag, sizeof tag, "epoch_learning_rate");
            s = ks_tb_scalar(t->train, tag, epoch, now, logs->value[i], &t->err);
        } else if (strncmp(name, "val_", 4) == 0) {
            snprintf(tag, sizeof tag, "epoch_%s", name + 4);
            s = ks_tb_scalar(t->val, tag, epoch, now, logs->value[i], &t->err);
            if (s == KS_OK) {
                snprintf(tag, sizeof tag, "evaluation_%s_vs_iterations", name + 4);
                s = ks_tb_scalar(t->val, tag, iterations, now, logs->value[i], &t->err);
            }
        } else {
            snprintf(tag, sizeof tag, "epoch_%s", name);
            s = ks_tb_scalar(t->train, tag, epoch, now, logs->value[i], &t->err);
        }
        if (s != KS_OK)
            return s;
    }
    /* Keras 3 writes the optimizer's learning rate every epoch */
    if (!have_lr && (s = ks_tb_scalar(t->train, "epoch_learning_rate", epoch, now,
                                      ks_model_get_lr(ctx->model), &t->err)) != KS_OK)
        return s;
    /* HParams shows a metric's last point: the best so far gets a series of its own */
    if (t->session && !isnan(t->best))
        return ks_tb_scalar(t->session, t->best_tag, epoch, now, t->best, &t->err);
    return KS_OK;
}

static ks_status tr_epoch_end(void *user, const ks_callback_ctx *ctx)
{
    tracker *t = user;
    const ks_logs *logs = ctx->epoch_logs ? ctx->epoch_logs : ctx->logs;
    ks_model *m = ctx->model;
    ks_epoch_record rec;
    ks_logs stored;
    size_t ckpt_len = 0;
    /* as Keras: at epochs 0, N, 2N … */
    int histograms = t->opt.histogram_freq > 0 && ctx->epoch % t->opt.histogram_freq == 0;
    double now = wall_now(), value = NAN;
    ks_status s = KS_OK;

    memset(&rec, 0, sizeof rec);
    ks_logs_get(logs, t->objective, &value);
    rec.epoch = ctx->epoch;
    rec.wall_time = now;
    /* the logs, and what TensorBoard shows besides them (see KS_METRIC_ITERATIONS) */
    stored = *logs;
    if (!ks_logs_get(&stored, "learning_rate", NULL))
        ks_logs_set(&stored, "learning_rate", ks_model_get_lr(m));
    ks_logs_set(&stored, KS_METRIC_ITERATIONS, (double)ks_model_iterations(m));
    rec.logs = &stored;
    rec.objective = value;
    rec.improved = better(t, value);
    if (rec.improved) {
        t->best = value;
        t->best_epoch = ctx->epoch;
    }
    if (histograms) {
        for (int i = 0; i < t->n_weights; i++)
            ks_histogram_compute(ks_model_weight_data(m, i),
                                 ks_shape_size(ks_model_weight_shape(m, i)),
                                 t->hist + (size_t)i * KS_HISTOGRAM_BUCKETS * 3);
    }
    if (t->opt.db) {
        if (t->opt.checkpoints &&
            (s = ks_model_save_to(m, KS_SAVE_OPTIMIZER, ctx->epoch + 1, &t->ckpt, &t->ckpt_cap,
                                  &ckpt_len, &t->err)) != KS_OK)
            return fail(t, s);
        rec.last_checkpoint = ckpt_len ? t->ckpt : NULL;
        rec.last_len = ckpt_len;
        if (rec.improved) {
            rec.best_checkpoint = rec.last_checkpoint;
            rec.best_len = ckpt_len;
        }
        if (histograms) {
            rec.n_histograms = t->n_weights;
            rec.histogram_tags = (const char *const *)t->tags;
            rec.histograms = t->hist_rows;
        }
        s = ks_db_epoch_write(t->opt.db, t->opt.trial_id, &rec, &t->err);
        if (s != KS_OK)
            return fail(t, s);
    }
    if (t->train) {
        if ((s = write_epoch_tb(t, ctx, now)) != KS_OK)
            return fail(t, s);
        for (int i = 0; histograms && i < t->n_weights; i++)
            if ((s = ks_tb_histogram(t->train, t->tags[i], ctx->epoch, now, t->hist_rows[i],
                                     &t->err)) != KS_OK)
                return fail(t, s);
    }
    return KS_OK;
}

static void tracker_free(void *user)
{
    tracker *t = user;
    close_runs(t);
    free_tags(t);
    free(t->ckpt);
    free(t);
}

ks_status ks_tracker_callback_new(const ks_tracker_options *opt, ks_callback **out,
                                  ks_error *err)
{
    ks_callback *cb = calloc(1, sizeof *cb);
    tracker *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!cb || !t) {
        free(cb);
        free(t);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    t->cb = cb;
    t->opt = *opt;
    snprintf(t->objective, sizeof t->objective, "%s", opt->objective ? opt->objective : "");
    snprintf(t->best_tag, sizeof t->best_tag, "best_%s", t->objective);
    if (opt->log_dir)
        snprintf(t->log_dir, sizeof t->log_dir, "%s", opt->log_dir);
    snprintf(t->run_name, sizeof t->run_name, "%s", opt->run_name ? opt->run_name : "");
    t->opt.log_dir = opt->log_dir ? t->log_dir : NULL;
    t->opt.run_name = t->run_name;
    t->best = NAN;
    t->best_epoch = -1;
    cb->name = "Tracker";
    cb->user = t;
    cb->free = tracker_free;
    cb->on_train_begin = tr_train_begin;
    /* only when batches are recorded: a batch-end callback makes the engine build the
       batch logs after every step */
    if (opt->update_freq > 0)
        cb->on_train_batch_end = tr_batch_end;
    cb->on_epoch_end = tr_epoch_end;
    *out = cb;
    return KS_OK;
}

int ks_tracker_failed(const ks_callback *cb)
{
    return cb && ((const tracker *)cb->user)->failed;
}

double ks_tracker_objective(const ks_callback *cb, int *best_epoch)
{
    const tracker *t = cb->user;
    if (best_epoch)
        *best_epoch = t->best_epoch;
    return t->best;
}

ks_status ks_tracker_finish(ks_callback *cb, ks_trial_status status, const char *error_text,
                            ks_error *err)
{
    int final = status == KS_TRIAL_COMPLETE || status == KS_TRIAL_PRUNED ||
                status == KS_TRIAL_FAILED;
    return ks_tracker_end(cb, status, error_text, final, err);
}

ks_status ks_tracker_end(ks_callback *cb, ks_trial_status status, const char *error_text,
                         int session_end, ks_error *err)
{
    tracker *t = cb->user;
    ks_status s = KS_OK;
    double end = 0;
    if (t->opt.db)
        s = ks_db_trial_set_status(t->opt.db, t->opt.trial_id, status, error_text, err);
    if (t->session && s == KS_OK && session_end) {
        /* the end the database recorded, so that both tell the same time */
        ks_trial_info info;
        ks_error ignored;
        if (t->opt.db && ks_db_trial_get(t->opt.db, t->opt.trial_id, &info, &ignored) == KS_OK) {
            end = info.ended;
            ks_trial_info_free(&info);
        }
        s = ks_tb_hparams_session_end(t->session, status, end > 0 ? end : wall_now(), err);
    }
    {
        /* close every run whatever happened; report the first failure */
        ks_tb_run *runs[3] = {t->train, t->val, t->session};
        t->train = t->val = t->session = NULL;
        return ks_tb_runs_close(runs, 3, s, err);
    }
}

/* Markdown table cell text: '|' escaped, line breaks as spaces. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else
            fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
}

ks_status ks_tracker_summary_text(const ks_model *m, const char *params_json, char **out,
                                  ks_error *err)
{
    char *text = NULL, *table = NULL;
    size_t len = 0, table_len = 0;
    FILE *f, *tf;
    ks_value v;
    int have_params = 0;
    *out = NULL;
    if (!m)
        return ks_error_set(err, KS_ERR_INTERNAL, "ks_tracker_summary_text: no model");
    if (params_json &&
        ks_value_from_json(params_json, strlen(params_json), "params", &v, NULL) == KS_OK) {
        have_params = v.kind == KS_VALUE_MAP && v.n > 0;
        if (!have_params)
            ks_value_free(&v);
    }
    /* ks_model_summary's table, each line indented: a Markdown code block */
    if (!(tf = open_memstream(&table, &table_len))) {
        if (have_params)
            ks_value_free(&v);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    ks_model_summary(m, tf);
    if (fclose(tf) != 0 || !table) {
        free(table);
        if (have_params)
            ks_value_free(&v);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if (!(f = open_memstream(&text, &len))) {
        free(table);
        if (have_params)
            ks_value_free(&v);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if (have_params) {
        fputs("**Parameters**\n\n| parameter | value |\n|---|---|\n", f);
        for (size_t i = 0; i < v.n; i++) {
            const ks_value *e = &v.items[i];
            char val[64];
            fputs("| ", f);
            md_cell(f, e->key);
            fputs(" | ", f);
            if (e->kind == KS_VALUE_NUMBER)
                snprintf(val, sizeof val, "%.10g", e->number);
            else if (e->kind == KS_VALUE_BOOL)
                snprintf(val, sizeof val, "%s", e->boolean ? "true" : "false");
            else if (e->kind != KS_VALUE_STRING)
                ks_value_describe(e, val, sizeof val);
            md_cell(f, e->kind == KS_VALUE_STRING ? e->string : val);
            fputs(" |\n", f);
        }
        fputs("\n**Model**\n\n", f);
        ks_value_free(&v);
    }
    for (const char *line = table; *line;) {
        size_t n = strcspn(line, "\n");
        fprintf(f, "    %.*s\n", (int)n, line);
        line += n + (line[n] == '\n');
    }
    free(table);
    if (fclose(f) != 0 || !text) {
        free(text);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    *out = text;
    return KS_OK;
}

/* ---------------------------------------------- the TensorBoard callback's arguments */

typedef struct tb_args {
    char log_dir[1024];
    int histogram_freq;
    int write_graph;
    ks_value update_freq;
    int write_images, write_steps_per_second, profile_batch, embeddings_freq;
} tb_args;

static const ks_key tb_keys[] = {
    {"log_dir", KS_KEY_STRING, offsetof(tb_args, log_dir), 1024, 0, 0, "logs", NULL, 0},
    {"histogram_freq", KS_KEY_INT, offsetof(tb_args, histogram_freq), 0, 0, 1e9, "0", NULL, 0},
    {"write_graph", KS_KEY_BOOL, offsetof(tb_args, write_graph), 0, 0, 0, "true", NULL, 0},
    {"update_freq", KS_KEY_VALUE, offsetof(tb_args, update_freq), 0, 0, 0, NULL, NULL, 0},
    /* accepted at their Keras defaults only: ksearch does not write these */
    {"write_images", KS_KEY_BOOL, offsetof(tb_args, write_images), 0, 0, 0, "false", NULL, 0},
    {"write_steps_per_second", KS_KEY_BOOL, offsetof(tb_args, write_steps_per_second), 0, 0, 0,
     "false", NULL, 0},
    {"profile_batch", KS_KEY_INT, offsetof(tb_args, profile_batch), 0, 0, 0, "0", NULL, 0},
    {"embeddings_freq", KS_KEY_INT, offsetof(tb_args, embeddings_freq), 0, 0, 0, "0", NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

ks_status ks_tracker_tensorboard_args(const ks_value *args, ks_tracker_options *opt,
                                      char *log_dir, size_t log_dir_size, ks_error *err)
{
    tb_args a;
    const ks_value *u;
    ks_status s;
    char got[64];
    ks_keys_defaults(tb_keys, &a);
    if ((s = ks_keys_read(tb_keys, args, "TensorBoard", &a, err)) != KS_OK)
        goto out;
    if (a.write_images || a.write_steps_per_second) {
        s = ks_error_at(err, KS_ERR_CONFIG, args,
                        "TensorBoard: write_images and write_steps_per_second are not "
                        "supported; leave them false");
        goto out;
    }
    u = &a.update_freq;
    if (u->kind == KS_VALUE_NULL || (u->kind == KS_VALUE_STRING && strcmp(u->string, "epoch") == 0)) {
        opt->update_freq = 0;
    } else if (u->kind == KS_VALUE_STRING && strcmp(u->string, "batch") == 0) {
        opt->update_freq = 1;
    } else if (u->kind == KS_VALUE_NUMBER && u->number == floor(u->number) && u->number >= 1 &&
               u->number <= 1e9) {
        opt->update_freq = (int)u->number;
    } else {
        s = ks_error_at(err, KS_ERR_CONFIG, u,
                        "TensorBoard: update_freq must be \"epoch\", \"batch\" or a number of "
                        "batches >= 1, got %s",
                        ks_value_describe(u, got, sizeof got));
        goto out;
    }
    opt->histogram_freq = a.histogram_freq;
    opt->write_graph = a.write_graph;
    snprintf(log_dir, log_dir_size, "%s", a.log_dir);
    opt->log_dir = log_dir;
out:
    ks_keys_free(tb_keys, &a);
    return s;
}
