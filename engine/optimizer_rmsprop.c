/*
 * optimizer_rmsprop.c — RMSprop(learning_rate=0.001, rho=0.9, momentum=0.0,
 * epsilon=1e-7, centered=False), Keras 3's update (epsilon inside the square root):
 * v = rho·v + (1−rho)·g²; Δ = lr·g/√(v − ḡ² + ε); w −= Δ (or through momentum).
 */
#include "engine_impl.h"

typedef struct rmsprop_args {
    ks_optimizer_common c;
    double rho;
    double momentum;
    double epsilon;
    int centered;
} rmsprop_args;

static const ks_key rmsprop_keys[] = {
    KS_OPTIMIZER_COMMON_KEYS(rmsprop_args, "0.001"),
    {"rho", KS_KEY_FLOAT, offsetof(rmsprop_args, rho), 0, 0, 1, "0.9", NULL, 0},
    {"momentum", KS_KEY_FLOAT, offsetof(rmsprop_args, momentum), 0, 0, 1, "0.0", NULL, 0},
    {"epsilon", KS_KEY_FLOAT, offsetof(rmsprop_args, epsilon), 0, 0, INFINITY, "1e-07", NULL,
     KS_KEY_MIN_EXCL},
    {"centered", KS_KEY_BOOL, offsetof(rmsprop_args, centered), 0, 0, 0, "false", NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static const char *const rmsprop_slots[] = {"velocity", "momentum", "average_gradient", NULL};

static void rmsprop_update(const void *args, double lr, int64_t t, float *restrict w,
                           const float *restrict g, float *const *slots, size_t n)
{
    const rmsprop_args *a = args;
    float rho = (float)a->rho, eps = (float)a->epsilon, flr = (float)lr;
    float mom = (float)a->momentum;
    float *restrict v = slots[0], *restrict m = slots[1], *restrict avg = slots[2];
    (void)t;
    for (size_t i = 0; i < n; i++)
        v[i] = rho * v[i] + (1.0f - rho) * g[i] * g[i];
    if (a->centered) {
        for (size_t i = 0; i < n; i++) {
            avg[i] = rho * avg[i] + (1.0f - rho) * g[i];
            m[i] = mom * m[i] + flr * g[i] / sqrtf(v[i] - avg[i] * avg[i] + eps);
        }
    } else {
        for (size_t i = 0; i < n; i++)
            m[i] = mom * m[i] + flr * g[i] / sqrtf(v[i] + eps);
    }
    /* without momentum, m holds this step's increment (mom·m is 0·m) */
    for (size_t i = 0; i < n; i++)
        w[i] -= m[i];
}

const ks_optimizer_ops ks_optimizer_rmsprop_ops = {
    .name = "RMSprop",
    .keys = rmsprop_keys,
    .args_size = sizeof(rmsprop_args),
    .n_slots = 3,
    .slot_names = rmsprop_slots,
    .update = rmsprop_update,
};
