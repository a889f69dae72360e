/*
 * test_graph.c — functional models: the model section read into a graph (dependency
 * order whatever the file's order, names, repeat, sub-models, shared layers), every
 * mistake as one message at its place, warnings for layers nothing uses, several
 * outputs in compile and in the logs, data bound by name, and the normalized config
 * building the same model again.
 */
#include "../engine/engine_impl.h"
#include "../search/search.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

/* Build from YAML text; NULL and the error in *err when it fails. */
static ks_model *build(const char *model_yaml, ks_error *err)
{
    ks_value v;
    ks_model *m = NULL;
    if (ks_yaml_load_text(model_yaml, "m.yaml", &v, err) != KS_OK)
        return NULL;
    if (ks_model_from_config(&v, NULL, 3, &m, err) != KS_OK)
        m = NULL;
    ks_value_free(&v);
    return m;
}

static ks_status compile(ks_model *m, const char *yaml, ks_error *err)
{
    ks_value v;
    ks_status s = ks_yaml_load_text(yaml, "c.yaml", &v, err);
    if (s == KS_OK)
        s = ks_model_compile(m, &v, err);
    ks_value_free(&v);
    return s;
}

static int node_index(const ks_model *m, const char *name)
{
    for (int i = 0; i < ks_model_n_nodes(m); i++)
        if (strcmp(ks_model_node_name(m, i), name) == 0)
            return i;
    return -1;
}

/* The build fails at line:col with a message containing needle. */
static void expect_error(const char *yaml, int line, int col, const char *needle, const char *why)
{
    ks_error err;
    ks_model *m;
    ks_error_clear(&err);
    m = build(yaml, &err);
    CHECK(!m, "%s: built, expected an error", why);
    CHECK(err.line == line && err.col == col, "%s: at %d:%d, expected %d:%d (%s)", why, err.line,
          err.col, line, col, err.msg);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", why, err.msg,
          needle);
    CHECK(strchr(err.msg, '\n') == NULL && err.msg[0] && err.msg[strlen(err.msg) - 1] != '.',
          "%s: one line, no full stop: %s", why, err.msg);
    ks_model_free(m);
}

static void test_order(void)
{
    ks_error err;
    /* listed backwards: built in dependency order, file order kept where free */
    ks_model *m = build("layers:\n"
                        "  - Dense: {units: 2, inputs: h, name: out}\n"
                        "  - Dense: {units: 3, inputs: x, name: h}\n"
                        "  - Input: {shape: [4], name: x}\n"
                        "outputs: [out]\n",
                        &err);
    REQUIRE(m != NULL, "backwards: %s", err.msg);
    CHECK(ks_model_n_nodes(m) == 3, "3 nodes, got %d", ks_model_n_nodes(m));
    CHECK(node_index(m, "x") == 0 && node_index(m, "h") == 1 && node_index(m, "out") == 2,
          "order x, h, out");
    CHECK(ks_model_n_inputs(m) == 1 && strcmp(ks_model_input_name(m, 0), "x") == 0, "input x");
    CHECK(strcmp(ks_model_layer_class(m, 0), "InputLayer") == 0, "Input is an InputLayer");
    ks_model_free(m);

    /* a Sequential list: Keras's automatic names, skipping names given later */
    m = build("- Dense: {units: 3, input_shape: [4]}\n"
              "- Dense: {units: 3}\n"
              "- Dense: {units: 3, name: dense_1}\n"
              "- Dense: {units: 2}\n",
              &err);
    REQUIRE(m != NULL, "sequential: %s", err.msg);
    CHECK(node_index(m, "input_layer") == 0 && node_index(m, "dense") == 1 &&
              node_index(m, "dense_2") == 2 && node_index(m, "dense_1") == 3 &&
              node_index(m, "dense_3") == 4,
          "automatic names skip given ones");
    ks_model_free(m);

    /* repeat chains copies; its name refers to the last copy; repeat 0 passes through */
    m = build("- Input: {shape: [4], name: x}\n"
              "- Dense: {units: 3, name: h, repeat: 3}\n"
              "- Dense: {units: 3, name: gone, repeat: 0}\n"
              "- Dense: {units: 5, inputs: h, name: a}\n"
              "- Dense: {units: 5, inputs: gone, name: b}\n"
              "- Add: {inputs: [a, b]}\n",
              &err);
    REQUIRE(m != NULL, "repeat: %s", err.msg);
    CHECK(ks_model_n_nodes(m) == 7, "7 nodes, got %d", ks_model_n_nodes(m));
    {
        int h1 = node_index(m, "h_1"), h2 = node_index(m, "h_2"), a = node_index(m, "a"),
            b = node_index(m, "b");
        REQUIRE(h1 > 0 && h2 > 0 && a > 0 && b > 0, "names h_1 h_2 a b");
        CHECK(ks_model_node_input(m, h2, 0) == h1, "h_2 reads h_1");
        CHECK(ks_model_node_input(m, a, 0) == h2 && ks_model_node_input(m, b, 0) == h2,
              "h means the last copy; repeat: 0 passes h_2 through");
    }
    ks_model_free(m);
}

static void test_errors(void)
{
    expect_error("layers:\n"
                 "  - Input: {shape: [4], name: x}\n"
                 "  - Add: {inputs: [x, b], name: a}\n"
                 "  - Dense: {units: 4, inputs: a, name: b}\n"
                 "outputs: [b]\n",
                 3, 19, "the layers form a cycle: a reads b reads a", "a cycle");
    expect_error("- Input: {shape: [4], name: x}\n"
                 "- Dense: {units: 3, name: hidden}\n"
                 "- Dense: {units: 1, inputs: hiden}\n",
                 3, 29, "inputs names no layer \"hiden\" (did you mean \"hidden\"?)",
                 "an unknown input name");
    {
        /* an unknown class is never "did you mean" itself (an unnamed call is named after
           what it calls) */
        ks_error err;
        ks_model *m = build("- Input: {shape: [4], name: x}\n- encoder: {}\n", &err);
        CHECK(!m && strstr(err.msg, "unknown layer \"encoder\"") &&
                  !strstr(err.msg, "did you mean \"encoder\""),
              "an unknown class: %s", err.msg);
        ks_model_free(m);
    }
    {
        /* the known kinds, as many as fit in the message, then how many more: never cut
           at ks_error's size mid-name (a long unknown name leaves less room) */
        static const char *const names[] = {"Dence", "Dense2_with_a_very_long_name_that_"
                                                     "takes_room_in_the_message_0123456789"};
        for (int t = 0; t < 2; t++) {
            ks_error err;
            char yaml[256];
            const char *list, *last;
            int kinds = 0, named = 1, more = 0;
            snprintf(yaml, sizeof yaml, "- Input: {shape: [4], name: x}\n- %s: {}\n", names[t]);
            ks_model *m = build(yaml, &err);
            for (int i = 0; ks_layer_kinds[i]; i++)
                kinds++;
            list = strstr(err.msg, "; known: ");
            CHECK(!m && list && strlen(err.msg) < sizeof err.msg - 1,
                  "an unknown class: the message is whole: %s", err.msg);
            if (list) {
                const char *and = strstr(list, " and ");
                for (const char *q = list; *q && (!and || q < and); q++)
                    named += *q == ',';
                if (and)
                    more = atoi(and + 5);
                last = strrchr(err.msg, ' ') + 1;
                CHECK(named + more == kinds &&
                          (and ? strcmp(last, "more") == 0
                               : strcmp(last, ks_layer_kinds[kinds - 1]->name) == 0),
                      "an unknown class: %d named and %d more of %d kinds, ending \"%s\": %s",
                      named, more, kinds, last, err.msg);
            }
            ks_model_free(m);
        }
    }
    expect_error("- Input: {shape: [4], name: x}\n"
                 "- Dense: {units: 3, name: h}\n"
                 "- Dense: {units: 1, name: h}\n",
                 3, 27, "two layers are named \"h\"", "two layers with one name");
    expect_error("layers:\n"
                 "  - Input: {shape: [5], name: wide}\n"
                 "  - Input: {shape: [3, 2], name: deep}\n"
                 "  - Concatenate: {inputs: [wide, deep]}\n",
                 4, 18,
                 "Concatenate needs inputs of one shape except along axis -1, got (None, 5) "
                 "from \"wide\" and (None, 3, 2) from \"deep\"",
                 "Concatenate of mismatched shapes");
    expect_error("layers:\n"
                 "  - Input: {shape: [5], name: a}\n"
                 "  - Input: {shape: [4], name: b}\n"
                 "  - Add: {inputs: [a, b]}\n",
                 4, 10, "Add needs inputs of one shape", "Add of different shapes");
    expect_error("layers:\n"
                 "  - Input: {shape: [5], name: a}\n"
                 "  - Subtract: {inputs: [a, a, a]}\n",
                 3, 15, "Subtract takes exactly 2 inputs, got 3", "Subtract of three");
    expect_error("- Input: {shape: [4], name: x}\n"
                 "- Dense: {units: 3, inputs: [x, x]}\n",
                 2, 29, "Dense takes one input, got 2", "two inputs into Dense");
    expect_error("layers:\n"
                 "  - Input: {shape: [4], name: a}\n"
                 "  - Input: {shape: [4], name: b}\n"
                 "  - Add: {inputs: [a, b]}\n"
                 "inputs: [a]\n",
                 5, 9, "inputs leaves out the Input \"b\"", "an Input left out of inputs");
    expect_error("layers:\n"
                 "  - Input: {shape: [4], name: a}\n"
                 "  - Dense: {units: 2}\n"
                 "outputs: [dense, a]\n",
                 4, 18, "outputs names \"a\", an input", "an input as output");
    expect_error("models:\n"
                 "  enc: [{Dense: {units: 3}}]\n"
                 "layers:\n"
                 "  - Input: {shape: [4], name: a}\n"
                 "  - Input: {shape: [5], name: b}\n"
                 "  - enc: {inputs: a, name: left}\n"
                 "  - enc: {inputs: b, name: right}\n"
                 "  - Add: {inputs: [left, right]}\n",
                 7, 10, "a shared layer takes one shape: input 0 is (None, 5) here",
                 "a sub-model called on two shapes");
    expect_error("models:\n"
                 "  a: [{b: {}}]\n"
                 "  b: [{a: {}}]\n"
                 "layers:\n"
                 "  - Input: {shape: [4], name: x}\n"
                 "  - a: {}\n",
                 3, 8, "sub-model \"a\" is called from itself (through \"b\")",
                 "sub-models calling each other");
    expect_error("- Input: {shape: [4], name: x}\n"
                 "- Dense: {units: 3, name: s}\n"
                 "- s: {units: 4}\n",
                 3, 7, "a call of \"s\" takes name, inputs and repeat only, got units",
                 "arguments on a call of a shared layer");
    expect_error("- Dense: {units: 3, input_shape: [4], name: a/b}\n", 1, 45,
                 "name must be 1 to 55 characters without \"/\"", "a name with /");
}

static void test_warnings(void)
{
    ks_error err;
    ks_model *m = build("layers:\n"
                        "  - Input: {shape: [4], name: x}\n"
                        "  - Dense: {units: 3, name: used}\n"
                        "  - Dense: {units: 3, inputs: x, name: dangling}\n"
                        "outputs: [used]\n",
                        &err);
    const char *w;
    REQUIRE(m != NULL, "dangling: %s", err.msg);
    w = ks_model_warnings(m);
    CHECK(w && strstr(w, "m.yaml:4:5: warning: the output of layer \"dangling\" is not used by "
                         "any layer or model output; it is left out of the model\n"),
          "warning: %s", w ? w : "(none)");
    CHECK(node_index(m, "dangling") < 0 && ks_model_n_layers(m) == 2,
          "the dangling layer is left out");
    ks_model_free(m);
    m = build("- Dense: {units: 3, input_shape: [4]}\n- Dense: {units: 2}\n", &err);
    REQUIRE(m != NULL, "sequential: %s", err.msg);
    CHECK(ks_model_warnings(m) == NULL, "a Sequential list warns of nothing");
    ks_model_free(m);
}

static void test_shared_and_submodels(void)
{
    ks_error err;
    ks_model *m = build("models:\n"
                        "  encoder:\n"
                        "    - Dense: {units: 5, activation: relu}\n"
                        "    - Dense: {units: 3}\n"
                        "layers:\n"
                        "  - Input: {shape: [4], name: a}\n"
                        "  - Input: {shape: [4], name: b}\n"
                        "  - encoder: {inputs: a, name: left}\n"
                        "  - encoder: {inputs: b, name: right}\n"
                        "  - Dense: {units: 3, name: shared, inputs: left}\n"
                        "  - shared: {inputs: right, name: shared_right}\n"
                        "  - Subtract: {inputs: [shared, shared_right]}\n",
                        &err);
    REQUIRE(m != NULL, "siamese: %s", err.msg);
    /* weights once per layer, named by the sub-model */
    CHECK(ks_model_n_weights(m) == 6, "6 weights, got %d", ks_model_n_weights(m));
    CHECK(strcmp(ks_model_weight_name(m, 0), "encoder/dense/kernel") == 0 &&
              strcmp(ks_model_weight_name(m, 2), "encoder/dense_1/kernel") == 0 &&
              strcmp(ks_model_weight_name(m, 4), "shared/kernel") == 0,
          "weight names %s %s %s", ks_model_weight_name(m, 0), ks_model_weight_name(m, 2),
          ks_model_weight_name(m, 4));
    CHECK(node_index(m, "left/dense") > 0 && node_index(m, "right/dense_1") > 0,
          "calls named by their path");
    {
        int l = node_index(m, "left/dense"), r = node_index(m, "right/dense");
        CHECK(l >= 0 && r >= 0 && ks_model_node_layer(m, l) == ks_model_node_layer(m, r),
              "one layer for both calls");
        CHECK(!ks_model_can_fuse_sgd(m), "no fused SGD with shared layers");
    }
    ks_model_free(m);
}

/* The normalized config builds the same model, and normalizes to itself. */
static void round_trip(const char *yaml, const char *why)
{
    ks_error err;
    ks_model *m = build(yaml, &err), *m2 = NULL;
    ks_value cfg, cfg2;
    char *json = NULL;
    size_t len;
    REQUIRE(m != NULL, "%s: %s", why, err.msg);
    REQUIRE(ks_model_config(m, &cfg, NULL) == KS_OK, "%s: config", why);
    REQUIRE(ks_value_to_json(&cfg, &json, &len) == KS_OK, "%s: json", why);
    CHECK(ks_model_from_config(&cfg, NULL, 3, &m2, &err) == KS_OK, "%s: rebuild: %s (%s)", why,
          err.msg, json);
    if (m2) {
        CHECK(ks_model_n_nodes(m2) == ks_model_n_nodes(m) &&
                  ks_model_n_weights(m2) == ks_model_n_weights(m) &&
                  ks_model_n_outputs(m2) == ks_model_n_outputs(m),
              "%s: same sizes", why);
        for (int i = 0; i < ks_model_n_nodes(m) && i < ks_model_n_nodes(m2); i++)
            CHECK(strcmp(ks_model_node_name(m, i), ks_model_node_name(m2, i)) == 0,
                  "%s: node %d %s vs %s", why, i, ks_model_node_name(m, i),
                  ks_model_node_name(m2, i));
        for (int i = 0; i < ks_model_n_weights(m) && i < ks_model_n_weights(m2); i++)
            CHECK(strcmp(ks_model_weight_name(m, i), ks_model_weight_name(m2, i)) == 0 &&
                      memcmp(ks_model_weight_data(m, i), ks_model_weight_data(m2, i),
                             ks_shape_size(ks_model_weight_shape(m, i)) * sizeof(float)) == 0,
                  "%s: weight %d %s", why, i, ks_model_weight_name(m, i));
        CHECK(ks_model_config(m2, &cfg2, NULL) == KS_OK && ks_value_equal(&cfg, &cfg2),
              "%s: the config normalizes to itself", why);
        ks_value_free(&cfg2);
        CHECK(ks_model_warnings(m2) == NULL || ks_model_warnings(m) != NULL,
              "%s: no new warnings", why);
    }
    free(json);
    ks_value_free(&cfg);
    ks_model_free(m2);
    ks_model_free(m);
}

static void test_config(void)
{
    round_trip("- Flatten: {input_shape: [3, 2]}\n- Dense: {units: 4, repeat: 2}\n"
               "- Dense: {units: 2, activation: softmax}\n",
               "a Sequential list");
    round_trip("layers:\n"
               "  - Input: {shape: [5], name: wide}\n"
               "  - Input: {shape: [6], name: deep}\n"
               "  - Dense: {units: 30, activation: relu, inputs: deep, name: h1}\n"
               "  - Dense: {units: 30, activation: relu, name: h2}\n"
               "  - Concatenate: {inputs: [wide, h2]}\n"
               "  - Dense: {units: 1, name: main_output}\n"
               "  - Dense: {units: 1, inputs: h2, name: aux_output}\n"
               "outputs: [main_output, aux_output]\n",
               "wide & deep");
    round_trip("models:\n"
               "  encoder: [{Dense: {units: 5}}, {Dropout: {rate: 0.5}}, {Dense: {units: 3}}]\n"
               "  pair:\n"
               "    layers: [{Input: {shape: [3], name: p}}, {Input: {shape: [3], name: q}},\n"
               "             {Multiply: {inputs: [p, q]}}]\n"
               "layers:\n"
               "  - Input: {shape: [4], name: a}\n"
               "  - Input: {shape: [4], name: b}\n"
               "  - encoder: {inputs: a, name: left}\n"
               "  - encoder: {inputs: b, name: right}\n"
               "  - pair: {inputs: [left, right]}\n"
               "  - Dense: {units: 3, name: s}\n"
               "  - s: {inputs: left}\n"
               "  - Add: {inputs: [s, s_1]}\n",
               "sub-models and shared layers");
    round_trip("layers:\n"
               "  - Input: {shape: [4], name: x}\n"
               "  - Dense: {units: 3, name: def, inputs: x}\n"
               "  - Dense: {units: 3, name: other, inputs: x}\n"
               "  - def: {inputs: other, name: call}\n"
               "outputs: [call]\n",
               "a shared layer whose own call is unused");
    /* a sub-model whose only entry calls another sub-model (it owns no layer itself) */
    round_trip("models:\n"
               "  outer: [{inner: {}}]\n"
               "  inner: [{Dense: {units: 3, activation: tanh, name: d}}]\n"
               "layers:\n"
               "  - Input: {shape: [4], name: x}\n"
               "  - outer: {}\n"
               "  - Dense: {units: 2}\n",
               "nested sub-models");
}

/* ------------------------------------------------------------- outputs */

#define N 96
static float xw[N * 3], xd[N * 4], y_main[N], y_aux[N];

static const char *const WIDE_DEEP =
    "layers:\n"
    "  - Input: {shape: [3], name: wide}\n"
    "  - Input: {shape: [4], name: deep}\n"
    "  - Dense: {units: 8, activation: relu, inputs: deep, name: h}\n"
    "  - Concatenate: {inputs: [wide, h]}\n"
    "  - Dense: {units: 1, name: main_output}\n"
    "  - Dense: {units: 3, activation: softmax, inputs: h, name: aux_output}\n"
    "outputs: [main_output, aux_output]\n";

static ks_data wide_deep_data(void)
{
    ks_data d;
    memset(&d, 0, sizeof d);
    d.n = N;
    d.n_inputs = 2;
    d.inputs[0] = (ks_array){"deep", {1, {4}}, 4, xd, 0, 0};
    d.inputs[1] = (ks_array){"wide", {1, {3}}, 3, xw, 0, 0};
    d.n_targets = 2;
    d.targets[0] = (ks_array){"aux_output", {1, {1}}, 1, y_aux, 1, 3};
    d.targets[1] = (ks_array){"main_output", {1, {1}}, 1, y_main, 0, 0};
    return d;
}

static void make_data(void)
{
    ks_rng *r;
    ks_rng_new(5, 0, 0, &r);
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++)
            s += (xw[i * 3 + j] = (float)ks_rng_normal(r, 1.0));
        for (int j = 0; j < 4; j++)
            s += 0.5 * (xd[i * 4 + j] = (float)ks_rng_normal(r, 1.0));
        y_main[i] = (float)s;
        y_aux[i] = (float)(s < -1 ? 0 : s < 1 ? 1 : 2);
    }
    ks_rng_free(r);
}

static void test_compile_outputs(void)
{
    ks_error err;
    ks_model *m = build(WIDE_DEEP, &err);
    REQUIRE(m != NULL, "wide & deep: %s", err.msg);
    /* a loss map naming an unknown output: at that key, with the outputs listed */
    CHECK(compile(m, "{loss: {main_output: mse, aux_outptu: sparse_categorical_crossentropy}}",
                  &err) == KS_ERR_CONFIG &&
              err.line == 1 && err.col == 27 &&
              strstr(err.msg, "loss names no output \"aux_outptu\" (did you mean \"aux_output\"?); "
                              "the model's outputs are main_output, aux_output"),
          "unknown output in a loss map: %d:%d %s", err.line, err.col, err.msg);
    CHECK(compile(m, "{loss: {main_output: mse}}", &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "no loss for the output \"aux_output\""),
          "a loss missing for an output: %s", err.msg);
    CHECK(compile(m, "{loss: [mse]}", &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "loss lists 1 values but the model has 2 outputs"),
          "a list too short: %s", err.msg);
    REQUIRE(compile(m, "{optimizer: {Adam: {learning_rate: 0.01}}, loss: [mse, "
                       "sparse_categorical_crossentropy], loss_weights: [0.9, 0.1], "
                       "metrics: {main_output: [mae], aux_output: [accuracy]}}",
                    &err) == KS_OK,
            "compile: %s", err.msg);
    {
        const char *want[] = {"main_output_loss", "aux_output_loss", "main_output_mae",
                              "aux_output_accuracy"};
        CHECK(ks_model_n_metrics(m) == 4, "4 logged names, got %d", ks_model_n_metrics(m));
        for (int i = 0; i < 4 && i < ks_model_n_metrics(m); i++)
            CHECK(strcmp(ks_model_metric_name(m, i), want[i]) == 0, "log %d: %s", i,
                  ks_model_metric_name(m, i));
    }
    {
        /* the normalized compile section compiles to the same */
        ks_value layers, cfg;
        ks_model_config(m, &layers, &cfg);
        CHECK(ks_model_compile(m, &cfg, &err) == KS_OK, "recompile: %s", err.msg);
        CHECK(m->outputs[0].loss_weight == 0.9 && m->outputs[1].loss_weight == 0.1 &&
                  m->n_metrics == 2,
              "weights and metrics kept");
        ks_value_free(&layers);
        ks_value_free(&cfg);
    }
    ks_model_free(m);
}

static void test_fit_outputs(void)
{
    ks_error err;
    ks_model *m = build(WIDE_DEEP, &err);
    ks_fit_params p = ks_fit_params_default();
    ks_fit_history h;
    ks_logs logs;
    ks_data d = wide_deep_data();
    double v;
    REQUIRE(m != NULL, "wide & deep: %s", err.msg);
    REQUIRE(compile(m, "{optimizer: {SGD: {learning_rate: 0.05}}, loss: [mse, "
                       "sparse_categorical_crossentropy], loss_weights: [0.9, 0.1], "
                       "metrics: [mae]}",
                    &err) == KS_OK,
            "compile: %s", err.msg);
    p.epochs = 3;
    p.batch_size = 16;
    p.verbose = 0;
    p.validation_split = 0.25;
    ks_fit_history_init(&h);
    REQUIRE(ks_model_fit(m, &d, NULL, &p, NULL, 0, &h, &err) == KS_OK, "fit: %s", err.msg);
    {
        const char *names[] = {"loss", "main_output_loss", "aux_output_loss", "main_output_mae",
                               "aux_output_mae", "val_loss", "val_main_output_loss",
                               "val_aux_output_loss", "val_main_output_mae",
                               "val_aux_output_mae"};
        const ks_logs *l = &h.logs[h.n_epochs - 1];
        double total, a, b;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            CHECK(ks_logs_get(l, names[i], &v) && isfinite(v), "log %s", names[i]);
        CHECK(l->n == 10, "10 logs, got %d", l->n);
        /* the total is the weighted sum of the outputs' losses (no regularizer here) */
        ks_logs_get(l, "val_loss", &total);
        ks_logs_get(l, "val_main_output_loss", &a);
        ks_logs_get(l, "val_aux_output_loss", &b);
        CHECK(fabs(total - (0.9 * a + 0.1 * b)) < 1e-6 * fabs(total) + 1e-9,
              "val_loss %g = 0.9·%g + 0.1·%g", total, a, b);
    }
    ks_fit_history_free(&h);
    REQUIRE(ks_model_evaluate(m, &d, 32, 0, NULL, 0, &logs, &err) == KS_OK, "evaluate: %s",
            err.msg);
    {
        /* predict writes every output, and agrees with evaluate's loss */
        float *main_p = malloc(N * sizeof *main_p), *aux_p = malloc(N * 3 * sizeof *aux_p);
        float *outs[2] = {main_p, aux_p};
        double mse = 0, main_loss;
        REQUIRE(ks_model_predict_outputs(m, &d, 7, outs, &err) == KS_OK, "predict: %s", err.msg);
        for (int i = 0; i < N; i++)
            mse += (main_p[i] - y_main[i]) * (main_p[i] - y_main[i]);
        ks_logs_get(&logs, "main_output_loss", &main_loss);
        CHECK(fabs(mse / N - main_loss) < 1e-4 * main_loss, "mse %g vs %g", mse / N, main_loss);
        for (int i = 0; i < N; i++)
            CHECK(fabsf(aux_p[3 * i] + aux_p[3 * i + 1] + aux_p[3 * i + 2] - 1.0f) < 1e-5f,
                  "softmax row %d", i);
        free(main_p);
        free(aux_p);
    }
    /* data missing an input the model declares */
    d.inputs[0].name = "deeep";
    CHECK(ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "training data has no array for the model's input \"deep\"; it has "
                              "deeep, wide"),
          "a missing input: %s", err.msg);
    d = wide_deep_data();
    d.n_targets = 1;
    CHECK(ks_model_evaluate(m, &d, 32, 0, NULL, 0, &logs, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "has no targets for the model's output \"main_output\""),
          "missing targets: %s", err.msg);
    ks_model_free(m);
}

/* Each output's targets checked against its own loss's domain, named by output. */
static void test_target_domains(void)
{
    ks_error err;
    ks_model *m = build("layers:\n"
                        "  - Input: {shape: [4], name: deep}\n"
                        "  - Dense: {units: 4, activation: relu, name: h}\n"
                        "  - Dense: {units: 1, name: main_output}\n"
                        "  - Dense: {units: 1, activation: sigmoid, inputs: h, name: gate}\n"
                        "outputs: [main_output, gate]\n",
                        &err);
    ks_logs logs;
    ks_data d;
    float y_nan[N];
    int first2 = -1;
    char want[96];
    REQUIRE(m != NULL, "%s", err.msg);
    REQUIRE(compile(m, "{loss: [mse, binary_crossentropy]}", &err) == KS_OK, "%s", err.msg);
    memset(&d, 0, sizeof d);
    d.n = N;
    d.n_inputs = 1;
    d.inputs[0] = (ks_array){"deep", {1, {4}}, 4, xd, 0, 0};
    d.n_targets = 2;
    d.targets[0] = (ks_array){"main_output", {1, {1}}, 1, y_main, 0, 0};
    d.targets[1] = (ks_array){"gate", {1, {1}}, 1, y_aux, 0, 0};
    for (int i = 0; i < N && first2 < 0; i++)
        if (y_aux[i] == 2)
            first2 = i;
    REQUIRE(first2 >= 0, "the classes include 2");
    snprintf(want, sizeof want, "evaluation target %d for \"gate\" is 2; binary_crossentropy "
                                "expects", first2);
    CHECK(ks_model_evaluate(m, &d, 32, 0, NULL, 0, &logs, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, want),
          "class 2 for a sigmoid output: %s", err.msg);
    /* mse takes any finite number, not NaN */
    memcpy(y_nan, y_main, sizeof y_nan);
    y_nan[5] = NAN;
    d.targets[0].data = y_nan;
    d.targets[1].data = y_main;     /* out of [0, 1] too, but main_output is checked first */
    CHECK(ks_model_evaluate(m, &d, 32, 0, NULL, 0, &logs, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "evaluation target 5 for \"main_output\" is nan, not a finite "
                              "number"),
          "a NaN target: %s", err.msg);
    ks_model_free(m);
}

/*
 * Metrics of an output whose targets are narrower than it: class indices against a
 * softmax.  mae and mse compare each probability with the index (Keras broadcasts the
 * (n, 1) targets over the (n, k) outputs); the targets are read at their own width.
 */
static void test_metric_widths(void)
{
    ks_error err;
    ks_model *m = build("[{Dense: {units: 3, activation: softmax, input_shape: [4]}}]", &err);
    ks_data d;
    ks_logs logs;
    float p[N * 3];
    double mae = 0, mse = 0, got_mae = -1, got_mse = -1;
    REQUIRE(m != NULL, "%s", err.msg);
    REQUIRE(compile(m, "{loss: sparse_categorical_crossentropy, metrics: [mae, mse]}", &err) ==
                KS_OK,
            "%s", err.msg);
    memset(&d, 0, sizeof d);
    d.n = N;
    d.x_shape = (ks_shape){1, {4}};
    d.x_size = 4;
    d.x = xd;
    d.y = y_aux;
    d.y_size = 1;
    d.y_is_label = 1;
    d.n_classes = 3;
    REQUIRE(ks_model_predict(m, &d, 32, p, &err) == KS_OK, "%s", err.msg);
    REQUIRE(ks_model_evaluate(m, &d, 32, 0, NULL, 0, &logs, &err) == KS_OK, "%s", err.msg);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < 3; j++) {
            double e = p[3 * i + j] - y_aux[i];
            mae += fabs(e) / 3;
            mse += e * e / 3;
        }
    ks_logs_get(&logs, "mae", &got_mae);
    ks_logs_get(&logs, "mse", &got_mse);
    CHECK(fabs(got_mae - mae / N) < 1e-5 && fabs(got_mse - mse / N) < 1e-5,
          "mae %g (want %g), mse %g (want %g)", got_mae, mae / N, got_mse, mse / N);
    ks_model_free(m);
}

/* A functional model through a model file: the same graph, weights, outputs, optimizer. */
static void test_model_file(void)
{
    ks_error err;
    ks_model *m = build("models:\n"
                        "  enc: [{Dense: {units: 5, activation: tanh}}, {BatchNormalization: {}}]\n"
                        "layers:\n"
                        "  - Input: {shape: [3], name: wide}\n"
                        "  - Input: {shape: [4], name: deep}\n"
                        "  - Dense: {units: 3, inputs: deep, name: h}\n"
                        "  - enc: {inputs: h, name: e1}\n"
                        "  - Dense: {units: 3, inputs: wide, name: w3}\n"
                        "  - enc: {inputs: w3, name: e2}\n"
                        "  - Concatenate: {inputs: [e1, e2, wide]}\n"
                        "  - Dense: {units: 1, name: main_output}\n"
                        "  - Dense: {units: 3, activation: softmax, inputs: e1, name: aux_output}\n"
                        "outputs: [main_output, aux_output]\n",
                        &err),
             *back = NULL;
    ks_fit_params p = ks_fit_params_default();
    ks_data d = wide_deep_data();
    unsigned char *buf = NULL;
    size_t len;
    int epoch = 0;
    REQUIRE(m != NULL, "build: %s", err.msg);
    REQUIRE(compile(m, "{optimizer: {Adam: {}}, loss: [mse, sparse_categorical_crossentropy],"
                       " loss_weights: [1.0, 0.3], metrics: {aux_output: [accuracy]}}",
                    &err) == KS_OK,
            "compile: %s", err.msg);
    p.epochs = 2;
    p.verbose = 0;
    REQUIRE(ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "fit: %s", err.msg);
    REQUIRE(ks_model_save_buffer(m, KS_SAVE_OPTIMIZER, 2, &buf, &len, &err) == KS_OK, "save: %s",
            err.msg);
    REQUIRE(ks_model_load_buffer(buf, len, "graph.ksm", &back, &epoch, &err) == KS_OK,
            "load: %s", err.msg);
    CHECK(epoch == 2 && ks_model_iterations(back) == ks_model_iterations(m), "epoch, iterations");
    CHECK(ks_model_n_nodes(back) == ks_model_n_nodes(m) &&
              ks_model_n_outputs(back) == 2 && ks_model_n_inputs(back) == 2 &&
              strcmp(ks_model_input_name(back, 1), "deep") == 0,
          "the same graph");
    CHECK(ks_model_weights_size(back) == ks_model_weights_size(m) &&
              memcmp(ks_model_weights(back), ks_model_weights(m),
                     ks_model_weights_size(m) * sizeof(float)) == 0,
          "the same weights");
    {
        float a0[N], a1[N * 3], b0[N], b1[N * 3];
        float *oa[2] = {a0, a1}, *ob[2] = {b0, b1};
        CHECK(ks_model_predict_outputs(m, &d, 32, oa, &err) == KS_OK &&
                  ks_model_predict_outputs(back, &d, 32, ob, &err) == KS_OK &&
                  memcmp(a0, b0, sizeof a0) == 0 && memcmp(a1, b1, sizeof a1) == 0,
              "the same outputs: %s", err.msg);
    }
    {
        /* continuing both gives the same weights: the optimizer state came along */
        p.initial_epoch = 2;
        p.epochs = 3;
        CHECK(ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK &&
                  ks_model_fit(back, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK,
              "fit on: %s", err.msg);
        CHECK(memcmp(ks_model_weights(back), ks_model_weights(m),
                     ks_model_weights_size(m) * sizeof(float)) == 0,
              "resumed alike");
    }
    free(buf);
    ks_model_free(back);
    ks_model_free(m);
}

int main(void)
{
    make_data();
    test_order();
    test_errors();
    test_warnings();
    test_shared_and_submodels();
    test_config();
    test_compile_outputs();
    test_fit_outputs();
    test_target_domains();
    test_model_file();
    test_metric_widths();
    return check_done();
}
