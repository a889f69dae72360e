/*
 * model_graph_order.c — a model's graphs once read: dependency order (Kahn's algorithm,
 * keeping the file's order where it is free; a cycle named at its first entry), what
 * the outputs need (the rest left out with a warning, as Keras warns), sub-models that
 * call themselves, and the warnings themselves.
 */
#include "engine_impl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

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

/* Reorder g's entries by perm (new position → old index) and remap every index. */
static ks_status permute(ks_graph *g, const int *perm, ks_error *err)
{
    ks_entry *ne = malloc((size_t)g->n * sizeof *ne);
    int *where = malloc((size_t)g->n * sizeof *where);
    if (!ne || !where) {
        free(ne);
        free(where);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory building the model");
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

/* An input of entry cur that is left with unmet inputs too (there is one on a cycle). */
static int next_left(const ks_graph *g, const int *indeg, int cur)
{
    for (int k = 0; k < g->e[cur].n_in; k++)
        if (indeg[g->e[cur].inputs[k]] > 0)
            return g->e[cur].inputs[k];
    return cur;
}

/* Name a cycle among the entries left with unmet inputs, at its entry listed first. */
static ks_status cycle_error(const ks_graph *g, const int *indeg, ks_error *err)
{
    char path[400] = "";
    int start = -1, cur, anchor;
    size_t len;
    for (int i = 0; i < g->n && start < 0; i++)
        if (indeg[i] > 0)
            start = i;
    /* after n steps along inputs that are left, the walk is on a cycle */
    cur = start;
    for (int steps = 0; steps < g->n; steps++)
        cur = next_left(g, indeg, cur);
    anchor = start = cur;
    do {
        cur = next_left(g, indeg, cur);
        if (cur < start)
            start = cur;
    } while (cur != anchor);
    len = (size_t)snprintf(path, sizeof path, "%s", g->e[start].name);
    cur = start;
    do {
        cur = next_left(g, indeg, cur);
        if (len < sizeof path)
            len += (size_t)snprintf(path + len, sizeof path - len, " reads %s", g->e[cur].name);
    } while (cur != start);
    {
        const ks_value *args = &g->e[start].src->items[0];
        const ks_value *v = args->kind == KS_VALUE_MAP ? ks_value_get(args, "inputs") : NULL;
        return ks_error_at(err, KS_ERR_CONFIG, v ? v : g->e[start].src,
                           "the layers form a cycle: %s; a layer cannot depend on its own "
                           "output",
                           path);
    }
}

/* Kahn's algorithm, always taking the earliest ready entry: a file already in order keeps
   its order. */
ks_status ks_graph_sort(ks_graph *g, ks_error *err)
{
    int *indeg = calloc((size_t)g->n + 1, sizeof *indeg);
    int *perm = malloc(((size_t)g->n + 1) * sizeof *perm);
    unsigned char *done = calloc((size_t)g->n + 1, 1);
    ks_status s = KS_OK;
    int placed = 0;
    if (!indeg || !perm || !done) {
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory building the model");
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
            s = cycle_error(g, indeg, err);
            goto out;
        }
        done[pick] = 1;
        perm[placed++] = pick;
        for (int i = 0; i < g->n; i++)
            for (int k = 0; k < g->e[i].n_in; k++)
                if (g->e[i].inputs[k] == pick)
                    indeg[i]--;
    }
    s = permute(g, perm, err);
out:
    free(indeg);
    free(perm);
    free(done);
    return s;
}

/* Mark what the outputs need; warn about the rest, as Keras warns. */
void ks_graph_mark_used(ks_model *m, ks_graph *g)
{
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
            ks_model_warn(m, e->src,
                          "the output of layer \"%s\" in sub-model \"%s\" is not used by any "
                          "layer or its output; it is left out",
                          e->name, g->name);
        else
            ks_model_warn(m, e->src,
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

ks_status ks_graph_check_calls(ks_model *m, ks_error *err)
{
    int *state = calloc((size_t)m->n_graphs, sizeof *state);
    ks_status s;
    if (!state)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory building the model");
    s = check_model_cycles(m, 0, state, err);
    for (int i = 1; s == KS_OK && i < m->n_graphs; i++)
        if (!state[i] && m->graphs[i].n > 0)
            ks_model_warn(m, NULL, "sub-model \"%s\" is never called", m->graphs[i].name);
    free(state);
    return s;
}
