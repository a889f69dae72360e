/*
 * test_rnn.c — sequence models: gradient checks through time for SimpleRNN, LSTM, GRU
 * (return_sequences on and off, go_backwards, masks over padded rows of different
 * lengths, dropout and recurrent_dropout with fixed masks) and Bidirectional in every
 * merge mode; Embedding; the forward pass against a plain double-precision reference
 * written from Keras's definitions (gate order, reset_after, what masked steps output);
 * the orthogonal initializer; masks along the graph and into the 1-D poolings; shape
 * errors; the ONNX export (refusals, masked models).
 */
#include "check.h"
#include "grad_check.h"

#include <math.h>

static const char *const cells[] = {"SimpleRNN", "LSTM", "GRU"};

/* Token ids of BATCH rows of 6 steps: full, post-padded, pre- and post-padded, a zero
   inside, and all padding. */
static void fill_ids(batch *b)
{
    static const float rows[BATCH][6] = {{1, 2, 3, 4, 5, 6},
                                         {3, 1, 4, 0, 0, 0},
                                         {0, 0, 2, 5, 1, 0},
                                         {6, 0, 2, 0, 0, 0},
                                         {0, 0, 0, 0, 0, 0}};
    for (int i = 0; i < BATCH; i++)
        for (int j = 0; j < 6; j++)
            b->x[0][i * 6 + j] = rows[i][j];
}

/* A model over token ids (the rows above) with real targets of width k. */
static void check_ids(ks_rng *r, const char *yaml, int k, const char *why)
{
    static batch b;
    ks_model *m = graph(yaml, "{loss: mse, optimizer: sgd}", why);
    if (!m)
        return;
    memset(&b, 0, sizeof b);
    fill_ids(&b);
    fill_target(&b, r, 0, k, "real");
    check_grads(m, &b, why);
    ks_model_free(m);
}

/* ------------------------------------------------------ gradient checks */

static void test_grads_cells(ks_rng *r)
{
    for (int c = 0; c < 3; c++)
        for (int seq = 0; seq < 2; seq++)
            for (int back = 0; back < 2; back++) {
                char yaml[512], why[128];
                snprintf(yaml, sizeof yaml,
                         "[{Input: {shape: [5, 3]}}, {%s: {units: 4, return_sequences: %s, "
                         "go_backwards: %s}}, %s {Dense: {units: 2}}]",
                         cells[c], seq ? "true" : "false", back ? "true" : "false",
                         seq ? "{Flatten: {}}," : "");
                snprintf(why, sizeof why, "%s return_sequences=%d go_backwards=%d", cells[c], seq,
                         back);
                check_graph(r, yaml, "{loss: mse, optimizer: sgd}", NULL, 0, why);
            }
    /* other activations, no bias, regularizers */
    check_graph(r,
                "[{Input: {shape: [4, 3]}}, {LSTM: {units: 3, activation: softplus, "
                "recurrent_activation: tanh, use_bias: false, kernel_regularizer: {l2: 0.01}, "
                "recurrent_regularizer: {l2: 0.02}}}, {Dense: {units: 2}}]",
                "{loss: mse, optimizer: sgd}", NULL, 0, "LSTM softplus/tanh, no bias, regularized");
    check_graph(r,
                "[{Input: {shape: [4, 3]}}, {GRU: {units: 3, activation: elu, "
                "recurrent_activation: sigmoid, bias_regularizer: {l2: 0.1}}}, {Dense: {units: 2}}]",
                "{loss: mse, optimizer: sgd}", NULL, 0, "GRU elu, bias regularized");
    check_graph(r,
                "[{Input: {shape: [4, 3]}}, {SimpleRNN: {units: 3, activation: sigmoid, "
                "use_bias: false}}, {Dense: {units: 2}}]",
                "{loss: mse, optimizer: sgd}", NULL, 0, "SimpleRNN sigmoid, no bias");
}

/* Masks from Embedding(mask_zero) over rows of different lengths, through a stacked
   pair (so the first layer's input gradient is checked too), with each kind of
   dropout: the masks are fixed by the checker's reseeded stream. */
static void test_grads_masks(ks_rng *r)
{
    static const char *const drops[] = {"", "dropout: 0.3,", "recurrent_dropout: 0.25,",
                                        "dropout: 0.3, recurrent_dropout: 0.25,"};
    for (int c = 0; c < 3; c++)
        for (int seq = 0; seq < 2; seq++)
            for (int back = 0; back < 2; back++)
                for (int d = 0; d < 4; d++) {
                    char yaml[768], why[160];
                    if (d > 0 && (seq || back) && c != 1)
                        continue;   /* dropout's paths in every cell, the rest in LSTM */
                    snprintf(yaml, sizeof yaml,
                             "[{Input: {shape: [6]}}, {Embedding: {input_dim: 7, output_dim: 3, "
                             "mask_zero: true}}, {%s: {units: 4, return_sequences: true}}, "
                             "{%s: {units: 3, %s return_sequences: %s, go_backwards: %s}}, "
                             "%s {Dense: {units: 2}}]",
                             cells[c], cells[c], drops[d], seq ? "true" : "false",
                             back ? "true" : "false", seq ? "{Flatten: {}}," : "");
                    snprintf(why, sizeof why, "masked %s return_sequences=%d go_backwards=%d %s",
                             cells[c], seq, back, drops[d]);
                    check_ids(r, yaml, 2, why);
                }
    /* a mask through Dropout to the recurrent layer */
    check_ids(r,
              "[{Input: {shape: [6]}}, {Embedding: {input_dim: 7, output_dim: 4, mask_zero: "
              "true}}, {Dropout: {rate: 0.2}}, {GRU: {units: 3}}, {Dense: {units: 2}}]",
              2, "masked GRU after Dropout");
    /* GlobalAveragePooling1D's mean over the kept steps (the all-padding row gives 0),
       straight after the Embedding, after a recurrent layer, and with keepdims */
    check_ids(r,
              "[{Input: {shape: [6]}}, {Embedding: {input_dim: 7, output_dim: 4, mask_zero: "
              "true}}, {GlobalAveragePooling1D: {}}, {Dense: {units: 2, activation: tanh}}]",
              2, "masked GlobalAveragePooling1D");
    check_ids(r,
              "[{Input: {shape: [6]}}, {Embedding: {input_dim: 7, output_dim: 3, mask_zero: "
              "true}}, {LSTM: {units: 4, return_sequences: true}}, {GlobalAveragePooling1D: "
              "{keepdims: true}}, {Flatten: {}}, {Dense: {units: 2}}]",
              2, "masked LSTM then GlobalAveragePooling1D (keepdims)");
    check_ids(r,
              "[{Input: {shape: [6]}}, {Embedding: {input_dim: 7, output_dim: 3, mask_zero: "
              "true}}, {Bidirectional: {layer: {GRU: {units: 3, return_sequences: true}}}}, "
              "{GlobalAveragePooling1D: {}}, {Dense: {units: 2}}]",
              2, "masked Bidirectional then GlobalAveragePooling1D");
    /* the Embedding alone (no mask) */
    check_ids(r,
              "[{Input: {shape: [6]}}, {Embedding: {input_dim: 7, output_dim: 2}}, "
              "{Flatten: {}}, {Dense: {units: 2, activation: tanh}}]",
              2, "Embedding");
}

static void test_grads_bidirectional(ks_rng *r)
{
    static const char *const modes[] = {"concat", "sum", "mul", "ave"};
    for (int c = 0; c < 3; c++)
        for (int md = 0; md < 4; md++)
            for (int seq = 0; seq < 2; seq++) {
                char yaml[768], why[128];
                if (c != 1 && md > 0 && seq)
                    continue;
                snprintf(yaml, sizeof yaml,
                         "[{Input: {shape: [6]}}, {Embedding: {input_dim: 7, output_dim: 3, "
                         "mask_zero: true}}, {Bidirectional: {layer: {%s: {units: 3, "
                         "return_sequences: true}}}}, {Bidirectional: {merge_mode: %s, layer: "
                         "{%s: {units: 3, return_sequences: %s}}}}, %s {Dense: {units: 2}}]",
                         cells[c], modes[md], cells[c], seq ? "true" : "false",
                         seq ? "{Flatten: {}}," : "");
                snprintf(why, sizeof why, "Bidirectional %s %s return_sequences=%d", cells[c],
                         modes[md], seq);
                check_ids(r, yaml, 2, why);
            }
    /* a backward layer of its own (another width, activation) */
    check_ids(r,
              "[{Input: {shape: [6]}}, {Embedding: {input_dim: 7, output_dim: 3, mask_zero: "
              "true}}, {Bidirectional: {layer: {LSTM: {units: 3}}, backward_layer: {GRU: {units: "
              "2, go_backwards: true, activation: sigmoid}}}}, {Dense: {units: 2}}]",
              2, "Bidirectional LSTM forward, GRU backward");
}

/* ---------------------------------------------------- forward reference */

static double act_ref(const char *a, double z)
{
    if (strcmp(a, "tanh") == 0)
        return tanh(z);
    if (strcmp(a, "sigmoid") == 0)
        return 1.0 / (1.0 + exp(-z));
    return z;
}

/*
 * One sample through a recurrent layer, straight from Keras's cells and its rnn loop
 * (Keras's backend rnn()): inputs and mask reversed with go_backwards; a masked step
 * keeps the states and outputs the previous output (or 0, zero_output); outputs in
 * processing order.  K (F × G·U), R (U × G·U), B (G·U, or 2 × 3U for GRU).
 */
static void rnn_ref(int cell, int T, int F, int U, const float *K, const float *R, const float *B,
                    const float *x, const float *mask, int back, int seq, int zero_output,
                    double *out)
{
    int G = cell == 1 ? 4 : cell == 2 ? 3 : 1;
    double h[64] = {0}, c[64] = {0}, prev[64] = {0}, z[256], zr[256], hn[64], cn[64] = {0};
    for (int s = 0; s < T; s++) {
        int t = back ? T - 1 - s : s;
        const float *xt = x + (size_t)t * F;
        int use = !mask || mask[t] != 0.0f;
        for (int k = 0; k < G * U; k++) {
            z[k] = B ? B[k] : 0.0;
            zr[k] = cell == 2 && B ? B[G * U + k] : 0.0;
            for (int j = 0; j < F; j++)
                z[k] += xt[j] * K[j * G * U + k];
            for (int j = 0; j < U; j++)
                (cell == 2 ? zr : z)[k] += h[j] * R[j * G * U + k];
        }
        for (int u = 0; u < U; u++) {
            if (cell == 0) {
                hn[u] = act_ref("tanh", z[u]);
            } else if (cell == 1) {
                double i = act_ref("sigmoid", z[u]), f = act_ref("sigmoid", z[U + u]);
                double g = act_ref("tanh", z[2 * U + u]), o = act_ref("sigmoid", z[3 * U + u]);
                cn[u] = f * c[u] + i * g;
                hn[u] = o * tanh(cn[u]);
            } else {
                double zz = act_ref("sigmoid", z[u] + zr[u]);
                double rr = act_ref("sigmoid", z[U + u] + zr[U + u]);
                double hh = act_ref("tanh", z[2 * U + u] + rr * zr[2 * U + u]);
                hn[u] = zz * h[u] + (1 - zz) * hh;
            }
        }
        for (int u = 0; u < U; u++) {
            double o = use ? hn[u] : zero_output ? 0.0 : prev[u];
            if (use) {
                h[u] = hn[u];
                c[u] = cn[u];
            }
            prev[u] = use ? hn[u] : prev[u];
            if (seq)
                out[s * U + u] = o;
        }
    }
    if (!seq)
        for (int u = 0; u < U; u++)
            out[u] = h[u];
}

/* The engine's output against the reference for every row of fill_ids. */
static void test_forward_reference(void)
{
    static batch b;
    const int T = 6, E = 3, U = 4;
    for (int c = 0; c < 3; c++)
        for (int seq = 0; seq < 2; seq++)
            for (int back = 0; back < 2; back++)
                for (int bidi = 0; bidi < 2; bidi++) {
                    char yaml[512], why[600], inner[160];
                    ks_model *m;
                    const float *y, *x[KS_MAX_IO] = {b.x[0]};
                    const float *emb;
                    double worst = 0.0;
                    ks_error err;
                    snprintf(inner, sizeof inner,
                             "%s: {units: %d, return_sequences: %s, go_backwards: %s}", cells[c],
                             U, seq ? "true" : "false", back ? "true" : "false");
                    if (bidi && back)
                        continue;
                    snprintf(yaml, sizeof yaml,
                             "[{Input: {shape: [%d]}}, {Embedding: {input_dim: 7, output_dim: %d, "
                             "mask_zero: true, embeddings_initializer: glorot_uniform}}, %s%s%s]",
                             T, E, bidi ? "{Bidirectional: {layer: {" : "{", inner,
                             bidi ? "}}}" : "}");
                    snprintf(why, sizeof why, "reference %s", yaml);
                    m = graph(yaml, "{loss: mse, optimizer: sgd}", why);
                    if (!m)
                        continue;
                    /* a non-zero bias, so that its layout is exercised */
                    for (int w = 0; w < m->n_weights; w++)
                        if (strstr(m->weights[w]->name, "bias"))
                            for (size_t i = 0; i < m->weights[w]->size; i++)
                                m->weights[w]->w[i] = 0.1f * (float)((i * 7 + 3) % 11) - 0.5f;
                    memset(&b, 0, sizeof b);
                    fill_ids(&b);
                    if (ks_model_workspace(m, BATCH, 0, &err) != KS_OK) {
                        CHECK(0, "%s: workspace", why);
                        ks_model_free(m);
                        continue;
                    }
                    y = ks_model_forward(m, x, BATCH, 0);
                    emb = m->weights[0]->w;
                    for (int i = 0; i < BATCH; i++) {
                        float xe[6 * 3], mk[6];
                        double ref[2][6 * 8];
                        int dirs = bidi ? 2 : 1, width = seq ? T * U : U;
                        for (int t = 0; t < T; t++) {
                            int id = (int)b.x[0][i * T + t];
                            mk[t] = id != 0;
                            for (int j = 0; j < E; j++)
                                xe[t * E + j] = emb[id * E + j];
                        }
                        for (int d = 0; d < dirs; d++) {
                            int w0 = 1 + 3 * d;
                            rnn_ref(c, T, E, U, m->weights[w0]->w, m->weights[w0 + 1]->w,
                                    m->weights[w0 + 2]->w, xe, mk, d ? 1 : back, seq, bidi && seq,
                                    ref[d]);
                        }
                        for (int k = 0; k < width * dirs; k++) {
                            /* Bidirectional concat: [forward, backward flipped to time order] */
                            double want;
                            if (!bidi) {
                                want = ref[0][k];
                            } else {
                                int step = seq ? k / (2 * U) : 0, j = k % (2 * U);
                                want = j < U ? ref[0][step * U + j]
                                             : ref[1][(seq ? T - 1 - step : 0) * U + j - U];
                            }
                            worst = fmax(worst, fabs(want - y[(size_t)i * width * dirs + k]));
                        }
                    }
                    CHECK(worst < 1e-5, "%s: largest difference from the reference %.3g", why,
                          worst);
                    ks_model_free(m);
                }
}

/* -------------------------------------------------------- initializers */

static void test_orthogonal(void)
{
    static float w[16 * 64];
    ks_rng *r;
    int shapes[][2] = {{16, 64}, {64, 16}, {8, 8}};
    if (ks_rng_new(3, 0, 0, &r) != KS_OK)
        return;
    for (int k = 0; k < 3; k++) {
        ks_shape s = {2, {shapes[k][0], shapes[k][1]}};
        int rows = shapes[k][0], cols = shapes[k][1], small = rows < cols ? rows : cols;
        double worst = 0.0;
        ks_init_fill(KS_INIT_ORTHOGONAL, w, &s, r);
        /* the shorter side's vectors are orthonormal */
        for (int a = 0; a < small; a++)
            for (int c = 0; c < small; c++) {
                double dot = 0.0;
                for (int i = 0; i < (rows < cols ? cols : rows); i++)
                    dot += rows < cols ? (double)w[a * cols + i] * w[c * cols + i]
                                       : (double)w[i * cols + a] * w[i * cols + c];
                worst = fmax(worst, fabs(dot - (a == c)));
            }
        CHECK(worst < 1e-5, "orthogonal %dx%d: largest error of WWᵀ = I is %.3g", rows, cols,
              worst);
    }
    ks_rng_free(r);
}

static void test_lstm_defaults(void)
{
    ks_model *m = graph("[{Input: {shape: [3, 2]}}, {LSTM: {units: 4}}]",
                        "{loss: mse, optimizer: sgd}", "LSTM defaults");
    ks_value layers;
    if (!m)
        return;
    CHECK(m->n_weights == 3 && strcmp(m->weights[0]->name, "lstm/lstm_cell/kernel") == 0 &&
              strcmp(m->weights[1]->name, "lstm/lstm_cell/recurrent_kernel") == 0 &&
              strcmp(m->weights[2]->name, "lstm/lstm_cell/bias") == 0,
          "LSTM's weights as Keras 3 names them: %s", m->weights[0]->name);
    CHECK(m->weights[0]->shape.dim[0] == 2 && m->weights[0]->shape.dim[1] == 16 &&
              m->weights[1]->shape.dim[0] == 4 && m->weights[1]->shape.dim[1] == 16,
          "kernel (2, 16) and recurrent kernel (4, 16)");
    {
        const float *bias = m->weights[2]->w;
        int ok = 1;
        for (int j = 0; j < 16; j++)
            ok &= bias[j] == (j >= 4 && j < 8 ? 1.0f : 0.0f);
        CHECK(ok, "unit_forget_bias: the forget gate's bias is one, the rest zero");
    }
    /* the config round-trips with Keras's arguments */
    if (ks_model_config(m, &layers, NULL) == KS_OK) {
        char *json = NULL;
        size_t len;
        ks_value_to_json(&layers, &json, &len);
        CHECK(json && strstr(json, "\"recurrent_initializer\":\"orthogonal\"") &&
                  strstr(json, "\"unit_forget_bias\":true") &&
                  strstr(json, "\"recurrent_activation\":\"sigmoid\""),
              "LSTM's config: %s", json ? json : "?");
        free(json);
        ks_value_free(&layers);
    }
    ks_model_free(m);
    m = graph("[{Input: {shape: [3, 2]}}, {GRU: {units: 4}}]", "{loss: mse, optimizer: sgd}",
              "GRU defaults");
    if (m)
        CHECK(m->weights[2]->shape.ndim == 2 && m->weights[2]->shape.dim[0] == 2 &&
                  m->weights[2]->shape.dim[1] == 12,
              "GRU's reset_after bias is (2, 12)");
    ks_model_free(m);
}

/* ------------------------------------------------------------- masks */

static void test_mask_wiring(void)
{
    ks_model *m;
    m = graph("[{Input: {shape: [5]}}, {Embedding: {input_dim: 9, output_dim: 3, mask_zero: "
              "true}}, {Dropout: {rate: 0.1}}, {LSTM: {units: 2, return_sequences: true}}, "
              "{GRU: {units: 2}}, {Dense: {units: 1}}]",
              "{loss: mse, optimizer: sgd}", "mask wiring");
    if (m) {
        CHECK(m->nodes[1].mask == 1 && m->nodes[1].mask_size == 5, "the Embedding makes the mask");
        CHECK(m->nodes[2].mask == 1 && m->nodes[3].mask == 1, "Dropout and the LSTM keep it");
        CHECK(m->nodes[4].mask == -1 && m->nodes[5].mask == -1,
              "the GRU without return_sequences ends it");
        CHECK(!m->warnings, "no warning where the mask is used: %s",
              m->warnings ? m->warnings : "");
    }
    ks_model_free(m);
    m = graph("[{Input: {shape: [5]}}, {Embedding: {input_dim: 9, output_dim: 3, mask_zero: "
              "true}}, {Flatten: {}}, {Dense: {units: 1}}]",
              "{loss: mse, optimizer: sgd}", "mask dropped");
    if (m)
        CHECK(m->warnings && strstr(m->warnings, "layer \"flatten\" (of type Flatten) was passed "
                                                 "an input with a mask"),
              "Flatten drops the mask with Keras's warning: %s", m->warnings ? m->warnings : "");
    ks_model_free(m);
    /* merges: one mask and-ed with itself stays; two are combined per batch */
    m = graph("{layers: [{Input: {shape: [4], name: a}}, {Input: {shape: [4], name: b}}, "
              "{Embedding: {input_dim: 5, output_dim: 2, mask_zero: true, inputs: [a], name: ea}}, "
              "{Embedding: {input_dim: 5, output_dim: 2, mask_zero: true, inputs: [b], name: eb}}, "
              "{Add: {inputs: [ea, eb], name: sum}}, {LSTM: {units: 2, name: l}}], "
              "outputs: [l]}",
              "{loss: mse, optimizer: sgd}", "masks merged");
    if (m) {
        static const float a[2 * 4] = {1, 2, 0, 0, 1, 0, 3, 0}, bb[2 * 4] = {1, 0, 2, 0, 4, 4, 4, 4};
        const float *x[KS_MAX_IO] = {a, bb};
        ks_error err;
        int add = 4;
        CHECK(m->nodes[add].mask == add, "Add owns the and of two masks");
        if (ks_model_workspace(m, 2, 0, &err) == KS_OK) {
            const float *mk;
            ks_model_forward(m, x, 2, 0);
            mk = m->ws.mask[add];
            CHECK(mk[0] == 1 && mk[1] == 0 && mk[2] == 0 && mk[3] == 0 && mk[4] == 1 &&
                      mk[5] == 0 && mk[6] == 1 && mk[7] == 0,
                  "the and of the two masks");
        }
    }
    ks_model_free(m);
}

/* The first output of a forward pass over fill_ids's rows, or NULL. */
static const float *forward_ids(ks_model *m, batch *b)
{
    const float *x[KS_MAX_IO] = {b->x[0]};
    ks_error err;
    memset(b, 0, sizeof *b);
    fill_ids(b);
    if (ks_model_workspace(m, BATCH, 0, &err) != KS_OK) {
        CHECK(0, "workspace: %s", err.msg);
        return NULL;
    }
    return ks_model_forward(m, x, BATCH, 0);
}

/* Pooling over a masked sequence, as Keras 3: GlobalAveragePooling1D averages the kept
   steps (a row of padding alone gives zeros, not Keras's 0/0); GlobalMaxPooling1D,
   Conv1D and MaxPooling1D do not support masking: they see every step and drop the mask
   with Keras's warning. */
static void test_pooling_masks(void)
{
    static batch b;
    static const char *const emb =
        "[{Input: {shape: [6]}}, {Embedding: {input_dim: 7, output_dim: 3, mask_zero: true}}, ";
    char yaml[512];
    ks_model *m;
    const float *y, *table;
    snprintf(yaml, sizeof yaml, "%s{GlobalAveragePooling1D: {}}]", emb);
    if ((m = graph(yaml, "{loss: mse, optimizer: sgd}", "masked average")) != NULL &&
        (y = forward_ids(m, &b)) != NULL) {
        double worst = 0.0;
        table = m->layers[1]->weights[0].w;
        CHECK(!m->warnings, "GlobalAveragePooling1D takes the mask quietly: %s",
              m->warnings ? m->warnings : "");
        for (int i = 0; i < BATCH; i++)
            for (int c = 0; c < 3; c++) {
                double sum = 0.0;
                int kept = 0;
                for (int t = 0; t < 6; t++) {
                    int id = (int)b.x[0][i * 6 + t];
                    if (id != 0) {
                        sum += table[id * 3 + c];
                        kept++;
                    }
                }
                sum = kept ? sum / kept : 0.0;
                worst = fmax(worst, fabs(sum - y[i * 3 + c]));
            }
        CHECK(worst < 1e-6, "the mean over the kept steps (all padding: 0): off by %g", worst);
        CHECK(y[4 * 3] == 0.0f && y[4 * 3 + 1] == 0.0f && y[4 * 3 + 2] == 0.0f,
              "the row of padding alone gives zeros, not NaN: %g %g %g", (double)y[12],
              (double)y[13], (double)y[14]);
    }
    ks_model_free(m);
    snprintf(yaml, sizeof yaml, "%s{GlobalMaxPooling1D: {}}]", emb);
    if ((m = graph(yaml, "{loss: mse, optimizer: sgd}", "masked maximum")) != NULL &&
        (y = forward_ids(m, &b)) != NULL) {
        double worst = 0.0;
        table = m->layers[1]->weights[0].w;
        CHECK(m->warnings && strstr(m->warnings, "layer \"global_max_pooling1d\" (of type "
                                                 "GlobalMaxPooling1D) was passed an input with a "
                                                 "mask"),
              "GlobalMaxPooling1D drops the mask with Keras's warning: %s",
              m->warnings ? m->warnings : "");
        for (int i = 0; i < BATCH; i++)
            for (int c = 0; c < 3; c++) {
                float mx = -INFINITY;
                for (int t = 0; t < 6; t++)
                    mx = fmaxf(mx, table[(int)b.x[0][i * 6 + t] * 3 + c]);
                worst = fmax(worst, fabs((double)mx - y[i * 3 + c]));
            }
        CHECK(worst == 0.0, "GlobalMaxPooling1D's maximum takes the padded steps too, as Keras: "
                            "off by %g", worst);
    }
    ks_model_free(m);
    /* Conv1D and MaxPooling1D drop it: the average after them is over every step */
    for (int k = 0; k < 2; k++) {
        static const char *const kinds[2][2] = {
            {"{Conv1D: {filters: 2, kernel_size: 3}}", "\"conv1d\" (of type Conv1D)"},
            {"{MaxPooling1D: {pool_size: 2}}", "\"max_pooling1d\" (of type MaxPooling1D)"}};
        snprintf(yaml, sizeof yaml, "%s%s, {GlobalAveragePooling1D: {}}]", emb, kinds[k][0]);
        if ((m = graph(yaml, "{loss: mse, optimizer: sgd}", kinds[k][0])) != NULL) {
            CHECK(m->warnings && strstr(m->warnings, kinds[k][1]) &&
                      strstr(m->warnings, "does not support masking"),
                  "%s drops the mask with Keras's warning: %s", kinds[k][0],
                  m->warnings ? m->warnings : "");
            CHECK(m->nodes[2].mask == -1 && m->nodes[3].mask == -1,
                  "%s: the pooling after it sees no mask", kinds[k][0]);
        }
        ks_model_free(m);
    }
}

/* ------------------------------------------------------------ errors */

static void build_error(const char *yaml, const char *want, const char *why)
{
    ks_value model;
    ks_model *m = NULL;
    ks_error err;
    if (ks_yaml_load_text(yaml, "model.yaml", &model, &err) != KS_OK) {
        CHECK(0, "%s: yaml: %s", why, err.msg);
        return;
    }
    CHECK(ks_model_from_config(&model, NULL, 1, &m, &err) != KS_OK && strstr(err.msg, want),
          "%s: got \"%s\"", why, m ? "(built)" : err.msg);
    ks_model_free(m);
    ks_value_free(&model);
}

static void test_errors(void)
{
    build_error("[{Input: {shape: [5, 3]}}, {LSTM: {units: 4}}, {LSTM: {units: 2}}]",
                "LSTM expects a sequence (batch, timesteps, features), got (None, 4) from "
                "\"lstm\"; a recurrent layer before it needs return_sequences: true",
                "return_sequences: false feeding a layer that needs a sequence");
    build_error("[{Input: {shape: [15]}}, {GRU: {units: 4}}]",
                "GRU expects a sequence (batch, timesteps, features), got (None, 15)",
                "a vector given to a GRU");
    build_error("[{Input: {shape: [5, 3]}}, {Bidirectional: {layer: {Dense: {units: 2}}}}]",
                "Bidirectional wraps a SimpleRNN, LSTM or GRU, got Dense", "Bidirectional(Dense)");
    build_error("[{Input: {shape: [5, 3]}}, {Bidirectional: {layer: {LSTM: {unit: 2}}}}]",
                "did you mean \"units\"", "a misspelt argument inside Bidirectional");
    build_error("[{Input: {shape: [5, 3]}}, {LSTM: {units: 2, stateful: true}}]",
                "stateful is not supported", "stateful");
    build_error("[{Input: {shape: [5, 3]}}, {LSTM: {units: 2, dropout: 1}}]", "dropout",
                "dropout of 1");
    build_error("[{Input: {shape: [5]}}, {Embedding: {output_dim: 2}}]",
                "missing its required argument \"input_dim\"", "Embedding without input_dim");
}

/* The check of data an Embedding reads straight from a model input. */
static void test_embedding_check(void)
{
    ks_model *m = graph("[{Input: {shape: [3]}}, {Embedding: {input_dim: 10, output_dim: 2}}, "
                        "{Flatten: {}}, {Dense: {units: 1}}]",
                        "{loss: mse, optimizer: sgd}", "Embedding check");
    static const float good[6] = {0, 9, 3, 1, 1, 1}, big[6] = {0, 9, 3, 1, 10, 1},
                       frac[6] = {0, 2.5f, 3, 1, 1, 1}, neg[6] = {0, 1, 2, -1, 1, 1};
    ks_error err;
    const ks_layer *l;
    if (!m)
        return;
    l = m->layers[1];
    CHECK(l->ops->check_input(l, good, 2, &err) == KS_OK, "ids in range pass");
    CHECK(l->ops->check_input(l, big, 2, &err) != KS_OK &&
              strstr(err.msg, "row 1 column 1 holds 10; the Embedding takes its token ids from 0 "
                              "to 9 (input_dim 10)"),
          "an id >= input_dim: %s", err.msg);
    CHECK(l->ops->check_input(l, frac, 2, &err) != KS_OK &&
              strstr(err.msg, "row 0 column 1 holds 2.5; the Embedding takes integer token ids"),
          "a fraction: %s", err.msg);
    CHECK(l->ops->check_input(l, neg, 2, &err) != KS_OK && strstr(err.msg, "row 1 column 0"),
          "a negative id: %s", err.msg);
    /* an id out of range met in forward gives a zero row, never a read outside */
    if (ks_model_workspace(m, 2, 0, &err) == KS_OK) {
        const float *x[KS_MAX_IO] = {big};
        ks_model_forward(m, x, 2, 0);
        CHECK(m->ws.out[1][2 * 4] == 0.0f && m->ws.out[1][2 * 4 + 1] == 0.0f,
              "id 10 of 10 looks up nothing");
    }
    ks_model_free(m);
}


/* ------------------------------------------------- save, load, resume */

/* 40 rows of token ids of lengths 1 to 6 (padded after), real targets of width 2. */
static ks_data ids_data(void)
{
    static float x[40 * 6], y[40 * 2];
    ks_data d;
    for (int i = 0; i < 40; i++) {
        for (int j = 0; j < 6; j++)
            x[i * 6 + j] = j <= i % 6 ? (float)((i * 7 + j * 3) % 9 + 1) : 0.0f;
        y[i * 2] = (float)(i % 3) - 1.0f;
        y[i * 2 + 1] = (float)(i % 5) * 0.2f;
    }
    memset(&d, 0, sizeof d);
    d.n = 40;
    d.x_shape.ndim = 1;
    d.x_shape.dim[0] = 6;
    d.x_size = 6;
    d.x = x;
    d.y = y;
    d.y_size = 2;
    return d;
}

/* Fit epochs [from, to) of a model of the given layers (from > 0: loaded from *buf) and
   predict into pred; then *buf holds the model saved with its optimizer state. */
static void fit_ids(const char *yaml, unsigned char **buf, size_t *len, int from, int to,
                    float *pred, const char *why)
{
    ks_data d = ids_data();
    ks_fit_params p = ks_fit_params_default();
    ks_model *m = NULL;
    ks_error err;
    int epoch = -1;
    if (from == 0)
        m = graph(yaml, "{loss: mse, optimizer: adam}", why);
    else if (ks_model_load_buffer(*buf, *len, why, &m, &epoch, &err) != KS_OK)
        CHECK(0, "%s: load: %s", why, err.msg);
    else
        CHECK(epoch == from, "%s: the file's epoch %d", why, epoch);
    if (!m)
        return;
    p.epochs = to;
    p.initial_epoch = from;
    p.batch_size = 8;
    p.verbose = 0;
    p.seed = 11;
    CHECK(ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "%s: fit: %s", why,
          err.msg);
    CHECK(ks_model_predict(m, &d, 8, pred, &err) == KS_OK, "%s: predict: %s", why, err.msg);
    free(*buf);
    *buf = NULL;
    CHECK(ks_model_save_buffer(m, KS_SAVE_OPTIMIZER, to, buf, len, &err) == KS_OK,
          "%s: save: %s", why, err.msg);
    ks_model_free(m);
}

/* Every recurrent kind (masks, go_backwards, dropout, Bidirectional with and without a
   backward_layer): 2 epochs, saved, loaded and 2 more give the predictions of 4 epochs in
   one run, bit for bit; the saved model loads and predicts those bits again. */
static void test_save_resume(void)
{
    static const char *const models[] = {
        "[{Input: {shape: [6]}}, {Embedding: {input_dim: 10, output_dim: 3, mask_zero: true}}, "
        "{LSTM: {units: 4, return_sequences: true}}, {GRU: {units: 3, go_backwards: true}}, "
        "{Dense: {units: 2}}]",
        "[{Input: {shape: [6]}}, {Embedding: {input_dim: 10, output_dim: 3}}, "
        "{SimpleRNN: {units: 4, dropout: 0.2, recurrent_dropout: 0.3}}, {Dense: {units: 2}}]",
        "[{Input: {shape: [6]}}, {Embedding: {input_dim: 10, output_dim: 3, mask_zero: true}}, "
        "{Bidirectional: {layer: {LSTM: {units: 3}}}}, {Dense: {units: 2}}]",
        "[{Input: {shape: [6]}}, {Embedding: {input_dim: 10, output_dim: 3}}, "
        "{Bidirectional: {layer: {GRU: {units: 3, name: g}}, backward_layer: {GRU: {units: 3, "
        "go_backwards: true}}, merge_mode: ave}}, {Dense: {units: 2}}]",
        NULL};
    for (int k = 0; models[k]; k++) {
        static float once[80], resumed[80], loaded[80];
        unsigned char *buf = NULL, *one = NULL;
        size_t len = 0, one_len = 0;
        ks_data d = ids_data();
        ks_model *back = NULL;
        ks_error err;
        memset(resumed, 0, sizeof resumed);
        fit_ids(models[k], &one, &one_len, 0, 4, once, "4 epochs");
        fit_ids(models[k], &buf, &len, 0, 2, resumed, "2 epochs");
        if (buf)
            fit_ids(models[k], &buf, &len, 2, 4, resumed, "resumed to 4");
        CHECK(memcmp(once, resumed, sizeof once) == 0,
              "model %d: resumed from its file, the bits of one run: %g vs %g", k,
              (double)once[0], (double)resumed[0]);
        if (one && ks_model_load_buffer(one, one_len, "one", &back, NULL, &err) == KS_OK) {
            CHECK(ks_model_predict(back, &d, 8, loaded, &err) == KS_OK &&
                      memcmp(once, loaded, sizeof once) == 0,
                  "model %d: loaded, the same predictions", k);
        } else {
            CHECK(0, "model %d: load: %s", k, one ? err.msg : "not saved");
        }
        ks_model_free(back);
        free(buf);
        free(one);
    }
}

/* Occurrences of the string s in buf[0, len). */
static int occurrences(const unsigned char *buf, size_t len, const char *s)
{
    size_t n = strlen(s);
    int count = 0;
    for (size_t i = 0; i + n <= len; i++)
        count += memcmp(buf + i, s, n) == 0;
    return count;
}

/*
 * The ONNX export of recurrent models (onnxruntime checks the numbers against predict in
 * e2e_onnx.sh).  What ONNX's operators cannot express is refused by name.  Masked models
 * export: the recurrent operators take sequence_lens from the mask, whose kept steps
 * TopK and GatherElements move to the front; the average divides by the count of kept
 * steps; two masks merged are multiplied.
 */
static void test_onnx(void)
{
    static const char *const models[][3] = {
        /* the model, then the refusal's message, or two tensors made and read */
        {"[{Input: {shape: [6, 2]}}, {GRU: {units: 4, activation: relu}}]",
         "layer \"gru\": the ONNX export does not support activations other than tanh", NULL},
        {"[{Input: {shape: [6, 2]}}, {Bidirectional: {layer: {GRU: {units: 4}}, backward_layer: "
         "{LSTM: {units: 4, go_backwards: true}}}}]",
         "does not support a backward_layer unlike the forward one", NULL},
        {"[{Input: {shape: [6]}}, {Embedding: {input_dim: 10, output_dim: 3, mask_zero: true}}, "
         "{LSTM: {units: 4, return_sequences: true}}, {GRU: {units: 3}}]",
         "lstm/sequence_lens:0", "gru/sequence_lens:0"},
        {"[{Input: {shape: [6]}}, {Embedding: {input_dim: 10, output_dim: 3, mask_zero: true}}, "
         "{Bidirectional: {layer: {LSTM: {units: 2, return_sequences: true}}}}, "
         "{GlobalAveragePooling1D: {}}]",
         "bidirectional/at_steps:0", "global_average_pooling1d/count_at_least_1:0"},
        {"{layers: [{Input: {shape: [4], name: a}}, {Input: {shape: [4], name: b}}, "
         "{Embedding: {input_dim: 5, output_dim: 2, mask_zero: true, inputs: [a], name: ea}}, "
         "{Embedding: {input_dim: 5, output_dim: 2, mask_zero: true, inputs: [b], name: eb}}, "
         "{Add: {inputs: [ea, eb], name: sum}}, {SimpleRNN: {units: 2, name: l}}], "
         "outputs: [l]}",
         "sum/mask_1:0", "l/sequence_lens:0"}};
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        ks_model *m = graph(models[k][0], "{loss: mse, optimizer: sgd}", "onnx");
        unsigned char *buf = NULL;
        size_t len = 0;
        ks_error err;
        ks_status s;
        if (!m)
            continue;
        s = ks_model_export_onnx_buffer(m, &buf, &len, &err);
        if (!models[k][2]) {
            CHECK(s == KS_ERR_CONFIG && strstr(err.msg, models[k][1]), "model %zu refused: %s",
                  k, s == KS_OK ? "(exported)" : err.msg);
        } else if (s != KS_OK) {
            CHECK(0, "masked model %zu exports: %s", k, err.msg);
        } else {
            CHECK(occurrences(buf, len, "TopK") > 0 && occurrences(buf, len, "GatherElements") > 0,
                  "masked model %zu: kept steps moved to the front", k);
            for (int j = 1; j < 3; j++)
                CHECK(occurrences(buf, len, models[k][j]) >= 2,
                      "masked model %zu: %s made and read", k, models[k][j]);
        }
        free(buf);
        ks_model_free(m);
    }
}

int main(void)
{
    ks_rng *r;
    if (ks_rng_new(2025, 0, 0, &r) != KS_OK)
        return 1;
    test_grads_cells(r);
    test_grads_masks(r);
    test_grads_bidirectional(r);
    test_forward_reference();
    test_orthogonal();
    test_lstm_defaults();
    test_mask_wiring();
    test_pooling_masks();
    test_errors();
    test_embedding_check();
    test_save_resume();
    test_onnx();
    ks_rng_free(r);
    return check_done();
}
