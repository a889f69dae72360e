/*
 * test_callbacks.c — the built-in callbacks on scripted metric sequences: EarlyStopping,
 * ModelCheckpoint (filepath formatting against Python's str.format, when saves happen),
 * ReduceLROnPlateau, TerminateOnNaN, CSVLogger; construction by class name with Keras
 * arguments; and short real fits that use them.  Expected values are worked out by hand
 * from Keras's code (see keras-facts.md §9) or, for formatting, by Python.
 */
#define _XOPEN_SOURCE 700
#include "../engine/engine_impl.h"
#include "check.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

/* ------------------------------------------------------------ helpers */

static int ok_json(const char *json, ks_value *v)
{
    ks_error err;
    if (ks_value_from_json(json, strlen(json), "test", v, &err) != KS_OK) {
        CHECK(0, "json %s: %s", json, err.msg);
        return 0;
    }
    return 1;
}

/* Dense(2) on inputs of shape (3), mse, SGD(learning_rate=0.1). */
static ks_model *tiny_model(void)
{
    ks_value layers, compile;
    ks_model *m = NULL;
    ks_shape in = {1, {3}};
    ks_error err;
    if (!ok_json("[{\"Dense\": {\"units\": 2}}]", &layers))
        return NULL;
    if (!ok_json("{\"loss\": \"mse\", \"optimizer\": {\"SGD\": {\"learning_rate\": 0.1}}}",
                 &compile)) {
        ks_value_free(&layers);
        return NULL;
    }
    if (ks_model_from_config(&layers, &in, 7, &m, &err) != KS_OK ||
        ks_model_compile(m, &compile, &err) != KS_OK) {
        CHECK(0, "tiny model: %s", err.msg);
        ks_model_free(m);
        m = NULL;
    }
    ks_value_free(&layers);
    ks_value_free(&compile);
    return m;
}

/* A context as fit makes it, with the console captured in a temporary file. */
typedef struct harness {
    ks_model *m;
    ks_fit_params p;
    ks_logs logs;
    ks_callback_ctx ctx;
} harness;

static int harness_init(harness *h)
{
    memset(h, 0, sizeof *h);
    h->m = tiny_model();
    if (!h->m)
        return 0;
    h->p = ks_fit_params_default();
    h->p.verbose = 0;
    h->p.tty = 0;
    h->p.out = tmpfile();
    ks_logs_clear(&h->logs);
    h->ctx.model = h->m;
    h->ctx.params = &h->p;
    h->ctx.steps = 1;
    h->ctx.logs = &h->logs;
    h->ctx.epoch_logs = &h->logs;
    return h->p.out != NULL;
}

static void harness_free(harness *h)
{
    if (h->p.out)
        fclose(h->p.out);
    ks_model_free(h->m);
}

/* Everything written to the console so far (static buffer). */
static const char *console(harness *h)
{
    static char buf[8192];
    size_t n;
    fflush(h->p.out);
    rewind(h->p.out);
    n = fread(buf, 1, sizeof buf - 1, h->p.out);
    buf[n] = '\0';
    fseek(h->p.out, 0, SEEK_END);
    return buf;
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static ks_status call(ks_callback_fn fn, ks_callback *cb, harness *h)
{
    return fn ? fn(cb->user, &h->ctx) : KS_OK;
}

/* Epoch end with one monitored value (the logs also hold "loss"). */
static ks_status epoch_end(ks_callback *cb, harness *h, int epoch, const char *name, double v)
{
    ks_logs_clear(&h->logs);
    ks_logs_set(&h->logs, "loss", 1.0);
    ks_logs_set(&h->logs, name, v);
    h->ctx.epoch = epoch;
    return call(cb->on_epoch_end, cb, h);
}

/*
 * Run an EarlyStopping over values as fit would: train begin, epoch ends until one
 * says stop, train end.  Returns the epochs run.  Before each epoch end the weights
 * are all set to 10·epoch + 1, so that restored weights tell which epoch they are.
 */
static int run_sequence(ks_callback *cb, harness *h, const char *name, const double *v, int n)
{
    int run = 0;
    CHECK(call(cb->on_train_begin, cb, h) == KS_OK, "train begin");
    for (int e = 0; e < n; e++) {
        float *w = ks_model_weights(h->m);
        ks_status s;
        for (size_t i = 0; i < ks_model_weights_size(h->m); i++)
            w[i] = (float)(10 * e + 1);
        s = epoch_end(cb, h, e, name, v[e]);
        run++;
        if (s == KS_STOPPED)
            break;
        CHECK(s == KS_OK, "epoch %d: status %d", e, s);
    }
    CHECK(call(cb->on_train_end, cb, h) == KS_OK, "train end");
    return run;
}

static int weights_all(ks_model *m, float value)
{
    const float *w = ks_model_weights(m);
    for (size_t i = 0; i < ks_model_weights_size(m); i++)
        if (w[i] != value)
            return 0;
    return ks_model_weights_size(m) > 0;
}

static ks_callback *early_stopping(ks_early_stopping_args a)
{
    ks_callback *cb = NULL;
    ks_error err;
    if (ks_callback_early_stopping_new(&a, &cb, &err) != KS_OK)
        CHECK(0, "EarlyStopping: %s", err.msg);
    return cb;
}

/* ------------------------------------------------------ EarlyStopping */

static void test_early_stopping(void)
{
    harness h;
    ks_early_stopping_args a;
    ks_callback *cb;
    REQUIRE(harness_init(&h), "harness");

    /*
     * patience 2 on val_loss 1.0 0.9 0.95 0.96 0.8 (min): epoch 0 improves (best None),
     * wait 0; epoch 1 improves (0.9 < 1.0), best epoch 1, wait 0; epoch 2 wait 1; epoch 3
     * wait 2 >= patience → stop at epoch 3 (the 0.8 of epoch 4 is never seen).
     */
    {
        const double v[] = {1.0, 0.9, 0.95, 0.96, 0.8};
        a = ks_early_stopping_args_default();
        a.patience = 2;
        cb = early_stopping(a);
        REQUIRE(cb != NULL, "made");
        CHECK(run_sequence(cb, &h, "val_loss", v, 5) == 4, "ran 4 epochs");
        CHECK(ks_early_stopping_stopped_epoch(cb) == 3, "stopped %d",
              ks_early_stopping_stopped_epoch(cb));
        CHECK(ks_early_stopping_best_epoch(cb) == 1, "best %d", ks_early_stopping_best_epoch(cb));
        /* reused: train begin resets it, and a sequence that keeps improving never stops */
        {
            const double down[] = {1.0, 0.9, 0.8, 0.7};
            CHECK(run_sequence(cb, &h, "val_loss", down, 4) == 4, "no stop");
            CHECK(ks_early_stopping_stopped_epoch(cb) == -1, "not stopped");
            CHECK(ks_early_stopping_best_epoch(cb) == 3, "best 3");
        }
        ks_callback_free(cb);
    }

    /*
     * mode on val_accuracy 0.5 0.6 0.55 0.58 0.7, patience 2.  max (and auto, since the
     * name holds "acc"): best 0.6 at epoch 1, waits 1, 2 → stop at 3.  min: 0.5 stays
     * best, 0.6 and 0.55 are no improvement → stop at 2, best 0.
     */
    {
        const double v[] = {0.5, 0.6, 0.55, 0.58, 0.7};
        int modes[] = {KS_MODE_MAX, KS_MODE_AUTO, KS_MODE_MIN};
        int stop[] = {3, 3, 2}, best[] = {1, 1, 0};
        for (int i = 0; i < 3; i++) {
            a = ks_early_stopping_args_default();
            snprintf(a.monitor, sizeof a.monitor, "val_accuracy");
            a.patience = 2;
            a.mode = modes[i];
            cb = early_stopping(a);
            REQUIRE(cb != NULL, "made");
            run_sequence(cb, &h, "val_accuracy", v, 5);
            CHECK(ks_early_stopping_stopped_epoch(cb) == stop[i], "mode %d: stopped %d",
                  modes[i], ks_early_stopping_stopped_epoch(cb));
            CHECK(ks_early_stopping_best_epoch(cb) == best[i], "mode %d: best %d", modes[i],
                  ks_early_stopping_best_epoch(cb));
            ks_callback_free(cb);
        }
    }

    /*
     * min_delta 0.1, patience 2 on 1.0 0.95 0.85 0.84 0.83: 0.95 is better by only 0.05
     * (wait 1); 0.85 by 0.15 → best epoch 2, wait 0; 0.84 and 0.83 beat 0.85 by less than
     * 0.1 → waits 1, 2 → stop at 4.  The sign of min_delta does not matter (abs).
     * Without min_delta every epoch improves: no stop, best 4.
     */
    {
        const double v[] = {1.0, 0.95, 0.85, 0.84, 0.83};
        double deltas[] = {0.1, -0.1, 0.0};
        int stop[] = {4, 4, -1}, best[] = {2, 2, 4};
        for (int i = 0; i < 3; i++) {
            a = ks_early_stopping_args_default();
            a.patience = 2;
            a.min_delta = deltas[i];
            cb = early_stopping(a);
            REQUIRE(cb != NULL, "made");
            run_sequence(cb, &h, "val_loss", v, 5);
            CHECK(ks_early_stopping_stopped_epoch(cb) == stop[i], "min_delta %g: stopped %d",
                  deltas[i], ks_early_stopping_stopped_epoch(cb));
            CHECK(ks_early_stopping_best_epoch(cb) == best[i], "min_delta %g: best %d",
                  deltas[i], ks_early_stopping_best_epoch(cb));
            ks_callback_free(cb);
        }
    }

    /*
     * baseline 0.5, patience 2 on 0.9 0.95 0.97: epoch 0 improves on None but not on the
     * baseline, so wait stays 1; epoch 1 does not improve, wait 2 → stop at 1.  Without
     * the baseline: wait 0, 1, 2 → stop at 2.  A baseline of 0.95 that epoch 0 beats
     * behaves as no baseline.
     */
    {
        const double v[] = {0.9, 0.95, 0.97, 0.98};
        double baselines[] = {0.5, NAN, 0.95};
        int stop[] = {1, 2, 2};
        for (int i = 0; i < 3; i++) {
            a = ks_early_stopping_args_default();
            a.patience = 2;
            a.baseline = baselines[i];
            cb = early_stopping(a);
            REQUIRE(cb != NULL, "made");
            run_sequence(cb, &h, "val_loss", v, 4);
            CHECK(ks_early_stopping_stopped_epoch(cb) == stop[i], "baseline %g: stopped %d",
                  baselines[i], ks_early_stopping_stopped_epoch(cb));
            CHECK(ks_early_stopping_best_epoch(cb) == 0, "best 0");
            ks_callback_free(cb);
        }
    }

    /*
     * restore_best_weights, verbose: 1.0 0.9 0.95 0.96 stops at 3 with best epoch 1, whose
     * weights were set to 11 before its epoch end; the last ones were 31.
     */
    {
        const double v[] = {1.0, 0.9, 0.95, 0.96};
        const char *out;
        a = ks_early_stopping_args_default();
        a.patience = 2;
        a.restore_best_weights = 1;
        a.verbose = 1;
        cb = early_stopping(a);
        REQUIRE(cb != NULL, "made");
        run_sequence(cb, &h, "val_loss", v, 4);
        CHECK(ks_early_stopping_stopped_epoch(cb) == 3, "stopped 3");
        CHECK(weights_all(h.m, 11.0f), "weights of epoch 1 restored (w[0] = %g)",
              (double)ks_model_weights(h.m)[0]);
        out = console(&h);
        CHECK(strstr(out, "Epoch 4: early stopping\n") != NULL, "console: %s", out);
        CHECK(strstr(out, "Restoring model weights from the end of the best epoch: 2.\n") != NULL,
              "console: %s", out);
        CHECK(strstr(cb->message, "best epoch: 2") != NULL, "message %s", cb->message);
        ks_callback_free(cb);
    }

    /*
     * Keras 3 restores at train end even without a stop: 1.0 0.7 0.8 with patience 10
     * runs out; the best epoch is 1 (weights 11), the last weights were 21.  Without
     * restore_best_weights the last weights stay.
     */
    {
        const double v[] = {1.0, 0.7, 0.8};
        for (int restore = 1; restore >= 0; restore--) {
            a = ks_early_stopping_args_default();
            a.patience = 10;
            a.restore_best_weights = restore;
            cb = early_stopping(a);
            REQUIRE(cb != NULL, "made");
            CHECK(run_sequence(cb, &h, "val_loss", v, 3) == 3, "ran all");
            CHECK(ks_early_stopping_stopped_epoch(cb) == -1, "no stop");
            CHECK(weights_all(h.m, restore ? 11.0f : 21.0f), "restore %d: w[0] = %g", restore,
                  (double)ks_model_weights(h.m)[0]);
            ks_callback_free(cb);
        }
    }

    /*
     * start_from_epoch 2, patience 0 on 1.0 2.0 3.0 4.0: epochs 0 and 1 are ignored; 3.0
     * becomes best at epoch 2; 4.0 is worse, wait 1 >= 0 → stop at 3.  From epoch 0 the
     * same patience stops at 1 (2.0 is worse than 1.0).
     */
    {
        const double v[] = {1.0, 2.0, 3.0, 4.0};
        int from[] = {2, 0}, stop[] = {3, 1}, best[] = {2, 0};
        for (int i = 0; i < 2; i++) {
            a = ks_early_stopping_args_default();
            a.start_from_epoch = from[i];
            cb = early_stopping(a);
            REQUIRE(cb != NULL, "made");
            run_sequence(cb, &h, "val_loss", v, 4);
            CHECK(ks_early_stopping_stopped_epoch(cb) == stop[i], "from %d: stopped %d",
                  from[i], ks_early_stopping_stopped_epoch(cb));
            CHECK(ks_early_stopping_best_epoch(cb) == best[i], "from %d: best %d", from[i],
                  ks_early_stopping_best_epoch(cb));
            ks_callback_free(cb);
        }
    }

    /* a monitor the logs lack: one warning on the console, no stop */
    {
        const double v[] = {1.0, 2.0, 3.0};
        const char *out;
        fclose(h.p.out);
        h.p.out = tmpfile();
        REQUIRE(h.p.out != NULL, "tmpfile");
        a = ks_early_stopping_args_default();
        snprintf(a.monitor, sizeof a.monitor, "val_auc");
        cb = early_stopping(a);
        REQUIRE(cb != NULL, "made");
        CHECK(run_sequence(cb, &h, "val_loss", v, 3) == 3, "ran all");
        CHECK(ks_early_stopping_stopped_epoch(cb) == -1, "no stop");
        CHECK(ks_early_stopping_best_epoch(cb) == -1, "no best");
        out = console(&h);
        CHECK(count_of(out, "Early stopping conditioned on metric `val_auc` which is not "
                            "available. Available metrics are: loss,val_loss") == 1,
              "console: %s", out);
        ks_callback_free(cb);
    }

    /* the accessors on another callback, or NULL */
    CHECK(ks_early_stopping_stopped_epoch(NULL) == -1, "NULL");
    {
        ks_callback *t = NULL;
        ks_error err;
        CHECK(ks_callback_terminate_on_nan_new(&t, &err) == KS_OK, "made");
        CHECK(ks_early_stopping_best_epoch(t) == -1, "not an EarlyStopping");
        CHECK(ks_model_checkpoint_n_saves(t) == 0 && !ks_model_checkpoint_last_path(t), "not a "
              "ModelCheckpoint");
        ks_callback_free(t);
    }
    harness_free(&h);
}

/* ---------------------------------------------------- ModelCheckpoint */

/* Expected strings from Python 3: tmpl.format(epoch=epoch + 1, batch=batch + 1, **logs). */
static void test_format_filepath(void)
{
    static const struct {
        const char *tmpl;
        int epoch, batch;
        const char *key;
        double value;
        const char *want;
    } cases[] = {
        {"w-{epoch:04d}-{val_loss:.2f}.ksm", 4, -1, "val_loss", 0.123456, "w-0005-0.12.ksm"},
        {"{epoch}", 0, -1, "loss", 0, "1"},
        {"{loss:e}", 0, -1, "loss", 12345.678, "1.234568e+04"},
        {"{loss:.3g}", 0, -1, "loss", 0.0001234, "0.000123"},
        {"{epoch:>5}", 4, -1, "loss", 0, "    5"},
        {"{epoch:<4}|", 4, -1, "loss", 0, "5   |"},
        {"{epoch:^5}", 4, -1, "loss", 0, "  5  "},
        {"{loss:+.1f}", 0, -1, "loss", 2.0, "+2.0"},
        {"{loss:08.3f}", 0, -1, "loss", -1.5, "-001.500"},
        {"{loss:.1%}", 0, -1, "loss", 0.256, "25.6%"},
        {"{loss:.3}", 0, -1, "loss", 12.0, "12.0"},
        {"{loss:.2}", 0, -1, "loss", 12.0, "1.2e+01"},
        {"{{x}}-{epoch}", 0, -1, "loss", 0, "{x}-1"},
        {"{batch:03d}", 0, 6, "loss", 0, "007"},
        {"{loss}", 0, -1, "loss", 1e-5, "1e-05"},
        {"{loss}", 0, -1, "loss", 2.0, "2.0"},
        {"{loss}", 0, -1, "loss", 1.0 / 3.0, "0.3333333333333333"},
        {"{loss}", 0, -1, "loss", 1e16, "1e+16"},
        {"{loss}", 0, -1, "loss", 123456789012345.6, "123456789012345.6"},
        {"{epoch:.2f}", 2, -1, "loss", 0, "3.00"},
        {"{loss:*^9.2f}", 0, -1, "loss", 3.14159, "**3.14***"},
        {"{loss:=+8.2f}", 0, -1, "loss", 3.14159, "+   3.14"},
        {"{loss:.0}", 0, -1, "loss", 1.5, "2e+00"},
        {"{loss:.2}", 0, -1, "loss", 0.000012345, "1.2e-05"},
        {"{loss:f}", 0, -1, "loss", INFINITY, "inf"},
        {"{loss:E}", 0, -1, "loss", NAN, "NAN"},
        {"{loss:07.2f}", 0, -1, "loss", -INFINITY, "-000inf"},
        {"{loss: .2f}", 0, -1, "loss", 0.5, " 0.50"},
        {"{loss:G}", 0, -1, "loss", 1e-7, "1E-07"},
        {"{loss:.2}", 0, -1, "loss", -0.0, "-0.0"},
        {"{loss}", 0, -1, "loss", -0.0, "-0.0"},
        {"ckpt/{epoch:02d}-{val-acc:.3f}", 9, -1, "val-acc", 0.98765, "ckpt/10-0.988"},
    };
    static const struct {
        const char *tmpl;
        const char *says;
    } bad[] = {
        {"w-{val_los:.2f}", "did you mean \"val_loss\""},
        {"w-{epoch", "without its '}'"},
        {"w-}", "single '}'"},
        {"w-{}", "must name a value"},
        {"w-{0}", "must name a value"},
        {"w-{loss:d}", "needs an integer"},
        {"w-{epoch:.2d}", "precision is not allowed"},
        {"w-{epoch:x}", "invalid format specifier"},
        {"w-{loss:,}", "grouping"},
        {"w-{loss.real}", "not a log name"},
        {"w-{loss!r}", "not a log name"},
        {"w-{batch}", "integer save_freq"},
        {"w-{loss:{w}}", "nested"},
    };
    char out[256];
    ks_error err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ks_logs logs;
        ks_status s;
        ks_logs_clear(&logs);
        ks_logs_set(&logs, "val_loss", 0.123456);
        ks_logs_set(&logs, cases[i].key, cases[i].value);
        s = ks_format_filepath(cases[i].tmpl, cases[i].epoch, cases[i].batch, &logs, out,
                               sizeof out, &err);
        CHECK(s == KS_OK, "%s: %s", cases[i].tmpl, err.msg);
        if (s == KS_OK)
            CHECK(strcmp(out, cases[i].want) == 0, "%s: got \"%s\", want \"%s\"", cases[i].tmpl,
                  out, cases[i].want);
        /* the template check alone (no logs) accepts every good template with {batch} set */
        CHECK(ks_format_filepath(cases[i].tmpl, 0, 0, NULL, out, sizeof out, &err) == KS_OK,
              "check %s: %s", cases[i].tmpl, err.msg);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ks_logs logs;
        ks_status s;
        ks_logs_clear(&logs);
        ks_logs_set(&logs, "loss", 0.5);
        ks_logs_set(&logs, "val_loss", 0.25);
        s = ks_format_filepath(bad[i].tmpl, 0, -1, &logs, out, sizeof out, &err);
        CHECK(s == KS_ERR_CONFIG, "%s: status %d", bad[i].tmpl, s);
        CHECK(strstr(err.msg, bad[i].says) != NULL, "%s: message \"%s\" lacks \"%s\"",
              bad[i].tmpl, err.msg, bad[i].says);
    }
    /* too long for the buffer is an error, never a truncated path */
    {
        ks_logs logs;
        ks_logs_clear(&logs);
        CHECK(ks_format_filepath("abcdefgh-{epoch:04d}", 0, -1, &logs, out, 10, &err) ==
                  KS_ERR_CONFIG, "too long");
        CHECK(ks_format_filepath("{epoch:020d}", 0, -1, &logs, out, 10, &err) == KS_ERR_CONFIG,
              "too long after formatting");
    }
}

static ks_callback *checkpoint(const char *file, const char *monitor, int mode, int best_only,
                               int save_freq, double threshold)
{
    ks_model_checkpoint_args a = ks_model_checkpoint_args_default();
    ks_callback *cb = NULL;
    ks_error err;
    snprintf(a.filepath, sizeof a.filepath, "%s/%s", tmpdir, file);
    snprintf(a.monitor, sizeof a.monitor, "%s", monitor);
    a.mode = mode;
    a.save_best_only = best_only;
    a.save_freq = save_freq;
    a.initial_value_threshold = threshold;
    if (ks_callback_model_checkpoint_new(&a, &cb, &err) != KS_OK)
        CHECK(0, "ModelCheckpoint: %s", err.msg);
    return cb;
}

/*
 * Epoch ends over values; saved[e] says whether epoch e must attempt a save.  The save
 * itself may succeed or fail (ks_model_save is not under test here): an epoch without
 * an attempt must return KS_OK, one with an attempt KS_OK or the save's error.
 */
static void check_saves(ks_callback *cb, harness *h, const char *monitor, const double *v,
                        const int *saved, int n, const char *file_fmt)
{
    int before = ks_model_checkpoint_n_saves(cb);
    for (int e = 0; e < n; e++) {
        ks_status s = epoch_end(cb, h, e, monitor, v[e]);
        int now = ks_model_checkpoint_n_saves(cb);
        CHECK(now - before == saved[e], "epoch %d: %d saves, want %d", e, now - before, saved[e]);
        CHECK(s == KS_OK || saved[e], "epoch %d: status %d without a save", e, s);
        if (saved[e]) {
            char want[512], name[64];
            const char *last = ks_model_checkpoint_last_path(cb);
            snprintf(name, sizeof name, file_fmt, e + 1);
            snprintf(want, sizeof want, "%s/%s", tmpdir, name);
            CHECK(last && strcmp(last, want) == 0, "epoch %d: path %s, want %s", e,
                  last ? last : "(none)", want);
            if (s == KS_OK) {
                struct stat st;
                CHECK(stat(want, &st) == 0 && st.st_size > 0, "%s written", want);
            }
        }
        before = now;
    }
}

static void test_model_checkpoint(void)
{
    harness h;
    ks_callback *cb;
    REQUIRE(harness_init(&h), "harness");

    /* save_best_only on val_loss 0.5 0.6 0.4 0.4 0.3: improvements at 0, 2, 4 (0.4 ties) */
    {
        const double v[] = {0.5, 0.6, 0.4, 0.4, 0.3};
        const int saved[] = {1, 0, 1, 0, 1};
        cb = checkpoint("best-{epoch:02d}.ksm", "val_loss", KS_MODE_AUTO, 1, 0, NAN);
        REQUIRE(cb != NULL, "made");
        CHECK(ks_model_checkpoint_last_path(cb) == NULL, "nothing saved yet");
        check_saves(cb, &h, "val_loss", v, saved, 5, "best-%02d.ksm");
        ks_callback_free(cb);
    }
    /* without save_best_only: every epoch */
    {
        const double v[] = {0.5, 0.6, 0.4};
        const int saved[] = {1, 1, 1};
        cb = checkpoint("all-{epoch}.ksm", "val_loss", KS_MODE_AUTO, 0, 0, NAN);
        REQUIRE(cb != NULL, "made");
        check_saves(cb, &h, "val_loss", v, saved, 3, "all-%d.ksm");
        ks_callback_free(cb);
    }
    /* val_accuracy 0.5 0.4 0.6: max (auto) saves at 0 and 2; min at 0 and 1 */
    {
        const double v[] = {0.5, 0.4, 0.6};
        const int saved_max[] = {1, 0, 1}, saved_min[] = {1, 1, 0};
        cb = checkpoint("acc-{epoch}.ksm", "val_accuracy", KS_MODE_AUTO, 1, 0, NAN);
        REQUIRE(cb != NULL, "made");
        check_saves(cb, &h, "val_accuracy", v, saved_max, 3, "acc-%d.ksm");
        ks_callback_free(cb);
        cb = checkpoint("acc-{epoch}.ksm", "val_accuracy", KS_MODE_MIN, 1, 0, NAN);
        REQUIRE(cb != NULL, "made");
        check_saves(cb, &h, "val_accuracy", v, saved_min, 3, "acc-%d.ksm");
        ks_callback_free(cb);
    }
    /* initial_value_threshold 0.45: 0.5 is not better, 0.4 is */
    {
        const double v[] = {0.5, 0.4};
        const int saved[] = {0, 1};
        cb = checkpoint("thr-{epoch}.ksm", "val_loss", KS_MODE_AUTO, 1, 0, 0.45);
        REQUIRE(cb != NULL, "made");
        check_saves(cb, &h, "val_loss", v, saved, 2, "thr-%d.ksm");
        ks_callback_free(cb);
    }
    /* the monitor missing with save_best_only: saves anyway, warns once */
    {
        const double v[] = {0.5, 0.6};
        const int saved[] = {1, 1};
        cb = checkpoint("nomon-{epoch}.ksm", "val_auc", KS_MODE_AUTO, 1, 0, NAN);
        REQUIRE(cb != NULL, "made");
        check_saves(cb, &h, "val_loss", v, saved, 2, "nomon-%d.ksm");
        CHECK(count_of(console(&h), "Can save best model only with val_auc available.") == 1,
              "console: %s", console(&h));
        ks_callback_free(cb);
    }
    /*
     * save_freq 3 over two epochs of 5 batches: the count runs across epochs, so saves
     * follow batches 3 of epoch 1, then 1 and 4 of epoch 2 (1-based); none at epoch end.
     */
    {
        const int want_e[] = {1, 2, 2}, want_b[] = {3, 1, 4};
        int k = 0;
        cb = checkpoint("b{epoch}-{batch}.ksm", "val_loss", KS_MODE_AUTO, 0, 3, NAN);
        REQUIRE(cb != NULL, "made");
        for (int e = 0; e < 2; e++) {
            h.ctx.epoch = e;
            for (int b = 0; b < 5; b++) {
                int before = ks_model_checkpoint_n_saves(cb);
                ks_logs_clear(&h.logs);
                ks_logs_set(&h.logs, "loss", 0.5);
                h.ctx.batch = b;
                (void)call(cb->on_train_batch_end, cb, &h);
                if (ks_model_checkpoint_n_saves(cb) > before) {
                    char want[512];
                    const char *last = ks_model_checkpoint_last_path(cb);
                    REQUIRE(k < 3, "at most 3 saves");
                    snprintf(want, sizeof want, "%s/b%d-%d.ksm", tmpdir, want_e[k], want_b[k]);
                    CHECK(last && strcmp(last, want) == 0, "save %d: %s, want %s", k, last, want);
                    k++;
                }
            }
            CHECK(epoch_end(cb, &h, e, "val_loss", 0.1) == KS_OK, "epoch end");
        }
        CHECK(k == 3 && ks_model_checkpoint_n_saves(cb) == 3, "3 saves, got %d", k);
        ks_callback_free(cb);
    }
    /* the parent directories are made */
    {
        const double v[] = {0.5};
        const int saved[] = {1};
        char dir[512];
        struct stat st;
        cb = checkpoint("sub/dir/x{epoch}.ksm", "val_loss", KS_MODE_AUTO, 0, 0, NAN);
        REQUIRE(cb != NULL, "made");
        check_saves(cb, &h, "val_loss", v, saved, 1, "sub/dir/x%d.ksm");
        snprintf(dir, sizeof dir, "%s/sub/dir", tmpdir);
        CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), "%s made", dir);
        ks_callback_free(cb);
    }
    /* a log key the template names but the logs lack: an error at save time */
    {
        ks_status s;
        cb = checkpoint("k-{val_accuracy:.2f}.ksm", "val_loss", KS_MODE_AUTO, 0, 0, NAN);
        REQUIRE(cb != NULL, "made");
        s = epoch_end(cb, &h, 0, "val_loss", 0.5);
        CHECK(s == KS_ERR_CONFIG, "status %d", s);
        CHECK(strstr(cb->message, "no value for {val_accuracy}") != NULL, "message %s",
              cb->message);
        CHECK(ks_model_checkpoint_n_saves(cb) == 0, "no save");
        ks_callback_free(cb);
    }
    /* construction errors: {batch} with saves per epoch, bad syntax, no filepath */
    {
        ks_model_checkpoint_args a = ks_model_checkpoint_args_default();
        ks_error err;
        CHECK(ks_callback_model_checkpoint_new(&a, &cb, &err) == KS_ERR_CONFIG && !cb,
              "empty filepath");
        snprintf(a.filepath, sizeof a.filepath, "x-{batch}.ksm");
        CHECK(ks_callback_model_checkpoint_new(&a, &cb, &err) == KS_ERR_CONFIG && !cb,
              "{batch} per epoch");
        CHECK(strncmp(err.msg, "ModelCheckpoint: ", 17) == 0, "message %s", err.msg);
        a.save_freq = 10;
        CHECK(ks_callback_model_checkpoint_new(&a, &cb, &err) == KS_OK, "{batch} per 10 batches");
        ks_callback_free(cb);
        snprintf(a.filepath, sizeof a.filepath, "x-{epoch:q}.ksm");
        CHECK(ks_callback_model_checkpoint_new(&a, &cb, &err) == KS_ERR_CONFIG && !cb,
              "bad spec");
    }
    harness_free(&h);
}

/* -------------------------------------------------- ReduceLROnPlateau */

static void test_reduce_lr(void)
{
    harness h;
    ks_reduce_lr_on_plateau_args a;
    ks_callback *cb = NULL;
    ks_error err;
    REQUIRE(harness_init(&h), "harness");

    /*
     * factor 0.5, patience 2, cooldown 1, min_lr 0.02, min_delta 0 from lr 0.1 on val_loss
     * 1 1 1 1 1 1 1 1 0.5 0.6 0.6.  Per epoch (Keras: a cooldown counter above 0 is
     * decremented and clears wait before the comparison; wait counts only at counter 0):
     *   e0 best 1                       lr 0.1
     *   e1 wait 1                       lr 0.1
     *   e2 wait 2 → 0.05, cooldown 1    lr 0.05
     *   e3 counter 1→0, wait 0 then 1   lr 0.05
     *   e4 wait 2 → 0.025, cooldown 1   lr 0.025
     *   e5 counter → 0, wait 1          lr 0.025
     *   e6 wait 2 → max(0.0125, 0.02)   lr 0.02
     *   e7 counter → 0, wait 1          lr 0.02
     *   e8 0.5 is best, wait 0          lr 0.02
     *   e9 wait 1; e10 wait 2, but lr is not above min_lr: unchanged.
     * The logs get the rate before the epoch's reduction, read as float32 as Keras does.
     */
    {
        const double v[] = {1, 1, 1, 1, 1, 1, 1, 1, 0.5, 0.6, 0.6};
        const double lr_after[] = {0.1, 0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02,
                                   0.02};
        const char *out;
        a = ks_reduce_lr_on_plateau_args_default();
        a.factor = 0.5;
        a.patience = 2;
        a.cooldown = 1;
        a.min_lr = 0.02;
        a.min_delta = 0.0;
        a.verbose = 1;
        REQUIRE(ks_callback_reduce_lr_on_plateau_new(&a, &cb, &err) == KS_OK, "%s", err.msg);
        CHECK(call(cb->on_train_begin, cb, &h) == KS_OK, "train begin");
        for (int e = 0; e < 11; e++) {
            double logged = -1, lr_before = e ? lr_after[e - 1] : 0.1;
            CHECK(epoch_end(cb, &h, e, "val_loss", v[e]) == KS_OK, "epoch %d", e);
            CHECK(fabs(ks_model_get_lr(h.m) - lr_after[e]) <= 1e-7 * lr_after[e],
                  "epoch %d: lr %.17g, want %g", e, ks_model_get_lr(h.m), lr_after[e]);
            CHECK(ks_logs_get(&h.logs, "learning_rate", &logged) &&
                      logged == (double)(float)lr_before,
                  "epoch %d: logged lr %.17g, want float32 %g", e, logged, lr_before);
        }
        out = console(&h);
        /* Python: repr(float32(0.1) * 0.5) and repr(float32(0.05) * 0.5) */
        CHECK(strstr(out, "Epoch 3: ReduceLROnPlateau reducing learning rate to "
                          "0.05000000074505806.\n") != NULL,
              "console: %s", out);
        CHECK(strstr(out, "Epoch 5: ReduceLROnPlateau reducing learning rate to "
                          "0.02500000037252903.\n") != NULL,
              "console: %s", out);
        CHECK(strstr(out, "Epoch 7: ReduceLROnPlateau reducing learning rate to 0.02.\n") !=
                  NULL, "console: %s", out);
        CHECK(count_of(out, "ReduceLROnPlateau reducing") == 3, "three reductions: %s", out);
        ks_callback_free(cb);
    }

    /*
     * cooldown 2, patience 1, the rest as above, on 1 1 1 1 1 1 1 1 0.5 0.6: a reduction
     * at e1 (0.05); e2 is in cooldown (counter 2→1, no waiting); e3 counter 1→0, wait 1 →
     * 0.025; e4 cooldown; e5 → max(0.0125, 0.02) = 0.02; e7 would reduce but lr is at
     * min_lr; e8 is best; e9 waits, still at min_lr.
     */
    {
        const double v[] = {1, 1, 1, 1, 1, 1, 1, 1, 0.5, 0.6};
        const double lr_after[] = {0.1, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02, 0.02};
        ks_model_set_lr(h.m, 0.1);
        a = ks_reduce_lr_on_plateau_args_default();
        a.factor = 0.5;
        a.patience = 1;
        a.cooldown = 2;
        a.min_lr = 0.02;
        a.min_delta = 0.0;
        REQUIRE(ks_callback_reduce_lr_on_plateau_new(&a, &cb, &err) == KS_OK, "%s", err.msg);
        CHECK(call(cb->on_train_begin, cb, &h) == KS_OK, "train begin");
        for (int e = 0; e < 10; e++) {
            CHECK(epoch_end(cb, &h, e, "val_loss", v[e]) == KS_OK, "epoch %d", e);
            CHECK(fabs(ks_model_get_lr(h.m) - lr_after[e]) <= 1e-7 * lr_after[e],
                  "cooldown 2, epoch %d: lr %.17g, want %g", e, ks_model_get_lr(h.m),
                  lr_after[e]);
        }
        ks_callback_free(cb);
    }

    /*
     * mode auto is Keras's "acc" rule here: val_accuracy 0.5 0.4 with patience 1 is a
     * plateau (max) → 0.1 · 0.5; val_auc 0.5 0.6 is minimized, so 0.6 is worse → reduced;
     * the same val_auc with mode max is an improvement → unchanged.
     */
    {
        const char *mon[] = {"val_accuracy", "val_auc", "val_auc"};
        int mode[] = {KS_MODE_AUTO, KS_MODE_AUTO, KS_MODE_MAX};
        double second[] = {0.4, 0.6, 0.6}, want[] = {0.05, 0.05, 0.1};
        for (int i = 0; i < 3; i++) {
            ks_model_set_lr(h.m, 0.1);
            a = ks_reduce_lr_on_plateau_args_default();
            snprintf(a.monitor, sizeof a.monitor, "%s", mon[i]);
            a.factor = 0.5;
            a.patience = 1;
            a.mode = mode[i];
            REQUIRE(ks_callback_reduce_lr_on_plateau_new(&a, &cb, &err) == KS_OK, "%s", err.msg);
            call(cb->on_train_begin, cb, &h);
            epoch_end(cb, &h, 0, mon[i], 0.5);
            epoch_end(cb, &h, 1, mon[i], second[i]);
            CHECK(fabs(ks_model_get_lr(h.m) - want[i]) < 1e-8, "%s mode %d: lr %g, want %g",
                  mon[i], mode[i], ks_model_get_lr(h.m), want[i]);
            ks_callback_free(cb);
        }
    }

    /* the default min_delta 1e-4: 1.0 then 0.99995 is no improvement (needs < 0.9999) */
    {
        ks_model_set_lr(h.m, 0.1);
        a = ks_reduce_lr_on_plateau_args_default();
        a.patience = 1;
        REQUIRE(ks_callback_reduce_lr_on_plateau_new(&a, &cb, &err) == KS_OK, "%s", err.msg);
        call(cb->on_train_begin, cb, &h);
        epoch_end(cb, &h, 0, "val_loss", 1.0);
        epoch_end(cb, &h, 1, "val_loss", 0.99995);
        CHECK(fabs(ks_model_get_lr(h.m) - 0.01) < 1e-9, "lr %g, want 0.01 (factor 0.1)",
              ks_model_get_lr(h.m));
        ks_callback_free(cb);
    }

    /* factor >= 1 (and < 0) is refused */
    a = ks_reduce_lr_on_plateau_args_default();
    a.factor = 1.0;
    CHECK(ks_callback_reduce_lr_on_plateau_new(&a, &cb, &err) == KS_ERR_CONFIG && !cb,
          "factor 1");
    CHECK(strstr(err.msg, "factor") != NULL, "message %s", err.msg);
    a.factor = -0.5;
    CHECK(ks_callback_reduce_lr_on_plateau_new(&a, &cb, &err) == KS_ERR_CONFIG && !cb,
          "factor -0.5");
    harness_free(&h);
}

/* ----------------------------------------------------- TerminateOnNaN */

static void test_terminate_on_nan(void)
{
    harness h;
    ks_callback *cb = NULL;
    ks_error err;
    const double bad[] = {NAN, INFINITY, -INFINITY};
    REQUIRE(harness_init(&h), "harness");
    REQUIRE(ks_callback_terminate_on_nan_new(&cb, &err) == KS_OK, "made");
    ks_logs_set(&h.logs, "loss", 0.5);
    h.ctx.batch = 3;
    CHECK(call(cb->on_train_batch_end, cb, &h) == KS_OK, "finite loss");
    ks_logs_clear(&h.logs);
    CHECK(call(cb->on_train_batch_end, cb, &h) == KS_OK, "no loss in the logs");
    for (int i = 0; i < 3; i++) {
        ks_logs_set(&h.logs, "loss", bad[i]);
        CHECK(call(cb->on_train_batch_end, cb, &h) == KS_ERR_NAN, "loss %g", bad[i]);
        CHECK(strcmp(cb->message, "batch 3: invalid loss, terminating training") == 0,
              "message %s", cb->message);
    }
    ks_callback_free(cb);
    harness_free(&h);
}

/* ---------------------------------------------------------- CSVLogger */

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    size_t n;
    if (!f)
        return NULL;
    buf = malloc(65536);
    n = buf ? fread(buf, 1, 65535, f) : 0;
    if (buf)
        buf[n] = '\0';
    fclose(f);
    return buf;
}

static ks_callback *csv_logger(const char *path, const char *sep, int append)
{
    ks_csv_logger_args a = ks_csv_logger_args_default();
    ks_callback *cb = NULL;
    ks_error err;
    snprintf(a.filename, sizeof a.filename, "%s", path);
    snprintf(a.separator, sizeof a.separator, "%s", sep);
    a.append = append;
    if (ks_callback_csv_logger_new(&a, &cb, &err) != KS_OK)
        CHECK(0, "CSVLogger: %s", err.msg);
    return cb;
}

/* Two epochs: the second lacks val_loss (validation_freq 2 does that). */
static void csv_run(ks_callback *cb, harness *h, int end)
{
    CHECK(call(cb->on_train_begin, cb, h) == KS_OK, "train begin: %s", cb->message);
    ks_logs_clear(&h->logs);
    ks_logs_set(&h->logs, "loss", 0.5);
    ks_logs_set(&h->logs, "val_loss", 0.1);
    ks_logs_set(&h->logs, "accuracy", 0.25);
    h->ctx.epoch = 0;
    CHECK(call(cb->on_epoch_end, cb, h) == KS_OK, "epoch 0");
    ks_logs_clear(&h->logs);
    ks_logs_set(&h->logs, "loss", 1.0 / 3.0);
    ks_logs_set(&h->logs, "accuracy", 1e-05);
    h->ctx.epoch = 1;
    CHECK(call(cb->on_epoch_end, cb, h) == KS_OK, "epoch 1");
    if (end)
        CHECK(call(cb->on_train_end, cb, h) == KS_OK, "train end");
}

static void test_csv_logger(void)
{
    /* Python: csv.DictWriter rows of repr(float), "\r\n", keys sorted */
    const char *header = "epoch,accuracy,loss,val_loss\r\n";
    const char *rows = "0,0.25,0.5,0.1\r\n1,1e-05,0.3333333333333333,NA\r\n";
    char path[512], want[512];
    char *text;
    harness h;
    ks_callback *cb;
    REQUIRE(harness_init(&h), "harness");
    snprintf(path, sizeof path, "%s/log.csv", tmpdir);

    cb = csv_logger(path, ",", 0);
    REQUIRE(cb != NULL, "made");
    csv_run(cb, &h, 1);
    text = slurp(path);
    snprintf(want, sizeof want, "%s%s", header, rows);
    CHECK(text && strcmp(text, want) == 0, "got [%s]", text ? text : "(none)");
    free(text);
    /* the same callback again, appending: no second header */
    ks_callback_free(cb);
    cb = csv_logger(path, ",", 1);
    REQUIRE(cb != NULL, "made");
    csv_run(cb, &h, 1);
    text = slurp(path);
    snprintf(want, sizeof want, "%s%s%s", header, rows, rows);
    CHECK(text && strcmp(text, want) == 0, "append: got [%s]", text ? text : "(none)");
    free(text);
    /* append to an empty file writes the header; freeing without train end closes it */
    {
        FILE *f = fopen(path, "wb");
        if (f)
            fclose(f);
    }
    csv_run(cb, &h, 0);
    ks_callback_free(cb);
    text = slurp(path);
    snprintf(want, sizeof want, "%s%s", header, rows);
    CHECK(text && strcmp(text, want) == 0, "append to empty: got [%s]", text ? text : "(none)");
    free(text);
    /* not appending overwrites; another separator (and a field holding it is quoted) */
    cb = csv_logger(path, ";", 0);
    REQUIRE(cb != NULL, "made");
    CHECK(call(cb->on_train_begin, cb, &h) == KS_OK, "train begin");
    ks_logs_clear(&h.logs);
    ks_logs_set(&h.logs, "a;b", 100.0);
    ks_logs_set(&h.logs, "Z", 0.1 + 0.2);
    h.ctx.epoch = 4;
    CHECK(call(cb->on_epoch_end, cb, &h) == KS_OK, "epoch");
    CHECK(call(cb->on_train_end, cb, &h) == KS_OK, "train end");
    ks_callback_free(cb);
    text = slurp(path);
    CHECK(text && strcmp(text, "epoch;Z;\"a;b\"\r\n4;0.30000000000000004;100.0\r\n") == 0,
          "separator: got [%s]", text ? text : "(none)");
    free(text);
    /* a file that cannot be opened: KS_ERR_IO naming it */
    snprintf(path, sizeof path, "%s/no/such/dir/log.csv", tmpdir);
    cb = csv_logger(path, ",", 0);
    REQUIRE(cb != NULL, "made");
    CHECK(call(cb->on_train_begin, cb, &h) == KS_ERR_IO, "open fails");
    CHECK(strstr(cb->message, path) != NULL, "message %s", cb->message);
    ks_callback_free(cb);
    unlink(path);
    harness_free(&h);
}

/* ------------------------------------------------ from config by name */

static ks_status from_json(const char *name, const char *json, ks_callback **cb, ks_error *err)
{
    ks_value args;
    ks_status s;
    *cb = NULL;
    if (!json)
        return ks_callback_from_config(name, NULL, cb, err);
    if (!ok_json(json, &args))
        return KS_ERR_PARSE;
    s = ks_callback_from_config(name, &args, cb, err);
    ks_value_free(&args);
    return s;
}

static void test_from_config(void)
{
    static const struct {
        const char *name, *json;
    } good[] = {
        {"EarlyStopping", NULL},
        {"EarlyStopping", "{\"monitor\": \"val_accuracy\", \"patience\": 3, \"mode\": \"max\", "
                          "\"baseline\": null, \"restore_best_weights\": true, "
                          "\"min_delta\": 0.01, \"verbose\": 1, \"start_from_epoch\": 2}"},
        {"ModelCheckpoint", "{\"filepath\": \"c-{epoch:03d}.ksm\"}"},
        {"ModelCheckpoint", "{\"filepath\": \"c.ksm\", \"save_freq\": \"epoch\", "
                            "\"save_best_only\": true, \"save_weights_only\": true, "
                            "\"initial_value_threshold\": 0.5, \"mode\": \"min\"}"},
        {"ModelCheckpoint", "{\"filepath\": \"c-{batch}.ksm\", \"save_freq\": 100}"},
        {"ReduceLROnPlateau", "{\"factor\": 0.5, \"patience\": 3, \"cooldown\": 1, "
                              "\"min_lr\": 1e-5, \"min_delta\": 0.001, \"mode\": \"auto\"}"},
        {"TerminateOnNaN", NULL},
        {"TerminateOnNaN", "{}"},
        {"CSVLogger", "{\"filename\": \"log.csv\", \"separator\": \";\", \"append\": true}"},
    };
    static const struct {
        const char *name, *json, *says;
    } bad[] = {
        {"EarlyStoping", NULL, "unknown callback \"EarlyStoping\" (did you mean \"EarlyStopping\"?)"
                               "; known: EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, "
                               "TerminateOnNaN, CSVLogger"},
        {"Tensorboard2000", NULL, "unknown callback \"Tensorboard2000\"; known: "},
        {"EarlyStopping", "{\"patiense\": 3}", "has no argument \"patiense\" (did you mean "
                                               "\"patience\"?)"},
        {"EarlyStopping", "{\"patience\": \"three\"}", "patience must be an integer"},
        {"EarlyStopping", "{\"patience\": -1}", "patience must be an integer >= 0"},
        {"EarlyStopping", "{\"restore_best_weights\": 1}", "must be true or false"},
        {"EarlyStopping", "{\"mode\": \"maximum\"}", "mode must be one of auto, min, max"},
        {"ModelCheckpoint", NULL, "missing its required argument \"filepath\""},
        {"ModelCheckpoint", "{\"filepath\": \"c.ksm\", \"save_freq\": 0}", "save_freq must be"},
        {"ModelCheckpoint", "{\"filepath\": \"c.ksm\", \"save_freq\": \"batch\"}",
         "save_freq must be"},
        {"ModelCheckpoint", "{\"filepath\": \"c-{batch}.ksm\"}", "integer save_freq"},
        {"ModelCheckpoint", "{\"filepath\": 3}", "filepath must be a string"},
        {"ReduceLROnPlateau", "{\"factor\": 1.0}", "factor must be a number in [0, 1)"},
        {"ReduceLROnPlateau", "{\"min_lr\": -1}", "min_lr must be"},
        {"TerminateOnNaN", "{\"raise\": true}", "has no argument \"raise\""},
        {"CSVLogger", "{}", "missing its required argument \"filename\""},
        {"CSVLogger", "{\"filename\": \"x.csv\", \"separator\": \";;\"}", "one character"},
        {"CSVLogger", "{\"filename\": \"x.csv\", \"append\": \"yes\"}", "true or false"},
    };
    ks_callback *cb;
    ks_error err;
    int n = 0;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ks_status s = from_json(good[i].name, good[i].json, &cb, &err);
        CHECK(s == KS_OK && cb, "%s %s: %s", good[i].name, good[i].json ? good[i].json : "",
              err.msg);
        if (cb)
            CHECK(strcmp(cb->name, good[i].name) == 0, "name %s", cb->name);
        ks_callback_free(cb);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ks_status s = from_json(bad[i].name, bad[i].json, &cb, &err);
        CHECK(s == KS_ERR_CONFIG && !cb, "%s %s: status %d", bad[i].name,
              bad[i].json ? bad[i].json : "", s);
        CHECK(strstr(err.msg, bad[i].says) != NULL, "%s: message \"%s\" lacks \"%s\"",
              bad[i].name, err.msg, bad[i].says);
        ks_callback_free(cb);
    }
    /* every listed name builds (ModelCheckpoint and CSVLogger need their file argument) */
    for (; ks_callback_names[n]; n++) {
        const char *json = strcmp(ks_callback_names[n], "ModelCheckpoint") == 0
                               ? "{\"filepath\": \"m.ksm\"}"
                           : strcmp(ks_callback_names[n], "CSVLogger") == 0
                               ? "{\"filename\": \"l.csv\"}"
                               : NULL;
        CHECK(from_json(ks_callback_names[n], json, &cb, &err) == KS_OK, "%s: %s",
              ks_callback_names[n], err.msg);
        ks_callback_free(cb);
    }
    CHECK(n == 5, "5 names, got %d", n);
    /* what the arguments do: EarlyStopping from config behaves as the scripted case */
    {
        const double v[] = {1.0, 0.9, 0.95, 0.96, 0.8};
        harness h;
        REQUIRE(harness_init(&h), "harness");
        REQUIRE(from_json("EarlyStopping", "{\"patience\": 2}", &cb, &err) == KS_OK, "made");
        run_sequence(cb, &h, "val_loss", v, 5);
        CHECK(ks_early_stopping_stopped_epoch(cb) == 3, "stopped %d",
              ks_early_stopping_stopped_epoch(cb));
        ks_callback_free(cb);
        harness_free(&h);
    }
}

/* -------------------------------------------------------- real fits */

/* Copies the weights at the end of one epoch (to compare with what is restored). */
typedef struct snapshot {
    int epoch;
    float *w;
    size_t n;
} snapshot;

static ks_status snap_epoch_end(void *user, const ks_callback_ctx *ctx)
{
    snapshot *s = user;
    if (ctx->epoch == s->epoch && s->n == ks_model_weights_size(ctx->model))
        memcpy(s->w, ks_model_weights(ctx->model), s->n * sizeof *s->w);
    return KS_OK;
}

static void test_fit(void)
{
    enum { N = 64 };
    float x[N * 3], y[N * 2];
    ks_shape xs = {1, {3}};
    ks_dataset *ds = NULL;
    ks_data d;
    ks_model *m = tiny_model();
    ks_fit_params p = ks_fit_params_default();
    ks_fit_history hist;
    ks_callback *cbs[4] = {NULL};
    ks_callback snap_cb;
    snapshot snap = {0, NULL, 0};
    ks_error err;
    ks_status s;
    char csv[512];
    REQUIRE(m != NULL, "model");
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < 3; j++)
            x[i * 3 + j] = (float)(((i * 7 + j * 13) % 17) / 17.0 - 0.5);
        y[i * 2] = x[i * 3] - 2 * x[i * 3 + 1];
        y[i * 2 + 1] = 0.5f * x[i * 3 + 2];
    }
    REQUIRE(ks_dataset_from_arrays(&xs, N, x, 2, y, 0, &ds, &err) == KS_OK, "%s", err.msg);
    d = ks_dataset_data(ds);
    p.epochs = 20;
    p.batch_size = 16;
    p.verbose = 0;
    p.validation_split = 0.25;
    ks_fit_history_init(&hist);

    /*
     * min_delta 1e6: no epoch after the first counts as better, so with patience 2 the
     * stop comes at epoch 2 (wait 1, 2) and the weights of epoch 0 come back.
     * ReduceLROnPlateau before it adds learning_rate to the logs History keeps, and the
     * CSVLogger after it writes that column too.
     */
    REQUIRE(from_json("ReduceLROnPlateau", "{\"patience\": 100}", &cbs[0], &err) == KS_OK, "rl");
    REQUIRE(from_json("EarlyStopping", "{\"patience\": 2, \"min_delta\": 1e6, "
                                       "\"restore_best_weights\": true}", &cbs[1], &err) == KS_OK,
            "es");
    snprintf(csv, sizeof csv, "%s/fit.csv", tmpdir);
    cbs[2] = csv_logger(csv, ",", 0);
    memset(&snap_cb, 0, sizeof snap_cb);
    snap.n = ks_model_weights_size(m);
    snap.w = malloc(snap.n * sizeof *snap.w);
    snap_cb.name = "snapshot";
    snap_cb.user = &snap;
    snap_cb.on_epoch_end = snap_epoch_end;
    cbs[3] = &snap_cb;
    s = ks_model_fit(m, &d, NULL, &p, cbs, 4, &hist, &err);
    CHECK(s == KS_OK, "fit: %s", err.msg);
    CHECK(ks_early_stopping_stopped_epoch(cbs[1]) == 2, "stopped %d",
          ks_early_stopping_stopped_epoch(cbs[1]));
    CHECK(ks_early_stopping_best_epoch(cbs[1]) == 0, "best %d",
          ks_early_stopping_best_epoch(cbs[1]));
    CHECK(hist.n_epochs == 3, "history has %d epochs, want stopped_epoch + 1 = 3", hist.n_epochs);
    if (hist.n_epochs > 0) {
        double lr = 0;
        CHECK(ks_logs_get(&hist.logs[0], "learning_rate", &lr) && lr == (double)0.1f,
              "history learning_rate %.17g", lr);
        CHECK(ks_logs_get(&hist.logs[0], "val_loss", NULL), "val_loss logged");
    }
    CHECK(snap.w && memcmp(snap.w, ks_model_weights(m), snap.n * sizeof *snap.w) == 0,
          "weights of epoch 0 restored");
    {
        char *text = slurp(csv);
        CHECK(text && strncmp(text, "epoch,learning_rate,loss,val_loss\r\n", 35) == 0,
              "csv header: %s", text ? text : "(none)");
        CHECK(text && count_of(text, "\r\n") == 4, "header + 3 rows: %s", text ? text : "");
        free(text);
    }
    for (int i = 0; i < 3; i++)
        ks_callback_free(cbs[i]);
    free(snap.w);
    ks_fit_history_free(&hist);

    /* ModelCheckpoint inside fit: the save either works (a file) or fails with its reason */
    {
        ks_callback *mc = checkpoint("fit-{epoch}.ksm", "val_loss", KS_MODE_AUTO, 0, 0, NAN);
        REQUIRE(mc != NULL, "made");
        p.epochs = 2;
        s = ks_model_fit(m, &d, NULL, &p, &mc, 1, NULL, &err);
        if (s == KS_OK) {
            struct stat st;
            char want[512];
            snprintf(want, sizeof want, "%s/fit-2.ksm", tmpdir);
            CHECK(ks_model_checkpoint_n_saves(mc) == 2, "2 saves");
            CHECK(stat(want, &st) == 0, "%s written", want);
        } else {
            CHECK(strncmp(err.msg, "ModelCheckpoint: ", 17) == 0, "fit error: %s", err.msg);
            CHECK(ks_model_checkpoint_n_saves(mc) == 1, "stopped at the first failed save");
        }
        ks_callback_free(mc);
    }

    /* TerminateOnNaN: a learning rate that blows the loss up fails the fit */
    {
        ks_callback *t = NULL;
        REQUIRE(from_json("TerminateOnNaN", NULL, &t, &err) == KS_OK, "made");
        ks_model_set_lr(m, 1e30);
        p.epochs = 5;
        s = ks_model_fit(m, &d, NULL, &p, &t, 1, NULL, &err);
        CHECK(s == KS_ERR_NAN, "fit status %d: %s", s, err.msg);
        CHECK(strstr(err.msg, "TerminateOnNaN: batch ") != NULL &&
                  strstr(err.msg, "invalid loss, terminating training") != NULL,
              "message %s", err.msg);
        ks_callback_free(t);
    }
    ks_dataset_free(ds);
    ks_model_free(m);
}

/* ---------------------------------------------------------------- main */

/* ---------------------------------------------------------------- logs */

/* A callback that adds n logs to the epoch's logs. */
static ks_status many_logs(void *user, const ks_callback_ctx *ctx)
{
    int n = *(int *)user;
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "output_%d_loss", i);
        ks_logs_set(ctx->epoch_logs, name, i);
    }
    return KS_OK;
}

/*
 * Many logs are kept (multi-output models log a loss and metrics per output), and
 * more than the limit is an error that reaches the user, never a silent drop (issue 9,
 * defect 8: entries past 32 were dropped without a word).
 */
static void test_logs(void)
{
    ks_logs *l = malloc(sizeof *l);
    int kept = 0, n = 100;
    ks_callback cb;
    ks_model *m = tiny_model();
    float x[8 * 3] = {0}, y[8 * 2] = {0};
    ks_shape xs = {1, {3}};
    ks_dataset *ds = NULL;
    ks_fit_params p = ks_fit_params_default();
    ks_callback *list[1] = {&cb};
    ks_data d;
    ks_error err;
    ks_logs_clear(l);
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "output_%d_loss", i);
        ks_logs_set(l, name, i);
    }
    for (int i = 0; i < n; i++) {
        char name[32];
        double v = -1;
        snprintf(name, sizeof name, "output_%d_loss", i);
        kept += ks_logs_get(l, name, &v) && v == i;
    }
    CHECK(kept == n, "%d of %d logs kept", kept, n);
    free(l);

    /* a fit whose logs overflow fails, saying so */
    REQUIRE(m != NULL, "model");
    REQUIRE(ks_dataset_from_arrays(&xs, 8, x, 2, y, 0, &ds, &err) == KS_OK, "data: %s", err.msg);
    d = ks_dataset_data(ds);
    memset(&cb, 0, sizeof cb);
    cb.name = "ManyLogs";
    cb.user = &n;
    cb.on_epoch_end = many_logs;
    p.verbose = 0;
    n = 100;
    CHECK(ks_model_fit(m, &d, NULL, &p, list, 1, NULL, &err) == KS_OK, "100 logs: %s", err.msg);
    n = 300;
    CHECK(ks_model_fit(m, &d, NULL, &p, list, 1, NULL, &err) == KS_ERR_CONFIG &&
              strstr(err.msg, "more than 128 logs"),
          "300 logs: %s: %s", ks_status_str(err.code), err.msg);
    ks_dataset_free(ds);
    ks_model_free(m);
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/ks_test_callbacks_XXXXXX");
    if (!mkdtemp(tmpdir)) {
        CHECK(0, "mkdtemp");
        return check_done();
    }
    test_early_stopping();
    test_format_filepath();
    test_model_checkpoint();
    test_reduce_lr();
    test_terminate_on_nan();
    test_csv_logger();
    test_from_config();
    test_fit();
    test_logs();
    nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return check_done();
}
