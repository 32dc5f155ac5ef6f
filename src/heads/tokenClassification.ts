// Post-processing of GPT2ForTokenClassification logits, as Hugging Face's
// TokenClassificationPipeline does it (transformers 4.57 / 5.x): per-token softmax, word
// aggregation, B-/I- grouping, ignore_labels, and the merge of overlapping windows for `stride`.
//
// Deliberate difference: `start`/`end` are UTF-16 code units (VS Code positions); HF gives code
// points (Python string indices). Scores are computed in float64; HF uses the model's float32,
// which differs by about 1e-7.

import { byteLevelDecode } from '../text/byteLevel';
import { argmax, softmaxRows } from './math';

export const aggregationStrategies = ['none', 'simple', 'first', 'average', 'max'] as const;
export type AggregationStrategy = (typeof aggregationStrategies)[number];

/** config.json's id2label: label index (as a string key, or an array index) → label. */
export type Id2Label = Readonly<Record<string, string>> | readonly string[];

/** One text's tokens and the model's logits for them. */
export interface TokenClassificationInput {
  text: string;
  /** Byte-level token strings ('Ġworld'), as tokenizer.tokenize / convert_ids_to_tokens give. */
  tokens: readonly string[];
  ids: ArrayLike<number>;
  /** Each token's UTF-16 range in `text` (see tokenOffsets). */
  offsets: ReadonlyArray<readonly [number, number]>;
  /** Row-major [tokens.length, numLabels], e.g. the ONNX output for batch item 0. */
  logits: ArrayLike<number>;
  id2label: Id2Label;
  /** Tokens to leave out (HF: the tokenizer's special_tokens_mask; padding is marked there).
   *  GPT-2 marks none: a literal '<|endoftext|>' in the text is classified like any token. */
  specialTokensMask?: ArrayLike<number | boolean>;
  /** HF replaces the unknown token's word by the text it covers. GPT-2's unk is
   *  '<|endoftext|>' (50256): pass config/tokenizer's id. */
  unkTokenId?: number;
}

export interface TokenClassificationOptions {
  /** Default 'none', as HF. */
  aggregation_strategy?: AggregationStrategy;
  /** Labels dropped after grouping (entity for 'none', entity_group otherwise). Default ['O']. */
  ignore_labels?: readonly string[];
}

/** aggregation_strategy 'none': one result per token. */
export interface TokenEntity {
  entity: string;
  score: number;
  /** The token's index in the model input (in its window). */
  index: number;
  /** The token string itself ('Ġworld'), as HF returns it. */
  word: string;
  start: number;
  end: number;
}

/** Any other strategy: adjacent tokens (or words) with the same tag, grouped. */
export interface EntityGroup {
  entity_group: string;
  /** Mean of the grouped tokens' (or words') scores. */
  score: number;
  /** The group's tokens decoded (byte-level, invalid UTF-8 as U+FFFD), as HF's
   *  convert_tokens_to_string. Use start/end for the exact text. */
  word: string;
  start: number;
  end: number;
}

/** One window of a long text: tokens [start, start + length) of the whole text's tokens, and the
 *  model's logits for the window (rows past `length` are padding and are ignored). */
export interface TokenClassificationWindow {
  start: number;
  length: number;
  logits: ArrayLike<number>;
}

export interface WindowedTokenClassificationInput extends Omit<TokenClassificationInput, 'logits'> {
  windows: readonly TokenClassificationWindow[];
}

interface PreEntity {
  word: string;
  scores: Float64Array;
  start: number;
  end: number;
  index: number;
  isSubword: boolean;
}

/** A token, or a word with its label chosen, before B-/I- grouping. */
interface LabelledEntity {
  entity: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

export function tokenClassification(
  input: TokenClassificationInput,
  options: TokenClassificationOptions & {
    aggregation_strategy: Exclude<AggregationStrategy, 'none'>;
  },
): EntityGroup[];
export function tokenClassification(
  input: TokenClassificationInput,
  options?: TokenClassificationOptions & { aggregation_strategy?: 'none' },
): TokenEntity[];
export function tokenClassification(
  input: TokenClassificationInput,
  options?: TokenClassificationOptions,
): TokenEntity[] | EntityGroup[];
export function tokenClassification(
  input: TokenClassificationInput,
  options: TokenClassificationOptions = {},
): TokenEntity[] | EntityGroup[] {
  const strategy = options.aggregation_strategy ?? 'none';
  const ignore = new Set(options.ignore_labels ?? ['O']);
  const labels = labelList(input.id2label);
  const pre = gatherPreEntities(input, labels.length, strategy);
  if (strategy === 'none') {
    return pre
      .map((token): TokenEntity => {
        const best = argmax(token.scores);
        const { word, index, start, end } = token;
        return { entity: labels[best], score: token.scores[best], index, word, start, end };
      })
      .filter((entity) => !ignore.has(entity.entity));
  }
  const labelled =
    strategy === 'simple'
      ? pre.map((token) => labelToken(token, labels))
      : aggregateWords(pre, strategy, labels);
  return groupEntities(labelled).filter((group) => !ignore.has(group.entity_group));
}

/**
 * A text longer than the model's window, classified window by window (windows from windowsFor)
 * and merged as HF does with `stride`: each window is post-processed on its own, then the
 * entities of all windows are sorted by start and, where two overlap, the longer span is kept,
 * then the higher score. HF rejects aggregation_strategy 'none' with a stride; so does this.
 */
export function tokenClassificationOverWindows(
  input: WindowedTokenClassificationInput,
  options: TokenClassificationOptions = {},
): EntityGroup[] {
  const strategy = options.aggregation_strategy ?? 'none';
  if (strategy === 'none') {
    throw new Error(
      "tokenClassificationOverWindows: aggregation_strategy 'none' cannot merge windows " +
        '(HF rejects stride with it); choose simple, first, average or max',
    );
  }
  const { windows, ...whole } = input;
  const entities = windows.flatMap((window) => {
    const end = window.start + window.length;
    const slice = <T>(values: ArrayLike<T>): T[] =>
      Array.prototype.slice.call(values, window.start, end);
    return tokenClassification(
      {
        ...whole,
        tokens: whole.tokens.slice(window.start, end),
        ids: slice(whole.ids),
        offsets: whole.offsets.slice(window.start, end),
        specialTokensMask: whole.specialTokensMask && slice(whole.specialTokensMask),
        logits: leadingRows(window.logits, window.length, labelList(whole.id2label).length),
      },
      { ...options, aggregation_strategy: strategy },
    );
  });
  return windows.length > 1 ? aggregateOverlappingEntities(entities) : entities;
}

/** HF's aggregate_overlapping_entities: sorted by start (stable); an entity starting inside the
 *  kept one replaces it if it is longer, or as long with a higher score. */
export function aggregateOverlappingEntities<
  T extends { start: number; end: number; score: number },
>(entities: readonly T[]): T[] {
  if (entities.length === 0) return [];
  const sorted = [...entities].sort((a, b) => a.start - b.start);
  const kept: T[] = [];
  let previous = sorted[0];
  for (const entity of sorted) {
    if (previous.start <= entity.start && entity.start < previous.end) {
      const length = entity.end - entity.start;
      const previousLength = previous.end - previous.start;
      if (length > previousLength || (length === previousLength && entity.score > previous.score)) {
        previous = entity;
      }
    } else {
      kept.push(previous);
      previous = entity;
    }
  }
  kept.push(previous);
  return kept;
}

function labelList(id2label: Id2Label): string[] {
  const count = Object.keys(id2label).length;
  const labels: string[] = [];
  for (let i = 0; i < count; i++) {
    const label = (id2label as Record<string, string | undefined>)[String(i)];
    if (label === undefined) throw new Error(`id2label has ${count} labels but no label ${i}`);
    labels.push(label);
  }
  return labels;
}

/** The first `count` rows of [rows, numLabels] logits (a window's real tokens, not its padding). */
function leadingRows(
  logits: ArrayLike<number>,
  count: number,
  numLabels: number,
): ArrayLike<number> {
  if (logits.length < count * numLabels) {
    throw new Error(`window logits hold ${logits.length / numLabels} rows, need ${count}`);
  }
  return Array.prototype.slice.call(logits, 0, count * numLabels) as number[];
}

function gatherPreEntities(
  input: TokenClassificationInput,
  numLabels: number,
  strategy: AggregationStrategy,
): PreEntity[] {
  const { text, tokens, ids, offsets, specialTokensMask, unkTokenId } = input;
  if (input.logits.length !== tokens.length * numLabels) {
    throw new Error(
      `tokenClassification: ${input.logits.length} logits for ${tokens.length} tokens × ${numLabels} labels`,
    );
  }
  if (ids.length !== tokens.length || offsets.length !== tokens.length) {
    throw new Error('tokenClassification: tokens, ids and offsets differ in length');
  }
  const scores = softmaxRows(input.logits, numLabels);
  const wordAware = strategy === 'first' || strategy === 'average' || strategy === 'max';
  const pre: PreEntity[] = [];
  tokens.forEach((token, index) => {
    if (specialTokensMask?.[index]) return;
    const [start, end] = offsets[index];
    // GPT-2's BPE has no continuing-subword prefix, so HF falls back to a heuristic: a token
    // continues a word unless it starts the text or a space is just before or at its start.
    // In UTF-16 the neighbours of `start` are the same characters as HF's code-point slice.
    let isSubword = wordAware && start > 0 && text[start - 1] !== ' ' && text[start] !== ' ';
    let word = token;
    if (unkTokenId !== undefined && ids[index] === unkTokenId) {
      word = text.slice(start, end);
      isSubword = false;
    }
    pre.push({ word, scores: scores[index], start, end, index, isSubword });
  });
  return pre;
}

function labelToken(token: PreEntity, labels: readonly string[]): LabelledEntity {
  const best = argmax(token.scores);
  const { word, start, end } = token;
  return { entity: labels[best], score: token.scores[best], word, start, end };
}

function aggregateWords(
  pre: readonly PreEntity[],
  strategy: 'first' | 'average' | 'max',
  labels: readonly string[],
): LabelledEntity[] {
  const words: PreEntity[][] = [];
  for (const token of pre) {
    if (token.isSubword && words.length > 0) words[words.length - 1].push(token);
    else words.push([token]);
  }
  return words.map((word) => aggregateWord(word, strategy, labels));
}

function aggregateWord(
  tokens: readonly PreEntity[],
  strategy: 'first' | 'average' | 'max',
  labels: readonly string[],
): LabelledEntity {
  let scores: Float64Array;
  if (strategy === 'first') {
    scores = tokens[0].scores;
  } else if (strategy === 'max') {
    // HF: max(entities, key=max score): the first token holding the highest single score.
    let best = tokens[0];
    for (const token of tokens) if (maxOf(token.scores) > maxOf(best.scores)) best = token;
    scores = best.scores;
  } else {
    scores = nanMeanColumns(tokens.map((token) => token.scores));
  }
  const label = argmax(scores);
  return {
    entity: labels[label],
    score: scores[label],
    word: byteLevelDecode(tokens.map((token) => token.word)),
    start: tokens[0].start,
    end: tokens[tokens.length - 1].end,
  };
}

/** A tag without a B-/I- prefix counts as I- (it continues a group of the same tag). */
function bioTag(label: string): { begins: boolean; tag: string } {
  if (label.startsWith('B-')) return { begins: true, tag: label.slice(2) };
  if (label.startsWith('I-')) return { begins: false, tag: label.slice(2) };
  return { begins: false, tag: label };
}

function groupEntities(entities: readonly LabelledEntity[]): EntityGroup[] {
  const groups: LabelledEntity[][] = [];
  for (const entity of entities) {
    const current = groups[groups.length - 1];
    const { begins, tag } = bioTag(entity.entity);
    if (current && !begins && bioTag(current[current.length - 1].entity).tag === tag) {
      current.push(entity);
    } else {
      groups.push([entity]);
    }
  }
  return groups.map((group) => {
    const first = group[0].entity;
    // HF names the group by the first label with everything up to its first '-' removed.
    const dash = first.indexOf('-');
    return {
      entity_group: dash >= 0 ? first.slice(dash + 1) : first,
      score: nanMean(group.map((entity) => entity.score)),
      word: byteLevelDecode(group.map((entity) => entity.word)),
      start: group[0].start,
      end: group[group.length - 1].end,
    };
  });
}

function maxOf(values: ArrayLike<number>): number {
  return values[argmax(values)];
}

function nanMean(values: readonly number[]): number {
  let sum = 0;
  let count = 0;
  for (const value of values) {
    if (Number.isNaN(value)) continue;
    sum += value;
    count++;
  }
  return count === 0 ? NaN : sum / count;
}

function nanMeanColumns(rowsOfScores: readonly Float64Array[]): Float64Array {
  const width = rowsOfScores[0].length;
  const mean = new Float64Array(width);
  for (let i = 0; i < width; i++) mean[i] = nanMean(rowsOfScores.map((row) => row[i]));
  return mean;
}
