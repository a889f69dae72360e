/*
 * test_tpe.c — TPE and BOHB: the Parzen estimators and the KDEs on small cases computed by
 * hand (densities with the C library's erf, not GSL), the proposals they choose, the
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

/* A history of complete trials (points and objectives), one epoch each. */
typedef struct history {
    ks_history h;
    ks_trial_view v[600];
    double points[600][KS_MAX_SEARCH_PARAMS];
    double curves[600];
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

static void history_add(history *hi, const double *point, ks_trial_status status, double objective)
{
    int i = hi->h.n++;
    memcpy(hi->points[i], point, sizeof hi->points[i]);
    hi->curves[i] = objective;
    hi->v[i] = (ks_trial_view){i, hi->points[i], status, 1, isnan(objective) ? 0 : 1,
                               hi->curves + i, objective};
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

/* ------------------------------------------------- the Parzen estimator by hand */

static const ks_parzen_options optuna_defaults = {1, 1.0, 1, 0, 0};

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
    CHECK(ks_parzen_kernels(l) == 4 && ks_parzen_kernels(g) == 6, "kernels %d %d",
          ks_parzen_kernels(l), ks_parzen_kernels(g));
    for (int k = 0; k < 4; k++) {
        double w, mu, s;
        ks_parzen_kernel(l, k, 0, &w, &mu, &s);
        CHECK(NEAR(w, 0.25, 1e-12) && NEAR(mu, l_mu[k], 1e-12) && NEAR(s, l_sigma[k], 1e-12),
              "l kernel %d: weight %g mu %g sigma %g", k, w, mu, s);
    }
    for (int k = 0; k < 6; k++) {
        double w, mu, s;
        ks_parzen_kernel(g, k, 0, &w, &mu, &s);
        CHECK(NEAR(w, 1.0 / 6, 1e-12) && NEAR(mu, g_mu[k], 1e-12) && NEAR(s, g_sigma[k], 1e-12),
              "g kernel %d: weight %g mu %g sigma %g", k, w, mu, s);
    }
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
        REQUIRE(ks_parzen_new(&sp, &dim, 1, gp, 3, &o, &l) == KS_OK, "parzen");
        for (int k = 0; k < 4; k++) {
            double w, mu, s;
            ks_parzen_kernel(l, k, 0, &w, &mu, &s);
            CHECK(NEAR(s, raw[k], 1e-12), "endpoints, no clip: kernel %d sigma %g, expected %g",
                  k, s, raw[k]);
        }
        ks_parzen_free(l);
        o.consider_endpoints = 0;
        REQUIRE(ks_parzen_new(&sp, &dim, 1, gp, 3, &o, &l) == KS_OK, "parzen");
        {
            const double inner[4] = {1, 2, 2, 10};
            for (int k = 0; k < 4; k++) {
                double w, mu, s;
                ks_parzen_kernel(l, k, 0, &w, &mu, &s);
                CHECK(NEAR(s, inner[k], 1e-12), "no endpoints: kernel %d sigma %g, expected %g",
                      k, s, inner[k]);
            }
        }
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

int main(void)
{
    test_parzen_by_hand();
    test_parzen_choice();
    test_parzen_int();
    test_parzen_weights();
    test_tpe_chooses();
    test_tpe_study(NULL, "univariate");
    test_tpe_study("{\"multivariate\": true}", "multivariate");
    return check_done();
}
