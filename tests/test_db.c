/*
 * test_db.c — the study database: studies, trials and their statuses, epoch records
 * (values, progress, checkpoints, histograms) read back and counted with SQLite
 * directly, atomicity under injected faults, 8 writer threads at once, files that
 * are not study databases (text, someone else's SQLite, a newer schema, damaged pages),
 * and the tracker's extra epoch rows (learning_rate, iterations) in the reports.
 */
#include "../tracker/db_impl.h"
#include "check.h"

#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static const char *fmt_err(const ks_error *err)
{
    static char buf[1200];
    return ks_error_format(err, buf, sizeof buf);
}

/* ------------------------------------------------ SQLite directly, for counting */

/* The integer result of sql (a constant query with at most one ?1 = a), -1 on error. */
static long long query_int(const char *path, const char *sql, long long a)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_bind_parameter_count(st) > 0)
            sqlite3_bind_int64(st, 1, a);
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *c = NULL;
    int rc = sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c, sql, NULL, NULL, NULL);
    sqlite3_close(c);
    return rc;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    *len = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n)
        *len = (size_t)n;
    fclose(f);
    return buf;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ------------------------------------------------------------- test data */

/* A pseudo-random byte pattern that depends on (a, b), like a model file's bytes. */
static unsigned char *make_blob(size_t len, unsigned a, unsigned b)
{
    unsigned char *p = malloc(len ? len : 1);
    uint64_t x = 0x9E3779B97F4A7C15ull * (a + 1) ^ (b * 0xBF58476D1CE4E5B9ull);
    for (size_t i = 0; p && i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
    return p;
}

static double metric_value(int trial, int epoch, int k)
{
    return 1000.0 * trial + epoch + k / 16.0 + 1.0 / (3.0 + epoch);
}

static void fill_histogram(double *h, int epoch, int tag)
{
    for (int i = 0; i < KS_HISTOGRAM_BUCKETS * 3; i++)
        h[i] = sin(0.1 * i + epoch) * (tag + 1) * 1e3 + (i % 7 == 0 ? -0.0 : 1e-300 * i);
    h[5] = INFINITY;
}

/* ------------------------------------------------------------ create, reopen */

static void test_create_reopen(void)
{
    char path[300];
    ks_db *db = NULL;
    ks_error err;
    ks_status s;
    path_in(path, sizeof path, "create.db");
    s = ks_db_open(path, 1, &db, &err);
    REQUIRE(s == KS_OK, "create: %s", fmt_err(&err));
    ks_db_close(db);
    db = NULL;
    s = ks_db_open(path, 0, &db, &err);
    REQUIRE(s == KS_OK, "reopen: %s", fmt_err(&err));
    ks_db_close(db);
    s = ks_db_open(path, 1, &db, &err);
    CHECK(s == KS_OK, "reopen with create: %s", fmt_err(&err));
    ks_db_close(db);
    CHECK(query_int(path, "SELECT value FROM meta WHERE key = 'schema_version'", 0) ==
              KS_DB_SCHEMA_VERSION,
          "schema version");
    CHECK(query_int(path, "SELECT count(*) FROM meta WHERE key = 'created_by' AND "
                          "value = 'ksearch'",
                    0) == 1,
          "created_by");
    CHECK(query_int(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode = 'wal'",
                    0) == 1,
          "the file is in WAL mode");
    CHECK(query_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                          "name = 'trial_best'",
                    0) == 1,
          "the best-trials index");
    ks_db_close(NULL);
}

/* ----------------------------------------------------------------- studies */

static void test_studies(void)
{
    char path[300];
    ks_db *db = NULL;
    ks_error err;
    ks_study_info a, b, c;
    char **names = NULL;
    int created = -1;
    ks_status s;
    double t0 = now_s();
    path_in(path, sizeof path, "studies.db");
    REQUIRE(ks_db_open(path, 1, &db, &err) == KS_OK, "%s", fmt_err(&err));
    s = ks_db_study_list(db, &names, &err);
    CHECK(s == KS_OK && names && !names[0], "an empty list");
    ks_strv_free(names);
    s = ks_db_study_find(db, NULL, &c, &err);
    CHECK(s == KS_ERR_CONFIG && strstr(err.msg, "no study yet") && strcmp(err.file, path) == 0 &&
              !c.config,
          "find in a file without studies: %d %s", s, fmt_err(&err));

    s = ks_db_study_open(db, "mlp", "name: mlp\nseed: 1\n", "abc123", "val_accuracy", 1, &a,
                         &created, &err);
    REQUIRE(s == KS_OK, "%s", fmt_err(&err));
    CHECK(created == 1, "a new study is created");
    CHECK(a.id > 0 && strcmp(a.name, "mlp") == 0 && strcmp(a.config, "name: mlp\nseed: 1\n") == 0 &&
              strcmp(a.hash, "abc123") == 0 && strcmp(a.metric, "val_accuracy") == 0 &&
              a.maximize == 1,
          "fields as given");
    CHECK(a.created >= t0 - 1 && a.created <= now_s() + 1, "created %f", a.created);

    /* open again with other fields: the stored study, unchanged */
    s = ks_db_study_open(db, "mlp", "changed", "fff", "loss", 0, &b, &created, &err);
    REQUIRE(s == KS_OK, "%s", fmt_err(&err));
    CHECK(created == 0, "an existing study is not created again");
    CHECK(b.id == a.id && strcmp(b.config, a.config) == 0 && strcmp(b.hash, "abc123") == 0 &&
              strcmp(b.metric, "val_accuracy") == 0 && b.maximize == 1 && b.created == a.created,
          "the stored study comes back");
    ks_study_info_free(&b);

    s = ks_db_study_open(db, "cnn", "", "", "loss", 0, &b, NULL, &err);
    CHECK(s == KS_OK && b.id != a.id && b.maximize == 0, "a second study");
    s = ks_db_study_get(db, "mlp", &c, &err);
    CHECK(s == KS_OK && c.id == a.id && strcmp(c.config, a.config) == 0, "get: %s",
          fmt_err(&err));
    ks_study_info_free(&c);
    s = ks_db_study_get(db, "nope", &c, &err);
    CHECK(s == KS_ERR_CONFIG && strstr(err.msg, "no study named \"nope\"") &&
              strcmp(err.file, path) == 0,
          "get of a missing study: %d %s", s, fmt_err(&err));
    CHECK(c.config == NULL, "nothing to free after a failed get");
    /* find: by name, or (NULL) the file's first */
    s = ks_db_study_find(db, NULL, &c, &err);
    CHECK(s == KS_OK && c.id == a.id, "find the first: %s", fmt_err(&err));
    ks_study_info_free(&c);
    s = ks_db_study_find(db, "cnn", &c, &err);
    CHECK(s == KS_OK && c.id == b.id, "find by name: %s", fmt_err(&err));
    ks_study_info_free(&c);
    CHECK(ks_db_study_find(db, "nope", &c, &err) == KS_ERR_CONFIG && !c.config,
          "find of a missing study: %s", fmt_err(&err));

    s = ks_db_study_list(db, &names, &err);
    REQUIRE(s == KS_OK && names, "%s", fmt_err(&err));
    CHECK(names[0] && strcmp(names[0], "mlp") == 0 && names[1] && strcmp(names[1], "cnn") == 0 &&
              !names[2],
          "listed in creation order");
    ks_strv_free(names);

    {
        char longname[200];
        memset(longname, 'x', sizeof longname - 1);
        longname[sizeof longname - 1] = '\0';
        s = ks_db_study_open(db, longname, "", "", "loss", 0, &c, NULL, &err);
        CHECK(s == KS_ERR_CONFIG, "a name longer than the field: %d", s);
        s = ks_db_study_open(db, "", "", "", "loss", 0, &c, NULL, &err);
        CHECK(s == KS_ERR_CONFIG, "an empty name: %d", s);
    }
    ks_study_info_free(&a);
    ks_study_info_free(&b);
    ks_study_info_free(NULL);
    ks_db_close(db);
}

/* ------------------------------------------------------------------ trials */

static void test_trials(void)
{
    char path[300];
    ks_db *db = NULL;
    ks_error err;
    ks_study_info st;
    ks_trial_info t, *rows = NULL;
    int64_t id[3], other;
    int n = 0;
    ks_status s;
    double t0, t1, started;
    const uint64_t seed = 0xFEDCBA9876543210ull;
    path_in(path, sizeof path, "trials.db");
    REQUIRE(ks_db_open(path, 1, &db, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_study_open(db, "s", "", "", "loss", 0, &st, NULL, &err) == KS_OK, "%s",
            fmt_err(&err));
    /* added out of order: listed by number */
    CHECK(ks_db_trial_add(db, st.id, 2, "{\"lr\":0.02}", seed + 2, 9, &id[2], &err) == KS_OK,
          "%s", fmt_err(&err));
    CHECK(ks_db_trial_add(db, st.id, 0, "{\"lr\":0.01}", seed, 9, &id[0], &err) == KS_OK, "%s",
          fmt_err(&err));
    CHECK(ks_db_trial_add(db, st.id, 1, NULL, seed + 1, 3, &id[1], &err) == KS_OK, "%s",
          fmt_err(&err));
    s = ks_db_trial_add(db, st.id, 1, "{}", 0, 3, &other, &err);
    CHECK(s == KS_ERR_DB && strstr(err.msg, "already there"), "a second trial 1: %d %s", s,
          fmt_err(&err));
    s = ks_db_trial_add(db, st.id + 100, 0, "{}", 0, 3, &other, &err);
    CHECK(s == KS_ERR_CONFIG && strstr(err.msg, "no study with id"), "an unknown study: %d %s",
          s, fmt_err(&err));

    s = ks_db_trials(db, st.id, &rows, &n, &err);
    REQUIRE(s == KS_OK && n == 3, "trials: %d %s", n, fmt_err(&err));
    for (int i = 0; i < 3; i++) {
        CHECK(rows[i].number == i && rows[i].id == id[i], "row %d is trial %d", i,
              rows[i].number);
        CHECK(rows[i].status == KS_TRIAL_QUEUED && rows[i].seed == seed + (uint64_t)i &&
                  rows[i].epochs == 0 && isnan(rows[i].objective) && rows[i].best_epoch == -1 &&
                  rows[i].started == 0 && rows[i].ended == 0 && rows[i].error == NULL,
              "trial %d as added", i);
        ks_trial_info_free(&rows[i]);
    }
    free(rows);
    REQUIRE(ks_db_trial_get(db, id[0], &t, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(strcmp(t.params, "{\"lr\":0.01}") == 0 && t.budget == 9, "params and budget");
    ks_trial_info_free(&t);
    REQUIRE(ks_db_trial_get(db, id[1], &t, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(strcmp(t.params, "{}") == 0, "NULL params are {}");
    ks_trial_info_free(&t);

    /* queued → running → failed → running (resumed) → complete */
    t0 = now_s();
    CHECK(ks_db_trial_set_status(db, id[0], KS_TRIAL_RUNNING, NULL, &err) == KS_OK, "%s",
          fmt_err(&err));
    t1 = now_s();
    REQUIRE(ks_db_trial_get(db, id[0], &t, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(t.status == KS_TRIAL_RUNNING && t.started >= t0 - 0.01 && t.started <= t1 + 0.01 &&
              t.ended == 0,
          "running: started %f in [%f, %f]", t.started, t0, t1);
    started = t.started;
    ks_trial_info_free(&t);
    CHECK(ks_db_trial_set_status(db, id[0], KS_TRIAL_FAILED, "loss became NaN", &err) == KS_OK,
          "%s", fmt_err(&err));
    REQUIRE(ks_db_trial_get(db, id[0], &t, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(t.status == KS_TRIAL_FAILED && t.ended >= started && t.ended <= now_s() + 0.01 &&
              t.error && strcmp(t.error, "loss became NaN") == 0,
          "failed: ended %f, error %s", t.ended, t.error ? t.error : "(null)");
    ks_trial_info_free(&t);
    CHECK(ks_db_trial_set_status(db, id[0], KS_TRIAL_RUNNING, NULL, &err) == KS_OK, "%s",
          fmt_err(&err));
    REQUIRE(ks_db_trial_get(db, id[0], &t, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(t.status == KS_TRIAL_RUNNING && t.started == started && t.ended == 0 && !t.error,
          "running again: the first start kept, end and error cleared");
    ks_trial_info_free(&t);
    for (int k = KS_TRIAL_COMPLETE; k <= KS_TRIAL_INTERRUPTED; k++) {
        CHECK(ks_db_trial_set_status(db, id[2], (ks_trial_status)k, NULL, &err) == KS_OK, "%s",
              fmt_err(&err));
        REQUIRE(ks_db_trial_get(db, id[2], &t, &err) == KS_OK, "%s", fmt_err(&err));
        CHECK((int)t.status == k && t.ended > 0 && t.started == 0,
              "%s: an end time, no start", ks_trial_status_name((ks_trial_status)k));
        ks_trial_info_free(&t);
    }
    /* a promotion: complete at its rung, then running to a larger budget, in one write */
    CHECK(ks_db_trial_set_status(db, id[1], KS_TRIAL_COMPLETE, NULL, &err) == KS_OK, "%s",
          fmt_err(&err));
    CHECK(ks_db_trial_start(db, id[1], 27, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_trial_get(db, id[1], &t, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(t.budget == 27 && t.status == KS_TRIAL_RUNNING && t.started > 0 && t.ended == 0,
          "promoted: budget %d, %s", t.budget, ks_trial_status_name(t.status));
    ks_trial_info_free(&t);
    /* when the status cannot be written, neither is the budget: a study killed or failing
       there must not find a complete trial at a budget it never trained to (a trigger
       stands in for the failing write) */
    CHECK(ks_db_trial_set_status(db, id[1], KS_TRIAL_COMPLETE, NULL, &err) == KS_OK, "%s",
          fmt_err(&err));
    REQUIRE(sqlite3_exec(db->conn,
                         "CREATE TEMP TRIGGER no_start BEFORE UPDATE OF status ON main.trial"
                         " WHEN NEW.status = 'running' BEGIN SELECT RAISE(ABORT, 'no'); END;",
                         NULL, NULL, NULL) == SQLITE_OK,
            "%s", sqlite3_errmsg(db->conn));
    s = ks_db_trial_start(db, id[1], 81, &err);
    CHECK(s != KS_OK, "the start fails under the trigger (%d)", s);
    REQUIRE(ks_db_trial_get(db, id[1], &t, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(t.budget == 27 && t.status == KS_TRIAL_COMPLETE,
          "a failed start leaves budget and status as they were: %d, %s", t.budget,
          ks_trial_status_name(t.status));
    ks_trial_info_free(&t);
    REQUIRE(sqlite3_exec(db->conn, "DROP TRIGGER temp.no_start", NULL, NULL, NULL) == SQLITE_OK,
            "%s", sqlite3_errmsg(db->conn));
    /* a job's end: the status and its segment in one write; when the segment cannot be
       written, the status stays as it was */
    {
        ks_job_span span = {1, 2.5, 3};
        CHECK(ks_db_trial_start(db, id[1], 27, &err) == KS_OK, "%s", fmt_err(&err));
        REQUIRE(sqlite3_exec(db->conn,
                             "CREATE TEMP TRIGGER no_segment BEFORE INSERT ON main.segment"
                             " BEGIN SELECT RAISE(ABORT, 'no'); END;",
                             NULL, NULL, NULL) == SQLITE_OK,
                "%s", sqlite3_errmsg(db->conn));
        s = ks_db_trial_end(db, id[1], KS_TRIAL_COMPLETE, NULL, &span, &err);
        CHECK(s != KS_OK, "the end fails under the trigger (%d)", s);
        REQUIRE(ks_db_trial_get(db, id[1], &t, &err) == KS_OK, "%s", fmt_err(&err));
        CHECK(t.status == KS_TRIAL_RUNNING, "a failed end leaves the trial running: %s",
              ks_trial_status_name(t.status));
        ks_trial_info_free(&t);
        REQUIRE(sqlite3_exec(db->conn, "DROP TRIGGER temp.no_segment", NULL, NULL, NULL) ==
                    SQLITE_OK,
                "%s", sqlite3_errmsg(db->conn));
        CHECK(ks_db_trial_end(db, id[1], KS_TRIAL_COMPLETE, NULL, &span, &err) == KS_OK, "%s",
              fmt_err(&err));
        REQUIRE(ks_db_trial_get(db, id[1], &t, &err) == KS_OK, "%s", fmt_err(&err));
        CHECK(t.status == KS_TRIAL_COMPLETE && t.ended > 0, "ended: %s",
              ks_trial_status_name(t.status));
        ks_trial_info_free(&t);
        CHECK(query_int(path,
                        "SELECT count(*) FROM segment WHERE trial_id = ?1 AND worker = 1"
                        " AND first_epoch = 3 AND status = 'complete'"
                        " AND abs(ended - started - 2.5) < 1e-6",
                        id[1]) == 1,
              "the segment: worker 1, from epoch 3, 2.5 s, complete");
        CHECK(ks_db_trial_end(db, id[1], KS_TRIAL_PRUNED, NULL, NULL, &err) == KS_OK &&
                  query_int(path, "SELECT count(*) FROM segment WHERE trial_id = ?1", id[1]) ==
                      1,
              "without a span, no segment");
    }

    s = ks_db_trial_set_status(db, 999999, KS_TRIAL_RUNNING, NULL, &err);
    CHECK(s == KS_ERR_CONFIG && strstr(err.msg, "no trial with id 999999"), "%d %s", s,
          fmt_err(&err));
    s = ks_db_trial_start(db, 999999, 3, &err);
    CHECK(s == KS_ERR_CONFIG, "start of an unknown trial: %d", s);
    s = ks_db_trial_start(db, id[1], -1, &err);
    CHECK(s != KS_OK, "a negative budget is refused: %d", s);
    s = ks_db_trial_get(db, 999999, &t, &err);
    CHECK(s == KS_ERR_CONFIG && t.params == NULL, "get of an unknown trial: %d", s);
    s = ks_db_trials(db, st.id + 100, &rows, &n, &err);
    CHECK(s == KS_OK && n == 0, "no trials in an unknown study");
    free(rows);

    {
        static const char *const want[] = {"queued", "running", "complete", "pruned", "failed",
                                           "interrupted"};
        for (int k = 0; k < KS_TRIAL_STATUS_COUNT; k++)
            CHECK(strcmp(ks_trial_status_name((ks_trial_status)k), want[k]) == 0, "name %d", k);
    }
    ks_study_info_free(&st);
    ks_db_close(db);
}

/* ---------------------------------------------------------- epoch records */

#define N_EPOCHS 5
#define CKPT_LEN 5000

static const char *const log_names[] = {"loss", "accuracy", "val_loss", "val_accuracy"};
static const char *const hist_tags[] = {"dense/kernel/histogram", "dense/bias/histogram"};

static void make_logs(ks_logs *logs, int trial, int epoch, int n)
{
    ks_logs_clear(logs);
    for (int k = 0; k < n; k++) {
        char name[KS_LOG_NAME_MAX];
        if (k < 4)
            snprintf(name, sizeof name, "%s", log_names[k]);
        else
            snprintf(name, sizeof name, "metric_%02d", k);
        ks_logs_set(logs, name, metric_value(trial, epoch, k));
    }
}

/* Write epoch e of trial id: logs, the last checkpoint, the best when improved, and
   histograms on even epochs. */
static ks_status write_epoch(ks_db *db, int64_t id, int e, double val_loss, int improved,
                             ks_error *err)
{
    ks_logs logs;
    double h[2][KS_HISTOGRAM_BUCKETS * 3];
    const double *rows[2] = {h[0], h[1]};
    unsigned char *ckpt = make_blob(CKPT_LEN + (size_t)e, (unsigned)id, (unsigned)e);
    ks_epoch_record rec;
    ks_status s;
    memset(&rec, 0, sizeof rec);
    make_logs(&logs, (int)id, e, 4);
    ks_logs_set(&logs, "val_loss", val_loss);
    fill_histogram(h[0], e, 0);
    fill_histogram(h[1], e, 1);
    rec.epoch = e;
    rec.wall_time = 1000.0 + e;
    rec.logs = &logs;
    rec.last_checkpoint = ckpt;
    rec.last_len = CKPT_LEN + (size_t)e;
    rec.objective = val_loss;
    rec.improved = improved;
    if (improved) {
        rec.best_checkpoint = ckpt;
        rec.best_len = rec.last_len;
    }
    if (e % 2 == 0) {
        rec.n_histograms = 2;
        rec.histogram_tags = hist_tags;
        rec.histograms = rows;
    }
    s = ks_db_epoch_write(db, id, &rec, err);
    free(ckpt);
    return s;
}

static void check_blob(ks_db *db, int64_t id, ks_checkpoint_kind kind, int want_epoch,
                       const char *what)
{
    unsigned char *blob = NULL, *want;
    size_t len = 0;
    int epoch = -7;
    ks_error err;
    ks_status s = ks_db_checkpoint_get(db, id, kind, &blob, &len, &epoch, &err);
    CHECK(s == KS_OK, "%s: %s", what, fmt_err(&err));
    want = make_blob(CKPT_LEN + (size_t)want_epoch, (unsigned)id, (unsigned)want_epoch);
    CHECK(s == KS_OK && epoch == want_epoch && len == CKPT_LEN + (size_t)want_epoch && blob &&
              memcmp(blob, want, len) == 0,
          "%s: epoch %d (want %d), %zu bytes", what, epoch, want_epoch, len);
    free(blob);
    free(want);
}

static void test_epochs(void)
{
    char path[300];
    ks_db *db = NULL;
    ks_error err;
    ks_study_info st;
    ks_trial_info t;
    int64_t id;
    char **names = NULL;
    ks_metric_point *p = NULL;
    int n = 0, best_epoch = -1;
    double best = NAN, val_loss[N_EPOCHS] = {0.9, 0.7, 0.8, 0.5, 0.6};
    ks_status s;
    path_in(path, sizeof path, "epochs.db");
    REQUIRE(ks_db_open(path, 1, &db, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_study_open(db, "s", "", "", "val_loss", 0, &st, NULL, &err) == KS_OK, "%s",
            fmt_err(&err));
    REQUIRE(ks_db_trial_add(db, st.id, 0, "{}", 1, N_EPOCHS, &id, &err) == KS_OK, "%s",
            fmt_err(&err));
    for (int e = 0; e < N_EPOCHS; e++) {
        int improved = isnan(best) || val_loss[e] < best;
        if (improved) {
            best = val_loss[e];
            best_epoch = e;
        }
        s = write_epoch(db, id, e, val_loss[e], improved, &err);
        CHECK(s == KS_OK, "epoch %d: %s", e, fmt_err(&err));
    }
    /* names in the order of the logs */
    REQUIRE(ks_db_metric_names(db, id, &names, &err) == KS_OK, "%s", fmt_err(&err));
    for (int k = 0; k < 4; k++)
        CHECK(names[k] && strcmp(names[k], log_names[k]) == 0, "name %d: %s", k,
              names[k] ? names[k] : "(end)");
    CHECK(names[4] == NULL, "four names");
    ks_strv_free(names);
    /* every series, every value */
    for (int k = 0; k < 4; k++) {
        s = ks_db_metric_series(db, id, log_names[k], 0, &p, &n, &err);
        REQUIRE(s == KS_OK && n == N_EPOCHS, "%s: %d points %s", log_names[k], n,
                fmt_err(&err));
        for (int e = 0; e < N_EPOCHS; e++) {
            double want = k == 2 ? val_loss[e] : metric_value((int)id, e, k);
            CHECK(p[e].epoch == e && p[e].step == -1 && p[e].value == want &&
                      p[e].wall_time == 1000.0 + e,
                  "%s[%d] = %g (want %g)", log_names[k], e, p[e].value, want);
        }
        free(p);
    }
    REQUIRE(ks_db_trial_get(db, id, &t, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(t.epochs == N_EPOCHS && t.objective == best && t.best_epoch == best_epoch,
          "progress: %d epochs, objective %g at %d (want %g at %d)", t.epochs, t.objective,
          t.best_epoch, best, best_epoch);
    ks_trial_info_free(&t);
    check_blob(db, id, KS_CHECKPOINT_LAST, N_EPOCHS - 1, "last checkpoint");
    check_blob(db, id, KS_CHECKPOINT_BEST, best_epoch, "best checkpoint");

    /* histograms: epochs 0, 2, 4, two tags each, bit for bit */
    {
        char **tags = NULL;
        int *epochs = NULL, nh = 0;
        double got[KS_HISTOGRAM_BUCKETS * 3], want[KS_HISTOGRAM_BUCKETS * 3];
        s = ks_db_histogram_list(db, id, &tags, &epochs, &nh, &err);
        REQUIRE(s == KS_OK && nh == 6, "histograms: %d %s", nh, fmt_err(&err));
        for (int i = 0; i < nh; i++) {
            int e = 2 * (i / 2);
            /* by epoch, then tag (bias < kernel) */
            const char *tag = hist_tags[i % 2 == 0 ? 1 : 0];
            CHECK(epochs[i] == e && strcmp(tags[i], tag) == 0, "histogram %d: %s at %d", i,
                  tags[i], epochs[i]);
            s = ks_db_histogram_get(db, id, tags[i], epochs[i], got, &err);
            fill_histogram(want, e, i % 2 == 0 ? 1 : 0);
            CHECK(s == KS_OK && memcmp(got, want, sizeof got) == 0, "histogram %d data: %s", i,
                  fmt_err(&err));
        }
        CHECK(tags[nh] == NULL, "tags NULL-terminated");
        /* the stored format: 90 little-endian doubles, read with SQLite directly */
        {
            sqlite3 *c = NULL;
            sqlite3_stmt *q = NULL;
            unsigned char le[KS_HISTOGRAM_BUCKETS * 3 * 8];
            fill_histogram(want, 4, 0);
            for (int i = 0; i < KS_HISTOGRAM_BUCKETS * 3; i++) {
                uint64_t u;
                memcpy(&u, &want[i], 8);
                for (int b = 0; b < 8; b++)
                    le[8 * i + b] = (unsigned char)(u >> (8 * b));
            }
            if (sqlite3_open_v2(path, &c, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
                sqlite3_prepare_v2(c, "SELECT data FROM histogram WHERE epoch = 4 AND tag = ?1",
                                   -1, &q, NULL) == SQLITE_OK) {
                sqlite3_bind_text(q, 1, hist_tags[0], -1, SQLITE_STATIC);
                CHECK(sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 0) == sizeof le &&
                          memcmp(sqlite3_column_blob(q, 0), le, sizeof le) == 0,
                      "histogram blob: 90 little-endian doubles");
            } else {
                CHECK(0, "query the histogram blob");
            }
            sqlite3_finalize(q);
            sqlite3_close(c);
        }
        ks_strv_free(tags);
        free(epochs);
        s = ks_db_histogram_get(db, id, hist_tags[0], 1, got, &err);
        CHECK(s == KS_ERR_CONFIG, "no histogram at epoch 1: %d", s);
    }

    /* a repeated epoch (a resumed trial) replaces: no value twice */
    {
        long long before = query_int(path, "SELECT count(*) FROM metric", 0);
        long long hist_before = query_int(path, "SELECT count(*) FROM histogram", 0);
        CHECK(before == 4 * N_EPOCHS, "%lld metric rows", before);
        s = write_epoch(db, id, 2, 0.25, 1, &err);
        CHECK(s == KS_OK, "epoch 2 again: %s", fmt_err(&err));
        CHECK(query_int(path, "SELECT count(*) FROM metric", 0) == before,
              "still %lld metric rows", before);
        CHECK(query_int(path, "SELECT count(*) FROM histogram", 0) == hist_before,
              "still %lld histogram rows", hist_before);
        CHECK(query_int(path, "SELECT count(*) FROM checkpoint", 0) == 2, "two checkpoints");
        s = ks_db_metric_series(db, id, "val_loss", 0, &p, &n, &err);
        CHECK(s == KS_OK && n == N_EPOCHS && p[2].value == 0.25, "the new value replaced it");
        free(p);
        REQUIRE(ks_db_trial_get(db, id, &t, &err) == KS_OK, "%s", fmt_err(&err));
        CHECK(t.epochs == N_EPOCHS && t.objective == 0.25 && t.best_epoch == 2,
              "epochs stay %d, the new best: %g at %d", t.epochs, t.objective, t.best_epoch);
        ks_trial_info_free(&t);
        check_blob(db, id, KS_CHECKPOINT_LAST, 2, "last checkpoint after the repeat");
        check_blob(db, id, KS_CHECKPOINT_BEST, 2, "best checkpoint after the repeat");
    }

    /* a NaN metric and a NaN objective come back as NaN */
    {
        ks_logs logs;
        ks_epoch_record rec;
        memset(&rec, 0, sizeof rec);
        ks_logs_clear(&logs);
        ks_logs_set(&logs, "loss", NAN);
        rec.epoch = N_EPOCHS;
        rec.wall_time = 2000.0;
        rec.logs = &logs;
        rec.objective = NAN;
        rec.improved = 1;
        s = ks_db_epoch_write(db, id, &rec, &err);
        CHECK(s == KS_OK, "%s", fmt_err(&err));
        s = ks_db_metric_series(db, id, "loss", 0, &p, &n, &err);
        CHECK(s == KS_OK && n == N_EPOCHS + 1 && isnan(p[N_EPOCHS].value), "NaN loss");
        free(p);
        REQUIRE(ks_db_trial_get(db, id, &t, &err) == KS_OK, "%s", fmt_err(&err));
        CHECK(t.epochs == N_EPOCHS + 1 && isnan(t.objective) && t.best_epoch == N_EPOCHS,
              "NaN objective");
        ks_trial_info_free(&t);
    }

    /* batch values: by step, the epoch in progress, a repeated step replaces */
    {
        ks_logs logs;
        for (int step = 0; step < 10; step++) {
            ks_logs_clear(&logs);
            ks_logs_set(&logs, "loss", 0.5 * step);
            ks_logs_set(&logs, "accuracy", 0.01 * step);
            s = ks_db_batch_write(db, id, 60 + step, &logs, &err);
            CHECK(s == KS_OK, "batch %d: %s", step, fmt_err(&err));
        }
        ks_logs_clear(&logs);
        ks_logs_set(&logs, "loss", -1.0);
        CHECK(ks_db_batch_write(db, id, 63, &logs, &err) == KS_OK, "%s", fmt_err(&err));
        s = ks_db_metric_series(db, id, "loss", 1, &p, &n, &err);
        REQUIRE(s == KS_OK && n == 10, "batch series: %d %s", n, fmt_err(&err));
        for (int i = 0; i < 10; i++)
            CHECK(p[i].step == 60 + i && p[i].epoch == N_EPOCHS + 1 &&
                      p[i].value == (i == 3 ? -1.0 : 0.5 * i),
                  "batch point %d: step %lld epoch %d value %g", i, (long long)p[i].step,
                  p[i].epoch, p[i].value);
        free(p);
        CHECK(query_int(path, "SELECT count(*) FROM metric WHERE step >= 0", 0) == 20,
              "20 batch rows");
        s = ks_db_metric_series(db, id, "loss", 0, &p, &n, &err);
        CHECK(s == KS_OK && n == N_EPOCHS + 1, "epoch series without batch values: %d", n);
        free(p);
        s = ks_db_batch_write(db, 999999, 0, &logs, &err);
        CHECK(s == KS_ERR_CONFIG, "batch of an unknown trial: %d", s);
    }

    /* no checkpoint of a trial without one */
    {
        int64_t id2;
        unsigned char *blob = (unsigned char *)"x";
        size_t len = 9;
        REQUIRE(ks_db_trial_add(db, st.id, 1, "{}", 1, 3, &id2, &err) == KS_OK, "%s",
                fmt_err(&err));
        s = ks_db_checkpoint_get(db, id2, KS_CHECKPOINT_BEST, &blob, &len, NULL, &err);
        CHECK(s == KS_ERR_CONFIG && blob == NULL && len == 0 && strstr(err.msg, "no best"),
              "no checkpoint: %d %s", s, fmt_err(&err));
        REQUIRE(ks_db_metric_names(db, id2, &names, &err) == KS_OK, "%s", fmt_err(&err));
        CHECK(names && names[0] == NULL, "no names yet");
        ks_strv_free(names);
    }

    /* ensembles: put, put again replaces */
    {
        unsigned char file[3] = {1, 2, 3};
        CHECK(ks_db_ensemble_put(db, st.id, "top5", "{\"members\":[0]}", file, 3, &err) ==
                  KS_OK,
              "%s", fmt_err(&err));
        CHECK(ks_db_ensemble_put(db, st.id, "top5", "{\"members\":[0,1]}", NULL, 0, &err) ==
                  KS_OK,
              "%s", fmt_err(&err));
        CHECK(query_int(path, "SELECT count(*) FROM ensemble WHERE json = '{\"members\":[0,1]}'"
                              " AND file IS NULL",
                        0) == 1 &&
                  query_int(path, "SELECT count(*) FROM ensemble", 0) == 1,
              "one ensemble, replaced");
        s = ks_db_ensemble_put(db, st.id + 50, "x", "{}", NULL, 0, &err);
        CHECK(s == KS_ERR_CONFIG, "ensemble of an unknown study: %d", s);
    }
    ks_study_info_free(&st);
    ks_db_close(db);
}

/* ------------------------------------------------------------- atomicity */

static void test_atomicity(void)
{
    char path[300];
    ks_db *db = NULL;
    ks_error err;
    ks_study_info st;
    ks_trial_info t;
    int64_t id;
    ks_status s;
    long long metrics, ckpts, hists;
    path_in(path, sizeof path, "atomic.db");
    REQUIRE(ks_db_open(path, 1, &db, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_study_open(db, "s", "", "", "val_loss", 0, &st, NULL, &err) == KS_OK, "%s",
            fmt_err(&err));
    REQUIRE(ks_db_trial_add(db, st.id, 0, "{}", 1, 9, &id, &err) == KS_OK, "%s", fmt_err(&err));
    for (int e = 0; e < 2; e++)
        REQUIRE(write_epoch(db, id, e, 1.0 - 0.1 * e, 1, &err) == KS_OK, "%s", fmt_err(&err));
    metrics = query_int(path, "SELECT count(*) FROM metric", 0);
    ckpts = query_int(path, "SELECT count(*) FROM checkpoint", 0);
    hists = query_int(path, "SELECT count(*) FROM histogram", 0);

    /* a trial that does not exist: the foreign key refuses the first value */
    s = write_epoch(db, id + 77, 0, 0.5, 1, &err);
    CHECK(s == KS_ERR_CONFIG && strstr(err.msg, "no trial with id"), "unknown trial: %d %s", s,
          fmt_err(&err));
    CHECK(query_int(path, "SELECT count(*) FROM metric", 0) == metrics, "no metric row added");
    CHECK(query_int(path, "SELECT count(*) FROM checkpoint", 0) == ckpts, "no checkpoint added");

    /* a fault at the last step (the histograms, after values, progress and checkpoints
       were written): nothing of the epoch stays */
    REQUIRE(raw_exec(path, "CREATE TRIGGER fault BEFORE INSERT ON histogram BEGIN"
                           " SELECT RAISE(ABORT, 'injected fault'); END") == SQLITE_OK,
            "trigger");
    s = write_epoch(db, id, 2, 0.1, 1, &err);
    CHECK(s == KS_ERR_DB && strstr(err.msg, "injected fault") && strcmp(err.file, path) == 0,
          "injected fault: %d %s", s, fmt_err(&err));
    CHECK(query_int(path, "SELECT count(*) FROM metric", 0) == metrics, "no metric row added");
    CHECK(query_int(path, "SELECT count(*) FROM metric WHERE epoch = 2", 0) == 0,
          "nothing of epoch 2");
    CHECK(query_int(path, "SELECT count(*) FROM histogram", 0) == hists, "no histogram added");
    REQUIRE(ks_db_trial_get(db, id, &t, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(t.epochs == 2 && t.best_epoch == 1 && fabs(t.objective - 0.9) < 1e-12,
          "progress unchanged: %d epochs, best %g at %d", t.epochs, t.objective, t.best_epoch);
    ks_trial_info_free(&t);
    check_blob(db, id, KS_CHECKPOINT_LAST, 1, "last checkpoint unchanged");
    check_blob(db, id, KS_CHECKPOINT_BEST, 1, "best checkpoint unchanged");

    /* the same fault at the checkpoint */
    REQUIRE(raw_exec(path, "DROP TRIGGER fault; CREATE TRIGGER fault BEFORE UPDATE ON checkpoint"
                           " BEGIN SELECT RAISE(ABORT, 'injected fault'); END") == SQLITE_OK,
            "trigger");
    s = write_epoch(db, id, 3, 0.1, 0, &err);
    CHECK(s == KS_ERR_DB, "injected fault at the checkpoint: %d %s", s, fmt_err(&err));
    CHECK(query_int(path, "SELECT count(*) FROM metric", 0) == metrics, "no metric row added");
    REQUIRE(ks_db_trial_get(db, id, &t, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(t.epochs == 2, "epochs unchanged: %d", t.epochs);
    ks_trial_info_free(&t);

    /* without the fault the write goes through, and the connection is still usable */
    REQUIRE(raw_exec(path, "DROP TRIGGER fault") == SQLITE_OK, "drop trigger");
    s = write_epoch(db, id, 2, 0.1, 1, &err);
    CHECK(s == KS_OK, "after the fault: %s", fmt_err(&err));
    CHECK(query_int(path, "SELECT count(*) FROM metric", 0) == metrics + 4, "epoch 2 written");
    check_blob(db, id, KS_CHECKPOINT_BEST, 2, "best checkpoint of epoch 2");

    /* arguments that are a caller's bug */
    {
        ks_epoch_record rec;
        memset(&rec, 0, sizeof rec);
        rec.epoch = -1;
        CHECK(ks_db_epoch_write(db, id, &rec, &err) == KS_ERR_INTERNAL, "a negative epoch");
        rec.epoch = 0;
        rec.n_histograms = 1;
        CHECK(ks_db_epoch_write(db, id, &rec, &err) == KS_ERR_INTERNAL, "histograms without tags");
        CHECK(ks_db_epoch_write(db, id, NULL, &err) == KS_ERR_INTERNAL, "no record");
    }
    ks_study_info_free(&st);
    ks_db_close(db);
}

/* --------------------------------------------------------- delete cascades */

static void test_delete(void)
{
    char path[300];
    ks_db *db = NULL;
    ks_error err;
    ks_study_info a, b;
    int64_t ta[2], tb;
    ks_status s;
    path_in(path, sizeof path, "delete.db");
    REQUIRE(ks_db_open(path, 1, &db, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_study_open(db, "a", "", "", "val_loss", 0, &a, NULL, &err) == KS_OK, "%s",
            fmt_err(&err));
    REQUIRE(ks_db_study_open(db, "b", "", "", "val_loss", 0, &b, NULL, &err) == KS_OK, "%s",
            fmt_err(&err));
    for (int i = 0; i < 2; i++)
        REQUIRE(ks_db_trial_add(db, a.id, i, "{}", 1, 3, &ta[i], &err) == KS_OK, "%s",
                fmt_err(&err));
    REQUIRE(ks_db_trial_add(db, b.id, 0, "{}", 1, 3, &tb, &err) == KS_OK, "%s", fmt_err(&err));
    for (int e = 0; e < 3; e++) {
        CHECK(write_epoch(db, ta[0], e, 1.0 / (e + 1), 1, &err) == KS_OK, "%s", fmt_err(&err));
        CHECK(write_epoch(db, ta[1], e, 1.0 / (e + 1), 1, &err) == KS_OK, "%s", fmt_err(&err));
        CHECK(write_epoch(db, tb, e, 1.0 / (e + 1), 1, &err) == KS_OK, "%s", fmt_err(&err));
    }
    CHECK(ks_db_ensemble_put(db, a.id, "e", "{}", NULL, 0, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(ks_db_ensemble_put(db, b.id, "e", "{}", NULL, 0, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(query_int(path, "SELECT count(*) FROM metric", 0) == 3 * 3 * 4, "metric rows");

    s = ks_db_study_delete(db, a.id, &err);
    CHECK(s == KS_OK, "%s", fmt_err(&err));
    CHECK(query_int(path, "SELECT count(*) FROM study", 0) == 1, "one study left");
    CHECK(query_int(path, "SELECT count(*) FROM trial", 0) == 1, "one trial left");
    CHECK(query_int(path, "SELECT count(*) FROM metric", 0) == 3 * 4 &&
              query_int(path, "SELECT count(*) FROM metric WHERE trial_id = ?1", tb) == 3 * 4,
          "only the other study's metric rows left");
    CHECK(query_int(path, "SELECT count(*) FROM checkpoint", 0) == 2 &&
              query_int(path, "SELECT count(*) FROM checkpoint WHERE trial_id = ?1", tb) == 2,
          "only the other study's checkpoints left");
    CHECK(query_int(path, "SELECT count(*) FROM histogram", 0) ==
              query_int(path, "SELECT count(*) FROM histogram WHERE trial_id = ?1", tb) &&
              query_int(path, "SELECT count(*) FROM histogram", 0) == 4,
          "only the other study's histograms left");
    CHECK(query_int(path, "SELECT count(*) FROM ensemble WHERE study_id = ?1", b.id) == 1 &&
              query_int(path, "SELECT count(*) FROM ensemble", 0) == 1,
          "only the other study's ensemble left");
    s = ks_db_study_delete(db, a.id, &err);
    CHECK(s == KS_ERR_CONFIG, "deleting it again: %d", s);
    /* the name is free again */
    {
        ks_study_info c;
        int created = 0;
        s = ks_db_study_open(db, "a", "new", "", "loss", 0, &c, &created, &err);
        CHECK(s == KS_OK && created == 1 && strcmp(c.config, "new") == 0, "a new study a");
        ks_study_info_free(&c);
    }
    ks_study_info_free(&a);
    ks_study_info_free(&b);
    ks_db_close(db);
}

/* ------------------------------------------------------------ concurrency */

#define N_THREADS 8
#define C_EPOCHS 50
#define C_METRICS 10
#define C_CKPT (200 * 1024)

typedef struct writer {
    const char *path;
    pthread_barrier_t *start;
    int number;
    int64_t trial_id;
    ks_status status;
    ks_error err;
    int retries;
    double seconds;
} writer;

static void *writer_main(void *arg)
{
    writer *w = arg;
    ks_db *db = NULL;
    ks_study_info st;
    ks_logs logs;
    unsigned char *ckpt = make_blob(C_CKPT, (unsigned)w->number, 0);
    ks_status s;
    double t0;
    memset(&st, 0, sizeof st);
    pthread_barrier_wait(w->start);
    t0 = now_s();
    /* all at once on a file that does not exist yet: the schema is made once */
    s = ks_db_open(w->path, 1, &db, &w->err);
    if (s == KS_OK)
        s = ks_db_study_open(db, "concurrent", "cfg", "h", "loss", 0, &st, NULL, &w->err);
    if (s == KS_OK)
        s = ks_db_trial_add(db, st.id, w->number, "{}", (uint64_t)w->number, C_EPOCHS,
                            &w->trial_id, &w->err);
    if (s == KS_OK)
        s = ks_db_trial_set_status(db, w->trial_id, KS_TRIAL_RUNNING, NULL, &w->err);
    for (int e = 0; s == KS_OK && e < C_EPOCHS; e++) {
        ks_epoch_record rec;
        memset(&rec, 0, sizeof rec);
        make_logs(&logs, w->number, e, C_METRICS);
        ckpt[0] = (unsigned char)e;     /* each epoch's checkpoint differs */
        rec.epoch = e;
        rec.wall_time = now_s();
        rec.logs = &logs;
        rec.last_checkpoint = ckpt;
        rec.last_len = C_CKPT;
        rec.objective = logs.value[0];
        rec.improved = e == 0;
        if (rec.improved) {
            rec.best_checkpoint = ckpt;
            rec.best_len = C_CKPT;
        }
        s = ks_db_epoch_write(db, w->trial_id, &rec, &w->err);
    }
    if (s == KS_OK)
        s = ks_db_trial_set_status(db, w->trial_id, KS_TRIAL_COMPLETE, NULL, &w->err);
    w->seconds = now_s() - t0;
    w->retries = ks_db_busy_retries(db);
    w->status = s;
    ks_study_info_free(&st);
    ks_db_close(db);
    free(ckpt);
    return NULL;
}

static void test_concurrency(void)
{
    char path[300];
    pthread_t th[N_THREADS];
    pthread_barrier_t start;
    writer w[N_THREADS];
    ks_db *db = NULL;
    ks_error err;
    double t0, seconds, slowest = 0;
    int retries = 0, started = 0;
    path_in(path, sizeof path, "concurrent.db");
    REQUIRE(pthread_barrier_init(&start, NULL, N_THREADS + 1) == 0, "barrier");
    for (int i = 0; i < N_THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].path = path;
        w[i].start = &start;
        w[i].number = i;
        w[i].status = KS_ERR_INTERNAL;
        if (pthread_create(&th[i], NULL, writer_main, &w[i]) != 0)
            break;
        started++;
    }
    REQUIRE(started == N_THREADS, "started %d threads", started);
    t0 = now_s();
    pthread_barrier_wait(&start);
    for (int i = 0; i < N_THREADS; i++)
        pthread_join(th[i], NULL);
    seconds = now_s() - t0;
    pthread_barrier_destroy(&start);
    for (int i = 0; i < N_THREADS; i++) {
        CHECK(w[i].status == KS_OK, "writer %d: %s", i, fmt_err(&w[i].err));
        retries += w[i].retries;
        if (w[i].seconds > slowest)
            slowest = w[i].seconds;
    }
    printf("concurrency: %d threads x %d epochs x %d metrics + %d KB checkpoints: %.2f s "
           "(slowest writer %.2f s), %d busy retries\n",
           N_THREADS, C_EPOCHS, C_METRICS, C_CKPT / 1024, seconds, slowest, retries);
    CHECK(query_int(path, "SELECT count(*) FROM metric", 0) ==
              (long long)N_THREADS * C_EPOCHS * C_METRICS,
          "%lld metric rows", query_int(path, "SELECT count(*) FROM metric", 0));
    CHECK(query_int(path, "SELECT count(*) FROM trial WHERE status = 'complete' AND epochs = ?1",
                    C_EPOCHS) == N_THREADS,
          "every trial complete with its epochs");
    CHECK(query_int(path, "SELECT count(*) FROM study", 0) == 1, "one study");
    CHECK(query_int(path, "SELECT count(*) FROM checkpoint", 0) == 2 * N_THREADS,
          "a best and a last checkpoint per trial");
    /* every value as written */
    REQUIRE(ks_db_open(path, 0, &db, &err) == KS_OK, "%s", fmt_err(&err));
    for (int i = 0; i < N_THREADS; i++) {
        ks_logs names;
        int bad = 0;
        make_logs(&names, i, 0, C_METRICS);
        for (int k = 0; k < C_METRICS; k++) {
            ks_metric_point *p = NULL;
            int n = 0;
            ks_status s = ks_db_metric_series(db, w[i].trial_id, names.name[k], 0, &p, &n, &err);
            if (s != KS_OK || n != C_EPOCHS) {
                bad++;
            } else {
                for (int e = 0; e < C_EPOCHS; e++)
                    if (p[e].epoch != e || p[e].value != metric_value(i, e, k))
                        bad++;
            }
            free(p);
        }
        CHECK(bad == 0, "writer %d: %d values differ", i, bad);
        {
            unsigned char *blob = NULL, *want = make_blob(C_CKPT, (unsigned)i, 0);
            size_t len = 0;
            int epoch = -1;
            ks_status s =
                ks_db_checkpoint_get(db, w[i].trial_id, KS_CHECKPOINT_LAST, &blob, &len, &epoch,
                                     &err);
            want[0] = (unsigned char)(C_EPOCHS - 1);
            CHECK(s == KS_OK && epoch == C_EPOCHS - 1 && len == C_CKPT &&
                      memcmp(blob, want, len) == 0,
                  "writer %d: last checkpoint", i);
            free(blob);
            free(want);
        }
    }
    ks_db_close(db);
    CHECK(query_int(path, "SELECT count(*) FROM pragma_integrity_check WHERE "
                          "integrity_check = 'ok'",
                    0) == 1,
          "integrity_check ok");
}

/* -------------------------------------------------------------- bad files */

static void expect_open_error(const char *path, int create, ks_status want, const char *msg,
                              const char *what)
{
    ks_db *db = (ks_db *)&db;  /* must come back NULL */
    ks_error err;
    char full[1200];
    ks_status s = ks_db_open(path, create, &db, &err);
    snprintf(full, sizeof full, "%s: %s", path, msg);
    CHECK(s == want && db == NULL, "%s (create %d): status %d (want %d): %s", what, create, s,
          want, fmt_err(&err));
    CHECK(s != KS_OK && strcmp(fmt_err(&err), full) == 0, "%s: message \"%s\", want \"%s\"",
          what, fmt_err(&err), full);
    if (s == KS_OK)
        ks_db_close(db);
}

static void test_bad_files(void)
{
    char path[300], wal[320];
    unsigned char *before, *after;
    size_t n_before, n_after;
    ks_db *db = NULL;
    ks_error err;

    /* a missing file, without create: an error, and no file made */
    path_in(path, sizeof path, "missing.db");
    expect_open_error(path, 0, KS_ERR_IO, "no such study database", "missing file");
    CHECK(!exists(path), "no file made");

    /* a directory */
    expect_open_error(tmpdir, 1, KS_ERR_IO, "is a directory, not a study database",
                      "directory");

    /* a text file, with or without create: untouched */
    path_in(path, sizeof path, "notes.txt");
    {
        FILE *f = fopen(path, "w");
        REQUIRE(f != NULL, "write %s", path);
        for (int i = 0; i < 100; i++)
            fprintf(f, "line %d: this is a text file, not a database\n", i);
        fclose(f);
    }
    before = read_file(path, &n_before);
    expect_open_error(path, 0, KS_ERR_CORRUPT, "not a ksearch study database (not an SQLite file)",
                      "text file");
    expect_open_error(path, 1, KS_ERR_CORRUPT, "not a ksearch study database (not an SQLite file)",
                      "text file");
    after = read_file(path, &n_after);
    CHECK(before && after && n_before == n_after && memcmp(before, after, n_after) == 0,
          "the text file is unchanged");
    free(before);
    free(after);

    /* someone else's SQLite file: not ours, and left exactly as it was */
    path_in(path, sizeof path, "other.sqlite");
    {
        sqlite3 *c = NULL;
        REQUIRE(sqlite3_open(path, &c) == SQLITE_OK, "create %s", path);
        CHECK(sqlite3_exec(c, "CREATE TABLE x (a INTEGER, b TEXT);"
                              "INSERT INTO x VALUES (1, 'one'), (2, 'two');",
                           NULL, NULL, NULL) == SQLITE_OK,
              "fill %s", path);
        sqlite3_close(c);
    }
    before = read_file(path, &n_before);
    expect_open_error(path, 0, KS_ERR_CORRUPT, "not a ksearch study database", "foreign SQLite");
    expect_open_error(path, 1, KS_ERR_CORRUPT, "not a ksearch study database", "foreign SQLite");
    after = read_file(path, &n_after);
    CHECK(before && after && n_before == n_after && memcmp(before, after, n_after) == 0,
          "the other SQLite file is unchanged");
    snprintf(wal, sizeof wal, "%s-wal", path);
    CHECK(!exists(wal), "no WAL made next to it");
    CHECK(query_int(path, "SELECT count(*) FROM sqlite_master", 0) == 1, "still one table");
    free(before);
    free(after);

    /* someone else's meta table */
    path_in(path, sizeof path, "othermeta.sqlite");
    {
        sqlite3 *c = NULL;
        REQUIRE(sqlite3_open(path, &c) == SQLITE_OK, "create %s", path);
        CHECK(sqlite3_exec(c, "CREATE TABLE meta (k, v); INSERT INTO meta VALUES (1, 2);", NULL,
                           NULL, NULL) == SQLITE_OK,
              "fill %s", path);
        sqlite3_close(c);
    }
    expect_open_error(path, 1, KS_ERR_CORRUPT, "not a ksearch study database",
                      "a meta table of other columns");

    /* a file with nothing but a view is someone's too */
    path_in(path, sizeof path, "view.sqlite");
    {
        sqlite3 *c = NULL;
        REQUIRE(sqlite3_open(path, &c) == SQLITE_OK, "create %s", path);
        CHECK(sqlite3_exec(c, "CREATE VIEW v AS SELECT 1 AS one", NULL, NULL, NULL) == SQLITE_OK,
              "fill %s", path);
        sqlite3_close(c);
    }
    expect_open_error(path, 1, KS_ERR_CORRUPT, "not a ksearch study database", "only a view");
    CHECK(query_int(path, "SELECT count(*) FROM sqlite_master", 0) == 1, "still only the view");

    /* an empty file: not a study database, unless asked to create one */
    path_in(path, sizeof path, "empty.db");
    {
        FILE *f = fopen(path, "w");
        REQUIRE(f != NULL, "write %s", path);
        fclose(f);
    }
    expect_open_error(path, 0, KS_ERR_CORRUPT, "not a ksearch study database (an empty file)",
                      "empty file");
    CHECK(ks_db_open(path, 1, &db, &err) == KS_OK, "empty file with create: %s", fmt_err(&err));
    ks_db_close(db);
    db = NULL;

    /* a newer schema */
    path_in(path, sizeof path, "newer.db");
    REQUIRE(ks_db_open(path, 1, &db, &err) == KS_OK, "%s", fmt_err(&err));
    ks_db_close(db);
    db = NULL;
    {
        char sql[200], msg[200];
        snprintf(sql, sizeof sql, "UPDATE meta SET value = '%d' WHERE key = 'schema_version'",
                 KS_DB_SCHEMA_VERSION + 1);
        REQUIRE(raw_exec(path, sql) == SQLITE_OK, "set the version");
        snprintf(msg, sizeof msg,
                 "written by a newer ksearch (schema %d); this one reads up to %d",
                 KS_DB_SCHEMA_VERSION + 1, KS_DB_SCHEMA_VERSION);
        expect_open_error(path, 0, KS_ERR_CONFIG, msg, "newer schema");
        expect_open_error(path, 1, KS_ERR_CONFIG, msg, "newer schema");
        REQUIRE(raw_exec(path, "UPDATE meta SET value = 'x1' WHERE key = 'schema_version'") ==
                    SQLITE_OK,
                "set the version");
        expect_open_error(path, 0, KS_ERR_CORRUPT,
                          "the study database is damaged (schema version \"x1\")",
                          "a schema version that is no number");
    }
}

/* A study database with n_trials × 40 epochs of values, closed (the WAL folded in). */
static void make_full_db(const char *path, int n_trials)
{
    ks_db *db = NULL;
    ks_error err;
    ks_study_info st;
    REQUIRE(ks_db_open(path, 1, &db, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_study_open(db, "s", "", "", "loss", 0, &st, NULL, &err) == KS_OK, "%s",
            fmt_err(&err));
    for (int i = 0; i < n_trials; i++) {
        int64_t id;
        REQUIRE(ks_db_trial_add(db, st.id, i, "{}", 1, 40, &id, &err) == KS_OK, "%s",
                fmt_err(&err));
        for (int e = 0; e < 40; e++)
            REQUIRE(write_epoch(db, id, e, 1.0 / (e + 1), e == 0, &err) == KS_OK, "%s",
                    fmt_err(&err));
    }
    ks_study_info_free(&st);
    ks_db_close(db);
}

/* Overwrite page number page (1-based) of path with garbage. */
static int damage_page(const char *path, long long page, long long page_size)
{
    unsigned char *junk = make_blob((size_t)page_size, 77, (unsigned)page);
    FILE *f = fopen(path, "r+b");
    int ok = f && junk && fseek(f, (long)((page - 1) * page_size), SEEK_SET) == 0 &&
             fwrite(junk, 1, (size_t)page_size, f) == (size_t)page_size;
    if (f)
        fclose(f);
    free(junk);
    return ok;
}

/* Read everything a report reads; the first error. */
static ks_status read_everything(ks_db *db, ks_error *err)
{
    char **studies = NULL;
    ks_status s = ks_db_study_list(db, &studies, err);
    for (int k = 0; s == KS_OK && studies[k]; k++) {
        ks_study_info st;
        ks_trial_info *rows = NULL;
        int n = 0;
        if ((s = ks_db_study_get(db, studies[k], &st, err)) != KS_OK)
            break;
        s = ks_db_trials(db, st.id, &rows, &n, err);
        for (int i = 0; s == KS_OK && i < n; i++) {
            char **names = NULL, **tags = NULL;
            int *epochs = NULL, nh = 0;
            s = ks_db_metric_names(db, rows[i].id, &names, err);
            for (int j = 0; s == KS_OK && names[j]; j++)
                for (int by_batch = 0; s == KS_OK && by_batch < 2; by_batch++) {
                    ks_metric_point *p = NULL;
                    int np = 0;
                    s = ks_db_metric_series(db, rows[i].id, names[j], by_batch, &p, &np, err);
                    free(p);
                }
            for (int kind = 0; s == KS_OK && kind < 2; kind++) {
                unsigned char *blob = NULL;
                size_t len = 0;
                ks_error e;
                if (ks_db_checkpoint_get(db, rows[i].id, (ks_checkpoint_kind)kind, &blob, &len,
                                         NULL, &e) != KS_OK && e.code != KS_ERR_CONFIG) {
                    *err = e;
                    s = e.code;
                }
                free(blob);
            }
            if (s == KS_OK)
                s = ks_db_histogram_list(db, rows[i].id, &tags, &epochs, &nh, err);
            for (int j = 0; s == KS_OK && j < nh; j++) {
                double h[KS_HISTOGRAM_BUCKETS * 3];
                s = ks_db_histogram_get(db, rows[i].id, tags[j], epochs[j], h, err);
            }
            ks_strv_free(names);
            ks_strv_free(tags);
            free(epochs);
        }
        for (int i = 0; i < n; i++)
            ks_trial_info_free(&rows[i]);
        free(rows);
        ks_study_info_free(&st);
    }
    ks_strv_free(studies);
    return s;
}

/* Open a damaged file and read every trial's metrics: KS_ERR_CORRUPT somewhere, no crash. */
static void expect_damaged(const char *path, const char *what)
{
    ks_db *db = NULL;
    ks_error err;
    ks_status s = ks_db_open(path, 0, &db, &err);
    if (s == KS_OK)
        s = read_everything(db, &err);
    ks_db_close(db);
    CHECK(s == KS_ERR_CORRUPT, "%s: status %d: %s", what, s, fmt_err(&err));
    CHECK(s != KS_OK && strncmp(fmt_err(&err), path, strlen(path)) == 0 &&
              strstr(err.msg, "damaged"),
          "%s: the message names the file: %s", what, fmt_err(&err));
}

static void test_damaged(void)
{
    char path[300];
    long long page_size, root, pages;
    path_in(path, sizeof path, "damaged.db");
    make_full_db(path, 4);
    page_size = query_int(path, "PRAGMA page_size", 0);
    root = query_int(path, "SELECT rootpage FROM sqlite_master WHERE name = 'metric'", 0);
    pages = query_int(path, "PRAGMA page_count", 0);
    REQUIRE(page_size > 0 && root > 1 && pages > 10, "page size %lld, root %lld, %lld pages",
            page_size, root, pages);
    /* the metric table's root page, which every series read goes through */
    REQUIRE(damage_page(path, root, page_size), "damage page %lld", root);
    expect_damaged(path, "damaged metric root page");

    /* pages in the middle of the file (checkpoint blobs, index pages …) */
    path_in(path, sizeof path, "damaged2.db");
    make_full_db(path, 4);
    pages = query_int(path, "PRAGMA page_count", 0);
    for (long long p = pages / 3; p < pages / 3 + 4; p++)
        REQUIRE(damage_page(path, p, page_size), "damage page %lld", p);
    expect_damaged(path, "damaged middle pages");

    /* the trial table's root: the first read of a report */
    path_in(path, sizeof path, "damaged3.db");
    make_full_db(path, 2);
    root = query_int(path, "SELECT rootpage FROM sqlite_master WHERE name = 'trial'", 0);
    REQUIRE(root > 1 && damage_page(path, root, page_size), "damage page %lld", root);
    expect_damaged(path, "damaged trial root page");

    /* one page at a time, all over the file: an error or (blob bytes, free pages) not
       noticed, but never a crash or another kind of error */
    {
        unsigned char *orig;
        size_t orig_len;
        int noticed = 0, tries = 0;
        path_in(path, sizeof path, "damaged4.db");
        make_full_db(path, 2);
        orig = read_file(path, &orig_len);
        pages = (long long)orig_len / page_size;
        for (long long p = 1; orig && p <= pages; p += 1 + pages / 24) {
            FILE *f = fopen(path, "wb");
            ks_db *db = NULL;
            ks_error err;
            ks_status s;
            REQUIRE(f && fwrite(orig, 1, orig_len, f) == orig_len, "restore %s", path);
            fclose(f);
            REQUIRE(damage_page(path, p, page_size), "damage page %lld", p);
            s = ks_db_open(path, 0, &db, &err);
            if (s == KS_OK)
                s = read_everything(db, &err);
            ks_db_close(db);
            CHECK(s == KS_OK || s == KS_ERR_CORRUPT, "page %lld of %lld: %s", p, pages,
                  fmt_err(&err));
            noticed += s == KS_ERR_CORRUPT;
            tries++;
        }
        CHECK(noticed >= tries / 2, "%d of %d damaged pages noticed", noticed, tries);
        printf("damaged pages: %d of %d noticed\n", noticed, tries);
        free(orig);
    }

    /* a truncated file */
    path_in(path, sizeof path, "truncated.db");
    make_full_db(path, 2);
    pages = query_int(path, "PRAGMA page_count", 0);
    REQUIRE(truncate(path, (off_t)(pages / 2 * page_size)) == 0, "truncate");
    expect_damaged(path, "truncated file");
}

/* ------------------------------------------------------------------ main */

/* Remove the temporary directory and the files in it (it has no subdirectories). */
/* The tracker's learning_rate and iterations rows need no schema change; the reports
   show learning_rate (readable when small) and hide the step count; a pruned trial
   keeps the end time of its last rung (the time its TensorBoard session ends with). */
static void test_extra_rows(void)
{
    char path[300], *text = NULL;
    size_t len = 0;
    ks_db *db = NULL;
    ks_error err;
    ks_study_info st;
    ks_trial_info t;
    ks_metric_point *p = NULL;
    int64_t id;
    int n = 0;
    double ended;
    FILE *f;
    path_in(path, sizeof path, "extra.db");
    REQUIRE(ks_db_open(path, 1, &db, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_study_open(db, "x", "", "", "val_loss", 0, &st, NULL, &err) == KS_OK, "%s",
            fmt_err(&err));
    REQUIRE(ks_db_trial_add(db, st.id, 0, "{\"lr\": 0.0001}", 1, 3, &id, &err) == KS_OK, "%s",
            fmt_err(&err));
    CHECK(ks_db_trial_set_status(db, id, KS_TRIAL_RUNNING, NULL, &err) == KS_OK, "%s",
          fmt_err(&err));
    for (int e = 0; e < 3; e++) {
        ks_logs logs;
        ks_epoch_record rec;
        ks_logs_clear(&logs);
        ks_logs_set(&logs, "loss", 1.0 / (e + 1));
        ks_logs_set(&logs, "val_loss", 1.5 / (e + 1));
        ks_logs_set(&logs, "learning_rate", 0.0001);
        ks_logs_set(&logs, KS_METRIC_ITERATIONS, 7.0 * (e + 1));
        memset(&rec, 0, sizeof rec);
        rec.epoch = e;
        rec.wall_time = now_s();
        rec.logs = &logs;
        rec.objective = 1.5 / (e + 1);
        rec.improved = 1;
        CHECK(ks_db_epoch_write(db, id, &rec, &err) == KS_OK, "%s", fmt_err(&err));
    }
    CHECK(ks_db_metric_series(db, id, KS_METRIC_ITERATIONS, 0, &p, &n, &err) == KS_OK && n == 3 &&
              p[2].value == 21.0 && p[2].step == -1,
          "the step count is an epoch row");
    free(p);
    CHECK(query_int(path, "SELECT count(*) FROM metric WHERE name = 'learning_rate' AND step = -1",
                    0) == 3,
          "a learning_rate row per epoch");

    f = open_memstream(&text, &len);
    REQUIRE(f != NULL, "memstream");
    CHECK(ks_report_show(db, "x", 0, KS_REPORT_TEXT, f, &err) == KS_OK, "%s", fmt_err(&err));
    fclose(f);
    CHECK(text && strstr(text, "learning_rate") && !strstr(text, KS_METRIC_ITERATIONS) &&
              strstr(text, "1.000e-04") && !strstr(text, "0.0000 "),
          "show: learning_rate readable, no iterations column:\n%s", text);
    free(text);
    text = NULL;
    f = open_memstream(&text, &len);
    REQUIRE(f != NULL, "memstream");
    CHECK(ks_report_show(db, "x", 0, KS_REPORT_JSON, f, &err) == KS_OK &&
              ks_report_compare(db, "x", (const int[]){0}, 1, KS_REPORT_CSV, f, &err) == KS_OK,
          "%s", fmt_err(&err));
    fclose(f);
    CHECK(text && strstr(text, "\"learning_rate\": 0.0001") &&
              !strstr(text, KS_METRIC_ITERATIONS) && strstr(text, "learning_rate#0"),
          "json and compare: no iterations:\n%s", text);
    free(text);

    /* complete (a rung), then pruned at the study's end: the end time stays */
    CHECK(ks_db_trial_set_status(db, id, KS_TRIAL_COMPLETE, NULL, &err) == KS_OK, "%s",
          fmt_err(&err));
    REQUIRE(ks_db_trial_get(db, id, &t, &err) == KS_OK, "%s", fmt_err(&err));
    ended = t.ended;
    ks_trial_info_free(&t);
    usleep(20000);
    CHECK(ks_db_trial_set_status(db, id, KS_TRIAL_PRUNED, NULL, &err) == KS_OK, "%s",
          fmt_err(&err));
    REQUIRE(ks_db_trial_get(db, id, &t, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(ended > 0 && t.ended == ended && t.status == KS_TRIAL_PRUNED,
          "pruned keeps the rung's end: %.6f vs %.6f", t.ended, ended);
    ks_trial_info_free(&t);
    ks_study_info_free(&st);
    ks_db_close(db);
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[600];
    while (d && (e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
            remove(p);
        }
    if (d)
        closedir(d);
    rmdir(tmpdir);
}

/*
 * Errors name a trial by its number in its study, as the user knows it, not by its row
 * id: the third trial of a second study (number 2, id 5) fails a write of each kind.
 */
static void test_errors_name_numbers(void)
{
    char path[300];
    ks_db *db = NULL;
    ks_study_info a, b;
    ks_error err;
    ks_logs logs;
    ks_epoch_record rec;
    unsigned char blob[16] = {0};
    int64_t id = 0;
    int created;
    path_in(path, sizeof path, "numbers.db");
    REQUIRE(ks_db_open(path, 1, &db, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_study_open(db, "a", "x", "h", "loss", 0, &a, &created, &err) == KS_OK &&
                ks_db_study_open(db, "b", "x", "h", "loss", 0, &b, &created, &err) == KS_OK,
            "%s", fmt_err(&err));
    for (int i = 0; i < 2; i++)
        CHECK(ks_db_trial_add(db, a.id, i, "{}", 1, 3, &id, &err) == KS_OK, "%s", fmt_err(&err));
    for (int i = 0; i < 3; i++)
        CHECK(ks_db_trial_add(db, b.id, i, "{}", 1, 3, &id, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(id == 5, "set-up: trial 2 of study b has id 5 (%lld)", (long long)id);
    /* writes that fail: a value named "boom", a checkpoint */
    REQUIRE(sqlite3_exec(db->conn,
                         "CREATE TEMP TRIGGER boom BEFORE INSERT ON metric WHEN NEW.name = 'boom'"
                         " BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
                         "CREATE TEMP TRIGGER ckpt BEFORE INSERT ON checkpoint"
                         " BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
                         NULL, NULL, NULL) == SQLITE_OK,
            "triggers: %s", sqlite3_errmsg(db->conn));
    memset(&logs, 0, sizeof logs);
    ks_logs_set(&logs, "boom", 1);
    memset(&rec, 0, sizeof rec);
    rec.logs = &logs;
    rec.objective = NAN;
    CHECK(ks_db_epoch_write(db, id, &rec, &err) == KS_ERR_DB &&
              strstr(err.msg, "writing boom of trial 2: injected fault") &&
              !strstr(err.msg, "trial 5"),
          "a value: %s", fmt_err(&err));
    CHECK(ks_db_batch_write(db, id, 1, &logs, &err) == KS_ERR_DB &&
              strstr(err.msg, "trial 2") && !strstr(err.msg, "trial 5"),
          "a batch value: %s", fmt_err(&err));
    memset(&logs, 0, sizeof logs);
    ks_logs_set(&logs, "loss", 1);
    rec.last_checkpoint = blob;
    rec.last_len = sizeof blob;
    CHECK(ks_db_epoch_write(db, id, &rec, &err) == KS_ERR_DB &&
              strstr(err.msg, "writing the last checkpoint of trial 2: injected fault"),
          "a checkpoint: %s", fmt_err(&err));
    {
        unsigned char *got = NULL;
        size_t len = 0;
        CHECK(ks_db_checkpoint_get(db, id, KS_CHECKPOINT_BEST, &got, &len, NULL, &err) ==
                      KS_ERR_CONFIG &&
                  strstr(err.msg, "trial 2 has no best checkpoint"),
              "no checkpoint: %s", fmt_err(&err));
        free(got);
    }
    ks_study_info_free(&a);
    ks_study_info_free(&b);
    ks_db_close(db);
}

/* A file from the dump of a schema 1 database (tests/db_v1.sql); 0 if it cannot be read. */
static int make_v1(const char *path)
{
    const char *data = getenv("KS_TEST_DATA");
    char src[600];
    size_t len;
    char *sql;
    int rc;
    snprintf(src, sizeof src, "%s/db_v1.sql", data ? data : "tests");
    if (!(sql = (char *)read_file(src, &len))) {
        CHECK(0, "cannot read %s (run from the repository, or set KS_TEST_DATA)", src);
        return 0;
    }
    sql[len] = '\0';
    remove(path);
    {
        sqlite3 *c = NULL;
        rc = sqlite3_open_v2(path, &c, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(c, sql, NULL, NULL, NULL);
        sqlite3_close(c);
    }
    free(sql);
    CHECK(rc == SQLITE_OK, "loading %s: %s", src, sqlite3_errstr(rc));
    return rc == SQLITE_OK;
}

static const char *path_wal(const char *path)
{
    static char buf[400];
    snprintf(buf, sizeof buf, "%s-wal", path);
    return buf;
}

/* KS_DB_READONLY: a schema 1 file read as it is (not brought to this schema), no write
   possible, nothing left beside it. */
static void test_readonly(void)
{
    char path[300];
    ks_db *db = NULL;
    ks_study_info st;
    ks_trial_info *rows = NULL;
    ks_error err;
    int n = 0;
    int64_t id;
    path_in(path, sizeof path, "ro.db");
    if (!make_v1(path))
        return;
    REQUIRE(ks_db_open(path, KS_DB_READONLY, &db, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(ks_db_study_get(db, "v1", &st, &err) == KS_OK && !st.dir &&
              strncmp(st.config, "name: v1", 8) == 0,
          "a schema 1 study read as it is: %s", fmt_err(&err));
    CHECK(ks_db_trials(db, st.id, &rows, &n, &err) == KS_OK && n == 2, "its trials: %s",
          fmt_err(&err));
    for (int i = 0; i < n; i++)
        ks_trial_info_free(&rows[i]);
    free(rows);
    CHECK(ks_db_trial_add(db, st.id, 2, "{}", 1, 1, &id, &err) == KS_ERR_INTERNAL &&
              strstr(err.msg, "read-only"),
          "a write is refused: %s", fmt_err(&err));
    CHECK(ks_db_study_set_context(db, st.id, "/x", NULL, &err) == KS_ERR_INTERNAL,
          "a context write is refused");
    CHECK(ks_db_segment_add(db, 1, 0, 1, 0, KS_TRIAL_COMPLETE, &err) ==
              KS_ERR_INTERNAL,
          "a segment write is refused");
    {
        /* the connection itself refuses writes, and keeps a small page cache (set before
           the checks read the file through) */
        sqlite3_stmt *q = NULL;
        int only = -1, cache = 0;
        if (sqlite3_prepare_v2(db->conn, "PRAGMA query_only", -1, &q, NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
            only = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
        if (sqlite3_prepare_v2(db->conn, "PRAGMA cache_size", -1, &q, NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
            cache = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
        CHECK(only == 1 && cache == -256, "query_only %d, cache_size %d", only, cache);
        CHECK(sqlite3_exec(db->conn, "DELETE FROM trial", NULL, NULL, NULL) != SQLITE_OK,
              "a write on the connection is refused");
    }
    ks_study_info_free(&st);
    ks_db_close(db);
    CHECK(query_int(path, "SELECT value FROM meta WHERE key = 'schema_version'", 0) == 1,
          "still schema 1");
    CHECK(!exists(path_wal(path)), "no WAL file left");
    CHECK(ks_db_open(path, KS_DB_READONLY | KS_DB_CREATE, &db, &err) == KS_ERR_INTERNAL && !db,
          "read-only and create together are refused");
    {
        char missing[300];
        path_in(missing, sizeof missing, "missing.db");
        CHECK(ks_db_open(missing, KS_DB_READONLY, &db, &err) == KS_ERR_IO && !exists(missing),
              "a missing file: an error, nothing created (%s)", fmt_err(&err));
    }
}

/* A schema 1 file (what ksearch wrote before schema 2) opens: brought to this schema,
   its studies, trials and values as they were. */
static void test_schema_v1(void)
{
    char path[300];
    ks_db *db = NULL;
    ks_study_info st;
    ks_trial_info *rows = NULL;
    ks_search_param units = {"units", KS_SEARCH_INT, 2, 3, 1, 0, NULL};
    ks_search_info search = {"grid", 0, 2, 2, 1, 1, &units}, back;
    int found = 0;
    ks_error err;
    int n = 0;
    path_in(path, sizeof path, "v1.db");
    if (!make_v1(path))
        return;
    CHECK(query_int(path, "SELECT value FROM meta WHERE key = 'schema_version'", 0) == 1,
          "set-up: a schema 1 file");
    REQUIRE(ks_db_open(path, 0, &db, &err) == KS_OK, "open: %s", fmt_err(&err));
    CHECK(query_int(path, "SELECT value FROM meta WHERE key = 'schema_version'", 0) ==
              KS_DB_SCHEMA_VERSION,
          "opened for writing: brought to schema %d", KS_DB_SCHEMA_VERSION);
    REQUIRE(ks_db_study_get(db, "v1", &st, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(strncmp(st.config, "name: v1\n", 9) == 0 && strcmp(st.metric, "val_loss") == 0 &&
              !st.dir,
          "the study as it was, no folder kept (%s)", st.metric);
    CHECK(ks_db_search_get(db, st.id, &back, &found, &err) == KS_OK && !found,
          "no search kept: %s", fmt_err(&err));
    CHECK(ks_db_trials(db, st.id, &rows, &n, &err) == KS_OK && n == 2 &&
              rows[0].status == KS_TRIAL_COMPLETE && rows[1].epochs == 2 &&
              !isnan(rows[1].objective),
          "its 2 complete trials (%d)", n);
    for (int i = 0; i < n; i++)
        ks_trial_info_free(&rows[i]);
    free(rows);
    CHECK(ks_db_study_set_context(db, st.id, "/somewhere", &search, &err) == KS_OK, "%s",
          fmt_err(&err));
    ks_study_info_free(&st);
    ks_db_close(db);
    db = NULL;
    CHECK(!exists(path_wal(path)), "closed: no WAL file left");
    REQUIRE(ks_db_open(path, 0, &db, &err) == KS_OK, "reopen: %s", fmt_err(&err));
    REQUIRE(ks_db_study_get(db, "v1", &st, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(st.dir && strcmp(st.dir, "/somewhere") == 0, "the folder kept: %s",
          st.dir ? st.dir : "-");
    CHECK(ks_db_search_get(db, st.id, &back, &found, &err) == KS_OK && found &&
              strcmp(back.method, "grid") == 0 && back.n_params == 1 &&
              strcmp(back.params[0].name, "units") == 0 &&
              back.params[0].kind == KS_SEARCH_INT && back.params[0].low == 2 &&
              back.params[0].high == 3,
          "the declared search kept: %s", fmt_err(&err));
    ks_search_info_free(&back);
    ks_study_info_free(&st);
    ks_db_close(db);
}

/* ks_db_trial_best: a trial's objective so far, from its epoch rows before an epoch. */
static void test_trial_best(void)
{
    char path[300];
    ks_db *db = NULL;
    ks_study_info st;
    ks_error err;
    int64_t id;
    int created, epoch = 0;
    double v = 0;
    /* val_acc by epoch: NaN (stored as NULL) never counts; 0.7 twice: the first wins */
    static const double acc[6] = {0.5, NAN, 0.7, 0.6, 0.7, 0.4};
    path_in(path, sizeof path, "best.db");
    REQUIRE(ks_db_open(path, 1, &db, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_study_open(db, "b", "x", "h", "val_acc", 1, &st, &created, &err) == KS_OK,
            "%s", fmt_err(&err));
    REQUIRE(ks_db_trial_add(db, st.id, 0, "{}", 1, 6, &id, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(ks_db_trial_best(db, id, "val_acc", 1, 6, &v, &epoch, &err) == KS_OK && isnan(v) &&
              epoch == -1,
          "no epochs: NaN at -1 (%g at %d)", v, epoch);
    for (int e = 0; e < 6; e++) {
        ks_logs logs;
        ks_epoch_record rec;
        memset(&logs, 0, sizeof logs);
        ks_logs_set(&logs, "loss", 1.0 / (e + 1));
        ks_logs_set(&logs, "val_acc", acc[e]);
        memset(&rec, 0, sizeof rec);
        rec.epoch = e;
        rec.logs = &logs;
        rec.objective = NAN;
        CHECK(ks_db_epoch_write(db, id, &rec, &err) == KS_OK, "%s", fmt_err(&err));
    }
    CHECK(ks_db_trial_best(db, id, "val_acc", 1, 6, &v, &epoch, &err) == KS_OK && v == 0.7 &&
              epoch == 2,
          "maximize: 0.7 at epoch 2 (%g at %d)", v, epoch);
    CHECK(ks_db_trial_best(db, id, "val_acc", 1, 2, &v, &epoch, &err) == KS_OK && v == 0.5 &&
              epoch == 0,
          "before epoch 2: 0.5 at epoch 0 (%g at %d)", v, epoch);
    CHECK(ks_db_trial_best(db, id, "val_acc", 0, 6, &v, &epoch, &err) == KS_OK && v == 0.4 &&
              epoch == 5,
          "minimize: 0.4 at epoch 5 (%g at %d)", v, epoch);
    CHECK(ks_db_trial_best(db, id, "loss", 0, 3, &v, &epoch, &err) == KS_OK &&
              v == 1.0 / 3 && epoch == 2,
          "another metric: loss 1/3 at epoch 2 (%g at %d)", v, epoch);
    CHECK(ks_db_trial_best(db, id, "nothing", 0, 6, &v, &epoch, &err) == KS_OK && isnan(v),
          "an absent metric: NaN");
    ks_study_info_free(&st);
    ks_db_close(db);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ks_test_db.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_create_reopen();
    test_studies();
    test_trials();
    test_epochs();
    test_atomicity();
    test_delete();
    test_concurrency();
    test_bad_files();
    test_damaged();
    test_extra_rows();
    test_trial_best();
    test_schema_v1();
    test_readonly();
    test_errors_name_numbers();
    remove_tmpdir();
    return check_done();
}
