/*
 * cli_export.c — `ksearch export MODEL.ksm --onnx OUT.onnx`: a model file or an
 * ensemble file as a standard ONNX model (opset 13) for ONNX runtimes.
 */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static void export_usage(FILE *f)
{
    fprintf(f,
            "usage: ksearch export MODEL.ksm --onnx OUT.onnx\n\n"
            "Writes a model file or an ensemble file as an ONNX model (opset %d, IR version\n"
            "%d): input \"input\" float [N, input shape], output \"output\" float [N, outputs].\n"
            "The input scaling the model was trained with (e.g. 255) is not part of the\n"
            "graph: divide the inputs by it, as `ksearch predict` does; the file records it\n"
            "in its metadata as input_scale.\n\n"
            "options:\n"
            "  --onnx FILE      the ONNX file to write (required)\n"
            "  -h, --help       this help\n",
            KS_ONNX_OPSET, KS_ONNX_IR_VERSION);
}

int cmd_export(int argc, char **argv)
{
    const char *in = NULL, *out = NULL;
    ks_model *m = NULL;
    ks_ensemble *e = NULL;
    ks_error err;
    ks_status s;
    ks_file_kind kind;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            export_usage(stdout);
            return KS_EXIT_OK;
        }
        if (strcmp(argv[i], "--onnx") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strncmp(argv[i], "--onnx=", 7) == 0 && argv[i][7]) {
            out = argv[i] + 7;
        } else if (argv[i][0] == '-' || in) {
            fprintf(stderr, "ksearch export: unexpected argument \"%s\"\n", argv[i]);
            export_usage(stderr);
            return KS_EXIT_BAD_INPUT;
        } else {
            in = argv[i];
        }
    }
    if (!in || !out) {
        fprintf(stderr, "ksearch export: %s\n", !in ? "a model file is required"
                                                    : "--onnx OUT.onnx is required");
        export_usage(stderr);
        return KS_EXIT_BAD_INPUT;
    }
    ks_error_clear(&err);
    kind = ks_file_kind_of(in);
    if (kind == KS_FILE_OTHER) {
        FILE *f = fopen(in, "rb");
        if (!f) {
            fprintf(stderr, "%s: cannot open the model file: %s\n", in, strerror(errno));
        } else {
            fclose(f);
            fprintf(stderr, "%s: not a ksearch model or ensemble file (no .ksm magic)\n", in);
        }
        return KS_EXIT_BAD_INPUT;
    }
    if (kind == KS_FILE_ENSEMBLE) {
        if ((s = ks_ensemble_load(in, &e, &err)) == KS_OK)
            s = ks_ensemble_export_onnx(e, out, &err);
    } else {
        if ((s = ks_model_load(in, &m, NULL, &err)) == KS_OK)
            s = ks_model_export_onnx(m, out, &err);
    }
    if (s != KS_OK) {
        cli_error(&err);
        ks_ensemble_free(e);
        ks_model_free(m);
        return cli_exit_for(s) == KS_EXIT_OK ? KS_EXIT_FAILED : cli_exit_for(s);
    }
    {
        const ks_model *m0 = e ? ks_ensemble_member(e, 0) : m;
        char a[64], b[64];
        printf("wrote %s: ONNX opset %d, %s%s, output %s\n", out, KS_ONNX_OPSET,
               e ? "an ensemble, input " : "input ",
               ks_shape_str(ks_model_input_shape(m0), a, sizeof a),
               ks_shape_str(ks_model_output_shape(m0), b, sizeof b));
    }
    ks_ensemble_free(e);
    ks_model_free(m);
    return KS_EXIT_OK;
}
