// Workload W5 (long texts) for bench/long.sh: one text of exactly N tokens (special tokens
// included) for N = 512, 2048 and 8192, each in a work directory of its own so that every length
// runs in a fresh process and its peak resident memory is that length's.
//
//   node bench/workloads_long.js TOKENIZER_JSON KORSTS_TSV OUT_DIR
//
// writes OUT_DIR/W5-N/{W1.txt, W5.txt, plan.txt, workloads.json} in the formats of
// bench/workloads.js (W1, one short text, is what bench_encode.c and bench_ort.js open with).
// The texts are KorSTS sentences joined with spaces, then single "a" words (one token each)
// until the count is exact, so no engine truncates anything.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const LENGTHS = [512, 2048, 8192];
// Runs per length: an 8,192-token text takes minutes on 2 busy cores, so the long ones run less.
const REPEAT = {
  512: { warmup: 1, min_repeats: 5, max_repeats: 10, budget_s: 30 },
  2048: { warmup: 0, min_repeats: 2, max_repeats: 2, budget_s: 0 },
  8192: { warmup: 0, min_repeats: 1, max_repeats: 1, budget_s: 0 },
};

function korstsSentences(tsvPath) {
  const lines = fs.readFileSync(tsvPath, 'utf8').split('\n').filter((l) => l.length > 0);
  const header = lines[0].split('\t');
  const s1 = header.indexOf('sentence1');
  const s2 = header.indexOf('sentence2');
  const out = [];
  for (const line of lines.slice(1)) {
    const cols = line.split('\t');
    out.push(cols[s1].trim(), cols[s2].trim());
  }
  return out;
}

async function main() {
  const [tokenizerJson, tsv, outDir] = process.argv.slice(2);
  if (!outDir) {
    console.error('usage: node bench/workloads_long.js TOKENIZER_JSON KORSTS_TSV OUT_DIR');
    process.exit(2);
  }
  const tokenizer = Tokenizer.fromFile(tokenizerJson);
  tokenizer.disableTruncation();
  const count = async (text) => (await tokenizer.encode(text)).getIds().length;
  const sentences = korstsSentences(tsv);
  const short = sentences.find((s) => s.length > 20);

  for (const n of LENGTHS) {
    let text = '';
    let i = 0;
    // sentences while at least 40 tokens remain (a sentence is fewer), then one-token words
    while ((await count(text)) < n - 40) text += (text ? ' ' : '') + sentences[i++ % sentences.length];
    while ((await count(text)) < n) text += ' a';
    const tokens = await count(text);
    if (tokens !== n) throw new Error(`W5-${n}: ${tokens} tokens`);
    const dir = path.join(outDir, `W5-${n}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'W1.txt'), short + '\n');
    fs.writeFileSync(path.join(dir, 'W5.txt'), text + '\n');
    const r = REPEAT[n];
    fs.writeFileSync(path.join(dir, 'plan.txt'),
      `W5 ${r.warmup} ${r.min_repeats} ${r.max_repeats} ${r.budget_s}\n`);
    const workloads = {
      W1: { description: 'one short text', texts: [short], tokens: await count(short), repeat: r },
      W5: { description: `one ${n}-token text`, texts: [text], tokens: n, repeat: r },
    };
    fs.writeFileSync(path.join(dir, 'workloads.json'), JSON.stringify(workloads));
    console.error(`W5-${n}: one text of ${n} tokens (${text.length} characters)`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
