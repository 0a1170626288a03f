/* st_format.c - the safetensors reader and writer of st_format.h.
 *
 * The header is read twice: first as JSON (rt_json_check), so that a
 * syntax error anywhere is reported as one before any meaning is looked
 * at, then walked for its meaning.  The checks of the meaning run in one
 * fixed order (the header's duplicate keys, then each member in the
 * order written: an entry's duplicate keys, missing fields, dtype, shape,
 * size, offsets; then the layout), so a file with one fault gets the
 * message for that fault, whichever program reads it.  Duplicate keys
 * are found by sorting, not by comparing every pair: a hostile header
 * with millions of keys must not take quadratic time.  Static names start
 * with stf_: with the runtime inline, this text shares one translation
 * unit with the whole runtime and the model. */
#include "runtime/st_format.h"
#include "runtime/st_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The dtypes of the format: the first RT_ST_NREAD are read (their sizes
 * given), the others are refused as not supported rather than unknown. */
static const struct {
    const char *name;
    size_t size;
} stf_dtypes[] = {
    {"F32", 4},     {"F64", 8},     {"I32", 4}, {"I64", 8},     {"BOOL", 0},    {"U8", 0},  {"I8", 0},
    {"U16", 0},     {"I16", 0},     {"F16", 0}, {"BF16", 0},    {"U32", 0},     {"U64", 0}, {"F8_E4M3", 0},
    {"F8_E5M2", 0}, {"F8_E8M0", 0}, {"F4", 0},  {"F6_E2M3", 0}, {"F6_E3M2", 0}, {"C64", 0},
};

RT_API const char *rt_st_dtype_name(int dtype)
{
    return dtype >= 0 && dtype < RT_ST_NREAD ? stf_dtypes[dtype].name : "?";
}

RT_API size_t rt_st_dtype_size(int dtype) { return dtype >= 0 && dtype < RT_ST_NREAD ? stf_dtypes[dtype].size : 0; }

RT_API int rt_st_nbytes(int dtype, int rank, const int64_t *dims, uint64_t *bytes)
{
    uint64_t n = rt_st_dtype_size(dtype);
    if (!n || rank < 0) return -1;
    for (int i = 0; i < rank; i++) {
        if (dims[i] < 0 || (dims[i] && n > (uint64_t)INT64_MAX / (uint64_t)dims[i])) return -1;
        n *= (uint64_t)dims[i];
    }
    /* A zero dimension makes the product 0 even after a huge one: still a
     * legal, empty tensor, as in numpy and safetensors. */
    *bytes = n;
    return 0;
}

RT_API int rt_st_verrf(int code, char *err, size_t errlen, const char *path, const char *fmt, va_list ap)
{
    int n;
    if (!err || !errlen) return code;
    n = snprintf(err, errlen, "%s: ", path);
    if (n >= 0 && (size_t)n < errlen) vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    return code;
}

RT_API int rt_st_errf(int code, char *err, size_t errlen, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_st_verrf(code, err, errlen, path, fmt, ap);
    va_end(ap);
    return code;
}

RT_API int rt_st_header_len(const char *path, uint64_t size, const unsigned char *len8, uint64_t *hlen, char *err,
                            size_t errlen)
{
    uint64_t h = 0;
    if (size == 0) return rt_st_errf(RT_ST_FORMAT, err, errlen, path, "empty file");
    if (size < 8)
        return rt_st_errf(RT_ST_FORMAT, err, errlen, path, "truncated: %llu bytes is too short for the header length",
                          (unsigned long long)size);
    for (int i = 7; i >= 0; i--) h = h << 8 | len8[i];
    if (h > size - 8)
        return rt_st_errf(RT_ST_FORMAT, err, errlen, path, "header length %llu exceeds file size %llu",
                          (unsigned long long)h, (unsigned long long)size);
    if (h > RT_ST_MAX_HEADER)
        return rt_st_errf(RT_ST_FORMAT, err, errlen, path, "header length %llu is over the limit of 100 MB",
                          (unsigned long long)h);
    *hlen = h;
    return 0;
}

/* ---- reading: the header's meaning ------------------------------------------ */

typedef struct stf_ctx {
    const char *path;
    char *err;
    size_t errlen;
    rt_json top; /* a walker of the whole header */
} stf_ctx;

typedef struct stf_member {
    char *key;         /* decoded, malloc'd */
    const char *value; /* where its value starts */
} stf_member;

#if defined(__GNUC__)
static int stf_fail(const stf_ctx *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#endif
static int stf_fail(const stf_ctx *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rt_st_verrf(code, c->err, c->errlen, c->path, fmt, ap);
    va_end(ap);
    return code;
}

static int stf_nomem(const stf_ctx *c) { return stf_fail(c, RT_ST_NOMEM, "out of memory"); }

/* A walker at p, inside the header. */
static rt_json stf_at(const stf_ctx *c, const char *p)
{
    rt_json js = c->top;
    js.p = p;
    return js;
}

static void stf_members_free(stf_member *ms, int n)
{
    for (int i = 0; i < n; i++) free(ms[i].key);
    free(ms);
}

/* The members of the object at js->p: 0 with *out (for
 * stf_members_free) and *n, or RT_ST_NOMEM. */
static int stf_members(const stf_ctx *c, rt_json *js, stf_member **out, int *n)
{
    stf_member *ms = NULL;
    int cap = 0, rc;
    char *key;
    *n = 0;
    while ((rc = rt_json_next_key(js, &key)) == 1) {
        if (*n == cap) {
            stf_member *grown = realloc(ms, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *ms);
            if (!grown) {
                free(key);
                rc = -1;
                break;
            }
            ms = grown;
        }
        ms[*n].key = key;
        ms[*n].value = js->p;
        ++*n;
        rt_json_skip(js);
    }
    if (rc < 0) {
        stf_members_free(ms, *n);
        *n = 0;
        return stf_nomem(c);
    }
    *out = ms;
    return 0;
}

static int stf_by_key(const void *a, const void *b)
{
    const stf_member *x = *(const stf_member *const *)a, *y = *(const stf_member *const *)b;
    int k = strcmp(x->key, y->key);
    return k ? k : (x > y) - (x < y);
}

/* In *dup the member that repeats an earlier member's key, the first such
 * in the text, or NULL: 0, or RT_ST_NOMEM. */
static int stf_duplicate(const stf_ctx *c, const stf_member *ms, int n, const stf_member **dup)
{
    const stf_member **by;
    *dup = NULL;
    if (n < 2) return 0;
    if (!(by = malloc((size_t)n * sizeof *by))) return stf_nomem(c);
    for (int i = 0; i < n; i++) by[i] = &ms[i];
    qsort(by, (size_t)n, sizeof *by, stf_by_key);
    for (int i = 1; i < n; i++)
        if (!strcmp(by[i - 1]->key, by[i]->key) && (!*dup || by[i] < *dup)) *dup = by[i];
    free(by);
    return 0;
}

/* The items of the array at js->p: their count, and for the first max of
 * them the value in v[] and in is_int[] whether it is an integer. */
static int stf_ints(rt_json *js, int max, int64_t *v, int *is_int)
{
    int n = 0;
    for (; rt_json_next_item(js); n++) {
        int64_t x = 0;
        int k = rt_json_int(js, &x);
        if (n < max) v[n] = x, is_int[n] = k;
    }
    return n;
}

static int stf_dtype(const stf_ctx *c, const char *name, rt_json *js, rt_st_entry *e)
{
    const int ndtypes = (int)(sizeof stf_dtypes / sizeof stf_dtypes[0]);
    char *s;
    int rc = 0, i = 0;
    if (*js->p != '"') return stf_fail(c, RT_ST_FORMAT, "tensor '%s': dtype must be a string", name);
    if (rt_json_string(js, &s)) return stf_nomem(c);
    while (i < ndtypes && strcmp(s, stf_dtypes[i].name)) i++;
    e->dtype = i;
    if (i == ndtypes)
        rc = stf_fail(c, RT_ST_FORMAT, "tensor '%s': unknown dtype '%s'", name, s);
    else if (i >= RT_ST_NREAD)
        rc = stf_fail(c, RT_ST_FORMAT, "tensor '%s': dtype %s not supported (F32, F64, I32, I64 are)", name, s);
    free(s);
    return rc;
}

static int stf_shape(const stf_ctx *c, const char *name, rt_json *js, rt_st_entry *e)
{
    int64_t v[RT_ST_MAX_RANK] = {0};
    int is_int[RT_ST_MAX_RANK] = {0}, n;
    if (*js->p != '[') return stf_fail(c, RT_ST_FORMAT, "tensor '%s': shape must be an array", name);
    n = stf_ints(js, RT_ST_MAX_RANK, v, is_int);
    if (n > RT_ST_MAX_RANK)
        return stf_fail(c, RT_ST_FORMAT, "tensor '%s': rank %d exceeds the maximum of %d", name, n, RT_ST_MAX_RANK);
    for (int i = 0; i < n; i++) {
        if (is_int[i] && v[i] < 0)
            return stf_fail(c, RT_ST_FORMAT, "tensor '%s': negative dimension %lld in shape", name, (long long)v[i]);
        if (!is_int[i])
            return stf_fail(c, RT_ST_FORMAT, "tensor '%s': shape dimension %d is not a non-negative integer", name, i);
        e->shape[i] = v[i];
    }
    e->rank = n;
    return 0;
}

/* data_offsets, and that they span the shape's bytes inside the data. */
static int stf_offsets(const stf_ctx *c, const char *name, rt_json *js, uint64_t data_len, rt_st_entry *e)
{
    int64_t v[2] = {0, 0};
    int is_int[2] = {0, 0};
    uint64_t bytes = 0;
    if (rt_st_nbytes(e->dtype, e->rank, e->shape, &bytes))
        return stf_fail(c, RT_ST_FORMAT, "tensor '%s': shape size overflows", name);
    if (*js->p != '[' || stf_ints(js, 2, v, is_int) != 2 || !is_int[0] || !is_int[1] || v[0] < 0 || v[1] < 0)
        return stf_fail(c, RT_ST_FORMAT, "tensor '%s': data_offsets must be two non-negative integers", name);
    e->begin = (uint64_t)v[0];
    e->end = (uint64_t)v[1];
    if (e->begin > e->end)
        return stf_fail(c, RT_ST_FORMAT, "tensor '%s': data_offsets begin %llu > end %llu", name,
                        (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_len)
        return stf_fail(c, RT_ST_FORMAT,
                        "tensor '%s': data_offsets [%llu, %llu] out of range (data region has %llu bytes)", name,
                        (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)data_len);
    if (e->end - e->begin != bytes)
        return stf_fail(c, RT_ST_FORMAT,
                        "tensor '%s': size mismatch: shape needs %llu bytes of %s, data_offsets span %llu", name,
                        (unsigned long long)bytes, stf_dtypes[e->dtype].name, (unsigned long long)(e->end - e->begin));
    return 0;
}

/* The entry of tensor m->key into e. */
static int stf_entry(const stf_ctx *c, const stf_member *m, uint64_t data_len, rt_st_entry *e)
{
    static const char *const keys[3] = {"dtype", "shape", "data_offsets"};
    const char *name = m->key, *at[3] = {NULL, NULL, NULL};
    rt_json js = stf_at(c, m->value), f[3];
    const stf_member *dup;
    stf_member *ms;
    int n, rc;
    if (*js.p != '{')
        return stf_fail(c, RT_ST_FORMAT, "tensor '%s': entry must be an object, not %s", name, rt_json_kind(&js));
    if ((rc = stf_members(c, &js, &ms, &n))) return rc;
    if (!(rc = stf_duplicate(c, ms, n, &dup)) && dup)
        rc = stf_fail(c, RT_ST_FORMAT, "tensor '%s': duplicate key '%s'", name, dup->key);
    for (int i = 0; i < n; i++) /* other keys are allowed, and ignored */
        for (int k = 0; k < 3; k++)
            if (!strcmp(ms[i].key, keys[k])) at[k] = ms[i].value;
    stf_members_free(ms, n);
    for (int k = 0; k < 3 && !rc; k++)
        if (!at[k]) rc = stf_fail(c, RT_ST_FORMAT, "tensor '%s': missing '%s'", name, keys[k]);
    if (rc) return rc;
    for (int k = 0; k < 3; k++) f[k] = stf_at(c, at[k]);
    if ((rc = stf_dtype(c, name, &f[0], e)) || (rc = stf_shape(c, name, &f[1], e))) return rc;
    return stf_offsets(c, name, &f[2], data_len, e);
}

/* __metadata__: an object whose values are strings; not kept. */
static int stf_metadata(const stf_ctx *c, rt_json *js)
{
    char *key;
    int rc;
    if (*js->p != '{') return stf_fail(c, RT_ST_FORMAT, "__metadata__ must be an object, not %s", rt_json_kind(js));
    while ((rc = rt_json_next_key(js, &key)) == 1) {
        rc = 0;
        if (*js->p != '"')
            rc =
                stf_fail(c, RT_ST_FORMAT, "__metadata__ value of '%s' must be a string, not %s", key, rt_json_kind(js));
        rt_json_skip(js);
        free(key);
        if (rc) return rc;
    }
    return rc < 0 ? stf_nomem(c) : 0;
}

/* Data order: by offsets, then (zero-size tensors at one offset) by their
 * place in the header, so the order does not depend on qsort. */
static int stf_by_offset(const void *a, const void *b)
{
    const rt_st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Sorted by offsets, the tensors must tile [0, data_len) exactly. */
static int stf_layout(const stf_ctx *c, rt_st_entry *es, int n, uint64_t data_len)
{
    uint64_t at = 0;
    const char *prev = "";
    if (n > 1) qsort(es, (size_t)n, sizeof *es, stf_by_offset);
    for (int i = 0; i < n; i++) {
        if (es[i].begin < at) return stf_fail(c, RT_ST_FORMAT, "tensors '%s' and '%s' overlap", prev, es[i].name);
        if (es[i].begin > at)
            return stf_fail(c, RT_ST_FORMAT, "hole in data region: bytes %llu..%llu belong to no tensor",
                            (unsigned long long)at, (unsigned long long)es[i].begin);
        at = es[i].end;
        /* A zero-size tensor does not advance `at`: overlap messages name
         * the last tensor that owns bytes. */
        if (es[i].end > es[i].begin) prev = es[i].name;
    }
    if (at != data_len)
        return stf_fail(c, RT_ST_FORMAT, "trailing data: tensors cover %llu bytes of a %llu-byte data region",
                        (unsigned long long)at, (unsigned long long)data_len);
    return 0;
}

RT_API void rt_st_free(rt_st_entry *es, int n)
{
    for (int i = 0; i < n; i++) free(es[i].name);
    free(es);
}

RT_API int rt_st_parse(const char *path, const char *head, uint64_t hlen, uint64_t data_len, rt_st_entry **out,
                       int *count, char *err, size_t errlen)
{
    stf_ctx c = {path, err, errlen, rt_json_walk(head, (size_t)hlen)};
    char jerr[160];
    stf_member *ms = NULL;
    rt_st_entry *es = NULL;
    const stf_member *dup;
    int n = 0, ne = 0, rc;
    *out = NULL;
    *count = 0;
    if (rt_json_check(head, (size_t)hlen, jerr, sizeof jerr))
        return stf_fail(&c, RT_ST_FORMAT, "invalid JSON in header: %s", jerr);
    if (*c.top.p != '{')
        return stf_fail(&c, RT_ST_FORMAT, "header must be a JSON object, not %s", rt_json_kind(&c.top));
    rt_json js = c.top;
    if ((rc = stf_members(&c, &js, &ms, &n))) return rc;
    if (!(rc = stf_duplicate(&c, ms, n, &dup)) && dup)
        rc = stf_fail(&c, RT_ST_FORMAT, "duplicate key '%s' in header", dup->key);
    if (!rc && !(es = calloc((size_t)n + 1, sizeof *es))) rc = stf_nomem(&c);
    for (int i = 0; i < n && !rc; i++) {
        if (!strcmp(ms[i].key, "__metadata__")) {
            js = stf_at(&c, ms[i].value);
            rc = stf_metadata(&c, &js);
            continue;
        }
        rc = stf_entry(&c, &ms[i], data_len, &es[ne]);
        es[ne].name = ms[i].key; /* moved: freed with the entries */
        es[ne].index = ne;
        ms[i].key = NULL;
        ne++;
    }
    if (!rc) rc = stf_layout(&c, es, ne, data_len);
    stf_members_free(ms, n);
    if (rc) {
        rt_st_free(es, ne);
        return rc;
    }
    *out = es;
    *count = ne;
    return 0;
}

/* ---- writing ------------------------------------------------------------------ */

/* name as a JSON string at w; returns the end.  At most 6 bytes a byte. */
static char *stf_put_name(char *w, const char *name)
{
    *w++ = '"';
    for (const unsigned char *s = (const unsigned char *)name; *s; s++) {
        if (*s == '"' || *s == '\\') *w++ = '\\';
        if (*s < 0x20)
            w += sprintf(w, "\\u%04x", *s);
        else
            *w++ = (char)*s;
    }
    *w++ = '"';
    return w;
}

RT_API int rt_st_header(const char *path, const rt_st_tensor *ts, int n, char **out, size_t *len, char *err,
                        size_t errlen)
{
    /* An upper bound: the length, the braces, the padding; for each tensor
     * its name escaped, each dimension in at most 21 bytes, and the rest
     * (two offsets of at most 20 digits) in under 128. */
    size_t cap = 8 + 2 + 7, hlen;
    uint64_t at = 0, bytes = 0;
    unsigned char len8[8];
    char *h, *w;
    *out = NULL;
    *len = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(ts[i].name, "__metadata__"))
            return rt_st_errf(RT_ST_FORMAT, err, errlen, path, "cannot write a tensor named '__metadata__'");
        if (ts[i].rank > RT_ST_MAX_RANK || rt_st_nbytes(ts[i].dtype, ts[i].rank, ts[i].dims, &bytes))
            return rt_st_errf(RT_ST_FORMAT, err, errlen, path, "tensor '%s': invalid dtype or shape", ts[i].name);
        cap += 6 * strlen(ts[i].name) + 21 * (size_t)ts[i].rank + 128;
    }
    if (!(h = malloc(cap))) return rt_st_errf(RT_ST_NOMEM, err, errlen, path, "out of memory");
    w = h + 8;
    *w++ = '{';
    for (int i = 0; i < n; i++) {
        rt_st_nbytes(ts[i].dtype, ts[i].rank, ts[i].dims, &bytes);
        if (i) *w++ = ',';
        w = stf_put_name(w, ts[i].name);
        w += sprintf(w, ":{\"dtype\":\"%s\",\"shape\":[", stf_dtypes[ts[i].dtype].name);
        for (int d = 0; d < ts[i].rank; d++) w += sprintf(w, "%s%lld", d ? "," : "", (long long)ts[i].dims[d]);
        w += sprintf(w, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at, (unsigned long long)(at + bytes));
        at += bytes;
    }
    *w++ = '}';
    while ((size_t)(w - h - 8) % 8) *w++ = ' ';
    hlen = (size_t)(w - h - 8);
    /* What the reader would refuse is not written. */
    if (hlen > RT_ST_MAX_HEADER) {
        free(h);
        return rt_st_errf(RT_ST_FORMAT, err, errlen, path, "header of %zu bytes is over the limit of 100 MB", hlen);
    }
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> 8 * i);
    memcpy(h, len8, 8);
    *out = h;
    *len = 8 + hlen;
    return 0;
}
