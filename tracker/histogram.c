/*
 * histogram.c — TensorBoard's histogram of a weight tensor, as TF's summary op computes
 * it (tensorboard/plugins/histogram/summary_v2.py): KS_HISTOGRAM_BUCKETS equal-width
 * buckets from min to max in double precision.  Non-finite values are skipped (see
 * tb_impl.h).
 */
#include "tb_impl.h"

#include <math.h>
#include <string.h>

void ks_histogram_compute(const float *x, size_t n, double *out)
{
    const int k = KS_HISTOGRAM_BUCKETS;
    double lo = INFINITY, hi = -INFINITY, width;
    size_t count = 0;
    memset(out, 0, (size_t)k * 3 * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (!isfinite(v))
            continue;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        count++;
    }
    if (count == 0)
        return;                         /* no data: all zeros */
    if (hi == lo) {
        /* one value: every edge is that value, the whole count in the last bucket */
        for (int b = 0; b < k; b++)
            out[3 * b] = out[3 * b + 1] = lo;
        out[3 * (k - 1) + 2] = (double)count;
        return;
    }
    width = (hi - lo) / k;
    for (int b = 0; b < k; b++) {
        out[3 * b] = lo + b * width;                            /* linspace(lo, hi, k + 1) */
        out[3 * b + 1] = b == k - 1 ? hi : lo + (b + 1) * width; /* the last edge is max */
    }
    for (size_t i = 0; i < n; i++) {
        double v = x[i], q;
        int b;
        if (!isfinite(v))
            continue;
        q = floor((v - lo) / width);
        b = q >= k - 1 ? k - 1 : (int)q;         /* the max, and rounding past it */
        out[3 * b + 2] += 1.0;
    }
}
