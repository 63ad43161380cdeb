/* What the parts of the .sbert loader share (internal to libsbert):
 *   model_file.c            opening, header, checksum, hyper-parameters, pipeline; the entry points
 *   model_file_kv.c         the key/value section as a sorted, typed, validated table
 *   model_file_tokenizer.c  tokenizer.* keys -> m->tok_cfg
 *   model_file_tensors.c    the tensor table -> weight pointers
 * plus little-endian decoding, a bounds-checked cursor and error messages. */
#ifndef SBERT_MODEL_FILE_INTERNAL_H
#define SBERT_MODEL_FILE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h" /* sb_fail (errors), sb_alloc_aligned (copies of tensors, 64-byte aligned) */
#include "format.h"
#include "model.h"

/* ---- errors (sb_fail, base/error.h) ---------------------------------------------------------------------------------- */

/* Ends every message about a file whose bytes contradict themselves. */
#define SB_DAMAGED ": the file is damaged, convert the model again"

/* Copies up to 48 bytes of s into out[64] for a message, '?' for each byte that is not printable
 * ASCII: names read from a damaged file may hold anything, and a message must stay one line. */
const char *sb_printable(sb_str s, char out[64]);

/* ---- decoding -------------------------------------------------------------------------------- */

static inline uint32_t sb_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t sb_le64(const uint8_t *p)
{
    return (uint64_t)sb_le32(p) | (uint64_t)sb_le32(p + 4) << 32;
}

/* A read position inside one section. Every take checks the bytes left first, so no offset or
 * length read from the file can move it outside the section (lengths are compared, never added). */
typedef struct {
    const uint8_t *p;
    uint64_t left;
} sb_cursor;

static inline bool sb_take(sb_cursor *c, uint64_t n, const uint8_t **out)
{
    if (n > c->left)
        return false;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

static inline bool sb_take_u32(sb_cursor *c, uint32_t *v)
{
    const uint8_t *p;
    if (!sb_take(c, 4, &p))
        return false;
    *v = sb_le32(p);
    return true;
}

static inline bool sb_take_u64(sb_cursor *c, uint64_t *v)
{
    const uint8_t *p;
    if (!sb_take(c, 8, &p))
        return false;
    *v = sb_le64(p);
    return true;
}

/* ---- the key/value section ------------------------------------------------------------------- */


/* One entry, checked to lie inside its section. */
typedef struct {
    sb_str key;
    uint32_t type;         /* sb_kv_type */
    uint32_t count;        /* STR, BYTES: bytes; ARR_*: elements; scalars: 1 */
    const uint8_t *value;  /* scalars: the 4 value bytes; others: the bytes after the count */
} sb_kv;

typedef struct {
    sb_kv *entries;        /* sorted by key, keys unique */
    size_t n;
    sb_err err;            /* where the getters below write their messages */
} sb_kv_table;

/* Parses n_kv entries that must fill section[0..size) exactly. On failure t is empty (free it
 * anyway: sb_kv_free accepts any state). */
int sb_kv_parse(sb_kv_table *t, const uint8_t *section, uint64_t size, uint64_t n_kv);
void sb_kv_free(sb_kv_table *t);

/* Getters for required keys: each fails with SBERT_ERR_CORRUPT and a message naming the key when
 * it is missing, has another type, or holds a value outside the stated range. */
int sb_kv_get(const sb_kv_table *t, const char *key, sb_kv_type type, const sb_kv **out);
int sb_kv_u32(const sb_kv_table *t, const char *key, uint32_t min, uint32_t max, uint32_t *out);
int sb_kv_i32(const sb_kv_table *t, const char *key, int32_t *out);
int sb_kv_f32(const sb_kv_table *t, const char *key, float *out);
int sb_kv_bool(const sb_kv_table *t, const char *key, bool *out);
int sb_kv_str(const sb_kv_table *t, const char *key, sb_str *out); /* points into the file */
/* The entry of an optional key, or NULL when the file does not have it. */
const sb_kv *sb_kv_find(const sb_kv_table *t, const char *key);

/* A STR key naming one of a fixed set of choices, e.g. general.architecture. */
typedef struct {
    const char *name;
    int value;
} sb_kv_choice;

/* Finds the choice the value names (the list ends with a NULL name). A string outside the list
 * fails with SBERT_ERR_UNSUPPORTED and a message listing the choices. */
int sb_kv_enum(const sb_kv_table *t, const char *key, const sb_kv_choice *choices,
               const sb_kv_choice **out);

/* The activations a Dense module or a cross-encoder's scores may name. */
extern const sb_kv_choice sb_kv_activations[];

/* Decoding array values (entries the getters returned, so their bounds are already checked). The
 * arrays in the file may be unaligned: these copy into the caller's aligned storage. */
void sb_kv_read_i32s(const sb_kv *e, int32_t *dst);
void sb_kv_read_f32s(const sb_kv *e, float *dst);
void sb_kv_read_strs(const sb_kv *e, sb_str *dst);

/* ---- loading steps in their own files -------------------------------------------------------- */

/* Fills m->tok_cfg and m->tok_owned from the tokenizer.* keys (and pipeline.do_lower_case). Needs
 * m->hp.vocab_size. */
int sb_load_tokenizer(sbert_model *m, const sb_kv_table *kv);

/* The cross-encoder parts of a general.kind = cross-encoder file (model_file_classifier.c):
 * pipeline.max_seq_length and classifier.* into m, then (after sb_load_tokenizer) the pair
 * template into m->tok_cfg. */
int sb_load_classifier(sbert_model *m, const sb_kv_table *kv);
int sb_load_pair_template(sbert_model *m, const sb_kv_table *kv);
/* The longest input of the model: max_seq_length, lowered to what the position table holds
 * (sentence-transformers fails on longer inputs, so none is lost). */
size_t sb_usable_length(const sbert_model *m, uint32_t max_seq_length);

/* The tensor table and data section of a file whose header is validated. */
typedef struct {
    const uint8_t *table;  /* the tensor table */
    uint64_t table_size;
    uint64_t n_tensors;
    const uint8_t *data;   /* the data section: 64-byte aligned */
    uint64_t data_size;
} sb_tensor_section;

/* Checks every tensor against the hyper-parameters and pipeline already in m, then points the
 * weights of m at the file (F32) or at m->owned_f32 (F16, BF16 converted). */
int sb_load_tensors(sbert_model *m, const sb_tensor_section *s,
                    const bool dense_has_bias[SB_MAX_DENSE], const sb_err *err);

#endif
