/*
 * tb_summary.c — what a TensorBoard run holds besides hparams: scalars (the modern
 * rank-0 float tensor), histograms ([k,3] doubles), Markdown text and the layer graph,
 * each tag with its plugin's metadata on its first value in the file, and the table
 * that keeps one plugin per tag.  Field numbers are those of tfevents-spec.md §4.
 */
#include "tb_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Event, Summary, Summary.Value, SummaryMetadata, PluginData, TensorProto fields */
enum { EV_WALL_TIME = 1, EV_STEP = 2, EV_FILE_VERSION = 3, EV_GRAPH_DEF = 4, EV_SUMMARY = 5 };
enum { SUM_VALUE = 1 };
enum { VAL_TAG = 1, VAL_SIMPLE_VALUE = 2, VAL_TENSOR = 8, VAL_METADATA = 9 };
enum { META_PLUGIN_DATA = 1 };
enum { PLUGIN_NAME = 1, PLUGIN_CONTENT = 2 };
enum { TENSOR_DTYPE = 1, TENSOR_SHAPE = 2, TENSOR_CONTENT = 4, TENSOR_FLOAT_VAL = 5,
       TENSOR_STRING_VAL = 8 };
enum { SHAPE_DIM = 2, DIM_SIZE = 1 };
enum { DT_FLOAT = 1, DT_DOUBLE = 2, DT_STRING = 7 };
/* GraphDef, NodeDef, AttrValue, AttrValue.ListValue */
enum { GRAPH_NODE = 1 };
enum { NODE_NAME = 1, NODE_OP = 2, NODE_INPUT = 3, NODE_ATTR = 5 };
enum { ENTRY_KEY = 1, ENTRY_VALUE = 2 };
enum { ATTR_LIST = 1, LIST_SHAPE = 7 };

const char *ks_tb_plugin_name(ks_tb_plugin p)
{
    switch (p) {
    case KS_TB_PLUGIN_SCALARS: return "scalars";
    case KS_TB_PLUGIN_HISTOGRAMS: return "histograms";
    case KS_TB_PLUGIN_TEXT: return "text";
    case KS_TB_PLUGIN_HPARAMS: return "hparams";
    }
    return "?";
}

/* ------------------------------------------------------------------ tags */

static size_t tag_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;       /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return (size_t)h;
}

static ks_tb_tag *tag_slot(ks_tb_tag *tags, size_t cap, const char *tag)
{
    size_t i = tag_hash(tag) & (cap - 1);
    while (tags[i].name && strcmp(tags[i].name, tag) != 0)
        i = (i + 1) & (cap - 1);
    return &tags[i];
}

static int tags_grow(ks_tb_run *run)
{
    size_t cap = run->cap_tags ? 2 * run->cap_tags : 16;
    ks_tb_tag *t = calloc(cap, sizeof *t);
    if (!t)
        return 0;
    for (size_t i = 0; i < run->cap_tags; i++)
        if (run->tags[i].name)
            *tag_slot(t, cap, run->tags[i].name) = run->tags[i];
    free(run->tags);
    run->tags = t;
    run->cap_tags = cap;
    return 1;
}

ks_status ks_tb_tag_claim(ks_tb_run *run, const char *tag, ks_tb_plugin plugin, int *first,
                          ks_error *err)
{
    ks_tb_tag *slot;
    *first = 0;
    if (!tag || !tag[0])
        return ks_error_set(err, KS_ERR_CONFIG, "a TensorBoard tag must not be empty");
    if (!ks_pb_utf8_valid(tag, strlen(tag)))
        return ks_error_set(err, KS_ERR_CONFIG, "TensorBoard tag \"%.80s\" is not valid utf-8",
                            tag);
    if (run->cap_tags) {
        slot = tag_slot(run->tags, run->cap_tags, tag);
        if (slot->name) {
            if (slot->plugin == plugin)
                return KS_OK;
            return ks_error_set(err, KS_ERR_CONFIG,
                                "TensorBoard tag \"%.80s\" already holds %s in %s; a tag "
                                "keeps one kind of data per run (use another tag, e.g. "
                                "\"%.80s/%s\")",
                                tag, ks_tb_plugin_name(slot->plugin), run->path, tag,
                                ks_tb_plugin_name(plugin));
        }
    }
    if (2 * (run->n_tags + 1) > run->cap_tags && !tags_grow(run))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    slot = tag_slot(run->tags, run->cap_tags, tag);
    if (!(slot->name = strdup(tag)))
        return ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    slot->plugin = plugin;
    run->n_tags++;
    *first = 1;
    return KS_OK;
}

/* ------------------------------------------------------------- encoders */

void ks_tb_event_begin(ks_pb_buf *b, double wall_time, int64_t step, ks_tb_event_mark *m)
{
    ks_pb_double(b, EV_WALL_TIME, wall_time);
    if (step != 0)
        ks_pb_int(b, EV_STEP, step);
    m->summary = ks_pb_begin(b, EV_SUMMARY);
    m->value = ks_pb_begin(b, SUM_VALUE);
}

void ks_tb_event_end(ks_pb_buf *b, const ks_tb_event_mark *m)
{
    ks_pb_end(b, m->value);
    ks_pb_end(b, m->summary);
}

void ks_tb_value_metadata(ks_pb_buf *b, const char *plugin, const void *content, size_t n)
{
    size_t meta = ks_pb_begin(b, VAL_METADATA);
    size_t data = ks_pb_begin(b, META_PLUGIN_DATA);
    ks_pb_string(b, PLUGIN_NAME, plugin);
    if (n)
        ks_pb_bytes(b, PLUGIN_CONTENT, content, n);
    ks_pb_end(b, data);
    ks_pb_end(b, meta);
    /* data_class (field 4) stays unset: TensorBoard derives it (pitfall 5) */
}

void ks_tb_encode_file_version(ks_pb_buf *b, double wall_time)
{
    ks_pb_double(b, EV_WALL_TIME, wall_time);
    ks_pb_string(b, EV_FILE_VERSION, "brain.Event:2");
}

void ks_tb_encode_scalar(ks_pb_buf *b, const char *tag, int64_t step, double wall_time,
                         double value, int metadata, int legacy)
{
    ks_tb_event_mark m;
    ks_tb_event_begin(b, wall_time, step, &m);
    ks_pb_string(b, VAL_TAG, tag);
    if (legacy) {
        ks_pb_float(b, VAL_SIMPLE_VALUE, (float)value);     /* oneof: written even if 0 */
    } else {
        /* rank 0 (an empty shape, present), exactly one value (pitfall 7) */
        float v = (float)value;
        size_t t = ks_pb_begin(b, VAL_TENSOR);
        ks_pb_uint(b, TENSOR_DTYPE, DT_FLOAT);
        ks_pb_end(b, ks_pb_begin(b, TENSOR_SHAPE));
        ks_pb_packed_float(b, TENSOR_FLOAT_VAL, &v, 1);
        ks_pb_end(b, t);
    }
    if (metadata)
        ks_tb_value_metadata(b, "scalars", NULL, 0);
    ks_tb_event_end(b, &m);
}

/* ------------------------------------------------------------ the API */

static ks_status check_run(const ks_tb_run *run, ks_error *err)
{
    if (!run)
        return ks_error_set(err, KS_ERR_INTERNAL, "no TensorBoard run (NULL handle)");
    return KS_OK;
}

ks_status ks_tb_scalar(ks_tb_run *run, const char *tag, int64_t step, double wall_time,
                       double value, ks_error *err)
{
    int first;
    ks_status s;
    if ((s = check_run(run, err)) != KS_OK ||
        (s = ks_tb_tag_claim(run, tag, KS_TB_PLUGIN_SCALARS, &first, err)) != KS_OK)
        return s;
    ks_tfrecord_begin(&run->rec);
    ks_tb_encode_scalar(&run->rec, tag, step, ks_tb_wall_time(wall_time), value, first, 0);
    return ks_tb_run_write(run, err);
}

ks_status ks_tb_histogram(ks_tb_run *run, const char *tag, int64_t step, double wall_time,
                          const double *buckets, ks_error *err)
{
    static const int64_t dims[2] = {KS_HISTOGRAM_BUCKETS, 3};
    ks_tb_event_mark m;
    int first;
    ks_status s;
    size_t t, shape;
    if ((s = check_run(run, err)) != KS_OK)
        return s;
    if (!buckets)
        return ks_error_set(err, KS_ERR_INTERNAL, "histogram %s: no buckets (NULL)",
                            tag ? tag : "");
    for (int i = 0; i < KS_HISTOGRAM_BUCKETS; i++) {
        const double *r = buckets + 3 * i;
        if (!isfinite(r[0]) || !isfinite(r[1]) || !isfinite(r[2]) || r[0] > r[1] || r[2] < 0)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "histogram %s: bucket %d is (%g, %g, %g), expected finite "
                                "edges left <= right and a count >= 0",
                                tag ? tag : "", i, r[0], r[1], r[2]);
    }
    if ((s = ks_tb_tag_claim(run, tag, KS_TB_PLUGIN_HISTOGRAMS, &first, err)) != KS_OK)
        return s;
    ks_tfrecord_begin(&run->rec);
    ks_tb_event_begin(&run->rec, ks_tb_wall_time(wall_time), step, &m);
    ks_pb_string(&run->rec, VAL_TAG, tag);
    t = ks_pb_begin(&run->rec, VAL_TENSOR);
    ks_pb_uint(&run->rec, TENSOR_DTYPE, DT_DOUBLE);
    shape = ks_pb_begin(&run->rec, TENSOR_SHAPE);
    for (int i = 0; i < 2; i++) {
        size_t d = ks_pb_begin(&run->rec, SHAPE_DIM);
        ks_pb_int(&run->rec, DIM_SIZE, dims[i]);
        ks_pb_end(&run->rec, d);
    }
    ks_pb_end(&run->rec, shape);
    /* tensor_content: the rows' little-endian doubles, as a packed double list is */
    ks_pb_packed_double(&run->rec, TENSOR_CONTENT, buckets, 3 * KS_HISTOGRAM_BUCKETS);
    ks_pb_end(&run->rec, t);
    if (first)
        ks_tb_value_metadata(&run->rec, "histograms", NULL, 0);
    ks_tb_event_end(&run->rec, &m);
    return ks_tb_run_write(run, err);
}

ks_status ks_tb_text(ks_tb_run *run, const char *tag, int64_t step, double wall_time,
                     const char *markdown, ks_error *err)
{
    ks_tb_event_mark m;
    int first;
    ks_status s;
    size_t t, n;
    if ((s = check_run(run, err)) != KS_OK)
        return s;
    if (!markdown)
        return ks_error_set(err, KS_ERR_INTERNAL, "text %s: no text (NULL)", tag ? tag : "");
    n = strlen(markdown);
    if (!ks_pb_utf8_valid(markdown, n))
        return ks_error_set(err, KS_ERR_CONFIG,
                            "text %s: the text is not valid utf-8, which TensorBoard needs",
                            tag ? tag : "");
    if ((s = ks_tb_tag_claim(run, tag, KS_TB_PLUGIN_TEXT, &first, err)) != KS_OK)
        return s;
    ks_tfrecord_begin(&run->rec);
    ks_tb_event_begin(&run->rec, ks_tb_wall_time(wall_time), step, &m);
    ks_pb_string(&run->rec, VAL_TAG, tag);
    t = ks_pb_begin(&run->rec, VAL_TENSOR);
    ks_pb_uint(&run->rec, TENSOR_DTYPE, DT_STRING);
    ks_pb_end(&run->rec, ks_pb_begin(&run->rec, TENSOR_SHAPE));
    /* one element, written even when empty: a rank-0 tensor needs its value */
    ks_pb_bytes(&run->rec, TENSOR_STRING_VAL, markdown, n);
    ks_pb_end(&run->rec, t);
    if (first)
        ks_tb_value_metadata(&run->rec, "text", NULL, 0);
    ks_tb_event_end(&run->rec, &m);
    return ks_tb_run_write(run, err);
}

/* ---------------------------------------------------------------- graph */

/* Length of an input's node name: "^name" (control edge) and "name:k" (output k). */
static const char *input_node(const char *in, size_t *len)
{
    const char *colon;
    if (in[0] == '^')
        in++;
    colon = strrchr(in, ':');
    *len = colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)
               ? (size_t)(colon - in)
               : strlen(in);
    return in;
}

static int find_node(const ks_tb_node *nodes, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(nodes[i].name) == len && memcmp(nodes[i].name, name, len) == 0)
            return i;
    return -1;
}

static ks_status check_graph(const ks_tb_node *nodes, int n, ks_error *err)
{
    if (!nodes || n < 1)
        return ks_error_set(err, KS_ERR_CONFIG, "a graph needs at least one node, got %d", n);
    for (int i = 0; i < n; i++) {
        const ks_tb_node *d = &nodes[i];
        if (!d->name || !d->name[0] || !d->op || !d->op[0])
            return ks_error_set(err, KS_ERR_CONFIG, "graph node %d needs a name and an op", i);
        if (!ks_pb_utf8_valid(d->name, strlen(d->name)) ||
            !ks_pb_utf8_valid(d->op, strlen(d->op)))
            return ks_error_set(err, KS_ERR_CONFIG, "graph node %d: name or op is not utf-8",
                                i);
        if (find_node(nodes, i, d->name, strlen(d->name)) >= 0)
            return ks_error_set(err, KS_ERR_CONFIG,
                                "graph node \"%.80s\" appears twice; node names are unique",
                                d->name);
        if (d->shape.ndim < 0 || d->shape.ndim > KS_MAX_DIMS)
            return ks_error_set(err, KS_ERR_CONFIG, "graph node \"%.80s\": rank %d, expected "
                                "0 to %d", d->name, d->shape.ndim, KS_MAX_DIMS);
        if (d->n_inputs < 0 || (d->n_inputs > 0 && !d->inputs))
            return ks_error_set(err, KS_ERR_CONFIG, "graph node \"%.80s\": bad input list",
                                d->name);
        for (int j = 0; j < d->n_inputs; j++) {
            size_t len;
            const char *in = d->inputs[j] ? input_node(d->inputs[j], &len) : NULL;
            if (!in || find_node(nodes, n, in, len) < 0)
                return ks_error_set(err, KS_ERR_CONFIG,
                                    "graph node \"%.80s\": input %d (\"%.80s\") is not a node "
                                    "of the graph",
                                    d->name, j, d->inputs[j] ? d->inputs[j] : "(null)");
        }
    }
    return KS_OK;
}

/* GraphDef{node: name, op, input…, attr{"_output_shapes": list{shape{(-1, d1 …)}}}} */
static void encode_graph(ks_pb_buf *b, const ks_tb_node *nodes, int n)
{
    for (int i = 0; i < n; i++) {
        const ks_tb_node *d = &nodes[i];
        size_t node = ks_pb_begin(b, GRAPH_NODE), entry, value, list, shape, dim;
        ks_pb_string(b, NODE_NAME, d->name);
        ks_pb_string(b, NODE_OP, d->op);
        for (int j = 0; j < d->n_inputs; j++)
            ks_pb_string(b, NODE_INPUT, d->inputs[j]);
        entry = ks_pb_begin(b, NODE_ATTR);
        ks_pb_string(b, ENTRY_KEY, "_output_shapes");
        value = ks_pb_begin(b, ENTRY_VALUE);
        list = ks_pb_begin(b, ATTR_LIST);
        shape = ks_pb_begin(b, LIST_SHAPE);
        for (int k = -1; k < d->shape.ndim; k++) {
            dim = ks_pb_begin(b, SHAPE_DIM);
            ks_pb_int(b, DIM_SIZE, k < 0 ? -1 : d->shape.dim[k]);     /* -1: the batch */
            ks_pb_end(b, dim);
        }
        ks_pb_end(b, shape);
        ks_pb_end(b, list);
        ks_pb_end(b, value);
        ks_pb_end(b, entry);
        ks_pb_end(b, node);
    }
}

ks_status ks_tb_graph(ks_tb_run *run, const ks_tb_node *nodes, int n, double wall_time,
                      ks_error *err)
{
    ks_status s;
    size_t g;
    if ((s = check_run(run, err)) != KS_OK || (s = check_graph(nodes, n, err)) != KS_OK)
        return s;
    ks_tfrecord_begin(&run->rec);
    ks_pb_double(&run->rec, EV_WALL_TIME, ks_tb_wall_time(wall_time));
    /* graph_def is `bytes` holding a GraphDef: the same bytes as a nested message */
    g = ks_pb_begin(&run->rec, EV_GRAPH_DEF);
    encode_graph(&run->rec, nodes, n);
    ks_pb_end(&run->rec, g);
    return ks_tb_run_write(run, err);
}

ks_status ks_tb_model_graph(ks_tb_run *run, const ks_model *m, double wall_time, ks_error *err)
{
    enum { MAX_IN = 8 };
    /* the graph of calls: a shared layer is one node per call, a sub-model's calls a
       name scope ("left/dense"), each edge from the call it reads */
    int n = ks_model_n_nodes(m);
    ks_tb_node *nodes = calloc((size_t)n + 1, sizeof *nodes);
    const char **inputs = calloc((size_t)n * MAX_IN + 1, sizeof *inputs);
    ks_status s;
    if (!nodes || !inputs) {
        s = ks_error_set(err, KS_ERR_NOMEM, "out of memory");
    } else {
        for (int i = 0; i < n; i++) {
            int k = ks_model_node_n_inputs(m, i);
            nodes[i].name = ks_model_node_name(m, i);
            nodes[i].op = ks_model_layer_class(m, ks_model_node_layer(m, i));
            nodes[i].shape = *ks_model_node_output_shape(m, i);
            nodes[i].n_inputs = k > MAX_IN ? MAX_IN : k;
            nodes[i].inputs = inputs + (size_t)i * MAX_IN;
            for (int j = 0; j < nodes[i].n_inputs; j++)
                inputs[(size_t)i * MAX_IN + j] =
                    ks_model_node_name(m, ks_model_node_input(m, i, j));
        }
        s = ks_tb_graph(run, nodes, n, wall_time, err);
    }
    free(nodes);
    free(inputs);
    return s;
}
