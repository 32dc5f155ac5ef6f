/**
 * tokenizer.json for checkpoints that ship only the "slow" GPT-2 tokenizer files (vocab.json +
 * merges.txt, with tokenizer_config.json / added_tokens.json / special_tokens_map.json), built as
 * transformers' GPT2TokenizerFast converts them (convert_slow_tokenizer's GPT2Converter): a
 * byte-level BPE with ByteLevel pre-tokenizer, post-processor and decoder, and the added tokens
 * (added_tokens_decoder, added_tokens.json, the special tokens) in id order.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ModelFormatError } from './gpt2Config';

export interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** The tokenizer.json text of a byte-level BPE (the field order the tokenizers library writes). */
export function byteLevelBpeTokenizerJson(
  vocab: Record<string, number>,
  merges: string[][],
  addedTokens: AddedToken[],
  addPrefixSpace = false,
): string {
  const byteLevel = (prefix: boolean, trimOffsets: boolean): object => ({
    type: 'ByteLevel',
    add_prefix_space: prefix,
    trim_offsets: trimOffsets,
    use_regex: true,
  });
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: byteLevel(addPrefixSpace, true),
    post_processor: byteLevel(true, false),
    decoder: byteLevel(true, true),
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  });
}

/** merges.txt lines (after the `#version` header) as pairs, as GPT2Tokenizer reads them. */
export function parseMerges(text: string, file = 'merges.txt'): string[][] {
  const lines = text.split('\n');
  if (lines[0]?.startsWith('#version')) lines.shift();
  return lines
    .map((line) => line.replace(/\r$/, ''))
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const pair = line.split(' ');
      if (pair.length !== 2) {
        throw new ModelFormatError(
          `${file}: line ${i + 2} is not a merge of two tokens: ${JSON.stringify(line.slice(0, 80))}`,
        );
      }
      return pair;
    });
}

function readJson<T>(file: string): T | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T;
  } catch (error) {
    throw new ModelFormatError(
      `${path.basename(file)}: not valid JSON (${(error as Error).message})`,
    );
  }
}

type TokenEntry = string | { content?: string; [key: string]: unknown } | null | undefined;

function tokenContent(entry: TokenEntry): string | undefined {
  if (typeof entry === 'string') return entry;
  if (entry && typeof entry.content === 'string') return entry.content;
  return undefined;
}

/**
 * tokenizer.json text built from `dir`'s vocab.json + merges.txt, or undefined when the folder
 * has no vocab.json or merges.txt.
 */
export function tokenizerJsonFromSlowFiles(dir: string): string | undefined {
  const vocabFile = path.join(dir, 'vocab.json');
  const mergesFile = path.join(dir, 'merges.txt');
  if (!fs.existsSync(vocabFile) || !fs.existsSync(mergesFile)) return undefined;
  const vocab = readJson<Record<string, number>>(vocabFile)!;
  if (typeof vocab !== 'object' || vocab === null || Array.isArray(vocab))
    throw new ModelFormatError('vocab.json: not an object of token → id');
  for (const [token, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || id < 0)
      throw new ModelFormatError(`vocab.json: token ${JSON.stringify(token)} has id ${id}`);
  }
  const merges = parseMerges(fs.readFileSync(mergesFile, 'utf8'));
  const config =
    readJson<{
      add_prefix_space?: boolean;
      add_bos_token?: boolean;
      added_tokens_decoder?: Record<string, Partial<AddedToken>>;
      [key: string]: unknown;
    }>(path.join(dir, 'tokenizer_config.json')) ?? {};
  if (config.add_bos_token) {
    throw new ModelFormatError(
      'tokenizer_config.json: add_bos_token true is not supported (GPT-2 adds no BOS token)',
    );
  }
  const added = new Map<number, AddedToken>();
  const add = (id: number, content: string, fields: Partial<AddedToken>, special: boolean) => {
    if (!Number.isInteger(id) || id < 0)
      throw new ModelFormatError(`added token ${JSON.stringify(content)} has id ${id}`);
    if (added.has(id)) return;
    added.set(id, {
      id,
      content,
      single_word: fields.single_word ?? false,
      lstrip: fields.lstrip ?? false,
      rstrip: fields.rstrip ?? false,
      normalized: fields.normalized ?? !special,
      special: fields.special ?? special,
    });
  };
  for (const [id, token] of Object.entries(config.added_tokens_decoder ?? {})) {
    if (typeof token?.content !== 'string')
      throw new ModelFormatError(`tokenizer_config.json: added token ${id} has no content`);
    add(Number(id), token.content, token, token.special ?? false);
  }
  const addedJson = readJson<Record<string, number>>(path.join(dir, 'added_tokens.json')) ?? {};
  const specialMap =
    readJson<Record<string, TokenEntry>>(path.join(dir, 'special_tokens_map.json')) ?? {};
  const specials = new Set<string>();
  for (const key of ['bos_token', 'eos_token', 'unk_token', 'pad_token']) {
    const content = tokenContent(config[key] as TokenEntry) ?? tokenContent(specialMap[key]);
    if (content) specials.add(content);
  }
  for (const [content, id] of Object.entries(addedJson))
    add(id, content, {}, specials.has(content));
  // Special tokens that are in the vocabulary are added tokens too (GPT-2's <|endoftext|>).
  for (const content of specials) {
    const id = vocab[content] ?? addedJson[content];
    if (id !== undefined) add(id, content, { normalized: true }, true);
  }
  const tokens = [...added.values()].sort((a, b) => a.id - b.id);
  return byteLevelBpeTokenizerJson(vocab, merges, tokens, config.add_prefix_space ?? false);
}
