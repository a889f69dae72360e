/*
 * fit.c — model.fit(): Keras's training loop.  Every buffer is sized before the
 * first step (the workspace, the sample order); a step gathers a batch, runs forward,
 * loss, backward and the optimizer, and updates the running epoch means that the
 * callbacks and the progress bar see.  Shuffling and dropout streams derive from
 * (seed, epoch), so a run resumed with initial_epoch repeats the same numbers.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

ks_fit_params ks_fit_params_default(void)
{
    ks_fit_params p;
    memset(&p, 0, sizeof p);
    p.epochs = 1;
    p.batch_size = 32;
    p.verbose = 1;
    p.shuffle = 1;
    p.validation_freq = 1;
    p.tty = -1;
    return p;
}

/* Running epoch totals: loss weighted by batch size, metrics by sample. */
typedef struct epoch_totals {
    double loss;
    double metric[KS_MAX_METRICS];
    double count;
} epoch_totals;

static void totals_logs(const ks_model *m, const epoch_totals *t, const char *prefix,
                        ks_logs *logs)
{
    char name[KS_LOG_NAME_MAX + 8];
    double c = t->count > 0 ? t->count : 1;
    snprintf(name, sizeof name, "%sloss", prefix);
    ks_logs_set(logs, name, t->loss / c);
    for (int i = 0; i < m->n_metrics; i++) {
        snprintf(name, sizeof name, "%s%s", prefix, m->metrics[i].name);
        ks_logs_set(logs, name, t->metric[i] / c);
    }
}

/* Logs that lost entries for want of room are an error, whoever set them. */
static ks_status logs_fit(const ks_logs *logs, ks_error *err)
{
    if (logs->dropped == 0)
        return KS_OK;
    return ks_error_set(err, KS_ERR_CONFIG,
                        "more than %d logs in one epoch (losses and metrics, and their val_ "
                        "forms); at most %d, KS_LOGS_MAX",
                        KS_LOGS_MAX, KS_LOGS_MAX);
}

static void add_metrics(const ks_model *m, const float *out, const float *t, int n,
                        epoch_totals *tot)
{
    int k = (int)m->layers[m->output]->out_size;
    for (int i = 0; i < m->n_metrics; i++)
        tot->metric[i] += ks_metric_sum(m->metrics[i].kind, out, t, NULL, n, k);
}

/* Check that data fits the model and the loss; bind "accuracy" to its kind. */
static ks_status check_data(ks_model *m, const ks_data *d, const char *what, int need_y,
                            ks_error *err);

ks_status ks_model_check_data(ks_model *m, const ks_data *d, const char *what, ks_error *err)
{
    if (!m->compiled)
        return ks_error_set(err, KS_ERR_CONFIG, "the model must be compiled first");
    return check_data(m, d, what, 1, err);
}

/* Every target finite and in the loss's domain; the first that is not, named by row. */
static ks_status check_target_domain(const ks_model *m, const ks_data *d, const char *what,
                                     ks_error *err)
{
    const ks_loss_ops *l = m->loss;
    size_t total = d->n * d->y_size;
    for (size_t i = 0; i < total; i++) {
        float y = d->y[i];
        char col[40] = "";
        if (isfinite(y) && y >= l->target_min && y <= l->target_max)
            continue;
        if (d->y_size > 1)
            snprintf(col, sizeof col, " (column %zu)", i % d->y_size);
        if (!isfinite(y))
            return ks_error_set(err, KS_ERR_CONFIG, "%s target %zu%s is %g, not a finite number",
                                what, i / d->y_size, col, (double)y);
        return ks_error_set(err, KS_ERR_CONFIG, "%s target %zu%s is %g; %s expects %s", what,
                            i / d->y_size, col, (double)y, l->name,
                            l->target_text ? l->target_text : "other targets");
    }
    return KS_OK;
}

static ks_status check_data(ks_model *m, const ks_data *d, const char *what, int need_y,
                            ks_error *err)
{
    const ks_shape *in = ks_model_input_shape(m);
    int k = (int)m->layers[m->output]->out_size;
    char a[64], b[64];
    if (!ks_shape_feeds(&d->x_shape, in))
        return ks_error_set(err, KS_ERR_SHAPE,
                            "%s data has inputs of shape %s but the model expects %s", what,
                            ks_shape_str(&d->x_shape, a, sizeof a), ks_shape_str(in, b, sizeof b));
    if (!need_y)
        return KS_OK;
    if (!d->y || d->y_size == 0)
        return ks_error_set(err, KS_ERR_CONFIG, "%s data has no targets", what);
    if (m->loss->sparse) {
        if (d->y_size != 1)
            return ks_error_set(err, KS_ERR_SHAPE,
                                "%s targets have %zu columns but %s expects one class index "
                                "per sample; use categorical_crossentropy for one-hot targets",
                                what, d->y_size, m->loss->name);
        for (size_t i = 0; i < d->n; i++) {
            float y = d->y[i];
            if (!(y >= 0.0f && y < (float)k) || y != floorf(y))
                return ks_error_set(err, KS_ERR_SHAPE,
                                    "%s target %zu is %g, not a class index in [0, %d) for the "
                                    "model's %d outputs",
                                    what, i, (double)y, k, k);
        }
    } else if (d->y_size != (size_t)k) {
        if (d->y_is_label && k > 1)
            return ks_error_set(err, KS_ERR_SHAPE,
                                "%s targets are class indices but the model has %d outputs and "
                                "loss %s; use sparse_categorical_crossentropy (or one_hot: true "
                                "in the data)",
                                what, k, m->loss->name);
        return ks_error_set(err, KS_ERR_SHAPE,
                            "%s targets have %zu columns but the model has %d outputs", what,
                            d->y_size, k);
    }
    if (!m->loss->sparse) {
        ks_status s = check_target_domain(m, d, what, err);
        if (s != KS_OK)
            return s;
    }
    for (int i = 0; i < m->n_metrics; i++)
        ks_metric_bind(&m->metrics[i], k, d->y_size == 1 && k > 1);
    return KS_OK;
}

/*
 * One pass of evaluation over d in order, batch rows at a time, into logs with the
 * prefix ("" or "val_").  Data rows are read in place: nothing is copied.
 */
static ks_status run_evaluate(ks_model *m, const ks_data *d, int batch, const char *prefix,
                              ks_callback *const *cbs, int ncb, const ks_fit_params *fp,
                              int epoch, ks_logs *logs, ks_error *err)
{
    epoch_totals tot;
    ks_logs blogs;
    ks_callback_ctx ctx = {m, fp, 0, epoch, 0, &blogs};
    int steps = (int)((d->n + (size_t)batch - 1) / (size_t)batch);
    int per_batch = ks_callbacks_have(cbs, ncb, KS_CB_EVENT(on_test_batch_end));
    double penalty = ks_model_penalty(m);
    ks_status s, stop = KS_OK;
    memset(&tot, 0, sizeof tot);
    ks_logs_clear(&blogs);
    ctx.steps = steps;
    if ((s = ks_callbacks_call(cbs, ncb, KS_CB_EVENT(on_test_begin), &ctx, err)) != KS_OK &&
        s != KS_STOPPED)
        return s;
    for (int step = 0; step < steps; step++) {
        size_t begin = (size_t)step * (size_t)batch;
        int n = (int)((d->n - begin) < (size_t)batch ? d->n - begin : (size_t)batch);
        const float *x = d->x + begin * d->x_size, *t = d->y + begin * d->y_size;
        const float *out;
        double loss;
        ctx.batch = step;
        out = ks_model_forward(m, x, n, 0);
        loss = ks_model_batch_loss(m, t, d->w ? d->w + begin : NULL, n, 0) + penalty;
        tot.loss += loss * n;
        tot.count += n;
        add_metrics(m, out, t, n, &tot);
        if (per_batch) {
            totals_logs(m, &tot, "", &blogs);
            s = ks_callbacks_call(cbs, ncb, KS_CB_EVENT(on_test_batch_end), &ctx, err);
            if (s == KS_STOPPED)
                stop = s;
            else if (s != KS_OK)
                return s;
        }
    }
    ks_logs_clear(&blogs);
    totals_logs(m, &tot, "", &blogs);
    s = ks_callbacks_call(cbs, ncb, KS_CB_EVENT(on_test_end), &ctx, err);
    if (s != KS_OK && s != KS_STOPPED)
        return s;
    totals_logs(m, &tot, prefix, logs);
    return stop;
}

ks_status ks_model_evaluate(ks_model *m, const ks_data *data, int batch_size, int verbose,
                            ks_callback *const *callbacks, int n_callbacks, ks_logs *logs,
                            ks_error *err)
{
    ks_callback *list[KS_MAX_CALLBACKS + 1];
    int n = 0;
    ks_status s;
    if (!m->compiled)
        return ks_error_set(err, KS_ERR_CONFIG, "the model must be compiled before evaluate");
    if (batch_size < 1)
        batch_size = 32;
    if ((s = check_data(m, data, "evaluation", 1, err)) != KS_OK)
        return s;
    if (data->n == 0)
        return ks_error_set(err, KS_ERR_CONFIG, "evaluation data is empty");
    if (n_callbacks > KS_MAX_CALLBACKS)
        return ks_error_set(err, KS_ERR_CONFIG, "at most %d callbacks", KS_MAX_CALLBACKS);
    for (int i = 0; i < n_callbacks; i++)
        list[n++] = callbacks[i];
    if (verbose > 0) {
        if ((s = ks_callback_progbar_new(verbose, NULL, -1, &list[n])) != KS_OK)
            return ks_error_set(err, s, "out of memory");
        n++;
    }
    if ((s = ks_model_workspace(m, batch_size, data->y_size, 0, err)) == KS_OK) {
        ks_logs_clear(logs);
        s = run_evaluate(m, data, batch_size, "", list, n, NULL, 0, logs, err);
        if (s == KS_STOPPED)
            s = KS_OK;
        if (s == KS_OK)
            s = logs_fit(logs, err);
    }
    if (verbose > 0)
        ks_callback_free(list[n - 1]);
    return s;
}

ks_status ks_model_predict(ks_model *m, const ks_data *data, int batch_size, float *out,
                           ks_error *err)
{
    size_t k = m->layers[m->output]->out_size;
    ks_status s;
    if (batch_size < 1)
        batch_size = 32;
    if ((s = check_data(m, data, "prediction", 0, err)) != KS_OK)
        return s;
    if ((s = ks_model_workspace(m, batch_size, 1, 0, err)) != KS_OK)
        return s;
    for (size_t begin = 0; begin < data->n; begin += (size_t)batch_size) {
        int n = (int)(data->n - begin < (size_t)batch_size ? data->n - begin : (size_t)batch_size);
        const float *y = ks_model_forward(m, data->x + begin * data->x_size, n, 0);
        memcpy(out + begin * k, y, (size_t)n * k * sizeof *out);
    }
    return KS_OK;
}

ks_status ks_model_score(ks_model *m, const ks_data *data, const float *outputs, ks_logs *logs,
                         ks_error *err)
{
    int k = (int)m->layers[m->output]->out_size;
    epoch_totals tot;
    ks_status s;
    if (!m->compiled)
        return ks_error_set(err, KS_ERR_CONFIG, "the model must be compiled before scoring");
    if ((s = check_data(m, data, "evaluation", 1, err)) != KS_OK)
        return s;
    if (data->n == 0)
        return ks_error_set(err, KS_ERR_CONFIG, "evaluation data is empty");
    memset(&tot, 0, sizeof tot);
    /* in slices, so that int row counts never overflow */
    for (size_t begin = 0; begin < data->n; begin += 65536) {
        int n = (int)(data->n - begin < 65536 ? data->n - begin : 65536);
        const float *p = outputs + begin * (size_t)k, *t = data->y + begin * data->y_size;
        tot.loss += m->loss_weight * m->loss->eval(&m->loss_args, p, t,
                                                   data->w ? data->w + begin : NULL, n, k, 0,
                                                   NULL, 0.0f);
        tot.count += n;
        add_metrics(m, p, t, n, &tot);
    }
    ks_logs_clear(logs);
    totals_logs(m, &tot, "", logs);
    return KS_OK;
}

/* ------------------------------------------------------------------ fit */

typedef struct fit_run {
    ks_model *m;
    const ks_fit_params *p;
    ks_data train, val;
    int has_val;
    const float *weights;       /* per-sample weights of train (class_weight or data), or NULL */
    size_t n;                   /* training samples */
    int steps;                  /* per epoch */
    int batches_per_pass;
    uint64_t seed;
    ks_callback *const *cbs;
    int ncb;
    int fuse_sgd;               /* plain SGD applied inside backward */
} fit_run;

/* The sample order of pass number pass (a fresh permutation per pass when shuffling). */
static void pass_order(fit_run *r, int64_t pass)
{
    size_t *order = r->m->ws.order;
    for (size_t i = 0; i < r->n; i++)
        order[i] = i;
    if (r->p->shuffle) {
        ks_rng_reseed(r->m->rng, r->seed, ks_hash_string("shuffle"), (uint64_t)pass);
        ks_rng_shuffle(r->m->rng, order, r->n);
    }
}

static ks_status train_epoch(fit_run *r, int epoch, ks_logs *logs, ks_error *err)
{
    ks_model *m = r->m;
    ks_workspace *ws = &m->ws;
    const ks_data *d = &r->train;
    size_t bs = (size_t)r->p->batch_size;
    epoch_totals tot;
    ks_logs blogs;
    ks_callback_ctx ctx = {m, r->p, r->steps, epoch, 0, &blogs};
    int have_begin = ks_callbacks_have(r->cbs, r->ncb, KS_CB_EVENT(on_train_batch_begin));
    int have_end = ks_callbacks_have(r->cbs, r->ncb, KS_CB_EVENT(on_train_batch_end));
    int64_t pass = -1;
    ks_status stop = KS_OK, s;
    memset(&tot, 0, sizeof tot);
    ks_logs_clear(&blogs);
    for (int step = 0; step < r->steps; step++) {
        /* global batch g of an endless sequence of passes over the data */
        int64_t g = (int64_t)epoch * r->steps + step;
        int64_t this_pass = g / r->batches_per_pass;
        size_t begin = (size_t)(g % r->batches_per_pass) * bs;
        int n = (int)(r->n - begin < bs ? r->n - begin : bs);
        const float *out;
        double loss;
        if (this_pass != pass) {
            pass = this_pass;
            pass_order(r, pass);
            /* dropout stream of this epoch and pass */
            ks_rng_reseed(m->rng, r->seed, ks_hash_string("dropout"),
                          ks_hash64((uint64_t)epoch, (uint64_t)pass));
        }
        for (int i = 0; i < n; i++) {
            size_t row = ws->order[begin + (size_t)i];
            memcpy(ws->x + (size_t)i * d->x_size, d->x + row * d->x_size,
                   d->x_size * sizeof(float));
            memcpy(ws->t + (size_t)i * d->y_size, d->y + row * d->y_size,
                   d->y_size * sizeof(float));
            if (r->weights)
                ws->sw[i] = r->weights[row];
        }
        ctx.batch = step;
        if (have_begin) {
            s = ks_callbacks_call(r->cbs, r->ncb, KS_CB_EVENT(on_train_batch_begin), &ctx, err);
            if (s == KS_STOPPED)
                stop = s;
            else if (s != KS_OK)
                return s;
        }
        out = ks_model_forward(m, ws->x, n, 1);
        loss = ks_model_batch_loss(m, ws->t, r->weights ? ws->sw : NULL, n, 1);
        loss += ks_model_backward(m, n, r->fuse_sgd);
        if (!r->fuse_sgd)
            ks_model_apply_gradients(m);
        tot.loss += loss * n;
        tot.count += n;
        add_metrics(m, out, ws->t, n, &tot);
        if (have_end) {
            totals_logs(m, &tot, "", &blogs);
            s = ks_callbacks_call(r->cbs, r->ncb, KS_CB_EVENT(on_train_batch_end), &ctx, err);
            if (s == KS_STOPPED)
                stop = s;
            else if (s != KS_OK)
                return s;
        }
        if (stop == KS_STOPPED)
            break;
    }
    totals_logs(m, &tot, "", logs);
    return stop;
}

static int should_validate(const ks_fit_params *p, int epoch)
{
    int freq = p->validation_freq > 0 ? p->validation_freq : 1;
    return (epoch + 1) % freq == 0;
}

static ks_status fit_setup(fit_run *r, ks_model *m, const ks_data *train, const ks_data *val,
                           const ks_fit_params *p, float **class_w, ks_error *err)
{
    ks_status s;
    int k = (int)m->layers[m->output]->out_size;
    size_t bs;
    memset(r, 0, sizeof *r);
    r->m = m;
    r->p = p;
    r->train = *train;
    *class_w = NULL;
    if (!m->compiled)
        return ks_error_set(err, KS_ERR_CONFIG, "the model must be compiled before fit");
    if (p->batch_size < 1 || p->epochs < 0 || p->initial_epoch < 0 || p->steps_per_epoch < 0)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "fit: batch_size must be >= 1 and epochs, initial_epoch, "
                            "steps_per_epoch >= 0");
    if (!(p->validation_split >= 0.0 && p->validation_split < 1.0))
        return ks_error_set(err, KS_ERR_CONFIG, "fit: validation_split must be in [0, 1)");
    if (val) {
        r->val = *val;
        r->has_val = 1;
    } else if (p->validation_split > 0.0) {
        /* Keras: the last fraction, split_at = floor(n·(1 − split)), before any shuffling */
        size_t split_at = (size_t)floor((double)train->n * (1.0 - p->validation_split));
        if (split_at == 0 || split_at >= train->n)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "fit: validation_split %g of %zu samples leaves %s empty",
                                p->validation_split, train->n,
                                split_at == 0 ? "training" : "validation");
        r->train = ks_data_slice(train, 0, split_at);
        r->val = ks_data_slice(train, split_at, train->n);
        r->has_val = 1;
    }
    if ((s = check_data(m, &r->train, "training", 1, err)) != KS_OK)
        return s;
    if (r->has_val && (s = check_data(m, &r->val, "validation", 1, err)) != KS_OK)
        return s;
    if (r->train.n == 0)
        return ks_error_set(err, KS_ERR_CONFIG, "training data is empty");
    if (r->has_val && r->val.n == 0)
        r->has_val = 0;
    r->n = r->train.n;
    bs = (size_t)p->batch_size;
    r->batches_per_pass = (int)((r->n + bs - 1) / bs);
    r->steps = p->steps_per_epoch > 0 ? p->steps_per_epoch : r->batches_per_pass;
    r->seed = p->seed ? p->seed : m->seed;
    r->weights = r->train.w;
    if (p->class_weight && p->n_class_weight > 0) {
        if (r->train.w)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "fit: class_weight and sample_weight cannot be given together");
        *class_w = malloc(r->n * sizeof **class_w);
        if (!*class_w)
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < r->n; i++) {
            const float *y = r->train.y + i * r->train.y_size;
            int label = 0;
            if (r->train.y_size == 1) {
                label = (int)lrintf(y[0]);
            } else {
                for (size_t j = 1; j < r->train.y_size; j++)
                    if (y[j] > y[label])
                        label = (int)j;
            }
            (*class_w)[i] =
                label >= 0 && label < p->n_class_weight ? (float)p->class_weight[label] : 1.0f;
        }
        r->weights = *class_w;
    }
    {
        int eval_bs = p->validation_batch_size > 0 ? p->validation_batch_size : p->batch_size;
        int ws_bs = eval_bs > p->batch_size ? eval_bs : p->batch_size;
        if ((s = ks_model_workspace(m, ws_bs, r->train.y_size, 1, err)) != KS_OK)
            return s;
    }
    r->fuse_sgd = ks_model_can_fuse_sgd(m);
    free(m->ws.order);
    m->ws.order = malloc(r->n * sizeof *m->ws.order);
    if (!m->ws.order)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    (void)k;
    return KS_OK;
}

ks_status ks_model_fit(ks_model *m, const ks_data *train, const ks_data *val,
                       const ks_fit_params *p, ks_callback *const *callbacks, int n_callbacks,
                       ks_fit_history *history, ks_error *err)
{
    fit_run r;
    float *class_w = NULL;
    ks_callback *list[KS_MAX_CALLBACKS + 1];
    ks_callback *progbar = NULL;
    ks_logs logs;
    ks_callback_ctx ctx;
    ks_status s, end_s;
    int n = 0;

    if (n_callbacks > KS_MAX_CALLBACKS)
        return ks_error_set(err, KS_ERR_CONFIG, "at most %d callbacks", KS_MAX_CALLBACKS);
    if ((s = fit_setup(&r, m, train, val, p, &class_w, err)) != KS_OK) {
        free(class_w);
        return s;
    }
    for (int i = 0; i < n_callbacks; i++)
        list[n++] = callbacks[i];
    if (p->verbose > 0) {
        if ((s = ks_callback_progbar_new(p->verbose, p->out, p->tty, &progbar)) != KS_OK) {
            free(class_w);
            return ks_error_set(err, s, "out of memory");
        }
        list[n++] = progbar;
    }
    r.cbs = list;
    r.ncb = n;
    ks_logs_clear(&logs);
    memset(&ctx, 0, sizeof ctx);
    ctx.model = m;
    ctx.params = p;
    ctx.steps = r.steps;
    ctx.logs = &logs;

    s = ks_callbacks_call(list, n, KS_CB_EVENT(on_train_begin), &ctx, err);
    for (int epoch = p->initial_epoch; s == KS_OK && epoch < p->epochs; epoch++) {
        ks_status es;
        ks_logs_clear(&logs);
        ctx.epoch = epoch;
        s = ks_callbacks_call(list, n, KS_CB_EVENT(on_epoch_begin), &ctx, err);
        if (s != KS_OK && s != KS_STOPPED)
            break;
        es = train_epoch(&r, epoch, &logs, err);
        if (es != KS_OK && es != KS_STOPPED) {
            s = es;
            break;
        }
        if (es == KS_STOPPED)
            s = KS_STOPPED;
        if (r.has_val && should_validate(p, epoch)) {
            int eval_bs = p->validation_batch_size > 0 ? p->validation_batch_size : p->batch_size;
            ks_status vs =
                run_evaluate(m, &r.val, eval_bs, "val_", list, n, p, epoch, &logs, err);
            if (vs != KS_OK && vs != KS_STOPPED) {
                s = vs;
                break;
            }
        }
        if ((es = logs_fit(&logs, err)) != KS_OK) {     /* before the callbacks see them */
            s = es;
            break;
        }
        ctx.logs = &logs;
        ctx.epoch_logs = &logs;
        es = ks_callbacks_call(list, n, KS_CB_EVENT(on_epoch_end), &ctx, err);
        if (es != KS_OK && es != KS_STOPPED) {
            s = es;
            break;
        }
        if (es == KS_STOPPED)
            s = KS_STOPPED;
        if ((es = logs_fit(&logs, err)) != KS_OK) {
            s = es;
            break;
        }
        if (history && ks_fit_history_add(history, epoch, &logs) != KS_OK) {
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
            break;
        }
        if (s == KS_STOPPED)
            break;
    }
    /* train end runs even after a failure, so that files are closed and the tracker learns */
    ctx.logs = &logs;
    end_s = ks_callbacks_call(list, n, KS_CB_EVENT(on_train_end), &ctx,
                              s == KS_OK || s == KS_STOPPED ? err : NULL);
    if (s == KS_OK || s == KS_STOPPED)
        s = end_s == KS_STOPPED ? KS_OK : end_s;
    ks_callback_free(progbar);
    free(class_w);
    return s;
}
