/*
 * space.c — the search space: drawing points (uniform, log-uniform, integer steps,
 * categorical), conditional parameters (which are active at a point), the unit-cube
 * encoding of the Gaussian process, enumeration of finite spaces (grid search), and
 * points as config values and JSON.
 */
#include "search_impl.h"

#include <stdlib.h>
#include <string.h>

void ks_space_free(ks_space *sp)
{
    for (int i = 0; i < sp->n; i++)
        for (int j = 0; j < sp->params[i].n_values; j++)
            ks_value_free(&sp->params[i].values[j]);
    sp->n = 0;
    free(sp->enqueued);
    sp->enqueued = NULL;
    sp->n_enqueued = 0;
}

void ks_space_first_point(const ks_space *sp, double *point)
{
    for (int i = 0; i < sp->n; i++)
        point[i] = sp->params[i].kind == KS_PARAM_CHOICE ? 0.0 : sp->params[i].min;
    ks_space_deactivate(sp, point);
}

static double int_step(const ks_param *p)
{
    return p->step >= 1 ? p->step : 1.0;
}

/* The largest k with min + k·step <= max. */
static long int_count(const ks_param *p)
{
    return (long)floor((p->max - p->min) / int_step(p) + 1e-9) + 1;
}

/* Snap an integer parameter's value to its grid within [min, max]. */
static double snap_int(const ks_param *p, double x)
{
    double k = floor((x - p->min) / int_step(p) + 0.5);
    double hi = (double)(int_count(p) - 1);
    if (k < 0)
        k = 0;
    if (k > hi)
        k = hi;
    return p->min + k * int_step(p);
}

double ks_param_snap(const ks_param *p, double x)
{
    if (p->kind == KS_PARAM_INT)
        return snap_int(p, x);
    return x < p->min ? p->min : x > p->max ? p->max : x;
}

/* [0, 1] → the parameter's range (log-scaled with log) */
static double from_unit(const ks_param *p, double u)
{
    if (u < 0)
        u = 0;
    if (u > 1)
        u = 1;
    if (p->log) {
        /* exp∘log may land an ulp outside the range: kept within it */
        double x = exp(log(p->min) + u * (log(p->max) - log(p->min)));
        return x < p->min ? p->min : x > p->max ? p->max : x;
    }
    return p->min + u * (p->max - p->min);
}

static double to_unit(const ks_param *p, double x)
{
    double u;
    if (p->max <= p->min)
        return 0.5;
    if (p->log)
        u = (log(x) - log(p->min)) / (log(p->max) - log(p->min));
    else
        u = (x - p->min) / (p->max - p->min);
    return u < 0 ? 0 : u > 1 ? 1 : u;
}

void ks_space_sample(const ks_space *sp, ks_rng *rng, double *point)
{
    for (int i = 0; i < sp->n; i++) {
        const ks_param *p = &sp->params[i];
        switch (p->kind) {
        case KS_PARAM_CHOICE:
            point[i] = (double)ks_rng_index(rng, (uint64_t)p->n_values);
            break;
        case KS_PARAM_INT:
            if (p->log) {
                /* log-uniform over the integers: a draw in [min − ½, max + ½] on the log scale */
                double lo = log(p->min - 0.5 > 0 ? p->min - 0.5 : p->min);
                double hi = log(p->max + 0.5);
                point[i] = snap_int(p, exp(lo + ks_rng_uniform(rng) * (hi - lo)));
            } else {
                point[i] = p->min + int_step(p) * (double)ks_rng_index(rng, (uint64_t)int_count(p));
            }
            break;
        case KS_PARAM_FLOAT:
            point[i] = from_unit(p, ks_rng_uniform(rng));
            break;
        }
    }
}

int ks_space_dims(const ks_space *sp)
{
    int d = 0;
    for (int i = 0; i < sp->n; i++)
        d += sp->params[i].kind == KS_PARAM_CHOICE ? sp->params[i].n_values : 1;
    return d;
}

void ks_space_encode(const ks_space *sp, const double *point, double *u)
{
    int d = 0;
    for (int i = 0; i < sp->n; i++) {
        const ks_param *p = &sp->params[i];
        int inactive = isnan(point[i]);
        if (p->kind == KS_PARAM_CHOICE) {
            /* inactive: the default, its first value */
            for (int j = 0; j < p->n_values; j++)
                u[d + j] = (inactive ? 0 : (int)point[i]) == j ? 1.0 : 0.0;
            d += p->n_values;
        } else {
            u[d++] = inactive ? 0.5 : to_unit(p, point[i]);     /* the middle of the range */
        }
    }
}

void ks_space_decode(const ks_space *sp, const double *u, double *point)
{
    int d = 0;
    for (int i = 0; i < sp->n; i++) {
        const ks_param *p = &sp->params[i];
        if (p->kind == KS_PARAM_CHOICE) {
            int best = 0;
            for (int j = 1; j < p->n_values; j++)
                if (u[d + j] > u[d + best])
                    best = j;
            point[i] = best;
            d += p->n_values;
        } else {
            double x = from_unit(p, u[d++]);
            point[i] = p->kind == KS_PARAM_INT ? snap_int(p, x) : x;
        }
    }
    ks_space_deactivate(sp, point);
}

/* ------------------------------------------------------------- conditions */

int ks_space_conditional(const ks_space *sp)
{
    for (int i = 0; i < sp->n; i++)
        if (sp->params[i].n_when > 0)
            return 1;
    return 0;
}

void ks_space_order(const ks_space *sp, int *order)
{
    unsigned char placed[KS_MAX_SEARCH_PARAMS] = {0};
    int n = 0;
    /* Kahn's rule, the lowest index first: without conditions, file order */
    while (n < sp->n) {
        int progress = 0;
        for (int i = 0; i < sp->n && !progress; i++) {
            int ready = !placed[i];
            for (int c = 0; ready && c < sp->params[i].n_when; c++)
                ready = placed[sp->params[i].when[c].parent];
            if (ready) {
                placed[i] = 1;
                order[n++] = i;
                progress = 1;
            }
        }
        if (!progress)      /* a cycle (refused when the study loads): the rest as they are */
            for (int i = 0; i < sp->n; i++)
                if (!placed[i]) {
                    placed[i] = 1;
                    order[n++] = i;
                }
    }
}

int ks_param_value_index(const ks_param *p, double x)
{
    double k;
    if (!isfinite(x))
        return -1;
    if (p->kind == KS_PARAM_CHOICE)
        k = floor(x + 0.5);
    else if (p->kind == KS_PARAM_INT)
        k = floor((x - p->min) / int_step(p) + 0.5);
    else
        return -1;
    return k >= 0 && k < 64 ? (int)k : -1;
}

int ks_space_active(const ks_space *sp, int i, const double *point)
{
    const ks_param *p = &sp->params[i];
    for (int c = 0; c < p->n_when; c++) {
        const ks_condition *w = &p->when[c];
        int k = ks_param_value_index(&sp->params[w->parent], point[w->parent]);
        if (k < 0 || !(w->mask >> k & 1))
            return 0;
    }
    return 1;
}

void ks_space_deactivate(const ks_space *sp, double *point)
{
    int order[KS_MAX_SEARCH_PARAMS];
    if (!ks_space_conditional(sp))
        return;
    ks_space_order(sp, order);
    for (int j = 0; j < sp->n; j++)
        if (!ks_space_active(sp, order[j], point))
            point[order[j]] = NAN;
}

/* The value of a parameter at grid index k (a CHOICE's index, an INT's step). */
static double value_at_index(const ks_param *p, int k)
{
    return p->kind == KS_PARAM_CHOICE ? (double)k : p->min + k * int_step(p);
}

int ks_space_activate(const ks_space *sp, int i, double *point)
{
    uint64_t need[KS_MAX_SEARCH_PARAMS];
    int stack[KS_MAX_SEARCH_PARAMS * KS_MAX_CONDITIONS + 1], top = 0, steps = 0;
    unsigned char constrained[KS_MAX_SEARCH_PARAMS] = {0};
    for (int j = 0; j < sp->n; j++)
        need[j] = ~(uint64_t)0;
    /* every ancestor's allowed values: the intersection of the clauses on it */
    stack[top++] = i;
    while (top > 0 && steps++ < 100000) {
        const ks_param *p = &sp->params[stack[--top]];
        for (int c = 0; c < p->n_when; c++) {
            int q = p->when[c].parent;
            need[q] &= p->when[c].mask;
            constrained[q] = 1;
            if (top < (int)(sizeof stack / sizeof *stack))
                stack[top++] = q;
        }
    }
    for (int q = 0; q < sp->n; q++) {
        int k = 0;
        if (!constrained[q])
            continue;
        if (!need[q])
            return 0;
        if (ks_param_value_index(&sp->params[q], point[q]) >= 0 &&
            need[q] >> ks_param_value_index(&sp->params[q], point[q]) & 1)
            continue;       /* its value already does */
        while (!(need[q] >> k & 1))
            k++;
        point[q] = value_at_index(&sp->params[q], k);
    }
    for (int q = 0; q < sp->n; q++)
        if (isnan(point[q]))
            point[q] = sp->params[q].kind == KS_PARAM_CHOICE ? 0.0 : sp->params[q].min;
    ks_space_deactivate(sp, point);
    return !isnan(point[i]);
}

/* ----------------------------------------------------- finite enumeration */

/* Values of a parameter in an enumeration (see ks_space_count); 0: infinitely many. */
static long enum_count(const ks_param *p, int grid)
{
    if (p->kind == KS_PARAM_CHOICE)
        return p->n_values;
    if (grid && p->grid_points > 0)
        return p->grid_points;
    return p->kind == KS_PARAM_INT ? int_count(p) : 0;
}

/* Its k-th value. */
static double enum_value(const ks_param *p, int grid, long k)
{
    long c = enum_count(p, grid);
    if (p->kind == KS_PARAM_CHOICE)
        return (double)k;
    if (grid && p->grid_points > 0) {
        /* evenly spaced (on the log scale with log), ends included */
        double x = from_unit(p, c > 1 ? (double)k / (double)(c - 1) : 0.5);
        return p->kind == KS_PARAM_INT ? snap_int(p, x) : x;
    }
    return p->min + (double)k * int_step(p);
}

/* An enumeration's fixed facts: the order, and which parameters others depend on. */
typedef struct enumeration {
    const ks_space *sp;
    int grid;
    int order[KS_MAX_SEARCH_PARAMS];
    unsigned char parent[KS_MAX_SEARCH_PARAMS];
    double cap;
} enumeration;

static void enumeration_init(enumeration *e, const ks_space *sp, int grid, double cap)
{
    e->sp = sp;
    e->grid = grid;
    e->cap = cap;
    ks_space_order(sp, e->order);
    memset(e->parent, 0, sizeof e->parent);
    for (int i = 0; i < sp->n; i++)
        for (int c = 0; c < sp->params[i].n_when; c++)
            e->parent[sp->params[i].when[c].parent] = 1;
}

/*
 * The points that complete point's values at order positions < j (counted as doubles,
 * exact far beyond the cap; past the cap, some number above it).  A parameter no other
 * depends on multiplies; a parent branches over its values.  Writes point from j on.
 */
static double count_from(const enumeration *e, int j, double *point)
{
    const ks_param *p;
    int i;
    long c;
    double total = 0;
    if (j == e->sp->n)
        return 1;
    i = e->order[j];
    p = &e->sp->params[i];
    if (!ks_space_active(e->sp, i, point)) {
        point[i] = NAN;
        return count_from(e, j + 1, point);
    }
    if ((c = enum_count(p, e->grid)) <= 0)
        return INFINITY;
    if (!e->parent[i]) {
        point[i] = enum_value(p, e->grid, 0);
        return (double)c * count_from(e, j + 1, point);
    }
    for (long k = 0; k < c && total <= e->cap; k++) {
        point[i] = enum_value(p, e->grid, k);
        total += count_from(e, j + 1, point);
    }
    return total;
}

/* The index-th completion of point from order position j on. */
static void point_from(const enumeration *e, int j, double index, double *point)
{
    for (; j < e->sp->n; j++) {
        int i = e->order[j];
        const ks_param *p = &e->sp->params[i];
        long c = enum_count(p, e->grid);
        if (!ks_space_active(e->sp, i, point)) {
            point[i] = NAN;
            continue;
        }
        if (!e->parent[i]) {
            double rest = count_from(e, j + 1, point);
            double k = rest > 0 ? floor(index / rest) : 0;
            if (k > (double)(c - 1))
                k = (double)(c - 1);
            index -= k * rest;
            point[i] = enum_value(p, e->grid, (long)k);
            continue;
        }
        for (long k = 0; k < c; k++) {
            double n;
            point[i] = enum_value(p, e->grid, k);
            n = count_from(e, j + 1, point);
            if (index < n || k == c - 1) {
                point[i] = enum_value(p, e->grid, k);
                break;
            }
            index -= n;
        }
    }
}

long ks_space_count(const ks_space *sp, int grid, long cap)
{
    enumeration e;
    double point[KS_MAX_SEARCH_PARAMS], n;
    enumeration_init(&e, sp, grid, (double)cap);
    n = count_from(&e, 0, point);
    if (isinf(n) && n > 0) {
        /* a FLOAT without values, unless no point has it active */
        for (int i = 0; i < sp->n; i++)
            if (enum_count(&sp->params[i], grid) <= 0)
                return 0;
    }
    return n > (double)cap ? -1 : (long)n;
}

void ks_space_point_at(const ks_space *sp, int grid, long i, double *point)
{
    enumeration e;
    enumeration_init(&e, sp, grid, 1e18);
    point_from(&e, 0, (double)i, point);
}

long ks_space_grid_size(const ks_space *sp)
{
    return ks_space_count(sp, 1, 100000000L);
}

void ks_space_grid_point(const ks_space *sp, long index, double *point)
{
    ks_space_point_at(sp, 1, index, point);
}

/* --------------------------------------------------------- values, JSON */

ks_status ks_param_choice_value(const ks_param *p, int k, ks_value *out)
{
    const ks_value *v = &p->values[k];
    if (v->kind == KS_VALUE_MAP && v->n == 1)
        return ks_value_set_string(out, v->items[0].key);
    return ks_value_clone(v, out);
}

ks_status ks_space_value(const ks_space *sp, int i, const double *point, ks_value *out)
{
    const ks_param *p = &sp->params[i];
    ks_value_init(out, KS_VALUE_NUMBER);
    if (isnan(point[i]))
        return KS_ERR_CONFIG;       /* inactive: the trial has no such parameter */
    if (p->kind == KS_PARAM_CHOICE) {
        int k = (int)point[i];
        if (k < 0 || k >= p->n_values)
            k = 0;
        return ks_param_choice_value(p, k, out);
    }
    out->number = p->kind == KS_PARAM_INT ? floor(point[i] + 0.5) : point[i];
    return KS_OK;
}

int ks_space_copies(const ks_space *sp, int c, double x)
{
    const ks_param *p = &sp->params[c];
    double n = x;
    if (isnan(x))
        return 0;
    if (p->kind == KS_PARAM_CHOICE) {
        int k = (int)x;
        n = k >= 0 && k < p->n_values && p->values[k].kind == KS_VALUE_NUMBER
                ? p->values[k].number
                : 0;
    }
    return n >= 0 && n <= KS_MAX_SEARCH_PARAMS ? (int)n : 0;
}

ks_status ks_space_config_value(const ks_space *sp, int i, double x, ks_value *out)
{
    const ks_param *p = &sp->params[i];
    ks_value_init(out, KS_VALUE_NUMBER);
    if (p->kind == KS_PARAM_CHOICE) {
        int k = (int)x;
        ks_status s;
        if (k < 0 || k >= p->n_values)
            k = 0;
        s = ks_value_clone(&p->values[k], out);
        free(out->key);
        out->key = NULL;
        return s;
    }
    out->number = p->kind == KS_PARAM_INT ? floor(x + 0.5) : x;
    return KS_OK;
}

ks_status ks_space_point_json(const ks_space *sp, const double *point, char **out)
{
    ks_value map;
    ks_status s = KS_OK;
    ks_value_init(&map, KS_VALUE_MAP);
    for (int i = 0; i < sp->n && s == KS_OK; i++) {
        ks_value v;
        if (isnan(point[i]))
            continue;               /* inactive: absent */
        if ((s = ks_space_value(sp, i, point, &v)) == KS_OK) {
            s = ks_value_put_copy(&map, sp->params[i].name, &v);
            ks_value_free(&v);
        }
    }
    if (s == KS_OK)
        s = ks_value_to_json(&map, out, NULL);
    ks_value_free(&map);
    return s;
}

/* 1 if v is the choice's k-th value as recorded (ks_param_choice_value). */
static int choice_is(const ks_param *p, int k, const ks_value *v)
{
    const ks_value *c = &p->values[k];
    if (c->kind == KS_VALUE_MAP && c->n == 1)
        return v->kind == KS_VALUE_STRING && strcmp(v->string, c->items[0].key) == 0;
    return ks_value_equal(c, v);
}

int ks_param_choice_find(const ks_param *p, const ks_value *v)
{
    for (int k = 0; k < p->n_values; k++)
        if (choice_is(p, k, v))
            return k;
    return -1;
}

ks_status ks_space_point_from_json(const ks_space *sp, const char *json, double *point,
                                   ks_error *err)
{
    ks_value map;
    int order[KS_MAX_SEARCH_PARAMS];
    ks_status s = ks_value_from_json(json, strlen(json), "params", &map, err);
    if (s != KS_OK)
        return s;
    for (int i = 0; i < sp->n && s == KS_OK; i++) {
        const ks_param *p = &sp->params[i];
        const ks_value *v = ks_value_get(&map, p->name);
        if (!v) {
            point[i] = NAN;         /* inactive, if its condition agrees (below) */
        } else if (p->kind == KS_PARAM_CHOICE) {
            int k = ks_param_choice_find(p, v);
            if (k < 0)
                s = ks_error_set(err, KS_ERR_CORRUPT,
                                 "stored value of \"%s\" is not one of its values", p->name);
            point[i] = k;
        } else if (v->kind != KS_VALUE_NUMBER) {
            s = ks_error_set(err, KS_ERR_CORRUPT, "stored value of \"%s\" is not a number",
                             p->name);
        } else {
            point[i] = v->number;
        }
    }
    ks_space_order(sp, order);
    for (int j = 0; j < sp->n && s == KS_OK; j++) {
        int i = order[j], active = ks_space_active(sp, i, point);
        if (active && isnan(point[i]))
            s = ks_error_set(err, KS_ERR_CORRUPT, "stored parameters lack \"%s\"",
                             sp->params[i].name);
        else if (!active && !isnan(point[i]))
            s = ks_error_set(err, KS_ERR_CORRUPT,
                             "stored parameters give \"%s\", which is inactive there",
                             sp->params[i].name);
    }
    ks_value_free(&map);
    return s;
}
