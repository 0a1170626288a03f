/* cmd_init.c - `rnnc init`: fresh weights for every parameter of a model,
 * written as one safetensors file. */
#include <string.h>

#include "driver/cli.h"
#include "runtime/init.h"
#include "runtime/tensor.h"

/* IrInitKind and RtInitKind list the same initializers; the runtime keeps
 * its own enum so that it does not depend on the IR. */
static RtInitKind rt_kind(IrInitKind k)
{
    switch (k) {
    case IR_INIT_ZERO: return RT_INIT_ZERO;
    case IR_INIT_ONE: return RT_INIT_ONE;
    case IR_INIT_UNIFORM: return RT_INIT_UNIFORM;
    case IR_INIT_NORMAL: return RT_INIT_NORMAL;
    case IR_INIT_XAVIER: return RT_INIT_XAVIER;
    case IR_INIT_ORTHOGONAL: return RT_INIT_ORTHOGONAL;
    case IR_INIT_CONST: return RT_INIT_CONST;
    }
    return RT_INIT_ZERO;
}

static int run(const CliArgs *a)
{
    const char *out = cli_get(a, "output");
    if (!out) return cli_usage_error(&cmd_init, "missing -o W.safetensors");
    long long seed = 0;
    if (cli_has(a, "seed") && cli_int(&cmd_init, "seed", cli_get(a, "seed"), &seed)) return EXIT_USAGE;

    Source s;
    int rc = source_load(&s, a->pos[0], cli_get(a, "model"));
    TensorMap w;
    rt_map_init(&w);
    if (rc) goto done;
    rc = 1;
    RtRng rng;
    rt_rng_seed(&rng, (uint64_t)seed);
    char err[512];
    for (int i = 0; i < s.ir->nparams; i++) {
        const IrParam *p = &s.ir->params[i];
        Tensor t;
        if (rt_tensor_alloc(&t, RT_F32, p->value->type.rank, p->value->type.dim)) {
            cli_error("parameter '%s': out of memory", p->name);
            goto done;
        }
        if (rt_init_fill(t.data, t.rank, t.shape, rt_kind(p->init.kind), p->init.a, &rng, err, sizeof err)) {
            rt_tensor_free(&t);
            cli_error("parameter '%s': %s", p->name, err);
            goto done;
        }
        rt_map_put(&w, p->name, &t);
    }
    if (rt_st_write(out, &w, err, sizeof err)) { cli_error("%s", err); goto done; }
    printf("wrote %d parameters of model '%s' to %s\n", w.count, s.ir->name, out);
    rc = 0;
done:
    rt_map_free(&w);
    source_free(&s);
    return rc;
}

static const CliOpt opts[] = {
    { "output", 'o', 1, "W.safetensors  where to write the weights" },
    { "seed", 0, 1, "N              seed of the random initialization (default 0)" },
    { "model", 'm', 1, "NAME           the model (default: the first)" },
    { 0 },
};

const Command cmd_init = {
    .name = "init", .synopsis = "FILE -o W.safetensors [--seed N]",
    .summary = "write freshly initialized weights for a model",
    .details = "Writes a safetensors file holding every parameter of FILE's model under\n"
               "its PyTorch state_dict name, initialized as PyTorch does for built-in\n"
               "layers and as declared ('init ...') for user cells' parameters.",
    .opts = opts, .min_pos = 1, .max_pos = 1, .run = run,
};
