/*
 * dataset.c — loading a data section entry ({idx: …}, {npy: …}, {csv: …}) into an
 * owned, read-only data set: inputs scaled, a row range selected, targets as class
 * indices or one-hot.  Errors name the data file and point at the study entry.
 */
#include "engine_impl.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct data_spec {
    ks_value idx;
    ks_value npy;
    char csv[1024];
    ks_value target;
    int one_hot;
    int num_classes;
    double scale;
    ks_value rows;
    char delimiter[2];          /* one character */
    ks_value inputs, targets;   /* named arrays, for several model inputs or outputs */
} data_spec;

static const ks_key data_keys[] = {
    {"idx", KS_KEY_VALUE, offsetof(data_spec, idx), 0, 0, 0, NULL, NULL, 0},
    {"npy", KS_KEY_VALUE, offsetof(data_spec, npy), 0, 0, 0, NULL, NULL, 0},
    {"csv", KS_KEY_STRING, offsetof(data_spec, csv), 1024, 0, 0, "", NULL, 0},
    {"target", KS_KEY_VALUE, offsetof(data_spec, target), 0, 0, 0, NULL, NULL, 0},
    {"one_hot", KS_KEY_BOOL, offsetof(data_spec, one_hot), 0, 0, 0, "false", NULL, 0},
    {"num_classes", KS_KEY_INT, offsetof(data_spec, num_classes), 0, 0, 1e6, "0", NULL, 0},
    {"scale", KS_KEY_FLOAT, offsetof(data_spec, scale), 0, 0, INFINITY, "1", NULL,
     KS_KEY_MIN_EXCL},
    {"rows", KS_KEY_VALUE, offsetof(data_spec, rows), 0, 0, 0, NULL, NULL, 0},
    {"delimiter", KS_KEY_STRING, offsetof(data_spec, delimiter), 2, 0, 0, ",", NULL, 0},
    {"inputs", KS_KEY_VALUE, offsetof(data_spec, inputs), 0, 0, 0, NULL, NULL, 0},
    {"targets", KS_KEY_VALUE, offsetof(data_spec, targets), 0, 0, 0, NULL, NULL, 0},
    {NULL, 0, 0, 0, 0, 0, NULL, NULL, 0}};

void ks_dataset_free(ks_dataset *ds)
{
    if (!ds)
        return;
    free(ds->x);
    free(ds->y);
    free(ds->w);
    for (int k = 0; k < 2 * KS_MAX_IO; k++)
        free(ds->arrays[k]);
    free(ds);
}

ks_data ks_dataset_data(const ks_dataset *ds)
{
    return ds->d;
}

void ks_data_join_path(const char *base, const char *path, char *out, size_t size)
{
    if (path[0] == '/' || !base || !base[0])
        snprintf(out, size, "%s", path);
    else
        snprintf(out, size, "%s/%s", base, path);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

ks_status ks_data_at_value(ks_error *err, ks_status s, const ks_value *where)
{
    char msg[sizeof err->msg + sizeof err->file + 32];
    if (!err || !where || where->line == 0)
        return s;
    if (err->file[0] && err->line > 0)
        snprintf(msg, sizeof msg, "%s:%d:%d: %s", err->file, err->line, err->col, err->msg);
    else if (err->file[0])
        snprintf(msg, sizeof msg, "%s: %s", err->file, err->msg);
    else
        snprintf(msg, sizeof msg, "%s", err->msg);
    return ks_error_at(err, s, where, "%s", msg);
}

/* A string path member (or the value itself if it is a string). */
static ks_status path_of(const ks_value *v, const char *key, const char *what, const char *base,
                         char *out, size_t size, int required, ks_error *err)
{
    const ks_value *p = key ? ks_value_get(v, key) : v;
    char got[64];
    out[0] = '\0';
    if (!p || p->kind == KS_VALUE_NULL) {
        if (required)
            return ks_error_at(err, KS_ERR_CONFIG, v, "%s needs %s: FILE", what, key);
        return KS_OK;
    }
    if (p->kind != KS_VALUE_STRING)
        return ks_error_at(err, KS_ERR_CONFIG, p, "%s: %s must be a file name, got %s", what,
                           key ? key : "the path", ks_value_describe(p, got, sizeof got));
    ks_data_join_path(base, p->string, out, size);
    return KS_OK;
}

ks_status ks_idx_prefix_paths(const ks_value *prefix_value, const char *base, char *images,
                              char *labels, size_t size, ks_error *err)
{
    /* a prefix: PREFIX-images-idx3-ubyte[.gz], PREFIX-labels-idx1-ubyte[.gz] */
    char prefix[1024];
    ks_data_join_path(base, prefix_value->string, prefix, sizeof prefix);
    snprintf(images, size, "%s-images-idx3-ubyte.gz", prefix);
    if (!file_exists(images))
        snprintf(images, size, "%s-images-idx3-ubyte", prefix);
    if (!file_exists(images))
        return ks_error_at(err, KS_ERR_IO, prefix_value,
                           "no IDX images for the prefix %s: neither %s.gz nor %s exists", prefix,
                           images, images);
    snprintf(labels, size, "%s-labels-idx1-ubyte.gz", prefix);
    if (!file_exists(labels))
        snprintf(labels, size, "%s-labels-idx1-ubyte", prefix);
    return KS_OK;
}

static ks_status check_keys(const ks_value *v, const char *what, const char *const *allowed,
                            ks_error *err)
{
    char got[64];
    if (v->kind != KS_VALUE_MAP)
        return ks_error_at(err, KS_ERR_CONFIG, v,
                           "%s must be a file name or a map {x: FILE, y: FILE}, got %s", what,
                           ks_value_describe(v, got, sizeof got));
    for (size_t i = 0; i < v->n; i++) {
        int ok = 0;
        for (int j = 0; allowed[j]; j++)
            ok |= strcmp(allowed[j], v->items[i].key) == 0;
        if (!ok)
            return ks_error_at_key(err, KS_ERR_CONFIG, &v->items[i],
                                   "%s has no key \"%s\"; expected x and y", what,
                                   v->items[i].key);
    }
    return KS_OK;
}

/* The single target array y: class indices detected, one-hot on request. */
static ks_status finish_y(ks_dataset *ds, int one_hot, int num_classes, const ks_value *where,
                          ks_error *err)
{
    ks_data *d = &ds->d;
    ks_array t;
    ks_status s;
    memset(&t, 0, sizeof t);
    t.shape.ndim = 1;
    t.shape.dim[0] = (int)d->y_size;
    t.size = d->y_size;
    t.data = ds->y;
    s = ks_target_finish(&ds->y, &t, d->n, one_hot, num_classes, where, err);
    d->y = ds->y;
    d->y_size = t.size;
    d->y_is_label = t.is_label;
    d->n_classes = t.n_classes;
    return s;
}

static ks_status load_pair(ks_dataset *ds, const ks_value *src, int is_idx, const char *base,
                           size_t begin, size_t end, double scale, ks_error *err)
{
    static const char *const xy[] = {"x", "y", NULL};
    const char *what = is_idx ? "idx" : "npy";
    char xpath[1200], ypath[1200];
    ks_shape yshape;
    size_t nx, ny;
    ks_status s;
    if (src->kind == KS_VALUE_STRING && is_idx) {
        if ((s = ks_idx_prefix_paths(src, base, xpath, ypath, sizeof xpath, err)) != KS_OK)
            return s;
    } else if (src->kind == KS_VALUE_STRING) {
        ks_data_join_path(base, src->string, xpath, sizeof xpath);
        ypath[0] = '\0';
    } else {
        if ((s = check_keys(src, what, xy, err)) != KS_OK ||
            (s = path_of(src, "x", what, base, xpath, sizeof xpath, 1, err)) != KS_OK ||
            (s = path_of(src, "y", what, base, ypath, sizeof ypath, 0, err)) != KS_OK)
            return s;
    }
    s = is_idx ? ks_idx_load(xpath, begin, end, scale, &ds->d.x_shape, &nx, &ds->x, err)
               : ks_npy_load(xpath, begin, end, scale, &ds->d.x_shape, &nx, &ds->x, err);
    if (s != KS_OK)
        return ks_data_at_value(err, s, src);
    ds->d.n = nx;
    ds->d.x = ds->x;
    ds->d.x_size = ks_shape_size(&ds->d.x_shape);
    if (!ypath[0])
        return KS_OK;
    s = is_idx ? ks_idx_load(ypath, begin, end, 1.0, &yshape, &ny, &ds->y, err)
               : ks_npy_load(ypath, begin, end, 1.0, &yshape, &ny, &ds->y, err);
    if (s != KS_OK)
        return ks_data_at_value(err, s, src);
    if (ny != nx)
        return ks_error_at(err, KS_ERR_SHAPE, src, "%s has %zu rows but %s has %zu", xpath, nx,
                           ypath, ny);
    ds->d.y = ds->y;
    ds->d.y_size = ks_shape_size(&yshape);
    return KS_OK;
}

static ks_status load_csv(ks_dataset *ds, const data_spec *sp, const ks_value *spec,
                          const char *base, size_t begin, size_t end, ks_error *err)
{
    const char *targets[65];
    ks_csv_options opt;
    const ks_value *t = &sp->target;
    char path[1200], got[64];
    size_t n, xc, yc;
    ks_status s;
    int nt = 0;
    if (t->kind == KS_VALUE_STRING) {
        targets[nt++] = t->string;
    } else if (t->kind == KS_VALUE_LIST && t->n >= 1 && t->n <= 64) {
        for (size_t i = 0; i < t->n; i++) {
            if (t->items[i].kind != KS_VALUE_STRING)
                return ks_error_at(err, KS_ERR_CONFIG, &t->items[i],
                                   "target must list column names, got %s",
                                   ks_value_describe(&t->items[i], got, sizeof got));
            targets[nt++] = t->items[i].string;
        }
    } else if (t->kind != KS_VALUE_NULL) {
        return ks_error_at(err, KS_ERR_CONFIG, t,
                           "target must be a column name or a list of 1 to 64 names, got %s",
                           ks_value_describe(t, got, sizeof got));
    }
    targets[nt] = NULL;
    opt.targets = targets;
    opt.delimiter = sp->delimiter[0] ? sp->delimiter[0] : ',';
    ks_data_join_path(base, sp->csv, path, sizeof path);
    s = ks_csv_load(path, &opt, begin, end, sp->scale, &n, &xc, &ds->x, &yc, &ds->y, err);
    if (s != KS_OK)
        return ks_data_at_value(err, s, ks_value_get(spec, "csv"));
    ds->d.n = n;
    ds->d.x = ds->x;
    ds->d.x_shape.ndim = 1;
    ds->d.x_shape.dim[0] = (int)xc;
    ds->d.x_size = xc;
    ds->d.y = nt ? ds->y : NULL;
    ds->d.y_size = nt ? yc : 0;
    return KS_OK;
}

/* The named form: inputs and targets over the entry's source (data_named.c). */
static ks_status load_named(ks_dataset *ds, const data_spec *sp, const ks_value *spec,
                            const char *base, size_t begin, size_t end, ks_error *err)
{
    ks_data_source src;
    char csv[1200];
    const char *what = sp->target.kind != KS_VALUE_NULL ? "target"
                       : sp->one_hot                     ? "one_hot"
                       : sp->num_classes                 ? "num_classes"
                                                         : NULL;
    if (what)
        return ks_error_at(err, KS_ERR_CONFIG, ks_value_get(spec, what),
                           "with inputs or targets, %s goes with each target: e.g. targets: "
                           "{out: {from: y, one_hot: true}}",
                           what);
    memset(&src, 0, sizeof src);
    src.spec = spec;
    src.idx = sp->idx.kind != KS_VALUE_NULL ? &sp->idx : NULL;
    src.npy = sp->npy.kind != KS_VALUE_NULL ? &sp->npy : NULL;
    if (sp->csv[0]) {
        ks_data_join_path(base, sp->csv, csv, sizeof csv);
        src.csv = csv;
    }
    src.inputs = sp->inputs.kind != KS_VALUE_NULL ? &sp->inputs : NULL;
    src.targets = sp->targets.kind != KS_VALUE_NULL ? &sp->targets : NULL;
    src.base = base;
    src.begin = begin;
    src.end = end;
    src.scale = sp->scale;
    src.delimiter = sp->delimiter[0] ? sp->delimiter[0] : ',';
    return ks_dataset_load_named(ds, &src, err);
}

ks_status ks_dataset_load(const ks_value *spec, const char *base_dir, ks_dataset **out,
                          ks_error *err)
{
    data_spec sp;
    ks_dataset *ds;
    size_t begin = 0, end = KS_ALL_ROWS;
    ks_status s;
    int sources;
    *out = NULL;
    ks_keys_defaults(data_keys, &sp);
    if ((s = ks_keys_read(data_keys, spec, "data", &sp, err)) != KS_OK) {
        ks_keys_free(data_keys, &sp);
        return s;
    }
    sources = (sp.idx.kind != KS_VALUE_NULL) + (sp.npy.kind != KS_VALUE_NULL) + (sp.csv[0] != 0);
    if (sources != 1) {
        ks_keys_free(data_keys, &sp);
        return ks_error_at(err, KS_ERR_CONFIG, spec,
                           "data needs exactly one of idx, npy or csv, got %d", sources);
    }
    if (sp.rows.kind != KS_VALUE_NULL) {
        const ks_value *r = &sp.rows;
        if (r->kind != KS_VALUE_LIST || r->n != 2 || r->items[0].kind != KS_VALUE_NUMBER ||
            r->items[1].kind != KS_VALUE_NUMBER || r->items[0].number < 0 ||
            r->items[1].number <= r->items[0].number ||
            r->items[0].number != floor(r->items[0].number) ||
            r->items[1].number != floor(r->items[1].number) || r->items[1].number > 1e12) {
            s = ks_error_at(err, KS_ERR_CONFIG, r,
                            "rows must be [BEGIN, END], integers with 0 <= BEGIN < END");
            ks_keys_free(data_keys, &sp);
            return s;
        }
        begin = (size_t)r->items[0].number;
        end = (size_t)r->items[1].number;
    }
    ds = calloc(1, sizeof *ds);
    if (!ds) {
        ks_keys_free(data_keys, &sp);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    if (sp.inputs.kind != KS_VALUE_NULL || sp.targets.kind != KS_VALUE_NULL) {
        s = load_named(ds, &sp, spec, base_dir, begin, end, err);
        ks_keys_free(data_keys, &sp);
        if (s != KS_OK) {
            ks_dataset_free(ds);
            return s;
        }
        *out = ds;
        return KS_OK;
    }
    if (sp.idx.kind != KS_VALUE_NULL)
        s = load_pair(ds, &sp.idx, 1, base_dir, begin, end, sp.scale, err);
    else if (sp.npy.kind != KS_VALUE_NULL)
        s = load_pair(ds, &sp.npy, 0, base_dir, begin, end, sp.scale, err);
    else
        s = load_csv(ds, &sp, spec, base_dir, begin, end, err);
    if (s == KS_OK && ds->d.y)
        s = finish_y(ds, sp.one_hot, sp.num_classes, spec, err);
    else if (s == KS_OK && sp.one_hot)
        s = ks_error_at(err, KS_ERR_CONFIG, spec, "one_hot needs one target column of class "
                                                  "indices");
    ks_keys_free(data_keys, &sp);
    if (s != KS_OK) {
        ks_dataset_free(ds);
        return s;
    }
    *out = ds;
    return KS_OK;
}

ks_status ks_dataset_from_arrays(const ks_shape *x_shape, size_t n, const float *x,
                                 size_t y_size, const float *y, int y_is_label,
                                 ks_dataset **out, ks_error *err)
{
    ks_dataset *ds = calloc(1, sizeof *ds);
    size_t xs = ks_shape_size(x_shape);
    *out = NULL;
    if (!ds)
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    ds->x = malloc(n * xs * sizeof(float) + 1);
    ds->y = y ? malloc(n * y_size * sizeof(float) + 1) : NULL;
    if (!ds->x || (y && !ds->y)) {
        ks_dataset_free(ds);
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    }
    memcpy(ds->x, x, n * xs * sizeof(float));
    if (y)
        memcpy(ds->y, y, n * y_size * sizeof(float));
    ds->d.n = n;
    ds->d.x_shape = *x_shape;
    ds->d.x_size = xs;
    ds->d.x = ds->x;
    ds->d.y = ds->y;
    ds->d.y_size = y ? y_size : 0;
    if (y_is_label && y)
        finish_y(ds, 0, 0, NULL, NULL);
    *out = ds;
    return KS_OK;
}

ks_status ks_row_range(const char *path, size_t begin, size_t *end, size_t rows, ks_error *err)
{
    if (*end == KS_ALL_ROWS)
        *end = rows;
    if (*end > rows || begin > *end)
        return ks_error_set_at(err, KS_ERR_CONFIG, path, 0, 0,
                               "rows [%zu, %zu) are outside the file's %zu rows", begin, *end,
                               rows);
    return KS_OK;
}
