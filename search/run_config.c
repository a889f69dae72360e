/*
 * run_config.c — the sections of a run or study file, validated against declared
 * keys: top level, data, and fit (Keras's fit() arguments).
 */
#include "search_impl.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

typedef struct top_section {
    char name[128];
    int seed;
    ks_value data, model, compile, fit, callbacks, search, ensemble;
} top_section;

static const ks_key top_keys[] = {
    {"name", KS_KEY_STRING, offsetof(top_section, name), 128, 0, 0, "", NULL, 0},
    {"seed", KS_KEY_INT, offsetof(top_section, seed), 0, 0, 2147483647, "42", NULL, 0},
    {"data", KS_KEY_VALUE, offsetof(top_section, data), 0, 0, 0, NULL, NULL, KS_KEY_REQUIRED},
    {"model", KS_KEY_VALUE, offsetof(top_section, model), 0, 0, 0, NULL, NULL, KS_KEY_REQUIRED},
    {"compile", KS_KEY_VALUE, offsetof(top_section, compile), 0, 0, 0, NULL, NULL,
     KS_KEY_REQUIRED},
    {"fit", KS_KEY_VALUE, offsetof(top_section, fit), 0, 0, 0, NULL, NULL, 0},
    {"callbacks", KS_KEY_VALUE, offsetof(top_section, callbacks), 0, 0, 0, NULL, NULL, 0},
    {"search", KS_KEY_VALUE, offsetof(top_section, search), 0, 0, 0, NULL, NULL, 0},
    {"ensemble", KS_KEY_VALUE, offsetof(top_section, ensemble), 0, 0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

typedef struct data_section {
    ks_value train, validation, test;
    double validation_split;
    double scale;               /* 0: not given */
    int standardize_targets;
} data_section;

static const ks_key data_section_keys[] = {
    {"train", KS_KEY_VALUE, offsetof(data_section, train), 0, 0, 0, NULL, NULL, KS_KEY_REQUIRED},
    {"validation", KS_KEY_VALUE, offsetof(data_section, validation), 0, 0, 0, NULL, NULL, 0},
    {"test", KS_KEY_VALUE, offsetof(data_section, test), 0, 0, 0, NULL, NULL, 0},
    {"validation_split", KS_KEY_FLOAT, offsetof(data_section, validation_split), 0, 0, 1, "0",
     NULL, KS_KEY_MAX_EXCL},
    {"scale", KS_KEY_FLOAT, offsetof(data_section, scale), 0, 0, INFINITY, "0", NULL,
     KS_KEY_MIN_EXCL},
    {"standardize_targets", KS_KEY_BOOL, offsetof(data_section, standardize_targets), 0, 0, 0,
     "false", NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

typedef struct fit_section {
    int epochs, batch_size, verbose, shuffle, initial_epoch, steps_per_epoch;
    int validation_freq, validation_batch_size;
    double validation_split;
    ks_value class_weight;
} fit_section;

static const ks_key fit_keys[] = {
    {"epochs", KS_KEY_INT, offsetof(fit_section, epochs), 0, 1, 1e9, "1", NULL, 0},
    {"batch_size", KS_KEY_INT, offsetof(fit_section, batch_size), 0, 1, 1e8, "32", NULL,
     KS_KEY_NULLABLE},
    {"verbose", KS_KEY_INT, offsetof(fit_section, verbose), 0, 0, 2, "1", NULL, 0},
    {"validation_split", KS_KEY_FLOAT, offsetof(fit_section, validation_split), 0, 0, 1, "0",
     NULL, KS_KEY_MAX_EXCL},
    {"shuffle", KS_KEY_BOOL, offsetof(fit_section, shuffle), 0, 0, 0, "true", NULL, 0},
    {"initial_epoch", KS_KEY_INT, offsetof(fit_section, initial_epoch), 0, 0, 1e9, "0", NULL, 0},
    {"steps_per_epoch", KS_KEY_INT, offsetof(fit_section, steps_per_epoch), 0, 1, 1e9, "0", NULL,
     KS_KEY_NULLABLE},
    {"validation_freq", KS_KEY_INT, offsetof(fit_section, validation_freq), 0, 1, 1e9, "1", NULL,
     0},
    {"validation_batch_size", KS_KEY_INT, offsetof(fit_section, validation_batch_size), 0, 1,
     1e8, "0", NULL, KS_KEY_NULLABLE},
    {"class_weight", KS_KEY_VALUE, offsetof(fit_section, class_weight), 0, 0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

char *ks_read_text(const char *path, ks_error *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t n = 0, cap = 0;
    if (!f) {
        ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "cannot open: %s", strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t got;
        if (cap - n < 4096) {
            char *nb = realloc(buf, cap ? cap * 2 : 16384);
            if (!nb) {
                free(buf);
                fclose(f);
                ks_error_set(err, KS_ERR_NOMEM, "out of memory");
                return NULL;
            }
            buf = nb;
            cap = cap ? cap * 2 : 16384;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(buf);
        fclose(f);
        ks_error_set_at(err, KS_ERR_IO, path, 0, 0, "cannot read: %s", strerror(errno));
        return NULL;
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

void ks_run_config_free(ks_run_config *c)
{
    if (!c)
        return;
    ks_value_free(&c->doc);
    free(c->text);
    free(c);
}

static ks_status read_class_weight(ks_run_config *c, const ks_value *v, ks_error *err)
{
    char got[64];
    int max = -1;
    for (int i = 0; i < 256; i++)
        c->class_weight[i] = 1.0;
    if (v->kind == KS_VALUE_NULL)
        return KS_OK;
    if (v->kind != KS_VALUE_MAP)
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "class_weight must be a map of class index to weight, got %s",
                           ks_value_describe(v, got, sizeof got));
    for (size_t i = 0; i < v->n; i++) {
        const ks_value *m = &v->items[i];
        char *end;
        long k = strtol(m->key, &end, 10);
        if (*end || k < 0 || k > 255)
            return ks_error_at_key(err, KS_ERR_CONFIG, m,
                                   "class_weight keys must be class indices 0..255, got \"%s\"",
                                   m->key);
        if (m->kind != KS_VALUE_NUMBER || !(m->number >= 0) || !isfinite(m->number))
            return ks_error_at(err, KS_ERR_CONFIG, m,
                               "class_weight values must be numbers >= 0, got %s",
                               ks_value_describe(m, got, sizeof got));
        c->class_weight[k] = m->number;
        if (k > max)
            max = (int)k;
    }
    c->fit.class_weight = c->class_weight;
    c->fit.n_class_weight = max + 1;
    return KS_OK;
}

static const ks_value *member(const ks_value *doc, const char *key)
{
    const ks_value *v = ks_value_get(doc, key);
    return v && v->kind != KS_VALUE_NULL ? v : NULL;
}

ks_status ks_run_config_load(const char *path, ks_run_config **out, ks_error *err)
{
    ks_value doc;
    ks_status s;
    char *name = strdup(path), *text = NULL;
    *out = NULL;
    if (!name)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    /* read once: the text kept (study.db stores it) is the text parsed.  The source name
       must live as long as the values: parse, then let the config own a copy that the
       values point at (ks_run_config_parse re-points them) */
    if (!(text = ks_read_text(path, err)))
        s = err ? err->code : KS_ERR_IO;
    else
        s = ks_yaml_load_text(text, name, &doc, err);
    if (s == KS_OK && (s = ks_run_config_parse(&doc, path, out, err)) == KS_OK) {
        (*out)->text = text;
        text = NULL;
    } else if (text) {
        ks_value_free(&doc);
    }
    free(text);
    free(name);
    return s;
}

/* Point every node's source name at name. */
static void set_source(ks_value *v, const char *name)
{
    if (v->file)
        v->file = name;
    for (size_t i = 0; i < v->n; i++)
        set_source(&v->items[i], name);
}

/*
 * The inputs' scale belongs to the study, not to one split: data.scale, or train's own,
 * is written into every split entry that gives none (so that validation, test, and
 * predict and evaluate of the model, which record train's, all divide by it); a split
 * that gives another scale, or one given without train's, is refused.
 */
static ks_status share_scale(ks_value *data, const data_section *ds, ks_error *err)
{
    static const char *const splits[] = {"train", "validation", "test"};
    const ks_value *given = ks_value_get(data, "scale");
    const ks_value *train = member(data, "train");
    const ks_value *ts = train && train->kind == KS_VALUE_MAP ? ks_value_get(train, "scale") : NULL;
    const char *from = given ? "data.scale" : "train's scale";
    double scale = given ? ds->scale : ts && ts->kind == KS_VALUE_NUMBER ? ts->number : 0.0;
    for (int k = 0; k < 3; k++) {
        ks_value *e = ks_value_get(data, splits[k]), *v;
        const ks_value *es;
        if (!e || e->kind != KS_VALUE_MAP)
            continue;
        es = ks_value_get(e, "scale");
        if (es && es->kind == KS_VALUE_NUMBER && scale == 0.0)
            return ks_error_at(err, KS_ERR_CONFIG, es,
                               "%s has scale %g but train has none: the scale applies to every "
                               "split of the study; give it once, as data.scale",
                               splits[k], es->number);
        if (es && es->kind == KS_VALUE_NUMBER && es->number != scale)
            return ks_error_at(err, KS_ERR_CONFIG, es,
                               "%s has scale %g but %s is %g: the scale applies to every split "
                               "of the study; give it once, as data.scale",
                               splits[k], es->number, from, scale);
        if (es || scale == 0.0)
            continue;
        if (!(v = ks_value_put(e, "scale", KS_VALUE_NUMBER)))
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        v->number = scale;
        v->file = e->file;
        v->line = e->line;
        v->col = e->col;
    }
    return KS_OK;
}

/*
 * data.standardize_targets: the model learns standardized targets, and undoes it inside
 * itself — a last layer Normalization(invert=true), which fit adapts on the training
 * targets (mean and variance), so that predictions, evaluate's metrics and an ONNX export
 * are in the targets' units.  A Sequential list gets it appended; a functional model is
 * told to add it after its output.
 */
static ks_status append_target_standardization(ks_value *model, const ks_value *where,
                                               ks_error *err)
{
    ks_value *e, *args, *v;
    if (!model || model->kind != KS_VALUE_LIST)
        return ks_error_at(err, KS_ERR_CONFIG, where,
                           "standardize_targets appends a layer to a Sequential list; for a "
                           "functional model, make a Normalization: {invert: true} layer its "
                           "output (fit adapts it on the targets)");
    if (!(e = ks_value_push(model, KS_VALUE_MAP)) ||
        !(args = ks_value_put(e, "Normalization", KS_VALUE_MAP)) ||
        !(v = ks_value_put(args, "invert", KS_VALUE_BOOL)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    v->boolean = 1;
    if (!(v = ks_value_put(args, "name", KS_VALUE_NULL)) ||
        ks_value_set_string(v, "target_standardization") != KS_OK)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    e->file = args->file = where->file;
    e->line = args->line = where->line;
    e->col = args->col = where->col;
    return KS_OK;
}

ks_status ks_run_config_parse(ks_value *doc, const char *path, ks_run_config **out,
                              ks_error *err)
{
    ks_run_config *c = calloc(1, sizeof *c);
    top_section top;
    data_section data;
    fit_section fit;
    ks_value *d;
    const ks_value *f;
    ks_status s;
    char copy[1024];
    *out = NULL;
    if (!c) {
        ks_value_free(doc);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    snprintf(c->path, sizeof c->path, "%s", path);
    snprintf(copy, sizeof copy, "%s", path);
    snprintf(c->dir, sizeof c->dir, "%s", dirname(copy));
    c->doc = *doc;
    ks_value_init(doc, KS_VALUE_NULL);
    set_source(&c->doc, c->path);
    if (c->doc.kind != KS_VALUE_MAP) {
        s = ks_error_at(err, KS_ERR_CONFIG, &c->doc,
                        "expected a map with data, model, compile, fit and callbacks sections");
        goto fail;
    }
    /* the top level: sections first, then each section's keys */
    for (size_t i = 0; i < c->doc.n; i++) {
        const ks_value *m = &c->doc.items[i];
        const char *names[16];
        const char *near;
        int n = 0, known = 0;
        for (; top_keys[n].name; n++) {
            names[n] = top_keys[n].name;
            known |= strcmp(names[n], m->key) == 0;
        }
        names[n] = NULL;
        if (known)
            continue;
        near = ks_nearest_name(m->key, names);
        s = ks_error_at_key(err, KS_ERR_CONFIG, m,
                            "unknown section \"%s\"%s%s%s; sections are name, seed, data, "
                            "model, compile, fit, callbacks, search, ensemble",
                            m->key, near ? " (did you mean \"" : "", near ? near : "",
                            near ? "\"?)" : "");
        goto fail;
    }
    ks_keys_defaults(top_keys, &top);
    s = ks_keys_read(top_keys, &c->doc, "the file", &top, err);
    ks_keys_free(top_keys, &top);
    if (s != KS_OK)
        goto fail;
    if (top.name[0]) {
        snprintf(c->name, sizeof c->name, "%s", top.name);
    } else {
        char *base, *dot;
        snprintf(copy, sizeof copy, "%s", path);
        base = basename(copy);
        dot = strrchr(base, '.');
        if (dot)
            *dot = '\0';
        snprintf(c->name, sizeof c->name, "%s", base);
    }
    for (char *p = c->name; *p; p++)
        if (*p == '/' || *p == ' ')
            *p = '_';
    c->seed = (uint64_t)top.seed;
    c->model = member(&c->doc, "model");
    c->compile = member(&c->doc, "compile");
    c->callbacks = member(&c->doc, "callbacks");
    c->search = member(&c->doc, "search");
    c->ensemble = member(&c->doc, "ensemble");

    d = ks_value_get(&c->doc, "data");
    ks_keys_defaults(data_section_keys, &data);
    s = ks_keys_read(data_section_keys, d, "data", &data, err);
    ks_keys_free(data_section_keys, &data);
    if (s == KS_OK && d && d->kind == KS_VALUE_MAP)
        s = share_scale(d, &data, err);
    if (s == KS_OK && data.standardize_targets)
        s = append_target_standardization(ks_value_get(&c->doc, "model"),
                                          ks_value_get(d, "standardize_targets"), err);
    if (s != KS_OK)
        goto fail;
    c->train = member(d, "train");
    c->validation = member(d, "validation");
    c->test = member(d, "test");

    c->fit = ks_fit_params_default();
    f = ks_value_get(&c->doc, "fit");
    ks_keys_defaults(fit_keys, &fit);
    if ((s = ks_keys_read(fit_keys, f, "fit", &fit, err)) != KS_OK) {
        ks_keys_free(fit_keys, &fit);
        goto fail;
    }
    c->fit.epochs = fit.epochs;
    c->fit.batch_size = fit.batch_size ? fit.batch_size : 32;
    c->fit.verbose = fit.verbose;
    c->fit.shuffle = fit.shuffle;
    c->fit.initial_epoch = fit.initial_epoch;
    c->fit.steps_per_epoch = fit.steps_per_epoch;
    c->fit.validation_freq = fit.validation_freq;
    c->fit.validation_batch_size = fit.validation_batch_size;
    c->fit.validation_split = fit.validation_split > 0 ? fit.validation_split
                                                       : data.validation_split;
    c->fit.seed = c->seed;
    if (fit.initial_epoch >= fit.epochs) {
        /* Keras would train nothing: no epoch would be recorded */
        s = ks_error_at(err, KS_ERR_CONFIG, ks_value_get(f, "initial_epoch"),
                        "fit: initial_epoch (%d) must be less than epochs (%d): epochs is the "
                        "epoch to train up to",
                        fit.initial_epoch, fit.epochs);
        ks_keys_free(fit_keys, &fit);
        goto fail;
    }
    s = read_class_weight(c, &fit.class_weight, err);
    ks_keys_free(fit_keys, &fit);
    if (s != KS_OK)
        goto fail;
    if (c->validation && c->fit.validation_split > 0) {
        s = ks_error_at(err, KS_ERR_CONFIG, c->validation,
                        "give either data.validation or validation_split, not both");
        goto fail;
    }
    if (c->callbacks && c->callbacks->kind != KS_VALUE_LIST) {
        s = ks_error_at(err, KS_ERR_CONFIG, c->callbacks,
                        "callbacks must be a list, e.g. - EarlyStopping: {patience: 2}");
        goto fail;
    }
    *out = c;
    return KS_OK;
fail:
    ks_run_config_free(c);
    return s;
}

/* A copy of v (positions dropped) as the model's metadata key. */
static ks_status put_meta(ks_model *m, const char *key, const ks_value *v, ks_error *err)
{
    ks_value copy;
    if (ks_value_clone(v, &copy) != KS_OK)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    ks_value_forget_source(&copy);
    if (ks_value_put_copy(ks_model_meta(m), key, &copy) != KS_OK) {
        ks_value_free(&copy);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    ks_value_free(&copy);
    return KS_OK;
}

/* Whether a column reference (a name, a list of names, or {from: …}) names col. */
static int uses_column(const ks_value *ref, const char *col)
{
    const ks_value *f = ref->kind == KS_VALUE_MAP ? ks_value_get(ref, "from") : ref;
    for (size_t j = 0; f && j < (f->kind == KS_VALUE_LIST ? f->n : 1); j++) {
        const ks_value *nm = f->kind == KS_VALUE_LIST ? &f->items[j] : f;
        if (nm->kind == KS_VALUE_STRING && strcmp(nm->string, col) == 0)
            return 1;
    }
    return 0;
}

/*
 * The CSV columns of a training entry, by name (KS_META_CSV_*): the targets as a map of
 * references (the simple form's target, one_hot and num_classes under ""), the inputs as
 * their map, or the list of every column of the file that no target uses, in its order,
 * and the text columns.
 */
static ks_status record_columns(const ks_run_config *c, ks_model *m, ks_error *err)
{
    const ks_value *e = c->train, *csv = ks_value_get(e, "csv");
    const ks_value *inputs = ks_value_get(e, "inputs"), *targets = ks_value_get(e, "targets");
    const ks_value *target = ks_value_get(e, "target"), *text = ks_value_get(e, "text");
    const ks_value *delim = ks_value_get(e, "delimiter");
    ks_value tmap, cols, list;
    char path[2100];
    ks_status s = KS_OK;
    if (!csv || csv->kind != KS_VALUE_STRING)
        return KS_OK;
    ks_value_init(&tmap, KS_VALUE_MAP);
    ks_value_init(&cols, KS_VALUE_NULL);
    ks_value_init(&list, KS_VALUE_LIST);
    if (targets && targets->kind == KS_VALUE_MAP) {
        s = ks_value_clone(targets, &tmap) == KS_OK ? KS_OK : KS_ERR_NOMEM;
    } else if (target && target->kind != KS_VALUE_NULL) {
        ks_value *ref = ks_value_put(&tmap, "", KS_VALUE_MAP);
        static const char *const opts[] = {"one_hot", "num_classes"};
        s = ref && ks_value_put_copy(ref, "from", target) == KS_OK ? KS_OK : KS_ERR_NOMEM;
        for (int k = 0; k < 2 && s == KS_OK; k++)
            if (ks_value_get(e, opts[k]) &&
                ks_value_put_copy(ref, opts[k], ks_value_get(e, opts[k])) != KS_OK)
                s = KS_ERR_NOMEM;
    }
    if (s != KS_OK)
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    if (s == KS_OK && tmap.n > 0)
        s = put_meta(m, KS_META_CSV_TARGETS, &tmap, err);
    if (s == KS_OK && text && text->kind != KS_VALUE_NULL)
        s = put_meta(m, KS_META_CSV_TEXT, text, err);
    if (s == KS_OK && inputs && inputs->kind == KS_VALUE_MAP) {
        s = put_meta(m, KS_META_CSV_INPUTS, inputs, err);
    } else if (s == KS_OK) {
        if (csv->string[0] == '/' || !c->dir[0])
            snprintf(path, sizeof path, "%s", csv->string);
        else
            snprintf(path, sizeof path, "%s/%s", c->dir, csv->string);
        /* the data was read from there: a header that cannot be read now (the file gone
           since) leaves the columns unrecorded, the model as usable as before */
        ks_error quiet;
        int have = ks_csv_columns(path, delim && delim->kind == KS_VALUE_STRING ? delim->string[0]
                                                                                : ',',
                                  &cols, &quiet) == KS_OK;
        for (size_t i = 0; have && s == KS_OK && i < cols.n; i++) {
            int used = 0;
            for (size_t k = 0; k < tmap.n; k++)
                used |= uses_column(&tmap.items[k], cols.items[i].string);
            ks_value *v = used ? NULL : ks_value_push(&list, KS_VALUE_NULL);
            if (!used && (!v || ks_value_set_string(v, cols.items[i].string) != KS_OK))
                s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        }
        if (have && s == KS_OK)
            s = put_meta(m, KS_META_CSV_INPUTS, &list, err);
    }
    ks_value_free(&tmap);
    ks_value_free(&cols);
    ks_value_free(&list);
    return s;
}

ks_status ks_run_config_record_preprocessing(const ks_run_config *c, ks_model *m, ks_error *err)
{
    const ks_value *scale = c->train ? ks_value_get(c->train, "scale") : NULL;
    const ks_value *target = c->train && ks_value_get(c->train, "csv")
                                 ? ks_value_get(c->train, "target") : NULL;
    ks_value *v;
    if (scale && scale->kind == KS_VALUE_NUMBER) {
        if (!(v = ks_value_put(ks_model_meta(m), "input_scale", KS_VALUE_NUMBER)))
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        v->number = scale->number;
    }
    /* the CSV column(s) the targets came from, for evaluate's and predict's hints */
    if (target && (target->kind == KS_VALUE_STRING || target->kind == KS_VALUE_LIST)) {
        ks_value copy;
        if (ks_value_clone(target, &copy) != KS_OK)
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        ks_value_forget_source(&copy);
        if (ks_value_put_copy(ks_model_meta(m), KS_META_CSV_TARGET, &copy) != KS_OK) {
            ks_value_free(&copy);
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        }
        ks_value_free(&copy);
    }
    return record_columns(c, m, err);
}
