/**
 * Reads `pytorch_model.bin` as torch.save writes it since torch 1.6: a zip archive (stored, not
 * compressed) holding `<archive>/data.pkl` (the state dict's pickle), `<archive>/byteorder`
 * ("little") and one file `<archive>/data/<key>` per storage, its raw little-endian elements.
 * The pickle is read by the weights-only interpreter of pickle.ts, which never runs anything;
 * tensors are cut from the storages here, F16 and BF16 upcast exactly to float32.
 *
 * The format before torch 1.6 (a sequence of pickles followed by raw storages, no zip) is refused
 * with an error that says how to re-save the checkpoint.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readShardIndex, torchIndexFile } from './weights';
import { inflateRawSync } from 'node:zlib';
import { ModelFormatError } from './gpt2Config';
import type { Weights } from './gpt2Graph';
import {
  PickleDict,
  readPickle,
  RefusedGlobalError,
  type PickleValue,
  type TensorRef,
} from './pickle';
import { BYTES_PER_ELEMENT, isLegacyAttentionBuffer, toFloat32 } from './safetensors';

// A state dict's pickle is a few kilobytes per tensor: 64 MB is far more than any GPT-2 needs.
const MAX_PICKLE_BYTES = 64 * 1024 * 1024;
// More entries than this is not a GPT-2 checkpoint (GPT-2 XL has ~580 tensors).
const MAX_ZIP_ENTRIES = 100_000;

interface ZipEntry {
  name: string;
  method: number;
  compressedSize: number;
  size: number;
  localOffset: number;
}

function fail(file: string, message: string): never {
  throw new ModelFormatError(`${file}: ${message}`);
}

/** The central directory of a zip file (with zip64 sizes and offsets, which torch writes). */
export function readZipDirectory(buffer: Buffer, file: string): Map<string, ZipEntry> {
  const EOCD = 0x06054b50;
  let eocd = -1;
  for (let i = buffer.length - 22; i >= Math.max(0, buffer.length - 22 - 65535); i--) {
    if (buffer.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail(file, 'not a zip archive (no end of central directory)');
  let count = buffer.readUInt16LE(eocd + 10);
  let dirSize = buffer.readUInt32LE(eocd + 12);
  let dirOffset = buffer.readUInt32LE(eocd + 16);
  if (count === 0xffff || dirSize === 0xffffffff || dirOffset === 0xffffffff) {
    const locator = eocd - 20;
    if (locator < 0 || buffer.readUInt32LE(locator) !== 0x07064b50)
      fail(file, 'a zip64 archive without its locator');
    const record = safeNumber(buffer.readBigUInt64LE(locator + 8), file);
    if (record + 56 > buffer.length || buffer.readUInt32LE(record) !== 0x06064b50)
      fail(file, 'a zip64 archive without its end record');
    count = safeNumber(buffer.readBigUInt64LE(record + 32), file);
    dirSize = safeNumber(buffer.readBigUInt64LE(record + 40), file);
    dirOffset = safeNumber(buffer.readBigUInt64LE(record + 48), file);
  }
  if (count > MAX_ZIP_ENTRIES) fail(file, `a zip archive with ${count} entries`);
  if (dirOffset + dirSize > buffer.length) fail(file, 'truncated zip archive (central directory)');
  const entries = new Map<string, ZipEntry>();
  let p = dirOffset;
  for (let n = 0; n < count; n++) {
    if (p + 46 > buffer.length || buffer.readUInt32LE(p) !== 0x02014b50)
      fail(file, 'a damaged zip central directory');
    const method = buffer.readUInt16LE(p + 10);
    let compressedSize = buffer.readUInt32LE(p + 20);
    let size = buffer.readUInt32LE(p + 24);
    const nameLength = buffer.readUInt16LE(p + 28);
    const extraLength = buffer.readUInt16LE(p + 30);
    const commentLength = buffer.readUInt16LE(p + 32);
    let localOffset = buffer.readUInt32LE(p + 42);
    if (p + 46 + nameLength + extraLength > buffer.length) fail(file, 'a damaged zip entry');
    const name = buffer.toString('utf8', p + 46, p + 46 + nameLength);
    // zip64 extended information: the 64-bit values of the fields that hold 0xffffffff, in order.
    let e = p + 46 + nameLength;
    const extraEnd = e + extraLength;
    while (e + 4 <= extraEnd) {
      const id = buffer.readUInt16LE(e);
      const length = buffer.readUInt16LE(e + 2);
      if (id === 0x0001) {
        let q = e + 4;
        const next = (): number => {
          if (q + 8 > e + 4 + length) fail(file, `zip entry ${name}: a short zip64 field`);
          const value = safeNumber(buffer.readBigUInt64LE(q), file);
          q += 8;
          return value;
        };
        if (size === 0xffffffff) size = next();
        if (compressedSize === 0xffffffff) compressedSize = next();
        if (localOffset === 0xffffffff) localOffset = next();
      }
      e += 4 + length;
    }
    entries.set(name, { name, method, compressedSize, size, localOffset });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

function safeNumber(value: bigint, file: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(file, 'a zip offset beyond any file size');
  return Number(value);
}

/** The bytes of one zip entry (a view into `buffer` when stored). */
export function zipEntryData(buffer: Buffer, entry: ZipEntry, file: string): Buffer {
  const p = entry.localOffset;
  if (p + 30 > buffer.length || buffer.readUInt32LE(p) !== 0x04034b50)
    fail(file, `zip entry ${entry.name}: no local header`);
  const start = p + 30 + buffer.readUInt16LE(p + 26) + buffer.readUInt16LE(p + 28);
  if (start + entry.compressedSize > buffer.length)
    fail(file, `truncated zip archive (entry ${entry.name})`);
  const raw = buffer.subarray(start, start + entry.compressedSize);
  if (entry.method === 0) {
    if (entry.size !== entry.compressedSize) fail(file, `zip entry ${entry.name}: sizes differ`);
    return raw;
  }
  if (entry.method === 8) {
    try {
      const out = inflateRawSync(raw, { maxOutputLength: entry.size });
      if (out.length !== entry.size) fail(file, `zip entry ${entry.name}: wrong size`);
      return out;
    } catch (error) {
      if (error instanceof ModelFormatError) throw error;
      fail(file, `zip entry ${entry.name} cannot be inflated (${(error as Error).message})`);
    }
  }
  return fail(file, `zip entry ${entry.name}: compression method ${entry.method} is not supported`);
}

const PICKLE_LEGACY_HINT =
  'Load it with torch >= 1.6 and save it again (torch.save(state_dict, file) writes the zip ' +
  'format), or convert it to safetensors with transformers ' +
  '(model.save_pretrained(folder, safe_serialization=True)).';

/** Reads the tensors of a torch zip checkpoint (torch >= 1.6). */
export function parseTorchCheckpoint(buffer: Buffer, file: string): Weights {
  if (buffer.length >= 262 && buffer.toString('latin1', 257, 262) === 'ustar') {
    fail(
      file,
      `this is the tar format of torch before 0.4, which GPT-2 Heads does not read. ${PICKLE_LEGACY_HINT}`,
    );
  }
  if (buffer.length < 4 || buffer.readUInt32LE(0) !== 0x04034b50) {
    // Not a zip: the format of before torch 1.6 starts with a pickle (its magic number). Read
    // that first pickle with the same weights-only reader, so that a booby-trapped file is
    // refused naming its global, and say what the file is.
    let legacy = false;
    try {
      readPickle(buffer.subarray(0, MAX_PICKLE_BYTES), file);
      legacy = true;
    } catch (error) {
      if (error instanceof RefusedGlobalError) throw error;
    }
    if (legacy) {
      fail(
        file,
        'this is the PyTorch format of before torch 1.6 (pickles and raw storages, not a zip ' +
          `archive), which GPT-2 Heads does not read. ${PICKLE_LEGACY_HINT}`,
      );
    }
    fail(file, 'not a PyTorch checkpoint (neither a zip archive nor a pickle)');
  }
  const entries = readZipDirectory(buffer, file);
  const pickles = [...entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length !== 1)
    fail(file, `expected one <archive>/data.pkl in the zip archive, found ${pickles.length}`);
  const prefix = pickles[0].slice(0, -'data.pkl'.length);
  const byteorder = entries.get(`${prefix}byteorder`);
  if (byteorder) {
    const order = zipEntryData(buffer, byteorder, file).toString('latin1');
    if (order !== 'little')
      fail(file, `the storages are ${order}-endian; only little-endian checkpoints are read`);
  }
  const pickleEntry = entries.get(pickles[0])!;
  if (pickleEntry.size > MAX_PICKLE_BYTES)
    fail(file, `data.pkl is ${pickleEntry.size} bytes, more than any state dict needs`);
  const root = readPickle(zipEntryData(buffer, pickleEntry, file), `${file} (data.pkl)`);
  if (!(root instanceof PickleDict))
    fail(file, 'the pickle is not a state dict (a dict of tensors)');
  const storages = new Map<string, Float32Array | null>();
  const storage = (tensor: TensorRef, name: string): Float32Array => {
    const ref = tensor.storage;
    const cached = storages.get(ref.key);
    if (cached) return cached;
    const entry = entries.get(`${prefix}data/${ref.key}`);
    if (!entry) fail(file, `tensor ${name}: storage data/${ref.key} is missing`);
    const bytes = zipEntryData(buffer, entry!, file);
    const width = BYTES_PER_ELEMENT[ref.dtype];
    if (bytes.length !== ref.numel * width) {
      fail(
        file,
        `tensor ${name}: storage data/${ref.key} holds ${bytes.length} bytes, but ${ref.numel} ${ref.dtype} elements need ${ref.numel * width}`,
      );
    }
    const data = toFloat32(ref.dtype, bytes, ref.numel);
    storages.set(ref.key, data);
    return data;
  };
  const weights: Weights = new Map();
  // Views may share storages (a tied lm_head), but a file cannot make more floats than this:
  // bounds what a hostile pickle of many overlapping views could make the host allocate.
  let budget = 8 * buffer.length + 1024;
  for (const [key, value] of root.entries) {
    if (typeof key !== 'string') fail(file, 'a state dict key that is not a name');
    const name = key as string;
    if (!isTensorRef(value)) fail(file, `${name} is not a tensor`);
    const tensor = value as TensorRef;
    if (!['F32', 'F16', 'BF16'].includes(tensor.storage.dtype)) {
      if (isLegacyAttentionBuffer(name)) continue;
      fail(
        file,
        `tensor ${name}: dtype ${tensor.storage.dtype} is not supported (supported: F32, F16, BF16)`,
      );
    }
    const data = gather(storage(tensor, name), tensor, name, file);
    budget -= data.length;
    if (budget < 0)
      fail(file, `tensor ${name}: the tensors hold more values than the file can store`);
    weights.set(name, { shape: tensor.shape, data });
  }
  return weights;
}

function isTensorRef(value: PickleValue): value is TensorRef {
  return typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'tensor';
}

/** The tensor's elements, in row-major order, from its storage (any strides, bounds checked). */
function gather(data: Float32Array, tensor: TensorRef, name: string, file: string): Float32Array {
  const { shape, stride, offset } = tensor;
  let count = 1;
  for (const d of shape) count *= d;
  if (count === 0) return new Float32Array(0);
  // More elements than the storage holds would repeat values (stride 0): not a saved weight.
  if (!(count <= data.length)) {
    fail(
      file,
      `tensor ${name}: shape [${shape.join(', ')}] has more elements than its storage of ${data.length}`,
    );
  }
  let last = offset;
  for (let i = 0; i < shape.length; i++) last += (shape[i] - 1) * stride[i];
  if (!Number.isSafeInteger(last) || last >= data.length) {
    fail(
      file,
      `tensor ${name}: shape [${shape.join(', ')}] with strides [${stride.join(', ')}] at offset ${offset} reaches beyond its storage of ${data.length} elements`,
    );
  }
  let contiguous = true;
  for (let i = shape.length - 1, expected = 1; i >= 0; i--) {
    if (shape[i] !== 1 && stride[i] !== expected) contiguous = false;
    expected *= shape[i];
  }
  if (contiguous) return data.slice(offset, offset + count);
  const out = new Float32Array(count);
  const index = new Array<number>(shape.length).fill(0);
  for (let n = 0; n < count; n++) {
    let at = offset;
    for (let i = 0; i < shape.length; i++) at += index[i] * stride[i];
    out[n] = data[at];
    for (let i = shape.length - 1; i >= 0; i--) {
      if (++index[i] < shape[i]) break;
      index[i] = 0;
    }
  }
  return out;
}

export function readTorchCheckpoint(file: string): Weights {
  return parseTorchCheckpoint(fs.readFileSync(file), path.basename(file));
}

/** pytorch_model.bin, or the shards pytorch_model.bin.index.json lists; undefined when neither. */
export function readTorchCheckpointFolder(dir: string): Weights | undefined {
  const single = path.join(dir, 'pytorch_model.bin');
  if (fs.existsSync(single)) return readTorchCheckpoint(single);
  const index = path.join(dir, 'pytorch_model.bin.index.json');
  if (!fs.existsSync(index)) return undefined;
  const weights: Weights = new Map();
  for (const shard of torchShardFiles(dir)) {
    for (const [name, tensor] of readTorchCheckpoint(path.join(dir, shard)))
      weights.set(name, tensor);
  }
  return weights;
}

/** The shard files of pytorch_model.bin.index.json (plain names beside it), each present. */
export function torchShardFiles(dir: string): string[] {
  const shards = readShardIndex(dir, torchIndexFile)?.shards ?? [];
  for (const shard of shards) {
    if (!fs.existsSync(path.join(dir, shard))) fail(torchIndexFile, `shard ${shard} is missing`);
  }
  return shards;
}
