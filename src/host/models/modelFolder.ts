import { existsSync, lstatSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { HostError } from '../errors';
import { ARCHITECTURES, type Gpt2Architecture } from '../convert/gpt2Graph';

export const supportedArchitectures = ARCHITECTURES;
export type Architecture = Gpt2Architecture;

/** The fields of a GPT-2 config.json the host reads (Hugging Face names). */
export interface Gpt2Config {
  architectures?: string[];
  model_type?: string;
  vocab_size: number;
  n_positions: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_inner?: number | null;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  pad_token_id?: number | null;
  eos_token_id?: number | null;
  bos_token_id?: number | null;
  problem_type?: string | null;
  [key: string]: unknown;
}

export type FolderFormat = 'onnx' | 'safetensors' | 'pytorch';

export interface LocalModelFolder {
  folder: string;
  config: Gpt2Config;
  architecture: Architecture;
  format: FolderFormat;
}

/** A source is a local folder when it looks like a path; otherwise it is a Hub id. */
export function isLocalSource(source: string): boolean {
  return (
    isAbsolute(source) ||
    source.startsWith('.') ||
    source.startsWith('~') ||
    /^[A-Za-z]:[\\/]/.test(source) ||
    existsSync(source)
  );
}

export function expandPath(source: string): string {
  return resolve(source.startsWith('~') ? join(homedir(), source.slice(1)) : source);
}

/** A Hub id as the Hub spells them: `name` or `owner/name`, letters, digits, - _ . */
export function isHubId(source: string): boolean {
  return /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/.test(source) && !source.includes('..');
}

export function readConfig(folder: string, source = folder): Gpt2Config {
  const path = join(folder, 'config.json');
  if (!existsSync(path)) {
    throw new HostError(
      `The model folder "${source}" has no config.json. A model folder is a Hugging Face ` +
        `model repository: config.json, tokenizer.json and onnx/model.onnx or model.safetensors.`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new HostError(
      `config.json of "${source}" cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). ` +
        `Check that the file is readable by your user.`,
    );
  }
  let config: Gpt2Config;
  try {
    config = JSON.parse(text) as Gpt2Config;
  } catch (error) {
    throw new HostError(
      `config.json of "${source}" is not valid JSON: ${(error as Error).message}`,
    );
  }
  return validateConfig(config, source);
}

export function validateConfig(config: Gpt2Config, source: string): Gpt2Config {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new HostError(
      `config.json of "${source}" is not a JSON object; it must be a Hugging Face GPT-2 config.`,
    );
  }
  if (config.model_type !== undefined && config.model_type !== 'gpt2') {
    throw new HostError(
      `"${source}" is a ${String(config.model_type)} model; GPT-2 Heads runs GPT-2 models only ` +
        `(config.json "model_type": "gpt2").`,
    );
  }
  for (const key of ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head'] as const) {
    const value = config[key];
    if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
      throw new HostError(
        `config.json of "${source}" has no valid "${key}" (found ${JSON.stringify(value)}).`,
      );
    }
  }
  if (config.n_embd % config.n_head !== 0) {
    throw new HostError(
      `config.json of "${source}": n_embd (${config.n_embd}) is not a multiple of n_head (${config.n_head}).`,
    );
  }
  return config;
}

export function architectureOf(config: Gpt2Config, source: string): Architecture {
  const name = config.architectures?.[0] ?? 'GPT2Model';
  if (!(supportedArchitectures as readonly string[]).includes(name)) {
    throw new HostError(
      `"${source}" is a ${name}, which GPT-2 Heads does not run. Supported: ` +
        `${supportedArchitectures.join(', ')}.`,
    );
  }
  return name as Architecture;
}

/** Labels in id order; HF names missing ones LABEL_i. */
export function labelsOf(config: Gpt2Config, count?: number): string[] {
  const id2label = config.id2label ?? {};
  const n = count ?? Math.max(Object.keys(id2label).length, 0);
  return Array.from({ length: n }, (_, i) => id2label[String(i)] ?? `LABEL_${i}`);
}

/** Checks a local folder and says which kind of model it holds. */
export function inspectLocalFolder(source: string): LocalModelFolder {
  const folder = expandPath(source);
  if (!existsSync(folder)) {
    if (isDanglingLink(folder)) {
      throw new HostError(
        `The model folder "${source}" is a symbolic link that leads nowhere (a loop or a missing ` +
          `target). Point the setting at the real folder.`,
      );
    }
    throw new HostError(`The model folder "${source}" does not exist.`);
  }
  if (!statSync(folder).isDirectory()) {
    throw new HostError(`"${source}" is a file, not a model folder.`);
  }
  const config = readConfig(folder, source);
  const architecture = architectureOf(config, source);
  const slowTokenizer =
    existsSync(join(folder, 'vocab.json')) && existsSync(join(folder, 'merges.txt'));
  if (!existsSync(join(folder, 'tokenizer.json')) && !slowTokenizer) {
    throw new HostError(
      `The model folder "${source}" has no tokenizer: neither tokenizer.json nor vocab.json + ` +
        `merges.txt. Save the tokenizer with tokenizer.save_pretrained(folder).`,
    );
  }
  for (const name of ['model.onnx', 'model_quantized.onnx']) {
    const file = join(folder, 'onnx', name);
    if (isDanglingLink(file)) {
      throw new HostError(
        `onnx/${name} of "${source}" is a symbolic link that leads nowhere (a loop or a missing ` +
          `target). Replace it with the model file.`,
      );
    }
    if (existsSync(file) && statSync(file).size === 0) {
      throw new HostError(
        `onnx/${name} of "${source}" is empty (0 bytes): the download or export was ` +
          `interrupted. Download or export the model again.`,
      );
    }
  }
  const onnx = ['model.onnx', 'model_quantized.onnx'].some((name) =>
    existsSync(join(folder, 'onnx', name)),
  );
  if (onnx && existsSync(join(folder, 'tokenizer.json')))
    return { folder, config, architecture, format: 'onnx' };
  const safetensors =
    existsSync(join(folder, 'model.safetensors')) ||
    existsSync(join(folder, 'model.safetensors.index.json'));
  if (safetensors) return { folder, config, architecture, format: 'safetensors' };
  // Read by a weights-only pickle reader that never runs anything from the file (torchCheckpoint.ts).
  const pytorch =
    existsSync(join(folder, 'pytorch_model.bin')) ||
    existsSync(join(folder, 'pytorch_model.bin.index.json'));
  if (pytorch) return { folder, config, architecture, format: 'pytorch' };
  if (onnx) {
    throw new HostError(
      `The model folder "${source}" has an ONNX export but no tokenizer.json, which transformers.js ` +
        `needs next to it. Save the tokenizer with a fast tokenizer (tokenizer.save_pretrained(folder)).`,
    );
  }
  throw new HostError(
    `The model folder "${source}" has no weights: expected onnx/model.onnx (an ONNX export), ` +
      `model.safetensors or pytorch_model.bin (a PyTorch checkpoint).`,
  );
}

/** A symbolic link whose target cannot be reached (missing, or a loop: existsSync says false). */
function isDanglingLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink() && !existsSync(path);
  } catch {
    return false;
  }
}

/** Parameter count of the GPT-2 backbone and head, from the config alone. */
export function parameterCount(config: Gpt2Config, architecture: Architecture, labels: number) {
  const e = config.n_embd;
  const inner = config.n_inner ?? 4 * e;
  const perLayer =
    2 * 2 * e + (e * 3 * e + 3 * e) + (e * e + e) + (e * inner + inner) + (inner * e + e);
  const backbone =
    config.vocab_size * e + config.n_positions * e + config.n_layer * perLayer + 2 * e;
  const head: Record<Architecture, number> = {
    GPT2Model: 0,
    GPT2LMHeadModel: 0,
    GPT2ForTokenClassification: e * labels + labels,
    GPT2ForSequenceClassification: e * labels,
    GPT2ForQuestionAnswering: e * 2 + 2,
    GPT2DoubleHeadsModel: e + 1,
  };
  return backbone + head[architecture];
}
