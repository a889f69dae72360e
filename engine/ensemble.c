/*
 * ensemble.c — weighted ensembles of models: combining outputs (arithmetic or geometric
 * mean), predicting and evaluating like one model, and the self-contained ensemble file.
 *
 * File format, version 1.  Integers little-endian; offsets in bytes.
 *
 *    0  magic     4   89 4B 53 45  ("\x89KSE")
 *    4  version   u32 1, or 2 when an output is named; a reader refuses newer versions
 *    8  average   u32 0 arithmetic, 1 geometric
 *   12  n         u32 members, 1..KS_ENSEMBLE_MAX
 *   16  size      u64 bytes in the file, checksum included
 *   24  weights   n × f64 (IEEE-754 binary64), each >= 0, summing to 1
 *       output    version 2 only: u32 len (1..KS_NAME_MAX), the name of the output the
 *                 members combine (version 1: each member's first output)
 *       members   n times: u64 len, then len bytes of a whole .ksm model file
 *   size-4 crc    u32 CRC-32 (zlib's) of bytes [0, size-4)
 */
#include "engine_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define KSE_MAGIC "\x89KSE"
#define KSE_VERSION 2u
#define KSE_HEADER 24u
#define KS_ENSEMBLE_MAX 1000

struct ks_ensemble {
    int n;
    ks_model **m;
    double *w;
    int *k;                     /* per member: the index of the output combined */
    char output[KS_NAME_MAX];   /* its name, "" for each member's first output */
    ks_ensemble_average average;
    float **out;                /* per member, n_rows × k: predictions (grown on demand) */
    size_t out_rows;
};

void ks_ensemble_free(ks_ensemble *e)
{
    if (!e)
        return;
    for (int i = 0; i < e->n; i++) {
        ks_model_free(e->m[i]);
        if (e->out)
            free(e->out[i]);
    }
    free(e->m);
    free(e->w);
    free(e->k);
    free(e->out);
    free(e);
}

static void free_models(ks_model **members, int n)
{
    for (int i = 0; i < n; i++)
        ks_model_free(members[i]);
}

/* Whether members i and 0 take the same inputs: count, shapes, and names when several. */
static int same_inputs(const ks_model *a, const ks_model *b)
{
    if (ks_model_n_inputs(a) != ks_model_n_inputs(b))
        return 0;
    for (int j = 0; j < ks_model_n_inputs(a); j++)
        if (!ks_shape_equal(ks_model_input_shape_at(a, j), ks_model_input_shape_at(b, j)) ||
            (ks_model_n_inputs(a) > 1 &&
             strcmp(ks_model_input_name(a, j), ks_model_input_name(b, j)) != 0))
            return 0;
    return 1;
}

/* The members' outputs combined: k[i] per member; every member must have it, alike. */
static ks_status pick_outputs(ks_model **members, int n, const char *output, int *k,
                              ks_error *err)
{
    char a[64], b[64], c[64], d[64];
    for (int i = 0; i < n; i++) {
        const ks_model *m0 = members[0], *mi = members[i];
        k[i] = output && output[0] ? ks_model_output_index(mi, output) : 0;
        if (k[i] < 0)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "ensemble member %d has no output \"%s\"; members must all "
                                "have the output to combine",
                                i, output);
        if (!same_inputs(mi, m0) ||
            !ks_shape_equal(ks_model_output_shape_at(mi, k[i]),
                            ks_model_output_shape_at(m0, k[0])))
            return ks_error_set(
                err, KS_ERR_SHAPE,
                "ensemble member %d takes %s and gives %s, but member 0 takes %s and gives %s; "
                "members must share input and output shapes",
                i, ks_shape_str(ks_model_input_shape(mi), a, sizeof a),
                ks_shape_str(ks_model_output_shape_at(mi, k[i]), b, sizeof b),
                ks_shape_str(ks_model_input_shape(m0), c, sizeof c),
                ks_shape_str(ks_model_output_shape_at(m0, k[0]), d, sizeof d));
        if (!mi->compiled || !m0->compiled || mi->outputs[k[i]].loss != m0->outputs[k[0]].loss)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "ensemble member %d is %s, member 0 %s; members must be "
                                "compiled with the same loss",
                                i, mi->compiled ? mi->outputs[k[i]].loss->name : "not compiled",
                                m0->compiled ? m0->outputs[k[0]].loss->name : "not compiled");
    }
    return KS_OK;
}

ks_status ks_ensemble_new(ks_model **members, const double *weights, int n,
                          ks_ensemble_average average, ks_ensemble **out, ks_error *err)
{
    return ks_ensemble_new_for(members, weights, n, average, NULL, out, err);
}

ks_status ks_ensemble_new_for(ks_model **members, const double *weights, int n,
                              ks_ensemble_average average, const char *output,
                              ks_ensemble **out, ks_error *err)
{
    ks_ensemble *e;
    double sum = 0;
    int *k = NULL;
    ks_status s;
    *out = NULL;
    if (n < 1 || n > KS_ENSEMBLE_MAX) {
        free_models(members, n > 0 ? n : 0);
        return ks_error_set(err, KS_ERR_CONFIG, "an ensemble needs 1 to %d members, got %d",
                            KS_ENSEMBLE_MAX, n);
    }
    if (output && strlen(output) >= KS_NAME_MAX) {
        free_models(members, n);
        return ks_error_set(err, KS_ERR_CONFIG, "the output name \"%.64s…\" is too long", output);
    }
    for (int i = 0; i < n; i++) {
        if (!(weights[i] >= 0) || !isfinite(weights[i])) {
            free_models(members, n);
            return ks_error_set(err, KS_ERR_CONFIG,
                                "ensemble weight %d is %g; weights must be finite and >= 0", i,
                                weights[i]);
        }
        sum += weights[i];
    }
    if (!(k = calloc((size_t)n, sizeof *k))) {
        free_models(members, n);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if ((s = pick_outputs(members, n, output, k, err)) != KS_OK) {
        free(k);
        free_models(members, n);
        return s;
    }
    if (!(sum > 0)) {
        free(k);
        free_models(members, n);
        return ks_error_set(err, KS_ERR_CONFIG, "ensemble weights sum to %g; expected > 0", sum);
    }
    if (average == KS_ENSEMBLE_GEOMETRIC && members[0]->outputs[k[0]].loss->fuses == KS_ACT_LINEAR) {
        /* the loss's name is static: it outlives the members */
        const char *loss = members[0]->outputs[k[0]].loss->name;
        free(k);
        free_models(members, n);
        return ks_error_set(err, KS_ERR_CONFIG,
                            "a geometric mean needs probabilities; loss %s is a regression loss",
                            loss);
    }
    e = calloc(1, sizeof *e);
    if (e) {
        e->m = calloc((size_t)n, sizeof *e->m);
        e->w = calloc((size_t)n, sizeof *e->w);
    }
    if (!e || !e->m || !e->w) {
        if (e) {
            free(e->m);
            free(e->w);
        }
        free(e);
        free(k);
        free_models(members, n);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    e->n = n;
    e->k = k;
    e->average = average;
    snprintf(e->output, sizeof e->output, "%s", output ? output : "");
    /* weights that already sum to 1 (to rounding) are kept as given: dividing again would
       move them by an ulp, and a loaded ensemble would not save to the same bytes */
    for (int i = 0; i < n; i++) {
        e->m[i] = members[i];
        e->w[i] = fabs(sum - 1.0) <= 1e-12 ? weights[i] : weights[i] / sum;
    }
    *out = e;
    return KS_OK;
}

int ks_ensemble_size(const ks_ensemble *e) { return e->n; }
ks_model *ks_ensemble_member(const ks_ensemble *e, int i) { return e->m[i]; }
double ks_ensemble_weight(const ks_ensemble *e, int i) { return e->w[i]; }
ks_ensemble_average ks_ensemble_average_of(const ks_ensemble *e) { return e->average; }
const char *ks_ensemble_output(const ks_ensemble *e) { return e->output; }
int ks_ensemble_member_output(const ks_ensemble *e, int i) { return e->k[i]; }

void ks_ensemble_combine(ks_ensemble_average average, const float *const *outputs,
                         const double *weights, int n_members, size_t n, size_t k, float *out)
{
    const double eps = KS_EPSILON;      /* the clip of probabilities in logs */
    for (size_t r = 0; r < n; r++) {
        float *o = out + r * k;
        if (average == KS_ENSEMBLE_ARITHMETIC) {
            for (size_t j = 0; j < k; j++) {
                double v = 0;
                for (int i = 0; i < n_members; i++)
                    v += weights[i] * outputs[i][r * k + j];
                o[j] = (float)v;
            }
        } else if (k == 1) {
            /* a sigmoid output: the geometric means of p and of 1 − p, renormalized */
            double lp = 0, lq = 0;
            for (int i = 0; i < n_members; i++) {
                double p = fmin(fmax(outputs[i][r], eps), 1 - eps);
                lp += weights[i] * log(p);
                lq += weights[i] * log1p(-p);
            }
            o[0] = (float)(1.0 / (1.0 + exp(lq - lp)));
        } else {
            double mx = -INFINITY, z = 0;
            for (size_t j = 0; j < k; j++) {
                double l = 0;
                for (int i = 0; i < n_members; i++)
                    l += weights[i] * log(fmax(outputs[i][r * k + j], eps));
                o[j] = (float)l;
                mx = fmax(mx, l);
            }
            for (size_t j = 0; j < k; j++)
                z += exp(o[j] - mx);
            for (size_t j = 0; j < k; j++)
                o[j] = (float)(exp(o[j] - mx) / z);
        }
    }
}

ks_status ks_ensemble_predict(ks_ensemble *e, const ks_data *data, int batch_size, float *out,
                              ks_error *err)
{
    size_t k = ks_shape_size(ks_model_output_shape_at(e->m[0], e->k[0]));
    ks_status s;
    if (!e->out && !(e->out = calloc((size_t)e->n, sizeof *e->out)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    if (data->n > e->out_rows) {
        for (int i = 0; i < e->n; i++) {
            float *p = realloc(e->out[i], data->n * k * sizeof *p);
            if (!p)
                return ks_error_set(err, KS_ERR_NOMEM, "out of memory for %zu predictions",
                                    data->n);
            e->out[i] = p;
        }
        e->out_rows = data->n;
    }
    for (int i = 0; i < e->n; i++) {
        float *outs[KS_MAX_IO] = {NULL};
        outs[e->k[i]] = e->out[i];
        if ((s = ks_model_predict_outputs(e->m[i], data, batch_size, outs, err)) != KS_OK) {
            ks_error_prefix(err, "ensemble member %d", i);
            return s;
        }
    }
    ks_ensemble_combine(e->average, (const float *const *)e->out, e->w, e->n, data->n, k, out);
    return KS_OK;
}

ks_status ks_ensemble_evaluate(ks_ensemble *e, const ks_data *data, int batch_size,
                               ks_logs *logs, ks_error *err)
{
    size_t k = ks_shape_size(ks_model_output_shape_at(e->m[0], e->k[0]));
    float *out = malloc((data->n ? data->n : 1) * k * sizeof *out);
    ks_status s;
    if (!out)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory for %zu predictions", data->n);
    s = ks_ensemble_predict(e, data, batch_size, out, err);
    if (s == KS_OK)
        s = ks_model_score_output(e->m[0], e->k[0], data, out, logs, err);
    free(out);
    return s;
}

/* ------------------------------------------------------------------- files */

static uint32_t crc_of(const unsigned char *p, size_t n)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt chunk = n > 0x40000000u ? 0x40000000u : (uInt)n;
        crc = crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return (uint32_t)crc;
}

ks_status ks_ensemble_save_buffer(ks_ensemble *e, unsigned char **out, size_t *len,
                                  ks_error *err)
{
    unsigned char **mb = calloc((size_t)e->n, sizeof *mb);
    size_t *ml = calloc((size_t)e->n, sizeof *ml);
    size_t olen = strlen(e->output), size = KSE_HEADER + 8u * (size_t)e->n + 4, at;
    unsigned char *b = NULL;
    ks_status s = mb && ml ? KS_OK : ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    *out = NULL;
    *len = 0;
    if (olen)
        size += 4 + olen;
    for (int i = 0; s == KS_OK && i < e->n; i++) {
        s = ks_model_save_buffer(e->m[i], 0, 0, &mb[i], &ml[i], err);
        size += 8 + ml[i];
    }
    if (s == KS_OK && !(b = malloc(size)))
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory for a %zu-byte ensemble", size);
    if (s == KS_OK) {
        memcpy(b, KSE_MAGIC, 4);
        ks_le_put(b + 4, olen ? 2u : 1u, 4);     /* version 1 when nothing needs 2 */
        ks_le_put(b + 8, (uint64_t)e->average, 4);
        ks_le_put(b + 12, (uint64_t)e->n, 4);
        ks_le_put(b + 16, size, 8);
        at = KSE_HEADER;
        for (int i = 0; i < e->n; i++, at += 8) {
            uint64_t bits;
            memcpy(&bits, &e->w[i], 8);
            ks_le_put(b + at, bits, 8);
        }
        if (olen) {
            ks_le_put(b + at, olen, 4);
            memcpy(b + at + 4, e->output, olen);
            at += 4 + olen;
        }
        for (int i = 0; i < e->n; i++) {
            ks_le_put(b + at, ml[i], 8);
            memcpy(b + at + 8, mb[i], ml[i]);
            at += 8 + ml[i];
        }
        ks_le_put(b + at, crc_of(b, at), 4);
        *out = b;
        *len = size;
    }
    for (int i = 0; mb && i < e->n; i++)
        free(mb[i]);
    free(mb);
    free(ml);
    return s;
}

ks_status ks_ensemble_save(ks_ensemble *e, const char *path, ks_error *err)
{
    unsigned char *b;
    size_t len;
    ks_status s = ks_ensemble_save_buffer(e, &b, &len, err);
    if (s == KS_OK)
        s = ks_write_file_atomic(path, b, len, err);
    free(b);
    return s;
}

static ks_status corrupt(ks_error *err, const char *name, const char *what)
{
    return ks_error_set_at(err, KS_ERR_CORRUPT, name, 0, 0, "not a valid ensemble file: %s",
                           what);
}

ks_status ks_ensemble_load_buffer(const unsigned char *buf, size_t len, const char *name,
                                  ks_ensemble **out, ks_error *err)
{
    uint32_t version, average, n;
    uint64_t size, at;
    double *w = NULL, sum = 0;
    char output[KS_NAME_MAX] = "";
    ks_model **m = NULL;
    ks_status s = KS_OK;
    int loaded = 0;
    *out = NULL;
    name = name ? name : "ensemble buffer";
    if (len < KSE_HEADER + 4 || memcmp(buf, KSE_MAGIC, 4) != 0)
        return corrupt(err, name, len < 4 ? "too short" : "no ensemble magic number");
    version = (uint32_t)ks_le_get(buf + 4, 4);
    average = (uint32_t)ks_le_get(buf + 8, 4);
    n = (uint32_t)ks_le_get(buf + 12, 4);
    size = ks_le_get(buf + 16, 8);
    if (version > KSE_VERSION || version == 0)
        return ks_error_set_at(err, KS_ERR_CORRUPT, name, 0, 0,
                               "ensemble file version %u; this ksearch reads version %u",
                               version, KSE_VERSION);
    if (size != len)
        return ks_error_set_at(err, KS_ERR_CORRUPT, name, 0, 0,
                               "ensemble file is %zu bytes but says %llu (truncated or "
                               "damaged)",
                               len, (unsigned long long)size);
    if ((uint32_t)ks_le_get(buf + len - 4, 4) != crc_of(buf, len - 4))
        return corrupt(err, name, "checksum mismatch (damaged)");
    if (average > KS_ENSEMBLE_GEOMETRIC)
        return corrupt(err, name, "unknown averaging");
    if (n < 1 || n > KS_ENSEMBLE_MAX || (uint64_t)KSE_HEADER + 16u * n + 4 > len)
        return corrupt(err, name, "bad member count");
    w = malloc(n * sizeof *w);
    m = calloc(n, sizeof *m);
    if (!w || !m) {
        free(w);
        free(m);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    at = KSE_HEADER;
    for (uint32_t i = 0; i < n; i++, at += 8) {
        uint64_t bits = ks_le_get(buf + at, 8);
        memcpy(&w[i], &bits, 8);
        if (!isfinite(w[i]) || w[i] < 0)
            s = corrupt(err, name, "a weight is negative or not finite");
        sum += w[i];
    }
    if (s == KS_OK && fabs(sum - 1.0) > 1e-6)
        s = corrupt(err, name, "the weights do not sum to 1");
    if (s == KS_OK && version >= 2) {
        uint64_t olen = at + 4 <= len - 4 ? ks_le_get(buf + at, 4) : 0;
        if (olen < 1 || olen >= KS_NAME_MAX || at + 4 + olen > len - 4 ||
            memchr(buf + at + 4, '\0', (size_t)olen))
            s = corrupt(err, name, "bad output name");
        else
            memcpy(output, buf + at + 4, (size_t)olen);
        at += 4 + olen;
    }
    for (uint32_t i = 0; s == KS_OK && i < n; i++) {
        uint64_t ml;
        char what[64];
        if (at + 8 > len - 4) {
            s = corrupt(err, name, "member list runs past the end");
            break;
        }
        ml = ks_le_get(buf + at, 8);
        at += 8;
        if (ml > len - 4 - at) {
            s = corrupt(err, name, "a member runs past the end");
            break;
        }
        snprintf(what, sizeof what, "member %u", i);
        if ((s = ks_model_load_buffer(buf + at, (size_t)ml, what, &m[i], NULL, err)) != KS_OK) {
            ks_error_prefix(err, "%s", name);
            break;
        }
        loaded = (int)i + 1;
        at += ml;
    }
    if (s == KS_OK && at != len - 4)
        s = corrupt(err, name, "bytes left over after the last member");
    if (s == KS_OK) {
        s = ks_ensemble_new_for(m, w, (int)n, (ks_ensemble_average)average, output, out, err);
        if (s != KS_OK)
            ks_error_prefix(err, "%s", name);
    } else {
        free_models(m, loaded);
    }
    free(w);
    free(m);
    return s;
}

ks_status ks_ensemble_load(const char *path, ks_ensemble **out, ks_error *err)
{
    unsigned char *buf;
    size_t len;
    ks_status s;
    *out = NULL;
    if ((s = ks_read_file_sized(path, KSE_MAGIC, 16, &buf, &len, err)) != KS_OK)
        return s;
    s = ks_ensemble_load_buffer(buf, len, path, out, err);
    free(buf);
    return s;
}

ks_file_kind ks_file_kind_of(const char *path)
{
    unsigned char b[4];
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(b, 1, 4, f) : 0;
    if (f)
        fclose(f);
    if (got == 4 && memcmp(b, KSE_MAGIC, 4) == 0)
        return KS_FILE_ENSEMBLE;
    if (got == 4 && memcmp(b, "\x89KSM", 4) == 0)
        return KS_FILE_MODEL;
    return KS_FILE_OTHER;
}
