// `gpt2-heads perplexity` as a user runs it (node dist/cli.js), against transformers' numbers in
// ../shared/fixtures/gpt2-tiny-lm/perplexity.json: every token's log-probability, the top 5
// alternatives, the mean NLL and the perplexity, for each text and the long one with two strides.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { PerplexityReport } from '../../src/host/tasks/surprisal';
import { fixturesDir, repoRoot } from '../support/fixtures';

interface ExpectedCase {
  id: string;
  text_id: string;
  stride: number | null;
  token_ids: number[];
  offsets_utf16: [number, number][];
  logprobs: (number | null)[];
  top5: ({ id: number; token: string; logprob: number }[] | null)[];
  mean_nll: number;
  perplexity: number;
}

const lmFolder = join(fixturesDir, 'gpt2-tiny-lm');
const expected = (
  JSON.parse(readFileSync(join(lmFolder, 'perplexity.json'), 'utf8')) as { cases: ExpectedCase[] }
).cases;
const texts = new Map(
  (
    JSON.parse(readFileSync(join(fixturesDir, 'cases.json'), 'utf8')) as {
      texts: { id: string; text: string }[];
    }
  ).texts.map((entry) => [entry.id, entry.text]),
);

const run = promisify(execFile);
const cli = join(repoRoot, 'dist', 'cli.js');

function near(actual: number | null, wanted: number, tolerance: number, what: string): void {
  assert.ok(
    actual !== null && Math.abs(actual - wanted) <= tolerance,
    `${what}: ${actual} vs ${wanted}`,
  );
}

describe('gpt2-heads perplexity against transformers', function () {
  this.timeout(300_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'gpt2-heads-perplexity-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('covers every text of the fixture, and the long text with two strides', () => {
    assert.equal(expected.length, 21);
    assert.deepEqual(
      expected.filter((c) => c.stride !== null).map((c) => c.stride),
      [64, 32],
    );
  });

  for (const entry of expected) {
    it(`matches transformers on "${entry.id}" to 1e-4`, async () => {
      const input = join(dir, `${entry.id}.txt`);
      writeFileSync(input, texts.get(entry.text_id)!);
      const args = [cli, 'perplexity', '--model', lmFolder, '--dtype', 'fp32', '--offline'];
      args.push('--input', input, '--top-k', '5', '--json');
      if (entry.stride !== null) args.push('--stride', String(entry.stride));
      const { stdout } = await run(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 });
      const report = JSON.parse(stdout) as PerplexityReport;

      assert.deepEqual(
        report.tokens.map((t) => t.id),
        entry.token_ids,
        'token ids',
      );
      assert.deepEqual(
        report.tokens.map((t) => [t.start, t.end]),
        entry.offsets_utf16,
        'UTF-16 offsets',
      );
      entry.logprobs.forEach((logprob, i) => {
        const token = report.tokens[i];
        if (logprob === null) {
          assert.equal(token.logprob, null, `token ${i} has no log-probability`);
          assert.deepEqual(token.top_k, []);
          return;
        }
        near(token.logprob, logprob, 1e-4, `${entry.id} token ${i} logprob`);
        const top = entry.top5[i]!;
        assert.deepEqual(
          token.top_k!.map((a) => [a.id, a.token]),
          top.map((a) => [a.id, a.token]),
          `${entry.id} token ${i} top 5`,
        );
        top.forEach((a, j) =>
          near(token.top_k![j].logprob, a.logprob, 1e-4, `${entry.id} token ${i} alternative ${j}`),
        );
      });
      near(report.mean_nll, entry.mean_nll, 1e-4, `${entry.id} mean NLL`);
      // Perplexities here are ~1e5 (random weights): compared relative to their size.
      near(report.perplexity! / entry.perplexity, 1, 1e-4, `${entry.id} perplexity`);
      assert.equal(report.scored_tokens, entry.logprobs.filter((l) => l !== null).length);
    });
  }

  it('prints the tokens and the perplexity as text without --json', async () => {
    const { stdout } = await run(process.execPath, [
      cli,
      'perplexity',
      '--model',
      lmFolder,
      '--dtype',
      'fp32',
      '--text',
      'The cat sat on the mat.',
    ]);
    const lines = stdout.trim().split('\n');
    assert.match(lines[0], /^0-3\t\t"The"$/);
    assert.match(lines[1], /^3-7\t\d+\.\d\d\t" cat"$/);
    assert.match(lines.at(-1)!, /^perplexity \d+\.\d{4}, mean NLL \d+\.\d{4}$/);
  });

  it('fails with a clear message when the stride is wider than the context', async () => {
    const failure = await run(process.execPath, [
      cli,
      'perplexity',
      '--model',
      lmFolder,
      '--text',
      'Hello there.',
      '--stride',
      '4096',
    ]).then(
      () => assert.fail('the command succeeded'),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(failure.code, 1);
    assert.match(failure.stderr, /stride must be a whole number from 1 to the model's context/);
  });
});
