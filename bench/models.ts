// The benchmark's full-size random GPT-2 models (12 layers, 768 wide, vocab 50257, 1024
// positions), built once into .cache/bench-models/<name> with fp32 and int8 ONNX files.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { readGpt2Config, type Gpt2Architecture } from '../src/host/convert/gpt2Config';
import { makeConfig, makeRandomModel, randomWeights } from '../src/host/convert/maker';
import { writeSafetensors } from '../src/host/convert/safetensors';
import {
  buildGpt2Graph,
  readGpt2Dims,
  sameBackbone,
  type Weights,
} from '../src/host/convert/gpt2Graph';

export const UPOS_LABELS = [
  'ADJ', 'ADP', 'ADV', 'AUX', 'CCONJ', 'DET', 'INTJ', 'NOUN', 'NUM',
  'PART', 'PRON', 'PROPN', 'PUNCT', 'SCONJ', 'SYM', 'VERB', 'X',
]; // prettier-ignore

/** Every head is made with this seed: the maker draws the backbone first, so they share it. */
export const SEED = 1;

export type BenchModelName = 'lm' | 'ner' | 'pos' | 'sentiment' | 'qa';

const SPECS: Record<BenchModelName, { architecture: Gpt2Architecture; labels?: string[] }> = {
  ner: { architecture: 'GPT2ForTokenClassification' },
  pos: { architecture: 'GPT2ForTokenClassification', labels: UPOS_LABELS },
  sentiment: { architecture: 'GPT2ForSequenceClassification' },
  qa: { architecture: 'GPT2ForQuestionAnswering' },
  lm: { architecture: 'GPT2LMHeadModel' },
};

export interface BenchModels {
  root: string;
  folders: Record<BenchModelName, string>;
  /** GPT2Model graphs over the NER model's backbone: the raw baseline. */
  backbone: { fp32: string; q8: string };
  /** sameBackbone() of NER and POS (and of NER and the sentiment model), checked when built. */
  shared: { nerPos: boolean; nerSentiment: boolean };
  /** NER and POS as safetensors checkpoints (no ONNX): the host runs them as one shared graph. */
  checkpoints: { ner: string; pos: string; sentiment: string };
  /** Build time per model in ms; absent when it came from the cache. */
  buildMs: Partial<Record<BenchModelName | 'backbone', number>>;
}

const MANIFEST = 'manifest.json';

function built(folder: string): boolean {
  // makeRandomModel writes model_quantized.onnx last.
  return fs.existsSync(path.join(folder, 'onnx', 'model_quantized.onnx'));
}

/** The weights a built folder holds, drawn again from its config.json and the seed. */
function weightsOf(folder: string): Weights {
  return randomWeights(readGpt2Config(folder), SEED);
}

/** Builds what is missing (minutes the first time) and returns the folders. */
export function ensureBenchModels(root: string, log: (line: string) => void): BenchModels {
  fs.mkdirSync(root, { recursive: true });
  const folders = Object.fromEntries(
    (Object.keys(SPECS) as BenchModelName[]).map((name) => [name, path.join(root, name)]),
  ) as Record<BenchModelName, string>;
  const backboneDir = path.join(root, 'backbone');
  const backbone = {
    fp32: path.join(backboneDir, 'model.onnx'),
    q8: path.join(backboneDir, 'model_quantized.onnx'),
  };
  const manifestFile = path.join(root, MANIFEST);
  const manifest = fs.existsSync(manifestFile)
    ? (JSON.parse(fs.readFileSync(manifestFile, 'utf8')) as { shared?: BenchModels['shared'] })
    : {};
  const buildMs: BenchModels['buildMs'] = {};
  const made = new Map<BenchModelName, Weights>();

  for (const name of Object.keys(SPECS) as BenchModelName[]) {
    if (built(folders[name])) continue;
    log(`building ${name} (${SPECS[name].architecture}, full size, fp32 + int8)…`);
    const started = performance.now();
    fs.rmSync(folders[name], { recursive: true, force: true });
    const { weights } = makeRandomModel({
      architecture: SPECS[name].architecture,
      size: 'full',
      seed: SEED,
      outDir: folders[name],
      labels: SPECS[name].labels,
      dtype: 'q8',
    });
    if (name === 'ner' || name === 'pos' || name === 'sentiment') made.set(name, weights);
    buildMs[name] = Math.round(performance.now() - started);
  }

  if (!fs.existsSync(backbone.q8)) {
    log('building the raw GPT2Model backbone graphs (fp32 + int8)…');
    const started = performance.now();
    const weights = made.get('ner') ?? weightsOf(folders.ner);
    made.set('ner', weights);
    const config = makeConfig('GPT2Model', 'full', []);
    fs.mkdirSync(backboneDir, { recursive: true });
    fs.writeFileSync(backbone.fp32, buildGpt2Graph(config, weights, { architecture: 'GPT2Model' }));
    fs.writeFileSync(
      backbone.q8 + '.partial',
      buildGpt2Graph(config, weights, { architecture: 'GPT2Model', quantize: true }),
    );
    fs.renameSync(backbone.q8 + '.partial', backbone.q8);
    buildMs.backbone = Math.round(performance.now() - started);
  }

  const checkpoints = {
    ner: path.join(root, 'ner-checkpoint'),
    pos: path.join(root, 'pos-checkpoint'),
    sentiment: path.join(root, 'sentiment-checkpoint'),
  };
  for (const name of ['ner', 'pos', 'sentiment'] as const) {
    const dir = checkpoints[name];
    if (fs.existsSync(path.join(dir, 'model.safetensors'))) continue;
    log(`writing the ${name} checkpoint (safetensors)…`);
    fs.mkdirSync(dir, { recursive: true });
    for (const file of [
      'config.json',
      'tokenizer.json',
      'tokenizer_config.json',
      'special_tokens_map.json',
    ]) {
      const source = path.join(folders[name], file);
      if (fs.existsSync(source)) fs.copyFileSync(source, path.join(dir, file));
    }
    writeSafetensors(
      path.join(dir, 'model.safetensors'),
      made.get(name) ?? weightsOf(folders[name]),
      {
        format: 'pt',
      },
    );
  }

  let shared = manifest.shared;
  if (!shared || made.size > 0) {
    log('checking which models share the backbone (sameBackbone)…');
    const dims = readGpt2Dims(makeConfig('GPT2Model', 'full', []));
    const ner = made.get('ner') ?? weightsOf(folders.ner);
    const pos = made.get('pos') ?? weightsOf(folders.pos);
    const nerPos = sameBackbone(dims, ner, pos);
    made.delete('pos');
    const sentiment = made.get('sentiment') ?? weightsOf(folders.sentiment);
    shared = { nerPos, nerSentiment: sameBackbone(dims, ner, sentiment) };
    fs.writeFileSync(manifestFile, JSON.stringify({ seed: SEED, shared }, null, 2) + '\n');
  }
  return { root, folders, checkpoints, backbone, shared, buildMs };
}
