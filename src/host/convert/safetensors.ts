/**
 * safetensors read and write (https://huggingface.co/docs/safetensors): an 8-byte little-endian
 * header length, a JSON header {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__},
 * then the tensor bytes. Only floating-point weights are needed for GPT-2; F16 and BF16 are
 * widened to f32 on read.
 */
import * as fs from 'node:fs';
import { ModelFormatError } from './gpt2Config';
import type { WeightTensor, Weights } from './gpt2Graph';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

/** Element widths by safetensors dtype name (the names torchCheckpoint.ts uses for storages too). */
export const BYTES_PER_ELEMENT: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};
const READABLE: readonly string[] = ['F32', 'F16', 'BF16'];
// A header larger than this is certainly not a real header (the reference implementation uses 100 MB).
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsFile {
  tensors: Weights;
  metadata: Record<string, string>;
}

interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

function fail(file: string, message: string): never {
  throw new ModelFormatError(`${file}: ${message}`);
}

/** Half-precision bits to a float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** F32, F16 or BF16 little-endian bytes to float32 (exact: every such value is a float32). */
export function toFloat32(dtype: string, bytes: Buffer, count: number): Float32Array {
  const out = new Float32Array(count);
  if (dtype === 'F32') {
    // Copy: the file buffer's offset is not necessarily 4-byte aligned.
    new Uint8Array(out.buffer).set(bytes);
  } else if (dtype === 'F16') {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(bytes.readUInt16LE(2 * i));
  } else {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < count; i++) bits[i] = bytes.readUInt16LE(2 * i) << 16;
  }
  return out;
}

/**
 * `h.N.attn.bias` (the causal mask) and `h.N.attn.masked_bias` (-1e4) of checkpoints saved by
 * transformers before 4.31: buffers, not weights, which transformers ignores. Not `c_attn.bias`.
 */
export function isLegacyAttentionBuffer(name: string): boolean {
  return /(^|\.)h\.\d+\.attn\.(bias|masked_bias)$/.test(name);
}

/** Where a tensor's bytes are in its file: enough to read it again, or to hash it unread. */
export interface TensorSource {
  file: string;
  dtype: string;
  /** Absolute byte offset in the file, and the byte length. */
  offset: number;
  length: number;
}

/** A weight read from its file when `data` is first used, and dropped when no one holds it. */
export interface LazyWeightTensor extends WeightTensor {
  readonly source: TensorSource;
}

interface HeaderTensor {
  name: string;
  shape: number[];
  source: TensorSource;
}

/** Reads and checks the header; `size` is the file's byte count. */
function parseHeader(
  head: Buffer,
  size: number,
  file: string,
): { tensors: HeaderTensor[]; metadata: Record<string, string>; dataStart: number } {
  if (size < 8) fail(file, `truncated file: ${size} bytes, too short for the 8-byte header length`);
  const headerLength = Number(head.readBigUInt64LE(0));
  if (headerLength > MAX_HEADER_BYTES)
    fail(file, `not a safetensors file (header length ${headerLength} bytes)`);
  if (8 + headerLength > size) {
    fail(
      file,
      `truncated file: header says ${headerLength} bytes of JSON but the file has ${size} bytes`,
    );
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(head.subarray(8, 8 + headerLength).toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch (e) {
    fail(file, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    fail(file, 'header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = size - dataStart;
  const tensors: HeaderTensor[] = [];
  let metadata: Record<string, string> = {};
  let end = 0;
  for (const [name, value] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (value ?? {}) as Record<string, string>;
      continue;
    }
    const entry = value as HeaderEntry;
    if (
      typeof entry !== 'object' ||
      entry === null ||
      typeof entry.dtype !== 'string' ||
      !Array.isArray(entry.shape) ||
      !entry.shape.every((d) => Number.isInteger(d) && d >= 0) ||
      !Array.isArray(entry.data_offsets) ||
      entry.data_offsets.length !== 2
    ) {
      fail(file, `tensor ${name}: header entry needs dtype, shape and data_offsets`);
    }
    const width = BYTES_PER_ELEMENT[entry.dtype];
    if (width === undefined) fail(file, `tensor ${name}: unknown dtype ${entry.dtype}`);
    const [begin, stop] = entry.data_offsets;
    const count = entry.shape.reduce((a, b) => a * b, 1);
    if (!(Number.isInteger(begin) && Number.isInteger(stop) && begin >= 0 && stop >= begin)) {
      fail(file, `tensor ${name}: invalid data_offsets [${begin}, ${stop}]`);
    }
    if (stop - begin !== count * width) {
      fail(
        file,
        `tensor ${name}: data_offsets [${begin}, ${stop}] hold ${stop - begin} bytes, but ${entry.dtype} shape [${entry.shape.join(', ')}] needs ${count * width}`,
      );
    }
    if (stop > dataLength) {
      fail(
        file,
        `truncated file: tensor ${name} ends at byte ${stop} of the data but the file has only ${dataLength} data bytes`,
      );
    }
    end = Math.max(end, stop);
    if (!READABLE.includes(entry.dtype)) {
      // transformers < 4.31 saved the causal mask as a weight; transformers drops it on load.
      if (isLegacyAttentionBuffer(name)) continue;
      fail(
        file,
        `tensor ${name}: dtype ${entry.dtype} is not supported (supported: ${READABLE.join(', ')})`,
      );
    }
    tensors.push({
      name,
      shape: entry.shape,
      source: { file, dtype: entry.dtype, offset: dataStart + begin, length: stop - begin },
    });
  }
  if (end !== dataLength) {
    fail(
      file,
      `header and size disagree: the tensors cover ${end} data bytes but the file has ${dataLength}`,
    );
  }
  return { tensors, metadata, dataStart };
}

const elementCount = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Parses a safetensors buffer; `file` names it in errors. */
export function parseSafetensors(buffer: Buffer, file = 'model.safetensors'): SafetensorsFile {
  const { tensors, metadata } = parseHeader(buffer, buffer.length, file);
  const weights: Weights = new Map();
  for (const { name, shape, source } of tensors) {
    weights.set(name, {
      shape,
      data: toFloat32(
        source.dtype,
        buffer.subarray(source.offset, source.offset + source.length),
        elementCount(shape),
      ),
    });
  }
  return { tensors: weights, metadata };
}

export function readSafetensors(file: string): SafetensorsFile {
  return parseSafetensors(fs.readFileSync(file), file);
}

/** Reads `length` bytes at `offset` of `file`. */
export function readRange(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const out = Buffer.allocUnsafe(length);
    for (let done = 0; done < length;) {
      const n = fs.readSync(fd, out, done, length - done, offset + done);
      if (n === 0)
        fail(file, `truncated file: ended while reading bytes ${offset}…${offset + length}`);
      done += n;
    }
    return out;
  } finally {
    fs.closeSync(fd);
  }
}

/** Calls `use` with successive chunks (at most `chunkBytes`, one reused buffer) of a byte range. */
export function forEachChunk(
  file: string,
  offset: number,
  length: number,
  use: (chunk: Buffer) => void,
  chunkBytes = 8 << 20,
): void {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(1, length)));
    for (let done = 0; done < length;) {
      const n = fs.readSync(fd, buffer, 0, Math.min(buffer.length, length - done), offset + done);
      if (n === 0)
        fail(file, `truncated file: ended while reading bytes ${offset}…${offset + length}`);
      use(buffer.subarray(0, n));
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Opens a safetensors file without reading its weights: only the header is read and checked now.
 * Each tensor's data is read when first used and stays only while someone holds it, so a
 * conversion holds one weight at a time instead of the whole checkpoint.
 */
export function openSafetensors(file: string): SafetensorsFile {
  const size = fs.statSync(file).size;
  const prefix = readRange(file, 0, Math.min(size, 8));
  const headerLength = size >= 8 ? Number(prefix.readBigUInt64LE(0)) : 0;
  const head =
    size >= 8 && headerLength <= MAX_HEADER_BYTES && 8 + headerLength <= size
      ? readRange(file, 0, 8 + headerLength)
      : prefix;
  const { tensors, metadata } = parseHeader(head, size, file);
  const weights: Weights = new Map();
  for (const { name, shape, source } of tensors) weights.set(name, lazyTensor(shape, source));
  return { tensors: weights, metadata };
}

function lazyTensor(shape: number[], source: TensorSource): LazyWeightTensor {
  let held: WeakRef<Float32Array> | undefined;
  return {
    shape,
    source,
    get data(): Float32Array {
      let data = held?.deref();
      if (!data) {
        const bytes = readRange(source.file, source.offset, source.length);
        data =
          source.dtype === 'F32' && bytes.byteOffset % 4 === 0
            ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4)
            : toFloat32(source.dtype, bytes, elementCount(shape));
        held = new WeakRef(data);
      }
      return data;
    },
  };
}

/** The file location of a weight opened by `openSafetensors`; undefined for one read eagerly. */
export function sourceOf(tensor: WeightTensor): TensorSource | undefined {
  return (tensor as Partial<LazyWeightTensor>).source;
}

function fromFloat32(data: Float32Array, dtype: SafetensorsDtype): Buffer {
  if (dtype === 'F32') return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.alloc(data.length * 2);
  const bits = new Uint32Array(Float32Array.from(data).buffer);
  for (let i = 0; i < data.length; i++) {
    out.writeUInt16LE(dtype === 'BF16' ? bf16Bits(bits[i]) : halfBits(data[i]), 2 * i);
  }
  return out;
}

function bf16Bits(f32: number): number {
  // Round to nearest even, as torch does.
  return ((f32 + 0x7fff + ((f32 >>> 16) & 1)) >>> 16) & 0xffff;
}

function halfBits(value: number): number {
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (Number.isNaN(value)) return 0x7e00;
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -24 / 2) return sign;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24);
  let exponent = Math.floor(Math.log2(a));
  let fraction = Math.round((a / 2 ** exponent - 1) * 1024);
  if (fraction === 1024) {
    fraction = 0;
    exponent++;
  }
  return sign | ((exponent + 15) << 10) | fraction;
}

/** Serialises tensors (sorted by name, as the reference writer does) with optional metadata. */
export function serializeSafetensors(
  tensors: Map<string, WeightTensor>,
  metadata: Record<string, string> = { format: 'pt' },
  dtype: SafetensorsDtype = 'F32',
): Buffer {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  const chunks: Buffer[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name)!;
    const bytes = fromFloat32(t.data, dtype);
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([length, Buffer.from(json, 'utf8'), ...chunks]);
}

export function writeSafetensors(
  file: string,
  tensors: Map<string, WeightTensor>,
  metadata?: Record<string, string>,
  dtype?: SafetensorsDtype,
): void {
  fs.writeFileSync(file, serializeSafetensors(tensors, metadata, dtype));
}
