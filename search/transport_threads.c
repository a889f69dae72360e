/*
 * transport_threads.c — the controller's workers as threads of this process: each
 * waits for a request in its mailbox and trains it (and, with a pruner, for its verdicts
 * there); every recorder pushes into one bounded queue that the controller drains.  One
 * BLAS thread per worker: the workers are the parallelism; the data is loaded once and
 * shared read-only.
 */
#include "controller_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct mailbox {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    ks_trial_request req;
    int has, quit;
    int verdict, v_trial, v_epoch, v_prune;     /* the pruner's verdict, if verdict */
} mailbox;

typedef struct threads {
    const ctl_trainer *w;
    ks_record_queue *queue;
    int n, n_init;                      /* threads running; mailboxes made */
    pthread_t *threads;
    mailbox *boxes;
    struct thread_arg {
        struct threads *t;
        int index;
    } *args;
} threads;

static void *worker_main(void *arg)
{
    struct thread_arg *a = arg;
    mailbox *b = &a->t->boxes[a->index];
    for (;;) {
        ks_trial_request req;
        pthread_mutex_lock(&b->lock);
        while (!b->has && !b->quit)
            pthread_cond_wait(&b->cond, &b->lock);
        if (!b->has) {
            pthread_mutex_unlock(&b->lock);
            break;
        }
        req = b->req;
        b->has = 0;
        memset(&b->req, 0, sizeof b->req);
        pthread_mutex_unlock(&b->lock);
        ctl_train(a->t->w, &req);
        ks_trial_request_clear(&req);
    }
    return NULL;
}

static ks_status threads_send(void *user, ks_trial_request *req, ks_error *err)
{
    threads *t = user;
    mailbox *b;
    if (req->slot < 0 || req->slot >= t->n) {
        ks_trial_request_clear(req);
        return ks_error_set(err, KS_ERR_INTERNAL, "no worker %d", req->slot);
    }
    b = &t->boxes[req->slot];
    pthread_mutex_lock(&b->lock);
    if (b->has) {
        pthread_mutex_unlock(&b->lock);
        ks_trial_request_clear(req);
        return ks_error_set(err, KS_ERR_INTERNAL, "worker %d is busy", req->slot);
    }
    b->req = *req;
    b->has = 1;
    b->verdict = 0;     /* one for the last job, which ended without waiting for it */
    req->checkpoint = NULL;
    req->checkpoint_len = 0;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    return KS_OK;
}

static ks_status threads_verdict(void *user, int slot, int trial, int epoch, int prune,
                                 ks_error *err)
{
    threads *t = user;
    mailbox *b;
    if (slot < 0 || slot >= t->n)
        return ks_error_set(err, KS_ERR_INTERNAL, "no worker %d", slot);
    b = &t->boxes[slot];
    pthread_mutex_lock(&b->lock);
    b->verdict = 1;
    b->v_trial = trial;
    b->v_epoch = epoch;
    b->v_prune = prune;
    pthread_cond_signal(&b->cond);
    pthread_mutex_unlock(&b->lock);
    return KS_OK;
}

/* The worker's side: wait for the verdict, looking at the stop flags every 20 ms. */
static int threads_await(void *user, int slot, int trial, int epoch)
{
    threads *t = user;
    mailbox *b = &t->boxes[slot];
    int v = -1;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        struct timespec ts;
        if (b->verdict && b->v_trial == trial && b->v_epoch == epoch) {
            v = b->v_prune;
            b->verdict = 0;
            break;
        }
        if (*t->w->stop || atomic_load(t->w->abort))
            break;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 20 * 1000 * 1000;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&b->cond, &b->lock, &ts);
    }
    pthread_mutex_unlock(&b->lock);
    return v;
}

static ks_status threads_recv(void *user, double timeout, ks_record **out, ks_error *err)
{
    threads *t = user;
    (void)err;
    *out = ks_record_queue_pop(t->queue, timeout);
    return KS_OK;
}

static void threads_finish(void *user)
{
    threads *t = user;
    for (int i = 0; i < t->n; i++) {
        pthread_mutex_lock(&t->boxes[i].lock);
        t->boxes[i].quit = 1;
        pthread_cond_signal(&t->boxes[i].cond);
        pthread_mutex_unlock(&t->boxes[i].lock);
    }
    for (int i = 0; i < t->n; i++)
        pthread_join(t->threads[i], NULL);
    t->n = 0;
}

void ctl_threads_free(ctl_transport *tp)
{
    threads *t = tp ? tp->user : NULL;
    if (!t)
        return;
    if (t->n > 0)
        threads_finish(t);
    ks_record_queue_free(t->queue);
    for (int i = 0; i < t->n_init; i++) {
        pthread_mutex_destroy(&t->boxes[i].lock);
        pthread_cond_destroy(&t->boxes[i].cond);
    }
    free(t->threads);
    free(t->boxes);
    free(t->args);
    free(t);
    tp->user = NULL;
}

ks_status ctl_threads_new(ctl_trainer *w, int parallel, ctl_transport *out, ks_error *err)
{
    threads *t = calloc(1, sizeof *t);
    ks_status s;
    memset(out, 0, sizeof *out);
    if (!t)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    t->w = w;
    t->threads = calloc((size_t)parallel, sizeof *t->threads);
    t->boxes = calloc((size_t)parallel, sizeof *t->boxes);
    t->args = calloc((size_t)parallel, sizeof *t->args);
    /* a few records in flight per worker: a writer that falls behind slows training */
    if (!t->threads || !t->boxes || !t->args ||
        (s = ks_record_queue_new(8 * parallel + 16, &t->queue, err)) != KS_OK) {
        free(t->threads);
        free(t->boxes);
        free(t->args);
        free(t);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    w->sink = ks_record_queue_sink(t->queue);
    w->await_verdict = threads_await;
    w->verdict_user = t;
    out->user = t;
    out->send = threads_send;
    out->verdict = threads_verdict;
    out->recv = threads_recv;
    out->finish = threads_finish;
    /* one BLAS thread per worker */
    ks_blas_set_threads(1);
    for (int i = 0; i < parallel; i++) {
        pthread_mutex_init(&t->boxes[i].lock, NULL);
        pthread_cond_init(&t->boxes[i].cond, NULL);
        t->n_init++;
        t->args[i].t = t;
        t->args[i].index = i;
        if (pthread_create(&t->threads[i], NULL, worker_main, &t->args[i]) != 0)
            break;
        t->n++;
    }
    out->slots = t->n;
    if (t->n == 0) {
        ctl_threads_free(out);
        return ks_error_set(err, KS_ERR_INTERNAL, "cannot start worker threads");
    }
    return KS_OK;
}
