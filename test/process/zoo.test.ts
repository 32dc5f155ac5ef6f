// Every folder of the checkpoint zoo (../shared/zoo), every case of its expected.json, through the
// real CLI (dist/cli.js) with --dtype fp32, as the zoo's README says: a copy of the folder without
// expected.json, the input written byte for byte, offline, a fresh cache per folder. Folders are
// discovered from the zoo, so a variant added there is tested here without a change.
import assert from 'node:assert/strict';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runTask } from '../support/cli';
import { zooDir } from '../support/fixtures';

interface ZooExpected {
  variant: string;
  task: string;
  cli: { task: string; args?: string[]; runs?: string[][]; input: string };
  tolerance?: number;
  cases: Record<string, unknown>[];
}

// The zoo README's tolerance (1e-3) where expected.json does not give one (greedy ids are exact).
function tolerance(expected: ZooExpected): number {
  return expected.tolerance ?? 1e-3;
}

function near(actual: number, wanted: number, tol: number, what: string): void {
  assert.ok(
    Math.abs(actual - wanted) <= tol,
    `${what}: ${actual} differs from transformers' ${wanted} by more than ${tol}`,
  );
}

/** The case's input: the field `cli.input` names (its first word, e.g. "cli_input (context, …)"). */
function inputOf(expected: ZooExpected, testCase: Record<string, unknown>): string {
  const field = expected.cli.input.split(/\s/)[0];
  const value = testCase[field];
  assert.equal(typeof value, 'string', `${expected.variant}: case field ${field} is not text`);
  return value as string;
}

type Entity = {
  word: string;
  entity_group?: string;
  entity?: string;
  start: number;
  end: number;
  score: number;
};

function compare(
  expected: ZooExpected,
  testCase: Record<string, unknown>,
  output: unknown,
  strategy: string | undefined,
): void {
  const tol = tolerance(expected);
  const id = `${expected.variant}/${String(testCase.id)}`;
  switch (expected.cli.task) {
    case 'text-generation': {
      const [result] = output as { generated_token_ids: number[] }[];
      assert.deepEqual(result.generated_token_ids, testCase.new_ids, `${id}: greedy ids`);
      return;
    }
    case 'feature-extraction': {
      const [states] = output as number[][][];
      const wanted = testCase.last_hidden_state as number[][];
      assert.equal(states.length, wanted.length, `${id}: token count`);
      states.forEach((row, i) => {
        assert.equal(row.length, wanted[i].length, `${id}: width`);
        row.forEach((v, j) => near(v, wanted[i][j], tol, `${id} last_hidden_state[${i}][${j}]`));
      });
      return;
    }
    case 'token-classification': {
      const results = testCase.results as Record<
        string,
        (Entity & { start_utf16: number; end_utf16: number })[]
      >;
      const wanted = results[strategy!];
      const entities = output as Entity[];
      assert.equal(entities.length, wanted.length, `${id} (${strategy}): entity count`);
      entities.forEach((e, i) => {
        const w = wanted[i];
        const what = `${id} (${strategy}) entity ${i}`;
        assert.equal(e.word, w.word, `${what}: word`);
        assert.equal(e.entity_group ?? e.entity, w.entity_group ?? w.entity, `${what}: label`);
        assert.equal(e.start, w.start_utf16, `${what}: start`);
        assert.equal(e.end, w.end_utf16, `${what}: end`);
        near(e.score, w.score, tol, `${what}: score`);
      });
      return;
    }
    case 'text-classification': {
      const wanted = testCase.scores as { label: string; score: number }[];
      const labels = output as { label: string; score: number }[];
      assert.deepEqual(
        labels.map((l) => l.label).sort(),
        wanted.map((l) => l.label).sort(),
        `${id}: labels`,
      );
      for (const w of wanted) {
        near(labels.find((l) => l.label === w.label)!.score, w.score, tol, `${id} ${w.label}`);
      }
      return;
    }
    case 'question-answering': {
      const wanted = testCase.answer as {
        answer: string;
        score: number;
        start_utf16: number;
        end_utf16: number;
      };
      const result = output as { answer: string; score: number; start: number; end: number };
      assert.equal(result.answer, wanted.answer, `${id}: answer`);
      assert.equal(result.start, wanted.start_utf16, `${id}: start`);
      assert.equal(result.end, wanted.end_utf16, `${id}: end`);
      near(result.score, wanted.score, tol, `${id}: score`);
      return;
    }
    case 'multiple-choice': {
      const { options } = output as { options: { score: number }[] };
      const softmax = testCase.mc_softmax as number[];
      const logits = testCase.mc_logits as number[];
      assert.equal(options.length, softmax.length, `${id}: option count`);
      const scores = options.map((o) => o.score);
      assert.equal(scores.indexOf(Math.max(...scores)), testCase.best, `${id}: best option`);
      scores.forEach((s, i) => near(s, softmax[i], tol, `${id} softmax[${i}]`));
      // log(softmax) is the logits up to one common shift: compare both centred.
      const centre = (xs: number[]) => xs.map((x) => x - xs.reduce((a, b) => a + b, 0) / xs.length);
      const ours = centre(scores.map(Math.log));
      centre(logits).forEach((l, i) => near(ours[i], l, tol, `${id} mc_logits[${i}] (centred)`));
      return;
    }
    default:
      assert.fail(`${id}: the zoo has a task this test does not know: ${expected.cli.task}`);
  }
}

const variants = existsSync(zooDir)
  ? readdirSync(zooDir)
      .filter((name) => existsSync(join(zooDir, name, 'expected.json')))
      .sort()
  : [];

describe('checkpoint zoo through the CLI (--dtype fp32)', function () {
  this.timeout(600_000);

  it('finds the zoo and its variants', () => {
    assert.ok(existsSync(zooDir), `the checkpoint zoo is missing: expected it at ${zooDir}`);
    assert.ok(variants.length > 0, `no variant with expected.json in ${zooDir}`);
  });

  for (const variant of variants) {
    it(variant, async () => {
      const expected = JSON.parse(
        readFileSync(join(zooDir, variant, 'expected.json'), 'utf8'),
      ) as ZooExpected;
      const scratch = mkdtempSync(join(tmpdir(), `gpt2-heads-zoo-${variant}-`));
      try {
        const model = join(scratch, 'model');
        cpSync(join(zooDir, variant), model, {
          recursive: true,
          filter: (src) => !src.endsWith('expected.json'),
        });
        const cache = join(scratch, 'cache');
        const runs = expected.cli.runs ?? [expected.cli.args ?? []];
        for (const [index, testCase] of expected.cases.entries()) {
          const input = join(scratch, `input-${index}.txt`);
          writeFileSync(input, inputOf(expected, testCase), 'utf8');
          for (const runArgs of runs) {
            const args = [...runArgs];
            if (expected.cli.task === 'question-answering')
              args.push('--question', String(testCase.question));
            const result = await runTask(expected.cli.task, { model, cache, input }, args);
            assert.equal(
              result.code,
              0,
              `${variant}/${String(testCase.id)}: the CLI failed: ${result.stderr}`,
            );
            const strategy = runArgs[runArgs.indexOf('--aggregation-strategy') + 1];
            compare(expected, testCase, JSON.parse(result.stdout), strategy);
          }
        }
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
    });
  }
});
