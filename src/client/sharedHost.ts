// Finds or starts the user's shared model host and connects to it. The host listens on a socket
// in a folder only this user can open (0700, the socket itself 0600), named after the host's
// version tag, so an extension update starts a new host beside the old one. Plain Node: the
// tests and the benchmark connect the same way.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, mkdirSync, openSync, readFileSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface SharedHostOptions {
  /** The host's entry script (dist/host.js). */
  hostModule: string;
  /** Hosts of different tags never share a socket: the extension's version and build. */
  tag: string;
  /** The folder of the socket; a private folder of this user by default. */
  folder?: string;
  /** How long to wait for a host that was just started. */
  startTimeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** A tag for this build of the host: its version, where it is installed and when it was built. */
export function hostTag(version: string, hostModule: string): string {
  const built = statSync(hostModule);
  const hash = createHash('sha256')
    .update(`${version}\0${hostModule}\0${built.size}\0${built.mtimeMs}`)
    .digest('hex');
  return `${version}-${hash.slice(0, 12)}`;
}

/** The user's private folder for host sockets, made 0700 if missing, refused if others can open it. */
export function privateFolder(): string {
  const runtime = process.env.XDG_RUNTIME_DIR;
  const uid = process.getuid?.() ?? userInfo().uid;
  const folder = runtime ? join(runtime, 'gpt2-heads') : join(tmpdir(), `gpt2-heads-${uid}`);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  const facts = lstatSync(folder);
  if (!facts.isDirectory() || facts.uid !== uid || (facts.mode & 0o077) !== 0) {
    throw new Error(
      `The model host's socket folder ${folder} is not a private folder of this user ` +
        `(it must be a directory owned by you with mode 0700). Remove it, or turn off ` +
        `"gpt2Heads.sharedHost".`,
    );
  }
  return folder;
}

export function socketPath(tag: string, folder?: string): string {
  if (process.platform === 'win32') {
    return `\\\\.\\pipe\\gpt2-heads-${userInfo().username}-${tag}`;
  }
  return join(folder ?? privateFolder(), `host-${tag}.sock`);
}

function tryConnect(path: string): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', () => {
      socket.destroy();
      resolve(undefined);
    });
  });
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Connects to the running host of this tag, starting one (detached) if none answers. */
export async function connectToSharedHost(options: SharedHostOptions): Promise<Socket> {
  const path = socketPath(options.tag, options.folder);
  const existing = await tryConnect(path);
  if (existing) return existing;

  const logFile = `${path.endsWith('.sock') ? path.slice(0, -5) : join(tmpdir(), options.tag)}.log`;
  const log = openSync(logFile, 'w', 0o600);
  let exited: string | undefined;
  try {
    const child = spawn(
      process.execPath,
      [options.hostModule, '--listen', path, '--version-tag', options.tag],
      {
        detached: true,
        stdio: ['ignore', log, log],
        // In desktop VS Code execPath is Electron: run it as plain Node.
        env: { ...(options.env ?? process.env), ELECTRON_RUN_AS_NODE: '1' },
      },
    );
    child.once('exit', (code, signal) => (exited = signal ?? `code ${code}`));
    child.once('error', (error) => (exited = error.message));
    child.unref();
  } finally {
    closeSync(log);
  }

  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  for (let wait = 25; Date.now() < deadline; wait = Math.min(wait * 2, 250)) {
    const socket = await tryConnect(path);
    if (socket) return socket;
    // A host that lost the race to another window's exits at once; that one answers soon.
    if (exited && exited !== 'code 0') break;
    await pause(wait);
  }
  const output = readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
  throw new Error(
    `The shared model host did not start${exited ? ` (it exited with ${exited})` : ''}.` +
      (output ? `\n${output}` : ''),
  );
}
