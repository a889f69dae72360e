/*
 * study_ensemble.c — the last step of a study: the top-K complete trials' best
 * checkpoints, their predictions on the validation (and test) data, weights fitted per
 * method, a report beside the best single member, each ensemble stored in study.db and
 * the best one saved as one self-contained file (runs/NAME/ensembles/best.ksm).
 */
#include "search_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------ the study file's section */

typedef struct ensemble_section {
    int top;
    ks_value weights;
    int average;
    char output[KS_LOG_NAME_MAX];
} ensemble_section;

static const char *const average_names[] = {"arithmetic", "geometric", NULL};

static const ks_key ensemble_keys[] = {
    {"top", KS_KEY_INT, offsetof(ensemble_section, top), 0, 1, 1000, "5", NULL, 0},
    {"weights", KS_KEY_VALUE, offsetof(ensemble_section, weights), 0, 0, 0, NULL, NULL, 0},
    {"average", KS_KEY_ENUM, offsetof(ensemble_section, average), 0, 0, 0, "arithmetic",
     average_names, 0},
    {"output", KS_KEY_STRING, offsetof(ensemble_section, output), KS_LOG_NAME_MAX, 0, 0, "",
     NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status method_bit(const ks_value *v, unsigned *bits, ks_error *err)
{
    int m = v->kind == KS_VALUE_STRING ? ks_weights_method_find(v->string) : -1;
    if (v->kind == KS_VALUE_STRING && strcmp(v->string, "all") == 0) {
        *bits |= (1u << KS_WEIGHTS_COUNT) - 1;
        return KS_OK;
    }
    if (m < 0)
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "ensemble.weights: expected uniform, random, nelder-mead, greedy "
                           "or all (or a list of them)");
    *bits |= 1u << m;
    return KS_OK;
}

ks_status ks_study_ensemble_request(const ks_study *st, ks_ensemble_request *r, ks_error *err)
{
    const ks_value *sec = st->base->ensemble;
    ensemble_section es;
    ks_status s;
    memset(r, 0, sizeof *r);
    if (!sec)
        return KS_OK;
    ks_keys_defaults(ensemble_keys, &es);
    if ((s = ks_keys_read(ensemble_keys, sec, "ensemble", &es, err)) != KS_OK) {
        ks_keys_free(ensemble_keys, &es);
        return s;
    }
    r->top = es.top;
    r->average = (ks_ensemble_average)es.average;
    snprintf(r->output, sizeof r->output, "%s", es.output);
    if (es.weights.kind == KS_VALUE_LIST) {
        for (size_t i = 0; s == KS_OK && i < es.weights.n; i++)
            s = method_bit(&es.weights.items[i], &r->methods, err);
    } else if (es.weights.kind != KS_VALUE_NULL) {
        s = method_bit(&es.weights, &r->methods, err);
    }
    if (!r->methods)
        r->methods = 1u << KS_WEIGHTS_NELDER_MEAD;
    ks_keys_free(ensemble_keys, &es);
    return s;
}

/* ------------------------------------------------------------- building */

typedef struct member {
    const ks_trial_info *trial;
    ks_model *model;            /* from its best checkpoint */
    int output;                 /* the index of the output combined */
    float *val_pred, *test_pred;
} member;

typedef struct result {
    int method;                 /* −1: the best single member */
    double *w;
    ks_logs val, test;
} result;

static int by_objective(const ks_trial_info *a, const ks_trial_info *b, int maximize)
{
    if (a->objective == b->objective)
        return a->number - b->number;
    return (maximize ? a->objective > b->objective : a->objective < b->objective) ? -1 : 1;
}

/* Indices of the complete trials with an objective, best first (insertion sort: few). */
static int rank_trials(const ks_trial_info *t, int n, int maximize, int *order)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        int j;
        if (t[i].status != KS_TRIAL_COMPLETE || isnan(t[i].objective))
            continue;
        for (j = m; j > 0 && by_objective(&t[i], &t[order[j - 1]], maximize) < 0; j--)
            order[j] = order[j - 1];
        order[j] = i;
        m++;
    }
    return m;
}

/*
 * Of the m ranked trials, those whose best checkpoint the study's retention dropped (a
 * stopped Hyperband study's configurations that no rung can promote, complete until the
 * study ends) are left out, each with a note on f; returns how many remain.
 */
static int with_checkpoints(const ks_study *st, ks_db *db, const ks_trial_info *t, int *order,
                            int m, FILE *f)
{
    int kept = 0;
    for (int i = 0; i < m; i++) {
        const ks_trial_info *x = &t[order[i]];
        int epoch = 0;
        ks_error ignored;
        char why[600];
        if (st->retain != KS_RETAIN_ALL &&
            ks_db_checkpoint_stat(db, x->id, KS_CHECKPOINT_BEST, &epoch, NULL, &ignored) ==
                KS_OK &&
            epoch < 0 && ks_study_retain_why(st, x->status, x->budget, why, sizeof why)) {
            fprintf(f, "note: trial %d is left out: its best checkpoint was dropped (%s)\n",
                    x->number, why);
            continue;
        }
        order[kept++] = order[i];
    }
    return kept;
}

static void print_logs(FILE *f, const ks_logs *l, int n_names)
{
    for (int i = 0; i < n_names; i++)
        fprintf(f, "  %12.4f", i < l->n ? l->value[i] : NAN);
}

/* The ensemble's record in study.db: members, weights, averaging and metrics. */
static char *ensemble_json(const member *mem, int k, const result *r,
                           ks_ensemble_average average, int has_test)
{
    size_t cap = 512 + (size_t)k * 64 + (size_t)(r->val.n + r->test.n) * 80;
    char *j = malloc(cap);
    size_t len = 0;
    if (!j)
        return NULL;
    len += (size_t)snprintf(j + len, cap - len, "{\"method\": \"%s\", \"average\": \"%s\", "
                                                "\"members\": [",
                            ks_weights_method_name((ks_weights_method)r->method),
                            average_names[average]);
    for (int i = 0; i < k; i++)
        len += (size_t)snprintf(j + len, cap - len, "%s%d", i ? ", " : "", mem[i].trial->number);
    len += (size_t)snprintf(j + len, cap - len, "], \"weights\": [");
    for (int i = 0; i < k; i++)
        len += (size_t)snprintf(j + len, cap - len, "%s%.17g", i ? ", " : "", r->w[i]);
    len += (size_t)snprintf(j + len, cap - len, "], \"validation\": {");
    for (int i = 0; i < r->val.n; i++)
        len += (size_t)snprintf(j + len, cap - len, "%s\"%s\": %.17g", i ? ", " : "",
                                r->val.name[i], r->val.value[i]);
    len += (size_t)snprintf(j + len, cap - len, "}, \"test\": ");
    if (has_test) {
        len += (size_t)snprintf(j + len, cap - len, "{");
        for (int i = 0; i < r->test.n; i++)
            len += (size_t)snprintf(j + len, cap - len, "%s\"%s\": %.17g", i ? ", " : "",
                                    r->test.name[i], r->test.value[i]);
        len += (size_t)snprintf(j + len, cap - len, "}");
    } else {
        len += (size_t)snprintf(j + len, cap - len, "null");
    }
    snprintf(j + len, cap - len, "}");
    return j;
}

/* Score one weighting on validation (and test) from the members' predictions. */
static ks_status score(member *mem, int k, const double *w, ks_ensemble_average average,
                       const ks_data *val, const ks_data *test, float *buf, result *r,
                       ks_error *err)
{
    size_t out = ks_shape_size(ks_model_output_shape_at(mem[0].model, mem[0].output));
    const float *preds[1000];
    ks_status s;
    for (int i = 0; i < k; i++)
        preds[i] = mem[i].val_pred;
    ks_ensemble_combine(average, preds, w, k, val->n, out, buf);
    if ((s = ks_model_score_output(mem[0].model, mem[0].output, val, buf, &r->val, err)) !=
            KS_OK ||
        !test)
        return s;
    for (int i = 0; i < k; i++)
        preds[i] = mem[i].test_pred;
    ks_ensemble_combine(average, preds, w, k, test->n, out, buf);
    return ks_model_score_output(mem[0].model, mem[0].output, test, buf, &r->test, err);
}

ks_status ks_study_ensemble(const ks_study *st, const ks_study_data *d,
                            const ks_ensemble_request *req, ks_error *err)
{
    FILE *f = req->out ? req->out : stdout;
    char out_path[1200];
    ks_run_paths paths;
    ks_db *db = NULL;
    ks_study_info info;
    ks_trial_info *trials = NULL;
    int n_trials = 0, k = 0, *order = NULL, best = -1, n_res = 0, n_ranked;
    member *mem = NULL;
    result res[KS_WEIGHTS_COUNT + 1];
    ks_data val, test, *testp = NULL;
    ks_ensemble *ens = NULL;
    float *buf = NULL;
    size_t out;
    ks_status s;
    memset(&info, 0, sizeof info);
    memset(res, 0, sizeof res);
    if (req->run)
        paths = *req->run;
    else if ((s = ks_run_paths_for_name(st->base->name, &paths, err)) != KS_OK)
        return s;
    snprintf(out_path, sizeof out_path, "%s", req->out_path ? req->out_path : paths.best_ensemble);

    /* the validation data the trials were scored on */
    if (d->val) {
        val = ks_dataset_data(d->val);
    } else {
        ks_data tr = ks_dataset_data(d->train);
        double split = st->base->fit.validation_split;
        size_t at = (size_t)floor((double)tr.n * (1.0 - split));
        if (!(split > 0) || at >= tr.n)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "an ensemble's weights are fitted on validation data; the "
                                "study has neither data.validation nor a validation_split");
        val = ks_data_slice(&tr, at, tr.n);
    }
    if (d->test) {
        test = ks_dataset_data(d->test);
        testp = &test;
    }

    if ((s = ks_db_open(paths.db, 0, &db, err)) != KS_OK ||
        (s = ks_db_study_get(db, st->base->name, &info, err)) != KS_OK ||
        (s = ks_db_trials(db, info.id, &trials, &n_trials, err)) != KS_OK)
        goto out;
    if (!(order = malloc((size_t)(n_trials + 1) * sizeof *order))) {
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        goto out;
    }
    k = rank_trials(trials, n_trials, info.maximize, order);
    n_ranked = k;
    k = with_checkpoints(st, db, trials, order, k, f);
    if (k == 0) {
        if (n_ranked > 0)
            s = ks_error_set(err, KS_ERR_CONFIG,
                             "study %s has no complete trial with a best checkpoint to build an "
                             "ensemble from (%d left out: the study's retention dropped theirs)",
                             st->base->name, n_ranked);
        else
            s = ks_error_set(err, KS_ERR_CONFIG,
                             "study %s has no complete trial with a %s value to build an "
                             "ensemble from",
                             st->base->name, info.metric);
        goto out;
    }
    if (k < req->top)
        fprintf(f, "warning: %d complete trial%s, fewer than top %d: the ensemble has %d "
                   "member%s\n",
                k, k == 1 ? "" : "s", req->top, k, k == 1 ? "" : "s");
    else
        k = req->top;
    if (!(mem = calloc((size_t)k, sizeof *mem))) {
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        goto out;
    }
    out = 0;
    for (int i = 0; i < k; i++) {
        char name[64];
        unsigned char *blob = NULL;
        size_t len = 0;
        mem[i].trial = &trials[order[i]];
        snprintf(name, sizeof name, "trial %d's best checkpoint", mem[i].trial->number);
        if ((s = ks_db_checkpoint_get(db, mem[i].trial->id, KS_CHECKPOINT_BEST, &blob, &len,
                                      NULL, err)) == KS_OK)
            s = ks_model_load_buffer(blob, len, name, &mem[i].model, NULL, err);
        free(blob);
        if (s != KS_OK)
            goto out;
        mem[i].output = req->output[0] ? ks_model_output_index(mem[i].model, req->output) : 0;
        if (mem[i].output < 0) {
            s = ks_error_set(err, KS_ERR_CONFIG,
                             "ensemble.output: trial %d's model has no output \"%s\"",
                             mem[i].trial->number, req->output);
            goto out;
        }
        if (i == 0)
            out = ks_shape_size(ks_model_output_shape_at(mem[0].model, mem[0].output));
        if (!ks_shape_equal(ks_model_output_shape_at(mem[i].model, mem[i].output),
                            ks_model_output_shape_at(mem[0].model, mem[0].output)) ||
            !ks_shape_equal(ks_model_input_shape(mem[i].model),
                            ks_model_input_shape(mem[0].model))) {
            s = ks_error_set(err, KS_ERR_SHAPE,
                             "trial %d's model does not share trial %d's input and output "
                             "shapes; ensemble members must",
                             mem[i].trial->number, mem[0].trial->number);
            goto out;
        }
        mem[i].val_pred = malloc(val.n * out * sizeof(float));
        mem[i].test_pred = testp ? malloc(test.n * out * sizeof(float)) : NULL;
        if (!mem[i].val_pred || (testp && !mem[i].test_pred)) {
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory for predictions");
            goto out;
        }
        {
            float *v_out[KS_MAX_IO] = {NULL}, *t_out[KS_MAX_IO] = {NULL};
            v_out[mem[i].output] = mem[i].val_pred;
            t_out[mem[i].output] = mem[i].test_pred;
            if ((s = ks_model_predict_outputs(mem[i].model, &val, 32, v_out, err)) != KS_OK ||
                (testp &&
                 (s = ks_model_predict_outputs(mem[i].model, &test, 32, t_out, err)) != KS_OK))
                goto out;
        }
    }
    if (!(buf = malloc((testp && test.n > val.n ? test.n : val.n) * out * sizeof *buf))) {
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        goto out;
    }

    /* the best single member, then each method */
    for (int m = -1; m < KS_WEIGHTS_COUNT; m++) {
        result *r = &res[n_res];
        if (m >= 0 && !(req->methods & (1u << m)))
            continue;
        r->method = m;
        if (!(r->w = calloc((size_t)k, sizeof *r->w))) {
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
            goto out;
        }
        n_res++;
        if (m < 0) {
            r->w[0] = 1.0;
        } else {
            const float *preds[1000];
            for (int i = 0; i < k; i++)
                preds[i] = mem[i].val_pred;
            if ((s = ks_ensemble_fit_weights((ks_weights_method)m, mem[0].model, mem[0].output,
                                             &val, preds, k,
                                             req->average,
                                             ks_hash64(st->base->seed, (uint64_t)m), r->w,
                                             err)) != KS_OK)
                goto out;
        }
        if ((s = score(mem, k, r->w, m < 0 ? KS_ENSEMBLE_ARITHMETIC : req->average, &val, testp,
                       buf, r, err)) != KS_OK)
            goto out;
        if (m >= 0 && (best < 0 || r->val.value[0] < res[best].val.value[0]))
            best = n_res - 1;
    }

    /* the report */
    fprintf(f, "\nensemble of the top %d trial%s by %s (", k, k == 1 ? "" : "s", info.metric);
    for (int i = 0; i < k; i++)
        fprintf(f, "%s%d", i ? ", " : "", mem[i].trial->number);
    fprintf(f, "), %s mean%s, weights fitted on the validation loss\n",
            average_names[req->average],
            out > 1 ? " of probabilities" : "");
    /* like with like: every row scores predictions, so no row has the members'
       regularization penalties, which a trial's recorded val_loss includes */
    if (ks_model_n_outputs(mem[0].model) > 1)
        fprintf(f, "every row scores the combined predictions of %s: its loss alone, without "
                   "regularization penalties (a trial's val_loss in study.db is the weighted "
                   "total of every output's loss, with its penalties)\n",
                ks_model_output_name(mem[0].model, mem[0].output));
    else
        fprintf(f, "every row scores the combined predictions: losses without regularization "
                   "penalties (a trial's val_loss in study.db includes its own)\n");
    fprintf(f, "%-14s", "");
    for (int i = 0; i < res[0].val.n; i++) {
        char name[KS_LOG_NAME_MAX + 8];
        snprintf(name, sizeof name, "val_%s", res[0].val.name[i]);
        fprintf(f, "  %12s", name);
    }
    for (int i = 0; testp && i < res[0].test.n; i++) {
        char name[KS_LOG_NAME_MAX + 8];
        snprintf(name, sizeof name, "test_%s", res[0].test.name[i]);
        fprintf(f, "  %12s", name);
    }
    fprintf(f, "  weights\n");
    for (int r = 0; r < n_res; r++) {
        if (res[r].method < 0)
            fprintf(f, "%-14s", "best single");
        else
            fprintf(f, "%-14s", ks_weights_method_name((ks_weights_method)res[r].method));
        print_logs(f, &res[r].val, res[0].val.n);
        if (testp)
            print_logs(f, &res[r].test, res[0].test.n);
        if (res[r].method < 0) {
            ks_logs with;
            ks_error ignored;
            fprintf(f, "  trial %d", mem[0].trial->number);
            /* the trial's own val_loss, as fit recorded it: with its penalty (of one
               output: with several, val_loss is their weighted total, another quantity) */
            if (ks_model_n_outputs(mem[0].model) == 1 &&
                ks_model_evaluate(mem[0].model, &val, 32, 0, NULL, 0, &with, &ignored) ==
                    KS_OK &&
                with.n > 0 && res[r].val.n > 0 && fabs(with.value[0] - res[r].val.value[0]) > 5e-5)
                fprintf(f, " (val_%s %.4f with its regularization penalty)", with.name[0],
                        with.value[0]);
            fputc('\n', f);
            continue;
        }
        fputc(' ', f);
        for (int i = 0; i < k; i++)
            fprintf(f, " %.3f", res[r].w[i]);
        fputc('\n', f);
    }

    /* every method in study.db; the best one saved as a file (and in study.db too) */
    {
        ks_model **models = malloc((size_t)k * sizeof *models);
        unsigned char *fb = NULL;
        size_t fl = 0;
        if (!models) {
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
            goto out;
        }
        /* the members' models go over to the ensemble */
        for (int i = 0; i < k; i++) {
            models[i] = mem[i].model;
            mem[i].model = NULL;
        }
        s = ks_ensemble_new_for(models, res[best].w, k, req->average, req->output, &ens, err);
        free(models);
        if (s == KS_OK && !req->out_path)
            s = ks_mkdirs(paths.ensembles, err);
        /* encoded once: the same bytes go to the file and to study.db */
        if (s == KS_OK)
            s = ks_ensemble_save_buffer(ens, &fb, &fl, err);
        if (s == KS_OK)
            s = ks_write_file_atomic(out_path, fb, fl, err);
        for (int r = 0; s == KS_OK && r < n_res; r++) {
            char *json;
            if (res[r].method < 0)
                continue;
            if (!(json = ensemble_json(mem, k, &res[r], req->average, testp != NULL))) {
                s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
                break;
            }
            s = ks_db_ensemble_put(db, info.id,
                                   ks_weights_method_name((ks_weights_method)res[r].method), json,
                                   r == best ? fb : NULL, r == best ? fl : 0, err);
            free(json);
        }
        free(fb);
        if (s != KS_OK)
            goto out;
    }
    /* what `ksearch evaluate` of the file will say, computed the way it computes it */
    fprintf(f, "saved the %s ensemble: %s", ks_weights_method_name(
                                                 (ks_weights_method)res[best].method), out_path);
    if (testp) {
        ks_logs logs;
        if ((s = ks_ensemble_evaluate(ens, testp, 32, &logs, err)) != KS_OK)
            goto out;
        fprintf(f, " (test");
        for (int i = 0; i < logs.n; i++)
            fprintf(f, "%s %s %.4f", i ? "," : "", logs.name[i], logs.value[i]);
        fprintf(f, ")");
    }
    fprintf(f, "\n");
out:
    ks_ensemble_free(ens);
    for (int r = 0; r < n_res; r++)
        free(res[r].w);
    for (int i = 0; mem && i < k; i++) {
        ks_model_free(mem[i].model);
        free(mem[i].val_pred);
        free(mem[i].test_pred);
    }
    free(mem);
    free(buf);
    free(order);
    for (int i = 0; i < n_trials; i++)
        ks_trial_info_free(&trials[i]);
    free(trials);
    ks_study_info_free(&info);
    ks_db_close(db);
    return s;
}
