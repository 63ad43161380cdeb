/* The transformer forward pass: token ids of a batch of texts -> last hidden states.
 *
 * Padding-free batching: the tokens of all texts in a batch are rows of one matrix, so every
 * Linear layer is one GEMM over all of them and no FLOP is spent on padding; only attention
 * looks at text boundaries. */
#ifndef SBERT_ENCODER_H
#define SBERT_ENCODER_H

#include <stddef.h>
#include <stdint.h>
#include "base/base.h"
#include "model/model.h"

/* The texts of one forward pass: text i is ids[text_start[i] .. text_start[i + 1]). Per-token
 * inputs other than the ids belong here. */
typedef struct {
    const int32_t *ids;
    const int32_t *types;    /* the tokens' types (below type_vocab_size; a cross-encoder's
                                pair template gives them), or NULL: all 0 */
    const int *text_start;   /* [n_texts + 1] */
    int n_texts;
} sb_encoder_batch;

/* A run of whole texts [first, end) (indices into the batch's texts). */
typedef struct {
    int first, end;
} sb_text_run;

/* How a batch goes through each layer, worked out once per forward pass (the same for every
 * layer): groups of whole texts of up to SB_GROUP_ROWS rows (a longer text is a group of its
 * own) go through a whole layer while their rows are in cache; inside a group, attention projects
 * q, k and v for runs of whole texts of up to SB_ATTN_ROWS rows. */
typedef struct {
    int n_groups;
    sb_text_run *groups;     /* [max_texts] */
    int *group_runs;         /* [max_texts + 1]: group g's runs are runs[group_runs[g] ..
                                group_runs[g + 1]) */
    sb_text_run *runs;       /* [max_texts] */
} sb_batch_plan;

/* Working memory for one context: room for max_texts texts per forward pass from the start, and
 * for the tokens grown on demand (sb_encoder_state_reserve) to the largest pass and the longest
 * text seen; nothing is allocated during a forward pass. Attention works on tiles of keys, so
 * every buffer is linear in the tokens (sb_encoder_state_bytes). */
typedef struct {
    int max_tokens;        /* T_max: rows of every activation matrix (0 until reserved) */
    int max_texts;         /* texts in one forward pass */
    int max_text_tokens;   /* longest text reserved for */
    int n_threads;
    sb_threadpool *threads;  /* the n_threads - 1 workers of this context (NULL: serial) */
    /* Activations, row-major; rows are ld_* floats apart (a little more than their width:
     * encoder.c's padded_row() says why). */
    float *x;              /* [T_max, H]  the hidden state, updated layer by layer */
    float *attn;           /* [G, H]  attention output of one group of texts (G: SB_GROUP_ROWS,
                              or the longest text if longer) */
    float *ffn;            /* [SB_GROUP_ROWS, I] feed-forward activations for one chunk of rows */
    size_t ld_x, ld_attn, ld_ffn;
    float *attn_scratch;   /* per thread: one head's q, k, v, packed keys and values, a tile of
                              scores */
    float *rel_bias;       /* MPNet: [n_heads, 2 max_text_tokens - 1] each head's relative-position
                              bias by key - query offset (encoder.c, relative_bias_table); made
                              again when the state grows to longer texts, read by every layer and
                              text. NULL otherwise */
    float *gemm_scratch;   /* sb_gemm_scratch_floats(n_threads, G, max(H, I)) */
    void *xq;              /* I8 models: x quantized for the next I8 Wqkv or W1, by the
                              LayerNorm that wrote it (sb_q8_rows_bytes(T_max, H)); NULL
                              otherwise */
    sb_batch_plan plan;    /* the current forward pass's groups and attention runs */
} sb_encoder_state;

/* Returns SBERT_OK or SBERT_ERR_NO_MEMORY / SBERT_ERR_TOO_LARGE. Allocates the thread pool and
 * the per-text plan only; the activations come with sb_encoder_state_reserve. */
int sb_encoder_state_init(sb_encoder_state *st, const sbert_model *model, int max_texts,
                          int n_threads);
/* Makes room for a forward pass of `tokens` tokens whose longest text has `text_tokens`: grows
 * (never shrinks) the buffers that are too small. SBERT_OK, NO_MEMORY or TOO_LARGE (on failure
 * the state is as before). */
int sb_encoder_state_reserve(sb_encoder_state *st, const sbert_model *model, int tokens,
                             int text_tokens);
/* The bytes of working memory a state with n_threads threads holds after reserving `tokens`
 * tokens with texts of up to text_tokens. */
size_t sb_encoder_state_bytes(const sbert_model *model, int tokens, int text_tokens,
                              int n_threads);
void sb_encoder_state_free(sb_encoder_state *st);

/* Runs the transformer on the batch's texts. The result: sb_encoder_hidden(st, t) is the last
 * hidden state of token t (counted over the whole batch). Requires at most max_texts texts and a
 * reservation for text_start[n_texts] tokens and the batch's longest text. */
void sb_encoder_forward(const sbert_model *model, sb_encoder_state *st,
                        const sb_encoder_batch *batch);

/* Token t's last hidden state [H] after sb_encoder_forward; the rows of consecutive tokens are
 * sb_encoder_stride(st) floats apart. */
static inline const float *sb_encoder_hidden(const sb_encoder_state *st, int t)
{
    return st->x + (size_t)t * st->ld_x;
}
static inline size_t sb_encoder_stride(const sb_encoder_state *st) { return st->ld_x; }

#endif
