// The model host: a Node process the extension starts on first use. Forked with `--node-ipc`
// it serves the one client that forked it; with `--listen PATH` it is the shared host of every
// VS Code window of the user, one LSP connection per window on a socket only they can open.
// Tests and benchmarks start it the same ways; nothing here imports `vscode`. With `--convert`
// it is the child that turns one checkpoint into ONNX for a host (convert/inChild.ts).
import { createConnection } from 'vscode-languageserver/node';
import { serveClient } from './clientSession';
import { serveConversion } from './convert/inChild';
import { RegistryPool } from './models/registryPool';
import { runSharedHost } from './sharedHost';

function argValue(name: string): string | undefined {
  const index = process.argv.indexOf(name);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

const version = argValue('--version-tag') ?? 'private';
const socketPath = argValue('--listen');
if (process.argv.includes('--convert')) {
  // A conversion child (convert/inChild.ts): one job over IPC, then exit.
  serveConversion();
} else if (socketPath) {
  runSharedHost(socketPath, version);
} else {
  const pool = new RegistryPool();
  const connection = createConnection();
  serveClient(connection, pool, version);
  connection.onShutdown(() => pool.dispose());
  connection.listen();
}
