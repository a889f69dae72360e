/*
 * cli_run.c — `ksearch STUDY.yaml [--parallel N] [--fresh | --grow]`: run, resume or
 * grow a study.
 * The first Ctrl-C (or SIGTERM, as Slurm, MPI launchers and container runtimes stop a
 * job) stops cleanly: running trials are recorded as interrupted and resume next time;
 * a second one ends the process at once.
 */
#include "cli.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

/* The one flag a signal handler may set; read by the study's workers. */
static volatile sig_atomic_t interrupted;

static void on_stop_signal(int sig)
{
    interrupted = 1;
    signal(sig, SIG_DFL);       /* a second one ends the process */
}

static void run_usage(FILE *f)
{
    fprintf(f, "usage: ksearch STUDY.yaml [--parallel N] [--fresh | --grow]\n\n"
               "Runs the study (or resumes it: finished trials are kept, interrupted ones\n"
               "continue from their last checkpoint).  Results go to runs/NAME/.\n\n"
               "options:\n"
               "  --parallel N   worker threads [search.parallel]\n"
               "  --fresh        start over: forget the study's trials and logs\n"
               "  --grow         continue a study whose file only grew (ranges widened,\n"
               "                 values added, max_trials or max_epochs raised), keeping\n"
               "                 its trials; anything else changed is refused\n");
}

int cmd_run(int argc, char **argv)
{
    ks_run_options o;
    ks_study *st = NULL;
    ks_error err;
    ks_status s;
    const char *path = NULL;
    int rank = 0, size = 1;
    memset(&o, 0, sizeof o);
    o.tty = -1;
    o.stop = &interrupted;
    ks_error_clear(&err);
    for (int i = 0; i < argc; i++) {
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            run_usage(stdout);
            return KS_EXIT_OK;
        }
        if ((r = cli_int_option(argc, argv, &i, "--parallel", &o.parallel, &err)) != 0) {
            if (r < 0 || o.parallel < 1 || o.parallel > KS_MAX_PARALLEL) {
                if (r > 0)
                    ks_error_set(&err, KS_ERR_USAGE, "--parallel must be 1 to %d",
                                 KS_MAX_PARALLEL);
                cli_error(&err);
                return KS_EXIT_BAD_INPUT;
            }
            continue;
        }
        if (strcmp(argv[i], "--fresh") == 0) {
            o.fresh = 1;
        } else if (strcmp(argv[i], "--grow") == 0) {
            o.grow = 1;
        } else if (argv[i][0] == '-' || path) {
            fprintf(stderr, "ksearch: unexpected argument \"%s\"\n", argv[i]);
            run_usage(stderr);
            return KS_EXIT_BAD_INPUT;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        run_usage(stderr);
        return KS_EXIT_BAD_INPUT;
    }
    if (o.fresh && o.grow) {
        fprintf(stderr, "ksearch: --fresh and --grow do not go together: --fresh starts over, "
                        "--grow keeps the study's trials\n");
        return KS_EXIT_BAD_INPUT;
    }
    /* under mpirun or srun: join the job (rank 0 reports; the others train quietly) */
    if ((s = ks_mpi_begin(&rank, &size, &err)) != KS_OK) {
        cli_error(&err);
        return KS_EXIT_BAD_INPUT;
    }
    if ((s = ks_study_load(path, &st, &err)) != KS_OK) {
        ks_mpi_end(rank == 0);
        if (rank > 0)
            return KS_EXIT_OK;  /* rank 0 reads the same file: it reports, with its status */
        cli_error(&err);
        return cli_exit_for(s) == KS_EXIT_OK ? KS_EXIT_BAD_INPUT : cli_exit_for(s);
    }
    signal(SIGINT, on_stop_signal);
    signal(SIGTERM, on_stop_signal);
    s = ks_study_run(st, &o, &err);
    /* a worker rank keeps its handler to the end: once rank 0 has ended the run with
       status 1 (interrupted), mpirun ends the ranks still leaving with SIGTERM, which then
       only sets the flag of a run already over (the rank exits 0, not 143) */
    if (rank == 0) {
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
    }
    ks_study_free(st);
    /* said before leaving the MPI job: a launcher ending it may not wait for the rest */
    if (s != KS_OK && !(rank > 0 && s == KS_STOPPED)) {
        cli_error(&err);
        fflush(stderr);
    }
    ks_mpi_end(!(s == KS_OK || (rank > 0 && s == KS_STOPPED)));
    if (s == KS_OK || (rank > 0 && s == KS_STOPPED))
        return KS_EXIT_OK;      /* a worker rank that rank 0 stopped: rank 0 reports */
    if (s == KS_INTERRUPTED)
        return KS_EXIT_FAILED;
    /* problems found before any trial ran are bad input; later ones failed a run */
    return cli_exit_for(s) == KS_EXIT_BAD_INPUT ? KS_EXIT_BAD_INPUT : KS_EXIT_FAILED;
}
