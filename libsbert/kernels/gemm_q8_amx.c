/* I8 GEMM on AMX (Intel Xeon from Sapphire Rapids on: AMX-TILE + AMX-INT8; compiled with
 * -mamx-tile -mamx-int8 on top of the AVX512-VNNI flags, used only when cpu.c finds AMX and the
 * operating system lets the process use it).
 *
 * An AMX tile register holds 16 rows of 64 bytes. tdpbusd multiplies a tile of A (16 rows x 64
 * unsigned bytes of k) by a tile of W (16 quads of k x 16 columns x 4 signed bytes) into 16 x 16
 * int32 sums: 16,384 multiply-adds in one instruction, summed exactly, as vpdpbusd does. A W tile
 * is exactly 16 consecutive quads of a PANEL16_Q4 panel (1 KB, 64 bytes a row), and an A tile 16
 * quantized rows (ldq apart), so neither is packed. The sums, and so the results, are the same
 * bits as the AVX512-VNNI kernels'.
 *
 * A block is 32 rows x 32 columns: two A tiles and two W tiles feed four C tiles (all eight tile
 * registers), four tdpbusd per four tile loads. The tile configuration (rows per tile) is loaded
 * once per work unit, not per block: loading it costs about a fifth of a 32 x 32 x 768 block
 * (docs/bench/2026-12-08-run16.md). It is this thread's until the next unit, which loads its own,
 * so another library's tiles in the same thread are never assumed; the unit ends with
 * tilerelease, which leaves no tile state for the kernel to save at a context switch.
 *
 * k runs in steps of 64 bytes (16 quads); the quads past the last whole step (n_in not a multiple
 * of 64) are added to the stored sums with vpdpbusd. */
#include "kernels/kernels_impl.h"
/* GCC names the AMX feature macros __AMX_INT8__ / __AMX_TILE__, clang __AMXINT8__ / __AMXTILE__ */
#if defined(SB_X86) && (defined(__AMX_INT8__) || defined(__AMXINT8__)) && \
    (defined(__AMX_TILE__) || defined(__AMXTILE__))
#include <immintrin.h>
#include <string.h>

#include "kernels/simd_avx512.h"
#include "kernels/vecmath.h"
#include "kernels/gemm_simd.h"
#include "kernels/gemm_q8_zmm.h"

enum { TILE_ROWS = 16, TILE_QUADS = 16, TILE_BYTES = 64, BLOCK_ROWS = 2 * TILE_ROWS };
/* The tile registers (literal numbers: GCC's tile intrinsics paste them into the assembly):
 * A's two row tiles, W's two panels, C's four tiles (row tile, panel). */
#define TA0 0
#define TA1 1
#define TW0 2
#define TW1 3
#define TC00 4
#define TC01 5
#define TC10 6
#define TC11 7
#define C_STRIDE (SB_TILE_COLS * (int)sizeof(int32_t)) /* bytes between rows of parked sums */

/* ldtilecfg's 64-byte operand, palette 1 */
typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} tile_config;

/* Blocks of `rows` rows (1 .. 32): A and C tiles of min(rows, 16) and rows - 16 rows. */
static void load_config(int rows)
{
    tile_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    const int top = rows < TILE_ROWS ? rows : TILE_ROWS, bottom = rows - top;
    static const int a_tiles[2] = { TA0, TA1 }, c_tiles[2][2] = { { TC00, TC01 }, { TC10, TC11 } };
    for (int half = 0; half < 2; half++) {
        const int n = half ? bottom : top;
        if (n == 0) continue; /* a tile left at 0 rows is unconfigured and never used */
        cfg.rows[a_tiles[half]] = (uint8_t)n, cfg.colsb[a_tiles[half]] = TILE_BYTES;
        for (int p = 0; p < 2; p++)
            cfg.rows[c_tiles[half][p]] = (uint8_t)n, cfg.colsb[c_tiles[half][p]] = TILE_BYTES;
    }
    cfg.rows[TW0] = cfg.rows[TW1] = TILE_QUADS, cfg.colsb[TW0] = cfg.colsb[TW1] = TILE_BYTES;
    /* Not GCC 12's _tile_loadconfig, whose asm says it reads 8 bytes: at -O3 GCC then dropped the
     * stores to rows[] and colsb[], and the first tile instruction faulted. The memory clobber
     * also orders every earlier store to A and W before the tile loads, whose asm names no
     * memory operand. */
    __asm__ volatile("ldtilecfg %0" : : "m"(cfg) : "memory");
}

/* out[32][SB_TILE_COLS] = the sums over the whole 64-byte steps of k of a block: two row tiles
 * when TWO_ROWS (else the top one), two panels when P = 2. */
static inline __attribute__((always_inline)) void
dot_block(const int TWO_ROWS, const int P, int steps, const uint8_t *a, size_t ldq,
          const int8_t *w, size_t panel_stride, int32_t *out)
{
    const uint8_t *a_bottom = a + TILE_ROWS * ldq;
    _tile_zero(TC00);
    if (P == 2) _tile_zero(TC01);
    if (TWO_ROWS) _tile_zero(TC10);
    if (TWO_ROWS && P == 2) _tile_zero(TC11);
    for (int s = 0; s < steps; s++) {
        const int8_t *ws = w + (size_t)s * TILE_QUADS * TILE_BYTES;
        _tile_loadd(TW0, ws, TILE_BYTES);
        if (P == 2) _tile_loadd(TW1, ws + panel_stride, TILE_BYTES);
        _tile_loadd(TA0, a + (size_t)s * TILE_BYTES, ldq);
        _tile_dpbusd(TC00, TA0, TW0);
        if (P == 2) _tile_dpbusd(TC01, TA0, TW1);
        if (TWO_ROWS) {
            _tile_loadd(TA1, a_bottom + (size_t)s * TILE_BYTES, ldq);
            _tile_dpbusd(TC10, TA1, TW0);
            if (P == 2) _tile_dpbusd(TC11, TA1, TW1);
        }
    }
    _tile_stored(TC00, out, C_STRIDE);
    if (P == 2) _tile_stored(TC01, out + SB_PANEL, C_STRIDE);
    if (TWO_ROWS) _tile_stored(TC10, out + TILE_ROWS * SB_TILE_COLS, C_STRIDE);
    if (TWO_ROWS && P == 2) _tile_stored(TC11, out + TILE_ROWS * SB_TILE_COLS + SB_PANEL, C_STRIDE);
}

/* out += the products of quads first .. k4 - 1 (fewer than a step) for `rows` rows, P panels */
static void dot_tail(int rows, int P, int first, int k4, const uint8_t *a, size_t ldq,
                     const int8_t *w, size_t panel_stride, int32_t *out)
{
    for (int i = 0; i < rows; i++)
        for (int p = 0; p < P; p++) {
            int32_t *sums = out + i * SB_TILE_COLS + p * SB_PANEL;
            __m512i acc = _mm512_loadu_si512(sums);
            for (int q = first; q < k4; q++) {
                int32_t four;
                memcpy(&four, a + (size_t)i * ldq + (size_t)q * SB_Q8_QUAD, 4);
                acc = _mm512_dpbusd_epi32(acc, _mm512_set1_epi32(four),
                                          _mm512_loadu_si512(w + p * panel_stride +
                                                             (size_t)q * TILE_BYTES));
            }
            _mm512_storeu_si512(sums, acc);
        }
}

/* The epilogue's pointers moved to row i, column j of the unit. */
static sb_tile_epilogue epilogue_at(const sb_tile_epilogue *ep, int i, int j)
{
    sb_tile_epilogue at = *ep;
    at.bias = ep->bias ? ep->bias + j : NULL;
    at.residual = ep->residual ? ep->residual + (size_t)i * ep->ldr + j : NULL;
    at.row_scale = ep->row_scale + i, at.row_zero = ep->row_zero + i;
    at.col_scale = ep->col_scale + j, at.col_sum = ep->col_sum + j;
    return at;
}

/* One block of `rows` rows at row i, n_valid columns at column j (the loaded configuration's). */
static void block(const sb_q8_unit *u, int i, int rows, int j, int n_valid)
{
    int32_t sums[BLOCK_ROWS * SB_TILE_COLS] __attribute__((aligned(64)));
    const int steps = u->k4 / TILE_QUADS, P = n_valid > SB_PANEL ? 2 : 1;
    const uint8_t *a = u->a + (size_t)i * u->ldq;
    const int8_t *w = u->w + (size_t)(j / SB_PANEL) * u->panel_stride;
    if (steps > 0) {
        if (rows > TILE_ROWS)
            P == 2 ? dot_block(1, 2, steps, a, u->ldq, w, u->panel_stride, sums)
                   : dot_block(1, 1, steps, a, u->ldq, w, u->panel_stride, sums);
        else
            P == 2 ? dot_block(0, 2, steps, a, u->ldq, w, u->panel_stride, sums)
                   : dot_block(0, 1, steps, a, u->ldq, w, u->panel_stride, sums);
    } else {
        memset(sums, 0, sizeof sums);
    }
    if (steps * TILE_QUADS < u->k4)
        dot_tail(rows, P, steps * TILE_QUADS, u->k4, a, u->ldq, w, u->panel_stride, sums);
    for (int top = 0; top < rows; top += TILE_ROWS) { /* the epilogue 16 rows at a time */
        const sb_tile_epilogue ep = epilogue_at(&u->ep, i + top, j);
        const int r = rows - top < TILE_ROWS ? rows - top : TILE_ROWS;
        float *c = u->c + (size_t)(i + top) * u->ldc + j;
        if (P == 2)
            finish_q8_tile(r, 2, sums + top * SB_TILE_COLS, c, u->ldc, n_valid, &ep);
        else
            finish_q8_tile(r, 1, sums + top * SB_TILE_COLS, c, u->ldc, n_valid, &ep);
    }
}

/* Rows first .. last - 1, in blocks of block_rows, for every column pair of the unit. */
static void run_blocks(const sb_q8_unit *u, int first, int last, int block_rows)
{
    load_config(block_rows);
    for (int j = 0; j < u->cols; j += SB_TILE_COLS) /* a W micro-panel serves every block */
        for (int i = first; i < last; i += block_rows)
            block(u, i, block_rows, j, u->cols - j < SB_TILE_COLS ? u->cols - j : SB_TILE_COLS);
}

static void unit_amx(const sb_q8_unit *u)
{
    const int whole = u->rows / BLOCK_ROWS * BLOCK_ROWS;
    if (whole > 0) run_blocks(u, 0, whole, BLOCK_ROWS);
    if (whole < u->rows) run_blocks(u, whole, u->rows, u->rows - whole);
    _tile_release();
}

static const sb_gemm_q8_kernels kernels_amx = {
    .mr = BLOCK_ROWS, .panels = 2,
    /* the A block stays in L2 (128 x 3072 bytes: 384 KB) while W's micro-panels pass */
    .mc = 128,
    .unit = unit_amx,
    .quantize_row = sb_q8_quantize_row_avx512,
    .column_sums = sb_q8_column_sums_avx512,
};
const sb_gemm_q8_kernels *const sb_gemm_q8_kernels_amx = &kernels_amx;
#elif defined(SB_X86)
const sb_gemm_q8_kernels *const sb_gemm_q8_kernels_amx = NULL;
#endif
