/*
 * test_fit.c — fit/evaluate/predict semantics on small synthetic data: determinism,
 * resuming with initial_epoch, the fused SGD path against the general one, Keras's
 * validation_split, validation_freq, steps_per_epoch, class weights (loss only),
 * evaluate against an independent computation, and the console output.
 */
#include "../engine/engine_impl.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define N 240
#define D 4
#define K 3

static float xs[N * D], ys[N];

/* three gaussian blobs in 4-D */
static void make_data(void)
{
    ks_rng *r;
    ks_rng_new(99, 0, 0, &r);
    for (int i = 0; i < N; i++) {
        int c = i % K;
        ys[i] = (float)c;
        for (int j = 0; j < D; j++)
            xs[i * D + j] = (float)((j == c ? 2.0 : 0.0) + ks_rng_normal(r, 1.0));
    }
    ks_rng_free(r);
}

static ks_value *put_str(ks_value *map, const char *key, const char *s)
{
    ks_value *v = ks_value_put(map, key, KS_VALUE_NULL);
    ks_value_set_string(v, s);
    return v;
}

/* Dense(16, relu) [Dropout] Dense(K, softmax) with the given optimizer map. */
static ks_model *model(const char *opt, double lr, double clipnorm, int dropout)
{
    ks_value layers, compile, *a, *o, *metrics;
    ks_model *m = NULL;
    ks_error err;
    ks_value_init(&layers, KS_VALUE_LIST);
    a = ks_value_put(ks_value_push(&layers, KS_VALUE_MAP), "Dense", KS_VALUE_MAP);
    ks_value_put(a, "units", KS_VALUE_NUMBER)->number = 16;
    put_str(a, "activation", "relu");
    a = ks_value_put(a, "input_shape", KS_VALUE_LIST);
    ks_value_push(a, KS_VALUE_NUMBER)->number = D;
    if (dropout) {
        a = ks_value_put(ks_value_push(&layers, KS_VALUE_MAP), "Dropout", KS_VALUE_MAP);
        ks_value_put(a, "rate", KS_VALUE_NUMBER)->number = 0.25;
    }
    a = ks_value_put(ks_value_push(&layers, KS_VALUE_MAP), "Dense", KS_VALUE_MAP);
    ks_value_put(a, "units", KS_VALUE_NUMBER)->number = K;
    put_str(a, "activation", "softmax");
    ks_value_init(&compile, KS_VALUE_MAP);
    put_str(&compile, "loss", "sparse_categorical_crossentropy");
    metrics = ks_value_put(&compile, "metrics", KS_VALUE_LIST);
    ks_value_set_string(ks_value_push(metrics, KS_VALUE_NULL), "accuracy");
    o = ks_value_put(ks_value_put(&compile, "optimizer", KS_VALUE_MAP), opt, KS_VALUE_MAP);
    ks_value_put(o, "learning_rate", KS_VALUE_NUMBER)->number = lr;
    if (clipnorm > 0)
        ks_value_put(o, "clipnorm", KS_VALUE_NUMBER)->number = clipnorm;
    if (ks_model_from_config(&layers, NULL, 5, &m, &err) != KS_OK ||
        ks_model_compile(m, &compile, &err) != KS_OK) {
        CHECK(0, "build: %s", err.msg);
        ks_model_free(m);
        m = NULL;
    }
    ks_value_free(&layers);
    ks_value_free(&compile);
    return m;
}

static ks_data data(void)
{
    ks_data d;
    memset(&d, 0, sizeof d);
    d.n = N;
    d.x_shape.ndim = 1;
    d.x_shape.dim[0] = D;
    d.x_size = D;
    d.x = xs;
    d.y = ys;
    d.y_size = 1;
    d.y_is_label = 1;
    d.n_classes = K;
    return d;
}

static ks_fit_params params(int epochs)
{
    ks_fit_params p = ks_fit_params_default();
    p.epochs = epochs;
    p.batch_size = 16;
    p.verbose = 0;
    p.seed = 11;
    return p;
}

static int same_weights(ks_model *a, ks_model *b, double tol)
{
    size_t n = ks_model_weights_size(a);
    const float *wa = ks_model_weights(a), *wb = ks_model_weights(b);
    for (size_t i = 0; i < n; i++)
        if (fabs((double)wa[i] - wb[i]) > tol)
            return 0;
    return n == ks_model_weights_size(b);
}

static void test_determinism_and_resume(void)
{
    ks_data d = data();
    ks_error err;
    ks_fit_history h1, h2;
    ks_fit_params p = params(6);
    ks_model *a = model("Adam", 0.01, 0, 1), *b = model("Adam", 0.01, 0, 1);
    if (!a || !b)
        goto out;
    ks_fit_history_init(&h1);
    ks_fit_history_init(&h2);
    p.validation_split = 0.25;
    CHECK(ks_model_fit(a, &d, NULL, &p, NULL, 0, &h1, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_model_fit(b, &d, NULL, &p, NULL, 0, &h2, &err) == KS_OK, "%s", err.msg);
    CHECK(same_weights(a, b, 0.0), "the same seed gives bitwise the same weights");
    {
        int same = h1.n_epochs == 6 && h2.n_epochs == 6;
        for (int e = 0; same && e < 6; e++) {
            same = h1.logs[e].n == h2.logs[e].n;
            for (int i = 0; same && i < h1.logs[e].n; i++)
                same = strcmp(h1.logs[e].name[i], h2.logs[e].name[i]) == 0 &&
                       h1.logs[e].value[i] == h2.logs[e].value[i];
        }
        CHECK(same, "and the same logs");
    }
    CHECK(h1.logs[5].value[0] < h1.logs[0].value[0], "the loss goes down: %g -> %g",
          h1.logs[0].value[0], h1.logs[5].value[0]);
    {
        double acc;
        CHECK(ks_logs_get(&h1.logs[5], "val_accuracy", &acc) && acc > 0.8, "learns: %g", acc);
    }
    ks_fit_history_free(&h1);
    ks_fit_history_free(&h2);

    /* resume: 3 epochs, then initial_epoch 3 → 6, equals 6 in one run */
    ks_model_free(b);
    b = model("Adam", 0.01, 0, 1);
    if (!b)
        goto out;
    p.epochs = 3;
    CHECK(ks_model_fit(b, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "%s", err.msg);
    p.initial_epoch = 3;
    p.epochs = 6;
    CHECK(ks_model_fit(b, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "%s", err.msg);
    CHECK(same_weights(a, b, 0.0), "resumed with initial_epoch: bitwise equal to one run");
    CHECK(ks_model_iterations(a) == ks_model_iterations(b), "iterations %lld vs %lld",
          (long long)ks_model_iterations(a), (long long)ks_model_iterations(b));
out:
    ks_model_free(a);
    ks_model_free(b);
}

static void test_fused_sgd(void)
{
    ks_data d = data();
    ks_error err;
    ks_fit_params p = params(3);
    /* clipnorm far above any gradient norm: the same update through the general path */
    ks_model *fused = model("SGD", 0.05, 0, 0), *general = model("SGD", 0.05, 1e9, 0);
    if (!fused || !general)
        goto out;
    CHECK(ks_model_can_fuse_sgd(fused) && !ks_model_can_fuse_sgd(general), "paths");
    CHECK(ks_model_fit(fused, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_model_fit(general, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "%s", err.msg);
    CHECK(same_weights(fused, general, 1e-5), "fused SGD equals the general update");
    CHECK(ks_model_iterations(fused) == 3 * 15, "iterations %lld",
          (long long)ks_model_iterations(fused));
out:
    ks_model_free(fused);
    ks_model_free(general);
}

/* A callback that records what fit tells it. */
typedef struct recorder {
    int train_steps, test_steps, epochs_seen, val_epochs;
    double first_loss, first_acc;
    int first_done;
} recorder;

static ks_status rec_batch_end(void *user, const ks_callback_ctx *ctx)
{
    recorder *r = user;
    if (!r->first_done) {
        ks_logs_get(ctx->logs, "loss", &r->first_loss);
        ks_logs_get(ctx->logs, "accuracy", &r->first_acc);
        r->first_done = 1;
    }
    r->train_steps = ctx->steps;
    return KS_OK;
}

static ks_status rec_test_begin(void *user, const ks_callback_ctx *ctx)
{
    ((recorder *)user)->test_steps = ctx->steps;
    return KS_OK;
}

static ks_status rec_epoch_end(void *user, const ks_callback_ctx *ctx)
{
    recorder *r = user;
    r->epochs_seen++;
    if (ks_logs_get(ctx->logs, "val_loss", NULL))
        r->val_epochs++;
    return KS_OK;
}

static recorder run_recorded(ks_fit_params p, const ks_data *d, ks_status *status)
{
    recorder rec;
    ks_callback cb;
    ks_callback *list[1] = {&cb};
    ks_error err;
    ks_model *m = model("SGD", 0.01, 0, 0);
    memset(&rec, 0, sizeof rec);
    memset(&cb, 0, sizeof cb);
    cb.name = "recorder";
    cb.user = &rec;
    cb.on_train_batch_end = rec_batch_end;
    cb.on_test_begin = rec_test_begin;
    cb.on_epoch_end = rec_epoch_end;
    *status = m ? ks_model_fit(m, d, NULL, &p, list, 1, NULL, &err) : KS_ERR_INTERNAL;
    ks_model_free(m);
    return rec;
}

static void test_fit_options(void)
{
    ks_data d = data(), small = ks_data_slice(&d, 0, 100);
    ks_fit_params p = params(4);
    ks_status s;
    recorder r;
    double cw[K] = {2.0, 2.0, 2.0};

    /* Keras: split_at = floor(n·(1 − split)); 100·(1 − 0.9) is 9.999…, so 9 train rows */
    p.validation_split = 0.9;
    p.batch_size = 4;
    r = run_recorded(p, &small, &s);
    CHECK(s == KS_OK && r.train_steps == 3 && r.test_steps == 23,
          "split 0.9 of 100: %d train steps, %d test steps", r.train_steps, r.test_steps);

    p = params(4);
    p.validation_split = 0.25;
    p.validation_freq = 2;
    r = run_recorded(p, &d, &s);
    CHECK(s == KS_OK && r.epochs_seen == 4 && r.val_epochs == 2, "validation_freq 2: %d of %d",
          r.val_epochs, r.epochs_seen);

    p = params(2);
    p.steps_per_epoch = 5;
    r = run_recorded(p, &d, &s);
    CHECK(s == KS_OK && r.train_steps == 5 && r.epochs_seen == 2, "steps_per_epoch: %d",
          r.train_steps);

    /* class weights scale the loss, not the metrics (Keras 3) */
    {
        recorder plain, weighted;
        p = params(1);
        plain = run_recorded(p, &d, &s);
        p.class_weight = cw;
        p.n_class_weight = K;
        weighted = run_recorded(p, &d, &s);
        CHECK(fabs(weighted.first_loss - 2.0 * plain.first_loss) < 1e-6,
              "class_weight 2 doubles the first batch's loss: %g vs %g", weighted.first_loss,
              plain.first_loss);
        CHECK(weighted.first_acc == plain.first_acc, "accuracy is not weighted");
    }
}

static void test_evaluate_predict(void)
{
    ks_data d = data();
    ks_error err;
    ks_logs logs;
    ks_fit_params p = params(2);
    ks_model *m = model("SGD", 0.05, 0, 0);
    float *out = malloc(sizeof(float) * N * K);
    double loss = 0.0, acc = 0.0, got;
    if (!m)
        goto out;
    CHECK(ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_model_predict(m, &d, 7, out, &err) == KS_OK, "%s", err.msg);
    for (int i = 0; i < N; i++) {
        const float *row = out + i * K;
        int best = 0;
        double sum = 0.0;
        for (int j = 0; j < K; j++) {
            sum += row[j];
            if (row[j] > row[best])
                best = j;
        }
        CHECK(fabs(sum - 1.0) < 1e-5, "softmax rows sum to 1: %g", sum);
        loss += -log(row[(int)ys[i]]);
        acc += best == (int)ys[i];
    }
    CHECK(ks_model_evaluate(m, &d, 13, 0, NULL, 0, &logs, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_logs_get(&logs, "loss", &got) && fabs(got - loss / N) < 1e-5,
          "evaluate loss %g vs predict %g", got, loss / N);
    CHECK(ks_logs_get(&logs, "accuracy", &got) && fabs(got - acc / N) < 1e-12,
          "evaluate accuracy %g vs predict %g", got, acc / N);

    /* bad data: a label out of range, a shape that does not fit */
    {
        float bad_y[N];
        ks_data bd = d;
        memcpy(bad_y, ys, sizeof bad_y);
        bad_y[17] = 3.0f;
        bd.y = bad_y;
        CHECK(ks_model_evaluate(m, &bd, 16, 0, NULL, 0, &logs, &err) == KS_ERR_SHAPE &&
                  strstr(err.msg, "target 17 is 3"),
              "label out of range: %s", err.msg);
        bd = d;
        bd.x_shape.dim[0] = 2;
        bd.x_shape.ndim = 2;
        bd.x_shape.dim[1] = 2;
        CHECK(ks_model_fit(m, &bd, NULL, &p, NULL, 0, NULL, &err) == KS_ERR_SHAPE &&
                  strstr(err.msg, "(None, 2, 2)") && strstr(err.msg, "(None, 4)"),
              "input shape: %s", err.msg);
    }
out:
    free(out);
    ks_model_free(m);
}

static void test_console(void)
{
    ks_data d = data();
    ks_error err;
    char buf[4096];
    size_t len;
    FILE *f;
    for (int verbose = 1; verbose <= 2; verbose++) {
        ks_fit_params p = params(2);
        ks_model *m = model("SGD", 0.05, 0, 0);
        if (!m)
            return;
        f = tmpfile();
        p.verbose = verbose;
        p.out = f;
        p.tty = 0;
        p.validation_split = 0.25;
        CHECK(ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "%s", err.msg);
        rewind(f);
        len = fread(buf, 1, sizeof buf - 1, f);
        buf[len] = '\0';
        fclose(f);
        CHECK(strstr(buf, "Epoch 1/2\n") && strstr(buf, "Epoch 2/2\n"), "epoch lines:\n%s", buf);
        CHECK(!strchr(buf, '\r') && !strchr(buf, '\x1b') && !strchr(buf, '\b'),
              "no terminal control characters when not a terminal");
        if (verbose == 1)
            CHECK(strstr(buf, "12/12 [==============================] - ") &&
                      strstr(buf, "/step - loss: ") && strstr(buf, " - accuracy: ") &&
                      strstr(buf, " - val_loss: ") && strstr(buf, " - val_accuracy: "),
                  "verbose 1 line:\n%s", buf);
        else
            CHECK(strstr(buf, "12/12 - ") && strstr(buf, "/epoch - ") && !strchr(buf, '['),
                  "verbose 2 line:\n%s", buf);
        ks_model_free(m);
    }
}

/* Dense(units, activation) on D inputs compiled with loss; input_key/input_val as the
   first layer's input argument (input_shape: [D] when input_key is NULL). */
static ks_model *small_model(int units, const char *activation, const char *loss,
                             const char *input_key, double input_val, ks_error *err)
{
    ks_value layers, compile, *a;
    ks_model *m = NULL;
    ks_status s;
    ks_value_init(&layers, KS_VALUE_LIST);
    a = ks_value_put(ks_value_push(&layers, KS_VALUE_MAP), "Dense", KS_VALUE_MAP);
    ks_value_put(a, "units", KS_VALUE_NUMBER)->number = units;
    put_str(a, "activation", activation);
    if (input_key)
        ks_value_put(a, input_key, KS_VALUE_NUMBER)->number = input_val;
    else
        ks_value_push(ks_value_put(a, "input_shape", KS_VALUE_LIST), KS_VALUE_NUMBER)->number = D;
    ks_value_init(&compile, KS_VALUE_MAP);
    put_str(&compile, "loss", loss);
    put_str(&compile, "optimizer", "SGD");
    s = ks_model_from_config(&layers, NULL, 5, &m, err);
    if (s == KS_OK)
        s = ks_model_compile(m, &compile, err);
    ks_value_free(&layers);
    ks_value_free(&compile);
    if (s != KS_OK) {
        ks_model_free(m);
        return NULL;
    }
    return m;
}

/*
 * Targets outside a loss's domain are refused before training, naming the data set and
 * the first bad row (issue 9, defect 6: a 10-class label column with a sigmoid output
 * and binary_crossentropy trained to a val_loss of -2778).
 */
static void test_target_domains(void)
{
    static float soft[N], onehot[N * K], nan_y[N];
    ks_data d = data(), bd;
    ks_fit_params p = params(1);
    ks_error err;
    ks_logs logs;
    ks_model *m = small_model(1, "sigmoid", "binary_crossentropy", NULL, 0, &err);
    REQUIRE(m != NULL, "build: %s", err.msg);
    /* class indices 0, 1, 2 …: the first outside [0, 1] is sample 2 */
    CHECK(ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "training target 2 is 2") && strstr(err.msg, "[0, 1]") &&
              strstr(err.msg, "binary_crossentropy"),
          "binary_crossentropy on class indices: %s: %s", ks_status_str(err.code), err.msg);
    CHECK(ks_model_evaluate(m, &d, 16, 0, NULL, 0, &logs, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "evaluation target 2 is 2"),
          "evaluate: %s", err.msg);
    for (int i = 0; i < N; i++)
        soft[i] = (float)(i % 11) / 10.0f;      /* soft labels in [0, 1] are fine */
    bd = d;
    bd.y = soft;
    bd.y_is_label = 0;
    CHECK(ks_model_fit(m, &bd, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "soft labels: %s",
          err.msg);
    soft[200] = 1.5f;                           /* in the last quarter: validation */
    p.validation_split = 0.25;
    CHECK(ks_model_fit(m, &bd, NULL, &p, NULL, 0, NULL, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "validation target 20 is 1.5"),
          "a bad validation row: %s", err.msg);
    p.validation_split = 0;
    ks_model_free(m);

    /* categorical_crossentropy: one-hot or probabilities, never negative */
    m = small_model(K, "softmax", "categorical_crossentropy", NULL, 0, &err);
    REQUIRE(m != NULL, "build: %s", err.msg);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < K; j++)
            onehot[i * K + j] = j == (int)ys[i];
    bd = d;
    bd.y = onehot;
    bd.y_size = K;
    bd.y_is_label = 0;
    CHECK(ks_model_fit(m, &bd, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "one-hot: %s", err.msg);
    onehot[7 * K + 1] = -0.5f;
    CHECK(ks_model_fit(m, &bd, NULL, &p, NULL, 0, NULL, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "training target 7 (column 1) is -0.5") &&
              strstr(err.msg, "categorical_crossentropy"),
          "a negative one-hot target: %s", err.msg);
    ks_model_free(m);

    /* any loss: targets are finite */
    m = small_model(1, "linear", "mse", NULL, 0, &err);
    REQUIRE(m != NULL, "build: %s", err.msg);
    memcpy(nan_y, ys, sizeof nan_y);
    nan_y[5] = NAN;
    bd = d;
    bd.y = nan_y;
    bd.y_is_label = 0;
    CHECK(ks_model_fit(m, &bd, NULL, &p, NULL, 0, NULL, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "training target 5 is nan"),
          "a NaN target: %s", err.msg);
    CHECK(ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err) == KS_OK, "mse: %s", err.msg);
    ks_model_free(m);
}

/* input_dim and input_shape are read through the key tables, bounds included. */
static void test_input_arguments(void)
{
    static const struct {
        const char *key;
        double value;
        const char *want;       /* NULL: builds */
    } cases[] = {
        {"input_dim", 4, NULL},
        {"input_dim", 3000000000.0, "input_dim must be an integer in [1, 1e+09], got 3000000000"},
        {"input_dim", 1e9 + 1, "input_dim must be an integer in [1, 1e+09]"},
        {"input_dim", 0, "input_dim must be an integer"},
        {"input_dim", 2.5, "input_dim must be an integer"},
        {"input_dim", -3, "input_dim must be an integer"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ks_error err;
        ks_model *m = small_model(3, "softmax", "sparse_categorical_crossentropy", cases[i].key,
                                  cases[i].value, &err);
        if (!cases[i].want) {
            CHECK(m && ks_model_input_shape(m)->ndim == 1 &&
                      ks_model_input_shape(m)->dim[0] == (int)cases[i].value,
                  "%s: %g builds (None, %g): %s", cases[i].key, cases[i].value, cases[i].value,
                  m ? "" : err.msg);
        } else {
            CHECK(!m && err.code == KS_ERR_CONFIG && strstr(err.msg, cases[i].want),
                  "%s: %.17g: want \"%s\", got %s: %s", cases[i].key, cases[i].value,
                  cases[i].want, m ? "a model" : ks_status_str(err.code), m ? "" : err.msg);
        }
        ks_model_free(m);
    }
}

static ks_status noop(void *user, const ks_callback_ctx *ctx)
{
    (void)user;
    (void)ctx;
    return KS_OK;
}

/* fit and evaluate take the same number of callbacks, one limit (issue 9, defect 8). */
static void test_callback_limit(void)
{
    enum { MAX = KS_MAX_CALLBACKS };
    char want[64];
    ks_callback cbs[MAX + 1], *list[MAX + 1];
    ks_data d = data();
    ks_fit_params p = params(1);
    ks_logs logs;
    ks_error err;
    ks_model *m = model("SGD", 0.05, 0, 0);
    REQUIRE(m != NULL, "model");
    snprintf(want, sizeof want, "at most %d callbacks", MAX);
    memset(cbs, 0, sizeof cbs);
    for (int i = 0; i <= MAX; i++) {
        cbs[i].name = "Noop";
        cbs[i].on_test_batch_end = noop;
        cbs[i].on_epoch_end = noop;
        list[i] = &cbs[i];
    }
    CHECK(ks_model_fit(m, &d, NULL, &p, list, MAX, NULL, &err) == KS_OK, "fit, %d callbacks: %s",
          MAX, err.msg);
    CHECK(ks_model_evaluate(m, &d, 32, 0, list, MAX, &logs, &err) == KS_OK,
          "evaluate, %d callbacks: %s", MAX, err.msg);
    CHECK(ks_model_fit(m, &d, NULL, &p, list, MAX + 1, NULL, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, want),
          "fit, %d callbacks: %s", MAX + 1, err.msg);
    CHECK(ks_model_evaluate(m, &d, 32, 0, list, MAX + 1, &logs, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, want),
          "evaluate, %d callbacks: %s", MAX + 1, err.msg);
    ks_model_free(m);
}

int main(void)
{
    make_data();
    test_determinism_and_resume();
    test_fused_sgd();
    test_fit_options();
    test_evaluate_predict();
    test_console();
    test_target_domains();
    test_input_arguments();
    test_callback_limit();
    return check_done();
}
