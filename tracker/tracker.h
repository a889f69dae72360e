/*
 * tracker.h — the public interface of ksearch's tracker: the study database
 * (study.db, SQLite), TensorBoard event files written without TensorFlow, the
 * callback that records a fit into both, and the reports that read them back.
 * It sees the engine only through engine.h (callbacks, logs, model files).
 *
 * Ownership as in engine.h: _open/_new results are freed with _close/_free (NULL is a
 * no-op); strings and blobs returned through out-parameters are malloc'd for the
 * caller unless a comment says they are borrowed.  Every function is safe to call
 * from several threads as long as each thread uses its own ks_db / ks_tb_run handle.
 */
#ifndef KS_TRACKER_H
#define KS_TRACKER_H

#include "../engine/engine.h"

/* ======================================================= the study database */

/*
 * A study database (SQLite, WAL, a busy timeout, BEGIN IMMEDIATE for writes).
 * Opening checks that the file is a ksearch study database and that its schema
 * version is one this ksearch reads: a newer one, a damaged file or something else
 * entirely is an error with a clear message (KS_ERR_CORRUPT / KS_ERR_DB).
 * flags 0: read and write an existing file (one of an older schema is brought to this
 * one); KS_DB_CREATE: the same, making the file and its schema if it does not exist;
 * KS_DB_READONLY: only read — nothing is written, no file created beside it (WAL and
 * shared-memory files included, when the folder cannot be written), an older schema
 * read as it is.  For ls, show, compare and anything else that only reads.
 */
typedef struct ks_db ks_db;
typedef struct ks_hp_info ks_hp_info;   /* a hyperparameter's domain (TensorBoard, below) */
enum { KS_DB_CREATE = 1, KS_DB_READONLY = 2 };
ks_status ks_db_open(const char *path, int flags, ks_db **out, ks_error *err);
void ks_db_close(ks_db *db);
#define KS_DB_SCHEMA_VERSION 2

typedef enum ks_trial_status {
    KS_TRIAL_QUEUED,
    KS_TRIAL_RUNNING,
    KS_TRIAL_COMPLETE,
    KS_TRIAL_PRUNED,
    KS_TRIAL_FAILED,
    KS_TRIAL_INTERRUPTED,
    KS_TRIAL_STATUS_COUNT
} ks_trial_status;
const char *ks_trial_status_name(ks_trial_status s);    /* "complete" … */

/* A study: its name, its config text and that text's hash, what it optimizes. */
typedef struct ks_study_info {
    int64_t id;
    char name[128];
    char *config;               /* the study/run file as given (malloc'd) */
    char hash[65];              /* SHA-256 hex of config (computed by the caller) */
    char metric[64];            /* the objective: a log name, e.g. "val_accuracy" */
    int maximize;               /* 1: larger is better */
    double created;             /* Unix seconds */
    char *dir;                  /* the folder relative data paths start from (malloc'd), or
                                   NULL when not kept (a file of schema 1) */
    char *hparams;              /* the declared hyperparameter domains as JSON (malloc'd),
                                   NULL when not kept (schema 1, or a ksearch fit) */
} ks_study_info;
/* Frees config, dir and hparams; s itself is the caller's. */
void ks_study_info_free(ks_study_info *s);

/*
 * Find the study named name, or create it with the given fields (*created tells).
 * An existing study is returned as stored: the caller compares hashes for resume.
 */
ks_status ks_db_study_open(ks_db *db, const char *name, const char *config, const char *hash,
                           const char *metric, int maximize, ks_study_info *out, int *created,
                           ks_error *err);
ks_status ks_db_study_get(ks_db *db, const char *name, ks_study_info *out, ks_error *err);
/*
 * Keep what a study's file says besides its text: the folder its relative data paths
 * are read from (dir, NULL: left as it is) and its hyperparameters' declared domains
 * (the HParams experiment's, n_hp 0: left as it is), so that commands reading the study
 * back later (ksearch ensemble, tensorboard) use the same.
 */
ks_status ks_db_study_set_context(ks_db *db, int64_t study_id, const char *dir,
                                  const ks_hp_info *hp, int n_hp, ks_error *err);
/* Names of all studies in the file (NULL-terminated, malloc'd; free with ks_strv_free). */
ks_status ks_db_study_list(ks_db *db, char ***names, ks_error *err);
void ks_strv_free(char **v);
/* Delete a study and everything under it (for --fresh). */
ks_status ks_db_study_delete(ks_db *db, int64_t study_id, ks_error *err);

/* A trial as stored. */
typedef struct ks_trial_info {
    int64_t id;                 /* row id */
    int number;                 /* 0, 1, 2 … within the study */
    ks_trial_status status;
    char *params;               /* the trial's parameters as JSON, e.g. {"lr":0.01} (malloc'd) */
    uint64_t seed;
    int budget;                 /* epochs asked for */
    int epochs;                 /* epochs completed and recorded */
    double objective;           /* best value of the study's metric so far; NaN if none */
    int best_epoch;             /* 0-based epoch of the objective; -1 if none */
    double started, ended;      /* Unix seconds; 0 if not yet */
    char *error;                /* why it failed, or NULL (malloc'd) */
} ks_trial_info;
void ks_trial_info_free(ks_trial_info *t);

/* Add trial number with its parameters (JSON text), seed and budget, as queued. */
ks_status ks_db_trial_add(ks_db *db, int64_t study_id, int number, const char *params_json,
                          uint64_t seed, int budget, int64_t *trial_id, ks_error *err);
/* Set a trial's status (running: also its start time; a final status: its end time). */
ks_status ks_db_trial_set_status(ks_db *db, int64_t trial_id, ks_trial_status status,
                                 const char *error_text, ks_error *err);
/* Raise a trial's budget (Hyperband promotion). */
ks_status ks_db_trial_set_budget(ks_db *db, int64_t trial_id, int budget, ks_error *err);
ks_status ks_db_trial_get(ks_db *db, int64_t trial_id, ks_trial_info *out, ks_error *err);
/* All trials of a study, by number.  *rows: malloc'd array; free each, then it. */
ks_status ks_db_trials(ks_db *db, int64_t study_id, ks_trial_info **rows, int *n,
                       ks_error *err);

/*
 * The tracker stores, besides the fit's epoch logs, "learning_rate" (the optimizer's
 * rate at the epoch's end, as Keras 3's TensorBoard logs it) and KS_METRIC_ITERATIONS
 * (the optimizer steps taken by the epoch's end: the step of the validation run's
 * evaluation_<metric>_vs_iterations), so that ksearch tensorboard can write them again.
 * Reports leave KS_METRIC_ITERATIONS out of their metric tables.
 */
#define KS_METRIC_ITERATIONS "iterations"

/* One epoch's record: everything an epoch writes, committed in one transaction. */
typedef struct ks_epoch_record {
    int epoch;                          /* 0-based */
    double wall_time;                   /* Unix seconds at the end of the epoch */
    const ks_logs *logs;                /* loss, accuracy, val_loss, …, learning_rate */
    /* the model after this epoch, with optimizer state, for resume (NULL: none) */
    const unsigned char *last_checkpoint;
    size_t last_len;
    /* when the objective improved: the new best and its checkpoint (NULL: no change) */
    const unsigned char *best_checkpoint;
    size_t best_len;
    double objective;                   /* the study metric's value this epoch (NaN if absent) */
    int improved;                       /* this epoch is the trial's best so far */
    /* weight histograms of this epoch (histogram_freq), or none */
    int n_histograms;
    const char *const *histogram_tags;  /* "dense/kernel/histogram" */
    const double *const *histograms;    /* each KS_HISTOGRAM_BUCKETS × 3 (left, right, count) */
} ks_epoch_record;

/*
 * Record an epoch: its metric values, the trial's progress (epochs, objective,
 * best_epoch) and the checkpoints, atomically.  Recording an epoch that is already
 * there (a resumed trial repeating it) replaces it: no value is ever stored twice.
 */
ks_status ks_db_epoch_write(ks_db *db, int64_t trial_id, const ks_epoch_record *rec,
                            ks_error *err);
/* Batch-level values (update_freq): step is the global batch number. */
ks_status ks_db_batch_write(ks_db *db, int64_t trial_id, int64_t step, const ks_logs *logs,
                            ks_error *err);

/* A trial's metric series: the values of name by epoch (step -1) or by batch step. */
typedef struct ks_metric_point {
    int epoch;
    int64_t step;               /* -1 for epoch values */
    double value, wall_time;
} ks_metric_point;
/* Every name recorded for a trial (NULL-terminated, malloc'd). */
ks_status ks_db_metric_names(ks_db *db, int64_t trial_id, char ***names, ks_error *err);
ks_status ks_db_metric_series(ks_db *db, int64_t trial_id, const char *name, int by_batch,
                              ks_metric_point **points, int *n, ks_error *err);

/*
 * The best epoch value of metric among a trial's epochs before epoch `before`: the
 * largest with maximize, else the smallest, and the first epoch that has it.  NaN and
 * -1 when there is none.  (A resumed or promoted trial's objective so far.)
 */
ks_status ks_db_trial_best(ks_db *db, int64_t trial_id, const char *metric, int maximize,
                           int before, double *value, int *epoch, ks_error *err);

/* Checkpoints: the trial's best or last model file bytes, and its epoch. */
typedef enum { KS_CHECKPOINT_BEST, KS_CHECKPOINT_LAST } ks_checkpoint_kind;
ks_status ks_db_checkpoint_get(ks_db *db, int64_t trial_id, ks_checkpoint_kind kind,
                               unsigned char **blob, size_t *len, int *epoch, ks_error *err);

/* Weight histograms recorded for a trial: tags and epochs, and one histogram's data. */
ks_status ks_db_histogram_list(ks_db *db, int64_t trial_id, char ***tags, int **epochs,
                               int *n, ks_error *err);
ks_status ks_db_histogram_get(ks_db *db, int64_t trial_id, const char *tag, int epoch,
                              double *out /* KS_HISTOGRAM_BUCKETS × 3 */, ks_error *err);

/* Ensembles (filled by the ensemble step): members, weights and metrics as JSON. */
ks_status ks_db_ensemble_put(ks_db *db, int64_t study_id, const char *name,
                             const char *json, const unsigned char *file, size_t len,
                             ks_error *err);

/* ================================================================ histograms */

#define KS_HISTOGRAM_BUCKETS 30
/*
 * TensorBoard's histogram of n values: KS_HISTOGRAM_BUCKETS equal-width buckets from
 * min to max, rows (left edge, right edge, count); all equal → every edge the value,
 * the whole count in the last bucket; n = 0 → all zeros (as TF's summary op).
 */
void ks_histogram_compute(const float *x, size_t n, double *out);

/* ============================================================== TensorBoard */

/*
 * One TensorBoard run directory (LOGDIR/trial-0003/train …): one open event file,
 * named events.out.tfevents.<secs>.<host>.<pid>.<n>.v2, its first record the
 * "brain.Event:2" version event.  Records are written whole and flushed, so a reader
 * never sees a partial one except at the end while it is being written.
 */
typedef struct ks_tb_run ks_tb_run;
ks_status ks_tb_run_open(const char *dir, ks_tb_run **out, ks_error *err);
ks_status ks_tb_run_close(ks_tb_run *run, ks_error *err);   /* NULL is a no-op */
/* Close n runs (NULL entries skipped) and set them to NULL, whatever happened before:
   returns s, or the first failure to close when s is KS_OK (err then says why). */
ks_status ks_tb_runs_close(ks_tb_run **runs, int n, ks_status s, ks_error *err);

/* A float32 scalar (the modern tensor form, plugin "scalars"); metadata on a tag's first. */
ks_status ks_tb_scalar(ks_tb_run *run, const char *tag, int64_t step, double wall_time,
                       double value, ks_error *err);
/* A histogram (plugin "histograms"): KS_HISTOGRAM_BUCKETS × 3 doubles. */
ks_status ks_tb_histogram(ks_tb_run *run, const char *tag, int64_t step, double wall_time,
                          const double *buckets, ks_error *err);
/* A Markdown text (plugin "text"). */
ks_status ks_tb_text(ks_tb_run *run, const char *tag, int64_t step, double wall_time,
                     const char *markdown, ks_error *err);
/* A layer graph (Event.graph_def): node i has a name, op, inputs and output shape. */
typedef struct ks_tb_node {
    const char *name, *op;
    int n_inputs;
    const char *const *inputs;
    ks_shape shape;             /* per-sample; drawn as (-1, d1, …) */
} ks_tb_node;
ks_status ks_tb_graph(ks_tb_run *run, const ks_tb_node *nodes, int n, double wall_time,
                      ks_error *err);
/* The graph of a model's layers (each with its inputs and output shape). */
ks_status ks_tb_model_graph(ks_tb_run *run, const ks_model *m, double wall_time, ks_error *err);

/* HParams.  A hyperparameter's domain: an interval, or a list of values. */
typedef enum { KS_HP_FLOAT, KS_HP_STRING, KS_HP_BOOL } ks_hp_type;
typedef struct ks_hp_value {
    ks_hp_type type;
    double number;              /* FLOAT (integers too) */
    const char *string;         /* STRING */
    int boolean;                /* BOOL */
} ks_hp_value;
struct ks_hp_info {
    const char *name;
    ks_hp_type type;
    int discrete;               /* 1: values[], else the interval [min, max] */
    double min, max;
    int n_values;
    const ks_hp_value *values;
};
typedef struct ks_hp_metric {
    const char *group;          /* "validation", "train", or "" for the session run */
    const char *tag;            /* "epoch_accuracy" */
    const char *display_name;   /* may be NULL */
    int dataset;                /* 0 unknown, 1 training, 2 validation */
} ks_hp_metric;
/* The experiment: every hyperparameter with its domain, every metric (in LOGDIR's root run). */
ks_status ks_tb_hparams_experiment(ks_tb_run *root, const char *name, double time_created,
                                   const ks_hp_info *hparams, int n_hparams,
                                   const ks_hp_metric *metrics, int n_metrics, ks_error *err);
/* A session (a trial's own run dir): its values at start … */
ks_status ks_tb_hparams_session_start(ks_tb_run *run, const char *const *names,
                                      const ks_hp_value *values, int n, const char *group,
                                      double start_time, ks_error *err);
/* … and its status at the end (SUCCESS, FAILURE, RUNNING; see ks_trial_status). */
ks_status ks_tb_hparams_session_end(ks_tb_run *run, ks_trial_status status, double end_time,
                                    ks_error *err);
/*
 * The same into the session's run directory (LOG_DIR/trial-0007), in a new event file:
 * for a trial whose final status is set after its last fit (Hyperband's pruned ones).
 * TensorBoard keeps the first session end info of a run: write it once per trial.
 */
ks_status ks_tb_hparams_session_end_at(const char *run_dir, ks_trial_status status,
                                       double end_time, ks_error *err);

/* ================================================== the tracking callback */

/* What the tracker records during a fit, and where. */
typedef struct ks_tracker_options {
    ks_db *db;                  /* may be NULL: TensorBoard only */
    int64_t trial_id;
    const char *objective;      /* the metric whose best is the trial's objective */
    int maximize;
    int checkpoints;            /* store the last and best checkpoints each epoch */
    /* TensorBoard (NULL log_dir: none); the trial's runs are LOG_DIR/RUN/{train,validation} */
    const char *log_dir;
    const char *run_name;       /* "" for Keras's layout log_dir/{train,validation} */
    int histogram_freq;         /* 0: none; N: weight histograms every N epochs */
    int update_freq;            /* 0: epoch; N: batch values every N batches */
    int write_graph;            /* 1 (Keras's default) */
    /* hparams of this trial (for its session start info; n 0 for none) */
    int n_hparams;
    const char *const *hparam_names;
    const ks_hp_value *hparam_values;
    const char *model_summary;  /* Markdown text written once (may be NULL) */
} ks_tracker_options;

/*
 * The model summary text shown in TensorBoard (tag "model_summary"): the trial's
 * parameters (params_json, may be NULL or "{}": none) as a Markdown table, then
 * ks_model_summary's table in a code block.  *out is malloc'd.
 */
ks_status ks_tracker_summary_text(const ks_model *m, const char *params_json, char **out,
                                  ks_error *err);

/*
 * A callback that records every epoch (and batch, with update_freq) of a fit into the
 * database and TensorBoard.  The options' strings must outlive the callback.  The
 * trial's final status is set by whoever runs the fit (ks_tracker_finish).
 * A trial's runs are written by one or more fits (segments: a resume after a kill, a
 * Hyperband promotion).  A segment from initial_epoch > 0 starts from the trial's best
 * so far in the database (ks_db_trial_best over the epochs before it), so that its
 * objective, best epoch, best checkpoint and best_<metric> series span every segment.
 * The graph, the model summary and the session start info are
 * written by the first segment only: a fit from initial_epoch 0 whose session run
 * holds no event file yet (a study's trial) or any fit from 0 in Keras's layout.
 */
ks_status ks_tracker_callback_new(const ks_tracker_options *opt, ks_callback **out,
                                  ks_error *err);
/* 1 if the callback stopped its fit because it could not record it (a database or
   TensorBoard write failed, or no memory): a failure of the recording, not of the fit. */
int ks_tracker_failed(const ks_callback *cb);
/* The objective so far (NaN if none) and its epoch, as the callback saw them. */
double ks_tracker_objective(const ks_callback *cb, int *best_epoch);
/*
 * End the trial: its status (complete, failed …, with error text) in the database,
 * and the TensorBoard session end; closes the callback's event files.
 */
ks_status ks_tracker_finish(ks_callback *cb, ks_trial_status status, const char *error_text,
                            ks_error *err);
/*
 * The same, saying whether status is the trial's final one.  TensorBoard keeps the
 * first session end info of a run, so it is written once, at the end of the trial's
 * last segment: session_end 1 for a final status (complete at the full budget,
 * failed), 0 for one that may still change (interrupted: it resumes; a Hyperband rung
 * that may be promoted).  ks_tracker_finish is this with session_end 1 for complete,
 * pruned and failed, 0 otherwise.  The end time is the trial's end in the database.
 */
ks_status ks_tracker_end(ks_callback *cb, ks_trial_status status, const char *error_text,
                         int session_end, ks_error *err);

/* The TensorBoard callback of a study or model file, with Keras's arguments
   (log_dir, histogram_freq, update_freq, write_graph), into opt's TensorBoard fields. */
ks_status ks_tracker_tensorboard_args(const ks_value *args, ks_tracker_options *opt,
                                      char *log_dir, size_t log_dir_size, ks_error *err);

/* ============================================================== read back */

/* A study's TensorBoard layout: LOG_DIR/trial-0007/{,train,validation}. */
void ks_tb_trial_run_name(int number, char *out, size_t size);

/*
 * Rewrite every TensorBoard log of a study from the database alone: the HParams
 * experiment (the domains the study declared, as study.db keeps them; for a file of
 * schema 1, the span of the trials' values), and per trial its session,
 * scalars, batch values, histograms, graph and model summary.  Event files already in
 * the run directories of either layout are removed first, so that nothing is shown
 * twice.  The study of a `ksearch fit` (its config has no search section) is written
 * in fit's layout, LOG_DIR/{train,validation}, from its last trial (the latest fit).
 */
ks_status ks_tb_rewrite(ks_db *db, const char *study, const char *log_dir, ks_error *err);

typedef enum { KS_REPORT_TEXT, KS_REPORT_JSON, KS_REPORT_CSV } ks_report_format;
/* ksearch ls: one row per trial, best first. */
ks_status ks_report_ls(ks_db *db, const char *study, ks_report_format fmt, FILE *out,
                       ks_error *err);
/* ksearch show: one trial's parameters, metric table per epoch, best epoch, checkpoints. */
ks_status ks_report_show(ks_db *db, const char *study, int trial_number, ks_report_format fmt,
                         FILE *out, ks_error *err);
/* ksearch compare: the trials' metrics side by side per epoch. */
ks_status ks_report_compare(ks_db *db, const char *study, const int *numbers, int n,
                            ks_report_format fmt, FILE *out, ks_error *err);

#endif
