/*
 * data_idx.c — IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed: a magic
 * number with the element type and rank, big-endian dimensions, then the elements.
 * A truncated or damaged file is an error naming the file, never a crash.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int elem_size(unsigned type)
{
    switch (type) {
    case 0x08: /* unsigned byte */
    case 0x09: /* signed byte */
        return 1;
    case 0x0B: /* short */
        return 2;
    case 0x0C: /* int */
    case 0x0D: /* float */
        return 4;
    case 0x0E: /* double */
        return 8;
    }
    return 0;
}

static double elem(const unsigned char *p, unsigned type)
{
    switch (type) {
    case 0x08:
        return p[0];
    case 0x09:
        return (signed char)p[0];
    case 0x0B:
        return (int16_t)((uint16_t)p[0] << 8 | p[1]);
    case 0x0C:
        return (int32_t)be32(p);
    case 0x0D: {
        uint32_t u = be32(p);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case 0x0E: {
        uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
        double d;
        memcpy(&d, &u, 8);
        return d;
    }
    }
    return 0.0;
}

/* Convert IDX elements of type (an unsigned *) to float32 / scale. */
static size_t convert(const unsigned char *p, size_t count, const void *type_p, double scale,
                      float *out)
{
    unsigned type = *(const unsigned *)type_p;
    size_t esize = (size_t)elem_size(type);
    if (type == 0x08) {
        /* v/scale rounded once, as Keras's x / 255. gives, through a table */
        float table[256];
        for (int v = 0; v < 256; v++)
            table[v] = (float)(v / scale);
        for (size_t i = 0; i < count; i++)
            out[i] = table[p[i]];
        return count;
    }
    for (size_t i = 0; i < count; i++) {
        out[i] = (float)(elem(p + i * esize, type) / scale);
        if (!isfinite(out[i]))
            return i;
    }
    return count;
}

/* The header: magic (type, rank), then rank big-endian dimensions, the first the rows. */
static ks_status read_header(ks_stream *st, const char *path, unsigned *type, uint64_t *rows,
                             ks_shape *shape, uint64_t *row_elems, ks_error *err)
{
    unsigned char h[4 + 4 * (KS_MAX_DIMS + 1)];
    unsigned rank;
    uint64_t got;
    ks_status s;
    if ((s = ks_stream_read(st, h, 4, &got, err)) != KS_OK)
        return s;
    if (got < 4 || h[0] != 0 || h[1] != 0)
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                               "not an IDX file (bad magic number)");
    *type = h[2];
    rank = h[3];
    if (!elem_size(*type) || rank < 1 || rank > KS_MAX_DIMS + 1)
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                               "not an IDX file (element type 0x%02x, %u dimensions)", *type,
                               rank);
    if ((s = ks_stream_read(st, h + 4, 4 * (uint64_t)rank, &got, err)) != KS_OK)
        return s;
    if (got < 4 * (uint64_t)rank)
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0, "truncated IDX header");
    *rows = be32(h + 4);
    *row_elems = 1;
    shape->ndim = (int)rank - 1;
    for (unsigned i = 1; i < rank; i++) {
        uint32_t d = be32(h + 4 + 4 * i);
        if (d == 0 || d > (1u << 30) || *row_elems > ((uint64_t)1 << 40) / d)
            return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                                   "IDX dimension %u is %u, out of range", i, d);
        shape->dim[i - 1] = (int)d;
        *row_elems *= d;
    }
    if (*rows > ((uint64_t)1 << 40) / *row_elems / (uint64_t)elem_size(*type))
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0, "IDX sizes out of range");
    return KS_OK;
}

ks_status ks_idx_load(const char *path, size_t begin, size_t end, double scale,
                      ks_shape *shape, size_t *n, float **out, ks_error *err)
{
    ks_stream st;
    ks_array_body a;
    unsigned type = 0;
    ks_status s;
    *out = NULL;
    *n = 0;
    memset(&a, 0, sizeof a);
    if ((s = ks_stream_open(&st, path, err)) != KS_OK)
        return s;
    s = read_header(&st, path, &type, &a.rows, shape, &a.row_elems, err);
    if (s == KS_OK)
        s = ks_row_range(path, begin, &end, (size_t)a.rows, err);
    if (s == KS_OK) {
        a.esize = (size_t)elem_size(type);
        a.header_bytes = 4 + 4 * (uint64_t)(shape->ndim + 1);
        a.begin = begin;
        a.end = end;
        a.scale = scale;
        a.convert = convert;
        a.type = &type;
        s = ks_stream_array(&st, &a, out, err);
    }
    ks_stream_close(&st);
    if (s == KS_OK)
        *n = end - begin;
    return s;
}

ks_status ks_idx_read(const char *path, ks_shape *shape, size_t *n, float **out, ks_error *err)
{
    return ks_idx_load(path, 0, KS_ALL_ROWS, 1.0, shape, n, out, err);
}
