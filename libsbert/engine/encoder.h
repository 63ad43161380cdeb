/* The transformer forward pass: token ids of a batch of texts -> last hidden states.
 *
 * Padding-free batching: the tokens of all texts in a batch are rows of one matrix, so every
 * Linear layer is one GEMM over all of them and no FLOP is spent on padding; only attention
 * looks at text boundaries. */
#ifndef SBERT_ENCODER_H
#define SBERT_ENCODER_H

#include <stddef.h>
#include <stdint.h>
#include "model/model.h"
#include "base/base.h"

/* Working memory for one context, sized once for at most max_tokens tokens per forward pass and
 * max_text_tokens tokens per text; nothing is allocated during a forward pass. */
typedef struct {
    int max_tokens;        /* T_max: rows of every activation matrix */
    int max_text_tokens;   /* longest text (attention score row length) */
    int n_threads;
    sb_threadpool *threads;  /* the n_threads - 1 workers of this context (NULL: serial) */
    /* Activations, row-major; rows are ld_* floats apart (a little more than their width:
     * encoder.c's padded_row() says why). */
    float *x;              /* [T_max, H]  the hidden state, updated layer by layer */
    float *attn;           /* [G, H]  attention output of one group of texts (G: encoder.c's
                              SB_GROUP_ROWS, or the longest text if longer) */
    float *ffn;            /* [SB_GROUP_ROWS, I] feed-forward activations for one chunk of rows */
    size_t ld_x, ld_attn, ld_ffn;
    float *attn_scratch;   /* per thread: one head's q, k, v, scores [n, n], packed keys, values */
    float *gemm_scratch;   /* sb_gemm_scratch_floats(n_threads, G, max(H, I)) */
    void *xq;              /* I8 models: a group's rows of x quantized once for all the heads'
                              projections (sb_q8_rows_bytes(G, H)); NULL otherwise */
} sb_encoder_state;

/* Returns SBERT_OK or SBERT_ERR_NO_MEMORY / SBERT_ERR_TOO_LARGE. */
int sb_encoder_state_init(sb_encoder_state *st, const sbert_model *model, int max_tokens,
                          int max_text_tokens, int n_threads);
void sb_encoder_state_free(sb_encoder_state *st);

/* Runs the transformer on n_texts texts whose ids are concatenated in ids[0..text_start[n_texts]);
 * text i is ids[text_start[i] .. text_start[i+1]). The result is st->x: row t (at
 * st->x + t * st->ld_x) is the last hidden state of token t. Requires text_start[n_texts] <=
 * max_tokens and every text at most max_text_tokens long (the caller batches accordingly). */
void sb_encoder_forward(const sbert_model *model, sb_encoder_state *st, const int32_t *ids,
                        const int *text_start, int n_texts);

#endif
