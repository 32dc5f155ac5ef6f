// What a loaded model is, for the tasks that run it and the registry that loads it.
import type { InferenceSession } from 'onnxruntime-common';
import type { PreTrainedTokenizer } from '@huggingface/transformers' with {
  'resolution-mode': 'import',
};
import type { ModelInfo, WeightDtype } from '../../protocol';
import type { Gpt2Architecture, Gpt2Config } from '../convert/gpt2Config';

export interface LoadedModel {
  source: string;
  /** Local folder the files were read from (after download or conversion). */
  folder: string;
  config: Gpt2Config;
  architecture: Gpt2Architecture;
  tokenizer: PreTrainedTokenizer;
  session: InferenceSession;
  /** generation_config.json, or {} when the folder has none. */
  generationConfig: Record<string, unknown>;
  info: ModelInfo;
}

/** Turns a safetensors checkpoint folder into an ONNX folder; returns the ONNX folder. */
export type CheckpointConverter = (
  folder: string,
  cacheDir: string,
  dtype: WeightDtype,
  report: (message: string) => void,
  /** Stops the conversion (the load was cancelled). */
  signal?: AbortSignal,
) => Promise<string>;
