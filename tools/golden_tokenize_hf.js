#!/usr/bin/env node
// Golden tokenizations from the real Hugging Face `tokenizers` library (its Node binding).
//
//   npm install --prefix bench tokenizers@0.23.2
//   export NODE_PATH=bench/node_modules
//
//   # build bert-base-multilingual-cased's tokenizer.json from its vocab.txt
//   node tools/golden_tokenize_hf.js mbert tests/data/tokenizers/bert-base-multilingual-cased
//
//   # encode every {"text"} line of a corpus: {"text", "ids"} (+ "ids_trunc" when longer than MAX)
//   node tools/golden_tokenize_hf.js encode TOKENIZER_JSON CORPUS_JSONL MAX > OUT_JSONL
//
//   # a tokenizer.json with more added tokens: BASE's plus one per line of SPEC_JSONL
//   # ({"content", "lstrip", "rstrip", "single_word", "normalized"}, flags 0/1) into OUT_DIR;
//   # prints the spec lines with the "id" each token got
//   node tools/golden_tokenize_hf.js added BASE_TOKENIZER_JSON SPEC_JSONL OUT_DIR > OUT_JSONL
//
//   # pairs as a cross-encoder is fed them: every {"a", "b"} line of PAIRS_JSONL (texts already
//   # stripped, as CrossEncoder.predict strips them) cut longest_first to each of MAX_LENGTHS
//   # (comma separated): {"a", "b", "max_length", "ids", "types"}
//   node tools/golden_tokenize_hf.js pairs TOKENIZER_JSON PAIRS_JSONL MAX_LENGTHS > OUT_JSONL
//
//   # every code point alone, without special tokens: "HEX ids" for those that do not give
//   # exactly the unknown token (the format of tests/data/tokenize/*.codepoints.txt)
//   node tools/golden_tokenize_hf.js codepoints TOKENIZER_JSON UNK_TOKEN > OUT_TXT
//
// The mBERT tokenizer is assembled exactly as Hugging Face's bert-base-multilingual-cased
// tokenizer.json: BertNormalizer (clean_text, handle_chinese_chars, strip_accents null,
// lowercase false), BertPreTokenizer, WordPiece ([UNK], "##", 100), TemplateProcessing
// "[CLS] $A [SEP]", and the special tokens [PAD] [UNK] [CLS] [SEP] [MASK].
'use strict';
const fs = require('fs');
const path = require('path');
const tk = require('tokenizers');

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];

async function buildMbert(dir) {
  const model = await tk.WordPiece.fromFile(path.join(dir, 'vocab.txt'), {
    unkToken: '[UNK]', continuingSubwordPrefix: '##', maxInputCharsPerWord: 100,
  });
  const tok = new tk.Tokenizer(model);
  // stripAccents left out: null, which follows lowercase (false)
  tok.setNormalizer(tk.bertNormalizer({ cleanText: true, handleChineseChars: true, lowercase: false }));
  tok.setPreTokenizer(tk.bertPreTokenizer());
  tok.addAddedTokens(SPECIALS.map((s) => new tk.AddedToken(s, true, { normalized: false })));
  const id = (s) => tok.tokenToId(s);
  tok.setPostProcessor(tk.templateProcessing('[CLS] $A [SEP]', '[CLS] $A [SEP] $B:1 [SEP]:1',
                                              [['[CLS]', id('[CLS]')], ['[SEP]', id('[SEP]')]]));
  tok.setDecoder(tk.wordPieceDecoder('##', true));
  const out = path.join(dir, 'tokenizer.json');
  tok.save(out, true);
  process.stderr.write(`${out}: ${SPECIALS.map((s) => `${s}=${id(s)}`).join(' ')}\n`);
}

async function encodeCorpus(tokenizerJson, corpus, maxLength) {
  const tok = tk.Tokenizer.fromFile(tokenizerJson);
  tok.disablePadding();
  const texts = fs.readFileSync(corpus, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l).text);
  const lines = [];
  for (const text of texts) {
    tok.disableTruncation();
    const ids = (await tok.encode(text)).getIds();
    const row = { text, ids };
    if (ids.length > maxLength) {
      tok.setTruncation(maxLength);
      row.ids_trunc = (await tok.encode(text)).getIds();
    }
    lines.push(JSON.stringify(row));
  }
  process.stdout.write(lines.join('\n') + '\n');
}

function addTokens(baseJson, specJsonl, outDir) {
  const tok = tk.Tokenizer.fromFile(baseJson);
  const specs = fs.readFileSync(specJsonl, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
  tok.addAddedTokens(specs.map((s) => new tk.AddedToken(s.content, false, {
    singleWord: !!s.single_word, leftStrip: !!s.lstrip, rightStrip: !!s.rstrip, normalized: !!s.normalized,
  })));
  fs.mkdirSync(outDir, { recursive: true });
  tok.save(path.join(outDir, 'tokenizer.json'), true);
  for (const s of specs) process.stdout.write(JSON.stringify({ ...s, id: tok.tokenToId(s.content) }) + '\n');
}

async function encodePairs(tokenizerJson, pairsJsonl, maxLengths) {
  const tok = tk.Tokenizer.fromFile(tokenizerJson);
  tok.disablePadding();
  const pairs = fs.readFileSync(pairsJsonl, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l));
  const lines = [];
  for (const maxLength of maxLengths.split(',').map(Number)) {
    tok.setTruncation(maxLength, { strategy: 'LongestFirst', direction: 'right', stride: 0 });
    for (const { a, b } of pairs) {
      const e = await tok.encode(a, b);
      lines.push(JSON.stringify({ a, b, max_length: maxLength, ids: e.getIds(), types: e.getTypeIds() }));
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
}

async function encodeCodepoints(tokenizerJson, unkToken) {
  const tok = tk.Tokenizer.fromFile(tokenizerJson);
  tok.disablePadding();
  tok.disableTruncation();
  const unk = String(tok.tokenToId(unkToken));
  const cps = [];
  for (let cp = 0; cp <= 0x10FFFF; cp++) if (cp < 0xD800 || cp > 0xDFFF) cps.push(cp);
  const lines = [];
  const BATCH = 4096;
  for (let i = 0; i < cps.length; i += BATCH) {
    const chunk = cps.slice(i, i + BATCH);
    const encs = await tok.encodeBatch(chunk.map((cp) => String.fromCodePoint(cp)), { addSpecialTokens: false });
    encs.forEach((e, k) => {
      const ids = e.getIds().join(',');
      if (ids !== unk) lines.push(`${chunk[k].toString(16)} ${ids}`);
    });
  }
  process.stdout.write(lines.join('\n') + '\n');
}

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'mbert' && args.length === 1) return buildMbert(args[0]);
  if (cmd === 'encode' && args.length === 3) return encodeCorpus(args[0], args[1], Number(args[2]));
  if (cmd === 'added' && args.length === 3) return addTokens(args[0], args[1], args[2]);
  if (cmd === 'codepoints' && args.length === 2) return encodeCodepoints(args[0], args[1]);
  if (cmd === 'pairs' && args.length === 3) return encodePairs(args[0], args[1], args[2]);
  process.stderr.write('usage: golden_tokenize_hf.js mbert DIR | encode TOKENIZER_JSON CORPUS MAX |' +
                       ' added BASE SPEC OUT_DIR | codepoints TOKENIZER_JSON UNK_TOKEN |' +
                       ' pairs TOKENIZER_JSON PAIRS_JSONL MAX_LENGTHS\n');
  process.exit(2);
}

main().catch((e) => { process.stderr.write(`${e.stack || e}\n`); process.exit(1); });
