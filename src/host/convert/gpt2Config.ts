// config.json of a GPT-2 model: the one reader (file, JSON, validation) that loading, converting
// and sharing a backbone all use, and the architectures GPT-2 Heads runs.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HostError } from '../errors';

export const ARCHITECTURES = [
  'GPT2Model',
  'GPT2LMHeadModel',
  'GPT2ForTokenClassification',
  'GPT2ForSequenceClassification',
  'GPT2ForQuestionAnswering',
  'GPT2DoubleHeadsModel',
] as const;
export type Gpt2Architecture = (typeof ARCHITECTURES)[number];

/** config.json as Hugging Face writes it: the fields GPT-2 Heads reads, by HF's names. */
export interface Gpt2Config {
  architectures?: string[];
  model_type?: string;
  vocab_size: number;
  n_positions: number;
  n_ctx?: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_inner?: number | null;
  activation_function?: string;
  layer_norm_epsilon?: number;
  scale_attn_weights?: boolean;
  scale_attn_by_inverse_layer_idx?: boolean;
  add_cross_attention?: boolean;
  tie_word_embeddings?: boolean;
  num_labels?: number;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
  pad_token_id?: number | null;
  eos_token_id?: number | null;
  bos_token_id?: number | null;
  problem_type?: string | null;
  summary_type?: string;
  summary_use_proj?: boolean;
  summary_proj_to_labels?: boolean;
  summary_activation?: string | null;
  [key: string]: unknown;
}

/**
 * What is wrong with a model's files (config.json, weights), said so that the user can fix it.
 * A HostError, so the host answers with the message as it is.
 */
export class ModelFormatError extends HostError {
  constructor(message: string) {
    super(message);
    this.name = 'ModelFormatError';
  }
}

/** Reads and validates `<folder>/config.json`; `source` names the model in messages. */
export function readGpt2Config(folder: string, source = folder): Gpt2Config {
  const path = join(folder, 'config.json');
  if (!existsSync(path)) {
    throw new ModelFormatError(
      `The model folder "${source}" has no config.json. A model folder is a Hugging Face ` +
        `model repository: config.json, tokenizer.json and onnx/model.onnx or model.safetensors.`,
    );
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ModelFormatError(
      `config.json of "${source}" cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}). ` +
        `Check that the file is readable by your user.`,
    );
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new ModelFormatError(
      `config.json of "${source}" is not valid JSON: ${(error as Error).message}`,
    );
  }
  return validateGpt2Config(config, source);
}

/** Writes `<folder>/config.json` as save_pretrained does (two-space JSON, final newline). */
export function writeGpt2Config(folder: string, config: Gpt2Config): void {
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'config.json'), JSON.stringify(config, null, 2) + '\n');
}

const requiredSizes = ['vocab_size', 'n_positions', 'n_embd', 'n_layer', 'n_head'] as const;

/** Checks a parsed config.json (from a folder or the Hub) and returns it typed. */
export function validateGpt2Config(value: unknown, source: string): Gpt2Config {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ModelFormatError(
      `config.json of "${source}" is not a JSON object; it must be a Hugging Face GPT-2 config.`,
    );
  }
  const config = value as Gpt2Config;
  if (config.model_type !== undefined && config.model_type !== 'gpt2') {
    throw new ModelFormatError(
      `"${source}" is a ${String(config.model_type)} model; GPT-2 Heads runs GPT-2 models only ` +
        `(config.json "model_type": "gpt2").`,
    );
  }
  for (const key of requiredSizes) {
    const size = config[key];
    if (typeof size !== 'number' || !Number.isInteger(size) || size <= 0) {
      throw new ModelFormatError(
        `config.json of "${source}" has no valid "${key}" (found ${JSON.stringify(size)}).`,
      );
    }
  }
  if (config.n_embd % config.n_head !== 0) {
    throw new ModelFormatError(
      `config.json of "${source}": n_embd (${config.n_embd}) is not a multiple of n_head (${config.n_head}).`,
    );
  }
  return config;
}

/** The model's class from config.json "architectures" (GPT2Model when it names none). */
export function architectureOf(config: Gpt2Config, source = 'config.json'): Gpt2Architecture {
  const name = config.architectures?.[0] ?? 'GPT2Model';
  if (!(ARCHITECTURES as readonly string[]).includes(name)) {
    throw new ModelFormatError(
      `The architecture "${name}" is not supported: "${source}" is a ${name}, which GPT-2 Heads ` +
        `does not run. Supported: ${ARCHITECTURES.join(', ')}.`,
    );
  }
  return name as Gpt2Architecture;
}
