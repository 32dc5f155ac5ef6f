// Corpus mode of the CLI: one task over every document a glob names, N documents at a time,
// one JSON line per document appended to the output as it finishes. Resumable: documents
// already in the output are skipped; a document that fails is recorded with its error and the
// run goes on.
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { HostError } from './errors';

export interface CorpusOptions {
  pattern: string;
  output: string;
  concurrency: number;
  /** Where relative patterns and the `path` of each line start. */
  cwd: string;
  /** A redrawn progress bar (terminal) or one plain line per document. */
  tty: boolean;
  write(text: string): void;
  /** The task's usual JSON output for one document. */
  runOne(text: string): Promise<unknown>;
}

export interface CorpusSummary {
  total: number;
  skipped: number;
  done: number;
  failed: number;
  seconds: number;
}

/** A glob (`**`, `*`, `?`, `{a,b}`, `[abc]`) as a regular expression over /-separated paths. */
export function globRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*' && pattern[i + 1] === '*') {
      // `**/` matches zero or more folders; a trailing `**` anything.
      if (pattern[i + 2] === '/') {
        source += '(?:.*/)?';
        i += 2;
      } else {
        source += '.*';
        i += 1;
      }
    } else if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '{') {
      const end = pattern.indexOf('}', i);
      if (end < 0) throw new HostError(`--input-glob has an unclosed "{": ${pattern}`);
      const parts = pattern.slice(i + 1, end).split(',');
      source += `(?:${parts.map((part) => part.replace(/[.+^$()|\\[\]]/g, '\\$&')).join('|')})`;
      i = end;
    } else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end < 0) throw new HostError(`--input-glob has an unclosed "[": ${pattern}`);
      source += pattern.slice(i, end + 1);
      i = end;
    } else source += c.replace(/[.+^$()|\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** Files matching the glob, sorted, as paths relative to `cwd` (or absolute for absolute globs). */
export function expandGlob(pattern: string, cwd: string): string[] {
  const normalized = pattern.split(sep).join('/');
  const parts = normalized.split('/');
  const firstGlob = parts.findIndex((part) => /[*?{[]/.test(part));
  const baseParts = firstGlob < 0 ? parts.slice(0, -1) : parts.slice(0, firstGlob);
  const base = resolve(cwd, baseParts.join('/') || '.');
  const absolute = normalized.startsWith('/');
  const matcher = globRegExp(absolute ? normalized : resolve(cwd, normalized).split(sep).join('/'));
  const found: string[] = [];
  const walk = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const stat = statSync(path);
      if (stat.isDirectory()) walk(path);
      else if (matcher.test(path.split(sep).join('/'))) {
        found.push(absolute ? path : relative(cwd, path));
      }
    }
  };
  walk(base);
  return found;
}

/** Paths already in the output (each line a JSON object with `path`); damaged lines are ignored. */
function donePaths(output: string): Set<string> {
  const done = new Set<string>();
  if (!existsSync(output)) return done;
  for (const line of readFileSync(output, 'utf8').split('\n')) {
    try {
      const record = JSON.parse(line) as { path?: unknown };
      if (typeof record.path === 'string') done.add(record.path);
    } catch {
      // A line cut short by an interrupted run: that document runs again.
    }
  }
  return done;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export async function runCorpus(options: CorpusOptions): Promise<CorpusSummary> {
  const paths = expandGlob(options.pattern, options.cwd);
  if (paths.length === 0) {
    throw new HostError(`--input-glob "${options.pattern}" matches no file (from ${options.cwd}).`);
  }
  const already = donePaths(options.output);
  const todo = paths.filter((path) => !already.has(path));
  // A run stopped mid-line left a partial line: start on a fresh one.
  if (existsSync(options.output)) {
    const text = readFileSync(options.output, 'utf8');
    if (text.length > 0 && !text.endsWith('\n')) appendFileSync(options.output, '\n');
  }
  const started = performance.now();
  let finished = 0;
  let failed = 0;
  const progress = (path: string, error?: string) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = finished / seconds;
    const eta = (todo.length - finished) / rate;
    if (options.tty) {
      const width = 24;
      const filled = Math.round((finished / Math.max(1, todo.length)) * width);
      options.write(
        `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${finished}/${todo.length} ` +
          `${rate.toFixed(1)} docs/s ETA ${clock(eta)}${failed ? ` ${failed} failed` : ''}\x1b[K`,
      );
    } else {
      options.write(
        `${finished}/${todo.length} ${path} ${error ? `failed: ${error}` : 'ok'} ` +
          `(${rate.toFixed(1)} docs/s, ETA ${clock(eta)})\n`,
      );
    }
  };
  let next = 0;
  const worker = async () => {
    while (next < todo.length) {
      const path = todo[next++];
      let line: string;
      let error: string | undefined;
      try {
        const text = readFileSync(resolve(options.cwd, path), 'utf8');
        line = JSON.stringify({ path, result: await options.runOne(text) });
      } catch (caught) {
        error = caught instanceof Error ? caught.message : String(caught);
        failed++;
        line = JSON.stringify({ path, error });
      }
      appendFileSync(options.output, `${line}\n`);
      finished++;
      progress(path, error);
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency, todo.length)) }, worker),
  );
  if (options.tty && todo.length > 0) options.write('\n');
  return {
    total: paths.length,
    skipped: paths.length - todo.length,
    done: finished - failed,
    failed,
    seconds: (performance.now() - started) / 1000,
  };
}
