/* test_npy.c - .npy reading and writing, and the atomic file writer.
 *
 * Round trips for every dtype and ranks 0..4, numpy-made fixtures in
 * tests/data/tensors/ (made by tests/tools/make_tensor_fixtures.py), the
 * writer's bytes against numpy's, and failure modes of the atomic write.
 * Run from the repo root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/tensor.h"
#include "test_util.h"

#define FIX "tests/data/tensors/"

static int count_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    if (!d) return -1;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Fill with values whose bytes differ per element and per dtype. */
static void fill_pattern(Tensor *t)
{
    int64_t n = rt_numel(t);
    for (int64_t i = 0; i < n; i++) {
        switch (t->dtype) {
        case RT_F32: ((float *)t->data)[i] = (float)i * 0.25f - 3.5f; break;
        case RT_F64: ((double *)t->data)[i] = (double)i / 3.0 - 1e10; break;
        case RT_I32: ((int32_t *)t->data)[i] = (int32_t)(i * 7919 - 100000); break;
        case RT_I64: ((int64_t *)t->data)[i] = (int64_t)i * 4000000000LL - 5; break;
        }
    }
}

static void test_round_trip_all_dtypes_and_ranks(void **state)
{
    (void)state;
    static const int64_t dims[5][4] = {{0}, {5}, {2, 3}, {2, 1, 3}, {2, 3, 1, 2}};
    const RtDType dts[] = {RT_F32, RT_F64, RT_I32, RT_I64};
    char path[512], err[512];
    for (int d = 0; d < 4; d++)
        for (int rank = 0; rank <= 4; rank++) {
            Tensor t, u;
            assert_int_equal(rt_tensor_alloc(&t, dts[d], rank, dims[rank]), 0);
            fill_pattern(&t);
            tu_tmp_path(path, sizeof path, "rt.npy");
            assert_int_equal(rt_npy_write(path, &t, err, sizeof err), 0);
            if (rt_npy_read(path, &u, err, sizeof err) != 0) fail_msg("%s", err);
            assert_int_equal(u.dtype, t.dtype);
            assert_int_equal(u.rank, rank);
            for (int i = 0; i < rank; i++) assert_int_equal(u.shape[i], t.shape[i]);
            assert_memory_equal(u.data, t.data, (size_t)rt_numel(&t) * rt_dtype_size(t.dtype));
            rt_tensor_free(&t);
            rt_tensor_free(&u);
        }
}

static void test_empty_tensor_round_trip(void **state)
{
    (void)state;
    const int64_t shape[3] = {3, 0, 2};
    Tensor t, u;
    char path[512], err[512];
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, 3, shape), 0);
    tu_tmp_path(path, sizeof path, "empty.npy");
    assert_int_equal(rt_npy_write(path, &t, err, sizeof err), 0);
    assert_int_equal(rt_npy_read(path, &u, err, sizeof err), 0);
    assert_int_equal(u.rank, 3);
    assert_int_equal(u.shape[1], 0);
    assert_int_equal(rt_numel(&u), 0);
    rt_tensor_free(&t);
    rt_tensor_free(&u);
}

static void test_read_numpy_fixtures(void **state)
{
    (void)state;
    Tensor t;
    char err[512];

    assert_int_equal(rt_npy_read(FIX "f32_2x3.npy", &t, err, sizeof err), 0);
    assert_int_equal(t.dtype, RT_F32);
    assert_int_equal(t.rank, 2);
    assert_int_equal(t.shape[0], 2);
    assert_int_equal(t.shape[1], 3);
    for (int i = 0; i < 6; i++) /* i*0.5-1 is exact in float: compare exactly */
        assert_true(((float *)t.data)[i] == (float)i * 0.5f - 1.0f);
    rt_tensor_free(&t);

    assert_int_equal(rt_npy_read(FIX "f64_scalar.npy", &t, err, sizeof err), 0);
    assert_int_equal(t.dtype, RT_F64);
    assert_int_equal(t.rank, 0);
    assert_int_equal(rt_numel(&t), 1);
    assert_true(((double *)t.data)[0] == 3.25);
    rt_tensor_free(&t);

    assert_int_equal(rt_npy_read(FIX "i32_vec.npy", &t, err, sizeof err), 0);
    assert_int_equal(t.dtype, RT_I32);
    assert_int_equal(t.rank, 1);
    assert_int_equal(t.shape[0], 4);
    int32_t want32[4] = {1, -2, 3, 2147483647};
    assert_memory_equal(t.data, want32, sizeof want32);
    rt_tensor_free(&t);

    assert_int_equal(rt_npy_read(FIX "i64_2x3x4.npy", &t, err, sizeof err), 0);
    assert_int_equal(t.dtype, RT_I64);
    assert_int_equal(t.rank, 3);
    for (int i = 0; i < 24; i++) assert_int_equal(((int64_t *)t.data)[i], i - 5);
    rt_tensor_free(&t);

    assert_int_equal(rt_npy_read(FIX "f32_empty_0x3.npy", &t, err, sizeof err), 0);
    assert_int_equal(t.rank, 2);
    assert_int_equal(t.shape[0], 0);
    assert_int_equal(t.shape[1], 3);
    rt_tensor_free(&t);

    const char *versions[] = {FIX "f32_v2.npy", FIX "f32_v3.npy"};
    for (int v = 0; v < 2; v++) {
        if (rt_npy_read(versions[v], &t, err, sizeof err) != 0) fail_msg("%s", err);
        assert_int_equal(t.rank, 1);
        assert_int_equal(t.shape[0], 5);
        for (int i = 0; i < 5; i++) assert_true(((float *)t.data)[i] == (float)i);
        rt_tensor_free(&t);
    }
}

/* Our writer produces exactly numpy's bytes: header text, padding, data. */
static void test_writer_matches_numpy_bytes(void **state)
{
    (void)state;
    const char *fixtures[] = {FIX "f32_2x3.npy", FIX "f64_scalar.npy", FIX "i32_vec.npy", FIX "i64_2x3x4.npy",
                              FIX "f32_empty_0x3.npy"};
    char path[512], err[512];
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        Tensor t;
        assert_int_equal(rt_npy_read(fixtures[i], &t, err, sizeof err), 0);
        tu_tmp_path(path, sizeof path, "again.npy");
        assert_int_equal(rt_npy_write(path, &t, err, sizeof err), 0);
        size_t n1, n2;
        unsigned char *a = tu_read_file(fixtures[i], &n1), *b = tu_read_file(path, &n2);
        assert_non_null(a);
        assert_non_null(b);
        if (n1 != n2 || memcmp(a, b, n1) != 0) fail_msg("%s: rewritten file differs from numpy's", fixtures[i]);
        free(a);
        free(b);
        rt_tensor_free(&t);
    }
}

/* '=' (native) and '|' byte-order marks mean little-endian on this host. */
static void test_native_byte_order_marks(void **state)
{
    (void)state;
    const char *descrs[] = {"=f4", "|f4", "<f4"};
    char path[512], err[512];
    for (int k = 0; k < 3; k++) {
        /* 10-byte prefix + 118-byte header: data starts at byte 128. */
        unsigned char buf[128 + 8];
        char hdr[128];
        int n = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (2,)}", descrs[k]);
        memset(hdr + n, ' ', sizeof hdr - (size_t)n);
        hdr[117] = '\n';
        memcpy(buf, "\x93NUMPY\x01\x00\x76\x00", 10);
        memcpy(buf + 10, hdr, 118);
        float v[2] = {1.5f, -2.0f};
        memcpy(buf + 128, v, 8);
        tu_tmp_path(path, sizeof path, "order.npy");
        tu_write_file(path, buf, sizeof buf);
        Tensor t;
        if (rt_npy_read(path, &t, err, sizeof err) != 0) fail_msg("%s: %s", descrs[k], err);
        assert_int_equal(t.rank, 1);
        assert_memory_equal(t.data, v, sizeof v);
        rt_tensor_free(&t);
    }
}

static void test_missing_and_non_regular_files(void **state)
{
    (void)state;
    Tensor t;
    char path[512], err[512];
    tu_tmp_path(path, sizeof path, "does_not_exist.npy");
    assert_int_equal(rt_npy_read(path, &t, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "cannot open"));
    assert_int_equal(rt_npy_read(tu_tmpdir, &t, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a regular file"));
}

/* A tiny error buffer truncates the message but never overflows: the
 * buffer is exactly 4 bytes on the heap, so ASan sees any overrun. */
static void test_small_error_buffer(void **state)
{
    (void)state;
    Tensor t;
    char *err = malloc(4);
    assert_int_equal(rt_npy_read("tests/bad/tensors/09_npy_fortran_order.npy", &t, err, 4), -1);
    assert_int_equal(strlen(err), 3);
    assert_memory_equal(err, "tes", 3);
    free(err);
    /* And no buffer at all is allowed. */
    assert_int_equal(rt_npy_read("tests/bad/tensors/09_npy_fortran_order.npy", &t, NULL, 0), -1);
}

/* ---- atomic writes ---------------------------------------------------- */

static void test_atomic_write_missing_directory(void **state)
{
    (void)state;
    char path[512], err[512];
    snprintf(path, sizeof path, "%s/no/such/dir/x.npy", tu_tmpdir);
    const int64_t shape[1] = {4};
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, 1, shape), 0);
    assert_int_equal(rt_npy_write(path, &t, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    rt_tensor_free(&t);
}

/* The write fails half way (file size limit): the old file is untouched
 * and no temp file is left behind. */
static void test_atomic_write_failure_keeps_old_file(void **state)
{
    (void)state;
    char path[512], err[512];
    tu_tmp_path(path, sizeof path, "keep.bin");
    const char old[] = "old contents";
    tu_write_file(path, old, sizeof old);
    int before = count_dir_entries(tu_tmpdir);

    struct rlimit saved, small;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    small = saved;
    small.rlim_cur = 4096;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN); /* get EFBIG, not a signal */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);

    size_t big = 1 << 20;
    char *data = calloc(big, 1);
    const void *parts[1] = {data};
    size_t sizes[1] = {big};
    int rc = rt_write_file_atomic(path, parts, sizes, 1, err, sizeof err);

    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, prev);
    free(data);

    assert_int_equal(rc, -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "write failed"));
    size_t n;
    unsigned char *now = tu_read_file(path, &n);
    assert_int_equal(n, sizeof old);
    assert_memory_equal(now, old, sizeof old);
    free(now);
    assert_int_equal(count_dir_entries(tu_tmpdir), before);
}

/* rename() onto a directory fails: the directory stays, the temp goes. */
static void test_atomic_write_rename_failure(void **state)
{
    (void)state;
    char path[512], err[512];
    tu_tmp_path(path, sizeof path, "a_directory");
    assert_int_equal(mkdir(path, 0755), 0);
    int before = count_dir_entries(tu_tmpdir);
    const void *parts[1] = {"abc"};
    size_t sizes[1] = {3};
    assert_int_equal(rt_write_file_atomic(path, parts, sizes, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "rename failed"));
    assert_int_equal(count_dir_entries(tu_tmpdir), before);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    rmdir(path);
}

/* A read-only directory refuses the temp file (skipped as root, which
 * ignores permissions). */
static void test_atomic_write_readonly_directory(void **state)
{
    (void)state;
    if (geteuid() == 0) skip();
    char dir[512], path[600], err[512];
    tu_tmp_path(dir, sizeof dir, "ro");
    assert_int_equal(mkdir(dir, 0555), 0);
    snprintf(path, sizeof path, "%s/x.npy", dir);
    const void *parts[1] = {"abc"};
    size_t sizes[1] = {3};
    assert_int_equal(rt_write_file_atomic(path, parts, sizes, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_int_equal(count_dir_entries(dir), 0);
    rmdir(dir);
}

static void test_atomic_write_replaces(void **state)
{
    (void)state;
    char path[512], err[512];
    tu_tmp_path(path, sizeof path, "replace.bin");
    tu_write_file(path, "old", 3);
    const void *parts[3] = {"new", "", "er"};
    size_t sizes[3] = {3, 0, 2};
    assert_int_equal(rt_write_file_atomic(path, parts, sizes, 3, err, sizeof err), 0);
    size_t n;
    unsigned char *now = tu_read_file(path, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(now, "newer", 5);
    free(now);
}

static void test_tensor_helpers(void **state)
{
    (void)state;
    Tensor t;
    char buf[64];
    const int64_t shape[3] = {2, 3, 4};
    assert_int_equal(rt_tensor_alloc(&t, RT_I64, 3, shape), 0);
    assert_int_equal(rt_numel(&t), 24);
    assert_string_equal(rt_shape_str(&t, buf, sizeof buf), "[2, 3, 4]");
    assert_string_equal(rt_shape_str(&t, buf, 5), "[2, ");
    rt_tensor_free(&t);
    assert_null(t.data);
    const int64_t huge[2] = {INT64_MAX / 2, 3};
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, 2, huge), -1);
    const int64_t neg[1] = {-1};
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, 1, neg), -1);
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, RT_MAX_RANK + 1, shape), -1);
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, 0, NULL), 0);
    assert_string_equal(rt_shape_str(&t, buf, sizeof buf), "[]");
    rt_tensor_free(&t);
    assert_string_equal(rt_dtype_name(RT_F64), "F64");
    assert_int_equal(rt_dtype_size(RT_I32), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tensor_helpers),
        cmocka_unit_test(test_round_trip_all_dtypes_and_ranks),
        cmocka_unit_test(test_empty_tensor_round_trip),
        cmocka_unit_test(test_read_numpy_fixtures),
        cmocka_unit_test(test_writer_matches_numpy_bytes),
        cmocka_unit_test(test_native_byte_order_marks),
        cmocka_unit_test(test_missing_and_non_regular_files),
        cmocka_unit_test(test_small_error_buffer),
        cmocka_unit_test(test_atomic_write_missing_directory),
        cmocka_unit_test(test_atomic_write_failure_keeps_old_file),
        cmocka_unit_test(test_atomic_write_rename_failure),
        cmocka_unit_test(test_atomic_write_readonly_directory),
        cmocka_unit_test(test_atomic_write_replaces),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
