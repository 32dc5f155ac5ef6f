// `npm start`: a local VS Code (code-server) in the browser with this extension loaded, the
// sample story open and tagged, the walkthrough beside it and every head configured with the demo
// models (scripts/demo.ts). Stays in the foreground; Ctrl-C stops it.
//
//   npm start
//   PORT=9000 npm start
//   GPT2_HEADS_DEMO_DIR=/tmp/demo npm start   another scratch profile (the tests use one)
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, portInUse, repoRoot } from '../test/vscode/harness';
import { startDemoServer } from './demo';

/** Printed once the page can be opened: the test of `npm start` checks each of them. */
export const thingsToTry = [
  'Hover over a coloured name: its entity label, part of speech, score and model.',
  'F1 → "GPT-2 Heads: Ask a Question…", e.g. "Who did Ada meet at a party?": the answer is highlighted.',
  'Put the cursor after a sentence, F1 → "GPT-2 Heads: Continue Text".',
  'F1 → "GPT-2 Heads: Toggle Inline Suggestions", then type: the continuation appears as ghost text.',
];

async function demoPort(): Promise<number> {
  const wanted = Number(process.env.PORT ?? 8080);
  if (Number.isInteger(wanted) && wanted > 0 && !(await portInUse(wanted))) return wanted;
  const port = await freePort();
  console.log(`[start] port ${wanted} is busy, using ${port}`);
  return port;
}

function printWelcome(url: string, port: number): void {
  const lines = [
    '',
    `  GPT-2 Heads is running. Open this in your browser:`,
    '',
    `    ${url}`,
    '',
    '  The sample story opens with its entities and parts of speech painted, the labels of the',
    '  paragraph and the document in the status bar (bottom right; select another paragraph and',
    '  its label follows), and the walkthrough beside it. Try:',
    ...thingsToTry.map((thing) => `    • ${thing}`),
    '',
    '  The demo models are small GPT-2 heads with RANDOM weights: they load and run like real',
    '  models, but their labels, answers and text mean nothing. For real models, set the',
    '  gpt2Heads.<head>.model settings (F1 → "Preferences: Open User Settings", search gpt2Heads)',
    '  to Hugging Face Hub ids or local model folders; the walkthrough’s "Pick a model for each',
    '  head" step links to each setting.',
    '',
    `  Listening on 127.0.0.1:${port} only (this machine); PORT=9000 npm start picks another port.`,
    '  Press Ctrl-C to stop.',
    '',
  ];
  console.log(lines.join('\n'));
}

async function main(): Promise<void> {
  const entry = join(repoRoot, 'dist', 'extension.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`node esbuild.mjs\` first`);

  const port = await demoPort();
  const { server, profile, extensionId, url } = await startDemoServer(
    process.env.GPT2_HEADS_DEMO_DIR ?? join(repoRoot, '.cache', 'demo'),
    port,
  );

  const stop = (signal: NodeJS.Signals) => {
    console.log(`\n[start] ${signal}: stopping code-server`);
    void server.stop().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  console.log(`[start] ${extensionId} from ${repoRoot}`);
  console.log(`[start] sample documents (a fresh copy each start): ${profile.workspace}`);
  console.log(`[start] settings: ${join(profile.userDataDir, 'User', 'settings.json')}`);
  console.log(`[start] code-server log: ${server.logFile}`);
  printWelcome(url, port);

  const code = await server.exited;
  await server.stop();
  console.error(`[start] code-server exited (${code ?? 'killed'}); see ${server.logFile}`);
  process.exit(1);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(`[start] FAILED: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
