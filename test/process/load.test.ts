// 10,000 mixed requests against one host process with cancellation storms (type-ahead): every
// request is answered exactly once on the wire, nothing is lost, and memory stays flat.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CancellationTokenSource,
  ResponseError,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { errorCodes, methods, type HostStatus } from '../../src/protocol';
import { hostSettings, startHost, statusAtRest, type HostProcess } from '../support/hostProcess';
import { fixtureModels, repoRoot } from '../support/fixtures';
import { joinSharedHost, type SharedHostClient } from '../support/sharedHostClient';

const models = fixtureModels;

const total = 10_000;
const warmUp = 1_500;
const maxInFlight = 32;
const words = ['Ada', 'Paris', 'met', 'Berlin', 'on', 'Monday', 'the', 'river', 'Grace', 'wrote'];

/** The i-th request: a different small text each time, so caches do not answer everything. */
function send(
  connection: MessageConnection,
  i: number,
  token: CancellationTokenSource['token'],
): Promise<unknown> {
  const text =
    Array.from({ length: 4 + (i % 9) }, (_, k) => words[(i * 7 + k * 3) % words.length]).join(' ') +
    ` ${i}.`;
  switch (i % 7) {
    case 0:
      return connection.sendRequest(
        methods.tag,
        { role: 'ner', text, aggregation_strategy: 'simple' },
        token,
      );
    case 1:
      return connection.sendRequest(
        methods.tag,
        { role: 'pos', text, aggregation_strategy: 'none' },
        token,
      );
    case 2:
      return connection.sendRequest(
        methods.classify,
        { text, scope: i % 2 ? 'sequence' : 'document' },
        token,
      );
    case 3:
      return connection.sendRequest(
        methods.answer,
        { question: 'Who met whom?', context: text },
        token,
      );
    case 4:
      return connection.sendRequest(
        methods.choose,
        { context: text, options: [' yes', ' no', ' maybe'] },
        token,
      );
    case 5:
      return connection.sendRequest(
        methods.generate,
        { prompt: text, options: { max_new_tokens: 1 } },
        token,
      );
    default:
      return connection.sendRequest(methods.status, token);
  }
}

interface Soak {
  answered: number;
  cancelled: number;
  settledTwice: number;
  maxSeen: number;
  unexpected: string[];
  growth: number;
  /** Status requests sent besides the soak's own, to find the host at rest. */
  statusRequests: number;
}

/** The host's status at rest (statusAtRest), counting the status requests that took. */
function atRest(
  connection: MessageConnection,
  sent: { statusRequests: number },
): Promise<HostStatus> {
  return statusAtRest(() => {
    sent.statusRequests++;
    return connection.sendRequest(methods.status);
  });
}

/** Sends `total` requests round-robin over the connections, with type-ahead cancellation. */
async function soak(connections: MessageConnection[]): Promise<Soak> {
  let answered = 0;
  let cancelled = 0;
  let settledTwice = 0;
  let inFlight = 0;
  let maxSeen = 0;
  const unexpected: string[] = [];
  let rssAfterWarmUp = 0;
  let warmUpDone = 0;
  const sent = { statusRequests: 0 };
  const started = Date.now();

  const pending = new Set<Promise<void>>();
  for (let i = 0; i < total; i++) {
    if (i === warmUp) {
      await Promise.all(pending);
      rssAfterWarmUp = (await atRest(connections[0], sent)).rssBytes;
      warmUpDone = Date.now();
    }
    while (inFlight >= maxInFlight) await Promise.race(pending);
    const source = new CancellationTokenSource();
    inFlight++;
    maxSeen = Math.max(maxSeen, inFlight);
    let settled = false;
    const settle = (outcome: () => void) => {
      if (settled) settledTwice++;
      settled = true;
      outcome();
    };
    const work: Promise<void> = send(connections[i % connections.length], i, source.token)
      .then(
        () => settle(() => answered++),
        (error: unknown) =>
          settle(() => {
            if (error instanceof ResponseError && error.code === errorCodes.cancelled) cancelled++;
            else unexpected.push(`${i}: ${String(error)}`);
          }),
      )
      .finally(() => {
        inFlight--;
        source.dispose();
        pending.delete(work);
      });
    pending.add(work);
    // Type-ahead: two of every five requests are overtaken by the next keystroke, cancelled
    // before the next one is sent; every 500th request starts a burst where all in flight go.
    if (i % 5 < 2) source.cancel();
    if (i % 500 === 499) {
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  await Promise.all(pending);
  const finished = Date.now();
  const seconds = (finished - started) / 1000;
  const status = await atRest(connections[0], sent);
  const growth = (status.rssBytes - rssAfterWarmUp) / rssAfterWarmUp;
  const rate = (total - warmUp) / ((finished - warmUpDone) / 1000);
  console.log(
    `      ${total} requests from ${connections.length} client(s) in ${seconds.toFixed(1)} s (${(total / seconds).toFixed(0)}/s overall, ` +
      `${rate.toFixed(0)}/s after warm-up); answered ${answered}, cancelled ${cancelled}; ` +
      `RSS ${(rssAfterWarmUp / 1e6).toFixed(1)} MB after warm-up → ${(status.rssBytes / 1e6).toFixed(1)} MB ` +
      `(${(growth * 100).toFixed(1)}%); max in flight ${maxSeen}`,
  );
  return {
    answered,
    cancelled,
    settledTwice,
    maxSeen,
    unexpected,
    growth,
    statusRequests: sent.statusRequests,
  };
}

function assertSoak(run: Soak): void {
  assert.deepEqual(run.unexpected.slice(0, 5), []);
  assert.equal(run.settledTwice, 0);
  assert.equal(run.answered + run.cancelled, total);
  assert.ok(
    run.cancelled > 0 && run.answered > total / 2,
    `answered ${run.answered}, cancelled ${run.cancelled}`,
  );
  assert.ok(run.maxSeen <= maxInFlight);
  assert.ok(run.growth < 0.1, `RSS grew ${(run.growth * 100).toFixed(1)}%`);
}

describe('load: 10,000 mixed requests with cancellation storms', function () {
  this.timeout(180_000);
  let host: HostProcess;

  before(async () => {
    host = await startHost(repoRoot, hostSettings(models));
  });
  after(() => host?.stop());

  it('answers every request exactly once, cancels what was cancelled, and keeps RSS flat', async () => {
    const responses = new Map<number | string, number>();
    host.child.on('message', (message: { id?: number | string; method?: string }) => {
      if (message.id !== undefined && message.method === undefined) {
        responses.set(message.id, (responses.get(message.id) ?? 0) + 1);
      }
    });
    const run = await soak([host.connection]);
    assertSoak(run);
    // One response per request on the wire (the status requests at rest included).
    const twice = [...responses.entries()].filter(([, count]) => count !== 1);
    assert.deepEqual(twice, []);
    assert.equal(responses.size, total + run.statusRequests);
    assert.equal(host.child.exitCode, null);
  });
});

describe('load: 10,000 requests from three windows on the shared host', function () {
  this.timeout(180_000);
  const clients: SharedHostClient[] = [];

  after(async () => {
    const pid = await clients[0]?.pid().catch(() => undefined);
    for (const client of clients) client.crash();
    if (pid) process.kill(pid, 'SIGKILL');
  });

  it('answers every request of every window and keeps the shared host’s RSS flat', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'gpt2-heads-soak-'));
    chmodSync(folder, 0o700);
    for (let i = 0; i < 3; i++) {
      clients.push(await joinSharedHost(repoRoot, hostSettings(models), { tag: 'soak', folder }));
    }
    const pid = await clients[0].pid();
    assertSoak(await soak(clients.map((client) => client.connection)));
    for (const client of clients) assert.equal(await client.pid(), pid);
  });
});
