// The spans transformers 4.x's question-answering pipeline feeds the model, for a GPT-2 fast
// tokenizer: tokenizer(question, context, truncation='only_second', max_length=max_seq_len,
// stride=doc_stride, return_overflowing_tokens=True). GPT-2's ByteLevel post-processor adds no
// special tokens, so a span is the question's tokens followed directly by a window of the
// context's tokens (no separator, no CLS).

import type { EncodedText } from './offsets';
import { windowsFor } from './windows';

/** The parts of an EncodedText the spans are made of: token ids and their UTF-16 offsets. */
export type TokensWithOffsets = Pick<EncodedText, 'ids' | 'offsets'>;

/** What a context needs beyond its tokens: the pre-tokenizer word of every token. */
export interface EncodedContext extends TokensWithOffsets {
  /** Per token, the index of its pre-tokenizer word (see contextWordIds). */
  wordIds: readonly number[];
}

export interface QuestionSpan {
  input_ids: number[];
  attention_mask: number[];
  /** 0 for a question token, 1 for a context token (HF's sequence_ids; GPT-2 has no None). */
  sequence_ids: number[];
  /** Offsets of sequence 0 index the question, of sequence 1 the context. */
  offsets: Array<[number, number]>;
  /** 1 where a token cannot be part of an answer (everything but context tokens). */
  p_mask: number[];
  /** The pre-tokenizer word of each context token; -1 for question tokens. */
  word_ids: number[];
  /** Index in the whole context's token list of this span's first context token. */
  context_token_start: number;
}

export interface QuestionWindowOptions {
  /** HF default: min(model_max_length, 384). */
  max_seq_len: number;
  /** HF default: min(max_seq_len // 2, 128) (see defaultDocStride). */
  doc_stride?: number;
}

export function defaultMaxSeqLen(modelMaxLength: number): number {
  return Math.min(modelMaxLength, 384);
}

export function defaultDocStride(maxSeqLen: number): number {
  return Math.min(Math.floor(maxSeqLen / 2), 128);
}

/** One span from its tokens; fills attention_mask (all 1: spans are not padded) and p_mask. */
export function questionSpan(
  input_ids: readonly number[],
  sequence_ids: readonly number[],
  offsets: ReadonlyArray<readonly [number, number]>,
  word_ids: readonly number[],
  context_token_start = 0,
): QuestionSpan {
  return {
    input_ids: [...input_ids],
    attention_mask: input_ids.map(() => 1),
    sequence_ids: [...sequence_ids],
    offsets: offsets.map(([s, e]) => [s, e]),
    p_mask: sequence_ids.map((s) => (s === 1 ? 0 : 1)),
    word_ids: [...word_ids],
    context_token_start,
  };
}

/**
 * The spans for a question and a context, as the QA pipeline makes them: each holds all the
 * question's tokens and up to max_seq_len − question tokens of the context; window k starts at
 * context token k·(budget − doc_stride) and the last is the first to reach the context's end.
 * Errors where HF errors: doc_stride > max_seq_len (the pipeline), a question that leaves no
 * room for the context, or a doc_stride not below that room (the tokenizer).
 */
export function questionWindows(
  question: TokensWithOffsets,
  context: EncodedContext,
  options: QuestionWindowOptions,
): QuestionSpan[] {
  const { max_seq_len } = options;
  const doc_stride = options.doc_stride ?? defaultDocStride(max_seq_len);
  if (doc_stride > max_seq_len) {
    throw new RangeError(`doc_stride (${doc_stride}) is larger than max_seq_len (${max_seq_len})`);
  }
  const numQuestion = question.ids.length;
  const numContext = context.ids.length;
  if (numContext === 0) throw new RangeError('questionWindows: the context has no tokens');
  let windows: Array<{ start: number; length: number }>;
  if (numQuestion + numContext <= max_seq_len) {
    windows = [{ start: 0, length: numContext }];
  } else {
    const budget = max_seq_len - numQuestion;
    if (budget <= 0) {
      throw new RangeError(
        `The question has ${numQuestion} tokens, which leaves no room for the context in ` +
          `max_seq_len ${max_seq_len}`,
      );
    }
    if (doc_stride >= budget) {
      throw new RangeError(
        `doc_stride (${doc_stride}) must be less than the room left for the context ` +
          `(${budget} = max_seq_len ${max_seq_len} − ${numQuestion} question tokens)`,
      );
    }
    windows = windowsFor(numContext, budget, doc_stride);
  }
  return windows.map(({ start, length }) => {
    const end = start + length;
    return questionSpan(
      [...question.ids, ...context.ids.slice(start, end)],
      [...question.ids.map(() => 0), ...context.ids.slice(start, end).map(() => 1)],
      [...question.offsets, ...context.offsets.slice(start, end)],
      [...question.ids.map(() => -1), ...context.wordIds.slice(start, end)],
      start,
    );
  });
}

// Unicode White_Space, as Oniguruma's \s (the engine of HF tokenizers) matches it. JavaScript's
// \s differs: it also matches U+FEFF and misses U+0085.
const ws = '\\t\\n\\v\\f\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';

// GPT-2's pre-tokenizer pattern (ByteLevel, use_regex true).
const gpt2Pattern = new RegExp(
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${ws}\\p{L}\\p{N}]+|[${ws}]+(?![^${ws}])|[${ws}]+`,
  'gu',
);

/**
 * The pre-tokenizer words of a text as UTF-16 ranges: what HF's word ids refer to. Added tokens
 * (such as '<|endoftext|>') are split out first and are one word each, as in HF tokenizers; the
 * GPT-2 pattern then splits the text between them.
 */
export function preTokenizerWords(
  text: string,
  specialTokens: readonly string[] = ['<|endoftext|>'],
): Array<[number, number]> {
  const words: Array<[number, number]> = [];
  const splitOnPattern = (from: number, to: number): void => {
    const segment = text.slice(from, to);
    for (const match of segment.matchAll(gpt2Pattern)) {
      if (match[0].length > 0) {
        words.push([from + match.index, from + match.index + match[0].length]);
      }
    }
  };
  let at = 0;
  while (at < text.length) {
    let next = -1;
    let nextToken = '';
    for (const token of specialTokens) {
      const found = token ? text.indexOf(token, at) : -1;
      if (
        found >= 0 &&
        (next < 0 || found < next || (found === next && token.length > nextToken.length))
      ) {
        next = found;
        nextToken = token;
      }
    }
    if (next < 0) {
      splitOnPattern(at, text.length);
      break;
    }
    splitOnPattern(at, next);
    words.push([next, next + nextToken.length]);
    at = next + nextToken.length;
  }
  return words;
}

/**
 * The pre-tokenizer word index of every token of `text`, from the tokens' offsets (same units as
 * the text's indices: UTF-16). A token belongs to the word that holds its first character.
 */
export function contextWordIds(
  text: string,
  offsets: ReadonlyArray<readonly [number, number]>,
  specialTokens?: readonly string[],
): number[] {
  const words = preTokenizerWords(text, specialTokens);
  let word = 0;
  return offsets.map(([start]) => {
    while (word < words.length - 1 && start >= words[word][1]) word++;
    return word;
  });
}
