import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { zooDir } from '../../../support/fixtures';
import { ModelFormatError } from '../../../../src/host/convert/gpt2Config';
import type { Weights } from '../../../../src/host/convert/gpt2Graph';
import {
  ALLOWED_GLOBALS,
  PickleDict,
  readPickle,
  RefusedGlobalError,
} from '../../../../src/host/convert/pickle';
import {
  parseTorchCheckpoint,
  readTorchCheckpointFolder,
} from '../../../../src/host/convert/torchCheckpoint';
import {
  PickleBuilder,
  serializeTorchCheckpoint,
  stateDictPickle,
  zipStored,
} from '../../../../src/host/convert/torchWriter';
import { parseSafetensors, serializeSafetensors } from '../../../../src/host/convert/safetensors';
import { makeConfig, randomWeights } from '../../../../src/host/convert/maker';

function sample(): Weights {
  const config = makeConfig('GPT2ForQuestionAnswering', 'tiny', ['LABEL_0', 'LABEL_1'], {
    n_layer: 1,
    n_embd: 8,
    n_head: 2,
    vocab_size: 20,
    n_positions: 6,
  });
  return randomWeights(config, 7, 0.5, 0.3);
}

/** A torch zip whose data.pkl is `pickle` (and one 4-byte float storage "0"). */
function checkpointWith(pickle: Buffer): Buffer {
  return zipStored([
    { name: 'archive/data.pkl', data: pickle },
    { name: 'archive/byteorder', data: Buffer.from('little') },
    { name: 'archive/data/0', data: Buffer.from(Float32Array.from([1.5, 2.5]).buffer) },
  ]);
}

/** `module.name(argument)` as a pickle: GLOBAL, the argument tuple, REDUCE. */
function callPickle(module: string, name: string, argument: string): Buffer {
  return new PickleBuilder().global(module, name).mark().string(argument).tuple().reduce().stop();
}

/** The same call spelled with STACK_GLOBAL (protocol 4), as modern pickles name globals. */
function stackGlobalCall(module: string, name: string, argument: string): Buffer {
  return new PickleBuilder()
    .string(module)
    .string(name)
    .op(0x93)
    .mark()
    .string(argument)
    .tuple()
    .reduce()
    .stop();
}

/** A torch zip whose state dict holds views [name, offset, size, stride] of one float storage. */
function viewsCheckpoint(
  views: [string, number, number[], number[]][],
  storage = Float32Array.from([0, 1, 2, 3, 4, 5]),
): Buffer {
  const p = new PickleBuilder().op(0x7d).mark();
  for (const [name, offset, size, stride] of views) {
    p.string(name).global('torch._utils', '_rebuild_tensor_v2').mark();
    p.mark().string('storage').global('torch', 'FloatStorage').string('0').string('cpu');
    p.int(storage.length).tuple().op(0x51).int(offset).mark();
    for (const d of size) p.int(d);
    p.tuple().mark();
    for (const s of stride) p.int(s);
    p.tuple().op(0x89).global('collections', 'OrderedDict').op(0x29).reduce().tuple().reduce();
  }
  return zipStored([
    { name: 'a/data.pkl', data: p.op(0x75).stop() },
    { name: 'a/data/0', data: Buffer.from(storage.buffer) },
  ]);
}

function refusal(run: () => unknown): RefusedGlobalError {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof RefusedGlobalError, `expected a refusal, got ${String(error)}`);
    return error;
  }
  return assert.fail('the pickle was accepted');
}

describe('weights-only pickle reader', () => {
  it('reads the zoo pytorch_model.bin: every tensor of GPT2ForQuestionAnswering, F32, shapes from config.json', () => {
    const folder = path.join(zooDir, 'qa-bin-only');
    const config = JSON.parse(fs.readFileSync(path.join(folder, 'config.json'), 'utf8')) as {
      n_embd: number;
      n_layer: number;
      vocab_size: number;
      n_positions: number;
    };
    const weights = readTorchCheckpointFolder(folder)!;
    assert.deepEqual(weights.get('transformer.wte.weight')!.shape, [
      config.vocab_size,
      config.n_embd,
    ]);
    assert.deepEqual(weights.get('transformer.wpe.weight')!.shape, [
      config.n_positions,
      config.n_embd,
    ]);
    assert.deepEqual(weights.get('qa_outputs.weight')!.shape, [2, config.n_embd]);
    assert.ok(weights.has(`transformer.h.${config.n_layer - 1}.mlp.c_proj.bias`));
    for (const [name, t] of weights) {
      assert.equal(
        t.data.length,
        t.shape.reduce((a, b) => a * b, 1),
        name,
      );
      assert.ok(t.data.every(Number.isFinite), `${name} has non-finite values`);
    }
  });

  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`round-trips a state dict stored as ${dtype}: the same values safetensors ${dtype} gives`, () => {
      const weights = sample();
      const read = parseTorchCheckpoint(serializeTorchCheckpoint(weights, dtype), 'x.bin');
      const reference = parseSafetensors(serializeSafetensors(weights, {}, dtype)).tensors;
      assert.deepEqual([...read.keys()], [...weights.keys()]);
      for (const [name, t] of reference) {
        assert.deepEqual(read.get(name)!.shape, t.shape, name);
        assert.deepEqual(read.get(name)!.data, t.data, name);
      }
      if (dtype === 'F32')
        assert.deepEqual(read.get('qa_outputs.weight'), weights.get('qa_outputs.weight'));
    });
  }

  it('gathers a non-contiguous tensor (a transposed view) and an offset into a shared storage', () => {
    // storage [0..5]; t = as_strided(size (3, 2), stride (1, 3), offset 0) is the transpose of
    // [[0,1,2],[3,4,5]]; u = offset 4, size (2,), stride (1,) shares the same storage.
    const weights = parseTorchCheckpoint(
      viewsCheckpoint([
        ['t', 0, [3, 2], [1, 3]],
        ['u', 4, [2], [1]],
      ]),
      'x.bin',
    );
    assert.deepEqual(Array.from(weights.get('t')!.data), [0, 3, 1, 4, 2, 5]);
    assert.deepEqual(Array.from(weights.get('u')!.data), [4, 5]);
  });

  it('refuses views that would make more values than the file holds (stride 0, many views)', () => {
    assert.throws(
      () => parseTorchCheckpoint(viewsCheckpoint([['e', 0, [1_000_000_000], [0]]]), 'x.bin'),
      /tensor e: shape \[1000000000\] has more elements than its storage of 6/,
    );
    // 40 full views of a 100,000-float storage: 4M values from a 0.4 MB file.
    const many = Array.from(
      { length: 40 },
      (_, i) => [`v${i}`, 0, [100_000], [1]] as [string, number, number[], number[]],
    );
    assert.throws(
      () => parseTorchCheckpoint(viewsCheckpoint(many, new Float32Array(100_000)), 'x.bin'),
      /more values than the file can store/,
    );
  });

  it('refuses a view that reaches beyond its storage, naming the tensor', () => {
    const weights: Weights = new Map([['w', { shape: [2], data: Float32Array.from([1, 2]) }]]);
    const pickle = stateDictPickle(weights, 'F32');
    const file = zipStored([
      { name: 'a/data.pkl', data: pickle },
      { name: 'a/data/0', data: Buffer.alloc(4) },
    ]);
    assert.throws(
      () => parseTorchCheckpoint(file, 'x.bin'),
      /tensor w: storage data\/0 holds 4 bytes/,
    );
  });

  for (const [module, name] of [
    ['posix', 'system'],
    ['os', 'system'],
    ['nt', 'system'],
    ['builtins', 'exec'],
    ['builtins', 'eval'],
    ['builtins', 'getattr'],
    ['__builtin__', 'eval'],
    ['subprocess', 'Popen'],
    ['torch', 'load'],
    ['torch._utils', '_rebuild_from_type_v2'],
    ['numpy.core.multiarray', '_reconstruct'],
    ['collections', 'defaultdict'],
  ]) {
    it(`refuses ${module}.${name} (GLOBAL and STACK_GLOBAL), naming it, before anything is built`, () => {
      for (const pickle of [
        callPickle(module, name, 'touch /tmp/pwned'),
        stackGlobalCall(module, name, 'touch /tmp/pwned'),
      ]) {
        const error = refusal(() => parseTorchCheckpoint(checkpointWith(pickle), 'evil.bin'));
        assert.equal(error.global, `${module}.${name}`);
        assert.match(
          error.message,
          new RegExp(`${module}\\.${name}.*Nothing from the file was run`),
        );
      }
    });
  }

  it('refuses NEWOBJ and BUILD on anything but a dict or tensor', () => {
    // An allowed name used as a class (NEWOBJ) is still refused: nothing is ever instantiated.
    const newobj = new PickleBuilder()
      .global('collections', 'OrderedDict')
      .op(0x29)
      .op(0x81)
      .stop();
    assert.throws(() => readPickle(newobj, 'x'), RefusedGlobalError);
    const build = new PickleBuilder().op(0x5d).op(0x7d).op(0x62).stop();
    assert.throws(() => readPickle(build, 'x'), /BUILD on a list/);
    // Calling a storage type (allowed as a name only) is refused.
    const storageCall = new PickleBuilder()
      .global('torch', 'FloatStorage')
      .op(0x29)
      .reduce()
      .stop();
    assert.throws(() => readPickle(storageCall, 'x'), /torch\.FloatStorage \(called\)/);
  });

  it('says clearly that the format of before torch 1.6 is not read', () => {
    const legacy = Buffer.concat([new PickleBuilder().int(0x1950a86a).stop(), Buffer.alloc(64)]);
    assert.throws(
      () => parseTorchCheckpoint(legacy, 'old.bin'),
      /before torch 1\.6.*save it again.*safetensors/,
    );
  });

  it('random bytes never escape as anything but a ModelFormatError, and finish quickly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const started = performance.now();
        for (const input of [bytes, Buffer.concat([Buffer.from([0x80, 2]), bytes])]) {
          try {
            readPickle(input, 'fuzz');
          } catch (error) {
            if (!(error instanceof ModelFormatError)) throw error;
          }
        }
        assert.ok(performance.now() - started < 200);
      }),
      { numRuns: 3000 },
    );
  });

  it('hostile opcode programs: any global outside the allow-list is refused; nothing else escapes', () => {
    const globals = [
      ...ALLOWED_GLOBALS.map((g) => g.split(/\.(?=[^.]+$)/) as [string, string]),
      ['posix', 'system'],
      ['builtins', 'eval'],
      ['os', 'popen'],
      ['torch', 'Tensor'],
      ['collections', 'OrderedDict.__new__'],
    ] as [string, string][];
    const step = fc.oneof(
      fc.constantFrom(0x28, 0x2e, 0x30, 0x31, 0x32, 0x4e, 0x88, 0x89, 0x7d, 0x5d, 0x29),
      fc.constantFrom(0x74, 0x85, 0x86, 0x87, 0x73, 0x75, 0x61, 0x65, 0x52, 0x62, 0x51, 0x81),
      fc.constantFrom(0x94, 0x64, 0x6c, 0x93),
      fc.record({ get: fc.nat(8) }),
      fc.record({ put: fc.nat(8) }),
      fc.record({ int: fc.integer() }),
      fc.record({ text: fc.string({ maxLength: 12 }) }),
      fc.record({ global: fc.constantFrom(...globals) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
        const p = new PickleBuilder();
        // The first global outside the allow-list before the first STOP, if any.
        let named: string | undefined;
        let stopped = false;
        for (const s of steps) {
          if (s === 0x2e) stopped = true;
          if (typeof s === 'number') p.op(s);
          else if ('get' in s) p.op(0x68).op(s.get);
          else if ('put' in s) p.op(0x71).op(s.put);
          else if ('int' in s) p.int(s.int);
          else if ('text' in s) p.string(s.text);
          else {
            p.global(...s.global);
            const qualified = s.global.join('.');
            if (!stopped && !ALLOWED_GLOBALS.includes(qualified)) named ??= qualified;
          }
        }
        const started = performance.now();
        try {
          readPickle(p.stop(), 'fuzz');
          // A read that succeeded passed every opcode before STOP: no such global was among them.
          assert.equal(named, undefined);
        } catch (error) {
          if (!(error instanceof ModelFormatError)) throw error;
          // A refused global is only ever one that is not allowed.
          if (error instanceof RefusedGlobalError) {
            // (An allowed name is refused only when called or instantiated in a way it may not be.)
            assert.ok(!ALLOWED_GLOBALS.includes(error.global) || /\)$/.test(error.global));
          }
        }
        assert.ok(performance.now() - started < 200);
      }),
      { numRuns: 3000 },
    );
  });

  it('a refused global stops the read even where a plain reader would only have stored it', () => {
    // {"x": posix.system} without calling it: still refused, so no such name ever leaves the reader.
    const pickle = new PickleBuilder()
      .op(0x7d)
      .string('x')
      .global('posix', 'system')
      .op(0x73)
      .stop();
    assert.equal(refusal(() => readPickle(pickle, 'x')).global, 'posix.system');
  });

  it('mutated checkpoints (flipped bytes, truncation) fail as ModelFormatError or load, never crash', () => {
    const good = serializeTorchCheckpoint(sample(), 'F16');
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ at: fc.nat(good.length - 1), value: fc.integer({ min: 0, max: 255 }) }),
          {
            maxLength: 8,
          },
        ),
        fc.nat(good.length),
        (flips, keep) => {
          const bytes = Buffer.from(good);
          for (const { at, value } of flips) bytes[at] = value;
          for (const input of [bytes, bytes.subarray(0, keep)]) {
            try {
              const weights = parseTorchCheckpoint(input, 'fuzz.bin');
              assert.ok(weights instanceof Map);
            } catch (error) {
              if (!(error instanceof ModelFormatError)) throw error;
            }
          }
        },
      ),
      { numRuns: 1500 },
    );
  });

  it('reads sharded pytorch_model.bin.index.json', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-heads-shards-'));
    try {
      const weights = sample();
      const names = [...weights.keys()];
      const half = Math.ceil(names.length / 2);
      const shards = [names.slice(0, half), names.slice(half)];
      const map: Record<string, string> = {};
      shards.forEach((shard, i) => {
        const file = `pytorch_model-0000${i + 1}-of-00002.bin`;
        for (const name of shard) map[name] = file;
        const part: Weights = new Map(shard.map((n) => [n, weights.get(n)!]));
        fs.writeFileSync(path.join(dir, file), serializeTorchCheckpoint(part, 'F32'));
      });
      fs.writeFileSync(
        path.join(dir, 'pytorch_model.bin.index.json'),
        JSON.stringify({ metadata: {}, weight_map: map }),
      );
      const read = readTorchCheckpointFolder(dir)!;
      assert.deepEqual([...read.keys()].sort(), [...names].sort());
      assert.deepEqual(read.get(names[names.length - 1]), weights.get(names[names.length - 1]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the root must be a dict: a bare tensor list is refused with a clear message', () => {
    const pickle = new PickleBuilder().op(0x5d).stop();
    assert.throws(
      () => parseTorchCheckpoint(checkpointWith(pickle), 'list.bin'),
      /not a state dict/,
    );
    assert.ok(readPickle(new PickleBuilder().op(0x7d).stop(), 'x') instanceof PickleDict);
  });
});
