/*
 * model.c — a model as a graph of layers: building it from a layer list (names,
 * inputs, repeat, shapes), its one parameter block, and accessors.  The training
 * passes over the graph are in model_pass.c.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

/* Arguments every layer takes, handled here rather than by the layer kind. */
static const char *const generic_keys[] = {"name", "inputs", "repeat", "input_shape",
                                           "input_dim", "trainable", NULL};

static int is_generic(const char *key)
{
    for (int i = 0; generic_keys[i]; i++)
        if (strcmp(generic_keys[i], key) == 0)
            return 1;
    return 0;
}

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
    free(m->weights);
    free(m->params);
    free(m->grads);
    free(m->consumers);
    free(m->needs_grad);
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
    free(m->ws.order);
    free(m);
}

/* ------------------------------------------------------------- building */

typedef struct builder {
    ks_model *m;
    int cap;
    ks_error *err;
} builder;

static ks_status add_layer(builder *b, ks_layer *l)
{
    if (b->m->n_layers == b->cap) {
        int cap = b->cap ? b->cap * 2 : 8;
        ks_layer **p = realloc(b->m->layers, (size_t)cap * sizeof *p);
        if (!p)
            return ks_error_set(b->err, KS_ERR_NOMEM, "out of memory building the model");
        b->m->layers = p;
        b->cap = cap;
    }
    b->m->layers[b->m->n_layers++] = l;
    return KS_OK;
}

static int find_layer(const ks_model *m, const char *name)
{
    for (int i = 0; i < m->n_layers; i++)
        if (strcmp(m->layers[i]->name, name) == 0)
            return i;
    return -1;
}

void ks_model_unique_name(const ks_model *m, const char *class_name, char *out, size_t size)
{
    char prefix[KS_NAME_MAX - 12];
    ks_layer_default_prefix(class_name, prefix, sizeof prefix);
    snprintf(out, size, "%s", prefix);
    for (int k = 1; find_layer(m, out) >= 0; k++)
        snprintf(out, size, "%s_%d", prefix, k);
}

/* Position an error from a layer's build (which knows no file) at the layer entry. */
static ks_status at_entry(ks_error *err, ks_status s, const ks_value *entry, const char *layer)
{
    if (err && err->line == 0 && entry && entry->line > 0) {
        snprintf(err->file, sizeof err->file, "%s", entry->file ? entry->file : "");
        err->line = entry->line;
        err->col = entry->col;
    }
    if (err && layer)
        ks_error_prefix(err, "layer \"%s\"", layer);
    return s;
}

/* Make a layer of kind ops from args (generic keys already removed), unbuilt. */
static ks_status new_layer(const ks_layer_ops *ops, const ks_value *args, ks_layer **out,
                           ks_error *err)
{
    ks_layer *l = calloc(1, sizeof *l);
    ks_status s;
    *out = NULL;
    if (!l || !(l->state = calloc(1, ops->state_size))) {
        free(l);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory building the model");
    }
    l->ops = ops;
    ks_keys_defaults(ops->keys, l->state);
    s = ks_keys_read(ops->keys, args, ops->name, l->state, err);
    if (s != KS_OK) {
        layer_free(l);
        return s;
    }
    *out = l;
    return KS_OK;
}

ks_status ks_layer_build(const ks_model *m, ks_layer *l, ks_error *err)
{
    ks_status s;
    for (int k = 0; k < l->n_in; k++) {
        l->in_shape[k] = m->layers[l->inputs[k]]->out_shape;
        l->in_size[k] = ks_shape_size(&l->in_shape[k]);
    }
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

static ks_status get_generic(const ks_value *args, const char *key, ks_value_kind kind,
                             const char *want, const char *cls, const ks_value **out,
                             ks_error *err)
{
    const ks_value *v = ks_value_get(args, key);
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

/* Read a layer's input_shape and input_dim through their key table. */
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
        const ks_value *v = args->kind == KS_VALUE_MAP ? ks_value_get(args, k->name) : NULL;
        if (v && ks_value_put_copy(&map, k->name, v) != KS_OK)
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory building the model");
    }
    if (s == KS_OK)
        s = ks_keys_read(input_arg_keys, &map, cls, out, err);
    ks_value_free(&map);
    return s;
}

/* Add the implicit InputLayer Keras makes for input_shape on the first layer. */
static ks_status add_input(builder *b, const ks_shape *shape)
{
    ks_layer *l;
    ks_status s;
    if ((s = new_layer(&ks_layer_input_ops, NULL, &l, b->err)) != KS_OK)
        return s;
    *(ks_shape *)l->state = *shape;    /* input_state.shape is first */
    snprintf(l->name, sizeof l->name, "input_layer");
    if ((s = ks_layer_build(b->m, l, b->err)) != KS_OK || (s = add_layer(b, l)) != KS_OK) {
        layer_free(l);
        return s;
    }
    return KS_OK;
}

static ks_status add_entry(builder *b, const ks_value *entry, const ks_shape *input_shape)
{
    ks_model *m = b->m;
    const ks_value *args, *vname, *vinputs, *vrepeat, *vtrain;
    input_args in = {{0, {0}}, 0};
    const ks_layer_ops *ops;
    ks_value own;
    int repeat = 1;
    ks_status s;
    char got[64];

    if (entry->kind != KS_VALUE_MAP || entry->n != 1)
        return ks_error_at(b->err, KS_ERR_CONFIG, entry,
                           "a layer must be a map of one class name to its arguments, "
                           "e.g. Dense: {units: 10}, got %s",
                           entry->kind == KS_VALUE_MAP ? "a map of several keys"
                                                       : ks_value_describe(entry, got, sizeof got));
    args = &entry->items[0];
    ops = ks_layer_find(args->key);
    if (!ops) {
        const char *names[KS_LAYER_KINDS_MAX + 1];
        char list[512] = "";
        const char *near;
        int n = 0;
        for (; ks_layer_kinds[n]; n++) {
            size_t len = strlen(list);
            names[n] = ks_layer_kinds[n]->name;
            snprintf(list + len, sizeof list - len, "%s%s", n ? ", " : "", names[n]);
        }
        names[n] = NULL;
        near = ks_nearest_name(args->key, names);
        if (near)
            return ks_error_at_key(b->err, KS_ERR_CONFIG, args,
                                   "unknown layer \"%s\" (did you mean \"%s\"?); known: %s",
                                   args->key, near, list);
        return ks_error_at_key(b->err, KS_ERR_CONFIG, args, "unknown layer \"%s\"; known: %s",
                               args->key, list);
    }
    if ((s = get_generic(args, "name", KS_VALUE_STRING, "a string", ops->name, &vname,
                         b->err)) != KS_OK ||
        (s = get_generic(args, "repeat", KS_VALUE_NUMBER, "an integer >= 0", ops->name,
                         &vrepeat, b->err)) != KS_OK ||
        (s = get_generic(args, "trainable", KS_VALUE_BOOL, "true or false", ops->name, &vtrain,
                         b->err)) != KS_OK ||
        (ops != &ks_layer_input_ops &&
         (s = read_input_args(args, ops->name, &in, b->err)) != KS_OK))
        return s;
    vinputs = ks_value_get(args, "inputs");
    if (vrepeat) {
        if (vrepeat->number != floor(vrepeat->number) || vrepeat->number < 0 ||
            vrepeat->number > 1000)
            return ks_error_at(b->err, KS_ERR_CONFIG, vrepeat,
                               "%s: repeat must be an integer in [0, 1000], got %s", ops->name,
                               ks_value_describe(vrepeat, got, sizeof got));
        repeat = (int)vrepeat->number;
    }
    if (vname && strlen(vname->string) >= KS_NAME_MAX - 8)
        return ks_error_at(b->err, KS_ERR_CONFIG, vname, "%s: name is too long", ops->name);

    /* the arguments without the generic keys, for the kind's own key table */
    ks_value_init(&own, KS_VALUE_MAP);
    own.file = args->file;
    own.line = args->line;
    own.col = args->col;
    if (args->kind == KS_VALUE_MAP) {
        for (size_t i = 0; i < args->n; i++) {
            if (is_generic(args->items[i].key) && ops != &ks_layer_input_ops)
                continue;
            if (ops == &ks_layer_input_ops && strcmp(args->items[i].key, "name") == 0)
                continue;
            if (ks_value_put_copy(&own, args->items[i].key, &args->items[i]) != KS_OK) {
                ks_value_free(&own);
                return ks_error_set(b->err, KS_ERR_NOMEM, "out of memory building the model");
            }
        }
    } else if (args->kind != KS_VALUE_NULL) {
        return ks_error_at(b->err, KS_ERR_CONFIG, args, "%s expects a map of arguments, got %s",
                           ops->name, ks_value_describe(args, got, sizeof got));
    }

    /* the model input: an InputLayer entry, input_shape on the first layer, or the data's */
    if (m->n_layers == 0 && ops != &ks_layer_input_ops) {
        ks_shape shape = {0, {0}};
        if (in.shape.ndim > 0) {            /* as Keras: input_shape before input_dim */
            shape = in.shape;
        } else if (in.dim > 0) {
            shape.ndim = 1;
            shape.dim[0] = in.dim;
        } else if (input_shape && input_shape->ndim > 0) {
            shape = *input_shape;
        } else {
            s = ks_error_at_key(b->err, KS_ERR_CONFIG, args,
                                "the first layer needs input_shape (e.g. input_shape: [28, 28]) "
                                "or an InputLayer before it");
            goto out;
        }
        if ((s = add_input(b, &shape)) != KS_OK)
            goto out;
    } else if (m->n_layers > 0 && ops == &ks_layer_input_ops) {
        s = ks_error_at_key(b->err, KS_ERR_CONFIG, args,
                            "InputLayer must be the first layer; several inputs are not "
                            "supported yet");
        goto out;
    }

    for (int r = 0; r < repeat; r++) {
        ks_layer *l;
        if ((s = new_layer(ops, &own, &l, b->err)) != KS_OK)
            goto out;
        /* name */
        if (vname && r == 0)
            snprintf(l->name, sizeof l->name, "%s", vname->string);
        else if (vname)
            snprintf(l->name, sizeof l->name, "%s_%d", vname->string, r);
        else if (ops == &ks_layer_input_ops)
            snprintf(l->name, sizeof l->name, "input_layer");
        else
            ks_model_unique_name(m, ops->name, l->name, sizeof l->name);
        if (find_layer(m, l->name) >= 0) {
            s = ks_error_at(b->err, KS_ERR_CONFIG, vname ? vname : args,
                            "two layers are named \"%s\"; layer names must be unique", l->name);
            layer_free(l);
            goto out;
        }
        /* inputs: the previous layer, or the named ones (the first copy only) */
        if (ops != &ks_layer_input_ops) {
            if (vinputs && r == 0) {
                const ks_value *list = vinputs;
                size_t n = list->kind == KS_VALUE_LIST ? list->n : 1;
                if ((list->kind != KS_VALUE_LIST && list->kind != KS_VALUE_STRING) || n < 1 ||
                    n > KS_MAX_INPUTS) {
                    s = ks_error_at(b->err, KS_ERR_CONFIG, list,
                                    "%s: inputs must be a layer name or a list of 1 to %d names",
                                    ops->name, KS_MAX_INPUTS);
                    layer_free(l);
                    goto out;
                }
                for (size_t k = 0; k < n; k++) {
                    const ks_value *nm = list->kind == KS_VALUE_LIST ? &list->items[k] : list;
                    int idx = nm->kind == KS_VALUE_STRING ? find_layer(m, nm->string) : -1;
                    if (idx < 0) {
                        s = ks_error_at(b->err, KS_ERR_CONFIG, nm,
                                        "%s: inputs names no earlier layer: %s", ops->name,
                                        ks_value_describe(nm, got, sizeof got));
                        layer_free(l);
                        goto out;
                    }
                    l->inputs[l->n_in++] = idx;
                }
            } else {
                l->inputs[l->n_in++] = m->n_layers - 1;
            }
            if (l->n_in > 1 && !(ops->flags & KS_LAYER_MERGE)) {
                s = ks_error_at(b->err, KS_ERR_CONFIG, vinputs,
                                "%s takes one input, got %d", ops->name, l->n_in);
                layer_free(l);
                goto out;
            }
        }
        if ((s = ks_layer_build(m, l, b->err)) != KS_OK) {
            at_entry(b->err, s, args, l->name);
            layer_free(l);
            goto out;
        }
        if (vtrain && !vtrain->boolean)
            for (int w = 0; w < l->n_weights; w++)
                l->weights[w].trainable = 0;
        if ((s = add_layer(b, l)) != KS_OK) {
            layer_free(l);
            goto out;
        }
    }
    s = KS_OK;
out:
    ks_value_free(&own);
    return s;
}

/* Lay the weights out in one block, count consumers, mark where gradients flow. */
static ks_status finish(ks_model *m, size_t max_params, ks_error *err)
{
    size_t off = 0;
    int nw = 0;
    for (int i = 0; i < m->n_layers; i++)
        nw += m->layers[i]->n_weights;
    size_t nl = (size_t)(m->n_layers > 0 ? m->n_layers : 1);
    m->weights = calloc((size_t)(nw ? nw : 1), sizeof *m->weights);
    m->consumers = calloc(nl, sizeof *m->consumers);
    m->needs_grad = calloc(nl, 1);
    if (!m->weights || !m->consumers || !m->needs_grad)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory building the model");
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
            if (l->weights[w].trainable)
                m->needs_grad[i] = 1;
        }
        for (int k = 0; k < l->n_in; k++) {
            m->consumers[l->inputs[k]]++;
            if (m->needs_grad[l->inputs[k]])
                m->needs_grad[i] = 1;
        }
    }
    m->output = m->n_layers - 1;
    for (int i = 0; i < m->n_layers; i++)
        if (i != m->output && m->consumers[i] == 0)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "layer \"%s\" feeds no other layer; a model has one output, "
                                "its last layer",
                                m->layers[i]->name);
        else if (m->consumers[i] > 1)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "layer \"%s\" feeds %d layers; branching models are not "
                                "supported yet",
                                m->layers[i]->name, m->consumers[i]);
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

ks_status ks_model_from_config(const ks_value *layers, const ks_shape *input_shape,
                               uint64_t seed, ks_model **out, ks_error *err)
{
    return ks_model_build(layers, input_shape, seed, KS_MAX_PARAMS, out, err);
}

ks_status ks_model_build(const ks_value *layers, const ks_shape *input_shape, uint64_t seed,
                         size_t max_params, ks_model **out, ks_error *err)
{
    builder b = {0};
    ks_status s = KS_OK;
    char got[64];
    *out = NULL;
    if (!layers || layers->kind != KS_VALUE_LIST || layers->n == 0)
        return ks_error_at(err, KS_ERR_CONFIG, layers,
                           "model must be a list of layers, e.g. - Dense: {units: 10}, got %s",
                           layers ? (layers->kind == KS_VALUE_LIST
                                         ? "an empty list"
                                         : ks_value_describe(layers, got, sizeof got))
                                  : "nothing");
    b.m = calloc(1, sizeof *b.m);
    b.err = err;
    if (!b.m)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory building the model");
    for (size_t i = 0; i < layers->n && s == KS_OK; i++)
        s = add_entry(&b, &layers->items[i], input_shape);
    if (s == KS_OK && b.m->n_layers < 2)
        s = ks_error_at(err, KS_ERR_CONFIG, layers,
                        "model has no layers besides its input (repeat: 0 everywhere?)");
    if (s == KS_OK)
        s = finish(b.m, max_params, err);
    if (s == KS_OK && ks_rng_new(seed, ks_hash_string("dropout"), 0, &b.m->rng) != KS_OK)
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    if (s != KS_OK) {
        ks_model_free(b.m);
        return s;
    }
    b.m->seed = seed;
    ks_value_init(&b.m->meta, KS_VALUE_MAP);
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
    /* a fresh model: its optimizer starts over too */
    if (m->slots && m->opt)
        memset(m->slots, 0, (size_t)m->opt->n_slots * m->n_params * sizeof *m->slots);
    if (m->opt_args)
        m->lr = ((const ks_optimizer_common *)m->opt_args)->learning_rate;
    m->iterations = 0;
}

/* ------------------------------------------------------------ accessors */

const ks_shape *ks_model_input_shape(const ks_model *m)
{
    return &m->layers[0]->out_shape;
}

const ks_shape *ks_model_output_shape(const ks_model *m)
{
    return &m->layers[m->output]->out_shape;
}

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
int ks_model_layer_n_inputs(const ks_model *m, int i) { return m->layers[i]->n_in; }
int ks_model_layer_input(const ks_model *m, int i, int k) { return m->layers[i]->inputs[k]; }

const ks_shape *ks_model_layer_output_shape(const ks_model *m, int i)
{
    return &m->layers[i]->out_shape;
}

size_t ks_model_layer_params(const ks_model *m, int i)
{
    size_t n = 0;
    for (int w = 0; w < m->layers[i]->n_weights; w++)
        n += m->layers[i]->weights[w].size;
    return n;
}

ks_value *ks_model_meta(ks_model *m) { return &m->meta; }
double ks_model_get_lr(const ks_model *m) { return m->lr; }
int ks_model_n_metrics(const ks_model *m) { return m->n_metrics; }

const char *ks_model_metric_name(const ks_model *m, int i)
{
    return i >= 0 && i < m->n_metrics ? m->metrics[i].name : NULL;
}
void ks_model_set_lr(ks_model *m, double lr) { m->lr = lr; }
int64_t ks_model_iterations(const ks_model *m) { return m->iterations; }
int ks_model_is_compiled(const ks_model *m) { return m->compiled; }
