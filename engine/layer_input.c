/*
 * layer_input.c — InputLayer: the model's input, of a given per-sample shape and dtype.
 * Keras 3 calls the argument shape; Keras 2's input_shape is accepted too.  A length
 * given as null (Keras's None) is the data's: resolved when the model is built for data
 * (ks_input_resolve), since ksearch sizes every buffer at build time.  dtype int32 or
 * int64 asks for integral values (token ids) and string for text, which only a layer
 * that reads text (TextVectorization) may take.
 */
#include "engine_impl.h"

const char *const ks_dtype_names[] = {
#define KS_DTYPE_NAME(e, name) name,
    KS_DTYPE_LIST(KS_DTYPE_NAME)
#undef KS_DTYPE_NAME
    NULL};

typedef struct input_state {
    ks_shape shape;
    ks_shape input_shape;
    int dtype;                  /* ks_dtype */
} input_state;

static const ks_key input_keys[] = {
    {"shape", KS_KEY_SHAPE, offsetof(input_state, shape), 0, 0, 0, NULL, NULL,
     KS_KEY_HIDDEN | KS_KEY_NONE_DIMS},
    {"input_shape", KS_KEY_SHAPE, offsetof(input_state, input_shape), 0, 0, 0, NULL, NULL,
     KS_KEY_HIDDEN | KS_KEY_NONE_DIMS},
    {"dtype", KS_KEY_ENUM, offsetof(input_state, dtype), 0, 0, 0, "float32", ks_dtype_names,
     KS_KEY_HIDDEN | KS_KEY_NULLABLE},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

void ks_input_resolve(ks_layer *l, const ks_shape *data)
{
    input_state *st = l->state;
    ks_shape *s = st->shape.ndim ? &st->shape : &st->input_shape;
    if (!data || data->ndim != s->ndim)
        return;
    for (int i = 0; i < s->ndim; i++)
        if (s->dim[i] == 0)
            s->dim[i] = data->dim[i];
}

static ks_status input_build(ks_layer *l, ks_error *err)
{
    input_state *st = l->state;
    char buf[64];
    if (st->shape.ndim == 0)
        st->shape = st->input_shape;
    st->input_shape.ndim = 0;
    if (st->shape.ndim == 0)
        return ks_error_set(err, KS_ERR_CONFIG, "InputLayer needs a shape, e.g. shape: [28, 28]");
    for (int i = 0; i < st->shape.ndim; i++)
        if (st->shape.dim[i] == 0)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "InputLayer: axis %d of the shape is None, and no data of that "
                                "rank gives its length here; give it (e.g. shape: [100]): "
                                "ksearch sizes its buffers when it builds the model",
                                i + 1);
    if (st->dtype == KS_DTYPE_STRING && st->shape.ndim != 1)
        return ks_error_set(err, KS_ERR_SHAPE,
                            "InputLayer: text (dtype: string) comes as strings in one axis, "
                            "one per column: shape: [1] or [COLUMNS], got %s",
                            ks_shape_str(&st->shape, buf, sizeof buf));
    l->out_shape = st->shape;
    return KS_OK;
}

ks_dtype ks_input_dtype(const ks_layer *l)
{
    return (l->ops->flags & KS_LAYER_INPUT) ? (ks_dtype)((const input_state *)l->state)->dtype
                                             : KS_DTYPE_FLOAT32;
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
