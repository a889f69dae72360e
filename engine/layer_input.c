/*
 * layer_input.c — InputLayer: the model's input, of a given per-sample shape.
 * Keras 3 calls the argument shape; Keras 2's input_shape is accepted too.
 */
#include "engine_impl.h"

typedef struct input_state {
    ks_shape shape;
    ks_shape input_shape;
} input_state;

static const ks_key input_keys[] = {
    {"shape", KS_KEY_SHAPE, offsetof(input_state, shape), 0, 0, 0, NULL, NULL, KS_KEY_HIDDEN},
    {"input_shape", KS_KEY_SHAPE, offsetof(input_state, input_shape), 0, 0, 0, NULL, NULL,
     KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status input_build(ks_layer *l, ks_error *err)
{
    input_state *st = l->state;
    if (st->shape.ndim == 0)
        st->shape = st->input_shape;
    st->input_shape.ndim = 0;
    if (st->shape.ndim == 0)
        return ks_error_set(err, KS_ERR_CONFIG, "InputLayer needs a shape, e.g. shape: [28, 28]");
    l->out_shape = st->shape;
    return KS_OK;
}

/* keras.Input(shape, name) makes an InputLayer */
static const char *const input_aliases[] = {"Input", NULL};

const ks_layer_ops ks_layer_input_ops = {
    .name = "InputLayer",
    .aliases = input_aliases,
    .keys = input_keys,
    .state_size = sizeof(input_state),
    .flags = KS_LAYER_INPUT,
    .build = input_build,
};
