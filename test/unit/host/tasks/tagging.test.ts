import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import type { AggregationStrategy } from '../../../../src/heads/tokenClassification';
import { neverCancelled } from '../../../../src/host/errors';
import type { LoadedModel } from '../../../../src/host/models/loadedModel';
import { ModelRegistry } from '../../../../src/host/models/registry';
import { tagDocument, tagText, toSpan } from '../../../../src/host/tasks/tagging';
import { hostSettings } from '../../../support/hostProcess';
import { fixturesDir } from '../../../support/fixtures';

interface ExpectedEntity {
  entity_group?: string;
  entity?: string;
  score: number;
  word: string;
  start_utf16: number;
  end_utf16: number;
}
interface ExpectedCase {
  id: string;
  results: Record<string, ExpectedEntity[]>;
  with_stride?: { stride: number; results: Record<string, ExpectedEntity[] | { error: string }> };
}

const texts = new Map(
  (
    JSON.parse(readFileSync(join(fixturesDir, 'cases.json'), 'utf8')) as {
      texts: { id: string; text: string }[];
    }
  ).texts.map((entry) => [entry.id, entry.text]),
);
const strategies: AggregationStrategy[] = ['none', 'simple', 'first', 'average', 'max'];

function assertSameEntities(
  actual: ReturnType<typeof toSpan>[],
  expected: ExpectedEntity[],
  what: string,
) {
  assert.equal(actual.length, expected.length, `${what}: entity count`);
  expected.forEach((entity, i) => {
    const got = actual[i];
    assert.equal(got.label, entity.entity_group ?? entity.entity, `${what} #${i} label`);
    assert.equal(got.start, entity.start_utf16, `${what} #${i} start`);
    assert.equal(got.end, entity.end_utf16, `${what} #${i} end`);
    assert.equal(got.word, entity.word, `${what} #${i} word`);
    assert.ok(
      Math.abs(got.score - entity.score) <= 1e-4,
      `${what} #${i} score ${got.score} vs ${entity.score}`,
    );
  });
}

describe('token classification through the model registry', function () {
  this.timeout(120_000);
  const registry = new ModelRegistry(hostSettings({}));
  after(() => registry.dispose());

  for (const name of ['gpt2-tiny-ner', 'gpt2-tiny-pos']) {
    const folder = join(fixturesDir, name);
    const expected = JSON.parse(readFileSync(join(folder, 'expected.json'), 'utf8')) as {
      cases: ExpectedCase[];
    };

    it(`${name}: tokenises, runs and aggregates every reference text as Hugging Face does`, async () => {
      const model = await registry.load(folder);
      for (const entry of expected.cases) {
        for (const strategy of strategies) {
          const result = await tagText(
            model,
            texts.get(entry.id) ?? '',
            { aggregation_strategy: strategy },
            neverCancelled,
          );
          assertSameEntities(
            result.entities.map(toSpan),
            entry.results[strategy],
            `${entry.id}/${strategy}`,
          );
        }
      }
    });

    it(`${name}: reads a long text in HF's stride windows and merges their entities`, async () => {
      const model = await registry.load(folder);
      for (const entry of expected.cases.filter((c) => c.with_stride)) {
        const stride = entry.with_stride!;
        for (const strategy of ['simple', 'first', 'average', 'max'] as const) {
          const result = await tagText(
            model,
            texts.get(entry.id) ?? '',
            { aggregation_strategy: strategy, stride: stride.stride },
            neverCancelled,
          );
          assertSameEntities(
            result.entities.map(toSpan),
            stride.results[strategy] as ExpectedEntity[],
            `${entry.id}/stride/${strategy}`,
          );
        }
        await assert.rejects(
          tagText(
            model,
            texts.get(entry.id) ?? '',
            { aggregation_strategy: 'none', stride: stride.stride },
            neverCancelled,
          ),
          /stride needs an aggregation strategy/,
        );
      }
    });
  }

  describe('whole documents in the editor', () => {
    let model: LoadedModel;
    const longText = texts.get('long_text') ?? '';
    before(async () => {
      model = await registry.load(join(fixturesDir, 'gpt2-tiny-ner'));
    });

    it('tags a document longer than the context to its very end', async () => {
      const document = `${longText}\n\n${longText}\n\n${longText}`;
      const result = await tagDocument(
        model,
        document,
        { aggregation_strategy: 'simple' },
        neverCancelled,
      );
      assert.ok(result.windows > 3, `read ${result.windows} windows`);
      const last = Math.max(...result.entities.map((e) => e.end));
      assert.ok(last > document.length - 200, `last entity ends at ${last} of ${document.length}`);
    });

    it("gives exactly HF's result for a text that fits in one window", async () => {
      const text = texts.get('names_places') ?? '';
      const whole = await tagDocument(
        model,
        text,
        { aggregation_strategy: 'average' },
        neverCancelled,
      );
      const hf = await tagText(model, text, { aggregation_strategy: 'average' }, neverCancelled);
      assert.deepEqual(whole.entities, hf.entities);
    });

    it('re-runs only the windows an edit touches', async () => {
      const document = Array.from({ length: 6 }, () => longText).join('\n\n');
      await tagDocument(model, document, { aggregation_strategy: 'simple' }, neverCancelled);
      const middle = Math.floor(document.length / 2);
      const edited = `${document.slice(0, middle)}x${document.slice(middle)}`;
      const result = await tagDocument(
        model,
        edited,
        { aggregation_strategy: 'simple' },
        neverCancelled,
      );
      const rerun = result.windows - result.cachedWindows;
      assert.ok(rerun <= 3, `re-ran ${rerun} of ${result.windows} windows`);
    });

    it('tagging after random edits equals tagging the final document from scratch', async () => {
      const edit = fc.record({
        at: fc.nat(),
        remove: fc.nat({ max: 20 }),
        insert: fc.string({ unit: 'grapheme', maxLength: 12 }),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 4 }), async (edits) => {
          let document = longText;
          await tagDocument(model, document, { aggregation_strategy: 'first' }, neverCancelled);
          for (const { at, remove, insert } of edits) {
            const start = at % (document.length + 1);
            document = document.slice(0, start) + insert + document.slice(start + remove);
            await tagDocument(model, document, { aggregation_strategy: 'first' }, neverCancelled);
          }
          const incremental = await tagDocument(
            model,
            document,
            { aggregation_strategy: 'first' },
            neverCancelled,
          );
          const fresh = await tagDocument(
            model,
            document,
            { aggregation_strategy: 'first', useCache: false },
            neverCancelled,
          );
          assert.equal(fresh.cachedWindows, 0);
          assert.deepEqual(incremental.entities, fresh.entities);
        }),
        { numRuns: 8 },
      );
    });
  });
});
