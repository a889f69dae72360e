/*
 * test_tpe.c — TPE: the Parzen estimators on small cases computed by hand (densities with
 * the C library's erf, not GSL), the proposal TPE chooses, trials that are not complete
 * (pruned, running) and parameters inactive in a trial, determinism (the same history
 * gives the same suggestion) and proposals that stay in the space (integers on their
 * grid, log ranges), driven through the sampler's ops table as the controller drives it.
 * BOHB's are in test_bohb.c.
 */
#include "sampler_history.h"

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
    return check_done();
}
