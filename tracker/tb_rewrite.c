/*
 * tb_rewrite.c — `ksearch tensorboard RUNDIR`: every TensorBoard log of a study
 * written again from study.db alone (the database is the source of truth), in the
 * layout the live tracker writes: a study's LOG_DIR/trial-0007/{,train,validation}, or
 * for a `ksearch fit` run Keras's LOG_DIR/{train,validation}.
 */
#include "tracker.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

void ks_tb_trial_run_name(int number, char *out, size_t size)
{
    snprintf(out, size, "trial-%04d", number);
}

/* Remove the event files directly in dir (nothing else), so a rewrite does not add. */
static ks_status clear_events(const char *dir, ks_error *err)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return errno == ENOENT ? KS_OK
                               : ks_error_set(err, KS_ERR_IO, "cannot read %s: %s", dir,
                                              strerror(errno));
    while ((e = readdir(d)) != NULL) {
        char path[2048];
        if (!strstr(e->d_name, "tfevents"))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) {
            closedir(d);
            return ks_error_set(err, KS_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
        }
    }
    closedir(d);
    return KS_OK;
}

static ks_status open_clean(const char *dir, ks_tb_run **run, ks_error *err)
{
    ks_status s = clear_events(dir, err);
    return s == KS_OK ? ks_tb_run_open(dir, run, err) : s;
}

/*
 * Clear the event files of every run either layout has under log_dir (the root, its
 * train and validation, and each trial's three), so that a rewrite in one layout leaves
 * nothing of the other shown twice; the directories of the layout not written are
 * removed when that leaves them empty.
 */
static ks_status clear_layouts(const char *log_dir, const ks_trial_info *trials, int n, int fit,
                               ks_error *err)
{
    static const char *const subs[] = {"/train", "/validation", ""};
    char dir[1200], run[64];
    ks_status s = clear_events(log_dir, err);
    for (int k = 0; s == KS_OK && k < 2; k++) {
        snprintf(dir, sizeof dir, "%s%s", log_dir, subs[k]);
        if ((s = clear_events(dir, err)) == KS_OK && !fit)
            rmdir(dir);
    }
    for (int i = 0; s == KS_OK && i < n; i++) {
        ks_tb_trial_run_name(trials[i].number, run, sizeof run);
        for (int k = 0; s == KS_OK && k < 3; k++) {
            snprintf(dir, sizeof dir, "%s/%s%s", log_dir, run, subs[k]);
            if ((s = clear_events(dir, err)) == KS_OK && fit)
                rmdir(dir);
        }
    }
    return s;
}

/*
 * 1 if the YAML text is a mapping with a top-level "search" key (a study file), 0 if
 * not (the file of a `ksearch fit`), -1 if it does not parse.
 */
static int has_search_section(const char *text)
{
    yaml_parser_t p;
    yaml_event_t ev;
    int depth = 0, at_key = 1, found = 0, done = 0, result;
    if (!text || !yaml_parser_initialize(&p))
        return -1;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
    while (!done && !found) {
        if (!yaml_parser_parse(&p, &ev)) {
            yaml_parser_delete(&p);
            return -1;
        }
        switch (ev.type) {
        case YAML_MAPPING_START_EVENT:
        case YAML_SEQUENCE_START_EVENT:
            if (depth == 0 && ev.type != YAML_MAPPING_START_EVENT)
                done = 1;       /* the document is not a mapping */
            depth++;
            break;
        case YAML_MAPPING_END_EVENT:
        case YAML_SEQUENCE_END_EVENT:
            depth--;
            if (depth == 1)
                at_key = !at_key;   /* a collection was a key's value (or a key) */
            done = depth == 0;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_ALIAS_EVENT:
            if (depth == 1) {
                found = at_key && ev.type == YAML_SCALAR_EVENT &&
                        strcmp((const char *)ev.data.scalar.value, "search") == 0;
                at_key = !at_key;
            } else if (depth == 0) {
                done = 1;       /* a scalar document */
            }
            break;
        case YAML_STREAM_END_EVENT:
            done = 1;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    result = found;
    yaml_parser_delete(&p);
    return result;
}

/* ------------------------------------------------------ hparams from trials */

typedef struct hp_column {
    char name[64];
    ks_hp_type type;
    int discrete;               /* values[] (else the interval [min, max]) */
    double min, max;
    int n_values;
    ks_hp_value values[64];
    char *strings[64];          /* owned copies behind values[].string */
} hp_column;

static hp_column *find_column(hp_column *cols, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(cols[i].name, name) == 0)
            return &cols[i];
    return NULL;
}

/* One trial's parameters as names and values (names and strings borrowed from v). */
static int trial_values(const ks_value *v, const char **names, ks_hp_value *values, int max)
{
    int n = 0;
    for (size_t i = 0; v->kind == KS_VALUE_MAP && i < v->n && n < max; i++) {
        const ks_value *m = &v->items[i];
        ks_hp_value *h = &values[n];
        memset(h, 0, sizeof *h);
        if (m->kind == KS_VALUE_NUMBER) {
            h->type = KS_HP_FLOAT;
            h->number = m->number;
        } else if (m->kind == KS_VALUE_BOOL) {
            h->type = KS_HP_BOOL;
            h->boolean = m->boolean;
        } else if (m->kind == KS_VALUE_STRING) {
            h->type = KS_HP_STRING;
            h->string = m->string;
        } else {
            continue;
        }
        names[n++] = m->key;
    }
    return n;
}

static void add_to_column(hp_column *c, const ks_hp_value *v)
{
    if (c->type == KS_HP_FLOAT) {
        c->min = fmin(c->min, v->number);
        c->max = fmax(c->max, v->number);
        return;
    }
    for (int i = 0; i < c->n_values; i++)
        if (c->type == KS_HP_BOOL ? c->values[i].boolean == v->boolean
                                  : strcmp(c->values[i].string, v->string) == 0)
            return;
    if (c->n_values == 64)
        return;
    c->values[c->n_values] = *v;
    if (c->type == KS_HP_STRING) {
        c->strings[c->n_values] = strdup(v->string);
        c->values[c->n_values].string = c->strings[c->n_values] ? c->strings[c->n_values] : "";
    }
    c->n_values++;
}

/*
 * The domains the study declared (study.hparams, see db.c), into cols: the number of
 * columns, or -1 when the database does not keep them (a schema 1 file) or they do not
 * read as expected (then they are inferred from the trials' values).
 */
static int declared_columns(const char *json, hp_column *cols, int max)
{
    static const char *const types[] = {"float", "string", "bool"};
    ks_value v;
    int n = 0, ok = 1;
    if (!json || ks_value_from_json(json, strlen(json), "hparams", &v, NULL) != KS_OK)
        return -1;
    ok = v.kind == KS_VALUE_LIST && v.n <= (size_t)max;
    for (size_t i = 0; ok && i < v.n; i++) {
        const ks_value *h = &v.items[i], *name = ks_value_get(h, "name"),
                       *type = ks_value_get(h, "type"), *values = ks_value_get(h, "values");
        hp_column *c = &cols[n];
        int t = -1;
        for (int k = 0; type && type->kind == KS_VALUE_STRING && k < 3; k++)
            if (strcmp(type->string, types[k]) == 0)
                t = k;
        if (!name || name->kind != KS_VALUE_STRING || t < 0) {
            ok = 0;
            break;
        }
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "%s", name->string);
        c->type = (ks_hp_type)t;
        n++;
        if (!values) {
            const ks_value *lo = ks_value_get(h, "min"), *hi = ks_value_get(h, "max");
            ok = t == KS_HP_FLOAT && lo && hi && lo->kind == KS_VALUE_NUMBER &&
                 hi->kind == KS_VALUE_NUMBER;
            if (ok) {
                c->min = lo->number;
                c->max = hi->number;
            }
            continue;
        }
        c->discrete = 1;
        ok = values->kind == KS_VALUE_LIST && values->n <= 64;
        for (size_t k = 0; ok && k < values->n; k++) {
            const ks_value *x = &values->items[k];
            ks_hp_value *hv = &c->values[c->n_values];
            memset(hv, 0, sizeof *hv);
            hv->type = c->type;
            if (t == KS_HP_FLOAT && x->kind == KS_VALUE_NUMBER)
                hv->number = x->number;
            else if (t == KS_HP_BOOL && x->kind == KS_VALUE_BOOL)
                hv->boolean = x->boolean;
            else if (t == KS_HP_STRING && x->kind == KS_VALUE_STRING &&
                     (c->strings[c->n_values] = strdup(x->string)))
                hv->string = c->strings[c->n_values];
            else
                ok = 0;
            c->n_values += ok;
        }
    }
    ks_value_free(&v);
    if (!ok) {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < cols[i].n_values; j++)
                free(cols[i].strings[j]);
        memset(cols, 0, (size_t)n * sizeof *cols);
        return -1;
    }
    return n;
}

/* The domains the trials' values span (files that do not keep the declared ones). */
static int inferred_columns(const ks_trial_info *trials, int n, hp_column *cols, int max)
{
    int n_cols = 0;
    for (int t = 0; t < n; t++) {
        ks_value v;
        const char *names[64];
        ks_hp_value vals[64];
        int k;
        if (!trials[t].params ||
            ks_value_from_json(trials[t].params, strlen(trials[t].params), "params", &v, NULL) !=
                KS_OK)
            continue;
        k = trial_values(&v, names, vals, 64);
        for (int i = 0; i < k; i++) {
            hp_column *c = find_column(cols, n_cols, names[i]);
            if (!c && n_cols < max) {
                c = &cols[n_cols++];
                snprintf(c->name, sizeof c->name, "%s", names[i]);
                c->type = vals[i].type;
                c->discrete = c->type != KS_HP_FLOAT;
                c->min = INFINITY;
                c->max = -INFINITY;
            }
            if (c && c->type == vals[i].type)
                add_to_column(c, &vals[i]);
        }
        ks_value_free(&v);
    }
    return n_cols;
}

static ks_status write_experiment(const ks_study_info *st, const ks_trial_info *trials, int n,
                                  const char *log_dir, ks_error *err)
{
    hp_column *cols = calloc(64, sizeof *cols);
    ks_hp_info infos[64];
    int n_cols = 0;
    ks_tb_run *root = NULL;
    ks_status s;
    char best_tag[96], metric[96];
    const char *group = "validation";
    ks_hp_metric metrics[4];
    if (!cols)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    /* the space the study declared, as the live tracker wrote it; for older files the
       domains the trials' values span */
    if ((n_cols = declared_columns(st->hparams, cols, 64)) < 0)
        n_cols = inferred_columns(trials, n, cols, 64);
    for (int i = 0; i < n_cols; i++) {
        memset(&infos[i], 0, sizeof infos[i]);
        infos[i].name = cols[i].name;
        infos[i].type = cols[i].type;
        infos[i].discrete = cols[i].discrete;
        infos[i].min = cols[i].min;
        infos[i].max = cols[i].max;
        infos[i].n_values = cols[i].n_values;
        infos[i].values = cols[i].values;
    }
    /* the study metric (validation/epoch_x or train/epoch_x), its best, and the losses */
    if (strncmp(st->metric, "val_", 4) == 0) {
        snprintf(metric, sizeof metric, "epoch_%s", st->metric + 4);
    } else {
        snprintf(metric, sizeof metric, "epoch_%s", st->metric);
        group = "train";
    }
    snprintf(best_tag, sizeof best_tag, "best_%s", st->metric);
    metrics[0] = (ks_hp_metric){"", best_tag, best_tag, 0};
    metrics[1] = (ks_hp_metric){group, metric, NULL, strcmp(group, "train") ? 2 : 1};
    metrics[2] = (ks_hp_metric){"validation", "epoch_loss", NULL, 2};
    metrics[3] = (ks_hp_metric){"train", "epoch_loss", NULL, 1};
    s = open_clean(log_dir, &root, err);
    if (s == KS_OK)
        s = ks_tb_hparams_experiment(root, st->name, st->created, infos, n_cols, metrics,
                                     strcmp(metric, "epoch_loss") == 0 ? 2 : 4, err);
    s = ks_tb_runs_close(&root, 1, s, err);
    for (int i = 0; i < n_cols; i++)
        for (int j = 0; j < cols[i].n_values; j++)
            free(cols[i].strings[j]);
    free(cols);
    return s;
}

/* ------------------------------------------------------------- one trial */

typedef struct trial_runs {
    ks_tb_run *session, *train, *val;   /* session: NULL in fit's layout */
} trial_runs;

static ks_status close_runs(trial_runs *r, ks_status s, ks_error *err)
{
    ks_tb_run *runs[3] = {r->session, r->train, r->val};
    memset(r, 0, sizeof *r);
    return ks_tb_runs_close(runs, 3, s, err);
}

/* The optimizer's step count at the end of each epoch (-1: not recorded), by epoch. */
typedef struct epoch_steps {
    int64_t *steps;
    int n;
} epoch_steps;

static ks_status load_steps(ks_db *db, const ks_trial_info *t, epoch_steps *es, ks_error *err)
{
    ks_metric_point *p = NULL;
    int n = 0;
    ks_status s = ks_db_metric_series(db, t->id, KS_METRIC_ITERATIONS, 0, &p, &n, err);
    memset(es, 0, sizeof *es);
    if (s != KS_OK)
        return s;
    for (int k = 0; k < n; k++)
        if (p[k].epoch >= es->n)
            es->n = p[k].epoch + 1;
    if (es->n > 0 && !(es->steps = malloc((size_t)es->n * sizeof *es->steps))) {
        free(p);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    for (int k = 0; k < es->n; k++)
        es->steps[k] = -1;
    for (int k = 0; k < n; k++)
        if (p[k].epoch >= 0 && isfinite(p[k].value) && p[k].value >= 0)
            es->steps[p[k].epoch] = (int64_t)p[k].value;
    free(p);
    return KS_OK;
}

/* The epoch and batch series as the live tracker writes them: train and validation
   scalars by Keras's names, evaluation_<m>_vs_iterations, and the objective's best. */
static ks_status write_series(ks_db *db, const ks_study_info *st, const ks_trial_info *t,
                              trial_runs *r, ks_error *err)
{
    char **names = NULL;
    epoch_steps es;
    ks_status s = load_steps(db, t, &es, err);
    if (s == KS_OK)
        s = ks_db_metric_names(db, t->id, &names, err);
    for (int i = 0; s == KS_OK && names[i]; i++) {
        const char *name = names[i];
        int is_val = strncmp(name, "val_", 4) == 0;
        if (strcmp(name, KS_METRIC_ITERATIONS) == 0)
            continue;   /* the x axis of the evaluation series, not a series */
        for (int by_batch = 0; s == KS_OK && by_batch < 2; by_batch++) {
            ks_metric_point *p = NULL;
            int n = 0;
            char tag[160], eval_tag[160], best_tag[160];
            double best = NAN;
            if (by_batch && is_val)
                continue;
            if ((s = ks_db_metric_series(db, t->id, name, by_batch, &p, &n, err)) != KS_OK)
                break;
            snprintf(tag, sizeof tag, "%s_%s", by_batch ? "batch" : "epoch", is_val ? name + 4 : name);
            snprintf(eval_tag, sizeof eval_tag, "evaluation_%s_vs_iterations", name + 4);
            snprintf(best_tag, sizeof best_tag, "best_%s", st->metric);
            for (int k = 0; s == KS_OK && k < n; k++) {
                int64_t step = by_batch ? p[k].step : p[k].epoch;
                s = ks_tb_scalar(is_val ? r->val : r->train, tag, step, p[k].wall_time,
                                 p[k].value, err);
                if (s == KS_OK && !by_batch && is_val && p[k].epoch >= 0 && p[k].epoch < es.n &&
                    es.steps[p[k].epoch] >= 0)
                    s = ks_tb_scalar(r->val, eval_tag, es.steps[p[k].epoch], p[k].wall_time,
                                     p[k].value, err);
                /* the objective's best so far, as the live tracker writes it */
                if (s == KS_OK && r->session && !by_batch && strcmp(name, st->metric) == 0 &&
                    !isnan(p[k].value)) {
                    if (isnan(best) || (st->maximize ? p[k].value > best : p[k].value < best))
                        best = p[k].value;
                    s = ks_tb_scalar(r->session, best_tag, p[k].epoch, p[k].wall_time, best,
                                     err);
                }
            }
            free(p);
        }
    }
    ks_strv_free(names);
    free(es.steps);
    return s;
}

static ks_status write_histograms(ks_db *db, const ks_trial_info *t, trial_runs *r,
                                  ks_error *err)
{
    char **tags = NULL;
    int *epochs = NULL, n = 0;
    double buckets[KS_HISTOGRAM_BUCKETS * 3];
    ks_status s = ks_db_histogram_list(db, t->id, &tags, &epochs, &n, err);
    for (int i = 0; s == KS_OK && i < n; i++) {
        s = ks_db_histogram_get(db, t->id, tags[i], epochs[i], buckets, err);
        if (s == KS_OK)
            s = ks_tb_histogram(r->train, tags[i], epochs[i],
                                t->started > 0 ? t->started : 0, buckets, err);
    }
    ks_strv_free(tags);
    free(epochs);
    return s;
}

/* The trial's model, from its last checkpoint (else its best); *m NULL if it has none. */
static ks_status trial_model(ks_db *db, const ks_trial_info *t, ks_model **m, ks_error *err)
{
    unsigned char *blob = NULL;
    size_t len = 0;
    int epoch;
    ks_error ignored;
    ks_status s;
    *m = NULL;
    if (ks_db_checkpoint_get(db, t->id, KS_CHECKPOINT_LAST, &blob, &len, &epoch, &ignored) !=
            KS_OK &&
        ks_db_checkpoint_get(db, t->id, KS_CHECKPOINT_BEST, &blob, &len, &epoch, &ignored) !=
            KS_OK)
        return KS_OK;   /* no checkpoint: no graph, no summary */
    s = ks_model_load_buffer(blob, len, "checkpoint", m, NULL, err);
    free(blob);
    return s;
}

/* The layer graph of the model (into the train run, as Keras). */
static ks_status write_graph(const ks_model *m, const ks_trial_info *t, trial_runs *r,
                             ks_error *err)
{
    return ks_tb_model_graph(r->train, m, t->started > 0 ? t->started : 0, err);
}

/* The model summary text, where the live tracker puts it: the session run, or in fit's
   layout the train run (a fit has no parameters). */
static ks_status write_summary(const ks_model *m, const ks_trial_info *t, trial_runs *r,
                               ks_error *err)
{
    char *text = NULL;
    ks_status s = ks_tracker_summary_text(m, r->session ? t->params : NULL, &text, err);
    if (s == KS_OK)
        s = ks_tb_text(r->session ? r->session : r->train, "model_summary", 0,
                       t->started > 0 ? t->started : 0, text, err);
    free(text);
    return s;
}

static ks_status write_trial(ks_db *db, const ks_study_info *st, const ks_trial_info *t,
                             const char *log_dir, int fit, ks_error *err)
{
    char run[64], base[1100], dir[1200];
    trial_runs r = {NULL, NULL, NULL};
    ks_model *m = NULL;
    ks_status s;
    ks_value v;
    ks_tb_trial_run_name(t->number, run, sizeof run);
    if (fit) {
        /* Keras's layout: LOG_DIR/train and LOG_DIR/validation, no session */
        snprintf(base, sizeof base, "%s", log_dir);
    } else {
        snprintf(base, sizeof base, "%s/%s", log_dir, run);
        if ((s = open_clean(base, &r.session, err)) != KS_OK)
            return close_runs(&r, s, err);
    }
    snprintf(dir, sizeof dir, "%s/train", base);
    if ((s = open_clean(dir, &r.train, err)) != KS_OK)
        return close_runs(&r, s, err);
    snprintf(dir, sizeof dir, "%s/validation", base);
    if ((s = open_clean(dir, &r.val, err)) != KS_OK)
        return close_runs(&r, s, err);
    if (r.session && t->params &&
        ks_value_from_json(t->params, strlen(t->params), "params", &v, NULL) == KS_OK) {
        const char *names[64];
        ks_hp_value vals[64];
        int n = trial_values(&v, names, vals, 64);
        s = ks_tb_hparams_session_start(r.session, names, vals, n, "",
                                        t->started > 0 ? t->started : st->created, err);
        ks_value_free(&v);
    }
    if (s == KS_OK)
        s = trial_model(db, t, &m, err);
    if (s == KS_OK && m)
        s = write_graph(m, t, &r, err);
    if (s == KS_OK && m)
        s = write_summary(m, t, &r, err);
    ks_model_free(m);
    if (s == KS_OK)
        s = write_series(db, st, t, &r, err);
    if (s == KS_OK)
        s = write_histograms(db, t, &r, err);
    /* one session end per session (TensorBoard keeps the first) */
    if (s == KS_OK && r.session && t->status != KS_TRIAL_QUEUED)
        s = ks_tb_hparams_session_end(r.session, t->status,
                                      t->ended > 0 ? t->ended : (t->started > 0 ? t->started : 0),
                                      err);
    return close_runs(&r, s, err);
}

ks_status ks_tb_rewrite(ks_db *db, const char *study, const char *log_dir, ks_error *err)
{
    ks_study_info st;
    ks_trial_info *trials = NULL;
    int n = 0, fit;
    ks_status s;
    memset(&st, 0, sizeof st);
    if (study)
        s = ks_db_study_get(db, study, &st, err);
    else {
        char **names = NULL;
        s = ks_db_study_list(db, &names, err);
        if (s == KS_OK && !names[0])
            s = ks_error_set(err, KS_ERR_CONFIG, "the database holds no study yet");
        if (s == KS_OK)
            s = ks_db_study_get(db, names[0], &st, err);
        ks_strv_free(names);
    }
    if (s != KS_OK)
        return s;
    /* a `ksearch fit` run: its file has no search section (one that does not parse is
       taken for a study) */
    fit = has_search_section(st.config) == 0;
    if ((s = ks_db_trials(db, st.id, &trials, &n, err)) == KS_OK)
        s = clear_layouts(log_dir, trials, n, fit, err);
    if (s == KS_OK && fit) {
        /* each fit of the file is a trial; the logs show the latest, as after it ran */
        if (n > 0)
            s = write_trial(db, &st, &trials[n - 1], log_dir, 1, err);
    } else if (s == KS_OK) {
        s = write_experiment(&st, trials, n, log_dir, err);
        for (int i = 0; s == KS_OK && i < n; i++)
            s = write_trial(db, &st, &trials[i], log_dir, 0, err);
    }
    for (int i = 0; i < n; i++)
        ks_trial_info_free(&trials[i]);
    free(trials);
    ks_study_info_free(&st);
    return s;
}
