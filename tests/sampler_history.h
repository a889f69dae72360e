/*
 * sampler_history.h — for the samplers' unit tests (test_tpe.c, test_bohb.c): parameters
 * of each kind, a study's history as samplers see it, the methods' options read as from a
 * study file, one worker's study driven through a sampler's ops table, and a smooth
 * objective over a space of every kind.
 */
#ifndef KS_TEST_SAMPLER_HISTORY_H
#define KS_TEST_SAMPLER_HISTORY_H

#include "../search/search_impl.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define NEAR(a, b, tol) (fabs((double)(a) - (double)(b)) <= (tol) * (1.0 + fabs((double)(b))))

static inline ks_param float_param(const char *name, double lo, double hi, int log_scale)
{
    ks_param p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "%s", name);
    p.kind = KS_PARAM_FLOAT;
    p.min = lo;
    p.max = hi;
    p.log = log_scale;
    return p;
}

static inline ks_param int_param(const char *name, double lo, double hi, double step,
                                 int log_scale)
{
    ks_param p = float_param(name, lo, hi, log_scale);
    p.kind = KS_PARAM_INT;
    p.step = step;
    return p;
}

static inline ks_param choice_param(const char *name, int n)
{
    ks_param p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "%s", name);
    p.kind = KS_PARAM_CHOICE;
    p.n_values = n;
    for (int i = 0; i < n; i++) {
        ks_value_init(&p.values[i], KS_VALUE_NUMBER);
        p.values[i].number = i;
    }
    return p;
}

/* A study's history as samplers see it: trials with their points and curves. */
#define MAX_TRIALS 700
#define MAX_EPOCHS 32
typedef struct history {
    ks_history h;
    ks_trial_view v[MAX_TRIALS];
    double points[MAX_TRIALS][KS_MAX_SEARCH_PARAMS];
    double curves[MAX_TRIALS][MAX_EPOCHS];
} history;

static inline void history_init(history *hi, const ks_space *sp, int maximize, int max_trials)
{
    memset(hi, 0, sizeof *hi);
    hi->h.space = sp;
    hi->h.maximize = maximize;
    hi->h.max_trials = max_trials;
    hi->h.max_epochs = 1;
    hi->h.seed = 7;
    hi->h.trials = hi->v;
}

/* A trial of one epoch with that objective. */
static inline void history_add(history *hi, const double *point, ks_trial_status status,
                               double objective)
{
    int i = hi->h.n++;
    memcpy(hi->points[i], point, sizeof hi->points[i]);
    hi->curves[i][0] = objective;
    hi->v[i] = (ks_trial_view){i, hi->points[i], status, 1, isnan(objective) ? 0 : 1,
                               hi->curves[i], objective};
}

/* The method's options: the defaults, then the JSON text given (NULL: none). */
static inline void *method_args(const ks_sampler_ops *ops, const char *json)
{
    void *args = calloc(1, ops->args_size ? ops->args_size : 1);
    ks_value map;
    ks_error err;
    if (!args)
        abort();
    ks_keys_defaults(ops->keys, args);
    if (json) {
        if (ks_value_from_json(json, strlen(json), "test", &map, &err) != KS_OK ||
            ks_keys_read(ops->keys, &map, "test", args, &err) != KS_OK) {
            fprintf(stderr, "bad options %s: %s\n", json, err.msg);
            abort();
        }
        ks_value_free(&map);
    }
    return args;
}

static inline ks_suggest_result suggest(const ks_sampler_ops *ops, const void *args,
                                        const ks_history *h, double *point,
                                        ks_suggestion *sug)
{
    ks_error err;
    memset(sug, 0, sizeof *sug);
    sug->point = point;
    sug->continue_trial = -1;
    return ops->suggest(args, h, sug, &err);
}

/* Trial i trains on to epochs epochs of curve(point, epoch) (maximized). */
static inline void history_train(history *hi, int i, int epochs,
                                 double (*curve)(const double *point, int epoch))
{
    ks_trial_view *v = &hi->v[i];
    for (int e = v->epochs; e < epochs && e < MAX_EPOCHS; e++) {
        hi->curves[i][e] = curve(hi->points[i], e);
        if (!(v->objective >= hi->curves[i][e]))
            v->objective = hi->curves[i][e];
    }
    v->epochs = epochs;
    v->budget = epochs;
    v->status = KS_TRIAL_COMPLETE;
}

/* One worker's study: each suggestion trained at once.  Returns the suggestions taken. */
static inline int history_run(history *hi, const ks_sampler_ops *ops, const void *args,
                              int steps, double (*curve)(const double *point, int epoch))
{
    int taken = 0;
    for (; taken < steps; taken++) {
        double p[KS_MAX_SEARCH_PARAMS];
        ks_suggestion sug;
        ks_suggest_result r;
        memset(p, 0, sizeof p);
        r = suggest(ops, args, &hi->h, p, &sug);
        if (r != KS_SUGGEST_OK)
            break;
        if (sug.continue_trial < 0) {
            int i = hi->h.n++;
            memcpy(hi->points[i], p, sizeof p);
            hi->v[i] = (ks_trial_view){i, hi->points[i], KS_TRIAL_RUNNING, sug.budget, 0,
                                       hi->curves[i], NAN};
            history_train(hi, i, sug.budget, curve);
        } else {
            history_train(hi, sug.continue_trial, sug.budget, curve);
        }
    }
    return taken;
}

/* A smooth function of the mixed space below, smallest at (40, 3e-3, 30, value 2). */
static inline double mixed_objective(const double *p)
{
    return pow((p[0] - 40) / 90, 2) + pow(log10(p[1] / 3e-3), 2) / 9 +
           pow(log10(p[2] / 30), 2) / 9 + (p[3] == 2 ? 0 : 0.3);
}

static inline int in_space(const ks_space *sp, const double *p)
{
    for (int i = 0; i < sp->n; i++) {
        const ks_param *q = &sp->params[i];
        if (q->kind == KS_PARAM_CHOICE) {
            if (!(p[i] >= 0 && p[i] < q->n_values && p[i] == floor(p[i])))
                return 0;
        } else if (!(p[i] >= q->min && p[i] <= q->max)) {
            return 0;
        } else if (q->kind == KS_PARAM_INT && fmod(p[i] - q->min, q->step) != 0) {
            return 0;
        }
    }
    return 1;
}

#endif
