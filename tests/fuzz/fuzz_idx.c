/*
 * fuzz_idx.c — IDX files (MNIST's format) through ks_dataset_load, as a study's data
 * section reads them: the first byte picks the entry (inputs only, inputs and labels
 * from the file, a row range and scale, one-hot, num_classes), the rest is the file.
 * fuzz_idx_gz.c compresses it first.
 */
#include "fuzz.h"

#ifndef FUZZ_GZ
#define FUZZ_GZ 0
#endif

static const char *const specs[] = {
    "{\"idx\": {\"x\": \"%s\"}}",
    "{\"idx\": {\"x\": \"%1$s\", \"y\": \"%1$s\"}}",
    "{\"idx\": {\"x\": \"%s\"}, \"rows\": [1, 3], \"scale\": 255}",
    "{\"idx\": {\"x\": \"%1$s\", \"y\": \"%1$s\"}, \"one_hot\": true}",
    "{\"idx\": {\"x\": \"%1$s\", \"y\": \"%1$s\"}, \"num_classes\": 3, \"rows\": [0, 2]}",
    NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_dataset(FUZZ_GZ ? "idx_gz" : "idx", specs, data, size, FUZZ_GZ);
    return 0;
}
