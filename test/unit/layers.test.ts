// The floors between src's layers, and no import cycle, read from the sources themselves: every
// static, type-only, dynamic and require import counts. ESLint enforces the same floors as you
// type (eslint.config.mjs); the last test checks that it still does.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ESLint } from 'eslint';
import * as ts from 'typescript';
import { repoRoot } from '../support/fixtures';

const srcDir = join(repoRoot, 'src');

/** Module → its imports: `src`-relative paths without extension for our modules, names otherwise. */
type ImportGraph = Map<string, { internal: string[]; external: string[] }>;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.d.ts') ? [path] : [];
  });
}

function moduleName(file: string): string {
  return relative(srcDir, file).replace(/\\/g, '/').replace(/\.ts$/, '');
}

function resolveModule(fromFile: string, specifier: string): string | undefined {
  const base = resolve(dirname(fromFile), specifier);
  for (const candidate of [`${base}.ts`, join(base, 'index.ts')]) {
    if (existsSync(candidate)) return moduleName(candidate);
  }
  return undefined;
}

function importGraph(): ImportGraph {
  const graph: ImportGraph = new Map();
  for (const file of sourceFiles(srcDir)) {
    // preProcessFile lists imports, exports-from, import() and require(), type-only ones too.
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const internal: string[] = [];
    const external: string[] = [];
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) external.push(fileName);
      else {
        const target = resolveModule(file, fileName);
        assert.ok(target, `${moduleName(file)} imports ${fileName}, which does not resolve`);
        internal.push(target);
      }
    }
    graph.set(moduleName(file), { internal, external });
  }
  return graph;
}

const layerOf = (module: string): string => module.split('/')[0];

const pureForbidden = [
  'vscode',
  'onnxruntime-node',
  'onnxruntime-common',
  'fs',
  'node:fs',
  'fs/promises',
  'node:fs/promises',
];

/** Every import that crosses a floor, as "from → to" lines. */
function floorViolations(graph: ImportGraph): string[] {
  const violations: string[] = [];
  for (const [module, { internal, external }] of graph) {
    const layer = layerOf(module);
    const bad = (targets: string[], forbidden: (target: string) => boolean) =>
      targets.filter(forbidden).forEach((target) => violations.push(`${module} → ${target}`));
    if (layer === 'heads' || layer === 'text') {
      bad(external, (name) => pureForbidden.includes(name));
      bad(internal, (target) => ['host', 'client'].includes(layerOf(target)));
    }
    if (layer === 'client') bad(internal, (target) => layerOf(target) === 'host');
    if (layer === 'host' || module === 'protocol' || module === 'cli') {
      bad(external, (name) => name === 'vscode');
      bad(internal, (target) => layerOf(target) === 'client');
    }
    if (module === 'protocol') bad(internal, (target) => layerOf(target) === 'host');
  }
  return violations;
}

/** One import cycle as a path a → b → … → a, or undefined when there is none. */
function findCycle(graph: ImportGraph): string[] | undefined {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (module: string): string[] | undefined => {
    if (state.get(module) === 'done') return undefined;
    if (state.get(module) === 'open') return [...stack.slice(stack.indexOf(module)), module];
    state.set(module, 'open');
    stack.push(module);
    for (const next of graph.get(module)?.internal ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(module, 'done');
    return undefined;
  };
  for (const module of graph.keys()) {
    const cycle = visit(module);
    if (cycle) return cycle;
  }
  return undefined;
}

function graphOf(edges: Record<string, { internal?: string[]; external?: string[] }>): ImportGraph {
  return new Map(
    Object.entries(edges).map(([module, e]) => [
      module,
      { internal: e.internal ?? [], external: e.external ?? [] },
    ]),
  );
}

describe('the layers of src', () => {
  const graph = importGraph();

  it('reads the imports of every source file, type-only and dynamic ones included', () => {
    assert.ok(graph.size > 40, `only ${graph.size} modules found under src`);
    assert.ok(graph.get('protocol')?.internal.includes('heads/tokenClassification'));
    assert.ok(graph.get('host/tasks/run')?.external.includes('onnxruntime-node'));
  });

  it('keeps heads and text pure, client and host apart, and vscode out of the host', () => {
    assert.deepEqual(floorViolations(graph), []);
  });

  it('has no import cycle', () => {
    const cycle = findCycle(graph);
    assert.equal(cycle, undefined, `import cycle: ${cycle?.join(' → ')}`);
  });

  it('the checks find a broken floor and a cycle when there is one', () => {
    const broken = graphOf({
      'heads/a': { internal: ['host/b'], external: ['node:fs'] },
      'text/c': { external: ['onnxruntime-common'] },
      'client/d': { internal: ['host/b'] },
      'host/b': { internal: ['client/d'], external: ['vscode'] },
      protocol: { internal: ['host/b'] },
    });
    assert.deepEqual(floorViolations(broken).sort(), [
      'client/d → host/b',
      'heads/a → host/b',
      'heads/a → node:fs',
      'host/b → client/d',
      'host/b → vscode',
      'protocol → host/b',
      'text/c → onnxruntime-common',
    ]);
    assert.deepEqual(findCycle(broken), ['host/b', 'client/d', 'host/b']);
    assert.equal(findCycle(graphOf({ a: { internal: ['b'] }, b: {} })), undefined);
  });

  it('ESLint rejects the same imports as you type', async function () {
    this.timeout(60_000);
    const eslint = new ESLint({ cwd: repoRoot });
    const offences: [string, string][] = [
      ['src/heads/floorCheck.ts', "import type { Tensor } from 'onnxruntime-node';"],
      ['src/heads/floorCheck.ts', "import { readFileSync } from 'node:fs';"],
      ['src/text/floorCheck.ts', "import type { LoadedModel } from '../host/models/loadedModel';"],
      ['src/text/floorCheck.ts', "import * as vscode from 'vscode';"],
      ['src/client/floorCheck.ts', "import { HostError } from '../host/errors';"],
      ['src/host/floorCheck.ts', "import type { FeatureContext } from '../client/context';"],
      ['src/host/floorCheck.ts', "import * as vscode from 'vscode';"],
    ];
    for (const [file, line] of offences) {
      const [result] = await eslint.lintText(`${line}\nexport {};\n`, {
        filePath: join(repoRoot, file),
      });
      assert.ok(
        result.messages.some((m) => m.ruleId === 'no-restricted-imports'),
        `ESLint lets ${file} say: ${line}`,
      );
    }
  });
});
