/*
 * report_html_importance.c — the report's parameter importance: the complete trials'
 * parameters (log-scaled ones in log10, choices as categories) and objectives go to
 * fANOVA (fanova.c); out come each parameter's share, its marginal for the slice plots,
 * and the forest's prediction over the two most important parameters for the contour.
 */
#include "report_html_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MARGINAL_POINTS 48
#define CONTOUR_POINTS 32

/* How parameter k enters the forest: feature kinds and domains, or not at all (a
   parameter with a single value explains nothing, as in Optuna). */
static int feature_of(const rh_study *s, int k, ks_fanova_feature *f, int *log_scaled)
{
    const rh_param *p = &s->params[k];
    memset(f, 0, sizeof *f);
    *log_scaled = 0;
    if (p->kind == KS_SEARCH_CHOICE) {
        f->n_categories = (int)p->choices.n;
        return p->choices.n >= 2 && p->choices.n <= KS_FANOVA_MAX_CATEGORIES;
    }
    if (!(p->high > p->low) || !isfinite(p->low) || !isfinite(p->high))
        return 0;
    *log_scaled = p->log && p->low > 0;
    f->low = *log_scaled ? log10(p->low) : p->low;
    f->high = *log_scaled ? log10(p->high) : p->high;
    return 1;
}

/* Trial i's value of parameter k in the forest's terms; 0 if it has none usable. */
static int feature_value(const rh_study *s, int i, int k, int log_scaled, double *x)
{
    const rh_param *p = &s->params[k];
    const ks_value *v = rh_value(s, i, k);
    if (!v)
        return 0;
    if (p->kind == KS_SEARCH_CHOICE) {
        for (size_t c = 0; c < p->choices.n; c++)
            if (ks_value_equal(&p->choices.items[c], v)) {
                *x = (double)c;
                return 1;
            }
        return 0;
    }
    if (v->kind != KS_VALUE_NUMBER || !isfinite(v->number) || (log_scaled && v->number <= 0))
        return 0;
    *x = log_scaled ? log10(v->number) : v->number;
    return 1;
}

/* Does every complete trial have parameter k?  A conditional parameter (absent where it
   is inactive) is left out of the importance, as Optuna's importance keeps the parameters
   of its intersection search space. */
static int in_every_complete_trial(const rh_study *s, int k)
{
    for (int i = 0; i < s->n; i++)
        if (s->trials[i].status == KS_TRIAL_COMPLETE && isfinite(s->trials[i].objective) &&
            !rh_value(s, i, k))
            return 0;
    return 1;
}

/* m points along a feature: categories, or evenly over the domain (cell centres when
   centred); into the forest's terms (at) and the parameter's units (x). */
static int grid(const ks_fanova_feature *f, int log_scaled, int m, int centred, double *at,
                double *x)
{
    if (f->n_categories > 0)
        m = f->n_categories;
    for (int q = 0; q < m; q++) {
        if (f->n_categories > 0)
            at[q] = q;
        else
            at[q] = f->low + (f->high - f->low) * (centred ? (q + 0.5) / m : (double)q / (m - 1));
        x[q] = f->n_categories > 0 ? q : log_scaled ? pow(10, at[q]) : at[q];
    }
    return m;
}

typedef struct features {
    int d;
    int param[KS_RH_MAX_PARAMS];        /* report parameter of each feature */
    int log[KS_RH_MAX_PARAMS];
    ks_fanova_feature f[KS_RH_MAX_PARAMS];
} features;

/* The marginals and the contour from the fitted forest. */
static ks_status curves_and_contour(const ks_fanova *fa, const features *ft, rh_importance *out,
                                    ks_error *err)
{
    double at[KS_FANOVA_MAX_CATEGORIES + MARGINAL_POINTS];
    int first = -1, second = -1;
    ks_status s = KS_OK;
    for (int j = 0; s == KS_OK && j < ft->d; j++) {
        int m = ft->f[j].n_categories ? ft->f[j].n_categories : MARGINAL_POINTS;
        out->mx[j] = malloc((size_t)m * sizeof(double));
        out->my[j] = malloc((size_t)m * sizeof(double));
        if (!out->mx[j] || !out->my[j])
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        out->m[j] = grid(&ft->f[j], ft->log[j], m, 0, at, out->mx[j]);
        s = ks_fanova_marginal(fa, j, at, out->m[j], out->my[j], err);
        if (first < 0 || out->share[j] > out->share[first]) {
            second = first;
            first = j;
        } else if (second < 0 || out->share[j] > out->share[second]) {
            second = j;
        }
    }
    if (s != KS_OK || second < 0)
        return s;
    {
        int gx = ft->f[first].n_categories ? ft->f[first].n_categories : CONTOUR_POINTS;
        int gy = ft->f[second].n_categories ? ft->f[second].n_categories : CONTOUR_POINTS;
        double ax[KS_FANOVA_MAX_CATEGORIES], ay[KS_FANOVA_MAX_CATEGORIES];
        out->gxv = malloc((size_t)gx * sizeof(double));
        out->gyv = malloc((size_t)gy * sizeof(double));
        out->gz = malloc((size_t)gx * (size_t)gy * sizeof(double));
        if (!out->gxv || !out->gyv || !out->gz)
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        out->gx = grid(&ft->f[first], ft->log[first], gx, 1, ax, out->gxv);
        out->gy = grid(&ft->f[second], ft->log[second], gy, 1, ay, out->gyv);
        out->cx = first;
        out->cy = second;
        s = ks_fanova_marginal2(fa, first, ax, out->gx, second, ay, out->gy, out->gz, err);
    }
    return s;
}

ks_status rh_importance_compute(const rh_study *s, uint64_t seed, int n_trees,
                                rh_importance *out, ks_error *err)
{
    features ft;
    ks_fanova_options opt = ks_fanova_options_default();
    ks_fanova *fa = NULL;
    double *x = NULL, *y = NULL;
    int rows = 0, complete = 0, varies = 0;
    ks_status st;
    memset(out, 0, sizeof *out);
    out->cx = out->cy = -1;
    memset(&ft, 0, sizeof ft);
    for (int k = 0; k < s->n_params; k++)
        if (in_every_complete_trial(s, k) && feature_of(s, k, &ft.f[ft.d], &ft.log[ft.d]))
            ft.param[ft.d++] = k;
    for (int i = 0; i < s->n; i++)
        complete += s->trials[i].status == KS_TRIAL_COMPLETE && isfinite(s->trials[i].objective);
    if (s->n_params == 0 || ft.d == 0) {
        snprintf(out->reason, sizeof out->reason, "%s",
                 s->n_params == 0 ? "this run has no search parameters"
                                  : "no parameter takes more than one value");
        return KS_OK;
    }
    x = malloc(((size_t)complete + 1) * (size_t)ft.d * sizeof *x);
    y = malloc(((size_t)complete + 1) * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < s->n; i++) {
        int ok = s->trials[i].status == KS_TRIAL_COMPLETE && isfinite(s->trials[i].objective);
        for (int j = 0; ok && j < ft.d; j++)
            ok = feature_value(s, i, ft.param[j], ft.log[j], &x[(size_t)rows * (size_t)ft.d + (size_t)j]);
        if (ok)
            y[rows++] = s->trials[i].objective;
    }
    out->trials = rows;
    out->trees = n_trees;
    if (rows < 2) {
        snprintf(out->reason, sizeof out->reason,
                 "it needs at least 2 complete trials with every parameter, and this study has %d",
                 rows);
        free(x);
        free(y);
        return KS_OK;
    }
    opt.n_trees = n_trees;
    opt.seed = seed;
    st = ks_fanova_fit(x, y, rows, ft.d, ft.f, &opt, &fa, err);
    if (st == KS_OK)
        st = ks_fanova_importance(fa, out->share, out->std, &varies, err);
    if (st == KS_OK && !varies) {
        snprintf(out->reason, sizeof out->reason,
                 "every complete trial has the same objective");
    } else if (st == KS_OK) {
        out->n = ft.d;
        memcpy(out->param, ft.param, sizeof ft.param);
        st = curves_and_contour(fa, &ft, out, err);
        out->available = st == KS_OK;
    }
    ks_fanova_free(fa);
    free(x);
    free(y);
    return st;
}

void rh_importance_free(rh_importance *imp)
{
    if (!imp)
        return;
    for (int j = 0; j < KS_RH_MAX_PARAMS; j++) {
        free(imp->mx[j]);
        free(imp->my[j]);
    }
    free(imp->gxv);
    free(imp->gyv);
    free(imp->gz);
    memset(imp, 0, sizeof *imp);
}
