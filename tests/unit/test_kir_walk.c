/* test_kir_walk.c - the kernel-IR analyses the passes and targets share:
 * a statement's reads and writes (kir/kir_walk.h), map liveness and
 * reduction levels (kir_map_live, kir_map_reduce_level) and expression
 * equality (kexpr_equal, kexpr_same_value).  Statements are built by
 * hand, each access checked field by field. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kir/kir.h"
#include "kir/kir_walk.h"

typedef struct T {
    KFunc *f;
    KBuf *x, *y, *t; /* an argument, a result, a temporary: 64 f32 each */
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

/* e is the constant v (a missing expression is not). */
static void assert_const(const KExpr *e, int64_t v)
{
    assert_non_null(e);
    assert_false(kexpr_has_free(e));
    assert_int_equal(kexpr_eval(e, NULL, NULL), v);
}

/* Every access of s, at most 8. */
static int accesses(const KStmt *s, KAccess *a)
{
    KAccessIter it;
    int n = 0;
    for (kir_access_begin(&it, s); n < 8 && kir_access_next(&it, &a[n]);) n++;
    return n;
}

static KStrided strided(T *t, KBuf *b, int64_t off, int64_t s0, int64_t s1)
{
    KStrided v = {.v = {b, c(t, off)}};
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
    s->nodes[0] = (KMapNode){.op = KM_IN, .a = 0};
    s->nodes[1] = (KMapNode){.op = KM_IN, .a = 1};
    s->nodes[2] = (KMapNode){.op = KM_CONST, .f = 2};
    s->nodes[3] = (KMapNode){.op = KM_ADD, .a = 0, .b = 2};
    s->nodes[4] = (KMapNode){.op = KM_EXP, .a = 1};
    s->nout = 2;
    s->out = kfunc_alloc(t->f, 2 * sizeof *s->out);
    s->out[0] = (KMapOut){.at = strided(t, t->y, 0, 8, 1), .node = 3};
    s->out[1] = (KMapOut){.at = strided(t, t->t, 0, 1, 0), .node = 3, .accumulate = 1};
    return s;
}

static void test_map_accesses(void **state)
{
    (void)state;
    T t = t_new();
    KStmt *s = map(&t);
    KAccess a[8];
    assert_int_equal(accesses(s, a), 4);
    static const KAccessRole role[4] = {KACC_MAP_IN, KACC_MAP_IN, KACC_MAP_OUT, KACC_MAP_OUT};
    static const KAccessMode mode[4] = {KACC_READ, KACC_READ, KACC_WRITE, KACC_ACCUM};
    static const int index[4] = {0, 1, 0, 1};
    KBuf *buf[4] = {t.x, t.t, t.y, t.t};
    const KStrided *view[4] = {&s->in[0], &s->in[1], &s->out[0].at, &s->out[1].at};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(a[i].role, role[i]);
        assert_int_equal(a[i].mode, mode[i]);
        assert_int_equal(a[i].index, index[i]);
        assert_ptr_equal(a[i].buf, buf[i]);
        assert_ptr_equal(a[i].off, view[i]->v.off);
        assert_int_equal(a[i].rank, 2);
        assert_false(a[i].pack);
        assert_null(a[i].arg);
        for (int d = 0; d < 2; d++) {
            assert_ptr_equal(a[i].dim[d], s->dims[d]);
            assert_ptr_equal(a[i].stride[d], view[i]->stride[d]);
        }
    }
    assert_true(kacc_reads(&a[0]) && !kacc_writes(&a[0]));
    assert_true(!kacc_reads(&a[2]) && kacc_writes(&a[2]));
    assert_true(kacc_reads(&a[3]) && kacc_writes(&a[3]));
    kfunc_free(t.f);
}

static KStmt *gemm(T *t, int transa, int transb, float beta)
{
    KStmt *s = kblock_add(t->f, &t->f->body, KS_GEMM, "test");
    s->transa = transa;
    s->transb = transb;
    s->M = c(t, 2);
    s->N = c(t, 3);
    s->K = c(t, 5);
    s->A = (KView){t->x, c(t, 0)};
    s->B = (KView){t->t, c(t, 1)};
    s->C = (KView){t->y, c(t, 4)};
    s->lda = c(t, 7);
    s->ldb = c(t, 9);
    s->ldc = c(t, 11);
    s->alpha = 1;
    s->beta = beta;
    return s;
}

/* a is a rows x cols matrix of buf with leading dimension ld. */
static void assert_matrix(const KAccess *a, KAccessRole role, KAccessMode mode, const KBuf *buf, int64_t rows,
                          int64_t cols, int64_t ld)
{
    assert_int_equal(a->role, role);
    assert_int_equal(a->mode, mode);
    assert_ptr_equal(a->buf, buf);
    assert_int_equal(a->rank, 2);
    assert_false(a->pack);
    assert_const(a->dim[0], rows);
    assert_const(a->dim[1], cols);
    assert_const(a->stride[0], ld);
    assert_const(a->stride[1], 1);
}

static void test_gemm_and_pack_accesses(void **state)
{
    (void)state;
    T t = t_new();
    KAccess a[8];
    /* op(A) is M x K = 2 x 5, op(B) K x N = 5 x 3, C M x N = 2 x 3 */
    assert_int_equal(accesses(gemm(&t, 0, 0, 0), a), 3);
    assert_matrix(&a[0], KACC_GEMM_A, KACC_READ, t.x, 2, 5, 7);
    assert_matrix(&a[1], KACC_GEMM_B, KACC_READ, t.t, 5, 3, 9);
    assert_matrix(&a[2], KACC_GEMM_C, KACC_WRITE, t.y, 2, 3, 11);
    assert_const(a[2].off, 4);
    /* transposed operands are stored the other way round; beta != 0 reads C */
    assert_int_equal(accesses(gemm(&t, 1, 1, 1), a), 3);
    assert_matrix(&a[0], KACC_GEMM_A, KACC_READ, t.x, 5, 2, 7);
    assert_matrix(&a[1], KACC_GEMM_B, KACC_READ, t.t, 3, 5, 9);
    assert_matrix(&a[2], KACC_GEMM_C, KACC_ACCUM, t.y, 2, 3, 11);
    /* a packed B has no extent */
    KStmt *g = gemm(&t, 0, 0, 0);
    g->packed_b = 1;
    assert_int_equal(accesses(g, a), 3);
    assert_int_equal(a[1].role, KACC_GEMM_B);
    assert_int_equal(a[1].mode, KACC_READ);
    assert_true(a[1].pack);
    assert_int_equal(a[1].rank, 0);
    assert_ptr_equal(a[1].off, g->B.off);
    /* pack_b: reads op(B) as a GEMM would, writes the pack */
    KStmt *p = gemm(&t, 0, 1, 0);
    p->kind = KS_PACK_B;
    assert_int_equal(accesses(p, a), 2);
    assert_matrix(&a[0], KACC_PACK_SRC, KACC_READ, t.t, 3, 5, 9);
    assert_int_equal(a[1].role, KACC_PACK_DST);
    assert_int_equal(a[1].mode, KACC_WRITE);
    assert_ptr_equal(a[1].buf, t.y);
    assert_true(a[1].pack);
    /* a loop has none of its own */
    KStmt *loop = kblock_add(t.f, &t.f->body, KS_LOOP, "test");
    loop->count = c(&t, 3);
    kblock_add(t.f, &loop->body, KS_MAP, "test");
    assert_int_equal(accesses(loop, a), 0);
    kfunc_free(t.f);
}

static void test_call_accesses(void **state)
{
    (void)state;
    T t = t_new();
    KAccess a[8];
    /* rt_softmax_rows(rows, C, x, y): x read, y written, rows x C each */
    KStmt *s = kblock_add(t.f, &t.f->body, KS_CALL, "test");
    s->call = KC_SOFTMAX;
    s->ints[0] = c(&t, 4);
    s->ints[1] = c(&t, 16);
    s->ptrs[0] = (KView){t.x, c(&t, 0)};
    s->ptrs[1] = (KView){t.t, c(&t, 0)};
    s->nptrs = 2;
    assert_int_equal(accesses(s, a), 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(a[i].role, KACC_CALL_PTR);
        assert_int_equal(a[i].index, i);
        assert_non_null(a[i].arg);
        assert_int_equal(a[i].rank, 2);
        assert_ptr_equal(a[i].dim[0], s->ints[0]);
        assert_ptr_equal(a[i].dim[1], s->ints[1]);
        assert_ptr_equal(a[i].stride[0], s->ints[1]);
        assert_const(a[i].stride[1], 1);
    }
    assert_string_equal(a[0].arg->name, "x");
    assert_int_equal(a[0].mode, KACC_READ);
    assert_string_equal(a[1].arg->name, "y");
    assert_int_equal(a[1].mode, KACC_WRITE);
    /* rt_cross_entropy's loss is one element: both factors 1 */
    s->call = KC_CROSS_ENTROPY;
    s->ptrs[2] = (KView){t.y, c(&t, 0)};
    s->nptrs = 3;
    assert_int_equal(accesses(s, a), 3);
    assert_string_equal(a[2].arg->name, "out");
    assert_int_equal(a[2].mode, KACC_WRITE);
    assert_const(a[2].dim[0], 1);
    assert_const(a[2].dim[1], 1);
    assert_ptr_equal(a[1].dim[0], s->ints[0]); /* ids: rows of one */
    assert_const(a[1].dim[1], 1);
    /* a kind outside calls.def: every pointer read, no extent */
    s->call = KC_NUM_KINDS;
    assert_int_equal(accesses(s, a), 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(a[i].mode, KACC_READ);
        assert_null(a[i].arg);
        assert_int_equal(a[i].rank, 0);
    }
    kfunc_free(t.f);
}

static void test_map_live(void **state)
{
    (void)state;
    T t = t_new();
    KStmt *s = map(&t);
    unsigned char live[5], in_live[2];
    memset(live, 7, sizeof live); /* overwritten, not added to */
    memset(in_live, 7, sizeof in_live);
    kir_map_live(s, live, in_live);
    static const unsigned char want[5] = {1, 0, 1, 1, 0};
    assert_memory_equal(live, want, 5);
    assert_int_equal(in_live[0], 1);
    assert_int_equal(in_live[1], 0);
    kir_map_live(s, live, NULL); /* in_live is optional */
    assert_memory_equal(live, want, 5);
    /* storing n4 makes n1 and input 1 live too */
    s->out[0].node = 4;
    kir_map_live(s, live, in_live);
    static const unsigned char all[5] = {1, 1, 1, 1, 1};
    assert_memory_equal(live, all, 5);
    assert_int_equal(in_live[1], 1);
    /* a reference out of range is ignored, not followed */
    s->nodes[3].b = 9;
    s->out[0].node = 17;
    kir_map_live(s, live, in_live);
    static const unsigned char some[5] = {1, 0, 0, 1, 0};
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
    assert_int_equal(kir_map_reduce_level(s, 0, in_live), -1); /* a store */
    assert_int_equal(kir_map_reduce_level(s, 1, in_live), 1);  /* += over the last dim */
    s->out[1].at.stride[0] = c(&t, 0);
    assert_int_equal(kir_map_reduce_level(s, 1, in_live), 0); /* a sum of everything */
    s->out[1].at.stride[0] = c(&t, 1);
    s->out[1].at.stride[1] = c(&t, 8);
    assert_int_equal(kir_map_reduce_level(s, 1, in_live), -1); /* no dim reduced */
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
    assert_true(kexpr_equal(a, b)); /* same tree, other nodes */
    assert_true(kexpr_equal(NULL, NULL));
    assert_false(kexpr_equal(a, NULL));
    assert_false(kexpr_equal(B, Tx));              /* other symbol */
    assert_false(kexpr_equal(B, kexpr_var(f, 0))); /* a symbol is not loop variable 0 */
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
        cmocka_unit_test(test_map_accesses),     cmocka_unit_test(test_gemm_and_pack_accesses),
        cmocka_unit_test(test_call_accesses),    cmocka_unit_test(test_map_live),
        cmocka_unit_test(test_map_reduce_level), cmocka_unit_test(test_expr_equality),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
