/*
 * test_controller.c — the study runner's pieces that need no training: a run's paths,
 * the run lock between processes (a child process is refused while the parent holds
 * it, and takes it once the parent lets go or dies), and the controller re-reading a
 * trial: a failure to read it is returned, never left as a stale curve.
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
    char name[2000], file[600];
    FILE *f;
    CHECK(ks_run_paths_for_name("mnist", &p, &err) == KS_OK, "%s", err.msg);
    CHECK(strcmp(p.dir, "runs/mnist") == 0 && strcmp(p.db, "runs/mnist/study.db") == 0 &&
              strcmp(p.tensorboard, "runs/mnist/tensorboard") == 0 &&
              strcmp(p.ensembles, "runs/mnist/ensembles") == 0 &&
              strcmp(p.best_ensemble, "runs/mnist/ensembles/best.ksm") == 0 &&
              strcmp(p.model, "runs/mnist/model.ksm") == 0 &&
              strcmp(p.lock, "runs/mnist/ksearch.lock") == 0,
          "runs/NAME: %s %s %s %s %s", p.dir, p.db, p.tensorboard, p.ensembles, p.lock);
    CHECK(ks_run_paths_for_arg(tmpdir, &p, &err) == KS_OK && strncmp(p.db, tmpdir, strlen(tmpdir)) == 0 &&
              strcmp(p.db + strlen(tmpdir), "/study.db") == 0,
          "a directory: %s", p.db);
    /* a database file given for RUNDIR: the run is its folder */
    snprintf(file, sizeof file, "%s/other.db", tmpdir);
    if ((f = fopen(file, "w")))
        fclose(f);
    CHECK(ks_run_paths_for_arg(file, &p, &err) == KS_OK && strcmp(p.db, file) == 0 &&
              strcmp(p.dir, tmpdir) == 0 && strncmp(p.tensorboard, tmpdir, strlen(tmpdir)) == 0,
          "a file: %s in %s", p.db, p.dir);
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

/* ----------------------------------------------------- re-reading a trial */

static const char study_text[] =
    "name: ctl\n"
    "data: {train: {csv: none.csv, target: y}, validation_split: 0.5}\n"
    "model: [{Dense: {units: $units, input_shape: [2]}}]\n"
    "compile: {optimizer: SGD, loss: mse}\n"
    "fit: {epochs: 3}\n"
    "search: {method: random, max_trials: 2, metric: val_loss,\n"
    "         parameters: {units: {values: [1, 2]}}}\n";

/*
 * ctl_refresh_trial re-reads a trial after its job: a trial the database cannot give
 * back (here: its row is gone) is an error for the caller, which stops the study,
 * instead of a stale curve handed to the search method.
 */
static void test_refresh(void)
{
    controller c;
    ks_study *st = NULL;
    ks_db *db = NULL;
    ks_study_info info;
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
    REQUIRE(ctl_add_trial(&c, pt, 3) == KS_OK && ctl_add_trial(&c, pt, 3) == KS_OK, "%s",
            c.err.msg);
    {
        /* trial 0 recorded 2 epochs */
        for (int e = 0; e < 2; e++) {
            ks_logs logs;
            ks_epoch_record rec;
            memset(&logs, 0, sizeof logs);
            ks_logs_set(&logs, "val_loss", 1.0 - 0.25 * e);
            memset(&rec, 0, sizeof rec);
            rec.epoch = e;
            rec.logs = &logs;
            rec.objective = logs.value[0];
            rec.improved = 1;
            CHECK(ks_db_epoch_write(db, c.trials[0].id, &rec, &err) == KS_OK, "%s", err.msg);
        }
    }
    CHECK(ctl_refresh_trial(&c, db, 0, KS_TRIAL_COMPLETE, 1.0, &err) == KS_OK, "%s", err.msg);
    CHECK(c.trials[0].epochs == 2 && c.trials[0].n_curve == 2 && c.trials[0].curve[1] == 0.75 &&
              c.trials[0].objective == 0.75,
          "refreshed: %d epochs, curve of %d, objective %g", c.trials[0].epochs,
          c.trials[0].n_curve, c.trials[0].objective);
    /* trial 1's row is gone (deleted by another connection): reading it fails */
    {
        sqlite3 *raw = NULL;
        int rc = sqlite3_open_v2(path, &raw, SQLITE_OPEN_READWRITE, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_exec(raw, "DELETE FROM trial WHERE number = 1", NULL, NULL, NULL);
        sqlite3_close(raw);
        REQUIRE(rc == SQLITE_OK, "deleting trial 1: %s", sqlite3_errstr(rc));
    }
    CHECK(ctl_refresh_trial(&c, db, 1, KS_TRIAL_COMPLETE, 1.0, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "no trial"),
          "a trial that cannot be read back: the error is returned (%s)", err.msg);
    for (int i = 0; i < c.n; i++)
        free(c.trials[i].curve);
    free(c.trials);
    free(c.views);
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
    test_refresh();
    remove_tmp();
    return check_done();
}
