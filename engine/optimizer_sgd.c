/*
 * optimizer_sgd.c — SGD(learning_rate=0.01, momentum=0.0, nesterov=False), Keras 3's
 * update: v = momentum·v − lr·g; w += v, or with Nesterov w += momentum·v − lr·g.
 */
#include "engine_impl.h"

typedef struct sgd_args {
    ks_optimizer_common c;
    double momentum;
    int nesterov;
} sgd_args;

static const ks_key sgd_keys[] = {
    KS_OPTIMIZER_COMMON_KEYS(sgd_args, "0.01"),
    {"momentum", KS_KEY_FLOAT, offsetof(sgd_args, momentum), 0, 0, 1, "0.0", NULL, 0},
    {"nesterov", KS_KEY_BOOL, offsetof(sgd_args, nesterov), 0, 0, 0, "false", NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static const char *const sgd_slots[] = {"momentum", NULL};

static void sgd_update(const void *args, double lr, int64_t t, float *restrict w,
                       const float *restrict g, float *const *slots, size_t n)
{
    const sgd_args *a = args;
    float flr = (float)lr, mom = (float)a->momentum;
    (void)t;
    if (a->momentum == 0.0) {
        for (size_t i = 0; i < n; i++)
            w[i] -= flr * g[i];
        return;
    }
    {
        float *v = slots[0];
        if (a->nesterov)
            for (size_t i = 0; i < n; i++) {
                v[i] = mom * v[i] - flr * g[i];
                w[i] += mom * v[i] - flr * g[i];
            }
        else
            for (size_t i = 0; i < n; i++) {
                v[i] = mom * v[i] - flr * g[i];
                w[i] += v[i];
            }
    }
}

static int sgd_plain(const void *args)
{
    const sgd_args *a = args;
    return a->momentum == 0.0 && a->c.clipnorm == 0.0 && a->c.clipvalue == 0.0 &&
           a->c.global_clipnorm == 0.0;
}

const ks_optimizer_ops ks_optimizer_sgd_ops = {
    .name = "SGD",
    .keys = sgd_keys,
    .args_size = sizeof(sgd_args),
    .n_slots = 1,
    .slot_names = sgd_slots,
    .update = sgd_update,
    .plain = sgd_plain,
};
