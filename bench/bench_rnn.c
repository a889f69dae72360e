/*
 * bench_rnn.c — the ksearch half of bench/rnn.sh: the row-wise Fashion-MNIST LSTM
 * (28 steps of 28 pixels → LSTM(128) → Dense(10, softmax), SGD(0.01), sparse categorical
 * crossentropy) trained with ks_model_fit on one thread; prints samples/s (wall clock and
 * CPU time) and the allocations the engine makes per training step, as
 * "RESULT name value" lines.  Linked with the allocation counters of bench_wrap.h.
 */
#include "../engine/engine_impl.h"
#include "../search/search.h"

#include <stdlib.h>
#include <string.h>

#include "bench_wrap.h"

#define N_TRAIN 55000
#define MAX_EPOCHS BENCH_MAX_EPOCHS

typedef struct opts {
    const char *data;           /* IDX prefix */
    int steps, epochs, units;
    int batches[4];
    int n_batches;
} opts;

static void die(const char *what, const ks_error *err)
{
    fprintf(stderr, "bench_rnn: %s: %s\n", what, err ? err->msg : "failed");
    exit(1);
}

static ks_dataset *load_data(const char *prefix)
{
    char text[1200];
    ks_value spec;
    ks_dataset *ds;
    ks_error err;
    snprintf(text, sizeof text, "{idx: \"%s\", scale: 255, rows: [0, %d]}", prefix, N_TRAIN);
    if (ks_yaml_load_text(text, "data", &spec, &err) != KS_OK ||
        ks_dataset_load(&spec, NULL, &ds, &err) != KS_OK)
        die("loading the data", &err);
    ks_value_free(&spec);
    return ds;
}

static ks_model *build_model(int units)
{
    char text[256];
    ks_value model, compile;
    ks_model *m;
    ks_error err;
    snprintf(text, sizeof text,
             "[{Input: {shape: [28, 28]}}, {LSTM: {units: %d}}, "
             "{Dense: {units: 10, activation: softmax}}]",
             units);
    if (ks_yaml_load_text(text, "model", &model, &err) != KS_OK ||
        ks_yaml_load_text("{optimizer: {SGD: {learning_rate: 0.01}}, "
                          "loss: sparse_categorical_crossentropy}",
                          "compile", &compile, &err) != KS_OK)
        die("the model's text", &err);
    if (ks_model_from_config(&model, NULL, 42, &m, &err) != KS_OK ||
        ks_model_compile(m, &compile, &err) != KS_OK)
        die("building the model", &err);
    ks_value_free(&model);
    ks_value_free(&compile);
    return m;
}

static void fit(ks_model *m, const ks_data *d, int batch, int epochs, int steps,
                epoch_clock *clock)
{
    ks_error err;
    if (bench_fit(m, d, batch, epochs, steps, clock, &err) != KS_OK)
        die("fit", &err);
}

static void bench_batch(const ks_data *d, const opts *o, int batch)
{
    ks_model *m = build_model(o->units);
    epoch_clock clock;
    int short_fit = 20, long_fit = 60;
    unsigned long e0, e_short, e_long;
    double seconds, cpu_seconds, samples = (double)o->epochs * o->steps * batch;
    memset(&clock, 0, sizeof clock);
    fit(m, d, batch, 1 + o->epochs, o->steps, &clock);     /* epoch 0 warms up */
    seconds = clock.end[o->epochs] - clock.end[0];
    cpu_seconds = clock.cpu_end[o->epochs] - clock.cpu_end[0];
    printf("ksearch LSTM(%d) batch %3d: %d x %d steps, %.0f samples in %.3f s (%.3f CPU s): "
           "%.0f samples/s, %.0f per CPU s\n",
           o->units, batch, o->epochs, o->steps, samples, seconds, cpu_seconds, samples / seconds,
           samples / cpu_seconds);
    printf("RESULT ks_sps_%d %.1f\n", batch, samples / seconds);
    printf("RESULT ks_cpu_sps_%d %.1f\n", batch, samples / cpu_seconds);
    /* allocations per step: the difference of two fits of different lengths */
    e0 = atomic_load(&engine_allocs);
    fit(m, d, batch, 1, short_fit, NULL);
    e_short = atomic_load(&engine_allocs) - e0;
    e0 = atomic_load(&engine_allocs);
    fit(m, d, batch, 1, long_fit, NULL);
    e_long = atomic_load(&engine_allocs) - e0;
    printf("ksearch LSTM(%d) batch %3d: engine allocations per fit of %d / %d steps: %lu / %lu\n",
           o->units, batch, short_fit, long_fit, e_short, e_long);
    printf("RESULT ks_allocs_per_step_%d %.4f\n", batch,
           ((double)e_long - (double)e_short) / (long_fit - short_fit));
    fflush(stdout);
    ks_model_free(m);
}

static int parse_int(const char *s, int lo, int hi)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || *end || v < lo || v > hi) {
        fprintf(stderr, "usage: bench_rnn [-d PREFIX] [-s STEPS] [-e EPOCHS] [-u UNITS] "
                        "[-b BATCH]...\n");
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    opts o = {"/usr/share/datasets/fashion-mnist/train", 100, 3, 128, {0}, 0};
    ks_dataset *ds;
    ks_data d;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-d") && v)
            o.data = v;
        else if (!strcmp(a, "-s"))
            o.steps = parse_int(v, 1, 1000000);
        else if (!strcmp(a, "-e"))
            o.epochs = parse_int(v, 1, MAX_EPOCHS - 1);
        else if (!strcmp(a, "-u"))
            o.units = parse_int(v, 1, 4096);
        else if (!strcmp(a, "-b") && o.n_batches < 4)
            o.batches[o.n_batches++] = parse_int(v, 1, N_TRAIN);
        else
            parse_int(NULL, 0, 0);
    }
    if (o.n_batches == 0) {
        o.batches[0] = 32;
        o.batches[1] = 128;
        o.n_batches = 2;
    }
    ks_blas_set_threads(1);
    ds = load_data(o.data);
    d = ks_dataset_data(ds);
    /* the images' rows are the steps: (28, 28) as loaded */
    printf("ksearch: %zu sequences of %d x %d, OpenBLAS core %s, BLAS threads %d\n", d.n,
           d.x_shape.dim[0], d.x_shape.dim[1], openblas_get_corename(), ks_blas_get_threads());
    for (int i = 0; i < o.n_batches; i++)
        bench_batch(&d, &o, o.batches[i]);
    ks_dataset_free(ds);
    return 0;
}
