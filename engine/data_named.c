/*
 * data_named.c — a data entry's named arrays, for models with several inputs or
 * outputs: inputs and targets map each model input or output to arrays of the entry's
 * source (CSV columns, grouped as wanted; the IDX prefix's images and labels; named
 * .npy or IDX files), each with its own scale, one_hot, num_classes or class map.
 * Every array has the same rows, so batching and validation_split keep them together.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>

ks_status ks_target_finish(float **owned, ks_array *a, size_t n, int one_hot, int num_classes,
                           const ks_value *where, ks_error *err)
{
    float mx = 0.0f;
    int labels = a->size == 1;
    for (size_t i = 0; labels && i < n; i++) {
        float v = a->data[i];
        if (!(v >= 0.0f) || v != floorf(v) || v > 1e6f)
            labels = 0;
        else if (v > mx)
            mx = v;
    }
    a->is_label = labels;
    a->n_classes = labels ? (int)mx + 1 : 0;
    if (one_hot) {
        int k = num_classes > 0 ? num_classes : a->n_classes;
        float *oh;
        if (!labels)
            return ks_error_at(err, KS_ERR_CONFIG, where,
                               "one_hot needs one target column of class indices");
        if (a->n_classes > k)
            return ks_error_at(err, KS_ERR_CONFIG, where, "num_classes is %d but a target is %d",
                               k, a->n_classes - 1);
        if (k > 65536 || n > ((size_t)1 << 34) / (size_t)k)
            return ks_error_at(err, KS_ERR_CONFIG, where,
                               "one_hot would make %zu × %d targets; too many classes", n, k);
        if (!(oh = calloc(n * (size_t)k + 1, sizeof *oh)))
            return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
            oh[i * (size_t)k + (size_t)a->data[i]] = 1.0f;
        free(*owned);
        *owned = oh;
        a->data = oh;
        a->size = (size_t)k;
        a->shape.ndim = 1;
        a->shape.dim[0] = k;
        a->is_label = 0;
        a->n_classes = k;
    } else if (num_classes > 0 && labels) {
        if (a->n_classes > num_classes)
            return ks_error_at(err, KS_ERR_CONFIG, where, "num_classes is %d but a target is %d",
                               num_classes, a->n_classes - 1);
        a->n_classes = num_classes;
    }
    return KS_OK;
}

/* ------------------------------------------------------------ the source */

/* An array as a data entry names it, with its options. */
typedef struct array_ref {
    ks_value from;              /* a name, or a list of CSV column names */
    double scale;               /* 0: the entry's (inputs), none (targets) */
    int one_hot;
    int num_classes;
    ks_value map;               /* class index → new class index, a list */
} array_ref;

static const ks_key ref_keys[] = {
    {"from", KS_KEY_VALUE, offsetof(array_ref, from), 0, 0, 0, NULL, NULL, KS_KEY_REQUIRED},
    {"scale", KS_KEY_FLOAT, offsetof(array_ref, scale), 0, 0, INFINITY, "0", NULL, 0},
    {"one_hot", KS_KEY_BOOL, offsetof(array_ref, one_hot), 0, 0, 0, "false", NULL, 0},
    {"num_classes", KS_KEY_INT, offsetof(array_ref, num_classes), 0, 0, 1e6, "0", NULL, 0},
    {"map", KS_KEY_VALUE, offsetof(array_ref, map), 0, 0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

/* What the entry's source holds, loaded as needed. */
typedef struct loader {
    const ks_data_source *src;
    ks_error *err;
    ks_csv_table tab;           /* CSV: every column (tab.names once loaded) */
    size_t n;                   /* rows, once the first array is loaded */
    int have_n;
    const char *first;          /* the array that set n, for messages */
} loader;

/* The column names a group's references name, appended to names[*n, cap). */
static void group_columns(const ks_value *group, const char **names, size_t *n, size_t cap)
{
    for (size_t i = 0; group && group->kind == KS_VALUE_MAP && i < group->n; i++) {
        const ks_value *r = &group->items[i];
        const ks_value *f = r->kind == KS_VALUE_MAP ? ks_value_get(r, "from") : r;
        for (size_t j = 0; f && j < (f->kind == KS_VALUE_LIST ? f->n : 1); j++) {
            const ks_value *nm = f->kind == KS_VALUE_LIST ? &f->items[j] : f;
            if (nm->kind == KS_VALUE_STRING && *n < cap)
                names[(*n)++] = nm->string;
        }
    }
}

static ks_status load_table(loader *l)
{
    const ks_data_source *src = l->src;
    ks_csv_options opt = {NULL, src->delimiter, src->text, src->text_auto, NULL};
    const char **used = NULL;
    ks_status s;
    if (l->tab.names)
        return KS_OK;
    /* with an inputs map, the columns no array names are not read (they may hold anything) */
    if (src->inputs) {
        size_t n = 0, cap = 2 * KS_MAX_IO * 256;
        if (!(used = malloc((cap + 1) * sizeof *used)))
            return ks_error_set(l->err, KS_ERR_NOMEM, "out of memory");
        group_columns(src->inputs, used, &n, cap);
        group_columns(src->targets, used, &n, cap);
        used[n] = NULL;
        opt.used = used;
    }
    s = ks_csv_load_table(src->csv, &opt, src->begin, src->end, &l->tab, l->err);
    free(used);
    if (s != KS_OK)
        return ks_data_at_value(l->err, s,
                                s == KS_ERR_CONFIG && src->text_value ? src->text_value
                                                                      : ks_value_get(src->spec, "csv"));
    l->n = l->tab.n;
    l->have_n = 1;
    l->first = src->csv;
    return KS_OK;
}

static ks_status column_of(loader *l, const ks_value *name, size_t *col)
{
    const char *near;
    char got[64];
    if (name->kind != KS_VALUE_STRING)
        return ks_error_at(l->err, KS_ERR_CONFIG, name, "a column must be named, got %s",
                           ks_value_describe(name, got, sizeof got));
    for (size_t i = 0; i < l->tab.cols; i++)
        if (strcmp(l->tab.names[i], name->string) == 0) {
            *col = i;
            return KS_OK;
        }
    near = ks_nearest_name(name->string, (const char *const *)l->tab.names);
    return ks_error_at(l->err, KS_ERR_CONFIG, name, "%s has no column \"%s\"%s%s%s",
                       l->src->csv, name->string, near ? " (did you mean \"" : "",
                       near ? near : "", near ? "\"?)" : "");
}

/* CSV columns (one name or a list) gathered into an n × k array: numbers into *out, or,
   when they are text columns, the texts' pointers into *text (their block moves to ds). */
static ks_status csv_array(loader *l, ks_dataset *ds, const ks_value *from, float **out,
                           const char ***text, ks_shape *shape)
{
    size_t k = from->kind == KS_VALUE_LIST ? from->n : 1, cols[256], n_text = 0;
    const ks_csv_table *t = &l->tab;
    ks_status s;
    float *a;
    if ((s = load_table(l)) != KS_OK)
        return s;
    if (k < 1 || k > 256)
        return ks_error_at(l->err, KS_ERR_CONFIG, from, "give 1 to 256 column names, got %zu", k);
    for (size_t j = 0; j < k; j++) {
        if ((s = column_of(l, from->kind == KS_VALUE_LIST ? &from->items[j] : from, &cols[j])) !=
            KS_OK)
            return s;
        n_text += t->is_text && t->is_text[cols[j]];
    }
    shape->ndim = 1;
    shape->dim[0] = (int)k;
    if (n_text > 0 && n_text < k) {
        size_t a_text = 0, a_num = 0;
        while (!t->is_text[cols[a_text]])
            a_text++;
        while (t->is_text[cols[a_num]])
            a_num++;
        return ks_error_at(l->err, KS_ERR_CONFIG, from,
                           "the columns \"%.64s\" (text) and \"%.64s\" (numbers) cannot form "
                           "one array; give inputs: an array of each kind, e.g. {words: "
                           "[%.64s], numbers: [%.64s]}, each with an Input of its own",
                           t->names[cols[a_text]], t->names[cols[a_num]], t->names[cols[a_text]],
                           t->names[cols[a_num]]);
    }
    if (n_text) {
        const char **p = malloc(l->n * k * sizeof *p + 1);
        if (!p)
            return ks_error_set(l->err, KS_ERR_NOMEM, "out of memory");
        if (!ds->text) {            /* every text array points into the table's block */
            ds->text = l->tab.text;
            l->tab.text = NULL;
        }
        for (size_t i = 0; i < l->n; i++)
            for (size_t j = 0; j < k; j++)
                p[i * k + j] = ds->text + t->cell[i * t->cols + cols[j]];
        *text = p;
        return KS_OK;
    }
    if (!(a = malloc(l->n * k * sizeof *a + 1)))
        return ks_error_set(l->err, KS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < l->n; i++)
        for (size_t j = 0; j < k; j++)
            a[i * k + j] = t->data[i * t->cols + cols[j]];
    *out = a;
    return KS_OK;
}

/* The file of an IDX or .npy source's array called name. */
static ks_status file_of(loader *l, const ks_value *name, int *is_idx, char *path, size_t size)
{
    const ks_data_source *src = l->src;
    const ks_value *v = src->idx ? src->idx : src->npy, *f;
    char got[64];
    *is_idx = src->idx != NULL;
    if (name->kind != KS_VALUE_STRING)
        return ks_error_at(l->err, KS_ERR_CONFIG, name, "an array must be named, got %s",
                           ks_value_describe(name, got, sizeof got));
    if (src->idx && v->kind == KS_VALUE_STRING) {
        char images[1200], labels[1200];
        ks_status s;
        if (strcmp(name->string, "images") && strcmp(name->string, "labels"))
            return ks_error_at(l->err, KS_ERR_CONFIG, name,
                               "an IDX prefix holds the arrays images and labels, got \"%s\"",
                               name->string);
        if ((s = ks_idx_prefix_paths(v, src->base, images, labels, sizeof images, l->err)) !=
            KS_OK)
            return s;
        snprintf(path, size, "%s", strcmp(name->string, "images") ? labels : images);
        return KS_OK;
    }
    if (v->kind == KS_VALUE_STRING && src->npy && strcmp(name->string, "x") == 0) {
        ks_data_join_path(src->base, v->string, path, size);
        return KS_OK;
    }
    f = v->kind == KS_VALUE_MAP ? ks_value_get(v, name->string) : NULL;
    if (!f || f->kind != KS_VALUE_STRING) {
        const char *names[2 * KS_MAX_IO + 2];
        const char *near;
        int n = 0;
        for (size_t i = 0; v->kind == KS_VALUE_MAP && i < v->n && n < 2 * KS_MAX_IO; i++)
            names[n++] = v->items[i].key;
        names[n] = NULL;
        near = ks_nearest_name(name->string, names);
        return ks_error_at(l->err, KS_ERR_CONFIG, name,
                           "%s names no file \"%s\"%s%s%s; give it as %s: {%s: FILE}",
                           *is_idx ? "idx" : "npy", name->string, near ? " (did you mean \"" : "",
                           near ? near : "", near ? "\"?)" : "", *is_idx ? "idx" : "npy",
                           name->string);
    }
    ks_data_join_path(src->base, f->string, path, size);
    return KS_OK;
}

static ks_status file_array(loader *l, const ks_value *from, float **out, ks_shape *shape)
{
    char path[1200];
    int is_idx;
    size_t n;
    ks_status s;
    if (from->kind == KS_VALUE_LIST)
        return ks_error_at(l->err, KS_ERR_CONFIG, from,
                           "lists of columns are for CSV files; name one array");
    if ((s = file_of(l, from, &is_idx, path, sizeof path)) != KS_OK)
        return s;
    s = is_idx ? ks_idx_load(path, l->src->begin, l->src->end, 1.0, shape, &n, out, l->err)
               : ks_npy_load(path, l->src->begin, l->src->end, 1.0, shape, &n, out, l->err);
    if (s != KS_OK)
        return ks_data_at_value(l->err, s, from);
    if (l->have_n && n != l->n) {
        free(*out);
        *out = NULL;
        return ks_error_at(l->err, KS_ERR_SHAPE, from, "%s has %zu rows but %s has %zu", path, n,
                           l->first, l->n);
    }
    if (!l->have_n) {
        l->n = n;
        l->have_n = 1;
        l->first = from->string;
    }
    return KS_OK;
}

/* Class indices through map: label i becomes map[i]. */
static ks_status remap(const ks_value *map, float *y, size_t n, size_t size, const ks_value *where,
                       ks_error *err)
{
    if (map->kind != KS_VALUE_LIST || map->n == 0 || map->n > 65536)
        return ks_error_at(err, KS_ERR_CONFIG, map,
                           "map must list the new class of each class index, e.g. [0, 0, 1]");
    for (size_t j = 0; j < map->n; j++) {
        const ks_value *v = &map->items[j];
        if (v->kind != KS_VALUE_NUMBER || v->number < 0 || v->number != floor(v->number) ||
            v->number > 1e6)
            return ks_error_at(err, KS_ERR_CONFIG, v, "map values must be class indices >= 0");
    }
    if (size != 1)
        return ks_error_at(err, KS_ERR_CONFIG, where,
                           "map needs one column of class indices, got %zu columns", size);
    for (size_t i = 0; i < n; i++) {
        float c = y[i];
        if (!(c >= 0.0f) || c != floorf(c) || c >= (float)map->n)
            return ks_error_at(err, KS_ERR_CONFIG, map,
                               "row %zu holds %g, which map (of %zu classes) does not cover", i,
                               (double)c, map->n);
        y[i] = (float)map->items[(size_t)c].number;
    }
    return KS_OK;
}

/* Array slot k (inputs first) from reference v for the model input or output called name. */
static ks_status make_array(loader *l, ks_dataset *ds, int slot, const ks_value *v,
                            int is_target, ks_array *a)
{
    array_ref ref;
    const ks_value *from = v;
    ks_status s;
    double scale;
    float **owned = &ds->arrays[slot];
    memset(a, 0, sizeof *a);
    ks_keys_defaults(ref_keys, &ref);
    if (v->kind == KS_VALUE_MAP) {
        if ((s = ks_keys_read(ref_keys, v, v->key, &ref, l->err)) != KS_OK)
            goto out;
        from = ks_value_get(v, "from");
    }
    s = l->src->csv ? csv_array(l, ds, from, owned, &ds->texts[slot], &a->shape)
                    : file_array(l, from, owned, &a->shape);
    if (s != KS_OK)
        goto out;
    snprintf(ds->names[slot], sizeof ds->names[slot], "%s", v->key);
    a->name = ds->names[slot];
    a->data = *owned;
    a->text = ds->texts[slot];
    a->size = ks_shape_size(&a->shape);
    if (a->text) {
        if (is_target)
            s = ks_error_at(l->err, KS_ERR_CONFIG, v,
                            "targets must be numbers, and these columns hold text; give the "
                            "classes as numbers");
        else if (ref.scale > 0 || ref.map.kind != KS_VALUE_NULL || ref.one_hot || ref.num_classes)
            s = ks_error_at(l->err, KS_ERR_CONFIG, v, "text has no scale, map or one_hot");
        goto out;
    }
    scale = ref.scale > 0 ? ref.scale : is_target ? 1.0 : l->src->scale;
    if (scale != 1.0)
        for (size_t i = 0; i < l->n * a->size; i++)
            (*owned)[i] = (float)((*owned)[i] / scale);
    if (ref.map.kind != KS_VALUE_NULL &&
        (s = remap(&ref.map, *owned, l->n, a->size, v, l->err)) != KS_OK)
        goto out;
    if (is_target)
        s = ks_target_finish(owned, a, l->n, ref.one_hot, ref.num_classes, v, l->err);
    else if (ref.one_hot || ref.num_classes)
        s = ks_error_at(l->err, KS_ERR_CONFIG, v, "one_hot and num_classes are for targets");
out:
    ks_keys_free(ref_keys, &ref);
    return s;
}

/* inputs or targets: a map of names to arrays. */
static ks_status read_group(loader *l, ks_dataset *ds, const ks_value *group, int is_target)
{
    ks_data *d = &ds->d;
    char got[64];
    int *count = is_target ? &d->n_targets : &d->n_inputs;
    ks_array *arrays = is_target ? d->targets : d->inputs;
    if (group->kind != KS_VALUE_MAP || group->n == 0 || group->n > KS_MAX_IO)
        return ks_error_at(l->err, KS_ERR_CONFIG, group,
                           "%s must map up to %d of the model's %s names to arrays, e.g. "
                           "{wide: [a, b], deep: [c, d]}, got %s",
                           is_target ? "targets" : "inputs", KS_MAX_IO,
                           is_target ? "output" : "input",
                           ks_value_describe(group, got, sizeof got));
    for (size_t i = 0; i < group->n; i++) {
        ks_status s = make_array(l, ds, (is_target ? KS_MAX_IO : 0) + (int)i, &group->items[i],
                                 is_target, &arrays[i]);
        if (s != KS_OK)
            return s;
        *count = (int)i + 1;
    }
    return KS_OK;
}

/* Without inputs or targets: the source's usual input (CSV: the columns no target uses;
   IDX: images; npy: x) or target (labels, y). */
static ks_status default_group(loader *l, ks_dataset *ds, int is_target)
{
    const ks_data_source *src = l->src;
    ks_value group, *ref;
    ks_status s;
    ks_value_init(&group, KS_VALUE_MAP);
    if (src->csv && is_target)
        return KS_OK;       /* a CSV file's targets are named or there are none */
    if (src->csv) {
        ks_value *list;
        if ((s = load_table(l)) != KS_OK)
            return s;
        if (!(list = ks_value_put(&group, "", KS_VALUE_LIST)))
            return ks_error_set(l->err, KS_ERR_NOMEM, "out of memory");
        for (size_t c = 0; c < l->tab.cols; c++) {
            int used = 0;
            for (int k = 0; k < ds->d.n_targets; k++) {
                const ks_value *t = &src->targets->items[k], *f = t;
                if (t->kind == KS_VALUE_MAP)
                    f = ks_value_get(t, "from");
                for (size_t j = 0; f && j < (f->kind == KS_VALUE_LIST ? f->n : 1); j++) {
                    const ks_value *nm = f->kind == KS_VALUE_LIST ? &f->items[j] : f;
                    used |= nm->kind == KS_VALUE_STRING && strcmp(nm->string, l->tab.names[c]) == 0;
                }
            }
            if (!used) {
                ks_value *v = ks_value_push(list, KS_VALUE_NULL);
                if (!v || ks_value_set_string(v, l->tab.names[c]) != KS_OK) {
                    ks_value_free(&group);
                    return ks_error_set(l->err, KS_ERR_NOMEM, "out of memory");
                }
            }
        }
    } else {
        const char *name = src->idx && src->idx->kind == KS_VALUE_STRING
                               ? (is_target ? "labels" : "images")
                               : (is_target ? "y" : "x");
        const ks_value *files = src->idx ? src->idx : src->npy;
        if (is_target && strcmp(name, "y") == 0 &&
            (files->kind != KS_VALUE_MAP || !ks_value_get(files, "y")))
            return KS_OK;   /* no y file: no targets */
        if (!(ref = ks_value_put(&group, "", KS_VALUE_NULL)) || ks_value_set_string(ref, name))
            return ks_error_set(l->err, KS_ERR_NOMEM, "out of memory");
    }
    ref = &group.items[0];
    ref->file = src->spec->file;
    ref->line = src->spec->line;
    ref->col = src->spec->col;
    s = read_group(l, ds, &group, is_target);
    ks_value_free(&group);
    return s;
}

ks_status ks_dataset_load_named(ks_dataset *ds, const ks_data_source *src, ks_error *err)
{
    loader l;
    ks_data *d = &ds->d;
    ks_status s = KS_OK;
    memset(&l, 0, sizeof l);
    l.src = src;
    l.err = err;
    if (src->targets)
        s = read_group(&l, ds, src->targets, 1);
    else
        s = default_group(&l, ds, 1);
    if (s == KS_OK)
        s = src->inputs ? read_group(&l, ds, src->inputs, 0) : default_group(&l, ds, 0);
    ks_csv_table_free(&l.tab);
    if (s != KS_OK)
        return s;
    /* an empty name matches by position: unnamed arrays */
    for (int k = 0; k < d->n_inputs; k++)
        if (!d->inputs[k].name[0])
            d->inputs[k].name = NULL;
    for (int k = 0; k < d->n_targets; k++)
        if (!d->targets[k].name[0])
            d->targets[k].name = NULL;
    d->n = l.n;
    /* x and y mirror the first of each, for callers that read one */
    d->x = d->inputs[0].data;
    d->x_shape = d->inputs[0].shape;
    d->x_size = d->inputs[0].size;
    if (d->n_targets > 0) {
        d->y = d->targets[0].data;
        d->y_size = d->targets[0].size;
        d->y_is_label = d->targets[0].is_label;
        d->n_classes = d->targets[0].n_classes;
    }
    return KS_OK;
}
