/*
 * cli.c — main(): the command table, --help, and the one place that maps a status
 * to the process's exit status.
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct command {
    const char *name;
    ks_cmd_fn fn;
    const char *usage;
    const char *summary;
} command;

static const command commands[] = {
    {"STUDY.yaml", NULL, "ksearch STUDY.yaml [--parallel N] [--fresh]",
     "run or resume a study (grid, random, bayesian, hyperband, tpe, bohb); --grow: one "
     "whose file grew"},
    {"fit", cmd_fit, "ksearch fit MODEL.yaml [options]", "train one model (model.fit)"},
    {"evaluate", cmd_evaluate, "ksearch evaluate MODEL.ksm DATA", "loss and metrics on data"},
    {"predict", cmd_predict, "ksearch predict MODEL.ksm DATA [-o OUT.csv]",
     "outputs of a model on data"},
    {"ls", cmd_ls, "ksearch ls RUNDIR [--status S,..] [--top K]",
     "the trials of a study, best first (--json, --csv)"},
    {"show", cmd_show, "ksearch show RUNDIR TRIAL", "one trial: parameters, metrics, checkpoints"},
    {"compare", cmd_compare, "ksearch compare RUNDIR T1 T2 ...", "trials side by side per epoch"},
    {"tensorboard", cmd_tensorboard, "ksearch tensorboard RUNDIR",
     "rewrite the TensorBoard logs from study.db"},
    {"export", cmd_export, "ksearch export MODEL.ksm --onnx OUT.onnx",
     "a model or ensemble as ONNX"},
    {"export", cmd_export, "ksearch export RUNDIR TRIAL -o F [--onnx F]",
     "one trial's best checkpoint as .ksm (or ONNX)"},
    {"ensemble", cmd_ensemble, "ksearch ensemble RUNDIR [--top K] [-o F]",
     "a weighted ensemble of the best trials"},
    {"refit", cmd_refit, "ksearch refit RUNDIR [TRIAL] [-o F.ksm]",
     "retrain the best trial on training + validation data"},
    {"report", cmd_report, "ksearch report RUNDIR [-o report.html]",
     "the study at a glance: one HTML file, any browser"},
    {NULL, NULL, NULL, NULL}};

static void usage(FILE *f)
{
    fprintf(f, "usage: ksearch COMMAND [ARGS]\n\ncommands:\n");
    for (int i = 0; commands[i].name; i++)
        fprintf(f, "  %-45s %s\n", commands[i].usage, commands[i].summary);
    fprintf(f, "\n'ksearch COMMAND --help' shows a command's options.\n"
               "exit status: 0 done, 1 failed while running, 2 bad usage or bad input\n");
}

void cli_error(const ks_error *err)
{
    char buf[1200];
    fprintf(stderr, "%s\n", ks_error_format(err, buf, sizeof buf));
}

int cli_exit_for(ks_status s)
{
    switch (s) {
    case KS_OK:
    case KS_STOPPED:
        return KS_EXIT_OK;
    case KS_ERR_IO:
    case KS_ERR_PARSE:
    case KS_ERR_CONFIG:
    case KS_ERR_SHAPE:
    case KS_ERR_CORRUPT:
    case KS_ERR_USAGE:
        return KS_EXIT_BAD_INPUT;
    default:
        return KS_EXIT_FAILED;
    }
}

int cli_mkdirs(const char *path, ks_error *err)
{
    return ks_mkdirs(path, err) == KS_OK ? 0 : -1;
}

int cli_int_option(int argc, char **argv, int *i, const char *name, int *value, ks_error *err)
{
    size_t len = strlen(name);
    const char *text;
    char *end;
    long v;
    if (strncmp(argv[*i], name, len) != 0)
        return 0;
    if (argv[*i][len] == '=') {
        text = argv[*i] + len + 1;
    } else if (argv[*i][len] == '\0') {
        if (*i + 1 >= argc) {
            ks_error_set(err, KS_ERR_USAGE, "%s needs a value", name);
            return -1;
        }
        text = argv[++*i];
    } else {
        return 0;
    }
    v = strtol(text, &end, 10);
    if (*end || end == text || v < 0 || v > 1000000) {
        ks_error_set(err, KS_ERR_USAGE, "%s must be a whole number, got \"%s\"", name, text);
        return -1;
    }
    *value = (int)v;
    return 1;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    /* a file grown past RLIMIT_FSIZE is a write error to report, not a reason to die */
    signal(SIGXFSZ, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return KS_EXIT_BAD_INPUT;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return KS_EXIT_OK;
    }
    {
        size_t len = strlen(argv[1]);
        if ((len > 5 && strcmp(argv[1] + len - 5, ".yaml") == 0) ||
            (len > 4 && strcmp(argv[1] + len - 4, ".yml") == 0))
            return cmd_run(argc - 1, argv + 1);
    }
    for (int i = 0; commands[i].name; i++)
        if (commands[i].fn && strcmp(commands[i].name, argv[1]) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    {
        const char *names[sizeof commands / sizeof commands[0]];
        const char *near;
        int n = 0;
        for (int i = 0; commands[i].name; i++)
            if (commands[i].fn)
                names[n++] = commands[i].name;
        names[n] = NULL;
        near = ks_nearest_name(argv[1], names);
        fprintf(stderr, "ksearch: unknown command \"%s\"%s%s%s; see 'ksearch --help'\n", argv[1],
                near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
    }
    return KS_EXIT_BAD_INPUT;
}
