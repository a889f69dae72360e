/*
 * sampler.c — the search methods by name.
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
