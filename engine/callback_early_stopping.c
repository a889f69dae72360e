/*
 * callback_early_stopping.c — EarlyStopping as Keras 3 does it: stop when the monitored
 * value has not improved for patience epochs (never after the first epoch), optionally
 * against a baseline, and with restore_best_weights put the best epoch's weights back
 * at train end (also when training ran to the end).
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

static const ks_key keys[] = {
    {"monitor", KS_KEY_STRING, offsetof(ks_early_stopping_args, monitor), KS_LOG_NAME_MAX, 0, 0,
     "val_loss", NULL, 0},
    {"min_delta", KS_KEY_FLOAT, offsetof(ks_early_stopping_args, min_delta), 0, -INFINITY,
     INFINITY, "0", NULL, 0},
    {"patience", KS_KEY_INT, offsetof(ks_early_stopping_args, patience), 0, 0, INFINITY, "0",
     NULL, 0},
    {"verbose", KS_KEY_INT, offsetof(ks_early_stopping_args, verbose), 0, 0, INFINITY, "0", NULL,
     0},
    {"mode", KS_KEY_ENUM, offsetof(ks_early_stopping_args, mode), 0, 0, 0, "auto",
     ks_monitor_mode_names, 0},
    {"baseline", KS_KEY_FLOAT, offsetof(ks_early_stopping_args, baseline), 0, -INFINITY,
     INFINITY, "nan", NULL, KS_KEY_NULLABLE},
    {"restore_best_weights", KS_KEY_BOOL, offsetof(ks_early_stopping_args, restore_best_weights),
     0, 0, 0, "false", NULL, 0},
    {"start_from_epoch", KS_KEY_INT, offsetof(ks_early_stopping_args, start_from_epoch), 0, 0,
     INFINITY, "0", NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

typedef struct early_stopping {
    ks_callback *self;
    ks_early_stopping_args a;
    int maximize;
    double min_delta;           /* |min_delta|, negated when minimizing (as Keras) */
    /* per fit */
    int wait;
    int stopped_epoch;          /* -1: did not stop */
    int has_best;               /* best is not None */
    double best;
    int best_epoch;             /* -1: none */
    int has_weights;            /* best_weights is not None */
    float *weights;             /* the copy, allocated at train begin */
    size_t n_weights;
    int warned;
} early_stopping;

ks_early_stopping_args ks_early_stopping_args_default(void)
{
    ks_early_stopping_args a;
    memset(&a, 0, sizeof a);
    ks_keys_defaults(keys, &a);
    return a;
}

static int improves(const early_stopping *es, double value, double reference)
{
    return es->maximize ? value - es->min_delta > reference : value - es->min_delta < reference;
}

static ks_status es_train_begin(void *user, const ks_callback_ctx *ctx)
{
    early_stopping *es = user;
    es->wait = 0;
    es->stopped_epoch = -1;
    es->has_best = 0;
    es->best_epoch = -1;
    es->has_weights = 0;
    es->warned = 0;
    es->self->message[0] = '\0';
    if (es->a.restore_best_weights) {
        size_t n;
        if (!ctx->model) {
            snprintf(es->self->message, sizeof es->self->message,
                     "restore_best_weights needs a model");
            return KS_ERR_CONFIG;
        }
        n = ks_model_weights_size(ctx->model);
        if (n != es->n_weights || !es->weights) {
            free(es->weights);
            es->weights = malloc((n ? n : 1) * sizeof *es->weights);
            es->n_weights = es->weights ? n : 0;
            if (!es->weights) {
                snprintf(es->self->message, sizeof es->self->message,
                         "out of memory for a copy of %zu weights", n);
                return KS_ERR_NOMEM;
            }
        }
    }
    return KS_OK;
}

static void keep_weights(early_stopping *es, ks_model *m)
{
    memcpy(es->weights, ks_model_weights(m), es->n_weights * sizeof *es->weights);
    es->has_weights = 1;
}

static ks_status es_epoch_end(void *user, const ks_callback_ctx *ctx)
{
    early_stopping *es = user;
    double current;
    int epoch = ctx->epoch;
    int restore = es->a.restore_best_weights && es->weights && ctx->model;
    if (!ks_logs_get(ctx->logs, es->a.monitor, &current)) {
        if (!es->warned) {
            char avail[KS_LOGS_MAX * KS_LOG_NAME_MAX] = "";
            ks_logs_names(ctx->logs, ",", avail, sizeof avail);
            ks_callback_print(ctx, 1,
                              "warning: Early stopping conditioned on metric `%s` which is not "
                              "available. Available metrics are: %s",
                              es->a.monitor, avail);
            es->warned = 1;
        }
        return KS_OK;
    }
    if (epoch < es->a.start_from_epoch)
        return KS_OK;
    if (restore && !es->has_weights) {
        /* the weights were never kept: the current ones are the best so far */
        keep_weights(es, ctx->model);
        es->best_epoch = epoch;
    }
    es->wait++;
    if (!es->has_best || improves(es, current, es->best)) {
        es->best = current;
        es->has_best = 1;
        es->best_epoch = epoch;
        if (restore)
            keep_weights(es, ctx->model);
        /* wait restarts only when both the previous best and the baseline are beaten */
        if (isnan(es->a.baseline) || improves(es, current, es->a.baseline))
            es->wait = 0;
        return KS_OK;
    }
    if (es->wait >= es->a.patience && epoch > 0) {
        es->stopped_epoch = epoch;
        return KS_STOPPED;
    }
    return KS_OK;
}

static ks_status es_train_end(void *user, const ks_callback_ctx *ctx)
{
    early_stopping *es = user;
    char *msg = es->self->message;
    size_t size = sizeof es->self->message;
    msg[0] = '\0';
    /* the message keeps what happened, for drivers that report it (the tracker) */
    if (es->stopped_epoch > 0) {
        snprintf(msg, size, "Epoch %d: early stopping", es->stopped_epoch + 1);
        if (es->a.verbose > 0)
            ks_callback_print(ctx, 0, "%s", msg);
    }
    if (es->a.restore_best_weights && es->has_weights && ctx->model &&
        ks_model_weights_size(ctx->model) == es->n_weights) {
        size_t len = strlen(msg);
        snprintf(msg + len, size - len, "%sRestoring model weights from the end of the best "
                 "epoch: %d.", len ? ". " : "", es->best_epoch + 1);
        if (es->a.verbose > 0)
            ks_callback_print(ctx, 0, "%s", msg + len + (len ? 2 : 0));
        memcpy(ks_model_weights(ctx->model), es->weights, es->n_weights * sizeof *es->weights);
    }
    return KS_OK;
}

static void es_free(void *user)
{
    early_stopping *es = user;
    if (!es)
        return;
    free(es->weights);
    free(es);
}

ks_status ks_callback_early_stopping_new(const ks_early_stopping_args *a, ks_callback **out,
                                         ks_error *err)
{
    ks_callback *cb;
    early_stopping *es;
    *out = NULL;
    if (!a->monitor[0])
        return ks_error_set(err, KS_ERR_CONFIG, "EarlyStopping: monitor must not be empty");
    if (a->patience < 0 || a->start_from_epoch < 0)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "EarlyStopping: patience and start_from_epoch must be >= 0, got %d "
                            "and %d", a->patience, a->start_from_epoch);
    if (a->mode < KS_MODE_AUTO || a->mode > KS_MODE_MAX)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "EarlyStopping: mode must be KS_MODE_AUTO, _MIN or _MAX, got %d",
                            a->mode);
    if (!isfinite(a->min_delta))
        return ks_error_set(err, KS_ERR_CONFIG, "EarlyStopping: min_delta must be finite");
    cb = ks_callback_alloc("EarlyStopping", sizeof *es);
    if (!cb)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    es = cb->user;
    cb->free = es_free;
    es->self = cb;
    es->a = *a;
    es->maximize = ks_monitor_is_max(a->mode, a->monitor);
    es->min_delta = es->maximize ? fabs(a->min_delta) : -fabs(a->min_delta);
    es->stopped_epoch = -1;
    es->best_epoch = -1;
    cb->on_train_begin = es_train_begin;
    cb->on_epoch_end = es_epoch_end;
    cb->on_train_end = es_train_end;
    *out = cb;
    return KS_OK;
}

ks_status ks_early_stopping_from_config(const ks_value *args, ks_callback **out, ks_error *err)
{
    ks_early_stopping_args a = ks_early_stopping_args_default();
    ks_status s;
    *out = NULL;
    if ((s = ks_keys_read(keys, args, "EarlyStopping", &a, err)) != KS_OK)
        return s;
    return ks_callback_early_stopping_new(&a, out, err);
}

int ks_early_stopping_stopped_epoch(const ks_callback *cb)
{
    if (!cb || cb->on_epoch_end != es_epoch_end)
        return -1;
    return ((const early_stopping *)cb->user)->stopped_epoch;
}

int ks_early_stopping_best_epoch(const ks_callback *cb)
{
    if (!cb || cb->on_epoch_end != es_epoch_end)
        return -1;
    return ((const early_stopping *)cb->user)->best_epoch;
}
