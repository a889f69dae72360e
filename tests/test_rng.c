/*
 * test_rng.c — random streams: derived from (seed, a, b) through the full 64-bit hash
 * (two derivations that fold to the same 32 bits give different streams), the same
 * derivation gives the same stream, the generator is MT19937 word for word (checked
 * against CPython's), and the streams look uniform and independent to chi-square tests
 * with bounds fixed in advance (false alarm rate about 1e-6).
 */
#include "../engine/engine_impl.h"
#include "check.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <stdlib.h>
#include <string.h>

/* The 32-bit fold the streams were once seeded with (issue 9, defect 10). */
static uint32_t fold32(uint64_t h)
{
    return (uint32_t)((h ^ (h >> 32)) & 0xffffffffu);
}

typedef struct fold_entry {
    uint32_t fold;
    uint64_t b;
} fold_entry;

static int by_fold(const void *x, const void *y)
{
    const fold_entry *a = x, *b = y;
    return a->fold < b->fold ? -1 : a->fold > b->fold ? 1 : a->b < b->b ? -1 : a->b > b->b;
}

static int same_stream(ks_rng *x, ks_rng *y, int n)
{
    int same = 1;
    for (int i = 0; i < n; i++)
        same &= ks_rng_uniform(x) == ks_rng_uniform(y);
    return same;
}

/*
 * Among 300,000 streams of one purpose (epochs or trials, say), find two whose 64-bit
 * derivations fold to the same 32 bits (the birthday bound makes a few such pairs
 * likely): their streams must differ.
 */
static void test_no_fold_collisions(void)
{
    enum { N = 300000 };
    const uint64_t seed = 42, a = ks_hash_string("dropout");
    fold_entry *e = malloc(N * sizeof *e);
    int pairs = 0, same = 0;
    for (uint64_t b = 0; b < N; b++) {
        e[b].fold = fold32(ks_hash64(ks_hash64(seed, a), b));
        e[b].b = b;
    }
    qsort(e, N, sizeof *e, by_fold);
    for (int i = 1; i < N; i++)
        if (e[i].fold == e[i - 1].fold) {
            ks_rng *x, *y;
            ks_rng_new(seed, a, e[i - 1].b, &x);
            ks_rng_new(seed, a, e[i].b, &y);
            pairs++;
            if (same_stream(x, y, 16)) {
                if (!same++)
                    fprintf(stderr, "streams b=%llu and b=%llu coincide\n",
                            (unsigned long long)e[i - 1].b, (unsigned long long)e[i].b);
            }
            ks_rng_free(x);
            ks_rng_free(y);
        }
    CHECK(pairs > 0, "no two of %d derivations fold to the same 32 bits (expected ~10)", N);
    CHECK(same == 0, "%d of %d pairs of streams whose derivations fold alike coincide", same,
          pairs);
    free(e);
}

/* The same derivation, the same numbers: on a new stream and on one reseeded. */
static void test_reproducible(void)
{
    ks_rng *x, *y;
    int ok;
    ks_rng_new(7, 1, 2, &x);
    ks_rng_new(7, 1, 2, &y);
    CHECK(same_stream(x, y, 2000), "two streams of (7, 1, 2) differ");
    ks_rng_reseed(y, 9, 9, 9);
    ks_rng_reseed(x, 9, 9, 9);
    ok = same_stream(x, y, 1000);
    ks_rng_reseed(x, 7, 1, 2);
    ks_rng_reseed(y, 7, 1, 3);
    CHECK(ok && !same_stream(x, y, 4), "reseeding");
    ks_rng_free(x);
    ks_rng_free(y);
}

/* Chi-square over bins of counts (expected each), against the 1 - 1e-6 quantile. */
static void check_chi2(const long *count, int bins, double expected, const char *what)
{
    double chi2 = 0.0, bound = gsl_cdf_chisq_Qinv(1e-6, bins - 1);
    for (int i = 0; i < bins; i++)
        chi2 += (count[i] - expected) * (count[i] - expected) / expected;
    CHECK(chi2 < bound, "%s: chi-square %.1f over %d bins, bound %.1f", what, chi2, bins, bound);
}

/*
 * The seeding spreads: the first outputs of consecutive streams (b = 0, 1, 2 …) are
 * uniform, and pairs (first of stream b, first of stream b + 1) uniform on the square.
 * Within a stream, GSL's distributions work over the generator (uniform ints, normals).
 */
static void test_statistics(void)
{
    enum { STREAMS = 1 << 16, BINS = 64, DRAWS = 1 << 18 };
    static long c1[BINS], c2[BINS * BINS], ci[10], cn[8];
    ks_rng *r;
    double prev = 0.0, sum = 0.0, sum2 = 0.0;
    ks_rng_new(1, 2, 0, &r);
    for (uint64_t b = 0; b < STREAMS; b++) {
        double u;
        ks_rng_reseed(r, 1, 2, b);
        u = ks_rng_uniform(r);
        c1[(int)(u * BINS)]++;
        if (b > 0)
            c2[(int)(prev * BINS) * BINS + (int)(u * BINS)]++;
        prev = u;
    }
    check_chi2(c1, BINS, (double)STREAMS / BINS, "first outputs of consecutive streams");
    check_chi2(c2, BINS * BINS, (double)(STREAMS - 1) / (BINS * BINS),
               "pairs of first outputs of neighbouring streams");
    ks_rng_reseed(r, 3, 4, 5);
    for (int i = 0; i < DRAWS; i++)
        ci[ks_rng_index(r, 10)]++;
    check_chi2(ci, 10, DRAWS / 10.0, "ks_rng_index(10)");
    for (int i = 0; i < DRAWS; i++) {
        double z = ks_rng_normal(r, 1.0);
        /* octiles of the standard normal: equal counts */
        int k = 0;
        while (k < 7 && z > gsl_cdf_ugaussian_Pinv((k + 1) / 8.0))
            k++;
        cn[k]++;
        sum += z;
        sum2 += z * z;
    }
    check_chi2(cn, 8, DRAWS / 8.0, "ks_rng_normal octiles");
    /* five standard errors either way */
    CHECK(fabs(sum / DRAWS) < 5.0 / sqrt(DRAWS) &&
              fabs(sum2 / DRAWS - 1.0) < 5.0 * sqrt(2.0 / DRAWS),
          "normal mean %g, variance %g", sum / DRAWS, sum2 / DRAWS);
    ks_rng_free(r);
}

/*
 * The generator is MT19937 seeded by init_by_array({low 32 bits, high 32 bits}) of the
 * derivation.  Expected words from an independent implementation, CPython's random
 * (MT19937 whose seed(n) is init_by_array over n's 32-bit words, low first):
 *   r = random.Random(h); [r.getrandbits(32) for _ in range(704)]
 * (the 704th word comes after the state's first regeneration, at 624).
 */
static void test_known_answers(void)
{
    static const struct {
        uint64_t h;
        unsigned long first[4], w704;
    } kat[] = {
        {0x0123456789abcdefull, {3851240871ul, 1496727489ul, 1688815724ul, 1191980605ul},
         1836419764ul},
        {0xfedcba9876543210ull, {1226261848ul, 1556533103ul, 315248613ul, 358387221ul},
         1541087056ul},
        {0x0000000100000005ull, {675479763ul, 2085189291ul, 1213270837ul, 3822202474ul},
         1467456776ul},
    };
    ks_rng *r, *q;
    ks_rng_new(0, 0, 0, &r);
    ks_rng_new(0, 0, 0, &q);
    for (size_t k = 0; k < sizeof kat / sizeof kat[0]; k++) {
        gsl_rng *g = ks_rng_gsl(r);
        unsigned long w = 0;
        int ok = 1;
        ks_rng_seed64(r, kat[k].h);
        for (int i = 0; i < 704; i++) {
            w = gsl_rng_get(g);
            if (i < 4)
                ok &= w == kat[k].first[i];
        }
        CHECK(ok && w == kat[k].w704, "MT19937 by_array for %#llx: word 704 is %lu, expected %lu",
              (unsigned long long)kat[k].h, w, kat[k].w704);
        /* the high half matters: flip one bit of it */
        ks_rng_seed64(r, kat[k].h);
        ks_rng_seed64(q, kat[k].h ^ (1ull << 40));
        CHECK(!same_stream(r, q, 4), "%#llx and one bit of its high half flipped give one stream",
              (unsigned long long)kat[k].h);
    }
    /* gsl_rng_set takes all 64 bits of an unsigned long, the same seeding */
    if (sizeof(unsigned long) == 8) {
        gsl_rng_set(ks_rng_gsl(r), (unsigned long)kat[0].h);
        CHECK(gsl_rng_get(ks_rng_gsl(r)) == kat[0].first[0], "gsl_rng_set");
    }
    CHECK(gsl_rng_max(ks_rng_gsl(r)) == 0xffffffffUL && gsl_rng_min(ks_rng_gsl(r)) == 0,
          "32-bit words, as GSL's mt19937");
    ks_rng_free(r);
    ks_rng_free(q);
}

int main(void)
{
    test_no_fold_collisions();
    test_reproducible();
    test_known_answers();
    test_statistics();
    return check_done();
}
