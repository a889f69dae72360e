/*
 * warm_start.c — search.warm_start: the complete trials of an earlier study (its run
 * directory or study.db, read only) become the observations of this study's method
 * before its first suggestion, their points read into this study's space.  The earlier
 * study must optimize the same metric the same way over this space or one it grew from
 * (ks_study_space_grew); its trials are never copied into this study.
 */
#define _XOPEN_SOURCE 700
#include "controller_impl.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void ctl_warm_free(ctl_warm *w)
{
    for (int i = 0; w->curves && i < w->n; i++)
        free(w->curves[i]);
    free(w->curves);
    free(w->points);
    free(w->views);
    memset(w, 0, sizeof *w);
}

/* Trial row i's view: its point in this study's space and its curve of the objective. */
static ks_status warm_view(controller *c, ks_db *db, const ks_trial_info *row, const char *metric,
                           int k, ks_error *err)
{
    ctl_warm *w = &c->warm;
    ks_trial_view *v = &w->views[k];
    double *point = w->points + (size_t)k * KS_MAX_SEARCH_PARAMS;
    int cap = 0, len = 0;
    ks_status s = ks_space_point_from_json(&c->st->space, row->params, point, err);
    if (s == KS_OK)
        s = ctl_curve_load(db, row->id, metric, row->epochs, &w->curves[k], &cap, &len, err);
    if (s != KS_OK)
        return s;
    memset(v, 0, sizeof *v);
    v->number = k - w->n;       /* before this study's trials */
    v->point = point;
    v->status = KS_TRIAL_COMPLETE;
    v->budget = row->budget;
    v->epochs = len;
    v->curve = w->curves[k];
    v->objective = row->objective;
    return KS_OK;
}

/* The earlier study's complete trials with a result, as views. */
static ks_status warm_trials(controller *c, ks_db *db, const ks_study_info *info, ks_error *err)
{
    ks_trial_info *rows = NULL;
    int n = 0, m = 0;
    ks_status s = ks_db_trials(db, info->id, &rows, &n, err);
    for (int i = 0; s == KS_OK && i < n; i++)
        m += rows[i].status == KS_TRIAL_COMPLETE && isfinite(rows[i].objective);
    if (s == KS_OK && m > 0) {
        c->warm.views = calloc((size_t)m, sizeof *c->warm.views);
        c->warm.points = calloc((size_t)m * KS_MAX_SEARCH_PARAMS, sizeof *c->warm.points);
        c->warm.curves = calloc((size_t)m, sizeof *c->warm.curves);
        if (!c->warm.views || !c->warm.points || !c->warm.curves)
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        c->warm.n = m;
        for (int i = 0, k = 0; s == KS_OK && i < n; i++)
            if (rows[i].status == KS_TRIAL_COMPLETE && isfinite(rows[i].objective))
                s = warm_view(c, db, &rows[i], info->metric, k++, err);
    }
    for (int i = 0; i < n; i++)
        ks_trial_info_free(&rows[i]);
    free(rows);
    return s;
}

/* The earlier study against this one: its metric, its goal, its space. */
static ks_status warm_compare(controller *c, const ks_study_info *info, const ks_study *src,
                              const char *db_path, ks_error *err)
{
    const ks_study *st = c->st;
    ks_growth g;
    ks_error e;
    if (strcmp(info->metric, st->metric) != 0 || info->maximize != st->maximize)
        return ks_error_at(err, KS_ERR_CONFIG, st->warm_start,
                           "search.warm_start: the study in %s %s %s, this one %s %s: their "
                           "results do not compare",
                           db_path, info->maximize ? "maximizes" : "minimizes", info->metric,
                           st->maximize ? "maximizes" : "minimizes", st->metric);
    ks_error_clear(&e);
    if (ks_study_space_grew(src, st, &g, &e) != KS_OK) {
        char why[sizeof e.msg];
        snprintf(why, sizeof why, "%s", e.msg);
        return ks_error_set_at(err, KS_ERR_CONFIG, e.file[0] ? e.file : st->path, e.line, e.col,
                               "%s, so this space is not the space of the study in %s (search."
                               "warm_start) nor one it grew from",
                               why, db_path);
    }
    return KS_OK;
}

ks_status ctl_warm_load(controller *c, ks_error *err)
{
    const ks_study *st = c->st;
    const ks_value *at = st->warm_start;
    ks_run_paths rp;
    ks_study_info info;
    ks_study *src = NULL;
    ks_db *db = NULL;
    ks_error e;
    char path[PATH_MAX + 8];
    struct stat sb;
    ks_status s;
    memset(&info, 0, sizeof info);
    if (!at)
        return KS_OK;
    /* relative to the study file's folder, as its data paths */
    if (at->string[0] == '/' || strcmp(st->base->dir, ".") == 0 || !st->base->dir[0])
        snprintf(path, sizeof path, "%s", at->string);
    else
        snprintf(path, sizeof path, "%s/%s", st->base->dir, at->string);
    ks_error_clear(&e);
    if (ks_run_paths_for_arg(path, &rp, &e) != KS_OK)
        return ks_error_at(err, KS_ERR_CONFIG, at, "search.warm_start: %s", e.msg);
    if (stat(rp.db, &sb) != 0)
        return ks_error_at(err, KS_ERR_CONFIG, at,
                           "search.warm_start: no study at %s: give an earlier study's run "
                           "directory (runs/NAME) or its study.db",
                           rp.db);
    {
        struct stat own;
        if (stat(c->paths.db, &own) == 0 && own.st_dev == sb.st_dev && own.st_ino == sb.st_ino)
            return ks_error_at(err, KS_ERR_CONFIG, at,
                               "search.warm_start: %s is this study's own database (its trials "
                               "are its history already): name an earlier study's",
                               rp.db);
    }
    if ((s = ks_db_open(rp.db, KS_DB_READONLY, &db, &e)) == KS_OK &&
        (s = ks_study_from_db(db, rp.db, NULL, &info, &src, &e)) == KS_OK) {
        if ((s = warm_compare(c, &info, src, rp.db, err)) == KS_OK &&
            (s = warm_trials(c, db, &info, &e)) != KS_OK)
            ks_error_at(err, s, at, "search.warm_start: %s", e.msg);
        ks_study_info_free(&info);
    } else {
        ks_error_at(err, KS_ERR_CONFIG, at, "search.warm_start: %s", e.msg);
        s = KS_ERR_CONFIG;
    }
    ks_study_free(src);
    ks_db_close(db);
    if (s == KS_OK && c->warm.n == 0)
        s = ks_error_at(err, KS_ERR_CONFIG, at,
                        "search.warm_start: the study in %s has no complete trial yet", rp.db);
    if (s != KS_OK) {
        ctl_warm_free(&c->warm);
        return s;
    }
    fprintf(c->out, "warm start: %d complete trial%s from %s, as observations\n", c->warm.n,
            c->warm.n == 1 ? "" : "s", rp.db);
    return KS_OK;
}
