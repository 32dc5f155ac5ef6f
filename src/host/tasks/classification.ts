import type { Tensor } from 'onnxruntime-node';
import {
  classifyDocument,
  classifySequence,
  type FunctionToApply,
  type ProblemType,
  type WindowAggregation,
} from '../../heads/sequenceClassification';
import { scoreContinuation, scoringInput, zeroShotInputs } from '../../heads/lmScoring';
import { softmax } from '../../heads/math';
import { defaultLeftContextTokens, documentChunks, lineStarts } from '../../text/documentChunks';
import { errorCodes, type ClassifyOptions, type ClassifyResult } from '../../protocol';
import { cacheBudgets, cachePerOwner } from '../caches';
import { HostError, throwIfCancelled, type Cancellation } from '../errors';
import type { LoadedModel } from '../models/loadedModel';
import { emptyPastKeyValues, int64Tensor, labelLogits } from '../tensors';
import { scoreRemote } from '../models/remote/openaiCompletions';
import { completionsFor } from '../models/remote/remoteModel';
import { encode, requireArchitecture, runPadded } from './run';

/** A classify request's result before the model's name and the method are added. */
export type ClassificationResult = Omit<ClassifyResult, 'model' | 'zeroShot'>;

export interface ClassificationOptions {
  function_to_apply?: FunctionToApply;
  top_k?: number | null;
}

function requireSequenceClassifier(model: LoadedModel): void {
  requireArchitecture(
    model,
    'GPT2ForSequenceClassification',
    'sequence-classification',
    'Set "gpt2Heads.classification.model" to such a model, or leave it empty and list labels ' +
      'in "gpt2Heads.zeroShot.labels" for zero-shot.',
  );
}

function classifierConfig(model: LoadedModel) {
  return {
    id2label: model.config.id2label,
    problem_type: (model.config.problem_type ?? null) as ProblemType | null,
  };
}

async function pooledLogits(model: LoadedModel, ids: readonly number[]): Promise<number[]> {
  const outputs = await runPadded(model, [ids]);
  const logits = labelLogits(model.source, outputs, model.info.labels?.length ?? 0, false);
  return Array.from(logits.data as Float32Array);
}

/** HF's text-classification pipeline with truncation=True: the first n_positions tokens. */
export async function classifyText(
  model: LoadedModel,
  text: string,
  options: ClassificationOptions = {},
): Promise<ClassificationResult> {
  requireSequenceClassifier(model);
  const ids = model.tokenizer.encode(text, { add_special_tokens: false });
  if (ids.length === 0) throw new HostError('There is no text to classify.', errorCodes.badInput);
  const truncated = ids.slice(0, model.config.n_positions);
  const logits = await pooledLogits(model, truncated);
  return {
    labels: classifySequence(logits, { ...classifierConfig(model), ...options }),
    windows: 1,
    tokens: truncated.length,
  };
}

/** Pooled logits of recent document windows by their token ids (8 bytes a number). */
const documentCache = cachePerOwner<number[]>(
  cacheBudgets.documentClassification,
  (logits) => 8 * logits.length,
);

/**
 * The whole document: consecutive windows of the model's context, each classified, the
 * probabilities averaged weighted by window tokens (or their maximum). Window logits are cached
 * by content, so after an edit only the changed windows run again.
 */
export async function classifyWholeDocument(
  model: LoadedModel,
  text: string,
  options: ClassificationOptions & { aggregation?: WindowAggregation },
  token: Cancellation,
): Promise<ClassificationResult> {
  requireSequenceClassifier(model);
  const encoded = encode(model, text);
  const ids = encoded.ids;
  if (ids.length === 0) throw new HostError('There is no text to classify.', errorCodes.badInput);
  const cache = documentCache(model);
  // The same windows as NER/POS tagging (see documentChunks): an edit changes only its own, and
  // a sequence head that shares their backbone gets its logits from the same forward passes.
  const maxLength = model.config.n_positions;
  const chunks = documentChunks(
    ids,
    lineStarts(text, encoded.offsets),
    maxLength,
    defaultLeftContextTokens(maxLength),
  );
  const windowLogits: number[][] = [];
  const counts: number[] = [];
  for (const chunk of chunks) {
    throwIfCancelled(token);
    const windowIds = ids.slice(chunk.windowStart, chunk.end);
    const key = windowIds.join(',');
    let logits = cache.get(key);
    if (!logits) {
      logits = await pooledLogits(model, windowIds);
      cache.set(key, logits);
    }
    windowLogits.push(logits);
    // A window counts for the tokens it adds; its left context belongs to the window before.
    counts.push(chunk.end - chunk.start);
    token.report?.(counts.length, chunks.length);
  }
  const result = classifyDocument(windowLogits, counts, {
    ...classifierConfig(model),
    ...options,
  });
  return { labels: result.labels, windows: result.windows_read, tokens: ids.length };
}

/**
 * The LM's log-likelihood of each continuation after the context, one forward pass each
 * (context tokens, then continuation tokens; contexts too long for the window lose their start).
 */
export async function scoreContinuations(
  model: LoadedModel,
  context: string,
  continuations: readonly string[],
  token: Cancellation,
) {
  const remote = completionsFor(model);
  if (remote) return scoreRemote(remote, context, continuations, token);
  const contextIds = model.tokenizer.encode(context, { add_special_tokens: false });
  if (contextIds.length === 0) {
    const eos = model.config.eos_token_id;
    if (typeof eos !== 'number')
      throw new HostError('There is no text to score the options after.', errorCodes.badInput);
    contextIds.push(eos);
  }
  const scores = [];
  for (const continuation of continuations) {
    throwIfCancelled(token);
    const continuationIds = model.tokenizer.encode(continuation, { add_special_tokens: false });
    if (continuationIds.length === 0) {
      throw new HostError(
        `Option ${scores.length + 1} is empty: there is nothing to score.`,
        errorCodes.badInput,
      );
    }
    if (continuationIds.length >= model.config.n_positions) {
      throw new HostError(
        `An option is ${continuationIds.length} tokens long, more than the model's context ` +
          `(${model.config.n_positions} tokens).`,
        errorCodes.badInput,
      );
    }
    const room = model.config.n_positions - continuationIds.length;
    const input = scoringInput(contextIds.slice(-room), continuationIds);
    const logits = await lmLogits(model, input.input_ids);
    scores.push(scoreContinuation(logits, model.config.vocab_size, input));
  }
  return scores;
}

/**
 * LM logits of one sequence (empty past for KV-cache graphs): every position, or with `keep` > 0
 * the last `keep` positions (graphs with num_logits_to_keep then skip the others' LM head).
 */
export async function lmLogits(
  model: LoadedModel,
  ids: readonly number[],
  keep = 0,
): Promise<Float32Array> {
  const extra: Record<string, Tensor> = model.session.inputNames.includes('past_key_values.0.key')
    ? emptyPastKeyValues(model.config)
    : {};
  if (model.session.inputNames.includes('num_logits_to_keep')) {
    extra.num_logits_to_keep = int64Tensor([], [keep]);
  }
  const outputs = await runPadded(model, [ids], extra, ['logits']);
  const logits = outputs.logits as Tensor | undefined;
  if (!logits)
    throw new HostError(`"${model.source}" has no "logits" output: it is not a language model.`);
  const [, positions, vocab] = logits.dims;
  const data = logits.data as Float32Array;
  return keep > 0 && positions > keep ? data.subarray((positions - keep) * vocab) : data;
}

/**
 * Zero-shot classification with the LM: each label verbalised in the template after the text,
 * scored by its mean token log-likelihood, softmax over the labels.
 */
export async function zeroShot(
  model: LoadedModel,
  text: string,
  labels: readonly string[],
  template: string | undefined,
  token: Cancellation,
): Promise<ClassificationResult> {
  if (labels.length === 0) {
    throw new HostError(
      'Zero-shot classification needs labels: set "gpt2Heads.zeroShot.labels".',
      errorCodes.badInput,
    );
  }
  if (text.trim() === '') throw new HostError('There is no text to classify.', errorCodes.badInput);
  let inputs;
  try {
    inputs = zeroShotInputs(text, labels, template);
  } catch (error) {
    throw new HostError(
      `The zero-shot template must contain {} where the label goes (${(error as Error).message}).`,
      errorCodes.badInput,
    );
  }
  const scores = await scoreContinuations(
    model,
    inputs.context,
    inputs.options.map((option) => option.continuation),
    token,
  );
  const probabilities = softmax(scores.map((score) => score.mean_log_prob));
  return {
    labels: labels
      .map((label, i) => ({ label, score: probabilities[i] }))
      .sort((a, b) => b.score - a.score),
    windows: 1,
    tokens: encode(model, text).ids.length,
  };
}

/**
 * A classify request: zero-shot with the LM when it lists labels, else the fine-tuned head on
 * one passage or on the whole document.
 */
export async function classifyRequest(
  model: LoadedModel,
  params: ClassifyOptions & { text: string },
  token: Cancellation,
): Promise<ClassifyResult> {
  const { zeroShot: zeroShotLabels } = params;
  const result = zeroShotLabels
    ? await zeroShot(model, params.text, zeroShotLabels.labels, zeroShotLabels.template, token)
    : params.scope === 'document'
      ? await classifyWholeDocument(model, params.text, params, token)
      : await classifyText(model, params.text, params);
  return { ...result, model: model.source, zeroShot: zeroShotLabels !== undefined };
}
