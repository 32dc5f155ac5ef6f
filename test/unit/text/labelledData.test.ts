import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  csvRecords,
  formatFromName,
  LabelledDataError,
  parseLabelledData,
  type LabelledData,
} from '../../../src/text/labelledData';
import { alignWords, prefixedText } from '../../../src/text/wordTokens';
import { repoRoot } from '../../support/fixtures';

const samples = join(repoRoot, 'test', 'fixtures', 'training');

function fails(text: string, file: string, line: number, problem: RegExp, options = {}): void {
  assert.throws(
    () => parseLabelledData(text, { file, ...options }),
    (error: unknown) => {
      assert.ok(error instanceof LabelledDataError, String(error));
      assert.equal(error.file, file);
      assert.equal(error.line, line, error.message);
      assert.match(error.problem, problem);
      assert.ok(error.message.startsWith(`${file}:${line}: `));
      return true;
    },
  );
}

function words(data: LabelledData) {
  assert.equal(data.kind, 'words');
  return data.examples as { words: string[]; labels: string[]; line: number }[];
}

describe('labelled data: CoNLL-U', () => {
  const text = readFileSync(join(samples, 'pos-train.conllu'), 'utf8');

  it('reads UPOS tags by sentence and skips comments, multiword ranges and empty nodes', () => {
    const sentences = words(parseLabelledData(text, { file: 'pos-train.conllu' }));
    assert.equal(sentences.length, 61);
    const last = sentences[60];
    assert.deepEqual(last.words, ['She', 'can', 'not', 'find', 'the', 'old', 'book', '.']);
    assert.deepEqual(last.labels, ['PRON', 'AUX', 'PART', 'VERB', 'DET', 'ADJ', 'NOUN', 'PUNCT']);
    assert.equal(text.split('\n')[last.line - 1].split('\t')[1], 'She');
    const withEmptyNode =
      '1\tHe\the\tPRON\tPRP\t_\t0\troot\t_\t_\n1.1\tgoes\tgo\tVERB\tVBZ\t_\t_\t_\t_\t_\n';
    assert.deepEqual(words(parseLabelledData(withEmptyNode, { file: 'x.conllu' }))[0].words, [
      'He',
    ]);
  });

  it('reads XPOS tags when asked', () => {
    const sentences = words(parseLabelledData(text, { file: 'a.conllu', labelColumn: 'xpos' }));
    assert.deepEqual(sentences[60].labels, ['PRP', 'MD', 'RB', 'VB', 'DT', 'JJ', 'NN', '.']);
  });

  it('names the line of a malformed word line and of a missing tag', () => {
    fails('# c\n1\tThe\tthe\tDET\n', 'bad.conllu', 2, /10 tab-separated columns, this one has 4/);
    fails('1\tThe\tthe\t_\tDT\t_\t0\troot\t_\t_\n', 'bad.conllu', 1, /UPOS column has no tag/);
    fails('\n\nx\tThe\tthe\tDET\tDT\t_\t0\troot\t_\t_\n', 'bad.conllu', 3, /not a word number/);
    fails('1\tThe\tthe\tDET\t_\t_\t0\troot\t_\t_\n', 'u.conllu', 1, /no XPOS: train on upos/, {
      labelColumn: 'xpos',
    });
  });
});

describe('labelled data: CoNLL-2003 columns', () => {
  it('reads the word and its last-column tag, skipping -DOCSTART-', () => {
    const text = readFileSync(join(samples, 'ner-train.conll'), 'utf8');
    const sentences = words(parseLabelledData(text, { file: 'ner-train.conll' }));
    assert.equal(sentences.length, 60);
    assert.deepEqual(sentences[0].words.slice(0, 3), ['Anna', 'Smith', 'left']);
    assert.deepEqual(sentences[0].labels.slice(0, 3), ['B-PER', 'I-PER', 'O']);
    assert.equal(sentences[0].line, 3);
  });

  it('names the line whose column count differs, or that has no tag', () => {
    fails(
      'EU NNP B-ORG\nrejects VBZ O\n\nGerman JJ\n',
      'x.conll',
      4,
      /2 columns; the first word line had 3/,
    );
    fails('EU\n', 'x.conll', 1, /word and its tag/);
  });
});

describe('labelled data: JSON Lines', () => {
  it('reads tokens with tag names, or ids with the label names', () => {
    const named = '{"tokens": ["EU", "rejects"], "ner_tags": ["B-ORG", "O"]}\n';
    assert.deepEqual(words(parseLabelledData(named, { file: 'a.jsonl' }))[0].labels, [
      'B-ORG',
      'O',
    ]);
    const ids = '{"id": "0", "tokens": ["EU", "rejects"], "tags": [3, 0]}\n\n';
    const data = parseLabelledData(ids, {
      file: 'a.jsonl',
      labelNames: ['O', 'B-PER', 'I-PER', 'B-ORG', 'I-ORG'],
    });
    assert.deepEqual(words(data)[0].labels, ['B-ORG', 'O']);
  });

  it('reads texts with labels', () => {
    const data = parseLabelledData(
      '{"text": "great film", "label": 1}\n{"text": "dull", "label": 0}\n',
      {
        file: 'reviews.jsonl',
        labelNames: ['neg', 'pos'],
      },
    );
    assert.equal(data.kind, 'text');
    assert.deepEqual(
      data.examples.map((e) => ('label' in e ? e.label : '')),
      ['pos', 'neg'],
    );
  });

  it('names the line of invalid JSON, mismatched lengths and unknown ids', () => {
    const ok = '{"tokens": ["a"], "tags": ["O"]}\n';
    fails(`${ok}{"tokens": ["a"], "tags": ["O"]\n`, 'd.jsonl', 2, /not valid JSON/);
    fails(
      `${ok}${ok}{"tokens": ["a", "b"], "tags": ["O"]}\n`,
      'd.jsonl',
      3,
      /2 words but "tags" has 1/,
    );
    fails(`{"tokens": ["a"], "tags": [7]}\n`, 'd.jsonl', 1, /id 7 is outside the label list/, {
      labelNames: ['O'],
    });
    fails(`${ok}{"text": "x", "label": "a"}\n`, 'd.jsonl', 2, /earlier lines have "tokens"/);
    fails(`{"tokens": ["a"]}\n`, 'd.jsonl', 1, /no tags/);
  });
});

describe('labelled data: CSV and TSV', () => {
  it('reads RFC 4180 quoting: delimiters, doubled quotes and line breaks inside fields', () => {
    const csv = 'text,label\r\n"Good, really ""good""",pos\r\n"two\nlines",neg\r\nplain,neg\r\n';
    const data = parseLabelledData(csv, { file: 'r.csv' });
    assert.equal(data.kind, 'text');
    assert.deepEqual(
      data.examples.map((e) => ('text' in e ? [e.text, e.label, e.line] : [])),
      [
        ['Good, really "good"', 'pos', 2],
        ['two\nlines', 'neg', 3],
        ['plain', 'neg', 5],
      ],
    );
  });

  it('reads TSV and a named label column', () => {
    const data = parseLabelledData('sentence\ttopic\nrain today\tweather\n', {
      file: 'topics.tsv',
      labelColumn: 'topic',
    });
    assert.deepEqual(data.examples[0], { text: 'rain today', label: 'weather', line: 2 });
  });

  it('names the line of a bad row, an unclosed quote or a stray quote', () => {
    fails('text,label\na,b\nc\n', 'r.csv', 3, /1 fields; the header has 2/);
    fails('text,label\na,b\n"open,b\nmore\n', 'r.csv', 3, /never closed/);
    fails('text,label\nsaid "hi",b\n', 'r.csv', 2, /quote inside an unquoted field/);
    fails('text,label\n"x"y,b\n', 'r.csv', 2, /text after a closing quote/);
    fails('words,class\na,b\n', 'r.csv', 1, /must name a "text" column and a "label" column/);
    fails('text,label\n  ,b\n', 'r.csv', 2, /text is empty/);
  });

  it('splits records without a trailing line break', () => {
    assert.deepEqual(
      csvRecords('a,b\n1,2', ',', 'f').map((r) => r.fields),
      [
        ['a', 'b'],
        ['1', '2'],
      ],
    );
  });
});

describe('labelled data: formats', () => {
  it('knows the format from the file name, and asks when it cannot', () => {
    assert.equal(formatFromName('en_ewt-ud-train.conllu'), 'conllu');
    assert.equal(formatFromName('eng.train.conll'), 'conll');
    assert.equal(formatFromName('train.jsonl'), 'jsonl');
    assert.equal(formatFromName('x.tsv'), 'csv');
    fails('x', 'data.txt', 1, /format is not known/);
    fails('\n\n', 'empty.conll', 1, /no labelled examples/);
  });
});

describe('word alignment', () => {
  it('encodes every word with a leading space and labels its first token', () => {
    const pieces: Record<string, number[]> = { ' New': [1], ' Yorkers': [2, 3], ' cheer': [4] };
    const aligned = alignWords(['New', 'Yorkers', 'cheer'], (text) => pieces[text]);
    assert.deepEqual(aligned.ids, [1, 2, 3, 4]);
    assert.deepEqual(aligned.firstTokens, [0, 1, 3]);
    assert.deepEqual(aligned.wordOfToken, [0, 1, 1, 2]);
    assert.equal(prefixedText(['New', 'Yorkers']), ' New Yorkers');
  });
});
