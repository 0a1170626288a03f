/* cmd_check.c - `rnnc check FILE`: parse and check every declaration. */
#include "driver/cli.h"
#include "frontend/sema.h"

static int run(const CliArgs *a)
{
    Source s;
    int rc = source_parse(&s, a->pos[0]);
    if (!rc && s.prog) rc = sema_check(s.prog, &s.diag) ? 1 : 0;
    if (s.diag.nerrors || s.diag.nwarnings)
        fprintf(stderr, "%d error%s, %d warning%s\n", s.diag.nerrors, s.diag.nerrors == 1 ? "" : "s", s.diag.nwarnings,
                s.diag.nwarnings == 1 ? "" : "s");
    source_free(&s);
    return rc;
}

static const CliOpt opts[] = {{0}};

const Command cmd_check = {
    .name = "check",
    .synopsis = "FILE",
    .summary = "check a model file and report every error",
    .details = "Parses FILE and checks every model, cell and train block in it: names,\n"
               "shapes and arguments. Errors and warnings are printed as\n"
               "file:line:col: error: message, with the source line and a caret.\n"
               "Exit status 1 if there was an error, 0 otherwise (warnings included).",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
