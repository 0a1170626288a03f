/* cmd_init.c - `rnnc init`: fresh weights for every parameter of a model,
 * written as one safetensors file. */
#include <string.h>

#include "driver/cli.h"
#include "driver/run_setup.h"
#include "io/tensor.h"

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
    if (run_init_weights(s.ir, (uint64_t)seed, &w)) goto done;
    char err[512];
    if (rt_st_write(out, &w, err, sizeof err)) {
        cli_error("%s", err);
        goto done;
    }
    printf("wrote %d parameters of model '%s' to %s\n", w.count, s.ir->name, out);
    rc = 0;
done:
    rt_map_free(&w);
    source_free(&s);
    return rc;
}

static const CliOpt opts[] = {
    {"output", 'o', 1, "W.safetensors  where to write the weights"},
    {"seed", 0, 1, "N              seed of the random initialization (default 0)"},
    {"model", 'm', 1, "NAME           the model (default: the first)"},
    {0},
};

const Command cmd_init = {
    .name = "init",
    .synopsis = "FILE -o W.safetensors [--seed N]",
    .summary = "write freshly initialized weights for a model",
    .details = "Writes a safetensors file holding every parameter of FILE's model under\n"
               "its PyTorch state_dict name, initialized as PyTorch does for built-in\n"
               "layers and as declared ('init ...') for user cells' parameters.",
    .opts = opts,
    .min_pos = 1,
    .max_pos = 1,
    .run = run,
};
