/*
 * seeds_main.c — writes the fuzz targets' seed corpora and dictionaries:
 *   fuzz_seeds ROOT OUTDIR TARGET...
 * puts every seed of TARGET (seeds.c) in OUTDIR/TARGET/ and its dictionary, if it has
 * one, in OUTDIR/TARGET.dict; ROOT is the repository (for its study and data files).
 */
#include "fuzz.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

typedef struct writer_state {
    const char *dir;
    int failed;
} writer_state;

static void write_seed(void *user, const char *name, const unsigned char *p, size_t n)
{
    writer_state *w = user;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", w->dir, name);
    if (fuzz_write_file(path, p, n, 0) != 0)
        w->failed = 1;
}

int main(int argc, char **argv)
{
    int status = 0;
    if (argc < 4) {
        fprintf(stderr, "usage: fuzz_seeds ROOT OUTDIR TARGET...\n");
        return 2;
    }
    for (int i = 3; i < argc; i++) {
        char dir[2048], dict[2048];
        writer_state w = {dir, 0};
        FILE *f;
        int n;
        snprintf(dir, sizeof dir, "%s/%s", argv[2], argv[i]);
        if (mkdir(argv[2], 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "fuzz_seeds: cannot create %s: %s\n", argv[2], strerror(errno));
            return 1;
        }
        if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "fuzz_seeds: cannot create %s: %s\n", dir, strerror(errno));
            return 1;
        }
        if ((n = fuzz_seeds(argv[i], argv[1], write_seed, &w)) < 0) {
            fprintf(stderr, "fuzz_seeds: unknown target %s\n", argv[i]);
            return 2;
        }
        snprintf(dict, sizeof dict, "%s/%s.dict", argv[2], argv[i]);
        if ((f = fopen(dict, "w"))) {
            int none = fuzz_dictionary(argv[i], argv[1], f) != 0;
            if (fclose(f) != 0)
                w.failed = 1;
            if (none)
                remove(dict);
        } else {
            w.failed = 1;
        }
        if (w.failed) {
            fprintf(stderr, "fuzz_seeds: cannot write the seeds of %s\n", argv[i]);
            status = 1;
        }
        printf("%-14s %d seeds\n", argv[i], n);
    }
    return status;
}
