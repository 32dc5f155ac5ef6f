import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import {
  BYTES_TO_UNICODE,
  byteLevelDecode,
  byteLevelTokenBytes,
  bytesToByteLevel,
  unicodeToByte,
} from '../../../src/text/byteLevel';
import { codePointToUtf16, tokenOffsets, utf16ToCodePoint } from '../../../src/text/offsets';
import { fixturesDir } from '../../support/fixtures';

interface TokenizerCase {
  id: string;
  text: string;
  tokens: string[];
  offsets: [number, number][];
  offsets_utf16: [number, number][];
  decoded: string;
}

const tokenizerCases: TokenizerCase[] = JSON.parse(
  readFileSync(path.join(fixturesDir, 'tokenizer_expected.json'), 'utf8'),
).cases;

interface Tokenizer {
  tokenize(text: string): string[];
}

async function loadTokenizer(): Promise<Tokenizer> {
  const { AutoTokenizer, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = fixturesDir + path.sep;
  return (await AutoTokenizer.from_pretrained('gpt2-tiny-lm')) as unknown as Tokenizer;
}

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

function splitsSurrogatePair(text: string, at: number): boolean {
  return (
    at > 0 && at < text.length && isHigh(text.charCodeAt(at - 1)) && isLow(text.charCodeAt(at))
  );
}

/** Checks every invariant VS Code relies on; returns the text rebuilt from the token spans. */
function checkRanges(text: string, ranges: [number, number][]): string {
  let rebuilt = '';
  let covered = 0;
  let previous: [number, number] = [0, 0];
  for (const [start, end] of ranges) {
    assert.ok(
      0 <= start && start <= end && end <= text.length,
      `range [${start}, ${end}) outside the text`,
    );
    assert.ok(
      !splitsSurrogatePair(text, start) && !splitsSurrogatePair(text, end),
      'range splits a pair',
    );
    assert.ok(start >= previous[0] && end >= previous[1], 'ranges are not monotone');
    assert.ok(start <= covered, `gap before [${start}, ${end})`);
    rebuilt += text.slice(Math.max(covered, start), end);
    covered = Math.max(covered, end);
    previous = [start, end];
  }
  return rebuilt;
}

describe('byte-level alphabet', () => {
  it('maps the 256 bytes to 256 distinct characters and back', () => {
    assert.equal(new Set(BYTES_TO_UNICODE).size, 256);
    BYTES_TO_UNICODE.forEach((char, byte) => assert.equal(unicodeToByte(char), byte));
    assert.equal(BYTES_TO_UNICODE[0x20], 'Ġ');
    assert.equal(BYTES_TO_UNICODE[0x0a], 'Ċ');
    assert.equal(BYTES_TO_UNICODE[0x41], 'A');
  });

  it('reads token strings as bytes and rejects characters outside the alphabet', () => {
    assert.deepEqual(
      Array.from(byteLevelTokenBytes('Ġworld') ?? []),
      Array.from(Buffer.from(' world')),
    );
    assert.equal(byteLevelTokenBytes('a b'), undefined);
    assert.equal(bytesToByteLevel(Buffer.from(' 🍕', 'utf8')), 'ĠðŁįķ');
  });

  it('decodes every fixture text from its tokens as HF decodes it', () => {
    for (const c of tokenizerCases) assert.equal(byteLevelDecode(c.tokens), c.decoded, c.id);
  });

  it('decodes a partial character as one U+FFFD per invalid sequence', () => {
    assert.equal(byteLevelDecode(['ĠðŁ', 'į']), ' \uFFFD');
    assert.equal(byteLevelDecode(['ĠðŁ', 'į', 'ķ']), ' 🍕');
  });
});

describe('tokenOffsets', () => {
  let tokenizer: Tokenizer;
  before(async () => {
    tokenizer = await loadTokenizer();
  });

  for (const c of tokenizerCases) {
    it(`gives HF's UTF-16 offsets for the fixture tokens of "${c.id}"`, () => {
      assert.deepEqual(tokenOffsets(c.text, c.tokens), c.offsets_utf16);
    });
  }

  it("agrees with the fixtures when the tokens come from transformers.js's tokenizer", () => {
    for (const c of tokenizerCases) {
      const tokens = tokenizer.tokenize(c.text);
      assert.deepEqual(tokens, c.tokens, c.id);
      assert.deepEqual(tokenOffsets(c.text, tokens), c.offsets_utf16, c.id);
    }
  });

  it('locates a literal <|endoftext|> whether or not it is listed as a special token', () => {
    const text = 'a<|endoftext|> b<|endoftext|>';
    const tokens = tokenizer.tokenize(text);
    const expected = [
      [0, 1],
      [1, 14],
      [14, 16],
      [16, 29],
    ];
    assert.deepEqual(tokens, ['a', '<|endoftext|>', 'Ġb', '<|endoftext|>']);
    assert.deepEqual(tokenOffsets(text, tokens), expected);
    assert.deepEqual(
      tokenOffsets(text, tokens, { specialTokens: new Set(['<|endoftext|>']) }),
      expected,
    );
  });

  it('matches a token that is not byte-level text literally', () => {
    assert.deepEqual(tokenOffsets('x<my token>y', ['x', '<my token>', 'y']), [
      [0, 1],
      [1, 11],
      [11, 12],
    ]);
  });

  it('skips whitespace that a tokenizer stripped around an added token', () => {
    const specialTokens = new Set(['<|x|>']);
    assert.deepEqual(tokenOffsets('a <|x|> b', ['a', '<|x|>', 'Ġb'], { specialTokens }), [
      [0, 1],
      [2, 7],
      [7, 9],
    ]);
  });

  it('gives a lone surrogate, encoded as U+FFFD, its own code unit', () => {
    const text = 'a\uD800b\uDC00';
    const tokens = tokenizer.tokenize(text);
    const ranges = tokenOffsets(text, tokens);
    assert.equal(checkRanges(text, ranges), text);
    assert.deepEqual(ranges[0], [0, 1]);
    assert.equal(ranges[ranges.length - 1][1], 4);
  });

  it('refuses tokens that do not belong to the text', () => {
    assert.throws(() => tokenOffsets('hello', ['Ġworld']), /does not continue the text/);
  });

  it('maps code-point offsets to UTF-16 and back for every fixture offset', () => {
    for (const c of tokenizerCases) {
      c.offsets.forEach(([start, end], i) => {
        const [start16, end16] = c.offsets_utf16[i];
        assert.equal(codePointToUtf16(c.text, start), start16, c.id);
        assert.equal(codePointToUtf16(c.text, end), end16, c.id);
        assert.equal(utf16ToCodePoint(c.text, start16), start, c.id);
        assert.equal(utf16ToCodePoint(c.text, end16), end, c.id);
      });
    }
  });

  const loneSurrogate = fc
    .integer({ min: 0xd800, max: 0xdfff })
    .map((code) => String.fromCharCode(code));
  const tricky = fc.constantFrom(
    '👨\u200d👩\u200d👧\u200d👦',
    '🇯🇵🇫🇷',
    '👍🏽',
    '❤️',
    'Z͑̈a̗̐l͆g͍o҉',
    'e\u0301',
    '東京は日本',
    '서울은',
    '𝔘𝔫𝔦',
    '\r\n',
    '\r\n\r\n',
    '\n\n',
    '\t',
    '  ',
    ' ',
    '\u0000',
    '\u00a0',
    '\u200b',
    '<|endoftext|>',
    "it's",
    'word',
  );
  const mixed = fc
    .array(fc.oneof(tricky, loneSurrogate, fc.string({ unit: 'grapheme', maxLength: 6 })), {
      maxLength: 24,
    })
    .map((parts) => parts.join(''));

  for (const [name, arbitrary] of [
    ['any code points and lone surrogates', fc.string({ unit: 'binary', maxLength: 40 })],
    ['graphemes', fc.string({ unit: 'grapheme', maxLength: 30 })],
    ['emoji sequences, marks, CJK, CRLF, tabs, NUL and lone surrogates mixed', mixed],
  ] as const) {
    it(`keeps every range inside the text, on code points, in order, covering it: ${name}`, () => {
      fc.assert(
        fc.property(arbitrary, (text) => {
          assert.equal(checkRanges(text, tokenOffsets(text, tokenizer.tokenize(text))), text);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('handles a very long line in linear time', () => {
    const text = 'Lorem ipsum 🍕 dolor, sit amet; 東京 e\u0301 '.repeat(1500);
    const tokens = tokenizer.tokenize(text);
    const started = process.hrtime.bigint();
    const ranges = tokenOffsets(text, tokens);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(checkRanges(text, ranges), text);
    assert.ok(ms < 500, `took ${ms} ms`);
  });
});
