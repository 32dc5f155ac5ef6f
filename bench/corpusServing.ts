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

const repoRoot = resolve(__dirname, '..', '..');
const cli = join(repoRoot, 'dist', 'cli.js');

function run(args: string[]): Promise<string> {
  return new Promise((done, fail) =>
    execFile(process.execPath, [cli, ...args], { maxBuffer: 1 << 28 }, (error, _out, stderr) =>
      error ? fail(new Error(stderr)) : done(stderr),
    ),
  );
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
  const model = resolve(
    values.model ?? join(repoRoot, '..', 'shared', 'fixtures', 'gpt2-tiny-ner'),
  );
  const count = Number(values.docs ?? 32);
  const tokens = Number(values.tokens ?? 1000);
  const concurrency = values.concurrency ?? '8';
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
      concurrency,
    ];
    const measure = async (name: string, extra: string[]) => {
      const before = server.batches.length;
      const started = performance.now();
      await run([...common, '--output', join(scratch, `${name}.jsonl`), ...extra]);
      const seconds = (performance.now() - started) / 1000;
      const batches = server.batches.slice(before);
      const windows = batches.reduce((a, b) => a + b, 0);
      return {
        name,
        docsPerSecond: count / seconds,
        requests: batches.length,
        windowsPerRequest: batches.length ? windows / batches.length : 0,
        output: readFileSync(join(scratch, `${name}.jsonl`), 'utf8')
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as { path: string })
          .sort((a, b) => a.path.localeCompare(b.path)),
      };
    };
    const local = await measure('local', []);
    const endpoint = ['--endpoint', server.modelUrl('heads')];
    const batched = await measure('batched', [...endpoint, '--max-batch', '8']);
    const single = await measure('single', [...endpoint, '--max-batch', '1']);
    await server.close();
    const same = [batched, single].every(
      (result) => JSON.stringify(result.output) === JSON.stringify(local.output),
    );
    const rate = (r: typeof local) =>
      `${r.docsPerSecond.toFixed(2)} docs/s` +
      (r.requests
        ? ` (${r.requests} requests, ${r.windowsPerRequest.toFixed(1)} windows each)`
        : '');
    console.log(
      `bench corpus token-classification: ${count} docs × ${tokens} tokens, concurrency ` +
        `${concurrency}, model ${model}: local ${rate(local)}; loopback stand-in batched ` +
        `${rate(batched)}; one window per request ${rate(single)}; results identical: ${same}`,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
