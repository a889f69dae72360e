/*
 * data_idx.c — IDX files (MNIST, Fashion-MNIST), raw or gzip-compressed: a magic
 * number with the element type and rank, big-endian dimensions, then the elements.
 * A truncated or damaged file is an error naming the file, never a crash.
 */
#include "engine_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

ks_status ks_read_file_gz(const char *path, unsigned char **out, size_t *len, ks_error *err)
{
    gzFile f;
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    int errnum;
    *out = NULL;
    *len = 0;
    errno = 0;
    f = gzopen(path, "rb");
    if (!f)
        return ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "cannot open: %s",
                               errno ? strerror(errno) : "out of memory");
    gzbuffer(f, 1 << 17);
    for (;;) {
        int got;
        if (cap - n < (1u << 20)) {
            size_t ncap = cap ? cap * 2 : (4u << 20);
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                gzclose(f);
                return ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory reading");
            }
            buf = nb;
            cap = ncap;
        }
        got = gzread(f, buf + n, (unsigned)(cap - n > (1u << 30) ? (1u << 30) : cap - n));
        if (got < 0) {
            const char *msg = gzerror(f, &errnum);
            size_t plen = strlen(path);
            if (strncmp(msg, path, plen) == 0 && msg[plen] == ':')
                msg += plen + 1 + (msg[plen + 1] == ' ');
            ks_status code = errnum == Z_ERRNO ? KS_ERR_IO : KS_ERR_CORRUPT;
            ks_error_set_at(err, code, path, 0, 0, "damaged or truncated file: %s",
                            errnum == Z_ERRNO ? strerror(errno) : msg);
            free(buf);
            gzclose(f);
            return code;
        }
        if (got == 0)
            break;
        n += (size_t)got;
    }
    /* gzread returns 0 at a premature end of a .gz member; gzerror tells */
    {
        const char *msg = gzerror(f, &errnum);
        size_t plen = strlen(path);
        if (strncmp(msg, path, plen) == 0 && msg[plen] == ':')
            msg += plen + 1 + (msg[plen + 1] == ' ');   /* zlib prefixes the path */
        if (errnum != Z_OK && errnum != Z_STREAM_END) {
            ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0, "damaged or truncated file: %s",
                            msg);
            free(buf);
            gzclose(f);
            return KS_ERR_CORRUPT;
        }
    }
    gzclose(f);
    *out = buf;
    *len = n;
    return KS_OK;
}

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

ks_status ks_idx_load(const char *path, size_t begin, size_t end, double scale,
                      ks_shape *shape, size_t *n, float **out, ks_error *err)
{
    unsigned char *buf;
    size_t len, rows, row_elems = 1, esize, need;
    unsigned type, rank;
    ks_status s;
    *out = NULL;
    *n = 0;
    if ((s = ks_read_file_gz(path, &buf, &len, err)) != KS_OK)
        return s;
    if (len < 4 || buf[0] != 0 || buf[1] != 0) {
        free(buf);
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                               "not an IDX file (bad magic number)");
    }
    type = buf[2];
    rank = buf[3];
    esize = (size_t)elem_size(type);
    if (!esize || rank < 1 || rank > KS_MAX_DIMS + 1) {
        free(buf);
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                               "not an IDX file (element type 0x%02x, %u dimensions)", type, rank);
    }
    if (len < 4 + 4 * (size_t)rank) {
        free(buf);
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0, "truncated IDX header");
    }
    rows = be32(buf + 4);
    shape->ndim = (int)rank - 1;
    for (unsigned i = 1; i < rank; i++) {
        uint32_t d = be32(buf + 4 + 4 * i);
        if (d == 0 || d > (1u << 30) || row_elems > ((size_t)1 << 40) / d) {
            free(buf);
            return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                                   "IDX dimension %u is %u, out of range", i, d);
        }
        shape->dim[i - 1] = (int)d;
        row_elems *= d;
    }
    if (rows > ((size_t)1 << 40) / row_elems / esize) {
        free(buf);
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0, "IDX sizes out of range");
    }
    need = 4 + 4 * (size_t)rank + rows * row_elems * esize;
    if (len != need) {
        free(buf);
        return ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                               "%s: the header promises %zu rows (%zu bytes), the file has %zu "
                               "bytes",
                               len < need ? "truncated" : "damaged (bytes after the data)", rows,
                               need, len);
    }
    if ((s = ks_row_range(path, begin, &end, rows, err)) != KS_OK) {
        free(buf);
        return s;
    }
    *out = malloc((end - begin) * row_elems * sizeof **out + 1);
    if (!*out) {
        free(buf);
        return ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory");
    }
    {
        const unsigned char *p = buf + 4 + 4 * (size_t)rank + begin * row_elems * esize;
        size_t count = (end - begin) * row_elems;
        if (type == 0x08) {
            /* v/scale rounded once, as Keras's x / 255. gives, through a table */
            float table[256];
            for (int v = 0; v < 256; v++)
                table[v] = (float)(v / scale);
            for (size_t i = 0; i < count; i++)
                (*out)[i] = table[p[i]];
        } else {
            for (size_t i = 0; i < count; i++) {
                /* checked as float32: a finite double beyond its range becomes inf */
                float v = (float)(elem(p + i * esize, type) / scale);
                if (!isfinite(v)) {
                    free(*out);
                    *out = NULL;
                    free(buf);
                    return ks_error_set_at(err, KS_ERR_NAN, path, 0, 0,
                                           "row %zu holds a value that is not finite (nan or "
                                           "inf, or too large for float32)",
                                           begin + i / row_elems);
                }
                (*out)[i] = v;
            }
        }
    }
    free(buf);
    *n = end - begin;
    return KS_OK;
}

ks_status ks_idx_read(const char *path, ks_shape *shape, size_t *n, float **out, ks_error *err)
{
    return ks_idx_load(path, 0, KS_ALL_ROWS, 1.0, shape, n, out, err);
}
