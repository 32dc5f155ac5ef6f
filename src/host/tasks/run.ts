import { createHash } from 'node:crypto';
import type { Tensor } from 'onnxruntime-node';
import type { EncodeCacheStatus } from '../../protocol';
import { byteBoundedCache, cacheBudgets, encodedTextsMax } from '../caches';
import { exclusive } from '../inferenceQueue';
import { tokenOffsets, type EncodedText } from '../../text/offsets';
import type { Gpt2Architecture } from '../convert/gpt2Config';
import { HostError } from '../errors';
import { int64Tensor, requireFinite } from '../tensors';
import type { LoadedModel } from '../models/loadedModel';
import { isRemoteSession } from '../models/remote/openInference';

/** Refuses a model of another architecture than the task's, saying what to set instead. */
export function requireArchitecture(
  model: LoadedModel,
  architecture: Gpt2Architecture,
  kind: string,
  advice: string,
): void {
  if (model.architecture !== architecture) {
    throw new HostError(
      `"${model.source}" is a ${model.architecture}, not a ${kind} model (${architecture}). ${advice}`,
    );
  }
}

interface TokenizerInternals {
  _tokenizer: { id_to_token(id: number): string | undefined };
  /** What transformers.js built the tokenizer from: tokenizer.json and tokenizer_config.json. */
  _tokenizerJSON?: unknown;
  _tokenizerConfig?: unknown;
}

/**
 * Recent encodings by tokenizer and text. The heads of one family are separate models with
 * separate tokenizer objects but the same tokenizer files, so a tokenizer is known by a digest of
 * what it was built from: NER, POS and classification of one document tokenise it once.
 */
const encodedTexts = byteBoundedCache<EncodedText>(
  cacheBudgets.encodedTexts,
  bytesOfEncoded,
  encodedTextsMax,
);
const encodeCounts = { hits: 0, misses: 0 };
const tokenizerKeys = new WeakMap<object, string>();
let unknownTokenizers = 0;

function tokenizerKey(tokenizer: object): string {
  let key = tokenizerKeys.get(tokenizer);
  if (key === undefined) {
    const { _tokenizerJSON: json, _tokenizerConfig: config } = tokenizer as TokenizerInternals;
    key =
      json === undefined
        ? `tokenizer ${++unknownTokenizers}`
        : createHash('sha256')
            .update(JSON.stringify([json, config]))
            .digest('base64');
    tokenizerKeys.set(tokenizer, key);
  }
  return key;
}

/**
 * An estimate of the heap an encoding holds: per token an id, a [start, end] array (~64 bytes)
 * and a short string, plus the arrays' slots.
 */
function bytesOfEncoded(encoded: EncodedText): number {
  let bytes = 0;
  for (const token of encoded.tokens) bytes += 2 * token.length;
  return bytes + 112 * encoded.tokens.length;
}

/** Token ids, byte-level token strings and UTF-16 offsets of a text (shared: do not modify). */
export function encode(model: LoadedModel, text: string): EncodedText {
  const key = `${tokenizerKey(model.tokenizer)} ${createHash('sha256').update(text).digest('base64')}`;
  const cached = encodedTexts.get(key);
  if (cached) {
    encodeCounts.hits++;
    return cached;
  }
  encodeCounts.misses++;
  const ids = model.tokenizer.encode(text, { add_special_tokens: false });
  const inner = (model.tokenizer as unknown as TokenizerInternals)._tokenizer;
  const tokens = ids.map((id) => inner.id_to_token(id) ?? '');
  const encoded = { ids, tokens, offsets: tokenOffsets(text, tokens) };
  // Frozen: every request that tokenises the same text gets these same arrays.
  Object.freeze(ids);
  Object.freeze(tokens);
  Object.freeze(encoded.offsets);
  encodedTexts.set(key, encoded);
  return encoded;
}

/** How the encode cache does, for the status request (and the tests that read it). */
export function encodeCacheStatus(): EncodeCacheStatus {
  return {
    entries: encodedTexts.size,
    bytes: encodedTexts.calculatedSize,
    maxBytes: cacheBudgets.encodedTexts,
    ...encodeCounts,
  };
}

/**
 * Runs a model without a key/value cache on rows of ids, right-padded with `padId` (mask 0),
 * and returns the named outputs. Rows may have different lengths.
 */
export async function runPadded(
  model: LoadedModel,
  rows: readonly (readonly number[])[],
  extra: Record<string, Tensor> = {},
  /** Outputs to compute (all when omitted): onnxruntime skips the nodes only others need. */
  fetches?: string[],
): Promise<Record<string, Tensor>> {
  const width = Math.max(1, ...rows.map((row) => row.length));
  const padId = model.config.pad_token_id ?? model.config.eos_token_id ?? 0;
  const ids = new Array<number>(rows.length * width).fill(padId);
  const mask = new Array<number>(rows.length * width).fill(0);
  rows.forEach((row, r) => {
    row.forEach((id, i) => {
      ids[r * width + i] = id;
      mask[r * width + i] = 1;
    });
  });
  const feeds: Record<string, Tensor> = {
    input_ids: int64Tensor([rows.length, width], ids),
    attention_mask: int64Tensor([rows.length, width], mask),
    ...extra,
  };
  if (model.session.inputNames.includes('position_ids') && !extra.position_ids) {
    feeds.position_ids = int64Tensor(
      [rows.length, width],
      Array.from({ length: rows.length * width }, (_, i) => i % width),
    );
  }
  const run = () => (fetches ? model.session.run(feeds, fetches) : model.session.run(feeds));
  // A serving engine queues and batches its own requests: local calls must not wait for them.
  const outputs = await (isRemoteSession(model.session) ? run() : exclusive(run));
  return requireFinite(model.source, outputs as Record<string, Tensor>);
}
