/*
 * model_compile.c — compile(): optimizer, loss and metrics by their Keras names and
 * arguments; and the model's normalized configuration (layers and compile section,
 * every argument explicit) that model files and the study database store.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct compile_args {
    ks_value optimizer;
    ks_value loss;
    ks_value metrics;
    ks_value loss_weights;
} compile_args;

static const ks_key compile_keys[] = {
    {"optimizer", KS_KEY_VALUE, offsetof(compile_args, optimizer), 0, 0, 0, NULL, NULL, 0},
    {"loss", KS_KEY_VALUE, offsetof(compile_args, loss), 0, 0, 0, NULL, NULL, KS_KEY_REQUIRED},
    {"metrics", KS_KEY_VALUE, offsetof(compile_args, metrics), 0, 0, 0, NULL, NULL, 0},
    {"loss_weights", KS_KEY_VALUE, offsetof(compile_args, loss_weights), 0, 0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

/* name or {name: {args}}: the name, and the args value (NULL if none) */
static ks_status name_and_args(const ks_value *v, const char *what, const char **name,
                               const ks_value **args, ks_error *err)
{
    char got[64];
    if (v->kind == KS_VALUE_STRING) {
        *name = v->string;
        *args = NULL;
        return KS_OK;
    }
    if (v->kind == KS_VALUE_MAP && v->n == 1) {
        *name = v->items[0].key;
        *args = &v->items[0];
        return KS_OK;
    }
    return ks_error_at(err, KS_ERR_CONFIG, v,
                       "%s must be a name or a map of one name to its arguments, got %s", what,
                       ks_value_describe(v, got, sizeof got));
}

static ks_status set_optimizer(ks_model *m, const ks_value *v, ks_error *err)
{
    const char *name = "rmsprop";
    const ks_value *args = NULL;
    const ks_optimizer_ops *ops;
    const ks_optimizer_common *c;
    ks_status s;
    if (v->kind != KS_VALUE_NULL &&
        (s = name_and_args(v, "optimizer", &name, &args, err)) != KS_OK)
        return s;
    ops = ks_optimizer_find(name);
    if (!ops) {
        const char *names[8];
        const char *near;
        int n = 0;
        for (; ks_optimizer_kinds[n]; n++)
            names[n] = ks_optimizer_kinds[n]->name;
        names[n] = NULL;
        near = ks_nearest_name(name, names);
        return ks_error_at(err, KS_ERR_CONFIG, args ? args : v,
                           "unknown optimizer \"%s\"%s%s%s; known: SGD, RMSprop, Adam", name,
                           near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
    }
    /* read into a new block; the model's optimizer changes only when all is well */
    {
        void *fresh = calloc(1, ops->args_size);
        if (!fresh)
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        ks_keys_defaults(ops->keys, fresh);
        if ((s = ks_keys_read(ops->keys, args, ops->name, fresh, err)) != KS_OK) {
            free(fresh);
            return s;
        }
        c = fresh;
        if ((c->clipnorm > 0) + (c->clipvalue > 0) + (c->global_clipnorm > 0) > 1) {
            free(fresh);
            return ks_error_at(err, KS_ERR_CONFIG, args ? args : v,
                               "%s: only one of clipnorm, clipvalue and global_clipnorm can be "
                               "set",
                               ops->name);
        }
        free(m->opt_args);
        m->opt_args = fresh;
    }
    m->opt = ops;
    m->lr = c->learning_rate;
    m->iterations = 0;
    free(m->slots);
    m->slots = NULL;
    if (ops->n_slots) {
        m->slots = calloc((size_t)ops->n_slots * m->n_params, sizeof *m->slots);
        if (!m->slots)
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory for optimizer state");
    }
    return KS_OK;
}

static ks_status set_loss(ks_model *m, const ks_value *v, ks_error *err)
{
    const char *name = NULL;
    const ks_value *args = NULL;
    const ks_loss_ops *ops;
    ks_status s = name_and_args(v, "loss", &name, &args, err);
    if (s != KS_OK)
        return s;
    ops = ks_loss_find(name);
    if (!ops) {
        const char *names[16];
        const char *near;
        int n = 0;
        for (; ks_loss_kinds[n]; n++)
            names[n] = ks_loss_kinds[n]->name;
        names[n] = NULL;
        near = ks_nearest_name(name, names);
        return ks_error_at(err, KS_ERR_CONFIG, args ? args : v,
                           "unknown loss \"%s\"%s%s%s; known: mse, mae, huber, "
                           "binary_crossentropy, categorical_crossentropy, "
                           "sparse_categorical_crossentropy",
                           name, near ? " (did you mean \"" : "", near ? near : "",
                           near ? "\"?)" : "");
    }
    ks_keys_defaults(ks_loss_keys, &m->loss_args);
    if ((s = ks_keys_read(ks_loss_keys, args, ops->name, &m->loss_args, err)) != KS_OK)
        return s;
    m->loss = ops;
    {
        const ks_layer *out = m->layers[m->output];
        ks_activation act = out->ops->activation ? out->ops->activation(out) : KS_ACT_LINEAR;
        m->fused = ops->fuses != KS_ACT_LINEAR && act == ops->fuses && !m->loss_args.from_logits;
    }
    return KS_OK;
}

static ks_status set_metrics(ks_model *m, const ks_value *v, ks_error *err)
{
    char got[64];
    m->n_metrics = 0;
    if (v->kind == KS_VALUE_NULL)
        return KS_OK;
    if (v->kind == KS_VALUE_STRING) {
        ks_status s = ks_metric_resolve(v->string, m->loss, &m->metrics[0], err);
        if (s != KS_OK)
            return ks_error_at(err, s, v, "%s", err ? err->msg : "bad metric");
        m->n_metrics = 1;
        return KS_OK;
    }
    if (v->kind != KS_VALUE_LIST)
        return ks_error_at(err, KS_ERR_CONFIG, v, "metrics must be a list of names, got %s",
                           ks_value_describe(v, got, sizeof got));
    if (v->n > KS_MAX_METRICS)
        return ks_error_at(err, KS_ERR_CONFIG, v, "at most %d metrics", KS_MAX_METRICS);
    for (size_t i = 0; i < v->n; i++) {
        const ks_value *e = &v->items[i];
        ks_status s;
        if (e->kind != KS_VALUE_STRING)
            return ks_error_at(err, KS_ERR_CONFIG, e, "a metric must be a name, got %s",
                               ks_value_describe(e, got, sizeof got));
        s = ks_metric_resolve(e->string, m->loss, &m->metrics[i], err);
        if (s != KS_OK) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err ? err->msg : "bad metric");
            return ks_error_at(err, s, e, "%s", msg);
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(m->metrics[j].name, m->metrics[i].name) == 0)
                return ks_error_at(err, KS_ERR_CONFIG, e, "metric \"%s\" listed twice",
                                   e->string);
        m->n_metrics = (int)i + 1;
    }
    return KS_OK;
}

static ks_status set_loss_weights(ks_model *m, const ks_value *v, ks_error *err)
{
    const ks_value *w = v;
    char got[64];
    m->loss_weight = 1.0;
    if (v->kind == KS_VALUE_NULL)
        return KS_OK;
    if (v->kind == KS_VALUE_LIST && v->n == 1)
        w = &v->items[0];
    if (w->kind != KS_VALUE_NUMBER || !(w->number >= 0) || !isfinite(w->number))
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "loss_weights must be a number >= 0 (or a list of one, for the "
                           "model's one output), got %s",
                           ks_value_describe(v, got, sizeof got));
    m->loss_weight = w->number;
    return KS_OK;
}

/* The normalized compile section. */
static ks_status write_compile(const ks_model *m, ks_value *out)
{
    ks_value *opt, *args, *loss, *metrics;
    ks_value_init(out, KS_VALUE_MAP);
    if (!(opt = ks_value_put(out, "optimizer", KS_VALUE_MAP)) ||
        !(args = ks_value_put(opt, m->opt->name, KS_VALUE_MAP)) ||
        ks_keys_write(m->opt->keys, m->opt_args, args) != KS_OK)
        return KS_ERR_NOMEM;
    if (!(loss = ks_value_put(out, "loss", KS_VALUE_MAP)) ||
        !(args = ks_value_put(loss, m->loss->name, KS_VALUE_MAP)) ||
        ks_keys_write(ks_loss_keys, &m->loss_args, args) != KS_OK)
        return KS_ERR_NOMEM;
    if (args->n == 0) {
        /* no arguments: the plain name, as users write it */
        if (ks_value_set_string(loss, m->loss->name) != KS_OK)
            return KS_ERR_NOMEM;
        for (size_t i = 0; i < loss->n; i++)
            ks_value_free(&loss->items[i]);
        free(loss->items);
        loss->items = NULL;
        loss->n = loss->cap = 0;
    }
    if (!(metrics = ks_value_put(out, "metrics", KS_VALUE_LIST)))
        return KS_ERR_NOMEM;
    for (int i = 0; i < m->n_metrics; i++) {
        ks_value *e = ks_value_push(metrics, KS_VALUE_NULL);
        if (!e || ks_value_set_string(e, m->metrics[i].name) != KS_OK)
            return KS_ERR_NOMEM;
    }
    if (m->loss_weight != 1.0) {
        ks_value *lw = ks_value_put(out, "loss_weights", KS_VALUE_NUMBER);
        if (!lw)
            return KS_ERR_NOMEM;
        lw->number = m->loss_weight;
    }
    return KS_OK;
}

ks_status ks_model_compile(ks_model *m, const ks_value *compile, ks_error *err)
{
    compile_args a;
    ks_status s;
    ks_keys_defaults(compile_keys, &a);
    m->compiled = 0;
    s = ks_keys_read(compile_keys, compile, "compile", &a, err);
    if (s == KS_OK)
        s = set_loss(m, &a.loss, err);
    if (s == KS_OK)
        s = set_optimizer(m, &a.optimizer, err);
    if (s == KS_OK)
        s = set_metrics(m, &a.metrics, err);
    if (s == KS_OK)
        s = set_loss_weights(m, &a.loss_weights, err);
    ks_keys_free(compile_keys, &a);
    if (s != KS_OK)
        return s;
    ks_value_free(&m->compile_cfg);
    if (write_compile(m, &m->compile_cfg) != KS_OK)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    m->compiled = 1;
    return KS_OK;
}

static ks_status write_layer(const ks_model *m, int i, ks_value *list)
{
    const ks_layer *l = m->layers[i];
    ks_value *e = ks_value_push(list, KS_VALUE_MAP), *args, *v;
    int default_input = l->n_in == 1 && l->inputs[0] == i - 1;
    if (!e || !(args = ks_value_put(e, l->ops->name, KS_VALUE_MAP)))
        return KS_ERR_NOMEM;
    if (!(v = ks_value_put(args, "name", KS_VALUE_NULL)) || ks_value_set_string(v, l->name))
        return KS_ERR_NOMEM;
    if (l->n_in > 0 && !default_input) {
        ks_value *in = ks_value_put(args, "inputs", KS_VALUE_LIST);
        if (!in)
            return KS_ERR_NOMEM;
        for (int k = 0; k < l->n_in; k++) {
            ks_value *nm = ks_value_push(in, KS_VALUE_NULL);
            if (!nm || ks_value_set_string(nm, m->layers[l->inputs[k]]->name))
                return KS_ERR_NOMEM;
        }
    }
    if (ks_keys_write(l->ops->keys, l->state, args) != KS_OK)
        return KS_ERR_NOMEM;
    if (l->n_weights > 0) {
        int frozen = 1;
        for (int w = 0; w < l->n_weights; w++)
            if (l->weights[w].trainable)
                frozen = 0;
        if (frozen && !(v = ks_value_put(args, "trainable", KS_VALUE_BOOL)))
            return KS_ERR_NOMEM;
    }
    return KS_OK;
}

ks_status ks_model_config(const ks_model *m, ks_value *layers, ks_value *compile)
{
    if (layers) {
        ks_value_init(layers, KS_VALUE_LIST);
        for (int i = 0; i < m->n_layers; i++)
            if (write_layer(m, i, layers) != KS_OK) {
                ks_value_free(layers);
                return KS_ERR_NOMEM;
            }
    }
    if (compile) {
        ks_value_init(compile, KS_VALUE_NULL);
        if (m->compiled && ks_value_clone(&m->compile_cfg, compile) != KS_OK) {
            if (layers)
                ks_value_free(layers);
            return KS_ERR_NOMEM;
        }
    }
    return KS_OK;
}
