/* test_safetensors.c - safetensors reading and writing, and TensorMap.
 *
 * Reads a file laid out like the `safetensors` Python package's output
 * (tests/data/tensors/model.safetensors, made by
 * tests/tools/make_tensor_fixtures.py), round trips every dtype and ranks
 * 0..4, checks the exact bytes of the header we write, name escaping, and
 * that a failed write keeps the old file.  Run from the repo root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/json.h"
#include "io/tensor.h"
#include "test_util.h"

static void put_new(TensorMap *m, const char *name, RtDType dt, int rank, const int64_t *shape) {
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, dt, rank, shape), 0);
    unsigned char *b = t.data;
    size_t n = (size_t)rt_numel(&t) * rt_dtype_size(dt);
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(i * 37 + strlen(name) + (size_t)dt);
    assert_int_equal(rt_map_put(m, name, &t), 0);
    assert_null(t.data); /* ownership moved into the map */
}

static void test_read_python_layout_fixture(void **state) {
    (void)state;
    TensorMap m;
    char err[512];
    if (rt_st_read("tests/data/tensors/model.safetensors", &m, err, sizeof err) != 0)
        fail_msg("%s", err);
    /* Tensors come out in file (data offset) order. */
    const char *order[] = {"scale", "ids", "h.bias_ih_l0", "h.weight_ih_l0", "count"};
    assert_int_equal(m.count, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(m.names[i], order[i]);

    Tensor *w = rt_map_get(&m, "h.weight_ih_l0");
    assert_non_null(w);
    assert_int_equal(w->dtype, RT_F32);
    assert_int_equal(w->rank, 2);
    assert_int_equal(w->shape[0], 4);
    assert_int_equal(w->shape[1], 3);
    for (int i = 0; i < 12; i++) /* i/4 is exact in float */
        assert_true(((float *)w->data)[i] == (float)i / 4.0f);

    Tensor *b = rt_map_get(&m, "h.bias_ih_l0");
    assert_non_null(b);
    for (int i = 0; i < 4; i++)
        assert_true(((float *)b->data)[i] == (float)(i + 1));

    Tensor *ids = rt_map_get(&m, "ids");
    int64_t want_ids[4] = {7, -8, 9, 10};
    assert_int_equal(ids->dtype, RT_I64);
    assert_memory_equal(ids->data, want_ids, sizeof want_ids);

    Tensor *scale = rt_map_get(&m, "scale");
    assert_int_equal(scale->dtype, RT_F64);
    assert_int_equal(scale->rank, 0);
    assert_true(((double *)scale->data)[0] == 0.125);

    Tensor *count = rt_map_get(&m, "count");
    assert_int_equal(count->dtype, RT_I32);
    assert_int_equal(((int32_t *)count->data)[0], 42);

    assert_null(rt_map_get(&m, "__metadata__"));
    assert_null(rt_map_get(&m, "missing"));
    rt_map_free(&m);
}

static void test_round_trip_all_dtypes_and_ranks(void **state) {
    (void)state;
    static const int64_t dims[5][4] = {{0}, {5}, {2, 3}, {2, 1, 3}, {2, 3, 1, 2}};
    const RtDType dts[] = {RT_F32, RT_F64, RT_I32, RT_I64};
    TensorMap m, r;
    char name[32], path[512], err[512];
    rt_map_init(&m);
    /* Names in non-alphabetical order: the writer must keep map order. */
    for (int d = 3; d >= 0; d--)
        for (int rank = 4; rank >= 0; rank--) {
            snprintf(name, sizeof name, "t%d.r%d", d, rank);
            put_new(&m, name, dts[d], rank, dims[rank]);
        }
    const int64_t empty[2] = {0, 4};
    put_new(&m, "empty", RT_F32, 2, empty);

    tu_tmp_path(path, sizeof path, "all.safetensors");
    if (rt_st_write(path, &m, err, sizeof err) != 0)
        fail_msg("%s", err);
    if (rt_st_read(path, &r, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(r.count, m.count);
    for (int i = 0; i < m.count; i++) {
        assert_string_equal(r.names[i], m.names[i]);
        const Tensor *a = &m.tensors[i], *b = &r.tensors[i];
        assert_int_equal(b->dtype, a->dtype);
        assert_int_equal(b->rank, a->rank);
        for (int k = 0; k < a->rank; k++)
            assert_int_equal(b->shape[k], a->shape[k]);
        assert_memory_equal(b->data, a->data, (size_t)rt_numel(a) * rt_dtype_size(a->dtype));
    }

    /* Header length is a multiple of 8, and the padding is spaces. */
    size_t n;
    unsigned char *raw = tu_read_file(path, &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | raw[i];
    assert_int_equal(hlen % 8, 0);
    assert_true(hlen + 8 <= n);
    assert_int_equal(raw[8], '{');
    size_t end = 8 + (size_t)hlen;
    while (raw[end - 1] == ' ')
        end--;
    assert_int_equal(raw[end - 1], '}');
    free(raw);
    rt_map_free(&m);
    rt_map_free(&r);
}

/* The exact bytes for a small map: compact JSON, spaces to a multiple of 8. */
static void test_exact_bytes(void **state) {
    (void)state;
    TensorMap m;
    char path[512], err[512];
    rt_map_init(&m);
    const int64_t s2[1] = {2};
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, RT_F32, 1, s2), 0);
    ((float *)t.data)[0] = 1.0f;
    ((float *)t.data)[1] = -2.0f;
    assert_int_equal(rt_map_put(&m, "b", &t), 0);
    assert_int_equal(rt_tensor_alloc(&t, RT_I32, 0, NULL), 0);
    ((int32_t *)t.data)[0] = 7;
    assert_int_equal(rt_map_put(&m, "a", &t), 0);
    tu_tmp_path(path, sizeof path, "exact.safetensors");
    assert_int_equal(rt_st_write(path, &m, err, sizeof err), 0);

    const char *json = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                       "\"a\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[8,12]}}";
    size_t jl = strlen(json), padded = (jl + 7) / 8 * 8;
    size_t n;
    unsigned char *raw = tu_read_file(path, &n);
    assert_int_equal(n, 8 + padded + 12);
    assert_int_equal(raw[0], padded);
    for (int i = 1; i < 8; i++)
        assert_int_equal(raw[i], 0);
    assert_memory_equal(raw + 8, json, jl);
    for (size_t i = jl; i < padded; i++)
        assert_int_equal(raw[8 + i], ' ');
    float fv[2] = {1.0f, -2.0f};
    int32_t iv = 7;
    assert_memory_equal(raw + 8 + padded, fv, 8);
    assert_memory_equal(raw + 8 + padded + 8, &iv, 4);
    free(raw);
    rt_map_free(&m);
}

static void test_empty_map(void **state) {
    (void)state;
    TensorMap m, r;
    char path[512], err[512];
    rt_map_init(&m);
    tu_tmp_path(path, sizeof path, "empty.safetensors");
    assert_int_equal(rt_st_write(path, &m, err, sizeof err), 0);
    size_t n;
    unsigned char *raw = tu_read_file(path, &n);
    assert_int_equal(n, 16);
    assert_memory_equal(raw + 8, "{}      ", 8);
    free(raw);
    assert_int_equal(rt_st_read(path, &r, err, sizeof err), 0);
    assert_int_equal(r.count, 0);
    rt_map_free(&r);
}

/* Names with JSON specials survive the round trip. */
static void test_name_escaping(void **state) {
    (void)state;
    const char *names[] = {"quo\"te", "back\\slash", "new\nline", "tab\t", "utf8 \xc3\xa9"};
    TensorMap m, r;
    char path[512], err[512];
    const int64_t s1[1] = {1};
    rt_map_init(&m);
    for (int i = 0; i < 5; i++)
        put_new(&m, names[i], RT_F32, 1, s1);
    tu_tmp_path(path, sizeof path, "names.safetensors");
    assert_int_equal(rt_st_write(path, &m, err, sizeof err), 0);
    if (rt_st_read(path, &r, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(r.count, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(r.names[i], names[i]);
    rt_map_free(&m);
    rt_map_free(&r);
}

static void test_map_put_replaces(void **state) {
    (void)state;
    TensorMap m;
    const int64_t s1[1] = {1}, s3[1] = {3};
    rt_map_init(&m);
    put_new(&m, "x", RT_F32, 1, s1);
    put_new(&m, "y", RT_F32, 1, s1);
    put_new(&m, "x", RT_I64, 1, s3);
    assert_int_equal(m.count, 2);
    assert_string_equal(m.names[0], "x"); /* keeps its place */
    assert_int_equal(rt_map_get(&m, "x")->dtype, RT_I64);
    assert_int_equal(rt_map_get(&m, "x")->shape[0], 3);
    for (int i = 0; i < 40; i++) { /* grow past the initial capacity */
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        put_new(&m, name, RT_F32, 1, s1);
    }
    assert_int_equal(m.count, 42);
    assert_non_null(rt_map_get(&m, "n39"));
    rt_map_free(&m);
    assert_int_equal(m.count, 0);
}

static void test_write_rejects_reserved_name(void **state) {
    (void)state;
    TensorMap m;
    char path[512], err[512];
    const int64_t s1[1] = {1};
    rt_map_init(&m);
    put_new(&m, "__metadata__", RT_F32, 1, s1);
    tu_tmp_path(path, sizeof path, "reserved.safetensors");
    assert_int_equal(rt_st_write(path, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "__metadata__"));
    assert_int_equal(access(path, F_OK), -1); /* nothing written */
    rt_map_free(&m);
}

/* Writing to a missing directory fails cleanly and names the file; an
 * existing file is replaced only by a complete new one. */
static void test_write_failure_and_replace(void **state) {
    (void)state;
    TensorMap m, r;
    char path[512], bad[512], err[512];
    const int64_t s2[1] = {2};
    rt_map_init(&m);
    put_new(&m, "w", RT_F32, 1, s2);
    tu_tmp_path(bad, sizeof bad, "missing/w.safetensors");
    assert_int_equal(rt_st_write(bad, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, bad));

    tu_tmp_path(path, sizeof path, "w.safetensors");
    assert_int_equal(rt_st_write(path, &m, err, sizeof err), 0);
    put_new(&m, "v", RT_F64, 1, s2);
    assert_int_equal(rt_st_write(path, &m, err, sizeof err), 0);
    assert_int_equal(rt_st_read(path, &r, err, sizeof err), 0);
    assert_int_equal(r.count, 2);
    rt_map_free(&r);
    rt_map_free(&m);
}

/* The header's JSON reader on its own: what it accepts and refuses. */
static void test_json_reader(void **state) {
    (void)state;
    JsonValue v;
    char err[256];
    const char *ok = " {\"a\\u00e9\\ud83d\\ude00\\n\": [0, -1, 2.5e3, 9007199254740993, true, null],"
                     " \"b\": {}, \"c\": \"\\\"/\\\\\"} ";
    if (json_parse(ok, strlen(ok), &v, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(v.kind, JSON_OBJECT);
    assert_int_equal(v.count, 3);
    assert_string_equal(v.keys[0], "a\xc3\xa9\xf0\x9f\x98\x80\n");
    const JsonValue *a = json_get(&v, v.keys[0]);
    assert_int_equal(a->count, 6);
    assert_true(a->items[0].is_int && a->items[0].integer == 0);
    assert_true(a->items[1].is_int && a->items[1].integer == -1);
    assert_true(!a->items[2].is_int && a->items[2].number == 2500.0);
    /* Integers are exact beyond 2^53, where a double would round. */
    assert_true(a->items[3].is_int && a->items[3].integer == 9007199254740993LL);
    assert_int_equal(a->items[4].kind, JSON_BOOL);
    assert_int_equal(a->items[5].kind, JSON_NULL);
    assert_string_equal(json_get(&v, "c")->string, "\"/\\");
    json_free(&v);

    const char *bad[] = {"", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "tru", "\"\\ud800\"",
                         "\"\\udc00\"", "\"\\x\"", "\"\\u12\"", "\"\\u0000\"", "{1:2}",
                         "[1 2]", "\"\xc0\xaf\"", "1e", "nul", "{} {}", "\"abc"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        if (json_parse(bad[i], strlen(bad[i]), &v, err, sizeof err) != -1)
            fail_msg("accepted bad JSON <%s>", bad[i]);
        assert_non_null(strstr(err, "at byte"));
    }
    /* Depth: 64 nested arrays parse, 65 do not. */
    char deep[200];
    for (int depth = 64; depth <= 65; depth++) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        int rc = json_parse(deep, (size_t)(2 * depth), &v, err, sizeof err);
        assert_int_equal(rc, depth == 64 ? 0 : -1);
        if (rc == 0)
            json_free(&v);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_reader),
        cmocka_unit_test(test_read_python_layout_fixture),
        cmocka_unit_test(test_round_trip_all_dtypes_and_ranks),
        cmocka_unit_test(test_exact_bytes),
        cmocka_unit_test(test_empty_map),
        cmocka_unit_test(test_name_escaping),
        cmocka_unit_test(test_map_put_replaces),
        cmocka_unit_test(test_write_rejects_reserved_name),
        cmocka_unit_test(test_write_failure_and_replace),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
