// Scoring continuations with a causal LM (GPT2LMHeadModel), for LM multiple choice and
// zero-shot classification. Protocol (as in the reference fixtures): context ids and continuation
// ids are tokenized separately and concatenated (no padding, no BOS); one forward pass; the
// log-prob of each continuation token is the log-softmax, in float64, of the logits at the
// position before it; sum, and mean = sum / number of continuation tokens.

import { logSoftmaxAt, softmax } from './math';

/** The template of the zero-shot protocol; the label replaces '{}' (Python's str.format). */
export const defaultZeroShotTemplate = ' This text is about {}.';

export interface ScoringInput {
  /** context_ids + continuation_ids, what the model is run on. */
  input_ids: number[];
  /** Index in input_ids of the first continuation token (= number of context tokens). */
  continuation_start: number;
}

export interface ContinuationScore {
  token_log_probs: number[];
  sum_log_prob: number;
  n_tokens: number;
  mean_log_prob: number;
}

export interface OptionsScores {
  softmax_of_sum: number[];
  softmax_of_mean: number[];
}

/** The model input for one continuation. The context must hold a token: the first continuation
 *  token is predicted from the position before it. */
export function scoringInput(
  contextIds: readonly number[],
  continuationIds: readonly number[],
): ScoringInput {
  if (contextIds.length === 0) {
    throw new RangeError(
      'LM scoring needs at least one context token to predict the continuation from',
    );
  }
  if (continuationIds.length === 0) {
    throw new RangeError('LM scoring: the continuation has no tokens');
  }
  return { input_ids: [...contextIds, ...continuationIds], continuation_start: contextIds.length };
}

export interface ZeroShotOption {
  label: string;
  continuation: string;
}

/**
 * Zero-shot classification as LM scoring: the text itself is the context and each label,
 * verbalised with the template, a continuation. The template is used as given (the default
 * starts with a space so that 'This' is a new word after the text); nothing is added.
 */
export function zeroShotInputs(
  text: string,
  labels: readonly string[],
  template: string = defaultZeroShotTemplate,
): { context: string; options: ZeroShotOption[] } {
  if (!template.includes('{}')) {
    throw new RangeError(`zero-shot template ${JSON.stringify(template)} has no {}`);
  }
  return {
    context: text,
    options: labels.map((label) => ({ label, continuation: template.split('{}').join(label) })),
  };
}

/**
 * Per-token log-probs of the continuation from the LM logits of the whole input, a row-major
 * [seq, vocab] array (one sequence of a batch). Only the rows before continuation tokens are read.
 */
export function scoreContinuation(
  logits: ArrayLike<number>,
  vocabSize: number,
  input: ScoringInput,
): ContinuationScore {
  const { input_ids, continuation_start } = input;
  if (logits.length < input_ids.length * vocabSize) {
    throw new RangeError(
      `scoreContinuation: logits for ${logits.length / vocabSize} positions, need ${input_ids.length}`,
    );
  }
  const token_log_probs: number[] = [];
  for (let t = continuation_start; t < input_ids.length; t++) {
    token_log_probs.push(logSoftmaxAt(logits, input_ids[t], (t - 1) * vocabSize, vocabSize));
  }
  const sum_log_prob = token_log_probs.reduce((a, b) => a + b, 0);
  const n_tokens = token_log_probs.length;
  return { token_log_probs, sum_log_prob, n_tokens, mean_log_prob: sum_log_prob / n_tokens };
}

/** Softmax over the options of their summed and of their mean log-probs. */
export function scoreOptions(scores: readonly ContinuationScore[]): OptionsScores {
  return {
    softmax_of_sum: Array.from(softmax(scores.map((s) => s.sum_log_prob))),
    softmax_of_mean: Array.from(softmax(scores.map((s) => s.mean_log_prob))),
  };
}
