/*
 * value.c — the configuration tree (ks_value): building, copying, comparing, and
 * errors that point at a value's source position.
 */
#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ks_value_init(ks_value *v, ks_value_kind kind)
{
    memset(v, 0, sizeof *v);
    v->kind = kind;
}

void ks_value_free(ks_value *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        ks_value_free(&v->items[i]);
    free(v->items);
    free(v->string);
    free(v->key);
    v->items = NULL;
    v->string = v->key = NULL;
    v->n = v->cap = 0;
}

static char *dup_or_null(const char *s, int *fail)
{
    char *d;
    if (!s)
        return NULL;
    d = strdup(s);
    if (!d)
        *fail = 1;
    return d;
}

ks_status ks_value_clone(const ks_value *src, ks_value *dst)
{
    int fail = 0;
    *dst = *src;
    dst->items = NULL;
    dst->n = dst->cap = 0;
    dst->string = dup_or_null(src->string, &fail);
    dst->key = dup_or_null(src->key, &fail);
    if (!fail && src->n) {
        dst->items = calloc(src->n, sizeof *dst->items);
        if (!dst->items)
            fail = 1;
        else
            dst->cap = src->n;
        for (size_t i = 0; !fail && i < src->n; i++) {
            if (ks_value_clone(&src->items[i], &dst->items[i]) != KS_OK)
                fail = 1;
            else
                dst->n = i + 1;
        }
    }
    if (fail) {
        ks_value_free(dst);
        return KS_ERR_NOMEM;
    }
    return KS_OK;
}

ks_status ks_value_set_string(ks_value *v, const char *s)
{
    char *d = strdup(s);
    if (!d)
        return KS_ERR_NOMEM;
    free(v->string);
    v->kind = KS_VALUE_STRING;
    v->string = d;
    return KS_OK;
}

static ks_value *append(ks_value *parent, ks_value_kind kind)
{
    ks_value *m;
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? parent->cap * 2 : 4;
        ks_value *items = realloc(parent->items, cap * sizeof *items);
        if (!items)
            return NULL;
        parent->items = items;
        parent->cap = cap;
    }
    m = &parent->items[parent->n++];
    ks_value_init(m, kind);
    m->file = parent->file;
    return m;
}

ks_value *ks_value_push(ks_value *list, ks_value_kind kind)
{
    return list->kind == KS_VALUE_LIST ? append(list, kind) : NULL;
}

ks_value *ks_value_put(ks_value *map, const char *key, ks_value_kind kind)
{
    ks_value *m;
    char *k;
    if (map->kind != KS_VALUE_MAP)
        return NULL;
    k = strdup(key);
    if (!k)
        return NULL;
    m = append(map, kind);
    if (!m) {
        free(k);
        return NULL;
    }
    m->key = k;
    return m;
}

void ks_value_forget_source(ks_value *v)
{
    v->file = NULL;
    v->line = v->col = v->key_line = v->key_col = 0;
    for (size_t i = 0; i < v->n; i++)
        ks_value_forget_source(&v->items[i]);
}

ks_status ks_value_put_copy(ks_value *map, const char *key, const ks_value *src)
{
    ks_value *m = ks_value_put(map, key, KS_VALUE_NULL);
    char *k;
    if (!m)
        return KS_ERR_NOMEM;
    k = m->key;
    m->key = NULL;
    if (ks_value_clone(src, m) != KS_OK) {
        m->key = k;
        return KS_ERR_NOMEM;
    }
    free(m->key);
    m->key = k;
    return KS_OK;
}

ks_value *ks_value_get(const ks_value *map, const char *key)
{
    if (!map || map->kind != KS_VALUE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->items[i].key, key) == 0)
            return &map->items[i];
    return NULL;
}

int ks_value_equal(const ks_value *a, const ks_value *b)
{
    if (a->kind != b->kind || a->n != b->n)
        return 0;
    switch (a->kind) {
    case KS_VALUE_NULL:
        return 1;
    case KS_VALUE_BOOL:
        return !a->boolean == !b->boolean;
    case KS_VALUE_NUMBER:
        return a->number == b->number || (isnan(a->number) && isnan(b->number));
    case KS_VALUE_STRING:
        return strcmp(a->string, b->string) == 0;
    case KS_VALUE_LIST:
    case KS_VALUE_MAP:
        for (size_t i = 0; i < a->n; i++) {
            if (a->kind == KS_VALUE_MAP && strcmp(a->items[i].key, b->items[i].key) != 0)
                return 0;
            if (!ks_value_equal(&a->items[i], &b->items[i]))
                return 0;
        }
        return 1;
    }
    return 0;
}

const char *ks_value_kind_name(ks_value_kind k)
{
    switch (k) {
    case KS_VALUE_NULL: return "null";
    case KS_VALUE_BOOL: return "a boolean";
    case KS_VALUE_NUMBER: return "a number";
    case KS_VALUE_STRING: return "a string";
    case KS_VALUE_LIST: return "a list";
    case KS_VALUE_MAP: return "a map";
    }
    return "a value";
}

const char *ks_value_describe(const ks_value *v, char *buf, int size)
{
    switch (v->kind) {
    case KS_VALUE_NULL:
        snprintf(buf, (size_t)size, "null");
        break;
    case KS_VALUE_BOOL:
        snprintf(buf, (size_t)size, "%s", v->boolean ? "true" : "false");
        break;
    case KS_VALUE_NUMBER:
        if (v->string)
            snprintf(buf, (size_t)size, "%s", v->string);
        else
            snprintf(buf, (size_t)size, "%.17g", v->number);
        break;
    case KS_VALUE_STRING:
        snprintf(buf, (size_t)size, "\"%s\"", v->string);
        break;
    case KS_VALUE_LIST:
        snprintf(buf, (size_t)size, "a list");
        break;
    case KS_VALUE_MAP:
        snprintf(buf, (size_t)size, "a map");
        break;
    }
    return buf;
}

static ks_status error_at_pos(ks_error *err, ks_status code, const char *file, int line,
                              int col, const char *fmt, va_list ap)
{
    ks_error_vset(err, code, fmt, ap);
    if (err) {
        snprintf(err->file, sizeof err->file, "%s", file ? file : "");
        err->line = line;
        err->col = col;
    }
    return code;
}

ks_status ks_error_at(ks_error *err, ks_status code, const ks_value *where, const char *fmt, ...)
{
    va_list ap;
    ks_status s;
    va_start(ap, fmt);
    s = error_at_pos(err, code, where ? where->file : NULL, where ? where->line : 0,
                     where ? where->col : 0, fmt, ap);
    va_end(ap);
    return s;
}

ks_status ks_error_at_key(ks_error *err, ks_status code, const ks_value *member,
                          const char *fmt, ...)
{
    va_list ap;
    ks_status s;
    int line = member->key_line ? member->key_line : member->line;
    int col = member->key_line ? member->key_col : member->col;
    va_start(ap, fmt);
    s = error_at_pos(err, code, member->file, line, col, fmt, ap);
    va_end(ap);
    return s;
}
