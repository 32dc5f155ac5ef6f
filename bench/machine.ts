import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  platform: string;
}

export interface Versions {
  node: string;
  onnxruntimeNode: string;
  transformersJs: string;
}

export function machine(): Machine {
  return {
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    platform: `${os.platform()}-${os.arch()} ${os.release()}`,
  };
}

function packageVersion(repoRoot: string, name: string): string {
  const file = path.join(repoRoot, 'node_modules', name, 'package.json');
  return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
}

export function versions(repoRoot: string): Versions {
  return {
    node: process.version,
    onnxruntimeNode: packageVersion(repoRoot, 'onnxruntime-node'),
    transformersJs: packageVersion(repoRoot, '@huggingface/transformers'),
  };
}

/** Resident and peak resident memory of a process, from /proc (Linux); undefined elsewhere. */
export function procMemory(pid: number): { rssBytes: number; peakBytes: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    return { rssBytes: kb('VmRSS') * 1024, peakBytes: kb('VmHWM') * 1024 };
  } catch {
    return undefined;
  }
}
