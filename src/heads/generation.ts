// Next-token selection as Hugging Face's generate() does it: logits processors, then the
// sampling warpers (temperature, top_k, top_p) in HF's order, then argmax or a draw.
// Differences from transformers.js 4.x, on purpose: top_p is implemented (it has no warper),
// and sampling draws from a seeded generator so that a seed reproduces a completion.

import { argmax, softmax } from './math';

export interface SamplingConfig {
  do_sample: boolean;
  temperature: number;
  top_k: number;
  top_p: number;
  repetition_penalty: number;
}

/** HF's GenerationConfig defaults for the fields above. */
export const samplingDefaults: SamplingConfig = {
  do_sample: false,
  temperature: 1,
  top_k: 50,
  top_p: 1,
  repetition_penalty: 1,
};

/** HF's RepetitionPenaltyLogitsProcessor: every token already in the sequence is penalised once. */
export function applyRepetitionPenalty(
  scores: Float64Array,
  previousIds: Iterable<number>,
  penalty: number,
): void {
  if (penalty === 1) return;
  for (const id of new Set(previousIds)) {
    if (id < 0 || id >= scores.length) continue;
    const score = scores[id];
    scores[id] = score < 0 ? score * penalty : score / penalty;
  }
}

export function applyTemperature(scores: Float64Array, temperature: number): void {
  if (temperature === 1) return;
  for (let i = 0; i < scores.length; i++) scores[i] /= temperature;
}

/** HF's TopKLogitsWarper: keeps every token scoring at least the k-th best (ties kept). */
export function applyTopK(scores: Float64Array, topK: number, minTokensToKeep = 1): void {
  const k = Math.min(Math.max(topK, minTokensToKeep), scores.length);
  if (topK <= 0 || k >= scores.length) return;
  const threshold = kthLargest(scores, k);
  for (let i = 0; i < scores.length; i++) if (scores[i] < threshold) scores[i] = -Infinity;
}

/**
 * HF's TopPLogitsWarper: sort ascending, remove tokens whose cumulative probability is
 * <= 1 - top_p, always keeping the `minTokensToKeep` most likely ones.
 */
export function applyTopP(scores: Float64Array, topP: number, minTokensToKeep = 1): void {
  if (topP >= 1) return;
  // Tokens already removed (-Infinity, e.g. by top_k) have probability 0 and stay removed; sorting
  // only the others gives HF's result at a fraction of the cost over a 50k vocabulary.
  const order = Array.from(scores.keys())
    .filter((i) => scores[i] > -Infinity)
    .sort((a, b) => scores[a] - scores[b] || a - b);
  const probabilities = softmax(scores);
  let cumulative = 0;
  const lastRemovable = order.length - minTokensToKeep;
  for (let rank = 0; rank < order.length; rank++) {
    cumulative += probabilities[order[rank]];
    if (cumulative <= 1 - topP && rank < lastRemovable) scores[order[rank]] = -Infinity;
  }
}

/** A seeded uniform generator on [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Chooses the next token from one row of logits. */
export function nextToken(
  logits: ArrayLike<number>,
  previousIds: readonly number[],
  config: SamplingConfig,
  random: () => number,
): number {
  const scores = Float64Array.from(logits as ArrayLike<number>);
  applyRepetitionPenalty(scores, previousIds, config.repetition_penalty);
  if (!config.do_sample) return argmax(scores);
  applyTemperature(scores, config.temperature);
  applyTopK(scores, config.top_k);
  applyTopP(scores, config.top_p);
  const probabilities = softmax(scores);
  const draw = random();
  let cumulative = 0;
  for (let i = 0; i < probabilities.length; i++) {
    cumulative += probabilities[i];
    if (draw < cumulative) return i;
  }
  return argmax(probabilities);
}

/**
 * Where generation should stop for HF's stop_strings: the index in `text` just past the first
 * stop string that ends after `searchFrom`, or -1. Stop strings may span token boundaries, so
 * the caller passes the whole generated text each step.
 */
export function stopStringEnd(
  text: string,
  stopStrings: readonly string[],
  searchFrom = 0,
): number {
  let best = -1;
  for (const stop of stopStrings) {
    if (!stop) continue;
    const at = text.indexOf(stop, Math.max(0, searchFrom - stop.length + 1));
    if (at >= 0 && (best < 0 || at + stop.length < best)) best = at + stop.length;
  }
  return best;
}

function kthLargest(scores: Float64Array, k: number): number {
  const sorted = Float64Array.from(scores).sort();
  return sorted[sorted.length - k];
}
