/* Token ids against the real Hugging Face tokenizers (tests/data/tokenize/README.md).
 *
 * klue-roberta-base and all-MiniLM-L6-v2 go through the whole library: the .sbert files made by
 * the converter from tests/data/models/{ko-tiny,minilm-tiny} (whose tokenizer.json are those
 * models') into $BUILD/models, sbert_model_load() and sbert_tokenize(). bert-base-multilingual-cased has no model
 * file; its tokenizer is built here from its vocab.txt with the settings of the tokenizer.json
 * that tools/golden_tokenize_hf.js made beside it.
 *
 * For every model:
 *   - every row of <model>.jsonl: `ids` with SBERT_TOKENIZE_NO_TRUNCATE, and the default call
 *     (truncated to the model's max_seq_length) against `ids_trunc`, or `ids` for short rows;
 *   - every Unicode scalar value alone (SBERT_TOKENIZE_RAW | NO_SPECIAL | NO_TRUNCATE) against
 *     <model>.codepoints.txt, where an unlisted code point means exactly the unknown token.
 * All must be identical; the first few differences are printed. */
#include <stdlib.h>
#include <string.h>

#include "../examples/jsonl.h"
#include "harness.h"
#include "model/model.h"
#include "sbert.h"
#include "tokenizer/tokenizer.h"
#include "text/text.h"

#define DATA "tests/data/tokenize/"
#define MAX_IDS 65536
#define SHOW_FIRST 5
#define N_CODE_POINTS 0x110000

/* What is tokenized: a loaded model's context, or a bare tokenizer. */
typedef struct {
    const char *name;
    sbert_context *ctx;
    const sb_tokenizer *tok;
    sb_tok_scratch *scratch;
    size_t max_len;       /* for the bare tokenizer: the truncation length */
    int32_t unk_id;
    const char *unlisted; /* the ids of a code point <model>.codepoints.txt does not list
                             (NULL: the unknown token alone) */
} subject;

static int tokenize(const subject *s, const char *text, size_t len, int flags, int32_t *ids,
                    size_t *n)
{
    if (s->ctx)
        return sbert_tokenize(s->ctx, text, len, flags, ids, MAX_IDS, n);
    const sb_tok_options o = {
        .st_prepare = !(flags & SBERT_TOKENIZE_RAW),
        .add_special = !(flags & SBERT_TOKENIZE_NO_SPECIAL),
        .max_tokens = (flags & SBERT_TOKENIZE_NO_TRUNCATE) ? 0 : s->max_len,
        .utf8 = SB_UTF8_REJECT,
    };
    return sb_tokenizer_encode(s->tok, s->scratch, text, len, &o, ids, MAX_IDS, n, NULL, 0);
}

static bool same_ids(const int32_t *got, size_t n, const double *want, size_t n_want)
{
    if (n != n_want)
        return false;
    for (size_t i = 0; i < n; i++)
        if (got[i] != (int32_t)want[i])
            return false;
    return true;
}

/* One row: 0 when both calls match. */
static int check_row(const subject *s, const char *line, size_t *n_trunc, int32_t *ids)
{
    char *text = NULL;
    size_t len = 0, n_ids = 0, n_trunc_ids = 0, n = 0;
    double *want = NULL, *want_trunc = NULL;
    int bad = jsonl_get_string(line, "text", &text, &len) ||
              jsonl_get_numbers(line, "ids", &want, &n_ids);
    if (!bad && jsonl_get_numbers(line, "ids_trunc", &want_trunc, &n_trunc_ids) == 0)
        ++*n_trunc;
    /* The golden ids are tokenizers' encode() of the text as it is: without sentence-transformers'
     * strip, which Metaspace would see. */
    if (!bad)
        bad = tokenize(s, text, len, SBERT_TOKENIZE_RAW | SBERT_TOKENIZE_NO_TRUNCATE, ids, &n) != SBERT_OK ||
              !same_ids(ids, n, want, n_ids);
    if (!bad)
        bad = tokenize(s, text, len, SBERT_TOKENIZE_RAW, ids, &n) != SBERT_OK ||
              !(want_trunc ? same_ids(ids, n, want_trunc, n_trunc_ids) : same_ids(ids, n, want, n_ids));
    free(text);
    free(want);
    free(want_trunc);
    return bad;
}

static void check_jsonl(const subject *s, const char *path)
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f)
        return;
    int32_t *ids = malloc(MAX_IDS * sizeof *ids);
    char *line = NULL;
    size_t cap = 0, rows = 0, failed = 0, truncated = 0;
    while (getline(&line, &cap, f) > 0) {
        rows++;
        if (check_row(s, line, &truncated, ids) && ++failed <= SHOW_FIRST)
            fprintf(stderr, "%s row %zu differs: %.120s\n", path, rows, line);
    }
    printf("%s: %zu/%zu rows identical (%zu of them truncated)\n", path, rows - failed, rows,
           truncated);
    CHECK(rows > 0 && failed == 0, "%s: %zu of %zu rows differ", path, failed, rows);
    free(line);
    free(ids);
    fclose(f);
}

/* The expected ids of each code point, as the text of its line ("" when not listed). */
static char **read_codepoints(const char *path, char **buffer)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    const long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    *buffer = malloc((size_t)size + 1);
    const size_t got = fread(*buffer, 1, (size_t)size, f);
    fclose(f);
    (*buffer)[got] = '\0';
    char **expected = calloc(N_CODE_POINTS, sizeof *expected);
    for (char *p = *buffer; *p;) {
        char *end = strchr(p, '\n');
        if (end)
            *end = '\0';
        char *ids = strchr(p, ' ');
        const unsigned long cp = strtoul(p, NULL, 16);
        if (ids && cp < N_CODE_POINTS)
            expected[cp] = ids + 1;
        p = end ? end + 1 : p + strlen(p);
    }
    return expected;
}

static void format_ids(const int32_t *ids, size_t n, char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o < size; i++)
        o += (size_t)snprintf(out + o, size - o, i ? ",%d" : "%d", ids[i]);
}

static void check_codepoints(const subject *s, const char *path)
{
    char *buffer = NULL;
    char **expected = read_codepoints(path, &buffer);
    CHECK(expected != NULL, "cannot read %s", path);
    if (!expected)
        return;
    char unk[16], got[1024];
    snprintf(unk, sizeof unk, "%d", s->unk_id);
    const char *unlisted = s->unlisted ? s->unlisted : unk;
    int32_t ids[64];
    size_t total = 0, failed = 0;
    for (uint32_t cp = 0; cp < N_CODE_POINTS; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue;
        uint8_t utf8[4];
        const int len = sb_utf8_encode(cp, utf8);
        size_t n = 0;
        const int rc = tokenize(s, (const char *)utf8, (size_t)len,
                                SBERT_TOKENIZE_RAW | SBERT_TOKENIZE_NO_SPECIAL |
                                    SBERT_TOKENIZE_NO_TRUNCATE, ids, &n);
        format_ids(ids, rc == SBERT_OK ? n : 0, got, sizeof got);
        const char *want = expected[cp] ? expected[cp] : unlisted;
        total++;
        if ((rc != SBERT_OK || strcmp(got, want) != 0) && ++failed <= SHOW_FIRST)
            fprintf(stderr, "%s U+%04X: got [%s], want [%s]\n", s->name, cp, got, want);
    }
    printf("%s: %zu/%zu code points identical\n", s->name, total - failed, total);
    CHECK(failed == 0, "%s: %zu code points differ", path, failed);
    free(expected);
    free(buffer);
}

static bool exists(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f)
        fclose(f);
    return f != NULL;
}

/* <name>.edge.jsonl, and (full) <name>.jsonl, and those of <name>.graphemes.jsonl,
 * <name>.metaspace.jsonl and <name>.codepoints.txt that exist. */
static void check_files(const subject *s, bool full)
{
    char path[256];
    snprintf(path, sizeof path, DATA "%s.edge.jsonl", s->name);
    check_jsonl(s, path);
    if (!full)
        return;
    snprintf(path, sizeof path, DATA "%s.jsonl", s->name);
    check_jsonl(s, path);
    static const char *const optional[] = { "graphemes", "metaspace" };
    for (size_t i = 0; i < sizeof optional / sizeof *optional; i++) {
        snprintf(path, sizeof path, DATA "%s.%s.jsonl", s->name, optional[i]);
        if (exists(path))
            check_jsonl(s, path);
    }
    snprintf(path, sizeof path, DATA "%s.codepoints.txt", s->name);
    if (exists(path))
        check_codepoints(s, path);
}

/* $BUILD/models/<file>.sbert, converted by make test; NULL when it does not load. */
static sbert_model *load_model(const char *file)
{
    const char *build = getenv("BUILD");
    char model_path[256];
    snprintf(model_path, sizeof model_path, "%s/models/%s.sbert", build ? build : "build", file);
    sbert_model *model = NULL;
    char err[512];
    const int rc = sbert_model_load(model_path, NULL, &model, err, sizeof err);
    CHECK(rc == SBERT_OK, "%s: %s (run make test, which converts it)", model_path, err);
    return rc == SBERT_OK ? model : NULL;
}

/* Every golden file of `name` through the model converted from tests/data/models/<file>. */
static void check_model(const char *file, const char *name, const char *unlisted)
{
    sbert_model *model = load_model(file);
    if (!model)
        return;
    subject s = { .name = name, .unk_id = model->tok_cfg.unk_id, .unlisted = unlisted };
    CHECK(sbert_context_create(model, NULL, &s.ctx, NULL, 0) == SBERT_OK, "%s: no context", name);
    check_files(&s, true);
    sbert_context_free(s.ctx);
    sbert_model_free(model);
}

/* ---- tokenizers without a model file: built here from vocab.txt ------------------------------ */

typedef struct {
    char *text;      /* the file */
    sb_str *vocab;   /* its lines */
    uint32_t n;
} vocab_file;

static bool read_vocab(const char *path, vocab_file *v)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    fseek(f, 0, SEEK_END);
    const long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    v->text = malloc((size_t)size + 1);
    const size_t got = fread(v->text, 1, (size_t)size, f);
    fclose(f);
    v->vocab = malloc(((size_t)size + 1) * sizeof *v->vocab);
    v->n = 0;
    for (size_t start = 0; start < got;) {
        const char *nl = memchr(v->text + start, '\n', got - start);
        const size_t end = nl ? (size_t)(nl - v->text) : got;
        v->vocab[v->n++] = (sb_str){ v->text + start, (uint32_t)(end - start) };
        start = end + 1;
    }
    return true;
}

static int32_t vocab_id(const vocab_file *v, const char *token)
{
    for (uint32_t i = 0; i < v->n; i++)
        if (v->vocab[i].len == strlen(token) && memcmp(v->vocab[i].ptr, token, v->vocab[i].len) == 0)
            return (int32_t)i;
    return -1;
}

#define MAX_ADDED 64

/* Added tokens: the BERT special tokens (ids from the vocabulary, all flags 0), then the lines
 * of tests/data/tokenize/added-tokens.jsonl when `extra` is set. */
typedef struct {
    uint32_t n;
    sb_str content[MAX_ADDED];
    int32_t id[MAX_ADDED];
    uint8_t lstrip[MAX_ADDED], rstrip[MAX_ADDED], single_word[MAX_ADDED], normalized[MAX_ADDED];
    uint8_t special[MAX_ADDED];
    char *owned[MAX_ADDED];
} added_tokens;

static long json_int(const char *line, const char *key)
{
    char *keybuf = malloc(strlen(line) + 1);
    const char *p = NULL;
    const int rc = keybuf ? jsonl_find_value(line, strlen(line), key, keybuf, &p, NULL) : -1;
    free(keybuf);
    return rc == JSONL_OK ? strtol(p, NULL, 10) : -1;
}

static void read_added(added_tokens *a, const vocab_file *v, bool extra)
{
    static const char *const specials[] = { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" };
    memset(a, 0, sizeof *a);
    for (int i = 0; i < 5; i++, a->n++) {
        a->content[a->n] = (sb_str){ specials[i], (uint32_t)strlen(specials[i]) };
        a->id[a->n] = vocab_id(v, specials[i]);
        a->special[a->n] = 1;
    }
    FILE *f = extra ? fopen(DATA "added-tokens.jsonl", "r") : NULL;
    CHECK(!extra || f, "cannot open " DATA "added-tokens.jsonl");
    char *line = NULL;
    size_t cap = 0, len = 0;
    while (f && a->n < MAX_ADDED && getline(&line, &cap, f) > 0 &&
           jsonl_get_string(line, "content", &a->owned[a->n], &len) == 0) {
        a->content[a->n] = (sb_str){ a->owned[a->n], (uint32_t)len };
        a->id[a->n] = (int32_t)json_int(line, "id");
        a->lstrip[a->n] = json_int(line, "lstrip") == 1;
        a->rstrip[a->n] = json_int(line, "rstrip") == 1;
        a->single_word[a->n] = json_int(line, "single_word") == 1;
        a->normalized[a->n++] = json_int(line, "normalized") == 1;
    }
    free(line);
    if (f)
        fclose(f);
}

/* A BERT WordPiece tokenizer as the tokenizer.json in tests/data/tokenizers/<name> describes
 * it: BertNormalizer (clean_text, handle_chinese_chars, strip_accents null, `lowercase`),
 * BertPreTokenizer, WordPiece [UNK] ## 100, [CLS] A [SEP]. */
static void check_bare(const char *name, const char *vocab_dir, bool lowercase, bool extra_added,
                       size_t max_len, bool full)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/tokenizers/%s/vocab.txt", vocab_dir);
    vocab_file v = { 0 };
    const bool have_vocab = read_vocab(path, &v);
    CHECK(have_vocab, "cannot read %s", path);
    if (!have_vocab)
        return;
    static added_tokens a;
    read_added(&a, &v, extra_added);
    const int32_t cls = vocab_id(&v, "[CLS]"), sep = vocab_id(&v, "[SEP]");
    const sb_tokenizer_config cfg = {
        .model = SB_TOK_WORDPIECE, .vocab = v.vocab, .vocab_size = v.n,
        .unk_id = vocab_id(&v, "[UNK]"), .pad_id = vocab_id(&v, "[PAD]"),
        .prefix_ids = &cls, .n_prefix = 1, .suffix_ids = &sep, .n_suffix = 1,
        .n_added = a.n, .added_content = a.content, .added_id = a.id,
        .added_lstrip = a.lstrip, .added_rstrip = a.rstrip, .added_single_word = a.single_word,
        .added_normalized = a.normalized, .added_special = a.special,
        .wp_prefix = { "##", 2 }, .wp_max_input_chars_per_word = 100,
        .normalizer = SB_NORM_BERT, .bert_clean_text = true, .bert_handle_chinese_chars = true,
        .bert_strip_accents = lowercase, .bert_lowercase = lowercase,
        .pretokenizer = SB_PRETOK_BERT,
    };
    sb_tokenizer *tok = NULL;
    char err[256];
    CHECK(sb_tokenizer_create(&cfg, &tok, err, sizeof err) == SBERT_OK, "%s: %s", name, err);
    subject s = { .name = name, .tok = tok, .scratch = sb_tok_scratch_create(),
                  .max_len = max_len, .unk_id = cfg.unk_id };
    if (tok)
        check_files(&s, full);
    sb_tok_scratch_free(s.scratch);
    sb_tokenizer_free(tok);
    for (uint32_t i = 0; i < a.n; i++)
        free(a.owned[i]);
    free(v.vocab);
    free(v.text);
}

/* ---- pegasus-autonlp-reuters: built from the xlmr-style tokenizer of xlmr-tiny ---------------- */

/* xlmr-style's tokenizer.json was made from pegasus': the same charsmap and Replace, and after
 * its own 4 special tokens the same pieces and scores up to its final <mask>. Pegasus has instead
 * <pad> </s> <mask_1> <mask_2> <unk_2>..<unk_102> (score -100) <unk> as pieces 0..105, all of them
 * added tokens, WhitespaceSplit + Metaspace (add_prefix_space) and the template "A </s>". */
#define PEGASUS_SPECIAL 106
#define XLMR_SPECIAL 4

typedef struct {
    sb_str vocab[PEGASUS_SPECIAL + 96000];
    float scores[PEGASUS_SPECIAL + 96000];
    char names[PEGASUS_SPECIAL][12];
    int32_t added_id[PEGASUS_SPECIAL];
    uint8_t zero[PEGASUS_SPECIAL], one[PEGASUS_SPECIAL];
} pegasus_tables;

static bool pegasus_config(const sb_tokenizer_config *xlmr, pegasus_tables *t,
                           sb_tokenizer_config *cfg)
{
    const uint32_t n_pieces = xlmr->vocab_size - XLMR_SPECIAL - 1; /* without <mask> */
    if (PEGASUS_SPECIAL + n_pieces > sizeof t->vocab / sizeof t->vocab[0])
        return false;
    static const char *const first[] = { "<pad>", "</s>", "<mask_1>", "<mask_2>" };
    for (int i = 0; i < PEGASUS_SPECIAL; i++) {
        if (i < 4)
            snprintf(t->names[i], sizeof t->names[i], "%s", first[i]);
        else
            snprintf(t->names[i], sizeof t->names[i], i == PEGASUS_SPECIAL - 1 ? "<unk>" : "<unk_%d>", i - 2);
        t->vocab[i] = (sb_str){ t->names[i], (uint32_t)strlen(t->names[i]) };
        t->scores[i] = i >= 4 && i < PEGASUS_SPECIAL - 1 ? -100.0f : 0.0f;
        t->added_id[i] = i;
        t->zero[i] = 0;
        t->one[i] = 1;
    }
    for (uint32_t i = 0; i < n_pieces; i++) {
        t->vocab[PEGASUS_SPECIAL + i] = xlmr->vocab[XLMR_SPECIAL + i];
        t->scores[PEGASUS_SPECIAL + i] = xlmr->scores[XLMR_SPECIAL + i];
    }
    static const int32_t eos = 1;
    *cfg = *xlmr;
    cfg->vocab = t->vocab;
    cfg->scores = t->scores;
    cfg->vocab_size = PEGASUS_SPECIAL + n_pieces;
    cfg->unk_id = PEGASUS_SPECIAL - 1;
    cfg->pad_id = 0;
    cfg->n_prefix = 0;
    cfg->prefix_ids = NULL;
    cfg->suffix_ids = &eos;
    cfg->n_suffix = 1;
    cfg->n_added = PEGASUS_SPECIAL;
    cfg->added_content = t->vocab;
    cfg->added_id = t->added_id;
    cfg->added_lstrip = cfg->added_rstrip = cfg->added_single_word = t->zero;
    cfg->added_normalized = t->zero;
    cfg->added_special = t->one;
    cfg->pretokenizer = SB_PRETOK_WHITESPACE;
    cfg->metaspace_prepend = SB_PREPEND_ALWAYS;
    cfg->metaspace_split = true;
    return true;
}

/* A Unigram tokenizer made from xlmr-tiny's: itself with other Metaspace settings, or pegasus
 * (then with_whitespace: WhitespaceSplit first). */
typedef struct {
    const char *name;
    bool pegasus;
    sb_prepend_scheme prepend;
    bool split;
    bool full;        /* all of its golden files, or only <name>.metaspace.jsonl */
} variant;

static void check_variant(const sbert_model *model, const variant *v)
{
    static pegasus_tables t;
    sb_tokenizer_config cfg = model->tok_cfg;
    CHECK(!v->pegasus || pegasus_config(&model->tok_cfg, &t, &cfg),
          "pegasus: the xlmr-style vocab is too large");
    cfg.metaspace_prepend = v->prepend;
    cfg.metaspace_split = v->split;
    sb_tokenizer *tok = NULL;
    char err[256];
    CHECK(sb_tokenizer_create(&cfg, &tok, err, sizeof err) == SBERT_OK, "%s: %s", v->name, err);
    subject s = { .name = v->name, .tok = tok, .scratch = sb_tok_scratch_create(),
                  .max_len = v->pegasus ? 192 : 128, .unk_id = cfg.unk_id };
    char path[256];
    snprintf(path, sizeof path, DATA "%s.metaspace.jsonl", v->name);
    if (tok && v->full)
        check_files(&s, true);
    else if (tok)
        check_jsonl(&s, path);
    sb_tok_scratch_free(s.scratch);
    sb_tokenizer_free(tok);
}

/* pegasus-autonlp-reuters, and the Metaspace settings tests/data/tokenize/README.md lists. */
static void check_unigram_variants(void)
{
    static const variant variants[] = {
        { "pegasus-autonlp-reuters", true, SB_PREPEND_ALWAYS, true, true },
        { "pegasus-first-split", true, SB_PREPEND_FIRST, true, false },
        { "xlmr-first-split", false, SB_PREPEND_FIRST, true, false },
        { "xlmr-first-nosplit", false, SB_PREPEND_FIRST, false, false },
        { "xlmr-never-split", false, SB_PREPEND_NEVER, true, false },
        { "xlmr-never-nosplit", false, SB_PREPEND_NEVER, false, false },
    };
    sbert_model *model = load_model("xlmr-tiny");
    for (size_t i = 0; model && i < sizeof variants / sizeof *variants; i++)
        check_variant(model, &variants[i]);
    sbert_model_free(model);
}

int main(void)
{
    check_model("ko-tiny", "klue-roberta-base", NULL);
    check_model("minilm-tiny", "all-MiniLM-L6-v2", NULL);
    check_model("xlmr-tiny", "xlmr-style", "8,3");
    check_model("mpnet-tiny", "mpnet-style", NULL);
    check_unigram_variants();
    check_bare("bert-base-multilingual-cased", "bert-base-multilingual-cased", false, false, 128, true);
    check_bare("minilm-added-tokens", "all-MiniLM-L6-v2", true, true, 256, false);
    return TEST_DONE();
}
