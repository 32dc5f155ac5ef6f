import tseslint from 'typescript-eslint';

// The floors between the layers (README "How it works"). Each entry lists what a folder may not
// import; type-only imports count too. test/unit/layers.test.ts checks that these stay enforced.
const vscode = {
  name: 'vscode',
  message: 'Only src/extension.ts and src/client may import vscode.',
};
const pure = 'src/heads and src/text are pure: tensors and text in, results out, in plain Node.';
const pureRestrictions = {
  paths: [
    vscode,
    ...['onnxruntime-node', 'onnxruntime-common'].map((name) => ({
      name,
      message: `${pure} Run models in src/host.`,
    })),
    ...['fs', 'node:fs', 'fs/promises', 'node:fs/promises'].map((name) => ({
      name,
      message: `${pure} Read and write files in src/host.`,
    })),
  ],
  patterns: [
    {
      regex: '(^|/)(host|client)(/|$)',
      message: `${pure} They import nothing from src/host or src/client.`,
    },
  ],
};
const clientRestrictions = {
  patterns: [
    {
      regex: '(^|/)host(/|$)',
      message: 'src/client talks to the model host through src/protocol.ts only, never its code.',
    },
  ],
};
const hostRestrictions = {
  paths: [vscode],
  patterns: [
    {
      regex: '(^|/)client(/|$)',
      message: 'src/host runs outside VS Code: it never imports src/client.',
    },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules', 'dist', 'out', '.cache', '.vscode-test', 'test/fixtures'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-restricted-imports': ['error', { paths: [vscode] }],
    },
  },
  {
    files: ['src/extension.ts', 'test/vscode/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['src/client/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', clientRestrictions] },
  },
  {
    files: ['src/host/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', hostRestrictions] },
  },
  {
    files: ['src/heads/**/*.ts', 'src/text/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', pureRestrictions] },
  },
);
