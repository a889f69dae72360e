/*
 * initializers.c — Keras's weight initializers.  Fans follow Keras: a kernel of
 * shape (in, out) has fan_in = in, fan_out = out; the normal variants are truncated
 * at two standard deviations, with Keras's correction of the standard deviation.
 */
#include "engine_impl.h"

#include <stdlib.h>

const char *const ks_initializer_names[] = {
#define KS_INIT_NAME(e, name) name,
    KS_INITIALIZER_LIST(KS_INIT_NAME)
#undef KS_INIT_NAME
    NULL};

/* stddev of a normal truncated to ±2σ is 0.8796… of the untruncated one */
#define TRUNC_STDDEV_CORRECTION 0.87962566103423978

static void fans(const ks_shape *s, double *fan_in, double *fan_out)
{
    if (s->ndim == 0) {
        *fan_in = *fan_out = 1;
    } else if (s->ndim == 1) {
        *fan_in = *fan_out = s->dim[0];
    } else if (s->ndim == 2) {
        *fan_in = s->dim[0];
        *fan_out = s->dim[1];
    } else {
        /* convolution kernels: receptive field × channels, as Keras */
        double rf = 1;
        for (int i = 0; i < s->ndim - 2; i++)
            rf *= s->dim[i];
        *fan_in = s->dim[s->ndim - 2] * rf;
        *fan_out = s->dim[s->ndim - 1] * rf;
    }
}

static void fill_uniform(float *w, size_t n, double limit, ks_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)((2.0 * ks_rng_uniform(rng) - 1.0) * limit);
}

static void fill_truncated_normal(float *w, size_t n, double stddev, ks_rng *rng)
{
    for (size_t i = 0; i < n; i++) {
        double x;
        do
            x = ks_rng_normal(rng, stddev);
        while (fabs(x) > 2.0 * stddev);
        w[i] = (float)x;
    }
}

/* Keras's default spread of its plain random initializers (minval/maxval, stddev) */
#define RANDOM_SCALE 0.05

static void fill_normal(float *w, size_t n, double stddev, ks_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)ks_rng_normal(rng, stddev);
}

/*
 * Orthogonal: a standard normal matrix of max(rows, cols) × min(rows, cols), its
 * columns made orthonormal (Gram-Schmidt, twice over for accuracy: the Q of a QR
 * decomposition whose R has a positive diagonal, as Keras's sign correction gives),
 * transposed when there are fewer rows than columns.  Rows are every axis but the last.
 */
static void fill_orthogonal(float *w, const ks_shape *s, ks_rng *rng)
{
    size_t cols = s->ndim ? (size_t)s->dim[s->ndim - 1] : 1;
    size_t rows = cols ? ks_shape_size(s) / cols : 0;
    size_t big = rows > cols ? rows : cols, small = rows > cols ? cols : rows;
    double *q = big && small ? malloc(big * small * sizeof *q) : NULL;
    if (!q) {
        /* no memory for the factorization: a scaled uniform matrix keeps the model usable */
        fill_uniform(w, rows * cols, sqrt(6.0 / (double)(rows + cols + 1)), rng);
        return;
    }
    for (size_t i = 0; i < big * small; i++)
        q[i] = ks_rng_normal(rng, 1.0);
    for (size_t j = 0; j < small; j++) {
        double norm = 0.0;
        for (int pass = 0; pass < 2; pass++)
            for (size_t k = 0; k < j; k++) {
                double dot = 0.0;
                for (size_t i = 0; i < big; i++)
                    dot += q[i * small + k] * q[i * small + j];
                for (size_t i = 0; i < big; i++)
                    q[i * small + j] -= dot * q[i * small + k];
            }
        for (size_t i = 0; i < big; i++)
            norm += q[i * small + j] * q[i * small + j];
        norm = norm > 0.0 ? 1.0 / sqrt(norm) : 0.0;
        for (size_t i = 0; i < big; i++)
            q[i * small + j] *= norm;
    }
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            w[i * cols + j] = (float)(rows >= cols ? q[i * small + j] : q[j * small + i]);
    free(q);
}

void ks_init_fill(ks_initializer init, float *w, const ks_shape *shape, ks_rng *rng)
{
    size_t n = ks_shape_size(shape);
    double fan_in, fan_out;
    fans(shape, &fan_in, &fan_out);
    switch (init) {
    case KS_INIT_GLOROT_UNIFORM:
        fill_uniform(w, n, sqrt(6.0 / (fan_in + fan_out)), rng);
        break;
    case KS_INIT_GLOROT_NORMAL:
        fill_truncated_normal(w, n, sqrt(2.0 / (fan_in + fan_out)) / TRUNC_STDDEV_CORRECTION,
                              rng);
        break;
    case KS_INIT_HE_NORMAL:
        fill_truncated_normal(w, n, sqrt(2.0 / fan_in) / TRUNC_STDDEV_CORRECTION, rng);
        break;
    case KS_INIT_HE_UNIFORM:
        fill_uniform(w, n, sqrt(6.0 / fan_in), rng);
        break;
    case KS_INIT_LECUN_NORMAL:
        fill_truncated_normal(w, n, sqrt(1.0 / fan_in) / TRUNC_STDDEV_CORRECTION, rng);
        break;
    case KS_INIT_LECUN_UNIFORM:
        fill_uniform(w, n, sqrt(3.0 / fan_in), rng);
        break;
    case KS_INIT_ZEROS:
        for (size_t i = 0; i < n; i++)
            w[i] = 0.0f;
        break;
    case KS_INIT_ONES:
        for (size_t i = 0; i < n; i++)
            w[i] = 1.0f;
        break;
    case KS_INIT_ORTHOGONAL:
        fill_orthogonal(w, shape, rng);
        break;
    case KS_INIT_UNIFORM:
    case KS_INIT_RANDOM_UNIFORM:
        fill_uniform(w, n, RANDOM_SCALE, rng);
        break;
    case KS_INIT_NORMAL:
    case KS_INIT_RANDOM_NORMAL:
        fill_normal(w, n, RANDOM_SCALE, rng);
        break;
    case KS_INIT_TRUNCATED_NORMAL:
        fill_truncated_normal(w, n, RANDOM_SCALE, rng);
        break;
    case KS_INIT_COUNT:
        break;
    }
}
