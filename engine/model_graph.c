/*
 * model_graph.c — the model section read into graphs, one for the model and one per
 * sub-model: entries get their names (given, or Keras-style automatic ones), repeat
 * becomes chained copies, inputs, outputs and calls resolve to entries.  Ordering and
 * pruning are model_graph_order.c's, building the layers model.c's.
 */
#include "engine_impl.h"

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

typedef ks_graph_parser parser;
typedef ks_graph_item item;

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

int ks_graph_find_entry(const ks_graph *g, const char *name)
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

/* The name in this graph nearest to s (given names and entries' names), or NULL. */
const char *ks_graph_nearest_entry(const parser *p, const char *s)
{
    const char *names[256];
    int n = 0;
    /* never s itself: an unnamed call is named after what it calls */
    for (int i = 0; i < p->n_items && n < 254; i++)
        if (p->items[i].name[0] && strcmp(p->items[i].name, s) != 0)
            names[n++] = p->items[i].name;
    for (int i = 0; i < p->g->n && n < 254; i++)
        if (strcmp(p->g->e[i].name, s) != 0)
            names[n++] = p->g->e[i].name;
    names[n] = NULL;
    return ks_nearest_name(s, names);
}

/* "unknown layer \"x\" (did you mean \"y\"?); known: …" over kinds, sub-models, names. */
ks_status ks_graph_unknown_class(parser *p, const ks_value *args)
{
    const char *names[KS_LAYER_KINDS_MAX + 8];
    char head[sizeof p->err->msg], list[sizeof p->err->msg];
    const char *near;
    size_t room;
    int n = 0;
    for (int i = 0; ks_layer_kinds[i]; i++)
        names[n++] = ks_layer_kinds[i]->name;
    for (int i = 1; i < p->m->n_graphs && n < KS_LAYER_KINDS_MAX + 7; i++)
        names[n++] = p->m->graphs[i].name;
    names[n] = NULL;
    near = ks_nearest_name(args->key, names);
    if (!near)      /* a call of a layer by its name: the nearest of this graph's names */
        near = ks_graph_nearest_entry(p, args->key);
    if (near)
        snprintf(head, sizeof head, "unknown layer \"%s\" (did you mean \"%s\"?); known: ",
                 args->key, near);
    else
        snprintf(head, sizeof head, "unknown layer \"%s\"; known: ", args->key);
    /* the kinds, as many as fit after head in ks_error's message, then how many more */
    room = sizeof list - strlen(head);
    ks_layer_kind_names(list, room < 16 ? 16 : room, NULL);
    return ks_error_at_key(p->err, KS_ERR_CONFIG, args, "%s%s", head, list);
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

/* input_shape and input_dim, which any layer takes; the first layer's make the input. */
typedef struct input_args {
    ks_shape shape;
    int dim;
} input_args;

static const ks_key input_arg_keys[] = {
    {"input_shape", KS_KEY_SHAPE, offsetof(input_args, shape), 0, 0, 0, NULL, NULL,
     KS_KEY_NULLABLE},
    {"input_dim", KS_KEY_INT, offsetof(input_args, dim), 0, 1, KS_MAX_AXIS, "0", NULL,
     KS_KEY_NULLABLE},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

/* Read a layer's input_shape and input_dim through their key table (those its kind does
   not declare as its own). */
static ks_status read_input_args(const ks_value *args, const char *cls, input_args *out,
                                 ks_error *err)
{
    ks_value map;
    ks_status s = KS_OK;
    ks_keys_defaults(input_arg_keys, out);
    ks_value_init(&map, KS_VALUE_MAP);
    map.file = args->file;
    map.line = args->line;
    map.col = args->col;
    for (const ks_key *k = input_arg_keys; k->name && s == KS_OK; k++) {
        /* a kind's own argument of that name is not the input's (Embedding's input_dim) */
        const ks_value *v = args->kind == KS_VALUE_MAP && is_generic(ks_layer_find(cls), k->name)
                                ? ks_value_get(args, k->name)
                                : NULL;
        if (v && ks_value_put_copy(&map, k->name, v) != KS_OK)
            s = nomem(err);
    }
    if (s == KS_OK)
        s = ks_keys_read(input_arg_keys, &map, cls, out, err);
    ks_value_free(&map);
    return s;
}

/* The InputLayer Keras makes for a Sequential list: shape from input_shape, input_dim or
   the data. */
static ks_status implicit_input(parser *p, const item *first, const char *cls,
                                const ks_shape *data_shape)
{
    input_args in;
    ks_shape shape = {0, {0}};
    ks_entry *e;
    ks_value *list;
    ks_status s;
    if ((s = read_input_args(first->args, cls, &in, p->err)) != KS_OK)
        return s;
    if (in.shape.ndim > 0) {                /* as Keras: input_shape before input_dim */
        shape = in.shape;
    } else if (in.dim > 0) {
        shape.ndim = 1;
        shape.dim[0] = in.dim;
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
ks_status ks_graph_call_args_only(parser *p, const ks_value *args)
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

/* Item it's repeat copies of proto, each with its own arguments (from *own, which the
   last takes over; freed on failure) and name (name, name_1, … when given). */
static ks_status add_copies(parser *p, item *it, const ks_entry *proto, int repeat,
                            ks_value *own)
{
    it->first = p->g->n;
    it->count = repeat;
    for (int r = 0; r < repeat; r++) {
        ks_entry *e = new_entry(p);
        ks_value args;
        if (!e || (r + 1 < repeat ? ks_value_clone(own, &args) != KS_OK : 0)) {
            ks_value_free(own);
            return nomem(p->err);
        }
        if (r + 1 == repeat) {
            args = *own;            /* the last copy takes it over */
            ks_value_init(own, KS_VALUE_NULL);
        }
        *e = *proto;
        e->args = args;
        if (it->name[0] && r == 0)
            snprintf(e->name, sizeof e->name, "%s", it->name);
        else if (it->name[0])
            snprintf(e->name, sizeof e->name, "%.*s_%d", KS_NAME_MAX - 9, it->name, r % 10000);
    }
    ks_value_free(own);
    return KS_OK;
}

/* Read the file's entry i into its item and its entries (copies). */
static ks_status read_item(parser *p, int i, const ks_value *src)
{
    item *it = &p->items[i];
    const ks_value *args, *vrepeat, *vtrain;
    input_args in;
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
                         p->err)) != KS_OK ||
        (kind == KS_ENTRY_LAYER && (s = read_input_args(args, cls, &in, p->err)) != KS_OK))
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
    if (kind == KS_ENTRY_MODEL && (s = ks_graph_call_args_only(p, args)) != KS_OK)
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
    {
        ks_entry proto;
        memset(&proto, 0, sizeof proto);
        proto.kind = kind;
        proto.ops = ops;
        proto.callee = callee;
        proto.node = -1;
        proto.src = src;
        proto.frozen = vtrain && !vtrain->boolean;
        return add_copies(p, it, &proto, repeat, &own);
    }
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
        int j = ks_graph_find_entry(g, g->e[i].name);
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

/* ------------------------------------------------------------ a graph */

/* The implicit input, entry 0, when the first layer reads nothing and no Input is
   given: the Sequential model's (its shape from input_shape or the data), or the
   sub-model's caller's. */
static ks_status first_input(parser *p, const ks_value *layers, const ks_shape *data_shape)
{
    const ks_value *first = &layers->items[0];
    ks_entry *e;
    for (size_t i = 0; i < layers->n; i++) {
        const ks_value *src = &layers->items[i];
        const ks_layer_ops *ops =
            src->kind == KS_VALUE_MAP && src->n == 1 ? ks_layer_find(src->items[0].key) : NULL;
        if (ops && (ops->flags & KS_LAYER_INPUT))
            return KS_OK;
    }
    if (first->kind != KS_VALUE_MAP || first->n != 1 ||
        (first->items[0].kind == KS_VALUE_MAP && ks_value_get(&first->items[0], "inputs")))
        return KS_OK;
    if (p->gi == 0) {
        item probe = {0};
        probe.src = first;
        probe.args = &first->items[0];
        return implicit_input(p, &probe, probe.args->key, data_shape);
    }
    if (!(e = new_entry(p)))        /* the sub-model's caller gives its shape */
        return nomem(p->err);
    e->kind = KS_ENTRY_INPUT;
    e->ops = &ks_layer_input_ops;
    e->implicit = 1;
    e->src = first;
    snprintf(e->name, sizeof e->name, "input_layer");
    return KS_OK;
}


static ks_status parse_graph(parser *p, const ks_value *v, const ks_shape *data_shape)
{
    ks_graph *g = p->g;
    graph_section sec;
    const ks_value *layers = v;
    ks_status s = KS_OK;
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
    if ((s = first_input(p, layers, data_shape)) != KS_OK)
        goto out;
    for (size_t i = 0; i < layers->n && s == KS_OK; i++)
        s = read_item(p, (int)i, &layers->items[i]);
    if (s != KS_OK)
        goto out;
    auto_names(p);
    if ((s = unique_names(p)) != KS_OK || (s = ks_graph_resolve_inputs(p)) != KS_OK ||
        (s = ks_graph_resolve_calls(p)) != KS_OK)
        goto out;
    if ((s = ks_graph_resolve_io(p, v, layers)) != KS_OK)
        goto out;
    if ((s = ks_graph_sort(g, p->err)) != KS_OK)
        goto out;
    ks_graph_mark_used(p->m, g);
out:
    ks_keys_free(graph_keys, &sec);
    free(p->items);
    p->items = NULL;
    return s;
}

ks_status ks_graph_parse(ks_model *m, const ks_value *model, const ks_shape *input_shape,
                         ks_error *err)
{
    const ks_value *models = NULL;
    parser p;
    ks_status s = KS_OK;
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
    if (m->n_graphs > KS_MAX_GRAPHS)
        return ks_error_at(err, KS_ERR_CONFIG, models, "at most %d sub-models",
                           KS_MAX_GRAPHS - 1);
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
    return ks_graph_check_calls(m, err);
}
