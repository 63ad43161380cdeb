/* rerank — score documents against a query with a cross-encoder (sentence-transformers
 * CrossEncoder), from the command line.
 *
 *   examples/rerank -m reranker.sbert "what is a panda?" < passages.txt   one document per line
 *   examples/rerank -m reranker.sbert --top-k 3 "query" < passages.txt    the 3 best, best first
 *   examples/rerank -m nli.sbert --pairs < pairs.jsonl                    {"a": ..., "b": ...}
 *
 * Query mode prints, per document, its index (0-based, input order), its score and the document:
 * tab-separated, or with --format json one {"corpus_id", "score", "text"} object per line (the
 * names of CrossEncoder.rank). --pairs prints one {"logits": [...], "scores": [...]} object per
 * input line; it streams, a chunk of pairs at a time. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonl.h"
#include "sbert.h"

#define CHUNK_PAIRS 1024 /* --pairs: pairs read, scored and written at a time */

typedef enum { FORMAT_TSV, FORMAT_JSON } output_format;

typedef struct {
    const char *model_path, *query;
    output_format format;
    int pairs, threads;
    size_t top_k, batch_size, max_length;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: rerank -m MODEL.sbert [options] QUERY < documents.txt\n"
            "       rerank -m MODEL.sbert --pairs < pairs.jsonl\n"
            "Scores each line of standard input against QUERY with a cross-encoder (reranker).\n\n"
            "  -m, --model PATH     a cross-encoder converted by tools/convert_safetensors.py\n"
            "  --top-k N            print only the N best documents, best first (default: every\n"
            "                       document, in input order)\n"
            "  --format tsv|json    tsv (default): index, score, document per line; json: one\n"
            "                       {\"corpus_id\", \"score\", \"text\"} object per line\n"
            "  --pairs              read one {\"a\": ..., \"b\": ...} object per line and print\n"
            "                       {\"logits\": [...], \"scores\": [...]} per line\n"
            "  --max-length N       cut each pair to N tokens (default: the model's max_length)\n"
            "  --threads N          threads (default: all cores)\n"
            "  --batch-size N       pairs per forward pass (default 32)\n"
            "  --version            print the library version and the kernels it uses here\n");
}

static int parse_count(const char *s, const char *name, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || s[0] == '-' || v == 0) {
        fprintf(stderr, "rerank: %s needs a positive whole number, not \"%s\"\n", name, s);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

/* The options that take a value (short and long name), each given at most once. */
static const char *const VALUE_OPTIONS[][2] = { { "-m", "--model" }, { "--top-k", NULL },
                                                { "--max-length", NULL }, { "--batch-size", NULL },
                                                { "--threads", NULL }, { "--format", NULL } };
#define N_VALUE_OPTIONS ((int)(sizeof VALUE_OPTIONS / sizeof VALUE_OPTIONS[0]))

/* The index of `a` in VALUE_OPTIONS; -1 for any other argument. */
static int value_option(const char *a)
{
    for (int i = 0; i < N_VALUE_OPTIONS; i++)
        if (!strcmp(a, VALUE_OPTIONS[i][0]) ||
            (VALUE_OPTIONS[i][1] && !strcmp(a, VALUE_OPTIONS[i][1])))
            return i;
    return -1;
}

/* Sets the option `a` (a value_option) from `v`; -1 on a bad value. */
static int set_option(options *o, const char *a, const char *v)
{
    size_t n;
    if (!strcmp(a, "-m") || !strcmp(a, "--model")) o->model_path = v;
    else if (!strcmp(a, "--top-k")) return parse_count(v, a, &o->top_k);
    else if (!strcmp(a, "--max-length")) return parse_count(v, a, &o->max_length);
    else if (!strcmp(a, "--batch-size")) return parse_count(v, a, &o->batch_size);
    else if (!strcmp(a, "--threads")) {
        if (parse_count(v, a, &n)) return -1;
        if (n > SBERT_MAX_THREADS) {
            fprintf(stderr, "rerank: --threads is at most %d, not %zu\n", SBERT_MAX_THREADS, n);
            return -1;
        }
        o->threads = (int)n;
    } else if (!strcmp(a, "--format")) {
        if (!strcmp(v, "tsv")) o->format = FORMAT_TSV;
        else if (!strcmp(v, "json")) o->format = FORMAT_JSON;
        else {
            fprintf(stderr, "rerank: --format is tsv or json, not \"%s\"\n", v);
            return -1;
        }
    }
    return 0;
}

/* Returns 0, 1 to exit successfully (--help, --version), or -1 on a usage error. Options and
 * the query may come in any order; "--" ends the options. */
static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    int n_positional = 0, options_done = 0, given[N_VALUE_OPTIONS] = { 0 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options_done || a[0] != '-' || !a[1]) {
            if (n_positional++ == 0)
                o->query = a;
            continue;
        }
        if (!strcmp(a, "--")) { options_done = 1; continue; }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 1; }
        if (!strcmp(a, "--version")) {
            printf("libsbert %s (%s)\n", sbert_version(), sbert_system_info());
            return 1;
        }
        if (!strcmp(a, "--pairs")) {
            if (o->pairs++) {
                fprintf(stderr, "rerank: --pairs is given twice\n");
                return -1;
            }
            continue;
        }
        const int id = value_option(a);
        if (id < 0) {
            fprintf(stderr, "rerank: unknown option %s (see --help; a QUERY that starts with "
                            "'-' goes after --)\n", a);
            return -1;
        }
        if (given[id]++) {
            fprintf(stderr, "rerank: %s is given twice\n", a);
            return -1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "rerank: %s needs a value (see --help)\n", a);
            return -1;
        }
        if (set_option(o, a, argv[++i]))
            return -1;
    }
    if (!o->model_path) {
        fprintf(stderr, "rerank: no model given; use -m MODEL.sbert (convert a CrossEncoder "
                        "directory with tools/convert_safetensors.py)\n");
        return -1;
    }
    if (o->pairs ? n_positional > 0 : n_positional != 1) {
        fprintf(stderr, o->pairs ? "rerank: --pairs reads its pairs from standard input and takes "
                                   "no QUERY\n"
                                 : "rerank: give exactly one QUERY (quote it), %d given\n",
                n_positional);
        return -1;
    }
    if (o->pairs && (o->top_k || o->format != FORMAT_TSV)) {
        fprintf(stderr, "rerank: --top-k and --format apply to a QUERY, not to --pairs\n");
        return -1;
    }
    return 0;
}

/* ---- input -------------------------------------------------------------------------------- */

typedef struct {
    char **text;
    size_t *len;
    size_t n, cap;
} texts;

static void texts_free(texts *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->text[i]);
    free(t->text);
    free(t->len);
    memset(t, 0, sizeof *t);
}

/* Appends text (ownership taken); -1 when out of memory (text freed). */
static int texts_push(texts *t, char *text, size_t len)
{
    if (t->n == t->cap) {
        const size_t cap = t->cap ? 2 * t->cap : 64;
        char **s = realloc(t->text, cap * sizeof *s);
        if (s) t->text = s;
        size_t *l = realloc(t->len, cap * sizeof *l);
        if (l) t->len = l;
        if (!s || !l) {
            free(text);
            return -1;
        }
        t->cap = cap;
    }
    t->text[t->n] = text;
    t->len[t->n++] = len;
    return 0;
}

/* 0 at the end of stdin, or -1 with the reason when reading it failed (a directory, EBADF). */
static int input_ended(void)
{
    if (!ferror(stdin))
        return 0;
    fprintf(stderr, "rerank: cannot read the input: %s\n", strerror(errno));
    return -1;
}

/* Every line of stdin (without its "\n" or "\r\n") into docs; -1 with a message when out of
 * memory or stdin cannot be read. */
static int read_lines(texts *docs)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        if (got > 0 && line[got - 1] == '\n')
            line[--got] = '\0';
        if (got > 0 && line[got - 1] == '\r')
            line[--got] = '\0';
        char *copy = malloc((size_t)got + 1);
        if (!copy || texts_push(docs, copy, (size_t)got)) {
            fprintf(stderr, "rerank: out of memory reading the documents\n");
            free(line);
            return -1;
        }
        memcpy(copy, line, (size_t)got + 1);
    }
    free(line);
    return input_ended();
}

/* Up to CHUNK_PAIRS {"a", "b"} lines of stdin (blank lines skipped); -1 on a malformed line. */
static int read_pairs(texts *a, texts *b, size_t *line_no)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while (a->n < CHUNK_PAIRS && (got = getline(&line, &cap, stdin)) >= 0) {
        ++*line_no;
        if (strspn(line, " \t\r\n") == (size_t)got)
            continue;
        char *text[2] = { NULL, NULL };
        size_t len[2], at = 0;
        const char *key = "a";
        int rc = jsonl_get_string_n(line, (size_t)got, key, &text[0], &len[0], &at);
        if (rc == JSONL_OK)
            rc = jsonl_get_string_n(line, (size_t)got, key = "b", &text[1], &len[1], &at);
        if (rc != JSONL_OK) {
            fprintf(stderr, "rerank: line %zu: ", *line_no);
            if (rc == JSONL_SYNTAX)
                fprintf(stderr, "not JSON (RFC 8259): error at byte %zu\n", at + 1);
            else if (rc == JSONL_MISSING || rc == JSONL_NOT_OBJECT || rc == JSONL_WRONG_TYPE)
                fprintf(stderr, "expected a JSON object with strings \"a\" and \"b\"\n");
            else
                fprintf(stderr, "\"%s\": %s\n", key, jsonl_strerror(rc));
            free(text[0]);
            free(text[1]);
            free(line);
            return -1;
        }
        if (texts_push(a, text[0], len[0]) || texts_push(b, text[1], len[1])) {
            fprintf(stderr, "rerank: out of memory at line %zu\n", *line_no);
            free(line);
            return -1;
        }
    }
    free(line);
    return a->n < CHUNK_PAIRS ? input_ended() : 0;
}

/* ---- output ------------------------------------------------------------------------------- */

/* s[0..len) as a JSON string (the library has checked it is UTF-8). */
static void put_json_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        const unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c == '\n') fputs("\\n", stdout);
        else if (c == '\t') fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7F) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static void put_floats(const float *v, size_t n)
{
    putchar('[');
    for (size_t j = 0; j < n; j++)
        printf(j ? ", %.9g" : "%.9g", v[j]);
    putchar(']');
}

static void print_document(const options *o, const texts *docs, size_t i, float score)
{
    if (o->format == FORMAT_JSON) {
        printf("{\"corpus_id\": %zu, \"score\": %.9g, \"text\": ", i, score);
        put_json_string(docs->text[i], docs->len[i]);
        puts("}");
    } else {
        printf("%zu\t%.9g\t", i, score);
        fwrite(docs->text[i], 1, docs->len[i], stdout);
        putchar('\n');
    }
}

/* ---- the two modes ------------------------------------------------------------------------ */

static int failed(const char *what, sbert_context *ctx, int rc)
{
    fprintf(stderr, "rerank: %s: %s: %s\n", what, sbert_strerror(rc), sbert_context_errmsg(ctx));
    return rc;
}

static int rank_query(sbert_context *ctx, const options *o, const sbert_rerank_options *ro)
{
    texts docs = { 0 };
    if (read_lines(&docs)) {
        texts_free(&docs);
        return SBERT_ERR_IO;
    }
    const size_t n = docs.n, k = o->top_k && o->top_k < n ? o->top_k : n;
    float *scores = malloc((n ? n : 1) * sizeof *scores);
    size_t *ranked = malloc((n ? n : 1) * sizeof *ranked);
    int rc = scores && ranked ? SBERT_OK : SBERT_ERR_NO_MEMORY;
    if (rc == SBERT_OK)
        rc = sbert_rerank(ctx, o->query, (const char *const *)docs.text, docs.len, n, ro, scores,
                          n, o->top_k ? ranked : NULL, k);
    if (rc != SBERT_OK)
        failed("cannot rank the documents", ctx, rc);
    for (size_t r = 0; rc == SBERT_OK && r < k; r++) {
        const size_t i = o->top_k ? ranked[r] : r;
        print_document(o, &docs, i, scores[i]);
    }
    free(scores);
    free(ranked);
    texts_free(&docs);
    return rc;
}

static int predict_pairs(sbert_context *ctx, const sbert_model *model,
                         const sbert_rerank_options *ro)
{
    const size_t labels = sbert_model_n_labels(model);
    float *logits = malloc(CHUNK_PAIRS * labels * sizeof *logits);
    float *scores = malloc(CHUNK_PAIRS * labels * sizeof *scores);
    texts a = { 0 }, b = { 0 };
    size_t line_no = 0, done = 0;
    int rc = logits && scores ? SBERT_OK : SBERT_ERR_NO_MEMORY;
    while (rc == SBERT_OK) {
        if (read_pairs(&a, &b, &line_no)) {
            rc = SBERT_ERR_INVALID_ARGUMENT;
            break;
        }
        if (a.n == 0)
            break;
        rc = sbert_predict(ctx, (const char *const *)a.text, a.len, (const char *const *)b.text,
                           b.len, a.n, ro, logits, scores, CHUNK_PAIRS * labels);
        if (rc != SBERT_OK) { /* the library numbers the pairs of this chunk from 0 */
            fprintf(stderr, "rerank: pairs counted from input pair %zu: ", done);
            failed("cannot score them", ctx, rc);
            break;
        }
        for (size_t i = 0; i < a.n; i++) {
            fputs("{\"logits\": ", stdout);
            put_floats(logits + i * labels, labels);
            fputs(", \"scores\": ", stdout);
            put_floats(scores + i * labels, labels);
            puts("}");
        }
        done += a.n;
        texts_free(&a);
        texts_free(&b);
    }
    texts_free(&a);
    texts_free(&b);
    free(logits);
    free(scores);
    return rc;
}

int main(int argc, char **argv)
{
    options o;
    const int parsed = parse_args(argc, argv, &o);
    if (parsed)
        return parsed > 0 ? cli_flush_stdout("rerank") : 2;
    char err[512];
    sbert_model *model = NULL;
    sbert_context *ctx = NULL;
    int rc = sbert_model_load(o.model_path, NULL, &model, err, sizeof err);
    if (rc != SBERT_OK) {
        fprintf(stderr, "rerank: cannot load %s: %s\n", o.model_path, err);
        return 1;
    }
    const size_t labels = sbert_model_n_labels(model);
    if (labels == 0) {
        fprintf(stderr, "rerank: %s is an embedding model, not a cross-encoder (use "
                        "examples/encode)\n", o.model_path);
        rc = SBERT_ERR_MODEL_KIND;
    } else if (labels > 1 && !o.pairs) {
        fprintf(stderr, "rerank: %s has %zu labels (%s, ...): ranking needs a one-label reranker; "
                        "use --pairs for its logits\n", o.model_path, labels,
                sbert_model_label(model, 0));
        rc = SBERT_ERR_INVALID_ARGUMENT;
    }
    sbert_context_params cp = sbert_context_default_params();
    cp.n_threads = o.threads;
    cp.batch_size = o.batch_size;
    if (rc == SBERT_OK && (rc = sbert_context_create(model, &cp, &ctx, err, sizeof err)) != SBERT_OK)
        fprintf(stderr, "rerank: cannot create a context: %s\n", err);
    sbert_rerank_options ro = sbert_rerank_default_options();
    ro.max_length = o.max_length;
    if (rc == SBERT_OK)
        rc = o.pairs ? predict_pairs(ctx, model, &ro) : rank_query(ctx, &o, &ro);
    if (rc == SBERT_OK && cli_flush_stdout("rerank"))
        rc = SBERT_ERR_IO;
    sbert_context_free(ctx);
    sbert_model_free(model);
    return rc == SBERT_OK ? 0 : 1;
}
