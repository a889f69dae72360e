/*
 * bench_rank0.c — what one controller sustains (`make MPI=1 bench-rank0`, driven by
 * bench/rank0.sh): under `mpirun -np N+1`, rank 0 is the controller's receiving and
 * committing path alone (the MPI transport's receive, then a committer per worker into
 * study.db and TensorBoard, as ctl_take_record does), and ranks 1 … N are simulated
 * workers that send the seed MLP's epoch records as fast as they can, the way a worker
 * rank sends (ctl_mpi_send_record: a few in flight, never waiting otherwise): its logs,
 * weight histograms and a checkpoint as the policy says.  Rank 0 prints the epoch
 * reports per second and checkpoint MB per second it committed.
 *   bench_rank0 DIR [--seconds S] [--every K] [--histograms 0|1] [--checkpoint-mb M]
 */
#include "../search/controller_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef KS_MPI
#include <mpi.h>

typedef struct bench_opts {
    const char *dir;
    double seconds;             /* each worker sends for this long */
    int every;                  /* a checkpoint every K epochs (0: none) */
    int histograms;             /* weight histograms every epoch */
    double checkpoint_mb;       /* the checkpoint's size */
} bench_opts;

/* The seed MLP's weights (784-300-100-10): their names, for the histogram tags. */
static const char *const weight_names[] = {"dense/kernel",   "dense/bias",   "dense_1/kernel",
                                           "dense_1/bias",   "dense_2/kernel", "dense_2/bias"};
#define N_WEIGHTS 6

static char *sdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* Send r (freed) to rank 0 as a worker rank does. */
static int send_to_root(ks_record *r)
{
    ks_error err;
    if (ctl_mpi_send_record(r, &err) == KS_OK)
        return 1;
    fprintf(stderr, "bench_rank0: %s\n", err.msg);
    return 0;
}

/* A simulated worker: a BEGIN, epochs for o->seconds, an END. */
static int worker(const bench_opts *o, int rank)
{
    size_t ckpt_len = (size_t)(o->checkpoint_mb * 1048576.0);
    unsigned char *ckpt = malloc(ckpt_len ? ckpt_len : 1);
    ks_rng *rng = NULL;
    ks_record *r = ks_record_new(KS_RECORD_BEGIN, rank - 1);
    double t0 = MPI_Wtime();
    int epoch = 0, ok = ckpt && r && ks_rng_new(42, (uint64_t)rank, 0, &rng) == KS_OK;
    /* incompressible bytes, as trained weights are */
    for (size_t i = 0; ok && i < ckpt_len; i++)
        ckpt[i] = (unsigned char)(ks_rng_uniform(rng) * 256.0);
    if (ok) {
        r->histogram_tags = calloc(N_WEIGHTS, sizeof *r->histogram_tags);
        for (int i = 0; r->histogram_tags && i < N_WEIGHTS; i++) {
            char tag[64];
            snprintf(tag, sizeof tag, "%s/histogram", weight_names[i]);
            r->histogram_tags[i] = sdup(tag);
        }
        r->n_weights = r->histogram_tags ? N_WEIGHTS : 0;
        ok = send_to_root(r);
    }
    while (ok && MPI_Wtime() - t0 < o->seconds) {
        double loss = 1.0 / (1.0 + epoch);
        if (!(r = ks_record_new(KS_RECORD_EPOCH, rank - 1)))
            return 0;
        r->epoch = epoch;
        r->step = 1719LL * (epoch + 1);
        ks_logs_set(&r->logs, "loss", loss);
        ks_logs_set(&r->logs, "accuracy", 1.0 - loss / 2);
        ks_logs_set(&r->logs, "val_loss", loss * 1.1);     /* improves every epoch: the */
        ks_logs_set(&r->logs, "val_accuracy", 1.0 - loss / 2); /* best's blob is written */
        ks_logs_set(&r->logs, "learning_rate", 0.01);
        ks_logs_set(&r->logs, KS_METRIC_ITERATIONS, (double)r->step);
        if (o->histograms && (r->histograms = malloc(N_WEIGHTS * KS_HISTOGRAM_BUCKETS * 3 *
                                                     sizeof *r->histograms))) {
            float x[256];
            r->n_weights = N_WEIGHTS;
            for (int k = 0; k < 256; k++)
                x[k] = (float)ks_rng_normal(rng, 1.0);
            for (int i = 0; i < N_WEIGHTS; i++)
                ks_histogram_compute(x, 256, r->histograms + (size_t)i * KS_HISTOGRAM_BUCKETS * 3);
        }
        if (o->every > 0 && (epoch + 1) % o->every == 0 && (r->checkpoint = malloc(ckpt_len + 1))) {
            memcpy(r->checkpoint, ckpt, ckpt_len);
            r->checkpoint[0] = (unsigned char)epoch;    /* each epoch's bytes its own */
            r->checkpoint_len = ckpt_len;
        }
        ok = send_to_root(r);
        epoch++;
    }
    if (ok && (r = ks_record_new(KS_RECORD_END, rank - 1))) {
        ks_error err;
        r->status = KS_TRIAL_COMPLETE;
        ok = send_to_root(r) && ctl_mpi_flush(&err) == KS_OK;
    }
    free(ckpt);
    ks_rng_free(rng);
    return ok;
}

/* Rank 0: commit every worker's records until each sent its END; report the rates. */
static int root(const bench_opts *o, int n_workers)
{
    char path[1200], tb[1200];
    ks_db *db = NULL;
    ks_study_info st;
    ks_committer **com = calloc((size_t)n_workers, sizeof *com);
    ctl_transport tp;
    ks_error err;
    ks_status s;
    int created, ended = 0, epochs = 0;
    double ckpt_bytes = 0, t_first = 0, t_last = 0;
    snprintf(path, sizeof path, "%s/study.db", o->dir);
    snprintf(tb, sizeof tb, "%s/tensorboard", o->dir);
    memset(&st, 0, sizeof st);
    if (!com || (s = ks_mkdirs(o->dir, &err)) != KS_OK ||
        (s = ks_db_open(path, KS_DB_CREATE, &db, &err)) != KS_OK ||
        (s = ks_db_study_open(db, "bench", "name: bench\n", "0", "val_loss", 0, &st, &created,
                              &err)) != KS_OK ||
        (s = ctl_mpi_new(1, &tp, &err)) != KS_OK) {
        fprintf(stderr, "bench_rank0: %s\n", com ? err.msg : "out of memory");
        return 0;
    }
    for (int w = 0; w < n_workers; w++) {
        ks_tracker_options opt;
        char run[64];
        int64_t id;
        memset(&opt, 0, sizeof opt);
        ks_tb_trial_run_name(w, run, sizeof run);
        opt.db = db;
        opt.objective = "val_loss";
        opt.log_dir = tb;
        opt.run_name = run;
        opt.histogram_freq = o->histograms;
        if ((s = ks_db_trial_add(db, st.id, w, "{}", 1, 1000000, &id, &err)) != KS_OK ||
            (s = ks_db_trial_set_status(db, id, KS_TRIAL_RUNNING, NULL, &err)) != KS_OK ||
            (opt.trial_id = id, s = ks_committer_new(&opt, &com[w], &err)) != KS_OK) {
            fprintf(stderr, "bench_rank0: %s\n", err.msg);
            return 0;
        }
    }
    while (ended < n_workers) {
        ks_record *r = NULL;
        if ((s = tp.recv(tp.user, 1.0, &r, &err)) != KS_OK) {
            fprintf(stderr, "bench_rank0: %s\n", err.msg);
            return 0;
        }
        if (!r)
            continue;
        if (t_first == 0)
            t_first = MPI_Wtime();
        if (r->worker < 0 || r->worker >= n_workers) {
            ks_record_free(r);
            continue;
        }
        if (r->kind == KS_RECORD_END) {
            s = ks_committer_end(com[r->worker], KS_TRIAL_COMPLETE, NULL, 1, NULL, &err);
            ended++;
        } else {
            s = ks_committer_put(com[r->worker], r, &err);
            epochs += r->kind == KS_RECORD_EPOCH;
            ckpt_bytes += r->checkpoint ? (double)r->checkpoint_len : 0;
        }
        ks_record_free(r);
        if (s != KS_OK) {
            fprintf(stderr, "bench_rank0: %s\n", err.msg);
            return 0;
        }
        t_last = MPI_Wtime();
    }
    ctl_mpi_release();
    ctl_mpi_free(&tp);
    {
        double t = t_last - t_first;
        /* one line: workers, policy, reports, seconds, reports/s, checkpoint MB/s */
        printf("%d\t%d\t%d\t%.1f\t%d\t%.2f\t%.0f\t%.1f\n", n_workers, o->every, o->histograms,
               o->checkpoint_mb, epochs, t, epochs / t, ckpt_bytes / 1048576.0 / t);
    }
    for (int w = 0; w < n_workers; w++)
        ks_committer_free(com[w]);
    free(com);
    ks_study_info_free(&st);
    ks_db_close(db);
    return 1;
}

int main(int argc, char **argv)
{
    bench_opts o = {NULL, 5.0, 1, 1, 2.0};
    int rank = 0, size = 1, ok;
    ks_error err;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            o.seconds = atof(argv[++i]);
        else if (strcmp(argv[i], "--every") == 0 && i + 1 < argc)
            o.every = atoi(argv[++i]);
        else if (strcmp(argv[i], "--histograms") == 0 && i + 1 < argc)
            o.histograms = atoi(argv[++i]);
        else if (strcmp(argv[i], "--checkpoint-mb") == 0 && i + 1 < argc)
            o.checkpoint_mb = atof(argv[++i]);
        else if (argv[i][0] != '-' && !o.dir)
            o.dir = argv[i];
        else {
            fprintf(stderr, "usage: mpirun -np N+1 bench_rank0 DIR [--seconds S] [--every K] "
                            "[--histograms 0|1] [--checkpoint-mb M]\n");
            return 2;
        }
    }
    if (!o.dir || o.seconds <= 0 || o.every < 0 || o.checkpoint_mb < 0 ||
        o.checkpoint_mb > 1024) {
        fprintf(stderr, "bench_rank0: a folder, --seconds > 0, --every >= 0, --checkpoint-mb "
                        "0 … 1024\n");
        return 2;
    }
    if (ks_mpi_begin(&rank, &size, &err) != KS_OK || size < 2) {
        fprintf(stderr, "bench_rank0: run under mpirun with 2 or more processes%s%s\n",
                err.msg[0] ? ": " : "", err.msg[0] ? err.msg : "");
        ks_mpi_end(0);
        return 2;
    }
    ok = rank == 0 ? root(&o, size - 1) : worker(&o, rank);
    if (!ok)
        MPI_Abort(MPI_COMM_WORLD, 1);
    ks_mpi_end(0);
    return 0;
}

#else

int main(void)
{
    fprintf(stderr, "bench_rank0: build it with make MPI=1 (Open MPI)\n");
    return 2;
}

#endif
