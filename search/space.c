/*
 * space.c — the search space: drawing points (uniform, log-uniform, integer steps,
 * categorical), the unit-cube encoding of the Gaussian process, grid enumeration,
 * and points as config values and JSON.
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
}

void ks_space_first_point(const ks_space *sp, double *point)
{
    for (int i = 0; i < sp->n; i++)
        point[i] = sp->params[i].kind == KS_PARAM_CHOICE ? 0.0 : sp->params[i].min;
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
    if (p->log)
        return exp(log(p->min) + u * (log(p->max) - log(p->min)));
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
        if (p->kind == KS_PARAM_CHOICE) {
            for (int j = 0; j < p->n_values; j++)
                u[d + j] = (int)point[i] == j ? 1.0 : 0.0;
            d += p->n_values;
        } else {
            u[d++] = to_unit(p, point[i]);
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
}

/* Points per parameter in a grid. */
static long grid_count(const ks_param *p)
{
    if (p->kind == KS_PARAM_CHOICE)
        return p->n_values;
    if (p->grid_points > 0)
        return p->grid_points;
    return p->kind == KS_PARAM_INT ? int_count(p) : 0;
}

long ks_space_grid_size(const ks_space *sp)
{
    long n = 1;
    for (int i = 0; i < sp->n; i++) {
        long c = grid_count(&sp->params[i]);
        if (c <= 0)
            return 0;
        if (n > 100000000L / c)
            return -1;      /* too many */
        n *= c;
    }
    return n;
}

void ks_space_grid_point(const ks_space *sp, long index, double *point)
{
    for (int i = sp->n - 1; i >= 0; i--) {
        const ks_param *p = &sp->params[i];
        long c = grid_count(p), k = index % c;
        index /= c;
        if (p->kind == KS_PARAM_CHOICE) {
            point[i] = (double)k;
        } else if (p->grid_points > 0) {
            /* evenly spaced (on the log scale with log), ends included */
            double u = c > 1 ? (double)k / (double)(c - 1) : 0.5;
            double x = from_unit(p, u);
            point[i] = p->kind == KS_PARAM_INT ? snap_int(p, x) : x;
        } else {
            point[i] = p->min + (double)k * int_step(p);
        }
    }
}

ks_status ks_space_value(const ks_space *sp, int i, const double *point, ks_value *out)
{
    const ks_param *p = &sp->params[i];
    ks_value_init(out, KS_VALUE_NUMBER);
    if (p->kind == KS_PARAM_CHOICE) {
        int k = (int)point[i];
        if (k < 0 || k >= p->n_values)
            k = 0;
        return ks_value_clone(&p->values[k], out);
    }
    out->number = p->kind == KS_PARAM_INT ? floor(point[i] + 0.5) : point[i];
    return KS_OK;
}

ks_status ks_space_point_json(const ks_space *sp, const double *point, char **out)
{
    ks_value map;
    ks_status s = KS_OK;
    ks_value_init(&map, KS_VALUE_MAP);
    for (int i = 0; i < sp->n && s == KS_OK; i++) {
        ks_value v;
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

ks_status ks_space_point_from_json(const ks_space *sp, const char *json, double *point,
                                   ks_error *err)
{
    ks_value map;
    ks_status s = ks_value_from_json(json, strlen(json), "params", &map, err);
    if (s != KS_OK)
        return s;
    for (int i = 0; i < sp->n && s == KS_OK; i++) {
        const ks_param *p = &sp->params[i];
        const ks_value *v = ks_value_get(&map, p->name);
        if (!v) {
            s = ks_error_set(err, KS_ERR_CORRUPT, "stored parameters lack \"%s\"", p->name);
        } else if (p->kind == KS_PARAM_CHOICE) {
            int k = -1;
            for (int j = 0; j < p->n_values && k < 0; j++)
                if (ks_value_equal(&p->values[j], v))
                    k = j;
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
    ks_value_free(&map);
    return s;
}
