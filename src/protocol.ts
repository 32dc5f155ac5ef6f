// Every message between the extension (client) and the model host (server), declared once.
// Both sides import this file; neither writes a method name inline.
import {
  NotificationType,
  type PartialResultParams,
  type WorkDoneProgressParams,
  ProgressType,
  ProtocolRequestType,
  RequestType,
  RequestType0,
  type VersionedTextDocumentIdentifier,
} from 'vscode-languageserver-protocol';

interface TaskRow {
  /** Hugging Face's pipeline task name. */
  hfTask: string;
  /** The transformers class whose checkpoints this head loads. */
  architecture: string;
  /** How the user sees the head: status, pickers, messages. */
  title: string;
  /** The setting that names its model. */
  setting: `gpt2Heads.${string}.model`;
  /** The graph outputs the head reads. */
  outputs: readonly string[];
  /** The head whose model does this task when this head has none (zero-shot, option scoring). */
  fallback?: 'lm';
}

/**
 * The heads a user can point at a model, one row each: the only place a head is named.
 * Everything else (settings, pickers, messages, HostSettings.models) is built from this table.
 */
export const taskTable = {
  lm: {
    hfTask: 'text-generation',
    architecture: 'GPT2LMHeadModel',
    title: 'Language model',
    setting: 'gpt2Heads.lm.model',
    outputs: ['logits'],
  },
  ner: {
    hfTask: 'token-classification',
    architecture: 'GPT2ForTokenClassification',
    title: 'Named entities (NER)',
    setting: 'gpt2Heads.ner.model',
    outputs: ['logits'],
  },
  pos: {
    hfTask: 'token-classification',
    architecture: 'GPT2ForTokenClassification',
    title: 'Parts of speech',
    setting: 'gpt2Heads.pos.model',
    outputs: ['logits'],
  },
  classification: {
    hfTask: 'text-classification',
    architecture: 'GPT2ForSequenceClassification',
    title: 'Classification',
    setting: 'gpt2Heads.classification.model',
    outputs: ['logits'],
    fallback: 'lm',
  },
  qa: {
    hfTask: 'question-answering',
    architecture: 'GPT2ForQuestionAnswering',
    title: 'Question answering',
    setting: 'gpt2Heads.qa.model',
    outputs: ['start_logits', 'end_logits'],
  },
  multipleChoice: {
    hfTask: 'multiple-choice',
    architecture: 'GPT2DoubleHeadsModel',
    title: 'Multiple choice',
    setting: 'gpt2Heads.multipleChoice.model',
    outputs: ['logits', 'mc_logits'],
    fallback: 'lm',
  },
} as const satisfies Record<string, TaskRow>;

export type HeadRole = keyof typeof taskTable;
export const headRoles = Object.keys(taskTable) as HeadRole[];

export function isHeadRole(value: unknown): value is HeadRole {
  return typeof value === 'string' && Object.hasOwn(taskTable, value);
}

/**
 * The one "fall back to the LM" rule: the head that does `role`'s task, given which heads have a
 * model (`hasModel`). Classification and multiple choice are done by the LM when their own head
 * has none (zero-shot labels, option likelihoods); every other head needs its own model.
 */
export function headFor(role: HeadRole, hasModel: (role: HeadRole) => boolean): HeadRole {
  const row: TaskRow = taskTable[role];
  return !hasModel(role) && row.fallback ? row.fallback : role;
}

/** HostSettings.models from one source per head ('' = not configured). */
export function modelsFor(source: (role: HeadRole) => string): Record<HeadRole, string> {
  return Object.fromEntries(headRoles.map((role) => [role, source(role)])) as Record<
    HeadRole,
    string
  >;
}

/** Which weights run: full precision, or int8 (onnx/model_quantized.onnx). */
export const weightDtypes = ['fp32', 'q8'] as const;
export type WeightDtype = (typeof weightDtypes)[number];
/** The dtype setting: 'auto' is int8 where the model folder has it, else fp32. */
export type Dtype = 'auto' | WeightDtype;

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
  /** Serving engines that run graphs instead of this machine (absent = everything local). */
  endpoints?: EndpointSettings;
}

/** Where graphs run remotely: see src/host/models/remote/. */
export interface EndpointSettings {
  /** Per role, a model's URL on an Open Inference Protocol server; for lm, an OpenAI base URL. */
  urls: Partial<Record<HeadRole, string>>;
  /** The name the OpenAI-compatible server knows the language model by. */
  lmModel?: string;
  timeoutMs?: number;
  /** Requests in flight per endpoint. */
  concurrency?: number;
  /** Windows per Open Inference request (1 = one window per request). */
  maxBatch?: number;
  /** How errors name the endpoint setting (the CLI says --endpoint). */
  settingName?: string;
}

export type ModelState = 'loading' | 'ready' | 'error';

export interface ModelInfo {
  source: string;
  roles: HeadRole[];
  state: ModelState;
  architecture?: string;
  /** 'onnx' for an ONNX export; 'safetensors' or 'pytorch' (pytorch_model.bin) for a checkpoint the host converted. */
  format?: 'onnx' | 'safetensors' | 'pytorch';
  dtype?: WeightDtype;
  labels?: string[];
  contextLength?: number;
  parameterCount?: number;
  fileBytes?: number;
  loadMs?: number;
  folder?: string;
  /** Runs in one graph with the other heads whose checkpoints share its backbone. */
  sharedBackbone?: boolean;
  /** The serving engine that runs the graph, and whether its health check answered ready. */
  endpoint?: string;
  endpointReady?: boolean;
  error?: string;
}

export interface HostStatus {
  models: ModelInfo[];
  pid: number;
  rssBytes: number;
  uptimeMs: number;
  /** The clients the host serves: 1 for a private host, the connected windows for a shared one. */
  clients: number;
  encodeCache: EncodeCacheStatus;
  /** Idle, and its garbage collected since its last model call (see host/idleGc.ts). */
  atRest: boolean;
}

/** The host's cache of tokenised texts (shared by every client and head with the same tokenizer). */
export interface EncodeCacheStatus {
  entries: number;
  bytes: number;
  maxBytes: number;
  /** Texts tokenised (misses) and found already tokenised (hits) since the host started. */
  hits: number;
  misses: number;
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

/** Work-done progress of tag, classify (document) and answer requests: windows read so far. */
export const windowProgress = new ProgressType<WindowProgress>();

/** A model file is being fetched or a model is being loaded or converted. */
export interface LoadProgress {
  source: string;
  message: string;
  /** 0–100 when known. */
  percent?: number;
  done?: boolean;
}

/** How healthy the host is: rust-analyzer's serverStatus, for the status bar and Show Model Status. */
export interface ServerStatus {
  /** 'error': a configured model failed to load; 'warning': one is loading; 'ok' otherwise. */
  health: 'ok' | 'warning' | 'error';
  /** No request is running and no model is loading. */
  quiescent: boolean;
  /** What the user should know, e.g. which model failed and why; absent when all is well. */
  message?: string;
  /** Every model the host holds or tried to load, with the heads that use it. */
  models: { source: string; roles: HeadRole[]; state: ModelState; error?: string }[];
}

/** Why a request failed, so the client picks its actions from data rather than from prose. */
export type ErrorKind =
  /** The head has no model setting. */
  | 'notConfigured'
  /** The model setting names a local folder that is not there. */
  | 'missingFolder'
  /** The model is not on this machine and gpt2Heads.offline is on. */
  | 'offline'
  /** A download failed: the network is unreachable. */
  | 'network'
  /** The model is there but could not be loaded or run (damaged, wrong architecture…). */
  | 'loadFailed'
  /** The request itself cannot be answered (empty text, fewer than two options…). */
  | 'badInput'
  /** The document changed after the request was made: its answer would be outdated. */
  | 'contentModified'
  /** The request names a document (version) the client never sent to the host. */
  | 'documentNotSynced'
  | 'cancelled'
  /** The host process went away while the request ran (set by the client). */
  | 'hostStopped'
  /** A failure the host did not expect; its log has the stack. */
  | 'internal';

/** `ResponseError.data` of every failed request. */
export interface ErrorData {
  kind: ErrorKind;
  /** The setting that fixes it, e.g. "gpt2Heads.ner.model" or "gpt2Heads.offline". */
  setting?: string;
  /** The model source (folder or Hub id) the error is about. */
  model?: string;
  /** The head whose request failed. */
  role?: HeadRole;
}

/** Windows done out of all the windows of a long request, sent as its work-done progress. */
export interface WindowProgress {
  done: number;
  total: number;
}

import type { AggregationStrategy } from './heads/tokenClassification';
export type { AggregationStrategy };
/** The heads that tag tokens (NER, POS): the table's token-classification rows. */
export type TaggingRole = {
  [R in HeadRole]: (typeof taskTable)[R]['hfTask'] extends 'token-classification' ? R : never;
}[HeadRole];
export const taggingRoles = headRoles.filter(
  (role) => taskTable[role].hfTask === 'token-classification',
) as TaggingRole[];

/**
 * The text a request reads: sent with it (the CLI, tests, the benchmark), or named as a document
 * the client synchronised with LSP's didOpen/didChange, at the version it was when asked.
 */
export type TextOrDocument =
  | { text: string; textDocument?: undefined }
  | { textDocument: VersionedTextDocumentIdentifier; text?: undefined };

export type TagParams = TextOrDocument & TagOptions;

export interface TagOptions extends WorkDoneProgressParams, PartialResultParams {
  role: TaggingRole;
  aggregation_strategy: AggregationStrategy;
  ignore_labels?: string[];
  /** Left-context tokens per window (the editor's counterpart of HF's stride). */
  leftContextTokens?: number;
  /** What the editor shows: the windows covering these run first, each sent when done. */
  visibleRanges?: TextRange[];
}

/** A range of UTF-16 offsets into a text. */
export interface TextRange {
  start: number;
  end: number;
}

/** The spans of one finished window, sent as a partial result of a tag request. */
export interface TagChunk {
  spans: TaggedSpan[];
}
export const tagChunk = new ProgressType<TagChunk>();

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

import type { LabelScore } from './heads/sequenceClassification';
export type { LabelScore };

export type ClassifyParams = TextOrDocument & ClassifyOptions;

export interface ClassifyOptions extends WorkDoneProgressParams {
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

export interface AnswerParams extends WorkDoneProgressParams {
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

/** The whole document by name (synchronised text), or a text such as a selection. */
export type SurprisalParams = TextOrDocument & SurprisalOptions;

export interface SurprisalOptions {
  /** Alternatives to return per token (default 5). */
  top_k?: number;
  /** Left-context tokens per window (default: an eighth of the model's context). */
  leftContextTokens?: number;
}

/** Per token of the text, in order; offsets in UTF-16 units of the text sent. */
export interface SurprisalResult {
  offsets: [start: number, end: number][];
  /** ln p(token | the tokens before it); null for the first token (nothing predicts it). */
  logprobs: (number | null)[];
  /** The model's top_k tokens at each position, best first, as [text, logprob]. */
  alternatives: [token: string, logprob: number][][];
  mean_nll: number | null;
  perplexity: number | null;
  model: string;
  windows: number;
  cachedWindows: number;
  /** UTF-16 ranges of the tokens whose windows ran for this request; the rest were cached. */
  recomputed: [start: number, end: number][];
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
  status: new RequestType0<HostStatus, ErrorData>('gpt2Heads/status'),
  /** client → host: the LM continues a prompt. Streams GenerateChunk partial results. */
  generate: new ProtocolRequestType<GenerateParams, GenerateResult, GenerateChunk, ErrorData, void>(
    'gpt2Heads/generate',
  ),
  /** client → host: entities (NER) or tags (POS) of a whole document. */
  tag: new ProtocolRequestType<TagParams, TagResult, TagChunk, ErrorData, void>('gpt2Heads/tag'),
  /** client → host: labels of a passage or a whole document (fine-tuned head or zero-shot). */
  classify: new RequestType<ClassifyParams, ClassifyResult, ErrorData>('gpt2Heads/classify'),
  /** client → host: extractive answers to a question over a context. */
  answer: new RequestType<AnswerParams, AnswerResult, ErrorData>('gpt2Heads/answer'),
  /** client → host: the probability of each option of a multiple-choice question. */
  choose: new RequestType<ChooseParams, ChooseResult, ErrorData>('gpt2Heads/choose'),
  /** host → client: download / conversion / load progress, for a progress notification. */
  loadProgress: new NotificationType<LoadProgress>('gpt2Heads/loadProgress'),
  /** host → client: health, quiescence and the models' states, whenever one of them changes. */
  serverStatus: new NotificationType<ServerStatus>('gpt2Heads/serverStatus'),
  /** client → host: stop loading or downloading this source. */
  cancelLoad: new NotificationType<{ source: string }>('gpt2Heads/cancelLoad'),
  /** client → host: each token's log-probability under the LM, with alternatives (surprisal lens). */
  surprisal: new RequestType<SurprisalParams, SurprisalResult, ErrorData>('gpt2Heads/surprisal'),
  /** client → host: train a head on labelled data and save it. Streams TrainProgress. */
  train: new ProtocolRequestType<TrainParams, TrainResult, TrainProgress, ErrorData, void>(
    'gpt2Heads/train',
  ),
};

/** Error codes the host puts on failed requests, so the client can offer the right action. */
export const errorCodes = {
  modelNotConfigured: 1001,
  modelLoadFailed: 1002,
  offlineMissingModel: 1003,
  badInput: 1004,
  documentNotSynced: 1005,
  cancelled: -32800,
  /** LSP's ContentModified: the document changed after the request was made. */
  contentModified: -32801,
} as const;
