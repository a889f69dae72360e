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

/* ------------------------------------------------------------------ fit */

typedef struct fit_run {
    ks_model *m;
    const ks_fit_params *p;
    ks_bound train, val;
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

/* Gather the rows of this batch into the workspace: every input, every target. */
static void gather(fit_run *r, size_t begin, int n)
{
    ks_model *m = r->m;
    ks_workspace *ws = &m->ws;
    const ks_bound *d = &r->train;
    const size_t *order = ws->order + begin;
    for (int j = 0; j < m->n_inputs; j++) {
        size_t sz = d->x_size[j];
        for (int i = 0; i < n; i++)
            memcpy(ws->x[j] + (size_t)i * sz, d->x[j] + order[i] * sz, sz * sizeof(float));
    }
    for (int j = 0; j < m->n_outputs; j++) {
        size_t sz = d->t_size[j];
        for (int i = 0; i < n; i++)
            memcpy(ws->t[j] + (size_t)i * sz, d->t[j] + order[i] * sz, sz * sizeof(float));
    }
    if (r->weights)
        for (int i = 0; i < n; i++)
            ws->sw[i] = r->weights[order[i]];
}

static ks_status train_epoch(fit_run *r, int epoch, ks_logs *logs, ks_error *err)
{
    ks_model *m = r->m;
    ks_workspace *ws = &m->ws;
    size_t bs = (size_t)r->p->batch_size;
    ks_totals tot;
    ks_logs blogs;
    ks_callback_ctx ctx = {m, r->p, r->steps, epoch, 0, &blogs, NULL};
    int have_begin = ks_callbacks_have(r->cbs, r->ncb, KS_CB_EVENT(on_train_batch_begin));
    int have_end = ks_callbacks_have(r->cbs, r->ncb, KS_CB_EVENT(on_train_batch_end));
    int64_t pass = -1;
    double per[KS_MAX_IO];
    ks_status stop = KS_OK, s;
    memset(&tot, 0, sizeof tot);
    ks_logs_clear(&blogs);
    for (int step = 0; step < r->steps; step++) {
        /* global batch g of an endless sequence of passes over the data */
        int64_t g = (int64_t)epoch * r->steps + step;
        int64_t this_pass = g / r->batches_per_pass;
        size_t begin = (size_t)(g % r->batches_per_pass) * bs;
        int n = (int)(r->n - begin < bs ? r->n - begin : bs);
        double loss;
        if (this_pass != pass) {
            pass = this_pass;
            pass_order(r, pass);
            /* dropout stream of this epoch and pass */
            ks_rng_reseed(m->rng, r->seed, ks_hash_string("dropout"),
                          ks_hash64((uint64_t)epoch, (uint64_t)pass));
        }
        gather(r, begin, n);
        ctx.batch = step;
        if (have_begin) {
            s = ks_callbacks_call(r->cbs, r->ncb, KS_CB_EVENT(on_train_batch_begin), &ctx, err);
            if (s == KS_STOPPED)
                stop = s;
            else if (s != KS_OK)
                return s;
        }
        ks_model_forward(m, (const float *const *)ws->x, n, 1);
        loss = ks_model_batch_loss(m, (const float *const *)ws->t, r->weights ? ws->sw : NULL,
                                   n, 1, per);
        loss += ks_model_backward(m, n, r->fuse_sgd);
        if (!r->fuse_sgd)
            ks_model_apply_gradients(m);
        ks_totals_add(m, &tot, loss, per, (const float *const *)ws->t, n);
        if (have_end) {
            ks_totals_logs(m, &tot, "", &blogs);
            s = ks_callbacks_call(r->cbs, r->ncb, KS_CB_EVENT(on_train_batch_end), &ctx, err);
            if (s == KS_STOPPED)
                stop = s;
            else if (s != KS_OK)
                return s;
        }
        if (stop == KS_STOPPED)
            break;
    }
    ks_totals_logs(m, &tot, "", logs);
    return stop;
}

static int should_validate(const ks_fit_params *p, int epoch)
{
    int freq = p->validation_freq > 0 ? p->validation_freq : 1;
    return (epoch + 1) % freq == 0;
}

/* Per-sample weights from class_weight (single-output models, as in Keras). */
static ks_status class_weights(fit_run *r, const ks_fit_params *p, float **class_w,
                               ks_error *err)
{
    const float *y = r->train.t[0];
    size_t ys = r->train.t_size[0];
    if (r->m->n_outputs > 1)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "fit: class_weight is only for models with one output");
    if (r->train.w)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "fit: class_weight and sample_weight cannot be given together");
    *class_w = malloc(r->n * sizeof **class_w);
    if (!*class_w)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < r->n; i++) {
        const float *yi = y + i * ys;
        int label = 0;
        if (ys == 1) {
            label = (int)lrintf(yi[0]);
        } else {
            for (size_t j = 1; j < ys; j++)
                if (yi[j] > yi[label])
                    label = (int)j;
        }
        (*class_w)[i] =
            label >= 0 && label < p->n_class_weight ? (float)p->class_weight[label] : 1.0f;
    }
    r->weights = *class_w;
    return KS_OK;
}

static ks_status fit_setup(fit_run *r, ks_model *m, const ks_data *train, const ks_data *val,
                           const ks_fit_params *p, float **class_w, ks_error *err)
{
    ks_data tr = *train, va;
    ks_status s;
    size_t bs;
    memset(r, 0, sizeof *r);
    r->m = m;
    r->p = p;
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
        va = *val;
        r->has_val = 1;
    } else if (p->validation_split > 0.0) {
        /* Keras: the last fraction, split_at = floor(n·(1 − split)), before any shuffling;
           every array of the data is split at the same row */
        size_t split_at = (size_t)floor((double)train->n * (1.0 - p->validation_split));
        if (split_at == 0 || split_at >= train->n)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "fit: validation_split %g of %zu samples leaves %s empty",
                                p->validation_split, train->n,
                                split_at == 0 ? "training" : "validation");
        tr = ks_data_slice(train, 0, split_at);
        va = ks_data_slice(train, split_at, train->n);
        r->has_val = 1;
    }
    if ((s = ks_model_bind(m, &tr, 1, "training", &r->train, err)) != KS_OK)
        return s;
    if (r->has_val && (s = ks_model_bind(m, &va, 1, "validation", &r->val, err)) != KS_OK)
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
    if (p->class_weight && p->n_class_weight > 0 &&
        (s = class_weights(r, p, class_w, err)) != KS_OK)
        return s;
    {
        int eval_bs = p->validation_batch_size > 0 ? p->validation_batch_size : p->batch_size;
        int ws_bs = eval_bs > p->batch_size ? eval_bs : p->batch_size;
        if ((s = ks_model_workspace(m, ws_bs, 1, err)) != KS_OK)
            return s;
    }
    r->fuse_sgd = ks_model_can_fuse_sgd(m);
    free(m->ws.order);
    m->ws.order = malloc(r->n * sizeof *m->ws.order);
    if (!m->ws.order)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
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
            ks_status vs = ks_model_run_evaluate(m, &r.val, eval_bs, "val_", list, n, p, epoch,
                                                 &logs, err);
            if (vs != KS_OK && vs != KS_STOPPED) {
                s = vs;
                break;
            }
        }
        if ((es = ks_logs_room(&logs, err)) != KS_OK) {     /* before the callbacks see them */
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
        if ((es = ks_logs_room(&logs, err)) != KS_OK) {
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
