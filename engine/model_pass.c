/*
 * model_pass.c — the passes over a model's graph for one batch: the workspace they
 * run in (sized once per fit, never per step), forward, loss, backward.  Backward
 * accumulates: a tensor read by several calls gets the sum of their gradients, the
 * first writer (in backward order) writing and later ones adding, as wired at build.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

static void workspace_release(ks_workspace *ws)
{
    size_t *order = ws->order;
    free(ws->block);
    free(ws->buf);
    free(ws->out);
    free(ws->dout);
    free(ws->scratch);
    memset(ws, 0, sizeof *ws);
    ws->order = order;
}

ks_status ks_model_workspace(ks_model *m, int batch, int training, ks_error *err)
{
    ks_workspace *ws = &m->ws;
    int targets = m->compiled;
    size_t total = 0, nn = (size_t)m->n_nodes;
    float *p;
    if (ws->block && ws->batch >= batch && (ws->training || !training) &&
        (ws->targets || !targets))
        return KS_OK;
    workspace_release(ws);
    ws->buf = calloc(nn, sizeof *ws->buf);
    ws->out = calloc(nn, sizeof *ws->out);
    ws->dout = calloc(nn, sizeof *ws->dout);
    ws->scratch = calloc(nn, sizeof *ws->scratch);
    if (!ws->buf || !ws->out || !ws->dout || !ws->scratch)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory for the training buffers");
    /* sizes first, then one block */
    for (int pass = 0; pass < 2; pass++) {
        size_t off = 0;
#define TAKE(ptr, count)                                  \
    do {                                                  \
        size_t c_ = (count);                              \
        if (pass)                                         \
            (ptr) = c_ ? p + off : NULL;                  \
        off += (c_ + 15) & ~(size_t)15; /* 64-byte steps */ \
    } while (0)
        p = pass ? ws->block : NULL;
        for (int j = 0; j < m->n_inputs; j++)
            TAKE(ws->x[j], (size_t)batch * m->nodes[m->inputs[j]].layer->out_size);
        for (int j = 0; targets && j < m->n_outputs; j++) {
            const ks_output *o = &m->outputs[j];
            TAKE(ws->t[j], (size_t)batch * o->t_size);
            TAKE(ws->z[j], m->nodes[o->node].fused ? (size_t)batch * o->size : 0);
        }
        TAKE(ws->sw, (size_t)batch);
        for (int i = 0; i < m->n_nodes; i++) {
            const ks_node *nd = &m->nodes[i];
            const ks_layer *l = nd->layer;
            size_t n = (size_t)batch * l->out_size;
            if (nd->mode == KS_NODE_INPUT || nd->mode == KS_NODE_ALIAS)
                continue;
            TAKE(ws->buf[i], n);
            if (training && nd->needs_grad)
                TAKE(ws->dout[i], n);
            if (nd->mode == KS_NODE_LAYER && l->ops->scratch_size)
                TAKE(ws->scratch[i], l->ops->scratch_size(l, batch));
        }
#undef TAKE
        if (!pass) {
            total = off;
            ws->block = aligned_alloc(64, (total ? total : 16) * sizeof(float));
            if (!ws->block)
                return ks_error_set(err, KS_ERR_NOMEM,
                                    "out of memory for the training buffers (%zu MB)",
                                    total * sizeof(float) >> 20);
            memset(ws->block, 0, total * sizeof(float));
        }
    }
    /* aliases share their source's buffers */
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].mode == KS_NODE_ALIAS)
            ws->dout[i] = ws->dout[m->nodes[i].owner];
    ws->batch = batch;
    ws->training = training;
    ws->targets = targets;
    return KS_OK;
}

const float *ks_model_forward(ks_model *m, const float *const *x, int n, int training)
{
    ks_workspace *ws = &m->ws;
    ks_fwd f;
    memset(&f, 0, sizeof f);
    f.n = n;
    f.training = training;
    f.rng = m->rng;
    for (int i = 0; i < m->n_nodes; i++) {
        const ks_node *nd = &m->nodes[i];
        ks_layer *l = nd->layer;
        switch (nd->mode) {
        case KS_NODE_INPUT:
            ws->out[i] = x[nd->input_index];
            continue;
        case KS_NODE_ALIAS:
            ws->out[i] = ws->out[nd->inputs[0]];
            continue;
        case KS_NODE_COPY:
            memcpy(ws->buf[i], ws->out[nd->inputs[0]], (size_t)n * l->out_size * sizeof(float));
            ws->out[i] = ws->buf[i];
            continue;
        case KS_NODE_LAYER:
            break;
        }
        for (int k = 0; k < nd->n_in; k++)
            f.x[k] = ws->out[nd->inputs[k]];
        f.y = ws->buf[i];
        f.z = nd->fused ? ws->z[nd->out_index] : NULL;
        f.scratch = ws->scratch[i];
        l->ops->forward(l, &f);
        ws->out[i] = ws->buf[i];
    }
    return ws->out[m->outputs[0].node];
}

const float *ks_model_output(const ks_model *m, int k)
{
    return m->ws.out[m->outputs[k].node];
}

double ks_model_batch_loss(ks_model *m, const float *const *t, const float *sw, int n,
                           int grad, double *per_output)
{
    double total = 0.0;
    for (int j = 0; j < m->n_outputs; j++) {
        const ks_output *o = &m->outputs[j];
        const ks_node *nd = &m->nodes[o->node];
        const float *p = nd->fused ? m->ws.z[j] : m->ws.out[o->node];
        float *g = grad && nd->needs_grad ? m->ws.dout[o->node] : NULL;
        float scale = (float)(o->loss_weight / n);
        double sum = o->loss->eval(&o->loss_args, p, t[j], sw, n, (int)o->size, nd->fused, g,
                                   scale);
        if (per_output)
            per_output[j] = sum / n;
        total += o->loss_weight * sum / n;
    }
    return total;
}

double ks_model_penalty(const ks_model *m)
{
    double p = 0.0;
    for (int i = 0; i < m->n_weights; i++) {
        const ks_weight *w = m->weights[i];
        if (w->reg.l1 != 0.0 || w->reg.l2 != 0.0)
            p += ks_regularizer_penalty(&w->reg, w->w, w->size);
    }
    return p;
}

int ks_model_can_fuse_sgd(const ks_model *m)
{
    if (!m->opt || !m->opt->plain || !m->opt->plain(m->opt_args))
        return 0;
    for (int i = 0; i < m->n_layers; i++) {
        const ks_layer *l = m->layers[i];
        for (int w = 0; w < l->n_weights; w++)
            if (l->weights[w].trainable &&
                (!(l->ops->flags & KS_LAYER_FUSED_SGD) || l->n_calls > 1 ||
                 l->weights[w].reg.l1 != 0.0 || l->weights[w].reg.l2 != 0.0))
                return 0;
    }
    return 1;
}

double ks_model_backward(ks_model *m, int n, int fuse_sgd)
{
    ks_workspace *ws = &m->ws;
    double penalty = 0.0;
    ks_bwd b;
    memset(&b, 0, sizeof b);
    b.n = n;
    b.sgd_lr = fuse_sgd ? (float)m->lr : 0.0f;
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        const ks_node *nd = &m->nodes[i];
        ks_layer *l = nd->layer;
        if (!nd->needs_grad || nd->mode == KS_NODE_INPUT || nd->mode == KS_NODE_ALIAS)
            continue;
        if (nd->mode == KS_NODE_COPY) {
            if (m->nodes[nd->inputs[0]].needs_grad)
                ks_accumulate(ws->dout[nd->inputs[0]], ws->dout[i],
                              (size_t)n * l->out_size, nd->dx_beta[0]);
            continue;
        }
        for (int k = 0; k < nd->n_in; k++) {
            int in = nd->inputs[k];
            b.x[k] = ws->out[in];
            b.dx[k] = m->nodes[in].needs_grad ? ws->dout[in] : NULL;
            b.dx_beta[k] = nd->dx_beta[k];
        }
        b.y = ws->out[i];
        b.dy = ws->dout[i];
        b.scratch = ws->scratch[i];
        b.dy_is_dz = nd->fused;
        b.grad_beta = nd->grad_beta;
        l->ops->backward(l, &b);
    }
    if (fuse_sgd) {
        m->iterations++;
        return 0.0;     /* no regularizers on this path */
    }
    for (int i = 0; i < m->n_weights; i++) {
        ks_weight *w = m->weights[i];
        if (w->trainable && (w->reg.l1 != 0.0 || w->reg.l2 != 0.0))
            penalty += ks_regularizer_apply(&w->reg, w->w, w->g, w->size);
    }
    return penalty;
}
