/*
 * sampler_random.c — random search: trial i's point is a draw from the space (uniform,
 * log-uniform, integer steps, categorical; inactive parameters left out) with a stream
 * derived from (study seed, i) alone, so the set of trials is the same whatever the
 * number of workers or the order in which they ask.  search.enqueue's come first.
 */
#include "search_impl.h"

static const ks_key random_keys[] = {{0}};

static ks_status random_check(const void *args, const ks_space *sp, const ks_history *h,
                              ks_error *err)
{
    (void)args;
    (void)sp;
    if (!h || h->max_trials <= 0)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "random search needs max_trials: the number of points to draw "
                            "(e.g. max_trials: 20)");
    return KS_OK;
}

static ks_suggest_result random_suggest(const void *args, const ks_history *h,
                                        ks_suggestion *out, ks_error *err)
{
    (void)args;
    if (h->n >= h->max_trials)
        return KS_SUGGEST_DONE;
    if (!ks_sampler_enqueued(h, out->point) &&
        ks_sampler_random_point(h->space, h->seed, h->n, out->point) != KS_OK) {
        ks_error_set(err, KS_ERR_NOMEM, "out of memory drawing trial %d's parameters", h->n);
        return KS_SUGGEST_ERROR;
    }
    out->continue_trial = -1;
    out->budget = h->max_epochs;
    return KS_SUGGEST_OK;
}

static int random_total(const void *args, const ks_history *h)
{
    (void)args;
    return h->max_trials > 0 ? h->max_trials : 0;
}

ks_status ks_sampler_random_draw(const ks_space *sp, uint64_t seed, int number, double *point)
{
    ks_rng *rng;
    ks_status s = ks_rng_new(seed, ks_hash_string("random"), (uint64_t)number, &rng);
    if (s != KS_OK)
        return s;
    ks_space_sample(sp, rng, point);
    ks_rng_free(rng);
    return KS_OK;
}

ks_status ks_sampler_random_point(const ks_space *sp, uint64_t seed, int number, double *point)
{
    ks_status s = ks_sampler_random_draw(sp, seed, number, point);
    if (s == KS_OK)
        ks_space_deactivate(sp, point);    /* every parameter drawn: the same stream */
    return s;
}

const ks_sampler_ops ks_sampler_random_ops = {
    "random", random_keys, 0, random_check, random_suggest, random_total,
};
