// Benchmark documents: real text from ../shared/corpus, cut at word-start token boundaries
// so that the host, tokenizing the same text again, gets the same tokens.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PreTrainedTokenizer } from '@huggingface/transformers' with {
  'resolution-mode': 'import',
};
import { transformers } from '../src/host/models/runtime';

export type Tokenizer = PreTrainedTokenizer;

/** The GPT-2 tokenizer of a model folder, read from disk only. */
export async function loadTokenizer(folder: string): Promise<Tokenizer> {
  const library = transformers();
  library.env.allowRemoteModels = false;
  library.env.localModelPath = path.dirname(folder) + path.sep;
  return library.AutoTokenizer.from_pretrained(path.basename(folder));
}

export function encode(tokenizer: Tokenizer, text: string): number[] {
  return tokenizer.encode(text, { add_special_tokens: false });
}

/** A corpus tokenized once; slices of it are the benchmark's documents. */
export class Corpus {
  readonly ids: number[];
  private next = 0;

  constructor(
    readonly tokenizer: Tokenizer,
    readonly text: string,
  ) {
    this.ids = encode(tokenizer, text);
  }

  /** True when token i starts a word or a line (decoding up to it never splits a character). */
  private startsWord(i: number): boolean {
    return i >= this.ids.length || /^[\s]/.test(this.tokenizer.decode([this.ids[i]]));
  }

  /**
   * The next unused stretch of about `tokens` tokens (never overlapping an earlier one, so no
   * window of it can be in the host's caches), as text.
   */
  take(tokens: number): string {
    let start = this.next;
    while (!this.startsWord(start)) start++;
    let end = start + tokens;
    while (!this.startsWord(end)) end++;
    if (end > this.ids.length) {
      throw new Error(`the corpus has no ${tokens} unused tokens left`);
    }
    this.next = end;
    return this.tokenizer.decode(this.ids.slice(start, end)).replace(/^\s+/, '');
  }
}

export function readCorpus(repoRoot: string): { file: string; text: string } {
  const file = path.resolve(repoRoot, '..', 'shared', 'corpus', 'sherlock.txt');
  if (!fs.existsSync(file)) throw new Error(`the benchmark corpus is missing: ${file}`);
  return { file, text: fs.readFileSync(file, 'utf8') };
}

/**
 * Typing `word` one character at a time at the end of the word nearest the middle of `text`:
 * the documents after each keystroke.
 */
export function typingEdits(text: string, word: string): string[] {
  const middle = Math.floor(text.length / 2);
  const at = text.indexOf(' ', middle);
  const position = at < 0 ? middle : at;
  return [...word].map(
    (_, i) => text.slice(0, position) + word.slice(0, i + 1) + text.slice(position),
  );
}
