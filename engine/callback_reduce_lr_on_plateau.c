/*
 * callback_reduce_lr_on_plateau.c — ReduceLROnPlateau as Keras 3 does it: multiply the
 * learning rate by factor (not below min_lr) when the monitored value has not improved
 * by min_delta for patience epochs, then wait cooldown epochs.  Every epoch's logs get
 * "learning_rate" (the rate before any reduction), as Keras adds it.
 */
#include "engine_impl.h"

#include <string.h>

static const ks_key keys[] = {
    {"monitor", KS_KEY_STRING, offsetof(ks_reduce_lr_on_plateau_args, monitor), KS_LOG_NAME_MAX,
     0, 0, "val_loss", NULL, 0},
    {"factor", KS_KEY_FLOAT, offsetof(ks_reduce_lr_on_plateau_args, factor), 0, 0, 1, "0.1",
     NULL, KS_KEY_MAX_EXCL},
    {"patience", KS_KEY_INT, offsetof(ks_reduce_lr_on_plateau_args, patience), 0, 0, INFINITY,
     "10", NULL, 0},
    {"verbose", KS_KEY_INT, offsetof(ks_reduce_lr_on_plateau_args, verbose), 0, 0, INFINITY, "0",
     NULL, 0},
    {"mode", KS_KEY_ENUM, offsetof(ks_reduce_lr_on_plateau_args, mode), 0, 0, 0, "auto",
     ks_monitor_mode_names, 0},
    {"min_delta", KS_KEY_FLOAT, offsetof(ks_reduce_lr_on_plateau_args, min_delta), 0, -INFINITY,
     INFINITY, "1e-4", NULL, 0},
    {"cooldown", KS_KEY_INT, offsetof(ks_reduce_lr_on_plateau_args, cooldown), 0, 0, INFINITY,
     "0", NULL, 0},
    {"min_lr", KS_KEY_FLOAT, offsetof(ks_reduce_lr_on_plateau_args, min_lr), 0, 0, INFINITY, "0",
     NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

typedef struct reduce_lr {
    ks_callback *self;
    ks_reduce_lr_on_plateau_args a;
    int maximize;
    double best;
    int wait, cooldown_counter;
    int warned;
} reduce_lr;

ks_reduce_lr_on_plateau_args ks_reduce_lr_on_plateau_args_default(void)
{
    ks_reduce_lr_on_plateau_args a;
    memset(&a, 0, sizeof a);
    ks_keys_defaults(keys, &a);
    return a;
}

static void reset(reduce_lr *r)
{
    r->best = r->maximize ? -INFINITY : INFINITY;
    r->wait = 0;
    r->cooldown_counter = 0;
    r->warned = 0;
}

static int better(const reduce_lr *r, double a, double b)
{
    return r->maximize ? a > b + r->a.min_delta : a < b - r->a.min_delta;
}

/*
 * Keras keeps the rate in a float32 variable and reads it back as a Python float:
 * the logged rate is the float32 value (0.1 → 0.10000000149011612), and the new rate
 * is computed from it in double before being stored.
 */
static double lr_as_keras_reads_it(const ks_model *m)
{
    return (double)(float)ks_model_get_lr(m);
}

static ks_status rl_train_begin(void *user, const ks_callback_ctx *ctx)
{
    (void)ctx;
    reset(user);
    return KS_OK;
}

static ks_status rl_epoch_end(void *user, const ks_callback_ctx *ctx)
{
    reduce_lr *r = user;
    double current;
    if (!ctx->model) {
        snprintf(r->self->message, sizeof r->self->message, "no model to change");
        return KS_ERR_CONFIG;
    }
    if (ctx->epoch_logs)
        ks_logs_set(ctx->epoch_logs, "learning_rate", lr_as_keras_reads_it(ctx->model));
    if (!ks_logs_get(ctx->logs, r->a.monitor, &current)) {
        if (!r->warned) {
            char avail[KS_LOGS_MAX * KS_LOG_NAME_MAX] = "";
            ks_logs_names(ctx->logs, ",", avail, sizeof avail);
            ks_callback_print(ctx, 1,
                              "warning: Learning rate reduction is conditioned on metric `%s` "
                              "which is not available. Available metrics are: %s.",
                              r->a.monitor, avail);
            r->warned = 1;
        }
        return KS_OK;
    }
    if (r->cooldown_counter > 0) {
        r->cooldown_counter--;
        r->wait = 0;
    }
    if (better(r, current, r->best)) {
        r->best = current;
        r->wait = 0;
    } else if (r->cooldown_counter == 0) {
        r->wait++;
        if (r->wait >= r->a.patience) {
            double old_lr = lr_as_keras_reads_it(ctx->model);
            if (old_lr > (double)(float)r->a.min_lr) {
                double new_lr = old_lr * r->a.factor;
                char text[64];
                if (new_lr < r->a.min_lr)
                    new_lr = r->a.min_lr;
                ks_model_set_lr(ctx->model, new_lr);
                ks_format_float_py(new_lr, -1, text, sizeof text);
                snprintf(r->self->message, sizeof r->self->message,
                         "Epoch %d: ReduceLROnPlateau reducing learning rate to %s.",
                         ctx->epoch + 1, text);
                if (r->a.verbose > 0)
                    ks_callback_print(ctx, 1, "%s", r->self->message);
                r->cooldown_counter = r->a.cooldown;
                r->wait = 0;
            }
        }
    }
    return KS_OK;
}

ks_status ks_callback_reduce_lr_on_plateau_new(const ks_reduce_lr_on_plateau_args *a,
                                               ks_callback **out, ks_error *err)
{
    ks_callback *cb;
    reduce_lr *r;
    *out = NULL;
    if (!a->monitor[0])
        return ks_error_set(err, KS_ERR_CONFIG, "ReduceLROnPlateau: monitor must not be empty");
    if (!(a->factor >= 0.0 && a->factor < 1.0))
        return ks_error_set(err, KS_ERR_CONFIG,
                            "ReduceLROnPlateau does not support a factor >= 1 (or < 0), got %g",
                            a->factor);
    if (a->patience < 0 || a->cooldown < 0 || !(a->min_lr >= 0.0) || !isfinite(a->min_delta))
        return ks_error_set(err, KS_ERR_CONFIG,
                            "ReduceLROnPlateau: patience, cooldown and min_lr must be >= 0 and "
                            "min_delta finite");
    if (a->mode < KS_MODE_AUTO || a->mode > KS_MODE_MAX)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "ReduceLROnPlateau: mode must be KS_MODE_AUTO, _MIN or _MAX, got %d",
                            a->mode);
    cb = ks_callback_alloc("ReduceLROnPlateau", sizeof *r);
    if (!cb)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    r = cb->user;
    r->self = cb;
    r->a = *a;
    /* Keras's own auto rule here: maximize when "acc" is in the name */
    r->maximize = a->mode == KS_MODE_MAX ||
                  (a->mode == KS_MODE_AUTO && strstr(a->monitor, "acc") != NULL);
    reset(r);
    cb->on_train_begin = rl_train_begin;
    cb->on_epoch_end = rl_epoch_end;
    *out = cb;
    return KS_OK;
}

ks_status ks_reduce_lr_on_plateau_from_config(const ks_value *args, ks_callback **out,
                                              ks_error *err)
{
    ks_reduce_lr_on_plateau_args a = ks_reduce_lr_on_plateau_args_default();
    ks_status s;
    *out = NULL;
    if ((s = ks_keys_read(keys, args, "ReduceLROnPlateau", &a, err)) != KS_OK)
        return s;
    return ks_callback_reduce_lr_on_plateau_new(&a, out, err);
}
