/*
 * test_optimizers.c — SGD (momentum, nesterov), RMSprop (momentum, centered), Adam
 * (amsgrad) and clipnorm / clipvalue / global_clipnorm against Keras 3's update rules,
 * recomputed here in double precision from Keras 3's optimizer sources, over several
 * steps of a model whose gradients the test sets itself.
 */
#include "../engine/engine_impl.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define STEPS 5

/* A model with two weights (kernel 3×2, bias 2), compiled with the given optimizer. */
static ks_model *build(const char *json_optimizer)
{
    static const char *layers_json =
        "[{\"Dense\": {\"units\": 2, \"input_shape\": [3]}}]";
    char compile_json[512];
    ks_value layers, compile;
    ks_model *m = NULL;
    ks_error err;
    snprintf(compile_json, sizeof compile_json, "{\"loss\": \"mse\", \"optimizer\": %s}",
             json_optimizer);
    if (ks_value_from_json(layers_json, strlen(layers_json), "t", &layers, &err) != KS_OK ||
        ks_value_from_json(compile_json, strlen(compile_json), "t", &compile, &err) != KS_OK)
        return NULL;
    if (ks_model_from_config(&layers, NULL, 3, &m, &err) != KS_OK ||
        ks_model_compile(m, &compile, &err) != KS_OK) {
        CHECK(0, "%s: %s", json_optimizer, err.msg);
        ks_model_free(m);
        m = NULL;
    }
    ks_value_free(&layers);
    ks_value_free(&compile);
    return m;
}

/* The gradient of step t for parameter i: varied in sign and size, some large. */
static double grad_of(int t, size_t i)
{
    return sin(1.7 * (double)i + 0.9 * t) * (i == 4 ? 6.0 : 1.0);
}

typedef struct ref_opt {
    int kind;                   /* 0 SGD, 1 RMSprop, 2 Adam */
    double lr, momentum, rho, eps, b1, b2;
    int nesterov, centered, amsgrad;
    double clipnorm, clipvalue, global_clipnorm;
} ref_opt;

/* Keras 3, in double precision, over n parameters split into weights at split. */
static void reference(const ref_opt *o, double *w, size_t n, size_t split)
{
    double s1[16] = {0}, s2[16] = {0}, s3[16] = {0};
    for (int t = 1; t <= STEPS; t++) {
        double g[16];
        for (size_t i = 0; i < n; i++)
            g[i] = grad_of(t, i);
        if (o->global_clipnorm > 0) {
            double norm = 0;
            for (size_t i = 0; i < n; i++)
                norm += g[i] * g[i];
            norm = sqrt(norm);
            for (size_t i = 0; i < n; i++)
                g[i] *= o->global_clipnorm * fmin(1.0 / norm, 1.0 / o->global_clipnorm);
        }
        if (o->clipnorm > 0) {
            /* per variable: the kernel [0, split) and the bias [split, n) */
            for (int part = 0; part < 2; part++) {
                size_t a = part ? split : 0, b = part ? n : split;
                double norm = 0;
                for (size_t i = a; i < b; i++)
                    norm += g[i] * g[i];
                norm = sqrt(norm);
                for (size_t i = a; i < b; i++)
                    g[i] = g[i] * o->clipnorm / fmax(norm, o->clipnorm);
            }
        }
        if (o->clipvalue > 0)
            for (size_t i = 0; i < n; i++)
                g[i] = fmin(fmax(g[i], -o->clipvalue), o->clipvalue);
        for (size_t i = 0; i < n; i++) {
            if (o->kind == 0) {
                if (o->momentum == 0) {
                    w[i] -= o->lr * g[i];
                } else {
                    s1[i] = o->momentum * s1[i] - o->lr * g[i];
                    w[i] += o->nesterov ? o->momentum * s1[i] - o->lr * g[i] : s1[i];
                }
            } else if (o->kind == 1) {
                double den, inc;
                s1[i] = o->rho * s1[i] + (1 - o->rho) * g[i] * g[i];
                if (o->centered) {
                    s3[i] = o->rho * s3[i] + (1 - o->rho) * g[i];
                    den = s1[i] - s3[i] * s3[i] + o->eps;
                } else {
                    den = s1[i] + o->eps;
                }
                inc = o->lr * g[i] / sqrt(den);
                if (o->momentum > 0) {
                    s2[i] = o->momentum * s2[i] + inc;
                    w[i] -= s2[i];
                } else {
                    w[i] -= inc;
                }
            } else {
                double alpha = o->lr * sqrt(1 - pow(o->b2, t)) / (1 - pow(o->b1, t)), v;
                s1[i] += (g[i] - s1[i]) * (1 - o->b1);
                s2[i] += (g[i] * g[i] - s2[i]) * (1 - o->b2);
                v = s2[i];
                if (o->amsgrad) {
                    s3[i] = fmax(s3[i], s2[i]);
                    v = s3[i];
                }
                w[i] -= s1[i] * alpha / (sqrt(v) + o->eps);
            }
        }
    }
}

static void check_optimizer(const char *json, const ref_opt *o)
{
    ks_model *m = build(json);
    double ref[16];
    size_t n, split;
    if (!m)
        return;
    n = ks_model_weights_size(m);
    split = ks_shape_size(ks_model_weight_shape(m, 0));
    REQUIRE(n == 8 && split == 6, "layout");
    for (size_t i = 0; i < n; i++)
        ref[i] = m->params[i];
    reference(o, ref, n, split);
    for (int t = 1; t <= STEPS; t++) {
        for (size_t i = 0; i < n; i++)
            m->grads[i] = (float)grad_of(t, i);
        ks_model_apply_gradients(m);
    }
    {
        double worst = 0;
        for (size_t i = 0; i < n; i++)
            worst = fmax(worst, fabs(m->params[i] - ref[i]) / fmax(1.0, fabs(ref[i])));
        CHECK(worst < 2e-6, "%s: parameters differ from Keras's rule by %.3g", json, worst);
    }
    CHECK(ks_model_iterations(m) == STEPS, "%s: iterations", json);
    ks_model_free(m);
}

static void test_rules(void)
{
    ref_opt o;
    memset(&o, 0, sizeof o);
    o.lr = 0.01;
    check_optimizer("\"sgd\"", &o);
    o.momentum = 0.9;
    check_optimizer("{\"SGD\": {\"momentum\": 0.9}}", &o);
    o.nesterov = 1;
    check_optimizer("{\"SGD\": {\"momentum\": 0.9, \"nesterov\": true}}", &o);

    memset(&o, 0, sizeof o);
    o.kind = 1, o.lr = 0.001, o.rho = 0.9, o.eps = 1e-7;
    check_optimizer("\"rmsprop\"", &o);
    o.momentum = 0.5;
    check_optimizer("{\"RMSprop\": {\"momentum\": 0.5}}", &o);
    o.centered = 1, o.momentum = 0, o.rho = 0.8, o.lr = 0.01;
    check_optimizer("{\"RMSprop\": {\"centered\": true, \"rho\": 0.8, \"learning_rate\": 0.01}}",
                    &o);

    memset(&o, 0, sizeof o);
    o.kind = 2, o.lr = 0.001, o.b1 = 0.9, o.b2 = 0.999, o.eps = 1e-7;
    check_optimizer("\"adam\"", &o);
    o.amsgrad = 1, o.b2 = 0.9;
    check_optimizer("{\"Adam\": {\"amsgrad\": true, \"beta_2\": 0.9}}", &o);

    /* clipping, one kind at a time (Keras allows only one) */
    memset(&o, 0, sizeof o);
    o.lr = 0.1, o.clipnorm = 1.0;
    check_optimizer("{\"SGD\": {\"learning_rate\": 0.1, \"clipnorm\": 1.0}}", &o);
    o.clipnorm = 0, o.clipvalue = 0.5;
    check_optimizer("{\"SGD\": {\"learning_rate\": 0.1, \"clipvalue\": 0.5}}", &o);
    o.clipvalue = 0, o.global_clipnorm = 2.0;
    check_optimizer("{\"SGD\": {\"learning_rate\": 0.1, \"global_clipnorm\": 2.0}}", &o);
}

static void test_errors(void)
{
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"{\"SGD\": {\"clipnorm\": 1, \"clipvalue\": 1}}",
         "only one of clipnorm, clipvalue and global_clipnorm"},
        {"{\"SGD\": {\"momentum\": 1.5}}", "momentum must be a number in [0, 1]"},
        {"{\"Adam\": {\"beta_1\": 1}}", "beta_1 must be a number in [0, 1)"},
        {"{\"RMSprop\": {\"epsilon\": 0}}", "epsilon must be a number > 0"},
        {"\"adamw\"", "unknown optimizer \"adamw\" (did you mean \"Adam\"?)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char compile_json[256];
        ks_value layers, compile;
        ks_model *m = NULL;
        ks_error err;
        const char *lj = "[{\"Dense\": {\"units\": 2, \"input_shape\": [3]}}]";
        snprintf(compile_json, sizeof compile_json, "{\"loss\": \"mse\", \"optimizer\": %s}",
                 bad[i].json);
        ks_value_from_json(lj, strlen(lj), "t", &layers, &err);
        ks_value_from_json(compile_json, strlen(compile_json), "t", &compile, &err);
        if (ks_model_from_config(&layers, NULL, 3, &m, &err) == KS_OK) {
            ks_status s = ks_model_compile(m, &compile, &err);
            CHECK(s == KS_ERR_CONFIG && strstr(err.msg, bad[i].msg), "%s: %s", bad[i].json,
                  err.msg);
            CHECK(!ks_model_is_compiled(m), "a failed compile leaves the model uncompiled");
        }
        ks_model_free(m);
        ks_value_free(&layers);
        ks_value_free(&compile);
    }
}

int main(void)
{
    test_rules();
    test_errors();
    return check_done();
}
