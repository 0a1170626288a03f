/* test_util.h - helpers shared by the cmocka unit tests: a scratch
 * directory per test program, whole-file reads and writes, reading back a
 * tmpfile a function printed into, and source text several tests parse.
 *
 * Each test is one translation unit, so the helpers are static; `static
 * inline` keeps a test that uses only some of them free of unused-function
 * warnings.  Include it after <cmocka.h>: the helpers assert with it. */
#ifndef RNNC_TEST_UTIL_H
#define RNNC_TEST_UTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- a scratch directory ---------------------------------------------------- */

/* The directory made by tu_tmpdir_setup, for the test's files. */
static char tu_tmpdir[256];

/* A cmocka group setup: makes a fresh directory $TMPDIR/rnnc_test.XXXXXX
 * (/tmp without TMPDIR).  Returns 0, or -1 if it cannot. */
static inline int tu_tmpdir_setup(void **state)
{
    (void)state;
    const char *base = getenv("TMPDIR");
    snprintf(tu_tmpdir, sizeof tu_tmpdir, "%s/rnnc_test.XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tu_tmpdir) ? 0 : -1;
}

/* The group teardown: removes the directory and what the tests left in it
 * (files and empty directories, one level deep: all the tests make). */
static inline int tu_tmpdir_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(tu_tmpdir);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", tu_tmpdir, e->d_name);
                remove(p);
            }
        closedir(d);
    }
    rmdir(tu_tmpdir);
    return 0;
}

/* buf = "<scratch dir>/<name>". */
static inline void tu_tmp_path(char *buf, size_t n, const char *name) { snprintf(buf, n, "%s/%s", tu_tmpdir, name); }

/* ---- whole files ------------------------------------------------------------ */

/* The bytes of a file, with a NUL after them (caller frees), or NULL (and
 * *len 0) if it cannot be opened or read into memory. */
static inline unsigned char *tu_read_file(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!p) {
        fclose(f);
        return NULL;
    }
    *len = fread(p, 1, (size_t)n, f);
    p[*len] = '\0';
    fclose(f);
    return p;
}

/* Writes exactly n bytes to path, replacing it. */
static inline void tu_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Everything written to f since it was opened, as a string (caller frees);
 * closes f.  Tests print into a tmpfile() rather than open_memstream where
 * gcc's -Wdangling-pointer misreads the latter's pointer-to-local. */
static inline char *tu_read_stream(FILE *f)
{
    long n = ftell(f);
    assert_true(n >= 0);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    rewind(f);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* ---- source text ------------------------------------------------------------ */

/* The user-defined GRU cell of docs/language.md, a string literal so that
 * a test can paste it into a longer program. */
#define TU_MYGRU_SRC                                                          \
    "cell mygru(x: [I]) -> [H] {\n"                                           \
    "  param Wx: [3H, I] init xavier     param Wh: [3H, H] init orthogonal\n" \
    "  param b:  [3H] init zero\n"                                            \
    "  state h: [H] = 0\n"                                                    \
    "  xr, xz, xn = split(Wx @ x + b, 3)\n"                                   \
    "  hr, hz, hn = split(Wh @ h, 3)\n"                                       \
    "  r = sigmoid(xr + hr)   z = sigmoid(xz + hz)\n"                         \
    "  n = tanh(xn + r * hn)\n"                                               \
    "  h' = (1 - z) * n + z * h\n"                                            \
    "  out h'\n"                                                              \
    "}\n"

/* ---- a model from source ------------------------------------------------------- */

#include "frontend/ast.h"
#include "frontend/sema.h"

/* Parses and checks src (named "t.rnn") and builds its first model's IR,
 * failing the test on any error.  The module may point into the syntax
 * tree (a user cell's state names), so the tree is returned in *prog and
 * must outlive the module, as in the driver: free the module, then the tree. */
static inline IrModule *tu_build_src(const char *src, Program **prog)
{
    Diag d;
    diag_init(&d, "t.rnn", src, stderr);
    Program *p = parse_program("t.rnn", src, &d);
    assert_non_null(p);
    IrModule *m = sema_build(p, NULL, &d);
    assert_non_null(m);
    assert_int_equal(d.nerrors, 0);
    *prog = p;
    return m;
}

/* A module and the syntax tree it may point into, freed together. */
typedef struct {
    Program *prog;
    IrModule *m;
} TuBuilt;

static inline TuBuilt tu_build(const char *src)
{
    TuBuilt b;
    b.m = tu_build_src(src, &b.prog);
    return b;
}

static inline void tu_built_free(TuBuilt *b)
{
    ir_free(b->m);
    ast_free(b->prog);
}

#endif
