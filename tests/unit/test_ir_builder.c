/* test_ir_builder.c - the IR builder: types inferred for each op kind,
 * scans' results and body arguments, and the errors of ir_infer_type. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "ir/ir.h"

static IrType f32(int rank, int64_t d0, int64_t d1, int64_t d2)
{
    int64_t d[3] = {d0, d1, d2};
    return ir_type(IR_F32, rank, d);
}

static void test_elementwise_broadcast(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("t");
    IrValue *x = ir_add_input(m, "x", f32(2, IR_DIM_B, 6, 0));
    IrValue *b = ir_add_param(m, "b", f32(1, 6, 0, 0), (IrInit){IR_INIT_ZERO, 0});
    IrValue *y = ir_op2(m, m->body, IR_ADD, x, b);
    assert_true(ir_type_eq(y->type, x->type));
    IrValue *s = ir_op1(m, m->body, IR_SIGMOID, y);
    assert_true(ir_type_eq(s->type, x->type));
    char buf[64];
    assert_string_equal(ir_type_str(m, s->type, buf, sizeof buf), "f32[B, 6]");
    ir_free(m);
}

static void test_linear_and_mismatch(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("t");
    int t = ir_add_sym(m, "T_x", 100);
    IrValue *x = ir_add_input(m, "x", f32(3, IR_DIM_SYM(t), IR_DIM_B, 4));
    IrValue *w = ir_add_param(m, "w", f32(2, 8, 4, 0), (IrInit){IR_INIT_XAVIER, 0});
    IrValue *y = ir_op2(m, m->body, IR_LINEAR, x, w);
    char buf[64];
    assert_string_equal(ir_type_str(m, y->type, buf, sizeof buf), "f32[T_x, B, 8]");

    IrValue *bad = ir_add_param(m, "v", f32(2, 8, 5, 0), (IrInit){IR_INIT_XAVIER, 0});
    IrValue *ops[2] = {x, bad};
    IrType out;
    char err[128];
    assert_false(ir_infer_type(m, IR_LINEAR, ops, 2, NULL, &out, err, sizeof err));
    assert_non_null(strstr(err, "does not fit"));
    ir_free(m);
}

static void test_slice_concat_stack_index(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("t");
    IrValue *x = ir_add_input(m, "x", f32(2, IR_DIM_B, 12, 0));
    IrValue *a = ir_slice(m, m->body, x, 4, 4);
    assert_int_equal(a->type.dim[1], 4);
    IrValue *ops[2] = {a, x};
    IrOp *c = ir_op(m, m->body, IR_CONCAT, ops, 2, &(IrType){0}, 1);
    IrType t;
    char err[128];
    assert_true(ir_infer_type(m, IR_CONCAT, c->operands, 2, NULL, &t, err, sizeof err));
    assert_int_equal(t.dim[1], 16);
    IrAttrs bad = {.start = 10, .len = 4};
    assert_false(ir_infer_type(m, IR_SLICE, &x, 1, &bad, &t, err, sizeof err));
    IrValue *st[2] = {x, x};
    assert_true(ir_infer_type(m, IR_STACK, st, 2, NULL, &t, err, sizeof err));
    assert_int_equal(t.rank, 3);
    assert_int_equal(t.dim[0], 2);
    assert_int_equal(t.dim[1], IR_DIM_B);
    ir_free(m);
}

static void test_scan_shapes(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("t");
    int tx = ir_add_sym(m, "T_x", 50);
    IrValue *x = ir_add_input(m, "x", f32(3, IR_DIM_SYM(tx), IR_DIM_B, 4));
    IrValue *w = ir_add_param(m, "w", f32(2, 6, 4, 0), (IrInit){IR_INIT_XAVIER, 0});
    IrValue *h0 = ir_const(m, m->body, 0.0, f32(2, IR_DIM_B, 6, 0));
    IrOp *scan = ir_scan_begin(m, m->body, &h0, 1, &x, 1, 1, 0);
    IrBlock *body = scan->body;
    assert_int_equal(body->nargs, 2);
    assert_true(ir_type_eq(body->args[0]->type, h0->type));
    char buf[64];
    assert_string_equal(ir_type_str(m, body->args[1]->type, buf, sizeof buf), "f32[B, 4]");
    IrValue *p = ir_op2(m, body, IR_LINEAR, body->args[1], w);
    IrValue *h = ir_op1(m, body, IR_TANH, ir_op2(m, body, IR_ADD, p, body->args[0]));
    IrValue *ys[2] = {h, h};
    ir_scan_finish(m, scan, ys, 1, 1);
    assert_int_equal(scan->nresults, 2);
    assert_true(ir_type_eq(scan->results[0]->type, h0->type));
    assert_string_equal(ir_type_str(m, scan->results[1]->type, buf, sizeof buf), "f32[T_x, B, 6]");
    assert_int_equal(scan->attrs.reverse, 1);
    assert_ptr_equal(body->owner, scan);
    assert_ptr_equal(p->def->parent, body);

    /* A generating scan: no sequence operand, a constant trip count. */
    IrOp *gen = ir_scan_begin(m, m->body, &h0, 1, NULL, 0, 0, 7);
    IrValue *g = ir_op1(m, gen->body, IR_TANH, gen->body->args[0]);
    IrValue *gy[2] = {g, g};
    ir_scan_finish(m, gen, gy, 1, 1);
    assert_string_equal(ir_type_str(m, gen->results[1]->type, buf, sizeof buf), "f32[7, B, 6]");
    ir_free(m);
}

static void test_losses(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("t");
    int tx = ir_add_sym(m, "T_x", 50);
    IrValue *l = ir_add_input(m, "l", f32(3, IR_DIM_SYM(tx), IR_DIM_B, 5));
    int64_t d[2] = {IR_DIM_SYM(tx), IR_DIM_B};
    IrValue *t = ir_add_target(m, "t", ir_type(IR_I64, 2, d));
    IrValue *ce = ir_op2(m, m->body, IR_CROSS_ENTROPY, l, t);
    assert_int_equal(ce->type.rank, 0);
    IrType out;
    char err[128];
    IrValue *ops[2] = {l, l};
    assert_false(ir_infer_type(m, IR_CROSS_ENTROPY, ops, 2, NULL, &out, err, sizeof err));
    assert_true(ir_infer_type(m, IR_MSE, ops, 2, NULL, &out, err, sizeof err));
    assert_string_equal(ir_op_name(IR_CROSS_ENTROPY), "cross_entropy");
    ir_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_elementwise_broadcast),
        cmocka_unit_test(test_linear_and_mismatch),
        cmocka_unit_test(test_slice_concat_stack_index),
        cmocka_unit_test(test_scan_shapes),
        cmocka_unit_test(test_losses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
