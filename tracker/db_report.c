/*
 * db_report.c — what the HTML report needs from the study database beyond the trials:
 * the workers' segments (schema 2: a version-1 file has none, and the report says so)
 * and bulk reads of a study's epoch values and ensembles.
 */
#include "db_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- segments */

ks_status ks_dbi_segment_insert(ks_db *db, int64_t trial_id, const ks_job_span *span,
                                ks_trial_status status, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    double now = ks_dbi_now();
    if ((unsigned)status >= KS_TRIAL_STATUS_COUNT || span->worker < 0 || span->first_epoch < 0)
        return ks_dbi_bad_arg(err, "recording a segment: bad arguments");
    /* the trial's epochs as the job left them */
    s = ks_dbi_prepare(db, "INSERT INTO segment (trial_id, worker, started, ended, first_epoch,"
                           " epochs, status) SELECT id, ?2, ?3, ?4, ?5, epochs, ?6 FROM trial"
                           " WHERE id = ?1",
                       &st, err);
    if (s != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, trial_id);
    sqlite3_bind_int(st, 2, span->worker);
    sqlite3_bind_double(st, 3, now - (span->seconds > 0 ? span->seconds : 0));
    sqlite3_bind_double(st, 4, now);
    sqlite3_bind_int(st, 5, span->first_epoch);
    sqlite3_bind_text(st, 6, ks_trial_status_name(status), -1, SQLITE_STATIC);
    s = ks_dbi_run(db, st, err, "recording a segment");
    if (s == KS_OK && sqlite3_changes(db->conn) == 0)
        s = ks_dbi_missing(db, err, "no trial with id %lld", (long long)trial_id);
    sqlite3_finalize(st);
    return s;
}

ks_status ks_db_segment_add(ks_db *db, int64_t trial_id, int worker, double seconds,
                            int first_epoch, ks_trial_status status, ks_error *err)
{
    ks_job_span span = {worker, seconds, first_epoch};
    ks_status s;
    if (!db)
        return ks_dbi_bad_arg(err, "ks_db_segment_add: db is NULL");
    if ((s = ks_dbi_begin(db, err, "recording a segment")) != KS_OK)
        return s;
    s = ks_dbi_segment_insert(db, trial_id, &span, status, err);
    return ks_dbi_end(db, s, err, "recording a segment");
}

/* The status named by text (KS_TRIAL_STATUS_COUNT if none). */
static ks_trial_status status_of(const unsigned char *text)
{
    for (int k = 0; text && k < KS_TRIAL_STATUS_COUNT; k++)
        if (strcmp((const char *)text, ks_trial_status_name((ks_trial_status)k)) == 0)
            return (ks_trial_status)k;
    return KS_TRIAL_STATUS_COUNT;
}

ks_status ks_db_segments(ks_db *db, int64_t study_id, ks_segment **rows, int *n,
                         ks_error *err)
{
    sqlite3_stmt *st;
    ks_segment *v = NULL;
    int count = 0, cap = 0, rc = SQLITE_DONE;
    ks_status s;
    if (!db || !rows || !n)
        return ks_dbi_bad_arg(err, "ks_db_segments: a NULL argument");
    *rows = NULL;
    *n = 0;
    if (db->version < 2)
        return KS_OK;
    if ((s = ks_dbi_prepare(db, "SELECT t.number, g.worker, g.started, g.ended, g.first_epoch,"
                                " g.epochs, g.status FROM segment g JOIN trial t"
                                " ON t.id = g.trial_id WHERE t.study_id = ?1"
                                " ORDER BY g.started, g.id",
                            &st, err)) != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, study_id);
    while (s == KS_OK && (rc = ks_dbi_step(db, st)) == SQLITE_ROW) {
        ks_segment *g;
        if (count == cap) {
            int c2 = cap ? 2 * cap : 64;
            ks_segment *v2 = realloc(v, (size_t)c2 * sizeof *v2);
            if (!v2) {
                s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
                break;
            }
            v = v2;
            cap = c2;
        }
        g = &v[count];
        g->trial_number = sqlite3_column_int(st, 0);
        g->worker = sqlite3_column_int(st, 1);
        g->started = ks_dbi_real(st, 2, 0.0);
        g->ended = ks_dbi_real(st, 3, 0.0);
        g->first_epoch = sqlite3_column_int(st, 4);
        g->epochs = sqlite3_column_int(st, 5);
        g->status = status_of(sqlite3_column_text(st, 6));
        if (g->status == KS_TRIAL_STATUS_COUNT || g->worker < 0)
            s = ks_error_set_at(err, KS_ERR_CORRUPT, db->path, 0, 0,
                                "a segment of trial %d has worker %d and status \"%s\"",
                                g->trial_number, g->worker,
                                (const char *)sqlite3_column_text(st, 6));
        count++;
    }
    if (s == KS_OK && rc != SQLITE_DONE)
        s = ks_dbi_fail(db, rc, err, "reading the segments");
    sqlite3_finalize(st);
    if (s != KS_OK) {
        free(v);
        return s;
    }
    *rows = v;
    *n = count;
    return KS_OK;
}

/* ----------------------------------------------------------- bulk reads */

ks_status ks_db_study_metrics(ks_db *db, int64_t study_id, ks_metric_row_fn fn, void *user,
                              ks_error *err)
{
    sqlite3_stmt *st;
    int rc = SQLITE_DONE;
    ks_status s;
    if (!db || !fn)
        return ks_dbi_bad_arg(err, "ks_db_study_metrics: a NULL argument");
    if ((s = ks_dbi_prepare(db, "SELECT t.number, m.name, m.epoch, m.value FROM metric m"
                                " JOIN trial t ON t.id = m.trial_id"
                                " WHERE t.study_id = ?1 AND m.step = -1 AND m.name <> ?2"
                                " ORDER BY t.number, m.epoch, m.pos",
                            &st, err)) != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, study_id);
    sqlite3_bind_text(st, 2, KS_METRIC_ITERATIONS, -1, SQLITE_STATIC);
    while (s == KS_OK && (rc = ks_dbi_step(db, st)) == SQLITE_ROW) {
        const unsigned char *name = sqlite3_column_text(st, 1);
        s = fn(user, sqlite3_column_int(st, 0), name ? (const char *)name : "",
               sqlite3_column_int(st, 2), ks_dbi_real(st, 3, NAN), err);
    }
    if (s == KS_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
        s = ks_dbi_fail(db, rc, err, "reading the metric values");
    sqlite3_finalize(st);
    return s;
}

ks_status ks_db_ensembles(ks_db *db, int64_t study_id, char ***names, char ***jsons,
                          ks_error *err)
{
    ks_dbi_strv nv = {0}, jv = {0};
    sqlite3_stmt *st;
    int rc = SQLITE_DONE;
    ks_status s;
    if (!db || !names || !jsons)
        return ks_dbi_bad_arg(err, "ks_db_ensembles: a NULL argument");
    *names = *jsons = NULL;
    if ((s = ks_dbi_prepare(db, "SELECT name, json FROM ensemble WHERE study_id = ?1"
                                " ORDER BY name",
                            &st, err)) != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, study_id);
    while (s == KS_OK && (rc = ks_dbi_step(db, st)) == SQLITE_ROW)
        if ((s = ks_dbi_strv_push(&nv, (const char *)sqlite3_column_text(st, 0), err)) == KS_OK)
            s = ks_dbi_strv_push(&jv, (const char *)sqlite3_column_text(st, 1), err);
    if (s == KS_OK && rc != SQLITE_DONE)
        s = ks_dbi_fail(db, rc, err, "reading the ensembles");
    sqlite3_finalize(st);
    if (s == KS_OK && (s = ks_dbi_strv_finish(&nv, names, err)) == KS_OK &&
        (s = ks_dbi_strv_finish(&jv, jsons, err)) != KS_OK) {
        ks_strv_free(*names);
        *names = NULL;
    }
    ks_strv_free(nv.v);
    ks_strv_free(jv.v);
    return s;
}
