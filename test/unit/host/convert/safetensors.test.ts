import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fixturesDir } from '../../../support/fixtures';
import {
  forEachChunk,
  openSafetensors,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  sourceOf,
} from '../../../../src/host/convert/safetensors';
import type { Weights } from '../../../../src/host/convert/gpt2Graph';

function sample(): Weights {
  return new Map([
    [
      'transformer.b',
      { shape: [2, 3], data: Float32Array.from([1, -2.5, 3.25, 0, 65504, -0.0001]) },
    ],
    ['a', { shape: [1], data: Float32Array.from([0.1]) }],
  ]);
}

function withHeader(header: object, dataBytes: number): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, Buffer.alloc(dataBytes)]);
}

describe('safetensors', () => {
  it('reads the HF fixture checkpoint: transformer. prefix, Conv1D [in, out], no tied lm_head, format pt', () => {
    const file = readSafetensors(
      path.join(fixturesDir, 'safetensors', 'gpt2-tiny-lm', 'model.safetensors'),
    );
    assert.deepEqual(file.metadata, { format: 'pt' });
    assert.ok(file.tensors.has('transformer.h.0.attn.c_attn.weight'));
    assert.ok(!file.tensors.has('lm_head.weight'));
    const wte = file.tensors.get('transformer.wte.weight')!;
    assert.equal(wte.data.length, wte.shape[0] * wte.shape[1]);
  });

  it('round-trips F32 exactly, with an 8-byte aligned header and sorted names', () => {
    const bytes = serializeSafetensors(sample());
    assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0);
    const back = parseSafetensors(bytes);
    assert.deepEqual([...back.tensors.keys()], ['a', 'transformer.b']);
    assert.deepEqual(back.tensors.get('transformer.b'), sample().get('transformer.b'));
    assert.deepEqual(back.metadata, { format: 'pt' });
  });

  it('widens F16 and BF16 to f32 within their precision', () => {
    for (const [dtype, rel] of [
      ['F16', 1e-3],
      ['BF16', 8e-3],
    ] as const) {
      const back = parseSafetensors(serializeSafetensors(sample(), {}, dtype)).tensors.get(
        'transformer.b',
      )!;
      const original = sample().get('transformer.b')!.data;
      original.forEach((v, i) =>
        assert.ok(
          Math.abs(back.data[i] - v) <= rel * Math.abs(v) + 1e-7,
          `${dtype} ${v} -> ${back.data[i]}`,
        ),
      );
    }
  });

  it('reports a truncated file', () => {
    const bytes = serializeSafetensors(sample());
    assert.throws(() => parseSafetensors(bytes.subarray(0, 4)), /truncated file: 4 bytes/);
    assert.throws(
      () => parseSafetensors(bytes.subarray(0, 20)),
      /truncated file: header says \d+ bytes of JSON/,
    );
    assert.throws(
      () => parseSafetensors(bytes.subarray(0, bytes.length - 2)),
      /truncated file: tensor transformer\.b ends at byte 28/,
    );
  });

  it('reports a header whose sizes disagree with the shape or the file', () => {
    const entry = { dtype: 'F32', shape: [2], data_offsets: [0, 4] };
    assert.throws(
      () => parseSafetensors(withHeader({ x: entry }, 4)),
      /tensor x: data_offsets \[0, 4\] hold 4 bytes, but F32 shape \[2\] needs 8/,
    );
    const ok = { dtype: 'F32', shape: [1], data_offsets: [0, 4] };
    assert.throws(
      () => parseSafetensors(withHeader({ x: ok }, 12)),
      /header and size disagree: the tensors cover 4 data bytes but the file has 12/,
    );
    assert.throws(
      () =>
        parseSafetensors(
          Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{oops')]),
        ),
      /header is not valid JSON/,
    );
  });

  it('names an unsupported dtype', () => {
    const entry = { dtype: 'I64', shape: [1], data_offsets: [0, 8] };
    assert.throws(
      () => parseSafetensors(withHeader({ 'attn.bias': entry }, 8)),
      /tensor attn\.bias: dtype I64 is not supported \(supported: F32, F16, BF16\)/,
    );
    assert.throws(
      () =>
        parseSafetensors(withHeader({ x: { dtype: 'Q9', shape: [1], data_offsets: [0, 1] } }, 1)),
      /unknown dtype Q9/,
    );
  });
});

describe('safetensors opened lazily', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'gpt2-heads-lazy-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, bytes: Buffer) => {
    const file = path.join(dir, name);
    writeFileSync(file, bytes);
    return file;
  };

  it('gives the same tensors as reading the whole file, in every dtype, and reads them again when asked', () => {
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const bytes = serializeSafetensors(sample(), { format: 'pt' }, dtype);
      const file = write(`sample-${dtype}.safetensors`, bytes);
      const lazy = openSafetensors(file);
      const eager = parseSafetensors(bytes);
      assert.deepEqual(lazy.metadata, eager.metadata);
      assert.deepEqual([...lazy.tensors.keys()], [...eager.tensors.keys()]);
      for (const [name, tensor] of eager.tensors) {
        const opened = lazy.tensors.get(name)!;
        assert.deepEqual(opened.shape, tensor.shape);
        assert.deepEqual(opened.data, tensor.data);
        // Where its bytes are: a chunked read of that range is the tensor's stored bytes.
        const source = sourceOf(opened)!;
        assert.equal(source.dtype, dtype);
        const chunks: Buffer[] = [];
        forEachChunk(file, source.offset, source.length, (c) => chunks.push(Buffer.from(c)), 3);
        assert.deepEqual(
          Buffer.concat(chunks),
          bytes.subarray(source.offset, source.offset + source.length),
        );
      }
    }
    assert.equal(sourceOf(sample().get('a')!), undefined);
  });

  it('checks the header as the whole-file reader does, before reading any weight', () => {
    const bytes = serializeSafetensors(sample());
    for (const [cut, message] of [
      [4, /truncated file: 4 bytes/],
      [20, /truncated file: header says \d+ bytes of JSON/],
      [bytes.length - 2, /truncated file: tensor transformer\.b ends at byte 28/],
    ] as const) {
      const file = write(`cut-${cut}.safetensors`, bytes.subarray(0, cut));
      assert.throws(() => openSafetensors(file), message);
    }
    const entry = { dtype: 'I64', shape: [1], data_offsets: [0, 8] };
    assert.throws(
      () => openSafetensors(write('i64.safetensors', withHeader({ x: entry }, 8))),
      /tensor x: dtype I64 is not supported/,
    );
  });

  it('reports a file cut short after it was opened when the weight is read', () => {
    const bytes = serializeSafetensors(sample());
    const file = write('shrinks.safetensors', bytes);
    const opened = openSafetensors(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 8));
    assert.throws(
      () => opened.tensors.get('transformer.b')!.data,
      /truncated file: ended while reading/,
    );
  });
});
