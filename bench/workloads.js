// Builds the benchmark workloads from KorSTS and tokenizes them with Hugging Face tokenizers
// (the npm binding of the Rust library, the same code sentence-transformers uses):
//
//   node bench/workloads.js TOKENIZER_JSON KORSTS_TSV OUT_DIR [N_SENTENCES (W3, default 1024)]
//
// writes OUT_DIR/workloads.json  {name: {description, texts, ids, repeat}}  (ids for PyTorch)
//    and OUT_DIR/<name>.txt       one text per line                          (for bench_encode)
//    and OUT_DIR/plan.txt         NAME WARMUP MIN_REPEATS MAX_REPEATS BUDGET_S, in run order
//
// Every engine times a workload the same way: WARMUP untimed runs, then timed runs until it has
// MIN_REPEATS and BUDGET_S seconds have passed, or MAX_REPEATS; the median is reported.
//
//   W1  one 16-token text (latency)            W3  1,024 KorSTS sentences (throughput, from text)
//   W2  one 128-token text (latency)           W4  32 texts of 128 tokens (one full batch)
//
// Token counts include [CLS] and [SEP]; 128 is the model's max_seq_length, so W2 and W4 texts are
// longer and get truncated, exactly as sentence-transformers does.
'use strict';
const fs = require('fs');
const path = require('path');
const { Tokenizer } = require('tokenizers');

const MAX_SEQ_LENGTH = 128;

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
  const [tokenizerJson, tsv, outDir, n] = process.argv.slice(2);
  const nSentences = Number(n || 1024);
  if (!outDir) {
    console.error('usage: node bench/workloads.js TOKENIZER_JSON KORSTS_TSV OUT_DIR [N_SENTENCES]');
    process.exit(2);
  }
  const tokenizer = Tokenizer.fromFile(tokenizerJson);
  const count = async (text) => (await tokenizer.encode(text)).getIds().length;
  tokenizer.disableTruncation();
  const sentences = korstsSentences(tsv);

  // W1: the first sentence of exactly 16 tokens.
  let w1 = null;
  for (const s of sentences) if ((await count(s)) === 16) { w1 = s; break; }

  // W2 / W4: consecutive sentences joined until the text passes max_seq_length tokens.
  const longTexts = [];
  for (let i = 0; longTexts.length < 33; ) {
    let text = sentences[i++];
    while ((await count(text)) <= MAX_SEQ_LENGTH) text += ' ' + sentences[i++];
    longTexts.push(text);
  }

  const repeatShort = { warmup: 3, min_repeats: 10, max_repeats: 50, budget_s: 5 };
  const repeatLong = { warmup: 1, min_repeats: 3, max_repeats: 5, budget_s: 60 };
  // Engines run the workloads in this order; W4 warms the largest shapes up before W3.
  const workloads = {
    W1: { description: 'one 16-token text', texts: [w1], repeat: repeatShort },
    W2: { description: 'one 128-token text', texts: [longTexts[32]], repeat: repeatShort },
    W4: { description: '32 texts x 128 tokens', texts: longTexts.slice(0, 32), repeat: repeatLong },
    W3: { description: `${nSentences} KorSTS sentences`, texts: sentences.slice(0, nSentences),
          repeat: { ...repeatLong, warmup: 0 } },
  };

  tokenizer.setTruncation(MAX_SEQ_LENGTH);
  fs.mkdirSync(outDir, { recursive: true });
  const plan = []; // "NAME WARMUP MIN_REPEATS MAX_REPEATS BUDGET_S" lines, for bench_encode.c
  for (const [name, w] of Object.entries(workloads)) {
    w.ids = [];
    for (const t of w.texts) w.ids.push(Array.from((await tokenizer.encode(t)).getIds()));
    w.tokens = w.ids.reduce((n, ids) => n + ids.length, 0);
    fs.writeFileSync(path.join(outDir, `${name}.txt`), w.texts.join('\n') + '\n');
    const r = w.repeat;
    plan.push(`${name} ${r.warmup} ${r.min_repeats} ${r.max_repeats} ${r.budget_s}`);
    console.error(`${name}: ${w.description}: ${w.texts.length} texts, ${w.tokens} tokens`);
  }
  fs.writeFileSync(path.join(outDir, 'workloads.json'), JSON.stringify(workloads));
  fs.writeFileSync(path.join(outDir, 'plan.txt'), plan.join('\n') + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
