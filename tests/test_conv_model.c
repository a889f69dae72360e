/*
 * test_conv_model.c — convolutional models as a whole: images without a channel axis
 * feed a (rows, cols, 1) input, a .npy of (N, H, W, C) images loads with its shape,
 * a model with convolutions saves, loads and resumes
 * bit-exactly, max pooling's ties, and the augmentation layers (identity at inference,
 * reproducible in training, TensorFlow's fill modes on known images).
 */
#include "../engine/engine_impl.h"
#include "check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static ks_model *model_json(const char *layers, const char *compile, uint64_t seed)
{
    ks_value l, c;
    ks_model *m = NULL;
    ks_error err;
    if (ks_value_from_json(layers, strlen(layers), "layers", &l, &err) != KS_OK) {
        CHECK(0, "layers JSON: %s", err.msg);
        return NULL;
    }
    if (ks_model_from_config(&l, NULL, seed, &m, &err) != KS_OK) {
        CHECK(0, "build %s: %s", layers, err.msg);
        ks_value_free(&l);
        return NULL;
    }
    ks_value_free(&l);
    if (!compile)
        return m;
    if (ks_value_from_json(compile, strlen(compile), "compile", &c, &err) != KS_OK ||
        ks_model_compile(m, &c, &err) != KS_OK) {
        CHECK(0, "compile %s: %s", compile, err.msg);
        ks_model_free(m);
        m = NULL;
    }
    ks_value_free(&c);
    return m;
}

/* ------------------------------------------------------------------ data */

#define N_SAMPLES 48

/* 6 × 6 images of three classes: a bright row, column or diagonal, plus noise. */
static ks_dataset *make_images(int with_channel)
{
    static float x[N_SAMPLES * 36], y[N_SAMPLES];
    ks_shape shape = {2, {6, 6}};
    ks_dataset *ds = NULL;
    ks_rng *r;
    ks_error err;
    if (with_channel)
        shape = (ks_shape){3, {6, 6, 1}};
    ks_rng_new(7, 1, 2, &r);
    for (int i = 0; i < N_SAMPLES; i++) {
        int cls = i % 3, at = (int)ks_rng_index(r, 6);
        for (int j = 0; j < 36; j++) {
            int row = j / 6, col = j % 6;
            int on = cls == 0 ? row == at : cls == 1 ? col == at : row == col;
            x[i * 36 + j] = (float)(on + 0.3 * ks_rng_normal(r, 1.0));
        }
        y[i] = (float)cls;
    }
    ks_rng_free(r);
    CHECK(ks_dataset_from_arrays(&shape, N_SAMPLES, x, 1, y, 1, &ds, &err) == KS_OK, "data: %s",
          err.msg);
    return ds;
}

static const char *const cnn =
    "[{\"InputLayer\": {\"shape\": [6, 6, 1]}},"
    " {\"Conv2D\": {\"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\", \"activation\": "
    "\"relu\"}},"
    " {\"BatchNormalization\": {}},"
    " {\"MaxPooling2D\": {}},"
    " {\"SeparableConv2D\": {\"filters\": 4, \"kernel_size\": 2, \"depth_multiplier\": 2}},"
    " {\"SpatialDropout2D\": {\"rate\": 0.2}},"
    " {\"DepthwiseConv2D\": {\"kernel_size\": 2}},"
    " {\"GlobalAveragePooling2D\": {}},"
    " {\"Dropout\": {\"rate\": 0.1}},"
    " {\"Dense\": {\"units\": 3, \"activation\": \"softmax\"}}]";
static const char *const adam =
    "{\"optimizer\": \"adam\", \"loss\": \"sparse_categorical_crossentropy\", \"metrics\": "
    "[\"accuracy\"]}";

static ks_status fit(ks_model *m, const ks_dataset *ds, int initial_epoch, int epochs)
{
    ks_fit_params p = ks_fit_params_default();
    ks_data d = ks_dataset_data(ds);
    ks_error err;
    ks_status s;
    p.epochs = epochs;
    p.initial_epoch = initial_epoch;
    p.batch_size = 10;          /* 48 samples: the last batch short */
    p.verbose = 0;
    p.seed = 5;
    s = ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err);
    CHECK(s == KS_OK, "fit: %s", err.msg);
    return s;
}

static void test_channel_axis(void)
{
    ks_dataset *plain = make_images(0), *flat = NULL;
    ks_model *m = model_json(cnn, adam, 3);
    ks_data d;
    ks_error err;
    ks_shape shape = {1, {36}};
    float *out;
    ks_logs logs;
    if (!plain || !m)
        goto done;
    /* (6, 6) images train, evaluate and predict on a (6, 6, 1) input: the same floats */
    d = ks_dataset_data(plain);
    CHECK(ks_model_check_data(m, &d, "training", &err) == KS_OK, "(6, 6) data refused: %s",
          err.msg);
    fit(m, plain, 0, 2);
    CHECK(ks_model_evaluate(m, &d, 16, 0, NULL, 0, &logs, &err) == KS_OK, "evaluate: %s",
          err.msg);
    out = malloc(N_SAMPLES * 3 * sizeof *out);
    CHECK(out && ks_model_predict(m, &d, 16, out, &err) == KS_OK, "predict: %s", err.msg);
    free(out);
    /* 36 floats in another shape do not */
    if (ks_dataset_from_arrays(&shape, N_SAMPLES, d.x, 1, d.y, 1, &flat, &err) == KS_OK) {
        ks_data fd = ks_dataset_data(flat);
        CHECK(ks_model_check_data(m, &fd, "training", &err) == KS_ERR_SHAPE &&
                  strstr(err.msg, "training data has inputs of shape (None, 36) but the model "
                                  "expects (None, 6, 6, 1)"),
              "flat data: %s", err.msg);
    }
done:
    ks_dataset_free(plain);
    ks_dataset_free(flat);
    ks_model_free(m);
}

/* A float32 or uint8 .npy file of shape dims (C order). */
static void write_npy(const char *path, const char *descr, const void *data, size_t bytes,
                      const char *shape)
{
    char header[128];
    int len = snprintf(header, sizeof header,
                       "{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape);
    FILE *f = fopen(path, "wb");
    while ((10 + len + 1) % 64)
        header[len++] = ' ';
    header[len++] = '\n';
    REQUIRE(f != NULL, "cannot write %s", path);
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(len, f);
    fputc(0, f);
    fwrite(header, 1, (size_t)len, f);
    fwrite(data, 1, bytes, f);
    fclose(f);
}

/* A .npy of images (N, H, W, C) loads with that per-sample shape, and a model without
   input_shape takes it for its convolutions. */
static void test_npy_images(void)
{
    enum { N = 6 };
    char dir[] = "/tmp/ks_test_conv.XXXXXX", xp[64], yp[64], json[256];
    float x[N * 4 * 4 * 2];
    unsigned char y[N];
    ks_value spec;
    ks_dataset *ds = NULL;
    ks_model *m = NULL;
    ks_error err;
    REQUIRE(mkdtemp(dir) != NULL, "mkdtemp");
    for (int i = 0; i < N * 32; i++)
        x[i] = (float)(i % 17) / 17.0f;
    for (int i = 0; i < N; i++)
        y[i] = (unsigned char)(i % 3);
    snprintf(xp, sizeof xp, "%s/x.npy", dir);
    snprintf(yp, sizeof yp, "%s/y.npy", dir);
    write_npy(xp, "<f4", x, sizeof x, "(6, 4, 4, 2)");
    write_npy(yp, "|u1", y, sizeof y, "(6,)");
    snprintf(json, sizeof json, "{\"npy\": {\"x\": \"%s\", \"y\": \"%s\"}}", xp, yp);
    if (ks_value_from_json(json, strlen(json), "spec", &spec, &err) == KS_OK) {
        CHECK(ks_dataset_load(&spec, NULL, &ds, &err) == KS_OK, "npy images: %s", err.msg);
        ks_value_free(&spec);
    }
    if (ds) {
        ks_data d = ks_dataset_data(ds);
        ks_shape want = {3, {4, 4, 2}};
        ks_value layers;
        static const char *const cnn_json =
            "[{\"Conv2D\": {\"filters\": 2, \"kernel_size\": 3}}, {\"Flatten\": {}},"
            " {\"Dense\": {\"units\": 3, \"activation\": \"softmax\"}}]";
        CHECK(ks_shape_equal(&d.x_shape, &want) && d.n == N, "npy images: %d-d, n %zu",
              d.x_shape.ndim, d.n);
        if (ks_value_from_json(cnn_json, strlen(cnn_json), "l", &layers, &err) == KS_OK) {
            CHECK(ks_model_from_config(&layers, &d.x_shape, 1, &m, &err) == KS_OK &&
                      m->layers[1]->out_shape.ndim == 3 && m->layers[1]->out_shape.dim[0] == 2,
                  "a CNN on the npy's shape: %s", err.msg);
            ks_value_free(&layers);
        }
    }
    ks_model_free(m);
    ks_dataset_free(ds);
    remove(xp);
    remove(yp);
    remove(dir);
}

/* ---------------------------------------------------------------- files */

static void test_save_resume(void)
{
    ks_dataset *ds = make_images(1);
    ks_model *a = model_json(cnn, adam, 11), *b = NULL, *c = model_json(cnn, adam, 11);
    unsigned char *buf = NULL;
    size_t len = 0, differ = 0;
    int epoch = -1;
    ks_error err;
    if (!ds || !a || !c)
        goto done;
    fit(a, ds, 0, 3);
    REQUIRE(ks_model_save_buffer(a, KS_SAVE_OPTIMIZER, 3, &buf, &len, &err) == KS_OK, "save: %s",
            err.msg);
    REQUIRE(ks_model_load_buffer(buf, len, "cnn.ksm", &b, &epoch, &err) == KS_OK, "load: %s",
            err.msg);
    CHECK(epoch == 3, "epoch %d", epoch);
    CHECK(memcmp(a->params, b->params, a->n_params * sizeof(float)) == 0,
          "loaded weights differ");
    {
        /* the same predictions from the loaded model, bit for bit */
        ks_data d = ks_dataset_data(ds);
        float *pa = malloc(N_SAMPLES * 3 * sizeof(float)), *pb = malloc(N_SAMPLES * 3 * sizeof(float));
        CHECK(pa && pb && ks_model_predict(a, &d, 16, pa, &err) == KS_OK &&
                  ks_model_predict(b, &d, 16, pb, &err) == KS_OK &&
                  memcmp(pa, pb, N_SAMPLES * 3 * sizeof(float)) == 0,
              "predictions of the loaded model differ");
        free(pa);
        free(pb);
    }
    /* 3 + 3 epochs from the file give exactly the weights of 6 in one go */
    fit(b, ds, 3, 6);
    fit(c, ds, 0, 6);
    for (size_t i = 0; i < c->n_params; i++)
        differ += memcmp(&b->params[i], &c->params[i], sizeof(float)) != 0;
    CHECK(differ == 0, "resumed training differs in %zu of %zu weights", differ, c->n_params);
    CHECK(memcmp(b->slots, c->slots, (size_t)c->opt->n_slots * c->n_params * sizeof(float)) == 0,
          "optimizer state after resuming differs");
done:
    free(buf);
    ks_model_free(a);
    ks_model_free(b);
    ks_model_free(c);
    ks_dataset_free(ds);
}

/* ----------------------------------------------------------- max pooling */

/* Equal values in a window: the whole gradient goes to the first, as TensorFlow and
   PyTorch route it. */
static void test_max_ties(void)
{
    ks_model *m = model_json("[{\"InputLayer\": {\"shape\": [2, 4, 2]}}, {\"MaxPooling2D\": {}}]",
                             NULL, 1);
    float x[16], dy[4] = {1, 2, 3, 4}, dx[16];
    float want[16] = {1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    ks_layer *l;
    ks_fwd f;
    ks_bwd b;
    ks_error err;
    if (!m)
        return;
    l = m->layers[1];
    for (int i = 0; i < 16; i++)
        x[i] = 0.5f;
    REQUIRE(ks_model_workspace(m, 1, 1, &err) == KS_OK, "workspace");
    memset(&f, 0, sizeof f);
    f.n = 1;
    f.training = 1;
    f.x[0] = x;
    f.y = m->ws.buf[1];
    f.scratch = m->ws.scratch[1];
    l->ops->forward(l, &f);
    memset(&b, 0, sizeof b);
    b.n = 1;
    b.x[0] = x;
    b.y = f.y;
    b.dy = dy;
    b.dx[0] = dx;
    b.scratch = f.scratch;
    l->ops->backward(l, &b);
    CHECK(memcmp(dx, want, sizeof dx) == 0, "ties: gradient %g %g %g %g | %g %g %g %g", dx[0],
          dx[1], dx[2], dx[3], dx[4], dx[5], dx[6], dx[7]);
    ks_model_free(m);
}

/* ----------------------------------------------------------- augmentation */

/* The output of [input (h, w, c), layer] on x in training (stream seeded with seed) or not. */
static void run_layer(const char *layer_json, int h, int w, int c, const float *x, int n,
                      int training, uint64_t seed, float *out)
{
    char json[512];
    ks_model *m;
    ks_error err;
    snprintf(json, sizeof json, "[{\"InputLayer\": {\"shape\": [%d, %d, %d]}}, %s]", h, w, c,
             layer_json);
    m = model_json(json, NULL, 1);
    if (!m)
        return;
    if (ks_model_workspace(m, n, training, &err) == KS_OK) {
        ks_rng_reseed(m->rng, seed, 1, 2);
        memcpy(out, ks_model_forward(m, (const float *const[]){x}, n, training),
               (size_t)n * h * w * c * sizeof(float));
    }
    ks_model_free(m);
}

static int same_floats(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, n * sizeof(float)) == 0;
}

static void test_flip(void)
{
    enum { N = 64, H = 3, W = 4, C = 2, S = H * W * C };
    static float x[N * S], a[N * S], b[N * S], d[N * S];
    int flipped = 0, kept = 0;
    for (int i = 0; i < N * S; i++)
        x[i] = (float)i;
    run_layer("{\"RandomFlip\": {\"mode\": \"horizontal\"}}", H, W, C, x, N, 0, 1, a);
    CHECK(same_floats(a, x, N * S), "RandomFlip changes images at inference");
    run_layer("{\"RandomFlip\": {\"mode\": \"horizontal\"}}", H, W, C, x, N, 1, 1, a);
    run_layer("{\"RandomFlip\": {\"mode\": \"horizontal\"}}", H, W, C, x, N, 1, 1, b);
    run_layer("{\"RandomFlip\": {\"mode\": \"horizontal\"}}", H, W, C, x, N, 1, 2, d);
    CHECK(same_floats(a, b, N * S), "RandomFlip is not reproducible from its stream");
    CHECK(!same_floats(a, d, N * S), "RandomFlip draws the same flips from another stream");
    for (int i = 0; i < N; i++) {
        int same = 1, mirror = 1;
        for (int y = 0; y < H; y++)
            for (int xx = 0; xx < W; xx++)
                for (int c = 0; c < C; c++) {
                    float v = a[i * S + (y * W + xx) * C + c];
                    same &= v == x[i * S + (y * W + xx) * C + c];
                    mirror &= v == x[i * S + (y * W + (W - 1 - xx)) * C + c];
                }
        flipped += mirror;
        kept += same;
        CHECK(same || mirror, "image %d is neither itself nor its mirror", i);
    }
    CHECK(flipped > N / 4 && kept > N / 4, "flipped %d, kept %d of %d", flipped, kept, N);
    /* both axes at once, as Keras 3 draws them: the image turned by 180° */
    run_layer("{\"RandomFlip\": {}}", H, W, C, x, N, 1, 3, a);
    for (int i = 0, turned = 0; i < N; i++) {
        int same = same_floats(a + i * S, x + i * S, S), t = 1;
        for (int p = 0; p < H * W; p++)
            for (int c = 0; c < C; c++)
                t &= a[i * S + p * C + c] == x[i * S + (H * W - 1 - p) * C + c];
        turned += t;
        CHECK(same || t, "horizontal_and_vertical: image %d is neither itself nor turned", i);
        if (i == N - 1)
            CHECK(turned > N / 4, "turned %d of %d", turned, N);
    }
}

static void expect_row(const char *layer, const float *want, int w, const char *why)
{
    float x[8], out[8];
    for (int i = 0; i < w; i++)
        x[i] = (float)(i + 1);
    run_layer(layer, 1, w, 1, x, 1, 1, 9, out);
    CHECK(same_floats(out, want, (size_t)w), "%s: got %g %g %g %g", why, out[0], out[1], out[2],
          out[3]);
}

static void test_translation(void)
{
    /* a shift of exactly 2 pixels right (width_factor [0.5, 0.5] of 4), no vertical shift:
       output x reads input x − 2; the row a b c d = 1 2 3 4 */
    static const float constant[] = {-1, -1, 1, 2}, nearest[] = {1, 1, 1, 2},
                       reflect[] = {2, 1, 1, 2}, wrap[] = {3, 4, 1, 2},
                       half[] = {0, 1.5f, 2.5f, 3.5f};
    enum { N = 16, S = 5 * 5 * 2 };
    static float x[N * S], a[N * S], b[N * S];
    expect_row("{\"RandomTranslation\": {\"height_factor\": 0, \"width_factor\": [0.5, 0.5], "
               "\"fill_mode\": \"constant\", \"fill_value\": -1, \"interpolation\": \"nearest\"}}",
               constant, 4, "constant (k k | a b c d)");
    expect_row("{\"RandomTranslation\": {\"height_factor\": 0, \"width_factor\": [0.5, 0.5], "
               "\"fill_mode\": \"nearest\", \"interpolation\": \"nearest\"}}",
               nearest, 4, "nearest (a a | a b c d)");
    expect_row("{\"RandomTranslation\": {\"height_factor\": 0, \"width_factor\": [0.5, 0.5], "
               "\"interpolation\": \"nearest\"}}",
               reflect, 4, "reflect (b a | a b c d)");
    expect_row("{\"RandomTranslation\": {\"height_factor\": 0, \"width_factor\": [0.5, 0.5], "
               "\"fill_mode\": \"wrap\", \"interpolation\": \"nearest\"}}",
               wrap, 4, "wrap (c d | a b c d)");
    /* half a pixel, bilinear: the mean of neighbours; a coordinate outside is the fill */
    expect_row("{\"RandomTranslation\": {\"height_factor\": 0, \"width_factor\": [0.125, "
               "0.125], \"fill_mode\": \"constant\"}}",
               half, 4, "bilinear half a pixel");

    for (int i = 0; i < N * S; i++)
        x[i] = (float)(i % 7) - 3.0f;
    run_layer("{\"RandomTranslation\": {\"height_factor\": 0.2, \"width_factor\": 0.2}}", 5, 5,
              2, x, N, 0, 1, a);
    CHECK(same_floats(a, x, N * S), "RandomTranslation changes images at inference");
    run_layer("{\"RandomTranslation\": {\"height_factor\": 0.2, \"width_factor\": 0.2}}", 5, 5,
              2, x, N, 1, 4, a);
    run_layer("{\"RandomTranslation\": {\"height_factor\": 0.2, \"width_factor\": 0.2}}", 5, 5,
              2, x, N, 1, 4, b);
    CHECK(same_floats(a, b, N * S), "RandomTranslation is not reproducible from its stream");
    CHECK(!same_floats(a, x, N * S), "RandomTranslation left every image as it was");
}

int main(void)
{
    test_channel_axis();
    test_npy_images();
    test_save_resume();
    test_max_ties();
    test_flip();
    test_translation();
    return check_done();
}
