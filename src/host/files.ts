// Files and folders the host writes appear whole or not at all: they are written under a
// partial name first and renamed into place, so a crash or a second host never sees half of one.
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** A name beside `target` that no other process writes to. */
export function partialPath(target: string): string {
  return `${target}.partial-${process.pid}`;
}

/** Writes `data` to `file` through a partial file and a rename. */
export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  writeChunksAtomic(file, (write) => write(typeof data === 'string' ? Buffer.from(data) : data));
}

/**
 * Writes the chunks `produce` gives, in order, to `file` through a partial file and a rename:
 * a large file is written without first being assembled in memory.
 */
export function writeChunksAtomic(
  file: string,
  produce: (write: (chunk: Uint8Array) => void) => void,
): void {
  mkdirSync(dirname(file), { recursive: true });
  const partial = partialPath(file);
  const fd = openSync(partial, 'w');
  try {
    produce((chunk) => {
      for (let done = 0; done < chunk.length;) {
        done += writeSync(fd, chunk, done, chunk.length - done);
      }
    });
    closeSync(fd);
    renameSync(partial, file);
  } catch (error) {
    closeSync(fd);
    rmSync(partial, { force: true });
    throw error;
  }
}

/**
 * Fills a fresh partial folder with `fill`, then replaces `target` with it. When `fill` fails the
 * partial folder is removed and `target` is left as it was.
 */
export async function writeFolderAtomic(
  target: string,
  fill: (partial: string) => void | Promise<void>,
): Promise<void> {
  const partial = partialPath(target);
  rmSync(partial, { recursive: true, force: true });
  try {
    await fill(partial);
  } catch (error) {
    rmSync(partial, { recursive: true, force: true });
    throw error;
  }
  rmSync(target, { recursive: true, force: true });
  mkdirSync(dirname(target), { recursive: true });
  renameSync(partial, target);
}
