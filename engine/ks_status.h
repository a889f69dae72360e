/*
 * ks_status.h — the one status enum of ksearch, and the error record that carries
 * its message.  Every fallible function returns a ks_status; the message travels
 * in a caller-owned ks_error (no allocation on the error path).
 */
#ifndef KS_STATUS_H
#define KS_STATUS_H

#include <stdarg.h>

/* X-macro list: KS_STATUS(NAME, "description").  Order fixes the numbers. */
#define KS_STATUS_LIST(X)                                                   \
    X(OK, "ok")                          /* success */                      \
    X(ERR_NOMEM, "out of memory")        /* an allocation failed */         \
    X(ERR_IO, "i/o error")               /* open/read/write/rename failed */ \
    X(ERR_PARSE, "parse error")          /* malformed text (YAML, JSON, CSV) */ \
    X(ERR_CONFIG, "bad configuration")   /* a well-formed but wrong setting */ \
    X(ERR_SHAPE, "shape mismatch")       /* tensors that do not fit */      \
    X(ERR_CORRUPT, "corrupt file")       /* checksum, magic, sizes */       \
    X(ERR_NAN, "non-finite value")       /* loss or weights became NaN/inf */ \
    X(ERR_DB, "database error")          /* SQLite said no */               \
    X(ERR_USAGE, "bad usage")            /* command line */                 \
    X(ERR_INTERNAL, "internal error")    /* a bug: should not happen */     \
    X(STOPPED, "stopped")                /* a callback asked to stop: not an error */ \
    X(INTERRUPTED, "interrupted")        /* the user pressed Ctrl-C */

typedef enum ks_status {
#define KS_STATUS_ENUM(name, desc) KS_##name,
    KS_STATUS_LIST(KS_STATUS_ENUM)
#undef KS_STATUS_ENUM
    KS_STATUS_COUNT
} ks_status;

/* A short fixed description of a status ("shape mismatch"); never NULL. */
const char *ks_status_str(ks_status s);

/*
 * An error: the status, a message, and where in which input it happened.
 * file may be NULL; line and col are 1-based, 0 when unknown.
 */
typedef struct ks_error {
    ks_status code;
    char file[256];     /* input file the message is about, "" if none */
    int line, col;      /* 1-based position in file, 0 if none */
    char msg[512];      /* lowercase, no trailing full stop */
} ks_error;

/* Clear an error record to KS_OK.  err may be NULL. */
void ks_error_clear(ks_error *err);

/* Fill err (if not NULL) and return code.  Keeps no pointer to fmt's arguments. */
ks_status ks_error_set(ks_error *err, ks_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
ks_status ks_error_vset(ks_error *err, ks_status code, const char *fmt, va_list ap);

/* As ks_error_set, with a source position. */
ks_status ks_error_set_at(ks_error *err, ks_status code, const char *file, int line, int col,
                          const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* Prefix the message with "what: " (e.g. a file name when a reader had none). */
void ks_error_prefix(ks_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Format the error as one line, "FILE:LINE:COL: message" (parts that are unknown
 * are left out), into buf.  Returns buf.
 */
const char *ks_error_format(const ks_error *err, char *buf, int size);

#endif
