/*
 * test_preprocessing.c — preprocessing inside the model against Keras's documented
 * examples: Normalization (adapted, given, invert, the variance floor, statistics from the
 * training rows only, through save/load and an ensemble), StringLookup and IntegerLookup
 * (vocabulary order and ties, OOV and mask indices, one_hot/multi_hot/count, an unseen
 * value without an OOV index, an Embedding after one), CategoryEncoding, target
 * standardization (a last Normalization with invert, adapted on the targets) round
 * trips, and the messages for what the layers cannot take.
 */
#include "check.h"
#include "grad_check.h"

/* The model of the YAML list, or NULL (a failed check). */
static ks_model *model_of(const char *yaml, const char *why)
{
    ks_value v;
    ks_model *m = NULL;
    ks_error err;
    if (ks_yaml_load_text(yaml, "model.yaml", &v, &err) != KS_OK ||
        ks_model_from_config(&v, NULL, 1, &m, &err) != KS_OK) {
        CHECK(0, "%s: %s", why, err.msg);
        m = NULL;
    }
    ks_value_free(&v);
    return m;
}

/* The build error of the YAML list (NULL when it builds). */
static const char *build_error(const char *yaml, ks_error *err)
{
    ks_value v;
    ks_model *m = NULL;
    ks_status s = ks_yaml_load_text(yaml, "model.yaml", &v, err);
    if (s == KS_OK)
        s = ks_model_from_config(&v, NULL, 1, &m, err);
    ks_value_free(&v);
    ks_model_free(m);
    return s == KS_OK ? NULL : err->msg;
}

/* One input array of n rows (numbers or text) of width w. */
static ks_data data_of(const float *x, const char *const *text, size_t n, int w)
{
    ks_data d;
    memset(&d, 0, sizeof d);
    d.n = n;
    d.n_inputs = 1;
    d.inputs[0].shape.ndim = 1;
    d.inputs[0].shape.dim[0] = w;
    d.inputs[0].size = (size_t)w;
    d.inputs[0].data = x;
    d.inputs[0].text = text;
    return d;
}

static int near_all(const float *got, const float *want, size_t n, float tol)
{
    for (size_t i = 0; i < n; i++)
        if (!(fabsf(got[i] - want[i]) <= tol))
            return 0;
    return 1;
}

/* predict after save and load gives the same bits */
static void check_reload(ks_model *m, const ks_data *d, const float *out, size_t len,
                         const char *why)
{
    static float again[512];
    unsigned char *buf = NULL;
    size_t blen = 0;
    ks_model *back = NULL;
    ks_error err;
    if (ks_model_save_buffer(m, 0, 0, &buf, &blen, &err) != KS_OK ||
        ks_model_load_buffer(buf, blen, why, &back, NULL, &err) != KS_OK)
        CHECK(0, "%s: save and load: %s", why, err.msg);
    else
        CHECK(ks_model_predict(back, d, 4, again, &err) == KS_OK &&
                  memcmp(out, again, len * sizeof *out) == 0,
              "%s: the reloaded model predicts the same", why);
    ks_model_free(back);
    free(buf);
}

/* ----------------------------------------------------------- Normalization */

static void test_normalization(void)
{
    static const float adapt_rows[12] = {0, 7, 4, 2, 9, 6, 0, 7, 4, 2, 9, 6};
    static const float x1[3] = {0, 7, 4}, x3[3] = {1, 2, 3};
    float out[16];
    ks_error err;
    ks_model *m;
    ks_data d;

    /* Keras's example: adapt on four rows, then [0, 7, 4] → [-1, -1, -1] */
    m = model_of("[{Input: {shape: [3]}}, {Normalization: {}}]", "Normalization");
    if (m) {
        d = data_of(adapt_rows, NULL, 4, 3);
        CHECK(ks_model_adapt(m, &d, &err) == KS_OK, "adapt: %s", err.msg);
        d = data_of(x1, NULL, 1, 3);
        CHECK(ks_model_predict(m, &d, 4, out, &err) == KS_OK &&
                  near_all(out, (const float[]){-1, -1, -1}, 3, 1e-6f),
              "adapted: [0, 7, 4] → %g %g %g", out[0], out[1], out[2]);
        check_reload(m, &d, out, 3, "adapted Normalization");
        CHECK(ks_model_n_weights(m) == 2 && !ks_model_weight_trainable(m, 0) &&
                  strcmp(ks_model_weight_name(m, 0), "normalization/mean") == 0 &&
                  strcmp(ks_model_weight_name(m, 1), "normalization/variance") == 0,
              "non-trainable weights mean and variance: %s", ks_model_weight_name(m, 0));
        ks_model_free(m);
    }
    /* given: mean 3, variance 2 → [1, 2, 3] → [-1.4142135, -0.70710677, 0] */
    m = model_of("[{Input: {shape: [1]}}, {Normalization: {mean: 3, variance: 2}}]", "given");
    if (m) {
        d = data_of(x3, NULL, 3, 1);
        CHECK(ks_model_predict(m, &d, 4, out, &err) == KS_OK &&
                  near_all(out, (const float[]){-1.4142135f, -0.70710677f, 0}, 3, 1e-6f),
              "given: %g %g %g", out[0], out[1], out[2]);
        ks_model_free(m);
    }
    /* invert: x·std + mean; a variance of 0 is floored at epsilon's square (std 1e-7) */
    m = model_of("[{Input: {shape: [3]}}, {Normalization: {mean: [1, 2, 3], variance: [4, 0, 1], "
                 "invert: true}}]",
                 "invert");
    if (m) {
        d = data_of(x3, NULL, 1, 3);
        CHECK(ks_model_predict(m, &d, 4, out, &err) == KS_OK &&
                  near_all(out, (const float[]){3, 2.0000002f, 6}, 3, 1e-6f),
              "invert: %g %g %g", out[0], out[1], out[2]);
        ks_model_free(m);
    }
    m = model_of("[{Input: {shape: [1]}}, {Normalization: {mean: 1, variance: 0}}]", "floor");
    if (m) {
        d = data_of(x3, NULL, 1, 1);
        CHECK(ks_model_predict(m, &d, 4, out, &err) == KS_OK && out[0] == 0.0f,
              "variance 0: x − mean over 1e-7 (%g)", out[0]);
        d = data_of(x3 + 1, NULL, 1, 1);
        CHECK(ks_model_predict(m, &d, 4, out, &err) == KS_OK && fabsf(out[0] - 1e7f) < 1.0f,
              "variance 0: 1 / 1e-7 = %g", out[0]);
        ks_model_free(m);
    }
    CHECK(build_error("[{Input: {shape: [2]}}, {Normalization: {mean: [1, 2]}}]", &err) &&
              strstr(err.msg, "give both mean and variance, or neither"),
          "mean without variance: %s", err.msg);
    CHECK(build_error("[{Input: {shape: [2]}}, {Normalization: {mean: [1, 2, 3], variance: 1}}]",
                      &err) &&
              strstr(err.msg, "a list of 2 numbers"),
          "a mean of the wrong length: %s", err.msg);
    CHECK(build_error("[{Input: {shape: [2]}}, {Normalization: {axis: 0}}]", &err) &&
              strstr(err.msg, "axis must be -1"),
          "another axis: %s", err.msg);
}

/* Statistics from the training rows only: fit with validation_split leaves the last rows
   (here 1000 times larger) out of the mean. */
static void test_training_rows_only(void)
{
    float x[10], y[10];
    ks_value model, compile;
    ks_model *m = NULL;
    ks_dataset *ds = NULL;
    ks_fit_params p = ks_fit_params_default();
    ks_fit_history h;
    ks_error err;
    ks_shape s = {1, {1}};
    for (int i = 0; i < 10; i++) {
        x[i] = i < 8 ? (float)i : 1000.0f * (float)i;
        y[i] = (float)(i % 2);
    }
    ks_fit_history_init(&h);
    if (ks_yaml_load_text("[{Input: {shape: [1]}}, {Normalization: {}}, {Dense: {units: 1}}]",
                          "m.yaml", &model, &err) != KS_OK ||
        ks_yaml_load_text("{optimizer: sgd, loss: mse}", "c.yaml", &compile, &err) != KS_OK) {
        CHECK(0, "yaml: %s", err.msg);
        return;
    }
    p.epochs = 1;
    p.verbose = 0;
    p.validation_split = 0.2;
    if (ks_model_from_config(&model, NULL, 1, &m, &err) != KS_OK ||
        ks_model_compile(m, &compile, &err) != KS_OK ||
        ks_dataset_from_arrays(&s, 10, x, 1, y, 0, &ds, &err) != KS_OK) {
        CHECK(0, "build: %s", err.msg);
    } else {
        ks_data d = ks_dataset_data(ds);
        CHECK(ks_model_fit(m, &d, NULL, &p, NULL, 0, &h, &err) == KS_OK, "fit: %s", err.msg);
        CHECK(ks_model_weight_data(m, 0)[0] == 3.5f &&
                  fabsf(ks_model_weight_data(m, 1)[0] - 5.25f) < 1e-6f,
              "mean %g and variance %g of rows 0..7 only (3.5, 5.25)",
              ks_model_weight_data(m, 0)[0], ks_model_weight_data(m, 1)[0]);
    }
    ks_fit_history_free(&h);
    ks_dataset_free(ds);
    ks_model_free(m);
    ks_value_free(&model);
    ks_value_free(&compile);
}

/* Two members with Normalization: the ensemble's prediction is their weighted mean. */
static void test_ensemble(void)
{
    static const float x[4] = {1, 2, 3, 4};
    float a[4], b[4], e[4];
    ks_model *m[2];
    ks_ensemble *ens = NULL;
    ks_error err;
    ks_data d = data_of(x, NULL, 4, 1);
    double w[2] = {0.25, 0.75};
    m[0] = model_of("[{Input: {shape: [1]}}, {Normalization: {mean: 1, variance: 4}}, "
                    "{Dense: {units: 1}}]",
                    "member 0");
    m[1] = model_of("[{Input: {shape: [1]}}, {Normalization: {mean: 2, variance: 9}}, "
                    "{Dense: {units: 1}}]",
                    "member 1");
    if (!m[0] || !m[1]) {
        ks_model_free(m[0]);
        ks_model_free(m[1]);
        return;
    }
    CHECK(ks_model_predict(m[0], &d, 4, a, &err) == KS_OK &&
              ks_model_predict(m[1], &d, 4, b, &err) == KS_OK,
          "members predict: %s", err.msg);
    for (int k = 0; k < 2; k++) {
        ks_value compile;
        ks_yaml_load_text("{optimizer: sgd, loss: mse}", "c.yaml", &compile, &err);
        CHECK(ks_model_compile(m[k], &compile, &err) == KS_OK, "compile: %s", err.msg);
        ks_value_free(&compile);
    }
    if (ks_ensemble_new(m, w, 2, KS_ENSEMBLE_ARITHMETIC, &ens, &err) != KS_OK) {
        CHECK(0, "ensemble: %s", err.msg);
        return;
    }
    CHECK(ks_ensemble_predict(ens, &d, 4, e, &err) == KS_OK, "ensemble predict: %s", err.msg);
    for (int i = 0; i < 4; i++)
        CHECK(fabsf(e[i] - (0.25f * a[i] + 0.75f * b[i])) < 1e-5f,
              "row %d: ensemble %g, members %g %g", i, e[i], a[i], b[i]);
    ks_ensemble_free(ens);
}

/* ------------------------------------------------------------------ lookups */

/* The vocabulary of layer 1 as "a b c". */
static void vocabulary(ks_model *m, char *buf, size_t size)
{
    ks_value layers, *v;
    size_t used = 0;
    buf[0] = '\0';
    if (ks_model_config(m, &layers, NULL) != KS_OK)
        return;
    v = ks_value_get(&layers.items[1].items[0], "vocabulary");
    for (size_t i = 0; v && v->kind == KS_VALUE_LIST && i < v->n; i++) {
        if (v->items[i].kind == KS_VALUE_STRING)
            used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " " : "",
                                     v->items[i].string);
        else
            used += (size_t)snprintf(buf + used, size - used, "%s%g", i ? " " : "",
                                     v->items[i].number);
    }
    ks_value_free(&layers);
}

/* A lookup model over text (strings) or numbers, adapted on a when given, predicting d. */
static ks_model *lookup(const char *yaml, const ks_data *adapt, const ks_data *d, float *out,
                        ks_error *err, const char *why)
{
    ks_model *m = model_of(yaml, why);
    if (!m)
        return NULL;
    if ((adapt && ks_model_adapt(m, adapt, err) != KS_OK) ||
        ks_model_predict(m, d, 4, out, err) != KS_OK) {
        ks_model_free(m);
        return NULL;
    }
    return m;
}

static void test_string_lookup(void)
{
    static const char *const data[6] = {"a", "c", "d", "d", "z", "b"};
    static const char *const one[5] = {"a", "b", "c", "d", "z"};
    static const char *const hot[8] = {"a", "c", "d", "d", "d", "z", "b", "z"};
    ks_data d = data_of(NULL, data, 2, 3), a = d;
    char vocab[256];
    float out[64];
    ks_error err;
    ks_model *m;
    /* Keras: adapt on [[a, c, d], [d, z, b]] → [UNK], d, z, c, b, a */
    m = lookup("[{Input: {shape: [3], dtype: string}}, {StringLookup: {}}]", &a, &d, out, &err,
               "adapt");
    CHECK(m != NULL, "StringLookup adapts: %s", m ? "" : err.msg);
    if (m) {
        vocabulary(m, vocab, sizeof vocab);
        CHECK(strcmp(vocab, "d z c b a") == 0, "vocabulary by count, ties last first: %s", vocab);
        CHECK(near_all(out, (const float[]){5, 3, 1, 1, 2, 4}, 6, 0),
              "ids %g %g %g %g %g %g", out[0], out[1], out[2], out[3], out[4], out[5]);
        check_reload(m, &d, out, 6, "adapted StringLookup");
        ks_model_free(m);
    }
    /* Keras: vocabulary [a, b, c, d]; [[a, c, d], [d, z, b]] → [[1, 3, 4], [4, 0, 2]] */
    m = lookup("[{Input: {shape: [3], dtype: string}}, {StringLookup: {vocabulary: [a, b, c, d]}}]",
               NULL, &d, out, &err, "given");
    CHECK(m && near_all(out, (const float[]){1, 3, 4, 4, 0, 2}, 6, 0),
          "given vocabulary, z to the OOV index 0: %s", m ? "" : err.msg);
    ks_model_free(m);
    /* with a mask token: 0 the mask, 1 OOV, the vocabulary from 2 */
    m = lookup("[{Input: {shape: [3], dtype: string}}, {StringLookup: {vocabulary: [a, b, c, d], "
               "mask_token: z}}]",
               NULL, &d, out, &err, "mask");
    CHECK(m && near_all(out, (const float[]){2, 4, 5, 5, 0, 3}, 6, 0),
          "mask_token: z → 0, a → 2: %s", m ? "" : err.msg);
    ks_model_free(m);
    /* one_hot: five columns, the OOV index first */
    d = data_of(NULL, one, 5, 1);
    m = lookup("[{Input: {shape: [1], dtype: string}}, {StringLookup: {vocabulary: [a, b, c, d], "
               "output_mode: one_hot}}]",
               NULL, &d, out, &err, "one_hot");
    CHECK(m && near_all(out, (const float[]){0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0,
                                             0, 0, 1, 1, 0, 0, 0, 0},
                        25, 0),
          "one_hot rows: %s", m ? "" : err.msg);
    ks_model_free(m);
    /* multi_hot and count of [[a, c, d, d], [d, z, b, z]] */
    d = data_of(NULL, hot, 2, 4);
    m = lookup("[{Input: {shape: [4], dtype: string}}, {StringLookup: {vocabulary: [a, b, c, d], "
               "output_mode: multi_hot}}]",
               NULL, &d, out, &err, "multi_hot");
    CHECK(m && near_all(out, (const float[]){0, 1, 0, 1, 1, 1, 0, 1, 0, 1}, 10, 0),
          "multi_hot: %s", m ? "" : err.msg);
    ks_model_free(m);
    m = lookup("[{Input: {shape: [4], dtype: string}}, {StringLookup: {vocabulary: [a, b, c, d], "
               "output_mode: count}}]",
               NULL, &d, out, &err, "count");
    CHECK(m && near_all(out, (const float[]){0, 1, 0, 1, 2, 2, 0, 1, 0, 1}, 10, 0),
          "count: %s", m ? "" : err.msg);
    ks_model_free(m);
    /* num_oov_indices 0: an unseen value is an error naming it */
    d = data_of(NULL, data, 2, 3);
    m = lookup("[{Input: {shape: [3], dtype: string}}, {StringLookup: {vocabulary: [a, b, c, d], "
               "num_oov_indices: 0}}]",
               NULL, &d, out, &err, "no oov");
    CHECK(!m && strstr(err.msg, "row 1 column 1 holds \"z\", which is not in the vocabulary"),
          "unseen without an OOV index: %s", err.msg);
    ks_model_free(m);
    /* max_tokens keeps the most frequent */
    m = lookup("[{Input: {shape: [3], dtype: string}}, {StringLookup: {max_tokens: 3}}]", &a, &d,
               out, &err, "max_tokens");
    if (m) {
        vocabulary(m, vocab, sizeof vocab);
        CHECK(strcmp(vocab, "d z") == 0, "max_tokens 3: [UNK] and two tokens: %s", vocab);
        ks_model_free(m);
    }
    CHECK(build_error("[{Input: {shape: [1], dtype: string}}, {StringLookup: {output_mode: "
                      "one_hot}}]",
                      &err) &&
              strstr(err.msg, "needs max_tokens (or a vocabulary)"),
          "one_hot without a size: %s", err.msg);
    CHECK(build_error("[{Input: {shape: [1], dtype: string}}, {StringLookup: {num_oov_indices: "
                      "2}}]",
                      &err) &&
              strstr(err.msg, "num_oov_indices must be 0 or 1"),
          "several OOV indices: %s", err.msg);
    CHECK(build_error("[{Input: {shape: [1]}}, {StringLookup: {}}]", &err) &&
              strstr(err.msg, "must be an Input of dtype string"),
          "StringLookup on numbers: %s", err.msg);
    CHECK(build_error("[{Input: {shape: [1], dtype: string}}, {Dense: {units: 2}}]", &err) &&
              strstr(err.msg, "through a StringLookup"),
          "text straight into Dense suggests StringLookup: %s", err.msg);
}

static void test_integer_lookup(void)
{
    static const float data[6] = {12, 1138, 42, 42, 1000, 36};
    static const float bad[1] = {2.5f};
    ks_data d = data_of(data, NULL, 2, 3);
    char vocab[256];
    float out[32];
    ks_error err;
    ks_model *m;
    /* Keras: adapt on [[12, 1138, 42], [42, 1000, 36]] → -1, 42, 1138, 1000, 36, 12 */
    m = lookup("[{Input: {shape: [3]}}, {IntegerLookup: {}}]", &d, &d, out, &err, "adapt");
    CHECK(m != NULL, "IntegerLookup adapts: %s", m ? "" : err.msg);
    if (m) {
        vocabulary(m, vocab, sizeof vocab);
        CHECK(strcmp(vocab, "42 1138 1000 36 12") == 0, "ties: the larger value first: %s",
              vocab);
        CHECK(near_all(out, (const float[]){5, 2, 1, 1, 3, 4}, 6, 0), "ids %g %g %g", out[0],
              out[1], out[2]);
        check_reload(m, &d, out, 6, "adapted IntegerLookup");
        ks_model_free(m);
    }
    /* Keras: vocabulary [12, 36, 1138, 42] → [[1, 3, 4], [4, 0, 2]] */
    m = lookup("[{Input: {shape: [3]}}, {IntegerLookup: {vocabulary: [12, 36, 1138, 42]}}]",
               NULL, &d, out, &err, "given");
    CHECK(m && near_all(out, (const float[]){1, 3, 4, 4, 0, 2}, 6, 0),
          "given vocabulary, 1000 to the OOV index: %s", m ? "" : err.msg);
    ks_model_free(m);
    d = data_of(bad, NULL, 1, 1);
    m = lookup("[{Input: {shape: [1]}}, {IntegerLookup: {vocabulary: [1, 2]}}]", NULL, &d, out,
               &err, "bad");
    CHECK(!m && strstr(err.msg, "holds 2.5; IntegerLookup maps integers"),
          "a value that is not an integer: %s", err.msg);
    ks_model_free(m);
    CHECK(build_error("{layers: [{Input: {shape: [1], name: c}}, {IntegerLookup: {vocabulary: "
                      "[1, 2], inputs: c, name: lk}}, {Dense: {units: 1, inputs: c, name: d}}, "
                      "{Concatenate: {inputs: [lk, d]}}]}",
                      &err) &&
              strstr(err.msg, "encodes it once per data set"),
          "an encoded input read by another layer: %s", err.msg);
}

static void test_category_encoding(void)
{
    static const float ids[4] = {3, 2, 0, 1}, pairs[8] = {0, 1, 0, 0, 1, 2, 3, 1};
    ks_data d = data_of(ids, NULL, 4, 1);
    float out[32];
    ks_error err;
    ks_model *m = lookup("[{Input: {shape: [1]}}, {CategoryEncoding: {num_tokens: 4, "
                         "output_mode: one_hot}}]",
                         NULL, &d, out, &err, "one_hot");
    CHECK(m && near_all(out, (const float[]){0, 0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0}, 16,
                        0),
          "one_hot: %s", m ? "" : err.msg);
    ks_model_free(m);
    d = data_of(pairs, NULL, 4, 2);
    m = lookup("[{Input: {shape: [2]}}, {CategoryEncoding: {num_tokens: 4}}]", NULL, &d, out,
               &err, "multi_hot");
    CHECK(m && near_all(out, (const float[]){1, 1, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1}, 16,
                        0),
          "multi_hot (the default): %s", m ? "" : err.msg);
    ks_model_free(m);
    m = lookup("[{Input: {shape: [2]}}, {CategoryEncoding: {num_tokens: 4, output_mode: count}}]",
               NULL, &d, out, &err, "count");
    CHECK(m && near_all(out, (const float[]){1, 1, 0, 0, 2, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1}, 16,
                        0),
          "count: %s", m ? "" : err.msg);
    ks_model_free(m);
    m = lookup("[{Input: {shape: [2]}}, {CategoryEncoding: {num_tokens: 3}}]", NULL, &d, out,
               &err, "range");
    CHECK(!m && strstr(err.msg, "row 3 column 0 holds 3; CategoryEncoding takes indices in [0, "
                                "num_tokens 3)"),
          "an index out of range: %s", err.msg);
    ks_model_free(m);
}

/* StringLookup → Embedding trains, and StringLookup → CategoryEncoding → Dense too. */
static void test_lookup_models(void)
{
    static const char *const cats[8] = {"red", "blue", "red", "green", "blue", "red", "x", "blue"};
    static const float y[8] = {1, 0, 1, 0, 0, 1, 0, 0};
    static const char *const models[2] = {
        "[{Input: {shape: [1], dtype: string}}, {StringLookup: {}}, {Embedding: {input_dim: 5, "
        "output_dim: 2}}, {Flatten: {}}, {Dense: {units: 1, activation: sigmoid}}]",
        "[{Input: {shape: [1], dtype: string}}, {StringLookup: {}}, {CategoryEncoding: "
        "{num_tokens: 5, output_mode: one_hot}}, {Dense: {units: 1, activation: sigmoid}}]"};
    for (int k = 0; k < 2; k++) {
        ks_model *m = model_of(models[k], "lookup model");
        ks_value compile;
        ks_fit_params p = ks_fit_params_default();
        ks_fit_history h;
        ks_error err;
        ks_data d = data_of(NULL, cats, 8, 1);
        float out[8];
        if (!m)
            continue;
        d.n_targets = 1;
        d.targets[0].shape.ndim = 1;
        d.targets[0].shape.dim[0] = 1;
        d.targets[0].size = 1;
        d.targets[0].data = y;
        ks_yaml_load_text("{optimizer: {Adam: {learning_rate: 0.1}}, loss: binary_crossentropy}",
                          "c.yaml", &compile, &err);
        p.epochs = 30;
        p.verbose = 0;
        p.batch_size = 8;
        ks_fit_history_init(&h);
        CHECK(ks_model_compile(m, &compile, &err) == KS_OK &&
                  ks_model_fit(m, &d, NULL, &p, NULL, 0, &h, &err) == KS_OK,
              "%s fits: %s", k ? "CategoryEncoding" : "Embedding", err.msg);
        CHECK(ks_model_predict(m, &d, 8, out, &err) == KS_OK && out[0] > 0.8f && out[1] < 0.2f,
              "%s learns red → 1, blue → 0: %g %g", k ? "CategoryEncoding" : "Embedding", out[0],
              out[1]);
        ks_fit_history_free(&h);
        ks_value_free(&compile);
        ks_model_free(m);
    }
}

/* ------------------------------------------------- target standardization */

static void test_target_standardization(void)
{
    float x[40], y[40], out[40];
    ks_value compile;
    ks_model *m = model_of("[{Input: {shape: [1]}}, {Dense: {units: 1}}, {Normalization: "
                           "{invert: true}}]",
                           "standardized targets");
    ks_fit_params p = ks_fit_params_default();
    ks_fit_history h;
    ks_error err;
    ks_data d;
    double mean = 0, var = 0;
    if (!m)
        return;
    for (int i = 0; i < 40; i++) {
        x[i] = (float)(i - 20) / 10.0f;
        y[i] = 5000.0f + 300.0f * x[i];
        mean += y[i] / 40.0;
    }
    for (int i = 0; i < 40; i++)
        var += (y[i] - mean) * (y[i] - mean) / 40.0;
    d = data_of(x, NULL, 40, 1);
    d.n_targets = 1;
    d.targets[0].shape.ndim = 1;
    d.targets[0].shape.dim[0] = 1;
    d.targets[0].size = 1;
    d.targets[0].data = y;
    ks_yaml_load_text("{optimizer: {Adam: {learning_rate: 0.05}}, loss: mse}", "c.yaml", &compile,
                      &err);
    p.epochs = 60;
    p.verbose = 0;
    p.batch_size = 8;
    ks_fit_history_init(&h);
    CHECK(ks_model_compile(m, &compile, &err) == KS_OK &&
              ks_model_fit(m, &d, NULL, &p, NULL, 0, &h, &err) == KS_OK,
          "fit: %s", err.msg);
    CHECK(fabs(ks_model_weight_data(m, 2)[0] - mean) < 1e-3 &&
              fabs(ks_model_weight_data(m, 3)[0] - var) < 1e-1,
          "the targets' mean %g and variance %g (want %g, %g)", ks_model_weight_data(m, 2)[0],
          ks_model_weight_data(m, 3)[0], mean, var);
    CHECK(ks_model_predict(m, &d, 8, out, &err) == KS_OK && fabsf(out[0] - y[0]) < 5.0f &&
              fabsf(out[39] - y[39]) < 5.0f,
          "predictions in the targets' units: %g (%g), %g (%g)", out[0], y[0], out[39], y[39]);
    check_reload(m, &d, out, 40, "target standardization");
    ks_fit_history_free(&h);
    ks_value_free(&compile);
    ks_model_free(m);
    /* the round trip: standardize with the same statistics, then undo */
    m = model_of("[{Input: {shape: [2]}}, {Normalization: {mean: [5000, -3], variance: [90000, "
                 "0.25]}}, {Normalization: {mean: [5000, -3], variance: [90000, 0.25], invert: "
                 "true}}]",
                 "round trip");
    if (m) {
        static const float v[4] = {5300, -2.5f, 4100, 7};
        d = data_of(v, NULL, 2, 2);
        CHECK(ks_model_predict(m, &d, 4, out, &err) == KS_OK && near_all(out, v, 4, 1e-3f),
              "standardize, then invert: %g %g %g %g", out[0], out[1], out[2], out[3]);
        ks_model_free(m);
    }
    m = model_of("[{Input: {shape: [1]}}, {Normalization: {invert: true}}, {Dense: {units: 1}}]",
                 "inverted not an output");
    if (m) {
        d = data_of(x, NULL, 40, 1);
        CHECK(ks_model_adapt(m, &d, &err) != KS_OK && strstr(err.msg, "must be a model output"),
              "an inverted Normalization that is no output: %s", err.msg);
        ks_model_free(m);
    }
}

/* Normalization passes gradients: Dense → Normalization (given, and inverted) → Dense. */
static void test_gradients(ks_rng *r)
{
    static const char *const args[2] = {"{mean: [0.5, -1, 2], variance: [4, 0.25, 1]}",
                                        "{mean: [0.5, -1, 2], variance: [4, 0.25, 1], invert: "
                                        "true}"};
    for (int k = 0; k < 2; k++) {
        char yaml[512];
        ks_value layers;
        ks_error err;
        batch b;
        snprintf(yaml, sizeof yaml,
                 "[{Input: {shape: [4]}}, {Dense: {units: 3, activation: tanh}}, "
                 "{Normalization: %s}, {Dense: {units: 2}}]",
                 args[k]);
        if (ks_yaml_load_text(yaml, "g.yaml", &layers, &err) != KS_OK) {
            CHECK(0, "yaml: %s", err.msg);
            continue;
        }
        fill_batch(&b, r, 4, 2, "real");
        b.use_w = 0;
        {
            ks_model *m = build(&layers, "mse", 0, 0, k ? "Normalization invert" : "Normalization");
            check_grads(m, &b, k ? "Normalization invert" : "Normalization");
            ks_model_free(m);
        }
    }
}

int main(void)
{
    ks_rng *r;
    ks_rng_new(11, 0, 0, &r);
    test_normalization();
    test_training_rows_only();
    test_ensemble();
    test_string_lookup();
    test_integer_lookup();
    test_category_encoding();
    test_lookup_models();
    test_target_standardization();
    test_gradients(r);
    ks_rng_free(r);
    return check_done();
}
