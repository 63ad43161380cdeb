/* The key/value section of a .sbert file: parsing every entry with bounds checks, then typed
 * look-ups by key (docs/FORMAT.md, "Key/value entries"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_file_internal.h"

const char *sb_printable(sb_str s, char out[64])
{
    uint32_t n = s.len < 48 ? s.len : 48;
    for (uint32_t i = 0; i < n; i++)
        out[i] = s.ptr[i] >= 0x20 && s.ptr[i] < 0x7f ? s.ptr[i] : '?';
    strcpy(out + n, s.len > n ? "..." : "");
    return out;
}

static const char *type_name(uint32_t type)
{
    static const char *const names[] = {"?",       "U32",     "I32",     "F32",     "BOOL",
                                        "STR",     "ARR_I32", "ARR_F32", "ARR_STR", "BYTES"};
    return type < sizeof names / sizeof names[0] ? names[type] : "?";
}

/* Reads the value of one entry of type e->type, checking that it lies inside the section. */
static bool take_value(sb_cursor *c, sb_kv *e)
{
    const uint8_t *skipped;
    switch (e->type) {
    case SB_KV_U32: case SB_KV_I32: case SB_KV_F32: case SB_KV_BOOL:
        e->count = 1;
        return sb_take(c, 4, &e->value);
    case SB_KV_STR: case SB_KV_BYTES:
        return sb_take_u32(c, &e->count) && sb_take(c, e->count, &e->value);
    case SB_KV_ARR_I32: case SB_KV_ARR_F32:
        return sb_take_u32(c, &e->count) && sb_take(c, (uint64_t)e->count * 4, &e->value);
    case SB_KV_ARR_STR:
        if (!sb_take_u32(c, &e->count))
            return false;
        e->value = c->p;
        for (uint32_t i = 0; i < e->count; i++) {
            uint32_t len;
            if (!sb_take_u32(c, &len) || !sb_take(c, len, &skipped))
                return false;
        }
        return true;
    default:
        return false;
    }
}

static int compare_keys(sb_str a, sb_str b)
{
    int order = memcmp(a.ptr, b.ptr, a.len < b.len ? a.len : b.len);
    return order != 0 ? order : (a.len > b.len) - (a.len < b.len);
}

static int compare_entries(const void *a, const void *b)
{
    return compare_keys(((const sb_kv *)a)->key, ((const sb_kv *)b)->key);
}

static int parse_entry(const sb_kv_table *t, sb_cursor *c, uint64_t index, sb_kv *e)
{
    const uint8_t *key;
    if (!sb_take_u32(c, &e->key.len) || !sb_take(c, e->key.len, &key) || !sb_take_u32(c, &e->type))
        return sb_fail(&t->err, SBERT_ERR_CORRUPT,
                       "key/value entry %llu runs past the end of its section" SB_DAMAGED,
                       (unsigned long long)index);
    e->key.ptr = (const char *)key;

    char name[64];
    if (e->type < SB_KV_U32 || e->type > SB_KV_BYTES)
        return sb_fail(&t->err, SBERT_ERR_CORRUPT,
                       "key %s: unknown value type %u" SB_DAMAGED, sb_printable(e->key, name),
                       e->type);
    if (!take_value(c, e))
        return sb_fail(&t->err, SBERT_ERR_CORRUPT,
                       "key %s: its %s value runs past the end of the key/value section"
                       SB_DAMAGED,
                       sb_printable(e->key, name), type_name(e->type));
    return SBERT_OK;
}

int sb_kv_parse(sb_kv_table *t, const uint8_t *section, uint64_t size, uint64_t n_kv)
{
    t->entries = NULL;
    t->n = 0;
    if (n_kv > size / SB_KV_MIN_ENTRY_BYTES)
        return sb_fail(&t->err, SBERT_ERR_CORRUPT,
                       "the header counts %llu key/value entries, more than the %llu-byte "
                       "section can hold" SB_DAMAGED,
                       (unsigned long long)n_kv, (unsigned long long)size);
    sb_kv *entries = calloc(n_kv > 0 ? (size_t)n_kv : 1, sizeof *entries);
    if (!entries)
        return sb_fail(&t->err, SBERT_ERR_NO_MEMORY, "out of memory reading %llu key/value entries",
                       (unsigned long long)n_kv);

    sb_cursor c = {section, size};
    for (uint64_t i = 0; i < n_kv; i++) {
        int rc = parse_entry(t, &c, i, &entries[i]);
        if (rc != SBERT_OK) {
            free(entries);
            return rc;
        }
    }
    if (c.left != 0) {
        free(entries);
        return sb_fail(&t->err, SBERT_ERR_CORRUPT,
                       "%llu bytes follow the last of the %llu key/value entries" SB_DAMAGED,
                       (unsigned long long)c.left, (unsigned long long)n_kv);
    }

    /* Sorted, duplicates show up as neighbours and look-ups are binary searches. */
    qsort(entries, (size_t)n_kv, sizeof *entries, compare_entries);
    for (uint64_t i = 1; i < n_kv; i++) {
        if (compare_keys(entries[i - 1].key, entries[i].key) == 0) {
            char name[64];
            sb_printable(entries[i].key, name);
            free(entries);
            return sb_fail(&t->err, SBERT_ERR_CORRUPT,
                           "key %s appears twice" SB_DAMAGED,
                           name);
        }
    }
    t->entries = entries;
    t->n = (size_t)n_kv;
    return SBERT_OK;
}

void sb_kv_free(sb_kv_table *t)
{
    free(t->entries);
    t->entries = NULL;
    t->n = 0;
}

const sb_kv *sb_kv_find(const sb_kv_table *t, const char *key)
{
    sb_kv wanted = {.key = {key, (uint32_t)strlen(key)}};
    return t->n ? bsearch(&wanted, t->entries, t->n, sizeof *t->entries, compare_entries) : NULL;
}

int sb_kv_get(const sb_kv_table *t, const char *key, sb_kv_type type, const sb_kv **out)
{
    sb_kv wanted = {.key = {key, (uint32_t)strlen(key)}};
    const sb_kv *e = t->n ? bsearch(&wanted, t->entries, t->n, sizeof *t->entries, compare_entries)
                          : NULL;
    if (!e)
        return sb_fail(&t->err, SBERT_ERR_CORRUPT,
                       "required key %s is missing: convert the model again with "
                       "tools/convert_safetensors.py", key);
    if (e->type != (uint32_t)type)
        return sb_fail(&t->err, SBERT_ERR_CORRUPT,
                       "key %s has type %s, expected %s: convert the model again with "
                       "tools/convert_safetensors.py", key, type_name(e->type), type_name(type));
    *out = e;
    return SBERT_OK;
}

int sb_kv_u32(const sb_kv_table *t, const char *key, uint32_t min, uint32_t max, uint32_t *out)
{
    const sb_kv *e;
    int rc = sb_kv_get(t, key, SB_KV_U32, &e);
    if (rc != SBERT_OK)
        return rc;
    uint32_t v = sb_le32(e->value);
    if (v < min || v > max)
        return sb_fail(&t->err, v > max ? SBERT_ERR_UNSUPPORTED : SBERT_ERR_CORRUPT,
                       "%s is %u, this libsbert accepts %u to %u", key, v, min, max);
    *out = v;
    return SBERT_OK;
}

int sb_kv_i32(const sb_kv_table *t, const char *key, int32_t *out)
{
    const sb_kv *e;
    int rc = sb_kv_get(t, key, SB_KV_I32, &e);
    if (rc == SBERT_OK)
        *out = (int32_t)sb_le32(e->value); /* two's complement: implementation-defined, universal */
    return rc;
}

int sb_kv_f32(const sb_kv_table *t, const char *key, float *out)
{
    const sb_kv *e;
    int rc = sb_kv_get(t, key, SB_KV_F32, &e);
    if (rc == SBERT_OK)
        sb_kv_read_f32s(e, out);
    return rc;
}

int sb_kv_bool(const sb_kv_table *t, const char *key, bool *out)
{
    const sb_kv *e;
    int rc = sb_kv_get(t, key, SB_KV_BOOL, &e);
    if (rc != SBERT_OK)
        return rc;
    uint32_t v = sb_le32(e->value);
    if (v > 1)
        return sb_fail(&t->err, SBERT_ERR_CORRUPT,
                       "%s is %u, a BOOL must be 0 or 1" SB_DAMAGED, key, v);
    *out = v == 1;
    return SBERT_OK;
}

int sb_kv_str(const sb_kv_table *t, const char *key, sb_str *out)
{
    const sb_kv *e;
    int rc = sb_kv_get(t, key, SB_KV_STR, &e);
    if (rc == SBERT_OK)
        *out = (sb_str){(const char *)e->value, e->count};
    return rc;
}

static bool str_equals(sb_str s, const char *c_string)
{
    return strlen(c_string) == s.len && memcmp(s.ptr, c_string, s.len) == 0;
}

int sb_kv_enum(const sb_kv_table *t, const char *key, const sb_kv_choice *choices,
               const sb_kv_choice **out)
{
    sb_str s;
    int rc = sb_kv_str(t, key, &s);
    if (rc != SBERT_OK)
        return rc;
    for (const sb_kv_choice *c = choices; c->name; c++) {
        if (str_equals(s, c->name)) {
            *out = c;
            return SBERT_OK;
        }
    }
    char known[160] = "", value[64];
    for (const sb_kv_choice *c = choices; c->name; c++)
        snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
                 c == choices ? "" : ", ", c->name);
    return sb_fail(&t->err, SBERT_ERR_UNSUPPORTED,
                   "%s is '%s', which this libsbert does not support (it knows %s)", key,
                   sb_printable(s, value), known);
}

void sb_kv_read_i32s(const sb_kv *e, int32_t *dst)
{
    for (uint32_t i = 0; i < e->count; i++)
        dst[i] = (int32_t)sb_le32(e->value + 4 * (size_t)i);
}

void sb_kv_read_f32s(const sb_kv *e, float *dst)
{
    for (uint32_t i = 0; i < e->count; i++) {
        uint32_t bits = sb_le32(e->value + 4 * (size_t)i);
        memcpy(&dst[i], &bits, sizeof bits);
    }
}

void sb_kv_read_strs(const sb_kv *e, sb_str *dst)
{
    const uint8_t *p = e->value;
    for (uint32_t i = 0; i < e->count; i++) {
        dst[i].len = sb_le32(p);
        dst[i].ptr = (const char *)p + 4;
        p += 4 + (size_t)dst[i].len;
    }
}
