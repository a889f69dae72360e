/*
 * fuzz_idx_gz.c — fuzz_idx.c on gzip-compressed files (.gz, as Fashion-MNIST ships):
 * the input after the spec byte is compressed before the loader reads it.
 */
#define FUZZ_GZ 1
#include "fuzz_idx.c"
