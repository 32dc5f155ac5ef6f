// The extension as a user gets it: installed from the linux-x64 VSIX into a clean extensions
// folder outside the repository, so nothing can be borrowed from the repository's node_modules.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join, sep } from 'node:path';
import * as vscode from 'vscode';
import type { GenerateResult } from '../../../src/protocol';
import { visibleSpans } from '../../../src/text/spans';
import { api, caseText, closeAll, fixture, openText, repoRoot, setting } from '../suite/helpers';

const extensionId = 'gpt2-heads.gpt2-heads';

interface Manifest {
  icon: string;
  l10n?: string;
  contributes: {
    walkthroughs?: {
      steps: { description: string; media: { image?: string; markdown?: string; svg?: string } }[];
    }[];
  };
}

interface ExpectedEntity {
  entity_group: string;
  score: number;
  start_utf16: number;
  end_utf16: number;
}

describe('the installed linux-x64 VSIX', () => {
  afterEach(closeAll);

  it('is loaded from the clean extensions folder with only the linux-x64 onnxruntime binaries', () => {
    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension, `${extensionId} is not installed`);
    const extensionsDir = process.env.GPT2_HEADS_VSIX_EXTENSIONS_DIR;
    assert.ok(extensionsDir, 'GPT2_HEADS_VSIX_EXTENSIONS_DIR is not set by runVsixSmoke');
    assert.ok(
      extension.extensionPath.startsWith(extensionsDir + sep),
      `${extension.extensionPath} is not in ${extensionsDir}`,
    );
    assert.ok(!extension.extensionPath.startsWith(repoRoot + sep), 'loaded from the repository');
    const binaries = join(
      extension.extensionPath,
      'dist',
      'node_modules',
      'onnxruntime-node',
      'bin',
      'napi-v6',
    );
    assert.deepEqual(readdirSync(binaries), ['linux']);
    assert.deepEqual(readdirSync(join(binaries, 'linux')), ['x64']);
    assert.ok(!existsSync(join(extension.extensionPath, 'node_modules')), 'ships a node_modules');
  });

  it('activates and continues a text with the fixture LM, inserting its greedy continuation', async () => {
    await api();
    const [expected] = fixture<{
      generation: { greedy: { prompt: string; new_ids: number[]; new_text: string }[] };
    }>('gpt2-tiny-lm', 'expected.json').generation.greedy;
    await setting('generation.maxNewTokens', expected.new_ids.length);
    // The goldens are float32 results; int8 kernels differ by CPU, so compare the fp32 graph.
    await setting('dtype', 'fp32');
    const editor = await openText(expected.prompt);
    const end = editor.document.positionAt(expected.prompt.length);
    editor.selection = new vscode.Selection(end, end);
    let result: GenerateResult;
    try {
      result = await vscode.commands.executeCommand<GenerateResult>('gpt2Heads.continueText');
    } finally {
      await setting('dtype', undefined);
    }
    assert.deepEqual(result.new_token_ids, expected.new_ids);
    assert.equal(editor.document.getText(), expected.prompt + expected.new_text);
  });

  it('tags the entities the fixture NER model finds, at their UTF-16 ranges', async () => {
    const extension = await api();
    await setting('tagging.aggregationStrategy', 'simple');
    const editor = await openText(caseText('names_places'));
    await vscode.commands.executeCommand('gpt2Heads.tagEntities');
    const cases = fixture<{ cases: { id: string; results: Record<string, ExpectedEntity[]> }[] }>(
      'gpt2-tiny-ner',
      'expected.json',
    ).cases;
    const expected = cases.find((c) => c.id === 'names_places')?.results.simple;
    assert.ok(expected && expected.length > 0, 'the fixture has no entities for names_places');
    const spans = extension.taggedSpans(editor.document.uri, 'ner');
    // The editor shows each entity on its visible characters, one per range (README).
    const shown = visibleSpans(
      editor.document.getText(),
      expected.map((e) => ({
        label: e.entity_group,
        score: e.score,
        start: e.start_utf16,
        end: e.end_utf16,
      })),
    );
    assert.deepEqual(
      spans.map((s) => [
        s.label,
        editor.document.offsetAt(s.range.start),
        editor.document.offsetAt(s.range.end),
      ]),
      shown.map((e) => [e.label, e.start, e.end]),
    );
  });

  it('carries every file its manifest names: icon, walkthrough media, l10n bundle', () => {
    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension);
    const manifest = extension.packageJSON as Manifest;
    const files = [
      manifest.icon,
      ...(manifest.l10n ? [join(manifest.l10n, 'bundle.l10n.json')] : []),
    ];
    for (const walkthrough of manifest.contributes.walkthroughs ?? []) {
      for (const step of walkthrough.steps)
        files.push(
          ...[step.media.image, step.media.markdown, step.media.svg].filter((f) => f !== undefined),
        );
    }
    const missing = files.filter((file) => !existsSync(join(extension.extensionPath, file)));
    assert.deepEqual(missing, []);
  });

  it('registers every command a walkthrough button runs', async () => {
    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension);
    await api();
    const manifest = extension.packageJSON as Manifest;
    const linked = (manifest.contributes.walkthroughs ?? []).flatMap((walkthrough) =>
      walkthrough.steps.flatMap((step) =>
        [...step.description.matchAll(/\(command:([\w.]+)/g)].map((match) => match[1]),
      ),
    );
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual([...new Set(linked.filter((command) => !registered.has(command)))], []);
  });
});
