// Fuzzed documents through every head of one real host process: nothing but a clear bad-input
// error for truly invalid input, and every range inside the text on code-point boundaries.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ResponseError } from 'vscode-jsonrpc/node';
import { errorCodes, methods } from '../../src/protocol';
import { hostSettings, startHost, type HostProcess } from '../support/hostProcess';
import { fixtureModels, repoRoot } from '../support/fixtures';

const models = fixtureModels;

const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** A range VS Code can use: inside the text, ordered, not between the halves of a pair. */
function checkRange(text: string, start: number, end: number, what: string): void {
  assert.ok(Number.isInteger(start) && Number.isInteger(end), `${what}: [${start}, ${end})`);
  assert.ok(
    0 <= start && start <= end && end <= text.length,
    `${what}: [${start}, ${end}) of ${text.length}`,
  );
  for (const at of [start, end]) {
    if (at > 0 && at < text.length) {
      assert.ok(
        !(isHigh(text.charCodeAt(at - 1)) && isLow(text.charCodeAt(at))),
        `${what}: offset ${at} splits a surrogate pair`,
      );
    }
  }
}

/** Probabilities in [0, max]; QA may exceed 1 because HF adds the scores of equal answers. */
function checkScore(score: number, what: string, max = 1): void {
  assert.ok(Number.isFinite(score) && score >= 0 && score <= max, `${what}: score ${score}`);
}

// Pieces that break naive offset code, mixed with random code units and code points.
const nasty = fc.constantFrom(
  '\u0000',
  '\r\n',
  '\r',
  '\n',
  '\t',
  '\ud83d', // lone high surrogate
  '\ude00', // lone low surrogate
  '\ud83d\ude00',
  '👩‍👩‍👧‍👦', // ZWJ family
  '🏳️‍🌈',
  'e\u0301\u0301\u0302', // stacked combining marks
  'Z\u0351\u0352\u0353\u0354\u0355',
  '\ufeff',
  '\u202e',
  '<|endoftext|>',
  'Ġ',
  '東京',
  ' ',
  'Paris ',
);
const piece = fc.oneof(
  nasty,
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({
    unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
    maxLength: 12,
  }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom('John Smith', ' lives in', ' Berlin.', 'Who? ', 'A) yes\nB) no'),
);
const documentText = fc.array(piece, { maxLength: 30 }).map((parts) => parts.join(''));
const shortText = fc.array(piece, { maxLength: 8 }).map((parts) => parts.join(''));

describe('hostile text through every head of the host process', function () {
  this.timeout(120_000);
  let host: HostProcess;
  let documents = 0;

  before(async () => {
    host = await startHost(repoRoot, hostSettings(models));
  });
  after(async () => {
    await host?.stop();
    console.log(`      (${documents} fuzzed documents)`);
  });

  /**
   * Runs a request with a deadline; an error must be a bad-input error for input `invalid`
   * accepts, never a crash or a hang.
   */
  async function settle<T>(
    request: Promise<T>,
    invalid: (message: string) => boolean,
    what: string,
  ): Promise<T | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('no answer within 20 s')), 20_000);
    });
    try {
      return await Promise.race([request, deadline]);
    } catch (error) {
      assert.ok(error instanceof ResponseError, `${what}: ${String(error)}`);
      assert.ok(
        error.code === errorCodes.badInput && invalid(error.message),
        `${what}: code ${error.code}: ${error.message}`,
      );
      assert.doesNotMatch(error.message, /model host failed/);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
  const never = () => false;
  const runs = (numRuns: number) => ({ numRuns, endOnFailure: true });

  it('tags NER and POS without an error and with every span on code-point boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(
        documentText,
        fc.constantFrom('ner', 'pos') as fc.Arbitrary<'ner' | 'pos'>,
        async (text, role) => {
          documents++;
          for (const aggregation_strategy of ['simple', 'none'] as const) {
            const result = await settle(
              host.connection.sendRequest(methods.tag, {
                role,
                text,
                aggregation_strategy,
              }),
              never,
              `tag ${role} ${JSON.stringify(text)}`,
            );
            for (const span of result?.spans ?? []) {
              checkRange(text, span.start, span.end, `${role} ${JSON.stringify(text)}`);
              checkScore(span.score, role);
            }
          }
        },
      ),
      runs(350),
    );
  });

  it('classifies sequences and documents, refusing only text without tokens', async () => {
    await fc.assert(
      fc.asyncProperty(
        documentText,
        fc.constantFrom('sequence', 'document') as fc.Arbitrary<'sequence' | 'document'>,
        async (text, scope) => {
          documents++;
          const result = await settle(
            host.connection.sendRequest(methods.classify, { text, scope }),
            () => text.length === 0,
            `classify ${scope} ${JSON.stringify(text)}`,
          );
          if (result) {
            assert.ok(result.labels.length > 0);
            for (const { score } of result.labels) checkScore(score, 'classify');
          }
        },
      ),
      runs(200),
    );
  });

  it('answers questions with spans inside the context, refusing only empty or overlong questions', async () => {
    await fc.assert(
      fc.asyncProperty(documentText, documentText, async (question, context) => {
        documents++;
        const result = await settle(
          host.connection.sendRequest(methods.answer, { question, context, top_k: 3 }),
          (message) =>
            (question.trim() === '' && /question is empty/.test(message)) ||
            (context.trim() === '' && /no context/.test(message)) ||
            /The question is \d+ tokens long/.test(message),
          `answer ${JSON.stringify(question)} in ${JSON.stringify(context)}`,
        );
        for (const answer of result?.answers ?? []) {
          checkRange(context, answer.start, answer.end, 'answer');
          checkScore(answer.score, 'answer', Infinity);
          assert.equal(answer.answer, context.slice(answer.start, answer.end));
        }
      }),
      runs(200),
    );
  });

  it('ranks options of hostile text, refusing only fewer than two options', async () => {
    await fc.assert(
      fc.asyncProperty(
        shortText,
        fc.array(fc.string({ unit: 'binary', maxLength: 6 }), { maxLength: 4 }),
        async (context, options) => {
          documents++;
          const result = await settle(
            host.connection.sendRequest(methods.choose, { context, options }),
            (message) =>
              (options.length < 2 && /at least two options/.test(message)) ||
              (options.includes('') && /is empty/.test(message)),
            `choose ${JSON.stringify(context)} ${JSON.stringify(options)}`,
          );
          if (result) {
            assert.equal(result.ranked.length, options.length);
            for (const { score } of result.ranked) checkScore(score, 'choose');
          }
        },
      ),
      runs(150),
    );
  });

  it('continues hostile prompts by a few tokens without an error', async () => {
    await fc.assert(
      fc.asyncProperty(documentText, async (prompt) => {
        documents++;
        const result = await settle(
          host.connection.sendRequest(methods.generate, {
            prompt,
            options: { max_new_tokens: 2 },
          }),
          never,
          `generate ${JSON.stringify(prompt)}`,
        );
        assert.ok(result, 'no result');
        assert.ok(result.generated_text.startsWith(prompt));
        assert.ok(result.new_token_ids.length <= 2);
      }),
      runs(150),
    );
  });

  it('handles a single 100,000-character line with mixed endings in every head', async () => {
    documents++;
    const unit = 'Ann met Bob in Oslo 😀 e\u0301 \ud83d x\u0000y\r\n';
    const line = 'word '.repeat(20_000);
    const text = `${line}\n${unit.repeat(50)}\r${line.slice(0, 1000)}`;
    assert.ok(line.length >= 100_000);
    for (const role of ['ner', 'pos'] as const) {
      const result = await host.connection.sendRequest(methods.tag, {
        role,
        text,
        aggregation_strategy: 'simple',
      });
      for (const span of result.spans) checkRange(text, span.start, span.end, role);
    }
    for (const scope of ['sequence', 'document'] as const) {
      const result = await host.connection.sendRequest(methods.classify, { text, scope });
      for (const { score } of result.labels) checkScore(score, scope);
    }
    const answered = await host.connection.sendRequest(methods.answer, {
      question: 'Who met Bob?',
      context: text.slice(0, 20_000),
    });
    for (const answer of answered.answers) checkRange(text, answer.start, answer.end, 'answer');
    const chosen = await host.connection.sendRequest(methods.choose, {
      context: line,
      options: [' yes', ' no'],
    });
    assert.equal(chosen.ranked.length, 2);
    const generated = await host.connection.sendRequest(methods.generate, {
      prompt: text,
      options: { max_new_tokens: 2 },
    });
    assert.ok(generated.generated_text.startsWith(text));
  });
});
