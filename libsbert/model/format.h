/* Every constant of the .sbert file format (docs/FORMAT.md) in one place: what
 * tools/convert_safetensors.py writes and model_file*.c reads. Changing one changes the format:
 * bump SB_FORMAT_VERSION with it. */
#ifndef SBERT_FORMAT_H
#define SBERT_FORMAT_H

#include <stdint.h>

#define SB_FORMAT_VERSION 1
#define SB_FORMAT_MAGIC {'S', 'B', 'E', 'R', 'T', 'M', 'F', '\0'}
#define SB_FORMAT_HEADER_SIZE 96
#define SB_FORMAT_CHECKSUM_AT 88 /* byte offset of the checksum field in the header */
#define SB_FORMAT_ALIGN 64       /* the data section and every tensor start on this boundary */

/* ---- key/value section: value types ---------------------------------------------------------- */
typedef enum {
    SB_KV_U32 = 1,
    SB_KV_I32 = 2,
    SB_KV_F32 = 3,
    SB_KV_BOOL = 4,
    SB_KV_STR = 5,
    SB_KV_ARR_I32 = 6,
    SB_KV_ARR_F32 = 7,
    SB_KV_ARR_STR = 8,
    SB_KV_BYTES = 9,
} sb_kv_type;

/* The smallest entry: key length, an empty key, type, a 4-byte value. Bounds n_kv before any
 * allocation, so a damaged count cannot ask for more memory than the section could describe. */
#define SB_KV_MIN_ENTRY_BYTES 12

/* ---- tensor table ---------------------------------------------------------------------------- */
enum { SB_DTYPE_F32 = 0, SB_DTYPE_F16 = 1, SB_DTYPE_BF16 = 2, SB_DTYPE_I8 = 3 };
enum { SB_LAYOUT_ROW_MAJOR = 0, SB_LAYOUT_PANEL16 = 1, SB_LAYOUT_PANEL16_Q4 = 2 };
#define SB_TENSOR_MAX_DIMS 4
/* The smallest entry: name length, empty name, dtype, layout, n_dims, one dim, offset, nbytes. */
#define SB_TENSOR_MIN_ENTRY_BYTES (4 + 4 + 4 + 4 + 8 + 8 + 8)

#endif
