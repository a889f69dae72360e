/*
 * forest.c — the random forest that fANOVA decomposes: regression trees grown on
 * bootstrap samples, splitting on the best weighted squared-error reduction (numeric
 * features at midpoints between distinct values, categorical ones on category subsets),
 * and the boxes their leaves cover.  Each feature's rows are sorted once; a node keeps
 * its rows in every feature's order by stable partitioning, so a tree costs
 * O(n · d · depth) rather than a sort per node.
 */
#include "forest.h"
#include "../engine/ks_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH_LIMIT 1000

/* The state of growing one forest. */
typedef struct builder {
    const double *x;            /* n × d */
    double *y;                  /* centred targets (n) */
    int n, d;
    const ks_fanova_feature *feat;
    const ks_fanova_options *opt;
    int *sorted;                /* d × n: rows by ascending x, per feature (all rows) */
    double *w;                  /* n: the current tree's bootstrap counts */
    int *ord;                   /* d × m: the tree's rows in each feature's order */
    int m;
    int *tmp;                   /* m */
    unsigned char *left;        /* n: goes left at the current split */
    size_t *perm;               /* d: features in a random order per node */
    ks_rng *rng;
} builder;

typedef struct split {
    int feature;
    double score;               /* SL²/WL + SR²/WR (larger is better) */
    double threshold;
    uint64_t left_set;
} split;

typedef struct pending {
    int node, start, end, depth;
} pending;

/* --------------------------------------------------------------- tree nodes */

static int add_node(ks_tree *t)
{
    if (t->n_nodes == t->cap) {
        int cap = t->cap ? 2 * t->cap : 64;
        ks_tree_node *v = realloc(t->nodes, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        t->nodes = v;
        t->cap = cap;
    }
    memset(&t->nodes[t->n_nodes], 0, sizeof t->nodes[0]);
    t->nodes[t->n_nodes].feature = -1;
    return t->n_nodes++;
}

/* ----------------------------------------------------------- finding splits */

static double x_at(const builder *b, int row, int f)
{
    return b->x[(size_t)row * (size_t)b->d + (size_t)f];
}

/* The best split of rows ord[f][start, end) on numeric feature f, if better than *best. */
static void numeric_split(const builder *b, int f, int start, int end, double W, double S,
                          split *best)
{
    const int *o = b->ord + (size_t)f * (size_t)b->m;
    int min_leaf = b->opt->min_samples_leaf;
    double wl = 0, sl = 0;
    for (int p = start; p < end - 1; p++) {
        int r = o[p];
        double xa, xb;
        wl += b->w[r];
        sl += b->w[r] * b->y[r];
        xa = x_at(b, r, f);
        xb = x_at(b, o[p + 1], f);
        if (!(xa < xb) || p + 1 - start < min_leaf || end - p - 1 < min_leaf)
            continue;
        {
            double wr = W - wl, sr = S - sl;
            double score = sl * sl / wl + sr * sr / wr;
            if (score > best->score) {
                double mid = 0.5 * (xa + xb);
                best->score = score;
                best->feature = f;
                best->threshold = mid < xb ? mid : xa;   /* midpoint, unless it rounds up */
                best->left_set = 0;
            }
        }
    }
}

typedef struct category_stat {
    int c;
    double w, s;
    int rows;
} category_stat;

static int by_mean(const void *a, const void *b)
{
    const category_stat *p = a, *q = b;
    double mp = p->s / p->w, mq = q->s / q->w;
    if (mp != mq)
        return mp < mq ? -1 : 1;
    return p->c - q->c;
}

/* The best split on categorical feature f: categories ordered by their mean target, the
   best prefix goes left (exact for squared error); absent ones go to the heavier side. */
static void categorical_split(const builder *b, int f, int start, int end, double W, double S,
                              split *best)
{
    const int *o = b->ord + (size_t)f * (size_t)b->m;
    int K = b->feat[f].n_categories, present = 0, rows = 0;
    category_stat st[KS_FANOVA_MAX_CATEGORIES];
    double wl = 0, sl = 0;
    uint64_t all = K >= 64 ? ~0ull : ((1ull << K) - 1), set = 0;
    memset(st, 0, sizeof st);
    for (int c = 0; c < K; c++)
        st[c].c = c;
    for (int p = start; p < end; p++) {
        int r = o[p], c = (int)x_at(b, r, f);
        st[c].w += b->w[r];
        st[c].s += b->w[r] * b->y[r];
        st[c].rows++;
    }
    for (int c = 0; c < K; c++)
        if (st[c].rows > 0)
            st[present++] = st[c];
    qsort(st, (size_t)present, sizeof st[0], by_mean);
    for (int k = 0; k < present - 1; k++) {
        double wr, sr, score;
        wl += st[k].w;
        sl += st[k].s;
        rows += st[k].rows;
        set |= 1ull << st[k].c;
        if (rows < b->opt->min_samples_leaf || (end - start) - rows < b->opt->min_samples_leaf)
            continue;
        wr = W - wl;
        sr = S - sl;
        score = sl * sl / wl + sr * sr / wr;
        if (score > best->score) {
            uint64_t seen = 0;
            for (int j = 0; j < present; j++)
                seen |= 1ull << st[j].c;
            best->score = score;
            best->feature = f;
            best->threshold = 0;
            /* categories this node never saw follow the heavier side */
            best->left_set = set | (wl >= wr ? (all & ~seen) : 0);
        }
    }
}

/* ------------------------------------------------------------ growing a tree */

/* Move rows going left before rows going right in every feature's order (stably). */
static void partition(builder *b, int start, int end, int *n_left)
{
    for (int f = 0; f < b->d; f++) {
        int *o = b->ord + (size_t)f * (size_t)b->m, k = start, r = 0;
        for (int p = start; p < end; p++) {
            if (b->left[o[p]])
                o[k++] = o[p];
            else
                b->tmp[r++] = o[p];
        }
        memcpy(o + k, b->tmp, (size_t)r * sizeof *o);
        *n_left = k - start;
    }
}

/* Whether value v of the node's feature goes left (a category index when categorical). */
static int goes_left(const ks_tree_node *node, double v)
{
    if (node->categorical)
        return v >= 0 && v < 64 && ((node->left_set >> (int)v) & 1u);
    return v <= node->threshold;
}

/* Split node p.node or make it a leaf; pushes its children on the stack. */
static ks_status grow_node(builder *b, ks_tree *t, const pending *p, pending *stack, int *top,
                           double y_mean)
{
    const int *o = b->ord;     /* feature 0's order lists every row of the node */
    double W = 0, S = 0, ymin = INFINITY, ymax = -INFINITY;
    split best = {-1, -INFINITY, 0, 0};
    int n_left = 0, l, r;
    for (int q = p->start; q < p->end; q++) {
        int row = o[q];
        W += b->w[row];
        S += b->w[row] * b->y[row];
        if (b->y[row] < ymin)
            ymin = b->y[row];
        if (b->y[row] > ymax)
            ymax = b->y[row];
    }
    t->nodes[p->node].value = S / W + y_mean;
    if (p->depth > t->depth)
        t->depth = p->depth;
    if (p->depth >= b->opt->max_depth || p->end - p->start < b->opt->min_samples_split ||
        ymin == ymax)
        return KS_OK;
    for (int f = 0; f < b->d; f++)
        b->perm[f] = (size_t)f;
    ks_rng_shuffle(b->rng, b->perm, (size_t)b->d);
    for (int k = 0; k < b->d; k++) {
        int f = (int)b->perm[k];
        if (b->feat[f].n_categories > 0)
            categorical_split(b, f, p->start, p->end, W, S, &best);
        else
            numeric_split(b, f, p->start, p->end, W, S, &best);
    }
    if (best.feature < 0)
        return KS_OK;           /* every feature is constant here */
    if ((l = add_node(t)) < 0 || (r = add_node(t)) < 0)
        return KS_ERR_NOMEM;
    {
        ks_tree_node *nd = &t->nodes[p->node];
        nd->feature = best.feature;
        nd->categorical = b->feat[best.feature].n_categories > 0;
        nd->threshold = best.threshold;
        nd->left_set = best.left_set;
        nd->left = l;
        nd->right = r;
        for (int q = p->start; q < p->end; q++)
            b->left[o[q]] = (unsigned char)goes_left(nd, x_at(b, o[q], best.feature));
    }
    partition(b, p->start, p->end, &n_left);
    stack[(*top)++] = (pending){r, p->start + n_left, p->end, p->depth + 1};
    stack[(*top)++] = (pending){l, p->start, p->start + n_left, p->depth + 1};
    return KS_OK;
}

static ks_status grow_tree(builder *b, int index, ks_tree *t, double y_mean)
{
    pending *stack;
    int top = 0;
    ks_status s = KS_OK;
    ks_rng_reseed(b->rng, b->opt->seed, ks_hash_string("fanova forest"), (uint64_t)index);
    memset(b->w, 0, (size_t)b->n * sizeof *b->w);
    if (b->opt->bootstrap)
        for (int i = 0; i < b->n; i++)
            b->w[ks_rng_index(b->rng, (uint64_t)b->n)] += 1.0;
    else
        for (int i = 0; i < b->n; i++)
            b->w[i] = 1.0;
    b->m = 0;
    for (int i = 0; i < b->n; i++)
        b->m += b->w[i] > 0;
    for (int f = 0; f < b->d; f++) {
        int *o = b->ord + (size_t)f * (size_t)b->m, k = 0;
        for (int i = 0; i < b->n; i++) {
            int row = b->sorted[(size_t)f * (size_t)b->n + (size_t)i];
            if (b->w[row] > 0)
                o[k++] = row;
        }
    }
    /* depth-first: at most two entries per level wait on the stack */
    if (!(stack = malloc((size_t)(2 * b->opt->max_depth + 4) * sizeof *stack)))
        return KS_ERR_NOMEM;
    if (add_node(t) < 0) {
        free(stack);
        return KS_ERR_NOMEM;
    }
    stack[top++] = (pending){0, 0, b->m, 0};
    while (s == KS_OK && top > 0) {
        pending p = stack[--top];
        s = grow_node(b, t, &p, stack, &top, y_mean);
    }
    free(stack);
    return s;
}

/* ------------------------------------------------------------- the forest */

typedef struct keyed {
    double v;
    int row;
} keyed;

static int by_value(const void *a, const void *b)
{
    const keyed *p = a, *q = b;
    if (p->v != q->v)
        return p->v < q->v ? -1 : 1;
    return p->row - q->row;
}

/* Check the input and widen numeric domains to the data (into f->features). */
static ks_status check_input(const double *x, const double *y, int n, int d,
                             const ks_fanova_feature *features, const ks_fanova_options *opt,
                             ks_forest *f, ks_error *err)
{
    if (n < 1 || d < 1 || d > KS_FANOVA_MAX_FEATURES)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "fanova: %d rows of %d features (expected >= 1 rows, 1 to %d "
                            "features)",
                            n, d, KS_FANOVA_MAX_FEATURES);
    if (opt->n_trees < 1 || opt->n_trees > 10000 || opt->max_depth < 1 ||
        opt->max_depth > MAX_DEPTH_LIMIT || opt->min_samples_split < 2 ||
        opt->min_samples_leaf < 1)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "fanova: n_trees %d, max_depth %d, min_samples_split %d, "
                            "min_samples_leaf %d out of range",
                            opt->n_trees, opt->max_depth, opt->min_samples_split,
                            opt->min_samples_leaf);
    for (int k = 0; k < d; k++) {
        ks_fanova_feature *ft = &f->features[k];
        *ft = features[k];
        if (ft->n_categories < 0 || ft->n_categories > KS_FANOVA_MAX_CATEGORIES ||
            (ft->n_categories == 0 && !(ft->low <= ft->high)))
            return ks_error_set(err, KS_ERR_CONFIG,
                                "fanova: feature %d has %d categories, domain [%g, %g]", k,
                                ft->n_categories, ft->low, ft->high);
    }
    for (int i = 0; i < n; i++) {
        if (!isfinite(y[i]))
            return ks_error_set(err, KS_ERR_CONFIG, "fanova: target %d is not finite", i);
        for (int k = 0; k < d; k++) {
            double v = x[(size_t)i * (size_t)d + (size_t)k];
            ks_fanova_feature *ft = &f->features[k];
            if (!isfinite(v) || (ft->n_categories > 0 &&
                                 (v < 0 || v >= ft->n_categories || v != floor(v))))
                return ks_error_set(err, KS_ERR_CONFIG,
                                    "fanova: row %d, feature %d: %g is not a finite value or "
                                    "a category index",
                                    i, k, v);
            if (ft->n_categories == 0) {
                if (v < ft->low)
                    ft->low = v;
                if (v > ft->high)
                    ft->high = v;
            }
        }
    }
    return KS_OK;
}

static ks_status builder_init(builder *b, const double *x, const double *y, int n, int d,
                              const ks_forest *f, const ks_fanova_options *opt, double *y_mean)
{
    keyed *kv;
    double sum = 0;
    memset(b, 0, sizeof *b);
    b->x = x;
    b->n = n;
    b->d = d;
    b->feat = f->features;
    b->opt = opt;
    b->y = malloc((size_t)n * sizeof *b->y);
    b->sorted = malloc((size_t)n * (size_t)d * sizeof *b->sorted);
    b->w = malloc((size_t)n * sizeof *b->w);
    b->ord = malloc((size_t)n * (size_t)d * sizeof *b->ord);
    b->tmp = malloc((size_t)n * sizeof *b->tmp);
    b->left = malloc((size_t)n);
    b->perm = malloc((size_t)d * sizeof *b->perm);
    kv = malloc((size_t)n * sizeof *kv);
    if (!b->y || !b->sorted || !b->w || !b->ord || !b->tmp || !b->left || !b->perm || !kv ||
        ks_rng_new(opt->seed, 0, 0, &b->rng) != KS_OK) {
        free(kv);
        return KS_ERR_NOMEM;
    }
    for (int i = 0; i < n; i++)
        sum += y[i];
    *y_mean = sum / n;
    for (int i = 0; i < n; i++)
        b->y[i] = y[i] - *y_mean;
    for (int k = 0; k < d; k++) {
        for (int i = 0; i < n; i++)
            kv[i] = (keyed){x[(size_t)i * (size_t)d + (size_t)k], i};
        qsort(kv, (size_t)n, sizeof *kv, by_value);
        for (int i = 0; i < n; i++)
            b->sorted[(size_t)k * (size_t)n + (size_t)i] = kv[i].row;
    }
    free(kv);
    return KS_OK;
}

static void builder_free(builder *b)
{
    free(b->y);
    free(b->sorted);
    free(b->w);
    free(b->ord);
    free(b->tmp);
    free(b->left);
    free(b->perm);
    ks_rng_free(b->rng);
}

ks_status ks_forest_fit(const double *x, const double *y, int n, int d,
                        const ks_fanova_feature *features, const ks_fanova_options *opt,
                        ks_forest **out, ks_error *err)
{
    ks_forest *f;
    builder b;
    double y_mean = 0;
    ks_status s;
    *out = NULL;
    if (!x || !y || !features || !opt)
        return ks_error_set(err, KS_ERR_INTERNAL, "ks_forest_fit: a NULL argument");
    if (!(f = calloc(1, sizeof *f)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    f->d = d;
    if ((s = check_input(x, y, n, d, features, opt, f, err)) != KS_OK) {
        free(f);
        return s;
    }
    if (!(f->trees = calloc((size_t)opt->n_trees, sizeof *f->trees)) ||
        builder_init(&b, x, y, n, d, f, opt, &y_mean) != KS_OK) {
        if (f->trees)
            builder_free(&b);
        ks_forest_free(f);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    f->n_trees = opt->n_trees;
    s = KS_OK;
    for (int t = 0; s == KS_OK && t < f->n_trees; t++)
        s = grow_tree(&b, t, &f->trees[t], y_mean);
    builder_free(&b);
    if (s != KS_OK) {
        ks_forest_free(f);
        return ks_error_set(err, s, "out of memory");
    }
    *out = f;
    return KS_OK;
}

void ks_forest_free(ks_forest *f)
{
    if (!f)
        return;
    for (int t = 0; t < f->n_trees; t++)
        free(f->trees[t].nodes);
    free(f->trees);
    free(f);
}

double ks_tree_predict(const ks_tree *t, const double *x)
{
    int k = 0;
    while (t->nodes[k].feature >= 0) {
        const ks_tree_node *node = &t->nodes[k];
        k = goes_left(node, x[node->feature]) ? node->left : node->right;
    }
    return t->nodes[k].value;
}

double ks_forest_predict(const ks_forest *f, const double *x)
{
    double sum = 0;
    for (int t = 0; t < f->n_trees; t++)
        sum += ks_tree_predict(&f->trees[t], x);
    return sum / f->n_trees;
}

/* ------------------------------------------------------------- leaf boxes */

void ks_leaf_boxes_free(ks_leaf_boxes *b)
{
    if (!b)
        return;
    free(b->value);
    free(b->lo);
    free(b->hi);
    free(b->frac);
    free(b->set);
    free(b->walk);
    free(b->walk_lo);
    free(b->walk_hi);
    free(b->walk_set);
    memset(b, 0, sizeof *b);
}

/* Room for n leaves and a walk of depth + 2 slots, of d features. */
static int reserve(ks_leaf_boxes *b, int n, int slots, int d)
{
    if (n > b->cap || d != b->d) {
        size_t nd = (size_t)n * (size_t)d;
        free(b->value);
        free(b->lo);
        free(b->hi);
        free(b->frac);
        free(b->set);
        b->value = malloc((size_t)n * sizeof *b->value);
        b->lo = malloc(nd * sizeof *b->lo);
        b->hi = malloc(nd * sizeof *b->hi);
        b->frac = malloc(nd * sizeof *b->frac);
        b->set = malloc(nd * sizeof *b->set);
        b->cap = n;
        if (!b->value || !b->lo || !b->hi || !b->frac || !b->set) {
            b->cap = 0;
            return -1;
        }
    }
    if (slots > b->walk_cap || d != b->d) {
        size_t sd = (size_t)slots * (size_t)d;
        free(b->walk);
        free(b->walk_lo);
        free(b->walk_hi);
        free(b->walk_set);
        b->walk = malloc((size_t)slots * sizeof *b->walk);
        b->walk_lo = malloc(sd * sizeof *b->walk_lo);
        b->walk_hi = malloc(sd * sizeof *b->walk_hi);
        b->walk_set = malloc(sd * sizeof *b->walk_set);
        b->walk_cap = slots;
        if (!b->walk || !b->walk_lo || !b->walk_hi || !b->walk_set) {
            b->walk_cap = 0;
            return -1;
        }
    }
    b->d = d;
    return 0;
}

/* Record a leaf with its box as leaf number b->n. */
static void record_leaf(const ks_forest *f, double value, const double *lo, const double *hi,
                        const uint64_t *set, ks_leaf_boxes *b)
{
    size_t row = (size_t)b->n * (size_t)f->d;
    b->value[b->n] = value;
    for (int k = 0; k < f->d; k++) {
        const ks_fanova_feature *ft = &f->features[k];
        double frac;
        b->lo[row + (size_t)k] = lo[k];
        b->hi[row + (size_t)k] = hi[k];
        b->set[row + (size_t)k] = set[k];
        if (ft->n_categories > 0)
            frac = (double)__builtin_popcountll(set[k]) / ft->n_categories;
        else if (ft->high > ft->low)
            frac = (hi[k] - lo[k]) / (ft->high - ft->low);
        else
            frac = 1.0;
        b->frac[row + (size_t)k] = frac > 0 ? frac : 0.0;
    }
    b->n++;
}

ks_status ks_tree_leaf_boxes(const ks_forest *f, const ks_tree *t, ks_leaf_boxes *b,
                             ks_error *err)
{
    int d = f->d, n_leaves = 0, top = 0;
    for (int k = 0; k < t->n_nodes; k++)
        n_leaves += t->nodes[k].feature < 0;
    /* a depth-first walk keeps at most depth + 2 boxes: one per slot of its stack */
    if (reserve(b, n_leaves, t->depth + 2, d) != 0) {
        ks_leaf_boxes_free(b);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    b->n = 0;
    for (int k = 0; k < d; k++) {
        int K = f->features[k].n_categories;
        b->walk_lo[k] = f->features[k].low;
        b->walk_hi[k] = f->features[k].high;
        b->walk_set[k] = K >= 64 ? ~0ull : K > 0 ? (1ull << K) - 1 : 0;
    }
    b->walk[top++] = 0;
    while (top > 0) {
        int slot = top - 1, node = b->walk[slot];
        const ks_tree_node *nd = &t->nodes[node];
        double *l0 = b->walk_lo + (size_t)slot * (size_t)d;
        double *h0 = b->walk_hi + (size_t)slot * (size_t)d;
        uint64_t *s0 = b->walk_set + (size_t)slot * (size_t)d;
        int k = nd->feature;
        if (k < 0) {
            record_leaf(f, nd->value, l0, h0, s0, b);
            top--;
            continue;
        }
        /* the right child takes this slot, the left one the next */
        memcpy(l0 + d, l0, (size_t)d * sizeof *l0);
        memcpy(h0 + d, h0, (size_t)d * sizeof *h0);
        memcpy(s0 + d, s0, (size_t)d * sizeof *s0);
        if (nd->categorical) {
            s0[k] &= ~nd->left_set;
            s0[d + k] &= nd->left_set;
        } else {
            if (nd->threshold > l0[k])
                l0[k] = nd->threshold < h0[k] ? nd->threshold : h0[k];
            if (nd->threshold < h0[d + k])
                h0[d + k] = nd->threshold > l0[d + k] ? nd->threshold : l0[d + k];
        }
        b->walk[slot] = nd->right;
        b->walk[top++] = nd->left;
    }
    return KS_OK;
}
