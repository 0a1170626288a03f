/* test_sizes.c - size expressions as data (runtime/sizes.h): the words
 * kexpr_to_words writes evaluate to what kexpr_eval computes, saturate
 * instead of wrapping, and malformed words are refused; the memory check
 * and its messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "kir/kir.h"
#include "runtime/sizes.h"

static unsigned rnd(unsigned *s) { return *s = *s * 1103515245u + 12345u, (*s >> 16) & 0x7fff; }

/* A random expression of depth <= d over 3 symbols with small constants,
 * whose value with symbols <= 100 stays far below 2^63, and whose
 * differences stay >= 0 (a SUB of a term from the same term plus one). */
static const KExpr *random_expr(KFunc *f, unsigned *s, int d)
{
    if (d == 0 || rnd(s) % 4 == 0) return rnd(s) % 2 ? kexpr_const(f, rnd(s) % 100) : kexpr_sym(f, (int)(rnd(s) % 3));
    static const KExprKind k[] = {KE_ADD, KE_MUL, KE_DIV, KE_MAX, KE_SUB};
    KExprKind kind = k[rnd(s) % 5];
    const KExpr *a = random_expr(f, s, d - 1), *b = random_expr(f, s, d - 1);
    if (kind == KE_SUB) return kexpr_bin(f, KE_SUB, kexpr_bin(f, KE_ADD, a, b), b);
    if (kind == KE_DIV) return kexpr_bin(f, KE_DIV, a, kexpr_bin(f, KE_ADD, b, kexpr_const(f, 1)));
    return kexpr_bin(f, kind, a, b);
}

static void test_words_evaluate_as_kexpr(void **state)
{
    (void)state;
    KFunc *f = kfunc_new("t", NULL);
    unsigned s = 7;
    int64_t w[4096];
    for (int i = 0; i < 2000; i++) {
        const KExpr *e = random_expr(f, &s, 4);
        int64_t sym[3] = {rnd(&s) % 100, 1 + rnd(&s) % 100, rnd(&s) % 100};
        int n = kexpr_to_words(e, NULL, 0);
        assert_true(n >= 3 && n <= 4096);
        assert_int_equal(kexpr_to_words(e, w, n), n);
        assert_int_equal(w[0], n - 1);
        assert_int_equal(rt_size_eval(w, sym), kexpr_eval(e, sym, NULL));
    }
    /* a loop variable is not a size */
    assert_int_equal(kexpr_to_words(kexpr_bin(f, KE_ADD, kexpr_var(f, 0), kexpr_sym(f, 0)), w, 4096), -1);
    kfunc_free(f);
}

static void test_saturates(void **state)
{
    (void)state;
    KFunc *f = kfunc_new("t", NULL);
    /* 64 * ((B * T * 4096 + 63) / 64) + 1000: an arena's shape */
    const KExpr *bt = kexpr_bin(f, KE_MUL, kexpr_sym(f, 0), kexpr_sym(f, 1));
    const KExpr *e = kexpr_bin(f, KE_MUL, bt, kexpr_const(f, 4096));
    e = kexpr_bin(f, KE_DIV, kexpr_bin(f, KE_ADD, e, kexpr_const(f, 63)), kexpr_const(f, 64));
    e = kexpr_bin(f, KE_ADD, kexpr_bin(f, KE_MUL, e, kexpr_const(f, 64)), kexpr_const(f, 1000));
    e = kexpr_bin(f, KE_SUB, e, kexpr_const(f, 10));
    int64_t w[64];
    int n = kexpr_to_words(e, w, 64);
    assert_true(n > 0 && n <= 64);
    int64_t small[2] = {2, 3}, edge[2] = {(int64_t)1 << 20, (int64_t)1 << 20}, huge[2] = {(int64_t)1 << 40, 1 << 20};
    assert_int_equal(rt_size_eval(w, small), 64 * ((6 * 4096 + 63) / 64) + 990);
    assert_int_equal(rt_size_eval(w, edge), ((int64_t)1 << 52) + 990); /* 2^40 * 4096: no overflow yet */
    /* 2^60 * 4096 wraps int64: saturated, and stays so through the
     * division, the addition and the subtraction */
    assert_int_equal(rt_size_eval(w, huge), RT_SIZE_HUGE);
    kfunc_free(f);
}

static void test_malformed_words(void **state)
{
    (void)state;
    int64_t sym[1] = {5};
    int64_t empty[1] = {0}, trunc[2] = {1, RT_SZ_CONST}, lone_op[4] = {3, RT_SZ_CONST, 4, RT_SZ_ADD};
    int64_t bad_op[6] = {5, RT_SZ_CONST, 1, RT_SZ_CONST, 2, 99}, two_left[5] = {4, RT_SZ_CONST, 1, RT_SZ_SYM, 0};
    int64_t negative[3] = {2, RT_SZ_CONST, -1};
    assert_int_equal(rt_size_eval(NULL, sym), -1);
    assert_int_equal(rt_size_eval(empty, sym), -1);
    assert_int_equal(rt_size_eval(trunc, sym), -1);
    assert_int_equal(rt_size_eval(lone_op, sym), -1);
    assert_int_equal(rt_size_eval(bad_op, sym), -1);
    assert_int_equal(rt_size_eval(two_left, sym), -1);
    assert_int_equal(rt_size_eval(negative, sym), -1);
    /* deeper than the evaluation stack */
    int64_t deep[1 + 2 * (RT_SIZE_DEPTH + 1)];
    deep[0] = 2 * (RT_SIZE_DEPTH + 1);
    for (int i = 0; i <= RT_SIZE_DEPTH; i++) deep[1 + 2 * i] = RT_SZ_CONST, deep[2 + 2 * i] = i;
    assert_int_equal(rt_size_eval(deep, sym), -1);
}

static void test_memory_check(void **state)
{
    (void)state;
    char err[256], buf[32];
    assert_string_equal(rt_size_str(100, buf, sizeof buf), "100 bytes");
    assert_string_equal(rt_size_str(3 << 19, buf, sizeof buf), "1.5 MiB");
    assert_string_equal(rt_size_str((int64_t)5 << 40, buf, sizeof buf), "5.0 TiB");
    assert_int_equal(rt_size_check(1000, 1 << 20, "m", err, sizeof err), 0);
    assert_int_equal(rt_size_check(2 << 20, 1 << 20, "the model at B=2", err, sizeof err), -1);
    assert_string_equal(err, "the model at B=2 needs 2.0 MiB of memory, more than the limit of 1.0 MiB");
    assert_int_equal(rt_size_check(RT_SIZE_HUGE, 0, "m", err, sizeof err), -1);
    assert_string_equal(err, "m needs more than 8 EiB of memory");
    uint64_t machine = rt_size_machine_bytes();
    assert_true(machine > 0); /* Linux has _SC_PHYS_PAGES */
    assert_int_equal(rt_size_check((int64_t)(machine / 2), 0, "m", err, sizeof err), 0);
    assert_int_equal(rt_size_check((int64_t)machine + 1, 0, "m", err, sizeof err), -1);
    assert_non_null(strstr(err, "more than this machine's"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_evaluate_as_kexpr),
        cmocka_unit_test(test_saturates),
        cmocka_unit_test(test_malformed_words),
        cmocka_unit_test(test_memory_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
