/* Large working memory: 64-byte aligned, and backed by transparent huge pages when big.
 *
 * Why huge pages: on the virtual machines this library is often run on, every first touch of a
 * 4 KB page is a fault costing ~20 us (measured here), so a context's activation buffers and a
 * copy of the weights would spend milliseconds to hundreds of milliseconds in faults; one 2 MB
 * page replaces 512 of them and also relieves the TLB while the GEMMs stream through. */
#ifndef SBERT_MEMORY_H
#define SBERT_MEMORY_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* `bytes` of storage, 64-byte aligned, released with free(). Buffers of 4 MB or more are 2 MB
 * aligned and advised to use huge pages (a hint: ignored where unsupported). The size is exact,
 * so AddressSanitizer catches any access past the end. NULL when out of memory or when bytes
 * exceed the address space. */
void *sb_alloc_aligned(uint64_t bytes);

/* The huge-page hint for [p, p + size) (whole pages inside it); no-op where unsupported. */
void sb_advise_huge_pages(void *p, uint64_t size);

/* ---- growable arrays (grown, never shrunk; freed by their owner with free()) --------------------
 * Makes room for `need` elements of `elem` bytes in *data (capacity *cap, in elements; doubling,
 * from 64). Returns SBERT_OK, SBERT_ERR_TOO_LARGE when the size would overflow, or
 * SBERT_ERR_NO_MEMORY; on failure *data and *cap are unchanged. */
int sb_grow(void **data, size_t *cap, size_t need, size_t elem);
static inline int sb_reserve(void **data, size_t *cap, size_t need, size_t elem)
{
    return need <= *cap ? SBERT_OK : sb_grow(data, cap, need, elem);
}

#endif
