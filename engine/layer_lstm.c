/*
 * layer_lstm.c — LSTM (Hochreiter & Schmidhuber 1997) with Keras's arguments and
 * defaults: kernel (features, 4·units) and recurrent_kernel (units, 4·units) with the
 * gates in Keras's order i, f, c, o; unit_forget_bias sets the forget gate's bias to
 * one.  The pass itself is kernels_rnn.c's.
 */
#include "engine_impl.h"

static const ks_key lstm_keys[] = {
    KS_RNN_KEY_UNITS,
    KS_RNN_KEY_ACTIVATION,
    KS_RNN_KEY_RECURRENT_ACTIVATION,
    KS_RNN_KEY_USE_BIAS,
    KS_RNN_KEY_UNIT_FORGET_BIAS,
    KS_RNN_KEYS_INITIALIZERS,
    KS_RNN_KEYS_REGULARIZERS,
    KS_RNN_KEYS_TAIL,
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status lstm_build(ks_layer *l, ks_error *err)
{
    return ks_rnn_layer_build(l, KS_RNN_LSTM, err);
}

const ks_layer_ops ks_layer_lstm_ops = {
    .name = "LSTM",
    .keys = lstm_keys,
    .build = lstm_build,
    KS_RNN_LAYER_OPS,
};
