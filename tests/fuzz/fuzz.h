/*
 * fuzz.h — what the fuzz targets (tests/fuzz/fuzz_NAME.c, one per loader) share:
 * libFuzzer's entry point, temporary files for loaders that only read paths, checksum
 * fix-ups that let mutated .ksm and ensemble files past their CRC, checks that stop a
 * run on a broken property (util.c), and the seed inputs and dictionaries (seeds.c).
 */
#ifndef KS_FUZZ_H
#define KS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../../engine/engine.h"

/* The target: one input, any bytes; returns 0.  The replay build renames it per target. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A path for this process's temporary file named after tag ("idx"), on /dev/shm when it
   exists (else $TMPDIR or /tmp); the same path on every call with the same tag.  The file
   is removed at exit. */
const char *fuzz_temp_path(const char *tag);
/* Write n bytes to path (replacing it); gz: gzip-compressed.  Returns 0, or -1 and says
   why on stderr (the fuzzer's file system is broken: the caller aborts). */
int fuzz_write_file(const char *path, const void *p, size_t n, int gz);

/* A malloc'd NUL-terminated copy of the input (text stops at the first NUL byte). */
char *fuzz_text(const uint8_t *data, size_t size);

/*
 * Make a mutated file pass its checksum: set the size field to len and write the CRC-32
 * of [0, len-4) into the last 4 bytes.  Ensembles also fix every whole member model file
 * they frame.  Buffers too short to hold a header are left alone.
 */
void fuzz_fix_ksm(unsigned char *buf, size_t len);
void fuzz_fix_ensemble(unsigned char *buf, size_t len);

/* The wire targets' first byte (modulo FUZZ_WIRE_FORMS): the decoder that gets the rest
   (fuzz_wire.c), and the byte in front of each seed (seeds.c). */
enum { FUZZ_WIRE_REQUEST, FUZZ_WIRE_RECORD, FUZZ_WIRE_VERDICT, FUZZ_WIRE_FORMS };

/* Inputs the targets accepted (loaded, parsed or built) since the start: the replay test
   checks that each target's seeds are mostly valid. */
extern long fuzz_accepted;

/* A broken property (not a rejected input): print "fuzz: FAILED: ..." and abort, so that
   libFuzzer keeps the input as a crash and the replay test fails. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A FILE that swallows output (summaries, progress): /dev/null, opened once. */
FILE *fuzz_null_stream(void);

/* A rejected input: s must be an error status that err repeats, with a message of one
   line.  Fails with fuzz_fail. */
void fuzz_check_error(ks_status s, const ks_error *err, const char *what);

/*
 * Load the input as a data file through ks_dataset_load, as a study's data section does:
 * the first byte picks one of specs (JSON text with %s where the file's path goes,
 * NULL-terminated), the rest is the file (gzip-compressed first when gz).  A data set
 * that loads is checked: its sizes agree, every input and target is finite, every label
 * is below n_classes.  tag names the temporary file.
 */
void fuzz_dataset(const char *tag, const char *const *specs, const uint8_t *data, size_t size,
                  int gz);

/*
 * One epoch of fit, batch rows at a time and silent, on four rows of a ramp whose targets
 * fit the model's loss (class indices, or one-hot rows).  Returns 1 when it trained, 0 when
 * the model's input or output is too large for a quick step or the data does not fit it,
 * -1 when fit failed; a reason given is checked with fuzz_check_error.
 */
int fuzz_fit_once(ks_model *m, int batch);

/*
 * Check that a model that loaded or built survives what users do with it: predict two
 * rows, print its summary, save and load it back (through the buffer API), and save the
 * reloaded model again: both saves must be the same bytes, and the reloaded model's
 * weights, optimizer state and config equal the original's.  Fails with fuzz_fail.
 * what names the model in the message.
 */
void fuzz_check_round_trip(ks_model *m, int epoch, const char *what);

/*
 * The seed inputs of a target, made by the program itself: valid files of every kind
 * written with the engine's writers (and small writers for IDX, NPY and CSV), each given
 * to emit as one input in the target's own framing (a spec byte first for data targets,
 * the checksum left off for the _crc variants).  Study and model targets also get the
 * repository's YAML files below root (NULL: the current directory).  Returns the number
 * of inputs emitted, or -1 for an unknown target.
 */
typedef void (*fuzz_emit_fn)(void *user, const char *name, const unsigned char *p, size_t n);
int fuzz_seeds(const char *target, const char *root, fuzz_emit_fn emit, void *user);
/* The wire targets' seeds (seeds_wire.c, called by fuzz_seeds): trial requests, records
   of every kind and verdicts made with the real encoders, each with its FUZZ_WIRE_* byte
   in front (strip_crc: the CRC left off); ckpt (ckpt_len bytes, NULL: none) is the
   checkpoint of those that carry one.  Returns the number of inputs emitted. */
int fuzz_wire_seeds(const unsigned char *ckpt, size_t ckpt_len, int strip_crc,
                    fuzz_emit_fn emit, void *user);
/* The dictionary of a target (libFuzzer's format: one "token" a line) into f: layer,
   argument, loss, optimizer and callback names from the engine's tables; 0 if written,
   -1 for a target without one. */
int fuzz_dictionary(const char *target, const char *root, FILE *f);

#endif
