/*
 * optimizer_adam.c — Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999,
 * epsilon=1e-7, amsgrad=False), Keras 3's update:
 * α = lr·√(1−β₂ᵗ)/(1−β₁ᵗ); m += (g−m)(1−β₁); v += (g²−v)(1−β₂); w −= α·m/(√v + ε).
 */
#include "engine_impl.h"

typedef struct adam_args {
    ks_optimizer_common c;
    double beta_1, beta_2;
    double epsilon;
    int amsgrad;
} adam_args;

static const ks_key adam_keys[] = {
    KS_OPTIMIZER_COMMON_KEYS(adam_args, "0.001"),
    {"beta_1", KS_KEY_FLOAT, offsetof(adam_args, beta_1), 0, 0, 1, "0.9", NULL, KS_KEY_MAX_EXCL},
    {"beta_2", KS_KEY_FLOAT, offsetof(adam_args, beta_2), 0, 0, 1, "0.999", NULL,
     KS_KEY_MAX_EXCL},
    {"epsilon", KS_KEY_FLOAT, offsetof(adam_args, epsilon), 0, 0, INFINITY, "1e-07", NULL,
     KS_KEY_MIN_EXCL},
    {"amsgrad", KS_KEY_BOOL, offsetof(adam_args, amsgrad), 0, 0, 0, "false", NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static const char *const adam_slots[] = {"momentum", "velocity", "velocity_hat", NULL};

static void adam_update(const void *args, double lr, int64_t t, float *restrict w,
                        const float *restrict g, float *const *slots, size_t n)
{
    const adam_args *a = args;
    float *restrict m = slots[0], *restrict v = slots[1], *restrict vhat = slots[2];
    float b1 = (float)a->beta_1, b2 = (float)a->beta_2, eps = (float)a->epsilon;
    float alpha = (float)(lr * sqrt(1.0 - pow(a->beta_2, (double)t)) /
                          (1.0 - pow(a->beta_1, (double)t)));
    if (a->amsgrad) {
        /* v̂ = max(v̂, v) of the uncorrected v, as Keras */
        for (size_t i = 0; i < n; i++) {
            m[i] += (g[i] - m[i]) * (1.0f - b1);
            v[i] += (g[i] * g[i] - v[i]) * (1.0f - b2);
            vhat[i] = v[i] > vhat[i] ? v[i] : vhat[i];
            w[i] -= alpha * m[i] / (sqrtf(vhat[i]) + eps);
        }
        return;
    }
    for (size_t i = 0; i < n; i++) {
        m[i] += (g[i] - m[i]) * (1.0f - b1);
        v[i] += (g[i] * g[i] - v[i]) * (1.0f - b2);
        w[i] -= alpha * m[i] / (sqrtf(v[i]) + eps);
    }
}

const ks_optimizer_ops ks_optimizer_adam_ops = {
    .name = "Adam",
    .keys = adam_keys,
    .args_size = sizeof(adam_args),
    .n_slots = 3,
    .slot_names = adam_slots,
    .update = adam_update,
};
