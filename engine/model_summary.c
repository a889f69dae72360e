/*
 * model_summary.c — model.summary(): Keras's table of layers, output shapes and
 * parameter counts, in the plain-text form tf.keras prints: the Sequential table for a
 * chain, the functional one (with "Connected to") for any other graph.
 */
#include "engine_impl.h"

#include <stdlib.h>
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

/* The three lines of parameter counts under both tables. */
static void param_counts(const ks_model *m, FILE *f)
{
    char c[32];
    fprintf(f, "Total params: %s\n", with_commas(ks_model_count_params(m, -1), c, sizeof c));
    fprintf(f, "Trainable params: %s\n", with_commas(ks_model_count_params(m, 1), c, sizeof c));
    fprintf(f, "Non-trainable params: %s\n",
            with_commas(ks_model_count_params(m, 0), c, sizeof c));
}

/* ------------------------------------------------------------ functional */

#define FLINE 98
static const int fstops[4] = {32, 53, 65, 98};

/*
 * One row of tf.keras's functional table, wrapping each field into its column as
 * tf.keras does (a field breaks after "'," or "),", else where the column ends).
 */
static void frow(FILE *f, const char *const *fields)
{
    const char *left[4];
    for (int i = 0; i < 4; i++)
        left[i] = fields[i];
    while (*left[0] || *left[1] || *left[2] || *left[3]) {
        char line[FLINE + 64];
        int len = 0;
        for (int col = 0; col < 4; col++) {
            int start = col ? fstops[col - 1] : 0, space = col < 3 ? 2 : 0;
            int cutoff = fstops[col] - start - space, n = (int)strlen(left[col]);
            int take = n < cutoff ? n : cutoff;
            static const char *const breaks[] = {"),", "},", "],", "',"};
            int best = -1;
            for (int b = 0; b < 4; b++) {
                const char *hit = NULL;
                for (int k = 0; k + 1 < take && !hit; k++)
                    if (left[col][k] == breaks[b][0] && left[col][k + 1] == breaks[b][1])
                        hit = left[col] + k;
                if (hit && (best < 0 || (int)(hit - left[col]) + 2 < best))
                    best = (int)(hit - left[col]) + 2;
            }
            if (best >= 0)
                take = best;
            if (col == 0)
                line[len++] = ' ';
            memcpy(line + len, left[col], (size_t)take);
            len += take;
            left[col] += take;
            while (len < fstops[col])
                line[len++] = ' ';
        }
        while (len > 0 && line[len - 1] == ' ')
            len--;
        line[len] = '\0';
        fprintf(f, "%s\n", line);
    }
}

/* What summary() lists: a layer or a sub-model of the model, with all its calls. */
typedef struct unit {
    const char *name, *type;
    const ks_shape *shape;
    int input;                  /* an InputLayer: its shape as a list */
    size_t params;
    int calls;                  /* calls so far (the next call's index) */
    char connected[1024];       /* "['a[0][0]', 'b[0][0]']" without the closing bracket */
} unit;

/* The unit of entry i of the model's graph: its first call's entry, or -1. */
static int unit_key(const ks_graph *g, int i)
{
    const ks_entry *e = &g->e[i];
    if (e->kind == KS_ENTRY_SHARED)
        return e->callee;
    if (e->kind == KS_ENTRY_MODEL) {
        for (int j = 0; j < g->n; j++)
            if (g->e[j].used && g->e[j].kind == KS_ENTRY_MODEL && g->e[j].callee == e->callee)
                return j;
    }
    return i;
}

static size_t submodel_params(const ks_model *m, const char *name)
{
    size_t n = 0, len = strlen(name);
    for (int i = 0; i < m->n_layers; i++)
        if (strncmp(m->layers[i]->name, name, len) == 0 && m->layers[i]->name[len] == '/')
            n += ks_model_layer_params(m, i);
    return n;
}

/* The rows of the table into u (one per top-level layer or sub-model); their count. */
static int collect_units(const ks_model *m, unit *u, int *row, int *call)
{
    const ks_graph *g = &m->graphs[0];
    int n = 0;
    for (int i = 0; i < g->n; i++)
        row[i] = -1;
    /* rows in order of first calls; each call adds its inputs to its row */
    for (int i = 0; i < g->n; i++) {
        const ks_entry *e = &g->e[i];
        int key = unit_key(g, i);
        unit *un;
        if (!e->used)
            continue;
        if (row[key] < 0) {
            un = &u[n];
            row[key] = n++;
            un->name = e->kind == KS_ENTRY_SHARED ? g->e[key].name
                       : e->kind == KS_ENTRY_MODEL ? m->graphs[e->callee].name
                                                   : e->name;
            un->type = e->kind == KS_ENTRY_MODEL
                           ? (m->graphs[e->callee].listed ? "Sequential" : "Functional")
                           : m->nodes[e->node].layer->ops->name;
            un->shape = &m->nodes[e->node].layer->out_shape;
            un->input = e->kind == KS_ENTRY_INPUT;
            un->params = e->kind == KS_ENTRY_MODEL
                             ? submodel_params(m, m->graphs[e->callee].name)
                             : ks_model_layer_params(m, m->nodes[e->node].layer->index);
            snprintf(un->connected, sizeof un->connected, "[");
        }
        row[i] = row[key];      /* what reads this call names its row */
        un = &u[row[key]];
        call[i] = un->calls++;
        for (int k = 0; k < e->n_in; k++) {
            int j = e->inputs[k];
            size_t len = strlen(un->connected);
            snprintf(un->connected + len, sizeof un->connected - len, "%s'%s[%d][0]'",
                     len > 1 ? ", " : "", u[row[j]].name, call[j]);
        }
    }
    return n;
}

static void frule(FILE *f, char c)
{
    for (int i = 0; i < FLINE; i++)
        fputc(c, f);
    fputc('\n', f);
}

static void summary_functional(const ks_model *m, FILE *f)
{
    int n_entries = m->graphs[0].n, n;
    unit *u = calloc((size_t)n_entries, sizeof *u);
    int *row = calloc((size_t)n_entries, sizeof *row);
    int *call = calloc((size_t)n_entries, sizeof *call);
    static const char *const head[4] = {"Layer (type)", "Output Shape", "Param #",
                                        "Connected to"};
    if (!u || !row || !call) {
        free(u);
        free(row);
        free(call);
        return;
    }
    n = collect_units(m, u, row, call);
    fprintf(f, "Model: \"functional\"\n");
    frule(f, '_');
    frow(f, head);
    frule(f, '=');
    for (int r = 0; r < n; r++) {
        char shape[96], conn[1100], params[32], name[2 * KS_PATH_MAX];
        const char *fields[4] = {name, shape, params, conn};
        snprintf(name, sizeof name, "%s (%s)", u[r].name, u[r].type);
        if (u[r].input) {
            char inner[80];
            snprintf(shape, sizeof shape, "[%s]", ks_shape_str(u[r].shape, inner, sizeof inner));
        } else {
            ks_shape_str(u[r].shape, shape, sizeof shape);
        }
        snprintf(params, sizeof params, "%zu", u[r].params);
        snprintf(conn, sizeof conn, "%s]", u[r].connected);
        frow(f, fields);
        fputc('\n', f);
    }
    frule(f, '=');
    param_counts(m, f);
    frule(f, '_');
    free(u);
    free(row);
    free(call);
}

/* A chain: one input, each call reading the one before, each layer called once. */
static int is_sequential(const ks_model *m)
{
    if (m->n_inputs != 1 || m->n_outputs != 1 || m->outputs[0].node != m->n_nodes - 1)
        return 0;
    for (int i = 1; i < m->n_nodes; i++)
        if (m->nodes[i].n_in != 1 || m->nodes[i].inputs[0] != i - 1 || m->nodes[i].call > 0)
            return 0;
    return 1;
}

void ks_model_summary(const ks_model *m, FILE *f)
{
    char a[256], b[64], c[32];
    if (!is_sequential(m)) {
        summary_functional(m, f);
        return;
    }
    fprintf(f, "Model: \"sequential\"\n");
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
    param_counts(m, f);
    rule(f, '_');
}
