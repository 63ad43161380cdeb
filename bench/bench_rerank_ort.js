// The ONNX Runtime peer of bench/rerank.sh: onnxruntime-node on the ONNX export of the reranker
// (bench/export_onnx.py: input_ids, attention_mask -> logits), end to end from text with Hugging
// Face tokenizers: pairs (query, passage) truncated longest_first to 512 tokens, sorted by length
// (longest first; sentence-transformers 2.7's predict keeps input order, so this favours ONNX
// Runtime's padding), batches of 32 padded to their longest pair, sigmoid on the logits.
//
//   node bench/bench_rerank_ort.js MODEL.onnx TOKENIZER_JSON WORK_DIR THREADS [REPEATS (5)]
//
// Reads WORK_DIR/rerank.txt (bench/rerank_workload.js). Times query 0 against its passages (one
// warm-up, REPEATS timed runs; none when REPEATS is 0) and prints
//   {"engine":"ort","threads":N,"workload":"rerank","times_ms":[...],"median_ms":...}
// then scores the first BENCH_SCORE_QUERIES queries' passages (default all) and writes their
// logits to WORK_DIR/rerank-logits-ENGINE.f32 (BENCH_ENGINE, default ort).
// Session: graph optimizations all, intra-op threads = THREADS, inter-op 1, sequential.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const { Tokenizer } = require('tokenizers');

const BATCH_SIZE = 32;
const MAX_LENGTH = 512;
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function readWorkload(workDir) {
  const lines = fs.readFileSync(path.join(workDir, 'rerank.txt'), 'utf8').split('\n');
  const [q, p] = lines[0].split(' ').map(Number);
  return Array.from({ length: q }, (_, i) => ({
    query: lines[1 + i * (p + 1)],
    passages: lines.slice(2 + i * (p + 1), 2 + i * (p + 1) + p),
  }));
}

// Logits of (query, passage) for every passage, in input order.
async function rerank(session, tokenizer, query, passages) {
  // (this binding's encodeBatch takes single texts only: the pairs go through encode)
  const encodings = await Promise.all(passages.map((p) => tokenizer.encode(query.trim(), p.trim())));
  const order = encodings.map((_, i) => i)
    .sort((a, b) => encodings[b].getIds().length - encodings[a].getIds().length);
  const logits = new Float32Array(passages.length);
  for (let start = 0; start < order.length; start += BATCH_SIZE) {
    const chunk = order.slice(start, start + BATCH_SIZE);
    const len = encodings[chunk[0]].getIds().length;
    const ids = new BigInt64Array(chunk.length * len).fill(1n); // <pad> is 1
    const mask = new BigInt64Array(chunk.length * len);
    chunk.forEach((i, row) => {
      encodings[i].getIds().forEach((id, j) => {
        ids[row * len + j] = BigInt(id);
        mask[row * len + j] = 1n;
      });
    });
    const out = await session.run({
      input_ids: new ort.Tensor('int64', ids, [chunk.length, len]),
      attention_mask: new ort.Tensor('int64', mask, [chunk.length, len]),
    });
    chunk.forEach((i, row) => { logits[i] = out.logits.data[row]; });
  }
  return logits;
}

async function main() {
  const [modelPath, tokenizerJson, workDir, threadsArg, repeatsArg = '5'] = process.argv.slice(2);
  if (!threadsArg) {
    console.error('usage: node bench/bench_rerank_ort.js MODEL.onnx TOKENIZER_JSON WORK_DIR THREADS [REPEATS]');
    process.exit(2);
  }
  const threads = Number(threadsArg), repeats = Number(repeatsArg);
  const engine = process.env.BENCH_ENGINE || 'ort';
  const workload = readWorkload(workDir);
  const tokenizer = Tokenizer.fromFile(tokenizerJson);
  tokenizer.setTruncation(MAX_LENGTH, { strategy: 'LongestFirst' });
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: threads,
    interOpNumThreads: 1, executionMode: 'sequential',
  });

  const { query, passages } = workload[0];
  if (repeats > 0) { // one warm-up, then the timed runs
    await rerank(session, tokenizer, query, passages);
    const times = [];
    for (let i = 0; i < repeats; i++) {
      const t = now();
      await rerank(session, tokenizer, query, passages);
      times.push(now() - t);
    }
    console.log(JSON.stringify({ engine, threads, workload: 'rerank', pairs: passages.length,
                                 times_ms: times, median_ms: median(times) }));
  }
  const nScored = Math.min(workload.length, Number(process.env.BENCH_SCORE_QUERIES ?? workload.length));
  if (nScored === 0) return;
  const all = new Float32Array(nScored * passages.length);
  for (let q = 0; q < nScored; q++)
    all.set(await rerank(session, tokenizer, workload[q].query, workload[q].passages), q * passages.length);
  fs.writeFileSync(path.join(workDir, `rerank-logits-${engine}.f32`), Buffer.from(all.buffer));
}

main().catch((e) => { console.error(e); process.exit(1); });
