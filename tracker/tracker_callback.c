/*
 * tracker_callback.c — what the tracker takes from a study or model file and shows
 * besides the records: the TensorBoard callback's Keras arguments, and the model
 * summary text (the trial's parameters and the layer table) TensorBoard shows.
 * The recording itself is tracker_record.c (the worker's half) and tracker_commit.c
 * (the writer's half).
 */
#include "tracker.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Markdown table cell text: '|' escaped, line breaks as spaces. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputs("\\|", f);
        else
            fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
}

ks_status ks_tracker_summary_text(const ks_model *m, const char *params_json, char **out,
                                  ks_error *err)
{
    char *text = NULL, *table = NULL;
    size_t len = 0, table_len = 0;
    FILE *f, *tf;
    ks_value v;
    int have_params = 0;
    *out = NULL;
    if (!m)
        return ks_error_set(err, KS_ERR_INTERNAL, "ks_tracker_summary_text: no model");
    if (params_json &&
        ks_value_from_json(params_json, strlen(params_json), "params", &v, NULL) == KS_OK) {
        have_params = v.kind == KS_VALUE_MAP && v.n > 0;
        if (!have_params)
            ks_value_free(&v);
    }
    /* ks_model_summary's table, each line indented: a Markdown code block */
    if (!(tf = open_memstream(&table, &table_len))) {
        if (have_params)
            ks_value_free(&v);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    ks_model_summary(m, tf);
    if (fclose(tf) != 0 || !table) {
        free(table);
        if (have_params)
            ks_value_free(&v);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if (!(f = open_memstream(&text, &len))) {
        free(table);
        if (have_params)
            ks_value_free(&v);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if (have_params) {
        fputs("**Parameters**\n\n| parameter | value |\n|---|---|\n", f);
        for (size_t i = 0; i < v.n; i++) {
            const ks_value *e = &v.items[i];
            char val[64];
            fputs("| ", f);
            md_cell(f, e->key);
            fputs(" | ", f);
            if (e->kind == KS_VALUE_NUMBER)
                snprintf(val, sizeof val, "%.10g", e->number);
            else if (e->kind == KS_VALUE_BOOL)
                snprintf(val, sizeof val, "%s", e->boolean ? "true" : "false");
            else if (e->kind != KS_VALUE_STRING)
                ks_value_describe(e, val, sizeof val);
            md_cell(f, e->kind == KS_VALUE_STRING ? e->string : val);
            fputs(" |\n", f);
        }
        fputs("\n**Model**\n\n", f);
        ks_value_free(&v);
    }
    for (const char *line = table; *line;) {
        size_t n = strcspn(line, "\n");
        fprintf(f, "    %.*s\n", (int)n, line);
        line += n + (line[n] == '\n');
    }
    free(table);
    if (fclose(f) != 0 || !text) {
        free(text);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    *out = text;
    return KS_OK;
}

/* ---------------------------------------------- the TensorBoard callback's arguments */

typedef struct tb_args {
    char log_dir[1024];
    int histogram_freq;
    int write_graph;
    ks_value update_freq;
    int write_images, write_steps_per_second, profile_batch, embeddings_freq;
} tb_args;

static const ks_key tb_keys[] = {
    {"log_dir", KS_KEY_STRING, offsetof(tb_args, log_dir), 1024, 0, 0, "logs", NULL, 0},
    {"histogram_freq", KS_KEY_INT, offsetof(tb_args, histogram_freq), 0, 0, 1e9, "0", NULL, 0},
    {"write_graph", KS_KEY_BOOL, offsetof(tb_args, write_graph), 0, 0, 0, "true", NULL, 0},
    {"update_freq", KS_KEY_VALUE, offsetof(tb_args, update_freq), 0, 0, 0, NULL, NULL, 0},
    {"embeddings_freq", KS_KEY_INT, offsetof(tb_args, embeddings_freq), 0, 0, 1e9, "0", NULL,
     0},
    /* accepted at their Keras defaults only: ksearch does not write these */
    {"write_images", KS_KEY_BOOL, offsetof(tb_args, write_images), 0, 0, 0, "false", NULL, 0},
    {"write_steps_per_second", KS_KEY_BOOL, offsetof(tb_args, write_steps_per_second), 0, 0, 0,
     "false", NULL, 0},
    {"profile_batch", KS_KEY_INT, offsetof(tb_args, profile_batch), 0, 0, 0, "0", NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

ks_status ks_tracker_tensorboard_args(const ks_value *args, ks_tracker_options *opt,
                                      char *log_dir, size_t log_dir_size, ks_error *err)
{
    tb_args a;
    const ks_value *u;
    ks_status s;
    char got[64];
    ks_keys_defaults(tb_keys, &a);
    if ((s = ks_keys_read(tb_keys, args, "TensorBoard", &a, err)) != KS_OK)
        goto out;
    if (a.write_images || a.write_steps_per_second) {
        s = ks_error_at(err, KS_ERR_CONFIG, args,
                        "TensorBoard: write_images and write_steps_per_second are not "
                        "supported; leave them false");
        goto out;
    }
    u = &a.update_freq;
    if (u->kind == KS_VALUE_NULL || (u->kind == KS_VALUE_STRING && strcmp(u->string, "epoch") == 0)) {
        opt->update_freq = 0;
    } else if (u->kind == KS_VALUE_STRING && strcmp(u->string, "batch") == 0) {
        opt->update_freq = 1;
    } else if (u->kind == KS_VALUE_NUMBER && u->number == floor(u->number) && u->number >= 1 &&
               u->number <= 1e9) {
        opt->update_freq = (int)u->number;
    } else {
        s = ks_error_at(err, KS_ERR_CONFIG, u,
                        "TensorBoard: update_freq must be \"epoch\", \"batch\" or a number of "
                        "batches >= 1, got %s",
                        ks_value_describe(u, got, sizeof got));
        goto out;
    }
    opt->histogram_freq = a.histogram_freq;
    opt->write_graph = a.write_graph;
    opt->embeddings_freq = a.embeddings_freq;
    snprintf(log_dir, log_dir_size, "%s", a.log_dir);
    opt->log_dir = log_dir;
out:
    ks_keys_free(tb_keys, &a);
    return s;
}
