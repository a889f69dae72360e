/*
 * test_pruner.c — search.pruner: the median and successive-halving (ASHA) rules stop
 * exactly the trials they should on scripted curves computed by hand (startup trials,
 * warm-up, interval, ties, maximize and minimize, rungs with few trials), a verdict reads
 * only the trials numbered below, when a verdict can be given, the study file's syntax
 * and its errors (FILE:LINE:COL), and the verdict's wire form.
 */
#include "../search/message.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------- scripted curves */

#define MAX_T 16
#define MAX_E 32

typedef struct curves {
    ks_history h;
    ks_trial_view v[MAX_T];
    double c[MAX_T][MAX_E];
} curves;

static void curves_init(curves *cs, int maximize)
{
    memset(cs, 0, sizeof *cs);
    cs->h.maximize = maximize;
    cs->h.trials = cs->v;
}

/* Trial h.n with the values given (n of them) and a status; budget 30 epochs. */
static int add(curves *cs, ks_trial_status status, int n, const double *values)
{
    int k = cs->h.n++;
    ks_trial_view *t = &cs->v[k];
    memcpy(cs->c[k], values, (size_t)n * sizeof *values);
    t->number = k;
    t->status = status;
    t->budget = 30;
    t->epochs = n;
    t->curve = cs->c[k];
    t->objective = NAN;
    for (int e = 0; e < n; e++)
        if (isfinite(values[e]) &&
            (isnan(t->objective) || (cs->h.maximize ? values[e] > t->objective
                                                    : values[e] < t->objective)))
            t->objective = values[e];
    return k;
}

/* An options struct of a pruner as the study file gives it (text: a YAML map or ""). */
static void *options(const ks_pruner_ops *ops, const char *text)
{
    void *args = calloc(1, ops->args_size);
    ks_value v;
    ks_error err;
    ks_keys_defaults(ops->keys, args);
    if (text[0]) {
        if (ks_yaml_load_text(text, "opts.yaml", &v, &err) != KS_OK) {
            CHECK(0, "%s", err.msg);
            return args;
        }
        CHECK(ks_keys_read(ops->keys, &v, "test", args, &err) == KS_OK, "%s", err.msg);
        ks_value_free(&v);
    }
    return args;
}

static int prune(const ks_pruner_ops *ops, const void *args, const curves *cs, int k, int e)
{
    return ops->prune(args, &cs->h, k, e);
}

/* ---------------------------------------------------------------- median */

static void test_median_checks(void)
{
    const ks_pruner_ops *m = &ks_pruner_median_ops;
    void *def = options(m, ""), *w = options(m, "{n_startup_trials: 0, n_warmup_epochs: 2, "
                                                "interval: 3}");
    /* Optuna's defaults: five startup trials, every epoch from the first */
    CHECK(!m->checks(def, 4, 0) && !m->checks(def, 0, 7), "trials 0-4 are never checked");
    CHECK(m->checks(def, 5, 0) && m->checks(def, 5, 1) && m->checks(def, 9, 13), "trial 5 on");
    /* warm-up 2, interval 3: epochs 2, 5, 8 … (0-based) */
    for (int e = 0; e < 12; e++)
        CHECK(m->checks(w, 0, e) == (e == 2 || e == 5 || e == 8 || e == 11), "epoch %d", e);
    /* never a trial's last epoch, nor without a pruner */
    CHECK(ks_pruner_checks(m, w, 0, 9, 5) && !ks_pruner_checks(m, w, 0, 6, 5) &&
              ks_pruner_checks(m, w, 0, 7, 5),
          "the last epoch of a budget is not checked");
    CHECK(!ks_pruner_checks(NULL, NULL, 7, 30, 3), "no pruner");
    free(def);
    free(w);
}

static void test_median_maximize(void)
{
    const ks_pruner_ops *m = &ks_pruner_median_ops;
    void *a = options(m, "{n_startup_trials: 0}");
    curves cs;
    int k;
    curves_init(&cs, 1);
    /* at epoch 1 the earlier trials have 0.5 0.9 0.7 0.6 0.8: median 0.7 */
    add(&cs, KS_TRIAL_COMPLETE, 3, (double[]){0.1, 0.5, 0.6});
    add(&cs, KS_TRIAL_COMPLETE, 3, (double[]){0.2, 0.9, 0.95});
    add(&cs, KS_TRIAL_RUNNING, 2, (double[]){0.3, 0.7});
    add(&cs, KS_TRIAL_PRUNED, 2, (double[]){0.4, 0.6});
    add(&cs, KS_TRIAL_FAILED, 2, (double[]){0.5, 0.8});
    k = add(&cs, KS_TRIAL_RUNNING, 2, (double[]){0.65, 0.68});
    CHECK(prune(m, a, &cs, k, 1) == 1, "best 0.68 < median 0.7: pruned");
    /* its best so far counts, not its last value */
    cs.c[k][0] = 0.71;
    CHECK(prune(m, a, &cs, k, 1) == 0, "best 0.71 > 0.7: goes on");
    /* a tie goes on (Optuna prunes only a worse one) */
    cs.c[k][0] = 0.7;
    CHECK(prune(m, a, &cs, k, 1) == 0, "best 0.7 = median: goes on");
    /* at epoch 0 the values are 0.1 … 0.5: median 0.3 */
    cs.c[k][0] = 0.29;
    CHECK(prune(m, a, &cs, k, 0) == 1, "epoch 0: 0.29 < 0.3");
    cs.c[k][0] = 0.3;
    CHECK(prune(m, a, &cs, k, 0) == 0, "epoch 0: 0.3 = 0.3");
    /* a later trial, however good, changes nothing */
    add(&cs, KS_TRIAL_COMPLETE, 3, (double[]){0.99, 0.99, 0.99});
    cs.c[k][0] = 0.65;
    CHECK(prune(m, a, &cs, k, 1) == 1, "trial 6 is not read for trial 5");
    /* an even count: the earlier trials at epoch 2 are 0.6 and 0.95: median 0.775 (the
       running trials 2 and 5 ended before epoch 2: see test_median_wait for those that
       may still reach it) */
    cs.v[2].status = KS_TRIAL_COMPLETE;
    cs.v[5].status = KS_TRIAL_PRUNED;
    k = add(&cs, KS_TRIAL_RUNNING, 3, (double[]){0.7, 0.75, 0.77});
    CHECK(cs.h.n == 8 && prune(m, a, &cs, k, 2) == 1, "0.77 < 0.775 (trial 6 counts too: 0.99 → "
                                                      "median of 0.6 0.95 0.99 = 0.95)");
    cs.v[6].epochs = 2;     /* trial 6 ended before epoch 2: not counted */
    CHECK(prune(m, a, &cs, k, 2) == 1, "0.77 < 0.775");
    cs.c[k][2] = 0.78;
    CHECK(prune(m, a, &cs, k, 2) == 0, "0.78 > 0.775");
    free(a);
}

static void test_median_minimize_and_edges(void)
{
    const ks_pruner_ops *m = &ks_pruner_median_ops;
    void *a = options(m, "{n_startup_trials: 0}"), *three = options(m, "{n_startup_trials: 0, "
                                                                       "n_min_trials: 3}");
    curves cs;
    int k;
    curves_init(&cs, 0);
    /* losses at epoch 0: 3, 1, NaN (not counted), 2 → median 2 */
    add(&cs, KS_TRIAL_COMPLETE, 1, (double[]){3});
    add(&cs, KS_TRIAL_COMPLETE, 1, (double[]){1});
    add(&cs, KS_TRIAL_COMPLETE, 1, (double[]){NAN});
    add(&cs, KS_TRIAL_COMPLETE, 1, (double[]){2});
    k = add(&cs, KS_TRIAL_RUNNING, 1, (double[]){2.5});
    CHECK(prune(m, a, &cs, k, 0) == 1, "loss 2.5 > median 2");
    cs.c[k][0] = 2;
    CHECK(prune(m, a, &cs, k, 0) == 0, "loss 2 = median 2");
    cs.c[k][0] = 1.5;
    CHECK(prune(m, a, &cs, k, 0) == 0, "loss 1.5 < median 2");
    /* n_min_trials 3: three finite values are enough, two are not */
    cs.c[k][0] = 2.5;
    CHECK(prune(m, three, &cs, k, 0) == 1, "three values");
    cs.c[0][0] = NAN;
    CHECK(prune(m, three, &cs, k, 0) == 0, "two values: no verdict but go on");
    /* no earlier value at that epoch: go on; no value of its own at all: pruned (Optuna) */
    cs.v[k].status = KS_TRIAL_PRUNED;
    k = add(&cs, KS_TRIAL_RUNNING, 2, (double[]){9, 9});
    CHECK(prune(m, a, &cs, k, 1) == 0, "nobody reached epoch 1");
    cs.c[k][0] = cs.c[k][1] = NAN;
    CHECK(prune(m, a, &cs, k, 1) == 1, "a trial without a value");
    /* the first trial has nothing to be compared with */
    curves_init(&cs, 0);
    k = add(&cs, KS_TRIAL_RUNNING, 1, (double[]){5});
    CHECK(prune(m, a, &cs, k, 0) == 0, "trial 0");
    free(a);
    free(three);
}

/* ------------------------------------------------------------------ asha */

static void test_asha_checks(void)
{
    const ks_pruner_ops *s = &ks_pruner_asha_ops;
    void *def = options(s, ""), *two = options(s, "{min_epochs: 2, factor: 2}");
    /* rungs after 1, 3, 9, 27 epochs: epochs 0, 2, 8, 26 */
    for (int e = 0; e < 30; e++)
        CHECK(s->checks(def, 5, e) == (e == 0 || e == 2 || e == 8 || e == 26), "epoch %d", e);
    for (int e = 0; e < 20; e++)
        CHECK(s->checks(two, 0, e) == (e == 1 || e == 3 || e == 7 || e == 15), "epoch %d", e);
    CHECK(!ks_pruner_checks(s, def, 3, 9, 8) && ks_pruner_checks(s, def, 3, 10, 8),
          "a rung at the budget's last epoch is not checked");
    free(def);
    free(two);
}

static void test_asha_rungs(void)
{
    const ks_pruner_ops *s = &ks_pruner_asha_ops;
    void *a = options(s, "");       /* factor 3 */
    curves cs;
    int k;
    curves_init(&cs, 1);
    /* fewer than factor trials at the rung: the first goes on, then only one that no
       earlier trial beats (ties go on) */
    k = add(&cs, KS_TRIAL_RUNNING, 1, (double[]){0.1});
    CHECK(prune(s, a, &cs, k, 0) == 0, "trial 0 alone at the rung");
    cs.v[k].status = KS_TRIAL_COMPLETE;
    cs.c[k][0] = 0.8;
    k = add(&cs, KS_TRIAL_RUNNING, 1, (double[]){0.7});
    CHECK(prune(s, a, &cs, k, 0) == 1, "0.7 of 2, beaten by 0.8");
    cs.c[k][0] = 0.8;
    CHECK(prune(s, a, &cs, k, 0) == 0, "0.8 ties 0.8");
    cs.c[k][0] = 0.9;
    CHECK(prune(s, a, &cs, k, 0) == 0, "0.9 of 2");
    /* six at the rung (five before, itself): the top 6/3 = 2 go on */
    curves_init(&cs, 1);
    add(&cs, KS_TRIAL_COMPLETE, 3, (double[]){0.1, 0.1, 0.1});
    add(&cs, KS_TRIAL_PRUNED, 1, (double[]){0.5});
    add(&cs, KS_TRIAL_COMPLETE, 3, (double[]){0.3, 0.3, 0.3});
    add(&cs, KS_TRIAL_RUNNING, 2, (double[]){0.9, 0.2});
    add(&cs, KS_TRIAL_COMPLETE, 3, (double[]){0.7, 0.1, 0.1});
    k = add(&cs, KS_TRIAL_RUNNING, 1, (double[]){0.6});
    CHECK(prune(s, a, &cs, k, 0) == 1, "0.6: 0.9 and 0.7 better, keep 2");
    cs.c[k][0] = 0.75;
    CHECK(prune(s, a, &cs, k, 0) == 0, "0.75: only 0.9 better");
    cs.c[k][0] = 0.7;
    CHECK(prune(s, a, &cs, k, 0) == 0, "0.7 ties second");
    /* rung 3 (epoch 2): a rung's value is the best of the first 3 epochs; trials 1 and 3
       never reached it (3 pruned there); 0.1, 0.3, 0.7 and itself: 4 / 3 = 1 goes on */
    cs.v[3].status = KS_TRIAL_PRUNED;
    memcpy(cs.c[k], (double[]){0.2, 0.65, 0.5}, 3 * sizeof(double));
    cs.v[k].epochs = 3;
    CHECK(prune(s, a, &cs, k, 2) == 1, "rung 3: best 0.65 < 0.7 (trial 4's epoch 0)");
    cs.c[k][1] = 0.71;
    CHECK(prune(s, a, &cs, k, 2) == 0, "rung 3: best 0.71");
    free(a);
}

static void test_asha_minimize(void)
{
    const ks_pruner_ops *s = &ks_pruner_asha_ops;
    void *a = options(s, "{min_epochs: 2, factor: 2}");
    curves cs;
    int k;
    curves_init(&cs, 0);
    /* losses at rung 2 (epoch 1): 1.0, 3.0, and NaN (no value: not counted) */
    add(&cs, KS_TRIAL_COMPLETE, 2, (double[]){1.5, 1.0});
    add(&cs, KS_TRIAL_COMPLETE, 2, (double[]){3.0, 4.0});
    add(&cs, KS_TRIAL_FAILED, 2, (double[]){NAN, NAN});
    k = add(&cs, KS_TRIAL_RUNNING, 2, (double[]){2.5, 2.0});
    /* three at the rung: 3 / 2 = 1 goes on */
    CHECK(prune(s, a, &cs, k, 1) == 1, "loss 2.0, beaten by 1.0");
    cs.c[k][0] = 0.9;
    CHECK(prune(s, a, &cs, k, 1) == 0, "loss 0.9 best");
    cs.c[k][0] = cs.c[k][1] = NAN;
    CHECK(prune(s, a, &cs, k, 1) == 1, "no value: pruned");
    free(a);
}

/* ---------------------------------------------- earlier trials still running */

static void test_median_wait(void)
{
    const ks_pruner_ops *m = &ks_pruner_median_ops;
    void *a = options(m, "{n_startup_trials: 0}"), *five = options(m, "{n_startup_trials: 0, "
                                                                      "n_min_trials: 5}");
    curves cs;
    int k;
    curves_init(&cs, 1);
    /* at epoch 1: 0.5 0.6 0.7 0.8 known, trial 4 running before it (unknown); with it the
       median is between that of −inf 0.5 0.6 0.7 0.8 (0.6) and of 0.5 … 0.8 +inf (0.7) */
    add(&cs, KS_TRIAL_COMPLETE, 3, (double[]){0.1, 0.5, 0.5});
    add(&cs, KS_TRIAL_RUNNING, 2, (double[]){0.1, 0.6});
    add(&cs, KS_TRIAL_COMPLETE, 2, (double[]){0.1, 0.7});
    add(&cs, KS_TRIAL_PRUNED, 2, (double[]){0.1, 0.8});
    add(&cs, KS_TRIAL_RUNNING, 1, (double[]){0.1});
    k = add(&cs, KS_TRIAL_RUNNING, 2, (double[]){0.55, 0.5});
    CHECK(prune(m, a, &cs, k, 1) == KS_VERDICT_PRUNE, "0.55 < 0.6 whatever trial 4 does");
    cs.c[k][1] = 0.7;
    CHECK(prune(m, a, &cs, k, 1) == KS_VERDICT_GO_ON, "0.7 ≥ 0.7 whatever trial 4 does");
    cs.c[k][1] = 0.62;
    CHECK(prune(m, a, &cs, k, 1) == KS_VERDICT_WAIT, "0.62: trial 4 decides");
    /* trial 4 records epoch 1: 0.9 → median 0.7; 0.1 → median 0.6 */
    cs.v[4].epochs = 2;
    cs.c[4][1] = 0.9;
    CHECK(prune(m, a, &cs, k, 1) == KS_VERDICT_PRUNE, "0.62 < 0.7");
    cs.c[4][1] = 0.1;
    CHECK(prune(m, a, &cs, k, 1) == KS_VERDICT_GO_ON, "0.62 > 0.6");
    /* it ends before epoch 1 (complete, failed, pruned): median of the four, 0.65 */
    cs.v[4].epochs = 1;
    for (ks_trial_status st = KS_TRIAL_COMPLETE; st <= KS_TRIAL_FAILED; st++) {
        cs.v[4].status = st;
        CHECK(prune(m, a, &cs, k, 1) == KS_VERDICT_PRUNE, "0.62 < 0.65 (%s)",
              ks_trial_status_name(st));
    }
    /* interrupted or queued, it will go on: wait */
    cs.v[4].status = KS_TRIAL_INTERRUPTED;
    CHECK(prune(m, a, &cs, k, 1) == KS_VERDICT_WAIT, "interrupted");
    cs.v[4].status = KS_TRIAL_QUEUED;
    CHECK(prune(m, a, &cs, k, 1) == KS_VERDICT_WAIT, "queued");
    /* n_min_trials 5: four known are too few to prune; with the fifth, at most 0.7 */
    CHECK(prune(m, five, &cs, k, 1) == KS_VERDICT_WAIT, "0.62, 4 + 1 values");
    cs.c[k][1] = 0.55;
    CHECK(prune(m, five, &cs, k, 1) == KS_VERDICT_WAIT, "0.55: not judged without trial 4");
    cs.c[k][1] = 0.7;
    CHECK(prune(m, five, &cs, k, 1) == KS_VERDICT_GO_ON, "0.7 goes on either way");
    /* trial 0 alone knows nothing and waits for nobody; trial 1 waits for a running 0 */
    CHECK(prune(m, a, &cs, 0, 1) == KS_VERDICT_GO_ON, "trial 0");
    cs.v[0].status = KS_TRIAL_RUNNING;
    cs.v[0].epochs = 1;
    CHECK(prune(m, a, &cs, 1, 1) == KS_VERDICT_WAIT, "trial 1 after a running trial 0");
    free(a);
    free(five);
}

static void test_asha_wait(void)
{
    const ks_pruner_ops *s = &ks_pruner_asha_ops;
    void *a = options(s, ""), *two = options(s, "{factor: 2}");
    curves cs;
    int k;
    curves_init(&cs, 1);
    /* rung 1: 0.8 and 0.6 known, trial 2 running before it */
    add(&cs, KS_TRIAL_COMPLETE, 1, (double[]){0.8});
    add(&cs, KS_TRIAL_RUNNING, 1, (double[]){0.6});
    add(&cs, KS_TRIAL_RUNNING, 0, (double[]){0});
    k = add(&cs, KS_TRIAL_RUNNING, 1, (double[]){0.5});
    /* 3 or 4 at the rung keep 1: two are better already */
    CHECK(prune(s, a, &cs, k, 0) == KS_VERDICT_PRUNE, "0.5: pruned whatever trial 2 does");
    cs.c[k][0] = 0.7;
    CHECK(prune(s, a, &cs, k, 0) == KS_VERDICT_PRUNE, "0.7: 0.8 is better, one goes on");
    cs.c[k][0] = 0.9;
    CHECK(prune(s, a, &cs, k, 0) == KS_VERDICT_WAIT, "0.9: trial 2 may beat it");
    cs.v[2].epochs = 1;
    cs.c[2][0] = 0.95;
    CHECK(prune(s, a, &cs, k, 0) == KS_VERDICT_PRUNE, "trial 2's 0.95 beats it");
    cs.c[2][0] = 0.85;
    CHECK(prune(s, a, &cs, k, 0) == KS_VERDICT_GO_ON, "0.9 the best of 4");
    /* factor 2: 0.1 … 0.5 known and one unknown, 0.45: 6 or 7 keep 3, at most 2 better */
    curves_init(&cs, 1);
    for (int j = 1; j <= 5; j++)
        add(&cs, KS_TRIAL_COMPLETE, 1, (double[]){0.1 * j});
    add(&cs, KS_TRIAL_RUNNING, 0, (double[]){0});
    k = add(&cs, KS_TRIAL_RUNNING, 1, (double[]){0.45});
    CHECK(prune(s, two, &cs, k, 0) == KS_VERDICT_GO_ON, "0.45 goes on whatever trial 5 does");
    cs.c[k][0] = 0.35;
    CHECK(prune(s, two, &cs, k, 0) == KS_VERDICT_WAIT, "0.35: trial 5 decides");
    cs.c[k][0] = 0.15;
    CHECK(prune(s, two, &cs, k, 0) == KS_VERDICT_PRUNE, "0.15: 4 better, 3 go on at most");
    free(a);
    free(two);
}

/* ------------------------------------------------------------ the study file */

#define STUDY                                                                      \
    "name: p\n"                                                                    \
    "data: {train: {csv: none.csv, target: y}, validation_split: 0.5}\n"           \
    "model:\n"                                                                     \
    "  - Dense: {units: $units, input_shape: [2]}\n"                               \
    "compile: {optimizer: Adam, loss: mse}\n"                                      \
    "fit: {epochs: 9}\n"                                                           \
    "search:\n"                                                                    \
    "  method: %s\n"                                                               \
    "  max_trials: 4\n"                                                            \
    "  parameters:\n"                                                              \
    "    units: {int: [1, 8]}\n"                                                   \
    "%s"

static ks_study *load(const char *method, const char *pruner, ks_error *err)
{
    char text[2048];
    ks_study *st = NULL;
    snprintf(text, sizeof text, STUDY, method, pruner);
    ks_error_clear(err);
    if (ks_study_load_text(text, "p.yaml", ".", &st, err) != KS_OK)
        return NULL;
    return st;
}

static void test_syntax(void)
{
    ks_error err;
    ks_study *st = load("random", "", &err);
    REQUIRE(st != NULL, "%s", err.msg);
    CHECK(!st->pruner && !st->pruner_args, "no pruner by default");
    ks_study_free(st);
    st = load("random", "  pruner: median\n", &err);
    REQUIRE(st != NULL, "%s", err.msg);
    CHECK(st->pruner == &ks_pruner_median_ops, "pruner: median");
    CHECK(st->pruner->checks(st->pruner_args, 5, 0) && !st->pruner->checks(st->pruner_args, 4, 0),
          "its defaults (n_startup_trials 5)");
    ks_study_free(st);
    st = load("tpe", "  pruner: {asha: {min_epochs: 2, factor: 2}}\n", &err);
    REQUIRE(st != NULL, "%s", err.msg);
    CHECK(st->pruner == &ks_pruner_asha_ops && st->pruner->checks(st->pruner_args, 0, 3) &&
              !st->pruner->checks(st->pruner_args, 0, 2),
          "asha's options");
    ks_study_free(st);
    st = load("grid", "  pruner:\n    median: {n_startup_trials: 1, n_warmup_epochs: 2}\n", &err);
    REQUIRE(st != NULL, "%s", err.msg);
    CHECK(st->pruner->checks(st->pruner_args, 1, 2) && !st->pruner->checks(st->pruner_args, 1, 1),
          "median's options");
    ks_study_free(st);
    st = load("bayesian", "  pruner: {median: null}\n", &err);
    CHECK(st && st->pruner == &ks_pruner_median_ops, "{median: null}: %s", err.msg);
    ks_study_free(st);
}

/* Each bad pruner: the message and its line and column. */
static void bad(const char *method, const char *pruner, int line, int col, const char *expect)
{
    ks_error err;
    ks_study *st = load(method, pruner, &err);
    CHECK(!st, "loaded: %s", expect);
    CHECK(strcmp(err.file, "p.yaml") == 0 && err.line == line && err.col == col &&
              strcmp(err.msg, expect) == 0,
          "want p.yaml:%d:%d: %s\n  got %s:%d:%d: %s", line, col, expect, err.file, err.line,
          err.col, err.msg);
    ks_study_free(st);
}

static void test_errors(void)
{
    bad("hyperband", "  pruner: median\n", 12, 11,
        "search.pruner: hyperband prunes its trials by itself (its brackets of successive "
        "halving): remove search.pruner, or choose a method that trains every trial to its "
        "budget");
    bad("bohb", "  pruner: {asha: {factor: 3}}\n", 12, 11,
        "search.pruner: bohb prunes its trials by itself (its brackets of successive "
        "halving): remove search.pruner, or choose a method that trains every trial to its "
        "budget");
    bad("random", "  pruner: medain\n", 12, 11,
        "search.pruner: no pruner \"medain\" (did you mean \"median\"?); expected median or asha");
    bad("random", "  pruner: {ahsa: {factor: 3}}\n", 12, 12,
        "search.pruner: no pruner \"ahsa\" (did you mean \"asha\"?); expected median or asha");
    bad("random", "  pruner: [median]\n", 12, 11,
        "search.pruner must be a pruner's name or a one-key map, e.g. median or {asha: "
        "{min_epochs: 1, factor: 3}}, got a list");
    bad("random", "  pruner: {asha: {factor: 1}}\n", 12, 27,
        "search.pruner (asha): factor must be an integer in [2, 1000], got 1");
    bad("random", "  pruner: {median: {interval: 0}}\n", 12, 31,
        "search.pruner (median): interval must be an integer >= 1, got 0");
    bad("random", "  pruner: {median: {n_startup_trial: 2}}\n", 12, 21,
        "search.pruner (median) has no argument \"n_startup_trial\" (did you mean "
        "\"n_startup_trials\"?)");
    bad("random", "  pruner: {median: {n_warmup_epochs: -1}}\n", 12, 38,
        "search.pruner (median): n_warmup_epochs must be an integer >= 0, got -1");
}

/* ------------------------------------------------------------- the wire */

static void test_wire(void)
{
    ks_verdict v = {12, 3, 8, 1}, back;
    unsigned char *buf = NULL;
    size_t len = 0;
    ks_error err;
    REQUIRE(ks_verdict_encode(&v, &buf, &len, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_verdict_decode(buf, len, &back, &err) == KS_OK && back.trial == 12 &&
              back.slot == 3 && back.epoch == 8 && back.prune == 1,
          "round trip: %s", err.msg);
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x10;
        CHECK(ks_verdict_decode(buf, len, &back, &err) == KS_ERR_CORRUPT, "byte %zu flipped", i);
        buf[i] ^= 0x10;
    }
    for (size_t n = 0; n < len; n++)
        CHECK(ks_verdict_decode(buf, n, &back, &err) == KS_ERR_CORRUPT, "cut at %zu", n);
    free(buf);
}

int main(void)
{
    test_median_checks();
    test_median_maximize();
    test_median_minimize_and_edges();
    test_asha_checks();
    test_asha_rungs();
    test_asha_minimize();
    test_median_wait();
    test_asha_wait();
    test_syntax();
    test_errors();
    test_wire();
    return check_done();
}
