// `gpt2-heads train` as a user runs it (node dist/cli.js), and the saved folder read back by the
// CLI's own token-classification task.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TrainingReport } from '../../src/protocol';
import { fixturesDir, repoRoot } from '../support/fixtures';

const run = promisify(execFile);
const cli = join(repoRoot, 'dist', 'cli.js');
const samples = join(repoRoot, 'test', 'fixtures', 'training');

async function gpt2Heads(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', [cli, ...args], { maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('gpt2-heads train', function () {
  this.timeout(120_000);
  const scratch = mkdtempSync(join(tmpdir(), 'gpt2-heads-train-cli-'));
  const common = ['--cache-dir', join(scratch, 'cache'), '--offline', '--threads', '1'];
  const train = (task: string, file: string, out: string, ...more: string[]) =>
    gpt2Heads([
      'train',
      '--task',
      task,
      '--model',
      join(fixturesDir, 'gpt2-tiny-base'),
      '--train',
      file,
      '--out',
      out,
      ...more,
      ...common,
    ]);

  it('trains NER from CoNLL-2003 columns, prints the report with --json, and the folder tags text', async () => {
    const out = join(scratch, 'ner');
    const trained = await train(
      'token-classification',
      join(samples, 'ner-train.conll'),
      out,
      ...['--validation', join(samples, 'ner-dev.conll'), '--epochs', '5', '--seed', '3', '--json'],
    );
    assert.equal(trained.code, 0, trained.stderr);
    const report = JSON.parse(trained.stdout) as TrainingReport;
    assert.equal(report.options.seed, 3);
    assert.equal(report.options.epochs, 5);
    assert.ok(report.history.length <= 5);
    assert.ok(
      (report.validation.entities?.f1 ?? 0) > (report.baseline.validation.entities?.f1 ?? 0),
    );
    assert.match(trained.stderr, /tokens\/s/);

    const tagged = await gpt2Heads([
      'token-classification',
      '--model',
      out,
      '--dtype',
      'fp32',
      '--aggregation-strategy',
      'first',
      '--text',
      ' Anna Smith visited Paris .',
      '--json',
      ...common,
    ]);
    assert.equal(tagged.code, 0, tagged.stderr);
    const entities = JSON.parse(tagged.stdout) as { entity_group: string }[];
    assert.ok(entities.every((e) => ['PER', 'ORG', 'LOC', 'MISC'].includes(e.entity_group)));
  });

  it('exits with the file and line of a malformed line and writes nothing', async () => {
    const bad = join(scratch, 'bad.csv');
    writeFileSync(bad, 'text,label\n"fine",a\n"never closed,b\n');
    const out = join(scratch, 'never');
    const result = await train('text-classification', bad, out);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`${bad.replace(/[.\\/]/g, '\\$&')}:3: a quoted field is never closed`),
    );
    assert.ok(!existsSync(out));
  });
});
