/*
 * sampler.c — the search methods by name, what every method does first (the
 * configurations of search.enqueue, as trials 0 .. k−1), and the observations the
 * methods that model results see (a warm start's trials before the study's own).
 */
#include "search_impl.h"

#include <stdlib.h>
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

const ks_history *ks_history_observed(const ks_history *h, ks_history *tmp,
                                      ks_trial_view **buf)
{
    *buf = NULL;
    if (h->n_warm <= 0 || !h->warm)
        return h;
    if (!(*buf = malloc(sizeof **buf * (size_t)(h->n_warm + h->n))))
        return NULL;
    memcpy(*buf, h->warm, sizeof **buf * (size_t)h->n_warm);
    if (h->n > 0)
        memcpy(*buf + h->n_warm, h->trials, sizeof **buf * (size_t)h->n);
    *tmp = *h;
    tmp->trials = *buf;
    tmp->n = h->n_warm + h->n;
    tmp->n_warm = 0;
    tmp->warm = NULL;
    return tmp;
}
