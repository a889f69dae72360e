/*
 * check.h — the test harness: CHECK(cond, fmt, ...) counts and reports, SKIP(fmt, ...)
 * counts a check that cannot run here (a missing data set or tool: never a pass), and
 * check_done() prints "N passed, N failed, N skipped" and gives the exit status.
 */
#ifndef KS_CHECK_H
#define KS_CHECK_H

#include <stdio.h>

static int check_passed, check_failed, check_skipped;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) {                                                           \
            check_passed++;                                                   \
        } else {                                                              \
            check_failed++;                                                   \
            fprintf(stderr, "%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

/* A CHECK that also stops the current test function when it fails. */
#define REQUIRE(cond, ...)                                                    \
    do {                                                                      \
        int ok_ = (cond);                                                     \
        CHECK(ok_, __VA_ARGS__);                                              \
        if (!ok_)                                                             \
            return;                                                           \
    } while (0)

/* A check (or a group of them) that cannot run here, and why: counted as skipped. */
#define SKIP(...)                                                             \
    do {                                                                      \
        check_skipped++;                                                      \
        printf("%s:%d: SKIPPED: ", __FILE__, __LINE__);                       \
        printf(__VA_ARGS__);                                                  \
        putchar('\n');                                                        \
    } while (0)

static inline int check_done(void)
{
    printf("%d passed, %d failed, %d skipped\n", check_passed, check_failed, check_skipped);
    return check_failed ? 1 : 0;
}

#endif
