/*
 * ks_util.h — the small utilities every module of ksearch shares, kept apart from the
 * engine's public interface (engine.h): files written atomically, CSV fields, stable
 * hashes, a monotonic clock, a protobuf wire-format writer.  They live in the engine library because it is the
 * bottom of the dependency chain (search → tracker → engine).
 *
 * Fallible functions return a ks_status and fill the caller's ks_error (may be NULL).
 */
#ifndef KS_UTIL_H
#define KS_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ks_status.h"

/* ----------------------------------------- bytes (model_file.c) */

/* Little-endian integers of 1 to 8 bytes, and CRC-32 (zlib's) continued over p[0, n)
   (any n: zlib's crc32 is fed in pieces). */
void ks_le_put(unsigned char *b, uint64_t x, int bytes);
uint64_t ks_le_get(const unsigned char *b, int bytes);
uint32_t ks_crc32_update(uint32_t crc, const unsigned char *p, size_t n);

/* ------------------------------------------------------- files (files.c) */

/* mkdir -p: create path and its missing parents. */
ks_status ks_mkdirs(const char *path, ks_error *err);
/*
 * Write buf to path through a temporary file (PATH.tmp.<pid>), fsync and rename: never
 * half a file under path.  On failure the temporary file is removed and path is
 * unchanged; the message names the step that failed (KS_ERR_IO).
 */
ks_status ks_write_file_atomic(const char *path, const unsigned char *buf, size_t len,
                               ks_error *err);
/* Make the directory holding path durable after a rename (best effort, no error). */
void ks_sync_dir(const char *path);

/* --------------------------------------------------------- text (util.c) */

/* One CSV field as Python's csv.QUOTE_MINIMAL writes it: quoted if it holds the separator,
   a quote or a line end, with quotes doubled. */
void ks_csv_field(FILE *f, const char *s, char sep);

/* ----------------------------------------------------- hashing (rng.c) */

/* Mixes two words (splitmix64's finalizer): stream ids, derived seeds.  Stable across
   machines and versions: studies depend on it to reproduce. */
uint64_t ks_hash64(uint64_t a, uint64_t b);
/* Stable hash of a string (FNV-1a), e.g. of a purpose name for ks_hash64. */
uint64_t ks_hash_string(const char *s);

/* ---------------------------------------------------------- time (util.c) */

/* Wall-clock seconds since an arbitrary point (monotonic). */
double ks_now(void);

/* ------------------------------------------ protobuf writer (proto_wire.c) */

/*
 * A small protobuf wire-format writer: varints, fixed-width values, length-delimited
 * fields and nested messages.  It knows no schema; the TensorBoard event writer and
 * the ONNX exporter both build on it.
 */

typedef enum ks_pb_wire {
    KS_PB_VARINT = 0,           /* int32/64, uint32/64, bool, enum */
    KS_PB_I64 = 1,              /* double, fixed64: 8 bytes little-endian */
    KS_PB_LEN = 2,              /* string, bytes, messages, packed repeated scalars */
    KS_PB_I32 = 5               /* float, fixed32: 4 bytes little-endian */
} ks_pb_wire;

/*
 * A growing output buffer.  Writers never fail on the spot: the first problem (no
 * memory, a string that is not UTF-8, a message over 2 GiB) is kept in status and
 * every later write is a no-op, so an encoder checks once at the end (ks_pb_check).
 * A zeroed ks_pb_buf is an empty one; free with ks_pb_free.
 */
typedef struct ks_pb_buf {
    unsigned char *data;
    size_t len, cap;
    ks_status status;           /* KS_OK, KS_ERR_NOMEM or KS_ERR_CONFIG (bad string/size) */
} ks_pb_buf;

void ks_pb_free(ks_pb_buf *b);
void ks_pb_clear(ks_pb_buf *b);                 /* len 0, status OK; keeps the memory */
/* Append n bytes and return them (uninitialized), or NULL after a failure. */
unsigned char *ks_pb_grow(ks_pb_buf *b, size_t n);
void ks_pb_raw(ks_pb_buf *b, const void *p, size_t n);
void ks_pb_varint(ks_pb_buf *b, uint64_t v);
void ks_pb_key(ks_pb_buf *b, int field, ks_pb_wire wire);
/* Whole fields (key + value).  Nothing is ever omitted: leaving out proto3 defaults
   is the caller's decision (and wrong for oneof members). */
void ks_pb_uint(ks_pb_buf *b, int field, uint64_t v);      /* uint*, enum, bool */
void ks_pb_int(ks_pb_buf *b, int field, int64_t v);        /* int32/int64: two's complement */
void ks_pb_bool(ks_pb_buf *b, int field, int v);
void ks_pb_fixed32(ks_pb_buf *b, int field, uint32_t v);
void ks_pb_float(ks_pb_buf *b, int field, float v);
void ks_pb_fixed64(ks_pb_buf *b, int field, uint64_t v);
void ks_pb_double(ks_pb_buf *b, int field, double v);
void ks_pb_bytes(ks_pb_buf *b, int field, const void *p, size_t n);
void ks_pb_string(ks_pb_buf *b, int field, const char *s); /* must be UTF-8 (proto3 rule) */
/* Packed repeated scalars; the same bytes serve a `bytes raw_data` of LE floats. */
void ks_pb_packed_float(ks_pb_buf *b, int field, const float *x, size_t n);
void ks_pb_packed_double(ks_pb_buf *b, int field, const double *x, size_t n);
void ks_pb_packed_int(ks_pb_buf *b, int field, const int64_t *x, size_t n);
/*
 * An embedded message: begin writes the key and reserves its length, end fills it in
 * (moving the content when the length needs more than one byte).  Nest freely; end
 * the innermost first.  begin returns the mark that end needs.
 */
size_t ks_pb_begin(ks_pb_buf *b, int field);
void ks_pb_end(ks_pb_buf *b, size_t mark);
/* 1 if s[0..n) is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF). */
int ks_pb_utf8_valid(const char *s, size_t n);
/* KS_OK, or the buffer's failure as an error message about what was being encoded. */
ks_status ks_pb_check(const ks_pb_buf *b, const char *what, ks_error *err);

#endif
