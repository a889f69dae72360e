/*
 * fuzz_ksm.c — .ksm model files through ks_model_load_buffer, as found: most mutations
 * stop at the checksum, which fuzz_ksm_crc.c fixes up to reach the content.  A file that
 * loads must predict, save and load back bit-exact; one that does not, say why in a line.
 */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#ifndef FUZZ_FIX_CRC
#define FUZZ_FIX_CRC 0      /* 1: the input is a file without its last 4 bytes (the CRC) */
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len = size + (FUZZ_FIX_CRC ? 4 : 0);
    unsigned char *buf = malloc(len + 1);
    ks_model *m = NULL;
    ks_error err;
    ks_status s;
    int epoch = -1;
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    if (FUZZ_FIX_CRC)
        fuzz_fix_ksm(buf, len);
    s = ks_model_load_buffer(buf, len, "fuzz.ksm", &m, &epoch, &err);
    if (s == KS_OK) {
        fuzz_accepted++;
        fuzz_check_round_trip(m, epoch, "the loaded model");
    }
    else
        fuzz_check_error(s, &err, "a rejected model file");
    ks_model_free(m);
    free(buf);
    return 0;
}
