/* Reading `{"text": "..."}` lines: just enough JSON for the examples and tests (header-only).
 *
 * jsonl_get_string(line, key, &out, &out_len) finds the string value of a top-level key in one
 * JSON object and decodes it (escapes, \uXXXX with surrogate pairs) into a malloc'd UTF-8 buffer
 * that may contain NUL bytes (out_len says how long it is). Returns 0 on success, -1 when the key
 * is missing or the line is not a well-formed object of that shape.
 *
 * jsonl_get_numbers(line, key, &values, &n) does the same for an array of numbers (malloc'd
 * doubles). */
#ifndef SBERT_EXAMPLES_JSONL_H
#define SBERT_EXAMPLES_JSONL_H

#include <stdlib.h>
#include <string.h>

static inline const char *jsonl_skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

static inline int jsonl_hex4(const char *p, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        const char c = p[i];
        *v <<= 4;
        if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
        else return -1;
    }
    return 0;
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

/* Decodes the JSON string starting after its opening quote at *pp into o (which has room for as
 * many bytes as the encoded string: decoding never grows it). Advances *pp past the closing
 * quote. A lone surrogate escape becomes U+FFFD, as Python's json + encode("utf-8", "replace"). */
static inline int jsonl_decode_string(const char **pp, char *o, size_t *o_len)
{
    const char *p = *pp;
    size_t n = 0;
    for (;;) {
        unsigned char c = (unsigned char)*p++;
        if (c == '"') break;
        if (c == '\0') return -1;
        if (c != '\\') { o[n++] = (char)c; continue; }
        c = (unsigned char)*p++;
        unsigned cp;
        switch (c) {
        case '"': case '\\': case '/': o[n++] = (char)c; continue;
        case 'b': o[n++] = '\b'; continue;
        case 'f': o[n++] = '\f'; continue;
        case 'n': o[n++] = '\n'; continue;
        case 'r': o[n++] = '\r'; continue;
        case 't': o[n++] = '\t'; continue;
        case 'u':
            if (jsonl_hex4(p, &cp)) return -1;
            p += 4;
            if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
                unsigned lo;
                if (!jsonl_hex4(p + 2, &lo) && lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
            n += jsonl_put_utf8(o + n, cp);
            continue;
        default: return -1;
        }
    }
    *pp = p;
    *o_len = n;
    return 0;
}

/* Skips one JSON value that is not needed (number, literal, string, nested array/object). */
static inline const char *jsonl_skip_value(const char *p)
{
    int depth = 0;
    do {
        p = jsonl_skip_ws(p);
        if (*p == '"') {
            for (p++; *p && *p != '"'; p++)
                if (*p == '\\' && p[1]) p++;
            if (!*p) return NULL;
            p++;
        } else if (*p == '{' || *p == '[') {
            depth++; p++;
        } else if (*p == '}' || *p == ']') {
            depth--; p++;
        } else if (*p == ',' || *p == ':') {
            p++;
        } else if (*p) {
            while (*p && !strchr(",}] \t\r\n", *p)) p++;
        } else {
            return NULL;
        }
    } while (depth > 0);
    return p;
}

/* Finds the value of a top-level key; returns a pointer to its first character or NULL. */
static inline const char *jsonl_find_value(const char *line, const char *key, char *keybuf)
{
    const char *p = jsonl_skip_ws(line);
    if (*p++ != '{') return NULL;
    for (;;) {
        p = jsonl_skip_ws(p);
        size_t klen;
        if (*p++ != '"' || jsonl_decode_string(&p, keybuf, &klen)) return NULL;
        p = jsonl_skip_ws(p);
        if (*p++ != ':') return NULL;
        p = jsonl_skip_ws(p);
        if (klen == strlen(key) && memcmp(keybuf, key, klen) == 0) return p;
        if (!(p = jsonl_skip_value(p))) return NULL;
        p = jsonl_skip_ws(p);
        if (*p++ != ',') return NULL;
    }
}

static inline int jsonl_get_string(const char *line, const char *key, char **out, size_t *out_len)
{
    char *buf = malloc(strlen(line) + 1);
    if (!buf) return -1;
    const char *p = jsonl_find_value(line, key, buf);
    if (p && *p == '"') {
        p++;
        if (!jsonl_decode_string(&p, buf, out_len)) {
            *out = buf;
            return 0;
        }
    }
    free(buf);
    return -1;
}

static inline int jsonl_get_numbers(const char *line, const char *key, double **out, size_t *n_out)
{
    char *keybuf = malloc(strlen(line) + 1);
    if (!keybuf) return -1;
    const char *p = jsonl_find_value(line, key, keybuf);
    free(keybuf);
    if (!p || *p++ != '[') return -1;
    size_t n = 0, cap = 16;
    double *v = malloc(cap * sizeof *v);
    for (p = jsonl_skip_ws(p); v && *p != ']';) {
        char *end;
        const double x = strtod(p, &end);
        if (end == p) break;
        if (n == cap) {
            double *grown = realloc(v, (cap *= 2) * sizeof *v);
            if (!grown) break;
            v = grown;
        }
        v[n++] = x;
        p = jsonl_skip_ws(end);
        if (*p == ',') p = jsonl_skip_ws(p + 1);
        else if (*p != ']') break;
    }
    if (!v || *p != ']') {
        free(v);
        return -1;
    }
    *out = v;
    *n_out = n;
    return 0;
}

#endif
