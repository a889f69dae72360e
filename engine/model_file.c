/*
 * model_file.c — .ksm model files: save (to a temporary file, fsync, rename) and load
 * (every size, name and shape checked against the file and the model before anything
 * is used).  A damaged or hostile file is an error message, never a crash.
 *
 * Format, version 1.  All integers little-endian; floats IEEE-754 binary32 (tensors)
 * or binary64 (lr), little-endian.  Offsets in bytes.
 *
 *    0  magic       4   89 4B 53 4D  ("\x89KSM": the high byte catches 7-bit mangling)
 *    4  version     u32 1; a reader refuses versions newer than its own
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
 *                   u64 iterations (<= INT64_MAX), f64 learning rate, u32 n_slots
 *       tensors     n_tensors times: u32 name_len (1..256), name (no NUL bytes),
 *                   u32 ndim (<= 6), ndim × u64 dims (1..INT_MAX), then
 *                   dims product × 4 bytes of float32 data
 *   size-4 crc      u32 CRC-32 (zlib's) of bytes [0, size-4)
 *
 * Tensors are the weights in build order, named as ks_model_weight_name gives them
 * ("dense/kernel"), then, with optimizer state, one per (slot, weight), slot-major,
 * named "optimizer/<slot>/<weight>" after the optimizer's slot names.  Readers match
 * tensors by name, not by position.
 */
#include "engine_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define KSM_MAGIC "\x89KSM"
#define KSM_VERSION 1u
#define KSM_HAS_CONFIG 1u
#define KSM_HAS_OPTIMIZER 2u
#define KSM_HEADER 44u                  /* bytes before the config */
#define KSM_MIN_SIZE (KSM_HEADER + 4u)  /* header and checksum */
#define KSM_NAME_MAX 256u
#define KSM_OPT_PREFIX "optimizer/"

/* ---------------------------------------------------------- little endian */

static void le(unsigned char *b, uint64_t x, int bytes)
{
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(x >> (8 * i));
}

static uint32_t get32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t get64(const unsigned char *b)
{
    return (uint64_t)get32(b) | (uint64_t)get32(b + 4) << 32;
}

/* zlib's crc32 takes uInt lengths: feed it in pieces. */
static uLong crc_update(uLong crc, const unsigned char *p, size_t n)
{
    while (n > 0) {
        uInt k = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, k);
        p += k;
        n -= k;
    }
    return crc;
}

/* ------------------------------------------------------------------ save */

/* Where encoded bytes go: nowhere (counting them), a memory block, or a writer. */
typedef struct sink {
    unsigned char *mem;         /* memory target, or NULL */
    const ks_writer *w;         /* writer target, or NULL */
    void *file;                 /* the writer's open file */
    size_t pos;                 /* bytes emitted so far */
    uLong crc;                  /* CRC-32 of them (not when only counting) */
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
        s->crc = crc_update(s->crc, p, n);
    s->pos += n;
}

static void put_int(sink *s, uint64_t x, int bytes)
{
    unsigned char b[8];
    le(b, x, bytes);
    put(s, b, (size_t)bytes);
}

static void put_str(sink *s, const char *str)
{
    put_int(s, strlen(str), 4);
    put(s, str, strlen(str));
}

static void put_tensor(sink *s, const char *name, const ks_shape *shape, const float *x)
{
    unsigned char buf[4096];
    size_t n = ks_shape_size(shape);
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
            le(buf + 4 * i, u, 4);
        }
        put(s, buf, 4 * k);
        x += k;
        n -= k;
    }
}

/* What a save writes, worked out once before any byte goes out. */
typedef struct plan {
    ks_model *m;
    uint32_t flags;             /* KSM_HAS_* */
    int epoch;
    char *json;                 /* the config (NULL without one) */
    size_t json_len;
    size_t size;                /* total bytes */
} plan;

static void emit(sink *s, const plan *p)
{
    ks_model *m = p->m;
    int n_slots = p->flags & KSM_HAS_OPTIMIZER ? m->opt->n_slots : 0;
    put(s, KSM_MAGIC, 4);
    put_int(s, KSM_VERSION, 4);
    put_int(s, p->flags, 4);
    put_int(s, p->size, 8);
    put_int(s, m->seed, 8);
    put_int(s, (uint64_t)p->epoch, 4);
    put_int(s, (uint64_t)m->n_weights * (uint64_t)(1 + n_slots), 4);
    put_int(s, p->json_len, 8);
    put(s, p->json, p->json_len);
    if (n_slots) {
        uint64_t lr;
        memcpy(&lr, &m->lr, 8);
        put_str(s, m->opt->name);
        put_int(s, (uint64_t)m->iterations, 8);
        put_int(s, lr, 8);
        put_int(s, (uint64_t)n_slots, 4);
    }
    for (int i = 0; i < m->n_weights; i++)
        put_tensor(s, m->weights[i]->name, &m->weights[i]->shape, m->weights[i]->w);
    for (int k = 0; k < n_slots; k++)
        for (int i = 0; i < m->n_weights; i++) {
            const ks_weight *w = m->weights[i];
            char name[KSM_NAME_MAX];
            snprintf(name, sizeof name, KSM_OPT_PREFIX "%s/%s", m->opt->slot_names[k], w->name);
            put_tensor(s, name, &w->shape, m->slots + (size_t)k * m->n_params + w->offset);
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
        p->flags |= KSM_HAS_OPTIMIZER;
    if (!(flags & KS_SAVE_WEIGHTS_ONLY)) {
        p->flags |= KSM_HAS_CONFIG;
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
    s.crc = crc32(0L, Z_NULL, 0);
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
        s.crc = crc32(0L, Z_NULL, 0);
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

/* ------------------------------------------------------------------ load */

/* A file's sections, located and checked against its size (nothing is used yet). */
typedef struct ksm_file {
    const char *name;           /* for messages: the path, or the buffer's name */
    uint32_t flags;             /* KSM_HAS_* */
    uint64_t seed;
    int epoch;
    const char *config;         /* config_len bytes of JSON */
    size_t config_len;
    const char *opt_name;       /* optimizer class name, opt_name_len bytes */
    size_t opt_name_len;
    int64_t iterations;
    double lr;
    uint64_t n_slots;
    uint32_t n_tensors;
    const unsigned char *tensors;   /* the tensor entries, tensors_len bytes */
    size_t tensors_len;
} ksm_file;

/* A cursor over bytes whose end is known. */
typedef struct reader {
    const unsigned char *p;
    size_t left;
} reader;

typedef struct ksm_tensor {
    const char *name;           /* name_len bytes, no NUL */
    size_t name_len;
    ks_shape shape;
    size_t count;               /* floats */
    const unsigned char *data;  /* count × 4 bytes */
} ksm_tensor;

/* Turn the error a parser or builder left in err into KS_ERR_CORRUPT about the file. */
static ks_status recode(const char *name, ks_error *err, const char *what)
{
    if (err) {
        err->code = KS_ERR_CORRUPT;
        snprintf(err->file, sizeof err->file, "%s", name);
        err->line = err->col = 0;
        ks_error_prefix(err, "damaged file: %s", what);
    }
    return KS_ERR_CORRUPT;
}

__attribute__((format(printf, 3, 4))) static ks_status corrupt(const char *name, ks_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ks_error_vset(err, KS_ERR_CORRUPT, fmt, ap);
    va_end(ap);
    if (err)
        snprintf(err->file, sizeof err->file, "%s", name);
    return KS_ERR_CORRUPT;
}

/* Take n bytes (n read from the file: any value), or return 0. */
static int take(reader *r, uint64_t n, const unsigned char **out)
{
    if (n > r->left)
        return 0;
    *out = r->p;
    r->p += n;
    r->left -= (size_t)n;
    return 1;
}

/* Take a u32 (bytes 4) or u64 (bytes 8). */
static int take_int(reader *r, int bytes, uint64_t *x)
{
    const unsigned char *b;
    if (!take(r, (uint64_t)bytes, &b))
        return 0;
    *x = bytes == 4 ? get32(b) : get64(b);
    return 1;
}

/* Read one tensor entry: every length checked against what is left. */
static ks_status read_tensor(reader *r, const ksm_file *f, uint32_t i, ksm_tensor *t,
                             ks_error *err)
{
    const unsigned char *b = NULL;
    uint64_t len = 0, ndim = 0, dim = 0, count = 1;
    if (!take_int(r, 4, &len) || len == 0 || len > KSM_NAME_MAX || !take(r, len, &b) ||
        memchr(b, '\0', (size_t)len))
        return corrupt(f->name, err,
                       "damaged file: tensor %u of %u has a bad name (length %llu; expected 1 "
                       "to %u bytes, no NUL, within the file)",
                       i + 1, f->n_tensors, (unsigned long long)len, KSM_NAME_MAX);
    t->name = (const char *)b;
    t->name_len = (size_t)len;
    if (!take_int(r, 4, &ndim) || ndim > KS_MAX_DIMS)
        return corrupt(f->name, err, "damaged file: tensor \"%.*s\" has %llu axes, at most %d",
                       (int)len, t->name, (unsigned long long)ndim, KS_MAX_DIMS);
    t->shape.ndim = (int)ndim;
    for (int d = 0; d < (int)ndim; d++) {
        if (!take_int(r, 8, &dim) || dim < 1 || dim > INT_MAX)
            return corrupt(f->name, err,
                           "damaged file: tensor \"%.*s\" has an axis of size %llu, expected 1 "
                           "to %d",
                           (int)len, t->name, (unsigned long long)dim, INT_MAX);
        if (count > UINT64_MAX / dim)
            return corrupt(f->name, err,
                           "damaged file: tensor \"%.*s\" has a shape whose size overflows",
                           (int)len, t->name);
        count *= dim;
        t->shape.dim[d] = (int)dim;
    }
    if (count > r->left / 4 || !take(r, count * 4, &t->data))
        return corrupt(f->name, err,
                       "damaged file: tensor \"%.*s\" holds %llu floats, more than the %zu "
                       "bytes left",
                       (int)len, t->name, (unsigned long long)count, r->left);
    t->count = (size_t)count;
    return KS_OK;
}

/*
 * Check the frame (magic, version, size, checksum), then locate the sections and walk
 * every tensor entry once, so that later passes over them cannot fail on framing.
 */
static ks_status parse_file(const unsigned char *buf, size_t len, const char *name, ksm_file *f,
                            ks_error *err)
{
    reader r;
    const unsigned char *b;
    uint64_t size, x = 0;
    memset(f, 0, sizeof *f);
    f->name = name;
    if (len > 0 && memcmp(buf, KSM_MAGIC, len < 4 ? len : 4) != 0)
        return corrupt(name, err, "not a ksearch model file (bad magic)");
    if (len >= 8 && get32(buf + 4) > KSM_VERSION)
        return corrupt(name, err, "written by a newer ksearch (format %u), this one reads up to %u",
                       get32(buf + 4), KSM_VERSION);
    if (len >= 8 && get32(buf + 4) == 0)
        return corrupt(name, err, "damaged file: format version 0 does not exist");
    if (len < KSM_MIN_SIZE)
        return corrupt(name, err, "truncated file: %zu bytes, a model file has at least %u", len,
                       KSM_MIN_SIZE);
    size = get64(buf + 12);
    if (len < size)
        return corrupt(name, err, "truncated file: %zu of %llu bytes", len,
                       (unsigned long long)size);
    if (len > size)
        return corrupt(name, err, "damaged file: %zu bytes where its size field says %llu", len,
                       (unsigned long long)size);
    if (crc_update(crc32(0L, Z_NULL, 0), buf, len - 4) != get32(buf + len - 4))
        return corrupt(name, err, "damaged file (checksum mismatch)");

    /* the checksum holds: now the content, which may still be hostile */
    f->flags = get32(buf + 8);
    f->seed = get64(buf + 20);
    f->n_tensors = get32(buf + 32);
    if (f->flags & ~(KSM_HAS_CONFIG | KSM_HAS_OPTIMIZER))
        return corrupt(name, err, "damaged file: unknown flags 0x%x", f->flags);
    if (get32(buf + 28) > INT_MAX)
        return corrupt(name, err, "damaged file: epoch %u is out of range", get32(buf + 28));
    f->epoch = (int)get32(buf + 28);
    r.p = buf + 36;
    r.left = len - 4 - 36;
    if (!take_int(&r, 8, &x) || !(f->flags & KSM_HAS_CONFIG) != (x == 0) || !take(&r, x, &b))
        return corrupt(name, err, "damaged file: bad config length %llu", (unsigned long long)x);
    f->config = (const char *)b;
    f->config_len = (size_t)x;
    if (f->flags & KSM_HAS_OPTIMIZER) {
        if (!take_int(&r, 4, &x) || x == 0 || x > KSM_NAME_MAX || !take(&r, x, &b) ||
            memchr(b, '\0', (size_t)x))
            return corrupt(name, err, "damaged file: bad optimizer name");
        f->opt_name = (const char *)b;
        f->opt_name_len = (size_t)x;
        if (!take_int(&r, 8, &x) || x > INT64_MAX)
            return corrupt(name, err, "damaged file: bad optimizer iteration count");
        f->iterations = (int64_t)x;
        if (!take_int(&r, 8, &x) || !take_int(&r, 4, &f->n_slots))
            return corrupt(name, err, "damaged file: the optimizer section runs past the end");
        memcpy(&f->lr, &x, 8);
        if (!isfinite(f->lr) || f->lr < 0)
            return corrupt(name, err, "damaged file: learning rate %g is not a number >= 0",
                           f->lr);
    }
    /* every entry takes at least 4 + 1 + 4 bytes */
    if (f->n_tensors > r.left / 9)
        return corrupt(name, err, "damaged file: %u tensors cannot fit in the %zu bytes left",
                       f->n_tensors, r.left);
    f->tensors = r.p;
    f->tensors_len = r.left;
    for (uint32_t i = 0; i < f->n_tensors; i++) {
        ksm_tensor t;
        ks_status s = read_tensor(&r, f, i, &t, err);
        if (s != KS_OK)
            return s;
    }
    if (r.left != 0)
        return corrupt(name, err, "damaged file: %zu unexplained bytes after the last tensor",
                       r.left);
    return KS_OK;
}

/* "(12, 8)", "(8,)": a weight's shape as Python prints it. */
static const char *shape_text(const ks_shape *s, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "(");
    for (int d = 0; d < s->ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, "%s%d", d ? ", " : "", s->dim[d]);
    if (n < size)
        snprintf(buf + n, size - n, s->ndim == 1 ? ",)" : ")");
    return buf;
}

static int find_weight(const ks_model *m, const char *name, size_t len)
{
    for (int i = 0; i < m->n_weights; i++)
        if (strlen(m->weights[i]->name) == len && memcmp(m->weights[i]->name, name, len) == 0)
            return i;
    return -1;
}

/*
 * Where tensor t goes in m: *idx the weight, *slot -1 for the weight itself or the
 * optimizer slot.  Returns 0 when m has no such tensor.  Optimizer entries of a file
 * with optimizer state are skipped (*idx -1) without use_opt.
 */
static int locate(const ks_model *m, const ksm_file *f, const ksm_tensor *t, int use_opt,
                  int *slot, int *idx)
{
    size_t plen = strlen(KSM_OPT_PREFIX);
    const char *rest = t->name + plen, *end = t->name + t->name_len, *sep;
    *slot = *idx = -1;
    if (t->name_len <= plen || memcmp(t->name, KSM_OPT_PREFIX, plen) != 0) {
        *idx = find_weight(m, t->name, t->name_len);
        return *idx >= 0;
    }
    if (!use_opt)
        return (f->flags & KSM_HAS_OPTIMIZER) != 0;
    if (!(sep = memchr(rest, '/', (size_t)(end - rest))))
        return 0;
    for (int k = 0; k < m->opt->n_slots; k++)
        if (strlen(m->opt->slot_names[k]) == (size_t)(sep - rest) &&
            memcmp(m->opt->slot_names[k], rest, (size_t)(sep - rest)) == 0)
            *slot = k;
    if (*slot >= 0)
        *idx = find_weight(m, sep + 1, (size_t)(end - sep - 1));
    return *idx >= 0;
}

/*
 * Check that f's tensors are exactly m's weights (and optimizer slots with use_opt)
 * with equal shapes; only then copy them in.  A mismatch is code: CORRUPT for a file
 * that disagrees with its own config, SHAPE for a file loaded into another model.
 */
static ks_status bind_tensors(ks_model *m, const ksm_file *f, int use_opt, ks_status code,
                              ks_error *err)
{
    size_t nw = (size_t)m->n_weights, n_want = nw * (1 + (use_opt ? m->opt->n_slots : 0));
    unsigned char *seen = calloc(n_want + 1, 1);
    ks_status s = KS_OK;
    char a[96], b[96];
    if (!seen)
        return ks_error_set_at(err, KS_ERR_NOMEM, f->name, 0, 0, "out of memory");
    for (int pass = 0; pass < 2 && s == KS_OK; pass++) {
        reader r = {f->tensors, f->tensors_len};
        for (uint32_t i = 0; i < f->n_tensors && s == KS_OK; i++) {
            ksm_tensor t;
            int slot, idx;
            if ((s = read_tensor(&r, f, i, &t, err)) != KS_OK)
                break;
            if (!locate(m, f, &t, use_opt, &slot, &idx))
                s = ks_error_set_at(err, code, f->name, 0, 0,
                                    "the file has a tensor \"%.*s\" that the model does not "
                                    "have",
                                    (int)t.name_len, t.name);
            else if (idx < 0)
                continue;   /* optimizer state for a model without an optimizer */
            else if (pass == 0 && !ks_shape_equal(&t.shape, &m->weights[idx]->shape))
                s = ks_error_set_at(err, code, f->name, 0, 0,
                                    "weight \"%.*s\" has shape %s in the file but %s in the "
                                    "model",
                                    (int)t.name_len, t.name, shape_text(&t.shape, a, sizeof a),
                                    shape_text(&m->weights[idx]->shape, b, sizeof b));
            else if (pass == 0 && seen[(size_t)(slot + 1) * nw + (size_t)idx]++)
                s = corrupt(f->name, err, "damaged file: tensor \"%.*s\" appears twice",
                            (int)t.name_len, t.name);
            else if (pass == 1) {
                const ks_weight *w = m->weights[idx];
                float *dst = slot < 0 ? w->w : m->slots + (size_t)slot * m->n_params + w->offset;
                for (size_t j = 0; j < t.count; j++) {
                    uint32_t u = get32(t.data + 4 * j);
                    memcpy(&dst[j], &u, 4);
                }
            }
        }
        for (size_t k = 0; pass == 0 && s == KS_OK && k < n_want; k++)
            if (!seen[k] && k < nw)
                s = ks_error_set_at(err, code, f->name, 0, 0,
                                    "the model's weight \"%s\" is not in the file",
                                    m->weights[k]->name);
            else if (!seen[k])
                s = ks_error_set_at(err, code, f->name, 0, 0,
                                    "optimizer state \"" KSM_OPT_PREFIX "%s/%s\" is not in the "
                                    "file",
                                    m->opt->slot_names[k / nw - 1], m->weights[k % nw]->name);
    }
    free(seen);
    if (s == KS_OK && use_opt) {
        m->iterations = f->iterations;
        m->lr = f->lr;
    }
    return s;
}

/* Whether the file's optimizer state is for m's optimizer (name and slot count). */
static ks_status check_optimizer(const ks_model *m, const ksm_file *f, ks_status code,
                                 ks_error *err)
{
    if (strlen(m->opt->name) != f->opt_name_len ||
        memcmp(m->opt->name, f->opt_name, f->opt_name_len) != 0)
        return ks_error_set_at(err, code, f->name, 0, 0,
                               "the file holds optimizer state of %.*s but the model is "
                               "compiled with %s",
                               (int)f->opt_name_len, f->opt_name, m->opt->name);
    if (f->n_slots != (uint64_t)m->opt->n_slots)
        return ks_error_set_at(err, code, f->name, 0, 0,
                               "the file holds %llu state arrays per weight for %s, expected %d",
                               (unsigned long long)f->n_slots, m->opt->name, m->opt->n_slots);
    return KS_OK;
}

/* Build the model the config describes, compiled if it says so, with its meta. */
static ks_status build_model(const ksm_file *f, ks_model **out, ks_error *err)
{
    ks_value cfg;
    const ks_value *layers, *compile, *meta;
    ks_model *m = NULL;
    ks_status s = ks_value_from_json(f->config, f->config_len, f->name, &cfg, err);
    *out = NULL;
    if (s != KS_OK)
        return s == KS_ERR_NOMEM ? s : recode(f->name, err, "its config is not JSON");
    ks_value_forget_source(&cfg);
    layers = ks_value_get(&cfg, "layers");
    compile = ks_value_get(&cfg, "compile");
    meta = ks_value_get(&cfg, "meta");
    if (!layers || (layers->kind != KS_VALUE_LIST && layers->kind != KS_VALUE_MAP) ||
        (compile && compile->kind != KS_VALUE_MAP && compile->kind != KS_VALUE_NULL) ||
        (meta && meta->kind != KS_VALUE_MAP) || cfg.n != 1u + !!compile + !!meta) {
        ks_value_free(&cfg);
        return corrupt(f->name, err,
                       "damaged file: its config is not {\"layers\": [...], \"compile\": {...} "
                       "or null, \"meta\": {...}}");
    }
    /* an honest file holds every weight: its size bounds the model's */
    s = ks_model_build(layers, NULL, f->seed, f->tensors_len / sizeof(float) + 1, &m, err);
    if (s == KS_OK && compile && compile->kind == KS_VALUE_MAP)
        s = ks_model_compile(m, compile, err);
    if (s == KS_OK && meta) {
        ks_value_free(&m->meta);
        s = ks_value_clone(meta, &m->meta);
        free(m->meta.key);      /* the clone kept its member key */
        m->meta.key = NULL;
        if (s != KS_OK)
            ks_value_init(&m->meta, KS_VALUE_MAP);
    }
    ks_value_free(&cfg);
    if (s != KS_OK) {
        ks_model_free(m);
        if (s == KS_ERR_NOMEM)
            return ks_error_set_at(err, s, f->name, 0, 0, "out of memory building the model");
        return recode(f->name, err, "its config does not build a model");
    }
    *out = m;
    return KS_OK;
}

ks_status ks_model_load_buffer(const unsigned char *buf, size_t len, const char *name,
                               ks_model **out, int *epoch, ks_error *err)
{
    ksm_file f;
    ks_model *m;
    ks_status s;
    int has_opt;
    *out = NULL;
    if (epoch)
        *epoch = 0;
    name = name ? name : "model buffer";
    if ((s = parse_file(buf, len, name, &f, err)) != KS_OK)
        return s;
    if (!(f.flags & KSM_HAS_CONFIG))
        return ks_error_set_at(err, KS_ERR_CONFIG, name, 0, 0,
                               "the file holds weights only (no config); build the model from "
                               "its config and load them with ks_model_load_weights");
    if ((s = build_model(&f, &m, err)) != KS_OK)
        return s;
    has_opt = (f.flags & KSM_HAS_OPTIMIZER) != 0;
    if (has_opt && !m->compiled)
        s = corrupt(name, err, "damaged file: optimizer state but no compile section");
    else if (has_opt)
        s = check_optimizer(m, &f, KS_ERR_CORRUPT, err);
    if (s == KS_OK)
        s = bind_tensors(m, &f, has_opt, KS_ERR_CORRUPT, err);
    if (s != KS_OK) {
        ks_model_free(m);
        return s;
    }
    if (epoch)
        *epoch = f.epoch;
    *out = m;
    return KS_OK;
}

ks_status ks_model_load(const char *path, ks_model **out, int *epoch, ks_error *err)
{
    unsigned char *buf;
    size_t len;
    ks_status s;
    *out = NULL;
    if (epoch)
        *epoch = 0;
    if ((s = ks_read_file_gz(path, &buf, &len, err)) != KS_OK)
        return s;
    s = ks_model_load_buffer(buf, len, path, out, epoch, err);
    free(buf);
    return s;
}

/*
 * Optimizer state goes into a model compiled with the same optimizer; an uncompiled
 * model has nowhere to put it, and gets the weights alone.  The config, if any, is
 * not compared: the weights' names and shapes must match.
 */
ks_status ks_model_load_weights(ks_model *m, const char *path, int *epoch, ks_error *err)
{
    unsigned char *buf;
    size_t len;
    ksm_file f;
    ks_status s;
    int use_opt;
    if (epoch)
        *epoch = 0;
    if ((s = ks_read_file_gz(path, &buf, &len, err)) != KS_OK)
        return s;
    s = parse_file(buf, len, path, &f, err);
    use_opt = s == KS_OK && (f.flags & KSM_HAS_OPTIMIZER) && m->compiled && m->opt;
    if (s == KS_OK && use_opt)
        s = check_optimizer(m, &f, KS_ERR_CONFIG, err);
    if (s == KS_OK)
        s = bind_tensors(m, &f, use_opt, KS_ERR_SHAPE, err);
    if (s == KS_OK && epoch)
        *epoch = f.epoch;
    free(buf);
    return s;
}
