// `npm run bench`: the host's paths against the raw onnxruntime baseline on full-size random
// GPT-2 models. Writes bench/results.json and prints a markdown table. Not a test: it never
// fails on a figure, only when something crashes.
import { measureActivation } from './activation';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Budget } from './budget';
import { Corpus, encode, loadTokenizer, readCorpus } from './documents';
import { benchHost, type Documents, type HostResults, type Reps } from './hostBench';
import { machine, versions, type Machine, type Versions } from './machine';
import { ensureBenchModels, SEED, type BenchModels } from './models';
import { rawForward, type RawRun } from './raw';
import { benchMemory, memoryReport, type MemoryResults } from './memoryBench';
import { markdownReport } from './report';
import { interpolate } from './stats';
import type { WeightDtype } from '../src/protocol';
import { benchTraining, trainingLines, type TrainingBench } from './training';
import { benchCorpusServing, corpusServingLine, type CorpusServingResults } from './corpusServing';

export interface BenchResults {
  date: string;
  machine: Machine;
  versions: Versions;
  loadAverage: { start: number[]; end: number[] };
  models: { root: string; buildMs: BenchModels['buildMs']; seed: number };
  sharedBackbone: BenchModels['shared'];
  corpus: string;
  raw: RawRun[];
  host: HostResults[];
  skipped: string[];
  /** Host memory against its baselines, and the shared host against one host per window. */
  memory?: MemoryResults;
  /** Feature extraction and probe training (Train a Head). */
  training?: TrainingBench;
  /** The CLI's corpus mode, locally and against the loopback Open Inference stand-in. */
  corpusServing?: CorpusServingResults;
  /** activate() in the real VS Code harness, when it could be measured. */
  activationMs?: number;
  wallMs: number;
}

/** Ten minutes is the limit on a 2-core machine; the rest is a margin for the report. */
const BUDGET_MS = 9.5 * 60_000;

const HOST_REPS: Record<'q8' | 'fp32', Reps> = {
  q8: { cold: 2, edits: 5, together: 1, qa: 3, completion: 5 },
  fp32: { cold: 1, edits: 3, together: 1, qa: 2, completion: 3 },
};

const RAW_REPS = { 128: 7, 512: 5, 1024: 5 };
const THREAD_REPS = { 128: 5, 512: 3, 1024: 2 };

/** `node out/bench/run.js --quick`: one run of everything, int8 only, to check the benchmark itself. */
const QUICK = process.argv.includes('--quick');
const QUICK_REPS: Reps = { cold: 1, edits: 2, together: 1, qa: 1, completion: 1 };

function repoRootFrom(dir: string): string {
  for (let d = dir; ; d = path.dirname(d)) {
    if (fs.existsSync(path.join(d, 'package.json'))) return d;
    if (path.dirname(d) === d) throw new Error(`no package.json above ${dir}`);
  }
}

const loadAverage = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

async function main(): Promise<void> {
  const started = performance.now();
  const log = (line: string) =>
    console.log(`[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s] ${line}`);
  const budget = new Budget(BUDGET_MS, log);
  const repoRoot = repoRootFrom(__dirname);
  const results: BenchResults = {
    date: new Date().toISOString(),
    machine: machine(),
    versions: versions(repoRoot),
    loadAverage: { start: loadAverage(), end: [] },
    models: { root: '', buildMs: {}, seed: 0 },
    sharedBackbone: { nerPos: false, nerSentiment: false },
    corpus: '',
    raw: [],
    host: [],
    skipped: budget.skipped,
    wallMs: 0,
  };
  if (results.loadAverage.start[0] > results.machine.cores * 0.5) {
    log(`note: load average ${results.loadAverage.start[0]}: other processes compete for the CPU`);
  }

  const models = ensureBenchModels(path.join(repoRoot, '.cache', 'bench-models'), log);
  results.models = { root: models.root, buildMs: models.buildMs, seed: SEED };
  results.sharedBackbone = models.shared;
  log(`NER and POS share the backbone: ${models.shared.nerPos ? 'yes' : 'no'}`);

  const tokenizer = await loadTokenizer(models.folders.ner);
  const maxLength = (
    JSON.parse(fs.readFileSync(path.join(models.folders.ner, 'config.json'), 'utf8')) as {
      n_positions: number;
    }
  ).n_positions;
  const corpusFile = readCorpus(repoRoot);
  results.corpus = path.relative(repoRoot, corpusFile.file);
  const corpus = new Corpus(tokenizer, corpusFile.text);
  const docs: Documents = {
    long: Array.from({ length: 5 }, () => corpus.take(10_000)),
    qaContext: corpus.take(5_000),
    question: 'Who came to see Sherlock Holmes at Baker Street?',
    prefixes: Array.from({ length: 5 }, () => corpus.take(1_000)),
    typed: ' indeed',
    classify: Array.from({ length: 3 }, () => corpus.take(10_000)),
    tagThenClassify: corpus.take(10_000),
    surprisal: corpus.take(4_000),
  };
  log(`corpus: ${corpus.ids.length} tokens; documents of ~10,000, 5,000 and 1,000 tokens cut`);

  // The baseline, with onnxruntime's default threads as the host runs with threads 0.
  const rawMs: Record<'q8' | 'fp32', (tokens: number) => number> = {
    q8: () => NaN,
    fp32: () => NaN,
  };
  for (const dtype of ['q8', 'fp32'] as const) {
    log(`raw ${dtype} backbone forward…`);
    const run = await rawForward(
      models.backbone[dtype],
      dtype,
      0,
      QUICK ? { 128: 1, 512: 1, 1024: 1 } : RAW_REPS,
    );
    results.raw.push(run);
    const points = Object.entries(run.forward).map(([n, s]) => [Number(n), s.median] as const);
    rawMs[dtype] = (tokens) => interpolate(points, tokens);
  }

  const memoryOptions = () => ({
    repoRoot,
    models,
    text: docs.prefixes[0],
    textTokens: encode(tokenizer, docs.prefixes[0]).length,
    longText: corpus.take(10_000),
    rawMs: rawMs.q8,
    maxLength,
    log,
  });
  if (process.argv.includes('--memory')) {
    // `node out/bench/run.js --memory`: the memory goals alone.
    const memory = await benchMemory(memoryOptions());
    console.log('\n' + memoryReport(memory).join('\n') + '\n');
    return;
  }

  const viaHost = async (dtype: WeightDtype) =>
    results.host.push(
      await benchHost({
        repoRoot,
        models,
        dtype,
        threads: 0,
        docs,
        reps: QUICK ? QUICK_REPS : HOST_REPS[dtype],
        raw: rawMs[dtype],
        tokenizer,
        maxLength,
        budget,
        log,
      }),
    );
  await viaHost('q8');
  // intraOpNumThreads 1 vs 2 on the raw forward (the host's gpt2Heads.threads setting).
  for (const dtype of QUICK ? [] : (['q8', 'fp32'] as const)) {
    for (const threads of [1, 2]) {
      const estimate =
        2 * Object.entries(THREAD_REPS).reduce((s, [n, c]) => s + c * rawMs[dtype](Number(n)), 0);
      if (!budget.allows(`raw ${dtype} forward with intraOpNumThreads ${threads}`, estimate)) {
        continue;
      }
      log(`raw ${dtype} backbone forward, intraOpNumThreads ${threads}…`);
      results.raw.push(await rawForward(models.backbone[dtype], dtype, threads, THREAD_REPS));
    }
  }

  if (budget.allows('memory: raw session, private hosts, shared host', 120_000)) {
    results.memory = await benchMemory(memoryOptions());
  }

  if (!QUICK) await viaHost('fp32');
  if (budget.allows('training a head', 90_000)) {
    results.training = await benchTraining(
      models.checkpoints.ner,
      corpusFile.text,
      path.join(repoRoot, '.cache', 'bench-training'),
      log,
    );
  }
  if (budget.allows('corpus mode locally and against the serving stand-in', 60_000)) {
    log('corpus mode: local, stand-in batched, stand-in one window per request…');
    results.corpusServing = await benchCorpusServing({
      repoRoot,
      model: path.join(repoRoot, '..', 'shared', 'fixtures', 'gpt2-tiny-ner'),
      docs: QUICK ? 8 : 32,
      tokens: 1000,
      concurrency: 8,
    });
  }
  if (budget.allows('extension activation in VS Code', 60_000)) {
    results.activationMs = measureActivation(repoRoot, log);
  }

  results.loadAverage.end = loadAverage();
  results.wallMs = Math.round(performance.now() - started);
  const file = path.join(repoRoot, 'bench', QUICK ? 'results.quick.json' : 'results.json');
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + '\n');
  console.log('\n' + markdownReport(results) + '\n');
  if (results.training) console.log(trainingLines(results.training).join('\n') + '\n');
  if (results.corpusServing) console.log(corpusServingLine(results.corpusServing) + '\n');
  log(`wrote ${path.relative(repoRoot, file)}`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
