/*
 * util.c — the utilities of ks_util.h that belong to no engine concept: CSV fields as
 * Python's csv module writes them, and the monotonic clock.
 */
#include "ks_util.h"

#include <string.h>
#include <time.h>

void ks_csv_field(FILE *f, const char *s, char sep)
{
    if (!strchr(s, sep) && !strpbrk(s, "\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

double ks_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
