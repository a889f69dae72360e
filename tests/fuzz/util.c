/*
 * util.c — the helpers every fuzz target links: temporary files, checksum fix-ups,
 * failing loudly on a broken property, and the round trip that every model which loads
 * or builds must survive (predict, summary, save, load, save again: the same bytes).
 */
#include "../../engine/engine_impl.h"
#include "fuzz.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ------------------------------------------------------------- temporary files */

#define FUZZ_MAX_TEMPS 8

static char temp_paths[FUZZ_MAX_TEMPS][256];
static int n_temps;

static void remove_temps(void)
{
    for (int i = 0; i < n_temps; i++)
        unlink(temp_paths[i]);
}

const char *fuzz_temp_path(const char *tag)
{
    char want[256];
    struct stat st;
    const char *dir = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm"
                      : getenv("TMPDIR")                                 ? getenv("TMPDIR")
                                                                         : "/tmp";
    snprintf(want, sizeof want, "%s/ks_fuzz_%ld_%s", dir, (long)getpid(), tag);
    for (int i = 0; i < n_temps; i++)
        if (strcmp(temp_paths[i], want) == 0)
            return temp_paths[i];
    if (n_temps == FUZZ_MAX_TEMPS)
        fuzz_fail("more than %d temporary file tags", FUZZ_MAX_TEMPS);
    if (n_temps == 0)
        atexit(remove_temps);
    snprintf(temp_paths[n_temps], sizeof temp_paths[n_temps], "%s", want);
    return temp_paths[n_temps++];
}

int fuzz_write_file(const char *path, const void *p, size_t n, int gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb1");
        int ok = f != NULL;
        /* gzwrite takes unsigned lengths; fuzz inputs are far smaller */
        if (ok && n > 0)
            ok = gzwrite(f, p, (unsigned)n) == (int)n;
        if (f && gzclose(f) != Z_OK)
            ok = 0;
        if (!ok)
            fprintf(stderr, "fuzz: cannot write %s\n", path);
        return ok ? 0 : -1;
    } else {
        FILE *f = fopen(path, "wb");
        int ok = f != NULL && fwrite(p, 1, n, f) == n;
        if (f && fclose(f) != 0)
            ok = 0;
        if (!ok)
            fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
        return ok ? 0 : -1;
    }
}

char *fuzz_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        fuzz_fail("out of memory copying %zu bytes", size);
    memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* --------------------------------------------------------------- checksums */

static void put_le(unsigned char *b, uint64_t x, int bytes)
{
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(x >> (8 * i));
}

static uint64_t get_le(const unsigned char *b, int bytes)
{
    uint64_t x = 0;
    for (int i = bytes - 1; i >= 0; i--)
        x = x << 8 | b[i];
    return x;
}

static void fix_frame(unsigned char *buf, size_t len, size_t size_at, size_t min_len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t left = len - 4;
    const unsigned char *p = buf;
    if (len < min_len)
        return;
    put_le(buf + size_at, len, 8);
    while (left > 0) {
        uInt k = left > (1u << 30) ? (1u << 30) : (uInt)left;
        crc = crc32(crc, p, k);
        p += k;
        left -= k;
    }
    put_le(buf + len - 4, crc, 4);
}

/* .ksm: size u64 at 12, at least a 44-byte header and the checksum (model_file.c) */
void fuzz_fix_ksm(unsigned char *buf, size_t len)
{
    fix_frame(buf, len, 12, 48);
}

/* ensemble: n u32 at 12, size u64 at 16, n f64 weights at 24, then n × (u64 len, model)
   (ensemble.c) */
void fuzz_fix_ensemble(unsigned char *buf, size_t len)
{
    uint64_t n;
    size_t pos;
    if (len < 28)
        return;
    n = get_le(buf + 12, 4);
    pos = 24;
    if (n <= (len - 28) / 8) {
        pos += (size_t)n * 8;
        for (uint64_t i = 0; i < n && pos + 8 <= len - 4; i++) {
            uint64_t mlen = get_le(buf + pos, 8);
            if (mlen > len - 4 - pos - 8)
                break;
            fuzz_fix_ksm(buf + pos + 8, (size_t)mlen);
            pos += 8 + (size_t)mlen;
        }
    }
    fix_frame(buf, len, 16, 28);
}

/* ------------------------------------------------------------------ checks */

long fuzz_accepted;

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("fuzz: FAILED: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

FILE *fuzz_null_stream(void)
{
    static FILE *f;
    if (!f && !(f = fopen("/dev/null", "w")))
        fuzz_fail("cannot open /dev/null: %s", strerror(errno));
    return f;
}

/* Largest layer output or input the checks run a model on (floats per row). */
#define FUZZ_MAX_ROW ((size_t)1 << 16)

/* Whether predicting a couple of rows stays small: every layer's output bounded. */
static int small_enough(const ks_model *m)
{
    if (ks_shape_size(ks_model_input_shape(m)) > FUZZ_MAX_ROW)
        return 0;
    for (int i = 0; i < ks_model_n_layers(m); i++)
        if (ks_shape_size(ks_model_layer_output_shape(m, i)) > FUZZ_MAX_ROW)
            return 0;
    return 1;
}

/* Two rows of inputs (a ramp, so that rows differ) through the model; malloc'd output. */
static float *predict_two(ks_model *m, const char *what)
{
    size_t xs = ks_shape_size(ks_model_input_shape(m));
    size_t k = ks_shape_size(ks_model_output_shape(m));
    float *x = malloc(2 * xs * sizeof *x + 1), *y = malloc(2 * k * sizeof *y + 1);
    ks_data d;
    ks_error err;
    if (!x || !y)
        fuzz_fail("out of memory");
    for (size_t i = 0; i < 2 * xs; i++)
        x[i] = (float)(i % 7) * 0.25f - 0.5f;
    memset(&d, 0, sizeof d);
    d.n = 2;
    d.x_shape = *ks_model_input_shape(m);
    d.x_size = xs;
    d.x = x;
    if (ks_model_predict(m, &d, 2, y, &err) != KS_OK)
        fuzz_fail("%s does not predict: %s", what, err.msg);
    free(x);
    return y;
}

int fuzz_fit_once(ks_model *m, int batch)
{
    size_t xs = ks_shape_size(ks_model_input_shape(m));
    size_t k = ks_shape_size(ks_model_output_shape(m));
    int sparse = m->loss->sparse;
    float *x, *y;
    ks_data d;
    ks_fit_params p = ks_fit_params_default();
    ks_error err;
    ks_status s;
    int fits;
    if (xs > ((size_t)1 << 14) || k > ((size_t)1 << 14))
        return 0;
    x = malloc(4 * xs * sizeof *x + 1);
    y = calloc(4 * (sparse ? 1 : k) + 1, sizeof *y);
    if (!x || !y)
        fuzz_fail("out of memory");
    for (size_t i = 0; i < 4 * xs; i++)
        x[i] = (float)(i % 5) * 0.3f - 0.6f;
    for (size_t i = 0; i < 4; i++) {
        if (sparse)
            y[i] = (float)(i % 2);
        else
            y[i * k + i % k] = 1.0f;
    }
    memset(&d, 0, sizeof d);
    d.n = 4;
    d.x_shape = *ks_model_input_shape(m);
    d.x_size = xs;
    d.x = x;
    d.y = y;
    d.y_size = sparse ? 1 : k;
    d.y_is_label = sparse;
    d.n_classes = sparse ? 2 : 0;
    s = ks_model_check_data(m, &d, "training", &err);
    fits = s == KS_OK;
    if (fits) {
        p.epochs = 1;
        p.batch_size = batch;
        p.verbose = 0;
        p.out = fuzz_null_stream();
        p.tty = 0;
        s = ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err);
        if (s != KS_OK)
            fuzz_check_error(s, &err, "fit");
    } else {
        fuzz_check_error(s, &err, "data that does not fit the model");
    }
    free(x);
    free(y);
    return !fits ? 0 : s == KS_OK ? 1 : -1;
}

void fuzz_check_round_trip(ks_model *m, int epoch, const char *what)
{
    unsigned flags = ks_model_is_compiled(m) ? KS_SAVE_OPTIMIZER : 0;
    unsigned char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    ks_model *back = NULL;
    ks_error err;
    int epoch2 = -1;
    float *ya = NULL, *yb = NULL;
    int run = small_enough(m);

    ks_model_summary(m, fuzz_null_stream());
    if (ks_model_save_buffer(m, flags, epoch, &a, &alen, &err) != KS_OK)
        fuzz_fail("%s does not save: %s", what, err.msg);
    if (ks_model_load_buffer(a, alen, "round trip", &back, &epoch2, &err) != KS_OK) {
        char line[1024];
        fuzz_fail("%s saves but does not load back: %s", what,
                  ks_error_format(&err, line, sizeof line));
    }
    if (epoch2 != epoch)
        fuzz_fail("%s: epoch %d saved, %d loaded", what, epoch, epoch2);
    if (ks_model_save_buffer(back, flags, epoch, &b, &blen, &err) != KS_OK)
        fuzz_fail("%s: the reloaded model does not save: %s", what, err.msg);
    if (alen != blen || memcmp(a, b, alen) != 0)
        fuzz_fail("%s: saved, loaded and saved again gives other bytes (%zu, %zu bytes)", what,
                  alen, blen);
    if (ks_model_weights_size(m) != ks_model_weights_size(back) ||
        memcmp(ks_model_weights(m), ks_model_weights(back),
               ks_model_weights_size(m) * sizeof(float)) != 0)
        fuzz_fail("%s: the reloaded weights differ", what);
    if (ks_model_iterations(m) != ks_model_iterations(back) ||
        memcmp(&(double){ks_model_get_lr(m)}, &(double){ks_model_get_lr(back)},
               sizeof(double)) != 0)
        fuzz_fail("%s: the reloaded optimizer state differs", what);
    if (run) {
        size_t k = ks_shape_size(ks_model_output_shape(m));
        ya = predict_two(m, what);
        yb = predict_two(back, "the reloaded model");
        if (memcmp(ya, yb, 2 * k * sizeof *ya) != 0)
            fuzz_fail("%s: the reloaded model predicts other values", what);
    }
    free(ya);
    free(yb);
    free(a);
    free(b);
    ks_model_free(back);
}

void fuzz_check_error(ks_status s, const ks_error *err, const char *what)
{
    if (s == KS_OK || s == KS_STOPPED || (int)s < 0 || s >= KS_STATUS_COUNT)
        fuzz_fail("%s: status %d is not an error", what, (int)s);
    if (err->code != s)
        fuzz_fail("%s: returned %s but the error says %s", what, ks_status_str(s),
                  ks_status_str(err->code));
    if (!err->msg[0] || strchr(err->msg, '\n'))
        fuzz_fail("%s: the message is empty or not one line: \"%s\"", what, err->msg);
}

/* ------------------------------------------------------------------ data sets */

void fuzz_dataset(const char *tag, const char *const *specs, const uint8_t *data, size_t size,
                  int gz)
{
    const char *path = fuzz_temp_path(tag);
    char json[1024];
    int n_specs = 0;
    ks_value spec;
    ks_dataset *ds = NULL;
    ks_error err;
    ks_status s;
    if (size < 1)
        return;
    while (specs[n_specs])
        n_specs++;
    if (fuzz_write_file(path, data + 1, size - 1, gz) != 0)
        fuzz_fail("cannot write the temporary file %s", path);
    snprintf(json, sizeof json, specs[data[0] % n_specs], path);
    if (ks_value_from_json(json, strlen(json), "spec", &spec, &err) != KS_OK)
        fuzz_fail("spec %d is not JSON: %s", data[0] % n_specs, err.msg);
    s = ks_dataset_load(&spec, NULL, &ds, &err);
    if (s != KS_OK) {
        fuzz_check_error(s, &err, "the data file");
    } else {
        ks_data d = ks_dataset_data(ds);
        fuzz_accepted++;
        if (d.x_size != ks_shape_size(&d.x_shape) || (d.n > 0 && !d.x))
            fuzz_fail("x_size %zu does not match the shape", d.x_size);
        for (size_t i = 0; i < d.n * d.x_size; i++)
            if (!isfinite(d.x[i]))
                fuzz_fail("input %zu is not finite", i);
        for (size_t i = 0; d.y && i < d.n * d.y_size; i++)
            if (!isfinite(d.y[i]) ||
                (d.y_is_label && (d.y[i] < 0 || d.y[i] >= (float)d.n_classes)))
                fuzz_fail("target %zu is %g (labels: %d, classes: %d)", i, d.y[i],
                          d.y_is_label, d.n_classes);
    }
    ks_dataset_free(ds);
    ks_value_free(&spec);
}
