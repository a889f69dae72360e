/*
 * callback_model_checkpoint.c — ModelCheckpoint as Keras 3 does it: save the model
 * every epoch or every save_freq batches, or only when the monitored value improves
 * (save_best_only), to a path formatted from the epoch and the logs like Python's
 * str.format ("ckpt-{epoch:04d}-{val_loss:.2f}.ksm").
 */
#include "engine_impl.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define PATH_SIZE 2048

/* ------------------------------------------------------ filepath format */

/* A format spec: [[fill]align][sign][0][width][.precision][type] */
typedef struct fmt_spec {
    char fill, align;           /* 0: not given */
    char sign;                  /* '+', ' ' or 0 ('-', the default) */
    int zero;                   /* '0' before the width */
    int width, precision;       /* -1: not given */
    char type;                  /* d f F e E g G %, or 0 */
} fmt_spec;

static int is_align(char c)
{
    return c == '<' || c == '>' || c == '=' || c == '^';
}

/* Parse s[0..len); on error, why says what is wrong. */
static int parse_spec(const char *s, size_t len, fmt_spec *sp, const char **why)
{
    size_t i = 0;
    memset(sp, 0, sizeof *sp);
    sp->width = sp->precision = -1;
    if (len >= 2 && is_align(s[1])) {
        sp->fill = s[0];
        sp->align = s[1];
        i = 2;
    } else if (len >= 1 && is_align(s[0])) {
        sp->align = s[0];
        i = 1;
    }
    if (i < len && (s[i] == '+' || s[i] == '-' || s[i] == ' ')) {
        sp->sign = s[i] == '-' ? 0 : s[i];
        i++;
    }
    if (i < len && (s[i] == 'z' || s[i] == '#')) {
        *why = "the 'z' and '#' options are not supported";
        return -1;
    }
    if (i < len && s[i] == '0') {
        sp->zero = 1;
        i++;
    }
    if (i < len && s[i] >= '0' && s[i] <= '9') {
        sp->width = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            sp->width = sp->width * 10 + (s[i++] - '0');
            if (sp->width > 500) {
                *why = "width is too large";
                return -1;
            }
        }
    }
    if (i < len && (s[i] == ',' || s[i] == '_')) {
        *why = "digit grouping is not supported";
        return -1;
    }
    if (i < len && s[i] == '.') {
        i++;
        if (!(i < len && s[i] >= '0' && s[i] <= '9')) {
            *why = "format specifier missing precision";
            return -1;
        }
        sp->precision = 0;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            sp->precision = sp->precision * 10 + (s[i++] - '0');
            if (sp->precision > 60) {
                *why = "precision is too large (at most 60)";
                return -1;
            }
        }
    }
    if (i < len && strchr("dfFeEgG%", s[i]) && s[i])
        sp->type = s[i++];
    if (i != len) {
        *why = "invalid format specifier (expected [[fill]align][sign][0][width][.precision]"
               "[d|f|F|e|E|g|G|%])";
        return -1;
    }
    return 0;
}

/* The digits of a float formatted by type (no sign); 0 or -1 if they do not fit. */
static int float_body(const fmt_spec *sp, double v, char *body, size_t size)
{
    int p = sp->precision, n = 0, upper = sp->type == 'F' || sp->type == 'E' || sp->type == 'G';
    double a = fabs(v);
    if (!isfinite(v)) {
        n = snprintf(body, size, "%s%s", isnan(v) ? (upper ? "NAN" : "nan") : (upper ? "INF" : "inf"),
                     sp->type == '%' ? "%" : "");
        return n < (int)size ? 0 : -1;
    }
    switch (sp->type) {
    case 'f':
    case 'F':
        n = snprintf(body, size, "%.*f", p < 0 ? 6 : p, a);
        break;
    case 'e':
    case 'E':
        n = snprintf(body, size, sp->type == 'e' ? "%.*e" : "%.*E", p < 0 ? 6 : p, a);
        break;
    case 'g':
    case 'G':
        n = snprintf(body, size, sp->type == 'g' ? "%.*g" : "%.*G", p < 0 ? 6 : p, a);
        break;
    case '%':
        n = snprintf(body, size, "%.*f%%", p < 0 ? 6 : p, a * 100.0);
        break;
    default:
        ks_format_float_py(a, p, body, size);
        n = (int)strlen(body);
        break;
    }
    return n >= 0 && n < (int)size - 1 ? 0 : -1;
}

/*
 * Format one value: an integer (epoch, batch) when is_int, else a float.  Appends to
 * out at *len.  Returns 0, or -1 with why set.
 */
static int format_value(const fmt_spec *sp, int is_int, long long iv, double dv, char *out,
                        size_t size, size_t *len, const char **why)
{
    char body[512], fill;
    const char *sign = "";
    int neg, pad, left, right;
    size_t blen, slen;
    char align;
    if (is_int && (sp->type == 0 || sp->type == 'd')) {
        if (sp->precision >= 0) {
            *why = "precision is not allowed with an integer";
            return -1;
        }
        neg = iv < 0;
        snprintf(body, sizeof body, "%llu",
                 neg ? 0ULL - (unsigned long long)iv : (unsigned long long)iv);
    } else {
        if (is_int)
            dv = (double)iv;
        else if (sp->type == 'd') {
            *why = "format code 'd' needs an integer, and log values are floats";
            return -1;
        }
        neg = signbit(dv) && !isnan(dv);
        if (float_body(sp, dv, body, sizeof body) != 0) {
            *why = "the formatted number is too long";
            return -1;
        }
    }
    if (neg)
        sign = "-";
    else if (sp->sign == '+')
        sign = "+";
    else if (sp->sign == ' ')
        sign = " ";
    blen = strlen(body);
    slen = strlen(sign);
    fill = sp->fill ? sp->fill : (sp->zero ? '0' : ' ');
    align = sp->align ? sp->align : (sp->zero ? '=' : '>');
    pad = sp->width > (int)(blen + slen) ? sp->width - (int)(blen + slen) : 0;
    left = align == '>' ? pad : align == '^' ? pad / 2 : 0;
    right = align == '<' ? pad : align == '^' ? pad - pad / 2 : 0;
    if (*len + (size_t)pad + blen + slen >= size) {
        *why = NULL;
        return -1;
    }
    memset(out + *len, fill, (size_t)left);
    *len += (size_t)left;
    memcpy(out + *len, sign, slen);
    *len += slen;
    if (align == '=') {
        memset(out + *len, fill, (size_t)pad);
        *len += (size_t)pad;
    }
    memcpy(out + *len, body, blen);
    *len += blen;
    memset(out + *len, fill, (size_t)right);
    *len += (size_t)right;
    out[*len] = '\0';
    return 0;
}

static ks_status missing_key(const char *tmpl, const char *name, const ks_logs *logs,
                             ks_error *err)
{
    char avail[KS_LOGS_MAX * (KS_LOG_NAME_MAX + 2) + 16] = "epoch";
    const char *names[KS_LOGS_MAX + 2];
    const char *near;
    int n = 0;
    names[n++] = "epoch";
    ks_logs_names(logs, ", ", avail, sizeof avail);
    for (int i = 0; i < logs->n; i++)
        names[n++] = logs->name[i];
    names[n] = NULL;
    near = ks_nearest_name(name, names);
    return ks_error_set(err, KS_ERR_CONFIG,
                        "filepath \"%s\": no value for {%s}%s%s%s; known: %s", tmpl, name,
                        near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "",
                        avail);
}

ks_status ks_format_filepath(const char *tmpl, int epoch, int batch, const ks_logs *logs,
                             char *out, size_t size, ks_error *err)
{
    size_t len = 0;
    const char *p = tmpl;
    if (size == 0)
        return ks_error_set(err, KS_ERR_INTERNAL, "no room for the filepath");
    out[0] = '\0';
    while (*p) {
        const char *end, *colon, *why = NULL;
        char name[KS_LOG_NAME_MAX + 1];
        size_t nlen;
        fmt_spec sp;
        if ((p[0] == '{' && p[1] == '{') || (p[0] == '}' && p[1] == '}') ||
            (p[0] != '{' && p[0] != '}')) {
            if (len + 1 >= size)
                return ks_error_set(err, KS_ERR_CONFIG,
                                    "filepath \"%s\" is longer than %zu characters", tmpl,
                                    size - 1);
            out[len++] = p[0];
            out[len] = '\0';
            p += (p[0] == '{' || p[0] == '}') ? 2 : 1;
            continue;
        }
        if (p[0] == '}')
            return ks_error_set(err, KS_ERR_CONFIG,
                                "filepath \"%s\": single '}' (write }} for a brace)", tmpl);
        end = strchr(p + 1, '}');
        if (!end)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "filepath \"%s\": '{' without its '}' (write {{ for a brace)",
                                tmpl);
        colon = memchr(p + 1, ':', (size_t)(end - p - 1));
        nlen = (size_t)((colon ? colon : end) - (p + 1));
        if (memchr(p + 1, '{', (size_t)(end - p - 1)))
            return ks_error_set(err, KS_ERR_CONFIG,
                                "filepath \"%s\": nested fields are not supported", tmpl);
        if (nlen == 0 || strspn(p + 1, "0123456789") >= nlen)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "filepath \"%s\": a field must name a value, e.g. {epoch} or "
                                "{val_loss:.2f}, got {%.*s}",
                                tmpl, (int)(end - p - 1), p + 1);
        if (nlen > KS_LOG_NAME_MAX || strcspn(p + 1, ".[!") < nlen)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "filepath \"%s\": {%.*s} is not a log name (attributes, indexes "
                                "and !conversions are not supported)",
                                tmpl, (int)nlen, p + 1);
        memcpy(name, p + 1, nlen);
        name[nlen] = '\0';
        if (colon) {
            if (parse_spec(colon + 1, (size_t)(end - colon - 1), &sp, &why) != 0)
                return ks_error_set(err, KS_ERR_CONFIG, "filepath \"%s\": {%s:%.*s}: %s", tmpl,
                                    name, (int)(end - colon - 1), colon + 1, why);
        } else {
            parse_spec("", 0, &sp, &why);
        }
        if (strcmp(name, "epoch") == 0) {
            if (format_value(&sp, 1, (long long)epoch + 1, 0.0, out, size, &len, &why) != 0)
                goto value_error;
        } else if (strcmp(name, "batch") == 0 && batch >= 0) {
            if (format_value(&sp, 1, (long long)batch + 1, 0.0, out, size, &len, &why) != 0)
                goto value_error;
        } else if (strcmp(name, "batch") == 0 && !(logs && ks_logs_get(logs, "batch", NULL))) {
            return ks_error_set(err, KS_ERR_CONFIG,
                                "filepath \"%s\": {batch} has a value only with an integer "
                                "save_freq (saves every N batches)",
                                tmpl);
        } else {
            double v = 0.0;
            if (logs && !ks_logs_get(logs, name, &v))
                return missing_key(tmpl, name, logs, err);
            if (format_value(&sp, 0, 0, v, out, size, &len, &why) != 0)
                goto value_error;
        }
        p = end + 1;
        continue;
    value_error:
        if (!why)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "filepath \"%s\" is longer than %zu characters once formatted",
                                tmpl, size - 1);
        return ks_error_set(err, KS_ERR_CONFIG, "filepath \"%s\": {%.*s}: %s", tmpl,
                            (int)(end - p - 1), p + 1, why);
    }
    return KS_OK;
}

/* ------------------------------------------------------------ callback */

typedef struct checkpoint {
    ks_callback *self;
    ks_model_checkpoint_args a;
    int maximize;
    double best;
    int batches_since_save, last_batch_seen;
    int n_saves;
    int warned;
    char last_path[PATH_SIZE];
} checkpoint;

/* The key table reads save_freq ("epoch" or an integer) as a value, converted after. */
typedef struct checkpoint_config {
    ks_model_checkpoint_args a;
    ks_value save_freq;
} checkpoint_config;

#define CFG(field) offsetof(checkpoint_config, a.field)
static const ks_key keys[] = {
    {"filepath", KS_KEY_STRING, CFG(filepath), 1024, 0, 0, NULL, NULL, KS_KEY_REQUIRED},
    {"monitor", KS_KEY_STRING, CFG(monitor), KS_LOG_NAME_MAX, 0, 0, "val_loss", NULL, 0},
    {"verbose", KS_KEY_INT, CFG(verbose), 0, 0, INFINITY, "0", NULL, 0},
    {"save_best_only", KS_KEY_BOOL, CFG(save_best_only), 0, 0, 0, "false", NULL, 0},
    {"save_weights_only", KS_KEY_BOOL, CFG(save_weights_only), 0, 0, 0, "false", NULL, 0},
    {"mode", KS_KEY_ENUM, CFG(mode), 0, 0, 0, "auto", ks_monitor_mode_names, 0},
    {"save_freq", KS_KEY_VALUE, offsetof(checkpoint_config, save_freq), 0, 0, 0, NULL, NULL, 0},
    {"initial_value_threshold", KS_KEY_FLOAT, CFG(initial_value_threshold), 0, -INFINITY,
     INFINITY, "nan", NULL, KS_KEY_NULLABLE},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};
#undef CFG

ks_model_checkpoint_args ks_model_checkpoint_args_default(void)
{
    checkpoint_config c;
    memset(&c, 0, sizeof c);
    ks_keys_defaults(keys, &c);
    ks_keys_free(keys, &c);
    c.a.save_freq = 0;
    return c.a;
}

/* Create the directories above path (mkdir -p of its dirname), as Keras does. */
static ks_status make_parent_dirs(checkpoint *c, const char *path)
{
    char dir[PATH_SIZE];
    char *slash;
    struct stat st;
    snprintf(dir, sizeof dir, "%s", path);
    slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return KS_OK;
    *slash = '\0';
    if (stat(dir, &st) == 0)
        return KS_OK;
    for (char *q = dir + 1;; q++) {
        if (*q == '/' || *q == '\0') {
            char saved = *q;
            *q = '\0';
            if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
                snprintf(c->self->message, sizeof c->self->message,
                         "cannot create directory %.180s: %s", dir, strerror(errno));
                return KS_ERR_IO;
            }
            *q = saved;
            if (!saved)
                break;
        }
    }
    return KS_OK;
}

static void warn_once(checkpoint *c, const ks_callback_ctx *ctx)
{
    if (c->warned)
        return;
    ks_callback_print(ctx, 1, "warning: Can save best model only with %s available.",
                      c->a.monitor);
    c->warned = 1;
}

/* Keras's _should_save_model: decides, and prints what it decided when verbose. */
static int should_save(checkpoint *c, const ks_callback_ctx *ctx, int epoch, const char *path)
{
    double current;
    if (!c->a.save_best_only) {
        if (c->a.verbose > 0)
            ks_callback_print(ctx, 1, "Epoch %d: saving model to %s", epoch + 1, path);
        return 1;
    }
    if (!ks_logs_get(ctx->logs, c->a.monitor, &current)) {
        warn_once(c, ctx);
        return 1;
    }
    if (c->maximize ? current > c->best : current < c->best) {
        if (c->a.verbose > 0)
            ks_callback_print(ctx, 1, "Epoch %d: %s improved from %.5f to %.5f, saving model to %s",
                              epoch + 1, c->a.monitor, c->best, current, path);
        c->best = current;
        return 1;
    }
    if (c->a.verbose > 0)
        ks_callback_print(ctx, 1, "Epoch %d: %s did not improve from %.5f", epoch + 1,
                          c->a.monitor, c->best);
    return 0;
}

/* batch < 0: an epoch-end save.  done: the epochs completed, stored in the file. */
static ks_status save(checkpoint *c, const ks_callback_ctx *ctx, int batch, int done)
{
    char path[PATH_SIZE];
    ks_error e;
    ks_status s;
    ks_error_clear(&e);
    if (ks_format_filepath(c->a.filepath, ctx->epoch, batch, ctx->logs, path, sizeof path, &e) !=
        KS_OK) {
        snprintf(c->self->message, sizeof c->self->message, "%.255s", e.msg);
        return e.code;
    }
    if (!should_save(c, ctx, ctx->epoch, path))
        return KS_OK;
    if (!ctx->model) {
        snprintf(c->self->message, sizeof c->self->message, "no model to save");
        return KS_ERR_CONFIG;
    }
    if ((s = make_parent_dirs(c, path)) != KS_OK)
        return s;
    c->n_saves++;
    memcpy(c->last_path, path, sizeof path);
    s = ks_model_save(ctx->model, path,
                      c->a.save_weights_only ? KS_SAVE_WEIGHTS_ONLY : KS_SAVE_OPTIMIZER, done, &e);
    if (s != KS_OK) {
        char line[600];
        snprintf(c->self->message, sizeof c->self->message, "%s",
                 ks_error_format(&e, line, sizeof line));
        return s;
    }
    if (c->a.verbose > 0)
        ks_callback_print(ctx, 1, "Epoch %d: finished saving model to %s", ctx->epoch + 1, path);
    return KS_OK;
}

static ks_status mc_train_batch_end(void *user, const ks_callback_ctx *ctx)
{
    checkpoint *c = user;
    int add;
    if (c->a.save_freq <= 0)
        return KS_OK;
    /* Keras counts batches across epochs: a batch index that did not grow is a new epoch */
    add = ctx->batch <= c->last_batch_seen ? ctx->batch + 1 : ctx->batch - c->last_batch_seen;
    c->batches_since_save += add;
    c->last_batch_seen = ctx->batch;
    if (c->batches_since_save < c->a.save_freq)
        return KS_OK;
    c->batches_since_save = 0;
    return save(c, ctx, ctx->batch, ctx->epoch);
}

static ks_status mc_epoch_end(void *user, const ks_callback_ctx *ctx)
{
    checkpoint *c = user;
    if (c->a.save_freq > 0)
        return KS_OK;
    return save(c, ctx, -1, ctx->epoch + 1);
}

ks_status ks_callback_model_checkpoint_new(const ks_model_checkpoint_args *a, ks_callback **out,
                                           ks_error *err)
{
    ks_callback *cb;
    checkpoint *c;
    char path[PATH_SIZE];
    ks_status s;
    *out = NULL;
    if (!a->filepath[0])
        return ks_error_set(err, KS_ERR_CONFIG, "ModelCheckpoint: filepath must not be empty");
    if (!a->monitor[0])
        return ks_error_set(err, KS_ERR_CONFIG, "ModelCheckpoint: monitor must not be empty");
    if (a->save_freq < 0)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "ModelCheckpoint: save_freq must be \"epoch\" (0) or >= 1, got %d",
                            a->save_freq);
    if (a->mode < KS_MODE_AUTO || a->mode > KS_MODE_MAX)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "ModelCheckpoint: mode must be KS_MODE_AUTO, _MIN or _MAX, got %d",
                            a->mode);
    /* the template's syntax now; its log keys are known only at save time */
    if ((s = ks_format_filepath(a->filepath, 0, a->save_freq > 0 ? 0 : -1, NULL, path,
                                sizeof path, err)) != KS_OK) {
        ks_error_prefix(err, "ModelCheckpoint");
        return s;
    }
    cb = ks_callback_alloc("ModelCheckpoint", sizeof *c);
    if (!cb)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    c = cb->user;
    c->self = cb;
    c->a = *a;
    c->maximize = ks_monitor_is_max(a->mode, a->monitor);
    if (!isnan(a->initial_value_threshold))
        c->best = a->initial_value_threshold;
    else
        c->best = c->maximize ? -INFINITY : INFINITY;
    cb->on_train_batch_end = mc_train_batch_end;
    cb->on_epoch_end = mc_epoch_end;
    *out = cb;
    return KS_OK;
}

ks_status ks_model_checkpoint_from_config(const ks_value *args, ks_callback **out,
                                          ks_error *err)
{
    checkpoint_config c;
    const ks_value *f;
    char got[64];
    ks_status s;
    *out = NULL;
    memset(&c, 0, sizeof c);
    ks_keys_defaults(keys, &c);
    if ((s = ks_keys_read(keys, args, "ModelCheckpoint", &c, err)) != KS_OK) {
        ks_keys_free(keys, &c);
        return s;
    }
    f = &c.save_freq;
    if (f->kind == KS_VALUE_NULL || (f->kind == KS_VALUE_STRING && strcmp(f->string, "epoch") == 0)) {
        c.a.save_freq = 0;
    } else if (f->kind == KS_VALUE_NUMBER && f->number == floor(f->number) && f->number >= 1 &&
               f->number <= INT_MAX) {
        c.a.save_freq = (int)f->number;
    } else {
        s = ks_error_at(err, KS_ERR_CONFIG, ks_value_get(args, "save_freq"),
                        "ModelCheckpoint: save_freq must be \"epoch\" or an integer >= 1, got %s",
                        ks_value_describe(f, got, sizeof got));
        ks_keys_free(keys, &c);
        return s;
    }
    ks_keys_free(keys, &c);
    return ks_callback_model_checkpoint_new(&c.a, out, err);
}

int ks_model_checkpoint_n_saves(const ks_callback *cb)
{
    if (!cb || cb->on_epoch_end != mc_epoch_end)
        return 0;
    return ((const checkpoint *)cb->user)->n_saves;
}

const char *ks_model_checkpoint_last_path(const ks_callback *cb)
{
    const checkpoint *c;
    if (!cb || cb->on_epoch_end != mc_epoch_end)
        return NULL;
    c = cb->user;
    return c->n_saves > 0 ? c->last_path : NULL;
}
