/*
 * tracker_record.c — the recorder: the half of the tracker that runs in the worker's
 * fit.  It turns the fit's logs and model into records (BEGIN, EPOCH, BATCH) and
 * pushes them into a sink; it writes nothing itself.  What must be a consistent
 * snapshot (the checkpoint's bytes, the histograms) is taken here; everything that
 * writes (SQLite, TensorBoard) happens in the committer, on the writer's side.
 */
#include "tracker.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct recorder {
    ks_callback *cb;                        /* the callback this is the state of */
    ks_recorder_options opt;
    char objective[KS_LOG_NAME_MAX];
    double best;                            /* the objective so far, as the committer will
                                               find it: decides the best's checkpoint */
    int last_epoch;                         /* the fit's last epoch (epochs − 1) */
    int n_weights;
    int failed;                             /* the sink failed: the fit was stopped */
    ks_error err;
} recorder;

/* Stop the fit with the sink's (the writer's) message. */
static ks_status fail(recorder *t, ks_status s)
{
    char buf[600];
    t->failed = 1;
    snprintf(t->cb->message, sizeof t->cb->message, "%s",
             ks_error_format(&t->err, buf, sizeof buf));
    return s;
}

static ks_status send(recorder *t, ks_record *r)
{
    ks_status s;
    if (!r)
        return fail(t, ks_error_set(&t->err, KS_ERR_NOMEM, "out of memory for a record"));
    r->worker = t->opt.worker;
    if ((s = t->opt.sink.push(t->opt.sink.user, r, &t->err)) != KS_OK)
        return fail(t, s);
    return KS_OK;
}

static char *dup_str(const char *s, int *oom)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (!d)
        *oom = 1;
    else
        memcpy(d, s, n);
    return d;
}

/* The layer graph as TensorBoard draws it: each layer with its inputs and output shape. */
static void begin_graph(ks_record *r, const ks_model *m, int *oom)
{
    int n = ks_model_n_layers(m);
    if (n <= 0 || !(r->nodes = calloc((size_t)n, sizeof *r->nodes))) {
        *oom |= n > 0;
        return;
    }
    r->n_nodes = n;
    for (int i = 0; i < n && !*oom; i++) {
        ks_record_node *nd = &r->nodes[i];
        int k = ks_model_layer_n_inputs(m, i);
        nd->name = dup_str(ks_model_layer_name(m, i), oom);
        nd->op = dup_str(ks_model_layer_class(m, i), oom);
        nd->shape = *ks_model_layer_output_shape(m, i);
        if (k > 0 && !(nd->inputs = calloc((size_t)k, sizeof *nd->inputs))) {
            *oom = 1;
            break;
        }
        nd->n_inputs = k;
        for (int j = 0; j < k && !*oom; j++)
            nd->inputs[j] = dup_str(ks_model_layer_name(m, ks_model_layer_input(m, i, j)), oom);
    }
}

static ks_status rec_train_begin(void *user, const ks_callback_ctx *ctx)
{
    recorder *t = user;
    ks_model *m = ctx->model;
    ks_record *r = ks_record_new(KS_RECORD_BEGIN, t->opt.trial);
    int first = !ctx->params || ctx->params->initial_epoch == 0, oom = 0;
    t->n_weights = ks_model_n_weights(m);
    t->last_epoch = ctx->params ? ctx->params->epochs - 1 : -1;
    if (!r)
        return send(t, NULL);
    r->initial_epoch = ctx->params ? ctx->params->initial_epoch : 0;
    if (t->n_weights > 0 && !(r->histogram_tags = calloc((size_t)t->n_weights, sizeof(char *))))
        oom = 1;
    for (int i = 0; r->histogram_tags && i < t->n_weights && !oom; i++) {
        size_t len = strlen(ks_model_weight_name(m, i)) + sizeof "/histogram";
        if (!(r->histogram_tags[i] = malloc(len)))
            oom = 1;
        else
            snprintf(r->histogram_tags[i], len, "%s/histogram", ks_model_weight_name(m, i));
    }
    r->n_weights = r->histogram_tags ? t->n_weights : 0;
    if (first && t->opt.write_graph && !oom)
        begin_graph(r, m, &oom);
    if (first && t->opt.write_summary && !oom) {
        ks_error ignored;   /* without the text, if there is no memory for it: the fit goes on */
        ks_tracker_summary_text(m, t->opt.summary_params, &r->summary, &ignored);
    }
    if (first && t->opt.embeddings_freq > 0 && !oom) {
        ks_error ignored;
        oom = ks_tb_projector_files(m, 1, &r->files, &r->n_files, &ignored) != KS_OK;
    }
    if (oom) {
        ks_record_free(r);
        return send(t, NULL);
    }
    return send(t, r);
}

static ks_status rec_batch_end(void *user, const ks_callback_ctx *ctx)
{
    recorder *t = user;
    int64_t step = ks_model_iterations(ctx->model);
    ks_record *r;
    if (t->opt.update_freq <= 0 || step % t->opt.update_freq != 0)
        return KS_OK;
    if (!(r = ks_record_new(KS_RECORD_BATCH, t->opt.trial)))
        return send(t, NULL);
    r->step = step;
    r->logs = *ctx->logs;
    return send(t, r);
}

/* Whether this epoch's record carries the model: the policy's every N epochs, the fit's
   last epoch, and (keep best) an epoch that improves the objective. */
static int wants_checkpoint(const recorder *t, int epoch, int improved)
{
    const ks_checkpoint_policy *p = &t->opt.policy;
    if (!t->opt.checkpoints)
        return 0;
    return (p->every > 0 && (epoch + 1) % p->every == 0) || epoch == t->last_epoch ||
           (p->keep_best && improved);
}

static ks_status rec_epoch_end(void *user, const ks_callback_ctx *ctx)
{
    recorder *t = user;
    const ks_logs *logs = ctx->epoch_logs ? ctx->epoch_logs : ctx->logs;
    ks_model *m = ctx->model;
    ks_record *r = ks_record_new(KS_RECORD_EPOCH, t->opt.trial);
    double value = NAN;
    int improved;
    ks_status s;
    if (!r)
        return send(t, NULL);
    r->epoch = ctx->epoch;
    r->step = ks_model_iterations(m);
    /* the logs, and what TensorBoard shows besides them (see KS_METRIC_ITERATIONS) */
    r->logs = *logs;
    if (!ks_logs_get(&r->logs, "learning_rate", NULL))
        ks_logs_set(&r->logs, "learning_rate", ks_model_get_lr(m));
    ks_logs_set(&r->logs, KS_METRIC_ITERATIONS, (double)r->step);
    ks_logs_get(logs, t->objective, &value);
    if ((improved = ks_objective_better(value, t->best, t->opt.maximize)))
        t->best = value;
    /* as Keras: at epochs 0, N, 2N … */
    if (t->opt.histogram_freq > 0 && ctx->epoch % t->opt.histogram_freq == 0 && t->n_weights > 0) {
        size_t each = KS_HISTOGRAM_BUCKETS * 3;
        if (!(r->histograms = malloc((size_t)t->n_weights * each * sizeof *r->histograms))) {
            ks_record_free(r);
            return send(t, NULL);
        }
        r->n_weights = t->n_weights;
        for (int i = 0; i < t->n_weights; i++)
            ks_histogram_compute(ks_model_weight_data(m, i),
                                 ks_shape_size(ks_model_weight_shape(m, i)),
                                 r->histograms + (size_t)i * each);
    }
    /* the projector's vectors, as Keras: at epochs 0, N, 2N … */
    if (t->opt.embeddings_freq > 0 && ctx->epoch % t->opt.embeddings_freq == 0 &&
        (s = ks_tb_projector_files(m, 0, &r->files, &r->n_files, &t->err)) != KS_OK) {
        ks_record_free(r);
        return fail(t, s);
    }
    if (wants_checkpoint(t, ctx->epoch, improved)) {
        size_t cap = 0;
        if ((s = ks_model_save_to(m, KS_SAVE_OPTIMIZER, ctx->epoch + 1, &r->checkpoint, &cap,
                                  &r->checkpoint_len, &t->err)) != KS_OK) {
            ks_record_free(r);
            return fail(t, s);
        }
    }
    return send(t, r);
}

static void recorder_free(void *user)
{
    free(user);
}

ks_status ks_recorder_new(const ks_recorder_options *opt, ks_callback **out, ks_error *err)
{
    ks_callback *cb = calloc(1, sizeof *cb);
    recorder *t = calloc(1, sizeof *t);
    *out = NULL;
    if (!cb || !t || !opt->sink.push) {
        free(cb);
        free(t);
        return opt->sink.push ? ks_error_set(err, KS_ERR_NOMEM, "out of memory")
                              : ks_error_set(err, KS_ERR_INTERNAL, "ks_recorder_new: no sink");
    }
    t->cb = cb;
    t->opt = *opt;
    snprintf(t->objective, sizeof t->objective, "%s", opt->objective ? opt->objective : "");
    t->best = opt->best_so_far;
    t->last_epoch = -1;
    cb->name = "Tracker";
    cb->user = t;
    cb->free = recorder_free;
    cb->on_train_begin = rec_train_begin;
    /* only when batches are recorded: a batch-end callback makes the engine build the
       batch logs after every step */
    if (opt->update_freq > 0)
        cb->on_train_batch_end = rec_batch_end;
    cb->on_epoch_end = rec_epoch_end;
    *out = cb;
    return KS_OK;
}

int ks_recorder_failed(const ks_callback *cb)
{
    return cb && ((const recorder *)cb->user)->failed;
}
