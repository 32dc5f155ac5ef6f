// Surprisal of each token under a causal language model (GPT2LMHeadModel) and the perplexity of
// a text, as Hugging Face computes them: token i's log-probability is log_softmax(logits[i − 1])
// [id_i] (natural log), the first token has none, the mean negative log-likelihood is over the
// scored tokens, and perplexity = exp(mean NLL), the `loss` of GPT2LMHeadModel(input_ids,
// labels=input_ids) for a text within the context. Longer texts follow the sliding-window
// procedure of transformers' "Perplexity of fixed-length models" guide (strideWindows).
// Deliberate additions for people: surprisal in bits (−log₂ p) and colour steps over it.

/** One window of the guide's procedure: tokens [start, end), of which [scoreFrom, end) count. */
export interface ScoredWindow {
  start: number;
  end: number;
  scoreFrom: number;
}

/**
 * The windows of the "Perplexity of fixed-length models" guide: a window of up to `maxLength`
 * tokens starts every `stride` tokens, and each counts only the tokens after the previous
 * window's end (the first window from its second token: token 0 has nothing before it). The
 * last window is the first that reaches the end of the text.
 */
export function strideWindows(
  numTokens: number,
  maxLength: number,
  stride: number,
): ScoredWindow[] {
  if (!Number.isInteger(maxLength) || maxLength < 1) {
    throw new RangeError(`maxLength must be a positive integer, got ${maxLength}`);
  }
  if (!Number.isInteger(stride) || stride < 1 || stride > maxLength) {
    throw new RangeError(
      `stride must be a whole number from 1 to the model's context (${maxLength}), got ${stride}`,
    );
  }
  const windows: ScoredWindow[] = [];
  let previousEnd = 0;
  for (let start = 0; start < numTokens; start += stride) {
    const end = Math.min(start + maxLength, numTokens);
    // The guide masks the labels before the previous end; the label shift drops position 0.
    windows.push({ start, end, scoreFrom: Math.max(previousEnd, start + 1) });
    previousEnd = end;
    if (end === numTokens) break;
  }
  return windows;
}

/** Surprisal in bits of a natural-log probability. */
export function surprisalBits(logprob: number): number {
  return -logprob / Math.LN2;
}

export interface PerplexitySummary {
  /** Mean negative log-likelihood (nats) over the scored tokens; null when none is scored. */
  mean_nll: number | null;
  perplexity: number | null;
  /** mean_nll in bits: the average surprisal per token. */
  bits_per_token: number | null;
  /** How many tokens have a log-probability. */
  scored: number;
}

/** Mean NLL, perplexity and bits per token of the log-probabilities that are not null. */
export function summarize(logprobs: Iterable<number | null>): PerplexitySummary {
  let sum = 0;
  let scored = 0;
  for (const logprob of logprobs) {
    if (logprob === null) continue;
    sum -= logprob;
    scored++;
  }
  if (scored === 0) return { mean_nll: null, perplexity: null, bits_per_token: null, scored };
  const mean = sum / scored;
  return { mean_nll: mean, perplexity: Math.exp(mean), bits_per_token: mean / Math.LN2, scored };
}

/**
 * The colour step of a surprisal: how many of the ascending thresholds (bits) it reaches.
 * 0 = below the first threshold (expected: no colour); thresholds.length = the strongest.
 */
export function surprisalStep(bits: number, thresholds: readonly number[]): number {
  let step = 0;
  while (step < thresholds.length && bits >= thresholds[step]) step++;
  return step;
}

/** Thresholds as a setting may give them: finite numbers, ascending, without repeats. */
export function normalizeThresholds(values: readonly unknown[]): number[] {
  const numbers = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  return [...new Set(numbers)].sort((a, b) => a - b);
}

/**
 * The index of the first token at or above `threshold` bits that starts after `offset`, wrapping
 * round to the start of the list; -1 when no token reaches it. Tokens are in text order.
 */
export function nextSurprising(
  tokens: readonly { start: number; bits: number | null }[],
  offset: number,
  threshold: number,
): number {
  const isOutlier = (i: number) => (tokens[i].bits ?? -Infinity) >= threshold;
  for (let i = 0; i < tokens.length; i++) {
    if (tokens[i].start > offset && isOutlier(i)) return i;
  }
  for (let i = 0; i < tokens.length; i++) if (isOutlier(i)) return i;
  return -1;
}
