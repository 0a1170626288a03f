/* cmd_check.c - `rnnc check FILE`: parse and check every declaration. */
#include "driver/cli.h"
#include "frontend/sema.h"

/* "1 model, 2 cells, 1 train block": what was checked, so that a silent
 * success does not look like a file with nothing in it. */
static void print_decls(const Program *p)
{
    static const char *const what[] = {[DECL_MODEL] = "model", [DECL_CELL] = "cell", [DECL_TRAIN] = "train block"};
    int n[3] = {0};
    for (int i = 0; i < p->ndecls; i++) n[p->decls[i]->kind]++;
    const char *sep = "";
    for (int k = 0; k < 3; k++) {
        if (!n[k] && !(k == DECL_MODEL && !p->ndecls)) continue;
        printf("%s%d %s%s", sep, n[k], what[k], n[k] == 1 ? "" : "s");
        sep = ", ";
    }
}

static int run(const CliArgs *a)
{
    Source s;
    int rc = source_parse(&s, a->pos[0]);
    if (!rc && s.prog) rc = sema_check(s.prog, &s.diag) ? 1 : 0;
    if (s.diag.nerrors || s.diag.nwarnings) {
        fprintf(stderr, "%d error%s, %d warning%s\n", s.diag.nerrors, s.diag.nerrors == 1 ? "" : "s", s.diag.nwarnings,
                s.diag.nwarnings == 1 ? "" : "s");
    } else if (!rc && s.prog) {
        /* docs/cli.md: the count follows the report, also when it is empty */
        printf("%s: ", a->pos[0]);
        print_decls(s.prog);
        printf(": 0 errors, 0 warnings\n");
    }
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
               "Then the count of errors and warnings; without any, one line on stdout\n"
               "with what was checked. Exit status 1 if there was an error, 0 otherwise\n"
               "(warnings included).",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
