import { errorCodes, type ErrorData, type ErrorKind } from '../protocol';

/** An error whose message is meant for the user: what went wrong and what to do about it. */
export class HostError extends Error {
  constructor(
    message: string,
    readonly code: number = errorCodes.modelLoadFailed,
    /** What the client needs to offer the fix; the kind defaults from the code. */
    data: Partial<ErrorData> = {},
  ) {
    super(message);
    this.name = 'HostError';
    this.data = { kind: data.kind ?? kindOf(code), ...data };
  }

  readonly data: ErrorData;
}

function kindOf(code: number): ErrorKind {
  if (code === errorCodes.modelNotConfigured) return 'notConfigured';
  if (code === errorCodes.offlineMissingModel) return 'offline';
  if (code === errorCodes.badInput) return 'badInput';
  if (code === errorCodes.cancelled) return 'cancelled';
  if (code === errorCodes.contentModified) return 'contentModified';
  if (code === errorCodes.documentNotSynced) return 'documentNotSynced';
  return 'loadFailed';
}

export class CancelledError extends Error {
  constructor() {
    super('The request was cancelled.');
    this.name = 'CancelledError';
  }
}

export interface Cancellation {
  readonly isCancellationRequested: boolean;
  /** Told after each window of a long request (the editor shows it as a percentage). */
  readonly report?: (done: number, total: number) => void;
}

export const neverCancelled: Cancellation = { isCancellationRequested: false };

export function throwIfCancelled(token: Cancellation): void {
  if (token.isCancellationRequested) throw new CancelledError();
}
