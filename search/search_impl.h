/*
 * search_impl.h — internals shared by the search module's .c files: the search space
 * and the sampler interface (grid, random, bayesian, hyperband), the controller's
 * pieces, and the command line's helpers.
 */
#ifndef KS_SEARCH_IMPL_H
#define KS_SEARCH_IMPL_H

#include "search.h"
#include "../engine/ks_util.h"

#include <math.h>
#include <stddef.h>

/* ============================================================ search space */

#define KS_MAX_SEARCH_PARAMS 32
#define KS_MAX_CHOICES 64

typedef enum ks_param_kind {
    KS_PARAM_CHOICE,            /* values: [a, b, c] (numbers, strings or booleans) */
    KS_PARAM_INT,               /* int: [min, max], optional step, log */
    KS_PARAM_FLOAT              /* float: [min, max], optional log */
} ks_param_kind;

typedef struct ks_param {
    char name[64];
    ks_param_kind kind;
    int n_values;               /* CHOICE */
    ks_value values[KS_MAX_CHOICES];    /* CHOICE: scalar values (owned) */
    double min, max;            /* INT, FLOAT (inclusive) */
    double step;                /* INT: >= 1 (default 1) */
    int log;                    /* INT, FLOAT: sample and encode log-uniformly (min > 0) */
    int grid_points;            /* FLOAT (and INT): points for grid search; 0 = not given */
} ks_param;

typedef struct ks_space {
    int n;
    ks_param params[KS_MAX_SEARCH_PARAMS];
} ks_space;

void ks_space_free(ks_space *sp);
/* The first point: every choice's first value, every range's minimum. */
void ks_space_first_point(const ks_space *sp, double *point);
/*
 * A point is one double per parameter: for CHOICE the index of the value, for INT the
 * integer (on its step grid), for FLOAT the number.
 */
/* A uniform draw (log-uniform with log, integers on their step grid, choices uniform). */
void ks_space_sample(const ks_space *sp, ks_rng *rng, double *point);
/*
 * The unit-cube encoding the Gaussian process works in: each INT/FLOAT a coordinate
 * in [0, 1] (of log(x) with log), each CHOICE one coordinate per value (one-hot).
 */
int ks_space_dims(const ks_space *sp);
void ks_space_encode(const ks_space *sp, const double *point, double *u);
/* The nearest point to u: integers rounded to their grid, the largest one-hot wins. */
void ks_space_decode(const ks_space *sp, const double *u, double *point);
/* Grid: the number of points and the i-th (row-major over the parameters, the last
   one fastest).  FLOATs need grid_points; INTs without it take every step. */
long ks_space_grid_size(const ks_space *sp);
void ks_space_grid_point(const ks_space *sp, long i, double *point);
/* The value of parameter i at a point, as a config value (number, string or bool). */
ks_status ks_space_value(const ks_space *sp, int i, const double *point, ks_value *out);
/* The point as JSON text {"name": value, …} (malloc'd), and back. */
ks_status ks_space_point_json(const ks_space *sp, const double *point, char **out);
ks_status ks_space_point_from_json(const ks_space *sp, const char *json, double *point,
                                   ks_error *err);

/* =================================================================== study */

/* Names a trial's fit logs besides loss (every output's losses and metrics), at most. */
#define KS_MAX_LOGGED 40

struct ks_study {
    char path[1024];
    char *text;                         /* the file as given (for the database and resume) */
    ks_value doc;                       /* the file, $references unresolved */
    ks_run_config *base;                /* the file at its first point: data, name, seed, fit */
    ks_space space;
    const ks_value *param_at[KS_MAX_SEARCH_PARAMS];  /* definitions, for messages */
    unsigned char used[KS_MAX_SEARCH_PARAMS];
    const struct ks_sampler_ops *method;
    void *method_args;
    char metric[KS_LOG_NAME_MAX];       /* "" until decided from the data */
    const ks_value *metric_at;
    int maximize;
    int max_trials;
    int parallel;
    char *warnings;                     /* the model's build warnings, once, or NULL */
    char log_names[KS_MAX_LOGGED][KS_LOG_NAME_MAX]; /* what a fit logs after "loss" */
    int n_log_names;
};

/*
 * Callbacks of the file a study does not run itself: ModelCheckpoint without a filepath
 * (the tracker keeps every trial's best and last checkpoints in study.db).
 */
int ks_study_skips_callback(const ks_value *entry);

/* ================================================================ samplers */

/* What a sampler sees of one trial so far. */
typedef struct ks_trial_view {
    int number;
    const double *point;        /* the trial's parameters (space->n values) */
    ks_trial_status status;     /* queued or running: pending, no result yet */
    int budget;                 /* epochs asked for */
    int epochs;                 /* epochs done */
    const double *curve;        /* the objective metric after each epoch done (NaN if absent) */
    double objective;           /* best of curve (NaN: none, e.g. failed at once) */
} ks_trial_view;

/* The study so far, as samplers see it. */
typedef struct ks_history {
    const ks_space *space;
    int maximize;               /* 1: larger objective is better */
    int n;
    const ks_trial_view *trials;    /* by number: trials[i].number == i */
    int max_trials;             /* the study's max_trials (0: the method's own count) */
    int max_epochs;             /* the fit's epochs (hyperband: R) */
    uint64_t seed;              /* the study's seed */
} ks_history;

/* A sampler's answer: a new trial, or more epochs for an existing one. */
typedef struct ks_suggestion {
    int continue_trial;         /* -1: a new trial with point; else that trial's number */
    double *point;              /* new trial: space->n values (the caller's buffer) */
    int budget;                 /* total epochs the trial should have trained after this */
} ks_suggestion;

typedef enum ks_suggest_result {
    KS_SUGGEST_OK,              /* *out holds the next request */
    KS_SUGGEST_WAIT,            /* nothing until a pending trial finishes */
    KS_SUGGEST_DONE,            /* the method has nothing more to try */
    KS_SUGGEST_ERROR            /* it could not answer (e.g. out of memory): err says why */
} ks_suggest_result;

/*
 * A search method.  A sampler is a function of the history: given the same history
 * it gives the same suggestion, so that a resumed study continues where it stopped.
 * A new trial gets the number h->n; random draws derive from (h->seed, that number),
 * never from the order in which workers asked.
 */
typedef struct ks_sampler_ops {
    const char *name;                   /* "grid", "random", "bayesian", "hyperband" */
    const ks_key *keys;                 /* the method's options in the search section */
    size_t args_size;
    /* check the options against the space (e.g. grid needs grid_points for floats) */
    ks_status (*check)(const void *args, const ks_space *sp, const ks_history *h,
                       ks_error *err);
    ks_suggest_result (*suggest)(const void *args, const ks_history *h, ks_suggestion *out,
                                 ks_error *err);
    /* how many trials the method will run (for the progress line), or 0 if unknown */
    int (*total)(const void *args, const ks_history *h);
    /*
     * Capability of methods that promote trials (Hyperband): the budget at which a trial
     * is done (R).  A trial complete below it may still continue to a larger budget, and
     * ends pruned when the study ends without promoting it.  NULL for methods that run
     * every trial's budget once (grid, random, bayesian): a complete trial is final.
     */
    int (*full_budget)(const void *args, const ks_history *h);
} ks_sampler_ops;

const ks_sampler_ops *ks_sampler_find(const char *name);
extern const ks_sampler_ops ks_sampler_grid_ops;
extern const ks_sampler_ops ks_sampler_random_ops;
extern const ks_sampler_ops ks_sampler_bayesian_ops;
extern const ks_sampler_ops ks_sampler_hyperband_ops;
/* The random point of trial number in the study of seed: a draw from the space with the
   stream (seed, "random", number), the same on every machine and worker (random search,
   Hyperband's new configurations).  Fails only on no memory. */
ks_status ks_sampler_random_point(const ks_space *sp, uint64_t seed, int number, double *point);

/* Hyperband's bracket table (Li et al. 2018, Table 1): for R, η, the brackets
   s = s_max..0 with their rungs (n_i configurations, r_i epochs). */
typedef struct ks_hb_rung {
    int n;                      /* configurations */
    double r;                   /* resource (epochs) each */
} ks_hb_rung;
typedef struct ks_hb_bracket {
    int s;
    int n_rungs;
    ks_hb_rung rungs[16];
} ks_hb_bracket;
/* Fills up to max brackets; returns s_max + 1 (the number of brackets). */
int ks_hyperband_brackets(int R, int eta, ks_hb_bracket *out, int max);

/* ========================================================== Gaussian process */

/*
 * A Gaussian process on the unit cube with a Matérn 5/2 kernel with one length scale
 * per dimension (ARD), a signal variance and a noise variance, fitted to (x, y) by
 * maximizing the log marginal likelihood.  Uses GSL's Cholesky.
 */
typedef struct ks_gp ks_gp;
ks_status ks_gp_fit(const double *x, const double *y, int n, int dims, ks_rng *rng,
                    ks_gp **out, ks_error *err);
/* Fit with fixed kernel hyperparameters (for tests). */
ks_status ks_gp_fit_fixed(const double *x, const double *y, int n, int dims,
                          const double *length_scales, double signal_var, double noise_var,
                          ks_gp **out, ks_error *err);
void ks_gp_free(ks_gp *gp);
/* Posterior mean and variance at x (of the latent function, without noise). */
void ks_gp_predict(const ks_gp *gp, const double *x, double *mean, double *var);
/* Expected improvement over best (for minimization) at x. */
double ks_gp_expected_improvement(const ks_gp *gp, const double *x, double best);

#endif
