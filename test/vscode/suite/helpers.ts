import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import type { Gpt2HeadsApi } from '../../../src/extension';
import type { HostStatus } from '../../../src/protocol';
import { fixturesDir } from '../../support/fixtures';

function findRepoRoot(from: string): string {
  for (let dir = from; dirname(dir) !== dir; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'src', 'extension.ts')))
      return dir;
  }
  throw new Error(`no repository above ${from}`);
}

export const repoRoot = findRepoRoot(__dirname);
export { fixturesDir };

export function fixture<T>(...parts: string[]): T {
  return JSON.parse(readFileSync(join(fixturesDir, ...parts), 'utf8')) as T;
}

export function caseText(id: string): string {
  const cases = fixture<{ texts: { id: string; text: string }[] }>('cases.json');
  const entry = cases.texts.find((t) => t.id === id);
  if (!entry) throw new Error(`no case ${id}`);
  return entry.text;
}

export async function api(): Promise<Gpt2HeadsApi> {
  const extension = vscode.extensions.getExtension<Gpt2HeadsApi>('gpt2-heads.gpt2-heads');
  if (!extension) throw new Error('the extension is not loaded');
  return extension.activate();
}

export async function openText(
  content: string,
  language = 'plaintext',
): Promise<vscode.TextEditor> {
  const document = await vscode.workspace.openTextDocument({ content, language });
  return vscode.window.showTextDocument(document);
}

export async function until<T>(
  probe: () => T | undefined | false,
  what: string,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((done) => setTimeout(done, 50));
  }
}

export async function setting(key: string, value: unknown): Promise<void> {
  await vscode.workspace
    .getConfiguration('gpt2Heads')
    .update(key, value, vscode.ConfigurationTarget.Global);
}

export async function closeAll(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
  await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** The model host's status, read through "Show Model Status" (whose picker is closed again). */
export async function hostStatus(): Promise<HostStatus> {
  const status = await vscode.commands.executeCommand<HostStatus | undefined>(
    'gpt2Heads.showModelStatus',
  );
  await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
  if (!status) throw new Error('the model status could not be read');
  return status;
}

/** The model host's process id. */
export async function hostPid(): Promise<number> {
  return (await hostStatus()).pid;
}
