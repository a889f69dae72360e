/*
 * report_html_impl.h — what the HTML report's files share: the study as the report
 * reads it (report_html_data.c), its parameter importance (report_html_importance.c),
 * the JSON the page embeds (report_html_json.c), the page (report_html.c) and its
 * script and style (report_html_assets.c, generated).
 */
#ifndef KS_REPORT_HTML_IMPL_H
#define KS_REPORT_HTML_IMPL_H

#include "tracker.h"

/* Bounds on what a (possibly damaged) study.db may make the report hold. */
#define KS_RH_MAX_PARAMS 64         /* parameters shown */
#define KS_RH_MAX_METRICS 64        /* metric names shown */
#define KS_RH_MAX_EPOCH 1000000     /* an epoch number beyond this is damage */

/* A parameter as the report shows it: declared (the stored search) or inferred. */
typedef struct rh_param {
    char name[64];
    ks_search_kind kind;
    int declared;               /* from the study's stored search */
    int log;                    /* log-scaled axis */
    double low, high, step;     /* INT, FLOAT */
    ks_value choices;           /* CHOICE: the values (declared, or as seen), a LIST */
} rh_param;

/* One trial's objective metric by epoch (NaN where it was not logged). */
typedef struct rh_curve {
    double *v;
    int n, cap;
} rh_curve;

/* The study as the report reads it. */
typedef struct rh_study {
    ks_study_info info;
    int is_fit;                 /* a `ksearch fit` run: no search, every trial's params {} */
    int has_search;
    ks_search_info search;
    int n_params;
    rh_param params[KS_RH_MAX_PARAMS];
    int n;                      /* trials, by number */
    ks_trial_info *trials;
    ks_value *values;           /* n: each trial's parameters (a MAP) */
    int n_metrics;
    char *metrics[KS_RH_MAX_METRICS];   /* names, in the order the logs give them */
    double *at_best;            /* n_metrics × n: each value at the trial's best epoch */
    rh_curve *curves;           /* n */
    ks_segment *segments;       /* by start; reconstructed when not recorded */
    int n_segments, segments_recorded;
    char **ensemble_names, **ensemble_jsons;
    double t0;                  /* the earliest start: times are shown from it */
} rh_study;

/*
 * Read study (NULL: the file's first) from db: its info, stored search (or the
 * parameters inferred from the trials), trials, metric values, segments (or a
 * timeline reconstructed from the trials' start and end) and ensembles.  Everything
 * read is bounded; damage is KS_ERR_CORRUPT.
 */
ks_status rh_load(ks_db *db, const char *study, rh_study *out, ks_error *err);
void rh_free(rh_study *s);
/* The index of the trial numbered number, or −1. */
int rh_trial_index(const rh_study *s, int number);
/* Trial i's value of parameter k (borrowed; NULL if it has none). */
const ks_value *rh_value(const rh_study *s, int i, int k);

/* Parameter importance, its marginals and the contour of the two most important. */
typedef struct rh_importance {
    int available;
    char reason[160];           /* why not, when not available */
    int trials, trees;          /* complete trials used, trees in the forest */
    int n;                      /* parameters with a share (in report order) */
    int param[KS_RH_MAX_PARAMS];        /* the report's parameter index of each */
    double share[KS_RH_MAX_PARAMS], std[KS_RH_MAX_PARAMS];
    /* each one's marginal at m points: x in the parameter's units (a choice's index) */
    int m[KS_RH_MAX_PARAMS];
    double *mx[KS_RH_MAX_PARAMS], *my[KS_RH_MAX_PARAMS];
    /* the contour over the two most important, cx (rows) and cy (columns): indices
       into param[], −1 if none; gx × gy points (x as for marginals) and values */
    int cx, cy, gx, gy;
    double *gxv, *gyv, *gz;
} rh_importance;

/* fANOVA over the complete trials (seed, n_trees: the forest's). */
ks_status rh_importance_compute(const rh_study *s, uint64_t seed, int n_trees,
                                rh_importance *out, ks_error *err);
void rh_importance_free(rh_importance *imp);

/* The page's data as JSON (one object) to f. */
void rh_write_json(FILE *f, const rh_study *s, const rh_importance *imp);
/* JSON pieces: a number (shortest text that reads back the same; null if not finite)
   and a string (escaped so that it can sit inside <script>). */
void rh_json_number(FILE *f, double x);
void rh_json_string(FILE *f, const char *s);

/* The embedded script and style, one line per string, NULL-terminated. */
extern const char *const ks_rh_script[];
extern const char *const ks_rh_style[];

#endif
