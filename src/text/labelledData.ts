// Readers for the labelled data a head is trained on, in the formats people already have:
// CoNLL-U treebanks (UPOS or XPOS), CoNLL-2003 style columns (IOB tags in the last column),
// JSON Lines as Hugging Face `datasets` writes them, and CSV/TSV with a header (RFC 4180).
// A bad line stops the whole read with the file, its 1-based line number and the problem, so
// nothing is trained on data the user did not mean.

export type LabelledFormat = 'conllu' | 'conll' | 'jsonl' | 'csv';
export const labelledFormats: readonly LabelledFormat[] = ['conllu', 'conll', 'jsonl', 'csv'];

/** One sentence of pre-split words with one label per word. */
export interface WordsExample {
  words: string[];
  labels: string[];
  /** Line of the file the example starts on (1-based). */
  line: number;
}

/** One text with one label. */
export interface TextExample {
  text: string;
  label: string;
  line: number;
}

export type LabelledData =
  | { kind: 'words'; examples: WordsExample[]; labelNames?: string[] }
  | { kind: 'text'; examples: TextExample[]; labelNames?: string[] };

export interface ParseOptions {
  /** The file's name, for messages. */
  file: string;
  format?: LabelledFormat;
  /** CoNLL-U: 'upos' (default) or 'xpos'. JSON Lines and CSV: the field holding the labels. */
  labelColumn?: string;
  /** Names of label ids, when the data stores ids (Hugging Face ClassLabel names). */
  labelNames?: readonly string[];
}

/** A problem in a data file: `file:line: problem`. */
export class LabelledDataError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
    this.name = 'LabelledDataError';
  }
}

/** The format a file name suggests, or undefined when it says nothing. */
export function formatFromName(file: string): LabelledFormat | undefined {
  const name = file.toLowerCase();
  if (name.endsWith('.conllu')) return 'conllu';
  if (/\.(conll|conll03|iob|iob2|bio)$/.test(name)) return 'conll';
  if (/\.(jsonl|ndjson)$/.test(name)) return 'jsonl';
  if (/\.(csv|tsv)$/.test(name)) return 'csv';
  return undefined;
}

export function parseLabelledData(text: string, options: ParseOptions): LabelledData {
  const format = options.format ?? formatFromName(options.file);
  if (!format) {
    throw new LabelledDataError(
      options.file,
      1,
      'the format is not known from the file name: use .conllu, .conll, .jsonl, .csv or .tsv, ' +
        'or name the format (conllu, conll, jsonl or csv).',
    );
  }
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let data: LabelledData;
  switch (format) {
    case 'conllu':
      data = parseConllu(body, options);
      break;
    case 'conll':
      data = parseConll(body, options);
      break;
    case 'jsonl':
      data = parseJsonLines(body, options);
      break;
    case 'csv':
      data = parseCsv(body, options);
      break;
  }
  if (data.examples.length === 0) {
    throw new LabelledDataError(options.file, 1, 'the file has no labelled examples.');
  }
  return data;
}

function lines(text: string): string[] {
  return text.split(/\r?\n/);
}

/** What a word-per-line format makes of a line: a word and its tag, nothing, or a sentence break. */
type WordLine = { word: string; label: string } | 'skip' | 'break';

/** The sentences of a word-per-line format: a blank line (or a 'break' line) ends one. */
function sentencesOf(text: string, read: (line: string, number: number) => WordLine): LabelledData {
  const examples: WordsExample[] = [];
  let current: WordsExample | undefined;
  const close = () => {
    if (current && current.words.length > 0) examples.push(current);
    current = undefined;
  };
  lines(text).forEach((line, i) => {
    const number = i + 1;
    if (line.trim() === '') return close();
    const word = read(line, number);
    if (word === 'break') return close();
    if (word === 'skip') return;
    current ??= { words: [], labels: [], line: number };
    current.words.push(word.word);
    current.labels.push(word.label);
  });
  close();
  return { kind: 'words', examples };
}

/** CoNLL-U: ten tab-separated columns; multiword ranges (1-2) and empty nodes (1.1) are skipped. */
export function parseConllu(text: string, options: ParseOptions): LabelledData {
  const column = (options.labelColumn ?? 'upos').toLowerCase();
  if (column !== 'upos' && column !== 'xpos') {
    throw new LabelledDataError(
      options.file,
      1,
      `the label column of CoNLL-U is upos or xpos (got "${options.labelColumn}").`,
    );
  }
  const index = column === 'upos' ? 3 : 4;
  return sentencesOf(text, (line, number) => {
    if (line.startsWith('#')) return 'skip';
    const fields = line.split('\t');
    if (fields.length !== 10) {
      throw new LabelledDataError(
        options.file,
        number,
        `a CoNLL-U word line has 10 tab-separated columns, this one has ${fields.length}.`,
      );
    }
    const id = fields[0];
    if (/^\d+-\d+$/.test(id) || /^\d+\.\d+$/.test(id)) return 'skip';
    if (!/^\d+$/.test(id)) {
      throw new LabelledDataError(
        options.file,
        number,
        `the ID column is "${id}", not a word number.`,
      );
    }
    const word = fields[1];
    const label = fields[index];
    if (word === '') throw new LabelledDataError(options.file, number, 'the FORM column is empty.');
    if (label === '' || label === '_') {
      throw new LabelledDataError(
        options.file,
        number,
        `the ${column.toUpperCase()} column has no tag ("${label}")` +
          (column === 'xpos' ? '; this treebank may have no XPOS: train on upos.' : '.'),
      );
    }
    return { word, label };
  });
}

/** CoNLL-2003 style: the word first, its tag last, space or tab separated; -DOCSTART- is skipped. */
export function parseConll(text: string, options: ParseOptions): LabelledData {
  let columns: number | undefined;
  return sentencesOf(text, (line, number) => {
    const fields = line.trim().split(/[ \t]+/);
    if (fields[0] === '-DOCSTART-') return 'break';
    if (fields.length < 2) {
      throw new LabelledDataError(
        options.file,
        number,
        'a word line needs the word and its tag separated by a space or a tab (found one column).',
      );
    }
    columns ??= fields.length;
    if (fields.length !== columns) {
      throw new LabelledDataError(
        options.file,
        number,
        `this line has ${fields.length} columns; the first word line had ${columns}.`,
      );
    }
    return { word: fields[0], label: fields[fields.length - 1] };
  });
}

const tagFields = ['ner_tags', 'tags', 'labels', 'upos', 'pos_tags'];
const textFields = ['text', 'sentence', 'content'];

function labelName(
  value: unknown,
  names: readonly string[] | undefined,
  fail: (problem: string) => never,
): string {
  if (typeof value === 'string') {
    if (value === '') fail('a label is an empty string.');
    return value;
  }
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) {
    if (!names) return String(value);
    const name = names[value];
    if (name === undefined) {
      fail(`label id ${value} is outside the label list (${names.length} names).`);
    }
    return name;
  }
  return fail(
    `a label must be a name or a non-negative integer id (got ${JSON.stringify(value)}).`,
  );
}

/**
 * JSON Lines, one object per line: `{"tokens": [...], "ner_tags"|"tags"|"labels": [...]}` for
 * words, `{"text": ..., "label": ...}` for texts. Labels are names, or ids into `labelNames`.
 */
export function parseJsonLines(text: string, options: ParseOptions): LabelledData {
  const wordsExamples: WordsExample[] = [];
  const textExamples: TextExample[] = [];
  lines(text).forEach((line, i) => {
    const number = i + 1;
    if (line.trim() === '') return;
    const fail: (problem: string) => never = (problem) => {
      throw new LabelledDataError(options.file, number, problem);
    };
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch (error) {
      fail(`not valid JSON (${(error as Error).message}).`);
    }
    if (typeof row !== 'object' || row === null || Array.isArray(row)) {
      fail('each line must be one JSON object.');
    }
    const record = row as Record<string, unknown>;
    if ('tokens' in record) {
      if (textExamples.length > 0) fail('this line has "tokens" but earlier lines have "text".');
      const tokens = record.tokens;
      if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string' && t !== '')) {
        fail('"tokens" must be a list of non-empty strings.');
      }
      const field = options.labelColumn ?? tagFields.find((name) => name in record);
      if (!field || !(field in record)) {
        fail(
          `no tags: expected one of ${tagFields.map((f) => `"${f}"`).join(', ')} beside "tokens".`,
        );
      }
      const tags = record[field];
      if (!Array.isArray(tags)) fail(`"${field}" must be a list.`);
      if (tags.length !== tokens.length) {
        fail(`"tokens" has ${tokens.length} words but "${field}" has ${tags.length} tags.`);
      }
      if (tokens.length === 0) return;
      wordsExamples.push({
        words: tokens as string[],
        labels: tags.map((tag) => labelName(tag, options.labelNames, fail)),
        line: number,
      });
      return;
    }
    const textField = textFields.find((name) => name in record);
    if (!textField) {
      fail('expected "tokens" with tags (token classification) or "text" with "label".');
    }
    if (wordsExamples.length > 0) fail('this line has "text" but earlier lines have "tokens".');
    const value = record[textField];
    if (typeof value !== 'string' || value.trim() === '')
      fail(`"${textField}" must be a non-empty string.`);
    const field = options.labelColumn ?? 'label';
    if (!(field in record)) fail(`no "${field}" beside "${textField}".`);
    textExamples.push({
      text: value,
      label: labelName(record[field], options.labelNames, fail),
      line: number,
    });
  });
  return wordsExamples.length > 0
    ? { kind: 'words', examples: wordsExamples, labelNames: options.labelNames?.slice() }
    : { kind: 'text', examples: textExamples, labelNames: options.labelNames?.slice() };
}

interface CsvRecord {
  fields: string[];
  line: number;
}

/** RFC 4180 records: quoted fields may hold the delimiter, doubled quotes and line breaks. */
export function csvRecords(text: string, delimiter: string, file: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let fields: string[] = [];
  let field = '';
  let line = 1;
  let recordLine = 1;
  let i = 0;
  let quoted = false;
  let afterQuote = false;
  const endField = () => {
    fields.push(field);
    field = '';
    afterQuote = false;
  };
  const endRecord = () => {
    endField();
    if (!(fields.length === 1 && fields[0] === '')) records.push({ fields, line: recordLine });
    fields = [];
  };
  while (i < text.length) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        afterQuote = true;
        i++;
        continue;
      }
      if (c === '\n') line++;
      field += c;
      i++;
      continue;
    }
    if (c === '"') {
      if (field !== '' || afterQuote) {
        throw new LabelledDataError(
          file,
          line,
          'a quote inside an unquoted field: quote the whole field and double the quotes inside ("").',
        );
      }
      quoted = true;
      i++;
      continue;
    }
    if (c === delimiter) {
      endField();
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      endRecord();
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line++;
      recordLine = line;
      continue;
    }
    if (afterQuote) {
      throw new LabelledDataError(
        file,
        line,
        'text after a closing quote: a quoted field must end at the delimiter or the line end.',
      );
    }
    field += c;
    i++;
  }
  if (quoted) {
    throw new LabelledDataError(file, recordLine, 'a quoted field is never closed.');
  }
  if (field !== '' || fields.length > 0 || afterQuote) endRecord();
  return records;
}

/** CSV or TSV with a header row naming a text column and a label column. */
export function parseCsv(text: string, options: ParseOptions): LabelledData {
  const firstLine = text.slice(0, text.search(/\r?\n|$/));
  const delimiter =
    options.file.toLowerCase().endsWith('.tsv') ||
    (firstLine.includes('\t') && !firstLine.includes(','))
      ? '\t'
      : ',';
  const records = csvRecords(text, delimiter, options.file);
  if (records.length === 0) throw new LabelledDataError(options.file, 1, 'the file is empty.');
  const [header, ...rows] = records;
  const names = header.fields.map((name) => name.trim().toLowerCase());
  const textIndex = names.findIndex((name) => textFields.includes(name));
  const labelField = (options.labelColumn ?? 'label').toLowerCase();
  const labelIndex = names.indexOf(labelField);
  if (textIndex < 0 || labelIndex < 0) {
    throw new LabelledDataError(
      options.file,
      header.line,
      `the header row must name a "text" column and a "${labelField}" column ` +
        `(found: ${header.fields.map((f) => `"${f}"`).join(', ')}).`,
    );
  }
  const examples = rows.map((row): TextExample => {
    const fail: (problem: string) => never = (problem) => {
      throw new LabelledDataError(options.file, row.line, problem);
    };
    if (row.fields.length !== header.fields.length) {
      fail(`this row has ${row.fields.length} fields; the header has ${header.fields.length}.`);
    }
    const value = row.fields[textIndex];
    if (value.trim() === '') fail('the text is empty.');
    const raw = row.fields[labelIndex].trim();
    if (raw === '') fail('the label is empty.');
    const label =
      options.labelNames && /^\d+$/.test(raw)
        ? labelName(Number(raw), options.labelNames, fail)
        : raw;
    return { text: value, label, line: row.line };
  });
  return { kind: 'text', examples, labelNames: options.labelNames?.slice() };
}
