// Hub repositories that publish a PyTorch checkpoint in safetensors but no ONNX export (most
// fine-tuned GPT-2 heads): their files are downloaded into the cache like transformers.js does
// for ONNX repositories, then converted to ONNX like a local checkpoint folder.
import { createWriteStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HostError } from '../errors';
import { writeFolderAtomic } from '../files';
import { readShardIndex, safetensorsFile, safetensorsIndexFile } from '../convert/weights';
import { offlineMissingMessage, transformers } from './runtime';

const requiredFiles = ['config.json', 'tokenizer.json'];
const optionalFiles = [
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
  try {
    await writeFolderAtomic(folder, async (partial) => {
      for (const file of requiredFiles) await fetchInto(partial, file, true);
      for (const file of optionalFiles) await fetchInto(partial, file, false);
      if (!(await fetchInto(partial, safetensorsFile, false))) {
        if (!(await fetchInto(partial, safetensorsIndexFile, false))) {
          throw new HostError(
            `"${hubId}" has neither an ONNX export (onnx/model.onnx) nor a safetensors checkpoint ` +
              `(model.safetensors). GPT-2 Heads does not load pytorch_model.bin: it is a Python ` +
              `pickle, which can run code when loaded.`,
          );
        }
        for (const shard of readShardIndex(partial, safetensorsIndexFile)?.shards ?? []) {
          await fetchInto(partial, shard, true);
        }
      }
      writeFileSync(join(partial, completeMarker), new Date().toISOString());
    });
    return folder;
  } catch (error) {
    if (signal.aborted) throw new HostError(`Downloading "${hubId}" was cancelled.`);
    throw error;
  }
}
