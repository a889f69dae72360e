/*
 * seeds.c — the fuzz targets' seed inputs, made by the program itself: models and
 * ensembles built, trained a step and saved with the engine's own writers; small IDX,
 * NPY and CSV files of every element type and layout; study and run files from the
 * repository plus a few that use every search method; the wire forms' seeds (seeds_wire.c)
 * with a saved model as their checkpoint; and dictionaries drawn from the engine's
 * registries (layer, argument, loss, optimizer and callback names).
 */
#include "../../engine/engine_impl.h"
#include "../../search/search_impl.h"
#include "fuzz.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------------ files */

/* Call fn(path, user) for every file below root matching pattern (glob(3)), sorted. */
static int each_file(const char *root, const char *pattern, void (*fn)(const char *, void *),
                     void *user)
{
    char pat[1200];
    glob_t g;
    int n;
    snprintf(pat, sizeof pat, "%s/%s", root, pattern);
    if (glob(pat, 0, NULL, &g) != 0)
        return 0;
    for (size_t i = 0; i < g.gl_pathc; i++)
        fn(g.gl_pathv[i], user);
    n = (int)g.gl_pathc;
    globfree(&g);
    return n;
}

/* The study and run files of the repository: what the YAML targets start from. */
static const char *const yaml_patterns[] = {"studies/*.yaml", "tests/bad_models/*.yaml",
                                            "tests/bad_studies/*.yaml", NULL};

/* ------------------------------------------------------------------ models */

/* Small models covering every layer kind, optimizer and loss; JSON {layers, compile}. */
static const char *const model_configs[] = {
    "{\"layers\": [{\"Dense\": {\"units\": 3, \"activation\": \"relu\", \"input_shape\": [4]}},"
    " {\"Dense\": {\"units\": 2, \"activation\": \"softmax\"}}],"
    " \"compile\": {\"optimizer\": {\"Adam\": {\"learning_rate\": 0.01}},"
    " \"loss\": \"sparse_categorical_crossentropy\", \"metrics\": [\"accuracy\"]}}",

    "{\"layers\": [{\"Flatten\": {\"input_shape\": [2, 3]}},"
    " {\"Dense\": {\"units\": 4, \"activation\": \"tanh\", \"kernel_initializer\": \"he_normal\"}},"
    " {\"Dropout\": {\"rate\": 0.5}}, {\"BatchNormalization\": {}},"
    " {\"Dense\": {\"units\": 1, \"activation\": \"sigmoid\"}}],"
    " \"compile\": {\"optimizer\": {\"SGD\": {\"learning_rate\": 0.1, \"momentum\": 0.9,"
    " \"nesterov\": true}}, \"loss\": \"binary_crossentropy\", \"metrics\": [\"accuracy\"]}}",

    "{\"layers\": [{\"InputLayer\": {\"shape\": [5]}},"
    " {\"Dense\": {\"units\": 3, \"use_bias\": false, \"kernel_regularizer\": {\"l2\": 0.01}}},"
    " {\"Activation\": {\"activation\": \"softmax\"}}],"
    " \"compile\": {\"optimizer\": {\"RMSprop\": {\"learning_rate\": 0.001, \"clipnorm\": 1.0}},"
    " \"loss\": \"categorical_crossentropy\", \"metrics\": [\"accuracy\"]}}",

    "{\"layers\": [{\"Dense\": {\"units\": 2, \"activation\": \"selu\", \"input_shape\": [3],"
    " \"repeat\": 2}}, {\"Dense\": {\"units\": 1, \"name\": \"out\"}}],"
    " \"compile\": {\"optimizer\": \"SGD\", \"loss\": \"mse\", \"metrics\": [\"mae\"]}}",

    "{\"layers\": [{\"Dense\": {\"units\": 2, \"activation\": \"elu\", \"input_shape\": [2]}},"
    " {\"BatchNormalization\": {\"center\": false, \"scale\": false}},"
    " {\"Dense\": {\"units\": 2, \"activation\": \"softplus\"}}]}",

    /* preprocessing: Normalization's statistics in the config and the weights (given, and
       inverted), a lookup's vocabulary in the config (not trained: it takes integers) */
    "{\"layers\": [{\"Input\": {\"shape\": [2]}},"
    " {\"Normalization\": {\"mean\": [0.5, 0.25], \"variance\": [2, 0]}},"
    " {\"Dense\": {\"units\": 3, \"activation\": \"relu\"}}, {\"Dense\": {\"units\": 1}},"
    " {\"Normalization\": {\"mean\": 3, \"variance\": 4, \"invert\": true}}],"
    " \"compile\": {\"optimizer\": \"adam\", \"loss\": \"mse\"}}",

    "{\"layers\": [{\"Input\": {\"shape\": [2]}},"
    " {\"IntegerLookup\": {\"vocabulary\": [0, 5], \"output_mode\": \"multi_hot\"}},"
    " {\"CategoryEncoding\": {\"num_tokens\": 4, \"output_mode\": \"one_hot\"}},"
    " {\"Flatten\": {}}, {\"Dense\": {\"units\": 2, \"activation\": \"softmax\"}}]}",
};
#define N_MODELS (int)(sizeof model_configs / sizeof model_configs[0])

/* Build model i (seed 1 + i + variant), compiled when its config says so, trained one step
   on zeros so that optimizer state is not all zero.  NULL if it does not build. */
static ks_model *make_model(int i, int variant)
{
    const char *cfg = model_configs[i];
    ks_value v;
    ks_model *m = NULL;
    ks_error err;
    const ks_value *compile;
    if (ks_value_from_json(cfg, strlen(cfg), "seed", &v, &err) != KS_OK) {
        fprintf(stderr, "fuzz seeds: model %d: %s\n", i, err.msg);
        return NULL;
    }
    compile = ks_value_get(&v, "compile");
    if (ks_model_from_config(ks_value_get(&v, "layers"), NULL, (uint64_t)(1 + i + variant), &m,
                             &err) != KS_OK ||
        (compile && ks_model_compile(m, compile, &err) != KS_OK)) {
        fprintf(stderr, "fuzz seeds: model %d: %s\n", i, err.msg);
        ks_model_free(m);
        ks_value_free(&v);
        return NULL;
    }
    ks_value_free(&v);
    if (compile && fuzz_fit_once(m, 2) != 1)
        fprintf(stderr, "fuzz seeds: model %d does not train\n", i);
    return m;
}

static void emit_buffer(fuzz_emit_fn emit, void *user, const char *name, unsigned char *p,
                        size_t n, int strip_crc)
{
    emit(user, name, p, n >= 4 && strip_crc ? n - 4 : n);
}

static int seed_models(int strip_crc, fuzz_emit_fn emit, void *user)
{
    int count = 0;
    for (int i = 0; i < N_MODELS; i++) {
        ks_model *m = make_model(i, 0);
        ks_error err;
        static const unsigned flag_sets[] = {KS_SAVE_OPTIMIZER, 0, KS_SAVE_WEIGHTS_ONLY};
        if (!m)
            continue;
        if (i == 0) {
            ks_value *scale = ks_value_put(ks_model_meta(m), "input_scale", KS_VALUE_NUMBER);
            if (scale)
                scale->number = 255;
        }
        for (int f = 0; f < 3; f++) {
            unsigned char *buf = NULL;
            size_t len = 0;
            char name[64];
            if (flag_sets[f] == KS_SAVE_OPTIMIZER && !ks_model_is_compiled(m))
                continue;
            if (ks_model_save_buffer(m, flag_sets[f], 3 * f, &buf, &len, &err) != KS_OK) {
                fprintf(stderr, "fuzz seeds: model %d does not save: %s\n", i, err.msg);
                continue;
            }
            snprintf(name, sizeof name, "model%d-flags%u", i, flag_sets[f]);
            emit_buffer(emit, user, name, buf, len, strip_crc);
            count++;
            free(buf);
        }
        ks_model_free(m);
    }
    return count;
}

/* Ensembles: members of one model config (different seeds), each weighting and average. */
static int seed_ensembles(int strip_crc, fuzz_emit_fn emit, void *user)
{
    static const struct {
        int config, n;
        ks_ensemble_average average;
    } kinds[] = {{0, 2, KS_ENSEMBLE_ARITHMETIC}, {0, 3, KS_ENSEMBLE_GEOMETRIC},
                 {3, 2, KS_ENSEMBLE_ARITHMETIC}, {1, 1, KS_ENSEMBLE_GEOMETRIC}};
    int count = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        ks_model *members[3] = {NULL, NULL, NULL};
        double weights[3];
        ks_ensemble *e = NULL;
        unsigned char *buf = NULL;
        size_t len = 0;
        ks_error err;
        char name[64];
        int ok = 1;
        for (int i = 0; i < kinds[k].n; i++) {
            members[i] = make_model(kinds[k].config, i);
            ok &= members[i] != NULL;
            weights[i] = (i + 1.0) / (kinds[k].n * (kinds[k].n + 1) / 2.0);
        }
        if (!ok) {
            for (int i = 0; i < kinds[k].n; i++)
                ks_model_free(members[i]);
            continue;
        }
        if (ks_ensemble_new(members, weights, kinds[k].n, kinds[k].average, &e, &err) != KS_OK ||
            ks_ensemble_save_buffer(e, &buf, &len, &err) != KS_OK) {
            fprintf(stderr, "fuzz seeds: ensemble %zu: %s\n", k, err.msg);
        } else {
            snprintf(name, sizeof name, "ensemble%zu", k);
            emit_buffer(emit, user, name, buf, len, strip_crc);
            count++;
        }
        free(buf);
        ks_ensemble_free(e);
    }
    return count;
}

/* Model configs as a .ksm holds them ({"layers", "compile"} JSON), for the builder. */
static int seed_model_configs(fuzz_emit_fn emit, void *user)
{
    for (int i = 0; i < N_MODELS; i++) {
        char name[32];
        snprintf(name, sizeof name, "config%d", i);
        emit(user, name, (const unsigned char *)model_configs[i], strlen(model_configs[i]));
    }
    return N_MODELS;
}

/* ------------------------------------------------------------- data files */

/* A growing byte buffer. */
typedef struct bytes {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void add(bytes *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2 + 64;
        unsigned char *q = realloc(b->p, cap);
        if (!q)
            fuzz_fail("out of memory");
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void add_be(bytes *b, uint64_t x, int size)
{
    unsigned char c[8];
    for (int i = 0; i < size; i++)
        c[i] = (unsigned char)(x >> (8 * (size - 1 - i)));
    add(b, c, (size_t)size);
}

static void add_le(bytes *b, uint64_t x, int size)
{
    unsigned char c[8];
    for (int i = 0; i < size; i++)
        c[i] = (unsigned char)(x >> (8 * i));
    add(b, c, (size_t)size);
}

/* Emit one data file with a few of the target's spec bytes in front (fuzz_dataset). */
static int emit_data(fuzz_emit_fn emit, void *user, const char *name, const bytes *file,
                     int n_specs)
{
    int count = 0;
    for (int spec = 0; spec < n_specs; spec++) {
        bytes in = {0};
        char nm[96];
        unsigned char c = (unsigned char)spec;
        add(&in, &c, 1);
        add(&in, file->p, file->n);
        snprintf(nm, sizeof nm, "%s-spec%d", name, spec);
        emit(user, nm, in.p, in.n);
        free(in.p);
        count++;
    }
    return count;
}

/* IDX: big-endian header (0, 0, type, rank, dims), then big-endian elements. */
static void idx_file(bytes *b, unsigned type, int rank, const uint32_t *dims, int esize)
{
    size_t count = 1;
    unsigned char head[4] = {0, 0, (unsigned char)type, (unsigned char)rank};
    add(b, head, 4);
    for (int i = 0; i < rank; i++) {
        add_be(b, dims[i], 4);
        count *= dims[i];
    }
    for (size_t i = 0; i < count; i++) {
        uint64_t v = i % 3;
        if (type == 0x0D) {
            float f = (float)i * 0.5f;
            uint32_t u;
            memcpy(&u, &f, 4);
            v = u;
        } else if (type == 0x0E) {
            double d = (double)i * 0.25;
            memcpy(&v, &d, 8);
        }
        add_be(b, v, esize);
    }
}

/* One repository data file as a seed (emit_data's spec bytes in front). */
typedef struct repo_data {
    fuzz_emit_fn emit;
    void *user;
    int n_specs, count;
} repo_data;

static void emit_repo_data(const char *path, void *user)
{
    repo_data *r = user;
    FILE *f = fopen(path, "rb");
    bytes b = {0};
    unsigned char chunk[4096];
    size_t got;
    const char *base = strrchr(path, '/');
    if (!f)
        return;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0 && b.n < 65536)
        add(&b, chunk, got);
    fclose(f);
    r->count += emit_data(r->emit, r->user, base ? base + 1 : path, &b, r->n_specs);
    free(b.p);
}

/* The repository's data files matching pattern below root, each with n_specs spec bytes. */
static int seed_repo_data(const char *root, const char *pattern, int n_specs, fuzz_emit_fn emit,
                          void *user)
{
    repo_data r = {emit, user, n_specs, 0};
    each_file(root, pattern, emit_repo_data, &r);
    return r.count;
}

static int seed_idx(const char *root, int gz, fuzz_emit_fn emit, void *user)
{
    static const struct {
        unsigned type;
        int esize, rank;
        uint32_t dims[3];
    } files[] = {{0x08, 1, 1, {4}},       {0x08, 1, 3, {3, 2, 2}}, {0x09, 1, 2, {4, 2}},
                 {0x0B, 2, 2, {3, 2}},    {0x0C, 4, 1, {4}},       {0x0D, 4, 2, {4, 3}},
                 {0x0E, 8, 2, {2, 2}}};
    int count = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        bytes b = {0};
        char name[32];
        idx_file(&b, files[i].type, files[i].rank, files[i].dims, files[i].esize);
        snprintf(name, sizeof name, "idx-%02x-rank%d", files[i].type, files[i].rank);
        count += emit_data(emit, user, name, &b, 5);
        free(b.p);
    }
    /* three real Fashion-MNIST images and labels, when the data set is installed */
    {
        static const char *const real[] = {
            "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz",
            "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"};
        for (int r = 0; r < 2; r++) {
            gzFile f = gzopen(real[r], "rb");
            unsigned char buf[16 + 3 * 784];
            int hdr = r == 0 ? 16 : 8, want = hdr + 3 * (r == 0 ? 784 : 1);
            bytes b = {0};
            if (!f)
                continue;
            if (gzread(f, buf, (unsigned)want) == want) {
                buf[4] = buf[5] = buf[6] = 0;
                buf[7] = 3;                             /* three rows */
                add(&b, buf, (size_t)want);
                count += emit_data(emit, user, r == 0 ? "fashion-images" : "fashion-labels",
                                   &b, 2);
            }
            gzclose(f);
            free(b.p);
        }
    }
    /* the repository's damaged .gz files, as they are (the raw target reads them through
       zlib too) */
    if (!gz)
        count += seed_repo_data(root, "tests/bad_models/data/*-ubyte.gz", 2, emit, user);
    return count;
}

/* NPY: magic, version, header length, a dict padded to 64 bytes, little-endian data. */
static void npy_file(bytes *b, int version, const char *descr, const char *shape, size_t count,
                     int esize)
{
    char dict[256];
    size_t pre = version == 1 ? 10 : 12, hlen;
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                     descr, shape);
    hlen = (size_t)n + 1;
    while ((pre + hlen) % 64)
        hlen++;
    add(b, "\x93NUMPY", 6);
    add(b, &(unsigned char[2]){(unsigned char)version, 0}, 2);
    add_le(b, hlen, version == 1 ? 2 : 4);
    add(b, dict, (size_t)n);
    for (size_t i = (size_t)n; i + 1 < hlen; i++)
        add(b, " ", 1);
    add(b, "\n", 1);
    for (size_t i = 0; i < count; i++) {
        uint64_t v = i % 3;
        if (descr[1] == 'f' && esize == 4) {
            float f = (float)i * 0.5f;
            uint32_t u;
            memcpy(&u, &f, 4);
            v = u;
        } else if (descr[1] == 'f' && esize == 8) {
            double d = (double)i * 0.25;
            memcpy(&v, &d, 8);
        } else if (descr[1] == 'f') {
            v = 0x3c00u + (uint64_t)(i % 4) * 0x400u;     /* 1, 2, 4, 8 as float16 */
        }
        add_le(b, v, esize);
    }
}

static int seed_npy(fuzz_emit_fn emit, void *user)
{
    static const struct {
        int version;
        const char *descr, *shape;
        size_t count;
        int esize;
    } files[] = {{1, "<f4", "(4, 3)", 12, 4},  {1, "<f8", "(4,)", 4, 8},
                 {2, "<i8", "(2, 2, 2)", 8, 8}, {3, "|u1", "(6,)", 6, 1},
                 {1, "|b1", "(3, 2)", 6, 1},    {1, "<f2", "(4, 1)", 4, 2},
                 {1, "<i2", "(2, 3)", 6, 2},    {1, "<u4", "(5,)", 5, 4},
                 {1, "<f4", "()", 1, 4}};
    int count = 0;
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        bytes b = {0};
        char name[32];
        npy_file(&b, files[i].version, files[i].descr, files[i].shape, files[i].count,
                 files[i].esize);
        snprintf(name, sizeof name, "npy%zu-v%d", i, files[i].version);
        count += emit_data(emit, user, name, &b, 4);
        free(b.p);
    }
    return count;
}

static int seed_csv(const char *root, fuzz_emit_fn emit, void *user)
{
    static const char *const texts[] = {
        "a,b,y\n1,2,0\n3,4,1\n5,6,2\n7,8,1\n",
        "\xEF\xBB\xBF\"a\",\"b, c\",y\r\n1.5,-2e3,0\r\n\"3\",4,1\r\n\r\n",
        "x1;x2;y\n0.1;0.2;1\n0.3;0.4;0\n0.5;0.6;1\n",
        "f1\tf2\tlabel\n1\t2\t3\n4\t5\t9\n6\t7\t0\n",
        "a,b,label\n 1 , 2 ,3\n4,5,6\n7,8,9\n\n\n",
        "y,b,c\n1,2,3\n",
    };
    int count = 0;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        bytes b = {0};
        char name[32];
        add(&b, texts[i], strlen(texts[i]));
        snprintf(name, sizeof name, "csv%zu", i);
        count += emit_data(emit, user, name, &b, 7);
        free(b.p);
    }
    count += seed_repo_data(root, "tests/bad_models/data/*.csv", 2, emit, user);
    /* the head of the regression data set in studies/ */
    {
        char path[1200], line[4096];
        FILE *f;
        bytes b = {0};
        snprintf(path, sizeof path, "%s/studies/data/friedman1.csv", root);
        if ((f = fopen(path, "r"))) {
            for (int l = 0; l < 6 && fgets(line, sizeof line, f); l++)
                add(&b, line, strlen(line));
            fclose(f);
            count += emit_data(emit, user, "friedman1-head", &b, 2);
        }
        free(b.p);
    }
    return count;
}

/* ------------------------------------------------------------- YAML files */

/* Studies that use every search method and kind of parameter. */
static const char *const study_texts[] = {
    "name: s\nseed: 1\ndata:\n  train: {csv: data.csv, target: y}\n  validation_split: 0.25\n"
    "model:\n  - Dense: {units: $units, activation: $act, repeat: $depth}\n"
    "  - Dense: {units: 1}\ncompile:\n  optimizer: {Adam: {learning_rate: $lr}}\n"
    "  loss: mse\n  metrics: [mae]\nfit: {epochs: 3, batch_size: 8}\n"
    "callbacks:\n  - EarlyStopping: {monitor: val_loss, patience: 2}\n"
    "search:\n  method: random\n  metric: {name: val_loss, goal: minimize}\n  max_trials: 4\n"
    "  parameters:\n    units: {int: [2, 16], step: 2}\n    act: {values: [relu, tanh]}\n"
    "    depth: {int: [0, 2]}\n    lr: {float: [1.0e-4, 1.0e-1], log: true}\n",

    "name: g\ndata:\n  train: {npy: {x: x.npy, y: y.npy}}\nmodel:\n"
    "  - Dense: {units: 4, activation: relu, input_shape: [3]}\n"
    "  - Dropout: {rate: $rate}\n  - Dense: {units: 2, activation: softmax}\n"
    "compile: {optimizer: SGD, loss: sparse_categorical_crossentropy, metrics: [accuracy]}\n"
    "search:\n  method: grid\n  parameters:\n    rate: {float: [0.0, 0.5], grid_points: 3}\n",

    "name: b\ndata:\n  train: {idx: {x: x.idx, y: y.idx}, scale: 255}\nmodel:\n"
    "  - Flatten: {input_shape: [2, 2]}\n  - Dense: {units: $u}\n"
    "  - BatchNormalization: {momentum: $m}\n  - Dense: {units: 3, activation: softmax}\n"
    "compile: {optimizer: {RMSprop: {learning_rate: 0.01}}, loss: "
    "sparse_categorical_crossentropy}\nfit: {epochs: 9}\n"
    "search:\n  method: bayesian\n  max_trials: 5\n  parameters:\n"
    "    u: {int: [1, 8]}\n    m: {float: [0.5, 0.99]}\n",

    "name: h\ndata:\n  train: {csv: d.csv, target: [a, b]}\nmodel:\n  - Dense: {units: $u}\n"
    "compile: {optimizer: {SGD: {momentum: $mom}}, loss: mse}\nfit: {epochs: 9}\n"
    "ensemble: {top: 2, weights: greedy}\n"
    "search:\n  method: hyperband\n  max_epochs: 9\n  factor: 3\n  parameters:\n"
    "    u: {values: [1, 2]}\n    mom: {values: [0.0, 0.9]}\n",
};

/* One repository YAML file as a seed, as it is. */
typedef struct repo_text {
    fuzz_emit_fn emit;
    void *user;
} repo_text;

static void emit_text_file(const char *path, void *user)
{
    repo_text *r = user;
    ks_error err;
    char *text = ks_read_text(path, &err);
    const char *base = strrchr(path, '/');
    if (!text)
        return;
    r->emit(r->user, base ? base + 1 : path, (const unsigned char *)text, strlen(text));
    free(text);
}

static int seed_yaml(const char *root, fuzz_emit_fn emit, void *user)
{
    repo_text r = {emit, user};
    int count = 0;
    for (int p = 0; yaml_patterns[p]; p++)
        count += each_file(root, yaml_patterns[p], emit_text_file, &r);
    for (size_t i = 0; i < sizeof study_texts / sizeof study_texts[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "study%zu", i);
        emit(user, name, (const unsigned char *)study_texts[i], strlen(study_texts[i]));
        count++;
    }
    return count;
}

/* The wire targets' seeds (seeds_wire.c), with model 0 saved as the checkpoint. */
static int seed_wire(int strip_crc, fuzz_emit_fn emit, void *user)
{
    ks_model *m = make_model(0, 0);
    unsigned char *ckpt = NULL;
    size_t len = 0;
    ks_error err;
    int count;
    if (m && ks_model_save_buffer(m, KS_SAVE_OPTIMIZER, 3, &ckpt, &len, &err) != KS_OK) {
        fprintf(stderr, "fuzz seeds: the checkpoint does not save: %s\n", err.msg);
        ckpt = NULL;
        len = 0;
    }
    ks_model_free(m);
    count = fuzz_wire_seeds(ckpt, len, strip_crc, emit, user);
    free(ckpt);
    return count;
}

int fuzz_seeds(const char *target, const char *root, fuzz_emit_fn emit, void *user)
{
    root = root ? root : ".";
    if (strcmp(target, "ksm") == 0 || strcmp(target, "ksm_crc") == 0)
        return seed_models(strcmp(target, "ksm_crc") == 0, emit, user);
    if (strcmp(target, "ensemble") == 0 || strcmp(target, "ensemble_crc") == 0)
        return seed_ensembles(strcmp(target, "ensemble_crc") == 0, emit, user);
    if (strcmp(target, "idx") == 0 || strcmp(target, "idx_gz") == 0)
        return seed_idx(root, strcmp(target, "idx_gz") == 0, emit, user);
    if (strcmp(target, "npy") == 0)
        return seed_npy(emit, user);
    if (strcmp(target, "csv") == 0)
        return seed_csv(root, emit, user);
    if (strcmp(target, "study") == 0 || strcmp(target, "run_yaml") == 0)
        return seed_yaml(root, emit, user);
    if (strcmp(target, "model") == 0)
        return seed_model_configs(emit, user) + seed_yaml(root, emit, user);
    if (strcmp(target, "wire") == 0 || strcmp(target, "wire_crc") == 0)
        return seed_wire(strcmp(target, "wire_crc") == 0, emit, user);
    return -1;
}

/* ------------------------------------------------------------- dictionaries */

/* Entries written to the current dictionary, so that each appears once. */
static char *dict_seen[4096];
static int n_dict_seen;

static void dict_reset(void)
{
    for (int i = 0; i < n_dict_seen; i++)
        free(dict_seen[i]);
    n_dict_seen = 0;
}

/* One libFuzzer dictionary entry: "token", with quotes, backslashes and bytes escaped. */
static void dict_entry(FILE *f, const char *s)
{
    for (int i = 0; i < n_dict_seen; i++)
        if (strcmp(dict_seen[i], s) == 0)
            return;
    if (n_dict_seen < (int)(sizeof dict_seen / sizeof dict_seen[0]) &&
        (dict_seen[n_dict_seen] = strdup(s)))
        n_dict_seen++;
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p == '"' || *p == '\\' || *p < 0x20 || *p >= 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    fputs("\"\n", f);
}

static void dict_list(FILE *f, const char *const *names)
{
    for (int i = 0; names && names[i]; i++)
        dict_entry(f, names[i]);
}

static void dict_keys(FILE *f, const ks_key *keys)
{
    for (int i = 0; keys && keys[i].name; i++) {
        dict_entry(f, keys[i].name);
        dict_list(f, keys[i].choices);
    }
}

/* Every map key and string scalar of a value tree. */
static void dict_value(FILE *f, const ks_value *v)
{
    if (v->key)
        dict_entry(f, v->key);
    if (v->kind == KS_VALUE_STRING && v->string && strlen(v->string) < 40)
        dict_entry(f, v->string);
    for (size_t i = 0; i < v->n; i++)
        dict_value(f, &v->items[i]);
}

/* Every key and short string of a YAML file (f is the dictionary's FILE). */
static void dict_file(const char *path, void *f)
{
    ks_value doc;
    ks_error err;
    if (ks_yaml_load(path, path, &doc, &err) == KS_OK)
        dict_value(f, &doc);
    ks_value_free(&doc);
}

/* The names of the engine's registries: what a model or study file is made of. */
static void dict_engine(FILE *f)
{
    static const char *const extra[] = {"input_shape", "name", "inputs", "repeat", "accuracy",
                                        "mae", "mse", "loss", "val_loss", "val_accuracy",
                                        "layers", "compile", "meta", "optimizer", "metrics",
                                        "loss_weights", NULL};
    for (int i = 0; ks_layer_kinds[i]; i++) {
        dict_entry(f, ks_layer_kinds[i]->name);
        dict_keys(f, ks_layer_kinds[i]->keys);
    }
    for (int i = 0; ks_optimizer_kinds[i]; i++) {
        dict_entry(f, ks_optimizer_kinds[i]->name);
        dict_keys(f, ks_optimizer_kinds[i]->keys);
        dict_list(f, ks_optimizer_kinds[i]->slot_names);
    }
    for (int i = 0; ks_loss_kinds[i]; i++) {
        dict_entry(f, ks_loss_kinds[i]->name);
        dict_list(f, ks_loss_kinds[i]->aliases);
    }
    dict_keys(f, ks_loss_keys);
    dict_list(f, ks_activation_names);
    dict_list(f, ks_initializer_names);
    dict_list(f, ks_callback_names);
    dict_list(f, extra);
}

int fuzz_dictionary(const char *target, const char *root, FILE *f)
{
    static const char *const yaml_syntax[] = {": ", "- ", "{", "}", "[", "]", "$", "true",
                                              "false", "null", "~", ".inf", "-.inf", ".nan",
                                              "1e-3", "\n  ", "&a ", "*a", "!!str ", NULL};
    static const char *const npy_words[] = {"\x93NUMPY", "descr", "fortran_order", "shape",
                                            "'<f4'", "'<f8'", "'|u1'", "'<i8'", "'>f4'",
                                            "True", "False", "(", ")", ", ", NULL};
    static const char *const csv_words[] = {"y", "b", "label", "\"", "\"\"", "\r\n", ";",
                                            "\t", "1e308", "nan", "inf", "-0", "\xEF\xBB\xBF",
                                            NULL};
    root = root ? root : ".";
    dict_reset();
    if (strcmp(target, "npy") == 0) {
        dict_list(f, npy_words);
        return 0;
    }
    if (strcmp(target, "csv") == 0) {
        dict_list(f, csv_words);
        return 0;
    }
    if (strncmp(target, "ksm", 3) == 0 || strncmp(target, "ensemble", 8) == 0) {
        dict_entry(f, "\x89KSM");
        dict_entry(f, "\x89KSE");
        dict_entry(f, "optimizer/");
        dict_engine(f);
        return 0;
    }
    if (strcmp(target, "study") == 0 || strcmp(target, "run_yaml") == 0 ||
        strcmp(target, "model") == 0) {
        dict_list(f, yaml_syntax);
        dict_engine(f);
        for (int p = 0; yaml_patterns[p]; p++)
            each_file(root, yaml_patterns[p], dict_file, f);
        return 0;
    }
    return -1;
}
