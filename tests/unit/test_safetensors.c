/* test_safetensors.c - safetensors reading and writing, and TensorMap.
 *
 * Reads a file laid out like the `safetensors` Python package's output
 * (tests/data/tensors/model.safetensors, made by
 * tests/tools/make_tensor_fixtures.py), round trips every dtype and ranks
 * 0..4, checks the exact bytes of the header we write, name escaping, and
 * that a failed write keeps the old file; and the one safetensors reader
 * under it (runtime/st_format.h, st_json.h), which compiled models load
 * with too, on its own.  Run from the repo root. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/tensor.h"
#include "runtime/st_format.h"
#include "runtime/st_json.h"
#include "test_util.h"

static void put_new(TensorMap *m, const char *name, RtDType dt, int rank, const int64_t *shape)
{
    Tensor t;
    assert_int_equal(rt_tensor_alloc(&t, dt, rank, shape), 0);
    unsigned char *b = t.data;
    size_t n = (size_t)rt_numel(&t) * rt_dtype_size(dt);
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)(i * 37 + strlen(name) + (size_t)dt);
    assert_int_equal(rt_map_put(m, name, &t), 0);
    assert_null(t.data); /* ownership moved into the map */
}

static void test_read_python_layout_fixture(void **state)
{
    (void)state;
    TensorMap m;
    char err[512];
    if (rt_st_read("tests/data/tensors/model.safetensors", &m, err, sizeof err) != 0) fail_msg("%s", err);
    /* Tensors come out in file (data offset) order. */
    const char *order[] = {"scale", "ids", "h.bias_ih_l0", "h.weight_ih_l0", "count"};
    assert_int_equal(m.count, 5);
    for (int i = 0; i < 5; i++) assert_string_equal(m.names[i], order[i]);

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
    for (int i = 0; i < 4; i++) assert_true(((float *)b->data)[i] == (float)(i + 1));

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

static void test_round_trip_all_dtypes_and_ranks(void **state)
{
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
    if (rt_st_write(path, &m, err, sizeof err) != 0) fail_msg("%s", err);
    if (rt_st_read(path, &r, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(r.count, m.count);
    for (int i = 0; i < m.count; i++) {
        assert_string_equal(r.names[i], m.names[i]);
        const Tensor *a = &m.tensors[i], *b = &r.tensors[i];
        assert_int_equal(b->dtype, a->dtype);
        assert_int_equal(b->rank, a->rank);
        for (int k = 0; k < a->rank; k++) assert_int_equal(b->shape[k], a->shape[k]);
        assert_memory_equal(b->data, a->data, (size_t)rt_numel(a) * rt_dtype_size(a->dtype));
    }

    /* Header length is a multiple of 8, and the padding is spaces. */
    size_t n;
    unsigned char *raw = tu_read_file(path, &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | raw[i];
    assert_int_equal(hlen % 8, 0);
    assert_true(hlen + 8 <= n);
    assert_int_equal(raw[8], '{');
    size_t end = 8 + (size_t)hlen;
    while (raw[end - 1] == ' ') end--;
    assert_int_equal(raw[end - 1], '}');
    free(raw);
    rt_map_free(&m);
    rt_map_free(&r);
}

/* The exact bytes for a small map: compact JSON, spaces to a multiple of 8. */
static void test_exact_bytes(void **state)
{
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
    for (int i = 1; i < 8; i++) assert_int_equal(raw[i], 0);
    assert_memory_equal(raw + 8, json, jl);
    for (size_t i = jl; i < padded; i++) assert_int_equal(raw[8 + i], ' ');
    float fv[2] = {1.0f, -2.0f};
    int32_t iv = 7;
    assert_memory_equal(raw + 8 + padded, fv, 8);
    assert_memory_equal(raw + 8 + padded + 8, &iv, 4);
    free(raw);
    rt_map_free(&m);
}

static void test_empty_map(void **state)
{
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
static void test_name_escaping(void **state)
{
    (void)state;
    const char *names[] = {"quo\"te", "back\\slash", "new\nline", "tab\t", "utf8 \xc3\xa9"};
    TensorMap m, r;
    char path[512], err[512];
    const int64_t s1[1] = {1};
    rt_map_init(&m);
    for (int i = 0; i < 5; i++) put_new(&m, names[i], RT_F32, 1, s1);
    tu_tmp_path(path, sizeof path, "names.safetensors");
    assert_int_equal(rt_st_write(path, &m, err, sizeof err), 0);
    if (rt_st_read(path, &r, err, sizeof err) != 0) fail_msg("%s", err);
    assert_int_equal(r.count, 5);
    for (int i = 0; i < 5; i++) assert_string_equal(r.names[i], names[i]);
    rt_map_free(&m);
    rt_map_free(&r);
}

static void test_map_put_replaces(void **state)
{
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

static void test_write_rejects_reserved_name(void **state)
{
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
static void test_write_failure_and_replace(void **state)
{
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

/* The header's JSON scanner on its own (runtime/st_json.h): what it
 * accepts and refuses, and what the walkers read from accepted text. */
static void test_json_scanner(void **state)
{
    (void)state;
    char err[256];
    const char *ok = " {\"a\\u00e9\\ud83d\\ude00\\n\": [0, -1, 2.5e3, 9007199254740993, -9223372036854775808,"
                     " 9223372036854775808, true, null], \"b\": {}, \"c\": \"\\\"/\\\\\"} ";
    if (rt_json_check(ok, strlen(ok), err, sizeof err) != 0) fail_msg("%s", err);
    rt_json js = rt_json_walk(ok, strlen(ok));
    assert_string_equal(rt_json_kind(&js), "an object");
    char *key;
    assert_int_equal(rt_json_next_key(&js, &key), 1);
    assert_string_equal(key, "a\xc3\xa9\xf0\x9f\x98\x80\n");
    free(key);
    /* Integers are exact beyond 2^53, where a double would round; a
     * fraction, an exponent or a value past int64_t is no integer. */
    const int want_int[8] = {1, 1, 0, 1, 1, 0, 0, 0};
    const int64_t want_v[5] = {0, -1, 0, 9007199254740993LL, INT64_MIN};
    int n = 0;
    for (; rt_json_next_item(&js); n++) {
        int64_t v = 0;
        assert_true(n < 8);
        assert_int_equal(rt_json_int(&js, &v), want_int[n]);
        if (want_int[n] && n < 5) assert_true(v == want_v[n]);
    }
    assert_int_equal(n, 8);
    assert_int_equal(rt_json_next_key(&js, &key), 1);
    assert_string_equal(key, "b");
    free(key);
    assert_string_equal(rt_json_kind(&js), "an object");
    rt_json_skip(&js);
    assert_int_equal(rt_json_next_key(&js, &key), 1);
    free(key);
    char *c;
    assert_int_equal(rt_json_string(&js, &c), 0);
    assert_string_equal(c, "\"/\\");
    free(c);
    assert_int_equal(rt_json_next_key(&js, &key), 0);

    const char *bad[] = {
        "", "{", "[1,]", "{\"a\":1,}", "01", "1.", "-", "tru", "\"\\ud800\"", "\"\\udc00\"", "\"\\x\"", "\"\\u12\"",
        "\"\\u0000\"", "{1:2}", "[1 2]", "\"\xc0\xaf\"", "\"\xf8\x80\x80\"", "\"\xed\xa0\x80\"",
        /* UTF-8 as RFC 3629 has it (RFC 8259 asks for it): lead
                          * bytes 0xf5-0xff are never valid, whatever follows
                          * (st_loader.h once took 0xf5-0xff for 3-byte leads) */
        "\"\xf5\x80\x80\x80\"", "\"\xf7\xbf\xbf\xbf\"", "\"\xfe\x80\x80\"", "\"\xff\"",
        /* overlong: 0xc1, 3 and 4 bytes for what fits in fewer */
        "\"\xc1\xbf\"", "\"\xe0\x9f\xbf\"", "\"\xf0\x8f\xbf\xbf\"",
        /* past U+10FFFF, the last surrogate, a lone continuation, cut short */
        "\"\xf4\x90\x80\x80\"", "\"\xed\xbf\xbf\"", "\"\x80\"", "\"\xe2\x82\"", "\"\xf0\x9f\x98", "1e", "nul", "{} {}",
        "\"abc", "\"a\tb\"", "1234567890123456789012345678901234567890123456789012345678901234"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        if (rt_json_check(bad[i], strlen(bad[i]), err, sizeof err) != -1) fail_msg("accepted bad JSON <%s>", bad[i]);
        assert_non_null(strstr(err, "at byte"));
    }
    /* The edges of valid UTF-8: U+0080, U+07FF, U+0800, U+D7FF and U+E000
     * around the surrogates, U+FFFF, U+10000, U+10FFFF. */
    const char *edges[] = {"\"\xc2\x80\"",     "\"\xdf\xbf\"",     "\"\xe0\xa0\x80\"",     "\"\xed\x9f\xbf\"",
                           "\"\xee\x80\x80\"", "\"\xef\xbf\xbf\"", "\"\xf0\x90\x80\x80\"", "\"\xf4\x8f\xbf\xbf\""};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        if (rt_json_check(edges[i], strlen(edges[i]), err, sizeof err) != 0)
            fail_msg("refused <%s>: %s", edges[i], err);
    /* Depth: 64 nested arrays are read, 65 are not. */
    char deep[200];
    for (int depth = 64; depth <= 65; depth++) {
        memset(deep, '[', (size_t)depth);
        memset(deep + depth, ']', (size_t)depth);
        assert_int_equal(rt_json_check(deep, (size_t)(2 * depth), err, sizeof err), depth == 64 ? 0 : -1);
    }
}

/* The header length: within the file and at most 100 MB (checked before
 * anything is allocated for it), as rnnc and compiled models both read. */
static void test_header_length_limits(void **state)
{
    (void)state;
    char err[256];
    uint64_t hlen = 0;
    unsigned char len8[8] = {0};
    uint64_t big = RT_ST_MAX_HEADER + 1ull;
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(big >> 8 * i);
    assert_int_equal(rt_st_header_len("f", big + 8, len8, &hlen, err, sizeof err), RT_ST_FORMAT);
    assert_non_null(strstr(err, "f: header length 100000001 is over the limit of 100 MB"));
    assert_int_equal(rt_st_header_len("f", big + 7, len8, &hlen, err, sizeof err), RT_ST_FORMAT);
    assert_non_null(strstr(err, "exceeds file size"));
    len8[0] = 8, len8[1] = len8[2] = len8[3] = 0;
    assert_int_equal(rt_st_header_len("f", 16, len8, &hlen, err, sizeof err), 0);
    assert_int_equal(hlen, 8);
}

/* A header with a fault the old host reader and the old model loader
 * judged differently is refused, with the message naming the fault. */
static void test_header_faults(void **state)
{
    (void)state;
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4],\"x\":1,\"x\":2}}",
         "tensor 'w': duplicate key 'x'"},
        {"{\"w\":{\"dtype\":\"C64\",\"shape\":[],\"data_offsets\":[0,4]}}", "dtype C64 not supported"},
        /* 2^63 bytes: past int64_t, not past uint64_t */
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[2305843009213693952],\"data_offsets\":[0,4]}}", "shape size overflows"},
        {"{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},\"__metadata__\":{\"k\":\"v\"},"
         "\"__metadata__\":{}}",
         "duplicate key '__metadata__' in header"},
    };
    char err[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rt_st_entry *es = NULL;
        int n = -1;
        const char *j = cases[i].json;
        assert_int_equal(rt_st_parse("h", j, strlen(j), 4, &es, &n, err, sizeof err), RT_ST_FORMAT);
        assert_null(es);
        assert_int_equal(n, 0);
        if (!strstr(err, cases[i].want)) fail_msg("<%s>: \"%s\" does not contain \"%s\"", j, err, cases[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_scanner),
        cmocka_unit_test(test_header_length_limits),
        cmocka_unit_test(test_header_faults),
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
