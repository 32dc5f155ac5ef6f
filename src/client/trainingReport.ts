// training_report.json as a Markdown page for the results view: the scores against the
// majority-label baseline, per-label precision/recall/F1, entity scores and the confusion matrix.
// No VS Code API here, so it is unit-tested in plain Node.
import type { Evaluation, TrainingReport } from '../protocol';
import { escapeMarkdown } from '../text/markdown';

const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/** Labels and paths from the user's data, as literal text (escapeMarkdown also escapes "|"). */
const cell = escapeMarkdown;

function labelTable(evaluation: Evaluation): string[] {
  return [
    '| label | precision | recall | F1 | support |',
    '|---|---:|---:|---:|---:|',
    ...evaluation.labels.map(
      (l) =>
        `| ${cell(l.label)} | ${percent(l.precision)} | ${percent(l.recall)} | ${percent(l.f1)} | ${l.support} |`,
    ),
  ];
}

function confusionTable(report: TrainingReport): string[] {
  const { labels } = report;
  const { confusion } = report.validation;
  return [
    `| gold ＼ predicted | ${labels.map(cell).join(' | ')} |`,
    `|---|${labels.map(() => '---:').join('|')}|`,
    ...labels.map(
      (label, g) =>
        `| **${cell(label)}** | ${confusion[g].map((n, p) => (g === p ? `**${n}**` : String(n))).join(' | ')} |`,
    ),
  ];
}

export function reportMarkdown(report: TrainingReport, folder: string): string {
  const { validation, baseline } = report;
  const lines = [
    `# Trained head: ${cell(report.architecture)}`,
    '',
    `Saved to ${cell(folder)}, on the backbone ${cell(report.backbone)}.`,
    '',
    `Validation: ${report.validation_file ? cell(report.validation_file) : `a seeded ${percent(report.validation_split ?? 0)} of the training examples`} — ${report.examples.validation} examples, ${report.rows.validation} ${report.task === 'token-classification' ? 'words' : 'texts'}. Trained on ${report.examples.train} examples (${report.rows.train} ${report.task === 'token-classification' ? 'words' : 'texts'}), best epoch ${report.best_epoch} of ${report.history.length}.`,
    '',
    '| | this head | majority label (' + cell(baseline.label) + ') |',
    '|---|---:|---:|',
    `| accuracy | ${percent(validation.accuracy)} | ${percent(baseline.validation.accuracy)} |`,
    `| macro F1 | ${percent(validation.macro_f1)} | ${percent(baseline.validation.macro_f1)} |`,
  ];
  if (validation.entities && baseline.validation.entities) {
    const e = validation.entities;
    const b = baseline.validation.entities;
    lines.push(
      `| entity precision (seqeval, strict IOB2) | ${percent(e.precision)} | ${percent(b.precision)} |`,
      `| entity recall | ${percent(e.recall)} | ${percent(b.recall)} |`,
      `| entity F1 | ${percent(e.f1)} | ${percent(b.f1)} |`,
    );
  }
  lines.push('', '## Per label', '', ...labelTable(validation));
  if (validation.entities) {
    lines.push(
      '',
      '## Entities',
      '',
      '| type | precision | recall | F1 | support |',
      '|---|---:|---:|---:|---:|',
      ...validation.entities.types.map(
        (t) =>
          `| ${cell(t.label)} | ${percent(t.precision)} | ${percent(t.recall)} | ${percent(t.f1)} | ${t.support} |`,
      ),
    );
  }
  lines.push('', '## Confusion matrix', '', ...confusionTable(report));
  lines.push(
    '',
    '## Training',
    '',
    '| epoch | loss | validation score |',
    '|---:|---:|---:|',
    ...report.history.map(
      (h) => `| ${h.epoch} | ${h.loss.toFixed(4)} | ${percent(h.validation_score)} |`,
    ),
    '',
    `Features: ${report.timing.tokens} tokens in ${report.timing.feature_seconds.toFixed(1)} s${report.timing.features_cached ? ' (from the cache)' : ''}; training ${report.timing.training_seconds.toFixed(1)} s (${report.options.optimizer}, seed ${report.options.seed}).`,
    '',
  );
  return lines.join('\n');
}
