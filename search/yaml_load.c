/*
 * yaml_load.c — a YAML file (libyaml's event parser) into a ks_value tree whose
 * every node knows its line and column.  Plain scalars that read as numbers, booleans
 * or null become those (YAML 1.2 core schema, plus 1e-3 style floats); quoted ones
 * stay strings.  Anchors/aliases are refused: a study file has no need for them.
 */
#include "search_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define YAML_MAX_DEPTH 64

typedef struct yloader {
    yaml_parser_t parser;
    const char *name;       /* source name kept alive by the caller */
    ks_error *err;
} yloader;

static ks_status parser_error(yloader *y)
{
    yaml_parser_t *p = &y->parser;
    const char *what = p->problem ? p->problem : "malformed YAML";
    yaml_mark_t mark = p->problem_mark;
    if (p->context)
        return ks_error_set_at(y->err, KS_ERR_PARSE, y->name, (int)mark.line + 1,
                               (int)mark.column + 1, "%s (%s that starts at %d:%d)", what,
                               p->context, (int)p->context_mark.line + 1,
                               (int)p->context_mark.column + 1);
    return ks_error_set_at(y->err, KS_ERR_PARSE, y->name, (int)mark.line + 1,
                           (int)mark.column + 1, "%s", what);
}

static int next(yloader *y, yaml_event_t *ev)
{
    return yaml_parser_parse(&y->parser, ev);
}

/* Interpret a plain scalar: null, bool, integer or float, else a string. */
static ks_status scalar(ks_value *v, const char *text, int plain)
{
    char *end;
    if (plain) {
        if (!text[0] || strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
            strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0) {
            v->kind = KS_VALUE_NULL;
            return KS_OK;
        }
        if (strcmp(text, "true") == 0 || strcmp(text, "True") == 0 ||
            strcmp(text, "TRUE") == 0 || strcmp(text, "false") == 0 ||
            strcmp(text, "False") == 0 || strcmp(text, "FALSE") == 0) {
            v->kind = KS_VALUE_BOOL;
            v->boolean = text[0] == 't' || text[0] == 'T';
            return KS_OK;
        }
        if (strcasecmp(text, ".inf") == 0 || strcasecmp(text, "+.inf") == 0 ||
            strcasecmp(text, "-.inf") == 0 || strcasecmp(text, ".nan") == 0) {
            if (ks_value_set_string(v, text) != KS_OK)
                return KS_ERR_NOMEM;
            v->kind = KS_VALUE_NUMBER;
            v->number = text[1] == 'n' || text[1] == 'N' ? NAN
                        : text[0] == '-'                 ? -INFINITY
                                                         : INFINITY;
            return KS_OK;
        }
        /* numbers: decimal or 0x/0o integers, floats with optional exponent */
        if ((text[0] >= '0' && text[0] <= '9') || text[0] == '-' || text[0] == '+' ||
            text[0] == '.') {
            double x;
            errno = 0;
            if (text[0] == '0' && (text[1] == 'x' || text[1] == 'o')) {
                long long iv = strtoll(text + 2, &end, text[1] == 'x' ? 16 : 8);
                x = (double)iv;
            } else {
                x = strtod(text, &end);
            }
            if (*end == '\0' && end != text && errno == 0 && strchr(text, '_') == NULL &&
                strcasecmp(text, "nan") != 0 && strcasecmp(text, "inf") != 0 &&
                strcasecmp(text, "infinity") != 0) {
                if (ks_value_set_string(v, text) != KS_OK)
                    return KS_ERR_NOMEM;
                v->kind = KS_VALUE_NUMBER;
                v->number = x;
                return KS_OK;
            }
        }
    }
    return ks_value_set_string(v, text);
}

static ks_status load_node(yloader *y, yaml_event_t *ev, ks_value *v, int depth);

static ks_status load_children(yloader *y, ks_value *v, int is_map, int depth)
{
    for (;;) {
        yaml_event_t ev;
        ks_status s;
        if (!next(y, &ev))
            return parser_error(y);
        if (ev.type == (is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT)) {
            yaml_event_delete(&ev);
            return KS_OK;
        }
        if (is_map) {
            ks_value key, *member;
            ks_value_init(&key, KS_VALUE_NULL);
            s = load_node(y, &ev, &key, depth + 1);
            yaml_event_delete(&ev);
            if (s != KS_OK) {
                ks_value_free(&key);
                return s;
            }
            if (key.kind == KS_VALUE_LIST || key.kind == KS_VALUE_MAP || !key.string) {
                s = ks_error_at(y->err, KS_ERR_PARSE, &key, "a key must be a plain word");
                ks_value_free(&key);
                return s;
            }
            if (ks_value_get(v, key.string)) {
                s = ks_error_at(y->err, KS_ERR_PARSE, &key, "key \"%s\" appears twice",
                                key.string);
                ks_value_free(&key);
                return s;
            }
            member = ks_value_put(v, key.string, KS_VALUE_NULL);
            if (!member) {
                ks_value_free(&key);
                return ks_error_set(y->err, KS_ERR_NOMEM, "out of memory reading YAML");
            }
            member->key_line = key.line;
            member->key_col = key.col;
            ks_value_free(&key);
            if (!next(y, &ev))
                return parser_error(y);
            s = load_node(y, &ev, member, depth + 1);
            yaml_event_delete(&ev);
            if (s != KS_OK)
                return s;
        } else {
            ks_value *item = ks_value_push(v, KS_VALUE_NULL);
            if (!item) {
                yaml_event_delete(&ev);
                return ks_error_set(y->err, KS_ERR_NOMEM, "out of memory reading YAML");
            }
            s = load_node(y, &ev, item, depth + 1);
            yaml_event_delete(&ev);
            if (s != KS_OK)
                return s;
        }
    }
}

static ks_status load_node(yloader *y, yaml_event_t *ev, ks_value *v, int depth)
{
    v->file = y->name;
    v->line = (int)ev->start_mark.line + 1;
    v->col = (int)ev->start_mark.column + 1;
    if (depth > YAML_MAX_DEPTH)
        return ks_error_set_at(y->err, KS_ERR_PARSE, y->name, v->line, v->col,
                               "nesting deeper than %d levels", YAML_MAX_DEPTH);
    switch (ev->type) {
    case YAML_SCALAR_EVENT: {
        const char *text = (const char *)ev->data.scalar.value;
        int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        if (ev->data.scalar.anchor)
            return ks_error_set_at(y->err, KS_ERR_PARSE, y->name, v->line, v->col,
                                   "anchors (&) are not supported in study files");
        if (strlen(text) != ev->data.scalar.length)
            return ks_error_set_at(y->err, KS_ERR_PARSE, y->name, v->line, v->col,
                                   "a NUL character inside a scalar");
        if (scalar(v, text, plain) != KS_OK)
            return ks_error_set(y->err, KS_ERR_NOMEM, "out of memory reading YAML");
        return KS_OK;
    }
    case YAML_SEQUENCE_START_EVENT:
        if (ev->data.sequence_start.anchor)
            return ks_error_set_at(y->err, KS_ERR_PARSE, y->name, v->line, v->col,
                                   "anchors (&) are not supported in study files");
        v->kind = KS_VALUE_LIST;
        return load_children(y, v, 0, depth);
    case YAML_MAPPING_START_EVENT:
        if (ev->data.mapping_start.anchor)
            return ks_error_set_at(y->err, KS_ERR_PARSE, y->name, v->line, v->col,
                                   "anchors (&) are not supported in study files");
        v->kind = KS_VALUE_MAP;
        return load_children(y, v, 1, depth);
    case YAML_ALIAS_EVENT:
        return ks_error_set_at(y->err, KS_ERR_PARSE, y->name, v->line, v->col,
                               "aliases (*) are not supported in study files");
    default:
        return ks_error_set_at(y->err, KS_ERR_PARSE, y->name, v->line, v->col,
                               "unexpected YAML event");
    }
}

/* Parse one document from a file (f) or from text (f NULL). */
static ks_status load_stream(FILE *f, const char *text, const char *name, ks_value *out,
                             ks_error *err)
{
    yloader y;
    yaml_event_t ev;
    ks_status s = KS_OK;
    int docs = 0;
    memset(&y, 0, sizeof y);
    y.name = name;
    y.err = err;
    if (!yaml_parser_initialize(&y.parser))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    if (f)
        yaml_parser_set_input_file(&y.parser, f);
    else
        yaml_parser_set_input_string(&y.parser, (const unsigned char *)text, strlen(text));
    for (;;) {
        if (!next(&y, &ev)) {
            s = parser_error(&y);
            break;
        }
        if (ev.type == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (ev.type == YAML_DOCUMENT_START_EVENT) {
            yaml_event_t root;
            yaml_event_delete(&ev);
            if (++docs > 1) {
                s = ks_error_set_at(err, KS_ERR_PARSE, name, (int)y.parser.mark.line + 1, 1,
                                    "a study file holds one YAML document, found a second");
                break;
            }
            if (!next(&y, &root)) {
                s = parser_error(&y);
                break;
            }
            s = load_node(&y, &root, out, 0);
            yaml_event_delete(&root);
            if (s != KS_OK)
                break;
            continue;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&y.parser);
    if (s == KS_OK && docs == 0)
        s = ks_error_set_at(err, KS_ERR_PARSE, name, 1, 1, "the file is empty");
    if (s != KS_OK)
        ks_value_free(out);
    return s;
}

ks_status ks_yaml_load(const char *path, const char *name, ks_value *out, ks_error *err)
{
    FILE *f;
    ks_status s;
    ks_value_init(out, KS_VALUE_NULL);
    f = fopen(path, "rb");
    if (!f)
        return ks_error_set_at(err, KS_ERR_IO, name, 0, 0, "cannot open: %s", strerror(errno));
    s = load_stream(f, NULL, name, out, err);
    fclose(f);
    return s;
}

ks_status ks_yaml_load_text(const char *text, const char *name, ks_value *out, ks_error *err)
{
    ks_value_init(out, KS_VALUE_NULL);
    return load_stream(NULL, text, name, out, err);
}
