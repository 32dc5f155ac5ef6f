// onnxruntime tensors as the graphs take and give them: int64 inputs, empty key/value caches,
// and a NaN guard on the outputs that become scores or text.
import { Tensor } from 'onnxruntime-node';
import { HostError } from './errors';

export function int64Tensor(dims: number[], values: ArrayLike<number>): Tensor {
  return new Tensor(
    'int64',
    BigInt64Array.from(values as ArrayLike<number>, (v) => BigInt(v)),
    dims,
  );
}

/**
 * Zero-length `past_key_values.{i}.key|value` feeds [1, n_head, 0, head_dim]: what a graph with
 * a key/value cache takes for a first pass without one.
 */
export function emptyPastKeyValues(config: {
  n_layer: number;
  n_head: number;
  n_embd: number;
}): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {};
  const dims = [1, config.n_head, 0, config.n_embd / config.n_head];
  for (let layer = 0; layer < config.n_layer; layer++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_key_values.${layer}.${kind}`] = new Tensor('float32', new Float32Array(0), dims);
    }
  }
  return feeds;
}

/**
 * A classifier's "logits" output, [batch, labels] or per token [batch, tokens, labels], checked
 * against the number of labels its config.json names.
 */
export function labelLogits(
  source: string,
  outputs: Record<string, Tensor>,
  labels: number,
  perToken: boolean,
): Tensor {
  const logits = outputs.logits as Tensor | undefined;
  const rank = perToken ? 3 : 2;
  if (!logits || logits.dims.length !== rank) {
    const shape = perToken ? '[batch, tokens, labels]' : 'pooled [batch, labels]';
    throw new HostError(`"${source}" has no "logits" output ${shape}.`);
  }
  const width = logits.dims[rank - 1];
  if (width !== labels) {
    throw new HostError(
      `"${source}" has ${width} outputs ${perToken ? 'per token ' : ''}but its config.json ` +
        `names ${labels} labels (id2label/num_labels): the config and the weights disagree.`,
    );
  }
  return logits;
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
