/*
 * db_checkpoint.c — the blobs of the study database: a trial's best and last
 * checkpoints (its .ksm bytes; dropped by the retention policy, their pages given back
 * to the file system), its weight histograms (KS_HISTOGRAM_BUCKETS × 3 little-endian
 * doubles each), and a study's ensembles.
 */
#include "db_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HIST_DOUBLES (KS_HISTOGRAM_BUCKETS * 3)
#define HIST_BYTES (HIST_DOUBLES * 8)

static const char *kind_name(ks_checkpoint_kind kind)
{
    return kind == KS_CHECKPOINT_BEST ? "best" : "last";
}

/* ------------------------------------------------------------ checkpoints */

ks_status ks_dbi_checkpoint_put(ks_db *db, int64_t trial_id, ks_checkpoint_kind kind, int epoch,
                                double monitored, const unsigned char *data, size_t len,
                                ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    int rc;
    if (len > (size_t)INT32_MAX) {
        char label[64];
        ks_dbi_trial_label(db, trial_id, label, sizeof label);
        return ks_error_set_at(err, KS_ERR_DB, db->path, 0, 0,
                               "the %s checkpoint of %s is too large (%zu bytes)",
                               kind_name(kind), label, len);
    }
    s = ks_dbi_prepare(db, "INSERT INTO checkpoint (trial_id, kind, epoch, monitored, data)"
                           " VALUES (?1, ?2, ?3, ?4, ?5)"
                           " ON CONFLICT (trial_id, kind) DO UPDATE SET epoch = excluded.epoch,"
                           " monitored = excluded.monitored, data = excluded.data",
                       &st, err);
    if (s != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, trial_id);
    sqlite3_bind_text(st, 2, kind_name(kind), -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, epoch);
    if (isnan(monitored))
        sqlite3_bind_null(st, 4);
    else
        sqlite3_bind_double(st, 4, monitored);
    /* a zero-length blob, not NULL, when len is 0 */
    sqlite3_bind_blob64(st, 5, len ? (const void *)data : "", (sqlite3_uint64)len,
                        SQLITE_STATIC);
    rc = ks_dbi_step(db, st);
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
        s = ks_dbi_missing(db, err, "no trial with id %lld", (long long)trial_id);
    else if (rc != SQLITE_DONE)
        s = ks_dbi_fail_trial(db, rc, err, trial_id, "writing the %s checkpoint of",
                              kind_name(kind));
    sqlite3_finalize(st);
    return s;
}

/* The trial's checkpoint of that kind as columns (epoch, then what) selects: the
   statement stepped once (*st to finalize; *rc: SQLITE_ROW, SQLITE_DONE or an error). */
static ks_status checkpoint_row(ks_db *db, int64_t trial_id, ks_checkpoint_kind kind,
                                const char *what, sqlite3_stmt **st, int *rc, ks_error *err)
{
    char sql[128];
    ks_status s;
    if (kind != KS_CHECKPOINT_BEST && kind != KS_CHECKPOINT_LAST)
        return ks_dbi_bad_arg(err, "no checkpoint kind %d", (int)kind);
    snprintf(sql, sizeof sql, "SELECT epoch, %s FROM checkpoint WHERE trial_id = ?1 AND kind = ?2",
             what);
    if ((s = ks_dbi_prepare(db, sql, st, err)) != KS_OK)
        return s;
    sqlite3_bind_int64(*st, 1, trial_id);
    sqlite3_bind_text(*st, 2, kind_name(kind), -1, SQLITE_STATIC);
    *rc = ks_dbi_step(db, *st);
    return KS_OK;
}

ks_status ks_db_checkpoint_get(ks_db *db, int64_t trial_id, ks_checkpoint_kind kind,
                               unsigned char **blob, size_t *len, int *epoch, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    int rc = SQLITE_ERROR;
    if (!db || !blob || !len)
        return ks_dbi_bad_arg(err, "ks_db_checkpoint_get: db, blob or len is NULL");
    *blob = NULL;
    *len = 0;
    if ((s = checkpoint_row(db, trial_id, kind, "data", &st, &rc, err)) != KS_OK)
        return s;
    if (rc == SQLITE_ROW) {
        const void *data = sqlite3_column_blob(st, 1);
        size_t n = (size_t)sqlite3_column_bytes(st, 1);
        if (!data && n == 0 && sqlite3_errcode(db->conn) == SQLITE_NOMEM) {
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        } else if (!(*blob = malloc(n ? n : 1))) {
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        } else {
            if (n)
                memcpy(*blob, data, n);
            *len = n;
            if (epoch)
                *epoch = sqlite3_column_int(st, 0);
        }
    } else if (rc == SQLITE_DONE) {
        char label[64];
        ks_dbi_trial_label(db, trial_id, label, sizeof label);
        s = ks_dbi_missing(db, err, "%s has no %s checkpoint", label, kind_name(kind));
    } else {
        s = ks_dbi_fail_trial(db, rc, err, trial_id, "reading the %s checkpoint of",
                              kind_name(kind));
    }
    sqlite3_finalize(st);
    return s;
}

ks_status ks_db_checkpoint_stat(ks_db *db, int64_t trial_id, ks_checkpoint_kind kind,
                                int *epoch, size_t *bytes, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    int rc = SQLITE_ERROR;
    if (epoch)
        *epoch = -1;
    if (bytes)
        *bytes = 0;
    if (!db)
        return ks_dbi_bad_arg(err, "ks_db_checkpoint_stat: db is NULL");
    /* length() of a blob reads its size, not its pages */
    if ((s = checkpoint_row(db, trial_id, kind, "length(data)", &st, &rc, err)) != KS_OK)
        return s;
    if (rc == SQLITE_ROW) {
        if (epoch)
            *epoch = sqlite3_column_int(st, 0);
        if (bytes)
            *bytes = (size_t)sqlite3_column_int64(st, 1);
    } else if (rc != SQLITE_DONE) {
        s = ks_dbi_fail_trial(db, rc, err, trial_id, "reading the %s checkpoint of",
                              kind_name(kind));
    }
    sqlite3_finalize(st);
    return s;
}

ks_status ks_db_checkpoints_drop(ks_db *db, const int64_t *ids, int n, int *had,
                                 int64_t *bytes, ks_error *err)
{
    sqlite3_stmt *size = NULL, *del = NULL;
    int64_t total = 0;
    int count = 0;
    ks_status s;
    if (had)
        *had = 0;
    if (bytes)
        *bytes = 0;
    if (!db || (n > 0 && !ids) || n < 0)
        return ks_dbi_bad_arg(err, "ks_db_checkpoints_drop: db or ids is NULL");
    if (n == 0)
        return KS_OK;
    if ((s = ks_dbi_begin(db, err, "dropping checkpoints")) != KS_OK)
        return s;
    if ((s = ks_dbi_prepare(db, "SELECT count(*), coalesce(sum(length(data)), 0)"
                                " FROM checkpoint WHERE trial_id = ?1",
                            &size, err)) == KS_OK)
        s = ks_dbi_prepare(db, "DELETE FROM checkpoint WHERE trial_id = ?1", &del, err);
    for (int i = 0; s == KS_OK && i < n; i++) {
        int rc;
        sqlite3_bind_int64(size, 1, ids[i]);
        rc = ks_dbi_step(db, size);
        if (rc == SQLITE_ROW) {
            count += sqlite3_column_int(size, 0) > 0;
            total += sqlite3_column_int64(size, 1);
        } else
            s = ks_dbi_fail_trial(db, rc, err, ids[i], "reading the checkpoints of");
        sqlite3_reset(size);
        if (s != KS_OK)
            break;
        sqlite3_bind_int64(del, 1, ids[i]);
        if ((rc = ks_dbi_step(db, del)) != SQLITE_DONE)
            s = ks_dbi_fail_trial(db, rc, err, ids[i], "dropping the checkpoints of");
        sqlite3_reset(del);
    }
    sqlite3_finalize(size);
    sqlite3_finalize(del);
    if ((s = ks_dbi_end(db, s, err, "dropping checkpoints")) == KS_OK) {
        if (had)
            *had = count;
        if (bytes)
            *bytes = total;
    }
    return s;
}

/* ------------------------------------------------------- the file's space */

/* The database's size in bytes: pages × page size. */
static ks_status db_bytes(ks_db *db, int64_t *out, ks_error *err)
{
    int64_t pages = 0, page_size = 0;
    ks_status s = ks_dbi_pragma(db, "PRAGMA page_count", NULL, &pages, err);
    if (s == KS_OK)
        s = ks_dbi_pragma(db, "PRAGMA page_size", NULL, &page_size, err);
    *out = pages * page_size;
    return s;
}

/* A statement of no rows, stepped to its end (PRAGMA incremental_vacuum frees a page a
   step), or VACUUM. */
static ks_status run_all(ks_db *db, const char *sql, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s = ks_dbi_prepare(db, sql, &st, err);
    int rc;
    if (s != KS_OK)
        return s;
    while ((rc = ks_dbi_step(db, st)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE)
        s = ks_dbi_fail(db, rc, err, "giving free pages back (%s)", sql);
    sqlite3_finalize(st);
    return s;
}

ks_status ks_db_reclaim(ks_db *db, int allow_vacuum, int64_t *before, int64_t *after,
                        ks_error *err)
{
    int64_t mode = 0, free_pages = 0, pages = 0, size = 0;
    ks_status s;
    if (!db)
        return ks_dbi_bad_arg(err, "ks_db_reclaim: db is NULL");
    if (db->readonly)
        return ks_dbi_bad_arg(err, "giving free pages back: %s was opened read-only", db->path);
    if ((s = db_bytes(db, &size, err)) != KS_OK ||
        (s = ks_dbi_pragma(db, "PRAGMA auto_vacuum", NULL, &mode, err)) != KS_OK ||
        (s = ks_dbi_pragma(db, "PRAGMA freelist_count", NULL, &free_pages, err)) != KS_OK ||
        (s = ks_dbi_pragma(db, "PRAGMA page_count", NULL, &pages, err)) != KS_OK)
        return s;
    if (before)
        *before = size;
    if (free_pages > 0 && mode == 2) {
        /* INCREMENTAL: the pages at the file's end move into the free ones, in one
           transaction */
        if ((s = ks_dbi_begin(db, err, "giving free pages back")) == KS_OK)
            s = ks_dbi_end(db, run_all(db, "PRAGMA incremental_vacuum", err), err,
                           "giving free pages back");
    } else if (free_pages > 0 && allow_vacuum && 4 * free_pages >= pages) {
        /* a file made before auto_vacuum: rewritten once (atomic: a kill meanwhile leaves
           it whole, as it was), INCREMENTAL from then on */
        if ((s = run_all(db, "PRAGMA auto_vacuum = INCREMENTAL", err)) == KS_OK)
            s = run_all(db, "VACUUM", err);
    }
    /* the file shrinks when the WAL is written back; PASSIVE never waits for readers */
    if (s == KS_OK && free_pages > 0)
        s = run_all(db, "PRAGMA wal_checkpoint(PASSIVE)", err);
    if (s == KS_OK && after)
        s = db_bytes(db, after, err);
    return s;
}

/* ------------------------------------------------------------- histograms */

static void encode_histogram(const double *h, unsigned char *out)
{
    for (int i = 0; i < HIST_DOUBLES; i++) {
        uint64_t u;
        memcpy(&u, &h[i], 8);
        for (int b = 0; b < 8; b++)
            out[8 * i + b] = (unsigned char)(u >> (8 * b));
    }
}

static void decode_histogram(const unsigned char *in, double *h)
{
    for (int i = 0; i < HIST_DOUBLES; i++) {
        uint64_t u = 0;
        for (int b = 0; b < 8; b++)
            u |= (uint64_t)in[8 * i + b] << (8 * b);
        memcpy(&h[i], &u, 8);
    }
}

ks_status ks_dbi_histograms_put(ks_db *db, int64_t trial_id, int epoch, int n,
                                const char *const *tags, const double *const *data,
                                ks_error *err)
{
    unsigned char bytes[HIST_BYTES];
    sqlite3_stmt *st;
    ks_status s = ks_dbi_prepare(db, "INSERT INTO histogram (trial_id, epoch, tag, data)"
                                     " VALUES (?1, ?2, ?3, ?4)"
                                     " ON CONFLICT (trial_id, epoch, tag) DO UPDATE SET"
                                     " data = excluded.data",
                                 &st, err);
    if (s != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, trial_id);
    sqlite3_bind_int(st, 2, epoch);
    for (int i = 0; s == KS_OK && i < n; i++) {
        int rc;
        encode_histogram(data[i], bytes);
        sqlite3_bind_text(st, 3, tags[i], -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 4, bytes, HIST_BYTES, SQLITE_STATIC);
        rc = ks_dbi_step(db, st);
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            s = ks_dbi_missing(db, err, "no trial with id %lld", (long long)trial_id);
        else if (rc != SQLITE_DONE)
            s = ks_dbi_fail_trial(db, rc, err, trial_id, "writing histogram %s of", tags[i]);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return s;
}

ks_status ks_db_histogram_list(ks_db *db, int64_t trial_id, char ***tags, int **epochs,
                               int *n, ks_error *err)
{
    ks_dbi_strv sv = {0};
    sqlite3_stmt *st;
    int *ep = NULL, cap = 0, rc = SQLITE_DONE;
    ks_status s;
    if (!db || !tags || !epochs || !n)
        return ks_dbi_bad_arg(err, "ks_db_histogram_list: db, tags, epochs or n is NULL");
    *tags = NULL;
    *epochs = NULL;
    *n = 0;
    if ((s = ks_dbi_prepare(db, "SELECT tag, epoch FROM histogram WHERE trial_id = ?1"
                                " ORDER BY epoch, tag",
                            &st, err)) != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, trial_id);
    while (s == KS_OK && (rc = ks_dbi_step(db, st)) == SQLITE_ROW) {
        if (sv.n == cap) {
            int c2 = cap ? 2 * cap : 16;
            int *e2 = realloc(ep, (size_t)c2 * sizeof *e2);
            if (!e2) {
                s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
                break;
            }
            ep = e2;
            cap = c2;
        }
        ep[sv.n] = sqlite3_column_int(st, 1);
        s = ks_dbi_strv_push(&sv, (const char *)sqlite3_column_text(st, 0), err);
    }
    if (s == KS_OK && rc != SQLITE_DONE)
        s = ks_dbi_fail_trial(db, rc, err, trial_id, "listing the histograms of");
    sqlite3_finalize(st);
    if (s == KS_OK) {
        int count = sv.n;
        if ((s = ks_dbi_strv_finish(&sv, tags, err)) == KS_OK) {
            *epochs = ep;
            *n = count;
            return KS_OK;
        }
    }
    ks_strv_free(sv.v);
    free(ep);
    return s;
}

ks_status ks_db_histogram_get(ks_db *db, int64_t trial_id, const char *tag, int epoch,
                              double *out, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    int rc;
    if (!db || !tag || !out)
        return ks_dbi_bad_arg(err, "ks_db_histogram_get: db, tag or out is NULL");
    if ((s = ks_dbi_prepare(db, "SELECT data FROM histogram"
                                " WHERE trial_id = ?1 AND epoch = ?2 AND tag = ?3",
                            &st, err)) != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, trial_id);
    sqlite3_bind_int(st, 2, epoch);
    sqlite3_bind_text(st, 3, tag, -1, SQLITE_STATIC);
    rc = ks_dbi_step(db, st);
    if (rc == SQLITE_ROW) {
        const unsigned char *data = sqlite3_column_blob(st, 0);
        int bytes = sqlite3_column_bytes(st, 0);
        if (!data || bytes != HIST_BYTES) {
            char label[64];
            ks_dbi_trial_label(db, trial_id, label, sizeof label);
            s = ks_error_set_at(err, KS_ERR_CORRUPT, db->path, 0, 0,
                                "histogram %s of %s at epoch %d has %d bytes, not %d", tag,
                                label, epoch, bytes, HIST_BYTES);
        } else
            decode_histogram(data, out);
    } else if (rc == SQLITE_DONE) {
        char label[64];
        ks_dbi_trial_label(db, trial_id, label, sizeof label);
        s = ks_dbi_missing(db, err, "%s has no histogram %s at epoch %d", label, tag, epoch);
    } else {
        s = ks_dbi_fail_trial(db, rc, err, trial_id, "reading histogram %s of", tag);
    }
    sqlite3_finalize(st);
    return s;
}

/* -------------------------------------------------------------- ensembles */

ks_status ks_db_ensemble_put(ks_db *db, int64_t study_id, const char *name,
                             const char *json, const unsigned char *file, size_t len,
                             ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    int rc;
    if (!db || !name || !json)
        return ks_dbi_bad_arg(err, "ks_db_ensemble_put: db, name or json is NULL");
    if (len > (size_t)INT32_MAX)
        return ks_error_set_at(err, KS_ERR_DB, db->path, 0, 0,
                               "ensemble %s is too large (%zu bytes)", name, len);
    if ((s = ks_dbi_begin(db, err, "writing an ensemble")) != KS_OK)
        return s;
    s = ks_dbi_prepare(db, "INSERT INTO ensemble (study_id, name, json, file, created)"
                           " VALUES (?1, ?2, ?3, ?4, ?5)"
                           " ON CONFLICT (study_id, name) DO UPDATE SET json = excluded.json,"
                           " file = excluded.file, created = excluded.created",
                       &st, err);
    if (s == KS_OK) {
        sqlite3_bind_int64(st, 1, study_id);
        sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, json, -1, SQLITE_STATIC);
        if (file)
            sqlite3_bind_blob64(st, 4, len ? (const void *)file : "", (sqlite3_uint64)len,
                                SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 4);
        sqlite3_bind_double(st, 5, ks_dbi_now());
        rc = ks_dbi_step(db, st);
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            s = ks_dbi_missing(db, err, "no study with id %lld", (long long)study_id);
        else if (rc != SQLITE_DONE)
            s = ks_dbi_fail(db, rc, err, "writing ensemble %s", name);
        sqlite3_finalize(st);
    }
    return ks_dbi_end(db, s, err, "writing an ensemble");
}
