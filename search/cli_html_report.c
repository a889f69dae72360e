/*
 * cli_html_report.c — `ksearch report RUNDIR [-o FILE]`: the study at a glance, one
 * self-contained HTML file (tracker/report_html.c).  RUNDIR is runs/NAME or its
 * study.db; the database is only read, so a report may be made while the study runs.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            "  -o FILE         where to write it [RUNDIR/" KS_RUN_REPORT_NAME "]\n"
            "  --study NAME    which study of the database [its first]\n"
            "  --seed N        seed of the importance forest [%llu]\n"
            "  --trees N       trees of the importance forest [%d]\n",
            (unsigned long long)d.seed, d.n_trees);
}

int cmd_report(int argc, char **argv)
{
    ks_report_html_options o = ks_report_html_options_default();
    const char *rundir = NULL, *out = NULL;
    ks_run_paths paths;
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
    /* RUNDIR/study.db and RUNDIR/report.html, or, when RUNDIR is the database file, its
       folder's report.html */
    if ((s = ks_run_paths_for_arg(rundir, &paths, &err)) == KS_OK)
        s = ks_report_html_file(paths.db, &o, out ? out : paths.report, &err);
    if (s != KS_OK) {
        cli_error(&err);
        return cli_exit_for(s);
    }
    printf("wrote %s\n", out ? out : paths.report);
    return KS_EXIT_OK;
}
