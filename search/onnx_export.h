/*
 * onnx_export.h — a model or an ensemble as a standard ONNX file (opset 13, IR 7):
 * graph input "input" float [N, input shape…], output "output" float [N, output
 * shape…], weights as initializers named as the model names them ("dense/kernel").
 */
#ifndef KS_ONNX_EXPORT_H
#define KS_ONNX_EXPORT_H

#include "../engine/engine.h"

#define KS_ONNX_OPSET 13
#define KS_ONNX_IR_VERSION 7

/*
 * The serialized ModelProto of a model, or of an ensemble (members' subgraphs under
 * "m0/", "m1/" …, combined as ks_ensemble_combine does).  *out is malloc'd.  A layer
 * the exporter does not know is KS_ERR_CONFIG.  The input scaling a model was trained
 * with (meta "input_scale") is not part of the graph: it is recorded in the model's
 * metadata_props, and callers divide the inputs by it as `ksearch predict` does.
 */
ks_status ks_onnx_encode_model(ks_model *m, unsigned char **out, size_t *len, ks_error *err);
ks_status ks_onnx_encode_ensemble(ks_ensemble *e, unsigned char **out, size_t *len,
                                  ks_error *err);

/* Encode and write to path (through a temporary file renamed into place). */
ks_status ks_onnx_save_model(ks_model *m, const char *path, ks_error *err);
ks_status ks_onnx_save_ensemble(ks_ensemble *e, const char *path, ks_error *err);

#endif
