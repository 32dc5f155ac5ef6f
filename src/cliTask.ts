// What a command of the CLI is: its options, and how it runs with the parsed values.
import type { ParseArgsConfig } from 'node:util';

export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Task {
  summary: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Values, io: Io): Promise<void>;
}

export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Text without a line break (streamed generation, a progress bar). */
  write?(text: string, stream: 'out' | 'err'): void;
}
