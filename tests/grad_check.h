/*
 * grad_check.h — the gradient checker every layer test shares: models built from
 * value trees or YAML text, random batches for their inputs and outputs, and the
 * comparison of backward's gradients with central differences (Richardson-extrapolated)
 * over every trainable parameter.  Functions are static; a test uses what it needs.
 */
#ifndef KS_GRAD_CHECK_H
#define KS_GRAD_CHECK_H

#include "../engine/engine_impl.h"
#include "../search/search.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define GC_UNUSED __attribute__((unused))

/*
 * The finite-difference step (relative to weights above 1).  Layers with max in them
 * (pooling) are kinks wherever two window values are within a step: their tests take
 * a smaller one so that fewer parameters straddle one.
 */
GC_UNUSED static double grad_step = 1e-2;

#define BATCH 5

/* ------------------------------------------------------- building models */

GC_UNUSED static ks_value *put_num(ks_value *map, const char *key, double x)
{
    ks_value *v = ks_value_put(map, key, KS_VALUE_NUMBER);
    v->number = x;
    return v;
}

GC_UNUSED static ks_value *put_str(ks_value *map, const char *key, const char *s)
{
    ks_value *v = ks_value_put(map, key, KS_VALUE_NULL);
    ks_value_set_string(v, s);
    return v;
}

/* Append "- CLASS: {}" to a layer list and return its argument map. */
GC_UNUSED static ks_value *layer(ks_value *list, const char *cls)
{
    ks_value *e = ks_value_push(list, KS_VALUE_MAP);
    return ks_value_put(e, cls, KS_VALUE_MAP);
}

GC_UNUSED static ks_value *dense(ks_value *list, int units, const char *act)
{
    ks_value *a = layer(list, "Dense");
    put_num(a, "units", units);
    put_str(a, "activation", act);
    return a;
}

GC_UNUSED static ks_value *input(ks_value *list, int d0, int d1)
{
    ks_value *a = layer(list, "InputLayer"), *s = ks_value_put(a, "shape", KS_VALUE_LIST);
    ks_value_push(s, KS_VALUE_NUMBER)->number = d0;
    if (d1)
        ks_value_push(s, KS_VALUE_NUMBER)->number = d1;
    return a;
}

GC_UNUSED static ks_model *build(ks_value *layers, const char *loss, int from_logits, double delta,
                       const char *why)
{
    ks_value compile, *l, *args;
    ks_model *m = NULL;
    ks_error err;
    ks_value_init(&compile, KS_VALUE_MAP);
    l = ks_value_put(&compile, "loss", KS_VALUE_MAP);
    args = ks_value_put(l, loss, KS_VALUE_MAP);
    if (from_logits)
        ks_value_put(args, "from_logits", KS_VALUE_BOOL)->boolean = 1;
    if (delta > 0)
        put_num(args, "delta", delta);
    put_str(&compile, "optimizer", "sgd");
    if (ks_model_from_config(layers, NULL, 7, &m, &err) != KS_OK ||
        ks_model_compile(m, &compile, &err) != KS_OK) {
        CHECK(0, "%s: cannot build: %s", why, err.msg);
        ks_model_free(m);
        m = NULL;
    }
    ks_value_free(&compile);
    ks_value_free(layers);
    return m;
}

/* --------------------------------------------------------------- checking */

/* A batch for every input and output of a model (x[k], t[k]). */
typedef struct batch {
    float x[KS_MAX_IO][BATCH * 512];  /* up to 512 inputs per sample */
    float t[KS_MAX_IO][BATCH * 16];
    float w[BATCH];
    int use_w;
} batch;

/* Forward and loss of the batch (with grad: the output gradients too), always with the
   same dropout mask. */
GC_UNUSED static double run_batch(ks_model *m, const batch *b, int grad)
{
    const float *x[KS_MAX_IO], *t[KS_MAX_IO];
    for (int k = 0; k < KS_MAX_IO; k++) {
        x[k] = b->x[k];
        t[k] = b->t[k];
    }
    ks_rng_reseed(m->rng, 1, 2, 3);
    ks_model_forward(m, x, BATCH, 1);
    return ks_model_batch_loss(m, t, b->use_w ? b->w : NULL, BATCH, grad, NULL);
}

GC_UNUSED static double objective(ks_model *m, const batch *b)
{
    return run_batch(m, b, 0) + ks_model_penalty(m);
}

/* Central difference of the objective in parameter *p with step h. */
GC_UNUSED static double central(ks_model *m, const batch *b, float *p, double h)
{
    float keep = *p;
    double lp, lm, step;
    *p = (float)(keep + h);
    lp = objective(m, b);
    *p = (float)(keep - h);
    lm = objective(m, b);
    *p = keep;
    /* the step actually taken, after rounding to float */
    step = (double)(float)(keep + h) - (double)(float)(keep - h);
    return (lp - lm) / step;
}

/*
 * Compare analytic and central-difference gradients over every trainable
 * parameter (the numeric one Richardson-extrapolated from steps h and h/4); the
 * error is ‖a − n‖ / (‖a‖ + ‖n‖) over the whole vector.  A
 * parameter whose difference quotients at steps h and h/4 disagree with each other
 * straddles a kink (relu at 0, |e| at 0) and is left out — at most 10% of them.
 */
GC_UNUSED static void check_grads(ks_model *m, const batch *b, const char *why)
{
    ks_error err;
    double num2 = 0.0, ana2 = 0.0, diff2 = 0.0;
    size_t total = 0, kinks = 0;
    float *grad;
    if (!m)
        return;
    REQUIRE(ks_model_workspace(m, BATCH, 1, &err) == KS_OK, "%s: workspace", why);
    grad = malloc(m->n_params * sizeof *grad);
    run_batch(m, b, 1);
    /* stale gradients that backward must overwrite, not add to */
    for (size_t i = 0; i < m->n_params; i++)
        m->grads[i] = NAN;
    ks_model_backward(m, BATCH, 0);
    memcpy(grad, m->grads, m->n_params * sizeof *grad);
    for (int wi = 0; wi < m->n_weights; wi++) {
        ks_weight *w = m->weights[wi];
        if (!w->trainable)
            continue;
        for (size_t i = 0; i < w->size; i++) {
            double h = grad_step * (fabs(w->w[i]) > 1.0 ? fabs(w->w[i]) : 1.0);
            double num = central(m, b, &w->w[i], h), fine = central(m, b, &w->w[i], h / 4);
            double ana = grad[w->offset + i];
            total++;
            /* Richardson: central differences err by c·h², so this removes that term */
            if (fabs(num - fine) > 1e-2 * (fabs(num) + fabs(fine)) + 1e-4) {
                kinks++;
                continue;
            }
            num = fine + (fine - num) / 15.0;
            num2 += num * num;
            ana2 += ana * ana;
            diff2 += (num - ana) * (num - ana);
        }
    }
    {
        double rel = sqrt(diff2) / fmax(sqrt(num2) + sqrt(ana2), 1e-12);
        CHECK(rel < 1e-3, "%s: relative gradient error %.3g (|grad| %.3g)", why, rel,
              sqrt(ana2));
        CHECK(ana2 > 0.0, "%s: the gradient is zero, the check proves nothing", why);
        CHECK(kinks * 10 <= total, "%s: %zu of %zu parameters at kinks", why, kinks, total);
        if (getenv("KS_VERBOSE"))
            printf("%-60s rel error %.2e (%zu/%zu at kinks)\n", why, rel, kinks, total);
    }
    free(grad);
}

/* Random inputs for input idx, away from relu's kink. */
GC_UNUSED static void fill_input(batch *b, ks_rng *r, int idx, int in_size)
{
    for (int i = 0; i < BATCH * in_size; i++) {
        double v = 2.0 * ks_rng_uniform(r) - 1.0;
        b->x[idx][i] = (float)(v + (v >= 0 ? 0.1 : -0.1));
    }
}

/* Targets for output idx as the loss wants them (and sample weights with it). */
GC_UNUSED static void fill_target(batch *b, ks_rng *r, int idx, int k, const char *target_kind)
{
    float *t = b->t[idx];
    for (int i = 0; i < BATCH; i++) {
        b->w[i] = (float)(0.5 + ks_rng_uniform(r));
        if (strcmp(target_kind, "label") == 0) {
            t[i] = (float)ks_rng_index(r, (uint64_t)k);
        } else if (strcmp(target_kind, "onehot") == 0 || strcmp(target_kind, "dist") == 0) {
            double sum = 0.0;
            int hot = (int)ks_rng_index(r, (uint64_t)k);
            for (int j = 0; j < k; j++) {
                t[i * k + j] = strcmp(target_kind, "onehot") == 0 ? (float)(j == hot)
                                                                  : (float)ks_rng_uniform(r);
                sum += t[i * k + j];
            }
            for (int j = 0; j < k; j++)
                t[i * k + j] = (float)(t[i * k + j] / sum);
        } else if (strcmp(target_kind, "binary") == 0) {
            for (int j = 0; j < k; j++)
                t[i * k + j] = (float)ks_rng_index(r, 2);
        } else {
            /* real targets at distance >= 1 from 0, away from the small outputs of a
               fresh model, so that mae's kink at a zero residual stays out of reach */
            for (int j = 0; j < k; j++) {
                double v = 1.0 + ks_rng_uniform(r);
                t[i * k + j] = (float)(ks_rng_index(r, 2) ? v : -v);
            }
        }
    }
}

/* One input and one output. */
GC_UNUSED static void fill_batch(batch *b, ks_rng *r, int in_size, int k, const char *target_kind)
{
    memset(b, 0, sizeof *b);
    fill_input(b, r, 0, in_size);
    fill_target(b, r, 0, k, target_kind);
}

/* ---------------------------------------------------------------- graphs */

/* A model from YAML text (the model section and the compile section). */
GC_UNUSED static ks_model *graph(const char *model_yaml, const char *compile_yaml, const char *why)
{
    ks_value model, compile;
    ks_model *m = NULL;
    ks_error err;
    if (ks_yaml_load_text(model_yaml, "model", &model, &err) != KS_OK) {
        CHECK(0, "%s: model yaml: %s", why, err.msg);
        return NULL;
    }
    if (ks_yaml_load_text(compile_yaml, "compile", &compile, &err) != KS_OK) {
        CHECK(0, "%s: compile yaml: %s", why, err.msg);
        ks_value_free(&model);
        return NULL;
    }
    if (ks_model_from_config(&model, NULL, 7, &m, &err) != KS_OK ||
        ks_model_compile(m, &compile, &err) != KS_OK) {
        CHECK(0, "%s: cannot build: %d:%d: %s", why, err.line, err.col, err.msg);
        ks_model_free(m);
        m = NULL;
    }
    ks_value_free(&model);
    ks_value_free(&compile);
    return m;
}

/* Check a graph's gradients: random inputs for every input, targets of the given kinds
   ("real", "label", …) for every output. */
GC_UNUSED static void check_graph(ks_rng *r, const char *model_yaml, const char *compile_yaml,
                        const char *const *kinds, int weighted, const char *why)
{
    static batch b;
    ks_model *m = graph(model_yaml, compile_yaml, why);
    if (!m)
        return;
    memset(&b, 0, sizeof b);
    for (int k = 0; k < m->n_inputs; k++)
        fill_input(&b, r, k, (int)m->nodes[m->inputs[k]].layer->out_size);
    for (int k = 0; k < m->n_outputs; k++)
        fill_target(&b, r, k, (int)m->outputs[k].size, kinds ? kinds[k] : "real");
    b.use_w = weighted;
    check_grads(m, &b, why);
    ks_model_free(m);
}

#endif
