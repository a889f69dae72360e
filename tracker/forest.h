/*
 * forest.h — internal to the tracker's parameter importance (forest.c, fanova.c, and
 * tests/test_fanova.c): a random forest of regression trees on numeric and categorical
 * features, as fANOVA fits it to a study's completed trials, and the boxes its leaves
 * cover in the search space.
 */
#ifndef KS_FOREST_H
#define KS_FOREST_H

#include "tracker.h"

/* One node: a split (feature >= 0) or a leaf (feature −1). */
typedef struct ks_tree_node {
    int feature;                /* the split's feature, −1 for a leaf */
    int categorical;            /* the split is on categories (left_set), not threshold */
    double threshold;           /* numeric: x <= threshold goes left */
    uint64_t left_set;          /* categorical: bit c set = category c goes left */
    int left, right;            /* children (node indices) */
    double value;               /* the weighted mean of the node's targets */
} ks_tree_node;

typedef struct ks_tree {
    ks_tree_node *nodes;        /* nodes[0] is the root */
    int n_nodes, cap;
    int depth;                  /* of the deepest leaf (the root's is 0) */
} ks_tree;

typedef struct ks_forest {
    int d;                                  /* features */
    ks_fanova_feature features[KS_FANOVA_MAX_FEATURES];   /* domains widened to the data */
    int n_trees;
    ks_tree *trees;
} ks_forest;

/*
 * Fit opt->n_trees trees to the n rows of x (n × d, row-major; categorical values are
 * category indices) and y: each on a bootstrap sample (opt->bootstrap), splitting on
 * the best weighted squared-error reduction over every feature (numeric: at midpoints
 * between distinct values, as CART; categorical: the best subset, found by ordering
 * the node's categories by their mean target, Breiman's exact rule for squared error),
 * down to opt->max_depth or min_samples_split / min_samples_leaf.  Deterministic from
 * opt->seed.  Values must be finite and categories in range (KS_ERR_CONFIG otherwise).
 */
ks_status ks_forest_fit(const double *x, const double *y, int n, int d,
                        const ks_fanova_feature *features, const ks_fanova_options *opt,
                        ks_forest **out, ks_error *err);
void ks_forest_free(ks_forest *f);
/* One tree's prediction at x (d values), and the forest's (the mean over trees). */
double ks_tree_predict(const ks_tree *t, const double *x);
double ks_forest_predict(const ks_forest *f, const double *x);

/*
 * The leaves of a tree and their boxes: leaf l covers, in each feature k, a numeric
 * interval (lo, hi] clipped to the feature's domain, or the set of categories that
 * reach it; frac is the box's share of feature k's domain (width / domain width, or
 * categories / n_categories).  Arrays are n × d, row l for leaf l.
 */
typedef struct ks_leaf_boxes {
    int n, d;
    double *value;              /* n */
    double *lo, *hi, *frac;     /* n × d */
    uint64_t *set;              /* n × d (categorical features) */
    /* memory kept between calls (one tree after another) */
    int cap, walk_cap;
    int *walk;
    double *walk_lo, *walk_hi;
    uint64_t *walk_set;
} ks_leaf_boxes;
/* The leaves of tree t into b, which starts zeroed ({0}) and may be reused from tree to
   tree; free it with ks_leaf_boxes_free. */
ks_status ks_tree_leaf_boxes(const ks_forest *f, const ks_tree *t, ks_leaf_boxes *b,
                             ks_error *err);
void ks_leaf_boxes_free(ks_leaf_boxes *b);

#endif
