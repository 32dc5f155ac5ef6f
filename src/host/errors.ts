import { errorCodes } from '../protocol';

/** An error whose message is meant for the user: what went wrong and what to do about it. */
export class HostError extends Error {
  constructor(
    message: string,
    readonly code: number = errorCodes.modelLoadFailed,
  ) {
    super(message);
    this.name = 'HostError';
  }
}

export class CancelledError extends Error {
  constructor() {
    super('The request was cancelled.');
    this.name = 'CancelledError';
  }
}

export interface Cancellation {
  readonly isCancellationRequested: boolean;
}

export const neverCancelled: Cancellation = { isCancellationRequested: false };

export function throwIfCancelled(token: Cancellation): void {
  if (token.isCancellationRequested) throw new CancelledError();
}
