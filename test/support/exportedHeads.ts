// Head weights of the reference ONNX exports, by their Hugging Face names, so that tests can
// rebuild those heads over the shared backbone.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import type { Weights } from '../../src/host/convert/gpt2Graph';
import { readSafetensors, writeSafetensors } from '../../src/host/convert/safetensors';
import { fixturesDir } from './fixtures';

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

/** A checkpoint of a reference head: the shared backbone plus the head weights of its export. */
export function checkpointFrom(name: string, headWeight: string, root: string): string {
  const folder = join(root, name);
  mkdirSync(folder, { recursive: true });
  for (const file of [
    'config.json',
    'tokenizer.json',
    'tokenizer_config.json',
    'special_tokens_map.json',
  ]) {
    copyFileSync(join(fixturesDir, name, file), join(folder, file));
  }
  const weights: Weights = new Map(
    readSafetensors(join(fixturesDir, 'safetensors', 'gpt2-tiny-ner', 'model.safetensors')).tensors,
  );
  for (const key of [...weights.keys()]) if (!key.startsWith('transformer.')) weights.delete(key);
  const file = join(fixturesDir, name, 'onnx', 'model.onnx');
  for (const [key, tensor] of exportedHeadWeights(file, headWeight)) weights.set(key, tensor);
  writeSafetensors(join(folder, 'model.safetensors'), weights, { format: 'pt' });
  return folder;
}
