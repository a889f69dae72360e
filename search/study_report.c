/*
 * study_report.c — what a study tells its HTML report: the search as declared (method,
 * budget, each parameter's kind, range, step, log scale and choices), stored in
 * study.db when the study starts, and runs/NAME/report.html, written when it ends.
 */
#include "controller_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A choice parameter's values as a JSON array (malloc'd), NULL on no memory. */
static char *choices_json(const ks_param *p)
{
    ks_value list;
    char *json = NULL;
    ks_status s = KS_OK;
    ks_value_init(&list, KS_VALUE_LIST);
    for (int k = 0; s == KS_OK && k < p->n_values; k++) {
        ks_value *v = ks_value_push(&list, KS_VALUE_NULL);
        s = v ? ks_value_clone(&p->values[k], v) : KS_ERR_NOMEM;
    }
    if (s == KS_OK && ks_value_to_json(&list, &json, NULL) != KS_OK)
        json = NULL;
    ks_value_free(&list);
    return json;
}

ks_status ctl_report_begin(controller *c, int parallel, ks_error *err)
{
    const ks_space *sp = &c->st->space;
    ks_search_param params[KS_MAX_SEARCH_PARAMS];
    ks_search_info info;
    ks_status s = KS_OK;
    memset(&info, 0, sizeof info);
    memset(params, 0, sizeof params);
    snprintf(info.method, sizeof info.method, "%s", c->st->method->name);
    info.max_trials = c->st->max_trials;
    info.planned_trials = c->total;
    info.max_epochs = c->st->base->fit.epochs;
    info.workers = parallel;
    info.n_params = sp->n;
    info.params = params;
    for (int i = 0; i < sp->n; i++) {
        const ks_param *p = &sp->params[i];
        ks_search_param *q = &params[i];
        snprintf(q->name, sizeof q->name, "%s", p->name);
        q->kind = p->kind == KS_PARAM_CHOICE ? KS_SEARCH_CHOICE
                  : p->kind == KS_PARAM_INT  ? KS_SEARCH_INT
                                             : KS_SEARCH_FLOAT;
        q->low = p->min;
        q->high = p->max;
        q->step = p->kind == KS_PARAM_INT ? (p->step >= 1 ? p->step : 1) : 0;
        q->log = p->log;
        if (p->kind == KS_PARAM_CHOICE && !(q->choices = choices_json(p)))
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if (s == KS_OK)
        s = ks_db_search_put(c->db, c->study_id, &info, err);
    for (int i = 0; i < sp->n; i++)
        free(params[i].choices);
    return s;
}

void ctl_report_end(controller *c)
{
    char path[1200];
    ks_error e;
    snprintf(path, sizeof path, "%s/report.html", c->paths.dir);
    if (ks_report_html_file(c->paths.db, NULL, path, &e) == KS_OK)
        fprintf(c->out, "report:         %s\n", path);
    else
        fprintf(c->out, "warning: the study's report was not written: %s\n", e.msg);
}
