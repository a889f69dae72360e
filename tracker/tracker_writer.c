/*
 * tracker_writer.c — one committer on a thread of its own: what `ksearch fit` records
 * through, so that its training thread only builds records while SQLite and TensorBoard
 * writes happen beside it (the study's controller is its own writer thread).
 */
#include "tracker.h"

#include <pthread.h>
#include <stdlib.h>

struct ks_tracker_writer {
    ks_committer *committer;
    ks_record_queue *queue;
    pthread_t thread;
    ks_status failure;          /* the first failure to commit (read after the join) */
    ks_error err;
};

static void *writer_main(void *arg)
{
    ks_tracker_writer *w = arg;
    ks_record *r;
    while ((r = ks_record_queue_pop(w->queue, -1)) != NULL) {
        if (!w->failure && r->kind != KS_RECORD_END) {
            ks_status s = ks_committer_put(w->committer, r, &w->err);
            if (s != KS_OK) {
                w->failure = s;
                ks_record_queue_fail(w->queue, s, &w->err);
            }
        }
        ks_record_free(r);
    }
    return NULL;
}

ks_status ks_tracker_writer_start(ks_committer *c, ks_tracker_writer **out, ks_error *err)
{
    ks_tracker_writer *w = calloc(1, sizeof *w);
    ks_status s;
    *out = NULL;
    if (!w)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    w->committer = c;
    /* a few epochs in flight: a writer that falls behind slows training */
    if ((s = ks_record_queue_new(8, &w->queue, err)) != KS_OK) {
        free(w);
        return s;
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        ks_record_queue_free(w->queue);
        free(w);
        return ks_error_set(err, KS_ERR_INTERNAL, "cannot start the writer thread");
    }
    *out = w;
    return KS_OK;
}

ks_record_sink ks_tracker_writer_sink(ks_tracker_writer *w)
{
    return ks_record_queue_sink(w->queue);
}

ks_status ks_tracker_writer_stop(ks_tracker_writer *w, ks_error *err)
{
    ks_status s;
    if (!w)
        return KS_OK;
    ks_record_queue_close(w->queue);
    pthread_join(w->thread, NULL);
    s = w->failure;
    if (s != KS_OK && err)
        *err = w->err;
    ks_record_queue_free(w->queue);
    free(w);
    return s;
}
