/* test_verify.c - the IR verifier: a good module passes silently, and each
 * kind of problem (use before definition, wrong result type, operand
 * counts, scan structure, yields, the loss, ids, parents, NULLs) is
 * reported with a message naming the op and value, without crashing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ir/ir.h"
#include "test_util.h"

static IrType f32(int rank, int64_t d0, int64_t d1, int64_t d2)
{
    int64_t d[3] = {d0, d1, d2};
    return ir_type(IR_F32, rank, d);
}

/* A one-layer tanh RNN with a dense head and an mse loss.  Ids:
 *   0 x, 1 y, 2 W_ih, 3 W_hh, 4 W_o, 5 h0 (const),
 *   6 body arg h, 7 body arg x, 8 linear, 9 linear, 10 add, 11 tanh,
 *   12 final h, 13 stacked h, 14 out (linear), 15 loss (mse). */
typedef struct Tiny {
    IrModule *m;
    IrOp *scan;
    IrBlock *body;
    IrValue *x, *h0, *add, *tanh_, *out, *loss;
} Tiny;

static Tiny tiny_rnn(void)
{
    Tiny t;
    IrModule *m = ir_module_new("tiny");
    int tx = ir_add_sym(m, "T_x", 16);
    t.x = ir_add_input(m, "x", f32(3, IR_DIM_SYM(tx), IR_DIM_B, 3));
    IrValue *y = ir_add_target(m, "y", f32(3, IR_DIM_SYM(tx), IR_DIM_B, 2));
    IrValue *wih = ir_add_param(m, "W_ih", f32(2, 4, 3, 0), (IrInit){IR_INIT_UNIFORM, 0.5});
    IrValue *whh = ir_add_param(m, "W_hh", f32(2, 4, 4, 0), (IrInit){IR_INIT_UNIFORM, 0.5});
    IrValue *wo = ir_add_param(m, "W_o", f32(2, 2, 4, 0), (IrInit){IR_INIT_XAVIER, 0});
    t.h0 = ir_const(m, m->body, 0, f32(2, IR_DIM_B, 4, 0));
    t.scan = ir_scan_begin(m, m->body, &t.h0, 1, &t.x, 1, 0, 0);
    t.body = t.scan->body;
    IrValue *a = ir_op2(m, t.body, IR_LINEAR, t.body->args[1], wih);
    IrValue *c = ir_op2(m, t.body, IR_LINEAR, t.body->args[0], whh);
    t.add = ir_op2(m, t.body, IR_ADD, a, c);
    t.tanh_ = ir_op1(m, t.body, IR_TANH, t.add);
    IrValue *yields[2] = {t.tanh_, t.tanh_};
    ir_scan_finish(m, t.scan, yields, 1, 1);
    t.out = ir_op2(m, m->body, IR_LINEAR, t.scan->results[1], wo);
    t.loss = ir_op2(m, m->body, IR_MSE, t.out, y);
    ir_add_output(m, "out", t.out);
    m->loss = t.loss;
    t.m = m;
    return t;
}

/* Runs the verifier; returns its messages (caller frees) and the count. */
static char *verify(const IrModule *m, int *count)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    *count = ir_verify(m, "test", f);
    return tu_read_stream(f);
}

/* The verifier reported `want` (a substring of one of its lines). */
static void expect_error(const IrModule *m, const char *want)
{
    int n;
    char *msg = verify(m, &n);
    if (n == 0 || !strstr(msg, want)) fprintf(stderr, "expected \"%s\", got %d problem(s):\n%s", want, n, msg);
    assert_true(n > 0);
    assert_non_null(strstr(msg, want));
    /* every line is "ir verifier: test: ..." */
    for (const char *line = msg; *line; line = strchr(line, '\n') + 1) {
        assert_int_equal(strncmp(line, "ir verifier: test: ", 19), 0);
        if (!strchr(line, '\n')) break;
    }
    free(msg);
}

static void test_good_module_passes(void **state)
{
    (void)state;
    Tiny t = tiny_rnn();
    int n;
    char *msg = verify(t.m, &n);
    assert_int_equal(n, 0);
    assert_string_equal(msg, "");
    free(msg);
    ir_free(t.m);
}

/* Scans may use outer values; a generation scan (no sequence) and nested
 * scans are fine; a broadcast to a larger shape is fine. */
static void test_good_nested_and_generate(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("gen");
    IrValue *x0 = ir_add_input(m, "x0", f32(2, IR_DIM_B, 3, 0));
    IrValue *bias = ir_add_param(m, "b", f32(1, 3, 0, 0), (IrInit){IR_INIT_ZERO, 0});
    IrType bt = f32(2, IR_DIM_B, 3, 0);
    IrValue *bb = ir_op(m, m->body, IR_BROADCAST, &bias, 1, &bt, 1)->results[0];
    IrOp *g = ir_scan_begin(m, m->body, &x0, 1, NULL, 0, 0, 4);
    IrValue *s = ir_op2(m, g->body, IR_ADD, g->body->args[0], bb); /* outer value */
    IrValue *ys[2] = {s, s};
    ir_scan_finish(m, g, ys, 1, 1);
    /* a scan over the generated [4, B, 3] sequence, nested inside nothing,
     * whose body holds another generation scan */
    IrValue *seq = g->results[1];
    IrOp *outer = ir_scan_begin(m, m->body, &x0, 1, &seq, 1, 1, 0);
    IrOp *inner = ir_scan_begin(m, outer->body, &outer->body->args[1], 1, NULL, 0, 0, 2);
    IrValue *e = ir_op2(m, inner->body, IR_MUL, inner->body->args[0], outer->body->args[0]);
    ir_scan_finish(m, inner, &e, 1, 0);
    IrValue *oy[1] = {inner->results[0]};
    ir_scan_finish(m, outer, oy, 1, 0);
    ir_add_output(m, "last", outer->results[0]);
    int n;
    char *msg = verify(m, &n);
    if (n) fprintf(stderr, "%s", msg);
    assert_int_equal(n, 0);
    free(msg);
    ir_free(m);
}

static void test_use_before_def(void **state)
{
    (void)state;
    Tiny t = tiny_rnn();
    t.add->def->operands[1] = t.tanh_; /* %11 is defined after %10 */
    expect_error(t.m, "'add' defining %10: operand 1 %11 is used before its definition");
    ir_free(t.m);
}

/* A body value is out of scope after the scan. */
static void test_body_value_used_outside(void **state)
{
    (void)state;
    Tiny t = tiny_rnn();
    t.m->outputs[0].value = t.add;
    expect_error(t.m, "output 'out' = %10 is not a value defined in the module body");
    ir_free(t.m);

    t = tiny_rnn();
    t.out->def->operands[0] = t.tanh_;
    expect_error(t.m, "'linear' defining %14: operand 0 %11 is used before its definition or outside its scope");
    ir_free(t.m);
}

static void test_wrong_result_type(void **state)
{
    (void)state;
    Tiny t = tiny_rnn();
    t.add->type.dim[1] = 5;
    expect_error(t.m, "'add' defining %10: result %10 has type f32[B, 5] but its operands give f32[B, 4]");
    ir_free(t.m);

    /* a broadcast that cannot be one */
    IrModule *m = ir_module_new("b");
    IrValue *v = ir_add_input(m, "v", f32(2, IR_DIM_B, 3, 0));
    IrType to = f32(2, IR_DIM_B, 4, 0);
    ir_op(m, m->body, IR_BROADCAST, &v, 1, &to, 1);
    expect_error(m, "'broadcast' defining %1: %0 (v) f32[B, 3] does not broadcast to f32[B, 4]");
    ir_free(m);
}

static void test_operands_do_not_fit(void **state)
{
    (void)state;
    Tiny t = tiny_rnn();
    t.out->def->operands[1] = t.m->params[0].value; /* W_ih [4, 3] vs h [.., 4] */
    expect_error(t.m, "'linear' defining %14: operands do not fit: x f32[T_x, B, 4] does not fit W f32[4, 3]");
    ir_free(t.m);
}

static void test_operand_count(void **state)
{
    (void)state;
    Tiny t = tiny_rnn();
    t.add->def->noperands = 1;
    expect_error(t.m, "'add' defining %10 has 1 operands, expected 2");
    ir_free(t.m);

    t = tiny_rnn();
    t.add->def->nresults = 0;
    expect_error(t.m, "'add' at index 2 of its block has 0 results, expected 1");
    ir_free(t.m);
}

static void test_bad_scan_counts(void **state)
{
    (void)state;
    Tiny t = tiny_rnn();
    t.scan->attrs.n_carried = 2;
    expect_error(t.m, "'scan' defining %12 has 2 operands but n_carried 2 + n_seq_in 1");
    ir_free(t.m);

    t = tiny_rnn();
    t.body->nyields = 1;
    expect_error(t.m, "'scan' defining %12: body yields 1 values but n_carried 1 + n_seq_out 1");
    ir_free(t.m);

    t = tiny_rnn();
    t.body->nargs = 1;
    expect_error(t.m, "'scan' defining %12: body has 1 arguments but n_carried 1 + n_seq_in 1");
    ir_free(t.m);
}

static void test_yield_mismatch(void **state)
{
    (void)state;
    Tiny t = tiny_rnn();
    t.body->yields[0] = t.body->args[1]; /* x_t [B, 3] as the next h [B, 4] */
    expect_error(t.m,
                 "'scan' defining %12: carried yield %7 (x) has type f32[B, 3] but its initial value is f32[B, 4]");
    ir_free(t.m);

    /* the stacked result must be [T, step output] */
    t = tiny_rnn();
    t.scan->results[1]->type.dim[0] = 7;
    expect_error(t.m, "stacked result %13 has type f32[7, B, 4] but [T, step output] is f32[T_x, B, 4]");
    ir_free(t.m);

    /* a yield that is not in scope */
    t = tiny_rnn();
    t.body->yields[1] = t.out;
    expect_error(t.m, "yield 1 %14 is not defined in the body or before the scan");
    ir_free(t.m);
}

static void test_scan_sequences(void **state)
{
    (void)state;
    /* the step argument must be one step of the sequence */
    Tiny t = tiny_rnn();
    t.body->args[1]->type.dim[1] = 5;
    expect_error(t.m, "step argument %7 (x) has type f32[B, 5] but one step of the sequence is f32[B, 3]");
    ir_free(t.m);

    /* a "sequence" whose first dim is the batch */
    t = tiny_rnn();
    t.x->type.dim[0] = IR_DIM_B;
    expect_error(t.m, "sequence operand %0 (x) of type f32[B, B, 3] has no time dimension");
    ir_free(t.m);

    /* two sequences of different lengths */
    IrModule *m = ir_module_new("two");
    int ta = ir_add_sym(m, "T_a", 8), tb = ir_add_sym(m, "T_b", 8);
    IrValue *seqs[2] = {ir_add_input(m, "a", f32(3, IR_DIM_SYM(ta), IR_DIM_B, 2)),
                        ir_add_input(m, "b", f32(3, IR_DIM_SYM(tb), IR_DIM_B, 2))};
    IrOp *s = ir_scan_begin(m, m->body, NULL, 0, seqs, 2, 0, 0);
    IrValue *sum = ir_op2(m, s->body, IR_ADD, s->body->args[0], s->body->args[1]);
    ir_scan_finish(m, s, &sum, 0, 1);
    expect_error(m, "sequence operand %1 (b) has f32[T_b] steps but the first sequence has f32[T_a]");
    ir_free(m);

    /* generation with no trip count */
    t = tiny_rnn();
    t.scan->attrs.n_seq_in = 0;
    t.scan->attrs.n_carried = 2; /* the counts still add up, the steps do not */
    t.scan->attrs.steps = 0;
    t.scan->attrs.n_seq_out = 0;
    expect_error(t.m, "has no sequence operand and steps = 0 (must be >= 1)");
    ir_free(t.m);
}

static void test_loss_must_be_scalar(void **state)
{
    (void)state;
    Tiny t = tiny_rnn();
    t.m->loss = ir_const(t.m, t.m->body, 1, f32(1, IR_DIM_B, 0, 0));
    expect_error(t.m, "loss %16 has type f32[B], expected a scalar f32[]");
    ir_free(t.m);
}

static void test_ids_and_links(void **state)
{
    (void)state;
    Tiny t = tiny_rnn();
    t.add->id = 9;
    expect_error(t.m, "result %9: id 9 is used by two values");
    ir_free(t.m);

    t = tiny_rnn();
    t.add->id = 99;
    expect_error(t.m, "result %99 has id 99 outside [0, 16)");
    ir_free(t.m);

    t = tiny_rnn();
    t.add->def->parent = t.m->body;
    expect_error(t.m, "'add' defining %10: its parent is not the block it is in");
    ir_free(t.m);

    t = tiny_rnn();
    t.body->args[0]->arg_index = 1;
    expect_error(t.m, "body argument 0 %6 does not record this block and index");
    ir_free(t.m);

    t = tiny_rnn();
    t.m->params[1].value->kind = IR_VAL_INPUT;
    expect_error(t.m, "param 'W_hh' %3 (W_hh) is not of kind param");
    ir_free(t.m);
}

/* NULLs and garbage are reported, never followed. */
static void test_malformed_does_not_crash(void **state)
{
    (void)state;
    Tiny t = tiny_rnn();
    t.add->def->operands[0] = NULL;
    expect_error(t.m, "'add' defining %10: operand 0 is NULL");
    ir_free(t.m);

    t = tiny_rnn();
    t.body->ops[1] = NULL;
    t.body->yields[0] = NULL;
    t.m->outputs[0].value = NULL;
    t.scan->results[0] = NULL;
    int n;
    char *msg = verify(t.m, &n);
    assert_true(n >= 4);
    assert_non_null(strstr(msg, "op 1 is NULL"));
    assert_non_null(strstr(msg, "yield 0 is NULL"));
    assert_non_null(strstr(msg, "output 'out' is NULL"));
    assert_non_null(strstr(msg, "result 0 is NULL"));
    free(msg);
    ir_free(t.m);

    t = tiny_rnn();
    t.scan->body = NULL;
    expect_error(t.m, "'scan' defining %12 has no body");
    ir_free(t.m);

    t = tiny_rnn();
    t.add->type.rank = 12;
    t.add->def->kind = (IrOpKind)77;
    msg = verify(t.m, &n);
    assert_non_null(strstr(msg, "result %10 has a malformed type (rank 12)"));
    assert_non_null(strstr(msg, "unknown kind 77"));
    free(msg);
    ir_free(t.m);

    /* a body that contains its own scan */
    t = tiny_rnn();
    t.body->ops[3] = t.scan;
    msg = verify(t.m, &n);
    assert_true(n > 0);
    assert_non_null(strstr(msg, "'scan' defining %12 is inside its own body"));
    free(msg);
    ir_free(t.m);

    assert_int_equal(ir_verify(NULL, "x", NULL), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_module_passes),
        cmocka_unit_test(test_good_nested_and_generate),
        cmocka_unit_test(test_use_before_def),
        cmocka_unit_test(test_body_value_used_outside),
        cmocka_unit_test(test_wrong_result_type),
        cmocka_unit_test(test_operands_do_not_fit),
        cmocka_unit_test(test_operand_count),
        cmocka_unit_test(test_bad_scan_counts),
        cmocka_unit_test(test_yield_mismatch),
        cmocka_unit_test(test_scan_sequences),
        cmocka_unit_test(test_loss_must_be_scalar),
        cmocka_unit_test(test_ids_and_links),
        cmocka_unit_test(test_malformed_does_not_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
