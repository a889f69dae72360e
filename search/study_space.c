/*
 * study_space.c — a study's search space as its file declares it: each parameter's
 * kind, range and values (a choice's values may be {NAME: config} branches), the
 * conditions under which it exists (when:), the per-index parameters that give each
 * copy of a repeated layer its own value (per:), and the configurations to run first
 * (search.enqueue), all checked with the file's line and column before anything runs.
 */
#include "search_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- one parameter */

typedef struct param_spec {
    ks_value values;
    ks_value int_range;
    ks_value float_range;
    double step;
    int log;
    int grid_points;
    ks_value when;              /* {PARAM: VALUE or [VALUES], …}: read by read_conditions */
    ks_value per;               /* COUNT: read by expand_per_index */
} param_spec;

static const ks_key param_keys[] = {
    {"values", KS_KEY_VALUE, offsetof(param_spec, values), 0, 0, 0, NULL, NULL, 0},
    {"int", KS_KEY_VALUE, offsetof(param_spec, int_range), 0, 0, 0, NULL, NULL, 0},
    {"float", KS_KEY_VALUE, offsetof(param_spec, float_range), 0, 0, 0, NULL, NULL, 0},
    {"step", KS_KEY_FLOAT, offsetof(param_spec, step), 0, 1, 1e9, "1", NULL, 0},
    {"log", KS_KEY_BOOL, offsetof(param_spec, log), 0, 0, 0, "false", NULL, 0},
    {"grid_points", KS_KEY_INT, offsetof(param_spec, grid_points), 0, 1, 10000, "0", NULL,
     KS_KEY_NULLABLE},
    {"when", KS_KEY_VALUE, offsetof(param_spec, when), 0, 0, 0, NULL, NULL, 0},
    {"per", KS_KEY_VALUE, offsetof(param_spec, per), 0, 0, 0, NULL, NULL, 0},
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
            int branch = v->kind == KS_VALUE_MAP && v->n == 1 && v->items[0].key[0] != '$';
            if (v->kind == KS_VALUE_LIST || (v->kind == KS_VALUE_MAP && !branch) ||
                v->kind == KS_VALUE_NULL || (v->kind == KS_VALUE_STRING && v->string[0] == '$')) {
                s = ks_error_at(err, KS_ERR_CONFIG, &ks_value_get(def, "values")->items[i],
                                "%s: a value must be a number, a string, a boolean or {NAME: "
                                "config} (e.g. {SGD: {learning_rate: $sgd_lr}}), got %s",
                                what, ks_value_describe(v, got, sizeof got));
                goto out;
            }
            for (size_t j = 0; j < i; j++)
                if (ks_value_equal(&vals->items[j], v) ||
                    ks_param_choice_find(p, branch ? &(ks_value){.kind = KS_VALUE_STRING,
                                                                 .string = v->items[0].key}
                                                   : v) == (int)j) {
                    s = ks_error_at(err, KS_ERR_CONFIG, &ks_value_get(def, "values")->items[i],
                                    "%s: value %s is listed twice", what,
                                    branch ? v->items[0].key : ks_value_describe(v, got, sizeof got));
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

/* ------------------------------------------------------- names, values */

int ks_space_find(const ks_space *sp, const char *name)
{
    for (int i = 0; i < sp->n; i++) {
        const ks_param *p = &sp->params[i];
        if (p->base[0] ? p->copy == 0 && strcmp(p->base, name) == 0 : strcmp(p->name, name) == 0)
            return i;
    }
    return -1;
}

/* "did you mean" over the parameters' names as declared (nearest or NULL). */
static const char *nearest_param(const ks_space *sp, const char *name)
{
    const char *names[KS_MAX_SEARCH_PARAMS + 1];
    int n = 0;
    for (int i = 0; i < sp->n; i++)
        if (!sp->params[i].base[0] || sp->params[i].copy == 0)
            names[n++] = sp->params[i].base[0] ? sp->params[i].base : sp->params[i].name;
    names[n] = NULL;
    return ks_nearest_name(name, names);
}

/* "did you mean" over a choice's values as recorded (strings only). */
static const char *nearest_choice(const ks_param *p, const char *s)
{
    const char *names[KS_MAX_CHOICES + 1];
    int n = 0;
    for (int k = 0; k < p->n_values; k++) {
        const ks_value *v = &p->values[k];
        if (v->kind == KS_VALUE_MAP && v->n == 1)
            names[n++] = v->items[0].key;
        else if (v->kind == KS_VALUE_STRING)
            names[n++] = v->string;
    }
    names[n] = NULL;
    return n ? ks_nearest_name(s, names) : NULL;
}

/* A parameter's values, as a condition or an enqueued configuration names them (a
   CHOICE's labels, an INT's numbers on its grid, a FLOAT's range): k, or -1 with err. */
static int value_index_of(const ks_param *p, const ks_value *v, const char *what, ks_error *err)
{
    char got[64];
    const char *name = p->base[0] ? p->base : p->name;
    int k;
    if (p->kind == KS_PARAM_CHOICE) {
        const char *near;
        if ((k = ks_param_choice_find(p, v)) >= 0)
            return k;
        near = v->kind == KS_VALUE_STRING ? nearest_choice(p, v->string) : NULL;
        ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s is not one of %s's values%s%s%s", what,
                    ks_value_describe(v, got, sizeof got), name, near ? " (did you mean " : "",
                    near ? near : "", near ? "?)" : "");
        return -1;
    }
    if (v->kind != KS_VALUE_NUMBER || v->number != ks_param_snap(p, v->number)) {
        ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s must be a whole number in [%g, %g]%s, got %s",
                    what, name, p->min, p->max, p->step > 1 ? " on its step" : "",
                    ks_value_describe(v, got, sizeof got));
        return -1;
    }
    return ks_param_value_index(p, v->number);
}

/* ------------------------------------------------------ per-index copies */

/* The copies of a parameter per: COUNT: COUNT's largest value (COUNT an INT of at most
   64 values, or a choice of whole numbers >= 0); -1 with err if COUNT cannot count. */
static int count_copies(const ks_param *c, const ks_value *at, const char *name, ks_error *err)
{
    double most = -1;
    if (c->kind == KS_PARAM_INT && c->min >= 0 &&
        (c->max - c->min) / (c->step >= 1 ? c->step : 1) < 64)
        most = ks_param_snap(c, c->max);
    for (int k = 0; c->kind == KS_PARAM_CHOICE && k < c->n_values; k++) {
        const ks_value *v = &c->values[k];
        if (v->kind != KS_VALUE_NUMBER || v->number < 0 || v->number != floor(v->number)) {
            most = -1;
            break;
        }
        most = fmax(most, v->number);
    }
    if (most > KS_MAX_SEARCH_PARAMS)
        return ks_error_at(err, KS_ERR_CONFIG, at,
                           "parameter %s: per: %s counts up to %g copies, more than the %d "
                           "parameters a study may have",
                           name, c->name, most, KS_MAX_SEARCH_PARAMS),
               -1;
    if (most < 1 || c->base[0])
        return ks_error_at(err, KS_ERR_CONFIG, at,
                           "parameter %s: per needs a parameter that counts copies of a layer "
                           "(an int >= 0 of at most 64 values, or values of whole numbers >= 0, "
                           "at least one above 0), and %s is not one",
                           name, c->base[0] ? c->base : c->name),
               -1;
    return (int)most;
}

/* Each declared parameter's per: its count's index into count_of (-1 for none) and its
   number of copies into the parameter's copy field. */
static ks_status resolve_counts(ks_study *st, const ks_value *const *per_at, int *count_of,
                                ks_error *err)
{
    ks_space *sp = &st->space;
    ks_status s = KS_OK;
    for (int i = 0; i < sp->n && s == KS_OK; i++) {
        const char *near;
        int c, copies;
        count_of[i] = -1;
        if (!per_at[i])
            continue;
        if (per_at[i]->kind != KS_VALUE_STRING) {
            s = ks_error_at(err, KS_ERR_CONFIG, per_at[i],
                            "parameter %s: per must name the parameter that counts the copies "
                            "(e.g. per: n_hidden)", sp->params[i].name);
            break;
        }
        if ((c = ks_space_find(sp, per_at[i]->string)) < 0 || c == i) {
            near = c < 0 ? nearest_param(sp, per_at[i]->string) : NULL;
            s = ks_error_at(err, KS_ERR_CONFIG, per_at[i],
                            "parameter %s: per: %s %s%s%s%s", sp->params[i].name,
                            per_at[i]->string,
                            c == i ? "is the parameter itself" : "is not a parameter",
                            near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
            break;
        }
        if (per_at[c]) {
            s = ks_error_at(err, KS_ERR_CONFIG, per_at[i],
                            "parameter %s: per: %s, which has a value per copy itself",
                            sp->params[i].name, per_at[i]->string);
            break;
        }
        if ((copies = count_copies(&sp->params[c], per_at[i], sp->params[i].name, err)) < 0) {
            s = KS_ERR_CONFIG;
            break;
        }
        count_of[i] = c;
        sp->params[i].copy = copies;    /* for now: how many */
    }
    return s;
}

/* Replace each declared per-index parameter by its copies NAME_0 … (in place, in order). */
static ks_status expand_per_index(ks_study *st, const ks_value *const *per_at, ks_error *err)
{
    ks_space *sp = &st->space;
    ks_param *out;
    const ks_value *at[KS_MAX_SEARCH_PARAMS];
    int newi[KS_MAX_SEARCH_PARAMS], count_of[KS_MAX_SEARCH_PARAMS], n = 0;
    ks_status s = resolve_counts(st, per_at, count_of, err);
    if (s != KS_OK)
        return s;
    if (!(out = calloc(KS_MAX_SEARCH_PARAMS, sizeof *out)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < sp->n && s == KS_OK; i++) {
        int copies = count_of[i] >= 0 ? sp->params[i].copy : 1;
        newi[i] = n;
        if (n + copies > KS_MAX_SEARCH_PARAMS) {
            s = ks_error_at_key(err, KS_ERR_CONFIG, st->param_at[i],
                                "at most %d parameters, counting each copy of a per-index one "
                                "(%s has %d)",
                                KS_MAX_SEARCH_PARAMS, sp->params[i].name, copies);
            break;
        }
        if (count_of[i] < 0) {
            out[n] = sp->params[i];     /* moved */
            memset(&sp->params[i], 0, sizeof sp->params[i]);
            at[n++] = st->param_at[i];
            continue;
        }
        for (int r = 0; r < copies && s == KS_OK; r++) {
            ks_param *q = &out[n];
            *q = sp->params[i];
            q->n_values = 0;
            for (int k = 0; k < sp->params[i].n_values && s == KS_OK; k++) {
                if ((s = ks_value_clone(&sp->params[i].values[k], &q->values[k])) != KS_OK)
                    s = ks_error_set(err, s, "out of memory");
                else
                    q->n_values = k + 1;
            }
            snprintf(q->base, sizeof q->base, "%s", sp->params[i].name);
            if ((size_t)snprintf(q->name, sizeof q->name, "%s_%d", q->base, r) >= sizeof q->name)
                s = ks_error_at_key(err, KS_ERR_CONFIG, st->param_at[i],
                                    "parameter %s: the name is too long for its copies",
                                    q->base);
            q->copy = r;
            q->per = count_of[i];       /* its declared index: renumbered below */
            at[n++] = st->param_at[i];
        }
    }
    /* the counts' new places, and no copy named as another parameter */
    for (int i = 0; i < n && s == KS_OK; i++) {
        if (out[i].base[0])
            out[i].per = newi[out[i].per];
        for (int j = 0; j < i && s == KS_OK; j++)
            if (strcmp(out[i].name, out[j].name) == 0)
                s = ks_error_at_key(err, KS_ERR_CONFIG, out[i].base[0] ? at[j] : at[i],
                                    "parameter %s is also the name of copy %d of %s (per: %s): "
                                    "rename one",
                                    out[i].name, out[i].base[0] ? out[i].copy : out[j].copy,
                                    out[i].base[0] ? out[i].base : out[j].base,
                                    out[i].base[0] ? out[out[i].per].name : out[out[j].per].name);
    }
    if (s != KS_OK) {
        ks_space tmp;
        memset(&tmp, 0, sizeof tmp);
        memcpy(tmp.params, out, sizeof *out * (size_t)n);
        tmp.n = n;
        ks_space_free(&tmp);
        free(out);
        return s;
    }
    ks_space_free(sp);
    memcpy(sp->params, out, sizeof *out * (size_t)n);
    sp->n = n;
    memcpy(st->param_at, at, sizeof *at * (size_t)n);
    free(out);
    return KS_OK;
}

/* ------------------------------------------------------------ conditions */

/* Parameter i's when: {PARAM: VALUE or [VALUES], …} into its clauses. */
static ks_status read_when(ks_study *st, int i, const ks_value *when, ks_error *err)
{
    ks_space *sp = &st->space;
    ks_param *p = &sp->params[i];
    const char *name = p->base[0] ? p->base : p->name;
    char what[96];
    snprintf(what, sizeof what, "parameter %s: when", name);
    if (when->kind != KS_VALUE_MAP || when->n < 1 || when->n > KS_MAX_CONDITIONS - 1)
        return ks_error_at(err, KS_ERR_CONFIG, when,
                           "%s must be a map of 1 to %d parameters to the value (or [values]) "
                           "they must have, e.g. when: {optimizer: SGD}",
                           what, KS_MAX_CONDITIONS - 1);
    for (size_t c = 0; c < when->n; c++) {
        const ks_value *m = &when->items[c];
        int q = ks_space_find(sp, m->key);
        ks_condition *w = &p->when[p->n_when];
        if (q < 0) {
            const char *near = nearest_param(sp, m->key);
            return ks_error_at_key(err, KS_ERR_CONFIG, m, "%s: %s is not a parameter%s%s%s",
                                   what, m->key, near ? " (did you mean " : "",
                                   near ? near : "", near ? "?)" : "");
        }
        if (sp->params[q].kind != KS_PARAM_CHOICE || sp->params[q].base[0])
            return ks_error_at_key(err, KS_ERR_CONFIG, m,
                                   "%s: %s is not a choice: a condition names values of a "
                                   "parameter given by values: [...]",
                                   what, m->key);
        w->parent = q;
        w->mask = 0;
        for (size_t k = 0; k < (m->kind == KS_VALUE_LIST ? m->n : 1); k++) {
            const ks_value *v = m->kind == KS_VALUE_LIST ? &m->items[k] : m;
            int x = value_index_of(&sp->params[q], v, what, err);
            if (x < 0)
                return KS_ERR_CONFIG;
            w->mask |= (uint64_t)1 << x;
        }
        if (m->kind == KS_VALUE_LIST && m->n == 0)
            return ks_error_at(err, KS_ERR_CONFIG, m, "%s: %s needs at least one value", what,
                               m->key);
        p->n_when++;
    }
    return KS_OK;
}

/* A cycle of conditions through i (state: 0 new, 1 on the path, 2 done): its names. */
static int find_cycle(const ks_space *sp, int i, unsigned char *state, char *path, size_t size)
{
    const ks_param *p = &sp->params[i];
    if (state[i] == 1) {
        snprintf(path, size, "%s", p->base[0] ? p->base : p->name);
        return 1;
    }
    if (state[i] == 2)
        return 0;
    state[i] = 1;
    for (int c = 0; c < p->n_when; c++)
        if (find_cycle(sp, p->when[c].parent, state, path, size)) {
            size_t len = strlen(path);
            char tail[512];
            snprintf(tail, sizeof tail, "%s", path);
            if (len + 1 < size)
                snprintf(path, size, "%.60s → %.300s", p->base[0] ? p->base : p->name, tail);
            return 1;
        }
    state[i] = 2;
    return 0;
}

static ks_status read_conditions(ks_study *st, const ks_value *const *when_at, ks_error *err)
{
    ks_space *sp = &st->space;
    unsigned char state[KS_MAX_SEARCH_PARAMS];
    ks_status s;
    for (int i = 0; i < sp->n; i++) {
        ks_param *p = &sp->params[i];
        if (when_at[i] && (s = read_when(st, i, when_at[i], err)) != KS_OK)
            return s;
        if (p->base[0]) {
            /* copy r exists while the count is above r */
            const ks_param *c = &sp->params[p->per];
            ks_condition *w = &p->when[p->n_when++];
            w->parent = p->per;
            w->mask = 0;
            for (int k = 0; k < 64; k++) {
                double v = c->kind == KS_PARAM_CHOICE
                               ? (k < c->n_values ? c->values[k].number : -1)
                               : c->min + k * (c->step >= 1 ? c->step : 1);
                if ((c->kind == KS_PARAM_CHOICE || v <= c->max) && v > p->copy)
                    w->mask |= (uint64_t)1 << k;
            }
        }
    }
    memset(state, 0, sizeof state);
    for (int i = 0; i < sp->n; i++) {
        char path[512];
        if (find_cycle(sp, i, state, path, sizeof path))
            return ks_error_at(err, KS_ERR_CONFIG, ks_value_get(st->param_at[i], "when"),
                               "the conditions form a cycle: %s; a parameter's when must lead "
                               "to parameters without conditions",
                               path);
    }
    for (int i = 0; i < sp->n; i++) {
        double point[KS_MAX_SEARCH_PARAMS];
        ks_space_first_point(sp, point);
        if (!ks_space_activate(sp, i, point))
            return ks_error_at(err, KS_ERR_CONFIG, ks_value_get(st->param_at[i], "when"),
                               "parameter %s can never be active: its conditions (with their "
                               "parameters' own) contradict each other",
                               sp->params[i].base[0] ? sp->params[i].base : sp->params[i].name);
    }
    return KS_OK;
}

/* --------------------------------------------------------------- the space */

ks_status ks_study_read_space(ks_study *st, const ks_value *params, ks_error *err)
{
    const ks_value *when_at[KS_MAX_SEARCH_PARAMS] = {0}, *per_at[KS_MAX_SEARCH_PARAMS] = {0};
    ks_status s;
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
        s = read_param(&params->items[i], &st->space.params[i], err);
        st->space.n = (int)i + 1;
        if (s != KS_OK)
            return s;
        st->param_at[i] = &params->items[i];
        per_at[i] = ks_value_get(&params->items[i], "per");
    }
    if ((s = expand_per_index(st, per_at, err)) != KS_OK)
        return s;
    for (int i = 0; i < st->space.n; i++)
        when_at[i] = ks_value_get(st->param_at[i], "when");
    return read_conditions(st, when_at, err);
}

/* --------------------------------------------------------- search.enqueue */

/* Parameter q's value in an enqueued configuration into point[q]; what for messages. */
static ks_status enqueued_value(const ks_param *p, const ks_value *v, const char *what,
                                double *x, ks_error *err)
{
    char got[64];
    int k;
    if (p->kind == KS_PARAM_FLOAT) {
        if (v->kind != KS_VALUE_NUMBER || !(v->number >= p->min && v->number <= p->max))
            return ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s must be a number in [%g, %g], got %s",
                               what, p->base[0] ? p->base : p->name, p->min, p->max,
                               ks_value_describe(v, got, sizeof got));
        *x = v->number;
        return KS_OK;
    }
    if (p->kind == KS_PARAM_INT && v->kind == KS_VALUE_NUMBER &&
        !(v->number >= p->min && v->number <= p->max))
        return ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s must be in [%g, %g], got %s", what,
                           p->base[0] ? p->base : p->name, p->min, p->max,
                           ks_value_describe(v, got, sizeof got));
    if ((k = value_index_of(p, v, what, err)) < 0 && p->kind == KS_PARAM_CHOICE)
        return KS_ERR_CONFIG;
    if (p->kind == KS_PARAM_INT && (v->kind != KS_VALUE_NUMBER || v->number != ks_param_snap(p, v->number)))
        return KS_ERR_CONFIG;   /* value_index_of said why */
    *x = p->kind == KS_PARAM_CHOICE ? (double)k : v->number;
    return KS_OK;
}

/* One configuration of search.enqueue (entry number e) into point. */
static ks_status read_enqueued(const ks_space *sp, const ks_value *entry, int e, double *point,
                               ks_error *err)
{
    int order[KS_MAX_SEARCH_PARAMS];
    char what[64], got[64];
    ks_status s;
    snprintf(what, sizeof what, "search.enqueue[%d]", e);
    if (entry->kind != KS_VALUE_MAP)
        return ks_error_at(err, KS_ERR_CONFIG, entry,
                           "%s must be a map of parameters to values, e.g. {n_hidden: 2, "
                           "learning_rate: 0.003}, got %s",
                           what, ks_value_describe(entry, got, sizeof got));
    for (int i = 0; i < sp->n; i++)
        point[i] = NAN;
    for (size_t m = 0; m < entry->n; m++) {
        const ks_value *v = &entry->items[m];
        int q = ks_space_find(sp, v->key);
        const ks_param *p;
        if (q < 0) {
            const char *near = nearest_param(sp, v->key);
            return ks_error_at_key(err, KS_ERR_CONFIG, v, "%s: %s is not a parameter%s%s%s",
                                   what, v->key, near ? " (did you mean " : "", near ? near : "",
                                   near ? "?)" : "");
        }
        p = &sp->params[q];
        if (!p->base[0]) {
            if ((s = enqueued_value(p, v, what, &point[q], err)) != KS_OK)
                return s;
            continue;
        }
        /* a per-index parameter: a list, a value per copy */
        if (v->kind != KS_VALUE_LIST)
            return ks_error_at(err, KS_ERR_CONFIG, v,
                               "%s: %s has a value per copy (per: %s): give a list, e.g. "
                               "%s: [64, 32]",
                               what, p->base, sp->params[p->per].name, p->base);
        for (size_t r = 0; r < v->n; r++) {
            int at = q + (int)r;
            if (at >= sp->n || strcmp(sp->params[at].base, p->base) != 0)
                return ks_error_at(err, KS_ERR_CONFIG, &v->items[r],
                                   "%s: %s has at most %d copies, got %zu values", what, p->base,
                                   at - q, v->n);
            if ((s = enqueued_value(&sp->params[at], &v->items[r], what, &point[at], err)) != KS_OK)
                return s;
        }
    }
    ks_space_order(sp, order);
    for (int j = 0; j < sp->n; j++) {
        int i = order[j], active = ks_space_active(sp, i, point);
        const ks_param *p = &sp->params[i];
        const char *name = p->base[0] ? p->base : p->name;
        const ks_value *given = ks_value_get(entry, name);
        if (active == !isnan(point[i]))
            continue;
        if (p->base[0] && isfinite(point[p->per]))
            return ks_error_at(err, KS_ERR_CONFIG, given ? given : entry,
                               "%s: %s needs one value per copy, %d (%s), got %zu", what,
                               p->base, ks_space_copies(sp, p->per, point[p->per]),
                               sp->params[p->per].name, given ? given->n : 0);
        if (active)
            return ks_error_at(err, KS_ERR_CONFIG, entry,
                               "%s lacks %s, which this configuration has (give it a value)",
                               what, name);
        return ks_error_at_key(err, KS_ERR_CONFIG, given ? given : entry,
                               "%s: %s is inactive in this configuration (its when does not "
                               "hold): leave it out",
                               what, name);
    }
    return KS_OK;
}

ks_status ks_study_read_enqueue(ks_study *st, const ks_value *list, ks_error *err)
{
    ks_space *sp = &st->space;
    char got[64];
    if (!list || list->kind == KS_VALUE_NULL)
        return KS_OK;
    if (list->kind != KS_VALUE_LIST || list->n > KS_MAX_ENQUEUE)
        return ks_error_at(err, KS_ERR_CONFIG, list,
                           "search.enqueue must be a list of at most %d configurations to run "
                           "first, e.g. [{n_hidden: 2, learning_rate: 0.003}], got %s",
                           KS_MAX_ENQUEUE, ks_value_describe(list, got, sizeof got));
    if (st->max_trials > 0 && (int)list->n > st->max_trials)
        return ks_error_at(err, KS_ERR_CONFIG, list,
                           "search.enqueue has %zu configurations, more than max_trials (%d)",
                           list->n, st->max_trials);
    if (list->n == 0)
        return KS_OK;
    if (!(sp->enqueued = malloc(sizeof *sp->enqueued * list->n * (size_t)sp->n)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    for (size_t e = 0; e < list->n; e++) {
        ks_status s = read_enqueued(sp, &list->items[e], (int)e,
                                    sp->enqueued + e * (size_t)sp->n, err);
        if (s != KS_OK)
            return s;
        sp->n_enqueued = (int)e + 1;
    }
    return KS_OK;
}
