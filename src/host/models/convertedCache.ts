import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { convertInChild } from '../convert/inChild';
import { CancelledError, HostError } from '../errors';
import { writeFolderAtomic } from '../files';
import { checkpointWeightFiles, safetensorsFile } from '../convert/weights';
import type { CheckpointConverter } from './loadedModel';

async function hashFiles(folder: string, names: string[]): Promise<string> {
  const hash = createHash('sha256');
  for (const name of names) {
    hash.update(`${name}\0`);
    await new Promise<void>((resolve, reject) => {
      createReadStream(join(folder, name))
        .on('data', (chunk) => hash.update(chunk))
        .on('end', resolve)
        .on('error', reject);
    });
  }
  return hash.digest('hex').slice(0, 32);
}

/** The tokenizer files a converted folder is built from (tokenizer.json or the slow files). */
function tokenizerFiles(folder: string): string[] {
  return [
    'tokenizer.json',
    'vocab.json',
    'merges.txt',
    'tokenizer_config.json',
    'added_tokens.json',
    'special_tokens_map.json',
  ].filter((name) => existsSync(join(folder, name)));
}

/**
 * Checkpoints (safetensors or pytorch_model.bin) become ONNX folders under `<cacheDir>/converted/<hash>`, keyed by the
 * hash of config.json and the weights, so a checkpoint is converted once and a changed one again.
 */
export const convertWithCache: CheckpointConverter = async (
  folder,
  cacheDir,
  dtype,
  report,
  signal,
) => {
  report('Checking the checkpoint…');
  let files: string[];
  try {
    files = ['config.json', ...checkpointWeightFiles(folder)];
  } catch (error) {
    throw new HostError(`The checkpoint could not be read: ${(error as Error).message}`);
  }
  if (files.length === 1) files.push(safetensorsFile);
  for (const file of files) {
    if (!existsSync(join(folder, file))) throw new HostError(`The checkpoint is missing ${file}.`);
  }
  // The tokenizer files too: a converted folder holds the tokenizer.json built from them.
  const key = await hashFiles(folder, [...files, ...tokenizerFiles(folder)]);
  const target = join(cacheDir, 'converted', `${key}-${dtype}`);
  if (existsSync(join(target, 'onnx', 'model.onnx'))) return target;
  report(`Building the ONNX graph from ${files[1]} (once per checkpoint)…`);
  await writeFolderAtomic(target, async (partial) => {
    try {
      await convertInChild({ kind: 'checkpoint', source: folder, out: partial, dtype }, signal);
    } catch (error) {
      if (error instanceof CancelledError) {
        throw new HostError('Converting the checkpoint was cancelled; nothing was kept.');
      }
      throw new HostError(`The checkpoint could not be converted: ${(error as Error).message}`);
    }
    if (!existsSync(join(partial, 'tokenizer.json'))) {
      throw new HostError(
        'The checkpoint has no tokenizer: neither tokenizer.json nor vocab.json + merges.txt. ' +
          'Save the tokenizer with tokenizer.save_pretrained(folder).',
      );
    }
  });
  return target;
};
