import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  applyRepetitionPenalty,
  applyTopK,
  applyTopP,
  nextToken,
  samplingDefaults,
  seededRandom,
  stopStringEnd,
} from '../../../../src/heads/generation';
import { softmax } from '../../../../src/heads/math';
import { neverCancelled } from '../../../../src/host/errors';
import { generate } from '../../../../src/host/tasks/generation';
import { ModelRegistry } from '../../../../src/host/models/registry';
import { SuggestionCache } from '../../../../src/text/suggestions';
import { hostSettings } from '../../../support/hostProcess';
import { fixturesDir } from '../../../support/fixtures';

/** HF's TopPLogitsWarper, written out the way transformers does it (sort ascending, cumsum). */
function hfTopPKeeps(logits: number[], topP: number): Set<number> {
  const order = logits.map((_, i) => i).sort((a, b) => logits[a] - logits[b]);
  const probabilities = softmax(logits);
  let cumulative = 0;
  const keep = new Set<number>();
  order.forEach((index, rank) => {
    cumulative += probabilities[index];
    if (!(cumulative <= 1 - topP) || rank === order.length - 1) keep.add(index);
  });
  return keep;
}

describe('next-token selection as Hugging Face generate()', () => {
  it('keeps exactly the smallest set whose probability reaches top_p', () => {
    const logits = Float64Array.from([
      Math.log(0.5),
      Math.log(0.3),
      Math.log(0.15),
      Math.log(0.05),
    ]);
    applyTopP(logits, 0.75);
    assert.deepEqual(
      Array.from(logits, (v) => v > -Infinity),
      [true, true, false, false],
    );
    const edge = Float64Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
    applyTopP(edge, 0.5);
    assert.deepEqual(
      Array.from(edge, (v) => v > -Infinity),
      [true, false, false],
    );
  });

  it("agrees with HF's top_p rule on random logits", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: 2, maxLength: 30 }),
        fc.double({ min: 0.05, max: 0.99, noNaN: true }),
        (values, topP) => {
          const scores = Float64Array.from(values);
          applyTopP(scores, topP);
          const kept = new Set(values.map((_, i) => i).filter((i) => scores[i] > -Infinity));
          assert.deepEqual(kept, hfTopPKeeps(values, topP));
        },
      ),
    );
  });

  it('keeps every token tied with the k-th best in top_k', () => {
    const scores = Float64Array.from([1, 3, 2, 2, 0]);
    applyTopK(scores, 2);
    assert.deepEqual(
      Array.from(scores, (v) => v > -Infinity),
      [false, true, true, true, false],
    );
  });

  it('penalises repeated tokens by dividing positive and multiplying negative scores', () => {
    const scores = Float64Array.from([2, -2, 1]);
    applyRepetitionPenalty(scores, [0, 1, 1], 2);
    assert.deepEqual(Array.from(scores), [1, -4, 1]);
  });

  it('reproduces a sampled sequence from the same seed', () => {
    const logits = Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const draw = (seed: number) => {
      const random = seededRandom(seed);
      return Array.from({ length: 20 }, () =>
        nextToken(logits, [], { ...samplingDefaults, do_sample: true }, random),
      );
    };
    assert.deepEqual(draw(7), draw(7));
    assert.notDeepEqual(draw(7), draw(8));
  });

  it('finds a stop string that spans what several tokens added', () => {
    assert.equal(stopStringEnd('Hello wor', ['world'], 6), -1);
    assert.equal(stopStringEnd('Hello world and more', ['world'], 9), 11);
    assert.equal(stopStringEnd('abc', ['x', 'b'], 0), 2);
  });
});

describe('generation in the host', function () {
  this.timeout(60_000);
  const registry = new ModelRegistry(hostSettings({}));
  after(() => registry.dispose());

  it("stops at a stop string and keeps it, as HF's stop_strings", async () => {
    const model = await registry.load(join(fixturesDir, 'gpt2-tiny-lm'));
    const free = await generate(
      model,
      { prompt: 'The quick brown fox', options: { max_new_tokens: 20 }, reuseCache: false },
      neverCancelled,
    );
    // " dried" repeats in the reference continuation; stop once it appears twice.
    const stop = ' dried dried';
    assert.ok(free.new_text.includes(stop));
    const stopped = await generate(
      model,
      {
        prompt: 'The quick brown fox',
        options: { max_new_tokens: 20, stop_strings: [stop] },
        reuseCache: false,
      },
      neverCancelled,
    );
    assert.equal(stopped.finish_reason, 'stop_string');
    assert.equal(
      stopped.new_text,
      free.new_text.slice(0, free.new_text.indexOf(stop) + stop.length),
    );
  });

  it('samples reproducibly with a seed, and differently with another', async () => {
    const model = await registry.load(join(fixturesDir, 'gpt2-tiny-lm'));
    const run = (seed: number) =>
      generate(
        model,
        {
          prompt: 'Once upon a time',
          options: { max_new_tokens: 12, do_sample: true, top_p: 0.9, temperature: 1.5, seed },
          reuseCache: false,
        },
        neverCancelled,
      );
    assert.deepEqual((await run(3)).new_token_ids, (await run(3)).new_token_ids);
    assert.notDeepEqual((await run(3)).new_token_ids, (await run(4)).new_token_ids);
  });

  it("generates HF's greedy tokens through a graph built from safetensors, cold and with a reused prefix", async () => {
    const converted = new ModelRegistry(
      hostSettings({}, { dtype: 'fp32', cacheDir: mkdtempSync(join(tmpdir(), 'gpt2-heads-lm-')) }),
    );
    const model = await converted.load(join(fixturesDir, 'safetensors', 'gpt2-tiny-lm'));
    // The host's own graphs return only the new keys and values; the cache grows in place.
    assert.ok(model.session.outputNames.includes('new_key_values.0.key'));
    const expected = JSON.parse(
      readFileSync(join(fixturesDir, 'gpt2-tiny-lm', 'expected.json'), 'utf8'),
    ).generation.greedy as { prompt: string; new_ids: number[] }[];
    for (const entry of expected) {
      const cold = await generate(
        model,
        {
          prompt: entry.prompt,
          options: { max_new_tokens: entry.new_ids.length },
          reuseCache: false,
        },
        neverCancelled,
      );
      assert.deepEqual(cold.new_token_ids, entry.new_ids, entry.prompt);
      const longer = `${entry.prompt} and`;
      const fresh = await generate(
        model,
        { prompt: longer, options: { max_new_tokens: 6 }, reuseCache: false },
        neverCancelled,
      );
      await generate(
        model,
        { prompt: entry.prompt, options: { max_new_tokens: 3 } },
        neverCancelled,
      );
      const warm = await generate(
        model,
        { prompt: longer, options: { max_new_tokens: 6 } },
        neverCancelled,
      );
      assert.ok(warm.reused_tokens > 0, 'the prefix was reused');
      assert.deepEqual(
        warm.new_token_ids,
        fresh.new_token_ids,
        `${entry.prompt}: warm equals cold`,
      );
    }
    await converted.dispose();
  });

  it('rejects invalid sampling options with a clear message', async () => {
    const model = await registry.load(join(fixturesDir, 'gpt2-tiny-lm'));
    await assert.rejects(
      generate(
        model,
        { prompt: 'x', options: { do_sample: true, temperature: 0 } },
        neverCancelled,
      ),
      /temperature must be greater than 0/,
    );
    await assert.rejects(
      generate(model, { prompt: 'x', options: { top_p: 1.5 } }, neverCancelled),
      /top_p/,
    );
  });

  it('trims a prompt longer than the context from the left and still generates', async () => {
    const model = await registry.load(join(fixturesDir, 'gpt2-tiny-lm'));
    const long = 'word '.repeat(400);
    const result = await generate(
      model,
      { prompt: long, options: { max_new_tokens: 5 }, reuseCache: false },
      neverCancelled,
    );
    assert.equal(result.new_token_ids.length, 5);
    assert.ok(result.prompt_tokens <= model.config.n_positions - 5);
  });
});

describe('inline suggestion cache', () => {
  it('continues a suggestion the user is typing along, and forgets it when they diverge', () => {
    const cache = new SuggestionCache();
    cache.add('The cat ', 'sat on the mat');
    assert.equal(cache.lookup('The cat sa'), 't on the mat');
    assert.equal(cache.lookup('The cat sat on the mat'), undefined);
    assert.equal(cache.lookup('The cat ran'), undefined);
    assert.equal(cache.lookup('The dog '), undefined);
  });
});
