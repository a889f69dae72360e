/*
 * test_ensemble.c — weighted ensembles: the arithmetic and geometric means against hand
 * formulas, scoring outputs like evaluate, ensemble predict/evaluate, the ensemble file
 * (round trip, every truncation, flipped bytes, hostile headers with a valid checksum,
 * members that do not fit together) and the four ways of fitting weights.
 */
#include "../search/search.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define N 120

static ks_model *model_from(const char *layers_yaml, const char *loss, uint64_t seed)
{
    ks_value layers, compile;
    ks_model *m = NULL;
    ks_error err;
    char text[512];
    snprintf(text, sizeof text, "{optimizer: SGD, loss: %s, metrics: [accuracy]}", loss);
    if (ks_yaml_load_text(layers_yaml, "layers", &layers, &err) != KS_OK ||
        ks_yaml_load_text(text, "compile", &compile, &err) != KS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    if (ks_model_from_config(&layers, NULL, seed, &m, &err) != KS_OK ||
        ks_model_compile(m, &compile, &err) != KS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        ks_model_free(m);
        m = NULL;
    }
    ks_value_free(&layers);
    ks_value_free(&compile);
    return m;
}

static const char *const MLP = "[{Dense: {units: 8, activation: relu, input_shape: [4]}},"
                               " {Dense: {units: 3, activation: softmax}}]";
static const char *const WIDE = "[{Dense: {units: 16, activation: tanh, input_shape: [4]}},"
                                " {Dense: {units: 5, activation: relu}},"
                                " {Dense: {units: 3, activation: softmax}}]";

static float xs[N * 4], ys[N];

static ks_data data(void)
{
    ks_data d;
    memset(&d, 0, sizeof d);
    d.n = N;
    d.x_shape.ndim = 1;
    d.x_shape.dim[0] = 4;
    d.x_size = 4;
    d.x = xs;
    d.y_size = 1;
    d.y = ys;
    d.y_is_label = 1;
    d.n_classes = 3;
    return d;
}

static void make_data(void)
{
    uint32_t r = 12345;
    for (int i = 0; i < N * 4; i++) {
        r = r * 1664525u + 1013904223u;
        xs[i] = (float)((r >> 8) / 16777216.0 * 2 - 1);
    }
    for (int i = 0; i < N; i++)
        ys[i] = (float)(i % 3);
}

/* ---------------------------------------------------------------- combine */

static void test_combine(void)
{
    const float a[] = {0.7f, 0.2f, 0.1f, 0.3f, 0.3f, 0.4f}, b[] = {0.1f, 0.6f, 0.3f, 0.5f, 0.25f, 0.25f};
    const float *outs[] = {a, b};
    const double w[] = {0.25, 0.75};
    float o[6];
    ks_ensemble_combine(KS_ENSEMBLE_ARITHMETIC, outs, w, 2, 2, 3, o);
    for (int j = 0; j < 6; j++)
        CHECK(fabsf(o[j] - (float)(0.25 * a[j] + 0.75 * b[j])) < 1e-7f, "arithmetic %d: %g", j,
              (double)o[j]);
    ks_ensemble_combine(KS_ENSEMBLE_GEOMETRIC, outs, w, 2, 2, 3, o);
    for (int r = 0; r < 2; r++) {
        double g[3], z = 0;
        for (int j = 0; j < 3; j++)
            z += g[j] = pow(a[r * 3 + j], 0.25) * pow(b[r * 3 + j], 0.75);
        for (int j = 0; j < 3; j++)
            CHECK(fabs(o[r * 3 + j] - g[j] / z) < 1e-6, "geometric row %d class %d: %g vs %g", r,
                  j, (double)o[r * 3 + j], g[j] / z);
    }
    {
        const float p[] = {0.9f}, q[] = {0.2f};
        const float *bo[] = {p, q};
        const double hw[] = {0.5, 0.5};
        double gp = sqrt(0.9 * 0.2), gq = sqrt(0.1 * 0.8);
        ks_ensemble_combine(KS_ENSEMBLE_GEOMETRIC, bo, hw, 2, 1, 1, o);
        CHECK(fabs(o[0] - gp / (gp + gq)) < 1e-6, "geometric sigmoid %g vs %g", (double)o[0],
              gp / (gp + gq));
    }
    {
        /* a zero probability is clipped at Keras's epsilon, not a NaN */
        const float z[] = {0.0f, 1.0f, 0.0f};
        const float *zo[] = {z, a};
        ks_ensemble_combine(KS_ENSEMBLE_GEOMETRIC, zo, w, 2, 1, 3, o);
        CHECK(isfinite(o[0]) && isfinite(o[1]) && fabsf(o[0] + o[1] + o[2] - 1) < 1e-6f,
              "geometric with a zero: %g %g %g", (double)o[0], (double)o[1], (double)o[2]);
    }
}

/* ------------------------------------------------ score, predict, evaluate */

static void test_score_and_evaluate(void)
{
    ks_model *m = model_from(MLP, "sparse_categorical_crossentropy", 3);
    ks_model *m2 = model_from(WIDE, "sparse_categorical_crossentropy", 4);
    ks_data d = data();
    float p1[N * 3], p2[N * 3], comb[N * 3], out[N * 3];
    ks_logs ev, sc, ens_logs;
    ks_error err;
    ks_ensemble *e = NULL;
    ks_model *members[2];
    double w[2] = {0.3, 0.9}, acc1, acc2, l1, l2;
    REQUIRE(m != NULL && m2 != NULL, "models build");
    REQUIRE(ks_model_evaluate(m, &d, 32, 0, NULL, 0, &ev, &err) == KS_OK, "evaluate: %s", err.msg);
    REQUIRE(ks_model_predict(m, &d, 32, p1, &err) == KS_OK, "predict");
    REQUIRE(ks_model_score(m, &d, p1, &sc, &err) == KS_OK, "score: %s", err.msg);
    ks_logs_get(&ev, "loss", &l1);
    ks_logs_get(&sc, "loss", &l2);
    ks_logs_get(&ev, "accuracy", &acc1);
    ks_logs_get(&sc, "accuracy", &acc2);
    CHECK(fabs(l1 - l2) < 1e-5 * fmax(1, l1), "score's loss %.9g, evaluate's %.9g", l2, l1);
    CHECK(acc1 == acc2, "score's accuracy %g, evaluate's %g", acc2, acc1);

    /* an ensemble predicts the weighted mean of its members (weights normalized) */
    REQUIRE(ks_model_predict(m2, &d, 32, p2, &err) == KS_OK, "predict 2");
    members[0] = m;
    members[1] = m2;
    REQUIRE(ks_ensemble_new(members, w, 2, KS_ENSEMBLE_ARITHMETIC, &e, &err) == KS_OK,
            "ensemble: %s", err.msg);
    CHECK(fabs(ks_ensemble_weight(e, 0) - 0.25) < 1e-15 && fabs(ks_ensemble_weight(e, 1) - 0.75) < 1e-15,
          "weights normalized: %g %g", ks_ensemble_weight(e, 0), ks_ensemble_weight(e, 1));
    REQUIRE(ks_ensemble_predict(e, &d, 32, out, &err) == KS_OK, "ensemble predict");
    {
        int bad = 0;
        for (int i = 0; i < N * 3; i++)
            bad += fabsf(out[i] - (0.25f * p1[i] + 0.75f * p2[i])) > 1e-6f;
        CHECK(bad == 0, "%d ensemble outputs differ from the weighted mean", bad);
    }
    {
        const float *po[] = {p1, p2};
        const double nw[] = {0.25, 0.75};
        ks_ensemble_combine(KS_ENSEMBLE_ARITHMETIC, po, nw, 2, N, 3, comb);
        REQUIRE(ks_ensemble_evaluate(e, &d, 32, &ens_logs, &err) == KS_OK, "ensemble evaluate");
        REQUIRE(ks_model_score(m, &d, comb, &sc, &err) == KS_OK, "score comb");
        ks_logs_get(&ens_logs, "loss", &l1);
        ks_logs_get(&sc, "loss", &l2);
        CHECK(l1 == l2, "ensemble evaluate's loss %.9g, score of the mean %.9g", l1, l2);
    }
    ks_ensemble_free(e);
}

/* ------------------------------------------------------------------ files */

static ks_ensemble *two_members(ks_ensemble_average avg)
{
    ks_model *members[2] = {model_from(MLP, "sparse_categorical_crossentropy", 7),
                            model_from(WIDE, "sparse_categorical_crossentropy", 8)};
    double w[2] = {0.4, 0.6};
    ks_ensemble *e = NULL;
    ks_error err;
    if (!members[0] || !members[1] ||
        ks_ensemble_new(members, w, 2, avg, &e, &err) != KS_OK)
        return NULL;
    return e;
}

static void put32(unsigned char *b, uint32_t x)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(x >> (8 * i));
}

/* Recompute the trailing CRC-32 of a modified file (a hostile file, checksum valid). */
static void reseal(unsigned char *b, size_t len)
{
    put32(b + len - 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), b, (uInt)(len - 4)));
}

static void test_file(void)
{
    ks_ensemble *e = two_members(KS_ENSEMBLE_GEOMETRIC), *back = NULL;
    unsigned char *buf = NULL, *bad;
    size_t len = 0;
    ks_error err;
    ks_data d = data();
    float a[N * 3], b[N * 3];
    const char *path = "/tmp/ks_test_ensemble.ksm";
    int crashes = 0, accepted = 0;
    REQUIRE(e != NULL, "ensemble builds");
    REQUIRE(ks_ensemble_save_buffer(e, &buf, &len, &err) == KS_OK, "save: %s", err.msg);
    REQUIRE(ks_ensemble_load_buffer(buf, len, "buf", &back, &err) == KS_OK, "load: %s", err.msg);
    CHECK(ks_ensemble_size(back) == 2 && ks_ensemble_average_of(back) == KS_ENSEMBLE_GEOMETRIC,
          "size %d average %d", ks_ensemble_size(back), (int)ks_ensemble_average_of(back));
    CHECK(ks_ensemble_weight(back, 0) == 0.4 && ks_ensemble_weight(back, 1) == 0.6,
          "weights %g %g", ks_ensemble_weight(back, 0), ks_ensemble_weight(back, 1));
    REQUIRE(ks_ensemble_predict(e, &d, 32, a, &err) == KS_OK, "predict");
    REQUIRE(ks_ensemble_predict(back, &d, 32, b, &err) == KS_OK, "predict loaded");
    CHECK(memcmp(a, b, sizeof a) == 0, "a loaded ensemble predicts bit for bit the same");
    ks_ensemble_free(back);
    back = NULL;

    /* on disk, and told apart from a model file */
    REQUIRE(ks_ensemble_save(e, path, &err) == KS_OK, "save file: %s", err.msg);
    CHECK(ks_file_kind_of(path) == KS_FILE_ENSEMBLE, "kind of an ensemble file");
    CHECK(ks_ensemble_load(path, &back, &err) == KS_OK, "load file: %s", err.msg);
    ks_ensemble_free(back);
    back = NULL;
    REQUIRE(ks_model_save(ks_ensemble_member(e, 0), path, 0, 0, &err) == KS_OK, "model save");
    CHECK(ks_file_kind_of(path) == KS_FILE_MODEL, "kind of a model file");
    CHECK(ks_ensemble_load(path, &back, &err) == KS_ERR_CORRUPT && strstr(err.msg, "ensemble"),
          "a model file is not an ensemble: %s", err.msg);
    remove(path);
    CHECK(ks_file_kind_of(path) == KS_FILE_OTHER, "kind of a missing file");

    /* every truncation, and flipped bytes: an error, never a crash or a success */
    bad = malloc(len);
    REQUIRE(bad != NULL, "malloc");
    for (size_t cut = 0; cut < len; cut += (cut < 64 || cut > len - 64) ? 1 : 97) {
        ks_status s = ks_ensemble_load_buffer(buf, cut, "cut", &back, &err);
        accepted += s == KS_OK;
        ks_ensemble_free(back);
        back = NULL;
    }
    CHECK(accepted == 0, "%d truncated files accepted", accepted);
    accepted = 0;
    for (size_t at = 0; at < len; at += (at < 64 || at > len - 64) ? 1 : 131) {
        memcpy(bad, buf, len);
        bad[at] ^= 0x5a;
        accepted += ks_ensemble_load_buffer(bad, len, "flip", &back, &err) == KS_OK;
        ks_ensemble_free(back);
        back = NULL;
    }
    CHECK(accepted == 0, "%d files with a flipped byte accepted", accepted);

    /* hostile headers with a valid checksum */
    {
        struct {
            size_t at;
            uint32_t value;
            const char *what, *expect;
        } cases[] = {{4, 3, "a newer version", "version"},
                     {8, 7, "an unknown averaging", "averaging"},
                     {12, 0, "no members", "member count"},
                     {12, 5000, "too many members", "member count"},
                     {12, 3, "more members than there are", ""}};
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            ks_status s;
            memcpy(bad, buf, len);
            put32(bad + cases[c].at, cases[c].value);
            reseal(bad, len);
            s = ks_ensemble_load_buffer(bad, len, "hostile", &back, &err);
            CHECK(s == KS_ERR_CORRUPT && strstr(err.msg, cases[c].expect), "%s: %d %s",
                  cases[c].what, (int)s, err.msg);
            crashes += back != NULL;
            ks_ensemble_free(back);
            back = NULL;
        }
        /* a negative weight, and weights that do not sum to 1 */
        {
            double w = -0.4;
            memcpy(bad, buf, len);
            memcpy(bad + 24, &w, 8);
            reseal(bad, len);
            CHECK(ks_ensemble_load_buffer(bad, len, "w", &back, &err) == KS_ERR_CORRUPT,
                  "negative weight: %s", err.msg);
            w = 0.7;
            memcpy(bad + 24, &w, 8);
            reseal(bad, len);
            CHECK(ks_ensemble_load_buffer(bad, len, "w", &back, &err) == KS_ERR_CORRUPT &&
                      strstr(err.msg, "sum"),
                  "weights summing to 1.3: %s", err.msg);
        }
    }
    CHECK(crashes == 0, "a hostile file left an ensemble behind");
    free(bad);
    free(buf);
    ks_ensemble_free(e);
}

static void test_members_must_fit(void)
{
    ks_model *a[2], *b[2], *c[2];
    double w[2] = {0.5, 0.5};
    ks_ensemble *e = NULL;
    ks_error err;
    a[0] = model_from(MLP, "sparse_categorical_crossentropy", 1);
    a[1] = model_from("[{Dense: {units: 3, activation: softmax, input_shape: [5]}}]",
                      "sparse_categorical_crossentropy", 2);
    CHECK(ks_ensemble_new(a, w, 2, KS_ENSEMBLE_ARITHMETIC, &e, &err) == KS_ERR_SHAPE &&
              strstr(err.msg, "member 1"),
          "different input shapes: %s", err.msg);
    b[0] = model_from(MLP, "sparse_categorical_crossentropy", 1);
    b[1] = model_from("[{Dense: {units: 4, activation: softmax, input_shape: [4]}}]",
                      "sparse_categorical_crossentropy", 2);
    CHECK(ks_ensemble_new(b, w, 2, KS_ENSEMBLE_ARITHMETIC, &e, &err) == KS_ERR_SHAPE,
          "different output shapes: %s", err.msg);
    c[0] = model_from("[{Dense: {units: 1, input_shape: [4]}}]", "mse", 1);
    c[1] = model_from("[{Dense: {units: 1, input_shape: [4]}}]", "mse", 2);
    CHECK(ks_ensemble_new(c, w, 2, KS_ENSEMBLE_GEOMETRIC, &e, &err) == KS_ERR_CONFIG,
          "geometric mean of a regression: %s", err.msg);
    {
        ks_model *d[2] = {model_from(MLP, "sparse_categorical_crossentropy", 1),
                          model_from(MLP, "categorical_crossentropy", 2)};
        CHECK(ks_ensemble_new(d, w, 2, KS_ENSEMBLE_ARITHMETIC, &e, &err) == KS_ERR_CONFIG &&
                  strstr(err.msg, "categorical_crossentropy") && strstr(err.msg, "same loss"),
              "members with different losses: %s", err.msg);
    }
    CHECK(e == NULL, "no ensemble on failure");
}

/* ------------------------------------------------------------ weights */

/*
 * Three members on labels 0..2: A is right (0.8) on the first half of the samples and
 * unsure elsewhere, B on the second half, C is uniform.  The best weighting mixes A and B
 * and gives C little; each fitted one must beat uniform and every single member.
 */
static void test_fit_weights(void)
{
    static float pa[N * 3], pb[N * 3], pc[N * 3];
    const float *preds[] = {pa, pb, pc};
    ks_model *scorer = model_from(MLP, "sparse_categorical_crossentropy", 1);
    ks_data d = data();
    ks_error err;
    double single[3], uniform_loss = 0;
    REQUIRE(scorer != NULL, "scorer");
    for (int i = 0; i < N; i++) {
        int y = (int)ys[i];
        for (int j = 0; j < 3; j++) {
            pa[i * 3 + j] = i < N / 2 ? (j == y ? 0.8f : 0.1f) : (j == (y + 1) % 3 ? 0.5f : 0.25f);
            pb[i * 3 + j] = i >= N / 2 ? (j == y ? 0.8f : 0.1f) : (j == (y + 1) % 3 ? 0.5f : 0.25f);
            pc[i * 3 + j] = 1.0f / 3;
        }
    }
    for (int m = 0; m < 3; m++) {
        ks_logs l;
        ks_model_score(scorer, &d, preds[m], &l, &err);
        ks_logs_get(&l, "loss", &single[m]);
    }
    for (int method = 0; method < KS_WEIGHTS_COUNT; method++) {
        double w[3], sum = 0, loss;
        float comb[N * 3];
        ks_logs l;
        ks_status s = ks_ensemble_fit_weights((ks_weights_method)method, scorer, 0, &d, preds, 3,
                                              KS_ENSEMBLE_ARITHMETIC, 42, w, &err);
        const char *name = ks_weights_method_name((ks_weights_method)method);
        REQUIRE(s == KS_OK, "%s: %s", name, err.msg);
        for (int i = 0; i < 3; i++) {
            CHECK(w[i] >= 0, "%s: weight %d is %g", name, i, w[i]);
            sum += w[i];
        }
        CHECK(fabs(sum - 1) < 1e-9, "%s: weights sum to %.12g", name, sum);
        ks_ensemble_combine(KS_ENSEMBLE_ARITHMETIC, preds, w, 3, N, 3, comb);
        ks_model_score(scorer, &d, comb, &l, &err);
        ks_logs_get(&l, "loss", &loss);
        if (method == KS_WEIGHTS_UNIFORM) {
            uniform_loss = loss;
            CHECK(w[0] == 1.0 / 3 && w[2] == 1.0 / 3, "uniform: %g %g %g", w[0], w[1], w[2]);
            continue;
        }
        CHECK(loss < uniform_loss - 1e-3, "%s: loss %g, uniform %g", name, loss, uniform_loss);
        CHECK(loss < single[0] && loss < single[1] && loss < single[2],
              "%s: loss %g, single members %g %g %g", name, loss, single[0], single[1],
              single[2]);
        /* random search over the simplex gets near the optimum (½, ½, 0), not onto it */
        CHECK(w[2] < 0.2 && fabs(w[0] - w[1]) < (method == KS_WEIGHTS_RANDOM ? 0.25 : 0.02),
              "%s: weights %.3f %.3f %.3f", name, w[0],
              w[1], w[2]);
        printf("  %-12s loss %.4f  weights %.3f %.3f %.3f  (uniform %.4f)\n", name, loss, w[0],
               w[1], w[2], uniform_loss);
    }
    /* the same seed, the same weights */
    {
        double w1[3], w2[3];
        ks_ensemble_fit_weights(KS_WEIGHTS_RANDOM, scorer, 0, &d, preds, 3, KS_ENSEMBLE_ARITHMETIC,
                                7, w1, &err);
        ks_ensemble_fit_weights(KS_WEIGHTS_RANDOM, scorer, 0, &d, preds, 3, KS_ENSEMBLE_ARITHMETIC,
                                7, w2, &err);
        CHECK(memcmp(w1, w2, sizeof w1) == 0, "random weights reproducible from the seed");
    }
    CHECK(ks_weights_method_find("nelder-mead") == KS_WEIGHTS_NELDER_MEAD &&
              ks_weights_method_find("simplex") == -1,
          "method names");
    ks_model_free(scorer);
}

/* Members of two outputs: the ensemble combines the named one, in memory and in its file. */
static void test_multi_output(void)
{
    static const char *const TWO =
        "{layers: [{Input: {shape: [4], name: x}}, {Dense: {units: 6, activation: tanh}},"
        " {Dense: {units: 3, activation: softmax, name: cls}},"
        " {Dense: {units: 1, inputs: dense, name: reg}}], outputs: [reg, cls]}";
    static const char *const COMPILE =
        "{optimizer: SGD, loss: {reg: mse, cls: sparse_categorical_crossentropy},"
        " metrics: {cls: [accuracy]}}";
    ks_model *mem[2], *other;
    ks_ensemble *e = NULL, *back = NULL;
    ks_value v, c;
    ks_error err;
    ks_data d = data();
    float ys2[N], p0[N * 3], p1[N * 3], pe[N * 3];
    float *outs[2] = {NULL, NULL};
    double w[2] = {0.25, 0.75};
    unsigned char *buf = NULL;
    size_t len;
    ks_logs logs;
    double acc;
    for (int i = 0; i < N; i++)
        ys2[i] = xs[4 * i];
    d.n_targets = 2;
    d.targets[0] = (ks_array){"cls", {1, {1}}, 1, ys, 1, 3};
    d.targets[1] = (ks_array){"reg", {1, {1}}, 1, ys2, 0, 0};
    REQUIRE(ks_yaml_load_text(TWO, "two", &v, &err) == KS_OK &&
                ks_yaml_load_text(COMPILE, "compile", &c, &err) == KS_OK,
            "yaml: %s", err.msg);
    for (int i = 0; i < 2; i++) {
        REQUIRE(ks_model_from_config(&v, NULL, 10 + (uint64_t)i, &mem[i], &err) == KS_OK &&
                    ks_model_compile(mem[i], &c, &err) == KS_OK,
                "member %d: %s", i, err.msg);
    }
    outs[1] = p0;
    REQUIRE(ks_model_predict_outputs(mem[0], &d, 32, outs, &err) == KS_OK, "%s", err.msg);
    outs[1] = p1;
    REQUIRE(ks_model_predict_outputs(mem[1], &d, 32, outs, &err) == KS_OK, "%s", err.msg);
    REQUIRE(ks_ensemble_new_for(mem, w, 2, KS_ENSEMBLE_ARITHMETIC, "cls", &e, &err) == KS_OK,
            "ensemble of cls: %s", err.msg);
    CHECK(strcmp(ks_ensemble_output(e), "cls") == 0 && ks_ensemble_member_output(e, 0) == 1,
          "the output combined");
    REQUIRE(ks_ensemble_predict(e, &d, 16, pe, &err) == KS_OK, "predict: %s", err.msg);
    {
        double worst = 0;
        for (int i = 0; i < N * 3; i++)
            worst = fmax(worst, fabs(pe[i] - (0.25 * p0[i] + 0.75 * p1[i])));
        CHECK(worst < 1e-6, "the weighted mean of the members' cls outputs (%g)", worst);
    }
    CHECK(ks_ensemble_evaluate(e, &d, 32, &logs, &err) == KS_OK &&
              ks_logs_get(&logs, "accuracy", &acc) && logs.n == 2,
          "evaluate: loss and accuracy of cls: %s", err.msg);
    /* the file keeps the output's name (version 2) */
    REQUIRE(ks_ensemble_save_buffer(e, &buf, &len, &err) == KS_OK, "save: %s", err.msg);
    CHECK(buf[4] == 2, "version 2 for a named output");
    CHECK(ks_ensemble_load_buffer(buf, len, "two", &back, &err) == KS_OK &&
              strcmp(ks_ensemble_output(back), "cls") == 0,
          "round trip: %s", err.msg);
    for (size_t cut = 24; cut < 60 && cut < len; cut++) {
        ks_ensemble *t = NULL;
        CHECK(ks_ensemble_load_buffer(buf, cut, "cut", &t, &err) != KS_OK, "cut at %zu", cut);
        ks_ensemble_free(t);
    }
    free(buf);
    ks_ensemble_free(back);
    ks_ensemble_free(e);
    /* a member without the output */
    REQUIRE(ks_model_from_config(&v, NULL, 3, &mem[0], &err) == KS_OK &&
                ks_model_compile(mem[0], &c, &err) == KS_OK,
            "%s", err.msg);
    other = model_from(MLP, "sparse_categorical_crossentropy", 4);
    REQUIRE(other != NULL, "mlp");
    mem[1] = other;
    CHECK(ks_ensemble_new_for(mem, w, 2, KS_ENSEMBLE_ARITHMETIC, "cls", &e, &err) ==
                  KS_ERR_CONFIG &&
              strstr(err.msg, "ensemble member 1 has no output \"cls\""),
          "a member without the output: %s", err.msg);
    ks_value_free(&v);
    ks_value_free(&c);
}

int main(void)
{
    make_data();
    ks_blas_set_threads(1);
    test_combine();
    test_score_and_evaluate();
    test_file();
    test_members_must_fit();
    test_fit_weights();
    test_multi_output();
    return check_done();
}
