// The frozen GPT-2 a head is trained on: its weights (to run it, and to save them beside the new
// head), its tokenizer, and a session of the project's own GPT-2 graph (src/host/convert) that
// outputs last_hidden_state. It is the graph every converted head runs, so the features the head
// learns from are the ones it sees once the saved folder is loaded.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { InferenceSession } from 'onnxruntime-node';
import type { PreTrainedTokenizer } from '@huggingface/transformers' with {
  'resolution-mode': 'import',
};
import { readCheckpointWeights } from '../../convert/checkpoint';
import {
  backboneTensors,
  buildGpt2Graph,
  readGpt2Dims,
  type WeightTensor,
  type Weights,
} from '../../convert/gpt2Graph';
import { HostError } from '../../errors';
import { hubCheckpoint } from '../../models/hubCheckpoint';
import { readGpt2Config, type Gpt2Config } from '../../convert/gpt2Config';
import { expandPath, isHubId, isLocalSource } from '../../models/modelFolder';
import { transformers } from '../../models/runtime';

export interface BackboneSettings {
  cacheDir: string;
  offline: boolean;
  /** onnxruntime intra-op threads; 0 = automatic. */
  threads: number;
}

export interface Backbone {
  source: string;
  /** A local folder with config.json and the tokenizer files. */
  folder: string;
  config: Gpt2Config;
  /** The backbone's tensors under transformers' names (`transformer.…`). */
  tensors: Map<string, WeightTensor>;
  tokenizer: PreTrainedTokenizer;
  /** input_ids, attention_mask [batch, seq] → last_hidden_state [batch, seq, n_embd]. */
  session: InferenceSession;
  /** Names the weights, for the feature cache. */
  identity: string;
  padTokenId: number;
}

/** Where a backbone's weights are: a safetensors checkpoint, or the initializers of an fp32 export. */
function readWeights(folder: string, source: string): Weights {
  if (
    existsSync(join(folder, 'model.safetensors')) ||
    existsSync(join(folder, 'model.safetensors.index.json'))
  ) {
    return readCheckpointWeights(folder);
  }
  const file = join(folder, 'onnx', 'model.onnx');
  if (!existsSync(file)) {
    throw new HostError(
      `"${source}" has neither model.safetensors nor onnx/model.onnx (fp32). Training a head ` +
        `needs the backbone's full-precision weights, to run it and to save them with the head.`,
    );
  }
  const model = onnx.ModelProto.decode(readFileSync(file));
  const weights: Weights = new Map();
  for (const tensor of model.graph?.initializer ?? []) {
    if (tensor.dataType !== 1 || !tensor.name) continue;
    const count = (tensor.dims ?? []).reduce<number>((a, b) => a * Number(b), 1);
    let data: Float32Array;
    if (tensor.rawData && tensor.rawData.length > 0) {
      data = new Float32Array(count);
      new Uint8Array(data.buffer).set(tensor.rawData.subarray(0, count * 4));
    } else if (tensor.floatData && tensor.floatData.length === count) {
      data = Float32Array.from(tensor.floatData);
    } else continue;
    weights.set(tensor.name, { shape: (tensor.dims ?? []).map(Number), data });
  }
  return weights;
}

function weightFiles(folder: string): string[] {
  return ['model.safetensors', 'model.safetensors.index.json', 'onnx/model.onnx']
    .map((name) => join(folder, name))
    .filter((file) => existsSync(file));
}

async function localFolder(
  source: string,
  settings: BackboneSettings,
  signal: AbortSignal,
  report: (message: string) => void,
): Promise<string> {
  if (isLocalSource(source)) {
    const folder = expandPath(source);
    if (!existsSync(folder) || !statSync(folder).isDirectory()) {
      throw new HostError(`The backbone folder "${source}" does not exist.`);
    }
    return folder;
  }
  if (!isHubId(source)) {
    throw new HostError(
      `"${source}" is neither an existing folder nor a Hugging Face Hub id (owner/name).`,
    );
  }
  report(`Fetching the checkpoint of ${source}…`);
  try {
    return await hubCheckpoint(source, settings.cacheDir, settings.offline, signal, report);
  } catch (error) {
    if (signal.aborted || settings.offline) throw error;
    throw new HostError(
      `Training needs the backbone's weights as a safetensors checkpoint, and "${source}" could ` +
        `not provide one (${(error as Error).message.replace(/\.$/, '')}). ONNX-only repositories such as ` +
        `Xenova/gpt2 cannot be trained on: choose openai-community/gpt2 or a local GPT-2 folder.`,
    );
  }
}

export async function openBackbone(
  source: string,
  settings: BackboneSettings,
  signal: AbortSignal,
  report: (message: string) => void,
): Promise<Backbone> {
  const folder = await localFolder(source, settings, signal, report);
  const config = readGpt2Config(folder, source);
  if (!existsSync(join(folder, 'tokenizer.json'))) {
    throw new HostError(
      `The backbone "${source}" has no tokenizer.json; the saved head needs the tokenizer. ` +
        `Save it with tokenizer.save_pretrained(folder).`,
    );
  }
  report('Reading the backbone weights…');
  const dims = readGpt2Dims(config);
  let tensors: Map<string, WeightTensor>;
  try {
    tensors = backboneTensors(dims, readWeights(folder, source));
  } catch (error) {
    throw new HostError(
      `The backbone weights of "${source}" cannot be used: ${(error as Error).message}. ` +
        `Use a folder with model.safetensors, or an fp32 ONNX export whose weights keep ` +
        `transformers' names.`,
    );
  }
  report('Loading the tokenizer…');
  const tokenizer = await transformers().AutoTokenizer.from_pretrained(folder, {
    local_files_only: true,
  });
  report('Building the feature graph…');
  const graph = buildGpt2Graph(config, tensors, { heads: [], hiddenStates: true });
  const session = await InferenceSession.create(graph, {
    ...(settings.threads > 0 ? { intraOpNumThreads: settings.threads } : {}),
    interOpNumThreads: 1,
  });
  const identity = createHash('sha256');
  identity.update(folder);
  for (const file of weightFiles(folder)) {
    const stat = statSync(file);
    identity.update(`${file}:${stat.size}:${stat.mtimeMs}`);
  }
  const padTokenId =
    (config.pad_token_id as number | null | undefined) ??
    (config.eos_token_id as number | undefined) ??
    dims.vocabSize - 1;
  return {
    source,
    folder,
    config,
    tensors,
    tokenizer,
    session,
    identity: identity.digest('hex'),
    padTokenId,
  };
}

/** Token ids of a text, as the host's tasks encode it (no special tokens). */
export function encodeIds(backbone: Backbone, text: string): number[] {
  return backbone.tokenizer.encode(text, { add_special_tokens: false });
}
