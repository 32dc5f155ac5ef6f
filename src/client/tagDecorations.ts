import * as vscode from 'vscode';
import type { TaggingRole } from '../protocol';
import { touchingVariants } from '../text/spans';
import { settings } from './settings';
import { forgetDecoration, paint } from './shownDecorations';

/** Full names for the usual CoNLL entity groups and the Universal POS tags. */
const labelNames: Record<string, string> = {
  PER: 'person',
  ORG: 'organization',
  LOC: 'location',
  MISC: 'miscellaneous',
  ADJ: 'adjective',
  ADP: 'adposition',
  ADV: 'adverb',
  AUX: 'auxiliary',
  CCONJ: 'coordinating conjunction',
  DET: 'determiner',
  INTJ: 'interjection',
  NOUN: 'noun',
  NUM: 'numeral',
  PART: 'particle',
  PRON: 'pronoun',
  PROPN: 'proper noun',
  PUNCT: 'punctuation',
  SCONJ: 'subordinating conjunction',
  SYM: 'symbol',
  VERB: 'verb',
  X: 'other',
};

// Mid-saturation hues that read on light, dark and high-contrast backgrounds as a tint plus a
// border (NER) or an underline (POS).
const palette = [
  '#e5534b',
  '#2f81f7',
  '#3fb950',
  '#d29922',
  '#a371f7',
  '#db61a2',
  '#39c5cf',
  '#f0883e',
  '#8b949e',
  '#56d364',
];
const knownColors: Record<string, string> = {
  PER: '#e5534b',
  ORG: '#2f81f7',
  LOC: '#3fb950',
  MISC: '#d29922',
};

export function describeLabel(label: string): string {
  const bare = label.replace(/^[BIES]-/, '');
  const name = labelNames[bare];
  return name ? `${label} — ${name}` : label;
}

function colorFor(label: string): string {
  const custom = settings.labelColors()[label];
  if (custom) return custom;
  if (knownColors[label]) return knownColors[label];
  let hash = 0;
  for (const char of label) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return palette[hash % palette.length];
}

/** What a tag decoration needs of a span: where it is now, and what it is. */
export interface PaintedSpan {
  role: TaggingRole;
  label: string;
  start: number;
  end: number;
  range: vscode.Range;
}

/**
 * The tags' decorations: one type per role and label, in two variants, because an editor draws
 * touching ranges of one type as one box (two adjacent PER entities would read as one, with one
 * label). Touching spans of one label alternate between the variants.
 */
export class TagDecorations implements vscode.Disposable {
  private readonly types = new Map<string, vscode.TextEditorDecorationType>();

  /** Paints the spans of each visible editor; types without spans there are cleared. */
  paintAll(spansOf: (document: vscode.TextDocument) => readonly PaintedSpan[]): void {
    for (const editor of vscode.window.visibleTextEditors) {
      const byKey = new Map<string, PaintedSpan[]>();
      for (const span of spansOf(editor.document)) {
        const key = `${span.role}:${span.label}`;
        let list = byKey.get(key);
        if (!list) byKey.set(key, (list = []));
        list.push(span);
      }
      const ranges = new Map<string, vscode.Range[]>();
      for (const [key, spans] of byKey) {
        spans.sort((a, b) => a.start - b.start);
        const variants = touchingVariants(spans);
        spans.forEach((span, i) => {
          const name = `${key}:${variants[i]}`;
          this.type(span.role, span.label, variants[i]);
          let list = ranges.get(name);
          if (!list) ranges.set(name, (list = []));
          list.push(span.range);
        });
      }
      for (const [name, type] of this.types) paint(editor, type, name, ranges.get(name) ?? []);
    }
  }

  /** Forgets the types (colours or label display changed); the next paint makes new ones. */
  reset(): void {
    for (const [name, type] of this.types) {
      type.dispose();
      forgetDecoration(name);
    }
    this.types.clear();
  }

  dispose(): void {
    this.reset();
  }

  private type(role: TaggingRole, label: string, variant: number): vscode.TextEditorDecorationType {
    const name = `${role}:${label}:${variant}`;
    let type = this.types.get(name);
    if (!type) {
      const color = colorFor(label);
      type =
        role === 'ner'
          ? vscode.window.createTextEditorDecorationType({
              backgroundColor: `${color}33`,
              border: `1px solid ${color}`,
              borderRadius: '3px',
              after: settings.showLabels()
                ? { contentText: ` ${label}`, color, fontStyle: 'italic', margin: '0 0 0 2px' }
                : undefined,
              overviewRulerColor: color,
              overviewRulerLane: vscode.OverviewRulerLane.Right,
              rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
            })
          : vscode.window.createTextEditorDecorationType({
              textDecoration: `underline dotted ${color}`,
              rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
            });
      this.types.set(name, type);
    }
    return type;
  }
}
