/**
 * Random GPT-2 model folders for tests and benchmarks: config.json, tokenizer files,
 * generation_config.json (LM and double heads), onnx/model.onnx (+ model_quantized.onnx for q8)
 * and optionally model.safetensors in Hugging Face's layout (so the conversion path can be tested).
 *
 * Weights are seeded: the same options give the same files. Hugging Face's init (std 0.02, zero
 * biases, unit LayerNorms) hides masking and position bugs (ENVIRONMENT.md), so biases and
 * LayerNorm parameters are random too and `std` is configurable (tests use 0.5).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WeightDtype } from '../../protocol';
import {
  ARCHITECTURES,
  writeGpt2Config,
  type Gpt2Architecture,
  type Gpt2Config,
} from './gpt2Config';
import type { Weights } from './gpt2Graph';
import { writeOnnxModels } from './checkpoint';
import { writeSafetensors, type SafetensorsDtype } from './safetensors';
import { writeTorchCheckpoint } from './torchWriter';
import { writeGpt2TokenizerFiles } from './tokenizerFiles';

export type ModelSize = 'tiny' | 'small' | 'full';

export interface MakeModelOptions {
  architecture: Gpt2Architecture;
  size: ModelSize;
  seed: number;
  outDir: string;
  /** id2label in order (token/sequence classification; defaults: CoNLL NER tags / NEGATIVE, POSITIVE). */
  labels?: string[];
  /** Std of the weight matrices and embeddings (default 0.02, HF's initializer_range). */
  std?: number;
  /** Std of biases and of the LayerNorm parameters around 0 / 1 (default 0.1). */
  biasStd?: number;
  /** 'q8' also writes onnx/model_quantized.onnx. */
  dtype?: WeightDtype;
  /** Also write model.safetensors (HF layout) next to config.json. */
  safetensors?: boolean;
  /** Also write pytorch_model.bin (torch's zip format) with weights stored in this precision. */
  pytorch?: SafetensorsDtype;
  /** Overrides of config.json fields (activation_function, n_inner, pad_token_id...). */
  config?: Partial<Gpt2Config>;
}

export interface MadeModel {
  config: Gpt2Config;
  /** The checkpoint's weights with HF names (what model.safetensors holds). */
  weights: Weights;
}

const SIZES: Record<
  ModelSize,
  { n_layer: number; n_embd: number; n_head: number; n_positions: number }
> = {
  tiny: { n_layer: 2, n_embd: 32, n_head: 4, n_positions: 128 },
  small: { n_layer: 4, n_embd: 256, n_head: 4, n_positions: 512 },
  full: { n_layer: 12, n_embd: 768, n_head: 12, n_positions: 1024 },
};

const ENDOFTEXT_ID = 50256;
const NER_LABELS = ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG', 'B-LOC', 'I-LOC', 'B-MISC', 'I-MISC'];

/** mulberry32 uniform [0, 1) with Box-Muller normals; deterministic for a seed. */
export class SeededRandom {
  private state: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  uniform(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const u = 1 - this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  fill(count: number, mean: number, std: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = mean + std * this.normal();
    return out;
  }
}

function defaultLabels(architecture: Gpt2Architecture): string[] {
  switch (architecture) {
    case 'GPT2ForTokenClassification':
      return NER_LABELS;
    case 'GPT2ForSequenceClassification':
      return ['NEGATIVE', 'POSITIVE'];
    case 'GPT2DoubleHeadsModel':
      return ['LABEL_0'];
    default:
      return ['LABEL_0', 'LABEL_1'];
  }
}

/** config.json as transformers' GPT2Config.save_pretrained writes it. */
export function makeConfig(
  architecture: Gpt2Architecture,
  size: ModelSize,
  labels: string[],
  overrides: Partial<Gpt2Config> = {},
): Gpt2Config {
  const id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
  const label2id = Object.fromEntries(labels.map((l, i) => [l, i]));
  return {
    activation_function: 'gelu_new',
    architectures: [architecture],
    attn_pdrop: 0.1,
    bos_token_id: ENDOFTEXT_ID,
    embd_pdrop: 0.1,
    eos_token_id: ENDOFTEXT_ID,
    id2label,
    initializer_range: 0.02,
    label2id,
    layer_norm_epsilon: 1e-5,
    model_type: 'gpt2',
    ...SIZES[size],
    n_inner: null,
    pad_token_id: ENDOFTEXT_ID,
    reorder_and_upcast_attn: false,
    resid_pdrop: 0.1,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: 'cls_index',
    summary_use_proj: true,
    tie_word_embeddings: true,
    use_cache: true,
    vocab_size: 50257,
    ...overrides,
  };
}

/** Adds a tensor of normal values (mean, std) drawn from `rng` to `weights`. */
function randomPut(weights: Weights, rng: SeededRandom) {
  return (name: string, shape: number[], mean: number, std: number): void => {
    weights.set(name, {
      shape,
      data: rng.fill(
        shape.reduce((a, b) => a * b, 1),
        mean,
        std,
      ),
    });
  };
}

/** Random weights for `config` with HF's names and layouts (Conv1D [in, out], nn.Linear [out, in]). */
export function randomWeights(
  config: Gpt2Config,
  seed: number,
  std = 0.02,
  biasStd = 0.1,
): Weights {
  const rng = new SeededRandom(seed);
  const E = config.n_embd!;
  const L = config.n_layer!;
  const inner = config.n_inner ?? 4 * E;
  const weights: Weights = new Map();
  const put = randomPut(weights, rng);
  put('transformer.wte.weight', [config.vocab_size!, E], 0, std);
  put('transformer.wpe.weight', [config.n_positions!, E], 0, std);
  // HF scales the residual projections by 1/sqrt(2 * n_layer).
  const projStd = std / Math.sqrt(2 * L);
  for (let i = 0; i < L; i++) {
    const p = `transformer.h.${i}.`;
    put(p + 'ln_1.weight', [E], 1, biasStd);
    put(p + 'ln_1.bias', [E], 0, biasStd);
    put(p + 'attn.c_attn.weight', [E, 3 * E], 0, std);
    put(p + 'attn.c_attn.bias', [3 * E], 0, biasStd);
    put(p + 'attn.c_proj.weight', [E, E], 0, projStd);
    put(p + 'attn.c_proj.bias', [E], 0, biasStd);
    put(p + 'ln_2.weight', [E], 1, biasStd);
    put(p + 'ln_2.bias', [E], 0, biasStd);
    put(p + 'mlp.c_fc.weight', [E, inner], 0, std);
    put(p + 'mlp.c_fc.bias', [inner], 0, biasStd);
    put(p + 'mlp.c_proj.weight', [inner, E], 0, projStd);
    put(p + 'mlp.c_proj.bias', [E], 0, biasStd);
  }
  put('transformer.ln_f.weight', [E], 1, biasStd);
  put('transformer.ln_f.bias', [E], 0, biasStd);
  for (const [name, tensor] of randomHeadWeights(config, rng, std, biasStd))
    weights.set(name, tensor);
  return weights;
}

/** The head's weights for `config`'s architecture (none for GPT2Model and the tied LM head). */
function randomHeadWeights(
  config: Gpt2Config,
  rng: SeededRandom,
  std: number,
  biasStd: number,
): Weights {
  const E = config.n_embd!;
  const weights: Weights = new Map();
  const put = randomPut(weights, rng);
  const labels = Object.keys(config.id2label ?? {}).length;
  switch (config.architectures?.[0]) {
    case 'GPT2ForTokenClassification':
      put('classifier.weight', [labels, E], 0, std);
      put('classifier.bias', [labels], 0, biasStd);
      break;
    case 'GPT2ForSequenceClassification':
      put('score.weight', [labels, E], 0, std);
      break;
    case 'GPT2ForQuestionAnswering':
      put('qa_outputs.weight', [2, E], 0, std);
      put('qa_outputs.bias', [2], 0, biasStd);
      break;
    case 'GPT2DoubleHeadsModel':
      put('multiple_choice_head.summary.weight', [labels, E], 0, std);
      put('multiple_choice_head.summary.bias', [labels], 0, biasStd);
      break;
  }
  return weights;
}

/** config.json, the tokenizer files and, for generating heads, generation_config.json. */
function writeFolderFiles(dir: string, config: Gpt2Config): void {
  writeGpt2Config(dir, config);
  writeGpt2TokenizerFiles(dir, { modelMaxLength: config.n_positions! });
  const architecture = config.architectures?.[0];
  if (architecture === 'GPT2LMHeadModel' || architecture === 'GPT2DoubleHeadsModel') {
    const generation = {
      bos_token_id: ENDOFTEXT_ID,
      eos_token_id: ENDOFTEXT_ID,
      pad_token_id: ENDOFTEXT_ID,
    };
    fs.writeFileSync(
      path.join(dir, 'generation_config.json'),
      JSON.stringify(generation, null, 2) + '\n',
    );
  }
}

/** Writes a complete random model folder (see the top of this file) and returns its config and weights. */
export function makeRandomModel(options: MakeModelOptions): MadeModel {
  if (!ARCHITECTURES.includes(options.architecture)) {
    throw new Error(`makeRandomModel: unknown architecture ${options.architecture}`);
  }
  const labels = options.labels ?? defaultLabels(options.architecture);
  const config = makeConfig(options.architecture, options.size, labels, options.config);
  const weights = randomWeights(config, options.seed, options.std, options.biasStd);
  const dir = options.outDir;
  fs.mkdirSync(dir, { recursive: true });
  writeFolderFiles(dir, config);
  if (options.safetensors)
    writeSafetensors(path.join(dir, 'model.safetensors'), weights, { format: 'pt' });
  if (options.pytorch)
    writeTorchCheckpoint(path.join(dir, 'pytorch_model.bin'), weights, options.pytorch);
  writeOnnxModels(dir, config, weights, options.dtype ?? 'fp32');
  return { config, weights };
}

export interface HeadOnBackbone {
  /** The head's folder name under `outDir`. */
  name: string;
  architecture: Gpt2Architecture;
  labels?: string[];
}

/** The shard every head folder holds: the backbone, the same file in each (hard links). */
const BACKBONE_SHARD = 'model-00001-of-00002.safetensors';
const HEAD_SHARD = 'model-00002-of-00002.safetensors';

/**
 * Heads trained on one frozen GPT-2, as PyTorch checkpoints in Hugging Face's sharded layout: one
 * folder per head whose first shard holds the backbone and is the same file in every folder (a
 * hard link, so it is on disk once; a copy where the file system has no links), the second shard
 * holds the head. Heads without weights of their own (the tied LM head) get the backbone as
 * model.safetensors. The host finds the common backbone and runs the heads as one graph.
 * Returns the folder of each head by name.
 */
export function makeHeadsOnOneBackbone(options: {
  size: ModelSize;
  seed: number;
  outDir: string;
  heads: HeadOnBackbone[];
  std?: number;
  biasStd?: number;
}): Record<string, string> {
  const std = options.std ?? 0.02;
  const biasStd = options.biasStd ?? 0.1;
  fs.mkdirSync(options.outDir, { recursive: true });
  const backboneFile = path.join(options.outDir, 'backbone.safetensors');
  const backbone = randomWeights(
    makeConfig('GPT2Model', options.size, ['LABEL_0', 'LABEL_1']),
    options.seed,
    std,
    biasStd,
  );
  writeSafetensors(backboneFile, backbone, { format: 'pt' });
  const totalBackboneBytes = [...backbone.values()].reduce((n, t) => n + t.data.byteLength, 0);
  const folders: Record<string, string> = {};
  options.heads.forEach((head, index) => {
    const dir = path.join(options.outDir, head.name);
    fs.rmSync(dir, { recursive: true, force: true });
    fs.mkdirSync(dir, { recursive: true });
    const labels = head.labels ?? defaultLabels(head.architecture);
    const config = makeConfig(head.architecture, options.size, labels);
    writeFolderFiles(dir, config);
    const headWeights = randomHeadWeights(
      config,
      new SeededRandom(options.seed + 1 + index),
      std,
      biasStd,
    );
    if (headWeights.size === 0) {
      linkOrCopy(backboneFile, path.join(dir, 'model.safetensors'));
    } else {
      linkOrCopy(backboneFile, path.join(dir, BACKBONE_SHARD));
      writeSafetensors(path.join(dir, HEAD_SHARD), headWeights, { format: 'pt' });
      const weightMap: Record<string, string> = {};
      for (const name of [...backbone.keys()].sort()) weightMap[name] = BACKBONE_SHARD;
      for (const name of [...headWeights.keys()].sort()) weightMap[name] = HEAD_SHARD;
      const headBytes = [...headWeights.values()].reduce((n, t) => n + t.data.byteLength, 0);
      fs.writeFileSync(
        path.join(dir, 'model.safetensors.index.json'),
        JSON.stringify(
          { metadata: { total_size: totalBackboneBytes + headBytes }, weight_map: weightMap },
          null,
          2,
        ) + '\n',
      );
    }
    folders[head.name] = dir;
  });
  return folders;
}

function linkOrCopy(from: string, to: string): void {
  try {
    fs.linkSync(from, to);
  } catch {
    fs.copyFileSync(from, to);
  }
}
