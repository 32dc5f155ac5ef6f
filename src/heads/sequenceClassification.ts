// GPT2ForSequenceClassification post-processing, as Hugging Face's text-classification pipeline
// does it. The model pools in the graph (at the last non-pad token), so this file starts from
// the pooled logits [num_labels].

import { sigmoid, softmax } from './math';

export type FunctionToApply = 'sigmoid' | 'softmax' | 'none';

export type ProblemType =
  'regression' | 'single_label_classification' | 'multi_label_classification';

/** The parts of config.json that decide the labels and the score function. */
export interface ClassificationConfig {
  /** Keys are label indices as strings (as in config.json) or numbers. */
  id2label?: Record<string | number, string>;
  problem_type?: ProblemType | null;
}

export interface ClassifyOptions extends ClassificationConfig {
  /** HF's default: 'none' for regression, sigmoid for one label or multi-label, else softmax. */
  function_to_apply?: FunctionToApply;
  /** How many labels to return, best first; null or undefined = all (HF's top_k=None). */
  top_k?: number | null;
}

export interface LabelScore {
  label: string;
  score: number;
}

/** The label of index i: config's id2label, else HF's default name LABEL_i. */
export function labelOf(config: ClassificationConfig, index: number): string {
  return config.id2label?.[index] ?? config.id2label?.[String(index)] ?? `LABEL_${index}`;
}

/** The function HF's pipeline applies when the caller does not choose one. */
export function defaultFunctionToApply(
  config: ClassificationConfig,
  numLabels: number,
): FunctionToApply {
  if (config.problem_type === 'regression') return 'none';
  if (config.problem_type === 'multi_label_classification' || numLabels === 1) return 'sigmoid';
  return 'softmax';
}

/** Scores in label order (not sorted), after the chosen function. */
export function labelScores(logits: readonly number[], fn: FunctionToApply): number[] {
  switch (fn) {
    case 'softmax':
      return Array.from(softmax(logits));
    case 'sigmoid':
      return logits.map(sigmoid);
    case 'none':
      return [...logits];
  }
}

/** Label scores sorted best first (stable: equal scores keep label order, as Python's sort). */
export function rankLabels(
  scores: readonly number[],
  config: ClassificationConfig,
  top_k?: number | null,
): LabelScore[] {
  const ranked = scores
    .map((score, index) => ({ label: labelOf(config, index), score }))
    .sort((a, b) => b.score - a.score);
  return top_k === null || top_k === undefined ? ranked : ranked.slice(0, top_k);
}

/**
 * `pipeline('text-classification')(text, top_k=None)` from the pooled logits of one text:
 * every label with its score, best first. (HF's legacy default top_k=1 returns a bare dict; we
 * always return the list shape.)
 */
export function classifySequence(
  logits: readonly number[],
  options: ClassifyOptions = {},
): LabelScore[] {
  if (logits.length === 0) throw new RangeError('classifySequence: no logits');
  const fn = options.function_to_apply ?? defaultFunctionToApply(options, logits.length);
  return rankLabels(labelScores(logits, fn), options, options.top_k);
}

export type WindowAggregation = 'mean' | 'max';

export interface DocumentScores {
  /** Aggregated score per label index (label order). */
  scores: number[];
  /** How many windows were read (for the status bar). */
  windows_read: number;
}

/**
 * A document classified window by window: 'mean' averages each label's score over the windows
 * weighted by each window's token count (so a short last window counts less); 'max' takes each
 * label's highest score. There is no HF pipeline for this; it is ours.
 */
export function aggregateWindows(
  perWindowScores: readonly (readonly number[])[],
  windowTokenCounts: readonly number[],
  aggregation: WindowAggregation = 'mean',
): DocumentScores {
  if (perWindowScores.length === 0) throw new RangeError('aggregateWindows: no windows');
  if (perWindowScores.length !== windowTokenCounts.length) {
    throw new RangeError(
      `aggregateWindows: ${perWindowScores.length} windows but ${windowTokenCounts.length} token counts`,
    );
  }
  const numLabels = perWindowScores[0].length;
  if (perWindowScores.some((s) => s.length !== numLabels)) {
    throw new RangeError('aggregateWindows: windows have different numbers of labels');
  }
  const scores = new Array<number>(numLabels).fill(aggregation === 'max' ? -Infinity : 0);
  if (aggregation === 'max') {
    for (const window of perWindowScores) {
      window.forEach((s, i) => (scores[i] = Math.max(scores[i], s)));
    }
  } else {
    const total = windowTokenCounts.reduce((a, b) => a + b, 0);
    if (!(total > 0)) throw new RangeError('aggregateWindows: windows hold no tokens');
    perWindowScores.forEach((window, w) => {
      window.forEach((s, i) => (scores[i] += (s * windowTokenCounts[w]) / total));
    });
  }
  return { scores, windows_read: perWindowScores.length };
}

export interface DocumentClassification {
  labels: LabelScore[];
  windows_read: number;
}

/** Per-window pooled logits → each window's scores (HF's function) → aggregated, best first. */
export function classifyDocument(
  windowLogits: readonly (readonly number[])[],
  windowTokenCounts: readonly number[],
  options: ClassifyOptions & { aggregation?: WindowAggregation } = {},
): DocumentClassification {
  if (windowLogits.length === 0) throw new RangeError('classifyDocument: no windows');
  const fn = options.function_to_apply ?? defaultFunctionToApply(options, windowLogits[0].length);
  const perWindow = windowLogits.map((logits) => labelScores(logits, fn));
  const { scores, windows_read } = aggregateWindows(
    perWindow,
    windowTokenCounts,
    options.aggregation,
  );
  return { labels: rankLabels(scores, options, options.top_k), windows_read };
}
