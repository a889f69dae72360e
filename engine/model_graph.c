/*
 * model_graph.c — the model section read into graphs, one for the model and one per
 * sub-model: entries get their names (given, or Keras-style automatic ones), repeat
 * becomes chained copies, inputs, outputs and calls resolve to entries, each graph is
 * put in dependency order (a cycle is an error), and entries that no output needs are
 * left out with a warning, as Keras warns.  Building the layers is model.c's.
 */
#include "engine_impl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* Arguments every layer takes, handled here rather than by the layer kind. */
static const char *const generic_keys[] = {"name", "inputs", "repeat", "input_shape",
                                           "input_dim", "trainable", NULL};

/* A generic key, unless the kind declares an argument of that name (Embedding's
   input_dim is its own, not Keras 2's input shape). */
static int is_generic(const ks_layer_ops *ops, const char *key)
{
    for (const ks_key *k = ops ? ops->keys : NULL; k && k->name; k++)
        if (strcmp(k->name, key) == 0)
            return 0;
    for (int i = 0; generic_keys[i]; i++)
        if (strcmp(generic_keys[i], key) == 0)
            return 1;
    return 0;
}

/* The functional form of a model or sub-model. */
typedef struct graph_section {
    ks_value layers, inputs, outputs, models;
} graph_section;

static const ks_key graph_keys[] = {
    {"layers", KS_KEY_VALUE, offsetof(graph_section, layers), 0, 0, 0, NULL, NULL,
     KS_KEY_REQUIRED},
    {"inputs", KS_KEY_VALUE, offsetof(graph_section, inputs), 0, 0, 0, NULL, NULL, 0},
    {"outputs", KS_KEY_VALUE, offsetof(graph_section, outputs), 0, 0, 0, NULL, NULL, 0},
    {"models", KS_KEY_VALUE, offsetof(graph_section, models), 0, 0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

/* One entry of the file's list, before repeat. */
typedef struct item {
    const ks_value *src;        /* {Class: args} */
    const ks_value *args;       /* the arguments (the map's one member) */
    const ks_value *vname, *vinputs;
    char name[KS_NAME_MAX];     /* the given name, or "" */
    int first, count;           /* its entries: [first, first + count) */
    int resolving;              /* a repeat: 0 item being resolved (alias cycles) */
} item;

/* The state of one graph's parse. */
typedef struct parser {
    ks_model *m;
    ks_graph *g;
    int gi;                     /* index of g in m->graphs */
    item *items;
    int n_items;
    ks_error *err;
} parser;

void ks_graphs_free(ks_graph *g, int n)
{
    if (!g)
        return;
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < g[i].n; k++)
            ks_value_free(&g[i].e[k].args);
        free(g[i].e);
    }
    free(g);
}

void ks_model_warn(ks_model *m, const ks_value *where, const char *fmt, ...)
{
    char line[768], msg[512];
    size_t old = m->warnings ? strlen(m->warnings) : 0, len;
    char *p;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (where && where->file && where->line > 0)
        snprintf(line, sizeof line, "%s:%d:%d: warning: %s\n", where->file, where->line,
                 where->col, msg);
    else
        snprintf(line, sizeof line, "warning: %s\n", msg);
    len = strlen(line);
    if (old > 65536 || !(p = realloc(m->warnings, old + len + 1)))
        return;     /* warnings are advice: without room, drop them */
    memcpy(p + old, line, len + 1);
    m->warnings = p;
}

/* ------------------------------------------------------------- entries */

static ks_entry *new_entry(parser *p)
{
    ks_graph *g = p->g;
    ks_entry *e;
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 16;
        ks_entry *ne = realloc(g->e, (size_t)cap * sizeof *ne);
        if (!ne)
            return NULL;
        g->e = ne;
        g->cap = cap;
    }
    e = &g->e[g->n++];
    memset(e, 0, sizeof *e);
    e->callee = -1;
    e->node = -1;
    ks_value_init(&e->args, KS_VALUE_NULL);
    return e;
}

static int find_entry(const ks_graph *g, const char *name)
{
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->e[i].name, name) == 0)
            return i;
    return -1;
}

static int find_graph(const ks_model *m, const char *name)
{
    for (int i = 1; i < m->n_graphs; i++)
        if (strcmp(m->graphs[i].name, name) == 0)
            return i;
    return -1;
}

static ks_status nomem(ks_error *err)
{
    return ks_error_set(err, KS_ERR_NOMEM, "out of memory building the model");
}

/* "unknown layer \"x\" (did you mean \"y\"?); known: …" over kinds, sub-models, names. */
static ks_status unknown_class(parser *p, const ks_value *args)
{
    const char *names[64];
    char list[512] = "";
    const char *near;
    int n = 0;
    for (int i = 0; ks_layer_kinds[i] && n < 60; i++) {
        size_t len = strlen(list);
        names[n++] = ks_layer_kinds[i]->name;
        snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", ks_layer_kinds[i]->name);
    }
    for (int i = 1; i < p->m->n_graphs && n < 62; i++)
        names[n++] = p->m->graphs[i].name;
    names[n] = NULL;
    near = ks_nearest_name(args->key, names);
    if (!near) {
        /* a call of a layer by its name: the nearest name of this graph's layers */
        const char *mine[64];
        int k = 0;
        for (int i = 0; i < p->g->n && k < 63; i++)
            mine[k++] = p->g->e[i].name;
        mine[k] = NULL;
        near = ks_nearest_name(args->key, mine);
    }
    if (near)
        return ks_error_at_key(p->err, KS_ERR_CONFIG, args,
                               "unknown layer \"%s\" (did you mean \"%s\"?); known: %s",
                               args->key, near, list);
    return ks_error_at_key(p->err, KS_ERR_CONFIG, args, "unknown layer \"%s\"; known: %s",
                           args->key, list);
}

static ks_status get_generic(const ks_value *args, const char *key, ks_value_kind kind,
                             const char *want, const char *cls, const ks_value **out,
                             ks_error *err)
{
    const ks_value *v = args->kind == KS_VALUE_MAP ? ks_value_get(args, key) : NULL;
    char got[64];
    *out = NULL;
    if (!v || v->kind == KS_VALUE_NULL)
        return KS_OK;
    if (v->kind != kind)
        return ks_error_at(err, KS_ERR_CONFIG, v, "%s: %s must be %s, got %s", cls, key, want,
                           ks_value_describe(v, got, sizeof got));
    *out = v;
    return KS_OK;
}

/* The arguments without the generic keys (an InputLayer keeps all but name). */
static ks_status own_args(const ks_layer_ops *ops, const ks_value *args, int is_input,
                          ks_value *own, ks_error *err)
{
    ks_value_init(own, KS_VALUE_MAP);
    own->file = args->file;
    own->line = args->line;
    own->col = args->col;
    for (size_t i = 0; args->kind == KS_VALUE_MAP && i < args->n; i++) {
        const char *key = args->items[i].key;
        if (is_input ? strcmp(key, "name") == 0 : is_generic(ops, key))
            continue;
        if (ks_value_put_copy(own, key, &args->items[i]) != KS_OK) {
            ks_value_free(own);
            return nomem(err);
        }
    }
    return KS_OK;
}

/* Check a kind's arguments now, so that a layer no output needs is checked too. */
static ks_status check_args(const ks_layer_ops *ops, const ks_value *own, ks_error *err)
{
    void *st = calloc(1, ops->state_size ? ops->state_size : 1);
    ks_status s;
    if (!st)
        return nomem(err);
    ks_keys_defaults(ops->keys, st);
    s = ks_keys_read(ops->keys, own, ops->name, st, err);
    ks_keys_free(ops->keys, st);
    free(st);
    return s;
}

/* A shape value as the one-key map {input_shape: v} reads it. */
static ks_status shape_of(const ks_value *v, const char *cls, ks_shape *s, ks_error *err)
{
    static const ks_key shape_key[] = {{"input_shape", KS_KEY_SHAPE, 0, 0, 0, 0, NULL, NULL, 0},
                                       {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};
    ks_value map;
    ks_value_init(&map, KS_VALUE_MAP);
    map.n = 1;
    map.items = (ks_value *)v;
    return ks_keys_read(shape_key, &map, cls, s, err);
}

/* The InputLayer Keras makes for a Sequential list: shape from input_shape, input_dim or
   the data. */
static ks_status implicit_input(parser *p, const item *first, const char *cls,
                                const ks_shape *data_shape)
{
    const ks_value *vshape = ks_value_get(first->args, "input_shape"), *vdim;
    ks_shape shape = {0, {0}};
    ks_entry *e;
    ks_value *list;
    ks_status s;
    vdim = NULL;
    if (is_generic(ks_layer_find(cls), "input_dim") &&
        (s = get_generic(first->args, "input_dim", KS_VALUE_NUMBER, "a positive integer", cls,
                         &vdim, p->err)) != KS_OK)
        return s;
    if (vshape && vshape->kind != KS_VALUE_NULL) {
        if ((s = shape_of(vshape, cls, &shape, p->err)) != KS_OK)
            return s;
    } else if (vdim) {
        if (vdim->number != floor(vdim->number) || vdim->number < 1 || vdim->number > 1e9)
            return ks_error_at(p->err, KS_ERR_CONFIG, vdim,
                               "%s: input_dim must be a positive integer", cls);
        shape.ndim = 1;
        shape.dim[0] = (int)vdim->number;
    } else if (data_shape && data_shape->ndim > 0) {
        shape = *data_shape;
    } else {
        return ks_error_at_key(p->err, KS_ERR_CONFIG, first->args,
                               "the first layer needs input_shape (e.g. input_shape: [28, 28]) "
                               "or an InputLayer before it");
    }
    if (!(e = new_entry(p)))
        return nomem(p->err);
    e->kind = KS_ENTRY_INPUT;
    e->ops = &ks_layer_input_ops;
    e->implicit = 1;
    e->src = first->src;
    snprintf(e->name, sizeof e->name, "input_layer");
    ks_value_init(&e->args, KS_VALUE_MAP);
    if (!(list = ks_value_put(&e->args, "shape", KS_VALUE_LIST)))
        return nomem(p->err);
    for (int d = 0; d < shape.ndim; d++) {
        ks_value *v = ks_value_push(list, KS_VALUE_NUMBER);
        if (!v)
            return nomem(p->err);
        v->number = shape.dim[d];
    }
    return KS_OK;
}

/* ------------------------------------------------------- reading items */

/* A call of a layer or sub-model by name takes no arguments of its own. */
static ks_status call_args_only(parser *p, const ks_value *args)
{
    for (size_t k = 0; args->kind == KS_VALUE_MAP && k < args->n; k++)
        if (strcmp(args->items[k].key, "name") && strcmp(args->items[k].key, "inputs") &&
            strcmp(args->items[k].key, "repeat"))
            return ks_error_at_key(p->err, KS_ERR_CONFIG, &args->items[k],
                                   "a call of \"%s\" takes name, inputs and repeat only, got "
                                   "%s; its arguments are where it is defined",
                                   args->key, args->items[k].key);
    return KS_OK;
}

/* Read the file's entry i into its item and its entries (copies). */
static ks_status read_item(parser *p, int i, const ks_value *src)
{
    item *it = &p->items[i];
    const ks_value *args, *vrepeat, *vtrain;
    const ks_layer_ops *ops = NULL;
    ks_entry_kind kind;
    int callee = -1, repeat = 1;
    const char *cls;
    ks_value own;
    ks_status s;
    char got[64];
    if (src->kind != KS_VALUE_MAP || src->n != 1)
        return ks_error_at(p->err, KS_ERR_CONFIG, src,
                           "a layer must be a map of one class name to its arguments, "
                           "e.g. Dense: {units: 10}, got %s",
                           src->kind == KS_VALUE_MAP ? "a map of several keys"
                                                     : ks_value_describe(src, got, sizeof got));
    args = &src->items[0];
    cls = args->key;
    it->src = src;
    it->args = args;
    if (args->kind != KS_VALUE_MAP && args->kind != KS_VALUE_NULL)
        return ks_error_at(p->err, KS_ERR_CONFIG, args, "%s expects a map of arguments, got %s",
                           cls, ks_value_describe(args, got, sizeof got));
    if ((ops = ks_layer_find(cls))) {
        kind = ops->flags & KS_LAYER_INPUT ? KS_ENTRY_INPUT : KS_ENTRY_LAYER;
        cls = ops->name;
    } else if ((callee = find_graph(p->m, cls)) >= 0) {
        kind = KS_ENTRY_MODEL;
        if (callee == p->gi)
            return ks_error_at_key(p->err, KS_ERR_CONFIG, args,
                                   "sub-model \"%s\" calls itself", cls);
    } else {
        kind = KS_ENTRY_SHARED;     /* a layer's name: resolved once every name is known */
    }
    if ((s = get_generic(args, "name", KS_VALUE_STRING, "a string", cls, &it->vname,
                         p->err)) != KS_OK ||
        (s = get_generic(args, "repeat", KS_VALUE_NUMBER, "an integer >= 0", cls, &vrepeat,
                         p->err)) != KS_OK ||
        (s = get_generic(args, "trainable", KS_VALUE_BOOL, "true or false", cls, &vtrain,
                         p->err)) != KS_OK)
        return s;
    it->vinputs = args->kind == KS_VALUE_MAP ? ks_value_get(args, "inputs") : NULL;
    if (it->vinputs && it->vinputs->kind == KS_VALUE_NULL)
        it->vinputs = NULL;
    if (it->vname) {
        if (strlen(it->vname->string) >= KS_NAME_MAX - 8 || !it->vname->string[0] ||
            strchr(it->vname->string, '/'))
            return ks_error_at(p->err, KS_ERR_CONFIG, it->vname,
                               "%s: name must be 1 to %d characters without \"/\", got %s", cls,
                               KS_NAME_MAX - 9, ks_value_describe(it->vname, got, sizeof got));
        snprintf(it->name, sizeof it->name, "%s", it->vname->string);
    }
    if (vrepeat) {
        if (vrepeat->number != floor(vrepeat->number) || vrepeat->number < 0 ||
            vrepeat->number > 1000)
            return ks_error_at(p->err, KS_ERR_CONFIG, vrepeat,
                               "%s: repeat must be an integer in [0, 1000], got %s", cls,
                               ks_value_describe(vrepeat, got, sizeof got));
        repeat = (int)vrepeat->number;
        if (kind == KS_ENTRY_INPUT && repeat != 1)
            return ks_error_at(p->err, KS_ERR_CONFIG, vrepeat,
                               "%s: an input cannot be repeated", cls);
    }
    if (kind == KS_ENTRY_MODEL && (s = call_args_only(p, args)) != KS_OK)
        return s;
    if (kind == KS_ENTRY_SHARED || kind == KS_ENTRY_MODEL) {
        ks_value_init(&own, KS_VALUE_NULL);     /* a call: checked once resolved */
    } else {
        if ((s = own_args(ops, args, kind == KS_ENTRY_INPUT, &own, p->err)) != KS_OK)
            return s;
        if ((s = check_args(ops, &own, p->err)) != KS_OK) {
            ks_value_free(&own);
            return s;
        }
    }
    it->first = p->g->n;
    it->count = repeat;
    for (int r = 0; r < repeat; r++) {
        ks_entry *e = new_entry(p);
        if (!e || (r + 1 < repeat ? ks_value_clone(&own, &e->args) != KS_OK : 0)) {
            ks_value_free(&own);
            return nomem(p->err);
        }
        if (r + 1 == repeat) {
            e->args = own;          /* the last copy takes it over */
            ks_value_init(&own, KS_VALUE_NULL);
        }
        e->kind = kind;
        e->ops = ops;
        e->callee = callee;
        e->src = src;
        e->frozen = vtrain && !vtrain->boolean;
        if (it->name[0] && r == 0)
            snprintf(e->name, sizeof e->name, "%s", it->name);
        else if (it->name[0])
            snprintf(e->name, sizeof e->name, "%.*s_%d", KS_NAME_MAX - 9, it->name, r % 10000);
    }
    ks_value_free(&own);
    return KS_OK;
}

static int name_taken(const ks_graph *g, const char *name, int except)
{
    for (int i = 0; i < g->n; i++)
        if (i != except && strcmp(g->e[i].name, name) == 0)
            return 1;
    return 0;
}

/* Keras-style automatic names, unique within the graph: dense, dense_1, … */
static void auto_names(parser *p)
{
    ks_graph *g = p->g;
    for (int i = 0; i < g->n; i++) {
        ks_entry *e = &g->e[i];
        char prefix[KS_NAME_MAX - 12];
        if (e->name[0])
            continue;
        if (e->kind == KS_ENTRY_INPUT || e->kind == KS_ENTRY_LAYER)
            ks_layer_default_prefix(e->ops->name, prefix, sizeof prefix);
        else
            snprintf(prefix, sizeof prefix, "%.*s", (int)sizeof prefix - 1, e->src->items[0].key);
        snprintf(e->name, sizeof e->name, "%s", prefix);
        for (int k = 1; name_taken(g, e->name, i); k++)
            snprintf(e->name, sizeof e->name, "%s_%d", prefix, k);
    }
}

static ks_status unique_names(parser *p)
{
    const ks_graph *g = p->g;
    for (int i = 0; i < g->n; i++) {
        int j = find_entry(g, g->e[i].name);
        if (j != i) {
            const ks_value *v = ks_value_get(g->e[i].src->items[0].kind == KS_VALUE_MAP
                                                 ? &g->e[i].src->items[0]
                                                 : NULL,
                                             "name");
            return ks_error_at(p->err, KS_ERR_CONFIG, v ? v : g->e[i].src,
                               "two layers are named \"%s\"; layer names must be unique",
                               g->e[i].name);
        }
    }
    return KS_OK;
}

/* ---------------------------------------------------------- references */

static ks_status resolve_prev(parser *p, int i, int *out);

/* The entry a name refers to: an item's given name means its last copy (or, for
   repeat: 0, what it passes through); else an entry's own name.  -1 if none. */
static ks_status lookup(parser *p, const char *name, const ks_value *where, int *out)
{
    *out = -1;
    for (int i = 0; i < p->n_items; i++) {
        item *it = &p->items[i];
        if (!it->name[0] || strcmp(it->name, name) != 0)
            continue;
        if (it->count > 0) {
            *out = it->first + it->count - 1;
            return KS_OK;
        }
        if (it->resolving)
            return ks_error_at(p->err, KS_ERR_CONFIG, where,
                               "\"%s\" (repeat: 0) passes its input through, which leads back "
                               "to itself",
                               name);
        {
            ks_status s;
            it->resolving = 1;
            if (it->vinputs) {
                const ks_value *v = it->vinputs->kind == KS_VALUE_LIST && it->vinputs->n == 1
                                        ? &it->vinputs->items[0]
                                        : it->vinputs;
                if (v->kind != KS_VALUE_STRING)
                    s = ks_error_at(p->err, KS_ERR_CONFIG, it->vinputs,
                                    "\"%s\" has repeat: 0, so it passes its one input through; "
                                    "it reads several",
                                    name);
                else if ((s = lookup(p, v->string, v, out)) == KS_OK && *out < 0)
                    s = ks_error_at(p->err, KS_ERR_CONFIG, v, "inputs names no layer \"%s\"",
                                    v->string);
            } else {
                s = resolve_prev(p, i, out);
            }
            it->resolving = 0;
            return s;
        }
    }
    *out = find_entry(p->g, name);
    return KS_OK;
}

/* What item i reads by default: the previous item's output (through repeat: 0 items). */
static ks_status resolve_prev(parser *p, int i, int *out)
{
    const item *prev;
    *out = -1;
    if (i == 0) {
        /* the implicit input, if the graph has one (entry 0) */
        if (p->g->n > 0 && p->g->e[0].implicit) {
            *out = 0;
            return KS_OK;
        }
        return ks_error_at_key(p->err, KS_ERR_CONFIG, p->items[0].args,
                               "%s reads nothing: give it inputs, or put an Input before it",
                               p->items[0].args->key);
    }
    prev = &p->items[i - 1];
    if (prev->count > 0) {
        *out = prev->first + prev->count - 1;
        return KS_OK;
    }
    if (prev->name[0])
        return lookup(p, prev->name, prev->args, out);
    /* an unnamed repeat: 0 item: what it would have read */
    if (prev->vinputs) {
        const ks_value *v = prev->vinputs->kind == KS_VALUE_LIST && prev->vinputs->n == 1
                                ? &prev->vinputs->items[0]
                                : prev->vinputs;
        ks_status s;
        if (v->kind != KS_VALUE_STRING)
            return ks_error_at(p->err, KS_ERR_CONFIG, prev->vinputs,
                               "repeat: 0 passes one input through; this layer reads several");
        if ((s = lookup(p, v->string, v, out)) == KS_OK && *out < 0)
            s = ks_error_at(p->err, KS_ERR_CONFIG, v, "inputs names no layer \"%s\"", v->string);
        return s;
    }
    return resolve_prev(p, i - 1, out);
}

/* Look a name up for inputs/outputs; an unknown one is an error with a suggestion. */
static ks_status reference(parser *p, const ks_value *v, const char *what, int *out)
{
    const char *names[256];
    const char *near;
    char got[64];
    ks_status s;
    int n = 0;
    if (v->kind != KS_VALUE_STRING)
        return ks_error_at(p->err, KS_ERR_CONFIG, v, "%s must name layers, got %s", what,
                           ks_value_describe(v, got, sizeof got));
    if ((s = lookup(p, v->string, v, out)) != KS_OK || *out >= 0)
        return s;
    for (int i = 0; i < p->n_items && n < 254; i++)
        if (p->items[i].name[0])
            names[n++] = p->items[i].name;
    for (int i = 0; i < p->g->n && n < 254; i++)
        names[n++] = p->g->e[i].name;
    names[n] = NULL;
    near = ks_nearest_name(v->string, names);
    if (near)
        return ks_error_at(p->err, KS_ERR_CONFIG, v,
                           "%s names no layer \"%s\" (did you mean \"%s\"?)", what, v->string,
                           near);
    return ks_error_at(p->err, KS_ERR_CONFIG, v, "%s names no layer \"%s\"", what, v->string);
}

/* Each entry's inputs: given names, the previous copy, or the previous item. */
static ks_status resolve_inputs(parser *p)
{
    ks_graph *g = p->g;
    for (int i = 0; i < p->n_items; i++) {
        const item *it = &p->items[i];
        for (int r = 0; r < it->count; r++) {
            ks_entry *e = &g->e[it->first + r];
            const char *cls = it->args->key;
            ks_status s;
            if (e->kind == KS_ENTRY_INPUT) {
                if (it->vinputs)
                    return ks_error_at(p->err, KS_ERR_CONFIG, it->vinputs,
                                       "an input reads no other layer");
                continue;
            }
            if (r > 0) {
                e->inputs[e->n_in++] = it->first + r - 1;
            } else if (it->vinputs) {
                const ks_value *list = it->vinputs;
                size_t n = list->kind == KS_VALUE_LIST ? list->n : 1;
                if ((list->kind != KS_VALUE_LIST && list->kind != KS_VALUE_STRING) || n < 1 ||
                    n > KS_MAX_INPUTS)
                    return ks_error_at(p->err, KS_ERR_CONFIG, list,
                                       "%s: inputs must be a layer name or a list of 1 to %d "
                                       "names",
                                       cls, KS_MAX_INPUTS);
                for (size_t k = 0; k < n; k++) {
                    const ks_value *nm = list->kind == KS_VALUE_LIST ? &list->items[k] : list;
                    int idx;
                    if ((s = reference(p, nm, "inputs", &idx)) != KS_OK)
                        return s;
                    e->inputs[e->n_in++] = idx;
                }
            } else {
                int idx;
                if ((s = resolve_prev(p, i, &idx)) != KS_OK)
                    return s;
                e->inputs[e->n_in++] = idx;
            }
            if (e->kind == KS_ENTRY_LAYER && e->n_in > 1 && !(e->ops->flags & KS_LAYER_MERGE))
                return ks_error_at(p->err, KS_ERR_CONFIG, it->vinputs ? it->vinputs : it->args,
                                   "%s takes one input, got %d", cls, e->n_in);
            if (it->count > 1 && e->n_in > 1)
                return ks_error_at(p->err, KS_ERR_CONFIG, it->args,
                                   "%s: repeat chains copies that each read the one before; "
                                   "this layer reads %d",
                                   cls, e->n_in);
        }
        if (it->count == 0 && it->vinputs && it->vinputs->kind == KS_VALUE_LIST &&
            it->vinputs->n > 1)
            return ks_error_at(p->err, KS_ERR_CONFIG, it->vinputs,
                               "repeat: 0 passes one input through; this layer reads %zu",
                               it->vinputs->n);
    }
    return KS_OK;
}

/* Resolve the call of entry i by name: a layer defined in this graph (a shared layer),
   or another call of a sub-model. */
static ks_status resolve_call(parser *p, int i, int depth)
{
    ks_graph *g = p->g;
    ks_entry *e = &g->e[i];
    const ks_value *args = &e->src->items[0];
    int idx;
    ks_status s;
    if (e->kind != KS_ENTRY_SHARED || e->callee >= 0)
        return KS_OK;
    if ((s = lookup(p, args->key, args, &idx)) != KS_OK)
        return s;
    if (idx < 0 || idx == i)    /* only this call has the name: no such layer */
        return unknown_class(p, args);
    if ((s = call_args_only(p, args)) != KS_OK)
        return s;
    if (depth > g->n)
        return ks_error_at_key(p->err, KS_ERR_CONFIG, args,
                               "\"%s\" calls itself; name a layer defined elsewhere", args->key);
    if ((s = resolve_call(p, idx, depth + 1)) != KS_OK)
        return s;
    if (g->e[idx].kind == KS_ENTRY_SHARED)
        idx = g->e[idx].callee;            /* a call of a call: the same layer */
    if (g->e[idx].kind == KS_ENTRY_INPUT)
        return ks_error_at_key(p->err, KS_ERR_CONFIG, args,
                               "\"%s\" is an input; only layers and sub-models can be called",
                               args->key);
    if (g->e[idx].kind == KS_ENTRY_MODEL) {
        e->kind = KS_ENTRY_MODEL;           /* another call of the sub-model */
        e->callee = g->e[idx].callee;
    } else {
        e->callee = idx;
    }
    return KS_OK;
}

static ks_status resolve_calls(parser *p)
{
    ks_status s = KS_OK;
    for (int i = 0; i < p->g->n && s == KS_OK; i++)
        s = resolve_call(p, i, 0);
    return s;
}

/* A name or a list of names (ins: Input entries only) into entry indices. */
static ks_status name_list(parser *p, const ks_value *v, const char *what, int inputs, int *out,
                           int *n)
{
    size_t count = v->kind == KS_VALUE_LIST ? v->n : 1;
    ks_status s;
    *n = 0;
    if ((v->kind != KS_VALUE_LIST && v->kind != KS_VALUE_STRING) || count < 1 ||
        count > KS_MAX_IO)
        return ks_error_at(p->err, KS_ERR_CONFIG, v,
                           "%s must be a layer name or a list of 1 to %d names", what,
                           KS_MAX_IO);
    for (size_t k = 0; k < count; k++) {
        const ks_value *nm = v->kind == KS_VALUE_LIST ? &v->items[k] : v;
        int idx;
        if ((s = reference(p, nm, what, &idx)) != KS_OK)
            return s;
        if (inputs && p->g->e[idx].kind != KS_ENTRY_INPUT)
            return ks_error_at(p->err, KS_ERR_CONFIG, nm,
                               "inputs must name Input layers; \"%s\" is a %s", nm->string,
                               p->g->e[idx].kind == KS_ENTRY_LAYER ? p->g->e[idx].ops->name
                                                                   : "call");
        if (!inputs && p->g->e[idx].kind == KS_ENTRY_INPUT)
            return ks_error_at(p->err, KS_ERR_CONFIG, nm,
                               "outputs names \"%s\", an input; outputs must be layers",
                               nm->string);
        for (int j = 0; j < *n; j++)
            if (out[j] == idx)
                return ks_error_at(p->err, KS_ERR_CONFIG, nm, "%s names \"%s\" twice", what,
                                   nm->string);
        out[(*n)++] = idx;
    }
    return KS_OK;
}

/* ---------------------------------------------------- order and pruning */

/* Reorder g's entries by perm (new position → old index) and remap every index. */
static ks_status permute(ks_graph *g, const int *perm, ks_error *err)
{
    ks_entry *ne = malloc((size_t)g->n * sizeof *ne);
    int *where = malloc((size_t)g->n * sizeof *where);
    if (!ne || !where) {
        free(ne);
        free(where);
        return nomem(err);
    }
    for (int i = 0; i < g->n; i++) {
        ne[i] = g->e[perm[i]];
        where[perm[i]] = i;
    }
    for (int i = 0; i < g->n; i++) {
        for (int k = 0; k < ne[i].n_in; k++)
            ne[i].inputs[k] = where[ne[i].inputs[k]];
        if (ne[i].kind == KS_ENTRY_SHARED)
            ne[i].callee = where[ne[i].callee];
    }
    for (int k = 0; k < g->n_inputs; k++)
        g->inputs[k] = where[g->inputs[k]];
    for (int k = 0; k < g->n_outputs; k++)
        g->outputs[k] = where[g->outputs[k]];
    free(g->e);
    g->e = ne;
    g->cap = g->n;
    free(where);
    return KS_OK;
}

/* Name a cycle among the entries left with unmet inputs, at one of them. */
static ks_status cycle_error(parser *p, const int *indeg)
{
    const ks_graph *g = p->g;
    char path[400] = "";
    int start = -1, cur, steps = 0;
    size_t len;
    for (int i = 0; i < g->n && start < 0; i++)
        if (indeg[i] > 0)
            start = i;
    /* walk inputs that are also left until a node repeats: that node is on a cycle */
    cur = start;
    for (steps = 0; steps < g->n; steps++) {
        int next = -1;
        for (int k = 0; k < g->e[cur].n_in && next < 0; k++)
            if (indeg[g->e[cur].inputs[k]] > 0)
                next = g->e[cur].inputs[k];
        cur = next;
    }
    /* name the cycle from its entry listed first */
    {
        int anchor = cur;
        start = cur;
        do {
            int next = -1;
            for (int k = 0; k < g->e[cur].n_in && next < 0; k++)
                if (indeg[g->e[cur].inputs[k]] > 0)
                    next = g->e[cur].inputs[k];
            cur = next;
            if (cur < start)
                start = cur;
        } while (cur != anchor);
    }
    len = (size_t)snprintf(path, sizeof path, "%s", g->e[start].name);
    cur = start;
    do {
        int next = -1;
        for (int k = 0; k < g->e[cur].n_in && next < 0; k++)
            if (indeg[g->e[cur].inputs[k]] > 0)
                next = g->e[cur].inputs[k];
        cur = next;
        if (len < sizeof path)
            len += (size_t)snprintf(path + len, sizeof path - len, " reads %s", g->e[cur].name);
    } while (cur != start);
    {
        const ks_value *args = &g->e[start].src->items[0];
        const ks_value *v = args->kind == KS_VALUE_MAP ? ks_value_get(args, "inputs") : NULL;
        return ks_error_at(p->err, KS_ERR_CONFIG, v ? v : g->e[start].src,
                           "the layers form a cycle: %s; a layer cannot depend on its own "
                           "output",
                           path);
    }
}

/* Kahn's algorithm, always taking the earliest ready entry: a file already in order keeps
   its order. */
static ks_status sort_graph(parser *p)
{
    ks_graph *g = p->g;
    int *indeg = calloc((size_t)g->n + 1, sizeof *indeg);
    int *perm = malloc(((size_t)g->n + 1) * sizeof *perm);
    unsigned char *done = calloc((size_t)g->n + 1, 1);
    ks_status s = KS_OK;
    int placed = 0;
    if (!indeg || !perm || !done) {
        s = nomem(p->err);
        goto out;
    }
    for (int i = 0; i < g->n; i++)
        indeg[i] = g->e[i].n_in;
    while (placed < g->n) {
        int pick = -1;
        for (int i = 0; i < g->n && pick < 0; i++)
            if (!done[i] && indeg[i] == 0)
                pick = i;
        if (pick < 0) {
            s = cycle_error(p, indeg);
            goto out;
        }
        done[pick] = 1;
        perm[placed++] = pick;
        for (int i = 0; i < g->n; i++)
            for (int k = 0; k < g->e[i].n_in; k++)
                if (g->e[i].inputs[k] == pick)
                    indeg[i]--;
    }
    s = permute(g, perm, p->err);
out:
    free(indeg);
    free(perm);
    free(done);
    return s;
}

/* Mark what the outputs need; warn about the rest, as Keras warns. */
static void mark_used(parser *p)
{
    ks_graph *g = p->g;
    for (int k = 0; k < g->n_outputs; k++)
        g->e[g->outputs[k]].used = 1;
    for (int i = g->n - 1; i >= 0; i--)
        if (g->e[i].used)
            for (int k = 0; k < g->e[i].n_in; k++)
                g->e[g->e[i].inputs[k]].used = 1;
    for (int i = 0; i < g->n; i++) {
        const ks_entry *e = &g->e[i];
        if (e->used || e->implicit)
            continue;
        if (g->name[0])
            ks_model_warn(p->m, e->src,
                          "the output of layer \"%s\" in sub-model \"%s\" is not used by any "
                          "layer or its output; it is left out",
                          e->name, g->name);
        else
            ks_model_warn(p->m, e->src,
                          "the output of layer \"%s\" is not used by any layer or model output; "
                          "it is left out of the model",
                          e->name);
    }
    /* inputs nothing needs are not inputs */
    for (int k = 0; k < g->n_inputs; k++)
        if (!g->e[g->inputs[k]].used) {
            memmove(&g->inputs[k], &g->inputs[k + 1],
                    (size_t)(g->n_inputs - k - 1) * sizeof g->inputs[0]);
            g->n_inputs--;
            k--;
        }
}

/* ------------------------------------------------------------ a graph */

static ks_status parse_graph(parser *p, const ks_value *v, const ks_shape *data_shape)
{
    ks_graph *g = p->g;
    graph_section sec;
    const ks_value *layers = v;
    ks_status s = KS_OK;
    int has_input = 0, implicit = 0;
    char got[64];
    ks_keys_defaults(graph_keys, &sec);
    if (v->kind == KS_VALUE_MAP) {
        if ((s = ks_keys_read(graph_keys, v, p->gi ? "a sub-model" : "model", &sec, p->err)) !=
            KS_OK)
            goto out;
        if (p->gi && sec.models.kind != KS_VALUE_NULL) {
            s = ks_error_at(p->err, KS_ERR_CONFIG, ks_value_get(v, "models"),
                            "sub-models are listed under the model's models, not inside "
                            "another sub-model");
            goto out;
        }
        layers = ks_value_get(v, "layers");
    } else {
        g->listed = 1;
    }
    if (!layers || layers->kind != KS_VALUE_LIST || layers->n == 0) {
        s = ks_error_at(p->err, KS_ERR_CONFIG, layers ? layers : v,
                        "%s must be a list of layers, e.g. - Dense: {units: 10}, got %s",
                        p->gi ? "a sub-model" : "model",
                        !layers ? "nothing"
                        : layers->kind == KS_VALUE_LIST
                            ? "an empty list"
                            : ks_value_describe(layers, got, sizeof got));
        goto out;
    }
    p->n_items = (int)layers->n;
    p->items = calloc(layers->n, sizeof *p->items);
    if (!p->items) {
        s = nomem(p->err);
        goto out;
    }
    /* the implicit input first (entry 0), when the first layer reads nothing */
    for (size_t i = 0; i < layers->n; i++) {
        const ks_value *src = &layers->items[i];
        if (src->kind == KS_VALUE_MAP && src->n == 1) {
            const ks_layer_ops *ops = ks_layer_find(src->items[0].key);
            has_input |= ops && (ops->flags & KS_LAYER_INPUT);
        }
    }
    {
        const ks_value *first = &layers->items[0];
        if (!has_input && first->kind == KS_VALUE_MAP && first->n == 1 &&
            !(first->items[0].kind == KS_VALUE_MAP && ks_value_get(&first->items[0], "inputs")))
            implicit = 1;
    }
    if (implicit && p->gi == 0) {
        item probe = {0};
        probe.src = &layers->items[0];
        probe.args = &layers->items[0].items[0];
        if ((s = implicit_input(p, &probe, probe.args->key, data_shape)) != KS_OK)
            goto out;
    } else if (implicit) {
        ks_entry *e = new_entry(p);         /* the sub-model's caller gives its shape */
        if (!e) {
            s = nomem(p->err);
            goto out;
        }
        e->kind = KS_ENTRY_INPUT;
        e->ops = &ks_layer_input_ops;
        e->implicit = 1;
        e->src = &layers->items[0];
        snprintf(e->name, sizeof e->name, "input_layer");
    }
    for (size_t i = 0; i < layers->n && s == KS_OK; i++)
        s = read_item(p, (int)i, &layers->items[i]);
    if (s != KS_OK)
        goto out;
    auto_names(p);
    if ((s = unique_names(p)) != KS_OK || (s = resolve_inputs(p)) != KS_OK ||
        (s = resolve_calls(p)) != KS_OK)
        goto out;
    /* inputs: given, else every Input in file order */
    if (sec.inputs.kind != KS_VALUE_NULL) {
        if ((s = name_list(p, ks_value_get(v, "inputs"), "inputs", 1, g->inputs,
                           &g->n_inputs)) != KS_OK)
            goto out;
        for (int i = 0; i < g->n; i++) {
            int listed = 0;
            for (int k = 0; k < g->n_inputs; k++)
                listed |= g->inputs[k] == i;
            if (g->e[i].kind == KS_ENTRY_INPUT && !listed) {
                s = ks_error_at(p->err, KS_ERR_CONFIG, ks_value_get(v, "inputs"),
                                "inputs leaves out the Input \"%s\"; list every input",
                                g->e[i].name);
                goto out;
            }
        }
    } else {
        for (int i = 0; i < g->n; i++)
            if (g->e[i].kind == KS_ENTRY_INPUT) {
                if (g->n_inputs == KS_MAX_IO) {
                    s = ks_error_at(p->err, KS_ERR_CONFIG, g->e[i].src,
                                    "a model takes at most %d inputs", KS_MAX_IO);
                    goto out;
                }
                g->inputs[g->n_inputs++] = i;
            }
    }
    /* outputs: given, else the last layer */
    if (sec.outputs.kind != KS_VALUE_NULL) {
        if ((s = name_list(p, ks_value_get(v, "outputs"), "outputs", 0, g->outputs,
                           &g->n_outputs)) != KS_OK)
            goto out;
    } else {
        int last;
        if ((s = resolve_prev(p, p->n_items, &last)) != KS_OK)
            goto out;
        if (g->e[last].kind == KS_ENTRY_INPUT) {
            s = ks_error_at(p->err, KS_ERR_CONFIG, layers,
                            "%s has no layers besides its input (repeat: 0 everywhere?)",
                            p->gi ? "the sub-model" : "model");
            goto out;
        }
        g->outputs[g->n_outputs++] = last;
    }
    if (p->gi && g->n_outputs != 1) {
        s = ks_error_at(p->err, KS_ERR_CONFIG, ks_value_get(v, "outputs"),
                        "a sub-model called as a layer has one output, got %d", g->n_outputs);
        goto out;
    }
    if ((s = sort_graph(p)) != KS_OK)
        goto out;
    mark_used(p);
out:
    ks_keys_free(graph_keys, &sec);
    free(p->items);
    p->items = NULL;
    return s;
}

/* Sub-models calling each other in a circle would never end. */
static ks_status check_model_cycles(ks_model *m, int gi, int *state, ks_error *err)
{
    const ks_graph *g = &m->graphs[gi];
    state[gi] = 1;
    for (int i = 0; i < g->n; i++) {
        const ks_entry *e = &g->e[i];
        ks_status s;
        if (e->kind != KS_ENTRY_MODEL || !e->used)
            continue;
        if (state[e->callee] == 1)
            return ks_error_at_key(err, KS_ERR_CONFIG, &e->src->items[0],
                                   "sub-model \"%s\" is called from itself (through \"%s\")",
                                   m->graphs[e->callee].name, g->name[0] ? g->name : "model");
        if (state[e->callee] == 0 && (s = check_model_cycles(m, e->callee, state, err)) != KS_OK)
            return s;
    }
    state[gi] = 2;
    return KS_OK;
}

ks_status ks_graph_parse(ks_model *m, const ks_value *model, const ks_shape *input_shape,
                         ks_error *err)
{
    const ks_value *models = NULL;
    parser p;
    ks_status s = KS_OK;
    int *state;
    char got[64];
    if (!model || (model->kind != KS_VALUE_LIST && model->kind != KS_VALUE_MAP))
        return ks_error_at(err, KS_ERR_CONFIG, model,
                           "model must be a list of layers, e.g. - Dense: {units: 10}, or a map "
                           "of layers, inputs and outputs, got %s",
                           model ? ks_value_describe(model, got, sizeof got) : "nothing");
    if (model->kind == KS_VALUE_MAP && (models = ks_value_get(model, "models")) &&
        models->kind != KS_VALUE_MAP && models->kind != KS_VALUE_NULL)
        return ks_error_at(err, KS_ERR_CONFIG, models,
                           "models must map sub-model names to their layers, got %s",
                           ks_value_describe(models, got, sizeof got));
    if (models && models->kind == KS_VALUE_NULL)
        models = NULL;
    m->n_graphs = 1 + (models ? (int)models->n : 0);
    if (m->n_graphs > 64)
        return ks_error_at(err, KS_ERR_CONFIG, models, "at most 63 sub-models");
    m->graphs = calloc((size_t)m->n_graphs, sizeof *m->graphs);
    if (!m->graphs) {
        m->n_graphs = 0;
        return nomem(err);
    }
    for (int i = 1; i < m->n_graphs; i++) {
        const ks_value *sub = &models->items[i - 1];
        if (strlen(sub->key) >= KS_NAME_MAX - 8 || !sub->key[0] || strchr(sub->key, '/') ||
            ks_layer_find(sub->key))
            return ks_error_at_key(err, KS_ERR_CONFIG, sub,
                                   "a sub-model's name must be 1 to %d characters without "
                                   "\"/\" and not a layer class, got \"%s\"",
                                   KS_NAME_MAX - 9, sub->key);
        snprintf(m->graphs[i].name, sizeof m->graphs[i].name, "%s", sub->key);
        for (int j = 1; j < i; j++)
            if (strcmp(m->graphs[j].name, sub->key) == 0)
                return ks_error_at_key(err, KS_ERR_CONFIG, sub, "two sub-models are named \"%s\"",
                                       sub->key);
    }
    memset(&p, 0, sizeof p);
    p.m = m;
    p.err = err;
    for (int i = 1; i < m->n_graphs && s == KS_OK; i++) {
        p.g = &m->graphs[i];
        p.gi = i;
        s = parse_graph(&p, &models->items[i - 1], NULL);
    }
    if (s == KS_OK) {
        p.g = &m->graphs[0];
        p.gi = 0;
        s = parse_graph(&p, model, input_shape);
    }
    if (s != KS_OK)
        return s;
    if (!(state = calloc((size_t)m->n_graphs, sizeof *state)))
        return nomem(err);
    s = check_model_cycles(m, 0, state, err);
    for (int i = 1; s == KS_OK && i < m->n_graphs; i++)
        if (!state[i] && m->graphs[i].n > 0)
            ks_model_warn(m, NULL, "sub-model \"%s\" is never called", m->graphs[i].name);
    free(state);
    return s;
}
