// `gpt2Heads.classification.labelNames`: readable names for a checkpoint's LABEL_i labels (many
// fine-tuned heads have no id2label, e.g. the IMDB default: LABEL_0 negative, LABEL_1 positive).
import * as vscode from 'vscode';
import type { ClassifyResult } from '../protocol';

/** The result with LABEL_i renamed to the i-th configured name (zero-shot labels are kept). */
export function withLabelNames(result: ClassifyResult): ClassifyResult {
  const names =
    vscode.workspace.getConfiguration('gpt2Heads').get<string[]>('classification.labelNames') ?? [];
  if (result.zeroShot || names.length === 0) return result;
  return {
    ...result,
    labels: result.labels.map(({ label, score }) => {
      const index = /^LABEL_(\d+)$/.exec(label)?.[1];
      const name = index === undefined ? undefined : names[Number(index)]?.trim();
      return { label: name || label, score };
    }),
  };
}
