// Where a checkpoint's weights are: one file, or shards named by an index file. The index is
// read here only, for converting, for hashing a checkpoint and for downloading its shards.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ModelFormatError } from './gpt2Config';

export const safetensorsFile = 'model.safetensors';
export const safetensorsIndexFile = 'model.safetensors.index.json';
export const torchFile = 'pytorch_model.bin';
export const torchIndexFile = 'pytorch_model.bin.index.json';

export interface ShardIndex {
  /** The index file's path, for messages. */
  path: string;
  /** Tensor name → shard file name (Hugging Face's weight_map). */
  weightMap: Record<string, string>;
  /** Every shard file once, sorted. */
  shards: string[];
}

/** The index `<folder>/<indexFile>` (e.g. model.safetensors.index.json), or undefined if absent. */
export function readShardIndex(folder: string, indexFile: string): ShardIndex | undefined {
  const path = join(folder, indexFile);
  if (!existsSync(path)) return undefined;
  let index: unknown;
  try {
    index = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ModelFormatError(`${path}: not valid JSON (${(error as Error).message})`);
  }
  const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new ModelFormatError(`${path}: weight_map is missing`);
  }
  const map = weightMap as Record<string, unknown>;
  for (const [name, shard] of Object.entries(map)) {
    // A shard is a file beside the index: no folders, so an index cannot point outside.
    if (typeof shard !== 'string' || !/^[\w.-]+$/.test(shard) || shard.startsWith('..')) {
      throw new ModelFormatError(`${path}: tensor ${name} names an invalid shard file`);
    }
  }
  const typed = map as Record<string, string>;
  return { path, weightMap: typed, shards: [...new Set(Object.values(typed))].sort() };
}

/** The safetensors files of a checkpoint folder: the single file, or the index's shards. */
export function safetensorsFiles(folder: string): string[] {
  if (existsSync(join(folder, safetensorsFile))) return [safetensorsFile];
  return readShardIndex(folder, safetensorsIndexFile)?.shards ?? [];
}

/** Whether a folder holds a safetensors checkpoint (one file or an index of shards). */
export function hasSafetensors(folder: string): boolean {
  return (
    existsSync(join(folder, safetensorsFile)) || existsSync(join(folder, safetensorsIndexFile))
  );
}

/** Whether a folder holds a PyTorch checkpoint (pytorch_model.bin, or an index of its shards). */
export function hasTorchCheckpoint(folder: string): boolean {
  return existsSync(join(folder, torchFile)) || existsSync(join(folder, torchIndexFile));
}

/** The weight files of a checkpoint folder: safetensors first, else pytorch_model.bin (or shards). */
export function checkpointWeightFiles(folder: string): string[] {
  const safetensors = safetensorsFiles(folder);
  if (safetensors.length > 0) return safetensors;
  if (existsSync(join(folder, torchFile))) return [torchFile];
  return readShardIndex(folder, torchIndexFile)?.shards ?? [];
}
