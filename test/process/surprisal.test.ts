// The surprisal request through the real model host process, as the editor sends it: a long
// document, then the same document after an edit, which must run only the windows it touched.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CancellationTokenSource, ResponseError } from 'vscode-jsonrpc/node';
import { errorCodes, methods, type SurprisalResult } from '../../src/protocol';
import { hostSettings, startHost, type HostProcess } from '../support/hostProcess';
import { fixturesDir, repoRoot } from '../support/fixtures';

const longText = (
  JSON.parse(readFileSync(join(fixturesDir, 'cases.json'), 'utf8')) as {
    texts: { id: string; text: string }[];
  }
).texts.find((t) => t.id === 'long_text')!.text;

describe('surprisal in the model host process', function () {
  this.timeout(120_000);
  let host: HostProcess;
  const document = `${longText}\n\n${longText}\n\n${longText}`;
  const request = (text: string) =>
    host.connection.sendRequest(methods.surprisal, { text, top_k: 5 });

  before(async () => {
    host = await startHost(
      repoRoot,
      hostSettings({ lm: join(fixturesDir, 'gpt2-tiny-lm') }, { dtype: 'fp32' }),
    );
  });
  after(() => host.stop());

  it('scores every token of a long document but the first, on character boundaries', async () => {
    const result = await request(document);
    assert.ok(result.windows >= 8, `${result.windows} windows`);
    assert.equal(result.logprobs[0], null);
    assert.ok(result.logprobs.slice(1).every((l) => typeof l === 'number' && l < 0));
    assert.ok(result.alternatives.slice(1).every((a) => a.length === 5));
    assert.ok(result.perplexity !== null && result.perplexity > 1);
    for (const [start, end] of result.offsets) {
      assert.ok(0 <= start && start <= end && end <= document.length);
    }
    assert.equal(result.offsets.at(-1)![1], document.length);
  });

  it('runs only the windows an edit touched, and says where they are', async () => {
    const before = await request(document);
    const at = document.indexOf('\n\n') + 2 + Math.floor(longText.length / 2);
    const inserted = ' indeed';
    const edited = document.slice(0, at) + inserted + document.slice(at);
    const after: SurprisalResult = await request(edited);
    const rerun = after.windows - after.cachedWindows;
    assert.ok(rerun >= 1 && rerun <= 2, `${rerun} of ${after.windows} windows ran again`);
    assert.equal(after.recomputed.length, rerun);
    const [from, to] = [after.recomputed[0][0], after.recomputed.at(-1)![1]];
    assert.ok(from <= at && at + inserted.length <= to, 'the re-read region holds the edit');
    assert.ok(to - from < edited.length / 3, `re-read ${to - from} of ${edited.length} characters`);
    // Outside the re-read region every token keeps its log-probability (after it, shifted).
    const value = (result: SurprisalResult, offset: number) => {
      const i = result.offsets.findIndex(([start]) => start === offset);
      return i < 0 ? undefined : result.logprobs[i];
    };
    let compared = 0;
    after.offsets.forEach(([start, end], i) => {
      if (end <= from) assert.equal(after.logprobs[i], value(before, start), `token at ${start}`);
      else if (start >= to) {
        assert.equal(after.logprobs[i], value(before, start - inserted.length), `at ${start}`);
      } else return;
      compared++;
    });
    assert.ok(compared > after.offsets.length / 2);
  });

  it('stops a request that is cancelled', async () => {
    const source = new CancellationTokenSource();
    const pending = host.connection.sendRequest(
      methods.surprisal,
      // Words reversed: windows the host has not cached.
      { text: document.split(' ').reverse().join(' ') },
      source.token,
    );
    setTimeout(() => source.cancel(), 50);
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof ResponseError);
      assert.equal(error.code, errorCodes.cancelled);
      return true;
    });
  });
});
