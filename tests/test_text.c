/*
 * test_text.c — text in the engine: CSV text columns (named, every non-numeric one,
 * mixed with numbers, a name that does not exist), TextVectorization against Keras's
 * documented behaviour (standardize, split, vocabulary order and ties, padding and
 * truncation, [UNK], max_tokens, multi_hot/count/tf_idf, a given vocabulary), adapt on
 * the training rows only, the vocabulary kept in the model file (bit-exact predictions
 * after a reload), and Input dtypes and None lengths.
 */
#include "check.h"
#include "grad_check.h"

#include <unistd.h>

static char dir[] = "/tmp/ks_test_text.XXXXXX";

static void write_file(const char *name, const char *text)
{
    char path[256];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static ks_dataset *load(const char *spec_yaml, ks_error *err)
{
    ks_value spec;
    ks_dataset *ds = NULL;
    if (ks_yaml_load_text(spec_yaml, "spec.yaml", &spec, err) != KS_OK)
        return NULL;
    if (ks_dataset_load(&spec, dir, &ds, err) != KS_OK)
        ds = NULL;
    ks_value_free(&spec);
    return ds;
}

/* ------------------------------------------------------------ CSV text */

static void test_csv_text(void)
{
    ks_error err;
    ks_dataset *ds;
    write_file("r.csv", "label,review,stars\n1,\"Great movie, loved it!\",5\n"
                        "0,Terrible. Boring plot,1\n1,\"Fine, \"\"ok\"\" film\",4\n");
    ds = load("{csv: r.csv, inputs: {words: review, num: stars}, targets: {y: label}, "
              "text: [review]}",
              &err);
    CHECK(ds != NULL, "named text column: %s", ds ? "" : err.msg);
    if (ds) {
        ks_data d = ks_dataset_data(ds), s;
        CHECK(d.n == 3 && d.n_inputs == 2 && d.inputs[0].text && !d.inputs[0].data &&
                  d.inputs[1].data && !d.inputs[1].text,
              "a text array and a number array");
        CHECK(strcmp(d.inputs[0].text[0], "Great movie, loved it!") == 0 &&
                  strcmp(d.inputs[0].text[2], "Fine, \"ok\" film") == 0,
              "cells as written, quotes undone: %s", d.inputs[0].text[2]);
        s = ks_data_slice(&d, 1, 3);
        CHECK(s.n == 2 && strcmp(s.inputs[0].text[0], "Terrible. Boring plot") == 0,
              "a slice of text starts at its first row");
        ks_dataset_free(ds);
    }
    ds = load("{csv: r.csv, targets: {y: label}, text: true, inputs: {w: review}}", &err);
    CHECK(ds && ds->d.inputs[0].text, "text: true finds the column that is not numbers: %s",
          ds ? "" : err.msg);
    ks_dataset_free(ds);
    /* with an inputs map, a column no array names may hold anything */
    ds = load("{csv: r.csv, inputs: {num: stars}, targets: {y: label}}", &err);
    CHECK(ds && ds->d.n == 3 && ds->d.inputs[0].data && ds->d.inputs[0].data[2] == 4.0f,
          "a text column nothing reads is not parsed as numbers: %s", ds ? "" : err.msg);
    ks_dataset_free(ds);
    ds = load("{csv: r.csv, target: label, text: review}", &err);
    CHECK(!ds && strstr(err.msg, "the columns \"review\" (text) and \"stars\" (numbers) cannot "
                                 "form one array"),
          "text and numbers in one array: %s", err.msg);
    ds = load("{csv: r.csv, target: label, text: revew}", &err);
    CHECK(!ds && err.line == 1 && strstr(err.msg, "no column named \"revew\" to read as text "
                                                  "(did you mean \"review\"?)"),
          "a text column that does not exist: %d:%d %s", err.line, err.col, err.msg);
    ds = load("{csv: r.csv, targets: {y: review}, text: [review]}", &err);
    CHECK(!ds && strstr(err.msg, "targets must be numbers"), "text targets: %s", err.msg);
    write_file("bad.csv", "label,review\n1,\"\xff\xfe\"\n");
    ds = load("{csv: bad.csv, target: label, text: review}", &err);
    CHECK(!ds && strstr(err.msg, "is not UTF-8 text"), "a cell that is not UTF-8: %s", err.msg);
}

/* -------------------------------------------------- TextVectorization */

/* A model Input(string) → TextVectorization(args); adapted on texts unless it has a
   vocabulary; outputs into out (n × width). */
static ks_model *vectorize(const char *args, const char *const *adapt_texts, size_t n_adapt,
                           const char *const *texts, size_t n, float *out, const char *why)
{
    char yaml[1024];
    ks_value model;
    ks_model *m = NULL;
    ks_error err;
    ks_data d;
    snprintf(yaml, sizeof yaml,
             "[{Input: {shape: [1], dtype: string}}, {TextVectorization: %s}]", args);
    if (ks_yaml_load_text(yaml, "model.yaml", &model, &err) != KS_OK ||
        ks_model_from_config(&model, NULL, 1, &m, &err) != KS_OK) {
        CHECK(0, "%s: %s", why, err.msg);
        ks_value_free(&model);
        return NULL;
    }
    ks_value_free(&model);
    memset(&d, 0, sizeof d);
    d.n_inputs = 1;
    d.inputs[0].shape.ndim = 1;
    d.inputs[0].shape.dim[0] = 1;
    d.inputs[0].size = 1;
    if (adapt_texts) {
        d.n = n_adapt;
        d.inputs[0].text = adapt_texts;
        if (ks_model_adapt(m, &d, &err) != KS_OK) {
            CHECK(0, "%s: adapt: %s", why, err.msg);
            ks_model_free(m);
            return NULL;
        }
    }
    d.n = n;
    d.inputs[0].text = texts;
    if (ks_model_predict(m, &d, 4, out, &err) != KS_OK) {
        CHECK(0, "%s: predict: %s", why, err.msg);
        ks_model_free(m);
        return NULL;
    }
    /* the model file keeps every argument and the vocabulary: the same numbers back */
    {
        static float again[256];
        unsigned char *buf = NULL;
        size_t len = 0;
        ks_model *back = NULL;
        if (ks_model_save_buffer(m, 0, 0, &buf, &len, &err) != KS_OK ||
            ks_model_load_buffer(buf, len, why, &back, NULL, &err) != KS_OK)
            CHECK(0, "%s: save and load: %s", why, err.msg);
        else
            CHECK(ks_model_predict(back, &d, 4, again, &err) == KS_OK &&
                      memcmp(out, again, n * ks_model_output_shape(m)->dim[0] * sizeof *out) == 0,
                  "%s: the reloaded model encodes the same ids", why);
        ks_model_free(back);
        free(buf);
    }
    return m;
}

/* The vocabulary the layer holds, as one string "a b c". */
static void vocabulary(ks_model *m, char *buf, size_t size)
{
    ks_value layers, *v;
    size_t used = 0;
    buf[0] = '\0';
    if (ks_model_config(m, &layers, NULL) != KS_OK)
        return;
    v = ks_value_get(&layers.items[1].items[0], "vocabulary");
    for (size_t i = 0; v && v->kind == KS_VALUE_LIST && i < v->n; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " " : "", v->items[i].string);
    ks_value_free(&layers);
}

static int floats_are(const float *got, const float *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            return 0;
    return 1;
}

static void test_vectorize(void)
{
    float out[64];
    char vocab[256];
    ks_model *m;
    /* Keras's adapt: most frequent first; ties broken by the token, the last in byte order
       first (np.lexsort reversed); 0 is padding and 1 [UNK] */
    {
        static const char *const train[] = {"b a c", "a b", "c", "d d d"};
        static const char *const in[] = {"The A, c!  zz d", "b"};
        /* d 3 times; a, b, c twice: d=2, c=3, b=4, a=5 */
        static const float want[] = {1, 5, 3, 1, 2, 0, 4, 0, 0, 0, 0, 0};
        m = vectorize("{output_sequence_length: 6}", train, 4, in, 2, out, "int mode");
        if (m) {
            vocabulary(m, vocab, sizeof vocab);
            CHECK(strcmp(vocab, "d c b a") == 0, "vocabulary by count, ties by token: %s", vocab);
            CHECK(floats_are(out, want, 12),
                  "standardized, split, looked up, padded: %g %g %g %g %g %g", out[0], out[1],
                  out[2], out[3], out[4], out[5]);
        }
        ks_model_free(m);
    }
    /* truncation keeps the first tokens; max_tokens counts padding and [UNK] */
    {
        static const char *const train[] = {"x x x y y z", "w"};
        static const char *const in[] = {"w z y x"};
        static const float want[] = {1, 1, 3, 2};
        m = vectorize("{max_tokens: 4, output_sequence_length: 4}", train, 2, in, 1, out,
                      "max_tokens");
        if (m) {
            vocabulary(m, vocab, sizeof vocab);
            CHECK(strcmp(vocab, "x y") == 0, "max_tokens 4 keeps 2 tokens: %s", vocab);
            CHECK(floats_are(out, want, 4), "out of vocabulary → 1: %g %g %g %g", out[0], out[1],
                  out[2], out[3]);
        }
        ks_model_free(m);
        m = vectorize("{output_sequence_length: 2}", train, 2, in, 1, out, "truncation");
        if (m)      /* x=2, y=3, then z=4 before w=5 (a tie) */
            CHECK(out[0] == 5 && out[1] == 4, "the first two tokens kept: %g %g", out[0], out[1]);
        ks_model_free(m);
    }
    /* Keras's example: a given vocabulary, special tokens added in front */
    {
        static const char *const in[] = {"earth wind", "and fire water"};
        static const float want[] = {2, 3, 0, 0, 4, 5, 1, 0};
        m = vectorize("{output_sequence_length: 4, vocabulary: [earth, wind, and, fire]}", NULL, 0,
                      in, 2, out, "given vocabulary");
        if (m)
            CHECK(floats_are(out, want, 8), "the given vocabulary's ids");
        ks_model_free(m);
        m = vectorize("{output_sequence_length: 4, vocabulary: ['', '[UNK]', earth, wind, and, "
                      "fire]}",
                      NULL, 0, in, 2, out, "given vocabulary with its special tokens");
        if (m)
            CHECK(floats_are(out, want, 8), "special tokens at the front are Keras's own");
        ks_model_free(m);
    }
    /* standardize and split variants */
    {
        static const char *const in[] = {"Ab, c"};
        static const float low[] = {2, 0, 0}, none[] = {1, 0, 0};
        m = vectorize("{output_sequence_length: 3, standardize: lower, vocabulary: ['ab,', c]}",
                      NULL, 0, in, 1, out, "lower only");
        if (m)
            CHECK(out[0] == 2 && out[1] == 3, "lower keeps the comma: %g %g", out[0], out[1]);
        ks_model_free(m);
        m = vectorize("{output_sequence_length: 3, split: null, vocabulary: ['ab c']}", NULL, 0,
                      in, 1, out, "no split");
        if (m)
            CHECK(floats_are(out, low, 3), "the whole text is one token: %g", out[0]);
        ks_model_free(m);
        m = vectorize("{output_sequence_length: 3, standardize: null, split: null, "
                      "vocabulary: ['ab c']}",
                      NULL, 0, in, 1, out, "nothing standardized");
        if (m)
            CHECK(floats_are(out, none, 3), "without standardize the text is new: %g", out[0]);
        ks_model_free(m);
        m = vectorize("{output_sequence_length: 5, split: character, vocabulary: [a, b, c, ' ']}",
                      NULL, 0, in, 1, out, "characters");
        if (m)
            CHECK(out[0] == 2 && out[1] == 3 && out[2] == 5 && out[3] == 4 && out[4] == 0,
                  "characters, spaces included: %g %g %g %g", out[0], out[1], out[2], out[3]);
        ks_model_free(m);
    }
    /* multi_hot, count and tf_idf: index 0 is [UNK] */
    {
        static const char *const train[] = {"a a b", "a c"};
        static const char *const in[] = {"a b a q"};
        /* a 3 times, b and c once: [UNK]=0, a=1, c=2, b=3 */
        static const float hot[] = {1, 1, 0, 1, 0}, count[] = {1, 2, 0, 1, 0};
        m = vectorize("{max_tokens: 5, output_mode: multi_hot}", train, 2, in, 1, out, "multi_hot");
        if (m)
            CHECK(floats_are(out, hot, 5), "multi_hot: %g %g %g %g", out[0], out[1], out[2],
                  out[3]);
        ks_model_free(m);
        m = vectorize("{max_tokens: 5, output_mode: count}", train, 2, in, 1, out, "count");
        if (m)
            CHECK(floats_are(out, count, 5), "count: %g %g %g %g", out[0], out[1], out[2], out[3]);
        ks_model_free(m);
        m = vectorize("{max_tokens: 5, output_mode: tf_idf}", train, 2, in, 1, out, "tf_idf");
        if (m) {
            /* idf = log(1 + documents / (1 + documents with the token)); [UNK]: the mean */
            double ia = log(1 + 2.0 / 3), ib = log(1 + 2.0 / 2), ic = log(1 + 2.0 / 2);
            CHECK(fabs(out[1] - 2 * ia) < 1e-6 && fabs(out[3] - ib) < 1e-6 &&
                      fabs(out[0] - (ia + ib + ic) / 3) < 1e-6 && out[2] == 0,
                  "tf_idf: %g %g %g %g", out[0], out[1], out[2], out[3]);
        }
        ks_model_free(m);
    }
}

/* -------------------------------------------------- fit, save, load */

static const char *const review_csv =
    "label,text\n"
    "1,Great film loved it\n0,Boring plot awful acting\n1,Loved the story great cast\n"
    "0,Awful boring film\n1,Great great fun\n0,Dull and boring\n1,Loved it\n0,Awful\n"
    "1,validationonlyword great\n0,validationonlyword awful\n";

static ks_model *text_model(int epochs, ks_error *err)
{
    ks_value model, compile;
    ks_model *m = NULL;
    if (ks_yaml_load_text("[{Input: {shape: [1], dtype: string}}, {TextVectorization: "
                          "{max_tokens: 30, output_sequence_length: 5}}, {Embedding: {input_dim: "
                          "30, output_dim: 4, mask_zero: true}}, {GRU: {units: 3}}, {Dense: "
                          "{units: 1, activation: sigmoid}}]",
                          "model.yaml", &model, err) != KS_OK ||
        ks_yaml_load_text("{optimizer: adam, loss: binary_crossentropy}", "c.yaml", &compile,
                          err) != KS_OK)
        return NULL;
    if (ks_model_from_config(&model, NULL, 3, &m, err) != KS_OK ||
        ks_model_compile(m, &compile, err) != KS_OK) {
        ks_model_free(m);
        m = NULL;
    }
    ks_value_free(&model);
    ks_value_free(&compile);
    (void)epochs;
    return m;
}

static void test_fit_save_load(void)
{
    ks_error err;
    ks_dataset *ds;
    ks_model *m, *back = NULL;
    ks_fit_params p = ks_fit_params_default();
    char path[256], vocab[512];
    float a[10], b[10];
    write_file("reviews.csv", review_csv);
    ds = load("{csv: reviews.csv, target: label, text: text}", &err);
    REQUIRE(ds != NULL, "reviews: %s", err.msg);
    m = text_model(3, &err);
    REQUIRE(m != NULL, "text model: %s", err.msg);
    p.epochs = 3;
    p.batch_size = 4;
    p.verbose = 0;
    p.validation_split = 0.2;           /* the last 2 rows: the only ones with that word */
    {
        ks_data d = ks_dataset_data(ds);
        CHECK(ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "fit: %s", err.msg);
        vocabulary(m, vocab, sizeof vocab);
        CHECK(vocab[0] && !strstr(vocab, "validationonlyword"),
              "the vocabulary comes from the training rows only: %s", vocab);
        CHECK(strncmp(vocab, "great loved boring awful", 24) == 0, "most frequent first: %s",
              vocab);
        snprintf(path, sizeof path, "%s/text.ksm", dir);
        CHECK(ks_model_save(m, path, 0, 3, &err) == KS_OK, "save: %s", err.msg);
        CHECK(ks_model_load(path, &back, NULL, &err) == KS_OK, "load: %s", err.msg);
        if (back) {
            char again[512];
            vocabulary(back, again, sizeof again);
            CHECK(strcmp(vocab, again) == 0, "the vocabulary is in the model file");
            CHECK(ks_model_predict(m, &d, 3, a, &err) == KS_OK &&
                      ks_model_predict(back, &d, 3, b, &err) == KS_OK &&
                      memcmp(a, b, sizeof a) == 0,
                  "the reloaded model predicts the same bits");
            /* fit again does not adapt again: the vocabulary stays */
            p.epochs = 1;
            p.validation_split = 0;
            CHECK(ks_model_fit(back, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "refit: %s",
                  err.msg);
            vocabulary(back, again, sizeof again);
            CHECK(strcmp(vocab, again) == 0, "a second fit keeps the vocabulary");
        }
    }
    ks_model_free(back);
    ks_model_free(m);
    ks_dataset_free(ds);
}

/* ------------------------------------------------------- dtypes, None */

static void build_msg(const char *yaml, const ks_shape *data, const char *want, const char *why)
{
    ks_value model;
    ks_model *m = NULL;
    ks_error err;
    if (ks_yaml_load_text(yaml, "model.yaml", &model, &err) != KS_OK) {
        CHECK(0, "%s: %s", why, err.msg);
        return;
    }
    if (want)
        CHECK(ks_model_from_config(&model, data, 1, &m, &err) != KS_OK && strstr(err.msg, want),
              "%s: %s", why, m ? "(built)" : err.msg);
    else
        CHECK(ks_model_from_config(&model, data, 1, &m, &err) == KS_OK, "%s: %s", why, err.msg);
    ks_model_free(m);
    ks_value_free(&model);
}

static void test_inputs(void)
{
    ks_shape seq = {1, {7}};
    ks_value model, layers;
    ks_model *m = NULL;
    ks_error err;
    char *json = NULL;
    size_t len;
    /* a length given as None comes from the data, and the config keeps it */
    if (ks_yaml_load_text("[{Input: {shape: [null], dtype: int32}}, {Embedding: {input_dim: 9, "
                          "output_dim: 2}}]",
                          "model.yaml", &model, &err) == KS_OK &&
        ks_model_from_config(&model, &seq, 1, &m, &err) == KS_OK) {
        CHECK(ks_model_input_shape(m)->dim[0] == 7, "None is the data's length");
        CHECK(strcmp(ks_model_input_dtype(m, 0), "int32") == 0, "the dtype: %s",
              ks_model_input_dtype(m, 0));
        if (ks_model_config(m, &layers, NULL) == KS_OK) {
            ks_value_to_json(&layers, &json, &len);
            CHECK(json && strstr(json, "\"shape\":[7]") && strstr(json, "\"dtype\":\"int32\""),
                  "the config has the length and the dtype: %s", json ? json : "");
            free(json);
            ks_value_free(&layers);
        }
    } else {
        CHECK(0, "None from the data: %s", err.msg);
    }
    ks_model_free(m);
    ks_value_free(&model);
    build_msg("[{Input: {shape: [null]}}, {Embedding: {input_dim: 9, output_dim: 2}}]", NULL,
              "axis 1 of the shape is None", "None without data");
    build_msg("[{Input: {shape: [3], dtype: text}}]", NULL,
              "dtype must be one of float32, int32, int64, string", "an unknown dtype");
    build_msg("[{Input: {shape: [2, 1], dtype: string}}, {TextVectorization: "
              "{output_sequence_length: 3}}]",
              NULL, "text (dtype: string) comes as strings in one axis", "text of two axes");
    build_msg("[{Input: {shape: [4]}}, {TextVectorization: {output_sequence_length: 3}}]", NULL,
              "TextVectorization reads text: its input must be an Input of dtype string",
              "TextVectorization on numbers");
    build_msg("[{Input: {shape: [1], dtype: string}}, {TextVectorization: {}}]", NULL,
              "give output_sequence_length", "int mode without a length");
    build_msg("[{Input: {shape: [1], dtype: string}}, {TextVectorization: {output_mode: "
              "multi_hot}}]",
              NULL, "output_mode multi_hot needs max_tokens", "multi_hot without max_tokens");
    build_msg("[{Input: {shape: [1], dtype: string}}, {TextVectorization: {max_tokens: 4, "
              "output_sequence_length: 2, vocabulary: [a, b, c]}}]",
              NULL, "3 vocabulary tokens do not fit in max_tokens 4", "a vocabulary too long");
    build_msg("[{Input: {shape: [1], dtype: string}}, {TextVectorization: {"
              "output_sequence_length: 2, vocabulary: [a, b, a]}}]",
              NULL, "the vocabulary has \"a\" twice", "a repeated token");
}

/* A little-endian .npy of int32 (descr '<i4') of shape (n, t). */
static void write_npy_i4(const char *name, const int32_t *v, int n, int t)
{
    char path[256], h[128];
    unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
    FILE *f;
    int len = snprintf(h, sizeof h, "{'descr': '<i4', 'fortran_order': False, 'shape': (%d, %d), }",
                       n, t);
    while ((10 + len + 1) % 64)
        h[len++] = ' ';
    h[len++] = '\n';
    head[8] = (unsigned char)(len & 255);
    head[9] = (unsigned char)(len >> 8);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if ((f = fopen(path, "wb"))) {
        fwrite(head, 1, 10, f);
        fwrite(h, 1, (size_t)len, f);
        fwrite(v, sizeof *v, (size_t)(n * t), f);
        fclose(f);
    }
}

/* Integer sequences from .npy: int32 token ids into an Input of dtype int32 whose length
   is None (taken from the data), an Embedding with mask_zero and an LSTM, fit and
   predict; an id the Embedding cannot take is refused naming its row. */
static void test_npy_ids(void)
{
    static int32_t ids[12 * 5], labels[12];
    ks_dataset *ds;
    ks_model *m = NULL;
    ks_value model, compile;
    ks_error err;
    float out[12];
    for (int i = 0; i < 12; i++) {
        for (int j = 0; j < 5; j++)
            ids[i * 5 + j] = j <= i % 5 ? (i + j) % 7 + 1 : 0;
        labels[i] = i % 2;
    }
    write_npy_i4("ids.npy", ids, 12, 5);
    write_npy_i4("labels.npy", labels, 12, 1);
    ds = load("{npy: {x: ids.npy, y: labels.npy}}", &err);
    REQUIRE(ds != NULL, "int32 .npy: %s", err.msg);
    {
        ks_data d = ks_dataset_data(ds);
        ks_fit_params p = ks_fit_params_default();
        REQUIRE(ks_yaml_load_text("[{Input: {shape: [null], dtype: int32}}, {Embedding: "
                                  "{input_dim: 8, output_dim: 3, mask_zero: true}}, {LSTM: "
                                  "{units: 4}}, {Dense: {units: 1, activation: sigmoid}}]",
                                  "m", &model, &err) == KS_OK &&
                    ks_yaml_load_text("{optimizer: adam, loss: binary_crossentropy}", "c",
                                      &compile, &err) == KS_OK,
                "yaml: %s", err.msg);
        CHECK(ks_model_from_config(&model, &d.x_shape, 1, &m, &err) == KS_OK &&
                  ks_model_compile(m, &compile, &err) == KS_OK,
              "build: %s", err.msg);
        ks_value_free(&model);
        ks_value_free(&compile);
        if (m) {
            p.epochs = 2;
            p.batch_size = 4;
            p.verbose = 0;
            CHECK(ks_model_input_shape(m)->dim[0] == 5, "the length from the data");
            CHECK(ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK &&
                      ks_model_predict(m, &d, 4, out, &err) == KS_OK && out[0] > 0 &&
                      out[0] < 1,
                  "fit and predict on int32 ids: %s", err.msg);
            ids[7 * 5 + 1] = 8;         /* input_dim 8: ids 0 to 7 */
            write_npy_i4("ids.npy", ids, 12, 5);
            ks_dataset_free(ds);
            ds = load("{npy: {x: ids.npy, y: labels.npy}}", &err);
            d = ks_dataset_data(ds);
            CHECK(ds && ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err) == KS_ERR_CONFIG &&
                      strstr(err.msg, "row 7 column 1 holds 8; the Embedding takes its token "
                                      "ids from 0 to 7"),
                  "an id too large, by its row: %s", err.msg);
        }
    }
    ks_model_free(m);
    ks_dataset_free(ds);
}

int main(void)
{
    if (!mkdtemp(dir))
        return 1;
    test_csv_text();
    test_vectorize();
    test_fit_save_load();
    test_inputs();
    test_npy_ids();
    {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return check_done();
}
