/*
 * db_impl.h — what the study database's .c files share (db.c, db_study.c, db_trial.c,
 * db_metric.c, db_checkpoint.c): the ks_db handle, statement and transaction helpers
 * that retry on SQLITE_BUSY, and the translation of SQLite's errors into ks_status.
 * Only those files (and tests/test_db.c, for the retry counter) include this.
 */
#ifndef KS_DB_IMPL_H
#define KS_DB_IMPL_H

#include "tracker.h"

#include <sqlite3.h>
#include <stdint.h>

/* One connection to one study.db; used by one thread at a time. */
struct ks_db {
    sqlite3 *conn;
    char *path;                 /* as given to ks_db_open, for messages */
    int busy_retries;           /* SQLITE_BUSY answers retried (after the busy timeout) */
    int version;                /* the file's schema version */
    int readonly;               /* opened with KS_DB_READONLY */
};

/* The busy timeout of every connection, and how long the retry loops keep trying. */
#define KS_DB_BUSY_TIMEOUT_MS 10000
#define KS_DB_RETRY_LIMIT_MS 120000

/*
 * The error of a failed SQLite call rc, with the connection's message: "PATH: WHAT:
 * sqlite's message" (err->file is the path).  SQLITE_NOTADB and SQLITE_CORRUPT are
 * KS_ERR_CORRUPT, SQLITE_NOMEM KS_ERR_NOMEM, SQLITE_CANTOPEN KS_ERR_IO, everything else
 * KS_ERR_DB.  Call it before the statement is reset or finalized (the message is the
 * connection's last).
 */
ks_status ks_dbi_fail(ks_db *db, int rc, ks_error *err, const char *what_fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same for a statement about one trial: what ends with " trial N", N its number in
   its study (read after the message is kept), or "trial with id ID" if it cannot be read. */
ks_status ks_dbi_fail_trial(ks_db *db, int rc, ks_error *err, int64_t trial_id,
                            const char *what_fmt, ...) __attribute__((format(printf, 5, 6)));
/* "trial N" for messages (see ks_dbi_fail_trial); the call may reset the connection's
   last error message. */
void ks_dbi_trial_label(ks_db *db, int64_t trial_id, char *out, size_t size);
/* A row that should be there is not ("PATH: no trial with id 7"): KS_ERR_CONFIG. */
ks_status ks_dbi_missing(ks_db *db, ks_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A caller passed an impossible argument (a bug in the caller): KS_ERR_INTERNAL. */
ks_status ks_dbi_bad_arg(ks_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* One pragma: its first result checked against want (if not NULL) and read as an
   integer into *value (if not NULL: then a pragma that answers nothing is an error). */
ks_status ks_dbi_pragma(ks_db *db, const char *sql, const char *want, int64_t *value,
                        ks_error *err);
/* Prepare one constant statement (parameters are bound, never pasted in). */
ks_status ks_dbi_prepare(ks_db *db, const char *sql, sqlite3_stmt **st, ks_error *err);
/*
 * sqlite3_step, retrying SQLITE_BUSY where that is safe: a statement's first step
 * outside a transaction.  Returns sqlite's code (SQLITE_ROW, SQLITE_DONE or an error).
 */
int ks_dbi_step(ks_db *db, sqlite3_stmt *st);
/* Step a statement that returns no rows; its error through ks_dbi_fail with what. */
ks_status ks_dbi_run(ks_db *db, sqlite3_stmt *st, ks_error *err, const char *what);
/* A job's segment (ks_db_segment_add), inside the caller's transaction. */
ks_status ks_dbi_segment_insert(ks_db *db, int64_t trial_id, const ks_job_span *span,
                                ks_trial_status status, ks_error *err);

/*
 * Write transactions: ks_dbi_begin is BEGIN IMMEDIATE (the write lock up front, so
 * two writers never deadlock on a read→write upgrade), retried while SQLite answers
 * BUSY; ks_dbi_end commits when s is KS_OK (else, or if the commit fails, rolls
 * back) and returns the outcome.
 */
ks_status ks_dbi_begin(ks_db *db, ks_error *err, const char *what);
ks_status ks_dbi_end(ks_db *db, ks_status s, ks_error *err, const char *what);

/* Inside a write transaction (ks_db_epoch_write): replace a trial's best or last
   checkpoint; insert or replace histograms (KS_HISTOGRAM_BUCKETS × 3 doubles each). */
ks_status ks_dbi_checkpoint_put(ks_db *db, int64_t trial_id, ks_checkpoint_kind kind, int epoch,
                                double monitored, const unsigned char *data, size_t len,
                                ks_error *err);
ks_status ks_dbi_histograms_put(ks_db *db, int64_t trial_id, int epoch, int n,
                                const char *const *tags, const double *const *data,
                                ks_error *err);

/* Column helpers: a malloc'd copy of a text column (NULL if NULL; *nomem on failure),
   a REAL column that may be NULL (NaN then; SQLite stores NaN as NULL). */
char *ks_dbi_text(sqlite3_stmt *st, int col, int *nomem);
double ks_dbi_real(sqlite3_stmt *st, int col, double if_null);

/* A growing NULL-terminated string vector (for the *_names / *_list results). */
typedef struct ks_dbi_strv {
    char **v;
    int n, cap;
} ks_dbi_strv;
ks_status ks_dbi_strv_push(ks_dbi_strv *sv, const char *s, ks_error *err);
/* The vector, never NULL on success (an empty one is {NULL}); sv is emptied. */
ks_status ks_dbi_strv_finish(ks_dbi_strv *sv, char ***out, ks_error *err);

/* Unix time now, in seconds. */
double ks_dbi_now(void);

/* How many SQLITE_BUSY answers this connection retried so far (tests, diagnostics). */
int ks_db_busy_retries(const ks_db *db);

#endif
