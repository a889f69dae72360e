/*
 * engine.h — the public interface of ksearch's training engine: Keras-style models
 * (a graph of layers), fit / evaluate / predict, callbacks, model files and data sets.
 * The engine knows nothing of studies, SQLite, YAML or threads.  The utilities every
 * module shares (atomic files, CSV fields, hashes, the clock, the protobuf writer) are
 * not part of this interface: they are in ks_util.h.
 *
 * Ownership: functions named _new, _load, _clone, _from_* return an object the caller
 * frees with the matching _free (every _free accepts NULL).  Getters return borrowed
 * pointers, valid until the next call that changes the object.  Fallible functions
 * return a ks_status and fill the caller's ks_error (which may be NULL).
 */
#ifndef KS_ENGINE_H
#define KS_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ks_status.h"

/* ---------------------------------------------------------------- values */

/*
 * A configuration tree (what a YAML or JSON document holds): the layer list of a
 * model, a layer's arguments, a callback's arguments.  Scalars that read as numbers
 * are NUMBER, true/false are BOOL, null/~ is NULL, anything else is STRING.  Every
 * node remembers where it came from, so that errors can say FILE:LINE:COL.
 */
typedef enum ks_value_kind {
    KS_VALUE_NULL,
    KS_VALUE_BOOL,
    KS_VALUE_NUMBER,
    KS_VALUE_STRING,
    KS_VALUE_LIST,
    KS_VALUE_MAP
} ks_value_kind;

typedef struct ks_value {
    ks_value_kind kind;
    int boolean;                /* BOOL */
    double number;              /* NUMBER */
    char *string;               /* STRING (owned); for NUMBER the source text, or NULL */
    struct ks_value *items;     /* LIST and MAP members (owned array) */
    size_t n, cap;              /* member count, capacity */
    char *key;                  /* this node's key when it is a MAP member (owned) */
    const char *file;           /* source name, borrowed: whoever parsed the document keeps it
                                   alive as long as the values (clones share it); NULL if made in code */
    int line, col;              /* 1-based position of the value, 0 if made in code */
    int key_line, key_col;      /* position of key, for MAP members */
} ks_value;

void ks_value_init(ks_value *v, ks_value_kind kind);
void ks_value_free(ks_value *v);                     /* frees members; v itself is the caller's */
ks_status ks_value_clone(const ks_value *src, ks_value *dst);
ks_status ks_value_set_string(ks_value *v, const char *s);    /* v becomes STRING */
/* Append a member to a LIST, or a MAP member under key; returns it, NULL on no memory. */
ks_value *ks_value_push(ks_value *list, ks_value_kind kind);
ks_value *ks_value_put(ks_value *map, const char *key, ks_value_kind kind);
/* Forget where v came from (file, line, col), recursively: for trees that outlive it. */
void ks_value_forget_source(ks_value *v);
/* Put a deep copy of src into map under key (src's own key, if any, is not kept). */
ks_status ks_value_put_copy(ks_value *map, const char *key, const ks_value *src);
ks_value *ks_value_get(const ks_value *map, const char *key);       /* NULL if absent */
int ks_value_equal(const ks_value *a, const ks_value *b);
const char *ks_value_kind_name(ks_value_kind k);                   /* "a number", "a map" … */
/* A short rendering of a scalar for messages: 3, "fast", true, a map, a list. */
const char *ks_value_describe(const ks_value *v, char *buf, int size);

/* JSON text: write (compact, keys in order) and parse (positions from 1:1). */
ks_status ks_value_to_json(const ks_value *v, char **out, size_t *len);   /* *out: malloc'd */
ks_status ks_value_from_json(const char *text, size_t len, const char *source, ks_value *out,
                             ks_error *err);

/* Error at a value's position ("file:line:col: message"). */
ks_status ks_error_at(ks_error *err, ks_status code, const ks_value *where, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
ks_status ks_error_at_key(ks_error *err, ks_status code, const ks_value *member,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ----------------------------------------------------------- key tables */

/*
 * Declared configuration keys: a table of these describes the arguments of a layer,
 * optimizer or callback, and ks_keys_read validates a MAP against it — type, range,
 * unknown keys (with the nearest valid key suggested), required keys — and stores
 * each value at its offset in a C struct.  ks_keys_write does the reverse.
 */
typedef enum ks_key_type {
    KS_KEY_INT,         /* int; min/max inclusive bounds */
    KS_KEY_FLOAT,       /* double; min/max, see KS_KEY_MIN_EXCL */
    KS_KEY_BOOL,        /* int 0/1 */
    KS_KEY_STRING,      /* char[size] */
    KS_KEY_ENUM,        /* int index into choices (NULL-terminated); a choice spelled "null"
                           is what a null value selects (Keras's None), and is written as null */
    KS_KEY_SHAPE,       /* ks_shape from a list of positive ints */
    KS_KEY_VALUE,       /* ks_value deep copy (owned by the struct; ks_keys_free frees) */
    KS_KEY_INTS,        /* ks_shape of integers, each within min/max: one integer for all of
                           size axes or a list of size integers (Keras's int-or-tuple, e.g.
                           kernel_size); size 0: a list of 1 to KS_MAX_DIMS integers */
    KS_KEY_RANGE        /* double[2], Keras's factor: a number f for [−|f|, |f|] or a list
                           [lower, upper] (sorted), each within min/max */
} ks_key_type;

enum {
    KS_KEY_REQUIRED = 1,      /* no default: must be given */
    KS_KEY_MIN_EXCL = 2,      /* value must be > min, not >= */
    KS_KEY_NULLABLE = 4,      /* null allowed: stores the default (e.g. None → 0 for ints); an
                                 int at a default below min is written back as null */
    KS_KEY_HIDDEN = 8,        /* not written by ks_keys_write when equal to default */
    KS_KEY_MAX_EXCL = 16,     /* value must be < max, not <= */
    KS_KEY_NONE_DIMS = 32,    /* SHAPE: null entries (Keras's None) are stored as 0 */
    KS_KEY_PAIRS = 64         /* KS_KEY_INTS: each axis may also be a pair [before, after];
                                 stored as 2·size integers (before, after per axis) */
};

typedef struct ks_key {
    const char *name;           /* Keras argument name */
    ks_key_type type;
    size_t offset;              /* offsetof(args struct, field) */
    size_t size;                /* for STRING: the char array's size; for INTS: the axes */
    double min, max;            /* for INT, FLOAT, INTS and RANGE */
    const char *def;            /* default as text ("0.01", "auto", "true"); NULL if required */
    const char *const *choices; /* for ENUM */
    unsigned flags;
} ks_key;

/* Fill a struct with the defaults of every key. */
void ks_keys_defaults(const ks_key *keys, void *out);
/*
 * Read map (NULL or a null value means "no arguments") into out, which must first
 * hold the defaults.  what names the owner in messages ("Dense", "EarlyStopping").
 */
ks_status ks_keys_read(const ks_key *keys, const ks_value *map, const char *what, void *out,
                       ks_error *err);
/* Write every key of the struct into map (a MAP), for configs that round-trip. */
ks_status ks_keys_write(const ks_key *keys, const void *in, ks_value *map);
void ks_keys_free(const ks_key *keys, void *in);       /* frees KS_KEY_VALUE fields */
/* Nearest of names (NULL-terminated) to s by edit distance, or NULL if none is close. */
const char *ks_nearest_name(const char *s, const char *const *names);

/* ------------------------------------------------------------------ rng */

/*
 * A random stream.  Streams are derived, never shared: ks_rng_new(seed, a, b) gives
 * the same numbers for the same (seed, a, b) on every machine and thread.
 */
typedef struct ks_rng ks_rng;
ks_status ks_rng_new(uint64_t seed, uint64_t a, uint64_t b, ks_rng **out);
void ks_rng_free(ks_rng *r);
void ks_rng_reseed(ks_rng *r, uint64_t seed, uint64_t a, uint64_t b);
double ks_rng_uniform(ks_rng *r);                   /* [0, 1) */
double ks_rng_normal(ks_rng *r, double stddev);     /* mean 0 */
uint64_t ks_rng_index(ks_rng *r, uint64_t n);       /* uniform in [0, n) */
void ks_rng_shuffle(ks_rng *r, size_t *idx, size_t n);
/* The underlying gsl_rng *, for GSL's distributions (borrowed). */
void *ks_rng_gsl(ks_rng *r);

/* --------------------------------------------------------------- shapes */

#define KS_MAX_DIMS 6
#define KS_MAX_AXIS 1000000000      /* the largest size of one axis (input_shape, input_dim) */
/* A per-sample shape: the batch axis is never included. */
typedef struct ks_shape {
    int ndim;
    int dim[KS_MAX_DIMS];
} ks_shape;

size_t ks_shape_size(const ks_shape *s);       /* product of dims (saturates at 2^62) */
int ks_shape_equal(const ks_shape *a, const ks_shape *b);
/* Whether samples of shape data feed a model input of shape input: the same floats in the
   same order, the input adding only trailing axes of 1 ((28, 28) images for (28, 28, 1)). */
int ks_shape_feeds(const ks_shape *data, const ks_shape *input);
/* "(None, 28, 28)" with the batch axis, as Keras prints it. */
const char *ks_shape_str(const ks_shape *s, char *buf, int size);

/* ----------------------------------------------------------------- data */

/* Inputs or outputs of a model, and named arrays of a data set, at most. */
#define KS_MAX_IO 8

/* One named array of a data set: n samples of a per-sample shape. */
typedef struct ks_array {
    const char *name;       /* the model input or output it feeds (borrowed); NULL or "":
                               matched by position */
    ks_shape shape;         /* per-sample shape */
    size_t size;            /* floats (or strings) per sample = ks_shape_size(&shape) */
    const float *data;      /* n × size; NULL for text */
    int is_label;           /* targets: one integer class index per sample */
    int n_classes;          /* for labels: 1 + largest label seen, else 0 */
    const char *const *text;    /* text (CSV text columns): n × size UTF-8 strings, data NULL */
} ks_array;

/*
 * A data set in memory: n samples of inputs and targets (float32, row-major).  The
 * simple case has one input x (n × x_size) and one target y (n × y_size; class
 * indices as floats when y_is_label).  A model with several inputs or outputs reads
 * named arrays instead: when n_inputs > 0, inputs[] replace x; when n_targets > 0,
 * targets[] replace y.  Arrays are matched to the model's inputs and outputs by name
 * (or by position when unnamed; one array for a one-input model always fits); with
 * named arrays, x and y mirror the first input and the first target for callers that
 * read one (x is NULL when that input is text: an Input of dtype string reads it, through
 * a TextVectorization).  A ks_data is a view: it owns nothing, and slicing it copies
 * nothing.
 */
typedef struct ks_data {
    size_t n;               /* samples */
    ks_shape x_shape;       /* per-sample input shape */
    size_t x_size;          /* floats per sample = ks_shape_size(&x_shape) */
    const float *x;
    size_t y_size;          /* floats per target, 0 when there are no targets */
    const float *y;
    int y_is_label;         /* y holds integer class indices (one float per sample) */
    int n_classes;          /* for labels: 1 + largest label seen, else 0 */
    const float *w;         /* per-sample weights, or NULL */
    int n_inputs;           /* named input arrays (0: x above) */
    ks_array inputs[KS_MAX_IO];
    int n_targets;          /* named target arrays (0: y above) */
    ks_array targets[KS_MAX_IO];
} ks_data;

ks_data ks_data_slice(const ks_data *d, size_t begin, size_t end);

/*
 * An owned, loaded data set (read-only once loaded; share it between threads).
 * The spec is a data section entry: {idx: PREFIX}, {idx: {x: FILE, y: FILE}},
 * {npy: {x: FILE, y: FILE}}, {csv: FILE, target: NAME | [NAMES], one_hot: false},
 * each with optional scale (divide inputs by it), rows: [BEGIN, END], one_hot (class
 * indices become num_classes columns; without num_classes, 1 + the largest label of the
 * rows loaded — give num_classes when slices may miss a class) and delimiter (CSV).
 * text (CSV): the columns read as text rather than numbers — a name, a list of names,
 * or true for every column whose cells are not all numbers; an array of text columns is
 * text (ks_array.text) and feeds an Input of dtype string.
 * Relative paths are taken from base_dir (NULL = current directory).
 *
 * For several model inputs or outputs, inputs and targets map each input or output
 * name to arrays of the entry's source: CSV column names (one, or a list joined in
 * order; a column may serve several arrays), an IDX prefix's images or labels, or the
 * names of {npy: {NAME: FILE, …}} / {idx: {NAME: FILE, …}}; or a map {from: that,
 * scale, one_hot, num_classes, map: [new class of each class index]}.  Inputs are
 * divided by the entry's scale unless their own says otherwise.  Without inputs, the
 * source's usual input is one unnamed array (the CSV columns no target uses, images,
 * x); without targets, its usual target (labels, y; none for CSV).
 */
typedef struct ks_dataset ks_dataset;
ks_status ks_dataset_load(const ks_value *spec, const char *base_dir, ks_dataset **out,
                          ks_error *err);
void ks_dataset_free(ks_dataset *ds);
ks_data ks_dataset_data(const ks_dataset *ds);
/* The column names of a CSV file's header, in order, as a LIST of strings in *out (the
   caller frees it with ks_value_free; empty after a failure).  Only the header is read;
   errors name the file (and the line and column of a bad header). */
ks_status ks_csv_columns(const char *path, char delimiter, ks_value *out, ks_error *err);
/* Build a dataset from arrays (copied).  y may be NULL. */
ks_status ks_dataset_from_arrays(const ks_shape *x_shape, size_t n, const float *x,
                                 size_t y_size, const float *y, int y_is_label,
                                 ks_dataset **out, ks_error *err);
/*
 * The rows of a followed by the rows of b, copied into a new data set (a refit on the
 * training and validation rows together).  Both must hold the same arrays — names,
 * shapes, labels or values, text or numbers — else KS_ERR_SHAPE saying what differs;
 * sample weights on one only are 1 for the rows of the other; a label array's
 * n_classes is the larger of the two.  KS_ERR_NOMEM.
 */
ks_status ks_dataset_concat(const ks_data *a, const ks_data *b, ks_dataset **out,
                            ks_error *err);

/* Readers behind ks_dataset_load, usable on their own.  Outputs are malloc'd. */
ks_status ks_idx_read(const char *path, ks_shape *shape, size_t *n, float **out, ks_error *err);
ks_status ks_npy_read(const char *path, ks_shape *shape, size_t *n, float **out, ks_error *err);

/* ---------------------------------------------------------------- logs */

/*
 * The logs a callback sees: ordered (name, value) pairs as Keras names them.  Room for
 * the loss, a loss per output (KS_MAX_IO), KS_MAX_METRICS metrics, and their val_ forms.
 */
#define KS_LOGS_MAX 128
#define KS_LOG_NAME_MAX 48
typedef struct ks_logs {
    int n;
    int dropped;                /* sets refused for want of room: an error for fit */
    char name[KS_LOGS_MAX][KS_LOG_NAME_MAX];
    double value[KS_LOGS_MAX];
} ks_logs;

void ks_logs_clear(ks_logs *l);
/* Set name (replacing its value, or appending it).  With KS_LOGS_MAX names already
   there, a new one is refused: KS_ERR_CONFIG, counted in dropped (fit then fails with
   a message, whoever made the set). */
ks_status ks_logs_set(ks_logs *l, const char *name, double value);
/* Returns 1 and sets *value if name is present, else 0. */
int ks_logs_get(const ks_logs *l, const char *name, double *value);

/* History: every epoch's logs, as Keras's History.history. */
typedef struct ks_fit_history {
    int n_epochs, cap;
    int *epoch;             /* 0-based epoch numbers */
    ks_logs *logs;          /* n_epochs entries */
} ks_fit_history;
void ks_fit_history_init(ks_fit_history *h);
void ks_fit_history_free(ks_fit_history *h);
ks_status ks_fit_history_add(ks_fit_history *h, int epoch, const ks_logs *logs);

/* ---------------------------------------------------------------- model */

typedef struct ks_model ks_model;

#define KS_MAX_METRICS 32       /* metrics a model compiles, over all its outputs */
#define KS_MAX_CALLBACKS 32     /* callbacks one fit or evaluate takes */

/*
 * Build a model from its model section.  A LIST of single-key MAPs is a Sequential
 * model (or a graph whose layers name their inputs):
 *   - Flatten: {input_shape: [28, 28]}
 *   - Dense: {units: 300, activation: relu}
 * A MAP is a functional model: {layers: [...], inputs: [names], outputs: [names],
 * models: {NAME: a sub-model's list or map}}.  Each layer also takes name (default
 * Keras-style "dense_1"), inputs (the names of the calls it reads, default the previous
 * entry) and repeat (N copies chained; 0 removes it).  An entry whose key is a layer's
 * or a sub-model's name calls it again (shared weights).  Layers are built in
 * dependency order; a cycle, an unknown or duplicate name is KS_ERR_CONFIG at its
 * place in the file.  The input shape of a Sequential list comes from the first
 * layer's input_shape (or an InputLayer), else from input_shape (e.g. the data's; may
 * be NULL).  Shapes are checked here; weights are initialized from seed.
 */
ks_status ks_model_from_config(const ks_value *model, const ks_shape *input_shape,
                               uint64_t seed, ks_model **out, ks_error *err);
/* What the build warned about (a layer whose output nothing uses, as Keras warns), one
   "FILE:LINE:COL: warning: …" line each, or NULL (borrowed). */
const char *ks_model_warnings(const ks_model *m);
void ks_model_free(ks_model *m);
/* Re-initialize every weight from seed, as a freshly built model. */
void ks_model_init_weights(ks_model *m, uint64_t seed);

/*
 * compile: {optimizer: NAME | {NAME: {args}}, loss: NAME, metrics: [NAMES],
 * loss_weights: …}.  Keras names and defaults.  May be called again to recompile.
 */
ks_status ks_model_compile(ks_model *m, const ks_value *compile, ks_error *err);
int ks_model_is_compiled(const ks_model *m);

/* The model's layer list and compile section, normalized (every argument explicit). */
ks_status ks_model_config(const ks_model *m, ks_value *layers, ks_value *compile);

/*
 * Free-form metadata saved and loaded with the model (a MAP; borrowed, writable):
 * e.g. the input scaling the data had in training ("input_scale": 255).
 */
ks_value *ks_model_meta(ks_model *m);

/* Inputs and outputs: names (the Input layers' and the output calls'), shapes. */
int ks_model_n_inputs(const ks_model *m);
const char *ks_model_input_name(const ks_model *m, int i);
const ks_shape *ks_model_input_shape_at(const ks_model *m, int i);
/* Input i's dtype as Keras names it: "float32", "int32", "int64" or "string" (text). */
const char *ks_model_input_dtype(const ks_model *m, int i);
int ks_model_n_outputs(const ks_model *m);
const char *ks_model_output_name(const ks_model *m, int i);
/* What output i predicts, by its loss: probabilities of one class each (binary
   crossentropy: a sigmoid per column), of classes that exclude each other (categorical
   crossentropy: a softmax), or values (any other loss, or no compiled loss). */
typedef enum ks_output_kind {
    KS_OUTPUT_VALUES,
    KS_OUTPUT_BINARY,
    KS_OUTPUT_CLASSES
} ks_output_kind;
ks_output_kind ks_model_output_kind(const ks_model *m, int i);
const ks_shape *ks_model_output_shape_at(const ks_model *m, int i);
/* The index of the output called name, or -1. */
int ks_model_output_index(const ks_model *m, const char *name);
/* The first input's and the first output's shapes. */
const ks_shape *ks_model_input_shape(const ks_model *m);
const ks_shape *ks_model_output_shape(const ks_model *m);
size_t ks_model_count_params(const ks_model *m, int trainable);   /* trainable: 1, 0, -1 all */

/* Keras's summary() table, written to f. */
void ks_model_summary(const ks_model *m, FILE *f);

/* Weights, in build order: name ("dense/kernel"), shape, pointer (borrowed, writable). */
int ks_model_n_weights(const ks_model *m);
const char *ks_model_weight_name(const ks_model *m, int i);
const ks_shape *ks_model_weight_shape(const ks_model *m, int i);   /* includes every axis */
float *ks_model_weight_data(ks_model *m, int i);
int ks_model_weight_trainable(const ks_model *m, int i);
/* All weights as one contiguous block (trainable and not), for checkpoints and copies. */
size_t ks_model_weights_size(const ks_model *m);
float *ks_model_weights(ks_model *m);
/* A model's layers (each once, however often it is called), for summaries. */
int ks_model_n_layers(const ks_model *m);
const char *ks_model_layer_name(const ks_model *m, int i);
const char *ks_model_layer_class(const ks_model *m, int i);
const ks_shape *ks_model_layer_output_shape(const ks_model *m, int i);
/* The inputs of the layer's first call, as layer indices (the chain case's graph). */
int ks_model_layer_n_inputs(const ks_model *m, int i);
int ks_model_layer_input(const ks_model *m, int i, int k);
/* Layer i's table of vectors, one per token id (an Embedding's embeddings), as a weight
   index, or -1; and the token an id stands for at its input, from the layer that makes
   the ids (a TextVectorization's vocabulary: "" padding, "[UNK]", …), or NULL when none
   names it.  For TensorBoard's projector. */
int ks_model_layer_token_table(const ks_model *m, int i);
const char *ks_model_layer_input_token(const ks_model *m, int i, size_t id);
/* The graph: its nodes (calls of layers) in dependency order, for graph writers. */
int ks_model_n_nodes(const ks_model *m);
const char *ks_model_node_name(const ks_model *m, int i);        /* "dense", "enc/dense" */
int ks_model_node_layer(const ks_model *m, int i);               /* index of its layer */
const ks_shape *ks_model_node_output_shape(const ks_model *m, int i);
int ks_model_node_n_inputs(const ks_model *m, int i);
int ks_model_node_input(const ks_model *m, int i, int k);        /* node index */
size_t ks_model_layer_params(const ks_model *m, int i);

/* Optimizer state. */
double ks_model_get_lr(const ks_model *m);
void ks_model_set_lr(ks_model *m, double lr);
int64_t ks_model_iterations(const ks_model *m);         /* optimizer steps taken */

/* What fit/evaluate log after "loss", as logged: the metrics ("accuracy", "mae", …);
 * with several outputs, "<output>_loss" per output, then "<output>_<metric>". */
int ks_model_n_metrics(const ks_model *m);
const char *ks_model_metric_name(const ks_model *m, int i);

/* --------------------------------------------------------------- fit */

typedef struct ks_callback ks_callback;

typedef struct ks_fit_params {
    int epochs;                     /* 1 */
    int batch_size;                 /* 32 */
    int verbose;                    /* 1: progress bar, 2: a line per epoch, 0: silent */
    double validation_split;        /* 0: the last fraction of train becomes validation */
    int shuffle;                    /* 1 */
    int initial_epoch;              /* 0 */
    int steps_per_epoch;            /* 0 = all batches */
    int validation_freq;            /* 1 */
    int validation_batch_size;      /* 0 = batch_size */
    const double *class_weight;     /* n_class_weight entries, or NULL */
    int n_class_weight;
    uint64_t seed;                  /* shuffling and dropout streams */
    FILE *out;                      /* console output (NULL: stdout) */
    int tty;                        /* -1: ask isatty(out); 0/1: force */
} ks_fit_params;

ks_fit_params ks_fit_params_default(void);

/*
 * Train.  val may be NULL (then validation_split applies).  At most KS_MAX_CALLBACKS
 * callbacks, run in array order; the engine adds History and (verbose > 0) the progress bar itself.  Returns
 * KS_OK when training ran to the end or a callback stopped it cleanly, else the first
 * failing callback's status (KS_ERR_NAN from TerminateOnNaN when the loss became
 * non-finite; without it, as in Keras, training goes on with a NaN loss).
 * history (may be NULL) receives every epoch's logs.
 */
ks_status ks_model_fit(ks_model *m, const ks_data *train, const ks_data *val,
                       const ks_fit_params *p, ks_callback *const *callbacks, int n_callbacks,
                       ks_fit_history *history, ks_error *err);

/* The rows fit trains on: all of train, or with validation_split > 0 the first
   floor(n·(1 − split)) (Keras validates on the last fraction, taken before shuffling). */
ks_data ks_fit_training_rows(const ks_data *train, double validation_split);

/* Whether data fits a compiled model and its loss (shapes, target kinds, label range);
   what names the data in messages ("training"). */
ks_status ks_model_check_data(ks_model *m, const ks_data *data, const char *what,
                              ks_error *err);

/*
 * Keras's adapt: every preprocessing layer of m not yet adapted (a TextVectorization
 * without a vocabulary) learns its state from data — the rows of the array that feeds
 * its model input.  fit does this itself, on its training rows (after validation_split),
 * the first time; the state then lives in the model and in its file.  A layer that
 * learns from data but is not fed by a model input is KS_ERR_CONFIG.
 */
ks_status ks_model_adapt(ks_model *m, const ks_data *data, ks_error *err);

/* Loss and metrics over data, into logs ("loss", "accuracy", …). */
ks_status ks_model_evaluate(ks_model *m, const ks_data *data, int batch_size, int verbose,
                            ks_callback *const *callbacks, int n_callbacks, ks_logs *logs,
                            ks_error *err);

/* The first output for data->n samples into out (n × output size). */
ks_status ks_model_predict(ks_model *m, const ks_data *data, int batch_size, float *out,
                           ks_error *err);
/* Every output: out[k] receives output k (n × its size); a NULL out[k] is skipped. */
ks_status ks_model_predict_outputs(ks_model *m, const ks_data *data, int batch_size,
                                   float *const *out, ks_error *err);

/* ------------------------------------------------------------ callbacks */

/* What a callback is told at each event. */
typedef struct ks_callback_ctx {
    ks_model *model;
    const ks_fit_params *params;    /* the fit's parameters (NULL outside fit) */
    int steps;                      /* batches per epoch (or per evaluation) */
    int epoch;                      /* 0-based, for epoch events */
    int batch;                      /* 0-based, for batch events */
    const ks_logs *logs;            /* may be empty, never NULL */
    ks_logs *epoch_logs;            /* writable epoch logs for on_epoch_end (fit's own, which
                                       History then records: ReduceLROnPlateau adds
                                       learning_rate); NULL where logs are read-only */
} ks_callback_ctx;

typedef ks_status (*ks_callback_fn)(void *user, const ks_callback_ctx *ctx);

/*
 * A callback: any subset of the event functions (NULL ones are skipped) and a user
 * pointer.  Returning KS_STOPPED stops training cleanly after the current event;
 * any other non-KS_OK status stops it with that error.
 */
struct ks_callback {
    const char *name;               /* Keras class name, e.g. "EarlyStopping" */
    void *user;
    ks_callback_fn on_train_begin, on_train_end;
    ks_callback_fn on_epoch_begin, on_epoch_end;
    ks_callback_fn on_train_batch_begin, on_train_batch_end;
    ks_callback_fn on_test_begin, on_test_end;
    ks_callback_fn on_test_batch_begin, on_test_batch_end;
    ks_callback_fn on_predict_begin, on_predict_end;
    ks_callback_fn on_predict_batch_begin, on_predict_batch_end;
    void (*free)(void *user);       /* frees user; may be NULL */
    /* for callbacks that change the model (restore weights, lr): a line to report */
    char message[256];
};

/* Free a callback made by any constructor below (calls cb->free, then frees cb). */
void ks_callback_free(ks_callback *cb);

/*
 * Built-in callbacks by Keras class name with their Keras arguments:
 * EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN, CSVLogger.
 * args is the arguments MAP (or NULL).  Unknown names are KS_ERR_CONFIG with the
 * nearest known name.
 */
ks_status ks_callback_from_config(const char *class_name, const ks_value *args,
                                  ks_callback **out, ks_error *err);
/* The built-in class names, NULL-terminated. */
extern const char *const ks_callback_names[];

/* Callback state that users read after fit. */
int ks_early_stopping_stopped_epoch(const ks_callback *cb);   /* 0-based; -1 if it did not stop */
int ks_early_stopping_best_epoch(const ks_callback *cb);      /* 0-based; -1 if none */

/*
 * The built-in callbacks from C: an arguments struct holding Keras's defaults
 * (ks_*_args_default), changed as needed, then _new.  Wrong values (factor >= 1, a
 * bad filepath template) are KS_ERR_CONFIG.  mode is one of these; auto maximizes
 * when the monitored name contains "acc" or "auc" (ReduceLROnPlateau: "acc").
 */
enum { KS_MODE_AUTO, KS_MODE_MIN, KS_MODE_MAX };

typedef struct ks_early_stopping_args {
    char monitor[KS_LOG_NAME_MAX];  /* "val_loss" */
    double min_delta;               /* 0; its absolute value is used */
    int patience;                   /* 0 */
    int verbose;                    /* 0 */
    int mode;                       /* KS_MODE_AUTO */
    double baseline;                /* NAN: None */
    int restore_best_weights;       /* 0; restores at train end, also without a stop (Keras 3) */
    int start_from_epoch;           /* 0 */
} ks_early_stopping_args;
ks_early_stopping_args ks_early_stopping_args_default(void);
ks_status ks_callback_early_stopping_new(const ks_early_stopping_args *a, ks_callback **out,
                                         ks_error *err);

/*
 * ModelCheckpoint saves through ks_model_save (save_weights_only: KS_SAVE_WEIGHTS_ONLY,
 * else KS_SAVE_OPTIMIZER so that a checkpoint can resume), creating the directory.
 * filepath is formatted like Python's str.format with {epoch} (1-based), {batch}
 * (1-based, integer save_freq only) and any log key, with format specs
 * [[fill]align][sign][0][width][.precision][d|f|F|e|E|g|G|%].  A log key missing at
 * save time is KS_ERR_CONFIG.
 */
typedef struct ks_model_checkpoint_args {
    char filepath[1024];            /* required, e.g. "ckpt-{epoch:04d}-{val_loss:.2f}.ksm" */
    char monitor[KS_LOG_NAME_MAX];  /* "val_loss" */
    int verbose;                    /* 0 */
    int save_best_only;             /* 0 */
    int save_weights_only;          /* 0 */
    int mode;                       /* KS_MODE_AUTO */
    int save_freq;                  /* 0: "epoch"; N > 0: every N batches */
    double initial_value_threshold; /* NAN: None */
} ks_model_checkpoint_args;
ks_model_checkpoint_args ks_model_checkpoint_args_default(void);
ks_status ks_callback_model_checkpoint_new(const ks_model_checkpoint_args *a, ks_callback **out,
                                           ks_error *err);
/* Saves attempted over the callback's life (failed ones included), and the last path
   (borrowed; NULL before the first). */
int ks_model_checkpoint_n_saves(const ks_callback *cb);
const char *ks_model_checkpoint_last_path(const ks_callback *cb);

typedef struct ks_reduce_lr_on_plateau_args {
    char monitor[KS_LOG_NAME_MAX];  /* "val_loss" */
    double factor;                  /* 0.1; must be < 1 */
    int patience;                   /* 10 */
    int verbose;                    /* 0 */
    int mode;                       /* KS_MODE_AUTO */
    double min_delta;               /* 1e-4 */
    int cooldown;                   /* 0 */
    double min_lr;                  /* 0 */
} ks_reduce_lr_on_plateau_args;
ks_reduce_lr_on_plateau_args ks_reduce_lr_on_plateau_args_default(void);
ks_status ks_callback_reduce_lr_on_plateau_new(const ks_reduce_lr_on_plateau_args *a,
                                               ks_callback **out, ks_error *err);

/* TerminateOnNaN: a non-finite running loss after a batch ends fit with KS_ERR_NAN. */
ks_status ks_callback_terminate_on_nan_new(ks_callback **out, ks_error *err);

typedef struct ks_csv_logger_args {
    char filename[1024];            /* required */
    char separator[8];              /* ","; one character */
    int append;                     /* 0 */
} ks_csv_logger_args;
ks_csv_logger_args ks_csv_logger_args_default(void);
ks_status ks_callback_csv_logger_new(const ks_csv_logger_args *a, ks_callback **out,
                                     ks_error *err);

/* The progress bar and History that fit adds itself, usable by other drivers. */
ks_status ks_callback_progbar_new(int verbose, FILE *out, int tty, ks_callback **out_cb);

/* ------------------------------------------------------------ model files */

/*
 * A .ksm file: magic, version, the model's config as JSON text, named tensors and a
 * CRC-32 checksum.  Written to a temporary file and renamed, so a crash never leaves
 * a half-written file under the final name.
 */
enum {
    KS_SAVE_WEIGHTS_ONLY = 1,       /* no config: load with ks_model_load_weights */
    KS_SAVE_OPTIMIZER = 2           /* optimizer slots, iteration count and epoch */
};

/* epoch: the number of epochs completed (what initial_epoch resumes from). */
ks_status ks_model_save(ks_model *m, const char *path, unsigned flags, int epoch,
                        ks_error *err);
/* The same bytes in memory (for the study database).  *out is malloc'd. */
ks_status ks_model_save_buffer(ks_model *m, unsigned flags, int epoch, unsigned char **out,
                               size_t *len, ks_error *err);
/* The same into *buf (capacity *cap), grown with realloc when too small: a caller that
   saves every epoch reuses one block (no page faults for a fresh one each time). */
ks_status ks_model_save_to(ks_model *m, unsigned flags, int epoch, unsigned char **buf,
                           size_t *cap, size_t *len, ks_error *err);
/*
 * Load a whole model (config, weights, and optimizer state if present).  Everything is
 * validated before use: a damaged file is KS_ERR_CORRUPT, never a crash.  *epoch (may
 * be NULL) receives the saved epoch, or 0.
 */
ks_status ks_model_load(const char *path, ks_model **out, int *epoch, ks_error *err);
ks_status ks_model_load_buffer(const unsigned char *buf, size_t len, const char *name,
                               ks_model **out, int *epoch, ks_error *err);
/* Load weights (and optimizer state if present) into an existing model of the same shapes. */
ks_status ks_model_load_weights(ks_model *m, const char *path, int *epoch, ks_error *err);

/*
 * Loss and metrics of outputs already computed for data (n × output size), as
 * ks_model_evaluate would report them for these outputs: the model's compiled loss on
 * probabilities (not logits) and its metrics, without regularization penalties.  For
 * ensembles and weight fitting.
 */
ks_status ks_model_score(ks_model *m, const ks_data *data, const float *outputs, ks_logs *logs,
                         ks_error *err);
/* The same for output k alone, its metrics under their plain names ("loss", "accuracy"),
   for an ensemble of one output of multi-output models: the loss unweighted by
   loss_weights, except for a one-output model (where this is ks_model_score). */
ks_status ks_model_score_output(ks_model *m, int k, const ks_data *data, const float *outputs,
                                ks_logs *logs, ks_error *err);

/* ---------------------------------------------------------------- ensembles */

/*
 * A weighted ensemble: member models (any architectures with the same input and output
 * shapes, compiled with the same loss) whose outputs are averaged with weights that are
 * positive and sum to one.  Classification averages probabilities (arithmetic mean) or,
 * with KS_ENSEMBLE_GEOMETRIC, takes the weighted geometric mean of the probabilities,
 * renormalized per sample; regression averages outputs.
 *
 * An ensemble file (.ksm too; "\x89KSE" magic, version, average kind, weights, every
 * member's whole model file, CRC-32) is self-contained; ks_file_kind tells it from a
 * model file, and loading validates it completely, members included.
 */
typedef struct ks_ensemble ks_ensemble;

typedef enum ks_ensemble_average {
    KS_ENSEMBLE_ARITHMETIC = 0,
    KS_ENSEMBLE_GEOMETRIC = 1
} ks_ensemble_average;

/* Takes the members over (also on failure); checks shapes, losses and weights.  The
   members' first outputs are combined. */
ks_status ks_ensemble_new(ks_model **members, const double *weights, int n,
                          ks_ensemble_average average, ks_ensemble **out, ks_error *err);
/* The same for the output called output (NULL or "": each member's first): every member
   must have it, with one shape and one loss; KS_ERR_CONFIG naming the member otherwise. */
ks_status ks_ensemble_new_for(ks_model **members, const double *weights, int n,
                              ks_ensemble_average average, const char *output,
                              ks_ensemble **out, ks_error *err);
/* The output combined ("" for the first) and its index in member i. */
const char *ks_ensemble_output(const ks_ensemble *e);
int ks_ensemble_member_output(const ks_ensemble *e, int i);
void ks_ensemble_free(ks_ensemble *e);
int ks_ensemble_size(const ks_ensemble *e);
ks_model *ks_ensemble_member(const ks_ensemble *e, int i);
double ks_ensemble_weight(const ks_ensemble *e, int i);
ks_ensemble_average ks_ensemble_average_of(const ks_ensemble *e);

/* Combine members' outputs (n_members arrays of n × k floats) into out (n × k). */
void ks_ensemble_combine(ks_ensemble_average average, const float *const *outputs,
                         const double *weights, int n_members, size_t n, size_t k, float *out);

/* Outputs (n × output size) and loss/metrics of the ensemble, as for one model (for
   members of several outputs, the combined output's loss and metrics under plain names). */
ks_status ks_ensemble_predict(ks_ensemble *e, const ks_data *data, int batch_size, float *out,
                              ks_error *err);
ks_status ks_ensemble_evaluate(ks_ensemble *e, const ks_data *data, int batch_size,
                               ks_logs *logs, ks_error *err);

ks_status ks_ensemble_save(ks_ensemble *e, const char *path, ks_error *err);
ks_status ks_ensemble_save_buffer(ks_ensemble *e, unsigned char **out, size_t *len,
                                  ks_error *err);
ks_status ks_ensemble_load(const char *path, ks_ensemble **out, ks_error *err);
ks_status ks_ensemble_load_buffer(const unsigned char *buf, size_t len, const char *name,
                                  ks_ensemble **out, ks_error *err);

/* What a file holds, from its first bytes: a model, an ensemble, or neither (or unreadable). */
typedef enum ks_file_kind { KS_FILE_OTHER = 0, KS_FILE_MODEL = 1, KS_FILE_ENSEMBLE = 2 } ks_file_kind;
ks_file_kind ks_file_kind_of(const char *path);

/* ------------------------------------------------------------- ONNX export */

/*
 * A model or an ensemble as a standard ONNX model (opset KS_ONNX_OPSET, IR version
 * KS_ONNX_IR_VERSION) for ONNX runtimes: graph input "input" float [N, input shape…],
 * output "output" float [N, output shape…], N symbolic (a model of several inputs or
 * outputs: each named as the model names it; an ensemble: the one output it combines,
 * "output"); a shared layer's weights once; weights as initializers named as
 * the model names them ("dense/kernel"); an ensemble's members under "m0/", "m1/" …,
 * combined as ks_ensemble_combine does.  Each layer kind lowers itself; a kind or an
 * activation without an ONNX lowering, or two tensors that would share a name, is
 * KS_ERR_CONFIG with a message naming the layer, and nothing is written.  The input
 * scaling a model was trained with (meta "input_scale") is not part of the graph: it is
 * recorded in the model's metadata_props, and callers divide the inputs by it as
 * `ksearch predict` does.  The model or ensemble is only read.
 */
#define KS_ONNX_OPSET 13
#define KS_ONNX_IR_VERSION 7

/* Write to path atomically (ks_write_file_atomic): never half a file. */
ks_status ks_model_export_onnx(const ks_model *m, const char *path, ks_error *err);
ks_status ks_ensemble_export_onnx(const ks_ensemble *e, const char *path, ks_error *err);
/* The same bytes in memory; *out is malloc'd (NULL on failure). */
ks_status ks_model_export_onnx_buffer(const ks_model *m, unsigned char **out, size_t *len,
                                      ks_error *err);
ks_status ks_ensemble_export_onnx_buffer(const ks_ensemble *e, unsigned char **out,
                                         size_t *len, ks_error *err);

/* ------------------------------------------------------------ BLAS threads */

/* Threads OpenBLAS may use for each matrix product (process-wide; 1 for worker pools). */
void ks_blas_set_threads(int n);
int ks_blas_get_threads(void);

#endif
