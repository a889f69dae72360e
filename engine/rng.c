/*
 * rng.c — random streams over GSL's distributions.  A stream is derived from
 * (seed, a, b) by hashing, so that every trial, epoch and purpose has its own
 * reproducible stream, whatever thread draws from it.  The generator is MT19937
 * seeded through its init_by_array with both 32-bit halves of the 64-bit derivation
 * (GSL's own mt19937 takes 32 bits of a seed: thousands of streams would collide),
 * behind a gsl_rng_type of its own so that every GSL distribution still applies.
 */
#include "engine_impl.h"

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

/* ------------------------------------------- MT19937 seeded by init_by_array */

#define MT_N 624
#define MT_M 397

typedef struct mt_state {
    uint32_t mt[MT_N];
    int i;                      /* next word of mt to temper; MT_N: regenerate first */
} mt_state;

/* Matsumoto and Nishimura's init_genrand, then init_by_array over key[0, n). */
static void mt_seed_array(mt_state *st, const uint32_t *key, int n)
{
    uint32_t *mt = st->mt;
    int i = 1, j = 0;
    mt[0] = 19650218u;
    for (int k = 1; k < MT_N; k++)
        mt[k] = 1812433253u * (mt[k - 1] ^ (mt[k - 1] >> 30)) + (uint32_t)k;
    for (int k = MT_N > n ? MT_N : n; k > 0; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1664525u)) + key[j] + (uint32_t)j;
        if (++i >= MT_N) {
            mt[0] = mt[MT_N - 1];
            i = 1;
        }
        if (++j >= n)
            j = 0;
    }
    for (int k = MT_N - 1; k > 0; k--) {
        mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        if (++i >= MT_N) {
            mt[0] = mt[MT_N - 1];
            i = 1;
        }
    }
    mt[0] = 0x80000000u;        /* a non-zero state */
    st->i = MT_N;
}

static void mt_seed64(mt_state *st, uint64_t h)
{
    uint32_t key[2] = {(uint32_t)h, (uint32_t)(h >> 32)};
    mt_seed_array(st, key, 2);
}

static uint32_t mt_twist(uint32_t a, uint32_t b, uint32_t m)
{
    uint32_t y = (a & 0x80000000u) | (b & 0x7fffffffu);
    return m ^ (y >> 1) ^ (y & 1u ? 0x9908b0dfu : 0u);
}

static unsigned long mt_get(void *state)
{
    mt_state *st = state;
    uint32_t y;
    if (st->i >= MT_N) {
        int k = 0;
        for (; k < MT_N - MT_M; k++)
            st->mt[k] = mt_twist(st->mt[k], st->mt[k + 1], st->mt[k + MT_M]);
        for (; k < MT_N - 1; k++)
            st->mt[k] = mt_twist(st->mt[k], st->mt[k + 1], st->mt[k + MT_M - MT_N]);
        st->mt[MT_N - 1] = mt_twist(st->mt[MT_N - 1], st->mt[0], st->mt[MT_M - 1]);
        st->i = 0;
    }
    y = st->mt[st->i++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

static double mt_get_double(void *state)
{
    return (double)mt_get(state) / 4294967296.0;        /* [0, 1), as GSL's mt19937 */
}

/* gsl_rng_set's seed: all of an unsigned long (64 bits here). */
static void mt_set(void *state, unsigned long seed)
{
    mt_seed64(state, (uint64_t)seed);
}

static const gsl_rng_type mt_type = {"ks_mt19937_by_array", 0xffffffffUL, 0, sizeof(mt_state),
                                     mt_set, mt_get, mt_get_double};

/* ------------------------------------------------------------------ streams */

static uint64_t derive(uint64_t seed, uint64_t a, uint64_t b)
{
    return ks_hash64(ks_hash64(seed, a), b);
}

void ks_rng_seed64(ks_rng *r, uint64_t h)
{
    mt_seed64(r->g->state, h);
}

ks_status ks_rng_new(uint64_t seed, uint64_t a, uint64_t b, ks_rng **out)
{
    ks_rng *r;
    call_once(&gsl_handler_once, gsl_quiet);
    *out = NULL;
    r = malloc(sizeof *r);
    if (!r)
        return KS_ERR_NOMEM;
    r->g = gsl_rng_alloc(&mt_type);
    if (!r->g) {
        free(r);
        return KS_ERR_NOMEM;
    }
    ks_rng_seed64(r, derive(seed, a, b));
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
    ks_rng_seed64(r, derive(seed, a, b));
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
