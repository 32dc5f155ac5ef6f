// HTTP for serving engines: a timeout per attempt, retries with backoff on 429/503 (honouring
// Retry-After), a limit on requests in flight, and cancellation that aborts the request.
// Errors are HostErrors that say which endpoint failed, how, and which setting to change;
// the API key goes in the Authorization header only, never into a message.
import { CancelledError, HostError } from '../../errors';
import { isLoopback, plainHttpWarning } from '../../../text/endpointUrls';

export { isLoopback, plainHttpWarning };

export interface HttpOptions {
  /** Bearer token (SecretStorage or GPT2_HEADS_API_KEY); never logged. */
  apiKey?: string;
  /** Per attempt, until the response headers arrive (a stream then has `idleMs` per chunk). */
  timeoutMs: number;
  /** Extra attempts after a 429 or 503. */
  retries: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** First backoff when the server sends no Retry-After; doubles each attempt. */
  backoffMs: number;
  /** The setting to name in errors, e.g. "gpt2Heads.ner.endpoint". */
  setting: string;
}

export const defaultHttpOptions: Omit<HttpOptions, 'setting'> = {
  timeoutMs: 30_000,
  retries: 3,
  concurrency: 4,
  backoffMs: 500,
};

/** The longest Retry-After honoured; a server asking for more is reported instead. */
const maxRetryAfterMs = 60_000;

export class EndpointError extends HostError {}

/** A counting semaphore: at most `limit` holders at once, the rest wait in arrival order. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly limit: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= Math.max(1, this.limit)) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.active++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

/** Checks an endpoint setting: an absolute http(s) URL, allowed by the offline setting. */
export function checkEndpointUrl(url: string, setting: string, offline: boolean): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new EndpointError(`"${setting}" is not a URL ("${url}"). Give e.g. http://host:8000/….`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new EndpointError(`"${setting}" must be an http:// or https:// URL (got "${url}").`);
  }
  if (parsed.username || parsed.password) {
    throw new EndpointError(
      `"${setting}" holds a user name or password. Remove it from the URL and store the key with ` +
        `"GPT-2 Heads: Set Endpoint API Key…" (GPT2_HEADS_API_KEY on the command line).`,
    );
  }
  if (offline) {
    throw new EndpointError(
      `"${setting}" is set but "gpt2Heads.offline" is on, which forbids any network request. ` +
        `Turn off "gpt2Heads.offline" to use the endpoint, or clear "${setting}" to run locally.`,
    );
  }
  return parsed;
}

export class HttpEndpoint {
  private readonly limiter: Limiter;

  constructor(readonly options: HttpOptions) {
    this.limiter = new Limiter(options.concurrency);
  }

  /** GET or POST JSON; retries 429/503; the parsed body, or a clear error. */
  async json<T>(url: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const response = await this.send(url, body, signal);
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new EndpointError(
        `${describe(url)} answered with something that is not JSON ` +
          `(${JSON.stringify(text.slice(0, 80))}…). Check that "${this.options.setting}" points ` +
          `at the right server and path.`,
      );
    }
  }

  /** A response whose body the caller reads (server-sent events); the slot is held until done. */
  async stream(
    url: string,
    body: unknown,
    signal: AbortSignal | undefined,
    read: (response: Response) => Promise<void>,
  ): Promise<void> {
    await this.limiter.run(async () => {
      const response = await this.attempt(url, body, signal);
      await read(response);
    });
  }

  /** Whether the server answers 200 at `url` (a health check); never throws. */
  async ok(url: string, timeoutMs = 2000): Promise<boolean> {
    try {
      const response = await fetch(url, {
        headers: this.headers(false),
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }

  private send(url: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    return this.limiter.run(() => this.attempt(url, body, signal));
  }

  private headers(json: boolean): Record<string, string> {
    return {
      accept: 'application/json, text/event-stream',
      ...(json ? { 'content-type': 'application/json' } : {}),
      ...(this.options.apiKey ? { authorization: `Bearer ${this.options.apiKey}` } : {}),
    };
  }

  /** One request with retries; resolves when the headers of a 2xx response arrive. */
  private async attempt(url: string, body: unknown, signal?: AbortSignal): Promise<Response> {
    const { timeoutMs, retries, backoffMs, setting } = this.options;
    for (let attempt = 0; ; attempt++) {
      throwIfAborted(signal);
      const timeout = AbortSignal.timeout(timeoutMs);
      let response: Response;
      try {
        response = await fetch(url, {
          method: body === undefined ? 'GET' : 'POST',
          headers: this.headers(body !== undefined),
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
      } catch (error) {
        throwIfAborted(signal);
        if (timeout.aborted) {
          throw new EndpointError(
            `${describe(url)} did not answer within ${timeoutMs / 1000} s. The server is busy ` +
              `or unreachable; try again, or clear "${setting}" to run locally.`,
          );
        }
        const cause = (error as { cause?: { code?: string; message?: string } }).cause;
        throw new EndpointError(
          `${describe(url)} cannot be reached (${cause?.code ?? cause?.message ?? (error as Error).message}). ` +
            `Start the server or fix "${setting}"; clear it to run locally.`,
        );
      }
      if (response.ok) return response;
      const detail = (await response.text().catch(() => '')).slice(0, 200);
      if ((response.status === 429 || response.status === 503) && attempt < retries) {
        const wait = retryAfterMs(response.headers.get('retry-after')) ?? backoffMs * 2 ** attempt;
        if (wait <= maxRetryAfterMs) {
          await sleep(wait, signal);
          continue;
        }
      }
      if (response.status === 401 || response.status === 403) {
        throw new EndpointError(
          `${describe(url)} refused the request (HTTP ${response.status}): the API key is ` +
            `missing or wrong. Set it with "GPT-2 Heads: Set Endpoint API Key…" ` +
            `(GPT2_HEADS_API_KEY on the command line).`,
        );
      }
      const busy = response.status === 429 || response.status === 503;
      throw new EndpointError(
        `${describe(url)} answered HTTP ${response.status}` +
          (busy ? ` after ${attempt + 1} attempts (the server is overloaded)` : '') +
          (detail ? `: ${oneLine(detail)}` : '') +
          `. Check "${setting}", or clear it to run locally.`,
      );
    }
  }
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(header)) return Math.round(Number(header) * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function describe(url: string): string {
  const parsed = new URL(url);
  return `The endpoint ${parsed.origin}${parsed.pathname}`;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CancelledError();
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(new CancelledError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
