// pytorch_model.bin through the real CLI: a checkpoint whose pickle would run a command is refused
// with the global named and nothing run; checkpoints of the project's own maker in .bin (fp32,
// fp16, bf16, sharded) give the same answers as the same weights in safetensors.
import assert from 'node:assert/strict';
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeRandomModel } from '../../src/host/convert/maker';
import { writeSafetensors } from '../../src/host/convert/safetensors';
import {
  PickleBuilder,
  serializeTorchCheckpoint,
  zipStored,
} from '../../src/host/convert/torchWriter';
import { runCli, runTask } from '../support/cli';
import { zooDir } from '../support/fixtures';

describe('pytorch_model.bin through the CLI', function () {
  this.timeout(300_000);
  let scratch: string;
  beforeEach(() => (scratch = mkdtempSync(join(tmpdir(), 'gpt2-heads-bin-'))));
  afterEach(() => rmSync(scratch, { recursive: true, force: true }));

  it('refuses a checkpoint whose pickle calls posix.system: non-zero exit, the global named, nothing ran', async () => {
    const model = join(scratch, 'evil');
    const source = join(zooDir, 'qa-bin-only');
    mkdirSync(model);
    for (const name of readdirSync(source)) {
      if (name !== 'expected.json' && name !== 'pytorch_model.bin')
        copyFileSync(join(source, name), join(model, name));
    }
    const marker = join(scratch, 'pwned');
    // {"transformer.wte.weight": posix.system("touch <marker>")}: what a booby-trapped .bin holds.
    const pickle = new PickleBuilder()
      .op(0x7d)
      .mark()
      .string('transformer.wte.weight')
      .global('posix', 'system')
      .mark()
      .string(`touch ${marker}`)
      .tuple()
      .reduce()
      .op(0x75)
      .stop();
    writeFileSync(
      join(model, 'pytorch_model.bin'),
      zipStored([
        { name: 'pytorch_model/data.pkl', data: pickle },
        { name: 'pytorch_model/byteorder', data: Buffer.from('little') },
      ]),
    );
    const input = join(scratch, 'context.txt');
    writeFileSync(input, 'The expedition is led by Pasang Sherpa.');
    const result = await runTask(
      'question-answering',
      { model, cache: join(scratch, 'cache'), input },
      ['--question', 'Who leads the expedition?'],
    );
    assert.notEqual(result.code, 0, 'the CLI accepted the checkpoint');
    assert.match(result.stderr, /posix\.system/);
    assert.match(result.stderr, /Nothing from the file was run/);
    assert.equal(result.stdout.trim(), '');
    assert.ok(!existsSync(marker), 'the pickle ran a command');
    // Nothing half-converted is left in the cache either.
    const converted = join(scratch, 'cache', 'converted');
    assert.deepEqual(existsSync(converted) ? readdirSync(converted) : [], []);
  });

  it('converts a .bin once (cached by hash, int8 built alongside) and says it came from pytorch_model.bin', async () => {
    const model = join(scratch, 'lm');
    makeRandomModel({
      architecture: 'GPT2LMHeadModel',
      size: 'tiny',
      seed: 5,
      outDir: model,
      pytorch: 'BF16',
    });
    rmSync(join(model, 'onnx'), { recursive: true });
    const cache = join(scratch, 'cache');
    const info = async () => {
      const result = await runCli(['info', '--model', model, '--json', '--cache-dir', cache]);
      assert.equal(result.code, 0, result.stderr);
      return JSON.parse(result.stdout) as { format: string; dtype: string; folder: string };
    };
    const first = await info();
    assert.equal(first.format, 'pytorch');
    assert.equal(first.dtype, 'q8');
    assert.ok(existsSync(join(first.folder, 'onnx', 'model_quantized.onnx')));
    assert.ok(existsSync(join(first.folder, 'onnx', 'model.onnx')));
    const converted = readdirSync(join(cache, 'converted'));
    const second = await info();
    assert.equal(second.folder, first.folder);
    assert.deepEqual(readdirSync(join(cache, 'converted')), converted);
  });

  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    it(`a maker checkpoint in pytorch_model.bin (${dtype}) classifies exactly as its safetensors twin`, async () => {
      const both = join(scratch, 'made');
      const { weights } = makeRandomModel({
        architecture: 'GPT2ForSequenceClassification',
        size: 'tiny',
        seed: 1313,
        std: 0.5,
        outDir: both,
        safetensors: false,
        labels: ['negative', 'neutral', 'positive'],
        config: { activation_function: 'gelu', n_inner: 48, layer_norm_epsilon: 1e-6 },
      });
      rmSync(join(both, 'onnx'), { recursive: true });
      const bin = join(scratch, 'bin');
      const safe = join(scratch, 'safe');
      cpSync(both, bin, { recursive: true });
      cpSync(both, safe, { recursive: true });
      writeFileSync(join(bin, 'pytorch_model.bin'), serializeTorchCheckpoint(weights, dtype));
      writeSafetensors(join(safe, 'model.safetensors'), weights, { format: 'pt' }, dtype);
      const input = join(scratch, 'text.txt');
      writeFileSync(input, 'Ångström met Zoë at the café 👋 and it went well.');
      const run = (model: string) =>
        runTask(
          'text-classification',
          {
            model,
            cache: join(scratch, `cache-${model.endsWith('bin') ? 'bin' : 'safe'}`),
            input,
          },
          ['--top-k', 'all'],
        );
      const [fromBin, fromSafe] = [await run(bin), await run(safe)];
      assert.equal(fromBin.code, 0, fromBin.stderr);
      assert.equal(fromSafe.code, 0, fromSafe.stderr);
      assert.deepEqual(JSON.parse(fromBin.stdout), JSON.parse(fromSafe.stdout));
      const labels = (JSON.parse(fromBin.stdout) as { label: string }[]).map((l) => l.label);
      assert.deepEqual(labels.sort(), ['negative', 'neutral', 'positive']);
    });
  }
});
