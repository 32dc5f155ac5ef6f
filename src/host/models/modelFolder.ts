import { existsSync, lstatSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { HostError } from '../errors';
import { isHubId, looksLikePath } from '../../text/modelSources';

export { isHubId };
import {
  architectureOf,
  readGpt2Config,
  type Gpt2Architecture,
  type Gpt2Config,
} from '../convert/gpt2Config';
import { hasSafetensors, hasTorchCheckpoint } from '../convert/weights';

export type FolderFormat = 'onnx' | 'safetensors' | 'pytorch';

export interface LocalModelFolder {
  folder: string;
  config: Gpt2Config;
  architecture: Gpt2Architecture;
  format: FolderFormat;
}

/** A source is a local folder when it looks like a path or names one; otherwise a Hub id. */
export function isLocalSource(source: string): boolean {
  return isAbsolute(source) || looksLikePath(source) || existsSync(source);
}

export function expandPath(source: string): string {
  return resolve(source.startsWith('~') ? join(homedir(), source.slice(1)) : source);
}

/** Labels in id order; HF names missing ones LABEL_i. */
export function labelsOf(config: Gpt2Config, count?: number): string[] {
  const id2label = config.id2label ?? {};
  const n = count ?? Math.max(Object.keys(id2label).length, 0);
  return Array.from({ length: n }, (_, i) => id2label[String(i)] ?? `LABEL_${i}`);
}

/** Checks a local folder and says which kind of model it holds. */
/** How many labels a classification head has: id2label, num_labels, or HF's default of 2. */
export function labelCount(config: Gpt2Config, architecture: Gpt2Architecture): number {
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

export function inspectLocalFolder(source: string): LocalModelFolder {
  const folder = expandPath(source);
  if (!existsSync(folder)) {
    if (isDanglingLink(folder)) {
      throw new HostError(
        `The model folder "${source}" is a symbolic link that leads nowhere (a loop or a missing ` +
          `target). Point the setting at the real folder.`,
      );
    }
    throw new HostError(`The model folder "${source}" does not exist.`, undefined, {
      kind: 'missingFolder',
      model: source,
    });
  }
  if (!statSync(folder).isDirectory()) {
    throw new HostError(`"${source}" is a file, not a model folder.`);
  }
  const config = readGpt2Config(folder, source);
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
  if (hasSafetensors(folder)) return { folder, config, architecture, format: 'safetensors' };
  // Read by a weights-only pickle reader that never runs anything from the file (torchCheckpoint.ts).
  if (hasTorchCheckpoint(folder)) return { folder, config, architecture, format: 'pytorch' };
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
export function parameterCount(config: Gpt2Config, architecture: Gpt2Architecture, labels: number) {
  const e = config.n_embd;
  const inner = config.n_inner ?? 4 * e;
  const perLayer =
    2 * 2 * e + (e * 3 * e + 3 * e) + (e * e + e) + (e * inner + inner) + (inner * e + e);
  const backbone =
    config.vocab_size * e + config.n_positions * e + config.n_layer * perLayer + 2 * e;
  const head: Record<Gpt2Architecture, number> = {
    GPT2Model: 0,
    GPT2LMHeadModel: 0,
    GPT2ForTokenClassification: e * labels + labels,
    GPT2ForSequenceClassification: e * labels,
    GPT2ForQuestionAnswering: e * 2 + 2,
    GPT2DoubleHeadsModel: e + 1,
  };
  return backbone + head[architecture];
}
