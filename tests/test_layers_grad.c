/*
 * test_layers_grad.c — gradient checks: for every layer, activation, loss and
 * regularizer, the analytic gradient of the loss with respect to every parameter
 * (which also exercises each layer's input gradient, since a trainable Dense sits
 * before it) matches central finite differences on small random shapes.
 */
#include "../engine/engine_impl.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>

#define BATCH 5

/* ------------------------------------------------------- building models */

static ks_value *put_num(ks_value *map, const char *key, double x)
{
    ks_value *v = ks_value_put(map, key, KS_VALUE_NUMBER);
    v->number = x;
    return v;
}

static ks_value *put_str(ks_value *map, const char *key, const char *s)
{
    ks_value *v = ks_value_put(map, key, KS_VALUE_NULL);
    ks_value_set_string(v, s);
    return v;
}

/* Append "- CLASS: {}" to a layer list and return its argument map. */
static ks_value *layer(ks_value *list, const char *cls)
{
    ks_value *e = ks_value_push(list, KS_VALUE_MAP);
    return ks_value_put(e, cls, KS_VALUE_MAP);
}

static ks_value *dense(ks_value *list, int units, const char *act)
{
    ks_value *a = layer(list, "Dense");
    put_num(a, "units", units);
    put_str(a, "activation", act);
    return a;
}

static ks_value *input(ks_value *list, int d0, int d1)
{
    ks_value *a = layer(list, "InputLayer"), *s = ks_value_put(a, "shape", KS_VALUE_LIST);
    ks_value_push(s, KS_VALUE_NUMBER)->number = d0;
    if (d1)
        ks_value_push(s, KS_VALUE_NUMBER)->number = d1;
    return a;
}

static ks_model *build(ks_value *layers, const char *loss, int from_logits, double delta,
                       const char *why)
{
    ks_value compile, *l, *args;
    ks_model *m = NULL;
    ks_error err;
    ks_value_init(&compile, KS_VALUE_MAP);
    l = ks_value_put(&compile, "loss", KS_VALUE_MAP);
    args = ks_value_put(l, loss, KS_VALUE_MAP);
    if (from_logits)
        ks_value_put(args, "from_logits", KS_VALUE_BOOL)->boolean = 1;
    if (delta > 0)
        put_num(args, "delta", delta);
    put_str(&compile, "optimizer", "sgd");
    if (ks_model_from_config(layers, NULL, 7, &m, &err) != KS_OK ||
        ks_model_compile(m, &compile, &err) != KS_OK) {
        CHECK(0, "%s: cannot build: %s", why, err.msg);
        ks_model_free(m);
        m = NULL;
    }
    ks_value_free(&compile);
    ks_value_free(layers);
    return m;
}

/* --------------------------------------------------------------- checking */

typedef struct batch {
    float x[BATCH * 64];
    float t[BATCH * 16];
    float w[BATCH];
    int use_w;
} batch;

static double objective(ks_model *m, const batch *b)
{
    /* the same dropout mask at every evaluation */
    ks_rng_reseed(m->rng, 1, 2, 3);
    ks_model_forward(m, b->x, BATCH, 1);
    return ks_model_batch_loss(m, b->t, b->use_w ? b->w : NULL, BATCH, 0) + ks_model_penalty(m);
}

/* Central difference of the objective in parameter *p with step h. */
static double central(ks_model *m, const batch *b, float *p, double h)
{
    float keep = *p;
    double lp, lm, step;
    *p = (float)(keep + h);
    lp = objective(m, b);
    *p = (float)(keep - h);
    lm = objective(m, b);
    *p = keep;
    /* the step actually taken, after rounding to float */
    step = (double)(float)(keep + h) - (double)(float)(keep - h);
    return (lp - lm) / step;
}

/*
 * Compare analytic and central-difference gradients over every trainable
 * parameter (the numeric one Richardson-extrapolated from steps h and h/4); the
 * error is ‖a − n‖ / (‖a‖ + ‖n‖) over the whole vector.  A
 * parameter whose difference quotients at steps h and h/4 disagree with each other
 * straddles a kink (relu at 0, |e| at 0) and is left out — at most 10% of them.
 */
static void check_grads(ks_model *m, const batch *b, const char *why)
{
    ks_error err;
    double num2 = 0.0, ana2 = 0.0, diff2 = 0.0;
    size_t total = 0, kinks = 0;
    float *grad;
    if (!m)
        return;
    REQUIRE(ks_model_workspace(m, BATCH, m->loss->sparse ? 1 : m->layers[m->output]->out_size,
                               1, &err) == KS_OK,
            "%s: workspace", why);
    grad = malloc(m->n_params * sizeof *grad);
    ks_rng_reseed(m->rng, 1, 2, 3);
    ks_model_forward(m, b->x, BATCH, 1);
    ks_model_batch_loss(m, b->t, b->use_w ? b->w : NULL, BATCH, 1);
    ks_model_backward(m, BATCH, 0);
    memcpy(grad, m->grads, m->n_params * sizeof *grad);
    for (int wi = 0; wi < m->n_weights; wi++) {
        ks_weight *w = m->weights[wi];
        if (!w->trainable)
            continue;
        for (size_t i = 0; i < w->size; i++) {
            double h = 1e-2 * (fabs(w->w[i]) > 1.0 ? fabs(w->w[i]) : 1.0);
            double num = central(m, b, &w->w[i], h), fine = central(m, b, &w->w[i], h / 4);
            double ana = grad[w->offset + i];
            total++;
            /* Richardson: central differences err by c·h², so this removes that term */
            if (fabs(num - fine) > 1e-2 * (fabs(num) + fabs(fine)) + 1e-4) {
                kinks++;
                continue;
            }
            num = fine + (fine - num) / 15.0;
            num2 += num * num;
            ana2 += ana * ana;
            diff2 += (num - ana) * (num - ana);
        }
    }
    {
        double rel = sqrt(diff2) / fmax(sqrt(num2) + sqrt(ana2), 1e-12);
        CHECK(rel < 1e-3, "%s: relative gradient error %.3g (|grad| %.3g)", why, rel,
              sqrt(ana2));
        CHECK(ana2 > 0.0, "%s: the gradient is zero, the check proves nothing", why);
        CHECK(kinks * 10 <= total, "%s: %zu of %zu parameters at kinks", why, kinks, total);
        if (getenv("KS_VERBOSE"))
            printf("%-60s rel error %.2e (%zu/%zu at kinks)\n", why, rel, kinks, total);
    }
    free(grad);
}

/* Random inputs away from relu's kink; targets as the loss wants them. */
static void fill_batch(batch *b, ks_rng *r, int in_size, int k, const char *target_kind)
{
    memset(b, 0, sizeof *b);
    for (int i = 0; i < BATCH * in_size; i++) {
        double v = 2.0 * ks_rng_uniform(r) - 1.0;
        b->x[i] = (float)(v + (v >= 0 ? 0.1 : -0.1));
    }
    for (int i = 0; i < BATCH; i++) {
        b->w[i] = (float)(0.5 + ks_rng_uniform(r));
        if (strcmp(target_kind, "label") == 0) {
            b->t[i] = (float)ks_rng_index(r, (uint64_t)k);
        } else if (strcmp(target_kind, "onehot") == 0 || strcmp(target_kind, "dist") == 0) {
            double sum = 0.0;
            int hot = (int)ks_rng_index(r, (uint64_t)k);
            for (int j = 0; j < k; j++) {
                b->t[i * k + j] = strcmp(target_kind, "onehot") == 0 ? (float)(j == hot)
                                                                      : (float)ks_rng_uniform(r);
                sum += b->t[i * k + j];
            }
            for (int j = 0; j < k; j++)
                b->t[i * k + j] = (float)(b->t[i * k + j] / sum);
        } else if (strcmp(target_kind, "binary") == 0) {
            for (int j = 0; j < k; j++)
                b->t[i * k + j] = (float)ks_rng_index(r, 2);
        } else {
            /* real targets at distance >= 1 from 0, away from the small outputs of a
               fresh model, so that mae's kink at a zero residual stays out of reach */
            for (int j = 0; j < k; j++) {
                double v = 1.0 + ks_rng_uniform(r);
                b->t[i * k + j] = (float)(ks_rng_index(r, 2) ? v : -v);
            }
        }
    }
}

/* --------------------------------------------------------------- the tests */

static void test_activations(ks_rng *r)
{
    for (int a = 0; ks_activation_names[a]; a++) {
        char why[96];
        batch b;
        ks_value layers;
        /* as Dense's own activation, then as an Activation layer */
        for (int as_layer = 0; as_layer < 2; as_layer++) {
            ks_value_init(&layers, KS_VALUE_LIST);
            input(&layers, 6, 0);
            if (as_layer) {
                dense(&layers, 5, "linear");
                put_str(layer(&layers, "Activation"), "activation", ks_activation_names[a]);
            } else {
                dense(&layers, 5, ks_activation_names[a]);
            }
            dense(&layers, 3, "linear");
            snprintf(why, sizeof why, "%s %s", as_layer ? "Activation" : "Dense",
                     ks_activation_names[a]);
            fill_batch(&b, r, 6, 3, "real");
            b.use_w = 0;
            {
                ks_model *m = build(&layers, "mse", 0, 0, why);
                check_grads(m, &b, why);
                ks_model_free(m);
            }
        }
    }
}

static void test_layers(ks_rng *r)
{
    batch b;
    ks_value layers;
    ks_model *m;

    /* Flatten between two shapes */
    ks_value_init(&layers, KS_VALUE_LIST);
    input(&layers, 3, 4);
    layer(&layers, "Flatten");
    dense(&layers, 4, "tanh");
    dense(&layers, 2, "linear");
    fill_batch(&b, r, 12, 2, "real");
    b.use_w = 0;
    m = build(&layers, "mse", 0, 0, "Flatten");
    check_grads(m, &b, "Flatten");
    ks_model_free(m);

    /* BatchNormalization in training mode (batch statistics), with and without γ/β */
    for (int affine = 0; affine < 2; affine++) {
        ks_value *bn;
        ks_value_init(&layers, KS_VALUE_LIST);
        input(&layers, 4, 0);
        dense(&layers, 6, "linear");
        bn = layer(&layers, "BatchNormalization");
        if (!affine) {
            ks_value_put(bn, "center", KS_VALUE_BOOL)->boolean = 0;
            ks_value_put(bn, "scale", KS_VALUE_BOOL)->boolean = 0;
        }
        dense(&layers, 3, "sigmoid");
        fill_batch(&b, r, 4, 3, "real");
        m = build(&layers, "mse", 0, 0, affine ? "BatchNormalization" : "BatchNormalization plain");
        if (m) {
            /* non-trivial γ and β so their gradients and the scaled dx are exercised */
            for (int wi = 0; wi < m->n_weights; wi++)
                if (strstr(m->weights[wi]->name, "gamma") || strstr(m->weights[wi]->name, "beta"))
                    for (size_t i = 0; i < m->weights[wi]->size; i++)
                        m->weights[wi]->w[i] = (float)(0.5 + ks_rng_uniform(r));
        }
        check_grads(m, &b, affine ? "BatchNormalization" : "BatchNormalization plain");
        ks_model_free(m);
    }

    /* Dropout: the same mask forward and backward */
    ks_value_init(&layers, KS_VALUE_LIST);
    input(&layers, 5, 0);
    dense(&layers, 8, "elu");
    put_num(layer(&layers, "Dropout"), "rate", 0.4);
    dense(&layers, 2, "linear");
    fill_batch(&b, r, 5, 2, "real");
    m = build(&layers, "mse", 0, 0, "Dropout");
    check_grads(m, &b, "Dropout");
    ks_model_free(m);

    /* Dense without bias, and a frozen layer in the middle */
    ks_value_init(&layers, KS_VALUE_LIST);
    input(&layers, 5, 0);
    ks_value_put(dense(&layers, 4, "relu"), "use_bias", KS_VALUE_BOOL)->boolean = 0;
    ks_value_put(dense(&layers, 4, "tanh"), "trainable", KS_VALUE_BOOL)->boolean = 0;
    dense(&layers, 2, "linear");
    fill_batch(&b, r, 5, 2, "real");
    m = build(&layers, "mse", 0, 0, "Dense no bias, frozen middle");
    check_grads(m, &b, "Dense no bias, frozen middle");
    ks_model_free(m);
}

typedef struct loss_case {
    const char *loss;
    const char *out_act;        /* the output Dense's activation */
    int extra_linear;           /* an Activation(linear) after it: no fusing */
    int from_logits;
    const char *targets;
    int k;
    double delta;
} loss_case;

static void test_losses(ks_rng *r)
{
    static const loss_case cases[] = {
        {"mse", "linear", 0, 0, "real", 3, 0},
        {"mae", "linear", 0, 0, "real", 3, 0},
        {"huber", "linear", 0, 0, "real", 3, 0},
        {"huber", "linear", 0, 0, "real", 3, 0.3},
        {"binary_crossentropy", "sigmoid", 0, 0, "binary", 3, 0},     /* fused */
        {"binary_crossentropy", "sigmoid", 1, 0, "binary", 3, 0},     /* on probabilities */
        {"binary_crossentropy", "linear", 0, 1, "binary", 3, 0},      /* from_logits */
        {"categorical_crossentropy", "softmax", 0, 0, "onehot", 4, 0},
        {"categorical_crossentropy", "softmax", 1, 0, "dist", 4, 0},
        {"categorical_crossentropy", "linear", 0, 1, "onehot", 4, 0},
        {"sparse_categorical_crossentropy", "softmax", 0, 0, "label", 4, 0},
        {"sparse_categorical_crossentropy", "softmax", 1, 0, "label", 4, 0},
        {"sparse_categorical_crossentropy", "linear", 0, 1, "label", 4, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const loss_case *lc = &cases[c];
        char why[128];
        batch b;
        ks_value layers;
        ks_model *m;
        for (int weighted = 0; weighted < 2; weighted++) {
            ks_value_init(&layers, KS_VALUE_LIST);
            input(&layers, 5, 0);
            dense(&layers, 6, "tanh");
            dense(&layers, lc->k, lc->out_act);
            if (lc->extra_linear)
                put_str(layer(&layers, "Activation"), "activation", "linear");
            snprintf(why, sizeof why, "%s on %s%s%s%s", lc->loss, lc->out_act,
                     lc->extra_linear ? " (unfused)" : "", lc->from_logits ? " from_logits" : "",
                     weighted ? ", sample weights" : "");
            fill_batch(&b, r, 5, lc->k, lc->targets);
            b.use_w = weighted;
            m = build(&layers, lc->loss, lc->from_logits, lc->delta, why);
            if (m)
                CHECK(m->fused == (!lc->extra_linear && !lc->from_logits &&
                                   strcmp(lc->out_act, "linear") != 0),
                      "%s: fused is %d", why, m->fused);
            check_grads(m, &b, why);
            ks_model_free(m);
        }
    }
}

static void test_regularizers(ks_rng *r)
{
    static const char *const regs[] = {"l1", "l2", "l1_l2"};
    for (int i = 0; i < 3; i++) {
        batch b;
        ks_value layers;
        ks_model *m;
        char why[64];
        ks_value_init(&layers, KS_VALUE_LIST);
        input(&layers, 4, 0);
        put_str(dense(&layers, 5, "tanh"), "kernel_regularizer", regs[i]);
        {
            /* the map form with a stronger factor on the output layer */
            ks_value *a = dense(&layers, 2, "linear");
            ks_value *reg = ks_value_put(a, "kernel_regularizer", KS_VALUE_MAP);
            put_num(reg, "l2", 0.3);
        }
        fill_batch(&b, r, 4, 2, "real");
        snprintf(why, sizeof why, "kernel_regularizer %s", regs[i]);
        m = build(&layers, "mse", 0, 0, why);
        if (m) {
            CHECK(ks_model_penalty(m) > 0.0, "%s: no penalty", why);
            /* keep weights away from l1's kink at 0 */
            for (size_t j = 0; j < m->n_params; j++)
                if (fabsf(m->params[j]) < 0.05f)
                    m->params[j] = m->params[j] < 0 ? -0.05f : 0.05f;
        }
        check_grads(m, &b, why);
        ks_model_free(m);
    }
}

/* The penalty itself: l1·Σ|w| + l2·Σw², Keras's definition (no ½). */
static void test_penalty_value(void)
{
    ks_regularizer reg = {0.1, 0.01};
    float w[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0, 0, 0};
    double p = ks_regularizer_apply(&reg, w, g, 3);
    CHECK(fabs(p - (0.1 * 3.5 + 0.01 * 5.25)) < 1e-9, "penalty %g", p);
    CHECK(fabsf(g[1] - (-0.1f + 2 * 0.01f * -2.0f)) < 1e-7f, "l1/l2 gradient %g", (double)g[1]);
}

/* ------------------------------------------------------------ weight limit */

/* A layer kind that declares many weights, written to through what add_weight returns. */
static int many_count;

static ks_status many_build(ks_layer *l, ks_error *err)
{
    ks_shape s = {1, {2}};
    (void)err;
    l->out_shape = l->in_shape[0];
    for (int i = 0; i < many_count; i++) {
        char name[16];
        ks_weight *w;
        snprintf(name, sizeof name, "w%d", i);
        w = ks_layer_add_weight(l, name, &s, 1, KS_INIT_ZEROS);
        w->reg.l2 = 0.5;
    }
    return KS_OK;
}

/*
 * ks_layer_add_weight never writes past its table (issue 9, defect 8: it wrote past
 * KS_MAX_LAYER_WEIGHTS, 4, which BatchNormalization already filled).
 */
static void test_weight_limit(void)
{
    /* room after the layer, so that a write past its table lands here, not in the heap */
    struct padded {
        ks_layer l;
        ks_weight pad[64];
    } *b = calloc(1, sizeof *b);
    static const ks_key no_keys[] = {{NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};
    static const ks_layer_ops many_ops = {.name = "Many", .keys = no_keys, .build = many_build};
    int sentinel = 0;
    for (int count = 1; count <= 40; count++) {
        ks_error err;
        ks_status st;
        memset(b, 0, sizeof *b);
        b->l.ops = &many_ops;
        b->l.state = &sentinel;
        snprintf(b->l.name, sizeof b->l.name, "many");
        b->l.in_shape[0] = (ks_shape){1, {2}};
        many_count = count;
        st = ks_layer_build(NULL, &b->l, &err);
        CHECK(b->l.state == &sentinel && b->l.n_weights == count,
              "%d weights: the layer after the table was overwritten (state %p, n_weights %d)",
              count, b->l.state, b->l.n_weights);
        /* more than the table holds: a build error, not a write past it */
        if (count <= KS_MAX_LAYER_WEIGHTS)
            CHECK(st == KS_OK, "%d weights: %s", count, err.msg);
        else
            CHECK(st == KS_ERR_INTERNAL && strstr(err.msg, "Many declares") &&
                      strstr(err.msg, "more than KS_MAX_LAYER_WEIGHTS (16)"),
                  "%d weights: %s: %s", count, ks_status_str(st), err.msg);
        for (int i = 0; i < (int)(sizeof b->pad / sizeof b->pad[0]); i++)
            if (b->pad[i].reg.l2 != 0) {
                CHECK(0, "%d weights: a write past the layer's table", count);
                break;
            }
    }
    free(b);
}

int main(void)
{
    ks_rng *r;
    if (ks_rng_new(2024, 0, 0, &r) != KS_OK)
        return 1;
    test_activations(r);
    test_layers(r);
    test_losses(r);
    test_regularizers(r);
    test_penalty_value();
    test_weight_limit();
    ks_rng_free(r);
    return check_done();
}
