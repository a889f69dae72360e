/*
 * callback_progbar.c — the console output of fit and evaluate, as Keras prints it:
 * "Epoch 3/30", then for verbose 1 a progress bar
 *   1719/1719 [==============================] - 2s 1ms/step - loss: 0.4825 - …
 * redrawn in place on a terminal (elsewhere only the epoch's final line is written,
 * with no control characters), and for verbose 2 one line per epoch
 *   1719/1719 - 2s - loss: 0.4825 - … - 2s/epoch - 1ms/step
 */
#include "engine_impl.h"

#include <string.h>
#include <unistd.h>

#define BAR_WIDTH 30
#define REDRAW_INTERVAL 0.1

typedef struct progbar {
    int verbose;
    FILE *out;
    int tty;
    double start, last_draw;
    int last_width;             /* characters of the last in-place line */
} progbar;

static void format_time_per_step(double t, char *buf, size_t size)
{
    if (t >= 1.0)
        snprintf(buf, size, "%.0fs/step", t);
    else if (t >= 1e-3)
        snprintf(buf, size, "%.0fms/step", t * 1e3);
    else
        snprintf(buf, size, "%.0fus/step", t * 1e6);
}

static int append_logs(char *line, int len, int size, const ks_logs *logs)
{
    for (int i = 0; i < logs->n && len < size; i++) {
        char v[32];
        ks_format_log_value(logs->value[i], v, sizeof v);
        len += snprintf(line + len, (size_t)(size - len), " - %s: %s", logs->name[i], v);
    }
    return len < size ? len : size - 1;
}

static int bar(char *line, int size, int current, int target)
{
    int digits = snprintf(NULL, 0, "%d", target);
    int filled = target > 0 ? (int)((long)BAR_WIDTH * current / target) : BAR_WIDTH;
    int len = snprintf(line, (size_t)size, "%*d/%d [", digits, current, target);
    for (int i = 0; i < BAR_WIDTH && len + 2 < size; i++) {
        char c = '.';
        if (i < filled - 1 || (i == filled - 1 && current >= target))
            c = '=';
        else if (i == filled - 1)
            c = '>';
        line[len++] = c;
    }
    line[len++] = ']';
    line[len] = '\0';
    return len;
}

/* Draw the in-place line (terminal only), padded over the previous one. */
static void draw(progbar *pb, const char *line, int len)
{
    int pad = pb->last_width > len ? pb->last_width - len : 0;
    fprintf(pb->out, "\r%s%*s", line, pad, "");
    fflush(pb->out);
    pb->last_width = len;
}

static void update(progbar *pb, const ks_callback_ctx *ctx, int current)
{
    char line[1024], eta[32];
    double now = ks_now(), elapsed = now - pb->start;
    int len;
    if (pb->verbose != 1 || !pb->tty || now - pb->last_draw < REDRAW_INTERVAL)
        return;
    pb->last_draw = now;
    len = bar(line, sizeof line, current, ctx->steps);
    {
        double left = current > 0 ? elapsed / current * (ctx->steps - current) : 0.0;
        if (left > 3600)
            snprintf(eta, sizeof eta, "%d:%02d:%02d", (int)left / 3600, ((int)left % 3600) / 60,
                     (int)left % 60);
        else if (left > 60)
            snprintf(eta, sizeof eta, "%d:%02d", (int)left / 60, (int)left % 60);
        else
            snprintf(eta, sizeof eta, "%.0fs", left);
    }
    len += snprintf(line + len, sizeof line - (size_t)len, " - ETA: %s", eta);
    len = append_logs(line, len, (int)sizeof line, ctx->logs);
    draw(pb, line, len);
}

/* The last line of an epoch or an evaluation. */
static void finish(progbar *pb, const ks_callback_ctx *ctx, int is_epoch)
{
    char line[1024], per_step[32];
    double elapsed = ks_now() - pb->start;
    int len, steps = ctx->steps > 0 ? ctx->steps : 1;
    format_time_per_step(elapsed / steps, per_step, sizeof per_step);
    if (pb->verbose == 2 && is_epoch) {
        len = snprintf(line, sizeof line, "%d/%d - %.0fs", steps, steps, elapsed);
        len = append_logs(line, len, (int)sizeof line, ctx->logs);
        len += snprintf(line + len, sizeof line - (size_t)len, " - %.0fs/epoch - %s", elapsed,
                        per_step);
    } else {
        len = bar(line, sizeof line, steps, steps);
        len += snprintf(line + len, sizeof line - (size_t)len, " - %.0fs %s", elapsed, per_step);
        len = append_logs(line, len, (int)sizeof line, ctx->logs);
    }
    if (pb->tty && pb->last_width > 0)
        draw(pb, line, len);
    else
        fputs(line, pb->out);
    fputc('\n', pb->out);
    fflush(pb->out);
    pb->last_width = 0;
}

static ks_status pb_epoch_begin(void *user, const ks_callback_ctx *ctx)
{
    progbar *pb = user;
    if (ctx->params && ctx->params->epochs > 1) {
        fprintf(pb->out, "Epoch %d/%d\n", ctx->epoch + 1, ctx->params->epochs);
        fflush(pb->out);
    }
    pb->start = ks_now();
    pb->last_draw = 0.0;
    pb->last_width = 0;
    return KS_OK;
}

static ks_status pb_train_batch_end(void *user, const ks_callback_ctx *ctx)
{
    update(user, ctx, ctx->batch + 1);
    return KS_OK;
}

static ks_status pb_epoch_end(void *user, const ks_callback_ctx *ctx)
{
    finish(user, ctx, 1);
    return KS_OK;
}

/* evaluate() on its own; inside fit, validation is silent */
static ks_status pb_test_begin(void *user, const ks_callback_ctx *ctx)
{
    progbar *pb = user;
    if (!ctx->params) {
        pb->start = ks_now();
        pb->last_draw = 0.0;
        pb->last_width = 0;
    }
    return KS_OK;
}

static ks_status pb_test_batch_end(void *user, const ks_callback_ctx *ctx)
{
    if (!ctx->params)
        update(user, ctx, ctx->batch + 1);
    return KS_OK;
}

static ks_status pb_test_end(void *user, const ks_callback_ctx *ctx)
{
    if (!ctx->params)
        finish(user, ctx, 0);
    return KS_OK;
}

ks_status ks_callback_progbar_new(int verbose, FILE *out, int tty, ks_callback **out_cb)
{
    ks_callback *cb = ks_callback_alloc("ProgbarLogger", sizeof(progbar));
    progbar *pb;
    *out_cb = NULL;
    if (!cb)
        return KS_ERR_NOMEM;
    pb = cb->user;
    pb->verbose = verbose;
    pb->out = out ? out : stdout;
    pb->tty = tty >= 0 ? tty : isatty(fileno(pb->out));
    cb->on_epoch_begin = pb_epoch_begin;
    cb->on_train_batch_end = pb_train_batch_end;
    cb->on_epoch_end = pb_epoch_end;
    cb->on_test_begin = pb_test_begin;
    cb->on_test_batch_end = pb_test_batch_end;
    cb->on_test_end = pb_test_end;
    *out_cb = cb;
    return KS_OK;
}
