/* cmd_run.c - `rnnc run`: run a model's forward pass on data with the
 * reference interpreter and write or print its outputs. */
#include <stdlib.h>
#include <string.h>

#include "driver/cli.h"
#include "ir/bind.h"
#include "ir/interp.h"
#include "runtime/tensor.h"

/* Splits "NAME=path" of option -X; returns 0 or a usage error. */
static int split_binding(const char *opt, const char *v, char *name, size_t n, const char **path)
{
    const char *eq = strchr(v, '=');
    if (!eq || eq == v || !eq[1] || (size_t)(eq - v) >= n)
        return cli_usage_error(&cmd_run, "option '%s' needs NAME=FILE, got '%s'", opt, v);
    memcpy(name, v, (size_t)(eq - v));
    name[eq - v] = 0;
    *path = eq + 1;
    return 0;
}

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

static int run(const CliArgs *a)
{
    const char *prec_s = cli_get(a, "precision");
    IrPrecision prec = IR_PREC_F32;
    if (prec_s && !strcmp(prec_s, "f64")) prec = IR_PREC_F64;
    else if (prec_s && strcmp(prec_s, "f32"))
        return cli_usage_error(&cmd_run, "unknown precision '%s' (f32 or f64)", prec_s);

    Source s;
    TensorMap weights, inputs, outputs;
    rt_map_init(&weights); rt_map_init(&inputs); rt_map_init(&outputs);
    char err[512], name[256];
    const char *path;
    int rc = source_load(&s, a->pos[0], cli_get(a, "model"));
    if (rc) goto done;
    rc = 1;

    /* Check every -o name before the (possibly long) run. */
    for (int i = 0; i < a->nopts; i++) {
        if (strcmp(a->opt[i]->name, "output")) continue;
        if (split_binding("-o", a->val[i], name, sizeof name, &path)) { rc = EXIT_USAGE; goto done; }
        if (!is_output(s.ir, name)) {
            cli_error("'%s' is not an output of model '%s'", name, s.ir->name);
            list_outputs(s.ir);
            goto done;
        }
    }

    const char *wpath = cli_get(a, "weights");
    if (wpath) {
        if (rt_st_read(wpath, &weights, err, sizeof err)) { cli_error("%s", err); goto done; }
    } else if (s.ir->nparams) {
        cli_error("model '%s' has %d parameters: give a weights file with -w (make one with 'rnnc init')",
                  s.ir->name, s.ir->nparams);
        goto done;
    }
    if (ir_bind_params(s.ir, &weights, wpath ? wpath : "(no weights)", err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }

    for (int i = 0; i < a->nopts; i++) {
        if (strcmp(a->opt[i]->name, "input")) continue;
        if (split_binding("-i", a->val[i], name, sizeof name, &path)) { rc = EXIT_USAGE; goto done; }
        Tensor t;
        if (rt_npy_read(path, &t, err, sizeof err)) { cli_error("%s", err); goto done; }
        if (rt_map_get(&inputs, name)) { rt_tensor_free(&t); cli_error("input '%s' given twice", name); goto done; }
        rt_map_put(&inputs, name, &t);
    }

    if (interp_run(s.ir, &weights, &inputs, &outputs, prec, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }

    int wrote = 0;
    for (int i = 0; i < a->nopts; i++) {
        if (strcmp(a->opt[i]->name, "output")) continue;
        split_binding("-o", a->val[i], name, sizeof name, &path);
        const Tensor *t = rt_map_get(&outputs, name);
        if (!t) { cli_error("output '%s' was not computed (is every target given with -i?)", name); goto done; }
        if (rt_npy_write(path, t, err, sizeof err)) { cli_error("%s", err); goto done; }
        wrote = 1;
    }
    if (!wrote) print_outputs(&outputs);
    rc = 0;
done:
    rt_map_free(&weights); rt_map_free(&inputs); rt_map_free(&outputs);
    source_free(&s);
    return rc;
}

static const CliOpt opts[] = {
    { "weights", 'w', 1, "W.safetensors  the model's parameters" },
    { "input", 'i', 1, "NAME=x.npy     an input or target (repeat for each)" },
    { "output", 'o', 1, "NAME=y.npy     write an output, or the loss, to a file (repeatable)" },
    { "model", 'm', 1, "NAME           the model to run (default: the first)" },
    { "precision", 0, 1, "f32|f64        arithmetic of the interpreter (default f32)" },
    { 0 },
};

const Command cmd_run = {
    .name = "run", .synopsis = "FILE -w W.safetensors -i NAME=x.npy ... [-o NAME=y.npy ...]",
    .summary = "run a model on data and write or print its outputs",
    .details = "Runs the forward pass of FILE's model with the weights W on the inputs\n"
               "given by -i (time-major .npy arrays: [T, B, F] float32 or [T, B] int ids).\n"
               "Targets given with -i make the loss available as the output 'loss'.\n"
               "Each -o writes one output as .npy; with no -o, every output's shape and\n"
               "first values are printed.",
    .opts = opts, .min_pos = 1, .max_pos = 1, .run = run,
};
