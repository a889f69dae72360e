/*
 * bench_rnn.c — the ksearch half of bench/rnn.sh: the row-wise Fashion-MNIST LSTM
 * (28 steps of 28 pixels → LSTM(128) → Dense(10, softmax), SGD(0.01), sparse categorical
 * crossentropy) trained with ks_model_fit on one thread; prints samples/s (wall clock and
 * CPU time) and the allocations the engine makes per training step, as
 * "RESULT name value" lines.  The data, options, errors and fit are bench_common.h's;
 * linked with the allocation counters of bench_wrap.h.
 */
#include "bench_common.h"

#include "../search/search.h"

static ks_model *build_model(int units)
{
    char text[256];
    ks_value model, compile;
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
    return build_compiled(&model, &compile, 42);
}

static void bench_rnn_batch(const ks_data *d, const bench_opts *o, int batch)
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

/* Measured on its own (no sgemm replay): the width comes from -u, the model from text. */
static const bench_model row_lstm = {"bench_rnn", 100, {32, 128}, 128, NULL, NULL, NULL};

int main(int argc, char **argv)
{
    bench_opts o = parse_args(&row_lstm, argc, argv);
    ks_dataset *ds;
    ks_data d;
    ks_blas_set_threads(1);
    ds = load_data(o.data);
    d = ks_dataset_data(ds);
    /* the images' rows are the steps: (28, 28) as loaded */
    printf("ksearch: %zu sequences of %d x %d, OpenBLAS core %s, BLAS threads %d\n", d.n,
           d.x_shape.dim[0], d.x_shape.dim[1], openblas_get_corename(), ks_blas_get_threads());
    for (int i = 0; i < o.n_batches; i++)
        bench_rnn_batch(&d, &o, o.batches[i]);
    ks_dataset_free(ds);
    return 0;
}
