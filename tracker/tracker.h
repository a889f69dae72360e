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
 * KS_DB_READONLY: only read — nothing is written (query_only; write functions refuse
 * with KS_ERR_INTERNAL), no file created beside it (WAL and shared-memory files
 * included, when the folder cannot be written), an older schema read as it is, a small
 * page cache (256 KiB: a reader passes through the file once).  For ls, show, compare,
 * report and anything else that only reads; a reader never takes the run lock.
 */
typedef struct ks_db ks_db;
enum { KS_DB_CREATE = 1, KS_DB_READONLY = 2 };
ks_status ks_db_open(const char *path, int flags, ks_db **out, ks_error *err);
void ks_db_close(ks_db *db);
/*
 * Schema versions: 1 the first release's; 2 adds the study's folder, the workers'
 * segments and the declared search.  Opening for writing brings an older file up to
 * date; KS_DB_READONLY reads it as it is.
 */
#define KS_DB_SCHEMA_VERSION 2
/* The schema version of the open file (1 … KS_DB_SCHEMA_VERSION). */
int ks_db_schema_version(const ks_db *db);

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
int ks_trial_status_find(const char *name);             /* the status so named, or -1 */

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
} ks_study_info;
/* Frees config and dir; s itself is the caller's. */
void ks_study_info_free(ks_study_info *s);

/*
 * Find the study named name, or create it with the given fields (*created tells).
 * An existing study is returned as stored: the caller compares hashes for resume.
 */
ks_status ks_db_study_open(ks_db *db, const char *name, const char *config, const char *hash,
                           const char *metric, int maximize, ks_study_info *out, int *created,
                           ks_error *err);
ks_status ks_db_study_get(ks_db *db, const char *name, ks_study_info *out, ks_error *err);
/* The study named name, or (name NULL) the file's first; KS_ERR_CONFIG if there is none. */
ks_status ks_db_study_find(ks_db *db, const char *name, ks_study_info *out, ks_error *err);
/* Names of all studies in the file (NULL-terminated, malloc'd; free with ks_strv_free). */
ks_status ks_db_study_list(ks_db *db, char ***names, ks_error *err);
void ks_strv_free(char **v);
/* Delete a study and everything under it (for --fresh). */
ks_status ks_db_study_delete(ks_db *db, int64_t study_id, ks_error *err);

/*
 * The search a study runs, as its file declares it (method, budget, and each
 * parameter's domain): the one store of the declared space, read by reports and by the
 * TensorBoard rewrite (the HParams domains, ks_hp_domains_from_search).
 */
typedef enum ks_search_kind {
    KS_SEARCH_CHOICE,           /* values: choices */
    KS_SEARCH_INT,              /* int: [low, high], step, log */
    KS_SEARCH_FLOAT             /* float: [low, high], log */
} ks_search_kind;
typedef struct ks_search_param {
    char name[64];
    ks_search_kind kind;
    double low, high, step;     /* INT and FLOAT (step: INT only, else 0) */
    int log;                    /* sampled log-uniformly */
    char *choices;              /* CHOICE: the values as a JSON array, else NULL */
} ks_search_param;
typedef struct ks_search_info {
    char method[32];            /* "hyperband" */
    int max_trials;             /* the study's max_trials (0: the method decides) */
    int planned_trials;         /* what the method plans (0: not known) */
    int max_epochs;             /* a trial's full budget (the fit's epochs) */
    int workers;                /* of the run that stored it */
    int n_params;
    ks_search_param *params;    /* malloc'd when read back */
} ks_search_info;
/*
 * Keep what a study's file says besides its text, for the commands that read the study
 * back later (ensemble, tensorboard, report): dir, the folder its relative data paths
 * are read from (NULL: left as it is), and search, the search as declared (NULL: left
 * as it is; else it replaces the stored one).  One transaction; search's strings and
 * arrays stay the caller's.  KS_ERR_CONFIG if there is no such study.
 */
ks_status ks_db_study_set_context(ks_db *db, int64_t study_id, const char *dir,
                                  const ks_search_info *search, ks_error *err);
/* The search stored for a study (*found 0: none, e.g. a `ksearch fit` run or a file of
   schema 1); free with ks_search_info_free. */
ks_status ks_db_search_get(ks_db *db, int64_t study_id, ks_search_info *out, int *found,
                           ks_error *err);
void ks_search_info_free(ks_search_info *s);     /* frees params and their choices */

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

/* ------------------------------------------------- what reports read */

/*
 * A segment: one job a worker ran on a trial (its first fit, a resume, a Hyperband
 * promotion), for the report's timeline.  ks_db_segment_add records one that ends now
 * and lasted seconds: the fit began at first_epoch (initial_epoch), and ended with
 * status, the trial then having `epochs` epochs recorded (read from the trial row).
 */
typedef struct ks_segment {
    int trial_number;
    int worker;                 /* 0 … workers − 1 */
    double started, ended;      /* Unix seconds */
    int first_epoch;            /* the fit's initial_epoch */
    int epochs;                 /* the trial's recorded epochs when it ended */
    ks_trial_status status;     /* how the job ended */
} ks_segment;
ks_status ks_db_segment_add(ks_db *db, int64_t trial_id, int worker, double seconds,
                            int first_epoch, ks_trial_status status, ks_error *err);
/* Every segment of a study, by start time (*rows malloc'd; none in a version-1 file). */
ks_status ks_db_segments(ks_db *db, int64_t study_id, ks_segment **rows, int *n,
                         ks_error *err);


/* Every epoch value of a study's trials (KS_METRIC_ITERATIONS left out), by trial
   number, epoch and the name's place in its logs; fn's KS_OK continues, else stops. */
typedef ks_status (*ks_metric_row_fn)(void *user, int trial_number, const char *name,
                                      int epoch, double value, ks_error *err);
ks_status ks_db_study_metrics(ks_db *db, int64_t study_id, ks_metric_row_fn fn, void *user,
                              ks_error *err);

/* A study's ensembles (name and JSON record as stored), by name; malloc'd, NULL-ended. */
ks_status ks_db_ensembles(ks_db *db, int64_t study_id, char ***names, char ***jsons,
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
/*
 * TensorBoard's projector for the model's Embeddings (tb_projector.c), in run directory
 * dir: ks_tb_projector_config writes projector_config.pbtxt naming each Embedding's
 * vectors (embeddings/NAME.tsv, by tensor_path) and, when a TextVectorization makes its
 * ids, its tokens (embeddings/NAME_metadata.tsv, written here, one row per id);
 * ks_tb_projector_tensors writes the vectors as they are now.  A model without an
 * Embedding writes nothing.  Every file atomically; KS_ERR_IO names the file.
 */
ks_status ks_tb_projector_config(const char *dir, ks_model *m, ks_error *err);
ks_status ks_tb_projector_tensors(const char *dir, ks_model *m, ks_error *err);

/* HParams.  A hyperparameter's domain: an interval, or a list of values. */
typedef enum { KS_HP_FLOAT, KS_HP_STRING, KS_HP_BOOL } ks_hp_type;
typedef struct ks_hp_value {
    ks_hp_type type;
    double number;              /* FLOAT (integers too) */
    const char *string;         /* STRING */
    int boolean;                /* BOOL */
} ks_hp_value;
typedef struct ks_hp_info {
    const char *name;
    ks_hp_type type;
    int discrete;               /* 1: values[], else the interval [min, max] */
    double min, max;
    int n_values;
    const ks_hp_value *values;
} ks_hp_info;
/* A parameter's value as HParams shows it: a number, string or boolean (strings
   borrowed from v); 0 for any other kind (nothing HParams can show). */
int ks_hp_value_of(const ks_value *v, ks_hp_value *out);
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
/*
 * The HParams domains of a declared search, in its order: an int or float parameter the
 * interval [low, high], a choice its values of the first one's type (others, and values
 * HParams cannot show such as null or a list, are left out).  The names are
 * borrowed from search (keep it while the domains are used); the values are owned by
 * the struct: free with ks_hp_domains_free.  KS_ERR_CORRUPT if a choice list is not a
 * JSON array (a damaged file), KS_ERR_NOMEM.
 */
typedef struct ks_hp_domains {
    int n;
    ks_hp_info *info;           /* n */
    ks_hp_value *values;        /* every choice, behind info[].values */
    ks_value *choices;          /* n parsed choice lists (strings behind values[]) */
} ks_hp_domains;
ks_status ks_hp_domains_from_search(const ks_search_info *search, ks_hp_domains *out,
                                    ks_error *err);
void ks_hp_domains_free(ks_hp_domains *d);
/*
 * A study's experiment (the live writer's and the rewrite's): its hyperparameters with
 * their domains, and the metrics shown for its objective `metric` — best_<metric> (the
 * session run's), the metric's epoch series, the validation and train losses, and each
 * of the n_logged names a trial logs besides "loss" (every output's losses and metrics;
 * at most KS_TB_MAX_LOGGED, the rest left out), on both sides.  logged may be NULL.
 */
#define KS_TB_MAX_LOGGED 64
ks_status ks_tb_study_experiment(ks_tb_run *root, const char *study, double time_created,
                                 const char *metric, const ks_hp_info *hparams, int n_hparams,
                                 const char *const *logged, int n_logged, ks_error *err);
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
    int embeddings_freq;        /* 0: none; N: the projector's Embedding vectors every N
                                   epochs (LOG_DIR/RUN/train/projector_config.pbtxt) */
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

/* The TensorBoard callback of a study or model file, with Keras's arguments (log_dir,
   histogram_freq, update_freq, write_graph, embeddings_freq), into opt's TensorBoard
   fields. */
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
/* Which of those rows to show: the trials of the statuses in statuses (a bit per
   ks_trial_status, 1u << KS_TRIAL_COMPLETE …; 0: every status), then the first top of
   them, best first (0: all). */
typedef struct ks_ls_filter {
    unsigned statuses;
    int top;
} ks_ls_filter;
/* ksearch ls with a filter (NULL: every trial).  The text table's first line says how
   many trials the study has and how many are shown. */
ks_status ks_report_ls_filtered(ks_db *db, const char *study, const ks_ls_filter *filter,
                                ks_report_format fmt, FILE *out, ks_error *err);
/* ksearch show: one trial's parameters, metric table per epoch, best epoch, checkpoints. */
ks_status ks_report_show(ks_db *db, const char *study, int trial_number, ks_report_format fmt,
                         FILE *out, ks_error *err);
/* ksearch compare: the trials' metrics side by side per epoch. */
ks_status ks_report_compare(ks_db *db, const char *study, const int *numbers, int n,
                            ks_report_format fmt, FILE *out, ks_error *err);

/* ========================================================== the HTML report */

/*
 * `ksearch report`: one self-contained HTML file that shows a study at a glance — the
 * study (method, space, budget, statuses, wall time, best trial), optimization history,
 * parallel coordinates, fANOVA parameter importance, slices and a contour of the two
 * most important parameters, learning curves, the workers' timeline, the trials table
 * and the ensembles.  The numbers are embedded as JSON and drawn as inline SVG by a
 * small embedded script; the page loads nothing from anywhere.
 */
typedef struct ks_report_html_options {
    const char *study;          /* NULL: the file's study (its first) */
    uint64_t seed;              /* of the importance forest [0] */
    int n_trees;                /* trees of the importance forest [64] */
} ks_report_html_options;
ks_report_html_options ks_report_html_options_default(void);
/* The page, to out (o NULL: the defaults). */
ks_status ks_report_html_write(ks_db *db, const ks_report_html_options *o, FILE *out,
                               ks_error *err);
/*
 * The page of the study in the database at db_path, opened only to read (safe while
 * the study runs), written to out_path atomically: on any error (a damaged database,
 * one of a newer schema …) nothing is written.
 */
ks_status ks_report_html_file(const char *db_path, const ks_report_html_options *o,
                              const char *out_path, ks_error *err);

/* ====================================================== parameter importance */

/*
 * Functional ANOVA (Hutter, Hoos & Leyton-Brown, ICML 2014) over a random forest, as
 * Optuna's FanovaImportanceEvaluator computes it: a forest of regression trees (64
 * trees, depth up to 64, bootstrap samples) is fitted to the completed trials'
 * parameters → objective; each tree's prediction is decomposed over the search space
 * (uniform over each parameter's domain) into its total variance and the variance of
 * each parameter's marginal; a parameter's importance is its marginal's share of the
 * total, averaged over the trees and normalized to sum 1.  Unlike Optuna, categorical
 * parameters are split on as categories (not one-hot columns), as the original fANOVA
 * does; a log-scaled parameter is given in log space by the caller.
 */
#define KS_FANOVA_MAX_FEATURES 64
#define KS_FANOVA_MAX_CATEGORIES 64

/* A feature: numeric on [low, high], or categorical with values 0 … n_categories − 1. */
typedef struct ks_fanova_feature {
    int n_categories;           /* 0: numeric; 2 … KS_FANOVA_MAX_CATEGORIES: categorical */
    double low, high;           /* numeric domain (low < high; equal: a constant) */
} ks_fanova_feature;

typedef struct ks_fanova_options {
    int n_trees;                /* 64 */
    int max_depth;              /* 64 */
    int min_samples_split;      /* 2 */
    int min_samples_leaf;       /* 1 */
    int bootstrap;              /* 1: each tree on n rows drawn with replacement */
    uint64_t seed;              /* 0: the forest is a function of the data and the seed */
} ks_fanova_options;
ks_fanova_options ks_fanova_options_default(void);

typedef struct ks_fanova ks_fanova;
/*
 * Fit the forest to n rows of x (n × d, row-major; a categorical value is its category
 * index) and their targets y.  Every value must be finite and every category in range;
 * numeric values outside [low, high] widen that feature's domain.  KS_ERR_CONFIG for
 * bad input (n < 1, d outside 1 … KS_FANOVA_MAX_FEATURES, a non-finite value),
 * KS_ERR_NOMEM.
 */
ks_status ks_fanova_fit(const double *x, const double *y, int n, int d,
                        const ks_fanova_feature *features, const ks_fanova_options *opt,
                        ks_fanova **out, ks_error *err);
void ks_fanova_free(ks_fanova *f);
/*
 * Each feature's importance (share[d], summing to 1) and the standard deviation over the
 * trees of its unnormalized fraction (std[d], may be NULL).  When no tree varies (every
 * target equal), every share is 0 and *varies (may be NULL) is 0.
 */
ks_status ks_fanova_importance(const ks_fanova *f, double *share, double *std, int *varies,
                               ks_error *err);
/* The forest's marginal prediction of feature i at m points (numeric values in ascending
   order, or category indices): the mean over the other features, averaged over trees. */
ks_status ks_fanova_marginal(const ks_fanova *f, int i, const double *at, int m, double *out,
                             ks_error *err);
/* The same for two features on the grid at_i × at_j: out[a * mj + b] at (at_i[a], at_j[b]). */
ks_status ks_fanova_marginal2(const ks_fanova *f, int i, const double *at_i, int mi, int j,
                              const double *at_j, int mj, double *out, ks_error *err);
/* The forest's prediction at x (d values). */
double ks_fanova_predict(const ks_fanova *f, const double *x);

#endif
