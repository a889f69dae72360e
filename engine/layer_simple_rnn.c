/*
 * layer_simple_rnn.c — SimpleRNN with Keras's arguments and defaults: h = activation(
 * x·kernel + h·recurrent_kernel + bias), activation tanh.  The pass itself is
 * kernels_rnn.c's.
 */
#include "engine_impl.h"

static const ks_key simple_rnn_keys[] = {
    KS_RNN_KEY_UNITS,
    KS_RNN_KEY_ACTIVATION,
    KS_RNN_KEY_USE_BIAS,
    KS_RNN_KEYS_INITIALIZERS,
    KS_RNN_KEYS_REGULARIZERS,
    KS_RNN_KEYS_TAIL,
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status simple_rnn_build(ks_layer *l, ks_error *err)
{
    return ks_rnn_layer_build(l, KS_RNN_SIMPLE, err);
}

const ks_layer_ops ks_layer_simple_rnn_ops = {
    .name = "SimpleRNN",
    .keys = simple_rnn_keys,
    .build = simple_rnn_build,
    KS_RNN_LAYER_OPS,
};
