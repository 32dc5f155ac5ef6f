/**
 * Writes `pytorch_model.bin` as torch.save does since torch 1.6 (the layout torchCheckpoint.ts
 * reads): a stored zip archive with `<archive>/data.pkl` (a protocol-2 pickle of the state dict:
 * `torch._utils._rebuild_tensor_v2` over persistent storage ids), `<archive>/byteorder`,
 * `<archive>/version` and one `<archive>/data/<key>` per tensor. For the maker and tests: it lets
 * the project make .bin checkpoints of its own, in fp32, fp16 or bf16.
 */
import * as fs from 'node:fs';
import { crc32 } from 'node:zlib';
import type { Weights } from './gpt2Graph';
import { serializeSafetensors, type SafetensorsDtype } from './safetensors';

export interface ZipFileEntry {
  name: string;
  data: Uint8Array;
}

/**
 * The fields a local file header and its central directory entry share, from "version needed to
 * extract" (at `at`) to the file name's length; the central entry has them 2 bytes further on.
 */
function writeEntryFields(
  header: Buffer,
  at: number,
  crc: number,
  size: number,
  nameLength: number,
): void {
  header.writeUInt16LE(20, at);
  header.writeUInt32LE(crc, at + 10);
  header.writeUInt32LE(size, at + 14); // stored: compressed and uncompressed sizes are equal
  header.writeUInt32LE(size, at + 18);
  header.writeUInt16LE(nameLength, at + 22);
}

/** A zip archive of stored (uncompressed) entries, each data start aligned to 64 bytes as torch does. */
export function zipStored(entries: ZipFileEntry[]): Buffer {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const entry of entries) {
    const name = Buffer.from(entry.name, 'utf8');
    const padding = (64 - ((offset + 30 + name.length + 4) % 64)) % 64;
    const extra = Buffer.alloc(4 + padding);
    extra.writeUInt16LE(0xcafe, 0); // an unknown extra field that only pads, as PyTorch's writer uses
    extra.writeUInt16LE(padding, 2);
    const crc = crc32(entry.data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    writeEntryFields(local, 4, crc, entry.data.length, name.length);
    local.writeUInt16LE(extra.length, 28);
    const header = Buffer.alloc(46);
    header.writeUInt32LE(0x02014b50, 0);
    header.writeUInt16LE(20, 4); // version made by
    writeEntryFields(header, 6, crc, entry.data.length, name.length);
    header.writeUInt32LE(offset, 42);
    central.push(header, name);
    chunks.push(local, name, extra, Buffer.from(entry.data));
    offset += local.length + name.length + extra.length + entry.data.length;
  }
  const directory = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...chunks, directory, end]);
}

/** Opcodes of a protocol-2 pickle, for the state dict below (and hostile test pickles). */
export class PickleBuilder {
  private readonly parts: Buffer[] = [Buffer.from([0x80, 2])];

  op(code: number): this {
    this.parts.push(Buffer.from([code]));
    return this;
  }
  string(value: string): this {
    const bytes = Buffer.from(value, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    this.parts.push(Buffer.from([0x58]), length, bytes);
    return this;
  }
  int(value: number): this {
    const bytes = Buffer.alloc(5);
    bytes[0] = 0x4a;
    bytes.writeInt32LE(value, 1);
    this.parts.push(bytes);
    return this;
  }
  global(module: string, name: string): this {
    this.parts.push(Buffer.from(`c${module}\n${name}\n`, 'latin1'));
    return this;
  }
  mark(): this {
    return this.op(0x28);
  }
  tuple(): this {
    return this.op(0x74);
  }
  reduce(): this {
    return this.op(0x52);
  }
  stop(): Buffer {
    this.op(0x2e);
    return Buffer.concat(this.parts);
  }
}

const STORAGE: Record<SafetensorsDtype, string> = {
  F32: 'FloatStorage',
  F16: 'HalfStorage',
  BF16: 'BFloat16Storage',
};

/** The state dict's pickle: {name: _rebuild_tensor_v2(storage, 0, size, stride, False, OrderedDict())}. */
export function stateDictPickle(weights: Weights, dtype: SafetensorsDtype): Buffer {
  const p = new PickleBuilder().op(0x7d).mark();
  let key = 0;
  for (const [name, tensor] of weights) {
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    const stride = tensor.shape.map((_, i) => tensor.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    p.string(name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().string('storage').global('torch', STORAGE[dtype]).string(String(key++));
    p.string('cpu').int(count).tuple().op(0x51); // BINPERSID
    p.int(0).mark();
    for (const d of tensor.shape) p.int(d);
    p.tuple().mark();
    for (const s of stride) p.int(s);
    p.tuple().op(0x89); // requires_grad False
    p.global('collections', 'OrderedDict').op(0x29).reduce(); // backward_hooks
    p.tuple().reduce();
  }
  return p.op(0x75).stop(); // SETITEMS
}

/** The bytes of pytorch_model.bin for `weights`, stored as `dtype` (rounded as torch does). */
export function serializeTorchCheckpoint(
  weights: Weights,
  dtype: SafetensorsDtype = 'F32',
  archive = 'pytorch_model',
): Buffer {
  // The element bytes come from the safetensors writer (same little-endian layout and rounding).
  const entries: ZipFileEntry[] = [
    { name: `${archive}/data.pkl`, data: stateDictPickle(weights, dtype) },
    { name: `${archive}/byteorder`, data: Buffer.from('little') },
  ];
  let key = 0;
  for (const [name, tensor] of weights) {
    const one = serializeSafetensors(new Map([[name, tensor]]), {}, dtype);
    const headerLength = Number(one.readBigUInt64LE(0));
    entries.push({ name: `${archive}/data/${key++}`, data: one.subarray(8 + headerLength) });
  }
  entries.push({ name: `${archive}/version`, data: Buffer.from('3\n') });
  return zipStored(entries);
}

export function writeTorchCheckpoint(
  file: string,
  weights: Weights,
  dtype: SafetensorsDtype = 'F32',
): void {
  fs.writeFileSync(file, serializeTorchCheckpoint(weights, dtype));
}
