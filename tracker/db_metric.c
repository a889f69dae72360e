/*
 * db_metric.c — metric values in the study database: an epoch's record (its values,
 * the trial's progress, checkpoints and histograms in one transaction), batch-level
 * values, and reading a trial's metric names and series back.  A value is keyed by
 * (trial, name, step, epoch): writing it again replaces it, never duplicates it.
 */
#include "db_impl.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Upsert every value of logs at (trial, step, epoch) with wall_time; inside a transaction. */
static ks_status put_logs(ks_db *db, int64_t trial_id, int64_t step, int epoch,
                          const ks_logs *logs, double wall_time, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    if (!logs || logs->n == 0)
        return KS_OK;
    s = ks_dbi_prepare(db, "INSERT INTO metric (trial_id, name, step, epoch, pos, value, wall_time)"
                           " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                           " ON CONFLICT (trial_id, name, step, epoch) DO UPDATE SET"
                           " pos = excluded.pos, value = excluded.value,"
                           " wall_time = excluded.wall_time",
                       &st, err);
    if (s != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, trial_id);
    sqlite3_bind_int64(st, 3, step);
    sqlite3_bind_int(st, 4, epoch);
    sqlite3_bind_double(st, 7, wall_time);
    for (int i = 0; s == KS_OK && i < logs->n; i++) {
        const char *name = logs->name[i];
        int rc;
        sqlite3_bind_text(st, 2, name, (int)strnlen(name, KS_LOG_NAME_MAX), SQLITE_STATIC);
        sqlite3_bind_int(st, 5, i);
        if (isnan(logs->value[i]))      /* as SQLite would store it anyway */
            sqlite3_bind_null(st, 6);
        else
            sqlite3_bind_double(st, 6, logs->value[i]);
        rc = ks_dbi_step(db, st);
        if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
            s = ks_dbi_missing(db, err, "no trial with id %lld", (long long)trial_id);
        else if (rc != SQLITE_DONE)
            s = ks_dbi_fail_trial(db, rc, err, trial_id, "writing %s of", name);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return s;
}

static ks_status check_logs(const ks_logs *logs, const char *fn, ks_error *err)
{
    if (logs && (logs->n < 0 || logs->n > KS_LOGS_MAX))
        return ks_dbi_bad_arg(err, "%s: logs hold %d values (expected 0 to %d)", fn, logs->n,
                              KS_LOGS_MAX);
    return KS_OK;
}

/* The trial's progress after epoch: epochs = max(epochs, epoch + 1), and its new best. */
static ks_status put_progress(ks_db *db, int64_t trial_id, const ks_epoch_record *rec,
                              ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s = ks_dbi_prepare(
        db, "UPDATE trial SET epochs = max(epochs, ?2),"
            " objective = CASE WHEN ?3 THEN ?4 ELSE objective END,"
            " best_epoch = CASE WHEN ?3 THEN ?5 ELSE best_epoch END"
            " WHERE id = ?1",
        &st, err);
    if (s != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, trial_id);
    sqlite3_bind_int(st, 2, rec->epoch + 1);
    sqlite3_bind_int(st, 3, rec->improved != 0);
    if (isnan(rec->objective))
        sqlite3_bind_null(st, 4);
    else
        sqlite3_bind_double(st, 4, rec->objective);
    sqlite3_bind_int(st, 5, rec->epoch);
    s = ks_dbi_run(db, st, err, "recording a trial's progress");
    if (s == KS_OK && sqlite3_changes(db->conn) == 0)
        s = ks_dbi_missing(db, err, "no trial with id %lld", (long long)trial_id);
    sqlite3_finalize(st);
    return s;
}

ks_status ks_db_epoch_write(ks_db *db, int64_t trial_id, const ks_epoch_record *rec,
                            ks_error *err)
{
    char what[120], label[64];
    ks_status s;
    if (!db || !rec)
        return ks_dbi_bad_arg(err, "ks_db_epoch_write: db or rec is NULL");
    if (rec->epoch < 0 || rec->epoch == INT_MAX)
        return ks_dbi_bad_arg(err, "ks_db_epoch_write: epoch %d", rec->epoch);
    if ((s = check_logs(rec->logs, "ks_db_epoch_write", err)) != KS_OK)
        return s;
    if (rec->n_histograms < 0 ||
        (rec->n_histograms > 0 && (!rec->histogram_tags || !rec->histograms)))
        return ks_dbi_bad_arg(err, "ks_db_epoch_write: %d histograms without tags or data",
                              rec->n_histograms);
    for (int i = 0; i < rec->n_histograms; i++)
        if (!rec->histogram_tags[i] || !rec->histograms[i])
            return ks_dbi_bad_arg(err, "ks_db_epoch_write: histogram %d has no tag or data", i);
    ks_dbi_trial_label(db, trial_id, label, sizeof label);
    snprintf(what, sizeof what, "writing epoch %d of %s", rec->epoch, label);
    if ((s = ks_dbi_begin(db, err, what)) != KS_OK)
        return s;
    s = put_logs(db, trial_id, -1, rec->epoch, rec->logs, rec->wall_time, err);
    if (s == KS_OK)
        s = put_progress(db, trial_id, rec, err);
    if (s == KS_OK && rec->last_checkpoint)
        s = ks_dbi_checkpoint_put(db, trial_id, KS_CHECKPOINT_LAST, rec->epoch, rec->objective,
                                  rec->last_checkpoint, rec->last_len, err);
    if (s == KS_OK && rec->best_checkpoint)
        s = ks_dbi_checkpoint_put(db, trial_id, KS_CHECKPOINT_BEST, rec->epoch, rec->objective,
                                  rec->best_checkpoint, rec->best_len, err);
    if (s == KS_OK && rec->n_histograms > 0)
        s = ks_dbi_histograms_put(db, trial_id, rec->epoch, rec->n_histograms,
                                  rec->histogram_tags, rec->histograms, err);
    return ks_dbi_end(db, s, err, what);
}

ks_status ks_db_batch_write(ks_db *db, int64_t trial_id, int64_t step, const ks_logs *logs,
                            ks_error *err)
{
    sqlite3_stmt *st;
    char what[120], label[64];
    int epoch = 0, rc;
    ks_status s;
    if (!db)
        return ks_dbi_bad_arg(err, "ks_db_batch_write: db is NULL");
    if (step < 0)
        return ks_dbi_bad_arg(err, "ks_db_batch_write: step %lld (expected >= 0)",
                              (long long)step);
    if ((s = check_logs(logs, "ks_db_batch_write", err)) != KS_OK)
        return s;
    ks_dbi_trial_label(db, trial_id, label, sizeof label);
    snprintf(what, sizeof what, "writing batch %lld of %s", (long long)step, label);
    if ((s = ks_dbi_begin(db, err, what)) != KS_OK)
        return s;
    /* a batch belongs to the epoch in progress: the number of epochs recorded */
    if ((s = ks_dbi_prepare(db, "SELECT epochs FROM trial WHERE id = ?1", &st, err)) == KS_OK) {
        sqlite3_bind_int64(st, 1, trial_id);
        rc = ks_dbi_step(db, st);
        if (rc == SQLITE_ROW)
            epoch = sqlite3_column_int(st, 0);
        else if (rc == SQLITE_DONE)
            s = ks_dbi_missing(db, err, "no trial with id %lld", (long long)trial_id);
        else
            s = ks_dbi_fail(db, rc, err, "%s", what);
        sqlite3_finalize(st);
    }
    if (s == KS_OK)
        s = put_logs(db, trial_id, step, epoch, logs, ks_dbi_now(), err);
    return ks_dbi_end(db, s, err, what);
}

ks_status ks_db_metric_names(ks_db *db, int64_t trial_id, char ***names, ks_error *err)
{
    ks_dbi_strv sv = {0};
    sqlite3_stmt *st;
    ks_status s;
    int rc = SQLITE_DONE;
    if (!db || !names)
        return ks_dbi_bad_arg(err, "ks_db_metric_names: db or names is NULL");
    *names = NULL;
    /* in the order of the logs (loss, accuracy, val_loss …), as Keras shows them */
    if ((s = ks_dbi_prepare(db, "SELECT name FROM metric WHERE trial_id = ?1"
                                " GROUP BY name ORDER BY min(pos), name",
                            &st, err)) != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, trial_id);
    while (s == KS_OK && (rc = ks_dbi_step(db, st)) == SQLITE_ROW)
        s = ks_dbi_strv_push(&sv, (const char *)sqlite3_column_text(st, 0), err);
    if (s == KS_OK && rc != SQLITE_DONE)
        s = ks_dbi_fail_trial(db, rc, err, trial_id, "reading the metric names of");
    sqlite3_finalize(st);
    if (s == KS_OK)
        return ks_dbi_strv_finish(&sv, names, err);
    ks_strv_free(sv.v);
    return s;
}

ks_status ks_db_metric_series(ks_db *db, int64_t trial_id, const char *name, int by_batch,
                              ks_metric_point **points, int *n, ks_error *err)
{
    sqlite3_stmt *st;
    ks_metric_point *v = NULL;
    int count = 0, cap = 0, rc = SQLITE_DONE;
    ks_status s;
    if (!db || !name || !points || !n)
        return ks_dbi_bad_arg(err, "ks_db_metric_series: db, name, points or n is NULL");
    *points = NULL;
    *n = 0;
    s = ks_dbi_prepare(db, by_batch ? "SELECT epoch, step, value, wall_time FROM metric"
                                      " WHERE trial_id = ?1 AND name = ?2 AND step >= 0"
                                      " ORDER BY step, epoch"
                                    : "SELECT epoch, step, value, wall_time FROM metric"
                                      " WHERE trial_id = ?1 AND name = ?2 AND step = -1"
                                      " ORDER BY step, epoch",
                       &st, err);
    if (s != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, trial_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    while ((rc = ks_dbi_step(db, st)) == SQLITE_ROW) {
        if (count == cap) {
            int c2 = cap ? 2 * cap : 64;
            ks_metric_point *v2 = realloc(v, (size_t)c2 * sizeof *v2);
            if (!v2) {
                s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
                break;
            }
            v = v2;
            cap = c2;
        }
        v[count].epoch = sqlite3_column_int(st, 0);
        v[count].step = sqlite3_column_int64(st, 1);
        v[count].value = ks_dbi_real(st, 2, NAN);
        v[count].wall_time = ks_dbi_real(st, 3, 0.0);
        count++;
    }
    if (s == KS_OK && rc != SQLITE_DONE)
        s = ks_dbi_fail_trial(db, rc, err, trial_id, "reading %s of", name);
    sqlite3_finalize(st);
    if (s != KS_OK) {
        free(v);
        return s;
    }
    *points = v;
    *n = count;
    return KS_OK;
}

ks_status ks_db_trial_best(ks_db *db, int64_t trial_id, const char *metric, int maximize,
                           int before, double *value, int *epoch, ks_error *err)
{
    sqlite3_stmt *st;
    ks_status s;
    int rc;
    if (!db || !metric || !value || !epoch)
        return ks_dbi_bad_arg(err, "ks_db_trial_best: db, metric, value or epoch is NULL");
    *value = NAN;
    *epoch = -1;
    /* NaN is stored as NULL: never a best */
    s = ks_dbi_prepare(db, maximize ? "SELECT value, epoch FROM metric"
                                      " WHERE trial_id = ?1 AND name = ?2 AND step = -1"
                                      " AND epoch < ?3 AND value IS NOT NULL"
                                      " ORDER BY value DESC, epoch LIMIT 1"
                                    : "SELECT value, epoch FROM metric"
                                      " WHERE trial_id = ?1 AND name = ?2 AND step = -1"
                                      " AND epoch < ?3 AND value IS NOT NULL"
                                      " ORDER BY value, epoch LIMIT 1",
                       &st, err);
    if (s != KS_OK)
        return s;
    sqlite3_bind_int64(st, 1, trial_id);
    sqlite3_bind_text(st, 2, metric, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, before);
    rc = ks_dbi_step(db, st);
    if (rc == SQLITE_ROW) {
        *value = sqlite3_column_double(st, 0);
        *epoch = sqlite3_column_int(st, 1);
    } else if (rc != SQLITE_DONE) {
        s = ks_dbi_fail_trial(db, rc, err, trial_id, "reading the best %s of", metric);
    }
    sqlite3_finalize(st);
    return s;
}
