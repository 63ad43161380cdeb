/* Reading one JSON value per line (JSON Lines), as RFC 8259 defines JSON (header-only).
 *
 * The line must be exactly one JSON object, with nothing but whitespace around it. Where the RFC
 * leaves a choice open, this makes Python's json module's choice:
 * - a key given twice: the last value wins;
 * - a lone surrogate escape ("\ud800"): Python's json accepts it, but the string it gives cannot
 *   be encoded as UTF-8, so the value asked for is refused (JSONL_SURROGATE); elsewhere it is
 *   accepted (a key holding one just matches nothing).
 * Strings must be UTF-8 (RFC 8259 section 8.1). NaN and Infinity, which Python also reads, are not
 * JSON and are refused, as are nesting deeper than JSONL_MAX_DEPTH.
 *
 * jsonl_get_string_n(line, line_len, key, &out, &out_len, &err_at) decodes the string value of a
 * top-level key into a malloc'd UTF-8 buffer that may contain NUL bytes (out_len says how long it
 * is). Returns JSONL_OK or a negative jsonl_status; on JSONL_SYNTAX, err_at (when not NULL) gets
 * the byte offset of the first byte that is not JSON. jsonl_get_string(line, key, &out, &out_len)
 * does the same on a NUL-terminated line.
 *
 * jsonl_get_numbers(line, key, &values, &n) does the same for an array of numbers (malloc'd
 * doubles). */
#ifndef SBERT_EXAMPLES_JSONL_H
#define SBERT_EXAMPLES_JSONL_H

#include <stdlib.h>
#include <string.h>

#define JSONL_MAX_DEPTH 512

typedef enum jsonl_status {
    JSONL_OK = 0,
    JSONL_MISSING = -1,    /* a JSON object without the key */
    JSONL_SYNTAX = -2,     /* not one JSON value (RFC 8259) */
    JSONL_NOT_OBJECT = -3, /* JSON, but not an object */
    JSONL_WRONG_TYPE = -4, /* the key's value is not of the type asked for */
    JSONL_SURROGATE = -5,  /* the string asked for holds a lone surrogate escape: not UTF-8 */
    JSONL_NO_MEMORY = -6,
} jsonl_status;

static inline const char *jsonl_strerror(int status)
{
    switch (status) {
    case JSONL_OK: return "ok";
    case JSONL_MISSING: return "a JSON object without the key";
    case JSONL_SYNTAX: return "not JSON (RFC 8259)";
    case JSONL_NOT_OBJECT: return "JSON, but not an object";
    case JSONL_WRONG_TYPE: return "the value is not of the expected type";
    case JSONL_SURROGATE: return "the string holds a lone surrogate escape, which is not UTF-8";
    case JSONL_NO_MEMORY: return "out of memory";
    default: return "unknown error";
    }
}

/* A cursor over [p, end); err is where the first syntax error was found. */
typedef struct {
    const char *p, *end, *err;
} jsonl_cursor;

static inline int jsonl_fail(jsonl_cursor *c)
{
    if (!c->err)
        c->err = c->p;
    return JSONL_SYNTAX;
}

static inline void jsonl_skip_ws(jsonl_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n'))
        c->p++;
}

static inline int jsonl_peek(const jsonl_cursor *c) { return c->p < c->end ? (unsigned char)*c->p : -1; }

static inline int jsonl_hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        const char h = p[i];
        *v <<= 4;
        if (h >= '0' && h <= '9') *v |= (unsigned)(h - '0');
        else if (h >= 'a' && h <= 'f') *v |= (unsigned)(h - 'a' + 10);
        else if (h >= 'A' && h <= 'F') *v |= (unsigned)(h - 'A' + 10);
        else return -1;
    }
    return 0;
}

/* The length of the well-formed UTF-8 sequence at p (Unicode table 3-7), or 0. */
static inline size_t jsonl_utf8_len(const unsigned char *p, const unsigned char *end)
{
    const unsigned c = p[0];
    size_t n;
    unsigned lo = 0x80, hi = 0xBF; /* the allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) { n = 3; lo = c == 0xE0 ? 0xA0 : 0x80; hi = c == 0xED ? 0x9F : 0xBF; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 4; lo = c == 0xF0 ? 0x90 : 0x80; hi = c == 0xF4 ? 0x8F : 0xBF; }
    else return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((p[i] & 0xC0) != 0x80) return 0;
    return n;
}

/* Checks the string whose opening quote is at c->p and moves past its closing quote. */
static inline int jsonl_scan_string(jsonl_cursor *c)
{
    c->p++;
    while (c->p < c->end) {
        const unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') { c->p++; return JSONL_OK; }
        if (ch < 0x20) return jsonl_fail(c); /* control characters must be escaped */
        if (ch == '\\') {
            unsigned cp;
            if (c->end - c->p < 2) return jsonl_fail(c);
            const char e = c->p[1];
            if (e == 'u') {
                if (c->end - c->p < 6 || jsonl_hex4(c->p + 2, &cp)) return jsonl_fail(c);
                c->p += 6;
            } else if (e && strchr("\"\\/bfnrt", e)) {
                c->p += 2;
            } else {
                return jsonl_fail(c);
            }
            continue;
        }
        const size_t n = jsonl_utf8_len((const unsigned char *)c->p, (const unsigned char *)c->end);
        if (!n) return jsonl_fail(c);
        c->p += n;
    }
    return jsonl_fail(c); /* unterminated */
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static inline int jsonl_scan_number(jsonl_cursor *c)
{
#define JSONL_DIGIT(c) (jsonl_peek(c) >= '0' && jsonl_peek(c) <= '9')
    if (jsonl_peek(c) == '-') c->p++;
    if (jsonl_peek(c) == '0') c->p++;
    else if (JSONL_DIGIT(c)) while (JSONL_DIGIT(c)) c->p++;
    else return jsonl_fail(c);
    if (jsonl_peek(c) == '.') {
        c->p++;
        if (!JSONL_DIGIT(c)) return jsonl_fail(c);
        while (JSONL_DIGIT(c)) c->p++;
    }
    if (jsonl_peek(c) == 'e' || jsonl_peek(c) == 'E') {
        c->p++;
        if (jsonl_peek(c) == '+' || jsonl_peek(c) == '-') c->p++;
        if (!JSONL_DIGIT(c)) return jsonl_fail(c);
        while (JSONL_DIGIT(c)) c->p++;
    }
    return JSONL_OK;
#undef JSONL_DIGIT
}

static inline int jsonl_scan_literal(jsonl_cursor *c, const char *word)
{
    const size_t n = strlen(word);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n)) return jsonl_fail(c);
    c->p += n;
    return JSONL_OK;
}

static inline int jsonl_scan_value(jsonl_cursor *c, int depth);

/* An array or object at c->p: elements (or "key": value members) separated by commas. */
static inline int jsonl_scan_container(jsonl_cursor *c, int depth)
{
    const char close = *c->p == '{' ? '}' : ']';
    if (depth >= JSONL_MAX_DEPTH) return jsonl_fail(c);
    c->p++;
    jsonl_skip_ws(c);
    if (jsonl_peek(c) == close) { c->p++; return JSONL_OK; }
    for (;;) {
        if (close == '}') {
            if (jsonl_peek(c) != '"' || jsonl_scan_string(c)) return jsonl_fail(c);
            jsonl_skip_ws(c);
            if (jsonl_peek(c) != ':') return jsonl_fail(c);
            c->p++;
        }
        if (jsonl_scan_value(c, depth + 1)) return JSONL_SYNTAX;
        jsonl_skip_ws(c);
        if (jsonl_peek(c) == close) { c->p++; return JSONL_OK; }
        if (jsonl_peek(c) != ',') return jsonl_fail(c);
        c->p++;
        jsonl_skip_ws(c);
    }
}

/* Checks one value (after optional whitespace) and moves past it. */
static inline int jsonl_scan_value(jsonl_cursor *c, int depth)
{
    jsonl_skip_ws(c);
    switch (jsonl_peek(c)) {
    case '"': return jsonl_scan_string(c);
    case '{': case '[': return jsonl_scan_container(c, depth);
    case 't': return jsonl_scan_literal(c, "true");
    case 'f': return jsonl_scan_literal(c, "false");
    case 'n': return jsonl_scan_literal(c, "null");
    default: return jsonl_scan_number(c);
    }
}

static inline size_t jsonl_put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Decodes the string at p (its opening quote; already checked by jsonl_scan_string) into o, which
 * has room for as many bytes as the encoded string (decoding never grows it). A surrogate escape
 * that is not half of a pair is JSONL_SURROGATE. */
static inline int jsonl_decode_string(const char *p, char *o, size_t *o_len)
{
    size_t n = 0;
    for (p++; *p != '"';) {
        if (*p != '\\') { o[n++] = *p++; continue; }
        const char e = p[1];
        p += 2;
        unsigned cp;
        switch (e) {
        case 'b': o[n++] = '\b'; continue;
        case 'f': o[n++] = '\f'; continue;
        case 'n': o[n++] = '\n'; continue;
        case 'r': o[n++] = '\r'; continue;
        case 't': o[n++] = '\t'; continue;
        case 'u': break;
        default: o[n++] = e; continue; /* " \ / */
        }
        jsonl_hex4(p, &cp);
        p += 4;
        if (cp >= 0xDC00 && cp < 0xE000) return JSONL_SURROGATE;
        if (cp >= 0xD800 && cp < 0xDC00) {
            unsigned lo;
            if (p[0] != '\\' || p[1] != 'u' || jsonl_hex4(p + 2, &lo) || lo < 0xDC00 || lo >= 0xE000)
                return JSONL_SURROGATE;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        }
        n += jsonl_put_utf8(o + n, cp);
    }
    *o_len = n;
    return JSONL_OK;
}

/* Checks that [line, line + len) is one JSON object and finds the value of the last member named
 * key (*value, or NULL when there is none). keybuf has room for len bytes. */
static inline int jsonl_find_value(const char *line, size_t len, const char *key, char *keybuf,
                                   const char **value, size_t *err_at)
{
    jsonl_cursor c = { line, line + len, NULL };
    *value = NULL;
    jsonl_skip_ws(&c);
    const int is_object = jsonl_peek(&c) == '{';
    int rc = jsonl_scan_value(&c, 0);
    jsonl_skip_ws(&c);
    if (rc == JSONL_OK && c.p != c.end)
        rc = jsonl_fail(&c); /* something after the value */
    if (rc != JSONL_OK) {
        if (err_at)
            *err_at = (size_t)(c.err - line);
        return rc;
    }
    if (!is_object)
        return JSONL_NOT_OBJECT;
    /* A valid object: walk its members again, comparing keys. */
    c.p = line;
    jsonl_skip_ws(&c);
    c.p++;
    for (jsonl_skip_ws(&c); jsonl_peek(&c) == '"';) {
        const char *k = c.p;
        size_t klen;
        jsonl_scan_string(&c);
        jsonl_skip_ws(&c);
        c.p++; /* ':' */
        jsonl_skip_ws(&c);
        if (jsonl_decode_string(k, keybuf, &klen) == JSONL_OK && klen == strlen(key) &&
            memcmp(keybuf, key, klen) == 0)
            *value = c.p;
        jsonl_scan_value(&c, 1);
        jsonl_skip_ws(&c);
        if (jsonl_peek(&c) == ',') c.p++;
        jsonl_skip_ws(&c);
    }
    return *value ? JSONL_OK : JSONL_MISSING;
}

static inline int jsonl_get_string_n(const char *line, size_t len, const char *key, char **out,
                                     size_t *out_len, size_t *err_at)
{
    char *buf = malloc(len + 1);
    if (!buf) return JSONL_NO_MEMORY;
    const char *v;
    int rc = jsonl_find_value(line, len, key, buf, &v, err_at);
    if (rc == JSONL_OK && *v != '"')
        rc = JSONL_WRONG_TYPE;
    if (rc == JSONL_OK)
        rc = jsonl_decode_string(v, buf, out_len);
    if (rc != JSONL_OK) {
        free(buf);
        return rc;
    }
    /* also a C string: callers may pass it on without its length (the decoded text is never
     * longer than the line, so the terminator fits) */
    buf[*out_len] = '\0';
    *out = buf;
    return JSONL_OK;
}

static inline int jsonl_get_string(const char *line, const char *key, char **out, size_t *out_len)
{
    return jsonl_get_string_n(line, strlen(line), key, out, out_len, NULL);
}

static inline int jsonl_get_numbers(const char *line, const char *key, double **out, size_t *n_out)
{
    const size_t len = strlen(line);
    char *keybuf = malloc(len + 1);
    if (!keybuf) return JSONL_NO_MEMORY;
    const char *v;
    int rc = jsonl_find_value(line, len, key, keybuf, &v, NULL);
    free(keybuf);
    if (rc != JSONL_OK) return rc;
    if (*v != '[') return JSONL_WRONG_TYPE;
    jsonl_cursor c = { v + 1, line + len, NULL };
    size_t n = 0, cap = 16;
    double *values = malloc(cap * sizeof *values);
    for (jsonl_skip_ws(&c); values && jsonl_peek(&c) != ']';) {
        const char *start = c.p;
        if (jsonl_scan_number(&c)) { /* a value of another type */
            free(values);
            return JSONL_WRONG_TYPE;
        }
        if (n == cap) {
            double *grown = realloc(values, (cap *= 2) * sizeof *values);
            if (!grown) { free(values); return JSONL_NO_MEMORY; }
            values = grown;
        }
        values[n++] = strtod(start, NULL);
        jsonl_skip_ws(&c);
        if (jsonl_peek(&c) == ',') c.p++;
        jsonl_skip_ws(&c);
    }
    if (!values) return JSONL_NO_MEMORY;
    *out = values;
    *n_out = n;
    return JSONL_OK;
}

#endif
