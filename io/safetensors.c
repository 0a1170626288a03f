/* safetensors.c - safetensors files as TensorMaps: rnnc's weights,
 * checkpoints and gradients.
 *
 * A thin layer over the one safetensors reader and writer, the runtime's
 * (runtime/st_format.h: the layout, every check and its message), which
 * every compiled model loads its weights with too; what is rnnc's is here:
 * the whole file read at once (tensor_io.h), the tensors copied out into
 * a map in data order, and the atomic write. */
#include "io/tensor.h"
#include "io/tensor_io.h"
#include "runtime/st_format.h"

#include <stdlib.h>
#include <string.h>

/* The reader's dtype numbers are RtDType's, and its ranks fit a Tensor. */
_Static_assert(RT_ST_F32 == (int)RT_F32 && RT_ST_F64 == (int)RT_F64 && RT_ST_I32 == (int)RT_I32 &&
                   RT_ST_I64 == (int)RT_I64,
               "RtDType and the safetensors dtypes differ");
_Static_assert(RT_ST_MAX_RANK == RT_MAX_RANK, "RT_MAX_RANK and RT_ST_MAX_RANK differ");

int rt_st_read(const char *path, TensorMap *out, char *err, size_t errlen)
{
    unsigned char *buf;
    size_t len;
    uint64_t hlen = 0;
    rt_st_entry *es = NULL;
    int n = 0;
    rt_map_init(out);
    if (rt_read_tensor_file(path, &buf, &len, err, errlen) != 0) return -1;
    int rc = rt_st_header_len(path, len, buf, &hlen, err, errlen);
    if (!rc) rc = rt_st_parse(path, (const char *)buf + 8, hlen, len - 8 - hlen, &es, &n, err, errlen);
    /* Everything checked: copy the tensors out in data order. */
    for (int i = 0; i < n && !rc; i++) {
        Tensor t;
        if (rt_tensor_alloc(&t, (RtDType)es[i].dtype, es[i].rank, es[i].shape) != 0) {
            rc = rt_st_errf(RT_ST_NOMEM, err, errlen, path, "tensor '%s': out of memory", es[i].name);
            break;
        }
        if (es[i].end > es[i].begin) memcpy(t.data, buf + 8 + hlen + es[i].begin, (size_t)(es[i].end - es[i].begin));
        if (rt_map_put(out, es[i].name, &t) != 0) {
            rt_tensor_free(&t);
            rc = rt_st_errf(RT_ST_NOMEM, err, errlen, path, "out of memory");
        }
    }
    if (rc) rt_map_free(out);
    rt_st_free(es, n);
    free(buf);
    return rc ? -1 : 0;
}

int rt_st_write(const char *path, const TensorMap *m, char *err, size_t errlen)
{
    if (!rt_host_is_little_endian()) {
        rt_errf(err, errlen, path, "big-endian hosts are not supported");
        return -1;
    }
    rt_st_tensor *ts = malloc(((size_t)m->count + 1) * sizeof *ts);
    const void **parts = malloc(((size_t)m->count + 1) * sizeof *parts);
    size_t *sizes = malloc(((size_t)m->count + 1) * sizeof *sizes);
    char *head = NULL;
    int rc = -1;
    if (!ts || !parts || !sizes) {
        rt_errf(err, errlen, path, "out of memory");
        goto done;
    }
    for (int i = 0; i < m->count; i++) {
        const Tensor *t = &m->tensors[i];
        ts[i] = (rt_st_tensor){m->names[i], (int)t->dtype, t->rank, t->shape};
    }
    /* The header checks every tensor's name, dtype and shape. */
    if (rt_st_header(path, ts, m->count, &head, &sizes[0], err, errlen) != 0) goto done;
    parts[0] = head;
    for (int i = 0; i < m->count; i++) {
        uint64_t bytes = 0;
        rt_st_nbytes(ts[i].dtype, ts[i].rank, ts[i].dims, &bytes);
        parts[1 + i] = m->tensors[i].data;
        sizes[1 + i] = (size_t)bytes;
    }
    rc = rt_write_file_atomic(path, parts, sizes, m->count + 1, err, errlen);
done:
    free(head);
    free(ts);
    free(parts);
    free(sizes);
    return rc;
}
