// GPT-2's byte-level alphabet: every byte 0–255 is written as one printable character so
// that BPE can work on strings. Printable Latin-1 bytes stand for themselves; the rest
// (control bytes, space, 0x7F–0xA0, 0xAD) become U+0100 onwards in byte order, so a space
// is 'Ġ' (U+0120) and a newline 'Ċ' (U+010A).

function isSelfMapped(byte: number): boolean {
  return (
    (byte >= 0x21 && byte <= 0x7e) ||
    (byte >= 0xa1 && byte <= 0xac) ||
    (byte >= 0xae && byte <= 0xff)
  );
}

function buildTables(): { toChar: string[]; toByte: Int16Array } {
  const toChar = new Array<string>(256);
  let next = 0x100;
  for (let byte = 0; byte < 256; byte++) {
    toChar[byte] = String.fromCharCode(isSelfMapped(byte) ? byte : next++);
  }
  // Every character of the alphabet is below U+0144, so a small array is the inverse.
  const toByte = new Int16Array(next).fill(-1);
  toChar.forEach((char, byte) => (toByte[char.charCodeAt(0)] = byte));
  return { toChar, toByte };
}

const { toChar, toByte } = buildTables();

/** bytes_to_unicode: the character that stands for each byte (index = byte value). */
export const BYTES_TO_UNICODE: readonly string[] = toChar;

/** The byte a byte-level character stands for, or undefined if it is not one of the 256. */
export function unicodeToByte(char: string): number | undefined {
  if (char.length !== 1) return undefined;
  const code = char.charCodeAt(0);
  const byte = code < toByte.length ? toByte[code] : -1;
  return byte < 0 ? undefined : byte;
}

/** The bytes a byte-level token string stands for ('Ġworld' → " world"), or undefined when
 *  the token holds a character outside the alphabet (an added token such as one with a space). */
export function byteLevelTokenBytes(token: string): Uint8Array | undefined {
  const bytes = new Uint8Array(token.length);
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    const byte = code < toByte.length ? toByte[code] : -1;
    if (byte < 0) return undefined;
    bytes[i] = byte;
  }
  return bytes;
}

/** The byte-level token string for some bytes (the inverse of byteLevelTokenBytes). */
export function bytesToByteLevel(bytes: ArrayLike<number>): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += toChar[bytes[i]];
  return out;
}

const utf8 = new TextEncoder();
const lossyUtf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/**
 * HF's ByteLevel decoder (tokenizer.convert_tokens_to_string for GPT-2): joins the tokens'
 * bytes and decodes them as UTF-8, each invalid sequence becoming U+FFFD (TextDecoder and
 * Rust's from_utf8_lossy replace the same maximal subparts). A token that is not byte-level
 * text contributes its own UTF-8 bytes, as the Rust decoder does.
 */
export function byteLevelDecode(tokens: readonly string[]): string {
  const parts = tokens.map((token) => byteLevelTokenBytes(token) ?? utf8.encode(token));
  const joined = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.length;
  }
  return lossyUtf8.decode(joined);
}
