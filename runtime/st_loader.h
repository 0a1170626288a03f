/* st_loader.h - the safetensors reader and writer of the model API:
 * static functions, included by runtime/model_api.c only (and pasted
 * before it into a generated C file with the runtime inline).  It checks
 * what io/safetensors.c checks, with the same messages
 * (tests/deploy/run.sh runs it on tests/bad/tensors).  Needs <errno.h>,
 * <stdarg.h>, <stddef.h>, <stdint.h>, <stdio.h>, <stdlib.h> and
 * <string.h> before it. */
/* ---- safetensors: a strict reader and a writer (libc only) ----------------
 * The file: 8 bytes little-endian header length, a JSON object
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]},
 * "__metadata__": {"key": "string"}}, then the data.  st_load checks all of
 * it before it writes any weight: the JSON in full, every entry, and that
 * the tensors tile the data region exactly; tensors that are not a
 * parameter (a training checkpoint's optimizer state) are checked and
 * skipped.  Every message starts with the file's name. */
enum { ST_NOMEM = 2, ST_IO = 3, ST_FORMAT = 4, ST_WEIGHTS = 5 };
#define ST_MAX_RANK 8
#define ST_MAX_DEPTH 64
#define ST_MAX_HEADER 100000000u

typedef struct st_want {       /* a tensor the model reads or writes */
    const char    *name;
    int            rank;
    const int64_t *dims;
    float         *data;       /* st_load: where it goes */
} st_want;

typedef struct st_entry {
    char    *name;
    int      dtype;            /* index in st_dtypes                   */
    int      rank;
    int64_t  shape[ST_MAX_RANK];
    uint64_t begin, end;
} st_entry;

typedef struct st_parser {
    const char *p, *start, *end;
    char       *err;
    size_t      errlen;
    const char *path;
} st_parser;

/* The dtypes of the format; the first four are the ones read. */
static const struct { const char *name; unsigned size; } st_dtypes[] = {
    {"F32", 4}, {"F64", 8}, {"I32", 4}, {"I64", 8}, {"BOOL", 1}, {"U8", 1}, {"I8", 1},
    {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2}, {"F16", 2}, {"BF16", 2},
    {"U32", 4}, {"U64", 8},
};
#define ST_NREAD 4

static int st_fail(const st_parser *ps, int code, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(ps->err, ps->errlen, "%s: ", ps->path);
    if (n < 0 || (size_t)n >= ps->errlen) return code;
    va_start(ap, fmt);
    vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return code;
}

static void st_ws(st_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) ps->p++;
}

static int st_peek(const st_parser *ps) { return ps->p < ps->end ? (unsigned char)*ps->p : -1; }

static int st_json_fail(const st_parser *ps, const char *what)
{
    return st_fail(ps, ST_FORMAT, "invalid JSON in header: at byte %ld: %s", (long)(ps->p - ps->start), what);
}

static int st_hex(int c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static int st_u4(st_parser *ps, unsigned *u)
{
    *u = 0;
    for (int i = 0; i < 4; i++) {
        int h = st_hex(st_peek(ps));
        if (h < 0) return st_json_fail(ps, "bad \\u escape");
        *u = *u << 4 | (unsigned)h;
        ps->p++;
    }
    return 0;
}

/* Appends code point u as UTF-8 to out (room for 4 more bytes). */
static char *st_utf8(char *out, unsigned u)
{
    if (u < 0x80) { *out++ = (char)u; }
    else if (u < 0x800) { *out++ = (char)(0xC0 | u >> 6); *out++ = (char)(0x80 | (u & 0x3F)); }
    else if (u < 0x10000) { *out++ = (char)(0xE0 | u >> 12); *out++ = (char)(0x80 | (u >> 6 & 0x3F)); *out++ = (char)(0x80 | (u & 0x3F)); }
    else { *out++ = (char)(0xF0 | u >> 18); *out++ = (char)(0x80 | (u >> 12 & 0x3F)); *out++ = (char)(0x80 | (u >> 6 & 0x3F)); *out++ = (char)(0x80 | (u & 0x3F)); }
    return out;
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static int st_utf8_len(const unsigned char *s, ptrdiff_t n)
{
    int len = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 && s[0] < 0xE0 ? 2 : 0;
    if (!len || n < len) return 0;
    for (int i = 1; i < len; i++) if ((s[i] & 0xC0) != 0x80) return 0;
    if (len == 3 && ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))) return 0;
    if (len == 4 && ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))) return 0;
    return len;
}

/* A string; *out (when out is not NULL) receives it decoded, malloc'd. */
static int st_string(st_parser *ps, char **out)
{
    char *buf = NULL, *w = NULL;
    const char *s = ++ps->p; /* after the quote */
    if (out) {
        /* Decoded text is never longer than the encoded text. */
        const char *q = s;
        while (q < ps->end && *q != '"') q += *q == '\\' && q + 1 < ps->end ? 2 : 1;
        buf = w = malloc((size_t)(q - s) + 1);
        if (!buf) return st_fail(ps, ST_NOMEM, "out of memory");
    }
    for (;;) {
        int c = st_peek(ps), rc = 0;
        if (c < 0) rc = st_json_fail(ps, "unterminated string");
        else if (c == '"') { ps->p++; break; }
        else if (c < 0x20) rc = st_json_fail(ps, "control character in string");
        else if (c == '\\') {
            ps->p++;
            int e = st_peek(ps);
            static const char esc_in[] = "\"\\/bfnrt", esc_out[] = "\"\\/\b\f\n\r\t";
            const char *lit = e > 0 ? strchr(esc_in, e) : NULL;
            unsigned u = 0;
            if (lit) { ps->p++; u = (unsigned char)esc_out[lit - esc_in]; }
            else if (e == 'u') {
                ps->p++;
                rc = st_u4(ps, &u);
                if (!rc && u >= 0xD800 && u < 0xDC00) {
                    unsigned lo = 0;
                    if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') rc = st_json_fail(ps, "high surrogate not followed by a low one");
                    else { ps->p += 2; rc = st_u4(ps, &lo); }
                    if (!rc && (lo < 0xDC00 || lo > 0xDFFF)) rc = st_json_fail(ps, "high surrogate not followed by a low one");
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                } else if (!rc && u >= 0xDC00 && u < 0xE000) rc = st_json_fail(ps, "lone low surrogate in \\u escape");
                else if (!rc && u == 0) rc = st_json_fail(ps, "\\u0000 in strings is not supported");
            } else rc = st_json_fail(ps, "bad escape");
            if (!rc && w) w = st_utf8(w, u);
        } else if (c < 0x80) { if (w) *w++ = (char)c; ps->p++; }
        else {
            int n = st_utf8_len((const unsigned char *)ps->p, ps->end - ps->p);
            if (!n) rc = st_json_fail(ps, "invalid UTF-8 in string");
            for (int i = 0; i < n; i++) { if (w) *w++ = *ps->p; ps->p++; }
        }
        if (rc) { free(buf); return rc; }
    }
    if (out) { *w = '\0'; *out = buf; }
    return 0;
}

/* A number.  *kind: 1 an integer in [0, INT64_MAX] (*u), 2 a negative
 * integer (*neg), 0 anything else (a fraction, an exponent, too large). */
static int st_number(st_parser *ps, int *kind, uint64_t *u, int64_t *neg)
{
    int minus = st_peek(ps) == '-', big = 0, frac = 0;
    uint64_t v = 0;
    if (minus) ps->p++;
    if (st_peek(ps) < '0' || st_peek(ps) > '9') return st_json_fail(ps, "expected a digit");
    if (st_peek(ps) == '0' && ps->end - ps->p > 1 && ps->p[1] >= '0' && ps->p[1] <= '9') return st_json_fail(ps, "leading zero in number");
    while (st_peek(ps) >= '0' && st_peek(ps) <= '9') {
        unsigned d = (unsigned)(*ps->p++ - '0');
        if (v > ((uint64_t)INT64_MAX - d) / 10) big = 1; else v = v * 10 + d;
    }
    if (st_peek(ps) == '.') {
        ps->p++, frac = 1;
        if (st_peek(ps) < '0' || st_peek(ps) > '9') return st_json_fail(ps, "expected a digit after '.'");
        while (st_peek(ps) >= '0' && st_peek(ps) <= '9') ps->p++;
    }
    if (st_peek(ps) == 'e' || st_peek(ps) == 'E') {
        ps->p++, frac = 1;
        if (st_peek(ps) == '+' || st_peek(ps) == '-') ps->p++;
        if (st_peek(ps) < '0' || st_peek(ps) > '9') return st_json_fail(ps, "expected a digit in the exponent");
        while (st_peek(ps) >= '0' && st_peek(ps) <= '9') ps->p++;
    }
    *kind = frac || big ? 0 : minus ? (v ? 2 : 1) : 1;
    *u = v;
    *neg = -(int64_t)v;
    return 0;
}

/* Checks one JSON value of any kind and steps over it; *what names its
 * kind for messages ("an array"). */
static int st_value(st_parser *ps, int depth, const char **what)
{
    int c = st_peek(ps), kind, rc;
    uint64_t u;
    int64_t neg;
    if (depth > ST_MAX_DEPTH) return st_json_fail(ps, "nesting deeper than 64");
    if (c == '"') { *what = "a string"; return st_string(ps, NULL); }
    if (c == '-' || (c >= '0' && c <= '9')) { *what = "a number"; return st_number(ps, &kind, &u, &neg); }
    static const char *const lits[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++)
        if (ps->end - ps->p >= (ptrdiff_t)strlen(lits[i]) && !strncmp(ps->p, lits[i], strlen(lits[i]))) {
            ps->p += strlen(lits[i]);
            *what = i < 2 ? "a boolean" : "null";
            return 0;
        }
    if (c != '[' && c != '{') return st_json_fail(ps, c < 0 ? "unexpected end of text" : "unexpected character");
    char close = c == '[' ? ']' : '}';
    *what = c == '[' ? "an array" : "an object";
    ps->p++;
    st_ws(ps);
    if (st_peek(ps) == close) { ps->p++; return 0; }
    for (;;) {
        const char *inner;
        if (close == '}') {
            if (st_peek(ps) != '"') return st_json_fail(ps, "expected a string key");
            if ((rc = st_string(ps, NULL))) return rc;
            st_ws(ps);
            if (st_peek(ps) != ':') return st_json_fail(ps, "expected ':' after key");
            ps->p++;
            st_ws(ps);
        }
        if ((rc = st_value(ps, depth + 1, &inner))) return rc;
        st_ws(ps);
        if (st_peek(ps) == close) { ps->p++; return 0; }
        if (st_peek(ps) != ',') return st_json_fail(ps, close == ']' ? "expected ',' or ']' in array" : "expected ',' or '}' in object");
        ps->p++;
        st_ws(ps);
    }
}

/* In the checked JSON: steps to the next key of an object (after '{' or
 * a value); returns 0 at its end, 1 with *key (malloc'd) and p at its
 * value, or an error code (out of memory). */
static int st_next_key(st_parser *ps, char **key)
{
    st_ws(ps);
    if (*ps->p == ',' || *ps->p == '{') ps->p++;
    st_ws(ps);
    if (*ps->p == '}') { ps->p++; return 0; }
    int rc = st_string(ps, key);
    if (rc) return -rc;
    st_ws(ps);
    ps->p++; /* ':' */
    st_ws(ps);
    return 1;
}

static const char *st_kind(const st_parser *ps)
{
    st_parser q = *ps;
    const char *what = "?";
    q.errlen = 0;
    st_value(&q, 0, &what);
    return what;
}

/* The integers of a JSON array: dims (kind per element as st_number). */
static int st_ints(st_parser *ps, int max, int *count, int *kind, uint64_t *u, int64_t *neg)
{
    *count = 0;
    ps->p++;
    for (;;) {
        st_ws(ps);
        if (*ps->p == ']') { ps->p++; return 0; }
        if (*ps->p == ',') { ps->p++; st_ws(ps); }
        int k = 0;
        uint64_t v = 0;
        int64_t n = 0;
        const char *what;
        if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9')) st_number(ps, &k, &v, &n);
        else { st_value(ps, 0, &what); k = 0; }
        if (*count < max) { kind[*count] = k; u[*count] = v; neg[*count] = n; }
        ++*count;
    }
}

static int st_entry_parse(st_parser *ps, st_entry *e, uint64_t data_len)
{
    int seen[3] = {0, 0, 0}, rc, n;
    static const char *const keys[3] = {"dtype", "shape", "data_offsets"};
    const char *name = e->name;
    if (*ps->p != '{') return st_fail(ps, ST_FORMAT, "tensor '%s': entry must be an object, not %s", name, st_kind(ps));
    char *key;
    while ((rc = st_next_key(ps, &key)) == 1) {
        int k = 0;
        while (k < 3 && strcmp(key, keys[k])) k++;
        if (k < 3 && seen[k]) rc = st_fail(ps, ST_FORMAT, "tensor '%s': duplicate key '%s'", name, key);
        free(key);
        if (rc != 1) return rc;
        if (k < 3) seen[k] = 1;
        if (k == 0) {
            char *dt;
            if (*ps->p != '"') return st_fail(ps, ST_FORMAT, "tensor '%s': dtype must be a string", name);
            if ((rc = st_string(ps, &dt))) return rc;
            e->dtype = 0;
            while (e->dtype < (int)(sizeof st_dtypes / sizeof st_dtypes[0]) && strcmp(dt, st_dtypes[e->dtype].name)) e->dtype++;
            if (e->dtype == (int)(sizeof st_dtypes / sizeof st_dtypes[0])) rc = st_fail(ps, ST_FORMAT, "tensor '%s': unknown dtype '%s'", name, dt);
            else if (e->dtype >= ST_NREAD) rc = st_fail(ps, ST_FORMAT, "tensor '%s': dtype %s not supported (F32, F64, I32, I64 are)", name, dt);
            free(dt);
            if (rc) return rc;
        } else if (k == 1 || k == 2) {
            int kind[ST_MAX_RANK];
            uint64_t u[ST_MAX_RANK];
            int64_t neg[ST_MAX_RANK];
            if (*ps->p != '[') {
                const char *what;
                st_value(ps, 0, &what);
                n = -1;
            } else {
                st_ints(ps, ST_MAX_RANK, &n, kind, u, neg);
            }
            if (k == 1) {
                if (n < 0) return st_fail(ps, ST_FORMAT, "tensor '%s': shape must be an array", name);
                if (n > ST_MAX_RANK) return st_fail(ps, ST_FORMAT, "tensor '%s': rank %d exceeds the maximum of %d", name, n, ST_MAX_RANK);
                e->rank = n;
                for (int i = 0; i < n; i++) {
                    if (kind[i] == 2) return st_fail(ps, ST_FORMAT, "tensor '%s': negative dimension %lld in shape", name, (long long)neg[i]);
                    if (kind[i] != 1) return st_fail(ps, ST_FORMAT, "tensor '%s': shape dimension %d is not a non-negative integer", name, i);
                    e->shape[i] = (int64_t)u[i];
                }
            } else {
                if (n != 2 || kind[0] != 1 || kind[1] != 1) return st_fail(ps, ST_FORMAT, "tensor '%s': data_offsets must be two non-negative integers", name);
                e->begin = u[0];
                e->end = u[1];
            }
        } else {
            const char *what;
            st_value(ps, 0, &what); /* another key: allowed, ignored */
        }
    }
    if (rc) return -rc;
    for (int k = 0; k < 3; k++)
        if (!seen[k]) return st_fail(ps, ST_FORMAT, "tensor '%s': missing '%s'", name, keys[k]);
    uint64_t bytes = st_dtypes[e->dtype].size;
    for (int i = 0; i < e->rank; i++) {
        if (e->shape[i] && bytes > UINT64_MAX / (uint64_t)e->shape[i]) return st_fail(ps, ST_FORMAT, "tensor '%s': shape size overflows", name);
        bytes *= (uint64_t)e->shape[i];
    }
    if (e->begin > e->end)
        return st_fail(ps, ST_FORMAT, "tensor '%s': data_offsets begin %llu > end %llu", name, (unsigned long long)e->begin, (unsigned long long)e->end);
    if (e->end > data_len)
        return st_fail(ps, ST_FORMAT, "tensor '%s': data_offsets [%llu, %llu] out of range (data region has %llu bytes)", name,
                       (unsigned long long)e->begin, (unsigned long long)e->end, (unsigned long long)data_len);
    if (e->end - e->begin != bytes)
        return st_fail(ps, ST_FORMAT, "tensor '%s': size mismatch: shape needs %llu bytes of %s, data_offsets span %llu", name,
                       (unsigned long long)bytes, st_dtypes[e->dtype].name, (unsigned long long)(e->end - e->begin));
    return 0;
}

/* "[192, 32]" */
static const char *st_shape(int rank, const int64_t *dims, char *buf, size_t n)
{
    size_t len = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && len < n; i++) len += (size_t)snprintf(buf + len, n - len, "%s%lld", i ? ", " : "", (long long)dims[i]);
    if (len < n) snprintf(buf + len, n - len, "]");
    return buf;
}

static int st_by_offset(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    return x->begin != y->begin ? (x->begin < y->begin ? -1 : 1) : x->end != y->end ? (x->end < y->end ? -1 : 1) : 0;
}

static int st_by_name(const void *a, const void *b)
{
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

/* Every entry of the header (after the top-level object is known to be
 * valid JSON); __metadata__ is checked, not kept. */
static int st_entries(st_parser *ps, uint64_t data_len, st_entry **out, int *count)
{
    int n = 0, cap = 0, rc, meta = 0;
    st_entry *es = NULL;
    char *key;
    *out = NULL;
    *count = 0;
    st_ws(ps);
    while ((rc = st_next_key(ps, &key)) == 1) {
        if (!strcmp(key, "__metadata__")) {
            free(key);
            if (meta++) { rc = st_fail(ps, ST_FORMAT, "duplicate key '__metadata__' in header"); break; }
            if (*ps->p != '{') { rc = st_fail(ps, ST_FORMAT, "__metadata__ must be an object, not %s", st_kind(ps)); break; }
            while ((rc = st_next_key(ps, &key)) == 1) {
                if (*ps->p != '"') rc = st_fail(ps, ST_FORMAT, "__metadata__ value of '%s' must be a string, not %s", key, st_kind(ps));
                else rc = st_string(ps, NULL);
                free(key);
                if (rc) break;
            }
            if (rc) { rc = rc < 0 ? -rc : rc; break; }
            continue;
        }
        if (n == cap) {
            st_entry *grown = realloc(es, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *es);
            if (!grown) { free(key); rc = st_fail(ps, ST_NOMEM, "out of memory"); break; }
            es = grown;
        }
        memset(&es[n], 0, sizeof es[n]);
        es[n].name = key;
        n++;
        if ((rc = st_entry_parse(ps, &es[n - 1], data_len))) break;
    }
    if (rc < 0) rc = -rc;
    if (!rc && n > 1) {
        qsort(es, (size_t)n, sizeof *es, st_by_name);
        for (int i = 1; i < n && !rc; i++)
            if (!strcmp(es[i - 1].name, es[i].name)) rc = st_fail(ps, ST_FORMAT, "duplicate key '%s' in header", es[i].name);
    }
    if (!rc && n > 0) {
        /* Sorted by offsets, the tensors must tile the data region. */
        uint64_t at = 0;
        const char *prev = "";
        qsort(es, (size_t)n, sizeof *es, st_by_offset);
        for (int i = 0; i < n && !rc; i++) {
            if (es[i].begin < at) rc = st_fail(ps, ST_FORMAT, "tensors '%s' and '%s' overlap", prev, es[i].name);
            else if (es[i].begin > at)
                rc = st_fail(ps, ST_FORMAT, "hole in data region: bytes %llu..%llu belong to no tensor", (unsigned long long)at, (unsigned long long)es[i].begin);
            at = es[i].end;
            if (es[i].end > es[i].begin) prev = es[i].name;
        }
        if (!rc && at != data_len)
            rc = st_fail(ps, ST_FORMAT, "trailing data: tensors cover %llu bytes of a %llu-byte data region", (unsigned long long)at, (unsigned long long)data_len);
    } else if (!rc && data_len) {
        rc = st_fail(ps, ST_FORMAT, "trailing data: tensors cover 0 bytes of a %llu-byte data region", (unsigned long long)data_len);
    }
    if (rc) {
        for (int i = 0; i < n; i++) free(es[i].name);
        free(es);
        return rc;
    }
    *out = es;
    *count = n;
    return 0;
}

/* Reads every tensor of want[] (F32, the shape given) from the file at
 * path.  Nothing is written into want[].data unless the whole header is
 * right and every wanted tensor is there with its shape; a read error
 * after that returns ST_IO with *partial set: the data is partly written. */
static int st_load(const char *path, const st_want *want, int nwant, int *partial, char *err, size_t errlen)
{
    st_parser ps = {NULL, NULL, NULL, err, errlen, path};
    const unsigned short one = 1;
    *partial = 0;
    if (*(const unsigned char *)&one != 1) return st_fail(&ps, ST_FORMAT, "big-endian hosts are not supported");
    FILE *f = fopen(path, "rb");
    if (!f) return st_fail(&ps, ST_IO, "cannot open: %s", strerror(errno));
    char *head = NULL;
    st_entry *es = NULL;
    int n = 0, rc = 0;
    unsigned char len8[8];
    long size = fseek(f, 0, SEEK_END) ? -1 : ftell(f);
    uint64_t hlen = 0;
    if (size < 0 || fseek(f, 0, SEEK_SET)) rc = st_fail(&ps, ST_IO, "cannot read: %s", strerror(errno));
    else if (size == 0) rc = st_fail(&ps, ST_FORMAT, "empty file");
    else if (size < 8) rc = st_fail(&ps, ST_FORMAT, "truncated: %ld bytes is too short for the header length", size);
    else if (fread(len8, 1, 8, f) != 8) rc = st_fail(&ps, ST_IO, "cannot read the header length");
    if (!rc) {
        for (int i = 7; i >= 0; i--) hlen = hlen << 8 | len8[i];
        if (hlen > (uint64_t)size - 8) rc = st_fail(&ps, ST_FORMAT, "header length %llu exceeds file size %ld", (unsigned long long)hlen, size);
        else if (hlen > ST_MAX_HEADER) rc = st_fail(&ps, ST_FORMAT, "header length %llu is over the limit of 100 MB", (unsigned long long)hlen);
        else if (!(head = malloc((size_t)hlen + 1))) rc = st_fail(&ps, ST_NOMEM, "out of memory");
        else if (fread(head, 1, (size_t)hlen, f) != (size_t)hlen) rc = st_fail(&ps, ST_IO, "cannot read the header");
    }
    if (!rc) {
        /* First the JSON as JSON, then its meaning. */
        const char *what = "?";
        ps.p = ps.start = head;
        ps.end = head + hlen;
        st_ws(&ps);
        rc = st_value(&ps, 0, &what);
        st_ws(&ps);
        if (!rc && ps.p < ps.end) rc = st_json_fail(&ps, "unexpected character after the JSON value");
        if (!rc && strcmp(what, "an object")) rc = st_fail(&ps, ST_FORMAT, "header must be a JSON object, not %s", what);
        ps.p = head;
        if (!rc) rc = st_entries(&ps, (uint64_t)size - 8 - hlen, &es, &n);
    }
    /* Every wanted tensor there, F32, with its shape. */
    for (int w = 0; w < nwant && !rc; w++) {
        const st_entry *e = NULL;
        for (int i = 0; i < n && !e; i++)
            if (!strcmp(es[i].name, want[w].name)) e = &es[i];
        int same = e && e->rank == want[w].rank;
        for (int d = 0; same && d < e->rank; d++) same = e->shape[d] == want[w].dims[d];
        if (!e) rc = st_fail(&ps, ST_WEIGHTS, "missing parameter '%s'", want[w].name);
        else if (e->dtype != 0) rc = st_fail(&ps, ST_WEIGHTS, "parameter '%s' has dtype %s, the model reads F32", want[w].name, st_dtypes[e->dtype].name);
        else if (!same) {
            char got[200], need[200];
            rc = st_fail(&ps, ST_WEIGHTS, "parameter '%s' has shape %s, the model needs %s", want[w].name,
                         st_shape(e->rank, e->shape, got, sizeof got), st_shape(want[w].rank, want[w].dims, need, sizeof need));
        }
    }
    for (int w = 0; w < nwant && !rc; w++) {
        const st_entry *e = NULL;
        for (int i = 0; i < n && !e; i++)
            if (!strcmp(es[i].name, want[w].name)) e = &es[i];
        size_t bytes = (size_t)(e->end - e->begin);
        *partial = 1;
        if (fseek(f, (long)(8 + hlen + e->begin), SEEK_SET) || fread(want[w].data, 1, bytes, f) != bytes)
            rc = st_fail(&ps, ST_IO, "cannot read tensor '%s'", want[w].name);
    }
    for (int i = 0; i < n; i++) free(es[i].name);
    free(es);
    free(head);
    fclose(f);
    return rc;
}

/* Writes data[i] as tensor have[i] (its name and shape) of an F32
 * safetensors file: to path.tmp, then renamed. */
static int st_save(const char *path, const st_want *have, const float *const *data, int n, char *err, size_t errlen)
{
    st_parser ps = {NULL, NULL, NULL, err, errlen, path};
    size_t hcap = 64, hlen = 0, tlen = strlen(path) + 5;
    uint64_t at = 0;
    for (int i = 0; i < n; i++) hcap += 6 * strlen(have[i].name) + 128 + 24 * (size_t)have[i].rank;
    char *h = malloc(hcap), *tmp = malloc(tlen);
    if (!h || !tmp) { free(h); free(tmp); return st_fail(&ps, ST_NOMEM, "out of memory"); }
    snprintf(tmp, tlen, "%s.tmp", path);
    h[hlen++] = '{';
    for (int i = 0; i < n; i++) {
        uint64_t bytes = 4;
        for (int d = 0; d < have[i].rank; d++) bytes *= (uint64_t)have[i].dims[d];
        hlen += (size_t)sprintf(h + hlen, "%s\"", i ? "," : "");
        for (const unsigned char *c = (const unsigned char *)have[i].name; *c; c++)
            hlen += (size_t)(*c < 0x20 ? sprintf(h + hlen, "\\u%04x", *c) : *c == '"' || *c == '\\' ? sprintf(h + hlen, "\\%c", *c) : sprintf(h + hlen, "%c", *c));
        hlen += (size_t)sprintf(h + hlen, "\":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < have[i].rank; d++) hlen += (size_t)sprintf(h + hlen, "%s%lld", d ? "," : "", (long long)have[i].dims[d]);
        hlen += (size_t)sprintf(h + hlen, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)at, (unsigned long long)(at + bytes));
        at += bytes;
    }
    h[hlen++] = '}';
    while (hlen % 8) h[hlen++] = ' ';
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> 8 * i);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(len8, 1, 8, f) == 8 && fwrite(h, 1, hlen, f) == hlen;
    for (int i = 0; ok && i < n; i++) {
        size_t numel = 1;
        for (int d = 0; d < have[i].rank; d++) numel *= (size_t)have[i].dims[d];
        ok = fwrite(data[i], sizeof(float), numel, f) == numel;
    }
    if (f && fclose(f)) ok = 0;
    int rc = ok && !rename(tmp, path) ? 0 : st_fail(&ps, ST_IO, "cannot write: %s", strerror(errno));
    if (rc) remove(tmp);
    free(h);
    free(tmp);
    return rc;
}
