/* npy_text.c - .npy arrays to and from text, so that shell scripts (the
 * examples gallery, examples/gallery/) can feed `rnnc run` and read what
 * it wrote with awk:
 *
 *   npy_text dump X.npy                       rows of X's last dimension
 *   npy_text make OUT.npy f32|i64 D0,D1,...   numbers on stdin, row-major
 *
 * `dump` prints one line per row of the last dimension (a [T, B, F] array
 * as T*B lines of F numbers, a 0-d or 1-d array as one line), the numbers
 * separated by spaces, floats with 9 significant digits (float32's round
 * trip).  `make` reads exactly D0*D1*... numbers separated by white space
 * or commas and writes them as a float32 or int64 array of that shape. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/tensor.h"

static int dump(const char *path)
{
    Tensor t;
    char err[512];
    if (rt_npy_read(path, &t, err, sizeof err)) {
        fprintf(stderr, "npy_text: %s\n", err);
        return 1;
    }
    int64_t n = rt_numel(&t), row = t.rank ? t.shape[t.rank - 1] : 1;
    for (int64_t i = 0; i < n; i++) {
        switch (t.dtype) {
        case RT_F32: printf("%.9g", (double)((float *)t.data)[i]); break;
        case RT_F64: printf("%.17g", ((double *)t.data)[i]); break;
        case RT_I32: printf("%" PRId32, ((int32_t *)t.data)[i]); break;
        case RT_I64: printf("%" PRId64, ((int64_t *)t.data)[i]); break;
        }
        putchar(row == 0 || (i + 1) % row == 0 ? '\n' : ' ');
    }
    rt_tensor_free(&t);
    return 0;
}

static int make(const char *path, const char *dtype, const char *dims)
{
    RtDType dt;
    if (!strcmp(dtype, "f32"))
        dt = RT_F32;
    else if (!strcmp(dtype, "i64"))
        dt = RT_I64;
    else {
        fprintf(stderr, "npy_text: dtype '%s' is not f32 or i64\n", dtype);
        return 2;
    }
    int64_t shape[RT_MAX_RANK];
    int rank = 0;
    for (const char *p = dims; *p;) {
        char *end;
        long long d = strtoll(p, &end, 10);
        if (end == p || d < 1 || rank == RT_MAX_RANK || (*end && *end != ',')) {
            fprintf(stderr, "npy_text: '%s' is not a shape D0,D1,... of positive sizes\n", dims);
            return 2;
        }
        shape[rank++] = d;
        p = *end ? end + 1 : end;
    }
    Tensor t;
    if (rt_tensor_alloc(&t, dt, rank, shape)) {
        fprintf(stderr, "npy_text: shape %s is too large\n", dims);
        return 1;
    }
    int64_t n = rt_numel(&t), i = 0;
    double v;
    int rc = 1;
    for (int c; i < n; i++) {
        while ((c = getchar()) == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r') {}
        if (c != EOF) ungetc(c, stdin);
        if (scanf("%lf", &v) != 1) break;
        if (dt == RT_F32)
            ((float *)t.data)[i] = (float)v;
        else
            ((int64_t *)t.data)[i] = (int64_t)v;
    }
    char err[512];
    if (i < n)
        fprintf(stderr, "npy_text: stdin has %" PRId64 " numbers, the shape %s needs %" PRId64 "\n", i, dims, n);
    else if (rt_npy_write(path, &t, err, sizeof err))
        fprintf(stderr, "npy_text: %s\n", err);
    else
        rc = 0;
    rt_tensor_free(&t);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "dump")) return dump(argv[2]);
    if (argc == 5 && !strcmp(argv[1], "make")) return make(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: npy_text dump X.npy\n"
                    "       npy_text make OUT.npy f32|i64 D0,D1,... <numbers\n");
    return 2;
}
