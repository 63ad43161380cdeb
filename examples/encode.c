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
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "jsonl.h"
#include "sbert.h"

static const char *prog = "encode"; /* the name it was run by (installed as sbert-encode) */

/* A message on standard error, after the program's name. */
static void complain(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

#define CHUNK_TEXTS 1024 /* texts read, encoded and written at a time */

typedef enum { FORMAT_TSV, FORMAT_JSON, FORMAT_NPY } output_format;

/* The options, in the order --help lists them. */
typedef enum {
    OPT_MODEL, OPT_JSONL, OPT_FORMAT, OPT_NORMALIZE, OPT_SIMILARITY, OPT_IDS, OPT_PROMPT,
    OPT_PROMPT_NAME, OPT_MAX_LENGTH, OPT_CHUNK, OPT_THREADS, OPT_BATCH_SIZE, OPT_QUIET, OPT_HELP,
    OPT_VERSION, N_OPTIONS
} option_id;

static const struct {
    const char *name, *alias; /* alias: the short form, or NULL */
    int takes_value;
} OPTIONS[N_OPTIONS] = {
    [OPT_MODEL] = { "--model", "-m", 1 },       [OPT_JSONL] = { "--jsonl", NULL, 0 },
    [OPT_FORMAT] = { "--format", NULL, 1 },     [OPT_NORMALIZE] = { "--normalize", NULL, 0 },
    [OPT_SIMILARITY] = { "--similarity", NULL, 0 }, [OPT_IDS] = { "--ids", NULL, 0 },
    [OPT_PROMPT] = { "--prompt", NULL, 1 },     [OPT_PROMPT_NAME] = { "--prompt-name", NULL, 1 },
    [OPT_MAX_LENGTH] = { "--max-length", NULL, 1 }, [OPT_CHUNK] = { "--chunk", NULL, 1 },
    [OPT_THREADS] = { "--threads", NULL, 1 },
    [OPT_BATCH_SIZE] = { "--batch-size", NULL, 1 }, [OPT_QUIET] = { "--quiet", "-q", 0 },
    [OPT_HELP] = { "--help", "-h", 0 },         [OPT_VERSION] = { "--version", NULL, 0 },
};

typedef struct {
    const char *model_path;
    output_format format;
    int normalize, similarity, ids, jsonl, threads, quiet;
    size_t batch_size, max_length, chunk_window, chunk_stride;
    const char *prompt, *prompt_name;
    int given[N_OPTIONS]; /* each option at most once */
    char **texts;         /* from the command line, or NULL: read stdin */
    size_t n_texts;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s -m MODEL.sbert [options] [--] [TEXT ...]\n"
            "Encodes each TEXT (or each line of standard input) into a sentence embedding.\n"
            "Options and texts may come in any order; after --, every argument is a text (write a\n"
            "text that starts with '-' there). Each option may be given once.\n\n"
            "  -m, --model PATH        model converted by tools/convert_safetensors.py\n"
            "  --jsonl                 read standard input as JSON Lines: one JSON object per line\n"
            "                          (RFC 8259) with a string \"text\"; blank lines are skipped\n"
            "  --format tsv|json|npy   output: tab-separated (default), one JSON array per text,\n"
            "                          or a NumPy .npy float32 matrix (n x dim)\n"
            "  --normalize             L2-normalize the embeddings\n"
            "  --similarity            print the similarity matrix of the texts instead\n"
            "                          (tab-separated; the model's similarity function)\n"
            "  --ids                   print the token ids fed to the model instead (with the\n"
            "                          prompt and --max-length applied)\n"
            "  --prompt TEXT           prepend TEXT to every text\n"
            "  --prompt-name NAME      prepend the model's prompt NAME (e.g. query)\n"
            "  --max-length N          truncate to N tokens, special tokens included: 2 up to the\n"
            "                          model's position table\n"
            "  --chunk WINDOW[:STRIDE] a text longer than WINDOW tokens is not truncated but\n"
            "                          encoded in windows of WINDOW tokens (at most --max-length),\n"
            "                          each STRIDE text tokens after the last (default: adjacent),\n"
            "                          and their vectors averaged, weighted by their text tokens\n"
            "  --threads N             threads inside each call: 1 to %d\n"
            "  --batch-size N          texts per forward pass: 1 to %d\n"
            "  -q, --quiet             no progress on standard error\n"
            "  -h, --help              this help\n"
            "  --version               print the library version and the kernels it uses here\n\n"
            "A number N of 0 means the default: for --max-length the model's max_seq_length, for\n"
            "--threads every core this process may use, for --batch-size 32, for --chunk no chunks.\n"
            "--ids prints ids only: --format, --normalize, --similarity, --threads, --batch-size\n"
            "and --chunk\n"
            "are refused with it, as are --format npy|json with --similarity, --prompt with\n"
            "--prompt-name, and --jsonl with texts on the command line.\n"
            "Exit status: 0 done, 1 an error (named with its input line or text when it is about\n"
            "one), 2 a usage error.\n",
            prog, SBERT_MAX_THREADS, SBERT_MAX_BATCH_SIZE);
}

/* N for an option: a whole number from 0 (the default) to max. */
static int parse_count(const char *s, const char *name, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || s[0] < '0' || s[0] > '9' || v > max) {
        if (max == SIZE_MAX) /* the limit is the model's, checked once it is loaded */
            complain("%s takes a whole number from 0 (the default), not \"%s\"\n", name, s);
        else
            complain("%s takes a whole number from 0 (the default) to %zu, not \"%s\"\n", name,
                     max, s);
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
        complain("--format is tsv, json or npy, not \"%s\"\n", s);
        return -1;
    }
    return 0;
}

/* --chunk WINDOW[:STRIDE]: two counts; the library says whether they fit the model. */
static int parse_chunk(const char *s, options *o)
{
    char window[32];
    const char *colon = strchr(s, ':');
    const size_t n = colon ? (size_t)(colon - s) : strlen(s);
    if (n >= sizeof window) {
        complain("--chunk takes WINDOW or WINDOW:STRIDE, whole numbers, not \"%s\"\n", s);
        return -1;
    }
    memcpy(window, s, n);
    window[n] = '\0';
    o->chunk_stride = 0;
    return parse_count(window, "--chunk WINDOW", SIZE_MAX, &o->chunk_window) ||
                   (colon && parse_count(colon + 1, "--chunk STRIDE", SIZE_MAX, &o->chunk_stride))
               ? -1
               : 0;
}

/* The option an argument names ("--format" or "--format=npy"), or -1. *value points after '='. */
static int find_option(const char *arg, const char **value)
{
    *value = NULL;
    for (int id = 0; id < N_OPTIONS; id++) {
        const size_t n = strlen(OPTIONS[id].name);
        if (!strcmp(arg, OPTIONS[id].name) || (OPTIONS[id].alias && !strcmp(arg, OPTIONS[id].alias)))
            return id;
        if (OPTIONS[id].takes_value && !strncmp(arg, OPTIONS[id].name, n) && arg[n] == '=') {
            *value = arg + n + 1;
            return id;
        }
    }
    return -1;
}

/* Stores one option's value. Returns 0, or -1 after printing why the value is refused. */
static int set_option(options *o, int id, const char *name, const char *v)
{
    size_t n;
    switch ((option_id)id) {
    case OPT_MODEL: o->model_path = v; return 0;
    case OPT_FORMAT: return parse_format(v, &o->format);
    case OPT_PROMPT: o->prompt = v; return 0;
    case OPT_PROMPT_NAME: o->prompt_name = v; return 0;
    case OPT_MAX_LENGTH: return parse_count(v, name, SIZE_MAX, &o->max_length);
    case OPT_CHUNK: return parse_chunk(v, o);
    case OPT_BATCH_SIZE: return parse_count(v, name, SBERT_MAX_BATCH_SIZE, &o->batch_size);
    case OPT_THREADS:
        if (parse_count(v, name, SBERT_MAX_THREADS, &n)) return -1;
        o->threads = (int)n;
        return 0;
    case OPT_NORMALIZE: o->normalize = 1; return 0;
    case OPT_SIMILARITY: o->similarity = 1; return 0;
    case OPT_IDS: o->ids = 1; return 0;
    case OPT_JSONL: o->jsonl = 1; return 0;
    case OPT_QUIET: o->quiet = 1; return 0;
    default: return 0;
    }
}

/* Refuses options that contradict each other or would be ignored. */
static int check_combination(const options *o)
{
    static const option_id not_with_ids[] = { OPT_FORMAT, OPT_NORMALIZE, OPT_SIMILARITY, OPT_THREADS,
                                              OPT_BATCH_SIZE, OPT_CHUNK };
    for (size_t k = 0; o->ids && k < sizeof not_with_ids / sizeof *not_with_ids; k++)
        if (o->given[not_with_ids[k]]) {
            complain("--ids prints token ids; %s does not apply to them\n",
                    OPTIONS[not_with_ids[k]].name);
            return -1;
        }
    const char *why = NULL;
    if (o->similarity && o->format != FORMAT_TSV)
        why = "--similarity prints a tab-separated matrix; --format json or npy does not apply to it";
    else if (o->prompt && o->prompt_name)
        why = "give --prompt or --prompt-name, not both";
    else if (o->jsonl && o->texts)
        why = "--jsonl reads standard input; texts on the command line are not JSON Lines";
    else if (!o->model_path)
        why = "no model given; use -m MODEL.sbert (convert a sentence-transformers directory with "
              "tools/convert_safetensors.py)";
    if (why) {
        complain("%s\n", why);
        return -1;
    }
    return 0;
}

/* Returns 0, 1 to exit successfully (--help, --version), or -1 on a usage error. Options and
 * texts may be mixed; the texts are gathered, in order, into argv[1..]. */
static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    size_t n_texts = 0;
    int only_texts = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (only_texts || a[0] != '-' || !a[1]) { /* a text ("-" alone is one too) */
            argv[1 + n_texts++] = argv[i];
            continue;
        }
        if (!strcmp(a, "--")) {
            only_texts = 1;
            continue;
        }
        const int id = find_option(a, &v);
        if (id < 0) {
            complain("unknown option %s (see --help; a text that starts with '-' "
                            "goes after --)\n", a);
            return -1;
        }
        const char *name = OPTIONS[id].name;
        if (o->given[id]++) {
            complain("%s is given twice\n", name);
            return -1;
        }
        if (id == OPT_HELP) { usage(stdout); return 1; }
        if (id == OPT_VERSION) {
            printf("libsbert %s (%s)\n", sbert_version(), sbert_system_info());
            return 1;
        }
        if (OPTIONS[id].takes_value && !v) {
            if (i + 1 == argc) {
                complain("%s needs a value (see --help)\n", name);
                return -1;
            }
            v = argv[++i];
        }
        if (set_option(o, id, name, v))
            return -1;
    }
    if (n_texts) {
        o->texts = argv + 1;
        o->n_texts = n_texts;
    }
    return check_combination(o);
}

/* ---- input: a chunk of texts at a time ---------------------------------------------------- */

typedef struct {
    char *text[CHUNK_TEXTS];
    size_t len[CHUNK_TEXTS];
    size_t origin[CHUNK_TEXTS]; /* the input line, or the text's place among the arguments (1-) */
    size_t n;
    size_t line_no; /* lines read so far */
} chunk;

static void chunk_clear(chunk *c)
{
    for (size_t i = 0; i < c->n; i++)
        free(c->text[i]);
    c->n = 0;
}

/* "line 12" for standard input, "text 3" for the third text argument. */
static void say_where(const options *o, size_t origin)
{
    complain("%s %zu: ", o->texts ? "text" : "line", origin);
}

/* The "text" of one --jsonl line, or -1 after saying why the line is refused. */
static int parse_jsonl_line(const char *line, size_t len, size_t line_no, char **text, size_t *n)
{
    size_t at = 0;
    const int rc = jsonl_get_string_n(line, len, "text", text, n, &at);
    if (rc == JSONL_OK)
        return 0;
    complain("line %zu: ", line_no);
    switch (rc) {
    case JSONL_SYNTAX: fprintf(stderr, "not JSON (RFC 8259): error at byte %zu\n", at + 1); break;
    case JSONL_MISSING: case JSONL_NOT_OBJECT:
        fprintf(stderr, "expected a JSON object with a string \"text\"\n");
        break;
    case JSONL_WRONG_TYPE: fprintf(stderr, "\"text\" is not a string\n"); break;
    default: fprintf(stderr, "\"text\": %s\n", jsonl_strerror(rc)); break;
    }
    return -1;
}

/* Reads up to CHUNK_TEXTS texts from stdin. Returns -1 on a refused --jsonl line. */
static int read_chunk(const options *o, chunk *c)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = 0;
    while (c->n < CHUNK_TEXTS && (got = getline(&line, &cap, stdin)) >= 0) {
        c->line_no++;
        if (got > 0 && line[got - 1] == '\n')
            line[--got] = '\0';
        if (o->jsonl) {
            const char *p = line;
            while (*p == ' ' || *p == '\t' || *p == '\r')
                p++;
            if (p == line + got)
                continue; /* a blank line holds no value */
            if ((rc = parse_jsonl_line(line, (size_t)got, c->line_no, &c->text[c->n], &c->len[c->n])))
                break;
        } else {
            if (!(c->text[c->n] = malloc((size_t)got + 1))) {
                complain("out of memory reading line %zu\n", c->line_no);
                rc = -1;
                break;
            }
            memcpy(c->text[c->n], line, (size_t)got + 1);
            c->len[c->n] = (size_t)got;
        }
        c->origin[c->n++] = c->line_no;
    }
    if (rc == 0 && c->n < CHUNK_TEXTS && ferror(stdin)) { /* not the end: EISDIR, EBADF, EIO */
        complain("cannot read the input: %s\n", strerror(errno));
        rc = -1;
    }
    free(line);
    return rc;
}

/* The next CHUNK_TEXTS texts of the command line, from *next on. */
static int take_arguments(const options *o, chunk *c, size_t *next)
{
    for (; *next < o->n_texts && c->n < CHUNK_TEXTS; ++*next, c->n++) {
        c->len[c->n] = strlen(o->texts[*next]);
        c->origin[c->n] = *next + 1;
        if (!(c->text[c->n] = strdup(o->texts[*next]))) {
            complain("out of memory\n");
            return -1;
        }
    }
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

/* Whether the .npy header can be written first and patched at the end: stdout is a file at its
 * start, not opened for appending (`>>`: the patch would land at the end). Else the vectors are
 * kept and written after their header once all are known. */
static int stdout_patchable(void)
{
    const int flags = fcntl(STDOUT_FILENO, F_GETFL);
    return lseek(STDOUT_FILENO, 0, SEEK_CUR) == 0 && flags != -1 && !(flags & O_APPEND);
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

/* The failure of a library call on one text: its place, the code's name, the detail. */
static int text_failed(const options *o, const chunk *c, size_t i, sbert_context *ctx, int rc)
{
    say_where(o, c->origin[i]);
    fprintf(stderr, "%s: %s\n", sbert_strerror(rc), sbert_context_errmsg(ctx));
    return rc;
}

static int write_ids(sbert_context *ctx, const options *o, const sbert_encode_options *enc,
                     const chunk *c, int32_t **ids, size_t *cap)
{
    for (size_t i = 0; i < c->n; i++) {
        size_t n = 0;
        int rc;
        while ((rc = sbert_encode_ids(ctx, c->text[i], c->len[i], enc, *ids, *cap, &n)) ==
               SBERT_ERR_BUFFER_TOO_SMALL) {
            int32_t *grown = realloc(*ids, n * sizeof **ids);
            if (!grown)
                return SBERT_ERR_NO_MEMORY;
            *ids = grown;
            *cap = n;
        }
        if (rc != SBERT_OK)
            return text_failed(o, c, i, ctx, rc);
        for (size_t j = 0; j < n; j++)
            printf(j ? " %d" : "%d", (int)(*ids)[j]);
        putchar('\n');
    }
    return SBERT_OK;
}

static int print_similarity(const sbert_model *model, const float *v, size_t n, size_t dim)
{
    float *m = malloc(n * n * sizeof *m + 1);
    if (!m || sbert_similarity_matrix(sbert_model_similarity(model), v, n, v, n, dim, m, n * n)) {
        complain("out of memory for the similarity matrix\n");
        free(m);
        return SBERT_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < n; j++)
            printf(j ? "\t%.4f" : "%.4f", m[i * n + j]);
        putchar('\n');
    }
    free(m);
    return SBERT_OK;
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

/* A failed sbert_encode of a chunk: when a text is the cause (its ids cannot be made), the error
 * names it; otherwise (memory) it names none. */
static int encode_failed(session *s, const options *o, const chunk *c, int rc)
{
    int text_rc;
    const size_t i = cli_first_bad_text(s->ctx, (const char *const *)c->text, c->len, c->n,
                                        &s->enc, &text_rc);
    if (i < c->n)
        return text_failed(o, c, i, s->ctx, text_rc);
    complain("%s: %s\n", sbert_strerror(rc), sbert_context_errmsg(s->ctx));
    return rc;
}

static int encode_chunk(session *s, const options *o, chunk *c, float *vectors)
{
    const char **texts = (const char **)c->text;
    int rc = sbert_encode(s->ctx, texts, c->len, c->n, &s->enc, vectors, c->n * s->dim);
    if (rc != SBERT_OK)
        return encode_failed(s, o, c, rc);
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
    for (size_t next_arg = 0; rc == SBERT_OK;) {
        if (o->texts ? take_arguments(o, c, &next_arg) : read_chunk(o, c)) {
            rc = SBERT_ERR_INVALID_ARGUMENT;
            break;
        }
        if (c->n == 0)
            break;
        rc = o->ids ? write_ids(s->ctx, o, &s->enc, c, &ids, &ids_cap)
                    : encode_chunk(s, o, c, vectors);
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
        complain("cannot load %s: %s\n", o->model_path, err);
        return rc;
    }
    sbert_context_params cp = sbert_context_default_params();
    cp.n_threads = o->threads;     /* 0: every core */
    cp.batch_size = o->batch_size; /* 0: the default */
    rc = sbert_context_create(s->model, &cp, &s->ctx, err, sizeof err);
    if (rc != SBERT_OK) {
        complain("cannot create a context: %s\n", err);
        return rc;
    }
    s->enc = sbert_encode_default_options();
    s->enc.normalize = o->normalize;
    s->enc.prompt = o->prompt;
    s->enc.prompt_name = o->prompt_name;
    s->enc.max_length = o->max_length;
    s->enc.chunking.window = o->chunk_window;
    s->enc.chunking.stride = o->chunk_stride;
    /* Options that do not fit this model (--max-length, --prompt-name, --chunk) fail before any
     * text is read: a call with no texts checks them. */
    rc = sbert_encode(s->ctx, NULL, NULL, 0, &s->enc, NULL, 0);
    if (rc != SBERT_OK) {
        complain("%s: %s\n", sbert_strerror(rc), sbert_context_errmsg(s->ctx));
        return rc;
    }
    s->dim = sbert_model_dim(s->model);
    s->start = now_seconds();
    s->progress = !o->quiet && isatty(STDERR_FILENO) && !o->texts;
    return SBERT_OK;
}

int main(int argc, char **argv)
{
    if (argc > 0 && argv[0][0]) {
        const char *slash = strrchr(argv[0], '/');
        prog = slash ? slash + 1 : argv[0];
    }
    options o;
    int parsed = parse_args(argc, argv, &o);
    if (parsed)
        return parsed > 0 ? cli_flush_stdout(prog) : 2;
    session s = { 0 };
    int rc = open_session(&s, &o);
    const int npy = o.format == FORMAT_NPY && !o.ids && !o.similarity;
    const int patchable = npy && stdout_patchable();
    s.collect = o.similarity || (npy && !patchable);
    if (rc == SBERT_OK && patchable)
        write_npy_header(stdout, 0, s.dim); /* patched with the real row count at the end */
    if (rc == SBERT_OK)
        rc = run(&s, &o);
    if (rc == SBERT_OK && o.similarity)
        rc = print_similarity(s.model, s.all, s.n_all, s.dim);
    if (rc == SBERT_OK && patchable && fseek(stdout, 0, SEEK_SET) == 0)
        write_npy_header(stdout, s.n_done, s.dim);
    if (rc == SBERT_OK && npy && !patchable) {
        write_npy_header(stdout, s.n_all, s.dim);
        write_vectors(&o, s.all, s.n_all, s.dim);
    }
    if (s.progress && s.n_done)
        fputc('\n', stderr);
    if (cli_flush_stdout(prog) && rc == SBERT_OK)
        rc = SBERT_ERR_IO;
    free(s.all);
    sbert_context_free(s.ctx);
    sbert_model_free(s.model);
    return rc == SBERT_OK ? 0 : 1;
}
