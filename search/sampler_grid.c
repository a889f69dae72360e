/*
 * sampler_grid.c — grid search: trial i is the i-th point of the Cartesian product of
 * the parameters' values (row-major, the last parameter fastest; with conditions, only
 * the combinations of active parameters, each once: ks_space_point_at), so a trial's
 * point depends on its number only.  Floats need grid_points (or a values list).  The
 * configurations of search.enqueue run first, then the whole grid.  A grown study's
 * grid (more values, wider int ranges: `ksearch STUDY --grow`) keeps the trials it ran
 * with their numbers and runs the points not yet run, in the new grid's order: the next
 * trial is the grid's first point that no trial after the enqueued ones has.
 */
#include "search_impl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* Larger grids are refused: they would never finish and are surely a mistake. */
#define KS_GRID_MAX_POINTS 1000000L

/* Grid search has no options of its own: everything it needs is in the space. */
static const ks_key grid_keys[] = {{0}};

static ks_status grid_check(const void *args, const ks_space *sp, const ks_history *h,
                            ks_error *err)
{
    long size;
    (void)args;
    (void)h;
    for (int i = 0; i < sp->n; i++) {
        const ks_param *p = &sp->params[i];
        if (p->kind == KS_PARAM_FLOAT && p->grid_points <= 0)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "grid search needs a finite set of values for float parameter "
                                "\"%s\": add grid_points: N (N evenly spaced values from %g to "
                                "%g%s) or give values: [...]",
                                p->name, p->min, p->max, p->log ? ", on the log scale" : "");
    }
    size = ks_space_grid_size(sp);
    if (size < 0 || size > KS_GRID_MAX_POINTS)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "the grid has %s%ld points, more than the %ld grid search allows: "
                            "give fewer values or grid_points, a larger int step, or use "
                            "method: random",
                            size < 0 ? "over " : "", size < 0 ? 100000000L : size,
                            KS_GRID_MAX_POINTS);
    if (size == 0)
        return ks_error_set(err, KS_ERR_CONFIG, "the grid is empty: every parameter needs at "
                            "least one value");
    return KS_OK;
}

/* Trials the grid will run: the enqueued ones and its size, or max_trials if that is
   smaller. */
static long grid_limit(const ks_history *h)
{
    long size = ks_space_grid_size(h->space);
    if (size < 0)
        size = 0;
    size += h->space->n_enqueued;
    if (h->max_trials > 0 && h->max_trials < size)
        size = h->max_trials;
    return size;
}

/* A point's key for the set of points run: its values' bits (every NaN alike). */
static uint64_t point_key(const ks_space *sp, const double *point)
{
    uint64_t k = 1469598103934665603ull;
    for (int i = 0; i < sp->n; i++) {
        double x = isnan(point[i]) ? NAN : point[i] + 0.0;     /* -0 as 0 */
        uint64_t b;
        memcpy(&b, &x, sizeof b);
        k = ks_hash64(k, b);
    }
    return k;
}

static int key_cmp(const void *pa, const void *pb)
{
    uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
    return (a > b) - (a < b);
}

/* The first grid index whose point no trial after the enqueued ones has (at most their
   number: they cover no more), or -1 when out of memory. */
static long first_not_run(const ks_history *h, double *point)
{
    const ks_space *sp = h->space;
    int first = sp->n_enqueued < h->n ? sp->n_enqueued : h->n, m = h->n - first;
    uint64_t *run = malloc(sizeof *run * (size_t)(m > 0 ? m : 1));
    long i = 0;
    if (!run)
        return -1;
    for (int t = 0; t < m; t++)
        run[t] = point_key(sp, h->trials[first + t].point);
    qsort(run, (size_t)m, sizeof *run, key_cmp);
    for (; i <= m; i++) {
        uint64_t k;
        ks_space_grid_point(sp, i, point);
        k = point_key(sp, point);
        if (!bsearch(&k, run, (size_t)m, sizeof *run, key_cmp))
            break;
    }
    free(run);
    return i;
}

static ks_suggest_result grid_suggest(const void *args, const ks_history *h,
                                      ks_suggestion *out, ks_error *err)
{
    (void)args;
    if (h->n >= grid_limit(h))
        return KS_SUGGEST_DONE;
    if (ks_sampler_enqueued(h, out->point)) {
        /* search.enqueue's first */
    } else if (!h->grown) {
        ks_space_grid_point(h->space, h->n - h->space->n_enqueued, out->point);
    } else {
        long i = first_not_run(h, out->point);
        if (i < 0) {
            ks_error_set(err, KS_ERR_NOMEM, "out of memory choosing trial %d's point", h->n);
            return KS_SUGGEST_ERROR;
        }
        if (i >= ks_space_grid_size(h->space))
            return KS_SUGGEST_DONE;
    }
    out->continue_trial = -1;
    out->budget = h->max_epochs;
    return KS_SUGGEST_OK;
}

static int grid_total(const void *args, const ks_history *h)
{
    long n = grid_limit(h);
    (void)args;
    return n > INT_MAX ? INT_MAX : (int)n;
}

const ks_sampler_ops ks_sampler_grid_ops = {
    "grid", grid_keys, 0, grid_check, grid_suggest, grid_total,
};
