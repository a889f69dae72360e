/*
 * test_onnx.c — the ONNX exporter, read back by an independent protobuf decoder (field
 * numbers from onnx/onnx.proto) and run by a small reference interpreter in doubles:
 * header fields, node types in order, initializers against the model's weights, input
 * and output shapes, and outputs against ks_model_predict / ks_ensemble_predict for a
 * model using every layer and activation, an ensemble of two and geometric ensembles.
 */
#include "../search/onnx_export.h"
#include "check.h"
#include "onnx_decode.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define N_ROWS 9

/* ------------------------------------------------------------- helpers */

static ks_model *build(const char *json, const char *loss, uint64_t seed)
{
    ks_value layers, compile;
    ks_model *m = NULL;
    ks_error err;
    char cjson[256];
    if (ks_value_from_json(json, strlen(json), "layers", &layers, &err) != KS_OK) {
        CHECK(0, "layers json: %s", err.msg);
        return NULL;
    }
    snprintf(cjson, sizeof cjson, "{\"optimizer\": {\"SGD\": {}}, \"loss\": \"%s\"}", loss);
    ks_value_from_json(cjson, strlen(cjson), "compile", &compile, &err);
    if (ks_model_from_config(&layers, NULL, seed, &m, &err) != KS_OK ||
        ks_model_compile(m, &compile, &err) != KS_OK) {
        CHECK(0, "cannot build: %s", err.msg);
        ks_model_free(m);
        m = NULL;
    }
    ks_value_free(&layers);
    ks_value_free(&compile);
    return m;
}

/* Give BatchNormalization statistics that are not the identity. */
static void perturb_batchnorm(ks_model *m, uint64_t seed)
{
    ks_rng *r;
    ks_rng_new(seed, 7, 7, &r);
    for (int i = 0; i < ks_model_n_weights(m); i++) {
        const char *name = ks_model_weight_name(m, i);
        float *w = ks_model_weight_data(m, i);
        size_t n = ks_shape_size(ks_model_weight_shape(m, i));
        for (size_t k = 0; k < n; k++) {
            if (strstr(name, "moving_variance"))
                w[k] = (float)(0.2 + ks_rng_uniform(r));
            else if (strstr(name, "moving_mean") || strstr(name, "beta"))
                w[k] = (float)ks_rng_normal(r, 0.5);
            else if (strstr(name, "gamma"))
                w[k] = (float)(0.5 + ks_rng_uniform(r));
        }
    }
    ks_rng_free(r);
}

static void random_x(float *x, size_t n, uint64_t seed)
{
    ks_rng *r;
    ks_rng_new(seed, 3, 3, &r);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)ks_rng_normal(r, 1.0);
    ks_rng_free(r);
}

static ks_data data_of(const ks_model *m, const float *x)
{
    ks_data d;
    memset(&d, 0, sizeof d);
    d.n = N_ROWS;
    d.x_shape = *ks_model_input_shape(m);
    d.x_size = ks_shape_size(&d.x_shape);
    d.x = x;
    return d;
}

/* Header fields, the input and output declarations. */
static void check_header(const t_model *t, const ks_model *m)
{
    const ks_shape *in = ks_model_input_shape(m), *out = ks_model_output_shape(m);
    CHECK(t->ir_version == 7 || t->ir_version == 8, "ir_version %lld", (long long)t->ir_version);
    CHECK(t->n_opset == 1 && t->opset_domain_empty && t->opset_version == 13,
          "opset_import: %d entries, version %lld", t->n_opset, (long long)t->opset_version);
    CHECK(strcmp(t->producer, "ksearch") == 0, "producer_name %s", t->producer);
    CHECK(t->n_inputs == 1 && strcmp(t->input.name, "input") == 0 && t->input.elem == 1,
          "input %s elem %d", t->input.name, t->input.elem);
    CHECK(t->input.ndim == in->ndim + 1 && strcmp(t->input.param[0], "N") == 0,
          "input rank %d, first dim \"%s\"", t->input.ndim, t->input.param[0]);
    for (int i = 0; i < in->ndim && i + 1 < t->input.ndim; i++)
        CHECK(t->input.value[i + 1] == in->dim[i] && !t->input.param[i + 1][0], "input dim %d",
              i + 1);
    CHECK(t->n_outputs == 1 && strcmp(t->output.name, "output") == 0 && t->output.elem == 1,
          "output %s", t->output.name);
    CHECK(t->output.ndim == out->ndim + 1 && strcmp(t->output.param[0], "N") == 0,
          "output rank %d", t->output.ndim);
    for (int i = 0; i < out->ndim && i + 1 < t->output.ndim; i++)
        CHECK(t->output.value[i + 1] == out->dim[i], "output dim %d", i + 1);
    CHECK(t->n_nodes > 0 && strcmp(t->nodes[t->n_nodes - 1].out, "output") == 0,
          "the last node makes \"output\"");
}

/* Node op types, in order, against a space-separated list. */
static void check_ops(const t_model *t, const char *want)
{
    char got[2048] = "";
    for (int i = 0; i < t->n_nodes; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "",
                 t->nodes[i].op);
    CHECK(strcmp(got, want) == 0, "ops\n  got  %s\n  want %s", got, want);
}

/* Every weight of m as an initializer prefix + its name: dims, FLOAT, the same floats. */
static int check_weights(const t_model *t, ks_model *m, const char *prefix)
{
    int found = 0;
    for (int i = 0; i < ks_model_n_weights(m); i++) {
        char name[NAME];
        const ks_shape *sh = ks_model_weight_shape(m, i);
        const float *w = ks_model_weight_data(m, i);
        size_t n = ks_shape_size(sh), bad = 0;
        const t_tensor *x;
        snprintf(name, sizeof name, "%s%s", prefix, ks_model_weight_name(m, i));
        x = find_init(t, name);
        CHECK(x != NULL, "no initializer %s", name);
        if (!x)
            continue;
        found++;
        CHECK(x->dtype == 1 && x->ndim == sh->ndim, "%s: type %d rank %d", name, x->dtype,
              x->ndim);
        for (int k = 0; k < sh->ndim && k < x->ndim; k++)
            CHECK(x->dims[k] == sh->dim[k], "%s dim %d: %lld", name, k, (long long)x->dims[k]);
        CHECK(x->raw_n == 4 * n, "%s: %zu raw bytes", name, x->raw_n);
        for (size_t k = 0; k < n && x->raw_n == 4 * n; k++)
            bad += memcmp(&(float){raw_float(x, k)}, &w[k], 4) != 0;
        CHECK(bad == 0, "%s: %zu floats differ from the model's", name, bad);
    }
    return found;
}

static void check_outputs(const t_model *t, const float *x, const float *want, size_t k,
                          const char *what)
{
    t_env *e = calloc(1, sizeof *e);
    t_val *y = NULL;
    const char *msg = run_graph(t, x, N_ROWS, e, &y);
    double worst = 0;
    CHECK(msg == NULL, "%s: interpreter: %s", what, msg ? msg : "");
    if (!msg) {
        CHECK(y->n == N_ROWS * k, "%s: %zu outputs", what, y->n);
        for (size_t i = 0; i < y->n && y->n == N_ROWS * k; i++)
            worst = fmax(worst, fabs(y->x[i] - want[i]) / (1 + fabs(want[i])));
        CHECK(worst < 2e-5, "%s: outputs differ from the engine's by %g", what, worst);
    }
    env_free(e);
    free(e);
}

static int encode(ks_model *m, ks_ensemble *e, t_model *t, unsigned char **buf)
{
    size_t len;
    ks_error err;
    ks_status s = m ? ks_onnx_encode_model(m, buf, &len, &err)
                    : ks_onnx_encode_ensemble(e, buf, &len, &err);
    CHECK(s == KS_OK, "encode: %s", err.msg);
    if (s != KS_OK)
        return 0;
    CHECK(decode_model(*buf, len, t) == 0, "the protobuf does not decode");
    return 1;
}

/* --------------------------------------------------------------- tests */

/* Every layer kind and activation; BatchNormalization on a 2-d input and without beta. */
static const char *const every_layer =
    "[{\"InputLayer\": {\"shape\": [4, 3]}},"
    " {\"BatchNormalization\": {\"epsilon\": 0.01}},"
    " {\"Activation\": {\"activation\": \"tanh\"}},"
    " {\"Flatten\": {}},"
    " {\"Dense\": {\"units\": 6, \"activation\": \"selu\", \"use_bias\": false}},"
    " {\"Dense\": {\"units\": 5, \"activation\": \"elu\"}},"
    " {\"BatchNormalization\": {\"center\": false}},"
    " {\"Dropout\": {\"rate\": 0.3}},"
    " {\"Dense\": {\"units\": 5, \"activation\": \"relu\"}},"
    " {\"Dense\": {\"units\": 4, \"activation\": \"sigmoid\"}},"
    " {\"Dense\": {\"units\": 4, \"activation\": \"softplus\"}},"
    " {\"Dense\": {\"units\": 4}},"
    " {\"Dense\": {\"units\": 3, \"activation\": \"softmax\"}}]";

static void test_model(void)
{
    ks_model *m = build(every_layer, "sparse_categorical_crossentropy", 5);
    t_model *t = calloc(1, sizeof *t);
    unsigned char *buf = NULL;
    float x[N_ROWS * 12], want[N_ROWS * 3];
    ks_data d;
    ks_error err;
    REQUIRE(m && t, "model");
    perturb_batchnorm(m, 1);
    ks_value_put(ks_model_meta(m), "input_scale", KS_VALUE_NUMBER)->number = 255;
    if (encode(m, NULL, t, &buf)) {
        const t_node *nd;
        const t_tensor *beta, *rs;
        check_header(t, m);
        CHECK(strcmp(t->scale, "255") == 0, "metadata input_scale \"%s\"", t->scale);
        check_ops(t, "Reshape BatchNormalization Reshape Tanh Flatten Gemm Selu Gemm Elu "
                     "BatchNormalization Gemm Relu Gemm Sigmoid Gemm Softplus Gemm Gemm Softmax");
        /* the weights, plus beta = 0 for center: false and the two Reshape shapes */
        CHECK(check_weights(t, m, "") == ks_model_n_weights(m), "weights");
        CHECK(t->n_inits == ks_model_n_weights(m) + 3, "%d initializers", t->n_inits);
        beta = find_init(t, "batch_normalization_1/beta");
        CHECK(beta && beta->ndim == 1 && beta->dims[0] == 5 && beta->raw_n == 20 &&
                  raw_float(beta, 0) == 0 && raw_float(beta, 4) == 0,
              "synthesized beta");
        rs = t->nodes[0].n_in == 2 ? find_init(t, t->nodes[0].in[1]) : NULL;
        CHECK(rs && rs->dtype == 7 && rs->ndim == 1 && rs->dims[0] == 2 &&
                  raw_int64(rs, 0) == -1 && raw_int64(rs, 1) == 3,
              "first Reshape to (-1, 3)");
        nd = &t->nodes[1];
        CHECK(find_attr(nd, "epsilon") && fabsf(find_attr(nd, "epsilon")->f - 0.01f) < 1e-9f &&
                  find_attr(nd, "epsilon")->type == 1,
              "BatchNormalization epsilon from the config");
        CHECK(strcmp(nd->in[1], "batch_normalization/gamma") == 0 &&
                  strcmp(nd->in[3], "batch_normalization/moving_mean") == 0 &&
                  strcmp(nd->in[4], "batch_normalization/moving_variance") == 0,
              "BatchNormalization inputs %s %s %s", nd->in[1], nd->in[3], nd->in[4]);
        nd = &t->nodes[6];
        CHECK(find_attr(nd, "alpha") && fabs(find_attr(nd, "alpha")->f - 1.67326324) < 1e-6 &&
                  find_attr(nd, "gamma") && fabs(find_attr(nd, "gamma")->f - 1.05070098) < 1e-6,
              "Selu constants of Keras");
        CHECK(t->nodes[5].n_in == 2 && strcmp(t->nodes[5].in[1], "dense/kernel") == 0,
              "Gemm without bias for use_bias: false");
        CHECK(t->nodes[7].n_in == 3 && strcmp(t->nodes[7].in[2], "dense_1/bias") == 0,
              "Gemm with bias");
        nd = &t->nodes[t->n_nodes - 1];
        CHECK(find_attr(nd, "axis") && find_attr(nd, "axis")->i == -1, "Softmax axis -1");
        random_x(x, sizeof x / sizeof x[0], 1);
        d = data_of(m, x);
        CHECK(ks_model_predict(m, &d, 4, want, &err) == KS_OK, "predict: %s", err.msg);
        check_outputs(t, x, want, 3, "model");
    }
    free(buf);
    free(t);
    ks_model_free(m);
}

/* A model that ends with no node of its own (Dropout after the input): an Identity. */
static void test_identity(void)
{
    ks_model *m = build("[{\"InputLayer\": {\"shape\": [3]}}, {\"Dropout\": {\"rate\": 0.5}}]",
                        "mse", 1);
    t_model *t = calloc(1, sizeof *t);
    unsigned char *buf = NULL;
    float x[N_ROWS * 3];
    REQUIRE(m && t, "model");
    if (encode(m, NULL, t, &buf)) {
        check_header(t, m);
        check_ops(t, "Identity");
        random_x(x, sizeof x / sizeof x[0], 2);
        check_outputs(t, x, x, 3, "identity");
    }
    free(buf);
    free(t);
    ks_model_free(m);
}

/* Replace every `from` in s by `to`, of the same length. */
static void replace(char *s, const char *from, const char *to)
{
    size_t n = strlen(from);
    for (char *p = strstr(s, from); p; p = strstr(p + n, from))
        memcpy(p, to, n);
}

static const char *const member_a =
    "[{\"Flatten\": {\"input_shape\": [4, 3]}},"
    " {\"Dense\": {\"units\": 8, \"activation\": \"relu\"}},"
    " {\"BatchNormalization\": {}},"
    " {\"Dense\": {\"units\": 3, \"activation\": \"softmax\"}}]";
static const char *const member_b =
    "[{\"Flatten\": {\"input_shape\": [4, 3]}},"
    " {\"Dense\": {\"units\": 5, \"activation\": \"tanh\"}},"
    " {\"Dense\": {\"units\": 3, \"activation\": \"softmax\"}}]";
static const char *const ops_a = "Flatten Gemm Relu BatchNormalization Gemm Softmax";
static const char *const ops_b = "Flatten Gemm Tanh Gemm Softmax";

static void test_ensemble(ks_ensemble_average avg, int binary)
{
    const char *loss = binary ? "binary_crossentropy" : "sparse_categorical_crossentropy";
    char a_json[1024], b_json[1024], want_ops[1024];
    ks_model *mm[2];
    double w[2] = {0.25, 0.75};
    ks_ensemble *e = NULL;
    t_model *t = calloc(1, sizeof *t);
    unsigned char *buf = NULL;
    float x[N_ROWS * 12], want[N_ROWS * 3];
    size_t k = binary ? 1 : 3;
    ks_error err;
    const char *what = avg == KS_ENSEMBLE_ARITHMETIC ? "arithmetic ensemble"
                       : binary                      ? "geometric ensemble, one sigmoid output"
                                                     : "geometric ensemble";
    const char *per_member;
    snprintf(a_json, sizeof a_json, "%s", member_a);
    snprintf(b_json, sizeof b_json, "%s", member_b);
    if (binary) {   /* one sigmoid output instead of three softmax ones */
        replace(a_json, "\"units\": 3, \"activation\": \"softmax\"",
                "\"units\": 1, \"activation\": \"sigmoid\"");
        replace(b_json, "\"units\": 3, \"activation\": \"softmax\"",
                "\"units\": 1, \"activation\": \"sigmoid\"");
    }
    mm[0] = build(a_json, loss, 11);
    mm[1] = build(b_json, loss, 12);
    if (!mm[0] || !mm[1] || !t) {
        ks_model_free(mm[0]);
        ks_model_free(mm[1]);
        free(t);
        CHECK(0, "%s: members", what);
        return;
    }
    perturb_batchnorm(mm[0], 3);
    if (ks_ensemble_new(mm, w, 2, avg, &e, &err) != KS_OK) {
        CHECK(0, "%s: %s", what, err.msg);
        free(t);
        return;
    }
    per_member = avg == KS_ENSEMBLE_ARITHMETIC ? "Mul"
                 : binary                      ? "Clip Log Sub Clip Log Sub Mul"
                                               : "Clip Log Mul";
    snprintf(want_ops, sizeof want_ops, "%s %s %s %s Sum%s", ops_a, per_member, ops_b,
             per_member,
             avg == KS_ENSEMBLE_ARITHMETIC ? "" : binary ? " Sigmoid" : " Softmax");
    if (binary)     /* the members end in Sigmoid */
        replace(want_ops, "Softmax", "Sigmoid");
    if (encode(NULL, e, t, &buf)) {
        int n_weights = ks_model_n_weights(mm[0]) + ks_model_n_weights(mm[1]);
        int extra = 2 + (avg == KS_ENSEMBLE_GEOMETRIC ? 2 + binary : 0);
        check_header(t, ks_ensemble_member(e, 0));
        check_ops(t, want_ops);
        CHECK(check_weights(t, ks_ensemble_member(e, 0), "m0/") +
                      check_weights(t, ks_ensemble_member(e, 1), "m1/") ==
                  n_weights,
              "%s: members' weights", what);
        CHECK(t->n_inits == n_weights + extra, "%s: %d initializers, want %d", what,
              t->n_inits, n_weights + extra);
        for (int i = 0; i < 2; i++) {
            char name[32];
            const t_tensor *s;
            snprintf(name, sizeof name, "m%d/weight", i);
            s = find_init(t, name);
            CHECK(s && s->ndim == 0 && s->dtype == 1 && s->raw_n == 4 &&
                      raw_float(s, 0) == (float)w[i],
                  "%s: %s is the scalar %g", what, name, w[i]);
        }
        random_x(x, sizeof x / sizeof x[0], 4);
        {
            ks_data d = data_of(ks_ensemble_member(e, 0), x);
            CHECK(ks_ensemble_predict(e, &d, 4, want, &err) == KS_OK, "predict: %s", err.msg);
        }
        check_outputs(t, x, want, k, what);
    }
    free(buf);
    free(t);
    ks_ensemble_free(e);
}

/* Names that would collide in the graph are refused, not written twice. */
static void test_name_clash(void)
{
    static const char *const json =
        "[{\"Flatten\": {\"input_shape\": [2], \"name\": \"a/linear\"}},"
        " {\"Dense\": {\"units\": 2, \"activation\": \"relu\", \"name\": \"a\"}}]";
    ks_model *m = NULL;
    unsigned char *buf = NULL;
    size_t len;
    ks_error err;
    ks_value layers;
    if (ks_value_from_json(json, strlen(json), "layers", &layers, &err) == KS_OK &&
        ks_model_from_config(&layers, NULL, 1, &m, &err) != KS_OK) {
        /* the engine refuses "/" in names, as Keras does: nothing can clash */
        CHECK(strstr(err.msg, "without \"/\""), "a name with \"/\" refused: %s", err.msg);
        ks_value_free(&layers);
        return;
    }
    ks_value_free(&layers);
    ks_model_free(m);
    m = build(json, "mse", 1);
    if (!m)
        return;
    CHECK(ks_onnx_encode_model(m, &buf, &len, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "a/linear:0"),
          "a clash of tensor names: %s", err.msg);
    free(buf);
    ks_model_free(m);
}

int main(void)
{
    test_model();
    test_identity();
    test_ensemble(KS_ENSEMBLE_ARITHMETIC, 0);
    test_ensemble(KS_ENSEMBLE_GEOMETRIC, 0);
    test_ensemble(KS_ENSEMBLE_GEOMETRIC, 1);
    test_ensemble(KS_ENSEMBLE_ARITHMETIC, 1);
    test_name_clash();
    return check_done();
}
