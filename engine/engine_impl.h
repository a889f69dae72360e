/*
 * engine_impl.h — the engine's internal interface: layer, loss, metric and optimizer
 * tables, the model struct and its per-fit workspace, the ONNX graph builder that layer
 * kinds lower themselves into, and the numeric kernels.  Only the engine's own .c files
 * (and white-box tests) include this.
 */
#ifndef KS_ENGINE_IMPL_H
#define KS_ENGINE_IMPL_H

#include "engine.h"
#include "ks_util.h"

#include <math.h>
#include <stdint.h>

/* ------------------------------------------------------------ activations */

typedef enum ks_activation {
#define KS_ACT(e, name) KS_ACT_##e,
#include "activations.def"
#undef KS_ACT
    KS_ACT_COUNT
} ks_activation;

extern const char *const ks_activation_names[];   /* NULL-terminated, by enum */

/* Keras's constants of selu and elu (shared by the kernels and the ONNX lowering). */
#define KS_SELU_ALPHA 1.67326324235437728481f
#define KS_SELU_SCALE 1.05070098735548049342f
#define KS_ELU_ALPHA 1.0f

/*
 * In place, over n rows of width columns (softmax works along rows):
 * ks_act_apply: y = act(y).  ks_act_grad: d = d ⊙ act'(z), with d holding dL/dy on
 * entry and dL/dz on return, computed from the output y alone (every activation here
 * allows it); y and d must not overlap.
 */
void ks_act_apply(ks_activation a, float *y, int n, int width);
void ks_act_grad(ks_activation a, const float *restrict y, float *restrict d, int n, int width);

/* -------------------------------------------------------------------- rng */

/* Seed r from a 64-bit derivation itself (ks_rng_new hashes (seed, a, b) into one):
   MT19937's init_by_array over its two 32-bit halves (rng.c). */
void ks_rng_seed64(ks_rng *r, uint64_t h);

/* ----------------------------------------------------------- initializers */

#define KS_INITIALIZER_LIST(X)                                     \
    X(GLOROT_UNIFORM, "glorot_uniform")                            \
    X(GLOROT_NORMAL, "glorot_normal")                              \
    X(HE_NORMAL, "he_normal")                                      \
    X(HE_UNIFORM, "he_uniform")                                    \
    X(LECUN_NORMAL, "lecun_normal")                                \
    X(LECUN_UNIFORM, "lecun_uniform")                              \
    X(ZEROS, "zeros")                                              \
    X(ONES, "ones")                                                \
    X(ORTHOGONAL, "orthogonal")                                    \
    X(UNIFORM, "uniform")                                          \
    X(RANDOM_UNIFORM, "random_uniform")                            \
    X(NORMAL, "normal")                                            \
    X(RANDOM_NORMAL, "random_normal")                              \
    X(TRUNCATED_NORMAL, "truncated_normal")

typedef enum ks_initializer {
#define KS_INIT_ENUM(e, name) KS_INIT_##e,
    KS_INITIALIZER_LIST(KS_INIT_ENUM)
#undef KS_INIT_ENUM
    KS_INIT_COUNT
} ks_initializer;

extern const char *const ks_initializer_names[];  /* NULL-terminated, by enum */

/*
 * Fill w (shape: every axis) as Keras's initializer does (fans from the shape).
 * uniform/random_uniform are RandomUniform(-0.05, 0.05), normal/random_normal
 * RandomNormal(stddev 0.05), truncated_normal TruncatedNormal(stddev 0.05): Keras's
 * defaults for the names.  orthogonal: the matrix (every axis but the last, the last)
 * has orthonormal rows or columns, as Keras's Orthogonal(gain 1).
 */
void ks_init_fill(ks_initializer init, float *w, const ks_shape *shape, ks_rng *rng);

/* ----------------------------------------------------------- regularizers */

typedef struct ks_regularizer {
    double l1, l2;          /* both 0: none */
} ks_regularizer;

/*
 * Parse a Keras regularizer: null, "l1", "l2", "l1_l2", {l2: 0.01}, {l1_l2: {l1: …, l2: …}},
 * {L2: {l2: 0.01}}.  Defaults 0.01 as Keras.
 */
ks_status ks_regularizer_from_value(const ks_value *v, const char *what, ks_regularizer *out,
                                    ks_error *err);
ks_status ks_regularizer_to_value(const ks_regularizer *r, ks_value *out);
/* Penalty l1·Σ|w| + l2·Σw², and adds its gradient to g. */
double ks_regularizer_apply(const ks_regularizer *r, const float *w, float *g, size_t n);
double ks_regularizer_penalty(const ks_regularizer *r, const float *w, size_t n);

/* ----------------------------------------------------------------- weights */

#define KS_WEIGHT_NAME_MAX 192

typedef struct ks_weight {
    char name[KS_WEIGHT_NAME_MAX];  /* "dense/kernel", "encoder/dense/kernel": Keras 3's path */
    ks_shape shape;             /* every axis */
    size_t size;                /* floats */
    size_t offset;              /* into the model's parameter block */
    int trainable;
    ks_initializer init;
    ks_regularizer reg;
    float *w, *g;               /* views into the model's parameter and gradient blocks */
} ks_weight;

/* ------------------------------------------------------------------ layers */

#define KS_MAX_INPUTS 8
#define KS_MAX_LAYER_WEIGHTS 16    /* BatchNormalization has 4; Bidirectional(LSTM) 6 */
#define KS_NAME_MAX 64              /* a name as the user writes it (layer, call, sub-model) */
#define KS_PATH_MAX 160             /* a layer or call name with its sub-model prefixes */

typedef struct ks_layer ks_layer;
typedef struct ks_onnx ks_onnx;         /* an ONNX graph being built (onnx_graph.c) */

/*
 * One forward call over a batch of n rows.  Everything a call needs beyond the
 * layer's arguments and weights comes in here (its output and scratch belong to the
 * call, not to the layer: a layer called twice has two of each).
 */
typedef struct ks_fwd {
    int n;
    int training;               /* dropout on, batch statistics */
    const float *x[KS_MAX_INPUTS];  /* inputs, n × in_size each */
    float *y;                   /* output, n × out_size */
    float *z;                   /* if not NULL: also store the pre-activation here */
    float *scratch;             /* the call's workspace (scratch_size floats) */
    ks_rng *rng;                /* this epoch's stream for the layer (dropout) */
    const float *mask;          /* input 0's mask (n × its mask size: 1 use, 0 skip), or NULL */
    float *mask_out;            /* KS_MASK_MAKE kinds write their output's mask here */
} ks_fwd;

/*
 * One backward call, after the forward call on the same batch.  Gradients accumulate:
 * a tensor read by several calls receives the sum of their gradients, so dx_beta[k]
 * says whether to write dx[k] (0: the first writer) or add to it (1).  Write dx[0],
 * dx[1], … in that order (two inputs may be one tensor), and never scale old contents
 * by 0 to "write": they may be NaN from an earlier step.  Weight gradients follow
 * grad_beta the same way (a shared layer's calls sum into one gradient).
 */
typedef struct ks_bwd {
    int n;
    const float *x[KS_MAX_INPUTS];
    const float *y;
    float *dy;                  /* dL/dy, or dL/dz when dy_is_dz; the layer may overwrite it */
    float *dx[KS_MAX_INPUTS];   /* dL/dx goes here; NULL: not needed */
    float dx_beta[KS_MAX_INPUTS];   /* 0: overwrite dx[k]; 1: add to it */
    float *scratch;
    int dy_is_dz;               /* the loss already went through the activation */
    float grad_beta;            /* 0: overwrite weight gradients; 1: add (shared layers) */
    float sgd_lr;               /* > 0: plain SGD fused in: update the weights, w −= lr·g,
                                   instead of writing g (only for KS_LAYER_FUSED_SGD kinds) */
    const float *mask;          /* input 0's mask, as in forward, or NULL */
} ks_bwd;

enum {
    KS_LAYER_ALIAS = 1,         /* output is the input buffer (Flatten); no work */
    KS_LAYER_INPUT = 2,         /* the model input (InputLayer) */
    KS_LAYER_MERGE = 4,         /* takes several inputs */
    KS_LAYER_FUSED_SGD = 8,     /* backward can apply plain SGD itself (ks_bwd.sgd_lr) */
    KS_LAYER_MASK_USE = 16,     /* reads its input's mask (so a mask may end there quietly) */
    KS_LAYER_RECURRENT = 32,    /* SimpleRNN, LSTM, GRU: state is a ks_rnn_state; Bidirectional
                                   wraps them */
    KS_LAYER_TEXT_INPUT = 64,   /* reads an Input of dtype string (encode, not forward) */
    KS_LAYER_TOKEN_TABLE = 128, /* its first weight holds one vector per token id (Embedding):
                                   TensorBoard's projector shows it */
    KS_LAYER_ENCODE = 256,      /* maps the model input that feeds it straight, once per data
                                   set (encode, not forward): text with KS_LAYER_TEXT_INPUT
                                   (TextVectorization, StringLookup), else numbers
                                   (IntegerLookup); no other layer may read that input */
    KS_LAYER_ONNX_ENCODED = 512 /* an ENCODE kind whose encoding an ONNX graph takes as its
                                   input (TextVectorization's token ids); ENCODE kinds without
                                   it are refused by the ONNX export */
};

/*
 * What a layer does with masks (Keras's compute_mask).  A mask marks the steps of a
 * sequence to skip: n × (the output's size over its last axis), 1 use and 0 skip.
 * Embedding(mask_zero) makes one; it follows the graph through the layers that keep it
 * and ends at the first that does not (with a warning as Keras gives, unless the
 * layer reads it: KS_LAYER_MASK_USE).
 */
typedef enum ks_mask_mode {
    KS_MASK_DROP,               /* the output has no mask */
    KS_MASK_KEEP,               /* the output carries input 0's mask */
    KS_MASK_MAKE,               /* forward writes the output's mask (ks_fwd.mask_out) */
    KS_MASK_ALL,                /* the inputs' masks and-ed (merge layers) */
    KS_MASK_ANY                 /* or-ed, an input without one counting as all ones
                                   (Concatenate along the features) */
} ks_mask_mode;

/* The mask function of kinds that always keep their input's mask (Dropout, Activation). */
ks_mask_mode ks_mask_keep(const ks_layer *l);

typedef struct ks_layer_ops {
    const char *name;                   /* Keras class name */
    const char *const *aliases;         /* other class names accepted, NULL-terminated or NULL */
    const ks_key *keys;                 /* Keras arguments, stored at the start of state */
    size_t state_size;                  /* the kind's state struct (arguments first) */
    unsigned flags;
    /*
     * n_in and in_shape[] are set: check them, set out_shape, declare weights with
     * ks_layer_add_weight.  A shape that does not fit is KS_ERR_SHAPE with a message.
     */
    ks_status (*build)(ks_layer *l, ks_error *err);
    size_t (*scratch_size)(const ks_layer *l, int batch);       /* floats; may be NULL */
    void (*forward)(ks_layer *l, const ks_fwd *f);
    void (*backward)(ks_layer *l, const ks_bwd *b);
    ks_activation (*activation)(const ks_layer *l);             /* fusable output activation */
    /*
     * ONNX lowering, beside forward: append to g the nodes and initializers that compute
     * the layer at inference from its input tensors in[0 .. n_in), and set *out to the
     * tensor holding its output (a new one named with ks_onnx_layer_name, or in[0] for
     * an identity).  Builder failures stay in g (the exporter checks); return an error
     * only for what the layer cannot express (KS_ERR_CONFIG with a message).  NULL: the
     * kind cannot be exported (a clear error names the layer and its class).
     */
    ks_status (*onnx)(const ks_layer *l, ks_onnx *g, const char *const *in, const char **out,
                      ks_error *err);
    ks_mask_mode (*mask)(const ks_layer *l);    /* NULL: KS_MASK_DROP */
    /* After every weight was filled by its initializer: what a kind adds (LSTM's
       unit_forget_bias).  May be NULL. */
    void (*init_weights)(ks_layer *l);
    /*
     * Data a model input feeds straight into the layer (n rows of in_size[0] floats),
     * checked before training: KS_ERR_CONFIG with a message that starts with the row,
     * "row 12 column 3 holds 2.5; …" (0-based), for values the layer cannot take (an
     * Embedding's token ids).  May be NULL.
     */
    ks_status (*check_input)(const ks_layer *l, const float *x, size_t n, ks_error *err);
    /*
     * KS_LAYER_ENCODE kinds: n rows of in_size[0] values of the input they read straight
     * (rows->text for KS_LAYER_TEXT_INPUT kinds, else rows->data) into out (n × out_size
     * floats).  Runs once per data set bound to the model (fit, evaluate, predict), in
     * place of forward, which these kinds do not have.  Fails for memory, or for a value
     * the layer cannot map (KS_ERR_CONFIG naming its row, 0-based).
     */
    ks_status (*encode)(const ks_layer *l, const ks_array *rows, size_t n, float *out,
                        ks_error *err);
    /*
     * Preprocessing learned from data (Keras's adapt), for kinds a model input feeds
     * straight: adapted says whether the layer has its state (learned, or given as
     * arguments); adapt learns it from the training rows of that input (numbers or text,
     * n rows), into arguments the config keeps (a vocabulary) or weights the model file
     * keeps (a mean and a variance), so that a saved model applies it as trained.
     */
    int (*adapted)(const ks_layer *l);
    ks_status (*adapt)(ks_layer *l, const ks_array *rows, size_t n, ks_error *err);
    /* Whether the layer learns from the training targets of the model output it makes
       rather than from its input (Normalization with invert: target standardization
       undone inside the model).  May be NULL (never). */
    int (*adapt_targets)(const ks_layer *l);
    /* A layer that maps tokens to ids (TextVectorization): the token of id (borrowed; ""
       for padding, "[UNK]"), NULL beyond its vocabulary.  May be NULL. */
    const char *(*token)(const ks_layer *l, size_t id);
} ks_layer_ops;

/*
 * A layer: its kind, arguments, weights and persistent state.  Shapes are those of
 * its first call; every later call (a shared layer) must have the same.
 */
struct ks_layer {
    const ks_layer_ops *ops;
    char name[KS_PATH_MAX];             /* "dense", "encoder/dense" */
    int n_in;
    ks_shape in_shape[KS_MAX_INPUTS];
    const char *in_name[KS_MAX_INPUTS]; /* during build: the inputs' names, for messages */
    ks_shape out_shape;
    size_t in_size[KS_MAX_INPUTS], out_size;
    int n_weights;                      /* declared: past KS_MAX_LAYER_WEIGHTS, a build error */
    ks_weight weights[KS_MAX_LAYER_WEIGHTS];
    ks_weight spare;                    /* what add_weight returns once the table is full */
    void *state;                        /* ops->state_size bytes, arguments first */
    int index;                          /* its place in the model's layers */
    int n_calls;                        /* nodes that call it */
};

/*
 * Declare a weight during build; returns it (views are set after the model is built).
 * Past KS_MAX_LAYER_WEIGHTS the weight is not kept (a spare is returned, so that the
 * caller's writes stay inside the layer) and ks_layer_build fails.
 */
ks_weight *ks_layer_add_weight(ks_layer *l, const char *name, const ks_shape *shape,
                               int trainable, ks_initializer init);
/*
 * Build l for the input shapes in l->in_shape[0, n_in) (set by the caller; m is not read
 * and may be NULL): the kind's build, then the limits: an output too large is
 * KS_ERR_SHAPE, more weights than KS_MAX_LAYER_WEIGHTS KS_ERR_INTERNAL (a layer kind that
 * needs a larger table).
 */
ks_status ks_layer_build(const ks_model *m, ks_layer *l, ks_error *err);

/* An input's element type, as Keras spells it (InputLayer's dtype). */
#define KS_DTYPE_LIST(X) X(FLOAT32, "float32") X(INT32, "int32") X(INT64, "int64") X(STRING, "string")
typedef enum ks_dtype {
#define KS_DTYPE_ENUM(e, name) KS_DTYPE_##e,
    KS_DTYPE_LIST(KS_DTYPE_ENUM)
#undef KS_DTYPE_ENUM
    KS_DTYPE_COUNT
} ks_dtype;
extern const char *const ks_dtype_names[];        /* NULL-terminated, by enum */
/* An InputLayer's dtype (float32 for any other layer). */
ks_dtype ks_input_dtype(const ks_layer *l);
/* Before an InputLayer's build: the lengths given as None (0) from data, of the same rank. */
void ks_input_resolve(ks_layer *l, const ks_shape *data);

/* The registry of layer kinds (layer_registry.c). */
#define KS_LAYER_KINDS_MAX 64
const ks_layer_ops *ks_layer_find(const char *class_name);
extern const ks_layer_ops *const ks_layer_kinds[KS_LAYER_KINDS_MAX + 1];  /* NULL-terminated */
/*
 * The names of the layer kinds for which keep(kind) is true (every kind when keep is NULL),
 * ", "-separated into buf: as many as fit in size bytes (at least 16), then " and N more"
 * for the rest, so that a message naming them is never cut mid-name.  Returns buf.
 */
const char *ks_layer_kind_names(char *buf, size_t size, int (*keep)(const ks_layer_ops *));
/* Keras's default name prefix for a class: Dense → "dense", BatchNormalization → "batch_normalization". */
void ks_layer_default_prefix(const char *class_name, char *out, size_t size);

extern const ks_layer_ops ks_layer_input_ops;
extern const ks_layer_ops ks_layer_dense_ops;
extern const ks_layer_ops ks_layer_activation_ops;
extern const ks_layer_ops ks_layer_dropout_ops;
extern const ks_layer_ops ks_layer_batchnorm_ops;
extern const ks_layer_ops ks_layer_flatten_ops;
extern const ks_layer_ops ks_layer_conv2d_ops;
extern const ks_layer_ops ks_layer_conv1d_ops;
extern const ks_layer_ops ks_layer_depthwise_conv2d_ops;
extern const ks_layer_ops ks_layer_separable_conv2d_ops;
extern const ks_layer_ops ks_layer_max_pooling2d_ops;
extern const ks_layer_ops ks_layer_max_pooling1d_ops;
extern const ks_layer_ops ks_layer_average_pooling2d_ops;
extern const ks_layer_ops ks_layer_average_pooling1d_ops;
extern const ks_layer_ops ks_layer_global_average_pooling2d_ops;
extern const ks_layer_ops ks_layer_global_average_pooling1d_ops;
extern const ks_layer_ops ks_layer_global_max_pooling2d_ops;
extern const ks_layer_ops ks_layer_global_max_pooling1d_ops;
extern const ks_layer_ops ks_layer_zero_padding2d_ops;
extern const ks_layer_ops ks_layer_zero_padding1d_ops;
extern const ks_layer_ops ks_layer_reshape_ops;
extern const ks_layer_ops ks_layer_spatial_dropout2d_ops;
extern const ks_layer_ops ks_layer_spatial_dropout1d_ops;
extern const ks_layer_ops ks_layer_rescaling_ops;
extern const ks_layer_ops ks_layer_random_flip_ops;
extern const ks_layer_ops ks_layer_random_translation_ops;
extern const ks_layer_ops ks_layer_concatenate_ops;
extern const ks_layer_ops ks_layer_add_ops;
extern const ks_layer_ops ks_layer_subtract_ops;
extern const ks_layer_ops ks_layer_multiply_ops;
extern const ks_layer_ops ks_layer_average_ops;
extern const ks_layer_ops ks_layer_maximum_ops;
extern const ks_layer_ops ks_layer_minimum_ops;

extern const ks_layer_ops ks_layer_embedding_ops;
extern const ks_layer_ops ks_layer_simple_rnn_ops;
extern const ks_layer_ops ks_layer_lstm_ops;
extern const ks_layer_ops ks_layer_gru_ops;
extern const ks_layer_ops ks_layer_bidirectional_ops;
extern const ks_layer_ops ks_layer_text_vectorization_ops;
extern const ks_layer_ops ks_layer_normalization_ops;
extern const ks_layer_ops ks_layer_string_lookup_ops;
extern const ks_layer_ops ks_layer_integer_lookup_ops;
extern const ks_layer_ops ks_layer_category_encoding_ops;

/*
 * A growing table of distinct tokens (token_table.c): each token's bytes once, found by
 * hash; with counting set before the first add, per-token counts (count, and docs: rows
 * it occurs in, kept by the caller through last_row).  Zero it to start; ks_tokens_free
 * frees it and leaves it zeroed.
 */
typedef struct ks_tokens {
    size_t n, cap;              /* tokens, slots (a power of two) */
    size_t *slot;               /* token index + 1, 0 when empty */
    size_t *off, *len;          /* each token's bytes in arena (NUL-terminated there) */
    double *count, *docs;       /* counting: occurrences, rows it occurs in */
    size_t *last_row;           /* counting: the last row counted in docs, + 1 */
    char *arena;
    size_t arena_len, arena_cap;
    int counting;
    int numeric;                /* tokens are numbers ("%.17g"): ties sort by value */
} ks_tokens;
void ks_tokens_free(ks_tokens *t);
/* The index of token s[0..n), added when add is set; -1 when absent (or, adding, out of
   memory: *nomem set). */
long ks_tokens_find(ks_tokens *t, const char *s, size_t n, int add, int *nomem);
/* Sort token indices idx[0..n) (tmp: n more) as Keras orders a learned vocabulary: by
   count, most frequent first; ties by the token, the one that sorts last first. */
void ks_tokens_sort(const ks_tokens *t, size_t *idx, size_t *tmp, size_t n);
/* A learned vocabulary: the indices of t's tokens but the special ones (never learned; a
   NULL-terminated list, or NULL), sorted by ks_tokens_sort, the first max of them (*n);
   *out is malloc'd (the caller frees it).  KS_ERR_NOMEM without memory (nothing to free). */
ks_status ks_tokens_ranked(const ks_tokens *t, const char *const *special, size_t max,
                           size_t **out, size_t *n);

/* ------------------------------------------------------- recurrent layers */

typedef enum ks_rnn_cell {
    KS_RNN_SIMPLE,              /* SimpleRNN: h = act(x·W + h·U + b) */
    KS_RNN_LSTM,                /* gates i, f, c, o (Keras's order) */
    KS_RNN_GRU                  /* gates z, r, h; reset_after's two biases */
} ks_rnn_cell;

/* The Keras arguments of SimpleRNN, LSTM and GRU (each kind declares the ones it takes,
   first in its state). */
typedef struct ks_rnn_args {
    int units;
    int activation;             /* ks_activation: tanh */
    int recurrent_activation;   /* sigmoid (LSTM, GRU) */
    int use_bias;
    int kernel_initializer, recurrent_initializer, bias_initializer;
    int unit_forget_bias;       /* LSTM: true */
    ks_value kernel_regularizer, recurrent_regularizer, bias_regularizer;
    double dropout, recurrent_dropout;
    int seed;
    int return_sequences, return_state, go_backwards, stateful, unroll;
    int reset_after;            /* GRU: true */
} ks_rnn_args;

/* The key table entries of those arguments, with Keras's defaults (each kind lists
   the ones it takes, in Keras's get_config order). */
#define KS_RNN_KEY(name, type, field, lo, hi, def, choices, flags) \
    {name, type, offsetof(ks_rnn_args, field), 0, lo, hi, def, choices, flags}
#define KS_RNN_KEY_UNITS KS_RNN_KEY("units", KS_KEY_INT, units, 1, 1e6, NULL, NULL, KS_KEY_REQUIRED)
#define KS_RNN_KEY_ACTIVATION                                                               \
    KS_RNN_KEY("activation", KS_KEY_ENUM, activation, 0, 0, "tanh", ks_activation_names,     \
               KS_KEY_NULLABLE)
#define KS_RNN_KEY_RECURRENT_ACTIVATION                                                     \
    KS_RNN_KEY("recurrent_activation", KS_KEY_ENUM, recurrent_activation, 0, 0, "sigmoid",   \
               ks_activation_names, KS_KEY_NULLABLE)
#define KS_RNN_KEY_USE_BIAS KS_RNN_KEY("use_bias", KS_KEY_BOOL, use_bias, 0, 0, "true", NULL, 0)
#define KS_RNN_KEY_UNIT_FORGET_BIAS                                                         \
    KS_RNN_KEY("unit_forget_bias", KS_KEY_BOOL, unit_forget_bias, 0, 0, "true", NULL, 0)
#define KS_RNN_KEYS_INITIALIZERS                                                            \
    KS_RNN_KEY("kernel_initializer", KS_KEY_ENUM, kernel_initializer, 0, 0, "glorot_uniform", \
               ks_initializer_names, 0),                                                    \
    KS_RNN_KEY("recurrent_initializer", KS_KEY_ENUM, recurrent_initializer, 0, 0,            \
               "orthogonal", ks_initializer_names, 0),                                      \
    KS_RNN_KEY("bias_initializer", KS_KEY_ENUM, bias_initializer, 0, 0, "zeros",             \
               ks_initializer_names, 0)
#define KS_RNN_KEYS_REGULARIZERS                                                            \
    KS_RNN_KEY("kernel_regularizer", KS_KEY_VALUE, kernel_regularizer, 0, 0, NULL, NULL, 0), \
    KS_RNN_KEY("recurrent_regularizer", KS_KEY_VALUE, recurrent_regularizer, 0, 0, NULL,     \
               NULL, 0),                                                                    \
    KS_RNN_KEY("bias_regularizer", KS_KEY_VALUE, bias_regularizer, 0, 0, NULL, NULL,         \
               KS_KEY_HIDDEN)
#define KS_RNN_KEYS_TAIL                                                                    \
    KS_RNN_KEY("dropout", KS_KEY_FLOAT, dropout, 0, 1, "0", NULL, KS_KEY_MAX_EXCL),          \
    KS_RNN_KEY("recurrent_dropout", KS_KEY_FLOAT, recurrent_dropout, 0, 1, "0", NULL,        \
               KS_KEY_MAX_EXCL),                                                            \
    KS_RNN_KEY("seed", KS_KEY_INT, seed, 0, 2147483647, "0", NULL,                           \
               KS_KEY_NULLABLE | KS_KEY_HIDDEN),                                            \
    KS_RNN_KEY("return_sequences", KS_KEY_BOOL, return_sequences, 0, 0, "false", NULL, 0),   \
    KS_RNN_KEY("return_state", KS_KEY_BOOL, return_state, 0, 0, "false", NULL, KS_KEY_HIDDEN), \
    KS_RNN_KEY("go_backwards", KS_KEY_BOOL, go_backwards, 0, 0, "false", NULL, 0),           \
    KS_RNN_KEY("stateful", KS_KEY_BOOL, stateful, 0, 0, "false", NULL, KS_KEY_HIDDEN),       \
    KS_RNN_KEY("unroll", KS_KEY_BOOL, unroll, 0, 0, "false", NULL, KS_KEY_HIDDEN)

/*
 * One recurrent pass over a sequence, as a layer's build sets it up: the cell, its
 * sizes and arguments, and where its weights are among the layer's (kernel (features,
 * gates·units), recurrent_kernel (units, gates·units), bias (gates·units), or (2,
 * 3·units) for GRU's reset_after).  Bidirectional holds two.
 */
typedef struct ks_rnn {
    ks_rnn_cell cell;
    int steps, features, units, gates;  /* T, F, U, G (1, 4, 3) */
    ks_activation act, rec_act;
    int use_bias, unit_forget_bias;
    float dropout, recurrent_dropout;
    int go_backwards, return_sequences;
    int zero_output;            /* masked steps output 0, not the previous output */
    int kernel, recurrent, bias;        /* weight indices in the layer; bias -1 without */
} ks_rnn;

/*
 * Check the input (a sequence (T, F)), declare the weights named prefix + "kernel" …
 * ("lstm_cell/kernel", "forward_lstm/lstm_cell/kernel") with the arguments'
 * initializers and regularizers, and fill r.  what names the layer kind in messages.
 */
ks_status ks_rnn_build(ks_layer *l, const ks_rnn_args *a, ks_rnn_cell cell, const char *prefix,
                       const char *what, ks_rnn *r, ks_error *err);
/* The output shape: (T, U) with return_sequences, else (U). */
ks_shape ks_rnn_output_shape(const ks_rnn *r);
/* Floats of scratch one pass needs for a batch of n rows (forward and backward). */
size_t ks_rnn_scratch_size(const ks_rnn *r, int n);
/*
 * Forward over n sequences x (n × T × F) into y (n × T × U or n × U), steps in
 * processing order (reversed with go_backwards, as Keras returns them); mask (n × T)
 * skips steps: the state goes through unchanged and the output repeats the previous
 * one (or is 0 with zero_output).  Training draws the dropout masks from rng.
 * Everything backward needs stays in scratch.
 */
void ks_rnn_forward(const ks_rnn *r, const ks_layer *l, int n, const float *x,
                    const float *mask, float *y, float *scratch, int training, ks_rng *rng);
/*
 * Backward through time after ks_rnn_forward on the same scratch: dy as y (it may be
 * overwritten); dx (may be NULL) written (dx_beta 0) or added to (1); weight gradients
 * written (grad_beta 0) or added to (1).
 */
void ks_rnn_backward(const ks_rnn *r, ks_layer *l, int n, const float *x, const float *mask,
                     float *dy, float *dx, float dx_beta, float grad_beta, float *scratch);
/*
 * SimpleRNN, LSTM and GRU as layers (layer_rnn.c): one state (the arguments, then the
 * pass) and the ops they share; each kind's file has its key table and its build,
 * which calls ks_rnn_layer_build with its cell.
 */
typedef struct ks_rnn_state {
    ks_rnn_args a;
    ks_rnn r;
} ks_rnn_state;
ks_status ks_rnn_layer_build(ks_layer *l, ks_rnn_cell cell, ks_error *err);
size_t ks_rnn_layer_scratch(const ks_layer *l, int batch);
void ks_rnn_layer_forward(ks_layer *l, const ks_fwd *f);
void ks_rnn_layer_backward(ks_layer *l, const ks_bwd *b);
ks_mask_mode ks_rnn_layer_mask(const ks_layer *l);
void ks_rnn_layer_init_weights(ks_layer *l);
#define KS_RNN_LAYER_OPS                                                                    \
    .state_size = sizeof(ks_rnn_state), .flags = KS_LAYER_MASK_USE | KS_LAYER_RECURRENT,                         \
    .scratch_size = ks_rnn_layer_scratch, .forward = ks_rnn_layer_forward,                  \
    .backward = ks_rnn_layer_backward, .mask = ks_rnn_layer_mask,                           \
    .init_weights = ks_rnn_layer_init_weights, .onnx = ks_rnn_layer_onnx

/*
 * ONNX's RNN, GRU or LSTM node for the passes r[0 .. dirs) of layer l (one, or
 * Bidirectional's forward and backward) over x (N, T, F), in Keras's layout at *out:
 * (N, T, U·…) with return_sequences, else (N, U·…); merge (Bidirectional's merge_mode:
 * 0 concat, 1 sum, 2 mul, 3 ave) combines two directions (onnx_rnn.c).  What ONNX's
 * operators cannot express (other activations, go_backwards with return_sequences, two
 * unlike directions) is KS_ERR_CONFIG naming the layer.
 */
ks_status ks_rnn_onnx(const ks_layer *l, ks_onnx *g, const ks_rnn *const *r, int dirs,
                      int merge, const char *x, const char **out, ks_error *err);
ks_status ks_rnn_layer_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                            const char **out, ks_error *err);

/* LSTM's unit_forget_bias: the forget gate's block of the bias to ones. */
void ks_rnn_init_weights(const ks_rnn *r, ks_layer *l);
/* The mask a recurrent layer passes on: its input's with return_sequences. */
ks_mask_mode ks_rnn_mask(const ks_rnn *r);

/* dst = src (beta 0) or dst += src (beta 1), n floats: a gradient's first or later writer. */
void ks_accumulate(float *restrict dst, const float *restrict src, size_t n, float beta);

/* ------------------------------------------------------------------ losses */

typedef struct ks_loss_args {
    int from_logits;            /* false */
    double delta;               /* huber: 1.0 */
} ks_loss_args;

typedef struct ks_loss_ops {
    const char *name;           /* Keras name: "mse", "sparse_categorical_crossentropy" */
    const char *const *aliases; /* other accepted names, NULL-terminated or NULL */
    int sparse;                 /* targets are class indices */
    ks_activation fuses;        /* output activation it folds in (softmax/sigmoid), or LINEAR */
    /*
     * Per-sample losses of n rows of width k, summed with weights w (NULL = 1):
     * returns Σ w_i·l_i, and if grad is not NULL writes grad = scale·w_i·∂l_i/∂p.
     * logits: p holds pre-activation values of the fused activation.
     */
    double (*eval)(const ks_loss_args *a, const float *p, const float *t, const float *w,
                   int n, int k, int logits, float *grad, float scale);
    /* the targets' domain (not sparse): finite, in [target_min, target_max], and what
       the loss expects, for messages ("targets in [0, 1] (probabilities)"; NULL: any) */
    double target_min, target_max;
    const char *target_text;
} ks_loss_ops;

const ks_loss_ops *ks_loss_find(const char *name);
extern const ks_loss_ops *const ks_loss_kinds[];                /* NULL-terminated */
extern const ks_key ks_loss_keys[];

/* ----------------------------------------------------------------- metrics */

typedef enum ks_metric_kind {
    KS_METRIC_BINARY_ACCURACY,
    KS_METRIC_CATEGORICAL_ACCURACY,
    KS_METRIC_SPARSE_CATEGORICAL_ACCURACY,
    KS_METRIC_MAE,
    KS_METRIC_MSE
} ks_metric_kind;

typedef struct ks_metric {
    char name[KS_LOG_NAME_MAX];     /* as the user wrote it: "accuracy", "mae" */
    char log_name[KS_LOG_NAME_MAX]; /* as logged: "accuracy", or "aux_output_accuracy" when
                                       the model has several outputs */
    ks_metric_kind kind;
    int by_shape;                   /* "accuracy": the kind follows the data's shapes */
    int output;                     /* index of the model output it measures */
} ks_metric;

/* Resolve a metric name given the loss (accuracy → the kind Keras picks). */
ks_status ks_metric_resolve(const char *name, const ks_loss_ops *loss, ks_metric *out,
                            ks_error *err);
/* Pick the accuracy kind Keras picks from the shapes: output width 1 → binary;
   class-index targets → sparse; else categorical. */
void ks_metric_bind(ks_metric *mt, int output_width, int targets_are_labels);
/* Σ w_i·m_i over n rows of k outputs p and tk targets t (tk is k, or 1 for class
   indices, which broadcast over the outputs as Keras does), w NULL = 1; the caller
   divides by Σ w_i. */
double ks_metric_sum(ks_metric_kind kind, const float *p, const float *t, const float *w, int n,
                     int k, int tk);

/* -------------------------------------------------------------- optimizers */

/* Arguments every optimizer takes (first in each optimizer's state). */
typedef struct ks_optimizer_common {
    double learning_rate;
    double clipnorm;            /* 0 = none: clip each weight's gradient to this norm */
    double clipvalue;           /* 0 = none */
    double global_clipnorm;     /* 0 = none */
} ks_optimizer_common;

#define KS_OPTIMIZER_COMMON_KEYS(type, lr_default)                                          \
    {"learning_rate", KS_KEY_FLOAT, offsetof(type, c.learning_rate), 0, 0, INFINITY,        \
     lr_default, NULL, KS_KEY_MIN_EXCL},                                                    \
    {"clipnorm", KS_KEY_FLOAT, offsetof(type, c.clipnorm), 0, 0, INFINITY, "0", NULL,       \
     KS_KEY_NULLABLE | KS_KEY_HIDDEN},                                                      \
    {"clipvalue", KS_KEY_FLOAT, offsetof(type, c.clipvalue), 0, 0, INFINITY, "0", NULL,     \
     KS_KEY_NULLABLE | KS_KEY_HIDDEN},                                                      \
    {"global_clipnorm", KS_KEY_FLOAT, offsetof(type, c.global_clipnorm), 0, 0, INFINITY,    \
     "0", NULL, KS_KEY_NULLABLE | KS_KEY_HIDDEN}

typedef struct ks_optimizer_ops {
    const char *name;           /* Keras class name: "SGD", "Adam" */
    const ks_key *keys;
    size_t args_size;           /* state struct, ks_optimizer_common first */
    int n_slots;                /* per-parameter state arrays (momentum, m, v …) */
    const char *const *slot_names;
    /*
     * Update n parameters w from gradients g at step t (1-based, counting this step),
     * slots[i] are n floats each.  lr is the current learning rate.
     */
    void (*update)(const void *args, double lr, int64_t t, float *w, const float *g,
                   float *const *slots, size_t n);
    /* optional: 1 when the update is exactly w −= lr·g (no state), so it can be fused */
    int (*plain)(const void *args);
} ks_optimizer_ops;

const ks_optimizer_ops *ks_optimizer_find(const char *name);
extern const ks_optimizer_ops *const ks_optimizer_kinds[];      /* NULL-terminated */

/* ------------------------------------------------------------------- model */

#define KS_MAX_NODES 100000         /* calls in a model, sub-model calls expanded */
#define KS_MAX_GRAPHS 64            /* the model and its sub-models */

/*
 * A model's description as the file gives it, after names, repeat and references are
 * resolved: one graph for the model and one per sub-model.  Each entry is one call:
 * of a new layer (LAYER, INPUT), of a layer defined by another entry (SHARED), or of
 * a sub-model (MODEL).  Kept after the build for the config writer and summary().
 */
typedef enum ks_entry_kind {
    KS_ENTRY_INPUT,             /* an InputLayer: a model or sub-model input */
    KS_ENTRY_LAYER,             /* a new layer, called once here */
    KS_ENTRY_SHARED,            /* another call of the layer of entry callee */
    KS_ENTRY_MODEL              /* a call of the sub-model graphs[callee] */
} ks_entry_kind;

typedef struct ks_entry {
    ks_entry_kind kind;
    char name[KS_NAME_MAX];     /* the call's name: what inputs and outputs refer to */
    const ks_layer_ops *ops;    /* INPUT, LAYER */
    int callee;                 /* SHARED: entry index; MODEL: graph index */
    int n_in;
    int inputs[KS_MAX_INPUTS];  /* entry indices in the same graph */
    int implicit;               /* an input made for input_shape or a sub-model's caller */
    int frozen;                 /* trainable: false */
    int used;                   /* reaches an output (else only a definition for SHARED) */
    ks_value args;              /* LAYER, INPUT: the kind's own arguments as given */
    ks_layer *layer;            /* INPUT, LAYER: its layer once made (one for every call) */
    int node;                   /* the model's graph: the node of its output, else -1 */
    const ks_value *src;        /* the file's entry, for messages (NULL after the build) */
} ks_entry;

typedef struct ks_graph {
    char name[KS_NAME_MAX];     /* "" for the model, else the sub-model's name */
    int n, cap;
    ks_entry *e;                /* topological order */
    int n_inputs, inputs[KS_MAX_IO];        /* entry indices */
    int n_outputs, outputs[KS_MAX_IO];      /* entry indices */
    int listed;                 /* written as a plain list (Sequential) */
} ks_graph;

/* How a node runs: what forward and backward do with it. */
typedef enum ks_node_mode {
    KS_NODE_LAYER,              /* the layer's forward and backward */
    KS_NODE_INPUT,              /* a model input: the batch's array */
    KS_NODE_ALIAS,              /* its input's buffers (Flatten): no work */
    KS_NODE_COPY                /* an alias that is a model output: a copy of its input */
} ks_node_mode;

/* A call of a layer: one node of the model's graph, in topological order. */
typedef struct ks_node {
    ks_layer *layer;
    char name[KS_PATH_MAX];     /* the call's name: "dense", "encoder_left/dense" */
    int n_in;
    int inputs[KS_MAX_INPUTS];  /* node indices, all earlier */
    int call;                   /* which call of its layer (0: the first) */
    /* derived once the graph is complete */
    ks_node_mode mode;
    int input_index;            /* INPUT: which model input; else -1 */
    int out_index;              /* a model output: which; else -1 */
    int owner;                  /* node whose buffers it uses (itself, or an alias's source) */
    int consumers;              /* calls that read it */
    int needs_grad;             /* a trainable weight lies in it or upstream */
    int fused;                  /* an output whose loss folds its activation in (compile) */
    float dx_beta[KS_MAX_INPUTS];   /* backward: 0 writes, 1 adds (see ks_bwd) */
    float grad_beta;            /* backward: 0 for the layer's first call in backward order */
    /* masks (model_mask.c) */
    int mask;                   /* the node whose mask buffer goes with this output, or -1 */
    ks_mask_mode mask_mode;     /* what the layer does with masks */
    size_t mask_size;           /* floats per sample of the mask buffer it owns (mask == self) */
} ks_node;

/* A model output: its node, and its loss once compiled. */
typedef struct ks_output {
    int node;
    const char *name;           /* the node's name (borrowed) */
    char loss_log[KS_LOG_NAME_MAX]; /* "<name>_loss", its loss in the logs of a model with
                                       several outputs */
    size_t size;                /* floats per sample */
    const ks_loss_ops *loss;
    ks_loss_args loss_args;
    double loss_weight;         /* loss_weights entry: 1 */
    size_t t_size;              /* target floats per sample (1 for class indices) */
} ks_output;

/* Buffers of one fit/evaluate/predict, sized for a batch; allocated once per call. */
typedef struct ks_workspace {
    int batch;                  /* rows the buffers hold */
    int training;               /* gradient buffers present */
    int targets;                /* target buffers present */
    float *block;               /* the one allocation everything below points into */
    float **buf;                /* per node: its own n × out_size output (NULL: alias/input) */
    const float **out;          /* per node: this batch's output (buf, or the input's) */
    float **dout;               /* per node: dL/dout (NULL: no gradient needed) */
    float **scratch;            /* per node */
    float **mask;               /* per node: the mask it makes or combines, or NULL */
    float *x[KS_MAX_IO];        /* gathered input batches, per model input */
    float *t[KS_MAX_IO];        /* gathered targets, per output */
    float *z[KS_MAX_IO];        /* per output: its pre-activation (fused loss), or NULL */
    float *sw;                  /* gathered sample weights */
    size_t *order;              /* sample order of this epoch */
} ks_workspace;

struct ks_model {
    int n_layers;
    ks_layer **layers;          /* every layer once, in the order of first calls */
    int n_nodes;
    ks_node *nodes;             /* calls, topological order */
    int n_inputs;
    int inputs[KS_MAX_IO];      /* the input nodes, in the model's input order */
    int text_reader[KS_MAX_IO]; /* per input read by a KS_LAYER_ENCODE kind: the node that
                                   encodes it (it runs
                                   as an input node with the encoded floats), else -1 */
    int n_outputs;
    ks_output outputs[KS_MAX_IO];
    int n_graphs;
    ks_graph *graphs;           /* [0] the model, then its sub-models */
    char *warnings;             /* the build's warnings, one per line, or NULL */
    int n_weights;
    ks_weight **weights;        /* into the layers, in build order */
    size_t n_params;
    float *params, *grads;      /* one block each; weights are views */
    uint64_t seed;              /* initialization and default stream seed */
    ks_value meta;              /* free-form metadata saved with the model (a MAP) */

    /* compile */
    int compiled;
    ks_value compile_cfg;       /* normalized compile section */
    int n_metrics;
    ks_metric metrics[KS_MAX_METRICS];
    const ks_optimizer_ops *opt;
    void *opt_args;             /* opt->args_size bytes */
    double lr;
    int64_t iterations;
    float *slots;               /* opt->n_slots × n_params */

    ks_rng *rng;                /* dropout stream, reseeded per epoch */
    ks_workspace ws;
};

/* ks_model_from_config with a bound on the parameter count (a file's size, say):
   a config asking for more is KS_ERR_CONFIG before anything is allocated. */
#define KS_MAX_PARAMS ((size_t)1 << 30)
ks_status ks_model_build(const ks_value *model, const ks_shape *input_shape, uint64_t seed,
                         size_t max_params, ks_model **out, ks_error *err);

/*
 * The model section read into m->graphs (model_graph.c): names, repeat, references,
 * sub-models, dependency order; warnings appended to m->warnings.  input_shape: the
 * data's, for a Sequential list without one (may be NULL).
 */
ks_status ks_graph_parse(ks_model *m, const ks_value *model, const ks_shape *input_shape,
                         ks_error *err);
/* One entry of the file's list, before repeat. */
typedef struct ks_graph_item {
    const ks_value *src;        /* {Class: args} */
    const ks_value *args;       /* the arguments (the map's one member) */
    const ks_value *vname, *vinputs;
    char name[KS_NAME_MAX];     /* the given name, or "" */
    int first, count;           /* its entries: [first, first + count) */
    int resolving;              /* a repeat: 0 item being resolved (alias cycles) */
} ks_graph_item;

/* The state of one graph's parse (model_graph.c, model_graph_refs.c). */
typedef struct ks_graph_parser {
    ks_model *m;
    ks_graph *g;
    int gi;                     /* index of g in m->graphs */
    ks_graph_item *items;
    int n_items;
    ks_error *err;
} ks_graph_parser;

/* model_graph_refs.c: each entry's inputs, each call's layer or sub-model, a list of
   names (inputs: Input entries only) into entry indices, and what item i reads by
   default (i == n_items: the last item's output). */
ks_status ks_graph_resolve_inputs(ks_graph_parser *p);
ks_status ks_graph_resolve_calls(ks_graph_parser *p);
ks_status ks_graph_name_list(ks_graph_parser *p, const ks_value *v, const char *what,
                             int inputs, int *out, int *n);
ks_status ks_graph_resolve_prev(ks_graph_parser *p, int i, int *out);
/* The graph's inputs and outputs from section v (given or by default); layers, its list. */
ks_status ks_graph_resolve_io(ks_graph_parser *p, const ks_value *v, const ks_value *layers);
/* model_graph.c: an entry by name (-1), the nearest name to s, an unknown class or
   callee (KS_ERR_CONFIG with suggestions), the arguments a call may take. */
int ks_graph_find_entry(const ks_graph *g, const char *name);
const char *ks_graph_nearest_entry(const ks_graph_parser *p, const char *s);
ks_status ks_graph_unknown_class(ks_graph_parser *p, const ks_value *args);
ks_status ks_graph_call_args_only(ks_graph_parser *p, const ks_value *args);

void ks_graphs_free(ks_graph *g, int n);
/* Put g's entries in dependency order (the file's where free); a cycle is KS_ERR_CONFIG
   at its first entry (model_graph_order.c). */
ks_status ks_graph_sort(ks_graph *g, ks_error *err);
/* Mark what g's outputs need; warn about each entry they do not, and drop unused inputs. */
void ks_graph_mark_used(ks_model *m, ks_graph *g);
/* Sub-models that call themselves are KS_ERR_CONFIG; one never called, a warning. */
ks_status ks_graph_check_calls(ks_model *m, ks_error *err);
/* Add a warning line at where's position (FILE:LINE:COL: warning: …). */
void ks_model_warn(ks_model *m, const ks_value *where, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Data bound to a model's inputs and outputs by name (fit.c). */
typedef struct ks_bound {
    size_t n;
    const float *x[KS_MAX_IO];  /* per model input (text: its encoding, in owned) */
    size_t x_size[KS_MAX_IO];
    float *owned[KS_MAX_IO];    /* what binding made (text encoded): ks_bound_release frees */
    const float *t[KS_MAX_IO];  /* per model output, or NULL without targets */
    size_t t_size[KS_MAX_IO];
    int t_label[KS_MAX_IO];     /* one class index per sample */
    const float *w;             /* per-sample weights or NULL */
} ks_bound;
/* Bind data to m; need_y: targets too (checked against the compiled losses); what names
   the data in messages ("training"). */
ks_status ks_model_bind(ks_model *m, const ks_data *d, int need_y, const char *what,
                        ks_bound *out, ks_error *err);

/* Rows [begin, end) of bound data (a view: it owns nothing). */
ks_bound ks_bound_slice(const ks_bound *b, size_t begin, size_t end);
/* Free what binding made; b is then empty.  NULL or an empty one is a no-op. */
void ks_bound_release(ks_bound *b);
/* The array of d that feeds model input k (by name, by position when unnamed, or the one
   array of a one-input model); what names the data in the message when there is none. */
ks_status ks_model_input_array(const ks_model *m, const ks_data *d, int k, const char *what,
                               ks_array *out, ks_error *err);
/* The same for the targets of model output k. */
ks_status ks_model_target_array(const ks_model *m, const ks_data *d, int k, const char *what,
                                ks_array *out, ks_error *err);

/*
 * What a model does with its data besides the passes (model_data.c): inputs of dtype
 * string wired to the layer that encodes them (at build; a string input read by any
 * other layer, or a text layer reading numbers, is KS_ERR_SHAPE at the layer's entry);
 * the floats per sample the passes read for input k (the encoding's, for text); and
 * binding one input array: its dtype checked (integral values for int32/int64), text
 * encoded (into b->owned[k]), and the layers that read the input straight check it.
 */
ks_status ks_model_wire_text(ks_model *m, ks_error *err);
size_t ks_model_input_width(const ks_model *m, int k);
ks_status ks_model_bind_input(ks_model *m, int k, const ks_array *a, size_t n, const char *what,
                              ks_bound *b, ks_error *err);
/* The model file's entry of node i, for messages (NULL when it has none, or after build). */
const ks_value *ks_model_node_source(const ks_model *m, int i);

/* Running totals of an epoch or evaluation: losses weighted by batch size, metrics by
   sample (evaluate.c). */
typedef struct ks_totals {
    double loss;
    double out_loss[KS_MAX_IO];
    double metric[KS_MAX_METRICS];
    double count;
} ks_totals;
/* Add a batch of n rows: its loss, per-output losses and the metrics of the outputs of
   the last forward against targets t[k]. */
void ks_totals_add(const ks_model *m, ks_totals *tot, double loss, const double *per_output,
                   const float *const *t, int n);
/* The totals' means into logs, names prefixed ("" or "val_"). */
void ks_totals_logs(const ks_model *m, const ks_totals *tot, const char *prefix, ks_logs *logs);
/*
 * One pass of evaluation over d in order, batch rows at a time, into logs with the
 * prefix; test callbacks run around it.  fp and epoch are the fit's, if any.
 */
ks_status ks_model_run_evaluate(ks_model *m, const ks_bound *d, int batch, const char *prefix,
                                ks_callback *const *cbs, int ncb, const ks_fit_params *fp,
                                int epoch, ks_logs *logs, ks_error *err);

/*
 * Masks along the graph (model_mask.c): for each node, which mask goes with its output
 * (mask_mode, mask, mask_size), with Keras's warning where a layer that cannot take one
 * drops it.  Called once the nodes are wired.
 */
void ks_model_wire_masks(ks_model *m);
/* The mask read with node i's first input in this batch (NULL: none). */
const float *ks_node_input_mask(const ks_model *m, int i);
/* A node that owns a combined mask (KS_MASK_ALL / ANY of several): compute it for n rows. */
void ks_node_combine_masks(ks_model *m, int i, int n);

/* Allocate (or keep, if big enough) the workspace for batch rows; target buffers when
   the model is compiled, gradient buffers with training. */
ks_status ks_model_workspace(ks_model *m, int batch, int training, ks_error *err);
/* Forward over n rows of the inputs x[0..n_inputs-1]; returns the first output. */
const float *ks_model_forward(ks_model *m, const float *const *x, int n, int training);
/* The k-th output of the last forward (n × outputs[k].size). */
const float *ks_model_output(const ks_model *m, int k);
/*
 * Backward over the batch of the last forward, from the output gradients that
 * ks_model_batch_loss left in ws.dout; adds the regularizers' gradients and returns
 * their penalty.  With fuse_sgd (see ks_model_can_fuse_sgd) the weights are updated in
 * place and the optimizer's step counter advanced, instead.
 */
double ks_model_backward(ks_model *m, int n, int fuse_sgd);
/* One optimizer step over all trainable weights, with clipping. */
void ks_model_apply_gradients(ks_model *m);
/*
 * Whether a training step can fuse the optimizer into backward: plain SGD (no
 * momentum, no clipping), no regularizer, every trainable weight in a layer kind that
 * supports it and called once.  Then ks_model_backward(m, n, 1) updates the weights.
 */
int ks_model_can_fuse_sgd(const ks_model *m);
/*
 * The data loss of the last forward's batch, Σ_k w_k·Σ w·l_k / n (no regularization),
 * from targets t[k] per output; per_output (may be NULL) receives each output's
 * unweighted loss.  With grad, also writes the output gradients for ks_model_backward.
 */
double ks_model_batch_loss(ks_model *m, const float *const *t, const float *sw, int n,
                           int grad, double *per_output);
/* The regularization penalty of the current weights. */
double ks_model_penalty(const ks_model *m);

/* -------------------------------------------------------------- model files */

/* The .ksm layout's constants (the layout is documented in model_file.c). */
#define KS_KSM_MAGIC "\x89KSM"
#define KS_KSM_VERSION 2u                       /* what ks_model_save writes */
#define KS_KSM_VERSION_SLOTS 2u                 /* the first version with slot fields */
#define KS_KSM_HAS_CONFIG 1u                    /* flags */
#define KS_KSM_HAS_OPTIMIZER 2u
#define KS_KSM_HEADER 44u                       /* bytes before the config */
#define KS_KSM_MIN_SIZE (KS_KSM_HEADER + 4u)    /* header and checksum */
#define KS_KSM_NAME_MAX 256u                    /* bytes of a tensor or slot name */
#define KS_KSM_MAX_SLOTS 16u                    /* optimizer state arrays per weight */
#define KS_KSM_V1_OPT_PREFIX "optimizer/"       /* version 1's names of optimizer state */

/* ks_le_put, ks_le_get and ks_crc32_update are in ks_util.h (the tracker's and search's
   message wire forms use them too). */

/*
 * How ks_model_save writes its temporary file (model_file.c).  ks_writer_stdio is the
 * real one (fopen/fwrite/fflush+fsync/fclose); tests wrap it to inject I/O faults.
 * Each function returns 0 or an errno value.  close is called once after every
 * successful open, also after a failure.
 */
typedef struct ks_writer {
    int (*open)(void *user, const char *path, void **file);
    int (*write)(void *user, void *file, const void *p, size_t n);     /* all n bytes */
    int (*flush)(void *user, void *file);      /* to stable storage (fflush + fsync) */
    int (*close)(void *user, void *file);
    void *user;
} ks_writer;
extern const ks_writer ks_writer_stdio;
/* ks_model_save through w: write PATH.tmp.<pid>, flush, close, rename; on failure the
   temporary file is removed and nothing changes at path. */
ks_status ks_model_save_with(ks_model *m, const char *path, unsigned flags, int epoch,
                             const ks_writer *w, ks_error *err);

/* --------------------------------------------------------------------- data */

#define KS_ALL_ROWS ((size_t)-1)
/* Resolve *end (KS_ALL_ROWS: rows) and check that [begin, *end) lies within the file's
   rows; the error names path. */
ks_status ks_row_range(const char *path, size_t begin, size_t *end, size_t rows, ks_error *err);

/*
 * Read rows [begin, end) of an array file (end KS_ALL_ROWS: to the last row) as
 * float32 divided by scale.  *shape is the per-row shape, *n the rows read; *out
 * is malloc'd.  Every size in the file is checked before use.
 */
ks_status ks_idx_load(const char *path, size_t begin, size_t end, double scale,
                      ks_shape *shape, size_t *n, float **out, ks_error *err);
ks_status ks_npy_load(const char *path, size_t begin, size_t end, double scale,
                      ks_shape *shape, size_t *n, float **out, ks_error *err);
/*
 * A file read as a stream through zlib (a .gz is inflated, any other file read as it
 * is), a block at a time (data_stream.c): readers check a header before they inflate
 * what it promises.  A failed read (a damaged .gz, an I/O error) sets status and err
 * once; peek then reports the end, and ks_stream_error gives the failure.
 */
#define KS_STREAM_BLOCK ((size_t)1 << 17)
typedef struct ks_stream {
    void *gz;                   /* the zlib file (gzFile) */
    const char *path;           /* borrowed, for messages */
    unsigned char *buf;         /* KS_STREAM_BLOCK bytes */
    size_t pos, len;            /* the unread bytes: buf[pos, len) */
    uint64_t offset;            /* bytes of the file before buf[pos] */
    int eof;                    /* nothing after buf[len) */
    ks_status status;           /* the first failure, KS_OK if none */
    ks_error err;               /* its message */
} ks_stream;

/* Open path (KS_ERR_IO naming it if it cannot be); close frees everything. */
ks_status ks_stream_open(ks_stream *s, const char *path, ks_error *err);
void ks_stream_close(ks_stream *s);
/* Up to n bytes into out (NULL: drop them); *got < n only at the end of the file.
   Returns the stream's failure, if any, with its message in err. */
ks_status ks_stream_read(ks_stream *s, void *out, uint64_t n, uint64_t *got, ks_error *err);
/* The stream's failure (KS_OK if none), its message copied into err. */
ks_status ks_stream_error(const ks_stream *s, ks_error *err);
/* The byte k (< KS_STREAM_BLOCK) after the position, or -1 at the end (or after a failure). */
int ks_stream_fill(ks_stream *s, size_t k);
static inline int ks_stream_peek(ks_stream *s, size_t k)
{
    return s->pos + k < s->len ? s->buf[s->pos + k] : ks_stream_fill(s, k);
}
/* Step over n bytes that peek has shown. */
static inline void ks_stream_skip(ks_stream *s, size_t n)
{
    s->pos += n;
    s->offset += n;
}

/*
 * An array's body after its header (IDX, NPY): rows of row_elems elements of esize
 * bytes.  ks_stream_array converts rows [begin, end) (checked against rows already)
 * with convert into *out (malloc'd, grown as the data arrives, never by what the
 * header claims), drops the other rows, and checks that the file ends right after the
 * last row: a shorter or longer file is KS_ERR_CORRUPT; a non-finite value is
 * KS_ERR_PARSE (bad input) naming its row and column (0-based, the row flattened).
 */
typedef struct ks_array_body {
    uint64_t rows, row_elems;
    size_t esize;
    uint64_t header_bytes;      /* bytes before the body, for messages */
    uint64_t begin, end;        /* rows to keep */
    double scale;               /* divide by it */
    /* convert count elements at p, divided by scale, into out; returns the index of the
       first that is not finite in float32, or count */
    size_t (*convert)(const unsigned char *p, size_t count, const void *type, double scale,
                      float *out);
    const void *type;           /* the convert function's element type */
} ks_array_body;
ks_status ks_stream_array(ks_stream *s, const ks_array_body *a, float **out, ks_error *err);

/*
 * Read a whole file whose header holds its own size (a u64, little-endian, at size_at,
 * after 4 bytes of magic): the header first, then only the bytes it promises (a longer
 * file is KS_ERR_CORRUPT after one byte more).  A file without the magic, or shorter
 * than its header, is returned as it is for its reader to name.  *out is malloc'd.
 */
ks_status ks_read_file_sized(const char *path, const char *magic, size_t size_at,
                             unsigned char **out, size_t *len, ks_error *err);

/* An owned data set: the view and the arrays behind it. */
struct ks_dataset {
    ks_data d;
    float *x, *y, *w;                   /* owned (the single-array form) */
    float *arrays[2 * KS_MAX_IO];       /* owned named arrays: inputs, then targets */
    char names[2 * KS_MAX_IO][KS_NAME_MAX];     /* their names (the view points here) */
    const char **texts[2 * KS_MAX_IO];  /* owned: a text array's n × size pointers … */
    char *text;                         /* … into this block of every text cell (owned) */
};

/* A data entry's named form: inputs and targets maps over the arrays of its source. */
typedef struct ks_data_source {
    const ks_value *spec;               /* the entry, for messages */
    const ks_value *idx, *npy;          /* the source, when of that kind */
    const char *csv;                    /* the CSV file (already joined to base), or NULL */
    const ks_value *inputs, *targets;   /* the maps; NULL when not given */
    const char *base;                   /* directory of relative paths */
    size_t begin, end;                  /* rows (end KS_ALL_ROWS: to the last) */
    double scale;                       /* the inputs' default divisor */
    char delimiter;
    const char *const *text;            /* CSV columns read as text, NULL-terminated, or NULL */
    int text_auto;                      /* text: true */
    const ks_value *text_value;         /* the entry's text, for messages */
} ks_data_source;
ks_status ks_dataset_load_named(ks_dataset *ds, const ks_data_source *src, ks_error *err);
/* path under base (an absolute path as it is) into out. */
void ks_data_join_path(const char *base, const char *path, char *out, size_t size);
/* Re-point a file reader's error at the study entry where, keeping the file in the message. */
ks_status ks_data_at_value(ks_error *err, ks_status s, const ks_value *where);
/* The files of an IDX prefix (a STRING value): PREFIX-images-idx3-ubyte[.gz] and
   PREFIX-labels-idx1-ubyte[.gz]; no images is KS_ERR_IO at the value. */
ks_status ks_idx_prefix_paths(const ks_value *prefix_value, const char *base, char *images,
                              char *labels, size_t size, ks_error *err);

/*
 * Finish a target array of n rows whose data *owned holds (a->data == *owned): one
 * column of integral values >= 0 is class indices (is_label, n_classes); one_hot turns
 * them into num_classes columns (0: 1 + the largest), replacing *owned; num_classes
 * alone is checked against them.  Errors at where.
 */
ks_status ks_target_finish(float **owned, ks_array *a, size_t n, int one_hot, int num_classes,
                           const ks_value *where, ks_error *err);

/* CSV with a header: the target columns by name become y, the rest x. */
typedef struct ks_csv_options {
    const char *const *targets;     /* column names, NULL-terminated */
    char delimiter;                 /* ',' */
    const char *const *text;        /* ks_csv_load_table: columns read as text, NULL-terminated */
    int text_auto;                  /* … and every column with a cell that is not a number */
    const char *const *used;        /* ks_csv_load_table: when not NULL, the columns read
                                       (NULL-terminated); any other is kept as text, whatever
                                       it holds */
} ks_csv_options;
ks_status ks_csv_load(const char *path, const ks_csv_options *opt, size_t begin, size_t end,
                      double scale, size_t *n, size_t *x_cols, float **x, size_t *y_cols,
                      float **y, ks_error *err);
/* Every column of a CSV file's rows, as read. */
typedef struct ks_csv_table {
    size_t n, cols;
    float *data;                    /* n × cols, row-major; 0 in text columns */
    char **names;                   /* the header's cols names, NULL-terminated */
    unsigned char *is_text;         /* per column */
    char *text;                     /* every text cell (UTF-8), NUL-terminated, in one block */
    size_t *cell;                   /* n × cols: each text cell's offset in text */
} ks_csv_table;
/* Rows [begin, end) of a CSV file (opt: delimiter and text columns; targets unused).  A
   text column the header does not name is KS_ERR_CONFIG with the nearest name. */
ks_status ks_csv_load_table(const char *path, const ks_csv_options *opt, size_t begin,
                            size_t end, ks_csv_table *out, ks_error *err);
void ks_csv_table_free(ks_csv_table *t);

/* ---------------------------------------------------------------- callbacks */

/* The event a callback list is called for: the offset of its function pointer. */
#define KS_CB_EVENT(fn) offsetof(ks_callback, fn)

/*
 * Call event on every callback that has it, in order.  Returns KS_OK, KS_STOPPED if
 * any asked to stop (all are still called), or the first error (filling err with
 * the callback's name and message; later callbacks are not called).
 */
ks_status ks_callbacks_call(ks_callback *const *cbs, int n, size_t event,
                            const ks_callback_ctx *ctx, ks_error *err);
/* Logs that lost entries for want of room (l->dropped) are an error, whoever set them:
   KS_ERR_CONFIG naming KS_LOGS_MAX; KS_OK otherwise. */
ks_status ks_logs_room(const ks_logs *l, ks_error *err);
/* Whether any callback in the list handles event. */
int ks_callbacks_have(ks_callback *const *cbs, int n, size_t event);
/* Allocate a callback with user state of size bytes (zeroed) owned by it. */
ks_callback *ks_callback_alloc(const char *name, size_t user_size);

/* Print a log value as Keras does: 4 decimals, or scientific when |v| <= 1e-3. */
void ks_format_log_value(double v, char *buf, size_t size);

/* The built-in callbacks from their Keras arguments (callback_*.c). */
ks_status ks_early_stopping_from_config(const ks_value *args, ks_callback **out, ks_error *err);
ks_status ks_model_checkpoint_from_config(const ks_value *args, ks_callback **out,
                                          ks_error *err);
ks_status ks_reduce_lr_on_plateau_from_config(const ks_value *args, ks_callback **out,
                                              ks_error *err);
ks_status ks_terminate_on_nan_from_config(const ks_value *args, ks_callback **out,
                                          ks_error *err);
ks_status ks_csv_logger_from_config(const ks_value *args, ks_callback **out, ks_error *err);

/* Append the logs' names to the string in buf (sep between names), as Keras lists the
   available metrics in its warnings. */
void ks_logs_names(const ks_logs *l, const char *sep, char *buf, size_t size);

/* What they share (callback_registry.c). */
extern const char *const ks_monitor_mode_names[];       /* by KS_MODE_*, NULL-terminated */
/* Whether mode (KS_MODE_*) maximizes monitor; auto: the name contains "acc" or "auc". */
int ks_monitor_is_max(int mode, const char *monitor);
/* The stream callback messages go to: the fit's out, else stdout. */
FILE *ks_callback_stream(const ks_callback_ctx *ctx);
/* Print one message line; after_bar: first end a progress bar drawn in place. */
void ks_callback_print(const ks_callback_ctx *ctx, int after_bar, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Python's repr(v) (precision < 0), or format(v, ".<precision>"). */
void ks_format_float_py(double v, int precision, char *buf, size_t size);
/*
 * ModelCheckpoint's filepath: tmpl formatted as Python's str.format(epoch=epoch + 1,
 * batch=batch + 1, **logs) (epoch and batch 0-based; batch < 0: no {batch} field).
 * logs NULL checks the template only (every log key accepted).  A bad template or a
 * missing key is KS_ERR_CONFIG; a result that does not fit in size also.
 */
ks_status ks_format_filepath(const char *tmpl, int epoch, int batch, const ks_logs *logs,
                             char *out, size_t size, ks_error *err);

/* ------------------------------------------------------------- ensembles */

/* Keras's epsilon (backend.epsilon()): probabilities are clipped to it before logs. */
#define KS_EPSILON 1e-7

/* ------------------------------------------------------------ ONNX graphs */

/*
 * The builder behind the ONNX export (onnx_graph.c): a graph of nodes (op type, input
 * and output tensor names, attributes), initializers (constant tensors: weights
 * borrowed from the model, or data the graph owns), named graph inputs and outputs
 * (float, with a symbolic batch dimension "N"), and metadata; ks_onnx_encode writes
 * it as a ModelProto (opset KS_ONNX_OPSET, IR version KS_ONNX_IR_VERSION) after
 * checking that every tensor name is defined once and every input is defined.
 *
 * Errors are sticky: the first failure (no memory, a NULL name from an earlier failed
 * call) is kept and every later call is a no-op returning NULL or -1, so that a
 * lowering writes straight-line code and the exporter checks ks_onnx_status once per
 * layer.  Strings passed in are copied; every name returned is owned by the graph and
 * valid until ks_onnx_free.  Borrowed weight data must outlive ks_onnx_encode.
 */
typedef enum ks_onnx_dtype {
    KS_ONNX_FLOAT = 1,          /* TensorProto.DataType FLOAT */
    KS_ONNX_INT32 = 6,          /* INT32: Cast's "to" only (no initializer, input or output) */
    KS_ONNX_INT64 = 7,          /* INT64 */
    KS_ONNX_BOOL = 9            /* BOOL: Cast's "to" only */
} ks_onnx_dtype;

ks_status ks_onnx_new(ks_onnx **out);
void ks_onnx_free(ks_onnx *g);
/* KS_OK, or the first failure of a builder call. */
ks_status ks_onnx_status(const ks_onnx *g);
/* What the names of layers' tensors and weights start with from now on (copied):
   "" for a model, "m0/", "m1/" … for an ensemble's members. */
void ks_onnx_set_prefix(ks_onnx *g, const char *prefix);

/* A name formatted with printf's rules, or NULL after a failure. */
const char *ks_onnx_name(ks_onnx *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The call the next lowerings are for (its node's name, copied; NULL: the layer's). */
void ks_onnx_set_call(ks_onnx *g, const char *call);
/* prefix + the call's name (else the layer's) + suffix: "dense_1:0", "m0/dense/linear:0",
   "left/dense:0".  Call names are unique in a model; ks_onnx_encode refuses the graph if
   two tensors still collide. */
const char *ks_onnx_layer_name(ks_onnx *g, const ks_layer *l, const char *suffix);

/*
 * Masks at inference (Embedding(mask_zero)'s, along the graph as ks_model_wire_masks
 * wires them): a float tensor (N, steps…) of 1 (use the step) and 0 (skip it), as
 * ks_fwd.mask.  Before each lowering the exporter sets the mask of the call's first
 * input for kinds that read one (KS_LAYER_MASK_USE; NULL for the others, or without a
 * mask) and clears the output mask; a KS_MASK_MAKE kind's lowering declares the tensor
 * of the mask it makes, which the exporter carries on to the layers after it.  Names
 * are copied.
 */
void ks_onnx_set_input_mask(ks_onnx *g, const char *mask);
const char *ks_onnx_input_mask(const ks_onnx *g);
void ks_onnx_set_output_mask(ks_onnx *g, const char *mask);
const char *ks_onnx_output_mask(const ks_onnx *g);

/*
 * Append a node op(in[0 .. n_in)) → out[0 .. n_out) and return its index for the
 * attribute calls, or -1 after a failure.  An empty name is an omitted optional input
 * or output, as ONNX spells it.  The node is named after its first output.
 */
int ks_onnx_node(ks_onnx *g, const char *op, const char *const *in, int n_in,
                 const char *const *out, int n_out);
/* A one-input, one-output node; returns out (the graph's copy) or NULL. */
const char *ks_onnx_node1(ks_onnx *g, const char *op, const char *in, const char *out);
/* A node op(a, b) → out; returns its index, or -1. */
int ks_onnx_node2(ks_onnx *g, const char *op, const char *a, const char *b, const char *out);
/* Attributes of node (an index from ks_onnx_node; -1 is ignored), written in call order. */
void ks_onnx_attr_int(ks_onnx *g, int node, const char *name, int64_t v);
void ks_onnx_attr_float(ks_onnx *g, int node, const char *name, float v);
void ks_onnx_attr_string(ks_onnx *g, int node, const char *name, const char *v);
void ks_onnx_attr_ints(ks_onnx *g, int node, const char *name, const int64_t *v, int n);

/* The layer's weight w as an initializer named prefix + its name ("dense/kernel"),
   with the weight's shape, its data borrowed (once: a shared layer's calls read the
   same initializer); returns the name or NULL. */
const char *ks_onnx_weight(ks_onnx *g, const ks_layer *l, int w);
/* prefix + the name of the layer's weight w ("conv2d/kernel"), whichever call lowers it:
   for an initializer made from the weight (a transposed kernel), once per layer; and
   whether an initializer of a name is in the graph already. */
const char *ks_onnx_weight_name(ks_onnx *g, const ks_layer *l, int w);
int ks_onnx_has_init(const ks_onnx *g, const char *name);
/* An initializer of dims[0 .. ndim) (ndim 0: a scalar) whose data the graph owns: returns
   the elements to fill (uninitialized), or NULL.  For transposed or reordered weights. */
float *ks_onnx_init_float(ks_onnx *g, const char *name, int ndim, const int64_t *dims);
int64_t *ks_onnx_init_int64(ks_onnx *g, const char *name, int ndim, const int64_t *dims);
/* Filled initializers: every element value; a 1-d int64 shape (Reshape's).  They
   return the initializer's name, or NULL. */
const char *ks_onnx_const_float(ks_onnx *g, const char *name, int ndim, const int64_t *dims,
                                float value);
const char *ks_onnx_const_shape(ks_onnx *g, const char *name, const int64_t *v, int n);

/* Declare a graph input or output: elem type, [N, shape…] with N symbolic. */
void ks_onnx_input(ks_onnx *g, const char *name, ks_onnx_dtype elem, const ks_shape *shape);
void ks_onnx_output(ks_onnx *g, const char *name, ks_onnx_dtype elem, const ks_shape *shape);
/* Rename tensor from, made by a node, to to, in that node and every node that reads it:
   1 if done, 0 if no node makes from (a graph input or initializer: use an Identity). */
int ks_onnx_rename(ks_onnx *g, const char *from, const char *to);
/* A metadata_props entry of the model. */
void ks_onnx_meta(ks_onnx *g, const char *key, const char *value);

/*
 * The serialized ModelProto with graph name graph_name; *out is malloc'd.  Two tensors
 * of the same name are KS_ERR_CONFIG ("rename the layer whose name makes it"), a
 * tensor read but never defined is KS_ERR_INTERNAL, a builder failure its status.
 */
ks_status ks_onnx_encode(const ks_onnx *g, const char *graph_name, unsigned char **out,
                         size_t *len, ks_error *err);

/*
 * Activation a applied to tensor x as ONNX nodes (onnx_export.c), for every layer kind
 * with an activation: *y is the result, out (a name the graph owns, from ks_onnx_name
 * or ks_onnx_layer_name), or x itself for linear; NULL after a builder failure.  An
 * activation without an ONNX equivalent is KS_ERR_CONFIG.
 */
ks_status ks_onnx_activation(ks_onnx *g, ks_activation a, const char *x, const char *out,
                             const char **y, ks_error *err);

/* ----------------------------------------------------------------- kernels */

/* C = alpha·op(A)·op(B) + beta·C, row-major, through cblas_sgemm. */
void ks_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
             int lda, const float *b, int ldb, float beta, float *c, int ldc);
/* out[j] = beta·out[j] + alpha·Σ_i x[i·cols + j] (column sums of an n × cols matrix). */
void ks_col_sums(const float *restrict x, int n, int cols, float beta, float *restrict out,
                 float alpha);
/* y[i·cols + j] += b[j] */
void ks_add_row(float *restrict y, const float *restrict b, int n, int cols);

/* ------------------------------------------------------ convolution kernels */

/*
 * A sliding window over channels-last images (kernels_conv.c): a batch is n × h × w × c
 * floats; 1-D layers use h = 1 with a window of one row.  Positions outside the input
 * (padding) read as zeros for convolutions and are skipped by pooling.
 */
typedef struct ks_window {
    int h, w, c;                /* input rows, columns, channels */
    int kh, kw;                 /* window */
    int sh, sw;                 /* strides */
    int dh, dw;                 /* dilation */
    int pt, pl;                 /* padding before (top, left); after: what the output needs */
    int oh, ow;                 /* output rows, columns */
} ks_window;

/* Keras's padding values, by index: valid, same, causal (Conv1D only). */
enum { KS_PAD_VALID, KS_PAD_SAME, KS_PAD_CAUSAL };
extern const char *const ks_padding_names[];       /* NULL-terminated */

/*
 * Set g for an h × w × c input and a window k (rows, cols), strides s and dilation d,
 * padded as TensorFlow pads: same gives ceil(in / s) outputs and puts the odd padding
 * after (bottom/right); causal pads (k − 1)·d before.  Returns 0 when the output would
 * be empty (a window larger than a valid-padded input).
 */
int ks_window_init(ks_window *g, int h, int w, int c, const int k[2], const int s[2],
                   const int d[2], int padding);
/* 1 × 1, stride 1, no padding: the columns of im2col are the input itself. */
int ks_window_is_pointwise(const ks_window *g);

/* cols (n·oh·ow rows of kh·kw·c floats, a patch in (row, col, channel) order) = im2col(x). */
void ks_im2col(const ks_window *g, int n, const float *restrict x, float *restrict cols);
/* dx = the sum of every patch of dcols back at its input positions, added to dx's old
   contents when beta is 1 (0: overwritten; old contents never read). */
void ks_col2im(const ks_window *g, int n, const float *restrict dcols, float *restrict dx,
               float beta);

/*
 * Depthwise convolution, kernel w of shape (kh, kw, c, dm): y (n·oh·ow × c·dm) = the
 * convolution of each channel with its dm filters, output channel c·dm + m.  backward:
 * dw = beta·dw + ∂L/∂w, and dx = dx_beta·dx + ∂L/∂x unless dx is NULL (a beta of 0
 * overwrites without reading).
 */
void ks_depthwise_forward(const ks_window *g, int dm, int n, const float *restrict x,
                          const float *restrict w, float *restrict y);
void ks_depthwise_backward(const ks_window *g, int dm, int n, const float *restrict x,
                           const float *restrict w, const float *restrict dy,
                           float *restrict dx, float dx_beta, float *restrict dw, float beta);

/*
 * Pooling over each channel.  Max pooling records in arg (one per output) where each
 * maximum came from, as an offset within its sample; the first maximum in window order
 * wins.  Average pooling divides by the positions inside the input (padding is not
 * counted, as TensorFlow).  The backward functions overwrite dx (beta 0: old contents
 * never read) or add to it (beta 1).
 */
void ks_maxpool_forward(const ks_window *g, int n, const float *restrict x, float *restrict y,
                        int32_t *restrict arg);
void ks_maxpool_backward(const ks_window *g, int n, const float *restrict dy,
                         const int32_t *restrict arg, float *restrict dx, float beta);
void ks_avgpool_forward(const ks_window *g, int n, const float *restrict x, float *restrict y);
void ks_avgpool_backward(const ks_window *g, int n, const float *restrict dy,
                         float *restrict dx, float beta);

/* What the convolution and pooling layers share (layer_window.c). */
extern const char *const ks_data_format_names[];    /* channels_last, channels_first */
#define KS_DATA_FORMAT_KEY(type)                                                            \
    {"data_format", KS_KEY_ENUM, offsetof(type, data_format), 0, 0, 0, "channels_last",     \
     ks_data_format_names, KS_KEY_NULLABLE | KS_KEY_HIDDEN}
/*
 * Check l's input for a layer over rank spatial axes (1: sequences (steps, channels),
 * 2: images (rows, cols, channels)) and its data_format (channels_first is refused).
 */
ks_status ks_layer_check_input(const ks_layer *l, int rank, int data_format, ks_error *err);
/*
 * The window of a layer of rank 1 or 2 over its (checked) input: k, s, d hold rank
 * values (window, strides, dilation); what names the window's argument in messages
 * ("kernel_size", "pool_size").  A window that does not fit is KS_ERR_SHAPE naming it
 * and the input shape; strides and dilation both > 1 is KS_ERR_CONFIG, as Keras.
 */
ks_status ks_layer_window(const ks_layer *l, int rank, const char *what, const int *k,
                          const int *s, const int *d, int padding, ks_window *g, ks_error *err);
/* An image layer's input, checked (rows, cols, channels into dims); the output keeps its
   shape (RandomFlip, RandomTranslation). */
ks_status ks_layer_image_input(ks_layer *l, int data_format, int dims[3], ks_error *err);
/* Keras's seed argument of the random layers: accepted, not used (draws come from the
   model's stream, so that a study stays reproducible). */
#define KS_SEED_KEY(type)                                                                    \
    {"seed", KS_KEY_INT, offsetof(type, seed), 0, 0, 2147483647, "0", NULL,                  \
     KS_KEY_NULLABLE | KS_KEY_HIDDEN}
/* The output shape of a window layer: (oh, ow, channels), or (ow, channels) for rank 1. */
void ks_window_out_shape(const ks_window *g, int rank, int channels, ks_shape *out);
/* y += bias (per column; bias may be NULL), z = y if z is not NULL, then y = act(y). */
void ks_bias_act(float *restrict y, const float *restrict bias, float *restrict z,
                 ks_activation act, int rows, int cols);
/* w −= lr·g: plain SGD for layers that fuse it after computing g. */
void ks_sgd_step(float *restrict w, const float *restrict g, size_t n, float lr);

/*
 * The convolution and pooling layers' lowering (onnx_conv.c).  The graph keeps Keras's
 * channels-last tensors; a layer of rank 1 or 2 (spatial axes) moves its input to
 * ONNX's channels-first layout (NCW, NCHW) and its result back.  The window attributes
 * are kernel_shape, strides, pads (TensorFlow's: the odd one after) and, with
 * dilations, dilations.  ks_onnx_conv_kernel gives weight w of l, a Keras kernel
 * (k…, in, out), as an initializer of ONNX's (out, in, k…); depthwise: (k…, C, dm) as
 * (C·dm, 1, k…) for a Conv of group C.  Each returns the new tensor's name, NULL after a
 * builder failure.
 */
const char *ks_onnx_to_channels_first(ks_onnx *g, const ks_layer *l, const char *x, int rank);
const char *ks_onnx_to_channels_last(ks_onnx *g, const char *y, const char *out, int rank);
void ks_onnx_window_attrs(ks_onnx *g, int node, const ks_window *w, int rank, int dilations);
const char *ks_onnx_conv_kernel(ks_onnx *g, const ks_layer *l, int w, int depthwise);
/* The lowering of a layer that is the identity at inference (SpatialDropout, the random
   augmentation layers): its output is its input tensor. */
ks_status ks_onnx_identity(const ks_layer *l, ks_onnx *g, const char *const *in,
                           const char **out, ks_error *err);

#endif
