/*
 * db_trial.c — trials in the study database: add one (queued), move it through its
 * statuses (running stamps its start, a final status its end), raise its budget,
 * and read one or all of a study's back, by number.
 */
#include "db_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {
    "queued", "running", "complete", "pruned", "failed", "interrupted",
};
_Static_assert(sizeof status_names / sizeof status_names[0] == KS_TRIAL_STATUS_COUNT,
               "one name per trial status");

const char *ks_trial_status_name(ks_trial_status s)
{
    if ((unsigned)s >= KS_TRIAL_STATUS_COUNT)
        return "unknown";
    return status_names[s];
}

int ks_trial_status_find(const char *name)
{
    for (int i = 0; i < KS_TRIAL_STATUS_COUNT; i++)
        if (strcmp(status_names[i], name) == 0)
            return i;
    return -1;
}

void ks_trial_info_free(ks_trial_info *t)
{
    if (!t)
        return;
    free(t->params);
    free(t->error);
    t->params = t->error = NULL;
}

void ks_dbi_trial_label(ks_db *db, int64_t trial_id, char *out, size_t size)
{
    sqlite3_stmt *st = NULL;
    snprintf(out, size, "trial with id %lld", (long long)trial_id);
    if (!db || !db->conn ||
        sqlite3_prepare_v2(db->conn, "SELECT number FROM trial WHERE id = ?1", -1, &st, NULL) !=
            SQLITE_OK)
        return;
    sqlite3_bind_int64(st, 1, trial_id);
    if (sqlite3_step(st) == SQLITE_ROW)
        snprintf(out, size, "trial %d", sqlite3_column_int(st, 0));
    sqlite3_finalize(st);
}

#define TRIAL_COLUMNS                                                                  \
    "id, number, status, params, seed, budget, epochs, objective, best_epoch, started, " \
    "ended, error"

static ks_status read_trial(ks_db *db, sqlite3_stmt *st, ks_trial_info *out, ks_error *err)
{
    const unsigned char *status = sqlite3_column_text(st, 2);
    int nomem = 0, k;
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(st, 0);
    out->number = sqlite3_column_int(st, 1);
    for (k = 0; k < KS_TRIAL_STATUS_COUNT; k++)
        if (status && strcmp((const char *)status, status_names[k]) == 0)
            break;
    if (k == KS_TRIAL_STATUS_COUNT)
        return ks_error_set_at(err, KS_ERR_CORRUPT, db->path, 0, 0,
                               "trial %d has an unknown status \"%s\"", out->number,
                               status ? (const char *)status : "");
    out->status = (ks_trial_status)k;
    out->params = ks_dbi_text(st, 3, &nomem);
    out->seed = (uint64_t)sqlite3_column_int64(st, 4);
    out->budget = sqlite3_column_int(st, 5);
    out->epochs = sqlite3_column_int(st, 6);
    out->objective = ks_dbi_real(st, 7, NAN);
    out->best_epoch = sqlite3_column_int(st, 8);
    out->started = ks_dbi_real(st, 9, 0.0);
    out->ended = ks_dbi_real(st, 10, 0.0);
    out->error = ks_dbi_text(st, 11, &nomem);
    if (!out->params && !nomem)
        out->params = strdup("{}");
    if (!out->params || nomem) {
        ks_trial_info_free(out);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    return KS_OK;
}

ks_status ks_db_trial_add(ks_db *db, int64_t study_id, int number, const char *params_json,
                          uint64_t seed, int budget, int64_t *trial_id, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    int rc;
    if (!db)
        return ks_dbi_bad_arg(err, "ks_db_trial_add: db is NULL");
    if (number < 0 || budget < 0)
        return ks_dbi_bad_arg(err, "ks_db_trial_add: trial number %d, budget %d (expected >= 0)",
                              number, budget);
    if ((s = ks_dbi_begin(db, err, "adding a trial")) != KS_OK)
        return s;
    s = ks_dbi_prepare(db, "INSERT INTO trial (study_id, number, status, params, seed, budget)"
                           " VALUES (?1, ?2, 'queued', ?3, ?4, ?5)",
                       &st, err);
    if (s == KS_OK) {
        sqlite3_bind_int64(st, 1, study_id);
        sqlite3_bind_int(st, 2, number);
        sqlite3_bind_text(st, 3, params_json ? params_json : "{}", -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)seed);
        sqlite3_bind_int(st, 5, budget);
        rc = ks_dbi_step(db, st);
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            s = ks_dbi_missing(db, err, "no study with id %lld", (long long)study_id);
        else if (rc == SQLITE_CONSTRAINT_UNIQUE)
            s = ks_error_set_at(err, KS_ERR_DB, db->path, 0, 0,
                                "trial %d of study %lld is already there", number,
                                (long long)study_id);
        else if (rc != SQLITE_DONE)
            s = ks_dbi_fail(db, rc, err, "adding trial %d", number);
        sqlite3_finalize(st);
        if (s == KS_OK && trial_id)
            *trial_id = sqlite3_last_insert_rowid(db->conn);
    }
    return ks_dbi_end(db, s, err, "adding a trial");
}

/* A trial's status, its budget when budget >= 0 and the ending job's segment when span
   is not NULL, in one transaction. */
static ks_status set_status(ks_db *db, int64_t trial_id, ks_trial_status status, int budget,
                            const char *error_text, const ks_job_span *span, const char *what,
                            ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    int final = status == KS_TRIAL_COMPLETE || status == KS_TRIAL_PRUNED ||
                status == KS_TRIAL_FAILED || status == KS_TRIAL_INTERRUPTED;
    if (!db)
        return ks_dbi_bad_arg(err, "%s: db is NULL", what);
    if ((unsigned)status >= KS_TRIAL_STATUS_COUNT)
        return ks_dbi_bad_arg(err, "%s: no trial status %d", what, (int)status);
    if ((s = ks_dbi_begin(db, err, what)) != KS_OK)
        return s;
    /* running: started once (a resumed trial keeps its first start), ended cleared;
       final: ended now, or kept from an earlier final state (complete → pruned);
       queued: ended cleared */
    s = ks_dbi_prepare(db, "UPDATE trial SET status = ?1,"
                           " started = CASE WHEN ?2 AND (started IS NULL OR started = 0)"
                           " THEN ?3 ELSE started END,"
                           " ended = CASE WHEN NOT ?4 THEN NULL"
                           " WHEN ended IS NOT NULL AND status IN"
                           " ('complete', 'pruned', 'failed', 'interrupted') THEN ended"
                           " ELSE ?3 END,"
                           " error = ?5,"
                           " budget = CASE WHEN ?7 >= 0 THEN ?7 ELSE budget END"
                           " WHERE id = ?6",
                       &st, err);
    if (s != KS_OK)
        return ks_dbi_end(db, s, err, what);
    sqlite3_bind_text(st, 1, status_names[status], -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 2, status == KS_TRIAL_RUNNING);
    sqlite3_bind_double(st, 3, ks_dbi_now());
    sqlite3_bind_int(st, 4, final);
    if (error_text)
        sqlite3_bind_text(st, 5, error_text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, 5);
    sqlite3_bind_int64(st, 6, trial_id);
    sqlite3_bind_int(st, 7, budget);
    s = ks_dbi_run(db, st, err, what);
    if (s == KS_OK && sqlite3_changes(db->conn) == 0)
        s = ks_dbi_missing(db, err, "no trial with id %lld", (long long)trial_id);
    sqlite3_finalize(st);
    if (s == KS_OK && span)
        s = ks_dbi_segment_insert(db, trial_id, span, status, err);
    return ks_dbi_end(db, s, err, what);
}

ks_status ks_db_trial_set_status(ks_db *db, int64_t trial_id, ks_trial_status status,
                                 const char *error_text, ks_error *err)
{
    return set_status(db, trial_id, status, -1, error_text, NULL, "setting a trial's status",
                      err);
}

ks_status ks_db_trial_end(ks_db *db, int64_t trial_id, ks_trial_status status,
                          const char *error_text, const ks_job_span *span, ks_error *err)
{
    return set_status(db, trial_id, status, -1, error_text, span, "ending a trial's job", err);
}

ks_status ks_db_trial_start(ks_db *db, int64_t trial_id, int budget, ks_error *err)
{
    if (budget < 0)
        return ks_dbi_bad_arg(err, "ks_db_trial_start: budget %d (expected >= 0)", budget);
    return set_status(db, trial_id, KS_TRIAL_RUNNING, budget, NULL, NULL, "starting a trial",
                      err);
}

ks_status ks_db_trial_get(ks_db *db, int64_t trial_id, ks_trial_info *out, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    int rc;
    if (!db || !out)
        return ks_dbi_bad_arg(err, "ks_db_trial_get: db or out is NULL");
    memset(out, 0, sizeof *out);
    if ((s = ks_dbi_prepare(db, "SELECT " TRIAL_COLUMNS " FROM trial WHERE id = ?1", &st,
                            err)) != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, trial_id);
    rc = ks_dbi_step(db, st);
    if (rc == SQLITE_ROW)
        s = read_trial(db, st, out, err);
    else if (rc == SQLITE_DONE)
        s = ks_dbi_missing(db, err, "no trial with id %lld", (long long)trial_id);
    else
        s = ks_dbi_fail_trial(db, rc, err, trial_id, "reading");
    sqlite3_finalize(st);
    return s;
}

ks_status ks_db_trials(ks_db *db, int64_t study_id, ks_trial_info **rows, int *n,
                       ks_error *err)
{
    sqlite3_stmt *st;
    ks_trial_info *v = NULL;
    int count = 0, cap = 0, rc = SQLITE_DONE;
    ks_status s;
    if (!db || !rows || !n)
        return ks_dbi_bad_arg(err, "ks_db_trials: db, rows or n is NULL");
    *rows = NULL;
    *n = 0;
    if ((s = ks_dbi_prepare(db, "SELECT " TRIAL_COLUMNS " FROM trial WHERE study_id = ?1"
                                " ORDER BY number",
                            &st, err)) != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, study_id);
    while (s == KS_OK && (rc = ks_dbi_step(db, st)) == SQLITE_ROW) {
        if (count == cap) {
            int c2 = cap ? 2 * cap : 16;
            ks_trial_info *v2 = realloc(v, (size_t)c2 * sizeof *v2);
            if (!v2) {
                s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
                break;
            }
            v = v2;
            cap = c2;
        }
        if ((s = read_trial(db, st, &v[count], err)) == KS_OK)
            count++;
    }
    if (s == KS_OK && rc != SQLITE_DONE)
        s = ks_dbi_fail(db, rc, err, "reading the trials of study %lld", (long long)study_id);
    sqlite3_finalize(st);
    if (s != KS_OK) {
        for (int i = 0; i < count; i++)
            ks_trial_info_free(&v[i]);
        free(v);
        return s;
    }
    *rows = v;
    *n = count;
    return KS_OK;
}
