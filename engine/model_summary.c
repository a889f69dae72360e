/*
 * model_summary.c — model.summary(): Keras's table of layers, output shapes and
 * parameter counts, in the plain-text form tf.keras prints.
 */
#include "engine_impl.h"

#include <string.h>

#define LINE 65
static const int stops[3] = {29, 55, 65};

static void rule(FILE *f, char c)
{
    for (int i = 0; i < LINE; i++)
        fputc(c, f);
    fputc('\n', f);
}

static void row(FILE *f, const char *a, const char *b, const char *c)
{
    char line[LINE + 64];
    const char *fields[3] = {a, b, c};
    int len = 0;
    for (int i = 0; i < 3; i++) {
        /* each field starts at the previous stop; a long field is cut one short of the
           next stop, so that columns stay apart, as tf.keras does */
        int start = i ? stops[i - 1] : 0;
        int room = stops[i] - start - (i < 2 ? 1 : 0);
        while (len < start)
            line[len++] = ' ';
        len += snprintf(line + len, sizeof line - (size_t)len, "%.*s", room, fields[i]);
    }
    while (len > 0 && line[len - 1] == ' ')
        len--;
    line[len] = '\0';
    fprintf(f, "%s\n", line);
}

static const char *with_commas(size_t n, char *buf, size_t size)
{
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%zu", n), j = 0;
    for (int i = 0; i < len && (size_t)j + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
    return buf;
}

void ks_model_summary(const ks_model *m, FILE *f)
{
    int chain = 1;
    char a[256], b[64], c[32];
    for (int i = 1; i < m->n_nodes; i++)
        if (m->nodes[i].n_in != 1 || m->nodes[i].inputs[0] != i - 1 || m->nodes[i].call > 0)
            chain = 0;
    fprintf(f, "Model: \"%s\"\n", chain ? "sequential" : "functional");
    rule(f, '_');
    row(f, " Layer (type)", "Output Shape", "Param #");
    rule(f, '=');
    for (int i = 1; i < m->n_layers; i++) {
        const ks_layer *l = m->layers[i];
        snprintf(a, sizeof a, " %s (%s)", l->name, l->ops->name);
        ks_shape_str(&l->out_shape, b, sizeof b);
        snprintf(c, sizeof c, "%zu", ks_model_layer_params(m, i));
        row(f, a, b, c);
        if (i + 1 < m->n_layers)
            fputc('\n', f);
    }
    rule(f, '=');
    fprintf(f, "Total params: %s\n", with_commas(ks_model_count_params(m, -1), a, sizeof a));
    fprintf(f, "Trainable params: %s\n", with_commas(ks_model_count_params(m, 1), a, sizeof a));
    fprintf(f, "Non-trainable params: %s\n",
            with_commas(ks_model_count_params(m, 0), a, sizeof a));
    rule(f, '_');
}
