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
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

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

/* ---------------------------------------------------------------- space */

typedef struct param_spec {
    ks_value values;
    ks_value int_range;
    ks_value float_range;
    double step;
    int log;
    int grid_points;
} param_spec;

static const ks_key param_keys[] = {
    {"values", KS_KEY_VALUE, offsetof(param_spec, values), 0, 0, 0, NULL, NULL, 0},
    {"int", KS_KEY_VALUE, offsetof(param_spec, int_range), 0, 0, 0, NULL, NULL, 0},
    {"float", KS_KEY_VALUE, offsetof(param_spec, float_range), 0, 0, 0, NULL, NULL, 0},
    {"step", KS_KEY_FLOAT, offsetof(param_spec, step), 0, 1, 1e9, "1", NULL, 0},
    {"log", KS_KEY_BOOL, offsetof(param_spec, log), 0, 0, 0, "false", NULL, 0},
    {"grid_points", KS_KEY_INT, offsetof(param_spec, grid_points), 0, 1, 10000, "0", NULL,
     KS_KEY_NULLABLE},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status read_range(const ks_value *v, const char *name, int integral, double *lo,
                            double *hi, ks_error *err)
{
    char got[64];
    const char *what = integral ? "int" : "float";
    if (v->kind != KS_VALUE_LIST || v->n != 2 || v->items[0].kind != KS_VALUE_NUMBER ||
        v->items[1].kind != KS_VALUE_NUMBER)
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "parameter %s: %s must be [MIN, MAX], two numbers, got %s", name, what,
                           ks_value_describe(v, got, sizeof got));
    for (int i = 0; i < 2; i++)
        if (!isfinite(v->items[i].number))
            return ks_error_at(err, KS_ERR_CONFIG, &v->items[i],
                               "parameter %s: the %s bound of %s must be a finite number, got %s "
                               "(a range over orders of magnitude: finite bounds with log: true)",
                               name, i ? "upper" : "lower", what,
                               ks_value_describe(&v->items[i], got, sizeof got));
    *lo = v->items[0].number;
    *hi = v->items[1].number;
    if (integral && (*lo != floor(*lo) || *hi != floor(*hi)))
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "parameter %s: int bounds must be whole numbers, got [%g, %g]", name,
                           *lo, *hi);
    if (!(*lo < *hi))
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "parameter %s: %s needs MIN < MAX, got [%g, %g]", name, what, *lo,
                           *hi);
    return KS_OK;
}

static ks_status read_param(const ks_value *def, ks_param *p, ks_error *err)
{
    param_spec ps;
    ks_status s;
    char what[96], got[64];
    int kinds;
    snprintf(what, sizeof what, "parameter %s", def->key);
    snprintf(p->name, sizeof p->name, "%s", def->key);
    if (def->kind != KS_VALUE_MAP)
        return ks_error_at(err, KS_ERR_CONFIG, def,
                           "%s must be {values: [...]}, {int: [MIN, MAX]} or {float: [MIN, MAX]}, "
                           "got %s",
                           what, ks_value_describe(def, got, sizeof got));
    ks_keys_defaults(param_keys, &ps);
    if ((s = ks_keys_read(param_keys, def, what, &ps, err)) != KS_OK)
        goto out;
    kinds = (ps.values.kind != KS_VALUE_NULL) + (ps.int_range.kind != KS_VALUE_NULL) +
            (ps.float_range.kind != KS_VALUE_NULL);
    if (kinds != 1) {
        s = ks_error_at(err, KS_ERR_CONFIG, def,
                        "%s needs exactly one of values, int and float, got %d", what, kinds);
        goto out;
    }
    if (ps.values.kind != KS_VALUE_NULL) {
        const ks_value *vals = &ps.values;
        p->kind = KS_PARAM_CHOICE;
        if (vals->kind != KS_VALUE_LIST || vals->n < 1 || vals->n > KS_MAX_CHOICES) {
            s = ks_error_at(err, KS_ERR_CONFIG, ks_value_get(def, "values"),
                            "%s: values must be a list of 1 to %d values", what, KS_MAX_CHOICES);
            goto out;
        }
        for (size_t i = 0; i < vals->n; i++) {
            const ks_value *v = &vals->items[i];
            if (v->kind == KS_VALUE_LIST || v->kind == KS_VALUE_MAP || v->kind == KS_VALUE_NULL ||
                (v->kind == KS_VALUE_STRING && v->string[0] == '$')) {
                s = ks_error_at(err, KS_ERR_CONFIG, &ks_value_get(def, "values")->items[i],
                                "%s: a value must be a number, a string or a boolean, got %s",
                                what, ks_value_describe(v, got, sizeof got));
                goto out;
            }
            for (size_t j = 0; j < i; j++)
                if (ks_value_equal(&vals->items[j], v)) {
                    s = ks_error_at(err, KS_ERR_CONFIG, &ks_value_get(def, "values")->items[i],
                                    "%s: value %s is listed twice", what,
                                    ks_value_describe(v, got, sizeof got));
                    goto out;
                }
            if ((s = ks_value_clone(v, &p->values[i])) != KS_OK) {
                s = ks_error_set(err, s, "out of memory");
                goto out;
            }
            free(p->values[i].key);
            p->values[i].key = NULL;
            p->n_values = (int)i + 1;
        }
        if (ps.log || ps.grid_points) {
            s = ks_error_at(err, KS_ERR_CONFIG, def, "%s: log and grid_points go with int or float",
                            what);
            goto out;
        }
    } else {
        int integral = ps.int_range.kind != KS_VALUE_NULL;
        const ks_value *r = integral ? ks_value_get(def, "int") : ks_value_get(def, "float");
        p->kind = integral ? KS_PARAM_INT : KS_PARAM_FLOAT;
        if ((s = read_range(r, p->name, integral, &p->min, &p->max, err)) != KS_OK)
            goto out;
        p->log = ps.log;
        p->grid_points = ps.grid_points;
        p->step = ps.step;
        if (p->log && p->min <= 0) {
            s = ks_error_at(err, KS_ERR_CONFIG, r,
                            "%s: log needs MIN > 0 (log-uniform), got [%g, %g]", what, p->min,
                            p->max);
            goto out;
        }
        if (integral && ps.step != floor(ps.step)) {
            s = ks_error_at(err, KS_ERR_CONFIG, ks_value_get(def, "step"),
                            "%s: step must be a whole number >= 1, got %g", what, ps.step);
            goto out;
        }
        if (!integral && ks_value_get(def, "step")) {
            s = ks_error_at(err, KS_ERR_CONFIG, ks_value_get(def, "step"),
                            "%s: step goes with int; a float takes grid_points for grid search",
                            what);
            goto out;
        }
    }
    s = KS_OK;
out:
    ks_keys_free(param_keys, &ps);
    return s;
}

static ks_status read_space(ks_study *st, const ks_value *params, ks_error *err)
{
    char got[64];
    if (params->kind != KS_VALUE_MAP || params->n == 0)
        return ks_error_at(err, KS_ERR_CONFIG, params,
                           "search.parameters must be a map of parameter names to definitions, "
                           "got %s",
                           params->kind == KS_VALUE_MAP ? "an empty map"
                                                        : ks_value_describe(params, got, sizeof got));
    if (params->n > KS_MAX_SEARCH_PARAMS)
        return ks_error_at(err, KS_ERR_CONFIG, params, "at most %d parameters",
                           KS_MAX_SEARCH_PARAMS);
    for (size_t i = 0; i < params->n; i++) {
        ks_status s = read_param(&params->items[i], &st->space.params[i], err);
        st->space.n = (int)i + 1;
        if (s != KS_OK)
            return s;
        st->param_at[i] = &params->items[i];
    }
    return KS_OK;
}

/* --------------------------------------------------------- $references */

/* The parameter a value refers to ("$name"), -1 if none, -2 if an unknown one. */
static int reference(const ks_study *st, const ks_value *v)
{
    if (v->kind != KS_VALUE_STRING || v->string[0] != '$')
        return -1;
    for (int i = 0; i < st->space.n; i++)
        if (strcmp(st->space.params[i].name, v->string + 1) == 0)
            return i;
    return -2;
}

static ks_status check_refs(ks_study *st, const ks_value *v, int allowed, const char *section,
                            ks_error *err)
{
    int r = reference(st, v);
    /* a $name stands for a value: as a key ({$opt: {…}}) it would never be replaced */
    if (v->key && v->key[0] == '$')
        return ks_error_at_key(err, KS_ERR_CONFIG, v,
                               "%s cannot be a key: a parameter stands for a value, so write it "
                               "where the value goes, e.g. optimizer: %s with %s: {values: "
                               "[Adam, SGD]}, or {SGD: {learning_rate: $lr}}",
                               v->key, v->key, v->key + 1);
    if (r != -1) {
        const char *names[KS_MAX_SEARCH_PARAMS + 1];
        const char *near;
        if (!allowed)
            return ks_error_at(err, KS_ERR_CONFIG, v,
                               "%s cannot take parameters ($%s): it is the same for every trial",
                               section, v->string + 1);
        if (r >= 0) {
            st->used[r] = 1;
            return KS_OK;
        }
        for (int i = 0; i < st->space.n; i++)
            names[i] = st->space.params[i].name;
        names[st->space.n] = NULL;
        near = ks_nearest_name(v->string + 1, names);
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "%s is not a parameter of search.parameters%s%s%s", v->string,
                           near ? " (did you mean $" : "", near ? near : "", near ? "?)" : "");
    }
    for (size_t i = 0; i < v->n; i++) {
        ks_status s = check_refs(st, &v->items[i], allowed, section, err);
        if (s != KS_OK)
            return s;
    }
    return KS_OK;
}

/* ---------------------------------------------------------- substitution */

static ks_status substitute(const ks_study *st, ks_value *v, const double *point)
{
    int r = reference(st, v);
    if (r >= 0) {
        ks_value val;
        char *key = v->key;
        const char *file = v->file;
        int line = v->line, col = v->col, kl = v->key_line, kc = v->key_col;
        ks_status s = ks_space_value(&st->space, r, point, &val);
        if (s != KS_OK)
            return s;
        v->key = NULL;
        ks_value_free(v);
        *v = val;
        free(v->key);
        /* the substituted value keeps the reference's place in the file, for messages */
        v->key = key;
        v->file = file;
        v->line = line;
        v->col = col;
        v->key_line = kl;
        v->key_col = kc;
        return KS_OK;
    }
    for (size_t i = 0; i < v->n; i++) {
        ks_status s = substitute(st, &v->items[i], point);
        if (s != KS_OK)
            return s;
    }
    return KS_OK;
}

ks_status ks_study_trial_config(const ks_study *st, const double *point, ks_run_config **out,
                                ks_error *err)
{
    ks_value doc;
    ks_status s = ks_value_clone(&st->doc, &doc);
    *out = NULL;
    if (s != KS_OK)
        return ks_error_set(err, s, "out of memory");
    if ((s = substitute(st, &doc, point)) != KS_OK) {
        ks_value_free(&doc);
        return ks_error_set(err, s, "out of memory");
    }
    if ((s = ks_run_config_parse(&doc, st->path, out, err)) == KS_OK && st->base &&
        *out != st->base)
        /* relative data paths from where the study reads its data (a study from study.db,
           or loaded from text, has a folder of its own) */
        snprintf((*out)->dir, sizeof (*out)->dir, "%s", st->base->dir);
    return s;
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
        (s = read_space(st, ks_value_get(search, "parameters"), err)) != KS_OK ||
        (s = read_method_options(st, search, err)) != KS_OK)
        goto fail;
    /* $references: allowed in model, compile, fit and callbacks; all defined; all used */
    for (size_t i = 0; i < st->doc.n; i++) {
        const ks_value *sec = &st->doc.items[i];
        /* (an unknown section is reported as such when the file is read as a run file) */
        int allowed = strcmp(sec->key, "name") != 0 && strcmp(sec->key, "seed") != 0 &&
                      strcmp(sec->key, "data") != 0 && strcmp(sec->key, "ensemble") != 0;
        if (strcmp(sec->key, "search") == 0)
            continue;
        if ((s = check_refs(st, sec, allowed, sec->key, err)) != KS_OK)
            goto fail;
    }
    for (int i = 0; i < st->space.n; i++)
        if (!st->used[i]) {
            s = ks_error_at_key(err, KS_ERR_CONFIG, st->param_at[i],
                                "parameter %s is never used: write $%s where it goes (e.g. "
                                "units: $%s)",
                                st->space.params[i].name, st->space.params[i].name,
                                st->space.params[i].name);
            goto fail;
        }
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
