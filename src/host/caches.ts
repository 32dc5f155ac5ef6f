// The host's caches of model outputs, each bounded by the bytes it holds rather than by a count
// of entries: a window's logits weigh 4 bytes × tokens × labels, so a count says little (4,096
// POS windows of 1,024 tokens were ~285 MB). Least recently used entries go first.
import { LRUCache } from 'lru-cache';

const MiB = 1024 * 1024;

/** The budgets, in bytes (README "How it works" lists them). */
export const cacheBudgets = {
  /**
   * Logits of editor tagging windows, per token-classification model: a 500,000-character
   * document (the automatic limit) is ~125,000 tokens, 8.5 MB of logits with 17 POS labels, so
   * this holds the open documents of a session several times over.
   */
  taggingWindows: 64 * MiB,
  /** Pooled logits of whole-document classification windows, per model (a few bytes each). */
  documentClassification: 4 * MiB,
  /** Outputs of recent forward passes of a graph shared by several heads, per graph. */
  sharedPasses: 64 * MiB,
  /**
   * Token ids, strings and offsets of recent texts, for all tokenizers together: NER, POS and
   * document classification of one edit tokenise it once. A 500,000-character document is
   * ~125,000 tokens, ~14 MB of them.
   */
  encodedTexts: 32 * MiB,
};

/**
 * Texts kept tokenised at most: an edit makes the document's previous text useless, so a few
 * recent texts (those of the documents being worked on) are all the cache needs to hold.
 */
export const encodedTextsMax = 32;

/**
 * A least-recently-used cache keyed by strings that holds at most `maxBytes`, counting each
 * entry as `bytesOf(value)` plus its key (keys are token ids joined by commas: a window's key can
 * weigh as much as its logits). An entry larger than the whole budget is not kept.
 */
export function byteBoundedCache<V extends object>(
  maxBytes: number,
  bytesOf: (value: V) => number,
  /** Also at most this many entries, for a cache whose entries are soon useless (old texts). */
  maxEntries?: number,
): LRUCache<string, V> {
  return new LRUCache<string, V>({
    ...(maxEntries ? { max: maxEntries } : {}),
    maxSize: maxBytes,
    sizeCalculation: (value, key) => Math.max(1, bytesOf(value) + 2 * key.length),
  });
}

/** A byte-bounded cache per owner (a model), made on first use and dropped with its owner. */
export function cachePerOwner<V extends object>(
  maxBytes: number,
  bytesOf: (value: V) => number,
): (owner: object) => LRUCache<string, V> {
  const caches = new WeakMap<object, LRUCache<string, V>>();
  return (owner) => {
    let cache = caches.get(owner);
    if (!cache) {
      cache = byteBoundedCache(maxBytes, bytesOf);
      caches.set(owner, cache);
    }
    return cache;
  };
}

/** The bytes of the data of some tensors or typed arrays. */
export function bytesOfData(values: Iterable<{ data: unknown } | ArrayBufferView>): number {
  let bytes = 0;
  for (const value of values) {
    const data = ArrayBuffer.isView(value) ? value : value.data;
    if (ArrayBuffer.isView(data)) bytes += data.byteLength;
    else if (Array.isArray(data)) bytes += 8 * data.length;
  }
  return bytes;
}
