/*
 * callback_terminate_on_nan.c — TerminateOnNaN: after every training batch, a NaN or
 * infinite running loss ends fit.  Keras only sets stop_training (unless raise_error);
 * here fit fails with KS_ERR_NAN either way, so that ksearch records the trial as
 * failed with the reason, instead of a finished trial with a NaN objective.
 */
#include "engine_impl.h"

#include <string.h>

typedef struct terminate_args {
    int raise_error;            /* Keras's argument: accepted; both values fail the fit */
} terminate_args;

static const ks_key keys[] = {
    {"raise_error", KS_KEY_BOOL, offsetof(terminate_args, raise_error), 0, 0, 0, "false", NULL,
     0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

typedef struct terminate_on_nan {
    ks_callback *self;
} terminate_on_nan;

static ks_status tn_train_batch_end(void *user, const ks_callback_ctx *ctx)
{
    terminate_on_nan *t = user;
    double loss;
    if (ks_logs_get(ctx->logs, "loss", &loss) && !isfinite(loss)) {
        snprintf(t->self->message, sizeof t->self->message,
                 "batch %d: invalid loss, terminating training", ctx->batch);
        return KS_ERR_NAN;
    }
    return KS_OK;
}

ks_status ks_callback_terminate_on_nan_new(ks_callback **out, ks_error *err)
{
    ks_callback *cb = ks_callback_alloc("TerminateOnNaN", sizeof(terminate_on_nan));
    *out = NULL;
    if (!cb)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    ((terminate_on_nan *)cb->user)->self = cb;
    cb->on_train_batch_end = tn_train_batch_end;
    *out = cb;
    return KS_OK;
}

ks_status ks_terminate_on_nan_from_config(const ks_value *args, ks_callback **out,
                                          ks_error *err)
{
    terminate_args a;
    ks_status s;
    *out = NULL;
    ks_keys_defaults(keys, &a);
    if ((s = ks_keys_read(keys, args, "TerminateOnNaN", &a, err)) != KS_OK)
        return s;
    return ks_callback_terminate_on_nan_new(out, err);
}
