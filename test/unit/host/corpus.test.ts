import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expandGlob, runCorpus } from '../../../src/host/corpus';

describe('corpus mode', () => {
  const root = mkdtempSync(join(tmpdir(), 'gpt2-heads-corpus-'));
  mkdirSync(join(root, 'docs', 'nested'), { recursive: true });
  for (const [path, text] of [
    ['docs/one.txt', 'first'],
    ['docs/nested/two.txt', 'second'],
    ['docs/nested/bad.txt', 'fails'],
    ['docs/ignored.md', 'not matched'],
  ]) {
    writeFileSync(join(root, path), text);
  }

  it('finds the files of a glob, sorted, relative to the working folder', () => {
    assert.deepEqual(expandGlob('docs/**/*.txt', root), [
      'docs/nested/bad.txt',
      'docs/nested/two.txt',
      'docs/one.txt',
    ]);
  });

  it('redraws one progress bar with documents/s and ETA on a terminal, and records a failure', async () => {
    const written: string[] = [];
    const output = join(root, 'tty.jsonl');
    const summary = await runCorpus({
      pattern: 'docs/**/*.txt',
      output,
      concurrency: 2,
      cwd: root,
      tty: true,
      write: (text) => written.push(text),
      runOne: async (text) => {
        if (text === 'fails') throw new Error('this document fails');
        return { length: text.length };
      },
    });
    assert.deepEqual([summary.done, summary.failed, summary.skipped], [2, 1, 0]);
    const bars = written.filter((text) => text.startsWith('\r['));
    assert.equal(bars.length, 3);
    assert.match(bars[2], /^\r\[#{24}\] 3\/3 \d+\.\d docs\/s ETA 0:00 1 failed/);
    assert.equal(written.at(-1), '\n');
    const lines = readFileSync(output, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(
      lines.sort((a, b) => a.path.localeCompare(b.path)),
      [
        { path: 'docs/nested/bad.txt', error: 'this document fails' },
        { path: 'docs/nested/two.txt', result: { length: 6 } },
        { path: 'docs/one.txt', result: { length: 5 } },
      ],
    );
  });

  it('says when the glob matches nothing', async () => {
    await assert.rejects(
      runCorpus({
        pattern: 'nowhere/*.txt',
        output: join(root, 'none.jsonl'),
        concurrency: 1,
        cwd: root,
        tty: false,
        write: () => undefined,
        runOne: async () => ({}),
      }),
      /matches no file/,
    );
  });
});
