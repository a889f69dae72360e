/*
 * model_file_load.c — reading .ksm model files (the layout is documented in
 * model_file.c): the frame (magic, version, size, checksum) first, then every length,
 * name and shape bounded by the bytes left, then the tensors bound to the model's
 * weights by (slot, name).  A damaged or hostile file is an error message, never a crash.
 */
#include "engine_impl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

static uint32_t get32(const unsigned char *b)
{
    return (uint32_t)ks_le_get(b, 4);
}

/* A file's sections, located and checked against its size (nothing is used yet). */
typedef struct ksm_file {
    const char *name;           /* for messages: the path, or the buffer's name */
    uint32_t version;
    uint32_t flags;             /* KS_KSM_HAS_* */
    uint64_t seed;
    int epoch;
    const char *config;         /* config_len bytes of JSON */
    size_t config_len;
    const char *opt_name;       /* optimizer class name, opt_name_len bytes */
    size_t opt_name_len;
    int64_t iterations;
    double lr;
    uint64_t n_slots;           /* version 1: any value read; version 2: <= KS_KSM_MAX_SLOTS */
    const char *slot_name[KS_KSM_MAX_SLOTS];   /* version 2: the slots' names, slot_len bytes */
    size_t slot_len[KS_KSM_MAX_SLOTS];
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
    uint32_t slot;              /* 0: a weight; k: the file's k-th optimizer slot (version 2) */
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
    *x = ks_le_get(b, bytes);
    return 1;
}

/* Take a name: u32 length (1..KS_KSM_NAME_MAX), then that many bytes without NUL. */
static int take_name(reader *r, const char **name, size_t *len)
{
    const unsigned char *b;
    uint64_t n = 0;
    if (!take_int(r, 4, &n) || n == 0 || n > KS_KSM_NAME_MAX || !take(r, n, &b) ||
        memchr(b, '\0', (size_t)n))
        return 0;
    *name = (const char *)b;
    *len = (size_t)n;
    return 1;
}

/* Read one tensor entry: every length checked against what is left. */
static ks_status read_tensor(reader *r, const ksm_file *f, uint32_t i, ksm_tensor *t,
                             ks_error *err)
{
    uint64_t slot = 0, ndim = 0, dim = 0, count = 1;
    int len;
    if (f->version >= KS_KSM_VERSION_SLOTS && (!take_int(r, 4, &slot) || slot > f->n_slots))
        return corrupt(f->name, err,
                       "damaged file: tensor %u of %u is for optimizer slot %llu, the file "
                       "has %llu",
                       i + 1, f->n_tensors, (unsigned long long)slot,
                       (unsigned long long)f->n_slots);
    t->slot = (uint32_t)slot;
    if (!take_name(r, &t->name, &t->name_len))
        return corrupt(f->name, err,
                       "damaged file: tensor %u of %u has a bad name (expected 1 to %u bytes, "
                       "no NUL, within the file)",
                       i + 1, f->n_tensors, KS_KSM_NAME_MAX);
    len = (int)t->name_len;
    if (!take_int(r, 4, &ndim) || ndim > KS_MAX_DIMS)
        return corrupt(f->name, err, "damaged file: tensor \"%.*s\" has %llu axes, at most %d",
                       len, t->name, (unsigned long long)ndim, KS_MAX_DIMS);
    t->shape.ndim = (int)ndim;
    for (int d = 0; d < (int)ndim; d++) {
        if (!take_int(r, 8, &dim) || dim < 1 || dim > INT_MAX)
            return corrupt(f->name, err,
                           "damaged file: tensor \"%.*s\" has an axis of size %llu, expected 1 "
                           "to %d",
                           len, t->name, (unsigned long long)dim, INT_MAX);
        if (count > UINT64_MAX / dim)
            return corrupt(f->name, err,
                           "damaged file: tensor \"%.*s\" has a shape whose size overflows",
                           len, t->name);
        count *= dim;
        t->shape.dim[d] = (int)dim;
    }
    if (count > r->left / 4 || !take(r, count * 4, &t->data))
        return corrupt(f->name, err,
                       "damaged file: tensor \"%.*s\" holds %llu floats, more than the %zu "
                       "bytes left",
                       len, t->name, (unsigned long long)count, r->left);
    t->count = (size_t)count;
    return KS_OK;
}

/* The optimizer section (flags bit 1): name, iterations, learning rate, slots. */
static ks_status read_optimizer(reader *r, ksm_file *f, ks_error *err)
{
    uint64_t x = 0;
    if (!take_name(r, &f->opt_name, &f->opt_name_len))
        return corrupt(f->name, err, "damaged file: bad optimizer name");
    if (!take_int(r, 8, &x) || x > INT64_MAX)
        return corrupt(f->name, err, "damaged file: bad optimizer iteration count");
    f->iterations = (int64_t)x;
    if (!take_int(r, 8, &x) || !take_int(r, 4, &f->n_slots))
        return corrupt(f->name, err, "damaged file: the optimizer section runs past the end");
    memcpy(&f->lr, &x, 8);
    if (!isfinite(f->lr) || f->lr < 0)
        return corrupt(f->name, err, "damaged file: learning rate %g is not a number >= 0",
                       f->lr);
    if (f->version < KS_KSM_VERSION_SLOTS)
        return KS_OK;
    if (f->n_slots > KS_KSM_MAX_SLOTS)
        return corrupt(f->name, err, "damaged file: %llu optimizer slots, at most %u",
                       (unsigned long long)f->n_slots, KS_KSM_MAX_SLOTS);
    for (uint64_t k = 0; k < f->n_slots; k++) {
        if (!take_name(r, &f->slot_name[k], &f->slot_len[k]))
            return corrupt(f->name, err, "damaged file: optimizer slot %llu has a bad name",
                           (unsigned long long)k + 1);
        for (uint64_t j = 0; j < k; j++)
            if (f->slot_len[j] == f->slot_len[k] &&
                memcmp(f->slot_name[j], f->slot_name[k], f->slot_len[k]) == 0)
                return corrupt(f->name, err, "damaged file: optimizer slot \"%.*s\" appears twice",
                               (int)f->slot_len[k], f->slot_name[k]);
    }
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
    if (len > 0 && memcmp(buf, KS_KSM_MAGIC, len < 4 ? len : 4) != 0)
        return corrupt(name, err, "not a ksearch model file (bad magic)");
    if (len >= 8 && get32(buf + 4) > KS_KSM_VERSION)
        return corrupt(name, err, "written by a newer ksearch (format %u), this one reads up to %u",
                       get32(buf + 4), KS_KSM_VERSION);
    if (len >= 8 && get32(buf + 4) == 0)
        return corrupt(name, err, "damaged file: format version 0 does not exist");
    if (len < KS_KSM_MIN_SIZE)
        return corrupt(name, err, "truncated file: %zu bytes, a model file has at least %u", len,
                       KS_KSM_MIN_SIZE);
    size = ks_le_get(buf + 12, 8);
    if (len < size)
        return corrupt(name, err, "truncated file: %zu of %llu bytes", len,
                       (unsigned long long)size);
    if (len > size)
        return corrupt(name, err, "damaged file: %zu bytes where its size field says %llu", len,
                       (unsigned long long)size);
    if (ks_crc32_update(0, buf, len - 4) != get32(buf + len - 4))
        return corrupt(name, err, "damaged file (checksum mismatch)");

    /* the checksum holds: now the content, which may still be hostile */
    f->version = get32(buf + 4);
    f->flags = get32(buf + 8);
    f->seed = ks_le_get(buf + 20, 8);
    f->n_tensors = get32(buf + 32);
    if (f->flags & ~(KS_KSM_HAS_CONFIG | KS_KSM_HAS_OPTIMIZER))
        return corrupt(name, err, "damaged file: unknown flags 0x%x", f->flags);
    if (get32(buf + 28) > INT_MAX)
        return corrupt(name, err, "damaged file: epoch %u is out of range", get32(buf + 28));
    f->epoch = (int)get32(buf + 28);
    r.p = buf + 36;
    r.left = len - 4 - 36;
    if (!take_int(&r, 8, &x) || !(f->flags & KS_KSM_HAS_CONFIG) != (x == 0) || !take(&r, x, &b))
        return corrupt(name, err, "damaged file: bad config length %llu", (unsigned long long)x);
    f->config = (const char *)b;
    f->config_len = (size_t)x;
    if (f->flags & KS_KSM_HAS_OPTIMIZER) {
        ks_status s = read_optimizer(&r, f, err);
        if (s != KS_OK)
            return s;
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

/* The index of the slot named name (len bytes) in m's optimizer, or -1. */
static int find_slot(const ks_model *m, const char *name, size_t len)
{
    for (int k = 0; k < m->opt->n_slots; k++)
        if (strlen(m->opt->slot_names[k]) == len && memcmp(m->opt->slot_names[k], name, len) == 0)
            return k;
    return -1;
}

/* A version 1 name: a weight's, else "optimizer/<slot>/<weight>" (*slot, *idx set). */
static int locate_v1(const ks_model *m, const ksm_file *f, const ksm_tensor *t, int use_opt,
                     int *slot, int *idx)
{
    size_t plen = strlen(KS_KSM_V1_OPT_PREFIX);
    const char *rest = t->name + plen, *end = t->name + t->name_len, *sep;
    if ((*idx = find_weight(m, t->name, t->name_len)) >= 0)
        return 1;
    if (t->name_len <= plen || memcmp(t->name, KS_KSM_V1_OPT_PREFIX, plen) != 0)
        return 0;
    if (!use_opt)
        return (f->flags & KS_KSM_HAS_OPTIMIZER) != 0;
    if (!(sep = memchr(rest, '/', (size_t)(end - rest))) ||
        (*slot = find_slot(m, rest, (size_t)(sep - rest))) < 0)
        return 0;
    *idx = find_weight(m, sep + 1, (size_t)(end - sep - 1));
    return *idx >= 0;
}

/*
 * Where tensor t goes in m: *idx the weight, *slot -1 for the weight itself or the
 * optimizer slot.  Returns 0 when m has no such tensor.  Optimizer entries of a file
 * with optimizer state are skipped (*idx -1) without use_opt.
 */
static int locate(const ks_model *m, const ksm_file *f, const ksm_tensor *t, int use_opt,
                  int *slot, int *idx)
{
    *slot = *idx = -1;
    if (f->version < KS_KSM_VERSION_SLOTS)
        return locate_v1(m, f, t, use_opt, slot, idx);
    if (t->slot > 0 && !use_opt)
        return 1;
    if (t->slot > 0 &&
        (*slot = find_slot(m, f->slot_name[t->slot - 1], f->slot_len[t->slot - 1])) < 0)
        return 0;
    *idx = find_weight(m, t->name, t->name_len);
    return *idx >= 0;
}

/* "\"dense/kernel\"" or "optimizer state \"momentum\" of \"dense/kernel\"", for messages. */
static const char *tensor_text(const ksm_file *f, const ksm_tensor *t, char *buf, size_t size)
{
    if (f->version >= KS_KSM_VERSION_SLOTS && t->slot > 0)
        snprintf(buf, size, "optimizer state \"%.*s\" of \"%.*s\"",
                 (int)f->slot_len[t->slot - 1], f->slot_name[t->slot - 1], (int)t->name_len,
                 t->name);
    else
        snprintf(buf, size, "\"%.*s\"", (int)t->name_len, t->name);
    return buf;
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
    char a[96], b[96], what[2 * KS_KSM_NAME_MAX + 64];
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
                                    "the file has a tensor %s that the model does not have",
                                    tensor_text(f, &t, what, sizeof what));
            else if (idx < 0)
                continue;   /* optimizer state for a model without an optimizer */
            else if (pass == 0 && !ks_shape_equal(&t.shape, &m->weights[idx]->shape))
                s = ks_error_set_at(err, code, f->name, 0, 0,
                                    "weight %s has shape %s in the file but %s in the model",
                                    tensor_text(f, &t, what, sizeof what),
                                    shape_text(&t.shape, a, sizeof a),
                                    shape_text(&m->weights[idx]->shape, b, sizeof b));
            else if (pass == 0 && seen[(size_t)(slot + 1) * nw + (size_t)idx]++)
                s = corrupt(f->name, err, "damaged file: tensor %s appears twice",
                            tensor_text(f, &t, what, sizeof what));
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
                                    "optimizer state \"%s\" of \"%s\" is not in the file",
                                    m->opt->slot_names[k / nw - 1], m->weights[k % nw]->name);
    }
    free(seen);
    if (s == KS_OK && use_opt) {
        m->iterations = f->iterations;
        m->lr = f->lr;
    }
    return s;
}

/* Whether the file's optimizer state is for m's optimizer (name, slot count and names). */
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
    /* version 2: distinct names, as many as the model's: each must be one of them */
    for (uint64_t k = 0; f->version >= KS_KSM_VERSION_SLOTS && k < f->n_slots; k++)
        if (find_slot(m, f->slot_name[k], f->slot_len[k]) < 0)
            return ks_error_set_at(err, code, f->name, 0, 0,
                                   "the file holds optimizer state \"%.*s\" that %s does not "
                                   "keep",
                                   (int)f->slot_len[k], f->slot_name[k], m->opt->name);
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
    if (!layers || layers->kind != KS_VALUE_LIST ||
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
    if (!(f.flags & KS_KSM_HAS_CONFIG))
        return ks_error_set_at(err, KS_ERR_CONFIG, name, 0, 0,
                               "the file holds weights only (no config); build the model from "
                               "its config and load them with ks_model_load_weights");
    if ((s = build_model(&f, &m, err)) != KS_OK)
        return s;
    has_opt = (f.flags & KS_KSM_HAS_OPTIMIZER) != 0;
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
    if ((s = ks_read_file_sized(path, KS_KSM_MAGIC, 12, &buf, &len, err)) != KS_OK)
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
    if ((s = ks_read_file_sized(path, KS_KSM_MAGIC, 12, &buf, &len, err)) != KS_OK)
        return s;
    s = parse_file(buf, len, path, &f, err);
    use_opt = s == KS_OK && (f.flags & KS_KSM_HAS_OPTIMIZER) && m->compiled && m->opt;
    if (s == KS_OK && use_opt)
        s = check_optimizer(m, &f, KS_ERR_CONFIG, err);
    if (s == KS_OK)
        s = bind_tensors(m, &f, use_opt, KS_ERR_SHAPE, err);
    if (s == KS_OK && epoch)
        *epoch = f.epoch;
    free(buf);
    return s;
}
