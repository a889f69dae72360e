/*
 * ks_util.h — the small utilities every module of ksearch shares, kept apart from the
 * engine's public interface (engine.h): files written atomically, CSV fields, stable
 * hashes, a monotonic clock.  They live in the engine library because it is the
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

#endif
