/* sts_eval — Spearman and Pearson correlation of a model's similarity with the gold scores of an
 * STS file (KorSTS / STS-B format), the figure sentence-transformers' EmbeddingSimilarityEvaluator
 * reports and model cards quote (x 100).
 *
 *   examples/sts_eval -m MODEL.sbert [--threads N] [--batch-size N] STS.tsv
 *
 * Every sentence of the file is encoded once; each pair is scored with the model's own similarity
 * function (sbert_model_similarity: cosine for ko-sroberta). Progress goes to standard error when
 * it is a terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sbert.h"
#include "sts.h"

static const char *const similarity_names[] = { "cosine", "dot", "euclidean", "manhattan" };

static void usage(FILE *to)
{
    fprintf(to, "usage: sts_eval -m MODEL.sbert [--threads N] [--batch-size N] STS.tsv\n"
                "  STS.tsv: KorSTS / STS-B rows (genre, file, year, id, score, sentence1, "
                "sentence2)\n");
}

static void progress(size_t done, size_t total, void *user_data)
{
    (void)user_data;
    fprintf(stderr, "\rsts_eval: encoded %zu/%zu sentences", done, total);
    if (done == total)
        fputc('\n', stderr);
}

static int parse_count(const char *flag, const char *value, size_t *out)
{
    char *end;
    const long long v = value ? strtoll(value, &end, 10) : 0;
    if (!value || *end || v < 1 || v > 1 << 20) {
        fprintf(stderr, "sts_eval: %s needs a positive integer\n", flag);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *sts_path = NULL;
    size_t threads = 0, batch = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-m") || !strcmp(argv[i], "--model")) {
            model_path = i + 1 < argc ? argv[++i] : NULL;
        } else if (!strcmp(argv[i], "--threads")) {
            if (parse_count("--threads", i + 1 < argc ? argv[++i] : NULL, &threads))
                return 2;
        } else if (!strcmp(argv[i], "--batch-size")) {
            if (parse_count("--batch-size", i + 1 < argc ? argv[++i] : NULL, &batch))
                return 2;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return cli_flush_stdout("sts_eval");
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "sts_eval: unknown option %s\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (!sts_path) {
            sts_path = argv[i];
        } else {
            fprintf(stderr, "sts_eval: one STS file only (got %s and %s)\n", sts_path, argv[i]);
            return 2;
        }
    }
    if (!model_path || !sts_path) {
        usage(stderr);
        return 2;
    }

    sts_pairs sts;
    if (sts_read(sts_path, &sts) != 0) {
        sts_free(&sts);
        return 1;
    }
    if (sts.n < 2) {
        fprintf(stderr, "sts_eval: %s has %zu scored pairs; is it an STS file?\n", sts_path, sts.n);
        sts_free(&sts);
        return 1;
    }

    char err[512];
    sbert_model *model = NULL;
    sbert_context *ctx = NULL;
    sbert_context_params cp = sbert_context_default_params();
    cp.n_threads = (int)threads;
    if (batch)
        cp.batch_size = batch;
    if (sbert_model_load(model_path, NULL, &model, err, sizeof err) != SBERT_OK) {
        fprintf(stderr, "sts_eval: %s\n", err);
        sts_free(&sts);
        return 1;
    }
    int rc = sbert_context_create(model, &cp, &ctx, err, sizeof err);
    const size_t n = sts.n, dim = sbert_model_dim(model);
    const sbert_similarity fn = sbert_model_similarity(model);
    float *v = malloc(2 * n * dim * sizeof *v);
    double *score = malloc(n * sizeof *score);
    if (rc == SBERT_OK && (!v || !score))
        rc = SBERT_ERR_NO_MEMORY;
    if (rc == SBERT_OK) {
        sbert_encode_options opts = sbert_encode_default_options();
        if (isatty(STDERR_FILENO))
            opts.progress = progress;
        rc = sbert_encode(ctx, (const char *const *)sts.text, NULL, 2 * n, &opts, v, 2 * n * dim);
        int text_rc;
        const size_t bad = rc == SBERT_OK ? 2 * n
                                          : cli_first_bad_text(ctx, (const char *const *)sts.text,
                                                               NULL, 2 * n, &opts, &text_rc);
        if (bad < 2 * n)
            fprintf(stderr, "sts_eval: %s line %zu: %s: %s\n", sts_path, sts.line[bad / 2],
                    sbert_strerror(text_rc), sbert_context_errmsg(ctx));
        else if (rc != SBERT_OK)
            fprintf(stderr, "sts_eval: %s\n", sbert_context_errmsg(ctx));
    } else {
        fprintf(stderr, "sts_eval: %s\n", ctx ? "out of memory for the vectors" : err);
    }
    for (size_t i = 0; rc == SBERT_OK && i < n; i++) {
        float s;
        rc = sbert_similarity_matrix(fn, v + 2 * i * dim, 1, v + (2 * i + 1) * dim, 1, dim, &s, 1);
        score[i] = s;
    }
    if (rc == SBERT_OK) {
        printf("%s: %zu pairs, model %s (%zu dims, %s similarity)\n", sts_path, n,
               sbert_model_name(model), dim, similarity_names[fn]);
        printf("Spearman x 100: %.2f\n", 100.0 * sts_spearman(sts.gold, score, n));
        printf("Pearson  x 100: %.2f\n", 100.0 * sts_pearson(sts.gold, score, n));
        if (cli_flush_stdout("sts_eval"))
            rc = SBERT_ERR_IO;
    }
    free(v);
    free(score);
    sbert_context_free(ctx);
    sbert_model_free(model);
    sts_free(&sts);
    return rc == SBERT_OK ? 0 : 1;
}
