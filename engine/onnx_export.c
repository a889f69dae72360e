/*
 * onnx_export.c — models and ensembles as ONNX: each layer lowers itself through its
 * kind's ops (ks_layer_ops.onnx) into the graph builder of onnx_graph.c; this file
 * walks a model's graph of calls (several inputs and outputs, a shared layer's weights
 * once), combines ensemble members as ks_ensemble_combine does, lowers
 * the activations every kind shares, and writes the file atomically.
 */
#include "engine_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MODEL_INPUT "input"         /* the graph's input tensor */
#define MODEL_OUTPUT "output"       /* the graph's output tensor */

/* ------------------------------------------------------------ activations */

ks_status ks_onnx_activation(ks_onnx *g, ks_activation a, const char *x, const char *out,
                             const char **y, ks_error *err)
{
    const char *op = NULL;
    int nd = -2;            /* -2: no node yet */
    *y = NULL;
    switch (a) {            /* every activation has a case: a new one warns here */
    case KS_ACT_LINEAR:
        *y = x;
        return KS_OK;
    case KS_ACT_RELU:
        op = "Relu";
        break;
    case KS_ACT_SIGMOID:
        op = "Sigmoid";
        break;
    case KS_ACT_TANH:
        op = "Tanh";
        break;
    case KS_ACT_SOFTPLUS:
        op = "Softplus";
        break;
    case KS_ACT_SOFTMAX:
        nd = ks_onnx_node(g, "Softmax", &x, 1, &out, 1);
        ks_onnx_attr_int(g, nd, "axis", -1);       /* opset 13: the last axis, as Keras */
        break;
    case KS_ACT_SELU:
        nd = ks_onnx_node(g, "Selu", &x, 1, &out, 1);
        ks_onnx_attr_float(g, nd, "alpha", KS_SELU_ALPHA);
        ks_onnx_attr_float(g, nd, "gamma", KS_SELU_SCALE);
        break;
    case KS_ACT_ELU:
        nd = ks_onnx_node(g, "Elu", &x, 1, &out, 1);
        ks_onnx_attr_float(g, nd, "alpha", KS_ELU_ALPHA);
        break;
    case KS_ACT_COUNT:
        break;
    }
    if (op)
        nd = ks_onnx_node(g, op, &x, 1, &out, 1);
    if (nd == -2)
        return ks_error_set(err, KS_ERR_CONFIG, "activation \"%s\" has no ONNX export",
                            a >= 0 && a < KS_ACT_COUNT ? ks_activation_names[a] : "?");
    *y = nd >= 0 ? out : NULL;
    return KS_OK;
}

/* ----------------------------------------------------------------- models */

/* The layer kinds that can be exported, for the message about one that cannot. */
static int exportable(const ks_layer_ops *k)
{
    return k->onnx || (k->flags & KS_LAYER_INPUT);
}

/* Model input k's tensor: "input" for a model of one input, else the input's name. */
static const char *input_tensor(const ks_model *m, int k)
{
    return m->n_inputs == 1 ? MODEL_INPUT : m->nodes[m->inputs[k]].name;
}

/* Model output k's tensor: "output" for a model of one output, else the output's name. */
static const char *output_tensor(const ks_model *m, int k)
{
    return m->n_outputs == 1 ? MODEL_OUTPUT : m->outputs[k].name;
}

/*
 * After node i's lowering, the mask its output owns (nd->mask == i) into mk[i]: the one
 * its kind made, or its inputs' and-ed (Mul of 0/1 floats) or or-ed (Max).
 */
static ks_status own_mask(ks_onnx *g, const ks_model *m, int i, const char **mk, ks_error *err)
{
    const ks_node *nd = &m->nodes[i];
    const char *acc = NULL;
    char suffix[32];
    if (nd->mask != i)
        return KS_OK;
    if (nd->mask_mode == KS_MASK_MAKE) {
        if (!(mk[i] = ks_onnx_output_mask(g)))
            return ks_error_set(err, KS_ERR_INTERNAL,
                                "layer \"%s\" makes a mask that its ONNX lowering does not give",
                                nd->name);
        return KS_OK;
    }
    for (int k = 0; k < nd->n_in; k++) {
        int src = m->nodes[nd->inputs[k]].mask;
        const char *prev = acc;
        if (src < 0)
            continue;
        if (!acc) {
            acc = mk[src];
            continue;
        }
        snprintf(suffix, sizeof suffix, "/mask_%d:0", k);
        acc = ks_onnx_layer_name(g, nd->layer, suffix);
        ks_onnx_node2(g, nd->mask_mode == KS_MASK_ALL ? "Mul" : "Max", prev, mk[src], acc);
    }
    mk[i] = acc;
    return KS_OK;
}

/*
 * Lower node i of m (a call of a layer), whose input tensors are t[its inputs], into
 * t[i]; mk[j] is the mask tensor of each earlier node j that owns one.
 */
static ks_status lower_node(ks_onnx *g, const ks_model *m, int i, const char **t,
                            const char **mk, ks_error *err)
{
    const ks_node *nd = &m->nodes[i];
    const ks_layer *l = nd->layer;
    const char *in[KS_MAX_INPUTS];
    char kinds[240];            /* with the names in the message, within ks_error's 512 */
    ks_status s;
    int src;
    if (nd->mode == KS_NODE_INPUT && (l->ops->flags & KS_LAYER_ENCODE) &&
        !(l->ops->flags & KS_LAYER_ONNX_ENCODED))
        return ks_error_set(err, KS_ERR_CONFIG,
                            "layer \"%s\" is a %s, which the ONNX export does not support: "
                            "the lookup of categories stays in the .ksm model (predict and "
                            "ensembles apply it); export a model that takes their indices, "
                            "through an Input of integers",
                            l->name, l->ops->name);
    if (nd->mode == KS_NODE_INPUT) {
        t[i] = input_tensor(m, nd->input_index);
        return KS_OK;
    }
    if (!l->ops->onnx) {
        ks_layer_kind_names(kinds, sizeof kinds, exportable);
        return ks_error_set(err, KS_ERR_CONFIG,
                            "layer \"%s\" is a %s, which the ONNX export does not support "
                            "(supported: %s)",
                            l->name, l->ops->name, kinds);
    }
    for (int k = 0; k < nd->n_in; k++)
        in[k] = t[nd->inputs[k]];
    /* a shared layer's calls get tensors of their own names */
    ks_onnx_set_call(g, nd->call > 0 || strcmp(nd->name, l->name) ? nd->name : NULL);
    src = nd->n_in > 0 ? m->nodes[nd->inputs[0]].mask : -1;
    ks_onnx_set_input_mask(g, src >= 0 && (l->ops->flags & KS_LAYER_MASK_USE) ? mk[src] : NULL);
    if ((s = l->ops->onnx(l, g, in, &t[i], err)) != KS_OK)
        return s;
    /* (a builder failure leaves a mask unnamed: reported as such below) */
    if (ks_onnx_status(g) == KS_OK && (s = own_mask(g, m, i, mk, err)) != KS_OK)
        return s;
    if ((s = ks_onnx_status(g)) != KS_OK)
        return ks_error_set(err, s, "out of memory");
    if (!t[i])
        return ks_error_set(err, KS_ERR_INTERNAL, "layer \"%s\" gave no tensor", l->name);
    return KS_OK;
}

/* Output k's tensor, renamed to name (every reader follows), or copied by an Identity. */
static void name_output(ks_onnx *g, const ks_model *m, const char **t, int k, const char *name)
{
    const char *from = t[m->outputs[k].node];
    if (!ks_onnx_rename(g, from, name)) {
        ks_onnx_node1(g, "Identity", from, name);
        return;
    }
    for (int i = 0; i < m->n_nodes; i++)       /* an identity's tensor is its input's */
        if (t[i] && strcmp(t[i], from) == 0)
            t[i] = name;
}

/*
 * Append model m's nodes, its tensors and weights named with prefix; the graph's inputs
 * are input_tensor's.  Output only (or every output when only < 0, named by
 * output_tensor) becomes the tensor only_name.
 */
static ks_status lower_model(ks_onnx *g, const ks_model *m, const char *prefix, int only,
                             const char *only_name, ks_error *err)
{
    int n = m->n_nodes;
    const char **t = calloc((size_t)n, sizeof *t);     /* each node's output tensor */
    const char **mk = calloc((size_t)n, sizeof *mk);   /* the masks nodes own */
    ks_status s = KS_OK;
    if (!t || !mk) {
        free(t);
        free(mk);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    ks_onnx_set_prefix(g, prefix);
    for (int i = 0; i < n && s == KS_OK; i++)
        s = lower_node(g, m, i, t, mk, err);
    ks_onnx_set_call(g, NULL);
    ks_onnx_set_input_mask(g, NULL);
    free(mk);
    /* the node making an output's tensor makes the graph's output; else an Identity copies */
    for (int k = 0; s == KS_OK && k < m->n_outputs; k++)
        if (only < 0 || k == only)
            name_output(g, m, t, k, only < 0 ? output_tensor(m, k) : only_name);
    free(t);
    if (s == KS_OK && ks_onnx_status(g) != KS_OK)
        s = ks_error_set(err, ks_onnx_status(g), "out of memory");
    return s;
}

/* The model's input scaling (meta "input_scale") as metadata, when it has one. */
static void put_input_scale(ks_onnx *g, const ks_model *m)
{
    const ks_value *scale = ks_value_get(&m->meta, "input_scale");
    char text[64];
    if (scale && scale->kind == KS_VALUE_NUMBER) {
        snprintf(text, sizeof text, "%.17g", scale->number);
        ks_onnx_meta(g, "input_scale", text);
    }
}

/* Declare the graph's inputs and outputs and encode it; m0 gives shapes and metadata,
   only (>= 0, an ensemble's) the one output the graph has. */
static ks_status finish(ks_onnx *g, const ks_model *m0, int only, const char *graph_name,
                        unsigned char **out, size_t *len, ks_error *err)
{
    for (int k = 0; k < m0->n_inputs; k++) {
        /* text: the graph takes the token ids its TextVectorization makes (ONNX has no
           standard tokenizer); the metadata says so */
        int r = m0->text_reader[k];
        ks_onnx_input(g, input_tensor(m0, k), KS_ONNX_FLOAT,
                      r >= 0 ? &m0->nodes[r].layer->out_shape : ks_model_input_shape_at(m0, k));
        if (r >= 0)
            ks_onnx_meta(g, ks_onnx_name(g, "%s_token_ids", input_tensor(m0, k)),
                         ks_onnx_name(g, "the ids of layer \"%s\" (TextVectorization) of the "
                                         ".ksm model, which holds the vocabulary",
                                      m0->nodes[r].name));
    }
    if (only >= 0)
        ks_onnx_output(g, MODEL_OUTPUT, KS_ONNX_FLOAT, ks_model_output_shape_at(m0, only));
    for (int k = 0; only < 0 && k < m0->n_outputs; k++)
        ks_onnx_output(g, output_tensor(m0, k), KS_ONNX_FLOAT, ks_model_output_shape_at(m0, k));
    put_input_scale(g, m0);
    return ks_onnx_encode(g, graph_name, out, len, err);
}

/* -------------------------------------------------------------- ensembles */

/* Member i's term of the weighted sum: its output y times its weight, after the logs of
   a geometric mean (lo, hi: the clip bounds; one: 1 for a single sigmoid output). */
static const char *member_term(ks_onnx *g, int i, const char *y, const char *w,
                               ks_ensemble_average avg, const char *lo, const char *hi,
                               const char *one)
{
    if (avg == KS_ENSEMBLE_GEOMETRIC) {
        /* Σ w·log(clip p); for one sigmoid output Σ w·(log p − log(1 − p)) */
        const char *in3[3] = {y, lo, hi}, *c, *lp, *q;
        c = ks_onnx_name(g, "m%d/clipped:0", i);
        ks_onnx_node(g, "Clip", in3, 3, &c, 1);
        lp = ks_onnx_node1(g, "Log", c, ks_onnx_name(g, "m%d/log:0", i));
        if (one) {
            const char *sub[2] = {one, y}, *logit[2];
            q = ks_onnx_name(g, "m%d/complement:0", i);
            ks_onnx_node(g, "Sub", sub, 2, &q, 1);
            in3[0] = q;
            c = ks_onnx_name(g, "m%d/complement_clipped:0", i);
            ks_onnx_node(g, "Clip", in3, 3, &c, 1);
            logit[0] = lp;
            logit[1] = ks_onnx_node1(g, "Log", c, ks_onnx_name(g, "m%d/log_complement:0", i));
            lp = ks_onnx_name(g, "m%d/logit:0", i);
            ks_onnx_node(g, "Sub", logit, 2, &lp, 1);
        }
        y = lp;
    }
    {
        const char *mul[2] = {y, w}, *term = ks_onnx_name(g, "m%d/weighted:0", i);
        return ks_onnx_node(g, "Mul", mul, 2, &term, 1) < 0 ? NULL : term;
    }
}

static ks_status lower_ensemble(ks_onnx *g, const ks_ensemble *e, ks_error *err)
{
    int n = ks_ensemble_size(e);
    ks_ensemble_average avg = ks_ensemble_average_of(e);
    const ks_shape *oshape = ks_model_output_shape_at(ks_ensemble_member(e, 0),
                                                      ks_ensemble_member_output(e, 0));
    size_t k = ks_shape_size(oshape);
    const char **terms, *lo = NULL, *hi = NULL, *one = NULL, *out = MODEL_OUTPUT;
    ks_status s = KS_OK;
    char buf[64];
    if (avg == KS_ENSEMBLE_GEOMETRIC && oshape->ndim != 1)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "a geometric-mean ensemble exports only 1-d outputs, got %s",
                            ks_shape_str(oshape, buf, sizeof buf));
    /* the graph takes a text input's token ids, and each member learned its own vocabulary */
    for (int i = 0; i < n; i++)
        for (int j = 0; j < ks_ensemble_member(e, i)->n_inputs; j++)
            if (ks_ensemble_member(e, i)->text_reader[j] >= 0)
                return ks_error_set(err, KS_ERR_CONFIG,
                                    "ensemble member %d reads text: its ONNX graph would take "
                                    "the ids of its own vocabulary, unlike the other members'; "
                                    "export the members one by one",
                                    i);
    if (!(terms = calloc((size_t)n, sizeof *terms)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    if (avg == KS_ENSEMBLE_GEOMETRIC) {
        lo = ks_onnx_const_float(g, "clip_min", 0, NULL, (float)KS_EPSILON);
        hi = ks_onnx_const_float(g, "clip_max", 0, NULL, k == 1 ? 1.0f - (float)KS_EPSILON
                                                                 : 1.0f);
        if (k == 1)
            one = ks_onnx_const_float(g, "one", 0, NULL, 1.0f);
    }
    for (int i = 0; i < n && s == KS_OK; i++) {
        const char *y = ks_onnx_name(g, "m%d/output", i), *w;
        snprintf(buf, sizeof buf, "m%d/", i);
        if ((s = lower_model(g, ks_ensemble_member(e, i), buf, ks_ensemble_member_output(e, i),
                             y, err)) != KS_OK) {
            ks_error_prefix(err, "ensemble member %d", i);
            break;
        }
        w = ks_onnx_const_float(g, ks_onnx_name(g, "m%d/weight", i), 0, NULL,
                                (float)ks_ensemble_weight(e, i));
        terms[i] = member_term(g, i, y, w, avg, lo, hi, one);
    }
    if (s == KS_OK && avg == KS_ENSEMBLE_ARITHMETIC) {
        ks_onnx_node(g, "Sum", terms, n, &out, 1);
    } else if (s == KS_OK) {
        const char *sum = k == 1 ? "logit:0" : "log_mean:0";
        ks_onnx_node(g, "Sum", terms, n, &sum, 1);
        if (k == 1)     /* back from the mean logit */
            ks_onnx_node1(g, "Sigmoid", sum, out);
        else            /* exp and renormalize: a softmax over the classes */
            ks_onnx_attr_int(g, ks_onnx_node(g, "Softmax", &sum, 1, &out, 1), "axis", -1);
    }
    free(terms);
    if (s == KS_OK && ks_onnx_status(g) != KS_OK)
        s = ks_error_set(err, ks_onnx_status(g), "out of memory");
    return s;
}

/* ----------------------------------------------------------- the exports */

/* Model m, or ensemble e when m is NULL, as ONNX bytes. */
static ks_status export_buffer(const ks_model *m, const ks_ensemble *e, unsigned char **out,
                               size_t *len, ks_error *err)
{
    ks_onnx *g;
    ks_status s;
    *out = NULL;
    *len = 0;
    if (ks_onnx_new(&g) != KS_OK)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    s = m ? lower_model(g, m, "", -1, NULL, err) : lower_ensemble(g, e, err);
    if (s == KS_OK)
        s = finish(g, m ? m : ks_ensemble_member(e, 0), m ? -1 : ks_ensemble_member_output(e, 0),
                   m ? "ksearch_model" : "ksearch_ensemble", out, len, err);
    ks_onnx_free(g);
    return s;
}

/* The same, written to path atomically. */
static ks_status export_file(const ks_model *m, const ks_ensemble *e, const char *path,
                             ks_error *err)
{
    unsigned char *buf;
    size_t len;
    ks_status s = export_buffer(m, e, &buf, &len, err);
    if (s == KS_OK)
        s = ks_write_file_atomic(path, buf, len, err);
    free(buf);
    return s;
}

ks_status ks_model_export_onnx_buffer(const ks_model *m, unsigned char **out, size_t *len,
                                      ks_error *err)
{
    return export_buffer(m, NULL, out, len, err);
}

ks_status ks_ensemble_export_onnx_buffer(const ks_ensemble *e, unsigned char **out,
                                         size_t *len, ks_error *err)
{
    return export_buffer(NULL, e, out, len, err);
}

ks_status ks_model_export_onnx(const ks_model *m, const char *path, ks_error *err)
{
    return export_file(m, NULL, path, err);
}

ks_status ks_ensemble_export_onnx(const ks_ensemble *e, const char *path, ks_error *err)
{
    return export_file(NULL, e, path, err);
}
