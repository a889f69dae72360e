/*
 * test_controller.c — the study runner's pieces that need no training: a run's paths,
 * the run lock between processes (a child process is refused while the parent holds
 * it, and takes it once the parent lets go or dies), and the controller learning a trial
 * from its records: a record that cannot be committed stops the study.
 */
#include "../search/controller_impl.h"
#include "check.h"

#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[256];

/* ------------------------------------------------------------------ paths */

static void test_paths(void)
{
    ks_run_paths p;
    ks_error err;
    char name[2000], file[600], cwd[4096];
    FILE *f;
    CHECK(ks_run_paths_for_name("mnist", &p, &err) == KS_OK, "%s", err.msg);
    CHECK(strcmp(p.dir, "runs/mnist") == 0 && strcmp(p.db, "runs/mnist/study.db") == 0 &&
              strcmp(p.tensorboard, "runs/mnist/tensorboard") == 0 &&
              strcmp(p.ensembles, "runs/mnist/ensembles") == 0 &&
              strcmp(p.best_ensemble, "runs/mnist/ensembles/best.ksm") == 0 &&
              strcmp(p.model, "runs/mnist/model.ksm") == 0 &&
              strcmp(p.lock, "runs/mnist/ksearch.lock") == 0 &&
              strcmp(p.report, "runs/mnist/report.html") == 0,
          "runs/NAME: %s %s %s %s %s %s", p.dir, p.db, p.tensorboard, p.ensembles, p.lock,
          p.report);
    CHECK(ks_run_paths_for_arg(tmpdir, &p, &err) == KS_OK && strncmp(p.db, tmpdir, strlen(tmpdir)) == 0 &&
              strcmp(p.db + strlen(tmpdir), "/study.db") == 0,
          "a directory: %s", p.db);
    /* a database file given for RUNDIR: the run is its folder */
    snprintf(file, sizeof file, "%s/other.db", tmpdir);
    if ((f = fopen(file, "w")))
        fclose(f);
    CHECK(ks_run_paths_for_arg(file, &p, &err) == KS_OK && strcmp(p.db, file) == 0 &&
              strcmp(p.dir, tmpdir) == 0 && strncmp(p.tensorboard, tmpdir, strlen(tmpdir)) == 0 &&
              strncmp(p.report, tmpdir, strlen(tmpdir)) == 0 &&
              strcmp(p.report + strlen(tmpdir), "/report.html") == 0,
          "a file: %s in %s, report %s", p.db, p.dir, p.report);
    /* a bare file name: the run is the current folder */
    if (getcwd(cwd, sizeof cwd) && chdir(tmpdir) == 0) {
        CHECK(ks_run_paths_for_arg("other.db", &p, &err) == KS_OK &&
                  strcmp(p.db, "other.db") == 0 && strcmp(p.report, "./report.html") == 0,
              "a bare file: %s, report %s", p.db, p.report);
        CHECK(chdir(cwd) == 0, "back in %s", cwd);
    }
    memset(name, 'x', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    CHECK(ks_run_paths_for_name(name, &p, &err) == KS_ERR_USAGE && strstr(err.msg, "too long"),
          "a name too long: %s", err.msg);
}

/* ------------------------------------------------------------------- lock */

/* In a child process: try the lock; exit 0 if taken, 2 if refused naming parent, 1 else. */
static int child_try(const ks_run_paths *p, pid_t parent)
{
    pid_t pid = fork();
    int status = 0;
    if (pid == 0) {
        ks_run_lock *l = NULL;
        ks_error err;
        char want[64];
        ks_status s = ks_run_lock_acquire(p, "the child", &l, &err);
        snprintf(want, sizeof want, "pid %ld on host ", (long)parent);
        if (s == KS_OK) {
            ks_run_lock_release(l);
            _exit(0);
        }
        _exit(s == KS_ERR_USAGE && strstr(err.msg, want) && strstr(err.msg, "since ") &&
                      strstr(err.msg, "running the test") && strstr(err.msg, p->dir)
                  ? 2
                  : 1);
    }
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static void test_lock(void)
{
    ks_run_paths p;
    ks_run_lock *l = NULL;
    ks_error err;
    struct stat sb;
    char dir[400];
    snprintf(dir, sizeof dir, "%s/run", tmpdir);
    REQUIRE(ks_run_paths_for_arg(dir, &p, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_run_lock_acquire(&p, "x", &l, &err) == KS_ERR_IO && strstr(err.msg, "no such run"),
          "no run directory: %s", err.msg);
    REQUIRE(mkdir(dir, 0755) == 0, "mkdir");
    REQUIRE(ks_run_lock_acquire(&p, "running the test", &l, &err) == KS_OK, "%s", err.msg);
    CHECK(child_try(&p, getpid()) == 2, "another process is refused, told who holds the lock");
    CHECK(stat(p.lock, &sb) == 0 && sb.st_size > 0, "the lock file says who holds it");
    ks_run_lock_release(l);
    CHECK(stat(p.lock, &sb) == 0 && sb.st_size == 0, "released: the file is left, empty");
    CHECK(child_try(&p, getpid()) == 0, "released: another process takes it");
    ks_run_lock_release(NULL);

    /* a holder that dies without releasing (SIGKILL) blocks nobody */
    {
        int fds[2];
        pid_t pid;
        char c;
        REQUIRE(pipe(fds) == 0, "pipe");
        pid = fork();
        if (pid == 0) {
            ks_run_lock *held = NULL;
            close(fds[0]);
            if (ks_run_lock_acquire(&p, "dying", &held, NULL) == KS_OK)
                (void)!write(fds[1], "y", 1);
            pause();
            _exit(0);
        }
        close(fds[1]);
        CHECK(read(fds[0], &c, 1) == 1, "the child holds the lock");
        close(fds[0]);
        CHECK(ks_run_lock_acquire(&p, "x", &l, &err) == KS_ERR_USAGE, "held by the child");
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        CHECK(stat(p.lock, &sb) == 0 && sb.st_size > 0, "the dead holder's file is left");
        CHECK(ks_run_lock_acquire(&p, "x", &l, &err) == KS_OK, "then taken: %s", err.msg);
        ks_run_lock_release(l);
    }
}

/* ------------------------------------------------- the records of a job */

static const char study_text[] =
    "name: ctl\n"
    "data: {train: {csv: none.csv, target: y}, validation_split: 0.5}\n"
    "model: [{Dense: {units: $units, input_shape: [2]}}]\n"
    "compile: {optimizer: SGD, loss: mse}\n"
    "fit: {epochs: 3}\n"
    "search: {method: random, max_trials: 2, metric: val_loss,\n"
    "         parameters: {units: {values: [1, 2]}}}\n";

/* Give trial number to job slot 0 as the controller does (its committer, busy). */
static void start(controller *c, int number)
{
    ks_tracker_options opt;
    ks_error err;
    memset(&opt, 0, sizeof opt);
    opt.db = c->db;
    opt.trial_id = c->trials[number].id;
    opt.objective = "val_loss";
    REQUIRE(ks_committer_new(&opt, &c->jobs[0].committer, &err) == KS_OK, "%s", err.msg);
    c->jobs[0].number = number;
    c->jobs[0].failed = 0;
    c->trials[number].busy = 1;
    c->running++;
}

static ks_record *record(ks_record_kind kind, int trial, int epoch, double val_loss)
{
    ks_record *r = ks_record_new(kind, trial);
    if (!r)
        abort();    /* out of memory */
    r->epoch = epoch;
    if (kind == KS_RECORD_EPOCH)
        ks_logs_set(&r->logs, "val_loss", val_loss);
    if (kind == KS_RECORD_END)
        r->status = KS_TRIAL_COMPLETE;
    return r;
}

static void take(controller *c, ks_record *r)
{
    ctl_take_record(c, r);
    ks_record_free(r);
}

/*
 * The controller learns a trial from its records, not by reading study.db back: the
 * curve, epochs, objective and status come from BEGIN / EPOCH / END (and study.db holds
 * the same).  A record that cannot be committed (here: the trial's row is gone) stops
 * the study with that error, and the trial ends interrupted (a rerun retries it), never
 * a stale curve handed to the search method.
 */
static void test_records(void)
{
    controller c;
    ks_study *st = NULL;
    ks_db *db = NULL;
    ks_study_info info;
    ks_trial_info ti;
    ks_error err;
    char path[400];
    double pt[KS_MAX_SEARCH_PARAMS] = {0};
    int created;
    REQUIRE(ks_study_load_text(study_text, "ctl.yaml", tmpdir, &st, &err) == KS_OK, "%s",
            err.msg);
    snprintf(path, sizeof path, "%s/ctl.db", tmpdir);
    REQUIRE(ks_db_open(path, 1, &db, &err) == KS_OK, "%s", err.msg);
    REQUIRE(ks_db_study_open(db, "ctl", study_text, "h", "val_loss", 0, &info, &created, &err) ==
                KS_OK,
            "%s", err.msg);
    memset(&c, 0, sizeof c);
    c.st = st;
    snprintf(st->metric, sizeof st->metric, "val_loss");
    c.db = db;
    c.study_id = info.id;
    c.out = fopen("/dev/null", "w");
    c.n_jobs = 1;
    c.jobs = calloc(1, sizeof *c.jobs);
    REQUIRE(c.out && c.jobs, "set-up");
    REQUIRE(ctl_add_trial(&c, pt, 3) == KS_OK && ctl_add_trial(&c, pt, 3) == KS_OK, "%s",
            c.err.msg);

    /* trial 0: two epochs, then done */
    start(&c, 0);
    take(&c, record(KS_RECORD_BEGIN, 0, 0, 0));
    take(&c, record(KS_RECORD_EPOCH, 0, 0, 1.0));
    take(&c, record(KS_RECORD_EPOCH, 0, 1, 0.75));
    CHECK(c.trials[0].n_curve == 2 && c.trials[0].curve[1] == 0.75 && c.trials[0].epochs == 2,
          "the curve from the records: %d epochs, curve of %d", c.trials[0].epochs,
          c.trials[0].n_curve);
    take(&c, record(KS_RECORD_END, 0, 0, 0));
    CHECK(c.trials[0].status == KS_TRIAL_COMPLETE && c.trials[0].objective == 0.75 &&
              !c.trials[0].busy && c.running == 0 && c.jobs[0].number == -1 && c.finished == 1,
          "ended: status %d, objective %g, busy %d", (int)c.trials[0].status,
          c.trials[0].objective, c.trials[0].busy);
    REQUIRE(ks_db_trial_get(db, c.trials[0].id, &ti, &err) == KS_OK, "%s", err.msg);
    CHECK(ti.status == KS_TRIAL_COMPLETE && ti.epochs == 2 && ti.objective == 0.75 &&
              ti.best_epoch == 1,
          "study.db holds the same: %d epochs, objective %g at %d", ti.epochs, ti.objective,
          ti.best_epoch);
    ks_trial_info_free(&ti);

    /* trial 1's row is gone (deleted by another connection): its epoch cannot be
       committed */
    {
        sqlite3 *raw = NULL;
        int rc = sqlite3_open_v2(path, &raw, SQLITE_OPEN_READWRITE, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(raw, "DELETE FROM trial WHERE number = 1", NULL, NULL, NULL);
        sqlite3_close(raw);
        REQUIRE(rc == SQLITE_OK, "deleting trial 1: %s", sqlite3_errstr(rc));
    }
    start(&c, 1);
    take(&c, record(KS_RECORD_BEGIN, 1, 0, 0));
    take(&c, record(KS_RECORD_EPOCH, 1, 0, 0.5));
    CHECK(c.failure == KS_ERR_CONFIG && strstr(c.err.msg, "no trial") && c.stopping &&
              atomic_load(&c.abort) && c.trials[1].n_curve == 0,
          "a record that cannot be committed stops the study (%d: %s), no curve from it",
          (int)c.failure, c.err.msg);
    take(&c, record(KS_RECORD_END, 1, 0, 0));
    CHECK(c.trials[1].status == KS_TRIAL_INTERRUPTED && c.running == 0,
          "its trial ends interrupted, not complete (%d)", (int)c.trials[1].status);
    for (int i = 0; i < c.n; i++)
        free(c.trials[i].curve);
    ks_committer_free(c.jobs[0].committer);
    free(c.jobs);
    free(c.trials);
    free(c.views);
    fclose(c.out);
    ks_study_info_free(&info);
    ks_db_close(db);
    ks_study_free(st);
}

static void remove_tmp(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ks_test_controller.XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_paths();
    test_lock();
    test_records();
    remove_tmp();
    return check_done();
}
