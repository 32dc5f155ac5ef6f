// Fuzzed documents through every head of one real host process: nothing but a clear bad-input
// error for truly invalid input, and every range inside the text on code-point boundaries.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { join } from 'node:path';
import { ResponseError } from 'vscode-jsonrpc/node';
import { errorCodes, methods } from '../../src/protocol';
import { hostSettings, startHost, type HostProcess } from '../support/hostProcess';
import { fixturesDir, repoRoot } from './fixturesPath';

const models = {
  lm: join(fixturesDir, 'gpt2-tiny-lm'),
  ner: join(fixturesDir, 'gpt2-tiny-ner'),
  pos: join(fixturesDir, 'gpt2-tiny-pos'),
  classification: join(fixturesDir, 'gpt2-tiny-sentiment'),
  qa: join(fixturesDir, 'gpt2-tiny-qa'),
  multipleChoice: join(fixturesDir, 'gpt2-tiny-double-heads'),
};

const isHigh = (code: number) => code >= 0xd800 && code <= 0xdbff;
const isLow = (code: number) => code >= 0xdc00 && code <= 0xdfff;

/** A range VS Code can use: inside the text, ordered, not between the halves of a pair. */
function checkRange(text: string, start: number, end: number, what: string): void {
  assert.ok(Number.isInteger(start) && Number.isInteger(end), `${what}: [${start}, ${end})`);
  assert.ok(0 <= start && start <= end && end <= text.length, `${what}: [${start}, ${end}) of ${text.length}`);
  for (const at of [start, end]) {
    if (at > 0 && at < text.length) {
      assert.ok(
        !(isHigh(text.charCodeAt(at - 1)) && isLow(text.charCodeAt(at))),
        `${what}: offset ${at} splits a surrogate pair`,
      );
    }
  }
}

function checkScore(score: number, what: string): void {
  assert.ok(Number.isFinite(score) && score >= 0 && score <= 1, `${what}: score ${score}`);
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
  fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom('John Smith', ' lives in', ' Berlin.', 'Who? ', 'A) yes\nB) no'),
);
const documentText = fc.array(piece, { maxLength: 30 }).map((parts) => parts.join(''));

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

  /** Runs a request; an error must be a bad-input error the predicate allows, never a crash. */
  async function settle<T>(
    request: Promise<T>,
    invalid: boolean,
    what: string,
  ): Promise<T | undefined> {
    try {
      return await request;
    } catch (error) {
      assert.ok(error instanceof ResponseError, `${what}: ${String(error)}`);
      assert.ok(
        invalid && error.code === errorCodes.badInput,
        `${what}: code ${error.code}: ${error.message}`,
      );
      assert.doesNotMatch(error.message, /model host failed/);
      return undefined;
    }
  }

  it('tags NER and POS without an error and with every span on code-point boundaries', async () => {
    await fc.assert(
      fc.asyncProperty(documentText, fc.constantFrom('ner', 'pos') as fc.Arbitrary<'ner' | 'pos'>, async (text, role) => {
        documents++;
        for (const aggregation_strategy of ['simple', 'none'] as const) {
          const result = await host.connection.sendRequest(methods.tag, {
            role,
            uri: 'untitled:fuzz',
            text,
            aggregation_strategy,
          });
          for (const span of result.spans) {
            checkRange(text, span.start, span.end, `${role} ${JSON.stringify(text)}`);
            checkScore(span.score, role);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('classifies sequences and documents, refusing only text without tokens', async () => {
    await fc.assert(
      fc.asyncProperty(documentText, fc.constantFrom('sequence', 'document') as fc.Arbitrary<'sequence' | 'document'>, async (text, scope) => {
        documents++;
        const result = await settle(
          host.connection.sendRequest(methods.classify, { text, scope }),
          text.length === 0,
          `classify ${scope} ${JSON.stringify(text)}`,
        );
        if (result) {
          assert.ok(result.labels.length > 0);
          for (const { score } of result.labels) checkScore(score, 'classify');
        }
      }),
      { numRuns: 200 },
    );
  });

  it('answers questions with spans inside the context, refusing only empty or overlong questions', async () => {
    await fc.assert(
      fc.asyncProperty(documentText, documentText, async (question, context) => {
        documents++;
        const result = await settle(
          host.connection.sendRequest(methods.answer, { question, context, top_k: 3 }),
          question.trim() === '' || context.trim() === '' || question.length > 100,
          `answer ${JSON.stringify(question)} in ${JSON.stringify(context)}`,
        );
        for (const answer of result?.answers ?? []) {
          checkRange(context, answer.start, answer.end, 'answer');
          checkScore(answer.score, 'answer');
          assert.equal(answer.answer, context.slice(answer.start, answer.end));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('ranks options of hostile text, refusing only fewer than two options', async () => {
    await fc.assert(
      fc.asyncProperty(
        documentText,
        fc.array(fc.string({ unit: 'binary', maxLength: 10 }), { maxLength: 4 }),
        async (context, options) => {
          documents++;
          const result = await settle(
            host.connection.sendRequest(methods.choose, { context, options }),
            options.length < 2,
            `choose ${JSON.stringify(context)} ${JSON.stringify(options)}`,
          );
          if (result) {
            assert.equal(result.ranked.length, options.length);
            for (const { score } of result.ranked) checkScore(score, 'choose');
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('continues hostile prompts by a few tokens without an error', async () => {
    await fc.assert(
      fc.asyncProperty(documentText, async (prompt) => {
        documents++;
        const result = await host.connection.sendRequest(methods.generate, {
          prompt,
          options: { max_new_tokens: 2 },
        });
        assert.ok(result.generated_text.startsWith(prompt));
        assert.ok(result.new_token_ids.length <= 2);
      }),
      { numRuns: 150 },
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
        uri: 'untitled:long',
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
