/*
 * test_layers_grad.c — gradient checks: for every layer, activation, loss and
 * regularizer, the analytic gradient of the loss with respect to every parameter
 * (which also exercises each layer's input gradient, since a trainable Dense sits
 * before it) matches central finite differences on small random shapes.
 */
#include "grad_check.h"
#include "../search/search.h"

/* --------------------------------------------------------------- the tests */

static void test_activations(ks_rng *r)
{
    for (int a = 0; ks_activation_names[a]; a++) {
        char why[96];
        batch b;
        ks_value layers;
        /* as Dense's own activation, then as an Activation layer */
        for (int as_layer = 0; as_layer < 2; as_layer++) {
            ks_value_init(&layers, KS_VALUE_LIST);
            input(&layers, 6, 0);
            if (as_layer) {
                dense(&layers, 5, "linear");
                put_str(layer(&layers, "Activation"), "activation", ks_activation_names[a]);
            } else {
                dense(&layers, 5, ks_activation_names[a]);
            }
            dense(&layers, 3, "linear");
            snprintf(why, sizeof why, "%s %s", as_layer ? "Activation" : "Dense",
                     ks_activation_names[a]);
            fill_batch(&b, r, 6, 3, "real");
            b.use_w = 0;
            {
                ks_model *m = build(&layers, "mse", 0, 0, why);
                check_grads(m, &b, why);
                ks_model_free(m);
            }
        }
    }
}

static void test_layers(ks_rng *r)
{
    batch b;
    ks_value layers;
    ks_model *m;

    /* Flatten between two shapes */
    ks_value_init(&layers, KS_VALUE_LIST);
    input(&layers, 3, 4);
    layer(&layers, "Flatten");
    dense(&layers, 4, "tanh");
    dense(&layers, 2, "linear");
    fill_batch(&b, r, 12, 2, "real");
    b.use_w = 0;
    m = build(&layers, "mse", 0, 0, "Flatten");
    check_grads(m, &b, "Flatten");
    ks_model_free(m);

    /* BatchNormalization in training mode (batch statistics), with and without γ/β */
    for (int affine = 0; affine < 2; affine++) {
        ks_value *bn;
        ks_value_init(&layers, KS_VALUE_LIST);
        input(&layers, 4, 0);
        dense(&layers, 6, "linear");
        bn = layer(&layers, "BatchNormalization");
        if (!affine) {
            ks_value_put(bn, "center", KS_VALUE_BOOL)->boolean = 0;
            ks_value_put(bn, "scale", KS_VALUE_BOOL)->boolean = 0;
        }
        dense(&layers, 3, "sigmoid");
        fill_batch(&b, r, 4, 3, "real");
        m = build(&layers, "mse", 0, 0, affine ? "BatchNormalization" : "BatchNormalization plain");
        if (m) {
            /* non-trivial γ and β so their gradients and the scaled dx are exercised */
            for (int wi = 0; wi < m->n_weights; wi++)
                if (strstr(m->weights[wi]->name, "gamma") || strstr(m->weights[wi]->name, "beta"))
                    for (size_t i = 0; i < m->weights[wi]->size; i++)
                        m->weights[wi]->w[i] = (float)(0.5 + ks_rng_uniform(r));
        }
        check_grads(m, &b, affine ? "BatchNormalization" : "BatchNormalization plain");
        ks_model_free(m);
    }

    /* Dropout: the same mask forward and backward */
    ks_value_init(&layers, KS_VALUE_LIST);
    input(&layers, 5, 0);
    dense(&layers, 8, "elu");
    put_num(layer(&layers, "Dropout"), "rate", 0.4);
    dense(&layers, 2, "linear");
    fill_batch(&b, r, 5, 2, "real");
    m = build(&layers, "mse", 0, 0, "Dropout");
    check_grads(m, &b, "Dropout");
    ks_model_free(m);

    /* Dense without bias, and a frozen layer in the middle */
    ks_value_init(&layers, KS_VALUE_LIST);
    input(&layers, 5, 0);
    ks_value_put(dense(&layers, 4, "relu"), "use_bias", KS_VALUE_BOOL)->boolean = 0;
    ks_value_put(dense(&layers, 4, "tanh"), "trainable", KS_VALUE_BOOL)->boolean = 0;
    dense(&layers, 2, "linear");
    fill_batch(&b, r, 5, 2, "real");
    m = build(&layers, "mse", 0, 0, "Dense no bias, frozen middle");
    check_grads(m, &b, "Dense no bias, frozen middle");
    ks_model_free(m);
}

typedef struct loss_case {
    const char *loss;
    const char *out_act;        /* the output Dense's activation */
    int extra_linear;           /* an Activation(linear) after it: no fusing */
    int from_logits;
    const char *targets;
    int k;
    double delta;
} loss_case;

static void test_losses(ks_rng *r)
{
    static const loss_case cases[] = {
        {"mse", "linear", 0, 0, "real", 3, 0},
        {"mae", "linear", 0, 0, "real", 3, 0},
        {"huber", "linear", 0, 0, "real", 3, 0},
        {"huber", "linear", 0, 0, "real", 3, 0.3},
        {"binary_crossentropy", "sigmoid", 0, 0, "binary", 3, 0},     /* fused */
        {"binary_crossentropy", "sigmoid", 1, 0, "binary", 3, 0},     /* on probabilities */
        {"binary_crossentropy", "linear", 0, 1, "binary", 3, 0},      /* from_logits */
        {"categorical_crossentropy", "softmax", 0, 0, "onehot", 4, 0},
        {"categorical_crossentropy", "softmax", 1, 0, "dist", 4, 0},
        {"categorical_crossentropy", "linear", 0, 1, "onehot", 4, 0},
        {"sparse_categorical_crossentropy", "softmax", 0, 0, "label", 4, 0},
        {"sparse_categorical_crossentropy", "softmax", 1, 0, "label", 4, 0},
        {"sparse_categorical_crossentropy", "linear", 0, 1, "label", 4, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const loss_case *lc = &cases[c];
        char why[128];
        batch b;
        ks_value layers;
        ks_model *m;
        for (int weighted = 0; weighted < 2; weighted++) {
            ks_value_init(&layers, KS_VALUE_LIST);
            input(&layers, 5, 0);
            dense(&layers, 6, "tanh");
            dense(&layers, lc->k, lc->out_act);
            if (lc->extra_linear)
                put_str(layer(&layers, "Activation"), "activation", "linear");
            snprintf(why, sizeof why, "%s on %s%s%s%s", lc->loss, lc->out_act,
                     lc->extra_linear ? " (unfused)" : "", lc->from_logits ? " from_logits" : "",
                     weighted ? ", sample weights" : "");
            fill_batch(&b, r, 5, lc->k, lc->targets);
            b.use_w = weighted;
            m = build(&layers, lc->loss, lc->from_logits, lc->delta, why);
            if (m)
                CHECK(m->nodes[m->outputs[0].node].fused ==
                          (!lc->extra_linear && !lc->from_logits &&
                           strcmp(lc->out_act, "linear") != 0),
                      "%s: fused is %d", why, m->nodes[m->outputs[0].node].fused);
            check_grads(m, &b, why);
            ks_model_free(m);
        }
    }
}

static void test_regularizers(ks_rng *r)
{
    static const char *const regs[] = {"l1", "l2", "l1_l2"};
    for (int i = 0; i < 3; i++) {
        batch b;
        ks_value layers;
        ks_model *m;
        char why[64];
        ks_value_init(&layers, KS_VALUE_LIST);
        input(&layers, 4, 0);
        put_str(dense(&layers, 5, "tanh"), "kernel_regularizer", regs[i]);
        {
            /* the map form with a stronger factor on the output layer */
            ks_value *a = dense(&layers, 2, "linear");
            ks_value *reg = ks_value_put(a, "kernel_regularizer", KS_VALUE_MAP);
            put_num(reg, "l2", 0.3);
        }
        fill_batch(&b, r, 4, 2, "real");
        snprintf(why, sizeof why, "kernel_regularizer %s", regs[i]);
        m = build(&layers, "mse", 0, 0, why);
        if (m) {
            CHECK(ks_model_penalty(m) > 0.0, "%s: no penalty", why);
            /* keep weights away from l1's kink at 0 */
            for (size_t j = 0; j < m->n_params; j++)
                if (fabsf(m->params[j]) < 0.05f)
                    m->params[j] = m->params[j] < 0 ? -0.05f : 0.05f;
        }
        check_grads(m, &b, why);
        ks_model_free(m);
    }
}

/* The penalty itself: l1·Σ|w| + l2·Σw², Keras's definition (no ½). */
static void test_penalty_value(void)
{
    ks_regularizer reg = {0.1, 0.01};
    float w[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0, 0, 0};
    double p = ks_regularizer_apply(&reg, w, g, 3);
    CHECK(fabs(p - (0.1 * 3.5 + 0.01 * 5.25)) < 1e-9, "penalty %g", p);
    CHECK(fabsf(g[1] - (-0.1f + 2 * 0.01f * -2.0f)) < 1e-7f, "l1/l2 gradient %g", (double)g[1]);
}

#define TWO_INPUTS "{Input: {shape: [4], name: a}}, {Input: {shape: [4], name: b}}, "

static void test_merge_layers(ks_rng *r)
{
    static const struct {
        const char *why, *model;
    } cases[] = {
        {"Add", "{layers: [" TWO_INPUTS "{Dense: {units: 3, activation: tanh, inputs: a, name: da}},"
                " {Dense: {units: 3, activation: tanh, inputs: b, name: db}},"
                " {Add: {inputs: [da, db]}}, {Dense: {units: 2}}]}"},
        {"Subtract", "{layers: [" TWO_INPUTS "{Dense: {units: 3, activation: tanh, inputs: a, name: da}},"
                     " {Dense: {units: 3, activation: tanh, inputs: b, name: db}},"
                     " {Subtract: {inputs: [da, db]}}, {Dense: {units: 2}}]}"},
        {"Multiply of three", "{layers: [" TWO_INPUTS
                              "{Dense: {units: 3, activation: tanh, inputs: a, name: da}},"
                              " {Dense: {units: 3, activation: tanh, inputs: b, name: db}},"
                              " {Dense: {units: 3, activation: sigmoid, inputs: b, name: dc}},"
                              " {Multiply: {inputs: [da, db, dc]}}, {Dense: {units: 2}}]}"},
        {"Average of three", "{layers: [" TWO_INPUTS
                             "{Dense: {units: 3, activation: tanh, inputs: a, name: da}},"
                             " {Dense: {units: 3, activation: tanh, inputs: b, name: db}},"
                             " {Dense: {units: 3, inputs: a, name: dc}},"
                             " {Average: {inputs: [da, db, dc]}}, {Dense: {units: 2}}]}"},
        {"Maximum", "{layers: [" TWO_INPUTS "{Dense: {units: 5, activation: tanh, inputs: a, name: da}},"
                    " {Dense: {units: 5, activation: tanh, inputs: b, name: db}},"
                    " {Maximum: {inputs: [da, db]}}, {Dense: {units: 2}}]}"},
        {"Minimum", "{layers: [" TWO_INPUTS "{Dense: {units: 5, activation: tanh, inputs: a, name: da}},"
                    " {Dense: {units: 5, activation: tanh, inputs: b, name: db}},"
                    " {Minimum: {inputs: [da, db]}}, {Dense: {units: 2}}]}"},
        {"Concatenate", "{layers: [" TWO_INPUTS "{Dense: {units: 3, activation: tanh, inputs: a, name: da}},"
                        " {Dense: {units: 5, activation: tanh, inputs: b, name: db}},"
                        " {Concatenate: {inputs: [da, db]}}, {Dense: {units: 2}}]}"},
        {"Concatenate axis 1 of 2-d inputs",
         "{layers: [{Input: {shape: [2, 3], name: a}}, {Input: {shape: [4, 3], name: b}},"
         " {BatchNormalization: {inputs: a, name: na}}, {BatchNormalization: {inputs: b, name: nb}},"
         " {Concatenate: {axis: 1, inputs: [na, nb]}}, {Flatten: {}}, {Dense: {units: 2}}]}"},
        {"Concatenate axis -1 of 2-d inputs",
         "{layers: [{Input: {shape: [2, 3], name: a}}, {Input: {shape: [2, 5], name: b}},"
         " {BatchNormalization: {inputs: a, name: na}}, {BatchNormalization: {inputs: b, name: nb}},"
         " {Concatenate: {inputs: [na, nb]}}, {Flatten: {}}, {Dense: {units: 2}}]}"},
        {"Add broadcasting a size-1 axis",
         "{layers: [" TWO_INPUTS "{Dense: {units: 4, activation: tanh, inputs: a, name: da}},"
         " {Dense: {units: 1, activation: tanh, inputs: b, name: db}},"
         " {Add: {inputs: [da, db]}}, {Dense: {units: 2}}]}"},
        {"Multiply broadcasting a size-1 axis",
         "{layers: [" TWO_INPUTS "{Dense: {units: 1, activation: tanh, inputs: a, name: da}},"
         " {Dense: {units: 4, activation: tanh, inputs: b, name: db}},"
         " {Multiply: {inputs: [da, db]}}, {Dense: {units: 2}}]}"},
        {"one tensor read twice by one layer (Add(h, h))",
         "[{Dense: {units: 4, activation: tanh, input_shape: [3], name: h}},"
         " {Add: {inputs: [h, h]}}, {Dense: {units: 2}}]"},
        {"Multiply(h, h)", "[{Dense: {units: 4, activation: tanh, input_shape: [3], name: h}},"
                           " {Multiply: {inputs: [h, h]}}, {Dense: {units: 2}}]"},
        {"a residual connection",
         "[{Dense: {units: 4, activation: tanh, input_shape: [3], name: h}},"
         " {Dense: {units: 4, activation: tanh}}, {Dense: {units: 4, activation: elu, name: f}},"
         " {Add: {inputs: [h, f]}}, {Dense: {units: 2}}]"},
        {"Flatten read twice (an alias with two readers)",
         "[{BatchNormalization: {input_shape: [2, 3], name: bn}}, {Flatten: {name: flat}},"
         " {Dense: {units: 3, activation: tanh, name: d1}},"
         " {Dense: {units: 3, activation: sigmoid, inputs: flat, name: d2}},"
         " {Concatenate: {inputs: [d1, d2, flat]}}, {Dense: {units: 2}}]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_graph(r, cases[i].model, "{loss: mse}", NULL, 0, cases[i].why);
}

static void test_shared(ks_rng *r)
{
    /* one Dense applied to two inputs: one kernel, gradients summed over both calls */
    check_graph(r,
                "{layers: [" TWO_INPUTS "{Dense: {units: 3, activation: tanh, inputs: a, name: shared}},"
                " {shared: {inputs: b, name: shared_b}},"
                " {Concatenate: {inputs: [shared, shared_b]}}, {Dense: {units: 2}}]}",
                "{loss: mse}", NULL, 0, "a shared layer used twice");
    /* a shared layer called three times, in a chain (its calls read each other) */
    check_graph(r,
                "[{Dense: {units: 4, activation: tanh, input_shape: [4], name: s}},"
                " {s: {}}, {s: {}}, {Dense: {units: 2}}]",
                "{loss: mse}", NULL, 0, "a shared layer chained three times");
    /* a shared BatchNormalization: statistics per call, gamma/beta gradients summed */
    check_graph(r,
                "{layers: [" TWO_INPUTS "{Dense: {units: 3, inputs: a, name: da}},"
                " {Dense: {units: 3, inputs: b, name: db}},"
                " {BatchNormalization: {inputs: da, name: bn}}, {bn: {inputs: db, name: bn_b}},"
                " {Add: {inputs: [bn, bn_b]}}, {Dense: {units: 2}}]}",
                "{loss: mse}", NULL, 0, "a shared BatchNormalization");
}

static void test_submodel(ks_rng *r)
{
    static const char *const binary[] = {"binary"};
    /* the Siamese pattern: one encoder on two inputs, their difference, a verdict */
    check_graph(r,
                "{models: {encoder: [{Dense: {units: 5, activation: tanh}},"
                "                    {Dropout: {rate: 0.3}}, {Dense: {units: 3, activation: tanh}}]},"
                " layers: [" TWO_INPUTS "{encoder: {inputs: a, name: left}},"
                " {encoder: {inputs: b, name: right}}, {Subtract: {inputs: [left, right]}},"
                " {Dense: {units: 1, activation: sigmoid}}]}",
                "{loss: binary_crossentropy}", binary, 0, "a sub-model called on two inputs");
    /* a sub-model with two inputs of its own, called once */
    check_graph(r,
                "{models: {pair: {layers: [{Input: {shape: [4], name: p}}, {Input: {shape: [4], name: q}},"
                "                          {Multiply: {inputs: [p, q]}}, {Dense: {units: 3, activation: tanh}}]}},"
                " layers: [" TWO_INPUTS "{Dense: {units: 4, activation: tanh, inputs: a, name: da}},"
                " {pair: {inputs: [da, b]}}, {Dense: {units: 2}}]}",
                "{loss: mse}", NULL, 0, "a sub-model of two inputs");
}

static void test_outputs(ks_rng *r)
{
    static const char *const kinds[] = {"real", "label"};
    static const char *const kinds3[] = {"onehot", "real", "binary"};
    /* Géron's wide & deep: a main and an auxiliary output, loss_weights [0.9, 0.1] */
    const char *wide_deep =
        "{layers: [{Input: {shape: [3], name: wide}}, {Input: {shape: [4], name: deep}},"
        " {Dense: {units: 5, activation: relu, inputs: deep, name: h1}},"
        " {Dense: {units: 5, activation: tanh, name: h2}},"
        " {Concatenate: {inputs: [wide, h2]}}, {Dense: {units: 1, name: main_output}},"
        " {Dense: {units: 3, activation: softmax, inputs: h2, name: aux_output}}],"
        " outputs: [main_output, aux_output]}";
    for (int weighted = 0; weighted < 2; weighted++)
        check_graph(r, wide_deep,
                    "{loss: [mse, sparse_categorical_crossentropy], loss_weights: [0.9, 0.1]}",
                    kinds, weighted,
                    weighted ? "two outputs with loss_weights and sample weights"
                             : "two outputs with loss_weights");
    check_graph(r, wide_deep,
                "{loss: {aux_output: sparse_categorical_crossentropy, main_output: huber},"
                " loss_weights: {main_output: 2.0, aux_output: 0.5}}",
                kinds, 0, "two outputs, loss and loss_weights as maps");
    /* an output that another layer reads too (its loss unfused), and a Flatten output */
    check_graph(r,
                "{layers: [{Input: {shape: [2, 3], name: x}}, {BatchNormalization: {name: bn}},"
                " {Flatten: {name: flat}}, {Dense: {units: 3, activation: softmax, name: probs}},"
                " {Dense: {units: 2, activation: tanh, inputs: probs, name: value}},"
                " {Dense: {units: 1, activation: sigmoid, inputs: flat, name: gate}}],"
                " outputs: [probs, value, gate]}",
                "{loss: [categorical_crossentropy, mse, binary_crossentropy],"
                " loss_weights: [1.0, 0.5, 0.25]}",
                kinds3, 0, "three outputs, one read by another layer");
    {
        ks_model *m = graph("{layers: [{Input: {shape: [3], name: x}}, {Dense: {units: 3, "
                            "activation: softmax, name: probs}}, {Dense: {units: 2, inputs: "
                            "probs, name: value}}, {Dense: {units: 3, activation: softmax, "
                            "inputs: x, name: clean}}], outputs: [probs, value, clean]}",
                            "{loss: [categorical_crossentropy, mse, categorical_crossentropy]}",
                            "fusing");
        if (m) {
            CHECK(!m->nodes[m->outputs[0].node].fused, "an output read by a layer is not fused");
            CHECK(m->nodes[m->outputs[2].node].fused, "an output nothing reads is fused");
        }
        ks_model_free(m);
    }
}

/* ------------------------------------------------------------ weight limit */

/* A layer kind that declares many weights, written to through what add_weight returns. */
static int many_count;

static ks_status many_build(ks_layer *l, ks_error *err)
{
    ks_shape s = {1, {2}};
    (void)err;
    l->out_shape = l->in_shape[0];
    for (int i = 0; i < many_count; i++) {
        char name[16];
        ks_weight *w;
        snprintf(name, sizeof name, "w%d", i);
        w = ks_layer_add_weight(l, name, &s, 1, KS_INIT_ZEROS);
        w->reg.l2 = 0.5;
    }
    return KS_OK;
}

/*
 * ks_layer_add_weight never writes past its table (issue 9, defect 8: it wrote past
 * KS_MAX_LAYER_WEIGHTS, 4, which BatchNormalization already filled).
 */
static void test_weight_limit(void)
{
    /* room after the layer, so that a write past its table lands here, not in the heap */
    struct padded {
        ks_layer l;
        ks_weight pad[64];
    } *b = calloc(1, sizeof *b);
    static const ks_key no_keys[] = {{NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};
    static const ks_layer_ops many_ops = {.name = "Many", .keys = no_keys, .build = many_build};
    int sentinel = 0;
    for (int count = 1; count <= 40; count++) {
        ks_error err;
        ks_status st;
        memset(b, 0, sizeof *b);
        b->l.ops = &many_ops;
        b->l.state = &sentinel;
        snprintf(b->l.name, sizeof b->l.name, "many");
        b->l.in_shape[0] = (ks_shape){1, {2}};
        many_count = count;
        st = ks_layer_build(NULL, &b->l, &err);
        CHECK(b->l.state == &sentinel && b->l.n_weights == count,
              "%d weights: the layer after the table was overwritten (state %p, n_weights %d)",
              count, b->l.state, b->l.n_weights);
        /* more than the table holds: a build error, not a write past it */
        if (count <= KS_MAX_LAYER_WEIGHTS)
            CHECK(st == KS_OK, "%d weights: %s", count, err.msg);
        else
            CHECK(st == KS_ERR_INTERNAL && strstr(err.msg, "Many declares") &&
                      strstr(err.msg, "more than KS_MAX_LAYER_WEIGHTS (16)"),
                  "%d weights: %s: %s", count, ks_status_str(st), err.msg);
        for (int i = 0; i < (int)(sizeof b->pad / sizeof b->pad[0]); i++)
            if (b->pad[i].reg.l2 != 0) {
                CHECK(0, "%d weights: a write past the layer's table", count);
                break;
            }
    }
    free(b);
}

int main(void)
{
    ks_rng *r;
    if (ks_rng_new(2024, 0, 0, &r) != KS_OK)
        return 1;
    test_activations(r);
    test_layers(r);
    test_losses(r);
    test_regularizers(r);
    test_penalty_value();
    test_merge_layers(r);
    test_shared(r);
    test_submodel(r);
    test_outputs(r);
    test_weight_limit();
    ks_rng_free(r);
    return check_done();
}
