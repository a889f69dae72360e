/*
 * bench_wrap.h — what every engine benchmark shares (bench_common.h builds on it): counters of the allocations the engine
 * makes (the linker sends libksengine.a's malloc, calloc, … here: -Wl,--wrap=…, see the
 * Makefile's BENCH_WRAP) and of the whole process's, a timer around every cblas_sgemm,
 * the process's CPU clock and fit with epoch clocks.  Included by one .c file per benchmark program.
 */
#ifndef KS_BENCH_WRAP_H
#define KS_BENCH_WRAP_H

#include "../engine/engine_impl.h"

#include <cblas.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------- allocation counting */

/*
 * Two counters.  engine_allocs counts the calls made from libksengine.a: the linker
 * sends them to the __wrap_ functions below (this file's own calls bind to its own
 * definitions and are not wrapped).
 * process_allocs counts every malloc/calloc/realloc/memalign in the process, shared
 * libraries included (OpenBLAS, GSL, zlib, libc itself): this executable defines those
 * names, which takes them over from libc, and forwards to glibc's __libc_ entry points.
 * Under AddressSanitizer the process-wide counter is left out (ASan owns malloc).
 */
static atomic_ulong engine_allocs, process_allocs;

#if defined(__SANITIZE_ADDRESS__)
#define BENCH_PROCESS_COUNT 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BENCH_PROCESS_COUNT 0
#endif
#endif
#ifndef BENCH_PROCESS_COUNT
#define BENCH_PROCESS_COUNT 1
#endif

#if BENCH_PROCESS_COUNT
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

void *malloc(size_t n)
{
    atomic_fetch_add_explicit(&process_allocs, 1, memory_order_relaxed);
    return __libc_malloc(n);
}

void *calloc(size_t n, size_t size)
{
    atomic_fetch_add_explicit(&process_allocs, 1, memory_order_relaxed);
    return __libc_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
    atomic_fetch_add_explicit(&process_allocs, 1, memory_order_relaxed);
    return __libc_realloc(p, n);
}

void *aligned_alloc(size_t align, size_t n)
{
    atomic_fetch_add_explicit(&process_allocs, 1, memory_order_relaxed);
    return __libc_memalign(align, n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p;
    if (align < sizeof(void *) || (align & (align - 1)) != 0)
        return EINVAL;
    atomic_fetch_add_explicit(&process_allocs, 1, memory_order_relaxed);
    p = __libc_memalign(align, n);
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

void free(void *p)
{
    __libc_free(p);
}
#endif

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **out, size_t align, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_aligned_alloc(size_t align, size_t n);
int __wrap_posix_memalign(void **out, size_t align, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);

#define COUNT_ENGINE() atomic_fetch_add_explicit(&engine_allocs, 1, memory_order_relaxed)

void *__wrap_malloc(size_t n)
{
    COUNT_ENGINE();
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    COUNT_ENGINE();
    return __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    COUNT_ENGINE();
    return __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n)
{
    COUNT_ENGINE();
    return __real_aligned_alloc(align, n);
}

int __wrap_posix_memalign(void **out, size_t align, size_t n)
{
    COUNT_ENGINE();
    return __real_posix_memalign(out, align, n);
}

char *__wrap_strdup(const char *s)
{
    COUNT_ENGINE();
    return __real_strdup(s);
}

char *__wrap_strndup(const char *s, size_t n)
{
    COUNT_ENGINE();
    return __real_strndup(s, n);
}

/* ------------------------------------------------------- sgemm timing */

/*
 * Every cblas_sgemm call of the statically linked code comes here (--wrap=cblas_sgemm).
 * With sgemm_timing set, the time spent inside is added to sgemm_seconds.
 */
static int sgemm_timing;
static double sgemm_seconds;
static long sgemm_calls;

/* With sgemm_recording set, the calls' arguments are kept too (for a replay). */
typedef struct sgemm_call {
    int ta, tb, m, n, k, lda, ldb, ldc;
    float alpha, beta;
} sgemm_call;
#define MAX_RECORDED 256
static int sgemm_recording, n_recorded;
static sgemm_call recorded[MAX_RECORDED];

void __real_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                        const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n,
                        const blasint k, const float alpha, const float *a, const blasint lda,
                        const float *b, const blasint ldb, const float beta, float *c,
                        const blasint ldc);
void __wrap_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                        const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n,
                        const blasint k, const float alpha, const float *a, const blasint lda,
                        const float *b, const blasint ldb, const float beta, float *c,
                        const blasint ldc);

void __wrap_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE ta,
                        const enum CBLAS_TRANSPOSE tb, const blasint m, const blasint n,
                        const blasint k, const float alpha, const float *a, const blasint lda,
                        const float *b, const blasint ldb, const float beta, float *c,
                        const blasint ldc)
{
    double t0;
    if (sgemm_recording && n_recorded < MAX_RECORDED)
        recorded[n_recorded++] = (sgemm_call){ta == CblasTrans, tb == CblasTrans, m, n, k, lda,
                                              ldb, ldc, alpha, beta};
    if (!sgemm_timing) {
        __real_cblas_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    t0 = ks_now();
    __real_cblas_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    sgemm_seconds += ks_now() - t0;
    sgemm_calls++;
}

/*
 * CPU seconds of this process (user + system): unlike ks_now, not counting the time
 * other processes of this machine hold the CPU.
 */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ------------------------------------------------------------ fitting */

#define BENCH_MAX_EPOCHS 64

/* Records the wall-clock and CPU time at the end of every epoch. */
typedef struct epoch_clock {
    double end[BENCH_MAX_EPOCHS];
    double cpu_end[BENCH_MAX_EPOCHS];
} epoch_clock;

static ks_status clock_epoch_end(void *user, const ks_callback_ctx *ctx)
{
    epoch_clock *c = user;
    if (ctx->epoch >= 0 && ctx->epoch < BENCH_MAX_EPOCHS) {
        c->end[ctx->epoch] = ks_now();
        c->cpu_end[ctx->epoch] = cpu_now();
    }
    return KS_OK;
}

/* fit with shuffled batches of batch samples, steps per epoch (seed 1234), the epochs'
   ends into clock when not NULL. */
static ks_status bench_fit(ks_model *m, const ks_data *d, int batch, int epochs, int steps,
                           epoch_clock *clock, ks_error *err)
{
    ks_fit_params p = ks_fit_params_default();
    ks_callback cb;
    ks_callback *cbs[1] = {&cb};
    memset(&cb, 0, sizeof cb);
    cb.name = "EpochClock";
    cb.user = clock;
    cb.on_epoch_end = clock_epoch_end;
    p.epochs = epochs;
    p.batch_size = batch;
    p.steps_per_epoch = steps;
    p.verbose = 0;
    p.shuffle = 1;
    p.seed = 1234;
    return ks_model_fit(m, d, NULL, &p, clock ? cbs : NULL, clock ? 1 : 0, NULL, err);
}

#endif
