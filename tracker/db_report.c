/*
 * db_report.c — what the HTML report needs from the study database beyond the trials:
 * finding a study, the workers' segments (schema 2), the declared search (schema 2),
 * and bulk reads of a study's epoch values and ensembles.  A version-1 file has no segments and no
 * search: the readers answer "none" and the report says so.
 */
#include "db_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"choice", "int", "float"};

/* ---------------------------------------------------------------- study */

ks_status ks_db_study_find(ks_db *db, const char *name, ks_study_info *out, ks_error *err)
{
    char **names = NULL;
    ks_status s;
    if (name)
        return ks_db_study_get(db, name, out, err);
    if ((s = ks_db_study_list(db, &names, err)) != KS_OK)
        return s;
    if (!names[0])
        s = ks_error_set_at(err, KS_ERR_CONFIG, db->path, 0, 0, "the database holds no study yet");
    else
        s = ks_db_study_get(db, names[0], out, err);
    ks_strv_free(names);
    return s;
}

/* ------------------------------------------------------------- segments */

ks_status ks_db_segment_add(ks_db *db, int64_t trial_id, int worker, double seconds,
                            int first_epoch, ks_trial_status status, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    double now = ks_dbi_now();
    if (!db || (unsigned)status >= KS_TRIAL_STATUS_COUNT || worker < 0 || first_epoch < 0)
        return ks_dbi_bad_arg(err, "ks_db_segment_add: bad arguments");
    if ((s = ks_dbi_begin(db, err, "recording a segment")) != KS_OK)
        return s;
    /* the trial's epochs as the job left them */
    s = ks_dbi_prepare(db, "INSERT INTO segment (trial_id, worker, started, ended, first_epoch,"
                           " epochs, status) SELECT id, ?2, ?3, ?4, ?5, epochs, ?6 FROM trial"
                           " WHERE id = ?1",
                       &st, err);
    if (s == KS_OK) {
        sqlite3_bind_int64(st, 1, trial_id);
        sqlite3_bind_int(st, 2, worker);
        sqlite3_bind_double(st, 3, now - (seconds > 0 ? seconds : 0));
        sqlite3_bind_double(st, 4, now);
        sqlite3_bind_int(st, 5, first_epoch);
        sqlite3_bind_text(st, 6, ks_trial_status_name(status), -1, SQLITE_STATIC);
        s = ks_dbi_run(db, st, err, "recording a segment");
        if (s == KS_OK && sqlite3_changes(db->conn) == 0)
            s = ks_dbi_missing(db, err, "no trial with id %lld", (long long)trial_id);
        sqlite3_finalize(st);
    }
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

/* ------------------------------------------------------ the declared search */

void ks_search_info_free(ks_search_info *s)
{
    if (!s)
        return;
    for (int i = 0; s->params && i < s->n_params; i++)
        free(s->params[i].choices);
    free(s->params);
    s->params = NULL;
    s->n_params = 0;
}

static ks_status put_params(ks_db *db, int64_t study_id, const ks_search_info *info,
                            ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s = ks_dbi_prepare(db, "INSERT INTO param (study_id, pos, name, kind, low, high,"
                                     " step, log, choices) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                                     " ?8, ?9)",
                                 &st, err);
    for (int i = 0; s == KS_OK && i < info->n_params; i++) {
        const ks_search_param *p = &info->params[i];
        if ((unsigned)p->kind > KS_SEARCH_FLOAT) {
            s = ks_dbi_bad_arg(err, "ks_db_search_put: parameter %s has kind %d", p->name,
                               (int)p->kind);
            break;
        }
        sqlite3_reset(st);
        sqlite3_bind_int64(st, 1, study_id);
        sqlite3_bind_int(st, 2, i);
        sqlite3_bind_text(st, 3, p->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, kind_names[p->kind], -1, SQLITE_STATIC);
        sqlite3_bind_double(st, 5, p->low);
        sqlite3_bind_double(st, 6, p->high);
        sqlite3_bind_double(st, 7, p->step);
        sqlite3_bind_int(st, 8, p->log != 0);
        if (p->choices)
            sqlite3_bind_text(st, 9, p->choices, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, 9);
        s = ks_dbi_run(db, st, err, "storing the search space");
    }
    sqlite3_finalize(st);
    return s;
}

ks_status ks_db_search_put(ks_db *db, int64_t study_id, const ks_search_info *info,
                           ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    if (!db || !info || info->n_params < 0 || (info->n_params > 0 && !info->params))
        return ks_dbi_bad_arg(err, "ks_db_search_put: bad arguments");
    if ((s = ks_dbi_begin(db, err, "storing the search")) != KS_OK)
        return s;
    if ((s = ks_dbi_prepare(db, "DELETE FROM param WHERE study_id = ?1", &st, err)) == KS_OK) {
        sqlite3_bind_int64(st, 1, study_id);
        s = ks_dbi_run(db, st, err, "storing the search");
        sqlite3_finalize(st);
    }
    if (s == KS_OK &&
        (s = ks_dbi_prepare(db, "INSERT OR REPLACE INTO search (study_id, method, max_trials,"
                                " planned_trials, max_epochs, workers) VALUES (?1, ?2, ?3, ?4,"
                                " ?5, ?6)",
                            &st, err)) == KS_OK) {
        int rc;
        sqlite3_bind_int64(st, 1, study_id);
        sqlite3_bind_text(st, 2, info->method, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, info->max_trials);
        sqlite3_bind_int(st, 4, info->planned_trials);
        sqlite3_bind_int(st, 5, info->max_epochs);
        sqlite3_bind_int(st, 6, info->workers);
        rc = ks_dbi_step(db, st);
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            s = ks_dbi_missing(db, err, "no study with id %lld", (long long)study_id);
        else if (rc != SQLITE_DONE)
            s = ks_dbi_fail(db, rc, err, "storing the search");
        sqlite3_finalize(st);
    }
    if (s == KS_OK)
        s = put_params(db, study_id, info, err);
    return ks_dbi_end(db, s, err, "storing the search");
}

/* The parameter rows of a study into out->params. */
static ks_status get_params(ks_db *db, int64_t study_id, ks_search_info *out, ks_error *err)
{
    sqlite3_stmt *st;
    int rc = SQLITE_DONE, cap = 0;
    ks_status s = ks_dbi_prepare(db, "SELECT name, kind, low, high, step, log, choices FROM"
                                     " param WHERE study_id = ?1 ORDER BY pos",
                                 &st, err);
    if (s != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, study_id);
    while (s == KS_OK && (rc = ks_dbi_step(db, st)) == SQLITE_ROW) {
        ks_search_param *p;
        const unsigned char *name = sqlite3_column_text(st, 0), *kind = sqlite3_column_text(st, 1);
        int nomem = 0, k;
        if (out->n_params == cap) {
            int c2 = cap ? 2 * cap : 8;
            ks_search_param *v = realloc(out->params, (size_t)c2 * sizeof *v);
            if (!v) {
                s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
                break;
            }
            out->params = v;
            cap = c2;
        }
        p = &out->params[out->n_params];
        memset(p, 0, sizeof *p);
        for (k = 0; k < 3 && kind; k++)
            if (strcmp((const char *)kind, kind_names[k]) == 0)
                break;
        if (!name || !kind || k == 3 || strlen((const char *)name) >= sizeof p->name) {
            s = ks_error_set_at(err, KS_ERR_CORRUPT, db->path, 0, 0,
                                "the search space's parameter %d is damaged", out->n_params);
            break;
        }
        snprintf(p->name, sizeof p->name, "%s", (const char *)name);
        p->kind = (ks_search_kind)k;
        p->low = ks_dbi_real(st, 2, 0.0);
        p->high = ks_dbi_real(st, 3, 0.0);
        p->step = ks_dbi_real(st, 4, 0.0);
        p->log = sqlite3_column_int(st, 5) != 0;
        p->choices = ks_dbi_text(st, 6, &nomem);
        out->n_params++;
        if (nomem)
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if (s == KS_OK && rc != SQLITE_DONE)
        s = ks_dbi_fail(db, rc, err, "reading the search space");
    sqlite3_finalize(st);
    return s;
}

ks_status ks_db_search_get(ks_db *db, int64_t study_id, ks_search_info *out, int *found,
                           ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    int rc;
    if (!db || !out || !found)
        return ks_dbi_bad_arg(err, "ks_db_search_get: a NULL argument");
    memset(out, 0, sizeof *out);
    *found = 0;
    if (db->version < 2)
        return KS_OK;
    if ((s = ks_dbi_prepare(db, "SELECT method, max_trials, planned_trials, max_epochs, workers"
                                " FROM search WHERE study_id = ?1",
                            &st, err)) != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, study_id);
    rc = ks_dbi_step(db, st);
    if (rc == SQLITE_ROW) {
        const unsigned char *m = sqlite3_column_text(st, 0);
        *found = 1;
        snprintf(out->method, sizeof out->method, "%s", m ? (const char *)m : "");
        out->max_trials = sqlite3_column_int(st, 1);
        out->planned_trials = sqlite3_column_int(st, 2);
        out->max_epochs = sqlite3_column_int(st, 3);
        out->workers = sqlite3_column_int(st, 4);
    } else if (rc != SQLITE_DONE) {
        s = ks_dbi_fail(db, rc, err, "reading the search");
    }
    sqlite3_finalize(st);
    if (s == KS_OK && *found)
        s = get_params(db, study_id, out, err);
    if (s != KS_OK) {
        ks_search_info_free(out);
        *found = 0;
    }
    return s;
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
