/* test_map_rows.c - element-wise maps split over the threads: which maps
 * may run their rows apart (kir_map_rows_split, kir/kir_map.c) and the
 * runtime call that splits them (rt_map_rows, runtime/sgemm_mt.c).  That
 * the split maps give the same bits on both engines and any thread count
 * is checked end to end by tests/engine (RNNC_MAP_SPLIT_MIN=1 splits every
 * map there; see docs/testing.md). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kir/kir.h"
#include "kir/kir_parse.h"
#include "runtime/sgemm.h"
#include "runtime/sgemm_kernels.h"

/* The first statement of a kfunc over [B, 3] whose buffers are a, y
 * ([B, 6]), s ([B]) and one map with the given body lines. */
static int split_of(const char *body)
{
    char text[2048], err[512];
    snprintf(text, sizeof text,
             "kfunc f (module m) {\n"
             "  sym B\n"
             "  arg    a : f32[6 * B]  arg[0] \"a\"\n"
             "  result y : f32[6 * B]  res[0] \"y\"\n"
             "  result s : f32[B]  res[1] \"s\"\n"
             "  arena not planned\n"
             "  map [B, 3] {\n%s  }\n"
             "}\n",
             body);
    IrModule *m = NULL;
    KFunc *f = kfunc_parse("split.kir", text, &m, err, sizeof err);
    if (!f) fail_msg("%s", err);
    int r = kir_map_rows_split(f->body.stmts[0]);
    kfunc_free(f);
    ir_free(m);
    return r;
}

static void test_which_maps_split(void **state)
{
    (void)state;
    /* a gate map into a slice of a wider row: rows 6 apart, 3 written */
    assert_true(split_of("    n0 = in a[0; 6, 1]\n    n1 = tanh n0\n    out y[3; 6, 1] = n1\n"));
    /* a row sum (a reduction over the inner dimension only) */
    assert_true(split_of("    n0 = in a[0; 6, 1]\n    out s[0; 1, 0] += n0\n"));
    /* in place: each element read and written at the same index */
    assert_true(split_of("    n0 = in y[0; 6, 1]\n    n1 = sigmoid n0\n    out y[0; 6, 1] = n1\n"));
    /* a sum over the rows: every row adds into the same elements */
    assert_false(split_of("    n0 = in a[0; 6, 1]\n    out y[0; 0, 1] += n0\n"));
    /* rows overlap: 2 apart, 3 wide */
    assert_false(split_of("    n0 = in a[0; 6, 1]\n    out y[0; 2, 1] = n0\n"));
    /* reads what another row writes (shifted by a row) */
    assert_false(split_of("    n0 = in y[6; 6, 1]\n    out y[0; 6, 1] = n0\n"));
    /* two outputs in one buffer at other elements: left whole */
    assert_false(split_of("    n0 = in a[0; 6, 1]\n    out y[0; 6, 1] = n0\n    out y[3; 6, 1] = n0\n"));
    /* an inner stride that is not dense */
    assert_false(split_of("    n0 = in a[0; 6, 1]\n    out y[0; 6, 2] = n0\n"));
}

/* rt_map_rows's row function: each row's thread, and the number of calls. */
typedef struct Rows {
    pthread_t who[64];
    int count[64];
    int calls;
    pthread_mutex_t mu;
} Rows;

static void mark(void *ctx, int64_t begin, int64_t end)
{
    Rows *r = ctx;
    pthread_mutex_lock(&r->mu);
    r->calls++;
    pthread_mutex_unlock(&r->mu);
    for (int64_t i = begin; i < end; i++) {
        r->who[i] = pthread_self();
        r->count[i]++;
    }
}

static int threads_used(const Rows *r, int n)
{
    int other = 0;
    for (int i = 0; i < n; i++) other |= !pthread_equal(r->who[i], pthread_self());
    return 1 + other;
}

static void test_rt_map_rows(void **state)
{
    (void)state;
    rt_sgemm_set_threads(2);
    Rows r;
    /* large: 64 rows of 2^20 operations, one range per thread (which
     * thread runs the second is the pool's: its worker, or the caller when
     * the worker has not started it, threadpool.c) */
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    rt_map_rows(64, (int64_t)1 << 20, mark, &r);
    for (int i = 0; i < 64; i++) assert_int_equal(r.count[i], 1);
    assert_int_equal(r.calls, 2);
    /* small (a batch-1 step's gate map): one call on this thread */
    memset(r.count, 0, sizeof r.count);
    r.calls = 0;
    rt_map_rows(1, 256 * 120, mark, &r);
    rt_map_rows(8, 16, mark, &r);
    assert_int_equal(r.calls, 2);
    for (int i = 0; i < 8; i++) assert_int_equal(r.count[i], 1 + (i == 0));
    assert_int_equal(threads_used(&r, 8), 1);
    /* one thread: never split */
    rt_sgemm_set_threads(1);
    memset(r.count, 0, sizeof r.count);
    r.calls = 0;
    rt_map_rows(64, (int64_t)1 << 20, mark, &r);
    assert_int_equal(r.calls, 1);
    assert_int_equal(threads_used(&r, 64), 1);
    rt_map_rows(0, (int64_t)1 << 20, mark, &r); /* no rows: one empty call */
    rt_sgemm_set_threads(0);
    pthread_mutex_destroy(&r.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_which_maps_split),
        cmocka_unit_test(test_rt_map_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
