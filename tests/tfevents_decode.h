/*
 * tfevents_decode.h — a strict reader of TensorBoard event files for the tests, written
 * from tfevents-spec.md alone and sharing nothing with tracker/: TFRecord framing with
 * both CRCs checked (a bitwise CRC32C of its own), then a schema-driven protobuf decoder
 * that rejects unknown field numbers, wrong wire types, a singular field given twice,
 * two members of one oneof, and strings that are not UTF-8.  Header-only.
 */
#ifndef TFEVENTS_DECODE_H
#define TFEVENTS_DECODE_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- CRC32C */

static inline uint32_t tfd_crc32c(const void *data, size_t n)
{
    const unsigned char *p = data;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82f63b78u & (0u - (c & 1u)));
    }
    return ~c;
}

static inline uint32_t tfd_masked_crc(const void *data, size_t n)
{
    uint32_t c = tfd_crc32c(data, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

static inline uint64_t tfd_le(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* --------------------------------------------------------------- schemas */

enum tfd_kind {
    TFD_VARINT,         /* int32/64, uint, enum, bool: wire 0 */
    TFD_DOUBLE,         /* wire 1 */
    TFD_FLOAT,          /* wire 5 */
    TFD_STRING,         /* wire 2, UTF-8 checked */
    TFD_BYTES,          /* wire 2 */
    TFD_MSG,            /* wire 2, decoded with sub */
    TFD_PACKED_VARINT,  /* repeated: wire 2 packed, or wire 0 one by one */
    TFD_PACKED_FLOAT,   /* repeated: wire 2 packed, or wire 5 */
    TFD_PACKED_DOUBLE   /* repeated: wire 2 packed, or wire 1 */
};

typedef struct tfd_schema tfd_schema;
typedef struct tfd_fdef {
    int num;
    const char *name;
    enum tfd_kind kind;
    int repeated;
    int oneof;                  /* 0: none; fields sharing a number > 0 form a oneof */
    const tfd_schema *sub;
} tfd_fdef;
struct tfd_schema {
    const char *name;
    const tfd_fdef *f;
    int n;
};

#define TFD_N(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define TFD_SCHEMA(var, name, fields) \
    static const tfd_schema var = {name, fields, TFD_N(fields)}

/* tentative definitions: the schemas refer to each other */
static const tfd_schema tfd_Event, tfd_Summary, tfd_Value, tfd_Image, tfd_Audio, tfd_Histo,
    tfd_Meta, tfd_PluginData, tfd_Tensor, tfd_Shape, tfd_Dim, tfd_SessionLog, tfd_Tagged,
    tfd_Source, tfd_GraphDef, tfd_NodeDef, tfd_AttrEntry, tfd_AttrValue, tfd_AttrList,
    tfd_HParamsData, tfd_Experiment, tfd_HParamInfo, tfd_Interval, tfd_MetricInfo,
    tfd_MetricName, tfd_StartInfo, tfd_HpEntry, tfd_EndInfo, tfd_PbValue, tfd_PbList,
    tfd_PbStruct, tfd_PluginVersion;

static const tfd_fdef tfd_Event_f[] = {
    {1, "wall_time", TFD_DOUBLE, 0, 0, NULL},
    {2, "step", TFD_VARINT, 0, 0, NULL},
    {3, "file_version", TFD_STRING, 0, 1, NULL},
    {4, "graph_def", TFD_MSG, 0, 1, &tfd_GraphDef},     /* bytes holding a GraphDef */
    {5, "summary", TFD_MSG, 0, 1, &tfd_Summary},
    {6, "log_message", TFD_BYTES, 0, 1, NULL},
    {7, "session_log", TFD_MSG, 0, 1, &tfd_SessionLog},
    {8, "tagged_run_metadata", TFD_MSG, 0, 1, &tfd_Tagged},
    {9, "meta_graph_def", TFD_BYTES, 0, 1, NULL},
    {10, "source_metadata", TFD_MSG, 0, 0, &tfd_Source},
};
static const tfd_fdef tfd_Summary_f[] = {{1, "value", TFD_MSG, 1, 0, &tfd_Value}};
static const tfd_fdef tfd_Value_f[] = {
    {1, "tag", TFD_STRING, 0, 0, NULL},
    {7, "node_name", TFD_STRING, 0, 0, NULL},
    {9, "metadata", TFD_MSG, 0, 0, &tfd_Meta},
    {2, "simple_value", TFD_FLOAT, 0, 1, NULL},
    {3, "obsolete_old_style_histogram", TFD_BYTES, 0, 1, NULL},
    {4, "image", TFD_MSG, 0, 1, &tfd_Image},
    {5, "histo", TFD_MSG, 0, 1, &tfd_Histo},
    {6, "audio", TFD_MSG, 0, 1, &tfd_Audio},
    {8, "tensor", TFD_MSG, 0, 1, &tfd_Tensor},
};
static const tfd_fdef tfd_Image_f[] = {
    {1, "height", TFD_VARINT, 0, 0, NULL}, {2, "width", TFD_VARINT, 0, 0, NULL},
    {3, "colorspace", TFD_VARINT, 0, 0, NULL},
    {4, "encoded_image_string", TFD_BYTES, 0, 0, NULL},
};
static const tfd_fdef tfd_Audio_f[] = {
    {1, "sample_rate", TFD_FLOAT, 0, 0, NULL}, {2, "num_channels", TFD_VARINT, 0, 0, NULL},
    {3, "length_frames", TFD_VARINT, 0, 0, NULL},
    {4, "encoded_audio_string", TFD_BYTES, 0, 0, NULL},
    {5, "content_type", TFD_STRING, 0, 0, NULL},
};
static const tfd_fdef tfd_Histo_f[] = {
    {1, "min", TFD_DOUBLE, 0, 0, NULL}, {2, "max", TFD_DOUBLE, 0, 0, NULL},
    {3, "num", TFD_DOUBLE, 0, 0, NULL}, {4, "sum", TFD_DOUBLE, 0, 0, NULL},
    {5, "sum_squares", TFD_DOUBLE, 0, 0, NULL},
    {6, "bucket_limit", TFD_PACKED_DOUBLE, 1, 0, NULL},
    {7, "bucket", TFD_PACKED_DOUBLE, 1, 0, NULL},
};
static const tfd_fdef tfd_Meta_f[] = {
    {1, "plugin_data", TFD_MSG, 0, 0, &tfd_PluginData},
    {2, "display_name", TFD_STRING, 0, 0, NULL},
    {3, "summary_description", TFD_STRING, 0, 0, NULL},
    {4, "data_class", TFD_VARINT, 0, 0, NULL},
};
static const tfd_fdef tfd_PluginData_f[] = {
    {1, "plugin_name", TFD_STRING, 0, 0, NULL},
    {2, "content", TFD_BYTES, 0, 0, NULL},          /* decoded per plugin afterwards */
};
static const tfd_fdef tfd_Tensor_f[] = {
    {1, "dtype", TFD_VARINT, 0, 0, NULL},
    {2, "tensor_shape", TFD_MSG, 0, 0, &tfd_Shape},
    {3, "version_number", TFD_VARINT, 0, 0, NULL},
    {4, "tensor_content", TFD_BYTES, 0, 0, NULL},
    {5, "float_val", TFD_PACKED_FLOAT, 1, 0, NULL},
    {6, "double_val", TFD_PACKED_DOUBLE, 1, 0, NULL},
    {7, "int_val", TFD_PACKED_VARINT, 1, 0, NULL},
    {8, "string_val", TFD_BYTES, 1, 0, NULL},
    {10, "int64_val", TFD_PACKED_VARINT, 1, 0, NULL},
    {11, "bool_val", TFD_PACKED_VARINT, 1, 0, NULL},
    {13, "half_val", TFD_PACKED_VARINT, 1, 0, NULL},
};
static const tfd_fdef tfd_Shape_f[] = {
    {2, "dim", TFD_MSG, 1, 0, &tfd_Dim},
    {3, "unknown_rank", TFD_VARINT, 0, 0, NULL},
};
static const tfd_fdef tfd_Dim_f[] = {
    {1, "size", TFD_VARINT, 0, 0, NULL}, {2, "name", TFD_STRING, 0, 0, NULL},
};
static const tfd_fdef tfd_SessionLog_f[] = {
    {1, "status", TFD_VARINT, 0, 0, NULL}, {2, "checkpoint_path", TFD_STRING, 0, 0, NULL},
    {3, "msg", TFD_STRING, 0, 0, NULL},
};
static const tfd_fdef tfd_Tagged_f[] = {
    {1, "tag", TFD_STRING, 0, 0, NULL}, {2, "run_metadata", TFD_BYTES, 0, 0, NULL},
};
static const tfd_fdef tfd_Source_f[] = {{1, "writer", TFD_STRING, 0, 0, NULL}};
static const tfd_fdef tfd_GraphDef_f[] = {
    {1, "node", TFD_MSG, 1, 0, &tfd_NodeDef},
    {2, "library", TFD_BYTES, 0, 0, NULL},
    {4, "versions", TFD_BYTES, 0, 0, NULL},
    {5, "debug_info", TFD_BYTES, 0, 0, NULL},
};
static const tfd_fdef tfd_NodeDef_f[] = {
    {1, "name", TFD_STRING, 0, 0, NULL}, {2, "op", TFD_STRING, 0, 0, NULL},
    {3, "input", TFD_STRING, 1, 0, NULL}, {4, "device", TFD_STRING, 0, 0, NULL},
    {5, "attr", TFD_MSG, 1, 0, &tfd_AttrEntry},
};
static const tfd_fdef tfd_AttrEntry_f[] = {
    {1, "key", TFD_STRING, 0, 0, NULL}, {2, "value", TFD_MSG, 0, 0, &tfd_AttrValue},
};
static const tfd_fdef tfd_AttrValue_f[] = {
    {1, "list", TFD_MSG, 0, 1, &tfd_AttrList}, {2, "s", TFD_BYTES, 0, 1, NULL},
    {3, "i", TFD_VARINT, 0, 1, NULL}, {4, "f", TFD_FLOAT, 0, 1, NULL},
    {5, "b", TFD_VARINT, 0, 1, NULL}, {6, "type", TFD_VARINT, 0, 1, NULL},
    {7, "shape", TFD_MSG, 0, 1, &tfd_Shape},
};
static const tfd_fdef tfd_AttrList_f[] = {
    {2, "s", TFD_BYTES, 1, 0, NULL}, {3, "i", TFD_PACKED_VARINT, 1, 0, NULL},
    {4, "f", TFD_PACKED_FLOAT, 1, 0, NULL}, {5, "b", TFD_PACKED_VARINT, 1, 0, NULL},
    {6, "type", TFD_PACKED_VARINT, 1, 0, NULL}, {7, "shape", TFD_MSG, 1, 0, &tfd_Shape},
    {8, "tensor", TFD_MSG, 1, 0, &tfd_Tensor},
};
static const tfd_fdef tfd_HParamsData_f[] = {
    {1, "version", TFD_VARINT, 0, 0, NULL},
    {2, "experiment", TFD_MSG, 0, 1, &tfd_Experiment},
    {3, "session_start_info", TFD_MSG, 0, 1, &tfd_StartInfo},
    {4, "session_end_info", TFD_MSG, 0, 1, &tfd_EndInfo},
};
static const tfd_fdef tfd_Experiment_f[] = {
    {6, "name", TFD_STRING, 0, 0, NULL}, {1, "description", TFD_STRING, 0, 0, NULL},
    {2, "user", TFD_STRING, 0, 0, NULL}, {3, "time_created_secs", TFD_DOUBLE, 0, 0, NULL},
    {4, "hparam_infos", TFD_MSG, 1, 0, &tfd_HParamInfo},
    {5, "metric_infos", TFD_MSG, 1, 0, &tfd_MetricInfo},
};
static const tfd_fdef tfd_HParamInfo_f[] = {
    {1, "name", TFD_STRING, 0, 0, NULL}, {2, "display_name", TFD_STRING, 0, 0, NULL},
    {3, "description", TFD_STRING, 0, 0, NULL}, {4, "type", TFD_VARINT, 0, 0, NULL},
    {5, "domain_discrete", TFD_MSG, 0, 1, &tfd_PbList},
    {6, "domain_interval", TFD_MSG, 0, 1, &tfd_Interval},
    {7, "differs", TFD_VARINT, 0, 0, NULL},
};
static const tfd_fdef tfd_Interval_f[] = {
    {1, "min_value", TFD_DOUBLE, 0, 0, NULL}, {2, "max_value", TFD_DOUBLE, 0, 0, NULL},
};
static const tfd_fdef tfd_MetricInfo_f[] = {
    {1, "name", TFD_MSG, 0, 0, &tfd_MetricName}, {3, "display_name", TFD_STRING, 0, 0, NULL},
    {4, "description", TFD_STRING, 0, 0, NULL}, {5, "dataset_type", TFD_VARINT, 0, 0, NULL},
};
static const tfd_fdef tfd_MetricName_f[] = {
    {1, "group", TFD_STRING, 0, 0, NULL}, {2, "tag", TFD_STRING, 0, 0, NULL},
};
static const tfd_fdef tfd_StartInfo_f[] = {
    {1, "hparams", TFD_MSG, 1, 0, &tfd_HpEntry}, {2, "model_uri", TFD_STRING, 0, 0, NULL},
    {3, "monitor_url", TFD_STRING, 0, 0, NULL}, {4, "group_name", TFD_STRING, 0, 0, NULL},
    {5, "start_time_secs", TFD_DOUBLE, 0, 0, NULL},
};
static const tfd_fdef tfd_HpEntry_f[] = {
    {1, "key", TFD_STRING, 0, 0, NULL}, {2, "value", TFD_MSG, 0, 0, &tfd_PbValue},
};
static const tfd_fdef tfd_EndInfo_f[] = {
    {1, "status", TFD_VARINT, 0, 0, NULL}, {2, "end_time_secs", TFD_DOUBLE, 0, 0, NULL},
};
static const tfd_fdef tfd_PbValue_f[] = {
    {1, "null_value", TFD_VARINT, 0, 1, NULL}, {2, "number_value", TFD_DOUBLE, 0, 1, NULL},
    {3, "string_value", TFD_STRING, 0, 1, NULL}, {4, "bool_value", TFD_VARINT, 0, 1, NULL},
    {5, "struct_value", TFD_MSG, 0, 1, &tfd_PbStruct},
    {6, "list_value", TFD_MSG, 0, 1, &tfd_PbList},
};
static const tfd_fdef tfd_PbList_f[] = {{1, "values", TFD_MSG, 1, 0, &tfd_PbValue}};
static const tfd_fdef tfd_PbStruct_f[] = {{1, "fields", TFD_MSG, 1, 0, &tfd_HpEntry}};
static const tfd_fdef tfd_PluginVersion_f[] = {{1, "version", TFD_VARINT, 0, 0, NULL}};

TFD_SCHEMA(tfd_Event, "Event", tfd_Event_f);
TFD_SCHEMA(tfd_Summary, "Summary", tfd_Summary_f);
TFD_SCHEMA(tfd_Value, "Summary.Value", tfd_Value_f);
TFD_SCHEMA(tfd_Image, "Summary.Image", tfd_Image_f);
TFD_SCHEMA(tfd_Audio, "Summary.Audio", tfd_Audio_f);
TFD_SCHEMA(tfd_Histo, "HistogramProto", tfd_Histo_f);
TFD_SCHEMA(tfd_Meta, "SummaryMetadata", tfd_Meta_f);
TFD_SCHEMA(tfd_PluginData, "PluginData", tfd_PluginData_f);
TFD_SCHEMA(tfd_Tensor, "TensorProto", tfd_Tensor_f);
TFD_SCHEMA(tfd_Shape, "TensorShapeProto", tfd_Shape_f);
TFD_SCHEMA(tfd_Dim, "TensorShapeProto.Dim", tfd_Dim_f);
TFD_SCHEMA(tfd_SessionLog, "SessionLog", tfd_SessionLog_f);
TFD_SCHEMA(tfd_Tagged, "TaggedRunMetadata", tfd_Tagged_f);
TFD_SCHEMA(tfd_Source, "SourceMetadata", tfd_Source_f);
TFD_SCHEMA(tfd_GraphDef, "GraphDef", tfd_GraphDef_f);
TFD_SCHEMA(tfd_NodeDef, "NodeDef", tfd_NodeDef_f);
TFD_SCHEMA(tfd_AttrEntry, "NodeDef.AttrEntry", tfd_AttrEntry_f);
TFD_SCHEMA(tfd_AttrValue, "AttrValue", tfd_AttrValue_f);
TFD_SCHEMA(tfd_AttrList, "AttrValue.ListValue", tfd_AttrList_f);
TFD_SCHEMA(tfd_HParamsData, "HParamsPluginData", tfd_HParamsData_f);
TFD_SCHEMA(tfd_Experiment, "Experiment", tfd_Experiment_f);
TFD_SCHEMA(tfd_HParamInfo, "HParamInfo", tfd_HParamInfo_f);
TFD_SCHEMA(tfd_Interval, "Interval", tfd_Interval_f);
TFD_SCHEMA(tfd_MetricInfo, "MetricInfo", tfd_MetricInfo_f);
TFD_SCHEMA(tfd_MetricName, "MetricName", tfd_MetricName_f);
TFD_SCHEMA(tfd_StartInfo, "SessionStartInfo", tfd_StartInfo_f);
TFD_SCHEMA(tfd_HpEntry, "map<string,Value> entry", tfd_HpEntry_f);
TFD_SCHEMA(tfd_EndInfo, "SessionEndInfo", tfd_EndInfo_f);
TFD_SCHEMA(tfd_PbValue, "google.protobuf.Value", tfd_PbValue_f);
TFD_SCHEMA(tfd_PbList, "google.protobuf.ListValue", tfd_PbList_f);
TFD_SCHEMA(tfd_PbStruct, "google.protobuf.Struct", tfd_PbStruct_f);
TFD_SCHEMA(tfd_PluginVersion, "plugin data {version}", tfd_PluginVersion_f);

/* ------------------------------------------------------------ decoded tree */

typedef struct tfd_msg tfd_msg;
typedef struct tfd_field {
    const tfd_fdef *def;
    int wire;
    uint64_t u;                 /* wire 0: the varint; 1 and 5: the raw little-endian bits */
    const unsigned char *p;     /* wire 2: the bytes (into the file's buffer) */
    size_t len;
    tfd_msg *msg;               /* TFD_MSG, and plugin content decoded afterwards */
} tfd_field;
struct tfd_msg {
    const tfd_schema *schema;
    int n, cap;
    tfd_field *f;
};

static inline void tfd_msg_free(tfd_msg *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++)
        tfd_msg_free(m->f[i].msg);
    free(m->f);
    free(m);
}

static inline void tfd_err(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
}

/* A varint at p (< end): its value and length, or 0 if truncated or over 10 bytes. */
static inline int tfd_varint(const unsigned char *p, const unsigned char *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int i = 0; i < 10 && p + i < end; i++) {
        r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            if (i == 9 && p[i] > 1)
                return 0;       /* more than 64 bits */
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

static inline int tfd_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i], cp;
        int more;
        if (c < 0x80) { i++; continue; }
        if ((c & 0xe0) == 0xc0) { more = 1; cp = c & 0x1f; }
        else if ((c & 0xf0) == 0xe0) { more = 2; cp = c & 0x0f; }
        else if ((c & 0xf8) == 0xf0) { more = 3; cp = c & 0x07; }
        else return 0;
        if (i + (size_t)more >= n)
            return 0;
        for (int k = 1; k <= more; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
            (more == 3 && cp < 0x10000) || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
            return 0;
        i += (size_t)more + 1;
    }
    return 1;
}

static inline int tfd_expected_wire(enum tfd_kind k)
{
    switch (k) {
    case TFD_VARINT: return 0;
    case TFD_DOUBLE: return 1;
    case TFD_FLOAT: return 5;
    default: return 2;
    }
}

static inline tfd_msg *tfd_parse(const tfd_schema *s, const unsigned char *p, size_t n,
                                 int depth, char *err, size_t esz)
{
    const unsigned char *end = p + n;
    tfd_msg *m;
    if (depth > 40) {
        tfd_err(err, esz, "%s: nested too deeply", s->name);
        return NULL;
    }
    if (!(m = calloc(1, sizeof *m))) {
        tfd_err(err, esz, "out of memory");
        return NULL;
    }
    m->schema = s;
    while (p < end) {
        uint64_t key, v = 0;
        int k = tfd_varint(p, end, &key), wire, num, ok;
        const tfd_fdef *d = NULL;
        tfd_field f;
        memset(&f, 0, sizeof f);
        if (!k) {
            tfd_err(err, esz, "%s: truncated field key", s->name);
            goto fail;
        }
        p += k;
        wire = (int)(key & 7);
        num = (int)(key >> 3);
        for (int i = 0; i < s->n; i++)
            if (s->f[i].num == num && (uint64_t)num == key >> 3)
                d = &s->f[i];
        if (!d) {
            tfd_err(err, esz, "%s: unknown field number %llu (wire type %d)", s->name,
                    (unsigned long long)(key >> 3), wire);
            goto fail;
        }
        ok = wire == tfd_expected_wire(d->kind) ||
             (d->kind == TFD_PACKED_VARINT && wire == 0) ||
             (d->kind == TFD_PACKED_FLOAT && wire == 5) ||
             (d->kind == TFD_PACKED_DOUBLE && wire == 1);
        if (!ok) {
            tfd_err(err, esz, "%s.%s: wrong wire type %d", s->name, d->name, wire);
            goto fail;
        }
        f.def = d;
        f.wire = wire;
        if (wire == 0) {
            if (!(k = tfd_varint(p, end, &v))) {
                tfd_err(err, esz, "%s.%s: truncated varint", s->name, d->name);
                goto fail;
            }
            f.u = v;
            p += k;
        } else if (wire == 1 || wire == 5) {
            int w = wire == 1 ? 8 : 4;
            if (end - p < w) {
                tfd_err(err, esz, "%s.%s: truncated fixed value", s->name, d->name);
                goto fail;
            }
            f.u = tfd_le(p, w);
            p += w;
        } else {
            if (!(k = tfd_varint(p, end, &v)) || v > (uint64_t)(end - p - k)) {
                tfd_err(err, esz, "%s.%s: length runs past the end", s->name, d->name);
                goto fail;
            }
            f.p = p + k;
            f.len = (size_t)v;
            p += k + (size_t)v;
            if (d->kind == TFD_STRING && !tfd_utf8(f.p, f.len)) {
                tfd_err(err, esz, "%s.%s: string is not utf-8", s->name, d->name);
                goto fail;
            }
            if ((d->kind == TFD_PACKED_FLOAT && f.len % 4) ||
                (d->kind == TFD_PACKED_DOUBLE && f.len % 8)) {
                tfd_err(err, esz, "%s.%s: packed length %zu", s->name, d->name, f.len);
                goto fail;
            }
            if (d->kind == TFD_PACKED_VARINT) {
                for (const unsigned char *q = f.p; q < f.p + f.len;) {
                    int kk = tfd_varint(q, f.p + f.len, &v);
                    if (!kk) {
                        tfd_err(err, esz, "%s.%s: bad packed varint", s->name, d->name);
                        goto fail;
                    }
                    q += kk;
                }
            }
            if (d->kind == TFD_MSG &&
                !(f.msg = tfd_parse(d->sub, f.p, f.len, depth + 1, err, esz))) {
                size_t l = strlen(err);
                snprintf(err + l, esz - l, " (in %s.%s)", s->name, d->name);
                goto fail;
            }
        }
        for (int i = 0; i < m->n; i++) {
            const tfd_fdef *o = m->f[i].def;
            if (o == d && !d->repeated) {
                tfd_err(err, esz, "%s.%s: a singular field given twice", s->name, d->name);
                tfd_msg_free(f.msg);
                goto fail;
            }
            if (d->oneof && o->oneof == d->oneof && o != d) {
                tfd_err(err, esz, "%s: %s and %s of one oneof both set", s->name, o->name,
                        d->name);
                tfd_msg_free(f.msg);
                goto fail;
            }
        }
        if (m->n == m->cap) {
            int cap = m->cap ? 2 * m->cap : 8;
            tfd_field *nf = realloc(m->f, (size_t)cap * sizeof *nf);
            if (!nf) {
                tfd_msg_free(f.msg);
                tfd_err(err, esz, "out of memory");
                goto fail;
            }
            m->f = nf;
            m->cap = cap;
        }
        m->f[m->n++] = f;
    }
    return m;
fail:
    tfd_msg_free(m);
    return NULL;
}

/* ---------------------------------------------------------------- access */

/* The idx-th occurrence of the field called name, or NULL. */
static inline const tfd_field *tfd_get(const tfd_msg *m, const char *name, int idx)
{
    for (int i = 0; m && i < m->n; i++)
        if (strcmp(m->f[i].def->name, name) == 0 && idx-- == 0)
            return &m->f[i];
    return NULL;
}

static inline int tfd_count(const tfd_msg *m, const char *name)
{
    int c = 0;
    for (int i = 0; m && i < m->n; i++)
        c += strcmp(m->f[i].def->name, name) == 0;
    return c;
}

/* "summary.value[1].tensor.dtype": the field at the end of the path, or NULL. */
static inline const tfd_field *tfd_path(const tfd_msg *m, const char *path)
{
    char part[64];
    const tfd_field *f = NULL;
    while (*path) {
        size_t len = strcspn(path, ".");
        int idx = 0;
        char *br;
        if (!m || len >= sizeof part)
            return NULL;
        memcpy(part, path, len);
        part[len] = 0;
        if ((br = strchr(part, '['))) {
            idx = atoi(br + 1);
            *br = 0;
        }
        if (!(f = tfd_get(m, part, idx)))
            return NULL;
        m = f->msg;
        path += len + (path[len] == '.');
    }
    return f;
}

static inline int tfd_has(const tfd_msg *m, const char *path) { return tfd_path(m, path) != NULL; }
static inline const tfd_msg *tfd_sub(const tfd_msg *m, const char *path)
{
    const tfd_field *f = tfd_path(m, path);
    return f ? f->msg : NULL;
}
/* Scalars at a path, proto3 defaults when absent. */
static inline int64_t tfd_int(const tfd_msg *m, const char *path)
{
    const tfd_field *f = tfd_path(m, path);
    return f ? (int64_t)f->u : 0;
}
static inline double tfd_double(const tfd_msg *m, const char *path)
{
    const tfd_field *f = tfd_path(m, path);
    double d = 0;
    if (f) {
        uint64_t u = f->u;
        memcpy(&d, &u, sizeof d);
    }
    return d;
}
static inline float tfd_float(const tfd_msg *m, const char *path)
{
    const tfd_field *f = tfd_path(m, path);
    float x = 0;
    if (f) {
        uint32_t u = (uint32_t)f->u;
        memcpy(&x, &u, sizeof x);
    }
    return x;
}
/* 1 if the string/bytes field at path equals s (absent equals ""). */
static inline int tfd_streq(const tfd_msg *m, const char *path, const char *s)
{
    const tfd_field *f = tfd_path(m, path);
    size_t n = strlen(s);
    return f ? f->len == n && memcmp(f->p, s, n) == 0 : n == 0;
}
/* All values of a repeated float/double field (packed or not) as doubles; count. */
static inline int tfd_reals(const tfd_msg *m, const char *name, double *out, int max)
{
    int c = 0;
    for (int i = 0; m && i < m->n; i++) {
        const tfd_field *f = &m->f[i];
        int w = f->def->kind == TFD_PACKED_FLOAT ? 4 : 8;
        if (strcmp(f->def->name, name) != 0)
            continue;
        /* unpacked: one value in u; packed: len / w values in p */
        for (size_t k = 0; f->wire != 2 ? k == 0 : k + (size_t)w <= f->len; k += (size_t)w, c++) {
            uint64_t u = f->wire != 2 ? f->u : tfd_le(f->p + k, w);
            uint32_t u32 = (uint32_t)u;
            float x;
            double y;
            if (c >= max)
                continue;
            if (w == 4) {
                memcpy(&x, &u32, 4);
                out[c] = x;
            } else {
                memcpy(&y, &u, 8);
                out[c] = y;
            }
        }
    }
    return c;
}

/* ------------------------------------------------------------------ files */

enum { TFD_OK = 0, TFD_PARTIAL = 1 };

typedef struct tfd_file {
    unsigned char *buf;
    size_t size;
    int n;                      /* complete, decoded events */
    tfd_msg **ev;
    size_t *offset;             /* where each record starts */
    int partial;                /* TFD_PARTIAL: the last record is incomplete (in writing) */
    char err[300];              /* why decoding failed */
} tfd_file;

static inline void tfd_free(tfd_file *f)
{
    for (int i = 0; i < f->n; i++)
        tfd_msg_free(f->ev[i]);
    free(f->ev);
    free(f->offset);
    free(f->buf);
    memset(f, 0, sizeof *f);
}

/*
 * After the schema: plugin content decoded per plugin (hparams: HParamsPluginData;
 * scalars, histograms, text: {version}).  An unknown plugin name is an error here.
 */
static inline int tfd_check_plugins(tfd_msg *ev, char *err, size_t esz)
{
    const tfd_msg *sum = tfd_sub(ev, "summary");
    for (int i = 0; sum && i < sum->n; i++) {
        tfd_msg *pd;
        tfd_field *content = NULL;
        const tfd_schema *s;
        if (!sum->f[i].msg || !(pd = (tfd_msg *)tfd_sub(sum->f[i].msg, "metadata.plugin_data")))
            continue;
        if (tfd_streq(pd, "plugin_name", "hparams"))
            s = &tfd_HParamsData;
        else if (tfd_streq(pd, "plugin_name", "scalars") ||
                 tfd_streq(pd, "plugin_name", "histograms") || tfd_streq(pd, "plugin_name", "text"))
            s = &tfd_PluginVersion;
        else {
            tfd_err(err, esz, "value %d: unexpected plugin name", i);
            return 0;
        }
        for (int k = 0; k < pd->n; k++)
            if (strcmp(pd->f[k].def->name, "content") == 0)
                content = &pd->f[k];
        if (content && !(content->msg = tfd_parse(s, content->p, content->len, 0, err, esz)))
            return 0;
    }
    return 1;
}

/*
 * Decode n bytes of an event file (copied).  0: every complete record decoded (a
 * truncated last record sets partial, as TensorBoard waits for the rest); -1: a bad
 * CRC or a record that does not decode, with err.  Free with tfd_free either way.
 */
static inline int tfd_decode(const void *data, size_t n, tfd_file *f)
{
    size_t off = 0;
    memset(f, 0, sizeof *f);
    if (!(f->buf = malloc(n ? n : 1)))
        return tfd_err(f->err, sizeof f->err, "out of memory"), -1;
    memcpy(f->buf, data, n);
    f->size = n;
    while (off < n) {
        const unsigned char *r = f->buf + off;
        uint64_t len;
        tfd_msg *ev;
        if (n - off < 12) {
            f->partial = TFD_PARTIAL;
            break;
        }
        if (tfd_le(r + 8, 4) != tfd_masked_crc(r, 8)) {
            tfd_err(f->err, sizeof f->err, "record %d at %zu: bad length crc", f->n, off);
            return -1;
        }
        len = tfd_le(r, 8);
        if (n - off - 12 < 4 || len > n - off - 16) {
            f->partial = TFD_PARTIAL;
            break;
        }
        if (tfd_le(r + 12 + len, 4) != tfd_masked_crc(r + 12, (size_t)len)) {
            tfd_err(f->err, sizeof f->err, "record %d at %zu: bad data crc", f->n, off);
            return -1;
        }
        if (!(ev = tfd_parse(&tfd_Event, r + 12, (size_t)len, 0, f->err, sizeof f->err)) ||
            !tfd_check_plugins(ev, f->err, sizeof f->err)) {
            size_t l = strlen(f->err);
            snprintf(f->err + l, sizeof f->err - l, " (record %d)", f->n);
            tfd_msg_free(ev);
            return -1;
        }
        {
            tfd_msg **e = realloc(f->ev, (size_t)(f->n + 1) * sizeof *e);
            size_t *o = realloc(f->offset, (size_t)(f->n + 1) * sizeof *o);
            if (e)
                f->ev = e;
            if (o)
                f->offset = o;
            if (!e || !o) {
                tfd_msg_free(ev);
                return tfd_err(f->err, sizeof f->err, "out of memory"), -1;
            }
        }
        f->ev[f->n] = ev;
        f->offset[f->n++] = off;
        off += 16 + (size_t)len;
    }
    return 0;
}

static inline int tfd_load(const char *path, tfd_file *f)
{
    FILE *fp = fopen(path, "rb");
    unsigned char *data = NULL;
    size_t n = 0, cap = 0, k;
    int rc;
    memset(f, 0, sizeof *f);
    if (!fp)
        return tfd_err(f->err, sizeof f->err, "cannot open %s", path), -1;
    do {
        if (n == cap) {
            unsigned char *d = realloc(data, cap = cap ? 2 * cap : 65536);
            if (!d) {
                free(data);
                fclose(fp);
                return tfd_err(f->err, sizeof f->err, "out of memory"), -1;
            }
            data = d;
        }
        k = fread(data + n, 1, cap - n, fp);
        n += k;
    } while (k > 0);
    fclose(fp);
    rc = tfd_decode(data, n, f);
    free(data);
    return rc;
}

#endif
