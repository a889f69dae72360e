/*
 * cli_fit.c — `ksearch fit MODEL.yaml`: one training, as a Keras script would do it:
 * load the data, build and compile the model, fit with the file's callbacks,
 * evaluate on the test data, save the model to runs/NAME/model.ksm.
 */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fit_usage(FILE *f)
{
    fprintf(f,
            "usage: ksearch fit MODEL.yaml [options]\n\n"
            "Trains the model of MODEL.yaml (data, model, compile, fit and callbacks\n"
            "sections, as in a study file) and saves it.\n\n"
            "options:\n"
            "  --threads N     OpenBLAS threads per matrix product [OpenBLAS default]\n"
            "  --epochs N      override fit.epochs\n"
            "  --seed N        override the file's seed [42]\n"
            "  --verbose N     override fit.verbose: 0 silent, 1 bar, 2 a line per epoch\n"
            "  -o FILE.ksm     where to save the model [runs/NAME/model.ksm]\n"
            "  --no-save       do not save the model\n"
            "  --from FILE.ksm start from a saved model (weights, optimizer state, epoch)\n"
            "                  instead of the model section: training resumes at its\n"
            "                  epoch unless fit.initial_epoch is given\n"
            "  --no-record     do not record the run in runs/NAME/study.db nor write\n"
            "                  TensorBoard logs\n");
}

typedef struct fit_job {
    ks_run_config *cfg;
    ks_callback *cbs[KS_MAX_CALLBACKS];
    int ncb;
    const ks_value *tensorboard;    /* the TensorBoard entry's arguments, if any */
    ks_dataset *train, *val, *test;
    ks_model *model;
    ks_db *db;
    ks_callback *tracker;           /* the recorder (then the last of cbs) */
    ks_tracker_options topt;
    ks_committer *committer;        /* the run's writer, on a thread of its own */
    ks_tracker_writer *writer;
    ks_run_paths paths;             /* runs/NAME and what it holds */
    ks_run_lock *lock;              /* held while writing runs/NAME */
    char log_dir[1100], objective[64];
    char *summary;                  /* the model summary TensorBoard shows as text */
    int trial_number;
} fit_job;

static void job_free(fit_job *j)
{
    ks_tracker_writer_stop(j->writer, NULL);
    for (int i = 0; i < j->ncb; i++)
        ks_callback_free(j->cbs[i]);
    ks_callback_free(j->tracker);
    ks_committer_free(j->committer);
    ks_db_close(j->db);
    ks_dataset_free(j->train);
    ks_dataset_free(j->val);
    ks_dataset_free(j->test);
    ks_model_free(j->model);
    ks_run_config_free(j->cfg);
    free(j->summary);
    ks_run_lock_release(j->lock);
}

/* Make the file's callbacks (before any data is read, so mistakes show at once). */
static ks_status make_callbacks(fit_job *j, ks_error *err)
{
    const ks_value *list = j->cfg->callbacks;
    char got[64];
    if (!list)
        return KS_OK;
    for (size_t i = 0; i < list->n; i++) {
        const ks_value *e = &list->items[i];
        ks_status s;
        if (e->kind != KS_VALUE_MAP || e->n != 1)
            return ks_error_at(err, KS_ERR_CONFIG, e,
                               "a callback must be a map of one class name to its arguments, "
                               "e.g. EarlyStopping: {patience: 2}, got %s",
                               ks_value_describe(e, got, sizeof got));
        if (j->ncb == KS_MAX_FILE_CALLBACKS)
            return ks_error_at(err, KS_ERR_CONFIG, e, "at most %d callbacks",
                               KS_MAX_FILE_CALLBACKS);
        if (strcmp(e->items[0].key, "TensorBoard") == 0) {
            /* the tracker writes TensorBoard logs; check the arguments now */
            if (j->tensorboard)
                return ks_error_at_key(err, KS_ERR_CONFIG, &e->items[0],
                                       "TensorBoard is listed twice");
            j->tensorboard = &e->items[0];
            if ((s = ks_tracker_tensorboard_args(j->tensorboard, &j->topt, j->log_dir,
                                                 sizeof j->log_dir, err)) != KS_OK)
                return s;
            continue;
        }
        s = ks_callback_from_config(e->items[0].key, &e->items[0], &j->cbs[j->ncb], err);
        if (s != KS_OK) {
            if (err && err->line == 0) {
                char msg[sizeof err->msg];
                snprintf(msg, sizeof msg, "%s", err->msg);
                ks_error_at_key(err, s, &e->items[0], "%s", msg);
            }
            return s;
        }
        j->ncb++;
    }
    return KS_OK;
}

static ks_status load_data(fit_job *j, ks_error *err)
{
    ks_status s = ks_dataset_load(j->cfg->train, j->cfg->dir, &j->train, err);
    if (s == KS_OK && j->cfg->validation)
        s = ks_dataset_load(j->cfg->validation, j->cfg->dir, &j->val, err);
    if (s == KS_OK && j->cfg->test)
        s = ks_dataset_load(j->cfg->test, j->cfg->dir, &j->test, err);
    return s;
}

/*
 * Record the run in runs/NAME/study.db, as a trial of the one-trial study NAME
 * (each run of the same file adds a trial), and in TensorBoard if the file asks.
 */
static ks_status start_tracking(fit_job *j, ks_error *err)
{
    ks_study_info st;
    const char *text;
    char hash[65];
    int created;
    ks_trial_info *trials = NULL;
    int n = 0;
    int64_t trial_id;
    ks_status s;
    const char *monitor = j->val || j->cfg->fit.validation_split > 0 ? "val_loss" : "loss";
    /* the text that was parsed: the file is not read again */
    text = j->cfg->text ? j->cfg->text : "";
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)ks_hash_string(text));
    memset(&st, 0, sizeof st);
    s = ks_db_open(j->paths.db, KS_DB_CREATE, &j->db, err);
    if (s == KS_OK)
        s = ks_db_study_open(j->db, j->cfg->name, text, hash, monitor, 0, &st, &created, err);
    if (s == KS_OK)
        s = ks_db_trials(j->db, st.id, &trials, &n, err);
    for (int i = 0; i < n; i++)
        ks_trial_info_free(&trials[i]);
    free(trials);
    j->trial_number = n;
    if (s == KS_OK)
        s = ks_db_trial_add(j->db, st.id, n, "{}", j->cfg->seed, j->cfg->fit.epochs, &trial_id,
                            err);
    if (s == KS_OK)
        s = ks_db_trial_set_status(j->db, trial_id, KS_TRIAL_RUNNING, NULL, err);
    if (s == KS_OK) {
        ks_recorder_options ro;
        snprintf(j->objective, sizeof j->objective, "%s", st.metric);
        j->topt.db = j->db;
        j->topt.trial_id = trial_id;
        j->topt.objective = j->objective;
        j->topt.maximize = st.maximize;
        memset(&ro, 0, sizeof ro);
        ro.objective = j->objective;
        ro.maximize = st.maximize;
        ro.best_so_far = NAN;
        ro.checkpoints = 1;
        ro.policy.every = 1;
        ro.policy.keep_best = 1;
        if (j->tensorboard) {
            /* Keras's layout: LOG_DIR/train, LOG_DIR/validation */
            if (!ks_value_get(j->tensorboard, "log_dir"))
                snprintf(j->log_dir, sizeof j->log_dir, "%s", j->paths.tensorboard);
            j->topt.log_dir = j->log_dir;
            j->topt.run_name = "";
            /* the model summary as text (the run has no search parameters) */
            ro.write_summary = 1;
            ro.histogram_freq = j->topt.histogram_freq;
            ro.update_freq = j->topt.update_freq;
            ro.write_graph = j->topt.write_graph;
            ro.embeddings_freq = j->topt.embeddings_freq;
        }
        /* the recorder in the fit, the committer on the writer's thread: the same path as
           a study's trials */
        if ((s = ks_committer_new(&j->topt, &j->committer, err)) == KS_OK &&
            (s = ks_tracker_writer_start(j->committer, &j->writer, err)) == KS_OK) {
            ro.sink = ks_tracker_writer_sink(j->writer);
            s = ks_recorder_new(&ro, &j->tracker, err);
        }
    }
    ks_study_info_free(&st);
    return s;
}

static void print_logs(const char *what, const ks_logs *logs)
{
    printf("%s:", what);
    for (int i = 0; i < logs->n; i++)
        printf("%s %s %.4f", i ? " -" : "", logs->name[i], logs->value[i]);
    printf("\n");
}

int cmd_fit(int argc, char **argv)
{
    fit_job j;
    ks_error err;
    ks_fit_history hist;
    ks_status s;
    const char *path = NULL, *out_path = NULL, *from = NULL;
    int threads = 0, epochs = -1, seed = -1, verbose = -1, save = 1, record = 1, done_epochs;
    char what[1100];

    memset(&j, 0, sizeof j);
    ks_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        int r = 0;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fit_usage(stdout);
            return KS_EXIT_OK;
        }
        if ((r = cli_int_option(argc, argv, &i, "--threads", &threads, &err)) ||
            (r = cli_int_option(argc, argv, &i, "--epochs", &epochs, &err)) ||
            (r = cli_int_option(argc, argv, &i, "--seed", &seed, &err)) ||
            (r = cli_int_option(argc, argv, &i, "--verbose", &verbose, &err))) {
            if (r > 0 && epochs == 0) {
                r = -1;
                ks_error_set(&err, KS_ERR_USAGE, "--epochs must be 1 or more");
            }
            if (r < 0) {
                cli_error(&err);
                return KS_EXIT_BAD_INPUT;
            }
            continue;
        }
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out_path = argv[++i];
        } else if (strcmp(argv[i], "--no-save") == 0) {
            save = 0;
        } else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc) {
            from = argv[++i];
        } else if (strcmp(argv[i], "--no-record") == 0) {
            record = 0;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "ksearch fit: unexpected argument \"%s\"\n", argv[i]);
            fit_usage(stderr);
            return KS_EXIT_BAD_INPUT;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        fit_usage(stderr);
        return KS_EXIT_BAD_INPUT;
    }
    if (threads > 0)
        ks_blas_set_threads(threads);

    /* everything that can be checked is checked before training; whatever goes into
       runs/NAME is written under its lock, taken before the data is loaded when the run
       exists (another process writing it is refused at once), else once it is made */
    if ((s = ks_run_config_load(path, &j.cfg, &err)) != KS_OK ||
        (s = make_callbacks(&j, &err)) != KS_OK ||
        (s = ks_run_paths_for_name(j.cfg->name, &j.paths, &err)) != KS_OK)
        goto bad_input;
    snprintf(what, sizeof what, "ksearch fit %s", path);
    if ((record || (save && !out_path)) && access(j.paths.dir, F_OK) == 0 &&
        (s = ks_run_lock_acquire(&j.paths, what, &j.lock, &err)) != KS_OK)
        goto bad_input;
    if ((s = load_data(&j, &err)) != KS_OK)
        goto bad_input;
    if (epochs >= 0)
        j.cfg->fit.epochs = epochs;
    if (seed >= 0)
        j.cfg->fit.seed = j.cfg->seed = (uint64_t)seed;
    if (verbose >= 0)
        j.cfg->fit.verbose = verbose > 2 ? 2 : verbose;
    if (from) {
        /* as keras.models.load_model, then fit(initial_epoch=…): the saved optimizer state
           continues, so 10 + 10 epochs equal 20 in one run */
        int saved_epoch = 0;
        if ((s = ks_model_load(from, &j.model, &saved_epoch, &err)) != KS_OK)
            goto bad_input;
        if (!ks_model_is_compiled(j.model) &&
            (s = ks_model_compile(j.model, j.cfg->compile, &err)) != KS_OK)
            goto bad_input;
        if (j.cfg->fit.initial_epoch == 0)
            j.cfg->fit.initial_epoch = saved_epoch;
    } else {
        ks_data tr = ks_dataset_data(j.train);
        if ((s = ks_model_from_config(j.cfg->model, &tr.x_shape, j.cfg->seed, &j.model, &err)) !=
                KS_OK ||
            (s = ks_model_compile(j.model, j.cfg->compile, &err)) != KS_OK)
            goto bad_input;
        if (ks_model_warnings(j.model))
            fputs(ks_model_warnings(j.model), stderr);
    }
    {
        /* the data against the model (inputs by name, targets against the losses) before
           anything is written */
        ks_data tr = ks_dataset_data(j.train), va;
        ks_data rows = ks_fit_training_rows(&tr, j.val ? 0.0 : j.cfg->fit.validation_split);
        const ks_value *at = j.cfg->train;
        /* preprocessing layers learn from the rows fit trains on (as fit would), so that
           the data is checked against what they make */
        if ((s = ks_model_adapt(j.model, &rows, &err)) == KS_OK &&
            (s = ks_model_check_data(j.model, &tr, "training", &err)) == KS_OK && j.val) {
            va = ks_dataset_data(j.val);
            at = j.cfg->validation;
            s = ks_model_check_data(j.model, &va, "validation", &err);
        }
        if (s != KS_OK) {
            if (!err.file[0]) {
                char msg[sizeof err.msg];
                snprintf(msg, sizeof msg, "%s", err.msg);
                ks_error_at(&err, s, at, "%s", msg);
            }
            goto bad_input;
        }
    }
    if (j.cfg->fit.verbose > 0)
        ks_model_summary(j.model, stdout);
    /* with --no-record nothing is attached: no study.db, no TensorBoard logs */
    if ((s = ks_run_config_record_preprocessing(j.cfg, j.model, &err)) != KS_OK ||
        ((record || (save && !out_path)) &&
         (cli_mkdirs(j.paths.dir, &err) != 0 ||
          (!j.lock && (s = ks_run_lock_acquire(&j.paths, what, &j.lock, &err)) != KS_OK))) ||
        (record && (s = start_tracking(&j, &err)) != KS_OK)) {
        cli_error(&err);
        job_free(&j);
        return cli_exit_for(err.code) == KS_EXIT_BAD_INPUT ? KS_EXIT_BAD_INPUT : KS_EXIT_FAILED;
    }
    /* the tracker sees the epoch logs last, after callbacks that add to them */
    if (record) {
        j.cbs[j.ncb++] = j.tracker;
        j.tracker = NULL;
    }

    ks_fit_history_init(&hist);
    {
        ks_data tr = ks_dataset_data(j.train), va;
        ks_error ferr;
        char msg[1200];
        if (j.val)
            va = ks_dataset_data(j.val);
        s = ks_model_fit(j.model, &tr, j.val ? &va : NULL, &j.cfg->fit, j.cbs, j.ncb, &hist,
                         &err);
        ks_error_format(&err, msg, sizeof msg);
        if (record) {
            /* everything recorded is committed, then the run's status */
            ks_status ws = ks_tracker_writer_stop(j.writer, &ferr);
            j.writer = NULL;
            if (ws != KS_OK && s == KS_OK) {
                err = ferr;
                s = ws;
            }
            if (ks_committer_end(j.committer, s == KS_OK ? KS_TRIAL_COMPLETE : KS_TRIAL_FAILED,
                                 s == KS_OK ? NULL : msg, 1, NULL, &ferr) != KS_OK &&
                s == KS_OK) {
                err = ferr;
                s = ferr.code;
            }
        }
        if (s == KS_OK && record)
            printf("recorded as trial %d of study %s in %s\n", j.trial_number, j.cfg->name,
                   j.paths.db);
    }
    done_epochs = hist.n_epochs ? hist.epoch[hist.n_epochs - 1] + 1 : j.cfg->fit.initial_epoch;
    if (s != KS_OK) {
        int trained = hist.n_epochs > 0;
        ks_fit_history_free(&hist);
        /* a shape or config problem found when fit saw the data is still bad input */
        if (!trained && cli_exit_for(s) == KS_EXIT_BAD_INPUT) {
            /* the data do not fit the model: point at the data entry */
            if (!err.file[0]) {
                char msg[sizeof err.msg];
                snprintf(msg, sizeof msg, "%s", err.msg);
                ks_error_at(&err, s, j.cfg->train, "%s", msg);
            }
            goto bad_input;
        }
        cli_error(&err);
        job_free(&j);
        return KS_EXIT_FAILED;
    }
    for (int i = 0; i < j.ncb; i++)
        if (strcmp(j.cbs[i]->name, "EarlyStopping") == 0 &&
            ks_early_stopping_stopped_epoch(j.cbs[i]) >= 0)
            printf("early stopping: stopped after epoch %d; best epoch %d\n",
                   ks_early_stopping_stopped_epoch(j.cbs[i]) + 1,
                   ks_early_stopping_best_epoch(j.cbs[i]) + 1);
    ks_fit_history_free(&hist);

    if (j.test) {
        ks_data te = ks_dataset_data(j.test);
        ks_logs logs;
        if ((s = ks_model_evaluate(j.model, &te, j.cfg->fit.batch_size,
                                   j.cfg->fit.verbose > 0 ? 1 : 0, NULL, 0, &logs, &err)) !=
            KS_OK) {
            cli_error(&err);
            job_free(&j);
            return cli_exit_for(s);
        }
        print_logs("test", &logs);
    }
    if (save) {
        if (!out_path)
            out_path = j.paths.model;
        if ((s = ks_model_save(j.model, out_path, KS_SAVE_OPTIMIZER, done_epochs, &err)) !=
            KS_OK) {
            cli_error(&err);
            job_free(&j);
            return KS_EXIT_FAILED;
        }
        printf("saved %s\n", out_path);
    }
    job_free(&j);
    return KS_EXIT_OK;

bad_input:
    cli_error(&err);
    job_free(&j);
    return cli_exit_for(s) == KS_EXIT_OK ? KS_EXIT_BAD_INPUT : cli_exit_for(s);
}
