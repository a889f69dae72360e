/*
 * layer_registry.c — the table of layer kinds, looked up by Keras class name.
 */
#include "engine_impl.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* at most KS_LAYER_KINDS_MAX (the compiler refuses more), NULL after the last */
const ks_layer_ops *const ks_layer_kinds[KS_LAYER_KINDS_MAX + 1] = {
    &ks_layer_input_ops,
    &ks_layer_dense_ops,
    &ks_layer_activation_ops,
    &ks_layer_dropout_ops,
    &ks_layer_batchnorm_ops,
    &ks_layer_flatten_ops,
    /* merge layers (functional models) */
    &ks_layer_concatenate_ops,
    &ks_layer_add_ops,
    &ks_layer_subtract_ops,
    &ks_layer_multiply_ops,
    &ks_layer_average_ops,
    &ks_layer_maximum_ops,
    &ks_layer_minimum_ops,
    /* sequences: embeddings, recurrent layers, text */
    &ks_layer_embedding_ops,
    &ks_layer_simple_rnn_ops,
    &ks_layer_lstm_ops,
    &ks_layer_gru_ops,
    &ks_layer_bidirectional_ops,
    &ks_layer_text_vectorization_ops,
    /* convolution and pooling, channels last */
    &ks_layer_conv2d_ops,
    &ks_layer_conv1d_ops,
    &ks_layer_depthwise_conv2d_ops,
    &ks_layer_separable_conv2d_ops,
    &ks_layer_max_pooling2d_ops,
    &ks_layer_max_pooling1d_ops,
    &ks_layer_average_pooling2d_ops,
    &ks_layer_average_pooling1d_ops,
    &ks_layer_global_average_pooling2d_ops,
    &ks_layer_global_average_pooling1d_ops,
    &ks_layer_global_max_pooling2d_ops,
    &ks_layer_global_max_pooling1d_ops,
    &ks_layer_zero_padding2d_ops,
    &ks_layer_zero_padding1d_ops,
    &ks_layer_spatial_dropout2d_ops,
    &ks_layer_spatial_dropout1d_ops,
    /* shapes, preprocessing and augmentation inside the model */
    &ks_layer_reshape_ops,
    &ks_layer_rescaling_ops,
    &ks_layer_normalization_ops,
    &ks_layer_string_lookup_ops,
    &ks_layer_integer_lookup_ops,
    &ks_layer_category_encoding_ops,
    &ks_layer_random_flip_ops,
    &ks_layer_random_translation_ops,
    NULL};

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

const char *ks_layer_kind_names(char *buf, size_t size, int (*keep)(const ks_layer_ops *))
{
    size_t n = 0;
    int more = 0;
    buf[0] = '\0';
    for (int i = 0; ks_layer_kinds[i]; i++) {
        const ks_layer_ops *k = ks_layer_kinds[i];
        if (keep && !keep(k))
            continue;
        /* room for ", name" and a closing " and 99 more" */
        if (more || n + strlen(k->name) + 2 + 13 >= size) {
            more++;
            continue;
        }
        n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "", k->name);
    }
    if (more)
        snprintf(buf + n, size - n, " and %d more", more);
    return buf;
}

void ks_layer_default_prefix(const char *class_name, char *out, size_t size)
{
    /*
     * CamelCase → snake_case as Keras's to_snake_case: a capital starts a word when a
     * lower-case letter follows or precedes it (BatchNormalization →
     * batch_normalization, MaxPooling2D → max_pooling2d, Conv2D → conv2d)
     */
    size_t j = 0;
    for (size_t i = 0; class_name[i] && j + 2 < size; i++) {
        unsigned char c = (unsigned char)class_name[i];
        if (isupper(c)) {
            if (i > 0 && (islower((unsigned char)class_name[i + 1]) ||
                          islower((unsigned char)class_name[i - 1])))
                out[j++] = '_';
            out[j++] = (char)tolower(c);
        } else {
            out[j++] = (char)c;
        }
    }
    out[j] = '\0';
}
