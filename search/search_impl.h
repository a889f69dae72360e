/*
 * search_impl.h — internals shared by the search module's .c files: the search space,
 * the sampler interface (grid, random, bayesian, hyperband, tpe, bohb) and the density
 * models of TPE and BOHB, the controller's pieces, and the command line's helpers.
 */
#ifndef KS_SEARCH_IMPL_H
#define KS_SEARCH_IMPL_H

#include "search.h"
#include "../engine/ks_util.h"

#include <math.h>
#include <stddef.h>

/* ============================================================ search space */

#define KS_MAX_SEARCH_PARAMS 64      /* after per-index copies; a bit each in a uint64_t */
#define KS_MAX_CHOICES 64
#define KS_MAX_CONDITIONS 4         /* clauses of one parameter's condition */
#define KS_MAX_ENQUEUE 1000         /* search.enqueue entries */

typedef enum ks_param_kind {
    KS_PARAM_CHOICE,            /* values: [a, b, c] (numbers, strings, booleans, {NAME: …}) */
    KS_PARAM_INT,               /* int: [min, max], optional step, log */
    KS_PARAM_FLOAT              /* float: [min, max], optional log */
} ks_param_kind;

/*
 * One clause of a parameter's condition: the parameter parent (a CHOICE, or an INT of at
 * most 64 values) has one of the values whose bit is set in mask — bit k for a CHOICE's
 * k-th value, for an INT's k-th grid value (min + k·step).
 */
typedef struct ks_condition {
    int parent;
    uint64_t mask;
} ks_condition;

typedef struct ks_param {
    char name[64];
    ks_param_kind kind;
    int n_values;               /* CHOICE */
    ks_value values[KS_MAX_CHOICES];    /* CHOICE: scalar values, or single-key maps
                                           {LABEL: config} standing for their label (owned) */
    double min, max;            /* INT, FLOAT (inclusive) */
    double step;                /* INT: >= 1 (default 1) */
    int log;                    /* INT, FLOAT: sample and encode log-uniformly (min > 0) */
    int grid_points;            /* FLOAT (and INT): points for grid search; 0 = not given */
    /* conditional parameters: active when every clause holds (and so its parents are
       active); inactive, a point holds NaN for it and the trial has no such parameter */
    int n_when;
    ks_condition when[KS_MAX_CONDITIONS];
    /* per-index copies (search.parameters' per: COUNT): copy `copy` of parameter `base`,
       one per copy of a layer repeated $COUNT times, active while COUNT > copy */
    char base[64];              /* the name declared ("units"; this one is units_<copy>);
                                   "" for an ordinary parameter */
    int per, copy;              /* with base: COUNT's index and this copy's number */
} ks_param;

typedef struct ks_space {
    int n;
    ks_param params[KS_MAX_SEARCH_PARAMS];
    int n_enqueued;             /* search.enqueue: the points of trials 0 .. n_enqueued − 1 */
    double *enqueued;           /* n_enqueued × n values (owned; ks_space_free frees it) */
} ks_space;

void ks_space_free(ks_space *sp);
/* The first point: every choice's first value, every range's minimum; inactive ones NaN. */
void ks_space_first_point(const ks_space *sp, double *point);
/*
 * A point is one double per parameter: for CHOICE the index of the value, for INT the
 * integer (on its step grid), for FLOAT the number; NaN for a parameter that is inactive
 * at that point (its condition does not hold).
 */
/* A uniform draw of every parameter (log-uniform with log, integers on their step grid,
   choices uniform), conditions not applied: ks_space_deactivate makes it a point. */
void ks_space_sample(const ks_space *sp, ks_rng *rng, double *point);

/* ---------------------------------------------------- conditions (space.c) */

/* 1 if some parameter has a condition. */
int ks_space_conditional(const ks_space *sp);
/* The parameters with every parent before its children (else in file order): a
   topological order of the conditions, which load checked to have no cycle. */
void ks_space_order(const ks_space *sp, int *order);
/* The grid index of parameter i's value x (a CHOICE's index, an INT's step), -1 if none. */
int ks_param_value_index(const ks_param *p, double x);
/* 1 if parameter i's clauses hold at point (its parents' values there; NaN fails). */
int ks_space_active(const ks_space *sp, int i, const double *point);
/* Make point a point of the space: every parameter whose condition fails NaN. */
void ks_space_deactivate(const ks_space *sp, double *point);
/* Set i's ancestors (in point) to the first values that make i active; then deactivate.
   0 if no assignment can make it active (clauses that contradict each other). */
int ks_space_activate(const ks_space *sp, int i, double *point);
/*
 * The finite set of the space's points, without duplicates: inactive parameters take no
 * values.  grid: 1 for grid search's values (FLOATs need grid_points, INTs take
 * grid_points when given, else every step); 0 for every point (INTs every step; no
 * FLOAT).  Points are ordered parents first, the last parameter of that order fastest
 * (row-major over the parameters in file order when there are no conditions).
 * ks_space_count: how many (0: not finite, -1: more than cap).
 */
long ks_space_count(const ks_space *sp, int grid, long cap);
void ks_space_point_at(const ks_space *sp, int grid, long i, double *point);

/*
 * The unit-cube encoding the Gaussian process works in: each INT/FLOAT a coordinate
 * in [0, 1] (of log(x) with log), each CHOICE one coordinate per value (one-hot).  An
 * inactive parameter is imputed as SMAC does for its models: its default, the middle of
 * the range (0.5) or a choice's first value.
 */
int ks_space_dims(const ks_space *sp);
void ks_space_encode(const ks_space *sp, const double *point, double *u);
/* The nearest point to u: integers rounded to their grid, the largest one-hot wins,
   inactive parameters NaN. */
void ks_space_decode(const ks_space *sp, const double *u, double *point);
/* Grid: the number of points and the i-th: ks_space_count and ks_space_point_at with
   grid 1 (-1: over 100 000 000). */
long ks_space_grid_size(const ks_space *sp);
void ks_space_grid_point(const ks_space *sp, long i, double *point);
/* The value of parameter i at a point as recorded (number, string or bool; a choice of
   {LABEL: config} maps its label); KS_ERR_CONFIG without a value if it is inactive. */
ks_status ks_space_value(const ks_space *sp, int i, const double *point, ks_value *out);
/* The number of copies a per-index count c stands for at value x (a choice's value, not
   its index; 0 when inactive). */
int ks_space_copies(const ks_space *sp, int c, double x);
/* The value of parameter i for value x as the file receives it: ks_space_value's, except
   that a {LABEL: config} choice gives its whole map (without key).  x must be finite. */
ks_status ks_space_config_value(const ks_space *sp, int i, double x, ks_value *out);
/* A choice's k-th value as recorded: itself, or the label of a {LABEL: config} map. */
ks_status ks_param_choice_value(const ks_param *p, int k, ks_value *out);
/* The index of a choice's value as recorded (a value, or a map's label); -1 if none. */
int ks_param_choice_find(const ks_param *p, const ks_value *v);
/* The point as JSON text {"name": value, …} of its active parameters (malloc'd), and
   back (a parameter absent from the JSON is inactive, if its condition agrees). */
ks_status ks_space_point_json(const ks_space *sp, const double *point, char **out);
ks_status ks_space_point_from_json(const ks_space *sp, const char *json, double *point,
                                   ks_error *err);

/* =================================================================== study */

/*
 * search.checkpoints.retain: which checkpoints stay in study.db once a trial is final
 * (retention.c; ks_retain_names spells them, in this order).
 */
typedef enum ks_retain {
    KS_RETAIN_ALL,              /* every trial's best and last */
    KS_RETAIN_USEFUL,           /* all but those of configurations Hyperband/BOHB pruned */
    KS_RETAIN_COMPLETE,         /* only complete trials' */
    KS_RETAIN_COUNT
} ks_retain;
extern const char *const ks_retain_names[KS_RETAIN_COUNT + 1];  /* NULL-terminated */
#define KS_RETAIN_DEFAULT "useful"

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
    const struct ks_pruner_ops *pruner;  /* search.pruner, or NULL */
    void *pruner_args;
    ks_checkpoint_policy checkpoints;   /* search.checkpoints */
    ks_retain retain;                   /* search.checkpoints.retain */
    const ks_value *warm_start;         /* search.warm_start: a path (a string), or NULL */
    char *warnings;                     /* the model's build warnings, once, or NULL */
    char log_names[KS_MAX_LOGGED][KS_LOG_NAME_MAX]; /* what a fit logs after "loss" */
    int n_log_names;
};

/*
 * study_grow.c: is now the study old grew into?  Both loaded by ks_study_load(_text) and
 * compared by meaning, not text: a growth widens a range (an int's by whole steps),
 * adds values after a choice's own, raises max_trials or R (Hyperband's, BOHB's
 * max_epochs, or fit.epochs when it is R) and may change search.parallel; anything else
 * (model, data, fit, callbacks, the method, its options, metric, seed, conditions, a
 * narrowed range, a removed or moved value or parameter) is KS_ERR_CONFIG at its place
 * in now's file, naming the difference.  g says what grew (g->grew 0: the same study).
 * ks_study_space_grew: the search spaces alone (search.warm_start).
 */
typedef struct ks_growth {
    int grew;
    char what[400];             /* "units: 1 value added; max_trials 3 → 5" */
} ks_growth;
#define KS_GROWTH_NONE "nothing: only its text, or search.parallel, changed"
ks_status ks_study_grew(const ks_study *old, const ks_study *now, ks_growth *g, ks_error *err);
ks_status ks_study_space_grew(const ks_study *old, const ks_study *now, ks_growth *g,
                              ks_error *err);

/* study_space.c: search.parameters into st->space (param_at set; per-index parameters
   expanded into their copies; conditions read and checked), and search.enqueue (NULL or
   null: none) into st->space's enqueued points; errors at their place in the file. */
ks_status ks_study_read_space(ks_study *st, const ks_value *params, ks_error *err);
ks_status ks_study_read_enqueue(ks_study *st, const ks_value *list, ks_error *err);
/* study_refs.c: every $reference of the file checked (defined, allowed where it is, its
   condition sure to hold there) and every parameter used. */
ks_status ks_study_check_refs(ks_study *st, ks_error *err);
/* The parameter named name as declared: an ordinary one's index, or a per-index one's
   first copy's (NAME_0 for NAME); -1 if none. */
int ks_space_find(const ks_space *sp, const char *name);

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

/* A trial still to finish: queued, running, or interrupted (to be resumed). */
static inline int ks_trial_pending(ks_trial_status s)
{
    return s == KS_TRIAL_QUEUED || s == KS_TRIAL_RUNNING || s == KS_TRIAL_INTERRUPTED;
}

/* A part of a grown study's trials planned with one R (Hyperband's, BOHB's max_epochs). */
typedef struct ks_budget_part {
    int first;                  /* the part's first trial number */
    int max_epochs;             /* R of its plan */
} ks_budget_part;
#define KS_MAX_BUDGET_PARTS 64      /* growths of R a study keeps apart */

/* The study so far, as samplers see it. */
typedef struct ks_history {
    const ks_space *space;
    int maximize;               /* 1: larger objective is better */
    int n;
    const ks_trial_view *trials;    /* by number: trials[i].number == i */
    int max_trials;             /* the study's max_trials (0: the method's own count) */
    int max_epochs;             /* the fit's epochs (hyperband: R) */
    uint64_t seed;              /* the study's seed */
    /* a study that grew (`ksearch STUDY --grow`, study_grow.c) */
    int grown;                  /* 1: its file grew since its first trial */
    int n_parts;                /* 0, or ≥ 2 parts in order (R grew): parts[0].first is 0, and
                                   the last part's R is the method's own */
    const ks_budget_part *parts;
    /* warm start (search.warm_start): an earlier study's complete trials, observations
       for the methods that model results (ks_history_observed); not trials of this one */
    int n_warm;
    const ks_trial_view *warm;
} ks_history;

/*
 * The history as a model sees its observations: the warm-start trials (numbered −n_warm
 * … −1 in no order the model uses) then the study's own, in one array — h itself when
 * there is no warm start (*buf NULL), else tmp, its trials in *buf (malloc'd; the caller
 * frees it).  New trials keep h's numbers and streams: only observations come from it.
 * NULL when out of memory.
 */
const ks_history *ks_history_observed(const ks_history *h, ks_history *tmp,
                                      ks_trial_view **buf);

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
    const char *name;                   /* "grid", "random", "bayesian", "hyperband", … */
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
     * Capability of methods that promote trials (Hyperband, BOHB): the budget at which a
     * trial is done (R).  A trial complete below it may still continue to a larger budget,
     * and ends pruned when the study ends without promoting it.  NULL for methods that run
     * every trial's budget once (grid, random, bayesian, tpe): a complete trial is final.
     */
    int (*full_budget)(const void *args, const ks_history *h);
    /*
     * With full_budget: which trials complete below it the method will never continue
     * (their bracket can no longer promote them), as 1 in settled[number] (h->n entries,
     * all written).  A function of the history; a trial it marks is never continued by a
     * later suggestion of the same study.  Fails only on no memory.
     */
    ks_status (*settled)(const void *args, const ks_history *h, unsigned char *settled,
                         ks_error *err);
    /* 1: the method models results (bayesian, tpe, bohb), so a warm start's trials serve
       it as observations (ks_history_observed) */
    int models;
} ks_sampler_ops;

const ks_sampler_ops *ks_sampler_find(const char *name);
extern const ks_sampler_ops ks_sampler_grid_ops;
extern const ks_sampler_ops ks_sampler_random_ops;
extern const ks_sampler_ops ks_sampler_bayesian_ops;
extern const ks_sampler_ops ks_sampler_hyperband_ops;
extern const ks_sampler_ops ks_sampler_tpe_ops;
extern const ks_sampler_ops ks_sampler_bohb_ops;
/* The random point of trial number in the study of seed: a draw from the space with the
   stream (seed, "random", number), the same on every machine and worker (random search,
   Hyperband's new configurations).  Fails only on no memory. */
ks_status ks_sampler_random_point(const ks_space *sp, uint64_t seed, int number, double *point);
/* The same draw before conditions apply: every parameter has a value (TPE starts from it
   and applies the conditions to what it chose). */
ks_status ks_sampler_random_draw(const ks_space *sp, uint64_t seed, int number, double *point);
/* search.enqueue: when trial h->n is one of the space's enqueued points (trials 0 .. k−1,
   run first by every method), 1 with its point copied; else 0. */
int ks_sampler_enqueued(const ks_history *h, double *point);

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

/* Hyperband's options; BOHB's start with them.  KS_HB_KEYS(TYPE, MEMBER) are their keys
   in the key table of a method whose args TYPE hold them in MEMBER. */
typedef struct ks_hb_args {
    int max_epochs;             /* R; 0 (not given): the fit's epochs */
    int factor;                 /* η */
    int synchronous;            /* promote only from complete rungs */
} ks_hb_args;
#define KS_HB_KEYS(type, member)                                                              \
    {"max_epochs", KS_KEY_INT, offsetof(type, member.max_epochs), 0, 1, 1000000, "0", NULL, 0}, \
    {"factor", KS_KEY_INT, offsetof(type, member.factor), 0, 2, 1000, "3", NULL, 0},            \
    {"synchronous", KS_KEY_BOOL, offsetof(type, member.synchronous), 0, 0, 0, "false", NULL, 0}

/*
 * Where Hyperband's new configurations come from: new_point fills point (space->n
 * values) for the new trial number h->n, given the plan's rung budgets (n_budgets
 * distinct epoch counts, ascending).  Hyperband's own is the random draw of the number.
 */
typedef struct ks_hb_source {
    ks_status (*new_point)(const void *user, const ks_history *h, const int *budgets,
                           int n_budgets, double *point, ks_error *err);
    const void *user;
} ks_hb_source;
/* Hyperband's rule (sampler_hyperband.c) with new configurations from src (NULL: random);
   its check and its planned number of trials. */
ks_suggest_result ks_hyperband_suggest(const ks_hb_args *a, const ks_history *h,
                                       const ks_hb_source *src, ks_suggestion *out,
                                       ks_error *err);
ks_status ks_hyperband_check(const ks_hb_args *a, const ks_history *h, ks_error *err);
int ks_hyperband_total(const ks_hb_args *a, const ks_history *h);
int ks_hyperband_full_budget(const ks_hb_args *a, const ks_history *h);   /* R */
/* Hyperband's settled trials (see ks_sampler_ops.settled). */
ks_status ks_hyperband_settled(const ks_hb_args *a, const ks_history *h, unsigned char *settled,
                               ks_error *err);
/* A trial's value at a budget: the best objective of its first epochs epochs (of fewer
   when it stopped early; NaN if none). */
double ks_trial_value_within(const ks_trial_view *t, int maximize, int epochs);

/* ============================================================== retention */

/* What the retention policy does with a trial's checkpoints (retention.c). */
typedef enum ks_retain_verdict {
    KS_RETAIN_WAIT,             /* not final yet (it may train again): kept for now */
    KS_RETAIN_KEEP,             /* final, and the policy keeps its checkpoints */
    KS_RETAIN_DROP              /* final, and the policy drops its best and last */
} ks_retain_verdict;

/* The budget at which the study's method is done with a trial (R of Hyperband, BOHB:
   ks_sampler_ops.full_budget before any trial), 0 for a method that does not promote. */
int ks_study_full_budget(const ks_study *st);
/*
 * The verdict for trial t of a study under policy p.  full_budget: the budget at which a
 * trial of a promoting method (Hyperband, BOHB) is done, 0 for methods that run each
 * trial once; settled: the method will never continue t (ks_sampler_ops.settled).  A
 * trial is final when it failed, was pruned, or is complete and (with full_budget) at
 * it or settled.  Under all every final trial's checkpoints stay; under useful a
 * promoting method's configuration that ended below full_budget (complete and settled,
 * or pruned) loses them, every other trial keeps them (failed ones and those a pruner
 * stopped too); under complete only trials complete at their full budget keep them.
 */
ks_retain_verdict ks_retain_decide(ks_retain p, const ks_trial_view *t, int full_budget,
                                   int settled);
/*
 * Every trial's verdict under the study's policy, into verdicts[h->n], with the study's
 * method deciding what is settled.  full_budget as above (0: the method does not promote).
 * Fails only on no memory.
 */
ks_status ks_retain_plan(const ks_study *st, const ks_history *h, int full_budget,
                         ks_retain_verdict *verdicts, ks_error *err);

/* ================================================================= pruners */

/*
 * A pruner (search.pruner; pruner.c) stops poor trials of the methods that run each
 * trial's budget once (grid, random, bayesian, tpe).  It checks a trial after some of
 * its epochs; at a checked epoch the trial waits for the verdict.  The verdict for trial
 * k at epoch e is a function of the curves of the trials numbered below k up to e (or
 * their end) and of k's own, so the same study prunes the same trials on any number of
 * workers, and again when resumed: while an earlier trial has neither recorded epoch e
 * nor ended, the verdict waits, unless it is the same whatever that trial does.  A
 * trial's last epoch is never checked: a trial that trained its budget is complete.
 */
typedef enum ks_verdict_kind {
    KS_VERDICT_NOMEM = -1,              /* no memory to decide */
    KS_VERDICT_GO_ON = 0,
    KS_VERDICT_PRUNE = 1,
    KS_VERDICT_WAIT = 2                 /* earlier trials still to reach the epoch decide */
} ks_verdict_kind;
typedef struct ks_pruner_ops {
    const char *name;                   /* "median", "asha" */
    const ks_key *keys;                 /* its options: search.pruner: {NAME: {…}} */
    size_t args_size;
    /* 1 if trial number is checked after epoch (0-based), whatever its budget */
    int (*checks)(const void *args, int number, int epoch);
    /* The verdict on trial number at a checked epoch (a ks_verdict_kind), from
       h->trials[number]'s curve up to epoch and the trials below number (pure). */
    int (*prune)(const void *args, const ks_history *h, int number, int epoch);
} ks_pruner_ops;

extern const ks_pruner_ops ks_pruner_median_ops;
extern const ks_pruner_ops ks_pruner_asha_ops;
const ks_pruner_ops *ks_pruner_find(const char *name);     /* NULL if none */
/* 1 if the pruner (NULL: none) checks trial number of budget epochs after epoch. */
int ks_pruner_checks(const ks_pruner_ops *ops, const void *args, int number, int budget,
                     int epoch);
/*
 * search.pruner (v NULL or null: none) into st->pruner and st->pruner_args: a name
 * (`median`: its defaults) or a one-key map {NAME: {options}}; an unknown name (with the
 * nearest), bad options, or a method that prunes by itself (Hyperband, BOHB: methods
 * with full_budget) are errors at their place in the file.  st->method must be set.
 */
ks_status ks_study_read_pruner(ks_study *st, const ks_value *v, ks_error *err);
void ks_study_free_pruner(ks_study *st);

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

/* ================================================ density models (TPE, BOHB) */

/*
 * Numeric parameters in the density models' coordinates (density.c): log(x) with log,
 * x otherwise.  An INT covers the cells of its grid points, [x − step/2, x + step/2]
 * (on the log scale with log; a log INT whose min − step/2 would not be positive starts
 * its first cell at min/2), so a model's range is [min − step/2, max + step/2] for an
 * INT and [min, max] for a FLOAT, in those coordinates.
 */
void ks_param_model_range(const ks_param *p, double *lo, double *hi);
double ks_param_to_model(const ks_param *p, double x);
/* The parameter's value at model coordinate v: within [min, max], INTs on their grid. */
double ks_param_from_model(const ks_param *p, double v);
/* The cell of an INT's grid value x, in model coordinates. */
void ks_param_model_cell(const ks_param *p, double x, double *lo, double *hi);
/* INT and FLOAT values: x within [min, max], INTs snapped to their grid (space.c). */
double ks_param_snap(const ks_param *p, double x);

/* Φ(b) − Φ(a) (Φ the standard normal CDF; 0 unless a < b), and its log, accurate in both
   tails (−inf when the mass is zero). */
double ks_gauss_mass(double a, double b);
double ks_gauss_log_mass(double a, double b);
/* A draw from N(mu, sigma²) truncated to [lo, hi] (sigma > 0, lo < hi), by inversion of
   GSL's normal CDFs; always within [lo, hi]. */
double ks_truncnorm_draw(ks_rng *rng, double mu, double sigma, double lo, double hi);
/* log Σ exp(x[i]) over n values (−inf for none). */
double ks_log_sum_exp(const double *x, int n);
/* An index with a key; ks_keyed_cmp (for qsort) orders by key, then index, so that the
   order of equal keys is the same on every machine. */
typedef struct ks_keyed {
    double key;
    int index;
} ks_keyed;
int ks_keyed_cmp(const void *a, const void *b);

/*
 * TPE's Parzen estimator (parzen.c; Bergstra et al. 2011, with Optuna's choices): over
 * some parameters of a space, a mixture of n + 1 kernels — one per observation and a
 * prior — each a product over the parameters of a truncated Gaussian on the model range
 * (a FLOAT; an INT takes the mass of its cell) or of smoothed frequencies (a CHOICE).
 *   weights   observations 1 each, except that beyond 25 the oldest ramp down linearly
 *             from 1/n (Optuna's default_weights); the prior prior_weight; normalized
 *   mu        the observation; the prior's the middle of the range
 *   sigma     univariate: the larger gap to a sorted neighbour, among the observations,
 *             the prior's mu and the range's ends (consider_endpoints: false takes the
 *             inner gap for the lowest and the highest); multivariate: 0.2 · n^(−1/(d+4))
 *             × the range's width; then clipped to [width / min(100, n + 2), width]
 *             (consider_magic_clip; else [1e-12, width]); the prior's: the width
 *   CHOICE    kernel k puts prior_weight/(n+1) on every value and 1 more on its
 *             observation's, normalized; the prior's is uniform
 * Points are given in trial-number order (the weights' ramp); a point whose value of one
 * of the parameters is not finite is left out (a parameter inactive in that trial).
 */
typedef struct ks_parzen_options {
    int consider_prior;         /* the prior kernel (always, when there is no observation) */
    double prior_weight;        /* > 0 */
    int consider_magic_clip;
    int consider_endpoints;
    int multivariate;           /* the joint bandwidth rule (sigma shrinks with n) */
} ks_parzen_options;

typedef struct ks_parzen ks_parzen;
/* The estimator of points[0..n) (each sp->n values) over the parameters dims[0..n_dims).
   The caller frees it with ks_parzen_free.  Fails only on no memory. */
ks_status ks_parzen_new(const ks_space *sp, const int *dims, int n_dims,
                        const double *const *points, int n, const ks_parzen_options *o,
                        ks_parzen **out);
void ks_parzen_free(ks_parzen *pe);
/* Kernels (observations used + prior), and kernel k's weight, and its mu and sigma on the
   j-th parameter (model coordinates; NaN for a CHOICE), for tests and reports. */
int ks_parzen_kernels(const ks_parzen *pe);
void ks_parzen_kernel(const ks_parzen *pe, int k, int j, double *weight, double *mu,
                      double *sigma);
/* A draw: a kernel by weight, then each parameter from it; writes point[dims[j]]. */
void ks_parzen_sample(const ks_parzen *pe, ks_rng *rng, double *point);
/* log density (log mass for INTs and CHOICEs) of point's values of the parameters.  Uses
   scratch space of the estimator: one thread at a time per estimator. */
double ks_parzen_log_pdf(const ks_parzen *pe, const double *point);

/*
 * BOHB's kernel density estimator (kde.c; Falkner et al. 2018, as HpBandSter fits it with
 * statsmodels): n points of d dimensions, each continuous (values in [0, 1]) or
 * categorical with levels[j] values (0 .. levels[j] − 1).  Bandwidths by the normal
 * reference rule, 1.06 · sd_j · n^(−1/(4+d)) (sd over the points, not the sample sd),
 * at least min_bandwidth; a categorical one at most (levels − 1)/levels, where its
 * Aitchison–Aitken kernel is uniform.  The density is the mean over the points of the
 * product of Gaussian kernels (continuous) and Aitchison–Aitken kernels (1 − λ on the
 * point's value, λ/(levels − 1) on each other).
 */
typedef struct ks_kde ks_kde;
/* Copies data (n × d, row-major).  levels[j]: 0 continuous, else the number of values.
   The caller frees it with ks_kde_free.  Fails on no memory or n < 1. */
ks_status ks_kde_fit(const double *data, int n, int d, const int *levels, double min_bandwidth,
                     ks_kde **out);
void ks_kde_free(ks_kde *k);
const double *ks_kde_bandwidths(const ks_kde *k);   /* d values, borrowed */
/* log density at x (d values); uses scratch space of the KDE: one thread at a time. */
double ks_kde_log_pdf(const ks_kde *k, const double *x);
/* BOHB's model for a history (sampler_bohb.c), for tests and reports: of the largest of
   budgets[0..n) (ascending) with enough results, the budget and the KDEs of the good and
   of the bad configurations (the caller frees them); budget 0 and no KDEs when no budget
   has enough.  args are BOHB's options (ks_sampler_bohb_ops).  Fails only on no memory. */
typedef struct ks_bohb_model {
    int budget;
    ks_kde *good, *bad;
} ks_bohb_model;
ks_status ks_bohb_fit_model(const void *args, const ks_history *h, const int *budgets,
                            int n_budgets, ks_bohb_model *m);
/* BOHB's proposal: a uniformly chosen point of the KDE, each continuous value redrawn from
   a Gaussian of bandwidth_factor × its bandwidth truncated to [0, 1], each categorical one
   kept with probability 1 − λ and else drawn uniformly; into x (d values). */
void ks_kde_propose(const ks_kde *k, ks_rng *rng, double bandwidth_factor, double *x);

#endif
