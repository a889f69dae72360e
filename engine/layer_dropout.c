/*
 * layer_dropout.c — Dropout(rate): in training, zeroes each input with probability
 * rate and scales the rest by 1/(1-rate) (inverted dropout, as Keras); at evaluate
 * and predict it passes the input through.
 */
#include "engine_impl.h"

#include <string.h>

typedef struct dropout_state {
    double rate;
    int seed;
} dropout_state;

static const ks_key dropout_keys[] = {
    {"rate", KS_KEY_FLOAT, offsetof(dropout_state, rate), 0, 0, 1, NULL, NULL,
     KS_KEY_REQUIRED | KS_KEY_MAX_EXCL},
    {"seed", KS_KEY_INT, offsetof(dropout_state, seed), 0, 0, 2147483647, "0", NULL,
     KS_KEY_NULLABLE | KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status dropout_build(ks_layer *l, ks_error *err)
{
    (void)err;
    l->out_shape = l->in_shape[0];
    return KS_OK;
}

static size_t dropout_scratch(const ks_layer *l, int batch)
{
    return (size_t)batch * l->out_size;     /* the mask, 0 or 1/(1-rate) */
}

static void dropout_forward(ks_layer *l, const ks_fwd *f)
{
    const dropout_state *st = l->state;
    size_t len = (size_t)f->n * l->out_size;
    if (!f->training || st->rate == 0.0) {
        memcpy(f->y, f->x[0], len * sizeof(float));
        if (f->training)
            for (size_t i = 0; i < len; i++)
                f->scratch[i] = 1.0f;
        return;
    }
    {
        float keep_scale = (float)(1.0 / (1.0 - st->rate));
        double rate = st->rate;
        for (size_t i = 0; i < len; i++)
            f->scratch[i] = ks_rng_uniform(f->rng) >= rate ? keep_scale : 0.0f;
        for (size_t i = 0; i < len; i++)
            f->y[i] = f->x[0][i] * f->scratch[i];
    }
}

static void dropout_backward(ks_layer *l, const ks_bwd *b)
{
    size_t len = (size_t)b->n * l->out_size;
    if (!b->dx[0])
        return;
    if (b->dx_beta[0] == 0.0f)
        for (size_t i = 0; i < len; i++)
            b->dx[0][i] = b->dy[i] * b->scratch[i];
    else
        for (size_t i = 0; i < len; i++)
            b->dx[0][i] += b->dy[i] * b->scratch[i];
}

/* At inference Dropout is the identity: its output is its input tensor. */
static ks_status dropout_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                              const char **out, ks_error *err)
{
    (void)l, (void)g, (void)err;
    *out = in[0];
    return KS_OK;
}

const ks_layer_ops ks_layer_dropout_ops = {
    .name = "Dropout",
    .keys = dropout_keys,
    .state_size = sizeof(dropout_state),
    .build = dropout_build,
    .scratch_size = dropout_scratch,
    .forward = dropout_forward,
    .backward = dropout_backward,
    .onnx = dropout_onnx,
};
