/*
 * fuzz_npy.c — NumPy .npy files through ks_dataset_load: the first byte picks the entry
 * (inputs only, inputs and targets from the file, a row range and scale, one-hot), the
 * rest is the file.
 */
#include "fuzz.h"

static const char *const specs[] = {
    "{\"npy\": {\"x\": \"%s\"}}",
    "{\"npy\": {\"x\": \"%1$s\", \"y\": \"%1$s\"}}",
    "{\"npy\": \"%s\", \"rows\": [1, 3], \"scale\": 10}",
    "{\"npy\": {\"x\": \"%1$s\", \"y\": \"%1$s\"}, \"one_hot\": true}",
    NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_dataset("npy", specs, data, size, 0);
    return 0;
}
