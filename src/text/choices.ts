// Splits a selected question into its context and its answer options, for multiple choice.
// Options are lines that start with a marker: "A) …", "B. …", "(c) …", "1. …", "2) …", "- …",
// "* …", "• …". Everything before the first option line is the context.

export type MarkerKind = 'letter' | 'number' | 'bullet';

export interface ParsedChoices {
  /** The text before the first option, trimmed. */
  context: string;
  /** Option texts without their markers, trimmed; a wrapped line joins its option with a space. */
  options: string[];
  /** The markers as written ("A)", "2.", "-"), one per option. */
  markers: string[];
  /** The kind of marker the options use; undefined when there are none. */
  kind?: MarkerKind;
}

const optionLine =
  /^[ \t]*(\(?[A-Za-z]\)|[A-Za-z]\.|\(?\d{1,3}\)|\d{1,3}\.|[-*•])[ \t]+(\S.*?)[ \t]*$/u;

function kindOf(marker: string): MarkerKind {
  if (/\d/.test(marker)) return 'number';
  if (/[A-Za-z]/.test(marker)) return 'letter';
  return 'bullet';
}

/**
 * The context and options of a selection. Options all use the kind of marker the first one
 * uses; after the first option, a non-empty line without such a marker continues the option
 * before it, and empty lines are skipped. No option lines: the whole text is the context.
 */
export function parseChoices(selection: string): ParsedChoices {
  const lines = selection.split(/\r\n|\r|\n/);
  const first = lines.findIndex((line) => optionLine.test(line));
  if (first < 0) return { context: selection.trim(), options: [], markers: [] };
  const kind = kindOf(optionLine.exec(lines[first])![1]);
  const options: string[] = [];
  const markers: string[] = [];
  for (const line of lines.slice(first)) {
    const match = optionLine.exec(line);
    if (match && kindOf(match[1]) === kind) {
      markers.push(match[1]);
      options.push(match[2]);
    } else if (line.trim() !== '') {
      options[options.length - 1] += ' ' + line.trim();
    }
  }
  return { context: lines.slice(0, first).join('\n').trim(), options, markers, kind };
}

/** An option as an LM continuation of its context: GPT-2 words carry their leading space. */
export function optionAsContinuation(option: string): string {
  return ' ' + option;
}
