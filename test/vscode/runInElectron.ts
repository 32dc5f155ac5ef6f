// Runs the same suite as runInCodeServer under desktop VS Code (Electron), through
// @vscode/test-electron. It downloads VS Code, so it needs internet access
// (update.code.visualstudio.com) or an installed VS Code in VSCODE_EXECUTABLE_PATH.
//
//   npm run test:electron
//   VSCODE_VERSION=stable npm run test:electron      (default: 1.100.3, the oldest supported)
import { downloadAndUnzipVSCode, runTests } from '@vscode/test-electron';
import { join } from 'node:path';
import { prepareProfile, repoRoot, testModels, userSettings } from './harness';

async function vscodeExecutable(): Promise<string> {
  const installed = process.env.VSCODE_EXECUTABLE_PATH;
  if (installed) return installed;
  const version = process.env.VSCODE_VERSION ?? '1.100.3';
  try {
    return await downloadAndUnzipVSCode({ version, cachePath: join(repoRoot, '.vscode-test') });
  } catch (error) {
    throw new Error(
      `cannot download VS Code ${version} (${error instanceof Error ? error.message : String(error)}).\n` +
        'Without internet access use `npm run test:vscode` (code-server), or point ' +
        'VSCODE_EXECUTABLE_PATH at an installed VS Code.',
    );
  }
}

async function main(): Promise<number> {
  const profile = prepareProfile(
    join(repoRoot, '.cache', 'electron-run'),
    userSettings(testModels()),
  );
  const vscodeExecutablePath = await vscodeExecutable();
  return runTests({
    vscodeExecutablePath,
    extensionDevelopmentPath: repoRoot,
    extensionTestsPath: join(repoRoot, 'out', 'test', 'vscode', 'suite', 'index'),
    launchArgs: [
      profile.workspace,
      '--disable-extensions',
      '--disable-workspace-trust',
      '--skip-welcome',
      '--skip-release-notes',
      `--user-data-dir=${profile.userDataDir}`,
      `--extensions-dir=${profile.extensionsDir}`,
    ],
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // runTests rejects with TestRunFailedError when mocha reports failures.
    console.error(
      `[electron-test] FAILED: ${error instanceof Error ? error.message : String(error)}`,
    );
    process.exit(1);
  },
);
