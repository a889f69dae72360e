/*
 * test_tpe.c — TPE and BOHB: the Parzen estimators and the KDEs on small cases computed by
 * hand (densities with the C library's erf, not GSL), the proposals they choose, trials
 * that are not complete (pruned, running) and parameters inactive in a trial, the
 * budget BOHB models, determinism (the same history gives the same suggestion) and
 * proposals that stay in the space (integers on their grid, log ranges), driven through
 * the samplers' ops tables as the controller drives them.
 */
#include "../search/search_impl.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define NEAR(a, b, tol) (fabs((double)(a) - (double)(b)) <= (tol) * (1.0 + fabs((double)(b))))

/* ------------------------------------------------------------- helpers */

static double phi_cdf(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

/* The density of N(mu, s²) truncated to [lo, hi] at x, from the C library's erfc. */
static double trunc_pdf(double x, double mu, double s, double lo, double hi)
{
    double z = (x - mu) / s;
    return exp(-0.5 * z * z) / (s * sqrt(2 * M_PI)) / (phi_cdf((hi - mu) / s) - phi_cdf((lo - mu) / s));
}

static ks_param float_param(const char *name, double lo, double hi, int log_scale)
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

static ks_param int_param(const char *name, double lo, double hi, double step, int log_scale)
{
    ks_param p = float_param(name, lo, hi, log_scale);
    p.kind = KS_PARAM_INT;
    p.step = step;
    return p;
}

static ks_param choice_param(const char *name, int n)
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

static void history_init(history *hi, const ks_space *sp, int maximize, int max_trials)
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
static void history_add(history *hi, const double *point, ks_trial_status status, double objective)
{
    int i = hi->h.n++;
    memcpy(hi->points[i], point, sizeof hi->points[i]);
    hi->curves[i][0] = objective;
    hi->v[i] = (ks_trial_view){i, hi->points[i], status, 1, isnan(objective) ? 0 : 1,
                               hi->curves[i], objective};
}

/* The method's options: the defaults, then the JSON text given (NULL: none). */
static void *method_args(const ks_sampler_ops *ops, const char *json)
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

static ks_suggest_result suggest(const ks_sampler_ops *ops, const void *args, const ks_history *h,
                                 double *point, ks_suggestion *sug)
{
    ks_error err;
    memset(sug, 0, sizeof *sug);
    sug->point = point;
    sug->continue_trial = -1;
    return ops->suggest(args, h, sug, &err);
}

/* Trial i trains on to epochs epochs of curve(point, epoch) (maximized). */
static void history_train(history *hi, int i, int epochs,
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
static int history_run(history *hi, const ks_sampler_ops *ops, const void *args, int steps,
                       double (*curve)(const double *point, int epoch))
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

/* ------------------------------------------------- the Parzen estimator by hand */

static const ks_parzen_options optuna_defaults = {1, 1.0, 1, 0, 0};

/* The n kernels of pe on its first parameter: equal weights, mus and sigmas as given. */
static void check_kernels(const ks_parzen *pe, int n, const double *mu, const double *sigma,
                          const char *what)
{
    CHECK(ks_parzen_kernels(pe) == n, "%s: %d kernels, expected %d", what, ks_parzen_kernels(pe),
          n);
    for (int k = 0; k < n && k < ks_parzen_kernels(pe); k++) {
        double w, m, s;
        ks_parzen_kernel(pe, k, 0, &w, &m, &s);
        CHECK(NEAR(w, 1.0 / n, 1e-12) && NEAR(m, mu[k], 1e-12) && NEAR(s, sigma[k], 1e-12),
              "%s: kernel %d: weight %g mu %g sigma %g, expected %g %g %g", what, k, w, m, s,
              1.0 / n, mu[k], sigma[k]);
    }
}

/*
 * x in [0, 10]: good trials at 2, 3, 7 and bad ones at 1, 4, 6, 8, 9.  With the prior
 * (mu 5) the good mus sort to 2 3 5 7 between the ends 0 and 10; the larger neighbour
 * gaps are 2 2 2 3, the lowest and highest take their inner gaps (1 and 2: no
 * consider_endpoints), and the magic clip raises all to 10/min(100, 3+2) = 2; the prior
 * has sigma 10.  The bad: 1 4 5 6 8 9 → 3 3 · 2 2 1, clipped below at 10/7.  Each kernel
 * weighs 1 (the prior too), so l = ¼ Σ and g = ⅙ Σ of truncated normal densities.
 */
static void test_parzen_by_hand(void)
{
    ks_space sp = {1, {float_param("x", 0, 10, 0)}};
    double good[3][1] = {{2}, {3}, {7}}, bad[5][1] = {{1}, {4}, {6}, {8}, {9}};
    const double *gp[3] = {good[0], good[1], good[2]};
    const double *bp[5] = {bad[0], bad[1], bad[2], bad[3], bad[4]};
    const double l_mu[4] = {2, 3, 7, 5}, l_sigma[4] = {2, 2, 2, 10};
    const double g_mu[6] = {1, 4, 6, 8, 9, 5}, g_sigma[6] = {3, 3, 2, 2, 10.0 / 7, 10};
    const double xs[3] = {2.5, 5, 8.5};
    /* the values below, from the formula in the comment (Python, math.erf) */
    const double l_at[3] = {0.138753643188, 0.110128606174, 0.066365180459};
    const double g_at[3] = {0.078259842983, 0.099617755172, 0.137649337297};
    int dim = 0;
    ks_parzen *l, *g;
    REQUIRE(ks_parzen_new(&sp, &dim, 1, gp, 3, &optuna_defaults, &l) == KS_OK, "parzen l");
    REQUIRE(ks_parzen_new(&sp, &dim, 1, bp, 5, &optuna_defaults, &g) == KS_OK, "parzen g");
    check_kernels(l, 4, l_mu, l_sigma, "l");
    check_kernels(g, 6, g_mu, g_sigma, "g");
    for (int i = 0; i < 3; i++) {
        double x[1] = {xs[i]}, lx = 0, gx = 0;
        for (int k = 0; k < 4; k++)
            lx += trunc_pdf(xs[i], l_mu[k], l_sigma[k], 0, 10) / 4;
        for (int k = 0; k < 6; k++)
            gx += trunc_pdf(xs[i], g_mu[k], g_sigma[k], 0, 10) / 6;
        CHECK(NEAR(lx, l_at[i], 1e-9) && NEAR(gx, g_at[i], 1e-9), "formula at %g: %.12f %.12f",
              xs[i], lx, gx);
        CHECK(NEAR(exp(ks_parzen_log_pdf(l, x)), l_at[i], 1e-9), "l(%g) = %.12f, expected %.12f",
              xs[i], exp(ks_parzen_log_pdf(l, x)), l_at[i]);
        CHECK(NEAR(exp(ks_parzen_log_pdf(g, x)), g_at[i], 1e-9), "g(%g) = %.12f, expected %.12f",
              xs[i], exp(ks_parzen_log_pdf(g, x)), g_at[i]);
    }
    ks_parzen_free(l);
    ks_parzen_free(g);

    /* without the magic clip and with the endpoints: the raw neighbour gaps */
    {
        ks_parzen_options o = {1, 1.0, 0, 1, 0};
        const double raw[4] = {2, 2, 3, 10};
        const double inner[4] = {1, 2, 2, 10};
        REQUIRE(ks_parzen_new(&sp, &dim, 1, gp, 3, &o, &l) == KS_OK, "parzen");
        check_kernels(l, 4, l_mu, raw, "endpoints, no clip");
        ks_parzen_free(l);
        o.consider_endpoints = 0;
        REQUIRE(ks_parzen_new(&sp, &dim, 1, gp, 3, &o, &l) == KS_OK, "parzen");
        check_kernels(l, 4, l_mu, inner, "no endpoints, no clip");
        ks_parzen_free(l);
    }
}

/* Categories: kernel k puts ¼ (prior_weight/(3+1)) on each of 3 values and 1 more on its
   observation's; rows normalized; the prior uniform.  Good 0, 0, 2 give P = 10/21, 4/21,
   7/21. */
static void test_parzen_choice(void)
{
    ks_space sp = {1, {choice_param("c", 3)}};
    double obs[3][1] = {{0}, {0}, {2}};
    const double *op[3] = {obs[0], obs[1], obs[2]};
    const double want[3] = {10.0 / 21, 4.0 / 21, 7.0 / 21};
    int dim = 0, counts[3] = {0, 0, 0};
    ks_parzen *pe;
    ks_rng *rng;
    REQUIRE(ks_parzen_new(&sp, &dim, 1, op, 3, &optuna_defaults, &pe) == KS_OK, "parzen");
    for (int v = 0; v < 3; v++) {
        double x[1] = {v};
        CHECK(NEAR(exp(ks_parzen_log_pdf(pe, x)), want[v], 1e-12), "P(%d) = %.12f, expected %.12f",
              v, exp(ks_parzen_log_pdf(pe, x)), want[v]);
    }
    /* draws follow those probabilities (chi-square, 2 degrees of freedom, p = 0.001: 13.8) */
    REQUIRE(ks_rng_new(1, 2, 3, &rng) == KS_OK, "rng");
    for (int i = 0; i < 21000; i++) {
        double x[1];
        ks_parzen_sample(pe, rng, x);
        counts[(int)x[0]]++;
    }
    {
        double chi2 = 0;
        for (int v = 0; v < 3; v++)
            chi2 += pow(counts[v] - 21000 * want[v], 2) / (21000 * want[v]);
        CHECK(chi2 < 13.8, "draws %d %d %d: chi-square %g", counts[0], counts[1], counts[2], chi2);
    }
    ks_rng_free(rng);
    ks_parzen_free(pe);
}

/*
 * An integer 1..5: cells [x − ½, x + ½], range [0.5, 5.5].  One observation at 2 and the
 * prior (mu 3): gaps 1 and 1 (no endpoints), clipped to 5/3; the prior sigma 5.  The mass
 * of 2 is ½ Σ over the two kernels of the cell's Gaussian mass over the range's.
 */
static void test_parzen_int(void)
{
    ks_space sp = {2, {int_param("n", 1, 5, 1, 0), int_param("w", 1, 1000, 1, 1)}};
    double obs[1][2] = {{2, 10}};
    const double *op[1] = {obs[0]};
    int dims[2] = {0, 1};
    ks_parzen *pe;
    double total = 0, s1 = 5.0 / 3;
    REQUIRE(ks_parzen_new(&sp, dims, 1, op, 1, &optuna_defaults, &pe) == KS_OK, "parzen");
    {
        double w, mu, s;
        ks_parzen_kernel(pe, 0, 0, &w, &mu, &s);
        CHECK(NEAR(mu, 2, 1e-12) && NEAR(s, s1, 1e-12) && NEAR(w, 0.5, 1e-12),
              "int kernel: mu %g sigma %g weight %g", mu, s, w);
    }
    for (int x = 1; x <= 5; x++) {
        double pt[2] = {x, 10}, m = exp(ks_parzen_log_pdf(pe, pt));
        total += m;
        if (x == 2) {
            double want = 0.5 * (phi_cdf(0.5 / s1) - phi_cdf(-0.5 / s1)) /
                              (phi_cdf(3.5 / s1) - phi_cdf(-1.5 / s1)) +
                          0.5 * (phi_cdf(-0.5 / 5) - phi_cdf(-1.5 / 5)) /
                              (phi_cdf(2.5 / 5) - phi_cdf(-2.5 / 5));
            CHECK(NEAR(m, want, 1e-12), "mass of 2: %.12f, expected %.12f", m, want);
        }
    }
    CHECK(NEAR(total, 1.0, 1e-12), "masses of 1..5 sum to %.15f", total);
    ks_parzen_free(pe);
    /* a log integer 1..1000: the masses of its 1000 values sum to 1 too */
    REQUIRE(ks_parzen_new(&sp, dims + 1, 1, op, 1, &optuna_defaults, &pe) == KS_OK, "parzen");
    total = 0;
    for (int x = 1; x <= 1000; x++) {
        double pt[2] = {3, x};
        total += exp(ks_parzen_log_pdf(pe, pt));
    }
    CHECK(NEAR(total, 1.0, 1e-9), "log int: masses of 1..1000 sum to %.15f", total);
    ks_parzen_free(pe);
}

/* Optuna's weights: 30 observations, the oldest 5 ramping 1/30 .. 1, then 25 of 1, the
   prior 1; normalized by their sum.  Multivariate bandwidths: 0.2 · 30^(−1/6) × width. */
static void test_parzen_weights(void)
{
    ks_space sp = {2, {float_param("a", 0, 1, 0), float_param("b", 1e-3, 1e-1, 1)}};
    double obs[30][2];
    const double *op[30];
    int dims[2] = {0, 1};
    ks_parzen_options mv = optuna_defaults;
    ks_parzen *pe;
    double sum = 26;
    for (int i = 0; i < 30; i++) {
        obs[i][0] = (i * 7 % 30) / 30.0;
        obs[i][1] = 1e-3 * pow(100, (i * 11 % 30) / 30.0);
        op[i] = obs[i];
    }
    for (int i = 0; i < 5; i++)
        sum += 1.0 / 30 + (1 - 1.0 / 30) * i / 4;
    REQUIRE(ks_parzen_new(&sp, dims, 2, op, 30, &optuna_defaults, &pe) == KS_OK, "parzen");
    for (int k = 0; k < 31; k++) {
        double w, mu, s, want = k < 5 ? (1.0 / 30 + (1 - 1.0 / 30) * k / 4) / sum : 1 / sum;
        ks_parzen_kernel(pe, k, 0, &w, &mu, &s);
        CHECK(NEAR(w, want, 1e-12), "weight %d: %.15f, expected %.15f", k, w, want);
    }
    ks_parzen_free(pe);
    mv.multivariate = 1;
    REQUIRE(ks_parzen_new(&sp, dims, 2, op, 30, &mv, &pe) == KS_OK, "parzen");
    {
        double w, mu, s, want_a = 0.2 * pow(30, -1.0 / 6), want_b = want_a * log(100);
        ks_parzen_kernel(pe, 3, 0, &w, &mu, &s);
        CHECK(NEAR(s, want_a, 1e-12) && NEAR(mu, obs[3][0], 1e-12), "multivariate a: sigma %g",
              s);
        ks_parzen_kernel(pe, 3, 1, &w, &mu, &s);
        CHECK(NEAR(s, want_b, 1e-12) && NEAR(mu, log(obs[3][1]), 1e-12),
              "multivariate b (log): sigma %g mu %g", s, mu);
    }
    ks_parzen_free(pe);
}

/* ------------------------------------------------------ TPE, the sampler */

/*
 * The hand case as a study: 8 complete trials (objective to minimize), gamma 0.375 makes
 * ceil(3) of them good.  The suggestion is the first of the 24 draws from l (stream
 * (seed, "tpe", 8)) with the largest l/g, l and g by the formula above.
 */
static void test_tpe_chooses(void)
{
    ks_space sp = {1, {float_param("x", 0, 10, 0)}};
    const double xs[8] = {1, 2, 4, 3, 6, 7, 8, 9}, ys[8] = {5, 1, 6, 2, 7, 3, 8, 9};
    const ks_sampler_ops *ops = ks_sampler_find("tpe");
    void *args;
    history hi;
    double point[1], best = -INFINITY, want = NAN;
    const double l_mu[4] = {2, 3, 7, 5}, l_sigma[4] = {2, 2, 2, 10};
    const double g_mu[6] = {1, 4, 6, 8, 9, 5}, g_sigma[6] = {3, 3, 2, 2, 10.0 / 7, 10};
    ks_suggestion sug;
    ks_parzen *l;
    ks_rng *rng;
    int dim = 0;
    REQUIRE(ops != NULL, "tpe is registered");
    args = method_args(ops, "{\"gamma\": 0.375, \"n_startup_trials\": 8}");
    history_init(&hi, &sp, 0, 20);
    for (int i = 0; i < 8; i++) {
        double p[KS_MAX_SEARCH_PARAMS] = {xs[i]};
        history_add(&hi, p, KS_TRIAL_COMPLETE, ys[i]);
    }
    REQUIRE(suggest(ops, args, &hi.h, point, &sug) == KS_SUGGEST_OK, "suggest");
    CHECK(sug.continue_trial == -1 && sug.budget == 1, "a new trial of the fit's epochs");
    /* the same draws, scored by hand */
    {
        double good[3][1] = {{2}, {3}, {7}};
        const double *gp[3] = {good[0], good[1], good[2]};
        REQUIRE(ks_parzen_new(&sp, &dim, 1, gp, 3, &optuna_defaults, &l) == KS_OK, "parzen");
    }
    REQUIRE(ks_rng_new(7, ks_hash_string("tpe"), 8, &rng) == KS_OK, "rng");
    for (int c = 0; c < 24; c++) {
        double x[1], lx = 0, gx = 0;
        ks_parzen_sample(l, rng, x);
        for (int k = 0; k < 4; k++)
            lx += trunc_pdf(x[0], l_mu[k], l_sigma[k], 0, 10) / 4;
        for (int k = 0; k < 6; k++)
            gx += trunc_pdf(x[0], g_mu[k], g_sigma[k], 0, 10) / 6;
        if (lx / gx > best) {
            best = lx / gx;
            want = x[0];
        }
    }
    CHECK(point[0] == want, "tpe chose %.12g, the best of the draws by hand is %.12g", point[0],
          want);
    CHECK(point[0] < 4, "the choice %g is near the good trials (2, 3)", point[0]);
    ks_rng_free(rng);
    ks_parzen_free(l);

    free(args);

    /* n_startup_trials (10) not reached: the random draw of the trial's number */
    args = method_args(ops, NULL);
    {
        double r[KS_MAX_SEARCH_PARAMS];
        REQUIRE(ks_sampler_random_point(&sp, 7, 8, r) == KS_OK, "random point");
        CHECK(suggest(ops, args, &hi.h, point, &sug) == KS_SUGGEST_OK && point[0] == r[0],
              "before n_startup_trials: %g, the random draw %g", point[0], r[0]);
    }
    free(args);
}

/*
 * A parameter inactive in a trial (a value that is not finite, as conditional spaces will
 * record it) is left out of that parameter's estimator: x of (2, –, 7) gives the kernels
 * of (2, 7) and the prior; a joint estimator leaves the whole point out.
 */
static void test_parzen_inactive(void)
{
    ks_space sp = {2, {float_param("x", 0, 10, 0), float_param("y", 0, 10, 0)}};
    double obs[3][2] = {{2, 1}, {NAN, 5}, {7, 3}}, two[2][2] = {{2, 1}, {7, 3}};
    const double *op[3] = {obs[0], obs[1], obs[2]}, *tp[2] = {two[0], two[1]};
    int dims[2] = {0, 1};
    ks_parzen *pe, *ref;
    REQUIRE(ks_parzen_new(&sp, dims, 1, op, 3, &optuna_defaults, &pe) == KS_OK, "parzen");
    REQUIRE(ks_parzen_new(&sp, dims, 1, tp, 2, &optuna_defaults, &ref) == KS_OK, "parzen");
    {
        /* sorted 2 5 7 in [0, 10]: inner gaps 3 and 2 at the ends, clipped below at 10/4 */
        const double mu[3] = {2, 7, 5}, sigma[3] = {3, 2.5, 10};
        double w, m, s;
        CHECK(ks_parzen_kernels(pe) == 3, "x: %d kernels, expected 3 (2, 7, the prior)",
              ks_parzen_kernels(pe));
        for (int k = 0; k < 3 && k < ks_parzen_kernels(pe); k++) {
            double rw, rm, rs;
            ks_parzen_kernel(pe, k, 0, &w, &m, &s);
            ks_parzen_kernel(ref, k, 0, &rw, &rm, &rs);
            CHECK(m == mu[k] && NEAR(s, sigma[k], 1e-12) && w == rw && m == rm && s == rs,
                  "x kernel %d: weight %g mu %g sigma %g; without the inactive trial %g %g %g",
                  k, w, m, s, rw, rm, rs);
        }
    }
    for (double x = 0.5; x < 10; x += 1.5) {
        double pt[2] = {x, 0};
        CHECK(ks_parzen_log_pdf(pe, pt) == ks_parzen_log_pdf(ref, pt), "log l(%g) differs", x);
    }
    ks_parzen_free(pe);
    REQUIRE(ks_parzen_new(&sp, dims, 2, op, 3, &optuna_defaults, &pe) == KS_OK, "parzen");
    CHECK(ks_parzen_kernels(pe) == 3, "x and y: %d kernels, expected 3", ks_parzen_kernels(pe));
    ks_parzen_free(pe);
    ks_parzen_free(ref);
}

/* The suggestion of tpe with options for a history of the hand case's 8 trials and one
   more at x given by its status, epochs reached, last value and objective. */
static void tpe_ninth(const char *options, double x, ks_trial_status status, int epochs,
                      double last, double objective, double *point)
{
    ks_space sp = {1, {float_param("x", 0, 10, 0)}};
    const double xs[8] = {1, 2, 4, 3, 6, 7, 8, 9}, ys[8] = {5, 1, 6, 2, 7, 3, 8, 9};
    const ks_sampler_ops *ops = ks_sampler_find("tpe");
    void *args = method_args(ops, options);
    static history hi;
    ks_suggestion sug;
    history_init(&hi, &sp, 0, 20);
    for (int i = 0; i < 8; i++) {
        double p[KS_MAX_SEARCH_PARAMS] = {xs[i]};
        history_add(&hi, p, KS_TRIAL_COMPLETE, ys[i]);
    }
    {
        double p[KS_MAX_SEARCH_PARAMS] = {x};
        history_add(&hi, p, status, objective);
        hi.v[8].epochs = epochs;
        for (int e = 0; e < epochs; e++)
            hi.curves[8][e] = e + 1 < epochs ? objective : last;
    }
    REQUIRE(suggest(ops, args, &hi.h, point, &sug) == KS_SUGGEST_OK, "suggest");
    free(args);
}

/*
 * Trials that are not complete, in Optuna's order.  A pruned trial ranks after every
 * complete one whatever its value: with 3 good of 9 (gamma 0.3) a pruned trial at 9.5 of
 * objective 0 (the best, minimizing) is bad, as a complete one of 100 is.  With
 * constant_liar a running trial counts among the bad: 8 finished (gamma 0.375: 3 good)
 * and one running at 2.4 (beside the choice without it, 2.35) suggest as 9 finished with
 * 2.4 the worst.  Each is checked against the history that would differ if the rule were
 * not kept.
 */
static void test_tpe_unfinished(void)
{
    const char *g3 = "{\"gamma\": 0.3, \"n_startup_trials\": 8}";
    double worst[1], pruned[1], best[1], liar[1], no_liar[1], worst2[1];
    tpe_ninth(g3, 9.5, KS_TRIAL_COMPLETE, 1, 100, 100, worst);
    tpe_ninth(g3, 9.5, KS_TRIAL_PRUNED, 1, 0, 0, pruned);
    tpe_ninth(g3, 9.5, KS_TRIAL_COMPLETE, 1, 0, 0, best);
    CHECK(pruned[0] == worst[0], "pruned at 9.5: %.12g, as the worst complete: %.12g", pruned[0],
          worst[0]);
    CHECK(best[0] != worst[0], "the best complete at 9.5 changes the suggestion (%.12g)",
          best[0]);
    tpe_ninth(g3, 2.4, KS_TRIAL_COMPLETE, 1, 100, 100, worst2);
    tpe_ninth("{\"gamma\": 0.375, \"n_startup_trials\": 8, \"constant_liar\": true}", 2.4,
              KS_TRIAL_RUNNING, 0, NAN, NAN, liar);
    tpe_ninth("{\"gamma\": 0.375, \"n_startup_trials\": 8}", 2.4, KS_TRIAL_RUNNING, 0, NAN,
              NAN, no_liar);
    CHECK(liar[0] == worst2[0], "constant_liar, running at 2.4: %.12g, as the worst: %.12g",
          liar[0], worst2[0]);
    CHECK(no_liar[0] != worst2[0], "without constant_liar the running trial is left out (%.12g)",
          no_liar[0]);
}

/*
 * Pruned trials among themselves: more epochs first, then the last value.  9 good of 10
 * (gamma 0.9): the 8 complete and the better pruned one.  Pruned at 0.5 after 3 epochs
 * (last 50) against one at 9.5 after 1 (last 0): the one at 0.5 is good, as when it is
 * complete with 99 and the other complete with 100.
 */
static void test_tpe_pruned_order(void)
{
    ks_space sp = {1, {float_param("x", 0, 10, 0)}};
    const double xs[8] = {1, 2, 4, 3, 6, 7, 8, 9}, ys[8] = {5, 1, 6, 2, 7, 3, 8, 9};
    const ks_sampler_ops *ops = ks_sampler_find("tpe");
    void *args = method_args(ops, "{\"gamma\": 0.9, \"n_startup_trials\": 8}");
    static history hp, hc, hs;
    double got[3][1];
    history *his[3] = {&hp, &hc, &hs};
    for (int v = 0; v < 3; v++) {
        history *hi = his[v];
        ks_suggestion sug;
        double a[KS_MAX_SEARCH_PARAMS] = {0.5}, b[KS_MAX_SEARCH_PARAMS] = {9.5};
        history_init(hi, &sp, 0, 20);
        for (int i = 0; i < 8; i++) {
            double p[KS_MAX_SEARCH_PARAMS] = {xs[i]};
            history_add(hi, p, KS_TRIAL_COMPLETE, ys[i]);
        }
        if (v == 0) {           /* pruned: 0.5 after 3 epochs (last 50), 9.5 after 1 (0) */
            history_add(hi, a, KS_TRIAL_PRUNED, 40);
            hi->v[8].epochs = 3;
            hi->curves[8][1] = 45;
            hi->curves[8][2] = 50;
            history_add(hi, b, KS_TRIAL_PRUNED, 0);
        } else if (v == 1) {    /* complete: 0.5 with 99, 9.5 with 100 */
            history_add(hi, a, KS_TRIAL_COMPLETE, 99);
            history_add(hi, b, KS_TRIAL_COMPLETE, 100);
        } else {                /* complete the other way round */
            history_add(hi, a, KS_TRIAL_COMPLETE, 100);
            history_add(hi, b, KS_TRIAL_COMPLETE, 99);
        }
        REQUIRE(suggest(ops, args, &hi->h, got[v], &sug) == KS_SUGGEST_OK, "suggest");
    }
    CHECK(got[0][0] == got[1][0], "pruned: %.12g, as 0.5 good: %.12g", got[0][0], got[1][0]);
    CHECK(got[2][0] != got[1][0], "9.5 good instead changes the suggestion (%.12g)", got[2][0]);
    free(args);
}

/* A smooth function of the mixed space below, smallest at (40, 3e-3, 30, value 2). */
static double mixed_objective(const double *p)
{
    return pow((p[0] - 40) / 90, 2) + pow(log10(p[1] / 3e-3), 2) / 9 +
           pow(log10(p[2] / 30), 2) / 9 + (p[3] == 2 ? 0 : 0.3);
}

static int in_space(const ks_space *sp, const double *p)
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

/*
 * A study of 120 trials on a space of every kind (an int on a step-5 grid, a log float, a
 * log int, a choice), univariate and multivariate: every proposal in the space; the same
 * history gives the same suggestion; and the best trial is better than random search's
 * with the same seed and number of trials (the same first 10 trials: TPE starts with
 * random search's draws).
 */
static void test_tpe_study(const char *options, const char *what)
{
    ks_space sp = {4, {int_param("units", 10, 100, 5, 0), float_param("lr", 1e-4, 1e-1, 1),
                       int_param("width", 1, 1000, 1, 1), choice_param("act", 4)}};
    const ks_sampler_ops *ops = ks_sampler_find("tpe"), *rnd = ks_sampler_find("random");
    void *args = method_args(ops, options), *rargs = method_args(rnd, NULL);
    static history hi, hr;
    double best_tpe = INFINITY, best_random = INFINITY;
    int outside = 0, changed = 0;
    history_init(&hi, &sp, 0, 120);
    history_init(&hr, &sp, 0, 120);
    for (int t = 0; t < 120; t++) {
        double p[KS_MAX_SEARCH_PARAMS], again[KS_MAX_SEARCH_PARAMS], r[KS_MAX_SEARCH_PARAMS];
        ks_suggestion sug;
        REQUIRE(suggest(ops, args, &hi.h, p, &sug) == KS_SUGGEST_OK, "%s: suggest %d", what, t);
        REQUIRE(suggest(ops, args, &hi.h, again, &sug) == KS_SUGGEST_OK, "suggest");
        changed += memcmp(p, again, sizeof(double) * 4) != 0;
        outside += !in_space(&sp, p);
        history_add(&hi, p, KS_TRIAL_COMPLETE, mixed_objective(p));
        best_tpe = fmin(best_tpe, mixed_objective(p));
        REQUIRE(suggest(rnd, rargs, &hr.h, r, &sug) == KS_SUGGEST_OK, "random %d", t);
        history_add(&hr, r, KS_TRIAL_COMPLETE, mixed_objective(r));
        best_random = fmin(best_random, mixed_objective(r));
        if (t < 10)
            CHECK(memcmp(p, r, sizeof(double) * 4) == 0, "%s: trial %d is random search's", what,
                  t);
    }
    CHECK(outside == 0, "%s: %d proposals outside the space or off the grid", what, outside);
    CHECK(changed == 0, "%s: %d suggestions differ for the same history", what, changed);
    CHECK(best_tpe < best_random, "%s: best %g, random search's %g", what, best_tpe, best_random);
    {
        ks_suggestion sug;
        double p[KS_MAX_SEARCH_PARAMS];
        CHECK(suggest(ops, args, &hi.h, p, &sug) == KS_SUGGEST_DONE, "%s: done at max_trials",
              what);
    }
    free(args);
    free(rargs);
}

/* -------------------------------------------------------------- BOHB's KDE */

/*
 * Four points of (x continuous, c of 3 values): x 0.1 0.2 0.4 0.7, c 0 0 1 2.  The normal
 * reference rule: 1.06 · sd · 4^(−1/6), sd over the points: x 0.229129 → 0.192771;
 * c 0.829156 → 0.697588, above (3 − 1)/3: λ = ⅔.  The density at (0.3, 1) is ¼ Σ of
 * φ((0.3 − x_i)/h)/h × (1 − λ if c_i = 1 else λ/2): 0.422209939472 (Python, math.exp).
 */
static void test_kde_by_hand(void)
{
    const double data[8] = {0.1, 0, 0.2, 0, 0.4, 1, 0.7, 2};
    const int levels[2] = {0, 3};
    const double flat[6] = {0.5, 1, 0.5, 1, 0.5, 1};
    double x[2] = {0.3, 1}, h, keep = 0;
    ks_kde *k;
    ks_rng *rng;
    int kept = 0, inside = 1;
    REQUIRE(ks_kde_fit(data, 4, 2, levels, 1e-3, &k) == KS_OK, "kde");
    h = 1.06 * pow(4, -1.0 / 6) * sqrt(0.0525);
    CHECK(NEAR(ks_kde_bandwidths(k)[0], h, 1e-12) && NEAR(ks_kde_bandwidths(k)[0], 0.192771215, 1e-8),
          "bandwidth of x: %.12f", ks_kde_bandwidths(k)[0]);
    CHECK(NEAR(ks_kde_bandwidths(k)[1], 2.0 / 3, 1e-12), "bandwidth of c (capped): %.12f",
          ks_kde_bandwidths(k)[1]);
    CHECK(NEAR(exp(ks_kde_log_pdf(k, x)), 0.422209939472, 1e-10), "kde(0.3, 1) = %.12f",
          exp(ks_kde_log_pdf(k, x)));
    /* proposals: x within [0, 1]; c kept with probability 1 − λ, else uniform */
    REQUIRE(ks_rng_new(5, 6, 7, &rng) == KS_OK, "rng");
    for (int i = 0; i < 30000; i++) {
        double u[2];
        ks_kde_propose(k, rng, 3, u);
        inside &= u[0] >= 0 && u[0] <= 1 && (u[1] == 0 || u[1] == 1 || u[1] == 2);
        /* which point was chosen is not visible; c = 2 comes from the point (0.7, 2) kept
           or from any point redrawn: ¼(1 − λ) + λ/3 */
        kept += u[1] == 2;
    }
    keep = 0.25 * (1 - 2.0 / 3) + (2.0 / 3) / 3;
    CHECK(inside, "proposals inside [0, 1] and on the values");
    CHECK(fabs(kept / 30000.0 - keep) < 4 * sqrt(keep * (1 - keep) / 30000), "P(c = 2) %g, expected %g",
          kept / 30000.0, keep);
    ks_rng_free(rng);
    ks_kde_free(k);
    /* a column without spread takes min_bandwidth */
    REQUIRE(ks_kde_fit(flat, 3, 2, levels, 1e-3, &k) == KS_OK, "kde");
    CHECK(ks_kde_bandwidths(k)[0] == 1e-3 && ks_kde_bandwidths(k)[1] == 1e-3,
          "no spread: bandwidths %g %g", ks_kde_bandwidths(k)[0], ks_kde_bandwidths(k)[1]);
    ks_kde_free(k);
}

/* ---------------------------------------------------------- BOHB's budget */

/* A trial of the given budget, epochs and status whose curve is value at every epoch. */
static void add_at(history *hi, double x, int c, int budget, int epochs, ks_trial_status st,
                   double value)
{
    double p[KS_MAX_SEARCH_PARAMS] = {x, c};
    int i = hi->h.n;
    history_add(hi, p, st, value);
    for (int e = 0; e < epochs; e++)
        hi->curves[i][e] = value + 0.01 * e;    /* better with epochs */
    hi->v[i].budget = budget;
    hi->v[i].epochs = epochs;
    hi->v[i].objective = epochs > 0 ? value + 0.01 * (epochs - 1) : NAN;
}

/*
 * (x, c), d = 2: at least 3 good and 3 bad points.  Budgets 1 and 3.  Ten trials at
 * budget 1 (five of them went on to 3): at 3, N = 5 gives 3 good and only 2 bad, so the
 * model is budget 1's (N = 10: 3 good, 7 bad).  A sixth result at 3 moves it there; a
 * trial still running below 3 epochs does not count, one that failed before 3 counts as
 * bad.  The good KDE's bandwidth of x is the rule's over the three best at that budget.
 */
/* BOHB's model of the history over budgets 1 and 3: checks the budget it models and the
   good KDE's bandwidth of x; returns the model (the caller frees it with model_free). */
static ks_bohb_model check_model(const void *args, const history *hi, int budget, double h,
                                 const char *what)
{
    const int budgets[2] = {1, 3};
    ks_bohb_model m;
    memset(&m, 0, sizeof m);
    CHECK(ks_bohb_fit_model(args, &hi->h, budgets, 2, &m) == KS_OK, "%s: model", what);
    CHECK(m.budget == budget, "%s: the model is budget %d's, expected %d", what, m.budget, budget);
    CHECK(h == 0 || (m.good && NEAR(ks_kde_bandwidths(m.good)[0], h, 1e-12)),
          "%s: good bandwidth of x %.12f, expected %.12f", what,
          m.good ? ks_kde_bandwidths(m.good)[0] : NAN, h);
    return m;
}

static void model_free(ks_bohb_model *m)
{
    ks_kde_free(m->good);
    ks_kde_free(m->bad);
}

static void test_bohb_budget(void)
{
    ks_space sp = {2, {float_param("x", 0, 1, 0), choice_param("c", 3)}};
    const ks_sampler_ops *ops = ks_sampler_find("bohb");
    void *args;
    static history hi;
    const double xs[10] = {0.05, 0.15, 0.25, 0.35, 0.45, 0.55, 0.65, 0.75, 0.85, 0.95};
    /* the good x: three 0.1 apart, sd sqrt(2·0.1²/3) */
    const double h = 1.06 * pow(3, -1.0 / 6) * sqrt(((0.1 * 0.1) * 2) / 3);
    ks_bohb_model m;
    REQUIRE(ops != NULL, "bohb is registered");
    args = method_args(ops, NULL);
    history_init(&hi, &sp, 1, 0);
    /* values: 0.9 for trial 0 down by 0.05; trials 5..9 went on to budget 3 */
    for (int i = 0; i < 10; i++)
        add_at(&hi, xs[i], i % 3, i >= 5 ? 3 : 1, i >= 5 ? 3 : 1, KS_TRIAL_COMPLETE, 0.9 - 0.05 * i);
    /* the three best at budget 1: trials 0, 1, 2 (x 0.05 0.15 0.25) */
    m = check_model(args, &hi, 1, h, "5 results at 3");
    model_free(&m);
    add_at(&hi, 0.5, 0, 3, 1, KS_TRIAL_RUNNING, 0.2);       /* pending below 3 */
    m = check_model(args, &hi, 1, 0, "a running trial below 3 epochs");
    model_free(&m);
    add_at(&hi, 0.5, 1, 3, 2, KS_TRIAL_FAILED, 0.95);      /* failed before 3: bad */
    /* at 3, the best are trials 5, 6, 7 (x 0.55 0.65 0.75), not the failed one */
    m = check_model(args, &hi, 3, h, "6 results at 3");
    {
        /* c of trials 5, 6, 7: 2, 0, 1, so λ = ⅔ (capped); at (0.65, 2) the kernels of
           x 0.55 and 0.75 weigh φ(0.1/h)/h, 0.65's φ(0)/h, and c gives 1 − λ = ⅓ to the
           first (c = 2) and λ/2 = ⅓ to the others */
        double z = exp(-0.5 * pow(0.1 / h, 2)), want = (2 * z + 1) / (h * sqrt(2 * M_PI)) / 9;
        double at[2] = {0.65, 2};
        CHECK(m.good && NEAR(exp(ks_kde_log_pdf(m.good, at)), want, 1e-10),
              "good density at (0.65, 2): %.12f, expected %.12f",
              m.good ? exp(ks_kde_log_pdf(m.good, at)) : NAN, want);
    }
    model_free(&m);
    free(args);
}

/* ---------------------------------------------------- BOHB, the sampler */

/* Learning curves of the (x, c) space: best at x = 0.3, c = 1; noisy at low epochs. */
static double xc_curve(const double *p, int epoch)
{
    double q = 1 - pow(p[0] - 0.3, 2) - (p[1] == 1 ? 0 : 0.2);
    return q * (1 - pow(0.5, epoch + 1)) + 0.05 * sin(977 * p[0] + 7 * epoch) / (epoch + 1);
}

/*
 * R = 3, η = 3 (budgets 1 and 3), random_fraction 0: once budget 1 has a model, a new
 * configuration is the first of the 64 proposals from the good KDE (stream (seed, "bohb",
 * n) after the one uniform draw for the random fraction) with the largest l/g, decoded
 * (x in [0, 1] is its coordinate; c the value's index).
 */
static void test_bohb_chooses(void)
{
    ks_space sp = {2, {float_param("x", 0, 1, 0), choice_param("c", 3)}};
    const ks_sampler_ops *ops = ks_sampler_find("bohb");
    void *args = method_args(ops, "{\"max_epochs\": 3, \"random_fraction\": 0}");
    static history hi;
    const int budgets[2] = {1, 3};
    int compared = 0;
    history_init(&hi, &sp, 1, 60);
    hi.h.max_epochs = 3;
    while (hi.h.n < 60 && compared < 5) {
        double p[KS_MAX_SEARCH_PARAMS] = {0}, best_u[2] = {NAN, NAN}, best = -INFINITY;
        ks_suggestion sug;
        ks_bohb_model m;
        ks_rng *rng;
        REQUIRE(ks_bohb_fit_model(args, &hi.h, budgets, 2, &m) == KS_OK, "model");
        REQUIRE(suggest(ops, args, &hi.h, p, &sug) == KS_SUGGEST_OK, "suggest");
        if (sug.continue_trial >= 0 || !m.good) {
            ks_kde_free(m.good);
            ks_kde_free(m.bad);
            history_run(&hi, ops, args, 1, xc_curve);
            continue;
        }
        REQUIRE(ks_rng_new(hi.h.seed, ks_hash_string("bohb"), (uint64_t)hi.h.n, &rng) == KS_OK,
                "rng");
        ks_rng_uniform(rng);
        for (int c = 0; c < 64; c++) {
            double u[2], score;
            ks_kde_propose(m.good, rng, 3, u);
            score = ks_kde_log_pdf(m.good, u) - ks_kde_log_pdf(m.bad, u);
            if (score > best) {
                best = score;
                memcpy(best_u, u, sizeof u);
            }
        }
        CHECK(p[0] == best_u[0] && p[1] == best_u[1],
              "trial %d (model at %d): bohb chose (%.12g, %g), the best proposal is (%.12g, %g)",
              hi.h.n, m.budget, p[0], p[1], best_u[0], best_u[1]);
        compared++;
        ks_rng_free(rng);
        ks_kde_free(m.good);
        ks_kde_free(m.bad);
        history_run(&hi, ops, args, 1, xc_curve);
    }
    CHECK(compared == 5, "%d model-based choices compared", compared);
    free(args);
}

/* The mixed space's curves (maximized): 1 − the objective above, noisy at low epochs. */
static double mixed_curve(const double *p, int epoch)
{
    return (1 - mixed_objective(p)) * (1 - pow(0.6, epoch + 1)) +
           0.03 * sin(131 * p[0] + 17 * log(p[1]) + 5 * epoch) / (epoch + 1);
}

/* The best objective of the trials that reached budget. */
static double best_at(const history *hi, int budget)
{
    double best = -INFINITY;
    for (int i = 0; i < hi->h.n; i++)
        if (hi->v[i].epochs >= budget)
            best = fmax(best, hi->v[i].objective);
    return best;
}

/*
 * BOHB on the space of every kind, R = 9, η = 3, 400 configurations: every proposal in
 * the space, the same history gives the same suggestion; with random_fraction 1 it is
 * Hyperband, suggestion for suggestion; with the defaults its later configurations are
 * much better on average than Hyperband's with the same seed.
 */
static void test_bohb_study(void)
{
    ks_space sp = {4, {int_param("units", 10, 100, 5, 0), float_param("lr", 1e-4, 1e-1, 1),
                       int_param("width", 1, 1000, 1, 1), choice_param("act", 4)}};
    const ks_sampler_ops *ops = ks_sampler_find("bohb"), *hb = ks_sampler_find("hyperband");
    void *args = method_args(ops, "{\"max_epochs\": 9}");
    void *all_random = method_args(ops, "{\"max_epochs\": 9, \"random_fraction\": 1}");
    void *hargs = method_args(hb, "{\"max_epochs\": 9}");
    static history hi, hh, hr;
    int outside = 0, changed = 0, differ = 0, steps = 0;
    history_init(&hi, &sp, 1, 400);
    history_init(&hh, &sp, 1, 400);
    history_init(&hr, &sp, 1, 400);
    for (;;) {
        double p[KS_MAX_SEARCH_PARAMS] = {0}, again[KS_MAX_SEARCH_PARAMS] = {0};
        ks_suggestion sug, sug2;
        if (suggest(ops, args, &hi.h, p, &sug) != KS_SUGGEST_OK)
            break;
        REQUIRE(suggest(ops, args, &hi.h, again, &sug2) == KS_SUGGEST_OK, "suggest");
        changed += memcmp(p, again, sizeof(double) * 4) != 0 ||
                   sug.continue_trial != sug2.continue_trial || sug.budget != sug2.budget;
        outside += sug.continue_trial < 0 && !in_space(&sp, p);
        REQUIRE(history_run(&hi, ops, args, 1, mixed_curve) == 1, "step");
        steps++;
    }
    CHECK(hi.h.n == 400, "bohb ran %d configurations", hi.h.n);
    CHECK(outside == 0, "%d proposals outside the space or off the grid", outside);
    CHECK(changed == 0, "%d suggestions differ for the same history", changed);
    /* all random: Hyperband's trials, one for one */
    history_run(&hh, hb, hargs, 100000, mixed_curve);
    history_run(&hr, ops, all_random, 100000, mixed_curve);
    CHECK(hh.h.n == hr.h.n && hh.h.n == 400, "trials %d and %d", hh.h.n, hr.h.n);
    for (int i = 0; i < hh.h.n && i < hr.h.n; i++)
        differ += memcmp(hh.points[i], hr.points[i], sizeof(double) * 4) != 0 ||
                  hh.v[i].epochs != hr.v[i].epochs;
    CHECK(differ == 0, "random_fraction 1: %d trials differ from Hyperband's", differ);
    {
        /* the models at work: configurations 100..399 are better on average (the best of
           400 is luck on both sides: Hyperband's random draws come near the optimum too) */
        double qb = 0, qh = 0;
        for (int i = 100; i < 400; i++) {
            qb += (1 - mixed_objective(hi.points[i])) / 300;
            qh += (1 - mixed_objective(hh.points[i])) / 300;
        }
        CHECK(qb > qh + 0.2, "mean quality of configurations 100-399: bohb %.3f, hyperband %.3f",
              qb, qh);
        CHECK(best_at(&hi, 9) > 0.9, "bohb's best at 9 epochs %g", best_at(&hi, 9));
    }
    free(args);
    free(all_random);
    free(hargs);
}

int main(void)
{
    test_parzen_by_hand();
    test_parzen_choice();
    test_parzen_int();
    test_parzen_weights();
    test_parzen_inactive();
    test_tpe_chooses();
    test_tpe_unfinished();
    test_tpe_pruned_order();
    test_tpe_study(NULL, "univariate");
    test_tpe_study("{\"multivariate\": true}", "multivariate");
    test_kde_by_hand();
    test_bohb_budget();
    test_bohb_chooses();
    test_bohb_study();
    return check_done();
}
