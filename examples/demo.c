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

/* Ranks with ties averaged, for Spearman's correlation. */
static void ranks(const double *x, double *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t less = 0, equal = 0;
        for (size_t j = 0; j < n; j++) {
            less += x[j] < x[i];
            equal += x[j] == x[i];
        }
        r[i] = (double)less + (double)(equal + 1) / 2.0;
    }
}

static double pearson(const double *a, const double *b, size_t n)
{
    double ma = 0, mb = 0, ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i] / (double)n;
        mb += b[i] / (double)n;
    }
    for (size_t i = 0; i < n; i++) {
        ab += (a[i] - ma) * (b[i] - mb);
        aa += (a[i] - ma) * (a[i] - ma);
        bb += (b[i] - mb) * (b[i] - mb);
    }
    return ab / sqrt(aa * bb);
}

static double spearman(const double *a, const double *b, size_t n)
{
    double *ra = malloc(n * sizeof *ra), *rb = malloc(n * sizeof *rb);
    ranks(a, ra, n);
    ranks(b, rb, n);
    const double rho = pearson(ra, rb, n);
    free(ra);
    free(rb);
    return rho;
}

/* KorSTS rows: genre, file, year, id, score, sentence1, sentence2 (tab-separated, one header). */
static void korsts(sbert_context *ctx, const sbert_model *model, char **rows, size_t n_rows)
{
    const size_t dim = sbert_model_dim(model);
    size_t n = 0;
    char **pairs = malloc(2 * n_rows * sizeof *pairs);
    double *gold = malloc(n_rows * sizeof *gold), *cos = malloc(n_rows * sizeof *cos);
    for (size_t i = 1; i < n_rows; i++) { /* row 0 is the header */
        char *field[7], *save = NULL;
        int k = 0;
        for (char *t = strtok_r(rows[i], "\t", &save); t && k < 7; t = strtok_r(NULL, "\t", &save))
            field[k++] = t;
        if (k < 7)
            continue;
        gold[n] = atof(field[4]);
        pairs[2 * n] = field[5];
        pairs[2 * n + 1] = field[6];
        n++;
    }
    float *v = malloc(2 * n * dim * sizeof *v);
    if (n && v && encode(ctx, model, pairs, 2 * n, v) == SBERT_OK) {
        printf("\nKorSTS sentence pairs: human score (0-5) and the model's cosine\n");
        for (size_t i = 0; i < n && i < 6; i++)
            printf("  %.1f  %+.4f  %s | %s\n", gold[i],
                   sbert_cosine(v + 2 * i * dim, v + (2 * i + 1) * dim, dim), pairs[2 * i],
                   pairs[2 * i + 1]);
        for (size_t i = 0; i < n; i++)
            cos[i] = sbert_cosine(v + 2 * i * dim, v + (2 * i + 1) * dim, dim);
        printf("KorSTS test: cosine Spearman x 100 = %.2f over %zu pairs\n",
               100.0 * spearman(gold, cos, n), n);
    }
    free(v);
    free(pairs);
    free(gold);
    free(cos);
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
    if (sbert_context_create(model, NULL, &ctx) != SBERT_OK) {
        fprintf(stderr, "demo: cannot create a context\n");
        sbert_model_free(model);
        return 1;
    }
    printf("libsbert %s, model %s (%s, %zu dims, max %zu tokens)\n\n", sbert_version(),
           sbert_model_name(model), sbert_model_type(model), sbert_model_dim(model),
           sbert_model_max_seq_length(model));
    static char *seed[MAX_LINES], *rows[MAX_LINES];
    const size_t n_seed = read_lines(argv[2], seed), n_rows = read_lines(argv[3], rows);
    similarity_table(ctx, model);
    if (n_seed)
        semantic_search(ctx, model, seed, n_seed);
    if (n_rows)
        korsts(ctx, model, rows, n_rows);
    for (size_t i = 0; i < n_seed; i++)
        free(seed[i]);
    for (size_t i = 0; i < n_rows; i++)
        free(rows[i]);
    sbert_context_free(ctx);
    sbert_model_free(model);
    return n_seed && n_rows ? 0 : 1;
}
