/*
 * cli_report.c — reading a study back from the command line: `ksearch ls`,
 * `show`, `compare` (tables, --json, --csv) and `ksearch tensorboard` (rewrite the
 * TensorBoard logs from study.db).  RUNDIR is runs/NAME or the study.db file itself.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct report_args {
    const char *rundir;
    const char *study;          /* --study NAME, or NULL: the file's study */
    ks_report_format fmt;
    int numbers[64];
    int n_numbers;
    ks_ls_filter filter;        /* ls: --status, --top */
} report_args;

static void report_usage(FILE *f, const char *cmd)
{
    if (strcmp(cmd, "ls") == 0)
        fprintf(f, "usage: ksearch ls RUNDIR [--status LIST] [--top K] [--json | --csv]\n"
                   "                  [--study NAME]\n\n"
                   "A row per trial, best first: number, status, objective, epochs, duration,\n"
                   "parameters.  RUNDIR is runs/NAME (or its study.db).\n\n"
                   "options:\n"
                   "  --status LIST   only trials of these statuses, comma-separated: queued,\n"
                   "                  running, complete, pruned, failed, interrupted [all]\n"
                   "  --top K         only the first K rows (after --status) [all]\n"
                   "  --json, --csv   rows as JSON or CSV [a table]\n"
                   "  --study NAME    the study of that name in the file [its first]\n");
    else if (strcmp(cmd, "show") == 0)
        fprintf(f, "usage: ksearch show RUNDIR TRIAL [--json | --csv] [--study NAME]\n\n"
                   "One trial: parameters, metrics per epoch, best epoch, checkpoints.\n");
    else if (strcmp(cmd, "compare") == 0)
        fprintf(f, "usage: ksearch compare RUNDIR T1 T2 ... [--json | --csv] [--study NAME]\n\n"
                   "The trials' metrics side by side, per epoch.\n");
    else
        fprintf(f, "usage: ksearch tensorboard RUNDIR [--logdir DIR] [--study NAME]\n\n"
                   "Rewrites every TensorBoard log of the study from study.db alone\n"
                   "[DIR: RUNDIR/tensorboard].  Then: tensorboard --logdir DIR\n");
}

/* --status LIST into a bit per status; -1 with a message for a name that is none. */
static int parse_statuses(const char *list, unsigned *bits)
{
    char buf[256], *save = NULL;
    const char *names[KS_TRIAL_STATUS_COUNT + 1];
    for (int k = 0; k < KS_TRIAL_STATUS_COUNT; k++)
        names[k] = ks_trial_status_name((ks_trial_status)k);
    names[KS_TRIAL_STATUS_COUNT] = NULL;
    snprintf(buf, sizeof buf, "%s", list);
    *bits = 0;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int k = ks_trial_status_find(tok);
        const char *near;
        if (k >= 0) {
            *bits |= 1u << k;
            continue;
        }
        near = ks_nearest_name(tok, names);
        fprintf(stderr, "ksearch ls: --status: unknown trial status \"%s\"%s%s%s; expected "
                        "queued, running, complete, pruned, failed or interrupted\n",
                tok, near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
        return -1;
    }
    if (!*bits) {
        fprintf(stderr, "ksearch ls: --status needs one or more statuses, e.g. "
                        "--status complete,pruned\n");
        return -1;
    }
    return 0;
}

/* Parse the shared arguments; numbers: how many trial numbers the command takes
   (0, 1, or -1 for one or more).  Returns 0 to go on, else an exit status (−1: help). */
static int parse(int argc, char **argv, const char *cmd, int numbers, report_args *a,
                 const char **logdir)
{
    memset(a, 0, sizeof *a);
    a->fmt = KS_REPORT_TEXT;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            report_usage(stdout, cmd);
            return -1;
        } else if (strcmp(arg, "--json") == 0 && numbers >= -1 && !logdir) {
            a->fmt = KS_REPORT_JSON;
        } else if (strcmp(arg, "--csv") == 0 && !logdir) {
            a->fmt = KS_REPORT_CSV;
        } else if (strcmp(arg, "--study") == 0 && i + 1 < argc) {
            a->study = argv[++i];
        } else if (strcmp(cmd, "ls") == 0 && strncmp(arg, "--status", 8) == 0 &&
                   (arg[8] == '=' || (arg[8] == '\0' && i + 1 < argc))) {
            if (parse_statuses(arg[8] == '=' ? arg + 9 : argv[++i], &a->filter.statuses) != 0)
                return KS_EXIT_BAD_INPUT;
        } else if (strcmp(cmd, "ls") == 0 && strncmp(arg, "--top", 5) == 0 &&
                   (arg[5] == '=' || arg[5] == '\0')) {
            ks_error err;
            int r = cli_int_option(argc, argv, &i, "--top", &a->filter.top, &err);
            if (r > 0 && a->filter.top < 1) {
                fprintf(stderr, "ksearch ls: --top must be 1 or more, got %d\n", a->filter.top);
                return KS_EXIT_BAD_INPUT;
            }
            if (r < 0) {
                fprintf(stderr, "ksearch ls: %s\n", err.msg);
                return KS_EXIT_BAD_INPUT;
            }
        } else if (logdir && strcmp(arg, "--logdir") == 0 && i + 1 < argc) {
            *logdir = argv[++i];
        } else if (arg[0] == '-' && arg[1] != '\0' && !(arg[1] >= '0' && arg[1] <= '9')) {
            fprintf(stderr, "ksearch %s: unknown option \"%s\"\n", cmd, arg);
            report_usage(stderr, cmd);
            return KS_EXIT_BAD_INPUT;
        } else if (!a->rundir) {
            a->rundir = arg;
        } else {
            char *end;
            long v = strtol(arg, &end, 10);
            if (numbers == 0 || *end || end == arg || v < 0 || v > 1000000000 ||
                (numbers == 1 && a->n_numbers == 1) || a->n_numbers == 64) {
                fprintf(stderr, "ksearch %s: unexpected argument \"%s\"%s\n", cmd, arg,
                        numbers ? " (trial numbers are whole numbers >= 0)" : "");
                report_usage(stderr, cmd);
                return KS_EXIT_BAD_INPUT;
            }
            a->numbers[a->n_numbers++] = (int)v;
        }
    }
    if (!a->rundir || (numbers != 0 && a->n_numbers == 0)) {
        report_usage(stderr, cmd);
        return KS_EXIT_BAD_INPUT;
    }
    return 0;
}

static int run_report(int argc, char **argv, const char *cmd, int numbers)
{
    report_args a;
    ks_db *db = NULL;
    ks_error err;
    ks_status s;
    ks_run_paths paths;
    int r = parse(argc, argv, cmd, numbers, &a, NULL);
    if (r)
        return r < 0 ? KS_EXIT_OK : r;
    ks_error_clear(&err);
    if ((s = ks_run_paths_for_arg(a.rundir, &paths, &err)) == KS_OK &&
        (s = ks_db_open(paths.db, KS_DB_READONLY, &db, &err)) == KS_OK) {
        if (strcmp(cmd, "ls") == 0)
            s = ks_report_ls_filtered(db, a.study, &a.filter, a.fmt, stdout, &err);
        else if (strcmp(cmd, "show") == 0)
            s = ks_report_show(db, a.study, a.numbers[0], a.fmt, stdout, &err);
        else
            s = ks_report_compare(db, a.study, a.numbers, a.n_numbers, a.fmt, stdout, &err);
    }
    ks_db_close(db);
    if (s != KS_OK) {
        cli_error(&err);
        /* reading back: whatever is wrong is wrong with the input */
        return s == KS_ERR_NOMEM ? KS_EXIT_FAILED : KS_EXIT_BAD_INPUT;
    }
    return KS_EXIT_OK;
}

int cmd_ls(int argc, char **argv)
{
    return run_report(argc, argv, "ls", 0);
}

int cmd_show(int argc, char **argv)
{
    return run_report(argc, argv, "show", 1);
}

int cmd_compare(int argc, char **argv)
{
    return run_report(argc, argv, "compare", -1);
}

int cmd_tensorboard(int argc, char **argv)
{
    report_args a;
    const char *logdir = NULL;
    ks_run_paths paths;
    ks_run_lock *lock = NULL;
    ks_db *db = NULL;
    ks_error err;
    ks_status s;
    int r = parse(argc, argv, "tensorboard", 0, &a, &logdir);
    if (r)
        return r < 0 ? KS_EXIT_OK : r;
    ks_error_clear(&err);
    /* the rewrite replaces the run's event files: under the run's lock, so that it does not
       meet a study writing them */
    if ((s = ks_run_paths_for_arg(a.rundir, &paths, &err)) == KS_OK &&
        (s = ks_db_open(paths.db, KS_DB_READONLY, &db, &err)) == KS_OK &&
        (s = ks_run_lock_acquire(&paths, "ksearch tensorboard", &lock, &err)) == KS_OK)
        s = ks_tb_rewrite(db, a.study, logdir ? logdir : paths.tensorboard, &err);
    ks_db_close(db);
    ks_run_lock_release(lock);
    if (s != KS_OK) {
        cli_error(&err);
        return cli_exit_for(s) == KS_EXIT_OK ? KS_EXIT_FAILED : cli_exit_for(s);
    }
    if (!logdir)
        logdir = paths.tensorboard;
    printf("wrote the TensorBoard logs to %s\nview them with: tensorboard --logdir %s\n", logdir,
           logdir);
    return KS_EXIT_OK;
}
