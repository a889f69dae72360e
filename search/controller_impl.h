/*
 * controller_impl.h — the study controller's state, shared by controller.c (workers
 * and jobs), study_run.c (set-up, resume, the end) and study_progress.c (output).
 * The controller is one thread's; workers (threads or MPI ranks) meet it only through
 * a transport: trial requests out, records back.
 */
#ifndef KS_CONTROLLER_IMPL_H
#define KS_CONTROLLER_IMPL_H

#include "message.h"

#include <signal.h>
#include <stdatomic.h>

/* What the controller knows of one trial. */
typedef struct trial_state {
    int number;
    int64_t id;                         /* its row in study.db */
    double point[KS_MAX_SEARCH_PARAMS];
    ks_trial_status status;
    int budget;                         /* epochs asked for */
    int busy;                           /* a worker is training it */
    int epochs;                         /* epochs recorded in study.db */
    double *curve;                      /* the objective after each recorded epoch */
    int n_curve, cap_curve;
    double objective;                   /* best of curve, NaN if none */
    double seconds;                     /* training time, all its jobs */
    int dropped;                        /* retention dropped its checkpoints (this run) */
} trial_state;

/*
 * The worker's side: what training a request needs, the same in a worker thread and in
 * an MPI rank.  Every field is fixed while workers run; the records go to sink.
 */
typedef struct ctl_trainer {
    const ks_study *st;
    const ks_study_data *data;
    const volatile sig_atomic_t *stop;  /* Ctrl-C / SIGTERM: stop cleanly */
    const atomic_int *abort;            /* the controller stops the study (a failure) */
    ks_tracker_options tb;              /* histogram_freq, update_freq, write_graph */
    ks_checkpoint_policy policy;
    ks_record_sink sink;
    /* search.pruner: wait for the controller's verdict on trial at epoch, for the worker
       of slot: 1 prune, 0 go on, −1 the study stops (set with sink by the transport) */
    int (*await_verdict)(void *user, int slot, int trial, int epoch);
    void *verdict_user;
} ctl_trainer;

/*
 * Train one request from where it stands to its budget: the trial's config from its
 * point, its model (fresh, or from the request's checkpoint), the file's callbacks and
 * the recorder; records go to w->sink, the last an END (status, error text, seconds).
 * Never fails itself: whatever goes wrong is in the END record.
 */
void ctl_train(const ctl_trainer *w, const ks_trial_request *req);

/*
 * How requests reach workers and records come back: worker threads in this process,
 * or MPI ranks.  slots workers, numbered 0 … slots − 1; each takes one request at a
 * time.  send takes the request's checkpoint (also on failure).  recv gives the next
 * record of any worker (its worker field is the slot), NULL when none came within
 * timeout seconds; a failure of the transport itself (a rank died) is an error, after
 * which no more records come.  finish tells every worker that no more requests come
 * and waits for them.
 */
typedef struct ctl_transport {
    int slots;
    ks_status (*send)(void *user, ks_trial_request *req, ks_error *err);
    ks_status (*recv)(void *user, double timeout, ks_record **out, ks_error *err);
    void (*finish)(void *user);
    /* search.pruner: the verdict on trial at epoch (1 prune, 0 go on) to the worker of
       slot, which waits for it (a verdict it no longer waits for is dropped) */
    ks_status (*verdict)(void *user, int slot, int trial, int epoch, int prune, ks_error *err);
    /*
     * Workers that can die apart from the controller (MPI ranks): once the run is
     * stopped (SIGTERM: a launcher ending the job because a rank died, or Ctrl-C), a
     * worker whose END has not come within stop_grace seconds is lost: lost names it
     * ("rank 2 on HOST") and forgets it.  stop_grace 0: workers cannot be lost (threads).
     */
    double stop_grace;
    void (*lost)(void *user, int slot, char *name, size_t size);
    /* The study stops (Ctrl-C, SIGTERM, a failure): tell the workers to end their fits at
       the next batch, each with an interrupted END.  NULL where the workers see the
       controller's own flags (threads). */
    void (*stop)(void *user);
    void *user;
} ctl_transport;

/* The threads transport: parallel worker threads training with w (its sink set here). */
ks_status ctl_threads_new(ctl_trainer *w, int parallel, ctl_transport *out, ks_error *err);
void ctl_threads_free(ctl_transport *t);

/*
 * MPI ranks (transport_mpi.c; a plain build has none: rank 0 of 1).  Rank 0 is the
 * controller, ranks 1 … size − 1 its workers, each with --parallel worker threads.
 */
int ctl_mpi_rank(void);
int ctl_mpi_size(void);
/*
 * Every rank, before any trial: own is this rank's loading of the data (own_err its
 * message).  All ranks learn whether every rank loaded the same (sizes, CRC-32); rank 0
 * gets the error naming the rank and host that differs or failed, the others KS_STOPPED
 * (rank 0 speaks for the job).
 */
ks_status ctl_mpi_check_data(const ks_study_data *data, ks_status own, const ks_error *own_err,
                             ks_error *err);
/* Rank 0: the transport over the worker ranks, parallel threads on each (slot s is
   rank 1 + s / parallel, its thread s % parallel). */
ks_status ctl_mpi_new(int parallel, ctl_transport *out, ks_error *err);
void ctl_mpi_free(ctl_transport *t);
/* Rank 0: tell every worker rank to end, unless the transport did (a no-op without MPI). */
void ctl_mpi_release(void);
/* Ranks > 0: send a record to rank 0 in its wire form (freed here), without waiting for
   rank 0 to take it, at most 8 per worker thread in flight (the oldest waited for
   beyond); ctl_mpi_flush waits until every one sent is delivered.  KS_ERR_IO when rank 0
   cannot be reached. */
ks_status ctl_mpi_send_record(ks_record *r, ks_error *err);
ks_status ctl_mpi_flush(ks_error *err);
/* Ranks > 0: train rank 0's requests on parallel worker threads with w (its sink and
   abort set here) until rank 0 quits; this thread alone speaks MPI. */
ks_status ctl_mpi_serve(ctl_trainer *w, int parallel, ks_error *err);

/* What the controller knows of a worker's job (the trial it trains and its writer). */
typedef struct ctl_job {
    int number;                         /* −1: the slot is idle */
    double started;                     /* when it was sent (ks_now) */
    int initial_epoch;                  /* the request's */
    int verdict_epoch;                  /* the worker waits for the pruner's verdict at this
                                           epoch; −1: for none */
    ks_committer *committer;
    int failed;                         /* committing its records failed (own I/O) */
    ks_error err;                       /* why */
    char run_name[64];
    const char *hp_names[KS_MAX_SEARCH_PARAMS];
    ks_hp_value hp_values[KS_MAX_SEARCH_PARAMS];
    ks_value hp_store[KS_MAX_SEARCH_PARAMS];
    int n_hp;
} ctl_job;

/* search.warm_start (warm_start.c): an earlier study's complete trials, as the method's
   observations (ks_history's warm), never trials of this study. */
typedef struct ctl_warm {
    int n;
    ks_trial_view *views;               /* their points and curves below */
    double *points;                     /* n × KS_MAX_SEARCH_PARAMS, in this study's space */
    double **curves;                    /* each its objective by epoch (malloc'd) */
} ctl_warm;

/*
 * The controller: one thread owns all of it (the search method, study.db, TensorBoard,
 * the console); workers reach it only through a transport.
 */
typedef struct controller {
    /* fixed for the run */
    ks_study *st;
    const ks_study_data *data;
    const ks_run_options *o;
    ks_run_paths paths;                 /* runs/NAME, its study.db … */
    ks_run_lock *run_lock;              /* held while the study runs */
    char log_dir[1100];                 /* TensorBoard: paths.tensorboard or the file's */
    ks_tracker_options tb;              /* TensorBoard settings every trial gets */
    ks_checkpoint_policy policy;        /* search.checkpoints */
    FILE *out;
    int tty;
    int total;                          /* trials the method plans (0: unknown) */
    int full_budget;                    /* a trial's budget when it is done (see ks_sampler_ops) */
    double t0;

    atomic_int abort;                   /* workers stop their fits (set on a failure) */
    ks_db *db;                          /* the one connection: the controller writes */
    int64_t study_id;
    trial_state *trials;
    ks_trial_view *views;
    int n, cap;
    int resume[4096];                   /* trial numbers to finish first (a stack) */
    int n_resume;
    ctl_job *jobs;                      /* one per transport slot */
    int n_jobs;
    int running;
    int sampler_done, stopping;
    int finished;                       /* jobs finished in this run */
    int status_width;                   /* characters of the status line on a terminal */
    int last_status_finished;           /* elsewhere: the status line follows each finish */
    ks_status failure;                  /* the database failed: stop */
    ks_error err;
    int retained_at;                    /* `finished` when retention last looked */
    int dropped_trials;                 /* trials whose checkpoints it dropped (this run) */
    int64_t dropped_bytes;              /* and their bytes */
    /* a grown study (study_run.c) and a warm start (warm_start.c) */
    char hash[32];                      /* of the study's text */
    char growth[400];                   /* what grew in this run ("" if nothing) */
    int grown;                          /* it grew since its first trial */
    int n_parts;                        /* the parts planned with one R each (0: one) */
    ks_budget_part parts[KS_MAX_BUDGET_PARTS];
    ctl_warm warm;
} controller;

/* 1 if trial t, complete, may still be promoted (its status is not final yet): below
   the R of its part of the plan. */
int ctl_may_promote(const controller *c, const trial_state *t);
/* What a history holds besides the trials: the study's growth and warm start. */
void ctl_history_extras(const controller *c, ks_history *h);
/* warm_start.c: load the study's search.warm_start (none: nothing) into c->warm and say
   so on c->out; refused (KS_ERR_CONFIG at the key) when the path holds no study, or one
   of another metric or of a space this one did not grow from.  ctl_warm_free frees it. */
ks_status ctl_warm_load(controller *c, ks_error *err);
void ctl_warm_free(ctl_warm *w);

/* controller.c */
ks_status ctl_grow(controller *c, ks_error *err);
/* Run the study on the transport's workers until it is done (or stopped, or failed). */
ks_status ctl_run(controller *c, ctl_transport *tp);
/* Take one record of a worker (controller.c; exposed for tests). */
void ctl_take_record(controller *c, const ks_record *r);
/* The study as the search method sees it (views of c->trials, valid until they change). */
void ctl_history(controller *c, ks_history *h);

/* retention.c: the checkpoints of trials that became final since the last call (a job
   ended) dropped as search.checkpoints.retain says, their pages given back (force: look
   even if no job ended); KS_ERR_DB/IO/NOMEM when the database fails.  ctl_retain_end:
   at the study's end, a last look and the file's free pages given back (VACUUM of an
   older file with allow_vacuum); one line on c->out says what was dropped, a failure is
   a warning there. */
ks_status ctl_retain(controller *c, int force, ks_error *err);
void ctl_retain_end(controller *c, int allow_vacuum);

/* Give the pruner's verdicts that workers wait for and that can now be given. */
void ctl_answer_verdicts(controller *c, ctl_transport *tp);

/* study_run.c */
uint64_t ctl_trial_seed(const controller *c, int number);
/* A trial's objective after each recorded epoch, by epoch, into *curve (realloc'd to
   *cap; *len values, at least epochs): NaN where the metric was not logged (e.g. val_
   metrics with validation_freq > 1). */
ks_status ctl_curve_load(ks_db *db, int64_t trial_id, const char *metric, int epochs,
                         double **curve, int *cap, int *len, ks_error *err);
ks_status ctl_add_trial(controller *c, const double *point, int budget);
/* The best of a trial's curve before epoch `before` (NaN: none). */
double ctl_curve_best(const controller *c, const trial_state *t, int before);

/* study_report.c: the search the study declares, run on parallel workers (for study.db
   and the HParams experiment; free with ks_search_info_free); the HTML report at the end
   (a failure is a warning on c->out, never a failed study) */
ks_status ctl_search_info(const controller *c, int parallel, ks_search_info *out,
                          ks_error *err);
void ctl_report_end(controller *c);

/* study_progress.c */
void ctl_report_trial(controller *c, int number, const char *error);
void ctl_status_line(controller *c);
void ctl_clear_status(controller *c);

#endif
