/*
 * test_conditional.c — conditional and per-index parameters and search.enqueue: the
 * study file's syntax and each of its errors (FILE:LINE:COL), which parameters a point
 * has, grid counts, every method never proposing an inactive parameter (and always
 * the active ones), determinism, the enqueued configurations first, per-index values
 * reaching the right layers of the built model, and the model-based methods (TPE, the
 * GP, BOHB's KDE) learning the better branch of a conditional space.
 */
#include "../search/search_impl.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* A study whose optimizer is a choice with each one's own learning rate, SGD's momentum,
   and a width per hidden layer. */
#define HEAD                                                                          \
    "name: cond\n"                                                                    \
    "data: {train: {csv: none.csv, target: y}, validation_split: 0.5}\n"              \
    "model:\n"                                                                        \
    "  - Dense: {units: $units, activation: relu, repeat: $n_hidden, input_shape: [2]}\n" \
    "  - Dense: {units: 1}\n"                                                         \
    "compile: {optimizer: $optimizer, loss: mse}\n"                                   \
    "fit: {epochs: 9}\n"

#define PARAMS                                                                        \
    "    n_hidden: {int: [0, 3]}\n"                                                   \
    "    units: {int: [4, 64], log: true, per: n_hidden}\n"                           \
    "    optimizer:\n"                                                                \
    "      values:\n"                                                                 \
    "        - SGD: {learning_rate: $sgd_lr, momentum: $momentum}\n"                  \
    "        - Adam: {learning_rate: $adam_lr}\n"                                     \
    "    sgd_lr: {float: [1.0e-3, 1.0e-1], log: true, when: {optimizer: SGD}}\n"      \
    "    momentum: {float: [0.0, 0.99], when: {optimizer: SGD}}\n"                    \
    "    adam_lr: {float: [1.0e-4, 1.0e-2], log: true, when: {optimizer: Adam}}\n"

static ks_study *load(const char *method_lines, const char *params, const char *extra,
                      ks_error *err)
{
    char text[8192];
    ks_study *st = NULL;
    snprintf(text, sizeof text, HEAD "search:\n%s  parameters:\n%s%s", method_lines, params,
             extra ? extra : "");
    if (ks_study_load_text(text, "cond.yaml", ".", &st, err) != KS_OK)
        return NULL;
    return st;
}

/* The index of a parameter by name (copies by their own name, units_1). */
static int idx(const ks_space *sp, const char *name)
{
    for (int i = 0; i < sp->n; i++)
        if (strcmp(sp->params[i].name, name) == 0)
            return i;
    return -1;
}

/* Is point exactly a point of the space (active ones finite and valid, inactive NaN)? */
static int canonical(const ks_space *sp, const double *point)
{
    double again[KS_MAX_SEARCH_PARAMS];
    memcpy(again, point, sizeof *again * (size_t)sp->n);
    ks_space_deactivate(sp, again);
    for (int i = 0; i < sp->n; i++) {
        if (isnan(again[i]) != isnan(point[i]))
            return 0;       /* an inactive parameter with a value */
        if (isnan(point[i]))
            continue;
        if (point[i] != ks_param_snap(&sp->params[i], point[i]) &&
            sp->params[i].kind != KS_PARAM_CHOICE)
            return 0;
        if (sp->params[i].kind == KS_PARAM_CHOICE &&
            (point[i] < 0 || point[i] >= sp->params[i].n_values || point[i] != floor(point[i])))
            return 0;
    }
    return 1;
}

/* -------------------------------------------------------------- the syntax */

static void test_load(void)
{
    ks_error err;
    ks_study *st = load("  method: random\n  max_trials: 10\n", PARAMS, NULL, &err);
    const ks_space *sp;
    REQUIRE(st != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    double p[KS_MAX_SEARCH_PARAMS];
    REQUIRE(st != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    sp = &st->space;
    /* n_hidden, units_0..2 (its largest value is 3), optimizer, sgd_lr, momentum, adam_lr */
    CHECK(sp->n == 8, "%d parameters", sp->n);
    CHECK(idx(sp, "units_0") == 1 && idx(sp, "units_2") == 3, "copies in place");
    CHECK(strcmp(sp->params[2].base, "units") == 0 && sp->params[2].copy == 1 &&
              sp->params[2].per == 0,
          "copy 1 of units counted by n_hidden");
    CHECK(ks_space_conditional(sp), "conditional");
    /* the first point: n_hidden 0 (no copy), SGD (its two), no Adam */
    ks_space_first_point(sp, p);
    CHECK(isnan(p[1]) && isnan(p[2]) && isnan(p[3]), "no copy at n_hidden 0");
    CHECK(p[4] == 0 && p[5] == 1e-3 && p[6] == 0 && isnan(p[7]), "the SGD branch");
    p[0] = 2;
    p[4] = 1;
    p[1] = p[2] = p[3] = 8;
    p[7] = 1e-3;
    ks_space_deactivate(sp, p);
    CHECK(p[1] == 8 && p[2] == 8 && isnan(p[3]), "two copies at n_hidden 2");
    CHECK(isnan(p[5]) && isnan(p[6]) && p[7] == 1e-3, "the Adam branch");
    {
        char *json = NULL;
        double back[KS_MAX_SEARCH_PARAMS];
        REQUIRE(ks_space_point_json(sp, p, &json) == KS_OK, "json");
        CHECK(strcmp(json, "{\"n_hidden\":2,\"units_0\":8,\"units_1\":8,\"optimizer\":\"Adam\","
                           "\"adam_lr\":0.001}") == 0,
              "only the active parameters are recorded, a branch by its label: %s", json);
        CHECK(ks_space_point_from_json(sp, json, back, &err) == KS_OK, "%s", err.msg);
        CHECK(isnan(back[3]) && isnan(back[5]) && back[7] == 1e-3 && back[4] == 1, "read back");
        free(json);
        /* a stored point that contradicts the conditions is damage */
        CHECK(ks_space_point_from_json(sp, "{\"n_hidden\":2,\"units_0\":8,\"optimizer\":\"Adam\","
                                           "\"adam_lr\":0.001}", back, &err) == KS_ERR_CORRUPT,
              "lacks units_1");
    }
    {
        /* the value recorded and the value the file gets */
        ks_value v;
        CHECK(ks_space_value(sp, 5, p, &v) == KS_ERR_CONFIG, "inactive: no value");
        ks_value_free(&v);
        REQUIRE(ks_space_value(sp, 4, p, &v) == KS_OK, "value");
        CHECK(v.kind == KS_VALUE_STRING && strcmp(v.string, "Adam") == 0, "label");
        ks_value_free(&v);
    }
    ks_study_free(st);
}

/* Each bad study: the message's start and its line. */
static void bad(const char *params, const char *extra, int line, const char *expect)
{
    ks_error err;
    ks_study *st;
    ks_error_clear(&err);
    st = load("  method: random\n  max_trials: 10\n", params, extra, &err);
    CHECK(!st, "loaded: %s", expect);
    CHECK(err.line == line && strstr(err.msg, expect) != NULL && strcmp(err.file, "cond.yaml") == 0,
          "want line %d \"%s\", got %s:%d:%d: %s", line, expect, err.file, err.line, err.col,
          err.msg);
    ks_study_free(st);
}

/* line numbers: HEAD is 7 lines, "search:", 2 method lines, "  parameters:" → the first
   parameter is on line 12; PARAMS is 9 lines, so an enqueue entry is on line 22 */
static void test_errors(void)
{
    /* a condition on an unknown parameter, with "did you mean" */
    bad("    n_hidden: {int: [0, 3]}\n"
        "    units: {int: [4, 64], per: n_hidden}\n"
        "    optimizer: {values: [{SGD: {learning_rate: $sgd_lr, momentum: $momentum}}, "
        "{Adam: {learning_rate: $adam_lr}}]}\n"
        "    sgd_lr: {float: [0.001, 0.1], when: {optimiser: SGD}}\n"
        "    momentum: {float: [0, 0.9], when: {optimizer: SGD}}\n"
        "    adam_lr: {float: [0.001, 0.1], when: {optimizer: Adam}}\n",
        NULL, 15, "optimiser is not a parameter (did you mean optimizer?)");
    /* a value that is not one of the choice's */
    bad("    n_hidden: {int: [0, 3]}\n"
        "    units: {int: [4, 64], per: n_hidden}\n"
        "    optimizer: {values: [{SGD: {learning_rate: $sgd_lr, momentum: $momentum}}, "
        "{Adam: {learning_rate: $adam_lr}}]}\n"
        "    sgd_lr: {float: [0.001, 0.1], when: {optimizer: SDG}}\n"
        "    momentum: {float: [0, 0.9], when: {optimizer: SGD}}\n"
        "    adam_lr: {float: [0.001, 0.1], when: {optimizer: Adam}}\n",
        NULL, 15, "\"SDG\" is not one of optimizer's values (did you mean SGD?)");
    /* a cycle of conditions */
    bad("    n_hidden: {int: [0, 3]}\n"
        "    units: {int: [4, 64], per: n_hidden}\n"
        "    optimizer: {values: [{SGD: {learning_rate: $sgd_lr, momentum: $momentum}}, "
        "{Adam: {learning_rate: $adam_lr}}], when: {kind: a}}\n"
        "    kind: {values: [a, b], when: {optimizer: SGD}}\n"
        "    sgd_lr: {float: [0.001, 0.1], when: {optimizer: SGD}}\n"
        "    momentum: {float: [0, 0.9], when: {optimizer: SGD}}\n"
        "    adam_lr: {float: [0.001, 0.1], when: {optimizer: Adam}}\n",
        NULL, 14, "the conditions form a cycle: optimizer → kind → optimizer");
    /* a conditional parameter used where its condition may not hold */
    bad("    n_hidden: {int: [0, 3]}\n"
        "    units: {int: [4, 64], per: n_hidden}\n"
        "    optimizer: {values: [{SGD: {learning_rate: $sgd_lr}}, "
        "{Adam: {learning_rate: $adam_lr, beta_1: $momentum}}]}\n"
        "    sgd_lr: {float: [0.001, 0.1], when: {optimizer: SGD}}\n"
        "    momentum: {float: [0, 0.9], when: {optimizer: SGD}}\n"
        "    adam_lr: {float: [0.001, 0.1], when: {optimizer: Adam}}\n",
        NULL, 14, "$momentum exists only when optimizer is SGD, and it may not be here");
    /* a parameter used only inside a branch, without a condition: a fake value elsewhere */
    bad("    n_hidden: {int: [0, 3]}\n"
        "    units: {int: [4, 64], per: n_hidden}\n"
        "    optimizer: {values: [{SGD: {learning_rate: $sgd_lr, momentum: $momentum}}, "
        "{Adam: {learning_rate: $adam_lr}}]}\n"
        "    sgd_lr: {float: [0.001, 0.1], when: {optimizer: SGD}}\n"
        "    momentum: {float: [0, 0.9]}\n"
        "    adam_lr: {float: [0.001, 0.1], when: {optimizer: Adam}}\n",
        NULL, 16, "parameter momentum is used only where optimizer is SGD: say so with when: "
                  "{optimizer: SGD}");
    /* a per-index parameter without its repeat */
    bad("    n_hidden: {int: [0, 3]}\n"
        "    units: {int: [4, 64], per: n_layers}\n"
        "    optimizer: {values: [{SGD: {learning_rate: $sgd_lr, momentum: $momentum}}, "
        "{Adam: {learning_rate: $adam_lr}}]}\n"
        "    sgd_lr: {float: [0.001, 0.1], when: {optimizer: SGD}}\n"
        "    momentum: {float: [0, 0.9], when: {optimizer: SGD}}\n"
        "    adam_lr: {float: [0.001, 0.1], when: {optimizer: Adam}}\n",
        NULL, 13, "per: n_layers is not a parameter");
    bad("    n_hidden: {int: [0, 3]}\n"
        "    units: {int: [4, 64], per: n_hidden}\n"
        "    width: {int: [4, 64], per: n_hidden}\n"
        "    optimizer: {values: [{SGD: {learning_rate: $sgd_lr, momentum: $momentum}}, "
        "{Adam: {learning_rate: $width}}]}\n"
        "    sgd_lr: {float: [0.001, 0.1], when: {optimizer: SGD}}\n"
        "    momentum: {float: [0, 0.9], when: {optimizer: SGD}}\n",
        NULL, 15, "$width has a value per copy of a layer (per: n_hidden), and this is not a "
                  "layer with repeat: $n_hidden");
    /* a count that cannot count */
    bad("    n_hidden: {float: [0, 3]}\n"
        "    units: {int: [4, 64], per: n_hidden}\n",
        NULL, 13, "parameter units: per needs a parameter that counts copies");
    /* conditions that contradict each other */
    bad("    n_hidden: {int: [0, 3]}\n"
        "    units: {int: [4, 64], per: n_hidden}\n"
        "    optimizer: {values: [{SGD: {learning_rate: $sgd_lr, momentum: $momentum}}, "
        "{Adam: {learning_rate: $adam_lr}}]}\n"
        "    sgd_lr: {float: [0.001, 0.1], when: {optimizer: SGD}}\n"
        "    momentum: {float: [0, 0.9], when: {optimizer: SGD, sgd_lr: 1}}\n"
        "    adam_lr: {float: [0.001, 0.1], when: {optimizer: Adam}}\n",
        NULL, 16, "momentum: when: sgd_lr is not a choice");
    /* a copy named as another parameter */
    bad("    n_hidden: {int: [0, 3]}\n"
        "    units: {int: [4, 64], per: n_hidden}\n"
        "    units_1: {values: [SGD]}\n",
        NULL, 14, "parameter units_1 is also the name of copy 1 of units");
    /* enqueue: an unknown name, out of range, a missing active parameter, an inactive one,
       a per-index list of the wrong length */
    bad(PARAMS, "  enqueue:\n    - {n_hidden: 1, unit: [8], optimizer: Adam, adam_lr: 0.001}\n",
        22, "search.enqueue[0]: unit is not a parameter (did you mean units?)");
    bad(PARAMS, "  enqueue:\n    - {n_hidden: 1, units: [8], optimizer: Adam, adam_lr: 0.1}\n",
        22, "search.enqueue[0]: adam_lr must be a number in [0.0001, 0.01], got 0.1");
    bad(PARAMS, "  enqueue:\n    - {n_hidden: 1, units: [8], optimizer: SGD, sgd_lr: 0.01}\n",
        22, "search.enqueue[0] lacks momentum");
    bad(PARAMS, "  enqueue:\n    - {n_hidden: 1, units: [8], optimizer: Adam, adam_lr: 0.001,"
                " momentum: 0.9}\n",
        22, "search.enqueue[0]: momentum is inactive in this configuration");
    bad(PARAMS, "  enqueue:\n    - {n_hidden: 2, units: [8], optimizer: Adam, adam_lr: 0.001}\n",
        22, "search.enqueue[0]: units needs one value per copy, 2 (n_hidden), got 1");
    bad(PARAMS, "  enqueue:\n    - {n_hidden: 7, units: [8], optimizer: Adam, adam_lr: 0.001}\n",
        22, "search.enqueue[0]: n_hidden must be in [0, 3], got 7");
    bad(PARAMS, "  enqueue:\n    - {n_hidden: 1, units: [8], optimizer: Adagrad}\n",
        22, "\"Adagrad\" is not one of optimizer's values");
}

/* ------------------------------------------------------------- the grid */

static void test_grid(void)
{
    ks_error err;
    /* 2 SGD rates × 2 momenta + 3 Adam rates, each with n_hidden 0..2 and 2 widths a layer:
       (1 + 2 + 4) × (4 + 3) = 49 */
    ks_study *st = load("  method: grid\n",
                        "    n_hidden: {int: [0, 2]}\n"
                        "    units: {values: [8, 16], per: n_hidden}\n"
                        "    optimizer:\n"
                        "      values:\n"
                        "        - SGD: {learning_rate: $sgd_lr, momentum: $momentum}\n"
                        "        - Adam: {learning_rate: $adam_lr}\n"
                        "    sgd_lr: {values: [0.01, 0.1], when: {optimizer: SGD}}\n"
                        "    momentum: {values: [0.0, 0.9], when: {optimizer: SGD}}\n"
                        "    adam_lr: {float: [1.0e-4, 1.0e-2], log: true, grid_points: 3, "
                        "when: {optimizer: Adam}}\n",
                        NULL, &err);
    long n;
    double pts[64][KS_MAX_SEARCH_PARAMS];
    int dup = 0, bad_pt = 0;
    REQUIRE(st != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    n = ks_space_grid_size(&st->space);
    CHECK(n == 49, "grid of %ld points, want 49", n);
    for (long i = 0; i < n && i < 64; i++) {
        ks_space_grid_point(&st->space, i, pts[i]);
        bad_pt += !canonical(&st->space, pts[i]);
        for (long j = 0; j < i; j++) {
            int same = 1;
            for (int k = 0; k < st->space.n; k++)
                same &= (isnan(pts[i][k]) && isnan(pts[j][k])) || pts[i][k] == pts[j][k];
            dup += same;
        }
    }
    CHECK(bad_pt == 0 && dup == 0, "%d points not canonical, %d duplicates", bad_pt, dup);
    ks_study_free(st);
    {
        /* without conditions the order is as before: row-major, the last fastest */
        ks_space sp;
        double p[KS_MAX_SEARCH_PARAMS];
        memset(&sp, 0, sizeof sp);
        sp.n = 2;
        sp.params[0].kind = sp.params[1].kind = KS_PARAM_INT;
        sp.params[0].min = sp.params[1].min = 0;
        sp.params[0].max = 2;
        sp.params[1].max = 3;
        sp.params[0].step = sp.params[1].step = 1;
        CHECK(ks_space_grid_size(&sp) == 12, "12");
        ks_space_grid_point(&sp, 7, p);
        CHECK(p[0] == 1 && p[1] == 3, "point 7 = (1, 3), got (%g, %g)", p[0], p[1]);
    }
}

/* -------------------------------------------------- every method, simulated */

/* A synthetic objective (minimized): Adam at lr 1e-3 is best; SGD's best is worse; wider
   first layers help a little. */
static double objective(const ks_space *sp, const double *p)
{
    double v;
    int opt = idx(sp, "optimizer"), sgd = idx(sp, "sgd_lr"), adam = idx(sp, "adam_lr");
    if (p[opt] == 0)
        v = 0.5 + fabs(log10(p[sgd]) + 2) * 0.3 + fabs(p[idx(sp, "momentum")] - 0.9) * 0.2;
    else
        v = 0.1 + fabs(log10(p[adam]) + 3) * 0.3;
    if (!isnan(p[idx(sp, "units_0")]))
        v -= 0.02 * log2(p[idx(sp, "units_0")]) / 6;
    return v;
}

typedef struct sim_trial {
    double point[KS_MAX_SEARCH_PARAMS];
    double curve[27];
    ks_trial_status status;
    int budget, epochs;
} sim_trial;

/* Run method on the study's space with one worker, the objective after each epoch
   approaching objective(); points into out (numbers in order). Returns trials run. */
static int simulate(ks_study *st, int max_trials, double (*out)[KS_MAX_SEARCH_PARAMS],
                    int cap, int *adam_late)
{
    sim_trial *t = calloc((size_t)cap, sizeof *t);
    ks_trial_view *v = calloc((size_t)cap, sizeof *v);
    ks_history h;
    int n = 0, guard = 0;
    memset(&h, 0, sizeof h);
    h.space = &st->space;
    h.max_trials = max_trials;
    h.max_epochs = st->base->fit.epochs;
    h.seed = 7;
    *adam_late = 0;
    while (guard++ < 10000) {
        ks_suggestion sg;
        ks_error err;
        ks_suggest_result r;
        double point[KS_MAX_SEARCH_PARAMS];
        int k;
        for (int i = 0; i < n; i++) {
            double best = NAN;
            for (int e = 0; e < t[i].epochs; e++)
                best = isnan(best) || t[i].curve[e] < best ? t[i].curve[e] : best;
            v[i] = (ks_trial_view){i, t[i].point, t[i].status, t[i].budget, t[i].epochs,
                                   t[i].curve, best};
        }
        h.n = n;
        h.trials = v;
        sg = (ks_suggestion){-1, point, 0};
        r = st->method->suggest(st->method_args, &h, &sg, &err);
        CHECK(r != KS_SUGGEST_ERROR, "%s: %s", st->method->name, err.msg);
        if (r != KS_SUGGEST_OK)
            break;
        if (sg.continue_trial >= 0) {
            k = sg.continue_trial;
        } else {
            if (n == cap)
                break;
            k = n++;
            memcpy(t[k].point, point, sizeof point);
            CHECK(canonical(&st->space, point), "%s: trial %d's point is not canonical",
                  st->method->name, k);
        }
        t[k].budget = sg.budget > 0 ? sg.budget : h.max_epochs;
        for (int e = t[k].epochs; e < t[k].budget && e < 27; e++)
            t[k].curve[e] = objective(&st->space, t[k].point) + 1.0 / (e + 1);
        t[k].epochs = t[k].budget < 27 ? t[k].budget : 27;
        t[k].status = KS_TRIAL_COMPLETE;
    }
    for (int i = 0; i < n && i < cap; i++) {
        memcpy(out[i], t[i].point, sizeof out[i]);
        if (i >= n / 2)
            *adam_late += t[i].point[idx(&st->space, "optimizer")] == 1;
    }
    free(t);
    free(v);
    return n;
}

static void test_methods(void)
{
    static const char *const methods[] = {
        "  method: random\n  max_trials: 40\n",
        "  method: bayesian\n  max_trials: 24\n  candidates: 300\n",
        "  method: tpe\n  max_trials: 40\n",
        "  method: tpe\n  max_trials: 40\n  multivariate: true\n",
        "  method: hyperband\n  max_epochs: 9\n",
        "  method: bohb\n  max_epochs: 9\n  max_trials: 60\n  min_points_in_model: 4\n",
    };
    const char *enqueue = "  enqueue:\n"
                          "    - {n_hidden: 2, units: [32, 16], optimizer: SGD, sgd_lr: 0.01,"
                          " momentum: 0.9}\n"
                          "    - {n_hidden: 0, optimizer: Adam, adam_lr: 0.001}\n";
    int adam_random = 0;
    for (size_t m = 0; m < sizeof methods / sizeof *methods; m++) {
        ks_error err;
        ks_study *st = load(methods[m], PARAMS, enqueue, &err);
        static double a[80][KS_MAX_SEARCH_PARAMS], b[80][KS_MAX_SEARCH_PARAMS];
        int na, nb, late_a, late_b, same = 1;
        REQUIRE(st != NULL, "%s: %s:%d:%d: %s", methods[m], err.file, err.line, err.col, err.msg);
        na = simulate(st, st->max_trials, a, 80, &late_a);
        nb = simulate(st, st->max_trials, b, 80, &late_b);
        CHECK(na > 10 && na == nb, "%s: %d and %d trials", st->method->name, na, nb);
        for (int i = 0; i < na && i < nb; i++)
            for (int k = 0; k < st->space.n; k++)
                same &= (isnan(a[i][k]) && isnan(b[i][k])) || a[i][k] == b[i][k];
        CHECK(same, "%s: the same history gives the same trials", st->method->name);
        /* search.enqueue's first, as given */
        CHECK(a[0][0] == 2 && a[0][1] == 32 && a[0][2] == 16 && isnan(a[0][3]) && a[0][4] == 0 &&
                  a[0][5] == 0.01 && a[0][6] == 0.9 && isnan(a[0][7]),
              "%s: trial 0 is the first enqueued", st->method->name);
        CHECK(a[1][0] == 0 && isnan(a[1][1]) && a[1][4] == 1 && a[1][7] == 0.001,
              "%s: trial 1 is the second enqueued", st->method->name);
        printf("%s%s: %d trials, %d of the later %d with Adam (the better branch)\n",
               st->method->name, strstr(methods[m], "multivariate") ? " (multivariate)" : "",
               na, late_a, na - na / 2);
        if (m == 0)
            adam_random = late_a;
        else if (m == 1 || m == 2 || m == 3 || m == 5)
            /* the model-based methods (GP, TPE, BOHB) learn that Adam is better: in the
               later half of their trials, a larger share of Adam than random search's */
            CHECK(late_a * 40 > adam_random * na,
                  "%s: %d of the later %d trials use Adam, random search %d of 20",
                  st->method->name, late_a, na - na / 2, adam_random);
        ks_study_free(st);
    }
}

/* ------------------------------------------------- per-index reach the model */

/* The units of the built model's Dense layers, in order, into units; returns how many. */
static int dense_units(const ks_model *m, double *units, int max)
{
    ks_value layers, compile;
    int n = 0;
    if (ks_model_config(m, &layers, &compile) != KS_OK)
        return -1;
    for (size_t i = 0; i < layers.n; i++) {
        const ks_value *e = &layers.items[i], *u;
        if (e->kind != KS_VALUE_MAP || e->n != 1 || strcmp(e->items[0].key, "Dense") != 0)
            continue;
        u = ks_value_get(&e->items[0], "units");
        if (n < max)
            units[n] = u ? u->number : -1;
        n++;
    }
    ks_value_free(&layers);
    ks_value_free(&compile);
    return n;
}

static void test_per_index_model(void)
{
    ks_error err;
    ks_study *st = load("  method: random\n  max_trials: 10\n", PARAMS, NULL, &err);
    double p[KS_MAX_SEARCH_PARAMS];
    ks_run_config *c = NULL;
    ks_model *m = NULL;
    ks_shape in = {1, {2}};
    ks_value layers, compile;
    REQUIRE(st != NULL, "%s", err.msg);
    ks_space_first_point(&st->space, p);
    p[0] = 3;
    p[1] = 8;
    p[2] = 32;
    p[3] = 5;
    p[4] = 1;
    p[7] = 0.002;
    ks_space_deactivate(&st->space, p);
    REQUIRE(ks_study_trial_config(st, p, &c, &err) == KS_OK, "%s", err.msg);
    REQUIRE(ks_model_from_config(c->model, &in, 1, &m, &err) == KS_OK, "%s", err.msg);
    REQUIRE(ks_model_compile(m, c->compile, &err) == KS_OK, "%s", err.msg);
    REQUIRE(ks_model_config(m, &layers, &compile) == KS_OK, "config");
    {
        static const double want[] = {8, 32, 5, 1};
        int dense = 0;
        for (size_t i = 0; i < layers.n; i++) {
            const ks_value *e = &layers.items[i], *units;
            if (e->kind != KS_VALUE_MAP || e->n != 1 || strcmp(e->items[0].key, "Dense") != 0)
                continue;
            units = ks_value_get(&e->items[0], "units");
            CHECK(units && dense < 4 && units->number == want[dense],
                  "Dense %d has %g units, want %g", dense, units ? units->number : -1,
                  dense < 4 ? want[dense] : -1);
            dense++;
        }
        CHECK(dense == 4, "%d Dense layers, want 4", dense);
    }
    {
        /* the optimizer's branch with its own learning rate */
        const ks_value *opt = ks_value_get(&compile, "optimizer");
        const ks_value *adam = opt ? ks_value_get(opt, "Adam") : NULL;
        const ks_value *lr = adam ? ks_value_get(adam, "learning_rate") : NULL;
        CHECK(lr && fabs(lr->number - 0.002) < 1e-9, "Adam's learning_rate 0.002");
    }
    ks_value_free(&layers);
    ks_value_free(&compile);
    ks_model_free(m);
    ks_run_config_free(c);
    /* n_hidden 0: the repeated layer is gone */
    ks_space_first_point(&st->space, p);
    REQUIRE(ks_study_trial_config(st, p, &c, &err) == KS_OK, "%s", err.msg);
    REQUIRE(ks_model_from_config(c->model, &in, 1, &m, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_model_n_layers(m) >= 1, "built");
    ks_model_free(m);
    ks_run_config_free(c);
    ks_study_free(st);
    /* a count given by values: a trial of its second value, 3, has three widths */
    st = load("  method: random\n  max_trials: 10\n",
              "    n_hidden: {values: [1, 3]}\n"
              "    units: {values: [4, 8, 16], per: n_hidden}\n"
              "    optimizer: {values: [SGD]}\n",
              "  enqueue:\n    - {n_hidden: 3, units: [4, 8, 16], optimizer: SGD}\n", &err);
    REQUIRE(st != NULL, "%s:%d:%d: %s", err.file, err.line, err.col, err.msg);
    CHECK(st->space.n == 5 && st->space.n_enqueued == 1, "n_hidden, units_0..2, optimizer");
    REQUIRE(ks_study_trial_config(st, st->space.enqueued, &c, &err) == KS_OK, "%s", err.msg);
    REQUIRE(ks_model_from_config(c->model, &in, 1, &m, &err) == KS_OK, "%s", err.msg);
    {
        double u[8];
        int n = dense_units(m, u, 8);
        CHECK(n == 4 && u[0] == 4 && u[1] == 8 && u[2] == 16 && u[3] == 1,
              "3 widths and the output: %d Dense layers", n);
    }
    ks_model_free(m);
    ks_run_config_free(c);
    ks_study_free(st);
    /* a repeated layer brought in by a branch is not in the list: its per-index
       parameter has no repeat around it */
    {
        char text[4096];
        snprintf(text, sizeof text,
                 "name: cond\n"
                 "data: {train: {csv: none.csv, target: y}, validation_split: 0.5}\n"
                 "model:\n"
                 "  - Dense: {units: 1, input_shape: [2]}\n"
                 "  - $block\n"
                 "compile: {optimizer: SGD, loss: mse}\n"
                 "search:\n  method: random\n  max_trials: 3\n  parameters:\n"
                 "    n_hidden: {int: [1, 2]}\n"
                 "    units: {values: [4, 8], per: n_hidden}\n"
                 "    block: {values: [{Dense: {units: $units, repeat: $n_hidden}}]}\n");
        st = NULL;
        CHECK(ks_study_load_text(text, "cond.yaml", ".", &st, &err) != KS_OK &&
                  strstr(err.msg, "$units has a value per copy"),
              "a layer that a branch brings in is not a layer with repeat in the list: %s",
              err.msg);
        ks_study_free(st);
    }
    /* a count that would make too many parameters */
    st = load("  method: random\n  max_trials: 10\n",
              "    n_hidden: {values: [1, 1.0e12]}\n"
              "    units: {values: [4, 8, 16], per: n_hidden}\n"
              "    optimizer: {values: [SGD]}\n",
              NULL, &err);
    CHECK(!st && strstr(err.msg, "counts up to 1e+12 copies"), "%s", err.msg);
    ks_study_free(st);
}

/* --------------------------------------------------- BOHB's imputation */

static void test_bohb_impute(void)
{
    ks_error err;
    ks_study *st = load("  method: bohb\n  max_epochs: 9\n  min_points_in_model: 2\n", PARAMS,
                        NULL, &err);
    static double pts[60][KS_MAX_SEARCH_PARAMS];
    ks_trial_view v[60];
    ks_history h;
    int budgets[1] = {9};
    ks_bohb_model m;
    REQUIRE(st != NULL, "%s", err.msg);
    for (int i = 0; i < 60; i++) {
        REQUIRE(ks_sampler_random_point(&st->space, 3, i, pts[i]) == KS_OK, "draw");
        v[i] = (ks_trial_view){i, pts[i], KS_TRIAL_COMPLETE, 9, 0, NULL,
                               objective(&st->space, pts[i])};
    }
    memset(&h, 0, sizeof h);
    h.space = &st->space;
    h.n = 60;
    h.trials = v;
    h.max_epochs = 9;
    h.seed = 3;
    REQUIRE(ks_bohb_fit_model(st->method_args, &h, budgets, 1, &m) == KS_OK, "fit");
    REQUIRE(m.good && m.bad, "a model at budget 9");
    {
        const double *bw = ks_kde_bandwidths(m.good);
        int finite = 1;
        double x[KS_MAX_SEARCH_PARAMS];
        for (int j = 0; j < st->space.n; j++)
            finite &= isfinite(bw[j]) && bw[j] > 0;
        CHECK(finite, "every bandwidth finite (inactive values imputed)");
        for (int j = 0; j < st->space.n; j++)
            x[j] = 0.5;
        x[4] = 1;
        CHECK(isfinite(ks_kde_log_pdf(m.good, x)), "a finite density");
    }
    ks_kde_free(m.good);
    ks_kde_free(m.bad);
    ks_study_free(st);
}

int main(void)
{
    test_load();
    test_errors();
    test_grid();
    test_methods();
    test_per_index_model();
    test_bohb_impute();
    return check_done();
}
