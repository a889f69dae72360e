/*
 * run_dir.c — a run's directory: the one place that spells its layout (runs/NAME,
 * study.db, tensorboard/, ensembles/, model.ksm, report.html, refit/, the lock file), for
 * studies, `ksearch fit` and every command that reads or writes a run; and the lock
 * that keeps a second process from writing it at the same time.
 */
#include "search_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* snprintf that says whether the whole text fitted */
#define FITS(buf, ...) (snprintf((buf), sizeof(buf), __VA_ARGS__) < (int)sizeof(buf))

static ks_status fill(ks_run_paths *p, const char *dir, const char *db, ks_error *err)
{
    memset(p, 0, sizeof *p);
    if (!FITS(p->dir, "%s", dir) ||
        (db ? !FITS(p->db, "%s", db) : !FITS(p->db, "%s/study.db", dir)) ||
        !FITS(p->tensorboard, "%s/tensorboard", dir) ||
        !FITS(p->ensembles, "%s/ensembles", dir) ||
        !FITS(p->best_ensemble, "%s/ensembles/best.ksm", dir) ||
        !FITS(p->model, "%s/model.ksm", dir) || !FITS(p->lock, "%s/%s", dir, KS_RUN_LOCK_NAME) ||
        !FITS(p->report, "%s/%s", dir, KS_RUN_REPORT_NAME) || !FITS(p->refit, "%s/refit", dir))
        return ks_error_set(err, KS_ERR_USAGE, "the run directory \"%.60s…\" is too long", dir);
    return KS_OK;
}

ks_status ks_run_paths_for_name(const char *name, ks_run_paths *p, ks_error *err)
{
    char dir[sizeof p->dir];
    if (!FITS(dir, "%s/%s", KS_RUNS_DIR, name))
        return ks_error_set(err, KS_ERR_USAGE, "the run name \"%.60s…\" is too long", name);
    return fill(p, dir, NULL, err);
}

ks_status ks_study_run_paths(const ks_study *st, ks_run_paths *p, ks_error *err)
{
    return ks_run_paths_for_name(st->base->name, p, err);
}

ks_status ks_run_paths_for_arg(const char *arg, ks_run_paths *p, ks_error *err)
{
    struct stat sb;
    char copy[sizeof p->dir];
    if (stat(arg, &sb) != 0 || !S_ISREG(sb.st_mode))
        return fill(p, arg, NULL, err);
    /* the database file itself: its folder is the run's */
    if (!FITS(copy, "%s", arg))
        return ks_error_set(err, KS_ERR_USAGE, "the path \"%.60s…\" is too long", arg);
    return fill(p, dirname(copy), arg, err);
}

ks_status ks_run_refit_path(const ks_run_paths *p, int number, char *out, size_t size,
                            ks_error *err)
{
    char run[64];
    ks_tb_trial_run_name(number, run, sizeof run);
    if (snprintf(out, size, "%s/%s.ksm", p->refit, run) >= (int)size)
        return ks_error_set(err, KS_ERR_USAGE, "the path of the refit model \"%.60s…\" is too long",
                            p->refit);
    return KS_OK;
}

/* ---------------------------------------------------------------- the lock */

struct ks_run_lock {
    int fd;                     /* the lock file, write-locked */
};

/* "pid 123 on host h since 2024-05-01 10:20:30, running s.yaml", from the holder's file
   (or what fcntl tells of it, while the holder has not written it yet). */
static void describe_holder(int fd, char *out, size_t size)
{
    char buf[512], host[256] = "", what[256] = "";
    long pid = 0;
    double since = 0;
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    struct flock fl;
    buf[n > 0 ? n : 0] = '\0';
    /* pid=P host=H since=T what=W (W to the end of the line) */
    if (sscanf(buf, "pid=%ld host=%255s since=%lf what=%255[^\n]", &pid, host, &since, what) < 3) {
        pid = 0;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
            pid = (long)fl.l_pid;
        snprintf(out, size, "pid %ld", pid);
        return;
    }
    {
        time_t t = (time_t)since;
        struct tm tm;
        char when[64] = "?";
        if (localtime_r(&t, &tm))
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        snprintf(out, size, "pid %ld on host %s since %s%s%s", pid, host, when,
                 what[0] ? ", " : "", what);
    }
}

ks_status ks_run_lock_acquire(const ks_run_paths *p, const char *what, ks_run_lock **out,
                              ks_error *err)
{
    struct flock fl;
    ks_run_lock *l;
    char info[600], host[256];
    int fd, len;
    *out = NULL;
    /* opening an existing file writes nothing: a refused process leaves it as it is */
    fd = open(p->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && errno == ENOENT)
        return ks_error_set_at(err, KS_ERR_IO, p->dir, 0, 0, "no such run directory");
    if (fd < 0)
        return ks_error_set_at(err, KS_ERR_IO, p->lock, 0, 0, "cannot open the lock file: %s",
                               strerror(errno));
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int e = errno;
        ks_status s;
        if (e == EACCES || e == EAGAIN) {
            describe_holder(fd, info, sizeof info);
            s = ks_error_set(err, KS_ERR_USAGE,
                             "%s is in use by another ksearch (%s); wait for it to end, or "
                             "stop it, then run this again",
                             p->dir, info);
        } else {
            s = ks_error_set_at(err, KS_ERR_IO, p->lock, 0, 0, "cannot lock: %s", strerror(e));
        }
        close(fd);
        return s;
    }
    if (!(l = malloc(sizeof *l))) {
        close(fd);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    l->fd = fd;
    /* who holds it, for the message another process gets (a failure to say so does not
       matter: the lock is what keeps others out) */
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "?");
    host[sizeof host - 1] = '\0';
    for (char *c = host; *c; c++)
        if (*c == ' ' || *c == '\n')
            *c = '_';
    len = snprintf(info, sizeof info, "pid=%ld host=%s since=%.0f what=%s\n", (long)getpid(),
                   host, (double)time(NULL), what ? what : "");
    if (ftruncate(fd, 0) == 0 && len > 0)
        (void)!pwrite(fd, info, (size_t)len < sizeof info ? (size_t)len : sizeof info - 1, 0);
    *out = l;
    return KS_OK;
}

void ks_run_lock_release(ks_run_lock *l)
{
    if (!l)
        return;
    /* an empty file: nobody holds it (closing the file releases the lock) */
    (void)!ftruncate(l->fd, 0);
    close(l->fd);
    free(l);
}
