// Windows for whole documents in the editor, chosen so that an edit changes few of them.
//
// HF's stride windows start every (max_length − stride) tokens, so inserting one token shifts
// every later window and nothing can be reused. GPT-2 is causal: a token's logits depend only
// on the tokens before it. So the document is cut into chunks at content-defined points (a
// line start, or a token whose hash hits), each chunk is run with up to `leftContextTokens` of
// left context, and each token's logits come from exactly one window. An edit changes only the
// chunk it falls in (and the next chunk's left context when it is near its start); the windows
// are a function of the document alone, so incremental and one-shot results are identical.

import type { Utf16Range } from './offsets';

/** Left-context tokens of editor windows unless set: an eighth of the model's context. */
export function defaultLeftContextTokens(maxLength: number): number {
  return Math.floor(maxLength / 8);
}

/** Whether token i begins a new line: the token before it ends with a line break. */
export function lineStarts(
  text: string,
  offsets: readonly Utf16Range[],
): (index: number) => boolean {
  return (index) => {
    const [start, end] = offsets[index - 1] ?? [0, 0];
    const last = text.charCodeAt(end - 1);
    return end > start && (last === 10 || last === 13);
  };
}

export interface DocumentChunk {
  /** First token of the window (left context included). */
  windowStart: number;
  /** First token whose logits this window provides. */
  start: number;
  /** One past the last token of the chunk. */
  end: number;
}

/**
 * @param ids token ids of the whole document
 * @param isLineStart whether token i begins a new line (its predecessor ends with "\n")
 * @param maxLength the model's context (n_positions)
 * @param leftContextTokens left-context tokens per window (< maxLength)
 */
export function documentChunks(
  ids: readonly number[],
  isLineStart: (index: number) => boolean,
  maxLength: number,
  leftContextTokens: number,
): DocumentChunk[] {
  if (leftContextTokens >= maxLength || leftContextTokens < 0) {
    throw new RangeError(
      `leftContextTokens (${leftContextTokens}) must be at least 0 and below maxLength (${maxLength})`,
    );
  }
  const capacity = maxLength - leftContextTokens;
  // Chunks are at least a third of the room and longer than the left context, so an edit re-runs
  // its own window and at most the next one (whose left context it may fall in).
  const minChunk = Math.min(capacity, Math.max(leftContextTokens + 1, Math.floor(capacity / 3)));
  const period = Math.max(2, Math.floor(capacity / 3));
  const chunks: DocumentChunk[] = [];
  let start = 0;
  for (let i = 1; i <= ids.length; i++) {
    const length = i - start;
    const atEnd = i === ids.length;
    const natural =
      !atEnd && length >= minChunk && (isLineStart(i) || cutHash(ids, i) % period === 0);
    if (atEnd || natural || length >= capacity) {
      chunks.push({ windowStart: Math.max(0, start - leftContextTokens), start, end: i });
      start = i;
    }
  }
  return chunks;
}

/** A hash of the two tokens before a position: cuts depend on local content only. */
function cutHash(ids: readonly number[], index: number): number {
  let h = Math.imul(ids[index - 1] ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(ids[index] ?? 0, 0xc2b2ae35);
  h ^= h >>> 13;
  h = Math.imul(h, 0x27d4eb2f);
  return (h ^ (h >>> 16)) >>> 0;
}
