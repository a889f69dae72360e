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
    } else if (ends_with(o->data, ".csv")) {
        if (put_string(&spec, "csv", o->data) != KS_OK)
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

/* One output's columns: class, p0… for probabilities (several columns), else y0…; names
   prefixed "NAME_" for a model of several outputs. */
static void write_header(FILE *f, const char *prefix, size_t k, int first)
{
    if (!first)
        fputc(',', f);
    if (k > 1) {
        fprintf(f, "%sclass", prefix);
        for (size_t j = 0; j < k; j++)
            fprintf(f, ",%sp%zu", prefix, j);
    } else {
        fprintf(f, "%sy0", prefix);
    }
}

static void write_row(FILE *f, const float *row, size_t k, int first)
{
    if (!first)
        fputc(',', f);
    if (k > 1) {
        size_t best = 0;
        for (size_t j = 1; j < k; j++)
            if (row[j] > row[best])
                best = j;
        fprintf(f, "%zu", best);
    }
    for (size_t j = 0; j < k; j++)
        fprintf(f, "%s%.9g", k > 1 || j ? "," : "", (double)row[j]);
}

/* The outputs y[0..n_out) (n × k[o] each) as CSV rows. */
static void write_predictions(FILE *f, float *const *y, const size_t *k, char names[][80],
                              int n_out, size_t n)
{
    for (int o = 0; o < n_out; o++)
        write_header(f, names[o], k[o], o == 0);
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        for (int o = 0; o < n_out; o++)
            write_row(f, y[o] + i * k[o], k[o], o == 0);
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
    size_t k[KS_MAX_IO];
    char names[KS_MAX_IO][80];
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
        k[n_out] = ks_shape_size(ks_model_output_shape_at(p.model, j));
        if (ks_model_n_outputs(p.model) > 1 && !o.output && !p.ensemble)
            snprintf(names[n_out], sizeof names[n_out], "%.70s_", ks_model_output_name(p.model, j));
        else
            names[n_out][0] = '\0';
        if (!(y[n_out] = malloc(d.n * k[n_out] * sizeof(float) + 1))) {
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
        write_predictions(f, y, k, names, n_out, d.n);
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
