/*
 * layer_lookup.c — StringLookup and IntegerLookup, as Keras's IndexLookup: each value of
 * the model input that feeds the layer becomes its index in a vocabulary — given, or
 * learned from the training rows by adapt (most frequent first, ties as Keras breaks
 * them) and kept in the layer's arguments, so in the model file.  Index 0 is the mask
 * token when there is one, then the out-of-vocabulary index (num_oov_indices 1: every
 * unseen value maps to it; 0: an unseen value is an error), then the vocabulary.
 * output_mode int gives the indices; one_hot, multi_hot and count one column per index:
 * max_tokens of them when it is given (as Keras's pad_to_max_tokens), else one per index
 * of a given vocabulary.
 * The mapping runs once per data set (encode), like TextVectorization's.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

enum { LK_INT, LK_ONE_HOT, LK_MULTI_HOT, LK_COUNT, LK_TF_IDF };
static const char *const lookup_mode_names[] = {"int", "one_hot", "multi_hot", "count", "tf_idf",
                                                NULL};

#define LOOKUP_TOKEN_MAX 64     /* bytes of StringLookup's oov_token */

typedef struct lookup_state {
    int max_tokens;             /* 0: None (no limit) */
    int num_oov_indices;        /* 1 */
    ks_value mask_token;        /* null: none */
    char oov_string[LOOKUP_TOKEN_MAX];     /* StringLookup's oov_token: "[UNK]" */
    int oov_int;                /* IntegerLookup's oov_token: -1 */
    ks_value vocabulary;        /* the tokens after the special ones; null until adapted */
    ks_value idf_weights;       /* tf_idf only: refused */
    int invert;                 /* refused */
    int output_mode;
    int pad_to_max_tokens;
    int sparse;                 /* refused */
    char encoding[16];          /* StringLookup: utf-8 */
    char vocabulary_dtype[16];  /* IntegerLookup: int64 */
    /* derived at build */
    int numeric;                /* IntegerLookup */
    int depth;                  /* one_hot, multi_hot, count: columns */
} lookup_state;

#define LOOKUP_COMMON_KEYS                                                                  \
    {"max_tokens", KS_KEY_INT, offsetof(lookup_state, max_tokens), 0, 1, 1 << 24, "0", NULL, \
     KS_KEY_NULLABLE},                                                                      \
    {"num_oov_indices", KS_KEY_INT, offsetof(lookup_state, num_oov_indices), 0, 0, 1024, "1", \
     NULL, 0},                                                                              \
    {"mask_token", KS_KEY_VALUE, offsetof(lookup_state, mask_token), 0, 0, 0, NULL, NULL, 0}

#define LOOKUP_TAIL_KEYS                                                                    \
    {"vocabulary", KS_KEY_VALUE, offsetof(lookup_state, vocabulary), 0, 0, 0, NULL, NULL, 0}, \
    {"idf_weights", KS_KEY_VALUE, offsetof(lookup_state, idf_weights), 0, 0, 0, NULL, NULL,  \
     KS_KEY_HIDDEN},                                                                        \
    {"invert", KS_KEY_BOOL, offsetof(lookup_state, invert), 0, 0, 0, "false", NULL,          \
     KS_KEY_HIDDEN},                                                                        \
    {"output_mode", KS_KEY_ENUM, offsetof(lookup_state, output_mode), 0, 0, 0, "int",        \
     lookup_mode_names, 0},                                                                 \
    {"pad_to_max_tokens", KS_KEY_BOOL, offsetof(lookup_state, pad_to_max_tokens), 0, 0, 0,   \
     "false", NULL, KS_KEY_HIDDEN},                                                         \
    {"sparse", KS_KEY_BOOL, offsetof(lookup_state, sparse), 0, 0, 0, "false", NULL,          \
     KS_KEY_HIDDEN}

static const ks_key string_lookup_keys[] = {
    LOOKUP_COMMON_KEYS,
    {"oov_token", KS_KEY_STRING, offsetof(lookup_state, oov_string), LOOKUP_TOKEN_MAX, 0, 0,
     "[UNK]", NULL, 0},
    LOOKUP_TAIL_KEYS,
    {"encoding", KS_KEY_STRING, offsetof(lookup_state, encoding), 16, 0, 0, "utf-8", NULL,
     KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static const ks_key integer_lookup_keys[] = {
    LOOKUP_COMMON_KEYS,
    {"oov_token", KS_KEY_INT, offsetof(lookup_state, oov_int), 0, -2147483647, 2147483647, "-1",
     NULL, 0},
    LOOKUP_TAIL_KEYS,
    {"vocabulary_dtype", KS_KEY_STRING, offsetof(lookup_state, vocabulary_dtype), 16, 0, 0,
     "int64", NULL, KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

/* Largest integer IntegerLookup maps (exact in float32, as the engine's integer inputs). */
#define LOOKUP_INT_MAX 16777216.0

/* ------------------------------------------------------------ tokens */

static int has_mask(const lookup_state *st)
{
    return st->mask_token.kind != KS_VALUE_NULL;
}

/* The index of the first vocabulary token: after the mask and the OOV index. */
static int token_start(const lookup_state *st)
{
    return has_mask(st) + st->num_oov_indices;
}

/* The key of a value as the token table holds it: the text, or an integer's digits. */
static const char *int_key(double v, char *buf, size_t size)
{
    snprintf(buf, size, "%.0f", v);
    return buf;
}

/* Whether v is an integer IntegerLookup maps. */
static int is_int_value(double v)
{
    return v == floor(v) && fabs(v) <= LOOKUP_INT_MAX;
}

/* Entry e of a token list (vocabulary, mask_token) as a key into buf; NULL if it is not
   a token of the layer's kind. */
static const char *value_key(const lookup_state *st, const ks_value *e, char *buf, size_t size)
{
    if (st->numeric)
        return e->kind == KS_VALUE_NUMBER && is_int_value(e->number)
                   ? int_key(e->number, buf, size)
                   : NULL;
    return e->kind == KS_VALUE_STRING ? e->string : NULL;
}

/* The OOV token's key. */
static const char *oov_key(const lookup_state *st, char *buf, size_t size)
{
    return st->numeric ? int_key(st->oov_int, buf, size) : st->oov_string;
}

/*
 * The vocabulary checked (tokens of the kind, no repeats, within max_tokens) into t
 * when t is not NULL; a leading mask token and OOV token, as Keras's get_vocabulary()
 * lists them, are skipped (*skip).
 */
static ks_status load_vocabulary(const ks_layer *l, ks_tokens *t, size_t *skip, ks_error *err)
{
    const lookup_state *st = l->state;
    const ks_value *v = &st->vocabulary;
    const char *what = l->ops->name;
    char buf[40], kbuf[40], obuf[40];
    ks_tokens own;
    int nomem = 0;
    size_t n;
    ks_status s = KS_OK;
    *skip = 0;
    if (v->kind == KS_VALUE_NULL)
        return KS_OK;
    if (v->kind != KS_VALUE_LIST)
        return ks_error_set(err, KS_ERR_CONFIG, "%s: vocabulary must be a list of %s", what,
                            st->numeric ? "integers" : "strings");
    if (has_mask(st) && v->n > 0 && value_key(st, &v->items[0], kbuf, sizeof kbuf) &&
        strcmp(value_key(st, &v->items[0], kbuf, sizeof kbuf),
               value_key(st, &st->mask_token, buf, sizeof buf)) == 0)
        (*skip)++;
    if (st->num_oov_indices > 0 && v->n > *skip &&
        value_key(st, &v->items[*skip], kbuf, sizeof kbuf) &&
        strcmp(value_key(st, &v->items[*skip], kbuf, sizeof kbuf),
               oov_key(st, obuf, sizeof obuf)) == 0)
        (*skip)++;
    n = v->n - *skip;
    if (st->max_tokens > 0 && n + (size_t)token_start(st) > (size_t)st->max_tokens)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "%s: %zu vocabulary tokens do not fit in max_tokens %d (%d of which "
                            "are the mask and out-of-vocabulary indices)",
                            what, n, st->max_tokens, token_start(st));
    if (!t) {
        memset(&own, 0, sizeof own);
        t = &own;
    }
    for (size_t i = *skip; i < v->n && s == KS_OK; i++) {
        const char *k = value_key(st, &v->items[i], kbuf, sizeof kbuf);
        if (!k)
            s = ks_error_set(err, KS_ERR_CONFIG, "%s: vocabulary entry %zu is not %s", what, i,
                             st->numeric ? "an integer" : "a string");
        else if (ks_tokens_find(t, k, strlen(k), 0, &nomem) >= 0)
            s = ks_error_set(err, KS_ERR_CONFIG, "%s: the vocabulary has \"%.64s\" twice", what,
                             k);
        else if (ks_tokens_find(t, k, strlen(k), 1, &nomem) < 0)
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if (t == &own)
        ks_tokens_free(&own);
    return s;
}

/* --------------------------------------------------------------- build */

static ks_status lookup_build(ks_layer *l, ks_error *err)
{
    lookup_state *st = l->state;
    const char *what = l->ops->name;
    const ks_shape *in = &l->in_shape[0];
    char buf[40];
    size_t skip, vocab;
    ks_status s;
    st->numeric = !(l->ops->flags & KS_LAYER_TEXT_INPUT);
    if (st->invert || st->sparse || st->output_mode == LK_TF_IDF ||
        st->idf_weights.kind != KS_VALUE_NULL)
        return ks_error_set(err, KS_ERR_CONFIG, "%s: %s is not supported by ksearch", what,
                            st->invert ? "invert" : st->sparse ? "sparse" : "tf_idf");
    if (st->num_oov_indices > 1)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "%s: num_oov_indices must be 0 or 1 (one index for every value "
                            "outside the vocabulary), got %d",
                            what, st->num_oov_indices);
    if (has_mask(st) && !value_key(st, &st->mask_token, buf, sizeof buf))
        return ks_error_set(err, KS_ERR_CONFIG, "%s: mask_token must be %s or null", what,
                            st->numeric ? "an integer" : "a string");
    if (has_mask(st) && st->output_mode != LK_INT)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "%s: mask_token goes with output_mode int (the index 0 an Embedding "
                            "can mask)",
                            what);
    if ((s = load_vocabulary(l, NULL, &skip, err)) != KS_OK)
        return s;
    vocab = st->vocabulary.kind == KS_VALUE_LIST ? st->vocabulary.n - skip : 0;
    if (st->output_mode == LK_INT) {
        l->out_shape = *in;
        return KS_OK;
    }
    if (st->output_mode == LK_ONE_HOT && ks_shape_size(in) != 1)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "%s: output_mode one_hot encodes one value per row, and the input "
                            "has %zu; use multi_hot (or count) for several",
                            what, ks_shape_size(in));
    /* max_tokens columns whether the vocabulary is learned yet or not (Keras's
       pad_to_max_tokens), so that the model file builds the model it saved */
    if (st->max_tokens > 0)
        st->depth = st->max_tokens;
    else if (st->vocabulary.kind == KS_VALUE_LIST)
        st->depth = (int)vocab + token_start(st);
    else
        return ks_error_set(err, KS_ERR_CONFIG,
                            "%s: output_mode %s needs max_tokens (or a vocabulary): it gives one "
                            "column per index, and the vocabulary is learned after the model "
                            "is built",
                            what, lookup_mode_names[st->output_mode]);
    l->out_shape.ndim = 1;
    l->out_shape.dim[0] = st->depth;
    return KS_OK;
}

/* -------------------------------------------------------------- adapt */

/* Value j of the rows as a key into buf: the text, or an integer's digits; NULL (and
   err set) for a number that is not an integer. */
static const char *row_key(const lookup_state *st, const ks_layer *l, const ks_array *rows,
                           size_t j, char *buf, size_t size, ks_error *err)
{
    double v;
    if (!st->numeric)
        return rows->text[j];
    v = rows->data[j];
    if (!is_int_value(v)) {
        ks_error_set(err, KS_ERR_CONFIG,
                     "row %zu column %zu holds %.9g; %s maps integers of at most 2^24 in size",
                     j / rows->size, j % rows->size, v, l->ops->name);
        return NULL;
    }
    return int_key(v, buf, size);
}

/* Whether the rows of the kind the layer reads: text for StringLookup, numbers else. */
static ks_status check_rows(const lookup_state *st, const ks_layer *l, const ks_array *rows,
                            ks_error *err)
{
    if (st->numeric && rows->text)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "%s maps integers, and its input is text; use a StringLookup",
                            l->ops->name);
    if (!st->numeric && !rows->text)
        return ks_error_set(err, KS_ERR_CONFIG, "%s maps text, and its input holds numbers; use "
                                                "an IntegerLookup",
                            l->ops->name);
    return KS_OK;
}

/* Learn the vocabulary from the training rows: every value but the mask and OOV tokens,
   most frequent first, within max_tokens. */
static ks_status lookup_adapt(ks_layer *l, const ks_array *rows, size_t n, ks_error *err)
{
    lookup_state *st = l->state;
    ks_tokens t;
    size_t *idx = NULL, keep = 0;
    char buf[40], mbuf[40], obuf[40];
    const char *mask = has_mask(st) ? value_key(st, &st->mask_token, mbuf, sizeof mbuf) : NULL;
    const char *oov = st->num_oov_indices ? oov_key(st, obuf, sizeof obuf) : NULL;
    /* the special tokens are never learned */
    const char *const special[3] = {mask ? mask : oov, mask ? oov : NULL, NULL};
    size_t room = st->max_tokens > token_start(st) ? (size_t)(st->max_tokens - token_start(st))
                                                   : 0;
    ks_value vocab;
    int nomem = 0;
    ks_status s;
    if ((s = check_rows(st, l, rows, err)) != KS_OK)
        return s;
    memset(&t, 0, sizeof t);
    t.counting = 1;
    t.numeric = st->numeric;
    ks_value_init(&vocab, KS_VALUE_LIST);
    for (size_t j = 0; j < n * rows->size && !nomem; j++) {
        const char *k = row_key(st, l, rows, j, buf, sizeof buf, err);
        long i;
        if (!k) {
            s = KS_ERR_CONFIG;
            goto out;
        }
        if ((i = ks_tokens_find(&t, k, strlen(k), 1, &nomem)) >= 0)
            t.count[i] += 1.0;
    }
    if (nomem || ks_tokens_ranked(&t, special, st->max_tokens > 0 ? room : (size_t)-1, &idx,
                                  &keep) != KS_OK) {
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < keep; k++) {
        const char *tok = t.arena + t.off[idx[k]];
        ks_value *v = ks_value_push(&vocab, st->numeric ? KS_VALUE_NUMBER : KS_VALUE_NULL);
        if (!v || (!st->numeric && ks_value_set_string(v, tok) != KS_OK)) {
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (st->numeric)
            v->number = strtod(tok, NULL);
    }
    ks_value_free(&st->vocabulary);
    st->vocabulary = vocab;
    ks_value_init(&vocab, KS_VALUE_NULL);
out:
    ks_value_free(&vocab);
    free(idx);
    ks_tokens_free(&t);
    return s;
}

static int lookup_adapted(const ks_layer *l)
{
    return ((const lookup_state *)l->state)->vocabulary.kind != KS_VALUE_NULL;
}

/* ------------------------------------------------------------- encode */

/* The index of key k: the mask's 0, a vocabulary token's, or the OOV index; -1 for an
   unseen value without one. */
static long index_of(const lookup_state *st, ks_tokens *t, const char *k, const char *mask,
                     int *nomem)
{
    long i;
    if (mask && strcmp(k, mask) == 0)
        return 0;
    if ((i = ks_tokens_find(t, k, strlen(k), 0, nomem)) >= 0)
        return i + token_start(st);
    return st->num_oov_indices > 0 ? has_mask(st) : -1;
}

static ks_status lookup_encode(const ks_layer *l, const ks_array *rows, size_t n, float *out,
                               ks_error *err)
{
    const lookup_state *st = l->state;
    size_t per = rows->size, width = l->out_size, skip;
    char buf[40], mbuf[40];
    const char *mask = has_mask(st) ? value_key(st, &st->mask_token, mbuf, sizeof mbuf) : NULL;
    ks_tokens t;
    int nomem = 0;
    ks_status s;
    if ((s = check_rows(st, l, rows, err)) != KS_OK)
        return s;
    memset(&t, 0, sizeof t);
    if ((s = load_vocabulary(l, &t, &skip, err)) != KS_OK) {
        ks_tokens_free(&t);
        return s;
    }
    memset(out, 0, n * width * sizeof *out);
    for (size_t r = 0; r < n && s == KS_OK; r++)
        for (size_t c = 0; c < per && s == KS_OK; c++) {
            const char *k = row_key(st, l, rows, r * per + c, buf, sizeof buf, err);
            long id = k ? index_of(st, &t, k, mask, &nomem) : -1;
            if (!k) {
                s = KS_ERR_CONFIG;
            } else if (id < 0) {
                s = ks_error_set(err, KS_ERR_CONFIG,
                                 "row %zu column %zu holds \"%.64s\", which is not in the "
                                 "vocabulary, and num_oov_indices is 0",
                                 r, c, k);
            } else if (st->output_mode == LK_INT) {
                out[r * per + c] = (float)id;
            } else if ((size_t)id < width) {
                float *o = &out[r * width + (size_t)id];
                *o = st->output_mode == LK_COUNT ? *o + 1.0f : 1.0f;
            }
        }
    ks_tokens_free(&t);
    return s;
}

/* The token of an index, for TensorBoard's projector ("" for the mask, the OOV token). */
static const char *lookup_token(const ks_layer *l, size_t id)
{
    const lookup_state *st = l->state;
    const ks_value *v = &st->vocabulary;
    size_t start = (size_t)token_start(st), skip = 0;
    ks_error quiet;
    if (st->numeric)
        return NULL;
    if (has_mask(st) && id == 0)
        return st->mask_token.string;
    if (id < start)
        return st->oov_string;
    if (v->kind != KS_VALUE_LIST || load_vocabulary(l, NULL, &skip, &quiet) != KS_OK ||
        id - start >= v->n - skip)
        return NULL;
    return v->items[skip + id - start].string;
}

const ks_layer_ops ks_layer_string_lookup_ops = {
    .name = "StringLookup",
    .keys = string_lookup_keys,
    .state_size = sizeof(lookup_state),
    .flags = KS_LAYER_TEXT_INPUT | KS_LAYER_ENCODE,
    .build = lookup_build,
    .encode = lookup_encode,
    .adapted = lookup_adapted,
    .adapt = lookup_adapt,
    .token = lookup_token,
};

const ks_layer_ops ks_layer_integer_lookup_ops = {
    .name = "IntegerLookup",
    .keys = integer_lookup_keys,
    .state_size = sizeof(lookup_state),
    .flags = KS_LAYER_ENCODE,
    .build = lookup_build,
    .encode = lookup_encode,
    .adapted = lookup_adapted,
    .adapt = lookup_adapt,
};
