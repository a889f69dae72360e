/*
 * rng.c — random streams over GSL's generators.  A stream is derived from
 * (seed, a, b) by hashing, so that every trial, epoch and purpose has its own
 * reproducible stream, whatever thread draws from it.
 */
#include "engine.h"
#include "ks_util.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdlib.h>
#include <threads.h>

struct ks_rng {
    gsl_rng *g;
};

static once_flag gsl_handler_once = ONCE_FLAG_INIT;

/* GSL's default error handler aborts; ksearch checks return values instead. */
static void gsl_quiet(void)
{
    gsl_set_error_handler_off();
}

uint64_t ks_hash64(uint64_t a, uint64_t b)
{
    /* splitmix64 finalizer over a combination of both words */
    uint64_t z = a + 0x9E3779B97F4A7C15ull * (b + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

uint64_t ks_hash_string(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

static unsigned long derive_seed(uint64_t seed, uint64_t a, uint64_t b)
{
    uint64_t h = ks_hash64(ks_hash64(seed, a), b);
    /* mt19937 uses 32 bits of the seed; fold the high half in, avoid 0 (GSL's default) */
    unsigned long s = (unsigned long)((h ^ (h >> 32)) & 0xffffffffu);
    return s ? s : 1;
}

ks_status ks_rng_new(uint64_t seed, uint64_t a, uint64_t b, ks_rng **out)
{
    ks_rng *r;
    call_once(&gsl_handler_once, gsl_quiet);
    *out = NULL;
    r = malloc(sizeof *r);
    if (!r)
        return KS_ERR_NOMEM;
    r->g = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r->g) {
        free(r);
        return KS_ERR_NOMEM;
    }
    gsl_rng_set(r->g, derive_seed(seed, a, b));
    *out = r;
    return KS_OK;
}

void ks_rng_free(ks_rng *r)
{
    if (!r)
        return;
    gsl_rng_free(r->g);
    free(r);
}

void ks_rng_reseed(ks_rng *r, uint64_t seed, uint64_t a, uint64_t b)
{
    gsl_rng_set(r->g, derive_seed(seed, a, b));
}

double ks_rng_uniform(ks_rng *r)
{
    return gsl_rng_uniform(r->g);
}

double ks_rng_normal(ks_rng *r, double stddev)
{
    return gsl_ran_gaussian_ziggurat(r->g, stddev);
}

uint64_t ks_rng_index(ks_rng *r, uint64_t n)
{
    if (n <= 1)
        return 0;
    if (n <= 0xffffffffull)
        return gsl_rng_uniform_int(r->g, (unsigned long)n);
    return (uint64_t)(gsl_rng_uniform(r->g) * (double)n) % n;
}

void ks_rng_shuffle(ks_rng *r, size_t *idx, size_t n)
{
    if (n > 1)
        gsl_ran_shuffle(r->g, idx, n, sizeof *idx);
}

void *ks_rng_gsl(ks_rng *r)
{
    return r->g;
}
