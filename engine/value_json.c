/*
 * value_json.c — ks_value to and from JSON text.  Model files store a model's
 * config as JSON (as Keras's model.to_json() does); the parser is strict, bounded
 * in depth, and reports line:column, because a model file may be damaged or hostile.
 */
#include "engine.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- writer */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int fail;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->fail)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;
        while (cap < b->n + n + 1)
            cap *= 2;
        p = realloc(b->p, cap);
        if (!p) {
            b->fail = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

static void write_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            sb_put(b, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            sb_str(b, esc);
        } else {
            sb_put(b, (const char *)&c, 1);
        }
    }
    sb_put(b, "\"", 1);
}

static void write_number(sbuf *b, double x)
{
    char buf[32];
    if (!isfinite(x)) {
        sb_str(b, "null");
        return;
    }
    /* shortest of %.15g / %.17g that reads back exactly */
    snprintf(buf, sizeof buf, "%.15g", x);
    if (strtod(buf, NULL) != x)
        snprintf(buf, sizeof buf, "%.17g", x);
    sb_str(b, buf);
}

static void write_value(sbuf *b, const ks_value *v)
{
    switch (v->kind) {
    case KS_VALUE_NULL:
        sb_str(b, "null");
        break;
    case KS_VALUE_BOOL:
        sb_str(b, v->boolean ? "true" : "false");
        break;
    case KS_VALUE_NUMBER:
        write_number(b, v->number);
        break;
    case KS_VALUE_STRING:
        write_string(b, v->string);
        break;
    case KS_VALUE_LIST:
        sb_put(b, "[", 1);
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                sb_put(b, ",", 1);
            write_value(b, &v->items[i]);
        }
        sb_put(b, "]", 1);
        break;
    case KS_VALUE_MAP:
        sb_put(b, "{", 1);
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                sb_put(b, ",", 1);
            write_string(b, v->items[i].key);
            sb_put(b, ":", 1);
            write_value(b, &v->items[i]);
        }
        sb_put(b, "}", 1);
        break;
    }
}

ks_status ks_value_to_json(const ks_value *v, char **out, size_t *len)
{
    sbuf b = {0};
    write_value(&b, v);
    if (b.fail || !b.p) {
        free(b.p);
        return KS_ERR_NOMEM;
    }
    *out = b.p;
    if (len)
        *len = b.n;
    return KS_OK;
}

/* ------------------------------------------------------------- parser */

#define JSON_MAX_DEPTH 64

typedef struct jparser {
    const char *s, *end, *p;
    const char *source;
    int line;
    const char *line_start;
    ks_error *err;
} jparser;

static ks_status jerr(jparser *j, const char *fmt, const char *what)
{
    return ks_error_set_at(j->err, KS_ERR_PARSE, j->source, j->line,
                           (int)(j->p - j->line_start) + 1, fmt, what);
}

static void skip_ws(jparser *j)
{
    while (j->p < j->end) {
        char c = *j->p;
        if (c == '\n') {
            j->line++;
            j->line_start = j->p + 1;
        } else if (c != ' ' && c != '\t' && c != '\r') {
            break;
        }
        j->p++;
    }
}

static void put_utf8(sbuf *b, unsigned cp)
{
    char u[4];
    if (cp < 0x80) {
        u[0] = (char)cp;
        sb_put(b, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        sb_put(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        sb_put(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        sb_put(b, u, 4);
    }
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* Parses a string starting at the opening quote into a malloc'd C string. */
static ks_status parse_string(jparser *j, char **out)
{
    sbuf b = {0};
    j->p++;
    for (;;) {
        char c;
        if (j->p >= j->end) {
            free(b.p);
            return jerr(j, "unterminated string%s", "");
        }
        c = *j->p;
        if (c == '"') {
            j->p++;
            break;
        }
        if ((unsigned char)c < 0x20 || c == '\0') {
            free(b.p);
            return jerr(j, "control character in string%s", "");
        }
        if (c == '\\') {
            char e;
            if (j->end - j->p < 2) {
                free(b.p);
                return jerr(j, "unterminated string%s", "");
            }
            e = j->p[1];
            j->p += 2;
            switch (e) {
            case '"': sb_put(&b, "\"", 1); break;
            case '\\': sb_put(&b, "\\", 1); break;
            case '/': sb_put(&b, "/", 1); break;
            case 'b': sb_put(&b, "\b", 1); break;
            case 'f': sb_put(&b, "\f", 1); break;
            case 'n': sb_put(&b, "\n", 1); break;
            case 'r': sb_put(&b, "\r", 1); break;
            case 't': sb_put(&b, "\t", 1); break;
            case 'u': {
                unsigned cp;
                if (j->end - j->p < 4 || !hex4(j->p, &cp) || cp == 0) {
                    free(b.p);
                    return jerr(j, "bad \\u escape%s", "");
                }
                j->p += 4;
                if (cp >= 0xD800 && cp < 0xDC00) {
                    unsigned lo;
                    if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' ||
                        !hex4(j->p + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                        free(b.p);
                        return jerr(j, "bad surrogate pair%s", "");
                    }
                    j->p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                put_utf8(&b, cp);
                break;
            }
            default:
                free(b.p);
                return jerr(j, "bad escape%s", "");
            }
            continue;
        }
        sb_put(&b, &c, 1);
        j->p++;
    }
    if (b.fail) {
        free(b.p);
        return ks_error_set(j->err, KS_ERR_NOMEM, "out of memory reading JSON");
    }
    *out = b.p ? b.p : strdup("");
    return *out ? KS_OK : ks_error_set(j->err, KS_ERR_NOMEM, "out of memory reading JSON");
}

static int match_word(jparser *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) >= n && memcmp(j->p, w, n) == 0) {
        j->p += n;
        return 1;
    }
    return 0;
}

static ks_status parse_value(jparser *j, ks_value *v, int depth)
{
    ks_status s;
    skip_ws(j);
    v->file = j->source;
    v->line = j->line;
    v->col = (int)(j->p - j->line_start) + 1;
    if (j->p >= j->end)
        return jerr(j, "unexpected end of text%s", "");
    if (depth > JSON_MAX_DEPTH)
        return jerr(j, "nesting deeper than %s levels", "64");
    switch (*j->p) {
    case '{':
        v->kind = KS_VALUE_MAP;
        j->p++;
        skip_ws(j);
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            return KS_OK;
        }
        for (;;) {
            char *key;
            ks_value *m;
            int kl, kc;
            skip_ws(j);
            if (j->p >= j->end || *j->p != '"')
                return jerr(j, "expected a string key%s", "");
            kl = j->line;
            kc = (int)(j->p - j->line_start) + 1;
            if ((s = parse_string(j, &key)) != KS_OK)
                return s;
            m = ks_value_put(v, key, KS_VALUE_NULL);
            free(key);
            if (!m)
                return ks_error_set(j->err, KS_ERR_NOMEM, "out of memory reading JSON");
            m->key_line = kl;
            m->key_col = kc;
            skip_ws(j);
            if (j->p >= j->end || *j->p != ':')
                return jerr(j, "expected ':'%s", "");
            j->p++;
            if ((s = parse_value(j, m, depth + 1)) != KS_OK)
                return s;
            skip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == '}') {
                j->p++;
                return KS_OK;
            }
            return jerr(j, "expected ',' or '}'%s", "");
        }
    case '[':
        v->kind = KS_VALUE_LIST;
        j->p++;
        skip_ws(j);
        if (j->p < j->end && *j->p == ']') {
            j->p++;
            return KS_OK;
        }
        for (;;) {
            ks_value *m = ks_value_push(v, KS_VALUE_NULL);
            if (!m)
                return ks_error_set(j->err, KS_ERR_NOMEM, "out of memory reading JSON");
            if ((s = parse_value(j, m, depth + 1)) != KS_OK)
                return s;
            skip_ws(j);
            if (j->p < j->end && *j->p == ',') {
                j->p++;
                continue;
            }
            if (j->p < j->end && *j->p == ']') {
                j->p++;
                return KS_OK;
            }
            return jerr(j, "expected ',' or ']'%s", "");
        }
    case '"':
        v->kind = KS_VALUE_STRING;
        return parse_string(j, &v->string);
    case 't':
    case 'f':
    case 'n':
        if (match_word(j, "true")) {
            v->kind = KS_VALUE_BOOL;
            v->boolean = 1;
        } else if (match_word(j, "false")) {
            v->kind = KS_VALUE_BOOL;
            v->boolean = 0;
        } else if (match_word(j, "null")) {
            v->kind = KS_VALUE_NULL;
        } else {
            return jerr(j, "unexpected word%s", "");
        }
        return KS_OK;
    default: {
        /* number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
        const char *q = j->p;
        char buf[64];
        size_t n;
        if (q < j->end && *q == '-')
            q++;
        if (q >= j->end || *q < '0' || *q > '9')
            return jerr(j, "unexpected character%s", "");
        while (q < j->end && ((*q >= '0' && *q <= '9') || *q == '.' || *q == 'e' ||
                              *q == 'E' || *q == '+' || *q == '-'))
            q++;
        n = (size_t)(q - j->p);
        if (n >= sizeof buf)
            return jerr(j, "number too long%s", "");
        memcpy(buf, j->p, n);
        buf[n] = '\0';
        {
            char *endp;
            v->kind = KS_VALUE_NUMBER;
            v->number = strtod(buf, &endp);
            if (*endp != '\0')
                return jerr(j, "bad number%s", "");
        }
        j->p = q;
        return KS_OK;
    }
    }
}

ks_status ks_value_from_json(const char *text, size_t len, const char *source, ks_value *out,
                             ks_error *err)
{
    jparser j = {text, text + len, text, source, 1, text, err};
    ks_status s;
    ks_value_init(out, KS_VALUE_NULL);
    s = parse_value(&j, out, 0);
    if (s == KS_OK) {
        skip_ws(&j);
        if (j.p != j.end)
            s = jerr(&j, "unexpected text after the value%s", "");
    }
    if (s != KS_OK)
        ks_value_free(out);
    return s;
}
