/*
 * model_graph_refs.c — names in a graph of the model section to its entries: the
 * layers an entry reads (given, its previous copy, or the entry before it, through
 * repeat: 0 entries that pass their input through), the layer or sub-model a call
 * names, and a graph's inputs and outputs.  An unknown name is an error at its place,
 * with the nearest known one suggested.
 */
#include "engine_impl.h"

#include <string.h>

typedef ks_graph_parser parser;
typedef ks_graph_item item;

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
                s = ks_graph_resolve_prev(p, i, out);
            }
            it->resolving = 0;
            return s;
        }
    }
    *out = ks_graph_find_entry(p->g, name);
    return KS_OK;
}

/* What item i reads by default: the previous item's output (through repeat: 0 items). */
ks_status ks_graph_resolve_prev(parser *p, int i, int *out)
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
    return ks_graph_resolve_prev(p, i - 1, out);
}

/* Look a name up for inputs/outputs; an unknown one is an error with a suggestion. */
static ks_status reference(parser *p, const ks_value *v, const char *what, int *out)
{
    const char *near;
    char got[64];
    ks_status s;
    if (v->kind != KS_VALUE_STRING)
        return ks_error_at(p->err, KS_ERR_CONFIG, v, "%s must name layers, got %s", what,
                           ks_value_describe(v, got, sizeof got));
    if ((s = lookup(p, v->string, v, out)) != KS_OK || *out >= 0)
        return s;
    near = ks_graph_nearest_entry(p, v->string);
    if (near)
        return ks_error_at(p->err, KS_ERR_CONFIG, v,
                           "%s names no layer \"%s\" (did you mean \"%s\"?)", what, v->string,
                           near);
    return ks_error_at(p->err, KS_ERR_CONFIG, v, "%s names no layer \"%s\"", what, v->string);
}

/* Each entry's inputs: given names, the previous copy, or the previous item. */
ks_status ks_graph_resolve_inputs(parser *p)
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
                if ((s = ks_graph_resolve_prev(p, i, &idx)) != KS_OK)
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
        return ks_graph_unknown_class(p, args);
    if ((s = ks_graph_call_args_only(p, args)) != KS_OK)
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

ks_status ks_graph_resolve_calls(parser *p)
{
    ks_status s = KS_OK;
    for (int i = 0; i < p->g->n && s == KS_OK; i++)
        s = resolve_call(p, i, 0);
    return s;
}

/* A name or a list of names (ins: Input entries only) into entry indices. */
ks_status ks_graph_name_list(parser *p, const ks_value *v, const char *what, int inputs, int *out,
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

/* A graph's inputs (given, else every Input in file order) and outputs (given, else the
   last layer); v is the model or sub-model section, layers its list. */
ks_status ks_graph_resolve_io(parser *p, const ks_value *v, const ks_value *layers)
{
    ks_graph *g = p->g;
    const ks_value *vin = v->kind == KS_VALUE_MAP ? ks_value_get(v, "inputs") : NULL;
    const ks_value *vout = v->kind == KS_VALUE_MAP ? ks_value_get(v, "outputs") : NULL;
    ks_status s;
    if (vin && vin->kind != KS_VALUE_NULL) {
        if ((s = ks_graph_name_list(p, vin, "inputs", 1, g->inputs, &g->n_inputs)) != KS_OK)
            return s;
        for (int i = 0; i < g->n; i++) {
            int listed = 0;
            for (int k = 0; k < g->n_inputs; k++)
                listed |= g->inputs[k] == i;
            if (g->e[i].kind == KS_ENTRY_INPUT && !listed)
                return ks_error_at(p->err, KS_ERR_CONFIG, vin,
                                   "inputs leaves out the Input \"%s\"; list every input",
                                   g->e[i].name);
        }
    } else {
        for (int i = 0; i < g->n; i++)
            if (g->e[i].kind == KS_ENTRY_INPUT) {
                if (g->n_inputs == KS_MAX_IO)
                    return ks_error_at(p->err, KS_ERR_CONFIG, g->e[i].src,
                                       "a model takes at most %d inputs", KS_MAX_IO);
                g->inputs[g->n_inputs++] = i;
            }
    }
    if (vout && vout->kind != KS_VALUE_NULL) {
        if ((s = ks_graph_name_list(p, vout, "outputs", 0, g->outputs, &g->n_outputs)) != KS_OK)
            return s;
    } else {
        int last;
        if ((s = ks_graph_resolve_prev(p, p->n_items, &last)) != KS_OK)
            return s;
        if (g->e[last].kind == KS_ENTRY_INPUT)
            return ks_error_at(p->err, KS_ERR_CONFIG, layers,
                               "%s has no layers besides its input (repeat: 0 everywhere?)",
                               p->gi ? "the sub-model" : "model");
        g->outputs[g->n_outputs++] = last;
    }
    if (p->gi && g->n_outputs != 1)
        return ks_error_at(p->err, KS_ERR_CONFIG, vout,
                           "a sub-model called as a layer has one output, got %d", g->n_outputs);
    return KS_OK;
}
