/*
 * model_file.c — .ksm model files: save (to a temporary file, fsync, rename) and load
 * (every size, name and shape checked against the file and the model before anything
 * is used).  A damaged or hostile file is an error message, never a crash.
 *
 * Format, version 2.  All integers little-endian; floats IEEE-754 binary32 (tensors)
 * or binary64 (lr), little-endian.  Offsets in bytes.
 *
 *    0  magic       4   89 4B 53 4D  ("\x89KSM": the high byte catches 7-bit mangling)
 *    4  version     u32 2; a reader refuses versions newer than its own
 *    8  flags       u32 bit 0: a config is present; bit 1: optimizer state is present;
 *                       other bits 0
 *   12  size        u64 bytes in the file, checksum included
 *   20  seed        u64 the model's seed (initialization, default fit streams)
 *   28  epoch       u32 epochs completed (what fit's initial_epoch resumes from), <= INT_MAX
 *   32  n_tensors   u32
 *   36  config_len  u64 0 when bit 0 is clear
 *   44  config      config_len bytes of JSON (no NUL):
 *                   {"layers": [...], "compile": {...} or null, "meta": {...}}
 *                   as ks_model_config and ks_model_meta give them
 *       optimizer   only when bit 1 is set:
 *                   u32 name_len, name (Keras class name, e.g. "Adam"),
 *                   u64 iterations (<= INT64_MAX), f64 learning rate, u32 n_slots (<= 16),
 *                   then n_slots times: u32 name_len (1..256), the slot's name ("momentum")
 *       tensors     n_tensors times: u32 slot (0: the weight itself; k in 1..n_slots: the
 *                   optimizer's k-th slot for that weight), u32 name_len (1..256), the
 *                   weight's name (no NUL bytes), u32 ndim (<= 6), ndim × u64 dims
 *                   (1..INT_MAX), then dims product × 4 bytes of float32 data
 *   size-4 crc      u32 CRC-32 (zlib's) of bytes [0, size-4)
 *
 * Tensors are the weights in build order, named as ks_model_weight_name gives them
 * ("dense/kernel"), then, with optimizer state, one per (slot, weight), slot-major.
 * Readers match tensors by (slot, name), not by position.  Weights and optimizer
 * state are apart by the slot field, so that any layer name is safe ("optimizer" too).
 *
 * Version 1 (still read) had no slot names and no slot field: optimizer state was
 * named "optimizer/<slot>/<weight>", which a layer named "optimizer" also produced.
 * Its names are matched as weights first, then as optimizer state.
 */
#include "engine_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* ---------------------------------------------------------- little endian */

void ks_le_put(unsigned char *b, uint64_t x, int bytes)
{
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(x >> (8 * i));
}

uint64_t ks_le_get(const unsigned char *b, int bytes)
{
    uint64_t x = 0;
    for (int i = bytes - 1; i >= 0; i--)
        x = x << 8 | b[i];
    return x;
}

uint32_t ks_crc32_update(uint32_t crc, const unsigned char *p, size_t n)
{
    uLong c = crc;
    while (n > 0) {     /* zlib's crc32 takes uInt lengths: feed it in pieces */
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        c = crc32(c, p, k);
        p += k;
        n -= k;
    }
    return (uint32_t)c;
}

/* ------------------------------------------------------------------ save */

/* Where encoded bytes go: nowhere (counting them), a memory block, or a writer. */
typedef struct sink {
    unsigned char *mem;         /* memory target, or NULL */
    const ks_writer *w;         /* writer target, or NULL */
    void *file;                 /* the writer's open file */
    size_t pos;                 /* bytes emitted so far */
    uint32_t crc;               /* CRC-32 of them (not when only counting) */
    int error;                  /* the writer's first error (an errno value), 0 if none */
} sink;

static void put(sink *s, const void *p, size_t n)
{
    if (s->error || n == 0)
        return;
    if (s->mem) {
        memcpy(s->mem + s->pos, p, n);
    } else if (s->w) {
        int e = s->w->write(s->w->user, s->file, p, n);
        if (e) {
            s->error = e;
            return;
        }
    }
    if (s->mem || s->w)
        s->crc = ks_crc32_update(s->crc, p, n);
    s->pos += n;
}

static void put_int(sink *s, uint64_t x, int bytes)
{
    unsigned char b[8];
    ks_le_put(b, x, bytes);
    put(s, b, (size_t)bytes);
}

static void put_str(sink *s, const char *str)
{
    put_int(s, strlen(str), 4);
    put(s, str, strlen(str));
}

static void put_tensor(sink *s, int slot, const char *name, const ks_shape *shape,
                       const float *x)
{
    unsigned char buf[4096];
    size_t n = ks_shape_size(shape);
    put_int(s, (uint64_t)slot, 4);
    put_str(s, name);
    put_int(s, (uint64_t)shape->ndim, 4);
    for (int d = 0; d < shape->ndim; d++)
        put_int(s, (uint64_t)shape->dim[d], 8);
    if (!s->mem && !s->w) {         /* counting */
        s->pos += n * 4;
        return;
    }
    while (n > 0) {
        size_t k = n < sizeof buf / 4 ? n : sizeof buf / 4;
        for (size_t i = 0; i < k; i++) {
            uint32_t u;
            memcpy(&u, &x[i], 4);
            ks_le_put(buf + 4 * i, u, 4);
        }
        put(s, buf, 4 * k);
        x += k;
        n -= k;
    }
}

/* What a save writes, worked out once before any byte goes out. */
typedef struct plan {
    ks_model *m;
    uint32_t flags;             /* KS_KSM_HAS_* */
    int epoch;
    char *json;                 /* the config (NULL without one) */
    size_t json_len;
    size_t size;                /* total bytes */
} plan;

static void emit(sink *s, const plan *p)
{
    ks_model *m = p->m;
    int n_slots = p->flags & KS_KSM_HAS_OPTIMIZER ? m->opt->n_slots : 0;
    put(s, KS_KSM_MAGIC, 4);
    put_int(s, KS_KSM_VERSION, 4);
    put_int(s, p->flags, 4);
    put_int(s, p->size, 8);
    put_int(s, m->seed, 8);
    put_int(s, (uint64_t)p->epoch, 4);
    put_int(s, (uint64_t)m->n_weights * (uint64_t)(1 + n_slots), 4);
    put_int(s, p->json_len, 8);
    put(s, p->json, p->json_len);
    if (p->flags & KS_KSM_HAS_OPTIMIZER) {
        uint64_t lr;
        memcpy(&lr, &m->lr, 8);
        put_str(s, m->opt->name);
        put_int(s, (uint64_t)m->iterations, 8);
        put_int(s, lr, 8);
        put_int(s, (uint64_t)n_slots, 4);
        for (int k = 0; k < n_slots; k++)
            put_str(s, m->opt->slot_names[k]);
    }
    for (int i = 0; i < m->n_weights; i++)
        put_tensor(s, 0, m->weights[i]->name, &m->weights[i]->shape, m->weights[i]->w);
    for (int k = 0; k < n_slots; k++)
        for (int i = 0; i < m->n_weights; i++) {
            const ks_weight *w = m->weights[i];
            put_tensor(s, k + 1, w->name, &w->shape,
                       m->slots + (size_t)k * m->n_params + w->offset);
        }
    put_int(s, s->crc, 4);
}

/* The config JSON: {"layers": …, "compile": …, "meta": …}. */
static ks_status config_json(ks_model *m, char **out, size_t *len)
{
    ks_value layers, compile;
    char *jl = NULL, *jc = NULL, *jm = NULL;
    size_t nl, nc, nm;
    ks_status s = ks_model_config(m, &layers, &compile);
    if (s != KS_OK)
        return s;
    if ((s = ks_value_to_json(&layers, &jl, &nl)) == KS_OK &&
        (s = ks_value_to_json(&compile, &jc, &nc)) == KS_OK &&
        (s = ks_value_to_json(&m->meta, &jm, &nm)) == KS_OK) {
        size_t n = nl + nc + nm + 40;
        char *j = malloc(n);
        if (!j) {
            s = KS_ERR_NOMEM;
        } else {
            *len = (size_t)snprintf(j, n, "{\"layers\":%s,\"compile\":%s,\"meta\":%s}", jl, jc,
                                    jm);
            *out = j;
        }
    }
    free(jl);
    free(jc);
    free(jm);
    ks_value_free(&layers);
    ks_value_free(&compile);
    return s;
}

/* Check the arguments, make the config text, and count the bytes. */
static ks_status plan_make(ks_model *m, unsigned flags, int epoch, const char *name, plan *p,
                           ks_error *err)
{
    sink count = {0};
    memset(p, 0, sizeof *p);
    p->m = m;
    p->epoch = epoch;
    if (flags & ~(unsigned)(KS_SAVE_WEIGHTS_ONLY | KS_SAVE_OPTIMIZER))
        return ks_error_set_at(err, KS_ERR_CONFIG, name, 0, 0,
                               "unknown save flags 0x%x; expected KS_SAVE_WEIGHTS_ONLY and/or "
                               "KS_SAVE_OPTIMIZER",
                               flags);
    if (epoch < 0)
        return ks_error_set_at(err, KS_ERR_CONFIG, name, 0, 0,
                               "the epoch to save must be >= 0, got %d", epoch);
    if (m->meta.kind != KS_VALUE_MAP)
        return ks_error_set_at(err, KS_ERR_CONFIG, name, 0, 0,
                               "the model's meta must be a map, got %s",
                               ks_value_kind_name(m->meta.kind));
    /* an uncompiled model has no optimizer state to save, as in Keras */
    if ((flags & KS_SAVE_OPTIMIZER) && m->compiled && m->opt)
        p->flags |= KS_KSM_HAS_OPTIMIZER;
    if (!(flags & KS_SAVE_WEIGHTS_ONLY)) {
        p->flags |= KS_KSM_HAS_CONFIG;
        if (config_json(m, &p->json, &p->json_len) != KS_OK)
            return ks_error_set_at(err, KS_ERR_NOMEM, name, 0, 0,
                                   "out of memory writing the model config");
    }
    emit(&count, p);
    p->size = count.pos;
    return KS_OK;
}

ks_status ks_model_save_to(ks_model *m, unsigned flags, int epoch, unsigned char **buf,
                           size_t *cap, size_t *len, ks_error *err)
{
    plan p;
    sink s = {0};
    ks_status st;
    *len = 0;
    if ((st = plan_make(m, flags, epoch, "model buffer", &p, err)) != KS_OK) {
        free(p.json);
        return st;
    }
    if (!*buf || *cap < p.size) {
        unsigned char *b = realloc(*buf, p.size);
        if (!b) {
            free(p.json);
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory for a %zu-byte model file",
                                p.size);
        }
        *buf = b;
        *cap = p.size;
    }
    s.mem = *buf;
    s.crc = 0;
    emit(&s, &p);
    free(p.json);
    *len = s.pos;
    return KS_OK;
}

ks_status ks_model_save_buffer(ks_model *m, unsigned flags, int epoch, unsigned char **out,
                               size_t *len, ks_error *err)
{
    size_t cap = 0;
    ks_status st;
    *out = NULL;
    *len = 0;
    if ((st = ks_model_save_to(m, flags, epoch, out, &cap, len, err)) != KS_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

static int stdio_open(void *user, const char *path, void **file)
{
    (void)user;
    return (*file = fopen(path, "wb")) ? 0 : errno ? errno : EIO;
}

static int stdio_write(void *user, void *file, const void *p, size_t n)
{
    (void)user;
    return fwrite(p, 1, n, file) == n ? 0 : errno ? errno : EIO;
}

static int stdio_flush(void *user, void *file)
{
    (void)user;
    return fflush(file) == 0 && fsync(fileno(file)) == 0 ? 0 : errno ? errno : EIO;
}

static int stdio_close(void *user, void *file)
{
    (void)user;
    return fclose(file) == 0 ? 0 : errno ? errno : EIO;
}

const ks_writer ks_writer_stdio = {stdio_open, stdio_write, stdio_flush, stdio_close, NULL};

ks_status ks_model_save_with(ks_model *m, const char *path, unsigned flags, int epoch,
                             const ks_writer *w, ks_error *err)
{
    plan p;
    sink s = {0};
    ks_status st = plan_make(m, flags, epoch, path, &p, err);
    size_t n = strlen(path) + 32;
    char *tmp = st == KS_OK ? malloc(n) : NULL;
    const char *step = "create";
    int e;
    if (st != KS_OK || !tmp) {
        free(p.json);
        return st != KS_OK ? st : ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory");
    }
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    errno = 0;
    if ((e = w->open(w->user, tmp, &s.file)) == 0) {
        s.w = w;
        s.crc = 0;
        emit(&s, &p);
        step = "write";
        if ((e = s.error) == 0) {
            step = "flush";
            errno = 0;
            e = w->flush(w->user, s.file);
        }
        if (e) {
            w->close(w->user, s.file);      /* the first error is the one to report */
        } else {
            step = "close";
            errno = 0;
            e = w->close(w->user, s.file);
        }
        if (e == 0 && rename(tmp, path) != 0) {
            step = "rename";
            e = errno ? errno : EIO;
        }
        if (e)
            remove(tmp);
    }
    if (e)
        st = ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "cannot %s %s: %s", step, tmp,
                             strerror(e));
    else
        ks_sync_dir(path);
    free(tmp);
    free(p.json);
    return st;
}

ks_status ks_model_save(ks_model *m, const char *path, unsigned flags, int epoch, ks_error *err)
{
    return ks_model_save_with(m, path, flags, epoch, &ks_writer_stdio, err);
}
