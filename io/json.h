/* json.h - a small strict JSON (RFC 8259) reader, used for safetensors
 * headers.
 *
 * Parses a whole text into a tree of JsonValue.  Strict: no comments, no
 * trailing commas, no leading zeros, no control characters in strings,
 * valid UTF-8 escapes only, nesting limited to JSON_MAX_DEPTH, and nothing
 * but whitespace after the value.  Object keys keep their order and
 * duplicates are kept too: the caller decides whether they are an error.
 * Strings may not contain U+0000 (the tree hands out C strings). */
#ifndef RNNC_JSON_H
#define RNNC_JSON_H

#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH 64

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonKind;

typedef struct JsonValue {
    JsonKind kind;
    int      boolean;             /* JSON_BOOL                                   */
    double   number;              /* JSON_NUMBER                                 */
    int      is_int;              /* number written without '.' or exponent and
                                     fits in int64: then `integer` is exact      */
    int64_t  integer;
    char    *string;              /* JSON_STRING: UTF-8, NUL-terminated, owned   */
    int      count;               /* JSON_ARRAY / JSON_OBJECT                    */
    struct JsonValue *items;      /* owned, count of them                        */
    char   **keys;                /* JSON_OBJECT: owned, count of them           */
} JsonValue;

/* Returns 0, or -1 with "at byte N: problem" in err. */
int  json_parse(const char *text, size_t len, JsonValue *out, char *err, size_t errlen);
void json_free(JsonValue *v);

/* The first member named key of an object, or NULL. */
const JsonValue *json_get(const JsonValue *obj, const char *key);

const char *json_kind_name(JsonKind k);

#endif
