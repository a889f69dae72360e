/*
 * optimizer.c — the optimizer registry and one training step's update: gradient
 * clipping (clipnorm per weight, global_clipnorm, clipvalue, as Keras 3) and each
 * trainable weight's update through its optimizer.
 */
#include "engine_impl.h"

#include <string.h>

extern const ks_optimizer_ops ks_optimizer_sgd_ops;
extern const ks_optimizer_ops ks_optimizer_rmsprop_ops;
extern const ks_optimizer_ops ks_optimizer_adam_ops;

const ks_optimizer_ops *const ks_optimizer_kinds[] = {
    &ks_optimizer_sgd_ops, &ks_optimizer_rmsprop_ops, &ks_optimizer_adam_ops, NULL};

const ks_optimizer_ops *ks_optimizer_find(const char *name)
{
    for (int i = 0; ks_optimizer_kinds[i]; i++)
        if (strcasecmp(ks_optimizer_kinds[i]->name, name) == 0)
            return ks_optimizer_kinds[i];
    return NULL;
}

static double sum_squares(const float *g, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)g[i] * g[i];
    return s;
}

static void scale(float *g, size_t n, float k)
{
    for (size_t i = 0; i < n; i++)
        g[i] *= k;
}

void ks_model_apply_gradients(ks_model *m)
{
    const ks_optimizer_common *c = m->opt_args;
    float *slots[4];
    m->iterations++;
    if (c->global_clipnorm > 0.0) {
        double total = 0.0;
        for (int i = 0; i < m->n_weights; i++)
            if (m->weights[i]->trainable)
                total += sum_squares(m->weights[i]->g, m->weights[i]->size);
        total = sqrt(total);
        if (total > c->global_clipnorm)
            for (int i = 0; i < m->n_weights; i++)
                if (m->weights[i]->trainable)
                    scale(m->weights[i]->g, m->weights[i]->size,
                          (float)(c->global_clipnorm / total));
    }
    for (int i = 0; i < m->n_weights; i++) {
        ks_weight *w = m->weights[i];
        if (!w->trainable)
            continue;
        if (c->clipnorm > 0.0) {
            double norm = sqrt(sum_squares(w->g, w->size));
            if (norm > c->clipnorm)
                scale(w->g, w->size, (float)(c->clipnorm / norm));
        }
        if (c->clipvalue > 0.0) {
            float v = (float)c->clipvalue;
            for (size_t j = 0; j < w->size; j++)
                w->g[j] = w->g[j] > v ? v : (w->g[j] < -v ? -v : w->g[j]);
        }
        for (int s = 0; s < m->opt->n_slots; s++)
            slots[s] = m->slots + (size_t)s * m->n_params + w->offset;
        m->opt->update(m->opt_args, m->lr, m->iterations, w->w, w->g, slots, w->size);
    }
}
