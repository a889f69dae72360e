/*
 * tb_study.c — a study's HParams experiment as the live writer and `ksearch tensorboard`
 * both write it: the domains of the search it declared (study.db's search and param
 * rows, ks_search_info) and the metrics shown for its objective.  One definition, so
 * that the rewrite shows what the study showed.
 */
#include "tracker.h"

#include <stdlib.h>
#include <string.h>

int ks_hp_value_of(const ks_value *v, ks_hp_value *out)
{
    memset(out, 0, sizeof *out);
    switch (v->kind) {
    case KS_VALUE_NUMBER:
        out->type = KS_HP_FLOAT;
        out->number = v->number;
        return 1;
    case KS_VALUE_STRING:
        out->type = KS_HP_STRING;
        out->string = v->string;
        return 1;
    case KS_VALUE_BOOL:
        out->type = KS_HP_BOOL;
        out->boolean = v->boolean;
        return 1;
    default:
        return 0;
    }
}

void ks_hp_domains_free(ks_hp_domains *d)
{
    if (!d)
        return;
    for (int i = 0; d->choices && i < d->n; i++)
        ks_value_free(&d->choices[i]);
    free(d->choices);
    free(d->values);
    free(d->info);
    memset(d, 0, sizeof *d);
}

/* Parameter i's choices (its JSON list) into d->choices[i]; *count: how many values. */
static ks_status parse_choices(const ks_search_param *p, ks_value *list, size_t *count,
                               ks_error *err)
{
    const char *text = p->choices ? p->choices : "[]";
    if (ks_value_from_json(text, strlen(text), "study.db", list, NULL) != KS_OK ||
        list->kind != KS_VALUE_LIST) {
        ks_value_free(list);
        ks_value_init(list, KS_VALUE_NULL);
        return ks_error_set(err, KS_ERR_CORRUPT,
                            "the search space's parameter %.64s has damaged choices", p->name);
    }
    *count += list->n;
    return KS_OK;
}

ks_status ks_hp_domains_from_search(const ks_search_info *search, ks_hp_domains *out,
                                    ks_error *err)
{
    size_t n_values = 0, used = 0;
    ks_status s = KS_OK;
    int n = search ? search->n_params : 0;
    memset(out, 0, sizeof *out);
    if (n < 0 || (n > 0 && !search->params))
        return ks_error_set(err, KS_ERR_INTERNAL, "ks_hp_domains_from_search: bad search");
    if (n == 0)
        return KS_OK;
    if (!(out->info = calloc((size_t)n, sizeof *out->info)) ||
        !(out->choices = calloc((size_t)n, sizeof *out->choices))) {
        ks_hp_domains_free(out);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    out->n = n;
    for (int i = 0; s == KS_OK && i < n; i++)
        if (search->params[i].kind == KS_SEARCH_CHOICE)
            s = parse_choices(&search->params[i], &out->choices[i], &n_values, err);
    if (s == KS_OK && n_values > 0 && !(out->values = calloc(n_values, sizeof *out->values)))
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    for (int i = 0; s == KS_OK && i < n; i++) {
        const ks_search_param *p = &search->params[i];
        ks_hp_info *h = &out->info[i];
        h->name = p->name;
        if (p->kind != KS_SEARCH_CHOICE) {
            /* an int is a number to HParams too: the interval it is drawn from */
            h->type = KS_HP_FLOAT;
            h->min = p->low;
            h->max = p->high;
            continue;
        }
        h->discrete = 1;
        h->values = out->values + used;
        /* a domain has one type: values HParams cannot show (null, a list), or of
           another type than the first, are left out of it */
        for (size_t k = 0; k < out->choices[i].n; k++) {
            if (!ks_hp_value_of(&out->choices[i].items[k], &out->values[used]) ||
                (h->n_values > 0 && out->values[used].type != h->values[0].type))
                continue;
            used++;
            h->n_values++;
        }
        h->type = h->n_values ? h->values[0].type : KS_HP_STRING;
    }
    if (s != KS_OK)
        ks_hp_domains_free(out);
    return s;
}

ks_status ks_tb_study_experiment(ks_tb_run *root, const char *study, double time_created,
                                 const char *metric, const ks_hp_info *hparams, int n_hparams,
                                 const char *const *logged, int n_logged, ks_error *err)
{
    char best[96], tag[96], tags[KS_TB_MAX_LOGGED][KS_LOG_NAME_MAX + 8];
    const char *group = "validation", *name = metric ? metric : "";
    ks_hp_metric metrics[2 + 2 * (KS_TB_MAX_LOGGED + 1)];
    int n = 2;
    /* the objective's best so far (the session run's) and its epoch series in its group */
    if (strncmp(name, "val_", 4) == 0)
        name += 4;
    else
        group = "train";
    snprintf(best, sizeof best, "best_%s", metric ? metric : "");
    snprintf(tag, sizeof tag, "epoch_%s", name);
    metrics[0] = (ks_hp_metric){"", best, best, 0};
    metrics[1] = (ks_hp_metric){group, tag, NULL, strcmp(group, "train") ? 2 : 1};
    /* the losses, then every other name the trials log, on both sides; the objective's
       series once */
    if (n_logged > KS_TB_MAX_LOGGED)
        n_logged = KS_TB_MAX_LOGGED;
    for (int i = -1; i < (logged ? n_logged : 0); i++) {
        const char *t = "epoch_loss";
        if (i >= 0) {
            snprintf(tags[i], sizeof tags[i], "epoch_%s", logged[i]);
            t = tags[i];
        }
        if (strcmp(t, tag) != 0 || strcmp(group, "validation") != 0)
            metrics[n++] = (ks_hp_metric){"validation", t, NULL, 2};
        if (strcmp(t, tag) != 0 || strcmp(group, "train") != 0)
            metrics[n++] = (ks_hp_metric){"train", t, NULL, 1};
    }
    return ks_tb_hparams_experiment(root, study, time_created, hparams, n_hparams, metrics, n,
                                    err);
}
