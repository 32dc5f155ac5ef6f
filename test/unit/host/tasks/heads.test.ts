// The heads as the host runs them (tokenise, run the ONNX model, post-process), against the
// outputs Hugging Face gives for the reference models.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  classifyText,
  classifyWholeDocument,
  scoreContinuations,
  zeroShot,
} from '../../../../src/host/tasks/classification';
import { neverCancelled } from '../../../../src/host/errors';
import {
  chooseWithDoubleHeads,
  chooseWithLanguageModel,
} from '../../../../src/host/tasks/multipleChoice';
import { answer } from '../../../../src/host/tasks/questionAnswering';
import { ModelRegistry } from '../../../../src/host/models/registry';
import { hostSettings } from '../../../support/hostProcess';
import { fixturesDir } from '../../../support/fixtures';

const read = <T>(...parts: string[]) =>
  JSON.parse(readFileSync(join(fixturesDir, ...parts), 'utf8')) as T;
const cases = read<{
  texts: { id: string; text: string }[];
  multiple_choice: { id: string; context: string; choices: string[] }[];
}>('cases.json');
const textOf = new Map(cases.texts.map((t) => [t.id, t.text]));
const close = (a: number, b: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(a - b) <= tolerance, `${what}: ${a} vs ${b}`);

describe('heads in the host against Hugging Face', function () {
  this.timeout(120_000);
  const registry = new ModelRegistry(hostSettings({}));
  const load = (name: string) => registry.load(join(fixturesDir, name));
  after(() => registry.dispose());

  it('classifies every reference text with the sentiment head as the text-classification pipeline', async () => {
    const model = await load('gpt2-tiny-sentiment');
    const expected = read<{ cases: { id: string; scores: { label: string; score: number }[] }[] }>(
      'gpt2-tiny-sentiment',
      'expected.json',
    );
    for (const entry of expected.cases) {
      const text = textOf.get(entry.id) ?? '';
      if (text === '') continue;
      const result = await classifyText(model, text);
      assert.deepEqual(
        result.labels.map((l) => l.label),
        entry.scores.map((s) => s.label),
        entry.id,
      );
      result.labels.forEach((l, i) => close(l.score, entry.scores[i].score, 1e-4, entry.id));
    }
  });

  it('classifies a long document window by window and reports every window read', async () => {
    const model = await load('gpt2-tiny-sentiment');
    const long = textOf.get('long_text') ?? '';
    const document = `${long}\n${long}`;
    const result = await classifyWholeDocument(model, document, {}, neverCancelled);
    const tokens = model.tokenizer.encode(document, { add_special_tokens: false }).length;
    // Windows are cut at content-defined points, each within the model's context.
    assert.ok(result.windows >= Math.ceil(tokens / model.config.n_positions));
    assert.ok(result.windows <= Math.ceil((3 * tokens) / model.config.n_positions) + 1);
    assert.equal(result.tokens, tokens);
    close(
      result.labels.reduce((sum, l) => sum + l.score, 0),
      1,
      1e-9,
      'probabilities sum to 1',
    );
  });

  it('answers every reference question as the question-answering pipeline', async () => {
    const model = await load('gpt2-tiny-qa');
    const expected = read<{
      cases: {
        id: string;
        question: string;
        context: string;
        runs: {
          top_k: number;
          handle_impossible_answer: boolean;
          answers: { score: number; answer: string; start_utf16: number; end_utf16: number }[];
        }[];
      }[];
    }>('gpt2-tiny-qa', 'expected.json');
    for (const entry of expected.cases) {
      for (const run of entry.runs) {
        const answers = await answer(model, entry.question, entry.context, run, neverCancelled);
        const what = `${entry.id} top_k=${run.top_k} impossible=${run.handle_impossible_answer}`;
        assert.deepEqual(
          answers.map((a) => [a.answer, a.start, a.end]),
          run.answers.map((a) => [a.answer, a.start_utf16, a.end_utf16]),
          what,
        );
        answers.forEach((a, i) => close(a.score, run.answers[i].score, 1e-4, what));
      }
    }
  });

  it('scores multiple-choice options with the double-heads model as its mc_logits softmax', async () => {
    const model = await load('gpt2-tiny-double-heads');
    const expected = read<{ mc_softmax: number[][] }>('gpt2-tiny-double-heads', 'expected.json');
    for (const [i, entry] of cases.multiple_choice.entries()) {
      const result = await chooseWithDoubleHeads(model, entry.context, entry.choices);
      for (const ranked of result.ranked) {
        close(
          ranked.score,
          expected.mc_softmax[i][ranked.index],
          1e-4,
          `${entry.id} choice ${ranked.index}`,
        );
      }
    }
  });

  it('scores continuations with the LM log-likelihoods Hugging Face computes', async () => {
    const model = await load('gpt2-tiny-lm');
    const expected = read<{
      scoring: {
        id: string;
        kind: string;
        context: string;
        options: { continuation: string; sum_log_prob: number; mean_log_prob: number }[];
        softmax_of_mean: number[];
      }[];
    }>('gpt2-tiny-lm', 'expected.json');
    for (const task of expected.scoring) {
      const continuations = task.options.map((o) => o.continuation);
      const scores = await scoreContinuations(model, task.context, continuations, neverCancelled);
      scores.forEach((s, i) => {
        close(s.sum_log_prob, task.options[i].sum_log_prob, 1e-3, `${task.id} sum ${i}`);
        close(s.mean_log_prob, task.options[i].mean_log_prob, 1e-3, `${task.id} mean ${i}`);
      });
      if (task.kind === 'multiple_choice') {
        const result = await chooseWithLanguageModel(
          model,
          task.context,
          continuations,
          neverCancelled,
        );
        for (const ranked of result.ranked) {
          close(
            ranked.score,
            task.softmax_of_mean[ranked.index],
            1e-4,
            `${task.id} option ${ranked.index}`,
          );
        }
      }
    }
  });

  it('classifies zero-shot with the LM, labels verbalised in the template', async () => {
    const model = await load('gpt2-tiny-lm');
    const result = await zeroShot(
      model,
      'The match ended two to one.',
      ['sports', 'politics', 'cooking'],
      undefined,
      neverCancelled,
    );
    assert.equal(result.labels.length, 3);
    close(
      result.labels.reduce((sum, l) => sum + l.score, 0),
      1,
      1e-9,
      'probabilities sum to 1',
    );
    await assert.rejects(
      zeroShot(model, 'text', ['a'], 'no placeholder', neverCancelled),
      /must contain \{\}/,
    );
  });

  it('refuses bad input with a message: one option, an empty context, a question too long', async () => {
    const dh = await load('gpt2-tiny-double-heads');
    await assert.rejects(chooseWithDoubleHeads(dh, 'Pick one:', [' only']), /at least two options/);
    const qa = await load('gpt2-tiny-qa');
    await assert.rejects(answer(qa, 'Where?', '   ', {}, neverCancelled), /no context/);
    await assert.rejects(
      answer(qa, 'why '.repeat(200), 'Some context.', {}, neverCancelled),
      /shorter question/,
    );
    const sentiment = await load('gpt2-tiny-sentiment');
    await assert.rejects(classifyText(sentiment, ''), /no text/);
    // A question too long for the context loses its start; an option too long is refused.
    const trimmed = await chooseWithDoubleHeads(dh, 'x '.repeat(200), [' a', ' b']);
    assert.equal(trimmed.ranked.length, 2);
    await assert.rejects(
      chooseWithDoubleHeads(dh, 'Pick:', [' a', ' b'.repeat(200)]),
      /Shorten the option/,
    );
  });
});
