/* search — semantic search over a corpus file, as sentence_transformers.util.semantic_search does
 * it: the top-k corpus sentences for each query by the model's similarity function.
 *
 *   examples/search -m MODEL.sbert -c CORPUS [--index FILE] [-k N] [--threads N] [QUERY ...]
 *
 * CORPUS is one sentence per line, or an STS file (KorSTS / STS-B: its two sentence columns, each
 * sentence once). The corpus is embedded once into an index file (default CORPUS.sbidx) that later
 * runs map read-only instead of encoding again; the index is rebuilt when the corpus, the model
 * file or the library version differ from those it was made from. Queries come from the
 * arguments (options may come before, between or after them; after --, every argument is a
 * query), else one per line of standard input. Progress goes to standard error when it is a
 * terminal.
 *
 * Index file: a 4096-byte header (struct index_header, host byte order: the file is a cache for
 * this machine, not an exchange format), then n x dim floats, row i for corpus sentence i. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "sbert.h"
#include "sts.h"

#define INDEX_MAGIC "SBIDX01"
#define INDEX_DATA_OFFSET 4096
#define PATH_SIZE 4096

struct index_header {
    char magic[8];
    uint64_t dim, n;
    uint64_t corpus_hash;   /* FNV-1a of the corpus sentences, each followed by '\n' */
    uint64_t model_hash;    /* FNV-1a of the model file's bytes, 8 at a time */
    uint64_t model_size;
    char library[32];       /* sbert_version(): another library may round differently */
};

typedef struct corpus {
    size_t n;
    char **text;
    size_t *line;   /* line[i]: the file's line (from 1) of sentence i, for messages */
    const char *path;
    char *buffer;
} corpus;

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* The model file's identity: FNV-1a over its 64-bit words (and the tail bytes). */
static int hash_file(const char *path, uint64_t *hash, uint64_t *size)
{
    const int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    *size = (uint64_t)st.st_size;
    *hash = 0xcbf29ce484222325ull;
    if (st.st_size > 0) {
        const unsigned char *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            close(fd);
            return -1;
        }
        const size_t words = (size_t)st.st_size / 8;
        for (size_t i = 0; i < words; i++) {
            uint64_t w;
            memcpy(&w, p + 8 * i, 8);
            *hash = (*hash ^ w) * 0x100000001b3ull;
        }
        *hash = fnv1a(*hash, p + 8 * words, (size_t)st.st_size % 8);
        munmap((void *)p, (size_t)st.st_size);
    }
    close(fd);
    return 0;
}

static int seen_before(char **text, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(text[i], s))
            return 1;
    return 0;
}

/* An STS file's sentences (each once, in order of first appearance), else the non-empty lines. */
static int read_corpus(const char *path, corpus *c)
{
    memset(c, 0, sizeof *c);
    c->path = path;
    sts_pairs sts;
    FILE *f = fopen(path, "rb");
    char head[16] = "";
    if (!f) {
        perror(path);
        return -1;
    }
    const int is_sts = fread(head, 1, 15, f) == 15 && !memcmp(head, "genre\tfilename\t", 15);
    fclose(f);
    if (is_sts) {
        if (sts_read(path, &sts) != 0) {
            sts_free(&sts);
            return -1;
        }
        c->buffer = sts.buffer;
        c->text = sts.text;
        c->line = malloc((2 * sts.n + 1) * sizeof *c->line);
        for (size_t i = 0; c->line && i < 2 * sts.n; i++) /* quadratic, fine at STS size */
            if (!seen_before(c->text, c->n, sts.text[i])) {
                c->line[c->n] = sts.line[i / 2];
                c->text[c->n++] = sts.text[i];
            }
        free(sts.gold);
        free(sts.line);
        return c->line ? 0 : -1;
    }
    size_t size, lines;
    if (!(c->buffer = read_text_file(path, &size, &lines)))
        return -1;
    c->text = malloc(lines * sizeof *c->text);
    c->line = malloc(lines * sizeof *c->line);
    if (!c->text || !c->line)
        return -1;
    char *cursor = c->buffer, *line;
    for (size_t line_no = 1; (line = sts_next_line(&cursor)) != NULL; line_no++)
        if (*line) {
            c->line[c->n] = line_no;
            c->text[c->n++] = line;
        }
    return 0;
}

static void free_corpus(corpus *c)
{
    free(c->text);
    free(c->line);
    free(c->buffer);
    memset(c, 0, sizeof *c);
}

static void progress(size_t done, size_t total, void *user_data)
{
    fprintf(stderr, "\rsearch: embedded %zu/%zu corpus sentences", done, total);
    if (done == total)
        fputc('\n', stderr);
}

/* A failed encoding of the corpus: the line of the first sentence whose ids cannot be made, or,
 * when no sentence is the cause (memory), the library's message alone. */
static void report_failed_sentence(sbert_context *ctx, const corpus *c,
                                   const sbert_encode_options *opts, int rc)
{
    int text_rc;
    const size_t i = cli_first_bad_text(ctx, (const char *const *)c->text, NULL, c->n, opts,
                                        &text_rc);
    if (i < c->n) {
        fprintf(stderr, "search: %s line %zu: %s: %s\n", c->path, c->line[i],
                sbert_strerror(text_rc), sbert_context_errmsg(ctx));
        return;
    }
    fprintf(stderr, "search: %s: %s\n", sbert_strerror(rc), sbert_context_errmsg(ctx));
}

/* Encodes the corpus into a new index file (written beside it, then renamed into place). */
static int build_index(sbert_context *ctx, const corpus *c, const struct index_header *h,
                       const char *path)
{
    const size_t floats = (size_t)(h->n * h->dim);
    float *v = malloc((floats ? floats : 1) * sizeof *v);
    char tmp[PATH_SIZE + 32];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    sbert_encode_options opts = sbert_encode_default_options();
    if (isatty(STDERR_FILENO))
        opts.progress = progress;
    int rc = v ? sbert_encode(ctx, (const char *const *)c->text, NULL, c->n, &opts, v, floats)
               : SBERT_ERR_NO_MEMORY;
    if (rc != SBERT_OK) {
        if (v)
            report_failed_sentence(ctx, c, &opts, rc);
        else
            fprintf(stderr, "search: out of memory for the index\n");
        free(v);
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    char page[INDEX_DATA_OFFSET] = { 0 };
    memcpy(page, h, sizeof *h);
    const int ok = f && fwrite(page, 1, sizeof page, f) == sizeof page &&
                   fwrite(v, sizeof *v, floats, f) == floats;
    if (f && fclose(f) != 0)
        rc = -1;
    free(v);
    if (!ok || rc != SBERT_OK || rename(tmp, path) != 0) {
        fprintf(stderr, "search: cannot write the index %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Maps the index read-only when its header matches `want`; NULL otherwise. */
static const float *map_index(const char *path, const struct index_header *want, size_t *map_size)
{
    const int fd = open(path, O_RDONLY);
    struct stat st;
    struct index_header have;
    const size_t size = INDEX_DATA_OFFSET + (size_t)(want->n * want->dim) * sizeof(float);
    if (fd < 0)
        return NULL;
    const int match = fstat(fd, &st) == 0 && (size_t)st.st_size == size &&
                      pread(fd, &have, sizeof have, 0) == (ssize_t)sizeof have &&
                      !memcmp(&have, want, sizeof have);
    void *p = match ? mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
    close(fd);
    if (p == MAP_FAILED)
        return NULL;
    *map_size = size;
    return (const float *)((const char *)p + INDEX_DATA_OFFSET);
}

typedef struct hit {
    float score;
    size_t id;
} hit;

/* The k best scores, best first; on equal scores the earlier corpus sentence first. */
static size_t top_k(const float *score, size_t n, size_t k, hit *best)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m == k && !(score[i] > best[m - 1].score))
            continue;
        size_t j = m < k ? m++ : m - 1;
        while (j > 0 && best[j - 1].score < score[i]) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = (hit){ score[i], i };
    }
    return m;
}

/* Scratch of one query: its vector, its score against every corpus row, the best k. */
typedef struct scratch {
    float *query, *score;
    hit *best;
} scratch;

static int answer(sbert_context *ctx, const sbert_model *model, const corpus *c,
                  const float *index, const char *query, size_t k, const scratch *s)
{
    const size_t dim = sbert_model_dim(model);
    float *q = s->query, *score = s->score;
    hit *best = s->best;
    int rc = sbert_encode(ctx, &query, NULL, 1, NULL, q, dim);
    if (rc != SBERT_OK) {
        fprintf(stderr, "search: %s\n", sbert_context_errmsg(ctx));
        return rc;
    }
    rc = sbert_similarity_matrix(sbert_model_similarity(model), q, 1, index, c->n, dim, score,
                                 c->n);
    if (rc != SBERT_OK)
        return rc;
    const size_t m = top_k(score, c->n, k, best);
    printf("query: %s\n", query);
    for (size_t i = 0; i < m; i++)
        printf("  %zu. %.4f  [%zu] %s\n", i + 1, best[i].score, best[i].id, c->text[best[i].id]);
    return SBERT_OK;
}

static void usage(FILE *to)
{
    fprintf(to, "usage: search -m MODEL.sbert -c CORPUS [--index FILE] [-k N] [--threads N] "
                "[QUERY ...]\n"
                "  CORPUS: one sentence per line, or an STS (KorSTS) file\n"
                "  queries from the arguments (options in any order; after --, every argument\n"
                "  is a query), else one per line of standard input\n");
}

int main(int argc, char **argv)
{
    const char *model_path = NULL, *corpus_path = NULL, *index_arg = NULL;
    long k = 5, threads = 0;
    /* Options may come before, between or after the queries (as encode's); the queries are
     * gathered at the front of argv as they are met, and "--" makes every later argument one. */
    int n_queries = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *next = i + 1 < argc ? argv[i + 1] : NULL;
        char *end = NULL;
        if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && next) {
            model_path = argv[++i];
        } else if ((!strcmp(a, "-c") || !strcmp(a, "--corpus")) && next) {
            corpus_path = argv[++i];
        } else if (!strcmp(a, "--index") && next) {
            index_arg = argv[++i];
        } else if ((!strcmp(a, "-k") || !strcmp(a, "--top-k")) && next) {
            k = strtol(argv[++i], &end, 10);
            if (*end || k < 1 || k > 100000) {
                fprintf(stderr, "search: -k needs a positive integer\n");
                return 2;
            }
        } else if (!strcmp(a, "--threads") && next) {
            threads = strtol(argv[++i], &end, 10);
            if (*end || threads < 1 || threads > SBERT_MAX_THREADS) {
                fprintf(stderr, "search: --threads needs a whole number from 1 to %d\n",
                        SBERT_MAX_THREADS);
                return 2;
            }
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return cli_flush_stdout("search");
        } else if (!strcmp(a, "--")) {
            while (++i < argc)
                argv[n_queries++] = argv[i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "search: unknown option or missing value: %s\n", a);
            usage(stderr);
            return 2;
        } else {
            argv[n_queries++] = argv[i];
        }
    }
    if (!model_path || !corpus_path) {
        usage(stderr);
        return 2;
    }

    corpus c;
    char index_path[PATH_SIZE], err[512];
    if (snprintf(index_path, sizeof index_path, "%s%s", index_arg ? index_arg : corpus_path,
                 index_arg ? "" : ".sbidx") >= (int)sizeof index_path) {
        fprintf(stderr, "search: the index path is too long\n");
        return 2;
    }
    sbert_model *model = NULL;
    sbert_context *ctx = NULL;
    sbert_context_params cp = sbert_context_default_params();
    cp.n_threads = (int)threads;
    if (read_corpus(corpus_path, &c) != 0 || c.n == 0) {
        if (c.buffer && c.n == 0)
            fprintf(stderr, "search: %s has no sentences\n", corpus_path);
        free_corpus(&c);
        return 1;
    }
    if (sbert_model_load(model_path, NULL, &model, err, sizeof err) != SBERT_OK ||
        sbert_context_create(model, &cp, &ctx, err, sizeof err) != SBERT_OK) {
        fprintf(stderr, "search: %s%s\n", model ? "cannot create a context: " : "", err);
        sbert_model_free(model);
        free_corpus(&c);
        return 1;
    }

    struct index_header want;
    memset(&want, 0, sizeof want); /* padding too: headers are compared as bytes */
    memcpy(want.magic, INDEX_MAGIC, sizeof want.magic);
    want.dim = sbert_model_dim(model);
    want.n = c.n;
    want.corpus_hash = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < c.n; i++)
        want.corpus_hash = fnv1a(fnv1a(want.corpus_hash, c.text[i], strlen(c.text[i])), "\n", 1);
    snprintf(want.library, sizeof want.library, "%s", sbert_version());
    int rc = hash_file(model_path, &want.model_hash, &want.model_size) == 0 ? 0 : 1;

    size_t map_size = 0;
    const float *index = rc ? NULL : map_index(index_path, &want, &map_size);
    if (!rc && index) {
        fprintf(stderr, "search: %s: %zu sentences, index %s reused\n", corpus_path, c.n,
                index_path);
    } else if (!rc) {
        fprintf(stderr, "search: %s: embedding %zu sentences into %s\n", corpus_path, c.n,
                index_path);
        rc = build_index(ctx, &c, &want, index_path);
        index = rc ? NULL : map_index(index_path, &want, &map_size);
        rc = index ? 0 : 1;
    }

    scratch s = { malloc(want.dim * sizeof(float)), malloc(c.n * sizeof(float)),
                  malloc((size_t)k * sizeof(hit)) };
    if (!rc && (!s.query || !s.score || !s.best))
        rc = 1;
    for (int i = 0; !rc && i < n_queries; i++)
        rc = answer(ctx, model, &c, index, argv[i], (size_t)k, &s) != SBERT_OK;
    if (!rc && n_queries == 0) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while (!rc && (len = getline(&line, &cap, stdin)) > 0) {
            while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
                line[--len] = '\0';
            if (len)
                rc = answer(ctx, model, &c, index, line, (size_t)k, &s) != SBERT_OK;
        }
        if (!rc && ferror(stdin)) {
            fprintf(stderr, "search: cannot read the queries: %s\n", strerror(errno));
            rc = 1;
        }
        free(line);
    }
    if (!rc)
        rc = cli_flush_stdout("search");
    if (index)
        munmap((char *)index - INDEX_DATA_OFFSET, map_size);
    free(s.query);
    free(s.score);
    free(s.best);
    free_corpus(&c);
    sbert_context_free(ctx);
    sbert_model_free(model);
    return rc ? 1 : 0;
}
