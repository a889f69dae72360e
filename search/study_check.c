/*
 * study_check.c — the part of a study's checks that needs its data: the data sets
 * (loaded once, shared read-only by every trial), the default objective, and the
 * file instantiated at each parameter's extreme values — every value of a choice,
 * the ends of a range; a conditional parameter with the parents that make it active —
 * built, compiled and checked against the data's shapes.
 */
#include "search_impl.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void ks_study_data_free(ks_study_data *d)
{
    ks_dataset_free(d->train);
    ks_dataset_free(d->val);
    ks_dataset_free(d->test);
    memset(d, 0, sizeof *d);
}

/* One data set loaded on a thread of its own. */
typedef struct loader {
    const ks_value *spec;
    const char *dir;
    ks_dataset **out;
    ks_error err;
    ks_status s;
} loader;

static void *load_one(void *arg)
{
    loader *l = arg;
    ks_error_clear(&l->err);
    l->s = l->spec ? ks_dataset_load(l->spec, l->dir, l->out, &l->err) : KS_OK;
    return NULL;
}

/*
 * The training, validation and test sets are read at the same time (decompressing a
 * gzip'd file is most of the study's start-up, and the workers wait for it); the first
 * error in file order is the one reported.
 */
ks_status ks_study_load_data(const ks_study *st, ks_study_data *d, ks_error *err)
{
    const ks_run_config *c = st->base;
    loader l[3] = {{c->train, c->dir, &d->train, {0}, KS_OK},
                   {c->validation, c->dir, &d->val, {0}, KS_OK},
                   {c->test, c->dir, &d->test, {0}, KS_OK}};
    pthread_t th[3];
    int started[3] = {0, 0, 0};
    ks_status s = KS_OK;
    memset(d, 0, sizeof *d);
    for (int i = 1; i < 3; i++)
        started[i] = l[i].spec && pthread_create(&th[i], NULL, load_one, &l[i]) == 0;
    for (int i = 0; i < 3; i++)
        if (i == 0 || !started[i])
            load_one(&l[i]);
    for (int i = 1; i < 3; i++)
        if (started[i])
            pthread_join(th[i], NULL);
    for (int i = 0; i < 3 && s == KS_OK; i++)
        if ((s = l[i].s) != KS_OK && err)
            *err = l[i].err;
    if (s != KS_OK)
        ks_study_data_free(d);
    return s;
}

/* "n_hidden = 3, lr = 0.01" for messages. */
static void describe_point(const ks_space *sp, const double *point, int only, char *buf,
                           size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < sp->n && len < size; i++) {
        ks_value v;
        char val[64];
        if (only >= 0 && i != only)
            continue;
        if (ks_space_value(sp, i, point, &v) != KS_OK)
            continue;
        ks_value_describe(&v, val, sizeof val);
        ks_value_free(&v);
        len += (size_t)snprintf(buf + len, size - len, "%s%s = %s", len ? ", " : "",
                                sp->params[i].name, val);
    }
}

/* The log names a fit of this model will write. */
static int logged(ks_model *m, int validation, const char *name)
{
    const char *base = name;
    if (strncmp(name, "val_", 4) == 0) {
        if (!validation)
            return 0;
        base = name + 4;
    }
    if (strcmp(base, "loss") == 0)
        return 1;
    for (int i = 0; i < ks_model_n_metrics(m); i++)
        if (strcmp(ks_model_metric_name(m, i), base) == 0)
            return 1;
    return 0;
}

/* Build, compile and check one instantiation; every error names the point. */
static ks_status check_point(ks_study *st, const ks_study_data *d, const double *point,
                             int param, ks_error *err)
{
    ks_run_config *c = NULL;
    ks_model *m = NULL;
    ks_data tr = ks_dataset_data(d->train);
    ks_status s = ks_study_trial_config(st, point, &c, err);
    if (s == KS_OK)
        s = ks_model_from_config(c->model, &tr.x_shape, 1, &m, err);
    if (s == KS_OK && param < 0 && ks_model_warnings(m) && !st->warnings)
        st->warnings = strdup(ks_model_warnings(m));   /* said once, not per trial */
    if (s == KS_OK)
        s = ks_model_compile(m, c->compile, err);
    if (s == KS_OK && param < 0) {
        /* what the trials log, for the HParams dashboard's columns */
        st->n_log_names = 0;
        for (int i = 0; i < ks_model_n_metrics(m) && i < KS_MAX_LOGGED; i++)
            snprintf(st->log_names[st->n_log_names++], KS_LOG_NAME_MAX, "%s",
                     ks_model_metric_name(m, i));
    }
    if (s == KS_OK) {
        /* preprocessing layers learn as a trial's fit will, for the checks to see theirs */
        ks_data rows = ks_fit_training_rows(&tr, d->val ? 0.0 : c->fit.validation_split);
        s = ks_model_adapt(m, &rows, err);
    }
    if (s == KS_OK)
        s = ks_model_check_data(m, &tr, "training", err);
    if (s == KS_OK && c->ensemble) {
        /* the output an ensemble combines must be one of the model's */
        const ks_value *o = ks_value_get(c->ensemble, "output");
        if (o && o->kind == KS_VALUE_STRING && ks_model_output_index(m, o->string) < 0)
            s = ks_error_at(err, KS_ERR_CONFIG, o,
                            "ensemble.output names no output \"%s\" of the model; its first is "
                            "\"%s\"",
                            o->string, ks_model_output_name(m, 0));
    }
    if (s == KS_OK && d->val) {
        ks_data va = ks_dataset_data(d->val);
        s = ks_model_check_data(m, &va, "validation", err);
    }
    if (s == KS_OK && c->callbacks) {
        for (size_t i = 0; s == KS_OK && i < c->callbacks->n; i++) {
            const ks_value *e = &c->callbacks->items[i];
            ks_tracker_options opt;
            char dir[1024];
            ks_callback *cb = NULL;
            if (e->kind != KS_VALUE_MAP || e->n != 1) {
                s = ks_error_at(err, KS_ERR_CONFIG, e,
                                "a callback must be a map of one class name to its arguments");
                break;
            }
            memset(&opt, 0, sizeof opt);
            if (strcmp(e->items[0].key, "TensorBoard") == 0)
                s = ks_tracker_tensorboard_args(&e->items[0], &opt, dir, sizeof dir, err);
            else if (!ks_study_skips_callback(e))
                s = ks_callback_from_config(e->items[0].key, &e->items[0], &cb, err);
            ks_callback_free(cb);
        }
    }
    if (s == KS_OK && st->metric[0] &&
        !logged(m, d->val || c->fit.validation_split > 0, st->metric)) {
        char names[256] = "loss";
        size_t len = strlen(names);
        for (int i = 0; i < ks_model_n_metrics(m) && len < sizeof names; i++)
            len += (size_t)snprintf(names + len, sizeof names - len, ", %s",
                                    ks_model_metric_name(m, i));
        s = ks_error_at(err, KS_ERR_CONFIG, st->metric_at,
                        "search.metric %s is not logged by this fit; it logs %s%s", st->metric,
                        names, d->val || c->fit.validation_split > 0 ? " and their val_ forms"
                                                                       : " (and no validation)");
    }
    if (s != KS_OK && err && s != KS_ERR_NOMEM && !err->file[0]) {
        /* a check of the model against the data knows no place in the file: the model's */
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        ks_error_at(err, s, st->base->model ? st->base->model : &st->doc, "%s", msg);
    }
    if (s != KS_OK && err && s != KS_ERR_NOMEM && param >= 0) {
        char what[256];
        describe_point(&st->space, point, param, what, sizeof what);
        ks_error_prefix(err, "with %s", what);
    }
    ks_model_free(m);
    ks_run_config_free(c);
    return s;
}

ks_status ks_study_check_with_data(ks_study *st, const ks_study_data *d, ks_error *err)
{
    double point[KS_MAX_SEARCH_PARAMS];
    ks_status s;
    if (!st->metric[0]) {
        /* Keras Tuner needs an objective; ours defaults to what EarlyStopping watches */
        int validation = d->val || st->base->fit.validation_split > 0;
        snprintf(st->metric, sizeof st->metric, "%s", validation ? "val_loss" : "loss");
        st->maximize = 0;
    }
    ks_space_first_point(&st->space, point);
    if ((s = check_point(st, d, point, -1, err)) != KS_OK)
        return s;
    for (int i = 0; i < st->space.n; i++) {
        const ks_param *p = &st->space.params[i];
        int n = p->kind == KS_PARAM_CHOICE ? p->n_values : 2;
        for (int k = 0; k < n; k++) {
            ks_space_first_point(&st->space, point);
            if (p->kind == KS_PARAM_CHOICE)
                point[i] = k;
            else
                point[i] = k ? p->max : p->min;
            if (p->kind == KS_PARAM_INT && k)
                point[i] = p->min + floor((p->max - p->min) / (p->step >= 1 ? p->step : 1)) *
                                        (p->step >= 1 ? p->step : 1);
            /* a conditional parameter with its parents at the first values that make it
               active (the study's load checked that some do) */
            ks_space_activate(&st->space, i, point);
            if ((s = check_point(st, d, point, i, err)) != KS_OK)
                return s;
        }
    }
    return KS_OK;
}
