/*
 * model_compile.c — compile(): optimizer, losses and metrics by their Keras names and
 * arguments, one per output or per output name for models of several outputs, and the
 * normalized compile section that model files and the study database store.
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

/* One loss (name or {name: {args}}) for output k. */
static ks_status set_one_loss(ks_model *m, int k, const ks_value *v, ks_error *err)
{
    ks_output *o = &m->outputs[k];
    const ks_node *nd = &m->nodes[o->node];
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
    ks_keys_defaults(ks_loss_keys, &o->loss_args);
    if ((s = ks_keys_read(ks_loss_keys, args, ops->name, &o->loss_args, err)) != KS_OK)
        return s;
    o->loss = ops;
    o->t_size = ops->sparse ? 1 : o->size;
    {
        /* the loss folds the output's activation in when nothing else reads the output */
        const ks_layer *l = nd->layer;
        ks_activation act = l->ops->activation ? l->ops->activation(l) : KS_ACT_LINEAR;
        m->nodes[o->node].fused = ops->fuses != KS_ACT_LINEAR && act == ops->fuses &&
                                  !o->loss_args.from_logits && nd->mode == KS_NODE_LAYER &&
                                  nd->consumers == 0;
    }
    return KS_OK;
}

static int loss_named(const char *key)
{
    return ks_loss_find(key) != NULL;
}

/*
 * A setting given per output: one value for every output, a list in output order, or
 * a map by output name.  per[k] receives output k's value (NULL: not given).  A map
 * is per output when the model has several outputs or names one, unless it is a single
 * loss-like key (one_is_named tells: {huber: {delta: 2}} is a loss with arguments).
 */
static ks_status per_output(const ks_model *m, const ks_value *v, const char *what,
                            int (*one_is_named)(const char *), int list_is_one,
                            const ks_value **per, ks_error *err)
{
    char got[64];
    for (int k = 0; k < m->n_outputs; k++)
        per[k] = v;
    if (v->kind == KS_VALUE_LIST && !list_is_one) {
        if (v->n != (size_t)m->n_outputs)
            return ks_error_at(err, KS_ERR_CONFIG, v,
                               "%s lists %zu values but the model has %d output%s", what, v->n,
                               m->n_outputs, m->n_outputs == 1 ? "" : "s");
        for (int k = 0; k < m->n_outputs; k++)
            per[k] = &v->items[k];
        return KS_OK;
    }
    if (v->kind != KS_VALUE_MAP)
        return KS_OK;
    {
        int by_output = m->n_outputs > 1;
        for (size_t i = 0; i < v->n; i++)
            by_output |= ks_model_output_index(m, v->items[i].key) >= 0;
        if (v->n == 1 && one_is_named && one_is_named(v->items[0].key) &&
            ks_model_output_index(m, v->items[0].key) < 0)
            by_output = 0;
        if (!by_output)
            return KS_OK;
    }
    for (int k = 0; k < m->n_outputs; k++)
        per[k] = NULL;
    for (size_t i = 0; i < v->n; i++) {
        const ks_value *e = &v->items[i];
        int k = ks_model_output_index(m, e->key);
        if (k < 0) {
            const char *names[KS_MAX_IO + 1];
            char list[KS_MAX_IO * (KS_NAME_MAX + 2)] = "";
            const char *near;
            for (int j = 0; j < m->n_outputs; j++) {
                size_t len = strlen(list);
                names[j] = m->outputs[j].name;
                snprintf(list + len, sizeof list - len, "%s%s", j ? ", " : "", names[j]);
            }
            names[m->n_outputs] = NULL;
            near = ks_nearest_name(e->key, names);
            return ks_error_at_key(err, KS_ERR_CONFIG, e,
                                   "%s names no output \"%s\"%s%s%s; the model's outputs are %s",
                                   what, e->key, near ? " (did you mean \"" : "",
                                   near ? near : "", near ? "\"?)" : "", list);
        }
        per[k] = e;
    }
    (void)got;
    return KS_OK;
}

static ks_status set_loss(ks_model *m, const ks_value *v, ks_error *err)
{
    const ks_value *per[KS_MAX_IO];
    ks_status s = per_output(m, v, "loss", loss_named, 0, per, err);
    for (int k = 0; k < m->n_outputs && s == KS_OK; k++) {
        if (!per[k])
            return ks_error_at(err, KS_ERR_CONFIG, v,
                               "loss gives no loss for the output \"%s\"; give one for every "
                               "output",
                               m->outputs[k].name);
        s = set_one_loss(m, k, per[k], err);
    }
    return s;
}

/* Append the metrics of value v (a name or a list of names) for output k. */
static ks_status add_metrics(ks_model *m, int k, const ks_value *v, ks_error *err)
{
    const ks_value *one = v;
    size_t n = v->kind == KS_VALUE_LIST ? v->n : 1;
    char got[64];
    if (v->kind == KS_VALUE_NULL)
        return KS_OK;
    if (v->kind != KS_VALUE_LIST && v->kind != KS_VALUE_STRING)
        return ks_error_at(err, KS_ERR_CONFIG, v, "metrics must be a list of names, got %s",
                           ks_value_describe(v, got, sizeof got));
    for (size_t i = 0; i < n; i++) {
        ks_metric *mt;
        ks_status s;
        const ks_output *o = &m->outputs[k];
        one = v->kind == KS_VALUE_LIST ? &v->items[i] : v;
        if (one->kind != KS_VALUE_STRING)
            return ks_error_at(err, KS_ERR_CONFIG, one, "a metric must be a name, got %s",
                               ks_value_describe(one, got, sizeof got));
        if (m->n_metrics == KS_MAX_METRICS)
            return ks_error_at(err, KS_ERR_CONFIG, one, "at most %d metrics", KS_MAX_METRICS);
        mt = &m->metrics[m->n_metrics];
        s = ks_metric_resolve(one->string, o->loss, mt, err);
        if (s != KS_OK) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err ? err->msg : "bad metric");
            return ks_error_at(err, s, one, "%s", msg);
        }
        mt->output = k;
        {
            char log[KS_LOG_NAME_MAX + KS_PATH_MAX];
            if (m->n_outputs > 1)
                snprintf(log, sizeof log, "%s_%s", o->name, one->string);
            else
                snprintf(log, sizeof log, "%s", one->string);
            if (strlen(log) >= sizeof mt->log_name)
                return ks_error_at(err, KS_ERR_CONFIG, one,
                                   "the log name %s is too long; name the output shorter", log);
            memcpy(mt->log_name, log, strlen(log) + 1);
        }
        for (int j = 0; j < m->n_metrics; j++)
            if (strcmp(m->metrics[j].log_name, mt->log_name) == 0)
                return ks_error_at(err, KS_ERR_CONFIG, one, "metric \"%s\" listed twice",
                                   one->string);
        m->n_metrics++;
    }
    return KS_OK;
}

static ks_status set_metrics(ks_model *m, const ks_value *v, ks_error *err)
{
    const ks_value *per[KS_MAX_IO];
    int nested = 0;
    ks_status s;
    m->n_metrics = 0;
    if (v->kind == KS_VALUE_NULL)
        return KS_OK;
    /* a list of lists is one list per output; a flat list is for every output */
    for (size_t i = 0; v->kind == KS_VALUE_LIST && i < v->n; i++)
        nested |= v->items[i].kind == KS_VALUE_LIST;
    if ((s = per_output(m, v, "metrics", NULL, !nested, per, err)) != KS_OK)
        return s;
    for (int k = 0; k < m->n_outputs && s == KS_OK; k++)
        if (per[k])
            s = add_metrics(m, k, per[k], err);
    return s;
}

static ks_status set_loss_weights(ks_model *m, const ks_value *v, ks_error *err)
{
    const ks_value *per[KS_MAX_IO];
    char got[64];
    ks_status s;
    for (int k = 0; k < m->n_outputs; k++)
        m->outputs[k].loss_weight = 1.0;
    if (v->kind == KS_VALUE_NULL)
        return KS_OK;
    if ((s = per_output(m, v, "loss_weights", NULL, 0, per, err)) != KS_OK)
        return s;
    for (int k = 0; k < m->n_outputs; k++) {
        const ks_value *w = per[k];
        if (!w)
            continue;
        if (w->kind != KS_VALUE_NUMBER || !(w->number >= 0) || !isfinite(w->number))
            return ks_error_at(err, KS_ERR_CONFIG, w,
                               "loss_weights must be numbers >= 0 (one, a list in output order "
                               "or a map by output name), got %s",
                               ks_value_describe(w, got, sizeof got));
        m->outputs[k].loss_weight = w->number;
    }
    return KS_OK;
}

/* The loss of output o as compile takes it, into map under key: the name, or
   {name: {args}}. */
static ks_status write_loss(const ks_output *o, ks_value *map, const char *key)
{
    ks_value loss, *args;
    ks_status s = KS_ERR_NOMEM;
    ks_value_init(&loss, KS_VALUE_MAP);
    if ((args = ks_value_put(&loss, o->loss->name, KS_VALUE_MAP)) &&
        ks_keys_write(ks_loss_keys, &o->loss_args, args) == KS_OK) {
        if (args->n == 0) {
            /* no arguments: the plain name, as users write it */
            ks_value_free(&loss);
            ks_value_init(&loss, KS_VALUE_NULL);
            s = ks_value_set_string(&loss, o->loss->name);
        } else {
            s = KS_OK;
        }
    }
    if (s == KS_OK)
        s = ks_value_put_copy(map, key, &loss);
    ks_value_free(&loss);
    return s;
}

/* The normalized compile section: per-output settings as maps by output name. */
static ks_status write_compile(const ks_model *m, ks_value *out)
{
    ks_value *opt, *args, *loss = NULL, *metrics, *lw;
    int multi = m->n_outputs > 1, weighted = 0;
    ks_value_init(out, KS_VALUE_MAP);
    if (!(opt = ks_value_put(out, "optimizer", KS_VALUE_MAP)) ||
        !(args = ks_value_put(opt, m->opt->name, KS_VALUE_MAP)) ||
        ks_keys_write(m->opt->keys, m->opt_args, args) != KS_OK)
        return KS_ERR_NOMEM;
    if (multi && !(loss = ks_value_put(out, "loss", KS_VALUE_MAP)))
        return KS_ERR_NOMEM;
    for (int k = 0; k < m->n_outputs; k++) {
        if (write_loss(&m->outputs[k], multi ? loss : out,
                       multi ? m->outputs[k].name : "loss") != KS_OK)
            return KS_ERR_NOMEM;
        weighted |= m->outputs[k].loss_weight != 1.0;
    }
    if (!(metrics = ks_value_put(out, "metrics", multi ? KS_VALUE_MAP : KS_VALUE_LIST)))
        return KS_ERR_NOMEM;
    for (int i = 0; i < m->n_metrics; i++) {
        const ks_metric *mt = &m->metrics[i];
        ks_value *list = metrics, *e;
        if (multi && !(list = ks_value_get(metrics, m->outputs[mt->output].name)) &&
            !(list = ks_value_put(metrics, m->outputs[mt->output].name, KS_VALUE_LIST)))
            return KS_ERR_NOMEM;
        if (!(e = ks_value_push(list, KS_VALUE_NULL)) || ks_value_set_string(e, mt->name) != KS_OK)
            return KS_ERR_NOMEM;
    }
    if (weighted) {
        if (!(lw = ks_value_put(out, "loss_weights", multi ? KS_VALUE_MAP : KS_VALUE_NUMBER)))
            return KS_ERR_NOMEM;
        if (!multi)
            lw->number = m->outputs[0].loss_weight;
        for (int k = 0; multi && k < m->n_outputs; k++) {
            ks_value *w = ks_value_put(lw, m->outputs[k].name, KS_VALUE_NUMBER);
            if (!w)
                return KS_ERR_NOMEM;
            w->number = m->outputs[k].loss_weight;
        }
    }
    return KS_OK;
}

ks_status ks_model_compile(ks_model *m, const ks_value *compile, ks_error *err)
{
    compile_args a;
    ks_status s;
    ks_keys_defaults(compile_keys, &a);
    m->compiled = 0;
    for (int i = 0; i < m->n_nodes; i++)
        m->nodes[i].fused = 0;
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
    /* buffers sized for the last compile's losses are stale */
    free(m->ws.block);
    m->ws.block = NULL;
    if (s != KS_OK) {
        for (int i = 0; i < m->n_nodes; i++)
            m->nodes[i].fused = 0;
        return s;
    }
    ks_value_free(&m->compile_cfg);
    if (write_compile(m, &m->compile_cfg) != KS_OK)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    m->compiled = 1;
    return KS_OK;
}

