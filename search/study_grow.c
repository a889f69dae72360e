/*
 * study_grow.c — is a study file the study kept in study.db grown, and nothing else?
 * Both are parsed by the same loader and compared by meaning (numbers as numbers, maps
 * whatever their key order, defaults as their values), never as text: a growth widens
 * a range, adds values after a choice's own, raises max_trials or Hyperband's
 * max_epochs; any other difference is named at its place in the new file.
 */
#include "search_impl.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* How the search section's keys may change when a study grows; the rest must not. */
typedef enum grow_rule {
    GROW_SPACE,                 /* parameters: ranges widened, values added */
    GROW_RAISE,                 /* max_trials: raised */
    GROW_BUDGET,                /* max_epochs (R of Hyperband and BOHB): raised */
    GROW_ANY                    /* parallel: workers change no result */
} grow_rule;

static const struct {
    const char *key;
    grow_rule rule;
} search_rules[] = {
    {"parameters", GROW_SPACE},
    {"max_trials", GROW_RAISE},
    {"max_epochs", GROW_BUDGET},
    {"parallel", GROW_ANY},
};

static int search_rule(const char *key)
{
    for (size_t i = 0; i < sizeof search_rules / sizeof search_rules[0]; i++)
        if (strcmp(search_rules[i].key, key) == 0)
            return (int)search_rules[i].rule;
    return -1;
}

/* The growth found so far, for the console: "units: 1 value added; max_trials 3 → 5". */
static void note(ks_growth *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(ks_growth *g, const char *fmt, ...)
{
    size_t len = strlen(g->what);
    va_list ap;
    g->grew = 1;
    if (len + 3 >= sizeof g->what)
        return;
    if (len)
        len += (size_t)snprintf(g->what + len, sizeof g->what - len, "; ");
    va_start(ap, fmt);
    vsnprintf(g->what + len, sizeof g->what - len, fmt, ap);
    va_end(ap);
}

/* ----------------------------------------------------- values by meaning */

/* PATH.KEY or PATH[I] into out. */
static void path_key(char *out, size_t size, const char *path, const char *key)
{
    snprintf(out, size, "%s%s%s", path, path[0] ? "." : "", key);
}

/*
 * Compare old and now (now in the new file) by meaning: maps by key, whatever the
 * order; lists item by item; scalars by value.  The first difference is an error at its
 * place in now (a removed key: at now's map).  skip: a key path left out ("fit.epochs").
 */
static ks_status same_value(const ks_value *old, const ks_value *now, const char *path,
                            const char *skip, ks_error *err)
{
    char sub[256], a[64], b[64];
    if (skip && strcmp(path, skip) == 0)
        return KS_OK;
    if (old->kind == KS_VALUE_MAP && now->kind == KS_VALUE_MAP) {
        for (size_t i = 0; i < now->n; i++) {
            const ks_value *o = ks_value_get(old, now->items[i].key);
            ks_status s;
            path_key(sub, sizeof sub, path, now->items[i].key);
            if (!o && !(skip && strcmp(sub, skip) == 0))
                return ks_error_at_key(err, KS_ERR_CONFIG, &now->items[i],
                                       "%s is new (the study has none)", sub);
            if (o && (s = same_value(o, &now->items[i], sub, skip, err)) != KS_OK)
                return s;
        }
        for (size_t i = 0; i < old->n; i++) {
            path_key(sub, sizeof sub, path, old->items[i].key);
            if (!ks_value_get(now, old->items[i].key) && !(skip && strcmp(sub, skip) == 0))
                return ks_error_at(err, KS_ERR_CONFIG, now, "%s was removed (the study has %s)",
                                   sub, ks_value_describe(&old->items[i], a, sizeof a));
        }
        return KS_OK;
    }
    if (old->kind == KS_VALUE_LIST && now->kind == KS_VALUE_LIST && old->n == now->n) {
        for (size_t i = 0; i < now->n; i++) {
            ks_status s;
            snprintf(sub, sizeof sub, "%s[%zu]", path, i);
            if ((s = same_value(&old->items[i], &now->items[i], sub, skip, err)) != KS_OK)
                return s;
        }
        return KS_OK;
    }
    if (old->kind == KS_VALUE_LIST && now->kind == KS_VALUE_LIST)
        return ks_error_at(err, KS_ERR_CONFIG, now, "%s has %zu items, the study %zu", path,
                           now->n, old->n);
    if (ks_value_equal(old, now))
        return KS_OK;
    return ks_error_at(err, KS_ERR_CONFIG, now, "%s changed (was %s, now %s)", path,
                       ks_value_describe(old, a, sizeof a), ks_value_describe(now, b, sizeof b));
}

/* ------------------------------------------------------------- the space */

static const char *kind_name(ks_param_kind k)
{
    return k == KS_PARAM_CHOICE ? "values" : k == KS_PARAM_INT ? "an int range" : "a float range";
}

/* The conditions of old's parameter i and now's j, as parsed (when: SGD and when: [SGD]
   are one): the same parents and values (a grown choice keeps its values' places), and
   per-index copies of the same count. */
static ks_status same_conditions(const ks_study *old, const ks_study *now, int i, int j,
                                 ks_error *err)
{
    const ks_param *p = &old->space.params[i], *q = &now->space.params[j];
    const ks_value *def = now->param_at[j];
    const char *name = q->base[0] ? q->base : q->name;
    /* a copy's last clause is its count's, which grows with the count */
    int np = p->n_when - (p->base[0] != 0), nq = q->n_when - (q->base[0] != 0);
    if (!p->base[0] != !q->base[0])
        return ks_error_at(err, KS_ERR_CONFIG, q->base[0] ? ks_value_get(def, "per") : def,
                           "parameter %s: per was %s", name, q->base[0] ? "added" : "removed");
    if (p->base[0] &&
        strcmp(old->space.params[p->per].name, now->space.params[q->per].name) != 0)
        return ks_error_at(err, KS_ERR_CONFIG, ks_value_get(def, "per"),
                           "parameter %s: per changed (was %s, now %s)", name,
                           old->space.params[p->per].name, now->space.params[q->per].name);
    for (int k = 0; k < np || k < nq; k++)
        if (k >= np || k >= nq || p->when[k].mask != q->when[k].mask ||
            strcmp(old->space.params[p->when[k].parent].name,
                   now->space.params[q->when[k].parent].name) != 0)
            return ks_error_at(err, KS_ERR_CONFIG,
                               ks_value_get(def, "when") ? ks_value_get(def, "when") : def,
                               "parameter %s: its when changed (a grown study keeps its "
                               "conditions)",
                               name);
    return KS_OK;
}

/* One declared parameter (the first copy of a per-index one): q grew from p, or not. */
static ks_status param_grew(const ks_study *old, const ks_study *now, int i, int j, int grid,
                            ks_growth *g, ks_error *err)
{
    const ks_param *p = &old->space.params[i], *q = &now->space.params[j];
    const ks_value *def = now->param_at[j];
    const char *name = q->base[0] ? q->base : q->name;
    const ks_value *range = ks_value_get(def, q->kind == KS_PARAM_CHOICE ? "values"
                                              : q->kind == KS_PARAM_INT  ? "int"
                                                                         : "float");
    char a[64];
    if (p->kind != q->kind)
        return ks_error_at(err, KS_ERR_CONFIG, def, "parameter %s: was %s, now %s", name,
                           kind_name(p->kind), kind_name(q->kind));
    if (p->kind == KS_PARAM_CHOICE) {
        for (int k = 0; k < p->n_values; k++) {
            if (k >= q->n_values)
                return ks_error_at(err, KS_ERR_CONFIG, range,
                                   "parameter %s: value %s was removed (a grown study keeps "
                                   "its values, in their order, and may add more after them)",
                                   name, ks_value_describe(&p->values[k], a, sizeof a));
            char path[96];
            snprintf(path, sizeof path, "parameter %s: value %d", name, k + 1);
            if (same_value(&p->values[k], &q->values[k], path, NULL, err) != KS_OK) {
                char why[sizeof err->msg - 100];
                if (!err)
                    return KS_ERR_CONFIG;
                snprintf(why, sizeof why, "%.*s", (int)sizeof why - 1, err->msg);
                snprintf(err->msg, sizeof err->msg,
                         "%s (a grown study keeps its values, in their order, and may add more "
                         "after them)",
                         why);
                return KS_ERR_CONFIG;
            }
        }
        if (q->n_values > p->n_values)
            note(g, "%s: %d value%s added", name, q->n_values - p->n_values,
                 q->n_values - p->n_values == 1 ? "" : "s");
    } else {
        if (p->log != q->log)
            return ks_error_at(err, KS_ERR_CONFIG, def, "parameter %s: log changed (was %s, now %s)",
                               name, p->log ? "true" : "false", q->log ? "true" : "false");
        if (p->step != q->step || p->grid_points != q->grid_points)
            return ks_error_at(err, KS_ERR_CONFIG, def, "parameter %s: %s changed (was %g, now %g)",
                               name, p->step != q->step ? "step" : "grid_points",
                               p->step != q->step ? p->step : (double)p->grid_points,
                               p->step != q->step ? q->step : (double)q->grid_points);
        if (q->min > p->min || q->max < p->max)
            return ks_error_at(err, KS_ERR_CONFIG, range,
                               "parameter %s: the range [%g, %g] is narrower than the study's "
                               "[%g, %g] (a grown study keeps its range or widens it)",
                               name, q->min, q->max, p->min, p->max);
        if (q->kind == KS_PARAM_INT && fmod(p->min - q->min, q->step) != 0)
            return ks_error_at(err, KS_ERR_CONFIG, range,
                               "parameter %s: from %g by steps of %g misses the study's values "
                               "from %g (widen it by whole steps)",
                               name, q->min, q->step, p->min);
        if (grid && q->grid_points > 0 && (q->min != p->min || q->max != p->max))
            return ks_error_at(err, KS_ERR_CONFIG, range,
                               "parameter %s: a grid's %d grid_points over a wider range are "
                               "other points than the study's (add values instead)",
                               name, q->grid_points);
        if (q->min < p->min || q->max > p->max)
            note(g, "%s: [%g, %g] widened to [%g, %g]", name, p->min, p->max, q->min, q->max);
    }
    return same_conditions(old, now, i, j, err);
}

ks_status ks_study_space_grew(const ks_study *old, const ks_study *now, ks_growth *g,
                              ks_error *err)
{
    const ks_value *op = ks_value_get(ks_value_get(&old->doc, "search"), "parameters");
    const ks_value *np = ks_value_get(ks_value_get(&now->doc, "search"), "parameters");
    int grid = now->method == &ks_sampler_grid_ops;
    if (!op || !np)
        return ks_error_set(err, KS_ERR_INTERNAL, "a study without parameters");
    for (size_t k = 0; k < np->n || k < op->n; k++) {
        int i, j;
        ks_status s;
        if (k >= np->n)
            return ks_error_at(err, KS_ERR_CONFIG, np, "parameter %s was removed",
                               op->items[k].key);
        if (k >= op->n)
            return ks_error_at_key(err, KS_ERR_CONFIG, &np->items[k],
                                   "parameter %s is new (the study's trials have no value for "
                                   "it)", np->items[k].key);
        if (strcmp(op->items[k].key, np->items[k].key) != 0)
            return ks_error_at_key(err, KS_ERR_CONFIG, &np->items[k],
                                   "parameter %d is %s, the study's %s (a grown study keeps its "
                                   "parameters, in their order)",
                                   (int)k + 1, np->items[k].key, op->items[k].key);
        i = ks_space_find(&old->space, op->items[k].key);
        j = ks_space_find(&now->space, np->items[k].key);
        if (i < 0 || j < 0)
            return ks_error_set(err, KS_ERR_INTERNAL, "parameter %s not in the space",
                                np->items[k].key);
        if ((s = param_grew(old, now, i, j, grid, g, err)) != KS_OK)
            return s;
    }
    return KS_OK;
}

/* ------------------------------------------------------- the whole file */

/* The search sections: the method's own options and the rest as they are, except what
   search_rules lets grow. */
static ks_status search_grew(const ks_study *old, const ks_study *now, ks_growth *g,
                             ks_error *err)
{
    const ks_value *os = ks_value_get(&old->doc, "search"), *ns = ks_value_get(&now->doc, "search");
    const ks_value *at;
    ks_status s;
    for (int pass = 0; pass < 2; pass++) {
        const ks_value *from = pass ? os : ns, *to = pass ? ns : os;
        for (size_t i = 0; i < from->n; i++) {
            const ks_value *m = &from->items[i], *o = ks_value_get(to, m->key);
            char path[96];
            if (search_rule(m->key) >= 0)
                continue;
            snprintf(path, sizeof path, "search.%s", m->key);
            if (!o)
                return pass ? ks_error_at(err, KS_ERR_CONFIG, ns, "%s was removed", path)
                            : ks_error_at_key(err, KS_ERR_CONFIG, m,
                                              "%s is new (the study has none)", path);
            if (!pass && (s = same_value(o, m, path, NULL, err)) != KS_OK)
                return s;
        }
    }
    if ((s = ks_study_space_grew(old, now, g, err)) != KS_OK)
        return s;
    at = ks_value_get(ns, "max_trials") ? ks_value_get(ns, "max_trials") : ns;
    if (now->max_trials != old->max_trials) {
        if (old->max_trials == 0 || (now->max_trials != 0 && now->max_trials < old->max_trials) ||
            now->max_trials == 0)
            return ks_error_at(err, KS_ERR_CONFIG, at,
                               "search.max_trials changed (was %d, now %d; 0: not given): a "
                               "grown study may raise it",
                               old->max_trials, now->max_trials);
        note(g, "max_trials %d → %d", old->max_trials, now->max_trials);
    }
    {
        int ro = ks_study_full_budget(old), rn = ks_study_full_budget(now);
        at = ks_value_get(ns, "max_epochs") ? ks_value_get(ns, "max_epochs") : ns;
        if (rn < ro)
            return ks_error_at(err, KS_ERR_CONFIG, at,
                               "search.max_epochs (R) is %d, below the study's %d: a grown "
                               "study may raise it",
                               rn, ro);
        if (rn > ro)
            note(g, "max_epochs %d → %d", ro, rn);
        if (!now->method->full_budget && ks_value_get(ns, "max_epochs"))
            return ks_error_at_key(err, KS_ERR_CONFIG, ks_value_get(ns, "max_epochs"),
                                   "search.max_epochs is new (the study has none)");
    }
    return KS_OK;
}

ks_status ks_study_grew(const ks_study *old, const ks_study *now, ks_growth *g, ks_error *err)
{
    const ks_value *od = &old->doc, *nd = &now->doc;
    /* Hyperband's R is fit.epochs when max_epochs is not given: then epochs may grow */
    const char *skip = now->method->full_budget && old->method == now->method &&
                               !ks_value_get(ks_value_get(nd, "search"), "max_epochs") &&
                               !ks_value_get(ks_value_get(od, "search"), "max_epochs")
                           ? "fit.epochs"
                           : NULL;
    ks_status s;
    memset(g, 0, sizeof *g);
    if (od->kind != KS_VALUE_MAP || nd->kind != KS_VALUE_MAP)
        return ks_error_set(err, KS_ERR_INTERNAL, "a study file that is not a map");
    /* the method first: with another one, nothing else compares */
    if (old->method != now->method)
        return ks_error_at(err, KS_ERR_CONFIG,
                           ks_value_get(ks_value_get(nd, "search"), "method"),
                           "search.method changed (was %s, now %s)", old->method->name,
                           now->method->name);
    for (int pass = 0; pass < 2; pass++) {
        const ks_value *from = pass ? od : nd, *to = pass ? nd : od;
        for (size_t i = 0; i < from->n; i++) {
            const ks_value *m = &from->items[i], *o = ks_value_get(to, m->key);
            if (strcmp(m->key, "search") == 0)
                continue;
            if (!o)
                return pass ? ks_error_at(err, KS_ERR_CONFIG, nd,
                                          "%s was removed (the study has one)", m->key)
                            : ks_error_at_key(err, KS_ERR_CONFIG, m,
                                              "%s is new (the study has none)", m->key);
            if (!pass && (s = same_value(o, m, m->key, skip, err)) != KS_OK)
                return s;
        }
    }
    return search_grew(old, now, g, err);
}
