/* GEMM driver: C = act(A . W^T + bias) + residual, BLIS-style register blocking without the
 * packing.
 *
 * W is a Linear weight already in PANEL16 order (docs/FORMAT.md): a panel of 16 output columns
 * stores, for every k, 16 consecutive values, which is exactly what a micro-kernel loads as one
 * 16-wide vector, so W needs no packing. Its format (F32, BF16, F16) picks the kernel table; the
 * 2-byte formats are widened to fp32 as they are loaded. A is read in place: the micro-kernel
 * broadcasts one value per row per k, so each row is a sequential stream. I8 weights (PANEL16_Q4)
 * take the same loop nest with the I8 kernels (gemm_q8.c) on A quantized row by row, in one block
 * of k (sb_gemm_q8).
 *
 * C is cut into work units of up to mc rows x a run of columns. One unit:
 *
 *   for each block of k (one block unless k > kc)
 *     for j in columns, step 16*panels     the W micro-panel (kc x 16*panels) comes into L2 once
 *       for i in rows, step mr               and serves every row tile of the unit's A block,
 *         micro-kernel on the mr x 16*panels tile over the block of k        which stays in L2
 *         (sums parked between blocks; epilogue and store after the last)
 *
 * The blocking numbers belong to each ISA's kernel table and are justified there.
 *
 * Threads (threadpool.h) take units dynamically (a core busy with other work then takes fewer).
 * Every C element is computed by one thread with the same operations, so the result is the same
 * for any number of threads. */

#include "kernels/kernels_impl.h"

#include <string.h>

/* ---- portable micro-kernel: 4 x 16 ----------------------------------------------------------
 * 4 rows x 16 columns = 64 accumulators; the j loop is written so the compiler vectorises it with
 * whatever baseline SIMD it has. The 16 weights of each k are first widened to F32. */
#define SCALAR_MR 4

static inline void store_row_scalar(const float *acc, float *c, const float *residual, int n_valid,
                                    const sb_tile_epilogue *ep)
{
    for (int j = 0; j < n_valid; j++) {
        float v = acc[j];
        if (ep->bias) v += ep->bias[j];
        if (ep->act != SB_ACT_IDENTITY) v = sb_act_scalar(v, ep->act);
        if (residual) v += residual[j];
        c[j] = v;
    }
}

static inline void tile_scalar(int rows, sb_weight_format format, int kn, const float *a,
                               size_t lda, const void *w, float *c, size_t ldc, int n_valid,
                               const sb_tile_epilogue *ep)
{
    float acc[SCALAR_MR][SB_PANEL] = {{0}};
    if (ep->sums_in)
        for (int i = 0; i < rows; i++)
            memcpy(acc[i], ep->sums_in + i * SB_TILE_COLS, sizeof acc[i]);
    for (int k = 0; k < kn; k++) {
        float wk[SB_PANEL];
        sb_widen_to_f32((const char *)w + (size_t)k * SB_PANEL * sb_weight_bytes(format), format,
                        wk, SB_PANEL);
        for (int i = 0; i < rows; i++) {
            const float ai = a[(size_t)i * lda + k];
            for (int j = 0; j < SB_PANEL; j++) acc[i][j] += ai * wk[j];
        }
    }
    if (ep->sums_out) { /* not the last block of k */
        for (int i = 0; i < rows; i++)
            memcpy(ep->sums_out + i * SB_TILE_COLS, acc[i], sizeof acc[i]);
        return;
    }
    for (int i = 0; i < rows; i++)
        store_row_scalar(acc[i], c + (size_t)i * ldc,
                         ep->residual ? ep->residual + (size_t)i * ep->ldr : NULL, n_valid, ep);
}

#define SCALAR_TILE(R, F, NAME)                                                              \
    static void tile_scalar_##R##_##NAME(int kn, const float *a, size_t lda, const void *w,  \
                                         size_t panel_stride, float *c, size_t ldc,          \
                                         int n_valid, const sb_tile_epilogue *ep)            \
    {                                                                                        \
        (void)panel_stride;                                                                  \
        tile_scalar(R, F, kn, a, lda, w, c, ldc, n_valid, ep);                               \
    }

#define SCALAR_TILES(F, NAME)                                                                \
    SCALAR_TILE(1, F, NAME) SCALAR_TILE(2, F, NAME)                                          \
    SCALAR_TILE(3, F, NAME) SCALAR_TILE(4, F, NAME)
/* An A block of 64 rows x k = 768 is 192 KB (L2). */
#define SCALAR_TABLE(NAME)                                                                   \
    {                                                                                        \
        .mr = SCALAR_MR, .panels = 1, .mc = 64, .kc = 768,                                   \
        .tile = {{ tile_scalar_1_##NAME, tile_scalar_2_##NAME, tile_scalar_3_##NAME,         \
                   tile_scalar_4_##NAME }},                                                  \
    }

SCALAR_TILES(SB_WEIGHTS_F32, f32)
SCALAR_TILES(SB_WEIGHTS_BF16, bf16)
SCALAR_TILES(SB_WEIGHTS_F16, f16)
static const sb_gemm_kernels kernels_scalar[SB_FLOAT_FORMATS] = SB_FLOAT_TABLES(SCALAR_TABLE);

/* ---- dispatch --------------------------------------------------------------------------------- */
/* The micro-kernels for a weight format on the best ISA that has them. Every format must have a
 * portable table, so that a model the loader accepted always runs. */
static const sb_gemm_kernels *kernels_for(sb_isa isa, sb_weight_format format)
{
    switch (isa) {
#ifdef SB_X86
    case SB_ISA_AVX512: return &sb_gemm_kernels_avx512[format];
    case SB_ISA_AVX2: return &sb_gemm_kernels_avx2[format];
#endif
#ifdef SB_ARM64
    case SB_ISA_NEON: return &sb_gemm_kernels_neon[format];
#endif
    default: return &kernels_scalar[format];
    }
}

/* Per thread: the parked sums of a unit's tiles between blocks of k (A is read in place). */
#define SCRATCH_PER_THREAD (256 * 256)

size_t sb_gemm_scratch_floats(int n_threads, int max_rows, int max_k)
{
    const size_t q8_floats = (sb_q8_rows_bytes(max_rows, max_k) + sizeof(float) - 1) / sizeof(float);
    return (size_t)(n_threads > 1 ? n_threads : 1) * SCRATCH_PER_THREAD + q8_floats;
}

/* ---- work units ------------------------------------------------------------------------------ */
typedef struct {
    const float *a;             /* F32/BF16/F16 weights: A as it is */
    size_t lda;
    const sb_q8_rows *qa;       /* I8 weights: A quantized */
    const uint8_t *qa_bytes;    /* the rows the I8 tiles read: qa->q, or qa->prep */
    size_t qa_ld;
    int m;
    const sb_linear *w;
    float *c;
    size_t ldc;
    sb_activation act;
    const float *residual;
    size_t ldr;
    const sb_gemm_kernels *kern;       /* one of these two */
    const sb_gemm_q8_kernels *q8;
    int mr, width, mc, kc_max;         /* the table's tile and blocking */
    float *scratch;             /* SCRATCH_PER_THREAD floats per thread */
    int k_blocks, kc;           /* k in k_blocks blocks of at most kc */
    int unit_rows, unit_cols;   /* a unit's size: rows a multiple of mr, columns of the tile width */
    int col_units;              /* units across n */
} gemm_job;

static int min_int(int a, int b) { return a < b ? a : b; }
static int ceil_div(int a, int b) { return (a + b - 1) / b; }

/* W streams from memory once per unit of rows: a last unit of fewer than mc / 2 rows would cost a
 * whole pass over W for little work (128 rows, one text of 128 tokens, were 96 + 32), so up to
 * 1.5 mc rows make one unit. */
static int one_row_unit(const gemm_job *job)
{
    return job->m > job->mc && job->m <= job->mc + job->mc / 2;
}

/* Units of mc rows (see one_row_unit); the columns are cut too when that leaves fewer than 4
 * units per thread, so that dynamic scheduling can even out threads slowed by other work, and
 * when the parked sums of a unit's tiles would not fit the thread's scratch.
 * k longer than kc is cut into even blocks: the A block (mc x kc) and the W micro-panel being used
 * (kc x 32) then stay in L2 (a 96 x 3072 A block is 1.1 MB, more than Zen 4/5's 1 MB L2, and came
 * back from L3 for every micro-panel). */
static void plan_units(gemm_job *job, int n_threads)
{
    const int n = job->w->n_out, k = job->w->n_in;
    const int row_units = one_row_unit(job) ? 1 : ceil_div(job->m, job->mc);
    const int tiles = ceil_div(n, job->width);
    const int wanted = n_threads > 1 ? min_int(tiles, ceil_div(4 * n_threads, row_units)) : 1;
    int unit_tiles = ceil_div(tiles, wanted); /* tile columns per unit */
    job->k_blocks = k > job->kc_max ? ceil_div(k, job->kc_max) : 1;
    job->kc = ceil_div(k > 0 ? k : 1, job->k_blocks);
    job->unit_rows = one_row_unit(job) ? job->m : job->mc;
    if (job->k_blocks > 1) /* a unit parks unit_rows x SB_TILE_COLS sums per tile column */
        unit_tiles = min_int(unit_tiles, SCRATCH_PER_THREAD / (job->unit_rows * SB_TILE_COLS));
    job->unit_cols = unit_tiles * job->width;
    job->col_units = ceil_div(n, job->unit_cols);
}

/* The tiles of one column run of an I8 unit: one block of k (see sb_gemm_q8). */
/* The epilogue of an I8 tile or unit whose first element is C[i][j]. */
static sb_tile_epilogue q8_epilogue(const gemm_job *job, int i, int j)
{
    const sb_linear *w = job->w;
    return (sb_tile_epilogue){
        .bias = w->bias ? w->bias + j : NULL,
        .act = job->act,
        .residual = job->residual ? job->residual + (size_t)i * job->ldr + j : NULL,
        .ldr = job->ldr,
        .row_scale = job->qa->scale + i,
        .row_zero = job->qa->zero + i,
        .col_scale = w->scale + j,
        .col_sum = w->col_sum + j,
    };
}

static void run_q8_columns(const gemm_job *job, int i0, int i1, int j, int n_valid)
{
    const sb_linear *w = job->w;
    const sb_tile_kernel_q8 *tiles = job->q8->tile[ceil_div(n_valid, SB_PANEL) - 1];
    const int8_t *panel = (const int8_t *)w->weight + (size_t)(j / SB_PANEL) * sb_panel_bytes(w);
    const int k4 = (int)(sb_q8_padded_k(w->n_in) / SB_Q8_QUAD);
    for (int i = i0; i < i1; i += job->mr) {
        const sb_tile_epilogue ep = q8_epilogue(job, i, j);
        tiles[min_int(job->mr, i1 - i) - 1](k4, job->qa_bytes + (size_t)i * job->qa_ld,
                                             job->qa_ld, panel,
                                             sb_panel_bytes(w), job->c + (size_t)i * job->ldc + j,
                                             job->ldc, n_valid, &ep);
    }
}

/* An I8 unit handed whole to a kernel table's unit function. */
static void run_q8_unit(const gemm_job *job, int i0, int i1, int j0, int j1)
{
    const sb_linear *w = job->w;
    const sb_q8_unit unit = {
        .rows = i1 - i0, .cols = j1 - j0,
        .k4 = (int)(sb_q8_padded_k(w->n_in) / SB_Q8_QUAD),
        .a = job->qa_bytes + (size_t)i0 * job->qa_ld, .ldq = job->qa_ld,
        .w = (const int8_t *)w->weight + (size_t)(j0 / SB_PANEL) * sb_panel_bytes(w),
        .panel_stride = sb_panel_bytes(w),
        .c = job->c + (size_t)i0 * job->ldc + j0, .ldc = job->ldc,
        .ep = q8_epilogue(job, i0, j0),
    };
    job->q8->unit(&unit);
}

static void run_unit(const gemm_job *job, int unit, float *parked)
{
    const int k = job->w->n_in, n = job->w->n_out, width = job->width;
    const size_t panel_stride = (size_t)k * SB_PANEL; /* in elements */
    const size_t element = sb_weight_bytes(job->w->format);
    const int i0 = unit / job->col_units * job->unit_rows, i1 = min_int(job->m, i0 + job->unit_rows);
    const int j0 = unit % job->col_units * job->unit_cols, j1 = min_int(n, j0 + job->unit_cols);
    if (job->q8 && job->q8->unit) {
        run_q8_unit(job, i0, i1, j0, j1);
        return;
    }
    if (job->q8) {
        for (int j = j0; j < j1; j += width)
            run_q8_columns(job, i0, i1, j, min_int(width, n - j));
        return;
    }
    for (int block = 0; block < job->k_blocks; block++) {
        const int k0 = block * job->kc, kn = min_int(job->kc, k - k0);
        float *sums = parked;   /* the next tile's parked sums */
        for (int j = j0; j < j1; j += width) {
            const int n_valid = min_int(width, n - j);
            const sb_tile_kernel *tiles = job->kern->tile[ceil_div(n_valid, SB_PANEL) - 1];
            const void *w = (const char *)job->w->weight +
                            ((size_t)(j / SB_PANEL) * panel_stride + (size_t)k0 * SB_PANEL) * element;
            for (int i = i0; i < i1; i += job->mr, sums += job->mr * SB_TILE_COLS) {
                const sb_tile_epilogue ep = {
                    .bias = job->w->bias ? job->w->bias + j : NULL,
                    .act = job->act,
                    .residual = job->residual ? job->residual + (size_t)i * job->ldr + j : NULL,
                    .ldr = job->ldr,
                    .sums_in = block > 0 ? sums : NULL,
                    .sums_out = block + 1 < job->k_blocks ? sums : NULL,
                };
                tiles[min_int(job->mr, i1 - i) - 1](kn, job->a + (size_t)i * job->lda + k0,
                                                     job->lda, w, panel_stride,
                                                     job->c + (size_t)i * job->ldc + j, job->ldc,
                                                     n_valid, &ep);
            }
        }
    }
}

/* Below about a million multiply-adds, waking the other threads costs more than it saves. */
#define GEMM_PARALLEL_MIN_WORK (1 << 20)

static void gemm_task(void *arg, int unit, int thread)
{
    const gemm_job *job = arg; /* I8 jobs have no scratch (one block of k: nothing parked) */
    run_unit(job, unit, job->scratch ? job->scratch + (size_t)thread * SCRATCH_PER_THREAD : NULL);
}

static void run_job(gemm_job *job, sb_threadpool *threads)
{
    const double work = (double)job->m * job->w->n_out * (job->w->n_in > 0 ? job->w->n_in : 1);
    const int n_threads = work < GEMM_PARALLEL_MIN_WORK ? 1 : sb_threadpool_threads(threads);
    plan_units(job, n_threads);
    const int units = ceil_div(job->m, job->unit_rows) * job->col_units;
    sb_threadpool_run(threads, units, n_threads, gemm_task, job);
}

void sb_gemm_q8(const sb_q8_rows *A, int m, const sb_linear *W, float *C, size_t ldc,
                sb_activation act, const float *residual, size_t ldr, sb_threadpool *threads)
{
    if (m <= 0 || W->n_out <= 0) return;
    const sb_gemm_q8_kernels *q8 = sb_q8_kernels();
    if (q8->prepare_row && !A->prep) /* rows quantized for other kernels: the same sums here */
        q8 = &sb_gemm_q8_kernels_scalar;
    gemm_job job = {
        .qa = A, .qa_bytes = q8->prepare_row ? A->prep : A->q,
        .qa_ld = q8->prepare_row ? A->ldp : A->ldq, .m = m, .w = W, .c = C, .ldc = ldc,
        .act = act, .residual = residual, .ldr = ldr, .q8 = q8, .mr = q8->mr,
        .width = q8->panels * SB_PANEL, .mc = q8->mc,
        .kc_max = SB_Q8_MAX_IN, /* one block: the int32 sums cannot overflow (model.h) */
    };
    run_job(&job, threads);
}

void sb_gemm(const float *A, size_t lda, int m, const sb_linear *W, float *C, size_t ldc,
             sb_activation act, const float *residual, size_t ldr, float *scratch,
             sb_threadpool *threads)
{
    if (m <= 0 || W->n_out <= 0) return;
    if (W->format == SB_WEIGHTS_I8) { /* A quantized into the scratch past the threads' parts */
        const int n_threads = sb_threadpool_threads(threads);
        const sb_q8_rows qa = sb_q8_rows_in(
            scratch + (size_t)(n_threads > 1 ? n_threads : 1) * SCRATCH_PER_THREAD, m, W->n_in);
        sb_quantize_rows(A, lda, m, W->n_in, &qa, threads);
        sb_gemm_q8(&qa, m, W, C, ldc, act, residual, ldr, threads);
        return;
    }
    const sb_gemm_kernels *kern = kernels_for(sb_kernels_isa(), W->format);
    gemm_job job = {
        .a = A, .lda = lda, .m = m, .w = W, .c = C, .ldc = ldc, .act = act,
        .residual = residual, .ldr = ldr, .kern = kern, .mr = kern->mr,
        .width = kern->panels * SB_PANEL, .mc = kern->mc, .kc_max = kern->kc, .scratch = scratch,
    };
    run_job(&job, threads);
}
