/*
 * kernels.c — the numeric kernels under every layer: matrix products through
 * OpenBLAS's cblas_sgemm, and the few row/column loops around them.
 */
#include "engine_impl.h"

#include <cblas.h>
#include <string.h>

void ks_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
             int lda, const float *b, int ldb, float beta, float *c, int ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c,
                ldc);
}

void ks_col_sums(const float *restrict x, int n, int cols, float beta, float *restrict out,
                 float alpha)
{
    if (beta == 0.0f)
        for (int j = 0; j < cols; j++)
            out[j] = 0.0f;
    else if (beta != 1.0f)
        for (int j = 0; j < cols; j++)
            out[j] *= beta;
    for (int i = 0; i < n; i++) {
        const float *row = x + (size_t)i * cols;
        for (int j = 0; j < cols; j++)
            out[j] += alpha * row[j];
    }
}

void ks_add_row(float *restrict y, const float *restrict b, int n, int cols)
{
    for (int i = 0; i < n; i++) {
        float *row = y + (size_t)i * cols;
        for (int j = 0; j < cols; j++)
            row[j] += b[j];
    }
}

void ks_blas_set_threads(int n)
{
    openblas_set_num_threads(n < 1 ? 1 : n);
}

int ks_blas_get_threads(void)
{
    return openblas_get_num_threads();
}

void ks_accumulate(float *restrict dst, const float *restrict src, size_t n, float beta)
{
    if (beta == 0.0f) {
        memcpy(dst, src, n * sizeof *dst);
        return;
    }
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}
