/*
 * test_grow.c — growing a study: the comparison of a study file with the one a study
 * began with (each kind of growth accepted and named, every other change refused at its
 * FILE:LINE:COL), a grown grid running the points not yet run, Hyperband's parts planned
 * with each R, and the observations a warm start adds for the methods that model results.
 */
#include "../search/search_impl.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The study of every case: three parameters, one of each kind. */
static const char base[] =
    "name: g\n"                                                           /* 1 */
    "seed: 1\n"                                                           /* 2 */
    "data: {train: {csv: none.csv, target: y}, validation_split: 0.5}\n"  /* 3 */
    "model:\n"                                                            /* 4 */
    "  - Dense: {units: $units, activation: relu, input_shape: [2]}\n"    /* 5 */
    "  - Dense: {units: $width, activation: relu}\n"                      /* 6 */
    "  - Dense: {units: 1}\n"                                             /* 7 */
    "compile: {optimizer: {Adam: {learning_rate: $lr}}, loss: mse}\n"     /* 8 */
    "fit: {epochs: 9}\n"                                                  /* 9 */
    "search:\n"                                                           /* 10 */
    "  method: random\n"                                                  /* 11 */
    "  metric: val_loss\n"                                                /* 12 */
    "  max_trials: 3\n"                                                   /* 13 */
    "  parameters:\n"                                                     /* 14 */
    "    units: {values: [4, 8]}\n"                                       /* 15 */
    "    lr: {float: [1.0e-3, 1.0e-1], log: true}\n"                      /* 16 */
    "    width: {int: [2, 8], step: 2}\n";                                /* 17 */

/* text with each (from, to) pair replaced once, in order; into out */
static const char *edit(char *out, size_t size, const char *text, const char *const *pairs)
{
    snprintf(out, size, "%s", text);
    for (int i = 0; pairs && pairs[i]; i += 2) {
        char *at = strstr(out, pairs[i]), rest[8192];
        if (!at) {
            fprintf(stderr, "test_grow: \"%s\" not in the text\n", pairs[i]);
            out[0] = '\0';
            return out;
        }
        snprintf(rest, sizeof rest, "%s", at + strlen(pairs[i]));
        snprintf(at, size - (size_t)(at - out), "%s%s", pairs[i + 1], rest);
    }
    return out;
}

static ks_study *load(const char *text, const char *name)
{
    ks_study *st = NULL;
    ks_error err;
    ks_error_clear(&err);
    if (ks_study_load_text(text, name, ".", &st, &err) != KS_OK) {
        fprintf(stderr, "test_grow: %s:%d:%d: %s\n", err.file, err.line, err.col, err.msg);
        return NULL;
    }
    return st;
}

/* Compare old (base edited by old_pairs) with now (base edited by now_pairs). */
static ks_status compare(const char *const *old_pairs, const char *const *now_pairs,
                         ks_growth *g, ks_error *err)
{
    char a[8192], b[8192];
    ks_study *old = load(edit(a, sizeof a, base, old_pairs), "old.yaml");
    ks_study *now = load(edit(b, sizeof b, base, now_pairs), "new.yaml");
    ks_status s = KS_ERR_INTERNAL;
    ks_error_clear(err);
    memset(g, 0, sizeof *g);
    if (old && now)
        s = ks_study_grew(old, now, g, err);
    ks_study_free(old);
    ks_study_free(now);
    return s;
}

#define P(...) ((const char *const[]){__VA_ARGS__, NULL})

static void accepted(const char *what, const char *const *old_pairs, const char *const *now_pairs,
                     int grew, const char *says)
{
    ks_growth g;
    ks_error err;
    ks_status s = compare(old_pairs, now_pairs, &g, &err);
    CHECK(s == KS_OK, "%s: accepted (%d: %s:%d:%d: %s)", what, s, err.file, err.line, err.col,
          err.msg);
    CHECK(g.grew == grew, "%s: grew %d, not %d (%s)", what, g.grew, grew, g.what);
    if (says)
        CHECK(strstr(g.what, says) != NULL, "%s: says \"%s\", not \"%s\"", what, g.what, says);
}

static void refused(const char *what, const char *const *old_pairs, const char *const *now_pairs,
                    int line, int col, const char *says)
{
    ks_growth g;
    ks_error err;
    ks_status s = compare(old_pairs, now_pairs, &g, &err);
    CHECK(s == KS_ERR_CONFIG, "%s: refused (status %d)", what, s);
    CHECK(strcmp(err.file, "new.yaml") == 0 && err.line == line && (col == 0 || err.col == col),
          "%s: at %s:%d:%d, not new.yaml:%d:%d (%s)", what, err.file, err.line, err.col, line, col,
          err.msg);
    CHECK(strstr(err.msg, says) != NULL, "%s: says \"%s\", not \"%s\"", what, err.msg, says);
}

static void test_accepted(void)
{
    accepted("the same text", NULL, NULL, 0, NULL);
    accepted("the same meaning (key order, number spelling, comments)", NULL,
             P("fit: {epochs: 9}", "fit: {epochs: 9.0}   # the same",
               "{float: [1.0e-3, 1.0e-1], log: true}", "{log: true, float: [0.001, 0.1]}",
               "activation: relu, input_shape: [2]", "input_shape: [2], activation: relu"),
             0, NULL);
    accepted("max_trials raised", NULL, P("max_trials: 3", "max_trials: 5"), 1,
             "max_trials 3 → 5");
    accepted("a value added", NULL, P("[4, 8]", "[4, 8, 16]"), 1, "units: 1 value added");
    accepted("a float range widened", NULL, P("[1.0e-3, 1.0e-1]", "[1.0e-4, 1.0e-1]"), 1,
             "lr: [0.001, 0.1] widened to [0.0001, 0.1]");
    accepted("an int range widened by whole steps", NULL, P("[2, 8]", "[0, 12]"), 1,
             "width: [2, 8] widened to [0, 12]");
    accepted("parallel changed", NULL, P("  max_trials: 3\n", "  max_trials: 3\n  parallel: 2\n"),
             0, NULL);
    accepted("everything at once", NULL,
             P("max_trials: 3", "max_trials: 30", "[4, 8]", "[4, 8, 16, 32]", "[2, 8]",
               "[2, 10]"),
             1, "units: 2 values added; width: [2, 8] widened to [2, 10]; max_trials 3 → 30");
    accepted("hyperband's max_epochs raised", P("method: random", "method: hyperband\n  max_epochs: 9"),
             P("method: random", "method: hyperband\n  max_epochs: 27"), 1, "max_epochs 9 → 27");
    accepted("hyperband's fit.epochs (its R) raised", P("method: random", "method: hyperband"),
             P("method: random", "method: hyperband", "epochs: 9", "epochs: 27"), 1,
             "max_epochs 9 → 27");
    accepted("a grid's value added",
             P("method: random", "method: grid", "log: true}", "log: true, grid_points: 3}"),
             P("method: random", "method: grid", "log: true}", "log: true, grid_points: 3}",
               "[4, 8]", "[4, 8, 16]"),
             1, "units: 1 value added");
}

static void test_refused(void)
{
    refused("a narrowed range", NULL, P("[1.0e-3, 1.0e-1]", "[1.0e-2, 1.0e-1]"), 16, 17,
            "parameter lr: the range [0.01, 0.1] is narrower than the study's [0.001, 0.1]");
    refused("a removed value", NULL, P("[4, 8]", "[4]"), 15, 21,
            "parameter units: value 8 was removed");
    refused("values reordered", NULL, P("[4, 8]", "[8, 4]"), 15, 22,
            "parameter units: value 1 changed (was 4, now 8)");
    refused("a changed model", NULL, P("{units: 1}", "{units: 2}"), 7, 20,
            "model[2].Dense.units changed (was 1, now 2)");
    refused("another method", NULL, P("method: random", "method: bayesian"), 11, 11,
            "search.method changed (was random, now bayesian)");
    refused("another metric", NULL, P("metric: val_loss", "metric: loss"), 12, 11,
            "search.metric changed (was \"val_loss\", now \"loss\")");
    refused("another seed", NULL, P("seed: 1", "seed: 2"), 2, 7, "seed changed (was 1, now 2)");
    refused("more epochs for random search", NULL, P("epochs: 9", "epochs: 10"), 9, 15,
            "fit.epochs changed (was 9, now 10)");
    refused("max_trials lowered", NULL, P("max_trials: 3", "max_trials: 2"), 13, 15,
            "search.max_trials changed (was 3, now 2");
    refused("an int widened off its steps", NULL, P("[2, 8]", "[1, 8]"), 17, 18,
            "parameter width: from 1 by steps of 2 misses the study's values from 2");
    refused("log changed", NULL, P("log: true", "log: false"), 16, 9,
            "parameter lr: log changed (was true, now false)");
    /* a new parameter: used in the model, which changed first */
    refused("a new parameter", NULL,
            P("    width: {int: [2, 8], step: 2}\n",
              "    width: {int: [2, 8], step: 2}\n    extra: {values: [x]}\n",
              "activation: relu}", "activation: relu, name: $extra}"),
            6, 46, "model[1].Dense.name is new (the study has none)");
    refused("a key removed", NULL, P(", loss: mse}", "}"), 8, 10, "compile.loss was removed");
    refused("a callback added", NULL,
            P("fit: {epochs: 9}\n", "fit: {epochs: 9}\ncallbacks: [{TerminateOnNaN: {}}]\n"), 10,
            1, "callbacks is new");
    refused("hyperband's max_epochs lowered",
            P("method: random", "method: hyperband\n  max_epochs: 9"),
            P("method: random", "method: hyperband\n  max_epochs: 3"), 12, 15,
            "search.max_epochs (R) is 3, below the study's 9");
    refused("hyperband's factor changed", P("method: random", "method: hyperband"),
            P("method: random", "method: hyperband\n  factor: 2"), 12, 3,
            "search.factor is new");
    refused("a grid's range with grid_points widened",
            P("method: random", "method: grid", "log: true}", "log: true, grid_points: 3}"),
            P("method: random", "method: grid", "log: true}", "log: true, grid_points: 3}",
              "[1.0e-3, 1.0e-1]", "[1.0e-4, 1.0e-1]"),
            16, 17, "a grid's 3 grid_points over a wider range are other points");
}

/* Conditional and per-index parameters grow as the others: a count's range widened
   gives more copies; an optimizer choice given a branch keeps its old ones' conditions. */
static void test_conditional(void)
{
    static const char cond[] =
        "name: c\n"
        "data: {train: {csv: none.csv, target: y}, validation_split: 0.5}\n"
        "model:\n"
        "  - Dense: {units: $units, activation: relu, repeat: $n_hidden, input_shape: [2]}\n"
        "  - Dense: {units: 1}\n"
        "compile: {optimizer: $optimizer, loss: mse}\n"
        "fit: {epochs: 9}\n"
        "search:\n"
        "  method: tpe\n"
        "  max_trials: 5\n"
        "  parameters:\n"
        "    n_hidden: {int: [0, 2]}\n"
        "    units: {int: [4, 64], log: true, per: n_hidden}\n"
        "    optimizer:\n"
        "      values:\n"
        "        - SGD: {learning_rate: $sgd_lr}\n"
        "        - Adam: {learning_rate: 0.001}\n"
        "    sgd_lr: {float: [1.0e-3, 1.0e-1], log: true, when: {optimizer: SGD}}\n";
    char a[8192], b[8192];
    struct {
        const char *what;
        const char *const *pairs;
        const char *says;       /* NULL: accepted, grown; "": accepted, the same */
    } cases[] = {
        {"more copies of a per-index parameter", P("[0, 2]", "[0, 3]"), NULL},
        {"a branch added to a choice",
         P("        - Adam: {learning_rate: 0.001}\n",
           "        - Adam: {learning_rate: 0.001}\n        - RMSprop: {learning_rate: 0.001}\n"),
         NULL},
        {"a condition written as a list", P("when: {optimizer: SGD}", "when: {optimizer: [SGD]}"),
         ""},
        {"a branch's config changed", P("Adam: {learning_rate: 0.001}", "Adam: {learning_rate: 0.01}"),
         "parameter optimizer: value 2.Adam.learning_rate changed (was 0.001, now 0.01)"},
        {"per removed", P(", per: n_hidden", ""), "parameter units: per was removed"},
    };
    ks_study *old = load(cond, "old.yaml");
    REQUIRE(old != NULL, "the conditional study loads");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ks_study *now = load(edit(b, sizeof b, cond, cases[i].pairs), "new.yaml");
        ks_growth g;
        ks_error err;
        ks_status s;
        ks_error_clear(&err);
        if (!now) {
            CHECK(now != NULL, "%s: loads", cases[i].what);
            continue;
        }
        s = ks_study_grew(old, now, &g, &err);
        if (!cases[i].says || !cases[i].says[0])
            CHECK(s == KS_OK && g.grew == !cases[i].says, "%s: accepted (%s; grew %d)",
                  cases[i].what, err.msg, g.grew);
        else
            CHECK(s == KS_ERR_CONFIG && strstr(err.msg, cases[i].says) &&
                      strcmp(err.file, "new.yaml") == 0 && err.line > 0,
                  "%s: refused at new.yaml:LINE:COL saying \"%s\", not %s:%d:%d \"%s\"",
                  cases[i].what, cases[i].says, err.file, err.line, err.col, err.msg);
        ks_study_free(now);
    }
    (void)a;
    ks_study_free(old);
}

/* --------------------------------------------------- what the methods do */

/* A history of n complete trials at points (each sp->n values), budgets and objectives. */
typedef struct hist {
    ks_history h;
    ks_trial_view v[64];
    double pts[64][KS_MAX_SEARCH_PARAMS];
    double curve[64][32];
} hist;

static void hist_add(hist *t, const double *point, int budget, double objective)
{
    int i = t->h.n++;
    memcpy(t->pts[i], point, sizeof t->pts[i]);
    for (int e = 0; e < 32; e++)
        t->curve[i][e] = objective;
    t->v[i] = (ks_trial_view){i, t->pts[i], KS_TRIAL_COMPLETE, budget, budget, t->curve[i],
                              objective};
}

/* A grid grown from units [4, 8] to [4, 8, 16]: trials 0..k keep their points; the next
   trial is the new grid's first point not run. */
static void test_grid_grown(void)
{
    char a[8192];
    ks_study *old = load(edit(a, sizeof a, base,
                              P("method: random", "method: grid", "log: true}",
                                "log: true, grid_points: 2}", "  max_trials: 3\n", "")),
                         "old.yaml");
    ks_study *now = load(edit(a, sizeof a, base,
                              P("method: random", "method: grid", "log: true}",
                                "log: true, grid_points: 2}", "  max_trials: 3\n", "", "[4, 8]",
                                "[4, 8, 16]")),
                         "new.yaml");
    static hist t;
    ks_suggestion sug;
    double point[KS_MAX_SEARCH_PARAMS], first_new[KS_MAX_SEARCH_PARAMS];
    long old_size, new_size;
    int seen[64] = {0}, ran = 0;
    REQUIRE(old && now, "the grid studies load");
    old_size = ks_space_grid_size(&old->space);
    new_size = ks_space_grid_size(&now->space);
    CHECK(old_size == 2 * 2 * 4 && new_size == 3 * 2 * 4, "grids of %ld and %ld points",
          old_size, new_size);
    memset(&t, 0, sizeof t);
    t.h.space = &now->space;
    t.h.trials = t.v;
    t.h.max_epochs = 9;
    t.h.grown = 1;
    /* the old grid ran to its 10th point (numbers in the old grid's order) */
    for (long i = 0; i < 10; i++) {
        ks_space_grid_point(&old->space, i, point);
        hist_add(&t, point, 9, 1.0);
    }
    memset(&sug, 0, sizeof sug);
    sug.point = first_new;
    CHECK(now->method->suggest(now->method_args, &t.h, &sug, NULL) == KS_SUGGEST_OK,
          "the grown grid suggests");
    /* the new grid's first point the old trials do not have: units 4 or 8 are all before
       16 in the new order (units first), so it is the first of the old grid not run */
    {
        double p10[KS_MAX_SEARCH_PARAMS];
        ks_space_grid_point(&old->space, 10, p10);
        CHECK(memcmp(first_new, p10, sizeof *p10 * (size_t)now->space.n) == 0,
              "the next trial is the old grid's 11th point (units %g, lr %g, width %g)",
              first_new[0], first_new[1], first_new[2]);
    }
    /* running it to the end: every point of the new grid exactly once */
    for (;;) {
        memset(&sug, 0, sizeof sug);
        sug.point = point;
        if (now->method->suggest(now->method_args, &t.h, &sug, NULL) != KS_SUGGEST_OK)
            break;
        hist_add(&t, point, 9, 1.0);
        if (t.h.n >= 64)
            break;
    }
    for (int i = 0; i < t.h.n; i++)
        for (long k = 0; k < new_size; k++) {
            ks_space_grid_point(&now->space, k, point);
            if (memcmp(point, t.pts[i], sizeof *point * (size_t)now->space.n) == 0) {
                seen[k]++;
                ran++;
            }
        }
    CHECK(t.h.n == new_size && ran == new_size, "%d trials, %d of them grid points, of %ld",
          t.h.n, ran, new_size);
    for (long k = 0; k < new_size; k++)
        CHECK(seen[k] == 1, "grid point %ld ran %d times", k, seen[k]);
    ks_study_free(old);
    ks_study_free(now);
}

/* Hyperband grown from R 3 to R 9 (η 3) after one pass of R 3's brackets (5 trials):
   the old trials stay in their plan; the new part starts at trial 5 with R 9's largest
   bracket (9 configurations of 1 epoch), and one pass of it (17 configurations) more. */
static void test_hyperband_parts(void)
{
    char a[8192];
    ks_study *now = load(edit(a, sizeof a, base,
                              P("method: random", "method: hyperband\n  max_epochs: 9",
                                "  max_trials: 3\n", "")),
                         "new.yaml");
    static hist t;
    ks_budget_part parts[2] = {{0, 3}, {5, 9}};
    ks_suggestion sug;
    double point[KS_MAX_SEARCH_PARAMS];
    int budgets[5] = {1, 1, 3, 3, 3};      /* R 3: bracket s=1 (3 at 1 epoch, 1 → 3), s=0 (2 at 3) */
    REQUIRE(now != NULL, "the hyperband study loads");
    memset(&t, 0, sizeof t);
    t.h.space = &now->space;
    t.h.trials = t.v;
    t.h.max_epochs = 9;
    t.h.seed = 1;
    t.h.grown = 1;
    t.h.n_parts = 2;
    t.h.parts = parts;
    ks_space_first_point(&now->space, point);
    for (int i = 0; i < 5; i++)
        hist_add(&t, point, budgets[i], 0.5 + 0.1 * i);
    memset(&sug, 0, sizeof sug);
    sug.point = point;
    CHECK(now->method->suggest(now->method_args, &t.h, &sug, NULL) == KS_SUGGEST_OK &&
              sug.continue_trial == -1 && sug.budget == 1,
          "trial 5 is new, of 1 epoch (continue %d, budget %d)", sug.continue_trial, sug.budget);
    CHECK(now->method->total(now->method_args, &t.h) == 5 + 17, "planned %d trials, not 22",
          now->method->total(now->method_args, &t.h));
    /* nothing of the old part is promoted to 9: its bracket s=1 promoted its one */
    t.h.n_parts = 0;
    t.h.parts = NULL;
    memset(&sug, 0, sizeof sug);
    sug.point = point;
    now->method->suggest(now->method_args, &t.h, &sug, NULL);
    CHECK(sug.continue_trial >= 0 || sug.budget != 1,
          "without the parts, R 9's plan reads the old trials otherwise (continue %d, budget %d)",
          sug.continue_trial, sug.budget);
    /* an old bracket still open promotes within its own R */
    t.h.n_parts = 2;
    t.h.parts = parts;
    t.v[2].budget = t.v[2].epochs = 1;    /* no trial of bracket s=1 promoted yet */
    t.v[0].objective = 0.1;
    for (int e = 0; e < 32; e++)
        t.curve[0][e] = 0.1;
    memset(&sug, 0, sizeof sug);
    sug.point = point;
    now->method->suggest(now->method_args, &t.h, &sug, NULL);
    CHECK(sug.continue_trial == 0 && sug.budget == 3,
          "the old bracket promotes its best to its own R, 3 (continue %d, budget %d)",
          sug.continue_trial, sug.budget);
    ks_study_free(now);
}

/* A warm start's trials come before the study's own in what the models observe. */
static void test_observed(void)
{
    static hist t, w;
    ks_history tmp;
    ks_trial_view *buf = NULL;
    const ks_history *o;
    double point[KS_MAX_SEARCH_PARAMS] = {0};
    memset(&t, 0, sizeof t);
    memset(&w, 0, sizeof w);
    t.h.trials = t.v;
    w.h.trials = w.v;
    hist_add(&t, point, 9, 1.0);
    hist_add(&w, point, 9, 2.0);
    hist_add(&w, point, 9, 3.0);
    o = ks_history_observed(&t.h, &tmp, &buf);
    CHECK(o == &t.h && buf == NULL, "no warm start: the history itself");
    t.h.n_warm = 2;
    t.h.warm = w.v;
    o = ks_history_observed(&t.h, &tmp, &buf);
    REQUIRE(o == &tmp && buf != NULL, "a warm start: a history of its own");
    CHECK(o->n == 3 && o->n_warm == 0 && o->trials[0].objective == 2.0 &&
              o->trials[1].objective == 3.0 && o->trials[2].objective == 1.0,
          "the warm trials, then the study's (%d)", o->n);
    free(buf);
}

/* TPE, the GP and BOHB's KDEs after a warm start: their first trial is a model's, not the
   cold start's random draw, and the same on every call. */
static void test_warm_suggestions(void)
{
    static const char *const methods[] = {"method: tpe\n  n_startup_trials: 3",
                                          "method: bayesian\n  n_initial: 3",
                                          "method: bohb\n  random_fraction: 0.0"};
    for (int m = 0; m < 3; m++) {
        char a[8192];
        ks_study *st = load(edit(a, sizeof a, base, P("method: random", methods[m])), "w.yaml");
        static hist t, w;
        ks_suggestion sug;
        double cold[KS_MAX_SEARCH_PARAMS], warm1[KS_MAX_SEARCH_PARAMS],
            warm2[KS_MAX_SEARCH_PARAMS];
        REQUIRE(st != NULL, "the study loads");
        memset(&t, 0, sizeof t);
        memset(&w, 0, sizeof w);
        t.h.space = w.h.space = &st->space;
        t.h.trials = t.v;
        t.h.max_trials = 3;
        t.h.max_epochs = 9;
        t.h.seed = 1;
        for (int i = 0; i < 8; i++) {
            double p[KS_MAX_SEARCH_PARAMS];
            ks_sampler_random_point(&st->space, 99, i, p);
            hist_add(&w, p, 9, fabs(log10(p[1]) + 2.0) + 0.01 * i);   /* best near lr 0.01 */
        }
        memset(&sug, 0, sizeof sug);
        sug.point = cold;
        CHECK(st->method->suggest(st->method_args, &t.h, &sug, NULL) == KS_SUGGEST_OK,
              "%s: a cold start suggests", st->method->name);
        t.h.n_warm = w.h.n;
        t.h.warm = w.v;
        sug.point = warm1;
        CHECK(st->method->suggest(st->method_args, &t.h, &sug, NULL) == KS_SUGGEST_OK,
              "%s: a warm start suggests", st->method->name);
        sug.point = warm2;
        st->method->suggest(st->method_args, &t.h, &sug, NULL);
        CHECK(memcmp(cold, warm1, sizeof *cold * (size_t)st->space.n) != 0,
              "%s: the warm start's first trial is not the cold start's", st->method->name);
        CHECK(memcmp(warm1, warm2, sizeof *warm1 * (size_t)st->space.n) == 0,
              "%s: the same warm start gives the same trial", st->method->name);
        CHECK(fabs(log10(warm1[1]) + 2.0) < fabs(log10(cold[1]) + 2.0) || m != 0,
              "%s: it moves toward the warm trials' best learning rate (%g, cold %g)",
              st->method->name, warm1[1], cold[1]);
        ks_study_free(st);
    }
}

/* The growth history in study.db: each growth keeps the text before it and its trials;
   the study's text and hash become the new ones; one transaction each. */
static void test_db_growth(void)
{
    char dir[] = "/tmp/ks_test_grow.XXXXXX", path[256];
    ks_db *db = NULL;
    ks_study_info info;
    ks_study_growth *rows = NULL;
    ks_error err;
    int created = 0, n = -1;
    REQUIRE(mkdtemp(dir) != NULL, "a scratch folder");
    snprintf(path, sizeof path, "%s/study.db", dir);
    REQUIRE(ks_db_open(path, KS_DB_CREATE, &db, &err) == KS_OK, "%s", err.msg);
    REQUIRE(ks_db_study_open(db, "g", "text 1", "h1", "loss", 0, &info, &created, &err) == KS_OK,
            "%s", err.msg);
    CHECK(ks_db_study_growths(db, info.id, &rows, &n, &err) == KS_OK && n == 0 && !rows,
          "a new study has no growth (%d)", n);
    CHECK(ks_db_study_grow(db, info.id, "text 2", "h2", 3, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_db_study_grow(db, info.id, "text 3", "h3", 5, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_db_study_grow(db, info.id + 1, "text 4", "h4", 5, &err) == KS_ERR_CONFIG,
          "no such study: refused");
    ks_study_info_free(&info);
    REQUIRE(ks_db_study_get(db, "g", &info, &err) == KS_OK, "%s", err.msg);
    CHECK(strcmp(info.config, "text 3") == 0 && strcmp(info.hash, "h3") == 0,
          "the study's text is the last growth's (%s, %s)", info.config, info.hash);
    REQUIRE(ks_db_study_growths(db, info.id, &rows, &n, &err) == KS_OK && n == 2,
            "two growths (%d)", n);
    CHECK(rows[0].trials == 3 && strcmp(rows[0].config, "text 1") == 0 && rows[1].trials == 5 &&
              strcmp(rows[1].config, "text 2") == 0 && rows[0].grown > 0,
          "each keeps the text before it and its trials");
    ks_study_growths_free(rows, n);
    /* --fresh: the growths go with the study */
    CHECK(ks_db_study_delete(db, info.id, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_db_study_growths(db, info.id, &rows, &n, &err) == KS_OK && n == 0,
          "a deleted study's growths are gone (%d)", n);
    ks_study_info_free(&info);
    ks_db_close(db);
    unlink(path);
    snprintf(path, sizeof path, "%s/study.db-wal", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/study.db-shm", dir);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    test_db_growth();
    test_accepted();
    test_refused();
    test_conditional();
    test_grid_grown();
    test_hyperband_parts();
    test_observed();
    test_warm_suggestions();
    return check_done();
}
