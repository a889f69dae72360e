/*
 * config_keys.c — declared configuration keys.  Layers, optimizers, losses and
 * callbacks describe their Keras arguments in a ks_key table; this file validates a
 * configuration map against such a table (types, ranges, required and unknown keys,
 * with the nearest valid key suggested) and writes a struct back out as a map.
 */
#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIELD(out, k) ((char *)(out) + (k)->offset)

static int key_count(const ks_key *keys)
{
    int n = 0;
    while (keys[n].name)
        n++;
    return n;
}

/* Axes stored for an INTS key: size, or 2·size with pairs. */
static int ints_stored(const ks_key *k)
{
    return (int)k->size * ((k->flags & KS_KEY_PAIRS) ? 2 : 1);
}

/* An INTS default: its integer on every axis (nothing for a list of any length). */
static void ints_default(const ks_key *k, ks_shape *s)
{
    memset(s, 0, sizeof *s);
    if (k->size == 0)
        return;
    s->ndim = ints_stored(k);
    for (int i = 0; i < s->ndim; i++)
        s->dim[i] = k->def ? atoi(k->def) : 0;
}

static void set_default(const ks_key *k, void *out)
{
    char *f = FIELD(out, k);
    switch (k->type) {
    case KS_KEY_INT:
        *(int *)f = k->def ? atoi(k->def) : 0;
        break;
    case KS_KEY_FLOAT:
        *(double *)f = k->def ? strtod(k->def, NULL) : 0.0;
        break;
    case KS_KEY_BOOL:
        *(int *)f = k->def && strcmp(k->def, "true") == 0;
        break;
    case KS_KEY_STRING:
        snprintf(f, k->size, "%s", k->def ? k->def : "");
        break;
    case KS_KEY_ENUM: {
        int idx = 0;
        for (int i = 0; k->def && k->choices[i]; i++)
            if (strcmp(k->choices[i], k->def) == 0)
                idx = i;
        *(int *)f = idx;
        break;
    }
    case KS_KEY_SHAPE:
        memset(f, 0, sizeof(ks_shape));
        break;
    case KS_KEY_VALUE:
        ks_value_init((ks_value *)f, KS_VALUE_NULL);
        break;
    case KS_KEY_INTS:
        ints_default(k, (ks_shape *)f);
        break;
    case KS_KEY_RANGE: {
        double d = k->def ? fabs(strtod(k->def, NULL)) : 0.0;
        ((double *)f)[0] = -d;
        ((double *)f)[1] = d;
        break;
    }
    }
}

void ks_keys_defaults(const ks_key *keys, void *out)
{
    for (const ks_key *k = keys; k->name; k++)
        set_default(k, out);
}

void ks_keys_free(const ks_key *keys, void *in)
{
    for (const ks_key *k = keys; k->name; k++)
        if (k->type == KS_KEY_VALUE)
            ks_value_free((ks_value *)FIELD(in, k));
}

/* Levenshtein distance, capped strings of 63 characters. */
static int edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    int d[64][64];
    if (la > 63 || lb > 63)
        return 99;
    for (int i = 0; i <= la; i++)
        d[i][0] = i;
    for (int j = 0; j <= lb; j++)
        d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c)
                c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c)
                c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

const char *ks_nearest_name(const char *s, const char *const *names)
{
    const char *best = NULL;
    int best_d = 99;
    int limit = (int)strlen(s) / 3 + 1;
    if (limit > 3)
        limit = 3;
    for (int i = 0; names[i]; i++) {
        int d = edit_distance(s, names[i]);
        if (strcasecmp(s, names[i]) == 0)
            d = 0;
        if (d < best_d) {
            best_d = d;
            best = names[i];
        }
    }
    return best_d <= limit ? best : NULL;
}

/* What a key's value must be, for a message about the value x (NaN: not a number). */
static void range_text(const ks_key *k, double x, char *buf, size_t size)
{
    int integer = k->type == KS_KEY_INT || k->type == KS_KEY_INTS;
    const char *noun = integer ? "an integer" : "a number";
    /* a very large integer bound is a sanity limit, worth a mention only to a value past it */
    int has_min = isfinite(k->min),
        has_max = isfinite(k->max) && !(integer && k->max >= 1e6 && !(x > k->max));
    const char *lo = (k->flags & KS_KEY_MIN_EXCL) ? ">" : ">=";
    if (has_min && has_max)
        snprintf(buf, size, "%s in %s%g, %g%s", noun, (k->flags & KS_KEY_MIN_EXCL) ? "(" : "[",
                 k->min, k->max, (k->flags & KS_KEY_MAX_EXCL) ? ")" : "]");
    else if (has_min)
        snprintf(buf, size, "%s %s %g", noun, lo, k->min);
    else if (has_max)
        snprintf(buf, size, "%s %s %g", noun, (k->flags & KS_KEY_MAX_EXCL) ? "<" : "<=", k->max);
    else
        snprintf(buf, size, "%s", noun);
}

static int in_range(const ks_key *k, double x)
{
    if (isnan(x))
        return 0;
    if (isfinite(k->min)) {
        if ((k->flags & KS_KEY_MIN_EXCL) ? !(x > k->min) : !(x >= k->min))
            return 0;
    }
    if (isfinite(k->max)) {
        if ((k->flags & KS_KEY_MAX_EXCL) ? !(x < k->max) : !(x <= k->max))
            return 0;
    }
    return 1;
}

static int int_in_range(const ks_key *k, const ks_value *v)
{
    return v->kind == KS_VALUE_NUMBER && v->number == floor(v->number) &&
           fabs(v->number) <= 2147483647.0 && in_range(k, v->number);
}

/* What an INTS key takes, for messages: "an integer >= 1 or a list of 2 of them". */
static void ints_text(const ks_key *k, char *buf, size_t size)
{
    char one[96];
    range_text(k, NAN, one, sizeof one);
    if (k->size == 0)
        snprintf(buf, size, "a list of 1 to %d integers (each %s)", KS_MAX_DIMS, one);
    else if ((k->flags & KS_KEY_PAIRS) && k->size == 1)
        snprintf(buf, size, "%s or a list [before, after] of them", one);
    else if (k->flags & KS_KEY_PAIRS)
        snprintf(buf, size, "%s or a list of %zu such integers or [before, after] pairs", one,
                 k->size);
    else
        snprintf(buf, size, "%s or a list of %zu of them", one, k->size);
}

/* Keras's int-or-tuple: an integer for every axis, or a list (of pairs, with PAIRS). */
static ks_status read_ints(const ks_key *k, const ks_value *v, const char *what, ks_shape *s,
                           ks_error *err)
{
    int pairs = (k->flags & KS_KEY_PAIRS) != 0;
    size_t axes = k->size ? k->size : v->n;
    char got[128], want[256];
    ks_shape out;
    memset(&out, 0, sizeof out);
    ks_value_describe(v, got, sizeof got);
    ints_text(k, want, sizeof want);
    if (v->kind == KS_VALUE_NUMBER && k->size > 0) {
        if (!int_in_range(k, v))
            return ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s must be %s, got %s", what, k->name,
                               want, got);
        out.ndim = ints_stored(k);
        for (int i = 0; i < out.ndim; i++)
            out.dim[i] = (int)v->number;
        *s = out;
        return KS_OK;
    }
    if (pairs && k->size == 1 && v->kind == KS_VALUE_LIST && v->n == 2) {
        /* one axis: its pair may come bare, (left, right), as ZeroPadding1D takes it */
        if (!int_in_range(k, &v->items[0]) || !int_in_range(k, &v->items[1]))
            return ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s must be %s, got %s", what,
                               k->name, want, got);
        out.ndim = 2;
        out.dim[0] = (int)v->items[0].number;
        out.dim[1] = (int)v->items[1].number;
        *s = out;
        return KS_OK;
    }
    if (v->kind != KS_VALUE_LIST || axes < 1 || v->n != axes ||
        axes * (pairs ? 2 : 1) > KS_MAX_DIMS)
        return ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s must be %s, got %s", what, k->name,
                           want, got);
    for (size_t i = 0; i < axes; i++) {
        const ks_value *d = &v->items[i];
        int pair = pairs && d->kind == KS_VALUE_LIST;
        if (pair && (d->n != 2 || !int_in_range(k, &d->items[0]) ||
                     !int_in_range(k, &d->items[1])))
            return ks_error_at(err, KS_ERR_CONFIG, d, "%s: %s must be %s, got %s", what,
                               k->name, want, ks_value_describe(d, got, sizeof got));
        if (!pair && !int_in_range(k, d))
            return ks_error_at(err, KS_ERR_CONFIG, d, "%s: %s must be %s, got %s", what,
                               k->name, want, ks_value_describe(d, got, sizeof got));
        if (pairs) {
            out.dim[out.ndim++] = (int)(pair ? d->items[0].number : d->number);
            out.dim[out.ndim++] = (int)(pair ? d->items[1].number : d->number);
        } else {
            out.dim[out.ndim++] = (int)d->number;
        }
    }
    *s = out;
    return KS_OK;
}

static ks_status read_one(const ks_key *k, const ks_value *v, const char *what, void *out,
                          ks_error *err)
{
    char *f = FIELD(out, k);
    char got[128], want[128];
    ks_value_describe(v, got, sizeof got);
    if (v->kind == KS_VALUE_NULL && k->type == KS_KEY_ENUM)
        for (int i = 0; k->choices[i]; i++)
            if (strcmp(k->choices[i], "null") == 0) {
                *(int *)f = i;
                return KS_OK;
            }
    if (v->kind == KS_VALUE_NULL && (k->flags & KS_KEY_NULLABLE)) {
        set_default(k, out);
        return KS_OK;
    }
    switch (k->type) {
    case KS_KEY_INT:
        range_text(k, v->kind == KS_VALUE_NUMBER ? v->number : NAN, want, sizeof want);
        if (v->kind != KS_VALUE_NUMBER || v->number != floor(v->number) ||
            fabs(v->number) > 2147483647.0 || !in_range(k, v->number))
            return ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s must be %s, got %s", what,
                               k->name, want, got);
        *(int *)f = (int)v->number;
        return KS_OK;
    case KS_KEY_FLOAT:
        range_text(k, v->kind == KS_VALUE_NUMBER ? v->number : NAN, want, sizeof want);
        if (v->kind != KS_VALUE_NUMBER || !in_range(k, v->number))
            return ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s must be %s, got %s", what,
                               k->name, want, got);
        *(double *)f = v->number;
        return KS_OK;
    case KS_KEY_BOOL:
        if (v->kind != KS_VALUE_BOOL)
            return ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s must be true or false, got %s",
                               what, k->name, got);
        *(int *)f = v->boolean;
        return KS_OK;
    case KS_KEY_STRING:
        if (v->kind != KS_VALUE_STRING)
            return ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s must be a string, got %s", what,
                               k->name, got);
        if (strlen(v->string) >= k->size)
            return ks_error_at(err, KS_ERR_CONFIG, v,
                               "%s: %s must be shorter than %zu characters", what, k->name,
                               k->size);
        memcpy(f, v->string, strlen(v->string) + 1);
        return KS_OK;
    case KS_KEY_ENUM: {
        char list[400] = "";
        const char *near;
        if (v->kind == KS_VALUE_STRING)
            for (int i = 0; k->choices[i]; i++)
                if (strcmp(k->choices[i], v->string) == 0) {
                    *(int *)f = i;
                    return KS_OK;
                }
        for (int i = 0; k->choices[i]; i++) {
            size_t len = strlen(list);
            snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", k->choices[i]);
        }
        near = v->kind == KS_VALUE_STRING ? ks_nearest_name(v->string, k->choices) : NULL;
        if (near)
            return ks_error_at(err, KS_ERR_CONFIG, v,
                               "%s: %s must be one of %s, got %s (did you mean \"%s\"?)", what,
                               k->name, list, got, near);
        return ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s must be one of %s, got %s", what,
                           k->name, list, got);
    }
    case KS_KEY_SHAPE: {
        ks_shape *s = (ks_shape *)f;
        if (v->kind != KS_VALUE_LIST || v->n < 1 || v->n > KS_MAX_DIMS)
            return ks_error_at(err, KS_ERR_CONFIG, v,
                               "%s: %s must be a list of 1 to %d positive integers, got %s",
                               what, k->name, KS_MAX_DIMS, got);
        for (size_t i = 0; i < v->n; i++) {
            const ks_value *d = &v->items[i];
            if (d->kind == KS_VALUE_NULL && (k->flags & KS_KEY_NONE_DIMS)) {
                s->dim[i] = 0;      /* None: the data's length, resolved at build */
                continue;
            }
            if (d->kind != KS_VALUE_NUMBER || d->number != floor(d->number) ||
                d->number < 1 || d->number > KS_MAX_AXIS)
                return ks_error_at(err, KS_ERR_CONFIG, d,
                                   "%s: %s must hold positive integers, got %s", what,
                                   k->name, ks_value_describe(d, got, sizeof got));
            s->dim[i] = (int)d->number;
        }
        s->ndim = (int)v->n;
        return KS_OK;
    }
    case KS_KEY_VALUE: {
        ks_value *dst = (ks_value *)f;
        ks_value_free(dst);
        if (ks_value_clone(v, dst) != KS_OK)
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        return KS_OK;
    }
    case KS_KEY_INTS:
        return read_ints(k, v, what, (ks_shape *)f, err);
    case KS_KEY_RANGE: {
        double *r = (double *)f;
        range_text(k, v->kind == KS_VALUE_NUMBER ? v->number : NAN, want, sizeof want);
        if (v->kind == KS_VALUE_NUMBER && in_range(k, v->number)) {
            r[0] = -fabs(v->number);
            r[1] = fabs(v->number);
            return KS_OK;
        }
        if (v->kind != KS_VALUE_LIST || v->n != 2 || v->items[0].kind != KS_VALUE_NUMBER ||
            v->items[1].kind != KS_VALUE_NUMBER || !in_range(k, v->items[0].number) ||
            !in_range(k, v->items[1].number))
            return ks_error_at(err, KS_ERR_CONFIG, v,
                               "%s: %s must be %s or a list [lower, upper] of two such, got %s",
                               what, k->name, want, got);
        r[0] = fmin(v->items[0].number, v->items[1].number);
        r[1] = fmax(v->items[0].number, v->items[1].number);
        return KS_OK;
    }
    }
    return ks_error_set(err, KS_ERR_INTERNAL, "unknown key type");
}

ks_status ks_keys_read(const ks_key *keys, const ks_value *map, const char *what, void *out,
                       ks_error *err)
{
    int n = key_count(keys);
    const char *names[128];
    unsigned char seen[128] = {0};
    if (n > 127)
        return ks_error_set(err, KS_ERR_INTERNAL, "too many keys for %s", what);
    for (int i = 0; i < n; i++)
        names[i] = keys[i].name;
    names[n] = NULL;
    if (map && map->kind != KS_VALUE_NULL) {
        char got[64];
        if (map->kind != KS_VALUE_MAP)
            return ks_error_at(err, KS_ERR_CONFIG, map, "%s expects a map of arguments, got %s",
                               what, ks_value_describe(map, got, sizeof got));
        for (size_t i = 0; i < map->n; i++) {
            const ks_value *m = &map->items[i];
            int found = -1;
            ks_status s;
            for (int j = 0; j < n; j++)
                if (strcmp(keys[j].name, m->key) == 0)
                    found = j;
            if (found < 0) {
                const char *near = ks_nearest_name(m->key, names);
                if (near)
                    return ks_error_at_key(err, KS_ERR_CONFIG, m,
                                           "%s has no argument \"%s\" (did you mean \"%s\"?)",
                                           what, m->key, near);
                return ks_error_at_key(err, KS_ERR_CONFIG, m, "%s has no argument \"%s\"",
                                       what, m->key);
            }
            if (seen[found])
                return ks_error_at_key(err, KS_ERR_CONFIG, m, "%s: argument \"%s\" given twice",
                                       what, m->key);
            seen[found] = 1;
            if ((s = read_one(&keys[found], m, what, out, err)) != KS_OK)
                return s;
        }
    }
    for (int j = 0; j < n; j++)
        if ((keys[j].flags & KS_KEY_REQUIRED) && !seen[j])
            return ks_error_at(err, KS_ERR_CONFIG, map,
                               "%s is missing its required argument \"%s\"", what,
                               keys[j].name);
    return KS_OK;
}

static int equals_default(const ks_key *k, const void *in)
{
    union {
        char buf[512];
        double d;
        int i;
        ks_shape s;
        ks_value v;
    } def;
    ks_key copy = *k;
    const char *f = FIELD(in, k);
    if (k->type == KS_KEY_SHAPE)
        return ((const ks_shape *)f)->ndim == 0;
    if (k->type == KS_KEY_VALUE)
        return ((const ks_value *)f)->kind == KS_VALUE_NULL;
    if (k->type == KS_KEY_INTS) {
        ks_shape d;
        ints_default(k, &d);
        return ks_shape_equal(&d, (const ks_shape *)f);
    }
    if (k->type == KS_KEY_RANGE) {
        double d[2];
        ks_key one = *k;
        one.offset = 0;
        set_default(&one, d);
        return d[0] == ((const double *)f)[0] && d[1] == ((const double *)f)[1];
    }
    copy.offset = 0;
    if (k->type == KS_KEY_STRING && k->size > sizeof def.buf)
        return 0;
    set_default(&copy, &def);
    switch (k->type) {
    case KS_KEY_INT:
    case KS_KEY_BOOL:
    case KS_KEY_ENUM:
        return def.i == *(const int *)f;
    case KS_KEY_FLOAT:
        return def.d == *(const double *)f;
    case KS_KEY_STRING:
        return strcmp(def.buf, f) == 0;
    default:
        return 0;
    }
}

/* An INTS value as Keras's get_config writes a tuple: a list (of pairs, with PAIRS). */
static ks_status write_ints(const ks_key *k, const ks_shape *s, ks_value *m)
{
    /* one axis of pairs is written bare, (left, right), as Keras's ZeroPadding1D */
    int step = (k->flags & KS_KEY_PAIRS) && k->size > 1 ? 2 : 1;
    m->kind = KS_VALUE_LIST;
    for (int i = 0; i + step <= s->ndim; i += step) {
        ks_value *d = ks_value_push(m, step == 2 ? KS_VALUE_LIST : KS_VALUE_NUMBER);
        if (!d)
            return KS_ERR_NOMEM;
        for (int j = 0; j < step; j++) {
            ks_value *e = step == 2 ? ks_value_push(d, KS_VALUE_NUMBER) : d;
            if (!e)
                return KS_ERR_NOMEM;
            e->number = s->dim[i + j];
        }
    }
    return KS_OK;
}

ks_status ks_keys_write(const ks_key *keys, const void *in, ks_value *map)
{
    for (const ks_key *k = keys; k->name; k++) {
        const char *f = FIELD(in, k);
        ks_value *m;
        if ((k->flags & KS_KEY_HIDDEN) && equals_default(k, in))
            continue;
        if (k->type == KS_KEY_SHAPE && ((const ks_shape *)f)->ndim == 0)
            continue;   /* not given: absent reads back as not given */
        if (k->type == KS_KEY_VALUE) {
            if (ks_value_put_copy(map, k->name, (const ks_value *)f) != KS_OK)
                return KS_ERR_NOMEM;
            continue;
        }
        m = ks_value_put(map, k->name, KS_VALUE_NULL);
        if (!m)
            return KS_ERR_NOMEM;
        switch (k->type) {
        case KS_KEY_INT:
            /* a nullable int left at a default below its range stands for None: null
               reads back as that default, where the number would be refused */
            if ((k->flags & KS_KEY_NULLABLE) && *(const int *)f < k->min &&
                equals_default(k, in))
                break;
            m->kind = KS_VALUE_NUMBER;
            m->number = *(const int *)f;
            break;
        case KS_KEY_FLOAT:
            m->kind = KS_VALUE_NUMBER;
            m->number = *(const double *)f;
            break;
        case KS_KEY_BOOL:
            m->kind = KS_VALUE_BOOL;
            m->boolean = *(const int *)f;
            break;
        case KS_KEY_STRING:
            if (ks_value_set_string(m, f) != KS_OK)
                return KS_ERR_NOMEM;
            break;
        case KS_KEY_ENUM:
            if (strcmp(k->choices[*(const int *)f], "null") != 0 &&
                ks_value_set_string(m, k->choices[*(const int *)f]) != KS_OK)
                return KS_ERR_NOMEM;
            break;
        case KS_KEY_SHAPE: {
            const ks_shape *s = (const ks_shape *)f;
            m->kind = KS_VALUE_LIST;
            for (int i = 0; i < s->ndim; i++) {
                ks_value *d = ks_value_push(m, s->dim[i] ? KS_VALUE_NUMBER : KS_VALUE_NULL);
                if (!d)
                    return KS_ERR_NOMEM;
                d->number = s->dim[i];
            }
            break;
        }
        case KS_KEY_VALUE:
            break;      /* written above */
        case KS_KEY_INTS:
            if (write_ints(k, (const ks_shape *)f, m) != KS_OK)
                return KS_ERR_NOMEM;
            break;
        case KS_KEY_RANGE: {
            const double *r = (const double *)f;
            if (r[0] == -r[1]) {
                m->kind = KS_VALUE_NUMBER;
                m->number = r[1];
                break;
            }
            m->kind = KS_VALUE_LIST;
            for (int i = 0; i < 2; i++) {
                ks_value *e = ks_value_push(m, KS_VALUE_NUMBER);
                if (!e)
                    return KS_ERR_NOMEM;
                e->number = r[i];
            }
            break;
        }
        }
    }
    return KS_OK;
}
