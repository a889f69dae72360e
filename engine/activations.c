/*
 * activations.c — activation functions and their derivatives.  Every derivative is
 * computed from the output y alone, so layers keep no pre-activation buffer.
 */
#include "engine_impl.h"

#include <string.h>

const char *const ks_activation_names[] = {
#define KS_ACT(e, name) name,
#include "activations.def"
#undef KS_ACT
    NULL};

#define SELU_SCALE 1.05070098735548049342f
#define SELU_ALPHA 1.67326324235437728481f
#define ELU_ALPHA 1.0f

static void softmax_rows(const float *z, float *y, int n, int width)
{
    for (int i = 0; i < n; i++) {
        const float *zr = z + (size_t)i * width;
        float *yr = y + (size_t)i * width;
        float mx = zr[0], sum = 0.0f;
        for (int j = 1; j < width; j++)
            if (zr[j] > mx)
                mx = zr[j];
        for (int j = 0; j < width; j++) {
            yr[j] = expf(zr[j] - mx);
            sum += yr[j];
        }
        for (int j = 0; j < width; j++)
            yr[j] /= sum;
    }
}

void ks_act_forward(ks_activation a, const float *z, float *y, int n, int width)
{
    size_t len = (size_t)n * width;
    switch (a) {
    case KS_ACT_LINEAR:
        if (y != z)
            memcpy(y, z, len * sizeof *y);
        break;
    case KS_ACT_RELU:
        for (size_t i = 0; i < len; i++)
            y[i] = z[i] > 0.0f ? z[i] : 0.0f;
        break;
    case KS_ACT_SIGMOID:
        for (size_t i = 0; i < len; i++) {
            float v = z[i];
            if (v >= 0.0f) {
                y[i] = 1.0f / (1.0f + expf(-v));
            } else {
                float e = expf(v);
                y[i] = e / (1.0f + e);
            }
        }
        break;
    case KS_ACT_TANH:
        for (size_t i = 0; i < len; i++)
            y[i] = tanhf(z[i]);
        break;
    case KS_ACT_SOFTMAX:
        softmax_rows(z, y, n, width);
        break;
    case KS_ACT_SELU:
        for (size_t i = 0; i < len; i++)
            y[i] = z[i] > 0.0f ? SELU_SCALE * z[i] : SELU_SCALE * SELU_ALPHA * expm1f(z[i]);
        break;
    case KS_ACT_ELU:
        for (size_t i = 0; i < len; i++)
            y[i] = z[i] > 0.0f ? z[i] : ELU_ALPHA * expm1f(z[i]);
        break;
    case KS_ACT_SOFTPLUS:
        for (size_t i = 0; i < len; i++)
            y[i] = fmaxf(z[i], 0.0f) + log1pf(expf(-fabsf(z[i])));
        break;
    case KS_ACT_COUNT:
        break;
    }
}

void ks_act_backward(ks_activation a, const float *y, const float *dy, float *dz, int n,
                     int width)
{
    size_t len = (size_t)n * width;
    switch (a) {
    case KS_ACT_LINEAR:
        if (dz != dy)
            memcpy(dz, dy, len * sizeof *dz);
        break;
    case KS_ACT_RELU:
        for (size_t i = 0; i < len; i++)
            dz[i] = y[i] > 0.0f ? dy[i] : 0.0f;
        break;
    case KS_ACT_SIGMOID:
        for (size_t i = 0; i < len; i++)
            dz[i] = dy[i] * y[i] * (1.0f - y[i]);
        break;
    case KS_ACT_TANH:
        for (size_t i = 0; i < len; i++)
            dz[i] = dy[i] * (1.0f - y[i] * y[i]);
        break;
    case KS_ACT_SOFTMAX:
        for (int r = 0; r < n; r++) {
            const float *yr = y + (size_t)r * width, *dyr = dy + (size_t)r * width;
            float *dzr = dz + (size_t)r * width;
            float dot = 0.0f;
            for (int j = 0; j < width; j++)
                dot += dyr[j] * yr[j];
            for (int j = 0; j < width; j++)
                dzr[j] = yr[j] * (dyr[j] - dot);
        }
        break;
    case KS_ACT_SELU:
        for (size_t i = 0; i < len; i++)
            dz[i] = y[i] > 0.0f ? dy[i] * SELU_SCALE : dy[i] * (y[i] + SELU_SCALE * SELU_ALPHA);
        break;
    case KS_ACT_ELU:
        for (size_t i = 0; i < len; i++)
            dz[i] = y[i] > 0.0f ? dy[i] : dy[i] * (y[i] + ELU_ALPHA);
        break;
    case KS_ACT_SOFTPLUS:
        for (size_t i = 0; i < len; i++)
            dz[i] = dy[i] * -expm1f(-y[i]);     /* sigmoid(z) = 1 − e^(−softplus(z)) */
        break;
    case KS_ACT_COUNT:
        break;
    }
}
