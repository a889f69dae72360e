/*
 * regularizers.c — Keras's kernel regularizers l1, l2 and l1_l2: a penalty added
 * to the loss (l1·Σ|w| + l2·Σw², no ½) and its gradient added to the weights'.
 */
#include "engine_impl.h"

#include <string.h>

static const char *const reg_names[] = {"l1", "l2", "l1_l2", NULL};

typedef struct reg_args {
    double l1, l2;
} reg_args;

static const ks_key reg_keys[] = {
    {"l1", KS_KEY_FLOAT, offsetof(reg_args, l1), 0, 0, INFINITY, "0", NULL, 0},
    {"l2", KS_KEY_FLOAT, offsetof(reg_args, l2), 0, 0, INFINITY, "0", NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static int reg_index(const char *s)
{
    for (int i = 0; reg_names[i]; i++)
        if (strcasecmp(s, reg_names[i]) == 0 || (i == 2 && strcasecmp(s, "L1L2") == 0))
            return i;
    return -1;
}

static void defaults_for(int kind, ks_regularizer *out)
{
    out->l1 = kind == 0 || kind == 2 ? 0.01 : 0.0;
    out->l2 = kind == 1 || kind == 2 ? 0.01 : 0.0;
}

ks_status ks_regularizer_from_value(const ks_value *v, const char *what, ks_regularizer *out,
                                    ks_error *err)
{
    char got[64];
    out->l1 = out->l2 = 0.0;
    if (!v || v->kind == KS_VALUE_NULL)
        return KS_OK;
    if (v->kind == KS_VALUE_STRING) {
        int kind = reg_index(v->string);
        if (kind < 0) {
            const char *near = ks_nearest_name(v->string, reg_names);
            return ks_error_at(err, KS_ERR_CONFIG, v,
                               "%s: regularizer must be l1, l2 or l1_l2, got \"%s\"%s%s%s", what,
                               v->string, near ? " (did you mean \"" : "", near ? near : "",
                               near ? "\"?)" : "");
        }
        defaults_for(kind, out);
        return KS_OK;
    }
    if (v->kind == KS_VALUE_MAP) {
        reg_args a = {0, 0};
        /* {L2: {l2: 0.01}}: a class name with its arguments */
        if (v->n == 1 && reg_index(v->items[0].key) >= 0 &&
            v->items[0].kind != KS_VALUE_NUMBER) {
            int kind = reg_index(v->items[0].key);
            ks_regularizer d;
            ks_status s;
            defaults_for(kind, &d);
            a.l1 = d.l1;
            a.l2 = d.l2;
            if ((s = ks_keys_read(reg_keys, &v->items[0], what, &a, err)) != KS_OK)
                return s;
            out->l1 = a.l1;
            out->l2 = a.l2;
            return KS_OK;
        }
        {
            ks_status s = ks_keys_read(reg_keys, v, what, &a, err);
            if (s != KS_OK)
                return s;
            out->l1 = a.l1;
            out->l2 = a.l2;
            return KS_OK;
        }
    }
    return ks_error_at(err, KS_ERR_CONFIG, v,
                       "%s: regularizer must be null, l1, l2, l1_l2 or a map {l1: …, l2: …}, "
                       "got %s",
                       what, ks_value_describe(v, got, sizeof got));
}

ks_status ks_regularizer_to_value(const ks_regularizer *r, ks_value *out)
{
    reg_args a = {r->l1, r->l2};
    char *key = out->key;
    out->key = NULL;
    ks_value_free(out);
    out->key = key;
    if (r->l1 == 0.0 && r->l2 == 0.0) {
        out->kind = KS_VALUE_NULL;
        return KS_OK;
    }
    out->kind = KS_VALUE_MAP;
    return ks_keys_write(reg_keys, &a, out);
}

double ks_regularizer_penalty(const ks_regularizer *r, const float *w, size_t n)
{
    double s1 = 0.0, s2 = 0.0;
    if (r->l1 != 0.0)
        for (size_t i = 0; i < n; i++)
            s1 += fabsf(w[i]);
    if (r->l2 != 0.0)
        for (size_t i = 0; i < n; i++)
            s2 += (double)w[i] * w[i];
    return r->l1 * s1 + r->l2 * s2;
}

double ks_regularizer_apply(const ks_regularizer *r, const float *w, float *g, size_t n)
{
    float l1 = (float)r->l1, l2x2 = (float)(2.0 * r->l2);
    if (r->l1 != 0.0)
        for (size_t i = 0; i < n; i++)
            g[i] += w[i] > 0.0f ? l1 : (w[i] < 0.0f ? -l1 : 0.0f);
    if (r->l2 != 0.0)
        for (size_t i = 0; i < n; i++)
            g[i] += l2x2 * w[i];
    return ks_regularizer_penalty(r, w, n);
}
