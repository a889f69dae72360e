/*
 * parity_conv.c — ksearch's half of the PyTorch parity check (bench/parity.py): for
 * every convolutional layer kind, one layer on random inputs with random weights, its
 * forward output and, for a random upstream gradient dy, the input and weight
 * gradients; and 200 plain-SGD steps of the studies' CNN (without its Dropout, whose
 * masks no two generators share) from its initial weights, with the loss of every
 * step.  Everything is written as .npy files with the normalized layer configs, for
 * parity.py to rebuild each layer in PyTorch and compare.
 *   parity_conv OUT_DIR [IDX_PREFIX]
 */
#include "../engine/engine_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

_Noreturn static void die(const char *what, const char *detail)
{
    fprintf(stderr, "parity_conv: %s: %s\n", what, detail ? detail : "failed");
    exit(1);
}

/* A float32 array as a .npy file (C order). */
static void write_npy(const char *dir, const char *name, const float *a, const size_t *shape,
                      int ndim)
{
    char path[2100], header[256];
    size_t n = 1;
    int len;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    len = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < ndim; i++) {
        len += snprintf(header + len, sizeof header - (size_t)len, "%zu, ", shape[i]);
        n *= shape[i];
    }
    len += snprintf(header + len, sizeof header - (size_t)len, "), }");
    while ((10 + len + 1) % 64)
        header[len++] = ' ';
    header[len++] = '\n';
    if (!(f = fopen(path, "wb")))
        die(path, strerror(errno));
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(len & 0xff, f);
    fputc(len >> 8, f);
    fwrite(header, 1, (size_t)len, f);
    fwrite(a, sizeof(float), n, f);
    if (fclose(f) != 0)
        die(path, strerror(errno));
}

/* (n, per-sample shape…) */
static int batch_shape(int n, const ks_shape *s, size_t *out)
{
    out[0] = (size_t)n;
    for (int i = 0; i < s->ndim; i++)
        out[i + 1] = (size_t)s->dim[i];
    return s->ndim + 1;
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char path[2100];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(f = fopen(path, "w")) || fputs(text, f) < 0 || fclose(f) != 0)
        die(path, strerror(errno));
}

/* Every weight of m (or its gradient) as PREFIX<i>.npy, in its own shape. */
static void write_weights(const char *dir, const char *prefix, const ks_model *m, int grads)
{
    size_t shape[KS_MAX_DIMS];
    char name[32];
    for (int i = 0; i < m->n_weights; i++) {
        const ks_weight *w = m->weights[i];
        for (int k = 0; k < w->shape.ndim; k++)
            shape[k] = (size_t)w->shape.dim[k];
        snprintf(name, sizeof name, "%s%d", prefix, i);
        write_npy(dir, name, grads ? w->g : w->w, shape, w->shape.ndim);
    }
}

static ks_model *model_from_json(const char *json, uint64_t seed)
{
    ks_value layers;
    ks_model *m;
    ks_error err;
    if (ks_value_from_json(json, strlen(json), "case", &layers, &err) != KS_OK ||
        ks_model_from_config(&layers, NULL, seed, &m, &err) != KS_OK)
        die(json, err.msg);
    ks_value_free(&layers);
    return m;
}

static char *config_json(const ks_model *m)
{
    ks_value layers;
    char *json = NULL;
    if (ks_model_config(m, &layers, NULL) != KS_OK || ks_value_to_json(&layers, &json, NULL))
        die("config", "out of memory");
    ks_value_free(&layers);
    return json;
}

static void fill(float *a, size_t n, ks_rng *r, double lo, double hi)
{
    for (size_t i = 0; i < n; i++)
        a[i] = (float)(lo + (hi - lo) * ks_rng_uniform(r));
}

/* ------------------------------------------------------------------ layers */

static const char *const cases[][2] = {
    {"conv2d_valid", "{\"Conv2D\": {\"filters\": 5, \"kernel_size\": 3}}"},
    {"conv2d_same_even_strides",
     "{\"Conv2D\": {\"filters\": 4, \"kernel_size\": [4, 2], \"strides\": [2, 3], \"padding\": "
     "\"same\"}}"},
    {"conv2d_dilation_same",
     "{\"Conv2D\": {\"filters\": 3, \"kernel_size\": 3, \"dilation_rate\": 2, \"padding\": "
     "\"same\", \"activation\": \"relu\"}}"},
    {"conv2d_pointwise", "{\"Conv2D\": {\"filters\": 6, \"kernel_size\": 1, \"use_bias\": false}}"},
    {"depthwise_conv2d_dm2_same_strides",
     "{\"DepthwiseConv2D\": {\"kernel_size\": 3, \"depth_multiplier\": 2, \"strides\": 2, "
     "\"padding\": \"same\"}}"},
    {"separable_conv2d",
     "{\"SeparableConv2D\": {\"filters\": 5, \"kernel_size\": [2, 3], \"depth_multiplier\": 2, "
     "\"padding\": \"same\", \"activation\": \"tanh\"}}"},
    {"max_pooling2d_valid", "{\"MaxPooling2D\": {\"pool_size\": 3, \"strides\": 2}}"},
    {"max_pooling2d_same", "{\"MaxPooling2D\": {\"pool_size\": 2, \"padding\": \"same\"}}"},
    {"average_pooling2d_same",
     "{\"AveragePooling2D\": {\"pool_size\": 3, \"strides\": 2, \"padding\": \"same\"}}"},
    {"average_pooling2d_valid", "{\"AveragePooling2D\": {}}"},
    {"global_average_pooling2d", "{\"GlobalAveragePooling2D\": {}}"},
    {"global_max_pooling2d", "{\"GlobalMaxPooling2D\": {}}"},
    {"zero_padding2d", "{\"ZeroPadding2D\": {\"padding\": [[1, 2], [0, 3]]}}"},
    {"batch_normalization", "{\"BatchNormalization\": {}}"},
    {"rescaling", "{\"Rescaling\": {\"scale\": 0.5, \"offset\": -0.25}}"},
    {"conv1d_valid_strides", "{\"Conv1D\": {\"filters\": 4, \"kernel_size\": 3, \"strides\": 2}}"},
    {"conv1d_same_even", "{\"Conv1D\": {\"filters\": 3, \"kernel_size\": 4, \"padding\": \"same\"}}"},
    {"conv1d_causal_dilation",
     "{\"Conv1D\": {\"filters\": 3, \"kernel_size\": 3, \"padding\": \"causal\", "
     "\"dilation_rate\": 2}}"},
    {"max_pooling1d", "{\"MaxPooling1D\": {\"pool_size\": 3, \"strides\": 2}}"},
    {"average_pooling1d_same", "{\"AveragePooling1D\": {\"padding\": \"same\"}}"},
    {"global_average_pooling1d", "{\"GlobalAveragePooling1D\": {}}"},
    {"global_max_pooling1d", "{\"GlobalMaxPooling1D\": {}}"},
};

static void layer_case(const char *root, int index, ks_rng *r)
{
    enum { N = 4 };
    const char *name = cases[index][0], *layer = cases[index][1];
    int seq = strstr(layer, "1D") != NULL;
    char json[1024], dir[1024];
    size_t shape[KS_MAX_DIMS + 1];
    int nd;
    ks_model *m;
    ks_layer *l;
    ks_error err;
    float *x, *dy, *dx;
    ks_fwd f;
    ks_bwd b;
    char *config;
    snprintf(json, sizeof json, "[{\"InputLayer\": {\"shape\": %s}}, %s]",
             seq ? "[11, 3]" : "[9, 8, 3]", layer);
    m = model_from_json(json, 7);
    l = m->layers[1];
    snprintf(dir, sizeof dir, "%s/%02d-%s", root, index, name);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        die(dir, strerror(errno));
    for (int i = 0; i < m->n_weights; i++) {
        ks_weight *w = m->weights[i];
        /* BatchNormalization: γ around 1; everything else in ±1 */
        if (strstr(w->name, "gamma") || strstr(w->name, "variance"))
            fill(w->w, w->size, r, 0.5, 1.5);
        else
            fill(w->w, w->size, r, -1.0, 1.0);
    }
    write_weights(dir, "w", m, 0);
    x = malloc(N * l->in_size[0] * sizeof *x);
    dy = malloc(N * l->out_size * sizeof *dy);
    dx = malloc(N * l->in_size[0] * sizeof *dx);
    if (!x || !dy || !dx || ks_model_workspace(m, N, 1, &err) != KS_OK)
        die(name, "out of memory");
    fill(x, N * l->in_size[0], r, -1.0, 1.0);
    fill(dy, N * l->out_size, r, -1.0, 1.0);
    nd = batch_shape(N, &l->in_shape[0], shape);
    write_npy(dir, "x", x, shape, nd);
    nd = batch_shape(N, &l->out_shape, shape);
    write_npy(dir, "dy", dy, shape, nd);

    memset(&f, 0, sizeof f);
    f.n = N;
    f.training = 1;
    f.x[0] = x;
    f.y = m->ws.buf[1];
    f.scratch = m->ws.scratch[1];
    f.rng = m->rng;
    l->ops->forward(l, &f);
    write_npy(dir, "y", f.y, shape, nd);

    memset(&b, 0, sizeof b);
    b.n = N;
    b.x[0] = x;
    b.y = f.y;
    b.dy = dy;          /* the layer may overwrite it: written out above */
    b.dx[0] = dx;
    b.scratch = f.scratch;
    b.grad_beta = 0.0f;
    l->ops->backward(l, &b);
    nd = batch_shape(N, &l->in_shape[0], shape);
    write_npy(dir, "dx", dx, shape, nd);
    write_weights(dir, "g", m, 1);
    config = config_json(m);
    write_text(dir, "config.json", config);
    {
        char names[1024] = "";
        for (int i = 0; i < m->n_weights; i++) {
            size_t len = strlen(names);
            snprintf(names + len, sizeof names - len, "%s\n", m->weights[i]->name);
        }
        write_text(dir, "weights.txt", names);
    }
    free(config);
    free(x);
    free(dy);
    free(dx);
    ks_model_free(m);
}

/* ------------------------------------------------------------- SGD steps */

#define STEPS 200
#define BATCH 32

static void sgd_case(const char *root, const char *prefix)
{
    static const char *const layers =
        "[{\"Conv2D\": {\"filters\": 32, \"kernel_size\": 3, \"activation\": \"relu\", "
        "\"input_shape\": [28, 28, 1]}}, {\"MaxPooling2D\": {\"pool_size\": 2}},"
        " {\"Conv2D\": {\"filters\": 64, \"kernel_size\": 3, \"activation\": \"relu\"}},"
        " {\"MaxPooling2D\": {\"pool_size\": 2}}, {\"Flatten\": {}},"
        " {\"Dense\": {\"units\": 128, \"activation\": \"relu\"}},"
        " {\"Dense\": {\"units\": 10, \"activation\": \"softmax\"}}]";
    static const char *const compile =
        "{\"optimizer\": {\"SGD\": {\"learning_rate\": 0.01}}, \"loss\": "
        "\"sparse_categorical_crossentropy\"}";
    char dir[1024], path[1024];
    ks_value spec, *rows, c;
    ks_dataset *ds;
    ks_data d;
    ks_model *m = model_from_json(layers, 3);
    ks_error err;
    float losses[STEPS];
    size_t shape[KS_MAX_DIMS];
    snprintf(dir, sizeof dir, "%s/sgd", root);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        die(dir, strerror(errno));
    if (ks_value_from_json(compile, strlen(compile), "compile", &c, &err) != KS_OK ||
        ks_model_compile(m, &c, &err) != KS_OK)
        die("compile", err.msg);
    ks_value_free(&c);
    ks_value_init(&spec, KS_VALUE_MAP);
    ks_value_set_string(ks_value_put(&spec, "idx", KS_VALUE_NULL), prefix);
    ks_value_put(&spec, "scale", KS_VALUE_NUMBER)->number = 255;
    rows = ks_value_put(&spec, "rows", KS_VALUE_LIST);
    ks_value_push(rows, KS_VALUE_NUMBER)->number = 0;
    ks_value_push(rows, KS_VALUE_NUMBER)->number = STEPS * BATCH;
    if (ks_dataset_load(&spec, NULL, &ds, &err) != KS_OK)
        die(prefix, err.msg);
    ks_value_free(&spec);
    d = ks_dataset_data(ds);
    write_weights(dir, "w", m, 0);
    if (ks_model_workspace(m, BATCH, 1, &err) != KS_OK)
        die("workspace", err.msg);
    /* the batches in order, as fit's steps make them without shuffling */
    for (int s = 0; s < STEPS; s++) {
        const float *xb = d.x + (size_t)s * BATCH * d.x_size, *yb = d.y + (size_t)s * BATCH;
        int fuse = ks_model_can_fuse_sgd(m);
        ks_model_forward(m, (const float *const[]){xb}, BATCH, 1);
        losses[s] = (float)ks_model_batch_loss(m, (const float *const[]){yb}, NULL, BATCH, 1, NULL);
        ks_model_backward(m, BATCH, fuse);
        if (!fuse)
            ks_model_apply_gradients(m);
    }
    shape[0] = STEPS;
    write_npy(dir, "losses", losses, shape, 1);
    snprintf(path, sizeof path, "%s", prefix);
    write_text(dir, "data.txt", path);
    ks_dataset_free(ds);
    ks_model_free(m);
}

int main(int argc, char **argv)
{
    ks_rng *r;
    if (argc < 2)
        die("usage", "parity_conv OUT_DIR [IDX_PREFIX]");
    ks_blas_set_threads(1);
    if (ks_rng_new(2024, 5, 6, &r) != KS_OK)
        die("rng", "out of memory");
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++)
        layer_case(argv[1], i, r);
    sgd_case(argv[1], argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist/train");
    ks_rng_free(r);
    return 0;
}
