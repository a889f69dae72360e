/*
 * message.c — a trial request and a pruner's verdict in and out of their wire forms
 * (message.h), over the tracker's wire helpers: the same bounds, the same checksum as
 * records.
 */
#include "message.h"

#include <stdlib.h>
#include <string.h>

#define REQUEST_MAGIC 0x3151524bu           /* "KRQ1" */
#define VERDICT_MAGIC 0x3144564bu           /* "KVD1" */
#define MAX_CHECKPOINT ((size_t)1 << 34)

void ks_trial_request_clear(ks_trial_request *r)
{
    free(r->checkpoint);
    r->checkpoint = NULL;
    r->checkpoint_len = 0;
}

/* A message written into w: checksummed, handed to the caller (*buf malloc'd). */
static ks_status wire_out(ks_wire *w, unsigned char **buf, size_t *len, ks_error *err)
{
    ks_status s;
    *buf = NULL;
    *len = 0;
    if ((s = ks_wire_finish(w, err)) != KS_OK) {
        free(w->buf);
        return s;
    }
    *buf = w->buf;
    *len = w->len;
    return KS_OK;
}

ks_status ks_trial_request_encode(const ks_trial_request *r, unsigned char **buf, size_t *len,
                                  ks_error *err)
{
    ks_wire w = {0};
    ks_wire_u32(&w, REQUEST_MAGIC);
    ks_wire_u32(&w, (uint32_t)r->number);
    ks_wire_u32(&w, (uint32_t)r->slot);
    ks_wire_u32(&w, KS_MAX_SEARCH_PARAMS);
    for (int i = 0; i < KS_MAX_SEARCH_PARAMS; i++)
        ks_wire_f64(&w, r->point[i]);
    ks_wire_u64(&w, r->seed);
    ks_wire_u32(&w, (uint32_t)r->budget);
    ks_wire_u32(&w, (uint32_t)r->initial_epoch);
    ks_wire_u32(&w, (uint32_t)r->recorded);
    ks_wire_f64(&w, r->best_so_far);
    ks_wire_u32(&w, r->checkpoint != NULL);
    ks_wire_bytes(&w, r->checkpoint, r->checkpoint ? r->checkpoint_len : 0);
    return wire_out(&w, buf, len, err);
}

/* A non-negative int field, else the reader goes bad. */
static int get_count(ks_wire_reader *rd)
{
    uint32_t v = ks_wire_get_u32(rd);
    if (v > INT32_MAX) {
        rd->bad = 1;
        return 0;
    }
    return (int)v;
}

ks_status ks_trial_request_decode(const unsigned char *buf, size_t len, ks_trial_request *out,
                                  ks_error *err)
{
    ks_wire_reader rd;
    const unsigned char *ck;
    size_t n;
    int has_ckpt;
    ks_status s;
    memset(out, 0, sizeof *out);
    if ((s = ks_wire_open(&rd, buf, len, "a trial request", err)) != KS_OK)
        return s;
    if (ks_wire_get_u32(&rd) != REQUEST_MAGIC)
        return ks_error_set(err, KS_ERR_CORRUPT, "a trial request: not a ksearch request");
    out->number = get_count(&rd);
    out->slot = get_count(&rd);
    if (ks_wire_get_u32(&rd) != KS_MAX_SEARCH_PARAMS)
        return ks_error_set(err, KS_ERR_CORRUPT,
                            "a trial request: from a ksearch with another parameter limit");
    for (int i = 0; i < KS_MAX_SEARCH_PARAMS; i++)
        out->point[i] = ks_wire_get_f64(&rd);
    out->seed = ks_wire_get_u64(&rd);
    out->budget = get_count(&rd);
    out->initial_epoch = get_count(&rd);
    out->recorded = get_count(&rd);
    out->best_so_far = ks_wire_get_f64(&rd);
    has_ckpt = get_count(&rd);
    ck = ks_wire_get_bytes(&rd, MAX_CHECKPOINT, &n);
    /* checkpoint bytes with the flag off are bytes no encoder writes: refused, not dropped */
    if (rd.bad || rd.pos != rd.len || has_ckpt > 1 || (!has_ckpt && n > 0) ||
        out->initial_epoch > out->budget)
        return ks_error_set(err, KS_ERR_CORRUPT, "a trial request: %s at byte %zu of %zu",
                            rd.bad ? "a field out of bounds" : "inconsistent fields", rd.pos,
                            rd.len);
    if (has_ckpt) {
        if (!(out->checkpoint = malloc(n ? n : 1)))
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory for a checkpoint");
        if (n)
            memcpy(out->checkpoint, ck, n);
        out->checkpoint_len = n;
    }
    return KS_OK;
}

ks_status ks_verdict_encode(const ks_verdict *v, unsigned char **buf, size_t *len, ks_error *err)
{
    ks_wire w = {0};
    ks_wire_u32(&w, VERDICT_MAGIC);
    ks_wire_u32(&w, (uint32_t)v->trial);
    ks_wire_u32(&w, (uint32_t)v->slot);
    ks_wire_u32(&w, (uint32_t)v->epoch);
    ks_wire_u32(&w, (uint32_t)v->prune);
    return wire_out(&w, buf, len, err);
}

ks_status ks_verdict_decode(const unsigned char *buf, size_t len, ks_verdict *out, ks_error *err)
{
    ks_wire_reader rd;
    ks_status s;
    memset(out, 0, sizeof *out);
    if ((s = ks_wire_open(&rd, buf, len, "a pruner's verdict", err)) != KS_OK)
        return s;
    if (ks_wire_get_u32(&rd) != VERDICT_MAGIC)
        return ks_error_set(err, KS_ERR_CORRUPT, "a pruner's verdict: not a ksearch verdict");
    out->trial = get_count(&rd);
    out->slot = get_count(&rd);
    out->epoch = get_count(&rd);
    out->prune = get_count(&rd);
    if (rd.bad || rd.pos != rd.len || out->prune > 1)
        return ks_error_set(err, KS_ERR_CORRUPT, "a pruner's verdict: %s at byte %zu of %zu",
                            rd.bad ? "a field out of bounds" : "inconsistent fields", rd.pos,
                            rd.len);
    return KS_OK;
}
