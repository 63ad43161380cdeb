// The reranking workload of bench/rerank.sh: QUERIES queries, each with PASSAGES passages of 64 to
// 256 tokens (uniform, counted with the reranker's own tokenizer, special tokens not counted),
// made of English words from tests/data/tokenize/corpus-public.jsonl by a seeded generator (same
// seed, same texts).
//
//   node bench/rerank_workload.js TOKENIZER_JSON CORPUS_JSONL WORK_DIR [QUERIES (20)] [PASSAGES (100)]
//
// Writes WORK_DIR/rerank.txt: a first line "QUERIES PASSAGES", then for each query its line and
// its PASSAGES passage lines (no text holds a newline), and prints the token statistics.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

function mulberry32(seed) { // a small seeded PRNG: the same texts on every machine
  return () => {
    seed = (seed + 0x6D2B79F5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main() {
  const [tokenizerJson, corpus, workDir, q = '20', p = '100'] = process.argv.slice(2);
  if (!workDir) {
    console.error('usage: node bench/rerank_workload.js TOKENIZER_JSON CORPUS_JSONL WORK_DIR [QUERIES] [PASSAGES]');
    process.exit(2);
  }
  const nQueries = Number(q), nPassages = Number(p);
  const tokenizer = Tokenizer.fromFile(tokenizerJson);
  const words = [];
  for (const line of fs.readFileSync(corpus, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const text = JSON.parse(line).text;
    for (const w of text.split(/\s+/)) if (/^[A-Za-z][A-Za-z,.'-]{0,14}$/.test(w)) words.push(w);
  }
  const rand = mulberry32(20);
  const pick = () => words[Math.floor(rand() * words.length)];
  const count = async (text) => (await tokenizer.encode(text, null, { addSpecialTokens: false })).getIds().length;
  // Words are pre-tokenized apart (whitespace), so a passage's count is the sum of its words'.
  const cache = new Map();
  const wordCount = async (w) => {
    if (!cache.has(w)) cache.set(w, await count(w));
    return cache.get(w);
  };

  const lines = [`${nQueries} ${nPassages}`];
  const lengths = [];
  for (let i = 0; i < nQueries; i++) {
    const n = 4 + Math.floor(rand() * 8);
    lines.push(Array.from({ length: n }, pick).join(' ') + '?');
    for (let j = 0; j < nPassages; j++) {
      const target = 64 + Math.floor(rand() * 193);
      const chosen = [pick()];
      let n = await wordCount(chosen[0]);
      for (let misses = 0; n < target && misses < 50;) { // fill up to the target exactly
        const w = pick(), m = n + await wordCount(w);
        if (m > target) {
          misses++;
          continue;
        }
        chosen.push(w);
        n = m;
      }
      const passage = chosen.join(' ');
      lines.push(passage);
      lengths.push(await count(passage)); // the real count, which the sum must equal
    }
  }
  fs.writeFileSync(path.join(workDir, 'rerank.txt'), lines.join('\n') + '\n');
  const total = lengths.reduce((a, b) => a + b, 0);
  console.log(`rerank_workload: ${nQueries} queries x ${nPassages} passages, passage tokens ` +
              `${Math.min(...lengths)}-${Math.max(...lengths)} (mean ${(total / lengths.length).toFixed(1)})`);
}

main().catch((e) => { console.error(e); process.exit(1); });
