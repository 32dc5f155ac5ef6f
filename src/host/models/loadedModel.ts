// What a loaded model is, for the tasks that run it and the registry that loads it.
import { performance } from 'node:perf_hooks';
import type { InferenceSession } from 'onnxruntime-common';
import type { PreTrainedTokenizer } from '@huggingface/transformers' with {
  'resolution-mode': 'import',
};
import type { ModelInfo, WeightDtype } from '../../protocol';
import type { Gpt2Architecture, Gpt2Config } from '../convert/gpt2Config';
import { parameterCount } from './modelFolder';

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

/**
 * A model ready to run, and its facts for the status, from what every way of loading one knows (a
 * local graph or a serving engine); `more` adds what only some know (format, dtype, endpoint…).
 */
export function readyModel(
  model: Omit<LoadedModel, 'info'>,
  facts: { labels: string[]; started: number; local: boolean },
  more: Partial<ModelInfo>,
): LoadedModel {
  const { source, folder, config, architecture } = model;
  const { labels, started, local } = facts;
  return {
    ...model,
    generationConfig: { ...model.generationConfig },
    info: {
      source,
      roles: [],
      state: 'ready',
      architecture,
      labels,
      contextLength: config.n_positions,
      parameterCount: parameterCount(config, architecture, labels.length),
      loadMs: Math.round(performance.now() - started),
      folder: local ? folder : undefined,
      ...more,
    },
  };
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
