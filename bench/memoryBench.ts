// Memory as a user feels it: the host with the shared NER/POS/classification graph against one
// raw onnxruntime session of the same int8 backbone (each in its own process, same run), the
// host's peak while loading against its steady state, and three VS Code windows served by three
// private hosts against one shared host.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  methods,
  tagChunk,
  type HostSettings,
  type HostStatus,
  type TagParams,
} from '../src/protocol';
import {
  hostSettings,
  startHost,
  statusAtRest,
  type HostProcess,
} from '../test/support/hostProcess';
import { joinSharedHost, type SharedHostClient } from '../test/support/sharedHostClient';
import { procMemory } from './machine';
import type { BenchModels } from './models';

export interface MemoryResults {
  /** One onnxruntime InferenceSession of the int8 backbone after a forward of the text's length. */
  rawSessionRssBytes: number;
  /** That forward's length in tokens: the host's window over the same text. */
  rawSessionTokens: number;
  /** A private host after NER, POS and document classification over one 1,000-word text. */
  hostSteadyRssBytes: number;
  /** That host's kernel peak (VmHWM) while loading, from a cold cache. */
  hostPeakRssBytes: number;
  /** The peak of the child process that converted the checkpoints for it. */
  conversionPeakBytes: number;
  /** Three windows today: three private hosts, each as above. */
  threePrivateHostsRssBytes: number;
  /** One shared host serving three windows with the same settings. */
  sharedHostThreeClientsRssBytes: number;
  /** A cold ~10,000-token document with the middle on screen: first window's spans, and all. */
  firstVisibleTags?: { firstMs: number; allMs: number; windows: number; oneWindowRawMs: number };
}

const rawScript = `
const ort = require('onnxruntime-node');
(async () => {
  const session = await ort.InferenceSession.create(process.argv[1]);
  const n = Number(process.argv[2]);
  const i64 = (v) => new ort.Tensor('int64', BigInt64Array.from(v, BigInt), [1, n]);
  const ids = Array.from({ length: n }, (_, i) => (i * 7919) % 50000);
  await session.run({
    input_ids: i64(ids),
    attention_mask: i64(ids.map(() => 1)),
    position_ids: i64(ids.map((_, i) => i)),
  });
  const status = require('fs').readFileSync('/proc/self/status', 'utf8');
  console.log(/^VmRSS:\\s+(\\d+) kB/m.exec(status)[1]);
})();
`;

function rawSessionRss(repoRoot: string, file: string, tokens: number): number {
  const run = spawnSync(process.execPath, ['-e', rawScript, file, String(tokens)], {
    cwd: repoRoot,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`raw session failed: ${run.stderr}`);
  return Number(run.stdout.trim()) * 1024;
}

/** The host's RSS at rest (statusAtRest); `send` is its connection's sendRequest. */
async function rssAtRest(
  send: (method: string, params?: unknown) => Promise<unknown>,
): Promise<number> {
  const status = await statusAtRest(() => send(methods.status.method) as Promise<HostStatus>);
  return status.rssBytes;
}

async function tagAndClassify(
  send: (method: string, params: unknown) => Promise<unknown>,
  text: string,
): Promise<void> {
  for (const role of ['ner', 'pos'] as const) {
    const params: TagParams = { role, text, aggregation_strategy: 'simple' };
    await send(methods.tag.method, params);
  }
  await send(methods.classify.method, { text, scope: 'document' });
}

interface Options {
  repoRoot: string;
  models: BenchModels;
  /** A ~1,000-token text for the memory figures, and its length in tokens. */
  text: string;
  textTokens: number;
  /** A cold ~10,000-token document for the first visible tags. */
  longText: string;
  /** The raw int8 backbone forward's time at a length, and the model's context. */
  rawMs: (tokens: number) => number;
  maxLength: number;
  log: (line: string) => void;
}

/** NER over a cold long document with its middle on screen, through the host's partial results. */
async function firstVisible(
  host: HostProcess,
  options: Options,
): Promise<MemoryResults['firstVisibleTags']> {
  const { longText } = options;
  const partialResultToken = 'bench:first-visible';
  const started = performance.now();
  let firstMs = NaN;
  const listener = host.connection.onProgress(tagChunk, partialResultToken, () => {
    if (Number.isNaN(firstMs)) firstMs = performance.now() - started;
  });
  const middle = Math.floor(longText.length / 2);
  const result = await host.connection.sendRequest(methods.tag, {
    role: 'ner',
    text: longText,
    aggregation_strategy: 'simple',
    visibleRanges: [{ start: middle, end: middle + 2000 }],
    partialResultToken,
  });
  listener.dispose();
  const allMs = performance.now() - started;
  options.log(
    `first visible tags after ${Math.round(firstMs)} ms, all ${result.windows} windows after ${Math.round(allMs)} ms`,
  );
  return {
    firstMs,
    allMs,
    windows: result.windows,
    oneWindowRawMs: options.rawMs(options.maxLength),
  };
}

export async function benchMemory(options: Options): Promise<MemoryResults> {
  const { repoRoot, models, text, log } = options;
  const rawSessionTokens = Math.min(options.textTokens, options.maxLength);
  const cacheDir = join(repoRoot, '.cache', 'bench-memory-cache');
  rmSync(cacheDir, { recursive: true, force: true });
  const settings: HostSettings = hostSettings(
    {
      ner: models.checkpoints.ner,
      pos: models.checkpoints.pos,
      classification: models.checkpoints.sentiment,
    },
    // A cache of its own, emptied first: the first host converts the checkpoints.
    { dtype: 'q8', threads: 0, cacheDir },
  );

  log(`memory: raw int8 backbone session in its own process, ${rawSessionTokens}-token forward…`);
  const rawSessionRssBytes = rawSessionRss(repoRoot, models.backbone.q8, rawSessionTokens);

  log('memory: three private hosts, as three windows start them today…');
  const privateHosts: HostProcess[] = [];
  let hostSteadyRssBytes = NaN;
  let hostPeakRssBytes = NaN;
  let conversionPeakBytes = NaN;
  try {
    for (let i = 0; i < 3; i++) {
      const host = await startHost(repoRoot, settings);
      privateHosts.push(host);
      await tagAndClassify((m, p) => host.connection.sendRequest(m, p), text);
      if (i === 0) {
        hostSteadyRssBytes = await rssAtRest((m, p) => host.connection.sendRequest(m, p));
        hostPeakRssBytes = procMemory(host.child.pid!)?.peakBytes ?? NaN;
        conversionPeakBytes = Math.max(
          ...[
            ...host.stderr().matchAll(/conversion \(\w+\) done; its process peaked at (\d+) MiB/g),
          ].map((m) => Number(m[1]) * 2 ** 20),
        );
      }
    }
    const firstVisibleTags = await firstVisible(privateHosts[0], options);
    let threePrivateHostsRssBytes = 0;
    for (const host of privateHosts) {
      threePrivateHostsRssBytes += await rssAtRest((m, p) => host.connection.sendRequest(m, p));
    }
    await Promise.all(privateHosts.splice(0).map((host) => host.stop()));

    log('memory: one shared host serving three windows…');
    const folder = mkdtempSync(join(tmpdir(), 'gpt2-heads-bench-'));
    chmodSync(folder, 0o700);
    const clients: SharedHostClient[] = [];
    let sharedHostThreeClientsRssBytes = NaN;
    try {
      for (let i = 0; i < 3; i++) {
        const client = await joinSharedHost(repoRoot, settings, { tag: 'bench', folder });
        clients.push(client);
        await tagAndClassify((m, p) => client.connection.sendRequest(m, p), text);
      }
      sharedHostThreeClientsRssBytes = await rssAtRest((m, p) =>
        clients[0].connection.sendRequest(m, p),
      );
    } finally {
      const pid = await clients[0]?.pid().catch(() => undefined);
      for (const client of clients) client.crash();
      if (pid) process.kill(pid, 'SIGTERM');
    }
    return {
      rawSessionRssBytes,
      rawSessionTokens,
      hostSteadyRssBytes,
      hostPeakRssBytes,
      conversionPeakBytes,
      threePrivateHostsRssBytes,
      sharedHostThreeClientsRssBytes,
      firstVisibleTags,
    };
  } finally {
    await Promise.all(privateHosts.map((host) => host.stop()));
  }
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
const times = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

/** The report's lines: each goal with its figure beside it. */
export function memoryReport(m: MemoryResults): string[] {
  const peak = Math.max(m.hostPeakRssBytes, m.conversionPeakBytes);
  return [
    '| Memory goal | Figure | Goal |',
    '|---|---|---|',
    `| Host RSS, shared NER/POS/classification graph (int8) vs one raw onnxruntime session of the backbone (both after a ${m.rawSessionTokens}-token window) | ${gib(m.hostSteadyRssBytes)} vs ${gib(m.rawSessionRssBytes)}: ${times(m.hostSteadyRssBytes, m.rawSessionRssBytes)} | ≤ 1.2× |`,
    `| Peak while converting (its child process) and loading (the host), from a cold cache, vs steady state | ${gib(peak)} (conversion ${gib(m.conversionPeakBytes)}, host ${gib(m.hostPeakRssBytes)}) vs ${gib(m.hostSteadyRssBytes)}: ${times(peak, m.hostSteadyRssBytes)} | ≤ 1.5× |`,
    ...(m.firstVisibleTags
      ? [
          `| First visible tags of a cold ${m.firstVisibleTags.windows}-window document (int8) vs one full window's raw forward | ${Math.round(m.firstVisibleTags.firstMs)} ms vs ${Math.round(m.firstVisibleTags.oneWindowRawMs)} ms: ${times(m.firstVisibleTags.firstMs, m.firstVisibleTags.oneWindowRawMs)} (all windows: ${Math.round(m.firstVisibleTags.allMs)} ms) | ≤ 1.5× |`,
        ]
      : []),
    `| Three windows: one shared host vs one window's private host | ${gib(m.sharedHostThreeClientsRssBytes)} vs ${gib(m.hostSteadyRssBytes)}: ${times(m.sharedHostThreeClientsRssBytes, m.hostSteadyRssBytes)} (three private hosts: ${gib(m.threePrivateHostsRssBytes)}) | ≤ 1.1× |`,
  ];
}
