/* cli.h - what every subcommand shares: option parsing, loading a model
 * from a .rnn file, and the usage/error conventions.
 *
 * Exit codes: 0 success, 1 an error in the user's input (model, data,
 * weights), 2 a usage error (unknown option, wrong arity), 130 training
 * stopped by Ctrl-C after writing its checkpoint (the shell's 128 + SIGINT). */
#ifndef RNNC_CLI_H
#define RNNC_CLI_H

#include "frontend/ast.h"
#include "frontend/diag.h"
#include "ir/ir.h"

#define EXIT_USAGE 2

/* One option of a subcommand.  `arg` is 0 (a flag), 1 (needs a value:
 * "--seed 3" or "--seed=3" or "-o x"), or 2 (optional value, only as
 * "--unroll=3"). */
typedef struct CliOpt {
    const char *name; /* long name without "--"                       */
    char shortc;      /* 0 if none                                    */
    int arg;
    const char *help; /* "N  seed of the random initialization"       */
} CliOpt;

/* Parsed command line of a subcommand: options in order (repeatable ones
 * such as -i appear several times) and the positional arguments. */
typedef struct CliArgs {
    int nopts;
    const CliOpt *opt[64];
    const char *val[64]; /* NULL for flags and absent optional values  */
    int npos;
    const char *pos[16];
} CliArgs;

/* -v / --time-passes, for the commands that compile: main.c switches the
 * stage timer on (ir/timing.h) and prints its table after the command. */
#define CLI_OPT_TIME_PASSES                                                                                \
    {                                                                                                      \
        "time-passes", 'v', 0, "               print the time of each compiler stage to stderr at the end" \
    }

typedef struct Command {
    const char *name;
    const char *synopsis; /* "FILE -o W.safetensors [--seed N]"       */
    const char *summary;  /* one line for `rnnc --help`               */
    const char *details;  /* paragraph for `rnnc help CMD`            */
    const CliOpt *opts;   /* terminated by a {0} entry                */
    int min_pos, max_pos;
    int (*run)(const CliArgs *a);
} Command;

extern const Command cmd_check, cmd_dump, cmd_init, cmd_run, cmd_grad;
extern const Command cmd_train, cmd_sample, cmd_export, cmd_compile;

/* Parses argv (after the subcommand's name).  On a usage error prints
 * "rnnc CMD: message" and the usage line to stderr and returns EXIT_USAGE. */
int cli_parse(const Command *c, int argc, char **argv, CliArgs *out);
/* Last value of option `name`, or NULL.  cli_has: was the option given. */
const char *cli_get(const CliArgs *a, const char *name);
int cli_has(const CliArgs *a, const char *name);
void cli_usage(const Command *c, FILE *out);
void cli_help(const Command *c, FILE *out);
/* Prints "rnnc CMD: message" and the usage line; returns EXIT_USAGE. */
int cli_usage_error(const Command *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "rnnc: message" to stderr; returns 1 (the exit status of a user error). */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses an integer option value; prints a usage error and returns
 * EXIT_USAGE if it is not one, else 0. */
int cli_int(const Command *c, const char *name, const char *s, long long *out);

/* A source file read, parsed and (optionally) turned into IR.  All of it
 * freed by source_free(). */
typedef struct Source {
    char *text;
    Diag diag;
    Program *prog;
    IrModule *ir;
} Source;

/* Reads and parses `path`; returns 0 or 1 (errors already printed). */
int source_parse(Source *s, const char *path);
/* source_parse, then sema to IR of `model` (NULL: the first model) and the
 * IR verifier; returns 0 or 1. */
int source_load(Source *s, const char *path, const char *model);
void source_free(Source *s);

#endif
