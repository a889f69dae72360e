/*
 * layer_gru.c — GRU (Cho et al. 2014) with Keras's arguments and defaults: gates in
 * Keras's order z, r, h; reset_after (Keras 2+'s default and cuDNN's form) applies the
 * reset gate after the recurrent product, with separate input and recurrent biases
 * (bias of shape (2, 3·units)).  The pass itself is kernels_rnn.c's.
 */
#include "engine_impl.h"

static const ks_key gru_keys[] = {
    KS_RNN_KEY_UNITS,
    KS_RNN_KEY_ACTIVATION,
    KS_RNN_KEY_RECURRENT_ACTIVATION,
    KS_RNN_KEY_USE_BIAS,
    KS_RNN_KEYS_INITIALIZERS,
    KS_RNN_KEYS_REGULARIZERS,
    KS_RNN_KEYS_TAIL,
    KS_RNN_KEY("reset_after", KS_KEY_BOOL, reset_after, 0, 0, "true", NULL, 0),
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status gru_build(ks_layer *l, ks_error *err)
{
    return ks_rnn_layer_build(l, KS_RNN_GRU, err);
}

const ks_layer_ops ks_layer_gru_ops = {
    .name = "GRU",
    .keys = gru_keys,
    .build = gru_build,
    KS_RNN_LAYER_OPS,
};
