/*
 * cli_html_report.c — `ksearch report RUNDIR [-o FILE]`: the study at a glance, one
 * self-contained HTML file (tracker/report_html.c).  RUNDIR is runs/NAME or its
 * study.db; the database is only read, so a report may be made while the study runs.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPORT_FILE_NAME "report.html"

static void usage(FILE *f)
{
    ks_report_html_options d = ks_report_html_options_default();
    fprintf(f,
            "usage: ksearch report RUNDIR [-o FILE] [--study NAME] [--seed N] [--trees N]\n\n"
            "One self-contained HTML file that shows a study at a glance: the study,\n"
            "optimization history, parallel coordinates, parameter importance (fANOVA),\n"
            "slices and a contour, learning curves, the workers' timeline, the trials and the\n"
            "ensembles.  It opens in any browser, offline.  RUNDIR is runs/NAME (or its\n"
            "study.db); the database is only read, so this is safe while the study runs.\n\n"
            "options:\n"
            "  -o FILE         where to write it [RUNDIR/" REPORT_FILE_NAME "]\n"
            "  --study NAME    which study of the database [its first]\n"
            "  --seed N        seed of the importance forest [%llu]\n"
            "  --trees N       trees of the importance forest [%d]\n",
            (unsigned long long)d.seed, d.n_trees);
}

/* The database and the default report of RUNDIR: RUNDIR/study.db and
   RUNDIR/report.html, or, when RUNDIR is the database file, its folder's report.html. */
static int run_files(const char *rundir, char *db, size_t db_size, char *out, size_t out_size)
{
    struct stat st;
    int n;
    if (stat(rundir, &st) == 0 && S_ISREG(st.st_mode)) {
        const char *slash = strrchr(rundir, '/');
        n = snprintf(db, db_size, "%s", rundir);
        if (slash)
            snprintf(out, out_size, "%.*s/" REPORT_FILE_NAME, (int)(slash - rundir), rundir);
        else
            snprintf(out, out_size, REPORT_FILE_NAME);
    } else {
        n = snprintf(db, db_size, "%s/study.db", rundir);
        snprintf(out, out_size, "%s/" REPORT_FILE_NAME, rundir);
    }
    return n > 0 && (size_t)n < db_size && strlen(out) + 1 < out_size;
}

int cmd_report(int argc, char **argv)
{
    ks_report_html_options o = ks_report_html_options_default();
    const char *rundir = NULL, *out = NULL;
    char db[1100], def_out[1100];
    ks_error err;
    ks_status s;
    ks_error_clear(&err);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int seed = 0, r;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return KS_EXIT_OK;
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(a, "--study") == 0 && i + 1 < argc) {
            o.study = argv[++i];
        } else if ((r = cli_int_option(argc, argv, &i, "--seed", &seed, &err)) != 0 ||
                   (r = cli_int_option(argc, argv, &i, "--trees", &o.n_trees, &err)) != 0) {
            if (r < 0) {
                cli_error(&err);
                return KS_EXIT_BAD_INPUT;
            }
            if (strncmp(a, "--seed", 6) == 0)
                o.seed = (uint64_t)seed;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "ksearch report: unknown option \"%s\"\n", a);
            usage(stderr);
            return KS_EXIT_BAD_INPUT;
        } else if (!rundir) {
            rundir = a;
        } else {
            fprintf(stderr, "ksearch report: unexpected argument \"%s\"\n", a);
            usage(stderr);
            return KS_EXIT_BAD_INPUT;
        }
    }
    if (!rundir) {
        usage(stderr);
        return KS_EXIT_BAD_INPUT;
    }
    if (o.n_trees < 1 || o.n_trees > 10000) {
        fprintf(stderr, "ksearch report: --trees must be 1 to 10000, got %d\n", o.n_trees);
        return KS_EXIT_BAD_INPUT;
    }
    if (!run_files(rundir, db, sizeof db, def_out, sizeof def_out)) {
        fprintf(stderr, "ksearch report: the path \"%.80s...\" is too long\n", rundir);
        return KS_EXIT_BAD_INPUT;
    }
    s = ks_report_html_file(db, &o, out ? out : def_out, &err);
    if (s != KS_OK) {
        cli_error(&err);
        return s == KS_ERR_NOMEM || s == KS_ERR_INTERNAL ? KS_EXIT_FAILED : KS_EXIT_BAD_INPUT;
    }
    printf("wrote %s\n", out ? out : def_out);
    return KS_EXIT_OK;
}
