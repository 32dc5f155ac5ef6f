// How good a trained head is: accuracy, per-label precision/recall/F1 with a confusion matrix,
// entity-level scores as seqeval computes them in strict IOB2 mode
// (`classification_report(y_true, y_pred, mode='strict', scheme=IOB2)`), and the same numbers
// for the majority-label baseline (always predict the most frequent training label).

export interface LabelMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** Gold occurrences. */
  support: number;
}

export interface EntityMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Gold entities. */
  support: number;
  /** By entity type, as seqeval's report lists them. */
  types: LabelMetrics[];
}

export interface Evaluation {
  accuracy: number;
  macro_f1: number;
  labels: LabelMetrics[];
  /** confusion[gold][predicted], in label-id order. */
  confusion: number[][];
  /** Present when every label is O, B-X or I-X. */
  entities?: EntityMetrics;
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

function f1Of(precision: number, recall: number): number {
  return precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
}

/** Accuracy, per-label scores and the confusion matrix of predicted against gold label ids. */
export function evaluateLabels(
  gold: ArrayLike<number>,
  predicted: ArrayLike<number>,
  labelNames: readonly string[],
): Omit<Evaluation, 'entities'> {
  const k = labelNames.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < gold.length; i++) {
    confusion[gold[i]][predicted[i]]++;
    if (gold[i] === predicted[i]) correct++;
  }
  const labels = labelNames.map((label, c) => {
    const truePositives = confusion[c][c];
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predictedCount = confusion.reduce((sum, row) => sum + row[c], 0);
    const precision = ratio(truePositives, predictedCount);
    const recall = ratio(truePositives, support);
    return { label, precision, recall, f1: f1Of(precision, recall), support };
  });
  const present = labels.filter((l) => l.support > 0);
  return {
    accuracy: ratio(correct, gold.length),
    macro_f1: ratio(
      present.reduce((sum, l) => sum + l.f1, 0),
      present.length,
    ),
    labels,
    confusion,
  };
}

/** Whether labels are IOB tags (O, B-TYPE, I-TYPE) with at least one B-. */
export function isIobLabelSet(labels: readonly string[]): boolean {
  return (
    labels.every((label) => label === 'O' || /^[BI]-.+/.test(label)) &&
    labels.some((label) => label.startsWith('B-'))
  );
}

export interface Entity {
  type: string;
  start: number;
  /** Exclusive. */
  end: number;
}

/**
 * Entities of one sentence in strict IOB2: B-X starts one, following I-X continue it; an I-X
 * that does not continue a B-X/I-X of its own type belongs to no entity.
 */
export function iob2Entities(tags: readonly string[]): Entity[] {
  const entities: Entity[] = [];
  let i = 0;
  while (i < tags.length) {
    if (tags[i].startsWith('B-')) {
      const type = tags[i].slice(2);
      let j = i + 1;
      while (j < tags.length && tags[j] === `I-${type}`) j++;
      entities.push({ type, start: i, end: j });
      i = j;
    } else i++;
  }
  return entities;
}

/** seqeval's strict-mode micro scores (and per type) over sentences of gold and predicted tags. */
export function entityMetrics(
  gold: readonly (readonly string[])[],
  predicted: readonly (readonly string[])[],
): EntityMetrics {
  const counts = new Map<string, { truePositives: number; gold: number; predicted: number }>();
  const count = (type: string) => {
    let entry = counts.get(type);
    if (!entry) counts.set(type, (entry = { truePositives: 0, gold: 0, predicted: 0 }));
    return entry;
  };
  gold.forEach((sentence, s) => {
    const goldEntities = iob2Entities(sentence);
    const predictedEntities = iob2Entities(predicted[s]);
    const key = (e: Entity) => `${e.type}\u0000${e.start}\u0000${e.end}`;
    const goldKeys = new Set(goldEntities.map(key));
    for (const e of goldEntities) count(e.type).gold++;
    for (const e of predictedEntities) {
      count(e.type).predicted++;
      if (goldKeys.has(key(e))) count(e.type).truePositives++;
    }
  });
  const types = [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([label, c]) => {
      const precision = ratio(c.truePositives, c.predicted);
      const recall = ratio(c.truePositives, c.gold);
      return { label, precision, recall, f1: f1Of(precision, recall), support: c.gold };
    });
  const total = [...counts.values()].reduce(
    (sum, c) => ({
      truePositives: sum.truePositives + c.truePositives,
      gold: sum.gold + c.gold,
      predicted: sum.predicted + c.predicted,
    }),
    { truePositives: 0, gold: 0, predicted: 0 },
  );
  const precision = ratio(total.truePositives, total.predicted);
  const recall = ratio(total.truePositives, total.gold);
  return { precision, recall, f1: f1Of(precision, recall), support: total.gold, types };
}

/** The most frequent label id among `targets` (the lowest id on ties). */
export function majorityLabel(targets: ArrayLike<number>, labels: number): number {
  const counts = new Array<number>(labels).fill(0);
  for (let i = 0; i < targets.length; i++) counts[targets[i]]++;
  return counts.indexOf(Math.max(...counts));
}

/**
 * The full evaluation. `sentences` (token classification) gives each sentence's length in
 * words, so entities can be read from the flat label ids.
 */
export function evaluate(
  gold: ArrayLike<number>,
  predicted: ArrayLike<number>,
  labelNames: readonly string[],
  sentences?: readonly number[],
): Evaluation {
  const result: Evaluation = evaluateLabels(gold, predicted, labelNames);
  if (sentences && isIobLabelSet(labelNames)) {
    const goldTags: string[][] = [];
    const predictedTags: string[][] = [];
    let offset = 0;
    for (const length of sentences) {
      const g: string[] = [];
      const p: string[] = [];
      for (let i = offset; i < offset + length; i++) {
        g.push(labelNames[gold[i]]);
        p.push(labelNames[predicted[i]]);
      }
      goldTags.push(g);
      predictedTags.push(p);
      offset += length;
    }
    result.entities = entityMetrics(goldTags, predictedTags);
  }
  return result;
}

/** The score early stopping maximises: entity F1 for IOB tags, accuracy otherwise. */
export function validationScore(evaluation: Evaluation): number {
  return evaluation.entities ? evaluation.entities.f1 : evaluation.accuracy;
}
