/*
 * cli_model.c — `ksearch evaluate` and `ksearch predict`: a saved model on data
 * given as an IDX prefix, a .npy file, a .csv file or a study/run file (its test
 * data; the way to give a model of several inputs its arrays).  The input scaling
 * recorded in the model file is applied unless --scale says otherwise.  predict writes
 * every output of a model of several, or the one asked for.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct data_opts {
    const char *data;       /* the DATA argument */
    const char *output;     /* predict: the one output to write (NULL: every one) */
    const char *target;     /* CSV target column(s), comma-separated */
    const char *labels;     /* .npy labels for a .npy input */
    double scale;           /* 0: the model's */
    int batch_size;
    int need_targets;       /* evaluate: the targets must be there */
} data_opts;

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static ks_status put_string(ks_value *map, const char *key, const char *value)
{
    ks_value *v = ks_value_put(map, key, KS_VALUE_NULL);
    return v ? ks_value_set_string(v, value) : KS_ERR_NOMEM;
}

/* Whether the list of names has s. */
static int has_name(const ks_value *names, const char *s)
{
    for (size_t i = 0; i < names->n; i++)
        if (strcmp(names->items[i].string, s) == 0)
            return 1;
    return 0;
}

/* The first column a reference (a name, a list, or {from: …}) names that the header
   lacks, or NULL. */
static const char *missing_column(const ks_value *ref, const ks_value *header)
{
    const ks_value *f = ref->kind == KS_VALUE_MAP ? ks_value_get(ref, "from") : ref;
    for (size_t j = 0; f && j < (f->kind == KS_VALUE_LIST ? f->n : 1); j++) {
        const ks_value *nm = f->kind == KS_VALUE_LIST ? &f->items[j] : f;
        if (nm->kind == KS_VALUE_STRING && !has_name(header, nm->string))
            return nm->string;
    }
    return NULL;
}

/* --target's names as a LIST. */
static ks_status target_list(const char *target, ks_value *out)
{
    char buf[1024], *save = NULL;
    ks_value_init(out, KS_VALUE_LIST);
    snprintf(buf, sizeof buf, "%s", target);
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        ks_value *e = ks_value_push(out, KS_VALUE_NULL);
        if (!e || ks_value_set_string(e, tok) != KS_OK)
            return KS_ERR_NOMEM;
    }
    return KS_OK;
}

/* The targets' references as trained (a map, into *tmap, which the caller frees), with
   --target's columns in place of the one output's; KS_ERR_NOMEM. */
static ks_status target_refs(const data_opts *o, const ks_value *targets, ks_value *tmap)
{
    ks_value names, *ref, *from;
    ks_status s = KS_OK;
    ks_value_init(&names, KS_VALUE_NULL);
    if (targets && targets->kind == KS_VALUE_MAP && ks_value_clone(targets, tmap) != KS_OK)
        return KS_ERR_NOMEM;
    if (!o->target)
        return KS_OK;
    if (tmap->n != 1 || tmap->items[0].kind != KS_VALUE_MAP) {
        ks_value_free(tmap);
        ks_value_init(tmap, KS_VALUE_MAP);
        ref = ks_value_put(tmap, "", KS_VALUE_MAP);
    } else {
        ref = &tmap->items[0];
    }
    from = ref ? ks_value_get(ref, "from") : NULL;
    if (!ref || target_list(o->target, &names) != KS_OK) {
        s = KS_ERR_NOMEM;
    } else if (from) {              /* the names in place of the recorded ones */
        char *key = from->key;
        from->key = NULL;
        ks_value_free(from);
        *from = names;
        from->key = key;
        return KS_OK;
    } else if (ks_value_put_copy(ref, "from", &names) != KS_OK) {
        s = KS_ERR_NOMEM;
    }
    ks_value_free(&names);
    return s;
}

/*
 * A CSV file read by the columns the model recorded at training (KS_META_CSV_*), in any
 * order: its inputs, its targets (--target overrides their columns) when the file has
 * them — evaluate needs them — and its text columns.  A missing input column, or a
 * missing target column for evaluate, is KS_ERR_CONFIG naming it at the header.
 */
static ks_status csv_by_name(const data_opts *o, ks_model *m, ks_value *spec, ks_error *err)
{
    const ks_value *meta = ks_model_meta(m);
    const ks_value *inputs = ks_value_get(meta, KS_META_CSV_INPUTS);
    const ks_value *targets = ks_value_get(meta, KS_META_CSV_TARGETS);
    const ks_value *text = ks_value_get(meta, KS_META_CSV_TEXT);
    ks_value header, tmap, *v;
    const char *miss = NULL;
    ks_status s;
    if ((s = ks_csv_columns(o->data, ',', &header, err)) != KS_OK)
        return s;
    ks_value_init(&tmap, KS_VALUE_MAP);
    for (size_t i = 0; inputs->kind == KS_VALUE_MAP && i < inputs->n && !miss; i++)
        miss = missing_column(&inputs->items[i], &header);
    if (inputs->kind == KS_VALUE_LIST)
        miss = missing_column(inputs, &header);
    if (miss) {
        s = ks_error_set_at(err, KS_ERR_CONFIG, o->data, 1, 1,
                            "the header has no column \"%s\", which the model was trained on "
                            "(its input columns are read by name, in any order)",
                            miss);
        goto out;
    }
    if (inputs->kind == KS_VALUE_LIST) {
        v = ks_value_put(spec, "inputs", KS_VALUE_MAP);
        s = v && ks_value_put_copy(v, "", inputs) == KS_OK ? KS_OK : KS_ERR_NOMEM;
    } else {
        s = ks_value_put_copy(spec, "inputs", inputs);
    }
    if (s == KS_OK)
        s = target_refs(o, targets, &tmap);
    if (s != KS_OK) {
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < tmap.n && !miss; i++)
        miss = missing_column(&tmap.items[i], &header);
    if (miss && (o->need_targets || o->target)) {
        s = ks_error_set_at(err, KS_ERR_CONFIG, o->data, 1, 1,
                            "the header has no column \"%s\", the target %s; name the target "
                            "column(s) with --target NAME",
                            miss, o->target ? "given by --target" : "the model was trained with");
        goto out;
    }
    if (!miss && tmap.n > 0 && ks_value_put_copy(spec, "targets", &tmap) != KS_OK)
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    if (s == KS_OK && text && ks_value_put_copy(spec, "text", text) != KS_OK)
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    for (int i = 0; s == KS_OK && !text && i < ks_model_n_inputs(m); i++)
        if (strcmp(ks_model_input_dtype(m, i), "string") == 0) {
            /* a model that reads text: the columns that are not numbers are text */
            if (!(v = ks_value_put(spec, "text", KS_VALUE_BOOL)))
                s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
            else
                v->boolean = 1;
            break;
        }
out:
    ks_value_free(&header);
    ks_value_free(&tmap);
    return s;
}

/* Build the data spec for DATA and load it. */
static ks_status load_data(const data_opts *o, ks_model *m, ks_dataset **out, ks_error *err)
{
    ks_value spec, *v;
    ks_run_config *cfg = NULL;
    const ks_value *use = &spec;
    const char *base = NULL;
    ks_status s = KS_OK;
    ks_value_init(&spec, KS_VALUE_MAP);
    if (ends_with(o->data, ".yaml") || ends_with(o->data, ".yml")) {
        if ((s = ks_run_config_load(o->data, &cfg, err)) != KS_OK)
            return s;
        if (!cfg->test) {
            s = ks_error_set_at(err, KS_ERR_CONFIG, o->data, 0, 0, "the file has no data.test");
            ks_run_config_free(cfg);
            return s;
        }
        use = cfg->test;
        base = cfg->dir;
    } else if (ends_with(o->data, ".npy")) {
        ks_value *npy = ks_value_put(&spec, "npy", KS_VALUE_MAP);
        if (!npy || put_string(npy, "x", o->data) != KS_OK ||
            (o->labels && put_string(npy, "y", o->labels) != KS_OK))
            s = KS_ERR_NOMEM;
    } else if (ends_with(o->data, ".csv") &&
               ks_value_get(ks_model_meta(m), KS_META_CSV_INPUTS)) {
        if (put_string(&spec, "csv", o->data) != KS_OK)
            s = KS_ERR_NOMEM;
        else if ((s = csv_by_name(o, m, &spec, err)) != KS_OK) {
            ks_value_free(&spec);
            return s;
        }
    } else if (ends_with(o->data, ".csv")) {
        int text = 0;
        for (int i = 0; i < ks_model_n_inputs(m); i++)
            text |= strcmp(ks_model_input_dtype(m, i), "string") == 0;
        if (put_string(&spec, "csv", o->data) != KS_OK)
            s = KS_ERR_NOMEM;
        /* a model that reads text: the columns that are not numbers are text */
        if (s == KS_OK && text && (v = ks_value_put(&spec, "text", KS_VALUE_BOOL)))
            v->boolean = 1;
        else if (s == KS_OK && text)
            s = KS_ERR_NOMEM;
        if (s == KS_OK && o->target) {
            ks_value *t = ks_value_put(&spec, "target", KS_VALUE_LIST);
            char buf[1024], *save = NULL;
            snprintf(buf, sizeof buf, "%s", o->target);
            for (char *tok = strtok_r(buf, ",", &save); t && tok; tok = strtok_r(NULL, ",", &save)) {
                ks_value *e = ks_value_push(t, KS_VALUE_NULL);
                if (!e || ks_value_set_string(e, tok) != KS_OK)
                    s = KS_ERR_NOMEM;
            }
        }
    } else {
        if (put_string(&spec, "idx", o->data) != KS_OK)
            s = KS_ERR_NOMEM;
    }
    if (s == KS_OK && use == &spec) {
        double scale = o->scale;
        const ks_value *ms = ks_value_get(ks_model_meta(m), "input_scale");
        if (scale <= 0)
            scale = ms && ms->kind == KS_VALUE_NUMBER ? ms->number : 1.0;
        if (!(v = ks_value_put(&spec, "scale", KS_VALUE_NUMBER)))
            s = KS_ERR_NOMEM;
        else
            v->number = scale;
    }
    if (s != KS_OK)
        s = ks_error_set(err, s, "out of memory");
    else
        s = ks_dataset_load(use, base, out, err);
    ks_value_free(&spec);
    ks_run_config_free(cfg);
    return s;
}

/*
 * A CSV read without --target gives every column to the inputs: when the model expects
 * other inputs, say so, with the target column(s) the model was trained with when its
 * file knows them.
 */
static void target_hint(const data_opts *o, ks_model *m, ks_status s, ks_error *err)
{
    const ks_value *t;
    char names[300] = "", msg[sizeof err->msg], file[sizeof err->file];
    size_t len = 0;
    int line, col;
    if (s != KS_ERR_SHAPE || !err || o->target || !ends_with(o->data, ".csv"))
        return;
    t = ks_value_get(ks_model_meta(m), KS_META_CSV_TARGET);
    if (t && t->kind == KS_VALUE_STRING)
        snprintf(names, sizeof names, "%s", t->string);
    for (size_t i = 0; t && t->kind == KS_VALUE_LIST && i < t->n && len < sizeof names; i++)
        if (t->items[i].kind == KS_VALUE_STRING)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? "," : "",
                                    t->items[i].string);
    snprintf(msg, sizeof msg, "%s", err->msg);
    snprintf(file, sizeof file, "%s", err->file);
    line = err->line;
    col = err->col;
    if (names[0])
        ks_error_set_at(err, s, file, line, col,
                        "%s; without --target every column of %s is an input: the model was "
                        "trained with --target %s",
                        msg, o->data, names);
    else
        ks_error_set_at(err, s, file, line, col,
                        "%s; without --target every column of %s is an input: name the target "
                        "column(s) with --target NAME",
                        msg, o->data);
}

/* What evaluate and predict run: one model, or an ensemble (a model file either way). */
typedef struct predictor {
    ks_model *model;            /* the model, or the ensemble's first member (metadata) */
    ks_ensemble *ensemble;
} predictor;

static ks_status predictor_load(const char *path, predictor *p, ks_error *err)
{
    ks_status s;
    memset(p, 0, sizeof *p);
    if (ks_file_kind_of(path) != KS_FILE_ENSEMBLE)
        return ks_model_load(path, &p->model, NULL, err);
    if ((s = ks_ensemble_load(path, &p->ensemble, err)) == KS_OK)
        p->model = ks_ensemble_member(p->ensemble, 0);
    return s;
}

static void predictor_free(predictor *p)
{
    if (p->ensemble)
        ks_ensemble_free(p->ensemble);
    else
        ks_model_free(p->model);
    memset(p, 0, sizeof *p);
}

static void model_usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "usage: ksearch %s MODEL.ksm DATA [options]\n\n"
            "MODEL.ksm is a model file or an ensemble file (ksearch ensemble).\n"
            "DATA is an IDX prefix (e.g. /usr/share/datasets/fashion-mnist/t10k), a .npy\n"
            "file, a .csv file with a header, or a study/run file (its data.test).\n\n"
            "options:\n"
            "  --scale S        divide inputs by S [the scale the model was trained with]\n"
            "  --target COLS    CSV target column(s), comma-separated\n"
            "  --labels FILE    .npy targets for a .npy DATA\n"
            "  --batch-size N   rows per batch [32]\n"
            "%s",
            cmd, strcmp(cmd, "predict") == 0
                     ? "  -o FILE.csv      write the outputs as CSV [stdout]\n"
                       "  --output NAME    the one output to write, of a model of several\n"
                       "                   [every one, columns prefixed with its name]\n"
                     : "");
}

/* Common arguments; returns 0 to go on, else the exit status. */
static int parse_args(int argc, char **argv, const char *cmd, const char **model, data_opts *o,
                      const char **out)
{
    ks_error err;
    *model = NULL;
    memset(o, 0, sizeof *o);
    o->batch_size = 32;
    for (int i = 1; i < argc; i++) {
        int r;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            model_usage(stdout, cmd);
            return -1;
        }
        if ((r = cli_int_option(argc, argv, &i, "--batch-size", &o->batch_size, &err)) != 0) {
            if (r < 0) {
                cli_error(&err);
                return KS_EXIT_BAD_INPUT;
            }
            continue;
        }
        if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
            char *end;
            o->scale = strtod(argv[++i], &end);
            if (*end || !(o->scale > 0)) {
                fprintf(stderr, "ksearch %s: --scale must be a number > 0, got \"%s\"\n", cmd,
                        argv[i]);
                return KS_EXIT_BAD_INPUT;
            }
        } else if (strcmp(argv[i], "--target") == 0 && i + 1 < argc) {
            o->target = argv[++i];
        } else if (strcmp(argv[i], "--labels") == 0 && i + 1 < argc) {
            o->labels = argv[++i];
        } else if (out && strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            *out = argv[++i];
        } else if (out && strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
            o->output = argv[++i];
        } else if (argv[i][0] == '-' || (*model && o->data)) {
            fprintf(stderr, "ksearch %s: unexpected argument \"%s\"\n", cmd, argv[i]);
            model_usage(stderr, cmd);
            return KS_EXIT_BAD_INPUT;
        } else if (!*model) {
            *model = argv[i];
        } else {
            o->data = argv[i];
        }
    }
    if (!*model || !o->data || o->batch_size < 1) {
        model_usage(stderr, cmd);
        return KS_EXIT_BAD_INPUT;
    }
    return 0;
}

int cmd_evaluate(int argc, char **argv)
{
    const char *path;
    data_opts o;
    predictor p = {0};
    ks_dataset *ds = NULL;
    ks_error err;
    ks_logs logs;
    ks_data d;
    ks_status s;
    int r = parse_args(argc, argv, "evaluate", &path, &o, NULL);
    if (r)
        return r < 0 ? KS_EXIT_OK : r;
    o.need_targets = 1;
    ks_error_clear(&err);
    if ((s = predictor_load(path, &p, &err)) != KS_OK ||
        (s = load_data(&o, p.model, &ds, &err)) != KS_OK)
        goto fail;
    d = ks_dataset_data(ds);
    if (!ks_model_is_compiled(p.model)) {
        s = ks_error_set_at(&err, KS_ERR_CONFIG, path, 0, 0,
                            "the model file holds no loss (weights only?); cannot evaluate");
        goto fail;
    }
    s = p.ensemble ? ks_ensemble_evaluate(p.ensemble, &d, o.batch_size, &logs, &err)
                   : ks_model_evaluate(p.model, &d, o.batch_size, 1, NULL, 0, &logs, &err);
    if (s != KS_OK) {
        target_hint(&o, p.model, s, &err);
        goto fail;
    }
    for (int i = 0; i < logs.n; i++)
        printf("%s%s: %.4f", i ? " - " : "", logs.name[i], logs.value[i]);
    printf("\n");
    ks_dataset_free(ds);
    predictor_free(&p);
    return KS_EXIT_OK;
fail:
    cli_error(&err);
    ks_dataset_free(ds);
    predictor_free(&p);
    return cli_exit_for(s) == KS_EXIT_OK ? KS_EXIT_FAILED : cli_exit_for(s);
}

/*
 * How one output is written: its kind, width, and column names — a classifier's class
 * (the index of the most probable, which is the class label of the training targets) and
 * each class's probability (a binary classifier's both), or the values; named after the
 * target column the model was trained with when it had one (PREFIX = "NAME_" for a model
 * of several outputs), else class, p0, p1 … and y0, y1 ….
 */
typedef struct out_format {
    ks_output_kind kind;
    size_t k;                   /* floats per row */
    char prefix[80];            /* "NAME_" or "" */
    char target[80];            /* the target column's name, or "" */
} out_format;

/* The one target column of output j (by its name, or "" for a single output), or "". */
static void target_column(const ks_model *m, int j, char *out, size_t size)
{
    const ks_value *t = ks_value_get(ks_model_meta((ks_model *)m), KS_META_CSV_TARGETS), *ref;
    out[0] = '\0';
    if (!t || t->kind != KS_VALUE_MAP)
        return;
    ref = ks_value_get(t, ks_model_n_outputs(m) > 1 ? ks_model_output_name(m, j) : "");
    if (!ref && t->n == 1)
        ref = &t->items[0];
    if (ref && ref->kind == KS_VALUE_MAP)
        ref = ks_value_get(ref, "from");
    if (ref && ref->kind == KS_VALUE_LIST && ref->n == 1)
        ref = &ref->items[0];
    if (ref && ref->kind == KS_VALUE_STRING)
        snprintf(out, size, "%s", ref->string);
}

static void write_header(FILE *f, const out_format *o, int first)
{
    const char *p = o->prefix, *t = o->target;
    if (!first)
        fputc(',', f);
    if (o->kind == KS_OUTPUT_VALUES || (o->kind == KS_OUTPUT_BINARY && o->k > 1)) {
        /* values, or independent probabilities (multi-label): one column each */
        for (size_t j = 0; j < o->k; j++)
            if (t[0] && o->k == 1)
                fprintf(f, "%s%s", p, t);
            else
                fprintf(f, "%s%s%s%zu", j ? "," : "", p, t[0] ? t : "y", j);
        return;
    }
    fprintf(f, "%s%s", p, t[0] ? t : "class");
    for (size_t j = 0; j < (o->kind == KS_OUTPUT_BINARY ? 2 : o->k); j++)
        if (t[0])
            fprintf(f, ",%s%s_prob_%zu", p, t, j);
        else
            fprintf(f, ",%sp%zu", p, j);
}

static void write_row(FILE *f, const out_format *o, const float *row, int first)
{
    if (!first)
        fputc(',', f);
    if (o->kind == KS_OUTPUT_VALUES || (o->kind == KS_OUTPUT_BINARY && o->k > 1)) {
        for (size_t j = 0; j < o->k; j++)
            fprintf(f, "%s%.9g", j ? "," : "", (double)row[j]);
    } else if (o->kind == KS_OUTPUT_BINARY) {
        fprintf(f, "%d,%.9g,%.9g", row[0] >= 0.5f, 1.0 - (double)row[0], (double)row[0]);
    } else {
        size_t best = 0;
        for (size_t j = 1; j < o->k; j++)
            if (row[j] > row[best])
                best = j;
        fprintf(f, "%zu", best);
        for (size_t j = 0; j < o->k; j++)
            fprintf(f, ",%.9g", (double)row[j]);
    }
}

/* The outputs y[0..n_out) (n × their k each) as CSV rows. */
static void write_predictions(FILE *f, float *const *y, const out_format *fmt, int n_out,
                              size_t n)
{
    for (int o = 0; o < n_out; o++)
        write_header(f, &fmt[o], o == 0);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        for (int o = 0; o < n_out; o++)
            write_row(f, &fmt[o], y[o] + i * fmt[o].k, o == 0);
        fputc('\n', f);
    }
}

int cmd_predict(int argc, char **argv)
{
    const char *path, *out = NULL;
    data_opts o;
    predictor p = {0};
    ks_dataset *ds = NULL;
    ks_error err;
    ks_data d;
    ks_status s;
    float *y[KS_MAX_IO] = {NULL}, *by_output[KS_MAX_IO] = {NULL};
    out_format fmt[KS_MAX_IO];
    int n_out = 0, r = parse_args(argc, argv, "predict", &path, &o, &out);
    if (r)
        return r < 0 ? KS_EXIT_OK : r;
    ks_error_clear(&err);
    if ((s = predictor_load(path, &p, &err)) != KS_OK ||
        (s = load_data(&o, p.model, &ds, &err)) != KS_OK)
        goto fail;
    d = ks_dataset_data(ds);
    /* the outputs written: an ensemble's one, the one asked for, or every one */
    for (int j = 0; j < ks_model_n_outputs(p.model); j++) {
        int single = p.ensemble ? j == ks_ensemble_member_output(p.ensemble, 0)
                                : !o.output || strcmp(o.output, ks_model_output_name(p.model, j)) == 0;
        if (!single)
            continue;
        fmt[n_out].k = ks_shape_size(ks_model_output_shape_at(p.model, j));
        fmt[n_out].kind = ks_model_output_kind(p.model, j);
        target_column(p.model, j, fmt[n_out].target, sizeof fmt[n_out].target);
        if (ks_model_n_outputs(p.model) > 1 && !o.output && !p.ensemble)
            snprintf(fmt[n_out].prefix, sizeof fmt[n_out].prefix, "%.70s_",
                     ks_model_output_name(p.model, j));
        else
            fmt[n_out].prefix[0] = '\0';
        if (!(y[n_out] = malloc(d.n * fmt[n_out].k * sizeof(float) + 1))) {
            s = ks_error_set(&err, KS_ERR_NOMEM, "out of memory");
            goto fail;
        }
        by_output[j] = y[n_out++];
    }
    if (n_out == 0) {
        s = ks_error_set(&err, KS_ERR_USAGE, "--output %s: the model has no such output; its "
                                             "first is %s",
                         o.output, ks_model_output_name(p.model, 0));
        goto fail;
    }
    s = p.ensemble ? ks_ensemble_predict(p.ensemble, &d, o.batch_size, y[0], &err)
                   : ks_model_predict_outputs(p.model, &d, o.batch_size, by_output, &err);
    if (s != KS_OK) {
        target_hint(&o, p.model, s, &err);
        goto fail;
    }
    {
        FILE *f = out ? fopen(out, "w") : stdout;
        if (!f) {
            s = ks_error_set_at(&err, KS_ERR_IO, out, 0, 0, "cannot write the predictions");
            goto fail;
        }
        write_predictions(f, y, fmt, n_out, d.n);
        if (out && fclose(f) != 0) {
            s = ks_error_set_at(&err, KS_ERR_IO, out, 0, 0, "cannot write the predictions");
            goto fail;
        }
        if (out)
            printf("wrote %zu predictions to %s\n", d.n, out);
    }
    for (int j = 0; j < n_out; j++)
        free(y[j]);
    ks_dataset_free(ds);
    predictor_free(&p);
    return KS_EXIT_OK;
fail:
    cli_error(&err);
    for (int j = 0; j < n_out; j++)
        free(y[j]);
    ks_dataset_free(ds);
    predictor_free(&p);
    return cli_exit_for(s) == KS_EXIT_OK ? KS_EXIT_FAILED : cli_exit_for(s);
}
