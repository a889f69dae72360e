/*
 * replay.c — test_fuzz_regress: every fuzz target's seeds and kept crash inputs
 * (the files in tests/fuzz/regress/TARGET/) fed to the target once, in the normal build (gcc, and
 * under the sanitizers with SAN=1), so that they stay checked where clang is absent.
 * The Makefile compiles each target with its entry renamed ks_fuzz_TARGET and lists
 * them in KS_FUZZ_TARGETS.  An input that breaks a property aborts the program.
 */
#include "../check.h"
#include "fuzz.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_targets.def"     /* written by the Makefile into the build directory */
#ifndef KS_FUZZ_TARGETS
#error "the Makefile defines KS_FUZZ_TARGETS: X(name) for every tests/fuzz/fuzz_NAME.c"
#endif

#define KS_FUZZ_DECLARE(name) int ks_fuzz_##name(const uint8_t *data, size_t size);
KS_FUZZ_TARGETS(KS_FUZZ_DECLARE)
#undef KS_FUZZ_DECLARE

typedef int (*fuzz_fn)(const uint8_t *data, size_t size);

static const struct target {
    const char *name;
    fuzz_fn fn;
} targets[] = {
#define KS_FUZZ_ENTRY(name) {#name, ks_fuzz_##name},
    KS_FUZZ_TARGETS(KS_FUZZ_ENTRY)
#undef KS_FUZZ_ENTRY
};

typedef struct run {
    const struct target *t;
    int inputs;
} run;

static void run_input(void *user, const char *name, const unsigned char *p, size_t n)
{
    run *r = user;
    /* a copy of exactly n bytes, so that the sanitizers see reads past the end */
    unsigned char *copy = malloc(n ? n : 1);
    REQUIRE(copy != NULL, "out of memory");
    memcpy(copy, p, n);
    CHECK(r->t->fn(copy, n) == 0, "%s: %s", r->t->name, name);
    free(copy);
    r->inputs++;
}

/* Every regular file in dir (sorted, for a stable order). */
static int replay_dir(run *r, const char *dir)
{
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort), count = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        FILE *f;
        snprintf(path, sizeof path, "%s/%s", dir, list[i]->d_name);
        if (list[i]->d_name[0] != '.' && (f = fopen(path, "rb"))) {
            unsigned char *buf = NULL;
            size_t len = 0, cap = 0, got;
            do {
                if (len == cap) {
                    unsigned char *nb = realloc(buf, cap = cap ? 2 * cap : 4096);
                    if (!nb)
                        break;
                    buf = nb;
                }
                got = fread(buf + len, 1, cap - len, f);
                len += got;
            } while (got > 0);
            fclose(f);
            run_input(r, path, buf, len);
            free(buf);
            count++;
        }
        free(list[i]);
    }
    if (n >= 0)
        free(list);
    return count;
}

int main(void)
{
    const char *data = getenv("KS_TEST_DATA");
    char root[1024], dir[2048];
    snprintf(root, sizeof root, "%s/..", data ? data : "tests");
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        run r = {&targets[i], 0};
        int seeds, kept;
        long accepted = fuzz_accepted;
        seeds = fuzz_seeds(targets[i].name, root, run_input, &r);
        accepted = fuzz_accepted - accepted;
        CHECK(seeds > 0, "%s has seeds (%d)", targets[i].name, seeds);
        /* the generated seeds are valid files (the repository's bad inputs and spec bytes
           that ask for what a file lacks, such as a target column, are not) */
        CHECK(accepted > 0, "%s accepts %ld of its %d seeds", targets[i].name, accepted,
              seeds);
        snprintf(dir, sizeof dir, "%s/tests/fuzz/regress/%s", root, targets[i].name);
        kept = replay_dir(&r, dir);
        printf("%-14s %d seeds (%ld accepted), %d kept inputs\n", targets[i].name, seeds,
               accepted, kept);
    }
    return check_done();
}
