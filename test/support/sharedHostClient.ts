// Connects to the shared model host (dist/host.js --listen) as a VS Code window does, and speaks
// LSP to it over the socket, for tests and the benchmark.
import { join } from 'node:path';
import type { Socket } from 'node:net';
import {
  createMessageConnection,
  SocketMessageReader,
  SocketMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import { connectToSharedHost } from '../../src/client/sharedHost';
import { methods, type HostSettings } from '../../src/protocol';
import { initialize } from './hostProcess';

export interface SharedHostClient {
  connection: MessageConnection;
  socket: Socket;
  /** The host's process id, from its status. */
  pid(): Promise<number>;
  /** Leaves as a window does when it closes: shutdown, exit, then the socket ends. */
  leave(): Promise<void>;
  /** Drops the socket without a word, as a crashed window does. */
  crash(): void;
}

export async function joinSharedHost(
  repoRoot: string,
  settings: HostSettings,
  options: { tag: string; folder: string; env?: NodeJS.ProcessEnv },
): Promise<SharedHostClient> {
  const socket = await connectToSharedHost({
    hostModule: join(repoRoot, 'dist', 'host.js'),
    tag: options.tag,
    folder: options.folder,
    env: options.env,
  });
  const connection = createMessageConnection(
    new SocketMessageReader(socket),
    new SocketMessageWriter(socket),
  );
  connection.onError(() => undefined);
  await initialize(connection, settings);
  return {
    connection,
    socket,
    pid: async () => (await connection.sendRequest(methods.status)).pid,
    async leave() {
      await connection.sendRequest('shutdown');
      await connection.sendNotification('exit');
      await new Promise((resolve) => socket.once('close', resolve));
      connection.dispose();
    },
    crash() {
      socket.destroy();
      connection.dispose();
    },
  };
}
