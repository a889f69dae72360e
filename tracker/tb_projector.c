/*
 * tb_projector.c — TensorBoard's embedding projector for a model's Embedding layers
 * (the TensorBoard callback's embeddings_freq): projector_config.pbtxt in a run
 * directory, naming per Embedding a TSV of its vectors (tensor_path, which the projector
 * reads without a TensorFlow checkpoint) and, when a TextVectorization makes its ids, a
 * TSV of the tokens (metadata_path).  Every file is written atomically.
 */
#include "tb_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A growing text buffer; *nomem set once an append fails. */
typedef struct text {
    char *s;
    size_t len, cap;
    int nomem;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (t->nomem)
        return;
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->nomem = 1;
            return;
        }
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap <= t->len + (size_t)n)
            cap *= 2;
        char *p = realloc(t->s, cap);
        if (!p) {
            t->nomem = 1;
            return;
        }
        t->s = p;
        t->cap = cap;
    }
}

/* The files of layer i: "embeddings/NAME.tsv" and "…_metadata.tsv", '/' in NAME as '_'. */
static void file_name(const ks_model *m, int i, const char *suffix, char *out, size_t size)
{
    size_t k = (size_t)snprintf(out, size, "embeddings/");
    for (const char *p = ks_model_layer_name(m, i); *p && k + 1 < size; p++)
        out[k++] = *p == '/' ? '_' : *p;
    out[k] = '\0';
    snprintf(out + k, size - k, "%s", suffix);
}

static ks_status write_text(const char *dir, const char *name, text *t, ks_error *err)
{
    char path[1400];
    ks_status s;
    if (t->nomem)
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory writing the projector's files");
    else {
        snprintf(path, sizeof path, "%s/%s", dir, name);
        s = ks_write_file_atomic(path, (const unsigned char *)(t->s ? t->s : ""), t->len, err);
    }
    free(t->s);
    memset(t, 0, sizeof *t);
    return s;
}

/* A token as one TSV cell: tabs and line ends as spaces; padding ("") shown as such. */
static void put_token(text *t, const char *tok)
{
    if (!tok[0]) {
        put(t, "[PAD]\n");
        return;
    }
    for (const char *p = tok; *p; p++)
        put(t, "%c", *p == '\t' || *p == '\n' || *p == '\r' ? ' ' : *p);
    put(t, "\n");
}

ks_status ks_tb_projector_config(const char *dir, ks_model *m, ks_error *err)
{
    text cfg = {0};
    char sub[1400], tsv[300], meta[300];
    int any = 0;
    ks_status s = KS_OK;
    for (int i = 0; i < ks_model_n_layers(m) && s == KS_OK; i++) {
        int w = ks_model_layer_token_table(m, i);
        const ks_shape *sh = w >= 0 ? ks_model_weight_shape(m, w) : NULL;
        int has_meta = w >= 0 && ks_model_layer_input_token(m, i, 0) != NULL;
        if (w < 0)
            continue;
        if (!any) {
            snprintf(sub, sizeof sub, "%s/embeddings", dir);
            if ((s = ks_mkdirs(sub, err)) != KS_OK)
                break;
            any = 1;
        }
        file_name(m, i, ".tsv", tsv, sizeof tsv);
        file_name(m, i, "_metadata.tsv", meta, sizeof meta);
        put(&cfg, "embeddings {\n  tensor_name: \"%s\"\n  tensor_shape: %d\n  tensor_shape: %d\n"
                  "  tensor_path: \"%s\"\n",
            ks_model_weight_name(m, w), sh->dim[0], sh->dim[1], tsv);
        if (has_meta) {
            /* one token a row: the vocabulary's, then an id it does not name as "#ID" */
            text md = {0};
            put(&cfg, "  metadata_path: \"%s\"\n", meta);
            for (int r = 0; r < sh->dim[0]; r++) {
                const char *tok = ks_model_layer_input_token(m, i, (size_t)r);
                if (tok)
                    put_token(&md, tok);
                else
                    put(&md, "#%d\n", r);
            }
            s = write_text(dir, meta, &md, err);
        }
        put(&cfg, "}\n");
    }
    if (s == KS_OK && any)
        return write_text(dir, "projector_config.pbtxt", &cfg, err);
    free(cfg.s);
    return s;
}

ks_status ks_tb_projector_tensors(const char *dir, ks_model *m, ks_error *err)
{
    char name[300];
    ks_status s = KS_OK;
    for (int i = 0; i < ks_model_n_layers(m) && s == KS_OK; i++) {
        int w = ks_model_layer_token_table(m, i);
        const ks_shape *sh;
        const float *v;
        text t = {0};
        if (w < 0)
            continue;
        sh = ks_model_weight_shape(m, w);
        v = ks_model_weight_data(m, w);
        for (int r = 0; r < sh->dim[0]; r++)
            for (int c = 0; c < sh->dim[1]; c++)
                put(&t, "%.9g%c", (double)v[(size_t)r * (size_t)sh->dim[1] + (size_t)c],
                    c + 1 < sh->dim[1] ? '\t' : '\n');
        file_name(m, i, ".tsv", name, sizeof name);
        s = write_text(dir, name, &t, err);
    }
    return s;
}
