/**
 * Turns a Hugging Face PyTorch checkpoint folder (config.json + safetensors) into the ONNX model
 * folder transformers.js loads: config.json, tokenizer files, generation_config.json,
 * onnx/model.onnx (+ onnx/model_quantized.onnx for q8). pytorch_model.bin is read by the
 * weights-only pickle reader (torchCheckpoint.ts), which never runs anything from the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { WeightDtype } from '../../protocol';
import { tokenizerFileNames } from './tokenizerFiles';
import {
  architectureOf,
  ModelFormatError,
  readGpt2Config,
  writeGpt2Config,
  type Gpt2Config,
} from './gpt2Config';
import { readGpt2Dims, writeGpt2Graph, type Weights } from './gpt2Graph';
import { openSafetensors } from './safetensors';
import { readShardIndex, safetensorsFile, safetensorsIndexFile } from './weights';
import { tokenizerJsonFromSlowFiles } from './slowTokenizer';
import { readTorchCheckpointFolder } from './torchCheckpoint';

export interface ConvertOptions {
  dtype?: WeightDtype;
}

/** Files copied unchanged from the checkpoint when present. */
const COPIED_FILES = [...tokenizerFileNames, 'generation_config.json'];

/**
 * The weights of model.safetensors, or of the shards listed in model.safetensors.index.json, each
 * read from its file when first used (see openSafetensors); pytorch_model.bin is read whole.
 */
export function readCheckpointWeights(dir: string): Weights {
  const single = path.join(dir, safetensorsFile);
  if (fs.existsSync(single)) return openSafetensors(single).tensors;
  const index = readShardIndex(dir, safetensorsIndexFile);
  if (index) {
    const weights: Weights = new Map();
    for (const shard of index.shards) {
      const file = path.join(dir, shard);
      if (!fs.existsSync(file))
        throw new ModelFormatError(`${index.path}: shard ${shard} is missing`);
      for (const [name, tensor] of openSafetensors(file).tensors) weights.set(name, tensor);
    }
    for (const [name, shard] of Object.entries(index.weightMap)) {
      if (!weights.has(name))
        throw new ModelFormatError(`${index.path}: tensor ${name} is not in shard ${shard}`);
    }
    return weights;
  }
  const torch = readTorchCheckpointFolder(dir);
  if (torch) return torch;
  const pickles = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.bin') || f.endsWith('.pt') || f.endsWith('.pth'));
  if (pickles.length > 0) {
    throw new ModelFormatError(
      `${dir}: no model.safetensors or pytorch_model.bin (found ${pickles.join(', ')}); ` +
        'save the checkpoint with `save_pretrained`, which names its weights that way',
    );
  }
  throw new ModelFormatError(
    `${dir}: no weights: model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json`,
  );
}

/**
 * Writes onnx/model.onnx (and onnx/model_quantized.onnx for q8) for the config's architecture,
 * one graph at a time and each straight to its file.
 */
export function writeOnnxModels(
  outDir: string,
  config: Gpt2Config,
  weights: Weights,
  dtype: WeightDtype,
): void {
  const onnxDir = path.join(outDir, 'onnx');
  writeGpt2Graph(path.join(onnxDir, 'model.onnx'), config, weights);
  if (dtype === 'q8') {
    writeGpt2Graph(path.join(onnxDir, 'model_quantized.onnx'), config, weights, {
      quantize: true,
    });
  }
}

/** Converts a safetensors checkpoint folder into an ONNX model folder. */
export function convertCheckpoint(
  srcDir: string,
  outDir: string,
  options: ConvertOptions = {},
): void {
  if (!fs.existsSync(srcDir)) throw new ModelFormatError(`${srcDir}: folder does not exist`);
  const config = readGpt2Config(srcDir);
  architectureOf(config, srcDir);
  readGpt2Dims(config);
  const weights = readCheckpointWeights(srcDir);
  // Checkpoints with only the slow tokenizer's files: build tokenizer.json as GPT2TokenizerFast does.
  const tokenizerJson = fs.existsSync(path.join(srcDir, 'tokenizer.json'))
    ? undefined
    : tokenizerJsonFromSlowFiles(srcDir);
  // The graphs are built before anything else is written, so a bad checkpoint leaves no
  // half-made folder.
  writeOnnxModels(outDir, config, weights, options.dtype ?? 'fp32');
  writeGpt2Config(outDir, config);
  for (const name of COPIED_FILES) {
    const file = path.join(srcDir, name);
    if (fs.existsSync(file)) fs.copyFileSync(file, path.join(outDir, name));
  }
  if (tokenizerJson) fs.writeFileSync(path.join(outDir, 'tokenizer.json'), tokenizerJson);
}
