/*
 * test_fanova.c — the random forest and functional ANOVA of parameter importance:
 * small trees worked out by hand (splits, leaf boxes, marginals, exact shares), a
 * dominant parameter ranked first with most of the variance, additive objectives whose
 * shares match the known variance shares, categories, determinism from the seed, and
 * bad input refused.
 */
#include "../tracker/forest.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *fmt_err(const ks_error *err)
{
    static char buf[1200];
    return ks_error_format(err, buf, sizeof buf);
}

/* One tree on the whole data (no bootstrap): the forest is that tree, exactly. */
static ks_fanova_options one_tree(void)
{
    ks_fanova_options o = ks_fanova_options_default();
    o.n_trees = 1;
    o.bootstrap = 0;
    return o;
}

static ks_fanova_feature numeric(double low, double high)
{
    ks_fanova_feature f = {0, low, high};
    return f;
}

static ks_fanova_feature categorical(int k)
{
    ks_fanova_feature f = {k, 0, 0};
    return f;
}

static int near(double a, double b, double tol)
{
    return fabs(a - b) <= tol;
}

/* ------------------------------------------------------------ by hand */

/* x = 0.25 → 0, x = 0.75 → 1 on [0, 1]: one split at 0.5, two leaves of half the space. */
static void test_step(void)
{
    const double x[] = {0.25, 0.75}, y[] = {0, 1};
    ks_fanova_feature ft = numeric(0, 1);
    ks_fanova_options o = one_tree();
    ks_forest *forest = NULL;
    ks_leaf_boxes b = {0};
    ks_fanova *fa = NULL;
    ks_error err;
    double share = -1, sd = -1, at[] = {0.0, 0.1, 0.5, 0.6, 1.0}, m[5];
    int varies = 0;
    REQUIRE(ks_forest_fit(x, y, 2, 1, &ft, &o, &forest, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(forest->trees[0].n_nodes == 3, "nodes %d", forest->trees[0].n_nodes);
    CHECK(forest->trees[0].nodes[0].feature == 0 && forest->trees[0].nodes[0].threshold == 0.5,
          "root split feature %d at %g", forest->trees[0].nodes[0].feature,
          forest->trees[0].nodes[0].threshold);
    REQUIRE(ks_tree_leaf_boxes(forest, &forest->trees[0], &b, &err) == KS_OK, "%s",
            fmt_err(&err));
    CHECK(b.n == 2, "leaves %d", b.n);
    for (int l = 0; l < b.n; l++) {
        int left = b.value[l] == 0;
        CHECK(b.lo[l] == (left ? 0.0 : 0.5) && b.hi[l] == (left ? 0.5 : 1.0) &&
                  b.frac[l] == 0.5,
              "leaf %d (value %g): (%g, %g] frac %g", l, b.value[l], b.lo[l], b.hi[l], b.frac[l]);
    }
    ks_leaf_boxes_free(&b);
    ks_forest_free(forest);

    REQUIRE(ks_fanova_fit(x, y, 2, 1, &ft, &o, &fa, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_fanova_importance(fa, &share, &sd, &varies, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(share == 1.0 && sd == 0.0 && varies == 1, "share %g sd %g varies %d", share, sd, varies);
    REQUIRE(ks_fanova_marginal(fa, 0, at, 5, m, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(m[0] == 0 && m[1] == 0 && m[2] == 0 && m[3] == 1 && m[4] == 1,
          "marginal %g %g %g %g %g", m[0], m[1], m[2], m[3], m[4]);
    {
        double p1 = 0.3, p2 = 0.9;
        CHECK(ks_fanova_predict(fa, &p1) == 0 && ks_fanova_predict(fa, &p2) == 1,
              "predictions %g %g", ks_fanova_predict(fa, &p1), ks_fanova_predict(fa, &p2));
    }
    ks_fanova_free(fa);
}

/*
 * y = x1 + 2·x2 at the corners of [0, 1]²: four leaves of a quarter each, values 0 … 3,
 * mean 1.5, variance 1.25; x1's marginal is 1 or 2 (variance 0.25), x2's 0.5 or 2.5
 * (variance 1): shares 0.2 and 0.8 exactly, and the pair's marginal is the function.
 */
static void test_additive_corners(void)
{
    const double x[] = {0, 0, 1, 0, 0, 1, 1, 1}, y[] = {0, 1, 2, 3};
    ks_fanova_feature ft[2] = {numeric(0, 1), numeric(0, 1)};
    ks_fanova_options o = one_tree();
    ks_fanova *fa = NULL;
    ks_error err;
    double share[2], g[] = {0.25, 0.75}, m2[4];
    REQUIRE(ks_fanova_fit(x, y, 4, 2, ft, &o, &fa, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_fanova_importance(fa, share, NULL, NULL, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(near(share[0], 0.2, 1e-12) && near(share[1], 0.8, 1e-12), "shares %.15g %.15g",
          share[0], share[1]);
    REQUIRE(ks_fanova_marginal2(fa, 0, g, 2, 1, g, 2, m2, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(m2[0] == 0 && m2[1] == 2 && m2[2] == 1 && m2[3] == 3, "pair %g %g %g %g", m2[0],
          m2[1], m2[2], m2[3]);
    ks_fanova_free(fa);
}

/* XOR: the prediction varies, but neither marginal does (all interaction): shares 0. */
static void test_interaction_only(void)
{
    const double x[] = {0, 0, 1, 0, 0, 1, 1, 1}, y[] = {0, 1, 1, 0};
    ks_fanova_feature ft[2] = {numeric(0, 1), numeric(0, 1)};
    ks_fanova_options o = one_tree();
    ks_fanova *fa = NULL;
    ks_error err;
    double share[2] = {-1, -1};
    int varies = 0;
    REQUIRE(ks_fanova_fit(x, y, 4, 2, ft, &o, &fa, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_fanova_importance(fa, share, NULL, &varies, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(varies == 1 && share[0] == 0 && share[1] == 0, "varies %d shares %g %g", varies,
          share[0], share[1]);
    ks_fanova_free(fa);
}

/*
 * A domain wider than the data: x = 1 → 0, x = 2 → 4 on [0, 10]: the split at 1.5 leaves
 * (0, 1.5] (15 % of the space, value 0) and (1.5, 10] (85 %, value 4); a second
 * feature that never changes takes no share.
 */
static void test_box_volumes(void)
{
    const double x[] = {1, 7, 2, 7}, y[] = {0, 4};
    ks_fanova_feature ft[2] = {numeric(0, 10), numeric(5, 9)};
    ks_fanova_options o = one_tree();
    ks_forest *forest = NULL;
    ks_leaf_boxes b = {0};
    ks_fanova *fa = NULL;
    ks_error err;
    double share[2], at[] = {0.5, 1.5, 1.6, 5}, m[4];
    REQUIRE(ks_forest_fit(x, y, 2, 2, ft, &o, &forest, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_tree_leaf_boxes(forest, &forest->trees[0], &b, &err) == KS_OK, "%s",
            fmt_err(&err));
    CHECK(b.n == 2, "leaves %d", b.n);
    for (int l = 0; l < b.n; l++) {
        double want = b.value[l] == 0 ? 0.15 : 0.85;
        CHECK(near(b.frac[l * 2], want, 1e-15) && b.frac[l * 2 + 1] == 1.0,
              "leaf %d: fracs %g %g", l, b.frac[l * 2], b.frac[l * 2 + 1]);
    }
    ks_leaf_boxes_free(&b);
    ks_forest_free(forest);
    REQUIRE(ks_fanova_fit(x, y, 2, 2, ft, &o, &fa, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_fanova_importance(fa, share, NULL, NULL, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(share[0] == 1.0 && share[1] == 0.0, "shares %g %g", share[0], share[1]);
    REQUIRE(ks_fanova_marginal(fa, 0, at, 4, m, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(m[0] == 0 && m[1] == 0 && m[2] == 4 && m[3] == 4, "marginal %g %g %g %g", m[0], m[1],
          m[2], m[3]);
    ks_fanova_free(fa);
}

/*
 * Categories: c = 0, 1 → 0 and c = 2 → 3 split as {0, 1} | {2}; category 3, never seen,
 * follows the heavier side ({0, 1}).  The marginal over c is 0, 0, 3, 0 (mean 0.75,
 * variance 1.6875), all of the variance: the numeric feature, constant, has none.
 */
static void test_categories(void)
{
    const double x[] = {0, 0.5, 1, 0.5, 2, 0.5, 0, 0.5}, y[] = {0, 0, 3, 0};
    ks_fanova_feature ft[2] = {categorical(4), numeric(0, 1)};
    ks_fanova_options o = one_tree();
    ks_forest *forest = NULL;
    ks_fanova *fa = NULL;
    ks_error err;
    double share[2], cats[] = {0, 1, 2, 3}, m[4];
    REQUIRE(ks_forest_fit(x, y, 4, 2, ft, &o, &forest, &err) == KS_OK, "%s", fmt_err(&err));
    {
        const ks_tree_node *root = &forest->trees[0].nodes[0];
        CHECK(root->feature == 0 && root->categorical && root->left_set == 0xb,
              "root: feature %d, categorical %d, left set %#llx", root->feature,
              root->categorical, (unsigned long long)root->left_set);
    }
    ks_forest_free(forest);
    REQUIRE(ks_fanova_fit(x, y, 4, 2, ft, &o, &fa, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_fanova_importance(fa, share, NULL, NULL, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(share[0] == 1.0 && share[1] == 0.0, "shares %g %g", share[0], share[1]);
    REQUIRE(ks_fanova_marginal(fa, 0, cats, 4, m, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(m[0] == 0 && m[1] == 0 && m[2] == 3 && m[3] == 0, "marginal %g %g %g %g", m[0], m[1],
          m[2], m[3]);
    {
        double p[2] = {3, 0.5};
        CHECK(ks_fanova_predict(fa, p) == 0, "unseen category predicts %g",
              ks_fanova_predict(fa, p));
    }
    ks_fanova_free(fa);
}

/* --------------------------------------------------------------- synthetic */

typedef double (*objective_fn)(const double *x, ks_rng *r);

/* n rows uniform over the features' domains (categories uniform) and their objective. */
static void sample(const ks_fanova_feature *ft, int d, int n, objective_fn fn, uint64_t seed,
                   double *x, double *y)
{
    ks_rng *r = NULL;
    ks_rng_new(seed, 1, 2, &r);
    for (int i = 0; i < n; i++) {
        double *row = x + (size_t)i * (size_t)d;
        for (int k = 0; k < d; k++)
            row[k] = ft[k].n_categories > 0
                         ? (double)ks_rng_index(r, (uint64_t)ft[k].n_categories)
                         : ft[k].low + (ft[k].high - ft[k].low) * ks_rng_uniform(r);
        y[i] = fn(row, r);
    }
    ks_rng_free(r);
}

static double dominant(const double *x, ks_rng *r)
{
    return 10 * x[0] + 0.5 * x[1] + 0.3 * x[2] + ks_rng_normal(r, 0.05);
}

/* One parameter explains almost everything: ranked first, with > 0.8 of the total. */
static void test_dominant(void)
{
    enum { N = 600, D = 3 };
    ks_fanova_feature ft[D] = {numeric(0, 1), numeric(0, 1), numeric(0, 1)};
    static double x[N * D], y[N];
    ks_fanova *fa = NULL;
    ks_error err;
    double share[D];
    sample(ft, D, N, dominant, 7, x, y);
    REQUIRE(ks_fanova_fit(x, y, N, D, ft, NULL, &fa, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_fanova_importance(fa, share, NULL, NULL, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(share[0] > 0.8 && share[0] > share[1] && share[0] > share[2],
          "dominant share %.3f (others %.3f %.3f)", share[0], share[1], share[2]);
    CHECK(near(share[0] + share[1] + share[2], 1.0, 1e-12), "shares sum to %.15g",
          share[0] + share[1] + share[2]);
    ks_fanova_free(fa);
}

static double additive3(const double *x, ks_rng *r)
{
    (void)r;
    return x[0] + 2 * x[1] + 3 * x[2];
}

/* y = x1 + 2·x2 + 3·x3 on [0, 1]³: variance shares 1/14, 4/14, 9/14. */
static void test_additive_shares(void)
{
    enum { N = 1000, D = 3 };
    ks_fanova_feature ft[D] = {numeric(0, 1), numeric(0, 1), numeric(0, 1)};
    static double x[N * D], y[N];
    const double want[D] = {1.0 / 14, 4.0 / 14, 9.0 / 14};
    ks_fanova *fa = NULL;
    ks_error err;
    double share[D];
    sample(ft, D, N, additive3, 11, x, y);
    REQUIRE(ks_fanova_fit(x, y, N, D, ft, NULL, &fa, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_fanova_importance(fa, share, NULL, NULL, &err) == KS_OK, "%s", fmt_err(&err));
    for (int k = 0; k < D; k++)
        CHECK(near(share[k], want[k], 0.05), "x%d: share %.4f, known %.4f", k + 1, share[k],
              want[k]);
    ks_fanova_free(fa);
}

static double additive_mixed(const double *x, ks_rng *r)
{
    static const double effect[4] = {0, 1, 2, 3};
    (void)r;
    return effect[(int)x[0]] + 2 * x[1] + 0 * x[2];
}

/*
 * A category with effects 0, 1, 2, 3 (variance 1.25) plus 2·log10(learning rate) with
 * the rate log-uniform on [1e-4, 1e-1] (given in log space: uniform on [−4, −1],
 * variance 0.75 · 4 = 3), and an unused parameter: shares 1.25/4.25, 3/4.25, 0.
 */
static void test_additive_categorical(void)
{
    enum { N = 1000, D = 3 };
    ks_fanova_feature ft[D] = {categorical(4), numeric(-4, -1), numeric(0, 1)};
    static double x[N * D], y[N];
    const double want[D] = {1.25 / 4.25, 3 / 4.25, 0};
    ks_fanova *fa = NULL;
    ks_error err;
    double share[D], sd[D];
    sample(ft, D, N, additive_mixed, 13, x, y);
    REQUIRE(ks_fanova_fit(x, y, N, D, ft, NULL, &fa, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_fanova_importance(fa, share, sd, NULL, &err) == KS_OK, "%s", fmt_err(&err));
    for (int k = 0; k < D; k++)
        CHECK(near(share[k], want[k], 0.05), "feature %d: share %.4f, known %.4f", k, share[k],
              want[k]);
    {
        double cats[] = {0, 1, 2, 3}, m[4];
        REQUIRE(ks_fanova_marginal(fa, 0, cats, 4, m, &err) == KS_OK, "%s", fmt_err(&err));
        CHECK(m[0] < m[1] && m[1] < m[2] && m[2] < m[3] && near(m[3] - m[0], 3, 0.3),
              "category marginal %g %g %g %g", m[0], m[1], m[2], m[3]);
    }
    ks_fanova_free(fa);
}

/* The same data and seed give the same numbers; another seed, another forest. */
static void test_deterministic(void)
{
    enum { N = 300, D = 3 };
    ks_fanova_feature ft[D] = {numeric(0, 1), numeric(0, 1), numeric(0, 1)};
    static double x[N * D], y[N];
    ks_fanova_options o = ks_fanova_options_default();
    double a[D], b[D], c[D];
    ks_fanova *fa = NULL;
    ks_error err;
    sample(ft, D, N, additive3, 17, x, y);
    o.n_trees = 16;
    for (int run = 0; run < 3; run++) {
        o.seed = run == 2 ? 99 : 5;
        REQUIRE(ks_fanova_fit(x, y, N, D, ft, &o, &fa, &err) == KS_OK, "%s", fmt_err(&err));
        REQUIRE(ks_fanova_importance(fa, run == 0 ? a : run == 1 ? b : c, NULL, NULL, &err) ==
                    KS_OK,
                "%s", fmt_err(&err));
        ks_fanova_free(fa);
        fa = NULL;
    }
    CHECK(memcmp(a, b, sizeof a) == 0, "same seed: %.17g vs %.17g", a[0], b[0]);
    CHECK(memcmp(a, c, sizeof a) != 0, "another seed gave the same forest");
}

/* Every target equal: nothing varies, every share 0 (no division by zero). */
static void test_constant(void)
{
    const double x[] = {0.1, 0.5, 0.9}, y[] = {2, 2, 2};
    ks_fanova_feature ft = numeric(0, 1);
    ks_fanova *fa = NULL;
    ks_error err;
    double share = -1;
    int varies = 1;
    REQUIRE(ks_fanova_fit(x, y, 3, 1, &ft, NULL, &fa, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_fanova_importance(fa, &share, NULL, &varies, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(varies == 0 && share == 0, "varies %d share %g", varies, share);
    ks_fanova_free(fa);
}

static void test_bad_input(void)
{
    const double x[] = {0.1, 0.5}, y[] = {1, NAN}, cat[] = {0, 4}, y2[] = {1, 2};
    ks_fanova_feature num = numeric(0, 1), cats = categorical(4), bad = numeric(1, 0);
    ks_fanova *fa = NULL;
    ks_error err;
    CHECK(ks_fanova_fit(x, y, 2, 1, &num, NULL, &fa, &err) == KS_ERR_CONFIG && !fa,
          "a NaN target");
    CHECK(ks_fanova_fit(cat, y2, 2, 1, &cats, NULL, &fa, &err) == KS_ERR_CONFIG && !fa,
          "category 4 of 4");
    CHECK(ks_fanova_fit(x, y2, 0, 1, &num, NULL, &fa, &err) == KS_ERR_CONFIG && !fa, "no rows");
    CHECK(ks_fanova_fit(x, y2, 2, 1, &bad, NULL, &fa, &err) == KS_ERR_CONFIG && !fa,
          "low > high");
    CHECK(ks_fanova_fit(x, y2, 2, KS_FANOVA_MAX_FEATURES + 1, &num, NULL, &fa, &err) ==
                  KS_ERR_CONFIG &&
              !fa,
          "too many features");
}

int main(void)
{
    test_step();
    test_additive_corners();
    test_interaction_only();
    test_box_volumes();
    test_categories();
    test_dominant();
    test_additive_shares();
    test_additive_categorical();
    test_deterministic();
    test_constant();
    test_bad_input();
    return check_done();
}
