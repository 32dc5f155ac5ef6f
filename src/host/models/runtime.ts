// transformers.js is loaded on first use so that the host answers `initialize` at once.
import type * as Transformers from '@huggingface/transformers' with { 'resolution-mode': 'import' };
import { HostError } from '../errors';

let loaded: typeof Transformers | undefined;
let networkFetch: typeof fetch | undefined;

export function transformers(): typeof Transformers {
  if (!loaded) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('@huggingface/transformers') as typeof Transformers;
    networkFetch = loaded.env.fetch as typeof fetch;
    loaded.env.allowLocalModels = true;
    applyPolicy(loaded);
  }
  return loaded;
}

/** A Hub model that is not downloaded, while "gpt2Heads.offline" forbids downloading it. */
export function offlineMissingMessage(source: string): string {
  return (
    `"${source}" is not on this machine and "gpt2Heads.offline" is on. Turn off ` +
    `"gpt2Heads.offline" to download it once, or set the model to a local folder.`
  );
}

let offline = true;
let signalFor: (url: string) => AbortSignal | undefined = () => undefined;

/**
 * Every network access of transformers.js goes through env.fetch. Offline, any attempt fails
 * loudly (a test relies on it); online, a download can be aborted by its model's load.
 */
export function useNetworkPolicy(
  isOffline: boolean,
  abortSignalFor: (url: string) => AbortSignal | undefined,
): void {
  offline = isOffline;
  signalFor = abortSignalFor;
  if (loaded) applyPolicy(loaded);
}

function applyPolicy(library: typeof Transformers): void {
  library.env.allowRemoteModels = !offline;
  // HF_ENDPOINT names a Hub mirror, as in the huggingface_hub library.
  const endpoint = process.env.HF_ENDPOINT;
  if (endpoint) library.env.remoteHost = endpoint.endsWith('/') ? endpoint : `${endpoint}/`;
  library.env.fetch = (input: string | URL, init?: RequestInit) => {
    const url = String(input);
    if (offline) {
      return Promise.reject(
        new HostError(
          `Blocked a network request to ${url}: "gpt2Heads.offline" is on. Turn it off to download models.`,
        ),
      );
    }
    const signal = signalFor(url);
    return (networkFetch ?? fetch)(input, signal ? { ...init, signal } : init);
  };
}
