/* npycmp.c - compare tensor files elementwise with a tolerance.
 *
 *   npycmp [--rtol R] [--atol A] got.npy|got.safetensors want.npy|want.safetensors
 *          [GOT WANT ...]
 *
 * Every tensor of `want` must be in `got` (safetensors: by name) with the
 * same shape, and every element must satisfy
 *     |got - want| <= atol + rtol * |want|
 * (NaN matches only NaN; an infinity only the same infinity).  Values are
 * compared as doubles, so dtypes may differ (a note is printed).  Prints
 * the worst element (the one using the largest share of its tolerance).
 * More than one pair (GOT WANT GOT WANT ...) compares each pair the same
 * way, under a line "== GOT vs WANT" each, in one process (the
 * differential tests compare a model's every output so: a process of the
 * sanitizer build costs ~0.15 s to start).
 * Exit status: 0 all within tolerance, 1 not, 2 on a usage or file error.
 * Defaults: rtol 1e-5, atol 1e-6. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/tensor.h"

static void usage(void)
{
    fprintf(stderr, "usage: npycmp [--rtol R] [--atol A] got.npy|got.safetensors "
                    "want.npy|want.safetensors [GOT WANT ...]\n");
    exit(2);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* .npy by extension, else by magic; anything else is read as safetensors. */
static int is_npy(const char *path)
{
    if (ends_with(path, ".npy")) return 1;
    if (ends_with(path, ".safetensors")) return 0;
    FILE *f = fopen(path, "rb");
    char magic[6] = {0};
    if (f) {
        if (fread(magic, 1, sizeof magic, f) != sizeof magic) magic[0] = 0;
        fclose(f);
    }
    return memcmp(magic, "\x93NUMPY", 6) == 0;
}

/* Loads either format into a map; a .npy becomes one tensor named "". */
static void load(const char *path, TensorMap *m)
{
    char err[1024];
    if (is_npy(path)) {
        Tensor t;
        rt_map_init(m);
        if (rt_npy_read(path, &t, err, sizeof err) != 0 || rt_map_put(m, "", &t) != 0) {
            fprintf(stderr, "npycmp: %s\n", err);
            exit(2);
        }
    } else if (rt_st_read(path, m, err, sizeof err) != 0) {
        fprintf(stderr, "npycmp: %s\n", err);
        exit(2);
    }
}

static double get(const Tensor *t, int64_t i)
{
    switch (t->dtype) {
    case RT_F32: return ((const float *)t->data)[i];
    case RT_F64: return ((const double *)t->data)[i];
    case RT_I32: return ((const int32_t *)t->data)[i];
    case RT_I64: return (double)((const int64_t *)t->data)[i];
    }
    return NAN;
}

static double parse_tol(const char *opt, const char *s)
{
    char *end;
    double v = s ? strtod(s, &end) : -1;
    if (!s || end == s || *end || !(v >= 0) || isinf(v)) {
        fprintf(stderr, "npycmp: %s needs a non-negative number\n", opt);
        exit(2);
    }
    return v;
}

/* "name[1, 2]" for flat index i of t; a .npy tensor is shown as its file. */
static void describe(char *buf, size_t n, const char *name, const char *file, const Tensor *t, int64_t i)
{
    int64_t idx[RT_MAX_RANK];
    for (int d = t->rank - 1; d >= 0; d--) {
        idx[d] = t->shape[d] ? i % t->shape[d] : 0;
        i = t->shape[d] ? i / t->shape[d] : 0;
    }
    int used = snprintf(buf, n, "%s[", *name ? name : file);
    for (int d = 0; d < t->rank && used > 0 && (size_t)used < n; d++)
        used += snprintf(buf + used, n - (size_t)used, "%s%lld", d ? ", " : "", (long long)idx[d]);
    if (used > 0 && (size_t)used < n) snprintf(buf + used, n - (size_t)used, "]");
}

/* Compares files[0] (got) with files[1] (want), printing the worst element
 * and a verdict; returns 1 if they are within tolerance. */
static int compare(const char *const files[2], double rtol, double atol)
{
    if (is_npy(files[0]) != is_npy(files[1])) {
        fprintf(stderr, "npycmp: cannot compare a .npy file with a safetensors file\n");
        exit(2);
    }

    TensorMap got, want;
    load(files[0], &got);
    load(files[1], &want);

    int bad_struct = 0;
    int64_t total = 0, over = 0;
    double worst_ratio = -1, worst_got = 0, worst_want = 0;
    char worst_where[256] = "";
    for (int k = 0; k < want.count; k++) {
        const char *name = want.names[k];
        const Tensor *w = &want.tensors[k], *g = rt_map_get(&got, name);
        char s1[128], s2[128];
        if (!g) {
            printf("missing: tensor '%s' is in %s but not in %s\n", name, files[1], files[0]);
            bad_struct = 1;
            continue;
        }
        int same = g->rank == w->rank;
        for (int d = 0; same && d < w->rank; d++) same = g->shape[d] == w->shape[d];
        if (!same) {
            printf("shape: %s is %s in %s but %s in %s\n", *name ? name : "array", rt_shape_str(g, s1, sizeof s1),
                   files[0], rt_shape_str(w, s2, sizeof s2), files[1]);
            bad_struct = 1;
            continue;
        }
        if (g->dtype != w->dtype)
            printf("note: %s is %s in %s but %s in %s; comparing values\n", *name ? name : "array",
                   rt_dtype_name(g->dtype), files[0], rt_dtype_name(w->dtype), files[1]);
        int64_t n = rt_numel(w);
        for (int64_t i = 0; i < n; i++) {
            double a = get(g, i), b = get(w, i), ratio;
            if (isnan(a) || isnan(b))
                ratio = isnan(a) && isnan(b) ? 0 : INFINITY;
            else if (isinf(a) || isinf(b))
                ratio = a == b ? 0 : INFINITY;
            else {
                double tol = atol + rtol * fabs(b), diff = fabs(a - b);
                ratio = diff == 0 ? 0 : tol > 0 ? diff / tol : INFINITY;
            }
            total++;
            over += ratio > 1;
            if (ratio > worst_ratio) {
                worst_ratio = ratio;
                worst_got = a;
                worst_want = b;
                describe(worst_where, sizeof worst_where, name, files[1], w, i);
            }
        }
    }
    for (int k = 0; k < got.count; k++)
        if (!rt_map_get(&want, got.names[k])) printf("note: extra tensor '%s' in %s\n", got.names[k], files[0]);

    if (worst_ratio >= 0) {
        double abs_err = fabs(worst_got - worst_want);
        double rel_err = worst_want != 0 ? abs_err / fabs(worst_want) : (abs_err ? INFINITY : 0);
        printf("worst: %s got %.9g want %.9g abs err %.3g rel err %.3g\n", worst_where, worst_got, worst_want, abs_err,
               rel_err);
    }
    int ok = !bad_struct && over == 0;
    if (over)
        printf("FAIL: %lld of %lld elements exceed atol %g + rtol %g * |want|\n", (long long)over, (long long)total,
               atol, rtol);
    else if (bad_struct)
        printf("FAIL: tensors differ in names or shapes\n");
    else
        printf("OK: %lld elements in %d tensors within atol %g + rtol %g * |want|\n", (long long)total, want.count,
               atol, rtol);
    rt_map_free(&got);
    rt_map_free(&want);
    return ok;
}

int main(int argc, char **argv)
{
    double rtol = 1e-5, atol = 1e-6;
    const char **files = calloc((size_t)argc, sizeof *files);
    int nfiles = 0;
    if (!files) return 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rtol") == 0)
            rtol = parse_tol("--rtol", ++i < argc ? argv[i] : NULL);
        else if (strncmp(argv[i], "--rtol=", 7) == 0)
            rtol = parse_tol("--rtol", argv[i] + 7);
        else if (strcmp(argv[i], "--atol") == 0)
            atol = parse_tol("--atol", ++i < argc ? argv[i] : NULL);
        else if (strncmp(argv[i], "--atol=", 7) == 0)
            atol = parse_tol("--atol", argv[i] + 7);
        else if (argv[i][0] == '-' && argv[i][1])
            usage();
        else
            files[nfiles++] = argv[i];
    }
    if (nfiles < 2 || nfiles % 2) usage();
    int all_ok = 1;
    for (int p = 0; p < nfiles; p += 2) {
        if (nfiles > 2) printf("== %s vs %s\n", files[p], files[p + 1]);
        all_ok &= compare(files + p, rtol, atol);
    }
    free(files);
    return all_ok ? 0 : 1;
}
