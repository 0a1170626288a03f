/* main.c - the `rnnc` command: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "driver/cli.h"
#include "driver/cli_hint.h"
#include "ir/timing.h"

#define RNNC_VERSION "0.1.0"

static const Command *const commands[] = {&cmd_check, &cmd_dump,   &cmd_init,   &cmd_run,    &cmd_grad,
                                          &cmd_train, &cmd_sample, &cmd_export, &cmd_compile};
#define NCOMMANDS (int)(sizeof commands / sizeof commands[0])

static const Command *find(const char *name)
{
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i]->name, name) == 0) return commands[i];
    return NULL;
}

static void help(FILE *out)
{
    fprintf(out, "rnnc - a compiler for recurrent neural networks\n\n"
                 "usage: rnnc COMMAND [options] FILE.rnn\n\ncommands:\n");
    for (int i = 0; i < NCOMMANDS; i++) fprintf(out, "  %-8s %s\n", commands[i]->name, commands[i]->summary);
    fprintf(out, "\n'rnnc help COMMAND' describes a command; 'rnnc --version' prints the version.\n"
                 "The language is described in docs/language.md, the commands in docs/cli.md.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        help(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        help(stdout);
        return 0;
    }
    if (!strcmp(name, "--version")) {
        printf("rnnc %s\n", RNNC_VERSION);
        return 0;
    }
    if (!strcmp(name, "help")) {
        if (argc == 2) {
            help(stdout);
            return 0;
        }
        const Command *c = find(argv[2]);
        if (!c || argc > 3) {
            char hint[512];
            if (c)
                fprintf(stderr, "rnnc help: too many arguments\n");
            else {
                cli_hint_command(argv[2], commands, NCOMMANDS, hint, sizeof hint);
                fprintf(stderr, "rnnc help: unknown command '%s'; %s\n", argv[2], hint);
            }
            fprintf(stderr, "usage: rnnc help [COMMAND]\n");
            return EXIT_USAGE;
        }
        cli_help(c, stdout);
        return 0;
    }
    const Command *c = find(name);
    if (!c) {
        char hint[512];
        cli_hint_command(name, commands, NCOMMANDS, hint, sizeof hint);
        fprintf(stderr, "rnnc: unknown command '%s'; %s (see 'rnnc --help')\n", name, hint);
        return EXIT_USAGE;
    }
    for (int i = 2; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            cli_help(c, stdout);
            return 0;
        }
    CliArgs a;
    if (cli_parse(c, argc - 2, argv + 2, &a)) return EXIT_USAGE;
    if (cli_has(&a, "time-passes")) timing_enable();
    int rc = c->run(&a);
    timing_report(stderr); /* nothing unless enabled */
    return rc;
}
