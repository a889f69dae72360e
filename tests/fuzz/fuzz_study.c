/*
 * fuzz_study.c — study files through ks_study_load_text, as `ksearch STUDY.yaml` and a
 * resumed study (its text kept in study.db) read them: YAML, then every section, the
 * search space, $references and the method's options.  Nothing is trained or written.
 */
#include "../../search/search.h"
#include "fuzz.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    ks_study *st = NULL;
    ks_error err;
    ks_status s = ks_study_load_text(text, "study.yaml", "/nonexistent", &st, &err);
    if (s != KS_OK)
        fuzz_check_error(s, &err, "a rejected study file");
    else
        fuzz_accepted++;
    ks_study_free(st);
    free(text);
    return 0;
}
