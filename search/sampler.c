/*
 * sampler.c — the search methods by name, and what every method does first: the
 * configurations of search.enqueue, as trials 0 .. k−1.
 */
#include "search_impl.h"

#include <string.h>

static const ks_sampler_ops *const samplers[] = {
    &ks_sampler_grid_ops, &ks_sampler_random_ops, &ks_sampler_bayesian_ops,
    &ks_sampler_hyperband_ops, &ks_sampler_tpe_ops, &ks_sampler_bohb_ops, NULL};

const ks_sampler_ops *ks_sampler_find(const char *name)
{
    for (int i = 0; samplers[i]; i++)
        if (strcmp(samplers[i]->name, name) == 0)
            return samplers[i];
    return NULL;
}

int ks_sampler_enqueued(const ks_history *h, double *point)
{
    const ks_space *sp = h->space;
    if (h->n < 0 || h->n >= sp->n_enqueued || !sp->enqueued)
        return 0;
    memcpy(point, sp->enqueued + (size_t)h->n * sp->n, sizeof *point * (size_t)sp->n);
    return 1;
}
