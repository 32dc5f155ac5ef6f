// Hub repositories that publish a PyTorch checkpoint (safetensors, or only pytorch_model.bin as
// most fine-tuned GPT-2 heads of 2019-2023) but no ONNX export: their files are downloaded into
// the cache like transformers.js does for ONNX repositories, then converted to ONNX like a local
// checkpoint folder (pytorch_model.bin by the weights-only reader, which never runs anything).
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HostError } from '../errors';
import { transformers } from './runtime';

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

/** A sharded checkpoint: its index file, then every shard the index names. */
async function fetchSharded(
  hubId: string,
  indexFile: string,
  partial: string,
  signal: AbortSignal,
  report: (message: string, percent?: number) => void,
): Promise<boolean> {
  const index = join(partial, indexFile);
  if (!(await fetchFile(hubId, indexFile, index, signal, report, false))) return false;
  let map: Record<string, unknown> | undefined;
  try {
    map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, unknown> })
      .weight_map;
  } catch (error) {
    throw new HostError(
      `${indexFile} of "${hubId}" is not valid JSON: ${(error as Error).message}`,
    );
  }
  for (const shard of new Set(Object.values(map ?? {}))) {
    // Shards are plain file names in the repository; anything else would write outside the folder.
    if (typeof shard !== 'string' || !/^[\w.-]+$/.test(shard) || shard.startsWith('.')) {
      throw new HostError(`${indexFile} of "${hubId}" names a shard that is not a file name.`);
    }
    await fetchFile(hubId, shard, join(partial, shard), signal, report, true);
  }
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
  if (offline) {
    throw new HostError(
      `"${hubId}" is not on this machine and "gpt2Heads.offline" is on. Turn off ` +
        `"gpt2Heads.offline" to download it once, or set the model to a local folder.`,
    );
  }
  const partial = `${folder}.partial-${process.pid}`;
  rmSync(partial, { recursive: true, force: true });
  try {
    for (const file of requiredFiles) {
      await fetchFile(hubId, file, join(partial, file), signal, report, true);
    }
    for (const file of optionalFiles) {
      await fetchFile(hubId, file, join(partial, file), signal, report, false);
    }
    const single = await fetchFile(
      hubId,
      'model.safetensors',
      join(partial, 'model.safetensors'),
      signal,
      report,
      false,
    );
    if (!existsSync(join(partial, 'tokenizer.json')) && !existsSync(join(partial, 'merges.txt'))) {
      throw new HostError(
        `"${hubId}" has no tokenizer: neither tokenizer.json nor vocab.json + merges.txt.`,
      );
    }
    const found =
      single ||
      (await fetchSharded(hubId, 'model.safetensors.index.json', partial, signal, report)) ||
      (await fetchFile(
        hubId,
        'pytorch_model.bin',
        join(partial, 'pytorch_model.bin'),
        signal,
        report,
        false,
      )) ||
      (await fetchSharded(hubId, 'pytorch_model.bin.index.json', partial, signal, report));
    if (!found) {
      throw new HostError(
        `"${hubId}" has no weights GPT-2 Heads reads: no ONNX export (onnx/model.onnx), no ` +
          `model.safetensors and no pytorch_model.bin (or their sharded index files).`,
      );
    }
    writeFileSync(join(partial, completeMarker), new Date().toISOString());
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(dirname(folder), { recursive: true });
    renameSync(partial, folder);
    return folder;
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    if (signal.aborted) throw new HostError(`Downloading "${hubId}" was cancelled.`);
    throw error;
  }
}
