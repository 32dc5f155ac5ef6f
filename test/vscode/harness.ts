// What the integration tests and the `npm start` demo share: a scratch profile with our
// settings, a copy of the sample workspace, and one code-server process driven by Chromium.
// code-server rejects --extensionDevelopmentPath; its workbench reads the same options
// from a `payload` query parameter, as VS Code's own browser integration tests do.
import { fixtureModels, fixturesDir } from '../support/fixtures';
import { spawn, type ChildProcess } from 'node:child_process';
import {
  cpSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { findRepoRoot, installCodeServer } from '../../scripts/installCodeServer';

export const repoRoot = findRepoRoot(__dirname);
export { fixturesDir };
export const sampleWorkspace = join(repoRoot, 'test', 'fixtures', 'workspace');

/** One model folder per head, keyed like the `gpt2Heads.<head>.model` settings. */
export interface ModelFolders {
  lm: string;
  ner: string;
  pos: string;
  classification: string;
  qa: string;
  multipleChoice: string;
}

/** The tiny reference models in ../shared/fixtures. */
export function testModels(): ModelFolders {
  const folders: ModelFolders = { ...fixtureModels };
  const missing = Object.values(folders).filter((folder) => !existsSync(folder));
  if (missing.length > 0) throw new Error(`model fixtures missing: ${missing.join(', ')}`);
  return folders;
}

// A workbench with nothing in the way: no welcome page, walkthroughs, trust prompts,
// telemetry, update or extension-recommendation notifications.
const quietSettings = {
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'security.workspace.trust.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  'window.restoreWindows': 'none',
  'files.hotExit': 'off',
  'chat.commandCenter.enabled': false,
  'chat.disableAIFeatures': true,
};

/** The settings of a new user: nothing of GPT-2 Heads set (its defaults: Hub ids, online). */
export function defaultSettings(): Record<string, unknown> {
  return { ...quietSettings };
}

export function userSettings(models: ModelFolders): Record<string, unknown> {
  return {
    ...quietSettings,
    'gpt2Heads.offline': true,
    'gpt2Heads.lm.model': models.lm,
    'gpt2Heads.ner.model': models.ner,
    'gpt2Heads.pos.model': models.pos,
    'gpt2Heads.classification.model': models.classification,
    'gpt2Heads.qa.model': models.qa,
    'gpt2Heads.multipleChoice.model': models.multipleChoice,
  };
}

/** Scratch folders for one code-server: its HOME and XDG dirs, profile, extensions, workspace. */
export interface Profile {
  root: string;
  home: string;
  userDataDir: string;
  extensionsDir: string;
  workspace: string;
  browserDataDir: string;
}

/** Recreates `root` from scratch with the given user settings and a copy of the sample workspace. */
export function prepareProfile(root: string, settings: Record<string, unknown>): Profile {
  rmSync(root, { recursive: true, force: true });
  const profile: Profile = {
    root,
    home: join(root, 'home'),
    userDataDir: join(root, 'user-data'),
    extensionsDir: join(root, 'extensions'),
    workspace: join(root, 'workspace'),
    browserDataDir: join(root, 'browser'),
  };
  for (const dir of [
    profile.home,
    profile.extensionsDir,
    profile.browserDataDir,
    join(profile.userDataDir, 'User'),
  ]) {
    mkdirSync(dir, { recursive: true });
  }
  writeFileSync(
    join(profile.userDataDir, 'User', 'settings.json'),
    JSON.stringify(settings, null, 2) + '\n',
  );
  cpSync(sampleWorkspace, profile.workspace, { recursive: true });
  return profile;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolvePort(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/** Whether something already listens on 127.0.0.1:port. */
export function portInUse(port: number): Promise<boolean> {
  return new Promise((resolveInUse) => {
    const server = createServer();
    server.once('error', () => resolveInUse(true));
    server.listen(port, '127.0.0.1', () => server.close(() => resolveInUse(false)));
  });
}

export interface CodeServer {
  readonly baseUrl: string;
  readonly logFile: string;
  /** Settles when code-server exits, with its exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Stops code-server and everything it started (extension hosts outlive the page). */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  // Not skipped when code-server itself has exited: its extension host may still run.
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

// Last resort for paths that skip `stop()`: process.exit() from anywhere, an uncaught error.
process.on('exit', () => {
  for (const child of running) killGroup(child, 'SIGKILL');
});

export async function startCodeServer(
  profile: Profile,
  options: { port: number; offline?: boolean; env?: NodeJS.ProcessEnv },
): Promise<CodeServer> {
  const entry = await installCodeServer(repoRoot);
  const logFile = join(profile.root, 'code-server.log');
  const home = profile.home;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    XDG_DATA_HOME: join(home, '.local', 'share'),
    XDG_CACHE_HOME: join(home, '.cache'),
    XDG_STATE_HOME: join(home, '.local', 'state'),
    // The shared model host's socket folder, private to this run; an idle host exits soon.
    XDG_RUNTIME_DIR: join(home, 'run'),
    GPT2_HEADS_HOST_IDLE_MS: '10000',
    // The demo's $PORT must not override --bind-addr.
    PORT: undefined,
    PASSWORD: undefined,
    // An empty gallery turns the marketplace off instead of letting it fail on every query.
    EXTENSIONS_GALLERY: options.offline ? '{}' : process.env.EXTENSIONS_GALLERY,
    ...options.env,
  };
  const args = [
    entry,
    '--bind-addr',
    `127.0.0.1:${options.port}`,
    '--auth',
    'none',
    '--user-data-dir',
    profile.userDataDir,
    '--extensions-dir',
    profile.extensionsDir,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
    profile.workspace,
  ];
  const out = createWriteStream(logFile);
  // Its own process group, so one signal reaches the extension host and file watcher too.
  const child = spawn(process.execPath, args, {
    env,
    cwd: home,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);

  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const baseUrl = `http://127.0.0.1:${options.port}`;
  const server: CodeServer = {
    baseUrl,
    logFile,
    exited,
    async stop() {
      if (!running.has(child)) return;
      killGroup(child, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((done) => (timer = setTimeout(done, 3000)))]);
      clearTimeout(timer);
      // Whatever is left of the group (an extension host busy in a native call) goes now.
      killGroup(child, 'SIGKILL');
      running.delete(child);
    },
  };
  try {
    await waitForHealth(baseUrl, child, 30_000);
  } catch (error) {
    await server.stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tail(logFile)}`);
  }
  return server;
}

async function waitForHealth(
  baseUrl: string,
  child: ChildProcess,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `code-server exited early (${child.signalCode ?? `exit code ${child.exitCode}`})`,
      );
    }
    try {
      const response = await fetch(`${baseUrl}/healthz`);
      if (response.ok) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((done) => setTimeout(done, 200));
  }
  throw new Error(`code-server did not answer ${baseUrl}/healthz within ${timeoutMs / 1000} s`);
}

export function tail(file: string, lines = 40): string {
  if (!existsSync(file)) return '';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

/** The workbench URL that opens `folder` with the repo (or another folder) loaded for development. */
export function workbenchUrl(
  baseUrl: string,
  folder: string,
  development?: { extensionPath: string; testsPath?: string },
): string {
  const query = new URLSearchParams({ folder });
  if (development) {
    // The server side uses only the paths of these URIs: "remote" is a placeholder
    // authority (any name works in code-server 4.100.3).
    const payload = [
      ['extensionDevelopmentPath', `vscode-remote://remote${development.extensionPath}`],
    ];
    if (development.testsPath)
      payload.push(['extensionTestsPath', `vscode-remote://remote${development.testsPath}`]);
    query.set('payload', JSON.stringify(payload));
  }
  return `${baseUrl}/?${query.toString()}`;
}

const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Workbench {
  context: BrowserContext;
  page: Page;
  close(): Promise<void>;
}

/** A headless Chromium with a fresh profile, one page, not yet navigated. */
export async function launchBrowser(profile: Pick<Profile, 'browserDataDir'>): Promise<Workbench> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath))
    throw new Error(`${executablePath} is missing: apt-get install chromium`);
  rmSync(profile.browserDataDir, { recursive: true, force: true });
  const context = await chromium.launchPersistentContext(profile.browserDataDir, {
    executablePath,
    headless: true,
    args: chromiumArgs,
    viewport: { width: 1280, height: 800 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const browser: Browser | null = context.browser();
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => undefined);
      await browser?.close().catch(() => undefined);
    },
  };
}
