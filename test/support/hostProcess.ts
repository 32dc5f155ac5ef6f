// Forks the real model host (dist/host.js) and speaks LSP to it over Node IPC, as the
// extension does, so tests and benchmarks exercise the process without VS Code.
import { fork, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createMessageConnection,
  IPCMessageReader,
  IPCMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { modelsFor, type HeadRole, type HostSettings, type HostStatus } from '../../src/protocol';

export interface HostProcess {
  connection: MessageConnection;
  child: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

export function hostSettings(
  models: Partial<Record<HeadRole, string>>,
  overrides: Partial<HostSettings> = {},
): HostSettings {
  return {
    models: modelsFor((role) => models[role] ?? ''),
    offline: true,
    cacheDir: join(tmpdir(), 'gpt2-heads-test-cache'),
    dtype: 'fp32',
    threads: 1,
    ...overrides,
  };
}

/** Listens on the connection and opens the LSP session with the settings, as the client does. */
export async function initialize(
  connection: MessageConnection,
  settings: HostSettings,
): Promise<void> {
  connection.onNotification(() => undefined);
  connection.listen();
  await connection.sendRequest('initialize', {
    processId: process.pid,
    rootUri: null,
    capabilities: {},
    initializationOptions: settings,
  });
  await connection.sendNotification('initialized', {});
}

export async function startHost(repoRoot: string, settings: HostSettings): Promise<HostProcess> {
  const child = fork(join(repoRoot, 'dist', 'host.js'), ['--node-ipc'], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += String(chunk)));
  child.stdout?.on('data', () => undefined);
  const connection = createMessageConnection(
    new IPCMessageReader(child),
    new IPCMessageWriter(child),
  );
  await initialize(connection, settings);
  return {
    connection,
    child,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        try {
          await Promise.race([
            connection.sendRequest('shutdown').then(() => connection.sendNotification('exit')),
            new Promise((resolve) => setTimeout(resolve, 2000)),
          ]);
        } catch {
          // The host may already be gone; killing it below is enough.
        }
        const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(timer);
      }
      connection.dispose();
    },
  };
}

/**
 * The host's status once it is at rest: idle, with its garbage collected after its last model
 * call (src/host/idleGc.ts), as a user's host sits between bursts of work. `status` asks for it.
 */
export async function statusAtRest(status: () => Promise<HostStatus>): Promise<HostStatus> {
  for (let waited = 0; waited < 30_000; waited += 100) {
    const answer = await status();
    if (answer.atRest) return answer;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error('the host did not collect its garbage within 30 s of going idle');
}
