/*
 * model_pass.c — the passes over a model's graph for one batch: the workspace they
 * run in (sized once per fit, never per step), forward, loss, backward.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

ks_status ks_model_workspace(ks_model *m, int batch, size_t y_size, int training,
                             ks_error *err)
{
    ks_workspace *ws = &m->ws;
    size_t total = 0, in_size = m->layers[0]->out_size;
    const ks_layer *out = m->layers[m->output];
    float *p;
    size_t *order = ws->order;
    if (ws->block && ws->batch >= batch && ws->y_size >= y_size && (ws->training || !training))
        return KS_OK;
    free(ws->block);
    free(ws->buf);
    free(ws->out);
    free(ws->dout);
    free(ws->scratch);
    memset(ws, 0, sizeof *ws);
    ws->order = order;
    ws->buf = calloc((size_t)m->n_layers, sizeof *ws->buf);
    ws->out = calloc((size_t)m->n_layers, sizeof *ws->out);
    ws->dout = calloc((size_t)m->n_layers, sizeof *ws->dout);
    ws->scratch = calloc((size_t)m->n_layers, sizeof *ws->scratch);
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
        TAKE(ws->x, (size_t)batch * in_size);
        TAKE(ws->t, (size_t)batch * (y_size ? y_size : 1));
        TAKE(ws->sw, (size_t)batch);
        TAKE(ws->z, m->fused ? (size_t)batch * out->out_size : 0);
        for (int i = 0; i < m->n_layers; i++) {
            const ks_layer *l = m->layers[i];
            size_t n = (size_t)batch * l->out_size;
            if (l->ops->flags & (KS_LAYER_INPUT | KS_LAYER_ALIAS))
                continue;
            TAKE(ws->buf[i], n);
            if (training && m->needs_grad[i])
                TAKE(ws->dout[i], n);
            if (l->ops->scratch_size)
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
    /* aliases share their input's buffers */
    for (int i = 1; i < m->n_layers; i++) {
        const ks_layer *l = m->layers[i];
        if (l->ops->flags & KS_LAYER_ALIAS)
            ws->dout[i] = ws->dout[l->inputs[0]];
    }
    ws->batch = batch;
    ws->y_size = y_size;
    ws->training = training;
    return KS_OK;
}

const float *ks_model_forward(ks_model *m, const float *x, int n, int training)
{
    ks_workspace *ws = &m->ws;
    ks_fwd f;
    memset(&f, 0, sizeof f);
    f.n = n;
    f.training = training;
    f.rng = m->rng;
    for (int i = 0; i < m->n_layers; i++) {
        ks_layer *l = m->layers[i];
        if (l->ops->flags & KS_LAYER_INPUT) {
            ws->out[i] = x;
            continue;
        }
        if (l->ops->flags & KS_LAYER_ALIAS) {
            ws->out[i] = ws->out[l->inputs[0]];
            continue;
        }
        for (int k = 0; k < l->n_in; k++)
            f.x[k] = ws->out[l->inputs[k]];
        f.y = ws->buf[i];
        f.z = (i == m->output && m->fused) ? ws->z : NULL;
        f.scratch = ws->scratch[i];
        l->ops->forward(l, &f);
        ws->out[i] = ws->buf[i];
    }
    return ws->out[m->output];
}

double ks_model_batch_loss(ks_model *m, const float *t, const float *sw, int n, int grad)
{
    const ks_layer *out = m->layers[m->output];
    int k = (int)out->out_size;
    const float *p = m->fused ? m->ws.z : m->ws.out[m->output];
    float *g = grad ? m->ws.dout[m->output] : NULL;
    float scale = (float)(m->loss_weight / n);
    double sum = m->loss->eval(&m->loss_args, p, t, sw, n, k, m->fused, g, scale);
    return m->loss_weight * sum / n;
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
                (!(l->ops->flags & KS_LAYER_FUSED_SGD) || l->weights[w].reg.l1 != 0.0 ||
                 l->weights[w].reg.l2 != 0.0))
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
    for (int i = m->output; i > 0; i--) {
        ks_layer *l = m->layers[i];
        if (!m->needs_grad[i] || (l->ops->flags & (KS_LAYER_INPUT | KS_LAYER_ALIAS)))
            continue;
        for (int k = 0; k < l->n_in; k++) {
            b.x[k] = ws->out[l->inputs[k]];
            b.dx[k] = m->needs_grad[l->inputs[k]] ? ws->dout[l->inputs[k]] : NULL;
        }
        b.y = ws->out[i];
        b.dy = ws->dout[i];
        b.scratch = ws->scratch[i];
        b.dy_is_dz = i == m->output && m->fused;
        b.grad_beta = 0.0f;
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
