/**
 * Builds GPT-2 ONNX graphs from weights, with Hugging Face Optimum's input/output names.
 *
 * Single architecture (the graph a model folder's `onnx/model.onnx` holds):
 *
 *   buildGpt2Graph(config, weights)                       // architecture = config.architectures[0]
 *   buildGpt2Graph(config, weights, { architecture: 'GPT2ForTokenClassification' })
 *
 * Several heads over one backbone, run once per input (DESIGN.md "Heads that share a backbone"):
 *
 *   buildGpt2Graph(config, backboneWeights, {
 *     heads: [
 *       { name: 'ner', kind: 'token-classification', weights: nerWeights },
 *       { name: 'sentiment', kind: 'sequence-classification', weights: sentWeights, padTokenId: 50256 },
 *       { name: 'qa', kind: 'question-answering', weights: qaWeights },
 *       { name: 'lm', kind: 'causal-lm' },            // tied to wte, no weights of its own
 *     ],
 *     hiddenStates: true,                            // also output last_hidden_state
 *   })
 *
 *   inputs: input_ids, attention_mask [batch, seq] (positions 0..seq-1 in the graph, as HF's heads)
 *   outputs: `<name>.logits` (token classification [b,s,labels], sequence classification [b,labels],
 *   causal-lm [b,s,vocab]), `<name>.start_logits` / `<name>.end_logits` for question answering.
 *   Head weights are looked up by their HF names (`classifier.weight`, `score.weight`,
 *   `qa_outputs.weight`...) in `weights` of the head (a whole checkpoint is fine) and stored as
 *   `<name>.classifier.weight`. Backbone weights come from `weights` (with or without the
 *   `transformer.` prefix); the caller checks that heads really share it (`sameBackbone`).
 *   Multiple choice needs a [b, choices, s] input and is only built as GPT2DoubleHeadsModel.
 *
 * Weights are stored once, under HF's parameter names with the `transformer.` prefix; the tied
 * lm_head is a Gemm with transB over `transformer.wte.weight` (Optimum uses Transpose + MatMul;
 * Gemm avoids the transposed copy that constant folding would make at load).
 *
 * `quantize: true` makes every constant-weight matmul of the backbone and the lm_head an int8
 * com.microsoft DynamicQuantizeMatMul (per-column scales); embeddings and small heads stay fp32.
 */
import { GraphBuilder, MS_DOMAIN, type Dim } from './proto';
import {
  architectureOf,
  ModelFormatError,
  validateGpt2Config,
  type Gpt2Architecture,
  type Gpt2Config,
} from './gpt2Config';
import { quantizeColumns, quantizeTransposed } from './quantize';

export interface WeightTensor {
  shape: number[];
  data: Float32Array;
}
export type Weights = Map<string, WeightTensor>;

export type HeadKind =
  'token-classification' | 'sequence-classification' | 'question-answering' | 'causal-lm';

export interface HeadSpec {
  name: string;
  kind: HeadKind;
  /** The head's weights by HF name; not needed for 'causal-lm' (tied to wte). */
  weights?: Weights;
  /** Sequence classification pools at the last token that is not this id (default: config.pad_token_id). */
  padTokenId?: number | null;
}

export interface BuildOptions {
  architecture?: Gpt2Architecture;
  heads?: HeadSpec[];
  /** Multi-head graphs: also output last_hidden_state. */
  hiddenStates?: boolean;
  /** GPT2LMHeadModel: declare the optional num_logits_to_keep input (default true). */
  numLogitsToKeep?: boolean;
  /**
   * GPT2LMHeadModel: also output each layer's keys and values of the new tokens alone,
   * `new_key_values.{i}.key|value` [b, n_head, s, head_dim] (default true). The host fetches
   * these instead of the presents and appends them to its own cache: onnxruntime-node copies
   * every output into fresh JavaScript memory, ~73 MB per step for the presents at 1,000 tokens.
   * Optimum's names and presents are unchanged; the names do not start with `present` because
   * transformers.js takes every such output for a cache entry.
   */
  newKeyValues?: boolean;
  quantize?: boolean;
}

export interface Gpt2Dims {
  nLayer: number;
  nHead: number;
  nEmbd: number;
  headDim: number;
  nInner: number;
  vocabSize: number;
  nPositions: number;
  epsilon: number;
  activation: string;
  scaleAttnWeights: boolean;
  scaleByInverseLayerIdx: boolean;
  padTokenId: number | null;
  numLabels: number;
  /** tie_word_embeddings (default true): the LM head is wte; false: its own lm_head.weight. */
  tiedLmHead: boolean;
}

export const SUPPORTED_ACTIVATIONS = [
  'gelu_new',
  'gelu_pytorch_tanh',
  'gelu_fast',
  'gelu_accurate',
  'gelu',
  'gelu_python',
  'quick_gelu',
  'relu',
  'silu',
  'swish',
  'tanh',
  'sigmoid',
  'linear',
];

function positiveInt(config: Gpt2Config, key: string): number {
  const value = config[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new ModelFormatError(
      `config.json: ${key} must be a positive integer (got ${JSON.stringify(value)})`,
    );
  }
  return value;
}

/** The dimensions of the graph from a config.json, with HF's GPT2Config defaults. */
export function readGpt2Dims(config: Gpt2Config): Gpt2Dims {
  validateGpt2Config(config, 'config.json');
  if (config.add_cross_attention) {
    throw new ModelFormatError('config.json: add_cross_attention is not supported');
  }
  const activation = config.activation_function ?? 'gelu_new';
  if (!SUPPORTED_ACTIVATIONS.includes(activation)) {
    throw new ModelFormatError(
      `config.json: activation_function "${activation}" is not supported (supported: ${SUPPORTED_ACTIVATIONS.join(', ')})`,
    );
  }
  const labels = config.id2label ? Object.keys(config.id2label).length : undefined;
  const nEmbd = config.n_embd;
  return {
    nLayer: config.n_layer,
    nHead: config.n_head,
    nEmbd,
    headDim: nEmbd / config.n_head,
    nInner: config.n_inner == null ? 4 * nEmbd : positiveInt(config, 'n_inner'),
    vocabSize: config.vocab_size,
    nPositions: config.n_positions,
    epsilon: config.layer_norm_epsilon ?? 1e-5,
    activation,
    scaleAttnWeights: config.scale_attn_weights ?? true,
    scaleByInverseLayerIdx: config.scale_attn_by_inverse_layer_idx ?? false,
    padTokenId: config.pad_token_id ?? null,
    numLabels: config.num_labels ?? labels ?? 2,
    tiedLmHead: config.tie_word_embeddings !== false,
  };
}

const BACKBONE_PREFIX = 'transformer.';
const LM_HEAD = 'lm_head.weight';

/** Looks a backbone weight up with or without the `transformer.` prefix (GPT2Model checkpoints have none). */
function findBackbone(weights: Weights, name: string): WeightTensor | undefined {
  return weights.get(BACKBONE_PREFIX + name) ?? weights.get(name);
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function expectShape(
  name: string,
  tensor: WeightTensor | undefined,
  expected: number[],
  why: string,
): WeightTensor {
  if (!tensor) throw new ModelFormatError(`weights: tensor ${name} is missing`);
  const same =
    tensor.shape.length === expected.length && tensor.shape.every((d, i) => d === expected[i]);
  if (!same) {
    throw new ModelFormatError(
      `weights: tensor ${name} has shape ${shapeText(tensor.shape)}, expected ${shapeText(expected)} (${why})`,
    );
  }
  return tensor;
}

/** The backbone tensors by their prefixed name, checked against config.json. */
export function backboneTensors(dims: Gpt2Dims, weights: Weights): Map<string, WeightTensor> {
  const out = new Map<string, WeightTensor>();
  const wte = findBackbone(weights, 'wte.weight');
  if (
    wte &&
    wte.shape.length === 2 &&
    wte.shape[1] === dims.nEmbd &&
    wte.shape[0] < dims.vocabSize
  ) {
    throw new ModelFormatError(
      `config.json: vocab_size ${dims.vocabSize} is larger than the ${wte.shape[0]} rows of transformer.wte.weight`,
    );
  }
  const E = dims.nEmbd;
  const want = (name: string, shape: number[], why: string): void => {
    out.set(
      BACKBONE_PREFIX + name,
      expectShape(BACKBONE_PREFIX + name, findBackbone(weights, name), shape, why),
    );
  };
  want('wte.weight', [dims.vocabSize, E], `vocab_size ${dims.vocabSize}, n_embd ${E}`);
  want('wpe.weight', [dims.nPositions, E], `n_positions ${dims.nPositions}, n_embd ${E}`);
  const e = `n_embd ${E}`;
  const inner = `n_embd ${E}, n_inner ${dims.nInner}`;
  for (let i = 0; i < dims.nLayer; i++) {
    const p = `h.${i}.`;
    want(p + 'ln_1.weight', [E], e);
    want(p + 'ln_1.bias', [E], e);
    want(p + 'attn.c_attn.weight', [E, 3 * E], e);
    want(p + 'attn.c_attn.bias', [3 * E], e);
    want(p + 'attn.c_proj.weight', [E, E], e);
    want(p + 'attn.c_proj.bias', [E], e);
    want(p + 'ln_2.weight', [E], e);
    want(p + 'ln_2.bias', [E], e);
    want(p + 'mlp.c_fc.weight', [E, dims.nInner], inner);
    want(p + 'mlp.c_fc.bias', [dims.nInner], inner);
    want(p + 'mlp.c_proj.weight', [dims.nInner, E], inner);
    want(p + 'mlp.c_proj.bias', [E], e);
  }
  want('ln_f.weight', [E], e);
  want('ln_f.bias', [E], e);
  if (findBackbone(weights, `h.${dims.nLayer}.ln_1.weight`)) {
    throw new ModelFormatError(
      `weights: found layer h.${dims.nLayer} but config.json says n_layer ${dims.nLayer}`,
    );
  }
  return out;
}

/** True when two checkpoints hold the same backbone weights (so their heads can share one graph). */
export function sameBackbone(dims: Gpt2Dims, a: Weights, b: Weights): boolean {
  const ta = backboneTensors(dims, a);
  const tb = backboneTensors(dims, b);
  for (const [name, x] of ta) {
    const y = tb.get(name);
    if (!y || x.data.length !== y.data.length) return false;
    if (x.data !== y.data && Buffer.compare(bytes(x.data), bytes(y.data)) !== 0) return false;
  }
  return true;
}

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

const FLOAT_MIN = -3.4028234663852886e38;
const INT64_MAX_SAFE = Number.MAX_SAFE_INTEGER;

class Gpt2GraphWriter {
  readonly g = new GraphBuilder();
  private readonly stored = new Set<string>();

  constructor(
    readonly dims: Gpt2Dims,
    private readonly tensors: Map<string, WeightTensor>,
    private readonly quantize: boolean,
  ) {}

  weight(name: string, tensor?: WeightTensor): string {
    if (!this.stored.has(name)) {
      const t = tensor ?? this.tensors.get(name);
      if (!t) throw new ModelFormatError(`weights: tensor ${name} is missing`);
      this.g.initializer(name, 'float', t.shape, t.data);
      this.stored.add(name);
    }
    return name;
  }

  /** Scalar int64 dimension `axis` of tensor x. */
  dim(x: string, axis: number): string {
    return this.g.op('Shape', [x], { start: axis, end: axis + 1 });
  }

  scalar(oneElement: string): string {
    return this.g.op('Squeeze', [oneElement, this.g.constInt64([0])]);
  }

  /** HF Conv1D: x @ W[in,out] + b, int8 when quantizing. */
  conv1d(x: string, prefix: string): string {
    const wName = `${prefix}.weight`;
    const bias = this.weight(`${prefix}.bias`);
    if (!this.quantize)
      return this.g.op('Add', [this.g.op('MatMul', [x, this.weight(wName)]), bias]);
    const w = this.tensors.get(wName);
    if (!w) throw new ModelFormatError(`weights: tensor ${wName} is missing`);
    const [rows, cols] = w.shape;
    const q = quantizeColumns(w.data, rows, cols);
    return this.quantizedMatMul(x, wName, [rows, cols], q, bias);
  }

  quantizedMatMul(
    x: string,
    name: string,
    shape: number[],
    q: { values: Int8Array; scales: Float32Array; zeroPoints: Int8Array },
    bias: string | '',
  ): string {
    const g = this.g;
    const w = g.initializer(`${name}_quantized`, 'int8', shape, q.values);
    const scale = g.initializer(`${name}_scale`, 'float', [shape[1]], q.scales);
    const zero = g.initializer(`${name}_zero_point`, 'int8', [shape[1]], q.zeroPoints);
    return g.op('DynamicQuantizeMatMul', [x, w, scale, zero, bias], {}, MS_DOMAIN);
  }

  layerNorm(x: string, prefix: string): string {
    return this.g.op(
      'LayerNormalization',
      [x, this.weight(`${prefix}.weight`), this.weight(`${prefix}.bias`)],
      {
        axis: -1,
        epsilon: { float: this.dims.epsilon },
      },
    );
  }

  activation(x: string, kind: string): string {
    const g = this.g;
    const half = g.constFloat(0.5);
    const one = g.constFloat(1);
    switch (kind) {
      case 'gelu_new':
      case 'gelu_pytorch_tanh':
      case 'gelu_fast':
      case 'gelu_accurate': {
        const cube = g.op('Mul', [g.op('Mul', [x, x]), x]);
        const inner = g.op('Add', [x, g.op('Mul', [cube, g.constFloat(0.044715)])]);
        const t = g.op('Tanh', [g.op('Mul', [inner, g.constFloat(Math.sqrt(2 / Math.PI))])]);
        return g.op('Mul', [g.op('Mul', [x, half]), g.op('Add', [t, one])]);
      }
      case 'gelu':
      case 'gelu_python': {
        const e = g.op('Erf', [g.op('Mul', [x, g.constFloat(Math.SQRT1_2)])]);
        return g.op('Mul', [g.op('Mul', [x, half]), g.op('Add', [e, one])]);
      }
      case 'quick_gelu':
        return g.op('Mul', [x, g.op('Sigmoid', [g.op('Mul', [x, g.constFloat(1.702)])])]);
      case 'relu':
        return g.op('Relu', [x]);
      case 'silu':
      case 'swish':
        return g.op('Mul', [x, g.op('Sigmoid', [x])]);
      case 'tanh':
        return g.op('Tanh', [x]);
      case 'sigmoid':
        return g.op('Sigmoid', [x]);
      case 'linear':
        return x;
      default:
        throw new ModelFormatError(`activation "${kind}" is not supported`);
    }
  }

  /**
   * The transformer: ids [N,s], mask [N,T] (T = past + s), optional position ids [N,s]
   * (default 0..s-1), optional past key/values. Returns ln_f output [N,s,E] and presents.
   */
  backbone(
    ids: string,
    mask: string,
    positionIds: string | null,
    past: { key: string; value: string }[] | null,
    presentNames: { key: string; value: string }[] | null,
    newNames: { key: string; value: string }[] | null = null,
  ): string {
    const { g, dims } = this;
    const E = dims.nEmbd;
    const H = dims.nHead;
    const D = dims.headDim;
    const P = BACKBONE_PREFIX;

    const seqLen = this.dim(ids, 1);
    const total = this.dim(mask, 1);
    const pastLen = g.op('Sub', [total, seqLen]);
    let positions = positionIds;
    if (!positions) {
      const range = g.op('Range', [
        g.constInt64([0], true),
        this.scalar(seqLen),
        g.constInt64([1], true),
      ]);
      positions = g.op('Unsqueeze', [range, g.constInt64([0])]);
    }
    let x = g.op('Add', [
      g.op('Gather', [this.weight(P + 'wte.weight'), ids], { axis: 0 }),
      g.op('Gather', [this.weight(P + 'wpe.weight'), positions], { axis: 0 }),
    ]);

    // Key j is visible to query i when j <= past + i (causal) and attention_mask[j] is 1.
    const qPos = g.op('Range', [this.scalar(pastLen), this.scalar(total), g.constInt64([1], true)]);
    const kPos = g.op('Range', [
      g.constInt64([0], true),
      this.scalar(total),
      g.constInt64([1], true),
    ]);
    const causal = g.op('LessOrEqual', [
      g.op('Unsqueeze', [kPos, g.constInt64([0])]),
      g.op('Unsqueeze', [qPos, g.constInt64([1])]),
    ]);
    const padding = g.op('Unsqueeze', [g.op('Cast', [mask], { to: 9 }), g.constInt64([1, 2])]);
    const visible = g.op('And', [causal, padding]);
    const minValue = g.constFloat(FLOAT_MIN);
    const headShape = g.constInt64([0, 0, H, D]);
    const mergedShape = g.constInt64([0, 0, E]);

    for (let i = 0; i < dims.nLayer; i++) {
      const p = `${P}h.${i}.`;
      const h = this.layerNorm(x, p + 'ln_1');
      const qkv = this.conv1d(h, p + 'attn.c_attn');
      const [q, k, v] = g.opN('Split', [qkv, g.constInt64([E, E, E])], 3, { axis: -1 });
      const heads = (t: string): string =>
        g.op('Transpose', [g.op('Reshape', [t, headShape])], { perm: [0, 2, 1, 3] });
      let kh = heads(k);
      let vh = heads(v);
      if (newNames) {
        g.node('Identity', [kh], [newNames[i].key]);
        g.node('Identity', [vh], [newNames[i].value]);
      }
      if (past && presentNames) {
        g.node('Concat', [past[i].key, kh], [presentNames[i].key], { axis: 2 });
        g.node('Concat', [past[i].value, vh], [presentNames[i].value], { axis: 2 });
        kh = presentNames[i].key;
        vh = presentNames[i].value;
      }
      let scale = 1;
      if (dims.scaleAttnWeights) scale /= Math.sqrt(D);
      if (dims.scaleByInverseLayerIdx) scale /= i + 1;
      let qh = heads(q);
      if (scale !== 1) qh = g.op('Mul', [qh, g.constFloat(scale)]);
      const scores = g.op('MatMul', [qh, g.op('Transpose', [kh], { perm: [0, 1, 3, 2] })]);
      const probs = g.op('Softmax', [g.op('Where', [visible, scores, minValue])], { axis: -1 });
      const context = g.op('MatMul', [probs, vh]);
      const merged = g.op('Reshape', [
        g.op('Transpose', [context], { perm: [0, 2, 1, 3] }),
        mergedShape,
      ]);
      x = g.op('Add', [x, this.conv1d(merged, p + 'attn.c_proj')]);
      const h2 = this.layerNorm(x, p + 'ln_2');
      const act = this.activation(this.conv1d(h2, p + 'mlp.c_fc'), dims.activation);
      x = g.op('Add', [x, this.conv1d(act, p + 'mlp.c_proj')]);
    }
    return this.layerNorm(x, P + 'ln_f');
  }

  /**
   * lm_head: hidden [..., E] -> logits [..., vocab], written to `outName`; tied to wte unless
   * tie_word_embeddings is false (then `lm_head.weight`, [vocab, E] as nn.Linear stores it).
   */
  lmHead(hidden: string, outName: string): void {
    const { g, dims } = this;
    const wteName = dims.tiedLmHead ? BACKBONE_PREFIX + 'wte.weight' : LM_HEAD;
    if (!this.tensors.has(wteName)) {
      throw new ModelFormatError(
        `weights: tensor ${LM_HEAD} is missing (config.json tie_word_embeddings is false)`,
      );
    }
    if (this.quantize) {
      const wte = this.tensors.get(wteName)!;
      const q = quantizeTransposed(wte.data, dims.vocabSize, dims.nEmbd);
      const logits = this.quantizedMatMul(
        hidden,
        'lm_head.weight',
        [dims.nEmbd, dims.vocabSize],
        q,
        '',
      );
      g.node('Identity', [logits], [outName]);
      return;
    }
    const flat = g.op('Reshape', [hidden, g.constInt64([-1, dims.nEmbd])]);
    const logits = g.op('Gemm', [flat, this.weight(wteName)], { transB: 1 });
    const lead = g.op('Shape', [hidden], { start: 0, end: -1 });
    const shape = g.op('Concat', [lead, g.constInt64([dims.vocabSize])], { axis: 0 });
    g.node('Reshape', [logits, shape], [outName]);
  }

  /** nn.Linear(hidden, out): x @ W^T (+ b). W is stored with HF's [out, in] layout. */
  linear(
    x: string,
    weightName: string,
    weight: WeightTensor,
    biasName?: string,
    bias?: WeightTensor,
  ): string {
    const g = this.g;
    const wT = g.op('Transpose', [this.weight(weightName, weight)], { perm: [1, 0] });
    const y = g.op('MatMul', [x, wT]);
    return biasName && bias ? g.op('Add', [y, this.weight(biasName, bias)]) : y;
  }

  /** Hidden [N,s,E] at index [N] per row -> [N,E]. */
  gatherRows(hidden: string, index: string): string {
    const g = this.g;
    return g.op('GatherND', [hidden, g.op('Reshape', [index, g.constInt64([-1, 1])])], {
      batch_dims: 1,
    });
  }

  /** HF GPT2ForSequenceClassification pooling: last index whose id is not pad (last token without pad). */
  lastNonPad(ids: string, hidden: string, padTokenId: number | null): string {
    const g = this.g;
    if (padTokenId == null) {
      const last = g.op('Sub', [this.dim(ids, 1), g.constInt64([1])]);
      return g.op('Gather', [hidden, this.scalar(last)], { axis: 1 });
    }
    const notPad = g.op('Cast', [g.op('Not', [g.op('Equal', [ids, g.constInt64([padTokenId])])])], {
      to: 1,
    });
    const range = g.op('Range', [
      g.constInt64([0], true),
      this.scalar(this.dim(ids, 1)),
      g.constInt64([1], true),
    ]);
    const weighted = g.op('Mul', [notPad, g.op('Cast', [range], { to: 1 })]);
    const index = g.op('ArgMax', [weighted], { axis: 1, keepdims: 1 });
    return this.gatherRows(hidden, index);
  }
}

function headTensor(weights: Weights | undefined, name: string, owner: string): WeightTensor {
  const t = weights?.get(name);
  if (!t) throw new ModelFormatError(`weights: tensor ${name} is missing (needed by ${owner})`);
  return t;
}

function checkLinear(
  name: string,
  weight: WeightTensor,
  bias: WeightTensor | undefined,
  outFeatures: number | null,
  inFeatures: number,
  why: string,
): number {
  const out = outFeatures ?? weight.shape[0];
  expectShape(`${name}.weight`, weight, [out, inFeatures], why);
  if (bias) expectShape(`${name}.bias`, bias, [out], why);
  return out;
}

const BATCH: Dim = 'batch_size';
const SEQ: Dim = 'sequence_length';

/** Builds the ONNX model (serialised ModelProto bytes). See the comment at the top of this file. */
export function buildGpt2Graph(
  config: Gpt2Config,
  weights: Weights,
  options: BuildOptions = {},
): Uint8Array {
  return gpt2Graph(config, weights, options).toBytes();
}

/**
 * Builds the ONNX model straight into `file` (whole or not at all): the same bytes as
 * buildGpt2Graph, but the weights are not copied into one buffer on the way. With weights opened
 * lazily (readCheckpointWeights), a quantized graph never holds the float32 backbone.
 */
export function writeGpt2Graph(
  file: string,
  config: Gpt2Config,
  weights: Weights,
  options: BuildOptions = {},
): void {
  gpt2Graph(config, weights, options).writeTo(file);
}

function gpt2Graph(config: Gpt2Config, weights: Weights, options: BuildOptions): GraphBuilder {
  const dims = readGpt2Dims(config);
  const tensors = backboneTensors(dims, weights);
  const lmHead = weights.get(LM_HEAD);
  if (!dims.tiedLmHead && lmHead) {
    tensors.set(
      LM_HEAD,
      expectShape(LM_HEAD, lmHead, [dims.vocabSize, dims.nEmbd], 'untied: [vocab_size, n_embd]'),
    );
  }
  const w = new Gpt2GraphWriter(dims, tensors, options.quantize ?? false);
  const g = w.g;
  const E = dims.nEmbd;

  if (options.heads) {
    if (options.heads.length === 0 && !options.hiddenStates)
      throw new Error('buildGpt2Graph: no heads given');
    const ids = g.input('input_ids', 'int64', [BATCH, SEQ]);
    const mask = g.input('attention_mask', 'int64', [BATCH, SEQ]);
    const hidden = w.backbone(ids, mask, null, null, null);
    if (options.hiddenStates) {
      g.node('Identity', [hidden], ['last_hidden_state']);
      g.output('last_hidden_state', 'float', [BATCH, SEQ, E]);
    }
    const seen = new Set<string>();
    for (const head of options.heads) {
      if (seen.has(head.name))
        throw new Error(`buildGpt2Graph: two heads are named "${head.name}"`);
      seen.add(head.name);
      addHead(w, head, ids, hidden, dims);
    }
    return g;
  }

  const architecture = options.architecture ?? architectureOf(config);
  const own = (kind: HeadKind): HeadSpec => ({
    name: '',
    kind,
    weights,
    padTokenId: dims.padTokenId,
  });
  switch (architecture) {
    case 'GPT2Model': {
      const ids = g.input('input_ids', 'int64', [BATCH, SEQ]);
      const mask = g.input('attention_mask', 'int64', [BATCH, SEQ]);
      const pos = g.input('position_ids', 'int64', [BATCH, SEQ]);
      g.node('Identity', [w.backbone(ids, mask, pos, null, null)], ['last_hidden_state']);
      g.output('last_hidden_state', 'float', [BATCH, SEQ, E]);
      break;
    }
    case 'GPT2LMHeadModel':
      buildCausalLm(w, options.numLogitsToKeep ?? true, options.newKeyValues ?? true);
      break;
    case 'GPT2ForTokenClassification':
      buildPlainHead(w, own('token-classification'));
      break;
    case 'GPT2ForSequenceClassification':
      buildPlainHead(w, own('sequence-classification'));
      break;
    case 'GPT2ForQuestionAnswering':
      buildPlainHead(w, own('question-answering'));
      break;
    case 'GPT2DoubleHeadsModel':
      buildDoubleHeads(w, config, weights);
      break;
  }
  return g;
}

function buildPlainHead(w: Gpt2GraphWriter, head: HeadSpec): void {
  const g = w.g;
  const ids = g.input('input_ids', 'int64', [BATCH, SEQ]);
  const mask = g.input('attention_mask', 'int64', [BATCH, SEQ]);
  addHead(w, head, ids, w.backbone(ids, mask, null, null, null), w.dims);
}

/** Adds one head's outputs, named `<name>.<output>` (or just `<output>` when name is ''). */
function addHead(
  w: Gpt2GraphWriter,
  head: HeadSpec,
  ids: string,
  hidden: string,
  dims: Gpt2Dims,
): void {
  const g = w.g;
  const out = (o: string): string => (head.name ? `${head.name}.${o}` : o);
  const stored = (n: string): string => (head.name ? `${head.name}.${n}` : n);
  const owner = head.name ? `head "${head.name}" (${head.kind})` : head.kind;
  switch (head.kind) {
    case 'causal-lm':
      w.lmHead(hidden, out('logits'));
      g.output(out('logits'), 'float', [BATCH, SEQ, dims.vocabSize]);
      return;
    case 'token-classification': {
      const weight = headTensor(head.weights, 'classifier.weight', owner);
      const bias = headTensor(head.weights, 'classifier.bias', owner);
      const labels = checkLinear(
        'classifier',
        weight,
        bias,
        null,
        dims.nEmbd,
        `n_embd ${dims.nEmbd}`,
      );
      const logits = w.linear(
        hidden,
        stored('classifier.weight'),
        weight,
        stored('classifier.bias'),
        bias,
      );
      g.node('Identity', [logits], [out('logits')]);
      g.output(out('logits'), 'float', [BATCH, SEQ, labels]);
      return;
    }
    case 'sequence-classification': {
      const weight = headTensor(head.weights, 'score.weight', owner);
      const bias = head.weights?.get('score.bias');
      const labels = checkLinear('score', weight, bias, null, dims.nEmbd, `n_embd ${dims.nEmbd}`);
      const pooled = w.lastNonPad(
        ids,
        hidden,
        head.padTokenId === undefined ? dims.padTokenId : head.padTokenId,
      );
      const logits = w.linear(pooled, stored('score.weight'), weight, stored('score.bias'), bias);
      g.node('Identity', [logits], [out('logits')]);
      g.output(out('logits'), 'float', [BATCH, labels]);
      return;
    }
    case 'question-answering': {
      const weight = headTensor(head.weights, 'qa_outputs.weight', owner);
      const bias = headTensor(head.weights, 'qa_outputs.bias', owner);
      checkLinear('qa_outputs', weight, bias, 2, dims.nEmbd, 'Linear(n_embd, 2)');
      const logits = w.linear(
        hidden,
        stored('qa_outputs.weight'),
        weight,
        stored('qa_outputs.bias'),
        bias,
      );
      const [start, end] = g.opN('Split', [logits, g.constInt64([1, 1])], 2, { axis: -1 });
      g.node('Squeeze', [start, g.constInt64([-1])], [out('start_logits')]);
      g.node('Squeeze', [end, g.constInt64([-1])], [out('end_logits')]);
      g.output(out('start_logits'), 'float', [BATCH, SEQ]);
      g.output(out('end_logits'), 'float', [BATCH, SEQ]);
      return;
    }
  }
}

function buildCausalLm(
  w: Gpt2GraphWriter,
  withNumLogitsToKeep: boolean,
  withNewKeyValues: boolean,
): void {
  const { g, dims } = w;
  const H = dims.nHead;
  const D = dims.headDim;
  const PAST = 'past_sequence_length';
  const TOTAL = 'past_sequence_length + sequence_length';
  const ids = g.input('input_ids', 'int64', [BATCH, SEQ]);
  const mask = g.input('attention_mask', 'int64', [BATCH, TOTAL]);
  const pos = g.input('position_ids', 'int64', [BATCH, SEQ]);
  const past: { key: string; value: string }[] = [];
  const present: { key: string; value: string }[] = [];
  const added: { key: string; value: string }[] = [];
  for (let i = 0; i < dims.nLayer; i++) {
    added.push({ key: `new_key_values.${i}.key`, value: `new_key_values.${i}.value` });
    past.push({
      key: g.input(`past_key_values.${i}.key`, 'float', [BATCH, H, PAST, D]),
      value: g.input(`past_key_values.${i}.value`, 'float', [BATCH, H, PAST, D]),
    });
    present.push({ key: `present.${i}.key`, value: `present.${i}.value` });
  }
  const keep = withNumLogitsToKeep ? g.input('num_logits_to_keep', 'int64', []) : null;
  let hidden = w.backbone(ids, mask, pos, past, present, withNewKeyValues ? added : null);
  if (keep) {
    // HF: hidden_states[:, -num_logits_to_keep:]; 0 keeps every position (-0 == 0).
    const start = g.op('Neg', [g.op('Unsqueeze', [keep, g.constInt64([0])])]);
    hidden = g.op('Slice', [hidden, start, g.constInt64([INT64_MAX_SAFE]), g.constInt64([1])]);
  }
  w.lmHead(hidden, 'logits');
  g.output('logits', 'float', [BATCH, keep ? 'logits_length' : SEQ, dims.vocabSize]);
  for (const p of present) {
    g.output(p.key, 'float', [BATCH, H, TOTAL, D]);
    g.output(p.value, 'float', [BATCH, H, TOTAL, D]);
  }
  for (const a of withNewKeyValues ? added : []) {
    g.output(a.key, 'float', [BATCH, H, SEQ, D]);
    g.output(a.value, 'float', [BATCH, H, SEQ, D]);
  }
}

/** HF SequenceSummary as configured by summary_* (dropouts are inactive at inference). */
function buildDoubleHeads(w: Gpt2GraphWriter, config: Gpt2Config, weights: Weights): void {
  const { g, dims } = w;
  const CHOICES = 'num_choices';
  const ids3 = g.input('input_ids', 'int64', [BATCH, CHOICES, SEQ]);
  const mask3 = g.input('attention_mask', 'int64', [BATCH, CHOICES, SEQ]);
  const summaryType = config.summary_type ?? 'cls_index';
  // transformers' GPT2DoubleHeadsModel gives one logit per choice only with cls_index: its
  // SequenceSummary reads "first", "last" and "mean" on the [batch, choices, seq, hidden] tensor
  // along the choices axis, not the tokens (one logit per position). Refused rather than guessed.
  if (summaryType !== 'cls_index') {
    throw new ModelFormatError(
      `config.json: summary_type "${summaryType}" is not supported (supported: cls_index; ` +
        'transformers does not give one score per choice with the others)',
    );
  }
  const mcIds = g.input('mc_token_ids', 'int64', [BATCH, CHOICES]);

  const flatShape = g.op('Concat', [g.constInt64([-1]), g.op('Shape', [ids3], { start: 2 })], {
    axis: 0,
  });
  const ids = g.op('Reshape', [ids3, flatShape]);
  const mask = g.op('Reshape', [mask3, flatShape]);
  const hidden = w.backbone(ids, mask, null, null, null);

  const logitsFlat = g.fresh('lm_logits');
  w.lmHead(hidden, logitsFlat);
  const logitsShape = g.op('Concat', [g.op('Shape', [ids3]), g.constInt64([dims.vocabSize])], {
    axis: 0,
  });
  g.node('Reshape', [logitsFlat, logitsShape], ['logits']);
  g.output('logits', 'float', [BATCH, CHOICES, SEQ, dims.vocabSize]);

  let summary = w.gatherRows(hidden, mcIds);
  let classes = dims.nEmbd;
  if (config.summary_use_proj ?? true) {
    const weight = headTensor(
      weights,
      'multiple_choice_head.summary.weight',
      'GPT2DoubleHeadsModel',
    );
    const bias = headTensor(weights, 'multiple_choice_head.summary.bias', 'GPT2DoubleHeadsModel');
    const wanted =
      (config.summary_proj_to_labels ?? true) && dims.numLabels > 0 ? dims.numLabels : dims.nEmbd;
    classes = checkLinear(
      'multiple_choice_head.summary',
      weight,
      bias,
      wanted,
      dims.nEmbd,
      'summary_proj_to_labels',
    );
    summary = w.linear(
      summary,
      'multiple_choice_head.summary.weight',
      weight,
      'multiple_choice_head.summary.bias',
      bias,
    );
  }
  const activation = config.summary_activation;
  if (activation) {
    // transformers' SequenceSummary applies any activation by name (get_activation).
    if (!SUPPORTED_ACTIVATIONS.includes(activation)) {
      throw new ModelFormatError(
        `config.json: summary_activation "${activation}" is not supported (supported: ${SUPPORTED_ACTIVATIONS.join(', ')})`,
      );
    }
    summary = w.activation(summary, activation);
  }
  // HF squeezes the last axis: one logit per choice when the projection has one output.
  const outShape =
    classes === 1
      ? g.op('Shape', [ids3], { start: 0, end: 2 })
      : g.op('Concat', [g.op('Shape', [ids3], { start: 0, end: 2 }), g.constInt64([classes])], {
          axis: 0,
        });
  g.node('Reshape', [summary, outShape], ['mc_logits']);
  g.output('mc_logits', 'float', classes === 1 ? [BATCH, CHOICES] : [BATCH, CHOICES, classes]);
}
