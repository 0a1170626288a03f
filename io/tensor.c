/* tensor.c - host tensors, ordered tensor maps, and the atomic file writer
 * shared by the .npy and safetensors writers (on io/outfile.c).
 *
 * Also holds the small private helpers of tensor_io.h (error formatting,
 * whole-file reads, overflow-checked sizes) so the two readers share one
 * copy of each.  The dtypes, sizes and messages are the runtime's
 * safetensors code's (runtime/st_format.h), so rnnc and compiled models
 * agree on them. */
#include "io/tensor.h"
#include "io/tensor_io.h"
#include "io/outfile.h"
#include "runtime/st_format.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- dtypes and shapes ------------------------------------------------ */

size_t rt_dtype_size(RtDType dt) { return rt_st_dtype_size((int)dt); }

const char *rt_dtype_name(RtDType dt) { return rt_st_dtype_name((int)dt); }

int64_t rt_numel(const Tensor *t)
{
    int64_t n = 1;
    for (int i = 0; i < t->rank; i++) n *= t->shape[i];
    return n;
}

int rt_shape_bytes(RtDType dt, int rank, const int64_t *shape, uint64_t *bytes)
{
    if (rank > RT_MAX_RANK) return -1;
    return rt_st_nbytes((int)dt, rank, shape, bytes);
}

int rt_tensor_alloc(Tensor *t, RtDType dt, int rank, const int64_t *shape)
{
    uint64_t bytes;
    memset(t, 0, sizeof *t);
    if (rt_shape_bytes(dt, rank, shape, &bytes) != 0 || bytes > (uint64_t)SIZE_MAX) return -1;
    /* calloc(0) may return NULL; keep data non-NULL for empty tensors so
     * callers can tell "allocated" from "failed". */
    void *p = calloc(bytes ? (size_t)bytes : 1, 1);
    if (!p) return -1;
    t->dtype = dt;
    t->rank = rank;
    for (int i = 0; i < rank; i++) t->shape[i] = shape[i];
    t->data = p;
    return 0;
}

void rt_tensor_free(Tensor *t)
{
    if (!t) return;
    free(t->data);
    memset(t, 0, sizeof *t);
}

const char *rt_shape_str(const Tensor *t, char *buf, size_t n)
{
    size_t used = 0;
    if (n == 0) return buf;
    buf[0] = '\0';
    /* snprintf truncates safely; stop appending once the buffer is full. */
    used += (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < t->rank && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

/* ---- ordered maps ----------------------------------------------------- */

void rt_map_init(TensorMap *m) { memset(m, 0, sizeof *m); }

void rt_map_free(TensorMap *m)
{
    for (int i = 0; i < m->count; i++) {
        free(m->names[i]);
        rt_tensor_free(&m->tensors[i]);
    }
    free(m->names);
    free(m->tensors);
    memset(m, 0, sizeof *m);
}

static int map_find(const TensorMap *m, const char *name)
{
    for (int i = 0; i < m->count; i++)
        if (strcmp(m->names[i], name) == 0) return i;
    return -1;
}

Tensor *rt_map_get(const TensorMap *m, const char *name)
{
    int i = map_find(m, name);
    return i < 0 ? NULL : &m->tensors[i];
}

/* On failure (out of memory) t keeps its data and the map is unchanged. */
int rt_map_put(TensorMap *m, const char *name, Tensor *t)
{
    int i = map_find(m, name);
    if (i >= 0) {
        rt_tensor_free(&m->tensors[i]);
        m->tensors[i] = *t;
        memset(t, 0, sizeof *t);
        return 0;
    }
    if (m->count == m->cap) {
        int cap = m->cap ? m->cap * 2 : 8;
        char **names = realloc(m->names, (size_t)cap * sizeof *names);
        if (!names) return -1;
        m->names = names;
        Tensor *ts = realloc(m->tensors, (size_t)cap * sizeof *ts);
        if (!ts) return -1;
        m->tensors = ts;
        m->cap = cap;
    }
    size_t len = strlen(name);
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, name, len + 1);
    m->names[m->count] = copy;
    m->tensors[m->count] = *t;
    m->count++;
    memset(t, 0, sizeof *t);
    return 0;
}

/* ---- private helpers (tensor_io.h) ------------------------------------ */

void rt_errf(char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_st_verrf(-1, err, errlen, path, fmt, ap);
    va_end(ap);
}

int rt_host_is_little_endian(void)
{
    uint32_t one = 1;
    unsigned char b;
    memcpy(&b, &one, 1);
    return b == 1;
}

int rt_read_whole_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        rt_errf(err, errlen, path, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        rt_errf(err, errlen, path, "cannot stat: %s", strerror(errno));
        fclose(f);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        rt_errf(err, errlen, path, "not a regular file");
        fclose(f);
        return -1;
    }
    if ((uint64_t)st.st_size >= (uint64_t)SIZE_MAX) {
        rt_errf(err, errlen, path, "file too large");
        fclose(f);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    unsigned char *p = malloc(size + 1);
    if (!p) {
        rt_errf(err, errlen, path, "out of memory reading %zu bytes", size);
        fclose(f);
        return -1;
    }
    size_t got = fread(p, 1, size, f);
    int rd_err = ferror(f);
    fclose(f);
    if (rd_err || got != size) {
        /* The file shrank under us, or a read error: never use a partial
         * buffer, the sizes checked later would be wrong. */
        rt_errf(err, errlen, path, "read error (got %zu of %zu bytes)", got, size);
        free(p);
        return -1;
    }
    p[size] = '\0';
    *buf = p;
    *len = size;
    return 0;
}

int rt_read_tensor_file(const char *path, unsigned char **buf, size_t *len, char *err, size_t errlen)
{
    *buf = NULL;
    *len = 0;
    if (!rt_host_is_little_endian()) {
        rt_errf(err, errlen, path, "big-endian hosts are not supported");
        return -1;
    }
    if (rt_read_whole_file(path, buf, len, err, errlen) != 0) return -1;
    if (*len == 0) {
        rt_errf(err, errlen, path, "empty file");
        free(*buf);
        *buf = NULL;
        return -1;
    }
    return 0;
}

/* ---- atomic writes ---------------------------------------------------- */

int rt_write_file_atomic(const char *path, const void *const *parts, const size_t *sizes, int nparts, char *err,
                         size_t errlen)
{
    OutFile o;
    if (out_open(&o, path, err, errlen)) return -1;
    for (int i = 0; i < nparts; i++) out_write(&o, parts[i], sizes[i]);
    return out_commit(&o, err, errlen);
}
