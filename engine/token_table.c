/*
 * token_table.c — a growing table of distinct tokens (open addressing over FNV-1a), with
 * per-token counts while adapting, and the order Keras gives a learned vocabulary: shared
 * by TextVectorization, StringLookup and IntegerLookup.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

void ks_tokens_free(ks_tokens *t)
{
    free(t->slot);
    free(t->off);
    free(t->len);
    free(t->count);
    free(t->docs);
    free(t->last_row);
    free(t->arena);
    memset(t, 0, sizeof *t);
}

static size_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
    return (size_t)h;
}

/* Room for one more token: the slots doubled at half full, the per-token arrays grown. */
static int table_grow(ks_tokens *t)
{
    if ((t->n + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 1024, *slot = calloc(cap, sizeof *slot);
        if (!slot)
            return 0;
        for (size_t i = 0; i < t->n; i++) {
            size_t h = hash_bytes(t->arena + t->off[i], t->len[i]) & (cap - 1);
            while (slot[h])
                h = (h + 1) & (cap - 1);
            slot[h] = i + 1;
        }
        free(t->slot);
        t->slot = slot;
        t->cap = cap;
        /* per-token arrays: cap / 2 entries */
        if (!(t->off = realloc(t->off, cap / 2 * sizeof *t->off)) ||
            !(t->len = realloc(t->len, cap / 2 * sizeof *t->len)))
            return 0;
        if (t->counting && (!(t->count = realloc(t->count, cap / 2 * sizeof *t->count)) ||
                            !(t->docs = realloc(t->docs, cap / 2 * sizeof *t->docs)) ||
                            !(t->last_row = realloc(t->last_row, cap / 2 * sizeof *t->last_row))))
            return 0;
    }
    return 1;
}

long ks_tokens_find(ks_tokens *t, const char *s, size_t n, int add, int *nomem)
{
    size_t h, i;
    if (t->cap) {
        for (h = hash_bytes(s, n) & (t->cap - 1); t->slot[h]; h = (h + 1) & (t->cap - 1)) {
            i = t->slot[h] - 1;
            if (t->len[i] == n && memcmp(t->arena + t->off[i], s, n) == 0)
                return (long)i;
        }
    }
    if (!add)
        return -1;
    if (!table_grow(t) || t->arena_len + n + 1 < t->arena_len) {
        *nomem = 1;
        return -1;
    }
    if (t->arena_len + n + 1 > t->arena_cap) {
        size_t cap = t->arena_cap ? t->arena_cap : 4096;
        char *a;
        while (cap < t->arena_len + n + 1)
            cap *= 2;
        if (!(a = realloc(t->arena, cap))) {
            *nomem = 1;
            return -1;
        }
        t->arena = a;
        t->arena_cap = cap;
    }
    memcpy(t->arena + t->arena_len, s, n);
    t->arena[t->arena_len + n] = '\0';
    i = t->n++;
    t->off[i] = t->arena_len;
    t->len[i] = n;
    t->arena_len += n + 1;
    if (t->counting) {
        t->count[i] = t->docs[i] = 0.0;
        t->last_row[i] = 0;
    }
    for (h = hash_bytes(s, n) & (t->cap - 1); t->slot[h]; h = (h + 1) & (t->cap - 1))
        ;
    t->slot[h] = i + 1;
    return (long)i;
}

/* Token i before token j: count descending, then the token descending (its bytes, or its
   value for numeric tables): Keras's np.lexsort((tokens, counts)) reversed. */
static int before(const ks_tokens *t, size_t i, size_t j)
{
    const char *a = t->arena + t->off[i], *b = t->arena + t->off[j];
    if (t->count[i] != t->count[j])
        return t->count[i] > t->count[j];
    if (t->numeric)
        return strtod(a, NULL) > strtod(b, NULL);
    return strcmp(a, b) > 0;
}

void ks_tokens_sort(const ks_tokens *t, size_t *idx, size_t *tmp, size_t n)
{
    size_t h = n / 2, a = 0, b = h, k = 0;
    if (n < 2)
        return;
    ks_tokens_sort(t, idx, tmp, h);
    ks_tokens_sort(t, idx + h, tmp, n - h);
    while (a < h || b < n)
        tmp[k++] = b >= n || (a < h && !before(t, idx[b], idx[a])) ? idx[a++] : idx[b++];
    memcpy(idx, tmp, n * sizeof *idx);
}


ks_status ks_tokens_ranked(const ks_tokens *t, const char *const *special, size_t max,
                           size_t **out, size_t *n)
{
    size_t *idx = malloc((t->n + 1) * sizeof *idx), *tmp = malloc((t->n + 1) * sizeof *tmp);
    size_t keep = 0;
    *out = NULL;
    *n = 0;
    if (!idx || !tmp) {
        free(idx);
        free(tmp);
        return KS_ERR_NOMEM;
    }
    for (size_t i = 0; i < t->n; i++) {
        const char *tok = t->arena + t->off[i];
        int skip = 0;
        for (size_t k = 0; special && special[k] && !skip; k++)
            skip = strcmp(tok, special[k]) == 0;
        if (!skip)
            idx[keep++] = i;
    }
    ks_tokens_sort(t, idx, tmp, keep);
    free(tmp);
    *out = idx;
    *n = keep < max ? keep : max;
    return KS_OK;
}
