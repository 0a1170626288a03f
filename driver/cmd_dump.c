/* cmd_dump.c - `rnnc dump`: print a stage of the pipeline as text or as a
 * Graphviz drawing. */
#include <string.h>

#include "lower/kcompile.h"
#include "kir/kir.h"
#include "driver/cli.h"
#include "driver/cli_hint.h"
#include "passes/autodiff.h"
#include "passes/dropout.h"
#include "passes/merge_linear.h"
#include "passes/pipeline.h"
#include "passes/unroll.h"

static int run(const CliArgs *a)
{
    const char *stage = cli_get(a, "stage");
    const char *format = cli_get(a, "format");
    if (!stage) stage = "ir";
    if (!format) format = "text";
    int dot = 0;
    if (!strcmp(format, "dot")) {
        dot = 1;
    } else if (strcmp(format, "text")) {
        static const char *const choices[] = {"text", "dot", NULL};
        char hint[128];
        cli_hint_value(format, choices, hint, sizeof hint);
        return cli_usage_error(&cmd_dump, "unknown format '%s' (text or dot)%s", format, hint);
    }
    long long unroll = 0;
    if (cli_has(a, "unroll")) {
        const char *v = cli_get(a, "unroll");
        unroll = 4;
        if (v && cli_int(&cmd_dump, "unroll", v, &unroll)) return EXIT_USAGE;
        if (unroll < 1 || unroll > 64) return cli_usage_error(&cmd_dump, "--unroll needs a step count from 1 to 64");
        if (!dot && strcmp(stage, "unroll"))
            return cli_usage_error(&cmd_dump, "--unroll draws a graph: use it with --format=dot");
    }

    /* --grad: the stages after autodiff show the differentiated module */
    int grad = cli_has(a, "grad");
    if (grad && strcmp(stage, "opt") && strcmp(stage, "kernel"))
        return cli_usage_error(&cmd_dump,
                               "--grad goes with --stage=opt or --stage=kernel ('grad' is the stage itself)");

    Source s;
    int rc;
    if (!strcmp(stage, "ast")) {
        if (dot) return cli_usage_error(&cmd_dump, "the ast stage prints as text only");
        rc = source_parse(&s, a->pos[0]);
        if (!rc) ast_print(s.prog, stdout);
    } else if (!strcmp(stage, "ir") || !strcmp(stage, "grad") || !strcmp(stage, "unroll") || !strcmp(stage, "opt")) {
        rc = source_load(&s, a->pos[0], cli_get(a, "model"));
        char err[512];
        /* opt: first the products that share an input as one (merge_linear.h),
         * before autodiff as in the recipes */
        if (!rc && !strcmp(stage, "opt") && merge_linear(s.ir, err, sizeof err) < 0) rc = cli_error("%s", err);
        /* grad: dropout as the gradient recipe makes it (passes/dropout.h), then autodiff */
        if (!rc && (grad || !strcmp(stage, "grad")) &&
            (dropout_train(s.ir, err, sizeof err) < 0 || autodiff(s.ir, err, sizeof err)))
            rc = cli_error("%s", err);
        /* opt: hoist, sink, fold, cse, dce (passes/pipeline.h) */
        if (!rc && !strcmp(stage, "opt") && optimize(s.ir, err, sizeof err)) rc = cli_error("%s", err);
        /* unroll: every scan as straight-line steps, sequences fixed to --unroll steps (default 4) */
        int unrolled = !strcmp(stage, "unroll");
        if (!rc && unrolled && unroll_full(s.ir, unroll ? unroll : 4, err, sizeof err)) rc = cli_error("%s", err);
        if (!rc) {
            if (dot)
                ir_print_dot(s.ir, unrolled ? 0 : (int)unroll, stdout);
            else
                ir_print(s.ir, stdout);
        }
    } else if (!strcmp(stage, "kernel")) {
        /* kernel: the module `rnnc run` (with targets) or `rnnc grad` compiles
         * (passes/pipeline.h), then lowered, fused and planned
         * (lower/kcompile.h, docs/kernel-ir.md) */
        if (dot) return cli_usage_error(&cmd_dump, "the kernel stage prints as text only");
        rc = source_load(&s, a->pos[0], cli_get(a, "model"));
        char err[512];
        PipeOpts po = {.optimize = 1};
        if (!rc &&
            (grad ? pipeline_grad(s.ir, 0, &po, err, sizeof err) : pipeline_forward(s.ir, 1, &po, err, sizeof err)))
            rc = cli_error("%s", err);
        KFunc *f = NULL;
        if (!rc && !(f = kcompile(s.ir, grad ? "gradient" : "forward", err, sizeof err))) rc = cli_error("%s", err);
        if (!rc) kfunc_print(f, stdout);
        kfunc_free(f);
    } else {
        static const char *const choices[] = {"ast", "ir", "grad", "opt", "unroll", "kernel", NULL};
        char hint[128];
        cli_hint_value(stage, choices, hint, sizeof hint);
        return cli_usage_error(&cmd_dump, "unknown stage '%s' (ast, ir, grad, opt, unroll or kernel)%s", stage, hint);
    }
    source_free(&s);
    return rc;
}

static const CliOpt opts[] = {
    {"stage", 0, 1, "ast|ir|grad|opt|unroll|kernel  the stage to print (default ir)"},
    {"format", 0, 1, "text|dot  text, or a Graphviz drawing (default text)"},
    {"unroll", 0, 2, "[=N]      draw every scan unfolded over N steps; --stage=unroll: unroll to N (default 4)"},
    {"grad", 0, 0, "          with --stage=opt or kernel: the module after autodiff (forward and backward)"},
    {"model", 'm', 1, "NAME      the model to dump (default: the first)"},
    CLI_OPT_TIME_PASSES,
    {0},
};

const Command cmd_dump = {
    .name = "dump",
    .synopsis = "[--stage=ast|ir|grad|opt|unroll|kernel] [--grad] [--format=text|dot] [--unroll[=N]] FILE",
    .summary = "print the program after a stage, as text or Graphviz",
    .details = "Prints FILE after a stage of the compiler: 'ast' is the syntax tree as\n"
               "parsed, 'ir' the graph IR that sema builds (docs/ir.md), 'grad' the IR\n"
               "after autodiff (loss and every parameter's gradient), 'opt' the IR after the\n"
               "optimization passes (hoist, sink, fold, cse, dce), 'unroll' the IR with\n"
               "every scan unrolled into straight-line steps over T = --unroll (default 4),\n"
               "'kernel' the kernel IR of the optimized model, its element-wise loops\n"
               "fused, with its memory plan (docs/kernel-ir.md); with --grad, 'opt' and\n"
               "'kernel' show the differentiated module (forward and backward). With\n"
               "--format=dot the IR is drawn for Graphviz (rnnc dump --format=dot m.rnn |\n"
               "dot -Tsvg > m.svg); --unroll=N draws each scan unfolded over N time steps,\n"
               "one copy of the cell per step, with shared weights drawn once.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
