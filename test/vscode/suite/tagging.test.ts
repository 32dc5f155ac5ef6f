import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, caseText, closeAll, fixture, openText, setting, until } from './helpers';

interface ExpectedEntity {
  entity_group: string;
  score: number;
  start_utf16: number;
  end_utf16: number;
}

function expectedEntities(id: string): ExpectedEntity[] {
  const expected = fixture<{ cases: { id: string; results: Record<string, ExpectedEntity[]> }[] }>(
    'gpt2-tiny-ner',
    'expected.json',
  );
  const entry = expected.cases.find((c) => c.id === id);
  if (!entry) throw new Error(`no NER case ${id}`);
  return entry.results.simple;
}

describe('NER and POS tags in the editor', () => {
  before(() => setting('tagging.aggregationStrategy', 'simple'));
  afterEach(async () => {
    await setting('tagging.auto', undefined);
    await closeAll();
  });

  it('decorates exactly the entities Hugging Face finds, at their UTF-16 ranges', async () => {
    const extension = await api();
    const text = caseText('emoji');
    const editor = await openText(text);
    await vscode.commands.executeCommand('gpt2Heads.tagEntities');
    const spans = extension.taggedSpans(editor.document.uri, 'ner');
    // As the editor shows them: without the spaces around them, and where the pipeline gives
    // several entities for one range (byte-level tokens sharing a character), the best one.
    const shown = new Map<string, ExpectedEntity>();
    for (const entity of expectedEntities('emoji')) {
      const covered = text.slice(entity.start_utf16, entity.end_utf16);
      const start = entity.start_utf16 + covered.length - covered.trimStart().length;
      const end = entity.end_utf16 - (covered.length - covered.trimEnd().length);
      const key = `${start}:${end}`;
      const other = shown.get(key);
      if (!other || entity.score > other.score) {
        shown.set(key, { ...entity, start_utf16: start, end_utf16: end });
      }
    }
    const expected = [...shown.values()].sort(
      (a, b) => a.start_utf16 - b.start_utf16 || a.end_utf16 - b.end_utf16,
    );
    assert.deepEqual(
      spans
        .map((s) => [
          s.label,
          editor.document.offsetAt(s.range.start),
          editor.document.offsetAt(s.range.end),
        ])
        .sort((a, b) => (a[1] as number) - (b[1] as number) || (a[2] as number) - (b[2] as number)),
      expected.map((e) => [e.entity_group, e.start_utf16, e.end_utf16]),
    );
  });

  it('shows the label, score and model in a hover over an entity', async () => {
    const extension = await api();
    const editor = await openText(caseText('names_places'));
    await vscode.commands.executeCommand('gpt2Heads.tagEntities');
    const [first] = extension.taggedSpans(editor.document.uri, 'ner');
    assert.ok(first, 'no entity was tagged');
    const hovers = await vscode.commands.executeCommand<vscode.Hover[]>(
      'vscode.executeHoverProvider',
      editor.document.uri,
      first.range.start.translate(
        0,
        first.range.isSingleLine && first.range.end.character > first.range.start.character ? 0 : 0,
      ),
    );
    const text = hovers
      .flatMap((hover) => hover.contents)
      .map((content) =>
        typeof content === 'string' ? content : (content as vscode.MarkdownString).value,
      )
      .join('\n')
      .replace(/\\(.)/g, '$1');
    assert.match(text, new RegExp(first.label.replace(/[-]/g, '\\\\-')));
    assert.match(text, new RegExp(`score ${first.score.toFixed(3)}`));
    // The folder's own name, not the path of the machine that runs the tests.
    assert.match(text, /model: gpt2-tiny-ner\s*$/m);
  });

  it('moves the tags with an edit before them, and re-tags automatically when asked to', async () => {
    const extension = await api();
    const text = caseText('names_places');
    const editor = await openText(text);
    await vscode.commands.executeCommand('gpt2Heads.tagEntities');
    const before = extension
      .taggedSpans(editor.document.uri, 'ner')
      .map((s) => editor.document.offsetAt(s.range.start));
    await editor.edit((edit) => edit.insert(new vscode.Position(0, 0), 'Hello. '));
    const moved = extension
      .taggedSpans(editor.document.uri, 'ner')
      .map((s) => editor.document.offsetAt(s.range.start));
    assert.deepEqual(moved, before.map((offset) => offset + 'Hello. '.length).slice(-moved.length));

    await setting('tagging.debounceMs', 100);
    await setting('tagging.auto', true);
    await editor.edit((edit) =>
      edit.insert(editor.document.positionAt(editor.document.getText().length), ' Paris.'),
    );
    await until(
      () => extension.taggedVersion(editor.document.uri, 'ner') === editor.document.version,
      'automatic re-tagging after the edit',
    );
    // The automatic result equals an explicit run on the same text.
    const automatic = extension
      .taggedSpans(editor.document.uri, 'ner')
      .map((s) => [s.label, s.start, s.end]);
    const automaticVersion = extension.taggedVersion(editor.document.uri, 'ner');
    await setting('tagging.auto', false);
    await vscode.commands.executeCommand('gpt2Heads.tagEntities');
    const explicit = extension
      .taggedSpans(editor.document.uri, 'ner')
      .map((s) => [s.label, s.start, s.end]);
    assert.deepEqual(
      automatic,
      explicit,
      `automatic at version ${automaticVersion}, explicit at ${extension.taggedVersion(editor.document.uri, 'ner')}, document ${editor.document.version}: ${JSON.stringify(editor.document.getText())}`,
    );
  });

  it('tags parts of speech alongside entities, and clears both', async () => {
    const extension = await api();
    const editor = await openText(caseText('news'));
    await vscode.commands.executeCommand('gpt2Heads.tagEntities');
    await vscode.commands.executeCommand('gpt2Heads.tagPartsOfSpeech');
    const pos = extension.taggedSpans(editor.document.uri, 'pos');
    assert.ok(pos.length > 0, 'no POS tags');
    const tags = new Set([
      'ADJ',
      'ADP',
      'ADV',
      'AUX',
      'CCONJ',
      'DET',
      'INTJ',
      'NOUN',
      'NUM',
      'PART',
      'PRON',
      'PROPN',
      'PUNCT',
      'SCONJ',
      'SYM',
      'VERB',
      'X',
    ]);
    assert.ok(pos.every((s) => tags.has(s.label)));
    assert.ok(extension.taggedSpans(editor.document.uri, 'ner').length > 0);
    await vscode.commands.executeCommand('gpt2Heads.clearTags');
    assert.equal(extension.taggedSpans(editor.document.uri).length, 0);
  });

  it('paints the tags on screen first, while the rest of a long document is still being tagged', async function () {
    this.timeout(120_000);
    const extension = await api();
    // ~190 copies of the long case: under the 500,000-character guard, ~90 windows of the model.
    const long = Array.from({ length: 190 }, (_, i) => `${i}. ${caseText('long_text')}`).join(
      '\n\n',
    );
    const editor = await openText(long);
    const middle = Math.floor(editor.document.lineCount / 2);
    const target = new vscode.Position(middle, 0);
    editor.selection = new vscode.Selection(target, target);
    await until(() => {
      // The editor may still be laying out the new document: ask again until it has scrolled.
      editor.revealRange(new vscode.Range(target, target), vscode.TextEditorRevealType.InCenter);
      return editor.visibleRanges.some((range) => range.contains(target));
    }, 'the middle of the document on screen');
    const visible = editor.visibleRanges.map((range) => [range.start.line, range.end.line]);
    let settled = false;
    const tagging = Promise.resolve(
      vscode.commands.executeCommand<unknown[]>('gpt2Heads.tagEntities'),
    ).finally(() => (settled = true));
    // The first tags painted while the command is still running: those of the window on screen.
    const first = await until(() => {
      const painted = Object.values(extension.shownDecorations(editor.document.uri)).flat();
      return painted.length > 0 ? { painted, settled } : undefined;
    }, 'the first painted tags');
    const spans = await tagging;
    assert.equal(first.settled, false, 'nothing was painted before the whole document was tagged');
    // Windows finish in bursts that are painted together, and a window on screen may reach a
    // little above or below it; but those windows come first: tagging from the top would paint
    // only lines hundreds of lines above the screen.
    const reach = 30;
    const nearScreen = (range: vscode.Range) =>
      visible.some(
        ([start, end]) => range.end.line >= start - reach && range.start.line <= end + reach,
      );
    assert.ok(
      first.painted.some(nearScreen),
      `the first tags painted (lines ${first.painted.map((r) => r.start.line).join(', ')}) are ` +
        `far from the screen (${JSON.stringify(visible)})`,
    );
    assert.ok(
      spans && spans.length > first.painted.length,
      'the rest of the document was not tagged',
    );
    assert.ok(
      extension
        .taggedSpans(editor.document.uri, 'ner')
        .some((span) => span.range.end.line < visible[0][0]),
      'no tags above the screen once done',
    );
  });
});
