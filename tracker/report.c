/*
 * report.c — reading a study back: `ksearch ls` (a row per trial, best first),
 * `show` (one trial: parameters, metrics per epoch, best epoch, checkpoints) and
 * `compare` (trials side by side per epoch), as text tables, JSON or CSV.  Epochs are
 * shown 1-based, as Keras prints them ("Epoch 1/30"); the database stores them 0-based.
 */
#include "tracker.h"
#include "../engine/ks_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- helpers */

static void free_trials(ks_trial_info *t, int n)
{
    for (int i = 0; i < n; i++)
        ks_trial_info_free(&t[i]);
    free(t);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* A string, or null when there is none (a trial's error). */
static void json_string_or_null(FILE *f, const char *s)
{
    if (s)
        json_string(f, s);
    else
        fputs("null", f);
}

static void json_number(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.17g", x);
    else
        fputs("null", f);
}

/* The parameters as "a=1 b=relu" (text) from their JSON. */
static void params_text(const char *json, char *buf, size_t size)
{
    ks_value v;
    size_t len = 0;
    buf[0] = '\0';
    if (!json || ks_value_from_json(json, strlen(json), "params", &v, NULL) != KS_OK)
        return;
    for (size_t i = 0; v.kind == KS_VALUE_MAP && i < v.n && len < size; i++) {
        char val[64];
        const ks_value *m = &v.items[i];
        if (m->kind == KS_VALUE_STRING)
            snprintf(val, sizeof val, "%s", m->string);
        else if (m->kind == KS_VALUE_NUMBER)
            snprintf(val, sizeof val, "%.6g", m->number);
        else
            ks_value_describe(m, val, sizeof val);
        len += (size_t)snprintf(buf + len, size - len, "%s%s=%s", i ? " " : "", m->key, val);
    }
    ks_value_free(&v);
}

static double duration(const ks_trial_info *t)
{
    if (t->started <= 0)
        return 0.0;
    return (t->ended > 0 ? t->ended : t->started) - t->started;
}

/* ------------------------------------------------------------------ ls */

/* Sort keys for "best first": the objective with its sign set so that smaller is better. */
typedef struct ls_order {
    int has_objective;
    double key;
    int number;
    int index;
} ls_order;

static int by_key(const void *a, const void *b)
{
    const ls_order *x = a, *y = b;
    if (x->has_objective != y->has_objective)
        return y->has_objective - x->has_objective;   /* trials with an objective first */
    if (x->has_objective && x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->number - y->number;
}

/* The rows a filter keeps of the ordered trials, in place; returns how many. */
static int filter_rows(const ks_trial_info *trials, ls_order *order, int n,
                       const ks_ls_filter *f)
{
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (f && f->statuses && !(f->statuses & (1u << trials[order[i].index].status)))
            continue;
        if (f && f->top > 0 && m == f->top)
            break;
        order[m++] = order[i];
    }
    return m;
}

/* "status complete,pruned, top 3": what a filter shows, for the table's first line. */
static void filter_text(const ks_ls_filter *f, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int k = 0; f && k < KS_TRIAL_STATUS_COUNT && len < size; k++)
        if (f->statuses & (1u << k))
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "status ",
                                    ks_trial_status_name((ks_trial_status)k));
    if (f && f->top > 0 && len < size)
        snprintf(buf + len, size - len, "%stop %d", len ? ", " : "", f->top);
}

ks_status ks_report_ls(ks_db *db, const char *study, ks_report_format fmt, FILE *out,
                       ks_error *err)
{
    return ks_report_ls_filtered(db, study, NULL, fmt, out, err);
}

ks_status ks_report_ls_filtered(ks_db *db, const char *study, const ks_ls_filter *filter,
                                ks_report_format fmt, FILE *out, ks_error *err)
{
    ks_study_info st;
    ks_trial_info *trials = NULL;
    ls_order *order;
    int n = 0, all;
    ks_status s;
    char params[1024];
    memset(&st, 0, sizeof st);
    if ((s = ks_db_study_find(db, study, &st, err)) != KS_OK)
        return s;
    if ((s = ks_db_trials(db, st.id, &trials, &n, err)) != KS_OK) {
        ks_study_info_free(&st);
        return s;
    }
    order = malloc(((size_t)n + 1) * sizeof *order);
    if (!order) {
        free_trials(trials, n);
        ks_study_info_free(&st);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        order[i].has_objective = isfinite(trials[i].objective);
        order[i].key = st.maximize ? -trials[i].objective : trials[i].objective;
        order[i].number = trials[i].number;
        order[i].index = i;
    }
    qsort(order, (size_t)n, sizeof *order, by_key);
    all = n;
    n = filter_rows(trials, order, n, filter);
    if (fmt == KS_REPORT_JSON) {
        fputs("[", out);
        for (int i = 0; i < n; i++) {
            const ks_trial_info *t = &trials[order[i].index];
            fprintf(out, "%s\n  {\"number\": %d, \"status\": \"%s\", \"params\": %s, ", i ? "," : "",
                    t->number, ks_trial_status_name(t->status), t->params ? t->params : "{}");
            fprintf(out, "\"objective\": ");
            json_number(out, t->objective);
            fprintf(out, ", \"metric\": ");
            json_string(out, st.metric);
            fprintf(out, ", \"best_epoch\": %d, \"epochs\": %d, \"budget\": %d, \"duration\": ",
                    t->best_epoch >= 0 ? t->best_epoch + 1 : 0, t->epochs, t->budget);
            json_number(out, duration(t));
            fprintf(out, ", \"error\": ");
            json_string_or_null(out, t->error);
            fputs("}", out);
        }
        fputs(n ? "\n]\n" : "]\n", out);
    } else if (fmt == KS_REPORT_CSV) {
        fprintf(out, "number,status,%s,best_epoch,epochs,duration,params\n", st.metric);
        for (int i = 0; i < n; i++) {
            const ks_trial_info *t = &trials[order[i].index];
            params_text(t->params, params, sizeof params);
            fprintf(out, "%d,%s,", t->number, ks_trial_status_name(t->status));
            if (isfinite(t->objective))
                fprintf(out, "%.10g", t->objective);
            fprintf(out, ",%d,%d,%.3f,", t->best_epoch >= 0 ? t->best_epoch + 1 : 0, t->epochs,
                    duration(t));
            ks_csv_field(out, params, ',');
            fputc('\n', out);
        }
    } else {
        char shown[160];
        filter_text(filter, shown, sizeof shown);
        fprintf(out, "study %s: %d trial%s, objective %s (%s)", st.name, all,
                all == 1 ? "" : "s", st.metric, st.maximize ? "max" : "min");
        if (shown[0])
            fprintf(out, "; %d shown (%s)", n, shown);
        fputc('\n', out);
        /* the objective's column as wide as its name ("val_main_output_loss") */
        int w = (int)strlen(st.metric) > 12 ? (int)strlen(st.metric) : 12;
        fprintf(out, "%6s  %-11s  %*s  %6s  %9s  %s\n", "trial", "status", w, st.metric,
                "epochs", "duration", "parameters");
        for (int i = 0; i < n; i++) {
            const ks_trial_info *t = &trials[order[i].index];
            char obj[32] = "-";
            if (isfinite(t->objective))
                snprintf(obj, sizeof obj, "%.4f", t->objective);
            params_text(t->params, params, sizeof params);
            fprintf(out, "%6d  %-11s  %*s  %6d  %8.1fs  %s\n", t->number,
                    ks_trial_status_name(t->status), w, obj, t->epochs, duration(t), params);
            if (t->error)
                fprintf(out, "%6s  %s\n", "", t->error);
        }
    }
    free(order);
    free_trials(trials, all);
    ks_study_info_free(&st);
    return KS_OK;
}

/* --------------------------------------------------------- metric tables */

/* Epoch values of several metrics of one trial: names, and a dense table [epoch][name]. */
typedef struct metric_table {
    int n_names, n_epochs;
    char **names;
    double *v;                  /* n_epochs × n_names, NaN where missing */
} metric_table;

static void table_free(metric_table *t)
{
    ks_strv_free(t->names);
    free(t->v);
    memset(t, 0, sizeof *t);
}

static ks_status table_load(ks_db *db, int64_t trial_id, metric_table *t, ks_error *err)
{
    ks_status s;
    memset(t, 0, sizeof *t);
    if ((s = ks_db_metric_names(db, trial_id, &t->names, err)) != KS_OK)
        return s;
    /* the optimizer's step count is TensorBoard's x axis, not a metric: not shown */
    for (int i = 0; t->names[i]; i++) {
        if (strcmp(t->names[i], KS_METRIC_ITERATIONS) != 0) {
            t->names[t->n_names++] = t->names[i];
            continue;
        }
        free(t->names[i]);
    }
    t->names[t->n_names] = NULL;
    for (int pass = 0; pass < 2; pass++) {
        for (int j = 0; j < t->n_names; j++) {
            ks_metric_point *p = NULL;
            int n = 0;
            if ((s = ks_db_metric_series(db, trial_id, t->names[j], 0, &p, &n, err)) != KS_OK) {
                table_free(t);
                return s;
            }
            for (int k = 0; k < n; k++) {
                if (pass == 0 && p[k].epoch + 1 > t->n_epochs)
                    t->n_epochs = p[k].epoch + 1;
                if (pass == 1 && p[k].epoch >= 0 && p[k].epoch < t->n_epochs)
                    t->v[(size_t)p[k].epoch * t->n_names + j] = p[k].value;
            }
            free(p);
        }
        if (pass == 0) {
            size_t cells = (size_t)t->n_epochs * (size_t)t->n_names;
            t->v = malloc((cells ? cells : 1) * sizeof *t->v);
            if (!t->v) {
                table_free(t);
                return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
            }
            for (size_t k = 0; k < cells; k++)
                t->v[k] = NAN;
        }
    }
    return KS_OK;
}

static void print_value(FILE *out, ks_report_format fmt, double x, int width)
{
    if (fmt == KS_REPORT_CSV) {
        if (isfinite(x))
            fprintf(out, "%.10g", x);
    } else if (fmt == KS_REPORT_JSON) {
        json_number(out, x);
    } else if (isfinite(x) && x != 0 && fabs(x) < 1e-3) {
        fprintf(out, "  %*.3e", width, x);     /* a small learning rate: not 0.0000 */
    } else if (isfinite(x)) {
        fprintf(out, "  %*.4f", width, x);
    } else {
        fprintf(out, "  %*s", width, "-");
    }
}

static int find_trial(const ks_trial_info *t, int n, int number)
{
    for (int i = 0; i < n; i++)
        if (t[i].number == number)
            return i;
    return -1;
}

/* ---------------------------------------------------------------- show */

ks_status ks_report_show(ks_db *db, const char *study, int trial_number, ks_report_format fmt,
                         FILE *out, ks_error *err)
{
    ks_study_info st;
    ks_trial_info *trials = NULL;
    metric_table tab;
    int n = 0, i;
    ks_status s;
    char params[1024];
    memset(&st, 0, sizeof st);
    memset(&tab, 0, sizeof tab);
    if ((s = ks_db_study_find(db, study, &st, err)) != KS_OK)
        return s;
    if ((s = ks_db_trials(db, st.id, &trials, &n, err)) != KS_OK)
        goto out;
    if ((i = find_trial(trials, n, trial_number)) < 0) {
        s = ks_error_set(err, KS_ERR_CONFIG, "study %s has no trial %d (it has %d: 0 to %d)",
                         st.name, trial_number, n, n - 1);
        goto out;
    }
    if ((s = table_load(db, trials[i].id, &tab, err)) != KS_OK)
        goto out;
    {
        const ks_trial_info *t = &trials[i];
        int ck_epoch[2] = {-1, -1};
        size_t ck_len[2] = {0, 0};
        for (int k = 0; k < 2; k++) {
            unsigned char *blob = NULL;
            ks_error e;
            if (ks_db_checkpoint_get(db, t->id, k ? KS_CHECKPOINT_LAST : KS_CHECKPOINT_BEST,
                                     &blob, &ck_len[k], &ck_epoch[k], &e) != KS_OK)
                ck_epoch[k] = -1;
            free(blob);
        }
        if (fmt == KS_REPORT_JSON) {
            fprintf(out, "{\"study\": ");
            json_string(out, st.name);
            fprintf(out, ", \"number\": %d, \"status\": \"%s\", \"params\": %s, \"seed\": %llu, ",
                    t->number, ks_trial_status_name(t->status), t->params ? t->params : "{}",
                    (unsigned long long)t->seed);
            fprintf(out, "\"budget\": %d, \"epochs\": %d, \"metric\": ", t->budget, t->epochs);
            json_string(out, st.metric);
            fprintf(out, ", \"objective\": ");
            json_number(out, t->objective);
            fprintf(out, ", \"best_epoch\": %d, \"duration\": ",
                    t->best_epoch >= 0 ? t->best_epoch + 1 : 0);
            json_number(out, duration(t));
            fprintf(out, ", \"error\": ");
            json_string_or_null(out, t->error);
            fprintf(out, ", \"checkpoints\": {");
            for (int k = 0, first = 1; k < 2; k++)
                if (ck_epoch[k] >= 0) {
                    fprintf(out, "%s\"%s\": {\"epoch\": %d, \"bytes\": %zu}", first ? "" : ", ",
                            k ? "last" : "best", ck_epoch[k] + 1, ck_len[k]);
                    first = 0;
                }
            fprintf(out, "}, \"history\": [");
            for (int e = 0; e < tab.n_epochs; e++) {
                fprintf(out, "%s\n  {\"epoch\": %d", e ? "," : "", e + 1);
                for (int j = 0; j < tab.n_names; j++) {
                    fputs(", ", out);
                    json_string(out, tab.names[j]);
                    fputs(": ", out);
                    json_number(out, tab.v[(size_t)e * tab.n_names + j]);
                }
                fputc('}', out);
            }
            fputs(tab.n_epochs ? "\n]}\n" : "]}\n", out);
        } else if (fmt == KS_REPORT_CSV) {
            fputs("epoch", out);
            for (int j = 0; j < tab.n_names; j++) {
                fputc(',', out);
                ks_csv_field(out, tab.names[j], ',');
            }
            fputc('\n', out);
            for (int e = 0; e < tab.n_epochs; e++) {
                fprintf(out, "%d", e + 1);
                for (int j = 0; j < tab.n_names; j++) {
                    fputc(',', out);
                    print_value(out, fmt, tab.v[(size_t)e * tab.n_names + j], 0);
                }
                fputc('\n', out);
            }
        } else {
            params_text(t->params, params, sizeof params);
            fprintf(out, "trial %d of study %s: %s\n", t->number, st.name,
                    ks_trial_status_name(t->status));
            fprintf(out, "parameters: %s\n", params[0] ? params : "(none)");
            fprintf(out, "seed %llu, %d of %d epochs, %.1f s\n", (unsigned long long)t->seed,
                    t->epochs, t->budget, duration(t));
            if (isfinite(t->objective))
                fprintf(out, "objective: %s = %.4f at epoch %d\n", st.metric, t->objective,
                        t->best_epoch + 1);
            if (t->error)
                fprintf(out, "error: %s\n", t->error);
            for (int k = 0; k < 2; k++)
                if (ck_epoch[k] >= 0)
                    fprintf(out, "checkpoint %s: epoch %d, %.1f KB\n", k ? "last" : "best",
                            ck_epoch[k] + 1, (double)ck_len[k] / 1024.0);
            if (tab.n_epochs > 0) {
                fprintf(out, "\n%5s", "epoch");
                for (int j = 0; j < tab.n_names; j++)
                    fprintf(out, "  %12s", tab.names[j]);
                fputc('\n', out);
                for (int e = 0; e < tab.n_epochs; e++) {
                    fprintf(out, "%5d", e + 1);
                    for (int j = 0; j < tab.n_names; j++)
                        print_value(out, fmt, tab.v[(size_t)e * tab.n_names + j], 12);
                    fprintf(out, "%s\n", e == t->best_epoch ? "  <- best" : "");
                }
            }
        }
    }
out:
    table_free(&tab);
    free_trials(trials, n);
    ks_study_info_free(&st);
    return s;
}

/* ------------------------------------------------------------- compare */

ks_status ks_report_compare(ks_db *db, const char *study, const int *numbers, int n_numbers,
                            ks_report_format fmt, FILE *out, ks_error *err)
{
    ks_study_info st;
    ks_trial_info *trials = NULL;
    metric_table *tabs = NULL;
    char **names = NULL;
    int n = 0, n_names = 0, max_epochs = 0;
    ks_status s;
    memset(&st, 0, sizeof st);
    if ((s = ks_db_study_find(db, study, &st, err)) != KS_OK)
        return s;
    if ((s = ks_db_trials(db, st.id, &trials, &n, err)) != KS_OK)
        goto out;
    tabs = calloc((size_t)n_numbers + 1, sizeof *tabs);
    names = calloc(64, sizeof *names);
    if (!tabs || !names) {
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (int k = 0; k < n_numbers; k++) {
        int i = find_trial(trials, n, numbers[k]);
        if (i < 0) {
            s = ks_error_set(err, KS_ERR_CONFIG, "study %s has no trial %d", st.name, numbers[k]);
            goto out;
        }
        if ((s = table_load(db, trials[i].id, &tabs[k], err)) != KS_OK)
            goto out;
        if (tabs[k].n_epochs > max_epochs)
            max_epochs = tabs[k].n_epochs;
        /* the union of names, in first-seen order */
        for (int j = 0; j < tabs[k].n_names; j++) {
            int seen = 0;
            for (int q = 0; q < n_names; q++)
                seen |= strcmp(names[q], tabs[k].names[j]) == 0;
            if (!seen && n_names < 63)
                names[n_names++] = tabs[k].names[j];
        }
    }
    if (fmt == KS_REPORT_JSON)
        fputs("[", out);
    else if (fmt == KS_REPORT_CSV)
        fputs("epoch", out);
    else
        fprintf(out, "%5s", "epoch");
    if (fmt != KS_REPORT_JSON) {
        for (int q = 0; q < n_names; q++)
            for (int k = 0; k < n_numbers; k++) {
                char col[96];
                snprintf(col, sizeof col, "%s#%d", names[q], numbers[k]);
                if (fmt == KS_REPORT_CSV) {
                    fputc(',', out);
                    ks_csv_field(out, col, ',');
                } else {
                    fprintf(out, "  %14s", col);
                }
            }
        fputc('\n', out);
    }
    for (int e = 0; e < max_epochs; e++) {
        if (fmt == KS_REPORT_JSON)
            fprintf(out, "%s\n  {\"epoch\": %d", e ? "," : "", e + 1);
        else
            fprintf(out, fmt == KS_REPORT_CSV ? "%d" : "%5d", e + 1);
        for (int q = 0; q < n_names; q++)
            for (int k = 0; k < n_numbers; k++) {
                double v = NAN;
                for (int j = 0; j < tabs[k].n_names; j++)
                    if (e < tabs[k].n_epochs && strcmp(tabs[k].names[j], names[q]) == 0)
                        v = tabs[k].v[(size_t)e * tabs[k].n_names + j];
                if (fmt == KS_REPORT_JSON) {
                    fprintf(out, ", \"%s#%d\": ", names[q], numbers[k]);
                    json_number(out, v);
                } else {
                    if (fmt == KS_REPORT_CSV)
                        fputc(',', out);
                    print_value(out, fmt, v, 14);
                }
            }
        fputs(fmt == KS_REPORT_JSON ? "}" : "\n", out);
    }
    if (fmt == KS_REPORT_JSON)
        fputs(max_epochs ? "\n]\n" : "]\n", out);
    s = KS_OK;
out:
    for (int k = 0; tabs && k < n_numbers; k++)
        table_free(&tabs[k]);
    free(tabs);
    free(names);    /* borrowed from the tables */
    free_trials(trials, n);
    ks_study_info_free(&st);
    return s;
}
