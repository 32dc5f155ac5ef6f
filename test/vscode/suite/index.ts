// Entry point that VS Code's extension host loads as `extensionTestsPath`, under both
// code-server (runInCodeServer) and @vscode/test-electron (runInElectron).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';

export async function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'bdd',
    timeout: 60_000,
    color: false,
    forbidOnly: true,
    forbidPending: true,
    grep: process.env.GPT2_HEADS_TEST_GREP || undefined,
  });
  const testFiles = readdirSync(__dirname)
    .filter((name) => name.endsWith('.test.js'))
    .sort();
  if (testFiles.length === 0) throw new Error(`no *.test.js files in ${__dirname}`);
  for (const name of testFiles) mocha.addFile(join(__dirname, name));

  const failures = await new Promise<number>((resolve, reject) => {
    try {
      mocha.run(resolve);
    } catch (error) {
      reject(error);
    }
  });
  if (failures > 0) throw new Error(`${failures} integration test(s) failed`);
}
