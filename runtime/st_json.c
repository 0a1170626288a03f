/* st_json.c - the strict JSON scanner of st_json.h.
 *
 * One recursive scanner serves both uses: checking (js->err set: the
 * first problem becomes the message) and walking text it checked (err
 * NULL: nothing can fail there but malloc).  Every read compares the
 * position with the end first, so hostile text gives an error, never a
 * read out of bounds, and the recursion is bounded by RT_JSON_MAX_DEPTH.
 * Static names start with js_: with the runtime inline, this text shares
 * one translation unit with the whole runtime and the model. */
#include "runtime/st_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
static int js_fail(rt_json *js, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
static int js_fail(rt_json *js, const char *fmt, ...)
{
    va_list ap;
    int n;
    if (!js->err || !js->errlen) return -1;
    n = snprintf(js->err, js->errlen, "at byte %zu: ", (size_t)(js->p - js->start));
    if (n >= 0 && (size_t)n < js->errlen) {
        va_start(ap, fmt);
        vsnprintf(js->err + n, js->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    js->err = NULL; /* the first problem is the one reported */
    return -1;
}

static int js_peek(const rt_json *js) { return js->p < js->end ? (unsigned char)*js->p : -1; }

static int js_digit(int c) { return c >= '0' && c <= '9'; }

static void js_ws(rt_json *js)
{
    while (js->p < js->end && (*js->p == ' ' || *js->p == '\t' || *js->p == '\n' || *js->p == '\r')) js->p++;
}

/* "'x'", "byte 0x01" or "end of text", for messages. */
static const char *js_describe(rt_json *js, int c)
{
    if (c < 0) return "end of text";
    if (c >= 0x20 && c < 0x7f)
        snprintf(js->desc, sizeof js->desc, "'%c'", c);
    else
        snprintf(js->desc, sizeof js->desc, "byte 0x%02x", (unsigned)c & 0xffu);
    return js->desc;
}

/* ---- strings -------------------------------------------------------------- */

static int js_hex4(rt_json *js, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        int c = js_peek(js);
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) return js_fail(js, "bad \\u escape: expected a hex digit, found %s", js_describe(js, c));
        v = v << 4 | (unsigned)d;
        js->p++;
    }
    *out = v;
    return 0;
}

/* The code point of the escape at js->p (a backslash); steps over it. */
static int js_escape(rt_json *js, unsigned *cp)
{
    static const char in[] = "\"\\/bfnrt", out[] = "\"\\/\b\f\n\r\t";
    int e;
    js->p++;
    e = js_peek(js);
    const char *lit = e > 0 ? strchr(in, e) : NULL;
    if (lit) {
        js->p++;
        *cp = (unsigned char)out[lit - in];
        return 0;
    }
    if (e != 'u') return js_fail(js, "bad escape %s", e < 0 ? "at end" : js_describe(js, e));
    js->p++;
    if (js_hex4(js, cp)) return -1;
    if (*cp >= 0xdc00 && *cp <= 0xdfff) return js_fail(js, "lone low surrogate in \\u escape");
    if (*cp >= 0xd800 && *cp <= 0xdbff) {
        unsigned lo;
        if (js->end - js->p < 2 || js->p[0] != '\\' || js->p[1] != 'u')
            return js_fail(js, "high surrogate not followed by a low one");
        js->p += 2;
        if (js_hex4(js, &lo)) return -1;
        if (lo < 0xdc00 || lo > 0xdfff) return js_fail(js, "high surrogate not followed by a low one");
        *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    /* The names are C strings: a NUL would cut one short. */
    if (*cp == 0) return js_fail(js, "\\u0000 in strings is not supported");
    return 0;
}

/* Code point cp as UTF-8 at w; returns the end. */
static char *js_put_utf8(char *w, unsigned cp)
{
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xc0 | cp >> 6);
        *w++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xe0 | cp >> 12);
        *w++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *w++ = (char)(0x80 | (cp & 0x3f));
    } else {
        *w++ = (char)(0xf0 | cp >> 18);
        *w++ = (char)(0x80 | (cp >> 12 & 0x3f));
        *w++ = (char)(0x80 | (cp >> 6 & 0x3f));
        *w++ = (char)(0x80 | (cp & 0x3f));
    }
    return w;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0: overlong forms,
 * surrogates and code points past U+10FFFF are not valid. */
static int js_utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0], min, cp;
    int n;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0) {
        n = 2;
        cp = c & 0x1f;
        min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        n = 3;
        cp = c & 0x0f;
        min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        n = 4;
        cp = c & 0x07;
        min = 0x10000;
    } else
        return 0;
    if (end - p < n) return 0;
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    return cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ? 0 : n;
}

/* The string at js->p (its quote); decoded to out unless out is NULL,
 * *len bytes, no NUL added. */
static int js_string(rt_json *js, char *out, size_t *len)
{
    char *w = out;
    js->p++;
    for (;;) {
        int c = js_peek(js), n;
        unsigned cp;
        if (c < 0) return js_fail(js, "unterminated string");
        if (c == '"') break;
        if (c < 0x20) return js_fail(js, "control character %s in string", js_describe(js, c));
        if (c == '\\') {
            if (js_escape(js, &cp)) return -1;
            if (w) w = js_put_utf8(w, cp);
            continue;
        }
        n = js_utf8_len((const unsigned char *)js->p, (const unsigned char *)js->end);
        if (!n) return js_fail(js, "invalid UTF-8 in string");
        if (w) {
            memcpy(w, js->p, (size_t)n);
            w += n;
        }
        js->p += n;
    }
    js->p++;
    if (len) *len = (size_t)(w - out);
    return 0;
}

/* ---- numbers and values ---------------------------------------------------- */

/* A number: *is_int as rt_json_int says, with its value in *v. */
static int js_number(rt_json *js, int *is_int, int64_t *v)
{
    const char *begin = js->p;
    int neg = js_peek(js) == '-', exact = 1, frac = 0;
    uint64_t mag = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (neg) js->p++;
    if (js_peek(js) == '0' && js->end - js->p > 1 && js_digit((unsigned char)js->p[1])) {
        js->p++;
        return js_fail(js, "leading zero in number");
    }
    if (!js_digit(js_peek(js))) return js_fail(js, "expected a digit, found %s", js_describe(js, js_peek(js)));
    while (js_digit(js_peek(js))) {
        unsigned d = (unsigned)(*js->p++ - '0');
        if (mag > (lim - d) / 10)
            exact = 0;
        else if (exact)
            mag = mag * 10 + d;
    }
    if (js_peek(js) == '.') {
        js->p++, frac = 1;
        if (!js_digit(js_peek(js)))
            return js_fail(js, "expected a digit after '.', found %s", js_describe(js, js_peek(js)));
        while (js_digit(js_peek(js))) js->p++;
    }
    if (js_peek(js) == 'e' || js_peek(js) == 'E') {
        js->p++, frac = 1;
        if (js_peek(js) == '+' || js_peek(js) == '-') js->p++;
        if (!js_digit(js_peek(js)))
            return js_fail(js, "expected a digit in the exponent, found %s", js_describe(js, js_peek(js)));
        while (js_digit(js_peek(js))) js->p++;
    }
    /* A bound on what a header needs, which also bounds the work. */
    if (js->p - begin >= 64) return js_fail(js, frac ? "number too long" : "integer too large");
    *is_int = exact && !frac;
    *v = neg && mag ? -(int64_t)(mag - 1) - 1 : (int64_t)mag;
    return 0;
}

static int js_value(rt_json *js, int depth);

/* An object (close '}') or an array (']') at js->p. */
static int js_container(rt_json *js, int close, int depth)
{
    const char *what = close == '}' ? "object" : "array";
    js->p++;
    js_ws(js);
    if (js_peek(js) == close) {
        js->p++;
        return 0;
    }
    for (;;) {
        int c;
        if (close == '}') {
            if (js_peek(js) != '"') return js_fail(js, "expected a string key, found %s", js_describe(js, js_peek(js)));
            if (js_string(js, NULL, NULL)) return -1;
            js_ws(js);
            if (js_peek(js) != ':')
                return js_fail(js, "expected ':' after key, found %s", js_describe(js, js_peek(js)));
            js->p++;
        }
        if (js_value(js, depth + 1)) return -1;
        js_ws(js);
        c = js_peek(js);
        if (c == close) {
            js->p++;
            return 0;
        }
        if (c != ',') return js_fail(js, "expected ',' or '%c' in %s, found %s", close, what, js_describe(js, c));
        js->p++;
        js_ws(js);
    }
}

/* Any value at js->p (white space before it skipped); steps over it. */
static int js_value(rt_json *js, int depth)
{
    static const char *const lits[] = {"true", "false", "null"};
    int c, is_int;
    int64_t v;
    if (depth >= RT_JSON_MAX_DEPTH) return js_fail(js, "nesting deeper than %d", RT_JSON_MAX_DEPTH);
    js_ws(js);
    c = js_peek(js);
    if (c == '{' || c == '[') return js_container(js, c == '{' ? '}' : ']', depth);
    if (c == '"') return js_string(js, NULL, NULL);
    if (c == '-' || js_digit(c)) return js_number(js, &is_int, &v);
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lits[i]);
        if (c == lits[i][0] && (size_t)(js->end - js->p) >= n && !memcmp(js->p, lits[i], n)) {
            js->p += n;
            return 0;
        }
    }
    return js_fail(js, "unexpected %s", js_describe(js, c));
}

RT_API int rt_json_check(const char *text, size_t len, char *err, size_t errlen)
{
    rt_json js = {text, text, text + len, err, errlen, {0}};
    if (js_value(&js, 0)) return -1;
    js_ws(&js);
    if (js.p != js.end) return js_fail(&js, "unexpected %s after the JSON value", js_describe(&js, js_peek(&js)));
    return 0;
}

/* ---- walking checked text ---------------------------------------------------- */

RT_API rt_json rt_json_walk(const char *text, size_t len)
{
    rt_json js = {text, text, text + len, NULL, 0, {0}};
    js_ws(&js);
    return js;
}

RT_API const char *rt_json_kind(const rt_json *js)
{
    switch (js_peek(js)) {
    case '{': return "an object";
    case '[': return "an array";
    case '"': return "a string";
    case 't':
    case 'f': return "a boolean";
    case 'n': return "null";
    default: return "a number";
    }
}

RT_API void rt_json_skip(rt_json *js) { js_value(js, 0); }

RT_API int rt_json_string(rt_json *js, char **out)
{
    const char *q = js->p + 1;
    size_t n = 0;
    /* Decoded text is never longer than its JSON (an escape of 2, 6 or 12
     * bytes gives at most 1, 3 or 4), so one allocation is enough. */
    while (q < js->end && *q != '"') q += *q == '\\' && q + 1 < js->end ? 2 : 1;
    if (!(*out = malloc((size_t)(q - js->p)))) return -1;
    js_string(js, *out, &n);
    (*out)[n] = '\0';
    return 0;
}

RT_API int rt_json_int(rt_json *js, int64_t *v)
{
    int c = js_peek(js), is_int = 0;
    if (c == '-' || js_digit(c))
        js_number(js, &is_int, v);
    else
        rt_json_skip(js);
    return is_int;
}

/* Steps to the next member of the object or array that js->p is in
 * (after its opening bracket or one of its members): 1 at it, 0 past the
 * closing bracket. */
static int js_next(rt_json *js, int open, int close)
{
    js_ws(js);
    if (js_peek(js) == open || js_peek(js) == ',') js->p++;
    js_ws(js);
    if (js_peek(js) != close) return 1;
    js->p++;
    return 0;
}

RT_API int rt_json_next_key(rt_json *js, char **key)
{
    if (!js_next(js, '{', '}')) return 0;
    if (rt_json_string(js, key)) return -1;
    js_ws(js);
    js->p++; /* the ':' */
    js_ws(js);
    return 1;
}

RT_API int rt_json_next_item(rt_json *js) { return js_next(js, '[', ']'); }
