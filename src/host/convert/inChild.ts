// Conversions run in a child process of their own (the host's script with `--convert`): the
// host stays responsive while a graph is built, and what the build allocated goes back to the
// system when the child exits, instead of staying in the host's heap for its whole life.
import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ErrorData, WeightDtype } from '../../protocol';
import { CancelledError, HostError } from '../errors';
import { convertCheckpoint, readCheckpointWeights } from './checkpoint';
import { ModelFormatError, readGpt2Config } from './gpt2Config';
import { writeGpt2Graph, type HeadKind, type HeadSpec } from './gpt2Graph';

export type ConversionJob =
  /** A checkpoint folder into an ONNX model folder (convertCheckpoint). */
  | { kind: 'checkpoint'; source: string; out: string; dtype: WeightDtype }
  /** One graph with every member's head on the first member's backbone, written to `file`. */
  | {
      kind: 'shared';
      file: string;
      members: { folder: string; kind: HeadKind }[];
      quantize: boolean;
    };

type Reply =
  | { ok: true; peakBytes: number }
  | {
      ok: false;
      name: string;
      message: string;
      code?: number;
      data?: Partial<ErrorData>;
      peakBytes: number;
    };

export interface ConversionResult {
  /** The child's peak resident memory (VmHWM), when the system tells it. */
  peakBytes: number;
}

/** The script to fork: the host bundle in dist/, or the transpiled server beside this file's folder. */
function hostScript(): string {
  const bundled = join(__dirname, 'host.js');
  return existsSync(bundled) ? bundled : join(__dirname, '..', 'server.js');
}

/**
 * Runs `job` in a child process; rejects with the child's error (a ModelFormatError stays one),
 * or with a CancelledError when `signal` stops it (the child is killed at once).
 */
export function convertInChild(
  job: ConversionJob,
  signal?: AbortSignal,
): Promise<ConversionResult> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CancelledError());
    const child = fork(hostScript(), ['--convert'], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      execArgv: [],
    });
    const stop = () => child.kill('SIGKILL');
    signal?.addEventListener('abort', stop, { once: true });
    let stderr = '';
    let reply: Reply | undefined;
    child.stderr?.on('data', (chunk) => (stderr = (stderr + String(chunk)).slice(-2000)));
    child.on('message', (message) => (reply = message as Reply));
    child.on('error', reject);
    child.on('exit', (code, killedBy) => {
      signal?.removeEventListener('abort', stop);
      if (signal?.aborted) reject(new CancelledError());
      else if (reply?.ok) {
        // Read by the benchmark, which counts the conversion in the host's peak.
        console.error(
          `conversion (${job.kind}) done; its process peaked at ${mib(reply.peakBytes)}`,
        );
        resolve({ peakBytes: reply.peakBytes });
      } else if (reply) {
        reject(
          reply.name === 'ModelFormatError'
            ? new ModelFormatError(reply.message)
            : reply.code !== undefined
              ? new HostError(reply.message, reply.code, reply.data)
              : new Error(reply.message),
        );
      } else {
        const how = killedBy ? `was stopped by ${killedBy}` : `exited with code ${code}`;
        const outOfMemory = /heap out of memory|ENOMEM/i.test(stderr);
        reject(
          new Error(
            `the conversion process ${how}` +
              (outOfMemory ? ' (out of memory: close other programs and try again)' : '') +
              (stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' ')}` : ''),
          ),
        );
      }
    });
    child.send(job);
  });
}

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

function peakBytes(): number {
  try {
    const status = readFileSync('/proc/self/status', 'utf8');
    return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) * 1024;
  } catch {
    return NaN;
  }
}

function run(job: ConversionJob): void {
  if (job.kind === 'checkpoint') {
    convertCheckpoint(job.source, job.out, { dtype: job.dtype });
    return;
  }
  const configs = job.members.map((member) => readGpt2Config(member.folder));
  const heads: HeadSpec[] = job.members.map((member, index) => ({
    name: `h${index}`,
    kind: member.kind,
    weights: readCheckpointWeights(member.folder),
    padTokenId: configs[index].pad_token_id as number | null | undefined,
  }));
  writeGpt2Graph(job.file, configs[0], heads[0].weights!, { heads, quantize: job.quantize });
}

/** The child's side: one job from the parent, one reply, then exit. */
export function serveConversion(): void {
  process.once('message', (job: ConversionJob) => {
    let reply: Reply;
    try {
      run(job);
      reply = { ok: true, peakBytes: peakBytes() };
    } catch (error) {
      const e = error as Error;
      const { code, data } = e instanceof HostError ? e : { code: undefined, data: undefined };
      reply = { ok: false, name: e.name, message: e.message, code, data, peakBytes: peakBytes() };
    }
    process.send!(reply, () => process.exit(0));
  });
}
