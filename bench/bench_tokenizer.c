/* Tokenizer speed on one thread: every sentence of the KorSTS files, tokenized with
 * sbert_tokenize() (exactly what sbert_encode feeds the model), repeated; prints the median
 * tokens per second. bench/bench_tokenizer.sh runs it beside Hugging Face tokenizers.
 *
 *   build/bench_tokenizer MODEL.sbert REPEATS KORSTS.tsv...
 *
 * Sentences are the sentence1 and sentence2 columns, as bench/bench_tokenizer_hf.js reads them;
 * tokens are counted with the special tokens, as there. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbert.h"

typedef struct {
    char **text;
    size_t *len;
    size_t n, cap;
} sentences;

static void add(sentences *s, const char *text, size_t len)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 1024;
        s->text = realloc(s->text, s->cap * sizeof *s->text);
        s->len = realloc(s->len, s->cap * sizeof *s->len);
    }
    s->text[s->n] = strndup(text, len);
    s->len[s->n++] = len;
}

/* Columns 6 and 7 (sentence1, sentence2) of each row after the header. */
static int read_korsts(const char *path, sentences *s)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t cap = 0;
    for (long row = 0; getline(&line, &cap, f) > 0; row++) {
        line[strcspn(line, "\r\n")] = '\0';
        char *col = line;
        for (int c = 0; c < 5 && col; c++) {
            col = strchr(col, '\t');
            col = col ? col + 1 : NULL;
        }
        char *tab = col ? strchr(col, '\t') : NULL;
        if (row == 0 || !tab)
            continue;
        add(s, col, (size_t)(tab - col));
        add(s, tab + 1, strlen(tab + 1));
    }
    free(line);
    fclose(f);
    return 0;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One pass over all sentences; returns the token count (or 0 on an error). */
static size_t one_pass(sbert_context *ctx, const sentences *s, int32_t *ids, size_t cap)
{
    size_t tokens = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t n = 0;
        if (sbert_tokenize(ctx, s->text[i], s->len[i], SBERT_TOKENIZE_DEFAULT, ids, cap, &n) !=
            SBERT_OK) {
            fprintf(stderr, "sentence %zu: %s\n", i, sbert_context_errmsg(ctx));
            return 0;
        }
        tokens += n;
    }
    return tokens;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL.sbert REPEATS KORSTS.tsv...\n", argv[0]);
        return 2;
    }
    sentences s = { 0 };
    for (int i = 3; i < argc; i++)
        if (read_korsts(argv[i], &s) != 0) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
    char err[512];
    sbert_model *model = NULL;
    sbert_context *ctx = NULL;
    sbert_context_params params = sbert_context_default_params();
    params.n_threads = 1;
    if (sbert_model_load(argv[1], NULL, &model, err, sizeof err) != SBERT_OK ||
        sbert_context_create(model, &params, &ctx, err, sizeof err) != SBERT_OK) {
        fprintf(stderr, "%s: %s\n", argv[1], err);
        return 1;
    }
    const int repeats = atoi(argv[2]) > 0 ? atoi(argv[2]) : 1;
    int32_t ids[4096];
    const size_t tokens = one_pass(ctx, &s, ids, 4096); /* warm-up: grows the scratch */
    double *seconds = malloc((size_t)repeats * sizeof *seconds);
    for (int r = 0; r < repeats; r++) {
        const double t0 = now();
        if (one_pass(ctx, &s, ids, 4096) != tokens)
            return 1;
        seconds[r] = now() - t0;
    }
    qsort(seconds, (size_t)repeats, sizeof *seconds, compare_double);
    const double median = seconds[repeats / 2];
    printf("libsbert sbert_tokenize: %zu sentences, %zu tokens per pass, median %.1f ms of %d "
           "-> %.2f M tokens/s\n",
           s.n, tokens, 1e3 * median, repeats, 1e-6 * (double)tokens / median);
    free(seconds);
    for (size_t i = 0; i < s.n; i++)
        free(s.text[i]);
    free(s.text);
    free(s.len);
    sbert_context_free(ctx);
    sbert_model_free(model);
    return tokens ? 0 : 1;
}
