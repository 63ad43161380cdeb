/* The README's C example: two sentences, their embeddings, their cosine similarity.
 *
 *   examples/quickstart [MODEL.sbert]   (default: the bundled models/ko-small-f16.sbert)
 *
 * make test builds and runs it (in the tree, and against an installed copy through pkg-config
 * and CMake) on a 1024-wide model, so it cannot rot. */
#include <stdio.h>
#include <stdlib.h>

#include "sbert.h"

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "models/ko-small-f16.sbert";
    char err[256];
    sbert_model *model = NULL;
    int rc = sbert_model_load(path, NULL, &model, err, sizeof err);
    if (rc != SBERT_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, err);
        return 1;
    }
    sbert_context *ctx = NULL; /* one per thread; the model is shared */
    rc = sbert_context_create(model, NULL, &ctx, err, sizeof err);
    if (rc != SBERT_OK) {
        fprintf(stderr, "cannot create a context: %s\n", err);
        sbert_model_free(model);
        return 1;
    }

    const char *texts[] = { "한 남자가 음식을 먹고 있다.", "A man is eating food." };
    const size_t n = sizeof texts / sizeof *texts;
    const size_t dim = sbert_model_dim(model); /* 384, 768, 1024, ...: read it, never assume */
    float *vectors = malloc(n * dim * sizeof *vectors);
    if (!vectors)
        rc = SBERT_ERR_NO_MEMORY;
    else
        rc = sbert_encode(ctx, texts, NULL, n, NULL, vectors, n * dim);
    if (rc == SBERT_OK)
        printf("libsbert %s: %zu texts, dim %zu, cosine similarity %.4f\n", sbert_version(), n,
               dim, sbert_cosine(vectors, vectors + dim, dim));
    else
        fprintf(stderr, "cannot encode: %s %s\n", sbert_strerror(rc), sbert_context_errmsg(ctx));

    free(vectors);
    sbert_context_free(ctx);
    sbert_model_free(model);
    return rc == SBERT_OK ? 0 : 1;
}
