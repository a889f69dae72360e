/*
 * search.h — the public interface of ksearch's search module: study and run files
 * (YAML), and — in later parts — the search space, algorithms, controller and
 * ensembles.  Built on the tracker and the engine.
 *
 * Ownership as in engine.h: _load/_new results are freed with the matching _free.
 */
#ifndef KS_SEARCH_H
#define KS_SEARCH_H

#include <signal.h>

#include "../engine/engine.h"
#include "../tracker/tracker.h"

/*
 * Read a YAML file into a value tree.  name is the source name used in messages and
 * stored (borrowed) in every node: keep it alive as long as out.
 */
ks_status ks_yaml_load(const char *path, const char *name, ks_value *out, ks_error *err);
/* The same from text in memory (e.g. a study file kept in study.db). */
ks_status ks_yaml_load_text(const char *text, const char *name, ks_value *out, ks_error *err);

/*
 * A run file (`ksearch fit MODEL.yaml`): name, seed, data, model, compile, fit and
 * callbacks sections, as in a study file without its search section.  Every key is
 * checked on load; sections that need data (shapes) are checked when used.
 */
typedef struct ks_run_config {
    ks_value doc;                   /* the whole file */
    char *text;                     /* its text as read (ks_run_config_load), or NULL */
    char path[1024];                /* as given; the source name of every node */
    char dir[1024];                 /* its directory, for relative data paths */
    char name[128];                 /* runs/NAME; default the file's base name */
    uint64_t seed;                  /* 42 */
    const ks_value *train, *validation, *test;     /* data entries; NULL if absent */
    const ks_value *model, *compile, *callbacks, *search, *ensemble;
    ks_fit_params fit;              /* the fit section, Keras defaults */
    double class_weight[256];       /* fit.class_weight by class index (1 where absent) */
} ks_run_config;

ks_status ks_run_config_load(const char *path, ks_run_config **out, ks_error *err);
/* The same from a parsed document (taken over: *doc is left empty); path names it. */
ks_status ks_run_config_parse(ks_value *doc, const char *path, ks_run_config **out,
                              ks_error *err);
void ks_run_config_free(ks_run_config *c);
/* Record in the model's metadata what predict and evaluate must redo to raw inputs (the
   training data's scale, "input_scale"), so that model files are used as they were
   trained, and the CSV target column(s) of the training data (KS_META_CSV_TARGET: a name
   or a list of names), so that they can say which to give. */
#define KS_META_CSV_TARGET "csv_target"
/* … and the CSV columns by name, so that evaluate and predict read a CSV file in any
   column order: the inputs (a list of column names for the one input, or the data entry's
   inputs map), the targets (a map of output name, "" for the one output, to {from: …,
   one_hot, num_classes}) and the text columns (the entry's text). */
#define KS_META_CSV_INPUTS "csv_inputs"
#define KS_META_CSV_TARGETS "csv_targets"
#define KS_META_CSV_TEXT "csv_text"
ks_status ks_run_config_record_preprocessing(const ks_run_config *c, ks_model *m, ks_error *err);

/* Read a whole text file (malloc'd, NUL-terminated); NULL with err set on failure. */
char *ks_read_text(const char *path, ks_error *err);

/*
 * A study file: a run file whose model, compile, fit and callbacks sections may hold
 * $name references to the parameters of its search section.  ks_study_load checks
 * everything that needs no data; ks_study_check_with_data loads nothing itself but
 * builds the model at each parameter's extreme values on the data's shapes.
 */
typedef struct ks_study ks_study;
ks_status ks_study_load(const char *path, ks_study **out, ks_error *err);
/* The same from the file's text (as study.db keeps it): name is used in messages, and
   relative data paths are read from dir. */
ks_status ks_study_load_text(const char *text, const char *name, const char *dir,
                             ks_study **out, ks_error *err);
void ks_study_free(ks_study *st);
/*
 * The study a run's database keeps — the one named study, or (NULL) the file's first —
 * loaded from the study file kept in it, its relative data paths read from the folder
 * the file was in when it ran (kept too; for a database of an older ksearch, the
 * current directory).  db_path names the database in messages.  info receives the
 * study's row (free it with ks_study_info_free; on failure nothing is left to free).
 */
ks_status ks_study_from_db(ks_db *db, const char *db_path, const char *study,
                           ks_study_info *info, ks_study **out, ks_error *err);
/*
 * Whether the study's checkpoint retention (search.checkpoints.retain) drops the
 * checkpoints of a trial of that status and budget once it is final: 1 and the reason
 * in why (for the message of a command that finds one missing: export, refit, an
 * ensemble), else 0 and why "".
 */
int ks_study_retain_why(const ks_study *st, ks_trial_status status, int budget, char *why,
                        size_t size);
/* A study's data, loaded once and shared read-only by every trial. */
typedef struct ks_study_data {
    ks_dataset *train, *val, *test;
} ks_study_data;
ks_status ks_study_load_data(const ks_study *st, ks_study_data *d, ks_error *err);
void ks_study_data_free(ks_study_data *d);
/*
 * The checks that need the data: the default objective (val_loss, or loss without
 * validation), and the file at each parameter's extreme values built, compiled and
 * checked against the data; errors name the values ("with n_hidden = 3: …").
 */
ks_status ks_study_check_with_data(ks_study *st, const ks_study_data *d, ks_error *err);

/* The concrete config of the trial at point (the file with the values substituted). */
ks_status ks_study_trial_config(const ks_study *st, const double *point, ks_run_config **out,
                                ks_error *err);

/* ============================================================ run directories */

/*
 * What a study (or a `ksearch fit`) keeps, all under one directory, runs/NAME by
 * default.  Paths are relative to the current directory when dir is.
 */
#define KS_RUNS_DIR "runs"
#define KS_RUN_LOCK_NAME "ksearch.lock"
#define KS_RUN_REPORT_NAME "report.html"
typedef struct ks_run_paths {
    char dir[1024];             /* runs/NAME */
    char db[1100];              /* DIR/study.db */
    char tensorboard[1100];     /* DIR/tensorboard: the TensorBoard log dir by default */
    char ensembles[1100];       /* DIR/ensembles */
    char best_ensemble[1100];   /* DIR/ensembles/best.ksm: the ensemble step's file */
    char model[1100];           /* DIR/model.ksm: what `ksearch fit` saves */
    char lock[1100];            /* DIR/ksearch.lock: held by the process that writes */
    char report[1100];          /* DIR/report.html: written when a study ends, and
                                   `ksearch report`'s default */
    char refit[1100];           /* DIR/refit: the models `ksearch refit` saves */
} ks_run_paths;
/* The paths of run NAME (runs/NAME/…); KS_ERR_USAGE if they would be too long. */
ks_status ks_run_paths_for_name(const char *name, ks_run_paths *p, ks_error *err);
/* The paths of a study's run: runs/NAME for its name. */
ks_status ks_study_run_paths(const ks_study *st, ks_run_paths *p, ks_error *err);
/* The paths of a RUNDIR given on the command line: a run directory, or its database
   file (then p->db is that file and the run directory its folder). */
ks_status ks_run_paths_for_arg(const char *arg, ks_run_paths *p, ks_error *err);
/* Where `ksearch refit` saves trial number's model: DIR/refit/trial-0007.ksm (named as
   the trial's TensorBoard run); KS_ERR_USAGE if it would not fit in size. */
ks_status ks_run_refit_path(const ks_run_paths *p, int number, char *out, size_t size,
                            ks_error *err);

/*
 * The one process that writes a run directory holds its lock: an exclusive fcntl lock on
 * DIR/ksearch.lock (which says who holds it: pid, host, since when, doing what), held
 * until ks_run_lock_release or the end of the process: the system releases it when the
 * process dies, so the file a killed process leaves blocks nobody.  Readers (ls, show,
 * compare, reports) never take it.  The directory must exist.  what: for the message
 * another process gets, e.g. "running study.yaml".  When another process holds the
 * lock: KS_ERR_USAGE naming it, and nothing written.  A process takes a run's lock once
 * (fcntl locks are the process's: a second take would succeed, and its release free
 * both).
 */
typedef struct ks_run_lock ks_run_lock;
ks_status ks_run_lock_acquire(const ks_run_paths *p, const char *what, ks_run_lock **out,
                              ks_error *err);
void ks_run_lock_release(ks_run_lock *lock);    /* NULL is a no-op */

/* Limits of a study or run file. */
#define KS_MAX_PARALLEL 256             /* workers of one study (search.parallel, --parallel) */
/* a file's callbacks: of the engine's KS_MAX_CALLBACKS (engine.h) a trial adds
   TerminateOnNaN, the interrupt watcher, the tracker and search.pruner's watcher */
#define KS_MAX_FILE_CALLBACKS (KS_MAX_CALLBACKS - 4)

/* Running a study: `ksearch STUDY.yaml`. */
typedef struct ks_run_options {
    int parallel;                       /* workers; 0: the study's search.parallel */
    int fresh;                          /* start over instead of resuming */
    int grow;                           /* continue a study whose file only grew */
    FILE *out;                          /* progress (NULL: stdout) */
    int tty;                            /* -1: ask isatty(out) */
    const volatile sig_atomic_t *stop;  /* set (e.g. by Ctrl-C): stop cleanly */
} ks_run_options;

/*
 * Run (or resume) a study: check it with its data, open runs/NAME/study.db, refuse a
 * changed file unless fresh (or grow, for a file that only grew: its trials are kept and
 * the stored text becomes the file's), finish interrupted trials from their last checkpoints,
 * then let the method's trials run on the workers until it is done.  Returns KS_OK,
 * KS_INTERRUPTED when stopped, or the error that stopped it.
 */
ks_status ks_study_run(ks_study *st, const ks_run_options *o, ks_error *err);

/*
 * MPI (`make MPI=1`, started by mpirun or srun): join the job before the study runs;
 * *rank and *size say where this process stands (0 of 1 when not launched, and always
 * in a plain build, which refuses a launch of more than one process with KS_ERR_USAGE).
 * ks_study_run then runs rank 0 as the controller and the others as its workers; only
 * rank 0 reports.  ks_mpi_end leaves the job (a no-op when not in one); failed: this
 * process exits with a failure status (rank 0 then waits for the worker ranks of its host
 * to have left, so that mpirun does not end them on their way out).
 */
ks_status ks_mpi_begin(int *rank, int *size, ks_error *err);
void ks_mpi_end(int failed);

/* ==================================================================== refit */

/*
 * Which trial `ksearch refit` retrains, of a study's trials t[0..n) (as ks_db_trials
 * gives them, metric the study's objective for messages): trial number, or (number < 0)
 * the best complete trial by its objective (ties: the lower number).  Refused with
 * KS_ERR_USAGE and one message naming the trial and why: no such trial; a trial failed,
 * interrupted, queued or running; one without a best epoch (pruned before, or ended
 * without, a first value of the objective); no complete trial to choose from.
 * *index: the chosen row of t.
 */
ks_status ks_refit_pick(const ks_trial_info *t, int n, int maximize, const char *metric,
                        int number, int *index, ks_error *err);

typedef struct ks_refit_options {
    int verbose;                /* fit's verbose: 0 silent, 1 progress bar, 2 a line per epoch */
    FILE *out;                  /* the progress (NULL: stdout) */
    int tty;                    /* -1: ask isatty(out) */
} ks_refit_options;

/*
 * Retrain trial t of study st as the study built it — its parameters substituted into
 * the file, its model initialized and fitted with its seed — on the training rows
 * followed by the validation rows (d->val's; with validation_split, all of d->train),
 * without validation, for t->best_epoch + 1 epochs.  The file's callbacks are not run
 * (without validation data EarlyStopping and ReduceLROnPlateau have nothing to watch;
 * ModelCheckpoint and CSVLogger would write over the trial's files); TerminateOnNaN is.
 * The same study, data and trial give the same weights, bit for bit.  *out: the trained
 * model (the caller frees it).  The trial is
 * checked as ks_refit_pick checks it (KS_ERR_USAGE); a loss that becomes NaN is
 * KS_ERR_NAN; data that do not fit the model KS_ERR_SHAPE.
 */
ks_status ks_study_refit(const ks_study *st, const ks_study_data *d, const ks_trial_info *t,
                         const ks_refit_options *o, ks_model **out, ks_error *err);

/* ================================================================ ensembles */

/* How ensemble weights are fitted on the validation data. */
typedef enum ks_weights_method {
    KS_WEIGHTS_UNIFORM,         /* 1/K each */
    KS_WEIGHTS_RANDOM,          /* the best of Dirichlet(1, …, 1) draws on the simplex */
    KS_WEIGHTS_NELDER_MEAD,     /* GSL's simplex minimizer over softmax(θ) */
    KS_WEIGHTS_GREEDY,          /* Caruana et al. 2004: selection with replacement */
    KS_WEIGHTS_COUNT
} ks_weights_method;

const char *ks_weights_method_name(ks_weights_method m);    /* "nelder-mead" */
int ks_weights_method_find(const char *name);               /* −1 if unknown */

/*
 * Fit weights (n_members values ≥ 0 summing to 1) minimizing the validation loss of the
 * combined outputs: preds[i] holds member i's outputs on val (val->n × output size);
 * scorer is any member (the loss and metrics of its output number output score the
 * combination).
 */
ks_status ks_ensemble_fit_weights(ks_weights_method method, ks_model *scorer, int output,
                                  const ks_data *val, const float *const *preds, int n_members,
                                  ks_ensemble_average average, uint64_t seed, double *weights,
                                  ks_error *err);

/* What to build from a study's trials (the study file's ensemble section, or the CLI). */
typedef struct ks_ensemble_request {
    int top;                    /* members: the best K complete trials [5] */
    char output[KS_LOG_NAME_MAX];   /* the output to combine ("": each model's first) */
    unsigned methods;           /* a bit per ks_weights_method [nelder-mead] */
    ks_ensemble_average average;
    const char *out_path;       /* NULL: the run's ensembles/best.ksm */
    const ks_run_paths *run;    /* the study's run directory; NULL: runs/NAME */
    FILE *out;                  /* the report (NULL: stdout) */
} ks_ensemble_request;

/* The study file's ensemble section into r (r->top 0: the file has none). */
ks_status ks_study_ensemble_request(const ks_study *st, ks_ensemble_request *r, ks_error *err);

/*
 * Build the ensembles of a study's top trials from their best checkpoints in its run's
 * study.db (r->run, or runs/NAME): for each method asked, fit the weights on the validation data and
 * report validation and test metrics beside the best single member's; store each in
 * study.db and save the best (lowest validation loss) to the output file.
 */
ks_status ks_study_ensemble(const ks_study *st, const ks_study_data *d,
                            const ks_ensemble_request *r, ks_error *err);

#endif
