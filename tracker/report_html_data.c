/*
 * report_html_data.c — the study as the HTML report reads it from study.db: its
 * declared search (or the parameters inferred from the trials of an older file), the
 * trials and their parameters, every epoch value (the objective metric's curve, every
 * metric at the best epoch), the workers' segments (or a timeline reconstructed from
 * the trials' start and end) and the ensembles.  Every count is bounded.
 */
#include "report_html_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rh_trial_index(const rh_study *s, int number)
{
    int a = 0, b = s->n;
    while (a < b) {
        int mid = a + (b - a) / 2;
        if (s->trials[mid].number < number)
            a = mid + 1;
        else
            b = mid;
    }
    return a < s->n && s->trials[a].number == number ? a : -1;
}

const ks_value *rh_value(const rh_study *s, int i, int k)
{
    const ks_value *v = ks_value_get(&s->values[i], s->params[k].name);
    return v && v->kind != KS_VALUE_NULL ? v : NULL;
}

/* ------------------------------------------------------------ parameters */

/* The declared parameters, from the stored search. */
static ks_status declared_params(rh_study *s, ks_error *err)
{
    for (int k = 0; k < s->search.n_params && s->n_params < KS_RH_MAX_PARAMS; k++) {
        const ks_search_param *sp = &s->search.params[k];
        rh_param *p = &s->params[s->n_params];
        memset(p, 0, sizeof *p);
        snprintf(p->name, sizeof p->name, "%s", sp->name);
        p->kind = sp->kind;
        p->declared = 1;
        p->log = sp->log;
        p->low = sp->low;
        p->high = sp->high;
        p->step = sp->step;
        ks_value_init(&p->choices, KS_VALUE_LIST);
        s->n_params++;
        if (sp->kind == KS_SEARCH_CHOICE) {
            ks_value v;
            const char *text = sp->choices ? sp->choices : "[]";
            if (ks_value_from_json(text, strlen(text), "study.db", &v, NULL) != KS_OK ||
                v.kind != KS_VALUE_LIST || v.n > KS_FANOVA_MAX_CATEGORIES) {
                ks_value_free(&v);
                return ks_error_set(err, KS_ERR_CORRUPT,
                                    "the search space's parameter %s has damaged choices",
                                    sp->name);
            }
            ks_value_free(&p->choices);
            p->choices = v;
        }
    }
    return KS_OK;
}

/* Whether list holds a value equal to v. */
static int holds(const ks_value *list, const ks_value *v)
{
    for (size_t k = 0; k < list->n; k++)
        if (ks_value_equal(&list->items[k], v))
            return 1;
    return 0;
}

/* Append a copy of scalar v (without its key) to list. */
static ks_status list_add_copy(ks_value *list, const ks_value *v)
{
    ks_value *m = ks_value_push(list, KS_VALUE_NULL);
    if (!m || ks_value_clone(v, m) != KS_OK)
        return KS_ERR_NOMEM;
    free(m->key);
    m->key = NULL;
    return KS_OK;
}

/* Parameters the trials have that nothing declared (an older file, a grown study):
   numbers give a numeric axis over what was seen, anything else the values seen. */
static ks_status inferred_params(rh_study *s, ks_error *err)
{
    for (int i = 0; i < s->n; i++) {
        const ks_value *m = &s->values[i];
        for (size_t j = 0; m->kind == KS_VALUE_MAP && j < m->n; j++) {
            const ks_value *v = &m->items[j];
            rh_param *p = NULL;
            for (int k = 0; k < s->n_params && !p; k++)
                if (strcmp(s->params[k].name, v->key) == 0)
                    p = &s->params[k];
            if (!p) {
                if (s->n_params == KS_RH_MAX_PARAMS || strlen(v->key) >= sizeof p->name)
                    continue;
                p = &s->params[s->n_params++];
                memset(p, 0, sizeof *p);
                snprintf(p->name, sizeof p->name, "%s", v->key);
                p->kind = v->kind == KS_VALUE_NUMBER ? KS_SEARCH_INT : KS_SEARCH_CHOICE;
                p->low = INFINITY;
                p->high = -INFINITY;
                ks_value_init(&p->choices, KS_VALUE_LIST);
            }
            if (p->declared)
                continue;
            if (p->kind != KS_SEARCH_CHOICE && v->kind == KS_VALUE_NUMBER) {
                p->low = fmin(p->low, v->number);
                p->high = fmax(p->high, v->number);
                if (v->number != floor(v->number))
                    p->kind = KS_SEARCH_FLOAT;
                continue;
            }
            if (p->kind != KS_SEARCH_CHOICE) {
                /* a number axis meets a string: the values seen become choices */
                p->kind = KS_SEARCH_CHOICE;
                for (int q = 0; q < i; q++) {
                    const ks_value *w = ks_value_get(&s->values[q], p->name);
                    if (w && !holds(&p->choices, w) && p->choices.n < KS_FANOVA_MAX_CATEGORIES &&
                        list_add_copy(&p->choices, w) != KS_OK)
                        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
                }
            }
            if (!holds(&p->choices, v) && p->choices.n < KS_FANOVA_MAX_CATEGORIES &&
                list_add_copy(&p->choices, v) != KS_OK)
                return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        }
    }
    return KS_OK;
}

/* ---------------------------------------------------------- epoch values */

typedef struct metric_reader {
    rh_study *s;
    int last_trial, index;      /* the trial of the last row, and its index */
} metric_reader;

static ks_status curve_set(rh_curve *c, int epoch, double v)
{
    if (epoch >= c->cap) {
        int cap = c->cap ? c->cap : 8;
        double *nv;
        while (cap <= epoch)
            cap *= 2;
        if (!(nv = realloc(c->v, (size_t)cap * sizeof *nv)))
            return KS_ERR_NOMEM;
        c->v = nv;
        c->cap = cap;
    }
    while (c->n <= epoch)
        c->v[c->n++] = NAN;
    c->v[epoch] = v;
    return KS_OK;
}

static ks_status on_metric(void *user, int number, const char *name, int epoch, double value,
                           ks_error *err)
{
    metric_reader *r = user;
    rh_study *s = r->s;
    const ks_trial_info *t;
    int k;
    if (number != r->last_trial) {
        r->last_trial = number;
        r->index = rh_trial_index(s, number);
    }
    if (r->index < 0)
        return KS_OK;
    if (epoch < 0 || epoch > KS_RH_MAX_EPOCH)
        return ks_error_set(err, KS_ERR_CORRUPT, "the study database is damaged (trial %d has "
                                                 "a value at epoch %d)",
                            number, epoch);
    t = &s->trials[r->index];
    if (strcmp(name, s->info.metric) == 0 &&
        curve_set(&s->curves[r->index], epoch, value) != KS_OK)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    for (k = 0; k < s->n_metrics; k++)
        if (strcmp(s->metrics[k], name) == 0)
            break;
    if (k == s->n_metrics) {
        if (k == KS_RH_MAX_METRICS)
            return KS_OK;
        double *ab = realloc(s->at_best, (size_t)(k + 1) * (size_t)s->n * sizeof *ab);
        if (!ab)
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        s->at_best = ab;
        if (!(s->metrics[k] = strdup(name)))
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        s->n_metrics++;
        for (int i = 0; i < s->n; i++)
            s->at_best[(size_t)k * (size_t)s->n + (size_t)i] = NAN;
    }
    /* the best epoch's value; without one, the last epoch's (rows come by epoch) */
    if (t->best_epoch < 0 || epoch == t->best_epoch)
        s->at_best[(size_t)k * (size_t)s->n + (size_t)r->index] = value;
    return KS_OK;
}

/* ---------------------------------------------------------------- timeline */

static int by_start(const void *a, const void *b)
{
    const ks_segment *x = a, *y = b;
    if (x->started != y->started)
        return x->started < y->started ? -1 : 1;
    return x->trial_number - y->trial_number;
}

/*
 * Without recorded segments: one bar per trial that started, from its start to its end
 * (or its last value), put in the first slot free at its start.
 */
static ks_status reconstruct_segments(rh_study *s, ks_error *err)
{
    double free_at[256];
    int slots = 0;
    s->segments = calloc((size_t)s->n + 1, sizeof *s->segments);
    if (!s->segments)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < s->n; i++) {
        const ks_trial_info *t = &s->trials[i];
        ks_segment *g;
        if (t->started <= 0)
            continue;
        g = &s->segments[s->n_segments++];
        g->trial_number = t->number;
        g->started = t->started;
        g->ended = t->ended > t->started ? t->ended : t->started;
        g->first_epoch = 0;
        g->epochs = t->epochs;
        g->status = t->status;
    }
    qsort(s->segments, (size_t)s->n_segments, sizeof *s->segments, by_start);
    for (int k = 0; k < s->n_segments; k++) {
        ks_segment *g = &s->segments[k];
        int w = 0;
        while (w < slots && free_at[w] > g->started)
            w++;
        if (w == slots && slots < 256)
            slots++;
        if (w == 256)
            w = 255;
        g->worker = w;
        free_at[w] = g->ended;
    }
    return KS_OK;
}

/* ------------------------------------------------------------------- load */

static ks_status load_trials(ks_db *db, rh_study *s, ks_error *err)
{
    ks_status st = ks_db_trials(db, s->info.id, &s->trials, &s->n, err);
    int all_empty = 1;
    if (st != KS_OK)
        return st;
    s->values = calloc((size_t)s->n + 1, sizeof *s->values);
    s->curves = calloc((size_t)s->n + 1, sizeof *s->curves);
    if (!s->values || !s->curves)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < s->n; i++) {
        const char *js = s->trials[i].params;
        if (i > 0 && s->trials[i].number <= s->trials[i - 1].number)
            return ks_error_set(err, KS_ERR_CORRUPT, "the study database is damaged (trial "
                                                     "numbers out of order)");
        if (ks_value_from_json(js, strlen(js), "params", &s->values[i], NULL) != KS_OK ||
            s->values[i].kind != KS_VALUE_MAP)
            return ks_error_set(err, KS_ERR_CORRUPT, "the study database is damaged (trial "
                                                     "%d's parameters are not a JSON object)",
                                s->trials[i].number);
        all_empty &= s->values[i].n == 0;
        if (s->trials[i].started > 0 && (s->t0 == 0 || s->trials[i].started < s->t0))
            s->t0 = s->trials[i].started;
    }
    s->is_fit = !s->has_search && all_empty;
    return KS_OK;
}

ks_status rh_load(ks_db *db, const char *study, rh_study *out, ks_error *err)
{
    ks_status s;
    metric_reader r;
    memset(out, 0, sizeof *out);
    if ((s = ks_db_study_find(db, study, &out->info, err)) != KS_OK ||
        (s = ks_db_search_get(db, out->info.id, &out->search, &out->has_search, err)) != KS_OK ||
        (s = load_trials(db, out, err)) != KS_OK || (s = declared_params(out, err)) != KS_OK ||
        (s = inferred_params(out, err)) != KS_OK)
        return s;
    r.s = out;
    r.last_trial = -1;
    r.index = -1;
    if ((s = ks_db_study_metrics(db, out->info.id, on_metric, &r, err)) != KS_OK ||
        (s = ks_db_segments(db, out->info.id, &out->segments, &out->n_segments, err)) != KS_OK)
        return s;
    out->segments_recorded = out->n_segments > 0;
    if (!out->segments_recorded) {
        free(out->segments);
        out->segments = NULL;
        if ((s = reconstruct_segments(out, err)) != KS_OK)
            return s;
    }
    for (int k = 0; k < out->n_segments; k++)
        if (out->segments[k].started > 0 &&
            (out->t0 == 0 || out->segments[k].started < out->t0))
            out->t0 = out->segments[k].started;
    return ks_db_ensembles(db, out->info.id, &out->ensemble_names, &out->ensemble_jsons, err);
}

void rh_free(rh_study *s)
{
    if (!s)
        return;
    ks_study_info_free(&s->info);
    ks_search_info_free(&s->search);
    for (int k = 0; k < s->n_params; k++)
        ks_value_free(&s->params[k].choices);
    for (int i = 0; i < s->n; i++) {
        ks_trial_info_free(&s->trials[i]);
        if (s->values)
            ks_value_free(&s->values[i]);
        if (s->curves)
            free(s->curves[i].v);
    }
    free(s->trials);
    free(s->values);
    free(s->curves);
    for (int k = 0; k < s->n_metrics; k++)
        free(s->metrics[k]);
    free(s->at_best);
    free(s->segments);
    ks_strv_free(s->ensemble_names);
    ks_strv_free(s->ensemble_jsons);
    memset(s, 0, sizeof *s);
}
