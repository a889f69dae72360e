/*
 * record_queue.c — a bounded queue of records between threads: the recorders of worker
 * threads push, the one writer pops.  A full queue makes pushers wait (back-pressure);
 * a failed writer makes every later push but an END return its failure.
 */
#include "tracker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct ks_record_queue {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    ks_record **ring;
    int max, head, count;
    int closed;
    ks_status failure;
    ks_error err;
};

ks_status ks_record_queue_new(int max, ks_record_queue **out, ks_error *err)
{
    ks_record_queue *q = calloc(1, sizeof *q);
    *out = NULL;
    if (max < 1)
        max = 1;
    if (!q || !(q->ring = calloc((size_t)max, sizeof *q->ring))) {
        free(q);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    q->max = max;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->not_empty, NULL);
    pthread_cond_init(&q->not_full, NULL);
    *out = q;
    return KS_OK;
}

void ks_record_queue_free(ks_record_queue *q)
{
    if (!q)
        return;
    for (int i = 0; i < q->count; i++)
        ks_record_free(q->ring[(q->head + i) % q->max]);
    free(q->ring);
    pthread_mutex_destroy(&q->lock);
    pthread_cond_destroy(&q->not_empty);
    pthread_cond_destroy(&q->not_full);
    free(q);
}

static ks_status queue_push(void *user, ks_record *r, ks_error *err)
{
    ks_record_queue *q = user;
    ks_status s = KS_OK;
    if (!r)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory for a record");
    pthread_mutex_lock(&q->lock);
    /* an END record still goes in after a failure: the writer learns that the fit ended */
    while ((!q->failure || r->kind == KS_RECORD_END) && !q->closed && q->count == q->max)
        pthread_cond_wait(&q->not_full, &q->lock);
    if (q->failure && r->kind != KS_RECORD_END) {
        s = q->failure;
        if (err)
            *err = q->err;
    } else if (q->closed) {
        s = ks_error_set(err, KS_ERR_INTERNAL, "a record pushed after the writer closed");
    } else {
        q->ring[(q->head + q->count) % q->max] = r;
        q->count++;
        r = NULL;
        pthread_cond_signal(&q->not_empty);
    }
    pthread_mutex_unlock(&q->lock);
    ks_record_free(r);
    return s;
}

ks_record_sink ks_record_queue_sink(ks_record_queue *q)
{
    ks_record_sink s = {queue_push, q};
    return s;
}

ks_record *ks_record_queue_pop(ks_record_queue *q, double timeout)
{
    ks_record *r = NULL;
    struct timespec until;
    if (timeout >= 0) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += (time_t)timeout;
        until.tv_nsec += (long)((timeout - (double)(time_t)timeout) * 1e9);
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
    }
    pthread_mutex_lock(&q->lock);
    while (q->count == 0 && !q->closed) {
        if (timeout < 0)
            pthread_cond_wait(&q->not_empty, &q->lock);
        else if (pthread_cond_timedwait(&q->not_empty, &q->lock, &until) == ETIMEDOUT)
            break;
    }
    if (q->count > 0) {
        r = q->ring[q->head];
        q->head = (q->head + 1) % q->max;
        q->count--;
        pthread_cond_signal(&q->not_full);
    }
    pthread_mutex_unlock(&q->lock);
    return r;
}

void ks_record_queue_close(ks_record_queue *q)
{
    pthread_mutex_lock(&q->lock);
    q->closed = 1;
    pthread_cond_broadcast(&q->not_empty);
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}

void ks_record_queue_fail(ks_record_queue *q, ks_status s, const ks_error *err)
{
    pthread_mutex_lock(&q->lock);
    if (!q->failure) {
        q->failure = s ? s : KS_ERR_INTERNAL;
        if (err)
            q->err = *err;
        else
            ks_error_set(&q->err, q->failure, "the writer failed");
    }
    pthread_cond_broadcast(&q->not_full);
    pthread_mutex_unlock(&q->lock);
}
