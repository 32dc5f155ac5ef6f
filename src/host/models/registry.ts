import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { InferenceSession } from 'onnxruntime-common';
import type { PreTrainedTokenizer } from '@huggingface/transformers' with {
  'resolution-mode': 'import',
};
import {
  errorCodes,
  type HeadRole,
  type HostSettings,
  type LoadProgress,
  type ModelInfo,
} from '../../protocol';
import { convertWithCache } from './convertedCache';
import { HostError } from '../errors';
import { hubCheckpoint, hubCheckpointFolder } from './hubCheckpoint';
import { SharedBackbones, sharesHead } from './sharedBackbone';
import {
  architectureOf,
  expandPath,
  inspectLocalFolder,
  isHubId,
  isLocalSource,
  labelsOf,
  parameterCount,
  validateConfig,
  type Architecture,
  type Gpt2Config,
} from './modelFolder';
import { transformers, useNetworkPolicy } from './runtime';
import { int64Tensor, requireFinite } from '../tensors';
import type { CheckpointConverter, LoadedModel } from './loadedModel';

export const roleTitles: Record<HeadRole, string> = {
  lm: 'the language model',
  ner: 'named-entity recognition',
  pos: 'part-of-speech tagging',
  classification: 'text classification',
  qa: 'question answering',
  multipleChoice: 'multiple choice',
};

interface Entry {
  source: string;
  loading: Promise<LoadedModel>;
  loaded?: LoadedModel;
  error?: string;
  abort: AbortController;
  inUse: number;
  retired: boolean;
}

/**
 * Loads each configured model once and shares it between every head and request that uses it.
 * A model nobody is configured to use any more is released once its last request finishes.
 */
export class ModelRegistry {
  private settings: HostSettings;
  private readonly entries = new Map<string, Entry>();

  constructor(
    settings: HostSettings,
    private readonly onProgress: (progress: LoadProgress) => void = () => undefined,
    private readonly convert: CheckpointConverter = convertWithCache,
  ) {
    this.settings = settings;
    useNetworkPolicy(settings.offline, (url) => this.abortSignalFor(url));
  }

  configure(settings: HostSettings): void {
    const reload =
      settings.dtype !== this.settings.dtype ||
      settings.threads !== this.settings.threads ||
      settings.cacheDir !== this.settings.cacheDir;
    const modelsChanged = JSON.stringify(settings.models) !== JSON.stringify(this.settings.models);
    this.settings = settings;
    useNetworkPolicy(settings.offline, (url) => this.abortSignalFor(url));
    // Which checkpoints share a backbone depends on all the model settings: regroup them.
    if (reload || modelsChanged) this.shared = undefined;
    const wanted = new Set(Object.values(settings.models).filter(Boolean));
    for (const entry of [...this.entries.values()]) {
      const regroup = modelsChanged && entry.loaded?.info.sharedBackbone;
      if (reload || regroup || !wanted.has(entry.source)) this.retire(entry);
    }
  }

  isConfigured(role: HeadRole): boolean {
    return Boolean(this.settings.models[role]?.trim());
  }

  sourceFor(role: HeadRole): string {
    const source = this.settings.models[role]?.trim();
    if (!source) {
      throw new HostError(
        `No model is set for ${roleTitles[role]}. Set "gpt2Heads.${role}.model" to a local ` +
          `model folder or a Hugging Face Hub id.`,
        errorCodes.modelNotConfigured,
      );
    }
    return source;
  }

  /** Runs `work` with the role's model, loading it first if needed. */
  async use<T>(role: HeadRole, work: (model: LoadedModel) => Promise<T>): Promise<T> {
    const entry = this.entryFor(this.sourceFor(role));
    entry.inUse++;
    try {
      return await work(await entry.loading);
    } finally {
      entry.inUse--;
      if (entry.retired && entry.inUse === 0) void this.release(entry);
    }
  }

  /** Loads a model outside any role (the CLI, tests). */
  load(source: string): Promise<LoadedModel> {
    return this.entryFor(source).loading;
  }

  cancelLoad(source: string): void {
    const entry = this.entries.get(source);
    if (entry && !entry.loaded) {
      entry.abort.abort();
      this.retire(entry);
    }
  }

  status(): ModelInfo[] {
    const rolesOf = (source: string) =>
      (Object.entries(this.settings.models) as [HeadRole, string][])
        .filter(([, value]) => value === source)
        .map(([role]) => role);
    return [...this.entries.values()].map((entry) => ({
      ...(entry.loaded?.info ?? { source: entry.source, state: entry.error ? 'error' : 'loading' }),
      error: entry.error,
      roles: rolesOf(entry.source),
    }));
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => this.release(entry)));
  }

  private entryFor(source: string): Entry {
    const existing = this.entries.get(source);
    if (existing && !existing.error) return existing;
    const abort = new AbortController();
    const entry: Entry = {
      source,
      abort,
      inUse: 0,
      retired: false,
      loading: Promise.resolve() as unknown as Promise<LoadedModel>,
    };
    entry.loading = this.loadModel(source, abort.signal).then(
      (model) => {
        entry.loaded = model;
        if (entry.retired) void this.release(entry);
        return model;
      },
      (error: unknown) => {
        entry.error = describeLoadError(error, source, this.settings.offline);
        this.onProgress({ source, message: entry.error, done: true });
        throw new HostError(entry.error, errorCode(error));
      },
    );
    this.entries.set(source, entry);
    return entry;
  }

  private retire(entry: Entry): void {
    entry.retired = true;
    if (this.entries.get(entry.source) === entry) this.entries.delete(entry.source);
    if (entry.inUse === 0) void this.release(entry);
  }

  private async release(entry: Entry): Promise<void> {
    const model = entry.loaded;
    entry.loaded = undefined;
    if (model) await model.session.release().catch(() => undefined);
  }

  private abortSignalFor(url: string): AbortSignal | undefined {
    for (const entry of this.entries.values()) {
      if (!entry.loaded && url.includes(`/${entry.source}/`)) return entry.abort.signal;
    }
    return undefined;
  }

  private async loadModel(source: string, signal: AbortSignal): Promise<LoadedModel> {
    const started = performance.now();
    const report = (message: string, percent?: number) =>
      this.onProgress({ source, message, percent });
    let folder: string;
    let config: Gpt2Config;
    let architecture: Architecture;
    let format: 'onnx' | 'safetensors' = 'onnx';
    let local = false;
    let sharedSession: InferenceSession | undefined;
    if (isLocalSource(source)) {
      const inspected = inspectLocalFolder(source);
      ({ config, architecture } = inspected);
      format = inspected.format;
      folder = inspected.folder;
      local = true;
      if (format === 'safetensors') {
        sharedSession = sharesHead(architecture)
          ? await this.sharedSession(folder, report)
          : undefined;
        if (!sharedSession) {
          report('Building the ONNX graph from model.safetensors…');
          folder = await this.convert(folder, this.settings.cacheDir, this.wantedDtype(), report);
        }
      }
    } else if (isHubId(source) && isDownloadedCheckpoint(this.settings.cacheDir, source)) {
      // A Hub checkpoint without ONNX that an earlier load downloaded: convert it locally.
      const inspected = inspectLocalFolder(hubCheckpointFolder(this.settings.cacheDir, source));
      ({ config, architecture } = inspected);
      format = 'safetensors';
      local = true;
      folder = await this.convert(
        inspected.folder,
        this.settings.cacheDir,
        this.wantedDtype(),
        report,
      );
    } else if (isHubId(source)) {
      folder = source;
      const { AutoConfig } = transformers();
      const hubConfig = await AutoConfig.from_pretrained(source, this.hubOptions(report));
      config = validateConfig(hubConfig as unknown as Gpt2Config, source);
      architecture = architectureOf(config, source);
    } else {
      throw new HostError(
        `"${source}" is neither an existing folder nor a Hugging Face Hub id (owner/name).`,
      );
    }
    if (signal.aborted) throw new HostError(`Loading "${source}" was cancelled.`);

    const { AutoTokenizer, AutoModel } = transformers();
    report('Loading the tokenizer…');
    let tokenizer: PreTrainedTokenizer;
    try {
      tokenizer = await AutoTokenizer.from_pretrained(folder, this.hubOptions(report, local));
    } catch (error) {
      if (!local) throw error;
      throw new HostError(
        `tokenizer.json of "${source}" is damaged (${(error as Error).message.split('\n')[0]}). ` +
          `Save the tokenizer again with tokenizer.save_pretrained(folder).`,
      );
    }
    let dtype = local && !sharedSession ? this.localDtype(folder) : this.wantedDtype();
    report(`Loading the ${dtype} model…`);
    const options = {
      ...this.hubOptions(report, local),
      dtype,
      device: 'cpu' as const,
      session_options: {
        ...(this.settings.threads > 0 ? { intraOpNumThreads: this.settings.threads } : {}),
        interOpNumThreads: 1,
      },
    };
    let model;
    try {
      model = sharedSession
        ? { sessions: { model: sharedSession } }
        : await AutoModel.from_pretrained(folder, options);
    } catch (error) {
      if (local) throw error;
      try {
        model = await AutoModel.from_pretrained(folder, { ...options, dtype: 'fp32' });
        dtype = 'fp32';
      } catch (fp32Error) {
        if (!isMissingFile(fp32Error)) throw fp32Error;
        // No ONNX export in the repository: fetch its safetensors checkpoint and convert it.
        report('No ONNX export on the Hub; downloading the safetensors checkpoint…');
        const checkpoint = await hubCheckpoint(
          source,
          this.settings.cacheDir,
          this.settings.offline,
          signal,
          report,
        );
        format = 'safetensors';
        local = true;
        folder = await this.convert(checkpoint, this.settings.cacheDir, this.wantedDtype(), report);
        dtype = this.localDtype(folder);
        model = await AutoModel.from_pretrained(folder, { ...options, dtype });
      }
    }
    const session = (model as unknown as { sessions: Record<string, InferenceSession> }).sessions
      .model;
    if (signal.aborted) {
      await session.release();
      throw new HostError(`Loading "${source}" was cancelled.`);
    }
    const labels = labelsOf(config, labelCount(config, architecture));
    try {
      await probe({ source, config, architecture, tokenizer, session, labels });
    } catch (error) {
      await session.release().catch(() => undefined);
      throw error;
    }
    const generationConfig = ((model as unknown as { generation_config?: Record<string, unknown> })
      .generation_config ?? {}) as Record<string, unknown>;
    const onnxFile = join(folder, 'onnx', dtype === 'q8' ? 'model_quantized.onnx' : 'model.onnx');
    const info: ModelInfo = {
      source,
      roles: [],
      state: 'ready',
      architecture,
      format,
      dtype,
      labels,
      contextLength: config.n_positions,
      parameterCount: parameterCount(config, architecture, labels.length),
      fileBytes: existsSync(onnxFile) ? statSync(onnxFile).size : undefined,
      loadMs: Math.round(performance.now() - started),
      folder: local ? folder : undefined,
      sharedBackbone: sharedSession !== undefined,
    };
    this.onProgress({ source, message: 'Ready', done: true });
    return {
      source,
      folder,
      config,
      architecture,
      tokenizer,
      session,
      generationConfig: { ...generationConfig },
      info,
    };
  }

  private shared: SharedBackbones | undefined;

  /**
   * A view of one graph shared with the other configured checkpoints that have the same backbone
   * (one forward pass serves all their heads), or undefined when none does.
   */
  private async sharedSession(
    folder: string,
    report: (message: string) => void,
  ): Promise<InferenceSession | undefined> {
    const peers = Object.values(this.settings.models)
      .filter((source) => source && isLocalSource(source))
      .map((source) => expandPath(source));
    if (peers.filter((peer) => peer !== folder).length === 0) return undefined;
    this.shared ??= new SharedBackbones(this.settings.cacheDir, this.wantedDtype() === 'q8', {
      ...(this.settings.threads > 0 ? { intraOpNumThreads: this.settings.threads } : {}),
      interOpNumThreads: 1,
    });
    report('Checking whether other heads share this backbone…');
    return this.shared.sessionFor(folder, peers);
  }

  private wantedDtype(): 'fp32' | 'q8' {
    return this.settings.dtype === 'fp32' ? 'fp32' : 'q8';
  }

  /** auto = int8 where the folder has it; an explicit choice must exist. */
  private localDtype(folder: string): 'fp32' | 'q8' {
    const hasQ8 = existsSync(join(folder, 'onnx', 'model_quantized.onnx'));
    const hasFp32 = existsSync(join(folder, 'onnx', 'model.onnx'));
    if (this.settings.dtype === 'q8' && !hasQ8) {
      throw new HostError(
        `The model folder has no onnx/model_quantized.onnx. Set "gpt2Heads.dtype" to "auto" or "fp32".`,
      );
    }
    if (this.settings.dtype === 'fp32' && !hasFp32) {
      throw new HostError(
        `The model folder has no onnx/model.onnx. Set "gpt2Heads.dtype" to "auto" or "q8".`,
      );
    }
    if (this.settings.dtype === 'auto') return hasQ8 ? 'q8' : 'fp32';
    return this.settings.dtype;
  }

  /** `local`: the files are read from disk, so progress says so instead of "Downloading". */
  private hubOptions(report: (message: string, percent?: number) => void, local = false) {
    return {
      cache_dir: join(this.settings.cacheDir, 'hub'),
      local_files_only: this.settings.offline,
      progress_callback: (info: { status: string; file?: string; progress?: number }) => {
        if (info.status === 'progress' && info.file) {
          report(`${local ? 'Reading' : 'Downloading'} ${info.file}`, info.progress);
        }
      },
    };
  }
}

const probeInputs =
  /^(input_ids|attention_mask|position_ids|mc_token_ids|past_key_values\.\d+\.(key|value))$/;

/**
 * One forward pass over a single token, the highest id the tokenizer or config.json knows, before
 * a model counts as loaded: a head whose width disagrees with id2label, an embedding with fewer
 * rows than the vocabulary, or NaN weights fail here, at load, with a message instead of later.
 */
async function probe(model: {
  source: string;
  config: Gpt2Config;
  architecture: Architecture;
  tokenizer: PreTrainedTokenizer;
  session: InferenceSession;
  labels: string[];
}): Promise<void> {
  const { session, config, source } = model;
  if (!session.inputNames.every((name) => probeInputs.test(name))) return;
  const id = Math.max(config.vocab_size, tokenizerVocabSize(model.tokenizer)) - 1;
  const shape = model.architecture === 'GPT2DoubleHeadsModel' ? [1, 1, 1] : [1, 1];
  const { Tensor } = await import('onnxruntime-node');
  const feeds: Record<string, InstanceType<typeof Tensor>> = {};
  const headDim = config.n_embd / config.n_head;
  for (const name of session.inputNames) {
    if (name === 'input_ids') feeds[name] = int64Tensor(shape, [id]);
    else if (name === 'attention_mask') feeds[name] = int64Tensor(shape, [1]);
    else if (name === 'position_ids') feeds[name] = int64Tensor(shape, [0]);
    else if (name === 'mc_token_ids') feeds[name] = int64Tensor([1, 1], [0]);
    else feeds[name] = new Tensor('float32', new Float32Array(0), [1, config.n_head, 0, headDim]);
  }
  let outputs;
  try {
    outputs = (await session.run(feeds)) as Record<string, InstanceType<typeof Tensor>>;
  } catch (error) {
    const message = (error as Error).message.split('\n')[0];
    if (/out of data bounds|out of range|indices/i.test(message)) {
      throw new HostError(
        `"${source}": the embedding has fewer rows than the tokenizer's vocabulary ` +
          `(token ${id} of vocab_size ${config.vocab_size} in config.json): the weights, ` +
          `config.json and tokenizer.json do not belong together.`,
      );
    }
    throw new HostError(`"${source}" loads but does not run: ${message}`);
  }
  const widths: Partial<Record<Architecture, number | undefined>> = {
    GPT2ForTokenClassification: outputs.logits?.dims[2],
    GPT2ForSequenceClassification: outputs.logits?.dims[1],
  };
  const width = widths[model.architecture];
  if (width !== undefined && width !== model.labels.length) {
    throw new HostError(
      `"${source}" has ${width} outputs ${model.architecture === 'GPT2ForTokenClassification' ? 'per token ' : ''}` +
        `but its config.json names ${model.labels.length} labels (id2label/num_labels): ` +
        `the config and the weights disagree.`,
    );
  }
  requireFinite(source, outputs);
}

function tokenizerVocabSize(tokenizer: PreTrainedTokenizer): number {
  const inner = (tokenizer as unknown as { _tokenizer?: { get_vocab?: () => unknown } })._tokenizer;
  const vocab = inner?.get_vocab?.();
  const ids =
    vocab instanceof Map
      ? [...vocab.values()]
      : vocab && typeof vocab === 'object'
        ? Object.values(vocab)
        : [];
  return ids.reduce<number>((size, id) => Math.max(size, Number(id) + 1), 0);
}

function labelCount(config: Gpt2Config, architecture: Architecture): number {
  if (
    architecture === 'GPT2ForTokenClassification' ||
    architecture === 'GPT2ForSequenceClassification'
  ) {
    const fromMap = Object.keys(config.id2label ?? {}).length;
    const declared = typeof config.num_labels === 'number' ? config.num_labels : 0;
    return Math.max(fromMap, declared, fromMap === 0 && declared === 0 ? 2 : 0);
  }
  return 0;
}

function isDownloadedCheckpoint(cacheDir: string, hubId: string): boolean {
  return existsSync(join(hubCheckpointFolder(cacheDir, hubId), '.complete'));
}

/** transformers.js' error for a file the repository does not have. */
function isMissingFile(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /could not locate file|404|not found|does not exist/i.test(message);
}

function errorCode(error: unknown): number {
  return error instanceof HostError ? error.code : errorCodes.modelLoadFailed;
}

/** Rewrites library errors into messages that say what to change. */
export function describeLoadError(error: unknown, source: string, offline: boolean): string {
  if (error instanceof HostError) return error.message;
  const message = error instanceof Error ? error.message : String(error);
  if (offline && /local_files_only|not found locally|allowRemoteModels|offline/i.test(message)) {
    return (
      `"${source}" is not on this machine and "gpt2Heads.offline" is on. Turn off ` +
      `"gpt2Heads.offline" to download it once, or set the model to a local folder.`
    );
  }
  if (/protobuf|Failed to load model|invalid model|ONNX/i.test(message)) {
    return `The ONNX file of "${source}" could not be loaded; it is damaged or not ONNX (${message.split('\n')[0]}).`;
  }
  if (/fetch failed|ENOTFOUND|ECONNREFUSED|network/i.test(message)) {
    return (
      `"${source}" could not be downloaded: the network is unreachable (${message.split('\n')[0]}). ` +
      `Set the model to a local folder, or try again when online.`
    );
  }
  return `"${source}" could not be loaded: ${message.split('\n')[0]}`;
}
