// One model call at a time: every onnxruntime session already uses all cores, so calls that
// overlap only fight over them. Requests interleave window by window in arrival order, and a
// cancelled request gives up its turn at its next window.
import { asModelCall } from './idleGc';

let tail: Promise<unknown> = Promise.resolve();

export function exclusive<T>(work: () => Promise<T>): Promise<T> {
  const call = () => asModelCall(work);
  const run = tail.then(call, call);
  tail = run.catch(() => undefined);
  return run;
}
