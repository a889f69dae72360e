/*
 * data_npy.c — NumPy .npy files (format 1.0, 2.0 and 3.0; raw or gzip-compressed):
 * a magic string, a Python dict literal giving dtype, order and shape, then the
 * elements.  Little-endian numeric dtypes in C order; everything in the header is
 * untrusted and checked before use.
 */
#include "engine_impl.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define NPY_MAX_RANK (KS_MAX_DIMS + 1)
#define NPY_MAX_BYTES ((uint64_t)1 << 40)   /* 1 TiB: any larger size is an error */
#define NPY_MAX_HEADER (1 << 20)            /* bytes of header text (numpy writes < 1 KiB) */

typedef enum npy_kind { NPY_FLOAT, NPY_SIGNED, NPY_UNSIGNED, NPY_BOOL } npy_kind;

/* The dtypes read: descr without its byte-order character. */
static const struct npy_dtype {
    const char *code;
    npy_kind kind;
    int size;
} npy_dtypes[] = {
    {"f2", NPY_FLOAT, 2},    {"f4", NPY_FLOAT, 4},    {"f8", NPY_FLOAT, 8},
    {"i1", NPY_SIGNED, 1},   {"i2", NPY_SIGNED, 2},   {"i4", NPY_SIGNED, 4},
    {"i8", NPY_SIGNED, 8},   {"u1", NPY_UNSIGNED, 1}, {"u2", NPY_UNSIGNED, 2},
    {"u4", NPY_UNSIGNED, 4}, {"u8", NPY_UNSIGNED, 8}, {"b1", NPY_BOOL, 1},
    {NULL, NPY_FLOAT, 0}};

typedef struct npy_header {
    char descr[32];
    int have_descr, have_order, have_shape;
    int fortran;
    int rank;
    uint64_t dim[NPY_MAX_RANK];
} npy_header;

/* A cursor over the header text; errors say where in the header they are. */
typedef struct npy_text {
    const char *s;
    size_t len, pos;
    const char *path;
    ks_error *err;
} npy_text;

static ks_status header_error(npy_text *t, const char *what)
{
    char near[24];
    size_t k = 0;
    for (size_t i = t->pos; i < t->len && k < 12; i++)
        near[k++] = isprint((unsigned char)t->s[i]) ? t->s[i] : '?';
    near[k] = '\0';
    return ks_error_set_at(t->err, KS_ERR_CORRUPT, t->path, 0, 0,
                           "bad .npy header at byte %zu: %s, got \"%s\"", t->pos, what,
                           t->pos < t->len ? near : "the end of the header");
}

static void skip_space(npy_text *t)
{
    while (t->pos < t->len && (t->s[t->pos] == ' ' || t->s[t->pos] == '\t' ||
                               t->s[t->pos] == '\n' || t->s[t->pos] == '\r'))
        t->pos++;
}

static int peek(npy_text *t)
{
    skip_space(t);
    return t->pos < t->len ? (unsigned char)t->s[t->pos] : -1;
}

static int accept(npy_text *t, char c)
{
    if (peek(t) != (unsigned char)c)
        return 0;
    t->pos++;
    return 1;
}

/* A Python string literal in '…' or "…" (no escapes: no key or dtype needs them). */
static ks_status read_string(npy_text *t, char *out, size_t size, const char *what)
{
    int q = peek(t);
    size_t start, n;
    if (q != '\'' && q != '"')
        return header_error(t, what);
    start = ++t->pos;
    while (t->pos < t->len && t->s[t->pos] != q && t->s[t->pos] != '\\')
        t->pos++;
    if (t->pos >= t->len || t->s[t->pos] != q) {
        t->pos = start - 1;
        return header_error(t, "a string without escapes and with its closing quote");
    }
    n = t->pos - start;
    t->pos++;
    if (n >= size) {
        t->pos = start - 1;
        return header_error(t, "a shorter string");
    }
    memcpy(out, t->s + start, n);
    out[n] = '\0';
    return KS_OK;
}

static ks_status read_bool(npy_text *t, int *out)
{
    peek(t);
    if (t->len - t->pos >= 4 && memcmp(t->s + t->pos, "True", 4) == 0) {
        t->pos += 4;
        *out = 1;
    } else if (t->len - t->pos >= 5 && memcmp(t->s + t->pos, "False", 5) == 0) {
        t->pos += 5;
        *out = 0;
    } else {
        return header_error(t, "True or False for 'fortran_order'");
    }
    return KS_OK;
}

/* A tuple of non-negative integers: (), (3,), (3, 4), and the 2-era (3L, 4L). */
static ks_status read_shape(npy_text *t, npy_header *h)
{
    if (!accept(t, '('))
        return header_error(t, "a tuple such as (60000, 28, 28) for 'shape'");
    h->rank = 0;
    while (peek(t) != ')') {
        uint64_t d = 0;
        int digits = 0;
        if (h->rank == NPY_MAX_RANK)
            return header_error(t, "a shape of at most 7 dimensions");
        while (t->pos < t->len && t->s[t->pos] >= '0' && t->s[t->pos] <= '9') {
            d = d * 10 + (uint64_t)(t->s[t->pos++] - '0');
            if (d > NPY_MAX_BYTES)
                return header_error(t, "a dimension of at most 2^40");
            digits++;
        }
        if (!digits)
            return header_error(t, "a non-negative integer in 'shape'");
        if (t->pos < t->len && (t->s[t->pos] == 'L' || t->s[t->pos] == 'l'))
            t->pos++;
        h->dim[h->rank++] = d;
        if (!accept(t, ',')) {
            if (peek(t) != ')')
                return header_error(t, "',' or ')' in 'shape'");
        }
    }
    t->pos++;
    return KS_OK;
}

static ks_status parse_header(npy_text *t, npy_header *h)
{
    ks_status s;
    _Static_assert(NPY_MAX_RANK == 7, "the message in read_shape says 7");
    memset(h, 0, sizeof *h);
    if (!accept(t, '{'))
        return header_error(t, "a dict starting with '{'");
    while (!accept(t, '}')) {
        char key[32];
        if ((s = read_string(t, key, sizeof key, "a quoted key or '}'")) != KS_OK)
            return s;
        if (!accept(t, ':'))
            return header_error(t, "':' after a key");
        if (strcmp(key, "descr") == 0 && !h->have_descr) {
            if (peek(t) == '[')
                return ks_error_set_at(t->err, KS_ERR_CONFIG, t->path, 0, 0,
                                       "the array has a structured dtype (fields); expected "
                                       "a plain numeric array");
            s = read_string(t, h->descr, sizeof h->descr, "a dtype string such as '<f4'");
            if (s != KS_OK)
                return s;
            h->have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !h->have_order) {
            if ((s = read_bool(t, &h->fortran)) != KS_OK)
                return s;
            h->have_order = 1;
        } else if (strcmp(key, "shape") == 0 && !h->have_shape) {
            if ((s = read_shape(t, h)) != KS_OK)
                return s;
            h->have_shape = 1;
        } else {
            int known = !strcmp(key, "descr") || !strcmp(key, "fortran_order") ||
                        !strcmp(key, "shape");
            return ks_error_set_at(t->err, KS_ERR_CORRUPT, t->path, 0, 0,
                                   "bad .npy header: %s key '%s'; expected 'descr', "
                                   "'fortran_order' and 'shape' once each",
                                   known ? "repeated" : "unknown", key);
        }
        if (!accept(t, ',') && peek(t) != '}')
            return header_error(t, "',' or '}' after a value");
    }
    while (t->pos < t->len && strchr(" \t\n\r", t->s[t->pos]))   /* also NUL padding */
        t->pos++;
    if (t->pos != t->len)
        return header_error(t, "only padding after the dict");
    if (!h->have_descr || !h->have_order || !h->have_shape)
        return ks_error_set_at(t->err, KS_ERR_CORRUPT, t->path, 0, 0,
                               "bad .npy header: no '%s' key",
                               !h->have_descr ? "descr" : !h->have_order ? "fortran_order"
                                                                         : "shape");
    return KS_OK;
}

/* The dtype of descr, or an error saying why it is not read. */
static ks_status find_dtype(const char *path, const char *descr, const struct npy_dtype **out,
                            ks_error *err)
{
    char order = descr[0];
    const char *code = descr[0] ? descr + 1 : descr;
    for (const struct npy_dtype *d = npy_dtypes; d->code; d++) {
        if (strcmp(d->code, code) != 0 || (order != '<' && order != '>' && order != '|') ||
            (order == '|' && d->size > 1))
            continue;
        if (order == '>' && d->size > 1)
            return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                                   "the array is big-endian ('%s'); expected little-endian "
                                   "(save it with a.astype('<%s'))",
                                   descr, code);
        *out = d;
        return KS_OK;
    }
    return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                           "dtype '%s' is not supported; expected float16/32/64, "
                           "(u)int8/16/32/64 or bool",
                           descr);
}

static uint64_t le(const unsigned char *p, int size)
{
    uint64_t u = 0;
    for (int i = size - 1; i >= 0; i--)
        u = u << 8 | p[i];
    return u;
}

static double half_to_double(unsigned h)
{
    int e = (int)(h >> 10 & 0x1f);
    double m = (double)(h & 0x3ff), v;
    if (e == 0)
        v = ldexp(m, -24);
    else if (e == 31)
        v = m ? NAN : INFINITY;
    else
        v = ldexp(m + 1024.0, e - 25);
    return h & 0x8000 ? -v : v;
}

static double element(const unsigned char *p, const struct npy_dtype *d)
{
    uint64_t u = le(p, d->size);
    switch (d->kind) {
    case NPY_FLOAT:
        if (d->size == 2)
            return half_to_double((unsigned)u);
        if (d->size == 4) {
            uint32_t u32 = (uint32_t)u;
            float f;
            memcpy(&f, &u32, 4);
            return f;
        } else {
            double v;
            memcpy(&v, &u, 8);
            return v;
        }
    case NPY_SIGNED:
        if (d->size < 8 && (u >> (8 * d->size - 1) & 1))
            u |= ~(uint64_t)0 << (8 * d->size);           /* sign-extend */
        return (double)(int64_t)u;
    case NPY_UNSIGNED:
        return (double)u;
    case NPY_BOOL:
        return u != 0;
    }
    return 0.0;
}

/* Convert count elements of dtype (a struct npy_dtype *) to float32 / scale. */
static size_t convert(const unsigned char *p, size_t count, const void *type, double scale,
                      float *out)
{
    const struct npy_dtype *d = type;
    if (d->size == 1) {
        float table[256];
        for (int i = 0; i < 256; i++) {
            unsigned char b = (unsigned char)i;
            table[i] = (float)(element(&b, d) / scale);
        }
        for (size_t i = 0; i < count; i++) {
            out[i] = table[p[i]];
            if (!isfinite(out[i]))
                return i;
        }
        return count;
    }
    for (size_t i = 0; i < count; i++) {
        out[i] = (float)(element(p + i * (size_t)d->size, d) / scale);
        if (!isfinite(out[i]))
            return i;
    }
    return count;
}

/* The preamble: magic, version, header length; *hlen bounded, the header text read. */
static ks_status read_preamble(ks_stream *st, const char *path, char **text, size_t *hlen,
                               ks_error *err)
{
    unsigned char b[12];
    uint64_t got, want;
    ks_status s;
    *text = NULL;
    if ((s = ks_stream_read(st, b, 10, &got, err)) != KS_OK)
        return s;
    if (got >= 4 && memcmp(b, "PK\x03\x04", 4) == 0)
        return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                               "this is a .npz archive; expected one array saved with "
                               "numpy.save");
    if (got < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                               "not a .npy file (bad magic string)");
    if (b[6] < 1 || b[6] > 3)
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                               "unsupported .npy format version %u.%u; expected 1.0, 2.0 or 3.0",
                               b[6], b[7]);
    if (b[6] == 1) {
        *hlen = (size_t)le(b + 8, 2);
    } else {
        if ((s = ks_stream_read(st, b + 10, 2, &got, err)) != KS_OK)
            return s;
        if (got < 2)
            return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                                   "truncated: the file ends inside the .npy header");
        *hlen = (size_t)le(b + 8, 4);
    }
    if (*hlen > NPY_MAX_HEADER)
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                               "the .npy header is %zu bytes, at most %d", *hlen,
                               NPY_MAX_HEADER);
    want = *hlen;
    if (!(*text = malloc(*hlen + 1)))
        return ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory");
    if ((s = ks_stream_read(st, *text, want, &got, err)) != KS_OK)
        return s;
    if (got < want)
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                               "truncated: the .npy header is %zu bytes, the file has %llu",
                               *hlen, (unsigned long long)(st->offset));
    return KS_OK;
}

/* The header dict's meaning: dtype, C order, and the rows and per-row shape. */
static ks_status read_header(ks_stream *st, const char *path, const struct npy_dtype **dt,
                             uint64_t *rows, ks_shape *shape, uint64_t *row_elems,
                             ks_error *err)
{
    npy_header h;
    npy_text t;
    char *text;
    size_t hlen = 0;
    ks_status s = read_preamble(st, path, &text, &hlen, err);
    t.s = text;
    t.len = hlen;
    t.pos = 0;
    t.path = path;
    t.err = err;
    if (s == KS_OK && (s = parse_header(&t, &h)) == KS_OK)
        s = find_dtype(path, h.descr, dt, err);
    free(text);
    if (s != KS_OK)
        return s;
    if (h.fortran)
        return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                               "the array is in Fortran order; expected C order (save "
                               "numpy.ascontiguousarray(a))");
    if (h.rank < 1)
        return ks_error_set_at(err, KS_ERR_SHAPE, path, 0, 0,
                               "the array is a scalar (shape ()); expected one row per sample");
    *rows = h.dim[0];
    *row_elems = 1;
    shape->ndim = h.rank == 1 ? 1 : h.rank - 1;
    shape->dim[0] = 1;
    for (int i = 1; i < h.rank; i++) {
        uint64_t d = h.dim[i];
        if (d == 0 || d > (1u << 30) || *row_elems > NPY_MAX_BYTES / d)
            return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                                   "shape dimension %d is %llu, out of range", i,
                                   (unsigned long long)d);
        shape->dim[i - 1] = (int)d;
        *row_elems *= d;
    }
    if (*rows > NPY_MAX_BYTES / *row_elems / (uint64_t)(*dt)->size)
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0, ".npy sizes out of range");
    return KS_OK;
}

ks_status ks_npy_load(const char *path, size_t begin, size_t end, double scale,
                      ks_shape *shape, size_t *n, float **out, ks_error *err)
{
    ks_stream st;
    ks_array_body a;
    const struct npy_dtype *dt = NULL;
    ks_status s;
    *out = NULL;
    *n = 0;
    memset(&a, 0, sizeof a);
    if ((s = ks_stream_open(&st, path, err)) != KS_OK)
        return s;
    s = read_header(&st, path, &dt, &a.rows, shape, &a.row_elems, err);
    if (s == KS_OK)
        s = ks_row_range(path, begin, &end, (size_t)a.rows, err);
    if (s == KS_OK) {
        a.esize = (size_t)dt->size;
        a.header_bytes = st.offset;
        a.begin = begin;
        a.end = end;
        a.scale = scale;
        a.convert = convert;
        a.type = dt;
        s = ks_stream_array(&st, &a, out, err);
    }
    ks_stream_close(&st);
    if (s == KS_OK)
        *n = end - begin;
    return s;
}

ks_status ks_npy_read(const char *path, ks_shape *shape, size_t *n, float **out, ks_error *err)
{
    return ks_npy_load(path, 0, KS_ALL_ROWS, 1.0, shape, n, out, err);
}
