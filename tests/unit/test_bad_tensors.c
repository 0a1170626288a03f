/* test_bad_tensors.c - every file in the malformed tensor corpus is
 * rejected, with a message that names the file and says what is wrong.
 *
 * Usage: test_bad_tensors [DIR]   (default tests/bad/tensors, run from the
 * repo root).  Each corpus file X.npy or X.safetensors has a sibling
 * X.expect holding a substring the error message must contain.  The corpus
 * is made by tests/tools/make_bad_tensors.py.  A second test damages
 * valid files (every truncation, random byte changes) and checks the
 * readers fail cleanly. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/rng.h"
#include "io/tensor.h"
#include "test_util.h"

static const char *corpus_dir = "tests/bad/tensors";

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Reads the .expect file next to `path`, without the trailing newline. */
static void read_expect(const char *path, char *out, size_t n)
{
    char epath[1024];
    const char *dot = strrchr(path, '.');
    assert_non_null(dot);
    snprintf(epath, sizeof epath, "%.*s.expect", (int)(dot - path), path);
    size_t got;
    char *text = (char *)tu_read_file(epath, &got);
    if (!text) fail_msg("%s: missing sibling file %s", path, epath);
    while (got > 0 && (text[got - 1] == '\n' || text[got - 1] == '\r')) got--;
    assert_true(got > 0);
    snprintf(out, n, "%.*s", (int)got, text);
    free(text);
}

/* Reads path with the reader for its kind and frees what it read; returns
 * the reader's rc, its message in err. */
static int read_tensor_file(const char *path, int npy, char *err, size_t errlen)
{
    int rc;
    if (npy) {
        Tensor t;
        rc = rt_npy_read(path, &t, err, errlen);
        if (rc == 0) rt_tensor_free(&t);
    } else {
        TensorMap m;
        rc = rt_st_read(path, &m, err, errlen);
        if (rc == 0) rt_map_free(&m);
    }
    return rc;
}

static void test_corpus_rejected(void **state)
{
    (void)state;
    DIR *d = opendir(corpus_dir);
    if (!d) fail_msg("cannot open corpus directory %s", corpus_dir);
    char *names[512];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 512)
        if (ends_with(e->d_name, ".npy") || ends_with(e->d_name, ".safetensors")) names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    /* The corpus is meant to cover at least 20 kinds of damage. */
    assert_true(n >= 20);

    for (int i = 0; i < n; i++) {
        char path[1024], expect[256], err[512];
        snprintf(path, sizeof path, "%s/%s", corpus_dir, names[i]);
        read_expect(path, expect, sizeof expect);
        err[0] = '\0';
        int rc = read_tensor_file(path, ends_with(names[i], ".npy"), err, sizeof err);
        if (rc != -1) fail_msg("%s: accepted, expected an error containing \"%s\"", path, expect);
        if (!strstr(err, path)) fail_msg("%s: message does not name the file: \"%s\"", path, err);
        if (!strstr(err, expect)) fail_msg("%s: message \"%s\" does not contain \"%s\"", path, err, expect);
        free(names[i]);
    }
}

/* Reads path as .npy or safetensors; returns the reader's rc and checks a
 * failure names the file. */
static int read_any(const char *path, int npy)
{
    char err[512] = "";
    int rc = read_tensor_file(path, npy, err, sizeof err);
    assert_true(rc == 0 || rc == -1);
    if (rc != 0 && !strstr(err, path)) fail_msg("%s: message does not name the file: \"%s\"", path, err);
    return rc;
}

/* Damage valid files: every strict prefix must be rejected, and random
 * byte changes must give either a clean read or a clean error (under
 * ASan this is the "never reads out of bounds" check). */
static void test_mutated_valid_files(void **state)
{
    (void)state;
    const char *fixtures[] = {"tests/data/tensors/f32_2x3.npy", "tests/data/tensors/i64_2x3x4.npy",
                              "tests/data/tensors/f64_scalar.npy", "tests/data/tensors/f32_v3.npy",
                              "tests/data/tensors/model.safetensors"};
    char path[512];
    tu_tmp_path(path, sizeof path, "damaged.bin");
    RtRng rng;
    rt_rng_seed(&rng, 2024);
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
        int npy = ends_with(fixtures[f], ".npy");
        size_t len;
        unsigned char *orig = tu_read_file(fixtures[f], &len);
        if (!orig) fail_msg("cannot open fixture %s", fixtures[f]);
        for (size_t cut = 0; cut < len; cut++) {
            tu_write_file(path, orig, cut);
            if (read_any(path, npy) != -1) fail_msg("%s cut to %zu bytes was accepted", fixtures[f], cut);
        }
        unsigned char *buf = malloc(len);
        for (int k = 0; k < 2000; k++) {
            memcpy(buf, orig, len);
            int nflips = 1 + (int)(rt_rng_u64(&rng) % 3);
            for (int j = 0; j < nflips; j++) {
                size_t at = (size_t)(rt_rng_u64(&rng) % len);
                /* Half the time a byte that matters to the parsers. */
                static const char special[] = "{}[](),:'\"-0123456789 \n\\";
                buf[at] = rt_rng_u64(&rng) & 1 ? (unsigned char)rt_rng_u64(&rng)
                                               : (unsigned char)special[rt_rng_u64(&rng) % (sizeof special - 1)];
            }
            tu_write_file(path, buf, len);
            read_any(path, npy);
        }
        free(buf);
        free(orig);
    }
}

int main(int argc, char **argv)
{
    if (argc > 1) corpus_dir = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_corpus_rejected),
        cmocka_unit_test(test_mutated_valid_files),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
