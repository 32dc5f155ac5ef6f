// `npm start`: a local VS Code (code-server) in the browser with this extension loaded,
// the sample documents open and the models configured. Stays in the foreground; Ctrl-C stops it.
//
//   npm start
//   PORT=9000 npm start
import { makeRandomModel } from '../src/host/convert/maker';
import type { Gpt2Architecture } from '../src/host/convert/gpt2Config';
import { existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import {
  freePort,
  portInUse,
  prepareProfile,
  repoRoot,
  startCodeServer,
  userSettings,
  type ModelFolders,
} from '../test/vscode/harness';

/** The model folder per head that the demo opens with. */
const universalPosTags =
  'ADJ,ADP,ADV,AUX,CCONJ,DET,INTJ,NOUN,NUM,PART,PRON,PROPN,PUNCT,SCONJ,SYM,VERB,X';

/**
 * The demo's models: small GPT-2 heads with seeded random weights, made by the project's own
 * maker on first start (they load like real models but their predictions mean nothing).
 */
export function demoModels(): ModelFolders {
  const root = join(repoRoot, '.cache', 'demo-models');
  const specs: Record<keyof ModelFolders, [Gpt2Architecture, string[] | undefined]> = {
    lm: ['GPT2LMHeadModel', undefined],
    ner: ['GPT2ForTokenClassification', undefined],
    pos: ['GPT2ForTokenClassification', universalPosTags.split(',')],
    classification: ['GPT2ForSequenceClassification', ['NEGATIVE', 'POSITIVE']],
    qa: ['GPT2ForQuestionAnswering', undefined],
    multipleChoice: ['GPT2DoubleHeadsModel', undefined],
  };
  const folders = {} as ModelFolders;
  for (const [role, [architecture, labels]] of Object.entries(specs) as [
    keyof ModelFolders,
    [Gpt2Architecture, string[] | undefined],
  ][]) {
    const outDir = join(root, role);
    if (!existsSync(join(outDir, 'onnx', 'model.onnx'))) {
      console.log(`[start] making the demo ${role} model (random weights) in ${outDir}`);
      makeRandomModel({ architecture, size: 'small', seed: 2024, outDir, labels, dtype: 'q8' });
    }
    folders[role] = outDir;
  }
  return folders;
}

async function demoPort(): Promise<number> {
  const wanted = Number(process.env.PORT ?? 8080);
  if (Number.isInteger(wanted) && wanted > 0 && !(await portInUse(wanted))) return wanted;
  const port = await freePort();
  console.log(`[start] port ${wanted} is busy, using ${port}`);
  return port;
}

/**
 * Installs the repo as a regular extension by linking it into the extensions folder
 * under the folder name VS Code would give it. Unlike an extension development host
 * this needs no special URL; VS Code loads package.json and dist/ from the link.
 */
function linkExtension(extensionsDir: string): string {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const id = `${manifest.publisher}.${manifest.name}`;
  symlinkSync(repoRoot, join(extensionsDir, `${id}-${manifest.version}`), 'dir');
  return id;
}

async function main(): Promise<void> {
  const entry = join(repoRoot, 'dist', 'extension.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`node esbuild.mjs\` first`);

  const profile = prepareProfile(join(repoRoot, '.cache', 'demo'), userSettings(demoModels()));
  const id = linkExtension(profile.extensionsDir);
  const server = await startCodeServer(profile, { port: await demoPort() });

  const stop = (signal: NodeJS.Signals) => {
    console.log(`\n[start] ${signal}: stopping code-server`);
    void server.stop().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);

  console.log(`[start] ${id} from ${repoRoot}`);
  console.log(`[start] sample documents (a fresh copy each start): ${profile.workspace}`);
  console.log(`[start] settings: ${join(profile.userDataDir, 'User', 'settings.json')}`);
  console.log(`[start] code-server log: ${server.logFile}`);
  console.log(`\n  Open ${server.baseUrl}/?folder=${encodeURIComponent(profile.workspace)}\n`);
  console.log('[start] press Ctrl-C to stop');

  const code = await server.exited;
  await server.stop();
  console.error(`[start] code-server exited (${code ?? 'killed'}); see ${server.logFile}`);
  process.exit(1);
}

main().catch((error: unknown) => {
  console.error(`[start] FAILED: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
