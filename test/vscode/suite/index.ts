// Entry point that VS Code's extension host loads as `extensionTestsPath`, under both
// code-server (runInCodeServer) and @vscode/test-electron (runInElectron).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';

export function run(): Promise<void> {
  return runSuite(__dirname);
}

/** Runs every *.test.js file of `dir` (this suite, or another profile's, such as ../firstUse). */
export async function runSuite(dir: string): Promise<void> {
  const mocha = new Mocha({
    ui: 'bdd',
    timeout: 60_000,
    color: false,
    forbidOnly: true,
    forbidPending: true,
    grep: process.env.GPT2_HEADS_TEST_GREP || undefined,
  });
  const testFiles = readdirSync(dir)
    .filter((name) => name.endsWith('.test.js'))
    .sort();
  if (testFiles.length === 0) throw new Error(`no *.test.js files in ${dir}`);
  for (const name of testFiles) mocha.addFile(join(dir, name));

  const stats = await new Promise<Mocha.Stats>((resolve, reject) => {
    try {
      const runner = mocha.run(() => resolve(runner.stats!));
    } catch (error) {
      reject(error);
    }
  });
  // A plain closing line that CI reads in any language.
  console.log(`integration: ${stats.passes} passed, ${stats.failures} failed`);
  if (stats.failures > 0) throw new Error(`${stats.failures} integration test(s) failed`);
  if (stats.passes === 0) throw new Error('no integration test ran');
}
