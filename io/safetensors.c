/* safetensors.c - read and write safetensors files.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON
 *   {"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...,
 *    "__metadata__": {"key": "value", ...}}
 * then the data region, where each tensor's bytes are [b, e) relative to
 * the start of the region.
 *
 * The reader validates the file the way the reference implementation does,
 * and a little more: header length within the file, strict JSON, known
 * dtypes, no duplicate names, non-negative dims whose product does not
 * overflow, e - b == numel * dtype size, and offsets that tile the data
 * region exactly (no overlap, no hole, nothing after the last tensor).
 * The writer pads the header with spaces to a multiple of 8 bytes as the
 * reference writer does, and lays tensors out in the map's order. */
#include "io/json.h"
#include "io/tensor.h"
#include "io/tensor_io.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dtypes ----------------------------------------------------------- */

static int dtype_from_name(const char *s, RtDType *dt) {
    static const struct { const char *name; RtDType dt; } ok[] = {
        {"F32", RT_F32}, {"F64", RT_F64}, {"I32", RT_I32}, {"I64", RT_I64},
    };
    /* Valid safetensors dtypes this runtime does not compute with. */
    static const char *other[] = {"BOOL", "U8", "I8", "U16", "I16", "F16", "BF16", "U32",
                                  "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3",
                                  "F6_E3M2", "C64"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        if (strcmp(s, ok[i].name) == 0) {
            *dt = ok[i].dt;
            return 0;
        }
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++)
        if (strcmp(s, other[i]) == 0)
            return 1;
    return -1;
}

/* ---- reader ----------------------------------------------------------- */

typedef struct {
    const char *name;
    RtDType dtype;
    int rank;
    int64_t shape[RT_MAX_RANK];
    uint64_t begin, end;
} Entry;

typedef struct {
    const char *name;
    int index;
} NameRef;

static int cmp_names(const void *a, const void *b) {
    const NameRef *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : x->index - y->index;
}

static int cmp_offsets(const void *a, const void *b) {
    const Entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return 0;
}

/* A JSON number that is a non-negative integer; exactness matters, so
 * floats such as 2.0 or 1e3 are refused. */
static int as_uint(const JsonValue *v, uint64_t *out) {
    if (!v || v->kind != JSON_NUMBER || !v->is_int || v->integer < 0)
        return -1;
    *out = (uint64_t)v->integer;
    return 0;
}

static int check_metadata(const char *path, const JsonValue *meta, char *err, size_t errlen) {
    if (meta->kind != JSON_OBJECT) {
        rt_errf(err, errlen, path, "__metadata__ must be an object, not %s",
                json_kind_name(meta->kind));
        return -1;
    }
    for (int i = 0; i < meta->count; i++)
        if (meta->items[i].kind != JSON_STRING) {
            rt_errf(err, errlen, path, "__metadata__ value of '%s' must be a string, not %s",
                    meta->keys[i], json_kind_name(meta->items[i].kind));
            return -1;
        }
    return 0;
}

static int parse_entry(const char *path, const char *name, const JsonValue *info,
                       uint64_t data_len, Entry *e, char *err, size_t errlen) {
    memset(e, 0, sizeof *e);
    e->name = name;
    if (info->kind != JSON_OBJECT) {
        rt_errf(err, errlen, path, "tensor '%s': entry must be an object, not %s", name,
                json_kind_name(info->kind));
        return -1;
    }
    /* json_get takes the first of duplicate keys; refuse the ambiguity. */
    for (int i = 0; i < info->count; i++)
        for (int j = 0; j < i; j++)
            if (strcmp(info->keys[i], info->keys[j]) == 0) {
                rt_errf(err, errlen, path, "tensor '%s': duplicate key '%s'", name, info->keys[i]);
                return -1;
            }
    const JsonValue *dtype = json_get(info, "dtype");
    const JsonValue *shape = json_get(info, "shape");
    const JsonValue *offs = json_get(info, "data_offsets");
    if (!dtype || !shape || !offs) {
        rt_errf(err, errlen, path, "tensor '%s': missing '%s'", name,
                !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
        return -1;
    }
    if (dtype->kind != JSON_STRING) {
        rt_errf(err, errlen, path, "tensor '%s': dtype must be a string", name);
        return -1;
    }
    int known = dtype_from_name(dtype->string, &e->dtype);
    if (known < 0) {
        rt_errf(err, errlen, path, "tensor '%s': unknown dtype '%s'", name, dtype->string);
        return -1;
    }
    if (known > 0) {
        rt_errf(err, errlen, path, "tensor '%s': dtype %s not supported (F32, F64, I32, I64 are)",
                name, dtype->string);
        return -1;
    }

    if (shape->kind != JSON_ARRAY) {
        rt_errf(err, errlen, path, "tensor '%s': shape must be an array", name);
        return -1;
    }
    if (shape->count > RT_MAX_RANK) {
        rt_errf(err, errlen, path, "tensor '%s': rank %d exceeds the maximum of %d", name,
                shape->count, RT_MAX_RANK);
        return -1;
    }
    for (int i = 0; i < shape->count; i++) {
        const JsonValue *d = &shape->items[i];
        if (d->kind == JSON_NUMBER && d->is_int && d->integer < 0) {
            rt_errf(err, errlen, path, "tensor '%s': negative dimension %lld in shape", name,
                    (long long)d->integer);
            return -1;
        }
        uint64_t u;
        if (as_uint(d, &u) != 0) {
            rt_errf(err, errlen, path, "tensor '%s': shape dimension %d is not a non-negative integer",
                    name, i);
            return -1;
        }
        e->shape[i] = (int64_t)u;
    }
    e->rank = shape->count;
    uint64_t bytes;
    if (rt_shape_bytes(e->dtype, e->rank, e->shape, &bytes) != 0) {
        rt_errf(err, errlen, path, "tensor '%s': shape size overflows", name);
        return -1;
    }

    if (offs->kind != JSON_ARRAY || offs->count != 2 || as_uint(&offs->items[0], &e->begin) != 0 ||
        as_uint(&offs->items[1], &e->end) != 0) {
        rt_errf(err, errlen, path, "tensor '%s': data_offsets must be two non-negative integers",
                name);
        return -1;
    }
    if (e->begin > e->end) {
        rt_errf(err, errlen, path, "tensor '%s': data_offsets begin %llu > end %llu", name,
                (unsigned long long)e->begin, (unsigned long long)e->end);
        return -1;
    }
    if (e->end > data_len) {
        rt_errf(err, errlen, path,
                "tensor '%s': data_offsets [%llu, %llu] out of range (data region has %llu bytes)",
                name, (unsigned long long)e->begin, (unsigned long long)e->end,
                (unsigned long long)data_len);
        return -1;
    }
    if (e->end - e->begin != bytes) {
        rt_errf(err, errlen, path,
                "tensor '%s': size mismatch: shape needs %llu bytes of %s, data_offsets span %llu",
                name, (unsigned long long)bytes, rt_dtype_name(e->dtype),
                (unsigned long long)(e->end - e->begin));
        return -1;
    }
    return 0;
}

/* Sorted by offsets, the tensors must tile [0, data_len) exactly. */
static int check_layout(const char *path, Entry *es, int n, uint64_t data_len, char *err,
                        size_t errlen) {
    qsort(es, (size_t)n, sizeof *es, cmp_offsets);
    uint64_t at = 0;
    const char *prev = NULL;
    for (int i = 0; i < n; i++) {
        if (es[i].begin < at) {
            rt_errf(err, errlen, path, "tensors '%s' and '%s' overlap", prev, es[i].name);
            return -1;
        }
        if (es[i].begin > at) {
            rt_errf(err, errlen, path,
                    "hole in data region: bytes %llu..%llu belong to no tensor",
                    (unsigned long long)at, (unsigned long long)es[i].begin);
            return -1;
        }
        at = es[i].end;
        /* A zero-size tensor does not advance `at`; keep naming the last
         * tensor that owns bytes in overlap messages. */
        if (es[i].end > es[i].begin)
            prev = es[i].name;
    }
    if (at != data_len) {
        rt_errf(err, errlen, path,
                "trailing data: tensors cover %llu bytes of a %llu-byte data region",
                (unsigned long long)at, (unsigned long long)data_len);
        return -1;
    }
    return 0;
}

static int check_duplicates(const char *path, const JsonValue *root, char *err, size_t errlen) {
    if (root->count < 2)
        return 0;
    NameRef *refs = malloc((size_t)root->count * sizeof *refs);
    if (!refs) {
        rt_errf(err, errlen, path, "out of memory");
        return -1;
    }
    for (int i = 0; i < root->count; i++)
        refs[i] = (NameRef){root->keys[i], i};
    qsort(refs, (size_t)root->count, sizeof *refs, cmp_names);
    int rc = 0;
    for (int i = 1; i < root->count; i++)
        if (strcmp(refs[i - 1].name, refs[i].name) == 0) {
            rt_errf(err, errlen, path, "duplicate key '%s' in header", refs[i].name);
            rc = -1;
            break;
        }
    free(refs);
    return rc;
}

int rt_st_read(const char *path, TensorMap *out, char *err, size_t errlen) {
    rt_map_init(out);
    unsigned char *buf;
    size_t len;
    if (rt_read_tensor_file(path, &buf, &len, err, errlen) != 0)
        return -1;

    int rc = -1;
    JsonValue root;
    Entry *es = NULL;
    memset(&root, 0, sizeof root);
    if (len < 8) {
        rt_errf(err, errlen, path, "truncated: %zu bytes is too short for the header length", len);
        goto done;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    if (hlen > len - 8) {
        rt_errf(err, errlen, path, "header length %llu exceeds file size %zu",
                (unsigned long long)hlen, len);
        goto done;
    }
    char jerr[160];
    if (json_parse((const char *)buf + 8, (size_t)hlen, &root, jerr, sizeof jerr) != 0) {
        rt_errf(err, errlen, path, "invalid JSON in header: %s", jerr);
        goto done;
    }
    if (root.kind != JSON_OBJECT) {
        rt_errf(err, errlen, path, "header must be a JSON object, not %s",
                json_kind_name(root.kind));
        goto done;
    }
    if (check_duplicates(path, &root, err, errlen) != 0)
        goto done;

    uint64_t data_len = len - 8 - hlen;
    es = malloc(((size_t)root.count + 1) * sizeof *es);
    if (!es) {
        rt_errf(err, errlen, path, "out of memory");
        goto done;
    }
    int n = 0;
    for (int i = 0; i < root.count; i++) {
        if (strcmp(root.keys[i], "__metadata__") == 0) {
            if (check_metadata(path, &root.items[i], err, errlen) != 0)
                goto done;
            continue;
        }
        if (parse_entry(path, root.keys[i], &root.items[i], data_len, &es[n], err, errlen) != 0)
            goto done;
        n++;
    }
    if (check_layout(path, es, n, data_len, err, errlen) != 0)
        goto done;

    /* Everything checked: copy the tensors out in file order. */
    const unsigned char *data = buf + 8 + hlen;
    for (int i = 0; i < n; i++) {
        Tensor t;
        if (rt_tensor_alloc(&t, es[i].dtype, es[i].rank, es[i].shape) != 0) {
            rt_errf(err, errlen, path, "tensor '%s': out of memory", es[i].name);
            goto done;
        }
        if (es[i].end > es[i].begin)
            memcpy(t.data, data + es[i].begin, (size_t)(es[i].end - es[i].begin));
        if (rt_map_put(out, es[i].name, &t) != 0) {
            rt_tensor_free(&t);
            rt_errf(err, errlen, path, "out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    if (rc != 0)
        rt_map_free(out);
    free(es);
    json_free(&root);
    free(buf);
    return rc;
}

/* ---- writer ----------------------------------------------------------- */

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} Str;

static void str_add(Str *b, const char *s, size_t n) {
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void str_addf(Str *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        str_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void str_add_json_string(Str *b, const char *s) {
    str_add(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            str_add(b, esc, 2);
        } else if (c < 0x20) {
            str_addf(b, "\\u%04x", c);
        } else {
            str_add(b, (const char *)&c, 1);
        }
    }
    str_add(b, "\"", 1);
}

int rt_st_write(const char *path, const TensorMap *m, char *err, size_t errlen) {
    if (!rt_host_is_little_endian()) {
        rt_errf(err, errlen, path, "big-endian hosts are not supported");
        return -1;
    }
    Str h = {0};
    const void **parts = malloc(((size_t)m->count + 2) * sizeof *parts);
    size_t *sizes = malloc(((size_t)m->count + 2) * sizeof *sizes);
    int rc = -1;
    if (!parts || !sizes) {
        rt_errf(err, errlen, path, "out of memory");
        goto done;
    }
    str_add(&h, "{", 1);
    uint64_t at = 0;
    for (int i = 0; i < m->count; i++) {
        const Tensor *t = &m->tensors[i];
        uint64_t bytes;
        if (strcmp(m->names[i], "__metadata__") == 0) {
            rt_errf(err, errlen, path, "cannot write a tensor named '__metadata__'");
            goto done;
        }
        if ((unsigned)t->dtype > RT_I64 ||
            rt_shape_bytes(t->dtype, t->rank, t->shape, &bytes) != 0 || bytes > SIZE_MAX) {
            rt_errf(err, errlen, path, "tensor '%s': invalid dtype or shape", m->names[i]);
            goto done;
        }
        if (i)
            str_add(&h, ",", 1);
        str_add_json_string(&h, m->names[i]);
        str_addf(&h, ":{\"dtype\":\"%s\",\"shape\":[", rt_dtype_name(t->dtype));
        for (int d = 0; d < t->rank; d++)
            str_addf(&h, "%s%lld", d ? "," : "", (long long)t->shape[d]);
        str_addf(&h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at,
                 (unsigned long long)(at + bytes));
        parts[2 + i] = t->data;
        sizes[2 + i] = (size_t)bytes;
        at += bytes;
    }
    str_add(&h, "}", 1);
    while (!h.oom && h.n % 8 != 0)
        str_add(&h, " ", 1);
    if (h.oom) {
        rt_errf(err, errlen, path, "out of memory");
        goto done;
    }
    unsigned char lenbuf[8];
    for (int i = 0; i < 8; i++)
        lenbuf[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
    parts[0] = lenbuf;
    sizes[0] = 8;
    parts[1] = h.s;
    sizes[1] = h.n;
    rc = rt_write_file_atomic(path, parts, sizes, m->count + 2, err, errlen);
done:
    free(h.s);
    free(parts);
    free(sizes);
    return rc;
}
