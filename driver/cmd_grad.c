/* cmd_grad.c - `rnnc grad`: differentiate a model (pipeline_grad), run
 * the forward and backward pass with the engine (engine.h) on data,
 * print the loss and write every parameter's gradient; with --per-step
 * also the norm of the gradient reaching each recurrent state at each time
 * step (driver/step_norms.c), as a table and optionally an SVG chart. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "driver/cli.h"
#include "driver/input_layout.h"
#include "driver/dropout_key.h"
#include "exec/engine.h"
#include "driver/run_setup.h"
#include "driver/step_norms.h"
#include "io/tensor.h"
#include "passes/pipeline.h"

static double elem(const Tensor *t, int64_t i)
{
    return t->dtype == RT_F64 ? ((const double *)t->data)[i] : ((const float *)t->data)[i];
}

/* Without -o: each gradient's shape, L2 norm and first values. */
static void print_grads(const TensorMap *g)
{
    for (int i = 0; i < g->count; i++) {
        const Tensor *t = &g->tensors[i];
        char shape[128];
        int64_t n = rt_numel(t);
        double ss = 0;
        for (int64_t k = 0; k < n; k++) ss += elem(t, k) * elem(t, k);
        printf("%s: %s %s norm %.6g =", g->names[i], rt_dtype_name(t->dtype), rt_shape_str(t, shape, sizeof shape),
               sqrt(ss));
        for (int64_t k = 0; k < n && k < 6; k++) printf(" %.6g", elem(t, k));
        printf("%s\n", n > 6 ? " ..." : "");
    }
}

static int run(const CliArgs *a)
{
    IrPrecision prec;
    if (run_precision(&cmd_grad, a, &prec)) return EXIT_USAGE;
    Engine eng;
    if (run_engine(&cmd_grad, a, prec, &eng)) return EXIT_USAGE;

    /* --per-step-svg implies --per-step: the chart needs the norms. */
    const char *svg_path = cli_get(a, "per-step-svg");
    int per_step = cli_has(a, "per-step") || svg_path;
    if (svg_path && !*svg_path) {
        engine_close(&eng);
        return cli_usage_error(&cmd_grad, "option '--per-step-svg' needs a file name");
    }

    /* --seed: the dropout masks' (driver/dropout_key.h), at step 0 */
    long long seed = 0;
    if (cli_has(a, "seed") && cli_int(&cmd_grad, "seed", cli_get(a, "seed"), &seed)) {
        engine_close(&eng);
        return EXIT_USAGE;
    }
    if (seed < 0) {
        engine_close(&eng);
        return cli_usage_error(&cmd_grad, "--seed must be non-negative");
    }

    Source s;
    TensorMap weights, inputs, outputs, grads;
    StepNorms norms = {0};
    rt_map_init(&weights);
    rt_map_init(&inputs);
    rt_map_init(&outputs);
    rt_map_init(&grads);
    char err[512];
    int rc = source_load(&s, a->pos[0], cli_get(a, "model"));
    if (rc) goto done;
    rc = 1;
    IrModule *m = s.ir;
    PipeOpts po = {.optimize = engine_optimizes(&eng)};
    if (pipeline_grad(m, per_step, &po, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }

    const char *wpath = cli_get(a, "weights");
    if (!wpath && !m->nparams) {
        cli_error("model '%s' has no parameters: there is nothing to differentiate", m->name);
        goto done;
    }
    if (run_load_weights(m, wpath, &weights)) goto done;
    rc = run_read_inputs(&cmd_grad, a, &inputs);
    if (rc) goto done;
    if (run_check_input_names(m, &inputs)) {
        rc = 1;
        goto done;
    }
    input_layout_warn(m, &inputs);
    rc = 1;
    /* The loss needs every target; say which one is missing up front. */
    for (int i = 0; i < m->ntargets; i++)
        if (!rt_map_get(&inputs, m->targets[i].name)) {
            cli_error("the gradient needs the loss: give target '%s' with -i %s=FILE.npy", m->targets[i].name,
                      m->targets[i].name);
            goto done;
        }

    if (dropout_key_put(m, &inputs, seed, 0)) {
        cli_error("out of memory");
        goto done;
    }
    if (eng.run(&eng, m, &weights, &inputs, &outputs, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    const Tensor *loss = rt_map_get(&outputs, "loss");
    if (!loss) {
        cli_error("internal error: the loss was not computed");
        goto done;
    }

    /* Gradients under the parameters' own names, in state_dict order. */
    for (int i = 0; i < m->noutputs; i++) {
        if (m->outputs[i].role != IR_ROLE_GRAD) continue;
        Tensor *g = rt_map_get(&outputs, m->outputs[i].name);
        if (!g) {
            cli_error("internal error: no gradient '%s' was computed", m->outputs[i].name);
            goto done;
        }
        Tensor t = *g;
        memset(g, 0, sizeof *g); /* moved to grads */
        if (rt_map_put(&grads, m->outputs[i].of, &t)) {
            rt_tensor_free(&t);
            cli_error("out of memory");
            goto done;
        }
    }

    printf("loss: %.9g\n", elem(loss, 0));
    const char *lpath = cli_get(a, "loss-out");
    if (lpath && rt_npy_write(lpath, loss, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    const char *opath = cli_get(a, "output");
    if (opath) {
        if (rt_st_write(opath, &grads, err, sizeof err)) {
            cli_error("%s", err);
            goto done;
        }
    } else if (!per_step) {
        print_grads(&grads);
    }
    if (per_step) {
        if (step_norms_collect(m, &outputs, &norms, err, sizeof err)) {
            cli_error("%s", err);
            goto done;
        }
        step_norms_print(&norms, stdout);
        if (svg_path) {
            char title[256];
            snprintf(title, sizeof title, "%s: gradient reaching the recurrent state per step", m->name);
            if (step_norms_svg(&norms, svg_path, title, err, sizeof err)) {
                cli_error("%s", err);
                goto done;
            }
        }
    }
    rc = 0;
done:
    step_norms_free(&norms);
    rt_map_free(&weights);
    rt_map_free(&inputs);
    rt_map_free(&outputs);
    rt_map_free(&grads);
    engine_close(&eng);
    source_free(&s);
    return rc;
}

static const CliOpt opts[] = {
    {"weights", 'w', 1, "W.safetensors  the model's parameters"},
    {"input", 'i', 1, "NAME=x.npy     an input or target (repeat for each; every target is needed)"},
    {"output", 'o', 1, "G.safetensors  write the gradients (default: print a summary)"},
    {"loss-out", 0, 1, "L.npy          also write the loss, a 0-d array"},
    {"per-step", 0, 0, "               print the state gradient norm at every time step"},
    {"per-step-svg", 0, 1, "FILE.svg       and draw it (log scale); implies --per-step"},
    {"seed", 0, 1, "N              the seed of the dropout masks (default 0)"},
    {"model", 'm', 1, "NAME           the model (default: the first)"},
    {"precision", 0, 1, "f32|f64        arithmetic of the interpreter (default f32)"},
    {"engine", 0, 1, "interp|c|jit   run with the interpreter, compiled C or the LLVM JIT (default jit)"},
    CLI_OPT_TIME_PASSES,
    {0},
};

const Command cmd_grad = {
    .name = "grad",
    .synopsis = "FILE -w W.safetensors -i NAME=x.npy ... [-o G.safetensors] [--loss-out L.npy] "
                "[--per-step] [--per-step-svg FILE.svg]",
    .summary = "compute the loss and its gradient for every parameter",
    .details = "Differentiates FILE's model (reverse mode, backpropagation through time)\n"
               "and runs it with the engine (default the LLVM JIT, see rnnc help run) on\n"
               "the inputs and targets given by -i. Prints the loss; with -o writes\n"
               "d loss / d parameter for every parameter, under the parameter's name, as\n"
               "safetensors (written to a temporary name and renamed); without -o prints\n"
               "each gradient's shape, norm and first values. The model must have a\n"
               "loss. --loss-out writes the loss as a 0-d .npy as well. Dropout is on,\n"
               "its masks those of step 0 of a train run with --seed N (default 0).\n"
               "\n"
               "--per-step prints, for every recurrent state of every layer (each\n"
               "scan's carried value: h, and c for an lstm; each direction of a\n"
               "bidirectional layer), the norm of d loss / d state after step t at\n"
               "every step t, summed over the batch (Frobenius over [B, H]): how the\n"
               "gradient vanishes or explodes going back in time. --per-step-svg\n"
               "FILE.svg also draws it, one line a state, log scale.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
