/* test_accuracy.c - the accuracy of `rnnc train` (driver/accuracy.c): which
 * loss has one, and the count of argmax hits against hand-made logits. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "driver/accuracy.c"
#include "tests/unit/test_util.h"

static const char *ce_model = "model m {\n"
                              "  input x : seq<[3]>\n"
                              "  target y : seq<int>\n"
                              "  h = rnn(x, hidden=4)\n"
                              "  z = dense(h, 5)\n"
                              "  loss = cross_entropy(z, y)\n"
                              "}\n";

static const char *mse_model = "model m {\n"
                               "  input x : seq<[3]>\n"
                               "  target y : seq<[2]>\n"
                               "  h = rnn(x, hidden=4)\n"
                               "  z = dense(h, 2)\n"
                               "  loss = mse(z, y)\n"
                               "}\n";

static void test_target_name(void **state)
{
    (void)state;
    TuBuilt b = tu_build(ce_model);
    const char *t = acc_target_name(b.m);
    assert_non_null(t);
    assert_string_equal(t, "y");
    tu_built_free(&b);
    b = tu_build(mse_model);
    assert_null(acc_target_name(b.m));
    tu_built_free(&b);
}

/* [T=2, B=2, C=3] logits; the first maximum counts on a tie. */
static void test_count(void **state)
{
    (void)state;
    Tensor lg, t;
    int64_t ls[3] = {2, 2, 3}, ts[2] = {2, 2};
    assert_int_equal(rt_tensor_alloc(&lg, RT_F32, 3, ls), 0);
    assert_int_equal(rt_tensor_alloc(&t, RT_I64, 2, ts), 0);
    const float v[12] = {0, 5, 1, /* 1 */ 2, 2, 0, /* 0 (tie) */ -1, -3, -2, /* 0 */ 0, 0, 9 /* 2 */};
    const int64_t id[4] = {1, 1, 0, 0};
    memcpy(lg.data, v, sizeof v);
    memcpy(t.data, id, sizeof id);
    int64_t right = 10, n = 20;
    assert_int_equal(acc_count(&lg, &t, &right, &n), 0);
    assert_int_equal(right, 10 + 2);
    assert_int_equal(n, 20 + 4);
    /* a target of another shape: refused, nothing added */
    t.shape[1] = 1;
    assert_int_equal(acc_count(&lg, &t, &right, &n), -1);
    assert_int_equal(right, 12);
    assert_int_equal(n, 24);
    rt_tensor_free(&lg);
    rt_tensor_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_name),
        cmocka_unit_test(test_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
