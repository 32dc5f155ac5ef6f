// A model whose config, labels and tokenizer come from the usual local folder (or Hub id) and
// whose graph runs on an Open Inference Protocol endpoint. The ONNX weights are not loaded here.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { PreTrainedTokenizer } from '@huggingface/transformers' with {
  'resolution-mode': 'import',
};
import type { HeadRole, HostSettings, ModelInfo } from '../../../protocol';
import { HostError } from '../../errors';
import { readyModel, type LoadedModel } from '../loadedModel';
import {
  architectureOf,
  readGpt2Config,
  validateGpt2Config,
  type Gpt2Architecture,
  type Gpt2Config,
} from '../../convert/gpt2Config';
import { expandPath, isLocalSource, labelCount, labelsOf } from '../modelFolder';
import { transformers } from '../runtime';
import { checkEndpointUrl, defaultHttpOptions, EndpointError, HttpEndpoint } from './http';
import { type CompletionsEndpoint } from './openaiCompletions';
import {
  asInferenceSession,
  checkMetadata,
  OpenInferenceSession,
  parseEndpoint,
  type ExpectedGraph,
  type ModelMetadata,
} from './openInference';

/** The name errors give the endpoint setting (the CLI's is --endpoint). */
export function endpointSetting(role: HeadRole, settings: HostSettings): string {
  return settings.endpoints?.settingName ?? `gpt2Heads.${role}.endpoint`;
}

/** The HTTP client of one endpoint setting, with the user's key and limits. */
export function httpFor(settings: HostSettings, setting: string): HttpEndpoint {
  const endpoints = settings.endpoints;
  return new HttpEndpoint({
    ...defaultHttpOptions,
    // The key reaches the host in its environment, never in a message: a traced LSP log
    // would show it. The extension sets it from SecretStorage, the CLI's user in the shell.
    apiKey: process.env.GPT2_HEADS_API_KEY || undefined,
    timeoutMs: endpoints?.timeoutMs ?? defaultHttpOptions.timeoutMs,
    concurrency: endpoints?.concurrency ?? defaultHttpOptions.concurrency,
    setting,
  });
}

/** The outputs the tasks read from each architecture, and their label widths. */
function expectedGraph(
  architecture: Gpt2Architecture,
  labels: number,
  source: string,
  setting: string,
): ExpectedGraph {
  switch (architecture) {
    case 'GPT2ForTokenClassification':
    case 'GPT2ForSequenceClassification':
      return { outputs: ['logits'], widths: { logits: labels } };
    case 'GPT2ForQuestionAnswering':
      return { outputs: ['start_logits', 'end_logits'], widths: {} };
    case 'GPT2DoubleHeadsModel':
      return { outputs: ['mc_logits'], widths: {} };
    case 'GPT2Model':
      return { outputs: ['last_hidden_state'], widths: {} };
    default:
      throw new HostError(
        `"${source}" is a ${architecture}: a language model runs on an OpenAI-compatible ` +
          `server (gpt2Heads.lm.endpoint), not on "${setting}".`,
      );
  }
}

/** Config and tokenizer from the model setting: a local folder (weights not needed) or Hub id. */
async function describedBy(
  source: string,
  settings: HostSettings,
  report: (message: string) => void,
): Promise<{
  folder: string;
  config: Gpt2Config;
  architecture: Gpt2Architecture;
  tokenizer: PreTrainedTokenizer;
}> {
  const hubOptions = {
    cache_dir: join(settings.cacheDir, 'hub'),
    local_files_only: settings.offline,
  };
  const { AutoConfig, AutoTokenizer } = transformers();
  let folder: string;
  let config: Gpt2Config;
  if (isLocalSource(source)) {
    folder = expandPath(source);
    config = readGpt2Config(folder, source);
    if (!existsSync(join(folder, 'tokenizer.json'))) {
      throw new HostError(`The model folder "${source}" has no tokenizer.json.`);
    }
  } else {
    folder = source;
    const hubConfig = await AutoConfig.from_pretrained(source, hubOptions);
    config = validateGpt2Config(hubConfig, source);
  }
  const architecture = architectureOf(config, source);
  report('Loading the tokenizer…');
  const tokenizer = await AutoTokenizer.from_pretrained(folder, hubOptions);
  return { folder, config, architecture, tokenizer };
}

export async function loadRemoteModel(
  source: string,
  role: HeadRole,
  url: string,
  settings: HostSettings,
  report: (message: string, done?: boolean) => void,
): Promise<LoadedModel> {
  const started = performance.now();
  const setting = endpointSetting(role, settings);
  checkEndpointUrl(url, setting, settings.offline);
  const endpoint = parseEndpoint(url, setting);
  const described = await describedBy(source, settings, report);
  const { config, architecture } = described;
  const labels = labelsOf(config, labelCount(config, architecture));
  const expected = expectedGraph(architecture, labels.length, source, setting);
  report(`Checking ${endpoint.model}…`);
  const http = httpFor(settings, setting);
  const metadata = await http.json<ModelMetadata>(endpoint.model, undefined);
  checkMetadata(metadata, expected, endpoint, source, setting);
  const session = new OpenInferenceSession(http, endpoint, metadata, expected, {
    maxBatch: Math.max(1, settings.endpoints?.maxBatch ?? 8),
    padId: config.pad_token_id ?? config.eos_token_id ?? 0,
  });
  report('Ready', true);
  return readyModel(
    { source, ...described, session: asInferenceSession(session), generationConfig: {} },
    { labels, started, local: isLocalSource(source) },
    { format: 'onnx', endpoint: url },
  );
}

/** Adds each remote model's health (`GET {server}/v2/health/ready`) to the status. */
export async function withEndpointHealth(
  models: ModelInfo[],
  settings: HostSettings,
): Promise<ModelInfo[]> {
  return Promise.all(
    models.map(async (model) => {
      if (!model.endpoint) return model;
      // Open Inference servers have a readiness route; OpenAI-compatible ones list their models.
      const health = model.endpoint.includes('/v2/models/')
        ? `${parseEndpoint(model.endpoint, 'endpoint').server}/v2/health/ready`
        : `${model.endpoint}/models`;
      const ready = await httpFor(settings, 'endpoint').ok(health);
      return { ...model, endpointReady: ready };
    }),
  );
}

const completionsEndpoints = new WeakMap<LoadedModel, CompletionsEndpoint>();

/** The OpenAI-compatible server that runs this language model, if it runs remotely. */
export function completionsFor(model: LoadedModel): CompletionsEndpoint | undefined {
  return completionsEndpoints.get(model);
}

/**
 * The language model on an OpenAI-compatible server (gpt2Heads.lm.endpoint). The model setting,
 * when set, gives the tokenizer (zero-shot classification counts the text's tokens with it);
 * generation and scoring need only the server.
 */
export async function loadRemoteLanguageModel(
  source: string | undefined,
  url: string,
  settings: HostSettings,
  report: (message: string, done?: boolean) => void,
): Promise<LoadedModel> {
  const started = performance.now();
  const setting = endpointSetting('lm', settings);
  checkEndpointUrl(url, setting, settings.offline);
  const http = httpFor(settings, setting);
  const base = url.replace(/\/+$/, '');
  let name = settings.endpoints?.lmModel?.trim();
  if (!name) {
    report(`Asking ${base}/models which model it serves…`);
    const listed = await http.json<{ data?: { id?: string }[] }>(`${base}/models`, undefined);
    name = listed?.data?.[0]?.id;
    if (typeof name !== 'string' || !name) {
      throw new EndpointError(
        `${base}/models names no model. Set "gpt2Heads.lm.endpointModel" (--endpoint-model) ` +
          `to the name the server knows the model by.`,
      );
    }
  }
  // The tokenizer only counts tokens for zero-shot classification: a model setting that does not
  // load (e.g. a Hub id while the network is closed) must not stop generation on the server.
  let unavailable = '';
  const local = source
    ? await describedBy(source, settings, report).catch((error: unknown) => {
        unavailable = ` ("${source}" did not load: ${(error as Error).message.split('\n')[0]})`;
        return undefined;
      })
    : undefined;
  const missing = (what: string) => () => {
    throw new HostError(
      `${what} needs the language model's tokenizer${unavailable}: set "gpt2Heads.lm.model" ` +
        `to the local folder or Hub id of the model ${url} serves.`,
    );
  };
  const tokenizer =
    local?.tokenizer ??
    ({
      encode: missing('Counting tokens'),
      decode: missing('Decoding tokens'),
    } as unknown as PreTrainedTokenizer);
  const session = {
    inputNames: [],
    outputNames: [],
    run: () => {
      throw new HostError(
        `This task needs the language model's logits, which ${url} (an OpenAI-compatible ` +
          `server) does not give. Clear "gpt2Heads.lm.endpoint" to run it locally.`,
      );
    },
    release: async () => undefined,
  } as unknown as LoadedModel['session'];
  const model: LoadedModel = {
    source: source ?? name,
    folder: local?.folder ?? '',
    config: local?.config ?? ({ n_positions: 0 } as Gpt2Config),
    architecture: local?.architecture ?? 'GPT2LMHeadModel',
    tokenizer,
    session,
    generationConfig: {},
    info: {
      source: source ?? name,
      roles: [],
      state: 'ready',
      architecture: 'GPT2LMHeadModel',
      loadMs: Math.round(performance.now() - started),
      endpoint: base,
    },
  };
  completionsEndpoints.set(model, { url: base, model: name, http });
  report('Ready', true);
  return model;
}
