// Builds the extension, the model host and the CLI as bundles (dist/), and with
// --tests also transpiles tests, benchmarks and scripts file by file (out/).
import * as esbuild from 'esbuild';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const watch = process.argv.includes('--watch');
const withTests = process.argv.includes('--tests');

// Native and heavy packages are loaded from node_modules at run time.
const external = [
  'vscode',
  '@huggingface/transformers',
  'onnxruntime-node',
  'onnxruntime-web',
  'sharp',
  'gpt-3-encoder',
];

const bundles = {
  entryPoints: {
    extension: 'src/extension.ts',
    host: 'src/host/server.ts',
    cli: 'src/cli.ts',
  },
  outdir: 'dist',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  external,
  logLevel: 'warning',
};

function tsFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

const transpiled = {
  entryPoints: ['src', 'test', 'bench', 'scripts'].flatMap(tsFiles),
  outdir: 'out',
  outbase: '.',
  bundle: false,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: true,
  logLevel: 'warning',
};

const configs = withTests ? [bundles, transpiled] : [bundles];
if (watch) {
  for (const config of configs) await (await esbuild.context(config)).watch();
  console.log('esbuild: watching for changes');
} else {
  await Promise.all(configs.map((config) => esbuild.build(config)));
}
