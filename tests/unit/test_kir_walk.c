/* test_kir_walk.c - the kernel-IR analyses the passes and targets share
 * (kir/): expression equality (kexpr_equal, kexpr_same_value). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "kir/kir.h"

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
        cmocka_unit_test(test_expr_equality),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
