/* test_kir_walk.c - the kernel-IR analyses the passes and targets share
 * (kir/): map liveness and reduction levels (kir_map_live,
 * kir_map_reduce_level) and expression equality (kexpr_equal,
 * kexpr_same_value).  Statements are built by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kir/kir.h"

typedef struct T {
    KFunc *f;
    KBuf  *x, *y, *t;     /* an argument, a result, a temporary: 64 f32 each */
} T;

static T t_new(void)
{
    T t;
    t.f = kfunc_new("t", NULL);
    t.x = kfunc_buf(t.f, "x", IR_F32, kexpr_const(t.f, 64), KB_ARG);
    t.y = kfunc_buf(t.f, "y", IR_F32, kexpr_const(t.f, 64), KB_RESULT);
    t.t = kfunc_buf(t.f, "t", IR_F32, kexpr_const(t.f, 64), KB_TEMP);
    return t;
}

static const KExpr *c(T *t, int64_t v) { return kexpr_const(t->f, v); }

static KStrided strided(T *t, KBuf *b, int64_t off, int64_t s0, int64_t s1)
{
    KStrided v = { .v = { b, c(t, off) } };
    v.stride[0] = c(t, s0);
    v.stride[1] = c(t, s1);
    return v;
}

/* A [4, 8] map: n0 = in0, n1 = in1, n2 = const, n3 = n0 + n2, n4 = exp n1;
 * out0 = n3 into y, out1 += n3 into t (a sum over the last dim).  n1, n4
 * and input 1 are dead. */
static KStmt *map(T *t)
{
    KStmt *s = kblock_add(t->f, &t->f->body, KS_MAP, "test");
    s->rank = 2;
    s->dims[0] = c(t, 4);
    s->dims[1] = c(t, 8);
    s->nin = 2;
    s->in = kfunc_alloc(t->f, 2 * sizeof *s->in);
    s->in[0] = strided(t, t->x, 0, 8, 1);
    s->in[1] = strided(t, t->t, 32, 0, 1);
    s->nnodes = 5;
    s->nodes = kfunc_alloc(t->f, 5 * sizeof *s->nodes);
    s->nodes[0] = (KMapNode){ .op = KM_IN, .a = 0 };
    s->nodes[1] = (KMapNode){ .op = KM_IN, .a = 1 };
    s->nodes[2] = (KMapNode){ .op = KM_CONST, .f = 2 };
    s->nodes[3] = (KMapNode){ .op = KM_ADD, .a = 0, .b = 2 };
    s->nodes[4] = (KMapNode){ .op = KM_EXP, .a = 1 };
    s->nout = 2;
    s->out = kfunc_alloc(t->f, 2 * sizeof *s->out);
    s->out[0] = (KMapOut){ .at = strided(t, t->y, 0, 8, 1), .node = 3 };
    s->out[1] = (KMapOut){ .at = strided(t, t->t, 0, 1, 0), .node = 3, .accumulate = 1 };
    return s;
}

static void test_map_live(void **state)
{
    (void)state;
    T t = t_new();
    KStmt *s = map(&t);
    unsigned char live[5], in_live[2];
    memset(live, 7, sizeof live);   /* overwritten, not added to */
    memset(in_live, 7, sizeof in_live);
    kir_map_live(s, live, in_live);
    static const unsigned char want[5] = { 1, 0, 1, 1, 0 };
    assert_memory_equal(live, want, 5);
    assert_int_equal(in_live[0], 1);
    assert_int_equal(in_live[1], 0);
    kir_map_live(s, live, NULL);  /* in_live is optional */
    assert_memory_equal(live, want, 5);
    /* storing n4 makes n1 and input 1 live too */
    s->out[0].node = 4;
    kir_map_live(s, live, in_live);
    static const unsigned char all[5] = { 1, 1, 1, 1, 1 };
    assert_memory_equal(live, all, 5);
    assert_int_equal(in_live[1], 1);
    /* a reference out of range is ignored, not followed */
    s->nodes[3].b = 9;
    s->out[0].node = 17;
    kir_map_live(s, live, in_live);
    static const unsigned char some[5] = { 1, 0, 0, 1, 0 };
    assert_memory_equal(live, some, 5);
    kfunc_free(t.f);
}

static void test_map_reduce_level(void **state)
{
    (void)state;
    T t = t_new();
    KStmt *s = map(&t);
    unsigned char live[5], in_live[2];
    kir_map_live(s, live, in_live);
    assert_int_equal(kir_map_reduce_level(s, 0, in_live), -1);   /* a store */
    assert_int_equal(kir_map_reduce_level(s, 1, in_live), 1);    /* += over the last dim */
    s->out[1].at.stride[0] = c(&t, 0);
    assert_int_equal(kir_map_reduce_level(s, 1, in_live), 0);    /* a sum of everything */
    s->out[1].at.stride[0] = c(&t, 1);
    s->out[1].at.stride[1] = c(&t, 8);
    assert_int_equal(kir_map_reduce_level(s, 1, in_live), -1);   /* no dim reduced */
    s->out[1].at.stride[1] = c(&t, 0);
    /* a live input of the same buffer must see memory */
    s->out[0].node = 4;
    kir_map_live(s, live, in_live);
    assert_int_equal(kir_map_reduce_level(s, 1, in_live), -1);
    /* as must another output into it */
    s->out[0].node = 3;
    s->out[0].at.v.buf = t.t;
    kir_map_live(s, live, in_live);
    assert_int_equal(kir_map_reduce_level(s, 1, in_live), -1);
    kfunc_free(t.f);
}

static void test_expr_equality(void **state)
{
    (void)state;
    KFunc *f = kfunc_new("t", NULL);
    const KExpr *B = kexpr_sym(f, 0), *Tx = kexpr_sym(f, 1);
    const KExpr *four_b = kexpr_bin(f, KE_MUL, kexpr_const(f, 4), B);
    const KExpr *a = kexpr_bin(f, KE_ADD, four_b, kexpr_var(f, 0));
    const KExpr *b = kexpr_bin(f, KE_ADD, kexpr_bin(f, KE_MUL, kexpr_const(f, 4), kexpr_sym(f, 0)), kexpr_var(f, 0));
    assert_true(kexpr_equal(a, b));                  /* same tree, other nodes */
    assert_true(kexpr_equal(NULL, NULL));
    assert_false(kexpr_equal(a, NULL));
    assert_false(kexpr_equal(B, Tx));                 /* other symbol */
    assert_false(kexpr_equal(B, kexpr_var(f, 0)));   /* a symbol is not loop variable 0 */
    assert_false(kexpr_equal(kexpr_const(f, 2), kexpr_const(f, 3)));
    /* 2 * (4 * B) and 8 * B: the same value, not the same tree */
    const KExpr *x = kexpr_bin(f, KE_MUL, kexpr_const(f, 2), four_b);
    const KExpr *y = kexpr_bin(f, KE_MUL, kexpr_const(f, 8), B);
    assert_false(kexpr_equal(x, y));
    assert_true(kexpr_same_value(x, y));
    assert_true(kexpr_same_value(a, b));
    assert_false(kexpr_same_value(B, Tx));
    assert_false(kexpr_same_value(x, kexpr_bin(f, KE_MUL, kexpr_const(f, 8), Tx)));
    assert_false(kexpr_same_value(kexpr_bin(f, KE_MAX, B, Tx), B));
    kfunc_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_live),
        cmocka_unit_test(test_map_reduce_level),
        cmocka_unit_test(test_expr_equality),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
