// Serving engines from the editor: the same features with the graph on an Open Inference
// Protocol stand-in and the LM on an OpenAI-compatible stand-in (both on 127.0.0.1, in a child
// process): the same entities and text as locally, and a server that is down or refused leaves
// the local heads working.
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { closedPort } from '../../support/ports';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { GenerateResult, HostStatus } from '../../../src/protocol';
import type { StandInUrls } from '../../support/standIns';
import {
  api,
  caseText,
  closeAll,
  fixture,
  fixturesDir,
  openText,
  repoRoot,
  setting,
} from './helpers';

async function standIns(): Promise<{ child: ChildProcess; urls: StandInUrls }> {
  const child = fork(
    join(repoRoot, 'out', 'test', 'support', 'standIns.js'),
    [
      mkdtempSync(join(tmpdir(), 'gpt2-heads-standins-')),
      join(fixturesDir, 'gpt2-tiny-lm'),
      join(fixturesDir, 'gpt2-tiny-ner'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += String(chunk)));
  const urls = await new Promise<StandInUrls>((resolve, reject) => {
    let stdout = '';
    child.stdout?.on('data', (chunk) => {
      stdout += String(chunk);
      if (stdout.includes('\n')) resolve(JSON.parse(stdout.split('\n')[0]) as StandInUrls);
    });
    child.once('exit', (code) => reject(new Error(`the stand-ins exited (${code}): ${stderr}`)));
  });
  return { child, urls };
}

async function modelStatus(): Promise<HostStatus> {
  const status = await vscode.commands.executeCommand<HostStatus>('gpt2Heads.showModelStatus');
  await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
  return status;
}

async function endpointStatus(): Promise<{ text: string; tooltip: string }> {
  return vscode.commands.executeCommand('gpt2Heads.refreshEndpointStatus');
}

async function tagged(role: 'ner' | 'pos', text: string) {
  const extension = await api();
  const editor = await openText(text);
  await vscode.commands.executeCommand(
    role === 'ner' ? 'gpt2Heads.tagEntities' : 'gpt2Heads.tagPartsOfSpeech',
  );
  return extension
    .taggedSpans(editor.document.uri, role)
    .map((s) => [
      s.label,
      s.score,
      editor.document.offsetAt(s.range.start),
      editor.document.offsetAt(s.range.end),
    ]);
}

describe('serving engines (Triton / vLLM stand-ins on loopback)', function () {
  this.timeout(120_000);
  let child: ChildProcess;
  let urls: StandInUrls;

  before(async () => {
    ({ child, urls } = await standIns());
    await setting('tagging.aggregationStrategy', 'simple');
  });
  afterEach(async () => {
    await setting('ner.endpoint', undefined);
    await setting('lm.endpoint', undefined);
    await setting('lm.endpointModel', undefined);
    await setting('offline', true);
    await closeAll();
  });
  after(() => child?.kill());

  it('tags the same entities through gpt2Heads.ner.endpoint as with the local head', async () => {
    const text = caseText('names_places');
    const local = await tagged('ner', text);
    assert.ok(local.length > 0);
    await setting('offline', false);
    await setting('ner.endpoint', urls.ner);
    const remote = await tagged('ner', `${text}`);
    assert.deepEqual(remote, local);
    const stats = (await (await fetch(`${urls.openInference}/_stats`)).json()) as {
      batches: number[];
    };
    assert.ok(stats.batches.length > 0, 'the stand-in received no request');
    const ner = (await modelStatus()).models.find((model) => model.roles.includes('ner'));
    assert.equal(ner?.endpoint, urls.ner);
    assert.equal(ner?.endpointReady, true);
    const item = await endpointStatus();
    assert.equal(item.text, '$(cloud) GPT-2 ready');
    assert.equal(item.tooltip, `${urls.ner}: ready (ner)`);
  });

  it('Continue Text streams the server text from gpt2Heads.lm.endpoint, the same as the local LM', async () => {
    const expected = fixture<{
      generation: { greedy: { prompt: string; new_ids: number[]; new_text: string }[] };
    }>('gpt2-tiny-lm', 'expected.json').generation.greedy[2];
    await setting('offline', false);
    await setting('lm.endpoint', urls.completions);
    await setting('lm.endpointModel', urls.completionsModel);
    await setting('generation.maxNewTokens', expected.new_ids.length);
    const editor = await openText(expected.prompt);
    const end = editor.document.positionAt(expected.prompt.length);
    editor.selection = new vscode.Selection(end, end);
    const before = (await (await fetch(`${new URL(urls.completions).origin}/_stats`)).json()) as {
      requests: number;
    };
    const result = await vscode.commands.executeCommand<GenerateResult>('gpt2Heads.continueText');
    assert.equal(result.new_text, expected.new_text);
    assert.equal(editor.document.getText(), expected.prompt + expected.new_text);
    const after = (await (await fetch(`${new URL(urls.completions).origin}/_stats`)).json()) as {
      requests: number;
    };
    assert.equal(after.requests, before.requests + 1, 'the text did not come from the server');
    await setting('generation.maxNewTokens', undefined);
  });

  it('an endpoint that is down gives a clear error, and the local heads keep working', async () => {
    await setting('offline', false);
    await setting('ner.endpoint', `http://127.0.0.1:${await closedPort()}/v2/models/ner`);
    const text = caseText('names_places');
    assert.deepEqual(await tagged('ner', `${text} Again.`), []);
    const failed = (await modelStatus()).models.find((model) => model.error);
    assert.match(failed?.error ?? '', /cannot be reached .*"gpt2Heads\.ner\.endpoint"/);
    assert.equal((await endpointStatus()).text, '$(warning) GPT-2 endpoint');
    assert.ok((await tagged('pos', text)).length > 0, 'the local POS head stopped working');
  });

  it('gpt2Heads.offline refuses an endpoint with a message that names both settings', async () => {
    await setting('ner.endpoint', urls.ner);
    assert.deepEqual(await tagged('ner', `${caseText('names_places')} Offline.`), []);
    const failed = (await modelStatus()).models.find((model) => model.error);
    assert.match(
      failed?.error ?? '',
      /"gpt2Heads\.ner\.endpoint" is set but "gpt2Heads\.offline" is on/,
    );
  });
});
