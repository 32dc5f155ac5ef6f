/**
 * A plain TypeScript GPT-2 forward pass, written from the GPT-2 paper and Hugging Face's
 * modeling_gpt2 semantics, used only to check the ONNX graphs. One sequence at a time,
 * float64 arithmetic, loops instead of tensors: slow but obviously right.
 */
import type { Gpt2Config } from '../../src/host/convert/gpt2Config';
import type { Weights } from '../../src/host/convert/gpt2Graph';

export interface LayerCache {
  /** [head][position][dim] */
  keys: number[][][];
  values: number[][][];
}

export interface ForwardResult {
  /** Final (ln_f) hidden state per new position. */
  hidden: number[][];
  /** Keys/values for past + new positions, per layer. */
  cache: LayerCache[];
}

function tensor(weights: Weights, name: string): Float32Array {
  const t = weights.get(name) ?? weights.get(name.replace(/^transformer\./, ''));
  if (!t) throw new Error(`reference: missing ${name}`);
  return t.data;
}

function layerNorm(x: number[], gamma: Float32Array, beta: Float32Array, eps: number): number[] {
  const n = x.length;
  const mean = x.reduce((a, b) => a + b, 0) / n;
  const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
  const inv = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * inv * gamma[i] + beta[i]);
}

/** x[in] times W stored row-major [in, out], plus bias[out]. */
function conv1d(x: number[], w: Float32Array, b: Float32Array, outDim: number): number[] {
  const y = Array.from(b);
  for (let i = 0; i < x.length; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    const row = i * outDim;
    for (let o = 0; o < outDim; o++) y[o] += xi * w[row + o];
  }
  return y;
}

/** nn.Linear: W stored [out, in]. */
export function linear(
  x: number[],
  w: Float32Array,
  b: Float32Array | undefined,
  outDim: number,
): number[] {
  const y: number[] = [];
  for (let o = 0; o < outDim; o++) {
    let s = b ? b[o] : 0;
    for (let i = 0; i < x.length; i++) s += x[i] * w[o * x.length + i];
    y.push(s);
  }
  return y;
}

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse for 1e-4 checks; use a series / continued fraction.
  const t = Math.abs(x);
  if (t < 3) {
    let sum = t;
    let term = t;
    for (let n = 1; n < 100; n++) {
      term *= (-t * t) / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  return Math.sign(x) * (1 - (Math.exp(-t * t) / (t * Math.sqrt(Math.PI))) * (1 - 1 / (2 * t * t)));
}

export function activate(x: number, kind: string): number {
  switch (kind) {
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
    case 'gelu_accurate':
      return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    case 'gelu':
    case 'gelu_python':
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'quick_gelu':
      return x / (1 + Math.exp(-1.702 * x));
    case 'relu':
      return Math.max(0, x);
    case 'silu':
    case 'swish':
      return x / (1 + Math.exp(-x));
    case 'tanh':
      return Math.tanh(x);
    case 'sigmoid':
      return 1 / (1 + Math.exp(-x));
    case 'linear':
      return x;
    default:
      throw new Error(`reference: activation ${kind}`);
  }
}

/**
 * Runs new tokens `ids` at `positions` with `mask` covering past + new tokens, after `past`.
 * A query at absolute index past+i sees key j when j <= past+i and mask[j] is 1.
 */
export function gpt2Forward(
  config: Gpt2Config,
  weights: Weights,
  ids: number[],
  positions: number[],
  mask: number[],
  past: LayerCache[] = [],
): ForwardResult {
  const E = config.n_embd!;
  const H = config.n_head!;
  const D = E / H;
  const L = config.n_layer!;
  const inner = config.n_inner ?? 4 * E;
  const eps = config.layer_norm_epsilon ?? 1e-5;
  const act = config.activation_function ?? 'gelu_new';
  const pastLen = past.length ? past[0].keys[0].length : 0;
  if (mask.length !== pastLen + ids.length)
    throw new Error('reference: mask length must be past + new');
  const wte = tensor(weights, 'transformer.wte.weight');
  const wpe = tensor(weights, 'transformer.wpe.weight');
  let xs = ids.map((id, t) =>
    Array.from({ length: E }, (_, e) => wte[id * E + e] + wpe[positions[t] * E + e]),
  );
  const cache: LayerCache[] = [];
  for (let l = 0; l < L; l++) {
    const p = `transformer.h.${l}.`;
    const w = (n: string): Float32Array => tensor(weights, p + n);
    const keys = past[l]
      ? past[l].keys.map((h) => h.map((r) => [...r]))
      : Array.from({ length: H }, () => []);
    const values = past[l]
      ? past[l].values.map((h) => h.map((r) => [...r]))
      : Array.from({ length: H }, () => []);
    const queries: number[][][] = [];
    for (const x of xs) {
      const qkv = conv1d(
        layerNorm(x, w('ln_1.weight'), w('ln_1.bias'), eps),
        w('attn.c_attn.weight'),
        w('attn.c_attn.bias'),
        3 * E,
      );
      const perHead: number[][] = [];
      for (let h = 0; h < H; h++) {
        perHead.push(qkv.slice(h * D, (h + 1) * D));
        (keys[h] as number[][]).push(qkv.slice(E + h * D, E + (h + 1) * D));
        (values[h] as number[][]).push(qkv.slice(2 * E + h * D, 2 * E + (h + 1) * D));
      }
      queries.push(perHead);
    }
    cache.push({ keys: keys as number[][][], values: values as number[][][] });
    let scale = config.scale_attn_weights === false ? 1 : 1 / Math.sqrt(D);
    if (config.scale_attn_by_inverse_layer_idx) scale /= l + 1;
    xs = xs.map((x, t) => {
      const attended: number[] = [];
      for (let h = 0; h < H; h++) {
        const visible: number[] = [];
        for (let j = 0; j <= pastLen + t; j++) if (mask[j]) visible.push(j);
        const keysOf = keys[h] as number[][];
        const scores = visible.map(
          (j) => scale * keysOf[j].reduce((s, k, d) => s + k * queries[t][h][d], 0),
        );
        const max = Math.max(...scores);
        const exps = scores.map((s) => Math.exp(s - max));
        const total = exps.reduce((a, b) => a + b, 0);
        for (let d = 0; d < D; d++) {
          let v = 0;
          visible.forEach((j, n) => (v += (exps[n] / total) * (values[h] as number[][])[j][d]));
          attended.push(v);
        }
      }
      const a = conv1d(attended, w('attn.c_proj.weight'), w('attn.c_proj.bias'), E);
      const y = x.map((v, e) => v + a[e]);
      const hidden = conv1d(
        layerNorm(y, w('ln_2.weight'), w('ln_2.bias'), eps),
        w('mlp.c_fc.weight'),
        w('mlp.c_fc.bias'),
        inner,
      );
      const m = conv1d(
        hidden.map((v) => activate(v, act)),
        w('mlp.c_proj.weight'),
        w('mlp.c_proj.bias'),
        E,
      );
      return y.map((v, e) => v + m[e]);
    });
  }
  const gamma = tensor(weights, 'transformer.ln_f.weight');
  const beta = tensor(weights, 'transformer.ln_f.bias');
  return { hidden: xs.map((x) => layerNorm(x, gamma, beta, eps)), cache };
}

/** Tied LM logits: hidden · wte^T. */
export function lmLogits(config: Gpt2Config, weights: Weights, hidden: number[]): number[] {
  return linear(hidden, tensor(weights, 'transformer.wte.weight'), undefined, config.vocab_size!);
}

/** Hidden states of a right- or left-padded sequence whose positions are 0..n-1 (HF heads' default). */
export function headHidden(
  config: Gpt2Config,
  weights: Weights,
  ids: number[],
  mask: number[],
): number[][] {
  return gpt2Forward(
    config,
    weights,
    ids,
    ids.map((_, i) => i),
    mask,
  ).hidden;
}
