/*
 * activations.c — activation functions and their derivatives, in place.  Every
 * derivative is computed from the output y alone, so layers keep no pre-activation
 * buffer; the loops are written so that the compiler vectorizes them.
 */
#include "engine_impl.h"

#include <string.h>

const char *const ks_activation_names[] = {
#define KS_ACT(e, name) name,
#include "activations.def"
#undef KS_ACT
    NULL};

static void softmax_rows(float *y, int n, int width)
{
    for (int i = 0; i < n; i++) {
        float *yr = y + (size_t)i * width;
        float mx = yr[0], sum = 0.0f;
        for (int j = 1; j < width; j++)
            mx = yr[j] > mx ? yr[j] : mx;
        for (int j = 0; j < width; j++) {
            yr[j] = expf(yr[j] - mx);
            sum += yr[j];
        }
        for (int j = 0; j < width; j++)
            yr[j] /= sum;
    }
}

void ks_act_apply(ks_activation a, float *y, int n, int width)
{
    size_t len = (size_t)n * width;
    switch (a) {
    case KS_ACT_LINEAR:
        break;
    case KS_ACT_RELU:
        for (size_t i = 0; i < len; i++)
            y[i] = y[i] > 0.0f ? y[i] : 0.0f;
        break;
    case KS_ACT_SIGMOID:
        for (size_t i = 0; i < len; i++) {
            /* e^(−|v|) never overflows */
            float v = y[i], e = expf(-fabsf(v));
            y[i] = v >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
        }
        break;
    case KS_ACT_TANH:
        for (size_t i = 0; i < len; i++)
            y[i] = tanhf(y[i]);
        break;
    case KS_ACT_SOFTMAX:
        softmax_rows(y, n, width);
        break;
    case KS_ACT_SELU:
        for (size_t i = 0; i < len; i++)
            y[i] = y[i] > 0.0f ? KS_SELU_SCALE * y[i]
                               : KS_SELU_SCALE * KS_SELU_ALPHA * expm1f(y[i]);
        break;
    case KS_ACT_ELU:
        for (size_t i = 0; i < len; i++)
            y[i] = y[i] > 0.0f ? y[i] : KS_ELU_ALPHA * expm1f(y[i]);
        break;
    case KS_ACT_SOFTPLUS:
        for (size_t i = 0; i < len; i++)
            y[i] = fmaxf(y[i], 0.0f) + log1pf(expf(-fabsf(y[i])));
        break;
    case KS_ACT_COUNT:
        break;
    }
}

void ks_act_grad(ks_activation a, const float *restrict y, float *restrict d, int n, int width)
{
    size_t len = (size_t)n * width;
    switch (a) {
    case KS_ACT_LINEAR:
        break;
    case KS_ACT_RELU:
        for (size_t i = 0; i < len; i++)
            d[i] = y[i] > 0.0f ? d[i] : 0.0f;
        break;
    case KS_ACT_SIGMOID:
        for (size_t i = 0; i < len; i++)
            d[i] *= y[i] * (1.0f - y[i]);
        break;
    case KS_ACT_TANH:
        for (size_t i = 0; i < len; i++)
            d[i] *= 1.0f - y[i] * y[i];
        break;
    case KS_ACT_SOFTMAX:
        for (int r = 0; r < n; r++) {
            const float *yr = y + (size_t)r * width;
            float *dr = d + (size_t)r * width;
            float dot = 0.0f;
            for (int j = 0; j < width; j++)
                dot += dr[j] * yr[j];
            for (int j = 0; j < width; j++)
                dr[j] = yr[j] * (dr[j] - dot);
        }
        break;
    case KS_ACT_SELU:
        for (size_t i = 0; i < len; i++)
            d[i] *= y[i] > 0.0f ? KS_SELU_SCALE : y[i] + KS_SELU_SCALE * KS_SELU_ALPHA;
        break;
    case KS_ACT_ELU:
        for (size_t i = 0; i < len; i++)
            d[i] *= y[i] > 0.0f ? 1.0f : y[i] + KS_ELU_ALPHA;
        break;
    case KS_ACT_SOFTPLUS:
        for (size_t i = 0; i < len; i++)
            d[i] *= -expm1f(-y[i]);     /* sigmoid(z) = 1 − e^(−softplus(z)) */
        break;
    case KS_ACT_COUNT:
        break;
    }
}
