/* test_ir_print.c - the text printer (exact output for a tiny module) and
 * the Graphviz printer (nodes, edges, clusters; the unrolled drawing has N
 * copies of the body and the shared weights once). */
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

/* A one-layer tanh RNN over x with a dense head and an mse loss:
 *   h_t = tanh(x_t W_ih^T + h_{t-1} W_hh^T),  out = h W_o^T. */
static IrModule *tiny_rnn(int reverse)
{
    IrModule *m = ir_module_new("tiny");
    int tx = ir_add_sym(m, "T_x", 16);
    IrValue *x = ir_add_input(m, "x", f32(3, IR_DIM_SYM(tx), IR_DIM_B, 3));
    IrValue *y = ir_add_target(m, "y", f32(3, IR_DIM_SYM(tx), IR_DIM_B, 2));
    IrValue *wih = ir_add_param(m, "h.weight_ih_l0", f32(2, 4, 3, 0), (IrInit){IR_INIT_UNIFORM, 0.5});
    IrValue *whh = ir_add_param(m, "h.weight_hh_l0", f32(2, 4, 4, 0), (IrInit){IR_INIT_UNIFORM, 0.5});
    IrValue *wo = ir_add_param(m, "out.weight", f32(2, 2, 4, 0), (IrInit){IR_INIT_XAVIER, 0});
    IrValue *h0 = ir_const(m, m->body, 0, f32(2, IR_DIM_B, 4, 0));
    h0->name = "h";
    h0->def->origin = "h: initial state";

    IrOp *scan = ir_scan_begin(m, m->body, &h0, 1, &x, 1, reverse, 0);
    scan->origin = "h: rnn layer 0";
    IrBlock *b = scan->body;
    IrValue *a = ir_op2(m, b, IR_LINEAR, b->args[1], wih);
    IrValue *c = ir_op2(m, b, IR_LINEAR, b->args[0], whh);
    IrValue *s = ir_op2(m, b, IR_ADD, a, c);
    IrValue *hn = ir_op1(m, b, IR_TANH, s);
    hn->name = "h'";
    IrValue *yields[2] = {hn, hn};
    ir_scan_finish(m, scan, yields, 1, 1);

    IrValue *out = ir_op2(m, m->body, IR_LINEAR, scan->results[1], wo);
    out->name = "out";
    out->def->origin = "out: dense";
    IrValue *loss = ir_op2(m, m->body, IR_MSE, out, y);
    ir_add_output(m, "out", out);
    m->loss = loss;
    return m;
}

/* Everything a print function writes, as one string (caller frees). */
static char *capture_text(const IrModule *m)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    ir_print(m, f);
    return tu_read_stream(f);
}

static char *capture_dot(const IrModule *m, int unroll)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    ir_print_dot(m, unroll, f);
    return tu_read_stream(f);
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static void test_print_tiny_module_exactly(void **state)
{
    (void)state;
    IrModule *m = tiny_rnn(0);
    assert_int_equal(ir_verify(m, "test", stderr), 0);
    char *text = capture_text(m);
    const char *want = "module tiny {\n"
                       "  sym B\n"
                       "  sym T_x <= 16\n"
                       "  input  %x : f32[T_x, B, 3]\n"
                       "  target %y : f32[T_x, B, 2]\n"
                       "  param  %h.weight_ih_l0 : f32[4, 3] init uniform(0.5)\n"
                       "  param  %h.weight_hh_l0 : f32[4, 4] init uniform(0.5)\n"
                       "  param  %out.weight : f32[2, 4] init xavier\n"
                       "  %h = const 0 : f32[B, 4]                                      # h: initial state\n"
                       "  %h.1, %h' = scan init(%h) over(%x) : f32[B, 4], f32[T_x, B, 4] {  # h: rnn layer 0\n"
                       "  ^body(%h.2 : f32[B, 4], %x.1 : f32[B, 3]):\n"
                       "    %8 = linear %x.1, %h.weight_ih_l0 : f32[B, 4]\n"
                       "    %9 = linear %h.2, %h.weight_hh_l0 : f32[B, 4]\n"
                       "    %10 = add %8, %9 : f32[B, 4]\n"
                       "    %h'.1 = tanh %10 : f32[B, 4]\n"
                       "    yield %h'.1 ; %h'.1\n"
                       "  }\n"
                       "  %out = linear %h', %out.weight : f32[T_x, B, 2]               # out: dense\n"
                       "  %15 = mse %out, %y : f32[]\n"
                       "  output out = %out\n"
                       "  loss = %15\n"
                       "}\n";
    if (strcmp(text, want) != 0) fprintf(stderr, "got:\n%s", text);
    assert_string_equal(text, want);
    free(text);
    ir_free(m);
}

/* Attributes of slice, index, steps and reverse appear in the text. */
static void test_print_attributes(void **state)
{
    (void)state;
    IrModule *m = ir_module_new("attrs");
    IrValue *x = ir_add_input(m, "x", f32(2, IR_DIM_B, 8, 0));
    IrValue *s = ir_slice(m, m->body, x, 2, 4);
    (void)s;
    IrValue *st[2] = {x, x};
    IrType stt = f32(3, 2, IR_DIM_B, 8);
    IrOp *stack = ir_op(m, m->body, IR_STACK, st, 2, &stt, 1);
    IrType it = f32(2, IR_DIM_B, 8, 0);
    IrOp *ix = ir_op(m, m->body, IR_INDEX, stack->results, 1, &it, 1);
    ix->attrs.index = 1;
    /* generation: no sequence operand, 5 steps, backwards */
    IrOp *g = ir_scan_begin(m, m->body, &x, 1, NULL, 0, 1, 5);
    IrValue *e = ir_op1(m, g->body, IR_EXP, g->body->args[0]);
    IrValue *ys[2] = {e, e};
    ir_scan_finish(m, g, ys, 1, 1);
    ir_const(m, m->body, 0.25, f32(1, IR_DIM_B, 0, 0));
    assert_int_equal(ir_verify(m, "test", stderr), 0);

    char *text = capture_text(m);
    assert_non_null(strstr(text, " = slice %x start=2 len=4 : f32[B, 4]\n"));
    assert_non_null(strstr(text, " = index %"));
    assert_non_null(strstr(text, " index=1 : f32[B, 8]\n"));
    assert_non_null(strstr(text, " = scan init(%x) steps=5 reverse : f32[B, 8], f32[5, B, 8] {\n"));
    assert_non_null(strstr(text, "    yield %"));
    assert_non_null(strstr(text, " = const 0.25 : f32[B]\n"));
    free(text);
    ir_free(m);
}

/* A module the verifier rejects still prints, with <null> in the holes. */
static void test_print_malformed_does_not_crash(void **state)
{
    (void)state;
    IrModule *m = tiny_rnn(0);
    IrOp *scan = m->body->ops[1];
    scan->body->ops[0]->operands[1] = NULL;
    scan->attrs.n_carried = 7;
    m->body->ops[2]->results[0]->type.rank = 9;
    char *text = capture_text(m);
    assert_non_null(strstr(text, "<null>"));
    assert_non_null(strstr(text, "operands(%h, %x) carried=7 seq_in=1"));
    assert_non_null(strstr(text, "<bad type>"));
    free(text);
    char *dot = capture_dot(m, 2);
    assert_non_null(strstr(dot, "malformed scan"));
    free(dot);
    ir_free(m);

    /* a body that contains its own scan: drawn once, not forever */
    m = tiny_rnn(0);
    scan = m->body->ops[1];
    scan->body->ops[3] = scan;
    dot = capture_dot(m, 3);
    assert_int_equal(count(dot, "scan inside its own body"), 3);
    free(dot);
    text = capture_text(m);
    assert_non_null(strstr(text, "<scans nested too deeply>"));
    free(text);
    ir_free(m);
}

/* Folded drawing: each op a node, edges from operands, a cluster for the
 * scan with a dashed back edge labelled with the state. */
static void test_dot_folded(void **state)
{
    (void)state;
    IrModule *m = tiny_rnn(0);
    char *dot = capture_dot(m, 0);
    assert_int_equal(strncmp(dot, "digraph \"tiny\" {\n", 17), 0);
    assert_int_equal(dot[strlen(dot) - 2], '}');
    /* inputs, targets, params: distinct shapes */
    assert_non_null(strstr(dot, "\"v0\" [label=\"input x\\nf32[T_x, B, 3]\" shape=invhouse"));
    assert_non_null(strstr(dot, "\"v1\" [label=\"target y\\nf32[T_x, B, 2]\" shape=invhouse"));
    assert_non_null(strstr(dot, "\"v2\" [label=\"h.weight_ih_l0\\nf32[4, 3]\" shape=cylinder"));
    /* op nodes with op name and result type; operand edges */
    assert_non_null(strstr(dot, "\"v10\" [label=\"add\\nf32[B, 4]\"]"));
    assert_non_null(strstr(dot, "\"v8\" -> \"v10\";"));
    assert_non_null(strstr(dot, "\"v9\" -> \"v10\";"));
    assert_non_null(strstr(dot, "\"v2\" -> \"v8\";"));
    /* the scan cluster and the carried state's back edge */
    assert_int_equal(count(dot, "subgraph \"cluster_"), 1);
    assert_non_null(strstr(dot, "label=\"scan: h: rnn layer 0\""));
    assert_non_null(strstr(dot, "\"v11\" -> \"v6\" [label=\"h\" style=dashed"));
    assert_non_null(strstr(dot, "\"v5\" -> \"v6\" [label=\"init\"]"));
    assert_non_null(strstr(dot, "\"v0\" -> \"v7\" [label=\"[t]\"]"));
    assert_non_null(strstr(dot, "\"loss\" [label=\"loss\""));
    free(dot);
    ir_free(m);
}

/* Unrolled over 3 steps: 3 copies of the body, weights drawn once with an
 * edge into each copy, state flowing t -> t+1, x[t] and y[t] per step. */
static void test_dot_unrolled(void **state)
{
    (void)state;
    IrModule *m = tiny_rnn(0);
    char *dot = capture_dot(m, 3);
    assert_int_equal(count(dot, "label=\"t="), 3);
    assert_non_null(strstr(dot, "label=\"t=0\""));
    assert_non_null(strstr(dot, "label=\"t=2\""));
    /* the body's tanh once per step */
    assert_int_equal(count(dot, "[label=\"tanh\\n"), 3);
    /* the shared weight: one node, three edges */
    assert_int_equal(count(dot, "\"v2\" [label="), 1);
    assert_int_equal(count(dot, "\"v2\" -> \"v8_t"), 3);
    /* x[t] nodes and y[t] nodes */
    assert_non_null(strstr(dot, "\"v7_t1\" [label=\"x[1]"));
    assert_non_null(strstr(dot, "\"y13_t2\" [label=\"h'[2]"));
    /* init feeds step 0, step 0 feeds step 1, step 1 feeds step 2 */
    assert_non_null(strstr(dot, "\"v5\" -> \"v6_t0\" [label=\"init\"]"));
    assert_non_null(strstr(dot, "\"v11_t0\" -> \"v6_t1\" [label=\"h\""));
    assert_non_null(strstr(dot, "\"v11_t1\" -> \"v6_t2\" [label=\"h\""));
    assert_null(strstr(dot, "\"v11_t2\" -> \"v6_t"));
    assert_non_null(strstr(dot, "\"v11_t2\" -> \"v12\" [label=\"final\""));
    free(dot);
    ir_free(m);
}

/* A reverse scan runs from N-1 down: init feeds the last step. */
static void test_dot_unrolled_reverse(void **state)
{
    (void)state;
    IrModule *m = tiny_rnn(1);
    char *dot = capture_dot(m, 3);
    assert_non_null(strstr(dot, "\"v5\" -> \"v6_t2\" [label=\"init\"]"));
    assert_non_null(strstr(dot, "\"v11_t2\" -> \"v6_t1\""));
    assert_non_null(strstr(dot, "\"v11_t1\" -> \"v6_t0\""));
    assert_non_null(strstr(dot, "\"v11_t0\" -> \"v12\" [label=\"final\""));
    /* clusters appear in step order: t=2 first */
    assert_true(strstr(dot, "label=\"t=2\"") < strstr(dot, "label=\"t=0\""));
    free(dot);
    ir_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print_tiny_module_exactly),
        cmocka_unit_test(test_print_attributes),
        cmocka_unit_test(test_print_malformed_does_not_crash),
        cmocka_unit_test(test_dot_folded),
        cmocka_unit_test(test_dot_unrolled),
        cmocka_unit_test(test_dot_unrolled_reverse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
