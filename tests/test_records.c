/*
 * test_records.c — the messages across the controller–worker boundary: records (the
 * tracker's) and trial requests (the search module's) survive their wire form field by
 * field; every truncation and every damaged byte is refused, and damage with the
 * checksum fixed up (what a fuzzer gets past it) is refused or read within bounds,
 * never a crash; the record queue keeps order, makes pushers wait when full, and
 * refuses pushes after its writer failed (but an END).
 */
#include "../search/message.h"
#include "check.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static char *sdup(const char *s)
{
    char *d = malloc(strlen(s) + 1);
    if (!d)
        abort();
    return strcpy(d, s);
}

/* A BEGIN with tags, a two-node graph and a summary. */
static ks_record *make_begin(void)
{
    ks_record *r = ks_record_new(KS_RECORD_BEGIN, 7);
    if (!r)
        abort();
    r->worker = 3;
    r->initial_epoch = 4;
    r->n_weights = 2;
    r->histogram_tags = calloc(2, sizeof(char *));
    r->histogram_tags[0] = sdup("dense/kernel/histogram");
    r->histogram_tags[1] = sdup("dense/bias/histogram");
    r->n_nodes = 2;
    r->nodes = calloc(2, sizeof *r->nodes);
    r->nodes[0].name = sdup("input");
    r->nodes[0].op = sdup("InputLayer");
    r->nodes[0].shape.ndim = 1;
    r->nodes[0].shape.dim[0] = 4;
    r->nodes[1].name = sdup("dense");
    r->nodes[1].op = sdup("Dense");
    r->nodes[1].shape.ndim = 1;
    r->nodes[1].shape.dim[0] = 3;
    r->nodes[1].n_inputs = 1;
    r->nodes[1].inputs = calloc(1, sizeof(char *));
    r->nodes[1].inputs[0] = sdup("input");
    r->summary = sdup("| a | b |\n");
    r->n_files = 2;
    r->files = calloc(2, sizeof *r->files);
    r->files[0].name = sdup("projector_config.pbtxt");
    r->files[0].data = (unsigned char *)sdup("embeddings {\n}\n");
    r->files[0].len = strlen((char *)r->files[0].data);
    r->files[1].name = sdup("embeddings/empty.tsv");
    r->files[1].data = NULL;
    r->files[1].len = 0;
    return r;
}

/* An EPOCH with logs, histograms and a checkpoint. */
static ks_record *make_epoch(void)
{
    ks_record *r = ks_record_new(KS_RECORD_EPOCH, 2);
    size_t nh = 2 * KS_HISTOGRAM_BUCKETS * 3;
    if (!r)
        abort();
    r->epoch = 5;
    r->step = 1234567890123LL;
    ks_logs_set(&r->logs, "loss", 0.5);
    ks_logs_set(&r->logs, "val_accuracy", 0.875);
    ks_logs_set(&r->logs, "learning_rate", 1e-3);
    r->n_weights = 2;
    r->histograms = malloc(nh * sizeof(double));
    for (size_t i = 0; i < nh; i++)
        r->histograms[i] = (double)i * 0.5;
    r->checkpoint_len = 3000;
    r->checkpoint = malloc(r->checkpoint_len);
    for (size_t i = 0; i < r->checkpoint_len; i++)
        r->checkpoint[i] = (unsigned char)(i * 7);
    return r;
}

static ks_record *make_end(void)
{
    ks_record *r = ks_record_new(KS_RECORD_END, 9);
    if (!r)
        abort();
    r->status = KS_TRIAL_FAILED;
    r->initial_epoch = 6;
    r->record_failed = 1;
    r->seconds = 12.5;
    r->error = sdup("the loss is NaN at epoch 3");
    return r;
}

static void test_round_trip(void)
{
    ks_record *in[3] = {make_begin(), make_epoch(), make_end()}, *out;
    ks_error err;
    for (int k = 0; k < 3; k++) {
        unsigned char *buf = NULL;
        size_t len = 0;
        REQUIRE(ks_record_encode(in[k], &buf, &len, &err) == KS_OK, "%s", err.msg);
        REQUIRE(ks_record_decode(buf, len, &out, &err) == KS_OK, "kind %d: %s", (int)in[k]->kind,
                err.msg);
        CHECK(out->kind == in[k]->kind && out->trial == in[k]->trial &&
                  out->worker == in[k]->worker && out->wall_time == in[k]->wall_time,
              "the header of kind %d", (int)in[k]->kind);
        free(buf);
        if (k == 0) {
            CHECK(out->initial_epoch == 4 && out->n_weights == 2 &&
                      strcmp(out->histogram_tags[1], "dense/bias/histogram") == 0,
                  "BEGIN's tags");
            CHECK(out->n_nodes == 2 && strcmp(out->nodes[1].op, "Dense") == 0 &&
                      out->nodes[1].n_inputs == 1 && strcmp(out->nodes[1].inputs[0], "input") == 0 &&
                      out->nodes[0].shape.ndim == 1 && out->nodes[0].shape.dim[0] == 4,
                  "BEGIN's graph");
            CHECK(out->summary && strcmp(out->summary, in[0]->summary) == 0, "BEGIN's summary");
            CHECK(out->n_files == 2 && strcmp(out->files[0].name, "projector_config.pbtxt") == 0 &&
                      out->files[0].len == in[0]->files[0].len &&
                      memcmp(out->files[0].data, in[0]->files[0].data, out->files[0].len) == 0 &&
                      strcmp(out->files[1].name, "embeddings/empty.tsv") == 0 &&
                      out->files[1].len == 0,
                  "BEGIN's files");
        } else if (k == 1) {
            double v = 0;
            int same = out->n_weights == 2 && out->histograms != NULL;
            for (size_t i = 0; same && i < 2 * KS_HISTOGRAM_BUCKETS * 3; i++)
                same = out->histograms[i] == in[1]->histograms[i];
            CHECK(out->epoch == 5 && out->step == 1234567890123LL && out->logs.n == 3 &&
                      ks_logs_get(&out->logs, "val_accuracy", &v) && v == 0.875,
                  "EPOCH's logs");
            CHECK(same, "EPOCH's histograms");
            CHECK(out->checkpoint_len == 3000 && out->checkpoint &&
                      memcmp(out->checkpoint, in[1]->checkpoint, 3000) == 0,
                  "EPOCH's checkpoint");
        } else {
            CHECK(out->status == KS_TRIAL_FAILED && out->record_failed == 1 &&
                      out->initial_epoch == 6 &&
                      out->seconds == 12.5 && out->error &&
                      strcmp(out->error, in[2]->error) == 0,
                  "END's fields");
        }
        ks_record_free(out);
    }
    /* an EPOCH without histograms or checkpoint keeps them absent (NULL, not empty) */
    {
        ks_record *r = ks_record_new(KS_RECORD_EPOCH, 1);
        unsigned char *buf = NULL;
        size_t len = 0;
        ks_logs_set(&r->logs, "loss", 1);
        REQUIRE(ks_record_encode(r, &buf, &len, &err) == KS_OK, "%s", err.msg);
        REQUIRE(ks_record_decode(buf, len, &out, &err) == KS_OK, "%s", err.msg);
        CHECK(!out->histograms && !out->checkpoint && out->logs.n == 1, "absent stays absent");
        ks_record_free(out);
        ks_record_free(r);
        free(buf);
    }
    for (int k = 0; k < 3; k++)
        ks_record_free(in[k]);
}

/* Recompute the trailing CRC-32 of buf (what a fuzzer that knows the format does). */
static void fix_crc(unsigned char *buf, size_t len)
{
    uint32_t crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), buf, (uInt)(len - 4));
    for (int i = 0; i < 4; i++)
        buf[len - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
}

typedef ks_status (*decode_fn)(const unsigned char *, size_t, ks_error *);

static ks_status decode_record(const unsigned char *b, size_t n, ks_error *err)
{
    ks_record *r = NULL;
    ks_status s = ks_record_decode(b, n, &r, err);
    ks_record_free(r);
    return s;
}

static ks_status decode_request(const unsigned char *b, size_t n, ks_error *err)
{
    ks_trial_request q;
    ks_status s = ks_trial_request_decode(b, n, &q, err);
    if (s == KS_OK)
        ks_trial_request_clear(&q);
    return s;
}

/*
 * Every prefix and every single damaged byte: refused (the checksum).  Then damage with
 * the checksum fixed up, and prefixes with it fixed up: refused with KS_ERR_CORRUPT or
 * read within bounds (ASan watches), never anything else.
 */
static void fuzz(const char *what, const unsigned char *good, size_t len, decode_fn decode)
{
    unsigned char *b = malloc(len);
    ks_error err;
    int prefixes = 1, flips = 1, fixed = 1;
    unsigned seed = 12345;
    for (size_t n = 0; n < len; n++) {
        memcpy(b, good, n);
        prefixes &= decode(b, n, &err) == KS_ERR_CORRUPT;
    }
    for (size_t i = 0; i < len; i++) {
        memcpy(b, good, len);
        b[i] ^= 0x5a;
        flips &= decode(b, len, &err) == KS_ERR_CORRUPT;
    }
    for (int round = 0; round < 4000; round++) {
        size_t n = len;
        ks_status s;
        memcpy(b, good, len);
        for (int k = 0; k < 1 + round % 4; k++) {
            seed = seed * 1103515245u + 12345u;
            b[(seed >> 8) % (len - 4)] = (unsigned char)(seed >> 20);
        }
        if (round % 5 == 0) {
            seed = seed * 1103515245u + 12345u;
            n = 4 + (seed >> 8) % (len - 4);
        }
        fix_crc(b, n);
        s = decode(b, n, &err);
        fixed &= s == KS_OK || s == KS_ERR_CORRUPT;
    }
    CHECK(prefixes, "%s: every truncation refused", what);
    CHECK(flips, "%s: every damaged byte refused", what);
    CHECK(fixed, "%s: damage past the checksum refused or read within bounds", what);
    free(b);
}

static void test_fuzz(void)
{
    ks_record *in[3] = {make_begin(), make_epoch(), make_end()};
    const char *names[3] = {"BEGIN", "EPOCH", "END"};
    ks_error err;
    for (int k = 0; k < 3; k++) {
        unsigned char *buf = NULL;
        size_t len = 0;
        /* a smaller checkpoint keeps the rounds quick */
        if (k == 1)
            in[k]->checkpoint_len = 40;
        REQUIRE(ks_record_encode(in[k], &buf, &len, &err) == KS_OK, "%s", err.msg);
        fuzz(names[k], buf, len, decode_record);
        free(buf);
        ks_record_free(in[k]);
    }
}

static void test_request(void)
{
    ks_trial_request q, out;
    unsigned char *buf = NULL;
    size_t len = 0;
    ks_error err;
    memset(&q, 0, sizeof q);
    q.number = 41;
    q.slot = 5;
    for (int i = 0; i < KS_MAX_SEARCH_PARAMS; i++)
        q.point[i] = i * 0.25 - 1;
    q.seed = 0xfedcba9876543210ULL;
    q.budget = 9;
    q.initial_epoch = 3;
    q.recorded = 4;
    q.best_so_far = 0.125;
    q.checkpoint_len = 100;
    q.checkpoint = malloc(100);
    for (int i = 0; i < 100; i++)
        q.checkpoint[i] = (unsigned char)(255 - i);
    REQUIRE(ks_trial_request_encode(&q, &buf, &len, &err) == KS_OK, "%s", err.msg);
    REQUIRE(ks_trial_request_decode(buf, len, &out, &err) == KS_OK, "%s", err.msg);
    CHECK(out.number == 41 && out.slot == 5 && out.seed == q.seed && out.budget == 9 &&
              out.initial_epoch == 3 && out.recorded == 4 && out.best_so_far == 0.125 &&
              memcmp(out.point, q.point, sizeof q.point) == 0,
          "the request's fields");
    CHECK(out.checkpoint_len == 100 && memcmp(out.checkpoint, q.checkpoint, 100) == 0,
          "its checkpoint");
    ks_trial_request_clear(&out);
    fuzz("a request", buf, len, decode_request);
    free(buf);
    /* no checkpoint, NaN best: kept */
    ks_trial_request_clear(&q);
    q.best_so_far = NAN;
    q.initial_epoch = 0;
    REQUIRE(ks_trial_request_encode(&q, &buf, &len, &err) == KS_OK, "%s", err.msg);
    REQUIRE(ks_trial_request_decode(buf, len, &out, &err) == KS_OK, "%s", err.msg);
    CHECK(!out.checkpoint && isnan(out.best_so_far), "no checkpoint, no best so far");
    free(buf);
}

/* ------------------------------------------------------------- the queue */

typedef struct pusher {
    ks_record_sink sink;
    int id, n;
} pusher;

static void *push_many(void *arg)
{
    pusher *p = arg;
    ks_error err;
    for (int i = 0; i < p->n; i++) {
        ks_record *r = ks_record_new(KS_RECORD_EPOCH, p->id);
        r->epoch = i;
        if (p->sink.push(p->sink.user, r, &err) != KS_OK)
            break;
    }
    return NULL;
}

static void test_queue(void)
{
    ks_record_queue *q = NULL;
    ks_error err;
    pthread_t th[3];
    pusher ps[3];
    int next[3] = {0, 0, 0}, in_order = 1, got = 0;
    ks_record *r;
    /* three pushers through a queue of 4: each one's records arrive whole and in order */
    REQUIRE(ks_record_queue_new(4, &q, &err) == KS_OK, "%s", err.msg);
    for (int i = 0; i < 3; i++) {
        ps[i].sink = ks_record_queue_sink(q);
        ps[i].id = i;
        ps[i].n = 200;
        pthread_create(&th[i], NULL, push_many, &ps[i]);
    }
    while (got < 600 && (r = ks_record_queue_pop(q, 5.0)) != NULL) {
        in_order &= r->epoch == next[r->trial]++;
        got++;
        ks_record_free(r);
    }
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    CHECK(got == 600 && in_order, "600 records from 3 threads, each in order (%d)", got);
    CHECK(ks_record_queue_pop(q, 0.05) == NULL, "an empty queue times out");
    /* after the writer failed: pushes are refused with its reason, an END still goes in */
    {
        ks_record_sink sink = ks_record_queue_sink(q);
        ks_error why;
        ks_error_set(&why, KS_ERR_DB, "database or disk is full");
        ks_record_queue_fail(q, KS_ERR_DB, &why);
        CHECK(sink.push(sink.user, ks_record_new(KS_RECORD_EPOCH, 0), &err) == KS_ERR_DB &&
                  strstr(err.msg, "disk is full"),
              "a push after a failure: %s", err.msg);
        CHECK(sink.push(sink.user, ks_record_new(KS_RECORD_END, 0), &err) == KS_OK,
              "an END after a failure goes in");
        r = ks_record_queue_pop(q, 1.0);
        CHECK(r && r->kind == KS_RECORD_END, "and comes out");
        ks_record_free(r);
        ks_record_queue_close(q);
        CHECK(ks_record_queue_pop(q, -1) == NULL, "a closed, empty queue: NULL at once");
    }
    ks_record_queue_free(q);
}

int main(void)
{
    test_round_trip();
    test_fuzz();
    test_request();
    test_queue();
    return check_done();
}
