/* fuzz_npy.c - the .npy reader (io/npy.c) on any bytes.
 *
 * The bytes are a file; rt_npy_read must accept it or refuse it with a
 * message naming it, never read out of bounds or leak.  An accepted array
 * is written back with rt_npy_write and read again, and must come back the
 * same: the writer's output is always valid input for the reader. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/tensor.h"
#include "fuzz_util.h"

static int same(const Tensor *a, const Tensor *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank) return 0;
    for (int k = 0; k < a->rank; k++)
        if (a->shape[k] != b->shape[k]) return 0;
    size_t n = (size_t)rt_numel(a) * rt_dtype_size(a->dtype);
    return !n || !memcmp(a->data, b->data, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fz_write("in.npy", data, size);
    char err[512] = "";
    Tensor t;
    if (rt_npy_read(path, &t, err, sizeof err)) {
        if (!strstr(err, path)) {
            fprintf(stderr, "fuzz_npy: the message does not name the file: %s\n", err);
            abort();
        }
        return 0;
    }
    char out[320];
    snprintf(out, sizeof out, "%s/out.npy", fz_tmpdir());
    Tensor back;
    if (rt_npy_write(out, &t, err, sizeof err) || rt_npy_read(out, &back, err, sizeof err)) {
        fprintf(stderr, "fuzz_npy: an accepted array does not write and read back: %s\n", err);
        abort();
    }
    if (!same(&t, &back)) {
        fprintf(stderr, "fuzz_npy: the array read back differs\n");
        abort();
    }
    unlink(out);
    rt_tensor_free(&back);
    rt_tensor_free(&t);
    return 0;
}
