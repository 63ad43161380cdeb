/* demo — what `make demo` runs: the public API end to end on the bundled Korean model.
 *
 *   examples/demo MODEL.sbert SEED_SENTENCES.txt KORSTS.tsv
 *
 * 1. The similarity matrix of four sentences, as a model card shows it (the bundled model's README
 *    lists the values it should give).
 * 2. Semantic search: each question of the seed sentences finds its best answer among the rest.
 * 3. KorSTS: a few sentence pairs with their human score (0-5) and the model's cosine, then the
 *    Spearman correlation over the whole file, the number the model cards report. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbert.h"
#include "sts.h"

#define MAX_LINES 4096

/* Reads the non-empty lines of a file (at most MAX_LINES), each a malloc'd string. */
static size_t read_lines(const char *path, char **lines)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "demo: cannot open %s\n", path);
        return 0;
    }
    size_t n = 0, cap = 0;
    char *line = NULL;
    ssize_t len;
    while (n < MAX_LINES && (len = getline(&line, &cap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len > 0)
            lines[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    return n;
}

static int encode(sbert_context *ctx, const sbert_model *model, char **texts, size_t n, float *out)
{
    int rc = sbert_encode(ctx, (const char *const *)texts, NULL, n, NULL, out,
                          n * sbert_model_dim(model));
    if (rc != SBERT_OK)
        fprintf(stderr, "demo: %s\n", sbert_context_errmsg(ctx));
    return rc;
}

static void similarity_table(sbert_context *ctx, const sbert_model *model)
{
    static char *s[4] = { "한 남자가 음식을 먹고 있다.", "한 남자가 뭔가를 먹고 있다.",
                          "한 여성이 고기를 요리하고 있다.", "한 남자가 말하고 있다." };
    const size_t dim = sbert_model_dim(model);
    float *v = malloc(4 * dim * sizeof *v), sim[16];
    if (!v || encode(ctx, model, s, 4, v) != SBERT_OK ||
        sbert_similarity_matrix(sbert_model_similarity(model), v, 4, v, 4, dim, sim, 16)) {
        free(v);
        return;
    }
    printf("Similarity of the model-card sentences\n");
    for (int i = 0; i < 4; i++)
        printf("  S%d %7.4f %7.4f %7.4f %7.4f  %s\n", i + 1, sim[4 * i], sim[4 * i + 1],
               sim[4 * i + 2], sim[4 * i + 3], s[i]);
    printf("\n");
    free(v);
}

/* Questions end with '?'; every other sentence is a candidate answer. */
static void semantic_search(sbert_context *ctx, const sbert_model *model, char **s, size_t n)
{
    const size_t dim = sbert_model_dim(model);
    float *v = malloc(n * dim * sizeof *v);
    if (!v || encode(ctx, model, s, n, v) != SBERT_OK) {
        free(v);
        return;
    }
    printf("Semantic search over %zu seed sentences (%zu-dimensional embeddings)\n", n, dim);
    for (size_t q = 0; q < n; q++) {
        if (s[q][strlen(s[q]) - 1] != '?')
            continue;
        size_t best = q;
        float best_score = -2.0f;
        for (size_t a = 0; a < n; a++) {
            const float score = sbert_cosine(v + q * dim, v + a * dim, dim);
            if (a != q && s[a][strlen(s[a]) - 1] != '?' && score > best_score) {
                best = a;
                best_score = score;
            }
        }
        printf("  Q: %s\n  A: %s  (cosine %.4f)\n", s[q], s[best], best_score);
    }
    free(v);
}

/* KorSTS: a few pairs with their human score, then the Spearman correlation over the file. */
static int korsts(sbert_context *ctx, const sbert_model *model, const char *path)
{
    const size_t dim = sbert_model_dim(model);
    sts_pairs sts;
    if (sts_read(path, &sts) != 0 || sts.n == 0) {
        sts_free(&sts);
        return -1;
    }
    const size_t n = sts.n;
    float *v = malloc(2 * n * dim * sizeof *v);
    double *cos = malloc(n * sizeof *cos);
    const int ok = v && cos && encode(ctx, model, sts.text, 2 * n, v) == SBERT_OK;
    if (ok) {
        printf("\nKorSTS sentence pairs: human score (0-5) and the model's cosine\n");
        for (size_t i = 0; i < n; i++)
            cos[i] = sbert_cosine(v + 2 * i * dim, v + (2 * i + 1) * dim, dim);
        for (size_t i = 0; i < n && i < 6; i++)
            printf("  %.1f  %+.4f  %s | %s\n", sts.gold[i], cos[i], sts.text[2 * i],
                   sts.text[2 * i + 1]);
        printf("KorSTS test: cosine Spearman x 100 = %.2f over %zu pairs\n",
               100.0 * sts_spearman(sts.gold, cos, n), n);
    }
    free(v);
    free(cos);
    sts_free(&sts);
    return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: demo MODEL.sbert SEED_SENTENCES.txt KORSTS.tsv\n");
        return 2;
    }
    char err[512];
    sbert_model *model = NULL;
    sbert_context *ctx = NULL;
    if (sbert_model_load(argv[1], NULL, &model, err, sizeof err) != SBERT_OK) {
        fprintf(stderr, "demo: cannot load %s: %s\n", argv[1], err);
        return 1;
    }
    if (sbert_context_create(model, NULL, &ctx, err, sizeof err) != SBERT_OK) {
        fprintf(stderr, "demo: cannot create a context: %s\n", err);
        sbert_model_free(model);
        return 1;
    }
    printf("libsbert %s, model %s (%s, %zu dims, max %zu tokens)\n\n", sbert_version(),
           sbert_model_name(model), sbert_model_type(model), sbert_model_dim(model),
           sbert_model_max_seq_length(model));
    static char *seed[MAX_LINES];
    const size_t n_seed = read_lines(argv[2], seed);
    similarity_table(ctx, model);
    if (n_seed)
        semantic_search(ctx, model, seed, n_seed);
    const int sts_ok = korsts(ctx, model, argv[3]) == 0;
    for (size_t i = 0; i < n_seed; i++)
        free(seed[i]);
    sbert_context_free(ctx);
    sbert_model_free(model);
    return n_seed && sts_ok ? 0 : 1;
}
