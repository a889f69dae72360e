/*
 * callback.c — calling a list of callbacks, allocating and freeing them, and the
 * registry of built-in callbacks by Keras class name.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

ks_status ks_callbacks_call(ks_callback *const *cbs, int n, size_t event,
                            const ks_callback_ctx *ctx, ks_error *err)
{
    ks_status result = KS_OK;
    for (int i = 0; i < n; i++) {
        ks_callback *cb = cbs[i];
        ks_callback_fn fn;
        ks_status s;
        if (!cb)
            continue;
        fn = *(ks_callback_fn *)((char *)cb + event);
        if (!fn)
            continue;
        cb->message[0] = '\0';     /* so that an error reports only this call's reason */
        s = fn(cb->user, ctx);
        if (s == KS_STOPPED) {
            result = KS_STOPPED;
        } else if (s != KS_OK) {
            ks_error_set(err, s, "%s: %s", cb->name ? cb->name : "callback",
                         cb->message[0] ? cb->message : ks_status_str(s));
            return s;
        }
    }
    return result;
}

int ks_callbacks_have(ks_callback *const *cbs, int n, size_t event)
{
    for (int i = 0; i < n; i++)
        if (cbs[i] && *(ks_callback_fn *)((char *)cbs[i] + event))
            return 1;
    return 0;
}

ks_callback *ks_callback_alloc(const char *name, size_t user_size)
{
    ks_callback *cb = calloc(1, sizeof *cb);
    if (!cb)
        return NULL;
    cb->name = name;
    if (user_size) {
        cb->user = calloc(1, user_size);
        if (!cb->user) {
            free(cb);
            return NULL;
        }
        cb->free = free;
    }
    return cb;
}

void ks_callback_free(ks_callback *cb)
{
    if (!cb)
        return;
    if (cb->free)
        cb->free(cb->user);
    free(cb);
}

void ks_format_log_value(double v, char *buf, size_t size)
{
    if (fabs(v) > 1e-3)
        snprintf(buf, size, "%.4f", v);
    else
        snprintf(buf, size, "%.4e", v);
}

/* ------------------------------------------------------------- logs */

void ks_logs_clear(ks_logs *l)
{
    l->n = 0;
    l->dropped = 0;
}

ks_status ks_logs_set(ks_logs *l, const char *name, double value)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->name[i], name) == 0) {
            l->value[i] = value;
            return KS_OK;
        }
    if (l->n == KS_LOGS_MAX) {
        l->dropped++;
        return KS_ERR_CONFIG;
    }
    snprintf(l->name[l->n], KS_LOG_NAME_MAX, "%s", name);
    l->value[l->n++] = value;
    return KS_OK;
}

void ks_logs_names(const ks_logs *l, const char *sep, char *buf, size_t size)
{
    size_t len = strlen(buf);
    for (int i = 0; i < l->n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? sep : "", l->name[i]);
}

int ks_logs_get(const ks_logs *l, const char *name, double *value)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->name[i], name) == 0) {
            if (value)
                *value = l->value[i];
            return 1;
        }
    return 0;
}

void ks_fit_history_init(ks_fit_history *h)
{
    memset(h, 0, sizeof *h);
}

void ks_fit_history_free(ks_fit_history *h)
{
    if (!h)
        return;
    free(h->epoch);
    free(h->logs);
    memset(h, 0, sizeof *h);
}

ks_status ks_fit_history_add(ks_fit_history *h, int epoch, const ks_logs *logs)
{
    if (h->n_epochs == h->cap) {
        int cap = h->cap ? h->cap * 2 : 16;
        int *e = realloc(h->epoch, (size_t)cap * sizeof *e);
        ks_logs *l;
        if (!e)
            return KS_ERR_NOMEM;
        h->epoch = e;
        l = realloc(h->logs, (size_t)cap * sizeof *l);
        if (!l)
            return KS_ERR_NOMEM;
        h->logs = l;
        h->cap = cap;
    }
    h->epoch[h->n_epochs] = epoch;
    h->logs[h->n_epochs] = *logs;
    h->n_epochs++;
    return KS_OK;
}
