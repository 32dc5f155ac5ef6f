import { byteLevelTokenBytes } from './byteLevel';

/** A half-open [start, end) range in UTF-16 code units (JavaScript string and VS Code indices). */
export type Utf16Range = [start: number, end: number];

/** A text as GPT-2 reads it: token ids, byte-level token strings, and where each token lies. */
export interface EncodedText {
  ids: number[];
  tokens: string[];
  /** UTF-16 ranges in the text (transformers.js gives no offsets for byte-level BPE). */
  offsets: Utf16Range[];
}

export interface TokenOffsetsOptions {
  /** Token strings to locate literally (added tokens such as '<|endoftext|>'). A token that is
   *  not valid byte-level text is always matched literally, listed here or not. */
  specialTokens?: ReadonlySet<string>;
}

const utf8 = new TextEncoder();
const whitespace = /^\s$/u;

/**
 * The text's UTF-8 bytes, and for every byte the UTF-16 range of the character it belongs to.
 * A lone surrogate (legal in a JS string, not in UTF-8) is encoded as U+FFFD, exactly as
 * TextEncoder and the transformers.js tokenizer encode it, and spans its one code unit.
 */
class Utf8View {
  readonly bytes: Uint8Array;
  private readonly charStart: Uint32Array;
  private readonly charUnits: Uint8Array;

  constructor(readonly text: string) {
    this.bytes = utf8.encode(text);
    this.charStart = new Uint32Array(this.bytes.length);
    this.charUnits = new Uint8Array(this.bytes.length);
    let byte = 0;
    for (let unit = 0; unit < text.length;) {
      const code = text.charCodeAt(unit);
      let units = 1;
      let byteLength: number;
      if (code < 0x80) byteLength = 1;
      else if (code < 0x800) byteLength = 2;
      else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(unit + 1))) {
        byteLength = 4;
        units = 2;
      } else byteLength = 3; // other BMP characters, and lone surrogates as U+FFFD
      this.charStart.fill(unit, byte, byte + byteLength);
      this.charUnits.fill(units, byte, byte + byteLength);
      byte += byteLength;
      unit += units;
    }
  }

  /** UTF-16 start of the character holding byte `at` (text.length at the end). */
  unitAt(at: number): number {
    return at < this.bytes.length ? this.charStart[at] : this.text.length;
  }

  /** UTF-16 end of the character holding byte `at`. */
  unitEndAt(at: number): number {
    return this.charStart[at] + this.charUnits[at];
  }

  matches(at: number, bytes: Uint8Array): boolean {
    if (at + bytes.length > this.bytes.length) return false;
    for (let i = 0; i < bytes.length; i++) if (this.bytes[at + i] !== bytes[i]) return false;
    return true;
  }

  /** The byte after the whitespace character starting at byte `at`, or undefined. */
  skipWhitespace(at: number): number | undefined {
    if (at >= this.bytes.length) return undefined;
    const unit = this.charStart[at];
    if (!whitespace.test(String.fromCodePoint(this.text.codePointAt(unit) ?? 0))) return undefined;
    let next = at;
    while (next < this.bytes.length && this.charStart[next] === unit) next++;
    return next;
  }
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * Character offsets of byte-level BPE tokens ('Ġworld') in the text they came from, in UTF-16
 * code units. Matches Hugging Face's offsets for GPT-2 (post-processor trim_offsets false): a
 * token's span includes its leading space, and a token holding only some of a character's UTF-8
 * bytes gets that whole character's span, so neighbouring tokens can share a range. HF counts
 * code points; these are UTF-16 units because VS Code positions are. Every range lies inside the
 * text, on code-point boundaries (never between the halves of a surrogate pair).
 *
 * Tokens are located in order. If a token does not continue the text where the previous one
 * ended, whitespace is skipped (a tokenizer may strip it around added tokens); a token that still
 * does not match means the tokens are not this text's, and is an error.
 */
export function tokenOffsets(
  text: string,
  tokens: readonly string[],
  options: TokenOffsetsOptions = {},
): Utf16Range[] {
  const view = new Utf8View(text);
  const ranges: Utf16Range[] = [];
  let at = 0;
  tokens.forEach((token, index) => {
    const literal = options.specialTokens?.has(token) ? undefined : byteLevelTokenBytes(token);
    const bytes = literal ?? utf8.encode(token);
    let start: number | undefined = at;
    while (start !== undefined && !view.matches(start, bytes)) start = view.skipWhitespace(start);
    if (start === undefined) {
      throw new Error(
        `tokenOffsets: token ${index} ${JSON.stringify(token)} does not continue the text at ` +
          `UTF-16 offset ${view.unitAt(at)}`,
      );
    }
    at = start + bytes.length;
    ranges.push(
      bytes.length === 0
        ? [view.unitAt(start), view.unitAt(start)]
        : [view.unitAt(start), view.unitEndAt(at - 1)],
    );
  });
  return ranges;
}

/** The UTF-16 offset of a code-point offset (Python string index, as HF returns them). */
export function codePointToUtf16(text: string, codePointOffset: number): number {
  let unit = 0;
  for (let cp = 0; cp < codePointOffset && unit < text.length; cp++) {
    unit += isSurrogatePairAt(text, unit) ? 2 : 1;
  }
  return unit;
}

/** The code-point offset of a UTF-16 offset; an offset inside a surrogate pair counts the pair. */
export function utf16ToCodePoint(text: string, utf16Offset: number): number {
  let cp = 0;
  for (let unit = 0; unit < utf16Offset && unit < text.length; cp++) {
    unit += isSurrogatePairAt(text, unit) ? 2 : 1;
  }
  return cp;
}

function isSurrogatePairAt(text: string, unit: number): boolean {
  const code = text.charCodeAt(unit);
  return code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(unit + 1));
}
