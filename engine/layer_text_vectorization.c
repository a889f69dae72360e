/*
 * layer_text_vectorization.c — TextVectorization, as Keras: text standardized (ASCII
 * lower case, ASCII punctuation stripped), split (on whitespace, into characters, or
 * not), and each token looked up in a vocabulary — learned from the training rows by
 * adapt (by frequency, ties broken as Keras breaks them: the token that sorts last
 * first), kept in the layer's arguments and so in the model file.  output_mode int
 * gives token ids (0 padding, 1 the out-of-vocabulary [UNK]) padded or cut to
 * output_sequence_length; multi_hot, count and tf_idf give one column per vocabulary
 * entry (index 0 [UNK]).  It reads an Input of dtype string, once per data set (encode).
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

enum { STD_LOWER_STRIP, STD_LOWER, STD_STRIP, STD_NONE };
enum { SPLIT_WHITESPACE, SPLIT_CHARACTER, SPLIT_NONE };
enum { MODE_INT, MODE_MULTI_HOT, MODE_COUNT, MODE_TF_IDF };
static const char *const standardize_names[] = {"lower_and_strip_punctuation", "lower",
                                                "strip_punctuation", "null", NULL};
static const char *const split_names[] = {"whitespace", "character", "null", NULL};
static const char *const mode_names[] = {"int", "multi_hot", "count", "tf_idf", NULL};

#define OOV_TOKEN "[UNK]"

typedef struct tv_state {
    int max_tokens;             /* 0: None (no limit) */
    int standardize;
    int split;
    int ngrams;                 /* None only */
    int output_mode;
    int output_sequence_length; /* 0: None */
    int pad_to_max_tokens;
    ks_value vocabulary;        /* the learned tokens, most frequent first (no 0 or [UNK]) */
    ks_value idf_weights;       /* tf_idf: one weight per vocabulary token */
    int sparse, ragged;
    char encoding[16];
} tv_state;

static const ks_key tv_keys[] = {
    {"max_tokens", KS_KEY_INT, offsetof(tv_state, max_tokens), 0, 3, 1 << 24, "0", NULL,
     KS_KEY_NULLABLE},
    {"standardize", KS_KEY_ENUM, offsetof(tv_state, standardize), 0, 0, 0,
     "lower_and_strip_punctuation", standardize_names, 0},
    {"split", KS_KEY_ENUM, offsetof(tv_state, split), 0, 0, 0, "whitespace", split_names, 0},
    {"ngrams", KS_KEY_INT, offsetof(tv_state, ngrams), 0, 0, 0, "0", NULL,
     KS_KEY_NULLABLE | KS_KEY_HIDDEN},
    {"output_mode", KS_KEY_ENUM, offsetof(tv_state, output_mode), 0, 0, 0, "int", mode_names,
     0},
    {"output_sequence_length", KS_KEY_INT, offsetof(tv_state, output_sequence_length), 0, 1,
     1 << 20, "0", NULL, KS_KEY_NULLABLE},
    {"pad_to_max_tokens", KS_KEY_BOOL, offsetof(tv_state, pad_to_max_tokens), 0, 0, 0, "false",
     NULL, KS_KEY_HIDDEN},
    {"vocabulary", KS_KEY_VALUE, offsetof(tv_state, vocabulary), 0, 0, 0, NULL, NULL, 0},
    {"idf_weights", KS_KEY_VALUE, offsetof(tv_state, idf_weights), 0, 0, 0, NULL, NULL,
     KS_KEY_HIDDEN},
    {"sparse", KS_KEY_BOOL, offsetof(tv_state, sparse), 0, 0, 0, "false", NULL, KS_KEY_HIDDEN},
    {"ragged", KS_KEY_BOOL, offsetof(tv_state, ragged), 0, 0, 0, "false", NULL, KS_KEY_HIDDEN},
    {"encoding", KS_KEY_STRING, offsetof(tv_state, encoding), 16, 0, 0, "utf-8", NULL,
     KS_KEY_HIDDEN},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

/* Where learned tokens start: after padding (0, int mode) and [UNK]. */
static int token_start(const tv_state *st)
{
    return st->output_mode == MODE_INT ? 2 : 1;
}

/* ASCII punctuation, Python's string.punctuation: what Keras's strip regex removes. */
static int is_punct(unsigned char c)
{
    return c < 128 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) && c != '\0';
}

static int is_space(unsigned char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

/* The text standardized into *buf (grown as needed); its length, or -1 without memory. */
static long standardize(const tv_state *st, const char *text, char **buf, size_t *cap)
{
    size_t n = strlen(text), k = 0;
    if (n + 1 > *cap) {
        char *b = realloc(*buf, n + 1);
        if (!b)
            return -1;
        *buf = b;
        *cap = n + 1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if ((st->standardize == STD_LOWER_STRIP || st->standardize == STD_STRIP) && is_punct(c))
            continue;
        if ((st->standardize == STD_LOWER_STRIP || st->standardize == STD_LOWER) && c >= 'A' &&
            c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        (*buf)[k++] = (char)c;
    }
    (*buf)[k] = '\0';
    return (long)k;
}

/* The next token of s[0..n) from *at: its start and length; 0 when there are no more. */
static int next_token(const tv_state *st, const char *s, size_t n, size_t *at, size_t *start,
                      size_t *len)
{
    size_t i = *at;
    switch (st->split) {
    case SPLIT_WHITESPACE:
        while (i < n && is_space((unsigned char)s[i]))
            i++;
        if (i >= n)
            return 0;
        *start = i;
        while (i < n && !is_space((unsigned char)s[i]))
            i++;
        break;
    case SPLIT_CHARACTER:
        if (i >= n)
            return 0;
        *start = i++;
        while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)     /* continuation bytes */
            i++;
        break;
    default:            /* the whole text, once */
        if (i > 0)
            return 0;
        *start = 0;
        i = n + 1;
        break;
    }
    *len = (i > n ? n : i) - *start;
    *at = i;
    return 1;
}

/* --------------------------------------------------------------- build */

/* The vocabulary's tokens, checked: strings, no repeats, within max_tokens; a leading
   padding "" and [UNK], as Keras's get_vocabulary() gives them, are skipped (*skip). */
static ks_status check_vocabulary(const tv_state *st, size_t *skip, ks_error *err)
{
    const ks_value *v = &st->vocabulary;
    ks_tokens t;
    int nomem = 0;
    size_t n;
    ks_status s = KS_OK;
    *skip = 0;
    if (v->kind == KS_VALUE_NULL)
        return KS_OK;
    if (v->kind != KS_VALUE_LIST)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "TextVectorization: vocabulary must be a list of tokens");
    if (st->output_mode == MODE_INT && v->n > 0 && v->items[0].kind == KS_VALUE_STRING &&
        !v->items[0].string[0])
        (*skip)++;
    if (v->n > *skip && v->items[*skip].kind == KS_VALUE_STRING &&
        strcmp(v->items[*skip].string, OOV_TOKEN) == 0)
        (*skip)++;
    n = v->n - *skip;
    if (st->max_tokens > 0 && n + (size_t)token_start(st) > (size_t)st->max_tokens)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "TextVectorization: %zu vocabulary tokens do not fit in max_tokens "
                            "%d (%d of which are padding and [UNK])",
                            n, st->max_tokens, token_start(st));
    memset(&t, 0, sizeof t);
    for (size_t i = *skip; i < v->n && s == KS_OK; i++) {
        const ks_value *w = &v->items[i];
        if (w->kind != KS_VALUE_STRING)
            s = ks_error_set(err, KS_ERR_CONFIG,
                             "TextVectorization: vocabulary entry %zu is not a string", i);
        else if (ks_tokens_find(&t, w->string, strlen(w->string), 0, &nomem) >= 0)
            s = ks_error_set(err, KS_ERR_CONFIG,
                             "TextVectorization: the vocabulary has \"%.64s\" twice", w->string);
        else if (ks_tokens_find(&t, w->string, strlen(w->string), 1, &nomem) < 0)
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    ks_tokens_free(&t);
    if (s == KS_OK && st->output_mode == MODE_TF_IDF &&
        !(st->idf_weights.kind == KS_VALUE_LIST && st->idf_weights.n == n))
        s = ks_error_set(err, KS_ERR_CONFIG,
                         "TextVectorization: output_mode tf_idf with a vocabulary needs "
                         "idf_weights, one per token (%zu)",
                         n);
    return s;
}

static ks_status tv_build(ks_layer *l, ks_error *err)
{
    tv_state *st = l->state;
    size_t skip, vocab;
    ks_status s;
    if (st->ngrams || st->sparse || st->ragged)
        return ks_error_set(err, KS_ERR_CONFIG, "TextVectorization: %s is not supported by ksearch",
                            st->ngrams ? "ngrams" : st->sparse ? "sparse" : "ragged");
    /* its input is an Input of dtype string (ks_model_wire_text): one text a sample, or
       several columns whose tokens follow each other */
    if ((s = check_vocabulary(st, &skip, err)) != KS_OK)
        return s;
    vocab = st->vocabulary.kind == KS_VALUE_LIST ? st->vocabulary.n - skip : 0;
    l->out_shape.ndim = 1;
    if (st->output_mode == MODE_INT) {
        if (!st->output_sequence_length)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "TextVectorization: give output_sequence_length (e.g. 200): "
                                "ksearch pads and cuts every text to one length, where Keras "
                                "pads each batch to its longest");
        l->out_shape.dim[0] = st->output_sequence_length;
    } else if (st->max_tokens > 0) {
        l->out_shape.dim[0] = st->max_tokens;
    } else if (st->vocabulary.kind == KS_VALUE_LIST) {
        l->out_shape.dim[0] = (int)vocab + token_start(st);
    } else {
        return ks_error_set(err, KS_ERR_CONFIG,
                            "TextVectorization: output_mode %s needs max_tokens (or a "
                            "vocabulary): it gives one column per token",
                            mode_names[st->output_mode]);
    }
    return KS_OK;
}

/* -------------------------------------------------------------- adapt */

/* Count every token of the rows (and the rows each occurs in). */
static ks_status count_tokens(const tv_state *st, const ks_array *rows, size_t n, ks_tokens *t,
                              ks_error *err)
{
    char *buf = NULL;
    size_t cap = 0;
    int nomem = 0;
    for (size_t r = 0; r < n * rows->size && !nomem; r++) {
        long len = standardize(st, rows->text[r], &buf, &cap);
        size_t at = 0, start, tl;
        if (len < 0) {
            nomem = 1;
            break;
        }
        while (next_token(st, buf, (size_t)len, &at, &start, &tl)) {
            long i = ks_tokens_find(t, buf + start, tl, 1, &nomem);
            if (i < 0)
                break;
            t->count[i] += 1.0;
            if (t->last_row[i] != r + 1) {
                t->docs[i] += 1.0;
                t->last_row[i] = r + 1;
            }
        }
    }
    free(buf);
    return nomem ? ks_error_set(err, KS_ERR_NOMEM, "out of memory counting tokens") : KS_OK;
}

/* Learn the vocabulary (and tf_idf's weights) from the training rows' texts. */
static ks_status tv_adapt(ks_layer *l, const ks_array *rows, size_t n, ks_error *err)
{
    tv_state *st = l->state;
    ks_tokens t;
    size_t *idx = NULL, keep = 0;
    /* the special tokens are never learned: padding ("", int mode) and [UNK] */
    const char *const special[3] = {OOV_TOKEN, st->output_mode == MODE_INT ? "" : NULL, NULL};
    ks_value vocab, idf;
    ks_status s;
    if (!rows->text)
        return ks_error_set(err, KS_ERR_CONFIG, "TextVectorization adapts on text, got numbers");
    memset(&t, 0, sizeof t);
    t.counting = 1;
    ks_value_init(&vocab, KS_VALUE_LIST);
    ks_value_init(&idf, KS_VALUE_LIST);
    if ((s = count_tokens(st, rows, n, &t, err)) != KS_OK)
        goto out;
    if (ks_tokens_ranked(&t, special,
                         st->max_tokens > 0 ? (size_t)(st->max_tokens - token_start(st))
                                            : (size_t)-1,
                         &idx, &keep) != KS_OK) {
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t k = 0; k < keep; k++) {
        ks_value *v = ks_value_push(&vocab, KS_VALUE_NULL);
        ks_value *w = st->output_mode == MODE_TF_IDF ? ks_value_push(&idf, KS_VALUE_NUMBER) : NULL;
        if (!v || ks_value_set_string(v, t.arena + t.off[idx[k]]) != KS_OK ||
            (st->output_mode == MODE_TF_IDF && !w)) {
            s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
            goto out;
        }
        if (w)      /* Keras: log(1 + documents / (1 + df)) */
            w->number = log(1.0 + (double)n / (1.0 + t.docs[idx[k]]));
    }
    ks_value_free(&st->vocabulary);
    st->vocabulary = vocab;
    ks_value_init(&vocab, KS_VALUE_NULL);
    if (st->output_mode == MODE_TF_IDF) {
        ks_value_free(&st->idf_weights);
        st->idf_weights = idf;
        ks_value_init(&idf, KS_VALUE_NULL);
    }
out:
    ks_value_free(&vocab);
    ks_value_free(&idf);
    free(idx);
    ks_tokens_free(&t);
    return s;
}

static int tv_adapted(const ks_layer *l)
{
    return ((const tv_state *)l->state)->vocabulary.kind != KS_VALUE_NULL;
}

/* ------------------------------------------------------------- encode */

static ks_status tv_encode(const ks_layer *l, const ks_array *rows, size_t n, float *out,
                           ks_error *err)
{
    const char *const *text = rows->text;
    const tv_state *st = l->state;
    const ks_value *v = &st->vocabulary;
    size_t width = l->out_size, skip = 0, cap = 0, per = l->in_size[0];
    int start = token_start(st), nomem = 0, is_int = st->output_mode == MODE_INT;
    double *idf = NULL, mean = 0.0;
    char *buf = NULL;
    ks_tokens t;
    memset(&t, 0, sizeof t);
    /* the lookup: vocabulary token k has id start + k (as given, after any special ones) */
    if (v->kind == KS_VALUE_LIST) {
        ks_error quiet;
        check_vocabulary(st, &skip, &quiet);
        for (size_t k = skip; k < v->n && !nomem; k++)
            ks_tokens_find(&t, v->items[k].string, strlen(v->items[k].string), 1, &nomem);
    }
    if (st->output_mode == MODE_TF_IDF && !nomem) {
        /* idf per id: [UNK] gets the mean of the tokens' weights, as Keras */
        if ((idf = calloc(width + 1, sizeof *idf)))
            for (size_t k = 0; k < t.n && k < st->idf_weights.n; k++) {
                if (start + k < width)
                    idf[start + k] = st->idf_weights.items[k].number;
                mean += st->idf_weights.items[k].number / (double)t.n;
            }
        if (idf)
            idf[0] = mean;
        nomem = !idf;
    }
    memset(out, 0, n * width * sizeof *out);
    for (size_t r = 0; r < n && !nomem; r++) {
        float *o = out + r * width;
        size_t filled = 0;
        for (size_t c = 0; c < per && !nomem; c++) {
            long len = standardize(st, text[r * per + c], &buf, &cap);
            size_t at = 0, s0, tl;
            nomem = len < 0;
            while (!nomem && next_token(st, buf, (size_t)len, &at, &s0, &tl)) {
                long k = ks_tokens_find(&t, buf + s0, tl, 0, &nomem);
                size_t id = k >= 0 ? (size_t)(start + k) : is_int && tl == 0 ? 0 : (size_t)start - 1;
                if (is_int) {
                    if (filled < width)
                        o[filled++] = (float)id;
                } else if (id < width) {
                    o[id] = st->output_mode == MODE_MULTI_HOT ? 1.0f
                            : st->output_mode == MODE_COUNT  ? o[id] + 1.0f
                                                             : o[id] + (float)idf[id];
                }
            }
        }
    }
    free(buf);
    free(idf);
    ks_tokens_free(&t);
    return nomem ? ks_error_set(err, KS_ERR_NOMEM, "out of memory encoding text") : KS_OK;
}

static const char *tv_token(const ks_layer *l, size_t id)
{
    const tv_state *st = l->state;
    const ks_value *v = &st->vocabulary;
    size_t start = (size_t)token_start(st), skip = 0;
    ks_error quiet;
    if (st->output_mode == MODE_INT && id == 0)
        return "";
    if (id == start - 1)
        return OOV_TOKEN;
    if (v->kind != KS_VALUE_LIST || check_vocabulary(st, &skip, &quiet) != KS_OK ||
        id - start >= v->n - skip)
        return NULL;
    return v->items[skip + id - start].string;
}

const ks_layer_ops ks_layer_text_vectorization_ops = {
    .name = "TextVectorization",
    .keys = tv_keys,
    .state_size = sizeof(tv_state),
    .flags = KS_LAYER_TEXT_INPUT | KS_LAYER_ENCODE | KS_LAYER_ONNX_ENCODED,
    .build = tv_build,
    .encode = tv_encode,
    .adapted = tv_adapted,
    .adapt = tv_adapt,
    .token = tv_token,
};
