// Extension activation time, measured in the real VS Code harness (code-server + chromium):
// runs only the activation test of the integration suite, which writes the figure to a file.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function measureActivation(
  repoRoot: string,
  log: (line: string) => void,
): number | undefined {
  const file = join(mkdtempSync(join(tmpdir(), 'gpt2-heads-activation-')), 'activation.json');
  log('activation time in the real VS Code harness…');
  const run = spawnSync(
    process.execPath,
    [join(repoRoot, 'out', 'test', 'vscode', 'runInCodeServer.js')],
    {
      cwd: repoRoot,
      env: {
        ...process.env,
        GPT2_HEADS_TEST_GREP: '^activation',
        GPT2_HEADS_ACTIVATION_FILE: file,
      },
      encoding: 'utf8',
      timeout: 180_000,
    },
  );
  // The activation test writes the figure; the harness may still exit non-zero because the
  // first-use profile has no test that the grep selects.
  if (!existsSync(file)) {
    log(`activation: not measured (the harness exited with ${run.status ?? run.signal})`);
    return undefined;
  }
  return (JSON.parse(readFileSync(file, 'utf8')) as { activationMs: number }).activationMs;
}
