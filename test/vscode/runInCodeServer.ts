// Runs the mocha suite in test/vscode/suite inside a real VS Code: code-server 4.100.3
// (VS Code 1.100, extension host on Node 20) driven by headless Chromium.
//
//   npm run test:vscode
//   GPT2_HEADS_SCREENSHOT=shot.png npm run test:vscode   also saves the workbench at the end
//   node out/test/vscode/runInCodeServer.js --suite=firstUse   only the default-settings suite
//   node out/test/vscode/runInCodeServer.js --extension-development-path=/some/dir
//                                     loads another extension folder instead of the repo
// The exit code is mocha's (0 only when every test passed).
import { join, resolve } from 'node:path';
import { format } from 'node:util';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { startHubStandIn } from '../support/hubStandIn';
import {
  defaultSettings,
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

const overallTimeoutMs = Number(process.env.GPT2_HEADS_TEST_TIMEOUT_MS ?? 10 * 60_000);

function argValue(name: string): string | undefined {
  const prefix = `--${name}=`;
  return process.argv.find((arg) => arg.startsWith(prefix))?.slice(prefix.length);
}

let server: CodeServer | undefined;
let workbench: Workbench | undefined;
let interrupted = false;

async function cleanUp(): Promise<void> {
  const stopping = [server?.stop(), workbench?.close()];
  server = undefined;
  workbench = undefined;
  await Promise.all(stopping);
}

/**
 * Two runs, each in a fresh profile: the main suite with every head pointed at a fixture model
 * (offline), then the first-use suite with the default settings (Hub ids, online) against a Hub
 * stand-in on loopback (HF_ENDPOINT), so that nothing can reach the real Hub.
 */
async function runTests(): Promise<number> {
  const only = argValue('suite');
  const main =
    only === 'firstUse'
      ? 0
      : await runSuite(
          'suite',
          prepareProfile(join(repoRoot, '.cache', 'vscode-run'), userSettings(testModels())),
        );
  if (only === 'suite') return main;
  await cleanUp();
  const profile = prepareProfile(
    join(repoRoot, '.cache', 'vscode-run-first-use'),
    defaultSettings(),
  );
  const hub = await startHubStandIn(firstUseRepos(profile.root));
  const previousEndpoint = process.env.HF_ENDPOINT;
  process.env.HF_ENDPOINT = hub.url;
  try {
    const firstUse = await runSuite('firstUse', profile);
    return main || firstUse;
  } finally {
    if (previousEndpoint === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = previousEndpoint;
    await hub.close();
  }
}

/**
 * The Hub repositories of the first-use suite: the default classifier as the fixture sentiment
 * model saved without id2label (LABEL_0, LABEL_1), as the real one is.
 */
function firstUseRepos(root: string): Record<string, string> {
  const folder = join(root, 'hub', 'sentiment');
  cpSync(testModels().classification, folder, { recursive: true });
  const configFile = join(folder, 'config.json');
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
  delete config.id2label;
  delete config.label2id;
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  return { 'mnoukhov/gpt2-imdb-sentiment-classifier': folder };
}

async function runSuite(suite: string, profile: Profile): Promise<number> {
  const extensionPath = resolve(argValue('extension-development-path') ?? repoRoot);
  const testsPath = join(repoRoot, 'out', 'test', 'vscode', suite, 'index');
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

  server = await startCodeServer(profile, { port: await freePort(), offline: true });
  console.log(
    `[vscode-test] code-server ready at ${server.baseUrl} (${elapsed()}), log: ${server.logFile}`,
  );

  workbench = await launchBrowser(profile);
  const { page } = workbench;
  let reportExit: (code: number) => void = () => undefined;
  const exitCode = new Promise<number>((done) => (reportExit = done));

  // Both must exist before the workbench loads: it looks them up once, at start.
  await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
    // Mocha's reporters log printf-style ('%d passing'), and so do the workbench's loggers.
    const line = format(...args);
    if (type === 'error') console.error(line);
    else console.log(line);
  });
  await page.exposeFunction('codeAutomationExit', (code: number) => reportExit(code));

  const extensionMention = /gpt2|extension host|extensionHost|activat/i;
  page.on('console', (message) => {
    if (message.type() === 'error' && extensionMention.test(message.text())) {
      console.error(`[browser console] ${message.text()}`);
    }
  });
  page.on('pageerror', (error) => console.error(`[browser page error] ${error.message}`));

  const url = workbenchUrl(server.baseUrl, profile.workspace, { extensionPath, testsPath });
  console.log(`[vscode-test] extension: ${extensionPath}`);
  console.log(`[vscode-test] tests: ${testsPath}`);
  await page.goto(url);
  const code = await exitCode;
  console.log(`[vscode-test] mocha finished with exit code ${code} (${elapsed()})`);

  const screenshot = process.env.GPT2_HEADS_SCREENSHOT;
  if (screenshot) {
    await page.screenshot({ path: resolve(screenshot) });
    console.log(`[vscode-test] screenshot saved to ${resolve(screenshot)}`);
  }
  if (code !== 0)
    console.error(`[vscode-test] code-server log (last lines):\n${tail(server.logFile, 20)}`);
  return code;
}

async function main(): Promise<void> {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      interrupted = true;
      console.error(`[vscode-test] ${signal}: stopping code-server and the browser`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`no result after ${overallTimeoutMs / 1000} s (GPT2_HEADS_TEST_TIMEOUT_MS)`),
        ),
      overallTimeoutMs,
    );
  });
  let code = 1;
  try {
    code = await Promise.race([runTests(), timeout]);
  } catch (error) {
    if (interrupted) return;
    console.error(
      `[vscode-test] FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
    if (server)
      console.error(`[vscode-test] code-server log (last lines):\n${tail(server.logFile, 20)}`);
    code = 1;
  } finally {
    clearTimeout(timer);
    await cleanUp();
  }
  process.exit(code);
}

void main();
