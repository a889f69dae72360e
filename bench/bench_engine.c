/*
 * bench_engine.c — the engine half of `make bench`: trains the seed MLP on Fashion-MNIST
 * with ks_model_fit and prints samples/s, the share of step time spent in sgemm and the
 * allocations per training step, as "RESULT name value" lines that bench/run.sh reads
 * (and "INFO name text" lines).
 * Linked with -Wl,--wrap=malloc,... (see the Makefile) so it can count the allocations
 * the engine makes and time its cblas_sgemm calls without touching engine code.
 */
#include "../engine/engine_impl.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "bench_wrap.h"

/* -------------------------------------------------------------- setup */

#define N_TRAIN 55000
#define LR 0.01
#define MAX_EPOCHS BENCH_MAX_EPOCHS

static const int dense_units[] = {300, 100, 10};
static const char *const dense_act[] = {"relu", "relu", "softmax"};
#define N_DENSE 3
#define N_INPUT (28 * 28)

typedef struct bench_opts {
    const char *data;           /* IDX prefix */
    int steps;                  /* steps_per_epoch */
    int epochs;                 /* timed epochs, after one warm-up epoch */
    int batches[4];
    int n_batches;
} bench_opts;

static void die(const char *what, const ks_error *err)
{
    fprintf(stderr, "bench_engine: %s: %s\n", what, err ? err->msg : "failed");
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

static ks_value *put_map(ks_value *map, const char *key)
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

/*
 * The seed MLP: Flatten(28×28) → Dense(300, relu) → Dense(100, relu) → Dense(10, softmax),
 * sparse categorical crossentropy, SGD(learning_rate=0.01).
 */
static ks_model *build_model(uint64_t seed)
{
    ks_value layers, compile, *a, *shape, *opt;
    ks_model *m;
    ks_error err;
    ks_value_init(&layers, KS_VALUE_LIST);
    a = put_map(push(&layers, KS_VALUE_MAP), "Flatten");
    shape = ks_value_put(a, "input_shape", KS_VALUE_LIST);
    if (!shape)
        die("building a config", NULL);
    push(shape, KS_VALUE_NUMBER)->number = 28;
    push(shape, KS_VALUE_NUMBER)->number = 28;
    for (int i = 0; i < N_DENSE; i++) {
        a = put_map(push(&layers, KS_VALUE_MAP), "Dense");
        put_num(a, "units", dense_units[i]);
        put_str(a, "activation", dense_act[i]);
    }
    ks_value_init(&compile, KS_VALUE_MAP);
    opt = put_map(put_map(&compile, "optimizer"), "SGD");
    put_num(opt, "learning_rate", LR);
    put_str(&compile, "loss", "sparse_categorical_crossentropy");
    if (ks_model_from_config(&layers, NULL, seed, &m, &err) != KS_OK)
        die("building the model", &err);
    if (ks_model_compile(m, &compile, &err) != KS_OK)
        die("compiling the model", &err);
    ks_value_free(&layers);
    ks_value_free(&compile);
    return m;
}

/* ------------------------------------------------------------ fitting */

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
static double samples_between(long g0, long g1, size_t n, int batch)
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

/* Floating-point operations of one step's products at batch n (2 per multiply-add). */
static double step_flops(int n)
{
    int dims[N_DENSE + 1] = {N_INPUT, dense_units[0], dense_units[1], dense_units[2]};
    double f = 0.0;
    for (int i = 0; i < N_DENSE; i++)
        f += (i > 0 ? 3.0 : 2.0) * 2.0 * n * dims[i] * dims[i + 1];   /* X·W, XᵀdZ, dZ·Wᵀ */
    return f;
}

/* The next count floats of block at *off, in 64-byte steps. */
static float *carve(float *block, size_t *off, size_t count)
{
    float *p = block + *off;
    *off += (count + 15) & ~(size_t)15;
    return p;
}

/*
 * The products of one training step of the seed MLP at batch n, as layer_dense.c makes
 * them on the fused-SGD path: forward X·W for every Dense; backward, from the output
 * layer down, dX = dZ·Wᵀ (every Dense but the first, whose input needs no gradient)
 * then W += −lr·Xᵀ·dZ (beta 1).  Returns wall-clock seconds per step, and CPU seconds
 * per step in *cpu.
 */
static double replay_sgemm(int n, int reps, double *cpu)
{
    int dims[N_DENSE + 1] = {N_INPUT, dense_units[0], dense_units[1], dense_units[2]};
    float *w[N_DENSE], *act[N_DENSE + 1], *grad[N_DENSE + 1];
    size_t total = 0, off = 0;
    float *block;
    ks_rng *rng;
    double t0 = 0.0, c0 = 0.0, t;
    for (int i = 0; i < N_DENSE; i++)
        total += ((size_t)dims[i] * dims[i + 1] + 15) & ~(size_t)15;
    for (int i = 0; i <= N_DENSE; i++)
        total += 2 * (((size_t)n * dims[i] + 15) & ~(size_t)15);
    block = aligned_alloc(64, total * sizeof(float));
    if (!block || ks_rng_new(99, 1, 2, &rng) != KS_OK)
        die("replay: out of memory", NULL);
    for (size_t i = 0; i < total; i++)
        block[i] = (float)(ks_rng_uniform(rng) - 0.5) * 0.1f;
    ks_rng_free(rng);
    for (int i = 0; i < N_DENSE; i++)
        w[i] = carve(block, &off, (size_t)dims[i] * dims[i + 1]);
    for (int i = 0; i <= N_DENSE; i++) {
        act[i] = carve(block, &off, (size_t)n * dims[i]);
        grad[i] = carve(block, &off, (size_t)n * dims[i]);
    }
    for (int r = -reps / 10 - 1; r < reps; r++) {
        if (r == 0) {
            t0 = ks_now();
            c0 = cpu_now();
        }
        for (int i = 0; i < N_DENSE; i++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dims[i + 1], dims[i], 1.0f,
                        act[i], dims[i], w[i], dims[i + 1], 0.0f, act[i + 1], dims[i + 1]);
        for (int i = N_DENSE - 1; i >= 0; i--) {
            if (i > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, dims[i], dims[i + 1],
                            1.0f, grad[i + 1], dims[i + 1], w[i], dims[i + 1], 0.0f, grad[i],
                            dims[i]);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, dims[i], dims[i + 1], n,
                        (float)-LR, act[i], dims[i], grad[i + 1], dims[i + 1], 1.0f, w[i],
                        dims[i + 1]);
        }
    }
    t = ks_now() - t0;
    *cpu = (cpu_now() - c0) / reps;
    free(block);
    return t / reps;
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
    fprintf(stderr,
            "usage: bench_engine [-d PREFIX] [-s STEPS] [-e EPOCHS] [-b BATCH]...\n"
            "  -d PREFIX  IDX data prefix [/usr/share/datasets/fashion-mnist/train]\n"
            "  -s STEPS   steps per epoch [600]\n"
            "  -e EPOCHS  timed epochs, after one warm-up epoch [3]\n"
            "  -b BATCH   batch size, repeatable [32 and 256]\n");
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

static bench_opts parse_args(int argc, char **argv)
{
    bench_opts o = {"/usr/share/datasets/fashion-mnist/train", 600, 3, {0}, 0};
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-d") && v)
            o.data = v;
        else if (!strcmp(a, "-s"))
            o.steps = parse_int(v, 1, 1000000);
        else if (!strcmp(a, "-e"))
            o.epochs = parse_int(v, 1, MAX_EPOCHS - 1);
        else if (!strcmp(a, "-b") && o.n_batches < 4)
            o.batches[o.n_batches++] = parse_int(v, 1, N_TRAIN);
        else
            usage();
    }
    if (o.n_batches == 0) {
        o.batches[0] = 32;
        o.batches[1] = 256;
        o.n_batches = 2;
    }
    return o;
}

static void bench_batch(const ks_data *d, const bench_opts *o, int batch)
{
    ks_model *m = build_model(42);
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
    replay_s = replay_sgemm(batch, o->steps, &replay_cpu);
    printf("ksearch batch %3d: sgemm replay %.3f ms/step (%.3f CPU ms, %.0f GFLOP/s) = %.1f%% "
           "of the step (%.1f%% by CPU time); timed inside fit: %ld calls, %.1f%% of the fit\n",
           batch, 1e3 * replay_s, 1e3 * replay_cpu, step_flops(batch) / replay_cpu * 1e-9,
           100.0 * (replay_s / batch) / (seconds / samples),
           100.0 * (replay_cpu / batch) / (cpu_seconds / samples), sgemm_calls,
           100.0 * sgemm_seconds / fit_s);
    printf("RESULT ks_sgemm_share_%d %.2f\n", batch,
           100.0 * (replay_cpu / batch) / (cpu_seconds / samples));
    printf("RESULT ks_sgemm_infit_share_%d %.2f\n", batch, 100.0 * sgemm_seconds / fit_s);
    printf("RESULT ks_sgemm_calls_per_step_%d %.2f\n", batch, (double)sgemm_calls / long_fit);
    fflush(stdout);
    ks_model_free(m);
}

int main(int argc, char **argv)
{
    bench_opts o = parse_args(argc, argv);
    const char *coretype = getenv("OPENBLAS_CORETYPE");
    ks_dataset *ds;
    ks_data d;
    ks_model *probe;

    ks_blas_set_threads(1);
    ds = load_data(o.data);
    d = ks_dataset_data(ds);
    probe = build_model(42);
    printf("ksearch: OPENBLAS_CORETYPE=%s, %s (core %s), BLAS threads %d\n",
           coretype ? coretype : "(unset)", openblas_get_config(), openblas_get_corename(),
           ks_blas_get_threads());
    printf("INFO ks_corename %s\n", openblas_get_corename());
    printf("ksearch: %zu samples of %zu floats, %zu parameters, fused SGD %s\n", d.n, d.x_size,
           ks_model_count_params(probe, 1), ks_model_can_fuse_sgd(probe) ? "yes" : "no");
    ks_model_free(probe);
    for (int i = 0; i < o.n_batches; i++)
        bench_batch(&d, &o, o.batches[i]);
    ks_dataset_free(ds);
    return 0;
}
