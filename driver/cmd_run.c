/* cmd_run.c - `rnnc run`: run a model's forward pass on data with an
 * engine (engine.h: the LLVM JIT by default, compiled C, or the reference
 * interpreter) and write or print its outputs. */
#include <stdlib.h>
#include <string.h>

#include "driver/cli.h"
#include "driver/input_layout.h"
#include "exec/engine.h"
#include "driver/run_setup.h"
#include "frontend/suggest.h"
#include "io/tensor.h"
#include "passes/pipeline.h"

static int is_output(const IrModule *m, const char *name)
{
    if (!strcmp(name, "loss")) return m->loss != NULL;
    for (int i = 0; i < m->noutputs; i++)
        if (!strcmp(m->outputs[i].name, name)) return 1;
    return 0;
}

static void list_outputs(const IrModule *m)
{
    fprintf(stderr, "rnnc: the model's outputs are:");
    for (int i = 0; i < m->noutputs; i++) fprintf(stderr, " %s", m->outputs[i].name);
    if (m->loss) fprintf(stderr, " loss");
    fprintf(stderr, "\n");
}

/* Without -o: each output's shape and its first few values. */
static void print_outputs(const TensorMap *out)
{
    for (int i = 0; i < out->count; i++) {
        const Tensor *t = &out->tensors[i];
        char shape[128];
        int64_t n = rt_numel(t);
        printf("%s: %s %s =", out->names[i], rt_dtype_name(t->dtype), rt_shape_str(t, shape, sizeof shape));
        for (int64_t k = 0; k < n && k < 8; k++) {
            double v = t->dtype == RT_F64 ? ((const double *)t->data)[k] : ((const float *)t->data)[k];
            printf(" %.6g", v);
        }
        printf("%s\n", n > 8 ? " ..." : "");
    }
}

static int named(const IrInput *list, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(list[i].name, name)) return 1;
    return 0;
}

/* Removes from the inputs the targets of `was` (the module as sema built
 * it) that m, derived without the loss, no longer takes. */
static int drop_targets(const IrInput *was, int nwas, const IrModule *m, TensorMap *inputs)
{
    TensorMap keep;
    rt_map_init(&keep);
    for (int i = 0; i < inputs->count; i++) {
        const char *name = inputs->names[i];
        if (named(was, nwas, name) && !named(m->targets, m->ntargets, name)) continue;
        if (rt_map_put(&keep, inputs->names[i], &inputs->tensors[i])) {
            rt_map_free(&keep);
            return cli_error("out of memory");
        }
    }
    rt_map_free(inputs);
    *inputs = keep;
    return 0;
}

static int run(const CliArgs *a)
{
    IrPrecision prec;
    if (run_precision(&cmd_run, a, &prec)) return EXIT_USAGE;
    Engine eng;
    if (run_engine(&cmd_run, a, prec, &eng)) return EXIT_USAGE;

    Source s;
    TensorMap weights, inputs, outputs;
    rt_map_init(&weights);
    rt_map_init(&inputs);
    rt_map_init(&outputs);
    char err[512], name[256];
    const char *path;
    int rc = source_load(&s, a->pos[0], cli_get(a, "model"));
    if (rc) goto done;
    rc = 1;

    /* Check every -o name before the (possibly long) run. */
    for (int i = 0; i < a->nopts; i++) {
        if (strcmp(a->opt[i]->name, "output")) continue;
        if (run_binding(&cmd_run, "-o", a->val[i], name, sizeof name, &path)) {
            rc = EXIT_USAGE;
            goto done;
        }
        if (!is_output(s.ir, name)) {
            Suggest sg;
            suggest_init(&sg, name);
            for (int j = 0; j < s.ir->noutputs; j++) suggest_add(&sg, s.ir->outputs[j].name);
            if (s.ir->loss) suggest_add(&sg, "loss");
            const char *near = suggest_best(&sg);
            cli_error("'%s' is not an output of model '%s'%s%s%s", name, s.ir->name, near ? "; did you mean '" : "",
                      near ? near : "", near ? "'?" : "");
            list_outputs(s.ir);
            goto done;
        }
    }

    if (run_load_weights(s.ir, cli_get(a, "weights"), &weights)) goto done;
    rc = run_read_inputs(&cmd_run, a, &inputs);
    if (rc) goto done;
    if (run_check_input_names(s.ir, &inputs)) {
        rc = 1;
        goto done;
    }
    input_layout_warn(s.ir, &inputs);
    rc = 1;

    /* The loss when every target is given; else the module leaves it out
     * and takes no target but those an output reads. */
    int all_targets = 1;
    for (int i = 0; i < s.ir->ntargets; i++) all_targets &= rt_map_get(&inputs, s.ir->targets[i].name) != NULL;
    int nwas = s.ir->ntargets;
    IrInput *was = malloc(sizeof *was * (size_t)(nwas ? nwas : 1));
    if (!was) {
        cli_error("out of memory");
        goto done;
    }
    if (nwas) memcpy(was, s.ir->targets, sizeof *was * (size_t)nwas);
    PipeOpts po = {.optimize = engine_optimizes(&eng)};
    int bad = pipeline_forward(s.ir, all_targets, &po, err, sizeof err) ? cli_error("%s", err)
                                                                        : drop_targets(was, nwas, s.ir, &inputs);
    free(was);
    if (bad) goto done;
    if (eng.run(&eng, s.ir, &weights, &inputs, &outputs, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }

    int wrote = 0;
    for (int i = 0; i < a->nopts; i++) {
        if (strcmp(a->opt[i]->name, "output")) continue;
        run_binding(&cmd_run, "-o", a->val[i], name, sizeof name, &path);
        const Tensor *t = rt_map_get(&outputs, name);
        if (!t) {
            cli_error("output '%s' was not computed (is every target given with -i?)", name);
            goto done;
        }
        if (rt_npy_write(path, t, err, sizeof err)) {
            cli_error("%s", err);
            goto done;
        }
        wrote = 1;
    }
    if (!wrote) print_outputs(&outputs);
    rc = 0;
done:
    rt_map_free(&weights);
    rt_map_free(&inputs);
    rt_map_free(&outputs);
    engine_close(&eng);
    source_free(&s);
    return rc;
}

static const CliOpt opts[] = {
    {"weights", 'w', 1, "W.safetensors  the model's parameters"},
    {"input", 'i', 1, "NAME=x.npy     an input or target (repeat for each)"},
    {"output", 'o', 1, "NAME=y.npy     write an output, or the loss, to a file (repeatable)"},
    {"model", 'm', 1, "NAME           the model to run (default: the first)"},
    {"precision", 0, 1, "f32|f64        arithmetic of the interpreter (default f32)"},
    {"engine", 0, 1, "interp|c|jit   run with the interpreter, compiled C or the LLVM JIT (default jit)"},
    CLI_OPT_TIME_PASSES,
    {0},
};

const Command cmd_run = {
    .name = "run",
    .synopsis = "FILE -w W.safetensors -i NAME=x.npy ... [-o NAME=y.npy ...]",
    .summary = "run a model on data and write or print its outputs",
    .details = "Runs the forward pass of FILE's model with the weights W on the inputs\n"
               "given by -i (time-major .npy arrays: [T, B, F] float32 or [T, B] int ids).\n"
               "Targets given with -i make the loss available as the output 'loss'.\n"
               "Each -o writes one output as .npy; with no -o, every output's shape and\n"
               "first values are printed. --engine picks what runs it: the LLVM JIT\n"
               "(default; $RNNC_ENGINE changes the default), compiled C or the reference\n"
               "interpreter (also the default with --precision f64).",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
