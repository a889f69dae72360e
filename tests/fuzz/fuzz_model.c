/*
 * fuzz_model.c — the model builder, on the path a .ksm config and a YAML model section
 * take (ks_model_build on a value tree), then compile, one epoch of fit on four rows, and
 * the round trip every model that builds must survive: save, load back, save again — the
 * same bytes, weights, optimizer state and predictions.  The input is YAML (or JSON): a
 * layer list, or a map with model (or layers, as in a .ksm config) and compile.
 */
#include "../../engine/engine_impl.h"
#include "../../search/search.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

/* Models built here stay small, so that each input takes milliseconds. */
#define FUZZ_MAX_PARAMS ((size_t)1 << 17)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const ks_shape input = {1, {6}};
    char *text = fuzz_text(data, size);
    const ks_value *layers = NULL, *compile = NULL;
    ks_value doc;
    ks_model *m = NULL;
    ks_error err;
    ks_status s = ks_yaml_load_text(text, "model.yaml", &doc, &err);
    int epochs = 0;
    free(text);
    if (s != KS_OK)
        return 0;
    if (doc.kind == KS_VALUE_LIST) {
        layers = &doc;
    } else if (doc.kind == KS_VALUE_MAP) {
        layers = ks_value_get(&doc, "model");
        layers = layers ? layers : ks_value_get(&doc, "layers");
        compile = ks_value_get(&doc, "compile");
    }
    if (layers) {
        s = ks_model_build(layers, &input, 7, FUZZ_MAX_PARAMS, &m, &err);
        if (s == KS_OK && compile && compile->kind != KS_VALUE_NULL)
            s = ks_model_compile(m, compile, &err);
        if (s != KS_OK) {
            fuzz_check_error(s, &err, "a model that does not build");
        } else {
            fuzz_accepted++;
            if (ks_model_is_compiled(m))
                epochs = fuzz_fit_once(m, 2) == 1;
            fuzz_check_round_trip(m, epochs, "the built model");
        }
    }
    ks_model_free(m);
    ks_value_free(&doc);
    return 0;
}
