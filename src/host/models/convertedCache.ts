import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { join } from 'node:path';
import { convertCheckpoint } from '../convert/checkpoint';
import { HostError } from '../errors';
import { writeFolderAtomic } from '../files';
import { safetensorsFile, safetensorsFiles } from '../convert/weights';
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

/**
 * Safetensors checkpoints become ONNX folders under `<cacheDir>/converted/<hash>`, keyed by the
 * hash of config.json and the weights, so a checkpoint is converted once and a changed one again.
 */
export const convertWithCache: CheckpointConverter = async (folder, cacheDir, dtype, report) => {
  report('Checking the checkpoint…');
  const weights = safetensorsFiles(folder);
  const files = ['config.json', ...(weights.length > 0 ? weights : [safetensorsFile])];
  for (const file of files) {
    if (!existsSync(join(folder, file))) throw new HostError(`The checkpoint is missing ${file}.`);
  }
  const key = await hashFiles(folder, files);
  const target = join(cacheDir, 'converted', `${key}-${dtype}`);
  if (existsSync(join(target, 'onnx', 'model.onnx'))) return target;
  report('Building the ONNX graph from model.safetensors (once per checkpoint)…');
  await writeFolderAtomic(target, (partial) => {
    try {
      convertCheckpoint(folder, partial, { dtype });
    } catch (error) {
      throw new HostError(`The checkpoint could not be converted: ${(error as Error).message}`);
    }
    if (!existsSync(join(partial, 'tokenizer.json'))) {
      throw new HostError(
        'The checkpoint has no tokenizer.json. Save the tokenizer with a fast tokenizer ' +
          '(tokenizer.save_pretrained(folder) writes tokenizer.json).',
      );
    }
  });
  return target;
};
