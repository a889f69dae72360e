/*
 * test_data.c — the data readers: IDX (raw and .gz), NumPy .npy, CSV, and
 * ks_dataset_load on specs built in code.  Every input is written byte by byte into
 * a temporary directory by this program; expected values are computed here from the
 * numbers written, never copied from the readers' output.
 */
#include "../engine/engine_impl.h"
#include "../search/search.h"
#include "check.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

typedef struct tmp {
    char dir[64];
} tmp;

static const char *tpath(const tmp *t, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", t->dir, name);
    return buf;
}

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    fclose(f);
}

static void write_text(const char *path, const char *text)
{
    write_bytes(path, text, strlen(text));
}

static void write_gz(const char *path, const void *data, size_t len)
{
    gzFile f = gzopen(path, "wb9");
    if (!f || gzwrite(f, data, (unsigned)len) != (int)len) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    gzclose(f);
}

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    long n;
    if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        exit(2);
    b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
        exit(2);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static int contains(const char *s, const char *part)
{
    return strstr(s, part) != NULL;
}

/* The error's file is the path and its message holds part. */
#define CHECK_ERR(st, code_, e, path_, part)                                                  \
    do {                                                                                      \
        CHECK((st) == (code_), "status %s, expected %s (%s)", ks_status_str(st),              \
              ks_status_str(code_), (e).msg);                                                 \
        CHECK(strcmp((e).file, (path_)) == 0, "error file \"%s\"", (e).file);                 \
        CHECK(contains((e).msg, (part)), "message \"%s\" lacks \"%s\"", (e).msg, (part));     \
    } while (0)

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

static void put_be(unsigned char *p, uint64_t v, int size)
{
    for (int i = 0; i < size; i++)
        p[i] = (unsigned char)(v >> (8 * (size - 1 - i)));
}

static void put_le(unsigned char *p, uint64_t v, int size)
{
    for (int i = 0; i < size; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Exact apart from IDX's uint8 path, which multiplies by a float reciprocal. */
static int near(float a, float b)
{
    return fabsf(a - b) <= 1.2e-7f * (fabsf(b) > 1.0f ? fabsf(b) : 1.0f);
}

/* ------------------------------------------------------------------- IDX */

/* An IDX file: type, dims (rank of them), then payload bytes. */
static size_t make_idx(unsigned char *buf, unsigned type, int rank, const uint32_t *dims,
                       const void *payload, size_t plen)
{
    buf[0] = buf[1] = 0;
    buf[2] = (unsigned char)type;
    buf[3] = (unsigned char)rank;
    for (int i = 0; i < rank; i++)
        put_be32(buf + 4 + 4 * i, dims[i]);
    memcpy(buf + 4 + 4 * rank, payload, plen);
    return 4 + 4 * (size_t)rank + plen;
}

static void test_idx(const tmp *t)
{
    unsigned char pix[3 * 2 * 3], buf[4096], *big, *gz;
    char p_raw[128], p_gz[128], p[128];
    uint32_t dims[3] = {3, 2, 3};
    ks_shape shape;
    ks_error e;
    size_t n, len, glen;
    float *x;
    ks_status s;
    for (int i = 0; i < 18; i++)
        pix[i] = (unsigned char)((i * 37 + 11) % 256);
    len = make_idx(buf, 0x08, 3, dims, pix, sizeof pix);
    write_bytes(tpath(t, "img-idx3-ubyte", p_raw, sizeof p_raw), buf, len);
    write_gz(tpath(t, "img-idx3-ubyte.gz", p_gz, sizeof p_gz), buf, len);
    for (int gzipped = 0; gzipped < 2; gzipped++) {
        s = ks_idx_load(gzipped ? p_gz : p_raw, 0, KS_ALL_ROWS, 255.0, &shape, &n, &x, &e);
        CHECK(s == KS_OK, "idx u8: %s", e.msg);
        if (s != KS_OK)
            continue;
        CHECK(n == 3 && shape.ndim == 2 && shape.dim[0] == 2 && shape.dim[1] == 3,
              "idx shape n=%zu ndim=%d", n, shape.ndim);
        for (int i = 0; i < 18; i++)
            CHECK(near(x[i], (float)(pix[i] / 255.0)), "idx u8 [%d] %g", i, x[i]);
        free(x);
    }
    s = ks_idx_load(p_gz, 1, 3, 1.0, &shape, &n, &x, &e);
    CHECK(s == KS_OK && n == 2 && x[0] == pix[6] && x[11] == pix[17], "idx rows [1,3)");
    free(x);
    s = ks_idx_read(p_raw, &shape, &n, &x, &e);
    CHECK(s == KS_OK && n == 3 && x[17] == pix[17], "ks_idx_read");
    free(x);
    s = ks_idx_load(p_raw, 2, 4, 1.0, &shape, &n, &x, &e);
    CHECK_ERR(s, KS_ERR_CONFIG, e, p_raw, "outside the file's 3 rows");

    /* the other element types, big-endian */
    {
        static const struct {
            unsigned type;
            int size;
            double v[2];
        } types[] = {{0x09, 1, {-3, 100}}, {0x0B, 2, {-300, 1234}}, {0x0C, 4, {-70000, 5}},
                     {0x0D, 4, {1.5, -0.25}}, {0x0E, 8, {-2.25, 1e10}}};
        for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
            unsigned char pay[16];
            uint32_t d1[1] = {2};
            for (int i = 0; i < 2; i++) {
                double v = types[k].v[i];
                uint64_t u;
                if (types[k].type == 0x0D) {
                    float f = (float)v;
                    uint32_t u32;
                    memcpy(&u32, &f, 4);
                    u = u32;
                } else if (types[k].type == 0x0E) {
                    memcpy(&u, &v, 8);
                } else {
                    u = (uint64_t)(int64_t)v;
                }
                put_be(pay + i * types[k].size, u, types[k].size);
            }
            len = make_idx(buf, types[k].type, 1, d1, pay, 2 * (size_t)types[k].size);
            write_bytes(tpath(t, "typed.idx", p, sizeof p), buf, len);
            s = ks_idx_load(p, 0, KS_ALL_ROWS, 2.0, &shape, &n, &x, &e);
            CHECK(s == KS_OK && n == 2 && shape.ndim == 0, "idx type 0x%02x: %s",
                  types[k].type, e.msg);
            if (s == KS_OK) {
                for (int i = 0; i < 2; i++)
                    CHECK(x[i] == (float)(types[k].v[i] / 2.0), "idx type 0x%02x [%d] = %g",
                          types[k].type, i, x[i]);
                free(x);
            }
        }
    }

    /* non-finite values are bad input (exit 2), named by row and column */
    {
        unsigned char pay[4 * 6];
        uint32_t d2[2] = {3, 2};
        float v[6] = {0, 1, 2, 3, 4, NAN};
        for (int i = 0; i < 6; i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            put_be32(pay + 4 * i, u);
        }
        len = make_idx(buf, 0x0D, 2, d2, pay, sizeof pay);
        write_bytes(tpath(t, "nan.idx", p, sizeof p), buf, len);
        s = ks_idx_load(p, 0, KS_ALL_ROWS, 1.0, &shape, &n, &x, &e);
        CHECK_ERR(s, KS_ERR_PARSE, e, p, "row 2, column 1 holds nan");
        s = ks_idx_load(p, 0, 2, 1e-40, &shape, &n, &x, &e);
        CHECK_ERR(s, KS_ERR_PARSE, e, p, "row 0, column 1 holds inf");
    }
    /* a double beyond float32's range is refused, not read as inf (found by fuzz_idx_gz) */
    {
        unsigned char pay[16];
        uint32_t d1[1] = {2};
        double v[2] = {1.0, -1e39};
        for (int i = 0; i < 2; i++) {
            uint64_t u;
            memcpy(&u, &v[i], 8);
            put_be(pay + 8 * i, u, 8);
        }
        len = make_idx(buf, 0x0E, 1, d1, pay, sizeof pay);
        write_bytes(tpath(t, "huge.idx", p, sizeof p), buf, len);
        x = NULL;
        s = ks_idx_load(p, 0, KS_ALL_ROWS, 1.0, &shape, &n, &x, &e);
        CHECK_ERR(s, KS_ERR_PARSE, e, p, "row 1, column 0 holds -inf");
        CHECK(x == NULL && n == 0, "huge double: outputs cleared");
    }

    /* damaged files */
    write_bytes(tpath(t, "short.idx", p, sizeof p), buf, 0);
    len = make_idx(buf, 0x08, 3, dims, pix, sizeof pix);
    write_bytes(p, buf, len - 2);
    s = ks_idx_load(p, 0, KS_ALL_ROWS, 1.0, &shape, &n, &x, &e);
    CHECK_ERR(s, KS_ERR_CORRUPT, e, p, "truncated: the header promises 3 rows");
    CHECK(x == NULL && n == 0, "outputs cleared on error");
    for (size_t cut = 0; cut < len; cut++) {
        write_bytes(p, buf, cut);
        s = ks_idx_load(p, 0, KS_ALL_ROWS, 1.0, &shape, &n, &x, &e);
        CHECK(s == KS_ERR_CORRUPT && x == NULL, "idx cut at %zu: %s", cut, ks_status_str(s));
    }
    buf[0] = 1;
    write_bytes(p, buf, len);
    s = ks_idx_load(p, 0, KS_ALL_ROWS, 1.0, &shape, &n, &x, &e);
    CHECK_ERR(s, KS_ERR_CORRUPT, e, p, "bad magic");
    {
        static const struct {
            unsigned type;
            int rank;
            uint32_t dims[3];
            const char *part;
        } bad[] = {
            {0x07, 1, {1}, "element type 0x07"},
            {0x08, 0, {0}, "0 dimensions"},
            {0x08, 9, {1}, "9 dimensions"},
            {0x08, 2, {1, 0}, "dimension 1 is 0"},
            {0x08, 2, {1, 0xFFFFFFFFu}, "dimension 1 is 4294967295"},
            {0x08, 3, {1, 1u << 30, 1u << 30}, "out of range"},
            {0x08, 3, {0xFFFFFFFFu, 1u << 20, 1u << 20}, "sizes out of range"},
            {0x0E, 2, {0xFFFFFFFFu, 1u << 30}, "sizes out of range"},
            {0x08, 2, {0xFFFFFFFFu, 1}, "truncated: the header promises 4294967295 rows"},
        };
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            unsigned char hb[64] = {0, 0, (unsigned char)bad[k].type, (unsigned char)bad[k].rank};
            for (int i = 0; i < bad[k].rank && i < 3; i++)
                put_be32(hb + 4 + 4 * i, bad[k].dims[i]);
            write_bytes(p, hb, 4 + 4 * (size_t)(bad[k].rank < 3 ? bad[k].rank : 3) + 4);
            s = ks_idx_load(p, 0, KS_ALL_ROWS, 1.0, &shape, &n, &x, &e);
            CHECK_ERR(s, KS_ERR_CORRUPT, e, p, bad[k].part);
        }
    }
    tpath(t, "no-such-file", p, sizeof p);
    s = ks_idx_load(p, 0, KS_ALL_ROWS, 1.0, &shape, &n, &x, &e);
    CHECK_ERR(s, KS_ERR_IO, e, p, "cannot open");

    /* a truncated .gz: compress 100 noisy images, keep the first half of the stream */
    big = malloc(4 + 12 + 100 * 28 * 28);
    {
        uint32_t d3[3] = {100, 28, 28};
        uint32_t lcg = 1;
        unsigned char *pay = malloc(100 * 28 * 28);
        for (int i = 0; i < 100 * 28 * 28; i++) {
            lcg = lcg * 1664525u + 1013904223u;
            pay[i] = (unsigned char)(lcg >> 24);
        }
        len = make_idx(big, 0x08, 3, d3, pay, 100 * 28 * 28);
        free(pay);
    }
    write_gz(tpath(t, "cut-images-idx3-ubyte.gz", p, sizeof p), big, len);
    s = ks_idx_load(p, 0, KS_ALL_ROWS, 1.0, &shape, &n, &x, &e);
    CHECK(s == KS_OK && n == 100 && x[100 * 784 - 1] == big[len - 1], "big gz reads back");
    free(x);
    gz = slurp(p, &glen);
    write_bytes(p, gz, glen / 2);
    s = ks_idx_load(p, 0, KS_ALL_ROWS, 1.0, &shape, &n, &x, &e);
    CHECK_ERR(s, KS_ERR_CORRUPT, e, p, "truncated");
    {
        char line[1024];
        CHECK(contains(ks_error_format(&e, line, sizeof line), p), "formatted: %s", line);
    }
    free(gz);
    free(big);
}

/* ------------------------------------------------------------------- NPY */

/* A .npy file of version major with this header dict (newline and padding added). */
static size_t make_npy(unsigned char *buf, int major, const char *dict, const void *data,
                       size_t dlen)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict), hlen = dl + 1;
    while ((pre + hlen) % 64)
        hlen++;
    memcpy(buf, "\x93NUMPY", 6);
    buf[6] = (unsigned char)major;
    buf[7] = 0;
    put_le(buf + 8, hlen, major == 1 ? 2 : 4);
    memcpy(buf + pre, dict, dl);
    memset(buf + pre + dl, ' ', hlen - dl - 1);
    buf[pre + hlen - 1] = '\n';
    memcpy(buf + pre + hlen, data, dlen);
    return pre + hlen + dlen;
}

static size_t make_npy_simple(unsigned char *buf, int major, const char *descr,
                              const char *shape, const void *data, size_t dlen)
{
    char dict[256];
    snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
             descr, shape);
    return make_npy(buf, major, dict, data, dlen);
}

/* Six values written in a dtype, as little-endian bytes. */
static void encode(const char *code, const double *v, unsigned char *out)
{
    int size = code[1] - '0';
    for (int i = 0; i < 6; i++) {
        uint64_t u;
        if (strcmp(code, "f4") == 0) {
            float f = (float)v[i];
            uint32_t u32;
            memcpy(&u32, &f, 4);
            u = u32;
        } else if (strcmp(code, "f8") == 0) {
            memcpy(&u, &v[i], 8);
        } else {
            u = (uint64_t)(int64_t)v[i];
        }
        put_le(out + i * size, u, size);
    }
}

static void test_npy_dtypes(const tmp *t)
{
    static const struct {
        const char *descr;
        double v[6];
    } cases[] = {
        {"<f4", {0, 1, -2.5, 3.25, 1e-3, -7}},
        {"<f8", {0.1, 1e10, -2.5, 3.25, 1e-30, -7}},
        {"|u1", {0, 1, 128, 255, 7, 9}},
        {"|i1", {0, 1, -2, 127, -128, 5}},
        {"<i2", {0, -1, 300, -32768, 32767, 5}},
        {"<u2", {0, 1, 300, 65535, 4, 5}},
        {"<i4", {0, -1, 70000, -2147483648.0, 2147483647.0, 5}},
        {"<u4", {0, 1, 70000, 4294967295.0, 4, 5}},
        {"<i8", {0, -1, 1099511627776.0, -3, 4, 5}},
        {"<u8", {0, 1, 1099511627776.0, 3, 4, 5}},
        {"|b1", {0, 1, 1, 0, 0, 1}},
    };
    unsigned char data[64], buf[256];
    char p[128];
    ks_shape shape;
    ks_error e;
    size_t n, len;
    float *x;
    ks_status s;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *code = cases[k].descr + 1;
        encode(code, cases[k].v, data);
        for (int major = 1; major <= 3; major++) {
            len = make_npy_simple(buf, major, cases[k].descr, "(3, 2)", data,
                                  6 * (size_t)(code[1] - '0'));
            write_bytes(tpath(t, "a.npy", p, sizeof p), buf, len);
            s = ks_npy_load(p, 0, KS_ALL_ROWS, 2.0, &shape, &n, &x, &e);
            CHECK(s == KS_OK, "npy %s v%d: %s", cases[k].descr, major, e.msg);
            if (s != KS_OK)
                continue;
            CHECK(n == 3 && shape.ndim == 1 && shape.dim[0] == 2, "npy %s shape", code);
            for (int i = 0; i < 6; i++) {
                double v = strcmp(code, "f4") == 0 ? (float)cases[k].v[i] : cases[k].v[i];
                CHECK(x[i] == (float)(v / 2.0), "npy %s [%d] = %.9g, expected %.9g", code, i,
                      x[i], (float)(v / 2.0));
            }
            free(x);
        }
    }
    /* float16: 1, -2, 0.5, 65504, the smallest subnormal 2^-24, 0 */
    {
        static const uint16_t h[6] = {0x3C00, 0xC000, 0x3800, 0x7BFF, 0x0001, 0x0000};
        const double want[6] = {1, -2, 0.5, 65504, ldexp(1, -24), 0};
        for (int i = 0; i < 6; i++)
            put_le(data + 2 * i, h[i], 2);
        len = make_npy_simple(buf, 1, "<f2", "(6,)", data, 12);
        write_bytes(p, buf, len);
        s = ks_npy_load(p, 0, KS_ALL_ROWS, 1.0, &shape, &n, &x, &e);
        CHECK(s == KS_OK && n == 6 && shape.ndim == 1 && shape.dim[0] == 1, "f2: %s", e.msg);
        for (int i = 0; s == KS_OK && i < 6; i++)
            CHECK(x[i] == (float)want[i], "f2 [%d] = %g", i, x[i]);
        if (s == KS_OK)
            free(x);
    }
}

static void test_npy_shapes(const tmp *t)
{
    unsigned char data[24 * 4], buf[512], *gzb;
    char p[128], pg[128];
    ks_shape shape;
    ks_error e;
    size_t n, len, glen;
    float *x;
    ks_status s;
    for (int i = 0; i < 24; i++) {
        float f = (float)i * 0.5f - 3.0f;
        uint32_t u;
        memcpy(&u, &f, 4);
        put_le(data + 4 * i, u, 4);
    }
    /* (4, 2, 3): rows of shape (2, 3); rows [1, 3) */
    len = make_npy_simple(buf, 2, "<f4", "(4, 2, 3)", data, sizeof data);
    write_bytes(tpath(t, "b.npy", p, sizeof p), buf, len);
    s = ks_npy_load(p, 1, 3, 1.0, &shape, &n, &x, &e);
    CHECK(s == KS_OK && n == 2 && shape.ndim == 2 && shape.dim[0] == 2 && shape.dim[1] == 3,
          "npy (4,2,3) rows [1,3): %s", e.msg);
    for (int i = 0; s == KS_OK && i < 12; i++)
        CHECK(x[i] == (float)(i + 6) * 0.5f - 3.0f, "npy slice [%d] = %g", i, x[i]);
    if (s == KS_OK)
        free(x);
    s = ks_npy_load(p, 3, 5, 1.0, &shape, &n, &x, &e);
    CHECK_ERR(s, KS_ERR_CONFIG, e, p, "outside the file's 4 rows");
    /* ks_npy_read: whole file, scale 1; and the same file gzipped */
    write_gz(tpath(t, "b.npy.gz", pg, sizeof pg), buf, len);
    s = ks_npy_read(pg, &shape, &n, &x, &e);
    CHECK(s == KS_OK && n == 4 && x[23] == 8.5f && x[0] == -3.0f, "npy.gz: %s", e.msg);
    if (s == KS_OK)
        free(x);
    gzb = slurp(pg, &glen);
    write_bytes(pg, gzb, glen - 8);             /* lose the gzip trailer */
    free(gzb);
    s = ks_npy_read(pg, &shape, &n, &x, &e);
    CHECK_ERR(s, KS_ERR_CORRUPT, e, pg, "truncated");
    /* 1-D: one value per row, as labels are */
    len = make_npy_simple(buf, 1, "<f4", "(24,)", data, sizeof data);
    write_bytes(p, buf, len);
    s = ks_npy_read(p, &shape, &n, &x, &e);
    CHECK(s == KS_OK && n == 24 && shape.ndim == 1 && shape.dim[0] == 1 && x[5] == -0.5f,
          "npy 1-D: %s", e.msg);
    if (s == KS_OK)
        free(x);
    /* Python 2's long suffix and a one-element tuple without a comma */
    len = make_npy(buf, 1, "{'shape':(6L,4L),'fortran_order':False,'descr':'<f4'}", data,
                   sizeof data);
    write_bytes(p, buf, len);
    s = ks_npy_read(p, &shape, &n, &x, &e);
    CHECK(s == KS_OK && n == 6 && shape.dim[0] == 4, "npy (6L, 4L): %s", e.msg);
    if (s == KS_OK)
        free(x);
    len = make_npy(buf, 3, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (24)}",
                   data, sizeof data);
    write_bytes(p, buf, len);
    s = ks_npy_read(p, &shape, &n, &x, &e);
    CHECK(s == KS_OK && n == 24, "npy (24) with double quotes: %s", e.msg);
    if (s == KS_OK)
        free(x);
    /* zero rows */
    len = make_npy_simple(buf, 1, "<f4", "(0, 3)", data, 0);
    write_bytes(p, buf, len);
    s = ks_npy_read(p, &shape, &n, &x, &e);
    CHECK(s == KS_OK && n == 0 && shape.dim[0] == 3 && x != NULL, "npy (0, 3): %s", e.msg);
    if (s == KS_OK)
        free(x);
}

static void test_npy_errors(const tmp *t)
{
    static const struct {
        const char *dict;
        ks_status code;
        const char *part;
    } bad[] = {
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", KS_ERR_CONFIG,
         "Fortran order"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", KS_ERR_CONFIG,
         "big-endian ('>f4')"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2, 3), }", KS_ERR_CONFIG,
         "dtype '<c8' is not supported"},
        {"{'descr': '|O', 'fortran_order': False, 'shape': (2, 3), }", KS_ERR_CONFIG,
         "dtype '|O' is not supported"},
        {"{'descr': '<U8', 'fortran_order': False, 'shape': (2, 3), }", KS_ERR_CONFIG,
         "not supported"},
        {"{'descr': '', 'fortran_order': False, 'shape': (2, 3), }", KS_ERR_CONFIG,
         "not supported"},
        {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", KS_ERR_CONFIG,
         "structured dtype"},
        {"{'descr': '<f4', 'fortran_order': False, }", KS_ERR_CORRUPT, "no 'shape' key"},
        {"{'fortran_order': False, 'shape': (2, 3)}", KS_ERR_CORRUPT, "no 'descr' key"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'x': 1}", KS_ERR_CORRUPT,
         "unknown key 'x'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}",
         KS_ERR_CORRUPT, "repeated key 'descr'"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (2, 3)}", KS_ERR_CORRUPT,
         "',' or '}' after a value"},
        {"{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}", KS_ERR_CORRUPT,
         "bad .npy header"},
        {"{'descr': '<f4', 'fortran_order': false, 'shape': (2, 3)}", KS_ERR_CORRUPT,
         "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", KS_ERR_CORRUPT,
         "non-negative integer"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3]}", KS_ERR_CORRUPT,
         "a tuple"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3}", KS_ERR_CORRUPT,
         "',' or ')'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1)}",
         KS_ERR_CORRUPT, "at most 7 dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}",
         KS_ERR_CORRUPT, "at most 2^40"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4294967296)}", KS_ERR_CORRUPT,
         "dimension 1 is 4294967296, out of range"},
        {"{'descr': '|u1', 'fortran_order': False, 'shape': (1048576, 1048576, 1024)}",
         KS_ERR_CORRUPT, "sizes out of range"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0)}", KS_ERR_CORRUPT,
         "dimension 1 is 0"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': ()}", KS_ERR_SHAPE, "scalar"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x", KS_ERR_CORRUPT,
         "only padding"},
        {"'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", KS_ERR_CORRUPT,
         "starting with '{'"},
        {"", KS_ERR_CORRUPT, "starting with '{'"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3)}", KS_ERR_CORRUPT,
         "truncated: the header promises 3 rows"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3)}", KS_ERR_CORRUPT,
         "bytes follow the array's 1 rows (140 bytes)"},
    };
    unsigned char data[24], buf[512], hl;
    char p[128], msg[128];
    ks_shape shape;
    ks_error e;
    size_t n, len;
    float *x;
    ks_status s;
    memset(data, 0, sizeof data);
    tpath(t, "bad.npy", p, sizeof p);
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        len = make_npy(buf, 1, bad[k].dict, data, sizeof data);   /* (2, 3) float32 fits */
        write_bytes(p, buf, len);
        s = ks_npy_read(p, &shape, &n, &x, &e);
        CHECK_ERR(s, bad[k].code, e, p, bad[k].part);
        CHECK(x == NULL, "no output on error");
    }
    /* the file around the header */
    len = make_npy_simple(buf, 1, "<f4", "(2, 3)", data, sizeof data);
    for (size_t cut = 0; cut < len; cut++) {
        write_bytes(p, buf, cut);
        s = ks_npy_read(p, &shape, &n, &x, &e);
        CHECK(s == KS_ERR_CORRUPT && x == NULL && e.file[0], "npy cut at %zu: %s", cut, e.msg);
    }
    write_bytes(p, buf, len - 1);
    s = ks_npy_read(p, &shape, &n, &x, &e);
    snprintf(msg, sizeof msg, "truncated: the header promises 2 rows (%zu bytes), the file has %zu",
             len, len - 1);
    CHECK_ERR(s, KS_ERR_CORRUPT, e, p, msg);
    hl = buf[8];
    buf[8] = 0xff;      /* header length past the end */
    write_bytes(p, buf, len);
    s = ks_npy_read(p, &shape, &n, &x, &e);
    CHECK_ERR(s, KS_ERR_CORRUPT, e, p, "truncated: the .npy header is 255 bytes");
    buf[8] = hl;
    buf[6] = 9;
    write_bytes(p, buf, len);
    s = ks_npy_read(p, &shape, &n, &x, &e);
    CHECK_ERR(s, KS_ERR_CORRUPT, e, p, "version 9.0");
    buf[0] = 'N';
    write_bytes(p, buf, len);
    s = ks_npy_read(p, &shape, &n, &x, &e);
    CHECK_ERR(s, KS_ERR_CORRUPT, e, p, "bad magic");
    write_bytes(p, "PK\x03\x04zipzipzip", 13);
    s = ks_npy_read(p, &shape, &n, &x, &e);
    CHECK_ERR(s, KS_ERR_CONFIG, e, p, ".npz archive");
    /* non-finite values, and a float64 too large for float32 */
    {
        double v[6] = {0, 1, 2, 3, NAN, 5};
        encode("f4", v, data);
        len = make_npy_simple(buf, 1, "<f4", "(3, 2)", data, 24);
        write_bytes(p, buf, len);
        s = ks_npy_read(p, &shape, &n, &x, &e);
        /* bad input, as everywhere else (exit 2), naming the row and column */
        CHECK_ERR(s, KS_ERR_PARSE, e, p, "row 2, column 0 holds nan");
        v[4] = 1e300;
        encode("f8", v, buf + 200);
        len = make_npy_simple(buf, 1, "<f8", "(6,)", buf + 200, 48);
        write_bytes(p, buf, len);
        s = ks_npy_load(p, 1, 6, 1.0, &shape, &n, &x, &e);
        CHECK_ERR(s, KS_ERR_PARSE, e, p, "row 4, column 0 holds inf");
    }
    /* every header byte replaced by characters the parser cares about: no crash */
    {
        static const unsigned char subst[] = {0, '\'', '"', '(', ')', ',', ':', '{', '}', '9',
                                              'L', ' ', 0xff};
        unsigned char good[256];
        int ok = 0, failed_cleanly = 0, total = 0;
        memset(data, 0, sizeof data);
        len = make_npy_simple(good, 1, "<f4", "(2, 3)", data, sizeof data);
        for (size_t i = 6; i < len - sizeof data; i++)
            for (size_t j = 0; j < sizeof subst; j++) {
                memcpy(buf, good, len);
                buf[i] = subst[j];
                write_bytes(p, buf, len);
                s = ks_npy_read(p, &shape, &n, &x, &e);
                total++;
                if (s == KS_OK) {
                    ok += n * ks_shape_size(&shape) == 6;   /* 24 bytes of float32 */
                    free(x);
                } else {
                    failed_cleanly += x == NULL && e.msg[0] && strcmp(e.file, p) == 0;
                }
            }
        CHECK(ok + failed_cleanly == total, "mutated headers: %d ok, %d errors of %d", ok,
              failed_cleanly, total);
    }
}

/* ------------------------------------------------------------------- CSV */

/* Load text as a CSV with the given targets; returns the status. */
typedef struct csv_result {
    size_t n, xc, yc;
    float *x, *y;
    ks_error e;
    char path[128];
} csv_result;

static ks_status csv(const tmp *t, const char *text, const char *const *targets, char delim,
                     size_t begin, size_t end, double scale, csv_result *r)
{
    ks_csv_options opt = {targets, delim};
    tpath(t, "t.csv", r->path, sizeof r->path);
    write_text(r->path, text);
    return ks_csv_load(r->path, &opt, begin, end, scale, &r->n, &r->xc, &r->x, &r->yc, &r->y,
                       &r->e);
}

static void csv_free(csv_result *r)
{
    free(r->x);
    free(r->y);
    r->x = r->y = NULL;
}

static int floats_are(const float *got, const double *want, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (got[i] != (float)want[i])
            return 0;
    return 1;
}

static void test_csv_values(const tmp *t)
{
    static const char *const y[] = {"y", NULL}, *const db[] = {"d", "b", NULL},
                             *const none[] = {NULL}, *const q[] = {"say \"hi\"", NULL};
    csv_result r;
    ks_status s;
    s = csv(t, "a,b,y\n1,2,3\n4.5,-6e1,0\n", y, ',', 0, KS_ALL_ROWS, 2.0, &r);
    CHECK(s == KS_OK && r.n == 2 && r.xc == 2 && r.yc == 1, "csv basic: %s", r.e.msg);
    if (s == KS_OK) {
        CHECK(floats_are(r.x, (double[]){0.5, 1, 2.25, -30}, 4), "csv x scaled");
        CHECK(floats_are(r.y, (double[]){3, 0}, 2), "csv y not scaled");
    }
    csv_free(&r);
    s = csv(t, "a,b,c,d\n1,2,3,4\n5,6,7,8\n", db, ',', 0, KS_ALL_ROWS, 1.0, &r);
    CHECK(s == KS_OK && r.xc == 2 && r.yc == 2 && floats_are(r.y, (double[]){4, 2, 8, 6}, 4) &&
              floats_are(r.x, (double[]){1, 3, 5, 7}, 4),
          "csv targets in the order given: %s", r.e.msg);
    csv_free(&r);
    s = csv(t, "a,b\n1,2\n", none, ',', 0, KS_ALL_ROWS, 1.0, &r);
    CHECK(s == KS_OK && r.xc == 2 && r.yc == 0 && r.y == NULL, "csv without targets");
    csv_free(&r);
    s = csv(t, "a,b\n1,2\n", NULL, ',', 0, KS_ALL_ROWS, 1.0, &r);
    CHECK(s == KS_OK && r.xc == 2 && r.yc == 0, "csv with targets NULL");
    csv_free(&r);
    /* quoting, CRLF, spaces and tabs, a byte order mark, no final newline */
    s = csv(t,
            "\xEF\xBB\xBF\"a,1\" ,\"say \"\"hi\"\"\", c \r\n \"1.5\" ,\t2 ,  -3\r\n\"4\",\"5\",6",
            q, ',', 0, KS_ALL_ROWS, 1.0, &r);
    CHECK(s == KS_OK && r.n == 2 && r.xc == 2 && floats_are(r.x, (double[]){1.5, -3, 4, 6}, 4) &&
              floats_are(r.y, (double[]){2, 5}, 2),
          "csv quoting/CRLF: %s", r.e.msg);
    csv_free(&r);
    /* blank trailing lines, lone CR line ends */
    s = csv(t, "a,y\r1,2\r3,4\n\n  \r\n\t\n", y, ',', 0, KS_ALL_ROWS, 1.0, &r);
    CHECK(s == KS_OK && r.n == 2 && floats_are(r.x, (double[]){1, 3}, 2), "csv blank tail: %s",
          r.e.msg);
    csv_free(&r);
    /* other delimiters */
    s = csv(t, "a;y\n1,5;2\n", y, ';', 0, KS_ALL_ROWS, 1.0, &r);
    CHECK(s == KS_ERR_PARSE && r.e.col == 1, "csv ';': 1,5 is not a number");
    csv_free(&r);
    s = csv(t, "a;y\n1.5;2\n", y, ';', 0, KS_ALL_ROWS, 1.0, &r);
    CHECK(s == KS_OK && r.x[0] == 1.5f && r.y[0] == 2.0f, "csv ';': %s", r.e.msg);
    csv_free(&r);
    /* a delimiter byte past ASCII (the stream gives bytes 0..255, a char may be signed) */
    s = csv(t, "a\xA7y\n1.5\xA7" "2\n", y, '\xA7', 0, KS_ALL_ROWS, 1.0, &r);
    CHECK(s == KS_OK && r.x[0] == 1.5f && r.y[0] == 2.0f, "csv '\\xA7': %s", r.e.msg);
    csv_free(&r);
    s = csv(t, "a b\ty\n1 2\t3\n", y, '\t', 0, KS_ALL_ROWS, 1.0, &r);
    CHECK(s != KS_OK, "csv tab: \"1 2\" is not a number");
    csv_free(&r);
    s = csv(t, "a\ty\n 1\t2 \n", y, '\t', 0, KS_ALL_ROWS, 1.0, &r);
    CHECK(s == KS_OK && r.x[0] == 1.0f && r.y[0] == 2.0f, "csv tab: %s", r.e.msg);
    csv_free(&r);
    /* rows: a slice of the data rows (the header is not a row) */
    s = csv(t, "a,y\n0,0\n1,10\n2,20\n3,30\n4,40\n", y, ',', 1, 3, 1.0, &r);
    CHECK(s == KS_OK && r.n == 2 && floats_are(r.x, (double[]){1, 2}, 2) &&
              floats_are(r.y, (double[]){10, 20}, 2),
          "csv rows [1,3): %s", r.e.msg);
    csv_free(&r);
    s = csv(t, "a,y\n0,0\n1,10\n", y, ',', 2, 2, 1.0, &r);
    CHECK(s == KS_OK && r.n == 0 && r.x && r.y, "csv rows [2,2): %s", r.e.msg);
    csv_free(&r);
    /* a bigger table, every value checked */
    {
        char *text = malloc(1000 * 64 + 64), *w = text;
        int ok = 1;
        w += sprintf(w, "c0,c1,c2,c3,c4\n");
        for (int i = 0; i < 1000; i++) {
            for (int j = 0; j < 5; j++)
                w += sprintf(w, "%s%g", j ? "," : "", i * 0.25 - j);
            w += sprintf(w, "%s", i % 2 ? "\r\n" : "\n");
        }
        s = csv(t, text, (const char *const[]){"c2", NULL}, ',', 0, KS_ALL_ROWS, 4.0, &r);
        CHECK(s == KS_OK && r.n == 1000 && r.xc == 4, "csv 1000 rows: %s", r.e.msg);
        for (int i = 0; s == KS_OK && i < 1000; i++) {
            const int xcol[4] = {0, 1, 3, 4};
            for (int j = 0; j < 4; j++)
                ok &= r.x[i * 4 + j] == (float)((i * 0.25 - xcol[j]) / 4.0);
            ok &= r.y[i] == (float)(i * 0.25 - 2);
        }
        CHECK(ok, "csv 1000 rows: values");
        csv_free(&r);
        free(text);
    }
    /* .csv.gz */
    {
        char p[128];
        const char *text = "a,y\n1,2\n";
        ks_csv_options opt = {y, ','};
        write_gz(tpath(t, "t.csv.gz", p, sizeof p), text, strlen(text));
        s = ks_csv_load(p, &opt, 0, KS_ALL_ROWS, 1.0, &r.n, &r.xc, &r.x, &r.yc, &r.y, &r.e);
        CHECK(s == KS_OK && r.n == 1 && r.y[0] == 2.0f, "csv.gz: %s", r.e.msg);
        csv_free(&r);
    }
}

static void test_csv_errors(const tmp *t)
{
    static const char *const price[] = {"price", NULL};
    static const struct {
        const char *text;
        const char *target;
        ks_status code;
        int line, col;
        const char *msg;    /* the whole message, or a part of it when it starts with '~' */
    } bad[] = {
        {"id,qty,price\n1,2,3\n2,2,3\n3,2,3\n4,2,3\n5,2,3\n6,1,abc\n", "price", KS_ERR_PARSE, 7,
         3, "cell \"abc\" in column \"price\" is not a number"},
        {"a,\"b\nc\",y\n1,2,3\n1,x,2\n", "y", KS_ERR_PARSE, 4, 2,
         "cell \"x\" in column \"b\\nc\" is not a number; a column of categories is read as "
         "text (data: text: [b\\nc]) into an Input of dtype string and a StringLookup"},
        {"a,y\n1,\"2\n\"\n", "y", KS_ERR_PARSE, 2, 2, "~cell \"2?\" in column \"y\""},
        {"a,y\nnan,1\n", "y", KS_ERR_PARSE, 2, 1, "~\"nan\""},
        {"a,y\n1,inf\n", "y", KS_ERR_PARSE, 2, 2, "~\"inf\""},
        {"a,y\n1,-Infinity\n", "y", KS_ERR_PARSE, 2, 2, "~not a number"},
        {"a,y\n0x10,1\n", "y", KS_ERR_PARSE, 2, 1, "~not a number"},
        {"a,y\n1e999,1\n", "y", KS_ERR_PARSE, 2, 1, "~not a number"},
        {"a,y\n1e39,1\n", "y", KS_ERR_PARSE, 2, 1, "~too large for float32"},
        {"a,y\n1.5.2,1\n", "y", KS_ERR_PARSE, 2, 1, "~not a number"},
        {"a,y\n--1,1\n", "y", KS_ERR_PARSE, 2, 1, "~not a number"},
        {"a,y\n1e,1\n", "y", KS_ERR_PARSE, 2, 1, "~not a number"},
        {"a,y\n1,2\n,1\n", "y", KS_ERR_PARSE, 3, 1,
         "empty cell in column \"a\"; expected a number"},
        {"a,y\n1,  \n", "y", KS_ERR_PARSE, 2, 2, "~empty cell in column \"y\""},
        {"a,b,y\n1,2,3\n3,4\n", "y", KS_ERR_PARSE, 3, 3, "this row has 2 cells, the header has 3"},
        {"a,b,y\n1\n", "y", KS_ERR_PARSE, 2, 2, "this row has 1 cell, the header has 3"},
        {"a,y\n1,2,3\n", "y", KS_ERR_PARSE, 2, 3, "this row has more than the header's 2 cells"},
        {"a,y\n1,2\n\n3,4\n", "y", KS_ERR_PARSE, 3, 1, "~blank line among the data rows"},
        {"a,y\n1,\"2\n3,4\n", "y", KS_ERR_PARSE, 2, 2, "a quoted cell has no closing quote"},
        {"a,y\n\"1\"x,2\n", "y", KS_ERR_PARSE, 2, 1, "~unexpected 'x' after a quoted cell"},
        {"", "y", KS_ERR_PARSE, 0, 0, "~the file is empty"},
        {" \n\n", "y", KS_ERR_PARSE, 0, 0, "~the file is empty"},
        {"\na,y\n1,2\n", "y", KS_ERR_PARSE, 1, 1, "~the first line is blank"},
        {"a,y\n", "y", KS_ERR_PARSE, 0, 0, "the file has a header but no data rows"},
        {"a,y\r\n\r\n", "y", KS_ERR_PARSE, 0, 0, "~no data rows"},
        {",a,y\n0,1,2\n", "y", KS_ERR_PARSE, 1, 1, "~column 1 has no name"},
        {"id,qty,price\n1,2,3\n", "prise", KS_ERR_CONFIG, 0, 0,
         "no column named \"prise\" (did you mean \"price\"?); the columns are id, qty, price"},
        {"id,qty,price\n1,2,3\n", "zzzzzzz", KS_ERR_CONFIG, 0, 0,
         "no column named \"zzzzzzz\"; the columns are id, qty, price"},
        {"y,y,a\n1,2,3\n", "y", KS_ERR_CONFIG, 0, 0, "~names 2 columns \"y\""},
        {"y\n1\n", "y", KS_ERR_CONFIG, 0, 0, "~every column is a target"},
    };
    csv_result r;
    ks_status s;
    char line[1024], want[1024];
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        const char *const tg[] = {bad[k].target, NULL};
        s = csv(t, bad[k].text, tg, ',', 0, KS_ALL_ROWS, 1.0, &r);
        CHECK(s == bad[k].code, "csv case %zu: status %s: %s", k, ks_status_str(s), r.e.msg);
        CHECK(r.x == NULL && r.y == NULL && r.n == 0, "csv case %zu: outputs cleared", k);
        if (s == KS_OK) {
            csv_free(&r);
            continue;
        }
        CHECK(strcmp(r.e.file, r.path) == 0, "csv case %zu: file %s", k, r.e.file);
        CHECK(r.e.line == bad[k].line && r.e.col == bad[k].col, "csv case %zu: at %d:%d", k,
              r.e.line, r.e.col);
        if (bad[k].msg[0] == '~')
            CHECK(contains(r.e.msg, bad[k].msg + 1), "csv case %zu: \"%s\"", k, r.e.msg);
        else
            CHECK(strcmp(r.e.msg, bad[k].msg) == 0, "csv case %zu: \"%s\"", k, r.e.msg);
    }
    /* a wide file: the columns listed within a bounded message, how many more, the nearest */
    {
        char text[2048], *q = text;
        const char *const wrong[] = {"target_valeu", NULL}, *const far[] = {"label", NULL};
        for (int c = 0; c < 39; c++)
            q += sprintf(q, "feature_%02d,", c);
        q += sprintf(q, "target_value\n");
        for (int c = 0; c < 40; c++)
            q += sprintf(q, "%d%s", c, c < 39 ? "," : "\n");
        s = csv(t, text, wrong, ',', 0, KS_ALL_ROWS, 1.0, &r);
        CHECK(s == KS_ERR_CONFIG &&
                  contains(r.e.msg, "no column named \"target_valeu\" (did you mean "
                                    "\"target_value\"?); the 40 columns are feature_00, "
                                    "feature_01, ") &&
                  contains(r.e.msg, " more, the last target_value") && strlen(r.e.msg) < 320,
              "a wrong target in a wide file: \"%s\"", r.e.msg);
        s = csv(t, text, far, ',', 0, KS_ALL_ROWS, 1.0, &r);
        CHECK(s == KS_ERR_CONFIG && contains(r.e.msg, "no column named \"label\"; the 40 columns") &&
                  contains(r.e.msg, " more, the last target_value") && strlen(r.e.msg) < 320,
              "a target like no column: \"%s\"", r.e.msg);
    }
    /* as a user sees it */
    csv(t, bad[0].text, price, ',', 0, KS_ALL_ROWS, 1.0, &r);
    snprintf(want, sizeof want, "%s:7:3: cell \"abc\" in column \"price\" is not a number", r.path);
    CHECK(strcmp(ks_error_format(&r.e, line, sizeof line), want) == 0, "formatted: %s", line);
    /* a NUL byte in a cell */
    {
        static const char nul[] = "price,a\n1\0002,3\n";
        char p[128];
        ks_csv_options opt = {price, ','};
        write_bytes(tpath(t, "nul.csv", p, sizeof p), nul, sizeof nul - 1);
        s = ks_csv_load(p, &opt, 0, KS_ALL_ROWS, 1.0, &r.n, &r.xc, &r.x, &r.yc, &r.y, &r.e);
        CHECK_ERR(s, KS_ERR_PARSE, r.e, p, "a NUL byte");
    }
    s = csv(t, "a,y\n0,0\n1,10\n", price + 1, ',', 1, 3, 1.0, &r);
    CHECK_ERR(s, KS_ERR_CONFIG, r.e, r.path, "rows [1, 3) are outside the file's 2 rows");
    s = csv(t, "a,y\n0,0\n", (const char *const[]){"y", "y", NULL}, ',', 0, KS_ALL_ROWS, 1, &r);
    CHECK_ERR(s, KS_ERR_CONFIG, r.e, r.path, "target \"y\" is listed twice");
    s = csv(t, "a,y\n0,0\n", price + 1, '"', 0, KS_ALL_ROWS, 1, &r);
    CHECK(s == KS_ERR_CONFIG && contains(r.e.msg, "delimiter"), "delimiter '\"'");
    tpath(t, "missing.csv", want, sizeof want);
    s = ks_csv_load(want, NULL, 0, KS_ALL_ROWS, 1.0, &r.n, &r.xc, &r.x, &r.yc, &r.y, &r.e);
    CHECK_ERR(s, KS_ERR_IO, r.e, want, "cannot open");
    /* every prefix of a tricky file loads or fails cleanly */
    {
        const char *text = "\"a\n\"\"\",b,y\r\n\"1\", 2 ,3\n\"4\",5,6\r\n7,8,9\n\n";
        size_t len = strlen(text);
        int clean = 0;
        s = csv(t, text, (const char *const[]){"y", NULL}, ',', 0, KS_ALL_ROWS, 1.0, &r);
        CHECK(s == KS_OK && r.n == 3 && r.x[5] == 8.0f, "tricky csv: %s", r.e.msg);
        csv_free(&r);
        for (size_t cut = 0; cut <= len; cut++) {
            char *part = strndup(text, cut);
            s = csv(t, part, (const char *const[]){"y", NULL}, ',', 0, KS_ALL_ROWS, 1.0, &r);
            clean += s == KS_OK ? r.x != NULL : (r.x == NULL && r.e.msg[0] != '\0');
            csv_free(&r);
            free(part);
        }
        CHECK(clean == (int)len + 1, "csv prefixes: %d of %zu clean", clean, len + 1);
    }
}

/* --------------------------------------------------------------- datasets */

/* {csv: FILE, target: TARGET} plus the caller's extra members. */
static ks_value csv_spec(const char *file, const char *target)
{
    ks_value v;
    ks_value_init(&v, KS_VALUE_MAP);
    ks_value_set_string(ks_value_put(&v, "csv", KS_VALUE_NULL), file);
    if (target)
        ks_value_set_string(ks_value_put(&v, "target", KS_VALUE_NULL), target);
    return v;
}

static void put_rows(ks_value *spec, double begin, double end)
{
    ks_value *r = ks_value_put(spec, "rows", KS_VALUE_LIST);
    ks_value_push(r, KS_VALUE_NUMBER)->number = begin;
    ks_value_push(r, KS_VALUE_NUMBER)->number = end;
}

static void test_dataset(const tmp *t)
{
    ks_dataset *ds;
    ks_data d;
    ks_error e;
    ks_value spec;
    ks_status s;
    char p[128], line[1024];
    write_text(tpath(t, "cls.csv", p, sizeof p), "f1,label,f2\n1,0,10\n2,2,20\n3,1,30\n4,2,40\n");
    write_text(tpath(t, "reg.csv", p, sizeof p), "f1,t1,t2\n1,0.5,7\n2,1,8\n");

    spec = csv_spec("cls.csv", "label");            /* relative to base_dir */
    s = ks_dataset_load(&spec, t->dir, &ds, &e);
    CHECK(s == KS_OK, "dataset csv: %s", e.msg);
    if (s == KS_OK) {
        d = ks_dataset_data(ds);
        CHECK(d.n == 4 && d.x_size == 2 && d.x_shape.ndim == 1 && d.x_shape.dim[0] == 2 &&
                  d.y_size == 1 && d.y_is_label && d.n_classes == 3,
              "dataset csv: n %zu y_is_label %d n_classes %d", d.n, d.y_is_label, d.n_classes);
        CHECK(floats_are(d.x, (double[]){1, 10, 2, 20, 3, 30, 4, 40}, 8) &&
                  floats_are(d.y, (double[]){0, 2, 1, 2}, 4),
              "dataset csv values");
        ks_dataset_free(ds);
    }
    ks_value_put(&spec, "one_hot", KS_VALUE_BOOL)->boolean = 1;
    put_rows(&spec, 1, 3);
    ks_value_put(&spec, "scale", KS_VALUE_NUMBER)->number = 10;
    s = ks_dataset_load(&spec, t->dir, &ds, &e);
    CHECK(s == KS_OK, "dataset one_hot: %s", e.msg);
    if (s == KS_OK) {
        d = ks_dataset_data(ds);
        /* rows 1, 2 have labels 2, 1; the classes seen in them are 0..2 */
        CHECK(d.n == 2 && d.y_size == 3 && !d.y_is_label, "one_hot y_size %zu", d.y_size);
        CHECK(floats_are(d.y, (double[]){0, 0, 1, 0, 1, 0}, 6), "one_hot values");
        CHECK(floats_are(d.x, (double[]){0.2, 2, 0.3, 3}, 4), "rows and scale on x");
        ks_dataset_free(ds);
    }
    ks_value_free(&spec);

    spec = csv_spec("reg.csv", "t1");
    s = ks_dataset_load(&spec, t->dir, &ds, &e);
    CHECK(s == KS_OK && !ks_dataset_data(ds).y_is_label, "fractional target: not labels");
    ks_dataset_free(ds);
    ks_value_free(&spec);
    spec = csv_spec("reg.csv", NULL);
    {
        ks_value *l = ks_value_put(&spec, "target", KS_VALUE_LIST);
        ks_value_set_string(ks_value_push(l, KS_VALUE_NULL), "t2");
        ks_value_set_string(ks_value_push(l, KS_VALUE_NULL), "t1");
    }
    s = ks_dataset_load(&spec, t->dir, &ds, &e);
    CHECK(s == KS_OK, "target list: %s", e.msg);
    if (s == KS_OK) {
        d = ks_dataset_data(ds);
        CHECK(d.y_size == 2 && d.x_size == 1 && floats_are(d.y, (double[]){7, 0.5, 8, 1}, 4),
              "target list values");
        ks_dataset_free(ds);
    }
    ks_value_free(&spec);

    spec = csv_spec("reg.csv", "t3");
    s = ks_dataset_load(&spec, t->dir, &ds, &e);
    CHECK(s == KS_ERR_CONFIG && contains(e.msg, "did you mean \"t1\"") && ds == NULL,
          "dataset unknown target: %s", e.msg);
    ks_value_free(&spec);
    spec = csv_spec("nope.csv", "y");
    s = ks_dataset_load(&spec, t->dir, &ds, &e);
    tpath(t, "nope.csv", p, sizeof p);
    CHECK(s == KS_ERR_IO && contains(ks_error_format(&e, line, sizeof line), p),
          "missing file: %s", line);
    ks_value_free(&spec);

    /* npy: x (4, 2, 3) float32 and y (4,) uint8 labels */
    {
        unsigned char data[96], buf[512], lab[4] = {3, 0, 1, 3};
        char px[128], py[128];
        ks_value *m;
        for (int i = 0; i < 24; i++) {
            float f = (float)i;
            uint32_t u;
            memcpy(&u, &f, 4);
            put_le(data + 4 * i, u, 4);
        }
        write_bytes(tpath(t, "x.npy", px, sizeof px), buf,
                    make_npy_simple(buf, 1, "<f4", "(4, 2, 3)", data, 96));
        write_bytes(tpath(t, "y.npy", py, sizeof py), buf,
                    make_npy_simple(buf, 1, "|u1", "(4,)", lab, 4));
        ks_value_init(&spec, KS_VALUE_MAP);
        m = ks_value_put(&spec, "npy", KS_VALUE_MAP);
        ks_value_set_string(ks_value_put(m, "x", KS_VALUE_NULL), px);
        ks_value_set_string(ks_value_put(m, "y", KS_VALUE_NULL), "y.npy");
        ks_value_put(&spec, "scale", KS_VALUE_NUMBER)->number = 4;
        s = ks_dataset_load(&spec, t->dir, &ds, &e);
        CHECK(s == KS_OK, "dataset npy: %s", e.msg);
        if (s == KS_OK) {
            d = ks_dataset_data(ds);
            CHECK(d.n == 4 && d.x_shape.ndim == 2 && d.x_shape.dim[1] == 3 && d.x_size == 6 &&
                      d.y_size == 1 && d.y_is_label && d.n_classes == 4 && d.x[23] == 23 / 4.0f &&
                      d.y[0] == 3.0f,
                  "dataset npy: n %zu classes %d", d.n, d.n_classes);
            ks_dataset_free(ds);
        }
        ks_value_free(&spec);
    }
    /* idx by prefix: PREFIX-images-idx3-ubyte.gz and PREFIX-labels-idx1-ubyte */
    {
        unsigned char buf[256], pix[2 * 2 * 2] = {0, 51, 102, 153, 204, 255, 1, 2}, lab[2] = {7, 1};
        uint32_t di[3] = {2, 2, 2}, dl[1] = {2};
        write_gz(tpath(t, "mini-images-idx3-ubyte.gz", p, sizeof p), buf,
                 make_idx(buf, 0x08, 3, di, pix, 8));
        write_bytes(tpath(t, "mini-labels-idx1-ubyte", p, sizeof p), buf,
                    make_idx(buf, 0x08, 1, dl, lab, 2));
        ks_value_init(&spec, KS_VALUE_MAP);
        ks_value_set_string(ks_value_put(&spec, "idx", KS_VALUE_NULL), "mini");
        ks_value_put(&spec, "scale", KS_VALUE_NUMBER)->number = 255;
        s = ks_dataset_load(&spec, t->dir, &ds, &e);
        CHECK(s == KS_OK, "dataset idx prefix: %s", e.msg);
        if (s == KS_OK) {
            d = ks_dataset_data(ds);
            CHECK(d.n == 2 && d.x_size == 4 && d.y_is_label && d.n_classes == 8 &&
                      d.y[0] == 7.0f && near(d.x[1], 0.2f) && d.x[5] == 1.0f,
                  "dataset idx prefix values");
            ks_dataset_free(ds);
        }
        ks_value_free(&spec);
    }
}

/* The real Fashion-MNIST test set, checked against its raw bytes. */
static void test_fashion_mnist(void)
{
    const char *prefix = "/usr/share/datasets/fashion-mnist/t10k";
    const char *labels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    const char *images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    unsigned char raw_lab[8 + 10000], raw_img[16 + 784];
    int counts[10] = {0}, in_range = 1, balanced = 1, same = 1;
    ks_dataset *ds;
    ks_value spec;
    ks_error e;
    ks_status s;
    gzFile f;
    if (access(labels, R_OK) != 0 || access(images, R_OK) != 0) {
        SKIP("Fashion-MNIST test: %s-* not found (make deps installs it)", prefix);
        return;
    }
    f = gzopen(labels, "rb");
    CHECK(f && gzread(f, raw_lab, sizeof raw_lab) == (int)sizeof raw_lab, "raw labels");
    gzclose(f);
    f = gzopen(images, "rb");
    CHECK(f && gzread(f, raw_img, sizeof raw_img) == (int)sizeof raw_img, "raw images");
    gzclose(f);
    ks_value_init(&spec, KS_VALUE_MAP);
    ks_value_set_string(ks_value_put(&spec, "idx", KS_VALUE_NULL), prefix);
    ks_value_put(&spec, "scale", KS_VALUE_NUMBER)->number = 255;
    s = ks_dataset_load(&spec, NULL, &ds, &e);
    CHECK(s == KS_OK, "fashion-mnist: %s", e.msg);
    if (s == KS_OK) {
        ks_data d = ks_dataset_data(ds);
        CHECK(d.n == 10000 && d.x_shape.ndim == 2 && d.x_shape.dim[0] == 28 &&
                  d.x_shape.dim[1] == 28 && d.x_size == 784 && d.y_size == 1 && d.y_is_label &&
                  d.n_classes == 10,
              "fashion-mnist shapes");
        for (size_t i = 0; i < d.n; i++) {
            in_range &= d.y[i] >= 0 && d.y[i] <= 9 && d.y[i] == raw_lab[8 + i];
            if (d.y[i] >= 0 && d.y[i] <= 9)
                counts[(int)d.y[i]]++;
        }
        for (int c = 0; c < 10; c++)
            balanced &= counts[c] == 1000;      /* the test set has 1000 of each class */
        for (int i = 0; i < 784; i++)
            same &= near(d.x[i], (float)(raw_img[16 + i] / 255.0));
        CHECK(in_range && balanced, "fashion-mnist labels");
        CHECK(d.y[0] == raw_lab[8] && raw_lab[8] == 9, "first label %g (ankle boot: 9)", d.y[0]);
        CHECK(same, "fashion-mnist first image");
        ks_dataset_free(ds);
    }
    ks_value_free(&spec);
}

/* ------------------------------------------------------------ named arrays */

/* Load a data entry given as YAML text, with base directory t->dir. */
static ks_status load_yaml(const tmp *t, const char *yaml, ks_dataset **ds, ks_error *e)
{
    ks_value v;
    ks_status s = ks_yaml_load_text(yaml, "d.yaml", &v, e);
    *ds = NULL;
    if (s == KS_OK)
        s = ks_dataset_load(&v, t->dir, ds, e);
    ks_value_free(&v);
    return s;
}

static const ks_array *array_named(const ks_array *a, int n, const char *name)
{
    for (int k = 0; k < n; k++)
        if (a[k].name && strcmp(a[k].name, name) == 0)
            return &a[k];
    return NULL;
}

static void expect_data_error(const tmp *t, const char *yaml, int line, int col,
                              const char *needle, const char *why)
{
    ks_dataset *ds;
    ks_error e;
    ks_error_clear(&e);
    CHECK(load_yaml(t, yaml, &ds, &e) != KS_OK, "%s: loaded, expected an error", why);
    CHECK(e.line == line && e.col == col, "%s: at %d:%d, expected %d:%d (%s)", why, e.line, e.col,
          line, col, e.msg);
    CHECK(strstr(e.msg, needle) != NULL, "%s: \"%s\" lacks \"%s\"", why, e.msg, needle);
    ks_dataset_free(ds);
}

static void test_named(const tmp *t)
{
    char p[256];
    ks_dataset *ds;
    ks_error e;
    const ks_array *a;
    write_text(tpath(t, "wd.csv", p, sizeof p),
               "a,b,c,y,z\n1,2,3,10,0\n4,5,6,20,2\n7,8,9,30,1\n10,11,12,40,2\n");
    /* CSV columns grouped per input (overlapping), targets per output, rows and scale */
    REQUIRE(load_yaml(t, "{csv: wd.csv, rows: [1, 4], scale: 2,"
                         " inputs: {wide: [a, b], deep: [b, c]},"
                         " targets: {main: y, aux: {from: z, one_hot: true, num_classes: 3}}}",
                      &ds, &e) == KS_OK,
            "csv groups: %s", e.msg);
    {
        ks_data d = ks_dataset_data(ds);
        static const double wide[] = {2, 2.5, 3.5, 4, 5, 5.5}, deep[] = {2.5, 3, 4, 4.5, 5.5, 6};
        static const double y[] = {20, 30, 40}, aux[] = {0, 0, 1, 0, 1, 0, 0, 0, 1};
        CHECK(d.n == 3 && d.n_inputs == 2 && d.n_targets == 2, "3 rows, 2 + 2 arrays");
        a = array_named(d.inputs, d.n_inputs, "wide");
        CHECK(a && a->size == 2 && a->shape.ndim == 1 && floats_are(a->data, wide, 6), "wide");
        a = array_named(d.inputs, d.n_inputs, "deep");
        CHECK(a && floats_are(a->data, deep, 6), "deep shares column b");
        a = array_named(d.targets, d.n_targets, "main");
        CHECK(a && a->size == 1 && a->is_label && floats_are(a->data, y, 3),
              "main: targets unscaled (integral: class indices)");
        a = array_named(d.targets, d.n_targets, "aux");
        CHECK(a && a->size == 3 && !a->is_label && floats_are(a->data, aux, 9), "aux one-hot");
        {
            /* slices keep the rows of every array together */
            ks_data sl = ks_data_slice(&d, 1, 3);
            a = array_named(sl.inputs, sl.n_inputs, "deep");
            CHECK(sl.n == 2 && a && a->data[0] == 4.0f && sl.targets[0].data[0] == 30.0f,
                  "a slice of named arrays");
        }
        CHECK(d.x == d.inputs[0].data && d.y == d.targets[0].data, "x and y mirror the first");
        ks_dataset_free(ds);
    }
    /* targets named, inputs by default: every column no target uses, one unnamed array */
    REQUIRE(load_yaml(t, "{csv: wd.csv, targets: {out: [y, z]}}", &ds, &e) == KS_OK,
            "default inputs: %s", e.msg);
    {
        ks_data d = ks_dataset_data(ds);
        CHECK(d.n_inputs == 1 && d.inputs[0].name == NULL && d.inputs[0].size == 3 &&
                  d.inputs[0].data[3] == 4.0f && d.targets[0].size == 2,
              "default inputs a, b, c");
        ks_dataset_free(ds);
    }
    /* IDX images as one input; the labels twice, once through a class map */
    {
        unsigned char buf[256], img[16], lab[4] = {0, 1, 2, 3};
        uint32_t dims[3] = {4, 2, 2};
        size_t len;
        for (int i = 0; i < 16; i++)
            img[i] = (unsigned char)(i * 10);
        len = make_idx(buf, 0x08, 3, dims, img, 16);
        write_bytes(tpath(t, "set-images-idx3-ubyte", p, sizeof p), buf, len);
        len = make_idx(buf, 0x08, 1, dims, lab, 4);
        write_bytes(tpath(t, "set-labels-idx1-ubyte", p, sizeof p), buf, len);
        REQUIRE(load_yaml(t, "{idx: set, scale: 10, inputs: {pixels: images},"
                             " targets: {fine: labels, coarse: {from: labels, map: [0, 0, 1, 1]}}}",
                          &ds, &e) == KS_OK,
                "idx: %s", e.msg);
        {
            ks_data d = ks_dataset_data(ds);
            static const double coarse[] = {0, 0, 1, 1};
            a = array_named(d.inputs, d.n_inputs, "pixels");
            CHECK(a && a->shape.ndim == 2 && a->size == 4 && a->data[5] == 5.0f, "pixels");
            a = array_named(d.targets, d.n_targets, "coarse");
            CHECK(a && a->is_label && a->n_classes == 2 && floats_are(a->data, coarse, 4),
                  "coarse labels");
            a = array_named(d.targets, d.n_targets, "fine");
            CHECK(a && a->is_label && a->n_classes == 4, "fine labels");
            ks_dataset_free(ds);
        }
    }
    /* .npy files by name */
    {
        unsigned char buf[512];
        float xa[6] = {1, 2, 3, 4, 5, 6}, xb[3] = {7, 8, 9}, y[3] = {1, 0, 1};
        size_t len = make_npy_simple(buf, 1, "<f4", "(3, 2)", xa, sizeof xa);
        write_bytes(tpath(t, "xa.npy", p, sizeof p), buf, len);
        len = make_npy_simple(buf, 1, "<f4", "(3,)", xb, sizeof xb);
        write_bytes(tpath(t, "xb.npy", p, sizeof p), buf, len);
        len = make_npy_simple(buf, 1, "<f4", "(3,)", y, sizeof y);
        write_bytes(tpath(t, "y.npy", p, sizeof p), buf, len);
        len = make_npy_simple(buf, 1, "<f4", "(2,)", y, 8);
        write_bytes(tpath(t, "short.npy", p, sizeof p), buf, len);
        REQUIRE(load_yaml(t, "{npy: {xa: xa.npy, xb: xb.npy, t: y.npy},"
                             " inputs: {a: xa, b: xb}, targets: {out: t}}",
                          &ds, &e) == KS_OK,
                "npy: %s", e.msg);
        {
            ks_data d = ks_dataset_data(ds);
            CHECK(d.n == 3 && d.inputs[0].size == 2 && d.inputs[1].size == 1 &&
                      d.inputs[1].data[2] == 9.0f && d.targets[0].is_label,
                  "npy arrays");
            ks_dataset_free(ds);
        }
        expect_data_error(t, "{npy: {xa: xa.npy, s: short.npy}, inputs: {a: xa, b: s}}", 1, 54,
                          "has 2 rows but xa has 3", "arrays of different lengths");
        expect_data_error(t, "{npy: {xa: xa.npy}, inputs: {a: xb}}", 1, 33,
                          "npy names no file \"xb\" (did you mean \"xa\"?)", "an unknown file");
    }
    expect_data_error(t, "{csv: wd.csv, inputs: {wide: [a, bb]}, targets: {y: y}}", 1, 34,
                      "has no column \"bb\" (did you mean \"b\"?)", "an unknown column");
    expect_data_error(t, "{csv: wd.csv, target: y, inputs: {wide: [a]}}", 1, 23,
                      "with inputs or targets, target goes with each target",
                      "target beside inputs");
    expect_data_error(t, "{csv: wd.csv, inputs: {w: {from: a, one_hot: true}}}", 1, 27,
                      "one_hot and num_classes are for targets", "one_hot on an input");
    expect_data_error(t, "{csv: wd.csv, inputs: {w: [a]}, targets: {t: {from: z, map: [1, 0]}}}",
                      1, 61, "row 1 holds 2, which map (of 2 classes) does not cover",
                      "a map too short");
    expect_data_error(t, "{idx: set, inputs: {x: pictures}}", 1, 24,
                      "an IDX prefix holds the arrays images and labels", "an idx array name");
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char p[512];
    while (d && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(dir);
}

int main(void)
{
    tmp t;
    snprintf(t.dir, sizeof t.dir, "/tmp/ks_test_data.XXXXXX");
    if (!mkdtemp(t.dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_idx(&t);
    test_npy_dtypes(&t);
    test_npy_shapes(&t);
    test_npy_errors(&t);
    test_csv_values(&t);
    test_csv_errors(&t);
    test_dataset(&t);
    test_named(&t);
    test_fashion_mnist();
    remove_dir(t.dir);
    return check_done();
}
