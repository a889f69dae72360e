/*
 * study_refs.c — a study file's $name references: each checked where it stands (defined,
 * allowed in its section, its condition sure to hold there: inside the matching branch
 * of a choice, a per-index parameter inside the layer repeated by its count), and
 * replaced by a trial's values — a branch by its whole config, a layer repeated
 * $COUNT times with per-index parameters by its copies, each with its own values.
 */
#include "search_impl.h"

#include <stdlib.h>
#include <string.h>

/* Where a reference stands: the branches of choices around it, the repeat it is in. */
#define MAX_DEPTH 16
typedef struct ref_ctx {
    int n;
    int param[MAX_DEPTH], value[MAX_DEPTH];     /* inside value value of choice param */
    int repeat;                 /* inside a layer repeated $COUNT times: COUNT, else -1 */
    /* over the whole file, for each parameter r and choice q: the values of q inside whose
       branches r is used, and whether r is used outside q's branches too */
    uint64_t (*inside)[KS_MAX_SEARCH_PARAMS];
    unsigned char (*outside)[KS_MAX_SEARCH_PARAMS];
} ref_ctx;

/* The parameter a value refers to ("$name"): ks_space_find's index, -1 if none, -2 if an
   unknown one. */
static int reference(const ks_study *st, const ks_value *v)
{
    int r;
    if (v->kind != KS_VALUE_STRING || v->string[0] != '$')
        return -1;
    r = ks_space_find(&st->space, v->string + 1);
    return r >= 0 ? r : -2;
}

/* A layer entry {Class: {…, repeat: $COUNT}}: COUNT's index, else -1. */
static int repeat_count(const ks_study *st, const ks_value *entry)
{
    const ks_value *rep;
    int r;
    if (entry->kind != KS_VALUE_MAP || entry->n != 1 || entry->items[0].kind != KS_VALUE_MAP)
        return -1;
    rep = ks_value_get(&entry->items[0], "repeat");
    r = rep ? reference(st, rep) : -1;
    return r >= 0 && !st->space.params[r].base[0] ? r : -1;
}

/* The values of choice q in mask, as the file names them: "SGD, RMSprop". */
static void list_values(const ks_param *q, uint64_t mask, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < q->n_values && len < size; k++) {
        char text[64];
        if (!(mask >> k & 1))
            continue;
        if (q->values[k].kind == KS_VALUE_MAP && q->values[k].n == 1)
            snprintf(text, sizeof text, "%s", q->values[k].items[0].key);
        else if (q->values[k].kind == KS_VALUE_STRING)
            snprintf(text, sizeof text, "%s", q->values[k].string);
        else
            ks_value_describe(&q->values[k], text, sizeof text);
        len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", text);
    }
}

/* "optimizer is SGD" / "optimizer is one of SGD, RMSprop" for a clause. */
static void describe_clause(const ks_space *sp, const ks_condition *w, char *buf, size_t size)
{
    const ks_param *q = &sp->params[w->parent];
    char values[200];
    list_values(q, w->mask, values, sizeof values);
    snprintf(buf, size, "%s is %s%s", q->name, (w->mask & (w->mask - 1)) ? "one of " : "",
             values);
}

/* Does the place ctx make clause w hold? */
static int clause_holds(const ref_ctx *ctx, const ks_condition *w)
{
    for (int j = 0; j < ctx->n; j++)
        if (ctx->param[j] == w->parent && (w->mask >> ctx->value[j] & 1))
            return 1;
    return 0;
}

static ks_status check_refs_in(ks_study *st, const ks_value *v, int allowed, const char *section,
                               ref_ctx *ctx, ks_error *err);

/* A reference to parameter r at v: allowed there, its condition sure to hold; then the
   branches of a choice it stands for, each checked inside its branch. */
static ks_status check_ref(ks_study *st, const ks_value *v, int r, const char *section,
                           ref_ctx *ctx, ks_error *err)
{
    ks_space *sp = &st->space;
    const ks_param *p = &sp->params[r];
    const char *name = v->string + 1;
    /* a per-index parameter's own clause (its copy exists) is the repeat's to ensure */
    int n_clauses = p->base[0] ? p->n_when - 1 : p->n_when;
    if (p->base[0] && ctx->repeat != p->per)
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "%s has a value per copy of a layer (per: %s), and this is not a "
                           "layer with repeat: $%s: use $%s in the arguments of such a layer",
                           v->string, sp->params[p->per].name, sp->params[p->per].name, name);
    for (int c = 0; c < n_clauses; c++)
        if (!clause_holds(ctx, &p->when[c])) {
            char cond[256];
            describe_clause(sp, &p->when[c], cond, sizeof cond);
            return ks_error_at(err, KS_ERR_CONFIG, v,
                               "%s exists only when %s, and it may not be here: use it only "
                               "inside that value of $%s (e.g. values: [{SGD: {momentum: "
                               "$momentum}}, Adam])",
                               v->string, cond, sp->params[p->when[c].parent].name);
        }
    for (int i = r; i < sp->n && (i == r || (p->base[0] && strcmp(sp->params[i].base, p->base) == 0)); i++)
        st->used[i] = 1;
    for (int q = 0; q < sp->n; q++) {
        int in = 0;
        for (int j = 0; j < ctx->n; j++)
            if (ctx->param[j] == q) {
                ctx->inside[r][q] |= (uint64_t)1 << ctx->value[j];
                in = 1;
            }
        ctx->outside[r][q] |= !in;
    }
    for (int k = 0; p->kind == KS_PARAM_CHOICE && k < p->n_values; k++) {
        const ks_value *branch = &p->values[k];
        ks_status s;
        if (branch->kind != KS_VALUE_MAP)
            continue;
        for (int j = 0; j < ctx->n; j++)
            if (ctx->param[j] == r)
                return ks_error_at(err, KS_ERR_CONFIG, v,
                                   "%s is used inside one of its own values", v->string);
        if (ctx->n == MAX_DEPTH)
            return ks_error_at(err, KS_ERR_CONFIG, v,
                               "%s: choices nested more than %d deep", v->string, MAX_DEPTH);
        ctx->param[ctx->n] = r;
        ctx->value[ctx->n++] = k;
        s = check_refs_in(st, branch, 1, section, ctx, err);
        ctx->n--;
        if (s != KS_OK)
            return s;
    }
    return KS_OK;
}

static ks_status check_refs_in(ks_study *st, const ks_value *v, int allowed, const char *section,
                               ref_ctx *ctx, ks_error *err)
{
    int r = reference(st, v);
    /* a $name stands for a value: as a key ({$opt: {…}}) it would never be replaced */
    if (v->key && v->key[0] == '$')
        return ks_error_at_key(err, KS_ERR_CONFIG, v,
                               "%s cannot be a key: a parameter stands for a value, so write it "
                               "where the value goes, e.g. optimizer: %s with %s: {values: "
                               "[Adam, SGD]}, or {SGD: {learning_rate: $lr}}",
                               v->key, v->key, v->key + 1);
    if (r != -1) {
        const char *names[KS_MAX_SEARCH_PARAMS + 1];
        const char *near;
        int n = 0;
        if (!allowed)
            return ks_error_at(err, KS_ERR_CONFIG, v,
                               "%s cannot take parameters ($%s): it is the same for every trial",
                               section, v->string + 1);
        if (r >= 0)
            return check_ref(st, v, r, section, ctx, err);
        for (int i = 0; i < st->space.n; i++)
            if (!st->space.params[i].base[0] || st->space.params[i].copy == 0)
                names[n++] = st->space.params[i].base[0] ? st->space.params[i].base
                                                         : st->space.params[i].name;
        names[n] = NULL;
        near = ks_nearest_name(v->string + 1, names);
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "%s is not a parameter of search.parameters%s%s%s", v->string,
                           near ? " (did you mean $" : "", near ? near : "", near ? "?)" : "");
    }
    for (size_t i = 0; i < v->n; i++) {
        int outer = ctx->repeat, count = v->kind == KS_VALUE_LIST ? repeat_count(st, &v->items[i]) : -1;
        ks_status s;
        if (count >= 0)
            ctx->repeat = count;
        s = check_refs_in(st, &v->items[i], allowed, section, ctx, err);
        ctx->repeat = outer;
        if (s != KS_OK)
            return s;
    }
    return KS_OK;
}

/*
 * A parameter used only inside some branches of a choice, without a condition saying so,
 * would be drawn and recorded in the trials of the other branches, where nothing uses it:
 * a fake value.  Its when must say where it exists.
 */
static ks_status check_branch_only(const ks_study *st, const ref_ctx *ctx, ks_error *err)
{
    const ks_space *sp = &st->space;
    for (int r = 0; r < sp->n; r++) {
        const ks_param *p = &sp->params[r];
        for (int q = 0; q < sp->n; q++) {
            uint64_t all = sp->params[q].kind == KS_PARAM_CHOICE && sp->params[q].n_values < 64
                               ? ((uint64_t)1 << sp->params[q].n_values) - 1
                               : ~(uint64_t)0;
            uint64_t allowed = all;
            char cond[256], which[200];
            ks_condition w;
            if (ctx->outside[r][q] || !ctx->inside[r][q] || q == r)
                continue;
            for (int c = 0; c < p->n_when; c++)
                if (p->when[c].parent == q)
                    allowed &= p->when[c].mask;
            if (!(allowed & ~ctx->inside[r][q]))
                continue;       /* its when already keeps it to those branches */
            w.parent = q;
            w.mask = ctx->inside[r][q];
            describe_clause(sp, &w, cond, sizeof cond);
            list_values(&sp->params[q], w.mask, which, sizeof which);
            return ks_error_at_key(err, KS_ERR_CONFIG, st->param_at[r],
                                   "parameter %s is used only where %s: say so with when: {%s: "
                                   "%s%s%s}, or trials without it would record a value nothing "
                                   "uses",
                                   p->base[0] ? p->base : p->name, cond, sp->params[q].name,
                                   (w.mask & (w.mask - 1)) ? "[" : "", which,
                                   (w.mask & (w.mask - 1)) ? "]" : "");
        }
    }
    return KS_OK;
}

ks_status ks_study_check_refs(ks_study *st, ks_error *err)
{
    uint64_t (*inside)[KS_MAX_SEARCH_PARAMS] = calloc(KS_MAX_SEARCH_PARAMS, sizeof *inside);
    unsigned char (*outside)[KS_MAX_SEARCH_PARAMS] = calloc(KS_MAX_SEARCH_PARAMS, sizeof *outside);
    ks_status s = KS_OK;
    if (!inside || !outside) {
        free(inside);
        free(outside);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    /* $references: allowed in model, compile, fit and callbacks; all defined; all used */
    for (size_t i = 0; i < st->doc.n && s == KS_OK; i++) {
        const ks_value *sec = &st->doc.items[i];
        ref_ctx ctx;
        /* (an unknown section is reported as such when the file is read as a run file) */
        int allowed = strcmp(sec->key, "name") != 0 && strcmp(sec->key, "seed") != 0 &&
                      strcmp(sec->key, "data") != 0 && strcmp(sec->key, "ensemble") != 0;
        if (strcmp(sec->key, "search") == 0)
            continue;
        memset(&ctx, 0, sizeof ctx);
        ctx.repeat = -1;
        ctx.inside = inside;
        ctx.outside = outside;
        s = check_refs_in(st, sec, allowed, sec->key, &ctx, err);
    }
    if (s == KS_OK) {
        ref_ctx ctx;
        memset(&ctx, 0, sizeof ctx);
        ctx.inside = inside;
        ctx.outside = outside;
        s = check_branch_only(st, &ctx, err);
    }
    free(inside);
    free(outside);
    if (s != KS_OK)
        return s;
    for (int i = 0; i < st->space.n; i++)
        if (!st->used[i]) {
            const ks_param *p = &st->space.params[i];
            const char *name = p->base[0] ? p->base : p->name;
            return ks_error_at_key(err, KS_ERR_CONFIG, st->param_at[i],
                                   "parameter %s is never used: write $%s where it goes (e.g. "
                                   "units: $%s)",
                                   name, name, name);
        }
    return KS_OK;
}

/* ---------------------------------------------------------- substitution */

#define COPY_NONE (-1)          /* not inside an expanded layer */
#define COPY_PLACEHOLDER (-2)   /* inside a layer repeated 0 times: any valid value */

/* Does v refer (anywhere inside, the branches of its choices too) to a per-index
   parameter counted by count? */
static int uses_per_index_in(const ks_study *st, const ks_value *v, int count, int depth)
{
    int r = reference(st, v);
    if (depth > MAX_DEPTH)
        return 0;
    if (r >= 0) {
        const ks_param *p = &st->space.params[r];
        if (p->base[0])
            return p->per == count;
        for (int k = 0; p->kind == KS_PARAM_CHOICE && k < p->n_values; k++)
            if (p->values[k].kind == KS_VALUE_MAP &&
                uses_per_index_in(st, &p->values[k], count, depth + 1))
                return 1;
        return 0;
    }
    for (size_t i = 0; i < v->n; i++)
        if (uses_per_index_in(st, &v->items[i], count, depth))
            return 1;
    return 0;
}

static int uses_per_index(const ks_study *st, const ks_value *v, int count)
{
    return uses_per_index_in(st, v, count, 0);
}

static ks_status substitute(const ks_study *st, ks_value *v, const double *point, int copy,
                            ks_error *err);

/* Remove member key of map (if there). */
static void drop_member(ks_value *map, const char *key)
{
    for (size_t i = 0; i < map->n; i++)
        if (strcmp(map->items[i].key, key) == 0) {
            ks_value_free(&map->items[i]);
            memmove(map->items + i, map->items + i + 1, sizeof *map->items * (map->n - i - 1));
            map->n--;
            return;
        }
}

/*
 * Copy r of a layer entry repeated per index, made a plain layer: no repeat; the first
 * copy keeps inputs; names as the engine gives a repeated layer's copies (NAME, NAME_1,
 * …).  A count of 0 keeps one entry with its repeat (0: the layer passes its input
 * through) and placeholder values.
 */
static ks_status make_copy(ks_value *entry, int r, int copies)
{
    ks_value *args = &entry->items[0], *name;
    if (copies == 0)
        return KS_OK;
    drop_member(args, "repeat");
    if (r == 0)
        return KS_OK;
    drop_member(args, "inputs");
    if ((name = ks_value_get(args, "name")) && name->kind == KS_VALUE_STRING) {
        char buf[300];
        snprintf(buf, sizeof buf, "%s_%d", name->string, r % 10000);
        return ks_value_set_string(name, buf);
    }
    return KS_OK;
}

/* A list's layers repeated per index, expanded into their copies (in place). */
static ks_status expand_list(const ks_study *st, ks_value *list, const double *point,
                             ks_error *err)
{
    size_t total = 0, m = 0, expanded = 0;
    ks_value *items;
    for (size_t i = 0; i < list->n; i++) {
        int c = repeat_count(st, &list->items[i]);
        if (c < 0 || !uses_per_index(st, &list->items[i], c)) {
            total++;
            continue;
        }
        expanded++;
        if (isnan(point[c]))
            return ks_error_at(err, KS_ERR_INTERNAL, &list->items[i],
                               "$%s is inactive in this trial", st->space.params[c].name);
        total += ks_space_copies(&st->space, c, point[c]) > 0
                     ? (size_t)ks_space_copies(&st->space, c, point[c])
                     : 1;
    }
    if (!expanded)
        return KS_OK;
    if (!(items = calloc(total, sizeof *items)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < list->n; i++) {
        int c = repeat_count(st, &list->items[i]);
        int copies = c >= 0 ? ks_space_copies(&st->space, c, point[c]) : 0;
        ks_status s = KS_OK;
        if (c < 0 || !uses_per_index(st, &list->items[i], c)) {
            items[m++] = list->items[i];        /* moved */
            continue;
        }
        for (int r = 0; r < (copies > 0 ? copies : 1) && s == KS_OK; r++) {
            ks_value *e = &items[m];
            if ((s = ks_value_clone(&list->items[i], e)) != KS_OK)
                break;
            m++;
            if ((s = make_copy(e, r, copies)) == KS_OK)
                s = substitute(st, e, point, copies > 0 ? r : COPY_PLACEHOLDER, err);
        }
        ks_value_free(&list->items[i]);
        ks_value_init(&list->items[i], KS_VALUE_NULL);
        if (s != KS_OK) {
            for (size_t k = i + 1; k < list->n; k++)
                items[m++] = list->items[k];
            for (size_t k = 0; k < m; k++)
                ks_value_free(&items[k]);
            free(items);
            free(list->items);
            list->items = NULL;
            list->n = list->cap = 0;
            return s == KS_ERR_NOMEM ? ks_error_set(err, s, "out of memory") : s;
        }
    }
    free(list->items);
    list->items = items;
    list->n = list->cap = m;
    return KS_OK;
}

/* v, a reference to parameter r, replaced by its value at point (in copy copy). */
static ks_status replace_ref(const ks_study *st, ks_value *v, int r, const double *point,
                             int copy, ks_error *err)
{
    const ks_space *sp = &st->space;
    ks_value val;
    char *key = v->key;
    const char *file = v->file;
    int line = v->line, col = v->col, kl = v->key_line, kc = v->key_col;
    ks_status s;
    double x;
    if (sp->params[r].base[0]) {
        if (copy == COPY_NONE)
            return ks_error_at(err, KS_ERR_INTERNAL, v, "%s outside its layer", v->string);
        if (copy != COPY_PLACEHOLDER)
            r += copy;
    }
    x = copy == COPY_PLACEHOLDER && sp->params[r].base[0]
            ? (sp->params[r].kind == KS_PARAM_CHOICE ? 0 : sp->params[r].min)
            : point[r];
    if (isnan(x))
        return ks_error_at(err, KS_ERR_INTERNAL, v, "%s is inactive in this trial", v->string);
    if ((s = ks_space_config_value(sp, r, x, &val)) != KS_OK)
        return ks_error_set(err, s, "out of memory");
    v->key = NULL;
    ks_value_free(v);
    *v = val;
    free(v->key);
    v->key = key;
    if (v->kind != KS_VALUE_MAP) {
        /* the substituted value keeps the reference's place in the file, for messages (a
           branch's config keeps its own, in the search section) */
        v->file = file;
        v->line = line;
        v->col = col;
    }
    v->key_line = kl;
    v->key_col = kc;
    /* a branch's config may hold references of its own */
    return v->kind == KS_VALUE_MAP ? substitute(st, v, point, copy, err) : KS_OK;
}

static ks_status substitute(const ks_study *st, ks_value *v, const double *point, int copy,
                            ks_error *err)
{
    int r = reference(st, v);
    ks_status s;
    if (r >= 0)
        return replace_ref(st, v, r, point, copy, err);
    if (v->kind == KS_VALUE_LIST && (s = expand_list(st, v, point, err)) != KS_OK)
        return s;
    /* (the copies expanded are substituted already: nothing is left to replace in them) */
    for (size_t i = 0; i < v->n; i++) {
        if ((s = substitute(st, &v->items[i], point, copy, err)) != KS_OK)
            return s;
    }
    return KS_OK;
}

ks_status ks_study_trial_config(const ks_study *st, const double *point, ks_run_config **out,
                                ks_error *err)
{
    ks_value doc;
    ks_status s = ks_value_clone(&st->doc, &doc);
    *out = NULL;
    if (s != KS_OK)
        return ks_error_set(err, s, "out of memory");
    /* (the search section's own references, in branches, are replaced where used) */
    for (size_t i = 0; i < doc.n && s == KS_OK; i++)
        if (!doc.items[i].key || strcmp(doc.items[i].key, "search") != 0)
            s = substitute(st, &doc.items[i], point, COPY_NONE, err);
    if (s != KS_OK) {
        ks_value_free(&doc);
        return s;
    }
    if ((s = ks_run_config_parse(&doc, st->path, out, err)) == KS_OK && st->base &&
        *out != st->base)
        /* relative data paths from where the study reads its data (a study from study.db,
           or loaded from text, has a folder of its own) */
        snprintf((*out)->dir, sizeof (*out)->dir, "%s", st->base->dir);
    return s;
}
