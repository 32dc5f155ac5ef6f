// onnxruntime tensors as the graphs take and give them: int64 inputs, and a NaN guard on the
// outputs that become scores or text.
import { Tensor } from 'onnxruntime-node';
import { HostError } from './errors';

export function int64Tensor(dims: number[], values: ArrayLike<number>): Tensor {
  return new Tensor(
    'int64',
    BigInt64Array.from(values as ArrayLike<number>, (v) => BigInt(v)),
    dims,
  );
}

/** Outputs that become scores or text; a NaN in them must be an error, never a score shown. */
const scoredOutputs = ['logits', 'start_logits', 'end_logits', 'mc_logits', 'last_hidden_state'];

/** Throws a clear error when a scored output holds NaN (broken weights or a numeric blow-up). */
export function requireFinite<T extends Record<string, Tensor>>(source: string, outputs: T): T {
  for (const name of scoredOutputs) {
    const data = outputs[name]?.data;
    if (!(data instanceof Float32Array)) continue;
    for (let i = 0; i < data.length; i++) {
      // NaN is the only value not equal to itself; cheaper than Number.isNaN on long logits.
      if (data[i] !== data[i]) {
        throw new HostError(
          `The model "${source}" produced NaN in its ${name}: its weights hold NaN or ` +
            `overflow. Export or download the model again.`,
        );
      }
    }
  }
  return outputs;
}
