/*
 * fuzz_wire.c — the wire forms that cross a process boundary (MPI ranks): the first byte
 * picks a trial request, a record or a pruner's verdict (FUZZ_WIRE_*), the rest goes to
 * that decoder as found; most mutations stop at the CRC-32, which fuzz_wire_crc.c fixes
 * up.  A rejected buffer says why in a line and owns nothing; an accepted one has its
 * fields within bounds and encodes back to exactly its own bytes (the encoders are
 * canonical), so the re-encoding is a fixed point of decode and encode.
 */
#include "../../search/message.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#ifndef FUZZ_FIX_CRC
#define FUZZ_FIX_CRC 0      /* 1: the buffer comes without its last 4 bytes (the CRC) */
#endif

/* An accepted buffer encoded again (status s, out): the same bytes, else the decoder kept
   something other than what it read.  Frees out. */
static void check_same(const char *what, ks_status s, const ks_error *err,
                       const unsigned char *in, size_t len, unsigned char *out, size_t out_len)
{
    size_t i = 0;
    if (s != KS_OK)
        fuzz_fail("%s decodes but does not encode again: %s", what, err->msg);
    while (i < len && i < out_len && in[i] == out[i])
        i++;
    if (i < len || i < out_len)
        fuzz_fail("%s of %zu bytes encodes again to %zu bytes, different from byte %zu", what,
                  len, out_len, i);
    free(out);
}

/* 1 when the decoder refused the buffer (with an error status and a one-line message),
   0 when it accepted it (counted). */
static int rejected(ks_status s, const ks_error *err, const char *what)
{
    if (s == KS_OK) {
        fuzz_accepted++;
        return 0;
    }
    fuzz_check_error(s, err, what);
    return 1;
}

static void request(const unsigned char *buf, size_t len)
{
    ks_trial_request q;
    ks_error err;
    unsigned char *out = NULL;
    size_t out_len = 0;
    ks_status s;
    memset(&q, 0, sizeof q);
    if (rejected(ks_trial_request_decode(buf, len, &q, &err), &err, "a trial request")) {
        if (q.checkpoint || q.checkpoint_len)
            fuzz_fail("a rejected trial request holds a checkpoint");
        return;
    }
    if (q.number < 0 || q.slot < 0 || q.budget < 0 || q.recorded < 0 || q.initial_epoch < 0 ||
        q.initial_epoch > q.budget || (!q.checkpoint && q.checkpoint_len))
        fuzz_fail("a trial request out of bounds: number %d, slot %d, budget %d, initial_epoch "
                  "%d, recorded %d, checkpoint %s of %zu bytes",
                  q.number, q.slot, q.budget, q.initial_epoch, q.recorded,
                  q.checkpoint ? "given" : "absent", q.checkpoint_len);
    s = ks_trial_request_encode(&q, &out, &out_len, &err);
    check_same("a trial request", s, &err, buf, len, out, out_len);
    ks_trial_request_clear(&q);
}

static void verdict(const unsigned char *buf, size_t len)
{
    ks_verdict v;
    ks_error err;
    unsigned char *out = NULL;
    size_t out_len = 0;
    ks_status s;
    if (rejected(ks_verdict_decode(buf, len, &v, &err), &err, "a verdict"))
        return;
    if (v.trial < 0 || v.slot < 0 || v.epoch < 0 || (v.prune != 0 && v.prune != 1))
        fuzz_fail("a verdict out of bounds: trial %d, slot %d, epoch %d, prune %d", v.trial,
                  v.slot, v.epoch, v.prune);
    s = ks_verdict_encode(&v, &out, &out_len, &err);
    check_same("a verdict", s, &err, buf, len, out, out_len);
}

/* ------------------------------------------------------------------ records */

/* n strings (tags, input names), none NULL, in an array that exists when n > 0. */
static void check_names(const char *what, char *const *v, int n)
{
    if (n < 0 || (n > 0 && !v))
        fuzz_fail("a record's %s: %d of them, %s", what, n, v ? "an array" : "no array");
    for (int i = 0; i < n; i++)
        if (!v[i])
            fuzz_fail("a record's %s: number %d is NULL", what, i);
}

static void check_files(const ks_record *r)
{
    if (r->n_files < 0 || (r->n_files > 0 && !r->files))
        fuzz_fail("a record's files: %d of them, %s", r->n_files,
                  r->files ? "an array" : "no array");
    for (int i = 0; i < r->n_files; i++)
        if (!r->files[i].name || (r->files[i].len && !r->files[i].data))
            fuzz_fail("a record's file %d has no name or no data", i);
}

/* What the record's kind does not carry is empty: the decoder filled nothing else. */
static void check_kind_only(const ks_record *r)
{
    int begin = r->kind == KS_RECORD_BEGIN, end = r->kind == KS_RECORD_END;
    int values = !begin && !end;        /* EPOCH, BATCH */
    if ((!begin && (r->histogram_tags || r->nodes || r->n_nodes || r->summary)) ||
        (!values && (r->epoch || r->step || r->logs.n || r->histograms || r->checkpoint ||
                     r->checkpoint_len)) ||
        (!end && (r->status || r->record_failed || r->seconds != 0 || r->error)) ||
        (end && (r->n_weights || r->n_files || r->files)) || (values && r->initial_epoch))
        fuzz_fail("a record of kind %d has fields of another kind", (int)r->kind);
}

static void check_begin(const ks_record *r)
{
    check_names("histogram tags", r->histogram_tags, r->n_weights);
    if (r->initial_epoch < 0 || r->n_nodes < 0 || (r->n_nodes > 0 && !r->nodes))
        fuzz_fail("a BEGIN record out of bounds: initial_epoch %d, %d nodes", r->initial_epoch,
                  r->n_nodes);
    for (int i = 0; i < r->n_nodes; i++) {
        const ks_record_node *nd = &r->nodes[i];
        if (!nd->name || !nd->op || nd->shape.ndim < 0 || nd->shape.ndim > KS_MAX_DIMS)
            fuzz_fail("a BEGIN record's node %d: name %s, op %s, %d dimensions", i,
                      nd->name ? "given" : "NULL", nd->op ? "given" : "NULL", nd->shape.ndim);
        for (int k = 0; k < nd->shape.ndim; k++)
            if (nd->shape.dim[k] < 0)
                fuzz_fail("a BEGIN record's node %d has dimension %d of %d", i, k,
                          nd->shape.dim[k]);
        check_names("node inputs", nd->inputs, nd->n_inputs);
    }
}

static void check_values(const ks_record *r)
{
    if (r->epoch < 0 || r->n_weights < 0 || r->logs.n < 0 || r->logs.n > KS_LOGS_MAX ||
        (!r->checkpoint && r->checkpoint_len))
        fuzz_fail("an EPOCH or BATCH record out of bounds: epoch %d, %d weights, %d logs, "
                  "checkpoint %s of %zu bytes",
                  r->epoch, r->n_weights, r->logs.n, r->checkpoint ? "given" : "absent",
                  r->checkpoint_len);
    for (int i = 0; i < r->logs.n; i++)
        if (!r->logs.name[i][0] || !memchr(r->logs.name[i], '\0', KS_LOG_NAME_MAX))
            fuzz_fail("an EPOCH or BATCH record's log %d has an empty or unended name", i);
}

static void check_end(const ks_record *r)
{
    if (r->initial_epoch < 0 || (int)r->status < 0 || r->status >= KS_TRIAL_STATUS_COUNT ||
        (r->record_failed != 0 && r->record_failed != 1))
        fuzz_fail("an END record out of bounds: initial_epoch %d, status %d, record_failed %d",
                  r->initial_epoch, (int)r->status, r->record_failed);
}

static void record(const unsigned char *buf, size_t len)
{
    ks_record *r = NULL;
    ks_error err;
    unsigned char *out = NULL;
    size_t out_len = 0;
    ks_status s;
    if (rejected(ks_record_decode(buf, len, &r, &err), &err, "a record")) {
        if (r)
            fuzz_fail("a rejected record is handed to the caller");
        return;
    }
    if ((int)r->kind < KS_RECORD_BEGIN || r->kind > KS_RECORD_END || r->trial < 0 ||
        r->worker < 0)
        fuzz_fail("a record out of bounds: kind %d, trial %d, worker %d", (int)r->kind,
                  r->trial, r->worker);
    check_files(r);
    check_kind_only(r);
    if (r->kind == KS_RECORD_BEGIN)
        check_begin(r);
    else if (r->kind == KS_RECORD_END)
        check_end(r);
    else
        check_values(r);
    s = ks_record_encode(r, &out, &out_len, &err);
    check_same("a record", s, &err, buf, len, out, out_len);
    ks_record_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    unsigned char *buf;
    if (size == 0)
        return 0;
    len = size - 1 + (FUZZ_FIX_CRC ? 4 : 0);
    if (!(buf = malloc(len ? len : 1)))     /* exactly len bytes: ASan sees reads past it */
        return 0;
    memcpy(buf, data + 1, size - 1);
    if (FUZZ_FIX_CRC)   /* the CRC-32 of everything before it, as ks_wire_finish writes it */
        ks_le_put(buf + len - 4,
                  ks_crc32_update((uint32_t)crc32(0L, Z_NULL, 0), buf, len - 4), 4);
    switch (data[0] % FUZZ_WIRE_FORMS) {
    case FUZZ_WIRE_REQUEST:
        request(buf, len);
        break;
    case FUZZ_WIRE_RECORD:
        record(buf, len);
        break;
    default:
        verdict(buf, len);
        break;
    }
    free(buf);
    return 0;
}
