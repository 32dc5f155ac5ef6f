// The `npm start` demo's models and settings. Six GPT-2 heads with seeded random weights on ONE
// backbone, as heads fine-tuned on a frozen GPT-2 are: each head folder is a safetensors
// checkpoint whose backbone shard is the same file (hard links), so the backbone is on disk once
// and the host runs NER, POS, classification and question answering as one shared graph.
//
//   node out/scripts/demo.js --warm '<HostSettings JSON>'   (run by `npm start`, see warmDemoModels)
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeHeadsOnOneBackbone, type HeadOnBackbone } from '../src/host/convert/maker';
import type { ModelRegistry as Registry } from '../src/host/models/registry';
import type { HostSettings } from '../src/protocol';
import {
  prepareProfile,
  repoRoot,
  startCodeServer,
  userSettings,
  type CodeServer,
  type ModelFolders,
  type Profile,
} from '../test/vscode/harness';

export const demoModelsDir = join(repoRoot, '.cache', 'demo-models');

/** Converted graphs (the shared heads' graph, the LM's and the double heads') live here. */
export const demoCacheDir = join(demoModelsDir, 'cache');

/** The document the demo opens, relative to the sample workspace. */
export const demoDocument = 'story.txt';

// Bump when the folders change: an older set is then made again.
const LAYOUT = 'heads-on-one-backbone 1';

const universalPosTags =
  'ADJ,ADP,ADV,AUX,CCONJ,DET,INTJ,NOUN,NUM,PART,PRON,PROPN,PUNCT,SCONJ,SYM,VERB,X';

/** Folder names say what the models are: hovers and the status bar show them. */
const heads: Record<keyof ModelFolders, HeadOnBackbone> = {
  lm: { name: 'random-gpt2-lm', architecture: 'GPT2LMHeadModel' },
  ner: { name: 'random-gpt2-ner', architecture: 'GPT2ForTokenClassification' },
  pos: {
    name: 'random-gpt2-pos',
    architecture: 'GPT2ForTokenClassification',
    labels: universalPosTags.split(','),
  },
  classification: {
    name: 'random-gpt2-sentiment',
    architecture: 'GPT2ForSequenceClassification',
    labels: ['NEGATIVE', 'POSITIVE'],
  },
  qa: { name: 'random-gpt2-qa', architecture: 'GPT2ForQuestionAnswering' },
  multipleChoice: { name: 'random-gpt2-double-heads', architecture: 'GPT2DoubleHeadsModel' },
};

function log(message: string): void {
  console.log(`[start] ${message}`);
}

/** The demo's model folders, made on first use (a few seconds; about 60 MB on disk). */
export function demoModels(): ModelFolders {
  const marker = join(demoModelsDir, '.complete');
  const folders = Object.fromEntries(
    Object.entries(heads).map(([role, head]) => [role, join(demoModelsDir, head.name)]),
  ) as unknown as ModelFolders;
  if (existsSync(marker) && readFileSync(marker, 'utf8').trim() === LAYOUT) return folders;

  log(`making the demo models (random weights, one shared backbone) in ${demoModelsDir}`);
  const partial = `${demoModelsDir}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  makeHeadsOnOneBackbone({
    size: 'small',
    seed: 2024,
    outDir: partial,
    heads: Object.values(heads),
  });
  writeFileSync(join(partial, '.complete'), LAYOUT + '\n');
  rmSync(demoModelsDir, { recursive: true, force: true });
  renameSync(partial, demoModelsDir);
  return folders;
}

/** What the extension sends the host for the demo's user settings (see demoSettings). */
export function demoHostSettings(models: ModelFolders): HostSettings {
  return { models, offline: true, cacheDir: demoCacheDir, dtype: 'auto', threads: 0 };
}

/** The demo profile's user settings: the tests' quiet workbench, plus what shows the heads at once. */
export function demoSettings(models: ModelFolders): Record<string, unknown> {
  return {
    ...userSettings(models),
    // The walkthrough opens beside the story (the extension does it in a demo profile).
    'workbench.welcomePage.walkthroughs.openOnInstall': true,
    'gpt2Heads.cacheDirectory': demoCacheDir,
    // Entities and parts of speech are painted as soon as the story opens.
    'gpt2Heads.tagging.auto': true,
    // Whole words: random weights split words between labels with "simple".
    'gpt2Heads.tagging.aggregationStrategy': 'first',
    // Lines short enough to leave room, beside the walkthrough, for the labels drawn after the
    // spans (they take no part in wrapping).
    'editor.wordWrap': 'wordWrapColumn',
    'editor.wordWrapColumn': 34,
    'editor.minimap.enabled': false,
  };
}

/**
 * Loads every demo model once in a separate process, through the host's own registry, so that the
 * graphs it builds (the shared heads' graph, the converted LM and double heads) are in the cache
 * before the page opens: the story is then tagged within seconds of loading. Done once per set of
 * models; later starts skip it.
 */
export async function warmDemoModels(models: ModelFolders): Promise<void> {
  const settings = demoHostSettings(models);
  const marker = join(demoCacheDir, '.warm');
  const identity = `${LAYOUT}\n${JSON.stringify(settings)}`;
  if (existsSync(marker) && readFileSync(marker, 'utf8') === identity) return;
  log('building the demo models’ ONNX graphs once (about a minute)…');
  const started = Date.now();
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [__filename, '--warm', JSON.stringify(settings)], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`preparing the demo models failed (${signal ?? `exit code ${code}`})`)),
    );
  });
  writeFileSync(marker, identity);
  log(`demo models ready in ${Math.round((Date.now() - started) / 1000)} s`);
}

/**
 * Installs the repo as a regular extension by linking it into the extensions folder
 * under the folder name VS Code would give it. Unlike an extension development host
 * this needs no special URL; VS Code loads package.json and dist/ from the link.
 */
export function linkExtension(extensionsDir: string): string {
  const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8'));
  const id = `${manifest.publisher}.${manifest.name}`;
  symlinkSync(repoRoot, join(extensionsDir, `${id}-${manifest.version}`), 'dir');
  return id;
}

/**
 * The workbench with the sample folder and the story open: the workbench reads files to open
 * from its `payload` query parameter, as `code-server FILE` does for a running instance.
 */
export function demoUrl(baseUrl: string, profile: Profile): string {
  const file = `vscode-remote://${new URL(baseUrl).host}${join(profile.workspace, demoDocument)}`;
  const query = new URLSearchParams({
    folder: profile.workspace,
    payload: JSON.stringify([['openFile', file]]),
  });
  return `${baseUrl}/?${query.toString()}`;
}

export interface DemoServer {
  server: CodeServer;
  profile: Profile;
  extensionId: string;
  url: string;
}

/**
 * What `npm start` runs: the demo models made and converted once, a fresh profile in
 * `profileRoot` with the demo settings (plus `extraSettings`), and code-server on `port`.
 */
export async function startDemoServer(
  profileRoot: string,
  port: number,
  extraSettings: Record<string, unknown> = {},
): Promise<DemoServer> {
  const models = demoModels();
  await warmDemoModels(models);
  const profile = prepareProfile(profileRoot, { ...demoSettings(models), ...extraSettings });
  const extensionId = linkExtension(profile.extensionsDir);
  const server = await startCodeServer(profile, {
    port,
    offline: true,
    // The extension opens the walkthrough beside the story once (src/client/demo.ts).
    env: { GPT2_HEADS_DEMO: '1' },
  });
  return { server, profile, extensionId, url: demoUrl(server.baseUrl, profile) };
}

async function warmInThisProcess(settings: HostSettings): Promise<void> {
  // Loaded here only: the `npm start` process itself never loads onnxruntime.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { ModelRegistry } = require('../src/host/models/registry') as {
    ModelRegistry: typeof Registry;
  };
  const registry = new ModelRegistry(settings);
  try {
    for (const [role, source] of Object.entries(settings.models)) {
      const { info } = await registry.load(source);
      log(
        `  ${role}: ${info.architecture}, ${info.dtype}${info.sharedBackbone ? ', backbone shared with the other heads' : ''}`,
      );
    }
  } finally {
    await registry.dispose();
  }
}

if (require.main === module && process.argv[2] === '--warm') {
  warmInThisProcess(JSON.parse(process.argv[3]) as HostSettings).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`[start] ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
