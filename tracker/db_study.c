/*
 * db_study.c — studies in the study database: find-or-create by name (what a run or
 * a resume does), read one back (by name, or the file's first), list them, and delete
 * one with everything under it (trials, metrics, checkpoints, histograms, ensembles,
 * segments and the declared search go by ON DELETE CASCADE).
 */
#include "db_impl.h"

#include <stdlib.h>
#include <string.h>

/* The columns read_study reads; a schema 1 file (read only) has no dir. */
#define STUDY_COLUMNS "id, name, config, hash, metric, maximize, created, dir"
#define STUDY_COLUMNS_V1 "id, name, config, hash, metric, maximize, created, NULL"

void ks_study_info_free(ks_study_info *s)
{
    if (!s)
        return;
    free(s->config);
    free(s->dir);
    s->config = s->dir = NULL;
}

/* A row of STUDY_COLUMNS into out (fixed fields are cut to size: they are checked on
   the way in, so only a file written by something else can be longer). */
static ks_status read_study(sqlite3_stmt *st, ks_study_info *out, ks_error *err)
{
    const unsigned char *t;
    int nomem = 0;
    memset(out, 0, sizeof *out);
    out->id = sqlite3_column_int64(st, 0);
    t = sqlite3_column_text(st, 1);
    snprintf(out->name, sizeof out->name, "%s", t ? (const char *)t : "");
    out->config = ks_dbi_text(st, 2, &nomem);
    t = sqlite3_column_text(st, 3);
    snprintf(out->hash, sizeof out->hash, "%s", t ? (const char *)t : "");
    t = sqlite3_column_text(st, 4);
    snprintf(out->metric, sizeof out->metric, "%s", t ? (const char *)t : "");
    out->maximize = sqlite3_column_int(st, 5) != 0;
    out->created = ks_dbi_real(st, 6, 0.0);
    out->dir = ks_dbi_text(st, 7, &nomem);
    if (!out->config && !nomem)
        out->config = strdup("");
    if (!out->config || nomem) {
        ks_study_info_free(out);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    return KS_OK;
}

/* The study named name into out; *found says whether there is one. */
static ks_status find_study(ks_db *db, const char *name, ks_study_info *out, int *found,
                            ks_error *err)
{
    sqlite3_stmt *st;
    int rc;
    ks_status s = ks_dbi_prepare(db, db->version < 2
                                         ? "SELECT " STUDY_COLUMNS_V1 " FROM study WHERE name = ?1"
                                         : "SELECT " STUDY_COLUMNS " FROM study WHERE name = ?1",
                                 &st, err);
    *found = 0;
    if (s != KS_OK)
        return s;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    rc = ks_dbi_step(db, st);
    if (rc == SQLITE_ROW) {
        *found = 1;
        s = read_study(st, out, err);
    } else if (rc != SQLITE_DONE) {
        s = ks_dbi_fail(db, rc, err, "reading study \"%s\"", name);
    }
    sqlite3_finalize(st);
    return s;
}

/* A text that must fit a fixed field of ks_study_info. */
static ks_status check_field(const char *what, const char *v, size_t size, ks_error *err)
{
    if (strlen(v) >= size)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "the study's %s \"%.40s...\" is too long (at most %zu bytes)", what,
                            v, size - 1);
    return KS_OK;
}

ks_status ks_db_study_open(ks_db *db, const char *name, const char *config, const char *hash,
                           const char *metric, int maximize, ks_study_info *out, int *created,
                           ks_error *err)
{
    sqlite3_stmt *st;
    int found = 0;
    ks_status s;
    if (!db || !out)
        return ks_dbi_bad_arg(err, "ks_db_study_open: db or out is NULL");
    memset(out, 0, sizeof *out);
    if (created)
        *created = 0;
    config = config ? config : "";
    hash = hash ? hash : "";
    metric = metric ? metric : "";
    if (!name || !name[0])
        return ks_error_set(err, KS_ERR_CONFIG, "a study needs a name");
    if ((s = check_field("name", name, sizeof out->name, err)) != KS_OK ||
        (s = check_field("hash", hash, sizeof out->hash, err)) != KS_OK ||
        (s = check_field("metric", metric, sizeof out->metric, err)) != KS_OK)
        return s;
    if ((s = ks_dbi_begin(db, err, "opening a study")) != KS_OK)
        return s;
    s = find_study(db, name, out, &found, err);
    if (s == KS_OK && !found) {
        double now = ks_dbi_now();
        s = ks_dbi_prepare(db, "INSERT INTO study (name, config, hash, metric, maximize, created)"
                               " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                           &st, err);
        if (s == KS_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, config, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 4, metric, -1, SQLITE_STATIC);
            sqlite3_bind_int(st, 5, maximize != 0);
            sqlite3_bind_double(st, 6, now);
            s = ks_dbi_run(db, st, err, "creating the study");
            sqlite3_finalize(st);
        }
        if (s == KS_OK) {
            out->id = sqlite3_last_insert_rowid(db->conn);
            snprintf(out->name, sizeof out->name, "%s", name);
            snprintf(out->hash, sizeof out->hash, "%s", hash);
            snprintf(out->metric, sizeof out->metric, "%s", metric);
            out->maximize = maximize != 0;
            out->created = now;
            if (!(out->config = strdup(config)))
                s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        }
    }
    s = ks_dbi_end(db, s, err, "opening a study");
    if (s != KS_OK) {
        ks_study_info_free(out);
        return s;
    }
    if (created)
        *created = !found;
    return KS_OK;
}

ks_status ks_db_study_get(ks_db *db, const char *name, ks_study_info *out, ks_error *err)
{
    int found = 0;
    ks_status s;
    if (!db || !out || !name)
        return ks_dbi_bad_arg(err, "ks_db_study_get: db, name or out is NULL");
    memset(out, 0, sizeof *out);
    s = find_study(db, name, out, &found, err);
    if (s == KS_OK && !found)
        s = ks_dbi_missing(db, err, "no study named \"%s\"", name);
    if (s != KS_OK)
        ks_study_info_free(out);
    return s;
}

ks_status ks_db_study_find(ks_db *db, const char *name, ks_study_info *out, ks_error *err)
{
    char **names = NULL;
    ks_status s;
    if (name)
        return ks_db_study_get(db, name, out, err);
    if (!db || !out)
        return ks_dbi_bad_arg(err, "ks_db_study_find: db or out is NULL");
    memset(out, 0, sizeof *out);
    if ((s = ks_db_study_list(db, &names, err)) != KS_OK)
        return s;
    if (!names[0])
        s = ks_error_set_at(err, KS_ERR_CONFIG, db->path, 0, 0, "the database holds no study yet");
    else
        s = ks_db_study_get(db, names[0], out, err);
    ks_strv_free(names);
    return s;
}

ks_status ks_db_study_list(ks_db *db, char ***names, ks_error *err)
{
    ks_dbi_strv sv = {0};
    sqlite3_stmt *st;
    ks_status s;
    int rc = SQLITE_DONE;
    if (!db || !names)
        return ks_dbi_bad_arg(err, "ks_db_study_list: db or names is NULL");
    *names = NULL;
    if ((s = ks_dbi_prepare(db, "SELECT name FROM study ORDER BY id", &st, err)) != KS_OK)
        return s;
    while (s == KS_OK && (rc = ks_dbi_step(db, st)) == SQLITE_ROW)
        s = ks_dbi_strv_push(&sv, (const char *)sqlite3_column_text(st, 0), err);
    if (s == KS_OK && rc != SQLITE_DONE)
        s = ks_dbi_fail(db, rc, err, "listing the studies");
    sqlite3_finalize(st);
    if (s == KS_OK)
        return ks_dbi_strv_finish(&sv, names, err);
    ks_strv_free(sv.v);
    return s;
}

ks_status ks_db_study_delete(ks_db *db, int64_t study_id, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    if (!db)
        return ks_dbi_bad_arg(err, "ks_db_study_delete: db is NULL");
    if ((s = ks_dbi_begin(db, err, "deleting a study")) != KS_OK)
        return s;
    if ((s = ks_dbi_prepare(db, "DELETE FROM study WHERE id = ?1", &st, err)) == KS_OK) {
        sqlite3_bind_int64(st, 1, study_id);
        s = ks_dbi_run(db, st, err, "deleting the study");
        sqlite3_finalize(st);
        if (s == KS_OK && sqlite3_changes(db->conn) == 0)
            s = ks_dbi_missing(db, err, "no study with id %lld", (long long)study_id);
    }
    return ks_dbi_end(db, s, err, "deleting a study");
}

/* ------------------------------------------------------------- growing */

ks_status ks_db_study_grow(ks_db *db, int64_t study_id, const char *config, const char *hash,
                           int trials, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    if (!db || !config || !hash)
        return ks_dbi_bad_arg(err, "ks_db_study_grow: db, config or hash is NULL");
    if ((s = ks_dbi_begin(db, err, "growing a study")) != KS_OK)
        return s;
    s = ks_dbi_prepare(db,
                       "INSERT INTO growth (study_id, pos, trials, config, grown)"
                       " SELECT ?1, (SELECT count(*) FROM growth WHERE study_id = ?1), ?2,"
                       " config, ?3 FROM study WHERE id = ?1",
                       &st, err);
    if (s == KS_OK) {
        sqlite3_bind_int64(st, 1, study_id);
        sqlite3_bind_int(st, 2, trials);
        sqlite3_bind_double(st, 3, ks_dbi_now());
        s = ks_dbi_run(db, st, err, "keeping the study's text before it grew");
        sqlite3_finalize(st);
        if (s == KS_OK && sqlite3_changes(db->conn) == 0)
            s = ks_dbi_missing(db, err, "no study with id %lld", (long long)study_id);
    }
    if (s == KS_OK &&
        (s = ks_dbi_prepare(db, "UPDATE study SET config = ?2, hash = ?3 WHERE id = ?1", &st,
                            err)) == KS_OK) {
        sqlite3_bind_int64(st, 1, study_id);
        sqlite3_bind_text(st, 2, config, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
        s = ks_dbi_run(db, st, err, "storing the grown study's text");
        sqlite3_finalize(st);
    }
    return ks_dbi_end(db, s, err, "growing a study");
}

void ks_study_growths_free(ks_study_growth *rows, int n)
{
    for (int i = 0; rows && i < n; i++)
        free(rows[i].config);
    free(rows);
}

ks_status ks_db_study_growths(ks_db *db, int64_t study_id, ks_study_growth **rows, int *n,
                              ks_error *err)
{
    sqlite3_stmt *st;
    ks_study_growth *v = NULL;
    int count = 0, cap = 0, rc = SQLITE_DONE, nomem = 0;
    ks_status s;
    if (!db || !rows || !n)
        return ks_dbi_bad_arg(err, "ks_db_study_growths: db, rows or n is NULL");
    *rows = NULL;
    *n = 0;
    if (db->version < 3)
        return KS_OK;
    if ((s = ks_dbi_prepare(db, "SELECT trials, config, grown FROM growth WHERE study_id = ?1"
                                " ORDER BY pos",
                            &st, err)) != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, study_id);
    while (s == KS_OK && (rc = ks_dbi_step(db, st)) == SQLITE_ROW) {
        if (count == cap) {
            ks_study_growth *g = realloc(v, sizeof *g * (size_t)(cap ? cap * 2 : 4));
            if (!g) {
                s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
                break;
            }
            v = g;
            cap = cap ? cap * 2 : 4;
        }
        v[count].trials = sqlite3_column_int(st, 0);
        v[count].config = ks_dbi_text(st, 1, &nomem);
        v[count].grown = ks_dbi_real(st, 2, 0.0);
        count++;
        if (nomem || !v[count - 1].config)
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if (s == KS_OK && rc != SQLITE_DONE)
        s = ks_dbi_fail(db, rc, err, "reading the study's growth");
    sqlite3_finalize(st);
    if (s != KS_OK) {
        ks_study_growths_free(v, count);
        return s;
    }
    *rows = v;
    *n = count;
    return KS_OK;
}
