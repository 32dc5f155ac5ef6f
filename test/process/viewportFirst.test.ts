import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { methods, tagChunk, type TagChunk, type TagParams } from '../../src/protocol';
import { hostSettings, startHost, type HostProcess } from '../support/hostProcess';
import { fixtureModels, fixturesDir, repoRoot } from '../support/fixtures';

const cases = JSON.parse(readFileSync(join(fixturesDir, 'cases.json'), 'utf8')) as {
  texts: { id: string; text: string }[];
};
const paragraph = cases.texts.find((entry) => entry.id === 'long_text')!.text;

describe('tagging what is on screen first', function () {
  this.timeout(120_000);
  let host: HostProcess;

  before(async () => {
    host = await startHost(repoRoot, hostSettings({ ner: fixtureModels.ner }));
  });
  after(() => host.stop());

  it('sends the spans of the visible windows before the others’, then the exact whole result', async () => {
    const text = Array.from({ length: 6 }, (_, i) => `Part ${i + 1}.\n${paragraph}`).join('\n\n');
    // The screen shows a stretch near the end of the document.
    const visible = { start: Math.floor(text.length * 0.8), end: Math.floor(text.length * 0.85) };
    const base: TagParams = {
      role: 'ner',
      text,
      aggregation_strategy: 'simple',
    };
    const chunks: TagChunk[] = [];
    const partialResultToken = 'viewport-1';
    const listener = host.connection.onProgress(tagChunk, partialResultToken, (chunk) => {
      chunks.push(chunk);
    });
    const result = await host.connection.sendRequest(methods.tag, {
      ...base,
      visibleRanges: [visible],
      partialResultToken,
    });
    listener.dispose();

    assert.ok(result.windows >= 4, `the document is read in ${result.windows} windows`);
    assert.equal(chunks.length, result.windows, 'one partial result per window');
    const first = chunks[0].spans;
    const later = chunks.slice(1).flatMap((chunk) => chunk.spans);
    assert.ok(first.length > 0, 'the visible window has entities');
    const near = (span: { start: number; end: number }) =>
      span.end >= visible.start - 600 && span.start <= visible.end + 600;
    assert.ok(first.every(near), 'the first window sent is the one on screen');
    assert.ok(
      later.some((span) => span.end < visible.start - 600),
      'windows above the screen come later',
    );

    const plain = await host.connection.sendRequest(methods.tag, base);
    assert.deepEqual(result.spans, plain.spans, 'the order changes nothing in the result');
  });
});
