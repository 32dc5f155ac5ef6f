// `npm run package`: one VSIX per platform in vsix/, each with only what the extension loads:
// dist/extension.js, dist/host.js (transformers.js bundled in), and onnxruntime-node pruned to
// that platform's binaries. Every target is staged in a clean folder, so nothing else from the
// repository's node_modules can slip in.
//
//   npm run package                         all targets
//   node out/scripts/package.js linux-x64   some targets (run `node esbuild.mjs --tests` first)
//
// The runtime packages go to dist/node_modules, where `require` from dist/host.js finds them:
// vsce's --no-dependencies leaves out a top-level node_modules, and its dependency detection
// would list the whole production tree (sharp, onnxruntime-web, the bundled LSP libraries).
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { findRepoRoot } from './installCodeServer';

const repoRoot = findRepoRoot(__dirname);

/** vsce target → onnxruntime-node's bin/napi-v6/<platform>/<arch> folder. */
export const targets = {
  'linux-x64': 'linux/x64',
  'linux-arm64': 'linux/arm64',
  'darwin-arm64': 'darwin/arm64',
  'darwin-x64': 'darwin/x64',
  'win32-x64': 'win32/x64',
  'win32-arm64': 'win32/arm64',
} as const;
export type Target = keyof typeof targets;

/** linux-x64 is the one target tested here; it must stay small enough to download casually. */
const sizeBudgets: Partial<Record<Target, number>> = { 'linux-x64': 40 * 1024 * 1024 };

// The binding links @rpath/libonnxruntime.1.dylib; the package also ships the same library
// under its versioned name (a flattened symlink), which would double the macOS download.
const unusedBinaries = new Set(['libonnxruntime.1.30.0.dylib']);

export const vsixDir = join(repoRoot, 'vsix');
const stagingRoot = join(repoRoot, '.cache', 'package');

interface Manifest {
  name: string;
  publisher: string;
  version: string;
  scripts?: Record<string, string>;
  devDependencies?: Record<string, string>;
  [key: string]: unknown;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

export function vsixPath(target: Target): string {
  const manifest = readJson<Manifest>(join(repoRoot, 'package.json'));
  return join(vsixDir, `${manifest.name}-${target}-${manifest.version}.vsix`);
}

function copy(from: string, to: string, filter?: (source: string) => boolean): void {
  mkdirSync(dirname(to), { recursive: true });
  cpSync(from, to, { recursive: true, dereference: true, filter });
}

function packageDir(name: string): string {
  return join(repoRoot, 'node_modules', name);
}

/** Only what `require` runs: JavaScript and package.json, no maps, typings or ESM twins. */
function runtimeFile(source: string): boolean {
  if (statSync(source).isDirectory()) return !source.endsWith(join('dist', 'esm'));
  return /\.(js|json)$/.test(source) || /(^|[/\\])LICENSE[^/\\]*$/.test(source);
}

/** Copies onnxruntime-node and onnxruntime-common into dist/node_modules, pruned to one platform. */
function stageRuntimePackages(stage: string, target: Target): void {
  const modules = join(stage, 'dist', 'node_modules');
  const binaries = join(packageDir('onnxruntime-node'), 'bin', 'napi-v6', targets[target]);
  if (!existsSync(binaries)) {
    throw new Error(
      `onnxruntime-node has no binaries for ${target} (${relative(repoRoot, binaries)} is missing)`,
    );
  }

  const common = packageDir('onnxruntime-common');
  copy(join(common, 'package.json'), join(modules, 'onnxruntime-common', 'package.json'));
  copy(
    join(common, 'dist', 'cjs'),
    join(modules, 'onnxruntime-common', 'dist', 'cjs'),
    runtimeFile,
  );

  const node = packageDir('onnxruntime-node');
  const nodeOut = join(modules, 'onnxruntime-node');
  const manifest = readJson<Manifest & { dependencies?: Record<string, string> }>(
    join(node, 'package.json'),
  );
  // adm-zip and global-agent serve its install script only (a CUDA download), which is not shipped.
  delete manifest.scripts;
  delete manifest.devDependencies;
  manifest.dependencies = {
    'onnxruntime-common': manifest.dependencies?.['onnxruntime-common'] ?? '',
  };
  mkdirSync(nodeOut, { recursive: true });
  writeFileSync(join(nodeOut, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  copy(join(node, 'dist'), join(nodeOut, 'dist'), runtimeFile);
  copy(binaries, join(nodeOut, 'bin', 'napi-v6', targets[target]), (source) => {
    const name = source.slice(binaries.length + 1);
    return !unusedBinaries.has(name);
  });
}

interface License {
  name: string;
  version: string;
  license: string;
  text?: string;
}

function licenseOf(dir: string): License {
  const manifest = readJson<{ name: string; version: string; license?: string }>(
    join(dir, 'package.json'),
  );
  const file = readdirSync(dir).find((entry) => /^(LICEN[CS]E|COPYING)/i.test(entry));
  return {
    name: manifest.name,
    version: manifest.version,
    license: manifest.license ?? 'see the package',
    text: file ? readFileSync(join(dir, file), 'utf8').trim() : undefined,
  };
}

/** Folders of the packages whose code is in the VSIX: from the bundles' source maps, plus the shipped ones. */
function shippedPackages(): string[] {
  const dirs = new Set([packageDir('onnxruntime-node'), packageDir('onnxruntime-common')]);
  for (const bundle of ['extension', 'host']) {
    const map = readJson<{ sources: string[] }>(join(repoRoot, 'dist', `${bundle}.js.map`));
    for (const source of map.sources) {
      // The innermost package: node_modules/a/node_modules/b/x.js belongs to b.
      const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(source);
      if (match) dirs.add(join(repoRoot, 'dist', match[1]));
    }
  }
  // transformers.js's Node build inlines these (its sources are not in our maps).
  if (dirs.has(packageDir('@huggingface/transformers'))) {
    for (const inlined of ['onnxruntime-web', '@huggingface/tokenizers', '@huggingface/jinja'])
      if (existsSync(packageDir(inlined))) dirs.add(packageDir(inlined));
  }
  return [...dirs];
}

function writeNotices(stage: string): void {
  const licenses = shippedPackages()
    .map(licenseOf)
    .sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
  const sections = licenses.map(({ name, version, license, text }) => {
    return `## ${name} ${version} (${license})\n\n${text ? '```\n' + text + '\n```' : `License: ${license}.`}\n`;
  });
  writeFileSync(
    join(stage, 'THIRD-PARTY-NOTICES.md'),
    `# Third-party software in GPT-2 Heads\n\n${sections.join('\n')}`,
  );
}

function stage(target: Target): string {
  const dir = join(stagingRoot, target);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  const manifest = readJson<Manifest>(join(repoRoot, 'package.json'));
  // The VSIX needs neither build scripts (vsce would run vscode:prepublish) nor dev tools.
  delete manifest.scripts;
  delete manifest.devDependencies;
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');

  for (const file of ['README.md', 'CHANGELOG.md', 'LICENSE', '.vscodeignore'])
    copy(join(repoRoot, file), join(dir, file));
  // Translations: package.nls.*.json for the manifest, l10n/ for vscode.l10n.t strings.
  for (const file of readdirSync(repoRoot).filter((name) =>
    /^package\.nls(\..+)?\.json$/.test(name),
  ))
    copy(join(repoRoot, file), join(dir, file));
  if (existsSync(join(repoRoot, 'l10n'))) copy(join(repoRoot, 'l10n'), join(dir, 'l10n'));
  for (const file of ['extension.js', 'host.js'])
    copy(join(repoRoot, 'dist', file), join(dir, 'dist', file));
  for (const entry of ['icon.png', 'walkthrough', 'screenshots']) {
    const source = join(repoRoot, 'media', entry);
    if (existsSync(source)) copy(source, join(dir, 'media', entry));
  }
  stageRuntimePackages(dir, target);
  writeNotices(dir);
  return dir;
}

function vsce(args: string[], cwd: string): void {
  const bin = join(repoRoot, 'node_modules', '@vscode', 'vsce', 'vsce');
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`vsce ${args.join(' ')} failed (${result.status})`);
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function packageTarget(target: Target): { file: string; bytes: number } {
  const dir = stage(target);
  const file = vsixPath(target);
  mkdirSync(vsixDir, { recursive: true });
  rmSync(file, { force: true });
  vsce(
    [
      'package',
      '--target',
      target,
      '--no-dependencies',
      '--out',
      file,
      // No public repository yet: README images stay relative to the installed extension,
      // where VS Code's extension page resolves them.
      '--allow-missing-repository',
      '--no-rewrite-relative-links',
    ],
    dir,
  );
  return { file, bytes: statSync(file).size };
}

function main(): void {
  for (const bundle of ['extension.js', 'host.js']) {
    if (!existsSync(join(repoRoot, 'dist', bundle)))
      throw new Error(`dist/${bundle} is missing: run \`node esbuild.mjs\` first`);
  }
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((name) => !(name in targets));
  if (unknown.length > 0) {
    throw new Error(
      `unknown target ${unknown.join(', ')}; targets: ${Object.keys(targets).join(', ')}`,
    );
  }
  const onnxruntimeVersion = licenseOf(packageDir('onnxruntime-node')).version;
  const available = (target: Target) =>
    existsSync(join(packageDir('onnxruntime-node'), 'bin', 'napi-v6', targets[target]));
  // Asked for by name, a target without binaries is an error; in "all targets" it is skipped.
  const chosen = (wanted.length > 0 ? wanted : Object.keys(targets)) as Target[];
  const skipped = wanted.length > 0 ? [] : chosen.filter((target) => !available(target));

  const made: string[] = [];
  let overBudget = false;
  for (const target of chosen.filter((target) => !skipped.includes(target))) {
    console.log(`[package] ${target}`);
    const { file, bytes } = packageTarget(target);
    const budget = sizeBudgets[target];
    const over = budget !== undefined && bytes > budget;
    overBudget ||= over;
    made.push(
      `  ${relative(repoRoot, file).padEnd(40)} ${megabytes(bytes).padStart(9)}` +
        (budget ? `  (budget ${megabytes(budget)}${over ? ', OVER' : ''})` : ''),
    );
  }
  console.log(`\n[package] made:\n${made.join('\n')}`);
  for (const target of skipped)
    console.log(
      `[package] skipped ${target}: onnxruntime-node ${onnxruntimeVersion} has no binaries for it`,
    );
  if (overBudget) throw new Error('a VSIX is over its size budget');
}

if (require.main === module) {
  try {
    main();
  } catch (error) {
    console.error(`[package] FAILED: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
