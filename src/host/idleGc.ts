// The host collects its garbage once it has been idle for a moment after model calls. V8 grows
// its heap lazily: under a steady stream of requests it collects late, and a host that served
// thousands of them would keep hundreds of megabytes of garbage resident. A full collection of
// the host's heap takes tens of milliseconds, which nobody waits for once the work is done.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** How long the host must stay without model calls before it collects. */
const idleMs = 2000;

let timer: NodeJS.Timeout | undefined;
/** Whether the host has collected since its last model call ended. */
let collectedSinceLastCall = false;
const collect = garbageCollector();

function garbageCollector(): (() => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as () => void;
  } catch {
    return undefined;
  }
}

let active = 0;

/** Wraps a model call: the idle wait that ends with a collection starts when none is running. */
export async function asModelCall<T>(call: () => Promise<T>): Promise<T> {
  active++;
  collectedSinceLastCall = false;
  if (timer) clearTimeout(timer);
  timer = undefined;
  try {
    return await call();
  } finally {
    if (--active === 0 && collect) {
      timer = setTimeout(() => {
        timer = undefined;
        collect();
        collectedSinceLastCall = true;
      }, idleMs);
      timer.unref();
    }
  }
}

/**
 * True once the host, idle, has collected its garbage after its last model call: its memory is
 * what it holds at rest (the host status reports it; the soak test compares RSS at rest).
 */
export function atRest(): boolean {
  return active === 0 && collectedSinceLastCall;
}
