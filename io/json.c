/* json.c - a small strict JSON reader (see json.h).
 *
 * Recursive descent over a length-bounded buffer: every read checks the
 * position against the end first, so a truncated or hostile text can only
 * produce an error, never an out-of-bounds read. */
#include "io/json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *start, *p, *end;
    char *err;
    size_t errlen;
    int failed;
    char desc[16]; /* scratch for describe(): no static buffer, reentrant */
} Parser;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static int fail(Parser *ps, const char *fmt, ...) {
    if (ps->failed)
        return -1;
    ps->failed = 1;
    if (ps->err && ps->errlen) {
        int n = snprintf(ps->err, ps->errlen, "at byte %zu: ", (size_t)(ps->p - ps->start));
        if (n >= 0 && (size_t)n < ps->errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static void skip_ws(Parser *ps) {
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int peek(Parser *ps) {
    return ps->p < ps->end ? (unsigned char)*ps->p : -1;
}

static const char *describe(Parser *ps, int c) {
    if (c < 0)
        return "end of text";
    if (c >= 0x20 && c < 0x7f)
        snprintf(ps->desc, sizeof ps->desc, "'%c'", c);
    else
        snprintf(ps->desc, sizeof ps->desc, "byte 0x%02x", (unsigned)c);
    return ps->desc;
}

static int parse_value(Parser *ps, JsonValue *v, int depth);

/* ---- strings ---------------------------------------------------------- */

typedef struct {
    char *s;
    size_t n, cap;
} Buf;

static int buf_put(Buf *b, char c) {
    if (b->n + 1 >= b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        char *s = realloc(b->s, cap);
        if (!s)
            return -1;
        b->s = s;
        b->cap = cap;
    }
    b->s[b->n++] = c;
    b->s[b->n] = '\0';
    return 0;
}

static int hex4(Parser *ps, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = peek(ps);
        int d = c >= '0' && c <= '9' ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return fail(ps, "bad \\u escape: expected a hex digit, found %s", describe(ps, c));
        v = v << 4 | (unsigned)d;
        ps->p++;
    }
    *out = v;
    return 0;
}

static int put_utf8(Buf *b, unsigned cp) {
    int rc = 0;
    if (cp < 0x80) {
        rc |= buf_put(b, (char)cp);
    } else if (cp < 0x800) {
        rc |= buf_put(b, (char)(0xc0 | cp >> 6));
        rc |= buf_put(b, (char)(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
        rc |= buf_put(b, (char)(0xe0 | cp >> 12));
        rc |= buf_put(b, (char)(0x80 | (cp >> 6 & 0x3f)));
        rc |= buf_put(b, (char)(0x80 | (cp & 0x3f)));
    } else {
        rc |= buf_put(b, (char)(0xf0 | cp >> 18));
        rc |= buf_put(b, (char)(0x80 | (cp >> 12 & 0x3f)));
        rc |= buf_put(b, (char)(0x80 | (cp >> 6 & 0x3f)));
        rc |= buf_put(b, (char)(0x80 | (cp & 0x3f)));
    }
    return rc;
}

/* Length of the valid UTF-8 sequence starting at p (1..4), or 0. */
static int utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned c = p[0];
    int n;
    unsigned min, cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0) { n = 2; cp = c & 0x1f; min = 0x80; }
    else if ((c & 0xf0) == 0xe0) { n = 3; cp = c & 0x0f; min = 0x800; }
    else if ((c & 0xf8) == 0xf0) { n = 4; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (end - p < n)
        return 0;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0; /* overlong, out of range, or a surrogate */
    return n;
}

static int parse_string(Parser *ps, char **out) {
    Buf b = {0};
    ps->p++; /* opening quote */
    if (buf_put(&b, '\0') != 0) /* make b.s non-NULL even for "" */
        return fail(ps, "out of memory");
    b.n = 0;
    for (;;) {
        int c = peek(ps);
        if (c < 0) {
            free(b.s);
            return fail(ps, "unterminated string");
        }
        if (c == '"') {
            ps->p++;
            break;
        }
        if (c < 0x20) {
            free(b.s);
            return fail(ps, "control character %s in string", describe(ps, c));
        }
        if (c == '\\') {
            ps->p++;
            int e = peek(ps);
            char lit = 0;
            switch (e) {
            case '"': lit = '"'; break;
            case '\\': lit = '\\'; break;
            case '/': lit = '/'; break;
            case 'b': lit = '\b'; break;
            case 'f': lit = '\f'; break;
            case 'n': lit = '\n'; break;
            case 'r': lit = '\r'; break;
            case 't': lit = '\t'; break;
            case 'u': {
                ps->p++;
                unsigned cp, lo;
                if (hex4(ps, &cp) != 0) {
                    free(b.s);
                    return -1;
                }
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    free(b.s);
                    return fail(ps, "lone low surrogate in \\u escape");
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u') {
                        free(b.s);
                        return fail(ps, "high surrogate not followed by a low one");
                    }
                    ps->p += 2;
                    if (hex4(ps, &lo) != 0) {
                        free(b.s);
                        return -1;
                    }
                    if (lo < 0xdc00 || lo > 0xdfff) {
                        free(b.s);
                        return fail(ps, "high surrogate not followed by a low one");
                    }
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (cp == 0) {
                    free(b.s);
                    return fail(ps, "\\u0000 in strings is not supported");
                }
                if (put_utf8(&b, cp) != 0) {
                    free(b.s);
                    return fail(ps, "out of memory");
                }
                continue;
            }
            default:
                free(b.s);
                return fail(ps, "bad escape %s", e < 0 ? "at end" : describe(ps, e));
            }
            ps->p++;
            if (buf_put(&b, lit) != 0) {
                free(b.s);
                return fail(ps, "out of memory");
            }
            continue;
        }
        int n = utf8_len((const unsigned char *)ps->p, (const unsigned char *)ps->end);
        if (n == 0) {
            free(b.s);
            return fail(ps, "invalid UTF-8 in string");
        }
        for (int i = 0; i < n; i++)
            if (buf_put(&b, ps->p[i]) != 0) {
                free(b.s);
                return fail(ps, "out of memory");
            }
        ps->p += n;
    }
    *out = b.s;
    return 0;
}

/* ---- numbers ---------------------------------------------------------- */

static int is_digit(int c) {
    return c >= '0' && c <= '9';
}

static int parse_number(Parser *ps, JsonValue *v) {
    const char *begin = ps->p;
    int is_int = 1;
    if (peek(ps) == '-')
        ps->p++;
    if (peek(ps) == '0') {
        ps->p++;
        if (is_digit(peek(ps)))
            return fail(ps, "leading zero in number");
    } else if (is_digit(peek(ps))) {
        while (is_digit(peek(ps)))
            ps->p++;
    } else {
        return fail(ps, "expected a digit, found %s", describe(ps, peek(ps)));
    }
    if (peek(ps) == '.') {
        is_int = 0;
        ps->p++;
        if (!is_digit(peek(ps)))
            return fail(ps, "expected a digit after '.', found %s", describe(ps, peek(ps)));
        while (is_digit(peek(ps)))
            ps->p++;
    }
    if (peek(ps) == 'e' || peek(ps) == 'E') {
        is_int = 0;
        ps->p++;
        if (peek(ps) == '+' || peek(ps) == '-')
            ps->p++;
        if (!is_digit(peek(ps)))
            return fail(ps, "expected a digit in the exponent, found %s", describe(ps, peek(ps)));
        while (is_digit(peek(ps)))
            ps->p++;
    }
    /* strtod/strtoll need a NUL-terminated copy: the buffer is not one. */
    size_t n = (size_t)(ps->p - begin);
    char tmp[64];
    if (n >= sizeof tmp) {
        if (is_int)
            return fail(ps, "integer too large");
        return fail(ps, "number too long");
    }
    memcpy(tmp, begin, n);
    tmp[n] = '\0';
    v->kind = JSON_NUMBER;
    v->number = strtod(tmp, NULL);
    if (is_int) {
        errno = 0;
        long long ll = strtoll(tmp, NULL, 10);
        v->is_int = errno != ERANGE;
        v->integer = v->is_int ? (int64_t)ll : 0;
    }
    return 0;
}

/* ---- arrays and objects ----------------------------------------------- */

static int grow(JsonValue *v, int *cap, int with_keys) {
    if (v->count < *cap)
        return 0;
    int ncap = *cap ? *cap * 2 : 4;
    JsonValue *items = realloc(v->items, (size_t)ncap * sizeof *items);
    if (!items)
        return -1;
    v->items = items;
    if (with_keys) {
        char **keys = realloc(v->keys, (size_t)ncap * sizeof *keys);
        if (!keys)
            return -1;
        v->keys = keys;
    }
    *cap = ncap;
    return 0;
}

/* Steps over an array's or object's opening bracket; 1 if the closing one
 * follows at once (nothing inside), else 0. */
static int open_empty(Parser *ps, int close) {
    ps->p++;
    skip_ws(ps);
    if (peek(ps) == close) {
        ps->p++;
        return 1;
    }
    return 0;
}

/* A new, zeroed last item of v (and a NULL key in an object), or NULL
 * with an error.  It is counted before it is parsed so that json_free
 * sees partial items. */
static JsonValue *add_item(Parser *ps, JsonValue *v, int *cap, int with_keys) {
    if (grow(v, cap, with_keys) != 0) {
        fail(ps, "out of memory");
        return NULL;
    }
    JsonValue *item = &v->items[v->count];
    memset(item, 0, sizeof *item);
    if (with_keys)
        v->keys[v->count] = NULL;
    v->count++;
    return item;
}

/* After an item: 1 on ',' (another item follows), 0 on the closing
 * bracket, -1 with an error on anything else. */
static int after_item(Parser *ps, int close, const char *what) {
    skip_ws(ps);
    int c = peek(ps);
    if (c == ',') {
        ps->p++;
        return 1;
    }
    if (c == close) {
        ps->p++;
        return 0;
    }
    return fail(ps, "expected ',' or '%c' in %s, found %s", close, what, describe(ps, c));
}

static int parse_array(Parser *ps, JsonValue *v, int depth) {
    int cap = 0, more;
    v->kind = JSON_ARRAY;
    if (open_empty(ps, ']'))
        return 0;
    do {
        JsonValue *item = add_item(ps, v, &cap, 0);
        if (!item || parse_value(ps, item, depth + 1) != 0)
            return -1;
    } while ((more = after_item(ps, ']', "array")) == 1);
    return more;
}

static int parse_object(Parser *ps, JsonValue *v, int depth) {
    int cap = 0, more;
    v->kind = JSON_OBJECT;
    if (open_empty(ps, '}'))
        return 0;
    do {
        skip_ws(ps);
        if (peek(ps) != '"')
            return fail(ps, "expected a string key, found %s", describe(ps, peek(ps)));
        JsonValue *item = add_item(ps, v, &cap, 1);
        if (!item || parse_string(ps, &v->keys[v->count - 1]) != 0)
            return -1;
        skip_ws(ps);
        if (peek(ps) != ':')
            return fail(ps, "expected ':' after key, found %s", describe(ps, peek(ps)));
        ps->p++;
        if (parse_value(ps, item, depth + 1) != 0)
            return -1;
    } while ((more = after_item(ps, '}', "object")) == 1);
    return more;
}

static int parse_literal(Parser *ps, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
        return fail(ps, "unexpected %s", describe(ps, peek(ps)));
    ps->p += n;
    return 0;
}

static int parse_value(Parser *ps, JsonValue *v, int depth) {
    if (depth >= JSON_MAX_DEPTH) /* depth counts from 0 */
        return fail(ps, "nesting deeper than %d", JSON_MAX_DEPTH);
    skip_ws(ps);
    int c = peek(ps);
    switch (c) {
    case '{': return parse_object(ps, v, depth);
    case '[': return parse_array(ps, v, depth);
    case '"':
        v->kind = JSON_STRING;
        return parse_string(ps, &v->string);
    case 't':
        v->kind = JSON_BOOL;
        v->boolean = 1;
        return parse_literal(ps, "true");
    case 'f':
        v->kind = JSON_BOOL;
        return parse_literal(ps, "false");
    case 'n':
        v->kind = JSON_NULL;
        return parse_literal(ps, "null");
    default:
        if (c == '-' || is_digit(c))
            return parse_number(ps, v);
        return fail(ps, "unexpected %s", describe(ps, c));
    }
}

int json_parse(const char *text, size_t len, JsonValue *out, char *err, size_t errlen) {
    Parser ps = {text, text, text + len, err, errlen, 0, {0}};
    memset(out, 0, sizeof *out);
    if (parse_value(&ps, out, 0) != 0) {
        json_free(out);
        return -1;
    }
    skip_ws(&ps);
    if (ps.p != ps.end) {
        fail(&ps, "unexpected %s after the JSON value", describe(&ps, peek(&ps)));
        json_free(out);
        return -1;
    }
    return 0;
}

void json_free(JsonValue *v) {
    if (!v)
        return;
    for (int i = 0; i < v->count; i++) {
        json_free(&v->items[i]);
        if (v->keys)
            free(v->keys[i]);
    }
    free(v->items);
    free(v->keys);
    free(v->string);
    memset(v, 0, sizeof *v);
}

const JsonValue *json_get(const JsonValue *obj, const char *key) {
    if (!obj || obj->kind != JSON_OBJECT)
        return NULL;
    for (int i = 0; i < obj->count; i++)
        if (obj->keys[i] && strcmp(obj->keys[i], key) == 0)
            return &obj->items[i];
    return NULL;
}

const char *json_kind_name(JsonKind k) {
    switch (k) {
    case JSON_NULL: return "null";
    case JSON_BOOL: return "a boolean";
    case JSON_NUMBER: return "a number";
    case JSON_STRING: return "a string";
    case JSON_ARRAY: return "an array";
    case JSON_OBJECT: return "an object";
    }
    return "?";
}
