/* Tokenizer units: UTF-8 policies, sentence-transformers' text preparation, the normalizer's
 * output bound, WordPiece corners, truncation, buffers and configuration errors.
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
#include "tokenizer.h"
#include "tokenizer/internal.h"
#include "unicode.h"
#include "utf8.h"

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
    CHECK(sb_tokenizer_create(&c.cfg, &tok, NULL, 0) == SBERT_ERR_UNSUPPORTED, "Unigram");
    CHECK(sb_tokenizer_create(NULL, &tok, NULL, 0) == SBERT_ERR_INVALID_ARGUMENT, "NULL config");
    sb_tokenizer_free(NULL);
    sb_tok_scratch_free(NULL);
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
    test_prepare_against_python();
    test_normalizer_bound();
    return TEST_DONE();
}
