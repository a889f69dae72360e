/*
 * evaluate.c — data bound to a model's named inputs and outputs (and checked against
 * its shapes and losses), the running totals behind every log, and evaluate(),
 * predict() and scoring of given outputs.  Evaluation reads the data in place.
 */
#include "engine_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- binding */

ks_bound ks_bound_slice(const ks_bound *b, size_t begin, size_t end)
{
    ks_bound s = *b;
    if (end > b->n)
        end = b->n;
    if (begin > end)
        begin = end;
    s.n = end - begin;
    for (int k = 0; k < KS_MAX_IO; k++) {
        if (s.x[k])
            s.x[k] += begin * b->x_size[k];
        if (s.t[k])
            s.t[k] += begin * b->t_size[k];
    }
    if (s.w)
        s.w += begin;
    return s;
}

/* The arrays of a ks_data, the single x/y case as one unnamed array each. */
static int arrays_of(const ks_data *d, int targets, ks_array *out)
{
    if (targets ? d->n_targets > 0 : d->n_inputs > 0) {
        int n = targets ? d->n_targets : d->n_inputs;
        n = n > KS_MAX_IO ? KS_MAX_IO : n;
        memcpy(out, targets ? d->targets : d->inputs, (size_t)n * sizeof *out);
        return n;
    }
    memset(out, 0, sizeof *out);
    if (targets) {
        if (!d->y || d->y_size == 0)
            return 0;
        out->data = d->y;
        out->size = d->y_size;
        out->shape.ndim = 1;
        out->shape.dim[0] = (int)d->y_size;
        out->is_label = d->y_is_label;
        out->n_classes = d->n_classes;
    } else {
        out->data = d->x;
        out->size = d->x_size;
        out->shape = d->x_shape;
    }
    return 1;
}

/* "wide, deep" or "one unnamed array" */
static const char *array_names(const ks_array *a, int n, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; k < n && len < size; k++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", k ? ", " : "",
                                a[k].name && a[k].name[0] ? a[k].name : "(unnamed)");
    return n ? buf : "nothing";
}

/* The array for model input or output k called name: by name, by position when unnamed,
   or the one array of a one-input model. */
static int match(const ks_array *a, int n, const char *name, int k, int n_model)
{
    int unnamed = 1;
    for (int j = 0; j < n; j++) {
        if (a[j].name && strcmp(a[j].name, name) == 0)
            return j;
        unnamed &= !a[j].name || !a[j].name[0];
    }
    if (n_model == 1 && n == 1)
        return 0;
    if (unnamed && n == n_model)
        return k;
    return -1;
}

/* The array of d for model input k (targets 0) or output k (targets 1). */
static ks_status array_for(const ks_model *m, const ks_data *d, int targets, int k,
                           const char *what, ks_array *out, ks_error *err)
{
    ks_array a[KS_MAX_IO];
    int n = arrays_of(d, targets, a);
    const char *name = targets ? m->outputs[k].name : ks_model_input_name(m, k);
    char list[256];
    int j = match(a, n, name, k, targets ? m->n_outputs : m->n_inputs);
    if (j < 0)
        return ks_error_set(err, KS_ERR_CONFIG, "%s data has no %s the model's %s \"%s\"; it "
                                                "has %s",
                            what, targets ? "targets for" : "array for",
                            targets ? "output" : "input", name,
                            array_names(a, n, list, sizeof list));
    *out = a[j];
    return KS_OK;
}

ks_status ks_model_input_array(const ks_model *m, const ks_data *d, int k, const char *what,
                               ks_array *out, ks_error *err)
{
    return array_for(m, d, 0, k, what, out, err);
}

ks_status ks_model_target_array(const ks_model *m, const ks_data *d, int k, const char *what,
                                ks_array *out, ks_error *err)
{
    return array_for(m, d, 1, k, what, out, err);
}

static ks_status bind_inputs(ks_model *m, const ks_data *d, const char *what, ks_bound *b,
                             ks_error *err)
{
    char x[64], y[64];
    ks_status s;
    for (int k = 0; k < m->n_inputs; k++) {
        const char *name = ks_model_input_name(m, k);
        const ks_shape *want = ks_model_input_shape_at(m, k);
        ks_array a;
        if ((s = ks_model_input_array(m, d, k, what, &a, err)) != KS_OK)
            return s;
        if (!ks_shape_feeds(&a.shape, want)) {
            if (m->n_inputs == 1)
                return ks_error_set(err, KS_ERR_SHAPE,
                                    "%s data has inputs of shape %s but the model expects %s",
                                    what, ks_shape_str(&a.shape, x, sizeof x),
                                    ks_shape_str(want, y, sizeof y));
            return ks_error_set(err, KS_ERR_SHAPE,
                                "%s data for the input \"%s\" has shape %s but the model "
                                "expects %s",
                                what, name, ks_shape_str(&a.shape, x, sizeof x),
                                ks_shape_str(want, y, sizeof y));
        }
        if ((s = ks_model_bind_input(m, k, &a, d->n, what, b, err)) != KS_OK)
            return s;
    }
    return KS_OK;
}

/* Every target finite and in the loss's domain; the first that is not, named by row
   ("training target 7 for \"aux\" (column 1) is -0.5; ..."; of is "" or " for \"aux\""). */
static ks_status check_target_domain(const ks_loss_ops *l, const ks_array *t, const char *what,
                                     const char *of, size_t n, ks_error *err)
{
    size_t total = n * t->size;
    for (size_t i = 0; i < total; i++) {
        float y = t->data[i];
        char col[40] = "";
        if (isfinite(y) && y >= l->target_min && y <= l->target_max)
            continue;
        if (t->size > 1)
            snprintf(col, sizeof col, " (column %zu)", i % t->size);
        if (!isfinite(y))
            return ks_error_set(err, KS_ERR_CONFIG, "%s target %zu%s%s is %g, not a finite number",
                                what, i / t->size, of, col, (double)y);
        return ks_error_set(err, KS_ERR_CONFIG, "%s target %zu%s%s is %g; %s expects %s", what,
                            i / t->size, of, col, (double)y, l->name,
                            l->target_text ? l->target_text : "other targets");
    }
    return KS_OK;
}

/* Check one output's targets against its loss: widths, class indices in range. */
static ks_status check_targets(const ks_model *m, int k, const ks_array *t, const char *what,
                               size_t n, ks_error *err)
{
    const ks_output *o = &m->outputs[k];
    int width = (int)o->size;
    char who[KS_NAME_MAX + 128];
    if (m->n_outputs == 1)
        snprintf(who, sizeof who, "%s targets", what);
    else
        snprintf(who, sizeof who, "%s targets for \"%s\"", what, o->name);
    if (o->loss->sparse) {
        if (t->size != 1)
            return ks_error_set(err, KS_ERR_SHAPE,
                                "%s have %zu columns but %s expects one class index per sample; "
                                "use categorical_crossentropy for one-hot targets",
                                who, t->size, o->loss->name);
        for (size_t i = 0; i < n; i++) {
            float y = t->data[i];
            if (!(y >= 0.0f && y < (float)width) || y != floorf(y)) {
                /* "training target 7" (the first word of who, the row) */
                return ks_error_set(err, KS_ERR_SHAPE,
                                    "%s target %zu%s%s%s is %g, not a class index in [0, %d) for "
                                    "the model's %d outputs",
                                    what, i, m->n_outputs > 1 ? " for \"" : "",
                                    m->n_outputs > 1 ? o->name : "",
                                    m->n_outputs > 1 ? "\"" : "", (double)y, width, width);
            }
        }
    } else if (t->size != (size_t)width) {
        if (t->is_label && width > 1)
            return ks_error_set(err, KS_ERR_SHAPE,
                                "%s are class indices but the model has %d outputs and loss %s; "
                                "use sparse_categorical_crossentropy (or one_hot: true in the "
                                "data)",
                                who, width, o->loss->name);
        return ks_error_set(err, KS_ERR_SHAPE, "%s have %zu columns but the model has %d outputs",
                            who, t->size, width);
    }
    if (!o->loss->sparse) {
        char of[KS_NAME_MAX + 16] = "";
        if (m->n_outputs > 1)
            snprintf(of, sizeof of, " for \"%s\"", o->name);
        return check_target_domain(o->loss, t, what, of, n, err);
    }
    return KS_OK;
}

static ks_status bind_targets(ks_model *m, const ks_data *d, const char *what, ks_bound *b,
                              ks_error *err)
{
    ks_array a[KS_MAX_IO];
    int n = arrays_of(d, 1, a);
    char list[256];
    ks_status s;
    if (n == 0)
        return ks_error_set(err, KS_ERR_CONFIG, "%s data has no targets", what);
    for (int k = 0; k < m->n_outputs; k++) {
        const char *name = m->outputs[k].name;
        int j = match(a, n, name, k, m->n_outputs);
        if (j < 0)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "%s data has no targets for the model's output \"%s\"; it has "
                                "%s",
                                what, name, array_names(a, n, list, sizeof list));
        if ((s = check_targets(m, k, &a[j], what, d->n, err)) != KS_OK)
            return s;
        b->t[k] = a[j].data;
        b->t_size[k] = a[j].size;
        b->t_label[k] = a[j].is_label;
    }
    for (int i = 0; i < m->n_metrics; i++) {
        int k = m->metrics[i].output;
        ks_metric_bind(&m->metrics[i], (int)m->outputs[k].size,
                       b->t_size[k] == 1 && m->outputs[k].size > 1);
    }
    return KS_OK;
}

ks_status ks_model_bind(ks_model *m, const ks_data *d, int need_y, const char *what,
                        ks_bound *b, ks_error *err)
{
    ks_status s;
    memset(b, 0, sizeof *b);
    b->n = d->n;
    b->w = d->w;
    if ((s = bind_inputs(m, d, what, b, err)) == KS_OK && need_y)
        s = bind_targets(m, d, what, b, err);
    if (s != KS_OK)
        ks_bound_release(b);
    return s;
}

ks_status ks_model_check_data(ks_model *m, const ks_data *d, const char *what, ks_error *err)
{
    ks_bound b;
    ks_status s;
    if (!m->compiled)
        return ks_error_set(err, KS_ERR_CONFIG, "the model must be compiled first");
    s = ks_model_bind(m, d, 1, what, &b, err);
    ks_bound_release(&b);
    return s;
}

/* -------------------------------------------------------------- totals */

void ks_totals_add(const ks_model *m, ks_totals *tot, double loss, const double *per_output,
                   const float *const *t, int n)
{
    /* the targets are as wide as the compiled loss wants them (bound and checked) */
    tot->loss += loss * n;
    tot->count += n;
    for (int k = 0; per_output && k < m->n_outputs; k++)
        tot->out_loss[k] += per_output[k] * n;
    for (int i = 0; i < m->n_metrics; i++) {
        const ks_metric *mt = &m->metrics[i];
        tot->metric[i] += ks_metric_sum(mt->kind, ks_model_output(m, mt->output), t[mt->output],
                                        NULL, n, (int)m->outputs[mt->output].size,
                                        (int)m->outputs[mt->output].t_size);
    }
}

void ks_totals_logs(const ks_model *m, const ks_totals *tot, const char *prefix, ks_logs *logs)
{
    char name[KS_LOG_NAME_MAX + 8];
    double c = tot->count > 0 ? tot->count : 1;
    snprintf(name, sizeof name, "%sloss", prefix);
    ks_logs_set(logs, name, tot->loss / c);
    for (int k = 0; m->n_outputs > 1 && k < m->n_outputs; k++) {
        snprintf(name, sizeof name, "%s%s", prefix, m->outputs[k].loss_log);
        ks_logs_set(logs, name, tot->out_loss[k] / c);
    }
    for (int i = 0; i < m->n_metrics; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, m->metrics[i].log_name);
        ks_logs_set(logs, name, tot->metric[i] / c);
    }
}

/* ------------------------------------------------------------ evaluate */

ks_status ks_model_run_evaluate(ks_model *m, const ks_bound *d, int batch, const char *prefix,
                                ks_callback *const *cbs, int ncb, const ks_fit_params *fp,
                                int epoch, ks_logs *logs, ks_error *err)
{
    ks_totals tot;
    ks_logs blogs;
    ks_callback_ctx ctx = {m, fp, 0, epoch, 0, &blogs, NULL};
    int steps = (int)((d->n + (size_t)batch - 1) / (size_t)batch);
    int per_batch = ks_callbacks_have(cbs, ncb, KS_CB_EVENT(on_test_batch_end));
    double penalty = ks_model_penalty(m), per[KS_MAX_IO];
    ks_status s, stop = KS_OK;
    memset(&tot, 0, sizeof tot);
    ks_logs_clear(&blogs);
    ctx.steps = steps;
    if ((s = ks_callbacks_call(cbs, ncb, KS_CB_EVENT(on_test_begin), &ctx, err)) != KS_OK &&
        s != KS_STOPPED)
        return s;
    for (int step = 0; step < steps; step++) {
        size_t begin = (size_t)step * (size_t)batch;
        ks_bound bb = ks_bound_slice(d, begin, begin + (size_t)batch);
        int n = (int)bb.n;
        double loss;
        ctx.batch = step;
        ks_model_forward(m, bb.x, n, 0);
        loss = ks_model_batch_loss(m, bb.t, bb.w, n, 0, per) + penalty;
        ks_totals_add(m, &tot, loss, per, bb.t, n);
        if (per_batch) {
            ks_totals_logs(m, &tot, "", &blogs);
            s = ks_callbacks_call(cbs, ncb, KS_CB_EVENT(on_test_batch_end), &ctx, err);
            if (s == KS_STOPPED)
                stop = s;
            else if (s != KS_OK)
                return s;
        }
    }
    ks_logs_clear(&blogs);
    ks_totals_logs(m, &tot, "", &blogs);
    s = ks_callbacks_call(cbs, ncb, KS_CB_EVENT(on_test_end), &ctx, err);
    if (s != KS_OK && s != KS_STOPPED)
        return s;
    ks_totals_logs(m, &tot, prefix, logs);
    return stop;
}

ks_status ks_model_evaluate(ks_model *m, const ks_data *data, int batch_size, int verbose,
                            ks_callback *const *callbacks, int n_callbacks, ks_logs *logs,
                            ks_error *err)
{
    ks_callback *list[KS_MAX_CALLBACKS + 1];
    ks_bound b;
    int n = 0;
    ks_status s;
    if (!m->compiled)
        return ks_error_set(err, KS_ERR_CONFIG, "the model must be compiled before evaluate");
    if (batch_size < 1)
        batch_size = 32;
    if (data->n == 0)
        return ks_error_set(err, KS_ERR_CONFIG, "evaluation data is empty");
    if (n_callbacks > KS_MAX_CALLBACKS)
        return ks_error_set(err, KS_ERR_CONFIG, "at most %d callbacks", KS_MAX_CALLBACKS);
    if ((s = ks_model_bind(m, data, 1, "evaluation", &b, err)) != KS_OK)
        return s;
    for (int i = 0; i < n_callbacks; i++)
        list[n++] = callbacks[i];
    if (verbose > 0) {
        if ((s = ks_callback_progbar_new(verbose, NULL, -1, &list[n])) != KS_OK) {
            ks_bound_release(&b);
            return ks_error_set(err, s, "out of memory");
        }
        n++;
    }
    if ((s = ks_model_workspace(m, batch_size, 0, err)) == KS_OK) {
        ks_logs_clear(logs);
        s = ks_model_run_evaluate(m, &b, batch_size, "", list, n, NULL, 0, logs, err);
        if (s == KS_STOPPED)
            s = KS_OK;
        if (s == KS_OK)
            s = ks_logs_room(logs, err);
    }
    if (verbose > 0)
        ks_callback_free(list[n - 1]);
    ks_bound_release(&b);
    return s;
}

/* ------------------------------------------------------------- predict */

ks_status ks_model_predict_outputs(ks_model *m, const ks_data *data, int batch_size,
                                   float *const *out, ks_error *err)
{
    ks_bound b;
    ks_status s;
    if (batch_size < 1)
        batch_size = 32;
    if ((s = ks_model_bind(m, data, 0, "prediction", &b, err)) != KS_OK)
        return s;
    if ((s = ks_model_workspace(m, batch_size, 0, err)) != KS_OK) {
        ks_bound_release(&b);
        return s;
    }
    for (size_t begin = 0; begin < data->n; begin += (size_t)batch_size) {
        ks_bound bb = ks_bound_slice(&b, begin, begin + (size_t)batch_size);
        ks_model_forward(m, bb.x, (int)bb.n, 0);
        for (int k = 0; k < m->n_outputs; k++)
            if (out[k])
                memcpy(out[k] + begin * m->outputs[k].size, ks_model_output(m, k),
                       bb.n * m->outputs[k].size * sizeof(float));
    }
    ks_bound_release(&b);
    return KS_OK;
}

ks_status ks_model_predict(ks_model *m, const ks_data *data, int batch_size, float *out,
                           ks_error *err)
{
    float *outs[KS_MAX_IO] = {out};
    return ks_model_predict_outputs(m, data, batch_size, outs, err);
}

/* --------------------------------------------------------------- score */

/* The loss (weighted by its loss weight, or not) and metrics of output k for given
   outputs, under single-output log names. */
static ks_status score(ks_model *m, int k, const ks_data *data, const float *outputs,
                       int weighted, ks_logs *logs, ks_error *err)
{
    const ks_output *o;
    ks_bound b;
    double loss = 0, count = 0, metric[KS_MAX_METRICS] = {0};
    ks_status s;
    if (!m->compiled)
        return ks_error_set(err, KS_ERR_CONFIG, "the model must be compiled before scoring");
    if (k < 0 || k >= m->n_outputs)
        return ks_error_set(err, KS_ERR_CONFIG, "the model has no output %d", k);
    if (data->n == 0)
        return ks_error_set(err, KS_ERR_CONFIG, "evaluation data is empty");
    if ((s = ks_model_bind(m, data, 1, "evaluation", &b, err)) != KS_OK)
        return s;
    o = &m->outputs[k];
    /* in slices, so that int row counts never overflow */
    for (size_t begin = 0; begin < data->n; begin += 65536) {
        ks_bound bb = ks_bound_slice(&b, begin, begin + 65536);
        int n = (int)bb.n;
        const float *p = outputs + begin * o->size;
        loss += (weighted ? o->loss_weight : 1.0) *
                o->loss->eval(&o->loss_args, p, bb.t[k], bb.w, n, (int)o->size, 0, NULL, 0.0f);
        count += n;
        for (int i = 0; i < m->n_metrics; i++)
            if (m->metrics[i].output == k)
                metric[i] += ks_metric_sum(m->metrics[i].kind, p, bb.t[k], NULL, n, (int)o->size,
                                           (int)o->t_size);
    }
    ks_bound_release(&b);
    ks_logs_clear(logs);
    ks_logs_set(logs, "loss", loss / count);
    for (int i = 0; i < m->n_metrics; i++)
        if (m->metrics[i].output == k)
            ks_logs_set(logs, m->metrics[i].name, metric[i] / count);
    return KS_OK;
}

ks_status ks_model_score(ks_model *m, const ks_data *data, const float *outputs, ks_logs *logs,
                         ks_error *err)
{
    return score(m, 0, data, outputs, m->n_outputs == 1, logs, err);
}

ks_status ks_model_score_output(ks_model *m, int k, const ks_data *data, const float *outputs,
                                ks_logs *logs, ks_error *err)
{
    return score(m, k, data, outputs, m->n_outputs == 1, logs, err);
}
