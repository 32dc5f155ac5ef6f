import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import * as ort from 'onnxruntime-node';
import {
  answerQuestion,
  selectStartsEnds,
  toPipelineOutput,
  type QuestionAnswer,
} from '../../../src/heads/questionAnswering';
import { tokenOffsets } from '../../../src/text/offsets';
import {
  contextWordIds,
  defaultDocStride,
  defaultMaxSeqLen,
  questionSpan,
  questionWindows,
  type EncodedContext,
  type QuestionSpan,
  type TokensWithOffsets,
} from '../../../src/text/questionWindows';
import { fixturesDir } from '../../support/fixtures';

interface RecordedSpan {
  input_ids: number[];
  sequence_ids: number[];
  offsets: Array<[number, number]>;
  offsets_utf16: Array<[number, number]>;
  start_logits: number[];
  end_logits: number[];
}

interface RecordedAnswer {
  score: number;
  answer: string;
  start_utf16: number;
  end_utf16: number;
}

interface QaCase {
  id: string;
  question: string;
  context: string;
  n_context_tokens: number;
  n_question_tokens: number;
  runs: Array<{
    top_k: number;
    handle_impossible_answer: boolean;
    pipeline_returned_single_dict: boolean;
    answers: RecordedAnswer[];
  }>;
  spans: RecordedSpan[];
}

const folder = path.join(fixturesDir, 'gpt2-tiny-qa');
const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;
const expected = readJson<{
  pipeline_params: { max_seq_len: number; doc_stride: number; max_answer_len: number };
  cases: QaCase[];
}>(path.join(folder, 'expected.json'));
const config = readJson<{ n_positions: number }>(path.join(folder, 'config.json'));
const params = expected.pipeline_params;

function assertClose(actual: number, wanted: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - wanted) <= tolerance, `${what}: ${actual} vs ${wanted}`);
}

function assertAnswers(actual: QuestionAnswer[], wanted: RecordedAnswer[], what: string): void {
  assert.deepEqual(
    actual.map((a) => [a.answer, a.start, a.end]),
    wanted.map((w) => [w.answer, w.start_utf16, w.end_utf16]),
    what,
  );
  actual.forEach((a, i) =>
    assertClose(a.score, wanted[i].score, 1e-4, `${what} answer ${i} score`),
  );
}

/** A recorded span as the QA head sees it; word ids come from the context text and offsets. */
function recordedSpan(c: QaCase, span: RecordedSpan): QuestionSpan {
  const contextOffsets = span.offsets_utf16.filter((_, i) => span.sequence_ids[i] === 1);
  const words = contextWordIds(c.context, contextOffsets);
  const numQuestion = span.sequence_ids.filter((s) => s === 0).length;
  return questionSpan(span.input_ids, span.sequence_ids, span.offsets_utf16, [
    ...new Array<number>(numQuestion).fill(-1),
    ...words,
  ]);
}

/** The part of transformers.js's tokenizer these tests use. */
interface Tokenizer {
  encode(text: string): number[];
  tokenize(text: string): string[];
}

let tokenizer: Tokenizer | undefined;
async function loadTokenizer(): Promise<Tokenizer> {
  if (!tokenizer) {
    const { AutoTokenizer, env } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = fixturesDir + path.sep;
    tokenizer = await AutoTokenizer.from_pretrained('gpt2-tiny-qa');
  }
  return tokenizer;
}

function encode(tok: Tokenizer, text: string): TokensWithOffsets {
  return { ids: tok.encode(text), offsets: tokenOffsets(text, tok.tokenize(text)) };
}

async function spansFromTokenizer(c: QaCase): Promise<QuestionSpan[]> {
  const tok = await loadTokenizer();
  const encodedContext = encode(tok, c.context);
  const context: EncodedContext = {
    ...encodedContext,
    wordIds: contextWordIds(c.context, encodedContext.offsets),
  };
  return questionWindows(encode(tok, c.question), context, {
    max_seq_len: defaultMaxSeqLen(config.n_positions),
  });
}

describe('question answering (transformers 4.x pipeline)', () => {
  it('gives HF’s answers from the recorded span logits for every case, top_k 1 and 3, with and without impossible answers', () => {
    let runs = 0;
    for (const c of expected.cases) {
      const spans = c.spans.map((s) => recordedSpan(c, s));
      for (const run of c.runs) {
        const what = `${c.id} top_k=${run.top_k} impossible=${run.handle_impossible_answer}`;
        const answers = answerQuestion(c.context, spans, c.spans, {
          top_k: run.top_k,
          handle_impossible_answer: run.handle_impossible_answer,
          max_answer_len: params.max_answer_len,
        });
        assertAnswers(answers, run.answers, what);
        const output = toPipelineOutput(answers);
        assert.equal(
          !Array.isArray(output),
          run.pipeline_returned_single_dict,
          `${what}: single dict`,
        );
        runs++;
      }
    }
    assert.equal(runs, expected.cases.length * 4);
  });

  it('uses the defaults of the recorded pipeline: max_seq_len min(model_max_length, 384), doc_stride 64', () => {
    assert.equal(defaultMaxSeqLen(config.n_positions), params.max_seq_len);
    assert.equal(defaultDocStride(params.max_seq_len), params.doc_stride);
  });

  it('builds the spans HF fed the model (ids, sequence ids, UTF-16 offsets) for every case, long context included', async () => {
    for (const c of expected.cases) {
      const spans = await spansFromTokenizer(c);
      assert.equal(spans.length, c.spans.length, `${c.id}: number of spans`);
      spans.forEach((span, k) => {
        const recorded = c.spans[k];
        assert.deepEqual(span.input_ids, recorded.input_ids, `${c.id} span ${k}: input_ids`);
        assert.deepEqual(
          span.sequence_ids,
          recorded.sequence_ids,
          `${c.id} span ${k}: sequence_ids`,
        );
        assert.deepEqual(span.offsets, recorded.offsets_utf16, `${c.id} span ${k}: offsets`);
        assert.ok(span.input_ids.length <= params.max_seq_len);
      });
    }
    assert.ok(
      expected.cases.some((c) => c.spans.length > 1),
      'a case with several windows',
    );
  });

  it('answers end to end like HF: tokenizer, windows, ONNX start/end logits, post-processing', async () => {
    const session = await ort.InferenceSession.create(path.join(folder, 'onnx', 'model.onnx'));
    try {
      for (const id of ['born', 'crlf_emoji', 'emoji_question', 'long_context']) {
        const c = expected.cases.find((x) => x.id === id)!;
        const spans = await spansFromTokenizer(c);
        const logits = [];
        for (const [k, span] of spans.entries()) {
          const shape = [1, span.input_ids.length];
          const out = await session.run({
            input_ids: new ort.Tensor(
              'int64',
              BigInt64Array.from(span.input_ids.map(BigInt)),
              shape,
            ),
            attention_mask: new ort.Tensor(
              'int64',
              BigInt64Array.from(span.attention_mask.map(BigInt)),
              shape,
            ),
          });
          const start_logits = Array.from(out.start_logits.data as Float32Array);
          const end_logits = Array.from(out.end_logits.data as Float32Array);
          start_logits.forEach((l, i) =>
            assertClose(l, c.spans[k].start_logits[i], 1e-4, `${id} start ${i}`),
          );
          end_logits.forEach((l, i) =>
            assertClose(l, c.spans[k].end_logits[i], 1e-4, `${id} end ${i}`),
          );
          logits.push({ start_logits, end_logits });
        }
        for (const run of c.runs) {
          const answers = answerQuestion(c.context, spans, logits, run);
          assertAnswers(answers, run.answers, `${id} top_k=${run.top_k}`);
        }
      }
    } finally {
      await session.release();
    }
  });

  it('finds the same best spans as ranking the whole start×end product, in the same order', () => {
    const logit = fc.double({ min: -8, max: 8, noNaN: true });
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 40 }).chain((n) =>
          fc.record({
            n: fc.constant(n),
            question: fc.integer({ min: 1, max: n - 1 }),
            start: fc.array(logit, { minLength: n, maxLength: n }),
            end: fc.array(logit, { minLength: n, maxLength: n }),
            topk: fc.integer({ min: 1, max: 20 }),
            maxLen: fc.integer({ min: 1, max: 20 }),
          }),
        ),
        ({ n, question, start, end, topk, maxLen }) => {
          const p_mask = start.map((_, i) => (i < question ? 1 : 0));
          const span = { p_mask, attention_mask: p_mask.map(() => 1) };
          const { candidates } = selectStartsEnds(
            { start_logits: start, end_logits: end },
            span,
            topk,
            maxLen,
          );
          // Reference: softmax over context tokens, every pair scored, full sort by score then index.
          const softmax = (xs: number[]): number[] => {
            const ctx = xs.slice(question);
            const max = Math.max(...ctx);
            const sum = ctx.reduce((a, x) => a + Math.exp(x - max), 0);
            return xs.map((x, i) => (i < question ? 0 : Math.exp(x - max) / sum));
          };
          const ps = softmax(start);
          const pe = softmax(end);
          const all = [];
          for (let s = question; s < n; s++) {
            for (let e = s; e < n && e - s < maxLen; e++)
              all.push({ start: s, end: e, score: ps[s] * pe[e] });
          }
          all.sort((a, b) => b.score - a.score || a.start - b.start || a.end - b.end);
          assert.deepEqual(
            candidates.map((c) => [c.start, c.end]),
            all.slice(0, topk).map((c) => [c.start, c.end]),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('orders spans with equal scores by start, then end (HF’s argmax order)', () => {
    const span = { p_mask: [1, 0, 0, 0], attention_mask: [1, 1, 1, 1] };
    const { candidates } = selectStartsEnds(
      { start_logits: [5, 1, 1, 1], end_logits: [5, 2, 2, 2] },
      span,
      3,
      15,
    );
    assert.deepEqual(
      candidates.map((c) => [c.start, c.end]),
      [
        [1, 1],
        [1, 2],
        [1, 3],
      ],
    );
  });

  it('never answers with a question token, a padded token, or a span longer than max_answer_len', () => {
    const n = 12;
    const span = {
      p_mask: [1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      attention_mask: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0],
    };
    const big = new Array<number>(n).fill(0).map((_, i) => (i < 3 || i >= 10 ? 50 : i / 10));
    const { candidates, null_score } = selectStartsEnds(
      { start_logits: big, end_logits: big },
      span,
      100,
      3,
    );
    assert.ok(candidates.length > 0);
    for (const c of candidates) {
      assert.ok(
        c.start >= 3 && c.end < 10 && c.end >= c.start && c.end - c.start < 3,
        JSON.stringify(c),
      );
    }
    assert.equal(null_score, 0);
  });

  it('adds the impossible answer with score 0 (GPT-2 has no CLS) only when fewer than top_k answers exist', () => {
    const c = expected.cases.find((x) => x.id === 'one_token_context')!;
    const spans = c.spans.map((s) => recordedSpan(c, s));
    const answers = answerQuestion(c.context, spans, c.spans, {
      top_k: 3,
      handle_impossible_answer: true,
    });
    assert.deepEqual(answers.at(-1), { score: 0, start: 0, end: 0, answer: '' });
    const one = answerQuestion(c.context, spans, c.spans, {
      top_k: 1,
      handle_impossible_answer: true,
    });
    assert.equal(one.length, 1);
    assert.notEqual(one[0].answer, '');
  });

  it('merges answers whose text is the same ignoring case by adding their scores', () => {
    const context = 'Paris paris';
    const span = questionSpan(
      [1, 2, 3],
      [0, 1, 1],
      [
        [0, 1],
        [0, 5],
        [6, 11],
      ],
      [-1, 0, 1],
    );
    const logits = { start_logits: [0, 1, 1], end_logits: [0, 1, 1] };
    const answers = answerQuestion(context, [span], [logits], { top_k: 3 });
    assert.deepEqual(
      answers.map((a) => a.answer),
      ['Paris', 'Paris paris'],
    );
    assertClose(answers[0].score, 0.5, 1e-12, 'two quarter-probability spans merged');
  });

  it('widens an answer to whole pre-tokenizer words unless align_to_words is false', () => {
    const c = expected.cases.find((x) => x.id === 'accented')!;
    const spans = c.spans.map((s) => recordedSpan(c, s));
    const aligned = answerQuestion(c.context, spans, c.spans, { top_k: 20 });
    const raw = answerQuestion(c.context, spans, c.spans, { top_k: 20, align_to_words: false });
    assert.ok(raw.some((r) => !aligned.some((a) => a.start === r.start && a.end === r.end)));
  });

  it('rejects top_k or max_answer_len below 1, and a question that leaves no room for the context', () => {
    const c = expected.cases[0];
    const spans = c.spans.map((s) => recordedSpan(c, s));
    assert.throws(() => answerQuestion(c.context, spans, c.spans, { top_k: 0 }), /top_k/);
    assert.throws(
      () => answerQuestion(c.context, spans, c.spans, { max_answer_len: 0 }),
      /max_answer_len/,
    );
    const question = {
      ids: [1, 2, 3, 4],
      offsets: [
        [0, 1],
        [1, 2],
        [2, 3],
        [3, 4],
      ] as Array<[number, number]>,
    };
    const context = { ids: [5, 6], offsets: question.offsets.slice(0, 2), wordIds: [0, 1] };
    assert.throws(
      () => questionWindows(question, context, { max_seq_len: 4, doc_stride: 1 }),
      /no room/,
    );
    assert.throws(
      () => questionWindows(question, context, { max_seq_len: 5, doc_stride: 1 }),
      /doc_stride/,
    );
    assert.equal(questionWindows(question, context, { max_seq_len: 6, doc_stride: 3 }).length, 1);
  });

  it('groups a token with the pre-tokenizer word that holds its first character', () => {
    const text = "Bob's café  ran 2021!";
    const offsets: Array<[number, number]> = [
      [0, 3],
      [3, 5],
      [5, 10],
      [10, 11],
      [11, 15],
      [15, 20],
      [20, 21],
    ];
    assert.deepEqual(contextWordIds(text, offsets), [0, 1, 2, 3, 4, 5, 6]);
    assert.deepEqual(
      contextWordIds('ab<|endoftext|>cd', [
        [0, 2],
        [2, 15],
        [15, 17],
      ]),
      [0, 1, 2],
    );
  });
});
