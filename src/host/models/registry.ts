import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { InferenceSession, Tensor } from 'onnxruntime-common';
import type { PreTrainedTokenizer } from '@huggingface/transformers' with {
  'resolution-mode': 'import',
};
import {
  errorCodes,
  taskTable,
  type ErrorData,
  type HeadRole,
  type HostSettings,
  type LoadProgress,
  type ModelInfo,
  type WeightDtype,
} from '../../protocol';
import { convertWithCache } from './convertedCache';
import { HostError } from '../errors';
import { hubCheckpoint, hubCheckpointFolder } from './hubCheckpoint';
import { SharedBackbones, sharesHead } from './sharedBackbone';
import {
  expandPath,
  inspectLocalFolder,
  isHubId,
  isLocalSource,
  labelCount,
  labelsOf,
  type FolderFormat,
} from './modelFolder';
import {
  architectureOf,
  validateGpt2Config,
  type Gpt2Architecture,
  type Gpt2Config,
} from '../convert/gpt2Config';
import { offlineMissingMessage, transformers, useNetworkPolicy } from './runtime';
import { emptyPastKeyValues, int64Tensor, labelLogits, requireFinite } from '../tensors';
import { readyModel, type CheckpointConverter, type LoadedModel } from './loadedModel';
import { loadRemoteLanguageModel, loadRemoteModel } from './remote/remoteModel';

interface Entry {
  source: string;
  /** The serving engine that runs this model's graph (gpt2Heads.<role>.endpoint). */
  endpoint?: { role: HeadRole; url: string };
  loading: Promise<LoadedModel>;
  loaded?: LoadedModel;
  error?: string;
  errorData?: ErrorData;
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
      settings.cacheDir !== this.settings.cacheDir ||
      JSON.stringify(settings.endpoints) !== JSON.stringify(this.settings.endpoints);
    const modelsChanged = JSON.stringify(settings.models) !== JSON.stringify(this.settings.models);
    this.settings = settings;
    useNetworkPolicy(settings.offline, (url) => this.abortSignalFor(url));
    // Which checkpoints share a backbone depends on all the model settings: regroup them.
    if (reload || modelsChanged) this.shared = undefined;
    const wanted = new Set(Object.values(settings.models).filter(Boolean));
    for (const entry of [...this.entries.values()]) {
      // A head in a shared graph, or a checkpoint head loaded alone that a new peer may now
      // share its backbone with: loaded again, it joins the group (not a second backbone).
      const info = entry.loaded?.info;
      const mayShare =
        info?.sharedBackbone ||
        (info?.format === 'safetensors' && sharesHead(info.architecture ?? ''));
      const regroup = modelsChanged && mayShare;
      if (reload || regroup || !wanted.has(entry.source)) this.retire(entry);
    }
  }

  isConfigured(role: HeadRole): boolean {
    return Boolean(this.settings.models[role]?.trim());
  }

  sourceFor(role: HeadRole): string {
    const source = this.settings.models[role]?.trim();
    if (!source) {
      const { title, setting } = taskTable[role];
      throw new HostError(
        `${title} has no model. Set "${setting}" to a local model folder or a Hugging Face Hub id.`,
        errorCodes.modelNotConfigured,
        { setting, role },
      );
    }
    return source;
  }

  /** Runs `work` with the role's model, loading it first if needed. */
  async use<T>(role: HeadRole, work: (model: LoadedModel) => Promise<T>): Promise<T> {
    const endpoint = this.endpointFor(role);
    // A language model on a server needs no local model (the setting only adds a tokenizer).
    const source =
      endpoint?.role === 'lm' && !this.isConfigured('lm') ? endpoint.url : this.sourceFor(role);
    const entry = this.entryFor(source, endpoint);
    entry.inUse++;
    try {
      let model: LoadedModel;
      try {
        model = await entry.loading;
      } catch (error) {
        throw forRole(error, role, source);
      }
      return await work(model);
    } finally {
      entry.inUse--;
      if (entry.retired && entry.inUse === 0) void this.release(entry);
    }
  }

  /** Loads a model outside any role (the CLI, tests). */
  load(source: string): Promise<LoadedModel> {
    return this.entryFor(source).loading;
  }

  /** The Open Inference endpoint that runs the role's graph; the LM's is OpenAI-compatible. */
  private endpointFor(role: HeadRole): Entry['endpoint'] {
    const url = this.settings.endpoints?.urls[role]?.trim();
    return url ? { role, url } : undefined;
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
      ...(entry.loaded?.info ?? {
        source: entry.source,
        state: entry.error ? 'error' : 'loading',
        endpoint: entry.endpoint?.url,
      }),
      error: entry.error,
      roles: rolesOf(entry.source),
    }));
  }

  async dispose(): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => this.release(entry)));
  }

  private entryFor(source: string, endpoint?: Entry['endpoint']): Entry {
    const key = endpoint ? `${source}\n${endpoint.url}` : source;
    const existing = this.entries.get(key);
    if (existing && !existing.error) return existing;
    const abort = new AbortController();
    const entry: Entry = {
      source,
      endpoint,
      abort,
      inUse: 0,
      retired: false,
      loading: Promise.resolve() as unknown as Promise<LoadedModel>,
    };
    entry.loading = (
      endpoint
        ? endpoint.role === 'lm'
          ? loadRemoteLanguageModel(
              this.isConfigured('lm') ? source : undefined,
              endpoint.url,
              this.settings,
              (message, done) => this.onProgress({ source, message, done }),
            )
          : loadRemoteModel(source, endpoint.role, endpoint.url, this.settings, (message, done) =>
              this.onProgress({ source, message, done }),
            )
        : this.loadModel(source, abort.signal)
    ).then(
      (model) => {
        entry.loaded = model;
        if (entry.retired) void this.release(entry);
        return model;
      },
      (error: unknown) => {
        const described = describeLoadError(error, source, this.settings.offline);
        entry.error = described.message;
        entry.errorData = { ...described.data, model: described.data.model ?? source };
        this.onProgress({ source, message: entry.error, done: true });
        throw new HostError(entry.error, errorCode(error), entry.errorData);
      },
    );
    this.entries.set(key, entry);
    return entry;
  }

  private retire(entry: Entry): void {
    entry.retired = true;
    for (const [key, value] of this.entries) if (value === entry) this.entries.delete(key);
    if (entry.inUse === 0) void this.release(entry);
  }

  private async release(entry: Entry): Promise<void> {
    const model = entry.loaded;
    entry.loaded = undefined;
    if (model) await model.session.release().catch(() => undefined);
  }

  /** The signal that cancels the load fetching `url`, if one of this registry's loads is. */
  abortSignalFor(url: string): AbortSignal | undefined {
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
    let architecture: Gpt2Architecture;
    let format: FolderFormat = 'onnx';
    let local = false;
    let sharedSession: InferenceSession | undefined;
    if (isLocalSource(source)) {
      const inspected = inspectLocalFolder(source);
      ({ config, architecture } = inspected);
      format = inspected.format;
      folder = inspected.folder;
      local = true;
      if (format !== 'onnx') {
        sharedSession = sharesHead(architecture)
          ? await this.sharedSession(folder, report)
          : undefined;
        if (!sharedSession) {
          report('Building the ONNX graph from the checkpoint…');
          folder = await this.convert(
            folder,
            this.settings.cacheDir,
            this.wantedDtype(),
            report,
            signal,
          );
        }
      }
    } else if (isHubId(source) && isDownloadedCheckpoint(this.settings.cacheDir, source)) {
      // A Hub checkpoint without ONNX that an earlier load downloaded: convert it locally.
      const inspected = inspectLocalFolder(hubCheckpointFolder(this.settings.cacheDir, source));
      ({ config, architecture, format } = inspected);
      local = true;
      folder = await this.convert(
        inspected.folder,
        this.settings.cacheDir,
        this.wantedDtype(),
        report,
        signal,
      );
    } else if (isHubId(source)) {
      folder = source;
      const { AutoConfig } = transformers();
      const hubConfig = await AutoConfig.from_pretrained(source, this.hubOptions(report));
      config = validateGpt2Config(hubConfig, source);
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
        report('No ONNX export on the Hub; downloading the PyTorch checkpoint…');
        const checkpoint = await hubCheckpoint(
          source,
          this.settings.cacheDir,
          this.settings.offline,
          signal,
          report,
        );
        format = inspectLocalFolder(checkpoint).format;
        local = true;
        folder = await this.convert(
          checkpoint,
          this.settings.cacheDir,
          this.wantedDtype(),
          report,
          signal,
        );
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
    this.onProgress({ source, message: 'Ready', done: true });
    return readyModel(
      { source, folder, config, architecture, tokenizer, session, generationConfig },
      { labels, started, local },
      {
        format,
        dtype,
        fileBytes: existsSync(onnxFile) ? statSync(onnxFile).size : undefined,
        sharedBackbone: sharedSession !== undefined,
      },
    );
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

  private wantedDtype(): WeightDtype {
    return this.settings.dtype === 'fp32' ? 'fp32' : 'q8';
  }

  /** auto = int8 where the folder has it; an explicit choice must exist. */
  private localDtype(folder: string): WeightDtype {
    const hasQ8 = existsSync(join(folder, 'onnx', 'model_quantized.onnx'));
    const hasFp32 = existsSync(join(folder, 'onnx', 'model.onnx'));
    if (this.settings.dtype === 'q8' && !hasQ8) {
      throw new HostError(
        `The model folder has no onnx/model_quantized.onnx. Set "gpt2Heads.dtype" to "auto" or "fp32".`,
        undefined,
        { setting: 'gpt2Heads.dtype' },
      );
    }
    if (this.settings.dtype === 'fp32' && !hasFp32) {
      throw new HostError(
        `The model folder has no onnx/model.onnx. Set "gpt2Heads.dtype" to "auto" or "q8".`,
        undefined,
        { setting: 'gpt2Heads.dtype' },
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
async function probe(
  model: Pick<LoadedModel, 'source' | 'config' | 'architecture' | 'tokenizer' | 'session'> & {
    labels: string[];
  },
): Promise<void> {
  const { session, config, source } = model;
  if (!session.inputNames.every((name) => probeInputs.test(name))) return;
  const id = Math.max(config.vocab_size, tokenizerVocabSize(model.tokenizer)) - 1;
  const shape = model.architecture === 'GPT2DoubleHeadsModel' ? [1, 1, 1] : [1, 1];
  const past = emptyPastKeyValues(config);
  const feeds: Record<string, Tensor> = {};
  for (const name of session.inputNames) {
    if (name === 'input_ids') feeds[name] = int64Tensor(shape, [id]);
    else if (name === 'attention_mask') feeds[name] = int64Tensor(shape, [1]);
    else if (name === 'position_ids') feeds[name] = int64Tensor(shape, [0]);
    else if (name === 'mc_token_ids') feeds[name] = int64Tensor([1, 1], [0]);
    else feeds[name] = past[name];
  }
  let outputs;
  try {
    outputs = (await session.run(feeds)) as Record<string, Tensor>;
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
  const perToken = model.architecture === 'GPT2ForTokenClassification';
  if (perToken || model.architecture === 'GPT2ForSequenceClassification') {
    labelLogits(source, outputs, model.labels.length, perToken);
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

function isDownloadedCheckpoint(cacheDir: string, hubId: string): boolean {
  return existsSync(join(hubCheckpointFolder(cacheDir, hubId), '.complete'));
}

/** transformers.js' error for a file the repository does not have. */
function isMissingFile(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /could not locate file|404|not found|does not exist/i.test(message);
}

/** A load failure as the head that asked for the model sees it: naming the setting to fix. */
function forRole(error: unknown, role: HeadRole, source: string): unknown {
  if (!(error instanceof HostError)) return error;
  const { setting, title } = taskTable[role];
  const data: ErrorData = { ...error.data, role, model: error.data.model ?? source };
  data.setting ??= setting;
  const named = error.message.includes(`"${setting}"`) || data.setting !== setting;
  const message = named
    ? error.message
    : `${error.message.replace(/\.$/, '')} (${title}: "${setting}").`;
  return new HostError(message, error.code, data);
}

function errorCode(error: unknown): number {
  return error instanceof HostError ? error.code : errorCodes.modelLoadFailed;
}

/** Rewrites library errors into messages that say what to change, with what kind they are. */
export function describeLoadError(
  error: unknown,
  source: string,
  offline: boolean,
): { message: string; data: ErrorData } {
  if (error instanceof HostError) return { message: error.message, data: error.data };
  const message = error instanceof Error ? error.message : String(error);
  if (offline && /local_files_only|not found locally|allowRemoteModels|offline/i.test(message)) {
    return {
      message: offlineMissingMessage(source),
      data: { kind: 'offline', setting: 'gpt2Heads.offline' },
    };
  }
  if (/protobuf|Failed to load model|invalid model|ONNX/i.test(message)) {
    return {
      message: `The ONNX file of "${source}" could not be loaded; it is damaged or not ONNX (${message.split('\n')[0]}).`,
      data: { kind: 'loadFailed' },
    };
  }
  if (/fetch failed|ENOTFOUND|ECONNREFUSED|network/i.test(message)) {
    return {
      message:
        `"${source}" could not be downloaded: the network is unreachable (${message.split('\n')[0]}). ` +
        `Set the model to a local folder, or try again when online.`,
      data: { kind: 'network' },
    };
  }
  return {
    message: `"${source}" could not be loaded: ${message.split('\n')[0]}`,
    data: { kind: 'loadFailed' },
  };
}
