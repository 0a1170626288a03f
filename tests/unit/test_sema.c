/* test_sema.c - semantic analysis and IR generation (frontend/sema*.c):
 * parameter names, shapes, order and init of every built-in layer against
 * PyTorch's state_dict, value types and size symbols, user cells (params,
 * states, single step), generate, encoder-decoder wiring, final(); the
 * GRU and LSTM equations run through the reference interpreter against
 * loops written out here; and the error and warning messages with their
 * positions.  Every module built is also run through ir_verify. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frontend/ast.h"
#include "frontend/sema.h"
#include "ir/interp.h"
#include "ir/ir.h"
#include "io/tensor.h"
#include "test_util.h"

/* ---- helpers ------------------------------------------------------------------ */

typedef struct Run {
    Program *p;
    IrModule *m;
    Diag d;
    char *msgs; /* everything printed through the Diag */
    size_t msglen;
    FILE *out;
} Run;

static void run_free(Run *r)
{
    ir_free(r->m);
    ast_free(r->p);
    free(r->msgs);
    memset(r, 0, sizeof *r);
}

/* Parses and builds `src`; messages are collected in r->msgs. */
static void build(Run *r, const char *src, const char *model)
{
    memset(r, 0, sizeof *r);
    r->out = open_memstream(&r->msgs, &r->msglen);
    assert_non_null(r->out);
    diag_init(&r->d, "t.rnn", src, r->out);
    r->p = parse_program("t.rnn", src, &r->d);
    assert_non_null(r->p);
    assert_int_equal(r->d.nerrors, 0); /* the sources here are syntactically valid */
    r->m = sema_build(r->p, model, &r->d);
    fclose(r->out);
    if (r->m) assert_int_equal(ir_verify(r->m, "test_sema", stderr), 0);
}

/* Builds a source that must succeed without any message. */
static void build_ok(Run *r, const char *src)
{
    build(r, src, NULL);
    if (!r->m || r->d.nwarnings) fprintf(stderr, "%s", r->msgs ? r->msgs : "");
    assert_non_null(r->m);
    assert_int_equal(r->d.nwarnings, 0);
}

static const IrParam *param(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->nparams; i++)
        if (strcmp(m->params[i].name, name) == 0) return &m->params[i];
    fail_msg("no parameter '%s'", name);
    return NULL;
}

static const IrOutput *output(const IrModule *m, const char *name)
{
    for (int i = 0; i < m->noutputs; i++)
        if (strcmp(m->outputs[i].name, name) == 0) return &m->outputs[i];
    fail_msg("no output '%s'", name);
    return NULL;
}

static void assert_type(const IrModule *m, IrType t, const char *want)
{
    char buf[128];
    assert_string_equal(ir_type_str(m, t, buf, sizeof buf), want);
}

static void assert_msg(const Run *r, const char *want)
{
    if (!r->msgs || !strstr(r->msgs, want)) fail_msg("expected message '%s' in:\n%s", want, r->msgs ? r->msgs : "");
}

static int count_ops(const IrBlock *b, IrOpKind k)
{
    int n = 0;
    for (int i = 0; i < b->nops; i++) {
        if (b->ops[i]->kind == k) n++;
        if (b->ops[i]->body) n += count_ops(b->ops[i]->body, k);
    }
    return n;
}

static IrOp *nth_op(const IrBlock *b, IrOpKind k, int nth)
{
    for (int i = 0; i < b->nops; i++)
        if (b->ops[i]->kind == k && nth-- == 0) return b->ops[i];
    return NULL;
}

/* ---- built-in recurrent layers ---------------------------------------------------- */

static void test_lstm_bidirectional_stacked_params(void **state)
{
    (void)state;
    Run r;
    build_ok(&r, "model m {\n input x : seq<[4]>\n h = lstm(x, hidden=6, layers=2, bidirectional)\n output h\n}\n");
    /* exactly torch.nn.LSTM(4, 6, num_layers=2, bidirectional=True).state_dict() */
    static const char *const names[16] = {
        "h.weight_ih_l0",         "h.weight_hh_l0",         "h.bias_ih_l0",         "h.bias_hh_l0",
        "h.weight_ih_l0_reverse", "h.weight_hh_l0_reverse", "h.bias_ih_l0_reverse", "h.bias_hh_l0_reverse",
        "h.weight_ih_l1",         "h.weight_hh_l1",         "h.bias_ih_l1",         "h.bias_hh_l1",
        "h.weight_ih_l1_reverse", "h.weight_hh_l1_reverse", "h.bias_ih_l1_reverse", "h.bias_hh_l1_reverse"};
    static const char *const shapes[16] = {
        "f32[24, 4]",  "f32[24, 6]", "f32[24]", "f32[24]", "f32[24, 4]",  "f32[24, 6]", "f32[24]", "f32[24]",
        "f32[24, 12]", "f32[24, 6]", "f32[24]", "f32[24]", "f32[24, 12]", "f32[24, 6]", "f32[24]", "f32[24]"};
    assert_int_equal(r.m->nparams, 16);
    for (int i = 0; i < 16; i++) {
        assert_string_equal(r.m->params[i].name, names[i]);
        assert_type(r.m, r.m->params[i].value->type, shapes[i]);
        assert_int_equal(r.m->params[i].init.kind, IR_INIT_UNIFORM);
        /* U(-1/sqrt(H), 1/sqrt(H)) as PyTorch; exact up to double rounding */
        assert_true(fabs(r.m->params[i].init.a - 1 / sqrt(6.0)) < 1e-12);
    }
    assert_int_equal(r.m->nsyms, 2);
    assert_string_equal(r.m->syms[1].name, "T_x");
    assert_int_equal(r.m->syms[1].max, 4096);
    assert_type(r.m, output(r.m, "h")->value->type, "f32[T_x, B, 12]");
    /* one scan per layer and direction; the backward ones reversed */
    assert_int_equal(count_ops(r.m->body, IR_SCAN), 4);
    for (int i = 0; i < 4; i++) {
        IrOp *scan = nth_op(r.m->body, IR_SCAN, i);
        assert_int_equal(scan->attrs.reverse, i % 2);
        assert_int_equal(scan->attrs.n_carried, 2);
        assert_int_equal(scan->attrs.n_seq_in, 1);
    }
    assert_string_equal(nth_op(r.m->body, IR_SCAN, 1)->origin, "h: lstm l0 reverse");
    /* layer 1 reads the concatenation of both directions of layer 0 */
    IrOp *s2 = nth_op(r.m->body, IR_SCAN, 2);
    assert_int_equal(s2->operands[2]->def->kind, IR_CONCAT);
    run_free(&r);
}

static void test_gru_rnn_shapes(void **state)
{
    (void)state;
    Run r;
    build_ok(&r, "model m {\n input x : seq<[3], 10>\n g = gru(x, hidden=8)\n"
                 " h = rnn(g, hidden=5, act=relu)\n output h\n}\n");
    assert_int_equal(r.m->nparams, 8);
    assert_type(r.m, param(r.m, "g.weight_ih_l0")->value->type, "f32[24, 3]");
    assert_type(r.m, param(r.m, "g.weight_hh_l0")->value->type, "f32[24, 8]");
    assert_type(r.m, param(r.m, "g.bias_hh_l0")->value->type, "f32[24]");
    assert_type(r.m, param(r.m, "h.weight_ih_l0")->value->type, "f32[5, 8]");
    assert_int_equal(r.m->syms[1].max, 10);
    assert_type(r.m, output(r.m, "h")->value->type, "f32[T_x, B, 5]");
    IrOp *rnn = nth_op(r.m->body, IR_SCAN, 1);
    assert_string_equal(rnn->origin, "h: rnn l0");
    assert_int_equal(count_ops(rnn->body, IR_RELU), 1);
    assert_int_equal(count_ops(rnn->body, IR_TANH), 0);
    run_free(&r);
}

static void test_merge_sum_and_final(void **state)
{
    (void)state;
    Run r;
    build_ok(&r, "model m {\n input x : seq<[4]>\n h = lstm(x, hidden=6, layers=2, bidirectional, merge=sum)\n"
                 " output h\n output hn = final(h)\n output cn = final(h, c)\n}\n");
    assert_type(r.m, output(r.m, "h")->value->type, "f32[T_x, B, 6]");
    const IrValue *hn = output(r.m, "hn")->value, *cn = output(r.m, "cn")->value;
    assert_type(r.m, hn->type, "f32[4, B, 6]");
    assert_int_equal(hn->def->kind, IR_STACK);
    /* h_n order as PyTorch: l0, l0_reverse, l1, l1_reverse */
    for (int i = 0; i < 4; i++) {
        assert_ptr_equal(hn->def->operands[i], nth_op(r.m->body, IR_SCAN, i)->results[0]);
        assert_ptr_equal(cn->def->operands[i], nth_op(r.m->body, IR_SCAN, i)->results[1]);
    }
    run_free(&r);
}

/* final(h, layer=N): one layer's final states as an ordinary [B, D*H]
 * value, the directions joined forward first (PyTorch's cat(h_n[-2],
 * h_n[-1])); usable in dense like any vector. */
static void test_final_layer_value(void **state)
{
    (void)state;
    Run r;
    build_ok(&r, "model m {\n input x : seq<[4]>\n h = lstm(x, hidden=6, layers=3, bidirectional)\n"
                 " output top = final(h, layer=-1)\n output c1 = final(h, c, layer=1)\n"
                 " output y = dense(final(h, layer=0), 2)\n}\n");
    const IrValue *top = output(r.m, "top")->value, *c1 = output(r.m, "c1")->value;
    assert_type(r.m, top->type, "f32[B, 12]");
    assert_int_equal(top->def->kind, IR_CONCAT);
    /* scans in PyTorch's order l0, l0_reverse, l1, ...: layer -1 is 4 and 5 */
    assert_ptr_equal(top->def->operands[0], nth_op(r.m->body, IR_SCAN, 4)->results[0]);
    assert_ptr_equal(top->def->operands[1], nth_op(r.m->body, IR_SCAN, 5)->results[0]);
    assert_ptr_equal(c1->def->operands[0], nth_op(r.m->body, IR_SCAN, 2)->results[1]);
    assert_ptr_equal(c1->def->operands[1], nth_op(r.m->body, IR_SCAN, 3)->results[1]);
    assert_type(r.m, output(r.m, "y")->value->type, "f32[B, 2]");
    run_free(&r);
    /* one direction: the state itself, no concat */
    build_ok(&r, "model m {\n input x : seq<[4]>\n h = gru(x, hidden=5, layers=2)\n"
                 " output top = final(h, layer=1)\n}\n");
    assert_ptr_equal(output(r.m, "top")->value, nth_op(r.m->body, IR_SCAN, 1)->results[0]);
    run_free(&r);
}

static void test_learned_init(void **state)
{
    (void)state;
    Run r;
    build_ok(&r, "model m {\n input x : seq<[2]>\n h = lstm(x, hidden=3, init=learned)\n output h\n}\n");
    assert_int_equal(r.m->nparams, 6);
    assert_string_equal(r.m->params[4].name, "h.h0");
    assert_string_equal(r.m->params[5].name, "h.c0");
    assert_type(r.m, r.m->params[4].value->type, "f32[1, 3]");
    assert_int_equal(r.m->params[4].init.kind, IR_INIT_ZERO);
    IrOp *scan = nth_op(r.m->body, IR_SCAN, 0);
    assert_int_equal(scan->operands[0]->def->kind, IR_BROADCAST);
    assert_type(r.m, scan->operands[0]->type, "f32[B, 3]");
    run_free(&r);
}

static void test_charlm(void **state)
{
    (void)state;
    Run r;
    build_ok(&r,
             "model charlm {\n  input  tokens : seq<int>\n  target next   : seq<int>\n"
             "  e      = embedding(tokens, vocab=65, dim=16)\n  h      = lstm(e, hidden=32, layers=2)\n"
             "  logits = dense(h, 65)\n  output probs = softmax(logits)\n  loss   = cross_entropy(logits, next)\n}\n"
             "train charlm {\n data = text(\"x.txt\")\n seq_len = 100 tbptt = 50 batch = 32\n"
             " optimizer = adam(lr=0.002) clip = norm(5.0) epochs = 10\n}\n");
    assert_int_equal(r.m->nparams, 1 + 8 + 2);
    assert_string_equal(r.m->params[0].name, "e.weight");
    assert_int_equal(r.m->params[0].init.kind, IR_INIT_NORMAL);
    assert_string_equal(r.m->params[9].name, "logits.weight");
    assert_type(r.m, r.m->params[9].value->type, "f32[65, 32]");
    assert_string_equal(r.m->params[10].name, "logits.bias");
    assert_true(fabs(r.m->params[10].init.a - 1 / sqrt(32.0)) < 1e-12); /* 1/sqrt(in_features) */
    assert_int_equal(r.m->ninputs, 1);
    assert_type(r.m, r.m->inputs[0].value->type, "i64[T_tokens, B]");
    assert_int_equal(r.m->ntargets, 1);
    assert_type(r.m, r.m->targets[0].value->type, "i64[T_tokens, B]"); /* the length of the logits */
    assert_type(r.m, output(r.m, "probs")->value->type, "f32[T_tokens, B, 65]");
    assert_non_null(r.m->loss);
    assert_int_equal(r.m->loss->def->kind, IR_CROSS_ENTROPY);
    assert_int_equal(r.m->nsyms, 2);
    run_free(&r);
}

static void test_many_to_one_and_one_to_one(void **state)
{
    (void)state;
    Run r;
    build_ok(&r, "model m {\n input t : seq<int, 200>\n target y : int\n e = embedding(t, vocab=10, dim=4)\n"
                 " h = gru(e, hidden=5)\n logits = dense(last(h), 2)\n p = dense(mean(h), 2)\n"
                 " q = reverse(h)\n output a = p + 1\n output b = last(q)\n loss = cross_entropy(logits, y)\n}\n");
    assert_type(r.m, output(r.m, "a")->value->type, "f32[B, 2]");
    assert_type(r.m, r.m->targets[0].value->type, "i64[B]");
    assert_int_equal(count_ops(r.m->body, IR_SEQ_LAST), 2);
    assert_int_equal(count_ops(r.m->body, IR_SEQ_MEAN), 1);
    run_free(&r);
    build_ok(&r, "model m {\n input x : [4]\n target y : [2]\n z = dense(x, 8, bias=false)\n"
                 " yh = dense(tanh(z) * 2, 2)\n output yh\n loss = mse(yh, y)\n}\n");
    assert_int_equal(r.m->nparams, 3); /* z.weight, yh.weight, yh.bias */
    assert_int_equal(count_ops(r.m->body, IR_SCAN), 0);
    assert_int_equal(r.m->loss->def->kind, IR_MSE);
    run_free(&r);
}

/* ---- encoder-decoder, generate ------------------------------------------------------------ */

static void test_encoder_decoder(void **state)
{
    (void)state;
    Run r;
    build_ok(&r, "model m {\n input src : seq<int, 50>\n input tgt : seq<int, 40>\n target nxt : seq<int>\n"
                 " se = embedding(src, vocab=10, dim=4)\n enc = lstm(se, hidden=8, layers=2)\n"
                 " te = embedding(tgt, vocab=12, dim=4)\n dec = lstm(te, hidden=8, layers=2, init=enc)\n"
                 " logits = dense(dec, 12)\n loss = cross_entropy(logits, nxt)\n}\n");
    assert_int_equal(r.m->nsyms, 3);
    assert_string_equal(r.m->syms[2].name, "T_tgt");
    assert_int_equal(r.m->syms[2].max, 40);
    assert_type(r.m, r.m->targets[0].value->type, "i64[T_tgt, B]");
    /* the decoder's layer l starts from the encoder's layer l final (h, c) */
    for (int l = 0; l < 2; l++) {
        IrOp *e = nth_op(r.m->body, IR_SCAN, l), *d = nth_op(r.m->body, IR_SCAN, 2 + l);
        assert_ptr_equal(d->operands[0], e->results[0]);
        assert_ptr_equal(d->operands[1], e->results[1]);
    }
    run_free(&r);
}

static void test_generate(void **state)
{
    (void)state;
    Run r;
    build_ok(&r, "model m {\n input x0 : [2]\n target c : seq<[2]>\n"
                 " w = generate(gru, x0, steps=20, hidden=16, feedback)\n output w\n output s = final(w)\n"
                 " loss = mse(w, c)\n}\n");
    assert_int_equal(r.m->nparams, 6);
    assert_string_equal(r.m->params[4].name, "w.head.weight");
    assert_type(r.m, r.m->params[4].value->type, "f32[2, 16]");
    IrOp *scan = nth_op(r.m->body, IR_SCAN, 0);
    assert_int_equal(scan->attrs.n_seq_in, 0);
    assert_int_equal(scan->attrs.steps, 20);
    assert_int_equal(scan->attrs.n_carried, 2); /* h and the fed-back input */
    assert_type(r.m, output(r.m, "w")->value->type, "f32[20, B, 2]");
    assert_type(r.m, output(r.m, "s")->value->type, "f32[1, B, 16]");
    assert_type(r.m, r.m->targets[0].value->type, "f32[20, B, 2]");
    run_free(&r);
    /* without feedback: the same input every step, outputs are h */
    build_ok(&r, "model m {\n input x0 : [2]\n w = generate(lstm, x0, steps=5, hidden=3)\n output w\n}\n");
    assert_int_equal(r.m->nparams, 4);
    assert_type(r.m, output(r.m, "w")->value->type, "f32[5, B, 3]");
    assert_int_equal(nth_op(r.m->body, IR_SCAN, 0)->attrs.n_carried, 2);
    run_free(&r);
}

/* ---- user cells ------------------------------------------------------------------------------ */

static const char *const mygru = TU_MYGRU_SRC;

static void test_user_cell(void **state)
{
    (void)state;
    Run r;
    char src[2048];
    snprintf(src, sizeof src,
             "%smodel m {\n input x : seq<[8]>\n g = mygru(x, H=16)\n output g\n"
             " output hf = final(g, h)\n}\n",
             mygru);
    build_ok(&r, src);
    assert_int_equal(r.m->nparams, 3);
    assert_string_equal(r.m->params[0].name, "g.Wx");
    assert_type(r.m, r.m->params[0].value->type, "f32[48, 8]");
    assert_int_equal(r.m->params[0].init.kind, IR_INIT_XAVIER);
    assert_true(fabs(r.m->params[0].init.a - sqrt(6.0 / (48 + 8))) < 1e-12); /* xavier bound, fan_in 8 fan_out 48 */
    assert_int_equal(r.m->params[1].init.kind, IR_INIT_ORTHOGONAL);
    assert_int_equal(r.m->params[2].init.kind, IR_INIT_ZERO);
    IrOp *scan = nth_op(r.m->body, IR_SCAN, 0);
    assert_int_equal(scan->attrs.n_carried, 1);
    assert_int_equal(scan->operands[0]->def->kind, IR_CONST); /* state h = 0 */
    assert_type(r.m, scan->operands[0]->type, "f32[B, 16]");
    assert_int_equal(count_ops(scan->body, IR_LINEAR), 2); /* Wx @ x, Wh @ h */
    assert_type(r.m, output(r.m, "g")->value->type, "f32[T_x, B, 16]");
    assert_ptr_equal(output(r.m, "hf")->value, scan->results[0]);
    run_free(&r);
}

static void test_user_cell_two_states_single_step(void **state)
{
    (void)state;
    Run r;
    build_ok(&r, "cell mylstm(x: [I], ctx: [C]) -> [H] {\n"
                 "  param W: [4H, I]   param U: [4H, H]   param V: [4H, C]   param b: [4H] init zero\n"
                 "  param h0: [H] init uniform(0.1)\n"
                 "  state h: [H] = h0\n  state c: [H] = 0.5\n"
                 "  i, f, g, o = split(W @ x + U @ h + V @ ctx + b, 4)\n"
                 "  c' = sigmoid(f) * c + sigmoid(i) * tanh(g)\n  h' = sigmoid(o) * tanh(c')\n  out h'\n}\n"
                 "model m {\n input x : seq<[3]>\n input v : [2]\n input x1 : [3]\n"
                 " a = mylstm(x, v, H=4)\n b = mylstm(x1, v, H=4, init=a)\n output a\n output b\n"
                 " output bc = final(b, c)\n}\n");
    assert_int_equal(r.m->nparams, 10);
    assert_string_equal(r.m->params[4].name, "a.h0");
    assert_int_equal(r.m->params[4].init.kind, IR_INIT_UNIFORM);
    IrOp *scan = nth_op(r.m->body, IR_SCAN, 0);
    assert_int_equal(scan->attrs.n_carried, 2);
    assert_int_equal(scan->attrs.n_seq_in, 1);                    /* x is stepped over, v is read every step */
    assert_int_equal(scan->operands[0]->def->kind, IR_BROADCAST); /* h = h0 */
    assert_true(scan->operands[1]->def->kind == IR_CONST && scan->operands[1]->def->attrs.f == 0.5);
    /* b runs one step, from a's final states */
    assert_int_equal(count_ops(r.m->body, IR_SCAN), 1);
    assert_type(r.m, output(r.m, "b")->value->type, "f32[B, 4]");
    assert_type(r.m, output(r.m, "bc")->value->type, "f32[B, 4]");
    run_free(&r);
}

static void test_generate_user_cell(void **state)
{
    (void)state;
    Run r;
    char src[2048];
    snprintf(src, sizeof src,
             "%smodel m {\n input x0 : [3]\n y = generate(mygru, x0, steps=7, H=5, feedback)\n"
             " output y\n}\n",
             mygru);
    build_ok(&r, src);
    assert_int_equal(r.m->nparams, 5);
    assert_string_equal(r.m->params[3].name, "y.head.weight");
    assert_type(r.m, r.m->params[3].value->type, "f32[3, 5]");
    assert_type(r.m, output(r.m, "y")->value->type, "f32[7, B, 3]");
    run_free(&r);
}

/* ---- the equations, through the interpreter ----------------------------------------------------- */

static double sigm(double x) { return 1 / (1 + exp(-x)); }

static void put(TensorMap *tm, const char *name, int rank, const int64_t *shape, const double *v)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, RT_F64, rank, shape), 0);
    memcpy(t.data, v, (size_t)rt_numel(&t) * sizeof(double));
    assert_int_equal(rt_map_put(tm, name, &t), 0);
}

/* Runs a one-layer `kind` with I=2, H=2, T=2, B=1 on fixed weights and
 * compares the outputs with the PyTorch equations computed here. */
static void check_cell_numbers(const char *kind)
{
    enum { I = 2, H = 2, T = 2 };
    int G = strcmp(kind, "lstm") == 0 ? 4 : strcmp(kind, "gru") == 0 ? 3 : 1;
    char src[256];
    snprintf(src, sizeof src,
             "model m {\n input x : seq<[2]>\n h = %s(x, hidden=2)\n output h\n output hn = final(h)\n}\n", kind);
    Run r;
    build_ok(&r, src);
    double wih[4 * H * I], whh[4 * H * H], bih[4 * H], bhh[4 * H], x[T * I];
    for (int i = 0; i < G * H * I; i++) wih[i] = 0.1 * ((i * 7) % 11) - 0.5;
    for (int i = 0; i < G * H * H; i++) whh[i] = 0.1 * ((i * 5) % 13) - 0.6;
    for (int i = 0; i < G * H; i++) {
        bih[i] = 0.05 * i - 0.1;
        bhh[i] = 0.2 - 0.03 * i;
    }
    for (int i = 0; i < T * I; i++) x[i] = 0.3 * i - 0.4;
    TensorMap params, in, out;
    rt_map_init(&params);
    rt_map_init(&in);
    rt_map_init(&out);
    put(&params, "h.weight_ih_l0", 2, (int64_t[]){G * H, I}, wih);
    put(&params, "h.weight_hh_l0", 2, (int64_t[]){G * H, H}, whh);
    put(&params, "h.bias_ih_l0", 1, (int64_t[]){G * H}, bih);
    put(&params, "h.bias_hh_l0", 1, (int64_t[]){G * H}, bhh);
    put(&in, "x", 3, (int64_t[]){T, 1, I}, x);
    char err[256];
    assert_int_equal(interp_run(r.m, &params, &in, &out, IR_PREC_F64, err, sizeof err), 0);
    const Tensor *hs = rt_map_get(&out, "h");
    assert_non_null(hs);
    double h[H] = {0}, c[H] = {0};
    for (int t = 0; t < T; t++) {
        double gi[4 * H], gh[4 * H], nh[H];
        for (int j = 0; j < G * H; j++) {
            gi[j] = bih[j];
            gh[j] = bhh[j];
            for (int k = 0; k < I; k++) gi[j] += wih[j * I + k] * x[t * I + k];
            for (int k = 0; k < H; k++) gh[j] += whh[j * H + k] * h[k];
        }
        for (int j = 0; j < H; j++) {
            if (G == 1) {
                nh[j] = tanh(gi[j] + gh[j]);
            } else if (G == 4) {
                double ig = sigm(gi[j] + gh[j]), fg = sigm(gi[H + j] + gh[H + j]);
                double gg = tanh(gi[2 * H + j] + gh[2 * H + j]), og = sigm(gi[3 * H + j] + gh[3 * H + j]);
                c[j] = fg * c[j] + ig * gg;
                nh[j] = og * tanh(c[j]);
            } else {
                double rg = sigm(gi[j] + gh[j]), zg = sigm(gi[H + j] + gh[H + j]);
                double ng = tanh(gi[2 * H + j] + rg * gh[2 * H + j]);
                nh[j] = (1 - zg) * ng + zg * h[j];
            }
        }
        for (int j = 0; j < H; j++) {
            h[j] = nh[j];
            /* F64 mode: only summation order differs from the loops here */
            assert_true(fabs(((double *)hs->data)[t * H + j] - h[j]) < 1e-12);
        }
    }
    const Tensor *hn = rt_map_get(&out, "hn");
    assert_non_null(hn);
    assert_int_equal(hn->rank, 3);
    for (int j = 0; j < H; j++) assert_true(fabs(((double *)hn->data)[j] - h[j]) < 1e-12);
    rt_map_free(&params);
    rt_map_free(&in);
    rt_map_free(&out);
    run_free(&r);
}

static void test_equations_match_pytorch(void **state)
{
    (void)state;
    check_cell_numbers("rnn");
    check_cell_numbers("lstm");
    check_cell_numbers("gru");
}

/* ---- errors and warnings ---------------------------------------------------------------------- */

static void test_error_shape_mismatch(void **state)
{
    (void)state;
    Run r;
    build(&r, "model m {\n input a : [6]\n input b : [8]\n output c = a + b\n}\n", NULL);
    assert_null(r.m);
    assert_int_equal(r.d.nerrors, 1);
    assert_msg(&r, "t.rnn:4:15: error: shape mismatch in '+': [6] vs [8]");
    run_free(&r);
}

static void test_error_matmul_in_cell(void **state)
{
    (void)state;
    Run r;
    /* slice bounds may use the cell's sizes; K is none */
    build(&r,
          "cell c(x: [I]) -> [H] {\n param Wx: [3H, I]\n state h: [H] = 0\n"
          " h' = tanh(slice(Wx @ x, H, K))\n out h'\n}\n"
          "model m {\n input x : seq<[5]>\n y = c(x, H=8)\n output y\n}\n",
          NULL);
    assert_null(r.m);
    assert_msg(&r, "t.rnn:4:29: error: unknown size 'K'");
    run_free(&r);
    build(&r,
          "cell c(x: [I]) -> [H] {\n param Wx: [3H, I]\n state h: [H] = 0\n"
          " h' = tanh(slice(Wx @ x, 2*H, H)) + h\n out h'\n}\n"
          "model m {\n input x : seq<[5]>\n y = c(x, H=8)\n output y\n}\n",
          NULL);
    assert_non_null(r.m);
    IrOp *sl = nth_op(nth_op(r.m->body, IR_SCAN, 0)->body, IR_SLICE, 0);
    assert_int_equal(sl->attrs.start, 16);
    assert_int_equal(sl->attrs.len, 8);
    run_free(&r);
    build(&r,
          "cell c(x: [I]) -> [H] {\n param Wx: [H, 4]\n state h: [H] = 0\n"
          " h' = tanh(Wx @ x)\n out h'\n}\n"
          "model m {\n input x : seq<[5]>\n y = c(x, H=8)\n output y\n}\n",
          NULL);
    assert_null(r.m);
    assert_int_equal(r.d.nerrors, 1);
    assert_msg(&r, "t.rnn:4:15: error: matrix 'Wx' is [8, 4] but 'x' is [5]");
    assert_msg(&r, "t.rnn:9:6: note: in cell 'c' used here");
    run_free(&r);
}

static void test_error_independent_errors(void **state)
{
    (void)state;
    Run r;
    build(&r,
          "model m {\n input x : seq<[4]>\n input x : [3]\n h = lstm(x, layers=2)\n"
          " y = foo(x)\n z = undefined_thing + 1\n w = z * 2\n loss = mse(x, x)\n loss = mse(x, x)\n}\n",
          NULL);
    assert_null(r.m);
    assert_msg(&r, "t.rnn:3:8: error: redefinition of 'x'");
    assert_msg(&r, "t.rnn:2:8: note: previous definition of 'x' is here");
    assert_msg(&r, "t.rnn:4:6: error: 'lstm' needs the hidden size");
    assert_msg(&r, "t.rnn:5:6: error: unknown function 'foo'");
    assert_msg(&r, "t.rnn:6:6: error: undefined name 'undefined_thing'");
    assert_msg(&r, "t.rnn:9:2: error: the model has a loss already");
    /* w = z * 2 is silent: z is erroneous already */
    assert_int_equal(r.d.nerrors, 5);
    run_free(&r);
}

static void test_error_unknown_size_and_targets(void **state)
{
    (void)state;
    Run r;
    build(&r,
          "cell c(x: [I]) -> [H] {\n state h: [H] = 0\n h' = h + x\n out h'\n}\n"
          "model m {\n input x : seq<[5]>\n target t : int\n y = c(x)\n output y\n}\n",
          NULL);
    assert_null(r.m);
    assert_msg(&r, "t.rnn:1:20: error: unknown size 'H'");
    assert_msg(&r, "t.rnn:8:9: error: target 't' is never used");
    run_free(&r);
    build(&r, "model m {\n target t : int\n}\n", NULL);
    assert_msg(&r, "t.rnn:1:7: error: model 'm' has no input");
    run_free(&r);
}

static void test_warnings(void **state)
{
    (void)state;
    Run r;
    build(&r,
          "cell c(x: [I]) -> [H] {\n param W: [H, I]\n param U: [H, H]\n state h: [H] = 0\n"
          " state k: [H] = 0\n h' = tanh(W @ x + h + k)\n out h'\n}\n"
          "model m {\n input x : seq<[5]>\n y = c(x, H=3)\n unused = y * 2\n output y\n}\n",
          NULL);
    assert_non_null(r.m); /* warnings only */
    assert_int_equal(r.d.nerrors, 0);
    assert_int_equal(r.d.nwarnings, 3);
    assert_msg(&r, "t.rnn:3:8: warning: parameter 'U' is never used");
    assert_msg(&r, "t.rnn:5:8: warning: state 'k' never changes");
    assert_msg(&r, "t.rnn:12:2: warning: value 'unused' is assigned but never used");
    run_free(&r);
}

/* sema_check() of src ("t.rnn"): its error count, and its messages in
 * *msgs (the caller frees them). */
static int check_msgs(const char *src, char **msgs)
{
    size_t len = 0;
    *msgs = NULL;
    FILE *out = open_memstream(msgs, &len);
    Diag d;
    diag_init(&d, "t.rnn", src, out);
    Program *p = parse_program("t.rnn", src, &d);
    assert_non_null(p);
    int n = sema_check(p, &d);
    fclose(out);
    ast_free(p);
    return n;
}

static void test_check_counts_all_models(void **state)
{
    (void)state;
    const char *src2 = "model a {\n input x : [2]\n input z : [3]\n output y = x + z\n}\n"
                       "model b {\n input x : seq<[2]>\n output y = last(x) * x\n}\n"
                       "train c {\n epochs = 2\n}\n"
                       "train a {\n epochs = 0\n speed = 3\n}\n";
    char *msgs;
    assert_int_equal(check_msgs(src2, &msgs), 5);
    assert_non_null(strstr(msgs, "t.rnn:4:15: error: shape mismatch in '+': [2] vs [3]"));
    assert_non_null(strstr(msgs, "t.rnn:8:21: error: cannot combine [2] and seq<[2]> with '*'"));
    assert_non_null(strstr(msgs, "t.rnn:10:7: error: train block names no model"));
    assert_non_null(strstr(msgs, "t.rnn:14:11: error: 'epochs' must be a positive integer"));
    assert_non_null(strstr(msgs, "t.rnn:15:2: error: unknown train setting 'speed'"));
    free(msgs);
}

/* tbptt_back against tbptt and seq_len, each error at the value (or at
 * the key, when tbptt is missing); a tbptt_back = tbptt is no error. */
static void test_tbptt_back_errors(void **state)
{
    (void)state;
    const char *src = "model m {\n input x : seq<[2]>\n target t : seq<[2]>\n h = gru(x, hidden=2)\n"
                      " y = dense(h, 2)\n loss = mse(y, t)\n}\n"
                      "train m {\n seq_len = 10 tbptt = 4 tbptt_back = 3\n}\n";
    const char *variants[][2] = {
        {"seq_len = 10 tbptt = 4 tbptt_back = 3", "t.rnn:9:38: error: tbptt_back = 3 is shorter than tbptt = 4: an "
                                                  "update back-propagates at least its new steps"},
        {"seq_len = 10 tbptt_back = 3   ", "t.rnn:9:15: error: tbptt_back needs tbptt"},
        {"seq_len = 10 tbptt = 4 tbptt_back = 11", "t.rnn:9:38: error: tbptt_back = 11 is longer than seq_len = 10"},
        {"seq_len = 10 tbptt = 4 tbptt_back = 4", NULL},
        {"seq_len = 10 tbptt = 4 tbptt_back = 10", NULL},
    };
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        char buf[512], *msgs;
        const char *at = strstr(src, "seq_len");
        snprintf(buf, sizeof buf, "%.*s%s\n}\n", (int)(at - src), src, variants[i][0]);
        int n = check_msgs(buf, &msgs);
        if (variants[i][1] ? n != 1 || !strstr(msgs, variants[i][1]) : n != 0)
            fail_msg("%s: got %d errors:\n%s", variants[i][0], n, msgs);
        free(msgs);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lstm_bidirectional_stacked_params),
        cmocka_unit_test(test_tbptt_back_errors),
        cmocka_unit_test(test_gru_rnn_shapes),
        cmocka_unit_test(test_merge_sum_and_final),
        cmocka_unit_test(test_final_layer_value),
        cmocka_unit_test(test_learned_init),
        cmocka_unit_test(test_charlm),
        cmocka_unit_test(test_many_to_one_and_one_to_one),
        cmocka_unit_test(test_encoder_decoder),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_user_cell),
        cmocka_unit_test(test_user_cell_two_states_single_step),
        cmocka_unit_test(test_generate_user_cell),
        cmocka_unit_test(test_equations_match_pytorch),
        cmocka_unit_test(test_error_shape_mismatch),
        cmocka_unit_test(test_error_matmul_in_cell),
        cmocka_unit_test(test_error_independent_errors),
        cmocka_unit_test(test_error_unknown_size_and_targets),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_check_counts_all_models),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
