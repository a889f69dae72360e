/*
 * study.c — a study file: a run file (data, model, compile, fit, callbacks) whose values
 * may be $name references to the parameters of its search section.  Loading checks the
 * whole file before anything runs: the search section and its space, every $name
 * defined and every parameter used, and the file instantiated at every parameter's
 * extreme values (it must build, compile and fit the data).  A trial's config is the
 * file with its point substituted.
 */
#include "search_impl.h"

#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------- search section */

typedef struct search_section {
    int method;                 /* index into method_names */
    ks_value metric;
    int max_trials;
    int parallel;
    ks_value parameters;
    ks_value checkpoints;
    ks_value enqueue;
    ks_value pruner;
    ks_value warm_start;
} search_section;

static const char *const method_names[] = {"grid", "random", "bayesian", "hyperband", "tpe",
                                           "bohb", NULL};

static const ks_key search_keys[] = {
    {"method", KS_KEY_ENUM, offsetof(search_section, method), 0, 0, 0, NULL, method_names,
     KS_KEY_REQUIRED},
    {"metric", KS_KEY_VALUE, offsetof(search_section, metric), 0, 0, 0, NULL, NULL, 0},
    {"max_trials", KS_KEY_INT, offsetof(search_section, max_trials), 0, 1, 100000, "0", NULL,
     KS_KEY_NULLABLE},
    {"parallel", KS_KEY_INT, offsetof(search_section, parallel), 0, 1, KS_MAX_PARALLEL, "1",
     NULL, 0},
    {"parameters", KS_KEY_VALUE, offsetof(search_section, parameters), 0, 0, 0, NULL, NULL,
     KS_KEY_REQUIRED},
    {"checkpoints", KS_KEY_VALUE, offsetof(search_section, checkpoints), 0, 0, 0, NULL, NULL,
     0},
    {"enqueue", KS_KEY_VALUE, offsetof(search_section, enqueue), 0, 0, 0, NULL, NULL, 0},
    {"pruner", KS_KEY_VALUE, offsetof(search_section, pruner), 0, 0, 0, NULL, NULL, 0},
    {"warm_start", KS_KEY_VALUE, offsetof(search_section, warm_start), 0, 0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

/* search.warm_start: PATH (a run directory or its study.db), for a method that models
   results; the study it names is read when the study runs (warm_start.c). */
static ks_status read_warm_start(ks_study *st, const ks_value *v, ks_error *err)
{
    char got[64];
    if (!v || v->kind == KS_VALUE_NULL)
        return KS_OK;
    if (v->kind != KS_VALUE_STRING || !v->string[0])
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "search.warm_start must be the path of an earlier study's run "
                           "directory or its study.db (e.g. runs/first), got %s",
                           ks_value_describe(v, got, sizeof got));
    if (!st->method->models)
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "search.warm_start: method %s does not use earlier results (a warm "
                           "start serves bayesian, tpe and bohb)",
                           st->method->name);
    st->warm_start = v;
    return KS_OK;
}

/* search.checkpoints: {every: K, keep: [best, last], retain: POLICY}: how much of each
   model is kept, and for which trials once they are final */
typedef struct checkpoints_section {
    int every;
    ks_value keep;
    int retain;                 /* ks_retain */
} checkpoints_section;

static const ks_key checkpoints_keys[] = {
    {"every", KS_KEY_INT, offsetof(checkpoints_section, every), 0, 0, 1000000, "1", NULL, 0},
    {"keep", KS_KEY_VALUE, offsetof(checkpoints_section, keep), 0, 0, 0, NULL, NULL, 0},
    {"retain", KS_KEY_ENUM, offsetof(checkpoints_section, retain), 0, 0, 0, KS_RETAIN_DEFAULT,
     ks_retain_names, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static const char *const keep_names[] = {"best", "last", NULL};

/*
 * The checkpoint policy: the last checkpoint every `every` epochs (0: only at the end of
 * each training segment — a Hyperband rung, the trial's end) and always at a segment's
 * end; keep [best, last] (the default) also keeps the best epoch's, [last] only the last;
 * retain says whose stay once trials are final (retention.c).
 */
static ks_status read_checkpoints(ks_study *st, const ks_value *v, ks_error *err)
{
    checkpoints_section cs;
    ks_status s;
    char got[64];
    ks_keys_defaults(checkpoints_keys, &cs);
    st->checkpoints.every = cs.every;
    st->checkpoints.keep_best = 1;
    st->retain = (ks_retain)cs.retain;
    if (!v || v->kind == KS_VALUE_NULL)
        return KS_OK;
    if ((s = ks_keys_read(checkpoints_keys, v, "search.checkpoints", &cs, err)) != KS_OK)
        goto out;
    st->checkpoints.every = cs.every;
    st->retain = (ks_retain)cs.retain;
    if (cs.keep.kind != KS_VALUE_NULL) {
        int have[2] = {0, 0};
        if (cs.keep.kind != KS_VALUE_LIST) {
            s = ks_error_at(err, KS_ERR_CONFIG, &cs.keep,
                            "search.checkpoints: keep must be a list, [best, last] or [last], "
                            "got %s",
                            ks_value_describe(&cs.keep, got, sizeof got));
            goto out;
        }
        for (size_t i = 0; i < cs.keep.n; i++) {
            const ks_value *e = &cs.keep.items[i];
            int k = -1;
            for (int j = 0; e->kind == KS_VALUE_STRING && keep_names[j]; j++)
                if (strcmp(e->string, keep_names[j]) == 0)
                    k = j;
            if (k < 0) {
                const char *near =
                    e->kind == KS_VALUE_STRING ? ks_nearest_name(e->string, keep_names) : NULL;
                s = ks_error_at(err, KS_ERR_CONFIG, e,
                                "search.checkpoints: keep lists best and last, got %s%s%s%s",
                                ks_value_describe(e, got, sizeof got),
                                near ? " (did you mean \"" : "", near ? near : "",
                                near ? "\"?)" : "");
                goto out;
            }
            have[k] = 1;
        }
        if (!have[1]) {
            s = ks_error_at(err, KS_ERR_CONFIG, &cs.keep,
                            "search.checkpoints: keep must include last (a stopped trial "
                            "resumes from it)");
            goto out;
        }
        st->checkpoints.keep_best = have[0];
        if (!have[0] && ks_value_get(&st->doc, "ensemble")) {
            s = ks_error_at(err, KS_ERR_CONFIG, &cs.keep,
                            "search.checkpoints: keep must include best when the study builds "
                            "an ensemble (its members are the trials' best checkpoints)");
            goto out;
        }
    }
out:
    ks_keys_free(checkpoints_keys, &cs);
    return s;
}

typedef struct metric_section {
    char name[KS_LOG_NAME_MAX];
    int goal;                   /* index into goal_names */
} metric_section;

static const char *const goal_names[] = {"auto", "minimize", "maximize", "min", "max", NULL};

static const ks_key metric_keys[] = {
    {"name", KS_KEY_STRING, offsetof(metric_section, name), KS_LOG_NAME_MAX, 0, 0, NULL, NULL,
     KS_KEY_REQUIRED},
    {"goal", KS_KEY_ENUM, offsetof(metric_section, goal), 0, 0, 0, "auto", goal_names, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

/* Keras Tuner's rule for a goal left out: accuracies and AUCs up, the rest down. */
static int default_maximize(const char *metric)
{
    return strstr(metric, "acc") != NULL || strstr(metric, "auc") != NULL;
}

static ks_status read_metric(ks_study *st, const ks_value *v, ks_error *err)
{
    metric_section m;
    ks_status s;
    char got[64];
    ks_keys_defaults(metric_keys, &m);
    if (v->kind == KS_VALUE_NULL) {
        st->metric[0] = '\0';       /* decided from the data: val_loss or loss */
        return KS_OK;
    }
    if (v->kind == KS_VALUE_STRING) {
        snprintf(m.name, sizeof m.name, "%s", v->string);
    } else if (v->kind == KS_VALUE_MAP) {
        if ((s = ks_keys_read(metric_keys, v, "search.metric", &m, err)) != KS_OK)
            return s;
    } else {
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "search.metric must be a log name or {name: …, goal: "
                           "maximize|minimize}, got %s",
                           ks_value_describe(v, got, sizeof got));
    }
    snprintf(st->metric, sizeof st->metric, "%s", m.name);
    st->metric_at = v;
    st->maximize = m.goal == 0 ? default_maximize(m.name) : (m.goal == 2 || m.goal == 4);
    return KS_OK;
}

int ks_study_skips_callback(const ks_value *entry)
{
    return entry->kind == KS_VALUE_MAP && entry->n == 1 &&
           strcmp(entry->items[0].key, "ModelCheckpoint") == 0 &&
           !ks_value_get(&entry->items[0], "filepath");
}

/* ----------------------------------------------------------------- load */

void ks_study_free(ks_study *st)
{
    if (!st)
        return;
    ks_space_free(&st->space);
    ks_study_free_pruner(st);
    if (st->method_args)
        ks_keys_free(st->method->keys, st->method_args);
    free(st->method_args);
    ks_run_config_free(st->base);
    ks_value_free(&st->doc);
    free(st->text);
    free(st->warnings);
    free(st);
}

/*
 * Every key of the search section is search's own or an option of its method (of any
 * method while the method is not known): a misspelt one is named, with the nearest of
 * those names, before a required key it may be meant for is reported missing.
 */
static ks_status check_search_keys(const ks_value *search, ks_error *err)
{
    const ks_value *mv = ks_value_get(search, "method");
    const char *names[128], *chosen = NULL;
    int n = 0;
    for (int i = 0; mv && mv->kind == KS_VALUE_STRING && method_names[i]; i++)
        if (strcmp(mv->string, method_names[i]) == 0)
            chosen = method_names[i];
    for (const ks_key *k = search_keys; k->name && n < 127; k++)
        names[n++] = k->name;
    for (int i = 0; method_names[i]; i++) {
        const ks_sampler_ops *ops = ks_sampler_find(method_names[i]);
        if (!ops || (chosen && strcmp(chosen, method_names[i]) != 0))
            continue;
        for (const ks_key *k = ops->keys; k && k->name && n < 127; k++)
            names[n++] = k->name;
    }
    names[n] = NULL;
    for (size_t i = 0; i < search->n; i++) {
        const ks_value *m = &search->items[i];
        const char *near;
        int known = 0;
        for (int j = 0; j < n; j++)
            known |= strcmp(names[j], m->key) == 0;
        if (known)
            continue;
        near = ks_nearest_name(m->key, names);
        return ks_error_at_key(err, KS_ERR_CONFIG, m, "search%s%s%s has no argument \"%s\"%s%s%s",
                               chosen ? " (method " : "", chosen ? chosen : "", chosen ? ")" : "",
                               m->key, near ? " (did you mean \"" : "", near ? near : "",
                               near ? "\"?)" : "");
    }
    return KS_OK;
}

/* The search section's method options: the keys that are not search's own. */
static ks_status read_method_options(ks_study *st, const ks_value *search, ks_error *err)
{
    ks_value own, opts;
    ks_status s;
    ks_value_init(&own, KS_VALUE_MAP);
    ks_value_init(&opts, KS_VALUE_MAP);
    own.file = opts.file = search->file;
    own.line = opts.line = search->line;
    own.col = opts.col = search->col;
    s = KS_OK;
    for (size_t i = 0; i < search->n && s == KS_OK; i++) {
        const ks_value *m = &search->items[i];
        int generic = 0;
        for (const ks_key *k = search_keys; k->name; k++)
            generic |= strcmp(k->name, m->key) == 0;
        s = ks_value_put_copy(generic ? &own : &opts, m->key, m);
        if (s == KS_OK) {
            ks_value *last = generic ? &own.items[own.n - 1] : &opts.items[opts.n - 1];
            last->key_line = m->key_line;
            last->key_col = m->key_col;
        }
    }
    if (s != KS_OK) {
        s = ks_error_set(err, s, "out of memory");
    } else {
        st->method_args = calloc(1, st->method->args_size ? st->method->args_size : 1);
        if (!st->method_args) {
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        } else {
            char what[64];
            snprintf(what, sizeof what, "search (method %s)", st->method->name);
            ks_keys_defaults(st->method->keys, st->method_args);
            s = ks_keys_read(st->method->keys, &opts, what, st->method_args, err);
        }
    }
    ks_value_free(&own);
    ks_value_free(&opts);
    return s;
}

/* A study from the file at path, or from text (named path in messages) when not NULL. */
static ks_status study_load(const char *path, const char *text, const char *dir,
                            ks_study **out, ks_error *err)
{
    ks_study *st = calloc(1, sizeof *st);
    search_section ss;
    const ks_value *search;
    ks_status s;
    *out = NULL;
    if (!st)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    snprintf(st->path, sizeof st->path, "%s", path);
    ks_keys_defaults(search_keys, &ss);
    if (!(st->text = text ? strdup(text) : ks_read_text(path, err))) {
        s = text ? ks_error_set(err, KS_ERR_NOMEM, "out of memory") : err ? err->code : KS_ERR_IO;
        goto fail;
    }
    /* the text kept (to notice a changed file on resume) is the text parsed: the file is
       read once */
    s = ks_yaml_load_text(st->text, st->path, &st->doc, err);
    if (s != KS_OK)
        goto fail;
    search = ks_value_get(&st->doc, "search");
    if (st->doc.kind != KS_VALUE_MAP || !search || search->kind != KS_VALUE_MAP) {
        s = ks_error_at(err, KS_ERR_CONFIG, search ? search : &st->doc,
                        "a study file needs a search section: method, metric, max_trials, "
                        "parameters (or run one model with ksearch fit)");
        goto fail;
    }
    /* the search section: its own keys, then the method's options */
    if ((s = check_search_keys(search, err)) != KS_OK)
        goto fail;
    {
        ks_value own;
        ks_value_init(&own, KS_VALUE_MAP);
        own.file = search->file;
        own.line = search->line;
        own.col = search->col;
        for (size_t i = 0; i < search->n; i++)
            for (const ks_key *k = search_keys; k->name; k++)
                if (strcmp(k->name, search->items[i].key) == 0)
                    ks_value_put_copy(&own, search->items[i].key, &search->items[i]);
        s = ks_keys_read(search_keys, &own, "search", &ss, err);
        ks_value_free(&own);
        if (s != KS_OK)
            goto fail;
    }
    st->method = ks_sampler_find(method_names[ss.method]);
    st->max_trials = ss.max_trials;
    st->parallel = ss.parallel;
    if ((s = read_metric(st, &ss.metric, err)) != KS_OK ||
        (s = read_checkpoints(st, &ss.checkpoints, err)) != KS_OK ||
        (s = ks_study_read_pruner(st, ks_value_get(search, "pruner"), err)) != KS_OK ||
        (s = ks_study_read_space(st, ks_value_get(search, "parameters"), err)) != KS_OK ||
        (s = read_method_options(st, search, err)) != KS_OK ||
        (s = ks_study_check_refs(st, err)) != KS_OK ||
        (s = ks_study_read_enqueue(st, ks_value_get(search, "enqueue"), err)) != KS_OK ||
        (s = read_warm_start(st, ks_value_get(search, "warm_start"), err)) != KS_OK)
        goto fail;
    /* the file at its first point: the sections every trial shares (data, name, seed …) */
    {
        double point[KS_MAX_SEARCH_PARAMS];
        ks_space_first_point(&st->space, point);
        if ((s = ks_study_trial_config(st, point, &st->base, err)) != KS_OK)
            goto fail;
    }
    {
        ks_history h;
        memset(&h, 0, sizeof h);
        h.space = &st->space;
        h.maximize = st->maximize;
        h.max_trials = st->max_trials;
        h.max_epochs = st->base->fit.epochs;
        h.seed = st->base->seed;
        s = st->method->check(st->method_args, &st->space, &h, err);
    }
    if (s != KS_OK) {
        if (err && err->line == 0) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err->msg);
            ks_error_at(err, s, search, "%s", msg);
        }
        goto fail;
    }
    ks_keys_free(search_keys, &ss);
    if (dir)
        snprintf(st->base->dir, sizeof st->base->dir, "%s", dir);
    *out = st;
    return KS_OK;
fail:
    ks_keys_free(search_keys, &ss);
    ks_study_free(st);
    return s;
}

ks_status ks_study_load(const char *path, ks_study **out, ks_error *err)
{
    return study_load(path, NULL, NULL, out, err);
}

ks_status ks_study_load_text(const char *text, const char *name, const char *dir,
                             ks_study **out, ks_error *err)
{
    return study_load(name, text, dir, out, err);
}

ks_status ks_study_from_db(ks_db *db, const char *db_path, const char *study,
                           ks_study_info *info, ks_study **out, ks_error *err)
{
    char name[1200];
    ks_status s;
    *out = NULL;
    memset(info, 0, sizeof *info);
    if ((s = ks_db_study_find(db, study, info, err)) != KS_OK)
        return s;
    snprintf(name, sizeof name, "%s (the study file kept in it)", db_path);
    /* relative data paths start from the study file's folder, as when it ran (kept in
       study.db; a database of an older ksearch does not say: the current directory) */
    if ((s = ks_study_load_text(info->config, name, info->dir ? info->dir : ".", out, err)) !=
        KS_OK)
        ks_study_info_free(info);
    return s;
}
