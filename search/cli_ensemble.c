/*
 * cli_ensemble.c — `ksearch ensemble RUNDIR|STUDY.yaml [--top K] [--weights M] [-o FILE]`:
 * a weighted ensemble of a study's best trials, on demand.  With RUNDIR the study file
 * is the one kept in RUNDIR/study.db, and its relative data paths are read from the
 * folder of the study file when it ran (kept in study.db too).
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ensemble_usage(FILE *f)
{
    fprintf(f,
            "usage: ksearch ensemble RUNDIR|STUDY.yaml [options]\n\n"
            "Combines the study's top-K complete trials (their best checkpoints) into a\n"
            "weighted ensemble, weights fitted on the validation data; reports validation\n"
            "and test metrics beside the best single trial's, stores every ensemble in\n"
            "study.db and saves the best one (lowest validation loss) as one file.\n"
            "With RUNDIR, relative data paths of its study file are read from the folder the\n"
            "study file was in when it ran, as the study read them.\n\n"
            "options:\n"
            "  --top K          members [the study's ensemble.top, or 5]\n"
            "  --weights M      uniform, random, nelder-mead, greedy, a comma-separated list,\n"
            "                   or all [the study's ensemble.weights, or nelder-mead]\n"
            "  --average A      arithmetic or geometric (mean of probabilities) [arithmetic]\n"
            "  --output NAME    the output of multi-output models to combine\n"
            "                   [the study's ensemble.output, or the first]\n"
            "  -o FILE          where to save the ensemble [RUNDIR/ensembles/best.ksm]\n");
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* The study of a run directory, from the study file its database keeps. */
static ks_status study_of_rundir(const ks_run_paths *paths, ks_study **out, ks_error *err)
{
    ks_db *db = NULL;
    ks_study_info info;
    ks_status s;
    if ((s = ks_db_open(paths->db, KS_DB_READONLY, &db, err)) != KS_OK)
        return s;
    if ((s = ks_study_from_db(db, paths->db, NULL, &info, out, err)) == KS_OK)
        ks_study_info_free(&info);
    ks_db_close(db);
    return s;
}

int cmd_ensemble(int argc, char **argv)
{
    const char *target = NULL, *weights = NULL, *average = NULL, *out_path = NULL,
               *output = NULL;
    int top = 0;
    ks_study *st = NULL;
    ks_run_paths paths;
    ks_run_lock *lock = NULL;
    ks_study_data data;
    ks_ensemble_request req;
    ks_error err;
    ks_status s;
    memset(&data, 0, sizeof data);
    ks_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            ensemble_usage(stdout);
            return KS_EXIT_OK;
        }
        if ((r = cli_int_option(argc, argv, &i, "--top", &top, &err)) != 0) {
            if (r < 0 || top < 1 || top > 1000) {
                if (r > 0)
                    ks_error_set(&err, KS_ERR_USAGE, "--top must be 1 to 1000");
                cli_error(&err);
                return KS_EXIT_BAD_INPUT;
            }
            continue;
        }
        if (strcmp(argv[i], "--weights") == 0 && i + 1 < argc) {
            weights = argv[++i];
        } else if (strcmp(argv[i], "--average") == 0 && i + 1 < argc) {
            average = argv[++i];
        } else if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
            output = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out_path = argv[++i];
        } else if (argv[i][0] == '-' || target) {
            fprintf(stderr, "ksearch ensemble: unexpected argument \"%s\"\n", argv[i]);
            ensemble_usage(stderr);
            return KS_EXIT_BAD_INPUT;
        } else {
            target = argv[i];
        }
    }
    if (!target) {
        ensemble_usage(stderr);
        return KS_EXIT_BAD_INPUT;
    }
    if (ends_with(target, ".yaml") || ends_with(target, ".yml")) {
        if ((s = ks_study_load(target, &st, &err)) == KS_OK)
            s = ks_study_run_paths(st, &paths, &err);
    } else if ((s = ks_run_paths_for_arg(target, &paths, &err)) == KS_OK) {
        s = study_of_rundir(&paths, &st, &err);
    }
    /* the ensemble is written into the run (study.db, ensembles/): under its lock */
    if (s == KS_OK) {
        char what[1100];
        snprintf(what, sizeof what, "ksearch ensemble %s", target);
        s = ks_run_lock_acquire(&paths, what, &lock, &err);
    }
    if (s == KS_OK)
        s = ks_study_ensemble_request(st, &req, &err);
    if (s == KS_OK) {
        if (req.top == 0) {
            req.top = 5;
            req.methods = 1u << KS_WEIGHTS_NELDER_MEAD;
        }
        if (top)
            req.top = top;
        if (output)
            snprintf(req.output, sizeof req.output, "%s", output);
        if (average) {
            if (strcmp(average, "arithmetic") == 0)
                req.average = KS_ENSEMBLE_ARITHMETIC;
            else if (strcmp(average, "geometric") == 0)
                req.average = KS_ENSEMBLE_GEOMETRIC;
            else
                s = ks_error_set(&err, KS_ERR_USAGE,
                                 "--average: expected arithmetic or geometric, got \"%s\"",
                                 average);
        }
        if (s == KS_OK && weights) {
            char buf[256], *save = NULL;
            req.methods = 0;
            snprintf(buf, sizeof buf, "%s", weights);
            for (char *tok = strtok_r(buf, ",", &save); s == KS_OK && tok;
                 tok = strtok_r(NULL, ",", &save)) {
                int m = ks_weights_method_find(tok);
                if (strcmp(tok, "all") == 0)
                    req.methods |= (1u << KS_WEIGHTS_COUNT) - 1;
                else if (m >= 0)
                    req.methods |= 1u << m;
                else
                    s = ks_error_set(&err, KS_ERR_USAGE,
                                     "--weights: \"%s\" is not uniform, random, nelder-mead, "
                                     "greedy or all",
                                     tok);
            }
        }
        req.out_path = out_path;
        req.run = &paths;
    }
    if (s == KS_OK && (s = ks_study_load_data(st, &data, &err)) == KS_OK)
        s = ks_study_ensemble(st, &data, &req, &err);
    ks_study_data_free(&data);
    ks_study_free(st);
    ks_run_lock_release(lock);
    if (s == KS_OK)
        return KS_EXIT_OK;
    cli_error(&err);
    return cli_exit_for(s) == KS_EXIT_OK ? KS_EXIT_FAILED : cli_exit_for(s);
}
