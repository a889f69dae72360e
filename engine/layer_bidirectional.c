/*
 * layer_bidirectional.c — Bidirectional(layer, merge_mode, backward_layer): a
 * recurrent layer run forwards and a copy of it run backwards (go_backwards) over the
 * same sequence, their outputs merged (concat, sum, mul, ave) as Keras merges them —
 * with return_sequences, the backward output is flipped back into time order, and
 * masked steps output zeros.  The wrapped layer is given as {LSTM: {units: 64, …}};
 * its weights are "bidirectional/forward_lstm/lstm_cell/kernel" and
 * "…/backward_lstm/…", as Keras 3 names them.
 */
#include "engine_impl.h"

#include <string.h>

enum { MERGE_CONCAT, MERGE_SUM, MERGE_MUL, MERGE_AVE };
static const char *const merge_modes[] = {"concat", "sum", "mul", "ave", NULL};

typedef struct bidi_state {
    ks_value layer;             /* {LSTM: {…}}: the forward layer, normalized at build */
    int merge_mode;
    ks_value backward_layer;    /* null: the forward layer's copy with go_backwards */
    /* derived at build */
    ks_rnn fwd, bwd;
} bidi_state;

static const ks_key bidi_keys[] = {
    {"layer", KS_KEY_VALUE, offsetof(bidi_state, layer), 0, 0, 0, NULL, NULL, KS_KEY_REQUIRED},
    {"merge_mode", KS_KEY_ENUM, offsetof(bidi_state, merge_mode), 0, 0, 0, "concat",
     merge_modes, 0},
    {"backward_layer", KS_KEY_VALUE, offsetof(bidi_state, backward_layer), 0, 0, 0, NULL, NULL,
     0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

/*
 * Read spec {Kind: {args}} (a recurrent kind) into a layer that lives during the
 * build: its name is the given one or the kind's default, prefixed with dir ("forward_").
 * go_backwards: -1 as given, else forced.  On success *kind and *args hold what it was
 * read into (args's values are the caller's to free with ks_keys_free).
 */
static ks_status read_inner(const ks_value *spec, const char *what, const char *dir,
                            int go_backwards, const ks_layer_ops **kind, ks_rnn_state *args,
                            char *name, size_t name_size, ks_error *err)
{
    const ks_value *a;
    ks_value own;
    char got[64], prefix[KS_NAME_MAX];
    ks_status s;
    if (spec->kind != KS_VALUE_MAP || spec->n != 1)
        return ks_error_at(err, KS_ERR_CONFIG, spec,
                           "Bidirectional: %s must be one recurrent layer, e.g. {LSTM: {units: "
                           "64}}, got %s",
                           what, ks_value_describe(spec, got, sizeof got));
    a = &spec->items[0];
    *kind = ks_layer_find(a->key);
    if (!*kind || !((*kind)->flags & KS_LAYER_RECURRENT))
        return ks_error_at_key(err, KS_ERR_CONFIG, a,
                               "Bidirectional wraps a SimpleRNN, LSTM or GRU, got %s", a->key);
    if (a->kind != KS_VALUE_MAP && a->kind != KS_VALUE_NULL)
        return ks_error_at(err, KS_ERR_CONFIG, a, "%s's arguments must be a map, got %s", a->key,
                           ks_value_describe(a, got, sizeof got));
    ks_layer_default_prefix((*kind)->name, prefix, sizeof prefix);
    ks_value_init(&own, KS_VALUE_MAP);
    own.file = a->file;
    own.line = a->line;
    own.col = a->col;
    for (size_t i = 0; a->kind == KS_VALUE_MAP && i < a->n; i++) {
        const ks_value *v = &a->items[i];
        if (strcmp(v->key, "name") == 0 && v->kind == KS_VALUE_STRING) {
            snprintf(prefix, sizeof prefix, "%s", v->string);
            continue;
        }
        if (ks_value_put_copy(&own, v->key, v) != KS_OK) {
            ks_value_free(&own);
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        }
    }
    /* a name given as forward_lstm stays one; the backward copy of a layer named
       forward_lstm (as the config writes it) is backward_lstm (Keras's removeprefix) */
    if (strncmp(prefix, dir, strlen(dir)) == 0)
        snprintf(name, name_size, "%s", prefix);
    else if (strcmp(dir, "backward_") == 0 && strncmp(prefix, "forward_", 8) == 0)
        snprintf(name, name_size, "%s%s", dir, prefix + 8);
    else
        snprintf(name, name_size, "%s%s", dir, prefix);
    memset(args, 0, sizeof *args);
    ks_keys_defaults((*kind)->keys, args);
    s = ks_keys_read((*kind)->keys, &own, (*kind)->name, args, err);
    ks_value_free(&own);
    if (s == KS_OK && go_backwards >= 0)
        args->a.go_backwards = go_backwards;
    return s;
}

/* Build one direction: its weights go to l under "<name>/…"; *r is its pass. */
static ks_status build_direction(ks_layer *l, const ks_layer_ops *kind, ks_rnn_state *args,
                                 const char *name, ks_rnn *r, ks_error *err)
{
    ks_layer inner;
    int first = l->n_weights;
    ks_status s;
    memset(&inner, 0, sizeof inner);
    inner.ops = kind;
    snprintf(inner.name, sizeof inner.name, "%s", name);
    inner.n_in = 1;
    inner.in_shape[0] = l->in_shape[0];
    inner.in_size[0] = l->in_size[0];
    inner.in_name[0] = l->in_name[0];
    inner.state = args;
    if ((s = kind->build(&inner, err)) != KS_OK)
        return s;
    if (first + inner.n_weights > KS_MAX_LAYER_WEIGHTS)
        return ks_error_set(err, KS_ERR_INTERNAL, "Bidirectional: too many weights");
    for (int w = 0; w < inner.n_weights; w++) {
        ks_weight *dst = ks_layer_add_weight(l, inner.weights[w].name, &inner.weights[w].shape,
                                             1, inner.weights[w].init);
        dst->reg = inner.weights[w].reg;
    }
    *r = args->r;
    r->kernel += first;
    r->recurrent += first;
    if (r->bias >= 0)
        r->bias += first;
    return KS_OK;
}

/* {Kind: {every argument}} of one direction, for the config. */
static ks_status normalized(const ks_layer_ops *kind, const ks_rnn_state *args, const char *name,
                            ks_value *out)
{
    ks_value *m, *v;
    ks_value_init(out, KS_VALUE_MAP);
    if (!(m = ks_value_put(out, kind->name, KS_VALUE_MAP)) ||
        !(v = ks_value_put(m, "name", KS_VALUE_NULL)) || ks_value_set_string(v, name) != KS_OK ||
        ks_keys_write(kind->keys, args, m) != KS_OK)
        return KS_ERR_NOMEM;
    return KS_OK;
}

static ks_status bidi_build(ks_layer *l, ks_error *err)
{
    bidi_state *st = l->state;
    const ks_layer_ops *fk = NULL, *bk = NULL;
    ks_rnn_state fa, ba;
    char fname[KS_NAME_MAX], bname[KS_NAME_MAX];
    int have_back = st->backward_layer.kind != KS_VALUE_NULL;
    ks_value nf, nb;
    ks_status s;
    memset(&fa, 0, sizeof fa);
    memset(&ba, 0, sizeof ba);
    s = read_inner(&st->layer, "layer", "forward_", -1, &fk, &fa, fname, sizeof fname, err);
    if (s == KS_OK)
        s = have_back ? read_inner(&st->backward_layer, "backward_layer", "backward_", -1, &bk, &ba,
                                   bname, sizeof bname, err)
                      : read_inner(&st->layer, "layer", "backward_", 1, &bk, &ba, bname,
                                   sizeof bname, err);
    if (s == KS_OK && fa.a.go_backwards == ba.a.go_backwards)
        s = ks_error_set(err, KS_ERR_CONFIG,
                         "Bidirectional: the forward and backward layers need different "
                         "go_backwards values, both are %s",
                         fa.a.go_backwards ? "true" : "false");
    if (s == KS_OK && fa.a.return_sequences != ba.a.return_sequences)
        s = ks_error_set(err, KS_ERR_CONFIG,
                         "Bidirectional: the forward and backward layers need the same "
                         "return_sequences");
    if (s == KS_OK)
        s = build_direction(l, fk, &fa, fname, &st->fwd, err);
    if (s == KS_OK)
        s = build_direction(l, bk, &ba, bname, &st->bwd, err);
    if (s == KS_OK && st->fwd.units != st->bwd.units && st->merge_mode != MERGE_CONCAT)
        s = ks_error_set(err, KS_ERR_SHAPE,
                         "Bidirectional: merge_mode %s needs both directions of one width, got "
                         "%d and %d units",
                         merge_modes[st->merge_mode], st->fwd.units, st->bwd.units);
    if (s == KS_OK) {
        /* Keras forces zero outputs at masked steps when returning sequences */
        st->fwd.zero_output = st->bwd.zero_output = st->fwd.return_sequences;
        l->out_shape = ks_rnn_output_shape(&st->fwd);
        if (st->merge_mode == MERGE_CONCAT)
            l->out_shape.dim[l->out_shape.ndim - 1] = st->fwd.units + st->bwd.units;
        /* the config keeps both directions with every argument */
        if (normalized(fk, &fa, fname, &nf) != KS_OK ||
            (have_back && normalized(bk, &ba, bname, &nb) != KS_OK)) {
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        } else {
            ks_value_free(&st->layer);
            st->layer = nf;
            if (have_back) {
                ks_value_free(&st->backward_layer);
                st->backward_layer = nb;
            }
        }
    }
    if (fk)
        ks_keys_free(fk->keys, &fa);
    if (bk)
        ks_keys_free(bk->keys, &ba);
    return s;
}

/* ---------------------------------------------------------------- passes */

/* One direction's output floats per sample. */
static size_t out_size(const ks_rnn *r)
{
    return (size_t)r->units * (r->return_sequences ? (size_t)r->steps : 1);
}

typedef struct bidi_bufs {
    float *sf, *sb;             /* the two passes' scratch */
    float *yf, *yb;             /* their outputs (the backward one in processing order) */
    float *dyf, *dyb;
} bidi_bufs;

static size_t bidi_layout(const bidi_state *st, int n, float *base, bidi_bufs *b)
{
    size_t off = 0, sizes[6];
    float **ptr[6] = {&b->sf, &b->sb, &b->yf, &b->yb, &b->dyf, &b->dyb};
    sizes[0] = ks_rnn_scratch_size(&st->fwd, n);
    sizes[1] = ks_rnn_scratch_size(&st->bwd, n);
    sizes[2] = sizes[4] = (size_t)n * out_size(&st->fwd);
    sizes[3] = sizes[5] = (size_t)n * out_size(&st->bwd);
    for (int k = 0; k < 6; k++) {
        *ptr[k] = base ? base + off : NULL;
        off += (sizes[k] + 15) & ~(size_t)15;
    }
    return off;
}

static size_t bidi_scratch(const ks_layer *l, int batch)
{
    bidi_bufs b;
    return bidi_layout(l->state, batch, NULL, &b);
}

/* Where output row (sample i, time t) of each direction is: the backward direction's
   sequence is flipped back into time order, as Keras does. */
static void rows_at(const bidi_state *st, int i, int t, size_t *f, size_t *b)
{
    int T = st->fwd.steps;
    if (!st->fwd.return_sequences) {
        *f = (size_t)i * st->fwd.units;
        *b = (size_t)i * st->bwd.units;
        return;
    }
    *f = ((size_t)i * T + t) * st->fwd.units;
    *b = ((size_t)i * T + (T - 1 - t)) * st->bwd.units;
}

static void bidi_forward(ks_layer *l, const ks_fwd *f)
{
    const bidi_state *st = l->state;
    int steps = st->fwd.return_sequences ? st->fwd.steps : 1, U = st->fwd.units;
    int V = st->bwd.units;
    bidi_bufs b;
    float *y = f->y;
    bidi_layout(st, f->n, f->scratch, &b);
    ks_rnn_forward(&st->fwd, l, f->n, f->x[0], f->mask, b.yf, b.sf, f->training, f->rng);
    ks_rnn_forward(&st->bwd, l, f->n, f->x[0], f->mask, b.yb, b.sb, f->training, f->rng);
    for (int i = 0; i < f->n; i++)
        for (int t = 0; t < steps; t++) {
            size_t pf, pb;
            const float *a, *c;
            rows_at(st, i, t, &pf, &pb);
            a = b.yf + pf;
            c = b.yb + pb;
            switch (st->merge_mode) {
            case MERGE_CONCAT:
                memcpy(y, a, (size_t)U * sizeof *y);
                memcpy(y + U, c, (size_t)V * sizeof *y);
                y += U + V;
                continue;
            case MERGE_SUM:
                for (int j = 0; j < U; j++)
                    y[j] = a[j] + c[j];
                break;
            case MERGE_MUL:
                for (int j = 0; j < U; j++)
                    y[j] = a[j] * c[j];
                break;
            case MERGE_AVE:
                for (int j = 0; j < U; j++)
                    y[j] = 0.5f * (a[j] + c[j]);
                break;
            }
            y += U;
        }
}

static ks_status bidi_onnx(const ks_layer *l, ks_onnx *g, const char *const *in,
                           const char **out, ks_error *err)
{
    const bidi_state *st = l->state;
    const ks_rnn *r[2] = {&st->fwd, &st->bwd};
    return ks_rnn_onnx(l, g, r, 2, st->merge_mode, in[0], out, err);
}

static void bidi_backward(ks_layer *l, const ks_bwd *bw)
{
    const bidi_state *st = l->state;
    int steps = st->fwd.return_sequences ? st->fwd.steps : 1, U = st->fwd.units;
    int V = st->bwd.units;
    bidi_bufs b;
    const float *dy = bw->dy;
    bidi_layout(st, bw->n, bw->scratch, &b);
    for (int i = 0; i < bw->n; i++)
        for (int t = 0; t < steps; t++) {
            size_t pf, pb;
            float *df, *db;
            rows_at(st, i, t, &pf, &pb);
            df = b.dyf + pf;
            db = b.dyb + pb;
            for (int j = 0; j < U; j++)
                switch (st->merge_mode) {
                case MERGE_CONCAT:
                    df[j] = dy[j];
                    break;
                case MERGE_SUM:
                    df[j] = db[j] = dy[j];
                    break;
                case MERGE_MUL:
                    df[j] = dy[j] * b.yb[pb + j];
                    db[j] = dy[j] * b.yf[pf + j];
                    break;
                case MERGE_AVE:
                    df[j] = db[j] = 0.5f * dy[j];
                    break;
                }
            if (st->merge_mode == MERGE_CONCAT) {
                memcpy(db, dy + U, (size_t)V * sizeof *db);
                dy += U + V;
            } else {
                dy += U;
            }
        }
    ks_rnn_backward(&st->fwd, l, bw->n, bw->x[0], bw->mask, b.dyf, bw->dx[0], bw->dx_beta[0],
                    bw->grad_beta, b.sf);
    ks_rnn_backward(&st->bwd, l, bw->n, bw->x[0], bw->mask, b.dyb, bw->dx[0], 1.0f,
                    bw->grad_beta, b.sb);
}

static ks_mask_mode bidi_mask(const ks_layer *l)
{
    return ks_rnn_mask(&((const bidi_state *)l->state)->fwd);
}

static void bidi_init_weights(ks_layer *l)
{
    const bidi_state *st = l->state;
    ks_rnn_init_weights(&st->fwd, l);
    ks_rnn_init_weights(&st->bwd, l);
}

const ks_layer_ops ks_layer_bidirectional_ops = {
    .name = "Bidirectional",
    .keys = bidi_keys,
    .state_size = sizeof(bidi_state),
    .flags = KS_LAYER_MASK_USE,
    .build = bidi_build,
    .scratch_size = bidi_scratch,
    .forward = bidi_forward,
    .backward = bidi_backward,
    .onnx = bidi_onnx,
    .mask = bidi_mask,
    .init_weights = bidi_init_weights,
};
