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

/* One epoch on four rows whose targets fit the loss (class indices or one-hot rows);
   returns the epochs trained (0 when the model or its data does not fit). */
static int fit_once(ks_model *m)
{
    size_t xs = ks_shape_size(ks_model_input_shape(m));
    size_t k = ks_shape_size(ks_model_output_shape(m));
    float *x, *y;
    ks_data d;
    ks_fit_params p = ks_fit_params_default();
    ks_error err;
    ks_status s;
    int sparse = m->loss->sparse;
    if (xs > ((size_t)1 << 14) || k > ((size_t)1 << 14))
        return 0;
    x = malloc(4 * xs * sizeof *x + 1);
    y = calloc(4 * (sparse ? 1 : k) + 1, sizeof *y);
    if (!x || !y)
        fuzz_fail("out of memory");
    for (size_t i = 0; i < 4 * xs; i++)
        x[i] = (float)(i % 5) * 0.3f - 0.6f;
    for (size_t i = 0; i < 4; i++) {
        if (sparse)
            y[i] = (float)(i % 2);
        else
            y[i * k + i % k] = 1.0f;
    }
    memset(&d, 0, sizeof d);
    d.n = 4;
    d.x_shape = *ks_model_input_shape(m);
    d.x_size = xs;
    d.x = x;
    d.y = y;
    d.y_size = sparse ? 1 : k;
    d.y_is_label = sparse;
    d.n_classes = sparse ? 2 : 0;
    s = ks_model_check_data(m, &d, "training", &err);
    if (s == KS_OK) {
        p.epochs = 1;
        p.batch_size = 2;
        p.verbose = 0;
        p.out = fuzz_null_stream();
        p.tty = 0;
        s = ks_model_fit(m, &d, NULL, &p, NULL, 0, NULL, &err);
        if (s != KS_OK)
            fuzz_check_error(s, &err, "fit");
    }
    free(x);
    free(y);
    return s == KS_OK;
}

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
                epochs = fit_once(m);
            fuzz_check_round_trip(m, epochs, "the built model");
        }
    }
    ks_model_free(m);
    ks_value_free(&doc);
    return 0;
}
