/*
 * layer_registry.c — the table of layer kinds, looked up by Keras class name.
 */
#include "engine_impl.h"

#include <ctype.h>
#include <string.h>

const ks_layer_ops *const ks_layer_kinds[] = {
    &ks_layer_input_ops,    &ks_layer_dense_ops,       &ks_layer_activation_ops,
    &ks_layer_dropout_ops,  &ks_layer_batchnorm_ops,   &ks_layer_flatten_ops,
    &ks_layer_concatenate_ops, &ks_layer_add_ops,      &ks_layer_subtract_ops,
    &ks_layer_multiply_ops, &ks_layer_average_ops,     &ks_layer_maximum_ops,
    &ks_layer_minimum_ops,  &ks_layer_embedding_ops,  &ks_layer_simple_rnn_ops,
    &ks_layer_lstm_ops,     &ks_layer_gru_ops,         &ks_layer_bidirectional_ops,
    &ks_layer_text_vectorization_ops, NULL};

const ks_layer_ops *ks_layer_find(const char *class_name)
{
    for (int i = 0; ks_layer_kinds[i]; i++) {
        const ks_layer_ops *ops = ks_layer_kinds[i];
        if (strcmp(ops->name, class_name) == 0)
            return ops;
        for (int k = 0; ops->aliases && ops->aliases[k]; k++)
            if (strcmp(ops->aliases[k], class_name) == 0)
                return ops;
    }
    return NULL;
}

void ks_layer_default_prefix(const char *class_name, char *out, size_t size)
{
    /* CamelCase → snake_case, as Keras's auto names: BatchNormalization → batch_normalization */
    size_t j = 0;
    for (size_t i = 0; class_name[i] && j + 2 < size; i++) {
        unsigned char c = (unsigned char)class_name[i];
        if (isupper(c)) {
            if (i > 0 && !isupper((unsigned char)class_name[i - 1]))
                out[j++] = '_';
            out[j++] = (char)tolower(c);
        } else {
            out[j++] = (char)c;
        }
    }
    out[j] = '\0';
}
