/*
 * run_dir.c — a run's directory: the one place that spells its layout (runs/NAME,
 * study.db, tensorboard/, ensembles/, model.ksm, the lock file), for studies, `ksearch
 * fit` and every command that reads or writes a run.
 */
#include "search_impl.h"

#include <libgen.h>
#include <string.h>
#include <sys/stat.h>

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
        !FITS(p->model, "%s/model.ksm", dir) || !FITS(p->lock, "%s/%s", dir, KS_RUN_LOCK_NAME))
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
