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
 * segments and the declared search; 3 a grown study's history.  Opening for writing
 * brings an older file up to date; KS_DB_READONLY reads it as it is.
 */
#define KS_DB_SCHEMA_VERSION 3
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
 * A study that grew (`ksearch STUDY --grow`): in one transaction, its stored text (and
 * hash) become config's, and the text it had until now is kept in its growth history
 * with trials, the number of trials it had (those numbered from there on run with the
 * new text).  KS_ERR_CONFIG if there is no such study.
 */
ks_status ks_db_study_grow(ks_db *db, int64_t study_id, const char *config, const char *hash,
                           int trials, ks_error *err);
typedef struct ks_study_growth {
    int trials;                 /* the study's trials when it grew */
    char *config;               /* the text it had until then (malloc'd) */
    double grown;               /* when (Unix seconds) */
} ks_study_growth;
/* A study's growth history, oldest first (*rows malloc'd, NULL when none — always for a
   file of schema < 3); free with ks_study_growths_free. */
ks_status ks_db_study_growths(ks_db *db, int64_t study_id, ks_study_growth **rows, int *n,
                              ks_error *err);
void ks_study_growths_free(ks_study_growth *rows, int n);

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
/* The job that ends, for its segment (ks_db_segment_add): its worker, how long it ran,
   its fit's first epoch. */
typedef struct ks_job_span {
    int worker;
    double seconds;
    int first_epoch;
} ks_job_span;
/* A final status as ks_db_trial_set_status sets it, and with span (not NULL) the job's
   segment, in one transaction. */
ks_status ks_db_trial_end(ks_db *db, int64_t trial_id, ks_trial_status status,
                          const char *error_text, const ks_job_span *span, ks_error *err);
/* A trial starts, or continues (a Hyperband promotion raises its budget), to budget
   epochs: running and its budget in one transaction (a study killed between the two must
   not find a trial complete at a budget it never trained to). */
ks_status ks_db_trial_start(ks_db *db, int64_t trial_id, int budget, ks_error *err);
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
/* Whether the trial has that checkpoint, without reading it: *epoch (−1: none) and
   *bytes (0: none); either may be NULL. */
ks_status ks_db_checkpoint_stat(ks_db *db, int64_t trial_id, ks_checkpoint_kind kind,
                                int *epoch, size_t *bytes, ks_error *err);
/*
 * Checkpoint retention: delete the best and last checkpoints of the n trials of ids
 * (a trial without any is fine) in one transaction; *had: how many of them had any,
 * *bytes: the bytes of the blobs deleted (either may be NULL).  Their pages stay free in
 * the file (new checkpoints reuse them) until ks_db_reclaim gives them back.
 */
ks_status ks_db_checkpoints_drop(ks_db *db, const int64_t *ids, int n, int *had,
                                 int64_t *bytes, ks_error *err);
/*
 * Give the file's free pages back to the file system.  A file made by this ksearch
 * (auto_vacuum INCREMENTAL from its creation) frees them with PRAGMA incremental_vacuum,
 * a few page moves; an older one only with VACUUM, which rewrites the whole file (and
 * makes it INCREMENTAL): done only with allow_vacuum and when at least a quarter of the
 * file is free.  Each is one transaction (a process killed meanwhile leaves the file as
 * before).  The file itself shrinks at the next WAL checkpoint, tried here (a reader
 * holding an old snapshot delays it, which is no error).  *before, *after (may be
 * NULL): the database's size in bytes (pages × page size) before and after.
 */
ks_status ks_db_reclaim(ks_db *db, int allow_vacuum, int64_t *before, int64_t *after,
                        ks_error *err);

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
 * A file of a TensorBoard run directory, made where the model is (the worker's recorder)
 * and written by the one writer: name is relative to the run directory
 * ("projector_config.pbtxt", "embeddings/words.tsv"); name and data malloc'd.
 */
typedef struct ks_tb_file {
    char *name;
    unsigned char *data;
    size_t len;
} ks_tb_file;
void ks_tb_files_free(ks_tb_file *files, int n);    /* each file's name and data, then files */
/*
 * Write n files under run directory dir, each atomically, making their folders.  A name
 * that could leave dir (absolute, empty, or with an empty, "." or ".." part) is
 * KS_ERR_CORRUPT and nothing of it is written; KS_ERR_IO names the file.
 */
ks_status ks_tb_files_write(const char *dir, const ks_tb_file *files, int n, ks_error *err);
/*
 * TensorBoard's projector for the model's Embeddings (tb_projector.c), as files of the
 * train run: with config, projector_config.pbtxt naming each Embedding's vectors
 * (embeddings/NAME.tsv, by tensor_path) and, when a TextVectorization makes its ids, its
 * tokens (embeddings/NAME_metadata.tsv, one row per id); without, the vectors as they
 * are now (embeddings/NAME.tsv).  Appended to *files (*n of them, realloc'd; the caller
 * frees them with ks_tb_files_free also on failure); a model without an Embedding adds
 * none.  KS_ERR_NOMEM.
 */
ks_status ks_tb_projector_files(ks_model *m, int config, ks_tb_file **files, int *n,
                                ks_error *err);

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

/* ======================================== records: what a fit sends to the one writer */

/*
 * A fit is recorded in two halves joined by messages.  The recorder (a callback in the
 * worker's fit) builds records from the logs and the model and pushes them into a sink;
 * the committer (in the controller, the one writer) commits them to study.db and
 * TensorBoard.  Between the two a record may cross a thread (a ks_record_queue) or a
 * process (ks_record_encode / ks_record_decode): the committer cannot tell which.
 */
typedef enum ks_record_kind {
    KS_RECORD_BEGIN = 1,        /* a segment of a trial's training starts */
    KS_RECORD_EPOCH,            /* an epoch ended */
    KS_RECORD_BATCH,            /* batch values (update_freq) */
    KS_RECORD_END               /* the segment ended: status, error text, seconds */
} ks_record_kind;

/* A layer of the model's graph as TensorBoard shows it (names owned by the record). */
typedef struct ks_record_node {
    char *name, *op;
    ks_shape shape;
    int n_inputs;
    char **inputs;
} ks_record_node;

/* One record.  Every pointer is owned by the record (ks_record_free). */
typedef struct ks_record {
    ks_record_kind kind;
    int trial;                  /* the trial's number (routing) */
    int worker;                 /* who trained it: worker index (routing; not recorded) */
    double wall_time;           /* Unix seconds when it was made (END: when the job ended) */
    int initial_epoch;          /* BEGIN, END: the fit's initial_epoch */
    /* BEGIN */
    int n_weights;              /* the model's weights: histogram tags "NAME/histogram" */
    char **histogram_tags;
    int n_nodes;                /* the layer graph (0: none asked, write_graph false) */
    ks_record_node *nodes;
    char *summary;              /* the model summary as Markdown (NULL: none) */
    /* BEGIN and EPOCH: files of the train run (the projector's config, its vectors) */
    int n_files;
    ks_tb_file *files;
    /* EPOCH and BATCH */
    int epoch;                  /* 0-based */
    int64_t step;               /* BATCH: the global batch number; EPOCH: iterations */
    ks_logs logs;               /* EPOCH: with learning_rate and KS_METRIC_ITERATIONS */
    double *histograms;         /* EPOCH: NULL, or n_weights × KS_HISTOGRAM_BUCKETS × 3 */
    unsigned char *checkpoint;  /* EPOCH: the model after it (.ksm with optimizer), or NULL */
    size_t checkpoint_len;
    /* END */
    ks_trial_status status;     /* complete, failed or interrupted, as the worker saw it */
    int record_failed;          /* the fit stopped because a record could not be sent */
    double seconds;             /* the job's time, the request's set-up included (the
                                   segment table's row: worker, seconds, initial_epoch) */
    char *error;                /* why it failed (NULL: none) */
} ks_record;

/* A new record of kind for trial (zeroed, wall_time now); NULL when out of memory. */
ks_record *ks_record_new(ks_record_kind kind, int trial);
void ks_record_free(ks_record *r);          /* NULL is a no-op */

/*
 * The wire form of a record (threads never need it; MPI ranks do): little-endian fields,
 * each length bounded, and a CRC-32 over the whole, checked before anything is read.
 * ks_record_encode: *buf malloc'd (*len bytes).  ks_record_decode: a damaged or hostile
 * buffer is KS_ERR_CORRUPT naming what is wrong, never a crash; *out is the caller's.
 */
ks_status ks_record_encode(const ks_record *r, unsigned char **buf, size_t *len, ks_error *err);
ks_status ks_record_decode(const unsigned char *buf, size_t len, ks_record **out, ks_error *err);

/*
 * Little-endian wire helpers (for records and the search module's requests).  A writer
 * grows its buffer (oom set on failure, later writes ignored); a reader never reads past
 * its length (bad set instead, and every later read gives 0).
 */
typedef struct ks_wire {
    unsigned char *buf;
    size_t len, cap;
    int oom;
} ks_wire;
void ks_wire_u32(ks_wire *w, uint32_t v);
void ks_wire_u64(ks_wire *w, uint64_t v);
void ks_wire_f64(ks_wire *w, double v);
void ks_wire_bytes(ks_wire *w, const void *p, size_t n);    /* u64 length, then the bytes */
void ks_wire_str(ks_wire *w, const char *s);                /* NULL and "" differ */
/* Append the CRC-32 of everything written; KS_ERR_NOMEM if a write failed. */
ks_status ks_wire_finish(ks_wire *w, ks_error *err);
typedef struct ks_wire_reader {
    const unsigned char *p;
    size_t len, pos;
    int bad;
} ks_wire_reader;
/* Check len ≥ 4 and the trailing CRC-32 (KS_ERR_CORRUPT naming what); the reader then
   covers everything before the CRC. */
ks_status ks_wire_open(ks_wire_reader *r, const unsigned char *buf, size_t len,
                       const char *what, ks_error *err);
uint32_t ks_wire_get_u32(ks_wire_reader *r);
uint64_t ks_wire_get_u64(ks_wire_reader *r);
double ks_wire_get_f64(ks_wire_reader *r);
/* Bytes of at most max: borrowed from the buffer (NULL and *n 0 if bad). */
const unsigned char *ks_wire_get_bytes(ks_wire_reader *r, size_t max, size_t *n);
/* A string of at most max bytes, malloc'd (NULL if it was NULL, bad, or no memory: then
   *oom is set). */
char *ks_wire_get_str(ks_wire_reader *r, size_t max, int *oom);

/*
 * Where a recorder sends its records.  push takes the record (also on failure) and
 * returns KS_OK, or the writer's failure: the recorder then stops its fit with it.
 */
typedef struct ks_record_sink {
    ks_status (*push)(void *user, ks_record *r, ks_error *err);
    void *user;
} ks_record_sink;

/*
 * A bounded queue of records between threads, many pushers and one popper: the sink of
 * threads' recorders, drained by the writer.  A push waits while max records wait, so a
 * slow writer slows training instead of filling memory; a push after ks_record_queue_fail
 * frees the record and returns that failure, except an END record's (the writer learns
 * that the fit ended).
 */
typedef struct ks_record_queue ks_record_queue;
ks_status ks_record_queue_new(int max, ks_record_queue **out, ks_error *err);
void ks_record_queue_free(ks_record_queue *q);      /* frees records still in it */
ks_record_sink ks_record_queue_sink(ks_record_queue *q);
/* Pop the oldest record; waits for one until timeout seconds (< 0: for ever).  NULL when
   none came in time or the queue was closed and is empty. */
ks_record *ks_record_queue_pop(ks_record_queue *q, double timeout);
/* No more pushes will come (pop returns NULL once it is empty). */
void ks_record_queue_close(ks_record_queue *q);
/* The writer failed: later pushes return status s with err's message. */
void ks_record_queue_fail(ks_record_queue *q, ks_status s, const ks_error *err);

/* 1 if v is better than best (NaN: none yet) for the objective's direction; NaN v never is. */
int ks_objective_better(double v, double best, int maximize);

/* A study's checkpoint policy (search.checkpoints), how much of the model travels. */
typedef struct ks_checkpoint_policy {
    int every;                  /* the last checkpoint every N epochs (≥ 1), and always at
                                   a segment's last epoch; 0: only at a segment's end */
    int keep_best;              /* 1: the best epoch's checkpoint too */
} ks_checkpoint_policy;

/* What the recorder records and where it sends it. */
typedef struct ks_recorder_options {
    ks_record_sink sink;
    int trial, worker;          /* copied into every record */
    const char *objective;      /* the metric whose best is the trial's objective */
    int maximize;
    double best_so_far;         /* the objective before initial_epoch (NaN: none) */
    int checkpoints;            /* 1: send checkpoints as policy says */
    ks_checkpoint_policy policy;
    int histogram_freq;         /* 0: none; N: weight histograms every N epochs */
    int update_freq;            /* 0: epoch; N: batch values every N batches */
    int write_graph;            /* send the layer graph at a fit from epoch 0 */
    int embeddings_freq;        /* 0: none; N: the projector's files (its config at a fit
                                   from epoch 0, the vectors every N epochs) */
    /* the model summary at a fit from epoch 0 (write_summary), with these parameters
       (JSON, may be NULL) as a table above it */
    int write_summary;
    const char *summary_params;
} ks_recorder_options;

/*
 * The recorder: a callback that pushes a BEGIN record at train begin, an EPOCH record
 * at each epoch end (logs with learning_rate and KS_METRIC_ITERATIONS, histograms every
 * histogram_freq epochs, the checkpoint as the policy says) and BATCH records every
 * update_freq batches.  The END record is the caller's (ks_record_new).  Options'
 * strings must outlive the callback.  Nothing is written here: no database, no files.
 * The fit's last epoch (fit params' epochs − 1) always carries a checkpoint.
 */
ks_status ks_recorder_new(const ks_recorder_options *opt, ks_callback **out, ks_error *err);
/* 1 if the recorder stopped its fit because its sink failed (the writer's failure). */
int ks_recorder_failed(const ks_callback *cb);

/* What the committer writes, and where. */
typedef struct ks_tracker_options {
    ks_db *db;                  /* may be NULL: TensorBoard only */
    int64_t trial_id;
    const char *objective;      /* the metric whose best is the trial's objective */
    int maximize;
    int last_only;              /* keep the last checkpoint only, no best (keep: [last]) */
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
} ks_tracker_options;

/*
 * The committer of one trial: the one writer of its records.  ks_committer_put takes
 * BEGIN, EPOCH and BATCH records in order (the record stays the caller's): an epoch is
 * one transaction in the database (its logs, the trial's progress, its checkpoints,
 * histograms) then its TensorBoard scalars.  The objective, the best epoch and the best
 * checkpoint span every segment of the trial: a BEGIN from initial_epoch > 0 starts
 * from the trial's best before it in the database.  The graph, the summary and the
 * session start are written by the first segment only: a BEGIN from epoch 0 whose
 * session run holds no event file yet (a study's trial), or any from 0 in Keras's layout.
 * A failure is returned and kept: later puts return it again.  Options' strings must
 * outlive the committer.
 */
typedef struct ks_committer ks_committer;
ks_status ks_committer_new(const ks_tracker_options *opt, ks_committer **out, ks_error *err);
void ks_committer_free(ks_committer *c);    /* closes its event files; NULL is a no-op */
ks_status ks_committer_put(ks_committer *c, const ks_record *r, ks_error *err);
/* The objective so far (NaN if none) and its epoch (-1). */
double ks_committer_objective(const ks_committer *c, int *best_epoch);
/*
 * End the segment: the trial's status (with error text) in the database, and with span
 * (not NULL) the job's segment in the same transaction (a study killed between the two
 * would lose the segment of a finished job); when session_end (the status is final:
 * complete at the full budget, failed), the TensorBoard session end at the time the
 * database recorded; closes the event files.
 */
ks_status ks_committer_end(ks_committer *c, ks_trial_status status, const char *error_text,
                           int session_end, const ks_job_span *span, ks_error *err);

/*
 * A writer thread of one committer (a `ksearch fit`): records pushed into its sink are
 * committed in order on a thread of its own, off the training thread.  A failure to
 * commit is kept: later pushes return it (the recorder then stops the fit).  _stop
 * commits what is still queued, ends the thread and returns the first failure; the
 * committer stays the caller's (end and free it after).
 */
typedef struct ks_tracker_writer ks_tracker_writer;
ks_status ks_tracker_writer_start(ks_committer *c, ks_tracker_writer **out, ks_error *err);
ks_record_sink ks_tracker_writer_sink(ks_tracker_writer *w);
ks_status ks_tracker_writer_stop(ks_tracker_writer *w, ks_error *err);  /* NULL: KS_OK */

/*
 * The model summary text shown in TensorBoard (tag "model_summary"): the trial's
 * parameters (params_json, may be NULL or "{}": none) as a Markdown table, then
 * ks_model_summary's table in a code block.  *out is malloc'd.
 */
ks_status ks_tracker_summary_text(const ks_model *m, const char *params_json, char **out,
                                  ks_error *err);

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
