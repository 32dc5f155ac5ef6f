import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { neverCancelled } from '../../../../src/host/errors';
import { ModelRegistry } from '../../../../src/host/models/registry';
import { lmLogits } from '../../../../src/host/tasks/classification';
import {
  perplexityOfText,
  surprisalOfDocument,
  type TextSurprisal,
} from '../../../../src/host/tasks/surprisal';
import { hostSettings } from '../../../support/hostProcess';
import { fixturesDir } from '../../../support/fixtures';

const texts = new Map(
  (
    JSON.parse(readFileSync(join(fixturesDir, 'cases.json'), 'utf8')) as {
      texts: { id: string; text: string }[];
    }
  ).texts.map((entry) => [entry.id, entry.text]),
);
const longText = texts.get('long_text')!;

/** log_softmax(row)[id] in float64, written out. */
function logSoftmaxAt(logits: Float32Array, row: number, vocab: number, id: number): number {
  let max = -Infinity;
  for (let v = 0; v < vocab; v++) max = Math.max(max, logits[row * vocab + v]);
  let sum = 0;
  for (let v = 0; v < vocab; v++) sum += Math.exp(logits[row * vocab + v] - max);
  return logits[row * vocab + id] - max - Math.log(sum);
}

/** Token i's log-probability, or null. */
const logprobAt = (result: TextSurprisal, i: number) =>
  Number.isNaN(result.logprobs[i]) ? null : result.logprobs[i];

describe('surprisal through the model registry', function () {
  this.timeout(120_000);
  const registry = new ModelRegistry(hostSettings({}, { dtype: 'fp32' }));
  const lm = () => registry.load(join(fixturesDir, 'gpt2-tiny-lm'));
  after(() => registry.dispose());

  it("scores each token with the log-softmax of the previous position's logits, and lists the top 5", async () => {
    const model = await lm();
    const text = texts.get('names_places')!;
    const result = await surprisalOfDocument(model, text, { top_k: 5 }, neverCancelled);
    const ids = result.encoded.ids;
    const logits = await lmLogits(model, ids);
    const vocab = logits.length / ids.length;
    assert.equal(logprobAt(result, 0), null, 'the first token has nothing before it');
    for (let i = 1; i < ids.length; i++) {
      const expected = logSoftmaxAt(logits, i - 1, vocab, ids[i]);
      assert.ok(Math.abs(result.logprobs[i] - expected) < 1e-5, `token ${i}`);
      const ranked = Array.from({ length: vocab }, (_, v) => v)
        .sort((a, b) => logits[(i - 1) * vocab + b] - logits[(i - 1) * vocab + a])
        .slice(0, 5);
      assert.deepEqual(
        Array.from(result.topIds.subarray(i * 5, i * 5 + 5)),
        ranked,
        `top 5 at ${i}`,
      );
      ranked.forEach((id, j) =>
        assert.ok(
          Math.abs(result.topLogprobs[i * 5 + j] - logSoftmaxAt(logits, i - 1, vocab, id)) < 1e-5,
        ),
      );
    }
  });

  it('gives the same numbers in the editor windows as HF for a text that fits one window', async () => {
    const model = await lm();
    const text = texts.get('news')!;
    const editor = await surprisalOfDocument(model, text, { top_k: 0 }, neverCancelled);
    const hf = await perplexityOfText(model, text, {}, neverCancelled);
    assert.equal(editor.windows, 1);
    assert.deepEqual(Array.from(editor.logprobs), Array.from(hf.logprobs));
  });

  it('reads a long document in cached windows, every token after the first scored once', async () => {
    const model = await lm();
    const document = `${longText}\n\n${longText}`;
    const cold = await surprisalOfDocument(model, document, { useCache: false }, neverCancelled);
    assert.ok(cold.windows > 4, `expected several windows, got ${cold.windows}`);
    assert.equal(logprobAt(cold, 0), null);
    for (let i = 1; i < cold.encoded.ids.length; i++)
      assert.ok(logprobAt(cold, i) !== null, `${i}`);

    const first = await surprisalOfDocument(model, document, {}, neverCancelled);
    const again = await surprisalOfDocument(model, document, {}, neverCancelled);
    assert.equal(again.cachedWindows, again.windows, 'every window came from the cache');
    assert.deepEqual(again.recomputed, []);
    assert.deepEqual(Array.from(again.logprobs), Array.from(cold.logprobs));
    assert.deepEqual(Array.from(first.topIds), Array.from(cold.topIds));
  });

  it('re-runs only the windows an edit touches, and keeps every other token as it was', async () => {
    const model = await lm();
    const document = `${longText}\n\n${longText}`;
    const before = await surprisalOfDocument(model, document, {}, neverCancelled);
    const at = document.indexOf('\n\n') + 2 + Math.floor(longText.length / 2);
    const edited = `${document.slice(0, at)} indeed${document.slice(at)}`;
    const after = await surprisalOfDocument(model, edited, {}, neverCancelled);
    const rerun = after.windows - after.cachedWindows;
    assert.ok(rerun >= 1 && rerun <= 2, `${rerun} windows ran again`);
    assert.equal(after.recomputed.length, rerun);
    const [first, end] = after.recomputed[0];
    const firstChar = after.encoded.offsets[first][0];
    const lastChar = after.encoded.offsets[after.recomputed.at(-1)![1] - 1][1];
    assert.ok(firstChar <= at && at <= lastChar, 'the re-run windows hold the edit');
    // Tokens before the re-run windows are unchanged, and so are the ones after, shifted.
    for (let i = 0; i < first; i++) assert.equal(logprobAt(after, i), logprobAt(before, i));
    const shift = after.encoded.ids.length - before.encoded.ids.length;
    const lastRerun = after.recomputed.at(-1)![1];
    for (let i = lastRerun; i < after.encoded.ids.length; i++) {
      assert.equal(logprobAt(after, i), logprobAt(before, i - shift), `token ${i}`);
    }
    assert.ok(end > first);
    const fresh = await surprisalOfDocument(model, edited, { useCache: false }, neverCancelled);
    assert.deepEqual(Array.from(after.logprobs), Array.from(fresh.logprobs));
  });

  it("gives the same numbers from a safetensors checkpoint (the host's own graph keeps only the logits it needs)", async () => {
    const checkpoint = await registry.load(join(fixturesDir, 'safetensors', 'gpt2-tiny-lm'));
    assert.ok(checkpoint.session.inputNames.includes('num_logits_to_keep'));
    const document = `${longText}\n\n${texts.get('emoji')}`;
    const options = { top_k: 5, useCache: false };
    const fromCheckpoint = await surprisalOfDocument(checkpoint, document, options, neverCancelled);
    const fromOnnx = await surprisalOfDocument(await lm(), document, options, neverCancelled);
    assert.ok(fromCheckpoint.windows > 2);
    fromOnnx.logprobs.forEach((logprob, i) => {
      const other = fromCheckpoint.logprobs[i];
      assert.ok(Number.isNaN(logprob) ? Number.isNaN(other) : Math.abs(other - logprob) < 1e-4);
    });
    assert.deepEqual(Array.from(fromCheckpoint.topIds), Array.from(fromOnnx.topIds));
  });

  it('says which setting to change when the model is not a language model', async () => {
    const ner = await registry.load(join(fixturesDir, 'gpt2-tiny-ner'));
    await assert.rejects(
      surprisalOfDocument(ner, 'Some text.', {}, neverCancelled),
      /not a language model \(GPT2LMHeadModel\)\. Set "gpt2Heads\.lm\.model"/,
    );
  });

  it('rejects a stride wider than the context with the numbers to fix it', async () => {
    await assert.rejects(
      perplexityOfText(await lm(), longText, { stride: 500 }, neverCancelled),
      /stride must be a whole number from 1 to the model's context \(128\), got 500/,
    );
  });
});
