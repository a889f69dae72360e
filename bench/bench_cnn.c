/*
 * bench_cnn.c — the engine half of `make bench-cnn`: trains the studies' Fashion-MNIST
 * CNN (studies/fashion_mnist_cnn.yaml's model) with ks_model_fit and prints samples/s,
 * GFLOP/s, the share of step time spent in sgemm and the allocations per training
 * step, as "RESULT name value" lines that bench/cnn.sh reads.  torch_cnn.py is the
 * PyTorch half.  The measuring itself is in bench_common.h.
 */
#include "bench_common.h"

/* The model of studies/fashion_mnist_cnn.yaml, as its model and compile sections. */
static const char *const cnn_layers =
    "[{\"Conv2D\": {\"filters\": 32, \"kernel_size\": 3, \"activation\": \"relu\", "
    "\"input_shape\": [28, 28, 1]}},"
    " {\"MaxPooling2D\": {\"pool_size\": 2}},"
    " {\"Conv2D\": {\"filters\": 64, \"kernel_size\": 3, \"activation\": \"relu\"}},"
    " {\"MaxPooling2D\": {\"pool_size\": 2}},"
    " {\"Flatten\": {}},"
    " {\"Dense\": {\"units\": 128, \"activation\": \"relu\"}},"
    " {\"Dropout\": {\"rate\": 0.5}},"
    " {\"Dense\": {\"units\": 10, \"activation\": \"softmax\"}}]";
static const char *const cnn_compile =
    "{\"optimizer\": {\"Adam\": {\"learning_rate\": 0.001}},"
    " \"loss\": \"sparse_categorical_crossentropy\"}";

static ks_model *build_model(uint64_t seed)
{
    ks_value layers, compile;
    ks_error err;
    if (ks_value_from_json(cnn_layers, strlen(cnn_layers), "cnn", &layers, &err) != KS_OK ||
        ks_value_from_json(cnn_compile, strlen(cnn_compile), "cnn", &compile, &err) != KS_OK)
        die("the model's JSON", &err);
    /* the data are (28, 28) images; the model's input is (28, 28, 1): the same floats */
    return build_compiled(&layers, &compile, seed);
}

/* Floating-point operations of the products of the last recorded step. */
static double recorded_flops;

static double step_flops(int batch)
{
    (void)batch;
    return recorded_flops;
}

/*
 * The products of one training step as the engine makes them: recorded from one step
 * of fit on m (through the sgemm wrapper), then replayed reps times alone on buffers
 * of their sizes.  Returns wall-clock seconds per step, CPU seconds per step in *cpu.
 */
static double replay(ks_model *m, const ks_data *d, int batch, int reps, double *cpu)
{
    size_t a_max = 1, b_max = 1, c_max = 1;
    float *a, *b, *c;
    ks_rng *rng;
    double t0 = 0.0, c0 = 0.0, t;
    n_recorded = 0;
    sgemm_recording = 1;
    fit(m, d, batch, 1, 1, NULL);
    sgemm_recording = 0;
    recorded_flops = 0.0;
    for (int i = 0; i < n_recorded; i++) {
        const sgemm_call *k = &recorded[i];
        size_t as = (size_t)(k->ta ? k->k : k->m) * k->lda;
        size_t bs = (size_t)(k->tb ? k->n : k->k) * k->ldb;
        size_t cs = (size_t)k->m * k->ldc;
        a_max = as > a_max ? as : a_max;
        b_max = bs > b_max ? bs : b_max;
        c_max = cs > c_max ? cs : c_max;
        recorded_flops += 2.0 * k->m * k->n * k->k;
    }
    a = aligned_alloc(64, ((a_max + 15) & ~(size_t)15) * sizeof(float));
    b = aligned_alloc(64, ((b_max + 15) & ~(size_t)15) * sizeof(float));
    c = aligned_alloc(64, ((c_max + 15) & ~(size_t)15) * sizeof(float));
    if (!a || !b || !c || ks_rng_new(99, 1, 2, &rng) != KS_OK)
        die("replay: out of memory", NULL);
    for (size_t i = 0; i < a_max; i++)
        a[i] = (float)(ks_rng_uniform(rng) - 0.5);
    for (size_t i = 0; i < b_max; i++)
        b[i] = (float)(ks_rng_uniform(rng) - 0.5);
    memset(c, 0, c_max * sizeof(float));
    ks_rng_free(rng);
    for (int r = -reps / 10 - 1; r < reps; r++) {
        if (r == 0) {
            t0 = ks_now();
            c0 = cpu_now();
        }
        for (int i = 0; i < n_recorded; i++) {
            const sgemm_call *k = &recorded[i];
            cblas_sgemm(CblasRowMajor, k->ta ? CblasTrans : CblasNoTrans,
                        k->tb ? CblasTrans : CblasNoTrans, k->m, k->n, k->k, k->alpha, a,
                        k->lda, b, k->ldb, k->beta, c, k->ldc);
        }
    }
    t = ks_now() - t0;
    *cpu = (cpu_now() - c0) / reps;
    printf("ksearch batch %3d: one step makes %d sgemm calls, %.1f MFLOP\n", batch, n_recorded,
           recorded_flops * 1e-6);
    free(a);
    free(b);
    free(c);
    return t / reps;
}

static const bench_model studies_cnn = {"bench_cnn", 200, {32, 128}, 0,
                                        build_model, replay, step_flops};

int main(int argc, char **argv)
{
    return bench_main(&studies_cnn, argc, argv);
}
