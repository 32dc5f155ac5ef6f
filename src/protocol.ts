// Every message between the extension (client) and the model host (server), declared once.
// Both sides import this file; neither writes a method name inline.
import {
  NotificationType,
  type PartialResultParams,
  ProgressType,
  ProtocolRequestType,
  RequestType,
  RequestType0,
} from 'vscode-languageserver-protocol';

/** The heads a user can point at a model, one setting each (`gpt2Heads.<role>.model`). */
export const headRoles = ['lm', 'ner', 'pos', 'classification', 'qa', 'multipleChoice'] as const;
export type HeadRole = (typeof headRoles)[number];

export type Dtype = 'auto' | 'fp32' | 'q8';

/** What the host needs to know of the user's settings; sent on start and on every change. */
export interface HostSettings {
  /** Model source per head: a local folder or a Hugging Face Hub id; '' = not configured. */
  models: Record<HeadRole, string>;
  /** Never touch the network: Hub ids must already be in the cache. */
  offline: boolean;
  /** Where downloads and converted (safetensors → ONNX) models are cached. */
  cacheDir: string;
  dtype: Dtype;
  /** onnxruntime intra-op threads; 0 = automatic. */
  threads: number;
}

export type ModelState = 'loading' | 'ready' | 'error';

export interface ModelInfo {
  source: string;
  roles: HeadRole[];
  state: ModelState;
  architecture?: string;
  /** 'onnx' for an ONNX export, 'safetensors' for a checkpoint the host converted. */
  format?: 'onnx' | 'safetensors';
  dtype?: 'fp32' | 'q8';
  labels?: string[];
  contextLength?: number;
  parameterCount?: number;
  fileBytes?: number;
  loadMs?: number;
  folder?: string;
  /** Runs in one graph with the other heads whose checkpoints share its backbone. */
  sharedBackbone?: boolean;
  error?: string;
}

export interface HostStatus {
  models: ModelInfo[];
  pid: number;
  rssBytes: number;
  uptimeMs: number;
}

/** Options of Hugging Face's generate(); unset ones come from the model's generation_config.json. */
export interface GenerationOptions {
  max_new_tokens?: number;
  do_sample?: boolean;
  temperature?: number;
  top_k?: number;
  top_p?: number;
  repetition_penalty?: number;
  /** Stop once the generated text contains one of these strings (HF's stop_strings). */
  stop_strings?: string[];
  /** Seed for reproducible sampling. */
  seed?: number;
}

export interface GenerateParams extends PartialResultParams {
  prompt: string;
  options: GenerationOptions;
  /** Reuse the KV cache of the previous request's longest common token prefix. */
  reuseCache?: boolean;
}

export type FinishReason = 'length' | 'eos' | 'stop_string' | 'context_full' | 'cancelled';

export interface GenerateResult {
  /** Prompt followed by the new text, as HF's text-generation pipeline returns it. */
  generated_text: string;
  new_text: string;
  new_token_ids: number[];
  finish_reason: FinishReason;
  /** Prompt tokens whose keys and values came from the cache rather than a forward pass. */
  reused_tokens: number;
  prompt_tokens: number;
}

/** Streamed pieces of the new text, sent as partial results of a generate request. */
export interface GenerateChunk {
  text: string;
}
export const generateChunk = new ProgressType<GenerateChunk>();

/** A model file is being fetched or a model is being loaded or converted. */
export interface LoadProgress {
  source: string;
  message: string;
  /** 0–100 when known. */
  percent?: number;
  done?: boolean;
}

export interface ModelFailure {
  source: string;
  roles: HeadRole[];
  message: string;
}

import type { AggregationStrategy } from './heads/tokenClassification';
export type { AggregationStrategy };
export type TaggingRole = 'ner' | 'pos';

export interface TagParams {
  role: TaggingRole;
  /** The document, to key the host's window cache; the text itself is sent whole. */
  uri: string;
  text: string;
  aggregation_strategy: AggregationStrategy;
  ignore_labels?: string[];
  /** Left-context tokens per window (the editor's counterpart of HF's stride). */
  context?: number;
}

/** One entity (or token, for aggregation "none"), with UTF-16 offsets into the text. */
export interface TaggedSpan {
  label: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

export interface TagResult {
  spans: TaggedSpan[];
  model: string;
  windows: number;
  cachedWindows: number;
  tokens: number;
}

export interface LabelScore {
  label: string;
  score: number;
}

export interface ClassifyParams {
  text: string;
  /** One passage (truncated to the model's context, as HF) or the whole document in windows. */
  scope: 'sequence' | 'document';
  function_to_apply?: 'softmax' | 'sigmoid' | 'none';
  aggregation?: 'mean' | 'max';
  /** Classify with the LM instead of a fine-tuned head. */
  zeroShot?: { labels: string[]; template?: string };
}

export interface ClassifyResult {
  /** Every label, best first. */
  labels: LabelScore[];
  model: string;
  windows: number;
  tokens: number;
  zeroShot: boolean;
}

export interface AnswerParams {
  question: string;
  context: string;
  top_k?: number;
  max_answer_len?: number;
  doc_stride?: number;
  handle_impossible_answer?: boolean;
}

/** An answer span with UTF-16 offsets into the context. */
export interface Answer {
  answer: string;
  score: number;
  start: number;
  end: number;
}

export interface AnswerResult {
  answers: Answer[];
  model: string;
}

export interface ChooseParams {
  context: string;
  /** Each option as a continuation of the context (with its leading space). */
  options: string[];
}

export interface ChooseResult {
  /** Options best first, with their index in `options` and probability. */
  ranked: { index: number; choice: string; score: number }[];
  method: 'double-heads' | 'language-model';
  model: string;
}

import type { LabelledFormat } from './text/labelledData';
import type { Evaluation } from './heads/trainingMetrics';
export type { LabelledFormat, Evaluation };

export type TrainingTask = 'token-classification' | 'text-classification';

/** Train a linear head on a frozen backbone and save it as a Hugging Face model folder. */
export interface TrainParams extends PartialResultParams {
  task: TrainingTask;
  /** The backbone: a local GPT-2 folder or a Hugging Face Hub id. */
  model: string;
  /** Labelled data files (absolute paths). */
  train: string;
  /** Without it, a seeded 10% of the training examples is held out. */
  validation?: string;
  format?: LabelledFormat;
  /** CoNLL-U: upos (default) or xpos; JSON Lines and CSV: the field that holds the labels. */
  labelColumn?: string;
  /** Label names, when the data stores label ids. */
  labelNames?: string[];
  /** The folder to create; it must not exist or be empty. */
  out: string;
  epochs?: number;
  seed?: number;
  optimizer?: 'adam' | 'lbfgs';
  learningRate?: number;
  batchSize?: number;
  l2?: number;
  classWeights?: 'none' | 'balanced';
  /** Also return the validation predictions (scripts and tests compare them with the saved head). */
  includePredictions?: boolean;
}

/** Sent as partial results of a train request: what it is doing now. */
export interface TrainProgress {
  phase: 'loading' | 'features' | 'training' | 'saving';
  message: string;
  /** 0–100 of the current phase when known. */
  percent?: number;
  tokensPerSecond?: number;
  etaSeconds?: number;
  epoch?: number;
  epochs?: number;
  loss?: number;
  validationScore?: number;
}
export const trainProgress = new ProgressType<TrainProgress>();

/** training_report.json, written beside the model. */
export interface TrainingReport {
  task: TrainingTask;
  architecture: 'GPT2ForTokenClassification' | 'GPT2ForSequenceClassification';
  backbone: string;
  train_file: string;
  validation_file: string | null;
  /** Fraction of the training examples held out when there was no validation file. */
  validation_split: number | null;
  labels: string[];
  examples: { train: number; validation: number };
  /** Labelled words (token classification) or texts. */
  rows: { train: number; validation: number };
  options: {
    optimizer: 'adam' | 'lbfgs';
    epochs: number;
    learning_rate: number;
    batch_size: number;
    l2: number;
    class_weights: 'none' | 'balanced';
    seed: number;
    patience: number;
  };
  /** The score early stopping maximised: entity_f1 (IOB tags) or accuracy. */
  validation_metric: 'entity_f1' | 'accuracy';
  history: { epoch: number; loss: number; validation_score: number }[];
  best_epoch: number;
  validation: Evaluation;
  baseline: { label: string; validation: Evaluation };
  timing: {
    feature_seconds: number;
    features_cached: boolean;
    tokens: number;
    tokens_per_second: number;
    training_seconds: number;
  };
}

export interface TrainResult {
  folder: string;
  report: TrainingReport;
  /** With includePredictions: the predicted label of each validation word or text, by example. */
  validationPredictions?: string[][];
}

export const methods = {
  /** client → host: the settings changed (also sent right after start). */
  configure: new NotificationType<HostSettings>('gpt2Heads/configure'),
  /** client → host: every loaded model with its facts, for "Show Model Status". */
  status: new RequestType0<HostStatus, void>('gpt2Heads/status'),
  /** client → host: the LM continues a prompt. Streams GenerateChunk partial results. */
  generate: new ProtocolRequestType<GenerateParams, GenerateResult, GenerateChunk, void, void>(
    'gpt2Heads/generate',
  ),
  /** client → host: entities (NER) or tags (POS) of a whole document. */
  tag: new RequestType<TagParams, TagResult, void>('gpt2Heads/tag'),
  /** client → host: labels of a passage or a whole document (fine-tuned head or zero-shot). */
  classify: new RequestType<ClassifyParams, ClassifyResult, void>('gpt2Heads/classify'),
  /** client → host: extractive answers to a question over a context. */
  answer: new RequestType<AnswerParams, AnswerResult, void>('gpt2Heads/answer'),
  /** client → host: the probability of each option of a multiple-choice question. */
  choose: new RequestType<ChooseParams, ChooseResult, void>('gpt2Heads/choose'),
  /** host → client: download / conversion / load progress, for a progress notification. */
  loadProgress: new NotificationType<LoadProgress>('gpt2Heads/loadProgress'),
  /** host → client: a model failed to load, with a message the user can act on. */
  modelFailed: new NotificationType<ModelFailure>('gpt2Heads/modelFailed'),
  /** client → host: stop loading or downloading this source. */
  cancelLoad: new NotificationType<{ source: string }>('gpt2Heads/cancelLoad'),
  /** client → host: train a head on labelled data and save it. Streams TrainProgress. */
  train: new ProtocolRequestType<TrainParams, TrainResult, TrainProgress, void, void>(
    'gpt2Heads/train',
  ),
};

/** Error codes the host puts on failed requests, so the client can offer the right action. */
export const errorCodes = {
  modelNotConfigured: 1001,
  modelLoadFailed: 1002,
  offlineMissingModel: 1003,
  badInput: 1004,
  cancelled: -32800,
} as const;
