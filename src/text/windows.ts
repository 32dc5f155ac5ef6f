/** One window over a token sequence: tokens [start, start + length), then `padding` pad tokens. */
export interface TokenWindow {
  start: number;
  length: number;
  /** Pad tokens HF appends when it batches the windows (padding=True pads to the longest). */
  padding: number;
}

/**
 * The windows Hugging Face makes for a long input with `stride` (a fast tokenizer's
 * return_overflowing_tokens with truncation to `maxLength`): window k starts at token
 * k·(maxLength − stride), each holds up to maxLength tokens, and the last one is the first that
 * reaches the end. Consecutive windows share `stride` tokens (the last may share more).
 * An input that fits is one window, even an empty one.
 */
export function windowsFor(numTokens: number, maxLength: number, stride = 0): TokenWindow[] {
  if (!Number.isInteger(numTokens) || numTokens < 0) {
    throw new RangeError(`windowsFor: numTokens must be a non-negative integer, got ${numTokens}`);
  }
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new RangeError(`windowsFor: maxLength must be a positive integer, got ${maxLength}`);
  }
  if (!Number.isInteger(stride) || stride < 0 || stride >= maxLength) {
    throw new RangeError(
      `windowsFor: stride must be an integer in [0, maxLength), got ${stride} with maxLength ${maxLength}`,
    );
  }
  if (numTokens <= maxLength) return [{ start: 0, length: numTokens, padding: 0 }];
  const step = maxLength - stride;
  const windows: TokenWindow[] = [];
  for (let start = 0; ; start += step) {
    const length = Math.min(maxLength, numTokens - start);
    windows.push({ start, length, padding: maxLength - length });
    if (start + length === numTokens) return windows;
  }
}
