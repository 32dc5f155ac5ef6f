import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import {
  AggregationStrategy,
  EntityGroup,
  TokenClassificationInput,
  TokenEntity,
  WindowedTokenClassificationInput,
  aggregateOverlappingEntities,
  tokenClassification,
  tokenClassificationOverWindows,
} from '../../../src/heads/tokenClassification';
import { windowsFor } from '../../../src/text/windows';
import { fixturesDir } from '../../support/fixtures';

const SCORE_TOLERANCE = 1e-4;
const STRATEGIES: AggregationStrategy[] = ['none', 'simple', 'first', 'average', 'max'];

interface TokenizerCase {
  id: string;
  text: string;
  input_ids: number[];
  tokens: string[];
  offsets_utf16: [number, number][];
  special_tokens_mask: number[];
}

interface ExpectedEntity {
  entity?: string;
  entity_group?: string;
  score: number;
  index?: number;
  word: string;
  start_utf16: number;
  end_utf16: number;
}

interface ExpectedCase {
  id: string;
  logits: number[][];
  results: Record<AggregationStrategy, ExpectedEntity[]>;
  with_stride?: {
    stride: number;
    windows: {
      first_token_index: number;
      n_tokens: number;
      input_ids: number[];
      attention_mask: number[];
    }[];
    results: Record<AggregationStrategy, ExpectedEntity[] | { error: string }>;
  };
}

function readJson<T>(...parts: string[]): T {
  return JSON.parse(readFileSync(path.join(fixturesDir, ...parts), 'utf8')) as T;
}

const tokenizerCases = new Map(
  readJson<{ cases: TokenizerCase[] }>('tokenizer_expected.json').cases.map((c) => [c.id, c]),
);

function assertEntitiesMatch(
  actual: (TokenEntity | EntityGroup)[],
  expected: ExpectedEntity[],
  what: string,
): void {
  const view = (e: TokenEntity | EntityGroup | ExpectedEntity) => ({
    label: 'entity_group' in e ? e.entity_group : e.entity,
    index: 'index' in e ? e.index : undefined,
    word: e.word,
    start: 'start_utf16' in e ? e.start_utf16 : e.start,
    end: 'end_utf16' in e ? e.end_utf16 : e.end,
  });
  assert.deepEqual(actual.map(view), expected.map(view), what);
  actual.forEach((entity, i) => {
    const gap = Math.abs(entity.score - expected[i].score);
    assert.ok(
      gap <= SCORE_TOLERANCE,
      `${what}: entity ${i} score ${entity.score} vs ${expected[i].score}`,
    );
  });
}

for (const model of ['gpt2-tiny-ner', 'gpt2-tiny-pos']) {
  describe(`token classification conformance with HF (${model})`, () => {
    const config = readJson<{
      id2label: Record<string, string>;
      n_positions: number;
      pad_token_id: number;
    }>(model, 'config.json');
    const expected = readJson<{ cases: ExpectedCase[] }>(model, 'expected.json');
    const tokenizerConfig = readJson<{ unk_token: string }>(model, 'tokenizer_config.json');
    const unkTokenId = JSON.parse(
      readFileSync(path.join(fixturesDir, model, 'tokenizer.json'), 'utf8'),
    ).added_tokens.find((t: { content: string }) => t.content === tokenizerConfig.unk_token)
      .id as number;

    function inputFor(c: ExpectedCase): TokenClassificationInput {
      const tokenized = tokenizerCases.get(c.id);
      if (!tokenized) throw new Error(`no tokenizer fixture for ${c.id}`);
      // Without stride HF truncates to the first n_positions tokens: the logits say how many.
      const n = c.logits.length;
      return {
        text: tokenized.text,
        tokens: tokenized.tokens.slice(0, n),
        ids: tokenized.input_ids.slice(0, n),
        offsets: tokenized.offsets_utf16.slice(0, n),
        specialTokensMask: tokenized.special_tokens_mask.slice(0, n),
        logits: Float32Array.from(c.logits.flat()),
        id2label: config.id2label,
        unkTokenId,
      };
    }

    for (const c of expected.cases) {
      for (const strategy of STRATEGIES) {
        it(`gives HF's ${strategy} entities for "${c.id}"`, () => {
          const entities = tokenClassification(inputFor(c), { aggregation_strategy: strategy });
          assertEntitiesMatch(entities, c.results[strategy], `${c.id} ${strategy}`);
        });
      }
    }

    const long = expected.cases.find((c) => c.with_stride);
    if (model === 'gpt2-tiny-ner') {
      it('has a long text with stride results to check', () => assert.ok(long?.with_stride));
    }
    if (!long?.with_stride) return;
    const withStride = long.with_stride;

    describe(`the long text with stride ${withStride.stride}, run through the ONNX model`, () => {
      const tokenized = tokenizerCases.get(long.id);
      if (!tokenized) throw new Error(`no tokenizer fixture for ${long.id}`);
      const windows = windowsFor(tokenized.input_ids.length, config.n_positions, withStride.stride);
      let windowLogits: Float32Array[] = [];

      before(async () => {
        const session = await ort.InferenceSession.create(
          path.join(fixturesDir, model, 'onnx', 'model.onnx'),
        );
        const width = config.n_positions;
        const ids = new BigInt64Array(windows.length * width).fill(BigInt(config.pad_token_id));
        const mask = new BigInt64Array(windows.length * width);
        windows.forEach((w, k) => {
          for (let i = 0; i < w.length; i++) {
            ids[k * width + i] = BigInt(tokenized.input_ids[w.start + i]);
            mask[k * width + i] = 1n;
          }
        });
        const dims = [windows.length, width];
        const output = await session.run({
          input_ids: new ort.Tensor('int64', ids, dims),
          attention_mask: new ort.Tensor('int64', mask, dims),
        });
        const logits = output.logits.data as Float32Array;
        const perWindow = logits.length / windows.length;
        windowLogits = windows.map((_, k) => logits.subarray(k * perWindow, (k + 1) * perWindow));
        await session.release();
      });

      it('feeds the model the windows HF made (ids, padding, attention mask)', () => {
        assert.equal(windows.length, withStride.windows.length);
        windows.forEach((w, k) => {
          const recorded = withStride.windows[k];
          assert.equal(w.start, recorded.first_token_index);
          assert.equal(w.length, recorded.n_tokens);
          const ids = tokenized.input_ids.slice(w.start, w.start + w.length);
          const padded = [...ids, ...new Array<number>(w.padding).fill(config.pad_token_id)];
          assert.deepEqual(padded, recorded.input_ids);
          assert.deepEqual(
            padded.map((_, i) => (i < w.length ? 1 : 0)),
            recorded.attention_mask,
          );
        });
      });

      const windowedInput = (): WindowedTokenClassificationInput => ({
        text: tokenized.text,
        tokens: tokenized.tokens,
        ids: tokenized.input_ids,
        offsets: tokenized.offsets_utf16,
        specialTokensMask: tokenized.special_tokens_mask,
        id2label: config.id2label,
        unkTokenId,
        windows: windows.map((w, k) => ({
          start: w.start,
          length: w.length,
          logits: windowLogits[k],
        })),
      });

      for (const strategy of STRATEGIES) {
        const recorded = withStride.results[strategy];
        if ('error' in recorded) {
          it(`refuses aggregation_strategy ${strategy} over windows, as HF does`, () => {
            assert.throws(
              () =>
                tokenClassificationOverWindows(windowedInput(), { aggregation_strategy: strategy }),
              /aggregation_strategy 'none'/,
            );
          });
          continue;
        }
        it(`merges the windows' ${strategy} entities as HF does`, () => {
          const entities = tokenClassificationOverWindows(windowedInput(), {
            aggregation_strategy: strategy,
          });
          assertEntitiesMatch(entities, recorded, `${long.id} stride ${strategy}`);
        });
      }
    });
  });
}

describe('token classification behaviour', () => {
  const id2label = { '0': 'O', '1': 'B-PER', '2': 'I-PER', '3': 'NOUN' };
  const text = 'Ada Lovelace met';
  const tokens = ['Ada', 'ĠLove', 'lace', 'Ġmet'];
  const offsets: [number, number][] = [
    [0, 3],
    [3, 8],
    [8, 12],
    [12, 16],
  ];
  // One row of logits per token: a large logit on the wanted label.
  const logitsFor = (labels: number[]) =>
    Float32Array.from(labels.flatMap((label) => [0, 1, 2, 3].map((i) => (i === label ? 5 : 0))));
  const input = (
    labels: number[],
    extra: Partial<TokenClassificationInput> = {},
  ): TokenClassificationInput => ({
    text,
    tokens,
    ids: [1, 2, 3, 4],
    offsets,
    logits: logitsFor(labels),
    id2label,
    ...extra,
  });
  const summary = (groups: EntityGroup[]) => groups.map((g) => `${g.entity_group}:${g.word}`);

  it('merges B-PER I-PER into one PER entity with the mean score', () => {
    const groups = tokenClassification(input([1, 2, 2, 0]), { aggregation_strategy: 'simple' });
    assert.deepEqual(summary(groups), ['PER:Ada Lovelace']);
    assert.deepEqual([groups[0].start, groups[0].end], [0, 12]);
  });

  it('starts a new entity at every B- tag', () => {
    const groups = tokenClassification(input([1, 1, 2, 0]), { aggregation_strategy: 'simple' });
    assert.deepEqual(summary(groups), ['PER:Ada', 'PER: Lovelace']);
  });

  it('treats a tag without prefix as I- and drops ignore_labels after grouping', () => {
    const groups = tokenClassification(input([3, 3, 0, 1]), {
      aggregation_strategy: 'simple',
      ignore_labels: ['PER'],
    });
    assert.deepEqual(summary(groups), ['NOUN:Ada Love', 'O:lace']);
  });

  it('lets a word take the label of its first token with aggregation_strategy first', () => {
    // 'lace' continues ' Love' (no space before or at its start), so the word is ' Lovelace'.
    const groups = tokenClassification(input([0, 1, 3, 0]), { aggregation_strategy: 'first' });
    assert.deepEqual(summary(groups), ['PER: Lovelace']);
  });

  it('leaves out special tokens and gives the unknown token the text it covers', () => {
    const none = tokenClassification(
      input([1, 2, 2, 1], { specialTokensMask: [0, 1, 0, 0], unkTokenId: 4 }),
      {
        ignore_labels: [],
      },
    );
    assert.deepEqual(
      none.map((e) => [e.index, e.entity, e.word]),
      [
        [0, 'B-PER', 'Ada'],
        [2, 'I-PER', 'lace'],
        [3, 'B-PER', ' met'],
      ],
    );
  });

  it('keeps the longer of two overlapping entities, then the higher score', () => {
    const e = (start: number, end: number, score: number) => ({ start, end, score });
    assert.deepEqual(aggregateOverlappingEntities([e(5, 9, 0.9), e(0, 4, 0.5), e(2, 8, 0.1)]), [
      e(2, 8, 0.1),
    ]);
    assert.deepEqual(aggregateOverlappingEntities([e(0, 4, 0.5), e(0, 4, 0.7), e(4, 6, 0.2)]), [
      e(0, 4, 0.7),
      e(4, 6, 0.2),
    ]);
  });

  it('rejects logits whose size does not match the tokens and labels', () => {
    assert.throws(() =>
      tokenClassification({ ...input([0, 0, 0, 0]), logits: new Float32Array(7) }),
    );
  });
});
