/*
 * callback_registry.c — the built-in callbacks by Keras class name, and what they
 * share: the monitor direction rule of mode "auto", the console stream their
 * messages go to, and Python's repr of a float (CSV rows, learning rates, paths).
 */
#include "engine_impl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every built-in callback: its Keras class name and its constructor from arguments. */
#define KS_CALLBACK_LIST(X)                                                                  \
    X("EarlyStopping", ks_early_stopping_from_config)                                        \
    X("ModelCheckpoint", ks_model_checkpoint_from_config)                                    \
    X("ReduceLROnPlateau", ks_reduce_lr_on_plateau_from_config)                              \
    X("TerminateOnNaN", ks_terminate_on_nan_from_config)                                     \
    X("CSVLogger", ks_csv_logger_from_config)

typedef ks_status (*from_config_fn)(const ks_value *args, ks_callback **out, ks_error *err);

#define KS_CB_NAME(name, fn) name,
#define KS_CB_MAKE(name, fn) fn,
const char *const ks_callback_names[] = {KS_CALLBACK_LIST(KS_CB_NAME) NULL};
static const from_config_fn makers[] = {KS_CALLBACK_LIST(KS_CB_MAKE)};
#undef KS_CB_NAME
#undef KS_CB_MAKE

#define N_KINDS (sizeof makers / sizeof makers[0])

const char *const ks_monitor_mode_names[] = {"auto", "min", "max", NULL};
_Static_assert(KS_MODE_AUTO == 0 && KS_MODE_MIN == 1 && KS_MODE_MAX == 2,
               "ks_monitor_mode_names follows the KS_MODE_* order");

ks_status ks_callback_from_config(const char *class_name, const ks_value *args,
                                  ks_callback **out, ks_error *err)
{
    char known[256] = "";
    const char *near;
    *out = NULL;
    for (size_t i = 0; i < N_KINDS; i++)
        if (strcmp(ks_callback_names[i], class_name) == 0)
            return makers[i](args, out, err);
    for (size_t i = 0; i < N_KINDS; i++) {
        size_t len = strlen(known);
        snprintf(known + len, sizeof known - len, "%s%s", i ? ", " : "", ks_callback_names[i]);
    }
    near = ks_nearest_name(class_name, ks_callback_names);
    if (args && args->key)
        return ks_error_at_key(err, KS_ERR_CONFIG, args,
                               "unknown callback \"%s\"%s%s%s; known: %s", class_name,
                               near ? " (did you mean \"" : "", near ? near : "",
                               near ? "\"?)" : "", known);
    return ks_error_set(err, KS_ERR_CONFIG, "unknown callback \"%s\"%s%s%s; known: %s",
                        class_name, near ? " (did you mean \"" : "", near ? near : "",
                        near ? "\"?)" : "", known);
}

/*
 * mode "auto".  Keras 3 asks the monitored metric object for its direction (loss →
 * down, accuracy → up) and refuses names it cannot resolve.  The engine's metrics are
 * the accuracies (up) and mae/mse (down), so one name rule gives the same answers:
 * maximize when the name contains "acc" or "auc", else minimize.  ReduceLROnPlateau
 * keeps its own Keras rule ("acc" only) and does not call this.
 */
int ks_monitor_is_max(int mode, const char *monitor)
{
    if (mode == KS_MODE_MIN)
        return 0;
    if (mode == KS_MODE_MAX)
        return 1;
    return strstr(monitor, "acc") != NULL || strstr(monitor, "auc") != NULL;
}

FILE *ks_callback_stream(const ks_callback_ctx *ctx)
{
    return ctx && ctx->params && ctx->params->out ? ctx->params->out : stdout;
}

void ks_callback_print(const ks_callback_ctx *ctx, int after_bar, const char *fmt, ...)
{
    FILE *f = ks_callback_stream(ctx);
    va_list ap;
    /*
     * Keras starts mid-epoch messages with "\n" to end the progress bar drawn in
     * place; our bar is drawn in place only on a terminal with verbose 1.
     */
    if (after_bar && ctx && ctx->params && ctx->params->verbose == 1) {
        int tty = ctx->params->tty >= 0 ? ctx->params->tty : isatty(fileno(f));
        if (tty)
            fputc('\n', f);
    }
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputc('\n', f);
    fflush(f);
}

/* ------------------------------------------------------------ float repr */

/* The first ndigits significant digits of |v|, correctly rounded, trailing zeros removed. */
static void float_digits(double v, int ndigits, char *digits, int *decpt)
{
    char buf[160];
    int n = 0, exp10;
    const char *p;
    snprintf(buf, sizeof buf, "%.*e", ndigits - 1, fabs(v));
    for (p = buf; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9')
            digits[n++] = *p;
    exp10 = *p == 'e' ? atoi(p + 1) : 0;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *decpt = exp10 + 1;
}

/* Lay digits out as Python does: d.ddde+XX, or fixed with at least one decimal. */
static void float_layout(int negative, const char *digits, int decpt, int use_exp, char *buf,
                     size_t size)
{
    int nd = (int)strlen(digits), len = 0;
    char tmp[400];
    if (negative)
        tmp[len++] = '-';
    if (use_exp) {
        int e = decpt - 1;
        tmp[len++] = digits[0];
        if (nd > 1) {
            tmp[len++] = '.';
            memcpy(tmp + len, digits + 1, (size_t)nd - 1);
            len += nd - 1;
        }
        snprintf(tmp + len, sizeof tmp - (size_t)len, "e%c%02d", e < 0 ? '-' : '+', abs(e));
    } else if (decpt <= 0) {
        tmp[len++] = '0';
        tmp[len++] = '.';
        for (int i = 0; i < -decpt; i++)
            tmp[len++] = '0';
        memcpy(tmp + len, digits, (size_t)nd);
        tmp[len + nd] = '\0';
    } else if (decpt >= nd) {
        memcpy(tmp + len, digits, (size_t)nd);
        len += nd;
        for (int i = 0; i < decpt - nd; i++)
            tmp[len++] = '0';
        memcpy(tmp + len, ".0", 3);
    } else {
        memcpy(tmp + len, digits, (size_t)decpt);
        len += decpt;
        tmp[len++] = '.';
        memcpy(tmp + len, digits + decpt, (size_t)(nd - decpt));
        tmp[len + nd - decpt] = '\0';
    }
    snprintf(buf, size, "%s", tmp);
}

/*
 * Python 3's repr(float) (precision < 0): the fewest significant digits that read back
 * as the same double, in fixed notation unless the decimal exponent is below -4 or
 * above 15.  With precision p >= 0, format(v, ".p") (no type letter): p significant
 * digits (0 counts as 1), fixed notation unless the exponent is below -4 or at least
 * p - 1, trailing zeros dropped but one decimal kept ("12.0").  At most 60 digits.
 */
void ks_format_float_py(double v, int precision, char *buf, size_t size)
{
    char digits[80];
    int decpt = 0, use_exp;
    if (isnan(v)) {
        snprintf(buf, size, "nan");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, "%s", v < 0 ? "-inf" : "inf");
        return;
    }
    if (precision < 0) {
        for (int nd = 1; nd <= 17; nd++) {
            char t[64];
            snprintf(t, sizeof t, "%.*e", nd - 1, fabs(v));
            if (strtod(t, NULL) == fabs(v) || nd == 17) {
                float_digits(v, nd, digits, &decpt);
                break;
            }
        }
        use_exp = decpt <= -4 || decpt > 16;
    } else {
        int p = precision < 1 ? 1 : precision > 60 ? 60 : precision;
        float_digits(v, p, digits, &decpt);
        use_exp = decpt <= -4 || decpt > p - 1;
    }
    float_layout(signbit(v) != 0, digits, decpt, use_exp, buf, size);
}
