/*
 * study_report.c — what a study tells those who read it back: the search as declared
 * (method, budget, each parameter's kind, range, step, log scale and choices), kept in
 * study.db when the study starts and shown as its HParams domains, and the HTML report
 * (runs/NAME/report.html), written when it ends.
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
        s = v ? ks_param_choice_value(p, k, v) : KS_ERR_NOMEM;   /* a branch: its label */
    }
    if (s == KS_OK && ks_value_to_json(&list, &json, NULL) != KS_OK)
        json = NULL;
    ks_value_free(&list);
    return json;
}

ks_status ctl_search_info(const controller *c, int parallel, ks_search_info *out,
                          ks_error *err)
{
    const ks_space *sp = &c->st->space;
    memset(out, 0, sizeof *out);
    snprintf(out->method, sizeof out->method, "%s", c->st->method->name);
    out->max_trials = c->st->max_trials;
    out->planned_trials = c->total;
    out->max_epochs = c->st->base->fit.epochs;
    out->workers = parallel;
    if (sp->n > 0 && !(out->params = calloc((size_t)sp->n, sizeof *out->params)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    out->n_params = sp->n;
    for (int i = 0; i < sp->n; i++) {
        const ks_param *p = &sp->params[i];
        ks_search_param *q = &out->params[i];
        snprintf(q->name, sizeof q->name, "%s", p->name);
        q->kind = p->kind == KS_PARAM_CHOICE ? KS_SEARCH_CHOICE
                  : p->kind == KS_PARAM_INT  ? KS_SEARCH_INT
                                             : KS_SEARCH_FLOAT;
        q->low = p->min;
        q->high = p->max;
        q->step = p->kind == KS_PARAM_INT ? (p->step >= 1 ? p->step : 1) : 0;
        q->log = p->log;
        if (p->kind == KS_PARAM_CHOICE && !(q->choices = choices_json(p))) {
            ks_search_info_free(out);
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        }
    }
    return KS_OK;
}

void ctl_report_end(controller *c)
{
    ks_error e;
    if (ks_report_html_file(c->paths.db, NULL, c->paths.report, &e) == KS_OK)
        fprintf(c->out, "report:         %s\n", c->paths.report);
    else
        fprintf(c->out, "warning: the study's report was not written: %s\n", e.msg);
}
