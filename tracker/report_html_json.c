/*
 * report_html_json.c — the numbers the report page embeds, as one JSON object: the
 * study, its parameters, the trials column by column (compact for 10,000 of them),
 * metrics at each trial's best epoch, curves, segments, importance and ensembles.
 * Numbers are written in the shortest text that reads back as the same double, so
 * the page holds exactly what study.db holds; strings are escaped so that nothing in
 * them can end the <script> element they sit in.
 */
#include "report_html_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void rh_json_number(FILE *f, double x)
{
    char buf[40];
    static const int digits[] = {6, 15, 16, 17};
    if (!isfinite(x)) {
        fputs("null", f);
        return;
    }
    if (x == floor(x) && fabs(x) < 1e15) {
        fprintf(f, "%.0f", x);
        return;
    }
    for (size_t k = 0; k < sizeof digits / sizeof digits[0]; k++) {
        snprintf(buf, sizeof buf, "%.*g", digits[k], x);
        if (strtod(buf, NULL) == x)
            break;
    }
    fputs(buf, f);
}

/* The length of the valid UTF-8 sequence at s (1 … 4), or 0 if it is not one. */
static int utf8_length(const unsigned char *s)
{
    int n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
          : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    uint32_t cp;
    if (n <= 1)
        return n;
    cp = s[0] & (0x7f >> n);
    for (int k = 1; k < n; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3f);
    }
    /* overlong forms, surrogates, beyond Unicode */
    if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
        return 0;
    return n;
}

void rh_json_string(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    fputc('"', f);
    while (*s) {
        int n = utf8_length(s);
        if (n == 0) {
            fputs("\\ufffd", f);    /* a byte that is not UTF-8 */
            s++;
        } else if (n > 1) {
            /* U+2028 and U+2029 end lines in older JavaScript */
            if (n == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9))
                fprintf(f, "\\u%04x", s[2] == 0xa8 ? 0x2028 : 0x2029);
            else
                fwrite(s, 1, (size_t)n, f);
            s += n;
        } else {
            unsigned char c = *s++;
            if (c == '"' || c == '\\')
                fprintf(f, "\\%c", c);
            else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f)
                fprintf(f, "\\u%04x", c);
            else
                fputc(c, f);
        }
    }
    fputc('"', f);
}

/* A value tree from study.db (parameters, ensemble records), escaped as strings are. */
static void write_value(FILE *f, const ks_value *v)
{
    if (!v) {
        fputs("null", f);
        return;
    }
    switch (v->kind) {
    case KS_VALUE_NULL:
        fputs("null", f);
        break;
    case KS_VALUE_BOOL:
        fputs(v->boolean ? "true" : "false", f);
        break;
    case KS_VALUE_NUMBER:
        rh_json_number(f, v->number);
        break;
    case KS_VALUE_STRING:
        rh_json_string(f, v->string);
        break;
    case KS_VALUE_LIST:
    case KS_VALUE_MAP:
        fputc(v->kind == KS_VALUE_LIST ? '[' : '{', f);
        for (size_t k = 0; k < v->n; k++) {
            if (k)
                fputc(',', f);
            if (v->kind == KS_VALUE_MAP) {
                rh_json_string(f, v->items[k].key);
                fputc(':', f);
            }
            write_value(f, &v->items[k]);
        }
        fputc(v->kind == KS_VALUE_LIST ? ']' : '}', f);
        break;
    }
}

/* A time as seconds since t0, to the hundredth (null if not set). */
static void write_time(FILE *f, double t, double t0)
{
    if (t > 0)
        fprintf(f, "%.2f", t - t0);
    else
        fputs("null", f);
}

/* "name":[column of n] with one writer per element. */
#define COLUMN(f, key, n, i, write_one)             \
    do {                                            \
        fputs("\"" key "\":[", f);                  \
        for (int i = 0; i < (n); i++) {             \
            if (i)                                  \
                fputc(',', f);                      \
            write_one;                              \
        }                                           \
        fputc(']', f);                              \
    } while (0)

static void write_study(FILE *f, const rh_study *s)
{
    fputs("\"study\":{\"name\":", f);
    rh_json_string(f, s->info.name);
    fputs(",\"metric\":", f);
    rh_json_string(f, s->info.metric);
    fprintf(f, ",\"goal\":\"%s\",\"kind\":\"%s\",\"created\":", s->info.maximize ? "maximize" : "minimize",
            s->is_fit ? "fit" : "study");
    rh_json_number(f, s->info.created);
    fprintf(f, ",\"search_recorded\":%s,\"method\":", s->has_search ? "true" : "false");
    if (s->has_search)
        rh_json_string(f, s->search.method);
    else
        fputs("null", f);
    fprintf(f, ",\"max_trials\":%d,\"planned_trials\":%d,\"max_epochs\":%d,\"workers\":%d}",
            s->search.max_trials, s->search.planned_trials, s->search.max_epochs,
            s->search.workers);
}

static void write_params(FILE *f, const rh_study *s)
{
    static const char *const kinds[] = {"choice", "int", "float"};
    fputs(",\"params\":[", f);
    for (int k = 0; k < s->n_params; k++) {
        const rh_param *p = &s->params[k];
        fprintf(f, "%s{\"name\":", k ? "," : "");
        rh_json_string(f, p->name);
        fprintf(f, ",\"kind\":\"%s\",\"declared\":%s,\"log\":%s,\"low\":", kinds[p->kind],
                p->declared ? "true" : "false", p->log ? "true" : "false");
        rh_json_number(f, p->kind == KS_SEARCH_CHOICE ? NAN : p->low);
        fputs(",\"high\":", f);
        rh_json_number(f, p->kind == KS_SEARCH_CHOICE ? NAN : p->high);
        fputs(",\"step\":", f);
        rh_json_number(f, p->kind == KS_SEARCH_INT ? p->step : NAN);
        fputs(",\"choices\":", f);
        write_value(f, &p->choices);
        fputc('}', f);
    }
    fputc(']', f);
}

static void write_trials(FILE *f, const rh_study *s)
{
    const ks_trial_info *t = s->trials;
    int n = s->n, first = 1;
    fputs(",\"trials\":{", f);
    COLUMN(f, "number", n, i, fprintf(f, "%d", t[i].number));
    fputc(',', f);
    COLUMN(f, "status", n, i, fprintf(f, "\"%s\"", ks_trial_status_name(t[i].status)));
    fputc(',', f);
    COLUMN(f, "objective", n, i, rh_json_number(f, t[i].objective));
    fputc(',', f);
    COLUMN(f, "best_epoch", n, i, fprintf(f, "%d", t[i].best_epoch));
    fputc(',', f);
    COLUMN(f, "epochs", n, i, fprintf(f, "%d", t[i].epochs));
    fputc(',', f);
    COLUMN(f, "budget", n, i, fprintf(f, "%d", t[i].budget));
    fputc(',', f);
    COLUMN(f, "start", n, i, write_time(f, t[i].started, s->t0));
    fputc(',', f);
    COLUMN(f, "end", n, i, write_time(f, t[i].ended, s->t0));
    fputs(",\"params\":[", f);
    for (int k = 0; k < s->n_params; k++) {
        fputs(k ? ",[" : "[", f);
        for (int i = 0; i < n; i++) {
            if (i)
                fputc(',', f);
            write_value(f, rh_value(s, i, k));
        }
        fputc(']', f);
    }
    fputs("],", f);
    COLUMN(f, "curve", n, i, {
        fputc('[', f);
        for (int e = 0; e < s->curves[i].n; e++) {
            if (e)
                fputc(',', f);
            rh_json_number(f, s->curves[i].v[e]);
        }
        fputc(']', f);
    });
    fputs(",\"error\":{", f);
    for (int i = 0; i < n; i++) {
        if (!t[i].error)
            continue;
        fprintf(f, "%s\"%d\":", first ? "" : ",", t[i].number);
        rh_json_string(f, t[i].error);
        first = 0;
    }
    fputs("}}", f);
}

static void write_metrics(FILE *f, const rh_study *s)
{
    fputs(",\"metrics\":{", f);
    COLUMN(f, "names", s->n_metrics, k, rh_json_string(f, s->metrics[k]));
    fputc(',', f);
    COLUMN(f, "at_best", s->n_metrics, k, {
        fputc('[', f);
        for (int i = 0; i < s->n; i++) {
            if (i)
                fputc(',', f);
            rh_json_number(f, s->at_best[(size_t)k * (size_t)s->n + (size_t)i]);
        }
        fputc(']', f);
    });
    fputc('}', f);
}

static void write_segments(FILE *f, const rh_study *s)
{
    const ks_segment *g = s->segments;
    int n = s->n_segments;
    fprintf(f, ",\"segments\":{\"recorded\":%s,", s->segments_recorded ? "true" : "false");
    COLUMN(f, "trial", n, k, fprintf(f, "%d", g[k].trial_number));
    fputc(',', f);
    COLUMN(f, "worker", n, k, fprintf(f, "%d", g[k].worker));
    fputc(',', f);
    COLUMN(f, "start", n, k, write_time(f, g[k].started, s->t0));
    fputc(',', f);
    COLUMN(f, "end", n, k, write_time(f, g[k].ended, s->t0));
    fputc(',', f);
    COLUMN(f, "first_epoch", n, k, fprintf(f, "%d", g[k].first_epoch));
    fputc(',', f);
    COLUMN(f, "epochs", n, k, fprintf(f, "%d", g[k].epochs));
    fputc(',', f);
    COLUMN(f, "status", n, k, fprintf(f, "\"%s\"", ks_trial_status_name(g[k].status)));
    fputc('}', f);
}

/* x values of parameter k at m points: numbers, or a choice's values by index. */
static void write_axis(FILE *f, const rh_param *p, const double *x, int m)
{
    fputc('[', f);
    for (int q = 0; q < m; q++) {
        if (q)
            fputc(',', f);
        if (p->kind == KS_SEARCH_CHOICE)
            write_value(f, x[q] >= 0 && x[q] < (double)p->choices.n ? &p->choices.items[(size_t)x[q]]
                                                                     : NULL);
        else
            rh_json_number(f, x[q]);
    }
    fputc(']', f);
}

static void write_importance(FILE *f, const rh_study *s, const rh_importance *imp)
{
    fputs(",\"importance\":{", f);
    if (!imp->available) {
        fputs("\"reason\":", f);
        rh_json_string(f, imp->reason);
        fputc('}', f);
        return;
    }
    fprintf(f, "\"trials\":%d,\"trees\":%d,", imp->trials, imp->trees);
    COLUMN(f, "params", imp->n, j, rh_json_string(f, s->params[imp->param[j]].name));
    fputc(',', f);
    COLUMN(f, "share", imp->n, j, rh_json_number(f, imp->share[j]));
    fputc(',', f);
    COLUMN(f, "std", imp->n, j, rh_json_number(f, imp->std[j]));
    fputs(",\"marginal\":{", f);
    for (int j = 0; j < imp->n; j++) {
        const rh_param *p = &s->params[imp->param[j]];
        fputs(j ? "," : "", f);
        rh_json_string(f, p->name);
        fputs(":{\"x\":", f);
        write_axis(f, p, imp->mx[j], imp->m[j]);
        fputc(',', f);
        COLUMN(f, "y", imp->m[j], q, rh_json_number(f, imp->my[j][q]));
        fputc('}', f);
    }
    fputc('}', f);
    if (imp->cx >= 0) {
        const rh_param *px = &s->params[imp->param[imp->cx]], *py = &s->params[imp->param[imp->cy]];
        fputs(",\"contour\":{\"x_param\":", f);
        rh_json_string(f, px->name);
        fputs(",\"y_param\":", f);
        rh_json_string(f, py->name);
        fputs(",\"x\":", f);
        write_axis(f, px, imp->gxv, imp->gx);
        fputs(",\"y\":", f);
        write_axis(f, py, imp->gyv, imp->gy);
        fputc(',', f);
        COLUMN(f, "z", imp->gx, a, {
            fputc('[', f);
            for (int b = 0; b < imp->gy; b++) {
                if (b)
                    fputc(',', f);
                rh_json_number(f, imp->gz[(size_t)a * (size_t)imp->gy + (size_t)b]);
            }
            fputc(']', f);
        });
        fputc('}', f);
    }
    fputc('}', f);
}

static void write_ensembles(FILE *f, const rh_study *s)
{
    fputs(",\"ensembles\":[", f);
    for (int k = 0; s->ensemble_names && s->ensemble_names[k]; k++) {
        ks_value rec;
        const char *j = s->ensemble_jsons[k];
        ks_value_init(&rec, KS_VALUE_NULL);
        fputs(k ? ",{\"name\":" : "{\"name\":", f);
        rh_json_string(f, s->ensemble_names[k]);
        fputs(",\"record\":", f);
        /* parsed and written again: a record is data, never text pasted into the page */
        if (j && ks_value_from_json(j, strlen(j), "ensemble", &rec, NULL) == KS_OK &&
            rec.kind == KS_VALUE_MAP)
            write_value(f, &rec);
        else
            fputs("{}", f);
        ks_value_free(&rec);
        fputc('}', f);
    }
    fputc(']', f);
}

void rh_write_json(FILE *f, const rh_study *s, const rh_importance *imp)
{
    fputs("{\"format\":1,", f);
    write_study(f, s);
    fputs(",\"t0\":", f);
    rh_json_number(f, s->t0);
    write_params(f, s);
    write_trials(f, s);
    write_metrics(f, s);
    write_segments(f, s);
    write_importance(f, s, imp);
    write_ensembles(f, s);
    fputc('}', f);
}
