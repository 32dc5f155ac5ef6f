import { existsSync } from 'node:fs';
import * as path from 'node:path';

function findRepoRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

/** The folder that holds package.json (tests run from out/test/unit, sources live in test/unit). */
export const repoRoot = findRepoRoot(__dirname);

/** The shared reference fixtures: the sibling folder ../shared/fixtures of the repo root. */
export const fixturesDir = path.resolve(repoRoot, '..', 'shared', 'fixtures');

// On CI a missing fixtures folder must fail the run, never silently skip tests.
if (process.env.CI === 'true' && !existsSync(fixturesDir)) {
  throw new Error(`Reference fixtures are missing: expected them at ${fixturesDir}`);
}

/** The reference model of each head, by the role names of the settings. */
export const fixtureModels = {
  lm: path.join(fixturesDir, 'gpt2-tiny-lm'),
  ner: path.join(fixturesDir, 'gpt2-tiny-ner'),
  pos: path.join(fixturesDir, 'gpt2-tiny-pos'),
  classification: path.join(fixturesDir, 'gpt2-tiny-sentiment'),
  qa: path.join(fixturesDir, 'gpt2-tiny-qa'),
  multipleChoice: path.join(fixturesDir, 'gpt2-tiny-double-heads'),
};
