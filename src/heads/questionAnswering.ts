// GPT2ForQuestionAnswering post-processing, as transformers 4.x's question-answering pipeline
// did it (the pipeline is gone in v5): per span, mask everything but context tokens, softmax the
// start and end logits, score = p(start)·p(end) with start <= end < start + max_answer_len, keep
// each span's best top_k·2+10 candidates, widen them to whole words, merge answers with the same
// text, sort. Offsets are UTF-16 code units (VS Code positions) where HF gives code points.

import type { QuestionSpan } from '../text/questionWindows';
import { softmax } from './math';

export interface QuestionAnsweringOptions {
  top_k?: number;
  handle_impossible_answer?: boolean;
  max_answer_len?: number;
  align_to_words?: boolean;
}

export interface SpanLogits {
  start_logits: ArrayLike<number>;
  end_logits: ArrayLike<number>;
}

export interface QuestionAnswer {
  score: number;
  /** UTF-16 offsets into the context (HF: code points). */
  start: number;
  end: number;
  answer: string;
}

export interface SpanCandidate {
  /** Token indices in the span, end inclusive. */
  start: number;
  end: number;
  score: number;
}

// HF writes this into the masked logits before the softmax.
const maskedLogit = -10000;

function maskedSoftmax(logits: ArrayLike<number>, allowed: readonly boolean[]): Float64Array {
  return softmax(allowed.map((ok, i) => (ok ? logits[i] : maskedLogit)));
}

/**
 * HF's select_starts_ends + decode_spans for one span: the best `topk` (start, end) pairs, best
 * first, and the null score p_start(0)·p_end(0). HF ranks the whole start×end outer product; here
 * only the ends in [start, start + max_answer_len) are visited and a bounded list keeps the best,
 * which gives the same pairs. Equal scores are ordered by (start, end) ascending, which is HF's
 * order for topk 1 (argmax takes the first); for topk > 1 numpy's argpartition leaves the order
 * of exactly equal float32 scores unspecified. HF may pad the list with zero-score pairs when a
 * span has fewer than topk valid ones (end < start, or too long); those are not answers and are
 * left out here.
 */
export function selectStartsEnds(
  logits: SpanLogits,
  span: Pick<QuestionSpan, 'p_mask' | 'attention_mask'>,
  topk: number,
  max_answer_len: number,
): { candidates: SpanCandidate[]; null_score: number } {
  const n = span.p_mask.length;
  if (logits.start_logits.length !== n || logits.end_logits.length !== n) {
    throw new RangeError(
      `selectStartsEnds: ${logits.start_logits.length}/${logits.end_logits.length} logits for a span of ${n} tokens`,
    );
  }
  const allowed = span.p_mask.map((p, i) => p === 0 && span.attention_mask[i] !== 0);
  const pStart = maskedSoftmax(logits.start_logits, allowed);
  const pEnd = maskedSoftmax(logits.end_logits, allowed);
  const null_score = pStart[0] * pEnd[0];
  // HF zeroes position 0 (the CLS slot of BERT-like models) after taking the null score.
  pStart[0] = 0;
  pEnd[0] = 0;

  const best: SpanCandidate[] = [];
  for (let start = 1; start < n; start++) {
    if (!allowed[start]) continue;
    const lastEnd = Math.min(n, start + max_answer_len) - 1;
    for (let end = start; end <= lastEnd; end++) {
      if (!allowed[end]) continue;
      const score = pStart[start] * pEnd[end];
      if (!(score > 0)) continue;
      if (best.length === topk && score <= best[best.length - 1].score) continue;
      // Pairs come in (start, end) order, so an equal score goes after the ones already kept.
      let at = best.length;
      while (at > 0 && best[at - 1].score < score) at--;
      best.splice(at, 0, { start, end, score });
      if (best.length > topk) best.pop();
    }
  }
  return { candidates: best, null_score };
}

/** The character range of a candidate: its tokens' offsets, widened to whole words if asked. */
function candidateRange(
  span: QuestionSpan,
  candidate: SpanCandidate,
  alignToWords: boolean,
): [number, number] {
  if (!alignToWords) return [span.offsets[candidate.start][0], span.offsets[candidate.end][1]];
  // HF: word_to_chars(token_to_word(s))[0] and word_to_chars(token_to_word(e))[1], using the
  // word's tokens that lie in this span.
  const startWord = span.word_ids[candidate.start];
  const endWord = span.word_ids[candidate.end];
  let first = candidate.start;
  const sameWord = (i: number, word: number): boolean =>
    span.sequence_ids[i] === 1 && span.word_ids[i] === word;
  while (first > 0 && sameWord(first - 1, startWord)) first--;
  let last = candidate.end;
  while (last + 1 < span.word_ids.length && sameWord(last + 1, endWord)) last++;
  return [span.offsets[first][0], span.offsets[last][1]];
}

/**
 * The pipeline's answers for one question over all of a context's spans, best first, always as a
 * list (see toPipelineOutput for HF's single-dict shape).
 */
export function answerQuestion(
  context: string,
  spans: readonly QuestionSpan[],
  spanLogits: readonly SpanLogits[],
  options: QuestionAnsweringOptions = {},
): QuestionAnswer[] {
  const top_k = options.top_k ?? 1;
  const max_answer_len = options.max_answer_len ?? 15;
  const align_to_words = options.align_to_words ?? true;
  const handle_impossible_answer = options.handle_impossible_answer ?? false;
  if (!(Number.isInteger(top_k) && top_k >= 1)) {
    throw new RangeError(`top_k parameter should be >= 1 (got ${top_k})`);
  }
  if (!(Number.isInteger(max_answer_len) && max_answer_len >= 1)) {
    throw new RangeError(`max_answer_len parameter should be >= 1 (got ${max_answer_len})`);
  }
  if (spans.length !== spanLogits.length) {
    throw new RangeError(`answerQuestion: ${spans.length} spans but ${spanLogits.length} logits`);
  }
  // Some candidates collapse into one answer once widened to words, so HF asks for more.
  const preTopk = align_to_words ? top_k * 2 + 10 : top_k;
  let minNullScore = 1000000;
  const answers: QuestionAnswer[] = [];
  // By lowered text: a long context has thousands of candidates, and scanning the list for each
  // would make the answer cost grow with the square of the context.
  const byText = new Map<string, QuestionAnswer>();
  spans.forEach((span, i) => {
    const { candidates, null_score } = selectStartsEnds(
      spanLogits[i],
      span,
      preTopk,
      max_answer_len,
    );
    if (handle_impossible_answer) minNullScore = Math.min(minNullScore, null_score);
    for (const candidate of candidates) {
      const [start, end] = candidateRange(span, candidate, align_to_words);
      const text = context.slice(start, end);
      // HF merges answers whose text is equal ignoring case (Python's str.lower(); JavaScript's
      // toLowerCase differs only in lowering a word-final Σ to ς).
      const lower = text.toLowerCase();
      const same = byText.get(lower);
      if (same) same.score += candidate.score;
      else {
        const answer = { score: candidate.score, start, end, answer: text };
        byText.set(lower, answer);
        answers.push(answer);
      }
    }
  });
  if (handle_impossible_answer) answers.push({ score: minNullScore, start: 0, end: 0, answer: '' });
  // Stable, like Python's sorted: equal scores keep the order in which they were found.
  return answers.sort((a, b) => b.score - a.score).slice(0, top_k);
}

/** HF's return shape: a single dict when exactly one answer remains, else the list. */
export function toPipelineOutput(answers: QuestionAnswer[]): QuestionAnswer | QuestionAnswer[] {
  return answers.length === 1 ? answers[0] : answers;
}
