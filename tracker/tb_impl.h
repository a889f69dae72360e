/*
 * tb_impl.h — the tracker's TensorBoard internals: TFRecord framing with masked
 * CRC32C, the event file of one run, and the encoders that the ks_tb_* functions are
 * built from (exposed so that tests can compare exact bytes).  The protobuf writer
 * (ks_pb_*) they use is the engine's (ks_util.h), shared with the ONNX exporter.
 */
#ifndef KS_TB_IMPL_H
#define KS_TB_IMPL_H

#include "tracker.h"

#include <stdint.h>
#include <stdio.h>

/* The protobuf wire-format writer (ks_pb_*) is the engine's, in ks_util.h. */
#include "../engine/ks_util.h"

/* ================================================= TFRecord framing */

#define KS_TFRECORD_HEADER 12   /* uint64 length + masked CRC of those 8 bytes */
#define KS_TFRECORD_FOOTER 4    /* masked CRC of the data */

/* CRC32C (Castagnoli, reflected 0x82F63B78, init and final xor ~0), and TF's mask. */
uint32_t ks_crc32c(const void *p, size_t n);
uint32_t ks_crc32c_mask(uint32_t crc);
/* Start a record in b (clears it, reserves the header); the data is appended after. */
void ks_tfrecord_begin(ks_pb_buf *b);
/* Finish it: fill the header, append the footer.  b then holds the framed record. */
void ks_tfrecord_end(ks_pb_buf *b);
/* Write a framed record with one fwrite and flush it; a short write is KS_ERR_IO. */
ks_status ks_tfrecord_write(FILE *f, const ks_pb_buf *b, const char *path, ks_error *err);

/*
 * TF2's event file name, events.out.tfevents.<secs>.<host>.<pid>.<counter>.v2, secs
 * zero-padded to 10 digits and host reduced to [A-Za-z0-9._-] (others become '_').
 * Returns the length snprintf would give.
 */
int ks_tb_file_name(char *out, size_t size, int64_t secs, const char *host, long pid,
                    unsigned long counter);

/* ====================================================== one run's file */

typedef enum ks_tb_plugin {
    KS_TB_PLUGIN_SCALARS = 1,
    KS_TB_PLUGIN_HISTOGRAMS,
    KS_TB_PLUGIN_TEXT,
    KS_TB_PLUGIN_HPARAMS
} ks_tb_plugin;
const char *ks_tb_plugin_name(ks_tb_plugin p);          /* "scalars" … */

/* A tag seen in this file, and the plugin that owns it (an open-addressing table). */
typedef struct ks_tb_tag {
    char *name;                 /* NULL: free slot */
    ks_tb_plugin plugin;
} ks_tb_tag;

struct ks_tb_run {
    FILE *f;                    /* unbuffered: each record is one write */
    char *path;                 /* the event file */
    int lock_fd;                /* the run directory, flock'ed while open; -1 if none */
    ks_pb_buf rec;              /* the record being built (reused) */
    ks_tb_tag *tags;
    size_t n_tags, cap_tags;
    int has_experiment;         /* _hparams_/experiment was written here */
    int has_session;            /* _hparams_/session_start_info was written here */
    int broken;                 /* a write failed: the file may end with a partial record */
};

/* The wall time to write: t when finite and > 0, else the current time (never 0). */
double ks_tb_wall_time(double t);
/*
 * Claim tag for plugin in this run's file: a tag keeps one plugin for the whole run
 * (pitfall 6), so a tag already used by another plugin is KS_ERR_CONFIG.  *first is 1
 * the first time the tag is seen in this file (its value then carries the metadata).
 * Also checks that the tag is a non-empty UTF-8 string.
 */
ks_status ks_tb_tag_claim(ks_tb_run *run, const char *tag, ks_tb_plugin plugin, int *first,
                          ks_error *err);
/* Frame run->rec (built between ks_tfrecord_begin and here) and write it. */
ks_status ks_tb_run_write(ks_tb_run *run, ks_error *err);

/* ============================================================ encoders */

/*
 * Event envelopes.  ks_tb_event_begin writes wall_time, step (omitted when 0) and opens
 * Summary.value; the caller writes the Value's fields (tag first); ks_tb_event_end
 * closes both.  Into a buffer just after ks_tfrecord_begin, or a plain one.
 */
typedef struct ks_tb_event_mark {
    size_t summary, value;
} ks_tb_event_mark;
void ks_tb_event_begin(ks_pb_buf *b, double wall_time, int64_t step, ks_tb_event_mark *m);
void ks_tb_event_end(ks_pb_buf *b, const ks_tb_event_mark *m);
/* Summary.Value.metadata: plugin_data {plugin_name, content (omitted when n = 0)}. */
void ks_tb_value_metadata(ks_pb_buf *b, const char *plugin, const void *content, size_t n);
/* Event{wall_time, file_version "brain.Event:2"}. */
void ks_tb_encode_file_version(ks_pb_buf *b, double wall_time);
/*
 * A scalar Event: the modern rank-0 DT_FLOAT tensor (with the "scalars" metadata when
 * metadata is 1), or with legacy 1 the old simple_value (always written, even 0.0).
 */
void ks_tb_encode_scalar(ks_pb_buf *b, const char *tag, int64_t step, double wall_time,
                         double value, int metadata, int legacy);

/* HParams status codes (tensorboard.hparams.Status). */
enum { KS_TB_STATUS_UNKNOWN, KS_TB_STATUS_SUCCESS, KS_TB_STATUS_FAILURE, KS_TB_STATUS_RUNNING };
/*
 * The status a trial's session ends with: complete and pruned (a trial that ran the
 * budget it was given) → SUCCESS, failed → FAILURE, running → RUNNING, queued and
 * interrupted → UNKNOWN; -1 for a value that is not a ks_trial_status.
 */
int ks_tb_session_status(ks_trial_status s);

/* ============================================================ histograms */
/*
 * ks_histogram_compute (tracker.h) skips values that are not finite (NaN, ±inf): they
 * are counted in no bucket and take no part in min and max.  TF would let one NaN
 * turn the whole histogram into NaN; a histogram with NaN edges shows nothing, while
 * skipping keeps the finite weights visible.  Only non-finite values → as n = 0.
 */

#endif
