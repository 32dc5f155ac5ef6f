// Installs code-server (a real VS Code that runs on Node and is driven by a browser)
// into <repo>/.cache, outside the project's dependencies. Works offline except for the
// npm registry: the one GitHub download in the tree (ripgrep) is pre-filled from Debian's rg.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export const CODE_SERVER_VERSION = '4.100.3';

const MARKER = '.installed';

export function findRepoRoot(from: string = __dirname): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

export function codeServerDir(repoRoot: string = findRepoRoot()): string {
  return join(repoRoot, '.cache', `code-server-${CODE_SERVER_VERSION}`);
}

/** The script to run with `node` to start the installed code-server. */
export function codeServerEntry(repoRoot: string = findRepoRoot()): string {
  return join(codeServerDir(repoRoot), 'node_modules', 'code-server', 'out', 'node', 'entry.js');
}

function log(message: string): void {
  console.log(`[install-code-server] ${message}`);
}

function npmEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    // code-server's postinstall refuses to run as root without it.
    npm_config_unsafe_perm: 'true',
    // node-pty runs `npx node-gyp`, which would otherwise wait for a prompt.
    npm_config_yes: 'true',
    // node-gyp builds against Debian's Node headers instead of downloading them.
    npm_config_nodedir: process.env.npm_config_nodedir ?? '/usr',
    // The postinstall runs two nested `npm install`s whose packages have install scripts.
    npm_config_dangerously_allow_all_scripts: 'true',
    npm_config_fund: 'false',
    npm_config_audit: 'false',
    npm_config_update_notifier: 'false',
    // Its install script only downloads CUDA parts, which fails offline.
    ONNXRUNTIME_NODE_INSTALL: process.env.ONNXRUNTIME_NODE_INSTALL ?? 'skip',
  };
}

function run(command: string, args: string[], cwd: string): Promise<void> {
  log(`$ ${command} ${args.join(' ')}`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: npmEnv(), stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else
        reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit code ${code}`})`));
    });
  });
}

function ripgrepTarget(): string {
  // Mirrors @vscode/ripgrep's choice on Linux, the only platform this setup supports.
  if (process.platform !== 'linux') throw new Error(`unsupported platform ${process.platform}`);
  if (process.arch === 'x64') return 'x86_64-unknown-linux-musl';
  if (process.arch === 'arm64') return 'aarch64-unknown-linux-musl';
  throw new Error(`unsupported architecture ${process.arch}`);
}

/**
 * @vscode/ripgrep's postinstall downloads rg from GitHub unless
 * $TMPDIR/vscode-ripgrep-cache-<package version>/ripgrep-<rg version>-<target>.tar.gz exists.
 * Both versions are read from the packages themselves, so a new code-server keeps working.
 */
async function prefillRipgrepCache(packageDir: string): Promise<void> {
  const shrinkwrap = JSON.parse(
    readFileSync(join(packageDir, 'lib', 'vscode', 'npm-shrinkwrap.json'), 'utf8'),
  );
  const packageVersion: string | undefined =
    shrinkwrap.packages?.['node_modules/@vscode/ripgrep']?.version;
  if (!packageVersion)
    throw new Error('code-server no longer pins @vscode/ripgrep: update this installer');

  const scratch = mkdtempSync(join(tmpdir(), 'vscode-ripgrep-pack-'));
  try {
    await run('npm', ['pack', '--silent', `@vscode/ripgrep@${packageVersion}`], scratch);
    await run('tar', ['xzf', `vscode-ripgrep-${packageVersion}.tgz`], scratch);
    const postinstall = readFileSync(join(scratch, 'package', 'lib', 'postinstall.js'), 'utf8');
    const rgVersion = /const VERSION = '([^']+)'/.exec(postinstall)?.[1];
    if (!rgVersion)
      throw new Error(`cannot read the rg version from @vscode/ripgrep@${packageVersion}`);

    const cacheDir = join(tmpdir(), `vscode-ripgrep-cache-${packageVersion}`);
    const archive = join(cacheDir, `ripgrep-${rgVersion}-${ripgrepTarget()}.tar.gz`);
    if (existsSync(archive)) {
      log(`ripgrep cache already present: ${archive}`);
      return;
    }
    const rg = '/usr/bin/rg';
    if (!existsSync(rg)) throw new Error(`${rg} is missing: apt-get install ripgrep`);
    mkdirSync(cacheDir, { recursive: true });
    await run('tar', ['czf', archive, '--transform', 's,^.*/,,', rg], scratch);
    log(`ripgrep cache filled from ${rg}: ${archive}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function checkSystemPackages(): void {
  const missing = ['/usr/bin/rg', '/usr/bin/g++', '/usr/include/krb5.h'].filter(
    (file) => !existsSync(file),
  );
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(', ')}: apt-get install ripgrep g++ libkrb5-dev`);
  }
}

/** Installs code-server once; later calls return at once. Returns the entry script. */
export async function installCodeServer(repoRoot: string = findRepoRoot()): Promise<string> {
  const dir = codeServerDir(repoRoot);
  const entry = codeServerEntry(repoRoot);
  const marker = join(dir, MARKER);
  if (
    existsSync(marker) &&
    readFileSync(marker, 'utf8').trim() === CODE_SERVER_VERSION &&
    existsSync(entry)
  ) {
    return entry;
  }

  const started = Date.now();
  log(`installing code-server@${CODE_SERVER_VERSION} into ${dir} (about a minute)`);
  checkSystemPackages();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  // Our own package.json keeps npm from walking up into the project's.
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true }, null, 2) + '\n');

  // Scripts run in a second step, once the ripgrep version they will fetch is known.
  log('step 1/3: downloading packages');
  await run(
    'npm',
    [
      'install',
      '--prefix',
      dir,
      '--ignore-scripts',
      '--no-save',
      `code-server@${CODE_SERVER_VERSION}`,
    ],
    dir,
  );
  log('step 2/3: pre-filling the ripgrep download');
  await prefillRipgrepCache(join(dir, 'node_modules', 'code-server'));
  log('step 3/3: running install scripts (builds native modules, installs VS Code dependencies)');
  await run('npm', ['rebuild', '--prefix', dir, '--foreground-scripts'], dir);

  const rgBinary = join(
    dir,
    'node_modules',
    'code-server',
    'lib',
    'vscode',
    'node_modules',
    '@vscode',
    'ripgrep',
    'bin',
    'rg',
  );
  for (const file of [entry, rgBinary]) {
    if (!existsSync(file)) throw new Error(`code-server install incomplete: ${file} is missing`);
  }
  writeFileSync(marker, CODE_SERVER_VERSION + '\n');
  log(`done in ${Math.round((Date.now() - started) / 1000)} s`);
  return entry;
}

if (require.main === module) {
  installCodeServer().then(
    (entry) => console.log(`code-server ${CODE_SERVER_VERSION} ready: ${entry}`),
    (error: unknown) => {
      console.error(
        `[install-code-server] FAILED: ${error instanceof Error ? error.message : String(error)}`,
      );
      process.exit(1);
    },
  );
}
