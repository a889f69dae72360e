/*
 * bench_engine.c — the engine half of `make bench`: trains the seed MLP on Fashion-MNIST
 * with ks_model_fit and prints samples/s, the share of step time spent in sgemm and the
 * allocations per training step, as "RESULT name value" lines that bench/run.sh reads
 * (and "INFO name text" lines).  The measuring itself is in bench_common.h, shared
 * with bench_cnn.c; this file is the model and the replay of its step's products.
 */
#include "bench_common.h"

#define LR 0.01

static const int dense_units[] = {300, 100, 10};
static const char *const dense_act[] = {"relu", "relu", "softmax"};
#define N_DENSE 3
#define N_INPUT (28 * 28)

/*
 * The seed MLP: Flatten(28×28) → Dense(300, relu) → Dense(100, relu) → Dense(10, softmax),
 * sparse categorical crossentropy, SGD(learning_rate=0.01).
 */
static ks_model *build_model(uint64_t seed)
{
    ks_value layers, compile, *a, *shape, *opt;
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
    return build_compiled(&layers, &compile, seed);
}



/* Floating-point operations of one step's products at batch n (2 per multiply-add). */
static double step_flops(int n)
{
    int dims[N_DENSE + 1] = {N_INPUT, dense_units[0], dense_units[1], dense_units[2]};
    double f = 0.0;
    for (int i = 0; i < N_DENSE; i++)
        f += (i > 0 ? 3.0 : 2.0) * 2.0 * n * dims[i] * dims[i + 1];   /* X·W, XᵀdZ, dZ·Wᵀ */
    return f;
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

static double replay(ks_model *m, const ks_data *d, int batch, int reps, double *cpu)
{
    (void)m;
    (void)d;
    return replay_sgemm(batch, reps, cpu);
}

static const bench_model seed_mlp = {"bench_engine", 600, {32, 256}, 0,
                                     build_model, replay, step_flops};

int main(int argc, char **argv)
{
    return bench_main(&seed_mlp, argc, argv);
}
