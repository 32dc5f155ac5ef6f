// Installs the linux-x64 VSIX that `npm run package` made into a clean code-server and runs
// the smoke suite in test/vscode/smoke-vsix against the installed extension.
//
//   npm run test:vsix                           packages linux-x64, then runs this
//   node out/test/vscode/runVsixSmoke.js [file.vsix]
//
// The profile lives outside the repository: an installed extension that forgot a runtime
// package would otherwise find it in the repository's node_modules and pass.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { format } from 'node:util';
import { installCodeServer } from '../../scripts/installCodeServer';
import { vsixPath } from '../../scripts/package';
import {
  freePort,
  launchBrowser,
  prepareProfile,
  repoRoot,
  startCodeServer,
  tail,
  testModels,
  userSettings,
  workbenchUrl,
  type CodeServer,
  type Profile,
  type Workbench,
} from './harness';

const timeoutMs = Number(process.env.GPT2_HEADS_TEST_TIMEOUT_MS ?? 5 * 60_000);

function installVsix(entry: string, profile: Profile, vsix: string): Promise<void> {
  const home = profile.home;
  const args = [
    entry,
    '--user-data-dir',
    profile.userDataDir,
    '--extensions-dir',
    profile.extensionsDir,
    '--install-extension',
    vsix,
  ];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, args, {
      cwd: home,
      env: { ...process.env, HOME: home, XDG_CONFIG_HOME: join(home, '.config') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', fail);
    child.on('exit', (code) => {
      if (code === 0 && /successfully installed/i.test(output)) done();
      else fail(new Error(`code-server --install-extension exited with ${code}:\n${output}`));
    });
  });
}

let server: CodeServer | undefined;
let workbench: Workbench | undefined;

async function smoke(vsix: string): Promise<number> {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  const profile = prepareProfile(
    join(tmpdir(), 'gpt2-heads-vsix-smoke'),
    userSettings(testModels()),
  );

  await installVsix(await installCodeServer(repoRoot), profile, vsix);
  const installed = readdirSync(profile.extensionsDir).filter((name) => !name.startsWith('.'));
  console.log(`[vsix-smoke] installed ${installed.join(', ')} (${elapsed()})`);

  // Inherited by code-server and its extension host, where the suite checks where it loaded from.
  process.env.GPT2_HEADS_VSIX_EXTENSIONS_DIR = profile.extensionsDir;
  server = await startCodeServer(profile, { port: await freePort(), offline: true });
  workbench = await launchBrowser(profile);
  const { page } = workbench;
  let reportExit: (code: number) => void = () => undefined;
  const exitCode = new Promise<number>((done) => (reportExit = done));
  await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
    const line = format(...args);
    if (type === 'error') console.error(line);
    else console.log(line);
  });
  await page.exposeFunction('codeAutomationExit', (code: number) => reportExit(code));
  page.on('pageerror', (error) => console.error(`[browser page error] ${error.message}`));

  // VS Code runs extensionTestsPath only beside a development extension: the smoke folder is
  // one that contributes nothing, so the GPT-2 Heads under test is the installed one.
  const url = workbenchUrl(server.baseUrl, profile.workspace, {
    extensionPath: join(repoRoot, 'test', 'vscode', 'smoke-vsix'),
    testsPath: join(repoRoot, 'out', 'test', 'vscode', 'smoke-vsix', 'index'),
  });
  await page.goto(url);
  const code = await exitCode;
  console.log(`[vsix-smoke] mocha finished with exit code ${code} (${elapsed()})`);
  if (code !== 0) console.error(`[vsix-smoke] code-server log:\n${tail(server.logFile, 20)}`);
  return code;
}

async function main(): Promise<void> {
  const vsix = resolve(process.argv[2] ?? vsixPath('linux-x64'));
  if (!existsSync(vsix)) throw new Error(`${vsix} is missing: run \`npm run package\` first`);
  console.log(`[vsix-smoke] ${vsix}`);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no result after ${timeoutMs / 1000} s`)), timeoutMs);
  });
  let code = 1;
  try {
    code = await Promise.race([smoke(vsix), timeout]);
  } catch (error) {
    console.error(`[vsix-smoke] FAILED: ${error instanceof Error ? error.message : String(error)}`);
    if (server) console.error(`[vsix-smoke] code-server log:\n${tail(server.logFile, 20)}`);
  } finally {
    clearTimeout(timer);
    await Promise.all([server?.stop(), workbench?.close()]);
  }
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all([server?.stop(), workbench?.close()]).finally(() => process.exit(130));
  });
}

main().catch((error: unknown) => {
  console.error(`[vsix-smoke] FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
