/*
 * cli_export.c — `ksearch export MODEL.ksm --onnx OUT.onnx`: a model file or an
 * ensemble file as a standard ONNX model (opset 13) for ONNX runtimes; and
 * `ksearch export RUNDIR TRIAL -o MODEL.ksm [--onnx OUT.onnx]`: one trial's best
 * checkpoint, from the run's study.db, as a model file and/or as ONNX.
 */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void export_usage(FILE *f)
{
    fprintf(f,
            "usage: ksearch export MODEL.ksm --onnx OUT.onnx\n"
            "       ksearch export RUNDIR TRIAL [-o MODEL.ksm] [--onnx OUT.onnx]\n\n"
            "Writes a model file or an ensemble file as an ONNX model (opset %d, IR version\n"
            "%d): input \"input\" float [N, input shape], output \"output\" float [N, outputs].\n"
            "The input scaling the model was trained with (e.g. 255) is not part of the\n"
            "graph: divide the inputs by it, as `ksearch predict` does; the file records it\n"
            "in its metadata as input_scale.\n\n"
            "With RUNDIR TRIAL: trial TRIAL's best checkpoint (the model at the epoch of its\n"
            "best objective, as the study keeps it in RUNDIR/study.db): -o writes it as a\n"
            "model file (as stored, optimizer state included: `ksearch predict`, `evaluate`\n"
            "and `fit --from` take it), --onnx as ONNX; one of them at least.\n\n"
            "options:\n"
            "  --onnx FILE      the ONNX file to write\n"
            "  -o FILE.ksm      the model file to write (with RUNDIR TRIAL)\n"
            "  -h, --help       this help\n",
            KS_ONNX_OPSET, KS_ONNX_IR_VERSION);
}

typedef struct export_args {
    const char *in;             /* MODEL.ksm, or RUNDIR */
    const char *trial;          /* TRIAL (with RUNDIR), or NULL */
    const char *onnx, *ksm;
} export_args;

/* Returns 0 to go on, else an exit status (−1: help was asked for). */
static int parse(int argc, char **argv, export_args *a)
{
    const char *why = NULL;
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            export_usage(stdout);
            return -1;
        }
        if (strcmp(argv[i], "--onnx") == 0 && i + 1 < argc) {
            a->onnx = argv[++i];
        } else if (strncmp(argv[i], "--onnx=", 7) == 0 && argv[i][7]) {
            a->onnx = argv[i] + 7;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            a->ksm = argv[++i];
        } else if (argv[i][0] == '-' || a->trial) {
            fprintf(stderr, "ksearch export: unexpected argument \"%s\"\n", argv[i]);
            export_usage(stderr);
            return KS_EXIT_BAD_INPUT;
        } else if (!a->in) {
            a->in = argv[i];
        } else {
            a->trial = argv[i];
        }
    }
    if (!a->in)
        why = "a model file, or a run directory and a trial number, is required";
    else if (!a->trial && a->ksm)
        why = "-o is for a trial's checkpoint (ksearch export RUNDIR TRIAL -o FILE.ksm)";
    else if (!a->trial && !a->onnx)
        why = "--onnx OUT.onnx is required";
    else if (a->trial && !a->onnx && !a->ksm)
        why = "-o FILE.ksm or --onnx OUT.onnx (or both) is required";
    if (why) {
        fprintf(stderr, "ksearch export: %s\n", why);
        export_usage(stderr);
        return KS_EXIT_BAD_INPUT;
    }
    return 0;
}

/* A run directory or a study database rather than a model file. */
static int looks_like_run(const char *path)
{
    struct stat sb;
    size_t len = strlen(path);
    return (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) ||
           (len > 3 && strcmp(path + len - 3, ".db") == 0);
}

/* MODEL.ksm (a model or an ensemble) → ONNX. */
static int export_file(const export_args *a)
{
    ks_model *m = NULL;
    ks_ensemble *e = NULL;
    ks_error err;
    ks_status s;
    ks_file_kind kind;
    ks_error_clear(&err);
    kind = ks_file_kind_of(a->in);
    if (kind == KS_FILE_OTHER) {
        FILE *f = fopen(a->in, "rb");
        if (!f) {
            fprintf(stderr, "%s: cannot open the model file: %s\n", a->in, strerror(errno));
        } else {
            fclose(f);
            fprintf(stderr, "%s: not a ksearch model or ensemble file (no .ksm magic)%s\n",
                    a->in, looks_like_run(a->in) ? "; for a trial of a study's run: ksearch "
                                                   "export RUNDIR TRIAL -o FILE.ksm"
                                                 : "");
        }
        return KS_EXIT_BAD_INPUT;
    }
    if (kind == KS_FILE_ENSEMBLE) {
        if ((s = ks_ensemble_load(a->in, &e, &err)) == KS_OK)
            s = ks_ensemble_export_onnx(e, a->onnx, &err);
    } else {
        if ((s = ks_model_load(a->in, &m, NULL, &err)) == KS_OK)
            s = ks_model_export_onnx(m, a->onnx, &err);
    }
    if (s != KS_OK) {
        cli_error(&err);
        ks_ensemble_free(e);
        ks_model_free(m);
        return cli_exit_for(s) == KS_EXIT_OK ? KS_EXIT_FAILED : cli_exit_for(s);
    }
    {
        const ks_model *m0 = e ? ks_ensemble_member(e, 0) : m;
        char in[64], out[64];
        printf("wrote %s: ONNX opset %d, %s%s, output %s\n", a->onnx, KS_ONNX_OPSET,
               e ? "an ensemble, input " : "input ",
               ks_shape_str(ks_model_input_shape(m0), in, sizeof in),
               ks_shape_str(ks_model_output_shape(m0), out, sizeof out));
    }
    ks_ensemble_free(e);
    ks_model_free(m);
    return KS_EXIT_OK;
}

/* Trial number's row of the study in db (its first), into *t; info: the study's. */
static ks_status find_trial(ks_db *db, int number, ks_study_info *info, ks_trial_info *t,
                            ks_error *err)
{
    ks_trial_info *rows = NULL;
    int n = 0, found = -1;
    ks_status s;
    memset(t, 0, sizeof *t);
    if ((s = ks_db_study_find(db, NULL, info, err)) != KS_OK ||
        (s = ks_db_trials(db, info->id, &rows, &n, err)) != KS_OK)
        return s;
    for (int i = 0; i < n; i++) {
        if (rows[i].number == number && found < 0) {
            found = i;
            *t = rows[i];       /* taken over */
            continue;
        }
        ks_trial_info_free(&rows[i]);
    }
    if (found < 0)
        s = n ? ks_error_set(err, KS_ERR_USAGE, "trial %d: no such trial; the study's are %d to %d",
                             number, rows[0].number, rows[n - 1].number)
              : ks_error_set(err, KS_ERR_USAGE, "trial %d: the study has no trials", number);
    else if (t->best_epoch < 0 || !isfinite(t->objective))
        s = ks_error_set(err, KS_ERR_USAGE,
                         "trial %d (%s) has no best checkpoint: it recorded no %s value", number,
                         ks_trial_status_name(t->status), info->metric);
    free(rows);
    return s;
}

/* Trial t has no best checkpoint: when the study's retention dropped it, err says so. */
static void explain_dropped(ks_db *db, const char *db_path, const ks_trial_info *t,
                            ks_error *err)
{
    ks_study_info info;
    ks_study *st = NULL;
    ks_error ignored;
    char why[600];
    if (ks_study_from_db(db, db_path, NULL, &info, &st, &ignored) != KS_OK)
        return;
    if (ks_study_retain_why(st, t->status, t->budget, why, sizeof why))
        ks_error_set_at(err, KS_ERR_CONFIG, db_path, 0, 0,
                        "trial %d (%s): its best checkpoint was dropped (%s)", t->number,
                        ks_trial_status_name(t->status), why);
    ks_study_free(st);
    ks_study_info_free(&info);
}

/* RUNDIR TRIAL → its best checkpoint as a model file and/or ONNX; nothing is written
   unless everything asked for can be. */
static int export_trial(const export_args *a)
{
    ks_run_paths paths;
    ks_db *db = NULL;
    ks_study_info info;
    ks_trial_info t;
    ks_model *m = NULL;
    unsigned char *blob = NULL, *onnx = NULL;
    size_t len = 0, onnx_len = 0;
    int epoch = 0, number;
    char name[96], *end;
    ks_error err;
    ks_status s;
    long v = strtol(a->trial, &end, 10);
    if (*end || end == a->trial || v < 0 || v > 1000000000) {
        fprintf(stderr, "ksearch export: TRIAL must be a trial number (a whole number >= 0), "
                        "got \"%s\"\n",
                a->trial);
        return KS_EXIT_BAD_INPUT;
    }
    number = (int)v;
    memset(&info, 0, sizeof info);
    memset(&t, 0, sizeof t);
    ks_error_clear(&err);
    snprintf(name, sizeof name, "trial %d's best checkpoint", number);
    if ((s = ks_run_paths_for_arg(a->in, &paths, &err)) == KS_OK &&
        (s = ks_db_open(paths.db, KS_DB_READONLY, &db, &err)) == KS_OK &&
        (s = find_trial(db, number, &info, &t, &err)) == KS_OK &&
        (s = ks_db_checkpoint_get(db, t.id, KS_CHECKPOINT_BEST, &blob, &len, &epoch, &err)) ==
            KS_OK &&
        (s = ks_model_load_buffer(blob, len, name, &m, NULL, &err)) == KS_OK && a->onnx)
        s = ks_model_export_onnx_buffer(m, &onnx, &onnx_len, &err);
    if (s == KS_ERR_CONFIG && t.id && !blob)
        explain_dropped(db, paths.db, &t, &err);    /* the trial is there, its checkpoint not */
    /* the checkpoint as stored (checked above): the same bytes as the study's */
    if (s == KS_OK && a->ksm && (s = ks_write_file_atomic(a->ksm, blob, len, &err)) == KS_OK)
        printf("wrote %s: trial %d's best checkpoint (epoch %d, %s %.4f; the trial is %s)\n",
               a->ksm, number, epoch + 1, info.metric, t.objective,
               ks_trial_status_name(t.status));
    if (s == KS_OK && a->onnx && (s = ks_write_file_atomic(a->onnx, onnx, onnx_len, &err)) == KS_OK) {
        char in[64], out[64];
        printf("wrote %s: ONNX opset %d of trial %d's best checkpoint, input %s, output %s\n",
               a->onnx, KS_ONNX_OPSET, number,
               ks_shape_str(ks_model_input_shape(m), in, sizeof in),
               ks_shape_str(ks_model_output_shape(m), out, sizeof out));
    }
    free(blob);
    free(onnx);
    ks_model_free(m);
    ks_trial_info_free(&t);
    ks_study_info_free(&info);
    ks_db_close(db);
    if (s == KS_OK)
        return KS_EXIT_OK;
    cli_error(&err);
    /* reading a run back: what is wrong is wrong with the input, unless writing failed */
    return s == KS_ERR_NOMEM || (s == KS_ERR_IO && db && t.id) ? KS_EXIT_FAILED
                                                               : KS_EXIT_BAD_INPUT;
}

int cmd_export(int argc, char **argv)
{
    export_args a;
    int r = parse(argc, argv, &a);
    if (r)
        return r < 0 ? KS_EXIT_OK : r;
    return a.trial ? export_trial(&a) : export_file(&a);
}
