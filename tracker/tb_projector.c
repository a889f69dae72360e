/*
 * tb_projector.c — TensorBoard's embedding projector for a model's Embedding layers
 * (the TensorBoard callback's embeddings_freq): projector_config.pbtxt in a run
 * directory, naming per Embedding a TSV of its vectors (tensor_path, which the projector
 * reads without a TensorFlow checkpoint) and, when a TextVectorization makes its ids, a
 * TSV of the tokens (metadata_path).  The files are made where the model is (the
 * recorder) and written, each atomically, by the one writer (ks_tb_files_write).
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

/* A finished text as the next file of *files (its bytes taken); KS_ERR_NOMEM. */
static ks_status add_file(ks_tb_file **files, int *n, const char *name, text *t, ks_error *err)
{
    size_t len = strlen(name) + 1;
    ks_tb_file *v = t->nomem ? NULL : realloc(*files, (size_t)(*n + 1) * sizeof *v);
    char *nm = v ? malloc(len) : NULL;
    if (v)
        *files = v;
    if (!nm) {
        free(t->s);
        memset(t, 0, sizeof *t);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory making the projector's files");
    }
    memcpy(nm, name, len);
    v[*n].name = nm;
    v[*n].data = (unsigned char *)t->s;
    v[*n].len = t->len;
    (*n)++;
    memset(t, 0, sizeof *t);
    return KS_OK;
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

/* The config and each Embedding's tokens. */
static ks_status config_files(ks_model *m, ks_tb_file **files, int *n, ks_error *err)
{
    text cfg = {0};
    char tsv[300], meta[300];
    int any = 0;
    ks_status s = KS_OK;
    for (int i = 0; i < ks_model_n_layers(m) && s == KS_OK; i++) {
        int w = ks_model_layer_token_table(m, i);
        const ks_shape *sh = w >= 0 ? ks_model_weight_shape(m, w) : NULL;
        int has_meta = w >= 0 && ks_model_layer_input_token(m, i, 0) != NULL;
        if (w < 0)
            continue;
        any = 1;
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
            s = add_file(files, n, meta, &md, err);
        }
        put(&cfg, "}\n");
    }
    if (s == KS_OK && any)
        return add_file(files, n, "projector_config.pbtxt", &cfg, err);
    free(cfg.s);
    return s;
}

/* Each Embedding's vectors as they are now. */
static ks_status tensor_files(ks_model *m, ks_tb_file **files, int *n, ks_error *err)
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
        s = add_file(files, n, name, &t, err);
    }
    return s;
}

ks_status ks_tb_projector_files(ks_model *m, int config, ks_tb_file **files, int *n,
                                ks_error *err)
{
    return config ? config_files(m, files, n, err) : tensor_files(m, files, n, err);
}

void ks_tb_files_free(ks_tb_file *files, int n)
{
    for (int i = 0; files && i < n; i++) {
        free(files[i].name);
        free(files[i].data);
    }
    free(files);
}

/* 1 if name stays inside its run directory: relative, every part a plain name. */
static int name_inside(const char *name)
{
    const char *p = name;
    if (!name[0] || name[0] == '/')
        return 0;
    for (;;) {
        size_t k = strcspn(p, "/");
        if (k == 0 || (k == 1 && p[0] == '.') || (k == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        if (!p[k])
            return 1;
        p += k + 1;
    }
}

ks_status ks_tb_files_write(const char *dir, const ks_tb_file *files, int n, ks_error *err)
{
    ks_status s = KS_OK;
    for (int i = 0; i < n && s == KS_OK; i++) {
        char path[1400];
        const char *slash;
        if (!name_inside(files[i].name))
            return ks_error_set(err, KS_ERR_CORRUPT,
                                "a TensorBoard file named \"%.200s\" would leave its run "
                                "directory %s",
                                files[i].name, dir);
        if (snprintf(path, sizeof path, "%s/%s", dir, files[i].name) >= (int)sizeof path)
            return ks_error_set_at(err, KS_ERR_IO, dir, 0, 0, "a file name too long: %.200s",
                                   files[i].name);
        /* its folders (embeddings/) first */
        if ((slash = strrchr(path, '/')) && slash > path + strlen(dir)) {
            char sub[1400];
            snprintf(sub, sizeof sub, "%.*s", (int)(slash - path), path);
            if ((s = ks_mkdirs(sub, err)) != KS_OK)
                return s;
        }
        s = ks_write_file_atomic(path, files[i].data ? files[i].data : (const unsigned char *)"",
                                 files[i].len, err);
    }
    return s;
}
