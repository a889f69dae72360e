/*
 * cli.h — the command-line commands of ksearch (one cmd_* per command) and the
 * helpers they share.  Only cli.c's main() ends the process.
 */
#ifndef KS_CLI_H
#define KS_CLI_H

#include "search.h"
#include "../engine/ks_util.h"

/* Exit statuses: done, failed while running, bad usage or bad input. */
enum { KS_EXIT_OK = 0, KS_EXIT_FAILED = 1, KS_EXIT_BAD_INPUT = 2 };

/* A command: argc/argv start at the command's own name. */
typedef int (*ks_cmd_fn)(int argc, char **argv);

int cmd_fit(int argc, char **argv);
int cmd_run(int argc, char **argv);     /* ksearch STUDY.yaml: argv[0] is the file */
int cmd_evaluate(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_tensorboard(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_ensemble(int argc, char **argv);
int cmd_refit(int argc, char **argv);
int cmd_report(int argc, char **argv);

/* Print an error as one line on stderr ("FILE:LINE:COL: message"). */
void cli_error(const ks_error *err);
/* The exit status for a failure before anything ran (bad input → 2, else 1). */
int cli_exit_for(ks_status s);
/* Create a directory and its parents (mkdir -p); 0 on success. */
int cli_mkdirs(const char *path, ks_error *err);
/* Parse "--name VALUE" / "--name=VALUE" integer options; returns 1 if argv[*i] matched. */
int cli_int_option(int argc, char **argv, int *i, const char *name, int *value, ks_error *err);

#endif
