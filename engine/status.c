/*
 * status.c — status names and the ks_error helpers.
 */
#include "ks_status.h"

#include <stdio.h>
#include <string.h>

static const char *const status_names[] = {
#define KS_STATUS_NAME(name, desc) desc,
    KS_STATUS_LIST(KS_STATUS_NAME)
#undef KS_STATUS_NAME
};
_Static_assert(sizeof status_names / sizeof status_names[0] == KS_STATUS_COUNT,
               "one name per status");

const char *ks_status_str(ks_status s)
{
    if ((unsigned)s >= KS_STATUS_COUNT)
        return "unknown status";
    return status_names[s];
}

void ks_error_clear(ks_error *err)
{
    if (!err)
        return;
    err->code = KS_OK;
    err->file[0] = '\0';
    err->line = err->col = 0;
    err->msg[0] = '\0';
}

/*
 * Copy src into dst (size bytes), with control characters escaped as \n, \r, \t or
 * \xNN: a message quotes names and values from files, which may hold any byte, and must
 * stay one line.  Truncates at a whole escape.
 */
static void copy_printable(char *dst, size_t size, const char *src)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)src; *p; p++) {
        char esc[8];
        size_t k;
        if (*p >= 0x20 && *p != 0x7f)
            snprintf(esc, sizeof esc, "%c", *p);
        else if (*p == '\n' || *p == '\r' || *p == '\t')
            snprintf(esc, sizeof esc, "\\%c", *p == '\n' ? 'n' : *p == '\r' ? 'r' : 't');
        else
            snprintf(esc, sizeof esc, "\\x%02x", *p);
        k = strlen(esc);
        if (n + k >= size)
            break;
        memcpy(dst + n, esc, k);
        n += k;
    }
    dst[n] = '\0';
}

ks_status ks_error_vset(ks_error *err, ks_status code, const char *fmt, va_list ap)
{
    char raw[sizeof err->msg];
    if (!err)
        return code;
    err->code = code;
    err->file[0] = '\0';
    err->line = err->col = 0;
    vsnprintf(raw, sizeof raw, fmt, ap);
    copy_printable(err->msg, sizeof err->msg, raw);
    return code;
}

ks_status ks_error_set(ks_error *err, ks_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ks_error_vset(err, code, fmt, ap);
    va_end(ap);
    return code;
}

ks_status ks_error_set_at(ks_error *err, ks_status code, const char *file, int line, int col,
                          const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ks_error_vset(err, code, fmt, ap);
    va_end(ap);
    if (err) {
        snprintf(err->file, sizeof err->file, "%s", file ? file : "");
        err->line = line;
        err->col = col;
    }
    return code;
}

void ks_error_prefix(ks_error *err, const char *fmt, ...)
{
    char raw[256], head[256];
    size_t hl, ol, room = sizeof err->msg - 1;
    va_list ap;
    if (!err)
        return;
    va_start(ap, fmt);
    vsnprintf(raw, sizeof raw, fmt, ap);
    va_end(ap);
    copy_printable(head, sizeof head, raw);
    hl = strlen(head);
    ol = strlen(err->msg);
    if (hl + 2 > room)
        hl = room - 2;
    if (hl + 2 + ol > room)
        ol = room - hl - 2;
    memmove(err->msg + hl + 2, err->msg, ol);
    memcpy(err->msg, head, hl);
    err->msg[hl] = ':';
    err->msg[hl + 1] = ' ';
    err->msg[hl + 2 + ol] = '\0';
}

const char *ks_error_format(const ks_error *err, char *buf, int size)
{
    if (err->file[0] && err->line > 0)
        snprintf(buf, (size_t)size, "%s:%d:%d: %s", err->file, err->line, err->col, err->msg);
    else if (err->file[0])
        snprintf(buf, (size_t)size, "%s: %s", err->file, err->msg);
    else
        snprintf(buf, (size_t)size, "%s", err->msg[0] ? err->msg : ks_status_str(err->code));
    return buf;
}
