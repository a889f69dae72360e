/*
 * test_onnx.c — the ONNX exporter, read back by an independent protobuf decoder (field
 * numbers from onnx/onnx.proto) and run by a small reference interpreter in doubles:
 * header fields, node types in order, initializers against the model's weights, input
 * and output shapes, and outputs against ks_model_predict / ks_ensemble_predict for a
 * model using every layer and activation, an ensemble of two and geometric ensembles;
 * a layer kind without lowering; the graph builder itself (several named inputs and
 * outputs, every attribute type, renames, owned initializers, its refusals).
 */
#include "../engine/engine_impl.h"
#include "check.h"
#include "onnx_decode.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    const t_value_info *ti = &t->inputs[0], *to = &t->outputs[0];
    CHECK(t->n_inputs == 1 && strcmp(ti->name, "input") == 0 && ti->elem == 1,
          "input %s elem %d", ti->name, ti->elem);
    CHECK(ti->ndim == in->ndim + 1 && strcmp(ti->param[0], "N") == 0,
          "input rank %d, first dim \"%s\"", ti->ndim, ti->param[0]);
    for (int i = 0; i < in->ndim && i + 1 < ti->ndim; i++)
        CHECK(ti->value[i + 1] == in->dim[i] && !ti->param[i + 1][0], "input dim %d", i + 1);
    CHECK(t->n_outputs == 1 && strcmp(to->name, "output") == 0 && to->elem == 1, "output %s",
          to->name);
    CHECK(to->ndim == out->ndim + 1 && strcmp(to->param[0], "N") == 0, "output rank %d",
          to->ndim);
    for (int i = 0; i < out->ndim && i + 1 < to->ndim; i++)
        CHECK(to->value[i + 1] == out->dim[i], "output dim %d", i + 1);
    CHECK(t->n_nodes > 0 && strcmp(t->nodes[t->n_nodes - 1].out[0], "output") == 0,
          "the last node makes \"output\"");
    for (int i = 0; i < t->n_nodes; i++)
        CHECK(t->nodes[i].n_out == 1 && strcmp(t->nodes[i].name, t->nodes[i].out[0]) == 0,
              "node %d is named after its output: %s", i, t->nodes[i].name);
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
    ks_status s = m ? ks_model_export_onnx_buffer(m, buf, &len, &err)
                    : ks_ensemble_export_onnx_buffer(e, buf, &len, &err);
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
    CHECK(ks_model_export_onnx_buffer(m, &buf, &len, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "a/linear:0"),
          "a clash of tensor names: %s", err.msg);
    free(buf);
    ks_model_free(m);
}

/* BatchNormalization on a 3-d input: through (-1, C) and back to (N, 2, 3, 4). */
static void test_batchnorm_3d(void)
{
    ks_model *m = build("[{\"InputLayer\": {\"shape\": [2, 3, 4]}},"
                        " {\"BatchNormalization\": {\"scale\": false}},"
                        " {\"Flatten\": {}}, {\"Dense\": {\"units\": 2}}]",
                        "mse", 3);
    t_model *t = calloc(1, sizeof *t);
    unsigned char *buf = NULL;
    float x[N_ROWS * 24], want[N_ROWS * 2];
    ks_data d;
    ks_error err;
    REQUIRE(m && t, "model");
    perturb_batchnorm(m, 2);
    if (encode(m, NULL, t, &buf)) {
        const t_tensor *rows = find_init(t, "batch_normalization/rows_shape");
        const t_tensor *back = find_init(t, "batch_normalization/out_shape");
        const t_tensor *gamma = find_init(t, "batch_normalization/gamma");
        check_header(t, m);
        check_ops(t, "Reshape BatchNormalization Reshape Flatten Gemm");
        CHECK(rows && rows->dtype == 7 && rows->dims[0] == 2 && raw_int64(rows, 0) == -1 &&
                  raw_int64(rows, 1) == 4,
              "rows shape (-1, 4)");
        CHECK(back && back->dims[0] == 4 && raw_int64(back, 0) == -1 &&
                  raw_int64(back, 1) == 2 && raw_int64(back, 2) == 3 && raw_int64(back, 3) == 4,
              "back to (-1, 2, 3, 4)");
        CHECK(gamma && gamma->dims[0] == 4 && raw_float(gamma, 3) == 1.0f,
              "gamma 1 for scale: false");
        CHECK(strcmp(t->nodes[1].out[0], "batch_normalization/norm:0") == 0 &&
                  strcmp(t->nodes[2].out[0], "batch_normalization:0") == 0,
              "tensor names %s %s", t->nodes[1].out[0], t->nodes[2].out[0]);
        random_x(x, sizeof x / sizeof x[0], 5);
        d = data_of(m, x);
        CHECK(ks_model_predict(m, &d, 4, want, &err) == KS_OK, "predict: %s", err.msg);
        check_outputs(t, x, want, 2, "BatchNormalization on a 3-d input");
    }
    free(buf);
    free(t);
    ks_model_free(m);
}

/* A lowering that cannot express its layer. */
static ks_status refuse_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                             const char **out, ks_error *err)
{
    (void)g, (void)in, (void)out;
    return ks_error_set(err, KS_ERR_CONFIG, "layer \"%s\" cannot be lowered", l->name);
}

/* Export m with layer i's kind replaced by ops; returns the status, err filled. */
static ks_status export_with(ks_model *m, int i, const ks_layer_ops *ops, const char *path,
                             ks_error *err)
{
    const ks_layer_ops *saved = m->layers[i]->ops;
    ks_status s;
    m->layers[i]->ops = ops;
    s = ks_model_export_onnx(m, path, err);
    m->layers[i]->ops = saved;
    return s;
}

/* A layer kind without lowering: a clear error naming the layer and its class, no file. */
static void test_no_lowering(void)
{
    ks_model *m = build("[{\"InputLayer\": {\"shape\": [3]}}, {\"Dense\": {\"units\": 4}},"
                        " {\"Dropout\": {\"rate\": 0.5}}, {\"Dense\": {\"units\": 2}}]",
                        "mse", 4);
    ks_model *mm[2];
    double w[2] = {0.5, 0.5};
    ks_ensemble *e = NULL;
    ks_layer_ops mystery, refusing;
    char path[64];
    unsigned char *buf = (unsigned char *)"";
    size_t len = 1;
    ks_error err;
    FILE *f;
    REQUIRE(m != NULL, "model");
    snprintf(path, sizeof path, "/tmp/ks_test_onnx_%ld.onnx", (long)getpid());
    remove(path);
    mystery = *m->layers[2]->ops;
    mystery.name = "Mystery";
    mystery.onnx = NULL;
    {
        /* the kinds the registry can export, as many as fit, then how many more: the
           message whole (not cut at ks_error's size), ending with a name or a count */
        static const char head[] =
            "layer \"dropout\" is a Mystery, which the ONNX export does not support "
            "(supported: InputLayer, Dense, Activation, Dropout, BatchNormalization, Flatten, ";
        const char *end;
        int kinds = 0, more = -1;
        for (int i = 0; ks_layer_kinds[i]; i++)
            kinds += ks_layer_kinds[i]->onnx || (ks_layer_kinds[i]->flags & KS_LAYER_INPUT);
        CHECK(export_with(m, 2, &mystery, path, &err) == KS_ERR_CONFIG &&
                  strncmp(err.msg, head, sizeof head - 1) == 0,
              "no lowering: %s", err.msg);
        end = strrchr(err.msg, ' ');
        if (getenv("KS_VERBOSE"))
            printf("%s\n", err.msg);
        CHECK(strlen(err.msg) < sizeof err.msg - 1 && end && end[strlen(end) - 1] == ')',
              "the message is whole: %s", err.msg);
        if (strstr(err.msg, " more)")) {
            const char *p = strstr(err.msg, " and ");
            int named = 1;
            for (const char *q = err.msg + strlen("layer \"dropout\" is a Mystery, which the "
                                                  "ONNX export does not support (supported: ");
                 p && q < p; q++)
                named += *q == ',';
            more = p ? atoi(p + 5) : -1;
            CHECK(named + more == kinds, "%d named and %d more of %d kinds: %s", named, more,
                  kinds, err.msg);
        }
    }
    CHECK(!(f = fopen(path, "rb")), "no file written without a lowering");
    if (f)
        fclose(f);
    refusing = *m->layers[3]->ops;
    refusing.onnx = refuse_onnx;
    CHECK(export_with(m, 3, &refusing, path, &err) == KS_ERR_CONFIG &&
              strcmp(err.msg, "layer \"dense_1\" cannot be lowered") == 0,
          "a lowering's own error: %s", err.msg);
    CHECK(!(f = fopen(path, "rb")), "no file written after a lowering's error");
    if (f)
        fclose(f);
    /* the same inside an ensemble: the member is named, no bytes */
    mm[0] = build("[{\"InputLayer\": {\"shape\": [3]}}, {\"Dense\": {\"units\": 2}}]", "mse", 5);
    mm[1] = m;
    REQUIRE(mm[0] && ks_ensemble_new(mm, w, 2, KS_ENSEMBLE_ARITHMETIC, &e, &err) == KS_OK,
            "ensemble: %s", err.msg);
    m->layers[2]->ops = &mystery;
    CHECK(ks_ensemble_export_onnx_buffer(e, &buf, &len, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "ensemble member 1: layer \"dropout\" is a Mystery") == err.msg &&
              buf == NULL && len == 0,
          "ensemble member without lowering: %s", err.msg);
    m->layers[2]->ops = &ks_layer_dropout_ops;
    ks_ensemble_free(e);
}

/* Writing goes through a temporary file: a directory that does not exist is an error. */
static void test_write(void)
{
    ks_model *m = build("[{\"InputLayer\": {\"shape\": [3]}}, {\"Dense\": {\"units\": 2}}]",
                        "mse", 6);
    unsigned char *want = NULL, *got = NULL;
    size_t want_len = 0, got_len = 0;
    char path[64];
    ks_error err;
    FILE *f;
    REQUIRE(m != NULL, "model");
    snprintf(path, sizeof path, "/tmp/ks_test_onnx_w%ld.onnx", (long)getpid());
    CHECK(ks_model_export_onnx(m, "/nonexistent_dir/x.onnx", &err) == KS_ERR_IO,
          "a missing directory: %s", err.msg);
    CHECK(ks_model_export_onnx(m, path, &err) == KS_OK, "write: %s", err.msg);
    CHECK(ks_model_export_onnx_buffer(m, &want, &want_len, &err) == KS_OK, "encode: %s",
          err.msg);
    if ((f = fopen(path, "rb"))) {
        got = malloc(want_len + 1);
        got_len = got ? fread(got, 1, want_len + 1, f) : 0;
        fclose(f);
    }
    CHECK(got && got_len == want_len && memcmp(got, want, want_len) == 0,
          "the file holds the buffer's bytes (%zu of %zu)", got_len, want_len);
    remove(path);
    free(got);
    free(want);
    ks_model_free(m);
}

/* ------------------------------------------------------------ the builder */

static ks_onnx *new_graph(void)
{
    ks_onnx *g = NULL;
    CHECK(ks_onnx_new(&g) == KS_OK, "ks_onnx_new");
    return g;
}

/* Encode g; returns the status and decodes into t when it succeeds (t's initializers
   point into the bytes: the caller frees them after reading t). */
static ks_status encode_graph(ks_onnx *g, t_model *t, unsigned char **buf, ks_error *err)
{
    size_t len = 0;
    ks_status s = ks_onnx_encode(g, "test_graph", buf, &len, err);
    if (s == KS_OK)
        CHECK(decode_model(*buf, len, t) == 0, "the builder's protobuf does not decode");
    else
        CHECK(*buf == NULL && len == 0, "nothing returned on failure");
    return s;
}

/* Encode a graph expected to fail; the bytes (none) are freed. */
static ks_status encode_fails(ks_onnx *g, t_model *t, ks_error *err)
{
    unsigned char *buf = NULL;
    ks_status s = encode_graph(g, t, &buf, err);
    free(buf);
    return s;
}

/* Several named inputs and outputs, multi-output nodes, every attribute type. */
static void test_builder(void)
{
    ks_onnx *g = new_graph();
    t_model *t = calloc(1, sizeof *t);
    ks_shape sa = {1, {3}}, sb = {2, {2, 2}}, s1 = {1, {1}};
    ks_layer l;
    int64_t split[2] = {1, 2}, pads[4] = {0, 1, 0, 1}, dims[2] = {2, 3};
    const char *in2[2], *out2[2] = {"p/s0", "p/s1"}, *cat = "p/cat", *w, *sh, *k, *y;
    unsigned char *buf = NULL;
    float *x;
    ks_error err;
    int nd;
    REQUIRE(g && t, "graph");
    memset(&l, 0, sizeof l);
    snprintf(l.name, sizeof l.name, "dense");
    ks_onnx_set_prefix(g, "p/");
    CHECK(strcmp(ks_onnx_layer_name(g, &l, ":0"), "p/dense:0") == 0, "layer names get the prefix");
    CHECK(strcmp(ks_onnx_name(g, "m%d/x", 7), "m7/x") == 0, "formatted names");
    ks_onnx_input(g, "a", KS_ONNX_FLOAT, &sa);
    ks_onnx_input(g, "b", KS_ONNX_INT64, &sb);
    in2[0] = "a";
    nd = ks_onnx_node(g, "Split", in2, 1, out2, 2);
    ks_onnx_attr_int(g, nd, "axis", 1);
    ks_onnx_attr_ints(g, nd, "split", split, 2);
    in2[0] = "p/s1";
    in2[1] = "p/s0";
    nd = ks_onnx_node(g, "Concat", in2, 2, &cat, 1);
    ks_onnx_attr_int(g, nd, "axis", 1);
    nd = ks_onnx_node(g, "Pad", &cat, 1, (const char *[]){"p/padded"}, 1);
    ks_onnx_attr_string(g, nd, "mode", "reflect");
    ks_onnx_attr_ints(g, nd, "pads", pads, 4);
    ks_onnx_attr_float(g, nd, "value", 0.5f);
    /* owned initializers, filled here */
    x = ks_onnx_init_float(g, "p/w", 2, dims);
    for (int i = 0; x && i < 6; i++)
        x[i] = (float)i / 4;
    sh = ks_onnx_const_shape(g, "p/shape", (const int64_t[]){-1, 3}, 2);
    k = ks_onnx_const_float(g, "p/k", 0, NULL, 2.5f);
    w = "p/w";
    in2[0] = "p/padded";
    in2[1] = sh;
    y = ks_onnx_node1(g, "Identity", "p/cat", "p/cat_copy");
    CHECK(y && strcmp(y, "p/cat_copy") == 0, "ks_onnx_node1 returns its output");
    CHECK(ks_onnx_rename(g, "p/cat", "y1") == 1, "rename a node's output");
    CHECK(ks_onnx_rename(g, "a", "z") == 0 && ks_onnx_rename(g, "p/w", "z") == 0,
          "graph inputs and initializers are not renamed");
    ks_onnx_node(g, "Gemm", (const char *[]){"y1", w}, 2, (const char *[]){"gemm"}, 1);
    ks_onnx_node(g, "Mul", (const char *[]){"gemm", k}, 2, (const char *[]){"y2"}, 1);
    ks_onnx_output(g, "y1", KS_ONNX_FLOAT, &sa);
    ks_onnx_output(g, "p/s0", KS_ONNX_FLOAT, &s1);
    ks_onnx_meta(g, "input_scale", "255");
    ks_onnx_meta(g, "purpose", "test");
    CHECK(ks_onnx_status(g) == KS_OK, "no failure");
    if (encode_graph(g, t, &buf, &err) == KS_OK) {
        const t_node *n0 = &t->nodes[0], *n1 = &t->nodes[1], *n2 = &t->nodes[2];
        const t_tensor *tw = find_init(t, "p/w"), *ts = find_init(t, "p/shape"),
                       *tk = find_init(t, "p/k");
        CHECK(strcmp(t->graph_name, "test_graph") == 0, "graph name %s", t->graph_name);
        CHECK(t->n_inputs == 2 && strcmp(t->inputs[0].name, "a") == 0 &&
                  t->inputs[0].elem == 1 && t->inputs[0].ndim == 2 &&
                  strcmp(t->inputs[0].param[0], "N") == 0 && t->inputs[0].value[1] == 3 &&
                  strcmp(t->inputs[1].name, "b") == 0 && t->inputs[1].elem == 7 &&
                  t->inputs[1].ndim == 3 && t->inputs[1].value[2] == 2,
              "two named inputs with a symbolic batch dimension");
        CHECK(t->n_outputs == 2 && strcmp(t->outputs[0].name, "y1") == 0 &&
                  strcmp(t->outputs[1].name, "p/s0") == 0 && t->outputs[1].value[1] == 1 &&
                  strcmp(t->outputs[1].param[0], "N") == 0,
              "two named outputs");
        check_ops(t, "Split Concat Pad Identity Gemm Mul");
        CHECK(n0->n_out == 2 && strcmp(n0->out[0], "p/s0") == 0 &&
                  strcmp(n0->out[1], "p/s1") == 0 && strcmp(n0->name, "p/s0") == 0,
              "a node of two outputs, named after the first");
        CHECK(n0->n_attr == 2 && find_attr(n0, "axis") && find_attr(n0, "axis")->type == 2 &&
                  find_attr(n0, "axis")->i == 1 && find_attr(n0, "split") &&
                  find_attr(n0, "split")->type == 7 && find_attr(n0, "split")->n_ints == 2 &&
                  find_attr(n0, "split")->ints[1] == 2,
              "int and ints attributes");
        CHECK(strcmp(n1->out[0], "y1") == 0 && strcmp(n1->name, "y1") == 0 &&
                  strcmp(n2->in[0], "y1") == 0 && strcmp(t->nodes[3].in[0], "y1") == 0,
              "a rename reaches the node and every reader");
        CHECK(find_attr(n2, "mode") && find_attr(n2, "mode")->type == 3 &&
                  strcmp(find_attr(n2, "mode")->s, "reflect") == 0 && find_attr(n2, "pads") &&
                  find_attr(n2, "pads")->n_ints == 4 && find_attr(n2, "pads")->ints[3] == 1 &&
                  find_attr(n2, "value") && find_attr(n2, "value")->type == 1 &&
                  find_attr(n2, "value")->f == 0.5f,
              "string, ints and float attributes");
        CHECK(strcmp(n2->attr[0].name, "mode") == 0 && strcmp(n2->attr[2].name, "value") == 0,
              "attributes in call order");
        CHECK(tw && tw->dtype == 1 && tw->ndim == 2 && tw->dims[1] == 3 && tw->raw_n == 24 &&
                  raw_float(tw, 5) == 1.25f,
              "an owned float initializer");
        CHECK(ts && ts->dtype == 7 && ts->ndim == 1 && raw_int64(ts, 0) == -1 &&
                  raw_int64(ts, 1) == 3,
              "an int64 shape");
        CHECK(tk && tk->ndim == 0 && tk->raw_n == 4 && raw_float(tk, 0) == 2.5f, "a scalar");
        CHECK(t->n_meta == 2 && strcmp(t->meta_key[1], "purpose") == 0 &&
                  strcmp(t->meta_value[1], "test") == 0 && strcmp(t->scale, "255") == 0,
              "metadata in order");
    } else {
        CHECK(0, "encode: %s", err.msg);
    }
    ks_onnx_free(g);
    free(buf);
    free(t);
}

/* What the builder refuses, and failures that stick. */
static void test_builder_errors(void)
{
    t_model *t = calloc(1, sizeof *t);
    ks_shape s1 = {1, {2}};
    ks_onnx *g;
    unsigned char *buf = NULL;
    ks_error err;
    REQUIRE(t != NULL, "memory");
    /* a tensor made twice */
    if ((g = new_graph())) {
        ks_onnx_input(g, "x", KS_ONNX_FLOAT, &s1);
        ks_onnx_node1(g, "Relu", "x", "y");
        ks_onnx_node1(g, "Tanh", "x", "y");
        ks_onnx_output(g, "y", KS_ONNX_FLOAT, &s1);
        CHECK(encode_fails(g, t, &err) == KS_ERR_CONFIG &&
                  strcmp(err.msg, "two tensors of the ONNX graph would be named \"y\"; rename "
                                  "the layer whose name makes it") == 0,
              "a duplicate: %s", err.msg);
        ks_onnx_free(g);
    }
    /* an initializer named as a graph input */
    if ((g = new_graph())) {
        ks_onnx_input(g, "x", KS_ONNX_FLOAT, &s1);
        ks_onnx_const_float(g, "x", 1, (const int64_t[]){2}, 0.0f);
        ks_onnx_node1(g, "Relu", "x", "y");
        ks_onnx_output(g, "y", KS_ONNX_FLOAT, &s1);
        CHECK(encode_fails(g, t, &err) == KS_ERR_CONFIG && strstr(err.msg, "\"x\""),
              "an initializer named as an input: %s", err.msg);
        ks_onnx_free(g);
    }
    /* a tensor read that nothing makes; an output nothing makes */
    if ((g = new_graph())) {
        ks_onnx_input(g, "x", KS_ONNX_FLOAT, &s1);
        ks_onnx_node(g, "Add", (const char *[]){"x", "ghost"}, 2, (const char *[]){"y"}, 1);
        ks_onnx_output(g, "y", KS_ONNX_FLOAT, &s1);
        CHECK(encode_fails(g, t, &err) == KS_ERR_INTERNAL &&
                  strcmp(err.msg, "the ONNX node making \"y\" reads \"ghost\", which nothing "
                                  "makes") == 0,
              "an undefined input: %s", err.msg);
        ks_onnx_free(g);
    }
    if ((g = new_graph())) {
        ks_onnx_input(g, "x", KS_ONNX_FLOAT, &s1);
        ks_onnx_node1(g, "Relu", "x", "y");
        ks_onnx_output(g, "z", KS_ONNX_FLOAT, &s1);
        CHECK(encode_fails(g, t, &err) == KS_ERR_INTERNAL && strstr(err.msg, "\"z\""),
              "an output never made: %s", err.msg);
        ks_onnx_free(g);
    }
    /* an omitted optional input ("") is no tensor */
    if ((g = new_graph())) {
        ks_onnx_input(g, "x", KS_ONNX_FLOAT, &s1);
        ks_onnx_node(g, "Clip", (const char *[]){"x", "", ""}, 3, (const char *[]){"y"}, 1);
        ks_onnx_output(g, "y", KS_ONNX_FLOAT, &s1);
        CHECK(encode_graph(g, t, &buf, &err) == KS_OK && t->nodes[0].n_in == 3 &&
                  t->nodes[0].in[1][0] == '\0',
              "an omitted optional input: %s", err.msg);
        free(buf);
        ks_onnx_free(g);
    }
    /* a NULL name (an earlier call failed): the failure sticks, later calls do nothing */
    if ((g = new_graph())) {
        ks_onnx_input(g, "x", KS_ONNX_FLOAT, &s1);
        CHECK(ks_onnx_node1(g, "Relu", "x", NULL) == NULL, "a NULL output name");
        CHECK(ks_onnx_status(g) == KS_ERR_INTERNAL, "status %d", ks_onnx_status(g));
        CHECK(ks_onnx_node1(g, "Relu", "x", "y") == NULL && ks_onnx_name(g, "y") == NULL &&
                  ks_onnx_const_float(g, "c", 0, NULL, 1.0f) == NULL &&
                  ks_onnx_node(g, "Relu", (const char *[]){"x"}, 1, (const char *[]){"z"}, 1) ==
                      -1,
              "later calls are no-ops");
        ks_onnx_attr_int(g, -1, "axis", 1);     /* ignored, no crash */
        CHECK(encode_fails(g, t, &err) == KS_ERR_INTERNAL &&
                  strcmp(err.msg, "the ONNX graph could not be built") == 0,
              "encode reports it: %s", err.msg);
        ks_onnx_free(g);
    }
    ks_onnx_free(NULL);
    free(t);
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
    test_batchnorm_3d();
    test_no_lowering();
    test_write();
    test_builder();
    test_builder_errors();
    return check_done();
}
