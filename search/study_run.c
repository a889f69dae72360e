/*
 * study_run.c — ks_study_run: the set-up around the workers.  Checks the study with
 * its data, opens runs/NAME/study.db, refuses a study file that changed since (unless
 * --fresh), reloads every trial so that interrupted ones finish first and samplers see
 * the whole history, writes the HParams experiment, and at the end reports.
 */
#define _XOPEN_SOURCE 700     /* realpath */
#include "controller_impl.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* R of the part of the plan trial number belongs to (a study whose R grew has parts). */
static int part_budget(const controller *c, int number)
{
    for (int k = c->n_parts - 1; k >= 0; k--)
        if (number >= c->parts[k].first)
            return c->parts[k].max_epochs;
    return c->full_budget;
}

int ctl_may_promote(const controller *c, const trial_state *t)
{
    return c->st->method->full_budget && t->budget < part_budget(c, t->number);
}

void ctl_history_extras(const controller *c, ks_history *h)
{
    h->grown = c->grown;
    h->n_parts = c->n_parts;
    h->parts = c->parts;
    h->n_warm = c->warm.n;
    h->warm = c->warm.views;
}

uint64_t ctl_trial_seed(const controller *c, int number)
{
    return ks_hash64(c->st->base->seed, (uint64_t)number + 1);
}

ks_status ctl_curve_load(ks_db *db, int64_t trial_id, const char *metric, int epochs,
                         double **curve, int *cap, int *len, ks_error *err)
{
    ks_metric_point *p = NULL;
    int n = 0, m = epochs;
    ks_status s = ks_db_metric_series(db, trial_id, metric, 0, &p, &n, err);
    if (s != KS_OK)
        return s;
    for (int i = 0; i < n; i++)
        if (p[i].epoch >= m)
            m = p[i].epoch + 1;
    if (m > *cap) {
        double *cv = realloc(*curve, (size_t)m * sizeof *cv);
        if (!cv) {
            free(p);
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        }
        *curve = cv;
        *cap = m;
    }
    for (int e = 0; e < m; e++)
        (*curve)[e] = NAN;
    for (int i = 0; i < n; i++)
        if (p[i].epoch >= 0)
            (*curve)[p[i].epoch] = p[i].value;
    *len = m;
    free(p);
    return KS_OK;
}

ks_status ctl_add_trial(controller *c, const double *point, int budget)
{
    trial_state *t;
    char *json = NULL;
    ks_status s;
    if ((s = ctl_grow(c, &c->err)) != KS_OK)
        return s;
    t = &c->trials[c->n];
    memset(t, 0, sizeof *t);
    t->number = c->n;
    memcpy(t->point, point, sizeof t->point);
    t->status = KS_TRIAL_QUEUED;
    t->budget = budget;
    t->objective = NAN;
    if ((s = ks_space_point_json(&c->st->space, point, &json)) != KS_OK)
        return ks_error_set(&c->err, s, "out of memory");
    s = ks_db_trial_add(c->db, c->study_id, t->number, json, ctl_trial_seed(c, t->number), budget,
                        &t->id, &c->err);
    free(json);
    if (s == KS_OK)
        c->n++;
    return s;
}

/* ------------------------------------------------------------ set-up */

/* "line 12 was "…", now "…"": the first line where two texts differ. */
static void first_difference(const char *a, const char *b, char *out, size_t size)
{
    int line = 1;
    const char *la = a, *lb = b;
    while (*a && *a == *b) {
        if (*a == '\n') {
            line++;
            la = a + 1;
            lb = b + 1;
        }
        a++;
        b++;
    }
    snprintf(out, size, "line %d was \"%.*s\", now \"%.*s\"", line, (int)strcspn(la, "\n"), la,
             (int)strcspn(lb, "\n"), lb);
}

/* Remove path and everything under it (symbolic links themselves, not what they point
   at); a path that is not there is fine.  The first that cannot be removed is the error. */
static ks_status remove_tree(const char *path, int depth, ks_error *err)
{
    struct stat sb;
    DIR *d;
    struct dirent *e;
    ks_status s = KS_OK;
    if (lstat(path, &sb) != 0)
        return errno == ENOENT ? KS_OK
                               : ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "cannot remove: %s",
                                                 strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        if (depth > 64)
            return ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "cannot remove: nested too deep");
        if (!(d = opendir(path)))
            return ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "cannot remove: %s",
                                   strerror(errno));
        while (s == KS_OK && (e = readdir(d)) != NULL) {
            char sub[PATH_MAX];
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (snprintf(sub, sizeof sub, "%s/%s", path, e->d_name) >= (int)sizeof sub)
                s = ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "cannot remove: a path too long");
            else
                s = remove_tree(sub, depth + 1, err);
        }
        closedir(d);
        if (s == KS_OK && rmdir(path) != 0)
            s = ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "cannot remove: %s", strerror(errno));
        return s;
    }
    if (unlink(path) != 0)
        return ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "cannot remove: %s", strerror(errno));
    return KS_OK;
}

/* The study's TensorBoard settings: the file's TensorBoard callback, or the defaults. */
static ks_status tensorboard_settings(controller *c, ks_error *err)
{
    const ks_value *cbs = c->st->base->callbacks;
    memset(&c->tb, 0, sizeof c->tb);
    c->tb.write_graph = 1;
    snprintf(c->log_dir, sizeof c->log_dir, "%s", c->paths.tensorboard);
    for (size_t i = 0; cbs && i < cbs->n; i++) {
        const ks_value *e = &cbs->items[i];
        char dir[1024];
        if (strcmp(e->items[0].key, "TensorBoard") != 0)
            continue;
        {
            ks_status s = ks_tracker_tensorboard_args(&e->items[0], &c->tb, dir, sizeof dir, err);
            if (s != KS_OK)
                return s;
        }
        if (ks_value_get(&e->items[0], "log_dir"))
            snprintf(c->log_dir, sizeof c->log_dir, "%s", dir);
    }
    c->tb.log_dir = NULL;   /* set per trial */
    return KS_OK;
}

/* The HParams experiment: each parameter with its declared domain (the search kept in
   study.db, through the one conversion `ksearch tensorboard` uses too) and the metrics
   shown (in the log dir's root run, written once when the study starts). */
static ks_status write_experiment(controller *c, const ks_search_info *search, ks_error *err)
{
    ks_hp_domains hp;
    ks_tb_run *root = NULL;
    const char *logged[KS_MAX_LOGGED];
    ks_status s = ks_hp_domains_from_search(search, &hp, err);
    for (int i = 0; i < c->st->n_log_names; i++)
        logged[i] = c->st->log_names[i];
    if (s != KS_OK)
        return s;
    s = ks_tb_run_open(c->log_dir, &root, err);
    if (s == KS_OK)
        s = ks_tb_study_experiment(root, c->st->base->name, (double)time(NULL), c->st->metric,
                                   hp.info, hp.n, logged, c->st->n_log_names, err);
    s = ks_tb_runs_close(&root, 1, s, err);
    ks_hp_domains_free(&hp);
    return s;
}

/* Every trial of the study, from the database; unfinished ones are queued to finish. */
static ks_status load_trials(controller *c, ks_error *err)
{
    ks_trial_info *rows = NULL;
    int n = 0;
    ks_status s = ks_db_trials(c->db, c->study_id, &rows, &n, err);
    for (int i = 0; s == KS_OK && i < n; i++) {
        trial_state *t;
        if ((s = ctl_grow(c, err)) != KS_OK)
            break;
        if (rows[i].number != c->n) {
            s = ks_error_set(err, KS_ERR_CORRUPT, "%s: trial numbers are not 0, 1, 2 …",
                             c->paths.db);
            break;
        }
        t = &c->trials[c->n];
        memset(t, 0, sizeof *t);
        t->number = rows[i].number;
        t->id = rows[i].id;
        t->status = rows[i].status;
        t->budget = rows[i].budget;
        t->epochs = rows[i].epochs;
        t->objective = rows[i].objective;
        if ((s = ks_space_point_from_json(&c->st->space, rows[i].params, t->point, err)) != KS_OK)
            break;
        if ((s = ctl_curve_load(c->db, t->id, c->st->metric, t->epochs, &t->curve, &t->cap_curve,
                                &t->n_curve, err)) != KS_OK)
            break;
        c->n++;
    }
    /* unfinished trials (the study was killed or interrupted): finish them first, lowest
       number first */
    for (int i = c->n - 1; s == KS_OK && i >= 0; i--) {
        trial_state *t = &c->trials[i];
        if (t->status == KS_TRIAL_QUEUED || t->status == KS_TRIAL_RUNNING ||
            t->status == KS_TRIAL_INTERRUPTED) {
            if (c->n_resume == (int)(sizeof c->resume / sizeof c->resume[0]))
                break;
            c->resume[c->n_resume++] = i;
            s = ks_db_trial_set_status(c->db, t->id, KS_TRIAL_INTERRUPTED, NULL, err);
            t->status = KS_TRIAL_INTERRUPTED;
        }
    }
    for (int i = 0; i < n; i++)
        ks_trial_info_free(&rows[i]);
    free(rows);
    return s;
}

/*
 * The stored study against the file: the same text resumes; a file that only grew
 * (ks_study_grew) continues with --grow (*grow set: the caller records the growth once
 * the trials are counted); anything else is refused, with a hint when --grow would do.
 */
static ks_status compare_stored(controller *c, const ks_study_info *info, int *grow,
                                ks_error *err)
{
    ks_study *st = c->st, *old = NULL;
    ks_growth g;
    ks_error ge;
    char name[1200], diff[600];
    ks_status gs;
    *grow = 0;
    if (strcmp(info->config, st->text) == 0)
        return KS_OK;
    snprintf(name, sizeof name, "%s (the study file kept in it)", c->paths.db);
    ks_error_clear(&ge);
    memset(&g, 0, sizeof g);
    gs = ks_study_load_text(info->config, name, st->base->dir, &old, &ge);
    if (gs == KS_OK)
        gs = ks_study_grew(old, st, &g, &ge);
    ks_study_free(old);
    if (c->o->grow && gs == KS_OK) {
        *grow = 1;
        snprintf(c->growth, sizeof c->growth, "%s", g.grew ? g.what : KS_GROWTH_NONE);
        return KS_OK;
    }
    if (c->o->grow) {
        char why[sizeof ge.msg];
        snprintf(why, sizeof why, "%s", ge.msg);
        if (!ge.file[0])
            return ks_error_set_at(err, KS_ERR_CONFIG, st->path, 0, 0,
                                   "%s; --grow continues a study only when its file grew: run "
                                   "it with --fresh to start over",
                                   why);
        return ks_error_set_at(err, KS_ERR_CONFIG, ge.file, ge.line, ge.col,
                               "%s, so the study in %s cannot grow into this file: run it with "
                               "--fresh to start over, or put the file back to resume",
                               why, c->paths.db);
    }
    first_difference(info->config, st->text, diff, sizeof diff);
    if (gs == KS_OK)    /* the hint first: the difference may be long */
        return ks_error_set_at(err, KS_ERR_CONFIG, st->path, 0, 0,
                               "changed since the study in %s started, but only grew (%s): "
                               "--grow continues it, keeping its trials; run it with --fresh to "
                               "start over, or put the file back to resume (%s)",
                               c->paths.db, g.grew ? g.what : KS_GROWTH_NONE, diff);
    return ks_error_set_at(err, KS_ERR_CONFIG, st->path, 0, 0,
                           "changed since the study in %s started (%s); run it with --fresh to "
                           "start over, or put the file back to resume",
                           c->paths.db, diff);
}

static ks_status open_study(controller *c, int *grow, ks_error *err)
{
    ks_study *st = c->st;
    ks_study_info info;
    int created = 0;
    ks_status s;
    snprintf(c->hash, sizeof c->hash, "%016llx", (unsigned long long)ks_hash_string(st->text));
    memset(&info, 0, sizeof info);
    *grow = 0;
    if ((s = ks_db_open(c->paths.db, KS_DB_CREATE, &c->db, err)) != KS_OK)
        return s;
    s = ks_db_study_open(c->db, st->base->name, st->text, c->hash, st->metric, st->maximize,
                         &info, &created, err);
    if (s == KS_OK && !created && c->o->fresh) {
        /* start over, changed or not: the study's TensorBoard logs, then its trials (logs
           that cannot be removed stop it before a trial is lost: "--fresh" is not done) */
        if ((s = remove_tree(c->log_dir, 0, err)) != KS_OK && err) {
            char why[600], where[sizeof err->file];
            snprintf(why, sizeof why, "%s", err->msg);
            snprintf(where, sizeof where, "%s", err->file);
            ks_error_set_at(err, s, where, 0, 0,
                            "%s; --fresh removes the study's old TensorBoard logs in %s before "
                            "its trials, and nothing was removed from %s",
                            why, c->log_dir, c->paths.db);
        }
        if (s == KS_OK)
            s = ks_db_study_delete(c->db, info.id, err);
        ks_study_info_free(&info);
        memset(&info, 0, sizeof info);
        if (s == KS_OK)
            s = ks_db_study_open(c->db, st->base->name, st->text, c->hash, st->metric,
                                 st->maximize, &info, &created, err);
    } else if (s == KS_OK && !created) {
        s = compare_stored(c, &info, grow, err);
    }
    c->study_id = info.id;
    ks_study_info_free(&info);
    return s;
}

/* What the commands reading the study later need besides its text: the folder its data
   paths start from, and the search it declares. */
static ks_status set_context(controller *c, const ks_search_info *search, ks_error *err)
{
    char dir[PATH_MAX];
    if (!realpath(c->st->base->dir, dir))
        snprintf(dir, sizeof dir, "%s", c->st->base->dir);
    return ks_db_study_set_context(c->db, c->study_id, dir, search, err);
}

/*
 * A study that grew: c->grown, and when its R grew (Hyperband, BOHB), the parts of its
 * trials planned with each R — from the texts it had, kept in study.db, each read with
 * the loader (the first trial of each is the number of trials when it grew).
 */
static ks_status load_growth(controller *c, ks_error *err)
{
    ks_study_growth *rows = NULL;
    int n = 0, first = 0;
    ks_status s = ks_db_study_growths(c->db, c->study_id, &rows, &n, err);
    c->grown = n > 0;
    c->n_parts = 0;
    for (int k = 0; s == KS_OK && k <= n && c->st->method->full_budget; k++) {
        int end = k < n ? rows[k].trials : INT_MAX, R = c->full_budget;
        if (k < n) {
            ks_study *old = NULL;
            ks_history h;
            char name[1200];
            snprintf(name, sizeof name, "%s (the study file it had before growth %d)",
                     c->paths.db, k + 1);
            if ((s = ks_study_load_text(rows[k].config, name, c->st->base->dir, &old, err)) !=
                KS_OK)
                break;
            memset(&h, 0, sizeof h);
            h.space = &old->space;
            h.max_trials = old->max_trials;
            h.max_epochs = old->base->fit.epochs;
            h.seed = old->base->seed;
            R = old->method->full_budget ? old->method->full_budget(old->method_args, &h) : R;
            ks_study_free(old);
        }
        if (end <= first)
            continue;           /* grew again before a trial ran */
        if (c->n_parts > 0 && c->parts[c->n_parts - 1].max_epochs == R)
            ;                   /* the same plan goes on */
        else if (c->n_parts == KS_MAX_BUDGET_PARTS)
            s = ks_error_set(err, KS_ERR_CONFIG, "%s: the study's max_epochs grew more than %d "
                             "times: run it with --fresh", c->paths.db, KS_MAX_BUDGET_PARTS - 1);
        else
            c->parts[c->n_parts++] = (ks_budget_part){first, R};
        first = end;
    }
    if (c->n_parts < 2)
        c->n_parts = 0;
    ks_study_growths_free(rows, n);
    return s;
}

/*
 * At the end: hyperband's configurations stopped below the full budget were pruned.
 * Their status is final only now, so their TensorBoard session ends now (the workers
 * leave a rung's end unwritten: it may be promoted).  The status shown is SUCCESS, as
 * for a pruned trial in Keras Tuner: each ran the budget its rung gave it, and its
 * metrics are valid; the end time is its last rung's (the database keeps it).
 */
static void mark_pruned(controller *c)
{
    for (int i = 0; i < c->n; i++) {
        trial_state *t = &c->trials[i];
        ks_trial_info info;
        char run[64], dir[1200];
        ks_error e;
        if (t->status != KS_TRIAL_COMPLETE || !ctl_may_promote(c, t) ||
            ks_db_trial_set_status(c->db, t->id, KS_TRIAL_PRUNED, NULL, &e) != KS_OK)
            continue;
        t->status = KS_TRIAL_PRUNED;
        if (ks_db_trial_get(c->db, t->id, &info, &e) != KS_OK)
            continue;
        ks_tb_trial_run_name(t->number, run, sizeof run);
        snprintf(dir, sizeof dir, "%s/%s", c->log_dir, run);
        if (ks_tb_hparams_session_end_at(dir, KS_TRIAL_PRUNED, info.ended, &e) != KS_OK)
            fprintf(c->out, "warning: TensorBoard session end of trial %d: %s\n", t->number,
                    e.msg);
        ks_trial_info_free(&info);
    }
}

/*
 * The study in study.db with what it declares (its folder, its search on parallel
 * workers), its trials so far, and, when it has none yet, the HParams experiment.  A
 * grown study keeps the text it had (ks_db_study_grow) before anything else is written.
 */
static ks_status start_study(controller *c, int parallel, ks_error *err)
{
    const ks_study *st = c->st;
    ks_search_info search;
    ks_history h;
    ks_status s;
    int grow = 0;
    memset(&h, 0, sizeof h);
    h.space = &st->space;
    h.max_trials = st->max_trials;
    h.max_epochs = st->base->fit.epochs;
    h.seed = st->base->seed;
    c->full_budget = st->method->full_budget ? st->method->full_budget(st->method_args, &h)
                                             : st->base->fit.epochs;
    if ((s = open_study(c, &grow, err)) != KS_OK || (s = load_trials(c, err)) != KS_OK)
        return s;
    if (grow) {
        if ((s = ks_db_study_grow(c->db, c->study_id, st->text, c->hash, c->n, err)) != KS_OK)
            return s;
        fprintf(c->out, "study %s grew after %d trial%s: %s (the file it had is kept in %s)\n",
                st->base->name, c->n, c->n == 1 ? "" : "s", c->growth, c->paths.db);
    }
    if ((s = load_growth(c, err)) != KS_OK)
        return s;
    ctl_history_extras(c, &h);
    c->total = st->method->total ? st->method->total(st->method_args, &h) : st->max_trials;
    if ((s = ctl_search_info(c, parallel, &search, err)) != KS_OK)
        return s;
    if ((s = set_context(c, &search, err)) == KS_OK && c->n == 0)
        s = write_experiment(c, &search, err);  /* once: a study with trials has written it */
    ks_search_info_free(&search);
    return s;
}

static void free_controller(controller *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->trials[i].curve);
    for (int i = 0; c->jobs && i < c->n_jobs; i++) {
        ks_committer_free(c->jobs[i].committer);
        for (int k = 0; k < c->jobs[i].n_hp; k++)
            ks_value_free(&c->jobs[i].hp_store[k]);
    }
    free(c->jobs);
    ctl_warm_free(&c->warm);
    free(c->trials);
    free(c->views);
    ks_db_close(c->db);
    ks_run_lock_release(c->run_lock);
}

/* Run the study on parallel worker threads of this process. */
static ks_status run_threads(controller *c, int parallel)
{
    ctl_trainer w;
    ctl_transport tp;
    ks_status s;
    memset(&w, 0, sizeof w);
    w.st = c->st;
    w.data = c->data;
    w.stop = c->o->stop;
    w.abort = &c->abort;
    w.tb = c->tb;
    w.policy = c->policy;
    if ((s = ctl_threads_new(&w, parallel, &tp, &c->err)) != KS_OK)
        return s;
    s = ctl_run(c, &tp);
    ctl_threads_free(&tp);
    return s;
}

/* Run the study on the worker ranks of an MPI job (this is rank 0). */
static ks_status run_ranks(controller *c, int parallel)
{
    ctl_transport tp;
    ks_status s;
    if ((s = ctl_mpi_new(parallel, &tp, &c->err)) != KS_OK)
        return s;
    s = ctl_run(c, &tp);
    ctl_mpi_free(&tp);
    return s;
}

/* A worker rank of an MPI job: train rank 0's requests on this rank's copy of the data. */
static ks_status serve_rank(controller *c, int parallel, ks_error *err)
{
    ctl_trainer w;
    ks_status s;
    if ((s = tensorboard_settings(c, err)) != KS_OK)
        return s;
    memset(&w, 0, sizeof w);
    w.st = c->st;
    w.data = c->data;
    w.stop = c->o->stop;
    w.tb = c->tb;
    w.policy = c->policy;
    return ctl_mpi_serve(&w, parallel, err);
}

ks_status ks_study_run(ks_study *st, const ks_run_options *o, ks_error *err)
{
    controller c;
    ks_study_data data;
    ks_ensemble_request ens;
    ks_status s;
    int parallel, ranks = ctl_mpi_size() - 1, workers;
    char what[1100];
    struct stat sb;
    static const volatile sig_atomic_t never = 0;
    ks_run_options opts = *o;
    parallel = o->parallel > 0 ? o->parallel : st->parallel;
    if (parallel > KS_MAX_PARALLEL)
        return ks_error_set(err, KS_ERR_USAGE, "at most %d workers, not %d", KS_MAX_PARALLEL,
                            parallel);
    /* every worker thread of the study: the worker ranks' under MPI */
    workers = ranks > 0 ? ranks * parallel : parallel;
    if (!opts.stop)
        opts.stop = &never;
    memset(&c, 0, sizeof c);
    c.st = st;
    c.o = &opts;
    c.out = o->out ? o->out : stdout;
    c.tty = o->tty >= 0 ? o->tty : isatty(fileno(c.out));
    c.t0 = ks_now();
    atomic_init(&c.abort, 0);
    c.policy = st->checkpoints;
    memset(&data, 0, sizeof data);
    snprintf(what, sizeof what, "running %s", st->path);
    /* the run's lock first when the run exists (another process running the study is
       refused before the data is loaded); else once its directory is made */
    if ((s = ks_run_paths_for_name(st->base->name, &c.paths, err)) == KS_OK &&
        ctl_mpi_rank() == 0 && stat(c.paths.dir, &sb) == 0)
        s = ks_run_lock_acquire(&c.paths, what, &c.run_lock, err);
    if (s == KS_OK)
        s = ks_study_load_data(st, &data, err);
    if (ctl_mpi_size() > 1) {
        /* every rank loaded the same data, or the job ends here with nothing written */
        ks_error own = *err;
        s = ctl_mpi_check_data(&data, s, &own, err);
    }
    if (s != KS_OK)
        goto out;
    c.data = &data;
    if (ctl_mpi_rank() > 0) {
        s = serve_rank(&c, parallel, err);
        goto out;
    }
    if ((s = ks_study_ensemble_request(st, &ens, err)) != KS_OK ||
        (s = ks_study_check_with_data(st, &data, err)) != KS_OK)
        goto out;
    if (st->warnings)
        fputs(st->warnings, c.out);
    if ((s = ctl_warm_load(&c, err)) != KS_OK || (s = tensorboard_settings(&c, err)) != KS_OK ||
        (s = ks_mkdirs(c.paths.dir, err)) != KS_OK ||
        (!c.run_lock && (s = ks_run_lock_acquire(&c.paths, what, &c.run_lock, err)) != KS_OK) ||
        (s = start_study(&c, workers, err)) != KS_OK)
        goto out;
    {
        char on[64] = "";
        if (ranks > 0)
            snprintf(on, sizeof on, " (%d MPI rank%s x %d)", ranks, ranks == 1 ? "" : "s",
                     parallel);
        fprintf(c.out, "study %s: %s search, %s %s, %d trial%s%s, %d worker%s%s; %s\n",
                st->base->name, st->method->name, st->maximize ? "maximize" : "minimize",
                st->metric, c.total, c.total == 1 ? "" : "s", c.n ? " (resuming)" : "",
                workers, workers == 1 ? "" : "s", on, c.paths.db);
    }
    if (c.n_resume)
        fprintf(c.out, "%d unfinished trial%s from the last run will continue from their "
                       "checkpoints\n",
                c.n_resume, c.n_resume == 1 ? "" : "s");
    fflush(c.out);
    s = ctl_mpi_size() > 1 ? run_ranks(&c, parallel) : run_threads(&c, parallel);
    ctl_clear_status(&c);
    if (s == KS_ERR_DB || s == KS_ERR_IO) {
        /* ksearch's own writing failed (a full disk …): the trials it stopped are recorded
           interrupted, and resume when the study runs again */
        char why[1200];
        ks_error_format(&c.err, why, sizeof why);
        s = ks_error_set(err, KS_INTERRUPTED,
                         "%s; the study stopped, its running trials are kept as interrupted: "
                         "run the same command again once this is fixed, to resume",
                         why);
        goto out;
    }
    if (s != KS_OK) {
        if (err)
            *err = c.err;
        goto out;
    }
    /* an interrupted study has not ended: its rungs may still be promoted when it resumes */
    if (!*opts.stop)
        mark_pruned(&c);
    /* then the checkpoints the policy no longer keeps go, and their space */
    ctl_retain_end(&c, !*opts.stop);
    if (*opts.stop) {
        s = ks_error_set(err, KS_INTERRUPTED,
                         "interrupted: finished trials are kept in %s; run the same command "
                         "again to resume",
                         c.paths.db);
        goto out;
    }
    fprintf(c.out, "\n");
    {
        ks_error e;
        ks_report_ls(c.db, st->base->name, KS_REPORT_TEXT, c.out, &e);
    }
    if (ens.top > 0) {
        /* the study's database is closed while the ensemble step reads it */
        ks_db_close(c.db);
        c.db = NULL;
        ens.out = c.out;
        fflush(c.out);
        if ((s = ks_study_ensemble(st, &data, &ens, err)) != KS_OK)
            goto out;
    }
    fprintf(c.out, "\nstudy database: %s\nTensorBoard:    tensorboard --logdir %s\n", c.paths.db,
            c.log_dir);
    ctl_report_end(&c);
out:
    /* the worker ranks wait for requests: an end before the study ran releases them */
    if (ctl_mpi_rank() == 0)
        ctl_mpi_release();
    free_controller(&c);
    ks_study_data_free(&data);
    return s;
}
