// Multiple choice. With a GPT2DoubleHeadsModel: the mc head's logit at each choice's mc token,
// softmax over the choices. Without one: each choice scored by an LM's log-likelihood of the
// choice given the context (see lmScoring.ts), length-normalised, softmax over the choices.
// Hugging Face has no multiple-choice pipeline; the input layout follows GPT2DoubleHeadsModel's
// documentation and the reference fixtures.

import { softmax } from './math';
import type { ContinuationScore } from './lmScoring';

export interface DoubleHeadsInputs {
  /** [num_choices, seq], right-padded with the pad id. */
  input_ids: number[][];
  attention_mask: number[][];
  /** [num_choices]: the index of each choice's last real token. */
  mc_token_ids: number[];
}

/**
 * The [choices, seq] inputs of GPT2DoubleHeadsModel. Each row is the tokens of context + choice
 * as one string (tokenized by the caller), right-padded with padTokenId to the longest row (or
 * to padTo, e.g. to batch several questions), attention_mask 0 on padding, and mc_token_ids the
 * last real token. That index is taken from the row's length, not from searching for the pad id,
 * so a choice ending in a literal pad token (GPT-2's pad is <|endoftext|>) keeps it.
 */
export function doubleHeadsInputs(
  choiceIds: ReadonlyArray<readonly number[]>,
  padTokenId: number,
  padTo?: number,
): DoubleHeadsInputs {
  if (choiceIds.length === 0) throw new RangeError('doubleHeadsInputs: no choices');
  if (choiceIds.some((ids) => ids.length === 0)) {
    throw new RangeError('doubleHeadsInputs: a choice has no tokens');
  }
  const longest = Math.max(...choiceIds.map((ids) => ids.length));
  const length = padTo ?? longest;
  if (length < longest) {
    throw new RangeError(`doubleHeadsInputs: padTo ${padTo} is shorter than a row (${longest})`);
  }
  return {
    input_ids: choiceIds.map((ids) => [
      ...ids,
      ...new Array<number>(length - ids.length).fill(padTokenId),
    ]),
    attention_mask: choiceIds.map((ids) =>
      ids.map(() => 1).concat(new Array<number>(length - ids.length).fill(0)),
    ),
    mc_token_ids: choiceIds.map((ids) => ids.length - 1),
  };
}

/** Softmax over the choices of the double-heads model's mc_logits (one question). */
export function doubleHeadsScores(mcLogits: readonly number[]): number[] {
  if (mcLogits.length === 0) throw new RangeError('doubleHeadsScores: no choices');
  return Array.from(softmax(mcLogits));
}

export type LengthNormalisation = 'mean' | 'sum';

/** Softmax over the choices of their LM log-likelihoods, by default the per-token mean. */
export function lmChoiceScores(
  scores: readonly ContinuationScore[],
  normalisation: LengthNormalisation = 'mean',
): number[] {
  if (scores.length === 0) throw new RangeError('lmChoiceScores: no choices');
  return Array.from(
    softmax(scores.map((s) => (normalisation === 'mean' ? s.mean_log_prob : s.sum_log_prob))),
  );
}

export interface RankedChoice {
  index: number;
  choice: string;
  score: number;
}

/** The choices best first (stable: equal scores keep the given order). */
export function rankChoices(choices: readonly string[], scores: readonly number[]): RankedChoice[] {
  if (choices.length !== scores.length) {
    throw new RangeError(`rankChoices: ${choices.length} choices but ${scores.length} scores`);
  }
  return choices
    .map((choice, index) => ({ index, choice, score: scores[index] }))
    .sort((a, b) => b.score - a.score);
}
