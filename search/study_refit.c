/*
 * study_refit.c — after the search: which trial to retrain (the best complete one, or
 * one named, refused when it has no best epoch), and its retraining as the study built
 * it — its parameters, its seed — on the training and validation rows together for its
 * best epoch count, as Keras Tuner users do after a search.
 */
#include "search_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Why trial t cannot be refit (a message into err), or KS_OK. */
static ks_status refusal(const ks_trial_info *t, const char *metric, ks_error *err)
{
    switch (t->status) {
    case KS_TRIAL_FAILED:
        return ks_error_set(err, KS_ERR_USAGE,
                            "trial %d failed (%.100s): only a trial with a best epoch can "
                            "be refit; choose another (ksearch ls RUNDIR --status complete)",
                            t->number, t->error ? t->error : "no reason recorded");
    case KS_TRIAL_INTERRUPTED:
        return ks_error_set(err, KS_ERR_USAGE,
                            "trial %d was interrupted: run the study again to finish it, "
                            "then refit it",
                            t->number);
    case KS_TRIAL_QUEUED:
    case KS_TRIAL_RUNNING:
        return ks_error_set(err, KS_ERR_USAGE,
                            "trial %d is %s: let the study finish it, then refit it", t->number,
                            ks_trial_status_name(t->status));
    default:
        break;
    }
    if (t->best_epoch < 0 || !isfinite(t->objective))
        return ks_error_set(err, KS_ERR_USAGE,
                            "trial %d (%s) has no best epoch: it recorded no %s value; "
                            "choose another (ksearch ls RUNDIR --status complete)",
                            t->number, ks_trial_status_name(t->status), metric);
    return KS_OK;
}

ks_status ks_refit_pick(const ks_trial_info *t, int n, int maximize, const char *metric,
                        int number, int *index, ks_error *err)
{
    int best = -1;
    *index = -1;
    if (number >= 0) {
        for (int i = 0; i < n; i++)
            if (t[i].number == number) {
                ks_status s = refusal(&t[i], metric, err);
                if (s == KS_OK)
                    *index = i;
                return s;
            }
        if (n == 0)
            return ks_error_set(err, KS_ERR_USAGE, "trial %d: the study has no trials", number);
        return ks_error_set(err, KS_ERR_USAGE, "trial %d: no such trial; the study's are %d to %d",
                            number, t[0].number, t[n - 1].number);
    }
    for (int i = 0; i < n; i++) {
        if (t[i].status != KS_TRIAL_COMPLETE || refusal(&t[i], metric, NULL) != KS_OK)
            continue;
        if (best < 0 || (maximize ? t[i].objective > t[best].objective
                                  : t[i].objective < t[best].objective) ||
            (t[i].objective == t[best].objective && t[i].number < t[best].number))
            best = i;
    }
    if (best < 0)
        return ks_error_set(err, KS_ERR_USAGE,
                            "the study has no complete trial with a %s value to refit", metric);
    *index = best;
    return KS_OK;
}

/* The rows a trial's refit trains on: the training set (validation_split's rows
   included) followed by the validation set's rows; *joined owns them when there are two. */
static ks_status refit_rows(const ks_study_data *d, ks_dataset **joined, ks_data *rows,
                            ks_error *err)
{
    ks_data va;
    ks_status s;
    *joined = NULL;
    *rows = ks_dataset_data(d->train);
    if (!d->val)
        return KS_OK;
    va = ks_dataset_data(d->val);
    if ((s = ks_dataset_concat(rows, &va, joined, err)) != KS_OK) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        return ks_error_set(err, s, "the training and validation data: %s", msg);
    }
    *rows = ks_dataset_data(*joined);
    return KS_OK;
}

ks_status ks_study_refit(const ks_study *st, const ks_study_data *d, const ks_trial_info *t,
                         const ks_refit_options *o, ks_model **out, ks_error *err)
{
    double point[KS_MAX_SEARCH_PARAMS];
    ks_run_config *cfg = NULL;
    ks_dataset *joined = NULL;
    ks_callback *nan_stop = NULL;
    ks_model *m = NULL;
    ks_fit_params p;
    ks_data rows;
    ks_status s;
    *out = NULL;
    if ((s = refusal(t, st->metric[0] ? st->metric : "objective", err)) != KS_OK)
        return s;
    /* the trial's configuration, as the study made it */
    if ((s = ks_space_point_from_json(&st->space, t->params ? t->params : "{}", point, err)) !=
            KS_OK ||
        (s = ks_study_trial_config(st, point, &cfg, err)) != KS_OK ||
        (s = refit_rows(d, &joined, &rows, err)) != KS_OK)
        goto out;
    /* its model as a worker builds it: initialized from the trial's seed */
    if ((s = ks_model_from_config(cfg->model, &rows.x_shape, t->seed, &m, err)) != KS_OK ||
        (s = ks_model_compile(m, cfg->compile, err)) != KS_OK ||
        (s = ks_run_config_record_preprocessing(cfg, m, err)) != KS_OK ||
        (s = ks_callback_from_config("TerminateOnNaN", NULL, &nan_stop, err)) != KS_OK)
        goto out;
    p = cfg->fit;
    p.epochs = t->best_epoch + 1;
    p.initial_epoch = 0;
    p.validation_split = 0.0;
    p.verbose = o ? o->verbose : 0;
    p.out = o ? o->out : NULL;
    p.tty = o ? o->tty : -1;
    p.seed = t->seed;
    /* fit adapts the preprocessing layers on these rows and checks them against the model */
    s = ks_model_fit(m, &rows, NULL, &p, &nan_stop, 1, NULL, err);
out:
    ks_callback_free(nan_stop);
    ks_dataset_free(joined);
    ks_run_config_free(cfg);
    if (s != KS_OK) {
        ks_model_free(m);
        return s;
    }
    *out = m;
    return KS_OK;
}
