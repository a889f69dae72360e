/*
 * proto_wire.c — a small protobuf wire-format writer: varints, fixed 32/64-bit values,
 * length-delimited bytes, packed repeated scalars and nested messages whose length is
 * filled in when they end (declared in ks_util.h).  It knows no schema; TensorBoard
 * events and ONNX models use it.
 */
#include "ks_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Protobuf's own limit on a message's size. */
#define PB_MAX_LEN ((size_t)0x7fffffff)

void ks_pb_free(ks_pb_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void ks_pb_clear(ks_pb_buf *b)
{
    b->len = 0;
    b->status = KS_OK;
}

static int reserve(ks_pb_buf *b, size_t n)
{
    size_t cap;
    unsigned char *p;
    if (b->status != KS_OK)
        return 0;
    if (n > PB_MAX_LEN - b->len) {
        b->status = KS_ERR_CONFIG;
        return 0;
    }
    if (b->len + n <= b->cap)
        return 1;
    cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    if (!(p = realloc(b->data, cap))) {
        b->status = KS_ERR_NOMEM;
        return 0;
    }
    b->data = p;
    b->cap = cap;
    return 1;
}

unsigned char *ks_pb_grow(ks_pb_buf *b, size_t n)
{
    unsigned char *p;
    if (!reserve(b, n))
        return NULL;
    p = b->data + b->len;
    b->len += n;
    return p;
}

void ks_pb_raw(ks_pb_buf *b, const void *p, size_t n)
{
    unsigned char *d = ks_pb_grow(b, n);
    if (d && n)
        memcpy(d, p, n);
}

static int varint_size(uint64_t v)
{
    int n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static void put_varint(unsigned char *d, uint64_t v)
{
    while (v >= 0x80) {
        *d++ = (unsigned char)(v | 0x80);
        v >>= 7;
    }
    *d = (unsigned char)v;
}

void ks_pb_varint(ks_pb_buf *b, uint64_t v)
{
    unsigned char *d = ks_pb_grow(b, (size_t)varint_size(v));
    if (d)
        put_varint(d, v);
}

void ks_pb_key(ks_pb_buf *b, int field, ks_pb_wire wire)
{
    /* field numbers are 1 … 2^29-1; anything else is a bug in the encoder */
    if (field < 1 || field > 0x1fffffff) {
        if (b->status == KS_OK)
            b->status = KS_ERR_CONFIG;
        return;
    }
    ks_pb_varint(b, ((uint64_t)field << 3) | (uint64_t)wire);
}

void ks_pb_uint(ks_pb_buf *b, int field, uint64_t v)
{
    ks_pb_key(b, field, KS_PB_VARINT);
    ks_pb_varint(b, v);
}

void ks_pb_int(ks_pb_buf *b, int field, int64_t v)
{
    ks_pb_uint(b, field, (uint64_t)v);      /* a negative value takes 10 bytes */
}

void ks_pb_bool(ks_pb_buf *b, int field, int v)
{
    ks_pb_uint(b, field, v ? 1 : 0);
}

static void put_le32(unsigned char *d, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        d[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *d, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        d[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t float_bits(float v)
{
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static uint64_t double_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

void ks_pb_fixed32(ks_pb_buf *b, int field, uint32_t v)
{
    unsigned char *d;
    ks_pb_key(b, field, KS_PB_I32);
    if ((d = ks_pb_grow(b, 4)))
        put_le32(d, v);
}

void ks_pb_float(ks_pb_buf *b, int field, float v)
{
    ks_pb_fixed32(b, field, float_bits(v));
}

void ks_pb_fixed64(ks_pb_buf *b, int field, uint64_t v)
{
    unsigned char *d;
    ks_pb_key(b, field, KS_PB_I64);
    if ((d = ks_pb_grow(b, 8)))
        put_le64(d, v);
}

void ks_pb_double(ks_pb_buf *b, int field, double v)
{
    ks_pb_fixed64(b, field, double_bits(v));
}

void ks_pb_bytes(ks_pb_buf *b, int field, const void *p, size_t n)
{
    if (n > PB_MAX_LEN) {
        if (b->status == KS_OK)
            b->status = KS_ERR_CONFIG;
        return;
    }
    ks_pb_key(b, field, KS_PB_LEN);
    ks_pb_varint(b, n);
    ks_pb_raw(b, p, n);
}

void ks_pb_string(ks_pb_buf *b, int field, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (!ks_pb_utf8_valid(s, n)) {
        if (b->status == KS_OK)
            b->status = KS_ERR_CONFIG;
        return;
    }
    ks_pb_bytes(b, field, s, n);
}

void ks_pb_packed_float(ks_pb_buf *b, int field, const float *x, size_t n)
{
    unsigned char *d;
    if (n > PB_MAX_LEN / 4) {
        if (b->status == KS_OK)
            b->status = KS_ERR_CONFIG;
        return;
    }
    ks_pb_key(b, field, KS_PB_LEN);
    ks_pb_varint(b, 4 * n);
    if (!(d = ks_pb_grow(b, 4 * n)))
        return;
    for (size_t i = 0; i < n; i++)
        put_le32(d + 4 * i, float_bits(x[i]));
}

void ks_pb_packed_double(ks_pb_buf *b, int field, const double *x, size_t n)
{
    unsigned char *d;
    if (n > PB_MAX_LEN / 8) {
        if (b->status == KS_OK)
            b->status = KS_ERR_CONFIG;
        return;
    }
    ks_pb_key(b, field, KS_PB_LEN);
    ks_pb_varint(b, 8 * n);
    if (!(d = ks_pb_grow(b, 8 * n)))
        return;
    for (size_t i = 0; i < n; i++)
        put_le64(d + 8 * i, double_bits(x[i]));
}

void ks_pb_packed_int(ks_pb_buf *b, int field, const int64_t *x, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)varint_size((uint64_t)x[i]);
    ks_pb_key(b, field, KS_PB_LEN);
    ks_pb_varint(b, len);
    for (size_t i = 0; i < n; i++)
        ks_pb_varint(b, (uint64_t)x[i]);
}

size_t ks_pb_begin(ks_pb_buf *b, int field)
{
    unsigned char *d;
    ks_pb_key(b, field, KS_PB_LEN);
    /* one length byte for now: most messages are short; end moves longer ones */
    if (!(d = ks_pb_grow(b, 1)))
        return 0;
    *d = 0;
    return b->len - 1;
}

void ks_pb_end(ks_pb_buf *b, size_t mark)
{
    size_t len;
    int extra;
    if (b->status != KS_OK)
        return;
    if (mark >= b->len) {       /* not a mark of this buffer's open messages */
        b->status = KS_ERR_CONFIG;
        return;
    }
    len = b->len - mark - 1;
    extra = varint_size(len) - 1;
    if (extra > 0) {
        if (!ks_pb_grow(b, (size_t)extra))
            return;
        memmove(b->data + mark + 1 + extra, b->data + mark + 1, len);
    }
    put_varint(b->data + mark, len);
}

int ks_pb_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t k;
        unsigned cp, min;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
            min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
            min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (p[i + j] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

ks_status ks_pb_check(const ks_pb_buf *b, const char *what, ks_error *err)
{
    switch (b->status) {
    case KS_OK:
        return KS_OK;
    case KS_ERR_NOMEM:
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory while encoding %s", what);
    default:
        return ks_error_set(err, b->status,
                            "cannot encode %s: a string is not valid utf-8 or a message is "
                            "larger than 2 GiB",
                            what);
    }
}
