/* test_dist.c - data-parallel training's parts that need no MPI
 * (docs/distributed.md; tests/mpi/run.sh runs the whole under mpirun):
 *   - the launcher's process count from an environment, and the one-process
 *     world of a build without MPI (driver/dist_serial.c, compiled in here
 *     whichever the build links): its collectives are copies, and under a
 *     launcher of several processes it refuses, saying how to get MPI;
 *   - a share's rows of a tensor along its batch axis, put back in place
 *     (driver/dist_shard.h), and the batch axis from a module's types;
 *   - the two halves of a training step (pipeline_train_grad, then
 *     pipeline_update on its gradients) give the fused step's
 *     (pipeline_train) new parameters, optimizer state and gradient norm
 *     bit for bit on the interpreter: the same float ops in the same
 *     order, only cut in two;
 *   - the interpreter's hooked run (ir/run_hook.h), which the overlap of
 *     the sum with the backward pass rests on: every gradient told once,
 *     with the bits the run hands back, and the later layers' before the
 *     run ends. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver/checkpoint.c"
#include "driver/dist_env.c"
#include "driver/dist_serial.c"
#include "driver/dist_shard.c"
#include "exec/engine.h"
#include "passes/pipeline.h"
#include "tests/unit/test_models.h"
#include "tests/unit/test_util.h"

/* ---- the world --------------------------------------------------------------- */

static void test_launched_size(void **state)
{
    (void)state;
    char *none[] = {"PATH=/bin", "OMPI_COMM_WORLD_SIZE_X=4", NULL};
    char *ompi[] = {"PATH=/bin", "OMPI_COMM_WORLD_SIZE=4", NULL};
    char *pmi[] = {"PMI_SIZE=3", NULL};
    char *srun[] = {"SLURM_STEP_NUM_TASKS=8", NULL};
    char *batch[] = {"SLURM_NTASKS=8", NULL}; /* a batch script, not a step */
    char *one[] = {"OMPI_COMM_WORLD_SIZE=1", NULL};
    char *junk[] = {"PMI_SIZE=many", NULL};
    assert_int_equal(dist_launched_size(none), 1);
    assert_int_equal(dist_launched_size(ompi), 4);
    assert_int_equal(dist_launched_size(pmi), 3);
    assert_int_equal(dist_launched_size(srun), 8);
    assert_int_equal(dist_launched_size(batch), 1);
    assert_int_equal(dist_launched_size(one), 1);
    assert_int_equal(dist_launched_size(junk), 1);
}

static void test_serial_world(void **state)
{
    (void)state;
    char err[600] = "";
    assert_int_equal(setenv("OMPI_COMM_WORLD_SIZE", "3", 1), 0);
    assert_int_equal(dist_init(err, sizeof err), -1);
    assert_non_null(strstr(err, "built without MPI, and a launcher started 3 copies"));
    assert_non_null(strstr(err, "libopenmpi-dev"));
    assert_int_equal(unsetenv("OMPI_COMM_WORLD_SIZE"), 0);
    assert_int_equal(dist_init(err, sizeof err), 0);
    assert_int_equal(dist_rank(), 0);
    assert_int_equal(dist_size(), 1);
    assert_int_equal(dist_available(), 0);
    float a[3] = {1, 2, 3}, b[3] = {0};
    assert_int_equal(dist_allreduce_sum(a, 3, err, sizeof err), 0);
    assert_true(a[0] == 1 && a[1] == 2 && a[2] == 3);
    assert_int_equal(dist_allgather(a, 3, b, err, sizeof err), 0);
    assert_memory_equal(a, b, sizeof a);
    int64_t v[2] = {5, -7};
    assert_int_equal(dist_allmax(v, 2, err, sizeof err), 0);
    assert_true(v[0] == 5 && v[1] == -7);
    /* the overlap's and the evaluation's sums: a world of one sends nothing */
    double d[2] = {0.5, -3};
    assert_int_equal(dist_allreduce_sum_f64(d, 2, err, sizeof err), 0);
    assert_true(d[0] == 0.5 && d[1] == -3);
    size_t arrived = 99;
    assert_int_equal(dist_iallreduce_sum(a, 3, err, sizeof err), 0);
    assert_int_equal(dist_progress(&arrived, err, sizeof err), 0);
    assert_int_equal(arrived, 0);
    assert_int_equal(dist_wait_all(err, sizeof err), 0);
    assert_true(a[0] == 1 && a[1] == 2 && a[2] == 3);
    dist_finish();
}

/* ---- shares ------------------------------------------------------------------- */

static void test_slice_place(void **state)
{
    (void)state;
    /* [2, 6, 3], batch axis 1: element (t, b, f) = 100 t + 10 b + f */
    int64_t shape[3] = {2, 6, 3};
    Tensor t, back;
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, 3, shape), 0);
    assert_int_equal(rt_tensor_alloc(&back, RT_F32, 3, shape), 0);
    float *v = t.data;
    for (int i = 0; i < 2; i++)
        for (int b = 0; b < 6; b++)
            for (int f = 0; f < 3; f++) v[(i * 6 + b) * 3 + f] = (float)(100 * i + 10 * b + f);
    for (int lo = 0; lo < 6; lo += 2) {
        Tensor s;
        assert_int_equal(shard_slice(&s, &t, 1, lo, lo + 2), 0);
        assert_int_equal(s.rank, 3);
        assert_true(s.shape[0] == 2 && s.shape[1] == 2 && s.shape[2] == 3);
        const float *sv = s.data;
        for (int i = 0; i < 2; i++)
            for (int b = 0; b < 2; b++)
                for (int f = 0; f < 3; f++)
                    assert_true(sv[(i * 2 + b) * 3 + f] == (float)(100 * i + 10 * (lo + b) + f));
        shard_place(&back, &s, 1, lo);
        rt_tensor_free(&s);
    }
    assert_memory_equal(back.data, t.data, 36 * sizeof(float));
    rt_tensor_free(&t);
    rt_tensor_free(&back);
}

static void test_axis(void **state)
{
    (void)state;
    TuBuilt b = tu_build(LSTM_SRC);
    assert_int_equal(shard_axis(b.m, "x"), 1); /* [T, B, 3]  */
    assert_int_equal(shard_axis(b.m, "y"), 1); /* a target   */
    assert_int_equal(shard_axis(b.m, "nothing"), -1);
    tu_built_free(&b);
}

/* ---- the two halves of a step -------------------------------------------------- */

static uint64_t rng_state = 88172645463325252ull;
static float urand(void)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (float)((double)(rng_state >> 11) / 9007199254740992.0 * 2 - 1);
}

static void put_rand(TensorMap *m, const char *name, int rank, const int64_t *shape, int zero)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, rank, shape), 0);
    for (int64_t i = 0; i < rt_numel(&t); i++) ((float *)t.data)[i] = zero ? 0 : urand();
    assert_int_equal(rt_map_put(m, name, &t), 0);
}

/* Random parameters of m (LSTM_SRC's) and inputs x, y of T 5, B 4. */
static void put_lstm_run(const IrModule *m, TensorMap *params, TensorMap *in)
{
    rt_map_init(params), rt_map_init(in);
    for (int i = 0; i < m->nparams; i++) {
        const IrType *ty = &m->params[i].value->type;
        put_rand(params, m->params[i].name, ty->rank, ty->dim, 0);
    }
    int64_t xs[3] = {5, 4, 3}, ys[3] = {5, 4, 1};
    put_rand(in, "x", 3, xs, 0);
    put_rand(in, "y", 3, ys, 0);
}

static void run_or_fail(const IrModule *m, const TensorMap *p, const TensorMap *in, TensorMap *out)
{
    char err[512] = "";
    rt_map_init(out);
    if (engine_interp.run(&engine_interp, m, p, in, out, err, sizeof err)) fail_msg("%s", err);
}

static void test_split_step(void **state)
{
    (void)state;
    char err[512] = "";
    TrainConfig cfg = train_config_default();
    cfg.clip = CLIP_NORM, cfg.clip_value = 0.05; /* small: the clip acts */
    PipeOpts po = {0};
    TuBuilt fused = tu_build(LSTM_SRC), half = tu_build(LSTM_SRC);
    IrModule *update = pipeline_update(half.m, &cfg, &po, err, sizeof err);
    assert_non_null(update);
    assert_int_equal(pipeline_train_grad(half.m, &po, err, sizeof err), 0);
    assert_int_equal(pipeline_train(fused.m, &cfg, &po, err, sizeof err), 0);

    TensorMap params, in, opt;
    rt_map_init(&opt);
    put_lstm_run(fused.m, &params, &in);
    /* Adam's state after some steps (not zeros) and step 3 */
    for (int i = 0; i < fused.m->ninputs; i++) {
        const IrInput *x = &fused.m->inputs[i];
        if (x->role == IR_ROLE_OPT_STATE) put_rand(&opt, x->name, x->value->type.rank, x->value->type.dim, 0);
    }
    for (int i = 0; i < opt.count; i++) /* v >= 0 */
        for (int64_t k = 0; k < rt_numel(&opt.tensors[i]); k++)
            if (strstr(opt.names[i], ".v")) ((float *)opt.tensors[i].data)[k] *= ((float *)opt.tensors[i].data)[k];
    int64_t none[1] = {0};
    TensorMap fin, gout, fout, uin, uout;
    rt_map_init(&fin), rt_map_init(&uin);
    for (int i = 0; i < in.count; i++) {
        Tensor c;
        assert_int_equal(tensor_copy(&c, &in.tensors[i]), 0);
        assert_int_equal(rt_map_put(&fin, in.names[i], &c), 0);
    }
    for (int i = 0; i < opt.count; i++) {
        Tensor c, d;
        assert_int_equal(tensor_copy(&c, &opt.tensors[i]), 0);
        assert_int_equal(tensor_copy(&d, &opt.tensors[i]), 0);
        assert_int_equal(rt_map_put(&fin, opt.names[i], &c), 0);
        assert_int_equal(rt_map_put(&uin, opt.names[i], &d), 0);
    }
    put_rand(&fin, TRAIN_STEP_INPUT, 0, none, 1);
    put_rand(&uin, TRAIN_STEP_INPUT, 0, none, 1);
    ((float *)rt_map_get(&fin, TRAIN_STEP_INPUT)->data)[0] = 3;
    ((float *)rt_map_get(&uin, TRAIN_STEP_INPUT)->data)[0] = 3;

    run_or_fail(fused.m, &params, &fin, &fout);
    run_or_fail(half.m, &params, &in, &gout);
    /* the update's inputs: the gradient half's "grad:<p>" outputs */
    for (int i = 0; i < gout.count; i++)
        if (!strncmp(gout.names[i], "grad:", 5)) {
            Tensor c;
            assert_int_equal(tensor_copy(&c, &gout.tensors[i]), 0);
            assert_int_equal(rt_map_put(&uin, gout.names[i], &c), 0);
        }
    assert_int_equal(uin.count, opt.count + 1 + fused.m->nparams);
    run_or_fail(update, &params, &uin, &uout);
    assert_non_null(rt_map_get(&gout, "loss"));
    /* every output of the fused step but the loss and the model's: the same bits */
    int compared = 0;
    for (int i = 0; i < fout.count; i++) {
        const Tensor *want = &fout.tensors[i], *got = rt_map_get(&uout, fout.names[i]);
        if (!strcmp(fout.names[i], "loss")) continue;
        if (!got) fail_msg("the update has no '%s'", fout.names[i]);
        assert_int_equal(rt_numel(got), rt_numel(want));
        if (memcmp(got->data, want->data, (size_t)rt_numel(want) * sizeof(float)))
            fail_msg("'%s' differs from the fused step's", fout.names[i]);
        compared++;
    }
    assert_int_equal(compared, 1 + 3 * fused.m->nparams); /* grad_norm, new:p, its m and v */
    /* the clip acted: the norm is above 0.05 */
    assert_true(*(const float *)rt_map_get(&uout, TRAIN_GRAD_NORM)->data > 0.05f);
    rt_map_free(&params), rt_map_free(&in), rt_map_free(&opt), rt_map_free(&fin), rt_map_free(&uin);
    rt_map_free(&gout), rt_map_free(&fout), rt_map_free(&uout);
    ir_free(update);
    tu_built_free(&fused);
    tu_built_free(&half);
}

/* ---- the hooked run ----------------------------------------------------------- */

/* What a hooked run told: the outputs in order, a copy of each, and the
 * ticks (top-level ops) run before each. */
typedef struct Told {
    int n, ticks, at[64];
    char names[64][64];
    TensorMap copies;
} Told;

static int told_final(void *ctx, const char *name, const Tensor *t, char *err, size_t errlen)
{
    (void)err, (void)errlen;
    Told *w = ctx;
    assert_true(w->n < 64);
    snprintf(w->names[w->n], sizeof w->names[0], "%s", name);
    w->at[w->n++] = w->ticks;
    Tensor c;
    assert_int_equal(tensor_copy(&c, t), 0);
    assert_int_equal(rt_map_put(&w->copies, name, &c), 0);
    return 0;
}

static void told_tick(void *ctx) { ((Told *)ctx)->ticks++; }

static int told_index(const Told *w, const char *name)
{
    for (int i = 0; i < w->n; i++)
        if (!strcmp(w->names[i], name)) return i;
    return -1;
}

static void test_hooked_grads(void **state)
{
    (void)state;
    char err[512] = "";
    PipeOpts po = {0};
    TuBuilt b = tu_build(LSTM_SRC);
    assert_int_equal(pipeline_train_grad(b.m, &po, err, sizeof err), 0);
    TensorMap params, in, out;
    rt_map_init(&out);
    put_lstm_run(b.m, &params, &in);
    Told w = {0};
    rt_map_init(&w.copies);
    RunHook hook = {told_final, told_tick, &w};
    assert_non_null(engine_interp.run_hooked);
    if (engine_interp.run_hooked(&engine_interp, b.m, &params, &in, &out, &hook, err, sizeof err)) fail_msg("%s", err);
    /* every output told once, with the bits handed back at the end */
    assert_int_equal(w.n, b.m->noutputs);
    for (int i = 0; i < w.n; i++) {
        const Tensor *got = rt_map_get(&w.copies, w.names[i]), *want = rt_map_get(&out, w.names[i]);
        assert_non_null(want);
        assert_int_equal(rt_numel(got), rt_numel(want));
        assert_memory_equal(got->data, want->data, (size_t)rt_numel(want) * sizeof(float));
        assert_int_equal(told_index(&w, w.names[i]), i);
    }
    /* final in the backward pass's order: the head's gradient before the
     * top layer's backward scan, whose gradients are final before the
     * bottom layer's scan runs: the gaps the overlap hides sums in */
    int head = told_index(&w, "grad:yhat.weight"), l1 = told_index(&w, "grad:h.weight_ih_l1"),
        l0 = told_index(&w, "grad:h.weight_ih_l0");
    assert_true(head >= 0 && l1 >= 0 && l0 >= 0);
    assert_true(w.at[head] < w.at[l1]);
    assert_true(w.at[l1] < w.at[l0]);
    assert_true(w.at[l0] <= w.ticks);
    rt_map_free(&params), rt_map_free(&in), rt_map_free(&out), rt_map_free(&w.copies);
    tu_built_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_launched_size), cmocka_unit_test(test_serial_world), cmocka_unit_test(test_slice_place),
        cmocka_unit_test(test_axis),          cmocka_unit_test(test_split_step),   cmocka_unit_test(test_hooked_grads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
