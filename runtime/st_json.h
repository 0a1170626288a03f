/* st_json.h - the strict JSON (RFC 8259) of safetensors headers, for the
 * one safetensors reader (runtime/st_format.h) that rnnc and every
 * compiled model share.  In the runtime because a generated C file
 * carries it as text (scripts/c_text.sh): libc only, no tree.
 *
 * rt_json_check() reads a whole text once and says whether it is JSON:
 * no comments, no trailing commas, no leading zeros, no control
 * characters or invalid UTF-8 in strings, no \u0000 (names are C
 * strings), numbers of at most 63 characters, nesting at most
 * RT_JSON_MAX_DEPTH deep, nothing after the value.  The walkers below it
 * then step through a text it accepted (they assume so: on other text
 * they do not fail cleanly), so that the reader takes what it needs
 * without building a tree. */
#ifndef RNNC_ST_JSON_H
#define RNNC_ST_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/rnnrt.h" /* RT_API: static when the text is pasted */

#define RT_JSON_MAX_DEPTH 64

typedef struct rt_json {
    const char *start, *p, *end;
    char *err; /* rt_json_check's message; NULL when walking */
    size_t errlen;
    char desc[16]; /* scratch for the name of an unexpected byte */
} rt_json;

/* 0 if text[0, len) is one JSON value, else -1 with "at byte N: problem"
 * in err. */
RT_API int rt_json_check(const char *text, size_t len, char *err, size_t errlen);

/* ---- walking a checked text: js->p is at a value or a separator ---- */

/* A walker at the start of checked text (its value, white space skipped). */
RT_API rt_json rt_json_walk(const char *text, size_t len);

/* What the value at js->p is, for messages: "an object", "a string", ... */
RT_API const char *rt_json_kind(const rt_json *js);

/* Steps over the value at js->p. */
RT_API void rt_json_skip(rt_json *js);

/* The string at js->p decoded, malloc'd, in *out; steps over it.  0, or
 * -1 out of memory. */
RT_API int rt_json_string(rt_json *js, char **out);

/* Steps over the value at js->p; 1 with *v if it is an integer that
 * int64_t holds exactly (no fraction, no exponent), else 0. */
RT_API int rt_json_int(rt_json *js, int64_t *v);

/* js->p at an object's '{' or after one of its values: 1 with the next
 * key in *key (malloc'd) and js->p at its value, 0 after the closing
 * '}', -1 out of memory. */
RT_API int rt_json_next_key(rt_json *js, char **key);

/* js->p at an array's '[' or after one of its items: 1 with js->p at the
 * next item, 0 after the closing ']'. */
RT_API int rt_json_next_item(rt_json *js);

#endif
