/* test_rt_source.c - the runtime amalgamation (target/c/rt_source.h) works
 * as a generated model uses it: rt_source_text() pasted before a small
 * program that calls rt_sgemm, rt_sgemm_ws, rt_tanhf, rt_vtanh and
 * rt_cross_entropy compiles with gcc and with clang (a compiler that is not
 * installed is skipped) at -std=c11 -Wall -Wextra -pedantic -Werror with no
 * -m flags, runs, and gets the right numbers on the default CPU path and on
 * the forced scalar one; and two such translation units link into one
 * program (every runtime symbol is static, so nothing clashes).
 *
 * The tanh values the program must produce are computed here by the
 * library build of rt_tanhf and written into its source as bit patterns:
 * the amalgamation and the library are the same code, so the bits must be
 * equal, not just close. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/c/rt_source.h"
#include "runtime/nn_kernels.h"
#include "test_util.h"

/* Inputs of the tanh check: both branches of the algorithm (|x| < 0.625
 * and above), the boundary, tiny values, signed zeros, saturation and the
 * infinities. */
static const float tanh_inputs[] = {-20.0f, -3.5f,       -0.7f,  -0.625f, -1e-3f, -0.0f,  0.0f,     1e-30f,
                                    0.3f,   0.62499994f, 0.625f, 1.5f,    9.0f,   100.0f, INFINITY, -INFINITY};
enum { NTANH = sizeof tanh_inputs / sizeof tanh_inputs[0] };

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* The test program's own code, after the runtime text: check() returns the
 * number of failures.  sgemm inputs are multiples of 1/8 in [-6/8, 6/8],
 * so every product is a multiple of 1/64 and every sum of 37 of them is
 * below 2^5: all exact in float, and C must equal the double reference
 * exactly whatever the kernel's order of additions (or FMA).
 * Cross-entropy: one rounding of a double result, so within FLT_EPSILON
 * relative of the double reference. */
static const char check_src[] =
    "#include <math.h>\n"
    "#include <float.h>\n"
    "#include <stdio.h>\n"
    "#include <stdlib.h>\n"
    "#include <string.h>\n"
    "enum { M = 13, N = 21, K = 37 };\n"
    "static int check_gemm(int tb, const float *C, const float *A, const float *B) {\n"
    "    int bad = 0;\n"
    "    for (int i = 0; i < M; i++)\n"
    "        for (int j = 0; j < N; j++) {\n"
    "            double s = 0;\n"
    "            for (int p = 0; p < K; p++)\n"
    "                s += (double)A[i * K + p] * (tb ? B[j * K + p] : B[p * N + j]);\n"
    "            bad += C[i * N + j] != (float)s;\n"
    "        }\n"
    "    return bad;\n"
    "}\n"
    "static int check(const char *who) {\n"
    "    static float A[M * K], B[K * N], C[M * N];\n"
    "    int bad = 0;\n"
    "    for (int i = 0; i < M * K; i++) A[i] = (float)((i * 7) % 13 - 6) / 8;\n"
    "    for (int i = 0; i < K * N; i++) B[i] = (float)((i * 5) % 13 - 6) / 8;\n"
    "    rt_sgemm(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);\n"
    "    bad += check_gemm(0, C, A, B);\n"
    "    size_t ws_bytes = rt_sgemm_workspace_size(M, N, K);\n"
    "    void *ws = aligned_alloc(64, (ws_bytes + 63) / 64 * 64);\n"
    "    memset(C, 0, sizeof C);\n"
    "    if (!ws || rt_sgemm_ws(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C, N, ws, ws_bytes))\n"
    "        bad++;\n"
    "    else\n"
    "        bad += check_gemm(1, C, A, B);\n"
    "    free(ws);\n"
    "    float y[NTANH];\n"
    "    rt_vtanh(y, tanh_x, NTANH);\n"
    "    for (int i = 0; i < NTANH; i++) {\n"
    "        float t = rt_tanhf(tanh_x[i]);\n"
    "        unsigned tb, vb;\n"
    "        memcpy(&tb, &t, sizeof tb);\n"
    "        memcpy(&vb, &y[i], sizeof vb);\n"
    "        if (tb != tanh_bits[i] || vb != tanh_bits[i]) {\n"
    "            fprintf(stderr, \"%s: tanh(%a) = %a / %a\\n\", who, (double)tanh_x[i], (double)t, (double)y[i]);\n"
    "            bad++;\n"
    "        }\n"
    "    }\n"
    "    const float lg[2 * 5] = {0.5f, -1.0f, 2.0f, 0.0f, 3.0f, 1000.0f, 999.0f, 0.0f, -5.0f, 998.5f};\n"
    "    int64_t ids[2] = {4, 1};\n"
    "    double want = 0;\n"
    "    for (int r = 0; r < 2; r++) {\n"
    "        double mx = r ? 1000.0 : 3.0, s = 0;\n"
    "        for (int c = 0; c < 5; c++) s += exp(lg[r * 5 + c] - mx);\n"
    "        want += mx + log(s) - lg[r * 5 + ids[r]];\n"
    "    }\n"
    "    want /= 2;\n"
    "    float ce = -1;\n"
    "    if (rt_cross_entropy(2, 5, lg, ids, &ce) != 0 || !(fabs(ce - want) <= FLT_EPSILON * fabs(want))) {\n"
    "        fprintf(stderr, \"%s: cross_entropy %.9g, want %.17g\\n\", who, ce, want);\n"
    "        bad++;\n"
    "    }\n"
    "    int64_t badid = 5;\n"
    "    if (rt_cross_entropy(1, 5, lg, &badid, &ce) != RT_ERR_ID_RANGE) bad++;\n"
    "    if (bad) fprintf(stderr, \"%s: %d failures\\n\", who, bad);\n"
    "    return bad;\n"
    "}\n";

/* Writes the runtime, the tanh table and check_src, then `tail`. */
static void write_program(const char *path, const char *tail)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(rt_source_text(), f);
    fprintf(f, "\n/* ---- the test program ---- */\nenum { NTANH = %d };\n", (int)NTANH);
    fputs("static const float tanh_x[NTANH] = {", f);
    for (int i = 0; i < NTANH; i++) {
        if (isinf(tanh_inputs[i]))
            fputs(tanh_inputs[i] > 0 ? "HUGE_VALF, " : "-HUGE_VALF, ", f);
        else
            fprintf(f, "%af, ", (double)tanh_inputs[i]);
    }
    fputs("};\nstatic const unsigned tanh_bits[NTANH] = {", f);
    for (int i = 0; i < NTANH; i++) fprintf(f, "0x%08lxu, ", (unsigned long)bits_of(rt_tanhf(tanh_inputs[i])));
    fputs("};\n", f);
    fputs(check_src, f);
    fputs(tail, f);
    assert_int_equal(fclose(f), 0);
}

static int have(const char *cc)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", cc);
    return system(cmd) == 0;
}

/* Runs a shell command; on failure prints it and its output. */
static void run(const char *cmd)
{
    char full[2048], log[600];
    tu_tmp_path(log, sizeof log, "log.txt");
    snprintf(full, sizeof full, "%s >%s 2>&1", cmd, log);
    if (system(full) != 0) {
        fprintf(stderr, "failed: %s\n", cmd);
        snprintf(full, sizeof full, "head -c 4000 %s >&2", log);
        if (system(full) != 0) fprintf(stderr, "(no log)\n");
        fail();
    }
}

#define STRICT "-std=c11 -Wall -Wextra -pedantic -Werror -O2 -fno-common"

static void compile(const char *cc, const char *c_name, const char *o_name)
{
    char c[600], o[600], cmd[1600];
    tu_tmp_path(c, sizeof c, c_name);
    tu_tmp_path(o, sizeof o, o_name);
    snprintf(cmd, sizeof cmd, "%s " STRICT " -c %s -o %s", cc, c, o);
    run(cmd);
}

/* Links objects (names in the scratch dir) into `exe` and runs it on the
 * default CPU path and on the portable one. */
static void link_and_run(const char *cc, const char *exe, const char *o1, const char *o2)
{
    char e[600], a[600], b[600], cmd[2000];
    tu_tmp_path(e, sizeof e, exe);
    tu_tmp_path(a, sizeof a, o1);
    if (o2) tu_tmp_path(b, sizeof b, o2);
    snprintf(cmd, sizeof cmd, "%s -o %s %s %s -lm", cc, e, a, o2 ? b : "");
    run(cmd);
    snprintf(cmd, sizeof cmd, "%s", e);
    run(cmd);
    snprintf(cmd, sizeof cmd, "RNNC_CPU=scalar %s", e);
    run(cmd);
}

static void one_compiler(const char *cc)
{
    char path[600];
    /* one model */
    tu_tmp_path(path, sizeof path, "one.c");
    write_program(path, "int main(void) { return check(\"one\") != 0; }\n");
    compile(cc, "one.c", "one.o");
    link_and_run(cc, "one", "one.o", NULL);
    /* two models, each carrying the runtime, in one program */
    tu_tmp_path(path, sizeof path, "model_a.c");
    write_program(path, "int model_a(void);\nint model_a(void) { return check(\"a\"); }\n");
    tu_tmp_path(path, sizeof path, "model_b.c");
    write_program(path, "int model_a(void);\n"
                        "int main(void) { return (model_a() + check(\"b\")) != 0; }\n");
    compile(cc, "model_a.c", "model_a.o");
    compile(cc, "model_b.c", "model_b.o");
    link_and_run(cc, "two", "model_a.o", "model_b.o");
}

static void test_gcc(void **state)
{
    (void)state;
    if (!have("gcc")) skip();
    one_compiler("gcc");
}

static void test_clang(void **state)
{
    (void)state;
    if (!have("clang")) skip();
    one_compiler("clang");
}

/* The text itself: the static preamble comes first, then rnnrt.h, and no
 * #include of a runtime header survives (the files it names are not next
 * to a generated model). */
static void test_text_shape(void **state)
{
    (void)state;
    const char *t = rt_source_text();
    assert_non_null(t);
    const char *api = strstr(t, "#define RT_API static");
    const char *hdr = strstr(t, "#ifndef RNNC_RNNRT_H");
    assert_non_null(api);
    assert_non_null(hdr);
    assert_true(api < hdr);
    assert_null(strstr(t, "#include \"runtime/"));
    /* every part is there */
    const char *parts[] = {"rt_cpu_path(void)", "ukr_avx2",   "ukr_avx512",     "ukr_scalar",
                           "rt_vtanh_on",       "vtanh_avx2", "rt_adam_update", "rt_embedding_grad"};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        if (!strstr(t, parts[i])) {
            fprintf(stderr, "missing %s\n", parts[i]);
            fail();
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_shape),
        cmocka_unit_test(test_gcc),
        cmocka_unit_test(test_clang),
    };
    return cmocka_run_group_tests(tests, tu_tmpdir_setup, tu_tmpdir_teardown);
}
