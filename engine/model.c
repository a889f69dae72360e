/*
 * model.c — a model as a graph of calls of layers: its graphs (model_graph.c) become
 * layers (weights, arguments) and nodes (calls, in dependency order, sub-model calls
 * expanded), then one parameter block and what the passes need to know per node
 * (buffers shared by aliases, where gradients are written or added).  Accessors.
 * The passes are in model_pass.c.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

ks_weight *ks_layer_add_weight(ks_layer *l, const char *name, const ks_shape *shape,
                               int trainable, ks_initializer init)
{
    ks_weight *w = l->n_weights < KS_MAX_LAYER_WEIGHTS ? &l->weights[l->n_weights] : &l->spare;
    l->n_weights++;
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s/%s", l->name, name);
    w->shape = *shape;
    w->size = ks_shape_size(shape);
    w->trainable = trainable;
    w->init = init;
    return w;
}

static void layer_free(ks_layer *l)
{
    if (!l)
        return;
    if (l->state) {
        ks_keys_free(l->ops->keys, l->state);
        free(l->state);
    }
    free(l);
}

void ks_model_free(ks_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n_layers; i++)
        layer_free(m->layers[i]);
    free(m->layers);
    free(m->nodes);
    ks_graphs_free(m->graphs, m->n_graphs);
    free(m->warnings);
    free(m->weights);
    free(m->params);
    free(m->grads);
    ks_value_free(&m->compile_cfg);
    ks_value_free(&m->meta);
    free(m->opt_args);
    free(m->slots);
    ks_rng_free(m->rng);
    free(m->ws.block);
    free(m->ws.buf);
    free(m->ws.out);
    free(m->ws.dout);
    free(m->ws.scratch);
    free(m->ws.mask);
    free(m->ws.order);
    free(m);
}

/* ------------------------------------------------------------- building */

typedef struct builder {
    ks_model *m;
    int cap_layers, cap_nodes;
    const ks_shape *data_shape;     /* the data's input shape (lengths given as None), or NULL */
    ks_error *err;
} builder;

static ks_status nomem(ks_error *err)
{
    return ks_error_set(err, KS_ERR_NOMEM, "out of memory building the model");
}

/* Position an error from a layer's build (which knows no file) at the entry. */
static ks_status at_entry(ks_error *err, ks_status s, const ks_entry *e, const char *layer)
{
    const ks_value *args = e->src ? &e->src->items[0] : NULL;
    if (err && err->line == 0 && args && args->line > 0) {
        snprintf(err->file, sizeof err->file, "%s", args->file ? args->file : "");
        err->line = args->line;
        err->col = args->col;
    }
    if (err && layer)
        ks_error_prefix(err, "layer \"%s\"", layer);
    return s;
}

ks_status ks_layer_build(const ks_model *m, ks_layer *l, ks_error *err)
{
    ks_status s;
    (void)m;        /* shapes come from in_shape[], set by the caller */
    for (int k = 0; k < l->n_in; k++)
        l->in_size[k] = ks_shape_size(&l->in_shape[k]);
    if ((s = l->ops->build(l, err)) != KS_OK)
        return s;
    if (l->n_weights > KS_MAX_LAYER_WEIGHTS)
        return ks_error_set(err, KS_ERR_INTERNAL,
                            "%s declares %d weights, more than KS_MAX_LAYER_WEIGHTS (%d)",
                            l->ops->name, l->n_weights, KS_MAX_LAYER_WEIGHTS);
    l->out_size = ks_shape_size(&l->out_shape);
    if (l->out_size > ((size_t)1 << 31)) {
        char buf[96];
        return ks_error_set(err, KS_ERR_SHAPE, "%s's output %s is too large", l->ops->name,
                            ks_shape_str(&l->out_shape, buf, sizeof buf));
    }
    /* layer arguments outlive the text they were read from */
    for (const ks_key *k = l->ops->keys; k->name; k++)
        if (k->type == KS_KEY_VALUE)
            ks_value_forget_source((ks_value *)((char *)l->state + k->offset));
    return KS_OK;
}

/* A layer of e's kind and arguments, built for the given input shapes; not yet owned. */
static ks_status make_layer(const ks_entry *e, const char *name, int n_in, const ks_shape *in,
                            const char *const *in_names, const ks_shape *data, ks_layer **out,
                            ks_error *err)
{
    const ks_layer_ops *ops = e->ops;
    ks_layer *l = calloc(1, sizeof *l);
    ks_status s;
    *out = NULL;
    if (!l || !(l->state = calloc(1, ops->state_size ? ops->state_size : 1))) {
        free(l);
        return nomem(err);
    }
    l->ops = ops;
    snprintf(l->name, sizeof l->name, "%s", name);
    ks_keys_defaults(ops->keys, l->state);
    if ((s = ks_keys_read(ops->keys, &e->args, ops->name, l->state, err)) != KS_OK) {
        layer_free(l);
        return s;
    }
    l->n_in = n_in;
    for (int k = 0; k < n_in; k++) {
        l->in_shape[k] = in[k];
        l->in_name[k] = in_names ? in_names[k] : NULL;
    }
    if (ops->flags & KS_LAYER_INPUT)
        ks_input_resolve(l, data);
    s = ks_layer_build(NULL, l, err);
    memset(l->in_name, 0, sizeof l->in_name);
    if (s != KS_OK) {
        layer_free(l);
        return at_entry(err, s, e, name);
    }
    if (e->frozen)
        for (int w = 0; w < l->n_weights; w++)
            l->weights[w].trainable = 0;
    *out = l;
    return KS_OK;
}

static ks_status own_layer(builder *b, ks_layer *l)
{
    ks_model *m = b->m;
    if (m->n_layers == b->cap_layers) {
        int cap = b->cap_layers ? b->cap_layers * 2 : 8;
        ks_layer **p = realloc(m->layers, (size_t)cap * sizeof *p);
        if (!p) {
            layer_free(l);
            return nomem(b->err);
        }
        m->layers = p;
        b->cap_layers = cap;
    }
    l->index = m->n_layers;
    m->layers[m->n_layers++] = l;
    return KS_OK;
}

static ks_status add_node(builder *b, ks_layer *l, const char *name, int n_in, const int *in,
                          int *out)
{
    ks_model *m = b->m;
    ks_node *nd;
    if (m->n_nodes >= KS_MAX_NODES)
        return ks_error_set(b->err, KS_ERR_CONFIG,
                            "the model has more than %d calls of layers (sub-models expanded)",
                            KS_MAX_NODES);
    if (m->n_nodes == b->cap_nodes) {
        int cap = b->cap_nodes ? b->cap_nodes * 2 : 16;
        ks_node *p = realloc(m->nodes, (size_t)cap * sizeof *p);
        if (!p)
            return nomem(b->err);
        m->nodes = p;
        b->cap_nodes = cap;
    }
    nd = &m->nodes[m->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->layer = l;
    snprintf(nd->name, sizeof nd->name, "%s", name);
    nd->n_in = n_in;
    memcpy(nd->inputs, in, (size_t)n_in * sizeof *in);
    nd->call = l->n_calls++;
    nd->input_index = nd->out_index = -1;
    *out = m->n_nodes++;
    return KS_OK;
}

/* Check a later call of a shared layer against the shapes of its first call. */
static ks_status same_shapes(builder *b, const ks_entry *e, const ks_layer *l, int n_in,
                             const ks_shape *in)
{
    char x[64], y[64];
    if (n_in != l->n_in)
        return at_entry(b->err,
                        ks_error_set(b->err, KS_ERR_CONFIG,
                                     "this call has %d inputs but the layer's first call had %d",
                                     n_in, l->n_in),
                        e, l->name);
    for (int k = 0; k < n_in; k++)
        if (!ks_shape_equal(&in[k], &l->in_shape[k]))
            return at_entry(b->err,
                            ks_error_set(b->err, KS_ERR_SHAPE,
                                         "a shared layer takes one shape: input %d is %s here "
                                         "but %s at its first call",
                                         k, ks_shape_str(&in[k], x, sizeof x),
                                         ks_shape_str(&l->in_shape[k], y, sizeof y)),
                            e, l->name);
    return KS_OK;
}

/* The layer of entry e (of graph g), made at its first call with these input shapes. */
static ks_status layer_of(builder *b, const ks_graph *g, ks_entry *e, int n_in,
                          const ks_shape *in, const char *const *in_names, ks_layer **out)
{
    char name[KS_PATH_MAX];
    const ks_shape *data;
    ks_status s;
    if (e->layer) {
        *out = e->layer;
        return KS_OK;
    }
    if (g->name[0])
        snprintf(name, sizeof name, "%s/%s", g->name, e->name);
    else
        snprintf(name, sizeof name, "%s", e->name);
    /* the data's shape gives the lengths left None of a model's one input */
    data = e->kind == KS_ENTRY_INPUT && g == &b->m->graphs[0] && g->n_inputs == 1 ? b->data_shape
                                                                                 : NULL;
    if ((s = make_layer(e, name, n_in, in, in_names, data, &e->layer, b->err)) != KS_OK ||
        (s = own_layer(b, e->layer)) != KS_OK) {
        e->layer = NULL;
        return s;
    }
    *out = e->layer;
    return KS_OK;
}

/* A sub-model's input i: the caller's node in[…], of the shape its Input declares. */
static ks_status call_input(builder *b, const ks_graph *g, int i, const int *in,
                            const ks_entry *call, int *node)
{
    ks_model *m = b->m;
    const ks_entry *e = &g->e[i];
    const ks_shape *got;
    ks_layer *probe;
    char x[64], y[64];
    ks_status s;
    int pos = 0;
    while (g->inputs[pos] != i)
        pos++;
    *node = in[pos];
    if (e->implicit)
        return KS_OK;
    got = &m->nodes[in[pos]].layer->out_shape;
    if ((s = make_layer(e, e->name, 0, NULL, NULL, NULL, &probe, b->err)) != KS_OK)
        return s;
    if (!ks_shape_equal(got, &probe->out_shape))
        s = at_entry(b->err,
                     ks_error_set(b->err, KS_ERR_SHAPE,
                                  "sub-model \"%s\" expects %s for its input \"%s\", got %s",
                                  g->name, ks_shape_str(&probe->out_shape, x, sizeof x), e->name,
                                  ks_shape_str(got, y, sizeof y)),
                     call, NULL);
    layer_free(probe);
    return s;
}

/* The model's inputs and outputs from its graph's entries' nodes. */
static void set_model_io(ks_model *m, const int *node_of)
{
    const ks_graph *g = &m->graphs[0];
    for (int k = 0; k < g->n_inputs; k++) {
        m->inputs[k] = node_of[g->inputs[k]];
        m->nodes[m->inputs[k]].input_index = k;
    }
    m->n_inputs = g->n_inputs;
    for (int k = 0; k < g->n_outputs; k++) {
        ks_output *o = &m->outputs[k];
        o->node = node_of[g->outputs[k]];
        o->name = m->nodes[o->node].name;
        o->size = m->nodes[o->node].layer->out_size;
        o->loss_weight = 1.0;
        snprintf(o->loss_log, sizeof o->loss_log, "%.*s_loss", KS_LOG_NAME_MAX - 6, o->name);
        m->nodes[o->node].out_index = k;
    }
    m->n_outputs = g->n_outputs;
}

/*
 * Make the nodes of graph gi: its inputs are the nodes in[] (a sub-model's call) or
 * new input nodes (the model); *out receives its output node (a sub-model's one).
 * prefix is the call's path ("" or "encoder_left/").
 */
static ks_status instantiate(builder *b, int gi, const char *prefix, const int *in, int n_in,
                             const ks_entry *call, int *out)
{
    ks_model *m = b->m;
    ks_graph *g = &m->graphs[gi];
    int *node_of = malloc((size_t)g->n * sizeof *node_of);
    ks_status s = KS_OK;
    if (!node_of)
        return nomem(b->err);
    if (call && n_in != g->n_inputs)
        s = at_entry(b->err,
                     ks_error_set(b->err, KS_ERR_CONFIG,
                                  "sub-model \"%s\" takes %d inputs, the call gives %d", g->name,
                                  g->n_inputs, n_in),
                     call, NULL);
    for (int i = 0; i < g->n && s == KS_OK; i++) {
        ks_entry *e = &g->e[i];
        ks_shape shapes[KS_MAX_INPUTS];
        const char *names[KS_MAX_INPUTS];
        int ins[KS_MAX_INPUTS];
        char name[KS_PATH_MAX];
        ks_layer *l;
        node_of[i] = -1;
        if (!e->used)
            continue;
        snprintf(name, sizeof name, "%s%s", prefix, e->name);
        for (int k = 0; k < e->n_in; k++) {
            ins[k] = node_of[e->inputs[k]];
            shapes[k] = m->nodes[ins[k]].layer->out_shape;
            names[k] = g->e[e->inputs[k]].name;
        }
        if (e->kind == KS_ENTRY_INPUT && call) {
            s = call_input(b, g, i, in, call, &node_of[i]);
            continue;
        }
        switch (e->kind) {
        case KS_ENTRY_INPUT:
        case KS_ENTRY_LAYER:
            if ((s = layer_of(b, g, e, e->n_in, shapes, names, &l)) == KS_OK &&
                (s = same_shapes(b, call ? call : e, l, e->n_in, shapes)) == KS_OK)
                s = add_node(b, l, name, e->n_in, ins, &node_of[i]);
            break;
        case KS_ENTRY_SHARED:
            if ((s = layer_of(b, g, &g->e[e->callee], e->n_in, shapes, names, &l)) == KS_OK &&
                (s = same_shapes(b, call ? call : e, l, e->n_in, shapes)) == KS_OK)
                s = add_node(b, l, name, e->n_in, ins, &node_of[i]);
            break;
        case KS_ENTRY_MODEL: {
            char sub[KS_PATH_MAX];
            snprintf(sub, sizeof sub, "%s%s/", prefix, e->name);
            s = instantiate(b, e->callee, sub, ins, e->n_in, e, &node_of[i]);
            break;
        }
        }
        if (s == KS_OK && gi == 0)
            e->node = node_of[i];
    }
    if (s == KS_OK && out)
        *out = node_of[g->outputs[0]];
    if (s == KS_OK && !call)
        set_model_io(m, node_of);
    free(node_of);
    return s;
}

/* ------------------------------------------------------------ finishing */

static int has_trainable(const ks_layer *l)
{
    for (int w = 0; w < l->n_weights; w++)
        if (l->weights[w].trainable)
            return 1;
    return 0;
}

/*
 * Per node: how it runs, whose buffers it uses, whether gradients reach it, and in
 * backward order whether it writes or adds its gradients (the first writer of a buffer
 * or of a layer's weight gradients writes, later ones add).
 */
static ks_status wire_nodes(ks_model *m, ks_error *err)
{
    unsigned char *written = calloc((size_t)m->n_nodes + 1, 1);
    unsigned char *seen = calloc((size_t)m->n_layers + 1, 1);
    if (!written || !seen) {
        free(written);
        free(seen);
        return nomem(err);
    }
    for (int i = 0; i < m->n_nodes; i++) {
        ks_node *nd = &m->nodes[i];
        unsigned flags = nd->layer->ops->flags;
        nd->mode = flags & KS_LAYER_INPUT   ? KS_NODE_INPUT
                   : !(flags & KS_LAYER_ALIAS) ? KS_NODE_LAYER
                   : nd->out_index >= 0        ? KS_NODE_COPY
                                               : KS_NODE_ALIAS;
        nd->owner = nd->mode == KS_NODE_ALIAS ? m->nodes[nd->inputs[0]].owner : i;
        nd->needs_grad = has_trainable(nd->layer);
        for (int k = 0; k < nd->n_in; k++) {
            m->nodes[nd->inputs[k]].consumers++;
            nd->needs_grad |= m->nodes[nd->inputs[k]].needs_grad;
        }
    }
    for (int k = 0; k < m->n_outputs; k++)
        written[m->nodes[m->outputs[k].node].owner] = 1;      /* the loss writes first */
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        ks_node *nd = &m->nodes[i];
        int li = nd->layer->index;
        if (!nd->needs_grad || nd->mode == KS_NODE_INPUT || nd->mode == KS_NODE_ALIAS)
            continue;
        nd->grad_beta = seen[li] ? 1.0f : 0.0f;
        seen[li] = 1;
        for (int k = 0; k < nd->n_in; k++) {
            int o = m->nodes[nd->inputs[k]].owner;
            if (!m->nodes[nd->inputs[k]].needs_grad)
                continue;
            nd->dx_beta[k] = written[o] ? 1.0f : 0.0f;
            written[o] = 1;
        }
    }
    free(written);
    free(seen);
    return KS_OK;
}

/* Lay the weights out in one block and wire the nodes. */
static ks_status finish(ks_model *m, size_t max_params, ks_error *err)
{
    size_t off = 0;
    int nw = 0;
    ks_status s;
    for (int i = 0; i < m->n_layers; i++)
        nw += m->layers[i]->n_weights;
    m->weights = calloc((size_t)(nw ? nw : 1), sizeof *m->weights);
    if (!m->weights)
        return nomem(err);
    for (int i = 0; i < m->n_layers; i++) {
        ks_layer *l = m->layers[i];
        for (int w = 0; w < l->n_weights; w++) {
            l->weights[w].offset = off;
            if (l->weights[w].size > max_params - off)
                return ks_error_set(err, KS_ERR_CONFIG,
                                    "the model has more than %zu parameters (at layer \"%s\")",
                                    max_params, l->name);
            off += l->weights[w].size;
            m->weights[m->n_weights++] = &l->weights[w];
        }
    }
    if ((s = wire_nodes(m, err)) != KS_OK || (s = ks_model_wire_text(m, err)) != KS_OK)
        return s;
    ks_model_wire_masks(m);
    m->n_params = off;
    m->params = calloc(off ? off : 1, sizeof *m->params);
    m->grads = calloc(off ? off : 1, sizeof *m->grads);
    if (!m->params || !m->grads)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory for %zu parameters", off);
    for (int i = 0; i < m->n_weights; i++) {
        ks_weight *w = m->weights[i];
        w->w = m->params + w->offset;
        w->g = m->grads + w->offset;   /* frozen weights get gradients too; never applied */
    }
    return KS_OK;
}

ks_status ks_model_from_config(const ks_value *model, const ks_shape *input_shape,
                               uint64_t seed, ks_model **out, ks_error *err)
{
    return ks_model_build(model, input_shape, seed, KS_MAX_PARAMS, out, err);
}

ks_status ks_model_build(const ks_value *model, const ks_shape *input_shape, uint64_t seed,
                         size_t max_params, ks_model **out, ks_error *err)
{
    builder b = {0};
    ks_status s;
    *out = NULL;
    b.m = calloc(1, sizeof *b.m);
    b.err = err;
    b.data_shape = input_shape;
    if (!b.m)
        return nomem(err);
    ks_value_init(&b.m->meta, KS_VALUE_MAP);
    s = ks_graph_parse(b.m, model, input_shape, err);
    if (s == KS_OK)
        s = instantiate(&b, 0, "", NULL, 0, NULL, NULL);
    if (s == KS_OK)
        s = finish(b.m, max_params, err);
    if (s == KS_OK && ks_rng_new(seed, ks_hash_string("dropout"), 0, &b.m->rng) != KS_OK)
        s = nomem(err);
    /* the file's text is the caller's: forget where things came from */
    for (int gi = 0; gi < b.m->n_graphs; gi++)
        for (int i = 0; i < b.m->graphs[gi].n; i++) {
            b.m->graphs[gi].e[i].src = NULL;
            ks_value_forget_source(&b.m->graphs[gi].e[i].args);
        }
    if (s != KS_OK) {
        ks_model_free(b.m);
        return s;
    }
    b.m->seed = seed;
    ks_model_init_weights(b.m, seed);
    *out = b.m;
    return KS_OK;
}

void ks_model_init_weights(ks_model *m, uint64_t seed)
{
    ks_rng *rng;
    m->seed = seed;
    if (ks_rng_new(seed, ks_hash_string("init"), 0, &rng) != KS_OK) {
        /* no memory for a generator: deterministic fallback keeps the model usable */
        for (int i = 0; i < m->n_weights; i++)
            memset(m->weights[i]->w, 0, m->weights[i]->size * sizeof(float));
        return;
    }
    for (int i = 0; i < m->n_weights; i++) {
        /* each weight from its own stream: adding a layer leaves the others unchanged */
        ks_rng_reseed(rng, seed, ks_hash_string("init"), ks_hash_string(m->weights[i]->name));
        ks_init_fill(m->weights[i]->init, m->weights[i]->w, &m->weights[i]->shape, rng);
    }
    ks_rng_free(rng);
    for (int i = 0; i < m->n_layers; i++)
        if (m->layers[i]->ops->init_weights)
            m->layers[i]->ops->init_weights(m->layers[i]);
    /* a fresh model: its optimizer starts over too */
    if (m->slots && m->opt)
        memset(m->slots, 0, (size_t)m->opt->n_slots * m->n_params * sizeof *m->slots);
    if (m->opt_args)
        m->lr = ((const ks_optimizer_common *)m->opt_args)->learning_rate;
    m->iterations = 0;
}

/* ------------------------------------------------------------ accessors */

const char *ks_model_warnings(const ks_model *m) { return m->warnings; }
int ks_model_n_inputs(const ks_model *m) { return m->n_inputs; }
int ks_model_n_outputs(const ks_model *m) { return m->n_outputs; }

const char *ks_model_input_name(const ks_model *m, int i)
{
    return i >= 0 && i < m->n_inputs ? m->nodes[m->inputs[i]].name : NULL;
}

const ks_shape *ks_model_input_shape_at(const ks_model *m, int i)
{
    return i >= 0 && i < m->n_inputs ? &m->nodes[m->inputs[i]].layer->out_shape : NULL;
}

const char *ks_model_input_dtype(const ks_model *m, int i)
{
    return i >= 0 && i < m->n_inputs ? ks_dtype_names[ks_input_dtype(m->nodes[m->inputs[i]].layer)]
                                     : NULL;
}

const char *ks_model_output_name(const ks_model *m, int i)
{
    return i >= 0 && i < m->n_outputs ? m->outputs[i].name : NULL;
}

ks_output_kind ks_model_output_kind(const ks_model *m, int i)
{
    const ks_loss_ops *loss = m->compiled && i >= 0 && i < m->n_outputs ? m->outputs[i].loss
                                                                        : NULL;
    if (!loss)
        return KS_OUTPUT_VALUES;
    return loss->fuses == KS_ACT_SIGMOID   ? KS_OUTPUT_BINARY
           : loss->fuses == KS_ACT_SOFTMAX ? KS_OUTPUT_CLASSES
                                           : KS_OUTPUT_VALUES;
}

const ks_shape *ks_model_output_shape_at(const ks_model *m, int i)
{
    return i >= 0 && i < m->n_outputs ? &m->nodes[m->outputs[i].node].layer->out_shape : NULL;
}

int ks_model_output_index(const ks_model *m, const char *name)
{
    for (int i = 0; i < m->n_outputs; i++)
        if (strcmp(m->outputs[i].name, name) == 0)
            return i;
    return -1;
}

const ks_shape *ks_model_input_shape(const ks_model *m) { return ks_model_input_shape_at(m, 0); }
const ks_shape *ks_model_output_shape(const ks_model *m) { return ks_model_output_shape_at(m, 0); }

size_t ks_model_count_params(const ks_model *m, int trainable)
{
    size_t n = 0;
    for (int i = 0; i < m->n_weights; i++)
        if (trainable < 0 || m->weights[i]->trainable == trainable)
            n += m->weights[i]->size;
    return n;
}

int ks_model_n_weights(const ks_model *m) { return m->n_weights; }
const char *ks_model_weight_name(const ks_model *m, int i) { return m->weights[i]->name; }
const ks_shape *ks_model_weight_shape(const ks_model *m, int i) { return &m->weights[i]->shape; }
float *ks_model_weight_data(ks_model *m, int i) { return m->weights[i]->w; }
int ks_model_weight_trainable(const ks_model *m, int i) { return m->weights[i]->trainable; }
size_t ks_model_weights_size(const ks_model *m) { return m->n_params; }
float *ks_model_weights(ks_model *m) { return m->params; }
int ks_model_n_layers(const ks_model *m) { return m->n_layers; }
const char *ks_model_layer_name(const ks_model *m, int i) { return m->layers[i]->name; }
const char *ks_model_layer_class(const ks_model *m, int i) { return m->layers[i]->ops->name; }

const ks_shape *ks_model_layer_output_shape(const ks_model *m, int i)
{
    return &m->layers[i]->out_shape;
}

/* The first node that calls layer i. */
static int first_node(const ks_model *m, int i)
{
    for (int n = 0; n < m->n_nodes; n++)
        if (m->nodes[n].layer == m->layers[i])
            return n;
    return -1;
}

int ks_model_layer_n_inputs(const ks_model *m, int i) { return m->layers[i]->n_in; }

int ks_model_layer_input(const ks_model *m, int i, int k)
{
    int n = first_node(m, i);
    return n >= 0 && k < m->nodes[n].n_in ? m->nodes[m->nodes[n].inputs[k]].layer->index
                                          : -1;
}

size_t ks_model_layer_params(const ks_model *m, int i)
{
    size_t n = 0;
    for (int w = 0; w < m->layers[i]->n_weights; w++)
        n += m->layers[i]->weights[w].size;
    return n;
}

int ks_model_n_nodes(const ks_model *m) { return m->n_nodes; }
const char *ks_model_node_name(const ks_model *m, int i) { return m->nodes[i].name; }
int ks_model_node_layer(const ks_model *m, int i) { return m->nodes[i].layer->index; }
int ks_model_node_n_inputs(const ks_model *m, int i) { return m->nodes[i].n_in; }
int ks_model_node_input(const ks_model *m, int i, int k) { return m->nodes[i].inputs[k]; }

const ks_shape *ks_model_node_output_shape(const ks_model *m, int i)
{
    return &m->nodes[i].layer->out_shape;
}

ks_value *ks_model_meta(ks_model *m) { return &m->meta; }
double ks_model_get_lr(const ks_model *m) { return m->lr; }
int ks_model_n_metrics(const ks_model *m)
{
    return m->n_metrics + (m->n_outputs > 1 ? m->n_outputs : 0);
}

const char *ks_model_metric_name(const ks_model *m, int i)
{
    int lossy = m->n_outputs > 1 ? m->n_outputs : 0;
    if (i < 0 || i >= lossy + m->n_metrics)
        return NULL;
    if (i < lossy)
        return m->outputs[i].loss_log;
    return m->metrics[i - lossy].log_name;
}

void ks_model_set_lr(ks_model *m, double lr) { m->lr = lr; }
int64_t ks_model_iterations(const ks_model *m) { return m->iterations; }
int ks_model_is_compiled(const ks_model *m) { return m->compiled; }
