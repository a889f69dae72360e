/*
 * transport_mpi.c — the controller's workers as MPI ranks (`make MPI=1`, then `mpirun -np
 * N ksearch STUDY.yaml`): rank 0 is the controller; every other rank trains one request
 * at a time and sends its records back in their wire form.  Before any trial, every rank
 * tells rank 0 what data it loaded (sizes and a CRC-32).  A plain build only notices that
 * a launcher started it, and says that it cannot take part.
 */
#include "controller_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* The processes a launcher says the job has (Open MPI, Slurm, PMIx): 1 when none. */
static int launcher_size(void)
{
    static const char *const vars[] = {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE", NULL};
    for (int i = 0; vars[i]; i++) {
        const char *v = getenv(vars[i]);
        if (v && atoi(v) > 1)
            return atoi(v);
    }
    return 1;
}

#ifndef KS_MPI

ks_status ks_mpi_begin(int *rank, int *size, ks_error *err)
{
    int n = launcher_size();
    *rank = 0;
    *size = 1;
    if (n > 1)
        return ks_error_set(err, KS_ERR_USAGE,
                            "started as one of %d processes (mpirun or srun), but this ksearch "
                            "was built without MPI: build it with make MPI=1, or run it alone "
                            "with --parallel N",
                            n);
    return KS_OK;
}

void ks_mpi_end(int failed)
{
    (void)failed;
}

int ctl_mpi_rank(void)
{
    return 0;
}

int ctl_mpi_size(void)
{
    return 1;
}

ks_status ctl_mpi_check_data(const ks_study_data *data, ks_status own, const ks_error *own_err,
                             ks_error *err)
{
    (void)data;
    if (own != KS_OK && err && own_err)
        *err = *own_err;
    return own;
}

ks_status ctl_mpi_new(int parallel, ctl_transport *out, ks_error *err)
{
    (void)parallel;
    memset(out, 0, sizeof *out);
    return ks_error_set(err, KS_ERR_INTERNAL, "this ksearch was built without MPI");
}

void ctl_mpi_free(ctl_transport *t)
{
    (void)t;
}

void ctl_mpi_release(void)
{
}

ks_status ctl_mpi_send_record(ks_record *r, ks_error *err)
{
    ks_record_free(r);
    return ks_error_set(err, KS_ERR_INTERNAL, "this ksearch was built without MPI");
}

ks_status ctl_mpi_flush(ks_error *err)
{
    (void)err;
    return KS_OK;
}

ks_status ctl_mpi_serve(ctl_trainer *w, int parallel, ks_error *err)
{
    (void)w;
    (void)parallel;
    return ks_error_set(err, KS_ERR_INTERNAL, "this ksearch was built without MPI");
}

#else /* KS_MPI */

#include <mpi.h>

/* rank 0 to workers: a request, quit (the run ended), stop (end your fits now), a
   pruner's verdict; workers to rank 0: a record */
enum { TAG_REQUEST = 1, TAG_QUIT, TAG_RECORD, TAG_STOP, TAG_VERDICT };

static int world_rank, world_size = 1, joined;
static int per_rank = 1;        /* worker threads on each worker rank (--parallel) */
/* rank 0: every rank's host and process (from the data check), and those lost */
static struct rank_info {
    char host[64];
    int pid, lost;
} *rank_info;

ks_status ks_mpi_begin(int *rank, int *size, ks_error *err)
{
    int provided = 0;
    *rank = 0;
    *size = 1;
    if (launcher_size() <= 1)
        return KS_OK;       /* not under a launcher: exactly the plain build */
    /* no single-copy reads between processes on one host (Linux CMA): a rank killed
       while rank 0 reads its checkpoint that way leaves rank 0 stuck in the read, unable
       to record the loss (the user's own setting wins) */
    setenv("OMPI_MCA_btl_vader_single_copy_mechanism", "none", 0);
    /* one thread calls MPI: the controller's on rank 0, the training one elsewhere */
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return ks_error_set(err, KS_ERR_USAGE, "MPI could not start this process (MPI_Init)");
    joined = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &world_size);
    *rank = world_rank;
    *size = world_size;
    return KS_OK;
}

/* 1 while process pid of this host runs (not gone, not a zombie waiting to be reaped). */
static int process_runs(int pid)
{
    char path[64], state = 0;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (!(f = fopen(path, "r")))
        return 0;
    if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1)
        state = 0;
    fclose(f);
    return state && state != 'Z' && state != 'X';
}

/*
 * Rank 0 leaving with a failure status: mpirun then ends every process of the job still
 * there (SIGTERM, SIGKILL a second later).  The worker ranks are past MPI_Finalize and
 * leaving by themselves, but on a loaded host that can take longer than mpirun waits, and
 * a worker killed on its way out looks like one that failed.  So rank 0 waits (at most
 * 10 s) until those on its own host have gone; others it cannot see.
 */
static void wait_local_workers(void)
{
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    for (int i = 1; rank_info && i < world_size; i++) {
        if (rank_info[i].lost || strcmp(rank_info[i].host, host) != 0)
            continue;
        for (int k = 0; k < 1000 && process_runs(rank_info[i].pid); k++)
            usleep(10000);
    }
}

void ks_mpi_end(int failed)
{
    if (joined) {
        MPI_Finalize();
        if (failed && world_rank == 0)
            wait_local_workers();
    }
    joined = 0;
    free(rank_info);
    rank_info = NULL;
}

int ctl_mpi_rank(void)
{
    return world_rank;
}

int ctl_mpi_size(void)
{
    return world_size;
}

/* ------------------------------------------------------------ the data check */

/* What a rank loaded: its status, the data's sizes and CRC-32, its host. */
typedef struct data_report {
    int32_t status, pid;
    uint32_t crc;
    uint64_t n[3];
    char host[64];
    char msg[400];
} data_report;

static uint32_t crc_floats(uint32_t crc, const float *p, size_t n)
{
    return p ? ks_crc32_update(crc, (const unsigned char *)p, n * sizeof *p) : crc;
}

static void describe(const ks_study_data *data, data_report *r)
{
    ks_dataset *sets[3] = {data->train, data->val, data->test};
    uint32_t crc = (uint32_t)crc32(0L, Z_NULL, 0);
    for (int i = 0; i < 3; i++) {
        ks_data d;
        if (!sets[i])
            continue;
        d = ks_dataset_data(sets[i]);
        r->n[i] = d.n;
        crc = crc_floats(crc, d.x, d.n * d.x_size);
        crc = crc_floats(crc, d.y, d.n * d.y_size);
        crc = crc_floats(crc, d.w, d.w ? d.n : 0);
    }
    r->crc = crc;
}

ks_status ctl_mpi_check_data(const ks_study_data *data, ks_status own, const ks_error *own_err,
                             ks_error *err)
{
    data_report mine, *all = NULL;
    int verdict = 0, bad = -1;
    memset(&mine, 0, sizeof mine);
    mine.status = own;
    mine.pid = (int32_t)getpid();
    gethostname(mine.host, sizeof mine.host - 1);
    if (own == KS_OK)
        describe(data, &mine);
    else
        ks_error_format(own_err, mine.msg, sizeof mine.msg);
    if (world_rank == 0 && !(all = calloc((size_t)world_size, sizeof *all)))
        MPI_Abort(MPI_COMM_WORLD, 1);   /* out of memory at the start: nothing to keep */
    if (MPI_Gather(&mine, sizeof mine, MPI_BYTE, all, sizeof mine, MPI_BYTE, 0,
                   MPI_COMM_WORLD) != MPI_SUCCESS) {
        free(all);
        return ks_error_set(err, KS_ERR_IO, "the ranks could not exchange their data checks");
    }
    if (world_rank == 0) {
        free(rank_info);
        if ((rank_info = calloc((size_t)world_size, sizeof *rank_info)))
            for (int i = 0; i < world_size; i++) {
                memcpy(rank_info[i].host, all[i].host, sizeof rank_info[i].host);
                rank_info[i].pid = all[i].pid;
            }
        for (int i = 0; i < world_size && bad < 0; i++)
            if (all[i].status != KS_OK || all[i].crc != all[0].crc ||
                memcmp(all[i].n, all[0].n, sizeof all[0].n) != 0)
                bad = i;
        verdict = bad >= 0;
        if (bad == 0)
            *err = *own_err;
        else if (bad > 0 && all[bad].status != KS_OK)
            ks_error_set(err, KS_ERR_CONFIG, "rank %d on %s cannot load the study's data: %s",
                         bad, all[bad].host, all[bad].msg);
        else if (bad > 0)
            ks_error_set(err, KS_ERR_CONFIG,
                         "rank %d on %s loaded other data than rank 0 on %s (train/validation/"
                         "test rows %llu/%llu/%llu, CRC-32 %08x, against %llu/%llu/%llu, "
                         "%08x): every rank must read the same files",
                         bad, all[bad].host, all[0].host, (unsigned long long)all[bad].n[0],
                         (unsigned long long)all[bad].n[1], (unsigned long long)all[bad].n[2],
                         (unsigned)all[bad].crc, (unsigned long long)all[0].n[0],
                         (unsigned long long)all[0].n[1], (unsigned long long)all[0].n[2],
                         (unsigned)all[0].crc);
        free(all);
    }
    MPI_Bcast(&verdict, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!verdict)
        return KS_OK;
    if (world_rank == 0)
        return err->code ? err->code : KS_ERR_CONFIG;
    /* rank 0 says what is wrong and exits with its status; the others end quietly (a
       rank that exits with an error first would have mpirun kill rank 0 before it spoke) */
    return ks_error_set(err, KS_STOPPED, "rank 0 ends the job");
}

/* ------------------------------------------------------------ rank 0 */

typedef struct ranks {
    int n;                      /* worker ranks: 1 … n */
    /* the records being received: a rank that dies half-way through sending leaves its
       unfinished, and rank 0 must stay free to take the others' and to notice (never a
       blocking receive) */
    struct incoming {
        MPI_Request req;
        unsigned char *buf;
        int len;
    } *in;                      /* per rank: one record at a time keeps each rank's order */
    int next;                   /* the rank looked at first (fairness) */
    /* the requests and verdicts on their way: sent without waiting, as the records are
       received (a rank that died never takes what it was sent, and rank 0 must go on to
       notice the stop and record that rank's trial before the launcher's SIGKILL) */
    struct sending {
        MPI_Request req;
        unsigned char *buf;
    } *out;
    int n_out, cap_out;
} ranks;

/* The sends that completed: their buffers freed. */
static void reap_sends(ranks *t)
{
    int kept = 0;
    for (int i = 0; i < t->n_out; i++) {
        int done = 0;
        if (MPI_Test(&t->out[i].req, &done, MPI_STATUS_IGNORE) == MPI_SUCCESS && done)
            free(t->out[i].buf);
        else
            t->out[kept++] = t->out[i];
    }
    t->n_out = kept;
}

/* Send a message's wire form (len ≤ INT32_MAX; owned from here on) to a worker rank. */
static ks_status send_to_rank(ranks *t, unsigned char *buf, size_t len, int rank, int tag,
                              ks_error *err)
{
    struct sending *o;
    reap_sends(t);
    if (t->n_out == t->cap_out) {
        int cap = t->cap_out ? 2 * t->cap_out : 8;
        struct sending *grown = realloc(t->out, (size_t)cap * sizeof *grown);
        if (!grown) {
            free(buf);
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        }
        t->out = grown;
        t->cap_out = cap;
    }
    o = &t->out[t->n_out];
    if (MPI_Isend(buf, (int)len, MPI_BYTE, rank, tag, MPI_COMM_WORLD, &o->req) != MPI_SUCCESS) {
        free(buf);
        return ks_error_set(err, KS_ERR_IO, "rank %d does not answer: it ended or its host is "
                                            "gone",
                            rank);
    }
    o->buf = buf;
    t->n_out++;
    return KS_OK;
}

static ks_status mpi_send(void *user, ks_trial_request *req, ks_error *err)
{
    ranks *t = user;
    unsigned char *buf = NULL;
    size_t len = 0;
    ks_status s;
    int rank = 1 + req->slot / per_rank;
    if (req->slot < 0 || req->slot >= t->n * per_rank) {
        ks_trial_request_clear(req);
        return ks_error_set(err, KS_ERR_INTERNAL, "no worker %d", req->slot);
    }
    s = ks_trial_request_encode(req, &buf, &len, err);
    ks_trial_request_clear(req);
    if (s != KS_OK)
        return s;
    if (len > INT32_MAX) {
        free(buf);
        return ks_error_set(err, KS_ERR_USAGE, "a checkpoint of %zu bytes is too large for MPI",
                            len);
    }
    return send_to_rank(t, buf, len, rank, TAG_REQUEST, err);
}

/* A pruner's verdict to the worker rank of slot (a small message: sent at once). */
static ks_status mpi_verdict(void *user, int slot, int trial, int epoch, int prune,
                             ks_error *err)
{
    ranks *t = user;
    ks_verdict v = {trial, slot, epoch, prune};
    unsigned char *buf = NULL;
    size_t len = 0;
    ks_status s;
    int rank = 1 + slot / per_rank;
    if (slot < 0 || slot >= t->n * per_rank)
        return ks_error_set(err, KS_ERR_INTERNAL, "no worker %d", slot);
    if ((s = ks_verdict_encode(&v, &buf, &len, err)) != KS_OK)
        return s;
    return send_to_rank(t, buf, len, rank, TAG_VERDICT, err);
}

/* Start receiving rank r's next record if one waits; 1 when its receive is complete. */
static int poll_rank(ranks *t, int r, ks_error *err, ks_status *s)
{
    struct incoming *in = &t->in[r];
    int done = 0;
    if (in->req == MPI_REQUEST_NULL) {
        MPI_Status st;
        int flag = 0;
        if (MPI_Iprobe(r, TAG_RECORD, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS || !flag)
            return 0;
        MPI_Get_count(&st, MPI_BYTE, &in->len);
        if (!(in->buf = malloc(in->len > 0 ? (size_t)in->len : 1))) {
            *s = ks_error_set(err, KS_ERR_NOMEM, "out of memory for a record");
            return 0;
        }
        if (MPI_Irecv(in->buf, in->len, MPI_BYTE, r, TAG_RECORD, MPI_COMM_WORLD, &in->req) !=
            MPI_SUCCESS) {
            free(in->buf);
            in->buf = NULL;
            return 0;
        }
    }
    if (MPI_Test(&in->req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return 0;
    return done;
}

static ks_status mpi_recv(void *user, double timeout, ks_record **out, ks_error *err)
{
    ranks *t = user;
    double t0 = MPI_Wtime();
    ks_status s = KS_OK;
    *out = NULL;
    for (;;) {
        for (int k = 0; k < t->n; k++) {
            int r = 1 + (t->next + k) % t->n;
            struct incoming *in = &t->in[r];
            if (!poll_rank(t, r, err, &s)) {
                if (s != KS_OK)
                    return s;
                continue;
            }
            t->next = r % t->n;
            s = ks_record_decode(in->buf, (size_t)in->len, out, err);
            free(in->buf);
            in->buf = NULL;
            if (s != KS_OK)
                return s;
            /* the slot: the sending rank's, and its thread (bounded by the rank's count) */
            if ((*out)->worker < 0 || (*out)->worker >= per_rank) {
                int w = (*out)->worker;
                ks_record_free(*out);
                *out = NULL;
                return ks_error_set(err, KS_ERR_CORRUPT, "rank %d sent a record of worker %d "
                                                         "(it has %d)",
                                    r, w, per_rank);
            }
            (*out)->worker += (r - 1) * per_rank;
            return KS_OK;
        }
        reap_sends(t);
        if (MPI_Wtime() - t0 >= timeout)
            return KS_OK;
        usleep(200);
    }
}

static int released;
/* the buffers of sends to ranks that died (ctl_mpi_free) */
static struct sending *stranded;

void ctl_mpi_release(void)
{
    if (!joined || world_rank != 0 || released)
        return;
    for (int i = 1; i < world_size; i++)
        if (!rank_info || !rank_info[i].lost)
            MPI_Send(NULL, 0, MPI_BYTE, i, TAG_QUIT, MPI_COMM_WORLD);
    released = 1;
}

/* The study stops: every worker rank still there ends its fits at the next batch. */
static void mpi_stop(void *user)
{
    (void)user;
    /* never waiting: a rank that died (why a launcher stops the job) may never take it,
       and rank 0 must go on to record its trial before the launcher's SIGKILL */
    for (int i = 1; i < world_size; i++) {
        MPI_Request req;
        if ((!rank_info || !rank_info[i].lost) &&
            MPI_Isend(NULL, 0, MPI_BYTE, i, TAG_STOP, MPI_COMM_WORLD, &req) == MPI_SUCCESS)
            MPI_Request_free(&req);
    }
}

/* A worker rank that did not answer the stop: named, and sent nothing more. */
static void mpi_lost(void *user, int slot, char *name, size_t size)
{
    int rank = 1 + slot / per_rank;
    (void)user;
    if (rank_info && rank < world_size) {
        rank_info[rank].lost = 1;
        snprintf(name, size, "rank %d on %s (pid %d)", rank, rank_info[rank].host,
                 rank_info[rank].pid);
    } else {
        snprintf(name, size, "rank %d", rank);
    }
}

static void mpi_finish(void *user)
{
    (void)user;
    ctl_mpi_release();
}

ks_status ctl_mpi_new(int parallel, ctl_transport *out, ks_error *err)
{
    ranks *t = calloc(1, sizeof *t);
    memset(out, 0, sizeof *out);
    if (!t)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    per_rank = parallel;
    t->n = world_size - 1;
    if (!(t->in = calloc((size_t)world_size, sizeof *t->in))) {
        free(t);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < world_size; i++)
        t->in[i].req = MPI_REQUEST_NULL;
    /* one BLAS thread, as a threaded run: the ensemble at the end sums in the same order */
    ks_blas_set_threads(1);
    out->slots = t->n * per_rank;
    out->send = mpi_send;
    out->recv = mpi_recv;
    out->verdict = mpi_verdict;
    out->finish = mpi_finish;
    /* a rank that died: mpirun sends SIGTERM to the others and SIGKILL a second later
       (odls_base_sigkill_timeout): the living answer at their next batch */
    out->stop_grace = 0.3;
    out->lost = mpi_lost;
    out->stop = mpi_stop;
    out->user = t;
    return KS_OK;
}

void ctl_mpi_free(ctl_transport *tp)
{
    ranks *t = tp ? tp->user : NULL;
    if (t) {
        /* records never finished (their rank died): the requests are dropped */
        for (int i = 0; t->in && i < world_size; i++)
            free(t->in[i].buf);
        free(t->in);
        /* a send still on its way went to a rank that died: MPI may read its buffer until
           the process ends, so the buffers stay where they are (reachable from stranded) */
        reap_sends(t);
        for (int i = 0; i < t->n_out; i++)
            MPI_Request_free(&t->out[i].req);
        if (t->n_out > 0 && !stranded)
            stranded = t->out;
        else
            free(t->out);
        free(tp->user);
        tp->user = NULL;
    }
}

/* ------------------------------------------------------------ ranks > 0 */

/*
 * Records in flight from a worker rank: sent without waiting (rank 0 may be committing
 * another rank's epoch), at most IN_FLIGHT per worker thread at once, like the threads'
 * bounded queue: a rank 0 that falls behind slows training instead of filling memory.
 */
#define IN_FLIGHT 8
static struct outgoing {
    MPI_Request req;
    unsigned char *buf;
} out_q[IN_FLIGHT * KS_MAX_PARALLEL];
static int n_out;

/* Complete the sends that are done (all of them with wait); 0 if one failed. */
static int complete_sends(int wait)
{
    int ok = 1, k = 0;
    for (int i = 0; i < n_out; i++) {
        int done = 1;
        if (wait ? MPI_Wait(&out_q[i].req, MPI_STATUS_IGNORE) != MPI_SUCCESS
                 : MPI_Test(&out_q[i].req, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
            ok = 0;
            done = 1;
        }
        if (done)
            free(out_q[i].buf);
        else
            out_q[k++] = out_q[i];
    }
    n_out = k;
    return ok;
}

ks_status ctl_mpi_send_record(ks_record *r, ks_error *err)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    ks_status s = ks_record_encode(r, &buf, &len, err);
    ks_record_free(r);
    if (s != KS_OK)
        return s;
    if (!complete_sends(0) || (n_out == IN_FLIGHT * per_rank && !complete_sends(1)) ||
        len > INT32_MAX ||
        MPI_Isend(buf, (int)len, MPI_BYTE, 0, TAG_RECORD, MPI_COMM_WORLD, &out_q[n_out].req) !=
            MPI_SUCCESS) {
        free(buf);
        return ks_error_set(err, KS_ERR_IO, "rank %d cannot send its records to rank 0",
                            world_rank);
    }
    out_q[n_out++].buf = buf;
    return KS_OK;
}

ks_status ctl_mpi_flush(ks_error *err)
{
    if (!complete_sends(1))
        return ks_error_set(err, KS_ERR_IO, "rank %d cannot send its records to rank 0",
                            world_rank);
    return KS_OK;
}

/* Take rank 0's next message if one came: 1 a request (in *req), 2 quit, 3 stop, 4 a
   verdict (in *v), 0 none, −1 an error (err). */
static int take_message(ks_trial_request *req, ks_verdict *v, ks_error *err)
{
    MPI_Status st;
    int flag = 0, len = 0;
    unsigned char *buf;
    ks_status s;
    if (MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS) {
        ks_error_set(err, KS_ERR_IO, "rank 0 ended");
        return -1;
    }
    if (!flag)
        return 0;
    MPI_Get_count(&st, MPI_BYTE, &len);
    if (!(buf = malloc(len > 0 ? (size_t)len : 1))) {
        ks_error_set(err, KS_ERR_NOMEM, "out of memory for a request");
        return -1;
    }
    MPI_Recv(buf, len, MPI_BYTE, 0, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (st.MPI_TAG == TAG_QUIT || st.MPI_TAG == TAG_STOP) {
        free(buf);
        return st.MPI_TAG == TAG_QUIT ? 2 : 3;
    }
    if (st.MPI_TAG == TAG_VERDICT) {
        s = ks_verdict_decode(buf, (size_t)len, v, err);
        free(buf);
        return s == KS_OK ? 4 : -1;
    }
    if (st.MPI_TAG != TAG_REQUEST) {
        free(buf);
        ks_error_set(err, KS_ERR_INTERNAL, "a message of tag %d from rank 0", st.MPI_TAG);
        return -1;
    }
    s = ks_trial_request_decode(buf, (size_t)len, req, err);
    free(buf);
    return s == KS_OK ? 1 : -1;
}

ks_status ctl_mpi_serve(ctl_trainer *w, int parallel, ks_error *err)
{
    static atomic_int stopped;
    ctl_transport tp;
    ks_status s = KS_OK;
    int quit = 0;
    per_rank = parallel;
    /* rank 0 stopping the study (its stop message) ends this rank's fits at the next
       batch, as the controller's flag ends its threads' */
    atomic_init(&stopped, 0);
    w->abort = &stopped;
    /* this rank's worker threads; this (the main) thread alone speaks MPI: it hands
       rank 0's requests to them and forwards their records */
    if ((s = ctl_threads_new(w, parallel, &tp, err)) != KS_OK)
        return s;
    while (s == KS_OK && !quit) {
        ks_trial_request req;
        ks_verdict v;
        ks_record *r = NULL;
        int m = take_message(&req, &v, err);
        if (m < 0) {
            s = err->code ? err->code : KS_ERR_IO;
        } else if (m == 2) {
            quit = 1;
        } else if (m == 3) {
            atomic_store(&stopped, 1);
        } else if (m == 1) {
            int slot = req.slot - (world_rank - 1) * per_rank;
            if (slot < 0 || slot >= per_rank) {
                ks_trial_request_clear(&req);
                s = ks_error_set(err, KS_ERR_INTERNAL, "a request for worker %d", req.slot);
                break;
            }
            req.slot = slot;
            s = tp.send(tp.user, &req, err);
        } else if (m == 4) {
            /* to the worker thread that waits for it */
            int slot = v.slot - (world_rank - 1) * per_rank;
            if (slot < 0 || slot >= per_rank) {
                s = ks_error_set(err, KS_ERR_INTERNAL, "a verdict for worker %d", v.slot);
                break;
            }
            s = tp.verdict(tp.user, slot, v.trial, v.epoch, v.prune, err);
        }
        /* the threads' records, as they come (a short wait: requests come meanwhile) */
        while (s == KS_OK && tp.recv(tp.user, m == 0 ? 0.002 : 0, &r, err) == KS_OK && r) {
            s = ctl_mpi_send_record(r, err);
            m = 1;
        }
        complete_sends(0);
    }
    /* rank 0 quits once every job ended: the threads are idle */
    tp.finish(tp.user);
    ctl_threads_free(&tp);
    if (s == KS_OK)
        s = ctl_mpi_flush(err);
    else
        complete_sends(1);
    return s;
}

#endif /* KS_MPI */
