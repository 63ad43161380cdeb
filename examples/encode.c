/* encode — sentence embeddings from the command line with libsbert.
 *
 *   examples/encode -m model.sbert "first sentence" "second sentence"
 *   examples/encode -m model.sbert < sentences.txt              one text per line
 *   examples/encode -m model.sbert --jsonl < texts.jsonl        {"text": ...} per line
 *   examples/encode -m model.sbert --similarity "a" "b" "c"     cosine matrix, as a model card
 *   examples/encode -m model.sbert --ids "text"                 the ids the model is fed
 *
 * Input is streamed in chunks, so a million texts run in bounded memory (except --similarity,
 * which needs every vector at once). Output keeps input order. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jsonl.h"
#include "sbert.h"

#define CHUNK_TEXTS 1024 /* texts read, encoded and written at a time */

typedef enum { FORMAT_TSV, FORMAT_JSON, FORMAT_NPY } output_format;

typedef struct {
    const char *model_path;
    output_format format;
    int normalize, similarity, ids, jsonl, threads, quiet;
    size_t batch_size, max_length;
    const char *prompt, *prompt_name;
    char **texts; /* from the command line, or NULL: read stdin */
    int n_texts;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: encode -m MODEL.sbert [options] [TEXT ...]\n"
            "Encodes each TEXT (or each line of standard input) into a sentence embedding.\n\n"
            "  -m, --model PATH        model converted by tools/convert_safetensors.py\n"
            "  --jsonl                 read one JSON object {\"text\": ...} per input line\n"
            "  --format tsv|json|npy   output: tab-separated (default), one JSON array per text,\n"
            "                          or a NumPy .npy float32 matrix (n x dim)\n"
            "  --normalize             L2-normalize the embeddings\n"
            "  --similarity            print the similarity matrix of the texts instead\n"
            "  --ids                   print the token ids fed to the model instead\n"
            "  --prompt TEXT           prepend TEXT to every text\n"
            "  --prompt-name NAME      prepend the model's prompt NAME (e.g. query)\n"
            "  --max-length N          truncate to N tokens (default: the model's max_seq_length)\n"
            "  --threads N             threads (default: all cores)\n"
            "  --batch-size N          texts per forward pass (default 32)\n"
            "  -q, --quiet             no progress on standard error\n"
            "  --version               print the library version and the kernels it uses here\n");
}

static int parse_count(const char *s, const char *name, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || s[0] == '-') {
        fprintf(stderr, "encode: %s needs a positive whole number, not \"%s\"\n", name, s);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

static int parse_format(const char *s, output_format *f)
{
    if (!strcmp(s, "tsv")) *f = FORMAT_TSV;
    else if (!strcmp(s, "json")) *f = FORMAT_JSON;
    else if (!strcmp(s, "npy")) *f = FORMAT_NPY;
    else {
        fprintf(stderr, "encode: --format is tsv, json or npy, not \"%s\"\n", s);
        return -1;
    }
    return 0;
}

/* Returns 0, 1 to exit successfully (--help, --version), or -1 on a usage error. */
static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        const char *a = argv[i];
        const int has_value = i + 1 < argc;
        size_t n;
        if (!strcmp(a, "--")) { i++; break; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 1; }
        if (!strcmp(a, "--version")) {
            printf("libsbert %s (%s)\n", sbert_version(), sbert_system_info());
            return 1;
        }
        if (!strcmp(a, "--normalize")) { o->normalize = 1; continue; }
        if (!strcmp(a, "--similarity")) { o->similarity = 1; continue; }
        if (!strcmp(a, "--ids")) { o->ids = 1; continue; }
        if (!strcmp(a, "--jsonl")) { o->jsonl = 1; continue; }
        if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { o->quiet = 1; continue; }
        if (!has_value) {
            fprintf(stderr, "encode: %s needs a value (see --help)\n", a);
            return -1;
        }
        const char *v = argv[++i];
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model_path = v;
        else if (!strcmp(a, "--format")) { if (parse_format(v, &o->format)) return -1; }
        else if (!strcmp(a, "--prompt")) o->prompt = v;
        else if (!strcmp(a, "--prompt-name")) o->prompt_name = v;
        else if (!strcmp(a, "--max-length")) { if (parse_count(v, a, &o->max_length)) return -1; }
        else if (!strcmp(a, "--batch-size")) { if (parse_count(v, a, &o->batch_size)) return -1; }
        else if (!strcmp(a, "--threads")) {
            if (parse_count(v, a, &n)) return -1;
            if (n > 1024) {
                fprintf(stderr, "encode: --threads is at most 1024, not %zu\n", n);
                return -1;
            }
            o->threads = (int)n;
        } else {
            fprintf(stderr, "encode: unknown option %s (see --help)\n", a);
            return -1;
        }
    }
    if (!o->model_path) {
        fprintf(stderr, "encode: no model given; use -m MODEL.sbert (convert a sentence-transformers "
                        "directory with tools/convert_safetensors.py)\n");
        return -1;
    }
    o->texts = argv + i;
    o->n_texts = argc - i;
    if (o->n_texts == 0)
        o->texts = NULL;
    return 0;
}

/* ---- input: a chunk of texts at a time ---------------------------------------------------- */

typedef struct {
    char *text[CHUNK_TEXTS];
    size_t len[CHUNK_TEXTS];
    size_t n;
    size_t line_no; /* lines read so far, for error messages */
} chunk;

static void chunk_clear(chunk *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->text[i]);
    c->n = 0;
}

/* Reads up to CHUNK_TEXTS texts from stdin. Returns -1 on a malformed --jsonl line. */
static int read_chunk(const options *o, chunk *c)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while (c->n < CHUNK_TEXTS && (got = getline(&line, &cap, stdin)) >= 0) {
        c->line_no++;
        if (got > 0 && line[got - 1] == '\n')
            line[--got] = '\0';
        if (o->jsonl) {
            if (got == 0)
                continue; /* blank lines separate nothing in JSON Lines */
            if (jsonl_get_string(line, "text", &c->text[c->n], &c->len[c->n])) {
                fprintf(stderr, "encode: line %zu: expected a JSON object with a string \"text\"\n",
                        c->line_no);
                free(line);
                return -1;
            }
        } else {
            c->text[c->n] = malloc((size_t)got + 1);
            if (!c->text[c->n]) {
                fprintf(stderr, "encode: out of memory reading line %zu\n", c->line_no);
                free(line);
                return -1;
            }
            memcpy(c->text[c->n], line, (size_t)got + 1);
            c->len[c->n] = (size_t)got;
        }
        c->n++;
    }
    free(line);
    return 0;
}

/* ---- output ------------------------------------------------------------------------------- */

/* NumPy .npy version 1.0: magic, header length, a Python dict literal padded so that the data
 * starts on a 64-byte boundary. The row count is written in a fixed-width field so that a
 * streamed file can be patched once the count is known. */
static void write_npy_header(FILE *f, size_t rows, size_t dim)
{
    char dict[118];
    int n = snprintf(dict, sizeof dict,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (%20zu, %zu), }", rows, dim);
    memset(dict + n, ' ', sizeof dict - 1 - (size_t)n);
    dict[sizeof dict - 1] = '\n';
    const unsigned char magic[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                      (unsigned char)(sizeof dict & 0xFF), (unsigned char)(sizeof dict >> 8) };
    fwrite(magic, 1, sizeof magic, f);
    fwrite(dict, 1, sizeof dict, f);
}

static void write_vectors(const options *o, const float *v, size_t n, size_t dim)
{
    if (o->format == FORMAT_NPY) {
        fwrite(v, sizeof(float), n * dim, stdout);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (o->format == FORMAT_JSON)
            putchar('[');
        for (size_t j = 0; j < dim; j++) {
            if (j)
                fputs(o->format == FORMAT_JSON ? ", " : "\t", stdout);
            printf("%.9g", v[i * dim + j]);
        }
        puts(o->format == FORMAT_JSON ? "]" : "");
    }
}

static int write_ids(sbert_context *ctx, const options *o, const chunk *c, int32_t **ids, size_t *cap)
{
    for (size_t i = 0; i < c->n; i++) {
        size_t n = 0;
        int rc;
        while ((rc = sbert_tokenize(ctx, c->text[i], c->len[i], 0, *ids, *cap, &n)) ==
               SBERT_ERR_BUFFER_TOO_SMALL) {
            int32_t *grown = realloc(*ids, n * sizeof **ids);
            if (!grown)
                return SBERT_ERR_NO_MEMORY;
            *ids = grown;
            *cap = n;
        }
        if (rc != SBERT_OK) {
            fprintf(stderr, "encode: %s: %s\n", sbert_strerror(rc), sbert_context_errmsg(ctx));
            return rc;
        }
        for (size_t j = 0; j < n; j++)
            printf(j ? " %d" : "%d", (int)(*ids)[j]);
        putchar('\n');
    }
    (void)o;
    return SBERT_OK;
}

static void print_similarity(const sbert_model *model, const float *v, size_t n, size_t dim)
{
    float *m = malloc(n * n * sizeof *m);
    if (!m || sbert_similarity_matrix(sbert_model_similarity(model), v, n, v, n, dim, m, n * n)) {
        fprintf(stderr, "encode: out of memory for the similarity matrix\n");
        free(m);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            printf(j ? "\t%.4f" : "%.4f", m[i * n + j]);
        putchar('\n');
    }
    free(m);
}

/* ---- main loop ---------------------------------------------------------------------------- */

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct {
    sbert_model *model;
    sbert_context *ctx;
    sbert_encode_options enc;
    size_t dim;
    int collect;      /* keep every vector: --similarity, or .npy to a pipe (no seeking back) */
    float *all;       /* the kept vectors */
    size_t n_all;
    size_t n_done;
    double start;
    int progress;     /* stderr is a terminal */
} session;

static int encode_chunk(session *s, const options *o, chunk *c, float *vectors)
{
    const char **texts = (const char **)c->text;
    int rc = sbert_encode(s->ctx, texts, c->len, c->n, &s->enc, vectors, c->n * s->dim);
    if (rc != SBERT_OK) { /* the library numbers the texts of this chunk from 0 */
        fprintf(stderr, "encode: %s: %s (texts counted from input text %zu)\n",
                sbert_strerror(rc), sbert_context_errmsg(s->ctx), s->n_done);
        return rc;
    }
    if (s->collect) {
        float *grown = realloc(s->all, (s->n_all + c->n) * s->dim * sizeof(float));
        if (!grown)
            return SBERT_ERR_NO_MEMORY;
        s->all = grown;
        memcpy(s->all + s->n_all * s->dim, vectors, c->n * s->dim * sizeof(float));
        s->n_all += c->n;
    } else {
        write_vectors(o, vectors, c->n, s->dim);
    }
    s->n_done += c->n;
    if (s->progress)
        fprintf(stderr, "\rencoded %zu texts (%.0f texts/s)", s->n_done,
                (double)s->n_done / (now_seconds() - s->start));
    return SBERT_OK;
}

/* Feeds every text (arguments or stdin chunks) to encode_chunk or write_ids. */
static int run(session *s, const options *o)
{
    chunk *c = calloc(1, sizeof *c);
    float *vectors = malloc((size_t)CHUNK_TEXTS * s->dim * sizeof(float));
    int32_t *ids = NULL;
    size_t ids_cap = 0;
    int rc = (c && vectors) ? SBERT_OK : SBERT_ERR_NO_MEMORY;
    for (int arg = 0; rc == SBERT_OK;) {
        if (o->texts) { /* command-line texts, a chunk at a time */
            for (; arg < o->n_texts && c->n < CHUNK_TEXTS; arg++, c->n++) {
                c->len[c->n] = strlen(o->texts[arg]);
                if (!(c->text[c->n] = strdup(o->texts[arg]))) {
                    fprintf(stderr, "encode: out of memory\n");
                    rc = SBERT_ERR_NO_MEMORY;
                    break;
                }
            }
            if (rc != SBERT_OK)
                break;
        } else if (read_chunk(o, c)) {
            rc = SBERT_ERR_INVALID_ARGUMENT;
            break;
        }
        if (c->n == 0)
            break;
        rc = o->ids ? write_ids(s->ctx, o, c, &ids, &ids_cap) : encode_chunk(s, o, c, vectors);
        chunk_clear(c);
    }
    if (c)
        chunk_clear(c);
    free(c);
    free(vectors);
    free(ids);
    return rc;
}

static int open_session(session *s, const options *o)
{
    char err[512];
    int rc = sbert_model_load(o->model_path, NULL, &s->model, err, sizeof err);
    if (rc != SBERT_OK) {
        fprintf(stderr, "encode: cannot load %s: %s\n", o->model_path, err);
        return rc;
    }
    sbert_context_params cp = sbert_context_default_params();
    cp.n_threads = o->threads;
    if (o->batch_size)
        cp.batch_size = o->batch_size;
    rc = sbert_context_create(s->model, &cp, &s->ctx);
    if (rc != SBERT_OK) {
        fprintf(stderr, "encode: cannot create a context: %s\n", sbert_strerror(rc));
        return rc;
    }
    s->enc = sbert_encode_default_options();
    s->enc.normalize = o->normalize;
    s->enc.prompt = o->prompt;
    s->enc.prompt_name = o->prompt_name;
    s->enc.max_length = o->max_length;
    s->dim = sbert_model_dim(s->model);
    s->start = now_seconds();
    s->progress = !o->quiet && isatty(STDERR_FILENO) && !o->texts;
    return SBERT_OK;
}

int main(int argc, char **argv)
{
    options o;
    int parsed = parse_args(argc, argv, &o);
    if (parsed)
        return parsed > 0 ? 0 : 2;
    session s = { 0 };
    int rc = open_session(&s, &o);
    const int npy = o.format == FORMAT_NPY && !o.ids && !o.similarity;
    const int seekable = lseek(STDOUT_FILENO, 0, SEEK_CUR) != (off_t)-1;
    s.collect = o.similarity || (npy && !seekable);
    if (rc == SBERT_OK && npy && seekable)
        write_npy_header(stdout, 0, s.dim); /* patched with the real row count at the end */
    if (rc == SBERT_OK)
        rc = run(&s, &o);
    if (rc == SBERT_OK && o.similarity)
        print_similarity(s.model, s.all, s.n_all, s.dim);
    if (rc == SBERT_OK && npy && seekable && fseek(stdout, 0, SEEK_SET) == 0)
        write_npy_header(stdout, s.n_done, s.dim);
    if (rc == SBERT_OK && npy && !seekable) {
        write_npy_header(stdout, s.n_all, s.dim);
        write_vectors(&o, s.all, s.n_all, s.dim);
    }
    if (s.progress && s.n_done)
        fputc('\n', stderr);
    free(s.all);
    sbert_context_free(s.ctx);
    sbert_model_free(s.model);
    return rc == SBERT_OK ? 0 : 1;
}
