/* The vocabulary hash table: built once when the tokenizer is created, read-only after. */
#include "tokenizer/internal.h"

#include <stdlib.h>
#include <string.h>

#include "sbert.h"

int sb_vocab_build(sb_vocab *v, const sb_str *strings, uint32_t n)
{
    if (n > 1u << 30)
        return SBERT_ERR_TOO_LARGE;
    uint32_t slots = 16;
    while (slots < 2ull * n) /* at most half full: short probe sequences */
        slots *= 2;
    memset(v, 0, sizeof *v);
    v->slots = malloc((size_t)slots * sizeof *v->slots);
    if (!v->slots)
        return SBERT_ERR_NO_MEMORY;
    for (uint32_t i = 0; i < slots; i++)
        v->slots[i].id = -1;
    v->mask = slots - 1;
    v->strings = strings;
    for (uint32_t id = 0; id < n; id++) {
        const sb_str s = strings[id];
        if (s.len == 0)
            continue;
        const uint32_t h = sb_hash_bytes(SB_HASH_INIT, (const uint8_t *)s.ptr, s.len);
        uint32_t i = h & v->mask;
        while (v->slots[i].id >= 0 &&
               !(v->slots[i].hash == h && strings[v->slots[i].id].len == s.len &&
                 memcmp(strings[v->slots[i].id].ptr, s.ptr, s.len) == 0))
            i = (i + 1) & v->mask;
        v->slots[i].hash = h;
        v->slots[i].id = (int32_t)id; /* a duplicate string takes the later id */
        if (s.len > v->max_len)
            v->max_len = s.len;
    }
    return SBERT_OK;
}

void sb_vocab_free(sb_vocab *v)
{
    free(v->slots);
    v->slots = NULL;
}

int32_t sb_vocab_find(const sb_vocab *v, uint32_t h, const uint8_t *a, size_t na,
                      const uint8_t *b, size_t nb)
{
    for (uint32_t i = h & v->mask;; i = (i + 1) & v->mask) {
        const sb_vocab_slot slot = v->slots[i];
        if (slot.id < 0)
            return -1;
        if (slot.hash != h)
            continue;
        const sb_str s = v->strings[slot.id];
        if (s.len == na + nb && memcmp(s.ptr, a, na) == 0 && memcmp(s.ptr + na, b, nb) == 0)
            return slot.id;
    }
}
