// Per-token log-probabilities of a text under the language model: for the CLI's perplexity (HF's
// sliding windows, see heads/surprisal) and for the editor's surprisal lens (the cached causal
// windows of tagging, see text/documentChunks).
//
// The log-softmax over the vocabulary and the top-k run in onnxruntime, in a small graph of their
// own that takes the LM's logits: in JavaScript they cost several times the forward pass itself
// (50,257 exps per token), in onnxruntime a few percent of it.
import { LRUCache } from 'lru-cache';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { strideWindows, summarize } from '../../heads/surprisal';
import { errorCodes, type SurprisalOptions, type SurprisalResult } from '../../protocol';
import { defaultLeftContextTokens, documentChunks, lineStarts } from '../../text/documentChunks';
import type { EncodedText } from '../../text/offsets';
import { GraphBuilder } from '../convert/proto';
import { HostError, throwIfCancelled, type Cancellation } from '../errors';
import { exclusive } from '../inferenceQueue';
import type { LoadedModel } from '../models/loadedModel';
import { int64Tensor } from '../tensors';
import { lmLogits } from './classification';
import { encode } from './run';

/** What a text's tokens got: NaN log-probability = not scored (the first token). */
export interface TextSurprisal {
  encoded: EncodedText;
  logprobs: Float64Array;
  /** top_k alternatives per token, best first: ids and log-probabilities, k per token. */
  topIds: Int32Array;
  topLogprobs: Float32Array;
  topK: number;
  windows: number;
  cachedWindows: number;
  /** The step between windows (perplexityOfText); 0 for the editor's windows. */
  stride: number;
  /** Token ranges [first, end) whose windows ran for this call (the rest came from the cache). */
  recomputed: [number, number][];
}

/** Scores of consecutive tokens that one window gives. */
interface WindowScores {
  logprobs: Float32Array;
  topIds: Int32Array;
  topLogprobs: Float32Array;
}

let scorer: Promise<InferenceSession> | undefined;

/**
 * logits [n, vocab] and target ids [n, 1] → each target's log-probability, and the top k
 * log-probabilities with their ids: log_softmax(logits) = logits − ReduceLogSumExp(logits).
 */
function scorerSession(): Promise<InferenceSession> {
  if (!scorer) {
    const g = new GraphBuilder();
    const logits = g.input('logits', 'float', ['tokens', 'vocab']);
    const targets = g.input('targets', 'int64', ['tokens', 1]);
    const k = g.input('k', 'int64', [1]);
    const logSumExp = g.op('ReduceLogSumExp', [logits], { axes: [1], keepdims: 1 });
    g.node('Sub', [g.op('GatherElements', [logits, targets], { axis: 1 }), logSumExp], ['logprob']);
    const [values, indices] = g.opN('TopK', [logits, k], 2, { axis: 1, largest: 1, sorted: 1 });
    g.node('Sub', [values, logSumExp], ['top_logprobs']);
    g.node('Cast', [indices], ['top_ids'], { to: 6 });
    g.output('logprob', 'float', ['tokens', 1]);
    g.output('top_logprobs', 'float', ['tokens', 'k']);
    g.output('top_ids', 'int32', ['tokens', 'k']);
    scorer = InferenceSession.create(g.toBytes('log_softmax_top_k'), { interOpNumThreads: 1 });
  }
  return scorer;
}

function requireLanguageModel(model: LoadedModel): void {
  if (model.architecture !== 'GPT2LMHeadModel') {
    throw new HostError(
      `"${model.source}" is a ${model.architecture}, not a language model (GPT2LMHeadModel). ` +
        `Set "gpt2Heads.lm.model" to a language model to see surprisal and perplexity.`,
    );
  }
}

/**
 * The LM over one window of ids; scores its tokens [scoreFrom, ids.length) (scoreFrom ≥ 1: each
 * is predicted by the logits of the position before it).
 */
async function scoreWindow(
  model: LoadedModel,
  ids: readonly number[],
  scoreFrom: number,
  topK: number,
): Promise<WindowScores> {
  const count = ids.length - scoreFrom;
  if (count <= 0) {
    return {
      logprobs: new Float32Array(0),
      topIds: new Int32Array(0),
      topLogprobs: new Float32Array(0),
    };
  }
  // Logits of positions scoreFrom − 1 … the end: the left context's own predictions are not needed.
  const logits = await lmLogits(model, ids, count + 1);
  const vocab = logits.length / (count + 1);
  // TopK needs k ≥ 1; without alternatives the one it finds is dropped.
  const k = Math.max(topK, 1);
  const session = await scorerSession();
  const outputs = await exclusive(() =>
    session.run({
      logits: new Tensor('float32', logits.subarray(0, count * vocab), [count, vocab]),
      targets: int64Tensor([count, 1], ids.slice(scoreFrom)),
      k: int64Tensor([1], [k]),
    }),
  );
  const none = topK === 0;
  return {
    logprobs: outputs.logprob.data as Float32Array,
    topIds: none ? new Int32Array(0) : (outputs.top_ids.data as Int32Array),
    topLogprobs: none ? new Float32Array(0) : (outputs.top_logprobs.data as Float32Array),
  };
}

function emptyResult(encoded: EncodedText, topK: number): TextSurprisal {
  const n = encoded.ids.length;
  return {
    encoded,
    logprobs: new Float64Array(n).fill(NaN),
    topIds: new Int32Array(n * topK),
    topLogprobs: new Float32Array(n * topK),
    topK,
    windows: 0,
    cachedWindows: 0,
    stride: 0,
    recomputed: [],
  };
}

function place(result: TextSurprisal, at: number, scores: WindowScores): void {
  scores.logprobs.forEach((logprob, i) => (result.logprobs[at + i] = logprob));
  if (scores.topIds.length > 0) {
    result.topIds.set(scores.topIds, at * result.topK);
    result.topLogprobs.set(scores.topLogprobs, at * result.topK);
  }
}

function checkTopK(model: LoadedModel, topK: number): number {
  const vocab = model.config.vocab_size;
  if (!Number.isInteger(topK) || topK < 0 || topK > vocab) {
    throw new HostError(
      `top_k must be a whole number from 0 to the vocabulary size (${vocab}), got ${topK}.`,
      errorCodes.badInput,
    );
  }
  return topK;
}

/**
 * Perplexity as transformers' guide computes it: one window for a text within the context;
 * longer texts in windows of n_positions tokens moved by `stride` (default: half the context),
 * each counting only the tokens after the previous window.
 */
export async function perplexityOfText(
  model: LoadedModel,
  text: string,
  options: { stride?: number; top_k?: number },
  token: Cancellation,
): Promise<TextSurprisal> {
  requireLanguageModel(model);
  const maxLength = model.config.n_positions;
  const stride = options.stride ?? Math.max(1, Math.floor(maxLength / 2));
  const encoded = encode(model, text);
  let windows;
  try {
    windows = strideWindows(encoded.ids.length, maxLength, stride);
  } catch (error) {
    throw new HostError((error as Error).message, errorCodes.badInput);
  }
  const result = emptyResult(encoded, checkTopK(model, options.top_k ?? 0));
  for (const window of windows) {
    throwIfCancelled(token);
    const ids = encoded.ids.slice(window.start, window.end);
    place(
      result,
      window.scoreFrom,
      await scoreWindow(model, ids, window.scoreFrom - window.start, result.topK),
    );
    result.recomputed.push([window.scoreFrom, window.end]);
  }
  result.windows = windows.length;
  result.stride = stride;
  return result;
}

/** Scores of recent editor windows, by content, so an edit re-runs only the windows it changed. */
const windowCaches = new WeakMap<LoadedModel, LRUCache<string, WindowScores>>();

function windowCache(model: LoadedModel): LRUCache<string, WindowScores> {
  let cache = windowCaches.get(model);
  if (!cache) {
    cache = new LRUCache<string, WindowScores>({
      maxSize: 64 * 1024 * 1024,
      sizeCalculation: (scores) =>
        Math.max(1, scores.logprobs.byteLength + scores.topIds.byteLength * 2),
    });
    windowCaches.set(model, cache);
  }
  return cache;
}

/**
 * The whole text for the editor: the causal windows of tagging (content-defined chunks with left
 * context, see documentChunks), each window's scores cached by its token ids, so after an edit
 * only the windows it touched run again. Each token is scored once, with at least `context`
 * tokens before it in its window (fewer only at the start of the text).
 */
export async function surprisalOfDocument(
  model: LoadedModel,
  text: string,
  options: { leftContextTokens?: number; top_k?: number; useCache?: boolean },
  token: Cancellation,
): Promise<TextSurprisal> {
  requireLanguageModel(model);
  const maxLength = model.config.n_positions;
  // At least one token of context: a chunk's first token is predicted from the one before it.
  const context = Math.min(
    Math.max(options.leftContextTokens || defaultLeftContextTokens(maxLength), 1),
    maxLength - 1,
  );
  const encoded = encode(model, text);
  const result = emptyResult(encoded, checkTopK(model, options.top_k ?? 5));
  const chunks = documentChunks(encoded.ids, lineStarts(text, encoded.offsets), maxLength, context);
  const cache = options.useCache === false ? undefined : windowCache(model);
  for (const chunk of chunks) {
    throwIfCancelled(token);
    const ids = encoded.ids.slice(chunk.windowStart, chunk.end);
    const scoreFrom = Math.max(chunk.start, 1);
    const key = `${result.topK}:${scoreFrom - chunk.windowStart}:${ids.join(',')}`;
    let scores = cache?.get(key);
    if (scores) result.cachedWindows++;
    else {
      scores = await scoreWindow(model, ids, scoreFrom - chunk.windowStart, result.topK);
      cache?.set(key, scores);
      result.recomputed.push([chunk.start, chunk.end]);
    }
    place(result, scoreFrom, scores);
  }
  result.windows = chunks.length;
  throwIfCancelled(token);
  return result;
}

/** Token texts of ids, decoded once per model (alternatives repeat the same common tokens). */
const tokenTexts = new WeakMap<LoadedModel, Map<number, string>>();

export function tokenText(model: LoadedModel, id: number): string {
  let texts = tokenTexts.get(model);
  if (!texts) tokenTexts.set(model, (texts = new Map()));
  let text = texts.get(id);
  if (text === undefined) {
    text = model.tokenizer.decode([id], { skip_special_tokens: false });
    texts.set(id, text);
  }
  return text;
}

/** Log-probabilities with null for the tokens nothing scored. */
export function logprobList(result: TextSurprisal): (number | null)[] {
  return Array.from(result.logprobs, (logprob) => (Number.isNaN(logprob) ? null : logprob));
}

/** Token i's alternatives as [id, logprob] pairs, best first (none where i is not scored). */
export function alternativesOf(result: TextSurprisal, i: number): [number, number][] {
  if (Number.isNaN(result.logprobs[i])) return [];
  const from = i * result.topK;
  return Array.from({ length: result.topK }, (_, j) => [
    result.topIds[from + j],
    result.topLogprobs[from + j],
  ]);
}

/** Token ranges as UTF-16 ranges of the text. */
export function textRanges(result: TextSurprisal, ranges: [number, number][]): [number, number][] {
  const offsets = result.encoded.offsets;
  return ranges
    .filter(([first, end]) => end > first)
    .map(([first, end]) => [offsets[first][0], offsets[end - 1][1]]);
}

/** The editor's request: the text's surprisal in the cached windows, shaped for the protocol. */
export async function surprisalResult(
  model: LoadedModel,
  params: SurprisalOptions & { text: string },
  token: Cancellation,
): Promise<SurprisalResult> {
  const result = await surprisalOfDocument(model, params.text, params, token);
  const logprobs = logprobList(result);
  const summary = summarize(logprobs);
  return {
    offsets: result.encoded.offsets,
    logprobs,
    alternatives: logprobs.map((_, i) =>
      alternativesOf(result, i).map(([id, logprob]) => [tokenText(model, id), logprob]),
    ),
    mean_nll: summary.mean_nll,
    perplexity: summary.perplexity,
    model: model.source,
    windows: result.windows,
    cachedWindows: result.cachedWindows,
    recomputed: textRanges(result, result.recomputed),
  };
}

export interface PerplexityReport {
  model: string;
  perplexity: number | null;
  mean_nll: number | null;
  bits_per_token: number | null;
  /** Tokens with a log-probability (all but the first). */
  scored_tokens: number;
  /** The windows' step in tokens, and how many windows were read. */
  stride: number;
  windows: number;
  tokens: {
    id: number;
    /** The characters the token covers (a token holding part of a character covers all of it). */
    text: string;
    start: number;
    end: number;
    logprob: number | null;
    top_k?: { id: number; token: string; logprob: number }[];
  }[];
}

/** The CLI's `perplexity`: the summary and one entry per token, alternatives with top_k. */
export async function perplexityReport(
  model: LoadedModel,
  text: string,
  options: { stride?: number; top_k?: number },
  token: Cancellation,
): Promise<PerplexityReport> {
  const result = await perplexityOfText(model, text, options, token);
  const logprobs = logprobList(result);
  const summary = summarize(logprobs);
  return {
    model: model.source,
    perplexity: summary.perplexity,
    mean_nll: summary.mean_nll,
    bits_per_token: summary.bits_per_token,
    scored_tokens: summary.scored,
    stride: result.stride,
    windows: result.windows,
    tokens: result.encoded.ids.map((id, i) => {
      const [start, end] = result.encoded.offsets[i];
      return {
        id,
        text: text.slice(start, end),
        start,
        end,
        logprob: logprobs[i],
        ...(result.topK > 0
          ? {
              top_k: alternativesOf(result, i).map(([alternative, logprob]) => ({
                id: alternative,
                token: tokenText(model, alternative),
                logprob,
              })),
            }
          : {}),
      };
    }),
  };
}
