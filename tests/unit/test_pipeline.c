/* test_pipeline.c - the recipes (passes/pipeline.h):
 *   - forward: without the loss the ops only it needed and the targets no
 *     output reads go (a target an output reads stays); with it the module
 *     is only verified; optimize adds exactly optimize();
 *   - step: only B as a size, the carried state as inputs and outputs by
 *     role, the model's outputs; which models can step;
 *   - grad: one IR_ROLE_GRAD output per parameter, `of` naming it, and
 *     the per-step state gradients with per_step;
 *   - train: exactly the loss, the gradient norm, the new parameters and
 *     optimizer state and the carried state, each with its role;
 *   - sample: the logits the loss reads as an output, no loss, the state
 *     carried; nothing for a model without logits;
 *   - a recipe run on ir_clone() of a module gives what it gives on a
 *     module sema builds afresh (what the driver relies on: it clones). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passes/pipeline.h"
#include "tests/unit/test_models.h"
#include "tests/unit/test_util.h"

static const PipeOpts OPTIMIZED = {.optimize = 1};

static int has_output(const IrModule *m, const char *name) { return ir_output_index(m, name) >= 0; }

static int count_inputs(const IrModule *m, IrRole r)
{
    int n = 0;
    for (int i = 0; i < m->ninputs; i++) n += m->inputs[i].role == r;
    return n;
}

static int count_outputs(const IrModule *m, IrRole r)
{
    int n = 0;
    for (int i = 0; i < m->noutputs; i++) n += m->outputs[i].role == r;
    return n;
}

static char *text_of(const IrModule *m)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    ir_print(m, f);
    return tu_read_stream(f);
}

static void test_forward(void **state)
{
    (void)state;
    char err[512];
    TuBuilt b = tu_build(LSTM_SRC);
    assert_int_equal(pipeline_forward(b.m, 0, &OPTIMIZED, err, sizeof err), 0);
    assert_null(b.m->loss);
    assert_int_equal(b.m->ntargets, 0);
    assert_int_equal(b.m->noutputs, 2);
    assert_true(has_output(b.m, "yhat") && has_output(b.m, "hn"));
    assert_int_equal(b.m->nsyms, 2);
    assert_int_equal(ir_verify(b.m, "test", stderr), 0);
    tu_built_free(&b);

    /* With the loss and without optimizing, the module is sema's. */
    b = tu_build(LSTM_SRC);
    char *want = text_of(b.m);
    PipeOpts plain = {0};
    assert_int_equal(pipeline_forward(b.m, 1, &plain, err, sizeof err), 0);
    char *got = text_of(b.m);
    assert_string_equal(got, want);
    free(got);
    free(want);
    /* ... and optimizing is optimize() and nothing else. */
    IrModule *c = ir_clone(b.m);
    assert_int_equal(optimize(c, err, sizeof err), 0);
    want = text_of(c);
    assert_int_equal(pipeline_forward(b.m, 1, &OPTIMIZED, err, sizeof err), 0);
    got = text_of(b.m);
    assert_string_equal(got, want);
    assert_non_null(b.m->loss);
    assert_int_equal(b.m->ntargets, 1);
    free(got);
    free(want);
    ir_free(c);
    tu_built_free(&b);
}

/* A target that an output reads stays when the loss goes; one only the
 * loss read does not. */
static void test_forward_keeps_read_targets(void **state)
{
    (void)state;
    char err[512];
    TuBuilt b = tu_build("model r {\n  input x : [2]\n  target t : [2]\n  target u : [2]\n"
                         "  y = dense(x, 2)\n  output d = y - t\n  loss = mse(y, u)\n}\n");
    assert_int_equal(pipeline_forward(b.m, 0, &OPTIMIZED, err, sizeof err), 0);
    assert_null(b.m->loss);
    assert_int_equal(b.m->ntargets, 1);
    assert_string_equal(b.m->targets[0].name, "t");
    tu_built_free(&b);
}

static void test_step(void **state)
{
    (void)state;
    char err[512];
    const char *why;
    TuBuilt b = tu_build(LSTM_SRC);
    assert_true(pipeline_can_step(b.m, &why));
    assert_int_equal(pipeline_step(b.m, &OPTIMIZED, err, sizeof err), 0);
    assert_int_equal(b.m->nsyms, 1); /* only B: one step */
    assert_int_equal(count_inputs(b.m, IR_ROLE_RESET), 1);
    /* Two layers, h and c each: four carried values, in and out, each
     * output the next value of the input of its name. */
    assert_int_equal(count_inputs(b.m, IR_ROLE_CARRY), 4);
    assert_int_equal(count_outputs(b.m, IR_ROLE_CARRY), 4);
    for (int i = 0; i < b.m->noutputs; i++)
        if (b.m->outputs[i].role == IR_ROLE_CARRY) {
            int k = ir_input_index(b.m, b.m->outputs[i].of);
            assert_true(k >= 0);
            assert_int_equal(b.m->inputs[k].role, IR_ROLE_CARRY);
        }
    assert_true(has_output(b.m, "yhat"));
    assert_null(b.m->loss);
    assert_int_equal(b.m->inputs[0].value->type.dim[0], 1); /* x: [1, B, 3] */
    assert_int_equal(ir_verify(b.m, "test", stderr), 0);
    tu_built_free(&b);

    b = tu_build(BIDI_SRC);
    assert_false(pipeline_can_step(b.m, &why));
    assert_non_null(strstr(why, "reverse"));
    assert_int_equal(pipeline_step(b.m, &OPTIMIZED, err, sizeof err), -1);
    assert_non_null(strstr(err, "no streaming step"));
    tu_built_free(&b);

    b = tu_build("model g {\n  input x0 : [1]\n  w = generate(gru, x0, steps=5, hidden=4, feedback)\n  output w\n}\n");
    assert_false(pipeline_can_step(b.m, &why)); /* generate reads no sequence */
    assert_non_null(strstr(why, "no sequence input"));
    tu_built_free(&b);
}

static void test_grad(void **state)
{
    (void)state;
    char err[512];
    TuBuilt b = tu_build(LSTM_SRC);
    assert_int_equal(pipeline_grad(b.m, 0, &OPTIMIZED, err, sizeof err), 0);
    assert_non_null(b.m->loss);
    assert_int_equal(count_outputs(b.m, IR_ROLE_GRAD), b.m->nparams);
    assert_int_equal(count_outputs(b.m, IR_ROLE_STATE_GRAD), 0);
    int k = 0;
    for (int i = 0; i < b.m->noutputs; i++)
        if (b.m->outputs[i].role == IR_ROLE_GRAD) assert_string_equal(b.m->outputs[i].of, b.m->params[k++].name);
    tu_built_free(&b);

    b = tu_build(LSTM_SRC);
    PipeOpts plain = {0};
    assert_int_equal(pipeline_grad(b.m, 1, &plain, err, sizeof err), 0);
    assert_int_equal(count_outputs(b.m, IR_ROLE_STATE_GRAD), 4);
    tu_built_free(&b);
}

static void test_train(void **state)
{
    (void)state;
    char err[512];
    TrainConfig cfg = train_config_default(); /* Adam */
    TuBuilt b = tu_build(LSTM_SRC);
    PipeOpts carry = {.carry = 1, .optimize = 1};
    assert_int_equal(pipeline_train(b.m, &cfg, &carry, err, sizeof err), 0);
    assert_non_null(b.m->loss);
    /* Every parameter and its Adam m and v; four carried states; the norm;
     * nothing else. */
    assert_int_equal(count_outputs(b.m, IR_ROLE_NEW_PARAM), b.m->nparams);
    assert_int_equal(count_outputs(b.m, IR_ROLE_NEW_OPT_STATE), 2 * b.m->nparams);
    assert_int_equal(count_outputs(b.m, IR_ROLE_CARRY), 4);
    assert_int_equal(count_outputs(b.m, IR_ROLE_GRAD_NORM), 1);
    assert_int_equal(b.m->noutputs, 3 * b.m->nparams + 4 + 1);
    for (int i = 0; i < b.m->noutputs; i++)
        if (b.m->outputs[i].role == IR_ROLE_NEW_OPT_STATE) {
            int k = ir_input_index(b.m, b.m->outputs[i].of);
            assert_true(k >= 0);
            assert_int_equal(b.m->inputs[k].role, IR_ROLE_OPT_STATE);
        }
    assert_int_equal(count_inputs(b.m, IR_ROLE_OPT_STEP), 1);
    assert_int_equal(count_inputs(b.m, IR_ROLE_OPT_STATE), 2 * b.m->nparams);
    tu_built_free(&b);

    /* Without tbptt there is no state to carry. */
    b = tu_build(LSTM_SRC);
    assert_int_equal(pipeline_train(b.m, &cfg, &OPTIMIZED, err, sizeof err), 0);
    assert_int_equal(count_inputs(b.m, IR_ROLE_RESET), 0);
    tu_built_free(&b);

    b = tu_build("model n {\n  input x : [2]\n  y = dense(x, 2)\n  output y\n}\n");
    assert_int_equal(pipeline_train(b.m, &cfg, &OPTIMIZED, err, sizeof err), -1);
    assert_non_null(strstr(err, "no loss"));
    tu_built_free(&b);
}

static void test_sample(void **state)
{
    (void)state;
    char err[512];
    TuBuilt b = tu_build("model c {\n  input tok : seq<int>\n  target nx : seq<int>\n"
                         "  e = embedding(tok, vocab=10, dim=4)\n  h = gru(e, hidden=5)\n"
                         "  logits = dense(h, 10)\n  output probs = softmax(logits)\n"
                         "  loss = cross_entropy(logits, nx)\n}\n");
    assert_int_equal(pipeline_sample(b.m, &OPTIMIZED, err, sizeof err), 0);
    int k = ir_output_index(b.m, PIPELINE_LOGITS);
    assert_true(k >= 0);
    assert_int_equal(b.m->outputs[k].value->type.rank, 3);
    assert_int_equal(b.m->outputs[k].value->type.dim[2], 10);
    assert_true(b.m->outputs[k].value->def->kind != IR_SOFTMAX);
    assert_null(b.m->loss);
    assert_int_equal(b.m->ntargets, 0);
    assert_int_equal(count_inputs(b.m, IR_ROLE_RESET), 1);
    assert_int_equal(count_inputs(b.m, IR_ROLE_CARRY), 1);
    tu_built_free(&b);

    b = tu_build("model d {\n  input x : [2]\n  output y = dense(x, 2)\n}\n");
    assert_int_equal(pipeline_sample(b.m, &OPTIMIZED, err, sizeof err), 0);
    assert_int_equal(ir_output_index(b.m, PIPELINE_LOGITS), -1);
    tu_built_free(&b);
}

/* Each recipe on a clone of sema's module, and on a module sema builds
 * again: the same text. */
static void test_clone_is_a_rebuild(void **state)
{
    (void)state;
    char err[512];
    TrainConfig cfg = train_config_default();
    PipeOpts carry = {.carry = 1, .optimize = 1};
    for (int recipe = 0; recipe < 5; recipe++) {
        TuBuilt first = tu_build(LSTM_SRC), again = tu_build(LSTM_SRC);
        IrModule *c = ir_clone(first.m);
        IrModule *ms[2] = {c, again.m};
        char *text[2];
        for (int k = 0; k < 2; k++) {
            IrModule *m = ms[k];
            int rc = recipe == 0   ? pipeline_forward(m, 0, &OPTIMIZED, err, sizeof err)
                     : recipe == 1 ? pipeline_forward(m, 1, &carry, err, sizeof err)
                     : recipe == 2 ? pipeline_step(m, &OPTIMIZED, err, sizeof err)
                     : recipe == 3 ? pipeline_grad(m, 1, &OPTIMIZED, err, sizeof err)
                                   : pipeline_train(m, &cfg, &carry, err, sizeof err);
            assert_int_equal(rc, 0);
            text[k] = text_of(m);
        }
        assert_string_equal(text[0], text[1]);
        free(text[0]);
        free(text[1]);
        ir_free(c);
        tu_built_free(&first);
        tu_built_free(&again);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_forward_keeps_read_targets),
        cmocka_unit_test(test_step),
        cmocka_unit_test(test_grad),
        cmocka_unit_test(test_train),
        cmocka_unit_test(test_sample),
        cmocka_unit_test(test_clone_is_a_rebuild),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
