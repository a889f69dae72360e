/*
 * model_data.c — what a model does with its data besides the passes: inputs of dtype
 * string wired to the layer that encodes them, preprocessing layers adapted on the
 * training rows (Keras's adapt), and each input array checked and prepared when data is
 * bound — dtypes, text encoded once per data set, the values a layer reading the input
 * straight cannot take (an Embedding's token ids), named by their row.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

const ks_value *ks_model_node_source(const ks_model *m, int i)
{
    const ks_graph *g = m->n_graphs > 0 ? &m->graphs[0] : NULL;
    for (int k = 0; g && k < g->n; k++)
        if (g->e[k].node == i && g->e[k].src)
            return &g->e[k].src->items[0];
    return NULL;
}

/* A build error at node i's entry: its position, the layer's name first. */
static ks_status node_error(const ks_model *m, int i, ks_error *err)
{
    const ks_value *where = ks_model_node_source(m, i);
    if (err && where && where->line > 0 && err->line == 0) {
        snprintf(err->file, sizeof err->file, "%s", where->file ? where->file : "");
        err->line = where->line;
        err->col = where->col;
    }
    ks_error_prefix(err, "layer \"%s\"", m->nodes[i].name);
    return err ? err->code : KS_ERR_SHAPE;
}

/* Node i reads an input that an encoding layer (node r) reads too: refused, since the
   passes see the input as that layer's encoding. */
static ks_status shared_encoded_input(const ks_model *m, int i, int r, const char *input,
                                      ks_error *err)
{
    ks_error_set(err, KS_ERR_SHAPE,
                 "input \"%s\" is read by layer \"%s\" (%s), which encodes it once per data "
                 "set; give %s an Input of its own",
                 input, m->nodes[r].name, m->nodes[r].layer->ops->name,
                 m->nodes[i].layer->ops->name);
    return node_error(m, i, err);
}

ks_status ks_model_wire_text(ks_model *m, ks_error *err)
{
    for (int k = 0; k < KS_MAX_IO; k++)
        m->text_reader[k] = -1;
    for (int i = 0; i < m->n_nodes; i++) {
        ks_node *nd = &m->nodes[i];
        const ks_layer *l = nd->layer;
        for (int j = 0; j < nd->n_in; j++) {
            const ks_node *src = &m->nodes[nd->inputs[j]];
            int is_input = src->mode == KS_NODE_INPUT;
            int text_in = is_input && ks_input_dtype(src->layer) == KS_DTYPE_STRING;
            int reads_text = (l->ops->flags & KS_LAYER_TEXT_INPUT) != 0;
            int encodes = (l->ops->flags & KS_LAYER_ENCODE) != 0;
            if (text_in && !reads_text) {
                ks_error_set(err, KS_ERR_SHAPE,
                             "input \"%s\" is text (dtype: string); only a layer that reads "
                             "text can take it, not %s: categories go through a StringLookup "
                             "(then CategoryEncoding or Embedding), words through a "
                             "TextVectorization",
                             src->name, l->ops->name);
                return node_error(m, i, err);
            }
            if (reads_text && (!text_in || nd->n_in != 1)) {
                ks_error_set(err, KS_ERR_SHAPE,
                             "%s reads text: its input must be an Input of dtype string, got "
                             "\"%s\"",
                             l->ops->name, src->name);
                return node_error(m, i, err);
            }
            if (encodes && (!is_input || nd->n_in != 1)) {
                ks_error_set(err, KS_ERR_SHAPE,
                             "%s maps the values of a model input, once per data set: its input "
                             "must be an Input, got \"%s\"",
                             l->ops->name, src->name);
                return node_error(m, i, err);
            }
            if (encodes) {
                if (m->text_reader[src->input_index] >= 0) {
                    ks_error_set(err, KS_ERR_SHAPE,
                                 "input \"%s\" is read by two layers that encode it (%s and "
                                 "%s); give each its own Input",
                                 src->name,
                                 m->nodes[m->text_reader[src->input_index]].layer->ops->name,
                                 l->ops->name);
                    return node_error(m, i, err);
                }
                /* the encoding runs once per data set: the node is an input of floats */
                m->text_reader[src->input_index] = i;
                nd->mode = KS_NODE_INPUT;
                nd->input_index = src->input_index;
                nd->needs_grad = 0;
            }
        }
    }
    /* an encoded input is read by its encoder alone */
    for (int i = 0; i < m->n_nodes; i++) {
        const ks_node *nd = &m->nodes[i];
        for (int j = 0; j < nd->n_in; j++) {
            const ks_node *src = &m->nodes[nd->inputs[j]];
            int r = src->mode == KS_NODE_INPUT && src->input_index >= 0 &&
                            (src->layer->ops->flags & KS_LAYER_INPUT)
                        ? m->text_reader[src->input_index]
                        : -1;
            if (r >= 0 && r != i)
                return shared_encoded_input(m, i, r, src->name, err);
        }
    }
    return KS_OK;
}

size_t ks_model_input_width(const ks_model *m, int k)
{
    int r = m->text_reader[k];
    return r >= 0 ? m->nodes[r].layer->out_size : m->nodes[m->inputs[k]].layer->out_size;
}

/* Integral values for an input of an integer dtype, exact in float32. */
static ks_status check_integers(const float *x, size_t n, size_t width, const char *dtype,
                                ks_error *err)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < width; j++) {
            float v = x[i * width + j];
            if (v != floorf(v) || fabsf(v) > 16777216.0f)
                return ks_error_set(err, KS_ERR_CONFIG,
                                    "row %zu column %zu holds %.9g; the input is %s: integers "
                                    "of at most 2^24 in size (exact in float32)",
                                    i, j, (double)v, dtype);
        }
    return KS_OK;
}

ks_status ks_model_bind_input(ks_model *m, int k, const ks_array *a, size_t n, const char *what,
                              ks_bound *b, ks_error *err)
{
    const ks_node *in = &m->nodes[m->inputs[k]];
    ks_dtype dt = ks_input_dtype(in->layer);
    ks_status s = KS_OK;
    if (dt == KS_DTYPE_STRING && !a->text)
        s = ks_error_set(err, KS_ERR_CONFIG, "it holds numbers, and the input is text (dtype: "
                                             "string)");
    else if (dt != KS_DTYPE_STRING && a->text)
        s = ks_error_set(err, KS_ERR_CONFIG,
                         "it is text; give its Input dtype: string, and a StringLookup (for "
                         "categories) or a TextVectorization (for words) to read it");
    else if (dt == KS_DTYPE_INT32 || dt == KS_DTYPE_INT64)
        s = check_integers(a->data, n, a->size, ks_dtype_names[dt], err);
    if (s != KS_OK) {
        ks_error_prefix(err, "%s data for the input \"%s\"", what, in->name);
        return s;
    }
    b->x[k] = a->data;
    b->x_size[k] = a->size;
    if (m->text_reader[k] >= 0) {
        const ks_node *rn = &m->nodes[m->text_reader[k]];
        const ks_layer *r = rn->layer;
        size_t width = r->out_size;
        if (!(b->owned[k] = malloc(n * width * sizeof(float) + 1)))
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory encoding the input");
        if ((s = r->ops->encode(r, a, n, b->owned[k], err)) != KS_OK) {
            ks_error_prefix(err, "%s data for the input \"%s\", read by layer \"%s\"", what,
                            in->name, rn->name);
            return s;
        }
        b->x[k] = b->owned[k];
        b->x_size[k] = width;
    }
    /* layers that read this input straight check what they are given */
    for (int i = 0; i < m->n_nodes; i++) {
        const ks_node *nd = &m->nodes[i];
        const ks_node *src = nd->n_in > 0 ? &m->nodes[nd->inputs[0]] : NULL;
        if (nd->mode != KS_NODE_LAYER || !nd->layer->ops->check_input || !src ||
            src->mode != KS_NODE_INPUT || src->input_index != k)
            continue;
        if ((s = nd->layer->ops->check_input(nd->layer, b->x[k], n, err)) != KS_OK) {
            ks_error_prefix(err, "%s data for the input \"%s\", read by layer \"%s\"", what,
                            in->name, nd->name);
            return s;
        }
    }
    return KS_OK;
}

int ks_model_layer_token_table(const ks_model *m, int i)
{
    const ks_layer *l = i >= 0 && i < m->n_layers ? m->layers[i] : NULL;
    if (!l || !(l->ops->flags & KS_LAYER_TOKEN_TABLE) || l->n_weights < 1)
        return -1;
    for (int w = 0; w < m->n_weights; w++)
        if (m->weights[w] == &l->weights[0])
            return w;
    return -1;
}

const char *ks_model_layer_input_token(const ks_model *m, int i, size_t id)
{
    int src = i >= 0 && i < m->n_layers ? ks_model_layer_input(m, i, 0) : -1;
    const ks_layer *l = src >= 0 ? m->layers[src] : NULL;
    return l && l->ops->token ? l->ops->token(l, id) : NULL;
}

void ks_bound_release(ks_bound *b)
{
    if (!b)
        return;
    for (int k = 0; k < KS_MAX_IO; k++)
        free(b->owned[k]);
    memset(b, 0, sizeof *b);
}

/* The rows layer l (node i) learns from: the targets of the output it makes, for kinds
   that adapt on targets, else the model input that feeds it straight. */
static ks_status adapt_rows(const ks_model *m, int i, const ks_data *data, ks_array *a,
                            ks_error *err)
{
    const ks_node *nd = &m->nodes[i];
    const ks_layer *l = nd->layer;
    const ks_node *src = nd->n_in > 0 ? &m->nodes[nd->inputs[0]] : NULL;
    ks_status s;
    if (l->ops->adapt_targets && l->ops->adapt_targets(l)) {
        for (int k = 0; k < m->n_outputs; k++) {
            if (m->outputs[k].node != i)
                continue;
            if ((s = ks_model_target_array(m, data, k, "training", a, err)) != KS_OK)
                return s;
            if (a->size != l->out_size)
                return ks_error_set(err, KS_ERR_SHAPE,
                                    "layer \"%s\" (%s) learns the targets of its output, which "
                                    "have %zu columns; it makes %zu",
                                    nd->name, l->ops->name, a->size, l->out_size);
            return KS_OK;
        }
        return ks_error_set(err, KS_ERR_CONFIG,
                            "layer \"%s\" (%s with invert) learns the targets of the model "
                            "output it makes, so it must be a model output",
                            nd->name, l->ops->name);
    }
    if (!src || src->mode != KS_NODE_INPUT || nd->n_in != 1)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "layer \"%s\" (%s) learns from the data it reads (adapt), so a "
                            "model input must feed it straight, not \"%s\"",
                            nd->name, l->ops->name, src ? src->name : "nothing");
    return ks_model_input_array(m, data, src->input_index, "training", a, err);
}

ks_status ks_model_adapt(ks_model *m, const ks_data *data, ks_error *err)
{
    for (int i = 0; i < m->n_nodes; i++) {
        ks_node *nd = &m->nodes[i];
        ks_layer *l = nd->layer;
        ks_array a;
        ks_status s;
        if (!l->ops->adapt || nd->call > 0 || (l->ops->adapted && l->ops->adapted(l)))
            continue;
        if ((s = adapt_rows(m, i, data, &a, err)) != KS_OK)
            return s;
        if ((s = l->ops->adapt(l, &a, data->n, err)) != KS_OK) {
            ks_error_prefix(err, "adapting layer \"%s\"", nd->name);
            return s;
        }
    }
    return KS_OK;
}
