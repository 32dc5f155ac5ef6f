// A Hugging Face Hub stand-in on loopback (point HF_ENDPOINT at `url`): files under
// /<owner>/<name>/resolve/main/<path>, the file listing with sizes under
// /api/models/<owner>/<name>/tree/main, and the log of every request at /__requests (for tests
// that run in another process, such as the VS Code extension host).
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';

export interface HubStandIn {
  url: string;
  /** Every request's path, in order (not /__requests itself). */
  requests: string[];
  close(): Promise<void>;
}

function listing(folder: string): { type: string; path: string; size: number }[] {
  const out: { type: string; path: string; size: number }[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push({ type: 'file', path: relative(folder, path), size: statSync(path).size });
    }
  };
  walk(folder);
  return out;
}

/** `repos` maps Hub ids to local folders served as those repositories. */
export async function startHubStandIn(repos: Record<string, string>): Promise<HubStandIn> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    const url = decodeURIComponent(request.url ?? '');
    if (url === '/__requests') {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(requests));
      return;
    }
    requests.push(url);
    const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/main(\?.*)?$/.exec(url);
    if (tree && repos[tree[1]]) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify(listing(repos[tree[1]])));
      return;
    }
    const match = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(url);
    const folder = match && repos[match[1]];
    const file = folder && join(folder, match[2]);
    if (!file || !existsSync(file) || statSync(file).isDirectory()) {
      response.writeHead(404).end('Entry not found');
      return;
    }
    response.writeHead(200, { 'content-length': statSync(file).size });
    createReadStream(file).pipe(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
