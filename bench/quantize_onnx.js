// ONNX Runtime's own int8 for make bench: the exported model's MatMuls with constant weights
// rewritten as onnxruntime.quantization.quantize_dynamic writes them (its Python package cannot
// be installed offline here): DynamicQuantizeLinear on the input (uint8 with a zero point, per
// tensor), MatMulInteger with int8 weights (symmetric; per output column, as libsbert's, where
// quantize_dynamic defaults to per tensor), Cast, and the product of the two scales. ONNX
// Runtime's graph optimizer fuses the chain into its MatMulIntegerToFloat kernel.
//
//   node bench/quantize_onnx.js bench/work/model.onnx bench/work/model-int8.onnx
const fs = require('fs');
const { onnx } = require('onnx-proto');
const [src, dst] = process.argv.slice(2);
const model = onnx.ModelProto.decode(fs.readFileSync(src));
const g = model.graph;
const inits = new Map(g.initializer.map((t) => [t.name, t]));
const T = onnx.TensorProto.DataType;
const tensor = (name, dataType, dims, bytes) =>
  onnx.TensorProto.create({ name, dataType, dims, rawData: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
const nodes = [], drop = new Set();
let count = 0;
for (const n of g.node) {
  const w = n.opType === 'MatMul' ? inits.get(n.input[1]) : null;
  if (!w || w.dataType !== T.FLOAT || w.dims.length !== 2) { nodes.push(n); continue; }
  const K = Number(w.dims[0]), N = Number(w.dims[1]);
  const raw = Buffer.from(w.rawData);
  const f = new Float32Array(raw.buffer, raw.byteOffset, K * N);
  const q = new Int8Array(K * N), scale = new Float32Array(N);
  for (let j = 0; j < N; j++) {
    let amax = 0;
    for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(f[k * N + j]));
    scale[j] = amax / 127;
    const inv = amax > 0 ? 127 / amax : 0;
    for (let k = 0; k < K; k++) q[k * N + j] = Math.max(-127, Math.min(127, Math.round(f[k * N + j] * inv)));
  }
  const p = `q${count++}_`;
  g.initializer.push(tensor(p + 'W', T.INT8, [K, N], q), tensor(p + 'W_scale', T.FLOAT, [N], scale),
                     tensor(p + 'W_zero', T.INT8, [N], new Int8Array(N)));
  drop.add(w.name);
  let k = 0;
  const node = (opType, input, output, attribute = []) =>
    onnx.NodeProto.create({ opType, input, output, name: p + opType + k++, attribute });
  nodes.push(node('DynamicQuantizeLinear', [n.input[0]], [p + 'x', p + 'x_scale', p + 'x_zero']),
             node('MatMulInteger', [p + 'x', p + 'W', p + 'x_zero', p + 'W_zero'], [p + 'y_int']),
             node('Cast', [p + 'y_int'], [p + 'y_float'],
                  [onnx.AttributeProto.create({ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT })]),
             node('Mul', [p + 'x_scale', p + 'W_scale'], [p + 'scale']),
             node('Mul', [p + 'y_float', p + 'scale'], [n.output[0]]));
}
g.node = nodes;
g.initializer = g.initializer.filter((t) => !drop.has(t.name));
fs.writeFileSync(dst, onnx.ModelProto.encode(model).finish());
console.log(`quantize_onnx: ${count} MatMuls quantized, ${dst}`);
