/*
 * fanova.c — functional ANOVA over a random forest (Hutter, Hoos & Leyton-Brown 2014):
 * each tree's prediction, a constant on each leaf's box, is decomposed over the search
 * space into its total variance and the variance of each feature's marginal (the mean
 * over the other features, as a function of this one).  Leaf boxes make both exact
 * sums: a feature's marginal is piecewise constant between the tree's split points,
 * accumulated from every leaf in one pass with a difference array.
 */
#include "forest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ks_fanova {
    ks_forest *forest;
    int varying;                /* trees whose prediction is not constant */
    unsigned char *varies;      /* per tree */
    double *total;              /* per tree: variance of its prediction */
    double *main;               /* n_trees × d: variance of each feature's marginal */
};

ks_fanova_options ks_fanova_options_default(void)
{
    ks_fanova_options o;
    o.n_trees = 64;
    o.max_depth = 64;
    o.min_samples_split = 2;
    o.min_samples_leaf = 1;
    o.bootstrap = 1;
    o.seed = 0;
    return o;
}

/* The box's share of the space outside features i and j (−1: none left out). */
static double frac_without(const ks_leaf_boxes *b, int l, int i, int j)
{
    const double *fr = b->frac + (size_t)l * (size_t)b->d;
    double p = 1.0;
    for (int k = 0; k < b->d; k++)
        if (k != i && k != j)
            p *= fr[k];
    return p;
}

/* First index of sorted v[0, n) greater than x. */
static int upper_bound(const double *v, int n, double x)
{
    int a = 0, b = n;
    while (a < b) {
        int mid = a + (b - a) / 2;
        if (v[mid] <= x)
            a = mid + 1;
        else
            b = mid;
    }
    return a;
}

static int by_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Scratch memory of a decomposition, kept from tree to tree. */
typedef struct scratch {
    ks_leaf_boxes boxes;
    double *edge, *diff;        /* n_nodes + 3 each */
    int cap;
} scratch;

static void scratch_free(scratch *w)
{
    ks_leaf_boxes_free(&w->boxes);
    free(w->edge);
    free(w->diff);
}

/*
 * The variance of numeric feature i's marginal around mean mu, over its domain.  The
 * marginal is constant between consecutive split points of i (and the domain's ends);
 * every leaf's interval runs from one of those edges to another.
 */
static void numeric_main(const ks_forest *f, const ks_tree *t, scratch *w, int i, double mu,
                         double *out)
{
    const ks_fanova_feature *ft = &f->features[i];
    const ks_leaf_boxes *b = &w->boxes;
    double *edge = w->edge, *diff = w->diff, v = 0, a = 0;
    int nb = 0, d = b->d;
    *out = 0;
    if (!(ft->high > ft->low))
        return;
    edge[nb++] = ft->low;
    edge[nb++] = ft->high;
    for (int k = 0; k < t->n_nodes; k++)
        if (t->nodes[k].feature == i)
            edge[nb++] = fmin(fmax(t->nodes[k].threshold, ft->low), ft->high);
    qsort(edge, (size_t)nb, sizeof *edge, by_double);
    {
        int u = 0;
        for (int k = 0; k < nb; k++)
            if (u == 0 || edge[k] != edge[u - 1])
                edge[u++] = edge[k];
        nb = u;
    }
    memset(diff, 0, (size_t)nb * sizeof *diff);
    /* interval k is [edge[k], edge[k + 1]); a leaf adds its share to its intervals */
    for (int l = 0; l < b->n; l++) {
        double c = b->value[l] * frac_without(b, l, i, -1);
        diff[upper_bound(edge, nb, b->lo[(size_t)l * (size_t)d + (size_t)i]) - 1] += c;
        diff[upper_bound(edge, nb, b->hi[(size_t)l * (size_t)d + (size_t)i]) - 1] -= c;
    }
    for (int k = 0; k + 1 < nb; k++) {
        a += diff[k];
        v += (edge[k + 1] - edge[k]) / (ft->high - ft->low) * (a - mu) * (a - mu);
    }
    *out = v;
}

/* The marginal of categorical feature i at each category (a[K]). */
static void categorical_marginal(const ks_forest *f, const ks_leaf_boxes *b, int i, double *a)
{
    int K = f->features[i].n_categories;
    for (int c = 0; c < K; c++)
        a[c] = 0;
    for (int l = 0; l < b->n; l++) {
        uint64_t set = b->set[(size_t)l * (size_t)b->d + (size_t)i];
        double c = b->value[l] * frac_without(b, l, i, -1);
        for (int k = 0; k < K; k++)
            if ((set >> k) & 1u)
                a[k] += c;
    }
}

/* One tree's decomposition: its variance and every feature's main-effect variance. */
static ks_status decompose(ks_fanova *fa, int t, scratch *w, ks_error *err)
{
    const ks_forest *f = fa->forest;
    const ks_tree *tree = &f->trees[t];
    const ks_leaf_boxes *b = &w->boxes;
    double mu = 0, total = 0, vmin = INFINITY, vmax = -INFINITY;
    ks_status s = ks_tree_leaf_boxes(f, tree, &w->boxes, err);
    if (s != KS_OK)
        return s;
    if (tree->n_nodes + 3 > w->cap) {
        free(w->edge);
        free(w->diff);
        w->cap = tree->n_nodes + 3;
        w->edge = malloc((size_t)w->cap * sizeof *w->edge);
        w->diff = malloc((size_t)w->cap * sizeof *w->diff);
        if (!w->edge || !w->diff)
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    for (int l = 0; l < b->n; l++) {
        double wl = frac_without(b, l, -1, -1);
        mu += wl * b->value[l];
        if (wl > 0) {
            vmin = fmin(vmin, b->value[l]);
            vmax = fmax(vmax, b->value[l]);
        }
    }
    for (int l = 0; l < b->n; l++)
        total += frac_without(b, l, -1, -1) * (b->value[l] - mu) * (b->value[l] - mu);
    fa->total[t] = total;
    fa->varies[t] = vmin < vmax && total > 0;
    for (int i = 0; i < f->d; i++) {
        double *vi = &fa->main[(size_t)t * (size_t)f->d + (size_t)i];
        if (f->features[i].n_categories > 0) {
            double a[KS_FANOVA_MAX_CATEGORIES];
            int K = f->features[i].n_categories;
            categorical_marginal(f, b, i, a);
            *vi = 0;
            for (int c = 0; c < K; c++)
                *vi += (a[c] - mu) * (a[c] - mu) / K;
        } else {
            numeric_main(f, tree, w, i, mu, vi);
        }
    }
    return KS_OK;
}

ks_status ks_fanova_fit(const double *x, const double *y, int n, int d,
                        const ks_fanova_feature *features, const ks_fanova_options *opt,
                        ks_fanova **out, ks_error *err)
{
    ks_fanova_options def = ks_fanova_options_default();
    ks_fanova *fa;
    ks_status s;
    if (!out)
        return ks_error_set(err, KS_ERR_INTERNAL, "ks_fanova_fit: out is NULL");
    *out = NULL;
    if (!(fa = calloc(1, sizeof *fa)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    if ((s = ks_forest_fit(x, y, n, d, features, opt ? opt : &def, &fa->forest, err)) != KS_OK) {
        free(fa);
        return s;
    }
    fa->varies = calloc((size_t)fa->forest->n_trees, 1);
    fa->total = calloc((size_t)fa->forest->n_trees, sizeof *fa->total);
    fa->main = calloc((size_t)fa->forest->n_trees * (size_t)d, sizeof *fa->main);
    if (!fa->varies || !fa->total || !fa->main)
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    {
        scratch w;
        memset(&w, 0, sizeof w);
        for (int t = 0; s == KS_OK && t < fa->forest->n_trees; t++) {
            s = decompose(fa, t, &w, err);
            fa->varying += fa->varies[t];
        }
        scratch_free(&w);
    }
    if (s != KS_OK) {
        ks_fanova_free(fa);
        return s;
    }
    *out = fa;
    return KS_OK;
}

void ks_fanova_free(ks_fanova *f)
{
    if (!f)
        return;
    ks_forest_free(f->forest);
    free(f->varies);
    free(f->total);
    free(f->main);
    free(f);
}

ks_status ks_fanova_importance(const ks_fanova *f, double *share, double *std, int *varies,
                               ks_error *err)
{
    int d, T;
    double sum = 0;
    if (!f || !share)
        return ks_error_set(err, KS_ERR_INTERNAL, "ks_fanova_importance: a NULL argument");
    d = f->forest->d;
    T = f->forest->n_trees;
    if (varies)
        *varies = f->varying > 0;
    for (int i = 0; i < d; i++) {
        double m = 0, m2 = 0;
        for (int t = 0; t < T; t++) {
            double r;
            if (!f->varies[t])
                continue;
            r = f->main[(size_t)t * (size_t)d + (size_t)i] / f->total[t];
            m += r;
            m2 += r * r;
        }
        if (f->varying > 0) {
            m /= f->varying;
            m2 = m2 / f->varying - m * m;
        }
        share[i] = m;
        if (std)
            std[i] = m2 > 0 ? sqrt(m2) : 0.0;
        sum += m;
    }
    for (int i = 0; i < d; i++)
        share[i] = sum > 0 ? share[i] / sum : 0.0;
    return KS_OK;
}

/* ------------------------------------------------------------- marginals */

/* The points of at[0, m) that a leaf covers along feature k: intervals [a, b) of
   indices (numeric: sorted points in (lo, hi], the domain's low end included;
   categorical: each point whose category reaches the leaf).  Returns their number. */
static int covered(const ks_forest *f, const ks_leaf_boxes *b, int l, int k, const double *at,
                   int m, int (*iv)[2])
{
    size_t cell = (size_t)l * (size_t)b->d + (size_t)k;
    int n = 0;
    if (f->features[k].n_categories > 0) {
        for (int p = 0; p < m; p++) {
            int c = (int)at[p];
            if (c >= 0 && c < 64 && ((b->set[cell] >> c) & 1u)) {
                if (n > 0 && iv[n - 1][1] == p)
                    iv[n - 1][1] = p + 1;
                else {
                    iv[n][0] = p;
                    iv[n][1] = p + 1;
                    n++;
                }
            }
        }
        return n;
    }
    {
        double lo = b->lo[cell], hi = b->hi[cell];
        int a = lo <= f->features[k].low ? 0 : upper_bound(at, m, lo);
        int e = hi >= f->features[k].high ? m : upper_bound(at, m, hi);
        if (a < e) {
            iv[0][0] = a;
            iv[0][1] = e;
            n = 1;
        }
    }
    return n;
}

static ks_status check_feature(const ks_fanova *f, int i, const double *at, int m, ks_error *err)
{
    if (!f || !at || i < 0 || i >= f->forest->d || m < 1)
        return ks_error_set(err, KS_ERR_INTERNAL, "ks_fanova_marginal: bad arguments");
    if (f->forest->features[i].n_categories == 0)
        for (int p = 1; p < m; p++)
            if (!(at[p - 1] <= at[p]))
                return ks_error_set(err, KS_ERR_INTERNAL,
                                    "ks_fanova_marginal: points not in ascending order");
    return KS_OK;
}

ks_status ks_fanova_marginal(const ks_fanova *f, int i, const double *at, int m, double *out,
                             ks_error *err)
{
    return ks_fanova_marginal2(f, i, at, m, -1, NULL, 1, out, err);
}

ks_status ks_fanova_marginal2(const ks_fanova *f, int i, const double *at_i, int mi, int j,
                              const double *at_j, int mj, double *out, ks_error *err)
{
    int (*ivi)[2] = NULL, (*ivj)[2] = NULL;
    double *diff = NULL;
    ks_leaf_boxes b;
    size_t w = (size_t)mj + 1;
    ks_status s;
    if ((s = check_feature(f, i, at_i, mi, err)) != KS_OK ||
        (j >= 0 && (s = check_feature(f, j, at_j, mj, err)) != KS_OK))
        return s;
    if (j == i || !out)
        return ks_error_set(err, KS_ERR_INTERNAL, "ks_fanova_marginal2: bad arguments");
    ivi = malloc((size_t)mi * sizeof *ivi);
    ivj = malloc((size_t)mj * sizeof *ivj);
    diff = malloc(((size_t)mi + 1) * w * sizeof *diff);
    if (!ivi || !ivj || !diff) {
        free(ivi);
        free(ivj);
        free(diff);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    memset(out, 0, (size_t)mi * (size_t)mj * sizeof *out);
    memset(&b, 0, sizeof b);
    for (int t = 0; s == KS_OK && t < f->forest->n_trees; t++) {
        if ((s = ks_tree_leaf_boxes(f->forest, &f->forest->trees[t], &b, err)) != KS_OK)
            break;
        memset(diff, 0, ((size_t)mi + 1) * w * sizeof *diff);
        for (int l = 0; l < b.n; l++) {
            double c = b.value[l] * frac_without(&b, l, i, j);
            int ni = covered(f->forest, &b, l, i, at_i, mi, ivi), nj = 1;
            if (j >= 0)
                nj = covered(f->forest, &b, l, j, at_j, mj, ivj);
            else
                ivj[0][0] = 0, ivj[0][1] = 1;
            for (int p = 0; p < ni; p++)
                for (int q = 0; q < nj; q++) {
                    diff[(size_t)ivi[p][0] * w + (size_t)ivj[q][0]] += c;
                    diff[(size_t)ivi[p][0] * w + (size_t)ivj[q][1]] -= c;
                    diff[(size_t)ivi[p][1] * w + (size_t)ivj[q][0]] -= c;
                    diff[(size_t)ivi[p][1] * w + (size_t)ivj[q][1]] += c;
                }
        }
        /* 2-d prefix sums turn the corners into each cell's value */
        for (int a = 0; a < mi; a++)
            for (int q = 0; q < mj; q++) {
                double v = diff[(size_t)a * w + (size_t)q];
                if (a > 0)
                    v += diff[(size_t)(a - 1) * w + (size_t)q];
                if (q > 0)
                    v += diff[(size_t)a * w + (size_t)q - 1];
                if (a > 0 && q > 0)
                    v -= diff[(size_t)(a - 1) * w + (size_t)q - 1];
                diff[(size_t)a * w + (size_t)q] = v;
                out[(size_t)a * (size_t)mj + (size_t)q] += v / f->forest->n_trees;
            }
    }
    ks_leaf_boxes_free(&b);
    free(ivi);
    free(ivj);
    free(diff);
    return s;
}

double ks_fanova_predict(const ks_fanova *f, const double *x)
{
    return ks_forest_predict(f->forest, x);
}
