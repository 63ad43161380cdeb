/* CRC-32 with zlib's parameters (IEEE 802.3 polynomial, reflected, initial and final XOR ~0), the
 * checksum that protects the header and tables of a .sbert file (docs/FORMAT.md). */
#ifndef SBERT_CRC32_H
#define SBERT_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues a running CRC over data[0..size), exactly as zlib's crc32(crc, data, size): start with
 * crc = 0; sb_crc32(sb_crc32(0, a, n), b, m) is the CRC of a followed by b. */
uint32_t sb_crc32(uint32_t crc, const void *data, size_t size);

#endif
