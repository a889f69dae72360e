/*
 * cli_refit.c — `ksearch refit RUNDIR [TRIAL]`: after the search, the best (or a
 * given) trial retrained on the training and validation rows together for its best
 * epoch count, its test metrics printed beside those of the trial's best checkpoint,
 * and the model saved (runs/NAME/refit/trial-NNNN.ksm).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void refit_usage(FILE *f)
{
    fprintf(f,
            "usage: ksearch refit RUNDIR [TRIAL] [options]\n\n"
            "Retrains trial TRIAL of the study in RUNDIR [its best complete trial] as the\n"
            "study built it — its parameters in the study's model, its seed — on the\n"
            "training and validation rows together (with validation_split, all of the\n"
            "training data) for the trial's best epoch count (best epoch + 1), as one does\n"
            "after a search with Keras Tuner.  Nothing is left to validate on: the study\n"
            "file's callbacks are not run (EarlyStopping and ReduceLROnPlateau would have\n"
            "nothing to watch; ModelCheckpoint and CSVLogger would write over the trial's\n"
            "files), TerminateOnNaN is.  Prints the refit model's test metrics (data.test)\n"
            "beside those of the trial's best checkpoint, and saves the model.  The same\n"
            "trial refit twice gives the same weights.  A failed, interrupted or running\n"
            "trial, or one without a best epoch, is refused.\n\n"
            "options:\n"
            "  -o FILE.ksm     where to save the model [RUNDIR/refit/trial-NNNN.ksm]\n"
            "  --verbose N     0 silent, 1 progress bar, 2 a line per epoch [1]\n"
            "  --threads N     OpenBLAS threads per matrix product [OpenBLAS default]\n"
            "  -h, --help      this help\n");
}

static void print_logs(const char *what, const ks_logs *logs)
{
    printf("%s:", what);
    for (int i = 0; i < logs->n; i++)
        printf("%s %s: %.4f", i ? " -" : "", logs->name[i], logs->value[i]);
    printf("\n");
}

typedef struct refit_args {
    const char *rundir, *out_path;
    int number;                 /* -1: the best */
    int threads, verbose;
} refit_args;

/* Returns 0 to go on, else an exit status (−1: help was asked for). */
static int parse(int argc, char **argv, refit_args *a)
{
    ks_error err;
    memset(a, 0, sizeof *a);
    a->number = -1;
    a->verbose = 1;
    for (int i = 1; i < argc; i++) {
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            refit_usage(stdout);
            return -1;
        }
        if ((r = cli_int_option(argc, argv, &i, "--threads", &a->threads, &err)) ||
            (r = cli_int_option(argc, argv, &i, "--verbose", &a->verbose, &err))) {
            if (r < 0) {
                fprintf(stderr, "ksearch refit: %s\n", err.msg);
                return KS_EXIT_BAD_INPUT;
            }
            continue;
        }
        if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            a->out_path = argv[++i];
        } else if (argv[i][0] == '-' || (a->rundir && a->number >= 0)) {
            fprintf(stderr, "ksearch refit: unexpected argument \"%s\"\n", argv[i]);
            refit_usage(stderr);
            return KS_EXIT_BAD_INPUT;
        } else if (!a->rundir) {
            a->rundir = argv[i];
        } else {
            char *end;
            long v = strtol(argv[i], &end, 10);
            if (*end || end == argv[i] || v < 0 || v > 1000000000) {
                fprintf(stderr, "ksearch refit: TRIAL must be a trial number (a whole number "
                                ">= 0), got \"%s\"\n",
                        argv[i]);
                return KS_EXIT_BAD_INPUT;
            }
            a->number = (int)v;
        }
    }
    if (!a->rundir) {
        refit_usage(stderr);
        return KS_EXIT_BAD_INPUT;
    }
    if (a->verbose > 2)
        a->verbose = 2;
    return 0;
}

/* The test metrics of the refit model beside those of the trial's best checkpoint. */
static ks_status compare_on_test(ks_db *db, const ks_study *st, const ks_trial_info *t,
                                 ks_model *m, const ks_data *test, ks_error *err)
{
    ks_logs refit, trial;
    unsigned char *blob = NULL;
    size_t len = 0;
    int epoch = 0;
    ks_model *best = NULL;
    ks_error ignored;
    char what[160], why[600];
    ks_status s;
    /* Keras's evaluate batch size, as `ksearch evaluate` takes it: the same numbers */
    if ((s = ks_model_evaluate(m, test, 32, 0, NULL, 0, &refit, err)) != KS_OK)
        return s;
    print_logs("test (refit)", &refit);
    /* a checkpoint that is not there (or not readable) leaves the comparison out */
    if (ks_db_checkpoint_get(db, t->id, KS_CHECKPOINT_BEST, &blob, &len, &epoch, &ignored) !=
            KS_OK ||
        ks_model_load_buffer(blob, len, "the trial's best checkpoint", &best, NULL, &ignored) !=
            KS_OK) {
        if (!blob && ks_study_retain_why(st, t->status, t->budget, why, sizeof why))
            printf("test (trial %d): its best checkpoint was dropped (%s)\n", t->number, why);
        else
            printf("test (trial %d): its best checkpoint is not in study.db\n", t->number);
        free(blob);
        return KS_OK;
    }
    free(blob);
    s = ks_model_evaluate(best, test, 32, 0, NULL, 0, &trial, err);
    ks_model_free(best);
    if (s != KS_OK)
        return s;
    snprintf(what, sizeof what, "test (trial %d, best checkpoint, epoch %d)", t->number, epoch + 1);
    print_logs(what, &trial);
    return KS_OK;
}

int cmd_refit(int argc, char **argv)
{
    refit_args a;
    ks_run_paths paths;
    ks_db *db = NULL;
    ks_study_info info;
    ks_study *st = NULL;
    ks_study_data data;
    ks_trial_info *trials = NULL;
    ks_run_lock *lock = NULL;
    ks_model *m = NULL;
    const ks_trial_info *t = NULL;
    char path[1200], what[1200];
    int n = 0, idx = -1, stage = 0, rc = parse(argc, argv, &a);
    ks_error err;
    ks_status s;
    if (rc)
        return rc < 0 ? KS_EXIT_OK : rc;
    if (a.threads > 0)
        ks_blas_set_threads(a.threads);
    memset(&info, 0, sizeof info);
    memset(&data, 0, sizeof data);
    ks_error_clear(&err);
    /* the trial is chosen (or refused) before anything is written or loaded; the run's
       lock is taken, as fit takes it, before its data are read */
    snprintf(what, sizeof what, "ksearch refit %s", a.rundir);
    if ((s = ks_run_paths_for_arg(a.rundir, &paths, &err)) != KS_OK ||
        (s = ks_db_open(paths.db, KS_DB_READONLY, &db, &err)) != KS_OK ||
        (s = ks_study_from_db(db, paths.db, NULL, &info, &st, &err)) != KS_OK ||
        (s = ks_db_trials(db, info.id, &trials, &n, &err)) != KS_OK ||
        (s = ks_refit_pick(trials, n, info.maximize, info.metric, a.number, &idx, &err)) !=
            KS_OK ||
        (!a.out_path &&
         (s = ks_run_refit_path(&paths, trials[idx].number, path, sizeof path, &err)) != KS_OK) ||
        (s = ks_run_lock_acquire(&paths, what, &lock, &err)) != KS_OK ||
        (s = ks_study_load_data(st, &data, &err)) != KS_OK)
        goto done;
    t = &trials[idx];
    {
        ks_data tr = ks_dataset_data(data.train), va;
        size_t rows = tr.n;
        if (data.val) {
            va = ks_dataset_data(data.val);
            rows += va.n;
        }
        printf("refit of trial %d of study %s: %s, seed %llu\n"
               "%d epoch%s (its best %s, %.4f, was at epoch %d) on %zu rows (training + "
               "validation)\n",
               t->number, info.name, t->params ? t->params : "{}", (unsigned long long)t->seed,
               t->best_epoch + 1, t->best_epoch ? "s" : "", info.metric, t->objective,
               t->best_epoch + 1, rows);
        fflush(stdout);
    }
    {
        ks_refit_options o = {a.verbose, NULL, -1};
        stage = 1;
        if ((s = ks_study_refit(st, &data, t, &o, &m, &err)) != KS_OK)
            goto done;
        stage = 2;
    }
    if (data.test) {
        ks_data te = ks_dataset_data(data.test);
        if ((s = compare_on_test(db, st, t, m, &te, &err)) != KS_OK)
            goto done;
    } else {
        printf("no test data (data.test) to compare the refit model and the trial on\n");
    }
    if (!a.out_path) {
        if (cli_mkdirs(paths.refit, &err) != 0) {
            s = err.code;
            goto done;
        }
        a.out_path = path;
    }
    if ((s = ks_model_save(m, a.out_path, KS_SAVE_OPTIMIZER, t->best_epoch + 1, &err)) == KS_OK)
        printf("saved %s\n", a.out_path);
done:
    for (int i = 0; i < n; i++)
        ks_trial_info_free(&trials[i]);
    free(trials);
    ks_model_free(m);
    ks_study_data_free(&data);
    ks_study_free(st);
    ks_study_info_free(&info);
    ks_db_close(db);
    ks_run_lock_release(lock);
    if (s == KS_OK)
        return KS_EXIT_OK;
    cli_error(&err);
    /* before training, whatever is wrong is wrong with the input (the run, the trial, the
       data); in training, as fit maps it (a model that does not fit its data: bad input,
       a NaN loss: failed); after it (evaluating, saving): failed */
    if (stage == 0)
        return s == KS_ERR_NOMEM ? KS_EXIT_FAILED : KS_EXIT_BAD_INPUT;
    if (stage == 1 && cli_exit_for(s) != KS_EXIT_OK)
        return cli_exit_for(s);
    return KS_EXIT_FAILED;
}
