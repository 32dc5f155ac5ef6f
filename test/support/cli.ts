// Runs the real CLI bundle (dist/cli.js, built by `node esbuild.mjs`) offline, as a user would.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from './fixtures';

const cli = join(repoRoot, 'dist', 'cli.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [cli, ...args],
      {
        env: { ...process.env, GPT2_HEADS_OFFLINE: '1', ...env },
        maxBuffer: 64 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `<task> --model M --dtype fp32 --json --offline --cache-dir C --input I ...extra`, run. */
export function runTask(
  task: string,
  paths: { model: string; cache: string; input: string },
  extra: string[] = [],
): Promise<CliResult> {
  return runCli([
    task,
    '--model',
    paths.model,
    '--dtype',
    'fp32',
    '--json',
    '--offline',
    '--cache-dir',
    paths.cache,
    '--input',
    paths.input,
    ...extra,
  ]);
}
