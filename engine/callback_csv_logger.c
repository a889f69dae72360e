/*
 * callback_csv_logger.c — CSVLogger as Keras 3 writes it: a header "epoch" + the first
 * epoch's log keys sorted, then one row per epoch (0-based epoch, values as Python's
 * repr, "NA" for a key an epoch lacks), CRLF line ends as Python's csv module writes,
 * flushed every epoch.  append keeps the file and writes the header only if it is empty.
 */
#include "engine_impl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const ks_key keys[] = {
    {"filename", KS_KEY_STRING, offsetof(ks_csv_logger_args, filename), 1024, 0, 0, NULL, NULL,
     KS_KEY_REQUIRED},
    {"separator", KS_KEY_STRING, offsetof(ks_csv_logger_args, separator), 8, 0, 0, ",", NULL, 0},
    {"append", KS_KEY_BOOL, offsetof(ks_csv_logger_args, append), 0, 0, 0, "false", NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

typedef struct csv_logger {
    ks_callback *self;
    ks_csv_logger_args a;
    FILE *f;
    int write_header;
    int n_keys;                 /* 0: not yet known (set at the first epoch end) */
    char keys[KS_LOGS_MAX][KS_LOG_NAME_MAX];
} csv_logger;

ks_csv_logger_args ks_csv_logger_args_default(void)
{
    ks_csv_logger_args a;
    memset(&a, 0, sizeof a);
    ks_keys_defaults(keys, &a);
    return a;
}

static ks_status io_error(csv_logger *c, const char *what, int e)
{
    snprintf(c->self->message, sizeof c->self->message, "cannot %s %.200s: %s", what, c->a.filename,
             strerror(e));
    return KS_ERR_IO;
}

static void close_file(csv_logger *c)
{
    if (c->f)
        fclose(c->f);
    c->f = NULL;
}

static ks_status csv_train_begin(void *user, const ks_callback_ctx *ctx)
{
    csv_logger *c = user;
    (void)ctx;
    close_file(c);
    c->n_keys = 0;
    c->write_header = 1;
    if (c->a.append) {
        /* Keras: the header goes in only if the file's first line is empty */
        FILE *r = fopen(c->a.filename, "rb");
        if (r) {
            c->write_header = fgetc(r) == EOF;
            fclose(r);
        }
    }
    c->f = fopen(c->a.filename, c->a.append ? "ab" : "wb");
    if (!c->f)
        return io_error(c, "open", errno);
    return KS_OK;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(a, b);
}

static ks_status csv_epoch_end(void *user, const ks_callback_ctx *ctx)
{
    csv_logger *c = user;
    char sep = c->a.separator[0];
    if (!c->f) {
        snprintf(c->self->message, sizeof c->self->message, "%.200s is not open (no train begin)",
                 c->a.filename);
        return KS_ERR_IO;
    }
    if (c->n_keys == 0) {
        /*
         * Keras fixes the columns at the first epoch end: its logs' keys, sorted (by code
         * point, as strcmp on UTF-8).  Keys that appear only later are not written.
         */
        for (int i = 0; i < ctx->logs->n; i++)
            memcpy(c->keys[i], ctx->logs->name[i], KS_LOG_NAME_MAX);
        c->n_keys = ctx->logs->n;
        qsort(c->keys, (size_t)c->n_keys, sizeof c->keys[0], by_name);
        if (c->write_header) {
            fputs("epoch", c->f);
            for (int i = 0; i < c->n_keys; i++) {
                fputc(sep, c->f);
                ks_csv_field(c->f, c->keys[i], sep);
            }
            fputs("\r\n", c->f);
            c->write_header = 0;
        }
    }
    {
        char text[64];
        snprintf(text, sizeof text, "%d", ctx->epoch);
        ks_csv_field(c->f, text, sep);
    }
    for (int i = 0; i < c->n_keys; i++) {
        double v;
        char text[64] = "NA";
        if (ks_logs_get(ctx->logs, c->keys[i], &v))
            ks_format_float_py(v, -1, text, sizeof text);
        fputc(sep, c->f);
        ks_csv_field(c->f, text, sep);
    }
    fputs("\r\n", c->f);
    if (fflush(c->f) != 0 || ferror(c->f))
        return io_error(c, "write", errno);
    return KS_OK;
}

static ks_status csv_train_end(void *user, const ks_callback_ctx *ctx)
{
    csv_logger *c = user;
    int bad;
    (void)ctx;
    if (!c->f)
        return KS_OK;
    bad = ferror(c->f);
    if (fclose(c->f) != 0 || bad) {
        c->f = NULL;
        return io_error(c, "write", bad ? EIO : errno);
    }
    c->f = NULL;
    return KS_OK;
}

static void csv_free(void *user)
{
    csv_logger *c = user;
    if (!c)
        return;
    close_file(c);
    free(c);
}

ks_status ks_callback_csv_logger_new(const ks_csv_logger_args *a, ks_callback **out,
                                     ks_error *err)
{
    ks_callback *cb;
    csv_logger *c;
    *out = NULL;
    if (!a->filename[0])
        return ks_error_set(err, KS_ERR_CONFIG, "CSVLogger: filename must not be empty");
    if (strlen(a->separator) != 1 || strchr("\"\r\n", a->separator[0]))
        return ks_error_set(err, KS_ERR_CONFIG,
                            "CSVLogger: separator must be one character other than a quote or "
                            "a line end, got \"%s\"",
                            a->separator);
    cb = ks_callback_alloc("CSVLogger", sizeof *c);
    if (!cb)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    c = cb->user;
    cb->free = csv_free;
    c->self = cb;
    c->a = *a;
    cb->on_train_begin = csv_train_begin;
    cb->on_epoch_end = csv_epoch_end;
    cb->on_train_end = csv_train_end;
    *out = cb;
    return KS_OK;
}

ks_status ks_csv_logger_from_config(const ks_value *args, ks_callback **out, ks_error *err)
{
    ks_csv_logger_args a = ks_csv_logger_args_default();
    ks_status s;
    *out = NULL;
    if ((s = ks_keys_read(keys, args, "CSVLogger", &a, err)) != KS_OK)
        return s;
    return ks_callback_csv_logger_new(&a, out, err);
}
