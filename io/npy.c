/* npy.c - read and write numpy .npy files (format versions 1.0, 2.0, 3.0).
 *
 * Layout: "\x93NUMPY", major, minor, a little-endian header length (2 bytes
 * in 1.0, 4 in 2.0/3.0), then a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 * padded with spaces and a newline, then the raw C-order data.
 *
 * The header is parsed by a tiny strict parser of exactly that literal
 * subset (no eval), and the data size implied by the shape must match the
 * rest of the file exactly.  The writer produces byte-for-byte what numpy
 * 1.24's np.save writes for the same array. */
#include "io/tensor.h"
#include "io/tensor_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char NPY_MAGIC[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

/* ---- header parsing --------------------------------------------------- */

typedef struct {
    const char *p, *end;
    const char *path;
    char *err;
    size_t errlen;
} HeaderParser;

static void skip_ws(HeaderParser *hp)
{
    while (hp->p < hp->end && (*hp->p == ' ' || *hp->p == '\t' || *hp->p == '\n' || *hp->p == '\r')) hp->p++;
}

static int expect_char(HeaderParser *hp, char c, const char *context)
{
    skip_ws(hp);
    if (hp->p >= hp->end || *hp->p != c) {
        rt_errf(hp->err, hp->errlen, hp->path, "bad header: expected '%c' %s", c, context);
        return -1;
    }
    hp->p++;
    return 0;
}

/* A quoted Python string without escapes, copied into out (NUL-terminated). */
static int parse_string(HeaderParser *hp, char *out, size_t outlen, const char *what)
{
    skip_ws(hp);
    if (hp->p >= hp->end || (*hp->p != '\'' && *hp->p != '"')) {
        rt_errf(hp->err, hp->errlen, hp->path, "bad header: expected a quoted string for %s", what);
        return -1;
    }
    char q = *hp->p++;
    size_t n = 0;
    while (hp->p < hp->end && *hp->p != q) {
        char c = *hp->p;
        if (c == '\\' || c == '\n' || (unsigned char)c < 0x20) {
            rt_errf(hp->err, hp->errlen, hp->path, "bad header: unsupported character in %s", what);
            return -1;
        }
        if (n + 1 >= outlen) {
            rt_errf(hp->err, hp->errlen, hp->path, "bad header: %s too long", what);
            return -1;
        }
        out[n++] = c;
        hp->p++;
    }
    if (hp->p >= hp->end) {
        rt_errf(hp->err, hp->errlen, hp->path, "bad header: unterminated string in %s", what);
        return -1;
    }
    hp->p++;
    out[n] = '\0';
    return 0;
}

static int parse_bool(HeaderParser *hp, int *out)
{
    skip_ws(hp);
    size_t left = (size_t)(hp->end - hp->p);
    if (left >= 4 && memcmp(hp->p, "True", 4) == 0) {
        *out = 1;
        hp->p += 4;
        return 0;
    }
    if (left >= 5 && memcmp(hp->p, "False", 5) == 0) {
        *out = 0;
        hp->p += 5;
        return 0;
    }
    rt_errf(hp->err, hp->errlen, hp->path, "bad header: fortran_order must be True or False");
    return -1;
}

/* "(2, 3)", "(5,)" or "()": a Python tuple of non-negative ints. */
static int parse_shape(HeaderParser *hp, int *rank, int64_t *shape)
{
    if (expect_char(hp, '(', "to start the shape tuple") != 0) return -1;
    int n = 0, trailing_comma = 0;
    for (;;) {
        skip_ws(hp);
        if (hp->p < hp->end && *hp->p == ')') {
            hp->p++;
            break;
        }
        if (hp->p < hp->end && *hp->p == '-') {
            rt_errf(hp->err, hp->errlen, hp->path, "bad shape: negative dimension");
            return -1;
        }
        if (hp->p >= hp->end || *hp->p < '0' || *hp->p > '9') {
            rt_errf(hp->err, hp->errlen, hp->path, "bad shape: expected a dimension or ')'");
            return -1;
        }
        int64_t v = 0;
        while (hp->p < hp->end && *hp->p >= '0' && *hp->p <= '9') {
            int d = *hp->p - '0';
            if (v > (INT64_MAX - d) / 10) {
                rt_errf(hp->err, hp->errlen, hp->path, "bad shape: dimension too large");
                return -1;
            }
            v = v * 10 + d;
            hp->p++;
        }
        if (hp->p < hp->end && *hp->p == 'L') /* Python 2 long literal */
            hp->p++;
        if (n == RT_MAX_RANK) {
            rt_errf(hp->err, hp->errlen, hp->path, "bad shape: rank exceeds the maximum of %d", RT_MAX_RANK);
            return -1;
        }
        shape[n++] = v;
        skip_ws(hp);
        trailing_comma = 0;
        if (hp->p < hp->end && *hp->p == ',') {
            hp->p++;
            trailing_comma = 1;
            continue;
        }
        if (hp->p < hp->end && *hp->p == ')') {
            hp->p++;
            break;
        }
        rt_errf(hp->err, hp->errlen, hp->path, "bad shape: expected ',' or ')'");
        return -1;
    }
    /* "(3)" is the int 3 in Python, not a tuple. */
    if (n == 1 && !trailing_comma) {
        rt_errf(hp->err, hp->errlen, hp->path, "bad shape: '(%lld)' is not a tuple", (long long)shape[0]);
        return -1;
    }
    *rank = n;
    return 0;
}

static int parse_descr(HeaderParser *hp, const char *descr, RtDType *dt)
{
    /* '<' little-endian; '=' native and '|' not-applicable both mean the
     * host order, which is little-endian (checked by the caller). */
    static const struct {
        const char *code;
        RtDType dt;
    } known[] = {
        {"f4", RT_F32},
        {"f8", RT_F64},
        {"i4", RT_I32},
        {"i8", RT_I64},
    };
    char order = descr[0];
    if (order == '<' || order == '=' || order == '|') {
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
            if (strcmp(descr + 1, known[i].code) == 0) {
                *dt = known[i].dt;
                return 0;
            }
    }
    if (order == '>')
        rt_errf(hp->err, hp->errlen, hp->path, "unsupported dtype '%s' (big-endian data)", descr);
    else
        rt_errf(hp->err, hp->errlen, hp->path, "unsupported dtype '%s' (supported: '<f4', '<f8', '<i4', '<i8')", descr);
    return -1;
}

typedef struct {
    RtDType dtype;
    int rank;
    int64_t shape[RT_MAX_RANK];
} NpyHeader;

static int parse_header(HeaderParser *hp, NpyHeader *h)
{
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    if (expect_char(hp, '{', "at the start of the header dict") != 0) return -1;
    for (;;) {
        skip_ws(hp);
        if (hp->p < hp->end && *hp->p == '}') {
            hp->p++;
            break;
        }
        char key[32];
        if (parse_string(hp, key, sizeof key, "a key") != 0) return -1;
        if (expect_char(hp, ':', "after a key") != 0) return -1;
        if (strcmp(key, "descr") == 0) {
            char descr[32];
            if (have_descr++) {
                rt_errf(hp->err, hp->errlen, hp->path, "bad header: duplicate key 'descr'");
                return -1;
            }
            skip_ws(hp);
            if (hp->p < hp->end && *hp->p == '[') {
                rt_errf(hp->err, hp->errlen, hp->path, "unsupported dtype (structured arrays are not supported)");
                return -1;
            }
            if (parse_string(hp, descr, sizeof descr, "descr") != 0 || parse_descr(hp, descr, &h->dtype) != 0)
                return -1;
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_fortran++) {
                rt_errf(hp->err, hp->errlen, hp->path, "bad header: duplicate key 'fortran_order'");
                return -1;
            }
            if (parse_bool(hp, &fortran) != 0) return -1;
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape++) {
                rt_errf(hp->err, hp->errlen, hp->path, "bad header: duplicate key 'shape'");
                return -1;
            }
            if (parse_shape(hp, &h->rank, h->shape) != 0) return -1;
        } else {
            rt_errf(hp->err, hp->errlen, hp->path, "bad header: unexpected key '%s'", key);
            return -1;
        }
        skip_ws(hp);
        if (hp->p < hp->end && *hp->p == ',') {
            hp->p++;
            continue;
        }
        if (hp->p < hp->end && *hp->p == '}') {
            hp->p++;
            break;
        }
        rt_errf(hp->err, hp->errlen, hp->path, "bad header: expected ',' or '}' in the header dict");
        return -1;
    }
    skip_ws(hp);
    if (hp->p != hp->end) {
        rt_errf(hp->err, hp->errlen, hp->path, "bad header: unexpected text after the header dict");
        return -1;
    }
    if (!have_descr || !have_fortran || !have_shape) {
        rt_errf(hp->err, hp->errlen, hp->path, "bad header: missing key '%s'",
                !have_descr     ? "descr"
                : !have_fortran ? "fortran_order"
                                : "shape");
        return -1;
    }
    if (fortran) {
        rt_errf(hp->err, hp->errlen, hp->path, "Fortran order not supported");
        return -1;
    }
    return 0;
}

/* ---- reader ----------------------------------------------------------- */

int rt_npy_read(const char *path, Tensor *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf;
    size_t len;
    if (rt_read_tensor_file(path, &buf, &len, err, errlen) != 0) return -1;
    int rc = -1;
    if (len < 8 || memcmp(buf, NPY_MAGIC, sizeof NPY_MAGIC) != 0) {
        rt_errf(err, errlen, path, "not a .npy file (bad magic)");
        goto done;
    }
    int major = buf[6], minor = buf[7];
    if ((major != 1 && major != 2 && major != 3) || minor != 0) {
        rt_errf(err, errlen, path, "unsupported .npy format version %d.%d", major, minor);
        goto done;
    }
    size_t prefix = major == 1 ? 10 : 12;
    if (len < prefix) {
        rt_errf(err, errlen, path, "truncated header: file has only %zu bytes", len);
        goto done;
    }
    uint64_t hlen = major == 1
                        ? (uint64_t)buf[8] | (uint64_t)buf[9] << 8
                        : (uint64_t)buf[8] | (uint64_t)buf[9] << 8 | (uint64_t)buf[10] << 16 | (uint64_t)buf[11] << 24;
    if (hlen > len - prefix) {
        rt_errf(err, errlen, path, "truncated header: header length %llu exceeds file size %zu",
                (unsigned long long)hlen, len);
        goto done;
    }
    HeaderParser hp = {(const char *)buf + prefix, (const char *)buf + prefix + hlen, path, err, errlen};
    NpyHeader h;
    memset(&h, 0, sizeof h);
    if (parse_header(&hp, &h) != 0) goto done;

    uint64_t want;
    if (rt_shape_bytes(h.dtype, h.rank, h.shape, &want) != 0) {
        rt_errf(err, errlen, path, "bad shape: size overflows");
        goto done;
    }
    size_t have = len - prefix - (size_t)hlen;
    if (want != have) {
        rt_errf(err, errlen, path, "%s data: expected %llu bytes, found %zu", have < want ? "truncated" : "trailing",
                (unsigned long long)want, have);
        goto done;
    }
    if (rt_tensor_alloc(out, h.dtype, h.rank, h.shape) != 0) {
        rt_errf(err, errlen, path, "out of memory for %llu bytes", (unsigned long long)want);
        goto done;
    }
    if (want) memcpy(out->data, buf + prefix + hlen, (size_t)want);
    rc = 0;
done:
    free(buf);
    return rc;
}

/* ---- writer ----------------------------------------------------------- */

int rt_npy_write(const char *path, const Tensor *t, char *err, size_t errlen)
{
    static const char *descrs[] = {[RT_F32] = "<f4", [RT_F64] = "<f8", [RT_I32] = "<i4", [RT_I64] = "<i8"};
    uint64_t bytes;
    if (!rt_host_is_little_endian()) {
        rt_errf(err, errlen, path, "big-endian hosts are not supported");
        return -1;
    }
    if ((unsigned)t->dtype > RT_I64 || rt_shape_bytes(t->dtype, t->rank, t->shape, &bytes) != 0 || bytes > SIZE_MAX) {
        rt_errf(err, errlen, path, "cannot write: invalid tensor dtype or shape");
        return -1;
    }

    /* Same text as numpy: keys sorted, repr() of the shape tuple, then the
     * spare spaces numpy leaves for growing the first axis in place. */
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (", descrs[t->dtype]);
    for (int i = 0; i < t->rank; i++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    n += snprintf(dict + n, sizeof dict - (size_t)n, "%s), }", t->rank == 1 ? "," : "");
    if (t->rank > 0) {
        char first[32];
        int digits = snprintf(first, sizeof first, "%lld", (long long)t->shape[0]);
        for (int i = digits; i < 21; i++) dict[n++] = ' ';
    }

    /* Pad with spaces and a final newline so the data starts on a 64-byte
     * boundary; numpy always adds between 1 and 64 spaces.  The dict is at
     * most a few hundred bytes (rank <= 8), so format 1.0 always fits. */
    size_t hlen = (size_t)n + 1;
    size_t prefix = 10;
    size_t pad = 64 - (prefix + hlen) % 64;
    size_t total_hlen = hlen + pad;
    unsigned char head[512 + 128];
    memcpy(head, NPY_MAGIC, 6);
    head[6] = 1;
    head[7] = 0;
    head[8] = (unsigned char)(total_hlen & 0xff);
    head[9] = (unsigned char)(total_hlen >> 8 & 0xff);
    memcpy(head + prefix, dict, (size_t)n);
    memset(head + prefix + n, ' ', pad);
    head[prefix + total_hlen - 1] = '\n';

    const void *parts[2] = {head, t->data};
    size_t sizes[2] = {prefix + total_hlen, (size_t)bytes};
    return rt_write_file_atomic(path, parts, sizes, 2, err, errlen);
}
