/*
 * model_config.c — the model's normalized configuration, as model files and the study
 * database store it: every layer with its name and every argument explicit, in
 * dependency order, so that building it again gives the same model.  A chain is the
 * plain list it always was; any other graph is the map of layers, inputs, outputs and
 * sub-models that the model section takes.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

static int put_name(ks_value *map, const char *key, const char *name)
{
    ks_value *v = ks_value_put(map, key, KS_VALUE_NULL);
    return v && ks_value_set_string(v, name) == KS_OK;
}

static int push_name(ks_value *list, const char *name)
{
    ks_value *v = ks_value_push(list, KS_VALUE_NULL);
    return v && ks_value_set_string(v, name) == KS_OK;
}

/* Whether entry i of g goes into the config: what the outputs need, and layers that
   only other calls use. */
static int written(const ks_graph *g, int i)
{
    if (g->e[i].used)
        return 1;
    if (g->e[i].kind != KS_ENTRY_LAYER)
        return 0;
    for (int j = 0; j < g->n; j++)
        if (g->e[j].used && g->e[j].kind == KS_ENTRY_SHARED && g->e[j].callee == i)
            return 1;
    return 0;
}

/* One entry: {Class or callee: {name, inputs (unless the previous one), arguments}}. */
static ks_status write_entry(const ks_model *m, const ks_graph *g, int i, int prev,
                             ks_value *list)
{
    const ks_entry *e = &g->e[i];
    const char *key = e->kind == KS_ENTRY_SHARED  ? g->e[e->callee].name
                      : e->kind == KS_ENTRY_MODEL ? m->graphs[e->callee].name
                                                  : e->ops->name;
    ks_value *item = ks_value_push(list, KS_VALUE_MAP), *args;
    if (!item || !(args = ks_value_put(item, key, KS_VALUE_MAP)) || !put_name(args, "name", e->name))
        return KS_ERR_NOMEM;
    if (e->n_in > 0 && !(e->n_in == 1 && e->inputs[0] == prev)) {
        ks_value *in = ks_value_put(args, "inputs", KS_VALUE_LIST);
        if (!in)
            return KS_ERR_NOMEM;
        for (int k = 0; k < e->n_in; k++)
            if (!push_name(in, g->e[e->inputs[k]].name))
                return KS_ERR_NOMEM;
    }
    if (e->kind == KS_ENTRY_SHARED || e->kind == KS_ENTRY_MODEL)
        return KS_OK;
    if (e->layer) {
        const ks_layer *l = e->layer;
        int frozen = l->n_weights > 0;
        if (ks_keys_write(l->ops->keys, l->state, args) != KS_OK)
            return KS_ERR_NOMEM;
        for (int w = 0; w < l->n_weights; w++)
            frozen &= !l->weights[w].trainable;
        if (frozen && !ks_value_put(args, "trainable", KS_VALUE_BOOL))
            return KS_ERR_NOMEM;
        return KS_OK;
    }
    /* a sub-model's Input: its arguments as given */
    for (size_t k = 0; k < e->args.n; k++)
        if (ks_value_put_copy(args, e->args.items[k].key, &e->args.items[k]) != KS_OK)
            return KS_ERR_NOMEM;
    return KS_OK;
}

static ks_status write_names(const ks_graph *g, const int *idx, int n, ks_value *map,
                             const char *key)
{
    ks_value *list = ks_value_put(map, key, KS_VALUE_LIST);
    if (!list)
        return KS_ERR_NOMEM;
    for (int k = 0; k < n; k++)
        if (!push_name(list, g->e[idx[k]].name))
            return KS_ERR_NOMEM;
    return KS_OK;
}

/*
 * Graph g into out: a list when its one output is the last entry written and it reads
 * its one input first (a Sequential model, or a sub-model called on one input); else
 * the map {layers, inputs, outputs}.
 */
static ks_status write_graph(const ks_model *m, const ks_graph *g, int top, ks_value *out)
{
    ks_value *layers;
    int prev = -1, last = -1, first = -1;
    int listed;
    for (int i = 0; i < g->n; i++)
        if (written(g, i) && !(g->e[i].implicit && !top)) {
            if (first < 0)
                first = i;
            last = i;
        }
    listed = g->n_outputs == 1 && g->outputs[0] == last && g->n_inputs == 1 &&
             (top ? g->inputs[0] == first && m->n_graphs == 1
                  : g->e[g->inputs[0]].implicit || g->inputs[0] == first);
    ks_value_init(out, listed ? KS_VALUE_LIST : KS_VALUE_MAP);
    layers = listed ? out : ks_value_put(out, "layers", KS_VALUE_LIST);
    if (!layers)
        return KS_ERR_NOMEM;
    for (int i = 0; i < g->n; i++) {
        if (!written(g, i))
            continue;
        if (g->e[i].implicit && !top) {
            prev = i;           /* a sub-model's caller: read by default, not written */
            continue;
        }
        if (write_entry(m, g, i, prev, layers) != KS_OK)
            return KS_ERR_NOMEM;
        prev = i;
    }
    if (listed)
        return KS_OK;
    if (!(g->n_inputs == 1 && g->e[g->inputs[0]].implicit && !top) &&
        write_names(g, g->inputs, g->n_inputs, out, "inputs") != KS_OK)
        return KS_ERR_NOMEM;
    return write_names(g, g->outputs, g->n_outputs, out, "outputs");
}

/* Which sub-models the model calls, directly or through other sub-models (called[0]:
   the model itself); returns 0 when there are more graphs than called can hold. */
static int calls(const ks_model *m, char *called, int size)
{
    int more = 1;
    if (m->n_graphs > size)
        return 0;
    memset(called, 0, (size_t)size);
    called[0] = 1;
    while (more) {
        more = 0;
        for (int gi = 0; gi < m->n_graphs; gi++)
            for (int i = 0; called[gi] && i < m->graphs[gi].n; i++) {
                const ks_entry *e = &m->graphs[gi].e[i];
                if (e->kind == KS_ENTRY_MODEL && e->used && !called[e->callee])
                    more = called[e->callee] = 1;
            }
    }
    return 1;
}

static ks_status write_model(const ks_model *m, ks_value *out)
{
    ks_value *models;
    char called[KS_MAX_GRAPHS];
    if (write_graph(m, &m->graphs[0], 1, out) != KS_OK)
        return KS_ERR_NOMEM;
    if (m->n_graphs == 1)
        return KS_OK;
    if (!calls(m, called, KS_MAX_GRAPHS))
        return KS_ERR_INTERNAL;
    if (!(models = ks_value_put(out, "models", KS_VALUE_MAP)))
        return KS_ERR_NOMEM;
    for (int gi = 1; gi < m->n_graphs; gi++) {
        ks_value sub;
        ks_status s;
        if (!called[gi])
            continue;       /* never called: nothing was built to write */
        if ((s = write_graph(m, &m->graphs[gi], 0, &sub)) == KS_OK)
            s = ks_value_put_copy(models, m->graphs[gi].name, &sub);
        ks_value_free(&sub);
        if (s != KS_OK)
            return s;
    }
    return KS_OK;
}

ks_status ks_model_config(const ks_model *m, ks_value *layers, ks_value *compile)
{
    if (layers && write_model(m, layers) != KS_OK) {
        ks_value_free(layers);
        return KS_ERR_NOMEM;
    }
    if (compile) {
        ks_value_init(compile, KS_VALUE_NULL);
        if (m->compiled && ks_value_clone(&m->compile_cfg, compile) != KS_OK) {
            if (layers)
                ks_value_free(layers);
            return KS_ERR_NOMEM;
        }
    }
    return KS_OK;
}
