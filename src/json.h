/* json.h: a small strict JSON parser (RFC 8259) building a read-only DOM, for untrusted input.
 *
 * The parser never recurses (an explicit stack bounded by limits.max_depth), checks the input size
 * and the number of values against limits before it allocates, validates UTF-8, and reports the
 * first error with its byte offset ("json: byte 1234: expected ',' or ']'"). A document is three
 * allocations: a node arena (grown in blocks), one string buffer no larger than the text, and the
 * document header. Not part of the public API.
 *
 * Deliberate restrictions beyond RFC 8259: a string may not contain U+0000 ("\u0000"), numbers
 * must be finite as doubles, and object members keep their order; wt_json_get returns the last of
 * duplicate keys, as JavaScript's JSON.parse does. A UTF-8 byte order mark before the value is
 * skipped. */
#ifndef WT_JSON_H
#define WT_JSON_H

#include <stddef.h>

#include "webtune.h"

typedef enum wt_json_type {
    WT_JSON_NULL = 0,
    WT_JSON_BOOL = 1,
    WT_JSON_NUMBER = 2,
    WT_JSON_STRING = 3,
    WT_JSON_ARRAY = 4,
    WT_JSON_OBJECT = 5
} wt_json_type;

typedef struct wt_json wt_json;
struct wt_json {
    wt_json_type type;
    int boolean;          /* BOOL */
    double number;        /* NUMBER */
    const char* str;      /* STRING: decoded UTF-8, NUL-terminated, no interior NUL */
    size_t str_len;       /* STRING: bytes, excluding the NUL */
    const char* key;      /* a member of an OBJECT: its key (decoded, NUL-terminated); else NULL */
    const wt_json* first; /* ARRAY / OBJECT: first element or member, NULL when empty */
    const wt_json* next;  /* next element or member of the parent */
    size_t count;         /* ARRAY / OBJECT: number of elements or members */
    size_t offset;        /* byte offset of the value's first character in the text */
};

typedef struct wt_json_limits {
    size_t max_bytes;  /* 0 = 64 MiB */
    int max_depth;     /* nesting of arrays/objects; 0 = 128 */
    size_t max_values; /* 0 = 4,000,000 */
} wt_json_limits;

typedef struct wt_json_doc wt_json_doc;

/* Parses text[0..len) (need not be NUL-terminated). limits may be NULL (defaults). On failure
 * returns WT_ERR_CORRUPT (syntax), WT_ERR_UNSUPPORTED (a limit was exceeded) or
 * WT_ERR_OUT_OF_MEMORY, with a message naming the byte offset. The caller owns *out. */
wt_status wt_json_parse(const char* text, size_t len, const wt_json_limits* limits, wt_json_doc** out);
void wt_json_free(wt_json_doc* doc);
const wt_json* wt_json_root(const wt_json_doc* doc);

/* Member `key` of an object (the last one if the key repeats); NULL if v is not an object (or is
 * NULL) or has no such member. */
const wt_json* wt_json_get(const wt_json* v, const char* key);
/* Element i of an array; NULL if v is not an array or i is out of range. O(i). */
const wt_json* wt_json_at(const wt_json* v, size_t i);
/* The string of a STRING value, else NULL. */
const char* wt_json_str(const wt_json* v);
/* 1 if v is a NUMBER holding an integer in [lo, hi] (stored in *out), else 0. */
int wt_json_int(const wt_json* v, long long lo, long long hi, long long* out);
/* 1 if v is a NUMBER (stored in *out), else 0. */
int wt_json_num(const wt_json* v, double* out);
int wt_json_is(const wt_json* v, wt_json_type type);
const char* wt_json_type_name(wt_json_type type);

#endif /* WT_JSON_H */
