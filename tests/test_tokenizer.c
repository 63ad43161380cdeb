/* Tokenizer units: UTF-8 policies, sentence-transformers' text preparation, the normalizer's
 * output bound, WordPiece corners, truncation, buffers and configuration errors; grapheme
 * clusters against Unicode's test file, the Precompiled normalizer's lookup rules and damaged
 * charsmaps on a hand-made trie, Replace, and the Unigram search on a small vocabulary.
 *
 * The UTF-8 replacement and the text preparation are compared with CPython itself
 * (tests/data/tokenize/python-*.jsonl, made by tools/golden_python.py). Inputs are copied into
 * buffers of exactly their size so that AddressSanitizer (make test-asan) catches any read past
 * the end, e.g. of a sequence truncated at the end of the text. */
#include <stdlib.h>
#include <string.h>

#include "../examples/jsonl.h"
#include "harness.h"
#include "sbert.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/internal.h"
#include "text/text.h"

#define DATA "tests/data/tokenize/"

/* A copy of s[0..n) in a buffer of exactly n bytes (never NULL). */
static uint8_t *exact_copy(const void *s, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (n)
        memcpy(p, s, n);
    return p;
}

static size_t from_hex(const char *hex, size_t len, uint8_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i + 1 < len; i += 2) {
        const char pair[3] = { hex[i], hex[i + 1], '\0' };
        out[n++] = (uint8_t)strtoul(pair, NULL, 16);
    }
    return n;
}

/* Calls fn on every line of a golden file; returns the number of lines. */
static size_t for_each_line(const char *path, void (*fn)(const char *line, size_t row))
{
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f)
        return 0;
    char *line = NULL;
    size_t cap = 0, rows = 0;
    while (getline(&line, &cap, f) > 0)
        fn(line, ++rows);
    free(line);
    fclose(f);
    return rows;
}

/* ---- UTF-8 ---------------------------------------------------------------------------------- */

static size_t utf8_failures;

static void check_utf8_row(const char *line, size_t row)
{
    char *hex = NULL, *want = NULL;
    size_t hex_len, want_len;
    if (jsonl_get_string(line, "hex", &hex, &hex_len) || jsonl_get_string(line, "text", &want, &want_len)) {
        CHECK(0, "python-utf8.jsonl row %zu malformed", row);
        return;
    }
    uint8_t bytes[64];
    const size_t n = from_hex(hex, hex_len < 128 ? hex_len : 128, bytes);
    uint8_t *in = exact_copy(bytes, n), *out = malloc(3 * n + 1);
    const size_t out_len = sb_utf8_replace_invalid(in, n, out);
    const bool well_formed = want_len == n && memcmp(want, bytes, n) == 0;
    const bool ok = out_len == want_len && memcmp(out, want, out_len) == 0 &&
                    (sb_utf8_find_invalid(in, n) == n) == well_formed;
    if (!ok && ++utf8_failures <= 5)
        fprintf(stderr, "UTF-8 %.*s: replaced differently from Python\n", (int)hex_len, hex);
    free(in);
    free(out);
    free(hex);
    free(want);
}

static void test_utf8_against_python(void)
{
    utf8_failures = 0;
    const size_t rows = for_each_line(DATA "python-utf8.jsonl", check_utf8_row);
    printf("UTF-8 U+FFFD replacement: %zu/%zu byte strings as Python's errors=\"replace\"\n",
           rows - utf8_failures, rows);
    CHECK(rows > 0 && utf8_failures == 0, "%zu byte strings differ", utf8_failures);
}

static void test_utf8_decode(void)
{
    uint32_t cp;
    CHECK(sb_utf8_decode((const uint8_t *)"\xF0\x9F\x98\x80", 4, &cp) == 4 && cp == 0x1F600, "emoji");
    CHECK(sb_utf8_decode((const uint8_t *)"\xF0\x9F\x98", 3, &cp) == 3 && cp == SB_UTF8_BAD,
          "a sequence cut at the end is one maximal subpart");
    CHECK(sb_utf8_decode((const uint8_t *)"\xED\xA0\x80", 3, &cp) == 1 && cp == SB_UTF8_BAD,
          "a surrogate's lead byte alone is the subpart");
    CHECK(sb_utf8_decode((const uint8_t *)"\xC0\x80", 2, &cp) == 1 && cp == SB_UTF8_BAD, "overlong");
    CHECK(sb_utf8_decode((const uint8_t *)"\xF4\x90\x80\x80", 4, &cp) == 1 && cp == SB_UTF8_BAD,
          "above U+10FFFF");
    for (uint32_t c = 0; c <= SB_UNICODE_MAX; c++) {
        if (c >= 0xD800 && c <= 0xDFFF)
            continue;
        uint8_t buf[4];
        const int n = sb_utf8_encode(c, buf);
        uint32_t back;
        if (sb_utf8_decode(buf, (size_t)n, &back) != n || back != c) {
            CHECK(0, "U+%04X does not round-trip", c);
            break;
        }
    }
}

/* ---- a small WordPiece tokenizer -------------------------------------------------------------- */

static const char *const small_vocab[] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b", "c", "d", "##b", "##c", "ab", "abc",
    "un", "##aff", "##able", "x", "b", /* "b" twice: the later id (17) wins, as in a HF map */
};
enum { N_SMALL = sizeof small_vocab / sizeof *small_vocab, CLS = 2, SEP = 3, UNK = 1 };

typedef struct {
    sb_str vocab[N_SMALL];
    sb_str added[5];
    int32_t added_id[5], prefix, suffix;
    uint8_t zero[5];
    sb_tokenizer_config cfg;
} small_config;

static void make_small(small_config *c, uint32_t max_chars)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < N_SMALL; i++)
        c->vocab[i] = (sb_str){ small_vocab[i], (uint32_t)strlen(small_vocab[i]) };
    for (int i = 0; i < 5; i++) {
        c->added[i] = c->vocab[i];
        c->added_id[i] = i;
    }
    c->prefix = CLS;
    c->suffix = SEP;
    c->cfg = (sb_tokenizer_config){
        .model = SB_TOK_WORDPIECE, .vocab = c->vocab, .vocab_size = N_SMALL, .unk_id = UNK,
        .prefix_ids = &c->prefix, .n_prefix = 1, .suffix_ids = &c->suffix, .n_suffix = 1,
        .n_added = 5, .added_content = c->added, .added_id = c->added_id,
        .added_lstrip = c->zero, .added_rstrip = c->zero, .added_single_word = c->zero,
        .added_normalized = c->zero, .added_special = c->zero,
        .wp_prefix = { "##", 2 }, .wp_max_input_chars_per_word = max_chars,
        .normalizer = SB_NORM_BERT, .bert_clean_text = true, .bert_handle_chinese_chars = true,
        .pretokenizer = SB_PRETOK_BERT,
    };
}

typedef struct {
    small_config c;
    sb_tokenizer *tok;
    sb_tok_scratch *scratch;
    char err[256];
} small;

static void small_open(small *s, uint32_t max_chars)
{
    make_small(&s->c, max_chars);
    CHECK(sb_tokenizer_create(&s->c.cfg, &s->tok, s->err, sizeof s->err) == SBERT_OK, "%s", s->err);
    s->scratch = sb_tok_scratch_create();
}

static void small_close(small *s)
{
    sb_tok_scratch_free(s->scratch);
    sb_tokenizer_free(s->tok);
}

/* Encodes text (copied to an exact-size buffer) and compares with want[0..n_want). */
static int encode(small *s, const char *text, size_t len, sb_tok_options o, int32_t *ids,
                  size_t cap, size_t *n)
{
    uint8_t *copy = exact_copy(text, len);
    s->err[0] = '\0';
    const int rc = sb_tokenizer_encode(s->tok, s->scratch, (const char *)copy, len, &o, ids, cap,
                                       n, s->err, sizeof s->err);
    free(copy);
    return rc;
}

static bool encodes_to(small *s, const char *text, sb_tok_options o, const int32_t *want,
                       size_t n_want)
{
    int32_t ids[64];
    size_t n = 0;
    const int rc = encode(s, text, strlen(text), o, ids, 64, &n);
    return rc == SBERT_OK && n == n_want && memcmp(ids, want, n * sizeof *ids) == 0;
}

static const sb_tok_options RAW = { .add_special = true };
#define IDS(...) (const int32_t[]){ __VA_ARGS__ }, sizeof((const int32_t[]){ __VA_ARGS__ }) / sizeof(int32_t)

static void test_wordpiece(void)
{
    small s;
    small_open(&s, 5);
    CHECK(encodes_to(&s, "abc abd ab", RAW, IDS(CLS, 12, UNK, 11, SEP)),
          "longest match first; a word with an unmatched rest is one [UNK]");
    CHECK(encodes_to(&s, "abbbc abbbbc", RAW, IDS(CLS, 11, 9, 9, 10, UNK, SEP)),
          "5 characters pass max_input_chars_per_word 5, 6 do not");
    CHECK(encodes_to(&s, "b", RAW, IDS(CLS, 17, SEP)), "a duplicated string has the later id");
    CHECK(encodes_to(&s, "a,b [CLS]x[SEP]", RAW, IDS(CLS, 5, UNK, 17, CLS, 16, SEP, SEP)),
          "punctuation is its own word; added tokens inside words");
    CHECK(encodes_to(&s, "", RAW, IDS(CLS, SEP)), "empty text");
    small_close(&s);
    small_open(&s, 100);
    CHECK(encodes_to(&s, "unaffable", RAW, IDS(CLS, 13, 14, 15, SEP)), "un ##aff ##able");
    small_close(&s);
}

static void test_st_prepare(void)
{
    small s;
    make_small(&s.c, 100);
    s.c.cfg.st_do_lower_case = true;
    CHECK(sb_tokenizer_create(&s.c.cfg, &s.tok, NULL, 0) == SBERT_OK, "create");
    s.scratch = sb_tok_scratch_create();
    sb_tok_options o = RAW;
    o.st_prepare = true;
    CHECK(encodes_to(&s, "\x1c ABC\xe3\x80\x80", o, IDS(CLS, 12, SEP)),
          "strip (U+001C, U+3000 too) and lower-case before tokenizing");
    CHECK(encodes_to(&s, "ABC", RAW, IDS(CLS, UNK, SEP)),
          "without st_prepare nothing lower-cases (this normalizer does not)");
    small_close(&s);
}

static void test_truncation_and_buffers(void)
{
    small s;
    small_open(&s, 100);
    sb_tok_options o = RAW;
    o.max_tokens = 4;
    CHECK(encodes_to(&s, "a b c d", o, IDS(CLS, 5, 17, SEP)), "prefix, first ids, suffix");
    o.max_tokens = 2;
    CHECK(encodes_to(&s, "a b c d", o, IDS(CLS, SEP)), "room for the special tokens only");
    o.add_special = false;
    CHECK(encodes_to(&s, "a b c d", o, IDS(5, 17)), "without special tokens all room is text");
    o = RAW;
    o.max_tokens = 1;
    int32_t ids[8];
    size_t n = 99;
    CHECK(encode(&s, "a", 1, o, ids, 8, &n) == SBERT_ERR_INVALID_ARGUMENT,
          "max_tokens below the special tokens");
    CHECK(encode(&s, "a b c", 5, RAW, NULL, 0, &n) == SBERT_ERR_BUFFER_TOO_SMALL && n == 5,
          "capacity 0 asks for the count (%zu)", n);
    CHECK(encode(&s, "a b c", 5, RAW, ids, 4, &n) == SBERT_ERR_BUFFER_TOO_SMALL && n == 5,
          "too small a buffer");
    CHECK(encode(&s, "a b c", 5, RAW, ids, 5, &n) == SBERT_OK && n == 5, "exactly enough");
    small_close(&s);
}

static void test_utf8_policy(void)
{
    small s;
    small_open(&s, 100);
    int32_t ids[16];
    size_t n = 0;
    const char bad[] = "a b\xE2\x82";
    CHECK(encode(&s, bad, sizeof bad - 1, RAW, ids, 16, &n) == SBERT_ERR_INVALID_UTF8 &&
              strstr(s.err, "byte offset 3") != NULL,
          "REJECT names the offset: %s", s.err);
    sb_tok_options o = RAW;
    o.utf8 = SB_UTF8_REPLACE;
    CHECK(encode(&s, bad, sizeof bad - 1, o, ids, 16, &n) == SBERT_OK && n == 4 && ids[2] == 17,
          "REPLACE: U+FFFD, which clean_text drops");
    const char cut_in_word[] = "a\xF0\x9F" "b";
    CHECK(encode(&s, cut_in_word, sizeof cut_in_word - 1, o, ids, 16, &n) == SBERT_OK && n == 3 &&
              ids[1] == 11,
          "the dropped U+FFFD joins a and b into one word");
    small_close(&s);
}

static void test_config_errors(void)
{
    small_config c;
    make_small(&c, 100);
    sb_tokenizer *tok = NULL;
    c.cfg.unk_id = N_SMALL;
    CHECK(sb_tokenizer_create(&c.cfg, &tok, NULL, 0) == SBERT_ERR_CORRUPT && !tok, "unk_id");
    make_small(&c, 100);
    c.cfg.model = SB_TOK_UNIGRAM;
    CHECK(sb_tokenizer_create(&c.cfg, &tok, NULL, 0) == SBERT_ERR_CORRUPT, "Unigram, no scores");
    make_small(&c, 100);
    c.cfg.pretokenizer = SB_PRETOK_METASPACE;
    CHECK(sb_tokenizer_create(&c.cfg, &tok, NULL, 0) == SBERT_ERR_CORRUPT, "no replacement");
    make_small(&c, 100);
    c.cfg.model = (sb_tok_model)7;
    CHECK(sb_tokenizer_create(&c.cfg, &tok, NULL, 0) == SBERT_ERR_UNSUPPORTED, "model 7");
    CHECK(sb_tokenizer_create(NULL, &tok, NULL, 0) == SBERT_ERR_INVALID_ARGUMENT, "NULL config");
    sb_tokenizer_free(NULL);
    sb_tok_scratch_free(NULL);
}

/* ---- extended grapheme clusters --------------------------------------------------------------- */

/* Unicode 17.0's GraphemeBreakTest (tests/data/tokenize/grapheme-break-17.0.txt): every cluster
 * boundary of every line. */
static size_t grapheme_failures, grapheme_lines;

static void check_grapheme_line(const char *line, size_t row)
{
    if (line[0] == '#')
        return;
    grapheme_lines++;
    uint8_t text[256];
    size_t len = 0, at = 0;
    char *p = (char *)line;
    while (*p != ';' && len + 4 <= sizeof text) {
        len += (size_t)sb_utf8_encode((uint32_t)strtoul(p, &p, 16), text + len);
        while (*p == ' ')
            p++;
    }
    uint8_t *copy = exact_copy(text, len);
    bool ok = *p++ == ';';
    while (ok && *p && *p != '\n') {
        const size_t cluster = strtoul(p, &p, 10);
        ok = at < len && sb_grapheme_end(copy, len, at) == at + cluster;
        at += cluster;
    }
    free(copy);
    if (!(ok && at == len) && ++grapheme_failures <= 5)
        fprintf(stderr, "grapheme-break-17.0.txt line %zu: %s", row, line);
}

static void test_graphemes(void)
{
    for_each_line(DATA "grapheme-break-17.0.txt", check_grapheme_line);
    printf("grapheme clusters: %zu/%zu test lines identical\n", grapheme_lines - grapheme_failures,
           grapheme_lines);
    CHECK(grapheme_lines > 700 && grapheme_failures == 0, "%zu grapheme test lines differ",
          grapheme_failures);
}

/* ---- the Precompiled normalizer and Replace --------------------------------------------------- */

/* A hand-made darts-clone trie: "A" -> "b", "é" -> "e", and keys whose replacement offset is
 * unusable ("C": inside a character, "D": past the strings) or whose child offset leaves the
 * trie ("F"). */
#define CM_UNITS 512
static const char CM_STRINGS[] = "b\0e\0\xC3\xA9"; /* offsets 0 "b", 2 "e", 4 "é" */

static uint32_t cm_unit(uint32_t label, bool leaf, uint32_t offset)
{
    return label | (leaf ? 1u << 8 : 0) | offset << 10; /* offset < 2^21: no shift bit */
}

/* Root base 1; key byte k then sits at 1 ^ k, and a one-byte key's leaf at (1 ^ k) ^ 1. */
static void cm_one_byte_key(uint32_t *u, uint8_t k, uint32_t value)
{
    u[1 ^ k] = cm_unit(k, true, 1);
    u[(1 ^ k) ^ 1] = value;
}

static size_t make_charsmap(uint8_t *blob)
{
    uint32_t u[CM_UNITS] = { 0 };
    u[0] = cm_unit(0, false, 1);
    cm_one_byte_key(u, 'A', 0);
    cm_one_byte_key(u, 'C', 5);    /* the second byte of "é" */
    cm_one_byte_key(u, 'D', 1000); /* past the strings */
    u[1 ^ 'F'] = cm_unit('F', true, 0x3FFFF); /* its leaf lies outside the 512 units */
    u[1 ^ 0xC3] = cm_unit(0xC3, false, 256);   /* "é": C3 A9 */
    const uint32_t base = (1 ^ 0xC3) ^ 256;
    u[base ^ 0xA9] = cm_unit(0xA9, true, 1);
    u[(base ^ 0xA9) ^ 1] = 2;
    size_t n = 0;
    const uint32_t words[] = { CM_UNITS * 4 };
    for (int i = 0; i < 4; i++)
        blob[n++] = (uint8_t)(words[0] >> 8 * i);
    for (int k = 0; k < CM_UNITS; k++)
        for (int i = 0; i < 4; i++)
            blob[n++] = (uint8_t)(u[k] >> 8 * i);
    memcpy(blob + n, CM_STRINGS, sizeof CM_STRINGS - 1);
    return n + sizeof CM_STRINGS - 1;
}

static uint8_t cm_blob[4 + 4 * CM_UNITS + sizeof CM_STRINGS];

/* The small WordPiece tokenizer with the Precompiled normalizer of make_charsmap and `n_replace`
 * Replace rules. */
static int open_precompiled(small *s, const sb_str *patterns, const sb_str *contents,
                            uint32_t n_replace, size_t blob_len)
{
    make_small(&s->c, 100);
    s->c.cfg.normalizer = SB_NORM_PRECOMPILED;
    s->c.cfg.precompiled_charsmap = cm_blob;
    s->c.cfg.precompiled_charsmap_len = (uint32_t)blob_len;
    s->c.cfg.n_replace = n_replace;
    s->c.cfg.replace_pattern = patterns;
    s->c.cfg.replace_content = contents;
    s->scratch = sb_tok_scratch_create();
    return sb_tokenizer_create(&s->c.cfg, &s->tok, s->err, sizeof s->err);
}

static bool normalizes_n(small *s, const char *text, size_t n, const char *want, size_t n_want)
{
    uint8_t *copy = exact_copy(text, n);
    const uint8_t *out = NULL;
    size_t len = 0;
    const int rc = sb_normalize(s->tok, s->scratch, copy, n, &out, &len);
    const bool ok = rc == SBERT_OK && len == n_want && (!len || memcmp(out, want, len) == 0);
    if (!ok)
        fprintf(stderr, "normalize(\"%.*s\") = \"%.*s\", want \"%s\"\n", (int)n, text,
                (int)len, out ? (const char *)out : "", want);
    free(copy);
    return ok;
}

static bool normalizes_to(small *s, const char *text, const char *want)
{
    return normalizes_n(s, text, strlen(text), want, strlen(want));
}

static void test_precompiled(void)
{
    const size_t blob_len = make_charsmap(cm_blob);
    small s;
    CHECK(open_precompiled(&s, NULL, NULL, 0, blob_len) == SBERT_OK, "%s", s.err);
    if (s.tok) {
        CHECK(normalizes_to(&s, "xAy\xC3\xA9", "xbye"), "one-character keys");
        /* a cluster under 6 bytes is replaced whole by the replacement of its shortest key */
        CHECK(normalizes_to(&s, "A\xCC\x81z", "bz"), "A + U+0301 as one cluster");
        CHECK(normalizes_to(&s, "e\xCC\x81", "e\xCC\x81"), "no key: unchanged");
        /* from 6 bytes on, character by character: the marks stay */
        CHECK(normalizes_to(&s, "A\xCC\x81\xCC\x81\xCC\x81", "b\xCC\x81\xCC\x81\xCC\x81"),
              "A + 3 marks");
        CHECK(normalizes_to(&s, "\xC3\xA9\xCC\x81\xCC\x81", "e\xCC\x81\xCC\x81"), "é + 2 marks");
        CHECK(normalizes_to(&s, "CDF", "CDF"), "damaged entries count as absent");
        CHECK(normalizes_n(&s, "A\0A", 3, "b\0b", 3), "NUL is never a key");
        CHECK(normalizes_to(&s, "", ""), "empty");
    }
    small_close(&s);

    static const sb_str patterns[] = { { "  +", 3 }, { "b", 1 }, { "", 0 } };
    static const sb_str contents[] = { { " ", 1 }, { "BB", 2 }, { "x", 1 } };
    CHECK(open_precompiled(&s, patterns, contents, 3, blob_len) == SBERT_OK, "%s", s.err);
    if (s.tok) {
        CHECK(normalizes_to(&s, "A  A   bA b", "BB BB BBBB BB"), "Replace rules in order");
        CHECK(normalizes_to(&s, " x ", " x "), "single spaces stay");
    }
    small_close(&s);

    /* a charsmap tokenizers would refuse */
    CHECK(open_precompiled(&s, NULL, NULL, 0, 3) == SBERT_ERR_CORRUPT, "3 bytes");
    small_close(&s);
    cm_blob[1] = 0x10; /* a trie of 4096 + units: longer than the blob */
    CHECK(open_precompiled(&s, NULL, NULL, 0, blob_len) == SBERT_ERR_CORRUPT, "trie size");
    small_close(&s);
    make_charsmap(cm_blob);
    cm_blob[blob_len - 1] = 0xFF; /* the strings are not UTF-8 */
    CHECK(open_precompiled(&s, NULL, NULL, 0, blob_len) == SBERT_ERR_CORRUPT, "strings");
    small_close(&s);
}

/* ---- the Unigram model ------------------------------------------------------------------------ */

static const char *const uni_pieces[] = { "<unk>", "a", "b", "ab", "c", "abc", "d", "a" };
static const float uni_scores[] = { 0, -1, -1, -2, -3, -4.5f, -20, -5 };
enum { N_UNI = sizeof uni_pieces / sizeof *uni_pieces };

typedef struct {
    sb_str vocab[N_UNI];
    float scores[N_UNI];
    sb_tokenizer *tok;
    sb_tok_scratch *scratch;
} unigram;

static void unigram_open(unigram *u, float ab_score)
{
    for (int i = 0; i < N_UNI; i++) {
        u->vocab[i] = (sb_str){ uni_pieces[i], (uint32_t)strlen(uni_pieces[i]) };
        u->scores[i] = uni_scores[i];
    }
    u->scores[3] = ab_score;
    const sb_tokenizer_config cfg = {
        .model = SB_TOK_UNIGRAM, .vocab = u->vocab, .scores = u->scores, .vocab_size = N_UNI,
        .unk_id = 0, .normalizer = SB_NORM_NONE, .pretokenizer = SB_PRETOK_METASPACE,
        .metaspace_replacement = { "_", 1 }, .metaspace_prepend = SB_PREPEND_NEVER,
        .metaspace_split = true,
    };
    char err[256];
    CHECK(sb_tokenizer_create(&cfg, &u->tok, err, sizeof err) == SBERT_OK, "%s", err);
    u->scratch = sb_tok_scratch_create();
}

static bool unigram_gives(unigram *u, const char *text, const int32_t *want, size_t n_want)
{
    const sb_tok_options o = { 0 };
    int32_t ids[64];
    size_t n = 0;
    const size_t len = strlen(text);
    uint8_t *copy = exact_copy(text, len);
    const int rc = sb_tokenizer_encode(u->tok, u->scratch, (const char *)copy, len, &o, ids, 64,
                                       &n, NULL, 0);
    free(copy);
    return rc == SBERT_OK && n == n_want && memcmp(ids, want, n * sizeof *ids) == 0;
}

static void unigram_close(unigram *u)
{
    sb_tok_scratch_free(u->scratch);
    sb_tokenizer_free(u->tok);
}

static void test_unigram(void)
{
    unigram u;
    unigram_open(&u, -2.0f);
    /* "a" twice: the later id (7, score -5) is the piece, as in tokenizers' token_to_ids */
    CHECK(unigram_gives(&u, "a", IDS(7)), "duplicate piece: the later id");
    /* "ab" (-2) and "b"-after-"a" (-5 + -1) : "ab"; "abc" (-4.5) beats "ab" + "c" (-5) */
    CHECK(unigram_gives(&u, "ab", IDS(3)), "ab");
    CHECK(unigram_gives(&u, "abc", IDS(5)), "abc");
    CHECK(unigram_gives(&u, "bab", IDS(2, 3)), "b ab");
    /* unknown characters: one fused <unk> per run, the pieces around them kept */
    CHECK(unigram_gives(&u, "xy", IDS(0)), "fused run");
    CHECK(unigram_gives(&u, "x\xC3\xA9yb\xE2\x82\xACz", IDS(0, 2, 0)), "two runs");
    /* "d" (-20) is the lowest score, so an unknown costs -30: "d" is still taken */
    CHECK(unigram_gives(&u, "dd", IDS(6, 6)), "low-scored piece");
    CHECK(unigram_gives(&u, "a_b", IDS(7, 0, 2)), "split at the replacement");
    unigram_close(&u);

    /* a tie: "ab" at -6 equals "a" + "b" (-5 + -1); the first path found ("ab") stays */
    unigram_open(&u, -6.0f);
    CHECK(unigram_gives(&u, "ab", IDS(3)), "tie keeps the longer, first-relaxed piece");
    unigram_close(&u);
    unigram_open(&u, -6.5f);
    CHECK(unigram_gives(&u, "ab", IDS(7, 2)), "a + b when strictly better");
    unigram_close(&u);
}

/* ---- sentence-transformers' preparation against Python ---------------------------------------- */

static size_t prepare_failures;

static void check_prepare_row(const char *line, size_t row)
{
    char *text = NULL, *strip = NULL, *lower = NULL;
    size_t len, strip_len, lower_len;
    if (jsonl_get_string(line, "text", &text, &len) || jsonl_get_string(line, "strip", &strip, &strip_len) ||
        jsonl_get_string(line, "lower", &lower, &lower_len)) {
        CHECK(0, "python-prepare.jsonl row %zu malformed", row);
        return;
    }
    uint8_t *in = exact_copy(text, len);
    size_t start, end;
    sb_py_strip(in, len, &start, &end);
    sb_bytes out = { 0 };
    const int rc = sb_py_lower(in + start, end - start, &out);
    const bool ok = end - start == strip_len && memcmp(in + start, strip, strip_len) == 0 &&
                    rc == SBERT_OK && out.len == lower_len && memcmp(out.data, lower, lower_len) == 0;
    if (!ok && ++prepare_failures <= 5)
        fprintf(stderr, "python-prepare.jsonl row %zu differs: %.100s\n", row, line);
    free(out.data);
    free(in);
    free(text);
    free(strip);
    free(lower);
}

static void test_prepare_against_python(void)
{
    prepare_failures = 0;
    const size_t rows = for_each_line(DATA "python-prepare.jsonl", check_prepare_row);
    printf("str.strip() / str.lower(): %zu/%zu texts as Python\n", rows - prepare_failures, rows);
    CHECK(rows > 0 && prepare_failures == 0, "%zu texts differ", prepare_failures);
}

/* ---- the BertNormalizer's output bound -------------------------------------------------------- */

/* normalizer.c reserves 3 output bytes per input byte: check every code point under every
 * combination of the four BertNormalizer switches. */
static void test_normalizer_bound(void)
{
    size_t worst_num = 0, worst_den = 1, failures = 0;
    for (int flags = 0; flags < 16; flags++) {
        small s;
        make_small(&s.c, 100);
        s.c.cfg.bert_clean_text = flags & 1;
        s.c.cfg.bert_handle_chinese_chars = flags & 2;
        s.c.cfg.bert_strip_accents = flags & 4;
        s.c.cfg.bert_lowercase = flags & 8;
        CHECK(sb_tokenizer_create(&s.c.cfg, &s.tok, NULL, 0) == SBERT_OK, "flags %d", flags);
        s.scratch = sb_tok_scratch_create();
        for (uint32_t cp = 0; cp <= SB_UNICODE_MAX && s.tok; cp++) {
            if (cp >= 0xD800 && cp <= 0xDFFF)
                continue;
            uint8_t utf8[4];
            const size_t n = (size_t)sb_utf8_encode(cp, utf8);
            const uint8_t *out;
            size_t out_len;
            if (sb_normalize(s.tok, s.scratch, utf8, n, &out, &out_len) != SBERT_OK ||
                out_len > 3 * n)
                failures++;
            if (out_len * worst_den > worst_num * n) {
                worst_num = out_len;
                worst_den = n;
            }
        }
        small_close(&s);
    }
    printf("BertNormalizer: at most %zu bytes out of %zu in, over every code point and setting\n",
           worst_num, worst_den);
    CHECK(failures == 0, "%zu code points grow more than 3x", failures);
}

int main(void)
{
    test_utf8_decode();
    test_utf8_against_python();
    test_utf8_policy();
    test_wordpiece();
    test_st_prepare();
    test_truncation_and_buffers();
    test_config_errors();
    test_graphemes();
    test_precompiled();
    test_unigram();
    test_prepare_against_python();
    test_normalizer_bound();
    return TEST_DONE();
}
