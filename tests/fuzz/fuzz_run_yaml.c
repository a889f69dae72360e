/*
 * fuzz_run_yaml.c — run files (`ksearch fit MODEL.yaml`) through the YAML loader and
 * ks_run_config_parse; a file that parses has its model section built on a small input
 * and compiled, and its callbacks made, as `ksearch fit` does before any data is read.
 */
#include "../../engine/engine_impl.h"
#include "../../search/search.h"
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

/* The parameter bound for models built here: they must stay quick. */
#define FUZZ_MAX_PARAMS ((size_t)1 << 17)

static void build(const ks_run_config *c)
{
    ks_shape in = {1, {6}};
    ks_model *m = NULL;
    ks_error err;
    ks_status s;
    if (!c->model)
        return;
    s = ks_model_build(c->model, &in, c->seed, FUZZ_MAX_PARAMS, &m, &err);
    if (s == KS_OK && c->compile)
        s = ks_model_compile(m, c->compile, &err);
    if (s != KS_OK)
        fuzz_check_error(s, &err, "a model section that does not build");
    else
        fuzz_accepted++;
    for (size_t i = 0; s == KS_OK && c->callbacks && i < c->callbacks->n; i++) {
        const ks_value *e = &c->callbacks->items[i];
        ks_callback *cb = NULL;
        if (e->kind != KS_VALUE_MAP || e->n != 1 || strcmp(e->items[0].key, "TensorBoard") == 0)
            continue;
        s = ks_callback_from_config(e->items[0].key, &e->items[0], &cb, &err);
        if (s != KS_OK)
            fuzz_check_error(s, &err, "a callback that is not made");
        ks_callback_free(cb);
    }
    ks_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    ks_value doc;
    ks_run_config *c = NULL;
    ks_error err;
    ks_status s = ks_yaml_load_text(text, "model.yaml", &doc, &err);
    if (s == KS_OK)
        s = ks_run_config_parse(&doc, "model.yaml", &c, &err);
    else
        ks_value_free(&doc);
    if (s != KS_OK)
        fuzz_check_error(s, &err, "a rejected run file");
    else
        build(c);
    ks_run_config_free(c);
    free(text);
    return 0;
}
