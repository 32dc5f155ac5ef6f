// Features of the frozen backbone for every labelled row, computed once and kept: a word's row is
// the hidden state of its first token (token classification), a text's row the hidden state of
// its last non-pad token (sequence classification pools there). Long sentences are read in the
// editor's windows (documentChunks, with left context), texts truncated to the context as
// Hugging Face's text-classification pipeline does. Windows of similar length run together,
// right-padded (the mask hides the padding; a causal model's real tokens do not see it).
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { Tensor } from 'onnxruntime-node';
import { defaultLeftContextTokens, documentChunks } from '../../../text/documentChunks';
import { throwIfCancelled, type Cancellation } from '../../errors';
import { exclusive } from '../../inferenceQueue';
import { int64Tensor, requireFinite } from '../../tensors';
import type { Backbone } from './backbone';

/** One window to run: its token ids, and which of its positions become which feature rows. */
export interface FeatureWindow {
  ids: number[];
  /** Positions in the window whose hidden state is wanted. */
  positions: number[];
  /** The feature row each position fills. */
  rows: number[];
}

/** Windows for words: each sentence's ids in editor windows; rows are the words' first tokens. */
export function wordWindows(
  sentences: readonly { ids: number[]; firstTokens: number[] }[],
  maxLength: number,
): { windows: FeatureWindow[]; rows: number } {
  const windows: FeatureWindow[] = [];
  let row = 0;
  for (const sentence of sentences) {
    const firstRow = row;
    const rowOfToken = new Map(sentence.firstTokens.map((token, w) => [token, firstRow + w]));
    row += sentence.firstTokens.length;
    const context = Math.min(defaultLeftContextTokens(maxLength), maxLength - 1);
    for (const chunk of documentChunks(sentence.ids, () => false, maxLength, context)) {
      const positions: number[] = [];
      const rows: number[] = [];
      for (let token = chunk.start; token < chunk.end; token++) {
        const target = rowOfToken.get(token);
        if (target === undefined) continue;
        positions.push(token - chunk.windowStart);
        rows.push(target);
      }
      if (positions.length > 0) {
        windows.push({ ids: sentence.ids.slice(chunk.windowStart, chunk.end), positions, rows });
      }
    }
  }
  return { windows, rows: row };
}

/** Index HF's GPT2ForSequenceClassification pools at: the last token that is not padding. */
export function pooledIndex(ids: readonly number[], padTokenId: number): number {
  for (let i = ids.length - 1; i >= 0; i--) if (ids[i] !== padTokenId) return i;
  return 0;
}

/** Windows for texts: the first maxLength tokens of each, one row at the pooled token. */
export function textWindows(
  texts: readonly number[][],
  maxLength: number,
  padTokenId: number,
): { windows: FeatureWindow[]; rows: number } {
  const windows = texts.map((all, row) => {
    const ids = all.slice(0, maxLength);
    return { ids, positions: [pooledIndex(ids, padTokenId)], rows: [row] };
  });
  return { windows, rows: texts.length };
}

/** Batches of windows of similar length, at most `maxTokens` padded tokens each. */
export function batchWindows(
  windows: readonly FeatureWindow[],
  maxTokens = 4096,
): FeatureWindow[][] {
  const order = [...windows].sort((a, b) => a.ids.length - b.ids.length);
  const batches: FeatureWindow[][] = [];
  let current: FeatureWindow[] = [];
  for (const window of order) {
    // Sorted by length: the newest window is the widest.
    const width = window.ids.length;
    if (current.length > 0 && (current.length + 1) * width > maxTokens) {
      batches.push(current);
      current = [];
    }
    current.push(window);
  }
  if (current.length > 0) batches.push(current);
  return batches;
}

/** The inputs of one batch: ids right-padded with `padId`, mask 0 on the padding. */
export function batchFeeds(batch: readonly FeatureWindow[], padId: number): Record<string, Tensor> {
  const width = Math.max(1, ...batch.map((w) => w.ids.length));
  const ids = new Array<number>(batch.length * width).fill(padId);
  const mask = new Array<number>(batch.length * width).fill(0);
  batch.forEach((window, r) => {
    window.ids.forEach((id, i) => {
      ids[r * width + i] = id;
      mask[r * width + i] = 1;
    });
  });
  return {
    input_ids: int64Tensor([batch.length, width], ids),
    attention_mask: int64Tensor([batch.length, width], mask),
  };
}

export interface FeatureProgress {
  tokens: number;
  totalTokens: number;
  tokensPerSecond: number;
  etaSeconds: number;
}

/**
 * Features computed earlier, by backbone and windows, so retraining with other options skips
 * extraction: the last few in memory, and on disk under the cache directory (the CLI's runs).
 */
const cache = new Map<string, Float32Array>();
const cacheEntries = 2;
const diskEntries = 4;

function remember(key: string, features: Float32Array): void {
  cache.set(key, features);
  while (cache.size > cacheEntries) cache.delete(cache.keys().next().value as string);
}

function readDiskCache(
  dir: string | undefined,
  key: string,
  length: number,
): Float32Array | undefined {
  if (!dir) return undefined;
  const file = join(dir, `${key}.f32`);
  try {
    if (!existsSync(file) || statSync(file).size !== length * 4) return undefined;
    const features = new Float32Array(length);
    const buffer = readFileSync(file);
    new Uint8Array(features.buffer).set(buffer);
    utimesSync(file, new Date(), new Date());
    return features;
  } catch {
    return undefined;
  }
}

function writeDiskCache(dir: string | undefined, key: string, features: Float32Array): void {
  if (!dir) return;
  try {
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${key}.f32`);
    const partial = `${file}.partial-${process.pid}`;
    writeFileSync(
      partial,
      new Uint8Array(features.buffer, features.byteOffset, features.byteLength),
    );
    renameSync(partial, file);
    const files = readdirSync(dir)
      .filter((name) => name.endsWith('.f32'))
      .map((name) => ({ path: join(dir, name), used: statSync(join(dir, name)).mtimeMs }))
      .sort((a, b) => b.used - a.used);
    for (const old of files.slice(diskEntries)) rmSync(old.path, { force: true });
  } catch {
    // A cache that cannot be written only costs time on the next run.
  }
}

function cacheKey(backbone: Backbone, windows: readonly FeatureWindow[]): string {
  const hash = createHash('sha256');
  hash.update(backbone.identity);
  for (const window of windows) {
    hash.update(Int32Array.from(window.ids));
    hash.update(Int32Array.from(window.positions));
    hash.update(Int32Array.from(window.rows));
    hash.update('|');
  }
  return hash.digest('hex');
}

/** Runs the backbone over every window and gathers the wanted rows into one [rows, n_embd] matrix. */
export async function extractFeatures(
  backbone: Backbone,
  windows: readonly FeatureWindow[],
  rows: number,
  token: Cancellation,
  onProgress: (progress: FeatureProgress) => void = () => undefined,
  /** `dir`: where features are kept between processes. false: no cache at all (the benchmark). */
  caching: { dir?: string } | false = {},
): Promise<{ features: Float32Array; cached: boolean }> {
  const dim = readDim(backbone);
  const key = caching ? cacheKey(backbone, windows) : '';
  const cacheDir = caching ? caching.dir : undefined;
  const hit = caching ? (cache.get(key) ?? readDiskCache(cacheDir, key, rows * dim)) : undefined;
  if (hit) {
    remember(key, hit);
    return { features: hit, cached: true };
  }
  const features = new Float32Array(rows * dim);
  const totalTokens = windows.reduce((sum, w) => sum + w.ids.length, 0);
  const started = performance.now();
  let done = 0;
  let lastReport = 0;
  for (const batch of batchWindows(windows)) {
    throwIfCancelled(token);
    const outputs = await exclusive(() =>
      backbone.session.run(batchFeeds(batch, backbone.padTokenId)),
    );
    const states = requireFinite(
      backbone.source,
      outputs as Record<string, Tensor>,
    ).last_hidden_state;
    const data = states.data as Float32Array;
    const width = states.dims[1];
    batch.forEach((window, r) => {
      window.positions.forEach((position, i) => {
        const from = (r * width + position) * dim;
        features.set(data.subarray(from, from + dim), window.rows[i] * dim);
      });
      done += window.ids.length;
    });
    const now = performance.now();
    if (now - lastReport > 250 || done === totalTokens) {
      lastReport = now;
      const tokensPerSecond = done / Math.max(1e-3, (now - started) / 1000);
      onProgress({
        tokens: done,
        totalTokens,
        tokensPerSecond,
        etaSeconds: (totalTokens - done) / Math.max(1e-9, tokensPerSecond),
      });
    }
  }
  if (caching) {
    remember(key, features);
    writeDiskCache(cacheDir, key, features);
  }
  return { features, cached: false };
}

export function readDim(backbone: Backbone): number {
  return backbone.tensors.get('transformer.wpe.weight')!.shape[1];
}
