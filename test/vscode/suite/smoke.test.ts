import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const extensionId = 'gpt2-heads.gpt2-heads';

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
  return condition();
}

describe('GPT-2 Heads in a real VS Code', () => {
  it('is loaded as gpt2-heads.gpt2-heads and activates when its status command runs', async () => {
    const extension = vscode.extensions.getExtension(extensionId);
    assert.ok(extension, `${extensionId} is not loaded`);
    let commandError: unknown;
    // Not awaited: the command may wait on a notification nobody dismisses here.
    vscode.commands
      .executeCommand('gpt2Heads.showModelStatus')
      .then(undefined, (error: unknown) => {
        commandError = error;
      });
    const active = await until(() => extension.isActive || commandError !== undefined, 30_000);
    assert.equal(
      commandError,
      undefined,
      `gpt2Heads.showModelStatus failed: ${String(commandError)}`,
    );
    assert.ok(active, `${extensionId} did not activate`);
  });

  it('registers the continue-text and restart-host commands', async () => {
    const commands = await vscode.commands.getCommands(true);
    for (const command of ['gpt2Heads.continueText', 'gpt2Heads.restartHost']) {
      assert.ok(commands.includes(command), `${command} is not registered`);
    }
  });
});
