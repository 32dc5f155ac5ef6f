// The shared model host: one process for all of a user's VS Code windows. It listens on a Unix
// socket (a named pipe on Windows) in a folder only its user can open, serves each window on its
// own LSP connection, and exits a while after the last window has left.
import { chmodSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { createConnection, type WatchDog } from 'vscode-languageserver';
import {
  createProtocolConnection,
  SocketMessageReader,
  SocketMessageWriter,
} from 'vscode-languageserver/node';
import { serveClient } from './clientSession';
import { RegistryPool } from './models/registryPool';

/** How long the host waits for a new client after the last one left (overridable for tests). */
function idleExitMs(): number {
  const value = Number(process.env.GPT2_HEADS_HOST_IDLE_MS);
  return Number.isFinite(value) && value >= 0 ? value : 5 * 60_000;
}

/** Whether a live host answers on `path` (a stale socket file refuses the connection). */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** One client on its socket: an LSP connection whose end closes only that socket. */
function serveSocket(socket: Socket, pool: RegistryPool, version: string, onEnd: () => void) {
  let shutdownReceived = false;
  const watchDog: WatchDog = {
    initialize: () => undefined,
    get shutdownReceived() {
      return shutdownReceived;
    },
    set shutdownReceived(value: boolean) {
      shutdownReceived = value;
    },
    // `exit` ends this client's connection, never the process the other windows use.
    exit: () => socket.end(),
  };
  const connection = createConnection(
    (logger) =>
      createProtocolConnection(
        new SocketMessageReader(socket),
        new SocketMessageWriter(socket),
        logger,
      ),
    watchDog,
  );
  const detach = serveClient(connection, pool, version);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    detach();
    connection.dispose();
    onEnd();
  };
  socket.on('close', end);
  socket.on('error', () => socket.destroy());
  connection.listen();
}

export async function runSharedHost(path: string, version: string): Promise<void> {
  const pool = new RegistryPool();
  let clients = 0;
  let idleTimer: NodeJS.Timeout | undefined;
  const server = createServer((socket) => {
    clients++;
    if (idleTimer) clearTimeout(idleTimer);
    idleTimer = undefined;
    serveSocket(socket, pool, version, () => {
      clients--;
      if (clients === 0) armIdleExit();
    });
  });
  const exit = (code: number) => {
    server.close();
    void pool.dispose().finally(() => process.exit(code));
  };
  const armIdleExit = () => {
    idleTimer = setTimeout(() => exit(0), idleExitMs());
  };

  try {
    await listen(server, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    // Another host of this version is already serving: the client connects to it instead.
    if (await answers(path)) process.exit(0);
    // A socket file left behind by a host that died.
    unlinkSync(path);
    await listen(server, path);
  }
  if (process.platform !== 'win32') chmodSync(path, 0o600);
  armIdleExit();
  // Closing the server removes the socket file; a host killed outright leaves it, stale.
  process.once('SIGTERM', () => exit(0));
  process.once('SIGINT', () => exit(0));
}
