/*
 * test_retention.c — checkpoint retention (search.checkpoints.retain): the verdict per
 * policy and trial, on a scripted Hyperband history (which configurations a closed rung
 * settles, and when); Hyperband's settled trials never continued afterwards, in
 * simulated studies of 1 to 3 workers; the policy read from a study file (an unknown
 * name is an error at its place, with "did you mean"); and study.db giving back the
 * pages of dropped checkpoints (a new file incrementally, an older one by VACUUM).
 */
#include "../search/search_impl.h"
#include "check.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

/* Where the study files' data/f200.csv is (tests/, or KS_TEST_DATA). */
static const char *data_dir(void)
{
    return getenv("KS_TEST_DATA") ? getenv("KS_TEST_DATA") : "tests";
}

/* A study of R = 9, η = 3 (brackets of 9, 5 and 3 configurations) under policy. */
static ks_study *hb_study(const char *method, const char *retain, ks_error *err)
{
    char text[2048];
    ks_study *st = NULL;
    snprintf(text, sizeof text,
             "name: ret\n"
             "seed: 3\n"
             "data:\n"
             "  train: {csv: data/f200.csv, target: y}\n"
             "model:\n"
             "  - Dense: {units: $units, input_shape: [10]}\n"
             "  - Dense: {units: 1}\n"
             "compile: {optimizer: Adam, loss: mse}\n"
             "fit: {epochs: 9}\n"
             "search:\n"
             "  method: %s\n"
             "%s"
             "  checkpoints: {retain: %s}\n"
             "  parameters:\n"
             "    units: {int: [2, 8]}\n",
             method,
             strcmp(method, "hyperband") == 0 ? "  max_epochs: 9\n  factor: 3\n"
                                              : "  max_trials: 4\n",
             retain);
    if (ks_study_load_text(text, "ret.yaml", data_dir(), &st, err) != KS_OK)
        return NULL;
    return st;
}

/* ------------------------------------------------------------ the verdicts */

static ks_trial_view view(ks_trial_status status, int budget)
{
    ks_trial_view v;
    memset(&v, 0, sizeof v);
    v.status = status;
    v.budget = budget;
    v.objective = NAN;
    return v;
}

/* One trial under every policy: the verdicts of all, useful, complete. */
static void expect(const char *what, ks_trial_view v, int full, int settled,
                   ks_retain_verdict all, ks_retain_verdict useful, ks_retain_verdict complete)
{
    ks_retain_verdict got[3];
    for (int p = 0; p < 3; p++)
        got[p] = ks_retain_decide((ks_retain)p, &v, full, settled);
    CHECK(got[0] == all && got[1] == useful && got[2] == complete,
          "%s: all %d useful %d complete %d, want %d %d %d", what, got[0], got[1], got[2], all,
          useful, complete);
}

static void test_decide(void)
{
    const ks_retain_verdict W = KS_RETAIN_WAIT, K = KS_RETAIN_KEEP, D = KS_RETAIN_DROP;
    /* methods that run each trial once (full 0) */
    expect("complete", view(KS_TRIAL_COMPLETE, 9), 0, 0, K, K, K);
    expect("pruned by a pruner", view(KS_TRIAL_PRUNED, 9), 0, 0, K, K, D);
    expect("failed", view(KS_TRIAL_FAILED, 9), 0, 0, K, K, D);
    expect("interrupted", view(KS_TRIAL_INTERRUPTED, 9), 0, 0, W, W, W);
    expect("running", view(KS_TRIAL_RUNNING, 9), 0, 0, W, W, W);
    expect("queued", view(KS_TRIAL_QUEUED, 9), 0, 0, W, W, W);
    /* promoting methods (full 9) */
    expect("rung 1, still promotable", view(KS_TRIAL_COMPLETE, 1), 9, 0, W, W, W);
    expect("rung 1, settled", view(KS_TRIAL_COMPLETE, 1), 9, 1, K, D, D);
    expect("rung 3, settled", view(KS_TRIAL_COMPLETE, 3), 9, 1, K, D, D);
    expect("pruned at the end", view(KS_TRIAL_PRUNED, 3), 9, 0, K, D, D);
    expect("at the full budget", view(KS_TRIAL_COMPLETE, 9), 9, 0, K, K, K);
    expect("failed at a rung", view(KS_TRIAL_FAILED, 1), 9, 0, K, K, D);
    expect("failed at the top", view(KS_TRIAL_FAILED, 9), 9, 0, K, K, D);
    expect("interrupted at a rung", view(KS_TRIAL_INTERRUPTED, 3), 9, 1, W, W, W);
    CHECK(strcmp(ks_retain_names[KS_RETAIN_ALL], "all") == 0 &&
              strcmp(ks_retain_names[KS_RETAIN_USEFUL], "useful") == 0 &&
              strcmp(ks_retain_names[KS_RETAIN_COMPLETE], "complete") == 0 &&
              !ks_retain_names[KS_RETAIN_COUNT] &&
              strcmp(ks_retain_names[0 + 1], KS_RETAIN_DEFAULT) == 0,
          "names");
}

/* ------------------------------------------------ a scripted Hyperband history */

#define N_TR 17

typedef struct script {
    ks_history h;
    ks_trial_view v[N_TR];
    double curve[N_TR][9];
} script;

static void script_init(script *s)
{
    memset(s, 0, sizeof *s);
    s->h.maximize = 1;
    s->h.max_epochs = 9;
    s->h.seed = 3;
    s->h.trials = s->v;
}

/* Trial t (the next number, or an existing one) done to budget with values that rank
   trial numbers as given by quality (higher is better). */
static void run(script *s, int t, int budget, double quality, ks_trial_status status)
{
    ks_trial_view *v = &s->v[t];
    if (t == s->h.n)
        s->h.n++;
    v->number = t;
    v->curve = s->curve[t];
    for (int e = v->epochs; e < budget; e++)
        s->curve[t][e] = quality + 0.001 * e;
    v->epochs = budget;
    v->budget = budget;
    v->status = status;
    v->objective = s->curve[t][budget - 1];
}

/* The verdicts of the history under the study's policy, as a string of W, K, D. */
static void verdicts(const ks_study *st, const script *s, char *out)
{
    ks_retain_verdict v[N_TR];
    ks_error err;
    int i;
    if (ks_retain_plan(st, &s->h, 9, v, &err) != KS_OK) {
        snprintf(out, 64, "error: %.50s", err.msg);
        return;
    }
    for (i = 0; i < s->h.n; i++)
        out[i] = v[i] == KS_RETAIN_WAIT ? 'W' : v[i] == KS_RETAIN_KEEP ? 'K' : 'D';
    out[i] = '\0';
}

/* What the method asks next: "new", "wait", "done" or "promote T to B". */
static void next(const ks_study *st, const script *s, char *out, size_t size)
{
    ks_suggestion sg;
    double pt[KS_MAX_SEARCH_PARAMS];
    ks_error err;
    ks_suggest_result r;
    memset(&sg, 0, sizeof sg);
    sg.point = pt;
    r = st->method->suggest(st->method_args, &s->h, &sg, &err);
    if (r == KS_SUGGEST_OK && sg.continue_trial >= 0)
        snprintf(out, size, "promote %d to %d", sg.continue_trial, sg.budget);
    else
        snprintf(out, size, "%s", r == KS_SUGGEST_OK ? "new" : r == KS_SUGGEST_WAIT ? "wait"
                                                      : r == KS_SUGGEST_DONE ? "done"
                                                                             : "error");
}

/*
 * Bracket s=2 (trials 0–8 at 1 epoch, 3 of them to 3, 1 to 9) as one worker runs it in
 * the asynchronous order, with trial 4 interrupted for a while; the verdicts under each
 * policy as the rungs close.  Quality ranks 8 > 7 > … > 0; trial 2 fails.
 */
static void test_scripted(void)
{
    static const char *policies[3] = {"all", "useful", "complete"};
    ks_study *st[3];
    ks_error err;
    script s;
    char got[64], ask[64];
    for (int p = 0; p < 3; p++) {
        st[p] = hb_study("hyperband", policies[p], &err);
        CHECK(st[p] != NULL, "%s: %s", policies[p], err.msg);
        if (!st[p]) {
            while (p-- > 0)
                ks_study_free(st[p]);
            return;
        }
        CHECK(st[p]->retain == (ks_retain)p, "%s read as %d", policies[p], st[p]->retain);
    }
    script_init(&s);
    s.h.space = &st[1]->space;
    for (int t = 0; t < 6; t++)
        run(&s, t, 1, t == 2 ? NAN : 0.1 * t, t == 2 ? KS_TRIAL_FAILED : KS_TRIAL_COMPLETE);
    s.v[4].status = KS_TRIAL_INTERRUPTED;
    /* 6 of 9 started: rung 0 is open, nobody settles; the failed trial is final */
    verdicts(st[1], &s, got);
    CHECK(strcmp(got, "WWKWWW") == 0, "useful, 6 of 9 started: %s", got);
    verdicts(st[2], &s, got);
    CHECK(strcmp(got, "WWDWWW") == 0, "complete, 6 of 9 started: %s", got);
    for (int t = 6; t < 9; t++)
        run(&s, t, 1, 0.1 * t, KS_TRIAL_COMPLETE);
    /* all 9 started, trial 4 interrupted (pending): still open */
    verdicts(st[1], &s, got);
    CHECK(strcmp(got, "WWKWWWWWW") == 0, "useful, trial 4 pending: %s", got);
    /* (ASHA promotes meanwhile: floor(8/3) = 2 of the 8 done: 8 and 7) */
    next(st[1], &s, ask, sizeof ask);
    CHECK(strcmp(ask, "promote 8 to 3") == 0, "asks %s", ask);
    s.v[4].status = KS_TRIAL_COMPLETE;
    /* rung 0 closed: top 3 of 9 are 8, 7, 6; the other six never move */
    verdicts(st[0], &s, got);
    CHECK(strcmp(got, "KKKKKKWWW") == 0, "all, rung 0 closed: %s", got);
    verdicts(st[1], &s, got);
    CHECK(strcmp(got, "DDKDDDWWW") == 0, "useful, rung 0 closed: %s", got);
    verdicts(st[2], &s, got);
    CHECK(strcmp(got, "DDDDDDWWW") == 0, "complete, rung 0 closed: %s", got);
    /* 8 and 7 promoted and done at 3; 6 still to be promoted: it waits, and so do they
       (rung 1 of 3 trials is not closed while 6 may still come) */
    run(&s, 8, 3, 0.8, KS_TRIAL_COMPLETE);
    run(&s, 7, 3, 0.7, KS_TRIAL_COMPLETE);
    verdicts(st[1], &s, got);
    CHECK(strcmp(got, "DDKDDDWWW") == 0, "useful, rung 1 open: %s", got);
    next(st[1], &s, ask, sizeof ask);
    CHECK(strcmp(ask, "promote 6 to 3") == 0, "asks %s", ask);
    run(&s, 6, 3, 0.6, KS_TRIAL_COMPLETE);
    /* rung 1 closed (3 trials, top 1: trial 8): 7 and 6 settle */
    verdicts(st[1], &s, got);
    CHECK(strcmp(got, "DDKDDDDDW") == 0, "useful, rung 1 closed: %s", got);
    next(st[1], &s, ask, sizeof ask);
    CHECK(strcmp(ask, "promote 8 to 9") == 0, "asks %s", ask);
    s.v[8].status = KS_TRIAL_RUNNING;
    s.v[8].budget = 9;
    verdicts(st[1], &s, got);
    CHECK(strcmp(got, "DDKDDDDDW") == 0, "useful, trial 8 at the top rung: %s", got);
    run(&s, 8, 9, 0.8, KS_TRIAL_COMPLETE);
    for (int p = 0; p < 3; p++) {
        static const char *want[3] = {"KKKKKKKKK", "DDKDDDDDK", "DDDDDDDDK"};
        verdicts(st[p], &s, got);
        CHECK(strcmp(got, want[p]) == 0, "%s, bracket done: %s, want %s", policies[p], got,
              want[p]);
    }
    /* the next bracket (s=1: 5 configurations at 3 epochs): its first trial waits */
    run(&s, 9, 3, 0.5, KS_TRIAL_COMPLETE);
    verdicts(st[1], &s, got);
    CHECK(strcmp(got, "DDKDDDDDKW") == 0, "useful, next bracket: %s", got);
    /* at the study's end the controller marks the rungs' trials pruned: the same */
    s.v[9].status = KS_TRIAL_PRUNED;
    verdicts(st[1], &s, got);
    CHECK(strcmp(got, "DDKDDDDDKD") == 0, "useful, pruned at the end: %s", got);
    for (int p = 0; p < 3; p++)
        ks_study_free(st[p]);
}

/* --------------------------------------------- simulated studies: settled is final */

#define SIM_MAX 200

/*
 * A study of workers workers (synchronous or not, some trials failing) run to its end
 * through the method's ops: after every event, the settled trials; a settled trial is
 * never continued later, and at the end every trial complete below R is settled.
 */
static void simulate(const char *method, int workers, int sync, int max_trials, uint64_t seed)
{
    char text[2048];
    ks_study *st = NULL;
    ks_error err;
    ks_trial_view v[SIM_MAX];
    double curve[SIM_MAX][27], points[SIM_MAX][KS_MAX_SEARCH_PARAMS], speed[SIM_MAX], finish[4];
    unsigned char settled[SIM_MAX], ever[SIM_MAX];
    int run_of[4], done = 0, steps = 0, n_settled_seen = 0;
    ks_history h;
    char trials_line[64] = "";
    if (max_trials > 0)
        snprintf(trials_line, sizeof trials_line, "  max_trials: %d\n", max_trials);
    snprintf(text, sizeof text,
             "name: sim\nseed: %llu\ndata:\n  train: {csv: data/f200.csv, target: y}\n"
             "model:\n  - Dense: {units: $units, input_shape: [10]}\n  - Dense: {units: 1}\n"
             "compile: {optimizer: Adam, loss: mse}\nfit: {epochs: 27}\n"
             "search:\n  method: %s\n  max_epochs: 27\n  factor: 3\n  synchronous: %s\n"
             "%s  parameters:\n    units: {int: [2, 64]}\n",
             (unsigned long long)seed, method, sync ? "true" : "false", trials_line);
    if (ks_study_load_text(text, "sim.yaml", data_dir(), &st, &err) != KS_OK) {
        CHECK(0, "%s", err.msg);
        return;
    }
    memset(&h, 0, sizeof h);
    memset(ever, 0, sizeof ever);
    h.space = &st->space;
    h.maximize = 1;
    h.max_trials = max_trials;
    h.max_epochs = 27;
    h.seed = seed;
    h.trials = v;
    for (int w = 0; w < workers; w++)
        run_of[w] = -1;
    double now = 0;
    while (!done && steps++ < 100000) {
        int busy = 0, w_next = -1;
        for (int w = 0; w < workers && !done; w++) {
            ks_suggestion sg;
            double pt[KS_MAX_SEARCH_PARAMS];
            ks_suggest_result r;
            if (run_of[w] >= 0)
                continue;
            memset(&sg, 0, sizeof sg);
            sg.point = pt;
            r = st->method->suggest(st->method_args, &h, &sg, &err);
            if (r == KS_SUGGEST_DONE)
                done = 1;
            if (r != KS_SUGGEST_OK)
                continue;
            if (sg.continue_trial >= 0) {
                int t = sg.continue_trial;
                CHECK(!ever[t], "%s, %d workers%s: trial %d continued to %d after it was "
                      "settled", method, workers, sync ? ", sync" : "", t, sg.budget);
                v[t].budget = sg.budget;
                v[t].status = KS_TRIAL_RUNNING;
                run_of[w] = t;
            } else {
                int t = h.n;
                if (t >= SIM_MAX) {
                    done = 1;
                    break;
                }
                memset(&v[t], 0, sizeof v[t]);
                v[t].number = t;
                memcpy(points[t], pt, sizeof points[t]);
                v[t].point = points[t];
                v[t].curve = curve[t];
                v[t].budget = sg.budget;
                v[t].status = KS_TRIAL_RUNNING;
                v[t].objective = NAN;
                speed[t] = 0.5 + (double)(ks_hash64(seed, (uint64_t)t) % 100) / 50.0;
                h.n++;
                run_of[w] = t;
            }
            finish[w] = now + speed[run_of[w]] * (v[run_of[w]].budget - v[run_of[w]].epochs);
        }
        for (int w = 0; w < workers; w++)
            if (run_of[w] >= 0) {
                busy++;
                if (w_next < 0 || finish[w] < finish[w_next])
                    w_next = w;
            }
        if (!busy)
            break;
        {   /* the first job to end reports its epochs (some trials fail) */
            int t = run_of[w_next];
            double q = (double)(ks_hash64(seed + 1, (uint64_t)t) % 1000) / 1000.0;
            now = finish[w_next];
            for (int e = v[t].epochs; e < v[t].budget; e++)
                curve[t][e] = q * (1.0 - exp(-(e + 1) / 4.0));
            v[t].epochs = v[t].budget;
            v[t].objective = curve[t][v[t].epochs - 1];
            v[t].status = ks_hash64(seed + 2, (uint64_t)t) % 13 == 0 ? KS_TRIAL_FAILED
                                                                      : KS_TRIAL_COMPLETE;
            run_of[w_next] = -1;
        }
        if (st->method->settled(st->method_args, &h, settled, &err) != KS_OK) {
            CHECK(0, "settled: %s", err.msg);
            break;
        }
        for (int t = 0; t < h.n; t++) {
            if (settled[t] && !ever[t]) {
                CHECK(v[t].status != KS_TRIAL_RUNNING && v[t].budget < 27,
                      "trial %d settled while %s at budget %d", t,
                      ks_trial_status_name(v[t].status), v[t].budget);
                n_settled_seen++;
            }
            CHECK(!ever[t] || settled[t], "trial %d was settled and is no more", t);
            ever[t] |= settled[t];
        }
    }
    CHECK(done, "%s, %d workers: the study ran to its end (%d trials)", method, workers, h.n);
    {
        int open = 0;
        for (int t = 0; t < h.n; t++)
            open += v[t].status == KS_TRIAL_COMPLETE && v[t].budget < 27 && !ever[t];
        CHECK(open == 0 && n_settled_seen > 0,
              "%s, %d workers%s: at the end %d trials below R are not settled (%d settled)",
              method, workers, sync ? ", sync" : "", open, n_settled_seen);
    }
    ks_study_free(st);
}

static void test_simulated(void)
{
    simulate("hyperband", 1, 0, 0, 11);
    simulate("hyperband", 3, 0, 0, 12);
    simulate("hyperband", 2, 1, 0, 13);
    simulate("hyperband", 3, 0, 70, 14);    /* two passes, the last bracket cut short */
    simulate("bohb", 2, 0, 0, 15);
}

/* ---------------------------------------------------------- the study file */

static void test_study_file(void)
{
    ks_error err;
    ks_study *st = hb_study("hyperband", "usefull", &err);
    char why[600];
    CHECK(!st && err.code == KS_ERR_CONFIG && err.line == 14 && err.col > 1 &&
              strstr(err.msg, "retain") && strstr(err.msg, "did you mean \"useful\""),
          "an unknown policy: %d at %d:%d: %s", err.code, err.line, err.col, err.msg);
    ks_study_free(st);
    /* the default, and the reasons commands give for a missing checkpoint */
    {
        const char *text = "name: d\ndata:\n  train: {csv: data/f200.csv, target: y}\n"
                           "model:\n  - Dense: {units: $units, input_shape: [10]}\n"
                           "compile: {optimizer: Adam, loss: mse}\nfit: {epochs: 9}\n"
                           "search:\n  method: hyperband\n  parameters:\n"
                           "    units: {int: [2, 8]}\n";
        st = NULL;
        CHECK(ks_study_load_text(text, "d.yaml", data_dir(), &st, &err) == KS_OK, "%s",
              err.msg);
        if (st) {
            CHECK(st->retain == KS_RETAIN_USEFUL, "default %d", st->retain);
            CHECK(ks_study_retain_why(st, KS_TRIAL_PRUNED, 3, why, sizeof why) &&
                      strstr(why, "retain: useful") && strstr(why, "below 9 epochs"),
                  "pruned: %s", why);
            CHECK(!ks_study_retain_why(st, KS_TRIAL_COMPLETE, 9, why, sizeof why) && !why[0],
                  "complete: %s", why);
            CHECK(!ks_study_retain_why(st, KS_TRIAL_FAILED, 3, why, sizeof why),
                  "failed: %s", why);
        }
        ks_study_free(st);
    }
    st = hb_study("random", "complete", &err);
    CHECK(st != NULL, "%s", err.msg);
    if (st) {
        CHECK(ks_study_retain_why(st, KS_TRIAL_FAILED, 9, why, sizeof why) &&
                  strstr(why, "retain: complete keeps only complete"),
              "failed, complete: %s", why);
        CHECK(ks_study_retain_why(st, KS_TRIAL_PRUNED, 9, why, sizeof why), "pruned: %s", why);
        CHECK(!ks_study_retain_why(st, KS_TRIAL_COMPLETE, 9, why, sizeof why), "%s", why);
    }
    ks_study_free(st);
    st = hb_study("random", "all", &err);
    CHECK(st && !ks_study_retain_why(st, KS_TRIAL_FAILED, 9, why, sizeof why), "all");
    ks_study_free(st);
}

/* ---------------------------------------------------------------- study.db */

/* A database of n trials with a best and a last checkpoint of bytes each. */
static int make_db(const char *path, int n, size_t bytes, int64_t *ids, ks_error *err)
{
    ks_db *db = NULL;
    ks_study_info info;
    int created = 0, ok = 0;
    unsigned char *blob = malloc(bytes);
    ks_logs logs;
    if (!blob)
        return 0;
    unlink(path);
    ks_logs_clear(&logs);
    ks_logs_set(&logs, "loss", 1.0);
    if (ks_db_open(path, KS_DB_CREATE, &db, err) != KS_OK ||
        ks_db_study_open(db, "s", "text", "h", "loss", 0, &info, &created, err) != KS_OK)
        goto out;
    ks_study_info_free(&info);
    for (int i = 0; i < n; i++) {
        ks_epoch_record rec;
        for (size_t b = 0; b < bytes; b++)
            blob[b] = (unsigned char)(ks_hash64((uint64_t)i, b) & 0xff);
        memset(&rec, 0, sizeof rec);
        rec.logs = &logs;
        rec.last_checkpoint = blob;
        rec.last_len = bytes;
        rec.best_checkpoint = blob;
        rec.best_len = bytes;
        rec.objective = 1.0;
        rec.improved = 1;
        if (ks_db_trial_add(db, info.id, i, "{}", 1, 1, &ids[i], err) != KS_OK ||
            ks_db_epoch_write(db, ids[i], &rec, err) != KS_OK)
            goto out;
    }
    ok = 1;
out:
    free(blob);
    ks_db_close(db);
    return ok;
}

static long long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

static long long pragma(const char *path, const char *sql)
{
    sqlite3 *c = NULL;
    sqlite3_stmt *st = NULL;
    long long v = -1;
    if (sqlite3_open(path, &c) == SQLITE_OK &&
        sqlite3_prepare_v2(c, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(c);
    return v;
}

static void test_db(void)
{
    char path[400];
    int64_t ids[20], bytes = 0, before = 0, after = 0;
    int had = 0, epoch = 0;
    size_t len = 0;
    ks_db *db = NULL;
    ks_error err;
    long long full;
    const size_t B = 300000;
    snprintf(path, sizeof path, "%s/r.db", tmpdir);
    REQUIRE(make_db(path, 20, B, ids, &err), "%s", err.msg);
    full = file_size(path);
    CHECK(pragma(path, "PRAGMA auto_vacuum") == 2, "a new file is INCREMENTAL");
    REQUIRE(ks_db_open(path, 0, &db, &err) == KS_OK, "%s", err.msg);
    /* 15 of the 20 trials (and one twice: nothing more) */
    {
        int64_t drop[16];
        memcpy(drop, ids, 15 * sizeof *ids);
        drop[15] = ids[3];
        CHECK(ks_db_checkpoints_drop(db, drop, 16, &had, &bytes, &err) == KS_OK, "%s",
              err.msg);
    }
    CHECK(had == 15 && bytes == (int64_t)(30 * B), "dropped %d trials' %lld bytes", had,
          (long long)bytes);
    CHECK(ks_db_checkpoint_stat(db, ids[3], KS_CHECKPOINT_BEST, &epoch, &len, &err) == KS_OK &&
              epoch == -1 && len == 0,
          "a dropped one: epoch %d, %zu bytes", epoch, len);
    CHECK(ks_db_checkpoint_stat(db, ids[17], KS_CHECKPOINT_LAST, &epoch, &len, &err) == KS_OK &&
              epoch == 0 && len == B,
          "a kept one: epoch %d, %zu bytes", epoch, len);
    CHECK(ks_db_reclaim(db, 0, &before, &after, &err) == KS_OK, "%s", err.msg);
    CHECK(before - after >= (int64_t)(30 * B) && after <= before / 3,
          "incremental: %lld → %lld bytes", (long long)before, (long long)after);
    {
        unsigned char *blob = NULL;
        int ok;
        CHECK(ks_db_checkpoint_get(db, ids[19], KS_CHECKPOINT_BEST, &blob, &len, &epoch,
                                   &err) == KS_OK && len == B,
              "%s", err.msg);
        ok = blob != NULL;
        for (size_t b = 0; ok && b < B; b++)
            ok = blob[b] == (unsigned char)(ks_hash64(19, b) & 0xff);
        CHECK(ok, "the kept checkpoint's bytes are intact");
        free(blob);
    }
    ks_db_close(db);
    CHECK(file_size(path) < full / 3, "the file shrank: %lld → %lld bytes", full,
          file_size(path));
    {
        sqlite3 *c = NULL;
        sqlite3_stmt *st = NULL;
        const char *r = NULL;
        if (sqlite3_open(path, &c) == SQLITE_OK &&
            sqlite3_prepare_v2(c, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
            r = (const char *)sqlite3_column_text(st, 0);
        CHECK(r && strcmp(r, "ok") == 0, "integrity_check: %s", r ? r : "(none)");
        sqlite3_finalize(st);
        sqlite3_close(c);
    }

    /* a file made before auto_vacuum (NONE): only VACUUM gives pages back, once */
    REQUIRE(make_db(path, 20, B, ids, &err), "%s", err.msg);
    {
        sqlite3 *c = NULL;
        int rc = sqlite3_open(path, &c);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(c, "PRAGMA auto_vacuum = NONE; VACUUM;", NULL, NULL, NULL);
        sqlite3_close(c);
        CHECK(rc == SQLITE_OK && pragma(path, "PRAGMA auto_vacuum") == 0, "an older file");
    }
    REQUIRE(ks_db_open(path, 0, &db, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_db_checkpoints_drop(db, ids, 4, &had, &bytes, &err) == KS_OK && had == 4,
          "%s", err.msg);
    /* 4 of 20 free: less than a quarter, nothing moves */
    CHECK(ks_db_reclaim(db, 1, &before, &after, &err) == KS_OK && after == before,
          "a fifth free: %lld → %lld", (long long)before, (long long)after);
    CHECK(ks_db_checkpoints_drop(db, ids + 4, 11, &had, &bytes, &err) == KS_OK && had == 11,
          "%s", err.msg);
    CHECK(ks_db_reclaim(db, 0, &before, &after, &err) == KS_OK && after == before,
          "without VACUUM: %lld → %lld", (long long)before, (long long)after);
    CHECK(ks_db_reclaim(db, 1, &before, &after, &err) == KS_OK && after <= before / 3,
          "VACUUM: %lld → %lld (%s)", (long long)before, (long long)after, err.msg);
    ks_db_close(db);
    CHECK(pragma(path, "PRAGMA auto_vacuum") == 2, "VACUUM made it INCREMENTAL");
    CHECK(file_size(path) < full / 3, "the older file shrank: %lld", file_size(path));
    /* a reader cannot reclaim */
    REQUIRE(ks_db_open(path, KS_DB_READONLY, &db, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_db_reclaim(db, 1, NULL, NULL, &err) == KS_ERR_INTERNAL, "read-only");
    ks_db_close(db);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ks_test_retention.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_decide();
    test_scripted();
    test_simulated();
    test_study_file();
    test_db();
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return check_done();
}
