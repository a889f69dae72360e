/*
 * layer_rnn.c — what SimpleRNN, LSTM and GRU share as layers: their state (Keras's
 * arguments, then the recurrent pass of kernels_rnn.c), build, forward and backward,
 * masks (read, and passed on with return_sequences) and the forget gate's bias.
 * Weights are named as Keras 3 names them: "lstm/lstm_cell/kernel".
 */
#include "engine_impl.h"

/* The cell's weight prefix, as Keras names its cell layer. */
static const char *const cell_prefix[] = {"simple_rnn_cell/", "lstm_cell/", "gru_cell/"};
static const char *const cell_kind[] = {"SimpleRNN", "LSTM", "GRU"};

ks_status ks_rnn_layer_build(ks_layer *l, ks_rnn_cell cell, ks_error *err)
{
    ks_rnn_state *st = l->state;
    ks_status s = ks_rnn_build(l, &st->a, cell, cell_prefix[cell], cell_kind[cell], &st->r, err);
    if (s == KS_OK)
        l->out_shape = ks_rnn_output_shape(&st->r);
    return s;
}

size_t ks_rnn_layer_scratch(const ks_layer *l, int batch)
{
    return ks_rnn_scratch_size(&((const ks_rnn_state *)l->state)->r, batch);
}

void ks_rnn_layer_forward(ks_layer *l, const ks_fwd *f)
{
    const ks_rnn_state *st = l->state;
    ks_rnn_forward(&st->r, l, f->n, f->x[0], f->mask, f->y, f->scratch, f->training, f->rng);
}

void ks_rnn_layer_backward(ks_layer *l, const ks_bwd *b)
{
    const ks_rnn_state *st = l->state;
    ks_rnn_backward(&st->r, l, b->n, b->x[0], b->mask, b->dy, b->dx[0], b->dx_beta[0],
                    b->grad_beta, b->scratch);
}

ks_mask_mode ks_rnn_layer_mask(const ks_layer *l)
{
    return ks_rnn_mask(&((const ks_rnn_state *)l->state)->r);
}

ks_status ks_rnn_layer_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                            const char **out, ks_error *err)
{
    const ks_rnn *r = &((const ks_rnn_state *)l->state)->r;
    return ks_rnn_onnx(l, g, &r, 1, 0, in[0], out, err);
}

void ks_rnn_layer_init_weights(ks_layer *l)
{
    ks_rnn_init_weights(&((const ks_rnn_state *)l->state)->r, l);
}
