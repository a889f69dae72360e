/*
 * tb_hparams.c — the HParams dashboard's three records (tfevents-spec.md §6): the
 * experiment (hyperparameters with their domains, metrics) in the log dir's root run,
 * and per session its start info (values) and end info (status), each a Summary.Value
 * with the null tensor, plugin "hparams" and HParamsPluginData (version 0) as content.
 */
#include "tb_impl.h"

#include <math.h>
#include <string.h>

enum { VAL_TAG = 1, VAL_TENSOR = 8, VAL_METADATA = 9 };
enum { META_PLUGIN_DATA = 1, PLUGIN_NAME = 1, PLUGIN_CONTENT = 2 };
enum { TENSOR_DTYPE = 1, TENSOR_SHAPE = 2, SHAPE_DIM = 2, DIM_SIZE = 1, DT_FLOAT = 1 };
/* HParamsPluginData (version 1 stays 0: never written) */
enum { HP_EXPERIMENT = 2, HP_SESSION_START = 3, HP_SESSION_END = 4 };
enum { EXP_TIME_CREATED = 3, EXP_HPARAM_INFOS = 4, EXP_METRIC_INFOS = 5, EXP_NAME = 6 };
enum { INFO_NAME = 1, INFO_TYPE = 4, INFO_DISCRETE = 5, INFO_INTERVAL = 6, INFO_DIFFERS = 7 };
enum { INTERVAL_MIN = 1, INTERVAL_MAX = 2, LIST_VALUES = 1 };
enum { METRIC_NAME = 1, METRIC_DISPLAY_NAME = 3, METRIC_DATASET = 5 };
enum { MNAME_GROUP = 1, MNAME_TAG = 2 };
enum { START_HPARAMS = 1, START_GROUP = 4, START_TIME = 5, ENTRY_KEY = 1, ENTRY_VALUE = 2 };
enum { END_STATUS = 1, END_TIME = 2 };
/* google.protobuf.Value's oneof kind */
enum { V_NUMBER = 2, V_STRING = 3, V_BOOL = 4 };
/* hparams DataType */
enum { TYPE_STRING = 1, TYPE_BOOL = 2, TYPE_FLOAT64 = 3 };

int ks_tb_session_status(ks_trial_status s)
{
    switch (s) {
    case KS_TRIAL_COMPLETE:
    case KS_TRIAL_PRUNED:
        return KS_TB_STATUS_SUCCESS;
    case KS_TRIAL_FAILED:
        return KS_TB_STATUS_FAILURE;
    case KS_TRIAL_RUNNING:
        return KS_TB_STATUS_RUNNING;
    case KS_TRIAL_QUEUED:
    case KS_TRIAL_INTERRUPTED:
        return KS_TB_STATUS_UNKNOWN;
    case KS_TRIAL_STATUS_COUNT:
        break;
    }
    return -1;
}

static const char *type_name(ks_hp_type t)
{
    return t == KS_HP_FLOAT ? "a number" : t == KS_HP_STRING ? "a string" : "a bool";
}

static int valid_type(ks_hp_type t)
{
    return t == KS_HP_FLOAT || t == KS_HP_STRING || t == KS_HP_BOOL;
}

static ks_status check_name(const char *what, const char *name, ks_error *err)
{
    if (!name || !name[0])
        return ks_error_set(err, KS_ERR_CONFIG, "%s: a name must not be empty", what);
    if (!ks_pb_utf8_valid(name, strlen(name)))
        return ks_error_set(err, KS_ERR_CONFIG, "%s: name \"%.80s\" is not valid utf-8", what,
                            name);
    return KS_OK;
}

static ks_status check_value(const char *name, const ks_hp_value *v, ks_error *err)
{
    if (!valid_type(v->type))
        return ks_error_set(err, KS_ERR_CONFIG, "hparam %.80s: unknown value type %d", name,
                            (int)v->type);
    if (v->type == KS_HP_FLOAT && !isfinite(v->number))
        return ks_error_set(err, KS_ERR_CONFIG, "hparam %.80s: value %g, expected a finite "
                            "number", name, v->number);
    if (v->type == KS_HP_STRING && (!v->string || !ks_pb_utf8_valid(v->string,
                                                                     strlen(v->string))))
        return ks_error_set(err, KS_ERR_CONFIG, "hparam %.80s: expected a utf-8 string value",
                            name);
    return KS_OK;
}

/* google.protobuf.Value: a oneof, so 0, false and "" are all written */
static void encode_value(ks_pb_buf *b, int field, const ks_hp_value *v)
{
    size_t m = ks_pb_begin(b, field);
    if (v->type == KS_HP_FLOAT)
        ks_pb_double(b, V_NUMBER, v->number);
    else if (v->type == KS_HP_STRING)
        ks_pb_string(b, V_STRING, v->string);
    else
        ks_pb_bool(b, V_BOOL, v->boolean);
    ks_pb_end(b, m);
}

/*
 * Start the record of one hparams Summary.Value: tag, the null tensor (always: pitfall
 * 8), metadata with plugin "hparams", and open the content for the caller to fill.
 */
typedef struct hp_marks {
    ks_tb_event_mark ev;
    size_t meta, data, content;
} hp_marks;

static void hp_begin(ks_pb_buf *b, const char *tag, double wall_time, hp_marks *m)
{
    size_t t, shape, dim;
    ks_tfrecord_begin(b);
    ks_tb_event_begin(b, wall_time, 0, &m->ev);
    ks_pb_string(b, VAL_TAG, tag);
    t = ks_pb_begin(b, VAL_TENSOR);
    ks_pb_uint(b, TENSOR_DTYPE, DT_FLOAT);
    shape = ks_pb_begin(b, TENSOR_SHAPE);
    dim = ks_pb_begin(b, SHAPE_DIM);
    ks_pb_int(b, DIM_SIZE, 0);
    ks_pb_end(b, dim);
    ks_pb_end(b, shape);
    ks_pb_end(b, t);
    m->meta = ks_pb_begin(b, VAL_METADATA);
    m->data = ks_pb_begin(b, META_PLUGIN_DATA);
    ks_pb_string(b, PLUGIN_NAME, "hparams");
    m->content = ks_pb_begin(b, PLUGIN_CONTENT);   /* bytes holding HParamsPluginData */
}

static void hp_end(ks_pb_buf *b, const hp_marks *m)
{
    ks_pb_end(b, m->content);
    ks_pb_end(b, m->data);
    ks_pb_end(b, m->meta);
    ks_tb_event_end(b, &m->ev);
}

/* ------------------------------------------------------------ experiment */

static ks_status check_info(const ks_hp_info *h, const ks_hp_info *all, int i, ks_error *err)
{
    ks_status s;
    if ((s = check_name("hparams experiment", h->name, err)) != KS_OK)
        return s;
    for (int j = 0; j < i; j++)
        if (strcmp(all[j].name, h->name) == 0)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "hparams experiment: hparam %.80s is declared twice", h->name);
    if (!valid_type(h->type))
        return ks_error_set(err, KS_ERR_CONFIG, "hparam %.80s: unknown type %d", h->name,
                            (int)h->type);
    if (h->discrete) {
        if (h->n_values < 0 || (h->n_values > 0 && !h->values))
            return ks_error_set(err, KS_ERR_CONFIG, "hparam %.80s: bad list of values",
                                h->name);
        for (int k = 0; k < h->n_values; k++) {
            if (h->values[k].type != h->type)
                return ks_error_set(err, KS_ERR_CONFIG,
                                    "hparam %.80s: value %d of its domain is %s, expected %s",
                                    h->name, k, type_name(h->values[k].type),
                                    type_name(h->type));
            if ((s = check_value(h->name, &h->values[k], err)) != KS_OK)
                return s;
        }
    } else if (h->type != KS_HP_FLOAT) {
        return ks_error_set(err, KS_ERR_CONFIG,
                            "hparam %.80s: an interval domain needs a number type, got %s",
                            h->name, type_name(h->type));
    } else if (isfinite(h->min) && isfinite(h->max) && h->min > h->max) {
        return ks_error_set(err, KS_ERR_CONFIG,
                            "hparam %.80s: interval [%g, %g], expected min <= max", h->name,
                            h->min, h->max);
    }
    return KS_OK;
}

static void encode_info(ks_pb_buf *b, const ks_hp_info *h)
{
    size_t m = ks_pb_begin(b, EXP_HPARAM_INFOS), d;
    int differs = 0;
    ks_pb_string(b, INFO_NAME, h->name);
    ks_pb_uint(b, INFO_TYPE, h->type == KS_HP_FLOAT    ? TYPE_FLOAT64
                             : h->type == KS_HP_STRING ? TYPE_STRING
                                                       : TYPE_BOOL);
    if (h->discrete && h->n_values > 0) {
        d = ks_pb_begin(b, INFO_DISCRETE);
        for (int k = 0; k < h->n_values; k++)
            encode_value(b, LIST_VALUES, &h->values[k]);
        ks_pb_end(b, d);
        differs = h->n_values > 1;
    } else if (!h->discrete && isfinite(h->min) && isfinite(h->max)) {
        /* an interval known only on one side (no values yet) is left out */
        d = ks_pb_begin(b, INFO_INTERVAL);
        ks_pb_double(b, INTERVAL_MIN, h->min);
        ks_pb_double(b, INTERVAL_MAX, h->max);
        ks_pb_end(b, d);
        differs = h->min < h->max;
    }
    if (differs)
        ks_pb_bool(b, INFO_DIFFERS, 1);
    ks_pb_end(b, m);
}

static ks_status check_metric(const ks_hp_metric *mt, const ks_hp_metric *all, int i,
                              ks_error *err)
{
    const char *group = mt->group ? mt->group : "";
    ks_status s;
    if ((s = check_name("hparams metric", mt->tag, err)) != KS_OK)
        return s;
    if (!ks_pb_utf8_valid(group, strlen(group)) ||
        (mt->display_name && !ks_pb_utf8_valid(mt->display_name, strlen(mt->display_name))))
        return ks_error_set(err, KS_ERR_CONFIG, "hparams metric %.80s: group or display name "
                            "is not valid utf-8", mt->tag);
    if (mt->dataset < 0 || mt->dataset > 2)
        return ks_error_set(err, KS_ERR_CONFIG, "hparams metric %.80s: dataset %d, expected 0 "
                            "(unknown), 1 (training) or 2 (validation)", mt->tag, mt->dataset);
    for (int j = 0; j < i; j++)
        if (strcmp(all[j].tag, mt->tag) == 0 &&
            strcmp(all[j].group ? all[j].group : "", group) == 0)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "hparams metric %.80s/%.80s is declared twice", group, mt->tag);
    return KS_OK;
}

static void encode_metric(ks_pb_buf *b, const ks_hp_metric *mt)
{
    size_t m = ks_pb_begin(b, EXP_METRIC_INFOS), n = ks_pb_begin(b, METRIC_NAME);
    if (mt->group && mt->group[0])
        ks_pb_string(b, MNAME_GROUP, mt->group);
    ks_pb_string(b, MNAME_TAG, mt->tag);
    ks_pb_end(b, n);
    if (mt->display_name && mt->display_name[0])
        ks_pb_string(b, METRIC_DISPLAY_NAME, mt->display_name);
    if (mt->dataset)
        ks_pb_uint(b, METRIC_DATASET, (uint64_t)mt->dataset);
    ks_pb_end(b, m);
}

ks_status ks_tb_hparams_experiment(ks_tb_run *root, const char *name, double time_created,
                                   const ks_hp_info *hparams, int n_hparams,
                                   const ks_hp_metric *metrics, int n_metrics, ks_error *err)
{
    hp_marks m;
    size_t e;
    int first;
    ks_status s;
    double t = ks_tb_wall_time(time_created);
    if (!root)
        return ks_error_set(err, KS_ERR_INTERNAL, "no TensorBoard run (NULL handle)");
    if (n_hparams < 0 || n_metrics < 0 || (n_hparams && !hparams) || (n_metrics && !metrics))
        return ks_error_set(err, KS_ERR_CONFIG, "hparams experiment: bad hparam or metric list");
    if (name && !ks_pb_utf8_valid(name, strlen(name)))
        return ks_error_set(err, KS_ERR_CONFIG, "hparams experiment: name is not valid utf-8");
    for (int i = 0; i < n_hparams; i++)
        if ((s = check_info(&hparams[i], hparams, i, err)) != KS_OK)
            return s;
    for (int i = 0; i < n_metrics; i++)
        if ((s = check_metric(&metrics[i], metrics, i, err)) != KS_OK)
            return s;
    /* the experiment goes in the log dir's root run, sessions in runs of their own */
    if (root->has_session)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "%s holds a session start info: the hparams experiment goes in "
                            "the root run, each session in a run directory of its own",
                            root->path);
    if ((s = ks_tb_tag_claim(root, "_hparams_/experiment", KS_TB_PLUGIN_HPARAMS, &first,
                             err)) != KS_OK)
        return s;
    hp_begin(&root->rec, "_hparams_/experiment", t, &m);
    e = ks_pb_begin(&root->rec, HP_EXPERIMENT);
    ks_pb_double(&root->rec, EXP_TIME_CREATED, t);
    for (int i = 0; i < n_hparams; i++)
        encode_info(&root->rec, &hparams[i]);
    for (int i = 0; i < n_metrics; i++)
        encode_metric(&root->rec, &metrics[i]);
    if (name && name[0])
        ks_pb_string(&root->rec, EXP_NAME, name);
    ks_pb_end(&root->rec, e);
    hp_end(&root->rec, &m);
    if ((s = ks_tb_run_write(root, err)) == KS_OK)
        root->has_experiment = 1;
    return s;
}

/* -------------------------------------------------------------- sessions */

ks_status ks_tb_hparams_session_start(ks_tb_run *run, const char *const *names,
                                      const ks_hp_value *values, int n, const char *group,
                                      double start_time, ks_error *err)
{
    hp_marks m;
    size_t si;
    int first;
    ks_status s;
    double t = ks_tb_wall_time(start_time);
    if (!run)
        return ks_error_set(err, KS_ERR_INTERNAL, "no TensorBoard run (NULL handle)");
    if (n < 0 || (n > 0 && (!names || !values)))
        return ks_error_set(err, KS_ERR_CONFIG, "hparams session: bad list of values");
    for (int i = 0; i < n; i++) {
        if ((s = check_name("hparams session", names[i], err)) != KS_OK ||
            (s = check_value(names[i], &values[i], err)) != KS_OK)
            return s;
        for (int j = 0; j < i; j++)
            if (strcmp(names[j], names[i]) == 0)
                return ks_error_set(err, KS_ERR_CONFIG,
                                    "hparams session: hparam %.80s is given twice", names[i]);
    }
    if (group && !ks_pb_utf8_valid(group, strlen(group)))
        return ks_error_set(err, KS_ERR_CONFIG, "hparams session: group is not valid utf-8");
    /* pitfall 10: a session in the root run (beside the experiment) gets no metrics */
    if (run->has_experiment)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "%s holds the hparams experiment, so it is the log dir's root run; "
                            "write a session's start info into the session's own run "
                            "directory (e.g. LOGDIR/trial-0001), whose train/ and validation/ "
                            "hold its metrics",
                            run->path);
    if ((s = ks_tb_tag_claim(run, "_hparams_/session_start_info", KS_TB_PLUGIN_HPARAMS, &first,
                             err)) != KS_OK)
        return s;
    hp_begin(&run->rec, "_hparams_/session_start_info", t, &m);
    si = ks_pb_begin(&run->rec, HP_SESSION_START);
    for (int i = 0; i < n; i++) {
        size_t entry = ks_pb_begin(&run->rec, START_HPARAMS);   /* map<string, Value> */
        ks_pb_string(&run->rec, ENTRY_KEY, names[i]);
        encode_value(&run->rec, ENTRY_VALUE, &values[i]);
        ks_pb_end(&run->rec, entry);
    }
    if (group && group[0])
        ks_pb_string(&run->rec, START_GROUP, group);
    ks_pb_double(&run->rec, START_TIME, t);
    ks_pb_end(&run->rec, si);
    hp_end(&run->rec, &m);
    if ((s = ks_tb_run_write(run, err)) == KS_OK)
        run->has_session = 1;
    return s;
}

ks_status ks_tb_hparams_session_end(ks_tb_run *run, ks_trial_status status, double end_time,
                                    ks_error *err)
{
    hp_marks m;
    size_t se;
    int first, code = ks_tb_session_status(status);
    ks_status s;
    double t = ks_tb_wall_time(end_time);
    if (!run)
        return ks_error_set(err, KS_ERR_INTERNAL, "no TensorBoard run (NULL handle)");
    if (code < 0)
        return ks_error_set(err, KS_ERR_CONFIG, "hparams session end: unknown trial status %d",
                            (int)status);
    if (run->has_experiment)
        return ks_error_set(err, KS_ERR_CONFIG,
                            "%s holds the hparams experiment; a session ends in its own run "
                            "directory, where it started",
                            run->path);
    if ((s = ks_tb_tag_claim(run, "_hparams_/session_end_info", KS_TB_PLUGIN_HPARAMS, &first,
                             err)) != KS_OK)
        return s;
    hp_begin(&run->rec, "_hparams_/session_end_info", t, &m);
    se = ks_pb_begin(&run->rec, HP_SESSION_END);
    ks_pb_uint(&run->rec, END_STATUS, (uint64_t)code);     /* even UNKNOWN (0): explicit */
    ks_pb_double(&run->rec, END_TIME, t);
    ks_pb_end(&run->rec, se);
    hp_end(&run->rec, &m);
    return ks_tb_run_write(run, err);
}

ks_status ks_tb_hparams_session_end_at(const char *run_dir, ks_trial_status status,
                                       double end_time, ks_error *err)
{
    ks_tb_run *run = NULL;
    ks_status s = ks_tb_run_open(run_dir, &run, err);
    if (s == KS_OK)
        s = ks_tb_hparams_session_end(run, status, end_time, err);
    return ks_tb_runs_close(&run, 1, s, err);
}
