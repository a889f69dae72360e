/*
 * report_html.c — `ksearch report`: the page.  The study's summary is written here as
 * plain HTML (readable without the script); every other view is a section the embedded
 * script fills from the JSON data.  A Content-Security-Policy forbids every request,
 * so the page stays self-contained.  Written to memory first, then to its file
 * atomically: a report is whole, or not there.
 */
#include "report_html_impl.h"
#include "../engine/ks_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

ks_report_html_options ks_report_html_options_default(void)
{
    ks_report_html_options o;
    o.study = NULL;
    o.seed = 0;
    o.n_trees = ks_fanova_options_default().n_trees;
    return o;
}

/* The views, in page order: id, heading. */
static const struct view {
    const char *id, *title;
} views[] = {
    {"study", "The study"},
    {"history", "Optimization history"},
    {"parallel", "Parallel coordinates"},
    {"importance", "Parameter importance"},
    {"slices", "Slices"},
    {"contour", "Contour of the two most important parameters"},
    {"curves", "Learning curves"},
    {"timeline", "Workers"},
    {"trials", "Trials"},
    {"ensembles", "Ensembles"},
};

/* Text into HTML: markup characters escaped (the JSON string rules keep it UTF-8). */
static void html_text(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
                fputc(*s, f);
        }
    }
}

/* A number as people read it (4 significant digits). */
static void html_number(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.4g", x);
    else
        fputs("—", f);
}

static void html_duration(FILE *f, double s)
{
    if (s < 60)
        fprintf(f, "%.1f s", s);
    else if (s < 3600)
        fprintf(f, "%d min %02d s", (int)(s / 60), (int)fmod(s, 60));
    else
        fprintf(f, "%d h %02d min", (int)(s / 3600), (int)fmod(s / 60, 60));
}

/* A parameter's value as text ("0.01", "relu"). */
static void html_value(FILE *f, const ks_value *v)
{
    char buf[64];
    if (!v)
        fputs("—", f);
    else if (v->kind == KS_VALUE_NUMBER)
        fprintf(f, "%.6g", v->number);
    else if (v->kind == KS_VALUE_STRING)
        html_text(f, v->string);
    else
        html_text(f, ks_value_describe(v, buf, sizeof buf));
}

static void summary_space(FILE *f, const rh_study *s)
{
    fputs("<tr><th>space</th><td>", f);
    if (s->n_params == 0)
        fputs("none (one training, <code>ksearch fit</code>)", f);
    for (int k = 0; k < s->n_params; k++) {
        const rh_param *p = &s->params[k];
        fputs(k ? "<br>" : "", f);
        fputs("<b>", f);
        html_text(f, p->name);
        fputs("</b>: ", f);
        if (p->kind == KS_SEARCH_CHOICE) {
            fputs("one of ", f);
            for (size_t c = 0; c < p->choices.n; c++) {
                fputs(c ? ", " : "", f);
                html_value(f, &p->choices.items[c]);
            }
        } else {
            fprintf(f, "%s ", p->kind == KS_SEARCH_INT ? "int" : "float");
            html_number(f, p->low);
            fputs(" … ", f);
            html_number(f, p->high);
            if (p->kind == KS_SEARCH_INT && p->step > 1)
                fprintf(f, ", step %g", p->step);
            if (p->log)
                fputs(", log scale", f);
        }
        if (!p->declared)
            fputs(" <i>(as seen in the trials: the database has no declared space)</i>", f);
    }
    fputs("</td></tr>\n", f);
}

static void summary_best(FILE *f, const rh_study *s)
{
    int best = -1;
    for (int pass = 0; pass < 2 && best < 0; pass++)
        for (int i = 0; i < s->n; i++) {
            const ks_trial_info *t = &s->trials[i];
            if (!isfinite(t->objective) || (pass == 0 && t->status != KS_TRIAL_COMPLETE))
                continue;
            if (best < 0 || (s->info.maximize ? t->objective > s->trials[best].objective
                                              : t->objective < s->trials[best].objective))
                best = i;
        }
    fputs("<tr><th>best trial</th><td>", f);
    if (best < 0) {
        fputs("none yet</td></tr>\n", f);
        return;
    }
    fprintf(f, "trial %d (%s): <b>", s->trials[best].number,
            ks_trial_status_name(s->trials[best].status));
    html_text(f, s->info.metric);
    fputs(" ", f);
    html_number(f, s->trials[best].objective);
    fputs("</b>", f);
    if (s->trials[best].best_epoch >= 0)
        fprintf(f, " at epoch %d", s->trials[best].best_epoch + 1);
    for (int k = 0; k < s->n_params; k++) {
        fputs(k ? ", " : "; ", f);
        html_text(f, s->params[k].name);
        fputs(" = ", f);
        html_value(f, rh_value(s, best, k));
    }
    fputs("</td></tr>\n", f);
}

static void summary(FILE *f, const rh_study *s)
{
    int counts[KS_TRIAL_STATUS_COUNT] = {0};
    double first = 0, last = 0, busy = 0;
    fputs("<table class=\"summary\">\n<tr><th>what</th><td>", f);
    if (s->is_fit)
        fputs("one training (<code>ksearch fit</code>; each run of the file is a trial)", f);
    else if (s->has_search) {
        html_text(f, s->search.method);
        fputs(" search", f);
    } else
        fputs("a study (its method is not recorded in this database)", f);
    fprintf(f, ", %s ", s->info.maximize ? "maximize" : "minimize");
    html_text(f, s->info.metric);
    fputs("</td></tr>\n", f);
    summary_space(f, s);
    if (s->has_search) {
        fputs("<tr><th>budget</th><td>", f);
        if (s->search.planned_trials > 0)
            fprintf(f, "%d trials planned", s->search.planned_trials);
        else if (s->search.max_trials > 0)
            fprintf(f, "up to %d trials", s->search.max_trials);
        else
            fputs("trials until the method is done", f);
        fprintf(f, ", up to %d epoch%s a trial, %d worker%s</td></tr>\n", s->search.max_epochs,
                s->search.max_epochs == 1 ? "" : "s", s->search.workers,
                s->search.workers == 1 ? "" : "s");
    }
    for (int i = 0; i < s->n; i++)
        counts[s->trials[i].status]++;
    fprintf(f, "<tr><th>trials</th><td class=\"counts\">%d: ", s->n);
    for (int k = 0; k < KS_TRIAL_STATUS_COUNT; k++)
        if (counts[k])
            fprintf(f, "<span>%d %s</span>", counts[k], ks_trial_status_name((ks_trial_status)k));
    fputs("</td></tr>\n", f);
    for (int k = 0; k < s->n_segments; k++) {
        const ks_segment *g = &s->segments[k];
        if (first == 0 || g->started < first)
            first = g->started;
        if (g->ended > last)
            last = g->ended;
        busy += g->ended - g->started;
    }
    fputs("<tr><th>wall time</th><td>", f);
    if (last > first) {
        html_duration(f, last - first);
        fputs(" from the first trial's start to the last one's end; ", f);
        html_duration(f, busy);
        fputs(" of training in all", f);
    } else {
        fputs("—", f);
    }
    fputs("</td></tr>\n", f);
    summary_best(f, s);
    fputs("</table>\n<p id=\"ks-selected\" class=\"selected-info\"></p>\n", f);
}

static void page(FILE *f, const rh_study *s, const rh_importance *imp)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "script-src 'unsafe-inline'; style-src 'unsafe-inline'\">\n<title>ksearch report: ",
          f);
    html_text(f, s->info.name);
    fputs("</title>\n<style>\n", f);
    for (int k = 0; ks_rh_style[k]; k++)
        fputs(ks_rh_style[k], f);
    fputs("</style>\n</head>\n<body>\n<header><h1>", f);
    html_text(f, s->info.name);
    fputs("</h1><p>ksearch report of <code>study.db</code>: ", f);
    html_text(f, s->is_fit ? "one training" : "a hyperparameter search");
    fputs(", objective ", f);
    html_text(f, s->info.metric);
    fprintf(f, " (%s)</p></header>\n<nav>", s->info.maximize ? "maximize" : "minimize");
    for (size_t k = 0; k < sizeof views / sizeof views[0]; k++)
        fprintf(f, "<a href=\"#%s\">%s</a>", views[k].id, views[k].title);
    fputs("</nav>\n<main>\n<noscript><p class=\"note\">The plots of this report are drawn by "
          "its script: allow JavaScript for this file to see them.</p></noscript>\n",
          f);
    for (size_t k = 0; k < sizeof views / sizeof views[0]; k++) {
        fprintf(f, "<section id=\"%s\" class=\"view\">\n<h2>%s</h2>\n", views[k].id,
                views[k].title);
        if (k == 0)
            summary(f, s);
        fputs("</section>\n", f);
    }
    fputs("</main>\n<script type=\"application/json\" id=\"ks-data\">", f);
    rh_write_json(f, s, imp);
    fputs("</script>\n<script>\n", f);
    for (int k = 0; ks_rh_script[k]; k++)
        fputs(ks_rh_script[k], f);
    fputs("</script>\n</body>\n</html>\n", f);
}

ks_status ks_report_html_write(ks_db *db, const ks_report_html_options *o, FILE *out,
                               ks_error *err)
{
    ks_report_html_options def = ks_report_html_options_default();
    rh_study s;
    rh_importance imp;
    ks_status st;
    if (!db || !out)
        return ks_error_set(err, KS_ERR_INTERNAL, "ks_report_html_write: a NULL argument");
    if (!o)
        o = &def;
    memset(&imp, 0, sizeof imp);
    if ((st = rh_load(db, o->study, &s, err)) == KS_OK &&
        (st = rh_importance_compute(&s, o->seed, o->n_trees, &imp, err)) == KS_OK) {
        page(out, &s, &imp);
        if (ferror(out))
            st = ks_error_set(err, KS_ERR_IO, "writing the report failed");
    }
    rh_importance_free(&imp);
    rh_free(&s);
    return st;
}

ks_status ks_report_html_file(const char *db_path, const ks_report_html_options *o,
                              const char *out_path, ks_error *err)
{
    ks_db *db = NULL;
    char *buf = NULL;
    size_t len = 0;
    FILE *mem;
    ks_status s;
    if (!db_path || !out_path)
        return ks_error_set(err, KS_ERR_INTERNAL, "ks_report_html_file: a NULL path");
    if ((s = ks_db_open(db_path, KS_DB_READONLY, &db, err)) != KS_OK)
        return s;
    if (!(mem = open_memstream(&buf, &len))) {
        ks_db_close(db);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    s = ks_report_html_write(db, o, mem, err);
    ks_db_close(db);
    if (fclose(mem) != 0 && s == KS_OK)
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    if (s == KS_OK)
        s = ks_write_file_atomic(out_path, (const unsigned char *)buf, len, err);
    free(buf);
    return s;
}
