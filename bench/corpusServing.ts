// `node out/bench/corpusServing.js [--model FOLDER] [--docs N] [--tokens N]`: the CLI's corpus
// mode (token classification over a folder of documents), locally and against the loopback
// Open Inference Protocol stand-in serving the exported model, with windows batched per request
// and with one window per request. Prints one bench line; not a test.
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { exportTriton } from '../src/host/convert/triton';
import { startOpenInferenceServer } from '../test/support/openInferenceServer';
import { Corpus, loadTokenizer, readCorpus } from './documents';

function run(cli: string, args: string[]): Promise<string> {
  return new Promise((done, fail) =>
    execFile(process.execPath, [cli, ...args], { maxBuffer: 1 << 28 }, (error, _out, stderr) =>
      error ? fail(new Error(stderr)) : done(stderr),
    ),
  );
}

export interface CorpusServingOptions {
  repoRoot: string;
  /** A token-classification model folder. */
  model: string;
  docs: number;
  tokens: number;
  concurrency: number;
}

export interface CorpusServingRun {
  name: 'local' | 'batched' | 'single';
  docsPerSecond: number;
  /** Infer requests the stand-in received (0 when local). */
  requests: number;
  windowsPerRequest: number;
}

export interface CorpusServingResults extends Omit<CorpusServingOptions, 'repoRoot'> {
  runs: CorpusServingRun[];
  /** Whether the endpoint runs wrote the same JSONL as the local run. */
  identical: boolean;
}

/** The corpus mode locally, then batched and one window per request against the stand-in. */
export async function benchCorpusServing(
  options: CorpusServingOptions,
): Promise<CorpusServingResults> {
  const { repoRoot, model, docs: count, tokens, concurrency } = options;
  const cli = join(repoRoot, 'dist', 'cli.js');
  const scratch = mkdtempSync(join(tmpdir(), 'gpt2-heads-bench-serving-'));
  try {
    const corpus = new Corpus(await loadTokenizer(model), readCorpus(repoRoot).text);
    const docs = join(scratch, 'docs');
    mkdirSync(docs);
    for (let i = 0; i < count; i++) writeFileSync(join(docs, `${i}.txt`), corpus.take(tokens));
    await exportTriton({
      models: [model],
      out: join(scratch, 'repo'),
      name: 'heads',
      dtype: 'fp32',
    });
    const server = await startOpenInferenceServer(join(scratch, 'repo'));
    const common = [
      'token-classification',
      '--model',
      model,
      '--dtype',
      'fp32',
      '--aggregation-strategy',
      'simple',
      '--stride',
      '16',
      '--input-glob',
      `${docs}/*.txt`,
      '--concurrency',
      String(concurrency),
    ];
    const outputs: string[] = [];
    const measure = async (name: CorpusServingRun['name'], extra: string[]) => {
      const before = server.batches.length;
      const started = performance.now();
      await run(cli, [...common, '--output', join(scratch, `${name}.jsonl`), ...extra]);
      const seconds = (performance.now() - started) / 1000;
      const batches = server.batches.slice(before);
      const windows = batches.reduce((a, b) => a + b, 0);
      outputs.push(sortedLines(readFileSync(join(scratch, `${name}.jsonl`), 'utf8')));
      return {
        name,
        docsPerSecond: count / seconds,
        requests: batches.length,
        windowsPerRequest: batches.length ? windows / batches.length : 0,
      };
    };
    try {
      const endpoint = ['--endpoint', server.modelUrl('heads')];
      const runs = [
        await measure('local', []),
        await measure('batched', [...endpoint, '--max-batch', '8']),
        await measure('single', [...endpoint, '--max-batch', '1']),
      ];
      return {
        model,
        docs: count,
        tokens,
        concurrency,
        runs,
        identical: outputs.every((output) => output === outputs[0]),
      };
    } finally {
      await server.close();
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The JSONL lines in path order, so that runs finishing documents in any order compare equal. */
function sortedLines(jsonl: string): string {
  return JSON.stringify(
    jsonl
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { path: string })
      .sort((a, b) => a.path.localeCompare(b.path)),
  );
}

/** The report's line. */
export function corpusServingLine(r: CorpusServingResults): string {
  const rate = (run: CorpusServingRun) =>
    `${run.docsPerSecond.toFixed(2)} docs/s` +
    (run.requests
      ? ` (${run.requests} requests, ${run.windowsPerRequest.toFixed(1)} windows each)`
      : '');
  const [local, batched, single] = r.runs;
  return (
    `Corpus token-classification, ${r.docs} docs × ${r.tokens} tokens, concurrency ` +
    `${r.concurrency}, ${relative(r.model)}: local ${rate(local)}; loopback stand-in batched ` +
    `${rate(batched)}; one window per request ${rate(single)}; results identical: ${r.identical}`
  );
}

function relative(path: string): string {
  return path.replace(/^.*\/shared\//, '../shared/');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: 'string' },
      docs: { type: 'string' },
      tokens: { type: 'string' },
      concurrency: { type: 'string' },
    },
  });
  const repoRoot = resolve(__dirname, '..', '..');
  const results = await benchCorpusServing({
    repoRoot,
    model: resolve(values.model ?? join(repoRoot, '..', 'shared', 'fixtures', 'gpt2-tiny-ner')),
    docs: Number(values.docs ?? 32),
    tokens: Number(values.tokens ?? 1000),
    concurrency: Number(values.concurrency ?? 8),
  });
  console.log(`bench ${corpusServingLine(results)}`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
