/* test_ir_clone.c - ir_clone(): a copy prints as the original (ir/print.c)
 * at every stage the recipes clone at (sema, segmented, differentiated, a
 * training step: nested bodies, multi-result ops, every role), keeps the
 * roles and what they belong to, shares no memory with the original (the
 * original and its syntax tree freed, the copy still prints the same), and
 * changing the copy leaves the original as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "passes/autodiff.h"
#include "passes/segment.h"
#include "passes/train_step.h"
#include "test_util.h"

/* Two layers of a user cell (a scan whose body has its own names), a
 * bidirectional layer (reverse scans) and a loss. */
static const char *src = TU_MYGRU_SRC "model c {\n"
                                      "  input  x : seq<[3]>\n"
                                      "  target t : seq<[2]>\n"
                                      "  h = mygru(x, H=4)\n"
                                      "  g = gru(h, hidden=3, bidirectional=true)\n"
                                      "  output y = dense(g, 2)\n"
                                      "  loss = mse(y, t)\n"
                                      "}\n";

static char *text_of(const IrModule *m)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    ir_print(m, f);
    return tu_read_stream(f);
}

/* The clone of m prints as m, verifies, and still prints so once m and
 * the syntax tree are gone. */
static void check_clone_of(TuBuilt *b)
{
    char *want = text_of(b->m);
    IrModule *c = ir_clone(b->m);
    assert_int_equal(ir_verify(c, "clone", stderr), 0);
    char *got = text_of(c);
    assert_string_equal(got, want);
    assert_int_equal(c->next_id, b->m->next_id);
    assert_int_equal(c->ninputs, b->m->ninputs);
    for (int i = 0; i < c->ninputs; i++) assert_int_equal(c->inputs[i].role, b->m->inputs[i].role);
    for (int i = 0; i < c->noutputs; i++) {
        assert_int_equal(c->outputs[i].role, b->m->outputs[i].role);
        if (b->m->outputs[i].of)
            assert_string_equal(c->outputs[i].of, b->m->outputs[i].of);
        else
            assert_null(c->outputs[i].of);
    }
    tu_built_free(b);
    free(got);
    got = text_of(c);
    assert_string_equal(got, want);
    ir_free(c);
    free(got);
    free(want);
}

static void test_clone_prints_as_original(void **state)
{
    (void)state;
    char err[512] = "";
    TuBuilt b = tu_build(src);
    check_clone_of(&b);

    b = tu_build(src);
    assert_true(segment_carry(b.m, err, sizeof err) > 0);
    check_clone_of(&b);

    b = tu_build(src);
    assert_int_equal(autodiff_with_state_grads(b.m, err, sizeof err), 0);
    check_clone_of(&b);

    b = tu_build(src);
    TrainConfig cfg = train_config_default();
    cfg.clip = CLIP_NORM;
    cfg.clip_value = 1;
    assert_true(segment_carry(b.m, err, sizeof err) > 0);
    assert_int_equal(autodiff(b.m, err, sizeof err), 0);
    assert_int_equal(train_step(b.m, &cfg, err, sizeof err), 0);
    check_clone_of(&b);
}

/* The roles the passes set travel with the clone, and a pass run on the
 * clone works from them (train_step finds the gradients by role). */
static void test_clone_keeps_roles(void **state)
{
    (void)state;
    char err[512] = "";
    TuBuilt b = tu_build(src);
    assert_true(segment_carry(b.m, err, sizeof err) > 0);
    assert_int_equal(autodiff(b.m, err, sizeof err), 0);
    IrModule *c = ir_clone(b.m);
    TrainConfig cfg = train_config_default();
    assert_int_equal(train_step(c, &cfg, err, sizeof err), 0);
    int reset = 0, carry = 0, opt = 0, step = 0, grads = 0, news = 0;
    for (int i = 0; i < c->ninputs; i++) {
        reset += c->inputs[i].role == IR_ROLE_RESET;
        carry += c->inputs[i].role == IR_ROLE_CARRY;
        opt += c->inputs[i].role == IR_ROLE_OPT_STATE;
        step += c->inputs[i].role == IR_ROLE_OPT_STEP;
    }
    for (int i = 0; i < c->noutputs; i++) {
        grads += c->outputs[i].role == IR_ROLE_GRAD;
        if (c->outputs[i].role == IR_ROLE_NEW_PARAM) {
            assert_string_equal(c->params[news].name, c->outputs[i].of);
            news++;
        }
    }
    assert_int_equal(reset, 1);
    assert_true(carry >= 3);               /* mygru's h, both directions of the gru */
    assert_int_equal(opt, 2 * c->nparams); /* adam: m and v */
    assert_int_equal(step, 1);
    assert_int_equal(grads, c->nparams);
    assert_int_equal(news, c->nparams);
    ir_free(c);
    tu_built_free(&b);
}

/* Changing every kind of thing in the copy changes nothing in the original. */
static void test_clone_is_independent(void **state)
{
    (void)state;
    TuBuilt b = tu_build(src);
    char *want = text_of(b.m);
    IrModule *c = ir_clone(b.m);
    ir_add_output(c, "extra", c->params[0].value);
    c->outputs[0].value->name = "renamed";
    c->params[0].value->type.dim[0] = 99;
    c->inputs[0].value->name = "z";
    c->syms[1].name = "T_z";
    c->loss = NULL;
    for (int i = 0; i < c->body->nops; i++) {
        IrOp *op = c->body->ops[i];
        if (op->kind == IR_SCAN) {
            op->attrs.reverse = !op->attrs.reverse;
            op->body->nops--; /* an op dropped from a body */
        }
        if (op->kind == IR_CONST) op->attrs.f = 42;
    }
    c->body->nops = 1;
    char *got = text_of(b.m);
    assert_string_equal(got, want);
    assert_int_equal(ir_verify(b.m, "original", stderr), 0);
    ir_free(c);
    free(got);
    free(want);
    tu_built_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clone_prints_as_original),
        cmocka_unit_test(test_clone_keeps_roles),
        cmocka_unit_test(test_clone_is_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
