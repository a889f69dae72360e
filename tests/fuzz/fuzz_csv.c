/*
 * fuzz_csv.c — CSV files through ks_dataset_load: the first byte picks the entry (no
 * target, one or two target columns, a row range, one-hot, num_classes, other
 * delimiters and a scale), the rest is the file.
 */
#include "fuzz.h"

static const char *const specs[] = {
    "{\"csv\": \"%s\"}",
    "{\"csv\": \"%s\", \"target\": \"y\"}",
    "{\"csv\": \"%s\", \"target\": [\"y\", \"b\"], \"rows\": [1, 4]}",
    "{\"csv\": \"%s\", \"target\": \"y\", \"one_hot\": true}",
    "{\"csv\": \"%s\", \"target\": \"y\", \"delimiter\": \";\"}",
    "{\"csv\": \"%s\", \"target\": \"label\", \"delimiter\": \"\\t\", \"scale\": 10}",
    "{\"csv\": \"%s\", \"target\": \"label\", \"num_classes\": 10}",
    NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_dataset("csv", specs, data, size, 0);
    return 0;
}
