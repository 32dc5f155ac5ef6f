// Head weights of the reference ONNX exports, by their Hugging Face names, so that tests can
// rebuild those heads over the shared backbone.
import { readFileSync } from 'node:fs';
import { onnx } from 'onnx-proto';
import type { Weights } from '../../src/host/convert/gpt2Graph';

/**
 * Every initializer outside the backbone (`transformer.*`). The exporter stores an nn.Linear
 * weight transposed under a generated name (onnx::MatMul_…); it comes back as `linearWeight`.
 */
export function exportedHeadWeights(onnxFile: string, linearWeight: string): Weights {
  const weights: Weights = new Map();
  for (const tensor of onnx.ModelProto.decode(readFileSync(onnxFile)).graph!.initializer!) {
    if (tensor.name!.startsWith('transformer.')) continue;
    const raw = tensor.rawData!;
    const data = new Float32Array(raw.byteLength / 4);
    new Uint8Array(data.buffer).set(raw);
    const shape = tensor.dims!.map(Number);
    if (!tensor.name!.startsWith('onnx::MatMul')) {
      weights.set(tensor.name!, { shape, data });
      continue;
    }
    const [rows, cols] = shape;
    const transposed = new Float32Array(data.length);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) transposed[c * rows + r] = data[r * cols + c];
    }
    weights.set(linearWeight, { shape: [cols, rows], data: transposed });
  }
  return weights;
}
