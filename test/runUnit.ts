// Runs the unit tests and the tests that fork the host (the files .mocharc.json names) and ends with a plain "N passed, N failed"
// line; exits non-zero on any failure or when no test ran.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';

const root = join(__dirname, '..', '..');
const config = JSON.parse(readFileSync(join(root, '.mocharc.json'), 'utf8')) as { timeout: number };

function testFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return testFiles(path);
    return name.endsWith('.test.js') ? [path] : [];
  });
}

const mocha = new Mocha({
  timeout: config.timeout,
  forbidOnly: true,
  forbidPending: true,
  grep: process.argv[2],
});
const files = ['unit', 'process']
  .flatMap((dir) => testFiles(join(root, 'out', 'test', dir)))
  .sort();
for (const file of files) mocha.addFile(file);
const runner = mocha.run(() => {
  const stats = runner.stats!;
  console.log(`unit: ${stats.passes} passed, ${stats.failures} failed`);
  process.exitCode = stats.failures > 0 || stats.passes === 0 ? 1 : 0;
});
