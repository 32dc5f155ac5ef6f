/**
 * A weights-only reader of Python pickles: the pickle of a PyTorch state dict, and nothing else.
 *
 * A pickle is a program for a small stack machine whose GLOBAL opcode names any Python callable
 * and whose REDUCE opcode calls it: `posix.system("…")` is two opcodes. Loading one with Python's
 * pickle runs whatever it names. This interpreter never imports or calls anything: it reads the
 * opcodes into plain JavaScript values, and a GLOBAL is only a name. The few names a state dict
 * needs (the allow-list of `torch.load(weights_only=True)`: OrderedDict, the tensor and parameter
 * rebuilds, typed storages, dtypes) are "applied" by building data here; REDUCE, BUILD or NEWOBJ
 * on any other name stops the read with an error that names it, before anything else happens.
 *
 * The work is bounded: every opcode consumes at least one byte of the input, values are shared
 * by reference (DUP, GET) and never copied, integers are at most 64 bits wide (LONG1/LONG4 with
 * more bytes are refused), and the input's size is capped by the caller.
 */
import { ModelFormatError } from './gpt2Config';

/** A name a GLOBAL opcode pushed: never resolved to anything. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** A storage reference from BINPERSID: ('storage', <storage type>, key, location, numel). */
export interface StorageRef {
  kind: 'storage';
  dtype: StorageDtype;
  key: string;
  location: string;
  numel: number;
}

/** A tensor as `torch._utils._rebuild_tensor_v2` describes it; its bytes are read later. */
export interface TensorRef {
  kind: 'tensor';
  storage: StorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

/** A dict (OrderedDict or {}), keys in insertion order. */
export class PickleDict {
  readonly entries = new Map<PickleValue, PickleValue>();
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleTuple
  | PickleDict
  | PickleGlobal
  | StorageRef
  | TensorRef;

/** A Python tuple (immutable; kept apart from lists only for error messages). */
export class PickleTuple {
  constructor(readonly items: PickleValue[]) {}
}

export type StorageDtype =
  'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** torch.<Name>Storage → element type. Also used for torch.<dtype> names. */
const STORAGE_TYPES: Record<string, StorageDtype> = {
  DoubleStorage: 'F64',
  FloatStorage: 'F32',
  HalfStorage: 'F16',
  BFloat16Storage: 'BF16',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
};
const DTYPES: Record<string, StorageDtype> = {
  float64: 'F64',
  double: 'F64',
  float32: 'F32',
  float: 'F32',
  float16: 'F16',
  half: 'F16',
  bfloat16: 'BF16',
  int64: 'I64',
  long: 'I64',
  int32: 'I32',
  int: 'I32',
  int16: 'I16',
  int8: 'I8',
  uint8: 'U8',
  bool: 'BOOL',
};

/** The callables a state dict's pickle may apply (REDUCE), as torch's weights-only unpickler allows. */
const CALLABLE = new Set([
  'collections.OrderedDict',
  'torch._utils._rebuild_tensor_v2',
  'torch._utils._rebuild_parameter',
  'torch._utils._rebuild_parameter_with_state',
]);

/** Every global this reader accepts at all: the callables, storage types and dtypes. */
function isAllowedGlobal(g: PickleGlobal): boolean {
  if (CALLABLE.has(g.qualified)) return true;
  if (g.module === 'torch' && (g.name in STORAGE_TYPES || g.name in DTYPES)) return true;
  return false;
}

export const ALLOWED_GLOBALS: readonly string[] = [
  ...CALLABLE,
  ...Object.keys(STORAGE_TYPES).map((n) => `torch.${n}`),
  ...Object.keys(DTYPES).map((n) => `torch.${n}`),
];

/** The error a pickle gets for naming something a weights-only load does not allow. */
export class RefusedGlobalError extends ModelFormatError {
  constructor(
    readonly global: string,
    where: string,
  ) {
    super(
      `${where}: refused to load: the pickle names ${global}, which a weights-only load does not ` +
        `allow (a state dict only needs OrderedDict, tensor rebuilds, storages and dtypes). ` +
        `Nothing from the file was run. If you trust the file, convert it to safetensors with ` +
        `transformers (model.save_pretrained(folder, safe_serialization=True)).`,
    );
    this.name = 'RefusedGlobalError';
  }
}

const MARK = Symbol('mark');
type StackItem = PickleValue | typeof MARK;

// Integers wider than this are not a state dict's (sizes, strides, offsets fit in 64 bits).
const MAX_LONG_BYTES = 8;
// A tensor with more dimensions than this is not a GPT-2 weight; bounds the stride arithmetic.
const MAX_RANK = 16;

function describe(value: StackItem): string {
  if (value === MARK) return 'a mark';
  if (value === null) return 'None';
  if (value instanceof PickleGlobal) return value.qualified;
  if (value instanceof PickleTuple) return 'a tuple';
  if (value instanceof PickleDict) return 'a dict';
  if (Array.isArray(value)) return 'a list';
  if (value instanceof Uint8Array) return 'bytes';
  if (typeof value === 'object') return `a ${value.kind}`;
  return typeof value;
}

const OPCODE_NAMES: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x46: 'FLOAT',
  0x49: 'INT',
  0x4c: 'LONG',
  0x50: 'PERSID',
  0x53: 'STRING',
  0x56: 'UNICODE',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x67: 'GET',
  0x69: 'INST',
  0x6c: 'LIST',
  0x6f: 'OBJ',
  0x70: 'PUT',
  0x81: 'NEWOBJ',
  0x82: 'EXT1',
  0x83: 'EXT2',
  0x84: 'EXT4',
  0x92: 'NEWOBJ_EX',
  0x97: 'NEXT_BUFFER',
  0x98: 'READONLY_BUFFER',
};

/**
 * Reads a pickle into plain values. `where` names the file in errors. Storages are resolved by
 * the caller from the StorageRef values in the result.
 */
export function readPickle(data: Uint8Array, where: string): PickleValue {
  const fail = (message: string): never => {
    throw new ModelFormatError(`${where}: not a weights-only PyTorch pickle: ${message}`);
  };
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let pos = 0;
  const stack: StackItem[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();

  const need = (n: number): number => {
    if (!Number.isSafeInteger(n) || n < 0 || pos + n > data.length) {
      fail(`truncated at byte ${pos} (needs ${n} more bytes, the pickle has ${data.length - pos})`);
    }
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = (): number => data[need(1)];
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const i32 = (): number => view.getInt32(need(4), true);
  const u64 = (): number => {
    const value = view.getBigUint64(need(8), true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`a length of ${value} bytes`);
    return Number(value);
  };
  const bytes = (n: number): Uint8Array => data.subarray(need(n), pos);
  const text = (n: number): string => {
    try {
      return decoder.decode(bytes(n));
    } catch {
      return fail(`invalid UTF-8 text at byte ${pos - n}`);
    }
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail(`truncated at byte ${pos} (a line without its newline)`);
    const value = Buffer.from(data.subarray(pos, end)).toString('latin1');
    pos = end + 1;
    return value;
  };
  const pop = (): PickleValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) {
      fail(`the stack is empty at byte ${pos - 1}`);
    }
    return stack.pop() as PickleValue;
  };
  const top = (): PickleValue => {
    if (stack.length === 0 || (marks.length > 0 && stack.length <= marks[marks.length - 1])) {
      fail(`the stack is empty at byte ${pos - 1}`);
    }
    return stack[stack.length - 1] as PickleValue;
  };
  const popMark = (): PickleValue[] => {
    const mark = marks.pop();
    if (mark === undefined) fail(`no mark at byte ${pos - 1}`);
    const items = stack.splice(mark!) as PickleValue[];
    return items;
  };
  const memoGet = (index: number): PickleValue => {
    if (!memo.has(index)) fail(`memo entry ${index} is not set`);
    return memo.get(index)!;
  };
  const memoPut = (index: number): void => {
    memo.set(index, top());
  };
  const setItems = (dict: PickleValue, items: PickleValue[]): void => {
    if (!(dict instanceof PickleDict)) fail(`SETITEMS on ${describe(dict)}`);
    if (items.length % 2 !== 0) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < items.length; i += 2) {
      (dict as PickleDict).entries.set(items[i], items[i + 1]);
    }
  };
  const appendItems = (list: PickleValue, items: PickleValue[]): void => {
    if (!Array.isArray(list)) fail(`APPENDS on ${describe(list)}`);
    (list as PickleValue[]).push(...items);
  };
  const long = (n: number): number | bigint => {
    if (n > MAX_LONG_BYTES) fail(`an integer of ${n} bytes`);
    const b = bytes(n);
    let value = 0n;
    for (let i = n - 1; i >= 0; i--) value = (value << 8n) | BigInt(b[i]);
    if (n > 0 && b[n - 1] & 0x80) value -= 1n << BigInt(8 * n);
    return Number.isSafeInteger(Number(value)) ? Number(value) : value;
  };

  for (;;) {
    const at = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) fail('pickle protocol newer than 5');
        break;
      case 0x95: // FRAME: a length hint only
        need(8);
        break;
      case 0x2e: {
        // STOP
        if (stack.length !== 1 || marks.length > 0)
          fail(`STOP with ${stack.length} values on the stack`);
        return stack[0] as PickleValue;
      }
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (stack.length > 0 && stack.length === marks[marks.length - 1]) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(long(u8()));
        break;
      case 0x8b: // LONG4
        stack.push(long(u32()));
        break;
      case 0x47: // BINFLOAT (big-endian)
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x58: // BINUNICODE
        stack.push(text(u32()));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text(u8()));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text(u64()));
        break;
      case 0x54: // BINSTRING
        stack.push(Buffer.from(bytes(i32())).toString('latin1'));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(Buffer.from(bytes(u8())).toString('latin1'));
        break;
      case 0x42: // BINBYTES
        stack.push(bytes(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()));
        break;
      case 0x8e: // BINBYTES8
        stack.push(bytes(u64()));
        break;
      case 0x7d: // EMPTY_DICT
        stack.push(new PickleDict());
        break;
      case 0x64: {
        // DICT
        const dict = new PickleDict();
        setItems(dict, popMark());
        stack.push(dict);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x6c: // LIST
        stack.push(popMark());
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push(new PickleTuple([]));
        break;
      case 0x74: // TUPLE
        stack.push(new PickleTuple(popMark()));
        break;
      case 0x85: // TUPLE1
        stack.push(new PickleTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push(new PickleTuple([pop(), b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push(new PickleTuple([pop(), b, c]));
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItems(top(), [key, value]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x61: {
        // APPEND
        const value = pop();
        appendItems(top(), [value]);
        break;
      }
      case 0x65: {
        // APPENDS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x71: // BINPUT
        memoPut(u8());
        break;
      case 0x72: // LONG_BINPUT
        memoPut(u32());
        break;
      case 0x94: // MEMOIZE
        memoPut(memo.size);
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x63: {
        // GLOBAL "module\nname\n"
        const global = new PickleGlobal(line(), line());
        if (!isAllowedGlobal(global)) throw new RefusedGlobalError(global.qualified, where);
        stack.push(global);
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          fail(`STACK_GLOBAL with ${describe(module)} and ${describe(name)}`);
        const global = new PickleGlobal(module as string, name as string);
        if (!isAllowedGlobal(global)) throw new RefusedGlobalError(global.qualified, where);
        stack.push(global);
        break;
      }
      case 0x52: {
        // REDUCE: callable args → callable(*args), for the allowed callables only
        const args = pop();
        const callable = pop();
        stack.push(apply(callable, args, fail, where));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state). Only a dict's attributes (OrderedDict._metadata) and a
        // parameter's state, both ignored: they carry no weights.
        const state = pop();
        const target = top();
        if (!(target instanceof PickleDict) && !isTensor(target)) {
          fail(`BUILD on ${describe(target)} with ${describe(state)}`);
        }
        break;
      }
      case 0x51: {
        // BINPERSID: a storage reference, resolved by the caller
        stack.push(storageRef(pop(), fail));
        break;
      }
      case 0x81: // NEWOBJ: cls.__new__(cls, *args)
      case 0x92: {
        // NEWOBJ_EX
        if (op === 0x92) pop();
        pop();
        const cls = pop();
        throw cls instanceof PickleGlobal
          ? new RefusedGlobalError(`${cls.qualified} (instantiated)`, where)
          : fail(`${OPCODE_NAMES[op]} on ${describe(cls)}`);
      }
      default:
        fail(
          `opcode ${OPCODE_NAMES[op] ?? `0x${op.toString(16).padStart(2, '0')}`} at byte ${at} ` +
            'is not one a weights-only load reads',
        );
    }
  }
}

function isTensor(value: PickleValue): value is TensorRef {
  return typeof value === 'object' && value !== null && 'kind' in value && value.kind === 'tensor';
}

function storageRef(pid: PickleValue, fail: (m: string) => never): StorageRef {
  if (!(pid instanceof PickleTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
    return fail(`a persistent id that is not ('storage', type, key, location, numel)`);
  }
  const [, type, key, location, numel] = pid.items;
  // torch.FloatStorage and friends; a dtype (torch.float32) in its place means the same.
  const dtype =
    type instanceof PickleGlobal && type.module === 'torch'
      ? (STORAGE_TYPES[type.name] ?? DTYPES[type.name])
      : undefined;
  if (!dtype) return fail(`a storage of type ${describe(type)}`);
  if (typeof key !== 'string' || !/^[0-9A-Za-z_]{1,64}$/.test(key))
    return fail('a storage key that is not a plain name');
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0)
    return fail('a storage size that is not a count');
  return {
    kind: 'storage',
    dtype,
    key,
    location: typeof location === 'string' ? location : '',
    numel,
  };
}

function intTuple(value: PickleValue, what: string, fail: (m: string) => never): number[] {
  if (!(value instanceof PickleTuple) || value.items.length > MAX_RANK)
    return fail(`${what} is ${describe(value)}, not a tuple of at most ${MAX_RANK} integers`);
  return value.items.map((item) => {
    if (typeof item !== 'number' || !Number.isSafeInteger(item) || item < 0)
      return fail(`${what} holds ${describe(item)}, not a non-negative integer`);
    return item;
  });
}

/** REDUCE of an allowed callable: builds the value it describes; anything else is refused. */
function apply(
  callable: PickleValue,
  args: PickleValue,
  fail: (m: string) => never,
  where: string,
): PickleValue {
  if (!(callable instanceof PickleGlobal))
    return fail(`REDUCE calls ${describe(callable)}, not a named callable`);
  if (!CALLABLE.has(callable.qualified))
    throw new RefusedGlobalError(`${callable.qualified} (called)`, where);
  if (!(args instanceof PickleTuple)) return fail(`REDUCE with ${describe(args)} as arguments`);
  const a = args.items;
  switch (callable.qualified) {
    case 'collections.OrderedDict': {
      if (a.length !== 0) return fail('OrderedDict with arguments');
      return new PickleDict();
    }
    case 'torch._utils._rebuild_tensor_v2': {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (a.length < 6 || a.length > 7) return fail('_rebuild_tensor_v2 with the wrong arguments');
      const [storage, offset] = a;
      if (typeof storage !== 'object' || storage === null || !('kind' in storage))
        return fail('_rebuild_tensor_v2 without a storage');
      if ((storage as StorageRef).kind !== 'storage')
        return fail('_rebuild_tensor_v2 without a storage');
      if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0)
        return fail('_rebuild_tensor_v2 with a bad storage offset');
      const shape = intTuple(a[2], 'a tensor size', fail);
      const stride = intTuple(a[3], 'a tensor stride', fail);
      if (shape.length !== stride.length) return fail('a tensor whose size and stride differ');
      return { kind: 'tensor', storage: storage as StorageRef, offset, shape, stride };
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state': {
      // (data, requires_grad, backward_hooks[, state])
      if (!isTensor(a[0])) return fail(`${callable.name} without a tensor`);
      return a[0];
    }
  }
  return fail(`REDUCE of ${callable.qualified}`);
}
