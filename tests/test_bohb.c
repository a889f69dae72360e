/*
 * test_bohb.c — BOHB: its KDE on a small case computed by hand (bandwidths, density,
 * proposals), the budget it models, the configuration it chooses, and a study driven
 * through its ops table as the controller drives it: proposals inside the space, the
 * same history giving the same suggestion, Hyperband's trials with random_fraction 1,
 * better configurations than Hyperband's with its defaults.
 */
#include "sampler_history.h"

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
    test_kde_by_hand();
    test_bohb_budget();
    test_bohb_chooses();
    test_bohb_study();
    return check_done();
}
