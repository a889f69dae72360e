/*
 * data_stream.c — files read as a stream through zlib (raw or .gz alike), a block at
 * a time: the readers check a header before inflating what it promises, so that a
 * small hostile .gz never becomes gigabytes in memory.  Also the arrays' bodies (IDX,
 * NPY) streamed row by row, and whole files bounded by the size their header gives.
 */
#include "engine_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* Fill err from the stream's zlib state after a failed read (gzerror's text, no path). */
static ks_status gz_failure(ks_stream *s)
{
    int errnum;
    const char *msg = gzerror((gzFile)s->gz, &errnum);
    size_t plen = strlen(s->path);
    ks_status code = errnum == Z_ERRNO ? KS_ERR_IO : KS_ERR_CORRUPT;
    if (strncmp(msg, s->path, plen) == 0 && msg[plen] == ':')
        msg += plen + 1 + (msg[plen + 1] == ' ');      /* zlib prefixes the path */
    s->status = code;
    return ks_error_set_at(&s->err, code, s->path, 0, 0, "damaged or truncated file: %s",
                           errnum == Z_ERRNO ? strerror(errno) : msg);
}

/* Read into p up to n bytes straight from zlib; *got < n at the end or on a failure. */
static void gz_read(ks_stream *s, unsigned char *p, size_t n, size_t *got)
{
    int errnum;
    *got = 0;
    while (*got < n && !s->eof && s->status == KS_OK) {
        size_t want = n - *got < (1u << 30) ? n - *got : (1u << 30);
        int r = gzread((gzFile)s->gz, p + *got, (unsigned)want);
        if (r < 0) {
            gz_failure(s);
        } else if (r == 0) {
            /* gzread returns 0 at a premature end of a .gz member too: gzerror tells */
            gzerror((gzFile)s->gz, &errnum);
            if (errnum != Z_OK && errnum != Z_STREAM_END)
                gz_failure(s);
            s->eof = 1;
        } else {
            *got += (size_t)r;
        }
    }
}

ks_status ks_stream_open(ks_stream *s, const char *path, ks_error *err)
{
    memset(s, 0, sizeof *s);
    s->path = path;
    errno = 0;
    if (!(s->buf = malloc(KS_STREAM_BLOCK)))
        return ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory reading");
    if (!(s->gz = gzopen(path, "rb"))) {
        free(s->buf);
        s->buf = NULL;
        return ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "cannot open: %s",
                               errno ? strerror(errno) : "out of memory");
    }
    gzbuffer((gzFile)s->gz, KS_STREAM_BLOCK);
    return KS_OK;
}

void ks_stream_close(ks_stream *s)
{
    if (s->gz)
        gzclose((gzFile)s->gz);
    free(s->buf);
    s->gz = NULL;
    s->buf = NULL;
}

int ks_stream_fill(ks_stream *s, size_t k)
{
    size_t got;
    if (s->pos + k < s->len)
        return s->buf[s->pos + k];
    if (k >= KS_STREAM_BLOCK)
        return -1;
    memmove(s->buf, s->buf + s->pos, s->len - s->pos);
    s->len -= s->pos;
    s->pos = 0;
    gz_read(s, s->buf + s->len, KS_STREAM_BLOCK - s->len, &got);
    s->len += got;
    return k < s->len ? s->buf[k] : -1;
}

ks_status ks_stream_read(ks_stream *s, void *out, uint64_t n, uint64_t *got, ks_error *err)
{
    unsigned char *p = out;
    size_t k;
    *got = 0;
    /* what the block holds, then straight from zlib (into the block when dropping) */
    while (*got < n) {
        if (s->pos == s->len) {
            if (p && n - *got >= KS_STREAM_BLOCK) {
                gz_read(s, p + *got, (size_t)(n - *got < SIZE_MAX ? n - *got : SIZE_MAX), &k);
                *got += k;
                s->offset += k;
                if (k == 0 || *got < n)
                    break;
                continue;
            }
            if (ks_stream_fill(s, 0) < 0)
                break;
        }
        k = s->len - s->pos < n - *got ? s->len - s->pos : (size_t)(n - *got);
        if (p)
            memcpy(p + *got, s->buf + s->pos, k);
        ks_stream_skip(s, k);
        *got += k;
    }
    return ks_stream_error(s, err);
}

ks_status ks_stream_error(const ks_stream *s, ks_error *err)
{
    if (s->status != KS_OK && err)
        *err = s->err;
    return s->status;
}

/* ------------------------------------------------------------ array bodies */

ks_status ks_stream_array(ks_stream *s, const ks_array_body *a, float **out, ks_error *err)
{
    const uint64_t row_bytes = a->row_elems * a->esize;
    const uint64_t keep_from = a->begin * row_bytes, keep_to = a->end * row_bytes;
    const uint64_t total = a->rows * row_bytes;
    const size_t chunk = KS_STREAM_BLOCK / a->esize * a->esize;   /* whole elements */
    unsigned char *raw = malloc(chunk);
    float *x = NULL;
    size_t cap = 0, done = 0;       /* floats allocated, floats written */
    uint64_t at = 0, got;
    ks_status st = raw ? KS_OK : ks_error_set_at(err, KS_ERR_NOMEM, s->path, 0, 0, "out of memory");
    *out = NULL;
    /* rows before begin are dropped, rows in [begin, end) converted, the rest dropped */
    while (st == KS_OK && at < total) {
        uint64_t stop = at < keep_from ? keep_from : at < keep_to ? keep_to : total;
        uint64_t n = stop - at < chunk ? stop - at : chunk;
        int keep = at >= keep_from && at < keep_to;
        if ((st = ks_stream_read(s, keep ? raw : NULL, n, &got, err)) != KS_OK)
            break;
        if (got < n) {
            st = ks_error_set_at(err, KS_ERR_CORRUPT, s->path, 0, 0,
                                 "truncated: the header promises %llu rows (%llu bytes), the "
                                 "file has %llu bytes",
                                 (unsigned long long)a->rows,
                                 (unsigned long long)(a->header_bytes + total),
                                 (unsigned long long)(a->header_bytes + at + got));
            break;
        }
        if (keep) {
            size_t count = (size_t)(n / a->esize), bad;
            if (done + count > cap) {   /* grown as the data arrives, never by the header */
                size_t want = (size_t)((keep_to - keep_from) / a->esize);
                size_t ncap = cap * 2 > done + count ? cap * 2 : done + count;
                float *nx = realloc(x, (ncap < want ? ncap : want) * sizeof *x + 1);
                if (!nx) {
                    st = ks_error_set_at(err, KS_ERR_NOMEM, s->path, 0, 0, "out of memory");
                    break;
                }
                x = nx;
                cap = ncap < want ? ncap : want;
            }
            if ((bad = a->convert(raw, count, a->type, a->scale, x + done)) < count) {
                /* bad input (exit 2), as a CSV cell that is not a number */
                uint64_t e = at / a->esize + bad;
                st = ks_error_set_at(err, KS_ERR_PARSE, s->path, 0, 0,
                                     "row %llu, column %llu holds %g; expected finite numbers "
                                     "(within float32 once divided by the scale)",
                                     (unsigned long long)(e / a->row_elems),
                                     (unsigned long long)(e % a->row_elems),
                                     (double)x[done + bad]);
                break;
            }
            done += count;
        }
        at += n;
    }
    /* the array must end the file */
    if (st == KS_OK && ks_stream_peek(s, 0) >= 0)
        st = ks_error_set_at(err, KS_ERR_CORRUPT, s->path, 0, 0,
                             "damaged: bytes follow the array's %llu rows (%llu bytes); "
                             "expected the file to end there",
                             (unsigned long long)a->rows,
                             (unsigned long long)(a->header_bytes + total));
    if (st == KS_OK)
        st = ks_stream_error(s, err);
    if (st == KS_OK && !x && !(x = malloc(1)))      /* an empty slice: a valid pointer */
        st = ks_error_set_at(err, KS_ERR_NOMEM, s->path, 0, 0, "out of memory");
    free(raw);
    if (st != KS_OK) {
        free(x);
        return st;
    }
    *out = x;
    return KS_OK;
}

/* ------------------------------------------------------ whole, sized files */

/* Grow buf to hold want bytes: doubling, never past limit. */
static int grow(unsigned char **buf, size_t *cap, size_t want, size_t limit)
{
    size_t ncap = *cap ? *cap * 2 : KS_STREAM_BLOCK;
    unsigned char *nb;
    ncap = ncap < want ? want : ncap;
    ncap = ncap < limit ? ncap : limit;
    if (!(nb = realloc(*buf, ncap)))
        return 0;
    *buf = nb;
    *cap = ncap;
    return 1;
}

ks_status ks_read_file_sized(const char *path, const char *magic, size_t size_at,
                             unsigned char **out, size_t *len, ks_error *err)
{
    ks_stream s;
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0, head = size_at + 8, limit;
    uint64_t promised, got = 0;
    ks_status st;
    *out = NULL;
    *len = 0;
    if ((st = ks_stream_open(&s, path, err)) != KS_OK)
        return st;
    /* the header; a file that is not of this kind is left to its reader to name */
    if (!grow(&buf, &cap, head, head))
        st = ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory reading");
    else if ((st = ks_stream_read(&s, buf, head, &got, err)) == KS_OK)
        n = (size_t)got;
    promised = n == head && memcmp(buf, magic, 4) == 0 ? ks_le_get(buf + size_at, 8) : 0;
    /* past it, only the bytes its size field promises, and one more to tell a longer file */
    limit = promised > head && promised < SIZE_MAX ? (size_t)promised + 1 : n;
    while (st == KS_OK && n < limit && got > 0) {
        if (n == cap && !grow(&buf, &cap, n + 1, limit)) {
            st = ks_error_set_at(err, KS_ERR_NOMEM, path, 0, 0, "out of memory reading");
            break;
        }
        if ((st = ks_stream_read(&s, buf + n, cap - n, &got, err)) == KS_OK)
            n += (size_t)got;
    }
    if (st == KS_OK && n > head && n == limit)
        st = ks_error_set_at(err, KS_ERR_CORRUPT, path, 0, 0,
                             "damaged file: longer than the %llu bytes its size field says",
                             (unsigned long long)promised);
    ks_stream_close(&s);
    if (st != KS_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *len = n;
    return KS_OK;
}
