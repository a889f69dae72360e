/*
 * test_data_stream.c — reading compressed files without trusting them: every reader of
 * a .gz (IDX, NPY, CSV, model and ensemble files) checks the header before inflating,
 * and inflates only what the header promises.  Small files that inflate to 256 MiB of
 * zeros after a header promising a few bytes must fail fast with little memory.
 */
#include "../engine/engine_impl.h"
#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#define BOMB_MIB 256        /* zeros after the header, once inflated */
#define MAX_GROWTH_MIB 48   /* what a reader may add to the peak resident size */

static char tmpdir[64] = "/tmp/ks_test_stream.XXXXXX";

/* name in the test's own directory */
static const char *tpath(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
    return buf;
}

/* One gzip member holding data (len bytes) into out (capacity cap); returns its size. */
static size_t gz_member(const void *data, size_t len, unsigned char *out, size_t cap)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK)
        exit(2);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END)
        exit(2);
    deflateEnd(&z);
    return cap - z.avail_out;
}

/*
 * A .gz file of concatenated members (as gzip -c a b > c makes, and as zlib reads):
 * head, then mib members of 1 MiB of zeros each.  The file is a few hundred KiB.
 */
static void write_bomb(const char *path, const void *head, size_t head_len, int mib)
{
    size_t cap = 1 << 20, n;
    unsigned char *zeros = calloc(1, 1 << 20), *member = malloc(cap);
    FILE *f = fopen(path, "wb");
    if (!zeros || !member || !f)
        exit(2);
    n = gz_member(head, head_len, member, cap);
    if (fwrite(member, 1, n, f) != n)
        exit(2);
    n = gz_member(zeros, 1 << 20, member, cap);
    for (int i = 0; i < mib; i++)
        if (fwrite(member, 1, n, f) != n)
            exit(2);
    fclose(f);
    free(zeros);
    free(member);
}

typedef ks_status (*load_fn)(const char *path, ks_error *err);

/* An IDX or (by its name) NPY file, all rows. */
static ks_status load_array(const char *path, ks_error *err)
{
    ks_shape shape;
    size_t n;
    float *x = NULL;
    ks_status s = strstr(path, ".npy")
                      ? ks_npy_load(path, 0, KS_ALL_ROWS, 1.0, &shape, &n, &x, err)
                      : ks_idx_load(path, 0, KS_ALL_ROWS, 1.0, &shape, &n, &x, err);
    free(x);
    return s;
}

static ks_status load_csv(const char *path, ks_error *err)
{
    static const char *const targets[] = {"y", NULL};
    ks_csv_options opt = {targets, ','};
    size_t n, xc, yc;
    float *x = NULL, *y = NULL;
    ks_status s = ks_csv_load(path, &opt, 0, KS_ALL_ROWS, 1.0, &n, &xc, &x, &yc, &y, err);
    free(x);
    free(y);
    return s;
}

static ks_status load_model(const char *path, ks_error *err)
{
    ks_model *m = NULL;
    ks_status s = ks_model_load(path, &m, NULL, err);
    ks_model_free(m);
    return s;
}

static ks_status load_ensemble(const char *path, ks_error *err)
{
    ks_ensemble *e = NULL;
    ks_status s = ks_ensemble_load(path, &e, err);
    ks_ensemble_free(e);
    return s;
}

static long peak_kib(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return u.ru_maxrss;
}

/*
 * In a child process (whose peak resident size starts at its size when forked): load
 * small, a file of the same kind that inflates to 1 MiB past its header (so that the
 * code and whatever runs it, valgrind included, are warmed up), then path, which
 * inflates to BOMB_MIB.  That load must fail with code and a message holding part,
 * raising the child's peak by MAX_GROWTH_MIB at most (the old readers inflated the
 * whole BOMB_MIB before looking at the header).
 */
static void expect_small(const char *what, load_fn load, const char *small, const char *path,
                         ks_status code, const char *part)
{
    int fd[2], status = 0;
    long growth = -1;
    char msg[700] = "";
    ssize_t got;
    pid_t pid;
    if (pipe(fd) != 0 || (pid = fork()) < 0) {
        CHECK(0, "%s: cannot fork", what);
        return;
    }
    if (pid == 0) {
        ks_error err;
        ks_status s;
        long before;
        close(fd[0]);
        memset(&err, 0, sizeof err);
        load(small, &err);
        before = peak_kib();
        s = load(path, &err);
        snprintf(msg, sizeof msg, "%ld %d %s", peak_kib() - before, (int)s, err.msg);
        if (write(fd[1], msg, strlen(msg)) < 0)
            _exit(3);
        _exit(0);
    }
    close(fd[1]);
    got = read(fd[0], msg, sizeof msg - 1);
    msg[got > 0 ? got : 0] = '\0';
    close(fd[0]);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s: the child died (status %d)", what,
          status);
    {
        char *rest = NULL;
        int st;
        growth = strtol(msg, &rest, 10);
        st = (int)strtol(rest, &rest, 10);
        rest += *rest == ' ';
        CHECK(st == (int)code && strstr(rest, part), "%s: expected %s with \"%s\", got %d: %s",
              what, ks_status_str(code), part, st, rest);
    }
    CHECK(growth >= 0 && growth < MAX_GROWTH_MIB * 1024L,
          "%s: the peak resident size grew by %ld MiB (at most %d): the reader inflated what "
          "the header did not promise",
          what, growth / 1024, MAX_GROWTH_MIB);
}

static void test_bombs(void)
{
    char p[128], q[128];
    /* IDX: one 28×28 image, then 256 MiB */
    {
        unsigned char h[16 + 784] = {0, 0, 0x08, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28};
        write_bomb(tpath("small-idx3-ubyte.gz", q, sizeof q), h, sizeof h, 1);
        write_bomb(tpath("bomb-idx3-ubyte.gz", p, sizeof p), h, sizeof h, BOMB_MIB);
        expect_small("IDX", load_array, q, p, KS_ERR_CORRUPT, "bytes follow the array's 1 rows");
    }
    /* NPY: shape (1, 4) float32, then 256 MiB */
    {
        char h[128 + 16];
        const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 4), }";
        size_t hlen = 118;      /* 10 + 118 = 128 */
        memcpy(h, "\x93NUMPY\x01\x00", 8);
        h[8] = (char)hlen;
        h[9] = 0;
        memset(h + 10, ' ', hlen);
        memcpy(h + 10, dict, strlen(dict));
        h[10 + hlen - 1] = '\n';
        memset(h + 128, 0, 16);
        write_bomb(tpath("small.npy.gz", q, sizeof q), h, sizeof h, 1);
        write_bomb(tpath("bomb.npy.gz", p, sizeof p), h, sizeof h, BOMB_MIB);
        expect_small("NPY", load_array, q, p, KS_ERR_CORRUPT, "bytes follow the array's 1 rows");
    }
    /* CSV: a header and a row, then NUL bytes */
    {
        static const char h[] = "x,y\n1,2\n";
        write_bomb(tpath("small.csv.gz", q, sizeof q), h, sizeof h - 1, 1);
        write_bomb(tpath("bomb.csv.gz", p, sizeof p), h, sizeof h - 1, BOMB_MIB);
        expect_small("CSV", load_csv, q, p, KS_ERR_PARSE, "a NUL byte");
    }
    /* a model file whose size field says 100 bytes, then 256 MiB */
    {
        unsigned char h[44] = {0x89, 'K', 'S', 'M', 2, 0, 0, 0, 1, 0, 0, 0, 100};
        write_bomb(tpath("small.ksm", q, sizeof q), h, sizeof h, 1);
        write_bomb(tpath("bomb.ksm", p, sizeof p), h, sizeof h, BOMB_MIB);
        expect_small("model file", load_model, q, p, KS_ERR_CORRUPT, "100 bytes");
    }
    /* an ensemble file whose size field says 100 bytes, then 256 MiB */
    {
        unsigned char h[24] = {0x89, 'K', 'S', 'E', 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 100};
        write_bomb(tpath("small.kse", q, sizeof q), h, sizeof h, 1);
        write_bomb(tpath("bomb.kse", p, sizeof p), h, sizeof h, BOMB_MIB);
        expect_small("ensemble file", load_ensemble, q, p, KS_ERR_CORRUPT, "100 bytes");
    }
}

static void write_file(const char *path, const void *data, size_t len, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb6");
        if (!g || gzwrite(g, data, (unsigned)len) != (int)len)
            exit(2);
        gzclose(g);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(data, 1, len, f) != len)
            exit(2);
        fclose(f);
    }
}

/* The stream itself: peeks, skips and reads across blocks, raw, .gz and multi-member. */
static void test_stream(void)
{
    size_t len = 3 * KS_STREAM_BLOCK + 17;
    unsigned char *data = malloc(len), *back = malloc(len), head[64];
    char p[128];
    uint64_t got;
    ks_stream st;
    ks_error err;
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i * 7 + i / 251);
    for (int kind = 0; kind < 3; kind++) {
        size_t at = 0;
        int ok = 1;
        tpath(kind ? "s.gz" : "s.raw", p, sizeof p);
        if (kind == 2) {        /* two members: the first 1000 bytes, then the rest */
            unsigned char *m = malloc(len + 4096);
            size_t n1 = gz_member(data, 1000, m, len + 4096);
            size_t n2 = gz_member(data + 1000, len - 1000, m + n1, len + 4096 - n1);
            write_file(p, m, n1 + n2, 0);
            free(m);
        } else {
            write_file(p, data, len, kind);
        }
        REQUIRE(ks_stream_open(&st, p, &err) == KS_OK, "open: %s", err.msg);
        /* peek a little ahead, step, read a block and a half, drop some, read the rest */
        ok &= ks_stream_peek(&st, 0) == data[0] && ks_stream_peek(&st, 5) == data[5];
        ks_stream_skip(&st, 3);
        at = 3;
        ok &= ks_stream_read(&st, back + at, KS_STREAM_BLOCK + KS_STREAM_BLOCK / 2, &got,
                             &err) == KS_OK &&
              got == KS_STREAM_BLOCK + KS_STREAM_BLOCK / 2 &&
              memcmp(back + at, data + at, got) == 0;
        at += got;
        ok &= ks_stream_peek(&st, KS_STREAM_BLOCK - 1) == data[at + KS_STREAM_BLOCK - 1];
        ok &= ks_stream_read(&st, NULL, 1000, &got, &err) == KS_OK && got == 1000;
        at += got;
        ok &= st.offset == at && ks_stream_peek(&st, 0) == data[at];
        ok &= ks_stream_read(&st, back + at, len, &got, &err) == KS_OK && got == len - at &&
              memcmp(back + at, data + at, got) == 0;
        ok &= ks_stream_peek(&st, 0) == -1 && ks_stream_read(&st, head, 8, &got, &err) == KS_OK &&
              got == 0 && st.offset == len;
        CHECK(ok, "stream over a %s file",
              kind == 0 ? "raw" : kind == 1 ? ".gz" : "two-member .gz");
        ks_stream_close(&st);
    }
    /* a truncated .gz: the read fails with the stream's message, peek reports the end */
    {
        unsigned char *m = malloc(len + 4096);
        size_t n = gz_member(data, len, m, len + 4096);
        write_file(tpath("cut.gz", p, sizeof p), m, n / 2, 0);
        free(m);
        REQUIRE(ks_stream_open(&st, p, &err) == KS_OK, "open: %s", err.msg);
        CHECK(ks_stream_read(&st, back, len, &got, &err) == KS_ERR_CORRUPT && got < len &&
                  strstr(err.msg, "damaged or truncated file") && strcmp(err.file, p) == 0,
              "a truncated .gz: %s", err.msg);
        CHECK(ks_stream_peek(&st, 0) == -1 && ks_stream_error(&st, NULL) == KS_ERR_CORRUPT,
              "after a failure");
        ks_stream_close(&st);
    }
    CHECK(ks_stream_open(&st, tpath("nothing-here", p, sizeof p), &err) == KS_ERR_IO &&
              strstr(err.msg, "cannot open"),
          "a missing file: %s", err.msg);
    free(data);
    free(back);
}

/* Whole files bounded by the size their header gives. */
static void test_sized(void)
{
    unsigned char f[200], *out = NULL;
    size_t len = 0;
    char p[128];
    ks_error err;
    memset(f, 'x', sizeof f);
    memcpy(f, "\x89KSM", 4);
    memset(f + 12, 0, 8);
    f[12] = 120;                                /* promises 120 bytes */
    tpath("sized", p, sizeof p);
    for (int gz = 0; gz < 2; gz++) {
        write_file(p, f, 120, gz);
        CHECK(ks_read_file_sized(p, "\x89KSM", 12, &out, &len, &err) == KS_OK && len == 120 &&
                  memcmp(out, f, 120) == 0,
              "as promised (gz %d): %s", gz, err.msg);
        free(out);
        write_file(p, f, 90, gz);
        CHECK(ks_read_file_sized(p, "\x89KSM", 12, &out, &len, &err) == KS_OK && len == 90,
              "shorter than promised: returned for its reader to name (gz %d)", gz);
        free(out);
        write_file(p, f, 121, gz);
        CHECK(ks_read_file_sized(p, "\x89KSM", 12, &out, &len, &err) == KS_ERR_CORRUPT &&
                  strstr(err.msg, "longer than the 120 bytes its size field says") && !out,
              "longer than promised (gz %d): %s", gz, err.msg);
        write_file(p, f, 10, gz);
        CHECK(ks_read_file_sized(p, "\x89KSM", 12, &out, &len, &err) == KS_OK && len == 10,
              "shorter than its header (gz %d)", gz);
        free(out);
        write_file(p, f, 200, gz);
        CHECK(ks_read_file_sized(p, "\x89KSE", 12, &out, &len, &err) == KS_OK && len == 20,
              "another magic: the header alone, %zu bytes (gz %d)", len, gz);
        free(out);
    }
}

/* Readers over many blocks: values, row slices, cells that cross a block's end. */
static void test_readers_across_blocks(void)
{
    enum { ROWS = 400, W = 784 };
    unsigned char *idx = malloc(16 + (size_t)ROWS * W);
    char p[128], *text = malloc(ROWS * 20 * 32 + 300100), *q;
    ks_shape shape;
    size_t n, xc, yc;
    float *x, *y;
    ks_error err;
    static const char *const tg[] = {"y", NULL};
    ks_csv_options opt = {tg, ','};
    memcpy(idx, (unsigned char[]){0, 0, 0x08, 3, 0, 0, ROWS >> 8, ROWS & 255, 0, 0, 0, 28, 0,
                                  0, 0, 28},
           16);
    for (size_t i = 0; i < (size_t)ROWS * W; i++)
        idx[16 + i] = (unsigned char)(i * 13 + i / 97);
    for (int gz = 0; gz < 2; gz++) {
        int ok;
        write_file(tpath("many-idx3-ubyte", p, sizeof p), idx, 16 + (size_t)ROWS * W, gz);
        REQUIRE(ks_idx_load(p, 100, 300, 1.0, &shape, &n, &x, &err) == KS_OK, "idx: %s",
                err.msg);
        ok = n == 200;
        for (size_t i = 0; ok && i < 200 * W; i++)
            ok = x[i] == idx[16 + 100 * W + i];
        CHECK(ok, "IDX rows [100, 300) of %d over %zu-byte blocks (gz %d)", ROWS,
              KS_STREAM_BLOCK, gz);
        free(x);
        REQUIRE(ks_idx_load(p, 7, 7, 1.0, &shape, &n, &x, &err) == KS_OK && n == 0 && x,
                "an empty slice: %s", err.msg);
        free(x);
    }
    /* a CSV of a long quoted header cell (crossing blocks), then ROWS × 20 rows */
    q = text;
    q += sprintf(q, "\"");
    memset(q, 'h', 300000);
    q += 300000;
    q += sprintf(q, "\",y\n");
    for (int i = 0; i < ROWS * 20; i++)
        q += sprintf(q, "%d.25,  %d\r\n", i, -i);
    for (int gz = 0; gz < 2; gz++) {
        int ok;
        write_file(tpath("many.csv", p, sizeof p), text, (size_t)(q - text), gz);
        REQUIRE(ks_csv_load(p, &opt, 0, KS_ALL_ROWS, 1.0, &n, &xc, &x, &yc, &y, &err) == KS_OK,
                "csv: %s", err.msg);
        ok = n == ROWS * 20 && xc == 1 && yc == 1;
        for (size_t i = 0; ok && i < n; i++)
            ok = x[i] == (float)i + 0.25f && y[i] == -(float)i;
        CHECK(ok, "CSV over many blocks (gz %d)", gz);
        free(x);
        free(y);
    }
    /* a truncated .gz CSV: the stream is blamed, not the text */
    {
        unsigned char *m = malloc((size_t)(q - text) + 4096);
        size_t len = gz_member(text, (size_t)(q - text), m, (size_t)(q - text) + 4096);
        write_file(tpath("cut.csv.gz", p, sizeof p), m, len * 2 / 3, 0);
        free(m);
        CHECK(ks_csv_load(p, &opt, 0, KS_ALL_ROWS, 1.0, &n, &xc, &x, &yc, &y, &err) ==
                      KS_ERR_CORRUPT &&
                  strstr(err.msg, "damaged or truncated file") && !x && !y && n == 0,
              "a truncated .gz CSV: %s", err.msg);
    }
    free(text);
    free(idx);
}

int main(void)
{
    char p[128];
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_bombs();         /* first: the peak resident size is still small */
    test_stream();
    test_sized();
    test_readers_across_blocks();
    for (const char *const *f = (const char *const[]){"bomb-idx3-ubyte.gz", "bomb.npy.gz",
                                                      "bomb.csv.gz", "bomb.ksm", "bomb.kse",
                                                      "small-idx3-ubyte.gz", "small.npy.gz",
                                                      "small.csv.gz", "small.ksm", "small.kse",
                                                      "s.raw", "s.gz", "cut.gz", "sized",
                                                      "many-idx3-ubyte", "many.csv",
                                                      "cut.csv.gz", NULL};
         *f; f++)
        remove(tpath(*f, p, sizeof p));
    rmdir(tmpdir);
    return check_done();
}
