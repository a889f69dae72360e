/*
 * test_config.c — the configuration layer: value trees, JSON round trips and
 * hostile JSON, declared key tables (types, ranges, unknown keys with suggestions),
 * and YAML loading with line:column positions.
 */
#include "../engine/engine_impl.h"
#include "../search/search.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/ks_test_config_XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    static char path[512];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

/* ----------------------------------------------------------------- JSON */

static void test_json_round_trip(void)
{
    const char *text = "{\"a\":1,\"b\":[true,false,null,\"x\\\"y\\n\"],\"c\":{\"d\":-2.5e-07},"
                       "\"e\":0.1,\"u\":\"\\u00e9\\ud83d\\ude00\"}";
    ks_value v, w;
    ks_error err;
    char *out;
    size_t len;
    REQUIRE(ks_value_from_json(text, strlen(text), "t.json", &v, &err) == KS_OK, "%s", err.msg);
    CHECK(v.kind == KS_VALUE_MAP && v.n == 5, "map of 5");
    CHECK(ks_value_get(&v, "a")->number == 1.0, "a");
    CHECK(ks_value_get(&v, "c")->items[0].number == -2.5e-07, "exponent");
    CHECK(strcmp(ks_value_get(&v, "b")->items[3].string, "x\"y\n") == 0, "escapes");
    CHECK(strcmp(ks_value_get(&v, "u")->string, "\xc3\xa9\xf0\x9f\x98\x80") == 0, "utf-8");
    REQUIRE(ks_value_to_json(&v, &out, &len) == KS_OK, "write");
    REQUIRE(ks_value_from_json(out, len, "t2", &w, &err) == KS_OK, "reparse: %s", err.msg);
    CHECK(ks_value_equal(&v, &w), "round trip equal: %s", out);
    CHECK(ks_value_get(&w, "e")->number == 0.1, "0.1 exactly after a round trip");
    free(out);
    ks_value_free(&v);
    ks_value_free(&w);
}

static void test_json_errors(void)
{
    static const struct {
        const char *text;
        int line, col;
        const char *msg;
    } bad[] = {
        {"{\"a\":}", 1, 6, "unexpected character"},
        {"{\"a\":1,}", 1, 8, "expected a string key"},
        {"[1,2", 1, 5, "expected ',' or ']'"},
        {"\n  [1 2]", 2, 6, "expected ',' or ']'"},
        {"\"abc", 1, 5, "unterminated string"},
        {"{\"a\":1} x", 1, 9, "unexpected text after"},
        {"tru", 1, 1, "unexpected word"},
        {"\"\\u0000\"", 1, 4, "bad \\u escape"},
        {"1e", 1, 1, "bad number"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ks_value v;
        ks_error err;
        ks_status s = ks_value_from_json(bad[i].text, strlen(bad[i].text), "bad.json", &v, &err);
        CHECK(s == KS_ERR_PARSE, "%s: status %d", bad[i].text, s);
        CHECK(err.line == bad[i].line && err.col == bad[i].col, "%s: at %d:%d, want %d:%d",
              bad[i].text, err.line, err.col, bad[i].line, bad[i].col);
        CHECK(strstr(err.msg, bad[i].msg) != NULL, "%s: message \"%s\"", bad[i].text, err.msg);
    }
    /* nesting bomb: refused, not a stack overflow */
    {
        char deep[400];
        ks_value v;
        ks_error err;
        memset(deep, '[', sizeof deep);
        CHECK(ks_value_from_json(deep, sizeof deep, "deep", &v, &err) == KS_ERR_PARSE &&
                  strstr(err.msg, "nesting"),
              "deep nesting: %s", err.msg);
    }
}

/* ---------------------------------------------------------- key tables */

typedef struct demo_args {
    int units;
    double rate;
    int flag;
    int act;
    char name[8];
    ks_shape shape;
} demo_args;

static const char *const acts[] = {"relu", "tanh", "linear", NULL};

static const ks_key demo_keys[] = {
    {"units", KS_KEY_INT, offsetof(demo_args, units), 0, 1, 100, NULL, NULL, KS_KEY_REQUIRED},
    {"rate", KS_KEY_FLOAT, offsetof(demo_args, rate), 0, 0, 1, "0.5", NULL, KS_KEY_MAX_EXCL},
    {"flag", KS_KEY_BOOL, offsetof(demo_args, flag), 0, 0, 0, "true", NULL, 0},
    {"activation", KS_KEY_ENUM, offsetof(demo_args, act), 0, 0, 0, "linear", acts,
     KS_KEY_NULLABLE},
    {"name", KS_KEY_STRING, offsetof(demo_args, name), 8, 0, 0, "x", NULL, 0},
    {"input_shape", KS_KEY_SHAPE, offsetof(demo_args, shape), 0, 0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

static ks_status read_demo(const char *json, demo_args *a, ks_error *err)
{
    ks_value v;
    ks_status s;
    if (ks_value_from_json(json, strlen(json), "demo.json", &v, err) != KS_OK)
        return KS_ERR_PARSE;
    ks_keys_defaults(demo_keys, a);
    s = ks_keys_read(demo_keys, &v, "Demo", a, err);
    ks_value_free(&v);
    return s;
}

static void test_keys(void)
{
    demo_args a;
    ks_error err;
    static const struct {
        const char *json;
        const char *msg;
    } bad[] = {
        {"{\"rate\":0.1}", "Demo is missing its required argument \"units\""},
        {"{\"units\":\"ten\"}", "Demo: units must be an integer in [1, 100], got \"ten\""},
        {"{\"units\":2.5}", "units must be an integer in [1, 100], got 2.5"},
        {"{\"units\":0}", "units must be an integer in [1, 100], got 0"},
        {"{\"units\":1,\"rate\":1}", "rate must be a number in [0, 1), got 1"},
        {"{\"units\":1,\"flag\":1}", "flag must be true or false, got 1"},
        {"{\"units\":1,\"unit\":2}", "Demo has no argument \"unit\" (did you mean \"units\"?)"},
        {"{\"units\":1,\"zzzzzz\":2}", "Demo has no argument \"zzzzzz\""},
        {"{\"units\":1,\"activation\":\"rleu\"}",
         "activation must be one of relu, tanh, linear, got \"rleu\" (did you mean \"relu\"?)"},
        {"{\"units\":1,\"name\":\"much too long\"}", "name must be shorter than 8 characters"},
        {"{\"units\":1,\"input_shape\":[28,0]}", "input_shape must hold positive integers, got 0"},
        {"[1]", "Demo expects a map of arguments, got a list"},
    };
    REQUIRE(read_demo("{\"units\":3,\"activation\":null,\"input_shape\":[28,28]}", &a, &err) ==
                KS_OK,
            "%s", err.msg);
    CHECK(a.units == 3 && a.rate == 0.5 && a.flag == 1 && a.act == 2 && strcmp(a.name, "x") == 0,
          "defaults kept");
    CHECK(a.shape.ndim == 2 && a.shape.dim[1] == 28, "shape");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ks_status s = read_demo(bad[i].json, &a, &err);
        CHECK(s == KS_ERR_CONFIG, "%s: status %d", bad[i].json, s);
        CHECK(strstr(err.msg, bad[i].msg) != NULL, "%s:\n  got  \"%s\"\n  want \"%s\"",
              bad[i].json, err.msg, bad[i].msg);
        CHECK(err.line == 1 && err.col >= 1, "%s: position %d:%d", bad[i].json, err.line,
              err.col);
    }
    /* write back: a round trip through a map */
    {
        ks_value map;
        demo_args b;
        ks_value_init(&map, KS_VALUE_MAP);
        REQUIRE(read_demo("{\"units\":7,\"rate\":0.25,\"activation\":\"tanh\"}", &a, &err) == KS_OK,
                "%s", err.msg);
        REQUIRE(ks_keys_write(demo_keys, &a, &map) == KS_OK, "write");
        ks_keys_defaults(demo_keys, &b);
        REQUIRE(ks_keys_read(demo_keys, &map, "Demo", &b, &err) == KS_OK, "%s", err.msg);
        CHECK(b.units == 7 && b.rate == 0.25 && b.act == 1, "written and read back");
        ks_value_free(&map);
    }
    CHECK(ks_nearest_name("Dens", (const char *const[]){"Dense", "Dropout", NULL}) != NULL,
          "near");
    CHECK(ks_nearest_name("qqqqqq", (const char *const[]){"Dense", "Dropout", NULL}) == NULL,
          "far");
}

/* ----------------------------------------------------------------- YAML */

static void test_yaml(void)
{
    ks_value v;
    ks_error err;
    const ks_value *m, *x;
    const char *p = write_file("ok.yaml", "# comment\n"
                                          "name: demo\n"
                                          "lr: 1e-3\n"
                                          "n: 0x10\n"
                                          "quoted: \"12\"\n"
                                          "flags: [true, False, null, ~, yes]\n"
                                          "model:\n"
                                          "  - Dense: {units: 10}\n");
    REQUIRE(ks_yaml_load(p, "ok.yaml", &v, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_value_get(&v, "lr")->kind == KS_VALUE_NUMBER &&
              ks_value_get(&v, "lr")->number == 1e-3,
          "1e-3 is a number");
    CHECK(ks_value_get(&v, "n")->number == 16, "hex");
    CHECK(ks_value_get(&v, "quoted")->kind == KS_VALUE_STRING, "quoted stays a string");
    m = ks_value_get(&v, "flags");
    CHECK(m->items[0].kind == KS_VALUE_BOOL && m->items[0].boolean && m->items[1].kind ==
              KS_VALUE_BOOL && !m->items[1].boolean && m->items[2].kind == KS_VALUE_NULL &&
              m->items[3].kind == KS_VALUE_NULL && m->items[4].kind == KS_VALUE_STRING,
          "scalars");
    x = &ks_value_get(&v, "model")->items[0].items[0];
    CHECK(strcmp(x->key, "Dense") == 0 && x->key_line == 8 && x->key_col == 5, "key at %d:%d",
          x->key_line, x->key_col);
    x = ks_value_get(x, "units");
    CHECK(x->line == 8 && x->col == 20 && x->number == 10, "value at %d:%d", x->line, x->col);
    CHECK(strcmp(x->file, "ok.yaml") == 0, "file name");
    ks_value_free(&v);

    /* errors with positions */
    {
        static const struct {
            const char *text;
            int line, col;
            const char *msg;
        } bad[] = {
            {"a: 1\nb: [1, 2\n", 3, 1, "flow sequence"},
            {"a: 1\na: 2\n", 2, 1, "key \"a\" appears twice"},
            {"a: &x 1\nb: *x\n", 1, 4, "anchors"},
            {"", 1, 1, "empty"},
            {"a: 1\n---\nb: 2\n", 2, 1, "one YAML document"},
            {"a:\n\tb: 1\n", 2, 1, "cannot start any token"},
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ks_status s;
            p = write_file("bad.yaml", bad[i].text);
            s = ks_yaml_load(p, "bad.yaml", &v, &err);
            CHECK(s == KS_ERR_PARSE, "case %zu: status %d", i, s);
            CHECK(err.line == bad[i].line && err.col == bad[i].col,
                  "case %zu: at %d:%d, want %d:%d (%s)", i, err.line, err.col, bad[i].line,
                  bad[i].col, err.msg);
            CHECK(strstr(err.msg, bad[i].msg) != NULL, "case %zu: \"%s\"", i, err.msg);
        }
    }
    CHECK(ks_yaml_load("/nonexistent/x.yaml", "x.yaml", &v, &err) == KS_ERR_IO &&
              strstr(err.msg, "No such file"),
          "missing file: %s", err.msg);
}

/* Messages quote names and values from files, which may hold any byte: one line always. */
static void test_error_one_line(void)
{
    ks_error err;
    char buf[600];
    ks_error_set_at(&err, KS_ERR_CORRUPT, "m.ksm", 0, 0, "tensor \"%s\" is odd", "a\nb\r\t\x01" "c");
    CHECK(strcmp(err.msg, "tensor \"a\\nb\\r\\t\\x01c\" is odd") == 0, "escaped: %s", err.msg);
    ks_error_prefix(&err, "in \"%s\"", "x\ny");
    CHECK(strcmp(err.msg, "in \"x\\ny\": tensor \"a\\nb\\r\\t\\x01c\" is odd") == 0, "prefix: %s",
          err.msg);
    CHECK(!strchr(ks_error_format(&err, buf, sizeof buf), '\n'), "one line: %s", buf);
    /* a long message stops at a whole escape, never in the middle of one */
    {
        char lots[1200];
        memset(lots, '\n', sizeof lots - 1);
        lots[sizeof lots - 1] = '\0';
        ks_error_set(&err, KS_ERR_PARSE, "%s", lots);
        CHECK(strlen(err.msg) % 2 == 0 && strlen(err.msg) >= sizeof err.msg - 2,
              "truncated at a whole escape: %zu", strlen(err.msg));
    }
}

int main(void)
{
    if (!mkdtemp(tmpdir))
        return 1;
    test_error_one_line();
    test_json_round_trip();
    test_json_errors();
    test_keys();
    test_yaml();
    {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    return check_done();
}
