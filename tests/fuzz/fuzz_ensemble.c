/*
 * fuzz_ensemble.c — ensemble files through ks_ensemble_load_buffer, as found (the _crc
 * variant fixes the checksums of the file and of every member it frames).  An ensemble
 * that loads must predict, save and load back to the same bytes.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_FIX_CRC
#define FUZZ_FIX_CRC 0      /* 1: the input is a file without its last 4 bytes (the CRC) */
#endif

/* Predict two rows with every member, then save, load and save again: the same bytes. */
static void round_trip(ks_ensemble *e)
{
    ks_model *m0 = ks_ensemble_member(e, 0);
    size_t xs = ks_shape_size(ks_model_input_shape(m0));
    size_t k = ks_shape_size(ks_model_output_shape(m0));
    unsigned char *a = NULL, *b = NULL;
    size_t alen = 0, blen = 0;
    ks_ensemble *back = NULL;
    ks_error err;
    if (xs <= ((size_t)1 << 16) && k <= ((size_t)1 << 16)) {
        float *x = calloc(2 * xs + 1, sizeof *x), *y = malloc(2 * k * sizeof *y + 1);
        ks_data d;
        memset(&d, 0, sizeof d);
        d.n = 2;
        d.x_shape = *ks_model_input_shape(m0);
        d.x_size = xs;
        d.x = x;
        if (!x || !y)
            fuzz_fail("out of memory");
        if (ks_ensemble_predict(e, &d, 2, y, &err) != KS_OK)
            fuzz_fail("the loaded ensemble does not predict: %s", err.msg);
        free(x);
        free(y);
    }
    if (ks_ensemble_save_buffer(e, &a, &alen, &err) != KS_OK)
        fuzz_fail("the loaded ensemble does not save: %s", err.msg);
    if (ks_ensemble_load_buffer(a, alen, "round trip", &back, &err) != KS_OK)
        fuzz_fail("the ensemble saves but does not load back: %s", err.msg);
    if (ks_ensemble_save_buffer(back, &b, &blen, &err) != KS_OK)
        fuzz_fail("the reloaded ensemble does not save: %s", err.msg);
    if (alen != blen || memcmp(a, b, alen) != 0)
        fuzz_fail("the ensemble saved, loaded and saved again gives other bytes");
    ks_ensemble_free(back);
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = size + (FUZZ_FIX_CRC ? 4 : 0);
    unsigned char *buf = malloc(len + 1);
    ks_ensemble *e = NULL;
    ks_error err;
    ks_status s;
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    if (FUZZ_FIX_CRC)
        fuzz_fix_ensemble(buf, len);
    s = ks_ensemble_load_buffer(buf, len, "fuzz.kse", &e, &err);
    if (s == KS_OK) {
        fuzz_accepted++;
        round_trip(e);
    }
    else
        fuzz_check_error(s, &err, "a rejected ensemble file");
    ks_ensemble_free(e);
    free(buf);
    return 0;
}
