/* See memory.h. */
#define _POSIX_C_SOURCE 200809L /* posix_memalign, sysconf */
#include "memory.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE (2u << 20)
#define HUGE_PAGE_MIN_BYTES (4u << 20)
#define CACHE_LINE 64

void sb_advise_huge_pages(void *p, uint64_t size)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t begin = ((uintptr_t)p + page - 1) / page * page;
    const uintptr_t end = ((uintptr_t)p + (uintptr_t)size) / page * page;
    if (end > begin)
        madvise((void *)begin, end - begin, MADV_HUGEPAGE);
#else
    (void)p;
    (void)size;
#endif
}

/* posix_memalign rather than aligned_alloc: it takes any size, so the buffer is exactly as long as
 * asked. */
void *sb_alloc_aligned(uint64_t bytes)
{
    void *p;
    const size_t align = bytes >= HUGE_PAGE_MIN_BYTES ? HUGE_PAGE : CACHE_LINE;
    if (bytes > SIZE_MAX || posix_memalign(&p, align, bytes ? (size_t)bytes : 1) != 0)
        return NULL;
    if (bytes >= HUGE_PAGE_MIN_BYTES)
        sb_advise_huge_pages(p, bytes);
    return p;
}

int sb_grow(void **data, size_t *cap, size_t need, size_t elem)
{
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem)
            return SBERT_ERR_TOO_LARGE;
        c *= 2;
    }
    void *p = realloc(*data, c * elem);
    if (!p)
        return SBERT_ERR_NO_MEMORY;
    *data = p;
    *cap = c;
    return SBERT_OK;
}
