// The ONNX Runtime peer: onnxruntime-node (the CPU build shipped in the npm package) on the ONNX
// export of the same weights, end to end from text with Hugging Face tokenizers, batched as
// sentence-transformers batches (texts sorted by length, longest first, batches of 32, each
// padded to its longest text).
//
//   node bench/bench_ort.js MODEL.onnx TOKENIZER_JSON WORK_DIR THREADS
//
// Reads WORK_DIR/workloads.json (bench/workloads.js), prints one JSON object per line:
//   {"engine":"ort","threads":N,"workload":"W1","times_ms":[...],"median_ms":...}   per workload
//   {"engine":"ort","threads":N,"metric":"open_ms",...}     session creation + first embedding
//   {"engine":"ort","threads":N,"metric":"peak_rss_mb",...}
// and writes the W3 vectors to WORK_DIR/vectors-ort-tN.f32 (row-major float32) for the
// agreement check in bench/report.py.
//
// Session: graph optimizations ORT_ENABLE_ALL (the default), intra-op threads = THREADS,
// inter-op threads 1, sequential execution. The graph outputs the mean-pooled sentence vector.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const { Tokenizer } = require('tokenizers');

const BATCH_SIZE = 32;
const now = () => Number(process.hrtime.bigint()) / 1e6; // ms

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

class Encoder {
  constructor(session, tokenizer) {
    this.session = session;
    this.tokenizer = tokenizer;
    this.dim = 0;
  }

  // One padded batch: tokenize (the tokenizer pads to the batch's longest), run, return rows.
  async batch(texts) {
    const encodings = await this.tokenizer.encodeBatch(texts);
    const n = encodings.length;
    const len = encodings[0].getIds().length;
    const ids = new BigInt64Array(n * len);
    const mask = new BigInt64Array(n * len);
    encodings.forEach((e, i) => {
      const eIds = e.getIds();
      const eMask = e.getAttentionMask();
      for (let j = 0; j < len; j++) {
        ids[i * len + j] = BigInt(eIds[j]);
        mask[i * len + j] = BigInt(eMask[j]);
      }
    });
    const out = await this.session.run({
      input_ids: new ort.Tensor('int64', ids, [n, len]),
      attention_mask: new ort.Tensor('int64', mask, [n, len]),
    });
    const v = out.sentence_embedding;
    this.dim = v.dims[1];
    return Array.from({ length: n }, (_, i) => v.data.subarray(i * this.dim, (i + 1) * this.dim));
  }

  // sentence-transformers' encode(): sort by length (characters, longest first), batch, unsort.
  async encode(texts) {
    const order = texts.map((_, i) => i).sort((a, b) => texts[b].length - texts[a].length);
    const rows = new Array(texts.length);
    for (let start = 0; start < order.length; start += BATCH_SIZE) {
      const chunk = order.slice(start, start + BATCH_SIZE);
      const vectors = await this.batch(chunk.map((i) => texts[i]));
      chunk.forEach((i, k) => { rows[i] = vectors[k]; });
    }
    return rows;
  }
}

async function main() {
  const [modelPath, tokenizerJson, workDir, threadsArg] = process.argv.slice(2);
  if (!threadsArg) {
    console.error('usage: node bench/bench_ort.js MODEL.onnx TOKENIZER_JSON WORK_DIR THREADS');
    process.exit(2);
  }
  const threads = Number(threadsArg);
  const workloads = JSON.parse(fs.readFileSync(path.join(workDir, 'workloads.json'), 'utf8'));
  const engine = process.env.BENCH_ENGINE || 'ort'; // run.sh: ort-int8 for the int8 model
  const emit = (obj) => console.log(JSON.stringify({ engine, threads, ...obj }));

  const tokenizer = Tokenizer.fromFile(tokenizerJson); // pads to the longest, truncates to 128
  const t0 = now();
  const session = await ort.InferenceSession.create(modelPath, {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  });
  const t1 = now();
  const encoder = new Encoder(session, tokenizer);
  await encoder.encode(workloads.W1.texts);
  const t2 = now();
  emit({ metric: 'open_ms', value: t2 - t0, session_create_ms: t1 - t0, first_encode_ms: t2 - t1,
         version: ort.env.versions.node });
  if (process.env.BENCH_OPEN_ONLY === '1') return; // run.sh's cold-open measurement

  // plan.txt names the workloads to time, in order (bench_encode.c reads the same file)
  const plan = fs.readFileSync(path.join(workDir, 'plan.txt'), 'utf8').split('\n')
    .filter((l) => l.trim()).map((l) => l.trim().split(/\s+/)[0]);
  for (const name of plan) {
    const w = workloads[name];
    const { warmup, min_repeats: minRepeats, max_repeats: maxRepeats, budget_s: budget } = w.repeat;
    for (let i = 0; i < warmup; i++) await encoder.encode(w.texts);
    const times = [];
    let rows = null;
    const start = now();
    while (times.length < maxRepeats && (times.length < minRepeats || now() - start < budget * 1e3)) {
      const t = now();
      rows = await encoder.encode(w.texts);
      times.push(now() - t);
    }
    emit({ workload: name, texts: w.texts.length, tokens: w.tokens, times_ms: times, median_ms: median(times) });
    if (name === 'W3') {
      const flat = new Float32Array(rows.length * encoder.dim);
      rows.forEach((r, i) => flat.set(r, i * encoder.dim));
      fs.writeFileSync(path.join(workDir, `vectors-${engine}-t${threads}.f32`), Buffer.from(flat.buffer));
    }
  }
  emit({ metric: 'peak_rss_mb', value: process.resourceUsage().maxRSS / 1024 });
}

main().catch((e) => { console.error(e); process.exit(1); });
