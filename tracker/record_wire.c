/*
 * record_wire.c — records as values (new, free) and as bytes: the little-endian wire
 * form that carries them between processes (MPI ranks), every length bounded and the
 * whole covered by a CRC-32 checked before anything is read.
 */
#include "tracker.h"
#include "../engine/ks_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <zlib.h>

#define RECORD_MAGIC 0x3152534bu            /* "KSR1" */
#define MAX_STRING (64u << 20)              /* a summary, an error text, a name */
#define MAX_WEIGHTS (1 << 20)
#define MAX_NODES (1 << 16)
#define MAX_NODE_INPUTS 64
#define MAX_CHECKPOINT ((size_t)1 << 34)    /* 16 GiB */
#define HIST_DOUBLES (KS_HISTOGRAM_BUCKETS * 3)
#define MAX_FILES 4096                      /* files of the train run in one record */
#define MAX_FILE_NAME 1024

ks_record *ks_record_new(ks_record_kind kind, int trial)
{
    ks_record *r = calloc(1, sizeof *r);
    struct timeval tv;
    if (!r)
        return NULL;
    gettimeofday(&tv, NULL);
    r->kind = kind;
    r->trial = trial;
    r->wall_time = (double)tv.tv_sec + 1e-6 * (double)tv.tv_usec;
    return r;
}

static void free_strv(char **v, int n)
{
    for (int i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void ks_record_free(ks_record *r)
{
    if (!r)
        return;
    free_strv(r->histogram_tags, r->n_weights);
    for (int i = 0; r->nodes && i < r->n_nodes; i++) {
        free(r->nodes[i].name);
        free(r->nodes[i].op);
        free_strv(r->nodes[i].inputs, r->nodes[i].n_inputs);
    }
    free(r->nodes);
    free(r->summary);
    ks_tb_files_free(r->files, r->n_files);
    free(r->histograms);
    free(r->checkpoint);
    free(r->error);
    free(r);
}

/* ------------------------------------------------------------ wire writer */

static void put(ks_wire *w, const void *p, size_t n)
{
    if (w->oom)
        return;
    if (w->len + n > w->cap) {
        size_t cap = w->cap ? w->cap : 256;
        unsigned char *b;
        while (cap < w->len + n)
            cap *= 2;
        if (!(b = realloc(w->buf, cap))) {
            w->oom = 1;
            return;
        }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

/* v as n little-endian bytes */
static void put_le(ks_wire *w, uint64_t v, int n)
{
    unsigned char b[8];
    ks_le_put(b, v, n);
    put(w, b, (size_t)n);
}

void ks_wire_u32(ks_wire *w, uint32_t v)
{
    put_le(w, v, 4);
}

void ks_wire_u64(ks_wire *w, uint64_t v)
{
    put_le(w, v, 8);
}

void ks_wire_f64(ks_wire *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    ks_wire_u64(w, u);
}

void ks_wire_bytes(ks_wire *w, const void *p, size_t n)
{
    ks_wire_u64(w, n);
    if (n)
        put(w, p, n);
}

void ks_wire_str(ks_wire *w, const char *s)
{
    /* length + 1, 0 for NULL */
    ks_wire_u64(w, s ? strlen(s) + 1 : 0);
    if (s)
        put(w, s, strlen(s));
}

ks_status ks_wire_finish(ks_wire *w, ks_error *err)
{
    uint32_t crc;
    if (w->oom)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory encoding a message");
    crc = ks_crc32_update((uint32_t)crc32(0L, Z_NULL, 0), w->buf, w->len);
    ks_wire_u32(w, crc);
    if (w->oom)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory encoding a message");
    return KS_OK;
}

/* ------------------------------------------------------------ wire reader */

ks_status ks_wire_open(ks_wire_reader *r, const unsigned char *buf, size_t len,
                       const char *what, ks_error *err)
{
    memset(r, 0, sizeof *r);
    if (!buf || len < 4)
        return ks_error_set(err, KS_ERR_CORRUPT, "%s: %zu bytes, too short", what, len);
    if (ks_crc32_update((uint32_t)crc32(0L, Z_NULL, 0), buf, len - 4) !=
        (uint32_t)ks_le_get(buf + len - 4, 4))
        return ks_error_set(err, KS_ERR_CORRUPT, "%s: checksum mismatch (damaged in transit)",
                            what);
    r->p = buf;
    r->len = len - 4;
    return KS_OK;
}

static const unsigned char *take(ks_wire_reader *r, size_t n)
{
    const unsigned char *p;
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    p = r->p + r->pos;
    r->pos += n;
    return p;
}

/* n little-endian bytes (0 once the reader is bad) */
static uint64_t get_le(ks_wire_reader *r, int n)
{
    const unsigned char *p = take(r, (size_t)n);
    return p ? ks_le_get(p, n) : 0;
}

uint32_t ks_wire_get_u32(ks_wire_reader *r)
{
    return (uint32_t)get_le(r, 4);
}

uint64_t ks_wire_get_u64(ks_wire_reader *r)
{
    return get_le(r, 8);
}

double ks_wire_get_f64(ks_wire_reader *r)
{
    uint64_t u = ks_wire_get_u64(r);
    double v;
    memcpy(&v, &u, 8);
    return v;
}

const unsigned char *ks_wire_get_bytes(ks_wire_reader *r, size_t max, size_t *n)
{
    uint64_t len = ks_wire_get_u64(r);
    const unsigned char *p;
    *n = 0;
    if (r->bad || len > max) {
        r->bad = 1;
        return NULL;
    }
    if (!(p = take(r, (size_t)len)))
        return NULL;
    *n = (size_t)len;
    return p;
}

char *ks_wire_get_str(ks_wire_reader *r, size_t max, int *oom)
{
    uint64_t len = ks_wire_get_u64(r);
    const unsigned char *p;
    char *s;
    if (r->bad || len == 0)
        return NULL;
    if (len - 1 > max) {
        r->bad = 1;
        return NULL;
    }
    if (!(p = take(r, (size_t)len - 1)))
        return NULL;
    if (memchr(p, '\0', (size_t)len - 1)) {
        r->bad = 1;
        return NULL;
    }
    if (!(s = malloc((size_t)len))) {
        *oom = 1;
        return NULL;
    }
    memcpy(s, p, (size_t)len - 1);
    s[len - 1] = '\0';
    return s;
}

/* ------------------------------------------------------------ records */

static void put_shape(ks_wire *w, const ks_shape *sh)
{
    ks_wire_u32(w, (uint32_t)sh->ndim);
    for (int i = 0; i < sh->ndim && i < KS_MAX_DIMS; i++)
        ks_wire_u32(w, (uint32_t)sh->dim[i]);
}

static void put_logs(ks_wire *w, const ks_logs *l)
{
    ks_wire_u32(w, (uint32_t)l->n);
    for (int i = 0; i < l->n; i++) {
        ks_wire_str(w, l->name[i]);
        ks_wire_f64(w, l->value[i]);
    }
}

static void put_files(ks_wire *w, const ks_record *r)
{
    ks_wire_u32(w, (uint32_t)r->n_files);
    for (int i = 0; i < r->n_files; i++) {
        ks_wire_str(w, r->files[i].name);
        ks_wire_bytes(w, r->files[i].data, r->files[i].len);
    }
}

ks_status ks_record_encode(const ks_record *r, unsigned char **buf, size_t *len, ks_error *err)
{
    ks_wire w = {0};
    ks_status s;
    *buf = NULL;
    *len = 0;
    ks_wire_u32(&w, RECORD_MAGIC);
    ks_wire_u32(&w, (uint32_t)r->kind);
    ks_wire_u32(&w, (uint32_t)r->trial);
    ks_wire_u32(&w, (uint32_t)r->worker);
    ks_wire_f64(&w, r->wall_time);
    switch (r->kind) {
    case KS_RECORD_BEGIN:
        ks_wire_u32(&w, (uint32_t)r->initial_epoch);
        ks_wire_u32(&w, (uint32_t)r->n_weights);
        for (int i = 0; i < r->n_weights; i++)
            ks_wire_str(&w, r->histogram_tags[i]);
        ks_wire_u32(&w, (uint32_t)r->n_nodes);
        for (int i = 0; i < r->n_nodes; i++) {
            const ks_record_node *nd = &r->nodes[i];
            ks_wire_str(&w, nd->name);
            ks_wire_str(&w, nd->op);
            put_shape(&w, &nd->shape);
            ks_wire_u32(&w, (uint32_t)nd->n_inputs);
            for (int k = 0; k < nd->n_inputs; k++)
                ks_wire_str(&w, nd->inputs[k]);
        }
        ks_wire_str(&w, r->summary);
        put_files(&w, r);
        break;
    case KS_RECORD_EPOCH:
    case KS_RECORD_BATCH:
        ks_wire_u32(&w, (uint32_t)r->epoch);
        ks_wire_u64(&w, (uint64_t)r->step);
        put_logs(&w, &r->logs);
        ks_wire_u32(&w, (uint32_t)r->n_weights);
        ks_wire_u32(&w, r->histograms != NULL);
        for (size_t i = 0; r->histograms && i < (size_t)r->n_weights * HIST_DOUBLES; i++)
            ks_wire_f64(&w, r->histograms[i]);
        ks_wire_bytes(&w, r->checkpoint, r->checkpoint ? r->checkpoint_len : 0);
        ks_wire_u32(&w, r->checkpoint != NULL);
        put_files(&w, r);
        break;
    case KS_RECORD_END:
        ks_wire_u32(&w, (uint32_t)r->initial_epoch);
        ks_wire_u32(&w, (uint32_t)r->status);
        ks_wire_u32(&w, (uint32_t)r->record_failed);
        ks_wire_f64(&w, r->seconds);
        ks_wire_str(&w, r->error);
        break;
    }
    if ((s = ks_wire_finish(&w, err)) != KS_OK) {
        free(w.buf);
        return s;
    }
    *buf = w.buf;
    *len = w.len;
    return KS_OK;
}

/* An int field within [lo, hi], else the reader goes bad. */
static int get_int(ks_wire_reader *rd, int lo, int hi)
{
    int32_t v = (int32_t)ks_wire_get_u32(rd);
    if (v < lo || v > hi) {
        rd->bad = 1;
        return lo;
    }
    return v;
}

/* Whether n items of at least size bytes each still fit in the buffer, else the reader
   goes bad: a count allocates no more than the bytes that follow could fill. */
static int room_for(ks_wire_reader *rd, size_t n, size_t size)
{
    if (rd->bad || n > (rd->len - rd->pos) / size)
        rd->bad = 1;
    return !rd->bad;
}

/* n strings (each at least its u64 length) into a new array; NULL when they cannot fit. */
static char **get_strv(ks_wire_reader *rd, int n, int *oom)
{
    char **v;
    if (!room_for(rd, (size_t)n, 8))
        return NULL;
    if (!(v = calloc((size_t)n + 1, sizeof *v))) {
        *oom = 1;
        return NULL;
    }
    for (int i = 0; i < n && !rd->bad; i++)
        if (!(v[i] = ks_wire_get_str(rd, MAX_STRING, oom)))
            rd->bad = 1;    /* names are never NULL */
    return v;
}

/* The files of a BEGIN or EPOCH (names checked by the writer before it writes). */
static void get_files(ks_wire_reader *rd, ks_record *r, int *oom)
{
    int n = get_int(rd, 0, MAX_FILES);
    if (!room_for(rd, (size_t)n, 16) || n == 0)     /* a name and a length each */
        return;
    if (!(r->files = calloc((size_t)n, sizeof *r->files))) {
        *oom = 1;
        return;
    }
    r->n_files = n;
    for (int i = 0; i < n && !rd->bad && !*oom; i++) {
        size_t len;
        const unsigned char *p;
        if (!(r->files[i].name = ks_wire_get_str(rd, MAX_FILE_NAME, oom)))
            rd->bad = 1;    /* names are never NULL */
        p = ks_wire_get_bytes(rd, MAX_CHECKPOINT, &len);
        if (rd->bad || *oom)
            break;
        if (!(r->files[i].data = malloc(len ? len : 1))) {
            *oom = 1;
            break;
        }
        if (len)
            memcpy(r->files[i].data, p, len);
        r->files[i].len = len;
    }
}

static void get_begin(ks_wire_reader *rd, ks_record *r, int *oom)
{
    r->initial_epoch = get_int(rd, 0, INT32_MAX);
    r->n_weights = get_int(rd, 0, MAX_WEIGHTS);
    if (!rd->bad)
        r->histogram_tags = get_strv(rd, r->n_weights, oom);
    r->n_nodes = rd->bad ? 0 : get_int(rd, 0, MAX_NODES);
    /* a node: name, op, ndim and n_inputs */
    if (room_for(rd, (size_t)r->n_nodes, 24) && r->n_nodes &&
        !(r->nodes = calloc((size_t)r->n_nodes, sizeof *r->nodes)))
        *oom = 1;
    if (!r->nodes)
        r->n_nodes = 0;
    for (int i = 0; i < r->n_nodes && !rd->bad && !*oom; i++) {
        ks_record_node *nd = &r->nodes[i];
        nd->name = ks_wire_get_str(rd, MAX_STRING, oom);
        nd->op = ks_wire_get_str(rd, MAX_STRING, oom);
        if (!nd->name || !nd->op)
            rd->bad = 1;
        nd->shape.ndim = get_int(rd, 0, KS_MAX_DIMS);
        for (int k = 0; k < nd->shape.ndim && !rd->bad; k++)
            nd->shape.dim[k] = get_int(rd, 0, INT32_MAX);
        nd->n_inputs = rd->bad ? 0 : get_int(rd, 0, MAX_NODE_INPUTS);
        if (!rd->bad && nd->n_inputs)
            nd->inputs = get_strv(rd, nd->n_inputs, oom);
        if (!nd->inputs)
            nd->n_inputs = 0;
    }
    if (!rd->bad)
        r->summary = ks_wire_get_str(rd, MAX_STRING, oom);
    if (!rd->bad && !*oom)
        get_files(rd, r, oom);
}

static void get_epoch(ks_wire_reader *rd, ks_record *r, int *oom)
{
    int has_hist, has_ckpt;
    const unsigned char *ck;
    size_t n;
    r->epoch = get_int(rd, 0, INT32_MAX);
    r->step = (int64_t)ks_wire_get_u64(rd);
    r->logs.n = get_int(rd, 0, KS_LOGS_MAX);
    for (int i = 0; i < r->logs.n && !rd->bad; i++) {
        char *name = ks_wire_get_str(rd, KS_LOG_NAME_MAX - 1, oom);
        if (!name || !name[0])
            rd->bad = 1;
        else
            memcpy(r->logs.name[i], name, strlen(name) + 1);
        free(name);
        r->logs.value[i] = ks_wire_get_f64(rd);
    }
    if (rd->bad)
        r->logs.n = 0;
    r->n_weights = get_int(rd, 0, MAX_WEIGHTS);
    has_hist = get_int(rd, 0, 1);
    if (!rd->bad && has_hist) {
        size_t count = (size_t)r->n_weights * HIST_DOUBLES;
        if (room_for(rd, count, 8) &&
            !(r->histograms = malloc((count ? count : 1) * sizeof *r->histograms)))
            *oom = 1;
        for (size_t i = 0; r->histograms && i < count; i++)
            r->histograms[i] = ks_wire_get_f64(rd);
    }
    ck = ks_wire_get_bytes(rd, MAX_CHECKPOINT, &n);
    has_ckpt = get_int(rd, 0, 1);
    if (!has_ckpt && n > 0)
        rd->bad = 1;    /* checkpoint bytes with the flag off: no encoder writes them */
    if (!rd->bad && has_ckpt) {
        if (!(r->checkpoint = malloc(n ? n : 1)))
            *oom = 1;
        else if (n)
            memcpy(r->checkpoint, ck, n);
        r->checkpoint_len = r->checkpoint ? n : 0;
    }
    if (!rd->bad && !*oom)
        get_files(rd, r, oom);
}

ks_status ks_record_decode(const unsigned char *buf, size_t len, ks_record **out, ks_error *err)
{
    ks_wire_reader rd;
    ks_record *r;
    ks_status s;
    int oom = 0;
    uint32_t kind;
    *out = NULL;
    if ((s = ks_wire_open(&rd, buf, len, "a record", err)) != KS_OK)
        return s;
    if (ks_wire_get_u32(&rd) != RECORD_MAGIC)
        return ks_error_set(err, KS_ERR_CORRUPT, "a record: not a ksearch record");
    kind = ks_wire_get_u32(&rd);
    if (kind < KS_RECORD_BEGIN || kind > KS_RECORD_END)
        return ks_error_set(err, KS_ERR_CORRUPT, "a record: unknown kind %u", (unsigned)kind);
    if (!(r = ks_record_new((ks_record_kind)kind, 0)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    r->trial = get_int(&rd, 0, INT32_MAX);
    r->worker = get_int(&rd, 0, INT32_MAX);
    r->wall_time = ks_wire_get_f64(&rd);
    if (r->kind == KS_RECORD_BEGIN) {
        get_begin(&rd, r, &oom);
    } else if (r->kind == KS_RECORD_END) {
        r->initial_epoch = get_int(&rd, 0, INT32_MAX);
        r->status = (ks_trial_status)get_int(&rd, 0, KS_TRIAL_STATUS_COUNT - 1);
        r->record_failed = get_int(&rd, 0, 1);
        r->seconds = ks_wire_get_f64(&rd);
        r->error = ks_wire_get_str(&rd, MAX_STRING, &oom);
    } else {
        get_epoch(&rd, r, &oom);
    }
    if (oom) {
        ks_record_free(r);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory decoding a record");
    }
    if (rd.bad || rd.pos != rd.len) {
        ks_record_free(r);
        return ks_error_set(err, KS_ERR_CORRUPT, "a record: %s at byte %zu of %zu",
                            rd.bad ? "a field out of bounds" : "bytes left over", rd.pos,
                            rd.len);
    }
    *out = r;
    return KS_OK;
}
