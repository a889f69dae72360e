/*
 * controller_impl.h — the study controller's state, shared by controller.c (workers
 * and jobs), study_run.c (set-up, resume, the end) and study_progress.c (output).
 * Everything in a controller is guarded by its lock, except the fields marked fixed.
 */
#ifndef KS_CONTROLLER_IMPL_H
#define KS_CONTROLLER_IMPL_H

#include "search_impl.h"

#include <pthread.h>
#include <signal.h>

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
} trial_state;

typedef struct controller {
    /* fixed for the run */
    ks_study *st;
    const ks_study_data *data;
    const ks_run_options *o;
    ks_run_paths paths;                 /* runs/NAME, its study.db … */
    ks_run_lock *run_lock;              /* held while the study runs */
    char log_dir[1100];                 /* TensorBoard: paths.tensorboard or the file's */
    ks_tracker_options tb;              /* TensorBoard settings every trial gets */
    FILE *out;
    int tty;
    int total;                          /* trials the method plans (0: unknown) */
    int full_budget;                    /* a trial's budget when it is done (see ks_sampler_ops) */
    double t0;

    /* guarded by lock */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    ks_db *db;                          /* the controller's own connection */
    int64_t study_id;
    trial_state *trials;
    ks_trial_view *views;
    int n, cap;
    int resume[4096];                   /* trial numbers to finish first (a stack) */
    int n_resume;
    int running;
    int sampler_done, stopping;
    int finished;                       /* jobs finished in this run */
    int status_width;                   /* characters of the status line on a terminal */
    int last_status_finished;           /* elsewhere: the status line follows each finish */
    ks_status failure;                  /* the database failed: stop */
    ks_error err;
} controller;

/* 1 if trial t, complete, may still be promoted (its status is not final yet). */
int ctl_may_promote(const controller *c, const trial_state *t);

/* controller.c */
ks_status ctl_grow(controller *c, ks_error *err);
/* Run the study on parallel (1 .. KS_MAX_PARALLEL) workers until it is done. */
ks_status ctl_run_workers(controller *c, int parallel);

/* study_run.c */
uint64_t ctl_trial_seed(const controller *c, int number);
ks_status ctl_add_trial(controller *c, const double *point, int budget);
/* Re-read a trial after a job (under the lock): its status, budget, epochs, objective and
   curve.  A failure to read it leaves what the samplers see stale: the caller stops. */
ks_status ctl_refresh_trial(controller *c, ks_db *db, int number, ks_trial_status status,
                            double seconds, ks_error *err);
void ctl_hp_value(const ks_value *v, ks_hp_value *out);

/* study_progress.c */
void ctl_report_trial(controller *c, int number, const char *error);
void ctl_status_line(controller *c);
void ctl_clear_status(controller *c);

#endif
