/*
 * db.c — the study database's file: opening (is it a ksearch study database, of a
 * schema version this ksearch reads, undamaged?), creating its schema, the pragmas
 * every connection sets, and the helpers the other db_*.c files share: SQLite errors
 * as ks_status, statements and BEGIN IMMEDIATE transactions retried on SQLITE_BUSY.
 *
 * The schema: version 1, then the migration steps of `migrations` (a new file gets
 * version 1 and every step), which makes the version below.  Times are Unix seconds
 * (REAL); SQLite keeps NaN as NULL, so a REAL that may be NaN is NULL when it is.
 *
 *   meta(key PK, value)              schema_version "3", created_by "ksearch"
 *   study(id, name UNIQUE, config, hash, metric, maximize, created,
 *         dir NULL (v2: the study file's folder, absolute: relative data paths start
 *         there; NULL when not known))
 *   trial(id, study_id → study CASCADE, number, status TEXT (ks_trial_status_name),
 *         params JSON, seed (uint64 as its int64 bit pattern), budget, epochs,
 *         objective NULL, best_epoch (-1: none), started NULL, ended NULL, error NULL,
 *         UNIQUE(study_id, number));  index trial_best(study_id, status, objective)
 *   metric(trial_id → trial CASCADE, name, step (-1: an epoch value), epoch, pos (the
 *         name's place in its logs, for Keras's order), value NULL, wall_time,
 *         PRIMARY KEY(trial_id, name, step, epoch)) WITHOUT ROWID
 *         — the key is both the uniqueness rule (a repeated epoch replaces) and the
 *         index of a trial's series, so the table needs no second index
 *   checkpoint(trial_id → trial CASCADE, kind 'best'|'last', epoch (0-based),
 *         monitored NULL, data BLOB (the .ksm bytes), UNIQUE(trial_id, kind))
 *   histogram(trial_id → trial CASCADE, epoch, tag, data BLOB: KS_HISTOGRAM_BUCKETS × 3
 *         little-endian doubles (left, right, count), UNIQUE(trial_id, epoch, tag))
 *   ensemble(id, study_id → study CASCADE, name, json, file BLOB NULL, created,
 *         UNIQUE(study_id, name))
 *   segment (v2)(id, trial_id → trial CASCADE, worker, started, ended, first_epoch,
 *         epochs, status): each job a worker ran (a fit, a resume, a promotion), the
 *         trial's epochs when it ended; index segment_trial(trial_id)
 *   search (v2)(study_id PK → study CASCADE, method, max_trials, planned_trials,
 *         max_epochs, workers) and param (v2)(study_id → study CASCADE, pos, name,
 *         kind 'choice'|'int'|'float', low, high, step, log, choices JSON NULL,
 *         PRIMARY KEY(study_id, pos)): the search as the study file declares it, stored
 *         (with study.dir) each time the study starts — the one store of the declared
 *         space (reports, the HParams domains of `ksearch tensorboard`)
 *   growth (v3)(study_id → study CASCADE, pos, trials, config, grown, PRIMARY KEY(study_id,
 *         pos)): each time the study grew (`ksearch STUDY --grow`), the file it had
 *         until then and how many trials it had: trials numbered from there on ran
 *         with the next text (the last one's: study.config)
 *
 * A file opened for writing is brought up to date; a read-only open reads it as it is
 * (readers of v2 tables answer "none" for a version 1 file).
 */
#include "db_impl.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char schema_sql[] =
    "CREATE TABLE meta (\n"
    "    key   TEXT PRIMARY KEY,\n"
    "    value TEXT NOT NULL\n"
    ");\n"
    "CREATE TABLE study (\n"
    "    id       INTEGER PRIMARY KEY,\n"
    "    name     TEXT NOT NULL UNIQUE,\n"
    "    config   TEXT NOT NULL,\n"
    "    hash     TEXT NOT NULL,\n"
    "    metric   TEXT NOT NULL,\n"
    "    maximize INTEGER NOT NULL,\n"
    "    created  REAL NOT NULL\n"
    ");\n"
    "CREATE TABLE trial (\n"
    "    id         INTEGER PRIMARY KEY,\n"
    "    study_id   INTEGER NOT NULL REFERENCES study(id) ON DELETE CASCADE,\n"
    "    number     INTEGER NOT NULL,\n"
    "    status     TEXT NOT NULL CHECK (status IN ('queued', 'running', 'complete',\n"
    "                                               'pruned', 'failed', 'interrupted')),\n"
    "    params     TEXT NOT NULL,\n"
    "    seed       INTEGER NOT NULL,\n"
    "    budget     INTEGER NOT NULL,\n"
    "    epochs     INTEGER NOT NULL DEFAULT 0,\n"
    "    objective  REAL,\n"
    "    best_epoch INTEGER NOT NULL DEFAULT -1,\n"
    "    started    REAL,\n"
    "    ended      REAL,\n"
    "    error      TEXT,\n"
    "    UNIQUE (study_id, number)\n"
    ");\n"
    "CREATE INDEX trial_best ON trial (study_id, status, objective);\n"
    "CREATE TABLE metric (\n"
    "    trial_id  INTEGER NOT NULL REFERENCES trial(id) ON DELETE CASCADE,\n"
    "    name      TEXT NOT NULL,\n"
    "    step      INTEGER NOT NULL,\n"
    "    epoch     INTEGER NOT NULL,\n"
    "    pos       INTEGER NOT NULL,\n"
    "    value     REAL,\n"
    "    wall_time REAL NOT NULL,\n"
    "    PRIMARY KEY (trial_id, name, step, epoch)\n"
    ") WITHOUT ROWID;\n"
    "CREATE TABLE checkpoint (\n"
    "    trial_id  INTEGER NOT NULL REFERENCES trial(id) ON DELETE CASCADE,\n"
    "    kind      TEXT NOT NULL CHECK (kind IN ('best', 'last')),\n"
    "    epoch     INTEGER NOT NULL,\n"
    "    monitored REAL,\n"
    "    data      BLOB NOT NULL,\n"
    "    UNIQUE (trial_id, kind)\n"
    ");\n"
    "CREATE TABLE histogram (\n"
    "    trial_id INTEGER NOT NULL REFERENCES trial(id) ON DELETE CASCADE,\n"
    "    epoch    INTEGER NOT NULL,\n"
    "    tag      TEXT NOT NULL,\n"
    "    data     BLOB NOT NULL,\n"
    "    UNIQUE (trial_id, epoch, tag)\n"
    ");\n"
    "CREATE TABLE ensemble (\n"
    "    id       INTEGER PRIMARY KEY,\n"
    "    study_id INTEGER NOT NULL REFERENCES study(id) ON DELETE CASCADE,\n"
    "    name     TEXT NOT NULL,\n"
    "    json     TEXT NOT NULL,\n"
    "    file     BLOB,\n"
    "    created  REAL NOT NULL,\n"
    "    UNIQUE (study_id, name)\n"
    ");\n";

/*
 * Migrations: step k brings a file of version k + 1 to k + 2, in one write transaction
 * with the meta row.  A file opened for writing is brought up to KS_DB_SCHEMA_VERSION;
 * one opened for reading is read at its own version.  Append steps; never change one.
 */
static const struct migration {
    int to;
    const char *sql;
} migrations[] = {
    /* ---- version 2: the study file's folder, the workers' segments, the declared search ---- */
    {2, "ALTER TABLE study ADD COLUMN dir TEXT;\n"
        "CREATE TABLE segment (\n"
        "    id          INTEGER PRIMARY KEY,\n"
        "    trial_id    INTEGER NOT NULL REFERENCES trial(id) ON DELETE CASCADE,\n"
        "    worker      INTEGER NOT NULL,\n"
        "    started     REAL NOT NULL,\n"
        "    ended       REAL NOT NULL,\n"
        "    first_epoch INTEGER NOT NULL,\n"
        "    epochs      INTEGER NOT NULL,\n"
        "    status      TEXT NOT NULL\n"
        ");\n"
        "CREATE INDEX segment_trial ON segment (trial_id);\n"
        "CREATE TABLE search (\n"
        "    study_id       INTEGER PRIMARY KEY REFERENCES study(id) ON DELETE CASCADE,\n"
        "    method         TEXT NOT NULL,\n"
        "    max_trials     INTEGER NOT NULL,\n"
        "    planned_trials INTEGER NOT NULL,\n"
        "    max_epochs     INTEGER NOT NULL,\n"
        "    workers        INTEGER NOT NULL\n"
        ");\n"
        "CREATE TABLE param (\n"
        "    study_id INTEGER NOT NULL REFERENCES study(id) ON DELETE CASCADE,\n"
        "    pos      INTEGER NOT NULL,\n"
        "    name     TEXT NOT NULL,\n"
        "    kind     TEXT NOT NULL CHECK (kind IN ('choice', 'int', 'float')),\n"
        "    low      REAL,\n"
        "    high     REAL,\n"
        "    step     REAL,\n"
        "    log      INTEGER NOT NULL DEFAULT 0,\n"
        "    choices  TEXT,\n"
        "    PRIMARY KEY (study_id, pos)\n"
        ");\n"},
    /* ---- version 3: what a grown study was before it grew ---- */
    {3, "CREATE TABLE growth (\n"
        "    study_id INTEGER NOT NULL REFERENCES study(id) ON DELETE CASCADE,\n"
        "    pos      INTEGER NOT NULL,\n"
        "    trials   INTEGER NOT NULL,\n"
        "    config   TEXT NOT NULL,\n"
        "    grown    REAL NOT NULL,\n"
        "    PRIMARY KEY (study_id, pos)\n"
        ");\n"},
};
_Static_assert(sizeof migrations / sizeof migrations[0] == KS_DB_SCHEMA_VERSION - 1,
               "one migration step per schema version after the first");

/* ------------------------------------------------------------ errors */

/* SQLite's message for rc, from the connection when it is its last error. */
static void sqlite_message(ks_db *db, int rc, char *out, size_t size)
{
    const char *msg = db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc);
    /* sqlite3_errmsg belongs to the last call: if that one succeeded, use rc's text */
    if (db->conn && (sqlite3_errcode(db->conn) & 0xff) != (rc & 0xff))
        msg = sqlite3_errstr(rc);
    snprintf(out, size, "%s", msg);
}

static ks_status fail_with(ks_db *db, int rc, ks_error *err, const char *what, const char *msg)
{
    switch (rc & 0xff) {
    case SQLITE_NOTADB:
        return ks_error_set_at(err, KS_ERR_CORRUPT, db->path, 0, 0,
                               "not a ksearch study database (not an SQLite file)");
    case SQLITE_CORRUPT:
        return ks_error_set_at(err, KS_ERR_CORRUPT, db->path, 0, 0,
                               "the study database is damaged (%s: %s)", what, msg);
    case SQLITE_NOMEM:
        return ks_error_set_at(err, KS_ERR_NOMEM, db->path, 0, 0, "%s: out of memory", what);
    case SQLITE_CANTOPEN:       /* no permission, or a missing directory for the WAL */
        return ks_error_set_at(err, KS_ERR_IO, db->path, 0, 0, "%s: %s", what, msg);
    default:
        return ks_error_set_at(err, KS_ERR_DB, db->path, 0, 0, "%s: %s", what, msg);
    }
}

ks_status ks_dbi_fail(ks_db *db, int rc, ks_error *err, const char *what_fmt, ...)
{
    char what[200], msg[300];
    va_list ap;
    sqlite_message(db, rc, msg, sizeof msg);
    va_start(ap, what_fmt);
    vsnprintf(what, sizeof what, what_fmt, ap);
    va_end(ap);
    return fail_with(db, rc, err, what, msg);
}

ks_status ks_dbi_fail_trial(ks_db *db, int rc, ks_error *err, int64_t trial_id,
                            const char *what_fmt, ...)
{
    char what[200], msg[300], label[64], full[300];
    va_list ap;
    sqlite_message(db, rc, msg, sizeof msg);
    va_start(ap, what_fmt);
    vsnprintf(what, sizeof what, what_fmt, ap);
    va_end(ap);
    ks_dbi_trial_label(db, trial_id, label, sizeof label);
    snprintf(full, sizeof full, "%s %s", what, label);
    return fail_with(db, rc, err, full, msg);
}

ks_status ks_dbi_missing(ks_db *db, ks_error *err, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return ks_error_set_at(err, KS_ERR_CONFIG, db->path, 0, 0, "%s", msg);
}

ks_status ks_dbi_bad_arg(ks_error *err, const char *fmt, ...)
{
    ks_status s;
    va_list ap;
    va_start(ap, fmt);
    s = ks_error_vset(err, KS_ERR_INTERNAL, fmt, ap);
    va_end(ap);
    return s;
}

/* ------------------------------------------------- statements, retries */

static int is_busy(int rc)
{
    return (rc & 0xff) == SQLITE_BUSY;
}

/* Sleep before retry number attempt (1, 2 …): 1 ms doubling up to 64 ms. */
static void backoff(int attempt)
{
    int ms = attempt < 7 ? 1 << (attempt - 1) : 64;
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}

double ks_dbi_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

ks_status ks_dbi_prepare(ks_db *db, const char *sql, sqlite3_stmt **st, ks_error *err)
{
    /* preparing reads the schema, which may meet a lock too */
    double start = monotonic_ms();
    int rc;
    for (int attempt = 1;; attempt++) {
        rc = sqlite3_prepare_v2(db->conn, sql, -1, st, NULL);
        if (!is_busy(rc) || !sqlite3_get_autocommit(db->conn) ||
            monotonic_ms() - start > KS_DB_RETRY_LIMIT_MS)
            break;
        db->busy_retries++;
        backoff(attempt);
    }
    if (rc != SQLITE_OK) {
        sqlite3_finalize(*st);
        *st = NULL;
        return ks_dbi_fail(db, rc, err, "reading the database");
    }
    return KS_OK;
}

int ks_dbi_step(ks_db *db, sqlite3_stmt *st)
{
    /* a statement not yet started, outside a transaction, can simply run again */
    int fresh = !sqlite3_stmt_busy(st) && sqlite3_get_autocommit(db->conn);
    double start = monotonic_ms();
    int rc;
    for (int attempt = 1;; attempt++) {
        rc = sqlite3_step(st);
        if (!is_busy(rc) || !fresh || monotonic_ms() - start > KS_DB_RETRY_LIMIT_MS)
            return rc;
        db->busy_retries++;
        sqlite3_reset(st);
        backoff(attempt);
    }
}

ks_status ks_dbi_run(ks_db *db, sqlite3_stmt *st, ks_error *err, const char *what)
{
    int rc = ks_dbi_step(db, st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return ks_dbi_fail(db, rc, err, "%s", what);
    return KS_OK;
}

/* Run a constant statement without results, retrying SQLITE_BUSY (BEGIN, COMMIT). */
static int exec_retry(ks_db *db, const char *sql)
{
    double start = monotonic_ms();
    int rc;
    for (int attempt = 1;; attempt++) {
        rc = sqlite3_exec(db->conn, sql, NULL, NULL, NULL);
        if (!is_busy(rc) || monotonic_ms() - start > KS_DB_RETRY_LIMIT_MS)
            return rc;
        db->busy_retries++;
        backoff(attempt);
    }
}

ks_status ks_dbi_begin(ks_db *db, ks_error *err, const char *what)
{
    int rc;
    if (db->readonly)
        return ks_dbi_bad_arg(err, "%s: %s was opened read-only", what, db->path);
    rc = exec_retry(db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        return ks_dbi_fail(db, rc, err, "%s", what);
    return KS_OK;
}

static void rollback(ks_db *db)
{
    /* some errors (SQLITE_FULL, IOERR, NOMEM) have rolled the transaction back already */
    if (!sqlite3_get_autocommit(db->conn))
        sqlite3_exec(db->conn, "ROLLBACK", NULL, NULL, NULL);
}

/*
 * Fault injection for the tests: with KS_FAULT_KILL_AFTER_COMMIT=N in the environment
 * the process kills itself (SIGKILL) right after its Nth commit, as a study dies between
 * two of its writes (tests/e2e_kill_commits.sh kills a study after each of them in turn).
 */
static void after_commit(void)
{
    static atomic_llong at = -2, commits;     /* at: -2 not read yet, -1 off */
    long long a = atomic_load(&at);
    if (a == -2) {
        const char *v = getenv("KS_FAULT_KILL_AFTER_COMMIT");
        a = v && *v ? atoll(v) : -1;
        atomic_store(&at, a);
    }
    if (a > 0 && atomic_fetch_add(&commits, 1) + 1 == a)
        raise(SIGKILL);
}

ks_status ks_dbi_end(ks_db *db, ks_status s, ks_error *err, const char *what)
{
    int rc;
    if (s != KS_OK) {
        rollback(db);
        return s;
    }
    rc = exec_retry(db, "COMMIT");
    if (rc != SQLITE_OK) {
        s = ks_dbi_fail(db, rc, err, "%s", what);
        rollback(db);
    } else {
        after_commit();
    }
    return s;
}

/* --------------------------------------------------------- columns, vectors */

char *ks_dbi_text(sqlite3_stmt *st, int col, int *nomem)
{
    const unsigned char *t = sqlite3_column_text(st, col);
    size_t n;
    char *copy;
    if (!t)
        return NULL;
    n = (size_t)sqlite3_column_bytes(st, col);
    if (!(copy = malloc(n + 1))) {
        *nomem = 1;
        return NULL;
    }
    memcpy(copy, t, n);
    copy[n] = '\0';
    return copy;
}

double ks_dbi_real(sqlite3_stmt *st, int col, double if_null)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        return if_null;
    return sqlite3_column_double(st, col);
}

ks_status ks_dbi_strv_push(ks_dbi_strv *sv, const char *s, ks_error *err)
{
    char *copy;
    if (sv->n + 1 >= sv->cap) {
        int cap = sv->cap ? 2 * sv->cap : 16;
        char **v = realloc(sv->v, (size_t)cap * sizeof *v);
        if (!v)
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        sv->v = v;
        sv->cap = cap;
    }
    if (!(copy = strdup(s ? s : "")))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    sv->v[sv->n++] = copy;
    sv->v[sv->n] = NULL;
    return KS_OK;
}

ks_status ks_dbi_strv_finish(ks_dbi_strv *sv, char ***out, ks_error *err)
{
    if (!sv->v && !(sv->v = calloc(1, sizeof *sv->v)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    *out = sv->v;
    sv->v = NULL;
    sv->n = sv->cap = 0;
    return KS_OK;
}

void ks_strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

int ks_db_busy_retries(const ks_db *db)
{
    return db ? db->busy_retries : 0;
}

/* ------------------------------------------------------------ opening */

/* What the file holds: nothing yet, a ksearch study database, or (error) else. */
enum { FILE_EMPTY, FILE_OURS };

/* The value of a meta key into buf ("" if absent); SQLITE_* code. */
static int meta_get(ks_db *db, const char *key, char *buf, size_t size)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db->conn, "SELECT value FROM meta WHERE key = ?1", -1, &st,
                                NULL);
    buf[0] = '\0';
    if (rc != SQLITE_OK)
        return rc;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    rc = ks_dbi_step(db, st);
    if (rc == SQLITE_ROW) {
        const unsigned char *v = sqlite3_column_text(st, 0);
        snprintf(buf, size, "%s", v ? (const char *)v : "");
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return rc;
}

/*
 * Look at the file without writing to it: FILE_EMPTY (nothing in it), FILE_OURS
 * (our meta table, a schema version this ksearch reads), else an error.
 */
static ks_status classify(ks_db *db, int *kind, ks_error *err)
{
    /* (db->version: the file's schema version, when it is ours) */
    sqlite3_stmt *st;
    char by[64], version[64], *end;
    long v;
    int n_entries = 0, has_meta = 0, rc;
    ks_status s = ks_dbi_prepare(db, "SELECT type, name FROM sqlite_master", &st, err);
    if (s != KS_OK)
        return s;
    while ((rc = ks_dbi_step(db, st)) == SQLITE_ROW) {
        const unsigned char *type = sqlite3_column_text(st, 0);
        const unsigned char *name = sqlite3_column_text(st, 1);
        n_entries++;
        if (type && name && strcmp((const char *)type, "table") == 0 &&
            strcmp((const char *)name, "meta") == 0)
            has_meta = 1;
    }
    if (rc != SQLITE_DONE)
        s = ks_dbi_fail(db, rc, err, "reading the schema");
    sqlite3_finalize(st);
    if (s != KS_OK)
        return s;
    if (n_entries == 0) {      /* not even a view or an index: nobody's yet */
        *kind = FILE_EMPTY;
        return KS_OK;
    }
    if (!has_meta)
        return ks_error_set_at(err, KS_ERR_CORRUPT, db->path, 0, 0,
                               "not a ksearch study database");
    rc = meta_get(db, "created_by", by, sizeof by);
    if (rc == SQLITE_OK)
        rc = meta_get(db, "schema_version", version, sizeof version);
    if ((rc & 0xff) == SQLITE_ERROR)    /* someone else's meta table (other columns) */
        return ks_error_set_at(err, KS_ERR_CORRUPT, db->path, 0, 0,
                               "not a ksearch study database");
    if (rc != SQLITE_OK)
        return ks_dbi_fail(db, rc, err, "reading the schema version");
    if (strcmp(by, "ksearch") != 0)
        return ks_error_set_at(err, KS_ERR_CORRUPT, db->path, 0, 0,
                               "not a ksearch study database");
    errno = 0;
    v = strtol(version, &end, 10);
    if (errno || end == version || *end || v < 1)
        return ks_error_set_at(err, KS_ERR_CORRUPT, db->path, 0, 0,
                               "the study database is damaged (schema version \"%s\")",
                               version);
    if (v > KS_DB_SCHEMA_VERSION)
        return ks_error_set_at(err, KS_ERR_CONFIG, db->path, 0, 0,
                               "written by a newer ksearch (schema %ld); this one reads up "
                               "to %d",
                               v, KS_DB_SCHEMA_VERSION);
    db->version = (int)v;
    *kind = FILE_OURS;
    return KS_OK;
}

/* PRAGMA quick_check: the b-trees are whole (a damaged page is KS_ERR_CORRUPT). */
static ks_status quick_check(ks_db *db, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s = ks_dbi_prepare(db, "PRAGMA quick_check(1)", &st, err);
    int rc;
    if (s != KS_OK)
        return s;
    rc = ks_dbi_step(db, st);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(st, 0);
        if (!r || strcmp(r, "ok") != 0) {
            /* "*** in database main ***\nPage 5: btreeInitPage() returns error code 11" */
            const char *line = r ? r : "quick_check failed", *nl;
            if (strncmp(line, "*** ", 4) == 0 && (nl = strchr(line, '\n')))
                line = nl + 1;
            nl = strchr(line, '\n');
            s = ks_error_set_at(err, KS_ERR_CORRUPT, db->path, 0, 0,
                                "the study database is damaged (%.*s)",
                                (int)(nl ? nl - line : (ptrdiff_t)strlen(line)), line);
        }
    } else {
        s = ks_dbi_fail(db, rc, err, "checking the file");
    }
    sqlite3_finalize(st);
    return s;
}

ks_status ks_dbi_pragma(ks_db *db, const char *sql, const char *want, int64_t *value,
                        ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s = ks_dbi_prepare(db, sql, &st, err);
    int rc;
    if (s != KS_OK)
        return s;
    rc = ks_dbi_step(db, st);
    if (rc == SQLITE_ROW && value)
        *value = sqlite3_column_int64(st, 0);
    if (rc == SQLITE_ROW && want) {
        const unsigned char *r = sqlite3_column_text(st, 0);
        if (!r || strcmp((const char *)r, want) != 0)
            s = ks_error_set_at(err, KS_ERR_DB, db->path, 0, 0, "%s gave \"%s\", not \"%s\"",
                                sql, r ? (const char *)r : "", want);
    } else if (rc != SQLITE_ROW && (rc != SQLITE_DONE || value)) {
        s = ks_dbi_fail(db, rc, err, "%s", sql);
    }
    sqlite3_finalize(st);
    return s;
}

static ks_status pragma(ks_db *db, const char *sql, const char *want, ks_error *err)
{
    return ks_dbi_pragma(db, sql, want, NULL, err);
}

/* Create the schema in an empty file (another connection may just have done it). */
static ks_status create_schema(ks_db *db, ks_error *err)
{
    sqlite3_stmt *st = NULL;
    int n = -1, rc;
    ks_status s = ks_dbi_begin(db, err, "creating the schema");
    if (s != KS_OK)
        return s;
    if ((s = ks_dbi_prepare(db, "SELECT count(*) FROM sqlite_master", &st, err)) == KS_OK) {
        rc = ks_dbi_step(db, st);
        if (rc == SQLITE_ROW)
            n = sqlite3_column_int(st, 0);
        else
            s = ks_dbi_fail(db, rc, err, "reading the schema");
        sqlite3_finalize(st);
    }
    if (s == KS_OK && n == 0) {
        rc = sqlite3_exec(db->conn, schema_sql, NULL, NULL, NULL);
        for (size_t k = 0; rc == SQLITE_OK && k < sizeof migrations / sizeof migrations[0]; k++)
            rc = sqlite3_exec(db->conn, migrations[k].sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            s = ks_dbi_fail(db, rc, err, "creating the schema");
        if (s == KS_OK)
            s = ks_dbi_prepare(db, "INSERT INTO meta (key, value) VALUES ('schema_version', ?1),"
                                   " ('created_by', 'ksearch'), ('created', ?2)",
                               &st, err);
        if (s == KS_OK) {
            char version[16], created[32];
            snprintf(version, sizeof version, "%d", KS_DB_SCHEMA_VERSION);
            snprintf(created, sizeof created, "%.3f", ks_dbi_now());
            sqlite3_bind_text(st, 1, version, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(st, 2, created, -1, SQLITE_TRANSIENT);
            s = ks_dbi_run(db, st, err, "creating the schema");
            sqlite3_finalize(st);
        }
    }
    return ks_dbi_end(db, s, err, "creating the schema");
}

/* Bring a file of an older schema version up to KS_DB_SCHEMA_VERSION (another
   connection may have done it meanwhile: the version is read again under the lock). */
static ks_status migrate(ks_db *db, ks_error *err)
{
    char version[64];
    int v, rc;
    ks_status s = ks_dbi_begin(db, err, "upgrading the schema");
    if (s != KS_OK)
        return s;
    rc = meta_get(db, "schema_version", version, sizeof version);
    v = atoi(version);
    for (size_t k = 0; rc == SQLITE_OK && k < sizeof migrations / sizeof migrations[0]; k++)
        if (migrations[k].to > v)
            rc = sqlite3_exec(db->conn, migrations[k].sql, NULL, NULL, NULL);
    if (rc == SQLITE_OK && v < KS_DB_SCHEMA_VERSION) {
        sqlite3_stmt *st;
        if ((s = ks_dbi_prepare(db, "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                                &st, err)) == KS_OK) {
            sqlite3_bind_int(st, 1, KS_DB_SCHEMA_VERSION);
            s = ks_dbi_run(db, st, err, "upgrading the schema");
            sqlite3_finalize(st);
        }
    } else if (rc != SQLITE_OK) {
        s = ks_dbi_fail(db, rc, err, "upgrading the schema from version %d", v);
    }
    if ((s = ks_dbi_end(db, s, err, "upgrading the schema")) == KS_OK)
        db->version = KS_DB_SCHEMA_VERSION;
    return s;
}

/* "file:PATH?mode=ro[&immutable=1]" with PATH %-escaped where a URI needs it. */
static int readonly_uri(const char *path, int immutable, char *out, size_t size)
{
    size_t n = 0;
    n += (size_t)snprintf(out, size, "file:");
    for (const unsigned char *p = (const unsigned char *)path; *p && n + 4 < size; p++) {
        if (*p == '%' || *p == '?' || *p == '#' || *p < 0x20 || *p >= 0x7f)
            n += (size_t)snprintf(out + n, size - n, "%%%02X", *p);
        else
            out[n++] = (char)*p;
    }
    out[n < size ? n : size - 1] = '\0';
    return snprintf(out + n, size - n, "?mode=ro%s", immutable ? "&immutable=1" : "") <
           (int)(size - n);
}

/*
 * Open the connection.  A reader (KS_DB_READONLY) of a file in a folder it may write
 * opens it as a writer would, and writes nothing itself: SQLite then removes the WAL and
 * shared-memory files when the last connection closes, as after a study.  Where the
 * file or its folder cannot be written, it is opened read-only (a WAL database is then
 * read through its shared-memory file, or, when that cannot be made either, as
 * immutable: nobody can be writing it).
 */
static int connect(ks_db *db, int flags)
{
    char uri[2 * 4096], dir[4096], *slash;
    int rc;
    if (flags & KS_DB_READONLY) {
        snprintf(dir, sizeof dir, "%s", db->path);
        slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        if (access(db->path, W_OK) == 0 && access(slash ? dir : ".", W_OK) == 0)
            flags = 0;
    }
    if (!(flags & KS_DB_READONLY))
        return sqlite3_open_v2(db->path, &db->conn,
                               SQLITE_OPEN_READWRITE | (flags & KS_DB_CREATE ? SQLITE_OPEN_CREATE
                                                                             : 0),
                               NULL);
    if (!readonly_uri(db->path, 0, uri, sizeof uri))
        return SQLITE_CANTOPEN;
    rc = sqlite3_open_v2(uri, &db->conn, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db->conn, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL);
    if (((rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_READONLY) &&
        readonly_uri(db->path, 1, uri, sizeof uri)) {
        sqlite3_close(db->conn);
        db->conn = NULL;
        rc = sqlite3_open_v2(uri, &db->conn, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    }
    return rc;
}

static ks_status open_file(ks_db *db, int flags, ks_error *err)
{
    int kind = FILE_EMPTY, rc, create = flags & KS_DB_CREATE;
    ks_status s;
    db->readonly = (flags & KS_DB_READONLY) != 0;
    rc = connect(db, flags);
    if (rc != SQLITE_OK)
        return ks_error_set_at(err, (rc & 0xff) == SQLITE_NOMEM ? KS_ERR_NOMEM : KS_ERR_IO,
                               db->path, 0, 0, "cannot open the study database: %s",
                               db->conn ? sqlite3_errmsg(db->conn) : sqlite3_errstr(rc));
    sqlite3_extended_result_codes(db->conn, 1);
    sqlite3_busy_timeout(db->conn, KS_DB_BUSY_TIMEOUT_MS);
    if (db->readonly) {
        /* a reader writes nothing, whatever the connection would allow; it reads the file
           through once (a report, from the checks on): a small page cache does, and keeps
           small the memory of the process that runs it (a study writing its report at its
           end) */
        if ((s = pragma(db, "PRAGMA query_only = ON", NULL, err)) != KS_OK ||
            (s = pragma(db, "PRAGMA cache_size = -256", NULL, err)) != KS_OK)
            return s;
    }
    /* first only read: someone else's file must stay exactly as it is */
    if ((s = classify(db, &kind, err)) != KS_OK)
        return s;
    if (kind == FILE_EMPTY && (db->readonly || !create))
        return ks_error_set_at(err, KS_ERR_CORRUPT, db->path, 0, 0,
                               "not a ksearch study database (an empty file)");
    if (kind == FILE_OURS && (s = quick_check(db, err)) != KS_OK)
        return s;
    /* a reader takes the file as it is: no pragmas that write, no upgrade */
    if (db->readonly)
        return KS_OK;
    /* a new file gets 64 KiB pages: each epoch's checkpoints (about a MB each) then
       pass through the WAL in 16 writes a MB instead of 256 (set before WAL mode) */
    if (kind == FILE_EMPTY && (s = pragma(db, "PRAGMA page_size = 65536", NULL, err)) != KS_OK)
        return s;
    /* and keeps track of its free pages (before its first table): the checkpoints that
       retention drops give their pages back without rewriting the file (ks_db_reclaim) */
    if (kind == FILE_EMPTY &&
        (s = pragma(db, "PRAGMA auto_vacuum = INCREMENTAL", NULL, err)) != KS_OK)
        return s;
    /* WAL: readers never wait for the writer; NORMAL: a commit survives a killed
       process (only an OS crash may lose the last ones); cascades need foreign keys */
    if ((s = pragma(db, "PRAGMA journal_mode = WAL", "wal", err)) != KS_OK ||
        (s = pragma(db, "PRAGMA synchronous = NORMAL", NULL, err)) != KS_OK ||
        (s = pragma(db, "PRAGMA foreign_keys = ON", NULL, err)) != KS_OK ||
        /* checkpoint blobs pass through the WAL: keep it from staying large */
        (s = pragma(db, "PRAGMA journal_size_limit = 67108864", NULL, err)) != KS_OK ||
        /* and checkpointed every 64 pages (4 MiB), not SQLite's 1,000 (64 MiB of 64 KiB
           pages): the WAL is reused instead of growing through a whole fit */
        (s = pragma(db, "PRAGMA wal_autocheckpoint = 64", NULL, err)) != KS_OK ||
        /* the page cache in KiB again: a limit counted in pages of the size the connection
           opened with (4 KiB) would hold 16 times as much once pages are 64 KiB */
        (s = pragma(db, "PRAGMA cache_size = -2000", NULL, err)) != KS_OK)
        return s;
    if (kind == FILE_EMPTY) {
        if ((s = create_schema(db, err)) != KS_OK)
            return s;
        /* whoever created it, it must now be ours */
        if ((s = classify(db, &kind, err)) != KS_OK)
            return s;
        if (kind != FILE_OURS)
            return ks_error_set_at(err, KS_ERR_DB, db->path, 0, 0, "the schema was not created");
    }
    if (db->version < KS_DB_SCHEMA_VERSION)
        return migrate(db, err);
    return KS_OK;
}

ks_status ks_db_open(const char *path, int flags, ks_db **out, ks_error *err)
{
    struct stat sb;
    ks_db *db;
    ks_status s;
    if (!out)
        return ks_dbi_bad_arg(err, "ks_db_open: out is NULL");
    *out = NULL;
    if (!path || !path[0])
        return ks_error_set(err, KS_ERR_IO, "no study database path given");
    if (!sqlite3_threadsafe())
        return ks_error_set(err, KS_ERR_DB, "this SQLite library was built without thread "
                                            "support (SQLITE_THREADSAFE=0); ksearch needs it");
    if (stat(path, &sb) != 0) {
        if (errno != ENOENT)
            return ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "%s", strerror(errno));
        if (!(flags & KS_DB_CREATE))
            return ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "no such study database");
    } else if (S_ISDIR(sb.st_mode)) {
        return ks_error_set_at(err, KS_ERR_IO, path, 0, 0,
                               "is a directory, not a study database");
    }
    if (!(db = calloc(1, sizeof *db)) || !(db->path = strdup(path))) {
        free(db);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if (flags & ~(KS_DB_CREATE | KS_DB_READONLY) ||
        (flags & KS_DB_CREATE && flags & KS_DB_READONLY)) {
        ks_db_close(db);
        return ks_dbi_bad_arg(err, "ks_db_open: flags %d", flags);
    }
    if ((s = open_file(db, flags, err)) != KS_OK) {
        ks_db_close(db);
        return s;
    }
    *out = db;
    return KS_OK;
}

int ks_db_schema_version(const ks_db *db)
{
    return db ? db->version : 0;
}

void ks_db_close(ks_db *db)
{
    if (!db)
        return;
    /* statements are always finalized by the functions that prepared them */
    sqlite3_close(db->conn);
    free(db->path);
    free(db);
}
