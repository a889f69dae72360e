/*
 * test_report.c — the HTML report and what it reads: schema 2 (segments, the declared
 * search) and the migration of version-1 files, the report's numbers read back from
 * the page's embedded JSON and compared with study.db (objectives, parameters,
 * statuses, metric values, curves, errors, segments, ensembles), escaping (nothing in a
 * study can end the page's <script>), damaged and newer databases (one error, nothing
 * written), and reading while a writer holds the database.
 *
 *   test_report                          the tests
 *   test_report --make-study DIR N       a synthetic N-trial study in DIR/study.db,
 *                                        through the tracker's API (for e2e_report.sh)
 */
#include "../tracker/db_impl.h"
#include "../tracker/report_html_impl.h"
#include "../engine/ks_util.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

static const char *fmt_err(const ks_error *err)
{
    static char buf[1200];
    return ks_error_format(err, buf, sizeof buf);
}

static void path_in(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *c = NULL;
    int rc = sqlite3_open(path, &c);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c, sql, NULL, NULL, NULL);
    sqlite3_close(c);
    return rc;
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ================================================== a synthetic study */

typedef struct synth {
    int trials, workers;
    int failed_every;           /* every k-th trial fails (0: none) */
    int ensembles;
    const char *nasty;          /* an error text with markup, quotes and bad bytes */
} synth;

static const char *const activations[] = {"relu", "tanh", "selu"};

/* Trial t's parameters and its epochs (Hyperband-like budgets 1, 3, 9, 27). */
static void trial_plan(int t, ks_rng *r, double *lr, int *units, int *layers, int *act,
                       int *budget)
{
    /* the rung by the trial's number, spread over 0..99 (37 and 100 coprime): 5 in 100
       reach the full budget whatever the random streams give (at least 3 of the first
       60 complete, so that importance can be computed) */
    double u = (double)((t * 37) % 100) / 100.0;
    *lr = pow(10, -4 + 3 * ks_rng_uniform(r));
    *units = (int)floor(pow(2, 4 + 5 * ks_rng_uniform(r)));
    *layers = 1 + (int)ks_rng_index(r, 4);
    *act = (int)ks_rng_index(r, 3);
    *budget = u < 0.6 ? 1 : u < 0.85 ? 3 : u < 0.95 ? 9 : 27;
}

/* The final validation accuracy: mostly the learning rate, some layers and activation. */
static double quality(double lr, int layers, int act, ks_rng *r)
{
    double x = log10(lr) + 2.2;
    return 0.9 - 0.06 * x * x - 0.01 * abs(layers - 2) - 0.008 * act + ks_rng_normal(r, 0.004);
}

/* Trial t's epochs: the validation accuracy rising towards q, and the other logs. */
static ks_status add_epochs(ks_db *db, int64_t id, int t, int epochs, double q, double lr,
                            ks_rng *r, ks_error *err)
{
    ks_status s = KS_OK;
    for (int e = 0; s == KS_OK && e < epochs; e++) {
        ks_logs logs;
        ks_epoch_record rec;
        double acc = q * (1 - 0.3 * exp(-e / 2.0)) + ks_rng_normal(r, 0.003);
        ks_logs_clear(&logs);
        ks_logs_set(&logs, "loss", 1.5 - acc + ks_rng_normal(r, 0.01));
        ks_logs_set(&logs, "accuracy", acc + 0.02);
        ks_logs_set(&logs, "val_loss", 1.6 - acc);
        ks_logs_set(&logs, "val_accuracy", acc);
        ks_logs_set(&logs, "learning_rate", lr);
        memset(&rec, 0, sizeof rec);
        rec.epoch = e;
        rec.wall_time = 1.7e9 + t;
        rec.logs = &logs;
        rec.objective = acc;
        rec.improved = 1;   /* a later epoch's value replaces the best: fine for a test */
        s = ks_db_epoch_write(db, id, &rec, err);
    }
    return s;
}

/* Trial t: added, run (epochs, status, a segment), and put on the first free worker of a
   schedule (free_at: when each worker is free) by setting its times. */
static ks_status add_trial(ks_db *db, int64_t study, const synth *sy, int t, ks_rng *r,
                           double *free_at, ks_error *err)
{
    double lr, q, start;
    int units, layers, act, budget, w = 0;
    char json[200], sql[300];
    int64_t id;
    int fails = sy->failed_every > 0 && t % sy->failed_every == sy->failed_every - 1;
    const char *why = t == sy->failed_every - 1 && sy->nasty ? sy->nasty
                                                             : "NaN loss at epoch 2 (TerminateOnNaN)";
    ks_status s;
    trial_plan(t, r, &lr, &units, &layers, &act, &budget);
    q = quality(lr, layers, act, r);
    snprintf(json, sizeof json,
             "{\"learning_rate\":%.17g,\"units\":%d,\"layers\":%d,\"activation\":\"%s\"}", lr,
             units, layers, activations[act]);
    if ((s = ks_db_trial_add(db, study, t, json, (uint64_t)t, budget, &id, err)) != KS_OK ||
        (s = ks_db_trial_set_status(db, id, KS_TRIAL_RUNNING, NULL, err)) != KS_OK ||
        (s = add_epochs(db, id, t, fails ? budget / 2 : budget, q, lr, r, err)) != KS_OK ||
        (s = ks_db_trial_set_status(db, id,
                                    fails ? KS_TRIAL_FAILED
                                          : budget == 27 ? KS_TRIAL_COMPLETE : KS_TRIAL_PRUNED,
                                    fails ? why : NULL, err)) != KS_OK ||
        (s = ks_db_segment_add(db, id, 0, 1.0, 0, fails ? KS_TRIAL_FAILED : KS_TRIAL_COMPLETE,
                               err)) != KS_OK)
        return s;
    for (int k = 1; k < sy->workers; k++)
        if (free_at[k] < free_at[w])
            w = k;
    start = free_at[w];
    free_at[w] += 0.5 + 0.8 * budget;
    snprintf(sql, sizeof sql,
             "UPDATE segment SET worker = %d, started = %.3f, ended = %.3f WHERE"
             " trial_id = %lld; UPDATE trial SET started = %.3f, ended = %.3f WHERE id = %lld",
             w, 1.7e9 + start, 1.7e9 + free_at[w], (long long)id, 1.7e9 + start,
             1.7e9 + free_at[w], (long long)id);
    if (sqlite3_exec(db->conn, sql, NULL, NULL, NULL) != SQLITE_OK)
        return ks_error_set(err, KS_ERR_DB, "scheduling the synthetic trials");
    return KS_OK;
}

/* Two ensemble records: a usual one, and one with text that must not end the page. */
static ks_status add_ensembles(ks_db *db, int64_t study, int n, ks_error *err)
{
    static const char *const json[2] = {
        "{\"method\": \"greedy\", \"average\": \"arithmetic\", \"members\": [3, 1], "
        "\"weights\": [0.75, 0.25], \"validation\": {\"loss\": 0.31, \"accuracy\": 0.9}, "
        "\"test\": {\"loss\": 0.33, \"accuracy\": 0.89}}",
        "{\"method\": \"uniform\", \"members\": [3], \"weights\": [1], \"note\": "
        "\"</script><b>\", \"validation\": {}, \"test\": null}"};
    ks_status s = KS_OK;
    for (int k = 0; s == KS_OK && k < n && k < 2; k++)
        s = ks_db_ensemble_put(db, study, k == 0 ? "greedy" : "uniform", json[k], NULL, 0, err);
    return s;
}

/* Build the study through the tracker's API: search, trials, epochs, segments, statuses. */
static ks_status make_study(const char *path, const synth *sy, ks_error *err)
{
    ks_db *db = NULL;
    ks_study_info info;
    ks_rng *r = NULL;
    double *free_at = calloc((size_t)sy->workers, sizeof *free_at);
    char choices[] = "[\"relu\",\"tanh\",\"selu\"]";
    ks_search_param params[4] = {
        {"learning_rate", KS_SEARCH_FLOAT, 1e-4, 1e-1, 0, 1, NULL},
        {"units", KS_SEARCH_INT, 16, 512, 1, 1, NULL},
        {"layers", KS_SEARCH_INT, 1, 4, 1, 0, NULL},
        {"activation", KS_SEARCH_CHOICE, 0, 0, 0, 0, choices},
    };
    ks_search_info search = {"hyperband", 0, 0, 27, 0, 4, params};
    ks_status s;
    int created = 0;
    memset(&info, 0, sizeof info);
    search.planned_trials = sy->trials;
    search.workers = sy->workers;
    if (!free_at || ks_rng_new(7, 1, 1, &r) != KS_OK) {
        free(free_at);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    s = ks_db_open(path, KS_DB_CREATE, &db, err);
    if (s == KS_OK) {
        /* the generator's many small transactions, fast: small pages, no journal (its
           writes need not survive a crash), then WAL again as ksearch leaves its files */
        sqlite3_exec(db->conn, "PRAGMA journal_mode = DELETE; PRAGMA page_size = 4096; VACUUM;"
                               " PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
                               " PRAGMA locking_mode = EXCLUSIVE",
                     NULL, NULL, NULL);
        s = ks_db_study_open(db, "synthetic", "name: synthetic\nsearch: {}\n", "0",
                             "val_accuracy", 1, &info, &created, err);
    }
    if (s == KS_OK)
        s = ks_db_study_set_context(db, info.id, NULL, &search, err);
    for (int t = 0; s == KS_OK && t < sy->trials; t++)
        s = add_trial(db, info.id, sy, t, r, free_at, err);
    if (s == KS_OK)
        s = add_ensembles(db, info.id, sy->ensembles, err);
    ks_study_info_free(&info);
    if (db && sqlite3_exec(db->conn, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK &&
        s == KS_OK)
        s = ks_error_set(err, KS_ERR_DB, "the synthetic study's WAL mode");
    ks_db_close(db);
    ks_rng_free(r);
    free(free_at);
    return s;
}

/* =================================================== the page's data */

/* The page as text (malloc'd) from the database at path, or NULL. */
static char *report_text(const char *path, ks_status *s, ks_error *err)
{
    ks_db *db = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem;
    if ((*s = ks_db_open(path, KS_DB_READONLY, &db, err)) != KS_OK)
        return NULL;
    mem = open_memstream(&buf, &len);
    *s = ks_report_html_write(db, NULL, mem, err);
    fclose(mem);
    ks_db_close(db);
    if (*s != KS_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The embedded JSON of a page, parsed. */
static int page_data(const char *html, ks_value *out)
{
    const char *tag = "<script type=\"application/json\" id=\"ks-data\">";
    const char *a = strstr(html, tag), *b;
    if (!a)
        return 0;
    a += strlen(tag);
    if (!(b = strstr(a, "</script>")))
        return 0;
    return ks_value_from_json(a, (size_t)(b - a), "page", out, NULL) == KS_OK;
}

static const ks_value *at(const ks_value *v, const char *path)
{
    char key[64];
    while (v && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, path);
        v = ks_value_get(v, key);
        path += n + (path[n] == '.');
    }
    return v;
}

static double num(const ks_value *v)
{
    return v && v->kind == KS_VALUE_NUMBER ? v->number : NAN;
}

/* Equal doubles, NaN equal to NaN (a null in the page). */
static int same(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* Every number of the page against study.db, read through the tracker's own API. */
static void compare_with_db(const char *path, const ks_value *data)
{
    ks_db *db = NULL;
    ks_error err;
    ks_study_info st;
    ks_trial_info *trials = NULL;
    int n = 0, bad_params = 0, bad_metrics = 0, bad_curves = 0, checked = 0;
    const ks_value *num_col = at(data, "trials.number"), *status = at(data, "trials.status");
    const ks_value *obj = at(data, "trials.objective"), *pcols = at(data, "trials.params");
    const ks_value *curves = at(data, "trials.curve"), *names = at(data, "metrics.names");
    const ks_value *at_best = at(data, "metrics.at_best"), *params = at(data, "params");
    REQUIRE(ks_db_open(path, KS_DB_READONLY, &db, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_study_find(db, NULL, &st, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_trials(db, st.id, &trials, &n, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(num_col && status && obj && pcols && curves && names && at_best && params &&
                num_col->n == (size_t)n && status->n == (size_t)n && obj->n == (size_t)n,
            "the page's trial columns (%zu numbers for %d trials)", num_col ? num_col->n : 0, n);
    for (int i = 0; i < n; i++) {
        ks_value pv;
        const ks_trial_info *t = &trials[i];
        CHECK(num(&num_col->items[i]) == t->number, "trial %d's number", t->number);
        CHECK(strcmp(status->items[i].string, ks_trial_status_name(t->status)) == 0,
              "trial %d: status %s, study.db %s", t->number, status->items[i].string,
              ks_trial_status_name(t->status));
        CHECK(same(num(&obj->items[i]), t->objective), "trial %d: objective %.17g, study.db %.17g",
              t->number, num(&obj->items[i]), t->objective);
        /* parameters: the page's columns against the trial's JSON */
        REQUIRE(ks_value_from_json(t->params, strlen(t->params), "db", &pv, NULL) == KS_OK,
                "trial %d's params", t->number);
        for (size_t k = 0; k < params->n; k++) {
            const ks_value *name = ks_value_get(&params->items[k], "name");
            const ks_value *want = ks_value_get(&pv, name->string);
            const ks_value *got = &pcols->items[k].items[i];
            bad_params += want ? !ks_value_equal(want, got) : got->kind != KS_VALUE_NULL;
        }
        ks_value_free(&pv);
        /* every metric at the best epoch, and the objective metric's curve */
        for (size_t k = 0; k < names->n; k++) {
            ks_metric_point *pts = NULL;
            int np = 0;
            double want = NAN;
            REQUIRE(ks_db_metric_series(db, t->id, names->items[k].string, 0, &pts, &np, &err) ==
                        KS_OK,
                    "%s", fmt_err(&err));
            for (int q = 0; q < np; q++)
                if (t->best_epoch < 0 || pts[q].epoch == t->best_epoch)
                    want = pts[q].value;
            bad_metrics += !same(want, num(&at_best->items[k].items[i]));
            checked++;
            if (strcmp(names->items[k].string, st.metric) == 0) {
                const ks_value *c = &curves->items[i];
                bad_curves += c->n != (size_t)np;
                for (int q = 0; q < np && (size_t)pts[q].epoch < c->n; q++)
                    bad_curves += !same(pts[q].value, num(&c->items[pts[q].epoch]));
            }
            free(pts);
        }
    }
    CHECK(bad_params == 0, "%d parameter values differ from study.db", bad_params);
    CHECK(bad_metrics == 0 && checked > 0, "%d of %d metric values differ from study.db",
          bad_metrics, checked);
    CHECK(bad_curves == 0, "%d curve values differ from study.db", bad_curves);
    for (int i = 0; i < n; i++)
        ks_trial_info_free(&trials[i]);
    free(trials);
    ks_study_info_free(&st);
    ks_db_close(db);
}

static void test_numbers(void)
{
    char path[300];
    synth sy = {60, 3, 7, 2, "diverged: <script>alert(1)</script> \"q\" \\ \x01 \xff\xfe end"};
    ks_error err;
    ks_status s;
    ks_value data;
    char *html;
    path_in(path, sizeof path, "numbers.db");
    REQUIRE(make_study(path, &sy, &err) == KS_OK, "%s", fmt_err(&err));
    html = report_text(path, &s, &err);
    REQUIRE(html != NULL, "the report: %s", fmt_err(&err));
    REQUIRE(page_data(html, &data), "the page's data is not JSON");
    compare_with_db(path, &data);
    /* the error with markup, quotes and bytes that are not UTF-8 comes back as text */
    {
        const ks_value *e = at(&data, "trials.error.6");
        CHECK(e && e->kind == KS_VALUE_STRING &&
                  strcmp(e->string, "diverged: <script>alert(1)</script> \"q\" \\ \x01 "
                                    "\xef\xbf\xbd\xef\xbf\xbd end") == 0,
              "trial 6's error read back as \"%s\"", e && e->string ? e->string : "(none)");
        e = at(&data, "trials.error.13");
        CHECK(e && e->kind == KS_VALUE_STRING && strstr(e->string, "TerminateOnNaN"),
              "trial 13's error");
    }
    /* the declared space, segments and ensembles */
    {
        const ks_value *p = at(&data, "params"), *g = at(&data, "segments.worker");
        const ks_value *ens = at(&data, "ensembles");
        CHECK(p && p->n == 4 && strcmp(at(&p->items[0], "kind")->string, "float") == 0 &&
                  at(&p->items[0], "log")->boolean && at(&p->items[3], "choices")->n == 3,
              "the declared parameters");
        CHECK(g && g->n == 60 && at(&data, "segments.recorded")->boolean, "60 recorded segments");
        CHECK(ens && ens->n == 2 && num(at(&ens->items[0], "record.weights")->items) == 0.75 &&
                  strcmp(at(&ens->items[1], "record.note")->string, "</script><b>") == 0,
              "the ensembles' records");
        CHECK(strcmp(at(&data, "study.method")->string, "hyperband") == 0 &&
                  num(at(&data, "study.planned_trials")) == 60,
              "the study's method and budget");
        CHECK(at(&data, "importance.share") && at(&data, "importance.contour.z") &&
                  num(at(&data, "importance.trials")) >= 2,
              "importance, marginals and the contour");
    }
    /* nothing in the data ends its <script>; nothing is loaded from anywhere */
    {
        int scripts = 0;
        for (const char *q = html; (q = strstr(q, "</script>")); q++)
            scripts++;
        CHECK(scripts == 2, "%d </script> tags (the data's and the script's: 2)", scripts);
        CHECK(!strstr(html, " src=") && !strstr(html, "href=\"http") && !strstr(html, "url("),
              "the page refers to something outside itself");
        CHECK(strstr(html, "default-src 'none'"), "the page forbids every request");
    }
    ks_value_free(&data);
    free(html);
}

/* ===================================================== schema, files */

static void test_schema_and_migration(void)
{
    char path[300], out[300];
    ks_db *db = NULL;
    ks_error err;
    synth sy = {12, 2, 0, 0, NULL};
    ks_segment *g = NULL;
    ks_search_info si;
    int n = -1, found = -1;
    char *html;
    ks_status s;
    ks_value data;
    path_in(path, sizeof path, "v1.db");
    path_in(out, sizeof out, "v1.html");
    REQUIRE(make_study(path, &sy, &err) == KS_OK, "%s", fmt_err(&err));
    /* a version-1 file: what this ksearch made, without what versions 2 and 3 added */
    REQUIRE(raw_exec(path, "DROP TABLE growth;"
                           " DROP TABLE segment; DROP TABLE search; DROP TABLE param;"
                           " ALTER TABLE study DROP COLUMN dir;"
                           " UPDATE meta SET value = '1' WHERE key = 'schema_version'") ==
                SQLITE_OK,
            "making a version-1 file");
    REQUIRE(ks_db_open(path, KS_DB_READONLY, &db, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(ks_db_schema_version(db) == 1, "read as version %d", ks_db_schema_version(db));
    CHECK(ks_db_segments(db, 1, &g, &n, &err) == KS_OK && n == 0 && !g, "no segments");
    CHECK(ks_db_search_get(db, 1, &si, &found, &err) == KS_OK && !found, "no search");
    ks_db_close(db);
    /* its report: the timeline reconstructed, the space inferred */
    html = report_text(path, &s, &err);
    REQUIRE(html != NULL && page_data(html, &data), "report of a version-1 file: %s", fmt_err(&err));
    CHECK(!at(&data, "segments.recorded")->boolean && at(&data, "segments.trial")->n == 12,
          "a reconstructed timeline of 12 trials");
    CHECK(at(&data, "params")->n == 4 && !at(&at(&data, "params")->items[0], "declared")->boolean,
          "4 parameters inferred from the trials");
    compare_with_db(path, &data);
    ks_value_free(&data);
    free(html);
    /* reading never upgraded it; opening it to write does, keeping everything */
    REQUIRE(ks_db_open(path, 0, &db, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(ks_db_schema_version(db) == KS_DB_SCHEMA_VERSION, "upgraded to %d",
          ks_db_schema_version(db));
    CHECK(ks_db_segments(db, 1, &g, &n, &err) == KS_OK && n == 0, "segments readable");
    {
        ks_trial_info *t = NULL;
        int nt = 0;
        CHECK(ks_db_trials(db, 1, &t, &nt, &err) == KS_OK && nt == 12, "the trials kept");
        CHECK(ks_db_segment_add(db, t[2].id, 1, 2.5, 1, KS_TRIAL_PRUNED, &err) == KS_OK,
              "a segment into the upgraded file: %s", fmt_err(&err));
        for (int i = 0; i < nt; i++)
            ks_trial_info_free(&t[i]);
        free(t);
    }
    CHECK(ks_db_segments(db, 1, &g, &n, &err) == KS_OK && n == 1 && g[0].trial_number == 2 &&
              g[0].worker == 1 && g[0].first_epoch == 1 && g[0].status == KS_TRIAL_PRUNED &&
              fabs(g[0].ended - g[0].started - 2.5) < 1e-6 && g[0].epochs >= 1,
          "the segment read back");
    free(g);
    ks_db_close(db);
}

static void test_search_roundtrip(void)
{
    char path[300];
    ks_db *db = NULL;
    ks_error err;
    ks_study_info st;
    int created = 0, found = 0;
    char choices[] = "[\"a\",2,true]";
    ks_search_param p[2] = {{"opt", KS_SEARCH_CHOICE, 0, 0, 0, 0, choices},
                            {"lr", KS_SEARCH_FLOAT, 1e-5, 0.5, 0, 1, NULL}};
    ks_search_info in = {"bayesian", 40, 40, 12, 3, 2, p}, outv;
    path_in(path, sizeof path, "search.db");
    REQUIRE(ks_db_open(path, KS_DB_CREATE, &db, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_study_open(db, "s", "x: 1", "h", "val_loss", 0, &st, &created, &err) == KS_OK,
            "%s", fmt_err(&err));
    REQUIRE(ks_db_study_set_context(db, st.id, "/the/folder", &in, &err) == KS_OK, "%s",
            fmt_err(&err));
    REQUIRE(ks_db_search_get(db, st.id, &outv, &found, &err) == KS_OK && found, "%s",
            fmt_err(&err));
    CHECK(strcmp(outv.method, "bayesian") == 0 && outv.max_trials == 40 &&
              outv.planned_trials == 40 && outv.max_epochs == 12 && outv.workers == 3 &&
              outv.n_params == 2,
          "the search read back");
    CHECK(outv.n_params == 2 && strcmp(outv.params[0].name, "opt") == 0 &&
              outv.params[0].kind == KS_SEARCH_CHOICE &&
              strcmp(outv.params[0].choices, choices) == 0 && outv.params[1].log &&
              outv.params[1].low == 1e-5 && outv.params[1].high == 0.5 && !outv.params[1].choices,
          "the parameters read back");
    ks_search_info_free(&outv);
    /* a resumed study stores it again: replaced, never doubled */
    in.n_params = 1;
    in.params = &p[1];
    in.workers = 8;
    REQUIRE(ks_db_study_set_context(db, st.id, NULL, &in, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_search_get(db, st.id, &outv, &found, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(outv.n_params == 1 && outv.workers == 8 && strcmp(outv.params[0].name, "lr") == 0,
          "replaced: %d parameters, %d workers", outv.n_params, outv.workers);
    ks_search_info_free(&outv);
    /* the folder alone: the search stays; NULL leaves the folder as it was */
    REQUIRE(ks_db_study_set_context(db, st.id, NULL, NULL, &err) == KS_OK, "%s", fmt_err(&err));
    {
        ks_study_info again;
        CHECK(ks_db_study_get(db, "s", &again, &err) == KS_OK && again.dir &&
                  strcmp(again.dir, "/the/folder") == 0,
              "the folder kept: %s", again.dir ? again.dir : "(none)");
        ks_study_info_free(&again);
    }
    CHECK(ks_db_search_get(db, st.id, &outv, &found, &err) == KS_OK && found &&
              outv.n_params == 1,
          "the search kept");
    ks_search_info_free(&outv);
    CHECK(ks_db_study_set_context(db, st.id + 99, NULL, &in, &err) == KS_ERR_CONFIG,
          "an unknown study");
    CHECK(ks_db_segment_add(db, 12345, 0, 1, 0, KS_TRIAL_COMPLETE, &err) == KS_ERR_CONFIG,
          "a segment of an unknown trial");
    /* deleting the study takes its search along */
    REQUIRE(ks_db_study_delete(db, st.id, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(ks_db_search_get(db, st.id, &outv, &found, &err) == KS_OK && !found,
          "the search went with its study");
    ks_study_info_free(&st);
    ks_db_close(db);
}

/* A damaged database, one of a newer schema, not one at all, none: one error, no file. */
static void test_bad_files(void)
{
    char good[300], path[300], out[300], cmd[2000];
    synth sy = {8, 2, 0, 0, NULL};
    ks_error err;
    ks_status s;
    struct {
        const char *name, *how;
        ks_status want;
    } cases[] = {
        {"newer.db", "UPDATE meta SET value = '99' WHERE key = 'schema_version'", KS_ERR_CONFIG},
        {"other.db", "DROP TABLE meta", KS_ERR_CORRUPT},
        {"damaged.db", NULL, KS_ERR_CORRUPT},
        {"text.db", NULL, KS_ERR_CORRUPT},
        {"missing.db", NULL, KS_ERR_IO},
    };
    path_in(good, sizeof good, "good.db");
    REQUIRE(make_study(good, &sy, &err) == KS_OK, "%s", fmt_err(&err));
    path_in(out, sizeof out, "bad.html");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        path_in(path, sizeof path, cases[k].name);
        if (strcmp(cases[k].name, "missing.db") != 0) {
            snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, path);
            REQUIRE(system(cmd) == 0, "copying");
        }
        if (cases[k].how)
            REQUIRE(raw_exec(path, cases[k].how) == SQLITE_OK, "%s", cases[k].how);
        if (strcmp(cases[k].name, "damaged.db") == 0) {
            /* the trial table's page header and cell pointers overwritten */
            snprintf(cmd, sizeof cmd,
                     "dd if=/dev/zero of='%s' bs=1 seek=$(($(sqlite3 '%s' 'PRAGMA page_size') * "
                     "($(sqlite3 '%s' \"SELECT rootpage FROM sqlite_master WHERE name = "
                     "'trial'\") - 1))) count=64 conv=notrunc 2>/dev/null",
                     path, good, good);
            REQUIRE(system(cmd) == 0, "damaging");
        }
        if (strcmp(cases[k].name, "text.db") == 0) {
            FILE *f = fopen(path, "w");
            fputs("this is not a database\n", f);
            fclose(f);
        }
        unlink(out);
        ks_error_clear(&err);
        s = ks_report_html_file(path, NULL, out, &err);
        CHECK(s == cases[k].want, "%s: status %s, expected %s (%s)", cases[k].name,
              ks_status_str(s), ks_status_str(cases[k].want), fmt_err(&err));
        CHECK(!exists(out), "%s: a report was written", cases[k].name);
        CHECK(err.msg[0] && !strchr(err.msg, '\n'), "%s: one line: %s", cases[k].name,
              fmt_err(&err));
    }
    /* the good file still makes one */
    s = ks_report_html_file(good, NULL, out, &err);
    CHECK(s == KS_OK && exists(out), "the good copy: %s", fmt_err(&err));
}

/* A reader is never blocked by a writer (WAL): the report of a study in the middle of a
   write transaction, and the writer commits while the reader is open. */
static void test_read_while_writing(void)
{
    char path[300], out[300];
    synth sy = {10, 2, 0, 0, NULL};
    ks_error err;
    ks_db *writer = NULL, *reader = NULL;
    path_in(path, sizeof path, "busy.db");
    path_in(out, sizeof out, "busy.html");
    REQUIRE(make_study(path, &sy, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(ks_db_open(path, 0, &writer, &err) == KS_OK, "%s", fmt_err(&err));
    REQUIRE(sqlite3_exec(writer->conn, "BEGIN IMMEDIATE; UPDATE trial SET budget = budget",
                         NULL, NULL, NULL) == SQLITE_OK,
            "the writer's transaction");
    {
        double t0 = ks_now();
        ks_status s = ks_report_html_file(path, NULL, out, &err);
        CHECK(s == KS_OK && exists(out), "a report while the writer holds its lock: %s",
              fmt_err(&err));
        CHECK(ks_now() - t0 < 5, "the report waited %.1f s for the writer", ks_now() - t0);
    }
    REQUIRE(ks_db_open(path, KS_DB_READONLY, &reader, &err) == KS_OK, "%s", fmt_err(&err));
    CHECK(sqlite3_exec(writer->conn, "COMMIT", NULL, NULL, NULL) == SQLITE_OK,
          "the writer commits while a reader is open");
    CHECK(sqlite3_exec(reader->conn, "CREATE TABLE x (y)", NULL, NULL, NULL) != SQLITE_OK,
          "a reader cannot write");
    ks_db_close(reader);
    ks_db_close(writer);
}

/* ======================================================== JSON pieces */

static int written(void (*fn)(FILE *, const void *), const void *arg, const char *want)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int ok;
    fn(f, arg);
    fclose(f);
    ok = strcmp(buf, want) == 0;
    if (!ok)
        fprintf(stderr, "wrote %s, expected %s\n", buf, want);
    free(buf);
    return ok;
}

static void number_to(FILE *f, const void *x)
{
    rh_json_number(f, *(const double *)x);
}

static void string_to(FILE *f, const void *s)
{
    rh_json_string(f, s);
}

static void test_json(void)
{
    const double round[] = {0.1, 1.0 / 3, 0.8718000054359436, 1e-300, 5e-324, -2.5e-7,
                            1.7976931348623157e308, 123456789012345678.0, 0.0030000000000000001};
    for (size_t k = 0; k < sizeof round / sizeof round[0]; k++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        rh_json_number(f, round[k]);
        fclose(f);
        CHECK(strtod(buf, NULL) == round[k] && len <= 24, "%.17g written as %s", round[k], buf);
        free(buf);
    }
    {
        double a = 0.001, b = 42, c = NAN, d = INFINITY;
        CHECK(written(number_to, &a, "0.001") && written(number_to, &b, "42") &&
                  written(number_to, &c, "null") && written(number_to, &d, "null"),
              "short numbers, and null for what JSON cannot hold");
    }
    CHECK(written(string_to, "a</script>&\"\\\n", "\"a\\u003c/script\\u003e\\u0026\\\"\\\\\\u000a\""),
          "markup and quotes escaped");
    CHECK(written(string_to, "x\xe2\x80\xa8y \xc3\xa9 \xff \xed\xa0\x80 \xc0\xaf",
                  "\"x\\u2028y \xc3\xa9 \\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\""),
          "U+2028 escaped, UTF-8 kept, what is not UTF-8 replaced");
}

/* ==================================================================== main */

int main(int argc, char **argv)
{
    ks_error err;
    if (argc == 4 && strcmp(argv[1], "--make-study") == 0) {
        char path[1100];
        synth sy = {atoi(argv[3]), 8, 50, 2, "diverged: <b>NaN</b>"};
        double t0 = ks_now();
        snprintf(path, sizeof path, "%s/study.db", argv[2]);
        if (sy.trials < 1 || make_study(path, &sy, &err) != KS_OK) {
            fprintf(stderr, "test_report: %s\n", fmt_err(&err));
            return 1;
        }
        printf("made a %d-trial study in %s in %.1f s\n", sy.trials, path, ks_now() - t0);
        return 0;
    }
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ks_test_report.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_json();
    test_search_roundtrip();
    test_schema_and_migration();
    test_numbers();
    test_bad_files();
    test_read_while_writing();
    {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return check_done();
}
