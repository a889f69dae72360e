/*
 * test_bayesian.c — the Gaussian process against its closed form (posterior mean and
 * variance written out here), its hyperparameter fit on held-out points, expected
 * improvement against its formula, and the bayesian sampler: it beats random search on
 * Branin within 30 evaluations (10 seeds), constant liars, determinism, degenerate cases.
 */
#include "../search/search_impl.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ helpers */

/* Matérn 5/2 with variance sf2 at distance r (already divided by the length scale). */
static double matern(double sf2, double r)
{
    return sf2 * (1 + sqrt(5.0) * r + 5.0 * r * r / 3.0) * exp(-sqrt(5.0) * r);
}

static double near(double a, double b, double tol)
{
    return fabs(a - b) <= tol * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* Inverse of a 3×3 matrix by its adjugate. */
static void inverse3(const double m[3][3], double inv[3][3])
{
    double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                 m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                 m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            /* cofactor of (j, i) */
            int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
            inv[i][j] = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
        }
}

/* Population mean and standard deviation: the standardization gp.c documents. */
static void mean_sd(const double *y, int n, double *m, double *s)
{
    double a = 0, v = 0;
    for (int i = 0; i < n; i++)
        a += y[i];
    a /= n;
    for (int i = 0; i < n; i++)
        v += (y[i] - a) * (y[i] - a);
    *m = a;
    *s = sqrt(v / n);
}

/* ------------------------------------------------- GP: the closed form */

/*
 * ks_gp_fit_fixed's hyperparameters are in units of the standardized outputs
 * z = (y − mean)/sd (population sd); so here: μ = mean + sd·k*ᵀK⁻¹z and
 * var = sd²·(sf2 − k*ᵀK⁻¹k*), with K = sf2·M + sn2·I.
 */
static void test_gp_closed_form_1d(void)
{
    const double x[3] = {0.1, 0.4, 0.8}, y[3] = {1.0, 2.5, 0.3};
    const double ls = 0.3, sf2 = 1.3, sn2 = 0.01;
    const double xs[5] = {0.0, 0.25, 0.4, 0.63, 0.95};
    double K[3][3], Ki[3][3], z[3], m, s;
    ks_gp *gp = NULL;
    ks_error err;
    REQUIRE(ks_gp_fit_fixed(x, y, 3, 1, &ls, sf2, sn2, &gp, &err) == KS_OK, "%s", err.msg);
    mean_sd(y, 3, &m, &s);
    for (int i = 0; i < 3; i++) {
        z[i] = (y[i] - m) / s;
        for (int j = 0; j < 3; j++)
            K[i][j] = matern(sf2, fabs(x[i] - x[j]) / ls) + (i == j ? sn2 : 0);
    }
    inverse3(K, Ki);
    for (int q = 0; q < 5; q++) {
        double k[3], mu = 0, quad = 0, got_mu, got_var;
        for (int i = 0; i < 3; i++)
            k[i] = matern(sf2, fabs(xs[q] - x[i]) / ls);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                mu += k[i] * Ki[i][j] * z[j];
                quad += k[i] * Ki[i][j] * k[j];
            }
        mu = m + s * mu;
        ks_gp_predict(gp, &xs[q], &got_mu, &got_var);
        CHECK(near(got_mu, mu, 1e-9), "x=%g: mean %.15g, closed form %.15g", xs[q], got_mu, mu);
        CHECK(near(got_var, s * s * (sf2 - quad), 1e-9), "x=%g: variance %.15g, closed form %.15g",
              xs[q], got_var, s * s * (sf2 - quad));
    }
    ks_gp_free(gp);
}

/* Two points in 2-D with different length scales per dimension (ARD): a 2×2 solve. */
static void test_gp_closed_form_ard(void)
{
    const double x[4] = {0.2, 0.3, 0.7, 0.6}, y[2] = {-1.0, 4.0};
    const double ls[2] = {0.2, 0.7}, sf2 = 0.8, sn2 = 0.05;
    const double xs[3][2] = {{0.5, 0.5}, {0.2, 0.9}, {1.0, 0.0}};
    double m, s, z[2], a, b, det, K00, K01, K11;
    ks_gp *gp = NULL;
    ks_error err;
    REQUIRE(ks_gp_fit_fixed(x, y, 2, 2, ls, sf2, sn2, &gp, &err) == KS_OK, "%s", err.msg);
    mean_sd(y, 2, &m, &s);
    z[0] = (y[0] - m) / s;
    z[1] = (y[1] - m) / s;
    a = (x[0] - x[2]) / ls[0];
    b = (x[1] - x[3]) / ls[1];
    K00 = K11 = sf2 + sn2;
    K01 = matern(sf2, sqrt(a * a + b * b));
    det = K00 * K11 - K01 * K01;
    for (int q = 0; q < 3; q++) {
        double k[2], w[2], mu, var, got_mu, got_var;
        for (int i = 0; i < 2; i++) {
            double da = (xs[q][0] - x[2 * i]) / ls[0], db = (xs[q][1] - x[2 * i + 1]) / ls[1];
            k[i] = matern(sf2, sqrt(da * da + db * db));
        }
        /* w = K⁻¹k */
        w[0] = (K11 * k[0] - K01 * k[1]) / det;
        w[1] = (-K01 * k[0] + K00 * k[1]) / det;
        mu = m + s * (w[0] * z[0] + w[1] * z[1]);
        var = s * s * (sf2 - (w[0] * k[0] + w[1] * k[1]));
        ks_gp_predict(gp, xs[q], &got_mu, &got_var);
        CHECK(near(got_mu, mu, 1e-9), "ARD point %d: mean %.15g, closed form %.15g", q, got_mu, mu);
        CHECK(near(got_var, var, 1e-9), "ARD point %d: variance %.15g, closed form %.15g", q,
              got_var, var);
    }
    ks_gp_free(gp);
}

/* --------------------------------------- GP: the likelihood fit, held out */

static double smooth_1d(double x)
{
    return sin(3 * M_PI * x) + 0.5 * x;
}

static void test_gp_fit_heldout(void)
{
    enum { N = 25, T = 200 };
    double x[N], y[N], se = 0, sd_f = 0, mean_f = 0, bad_se = 0;
    int inside = 0;
    ks_rng *rng;
    ks_gp *gp = NULL, *bad = NULL;
    ks_error err;
    const double tiny_ls = 0.01;
    REQUIRE(ks_rng_new(7, 1, 0, &rng) == KS_OK, "rng");
    /* stratified inputs (one per [i/N, (i+1)/N)), so that held-out points are not extrapolated */
    for (int i = 0; i < N; i++) {
        x[i] = (i + ks_rng_uniform(rng)) / N;
        y[i] = smooth_1d(x[i]) + ks_rng_normal(rng, 0.05);
    }
    if (ks_gp_fit(x, y, N, 1, rng, &gp, &err) != KS_OK ||
        ks_gp_fit_fixed(x, y, N, 1, &tiny_ls, 1.0, 1e-6, &bad, &err) != KS_OK) {
        CHECK(0, "fit: %s", err.msg);
        ks_gp_free(gp);
        ks_rng_free(rng);
        return;
    }
    for (int t = 0; t < T; t++) {
        double xt = (t + 0.5) / T, f = smooth_1d(xt), mu, var;
        ks_gp_predict(gp, &xt, &mu, &var);
        se += (mu - f) * (mu - f);
        inside += fabs(mu - f) <= 3 * sqrt(var) + 0.05;
        mean_f += f;
        sd_f += f * f;
        ks_gp_predict(bad, &xt, &mu, &var);
        bad_se += (mu - f) * (mu - f);
    }
    mean_f /= T;
    sd_f = sqrt(sd_f / T - mean_f * mean_f);
    printf("held-out RMSE: fitted GP %.4f, length scale 0.01 %.4f (function sd %.3f)\n",
           sqrt(se / T), sqrt(bad_se / T), sd_f);
    CHECK(sqrt(se / T) < 0.05, "held-out RMSE %g, expected < 0.05 (noise sd 0.05)",
          sqrt(se / T));
    CHECK(sqrt(bad_se / T) > 0.3, "a length scale of 0.01 should not interpolate: RMSE %g",
          sqrt(bad_se / T));
    CHECK(inside >= T * 9 / 10, "only %d of %d held-out points within 3 sd", inside, T);
    ks_gp_free(gp);
    ks_gp_free(bad);

    /* ARD: y depends on x1 only, so the fitted GP should ignore x2 */
    {
        double x2[2 * 40], y2[40], worst = 0;
        for (int i = 0; i < 40; i++) {
            x2[2 * i] = (i + ks_rng_uniform(rng)) / 40;
            x2[2 * i + 1] = ks_rng_uniform(rng);
            y2[i] = sin(6 * x2[2 * i]) + ks_rng_normal(rng, 0.02);
        }
        if (ks_gp_fit(x2, y2, 40, 2, rng, &gp, &err) != KS_OK) {
            CHECK(0, "fit 2-d: %s", err.msg);
        } else {
            for (int t = 0; t <= 20; t++) {
                double a[2] = {t / 20.0, 0.1}, b[2] = {t / 20.0, 0.9}, ma, mb, v;
                ks_gp_predict(gp, a, &ma, &v);
                ks_gp_predict(gp, b, &mb, &v);
                worst = fmax(worst, fabs(ma - mb));
                CHECK(fabs(ma - sin(6 * a[0])) < 0.1, "2-d fit at x1=%g: %g, true %g", a[0], ma,
                      sin(6 * a[0]));
            }
            CHECK(worst < 0.05, "the fit should ignore x2: predictions differ by %g", worst);
            ks_gp_free(gp);
        }
    }
    ks_rng_free(rng);
}

/* -------------------------------------------------- expected improvement */

static double Phi(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

static double phi(double z)
{
    return exp(-0.5 * z * z) / sqrt(2 * M_PI);
}

static void test_expected_improvement(void)
{
    /* one point at 0 with y = 5: far from it (r = 100 length scales) μ = 5 and σ² = sf2 = 4 */
    const double x0 = 0.0, y0 = 5.0, ls = 0.01, far = 1.0;
    const double bests[5] = {5.0, 7.0, 3.0, 4.2, -15.0};
    ks_gp *gp = NULL;
    ks_error err;
    double mu, var;
    REQUIRE(ks_gp_fit_fixed(&x0, &y0, 1, 1, &ls, 4.0, 0.0, &gp, &err) == KS_OK, "%s", err.msg);
    ks_gp_predict(gp, &far, &mu, &var);
    CHECK(near(mu, 5.0, 1e-12) && near(var, 4.0, 1e-12), "far away: mean %g var %g, expected 5 4",
          mu, var);
    for (int i = 0; i < 5; i++) {
        double z = (bests[i] - 5.0) / 2.0, want = (bests[i] - 5.0) * Phi(z) + 2.0 * phi(z);
        double got = ks_gp_expected_improvement(gp, &far, bests[i]);
        CHECK(near(got, want, 1e-9) || fabs(got - want) < 1e-300,
              "EI(best=%g) = %.15g, expected %.15g", bests[i], got, want);
    }
    CHECK(near(ks_gp_expected_improvement(gp, &far, 5.0), 2.0 / sqrt(2 * M_PI), 1e-12),
          "EI at z = 0 must be σ/√(2π)");
    /* at the data point without noise σ = 0: EI = max(best − μ, 0) */
    ks_gp_predict(gp, &x0, &mu, &var);
    CHECK(near(mu, 5.0, 1e-12) && var < 1e-12, "at the point: mean %g var %g", mu, var);
    CHECK(fabs(ks_gp_expected_improvement(gp, &x0, 6.5) - 1.5) < 1e-5, "EI with σ = 0, best "
          "above: %g, expected 1.5", ks_gp_expected_improvement(gp, &x0, 6.5));
    CHECK(ks_gp_expected_improvement(gp, &x0, 3.0) < 1e-5, "EI with σ = 0, best below: %g, "
          "expected 0", ks_gp_expected_improvement(gp, &x0, 3.0));
    ks_gp_free(gp);
}

/* GP edge cases: one point, all y equal, duplicate inputs, bad arguments. */
static void test_gp_degenerate(void)
{
    const double x[6] = {0.5, 0.5, 0.5, 0.2, 0.2, 0.9}, flat[6] = {3, 3, 3, 3, 3, 3};
    const double dup_y[6] = {1, 1.2, 0.9, 4, 4.1, 2};
    ks_rng *rng;
    ks_gp *gp = NULL;
    ks_error err;
    double mu, var, q = 0.7, ls = 0.5;
    REQUIRE(ks_rng_new(3, 0, 0, &rng) == KS_OK, "rng");
    CHECK(ks_gp_fit(x, flat, 1, 1, rng, &gp, &err) == KS_OK, "n = 1: %s", err.msg);
    if (gp) {
        ks_gp_predict(gp, &q, &mu, &var);
        CHECK(near(mu, 3.0, 1e-12) && var >= 0 && isfinite(var), "n = 1: %g %g", mu, var);
        ks_gp_free(gp);
        gp = NULL;
    }
    CHECK(ks_gp_fit(x, flat, 6, 1, rng, &gp, &err) == KS_OK, "all y equal: %s", err.msg);
    if (gp) {
        ks_gp_predict(gp, &q, &mu, &var);
        CHECK(near(mu, 3.0, 1e-9) && var >= 0 && isfinite(var), "all y equal: %g %g", mu, var);
        CHECK(isfinite(ks_gp_expected_improvement(gp, &q, 3.0)), "EI finite");
        ks_gp_free(gp);
        gp = NULL;
    }
    CHECK(ks_gp_fit(x, dup_y, 6, 1, rng, &gp, &err) == KS_OK, "duplicate x: %s", err.msg);
    if (gp) {
        ks_gp_predict(gp, &x[0], &mu, &var);
        CHECK(mu > 0.7 && mu < 1.3 && isfinite(var), "duplicate x: mean %g near 1.03", mu);
        ks_gp_free(gp);
        gp = NULL;
    }
    /* duplicate points without noise: singular, rescued by jitter */
    CHECK(ks_gp_fit_fixed(x, dup_y, 6, 1, &ls, 1.0, 0.0, &gp, &err) == KS_OK, "jitter: %s",
          err.msg);
    ks_gp_free(gp);
    gp = NULL;
    {
        double bad_y[2] = {1, NAN}, zero_ls = 0;
        CHECK(ks_gp_fit(x, bad_y, 2, 1, rng, &gp, &err) == KS_ERR_NAN && gp == NULL &&
              strstr(err.msg, "finite"), "NaN output: %s", err.msg);
        CHECK(ks_gp_fit_fixed(x, dup_y, 2, 1, &zero_ls, 1, 0, &gp, &err) == KS_ERR_CONFIG &&
              gp == NULL, "zero length scale");
        CHECK(ks_gp_fit(x, dup_y, 0, 1, rng, &gp, &err) == KS_ERR_CONFIG, "no points");
    }
    ks_gp_free(NULL);
    ks_rng_free(rng);
}

/* ------------------------------------------------------------ the sampler */

/* A fake study: trials with their points and results, viewed as a history. */
typedef struct fake {
    ks_space *sp;
    int n, maximize;
    double points[64][KS_MAX_SEARCH_PARAMS];
    ks_trial_view views[64];
    uint64_t seed;
    int max_trials;
} fake;

static void fake_init(fake *f, ks_space *sp, uint64_t seed, int max_trials)
{
    memset(f, 0, sizeof *f);
    f->sp = sp;
    f->seed = seed;
    f->max_trials = max_trials;
}

static ks_history fake_history(fake *f)
{
    ks_history h;
    memset(&h, 0, sizeof h);
    h.space = f->sp;
    h.maximize = f->maximize;
    h.n = f->n;
    h.trials = f->views;
    h.max_trials = f->max_trials;
    h.max_epochs = 3;
    h.seed = f->seed;
    return h;
}

static void fake_add(fake *f, const double *point, ks_trial_status status, double objective)
{
    ks_trial_view *v = &f->views[f->n];
    memcpy(f->points[f->n], point, (size_t)f->sp->n * sizeof *point);
    memset(v, 0, sizeof *v);
    v->number = f->n;
    v->point = f->points[f->n];
    v->status = status;
    v->budget = 3;
    v->objective = objective;
    f->n++;
}

/* The sampler's options: its defaults, then those of json (NULL: none). */
static void *options_json(const char *json)
{
    void *a = calloc(1, ks_sampler_bayesian_ops.args_size);
    ks_value map;
    ks_error err;
    if (!a)
        return NULL;
    ks_keys_defaults(ks_sampler_bayesian_ops.keys, a);
    if (json) {
        if (ks_value_from_json(json, strlen(json), "t", &map, &err) != KS_OK)
            goto fail;
        if (ks_keys_read(ks_sampler_bayesian_ops.keys, &map, "bayesian", a, &err) != KS_OK) {
            ks_value_free(&map);
            goto fail;
        }
        ks_value_free(&map);
    }
    return a;
fail:
    free(a);
    return NULL;
}

static void *options(int n_initial)
{
    char json[64];
    snprintf(json, sizeof json, "{\"n_initial\": %d}", n_initial);
    return options_json(n_initial > 0 ? json : NULL);
}

static ks_suggest_result suggest(const void *args, fake *f, double *point)
{
    ks_history h = fake_history(f);
    ks_suggestion s;
    ks_error err;
    ks_suggest_result r;
    memset(&s, 0, sizeof s);
    s.point = point;
    r = ks_sampler_bayesian_ops.suggest(args, &h, &s, &err);
    if (r == KS_SUGGEST_ERROR)
        CHECK(0, "suggest: %s", err.msg);
    if (r == KS_SUGGEST_OK)
        CHECK(s.continue_trial == -1 && s.budget == 3, "a new trial with max_epochs");
    return r;
}

static void float_param(ks_param *p, const char *name, double lo, double hi, int log)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->kind = KS_PARAM_FLOAT;
    p->min = lo;
    p->max = hi;
    p->log = log;
}

static void branin_space(ks_space *sp)
{
    memset(sp, 0, sizeof *sp);
    sp->n = 2;
    float_param(&sp->params[0], "x1", -5, 10, 0);
    float_param(&sp->params[1], "x2", 0, 15, 0);
}

static double branin(const double *p)
{
    double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
    double u = p[1] - b * p[0] * p[0] + c * p[0] - 6;
    return u * u + 10 * (1 - t) * cos(p[0]) + 10;
}

/* Best Branin value over n evaluations by the sampler (maximize: of −Branin). */
static double bo_branin(const void *args, uint64_t seed, int n, int maximize, double *points_out)
{
    fake f;
    ks_space sp;
    double best = INFINITY;
    branin_space(&sp);
    fake_init(&f, &sp, seed, n);
    f.maximize = maximize;
    for (int t = 0; t < n; t++) {
        double p[2], y;
        if (suggest(args, &f, p) != KS_SUGGEST_OK)
            break;
        CHECK(p[0] >= -5 && p[0] <= 10 && p[1] >= 0 && p[1] <= 15, "out of the box: %g %g", p[0],
              p[1]);
        y = branin(p);
        best = fmin(best, y);
        fake_add(&f, p, KS_TRIAL_COMPLETE, maximize ? -y : y);
        if (points_out)
            memcpy(points_out + 2 * t, p, sizeof p);
    }
    {
        double p[2];
        CHECK(suggest(args, &f, p) == KS_SUGGEST_DONE, "done after max_trials");
    }
    return best;
}

static void test_branin(void)
{
    void *args = options(0);
    double bo_sum = 0, rnd_sum = 0, bo[10], rnd[10];
    REQUIRE(args != NULL, "options");
    for (int s = 0; s < 10; s++) {
        ks_space sp;
        ks_rng *rng;
        double best = INFINITY;
        bo[s] = bo_branin(args, (uint64_t)s + 1, 30, 0, NULL);
        branin_space(&sp);
        if (ks_rng_new((uint64_t)s + 1, ks_hash_string("test random"), 0, &rng) != KS_OK)
            break;
        for (int t = 0; t < 30; t++) {
            double p[2];
            ks_space_sample(&sp, rng, p);
            best = fmin(best, branin(p));
        }
        ks_rng_free(rng);
        rnd[s] = best;
        bo_sum += bo[s];
        rnd_sum += rnd[s];
    }
    printf("Branin, best of 30 evaluations (minimum 0.397887):\n  seed  bayesian  random\n");
    for (int s = 0; s < 10; s++)
        printf("  %4d  %8.4f  %7.4f\n", s + 1, bo[s], rnd[s]);
    printf("  mean  %8.4f  %7.4f\n", bo_sum / 10, rnd_sum / 10);
    CHECK(bo_sum / 10 < rnd_sum / 10, "bayesian mean %g, random mean %g", bo_sum / 10,
          rnd_sum / 10);
    CHECK(bo_sum / 10 < 0.6, "bayesian mean %g on Branin, expected < 0.6 (minimum 0.398)",
          bo_sum / 10);
    /* maximizing −Branin is the same search: the same points, one by one (5 of the
       initial design, 7 of the GP) */
    {
        double pmin[24], pmax[24];
        bo_branin(args, 3, 12, 0, pmin);
        bo_branin(args, 3, 12, 1, pmax);
        CHECK(memcmp(pmin, pmax, sizeof pmin) == 0, "maximize −f must search as minimize f");
    }
    free(args);
}

/* Distance between two points in the unit-cube encoding. */
static double cube_dist(const ks_space *sp, const double *a, const double *b)
{
    double ua[KS_MAX_SEARCH_PARAMS * 4], ub[KS_MAX_SEARCH_PARAMS * 4], d = 0;
    int dims = ks_space_dims(sp);
    ks_space_encode(sp, a, ua);
    ks_space_encode(sp, b, ub);
    for (int k = 0; k < dims; k++)
        d += (ua[k] - ub[k]) * (ua[k] - ub[k]);
    return sqrt(d);
}

/* Two workers ask while two trials run: each gets a point away from the pending ones. */
static void test_parallel_liar(void)
{
    void *args = options(0);
    fake f;
    ks_space sp;
    double s1[2], s1_again[2], s2[2], s3[2], p[2];
    ks_rng *rng;
    REQUIRE(args != NULL && ks_rng_new(11, 0, 0, &rng) == KS_OK, "setup");
    branin_space(&sp);
    fake_init(&f, &sp, 5, 30);
    for (int t = 0; t < 10; t++) {
        ks_space_sample(&sp, rng, p);
        fake_add(&f, p, KS_TRIAL_COMPLETE, branin(p));
    }
    ks_rng_free(rng);
    REQUIRE(suggest(args, &f, s1) == KS_SUGGEST_OK, "s1");
    fake_add(&f, s1, KS_TRIAL_RUNNING, NAN);
    REQUIRE(suggest(args, &f, s2) == KS_SUGGEST_OK, "s2");
    fake_add(&f, s2, KS_TRIAL_QUEUED, NAN);
    REQUIRE(suggest(args, &f, s3) == KS_SUGGEST_OK, "s3");
    printf("constant liar: %.4f,%.4f then %.4f,%.4f then %.4f,%.4f\n", s1[0], s1[1], s2[0], s2[1],
           s3[0], s3[1]);
    CHECK(cube_dist(&sp, s1, s2) > 0.01, "s2 too close to pending s1: %g", cube_dist(&sp, s1, s2));
    CHECK(cube_dist(&sp, s1, s3) > 0.01 && cube_dist(&sp, s2, s3) > 0.01,
          "s3 too close to pending s1 or s2: %g %g", cube_dist(&sp, s1, s3),
          cube_dist(&sp, s2, s3));
    /* the same history without the pending trials gives s1 again */
    f.n = 10;
    REQUIRE(suggest(args, &f, s1_again) == KS_SUGGEST_OK, "s1 again");
    CHECK(s1_again[0] == s1[0] && s1_again[1] == s1[1], "same history, different suggestion");
    free(args);
}

/* The same history gives the same point; seeds give different initial designs. */
static void test_determinism(void)
{
    void *args = options(0);
    fake f, g;
    ks_space sp;
    double a[2], b[2], first[3][2];
    REQUIRE(args != NULL, "options");
    branin_space(&sp);
    for (int s = 0; s < 3; s++) {
        fake_init(&f, &sp, (uint64_t)s + 100, 30);
        REQUIRE(suggest(args, &f, first[s]) == KS_SUGGEST_OK, "first point");
    }
    CHECK(first[0][0] != first[1][0] && first[1][0] != first[2][0] && first[0][1] != first[1][1],
          "seeds 100, 101, 102 should give different first points");
    /* the seed option replaces the study's seed */
    {
        void *seeded = options_json("{\"seed\": 101}");
        REQUIRE(seeded != NULL, "seed option");
        fake_init(&f, &sp, 100, 30);
        REQUIRE(suggest(seeded, &f, a) == KS_SUGGEST_OK, "seeded");
        CHECK(a[0] == first[1][0] && a[1] == first[1][1], "seed: 101 should act as study seed 101");
        free(seeded);
    }
    /* the initial design: trial n's point depends on n, not on what the others got */
    fake_init(&f, &sp, 9, 30);
    fake_init(&g, &sp, 9, 30);
    for (int t = 0; t < 5; t++) {
        REQUIRE(suggest(args, &f, a) == KS_SUGGEST_OK, "initial");
        for (int u = 0; u < t; u++)
            CHECK(cube_dist(&sp, a, f.points[u]) > 0.05, "initial points %d and %d too close", u, t);
        fake_add(&f, a, KS_TRIAL_COMPLETE, branin(a));
        g.n = t;        /* the same number, other trials still pending */
        for (int u = 0; u < t; u++) {
            memcpy(g.points[u], f.points[u], sizeof a);
            g.views[u] = f.views[u];
            g.views[u].point = g.points[u];
            g.views[u].status = KS_TRIAL_RUNNING;
        }
        REQUIRE(suggest(args, &g, b) == KS_SUGGEST_OK, "initial, pending");
        CHECK(a[0] == b[0] && a[1] == b[1], "initial point %d depends on results", t);
    }
    /* past the initial design: repeatable */
    for (int t = 5; t < 12; t++) {
        fake_add(&f, a, KS_TRIAL_COMPLETE, 0);
        f.n--;
        REQUIRE(suggest(args, &f, a) == KS_SUGGEST_OK && suggest(args, &f, b) == KS_SUGGEST_OK,
                "suggest");
        CHECK(memcmp(a, b, sizeof a) == 0, "trial %d: the same history, different points", t);
        fake_add(&f, a, KS_TRIAL_COMPLETE, branin(a));
    }
    free(args);
}

/* A mixed space: a categorical, a stepped int, a log int, a log float. */
static void mixed_space(ks_space *sp)
{
    ks_param *p;
    memset(sp, 0, sizeof *sp);
    sp->n = 4;
    p = &sp->params[0];
    snprintf(p->name, sizeof p->name, "act");
    p->kind = KS_PARAM_CHOICE;
    p->n_values = 3;
    for (int j = 0; j < 3; j++) {
        ks_value_init(&p->values[j], KS_VALUE_NUMBER);
        p->values[j].number = j * 10;
    }
    p = &sp->params[1];
    snprintf(p->name, sizeof p->name, "units");
    p->kind = KS_PARAM_INT;
    p->min = 4;
    p->max = 100;
    p->step = 4;
    p = &sp->params[2];
    snprintf(p->name, sizeof p->name, "batch");
    p->kind = KS_PARAM_INT;
    p->min = 1;
    p->max = 1024;
    p->step = 1;
    p->log = 1;
    float_param(&sp->params[3], "lr", 1e-4, 1e-1, 1);
}

/* An objective on the mixed space with its best at act = 1, units 40, batch 32, lr 1e-2. */
static double mixed_objective(const double *p)
{
    return (p[0] == 1 ? 0 : 1) + pow((p[1] - 40) / 96, 2) + pow(log2(p[2] / 32) / 10, 2) +
           pow(log10(p[3] / 1e-2), 2);
}

static int valid_mixed(const ks_space *sp, const double *p)
{
    double u[16], q[4];
    if (p[0] != floor(p[0]) || p[0] < 0 || p[0] > 2)
        return 0;
    if (p[1] != floor(p[1]) || p[1] < 4 || p[1] > 100 || fmod(p[1] - 4, 4) != 0)
        return 0;
    if (p[2] != floor(p[2]) || p[2] < 1 || p[2] > 1024)
        return 0;
    if (!(p[3] >= 1e-4 && p[3] <= 1e-1))
        return 0;
    /* encode → decode gives the point back */
    ks_space_encode(sp, p, u);
    ks_space_decode(sp, u, q);
    return q[0] == p[0] && q[1] == p[1] && q[2] == p[2] && fabs(q[3] - p[3]) <= 1e-12 * p[3];
}

static void test_mixed_space(void)
{
    void *args = options(6);
    fake f;
    ks_space sp;
    double p[4], best = INFINITY;
    REQUIRE(args != NULL, "options");
    mixed_space(&sp);
    CHECK(ks_space_dims(&sp) == 6, "dims %d", ks_space_dims(&sp));
    fake_init(&f, &sp, 4, 25);
    for (int t = 0; t < 25; t++) {
        REQUIRE(suggest(args, &f, p) == KS_SUGGEST_OK, "trial %d", t);
        CHECK(valid_mixed(&sp, p), "trial %d: invalid point %g %g %g %g", t, p[0], p[1], p[2], p[3]);
        for (int u = 0; u < t; u++)
            CHECK(memcmp(p, f.points[u], sizeof p) != 0, "trial %d repeats trial %d", t, u);
        /* every fifth trial fails without a result */
        fake_add(&f, p, t % 5 == 4 ? KS_TRIAL_FAILED : KS_TRIAL_COMPLETE,
                 t % 5 == 4 ? NAN : mixed_objective(p));
        if (t % 5 != 4)
            best = fmin(best, mixed_objective(p));
    }
    printf("mixed space: best %.4f after 25 trials (optimum 0)\n", best);
    CHECK(best < 0.3, "mixed space: best %g, expected < 0.3", best);
    ks_space_free(&sp);
    free(args);
}

/* A finite space: 2 categories × 2 integers = 4 points, then done. */
static void test_finite_space(void)
{
    void *args = options(2);
    fake f;
    ks_space sp;
    double p[2];
    int n_ok = 0;
    ks_suggest_result r = KS_SUGGEST_OK;
    REQUIRE(args != NULL, "options");
    memset(&sp, 0, sizeof sp);
    sp.n = 2;
    sp.params[0].kind = KS_PARAM_CHOICE;
    sp.params[0].n_values = 2;
    ks_value_init(&sp.params[0].values[0], KS_VALUE_BOOL);
    ks_value_init(&sp.params[0].values[1], KS_VALUE_BOOL);
    sp.params[0].values[1].boolean = 1;
    sp.params[1].kind = KS_PARAM_INT;
    sp.params[1].min = 0;
    sp.params[1].max = 1;
    sp.params[1].step = 1;
    fake_init(&f, &sp, 1, 10);
    {
        ks_history h = fake_history(&f);
        CHECK(ks_sampler_bayesian_ops.total(args, &h) == 4, "total %d, expected 4",
              ks_sampler_bayesian_ops.total(args, &h));
    }
    while (n_ok < 10 && (r = suggest(args, &f, p)) == KS_SUGGEST_OK) {
        for (int u = 0; u < f.n; u++)
            CHECK(memcmp(p, f.points[u], sizeof p) != 0, "repeat of trial %d", u);
        fake_add(&f, p, KS_TRIAL_COMPLETE, p[0] + 2 * p[1]);
        n_ok++;
    }
    CHECK(n_ok == 4 && r == KS_SUGGEST_DONE, "%d trials then %d, expected 4 then done", n_ok, r);
    free(args);
}

/* Degenerate histories: all results equal, one result, failures only, many dimensions. */
static void test_degenerate(void)
{
    void *args = options(0), *one = options(1);
    fake f;
    ks_space sp;
    double p[2];
    REQUIRE(args != NULL && one != NULL, "options");
    branin_space(&sp);
    /* all equal */
    fake_init(&f, &sp, 2, 30);
    for (int t = 0; t < 8; t++) {
        REQUIRE(suggest(args, &f, p) == KS_SUGGEST_OK, "flat %d", t);
        fake_add(&f, p, KS_TRIAL_COMPLETE, 1.5);
    }
    for (int t = 0; t < 3; t++) {
        REQUIRE(suggest(args, &f, p) == KS_SUGGEST_OK, "flat BO %d", t);
        CHECK(p[0] >= -5 && p[0] <= 10 && p[1] >= 0 && p[1] <= 15, "flat: %g %g", p[0], p[1]);
        fake_add(&f, p, KS_TRIAL_COMPLETE, 1.5);
    }
    /* one result (n_initial 1), and one result among failures and pending trials */
    fake_init(&f, &sp, 2, 30);
    p[0] = 1;
    p[1] = 2;
    fake_add(&f, p, KS_TRIAL_COMPLETE, 7.0);
    CHECK(suggest(one, &f, p) == KS_SUGGEST_OK && cube_dist(&sp, p, f.points[0]) > 1e-6,
          "one result");
    fake_add(&f, p, KS_TRIAL_FAILED, NAN);
    p[0] = 3;
    fake_add(&f, p, KS_TRIAL_RUNNING, NAN);
    CHECK(suggest(one, &f, p) == KS_SUGGEST_OK, "one result, a failure, a pending trial");
    /* no result at all past the initial design: still the Sobol design */
    fake_init(&f, &sp, 2, 30);
    for (int t = 0; t < 12; t++) {
        REQUIRE(suggest(args, &f, p) == KS_SUGGEST_OK, "failures %d", t);
        fake_add(&f, p, KS_TRIAL_FAILED, NAN);
    }
    /* 5 categoricals of 10 values: 50 dimensions, more than Sobol's 40 */
    {
        ks_space big;
        double q[5], best = INFINITY;
        memset(&big, 0, sizeof big);
        big.n = 5;
        for (int i = 0; i < 5; i++) {
            big.params[i].kind = KS_PARAM_CHOICE;
            big.params[i].n_values = 10;
            for (int j = 0; j < 10; j++) {
                ks_value_init(&big.params[i].values[j], KS_VALUE_NUMBER);
                big.params[i].values[j].number = j;
            }
        }
        CHECK(ks_space_dims(&big) == 50, "dims");
        fake_init(&f, &big, 3, 30);
        for (int t = 0; t < 16; t++) {
            double y = 0;
            REQUIRE(suggest(args, &f, q) == KS_SUGGEST_OK, "50 dims, trial %d", t);
            for (int i = 0; i < 5; i++) {
                CHECK(q[i] == floor(q[i]) && q[i] >= 0 && q[i] < 10, "50 dims: %g", q[i]);
                y += fabs(q[i] - 3);
            }
            for (int u = 0; u < t; u++)
                CHECK(memcmp(q, f.points[u], sizeof q) != 0, "50 dims: repeat");
            best = fmin(best, y);
            fake_add(&f, q, KS_TRIAL_COMPLETE, y);
        }
        CHECK(isfinite(best), "50 dims ran");
    }
    free(args);
    free(one);
}

static void test_check(void)
{
    void *args = options(0);
    ks_space sp, empty;
    ks_history h;
    ks_error err;
    fake f;
    REQUIRE(args != NULL, "options");
    branin_space(&sp);
    memset(&empty, 0, sizeof empty);
    fake_init(&f, &sp, 1, 30);
    h = fake_history(&f);
    CHECK(ks_sampler_bayesian_ops.check(args, &sp, &h, &err) == KS_OK, "valid: %s", err.msg);
    CHECK(ks_sampler_bayesian_ops.total(args, &h) == 30, "total");
    CHECK(ks_sampler_bayesian_ops.check(args, &empty, &h, &err) == KS_ERR_CONFIG,
          "no parameters");
    h.max_trials = 0;
    CHECK(ks_sampler_bayesian_ops.check(args, &sp, &h, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "max_trials"), "max_trials needed: %s", err.msg);
    /* the options table: unknown and out-of-range options are refused */
    {
        const char *bad[] = {"{\"candidates\": 3}", "{\"xi\": -1}", "{\"n_inital\": 3}",
                             "{\"seed\": 1.5}"};
        for (int i = 0; i < 4; i++) {
            ks_value map;
            void *a = options(0);
            CHECK(a && ks_value_from_json(bad[i], strlen(bad[i]), "t", &map, &err) == KS_OK &&
                      ks_keys_read(ks_sampler_bayesian_ops.keys, &map, "bayesian", a, &err) !=
                          KS_OK, "%s accepted", bad[i]);
            ks_value_free(&map);
            free(a);
        }
    }
    CHECK(strcmp(ks_sampler_bayesian_ops.name, "bayesian") == 0, "name");
    free(args);
}

int main(void)
{
    test_gp_closed_form_1d();
    test_gp_closed_form_ard();
    test_gp_fit_heldout();
    test_expected_improvement();
    test_gp_degenerate();
    test_branin();
    test_parallel_liar();
    test_determinism();
    test_mixed_space();
    test_finite_space();
    test_degenerate();
    test_check();
    return check_done();
}
