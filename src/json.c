/* json.c: strict, non-recursive JSON parser for untrusted input (see json.h).
 *
 * One pass over the text with an explicit stack of open containers. Values are appended to their
 * parent as they are read (each open container remembers its last child), so the DOM is built in
 * place without a second pass. Strings are decoded into one buffer sized to the text: a string of
 * q raw bytes between its quotes decodes to at most q bytes plus a NUL, never more than the q + 2
 * bytes it occupies, so the buffer cannot overflow. */
#include "json.h"

#include <locale.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_MAX_BYTES ((size_t)64 << 20)
#define DEFAULT_MAX_DEPTH 128
#define DEFAULT_MAX_VALUES ((size_t)4000000)
#define MAX_DEPTH_CAP 100000
#define MAX_NUMBER_CHARS 400

typedef struct node_block {
    struct node_block* next;
    size_t used, cap;
    wt_json nodes[];
} node_block;

struct wt_json_doc {
    wt_json* root;
    node_block* blocks; /* newest first */
    char* strings;
    size_t strings_used, strings_cap;
    size_t n_values, max_values;
    size_t next_block_cap;
};

typedef struct frame {
    wt_json* node; /* the open ARRAY / OBJECT */
    wt_json* last; /* its last child so far */
} frame;

typedef struct parser {
    const unsigned char* s;
    size_t len, pos;
    wt_json_doc* doc;
} parser;

void wt_json_free(wt_json_doc* doc) {
    if (!doc) return;
    node_block* b = doc->blocks;
    while (b) {
        node_block* next = b->next;
        free(b);
        b = next;
    }
    free(doc->strings);
    free(doc);
}

const wt_json* wt_json_root(const wt_json_doc* doc) { return doc ? doc->root : NULL; }

static wt_status syntax(const parser* p, size_t at, const char* what) {
    return wt_fail(WT_ERR_CORRUPT, "json: byte %zu: %s", at, what);
}

static wt_json* new_value(parser* p, wt_json_type type, size_t offset, wt_status* st) {
    wt_json_doc* d = p->doc;
    if (d->n_values >= d->max_values) {
        *st = wt_fail(WT_ERR_UNSUPPORTED, "json: byte %zu: more than %zu values (the limit)", offset, d->max_values);
        return NULL;
    }
    node_block* b = d->blocks;
    if (!b || b->used == b->cap) {
        size_t cap = d->next_block_cap;
        node_block* nb = (node_block*)malloc(sizeof(node_block) + cap * sizeof(wt_json));
        if (!nb) {
            *st = wt_fail(WT_ERR_OUT_OF_MEMORY, "json: out of memory after %zu values", d->n_values);
            return NULL;
        }
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        d->blocks = b = nb;
        if (d->next_block_cap < 65536) d->next_block_cap *= 2;
    }
    wt_json* v = &b->nodes[b->used++];
    memset(v, 0, sizeof *v);
    v->type = type;
    v->offset = offset;
    d->n_values++;
    return v;
}

static void skip_ws(parser* p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int hex4(const unsigned char* s, unsigned* out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = s[i], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

/* Length of the valid UTF-8 sequence at s[0..n) (n >= 1, s[0] >= 0x80), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq(const unsigned char* s, size_t n) {
    unsigned c = s[0];
    size_t need;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) { need = 2; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) need = 2;
    else if (c == 0xED) { need = 2; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) need = 2;
    else if (c == 0xF0) { need = 3; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) { need = 3; hi = 0x8F; }
    else return 0;
    if (n < need + 1) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i <= need; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return need + 1;
}

static size_t put_utf8(char* dst, unsigned cp) {
    if (cp < 0x80) { dst[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        dst[0] = (char)(0xC0 | (cp >> 6));
        dst[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        dst[0] = (char)(0xE0 | (cp >> 12));
        dst[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        dst[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    dst[0] = (char)(0xF0 | (cp >> 18));
    dst[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    dst[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    dst[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Reads the string starting at the opening quote p->pos; decodes it into the string buffer. */
static wt_status parse_string(parser* p, const char** out, size_t* out_len) {
    size_t start = p->pos;
    wt_json_doc* d = p->doc;
    char* dst = d->strings + d->strings_used;
    size_t n = 0;
    p->pos++; /* opening quote */
    for (;;) {
        if (p->pos >= p->len) return syntax(p, start, "unterminated string");
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) return syntax(p, p->pos, "control character in string (must be escaped)");
        if (c == '\\') {
            if (p->pos + 1 >= p->len) return syntax(p, start, "unterminated string");
            unsigned char e = p->s[p->pos + 1];
            char simple = 0;
            switch (e) {
            case '"': simple = '"'; break;
            case '\\': simple = '\\'; break;
            case '/': simple = '/'; break;
            case 'b': simple = '\b'; break;
            case 'f': simple = '\f'; break;
            case 'n': simple = '\n'; break;
            case 'r': simple = '\r'; break;
            case 't': simple = '\t'; break;
            case 'u': break;
            default: return syntax(p, p->pos, "invalid escape in string");
            }
            if (simple) {
                dst[n++] = simple;
                p->pos += 2;
                continue;
            }
            unsigned cp;
            if (p->pos + 6 > p->len || !hex4(p->s + p->pos + 2, &cp))
                return syntax(p, p->pos, "invalid \\u escape in string");
            size_t esc_at = p->pos;
            p->pos += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo;
                if (p->pos + 6 > p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u' ||
                    !hex4(p->s + p->pos + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    return syntax(p, esc_at, "unpaired UTF-16 surrogate in \\u escape");
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                return syntax(p, esc_at, "unpaired UTF-16 surrogate in \\u escape");
            } else if (cp == 0) {
                return syntax(p, esc_at, "\\u0000 in a string is not supported");
            }
            n += put_utf8(dst + n, cp);
            continue;
        }
        if (c < 0x80) {
            dst[n++] = (char)c;
            p->pos++;
            continue;
        }
        size_t k = utf8_seq(p->s + p->pos, p->len - p->pos);
        if (!k) return syntax(p, p->pos, "invalid UTF-8 in string");
        memcpy(dst + n, p->s + p->pos, k);
        n += k;
        p->pos += k;
    }
    dst[n] = '\0';
    d->strings_used += n + 1;
    WT_ASSERT(d->strings_used <= d->strings_cap);
    *out = dst;
    *out_len = n;
    return WT_OK;
}

static wt_status parse_number(parser* p, double* out) {
    size_t start = p->pos, i = p->pos;
    const unsigned char* s = p->s;
    if (i < p->len && s[i] == '-') i++;
    if (i >= p->len || !(s[i] >= '0' && s[i] <= '9')) return syntax(p, start, "invalid number");
    if (s[i] == '0') {
        i++;
    } else {
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->len && s[i] == '.') {
        i++;
        if (i >= p->len || !(s[i] >= '0' && s[i] <= '9')) return syntax(p, start, "invalid number (digit expected after '.')");
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
        if (i >= p->len || !(s[i] >= '0' && s[i] <= '9')) return syntax(p, start, "invalid number (digit expected in exponent)");
        while (i < p->len && s[i] >= '0' && s[i] <= '9') i++;
    }
    size_t n = i - start;
    if (n > MAX_NUMBER_CHARS) return wt_fail(WT_ERR_UNSUPPORTED, "json: byte %zu: number longer than %d characters", start, MAX_NUMBER_CHARS);
    char buf[MAX_NUMBER_CHARS + 1];
    memcpy(buf, s + start, n);
    buf[n] = '\0';
    /* strtod follows the C locale's decimal point: translate '.' if the host changed it. */
    const char* dp = localeconv()->decimal_point;
    if (dp && dp[0] && dp[0] != '.' && dp[1] == '\0') {
        char* dot = strchr(buf, '.');
        if (dot) *dot = dp[0];
    }
    char* end = NULL;
    double v = strtod(buf, &end);
    if (end != buf + n) return syntax(p, start, "invalid number");
    if (!isfinite(v)) return wt_fail(WT_ERR_UNSUPPORTED, "json: byte %zu: number out of the range of a double", start);
    *out = v;
    p->pos = i;
    return WT_OK;
}

static int match_literal(parser* p, const char* lit) {
    size_t n = strlen(lit);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, lit, n) != 0) return 0;
    p->pos += n;
    return 1;
}

wt_status wt_json_parse(const char* text, size_t len, const wt_json_limits* limits, wt_json_doc** out) {
    if (!out) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_json_parse: out is NULL");
    *out = NULL;
    if (!text && len) return wt_fail(WT_ERR_INVALID_ARGUMENT, "wt_json_parse: text is NULL");
    size_t max_bytes = limits && limits->max_bytes ? limits->max_bytes : DEFAULT_MAX_BYTES;
    int max_depth = limits && limits->max_depth > 0 ? limits->max_depth : DEFAULT_MAX_DEPTH;
    size_t max_values = limits && limits->max_values ? limits->max_values : DEFAULT_MAX_VALUES;
    if (max_depth > MAX_DEPTH_CAP) max_depth = MAX_DEPTH_CAP;
    if (len > max_bytes)
        return wt_fail(WT_ERR_UNSUPPORTED, "json: the text is %zu bytes, more than the limit of %zu", len, max_bytes);

    wt_json_doc* doc = (wt_json_doc*)calloc(1, sizeof *doc);
    frame* stack = (frame*)malloc((size_t)max_depth * sizeof(frame));
    if (doc) doc->strings = (char*)malloc(len + 1);
    if (!doc || !stack || !doc->strings) {
        free(stack);
        wt_json_free(doc);
        return wt_fail(WT_ERR_OUT_OF_MEMORY, "json: out of memory for a %zu-byte text", len);
    }
    doc->strings_cap = len + 1;
    doc->max_values = max_values;
    doc->next_block_cap = 256;

    parser p = { (const unsigned char*)text, len, 0, doc };
    wt_status st = WT_OK;
    int depth = 0;
    const char* pending_key = NULL; /* key of the member whose value comes next */
    enum { VALUE, KEY, AFTER } state = VALUE;

    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) p.pos = 3;

    while (!st) {
        if (state == VALUE) {
            skip_ws(&p);
            if (p.pos >= p.len) {
                st = syntax(&p, p.pos, depth ? "unexpected end of text (a value is missing)" : "empty text (no value)");
                break;
            }
            size_t at = p.pos;
            unsigned char c = p.s[p.pos];
            wt_json_type t;
            switch (c) {
            case '{': t = WT_JSON_OBJECT; break;
            case '[': t = WT_JSON_ARRAY; break;
            case '"': t = WT_JSON_STRING; break;
            case 't': case 'f': t = WT_JSON_BOOL; break;
            case 'n': t = WT_JSON_NULL; break;
            default:
                if (c == '-' || (c >= '0' && c <= '9')) {
                    t = WT_JSON_NUMBER;
                    break;
                }
                st = syntax(&p, at, "unexpected character (a value was expected)");
                continue;
            }
            wt_json* v = new_value(&p, t, at, &st);
            if (!v) break;
            switch (t) {
            case WT_JSON_OBJECT:
            case WT_JSON_ARRAY: p.pos++; break;
            case WT_JSON_STRING: st = parse_string(&p, &v->str, &v->str_len); break;
            case WT_JSON_NUMBER: st = parse_number(&p, &v->number); break;
            case WT_JSON_NULL:
                if (!match_literal(&p, "null")) st = syntax(&p, at, "invalid literal");
                break;
            default:
                if (match_literal(&p, "true")) v->boolean = 1;
                else if (!match_literal(&p, "false")) st = syntax(&p, at, "invalid literal");
                break;
            }
            if (st) break;
            /* attach to the parent */
            if (depth == 0) {
                doc->root = v;
            } else {
                frame* f = &stack[depth - 1];
                v->key = pending_key;
                pending_key = NULL;
                if (f->last) f->last->next = v;
                else f->node->first = v;
                f->last = v;
                f->node->count++;
            }
            if (t == WT_JSON_OBJECT || t == WT_JSON_ARRAY) {
                if (depth >= max_depth) {
                    st = wt_fail(WT_ERR_UNSUPPORTED, "json: byte %zu: nesting deeper than %d (the depth limit)", at,
                                 max_depth);
                    break;
                }
                stack[depth].node = v;
                stack[depth].last = NULL;
                depth++;
                skip_ws(&p);
                if (p.pos < p.len && p.s[p.pos] == (t == WT_JSON_OBJECT ? '}' : ']')) {
                    p.pos++;
                    depth--;
                    state = AFTER;
                } else {
                    state = t == WT_JSON_OBJECT ? KEY : VALUE;
                }
            } else {
                state = AFTER;
            }
        } else if (state == KEY) {
            skip_ws(&p);
            if (p.pos >= p.len) {
                st = syntax(&p, p.pos, "unexpected end of text (an object key is missing)");
                break;
            }
            if (p.s[p.pos] != '"') {
                st = syntax(&p, p.pos, "expected a string key");
                break;
            }
            size_t klen;
            st = parse_string(&p, &pending_key, &klen);
            if (st) break;
            skip_ws(&p);
            if (p.pos >= p.len) {
                st = syntax(&p, p.pos, "unexpected end of text (':' expected after an object key)");
                break;
            }
            if (p.s[p.pos] != ':') {
                st = syntax(&p, p.pos, "expected ':' after an object key");
                break;
            }
            p.pos++;
            state = VALUE;
        } else { /* AFTER a complete value */
            skip_ws(&p);
            if (depth == 0) {
                if (p.pos != p.len) st = syntax(&p, p.pos, "unexpected text after the value");
                break;
            }
            if (p.pos >= p.len) {
                st = syntax(&p, p.pos, "unexpected end of text (unclosed array or object)");
                break;
            }
            int is_obj = stack[depth - 1].node->type == WT_JSON_OBJECT;
            unsigned char c = p.s[p.pos];
            if (c == ',') {
                p.pos++;
                state = is_obj ? KEY : VALUE;
            } else if (c == (is_obj ? '}' : ']')) {
                p.pos++;
                depth--;
            } else {
                st = syntax(&p, p.pos, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
            }
        }
    }
    free(stack);
    if (st) {
        wt_json_free(doc);
        return st;
    }
    *out = doc;
    return WT_OK;
}

const wt_json* wt_json_get(const wt_json* v, const char* key) {
    if (!v || v->type != WT_JSON_OBJECT || !key) return NULL;
    const wt_json* found = NULL;
    for (const wt_json* m = v->first; m; m = m->next)
        if (strcmp(m->key, key) == 0) found = m;
    return found;
}

const wt_json* wt_json_at(const wt_json* v, size_t i) {
    if (!v || v->type != WT_JSON_ARRAY || i >= v->count) return NULL;
    const wt_json* e = v->first;
    while (i-- && e) e = e->next;
    return e;
}

const char* wt_json_str(const wt_json* v) { return v && v->type == WT_JSON_STRING ? v->str : NULL; }

int wt_json_num(const wt_json* v, double* out) {
    if (!v || v->type != WT_JSON_NUMBER) return 0;
    *out = v->number;
    return 1;
}

int wt_json_int(const wt_json* v, long long lo, long long hi, long long* out) {
    if (!v || v->type != WT_JSON_NUMBER) return 0;
    double x = v->number;
    if (!(x >= (double)lo && x <= (double)hi) || x != floor(x)) return 0;
    *out = (long long)x;
    return 1;
}

int wt_json_is(const wt_json* v, wt_json_type type) { return v && v->type == type; }

const char* wt_json_type_name(wt_json_type type) {
    switch (type) {
    case WT_JSON_NULL: return "null";
    case WT_JSON_BOOL: return "boolean";
    case WT_JSON_NUMBER: return "number";
    case WT_JSON_STRING: return "string";
    case WT_JSON_ARRAY: return "array";
    case WT_JSON_OBJECT: return "object";
    }
    return "?";
}
