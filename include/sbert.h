/* libsbert — sentence-transformers embedding models in plain C.
 *
 * Same vectors as Python sentence-transformers, from a single mapped model file made by
 * tools/convert_safetensors.py. C11, libc (with its pthreads) and libm only.
 *
 * Usage (the whole program, every return code checked: examples/quickstart.c):
 *
 *     sbert_model *model = NULL;
 *     char err[256];
 *     if (sbert_model_load("ko-sroberta.sbert", NULL, &model, err, sizeof err) != SBERT_OK) {
 *         fprintf(stderr, "%s\n", err);
 *         return 1;
 *     }
 *     sbert_context *ctx = NULL;
 *     int rc = sbert_context_create(model, NULL, &ctx, err, sizeof err);
 *
 *     const char *texts[2] = { "한 남자가 음식을 먹고 있다.", "한 남자가 말하고 있다." };
 *     size_t dim = sbert_model_dim(model);   // 384, 768, 1024...: never assume one
 *     float *vectors = malloc(2 * dim * sizeof(float));
 *     if (rc == SBERT_OK)
 *         rc = vectors ? sbert_encode(ctx, texts, NULL, 2, NULL, vectors, 2 * dim)
 *                      : SBERT_ERR_NO_MEMORY;
 *     if (rc != SBERT_OK)
 *         fprintf(stderr, "%s: %s\n", sbert_strerror(rc), ctx ? sbert_context_errmsg(ctx) : err);
 *     else
 *         printf("%.4f\n", sbert_cosine(vectors, vectors + dim, dim));
 *
 *     free(vectors);
 *     sbert_context_free(ctx);
 *     sbert_model_free(model);
 *
 * Rules that hold for the whole API:
 * - Every call that can fail returns an int status: SBERT_OK (0) or a negative sbert_status.
 *   sbert_strerror(code) names the code; sbert_context_errmsg(ctx) gives the detailed message of
 *   the context's last failure; sbert_model_load() and sbert_context_create(), which have no handle
 *   yet when they fail, write theirs into the caller's `err` buffer.
 * - The library never aborts, exits or prints.
 * - Output buffers belong to the caller. A call that fills one takes its capacity (in elements)
 *   and returns SBERT_ERR_BUFFER_TOO_SMALL, with the size it needs, when it is too small.
 * - Every *_free() function accepts NULL.
 *
 * Threads:
 * - A loaded sbert_model is immutable. Any number of threads may use one model at once, each
 *   through its own sbert_context. Free the model only after all its contexts are freed.
 * - An sbert_context holds one thread's working memory. It must not be used by two threads at the
 *   same time (use one context per thread, or a lock around it). It may move between threads.
 * - Inside one call the work may be split over `n_threads` threads (sbert_context_params): the
 *   calling thread and n_threads - 1 workers that the context starts and owns (they block all
 *   signals, sleep when idle, and end in sbert_context_free). A model load may briefly use up to
 *   4 threads of its own to fault the file in (sbert_model_params.prefault).
 */
#ifndef SBERT_H
#define SBERT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(SBERT_BUILD_SHARED)
#define SBERT_API __declspec(dllexport)
#elif defined(_WIN32) && defined(SBERT_USE_SHARED)
#define SBERT_API __declspec(dllimport)
#elif defined(__GNUC__)
#define SBERT_API __attribute__((visibility("default")))
#else
#define SBERT_API
#endif

/* ---------------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------------- */
#define SBERT_VERSION_MAJOR 0
#define SBERT_VERSION_MINOR 3
#define SBERT_VERSION_PATCH 3
#define SBERT_VERSION_STRING "0.3.3"
/* SBERT_VERSION_NUMBER is MAJOR * 10000 + MINOR * 100 + PATCH, for #if comparisons. */
#define SBERT_VERSION_NUMBER (SBERT_VERSION_MAJOR * 10000 + SBERT_VERSION_MINOR * 100 + SBERT_VERSION_PATCH)

/* The version of the library actually linked (compare with SBERT_VERSION_STRING). */
SBERT_API const char *sbert_version(void);
/* The model-file format version this library reads (docs/FORMAT.md). */
SBERT_API int sbert_format_version(void);
/* The kernels this process uses, as chosen at run time from the CPU, e.g.
 * "fp32: avx512, int8: avx512-vnni, threads: yes". fp32 (and bf16 / f16 weights): avx512, avx2,
 * neon (AArch64) or scalar; int8: avx512-vnni, avx-vnni, avx2 or portable; the same vectors from
 * each up to
 * rounding (int8: the same integer sums). The environment variable SBERT_ISA, read once, caps the
 * choice: avx512, avx-vnni (AVX2 with AVX-VNNI's int8), avx2 (as a CPU with AVX2 + FMA and no
 * VNNI: Intel to 11th gen, AMD to Zen 3) or scalar. Static storage; safe from any thread. */
SBERT_API const char *sbert_system_info(void);

/* ---------------------------------------------------------------------------------------------
 * Status codes
 * ------------------------------------------------------------------------------------------- */
typedef enum sbert_status {
    SBERT_OK = 0,
    SBERT_ERR_INVALID_ARGUMENT = -1, /* a NULL pointer, a zero size, an option out of range */
    SBERT_ERR_IO = -2,               /* the file cannot be opened, read or mapped */
    SBERT_ERR_NOT_A_MODEL = -3,      /* wrong magic: not a .sbert file (convert it first) */
    SBERT_ERR_VERSION = -4,          /* a .sbert file of a format version this library cannot read */
    SBERT_ERR_TRUNCATED = -5,        /* the file is shorter than its header says */
    SBERT_ERR_CHECKSUM = -6,         /* header or tables damaged (CRC-32 mismatch) */
    SBERT_ERR_CORRUPT = -7,          /* inconsistent content: offsets, sizes, counts, missing keys */
    SBERT_ERR_SHAPE = -8,            /* a tensor's shape does not match the hyper-parameters */
    SBERT_ERR_UNSUPPORTED = -9,      /* a valid file using something this build does not support */
    SBERT_ERR_NO_MEMORY = -10,       /* an allocation failed */
    SBERT_ERR_BUFFER_TOO_SMALL = -11,/* the caller's buffer is too small; the size needed is returned */
    SBERT_ERR_INVALID_UTF8 = -12,    /* a text is not valid UTF-8 (see sbert_context_params.utf8) */
    SBERT_ERR_NOT_FOUND = -13,       /* a named prompt that the model does not define */
    SBERT_ERR_TOO_LARGE = -14,       /* a size that would overflow or exceed a hard limit */
    SBERT_ERR_MODEL_KIND = -15,      /* the call needs the other kind of model: sbert_encode an
                                        embedding model, sbert_rerank / sbert_predict a
                                        cross-encoder (sbert_model_n_labels) */
} sbert_status;

/* A static, human-readable name for a status code; never NULL, even for unknown codes. */
SBERT_API const char *sbert_strerror(int status);

/* ---------------------------------------------------------------------------------------------
 * Model: the immutable, shareable weights, tokenizer and pipeline of one .sbert file
 * ------------------------------------------------------------------------------------------- */
typedef struct sbert_model sbert_model;

typedef struct sbert_model_params {
    int use_mmap;        /* 1 (default): map the file read-only, weights are never copied (the
                            page cache is shared by every process using the file); 0: read all
                            of it into memory (for file systems without mmap) */
    int prefault;        /* with use_mmap, 1 (default): fault the weights in at load, not during
                            the first encode (with up to 4 threads, so that a part of the file
                            that left the page cache is read back by concurrent requests). The
                            word-embedding table is not waited for (a text reads a few of its
                            rows): the kernel reads it in the background. The mapping asks for
                            2 MB pages; with the file in the page cache this takes a few ms for
                            a 440 MB model. 0: pages come in on first use. */
} sbert_model_params;

SBERT_API sbert_model_params sbert_model_default_params(void);

/* Opens and validates a .sbert file. params may be NULL (defaults). On success *model_out is the
 * new model; on failure it is NULL and, when err is not NULL, err receives a NUL-terminated
 * message of at most err_size bytes saying what is wrong and what to do. */
SBERT_API int sbert_model_load(const char *path, const sbert_model_params *params,
                               sbert_model **model_out, char *err, size_t err_size);

/* The same from a buffer the caller owns; nothing is copied, so `data` must stay valid and
 * unchanged until sbert_model_free(). data must be 64-byte aligned for the tensors to be used
 * in place (the loader copies otherwise-unaligned buffers). */
SBERT_API int sbert_model_load_from_memory(const void *data, size_t size, sbert_model **model_out,
                                           char *err, size_t err_size);

SBERT_API void sbert_model_free(sbert_model *model);

/* Queries. All return 0 / NULL for a NULL model. */
SBERT_API size_t sbert_model_dim(const sbert_model *model);            /* length of one embedding
                                                                          (0: a cross-encoder) */
SBERT_API size_t sbert_model_hidden_size(const sbert_model *model);    /* transformer width */
SBERT_API size_t sbert_model_max_seq_length(const sbert_model *model); /* tokens, specials included */
SBERT_API size_t sbert_model_vocab_size(const sbert_model *model);
SBERT_API const char *sbert_model_type(const sbert_model *model);      /* "roberta", "bert", ... */
SBERT_API const char *sbert_model_name(const sbert_model *model);      /* config _name_or_path */

typedef enum sbert_similarity {
    SBERT_SIMILARITY_COSINE = 0,
    SBERT_SIMILARITY_DOT = 1,
    SBERT_SIMILARITY_EUCLIDEAN = 2, /* negative Euclidean distance, as sentence-transformers */
    SBERT_SIMILARITY_MANHATTAN = 3, /* negative Manhattan distance */
} sbert_similarity;

/* The similarity function the model was trained for (config_sentence_transformers.json). */
SBERT_API sbert_similarity sbert_model_similarity(const sbert_model *model);

/* Named prompts (config_sentence_transformers.json "prompts"). i in [0, sbert_model_n_prompts). */
SBERT_API size_t sbert_model_n_prompts(const sbert_model *model);
SBERT_API const char *sbert_model_prompt_name(const sbert_model *model, size_t i);
SBERT_API const char *sbert_model_prompt_text(const sbert_model *model, size_t i);

/* ---------------------------------------------------------------------------------------------
 * Context: one thread's working memory for a model
 * ------------------------------------------------------------------------------------------- */
typedef struct sbert_context sbert_context;

typedef enum sbert_utf8_policy {
    SBERT_UTF8_REJECT = 0,  /* default: invalid UTF-8 fails with SBERT_ERR_INVALID_UTF8 */
    SBERT_UTF8_REPLACE = 1, /* each maximal invalid subsequence is read as U+FFFD, which the
                               BERT normalizer then drops, as Python's errors="replace" would */
} sbert_utf8_policy;

#define SBERT_MAX_BATCH_SIZE 4096
#define SBERT_MAX_THREADS 512
typedef struct sbert_context_params {
    int n_threads;          /* threads inside one call, at most SBERT_MAX_THREADS; 0 (default) =
                               the cores this process may run on (its CPU affinity), at most
                               SBERT_MAX_THREADS */
    size_t batch_size;      /* texts per forward pass in sbert_encode, at most
                               SBERT_MAX_BATCH_SIZE; 0 or default: 32 */
    sbert_utf8_policy utf8; /* what invalid UTF-8 does; default SBERT_UTF8_REJECT */
} sbert_context_params;

SBERT_API sbert_context_params sbert_context_default_params(void);

/* Creates a context for `model` (params may be NULL). The model must outlive the context. On
 * failure *ctx_out is NULL and, when err is not NULL, err receives a NUL-terminated message of at
 * most err_size bytes saying which parameter is wrong or what could not be had (memory, threads). */
SBERT_API int sbert_context_create(const sbert_model *model, const sbert_context_params *params,
                                   sbert_context **ctx_out, char *err, size_t err_size);
SBERT_API void sbert_context_free(sbert_context *ctx);

/* The working memory, in bytes, that a context made with `params` (NULL: the defaults) holds once
 * it has encoded texts of up to `tokens` tokens: its activations and scratch, not the model (the
 * mapped file) and not the call's own token ids (4 bytes a token). A context starts small and
 * grows to this on the first text that long (never reserving the model's maximum up front);
 * attention works on tiles of keys, so it is linear in `tokens` (and in the tokens of one forward
 * pass: up to batch_size texts, at most 16,384 tokens unless one text is longer). For bge-m3's
 * shape (XLM-R large, fp32, 2 threads): 18 MB for texts of 512 tokens and 139 MB for 8,192 with
 * batch_size 1; 84 and 173 MB with the default 32 (docs/bench/long-texts.md). Returns 0 for a
 * NULL model, `tokens` of 0 or past the model's positions, or params sbert_context_create
 * would refuse. */
SBERT_API size_t sbert_context_memory(const sbert_model *model, const sbert_context_params *params,
                                      size_t tokens);

/* The detailed message of the context's last failed call ("" when none). Valid until the next
 * call on the context. */
SBERT_API const char *sbert_context_errmsg(const sbert_context *ctx);

/* ---------------------------------------------------------------------------------------------
 * Tokenizing
 * ------------------------------------------------------------------------------------------- */
enum {
    SBERT_TOKENIZE_DEFAULT = 0,     /* exactly the ids sbert_encode feeds the model: the text
                                       prepared as sentence-transformers does, special tokens
                                       added, truncated to the model's max_seq_length */
    SBERT_TOKENIZE_NO_SPECIAL = 1,  /* without the special tokens ([CLS] ... [SEP]) */
    SBERT_TOKENIZE_NO_TRUNCATE = 2, /* do not truncate */
    SBERT_TOKENIZE_RAW = 4,         /* skip sentence-transformers' strip / lower-case */
};

/* Tokenizes text[0..len) (len in bytes; the text need not be NUL-terminated). Writes at most
 * `capacity` ids and stores the total count in *n_ids. When capacity is too small, returns
 * SBERT_ERR_BUFFER_TOO_SMALL with *n_ids set to the count needed (call with capacity 0 to ask).
 * flags: SBERT_TOKENIZE_* or'ed; any other bit is INVALID_ARGUMENT. */
SBERT_API int sbert_tokenize(sbert_context *ctx, const char *text, size_t len, int flags,
                             int32_t *ids, size_t capacity, size_t *n_ids);

/* ---------------------------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------------------------- */
typedef void (*sbert_progress_fn)(size_t texts_done, size_t texts_total, void *user_data);

/* Chunked pooling of texts longer than one window (off by default: sentence-transformers
 * truncates). A text of at most `window` tokens (special tokens included) is encoded exactly as
 * without chunking. A longer one is cut, without truncation, into windows: each holds the text's
 * leading special tokens (and the prompt's tokens, when there is a prompt), up to
 * window - (those + the trailing special tokens) of the text's own tokens, and the trailing
 * special tokens; window k starts `stride` text tokens after window k - 1, and the last one
 * reaches the text's end. Each window is encoded as the model encodes a text (pooling, Dense,
 * Normalize when the model has it or opts.normalize asks), and the text's vector is the mean of
 * its windows' vectors weighted by the number of text tokens each holds, L2-normalized when the
 * model normalizes or opts.normalize is set. */
typedef struct sbert_chunking {
    size_t window;  /* 0 (default): off, texts are truncated to max_length; else tokens per window,
                       special tokens included, at most max_length */
    size_t stride;  /* text tokens from one window's start to the next's; 0 (default): the
                       window's text tokens, so windows do not overlap; at most that */
} sbert_chunking;

typedef struct sbert_encode_options {
    int normalize;             /* 1: L2-normalize every output vector (normalize_embeddings=True) */
    size_t max_length;         /* 0: the model's max_seq_length; else truncate to this many tokens
                                  (at most what the position table allows); with chunking, the
                                  largest window, and nothing is truncated */
    const char *prompt_name;   /* a prompt the model defines (e.g. "query"); NULL: the model's
                                  default prompt if it names one */
    const char *prompt;        /* a literal prompt prepended to every text; overrides prompt_name.
                                  Must be valid UTF-8 whatever the context's utf8 policy (its
                                  tokens are counted apart from the text's): else INVALID_UTF8 */
    sbert_progress_fn progress;/* called after each batch when not NULL; it must not call into
                                  the same context (that would overwrite the call's buffers).
                                  With chunking it counts windows, not texts */
    void *progress_user_data;
    sbert_chunking chunking;   /* texts past one window (sbert_encode only): see above */
} sbert_encode_options;

SBERT_API sbert_encode_options sbert_encode_default_options(void);
/* The ids sbert_encode feeds the model for this text with these options (opts may be NULL): the
 * prompt prepended, truncated to max_length, special tokens added. Same size negotiation as
 * sbert_tokenize. Fails as sbert_encode would on the options (an unknown prompt_name, a
 * max_length out of range, a cross-encoder: MODEL_KIND) or on the text. With chunking the model
 * is fed windows, not one sequence: INVALID_ARGUMENT. */
SBERT_API int sbert_encode_ids(sbert_context *ctx, const char *text, size_t len,
                               const sbert_encode_options *opts, int32_t *ids,
                               size_t capacity, size_t *n_ids);

/* Encodes n_texts texts into out[n_texts * sbert_model_dim(model)], row i for texts[i] (an
 * embedding model; a cross-encoder fails with SBERT_ERR_MODEL_KIND).
 * lengths may be NULL (texts are NUL-terminated) or give each text's length in bytes.
 * out_capacity is in floats. opts may be NULL (defaults). Texts are batched by length inside;
 * a text's vector does not depend on the other texts of the call. n_texts == 0 is a no-op. */
SBERT_API int sbert_encode(sbert_context *ctx, const char *const *texts, const size_t *lengths,
                           size_t n_texts, const sbert_encode_options *opts, float *out,
                           size_t out_capacity);

/* Token-level embeddings: the transformer's last hidden state for one text, out[n x hidden_size]
 * for its n tokens (the ids sbert_encode_ids gives with the same options). When out_capacity
 * (floats) is too small, returns SBERT_ERR_BUFFER_TOO_SMALL with *n_tokens set. Chunking does not
 * apply (INVALID_ARGUMENT when opts asks for it). */
SBERT_API int sbert_encode_tokens(sbert_context *ctx, const char *text, size_t len,
                                  const sbert_encode_options *opts, float *out, size_t out_capacity,
                                  size_t *n_tokens);

/* Encodes one sequence of token ids, taken as they are (special tokens included, nothing added,
 * nothing truncated), into out[sbert_model_dim(model)]: the ids go through the transformer and
 * the model's Pooling, Dense and Normalize modules exactly as a text's ids do, so sbert_encode()
 * of a text equals sbert_encode_from_ids() of the ids sbert_encode_ids() gives for it, with the
 * same opts. For callers that tokenize themselves. Of opts, normalize is used, and the prompt
 * (prompt, prompt_name or the model's default prompt): when the model's Pooling leaves the
 * prompt out (include_prompt false), the first ids, as many as the prompt's own ids less the
 * closing special token, are left out of pooling, as sbert_encode does; pass prompt "" for ids
 * that carry no prompt. The other options are checked as sbert_encode checks them; ids are not
 * chunked. INVALID_ARGUMENT for n_ids of 0 or past the model's positions, or an id outside
 * [0, sbert_model_vocab_size). */
SBERT_API int sbert_encode_from_ids(sbert_context *ctx, const int32_t *ids, size_t n_ids,
                                    const sbert_encode_options *opts, float *out,
                                    size_t out_capacity);

/* ---------------------------------------------------------------------------------------------
 * Similarity
 * ------------------------------------------------------------------------------------------- */
SBERT_API float sbert_cosine(const float *a, const float *b, size_t dim); /* 0 if a norm is 0 */
SBERT_API float sbert_dot(const float *a, const float *b, size_t dim);

/* out[i * n_b + j] = similarity(a_i, b_j) for row-major a[n_a x dim], b[n_b x dim]. */
SBERT_API int sbert_similarity_matrix(sbert_similarity fn, const float *a, size_t n_a,
                                      const float *b, size_t n_b, size_t dim, float *out,
                                      size_t out_capacity);

/* ---------------------------------------------------------------------------------------------
 * Rerankers: cross-encoders (sentence-transformers CrossEncoder)
 *
 * A cross-encoder reads two texts together and scores the pair: a query and a passage (a
 * reranker such as ms-marco-MiniLM or bge-reranker), or a premise and a hypothesis (an NLI model,
 * one logit per label). tools/convert_safetensors.py converts its Hugging Face folder; the same
 * sbert_model_load() opens it. The pair is prepared as CrossEncoder.predict does: both texts
 * stripped, joined by the model's own template ([CLS] a [SEP] b [SEP], <s> a </s></s> b </s>),
 * cut `longest_first` to the model's max_length. Pairs are batched by length without padding,
 * like sbert_encode's texts; a pair's scores do not depend on the other pairs of the call.
 *
 * Vocabulary: `logits` are the model's raw outputs (CrossEncoder.predict with an Identity
 * activation); `scores` are those after the model's activation (predict's default: sigmoid for
 * a one-label reranker unless its config names another, none for NLI models).
 * ------------------------------------------------------------------------------------------- */

/* Logits per pair of a cross-encoder (config id2label's size); 0 for an embedding model. */
SBERT_API size_t sbert_model_n_labels(const sbert_model *model);
/* The name of label i (config id2label), NULL past the end or for an embedding model. */
SBERT_API const char *sbert_model_label(const sbert_model *model, size_t i);
/* The activation that turns logits into scores: "sigmoid", "identity", "tanh", "relu" or
 * "gelu"; NULL for an embedding model. */
SBERT_API const char *sbert_model_activation(const sbert_model *model);

typedef struct sbert_rerank_options {
    size_t max_length;         /* 0: the model's max_length; else cut each pair to this many
                                  tokens, special tokens included (at most what the position
                                  table allows) */
    sbert_progress_fn progress;/* called after each batch with the pairs done, when not NULL; it
                                  must not call into the same context */
    void *progress_user_data;
} sbert_rerank_options;

SBERT_API sbert_rerank_options sbert_rerank_default_options(void);

/* The ids and token types a cross-encoder is fed for the pair (a, b), a[0..a_len) and
 * b[0..b_len): both stripped, the template added, cut longest_first to max_length (0: the
 * model's). type_ids may be NULL. Writes at most `capacity` of each and stores the count in
 * *n_ids; SBERT_ERR_BUFFER_TOO_SMALL with *n_ids set when capacity is too small. */
SBERT_API int sbert_tokenize_pair(sbert_context *ctx, const char *a, size_t a_len, const char *b,
                                  size_t b_len, size_t max_length, int32_t *ids, int32_t *type_ids,
                                  size_t capacity, size_t *n_ids);

/* Runs n_pairs pairs (a[i], b[i]) through a cross-encoder (CrossEncoder.predict): row i of
 * logits[n_pairs * n_labels] gets the pair's raw logits, row i of scores[...] the same after the
 * model's activation. Either may be NULL, not both; `capacity` is the floats each holds.
 * a_lengths / b_lengths may be NULL (NUL-terminated texts) or give each text's length in bytes.
 * opts may be NULL. n_pairs == 0 is a no-op. */
SBERT_API int sbert_predict(sbert_context *ctx, const char *const *a, const size_t *a_lengths,
                            const char *const *b, const size_t *b_lengths, size_t n_pairs,
                            const sbert_rerank_options *opts, float *logits, float *scores,
                            size_t capacity);

/* One query against n_docs documents with a one-label cross-encoder (CrossEncoder.rank):
 * scores[i] is the score of (query, docs[i]), in input order (scores_capacity >= n_docs).
 * When `ranked` is not NULL it receives the indices of the min(top_k, n_docs) best documents,
 * highest score first (equal scores: the lower index first, as Python's stable sort). query is
 * NUL-terminated; doc_lengths may be NULL. The query is tokenized once for all the pairs. A
 * model with several labels is refused (SBERT_ERR_INVALID_ARGUMENT): use sbert_predict. */
SBERT_API int sbert_rerank(sbert_context *ctx, const char *query, const char *const *docs,
                           const size_t *doc_lengths, size_t n_docs,
                           const sbert_rerank_options *opts, float *scores,
                           size_t scores_capacity, size_t *ranked, size_t top_k);

#ifdef __cplusplus
}
#endif

#endif /* SBERT_H */
