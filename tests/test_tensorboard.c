/*
 * test_tensorboard.c — the TensorBoard writer against tfevents-spec.md: its test vectors
 * byte for byte, runs written through ks_tb_* and read back with tests/tfevents_decode.h
 * (a strict decoder written separately from the writer), every pitfall of §10 that the
 * writer can cause, ks_histogram_compute, the protobuf writer, 4 writers at once, and
 * the tracker over a trial's segments and ksearch tensorboard's rewrite of both layouts.
 */
#define _XOPEN_SOURCE 700
#include "../search/search.h"
#include "../tracker/tb_impl.h"
#include "check.h"
#include "tfevents_decode.h"

#include <dirent.h>
#include <ftw.h>
#include <math.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char tmpdir[256];

/* ------------------------------------------------------------- helpers */

static void sub(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", tmpdir, name);
}

/* Hex digits (spaces and '|' ignored) into out; returns the byte count. */
static size_t hex(const char *s, unsigned char *out)
{
    size_t n = 0;
    for (; *s; s++) {
        unsigned v;
        if (*s == ' ' || *s == '|')
            continue;
        sscanf(s, "%2x", &v);
        out[n++] = (unsigned char)v;
        s++;
    }
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The event files directly in dir, sorted by name as TensorBoard reads them. */
static int list_events(const char *dir, char **names, int max)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, "tfevents") && n < max)
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    return n;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
}

/* Decode the k-th (sorted) event file of dir; 1 when it decodes whole. */
static int load_nth(const char *dir, int k, tfd_file *f, char *name_out)
{
    char *names[16], path[1024];
    int n = list_events(dir, names, 16), ok;
    memset(f, 0, sizeof *f);
    if (k >= n) {
        CHECK(0, "%s: no event file %d (has %d)", dir, k, n);
        free_names(names, n);
        return 0;
    }
    snprintf(path, sizeof path, "%s/%s", dir, names[k]);
    if (name_out)
        snprintf(name_out, 256, "%s", names[k]);
    free_names(names, n);
    ok = tfd_load(path, f) == 0;
    CHECK(ok, "%s: %s", path, f->err);
    CHECK(!f->partial, "%s: ends with a partial record", path);
    return ok && !f->partial;
}

/* Record i of a decoded file: the framed bytes and their count. */
static const unsigned char *record(const tfd_file *f, int i, size_t *len)
{
    *len = 16 + (size_t)tfd_le(f->buf + f->offset[i], 8);
    return f->buf + f->offset[i];
}

/* What every event must satisfy: a wall time (pitfall 15), no SessionLog (13), no
   data_class on any value (5), and the version event first (§1.2). */
static void check_common(const tfd_file *f, const char *what)
{
    CHECK(f->n >= 1 && tfd_streq(f->ev[0], "file_version", "brain.Event:2") &&
              tfd_has(f->ev[0], "file_version"),
          "%s: first record is not the version event", what);
    CHECK(f->n >= 1 && tfd_count(f->ev[0], "summary") == 0 && !tfd_has(f->ev[0], "step"),
          "%s: the version event holds more", what);
    for (int i = 0; i < f->n; i++) {
        const tfd_msg *sum = tfd_sub(f->ev[i], "summary");
        CHECK(tfd_has(f->ev[i], "wall_time") && tfd_double(f->ev[i], "wall_time") > 1e9,
              "%s: event %d wall_time %g", what, i, tfd_double(f->ev[i], "wall_time"));
        CHECK(!tfd_has(f->ev[i], "session_log"), "%s: event %d is a SessionLog", what, i);
        for (int v = 0; v < tfd_count(sum, "value"); v++)
            CHECK(!tfd_has(tfd_get(sum, "value", v)->msg, "metadata.data_class"),
                  "%s: event %d sets data_class", what, i);
    }
}

static double now_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------ CRC and vectors */

static void test_crc(void)
{
    unsigned char buf[300];
    CHECK(ks_crc32c("123456789", 9) == 0xE3069283u, "crc32c check value %08x",
          ks_crc32c("123456789", 9));
    CHECK(ks_crc32c("", 0) == 0, "crc32c of nothing");
    CHECK(ks_crc32c_mask(ks_crc32c("123456789", 9)) == 0xC78AB0E5u, "masked check value");
    CHECK(ks_crc32c_mask(ks_crc32c("", 0)) == 0xA282EAD8u, "masked crc of nothing");
    /* the decoder's own bitwise CRC agrees on the check values and on any data */
    CHECK(tfd_crc32c("123456789", 9) == 0xE3069283u, "decoder crc32c check value");
    CHECK(tfd_masked_crc("", 0) == 0xA282EAD8u, "decoder masked crc of nothing");
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    for (size_t n = 0; n <= sizeof buf; n += 13)
        CHECK(ks_crc32c(buf, n) == tfd_crc32c(buf, n), "crc32c of %zu bytes", n);
}

/* A = the version event, D = a legacy simple_value 0.0: the internal encoders. */
static void test_vectors_ad(void)
{
    unsigned char want[128];
    size_t n;
    ks_pb_buf b = {0};
    ks_tfrecord_begin(&b);
    ks_tb_encode_file_version(&b, 1700000000.0);
    ks_tfrecord_end(&b);
    n = hex("18 00 00 00 00 00 00 00 | a3 7f 4b 22 | 09 00 00 00 40 fc 54 d9 41 1a 0d 62 72 "
            "61 69 6e 2e 45 76 65 6e 74 3a 32 | ec ed 8f 9d", want);
    CHECK(b.status == KS_OK && b.len == n && memcmp(b.data, want, n) == 0, "vector A");
    ks_tfrecord_begin(&b);
    ks_tb_encode_scalar(&b, "lr", 5, 1700000003.0, 0.0, 0, 1);
    ks_tfrecord_end(&b);
    n = hex("18 00 00 00 00 00 00 00 | a3 7f 4b 22 | 09 00 00 c0 40 fc 54 d9 41 10 05 2a 0b "
            "0a 09 0a 02 6c 72 15 00 00 00 00 | 12 3f ac 65", want);
    CHECK(b.status == KS_OK && b.len == n && memcmp(b.data, want, n) == 0, "vector D");
    ks_pb_free(&b);
}

/* Append an Event{wall, summary{value: <value bytes>}} around a Summary.Value (all < 128). */
static size_t wrap_event(unsigned char *out, const char *wall_hex, const unsigned char *value,
                         size_t vlen)
{
    size_t n = hex("09", out);
    n += hex(wall_hex, out + n);
    out[n++] = 0x2a;
    out[n++] = (unsigned char)(vlen + 2);
    out[n++] = 0x0a;
    out[n++] = (unsigned char)vlen;
    memcpy(out + n, value, vlen);
    return n + vlen;
}

/* Record i of f holds exactly the event data want (and the CRCs the decoder checked). */
static int record_is(const tfd_file *f, int i, const unsigned char *want, size_t n)
{
    size_t len;
    const unsigned char *r = i < f->n ? record(f, i, &len) : NULL;
    return r && len == n + 16 && memcmp(r + 12, want, n) == 0;
}

/* B, C through ks_tb_scalar; E through the hparams session calls. */
static void test_vectors_bce(void)
{
    char dir[512];
    unsigned char want[512], value[256], content[64];
    size_t n, vn, cn, len;
    ks_tb_run *run = NULL;
    ks_error err;
    tfd_file f;
    const char *names[2] = {"lr", "opt"};
    ks_hp_value vals[2] = {{KS_HP_FLOAT, 0.01, NULL, 0}, {KS_HP_STRING, 0, "adam", 0}};
    sub(dir, sizeof dir, "vectors");
    REQUIRE(ks_tb_run_open(dir, &run, &err) == KS_OK, "open: %s", err.msg);
    CHECK(ks_tb_scalar(run, "epoch_loss", 3, 1700000001.5, 0.25, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_scalar(run, "epoch_loss", 4, 1700000002.0, 0.125, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_run_close(run, &err) == KS_OK, "close: %s", err.msg);
    if (!load_nth(dir, 0, &f, NULL))
        goto out;
    check_common(&f, "vectors");
    REQUIRE(f.n == 3, "3 records, got %d", f.n);
    n = hex("34 00 00 00 00 00 00 00 | 5e 33 17 5c | 09 00 00 60 40 fc 54 d9 41 10 03 2a 27 0a "
            "25 0a 0a 65 70 6f 63 68 5f 6c 6f 73 73 42 0a 08 01 12 00 2a 04 00 00 80 3e 4a 0b "
            "0a 09 0a 07 73 63 61 6c 61 72 73 | f4 90 96 63", want);
    CHECK(record(&f, 1, &len) && len == n && memcmp(record(&f, 1, &len), want, n) == 0,
          "vector B");
    n = hex("27 00 00 00 00 00 00 00 | bb e1 b1 46 | 09 00 00 80 40 fc 54 d9 41 10 04 2a 1a 0a "
            "18 0a 0a 65 70 6f 63 68 5f 6c 6f 73 73 42 0a 08 01 12 00 2a 04 00 00 00 3e | b2 63 "
            "3e 36", want);
    CHECK(record(&f, 2, &len) && len == n && memcmp(record(&f, 2, &len), want, n) == 0,
          "vector C");
    tfd_free(&f);

    /* E: a session's start and end, each a Summary.Value with the null tensor */
    sub(dir, sizeof dir, "vectors-e");
    REQUIRE(ks_tb_run_open(dir, &run, &err) == KS_OK, "open: %s", err.msg);
    CHECK(ks_tb_hparams_session_start(run, names, vals, 2, "", 1700000000.0, &err) == KS_OK,
          "%s", err.msg);
    CHECK(ks_tb_hparams_session_end(run, KS_TRIAL_COMPLETE, 1700000100.0, &err) == KS_OK, "%s",
          err.msg);
    CHECK(ks_tb_run_close(run, &err) == KS_OK, "close: %s", err.msg);
    if (!load_nth(dir, 0, &f, NULL))
        goto out;
    check_common(&f, "vectors E");
    cn = hex("1a 29 0a 0f 0a 02 6c 72 12 09 11 7b 14 ae 47 e1 7a 84 3f 0a 0d 0a 03 6f 70 74 12 "
             "06 1a 04 61 64 61 6d 29 00 00 00 40 fc 54 d9 41", content);
    vn = hex("0a 1c", value);
    memcpy(value + vn, "_hparams_/session_start_info", 28);
    vn += 28;
    vn += hex("42 08 08 01 12 04 12 02 08 00 4a", value + vn);
    value[vn++] = (unsigned char)(cn + 13);
    value[vn++] = 0x0a;
    value[vn++] = (unsigned char)(cn + 11);
    vn += hex("0a 07 68 70 61 72 61 6d 73 12", value + vn);
    value[vn++] = (unsigned char)cn;
    memcpy(value + vn, content, cn);
    vn += cn;
    n = wrap_event(want, "00 00 00 40 fc 54 d9 41", value, vn);
    CHECK(record_is(&f, 1, want, n), "vector E: session start info");
    vn = hex("0a 1a", value);
    memcpy(value + vn, "_hparams_/session_end_info", 26);
    vn += 26;
    vn += hex("42 08 08 01 12 04 12 02 08 00 4a 1a 0a 18 0a 07 68 70 61 72 61 6d 73 12 0d "
              "22 0b 08 01 11 00 00 00 59 fc 54 d9 41", value + vn);
    n = wrap_event(want, "00 00 00 59 fc 54 d9 41", value, vn);
    CHECK(record_is(&f, 2, want, n), "vector E: session end info");
out:
    tfd_free(&f);
}

/* --------------------------------------------------------- a whole run */

static const ks_tb_node *graph_nodes(void)
{
    static const char *in1[] = {"input_1"}, *in2[] = {"dense"};
    static const ks_tb_node nodes[3] = {
        {"input_1", "InputLayer", 0, NULL, {1, {4}}},
        {"dense", "Dense", 1, in1, {1, {8}}},
        {"dense_1", "Dense", 1, in2, {2, {3, 2}}},
    };
    return nodes;
}

static void check_name_pattern(const char *name)
{
    char host[256], want_host[256], tail[64];
    unsigned long counter;
    int k = 0, used = 0;
    long pid;
    const char *p = name + strlen("events.out.tfevents.");
    if (gethostname(host, sizeof host) != 0 || !host[0])
        snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = 0;
    for (const char *h = host; *h; h++)
        want_host[k++] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_",
                                *h) ? *h : '_';
    want_host[k] = 0;
    CHECK(strncmp(name, "events.out.tfevents.", 20) == 0, "file name %s", name);
    CHECK(strspn(p, "0123456789") == 10 && p[10] == '.', "10-digit seconds in %s", name);
    CHECK(strncmp(p + 11, want_host, (size_t)k) == 0 && p[11 + k] == '.', "host in %s", name);
    CHECK(sscanf(p + 12 + k, "%ld.%lu%n", &pid, &counter, &used) == 2 && pid == (long)getpid(),
          "pid and counter in %s", name);
    snprintf(tail, sizeof tail, "%s", p + 12 + k + used);
    CHECK(strcmp(tail, ".v2") == 0, "ends in .v2: %s", name);
    CHECK(fabs((double)atoll(p) - now_secs()) < 600, "seconds of %s are now", name);
}

static void test_run(void)
{
    char dir[512], name[256];
    ks_tb_run *run = NULL;
    ks_error err;
    tfd_file f;
    float data[10];
    double hist[KS_HISTOGRAM_BUCKETS * 3], got[KS_HISTOGRAM_BUCKETS * 3 + 1];
    const char *md = "| layer | shape |\n|---|---|\n| dense | (None, 8) |";
    const ks_tb_node *nodes = graph_nodes();
    const char *tags[2] = {"epoch_loss", "epoch_accuracy"};
    double t0 = now_secs() - 1;
    int e = 1, seen[2] = {0, 0};
    for (int i = 0; i < 10; i++)
        data[i] = (float)i;
    ks_histogram_compute(data, 10, hist);
    sub(dir, sizeof dir, "run/train");
    REQUIRE(ks_tb_run_open(dir, &run, &err) == KS_OK, "open: %s", err.msg);
    CHECK(ks_tb_graph(run, nodes, 3, 0, &err) == KS_OK, "graph: %s", err.msg);
    for (int step = 0; step < 10; step++) {
        /* step 0 of epoch_accuracy is exactly 0.0 (pitfall 3); wall time 0 → now (15) */
        CHECK(ks_tb_scalar(run, tags[0], step, step % 2 ? 1700000000.0 + step : 0,
                           1.0 / (step + 1), &err) == KS_OK, "%s", err.msg);
        CHECK(ks_tb_scalar(run, tags[1], step, 0, step / 10.0, &err) == KS_OK, "%s", err.msg);
    }
    CHECK(ks_tb_histogram(run, "dense/kernel/histogram", 0, 0, hist, &err) == KS_OK, "%s",
          err.msg);
    CHECK(ks_tb_text(run, "model_summary", 0, 0, md, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_run_close(run, &err) == KS_OK, "close: %s", err.msg);

    if (!load_nth(dir, 0, &f, name))
        goto out;
    check_name_pattern(name);
    check_common(&f, "run");
    REQUIRE(f.n == 1 + 1 + 20 + 2, "24 records, got %d", f.n);
    CHECK(tfd_double(f.ev[0], "wall_time") >= t0 && tfd_double(f.ev[0], "wall_time") <= now_secs(),
          "version event at the time of opening");
    /* the graph: nodes, ops, inputs, _output_shapes (-1, …) */
    {
        const tfd_msg *g = tfd_sub(f.ev[e++], "graph_def");
        REQUIRE(g && tfd_count(g, "node") == 3, "graph with 3 nodes");
        for (int i = 0; i < 3; i++) {
            const tfd_msg *nd = tfd_get(g, "node", i)->msg;
            const tfd_msg *shape = tfd_sub(nd, "attr.value.list.shape");
            CHECK(tfd_streq(nd, "name", nodes[i].name) && tfd_streq(nd, "op", nodes[i].op),
                  "node %d name/op", i);
            CHECK(tfd_count(nd, "input") == nodes[i].n_inputs &&
                      (i == 0 || tfd_streq(nd, "input", nodes[i].inputs[0])),
                  "node %d inputs", i);
            CHECK(tfd_count(nd, "attr") == 1 && tfd_streq(nd, "attr.key", "_output_shapes"),
                  "node %d attr", i);
            REQUIRE(shape && tfd_count(shape, "dim") == nodes[i].shape.ndim + 1, "node %d rank", i);
            CHECK(tfd_int(shape, "dim[0].size") == -1, "node %d batch dim", i);
            for (int k = 0; k < nodes[i].shape.ndim; k++) {
                char p[32];
                snprintf(p, sizeof p, "dim[%d].size", k + 1);
                CHECK(tfd_int(shape, p) == nodes[i].shape.dim[k], "node %d dim %d", i, k);
            }
        }
    }
    /* scalars: rank 0, one float, metadata on each tag's first value only (4, 7) */
    for (int step = 0; step < 10; step++) {
        for (int t = 0; t < 2; t++, e++) {
            const tfd_msg *v = tfd_sub(f.ev[e], "summary.value");
            const tfd_msg *tensor = tfd_sub(v, "tensor");
            double x[2];
            float want = t == 0 ? (float)(1.0 / (step + 1)) : (float)(step / 10.0);
            CHECK(tfd_count(tfd_sub(f.ev[e], "summary"), "value") == 1, "one value");
            CHECK(tfd_int(f.ev[e], "step") == step, "event %d step", e);
            CHECK(tfd_streq(v, "tag", tags[t]), "event %d tag", e);
            CHECK(tfd_int(tensor, "dtype") == 1 && tfd_has(tensor, "tensor_shape") &&
                      tfd_count(tfd_sub(tensor, "tensor_shape"), "dim") == 0,
                  "event %d: rank-0 DT_FLOAT", e);
            CHECK(!tfd_has(tensor, "tensor_content"), "event %d: no tensor_content", e);
            CHECK(tfd_reals(tensor, "float_val", x, 2) == 1 && x[0] == want,
                  "event %d: the value %g", e, (double)want);
            CHECK(tfd_has(v, "metadata") == !seen[t], "event %d: metadata only on the first", e);
            if (!seen[t]++)
                CHECK(tfd_streq(v, "metadata.plugin_data.plugin_name", "scalars") &&
                          tfd_int(v, "metadata.plugin_data.content.version") == 0,
                      "scalars plugin");
            if (t == 0 && step % 2)
                CHECK(tfd_double(f.ev[e], "wall_time") == 1700000000.0 + step, "given wall");
            else
                CHECK(tfd_double(f.ev[e], "wall_time") >= t0, "wall time 0 became now");
        }
    }
    /* the histogram: [30,3] doubles in tensor_content, plugin "histograms" */
    {
        const tfd_msg *v = tfd_sub(f.ev[e++], "summary.value");
        const tfd_field *c = tfd_path(v, "tensor.tensor_content");
        CHECK(tfd_streq(v, "tag", "dense/kernel/histogram"), "histogram tag");
        CHECK(tfd_int(v, "tensor.dtype") == 2 && tfd_int(v, "tensor.tensor_shape.dim[0].size") ==
                  30 && tfd_int(v, "tensor.tensor_shape.dim[1].size") == 3 &&
                  tfd_count(tfd_sub(v, "tensor.tensor_shape"), "dim") == 2,
              "histogram [30,3] DT_DOUBLE");
        CHECK(tfd_streq(v, "metadata.plugin_data.plugin_name", "histograms"), "histograms plugin");
        REQUIRE(c && c->len == 8 * 90, "histogram content of 720 bytes");
        for (int i = 0; i < 90; i++) {
            uint64_t u = tfd_le(c->p + 8 * i, 8);
            memcpy(&got[i], &u, 8);
        }
        CHECK(memcmp(got, hist, sizeof hist) == 0, "histogram values");
    }
    /* the text: a rank-0 DT_STRING, plugin "text" */
    {
        const tfd_msg *v = tfd_sub(f.ev[e++], "summary.value");
        CHECK(tfd_streq(v, "tag", "model_summary") && tfd_int(v, "tensor.dtype") == 7 &&
                  tfd_count(tfd_sub(v, "tensor.tensor_shape"), "dim") == 0 &&
                  tfd_count(tfd_sub(v, "tensor"), "string_val") == 1 &&
                  tfd_streq(v, "tensor.string_val", md),
              "text tensor");
        CHECK(tfd_streq(v, "metadata.plugin_data.plugin_name", "text"), "text plugin");
    }
out:
    tfd_free(&f);
}

/* ---------------------------------------------------------------- hparams */

static void test_hparams(void)
{
    char root_dir[512], dir[512];
    ks_tb_run *root = NULL, *s0 = NULL, *s1 = NULL, *val = NULL;
    ks_error err;
    tfd_file f;
    ks_hp_value units[2] = {{KS_HP_FLOAT, 0, NULL, 0}, {KS_HP_FLOAT, 64, NULL, 0}};
    ks_hp_value opts[2] = {{KS_HP_STRING, 0, "adam", 0}, {KS_HP_STRING, 0, "sgd", 0}};
    ks_hp_value bns[2] = {{KS_HP_BOOL, 0, NULL, 0}, {KS_HP_BOOL, 0, NULL, 1}};
    ks_hp_info infos[4] = {{"lr", KS_HP_FLOAT, 0, 0.001, 0.1, 0, NULL},
                           {"units", KS_HP_FLOAT, 1, 0, 0, 2, units},
                           {"opt", KS_HP_STRING, 1, 0, 0, 2, opts},
                           {"bn", KS_HP_BOOL, 1, 0, 0, 2, bns}};
    ks_hp_metric metrics[3] = {{"", "best_val_accuracy", "best accuracy", 0},
                               {"validation", "epoch_accuracy", NULL, 2},
                               {"train", "epoch_loss", NULL, 1}};
    const char *names[4] = {"lr", "units", "opt", "bn"};
    ks_hp_value v0[4] = {{KS_HP_FLOAT, 0.01, NULL, 0}, units[0], opts[0], bns[0]};
    ks_hp_value v1[4] = {{KS_HP_FLOAT, 0.1, NULL, 0}, units[1], opts[1], bns[1]};
    const tfd_msg *x, *v;

    sub(root_dir, sizeof root_dir, "hp");
    REQUIRE(ks_tb_run_open(root_dir, &root, &err) == KS_OK, "open: %s", err.msg);
    CHECK(ks_tb_hparams_experiment(root, "study", 1700000000.0, infos, 4, metrics, 3, &err) ==
              KS_OK, "experiment: %s", err.msg);
    /* pitfall 10: no session beside the experiment */
    CHECK(ks_tb_hparams_session_start(root, names, v0, 4, "", 0, &err) == KS_ERR_CONFIG,
          "a session start in the root run is refused");
    sub(dir, sizeof dir, "hp/trial-0000");
    REQUIRE(ks_tb_run_open(dir, &s0, &err) == KS_OK, "open: %s", err.msg);
    sub(dir, sizeof dir, "hp/trial-0001");
    REQUIRE(ks_tb_run_open(dir, &s1, &err) == KS_OK, "open: %s", err.msg);
    sub(dir, sizeof dir, "hp/trial-0000/validation");
    REQUIRE(ks_tb_run_open(dir, &val, &err) == KS_OK, "open: %s", err.msg);
    CHECK(ks_tb_hparams_session_start(s0, names, v0, 4, "", 1700000001.0, &err) == KS_OK, "%s",
          err.msg);
    CHECK(ks_tb_hparams_session_start(s1, names, v1, 4, "g1", 1700000002.0, &err) == KS_OK, "%s",
          err.msg);
    CHECK(ks_tb_hparams_experiment(s0, "x", 0, infos, 4, metrics, 3, &err) == KS_ERR_CONFIG,
          "an experiment in a session's run is refused");
    CHECK(ks_tb_scalar(val, "epoch_accuracy", 0, 0, 0.5, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_scalar(s0, "best_val_accuracy", 0, 0, 0.5, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_hparams_session_end(s0, KS_TRIAL_COMPLETE, 1700000100.0, &err) == KS_OK, "%s",
          err.msg);
    CHECK(ks_tb_hparams_session_end(s1, KS_TRIAL_FAILED, 1700000200.0, &err) == KS_OK, "%s",
          err.msg);
    CHECK(ks_tb_hparams_session_end(s1, KS_TRIAL_STATUS_COUNT, 0, &err) == KS_ERR_CONFIG,
          "an unknown status is refused");
    ks_tb_run_close(val, NULL);
    ks_tb_run_close(s1, NULL);
    ks_tb_run_close(s0, NULL);
    CHECK(ks_tb_run_close(root, &err) == KS_OK, "close: %s", err.msg);

    /* the experiment (pitfalls 8, 9 and 3) */
    if (!load_nth(root_dir, 0, &f, NULL))
        goto out;
    check_common(&f, "root");
    REQUIRE(f.n == 2, "root: version + experiment, got %d records", f.n);
    v = tfd_sub(f.ev[1], "summary.value");
    CHECK(tfd_streq(v, "tag", "_hparams_/experiment"), "experiment tag");
    CHECK(tfd_int(v, "tensor.dtype") == 1 && tfd_count(tfd_sub(v, "tensor.tensor_shape"), "dim") == 1 &&
              tfd_has(v, "tensor.tensor_shape.dim.size") &&
              tfd_int(v, "tensor.tensor_shape.dim.size") == 0 &&
              tfd_sub(v, "tensor")->n == 2,
          "experiment: the null tensor");
    CHECK(tfd_streq(v, "metadata.plugin_data.plugin_name", "hparams"), "hparams plugin");
    CHECK(!tfd_has(v, "metadata.plugin_data.content.version"), "version 0");
    x = tfd_sub(v, "metadata.plugin_data.content.experiment");
    REQUIRE(x != NULL, "an experiment");
    CHECK(tfd_streq(x, "name", "study") && tfd_double(x, "time_created_secs") == 1700000000.0,
          "experiment name and time");
    CHECK(tfd_count(x, "hparam_infos") == 4 && tfd_count(x, "metric_infos") == 3, "4 hparams, 3 metrics");
    CHECK(tfd_streq(x, "hparam_infos[0].name", "lr") && tfd_int(x, "hparam_infos[0].type") == 3 &&
              tfd_double(x, "hparam_infos[0].domain_interval.min_value") == 0.001 &&
              tfd_double(x, "hparam_infos[0].domain_interval.max_value") == 0.1 &&
              tfd_int(x, "hparam_infos[0].differs") == 1,
          "lr: an interval");
    CHECK(tfd_int(x, "hparam_infos[1].type") == 3 &&
              tfd_has(x, "hparam_infos[1].domain_discrete.values[0].number_value") &&
              tfd_double(x, "hparam_infos[1].domain_discrete.values[0].number_value") == 0 &&
              tfd_double(x, "hparam_infos[1].domain_discrete.values[1].number_value") == 64,
          "units: discrete, 0 present");
    CHECK(tfd_int(x, "hparam_infos[2].type") == 1 &&
              tfd_streq(x, "hparam_infos[2].domain_discrete.values[1].string_value", "sgd"),
          "opt: discrete strings");
    CHECK(tfd_int(x, "hparam_infos[3].type") == 2 &&
              tfd_has(x, "hparam_infos[3].domain_discrete.values[0].bool_value") &&
              tfd_int(x, "hparam_infos[3].domain_discrete.values[0].bool_value") == 0 &&
              tfd_int(x, "hparam_infos[3].domain_discrete.values[1].bool_value") == 1,
          "bn: discrete bools, false present");
    CHECK(!tfd_has(x, "metric_infos[0].name.group") &&
              tfd_streq(x, "metric_infos[0].name.tag", "best_val_accuracy") &&
              tfd_streq(x, "metric_infos[0].display_name", "best accuracy") &&
              tfd_streq(x, "metric_infos[1].name.group", "validation") &&
              tfd_int(x, "metric_infos[1].dataset_type") == 2 &&
              tfd_int(x, "metric_infos[2].dataset_type") == 1,
          "metrics");
    tfd_free(&f);

    /* the sessions */
    for (int s = 0; s < 2; s++) {
        const tfd_msg *si, *ei;
        snprintf(dir, sizeof dir, "%s/hp/trial-000%d", tmpdir, s);
        if (!load_nth(dir, 0, &f, NULL))
            goto out;
        check_common(&f, "session");
        REQUIRE(f.n == (s == 0 ? 4 : 3), "session %d: %d records", s, f.n);
        v = tfd_sub(f.ev[1], "summary.value");
        CHECK(tfd_streq(v, "tag", "_hparams_/session_start_info") &&
                  tfd_int(v, "tensor.dtype") == 1 &&
                  tfd_int(v, "tensor.tensor_shape.dim.size") == 0 &&
                  !tfd_has(v, "metadata.plugin_data.content.version"),
              "session %d start: tag, null tensor, version 0", s);
        si = tfd_sub(v, "metadata.plugin_data.content.session_start_info");
        REQUIRE(si && tfd_count(si, "hparams") == 4, "session %d: 4 values", s);
        CHECK(tfd_streq(si, "hparams[1].key", "units") &&
                  tfd_has(si, "hparams[1].value.number_value") &&
                  tfd_double(si, "hparams[1].value.number_value") == (s ? 64 : 0),
              "session %d: units (0 present)", s);
        CHECK(tfd_streq(si, "hparams[3].key", "bn") && tfd_has(si, "hparams[3].value.bool_value") &&
                  tfd_int(si, "hparams[3].value.bool_value") == s,
              "session %d: bn (false present)", s);
        CHECK(tfd_streq(si, "hparams[2].value.string_value", s ? "sgd" : "adam") &&
                  tfd_double(si, "hparams[0].value.number_value") == (s ? 0.1 : 0.01),
              "session %d: opt and lr", s);
        CHECK(tfd_streq(si, "group_name", s ? "g1" : "") &&
                  tfd_double(si, "start_time_secs") == 1700000001.0 + s,
              "session %d: group and start", s);
        v = tfd_sub(f.ev[f.n - 1], "summary.value");
        ei = tfd_sub(v, "metadata.plugin_data.content.session_end_info");
        CHECK(tfd_streq(v, "tag", "_hparams_/session_end_info") && tfd_sub(v, "tensor")->n == 2,
              "session %d end: tag and null tensor", s);
        CHECK(ei && tfd_int(ei, "status") == (s ? 2 : 1) &&
                  tfd_double(ei, "end_time_secs") == 1700000100.0 + 100 * s,
              "session %d end: status and time", s);
        tfd_free(&f);
    }
    /* trial statuses as the dashboard knows them */
    CHECK(ks_tb_session_status(KS_TRIAL_PRUNED) == 1 && ks_tb_session_status(KS_TRIAL_RUNNING) == 3 &&
              ks_tb_session_status(KS_TRIAL_INTERRUPTED) == 0 &&
              ks_tb_session_status(KS_TRIAL_STATUS_COUNT) == -1,
          "status mapping");
out:
    tfd_free(&f);
}

/* ------------------------------------------------------------- pitfalls */

/* 1: a record cut anywhere is "partial", the ones before still decode; a flipped byte
   is a CRC error; the writer reports a failed write. */
static void test_partial_and_crc(void)
{
    char dir[512], path[1024], name[256];
    tfd_file f, g;
    size_t last, n;
    unsigned char *bytes;
    FILE *full;
    ks_pb_buf b = {0};
    ks_error err;
    sub(dir, sizeof dir, "run/train");
    if (!load_nth(dir, 0, &f, name))
        goto out;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    last = f.offset[f.n - 1];
    n = f.size;
    bytes = f.buf;
    for (size_t cut = last; cut < n; cut++) {
        int rc = tfd_decode(bytes, cut, &g);
        CHECK(rc == 0 && g.n == f.n - 1 && g.partial == (cut > last),
              "cut at %zu: rc %d, %d records, partial %d", cut, rc, g.n, g.partial);
        tfd_free(&g);
    }
    bytes[f.offset[3] + 20] ^= 0x10;
    CHECK(tfd_decode(bytes, n, &g) == -1 && strstr(g.err, "data crc"), "a flipped data byte");
    tfd_free(&g);
    bytes[f.offset[3] + 20] ^= 0x10;
    bytes[f.offset[3] + 1] ^= 0x01;
    CHECK(tfd_decode(bytes, n, &g) == -1 && strstr(g.err, "length crc"), "a flipped length");
    tfd_free(&g);
    bytes[f.offset[3] + 1] ^= 0x01;
    CHECK(tfd_decode(bytes, n, &g) == 0 && g.n == f.n, "restored");
    tfd_free(&g);
    /* a write that fails is an error, not silence */
    if ((full = fopen("/dev/full", "wb")) != NULL) {
        setvbuf(full, NULL, _IONBF, 0);
        ks_tfrecord_begin(&b);
        ks_tb_encode_file_version(&b, 1700000000.0);
        ks_tfrecord_end(&b);
        CHECK(ks_tfrecord_write(full, &b, "/dev/full", &err) == KS_ERR_IO, "write to /dev/full");
        fclose(full);
    }
    ks_pb_free(&b);
out:
    tfd_free(&f);
}

/* Frame event bytes (given in hex) and decode them. */
static int decode_event_hex(const char *h, char *err, size_t esz)
{
    unsigned char data[256], rec[300];
    size_t n = hex(h, data);
    uint32_t c;
    tfd_file f;
    int rc;
    for (int i = 0; i < 8; i++)
        rec[i] = (unsigned char)((uint64_t)n >> (8 * i));
    c = tfd_masked_crc(rec, 8);
    memcpy(rec + 8, (unsigned char[4]){c, c >> 8, c >> 16, c >> 24}, 4);
    memcpy(rec + 12, data, n);
    c = tfd_masked_crc(data, n);
    memcpy(rec + 12 + n, (unsigned char[4]){c, c >> 8, c >> 16, c >> 24}, 4);
    rc = tfd_decode(rec, n + 16, &f);
    snprintf(err, esz, "%s", f.err);
    tfd_free(&f);
    return rc;
}

/* 2: the decoder that checks the writer rejects what TensorBoard would silently drop. */
static void test_decoder_strict(void)
{
    static const struct {
        const char *hex, *why;
    } bad[] = {
        {"09 00 00 00 40 fc 54 d9 41 58 01", "unknown field number 11"},
        {"09 00 00 00 40 fc 54 d9 41 2a 09 0a 07 0a 01 78 11 00 00 00", "wrong wire type"},
        {"09 00 00 00 40 fc 54 d9 41 2a 0e 0a 0c 0a 01 78 11 00 00 00 00 00 00 00 00",
         "wrong wire type"},                                    /* simple_value as double */
        {"09 00 00 00 40 fc 54 d9 41 2a 0a 0a 08 0a 01 78 1d 00 00 00 00", "wrong wire type"},
        {"09 00 00 00 40 fc 54 d9 41 10 01 10 02", "given twice"},
        {"09 00 00 00 40 fc 54 d9 41 1a 01 78 2a 00", "both set"},
        {"09 00 00 00 40 fc 54 d9 41 2a 05 0a 03 0a 01 ff", "utf-8"},
        {"09 00 00 00 40 fc 54 d9 41 2a 16 0a 14 0a 01 78 15 00 00 00 00 4a 0a 0a 08 0a 06 73 "
         "63 61 6c 61 72", "plugin name"},                      /* "scalar" */
        {"09 00 00 00 40 fc 54 d9 41 2a 1b 0a 19 0a 01 78 15 00 00 00 00 4a 0f 0a 0d 0a 07 73 "
         "63 61 6c 61 72 73 12 02 18 01", "unknown field number 3"},   /* content field 3 */
        {"09 00 00 00 40 fc 54 d9 41 2a 05 0a 03 0a 05 78", "past the end"},
    };
    char err[300];
    CHECK(decode_event_hex("09 00 00 00 40 fc 54 d9 41 10 05 2a 0b 0a 09 0a 02 6c 72 15 00 00 00 "
                           "00", err, sizeof err) == 0,
          "vector D decodes: %s", err);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = decode_event_hex(bad[i].hex, err, sizeof err);
        CHECK(rc == -1 && strstr(err, bad[i].why), "bad event %zu: want \"%s\", got \"%s\"", i,
              bad[i].why, err);
    }
}

/* 6: a tag keeps one plugin; a refused value writes nothing. */
static void test_tag_reuse(void)
{
    char dir[512];
    ks_tb_run *run = NULL;
    ks_error err;
    tfd_file f;
    double h[KS_HISTOGRAM_BUCKETS * 3];
    const char *names[1] = {"a"};
    ks_hp_value vals[1] = {{KS_HP_FLOAT, 1, NULL, 0}};
    ks_histogram_compute(NULL, 0, h);
    sub(dir, sizeof dir, "reuse");
    REQUIRE(ks_tb_run_open(dir, &run, &err) == KS_OK, "open: %s", err.msg);
    CHECK(ks_tb_scalar(run, "loss", 0, 0, 1, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_histogram(run, "loss", 0, 0, h, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "loss"), "histogram on a scalar tag: %s", err.msg);
    CHECK(ks_tb_text(run, "loss", 0, 0, "x", &err) == KS_ERR_CONFIG, "text on a scalar tag");
    CHECK(ks_tb_scalar(run, "loss", 1, 0, 2, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_text(run, "notes", 0, 0, "", &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_scalar(run, "notes", 0, 0, 1, &err) == KS_ERR_CONFIG, "scalar on a text tag");
    CHECK(ks_tb_scalar(run, "_hparams_/session_start_info", 0, 0, 1, &err) == KS_OK, "%s",
          err.msg);
    CHECK(ks_tb_hparams_session_start(run, names, vals, 1, "", 0, &err) == KS_ERR_CONFIG,
          "hparams on a scalar tag");
    CHECK(ks_tb_scalar(run, "", 0, 0, 1, &err) == KS_ERR_CONFIG, "an empty tag");
    CHECK(ks_tb_scalar(run, "bad\xff", 0, 0, 1, &err) == KS_ERR_CONFIG, "a tag not utf-8");
    CHECK(ks_tb_text(run, "t", 0, 0, "\xc0\x80", &err) == KS_ERR_CONFIG, "a text not utf-8");
    CHECK(ks_tb_scalar(NULL, "x", 0, 0, 1, &err) != KS_OK, "a NULL run");
    CHECK(ks_tb_run_close(run, &err) == KS_OK, "close: %s", err.msg);
    if (load_nth(dir, 0, &f, NULL)) {
        check_common(&f, "reuse");
        CHECK(f.n == 5, "only the accepted values are written: %d records", f.n);
        /* an empty text is still one (empty) element: a rank-0 tensor needs it */
        CHECK(f.n == 5 && tfd_count(tfd_sub(f.ev[3], "summary.value.tensor"), "string_val") == 1,
              "empty text written as one element");
    }
    tfd_free(&f);
}

/* 14: one writer per run directory; 15: wall time; reopening sorts after and repeats
   the metadata (4). */
static void test_open_rules(void)
{
    char dir[512], dir2[1000], fake[900], *names[16];
    ks_tb_run *a = NULL, *b = NULL;
    ks_error err;
    tfd_file f;
    double t0 = now_secs() - 1;
    int n;
    FILE *fp;
    long long fake_secs = (long long)time(NULL) + 1000;
    sub(dir, sizeof dir, "once");
    snprintf(dir2, sizeof dir2, "%s/", dir);
    REQUIRE(ks_tb_run_open(dir, &a, &err) == KS_OK, "open: %s", err.msg);
    CHECK(ks_tb_run_open(dir, &b, &err) == KS_ERR_IO && !b && strstr(err.msg, "already open"),
          "a second writer on the same run: %s", err.msg);
    CHECK(ks_tb_run_open(dir2, &b, &err) == KS_ERR_IO, "the same run spelt with a slash");
    CHECK(ks_tb_scalar(a, "a", 0, 0, 1, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_scalar(a, "w", 1, NAN, 1, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_scalar(a, "w", 2, -5, 1, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_run_close(a, &err) == KS_OK, "close: %s", err.msg);
    REQUIRE(ks_tb_run_open(dir, &b, &err) == KS_OK, "reopen after close: %s", err.msg);
    CHECK(ks_tb_scalar(b, "a", 1, 0, 2, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_run_close(b, &err) == KS_OK, "close: %s", err.msg);
    n = list_events(dir, names, 16);
    CHECK(n == 2, "two files, got %d", n);
    free_names(names, n);
    if (load_nth(dir, 0, &f, NULL)) {
        CHECK(f.n == 4 && tfd_int(f.ev[1], "step") == 0, "the older file sorts first");
        for (int i = 1; i < f.n; i++)
            CHECK(tfd_double(f.ev[i], "wall_time") >= t0 &&
                      tfd_double(f.ev[i], "wall_time") <= now_secs(),
                  "wall time 0, NaN, -5 became now");
    }
    tfd_free(&f);
    if (load_nth(dir, 1, &f, NULL))
        CHECK(f.n == 2 && tfd_int(f.ev[1], "step") == 1 &&
                  tfd_has(f.ev[1], "summary.value.metadata"),
              "the newer file sorts last and has the metadata again");
    tfd_free(&f);
    /* a file from the future: the new one is named to sort after it */
    sub(dir, sizeof dir, "future");
    mkdir(dir, 0777);
    snprintf(fake, sizeof fake, "%s/events.out.tfevents.%010lld.zz.1.0.v2", dir, fake_secs);
    if ((fp = fopen(fake, "wb")))
        fclose(fp);
    REQUIRE(ks_tb_run_open(dir, &a, &err) == KS_OK, "open: %s", err.msg);
    CHECK(ks_tb_run_close(a, &err) == KS_OK, "close: %s", err.msg);
    n = list_events(dir, names, 16);
    CHECK(n == 2 && strstr(names[1], ".zz.") == NULL &&
              atoll(names[1] + 20) == fake_secs + 1,
          "the new file sorts after the newest one");
    free_names(names, n);
    /* bad directories */
    CHECK(ks_tb_run_open("", &a, &err) == KS_ERR_CONFIG && !a, "an empty directory name");
    CHECK(ks_tb_run_open(fake, &a, &err) == KS_ERR_IO && !a, "a file as the directory: %s",
          err.msg);
    snprintf(dir2, sizeof dir2, "%s/sub", fake);
    CHECK(ks_tb_run_open(dir2, &a, &err) == KS_ERR_IO && !a, "a directory under a file");
    CHECK(ks_tb_run_close(NULL, &err) == KS_OK, "close(NULL)");
}

/* Bad arguments give an error and write nothing. */
static void test_bad_input(void)
{
    char dir[512];
    ks_tb_run *run = NULL;
    ks_error err;
    tfd_file f;
    double h[KS_HISTOGRAM_BUCKETS * 3];
    const char *bad_in[] = {"nowhere"}, *self[] = {"^a:0"};
    ks_tb_node dup[2] = {{"a", "Dense", 0, NULL, {1, {2}}}, {"a", "Dense", 0, NULL, {1, {2}}}};
    ks_tb_node unknown[1] = {{"a", "Dense", 1, bad_in, {1, {2}}}};
    ks_tb_node ctrl[1] = {{"a", "Dense", 1, self, {0, {0}}}};
    ks_hp_value one = {KS_HP_FLOAT, 1, NULL, 0}, str = {KS_HP_STRING, 0, "x", 0};
    ks_hp_value nan = {KS_HP_FLOAT, NAN, NULL, 0};
    ks_hp_info wrong_type = {"u", KS_HP_FLOAT, 1, 0, 0, 1, &str};
    ks_hp_info inverted = {"lr", KS_HP_FLOAT, 0, 1, 0, 0, NULL};
    ks_hp_info twice[2] = {{"lr", KS_HP_FLOAT, 0, 0, 1, 0, NULL}, {"lr", KS_HP_FLOAT, 0, 0, 1, 0, NULL}};
    ks_hp_metric bad_ds = {"", "m", NULL, 3};
    const char *names2[2] = {"a", "a"};
    ks_hp_value vals2[2] = {{KS_HP_FLOAT, 1, NULL, 0}, {KS_HP_FLOAT, 2, NULL, 0}};
    const char *name1[1] = {"a"};
    ks_histogram_compute(NULL, 0, h);
    sub(dir, sizeof dir, "bad");
    REQUIRE(ks_tb_run_open(dir, &run, &err) == KS_OK, "open: %s", err.msg);
    h[3 * 4 + 2] = NAN;
    CHECK(ks_tb_histogram(run, "h", 0, 0, h, &err) == KS_ERR_CONFIG, "a NaN count");
    h[3 * 4 + 2] = -1;
    CHECK(ks_tb_histogram(run, "h", 0, 0, h, &err) == KS_ERR_CONFIG, "a negative count");
    CHECK(ks_tb_histogram(run, "h", 0, 0, NULL, &err) != KS_OK, "no buckets");
    CHECK(ks_tb_text(run, "t", 0, 0, NULL, &err) != KS_OK, "no text");
    CHECK(ks_tb_graph(run, dup, 2, 0, &err) == KS_ERR_CONFIG, "duplicate node: %s", err.msg);
    CHECK(ks_tb_graph(run, unknown, 1, 0, &err) == KS_ERR_CONFIG, "unknown input: %s", err.msg);
    CHECK(ks_tb_graph(run, dup, 0, 0, &err) == KS_ERR_CONFIG, "no nodes");
    CHECK(ks_tb_graph(run, ctrl, 1, 0, &err) == KS_OK, "a control input ^a:0: %s", err.msg);
    CHECK(ks_tb_hparams_experiment(run, "", 0, &wrong_type, 1, NULL, 0, &err) == KS_ERR_CONFIG,
          "a discrete value of the wrong type: %s", err.msg);
    CHECK(ks_tb_hparams_experiment(run, "", 0, &inverted, 1, NULL, 0, &err) == KS_ERR_CONFIG,
          "min > max");
    CHECK(ks_tb_hparams_experiment(run, "", 0, twice, 2, NULL, 0, &err) == KS_ERR_CONFIG,
          "an hparam declared twice");
    CHECK(ks_tb_hparams_experiment(run, "", 0, NULL, 0, &bad_ds, 1, &err) == KS_ERR_CONFIG,
          "dataset 3");
    CHECK(ks_tb_hparams_session_start(run, names2, vals2, 2, "", 0, &err) == KS_ERR_CONFIG,
          "a name given twice");
    CHECK(ks_tb_hparams_session_start(run, name1, &nan, 1, "", 0, &err) == KS_ERR_CONFIG,
          "a NaN value");
    CHECK(ks_tb_hparams_session_start(run, name1, &one, 1, "", 0, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_run_close(run, &err) == KS_OK, "close: %s", err.msg);
    if (load_nth(dir, 0, &f, NULL))
        CHECK(f.n == 3, "version, the control-edge graph and the session: %d records", f.n);
    tfd_free(&f);
}

/* ------------------------------------------------------------ histograms */

static void test_histogram(void)
{
    double h[KS_HISTOGRAM_BUCKETS * 3], sum = 0;
    float x[31], same[3] = {2.5f, 2.5f, 2.5f};
    float odd[7] = {NAN, 1, INFINITY, 2, -INFINITY, 3, NAN};
    float clean[3] = {1, 2, 3}, nans[2] = {NAN, NAN}, one_nan[2] = {NAN, 5};
    double h2[KS_HISTOGRAM_BUCKETS * 3];
    int ok = 1, k = KS_HISTOGRAM_BUCKETS;
    /* 0 … 30: width 1 exactly, value i in bucket i, 30 (the max) in the last */
    for (int i = 0; i <= 30; i++)
        x[i] = (float)i;
    ks_histogram_compute(x, 31, h);
    for (int b = 0; b < k; b++)
        ok &= h[3 * b] == b && h[3 * b + 1] == b + 1 && h[3 * b + 2] == (b == k - 1 ? 2 : 1);
    CHECK(ok, "0..30: unit buckets");
    /* 0 … 9: edges 0.3·b, the last right edge exactly 9, ten buckets of one */
    ks_histogram_compute(x, 10, h);
    ok = h[0] == 0 && h[3 * (k - 1) + 1] == 9;
    for (int b = 0; b < k; b++) {
        int in = 0;
        sum += h[3 * b + 2];
        ok &= fabs(h[3 * b] - 0.3 * b) < 1e-12 && fabs(h[3 * b + 1] - 0.3 * (b + 1)) < 1e-12;
        ok &= h[3 * b + 2] == 0 || h[3 * b + 2] == 1;
        for (int v = 0; v < 10; v++)
            in += v >= h[3 * b] - 1e-9 && v <= h[3 * b + 1] + 1e-9;
        ok &= h[3 * b + 2] == 0 || in >= 1;
        if (b > 0)
            ok &= h[3 * b] == h[3 * (b - 1) + 1];   /* contiguous */
    }
    CHECK(ok && sum == 10, "0..9: edges and counts (sum %g)", sum);
    /* all equal: every edge the value, the count in the last bucket */
    ks_histogram_compute(same, 3, h);
    ok = 1;
    for (int b = 0; b < k; b++)
        ok &= h[3 * b] == 2.5 && h[3 * b + 1] == 2.5 && h[3 * b + 2] == (b == k - 1 ? 3 : 0);
    CHECK(ok, "equal values");
    /* empty: all zeros */
    ks_histogram_compute(x, 0, h);
    ok = 1;
    for (int i = 0; i < 3 * k; i++)
        ok &= h[i] == 0;
    CHECK(ok, "empty data");
    /* non-finite values are skipped */
    ks_histogram_compute(odd, 7, h);
    ks_histogram_compute(clean, 3, h2);
    CHECK(memcmp(h, h2, sizeof h) == 0, "NaN and inf skipped");
    ks_histogram_compute(nans, 2, h);
    ok = 1;
    for (int i = 0; i < 3 * k; i++)
        ok &= h[i] == 0;
    CHECK(ok, "only NaN: as empty");
    ks_histogram_compute(one_nan, 2, h);
    CHECK(h[3 * (k - 1) + 2] == 1 && h[0] == 5 && h[3 * (k - 1) + 1] == 5, "NaN and one value");
    /* negative data, counts add up */
    {
        float y[1000];
        for (int i = 0; i < 1000; i++)
            y[i] = (float)sin(i * 0.37) * 3.0f - 1.0f;
        ks_histogram_compute(y, 1000, h);
        sum = 0;
        for (int b = 0; b < k; b++)
            sum += h[3 * b + 2];
        CHECK(sum == 1000 && h[0] < -3.9 && h[3 * (k - 1) + 1] > 1.9, "1000 values");
    }
}

/* ------------------------------------------------------- protobuf writer */

static void test_pb(void)
{
    ks_pb_buf b = {0};
    unsigned char want[64];
    uint64_t v = 0;
    size_t n, mark, inner;
    int k;
    ks_error err;
    static const int64_t ints[3] = {1, 300, -1};
    ks_pb_uint(&b, 1, 0);
    ks_pb_uint(&b, 1, 300);
    ks_pb_int(&b, 2, -1);
    ks_pb_uint(&b, 3, UINT64_MAX);
    n = hex("08 00 08 ac 02 10 ff ff ff ff ff ff ff ff ff 01 18 ff ff ff ff ff ff ff ff ff 01", want);
    CHECK(b.len == n && memcmp(b.data, want, n) == 0, "varints");
    ks_pb_clear(&b);
    ks_pb_packed_int(&b, 4, ints, 3);
    ks_pb_float(&b, 5, 0.25f);
    ks_pb_double(&b, 6, 1700000000.0);
    ks_pb_bool(&b, 7, 0);
    n = hex("22 0d 01 ac 02 ff ff ff ff ff ff ff ff ff 01 2d 00 00 80 3e 31 00 00 00 40 fc 54 d9 "
            "41 38 00", want);
    CHECK(b.len == n && memcmp(b.data, want, n) == 0, "packed, fixed, bool");
    /* nested messages longer than 127 and 16383 bytes: the length grows, content kept */
    ks_pb_clear(&b);
    mark = ks_pb_begin(&b, 1);
    inner = ks_pb_begin(&b, 2);
    for (int i = 0; i < 20000; i++)
        ks_pb_raw(&b, (unsigned char[1]){(unsigned char)i}, 1);
    ks_pb_end(&b, inner);
    ks_pb_string(&b, 3, "end");
    ks_pb_end(&b, mark);
    REQUIRE(b.status == KS_OK && b.data[0] == 0x0a, "nested");
    k = tfd_varint(b.data + 1, b.data + b.len, &v);
    CHECK(k == 3 && v == b.len - 4, "outer length %llu", (unsigned long long)v);
    CHECK(b.data[4] == 0x12 && tfd_varint(b.data + 5, b.data + b.len, &v) == 3 && v == 20000,
          "inner length");
    CHECK(b.data[8] == 0 && b.data[8 + 19999] == (unsigned char)19999 &&
              memcmp(b.data + b.len - 5, "\x1a\x03" "end", 5) == 0,
          "content moved intact");
    /* strings must be UTF-8 */
    CHECK(ks_pb_utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9), "valid utf-8");
    CHECK(!ks_pb_utf8_valid("\xc0\x80", 2) && !ks_pb_utf8_valid("\xed\xa0\x80", 3) &&
              !ks_pb_utf8_valid("\xf4\x90\x80\x80", 4) && !ks_pb_utf8_valid("\xe2\x82", 2) &&
              !ks_pb_utf8_valid("\x80", 1),
          "invalid utf-8");
    ks_pb_clear(&b);
    ks_pb_string(&b, 1, "\xff");
    CHECK(b.status == KS_ERR_CONFIG && ks_pb_check(&b, "x", &err) == KS_ERR_CONFIG,
          "a bad string fails the buffer");
    ks_pb_free(&b);
}

/* --------------------------------------------------------- concurrency */

typedef struct writer_arg {
    int id;
    ks_status s;
    char msg[600];
} writer_arg;

static void *writer(void *p)
{
    writer_arg *a = p;
    char dir[512];
    ks_tb_run *run = NULL;
    ks_error err;
    float w[100];
    double h[KS_HISTOGRAM_BUCKETS * 3];
    for (int i = 0; i < 100; i++)
        w[i] = (float)(i * a->id);
    ks_histogram_compute(w, 100, h);
    snprintf(dir, sizeof dir, "%s/conc/run-%d", tmpdir, a->id);
    if ((a->s = ks_tb_run_open(dir, &run, &err)) != KS_OK)
        goto out;
    for (int i = 0; i < 100 && a->s == KS_OK; i++)
        if ((a->s = ks_tb_scalar(run, "loss", i, 0, 1.0 / (i + 1), &err)) == KS_OK)
            a->s = ks_tb_scalar(run, "acc", i, 0, i / 100.0, &err);
    if (a->s == KS_OK)
        a->s = ks_tb_histogram(run, "w/histogram", 0, 0, h, &err);
    if (a->s == KS_OK)
        a->s = ks_tb_text(run, "note", 0, 0, "thread", &err);
    if (a->s == KS_OK)
        a->s = ks_tb_run_close(run, &err);
    else
        ks_tb_run_close(run, NULL);
out:
    if (a->s != KS_OK)
        snprintf(a->msg, sizeof a->msg, "%s", err.msg);
    return NULL;
}

static void test_threads(void)
{
    pthread_t th[4];
    writer_arg args[4];
    char names[4][256];
    for (int i = 0; i < 4; i++) {
        args[i].id = i + 1;
        args[i].s = KS_OK;
        args[i].msg[0] = 0;
        REQUIRE(pthread_create(&th[i], NULL, writer, &args[i]) == 0, "thread %d", i);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < 4; i++) {
        char dir[512];
        tfd_file f;
        CHECK(args[i].s == KS_OK, "writer %d: %s", i, args[i].msg);
        snprintf(dir, sizeof dir, "%s/conc/run-%d", tmpdir, i + 1);
        if (load_nth(dir, 0, &f, names[i])) {
            check_common(&f, "thread");
            CHECK(f.n == 1 + 200 + 2, "writer %d: %d records", i, f.n);
        }
        tfd_free(&f);
        for (int j = 0; j < i; j++)   /* the per-process counters differ */
            CHECK(strcmp(names[i], names[j]) != 0, "distinct file names %s %s", names[i],
                  names[j]);
    }
}

static void test_file_name(void)
{
    char name[128];
    ks_tb_file_name(name, sizeof name, 1700000000, "my host/x", 12345, 0);
    CHECK(strcmp(name, "events.out.tfevents.1700000000.my_host_x.12345.0.v2") == 0, "%s", name);
    ks_tb_file_name(name, sizeof name, 5, NULL, 1, 12);
    CHECK(strcmp(name, "events.out.tfevents.0000000005.localhost.1.12.v2") == 0, "%s", name);
}


/* ------------------------------------------------- the tracker and the rewrite */

/* What the event files of one run directory hold (all files, in TensorBoard's order). */
typedef struct run_scan {
    int files, graphs;
    int n;                      /* values of the tag asked for */
    int64_t steps[64];
    double values[64];
    char text[4096];            /* the last text value of the tag */
    int n_start, n_end;         /* hparams session start / end infos */
    int64_t end_status;
    double end_time;
} run_scan;

static void scan_run(const char *dir, const char *tag, run_scan *r)
{
    char *names[16], path[1024];
    int nf = list_events(dir, names, 16);
    memset(r, 0, sizeof *r);
    r->files = nf;
    for (int k = 0; k < nf; k++) {
        tfd_file f;
        snprintf(path, sizeof path, "%s/%s", dir, names[k]);
        CHECK(tfd_load(path, &f) == 0 && !f.partial, "%s: %s", path, f.err);
        check_common(&f, path);
        for (int i = 0; i < f.n; i++) {
            const tfd_msg *v = tfd_sub(f.ev[i], "summary.value");
            const tfd_msg *ei;
            r->graphs += tfd_has(f.ev[i], "graph_def");
            if (!v)
                continue;
            r->n_start += tfd_streq(v, "tag", "_hparams_/session_start_info");
            if ((ei = tfd_sub(v, "metadata.plugin_data.content.session_end_info"))) {
                r->n_end++;
                r->end_status = tfd_int(ei, "status");
                r->end_time = tfd_double(ei, "end_time_secs");
            }
            if (!tfd_streq(v, "tag", tag) || r->n >= 64)
                continue;
            r->steps[r->n] = tfd_int(f.ev[i], "step");
            if (tfd_int(v, "tensor.dtype") == 7) {
                const tfd_field *sv = tfd_path(v, "tensor.string_val");
                snprintf(r->text, sizeof r->text, "%.*s", sv ? (int)sv->len : 0,
                         sv ? (const char *)sv->p : "");
            } else {
                tfd_reals(tfd_sub(v, "tensor"), "float_val", &r->values[r->n], 1);
            }
            r->n++;
        }
        tfd_free(&f);
    }
    free_names(names, nf);
}

static ks_model *small_model(void)
{
    ks_value layers, compile;
    ks_model *m = NULL;
    ks_error err;
    if (ks_yaml_load_text("[{Dense: {units: 6, activation: relu, input_shape: [4]}},"
                          " {Dense: {units: 3, activation: softmax}}]",
                          "layers", &layers, &err) != KS_OK) {
        CHECK(0, "layers: %s", err.msg);
        return NULL;
    }
    if (ks_yaml_load_text("{optimizer: {SGD: {learning_rate: 0.05}}, loss: "
                          "sparse_categorical_crossentropy, metrics: [accuracy]}",
                          "compile", &compile, &err) != KS_OK) {
        CHECK(0, "compile: %s", err.msg);
        ks_value_free(&layers);
        return NULL;
    }
    CHECK(ks_model_from_config(&layers, NULL, 3, &m, &err) == KS_OK &&
              ks_model_compile(m, &compile, &err) == KS_OK,
          "model: %s", err.msg);
    ks_value_free(&layers);
    ks_value_free(&compile);
    return m;
}

#define TR_N 40                 /* samples; batches of 8: 5 optimizer steps per epoch */
static float tr_x[TR_N * 4], tr_y[TR_N];

static ks_data tr_data(void)
{
    ks_data d;
    memset(&d, 0, sizeof d);
    for (int i = 0; i < TR_N; i++) {
        for (int j = 0; j < 4; j++)
            tr_x[i * 4 + j] = (float)((i * 7 + j * 3) % 11) / 11.0f;
        tr_y[i] = (float)(i % 3);
    }
    d.n = TR_N;
    d.x_shape.ndim = 1;
    d.x_shape.dim[0] = 4;
    d.x_size = 4;
    d.x = tr_x;
    d.y_size = 1;
    d.y = tr_y;
    d.y_is_label = 1;
    d.n_classes = 3;
    return d;
}

/* The recorder's records committed at once, in the fit's thread (an inline sink). */
static ks_status commit_inline(void *user, ks_record *r, ks_error *err)
{
    ks_status s = r->kind == KS_RECORD_END ? KS_OK : ks_committer_put(user, r, err);
    ks_record_free(r);
    return s;
}

/*
 * One segment of a trial: a fit from initial_epoch to epochs, recorded as a study's
 * trial is (a recorder in the fit, its records to a committer; checkpoints every epoch,
 * the best kept; the model summary with summary_params when not NULL).  Returns the
 * committer, for ks_committer_end.
 */
static ks_committer *segment(ks_model *m, const ks_tracker_options *opt,
                             const char *summary_params, int initial_epoch, int epochs)
{
    ks_committer *c = NULL;
    ks_callback *cb = NULL;
    ks_recorder_options ro;
    ks_data d = tr_data();
    ks_fit_params p = ks_fit_params_default();
    ks_error err;
    memset(&ro, 0, sizeof ro);
    ro.objective = opt->objective;
    ro.maximize = opt->maximize;
    ro.best_so_far = NAN;
    ro.checkpoints = 1;
    ro.policy.every = 1;
    ro.policy.keep_best = 1;
    ro.histogram_freq = opt->histogram_freq;
    ro.update_freq = opt->update_freq;
    ro.write_graph = opt->write_graph;
    ro.write_summary = summary_params != NULL;
    ro.summary_params = summary_params;
    if (ks_committer_new(opt, &c, &err) != KS_OK ||
        (ro.sink = (ks_record_sink){commit_inline, c}, ks_recorder_new(&ro, &cb, &err)) != KS_OK) {
        CHECK(0, "tracker: %s", err.msg);
        exit(check_done());
    }
    p.epochs = epochs;
    p.initial_epoch = initial_epoch;
    p.batch_size = 8;
    p.verbose = 0;
    p.shuffle = 0;
    CHECK(ks_model_fit(m, &d, &d, &p, &cb, 1, NULL, &err) == KS_OK, "fit: %s", err.msg);
    ks_callback_free(cb);
    return c;
}

/* A trial in two segments (a kill and a resume, or a Hyperband promotion): one graph,
   one summary, one session start, and one session end, written by the final segment. */
static void test_tracker_segments(ks_db *db, int64_t study_id, const char *log_dir,
                                  int64_t *trial_out, char *summary_out, size_t summary_size)
{
    ks_model *m = small_model();
    ks_committer *cb;
    ks_tracker_options opt;
    ks_trial_info info;
    ks_metric_point *p = NULL;
    ks_error err;
    run_scan r;
    char dir[600], *summary = NULL;
    const char *params = "{\"units\": 6, \"act\": \"a|b\"}";
    const char *hp_names[1] = {"units"};
    ks_hp_value hp_values[1] = {{KS_HP_FLOAT, 6, NULL, 0}};
    int64_t id;
    int n = 0;
    if (!m)
        return;
    REQUIRE(ks_db_trial_add(db, study_id, 0, params, 1, 4, &id, &err) == KS_OK, "%s", err.msg);
    *trial_out = id;
    REQUIRE(ks_tracker_summary_text(m, params, &summary, &err) == KS_OK, "%s", err.msg);
    CHECK(strstr(summary, "| units | 6 |") && strstr(summary, "| act | a\\|b |") &&
              strstr(summary, "\n    Total params: ") && strstr(summary, "    Model: "),
          "summary text: parameters as a table, the model as a code block:\n%s", summary);
    snprintf(summary_out, summary_size, "%s", summary);
    memset(&opt, 0, sizeof opt);
    opt.db = db;
    opt.trial_id = id;
    opt.objective = "val_loss";
    opt.log_dir = log_dir;
    opt.run_name = "trial-0000";
    opt.write_graph = 1;
    opt.n_hparams = 1;
    opt.hparam_names = hp_names;
    opt.hparam_values = hp_values;

    /* a rung of 2 epochs that may be promoted: no session end */
    CHECK(ks_db_trial_set_status(db, id, KS_TRIAL_RUNNING, NULL, &err) == KS_OK, "%s", err.msg);
    cb = segment(m, &opt, params, 0, 2);
    CHECK(ks_committer_end(cb, KS_TRIAL_COMPLETE, NULL, 0, NULL, &err) == KS_OK, "%s", err.msg);
    ks_committer_free(cb);
    snprintf(dir, sizeof dir, "%s/trial-0000", log_dir);
    scan_run(dir, "model_summary", &r);
    CHECK(r.n_end == 0 && r.n_start == 1 && r.n == 1, "rung: %d ends, %d starts, %d summaries",
          r.n_end, r.n_start, r.n);
    /* promoted to 4 epochs, and failing there: the one end says FAILURE */
    CHECK(ks_db_trial_set_status(db, id, KS_TRIAL_RUNNING, NULL, &err) == KS_OK, "%s", err.msg);
    cb = segment(m, &opt, params, 2, 4);
    CHECK(ks_committer_end(cb, KS_TRIAL_FAILED, "boom", 1, NULL, &err) == KS_OK, "%s", err.msg);
    ks_committer_free(cb);
    REQUIRE(ks_db_trial_get(db, id, &info, &err) == KS_OK, "%s", err.msg);
    scan_run(dir, "model_summary", &r);
    CHECK(r.files == 2 && r.n_end == 1 && r.end_status == KS_TB_STATUS_FAILURE &&
              r.end_time == info.ended,
          "one session end, FAILURE at the database's end time (%d ends, status %lld, %.3f vs "
          "%.3f)",
          r.n_end, (long long)r.end_status, r.end_time, info.ended);
    CHECK(r.n_start == 1 && r.n == 1 && strcmp(r.text, summary) == 0,
          "one session start (%d) and one model summary (%d), the text given", r.n_start, r.n);
    ks_trial_info_free(&info);
    snprintf(dir, sizeof dir, "%s/trial-0000/train", log_dir);
    scan_run(dir, "epoch_learning_rate", &r);
    CHECK(r.files == 2 && r.graphs == 1, "the graph once (%d in %d files)", r.graphs, r.files);
    CHECK(r.n == 4 && r.steps[3] == 3 && fabs(r.values[3] - 0.05) < 1e-7,
          "epoch_learning_rate each epoch (%d)", r.n);
    snprintf(dir, sizeof dir, "%s/trial-0000/validation", log_dir);
    scan_run(dir, "evaluation_loss_vs_iterations", &r);
    CHECK(r.n == 4, "evaluation_loss_vs_iterations: %d points", r.n);
    for (int e = 0; e < r.n; e++)
        CHECK(r.steps[e] == 5 * (e + 1), "evaluation step %d: %lld", e, (long long)r.steps[e]);

    /* the database keeps what the rewrite needs: the rate and the step count per epoch */
    CHECK(ks_db_metric_series(db, id, KS_METRIC_ITERATIONS, 0, &p, &n, &err) == KS_OK && n == 4,
          "iterations stored: %d", n);
    for (int e = 0; e < n; e++)
        CHECK(p[e].epoch == e && p[e].value == 5.0 * (e + 1), "iterations at epoch %d: %g", e,
              p[e].value);
    free(p);
    p = NULL;
    CHECK(ks_db_metric_series(db, id, "learning_rate", 0, &p, &n, &err) == KS_OK && n == 4 &&
              fabs(p[0].value - 0.05) < 1e-7,
          "learning_rate stored: %d", n);
    free(p);
    free(summary);
    ks_model_free(m);
}

/*
 * A trial whose best epoch comes before a resume or a promotion: the objective, its
 * epoch and the best checkpoint span every epoch however the fit was split, and the
 * live best_<metric> series continues instead of starting again at the split.  The
 * objective is val_loss maximized, so that the first epoch (val_loss falls) is best.
 */
static void test_best_across_segments(ks_db *db, const char *log_dir, const char *re)
{
    ks_model *m = small_model();
    ks_committer *cb;
    ks_tracker_options opt;
    ks_trial_info info;
    ks_metric_point *p = NULL;
    ks_study_info st;
    ks_error err;
    run_scan r, rr;
    char dir[1400];
    double best = NAN, running[8];
    int64_t id;
    int n = 0, best_epoch = -1, ckpt_epoch = -1, created;
    unsigned char *blob = NULL;
    size_t len = 0;
    if (!m)
        return;
    REQUIRE(ks_db_study_open(db, "max", "name: max\nsearch:\n  method: random\n", "h",
                             "val_loss", 1, &st, &created, &err) == KS_OK,
            "%s", err.msg);
    REQUIRE(ks_db_trial_add(db, st.id, 0, "{}", 1, 6, &id, &err) == KS_OK, "%s", err.msg);
    ks_study_info_free(&st);
    memset(&opt, 0, sizeof opt);
    opt.db = db;
    opt.trial_id = id;
    opt.objective = "val_loss";
    opt.maximize = 1;
    opt.log_dir = log_dir;
    opt.run_name = "trial-0000";
    /* three segments: epochs 0-1, 2-3 (a resume), 4-5 (a promotion), a tracker each */
    for (int k = 0; k < 3; k++) {
        CHECK(ks_db_trial_set_status(db, id, KS_TRIAL_RUNNING, NULL, &err) == KS_OK, "%s",
              err.msg);
        cb = segment(m, &opt, NULL, 2 * k, 2 * k + 2);
        CHECK(ks_committer_end(cb, KS_TRIAL_COMPLETE, NULL, k == 2, NULL, &err) == KS_OK, "%s",
              err.msg);
        ks_committer_free(cb);
    }
    REQUIRE(ks_db_metric_series(db, id, "val_loss", 0, &p, &n, &err) == KS_OK && n == 6,
            "val_loss rows: %d", n);
    for (int e = 0; e < n; e++) {
        if (!isnan(p[e].value) && (isnan(best) || p[e].value > best)) {
            best = p[e].value;
            best_epoch = e;
        }
        running[e] = best;
    }
    free(p);
    CHECK(best_epoch >= 0 && best_epoch < 2, "set-up: the best epoch (%d) is in the first "
                                             "segment", best_epoch);
    REQUIRE(ks_db_trial_get(db, id, &info, &err) == KS_OK, "%s", err.msg);
    CHECK(info.objective == best && info.best_epoch == best_epoch,
          "objective over every epoch: %.6g at epoch %d, expected %.6g at epoch %d",
          info.objective, info.best_epoch, best, best_epoch);
    ks_trial_info_free(&info);
    CHECK(ks_db_checkpoint_get(db, id, KS_CHECKPOINT_BEST, &blob, &len, &ckpt_epoch, &err) ==
                  KS_OK &&
              ckpt_epoch == best_epoch,
          "the best checkpoint is epoch %d's (got %d)", best_epoch, ckpt_epoch);
    free(blob);
    snprintf(dir, sizeof dir, "%s/trial-0000", log_dir);
    scan_run(dir, "best_val_loss", &r);
    CHECK(r.n == 6, "best_val_loss: a point per epoch (%d)", r.n);
    for (int e = 0; e < r.n && e < 6; e++)
        CHECK(r.steps[e] == e && r.values[e] == (double)(float)running[e],
              "best_val_loss at epoch %lld: %.6g, the best so far is %.6g",
              (long long)r.steps[e], r.values[e], running[e]);
    /* ksearch tensorboard writes the same series from the database */
    CHECK(ks_tb_rewrite(db, "max", re, &err) == KS_OK, "rewrite: %s", err.msg);
    snprintf(dir, sizeof dir, "%s/trial-0000", re);
    scan_run(dir, "best_val_loss", &rr);
    CHECK(rr.n == r.n, "best_val_loss: %d points live, %d rewritten", r.n, rr.n);
    for (int e = 0; e < r.n && e < rr.n; e++)
        CHECK(r.steps[e] == rr.steps[e] && r.values[e] == rr.values[e],
              "best_val_loss at %lld: live %.6g, rewritten %.6g", (long long)r.steps[e],
              r.values[e], rr.values[e]);
    ks_model_free(m);
}

/*
 * ksearch tensorboard writes the HParams domains the study declared (kept in study.db
 * when it started), as the live writer does, not the ones its trials' values span; a
 * study that does not keep them (a schema 1 file) gets the values' span.
 */
static void test_rewrite_declared(ks_db *db, const char *re)
{
    char opts[] = "[\"adam\",\"sgd\",\"rmsprop\"]";
    ks_search_param params[2] = {{"lr", KS_SEARCH_FLOAT, 1e-4, 0.1, 0, 1, NULL},
                                 {"opt", KS_SEARCH_CHOICE, 0, 0, 0, 0, opts}};
    ks_search_info search = {"random", 10, 10, 3, 1, 2, params};
    const char *names[2] = {"decl", "undecl"};
    for (int k = 0; k < 2; k++) {
        ks_study_info st;
        ks_error err;
        tfd_file f;
        const tfd_msg *x;
        char dir[700];
        int created;
        int64_t id;
        REQUIRE(ks_db_study_open(db, names[k], "search: {}\n", "h", "val_loss", 0, &st,
                                 &created, &err) == KS_OK,
                "%s", err.msg);
        CHECK(ks_db_trial_add(db, st.id, 0, "{\"lr\": 0.01, \"opt\": \"adam\"}", 1, 1, &id,
                              &err) == KS_OK &&
                  ks_db_trial_add(db, st.id, 1, "{\"lr\": 0.02, \"opt\": \"sgd\"}", 2, 1, &id,
                                  &err) == KS_OK,
              "%s", err.msg);
        if (k == 0)
            CHECK(ks_db_study_set_context(db, st.id, "/data", &search, &err) == KS_OK, "%s",
                  err.msg);
        ks_study_info_free(&st);
        snprintf(dir, sizeof dir, "%s/%s", re, names[k]);
        CHECK(ks_tb_rewrite(db, names[k], dir, &err) == KS_OK, "rewrite: %s", err.msg);
        if (!load_nth(dir, 0, &f, NULL))
            continue;
        x = tfd_sub(tfd_sub(f.ev[1], "summary.value"), "metadata.plugin_data.content.experiment");
        REQUIRE(x && tfd_count(x, "hparam_infos") == 2, "%s: an experiment of 2 hparams",
                names[k]);
        CHECK(tfd_streq(x, "hparam_infos[0].name", "lr") &&
                  tfd_double(x, "hparam_infos[0].domain_interval.min_value") ==
                      (k ? 0.01 : 1e-4) &&
                  tfd_double(x, "hparam_infos[0].domain_interval.max_value") ==
                      (k ? 0.02 : 0.1),
              "%s: lr over [%g, %g]", names[k],
              tfd_double(x, "hparam_infos[0].domain_interval.min_value"),
              tfd_double(x, "hparam_infos[0].domain_interval.max_value"));
        CHECK(tfd_streq(x, "hparam_infos[1].name", "opt") &&
                  tfd_count(tfd_sub(x, "hparam_infos[1].domain_discrete"), "values") ==
                      (k ? 2 : 3) &&
                  (k || tfd_streq(x, "hparam_infos[1].domain_discrete.values[2].string_value",
                                  "rmsprop")),
              "%s: opt's %d values", names[k],
              tfd_count(tfd_sub(x, "hparam_infos[1].domain_discrete"), "values"));
        tfd_free(&f);
    }
}

/* A Hyperband trial pruned at the end: its one session end, without a live callback. */
static void test_session_end_at(const char *log_dir)
{
    char dir[600];
    ks_error err;
    run_scan r;
    snprintf(dir, sizeof dir, "%s/trial-0001", log_dir);
    CHECK(ks_tb_hparams_session_end_at(dir, KS_TRIAL_PRUNED, 1700000123.5, &err) == KS_OK, "%s",
          err.msg);
    scan_run(dir, "", &r);
    CHECK(r.files == 1 && r.n_end == 1 && r.end_status == KS_TB_STATUS_SUCCESS &&
              r.end_time == 1700000123.5,
          "pruned: SUCCESS at the given time");
    CHECK(ks_tb_hparams_session_end_at(log_dir, KS_TRIAL_STATUS_COUNT, 0, &err) == KS_ERR_CONFIG,
          "an unknown status is refused");
}

static void stale_event_file(const char *dir)
{
    ks_tb_run *run = NULL;
    ks_error err;
    REQUIRE(ks_tb_run_open(dir, &run, &err) == KS_OK, "%s", err.msg);
    CHECK(ks_tb_scalar(run, "stale", 0, 0, 1.0, &err) == KS_OK, "%s", err.msg);
    ks_tb_run_close(run, NULL);
}

static void test_tracker_and_rewrite(void)
{
    char db_path[512], live[512], re[512], fit_dir[512], dir[700], max_re[700], summary[4096];
    ks_db *db = NULL;
    ks_study_info st, fst;
    ks_error err;
    run_scan r;
    struct stat sb;
    int created;
    int64_t trial_id = 0, fit_trial;
    sub(db_path, sizeof db_path, "track.db");
    sub(live, sizeof live, "live");
    sub(re, sizeof re, "rewrite");
    sub(fit_dir, sizeof fit_dir, "fitlogs");
    memset(&st, 0, sizeof st);
    memset(&fst, 0, sizeof fst);
    REQUIRE(ks_db_open(db_path, 1, &db, &err) == KS_OK, "%s", err.msg);
    REQUIRE(ks_db_study_open(db, "s", "name: s\nsearch:\n  method: random\n", "h", "val_loss", 0,
                             &st, &created, &err) == KS_OK,
            "%s", err.msg);
    test_tracker_segments(db, st.id, live, &trial_id, summary, sizeof summary);
    test_session_end_at(live);
    snprintf(dir, sizeof dir, "%s/max", live);
    snprintf(max_re, sizeof max_re, "%s/max", re);
    test_best_across_segments(db, dir, max_re);
    test_rewrite_declared(db, re);

    /* the rewrite of a study: the live layout, one end, the series live writes */
    stale_event_file(re);       /* nothing of an earlier rewrite stays */
    CHECK(ks_tb_rewrite(db, "s", re, &err) == KS_OK, "rewrite: %s", err.msg);
    scan_run(re, "stale", &r);
    CHECK(r.files == 1 && r.n == 0, "root: the experiment only (%d files)", r.files);
    snprintf(dir, sizeof dir, "%s/trial-0000", re);
    scan_run(dir, "model_summary", &r);
    CHECK(r.n_end == 1 && r.end_status == KS_TB_STATUS_FAILURE && r.n_start == 1,
          "rewrite: one end (%d), FAILURE", r.n_end);
    CHECK(r.n == 1 && strcmp(r.text, summary) == 0,
          "rewrite: the model summary rebuilt from the checkpoint, as live:\n%s", r.text);
    snprintf(dir, sizeof dir, "%s/trial-0000/train", re);
    scan_run(dir, "epoch_learning_rate", &r);
    CHECK(r.n == 4 && fabs(r.values[2] - 0.05) < 1e-7 && r.graphs == 1,
          "rewrite: epoch_learning_rate (%d), one graph", r.n);
    scan_run(dir, "epoch_iterations", &r);
    CHECK(r.n == 0, "the step count is not a series");
    snprintf(dir, sizeof dir, "%s/trial-0000/validation", re);
    scan_run(dir, "evaluation_loss_vs_iterations", &r);
    CHECK(r.n == 4 && r.steps[0] == 5 && r.steps[3] == 20, "rewrite: evaluation steps");

    /* the rewrite of a `ksearch fit` run (no search section, whatever else says
       "search"): Keras's layout, with every event file of the other layout removed */
    REQUIRE(ks_db_study_open(db, "f", "name: search\ndata: {search: 1}\nfit: {epochs: 2}\n", "h",
                             "val_loss", 0, &fst, &created, &err) == KS_OK,
            "%s", err.msg);
    REQUIRE(ks_db_trial_add(db, fst.id, 0, "{}", 1, 2, &fit_trial, &err) == KS_OK, "%s",
            err.msg);
    {
        ks_model *m = small_model();
        ks_tracker_options opt;
        ks_committer *cb;
        if (!m) {
            ks_db_close(db);
            return;
        }
        memset(&opt, 0, sizeof opt);
        opt.db = db;
        opt.trial_id = fit_trial;
        opt.objective = "val_loss";
        cb = segment(m, &opt, NULL, 0, 2);
        CHECK(ks_committer_end(cb, KS_TRIAL_COMPLETE, NULL, 1, NULL, &err) == KS_OK, "%s", err.msg);
        ks_committer_free(cb);
        ks_model_free(m);
    }
    stale_event_file(fit_dir);
    snprintf(dir, sizeof dir, "%s/trial-0000/train", fit_dir);
    stale_event_file(dir);
    snprintf(dir, sizeof dir, "%s/trial-0000", fit_dir);
    stale_event_file(dir);
    CHECK(ks_tb_rewrite(db, "f", fit_dir, &err) == KS_OK, "rewrite: %s", err.msg);
    scan_run(fit_dir, "", &r);
    CHECK(r.files == 0, "fit: no root run (%d files)", r.files);
    CHECK(stat(dir, &sb) != 0, "fit: the trial-0000 runs are gone");
    snprintf(dir, sizeof dir, "%s/train", fit_dir);
    scan_run(dir, "model_summary", &r);
    CHECK(r.files == 1 && r.graphs == 1 && r.n == 1 && strstr(r.text, "    Model: ") &&
              !strstr(r.text, "Parameters"),
          "fit: train holds the graph and the summary");
    scan_run(dir, "epoch_learning_rate", &r);
    CHECK(r.n == 2, "fit: epoch_learning_rate (%d)", r.n);
    snprintf(dir, sizeof dir, "%s/validation", fit_dir);
    scan_run(dir, "evaluation_accuracy_vs_iterations", &r);
    CHECK(r.files == 1 && r.n == 2 && r.steps[1] == 10 && r.n_end == 0, "fit: validation run");
    ks_study_info_free(&st);
    ks_study_info_free(&fst);
    ks_db_close(db);
}

/* ------------------------------------------------------------------ main */

/*
 * The HParams domains of a declared search (what the live writer and the rewrite both
 * show): an int or float is its interval, a choice its values typed by the first; a
 * damaged choice list is an error.
 */
static void test_search_domains(void)
{
    char acts[] = "[\"relu\",\"tanh\"]", flags[] = "[true,false]",
         sizes[] = "[16,null,32,\"auto\",[1,2],64]", bad[] = "{\"relu\": 1}";
    ks_search_param p[5] = {{"units", KS_SEARCH_INT, 8, 128, 8, 0, NULL},
                            {"lr", KS_SEARCH_FLOAT, 1e-4, 0.1, 0, 1, NULL},
                            {"act", KS_SEARCH_CHOICE, 0, 0, 0, 0, acts},
                            {"bn", KS_SEARCH_CHOICE, 0, 0, 0, 0, flags},
                            {"batch", KS_SEARCH_CHOICE, 0, 0, 0, 0, sizes}};
    ks_search_info search = {"random", 5, 5, 3, 1, 5, p};
    ks_hp_domains d;
    ks_error err;
    REQUIRE(ks_hp_domains_from_search(&search, &d, &err) == KS_OK, "%s", err.msg);
    REQUIRE(d.n == 5, "5 domains (%d)", d.n);
    CHECK(strcmp(d.info[0].name, "units") == 0 && !d.info[0].discrete &&
              d.info[0].type == KS_HP_FLOAT && d.info[0].min == 8 && d.info[0].max == 128,
          "an int: the interval [8, 128]");
    CHECK(!d.info[1].discrete && d.info[1].min == 1e-4 && d.info[1].max == 0.1,
          "a float: its interval");
    CHECK(d.info[2].discrete && d.info[2].type == KS_HP_STRING && d.info[2].n_values == 2 &&
              strcmp(d.info[2].values[1].string, "tanh") == 0,
          "strings");
    CHECK(d.info[3].discrete && d.info[3].type == KS_HP_BOOL && d.info[3].n_values == 2 &&
              d.info[3].values[0].boolean == 1 && d.info[3].values[1].boolean == 0,
          "booleans");
    CHECK(d.info[4].discrete && d.info[4].type == KS_HP_FLOAT && d.info[4].n_values == 3 &&
              d.info[4].values[2].number == 64,
          "numbers, without null, a list or a value of another type: %d",
          d.info[4].n_values);
    {
        /* what a study writes with them */
        char dir[600];
        ks_tb_run *root = NULL;
        snprintf(dir, sizeof dir, "%s/domains", tmpdir);
        CHECK(ks_tb_run_open(dir, &root, &err) == KS_OK &&
                  ks_tb_study_experiment(root, "s", 1700000000, "val_accuracy", d.info, d.n,
                                         NULL, 0, &err) == KS_OK,
              "the experiment: %s", err.msg);
        ks_tb_run_close(root, &err);
    }
    ks_hp_domains_free(&d);
    ks_hp_domains_free(&d);     /* twice: a no-op */
    p[3].choices = bad;
    CHECK(ks_hp_domains_from_search(&search, &d, &err) == KS_ERR_CORRUPT && d.n == 0 &&
              strstr(err.msg, "bn"),
          "damaged choices: %s", err.msg);
    search.n_params = 0;
    CHECK(ks_hp_domains_from_search(&search, &d, &err) == KS_OK && d.n == 0 && !d.info,
          "no parameters: no domains");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* A functional model's graph: a node per call (a shared sub-model twice), the edges. */
static void test_model_graph(void)
{
    char dir[512];
    ks_tb_run *run = NULL;
    ks_model *m = NULL;
    ks_value v;
    ks_error err;
    tfd_file f;
    REQUIRE(ks_yaml_load_text("{models: {enc: [{Dense: {units: 3}}]},"
                              " layers: [{Input: {shape: [4], name: a}}, {Input: {shape: [4], name: b}},"
                              " {enc: {inputs: a, name: left}}, {enc: {inputs: b, name: right}},"
                              " {Subtract: {inputs: [left, right], name: diff}}]}",
                              "m", &v, &err) == KS_OK &&
                ks_model_from_config(&v, NULL, 1, &m, &err) == KS_OK,
            "siamese: %s", err.msg);
    ks_value_free(&v);
    sub(dir, sizeof dir, "graph/train");
    REQUIRE(ks_tb_run_open(dir, &run, &err) == KS_OK, "open: %s", err.msg);
    CHECK(ks_tb_model_graph(run, m, 0, &err) == KS_OK, "graph: %s", err.msg);
    CHECK(ks_tb_run_close(run, &err) == KS_OK, "close: %s", err.msg);
    if (load_nth(dir, 0, &f, NULL)) {
        const tfd_msg *g = tfd_sub(f.ev[1], "graph_def");
        static const char *const names[] = {"a", "b", "left/dense", "right/dense", "diff"};
        REQUIRE(g && tfd_count(g, "node") == 5, "5 nodes, got %d", g ? tfd_count(g, "node") : 0);
        for (int i = 0; i < 5; i++)
            CHECK(tfd_streq(tfd_get(g, "node", i)->msg, "name", names[i]), "node %d: %s", i,
                  names[i]);
        {
            const tfd_msg *diff = tfd_get(g, "node", 4)->msg;
            CHECK(tfd_count(diff, "input") == 2 && tfd_streq(diff, "input", "left/dense") &&
                      tfd_streq(diff, "op", "Subtract"),
                  "diff reads both calls");
            CHECK(tfd_streq(tfd_get(g, "node", 3)->msg, "input", "b") &&
                      tfd_streq(tfd_get(g, "node", 3)->msg, "op", "Dense"),
                  "the second call reads b");
        }
        tfd_free(&f);
    }
    ks_model_free(m);
}

/* A whole file into buf (NUL-terminated); its length, or -1. */
static long slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n;
    if (!f)
        return -1;
    n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (long)n;
}

/* embeddings_freq: projector_config.pbtxt in the train run, the tokens of the
   TextVectorization that makes the Embedding's ids, and its vectors as they were at the
   last epoch N divides (Keras's epochs 0, N, 2N …). */
static void test_projector(void)
{
    static const char *const texts[] = {"red fish", "blue fish", "one fish two", "red"};
    static char buf[65536];
    const char *cells[TR_N];
    float y[TR_N], w[6 * 2];
    char dir[512], path[700];
    ks_value v, c;
    ks_model *m = NULL;
    ks_error err;
    ks_data d;
    ks_fit_params p = ks_fit_params_default();
    ks_tracker_options opt;
    ks_recorder_options ro;
    ks_committer *com = NULL;
    ks_callback *cb = NULL;
    REQUIRE(ks_yaml_load_text("[{Input: {shape: [1], dtype: string}}, {TextVectorization: "
                              "{output_sequence_length: 3, vocabulary: [fish, red, blue]}}, "
                              "{Embedding: {input_dim: 6, output_dim: 2, name: words}}, "
                              "{Flatten: {}}, {Dense: {units: 3, activation: softmax}}]",
                              "m", &v, &err) == KS_OK &&
                ks_yaml_load_text("{optimizer: adam, loss: sparse_categorical_crossentropy}",
                                  "c", &c, &err) == KS_OK &&
                ks_model_from_config(&v, NULL, 1, &m, &err) == KS_OK &&
                ks_model_compile(m, &c, &err) == KS_OK,
            "text model: %s", err.msg);
    ks_value_free(&v);
    ks_value_free(&c);
    memset(&d, 0, sizeof d);
    for (int i = 0; i < TR_N; i++) {
        cells[i] = texts[i % 4];
        y[i] = (float)(i % 3);
    }
    d.n = TR_N;
    d.n_inputs = 1;
    d.inputs[0].shape.ndim = 1;
    d.inputs[0].shape.dim[0] = 1;
    d.inputs[0].size = 1;
    d.inputs[0].text = cells;
    d.y = y;
    d.y_size = 1;
    d.y_is_label = 1;
    d.n_classes = 3;
    memset(&opt, 0, sizeof opt);
    sub(dir, sizeof dir, "projector");
    opt.log_dir = dir;
    opt.run_name = "";
    opt.embeddings_freq = 2;
    /* the recorder makes the files in the fit, the committer writes them */
    memset(&ro, 0, sizeof ro);
    ro.best_so_far = NAN;
    ro.embeddings_freq = opt.embeddings_freq;
    REQUIRE(ks_committer_new(&opt, &com, &err) == KS_OK &&
                (ro.sink = (ks_record_sink){commit_inline, com},
                 ks_recorder_new(&ro, &cb, &err)) == KS_OK,
            "tracker: %s", err.msg);
    p.epochs = 2;           /* vectors written after epoch 0 only */
    p.batch_size = 8;
    p.verbose = 0;
    CHECK(ks_model_fit(m, &d, NULL, &p, &cb, 1, NULL, &err) == KS_OK, "fit 2: %s", err.msg);
    memcpy(w, ks_model_weight_data(m, 0), 6 * 2 * sizeof(float));
    p.epochs = 3;           /* and after epoch 2 */
    p.initial_epoch = 2;
    CHECK(ks_model_fit(m, &d, NULL, &p, &cb, 1, NULL, &err) == KS_OK, "fit 3: %s", err.msg);
    ks_callback_free(cb);
    CHECK(ks_committer_end(com, KS_TRIAL_COMPLETE, NULL, 0, NULL, &err) == KS_OK, "%s", err.msg);
    ks_committer_free(com);
    snprintf(path, sizeof path, "%s/train/projector_config.pbtxt", dir);
    CHECK(slurp(path, buf, sizeof buf) > 0 &&
              strcmp(buf, "embeddings {\n  tensor_name: \"words/embeddings\"\n  tensor_shape: 6\n"
                          "  tensor_shape: 2\n  tensor_path: \"embeddings/words.tsv\"\n"
                          "  metadata_path: \"embeddings/words_metadata.tsv\"\n}\n") == 0,
          "projector_config.pbtxt: %s", buf);
    snprintf(path, sizeof path, "%s/train/embeddings/words_metadata.tsv", dir);
    CHECK(slurp(path, buf, sizeof buf) > 0 &&
              strcmp(buf, "[PAD]\n[UNK]\nfish\nred\nblue\n#5\n") == 0,
          "one token per id: %s", buf);
    snprintf(path, sizeof path, "%s/train/embeddings/words.tsv", dir);
    if (slurp(path, buf, sizeof buf) > 0) {
        const float *now = ks_model_weight_data(m, 0);
        char *q = buf;
        int same = 1, rows = 0;
        for (int i = 0; i < 12; i++) {
            float x = strtof(q, &q);
            same &= x == now[i];
            rows += *q == '\n';
            q += *q != '\0';
        }
        CHECK(same && rows == 6 && *q == '\0' && memcmp(w, now, sizeof w) != 0,
              "the vectors after epoch 2, 6 rows of 2, exactly");
    } else {
        CHECK(0, "no %s", path);
    }
    ks_model_free(m);
}

/* Files that come in records are written inside their run directory only. */
static void test_files_write(void)
{
    static const char *const bad[] = {"../up.tsv", "/abs.tsv", "", "a//b.tsv",
                                      "embeddings/./x.tsv", "embeddings/../../x", "x/"};
    char dir[512], path[700], buf[64];
    ks_tb_file f;
    ks_error err;
    sub(dir, sizeof dir, "files");
    f.data = (unsigned char *)"1\t2\n";
    f.len = 4;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        f.name = (char *)bad[i];
        CHECK(ks_tb_files_write(dir, &f, 1, &err) == KS_ERR_CORRUPT &&
                  strstr(err.msg, "would leave its run directory"),
              "\"%s\" refused: %s", bad[i], err.msg);
    }
    snprintf(path, sizeof path, "%s/../up.tsv", dir);
    CHECK(access(path, F_OK) != 0, "nothing written outside");
    f.name = (char *)"embeddings/..x.tsv";
    CHECK(ks_tb_files_write(dir, &f, 1, &err) == KS_OK, "a plain name: %s", err.msg);
    snprintf(path, sizeof path, "%s/embeddings/..x.tsv", dir);
    CHECK(slurp(path, buf, sizeof buf) == 4 && strcmp(buf, "1\t2\n") == 0, "written: %s", buf);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ks_tb_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_crc();
    test_vectors_ad();
    test_vectors_bce();
    test_file_name();
    test_run();
    test_partial_and_crc();
    test_decoder_strict();
    test_hparams();
    test_search_domains();
    test_tag_reuse();
    test_open_rules();
    test_bad_input();
    test_histogram();
    test_pb();
    test_threads();
    test_tracker_and_rewrite();
    test_model_graph();
    test_projector();
    test_files_write();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return check_done();
}
