/* test_sgemm.c - rt_sgemm against a naive triple loop in double.
 *
 * Every path this CPU can run (scalar always, AVX2 and AVX-512 when present)
 * on odd shapes that leave partial register tiles and cross the cache
 * blocks, all four transpose combinations, alpha/beta variants (beta == 0
 * with NaN in C), leading dimensions longer than the rows.  Matrices are
 * allocated to their exact last element, so a kernel or a packing loop that
 * reads past a matrix is caught by ASan; the gaps between rows hold NaN, so
 * one that reads a gap poisons the result; C's gaps hold a sentinel that must
 * survive.  Also: alpha == 0 and K == 0 read neither A nor B, invalid
 * arguments leave C alone, the caller-workspace variant, and RNNC_CPU.
 *
 * Pre-packed B and the small-M algorithm: every path, both algorithms
 * forced (small-M and blocked) and the automatic choice, on M in
 * {1,2,3,4,5,7,17} x N, K in {1,7,17,255,1000}, both transposes of A and of
 * the packed B, against the same double reference; packs and workspaces
 * allocated to the exact size the path needs; a pack made on one path, or
 * for other sizes, or by a failed rt_sgemm_pack_b is rejected.
 *
 * Threads: products big enough to be split give one thread's bits on 2,
 * 3 and 5 threads, and two threads calling rt_sgemm at once both get
 * them too.
 *
 * Tolerance: the standard forward error bound for a dot product of length K
 * computed in float32, |fl(a.b) - a.b| <= gamma_K * sum|a_i b_i| with
 * gamma_K = K*u/(1 - K*u), u = 2^-24, plus two roundings for alpha and
 * beta*C.  We allow (K + 2) * FLT_EPSILON * (|alpha| sum|a||b| + |beta c|):
 * FLT_EPSILON = 2u, which covers the 1/(1 - K*u) factor for every K here. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/cpu.h"
#include "runtime/rnnrt.h"
#include "exec/rng.h"
#include "runtime/sgemm.h"
#include "runtime/sgemm_kernels.h"

#define C_SENTINEL 12345.0f

/* A rows x cols matrix with row stride ld, allocated to its exact last
 * element; values uniform in [-1, 1), the gaps between rows NaN. */
static float *make_matrix(RtRng *r, int64_t rows, int64_t cols, int64_t ld, float gap)
{
    size_t n = rows > 0 && cols > 0 ? (size_t)((rows - 1) * ld + cols) : 1;
    float *m = malloc(n * sizeof(float));
    assert_non_null(m);
    for (size_t i = 0; i < n; i++) m[i] = (int64_t)(i % (size_t)ld) < cols ? rt_rng_uniform_sym(r, 1.0f) : gap;
    return m;
}

typedef struct Case {
    int ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    int64_t pad; /* extra floats per row of A, B and C */
} Case;

/* Runs one case on one path and checks every element of C. */
static void run_case(RtCpuPath path, const Case *c, RtRng *r)
{
    int64_t M = c->M, N = c->N, K = c->K;
    int64_t arows = c->ta ? K : M, acols = c->ta ? M : K;
    int64_t brows = c->tb ? N : K, bcols = c->tb ? K : N;
    int64_t lda = acols + c->pad, ldb = bcols + c->pad, ldc = N + c->pad;
    float *A = make_matrix(r, arows, acols, lda, NAN);
    float *B = make_matrix(r, brows, bcols, ldb, NAN);
    float *C = make_matrix(r, M, N, ldc, C_SENTINEL);
    size_t nc = (size_t)((M - 1) * ldc + N);
    float *C0 = malloc(nc * sizeof(float));
    assert_non_null(C0);
    if (c->beta == 0.0f) /* write-only: garbage must not leak into the result */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = NAN;
    memcpy(C0, C, nc * sizeof(float));

    rt_sgemm_on(path, c->ta, c->tb, M, N, K, c->alpha, A, lda, B, ldb, c->beta, C, ldc);

    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double dot = 0, mag = 0;
            for (int64_t p = 0; p < K; p++) {
                double a = c->ta ? A[p * lda + i] : A[i * lda + p];
                double b = c->tb ? B[j * ldb + p] : B[p * ldb + j];
                dot += a * b;
                mag += fabs(a * b);
            }
            double c0 = c->beta == 0.0f ? 0.0 : C0[i * ldc + j];
            double want = c->alpha * dot + c->beta * c0;
            double tol = (double)(K + 2) * FLT_EPSILON * (fabs(c->alpha) * mag + fabs(c->beta * c0));
            double got = C[i * ldc + j];
            if (!(fabs(got - want) <= tol))
                fail_msg("%s ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%lld: "
                         "C[%lld][%lld] = %.9g, want %.9g (tol %.3g)",
                         rt_cpu_path_name(path), c->ta, c->tb, (long long)M, (long long)N, (long long)K, c->alpha,
                         c->beta, (long long)c->pad, (long long)i, (long long)j, got, want, tol);
        }
        for (int64_t j = N; i < M - 1 && j < ldc; j++)
            assert_true(C[i * ldc + j] == C_SENTINEL); /* gaps of C untouched */
    }
    free(A);
    free(B);
    free(C);
    free(C0);
}

/* Runs f(path) for every path this CPU supports. */
#define FOR_EACH_PATH(p)                                                         \
    for (RtCpuPath p = RT_CPU_SCALAR; p < RT_CPU_NPATHS; p = (RtCpuPath)(p + 1)) \
        if (rt_cpu_path_supported(p))

static const float alphas[] = {1.0f, -0.75f, 2.5f};
static const float betas[] = {0.0f, 1.0f, -1.5f};

/* Every combination of small odd sizes: partial tiles in every direction. */
static void test_small_shapes(void **state)
{
    (void)state;
    static const int64_t sizes[] = {1, 7, 17};
    RtRng r;
    rt_rng_seed(&r, 1);
    FOR_EACH_PATH(path)
    {
        int v = 0;
        for (int t = 0; t < 4; t++)
            for (int mi = 0; mi < 3; mi++)
                for (int ni = 0; ni < 3; ni++)
                    for (int ki = 0; ki < 3; ki++)
                        for (int ab = 0; ab < 3; ab++, v++) {
                            Case c = {t & 1,     t >> 1,     sizes[mi],           sizes[ni],
                                      sizes[ki], alphas[ab], betas[(ab + v) % 3], v % 2 ? 3 : 0};
                            run_case(path, &c, &r);
                        }
    }
}

/* Bigger shapes that cross the cache blocks (mc = 128..144, kc = 256,
 * nc = 2048; K in equal slices: 300 = 2 x 150, 513 = 3 x 171 on AVX-512,
 * 1000 = 4 x 250) and the 255/1000 sizes, small elsewhere to keep the
 * naive reference cheap. */
static void test_large_shapes(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {
        {255, 255, 255}, {1000, 7, 17},  {7, 1000, 17},  {17, 7, 1000},   {1, 1000, 255},
        {255, 1, 1000},  {145, 33, 513}, {5, 2049, 300}, {1000, 17, 255},
    };
    RtRng r;
    rt_rng_seed(&r, 2);
    FOR_EACH_PATH(path)
    {
        int v = 0;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int t = 0; t < 4; t++, v++) {
                Case c = {t & 1,        t >> 1,        shapes[s][0],       shapes[s][1],
                          shapes[s][2], alphas[v % 3], betas[(v / 3) % 3], v % 2 ? 5 : 0};
                run_case(path, &c, &r);
            }
    }
}

/* alpha == 0 or K == 0: C = beta * C, and A and B (NaN here) are not read. */
static void test_no_product(void **state)
{
    (void)state;
    float A[6], B[6], C[4] = {1, 2, 3, 4};
    for (int i = 0; i < 6; i++) A[i] = B[i] = NAN;
    FOR_EACH_PATH(path)
    {
        float c[4];
        memcpy(c, C, sizeof c);
        rt_sgemm_on(path, 0, 0, 2, 2, 3, 0.0f, A, 3, B, 2, 2.0f, c, 2);
        for (int i = 0; i < 4; i++) assert_true(c[i] == 2.0f * C[i]); /* exact: one multiply by 2 */
        for (int i = 0; i < 4; i++) c[i] = NAN;
        rt_sgemm_on(path, 1, 1, 2, 2, 0, 1.0f, A, 2, B, 1, 0.0f, c, 2);
        for (int i = 0; i < 4; i++) assert_true(c[i] == 0.0f);
    }
}

/* Invalid arguments print a message and leave C unchanged. */
static void test_bad_arguments(void **state)
{
    (void)state;
    float A[4] = {1, 1, 1, 1}, B[4] = {1, 1, 1, 1}, C[4] = {7, 7, 7, 7};
    rt_sgemm(0, 0, -1, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);   /* negative M */
    rt_sgemm(0, 0, 2, 2, 2, 1.0f, A, 1, B, 2, 0.0f, C, 2);    /* lda < K */
    rt_sgemm(1, 0, 2, 2, 2, 1.0f, A, 2, B, 1, 0.0f, C, 2);    /* ldb < N */
    rt_sgemm(0, 1, 2, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 1);    /* ldc < N */
    rt_sgemm(0, 0, 2, 2, 2, 1.0f, NULL, 2, B, 2, 0.0f, C, 2); /* no A */
    for (int i = 0; i < 4; i++) assert_true(C[i] == 7.0f);
    /* Sizes of 0 are valid and do nothing. */
    rt_sgemm(0, 0, 0, 2, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    rt_sgemm(0, 0, 2, 0, 2, 1.0f, A, 2, B, 2, 0.0f, C, 2);
    for (int i = 0; i < 4; i++) assert_true(C[i] == 7.0f);
}

/* The caller-workspace variant computes what rt_sgemm computes (bit for
 * bit: same kernel, same order) and refuses a workspace too small.  M is
 * above every kernel's small-M thresholds, so the blocked loops run and
 * need the workspace. */
static void test_workspace(void **state)
{
    (void)state;
    enum { M = 97, N = 70, K = 300 };
    RtRng r;
    rt_rng_seed(&r, 3);
    float *A = make_matrix(&r, M, K, K, NAN), *B = make_matrix(&r, N, K, K, NAN);
    float *C1 = calloc(M * N, sizeof(float)), *C2 = calloc(M * N, sizeof(float));
    assert_non_null(C1);
    assert_non_null(C2);
    size_t bytes = rt_sgemm_workspace_size(M, N, K);
    assert_true(bytes > 0);
    void *ws = aligned_alloc(64, (bytes + 63) / 64 * 64);
    assert_non_null(ws);
    rt_sgemm(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C1, N);
    assert_int_equal(rt_sgemm_ws(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C2, N, ws, bytes), 0);
    assert_memory_equal(C1, C2, sizeof(float) * M * N);
    C2[0] = 99.0f;
    assert_int_equal(rt_sgemm_ws(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C2, N, ws, bytes / 2), -1);
    assert_true(C2[0] == 99.0f);
    free(ws);
    free(A);
    free(B);
    free(C1);
    free(C2);
}

/* Detection and RNNC_CPU: every supported path has a compiled kernel (so
 * the per-file ISA flags took effect and the tests above really ran it);
 * an override picks the path, clamped to what the CPU has. */
static void test_cpu_paths(void **state)
{
    (void)state;
    RtCpuPath best = rt_cpu_best_path();
    assert_true(rt_cpu_path_supported(RT_CPU_SCALAR));
    assert_true(rt_cpu_path_supported(best));
    FOR_EACH_PATH(p)
    {
        const RtSgemmKernel *k = rt_sgemm_kernel_for(p);
        assert_non_null(k);
        assert_string_equal(k->name, rt_cpu_path_name(p));
        assert_true(k->mc % k->mr == 0 && k->nc % k->nr == 0);
    }
    assert_int_equal(rt_cpu_path_for(NULL), best);
    assert_int_equal(rt_cpu_path_for(""), best);
    assert_int_equal(rt_cpu_path_for("scalar"), RT_CPU_SCALAR);
    assert_int_equal(rt_cpu_path_for("avx2"), rt_cpu_path_supported(RT_CPU_AVX2) ? RT_CPU_AVX2 : best);
    assert_int_equal(rt_cpu_path_for("avx512"), rt_cpu_path_supported(RT_CPU_AVX512) ? RT_CPU_AVX512 : best);
    assert_int_equal(rt_cpu_path_for("sse9"), best);
    /* AVX-512 implies AVX2 in our ordering. */
    if (rt_cpu_path_supported(RT_CPU_AVX512)) assert_true(rt_cpu_path_supported(RT_CPU_AVX2));
    assert_true(rt_cpu_path_supported(rt_cpu_path()));
}

/* ---- pre-packed B and the small-M algorithm -------------------------------- */

/* One problem with its double reference, checked against several runs. */
typedef struct Problem {
    Case c;
    int64_t lda, ldb, ldc;
    float *A, *B, *C0;  /* C0: C before the call */
    double *want, *tol; /* M x N */
} Problem;

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

static void problem_init(Problem *pb, const Case *c, RtRng *r)
{
    int64_t M = c->M, N = c->N, K = c->K;
    pb->c = *c;
    int64_t arows = c->ta ? K : M, acols = c->ta ? M : K;
    int64_t brows = c->tb ? N : K, bcols = c->tb ? K : N;
    pb->lda = acols + c->pad, pb->ldb = bcols + c->pad, pb->ldc = N + c->pad;
    pb->A = make_matrix(r, arows, acols, pb->lda, NAN);
    pb->B = make_matrix(r, brows, bcols, pb->ldb, NAN);
    pb->C0 = make_matrix(r, M, N, pb->ldc, C_SENTINEL);
    if (c->beta == 0.0f)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) pb->C0[i * pb->ldc + j] = NAN;
    pb->want = xmalloc((size_t)(M * N) * sizeof(double));
    pb->tol = xmalloc((size_t)(M * N) * sizeof(double));
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double dot = 0, mag = 0;
            for (int64_t p = 0; p < K; p++) {
                double a = c->ta ? pb->A[p * pb->lda + i] : pb->A[i * pb->lda + p];
                double b = c->tb ? pb->B[j * pb->ldb + p] : pb->B[p * pb->ldb + j];
                dot += a * b;
                mag += fabs(a * b);
            }
            double c0 = c->beta == 0.0f ? 0.0 : pb->C0[i * pb->ldc + j];
            pb->want[i * N + j] = c->alpha * dot + c->beta * c0;
            /* The float dot-product bound of the file header: (K + 2) eps. */
            pb->tol[i * N + j] = (double)(K + 2) * FLT_EPSILON * (fabs(c->alpha) * mag + fabs(c->beta * c0));
        }
}

static void problem_free(Problem *pb)
{
    free(pb->A);
    free(pb->B);
    free(pb->C0);
    free(pb->want);
    free(pb->tol);
}

static size_t c_floats(const Problem *pb) { return (size_t)((pb->c.M - 1) * pb->ldc + pb->c.N); }

/* Every element of C within tolerance, C's gaps untouched. */
static void problem_check(const Problem *pb, const float *C, const char *what, RtCpuPath path)
{
    const Case *c = &pb->c;
    for (int64_t i = 0; i < c->M; i++) {
        for (int64_t j = 0; j < c->N; j++) {
            double got = C[i * pb->ldc + j], want = pb->want[i * c->N + j];
            if (!(fabs(got - want) <= pb->tol[i * c->N + j]))
                fail_msg("%s %s ta=%d tb=%d M=%lld N=%lld K=%lld alpha=%g beta=%g pad=%lld: "
                         "C[%lld][%lld] = %.9g, want %.9g (tol %.3g)",
                         what, rt_cpu_path_name(path), c->ta, c->tb, (long long)c->M, (long long)c->N, (long long)c->K,
                         c->alpha, c->beta, (long long)c->pad, (long long)i, (long long)j, got, want,
                         pb->tol[i * c->N + j]);
        }
        for (int64_t j = c->N; i < c->M - 1 && j < pb->ldc; j++) assert_true(C[i * pb->ldc + j] == C_SENTINEL);
    }
}

/* 64-byte aligned and exactly `bytes` long, so ASan sees any overrun. */
static void *exact_aligned(size_t bytes)
{
    void *p = NULL;
    assert_int_equal(posix_memalign(&p, 64, bytes ? bytes : 1), 0);
    return p;
}

static const RtSgemmAlgo algos[] = {RT_SGEMM_AUTO, RT_SGEMM_SMALL, RT_SGEMM_BLOCKED, RT_SGEMM_STREAM};
static const char *const algo_names[] = {"auto", "small", "blocked", "stream"};
#define NALGOS 4

/* The problem on one path: unpacked (every algorithm, caller workspace of
 * rt_sgemm_workspace_size), and packed (a pack of the path's exact size,
 * every algorithm). */
static void problem_run(const Problem *pb, RtCpuPath path)
{
    const Case *c = &pb->c;
    size_t nc = c_floats(pb);
    float *C = xmalloc(nc * sizeof(float));
    size_t ws_bytes = rt_sgemm_workspace_size(c->M, c->N, c->K);
    void *ws = exact_aligned(ws_bytes);
    for (int a = 0; a < NALGOS; a++) {
        memcpy(C, pb->C0, nc * sizeof(float));
        assert_int_equal(rt_sgemm_run(path, algos[a], c->ta, c->tb, c->M, c->N, c->K, c->alpha, pb->A, pb->lda, pb->B,
                                      pb->ldb, c->beta, C, pb->ldc, ws, ws_bytes),
                         0);
        problem_check(pb, C, algo_names[a], path);
    }
    size_t pk_bytes = rt_sgemm_packed_b_bytes_on(path, c->N, c->K);
    assert_true(pk_bytes <= rt_sgemm_packed_b_bytes(c->N, c->K));
    void *pk = xmalloc(pk_bytes);
    rt_sgemm_pack_b_on(path, c->tb, c->N, c->K, pb->B, pb->ldb, pk);
    for (int a = 0; a < NALGOS; a++) {
        memcpy(C, pb->C0, nc * sizeof(float));
        assert_int_equal(rt_sgemm_packed_run(path, algos[a], c->ta, c->M, c->N, c->K, c->alpha, pb->A, pb->lda, pk,
                                             c->beta, C, pb->ldc, ws, ws_bytes),
                         0);
        problem_check(pb, C, algo_names[a], path);
    }
    free(pk);
    free(ws);
    free(C);
}

/* The recurrent-step shapes and odd ones around them. */
static void test_packed_shapes(void **state)
{
    (void)state;
    static const int64_t Ms[] = {1, 2, 3, 4, 5, 7, 17}, NKs[] = {1, 7, 17, 255, 1000};
    RtRng r;
    rt_rng_seed(&r, 4);
    int v = 0;
    for (int mi = 0; mi < 7; mi++)
        for (int ni = 0; ni < 5; ni++)
            for (int ki = 0; ki < 5; ki++)
                for (int t = 0; t < 4; t++, v++) {
                    Case c = {
                        t & 1, t >> 1, Ms[mi], NKs[ni], NKs[ki], alphas[v % 3], betas[(v / 3) % 3], v % 5 == 0 ? 3 : 0};
                    Problem pb;
                    problem_init(&pb, &c, &r);
                    FOR_EACH_PATH(path) problem_run(&pb, path);
                    problem_free(&pb);
                }
}

/* The pack of a transposed B (what every x W^T packs: W stored [N, K]) on
 * every path, against the layout sgemm_kernels.h defines: panel r at
 * r*K*nr, element (p, j) of op(B) = B[(r*nr + j)*ldb + p], zero past N,
 * compared bit for bit (the AVX paths transpose 8 x 8 blocks,
 * sgemm_pack.c).  N and K around the 8 x 8 blocks and the panel widths
 * (16, 32), with row padding, and the blocked loops' own packing of op(B)
 * in kc slices through a product that must equal the pre-packed one. */
static void test_pack_transposed(void **state)
{
    (void)state;
    static const int64_t Ns[] = {1, 8, 15, 32, 33, 100}, Ks[] = {1, 7, 8, 9, 64, 300};
    RtRng r;
    rt_rng_seed(&r, 11);
    FOR_EACH_PATH(path)
    for (int ni = 0; ni < 6; ni++)
        for (int ki = 0; ki < 6; ki++) {
            int64_t N = Ns[ni], K = Ks[ki], ldb = K + (ni + ki) % 3;
            const RtSgemmKernel *k = rt_sgemm_kernel_for(path);
            if (!k) continue;
            float *B = make_matrix(&r, N, K, ldb, NAN);
            size_t bytes = rt_sgemm_packed_b_bytes_on(path, N, K);
            unsigned char *pk = malloc(bytes);
            float *want = calloc((size_t)((N + k->nr) * K), sizeof(float));
            assert_non_null(pk);
            assert_non_null(want);
            rt_sgemm_pack_b_on(path, 1, N, K, B, ldb, pk);
            for (int64_t j = 0; j < N; j++)
                for (int64_t p = 0; p < K; p++) want[j / k->nr * K * k->nr + p * k->nr + j % k->nr] = B[j * ldb + p];
            size_t panel_bytes = (size_t)((N + k->nr - 1) / k->nr * k->nr * K) * sizeof(float);
            assert_int_equal(bytes, 64 + panel_bytes);
            if (memcmp(pk + 64, want, panel_bytes))
                fail_msg("%s N=%lld K=%lld ldb=%lld: the pack differs from the layout", rt_cpu_path_name(path),
                         (long long)N, (long long)K, (long long)ldb);
            /* the blocked loops pack op(B) themselves, kc rows at a time */
            float *A = make_matrix(&r, 7, K, K, NAN), *C1 = calloc((size_t)(7 * N), 4),
                  *C2 = calloc((size_t)(7 * N), 4);
            assert_true(A && C1 && C2);
            assert_int_equal(
                rt_sgemm_run(path, RT_SGEMM_BLOCKED, 0, 1, 7, N, K, 1.0f, A, K, B, ldb, 0.0f, C1, N, NULL, 0), 0);
            assert_int_equal(
                rt_sgemm_packed_run(path, RT_SGEMM_BLOCKED, 0, 7, N, K, 1.0f, A, K, pk, 0.0f, C2, N, NULL, 0), 0);
            assert_memory_equal(C1, C2, (size_t)(7 * N) * sizeof(float));
            free(A);
            free(C1);
            free(C2);
            free(B);
            free(pk);
            free(want);
        }
}

/* Small M with more rows than one group, over the cache blocks (kc) and the
 * K % 8 / K % 16 tails of the dot kernels. */
static void test_small_m_blocks(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{9, 70, 513}, {6, 33, 300}, {13, 129, 31}, {3, 2049, 9}};
    RtRng r;
    rt_rng_seed(&r, 5);
    int v = 0;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++, v++) {
            Case c = {t & 1,        t >> 1,        shapes[s][0],       shapes[s][1],
                      shapes[s][2], alphas[v % 3], betas[(v + 1) % 3], v % 2 ? 2 : 0};
            Problem pb;
            problem_init(&pb, &c, &r);
            FOR_EACH_PATH(path) problem_run(&pb, path);
            problem_free(&pb);
        }
}

/* The streaming order of a batch-1..4 step (RT_SGEMM_STREAM, AUTO's
 * choice there: panels walked forwards and backwards on alternate calls,
 * the batch-1 kernel at M = 1) gives the same bits as the rows kernel in
 * plain order, call after call: each column is the same sum over K.  On
 * every path, with whole and partial groups of panels, alpha and beta,
 * A transposed or not. */
static void stream_same_bits_once(void)
{
    static const int64_t shapes[][3] = {{1, 1024, 256}, {1, 1000, 77}, {1, 100, 5}, {2, 520, 64}, {4, 257, 33}};
    RtRng r;
    rt_rng_seed(&r, 11);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        int ta = (int)(s & 1);
        float beta = s % 2 ? 0.5f : 0.0f, alpha = s % 3 ? 1.0f : -0.75f;
        float *A = xmalloc((size_t)(M * K) * sizeof(float)), *B = xmalloc((size_t)(N * K) * sizeof(float));
        float *C0 = xmalloc((size_t)(M * N) * sizeof(float)), *Cs = xmalloc((size_t)(M * N) * sizeof(float));
        float *Cz = xmalloc((size_t)(M * N) * sizeof(float));
        for (int64_t i = 0; i < M * K; i++) A[i] = rt_rng_uniform_sym(&r, 1.0f);
        for (int64_t i = 0; i < N * K; i++) B[i] = rt_rng_uniform_sym(&r, 1.0f);
        for (int64_t i = 0; i < M * N; i++) C0[i] = rt_rng_uniform_sym(&r, 1.0f);
        FOR_EACH_PATH(path)
        {
            void *pk = xmalloc(rt_sgemm_packed_b_bytes_on(path, N, K));
            rt_sgemm_pack_b_on(path, 1, N, K, B, K, pk);
            memcpy(Cs, C0, (size_t)(M * N) * sizeof(float));
            assert_int_equal(
                rt_sgemm_packed_run(path, RT_SGEMM_SMALL, ta, M, N, K, alpha, A, ta ? M : K, pk, beta, Cs, N, NULL, 0),
                0);
            for (int call = 0; call < 3; call++) { /* both directions */
                memcpy(Cz, C0, (size_t)(M * N) * sizeof(float));
                assert_int_equal(rt_sgemm_packed_run(path, call ? RT_SGEMM_AUTO : RT_SGEMM_STREAM, ta, M, N, K, alpha,
                                                     A, ta ? M : K, pk, beta, Cz, N, NULL, 0),
                                 0);
                if (memcmp(Cs, Cz, (size_t)(M * N) * sizeof(float)))
                    fail_msg("%s M=%lld N=%lld K=%lld call %d: stream order differs from plain", rt_cpu_path_name(path),
                             (long long)M, (long long)N, (long long)K, call);
            }
            free(pk);
        }
        free(A), free(B), free(C0), free(Cs), free(Cz);
    }
}

/* stream_same_bits_once on two threads (the caller and the pool's worker
 * each take half of the columns, sgemm_mt.c, for W of >= 64 Ki floats:
 * the first shape) and on one. */
static void test_stream_same_bits(void **state)
{
    (void)state;
    for (int threads = 2; threads >= 1; threads--) {
        rt_sgemm_set_threads(threads);
        stream_same_bits_once();
    }
    rt_sgemm_set_threads(0);
}

/* A pack is only used by the path, N and K it was made for; anything else
 * is refused with C unchanged.  Also: the public entry points agree with
 * each other (both follow RNNC_CPU), a failed pack is refused, too small a
 * workspace is refused, and alpha == 0 reads neither A nor the pack. */
static void test_packed_rejects(void **state)
{
    (void)state;
    enum { M = 7, N = 20, K = 9 };
    RtRng r;
    rt_rng_seed(&r, 6);
    float *A = make_matrix(&r, M, K, K, NAN), *B = make_matrix(&r, N, K, K, NAN);
    float C[M * N], Cref[M * N];
    for (int i = 0; i < M * N; i++) C[i] = 7.0f;
    size_t ws_bytes = rt_sgemm_workspace_size(M, N, K);
    void *ws = exact_aligned(ws_bytes);
    size_t pk_bytes = rt_sgemm_packed_b_bytes(N, K);
    void *pk = xmalloc(pk_bytes);

    /* Public API round trip, against rt_sgemm on the same path. */
    rt_sgemm_pack_b(1, N, K, B, K, pk);
    assert_int_equal(rt_sgemm_ws_packed(0, M, N, K, 1.0f, A, K, pk, 0.0f, C, N, ws, ws_bytes), 0);
    rt_sgemm(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, Cref, N);
    for (int i = 0; i < M * N; i++) {
        double mag = 0;
        for (int p = 0; p < K; p++) mag += fabs((double)A[i / N * K + p] * B[i % N * K + p]);
        /* Two float dot products of length K, each within the (K + 2) eps
         * bound of the header from the exact value. */
        assert_true(fabs((double)C[i] - Cref[i]) <= 2.0 * (K + 2) * FLT_EPSILON * mag);
    }

    /* Other sizes: refused. */
    memcpy(Cref, C, sizeof C);
    assert_int_equal(rt_sgemm_ws_packed(0, M, N - 1, K, 1.0f, A, K, pk, 0.0f, C, N, ws, ws_bytes), -1);
    assert_int_equal(rt_sgemm_ws_packed(0, M, N, K - 1, 1.0f, A, K, pk, 0.0f, C, N, ws, ws_bytes), -1);
    /* Too small a workspace for the blocked loops: refused. */
    assert_int_equal(
        rt_sgemm_packed_run(rt_cpu_path(), RT_SGEMM_BLOCKED, 0, M, N, K, 1.0f, A, K, pk, 0.0f, C, N, ws, 64), -1);
    /* No workspace: refused, as rt_sgemm_ws does. */
    assert_int_equal(rt_sgemm_ws_packed(0, M, N, K, 1.0f, A, K, pk, 0.0f, C, N, NULL, 0), -1);
    assert_memory_equal(C, Cref, sizeof C);

    /* A pack made on one path, used on another: refused both ways. */
    FOR_EACH_PATH(p1) FOR_EACH_PATH(p2)
    {
        if (p1 == p2) continue;
        rt_sgemm_pack_b_on(p1, 1, N, K, B, K, pk);
        for (int a = 0; a < 3; a++)
            assert_int_equal(rt_sgemm_packed_run(p2, algos[a], 0, M, N, K, 1.0f, A, K, pk, 0.0f, C, N, ws, ws_bytes),
                             -1);
        assert_memory_equal(C, Cref, sizeof C);
    }

    /* A failed pack (ldb < K) leaves a header every path refuses. */
    memset(pk, 0x5a, pk_bytes);
    rt_sgemm_pack_b(1, N, K, B, K - 1, pk);
    FOR_EACH_PATH(p)
    assert_int_equal(rt_sgemm_packed_run(p, RT_SGEMM_AUTO, 0, M, N, K, 1.0f, A, K, pk, 0.0f, C, N, ws, ws_bytes), -1);
    assert_memory_equal(C, Cref, sizeof C);

    /* alpha == 0: C = beta C, the (invalid) pack and A not read. */
    assert_int_equal(rt_sgemm_ws_packed(0, M, N, K, 0.0f, A, K, pk, 2.0f, C, N, ws, ws_bytes), 0);
    for (int i = 0; i < M * N; i++) assert_true(C[i] == 2.0f * Cref[i]); /* exact: one multiply by 2 */
    free(pk);
    free(ws);
    free(A);
    free(B);
}

/* ---- threads (sgemm_mt.c) ---------------------------------------------------- */

/* The problem's six runs on one path (unpacked and packed, each algorithm)
 * into outs[0..5], each checked against the reference. */
static void problem_runs(const Problem *pb, RtCpuPath path, float *const *outs)
{
    const Case *c = &pb->c;
    size_t nc = c_floats(pb), ws_bytes = rt_sgemm_workspace_size(c->M, c->N, c->K);
    void *ws = exact_aligned(ws_bytes);
    void *pk = xmalloc(rt_sgemm_packed_b_bytes_on(path, c->N, c->K));
    rt_sgemm_pack_b_on(path, c->tb, c->N, c->K, pb->B, pb->ldb, pk);
    for (int r = 0; r < 6; r++) {
        float *C = outs[r];
        memcpy(C, pb->C0, nc * sizeof(float));
        int rc = r < 3 ? rt_sgemm_run(path, algos[r], c->ta, c->tb, c->M, c->N, c->K, c->alpha, pb->A, pb->lda, pb->B,
                                      pb->ldb, c->beta, C, pb->ldc, ws, ws_bytes)
                       : rt_sgemm_packed_run(path, algos[r - 3], c->ta, c->M, c->N, c->K, c->alpha, pb->A, pb->lda, pk,
                                             c->beta, C, pb->ldc, ws, ws_bytes);
        assert_int_equal(rc, 0);
        problem_check(pb, C, algo_names[r % 3], path);
    }
    free(pk);
    free(ws);
}

/* Products that are split (the split thresholds lowered so that these
 * small ones are cut up to 5 ways) give the same bits on 2, 3 and 5
 * threads as on one (the split is over rows or columns at tile
 * boundaries, never K: sgemm_mt.c): both algorithms, packed and not,
 * every transpose, every path; shapes split by rows (M > N), by columns,
 * and the recurrent step at B = 32 (small-M kernels, split by columns).
 * Exact equality: no tolerance, since each element is the same sequence
 * of float operations. */
static void test_threads_same_bits(void **state)
{
    (void)state;
    static const int64_t shapes[][3] = {{131, 67, 70}, {20, 401, 70}, {32, 300, 60}};
    static const int threads[] = {2, 3, 5};
    RtRng r;
    rt_rng_seed(&r, 8);
    rt_sgemm_set_split_flops(1e6, 1e5); /* split these small products 5 ways */
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            Case c = {t & 1,        t >> 1,        shapes[s][0],       shapes[s][1],
                      shapes[s][2], alphas[t % 3], betas[(t + s) % 3], t == 3 ? 1 : 0};
            Problem pb;
            problem_init(&pb, &c, &r);
            size_t nc = c_floats(&pb);
            float *one[6], *many[6];
            for (int k = 0; k < 6; k++) one[k] = xmalloc(nc * sizeof(float)), many[k] = xmalloc(nc * sizeof(float));
            FOR_EACH_PATH(path)
            {
                rt_sgemm_set_threads(1);
                problem_runs(&pb, path, one);
                for (int n = 0; n < 3; n++) {
                    rt_sgemm_set_threads(threads[n]);
                    assert_int_equal(rt_sgemm_threads(), threads[n]);
                    problem_runs(&pb, path, many);
                    for (int k = 0; k < 6; k++) assert_memory_equal(one[k], many[k], nc * sizeof(float));
                }
            }
            for (int k = 0; k < 6; k++) free(one[k]), free(many[k]);
            problem_free(&pb);
        }
    rt_sgemm_set_threads(0);
    rt_sgemm_set_split_flops(0, 0);
}

/* Two threads calling rt_sgemm at once (two models in one process): one
 * gets the pool, the other runs its product whole on its own thread;
 * both get the single-threaded bits. */
typedef struct Concurrent {
    const float *A, *B;
    float *C;
} Concurrent;

enum { CM = 200, CN = 300, CK = 200, CREPS = 20 };

static void *concurrent_main(void *arg)
{
    Concurrent *c = arg;
    for (int i = 0; i < CREPS; i++)
        rt_sgemm(0, 1, CM, CN, CK, 1.0f, c->A, CK, c->B, CK, 0.0f, c->C + (size_t)i * CM * CN, CN);
    return NULL;
}

static void test_threads_concurrent_callers(void **state)
{
    (void)state;
    RtRng r;
    rt_rng_seed(&r, 9);
    float *A = make_matrix(&r, CM, CK, CK, NAN), *B = make_matrix(&r, CN, CK, CK, NAN);
    float *want = xmalloc(sizeof(float) * CM * CN);
    rt_sgemm_set_split_flops(1e6, 1e5);
    rt_sgemm_set_threads(1);
    rt_sgemm(0, 1, CM, CN, CK, 1.0f, A, CK, B, CK, 0.0f, want, CN);
    rt_sgemm_set_threads(2);
    Concurrent c[2];
    pthread_t th[2];
    for (int k = 0; k < 2; k++) {
        c[k] = (Concurrent){A, B, xmalloc(sizeof(float) * CM * CN * CREPS)};
        assert_int_equal(pthread_create(&th[k], NULL, concurrent_main, &c[k]), 0);
    }
    for (int k = 0; k < 2; k++) {
        pthread_join(th[k], NULL);
        for (int i = 0; i < CREPS; i++)
            assert_memory_equal(c[k].C + (size_t)i * CM * CN, want, sizeof(float) * CM * CN);
        free(c[k].C);
    }
    rt_sgemm_set_threads(0);
    rt_sgemm_set_split_flops(0, 0);
    free(want);
    free(A);
    free(B);
}

/* The bound kexpr_packed_b_floats (kir/kir.c) sizes a KS_PACK_B buffer
 * by, documented next to RT_SGEMM_NR_MAX in rnnrt.h: a 64-byte header and
 * op(B) padded to whole panels of at most RT_SGEMM_NR_MAX columns.  Over
 * odd and empty shapes, for the public size (the largest over the compiled
 * paths) and for each path's exact size. */
static void test_packed_bytes_bound(void **state)
{
    (void)state;
    static const int64_t sizes[] = {0, 1, 2, 7, 15, 16, 17, 31, 32, 33, 63, 255, 1000, 1025, 4099};
    enum { NS = sizeof sizes / sizeof sizes[0] };
    for (int ni = 0; ni < NS; ni++)
        for (int ki = 0; ki < NS; ki++) {
            int64_t N = sizes[ni], K = sizes[ki];
            uint64_t bound = 4u * (16u + (uint64_t)(N + RT_SGEMM_NR_MAX) * (uint64_t)K);
            assert_true(rt_sgemm_packed_b_bytes(N, K) <= bound);
            FOR_EACH_PATH(p) assert_true(rt_sgemm_packed_b_bytes_on(p, N, K) <= bound);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_bytes_bound),
        cmocka_unit_test(test_threads_same_bits),
        cmocka_unit_test(test_threads_concurrent_callers),
        cmocka_unit_test(test_cpu_paths),
        cmocka_unit_test(test_small_shapes),
        cmocka_unit_test(test_large_shapes),
        cmocka_unit_test(test_no_product),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_workspace),
        cmocka_unit_test(test_packed_shapes),
        cmocka_unit_test(test_pack_transposed),
        cmocka_unit_test(test_stream_same_bits),
        cmocka_unit_test(test_small_m_blocks),
        cmocka_unit_test(test_packed_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
