/*
 * test_samplers.c — grid, random and Hyperband, driven the way the controller drives
 * them: a growing history of trials (some still pending, as with parallel workers).
 * Grid against the Cartesian product; random draws against their distributions
 * (Kolmogorov–Smirnov, chi-square); Hyperband against the paper's bracket table and
 * in a simulated study with 1 and 4 workers on a fake learning curve.
 */
#include "../search/search_impl.h"
#include "check.h"

#include <gsl/gsl_cdf.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EPOCHS 128

/* ------------------------------------------------------------ a fake study */

typedef struct fake_trial {
    double point[KS_MAX_SEARCH_PARAMS];
    ks_trial_status status;
    int budget, epochs;
    double curve[MAX_EPOCHS];
    int fail_at;                /* epoch at which it fails (NaN metric, then failed), or -1 */
    double speed;               /* simulated seconds per epoch */
} fake_trial;

typedef struct fake_study {
    ks_history h;
    int cap;
    fake_trial *t;
    ks_trial_view *v;
} fake_study;

static void fs_init(fake_study *f, const ks_space *sp, int maximize, int max_trials,
                    int max_epochs, uint64_t seed)
{
    memset(f, 0, sizeof *f);
    f->h.space = sp;
    f->h.maximize = maximize;
    f->h.max_trials = max_trials;
    f->h.max_epochs = max_epochs;
    f->h.seed = seed;
}

static void fs_free(fake_study *f)
{
    free(f->t);
    free(f->v);
}

/* The history as samplers see it (views refreshed from the trials). */
static const ks_history *fs_history(fake_study *f)
{
    for (int i = 0; i < f->h.n; i++) {
        fake_trial *t = &f->t[i];
        double best = NAN;
        for (int e = 0; e < t->epochs; e++)
            if (isfinite(t->curve[e]) && (isnan(best) || (f->h.maximize ? t->curve[e] > best
                                                                         : t->curve[e] < best)))
                best = t->curve[e];
        f->v[i] = (ks_trial_view){i, t->point, t->status, t->budget, t->epochs,
                                  t->epochs ? t->curve : NULL, best};
    }
    f->h.trials = f->v;
    return &f->h;
}

/* Add trial number f->h.n, running, with point and budget. */
static fake_trial *fs_add(fake_study *f, const double *point, int budget)
{
    fake_trial *t;
    if (f->h.n == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 64;
        f->t = realloc(f->t, sizeof *f->t * (size_t)f->cap);
        f->v = realloc(f->v, sizeof *f->v * (size_t)f->cap);
        if (!f->t || !f->v)
            abort();    /* a test program: no memory is not worth handling */
    }
    t = &f->t[f->h.n++];
    memset(t, 0, sizeof *t);
    memcpy(t->point, point, sizeof t->point);
    t->status = KS_TRIAL_RUNNING;
    t->budget = budget;
    t->fail_at = -1;
    t->speed = 1;
    return t;
}

static ks_suggest_result ask(const ks_sampler_ops *ops, const void *args, fake_study *f,
                             ks_suggestion *sg, double *point)
{
    ks_error err;
    ks_suggest_result r;
    ks_error_clear(&err);
    memset(point, 0, sizeof(double) * KS_MAX_SEARCH_PARAMS);
    *sg = (ks_suggestion){-2, point, -1};
    r = ops->suggest(args, fs_history(f), sg, &err);
    CHECK(r != KS_SUGGEST_ERROR, "%s: %s", ops->name, err.msg);
    return r;
}

/* ------------------------------------------------------------ spaces */

static ks_space *space_new(void)
{
    ks_space *sp = calloc(1, sizeof *sp);
    if (!sp)
        abort();
    return sp;
}

static void space_free(ks_space *sp)
{
    if (sp)
        ks_space_free(sp);
    free(sp);
}

static ks_param *add_param(ks_space *sp, const char *name, ks_param_kind kind, double min,
                           double max)
{
    ks_param *p = &sp->params[sp->n++];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = kind;
    p->min = min;
    p->max = max;
    p->step = 1;
    return p;
}

static void add_choice(ks_space *sp, const char *name, int n)
{
    ks_param *p = add_param(sp, name, KS_PARAM_CHOICE, 0, 0);
    p->n_values = n;
    for (int i = 0; i < n; i++) {
        char s[8] = {(char)('a' + i), 0};
        ks_value_init(&p->values[i], KS_VALUE_STRING);
        if (ks_value_set_string(&p->values[i], s) != KS_OK)
            abort();
    }
}

/* ------------------------------------------------------------ grid */

static void test_grid(void)
{
    static const double floats[3] = {0.01, 0.1, 1.0};  /* 3 log-spaced points, ends included */
    int seen[3][4][3] = {{{0}}};
    ks_space *sp = space_new();
    fake_study f;
    ks_suggestion sg;
    double pt[KS_MAX_SEARCH_PARAMS];
    ks_error err;
    int n = 0, bad = 0;
    add_choice(sp, "activation", 3);
    add_param(sp, "units", KS_PARAM_INT, 1, 4);
    add_param(sp, "lr", KS_PARAM_FLOAT, 0.01, 1)->log = 1;
    sp->params[2].grid_points = 3;

    fs_init(&f, sp, 1, 0, 7, 42);
    CHECK(ks_sampler_grid_ops.check(NULL, sp, &f.h, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_sampler_grid_ops.total(NULL, &f.h) == 36, "total %d",
          ks_sampler_grid_ops.total(NULL, &f.h));
    for (;;) {
        ks_suggest_result r = ask(&ks_sampler_grid_ops, NULL, &f, &sg, pt);
        int c, u, k = -1;
        if (r != KS_SUGGEST_OK) {
            CHECK(r == KS_SUGGEST_DONE, "grid ended with %d", r);
            break;
        }
        REQUIRE(n < 100, "grid never ends");
        CHECK(sg.continue_trial == -1 && sg.budget == 7, "trial %d: continue %d budget %d", n,
              sg.continue_trial, sg.budget);
        c = (int)pt[0];
        u = (int)pt[1];
        for (int i = 0; i < 3; i++)
            if (fabs(pt[2] - floats[i]) <= 1e-12 * floats[i])
                k = i;
        if (pt[0] != c || c < 0 || c > 2 || pt[1] != u || u < 1 || u > 4 || k < 0) {
            CHECK(0, "trial %d: point (%g, %g, %g) is not in the grid", n, pt[0], pt[1], pt[2]);
            bad++;
        } else {
            seen[c][u - 1][k]++;
        }
        fs_add(&f, pt, sg.budget)->status = n % 3 ? KS_TRIAL_COMPLETE : KS_TRIAL_RUNNING;
        n++;
    }
    CHECK(n == 36 && bad == 0, "grid gave %d points, %d outside the product", n, bad);
    for (int c = 0; c < 3; c++)
        for (int u = 0; u < 4; u++)
            for (int k = 0; k < 3; k++)
                CHECK(seen[c][u][k] == 1, "(%d, %d, %g) given %d times", c, u + 1, floats[k],
                      seen[c][u][k]);
    fs_free(&f);

    /* max_trials smaller than the grid: the first max_trials points, then DONE */
    fs_init(&f, sp, 1, 10, 7, 42);
    CHECK(ks_sampler_grid_ops.total(NULL, &f.h) == 10, "total with max_trials 10: %d",
          ks_sampler_grid_ops.total(NULL, &f.h));
    n = 0;
    while (ask(&ks_sampler_grid_ops, NULL, &f, &sg, pt) == KS_SUGGEST_OK && n < 100) {
        fs_add(&f, pt, sg.budget);
        n++;
    }
    CHECK(n == 10, "max_trials 10 gave %d trials", n);
    fs_free(&f);

    /* a float without grid_points: refused, naming it and saying what to add */
    sp->params[2].grid_points = 0;
    fs_init(&f, sp, 1, 0, 7, 42);
    ks_error_clear(&err);
    CHECK(ks_sampler_grid_ops.check(NULL, sp, &f.h, &err) == KS_ERR_CONFIG, "float without "
          "grid_points accepted");
    CHECK(strstr(err.msg, "\"lr\"") && strstr(err.msg, "grid_points"), "message: %s", err.msg);
    printf("grid, float without grid_points: %s\n", err.msg);

    /* too large a grid: refused */
    sp->params[2].grid_points = 3;
    add_param(sp, "seed_offset", KS_PARAM_INT, 0, 999999);
    ks_error_clear(&err);
    CHECK(ks_sampler_grid_ops.check(NULL, sp, &f.h, &err) == KS_ERR_CONFIG, "a grid of %ld "
          "points accepted", ks_space_grid_size(sp));
    CHECK(strstr(err.msg, "points") != NULL, "message: %s", err.msg);
    printf("grid, too large: %s\n", err.msg);
    add_param(sp, "more", KS_PARAM_INT, 0, 999999);     /* past ks_space_grid_size's limit */
    CHECK(ks_sampler_grid_ops.check(NULL, sp, &f.h, &err) == KS_ERR_CONFIG, "huge grid accepted");
    fs_free(&f);
    space_free(sp);
}

/* ------------------------------------------------------------ goodness of fit */

/* Kolmogorov–Smirnov: D of sorted u (values of the hypothesised CDF) and its p-value
   from the asymptotic distribution (with Stephens's small-sample correction). */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double ks_test(double *u, int n, double *d_out)
{
    double d = 0, sn = sqrt((double)n), lam, sum = 0, sign = 1;
    qsort(u, (size_t)n, sizeof *u, cmp_double);
    for (int i = 0; i < n; i++) {
        double lo = u[i] - (double)i / n, hi = (double)(i + 1) / n - u[i];
        d = fmax(d, fmax(lo, hi));
    }
    *d_out = d;
    lam = (sn + 0.12 + 0.11 / sn) * d;
    if (lam < 0.2)
        return 1.0;
    for (int k = 1; k <= 100; k++) {
        double term = exp(-2.0 * k * k * lam * lam);
        sum += sign * term;
        sign = -sign;
        if (term < 1e-16)
            break;
    }
    sum *= 2;
    return sum < 0 ? 0 : sum > 1 ? 1 : sum;
}

/* Pearson's chi-square of counts against probabilities p (k cells); returns the p-value. */
static double chi2_test(const int *counts, const double *p, int k, int n, double *x2_out)
{
    double x2 = 0;
    for (int i = 0; i < k; i++) {
        double e = p[i] * n;
        x2 += (counts[i] - e) * (counts[i] - e) / e;
    }
    *x2_out = x2;
    return gsl_cdf_chisq_Q(x2, k - 1);
}

#define N_DRAWS 4000
#define ALPHA 0.001

/* Print a test's statistic and p-value; the draws should pass (or the wrong law fail). */
static void verdict(const char *what, const char *stat, double x, double pv, int should_pass)
{
    printf("%s: %s = %.4g, p = %.3g\n", what, stat, x, pv);
    CHECK(should_pass ? pv > ALPHA : pv < ALPHA, "%s: %s = %g, p = %g at significance %g",
          what, stat, x, pv, ALPHA);
}

static void test_random(void)
{
    ks_space *sp = space_new();
    fake_study f;
    ks_suggestion sg;
    double pt[KS_MAX_SEARCH_PARAMS], (*draws)[5] = malloc(sizeof *draws * N_DRAWS);
    double *u = malloc(sizeof *u * N_DRAWS), d, pv, x2;
    int choice[5] = {0}, stepped[7] = {0}, logint[50] = {0}, n = 0, outside = 0;
    double p_choice[5], p_stepped[7], p_logint[50], p_wrong[50];
    ks_error err;
    REQUIRE(draws && u, "no memory");
    add_param(sp, "x", KS_PARAM_FLOAT, -2, 3);
    add_param(sp, "lr", KS_PARAM_FLOAT, 1e-4, 1e-1)->log = 1;
    add_choice(sp, "optimizer", 5);
    add_param(sp, "batch", KS_PARAM_INT, 2, 20)->step = 3;     /* 2, 5, …, 20 */
    add_param(sp, "units", KS_PARAM_INT, 1, 50)->log = 1;

    fs_init(&f, sp, 1, 0, 5, 1234);
    CHECK(ks_sampler_random_ops.check(NULL, sp, &f.h, &err) == KS_ERR_CONFIG,
          "random search without max_trials accepted");
    CHECK(strstr(err.msg, "max_trials") != NULL, "message: %s", err.msg);
    printf("random, no max_trials: %s\n", err.msg);
    f.h.max_trials = N_DRAWS;
    CHECK(ks_sampler_random_ops.check(NULL, sp, &f.h, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_sampler_random_ops.total(NULL, &f.h) == N_DRAWS, "total");

    while (ask(&ks_sampler_random_ops, NULL, &f, &sg, pt) == KS_SUGGEST_OK && n < N_DRAWS + 1) {
        CHECK(sg.continue_trial == -1 && sg.budget == 5, "continue %d budget %d",
              sg.continue_trial, sg.budget);
        memcpy(draws[n], pt, sizeof draws[n]);
        fs_add(&f, pt, sg.budget)->status = KS_TRIAL_COMPLETE;
        n++;
    }
    CHECK(n == N_DRAWS, "random gave %d trials for max_trials %d", n, N_DRAWS);
    REQUIRE(n == N_DRAWS, "stopping");

    for (int i = 0; i < n; i++) {
        int c = (int)draws[i][2], b = (int)draws[i][3], k = (int)draws[i][4];
        if (draws[i][0] < -2 || draws[i][0] > 3 || draws[i][1] < 1e-4 || draws[i][1] > 1e-1 ||
            c != draws[i][2] || c < 0 || c > 4 || b != draws[i][3] || (b - 2) % 3 || b < 2 ||
            b > 20 || k != draws[i][4] || k < 1 || k > 50) {
            outside++;
            continue;
        }
        choice[c]++;
        stepped[(b - 2) / 3]++;
        logint[k - 1]++;
    }
    CHECK(outside == 0, "%d draws outside their ranges or grids", outside);

    /* float: uniform on [-2, 3]; a wrong hypothesis (uniform on [-2, 3.5]) must fail */
    for (int i = 0; i < n; i++)
        u[i] = (draws[i][0] + 2) / 5;
    pv = ks_test(u, n, &d);
    verdict("random float uniform [-2, 3]", "KS D", d, pv, 1);
    for (int i = 0; i < n; i++)
        u[i] = (draws[i][0] + 2) / 5.5;
    pv = ks_test(u, n, &d);
    verdict("  against uniform [-2, 3.5] (wrong)", "KS D", d, pv, 0);
    /* log float: log(x) uniform on [log 1e-4, log 1e-1]; not x uniform */
    for (int i = 0; i < n; i++)
        u[i] = (log(draws[i][1]) - log(1e-4)) / (log(1e-1) - log(1e-4));
    pv = ks_test(u, n, &d);
    verdict("random float log-uniform [1e-4, 1e-1]", "KS D", d, pv, 1);
    for (int i = 0; i < n; i++)
        u[i] = (draws[i][1] - 1e-4) / (1e-1 - 1e-4);
    pv = ks_test(u, n, &d);
    verdict("  against uniform [1e-4, 1e-1] (wrong)", "KS D", d, pv, 0);
    /* choice: uniform over 5 values; not (0.24, 0.19, 0.19, 0.19, 0.19) */
    for (int i = 0; i < 5; i++)
        p_choice[i] = 0.2;
    pv = chi2_test(choice, p_choice, 5, n, &x2);
    verdict("random choice of 5 (4 dof)", "chi2", x2, pv, 1);
    p_choice[0] = 0.24;
    for (int i = 1; i < 5; i++)
        p_choice[i] = 0.19;
    pv = chi2_test(choice, p_choice, 5, n, &x2);
    verdict("  against (0.24, 0.19 x 4) (wrong)", "chi2", x2, pv, 0);
    /* int with step 3 on [2, 20]: uniform over its 7 values */
    for (int i = 0; i < 7; i++)
        p_stepped[i] = 1.0 / 7;
    pv = chi2_test(stepped, p_stepped, 7, n, &x2);
    verdict("random int [2, 20] step 3 (6 dof)", "chi2", x2, pv, 1);
    /* log int on [1, 50]: x log-uniform on [0.5, 50.5], rounded: P(k) ∝ log((k+½)/(k−½)) */
    for (int k = 1; k <= 50; k++) {
        p_logint[k - 1] = log((k + 0.5) / (k - 0.5)) / log(50.5 / 0.5);
        p_wrong[k - 1] = 1.0 / 50;
    }
    pv = chi2_test(logint, p_logint, 50, n, &x2);
    verdict("random log int [1, 50] (49 dof)", "chi2", x2, pv, 1);
    pv = chi2_test(logint, p_wrong, 50, n, &x2);
    verdict("  against uniform over 1..50 (wrong)", "chi2", x2, pv, 0);

    /* reproducible: trial i's point is the (seed, i) draw, whatever the history holds */
    for (int i = 0; i < 50; i++) {
        double again[KS_MAX_SEARCH_PARAMS] = {0};
        CHECK(ks_sampler_random_point(sp, 1234, i, again) == KS_OK, "no memory");
        CHECK(memcmp(again, draws[i], sizeof draws[i]) == 0, "trial %d drawn differently", i);
    }
    for (int i = 0; i + 1 < n; i++)
        if (memcmp(draws[i], draws[i + 1], sizeof draws[i]) == 0)
            CHECK(0, "trials %d and %d drew the same point", i, i + 1);
    {
        double other[KS_MAX_SEARCH_PARAMS] = {0};
        ks_sampler_random_point(sp, 1235, 0, other);
        CHECK(memcmp(other, draws[0], sizeof draws[0]) != 0, "seeds 1234 and 1235 agree");
    }
    CHECK(ask(&ks_sampler_random_ops, NULL, &f, &sg, pt) == KS_SUGGEST_DONE, "not DONE at "
          "max_trials");
    fs_free(&f);

    /*
     * Parallel: 3 workers, trials finishing out of order, asks interleaved with pending
     * trials; the points by trial number are those of the sequential run.
     */
    {
        int running[3] = {-1, -1, -1}, asked = 0, mismatch = 0;
        uint64_t state = 99;
        fs_init(&f, sp, 1, 200, 5, 1234);
        while (asked < 200) {
            for (int w = 0; w < 3; w++) {
                if (running[w] >= 0)
                    continue;
                if (ask(&ks_sampler_random_ops, NULL, &f, &sg, pt) != KS_SUGGEST_OK)
                    break;
                if (memcmp(pt, draws[f.h.n], sizeof draws[0]) != 0)
                    mismatch++;
                running[w] = f.h.n;
                fs_add(&f, pt, sg.budget);
                asked++;
            }
            /* a pseudo-random worker finishes (or fails) */
            state = ks_hash64(state, 7);
            {
                int w = (int)(state % 3);
                if (running[w] >= 0) {
                    f.t[running[w]].status = state % 11 ? KS_TRIAL_COMPLETE : KS_TRIAL_FAILED;
                    running[w] = -1;
                }
            }
        }
        CHECK(mismatch == 0 && asked == 200, "%d of %d points differ from the sequential run",
              mismatch, asked);
        fs_free(&f);
    }
    free(draws);
    free(u);
    space_free(sp);
}

/* ------------------------------------------------------------ Hyperband's table */

/* A schedule written out by hand: Li et al. 2018, Table 1 (R = 81, η = 3) and others. */
typedef struct sched {
    int R, eta, nb;
    int rungs[8];
    int n[8][8];
    int r[8][8];
} sched;

static const sched paper81 = {
    81, 3, 5, {5, 4, 3, 2, 1},
    {{81, 27, 9, 3, 1}, {34, 11, 3, 1}, {15, 5, 1}, {8, 2}, {5}},
    {{1, 3, 9, 27, 81}, {3, 9, 27, 81}, {9, 27, 81}, {27, 81}, {81}},
};
/* mlr3hyperband's documented table for r_max = 8, η = 2 */
static const sched table8 = {
    8, 2, 4, {4, 3, 2, 1},
    {{8, 4, 2, 1}, {6, 3, 1}, {4, 2}, {4}},
    {{1, 2, 4, 8}, {2, 4, 8}, {4, 8}, {8}},
};
/* R = 9, η = 3: n = ceil(3/(s+1)·3^s) = 9, 5, 3 */
static const sched table9 = {
    9, 3, 3, {3, 2, 1},
    {{9, 3, 1}, {5, 1}, {3}},
    {{1, 3, 9}, {3, 9}, {9}},
};

static void check_table(const sched *want)
{
    ks_hb_bracket br[16];
    int nb = ks_hyperband_brackets(want->R, want->eta, br, 16);
    CHECK(nb == want->nb, "R=%d η=%d: %d brackets, want %d", want->R, want->eta, nb, want->nb);
    for (int b = 0; b < nb && b < want->nb; b++) {
        CHECK(br[b].s == want->nb - 1 - b, "bracket %d: s = %d", b, br[b].s);
        CHECK(br[b].n_rungs == want->rungs[b], "bracket s=%d: %d rungs", br[b].s, br[b].n_rungs);
        for (int i = 0; i < br[b].n_rungs && i < want->rungs[b]; i++)
            CHECK(br[b].rungs[i].n == want->n[b][i] && br[b].rungs[i].r == want->r[b][i],
                  "R=%d η=%d s=%d rung %d: n=%d r=%g, want n=%d r=%d", want->R, want->eta,
                  br[b].s, i, br[b].rungs[i].n, br[b].rungs[i].r, want->n[b][i], want->r[b][i]);
    }
}

static void test_hyperband_table(void)
{
    ks_hb_bracket br[16];
    check_table(&paper81);
    check_table(&table8);
    check_table(&table9);
    printf("hyperband brackets, R=81, eta=3:\n");
    for (int b = 0; b < ks_hyperband_brackets(81, 3, br, 16); b++) {
        printf("  s=%d:", br[b].s);
        for (int i = 0; i < br[b].n_rungs; i++)
            printf(" (n=%d, r=%g)", br[b].rungs[i].n, br[b].rungs[i].r);
        printf("\n");
    }
    /* s_max for exact powers, where log(R)/log(η) misrounds in floating point */
    CHECK(ks_hyperband_brackets(1000, 10, br, 16) == 4, "R=1000 η=10");
    CHECK(ks_hyperband_brackets(125, 5, br, 16) == 4, "R=125 η=5");
    CHECK(ks_hyperband_brackets(243, 3, br, 16) == 6, "R=243 η=3");
    CHECK(ks_hyperband_brackets(80, 3, br, 16) == 4, "R=80 η=3");
    CHECK(ks_hyperband_brackets(1, 3, br, 16) == 1 && br[0].rungs[0].n == 1 &&
          br[0].rungs[0].r == 1, "R=1");
    CHECK(ks_hyperband_brackets(0, 3, br, 16) == 0, "R=0");
    CHECK(ks_hyperband_brackets(81, 3, br, 2) == 5 && br[1].s == 3, "max=2 fills 2");
    CHECK(ks_hyperband_brackets(81, 3, NULL, 0) == 5, "count only");
}

/* ------------------------------------------------------------ Hyperband, simulated */

/* Room for the sampler's options struct, whatever its layout. */
typedef union hb_args_test {
    max_align_t align;
    unsigned char bytes[256];
} hb_args_test;

/* Options through the sampler's own key table, as the study loader reads them. */
static int hb_args_make(const char *json, void *args, ks_error *err)
{
    ks_value map;
    int ok;
    if (ks_sampler_hyperband_ops.args_size > sizeof(hb_args_test)) {
        ks_error_set(err, KS_ERR_INTERNAL, "hyperband's options need more room");
        return 0;
    }
    if (ks_value_from_json(json, strlen(json), "study.yaml", &map, err) != KS_OK)
        return 0;
    ks_keys_defaults(ks_sampler_hyperband_ops.keys, args);
    ok = ks_keys_read(ks_sampler_hyperband_ops.keys, &map, "hyperband", args, err) == KS_OK;
    ks_value_free(&map);
    return ok;
}

/* The fake objective (maximized): an asymptote that depends on the point, approached
   at a point-dependent speed, plus a little noise. */
static double truth(const double *p)
{
    double l = log10(p[1]) + 1.7;
    return 0.9 - 0.6 * (p[0] - 0.65) * (p[0] - 0.65) - 0.06 * l * l - 0.04 * p[2];
}

static double curve_at(const double *p, int number, int e)
{
    double tau = 1.0 + 3.0 * p[2] + 4.0 * p[0];
    double noise = (double)(ks_hash64((uint64_t)number, (uint64_t)e) % 2001) / 1000.0 - 1.0;
    return truth(p) * (1 - exp(-(e + 1) / tau)) + 0.005 * noise;
}

/* The bracket of trial t in the hand-written schedule: its index and [begin, end). */
static int bracket_of(const sched *S, long limit, int t, int *begin, int *end)
{
    int b = 0, start = 0;
    while (t >= start + S->n[b][0]) {
        start += S->n[b][0];
        b = (b + 1) % S->nb;
    }
    *begin = start;
    *end = start + S->n[b][0] < limit ? start + S->n[b][0] : (int)limit;
    return b;
}

static int rung_index(const sched *S, int b, int budget)
{
    for (int i = 0; i < S->rungs[b]; i++)
        if (S->r[b][i] == budget)
            return i;
    return -1;
}

static int pending(ks_trial_status s)
{
    return s == KS_TRIAL_QUEUED || s == KS_TRIAL_RUNNING;
}

/* Trial t's value at a budget of r epochs: best of its first r epochs; NaN if none. */
static double value_at(const fake_trial *t, int r)
{
    double best = NAN;
    for (int e = 0; e < t->epochs && e < r; e++)
        if (isfinite(t->curve[e]) && (isnan(best) || t->curve[e] > best))
            best = t->curve[e];
    return best;
}

/* Of bracket [begin, end) at rung k: members that completed it (*m), the promoted (*p),
   and the rank (1 = best) of trial c among them. */
static int rung_rank(const fake_study *f, const sched *S, int b, int begin, int end, int k,
                     int c, int *m, int *p)
{
    int rank = 1;
    double vc = value_at(&f->t[c], S->r[b][k]);
    *m = *p = 0;
    for (int t = begin; t < end && t < f->h.n; t++) {
        const fake_trial *x = &f->t[t];
        int level = rung_index(S, b, x->budget);
        double vx;
        if (level < k || (level == k && pending(x->status)))
            continue;
        (*m)++;
        *p += level > k;
        vx = value_at(x, S->r[b][k]);
        if (t != c && !(level == k && x->status == KS_TRIAL_FAILED) && isfinite(vx) &&
            (vx > vc || (vx == vc && t < c)))
            rank++;
    }
    return rank;
}

typedef struct sim_result {
    int trials, asks, waits, promotions;
    long epochs, expected_epochs;
    double best_truth, median_truth;
    int rung_sizes_ok;
} sim_result;

static int cmp_desc(const void *a, const void *b)
{
    return cmp_double(b, a);
}

/*
 * Run a study: workers ask whenever idle; the worker whose segment ends first reports.
 * Checks every answer on the way; returns what happened.
 */
static sim_result simulate(const sched *S, int workers, int sync, int max_trials, int failures,
                           uint64_t seed)
{
    sim_result res = {0};
    ks_space *sp = space_new();
    fake_study f;
    ks_suggestion sg;
    double pt[KS_MAX_SEARCH_PARAMS], now = 0, finish[8];
    int run[8], done = 0, steps = 0;
    long limit;
    hb_args_test args;
    ks_error err;
    char json[128];
    add_param(sp, "x", KS_PARAM_FLOAT, 0, 1);
    add_param(sp, "lr", KS_PARAM_FLOAT, 1e-3, 1)->log = 1;
    add_param(sp, "kind", KS_PARAM_INT, 0, 2);
    snprintf(json, sizeof json, "{\"factor\": %d, \"synchronous\": %s}", S->eta,
             sync ? "true" : "false");
    if (!hb_args_make(json, &args, &err)) {
        CHECK(0, "options: %s", err.msg);
        space_free(sp);
        return res;
    }
    fs_init(&f, sp, 1, max_trials, S->R, seed);
    CHECK(ks_sampler_hyperband_ops.check(&args, sp, &f.h, &err) == KS_OK, "%s", err.msg);
    limit = ks_sampler_hyperband_ops.total(&args, &f.h);
    for (int w = 0; w < workers; w++)
        run[w] = -1;

    while (!done && steps++ < 100000) {
        int busy = 0, next = -1;
        for (int w = 0; w < workers; w++) {
            ks_suggest_result r;
            if (run[w] >= 0)
                continue;
            r = ask(&ks_sampler_hyperband_ops, &args, &f, &sg, pt);
            res.asks++;
            if (res.asks % 17 == 0) {   /* a function of the history: asking again agrees */
                ks_suggestion again;
                double pt2[KS_MAX_SEARCH_PARAMS];
                ks_suggest_result r2 = ask(&ks_sampler_hyperband_ops, &args, &f, &again, pt2);
                CHECK(r2 == r && again.continue_trial == sg.continue_trial &&
                      again.budget == sg.budget && memcmp(pt, pt2, sizeof pt) == 0,
                      "the same history gave another answer");
            }
            if (r == KS_SUGGEST_WAIT) {
                int any = 0;
                res.waits++;
                for (int t = 0; t < f.h.n; t++)
                    any |= pending(f.t[t].status);
                CHECK(f.h.n >= limit, "WAIT with only %d of %ld configurations started",
                      f.h.n, limit);
                CHECK(any, "WAIT with nothing pending");
                continue;
            }
            if (r == KS_SUGGEST_DONE) {
                done = 1;
                break;
            }
            if (r != KS_SUGGEST_OK) {
                CHECK(0, "suggest answered %d", r);
                done = 1;
                break;
            }
            CHECK(sg.budget >= 1 && sg.budget <= S->R, "budget %d outside [1, R=%d]",
                  sg.budget, S->R);
            if (sg.continue_trial < 0) {
                int begin, end, b = bracket_of(S, limit, f.h.n, &begin, &end);
                double want[KS_MAX_SEARCH_PARAMS] = {0};
                fake_trial *t;
                CHECK(f.h.n < limit, "a new trial %d past the %ld planned", f.h.n, limit);
                CHECK(sg.budget == S->r[b][0], "new trial %d of bracket s=%d: budget %d, "
                      "want %d", f.h.n, S->nb - 1 - b, sg.budget, S->r[b][0]);
                ks_sampler_random_point(sp, seed, f.h.n, want);
                CHECK(memcmp(want, pt, sizeof want) == 0, "trial %d: not its random point",
                      f.h.n);
                t = fs_add(&f, pt, sg.budget);
                t->speed = 0.5 + (double)(ks_hash64(seed, (uint64_t)f.h.n) % 100) / 50.0;
                if (failures && ks_hash64(seed + 1, (uint64_t)f.h.n) % 12 == 0)
                    t->fail_at = (int)(ks_hash64(seed + 2, (uint64_t)f.h.n) % (unsigned)S->R);
                run[w] = f.h.n - 1;
            } else {
                int c = sg.continue_trial, begin, end, b, k, m, p, rank;
                fake_trial *t;
                if (c < 0 || c >= f.h.n) {
                    CHECK(0, "continue_trial %d of %d", c, f.h.n);
                    done = 1;
                    break;
                }
                t = &f.t[c];
                b = bracket_of(S, limit, c, &begin, &end);
                k = rung_index(S, b, t->budget);
                CHECK(!pending(t->status), "promoted trial %d is still running", c);
                CHECK(t->status != KS_TRIAL_FAILED, "failed trial %d promoted", c);
                CHECK(k >= 0 && k + 1 < S->rungs[b] && sg.budget == S->r[b][k + 1],
                      "trial %d promoted from budget %d to %d (bracket s=%d)", c, t->budget,
                      sg.budget, S->nb - 1 - b);
                if (k < 0 || k + 1 >= S->rungs[b]) {
                    run[w] = -1;
                    continue;
                }
                rank = rung_rank(&f, S, b, begin, end, k, c, &m, &p);
                CHECK(rank <= m / S->eta, "trial %d promoted from rung %d ranked %d of %d "
                      "(top 1/%d is %d)", c, k, rank, m, S->eta, m / S->eta);
                CHECK(p + 1 <= m / S->eta, "rung %d: %d promoted of %d", k, p + 1, m);
                if (sync) {
                    /* a complete rung: every configuration started, none left at rung <= k */
                    int open = f.h.n < end;
                    for (int x = begin; x < end && x < f.h.n; x++)
                        open |= pending(f.t[x].status) && rung_index(S, b, f.t[x].budget) <= k;
                    CHECK(!open, "synchronous: trial %d promoted from an incomplete rung %d",
                          c, k);
                }
                t->status = KS_TRIAL_RUNNING;
                t->budget = sg.budget;
                res.promotions++;
                run[w] = c;
            }
            finish[w] = now + f.t[run[w]].speed * (f.t[run[w]].budget - f.t[run[w]].epochs);
        }
        for (int w = 0; w < workers; w++)
            if (run[w] >= 0) {
                busy++;
                if (next < 0 || finish[w] < finish[next])
                    next = w;
            }
        if (!busy)
            break;
        if (done) {
            CHECK(0, "DONE while %d trials run", busy);
            break;
        }
        {   /* the first segment to end reports its epochs */
            fake_trial *t = &f.t[run[next]];
            now = finish[next];
            for (int e = t->epochs; e < t->budget; e++) {
                if (e == t->fail_at) {
                    t->curve[e] = NAN;
                    t->epochs = e + 1;
                    t->status = KS_TRIAL_FAILED;
                    break;
                }
                t->curve[e] = curve_at(t->point, run[next], e);
                t->epochs = e + 1;
            }
            if (t->status == KS_TRIAL_RUNNING)
                t->status = KS_TRIAL_COMPLETE;
            run[next] = -1;
        }
    }
    CHECK(done, "the study did not end (%d steps)", steps);

    /* epochs spent, against successive halving's: Σ over rungs n_i·(r_i − r_(i−1)) */
    res.trials = f.h.n;
    res.rung_sizes_ok = 1;
    for (int begin = 0; begin < f.h.n;) {
        int b0, end, b = bracket_of(S, limit, begin, &b0, &end), m0 = end - begin, eta_i = 1;
        for (int i = 0; i < S->rungs[b]; i++) {
            int n_i = m0 / eta_i, have = 0;
            res.expected_epochs += (long)n_i * (S->r[b][i] - (i ? S->r[b][i - 1] : 0));
            for (int t = begin; t < end; t++)
                have += f.t[t].budget >= S->r[b][i];
            if (have != n_i)
                res.rung_sizes_ok = 0;
            eta_i *= S->eta;
        }
        begin = end;
    }
    {
        double *truths = malloc(sizeof *truths * ((size_t)f.h.n + 1)), best = -INFINITY;
        int best_t = -1;
        for (int t = 0; t < f.h.n; t++) {
            res.epochs += f.t[t].epochs;
            CHECK(f.t[t].budget <= S->R && f.t[t].epochs <= f.t[t].budget,
                  "trial %d: %d epochs of budget %d (R=%d)", t, f.t[t].epochs, f.t[t].budget, S->R);
            CHECK(!pending(f.t[t].status), "trial %d still pending at the end", t);
            truths[t] = truth(f.t[t].point);
            if (f.t[t].budget == S->R && f.t[t].status == KS_TRIAL_COMPLETE &&
                value_at(&f.t[t], S->R) > best) {
                best = value_at(&f.t[t], S->R);
                best_t = t;
            }
        }
        if (best_t >= 0 && truths) {
            res.best_truth = truths[best_t];
            qsort(truths, (size_t)f.h.n, sizeof *truths, cmp_desc);
            res.median_truth = truths[f.h.n / 2];
        }
        CHECK(best_t >= 0, "no trial reached R");
        free(truths);
    }
    fs_free(&f);
    space_free(sp);
    return res;
}

static void test_hyperband_sim(void)
{
    static const struct {
        int workers, sync, failures;
    } runs[] = {{1, 1, 0}, {1, 0, 0}, {4, 0, 0}, {4, 1, 0}, {4, 0, 1}, {1, 0, 1}};
    for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++) {
        sim_result r = simulate(&paper81, runs[i].workers, runs[i].sync, 0, runs[i].failures,
                                42 + i);
        printf("hyperband R=81 eta=3, %d worker(s), %s%s: %d trials, %d promotions, %d asks, "
               "%d waits, %ld epochs (successive halving: %ld), best found %.3f, median "
               "%.3f\n", runs[i].workers, runs[i].sync ? "synchronous" : "asynchronous",
               runs[i].failures ? ", 1 in 12 failing" : "", r.trials, r.promotions, r.asks,
               r.waits, r.epochs, r.expected_epochs, r.best_truth, r.median_truth);
        CHECK(r.trials == 143, "%d trials, want 81+34+15+8+5", r.trials);
        CHECK(r.expected_epochs == 1581, "successive halving's epochs: %ld", r.expected_epochs);
        if (runs[i].failures) {
            CHECK(r.epochs <= r.expected_epochs, "%ld epochs, more than %ld", r.epochs,
                  r.expected_epochs);
        } else {
            CHECK(r.epochs == r.expected_epochs, "%ld epochs, want %ld", r.epochs,
                  r.expected_epochs);
            CHECK(r.rung_sizes_ok, "rung sizes differ from the paper's n_i");
        }
        CHECK(r.best_truth > r.median_truth, "best found %g, median %g", r.best_truth,
              r.median_truth);
        if (runs[i].workers == 1)
            CHECK(r.waits == 0, "one worker waited %d times", r.waits);
    }
    /* max_trials past one pass: the brackets start again at s_max (R=9: 9 + 5 + 3, then 3) */
    {
        sim_result r = simulate(&table9, 2, 0, 20, 0, 7);
        CHECK(r.trials == 20, "max_trials 20: %d trials", r.trials);
        CHECK(r.epochs == r.expected_epochs && r.rung_sizes_ok, "R=9 looped: %ld epochs, want "
              "%ld", r.epochs, r.expected_epochs);
        r = simulate(&table8, 3, 1, 0, 0, 8);
        CHECK(r.trials == 8 + 6 + 4 + 4 && r.epochs == r.expected_epochs && r.rung_sizes_ok,
              "R=8 eta=2: %d trials, %ld epochs, want %ld", r.trials, r.epochs,
              r.expected_epochs);
    }
}

/* Li et al.'s successive halving with one worker: the promoted are exactly the top n_(i+1). */
static void test_hyperband_sync_exact(void)
{
    ks_space *sp = space_new();
    fake_study f;
    ks_suggestion sg;
    double pt[KS_MAX_SEARCH_PARAMS];
    hb_args_test args;
    ks_error err;
    int asks = 0;
    add_param(sp, "x", KS_PARAM_FLOAT, 0, 1);
    add_param(sp, "lr", KS_PARAM_FLOAT, 1e-3, 1)->log = 1;
    add_param(sp, "kind", KS_PARAM_INT, 0, 2);
    REQUIRE(hb_args_make("{\"max_epochs\": 27, \"synchronous\": true}", &args, &err), "%s",
            err.msg);
    fs_init(&f, sp, 1, 0, 5 /* overridden by max_epochs */, 3);
    CHECK(ks_sampler_hyperband_ops.total(&args, &f.h) == 27 + 12 + 6 + 4,
          "R=27 total %d", ks_sampler_hyperband_ops.total(&args, &f.h));
    for (ks_suggest_result r; (r = ask(&ks_sampler_hyperband_ops, &args, &f, &sg, pt)) ==
                              KS_SUGGEST_OK && asks < 1000; asks++) {
        fake_trial *t = sg.continue_trial < 0 ? fs_add(&f, pt, sg.budget)
                                              : &f.t[sg.continue_trial];
        int number = (int)(t - f.t);
        t->budget = sg.budget;
        for (int e = t->epochs; e < t->budget; e++)
            t->curve[e] = curve_at(t->point, number, e);
        t->epochs = t->budget;
        t->status = KS_TRIAL_COMPLETE;
    }
    /* bracket s=3 is trials 0..26 with rungs r = 1, 3, 9, 27: rung i+1 = top n_(i+1) of rung i */
    {
        static const int r[4] = {1, 3, 9, 27}, n[4] = {27, 9, 3, 1};
        for (int i = 0; i < 3; i++) {
            int wrong = 0, promoted = 0;
            for (int c = 0; c < 27; c++) {
                int better = 0;
                if (f.t[c].budget < r[i])
                    continue;
                for (int x = 0; x < 27; x++)
                    better += f.t[x].budget >= r[i] && value_at(&f.t[x], r[i]) >
                              value_at(&f.t[c], r[i]);
                promoted += f.t[c].budget >= r[i + 1];
                wrong += (better < n[i + 1]) != (f.t[c].budget >= r[i + 1]);
            }
            CHECK(promoted == n[i + 1] && wrong == 0, "rung %d: %d promoted, %d not the top %d",
                  i, promoted, wrong, n[i + 1]);
        }
    }
    CHECK(f.h.n == 49, "R=27: %d trials", f.h.n);
    /* a trial is done at R, the option, not at the fit's epochs (5 here): trials at 27
       epochs are final, those below may be promoted */
    CHECK(ks_sampler_hyperband_ops.full_budget &&
              ks_sampler_hyperband_ops.full_budget(&args, &f.h) == 27,
          "hyperband's full budget is max_epochs (27)");
    f.h.max_epochs = 30;
    CHECK(ks_sampler_hyperband_ops.full_budget(&args, &f.h) == 27,
          "max_epochs 27 below fit's 30 epochs: full budget %d",
          ks_sampler_hyperband_ops.full_budget(&args, &f.h));
    CHECK(!ks_sampler_grid_ops.full_budget && !ks_sampler_random_ops.full_budget &&
              !ks_sampler_bayesian_ops.full_budget,
          "grid, random, bayesian never promote: no full budget");
    fs_free(&f);

    /* options: errors */
    CHECK(!hb_args_make("{\"factr\": 3}", &args, &err) && strstr(err.msg, "\"factor\""),
          "unknown option: %s", err.msg);
    CHECK(!hb_args_make("{\"factor\": 1}", &args, &err), "factor 1 accepted");
    CHECK(hb_args_make("{}", &args, &err), "%s", err.msg);
    fs_init(&f, sp, 1, 0, 0, 3);
    CHECK(ks_sampler_hyperband_ops.check(&args, sp, &f.h, &err) == KS_ERR_CONFIG &&
          strstr(err.msg, "max_epochs"), "R = 0 accepted: %s", err.msg);
    printf("hyperband, no epochs: %s\n", err.msg);
    REQUIRE(hb_args_make("{\"max_epochs\": 100000, \"factor\": 2}", &args, &err), "%s", err.msg);
    CHECK(ks_sampler_hyperband_ops.check(&args, sp, &f.h, &err) == KS_ERR_CONFIG,
          "17 brackets accepted");
    printf("hyperband, too many brackets: %s\n", err.msg);
    REQUIRE(hb_args_make("{\"max_epochs\": 10}", &args, &err), "%s", err.msg);
    /* R = 10, η = 3: r = 10/9, 10/3, 10 rounded to 1, 3, 10 */
    CHECK(ks_sampler_hyperband_ops.check(&args, sp, &f.h, &err) == KS_OK, "%s", err.msg);
    CHECK(ask(&ks_sampler_hyperband_ops, &args, &f, &sg, pt) == KS_SUGGEST_OK &&
          sg.continue_trial == -1 && sg.budget == 1, "R=10: first budget %d", sg.budget);
    fs_free(&f);
    space_free(sp);
}

/*
 * Ask Hyperband and compare with the expected answer (trial −1: a new one); a promotion
 * is then applied to the history: the trial runs again with its new budget.
 */
static void expect(fake_study *f, const void *args, ks_suggest_result want, int trial,
                   int budget, const char *what)
{
    ks_suggestion sg;
    double pt[KS_MAX_SEARCH_PARAMS];
    ks_suggest_result r = ask(&ks_sampler_hyperband_ops, args, f, &sg, pt);
    CHECK(r == want && (r != KS_SUGGEST_OK || (sg.continue_trial == trial &&
                                               sg.budget == budget)),
          "%s: answer %d, trial %d, budget %d; want %d, %d, %d", what, r, sg.continue_trial,
          sg.budget, want, trial, budget);
    if (r == KS_SUGGEST_OK && sg.continue_trial >= 0 && sg.continue_trial < f->h.n) {
        f->t[sg.continue_trial].budget = sg.budget;
        f->t[sg.continue_trial].status = KS_TRIAL_RUNNING;
    }
}

/* Trial t's epochs so far become e, ending at value v (earlier epochs just below). */
static void report(fake_study *f, int t, int e, double v, ks_trial_status status)
{
    for (int i = f->t[t].epochs; i < e; i++)
        f->t[t].curve[i] = v - 0.001 * (e - 1 - i);
    f->t[t].epochs = e;
    f->t[t].status = status;
}

/*
 * Histories written by hand (R = 9, η = 3: bracket s=2 is trials 0..8 at 1 epoch, then
 * s=1 from trial 9 at 3 epochs): the answers worked out from the rule.
 */
static void test_hyperband_scripted(void)
{
    static const double acc[9] = {0.99, 0.50, 0.70, 0.95, 0.60, 0.65, 0.55, 0.80, 0.40};
    ks_space *sp = space_new();
    fake_study f;
    double pt[KS_MAX_SEARCH_PARAMS] = {0};
    hb_args_test args;
    ks_error err;
    add_param(sp, "x", KS_PARAM_FLOAT, 0, 1);
    REQUIRE(hb_args_make("{\"max_epochs\": 9}", &args, &err), "%s", err.msg);
    fs_init(&f, sp, 1, 0, 30, 5);
    for (int t = 0; t < 9; t++)
        report(&f, (int)(fs_add(&f, pt, 1) - f.t), 1, acc[t], KS_TRIAL_COMPLETE);
    f.t[0].status = KS_TRIAL_FAILED;        /* the best value, but failed: never promoted */
    f.t[3].status = KS_TRIAL_RUNNING;       /* pending: not ranked yet */
    f.t[3].epochs = 0;
    /* 8 completed rung 0 (one failed): top floor(8/3) = 2 are trials 7 (0.80) and 2 (0.70) */
    expect(&f, &args, KS_SUGGEST_OK, 7, 3, "first");
    expect(&f, &args, KS_SUGGEST_OK, 2, 3, "second");
    /* nothing to promote: a new configuration, the first of bracket s=1, at 3 epochs */
    expect(&f, &args, KS_SUGGEST_OK, -1, 3, "third");
    /* with max_trials 9, all started: wait for the pending trials */
    f.h.max_trials = 9;
    expect(&f, &args, KS_SUGGEST_WAIT, 0, 0, "all started");
    /* trial 3 ends at 0.95: 9 completed, top 3 = 3, 7, 2: trial 3 is promoted */
    report(&f, 3, 1, acc[3], KS_TRIAL_COMPLETE);
    expect(&f, &args, KS_SUGGEST_OK, 3, 3, "fourth");
    f.t[3].status = KS_TRIAL_INTERRUPTED;   /* interrupted: resumed by the controller, pending */
    /* 7 and 2 finish rung 1; 3 is still pending there, 2 completed: floor(2/3) = 0 */
    report(&f, 2, 3, 0.72, KS_TRIAL_COMPLETE);
    report(&f, 7, 3, 0.82, KS_TRIAL_COMPLETE);
    expect(&f, &args, KS_SUGGEST_WAIT, 0, 0, "interrupted trial pending");
    /* 3 completes rung 1 with the best value: floor(3/3) = 1, trial 3 goes to 9 epochs */
    report(&f, 3, 3, 0.97, KS_TRIAL_COMPLETE);
    expect(&f, &args, KS_SUGGEST_OK, 3, 9, "fifth");
    report(&f, 3, 5, 0.98, KS_TRIAL_FAILED);   /* fails on its way to R */
    expect(&f, &args, KS_SUGGEST_DONE, 0, 0, "the end");
    /* minimizing, the same values rank the other way: trial 8 (0.40) first */
    f.h.maximize = 0;
    f.h.max_trials = 0;
    for (int t = 0; t < 9; t++) {
        f.t[t].budget = f.t[t].epochs = 1;
        f.t[t].curve[0] = acc[t];
        f.t[t].status = KS_TRIAL_COMPLETE;
    }
    expect(&f, &args, KS_SUGGEST_OK, 8, 3, "minimizing");
    fs_free(&f);

    /*
     * R = 27: 27 configurations completed rung 0 (top 9 may go on), 24..26 were promoted
     * and completed rung 1 (top 1 may go on): the higher rung's promotion comes first.
     */
    REQUIRE(hb_args_make("{\"max_epochs\": 27}", &args, &err), "%s", err.msg);
    fs_init(&f, sp, 1, 0, 30, 5);
    for (int t = 0; t < 27; t++)
        report(&f, (int)(fs_add(&f, pt, t >= 24 ? 3 : 1) - f.t), t >= 24 ? 3 : 1,
               t / 100.0 + (t == 25 ? 0.2 : 0), KS_TRIAL_COMPLETE);
    expect(&f, &args, KS_SUGGEST_OK, 25, 9, "highest rung first");
    fs_free(&f);
    space_free(sp);
}

int main(void)
{
    test_grid();
    test_random();
    test_hyperband_table();
    test_hyperband_sim();
    test_hyperband_sync_exact();
    test_hyperband_scripted();
    return check_done();
}
