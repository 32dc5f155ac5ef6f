// Loaded by the extension host as extensionTestsPath: runs the *.test.js files beside it.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';

export async function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'bdd',
    timeout: 120_000,
    color: false,
    forbidOnly: true,
    forbidPending: true,
  });
  const testFiles = readdirSync(__dirname).filter((name) => name.endsWith('.test.js'));
  if (testFiles.length === 0) throw new Error(`no *.test.js files in ${__dirname}`);
  for (const name of testFiles.sort()) mocha.addFile(join(__dirname, name));
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));
  if (failures > 0) throw new Error(`${failures} VSIX smoke test(s) failed`);
}
