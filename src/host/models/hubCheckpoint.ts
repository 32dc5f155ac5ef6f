// Hub repositories that publish a PyTorch checkpoint (safetensors, or only pytorch_model.bin as
// most fine-tuned GPT-2 heads of 2019-2023) but no ONNX export: their files are downloaded into
// the cache like transformers.js does for ONNX repositories, then converted to ONNX like a local
// checkpoint folder (pytorch_model.bin by the weights-only reader, which never runs anything).
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HostError } from '../errors';
import { writeFolderAtomic } from '../files';
import {
  readShardIndex,
  safetensorsFile,
  safetensorsIndexFile,
  torchFile,
  torchIndexFile,
} from '../convert/weights';
import { offlineMissingMessage, transformers } from './runtime';

const requiredFiles = ['config.json'];
const optionalFiles = [
  'tokenizer.json',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
];
const completeMarker = '.complete';

export function hubCheckpointFolder(cacheDir: string, hubId: string): string {
  return join(cacheDir, 'hub-checkpoints', ...hubId.split('/'));
}

function fileUrl(hubId: string, file: string): string {
  const { env } = transformers();
  const host = env.remoteHost.endsWith('/') ? env.remoteHost : `${env.remoteHost}/`;
  const path = env.remotePathTemplate.replace('{model}', hubId).replace('{revision}', 'main');
  return `${host}${path}${file}`;
}

async function fetchFile(
  hubId: string,
  file: string,
  target: string,
  signal: AbortSignal,
  report: (message: string, percent?: number) => void,
  required: boolean,
): Promise<boolean> {
  const { env } = transformers();
  const response = (await env.fetch(fileUrl(hubId, file), { signal })) as Response;
  if (response.status === 404 && !required) return false;
  if (!response.ok || !response.body) {
    throw new HostError(`Downloading ${file} of "${hubId}" failed: HTTP ${response.status}.`);
  }
  const total = Number(response.headers.get('content-length')) || 0;
  let loaded = 0;
  let lastPercent = -1;
  const body = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream);
  body.on('data', (chunk: Buffer) => {
    loaded += chunk.length;
    const percent = total ? Math.floor((loaded / total) * 100) : undefined;
    if (percent !== undefined && percent !== lastPercent) {
      lastPercent = percent;
      report(`Downloading ${file}`, percent);
    }
  });
  mkdirSync(dirname(target), { recursive: true });
  await pipeline(body, createWriteStream(target), { signal });
  return true;
}

/**
 * The local folder of a Hub checkpoint, downloading it first if needed. Offline, only a complete
 * earlier download counts.
 */
export async function hubCheckpoint(
  hubId: string,
  cacheDir: string,
  offline: boolean,
  signal: AbortSignal,
  report: (message: string, percent?: number) => void,
): Promise<string> {
  const folder = hubCheckpointFolder(cacheDir, hubId);
  if (existsSync(join(folder, completeMarker))) return folder;
  if (offline) throw new HostError(offlineMissingMessage(hubId));
  const fetchInto = (partial: string, file: string, required: boolean) =>
    fetchFile(hubId, file, join(partial, file), signal, report, required);
  // A sharded checkpoint: its index file, then every shard the index names.
  const fetchSharded = async (partial: string, indexFile: string) => {
    if (!(await fetchInto(partial, indexFile, false))) return false;
    for (const shard of readShardIndex(partial, indexFile)?.shards ?? []) {
      await fetchInto(partial, shard, true);
    }
    return true;
  };
  try {
    await writeFolderAtomic(folder, async (partial) => {
      for (const file of requiredFiles) await fetchInto(partial, file, true);
      for (const file of optionalFiles) await fetchInto(partial, file, false);
      if (
        !existsSync(join(partial, 'tokenizer.json')) &&
        !existsSync(join(partial, 'merges.txt'))
      ) {
        throw new HostError(
          `"${hubId}" has no tokenizer: neither tokenizer.json nor vocab.json + merges.txt.`,
        );
      }
      const found =
        (await fetchInto(partial, safetensorsFile, false)) ||
        (await fetchSharded(partial, safetensorsIndexFile)) ||
        (await fetchInto(partial, torchFile, false)) ||
        (await fetchSharded(partial, torchIndexFile));
      if (!found) {
        throw new HostError(
          `"${hubId}" has no weights GPT-2 Heads reads: no ONNX export (onnx/model.onnx), no ` +
            `model.safetensors and no pytorch_model.bin (or their sharded index files).`,
        );
      }
      writeFileSync(join(partial, completeMarker), new Date().toISOString());
    });
    return folder;
  } catch (error) {
    if (signal.aborted) throw new HostError(`Downloading "${hubId}" was cancelled.`);
    throw error;
  }
}
