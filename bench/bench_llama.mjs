// The llama.cpp peer: node-llama-cpp 3.21.1 (llama.cpp's prebuilt CPU binaries shipped in the npm
// package; getLlama({gpu: false, build: "never"}) picks the ggml CPU backend for this CPU, such as
// zen4 or haswell) on bench/gguf.py's GGUF of the same weights (f32 or Q8_0), timed on the same
// workloads as bench_ort.js and bench_encode.c.
//
//   node bench/bench_llama.mjs MODEL.gguf WORK_DIR THREADS          time the workloads
//   node bench/bench_llama.mjs --agree MODEL.gguf GOLDEN.jsonl MAX_SEQ_LENGTH
//                                               ids and vectors against sentence-transformers
//
// Timing mode reads WORK_DIR/workloads.json and plan.txt and prints JSON lines like bench_ort.js
// (engine from BENCH_ENGINE: llama-f32 or llama-q8_0). Embeddings come from the model's
// createEmbeddingContext(): one sequence, so texts go through one at a time (node-llama-cpp has
// no batched embedding call); W3 and W4 are 1,024 and 32 calls. The ids fed are Hugging Face
// tokenizers' (workloads.json, truncated to max_seq_length as sentence-transformers does), so
// llama.cpp computes exactly the tokens the other engines compute: its own WordPiece turns every
// Korean word into [UNK] (it lowercases and NFD-decomposes every text, which splits Hangul
// syllables into jamo that the klue vocabulary does not hold), which would give it 2-5x fewer
// tokens. Tokenizing is therefore not timed for llama.cpp (as for PyTorch). It also writes the
// W3 vectors (vectors-ENGINE-tN.f32, HF ids) and the same texts through llama.cpp's own
// tokenizer (vectors-ENGINE-own-tN.f32) for bench/report.py's agreement table.
//
// --agree prints, for a golden file (rows {text, ids, embedding} from sentence-transformers),
// how many texts llama.cpp tokenizes to the same ids, Korean texts (any Hangul) and the others
// apart, and the cosine / max |diff| (both vectors L2-normalized) of its vectors from HF ids and
// from its own ids.
import fs from 'fs';
import path from 'path';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// The ggml CPU backend llama.cpp loaded for this CPU (libggml-cpu-zen4.so, -haswell.so, ...).
function cpuBackend() {
  const maps = fs.readFileSync('/proc/self/maps', 'utf8');
  const m = maps.match(/libggml-cpu-([\w-]+)\.so/);
  return m ? m[1] : 'unknown';
}

async function open(modelPath, threads) {
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath, gpuLayers: 0 });
  // The context holds one text; 512 covers every model here (max_seq_length <= 512).
  const ctx = await model.createEmbeddingContext({ contextSize: 512, batchSize: 512, threads });
  return { llama, model, ctx };
}

// llama.cpp's own tokens for a text between its [CLS] and [SEP], cut as sentence-transformers
// cuts (max_seq_length including the two special tokens).
function ownIds(model, text, maxSeq) {
  return [model.tokens.bos, ...[...model.tokenize(text.trim())].slice(0, maxSeq - 2), model.tokens.sep];
}

// ids with their [CLS] and [SEP]: getEmbeddingFor adds those only when the first / last id is not
// already one (without them a text that starts with the literal "[CLS]" would lose a token).
async function embed(ctx, ids) {
  return (await ctx.getEmbeddingFor(ids)).vector;
}

function writeVectors(file, rows) {
  const dim = rows[0].length;
  const flat = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => flat.set(r, i * dim));
  fs.writeFileSync(file, Buffer.from(flat.buffer));
}

async function timing(modelPath, workDir, threads) {
  const engine = process.env.BENCH_ENGINE || 'llama-f32';
  const emit = (obj) => console.log(JSON.stringify({ engine, threads, ...obj }));
  const workloads = JSON.parse(fs.readFileSync(path.join(workDir, 'workloads.json'), 'utf8'));
  const t0 = now();
  const { llama, model, ctx } = await open(modelPath, threads);
  const t1 = now();
  for (const ids of workloads.W1.ids) await embed(ctx, ids);
  const t2 = now();
  emit({ metric: 'open_ms', value: t2 - t0, load_ms: t1 - t0, first_encode_ms: t2 - t1,
         version: `node-llama-cpp 3.21.1 (llama.cpp ${llama.llamaCppRelease.release}, ` +
                  `${llama.buildType} binaries, ggml CPU backend ${cpuBackend()})` });
  if (process.env.BENCH_OPEN_ONLY === '1') return;

  const plan = fs.readFileSync(path.join(workDir, 'plan.txt'), 'utf8').split('\n')
    .filter((l) => l.trim()).map((l) => l.trim().split(/\s+/)[0]);
  for (const name of plan) {
    const w = workloads[name];
    const { warmup, min_repeats: minRepeats, max_repeats: maxRepeats, budget_s: budget } = w.repeat;
    const run = async () => { const rows = []; for (const ids of w.ids) rows.push(await embed(ctx, ids)); return rows; };
    for (let i = 0; i < warmup; i++) await run();
    const times = [];
    let rows = null;
    const start = now();
    while (times.length < maxRepeats && (times.length < minRepeats || now() - start < budget * 1e3)) {
      const t = now();
      rows = await run();
      times.push(now() - t);
    }
    emit({ workload: name, texts: w.texts.length, tokens: w.tokens, times_ms: times, median_ms: median(times) });
    if (name === 'W3') {
      writeVectors(path.join(workDir, `vectors-${engine}-t${threads}.f32`), rows);
      const maxSeq = Math.max(...w.ids.map((x) => x.length), 128);
      const own = [];
      let ownTokens = 0;
      for (const text of w.texts) {
        const ids = ownIds(model, text, maxSeq);
        ownTokens += ids.length;
        own.push(await embed(ctx, ids));
      }
      writeVectors(path.join(workDir, `vectors-${engine}-own-t${threads}.f32`), own);
      emit({ metric: 'own_tokens_w3', value: ownTokens, hf_tokens: w.tokens });
    }
  }
  emit({ metric: 'peak_rss_mb', value: process.resourceUsage().maxRSS / 1024 });
  await ctx.dispose();
  await model.dispose();
}

function normalized(v) {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / n);
}

function compare(a, b) {
  const x = normalized(a), y = normalized(b);
  let dot = 0, maxDiff = 0;
  for (let i = 0; i < x.length; i++) { dot += x[i] * y[i]; maxDiff = Math.max(maxDiff, Math.abs(x[i] - y[i])); }
  return { cos: dot, maxDiff };
}

async function agree(modelPath, goldenPath, maxSeq) {
  const { model, ctx } = await open(modelPath, 1); // one thread: ggml's spinning threads crawl on a busy machine
  const rows = fs.readFileSync(goldenPath, 'utf8').split('\n').filter((l) => l.trim()).map(JSON.parse);
  const groups = { korean: [], other: [] };
  for (const r of rows) {
    if (r.ids.length <= 2) continue; // empty after stripping: no vector to compare
    const own = ownIds(model, r.text, maxSeq);
    const sameIds = own.length === r.ids.length && own.every((t, i) => t === r.ids[i]);
    const fromHf = compare(await embed(ctx, r.ids), r.embedding);
    const fromOwn = compare(await embed(ctx, own), r.embedding);
    groups[/[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]/.test(r.text) ? 'korean' : 'other']
      .push({ sameIds, fromHf, fromOwn, hfLen: r.ids.length, ownLen: own.length });
  }
  const name = path.basename(goldenPath);
  for (const [group, g] of Object.entries(groups)) {
    if (!g.length) continue;
    const minCos = (k) => Math.min(...g.map((x) => x[k].cos));
    const medCos = (k) => median(g.map((x) => x[k].cos));
    const maxDiff = (k) => Math.max(...g.map((x) => x[k].maxDiff));
    const line = {
      golden: name, texts: group, n: g.length,
      same_ids: g.filter((x) => x.sameIds).length,
      tokens_hf: g.reduce((s, x) => s + x.hfLen, 0), tokens_llama: g.reduce((s, x) => s + x.ownLen, 0),
      hf_ids: { min_cos: minCos('fromHf'), max_diff: maxDiff('fromHf') },
      own_ids: { min_cos: minCos('fromOwn'), median_cos: medCos('fromOwn') },
    };
    console.log(JSON.stringify(line));
  }
  await ctx.dispose();
  await model.dispose();
}

const args = process.argv.slice(2);
const usage = 'usage: node bench/bench_llama.mjs MODEL.gguf WORK_DIR THREADS\n' +
              '       node bench/bench_llama.mjs --agree MODEL.gguf GOLDEN.jsonl MAX_SEQ_LENGTH';
const main = args[0] === '--agree'
  ? (args.length === 4 ? agree(args[1], args[2], Number(args[3])) : Promise.reject(new Error(usage)))
  : (args.length === 3 ? timing(args[0], args[1], Number(args[2])) : Promise.reject(new Error(usage)));
main.catch((e) => { console.error(e.message || e); process.exit(1); });
