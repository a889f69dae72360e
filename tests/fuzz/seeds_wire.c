/*
 * seeds_wire.c — the seeds of the wire targets (fuzz_wire.c, fuzz_wire_crc.c): trial
 * requests, records of every kind and pruner's verdicts as the controller and the workers
 * send them, made with the real encoders, each with its form's byte in front.
 */
#include "../../search/message.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

/* One encoded message (status s of its encoder) as a seed: the form's byte, then its
   bytes, without the CRC for wire_crc.  Frees buf; returns the seeds emitted (0 or 1). */
static int emit_wire(fuzz_emit_fn emit, void *user, const char *name, int form, ks_status s,
                     const ks_error *err, unsigned char *buf, size_t len, int strip_crc)
{
    unsigned char *in;
    if (s != KS_OK) {
        fprintf(stderr, "fuzz seeds: %s does not encode: %s\n", name, err->msg);
        free(buf);
        return 0;
    }
    if (!(in = malloc(len + 1)))
        fuzz_fail("out of memory");
    in[0] = (unsigned char)form;
    memcpy(in + 1, buf, len);
    emit(user, name, in, strip_crc && len >= 4 ? len + 1 - 4 : len + 1);
    free(in);
    free(buf);
    return 1;
}

/* Requests: a new trial, promotions and resumes with and without a checkpoint (model 0
   with its optimizer, saved at epoch 3), a best so far or none (NaN). */
static int seed_requests(const unsigned char *ckpt, size_t ckpt_len, int strip_crc,
                         fuzz_emit_fn emit, void *user)
{
    static const struct {
        int number, slot, budget, initial_epoch, recorded, checkpoint;
        double best;
    } kinds[] = {{0, 0, 10, 0, 0, 0, NAN},  {7, 1, 27, 3, 9, 1, 0.4375},
                 {12, 3, 30, 3, 6, 1, NAN}, {3, 2, 5, 0, 2, 0, -1.5}};
    int count = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        ks_trial_request q;
        unsigned char *buf = NULL;
        size_t len = 0;
        ks_error err;
        char name[32];
        ks_status s;
        memset(&q, 0, sizeof q);
        q.number = kinds[k].number;
        q.slot = kinds[k].slot;
        for (int i = 0; i < KS_MAX_SEARCH_PARAMS; i++)   /* NaN: inactive or not declared */
            q.point[i] = i < 3 + (int)k ? i * 0.75 - 1.0 : NAN;
        q.seed = 0x9e3779b97f4a7c15ULL * (k + 1);
        q.budget = kinds[k].budget;
        q.initial_epoch = kinds[k].initial_epoch;
        q.recorded = kinds[k].recorded;
        q.best_so_far = kinds[k].best;
        q.checkpoint = kinds[k].checkpoint ? (unsigned char *)ckpt : NULL;
        q.checkpoint_len = kinds[k].checkpoint ? ckpt_len : 0;
        s = ks_trial_request_encode(&q, &buf, &len, &err);
        snprintf(name, sizeof name, "request%zu", k);
        count += emit_wire(emit, user, name, FUZZ_WIRE_REQUEST, s, &err, buf, len, strip_crc);
    }
    return count;
}

static char *wire_str(const char *s)
{
    char *d = strdup(s);
    if (!d)
        fuzz_fail("out of memory");
    return d;
}

/* Copies of n strings (a record's tags, a node's inputs). */
static char **wire_strv(const char *const *v, int n)
{
    char **out = calloc((size_t)n, sizeof *out);
    if (!out)
        fuzz_fail("out of memory");
    for (int i = 0; i < n; i++)
        out[i] = wire_str(v[i]);
    return out;
}

static ks_record *wire_record(ks_record_kind kind, int trial, int worker)
{
    ks_record *r = ks_record_new(kind, trial);
    if (!r)
        fuzz_fail("out of memory");
    r->worker = worker;
    r->wall_time = 1.7e9 + trial;
    return r;
}

/* Files of the train run, as the projector writes them for an Embedding. */
static void wire_files(ks_record *r)
{
    static const char *const names[] = {"projector_config.pbtxt", "embeddings/embedding.tsv"};
    static const char *const texts[] = {
        "embeddings {\n  tensor_name: \"embedding\"\n"
        "  tensor_path: \"embeddings/embedding.tsv\"\n}\n",
        "0.5\t-0.25\n1\t0\n"};
    if (!(r->files = calloc(2, sizeof *r->files)))
        fuzz_fail("out of memory");
    r->n_files = 2;
    for (int i = 0; i < 2; i++) {
        r->files[i].name = wire_str(names[i]);
        r->files[i].data = (unsigned char *)wire_str(texts[i]);
        r->files[i].len = strlen(texts[i]);
    }
}

/* The BEGIN of model 0 (4 → Dense 3 → Dense 2): tags, the layer graph, summary, files. */
static ks_record *wire_begin(void)
{
    static const char *const tags[] = {"dense/kernel/histogram", "dense/bias/histogram",
                                       "dense_1/kernel/histogram", "dense_1/bias/histogram"};
    static const char *const names[] = {"input_layer", "dense", "dense_1"};
    static const char *const ops[] = {"InputLayer", "Dense", "Dense"};
    ks_record *r = wire_record(KS_RECORD_BEGIN, 3, 1);
    r->n_weights = 4;
    r->histogram_tags = wire_strv(tags, 4);
    if (!(r->nodes = calloc(3, sizeof *r->nodes)))
        fuzz_fail("out of memory");
    r->n_nodes = 3;
    for (int i = 0; i < 3; i++) {
        r->nodes[i].name = wire_str(names[i]);
        r->nodes[i].op = wire_str(ops[i]);
        r->nodes[i].shape.ndim = 1;
        r->nodes[i].shape.dim[0] = 4 - i;
        if (i > 0) {
            r->nodes[i].n_inputs = 1;
            r->nodes[i].inputs = wire_strv(&names[i - 1], 1);
        }
    }
    r->summary = wire_str("| Layer (type) | Output Shape | Param # |\n|---|---|---|\n"
                          "| dense (Dense) | (None, 3) | 15 |\n"
                          "| dense_1 (Dense) | (None, 2) | 8 |\n");
    wire_files(r);
    return r;
}

/* The EPOCH after it: Keras's logs, the four histograms, the checkpoint, the files. */
static ks_record *wire_epoch(const unsigned char *ckpt, size_t ckpt_len)
{
    ks_record *r = wire_record(KS_RECORD_EPOCH, 3, 1);
    size_t n = 4 * KS_HISTOGRAM_BUCKETS;
    r->epoch = 4;
    r->step = 40;
    ks_logs_set(&r->logs, "loss", 0.5234);
    ks_logs_set(&r->logs, "accuracy", 0.8125);
    ks_logs_set(&r->logs, "val_loss", 0.61);
    ks_logs_set(&r->logs, "val_accuracy", 0.75);
    ks_logs_set(&r->logs, "learning_rate", 1e-3);
    ks_logs_set(&r->logs, KS_METRIC_ITERATIONS, 40);
    r->n_weights = 4;
    if (!(r->histograms = malloc(3 * n * sizeof *r->histograms)) ||
        (ckpt && !(r->checkpoint = malloc(ckpt_len))))
        fuzz_fail("out of memory");
    for (size_t b = 0; b < n; b++) {   /* buckets: left, right, count */
        r->histograms[3 * b] = -1.0 + (double)(b % KS_HISTOGRAM_BUCKETS) / 15.0;
        r->histograms[3 * b + 1] = r->histograms[3 * b] + 1.0 / 15.0;
        r->histograms[3 * b + 2] = (double)(b % 7);
    }
    if (ckpt) {
        memcpy(r->checkpoint, ckpt, ckpt_len);
        r->checkpoint_len = ckpt_len;
    }
    wire_files(r);
    return r;
}

/* Records of every kind and both shapes of each: full, and as bare as they come. */
static int seed_records(const unsigned char *ckpt, size_t ckpt_len, int strip_crc,
                        fuzz_emit_fn emit, void *user)
{
    static const char *const names[] = {"record-begin",      "record-begin-resumed",
                                        "record-epoch",      "record-epoch-bare",
                                        "record-batch",      "record-end-failed",
                                        "record-end-complete", "record-end-interrupted"};
    ks_record *r[sizeof names / sizeof names[0]];
    int count = 0;
    r[0] = wire_begin();
    r[1] = wire_record(KS_RECORD_BEGIN, 8, 0);  /* a resumed segment, no graph or summary */
    r[1]->initial_epoch = 5;
    r[2] = wire_epoch(ckpt, ckpt_len);
    r[3] = wire_record(KS_RECORD_EPOCH, 0, 2);
    r[3]->step = 10;
    ks_logs_set(&r[3]->logs, "loss", 2.25);
    ks_logs_set(&r[3]->logs, "val_loss", NAN);
    r[4] = wire_record(KS_RECORD_BATCH, 3, 1);
    r[4]->epoch = 1;
    r[4]->step = 17;
    ks_logs_set(&r[4]->logs, "loss", 0.9);
    ks_logs_set(&r[4]->logs, "accuracy", 0.5);
    r[5] = wire_record(KS_RECORD_END, 3, 1);
    r[5]->status = KS_TRIAL_FAILED;
    r[5]->initial_epoch = 2;
    r[5]->seconds = 12.5;
    r[5]->error = wire_str("the loss is NaN at epoch 3");
    r[6] = wire_record(KS_RECORD_END, 0, 2);
    r[6]->status = KS_TRIAL_COMPLETE;
    r[6]->seconds = 3.25;
    r[7] = wire_record(KS_RECORD_END, 8, 0);
    r[7]->status = KS_TRIAL_INTERRUPTED;
    r[7]->initial_epoch = 5;
    r[7]->record_failed = 1;
    r[7]->seconds = 0.5;
    r[7]->error = wire_str("");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        unsigned char *buf = NULL;
        size_t len = 0;
        ks_error err;
        ks_status s = ks_record_encode(r[i], &buf, &len, &err);
        count += emit_wire(emit, user, names[i], FUZZ_WIRE_RECORD, s, &err, buf, len, strip_crc);
        ks_record_free(r[i]);
    }
    return count;
}

static int seed_verdicts(int strip_crc, fuzz_emit_fn emit, void *user)
{
    static const ks_verdict verdicts[] = {{0, 0, 0, 0}, {5, 1, 3, 1}, {123456, 7, 80, 0}};
    int count = 0;
    for (size_t k = 0; k < sizeof verdicts / sizeof verdicts[0]; k++) {
        unsigned char *buf = NULL;
        size_t len = 0;
        ks_error err;
        char name[32];
        ks_status s = ks_verdict_encode(&verdicts[k], &buf, &len, &err);
        snprintf(name, sizeof name, "verdict%zu", k);
        count += emit_wire(emit, user, name, FUZZ_WIRE_VERDICT, s, &err, buf, len, strip_crc);
    }
    return count;
}

int fuzz_wire_seeds(const unsigned char *ckpt, size_t ckpt_len, int strip_crc,
                    fuzz_emit_fn emit, void *user)
{
    return seed_requests(ckpt, ckpt_len, strip_crc, emit, user) +
           seed_records(ckpt, ckpt_len, strip_crc, emit, user) +
           seed_verdicts(strip_crc, emit, user);
}
