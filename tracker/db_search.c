/*
 * db_search.c — what a study's file declares besides its text, kept when the study
 * starts: the folder its relative data paths are read from (study.dir) and the search
 * (search and param rows: method, budget, each parameter's kind, range, step, log
 * scale and choices), the one store of the declared space, read back by reports and
 * the TensorBoard rewrite.  A file of schema 1 keeps neither: the readers say "none".
 */
#include "db_impl.h"

#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"choice", "int", "float"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == KS_SEARCH_FLOAT + 1,
               "a name per ks_search_kind");

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
            s = ks_dbi_bad_arg(err, "ks_db_study_set_context: parameter %s has kind %d", p->name,
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

/* The search rows of a study (replacing what was stored), inside the caller's transaction. */
static ks_status put_search(ks_db *db, int64_t study_id, const ks_search_info *info,
                            ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
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
        sqlite3_bind_int64(st, 1, study_id);
        sqlite3_bind_text(st, 2, info->method, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, info->max_trials);
        sqlite3_bind_int(st, 4, info->planned_trials);
        sqlite3_bind_int(st, 5, info->max_epochs);
        sqlite3_bind_int(st, 6, info->workers);
        s = ks_dbi_run(db, st, err, "storing the search");
        sqlite3_finalize(st);
    }
    if (s == KS_OK)
        s = put_params(db, study_id, info, err);
    return s;
}

ks_status ks_db_study_set_context(ks_db *db, int64_t study_id, const char *dir,
                                  const ks_search_info *search, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    if (!db || (search && (search->n_params < 0 || (search->n_params > 0 && !search->params))))
        return ks_dbi_bad_arg(err, "ks_db_study_set_context: bad arguments");
    if ((s = ks_dbi_begin(db, err, "recording the study's context")) != KS_OK)
        return s;
    /* the study must be there (a search row alone would point at nothing) */
    s = ks_dbi_prepare(db, "UPDATE study SET dir = coalesce(?2, dir) WHERE id = ?1", &st, err);
    if (s == KS_OK) {
        sqlite3_bind_int64(st, 1, study_id);
        if (dir)
            sqlite3_bind_text(st, 2, dir, -1, SQLITE_STATIC);
        s = ks_dbi_run(db, st, err, "recording the study's context");
        if (s == KS_OK && sqlite3_changes(db->conn) == 0)
            s = ks_dbi_missing(db, err, "no study with id %lld", (long long)study_id);
        sqlite3_finalize(st);
    }
    if (s == KS_OK && search)
        s = put_search(db, study_id, search, err);
    return ks_dbi_end(db, s, err, "recording the study's context");
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

