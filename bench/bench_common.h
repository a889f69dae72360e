/*
 * bench_common.h — what the engine benchmarks share (bench_engine.c: the seed MLP,
 * bench_cnn.c: the studies' CNN, bench_rnn.c: the row-wise LSTM), over bench_wrap.h's
 * allocation counters, sgemm timer and fit: the Fashion-MNIST data, the options, errors,
 * and the measurements of one batch size printed as "RESULT name value" lines that the
 * scripts read (bench_rnn.c measures its own).
 */
#ifndef KS_BENCH_COMMON_H
#define KS_BENCH_COMMON_H

#include "bench_wrap.h"

/* -------------------------------------------------------------- setup */

/* what a program that measures on its own (bench_rnn.c) does not call */
#define BENCH_UNUSED __attribute__((unused))

#define N_TRAIN 55000
#define MAX_EPOCHS BENCH_MAX_EPOCHS

typedef struct bench_opts {
    const char *data;           /* IDX prefix */
    int steps;                  /* steps_per_epoch */
    int epochs;                 /* timed epochs, after one warm-up epoch */
    int units;                  /* -u: the recurrent layer's width (programs that take it) */
    int batches[4];
    int n_batches;
} bench_opts;

/* What a benchmark program measures. */
typedef struct bench_model {
    const char *program;            /* for usage and errors */
    int steps;                      /* default steps per epoch */
    int batches[2];                 /* default batch sizes */
    int units;                      /* default -u UNITS; 0: the program takes no -u */
    ks_model *(*build)(uint64_t seed);
    /* one step's sgemm products at this batch size, replayed reps times alone: wall
       seconds per step, CPU seconds per step in *cpu (m is the model fit, set up) */
    double (*replay)(ks_model *m, const ks_data *d, int batch, int reps, double *cpu);
    double (*flops)(int batch);     /* floating-point operations of those products */
} bench_model;

static const bench_model *bench_the_model;      /* for usage() and die() */

static void die(const char *what, const ks_error *err)
{
    fprintf(stderr, "%s: %s: %s\n", bench_the_model ? bench_the_model->program : "bench", what,
            err ? err->msg : "failed");
    exit(1);
}

static ks_value *put_num(ks_value *map, const char *key, double x)
{
    ks_value *v = ks_value_put(map, key, KS_VALUE_NUMBER);
    if (!v)
        die("building a config", NULL);
    v->number = x;
    return v;
}

static void put_str(ks_value *map, const char *key, const char *s)
{
    ks_value *v = ks_value_put(map, key, KS_VALUE_NULL);
    if (!v || ks_value_set_string(v, s) != KS_OK)
        die("building a config", NULL);
}

static inline ks_value *put_map(ks_value *map, const char *key)
{
    ks_value *v = ks_value_put(map, key, KS_VALUE_MAP);
    if (!v)
        die("building a config", NULL);
    return v;
}

static ks_value *push(ks_value *list, ks_value_kind kind)
{
    ks_value *v = ks_value_push(list, kind);
    if (!v)
        die("building a config", NULL);
    return v;
}

/* A model from its layers and compile sections (both freed). */
static inline ks_model *build_compiled(ks_value *layers, ks_value *compile, uint64_t seed)
{
    ks_model *m;
    ks_error err;
    if (ks_model_from_config(layers, NULL, seed, &m, &err) != KS_OK)
        die("building the model", &err);
    if (ks_model_compile(m, compile, &err) != KS_OK)
        die("compiling the model", &err);
    ks_value_free(layers);
    ks_value_free(compile);
    return m;
}

/* {idx: PREFIX, scale: 255, rows: [0, 55000]} */
static ks_dataset *load_data(const char *prefix)
{
    ks_value spec, *rows;
    ks_dataset *ds;
    ks_error err;
    ks_value_init(&spec, KS_VALUE_MAP);
    put_str(&spec, "idx", prefix);
    put_num(&spec, "scale", 255);
    rows = ks_value_put(&spec, "rows", KS_VALUE_LIST);
    if (!rows)
        die("building a config", NULL);
    push(rows, KS_VALUE_NUMBER)->number = 0;
    push(rows, KS_VALUE_NUMBER)->number = N_TRAIN;
    if (ks_dataset_load(&spec, NULL, &ds, &err) != KS_OK)
        die("loading the data", &err);
    ks_value_free(&spec);
    return ds;
}

/* ------------------------------------------------------------ fitting */

/* Fit m for epochs of steps steps at batch (clock: each epoch's end, may be NULL). */
static void fit(ks_model *m, const ks_data *d, int batch, int epochs, int steps,
                epoch_clock *clock)
{
    ks_error err;
    if (bench_fit(m, d, batch, epochs, steps, clock, &err) != KS_OK)
        die("fit", &err);
}

/*
 * Samples in global steps [g0, g1) of fit's endless sequence of passes: pass-local
 * batch b starts at b·batch and the last batch of a pass is short.
 */
BENCH_UNUSED static double samples_between(long g0, long g1, size_t n, int batch)
{
    long per_pass = (long)((n + (size_t)batch - 1) / (size_t)batch);
    double total = 0;
    for (long g = g0; g < g1; g++) {
        size_t begin = (size_t)(g % per_pass) * (size_t)batch;
        total += (double)(n - begin < (size_t)batch ? n - begin : (size_t)batch);
    }
    return total;
}

/* ----------------------------------------------------- sgemm replay */

/* The next count floats of block at *off, in 64-byte steps. */
static inline float *carve(float *block, size_t *off, size_t count)
{
    float *p = block + *off;
    *off += (count + 15) & ~(size_t)15;
    return p;
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
    const bench_model *bm = bench_the_model;
    fprintf(stderr,
            "usage: %s [-d PREFIX] [-s STEPS] [-e EPOCHS]%s [-b BATCH]...\n"
            "  -d PREFIX  IDX data prefix [/usr/share/datasets/fashion-mnist/train]\n"
            "  -s STEPS   steps per epoch [%d]\n"
            "  -e EPOCHS  timed epochs, after one warm-up epoch [3]\n",
            bm->program, bm->units ? " [-u UNITS]" : "", bm->steps);
    if (bm->units)
        fprintf(stderr, "  -u UNITS   the recurrent layer's units [%d]\n", bm->units);
    fprintf(stderr, "  -b BATCH   batch size, repeatable [%d and %d]\n", bm->batches[0],
            bm->batches[1]);
    exit(2);
}

static int parse_int(const char *s, int lo, int hi)
{
    char *end;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || *end || v < lo || v > hi)
        usage();
    return (int)v;
}

static bench_opts parse_args(const bench_model *bm, int argc, char **argv)
{
    bench_opts o = {"/usr/share/datasets/fashion-mnist/train", bm->steps, 3, bm->units, {0}, 0};
    bench_the_model = bm;
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-d") && v)
            o.data = v;
        else if (!strcmp(a, "-s"))
            o.steps = parse_int(v, 1, 1000000);
        else if (!strcmp(a, "-e"))
            o.epochs = parse_int(v, 1, MAX_EPOCHS - 1);
        else if (!strcmp(a, "-u") && bm->units)
            o.units = parse_int(v, 1, 4096);
        else if (!strcmp(a, "-b") && o.n_batches < 4)
            o.batches[o.n_batches++] = parse_int(v, 1, N_TRAIN);
        else
            usage();
    }
    if (o.n_batches == 0) {
        o.batches[0] = bm->batches[0];
        o.batches[1] = bm->batches[1];
        o.n_batches = 2;
    }
    return o;
}

BENCH_UNUSED static void bench_batch(const bench_model *bm, const ks_data *d, const bench_opts *o,
                                     int batch)
{
    ks_model *m = bm->build(42);
    epoch_clock clock;
    int per_pass = (int)((d->n + (size_t)batch - 1) / (size_t)batch);
    int short_fit = 100, long_fit = per_pass + 100;     /* the long one crosses a reshuffle */
    unsigned long e0, p0, e_short, p_short, e_long, p_long;
    double seconds, cpu_seconds, samples, sps, cpu_sps, fit_s, replay_s, replay_cpu, t0;

    /* throughput: one fit, epoch 0 is the warm-up, epochs 1..E are timed */
    memset(&clock, 0, sizeof clock);
    fit(m, d, batch, 1 + o->epochs, o->steps, &clock);
    seconds = clock.end[o->epochs] - clock.end[0];
    cpu_seconds = clock.cpu_end[o->epochs] - clock.cpu_end[0];
    samples = samples_between(o->steps, (long)(1 + o->epochs) * o->steps, d->n, batch);
    sps = samples / seconds;
    cpu_sps = samples / cpu_seconds;
    printf("ksearch batch %3d: %d x %d steps, %.0f samples in %.3f s (%.3f CPU s): "
           "%.0f samples/s, %.0f per CPU s, %.3f ms/step\n",
           batch, o->epochs, o->steps, samples, seconds, cpu_seconds, sps, cpu_sps,
           1e3 * seconds / ((double)o->epochs * o->steps));
    printf("RESULT ks_sps_%d %.1f\n", batch, sps);
    printf("RESULT ks_cpu_sps_%d %.1f\n", batch, cpu_sps);

    /* allocations per step: two fits of different lengths on the same set-up model */
    e0 = atomic_load(&engine_allocs);
    p0 = atomic_load(&process_allocs);
    fit(m, d, batch, 1, short_fit, NULL);
    e_short = atomic_load(&engine_allocs) - e0;
    p_short = atomic_load(&process_allocs) - p0;
    sgemm_seconds = 0;
    sgemm_calls = 0;
    sgemm_timing = 1;
    e0 = atomic_load(&engine_allocs);
    p0 = atomic_load(&process_allocs);
    t0 = ks_now();
    fit(m, d, batch, 1, long_fit, NULL);
    fit_s = ks_now() - t0;
    e_long = atomic_load(&engine_allocs) - e0;
    p_long = atomic_load(&process_allocs) - p0;
    sgemm_timing = 0;
    printf("ksearch batch %3d: allocations per fit of %d / %d steps: engine %lu / %lu, "
           "process %lu / %lu\n",
           batch, short_fit, long_fit, e_short, e_long, p_short, p_long);
    printf("RESULT ks_allocs_per_step_%d %.4f\n", batch,
           ((double)e_long - (double)e_short) / (long_fit - short_fit));
    printf("RESULT ks_process_allocs_per_step_%d %.4f\n", batch,
           BENCH_PROCESS_COUNT ? ((double)p_long - (double)p_short) / (long_fit - short_fit)
                               : -1.0);
    printf("RESULT ks_allocs_per_fit_%d %.0f\n", batch, (double)e_short);

    /* sgemm share: the same products replayed alone, and as timed inside that fit */
    replay_s = bm->replay(m, d, batch, o->steps, &replay_cpu);
    printf("ksearch batch %3d: sgemm replay %.3f ms/step (%.3f CPU ms, %.0f GFLOP/s) = %.1f%% "
           "of the step (%.1f%% by CPU time); timed inside fit: %ld calls, %.1f%% of the fit\n",
           batch, 1e3 * replay_s, 1e3 * replay_cpu, bm->flops(batch) / replay_cpu * 1e-9,
           100.0 * (replay_s / batch) / (seconds / samples),
           100.0 * (replay_cpu / batch) / (cpu_seconds / samples), sgemm_calls,
           100.0 * sgemm_seconds / fit_s);
    printf("RESULT ks_sgemm_share_%d %.2f\n", batch,
           100.0 * (replay_cpu / batch) / (cpu_seconds / samples));
    printf("RESULT ks_sgemm_infit_share_%d %.2f\n", batch, 100.0 * sgemm_seconds / fit_s);
    printf("RESULT ks_sgemm_calls_per_step_%d %.2f\n", batch, (double)sgemm_calls / long_fit);
    printf("RESULT ks_gflops_%d %.2f\n", batch, bm->flops(batch) * cpu_sps / batch * 1e-9);
    printf("RESULT ks_sgemm_gflops_%d %.2f\n", batch, bm->flops(batch) / replay_cpu * 1e-9);
    fflush(stdout);
    ks_model_free(m);
}

/*
 * The benchmark's main: load the data, describe the set-up, measure each batch size.
 * One BLAS thread, as a worker of a study runs.
 */
BENCH_UNUSED static int bench_main(const bench_model *bm, int argc, char **argv)
{
    bench_opts o = parse_args(bm, argc, argv);
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    ks_dataset *ds;
    ks_data d;
    ks_model *probe;

    ks_blas_set_threads(1);
    ds = load_data(o.data);
    d = ks_dataset_data(ds);
    probe = bm->build(42);
    printf("ksearch: OPENBLAS_CORETYPE=%s, %s (core %s), BLAS threads %d\n",
           coretype ? coretype : "(unset)", openblas_get_config(), openblas_get_corename(),
           ks_blas_get_threads());
    printf("INFO ks_corename %s\n", openblas_get_corename());
    printf("ksearch: %zu samples of %zu floats, %zu parameters, fused SGD %s\n", d.n, d.x_size,
           ks_model_count_params(probe, 1), ks_model_can_fuse_sgd(probe) ? "yes" : "no");
    ks_model_free(probe);
    for (int i = 0; i < o.n_batches; i++)
        bench_batch(bm, &d, &o, o.batches[i]);
    ks_dataset_free(ds);
    return 0;
}

#endif
