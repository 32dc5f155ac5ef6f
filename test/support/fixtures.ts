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

/**
 * The shared reference data: the nearest `shared` folder beside the repo root or one of its
 * parents (../shared for the main checkout, ../../shared for a git worktree under it).
 */
function findSharedDir(): string {
  for (let dir = path.dirname(repoRoot); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'shared', 'fixtures'))) return path.join(dir, 'shared');
    if (path.dirname(dir) === dir) return path.resolve(repoRoot, '..', 'shared');
  }
}
export const sharedDir = findSharedDir();

/** The shared reference fixtures (../shared/fixtures). */
export const fixturesDir = path.join(sharedDir, 'fixtures');

/** The checkpoint zoo (../shared/zoo): one tiny checkpoint per format or config variant. */
export const zooDir = path.join(sharedDir, 'zoo');

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
