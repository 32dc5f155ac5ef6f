// Broken model folders, made on demand in a scratch folder, each with the request that exposes it
// and the message the host must answer with. Good folders are copied from the reference fixtures
// or written by the project's own model maker; each case then breaks exactly one thing.
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Dtype, HeadRole } from '../../src/protocol';
import { makeConfig, randomWeights } from '../../src/host/convert/maker';
import { writeOnnxModels } from '../../src/host/convert/checkpoint';
import type { Gpt2Architecture } from '../../src/host/convert/gpt2Config';
import type { Weights } from '../../src/host/convert/gpt2Graph';
import { writeSafetensors } from '../../src/host/convert/safetensors';
import { writeGpt2TokenizerFiles } from '../../src/host/convert/tokenizerFiles';

export interface BrokenModel {
  name: string;
  /** What is wrong, in the words of a test title. */
  what: string;
  /** The role the broken folder is configured for, which picks the request sent. */
  role: HeadRole;
  folder: string;
  /** The message the host must answer with. */
  message: RegExp;
  /** Host settings this case needs besides the model (e.g. dtype q8). */
  dtype?: Dtype;
  /** Accept a successful load too (permissions do not bite when the tests run as root). */
  mayLoad?: boolean;
  /** The folder is a healthy model, only of the wrong kind for its role: it may stay loaded. */
  healthyModel?: boolean;
  /** A file the host must never create (a "model" that is a shell script). */
  mustNotExist?: string;
}

function copyFolder(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    if (name === 'expected.json') continue;
    const source = join(from, name);
    if (statSync(source).isDirectory()) copyFolder(source, join(to, name));
    else {
      copyFileSync(source, join(to, name));
      chmodSync(join(to, name), 0o644);
    }
  }
  chmodSync(to, 0o755);
}

function editJson(file: string, edit: (value: Record<string, unknown>) => unknown): void {
  const value = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  writeFileSync(file, JSON.stringify(edit(value) ?? value, null, 2));
}

/** A tiny random model of `architecture` written as the maker does, with a few hooks. */
function writeModel(
  folder: string,
  architecture: Gpt2Architecture,
  options: {
    labels?: string[];
    vocabSize?: number;
    editWeights?: (weights: Weights) => void;
    safetensorsOnly?: boolean;
  } = {},
): void {
  const labels =
    options.labels ??
    (architecture === 'GPT2ForSequenceClassification' ? ['NEGATIVE', 'POSITIVE'] : ['A', 'B']);
  const config = makeConfig(architecture, 'tiny', labels, {
    n_layer: 1,
    n_embd: 16,
    n_head: 2,
    ...(options.vocabSize ? { vocab_size: options.vocabSize } : {}),
  });
  const weights = randomWeights(config, 7, 0.5);
  options.editWeights?.(weights);
  mkdirSync(folder, { recursive: true });
  writeFileSync(join(folder, 'config.json'), JSON.stringify(config, null, 2));
  writeGpt2TokenizerFiles(folder, { modelMaxLength: config.n_positions! });
  if (options.safetensorsOnly) writeSafetensors(join(folder, 'model.safetensors'), weights);
  else writeOnnxModels(folder, config, weights, 'fp32');
}

/**
 * Writes every broken folder under `root` and returns them. `fixturesDir` holds the reference
 * models (gpt2-tiny-ner is the healthy base of most cases).
 */
export function makeBrokenModels(root: string, fixturesDir: string): BrokenModel[] {
  const ner = join(fixturesDir, 'gpt2-tiny-ner');
  const cases: BrokenModel[] = [];
  const add = (
    name: string,
    what: string,
    role: HeadRole,
    message: RegExp,
    make: (folder: string) => void,
    extra: Partial<BrokenModel> = {},
  ) => {
    const folder = join(root, name);
    rmSync(folder, { recursive: true, force: true });
    make(folder);
    cases.push({ name, what, role, folder, message, ...extra });
  };
  const fromNer = (edit: (folder: string) => void) => (folder: string) => {
    copyFolder(ner, folder);
    edit(folder);
  };

  add('empty-folder', 'an empty folder', 'ner', /has no config\.json/, (f) => mkdirSync(f));
  add(
    'missing-config',
    'a folder without config.json',
    'ner',
    /has no config\.json/,
    fromNer((f) => rmSync(join(f, 'config.json'))),
  );
  add(
    'invalid-json-config',
    'a config.json that is not JSON',
    'ner',
    /config\.json of .* is not valid JSON/,
    fromNer((f) => writeFileSync(join(f, 'config.json'), '{"model_type": "gpt2", ')),
  );
  add(
    'config-not-object',
    'a config.json holding an array',
    'ner',
    /config\.json of .* is not a JSON object/,
    fromNer((f) => writeFileSync(join(f, 'config.json'), '[1, 2, 3]')),
  );
  add(
    'config-missing-n-embd',
    'a config.json without n_embd',
    'ner',
    /has no valid "n_embd"/,
    fromNer((f) =>
      editJson(join(f, 'config.json'), (c) => {
        delete c.n_embd;
      }),
    ),
  );
  add(
    'wrong-model-type',
    'a BERT config',
    'ner',
    /is a bert model; GPT-2 Heads runs GPT-2 models only/,
    fromNer((f) => editJson(join(f, 'config.json'), (c) => ({ ...c, model_type: 'bert' }))),
  );
  add(
    'unknown-architecture',
    'an architecture GPT-2 Heads does not know',
    'ner',
    /GPT2ForImageCaptioning, which GPT-2 Heads does not run\. Supported:/,
    fromNer((f) =>
      editJson(join(f, 'config.json'), (c) => ({
        ...c,
        architectures: ['GPT2ForImageCaptioning'],
      })),
    ),
  );
  add(
    'n-head-not-dividing',
    'n_head that does not divide n_embd',
    'ner',
    /n_embd \(\d+\) is not a multiple of n_head \(\d+\)/,
    fromNer((f) => editJson(join(f, 'config.json'), (c) => ({ ...c, n_head: 3 }))),
  );
  add(
    'missing-tokenizer',
    'a folder without tokenizer.json (nor vocab.json + merges.txt)',
    'ner',
    /has no tokenizer: neither tokenizer\.json nor vocab\.json \+ merges\.txt/,
    fromNer((f) => rmSync(join(f, 'tokenizer.json'))),
  );
  add(
    'corrupt-tokenizer',
    'a tokenizer.json cut in the middle',
    'ner',
    /tokenizer\.json of .* is damaged/,
    fromNer((f) => {
      const file = join(f, 'tokenizer.json');
      truncateSync(file, Math.floor(statSync(file).size / 2));
    }),
  );
  add(
    'role-mismatch',
    'a language model set as the NER model',
    'ner',
    /is a GPT2LMHeadModel, not a token-classification model/,
    (f) => copyFolder(join(fixturesDir, 'gpt2-tiny-lm'), f),
    { healthyModel: true },
  );
  add(
    'token-labels-mismatch',
    'id2label with 5 labels on a 9-label token head',
    'ner',
    /9 outputs .* config\.json names 5 labels/,
    fromNer((f) =>
      editJson(join(f, 'config.json'), (c) => {
        const names = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];
        return {
          ...c,
          id2label: Object.fromEntries(names.map((n, i) => [String(i), n])),
          label2id: Object.fromEntries(names.map((n, i) => [n, i])),
        };
      }),
    ),
  );
  add(
    'sequence-labels-mismatch',
    'id2label with 5 labels on a 2-label sequence head',
    'classification',
    /2 outputs .* config\.json names 5 labels/,
    (f) => {
      copyFolder(join(fixturesDir, 'gpt2-tiny-sentiment'), f);
      editJson(join(f, 'config.json'), (c) => {
        const names = ['a', 'b', 'c', 'd', 'e'];
        return {
          ...c,
          num_labels: 5,
          id2label: Object.fromEntries(names.map((n, i) => [String(i), n])),
          label2id: Object.fromEntries(names.map((n, i) => [n, i])),
        };
      });
    },
  );
  add(
    'truncated-onnx',
    'an ONNX file cut in half',
    'ner',
    /ONNX file of .* could not be loaded; it is damaged or not ONNX/,
    fromNer((f) => {
      const file = join(f, 'onnx', 'model.onnx');
      truncateSync(file, Math.floor(statSync(file).size / 2));
    }),
  );
  add(
    'empty-onnx',
    'a 0-byte model.onnx',
    'ner',
    /onnx\/model\.onnx .* is empty \(0 bytes\)/,
    fromNer((f) => writeFileSync(join(f, 'onnx', 'model.onnx'), '')),
  );
  add(
    'text-as-onnx',
    'a text file named model.onnx',
    'ner',
    /ONNX file of .* could not be loaded; it is damaged or not ONNX/,
    fromNer((f) =>
      writeFileSync(join(f, 'onnx', 'model.onnx'), 'This is a README, not a model.\n'.repeat(40)),
    ),
  );
  const marker = join(root, 'script-ran');
  add(
    'script-as-onnx',
    'a shell script named model.onnx (never executed)',
    'ner',
    /ONNX file of .* could not be loaded; it is damaged or not ONNX/,
    fromNer((f) => {
      const file = join(f, 'onnx', 'model.onnx');
      writeFileSync(file, `#!/bin/sh\ntouch '${marker}'\n`);
      chmodSync(file, 0o755);
    }),
    { mustNotExist: marker },
  );
  add(
    'onnx-symlink-loop',
    'onnx/model.onnx a symbolic link to itself',
    'ner',
    /onnx\/model\.onnx .* symbolic link .* loop/,
    fromNer((f) => {
      rmSync(join(f, 'onnx', 'model.onnx'));
      symlinkSync('model.onnx', join(f, 'onnx', 'model.onnx'));
    }),
  );
  add(
    'folder-symlink-loop',
    'a model folder that is a symbolic link to itself',
    'ner',
    /is a symbolic link .* loop/,
    (f) => symlinkSync(f, f),
  );
  add(
    'folder-is-file',
    'a model path that is a file',
    'ner',
    /is a file, not a model folder/,
    (f) => writeFileSync(f, 'not a folder'),
  );
  add(
    'no-weights',
    'a folder with config and tokenizer but no weights',
    'ner',
    /has no weights: expected onnx\/model\.onnx .*, model\.safetensors or pytorch_model\.bin/,
    fromNer((f) => rmSync(join(f, 'onnx'), { recursive: true })),
  );
  add(
    'bin-only',
    'a pytorch_model.bin whose pickle calls os.system (refused by name, never run)',
    'ner',
    /refused to load: the pickle names os\.system.*Nothing from the file was run/,
    fromNer((f) => {
      rmSync(join(f, 'onnx'), { recursive: true });
      // A pickle that would create the marker if anything unpickled it.
      writeFileSync(join(f, 'pytorch_model.bin'), `cos\nsystem\n(S'touch ${marker}'\ntR.`);
    }),
    { mustNotExist: marker },
  );
  add(
    'q8-missing',
    'dtype q8 where only fp32 exists',
    'ner',
    /no onnx\/model_quantized\.onnx\. Set "gpt2Heads\.dtype"/,
    fromNer(() => undefined),
    { dtype: 'q8' },
  );
  add(
    'unreadable-config',
    'an unreadable config.json (chmod 000)',
    'ner',
    /config\.json of .* cannot be read/,
    fromNer((f) => chmodSync(join(f, 'config.json'), 0o000)),
    { mayLoad: true },
  );
  add(
    'truncated-safetensors',
    'a model.safetensors cut in half',
    'ner',
    /model\.safetensors: truncated file/,
    (f) => {
      writeModel(f, 'GPT2ForTokenClassification', { safetensorsOnly: true });
      const file = join(f, 'model.safetensors');
      truncateSync(file, Math.floor(statSync(file).size / 2));
    },
  );
  add(
    'lying-safetensors',
    'a safetensors header that claims more bytes than a tensor has',
    'ner',
    /model\.safetensors: tensor .*data_offsets .* hold \d+ bytes/,
    (f) => {
      writeModel(f, 'GPT2ForTokenClassification', { safetensorsOnly: true });
      const file = join(f, 'model.safetensors');
      const bytes = readFileSync(file);
      const length = Number(bytes.readBigUInt64LE(0));
      const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')) as Record<
        string,
        { shape?: number[] }
      >;
      // Same header length: change one digit of a shape so the sizes disagree.
      const name = 'transformer.ln_f.bias';
      const text = bytes.subarray(8, 8 + length).toString('utf8');
      const shape = JSON.stringify(header[name].shape);
      const lie = JSON.stringify([header[name].shape![0] * 2]);
      const entry = text.indexOf(`"${name}"`);
      const at = text.indexOf(shape, entry);
      let patched = text.slice(0, at) + lie + text.slice(at + shape.length);
      patched = patched.slice(0, length).padEnd(length, ' ');
      writeFileSync(
        file,
        Buffer.concat([bytes.subarray(0, 8), Buffer.from(patched), bytes.subarray(8 + length)]),
      );
    },
  );
  add('nan-weights-onnx', 'NaN weights in an ONNX export', 'ner', /produced NaN/, (f) =>
    writeModel(f, 'GPT2ForTokenClassification', {
      editWeights: (w) => w.get('transformer.ln_f.bias')!.data.fill(NaN),
    }),
  );
  add(
    'nan-weights-safetensors',
    'NaN weights in a safetensors checkpoint',
    'classification',
    /produced NaN/,
    (f) =>
      writeModel(f, 'GPT2ForSequenceClassification', {
        safetensorsOnly: true,
        editWeights: (w) => w.get('transformer.h.0.mlp.c_fc.bias')!.data.fill(NaN),
      }),
  );
  add(
    'vocab-mismatch',
    'vocab_size larger than the embedding rows',
    'ner',
    /embedding has fewer rows than the tokenizer's vocabulary/,
    (f) => {
      writeModel(f, 'GPT2ForTokenClassification', { vocabSize: 1000 });
      editJson(join(f, 'config.json'), (c) => ({ ...c, vocab_size: 50257 }));
    },
  );
  return cases;
}
