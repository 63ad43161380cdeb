// Hugging Face tokenizers (the Rust library through its Node binding) on the same sentences as
// bench/bench_tokenizer.c: encodeBatch over every KorSTS sentence, repeated; prints the median
// tokens per second. Run it on one thread (bench/bench_tokenizer.sh sets RAYON_NUM_THREADS=1
// and TOKENIZERS_PARALLELISM=false).
//
//   node bench/bench_tokenizer_hf.js TOKENIZER_JSON REPEATS KORSTS.tsv...
'use strict';
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

// The sentence1 and sentence2 columns of every row after the header.
function korstsSentences(tsvPath) {
  const lines = fs.readFileSync(tsvPath, 'utf8').split('\n').filter((l) => l.length > 0);
  const header = lines[0].replace(/\r$/, '').split('\t');
  const s1 = header.indexOf('sentence1');
  const s2 = header.indexOf('sentence2');
  const out = [];
  for (const line of lines.slice(1)) {
    const cols = line.replace(/\r$/, '').split('\t');
    if (cols.length > s2) out.push(cols[s1], cols[s2]);
  }
  return out;
}

async function countTokens(tok, sentences) {
  let tokens = 0;
  for (const e of await tok.encodeBatch(sentences)) tokens += e.getIds().length;
  return tokens;
}

async function main() {
  const [tokenizerJson, repeatsArg, ...tsvs] = process.argv.slice(2);
  if (!tsvs.length) {
    console.error('usage: node bench/bench_tokenizer_hf.js TOKENIZER_JSON REPEATS KORSTS.tsv...');
    process.exit(2);
  }
  const sentences = tsvs.flatMap(korstsSentences);
  const tok = Tokenizer.fromFile(tokenizerJson);
  tok.disablePadding();
  const repeats = Math.max(1, Number(repeatsArg) || 1);
  const tokens = await countTokens(tok, sentences); // also the warm-up
  const seconds = [];
  for (let r = 0; r < repeats; r++) { // timed: encodeBatch alone, not reading the ids out
    const t0 = process.hrtime.bigint();
    await tok.encodeBatch(sentences);
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  seconds.sort((a, b) => a - b);
  const median = seconds[Math.floor(repeats / 2)];
  console.log(`HF tokenizers encodeBatch: ${sentences.length} sentences, ${tokens} tokens per pass, ` +
              `median ${(1e3 * median).toFixed(1)} ms of ${repeats} -> ${(1e-6 * tokens / median).toFixed(2)} M tokens/s`);
}

main().catch((e) => { console.error(e); process.exit(1); });
