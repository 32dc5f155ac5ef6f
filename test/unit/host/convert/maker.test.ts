import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { fixturesDir } from '../../../support/fixtures';
import { gpt2Forward, lmLogits } from '../../../support/gpt2Forward';
import { makeRandomModel, SeededRandom } from '../../../../src/host/convert/maker';
import { convertCheckpoint } from '../../../../src/host/convert/checkpoint';
import { gpt2TokenizerJson } from '../../../../src/host/convert/tokenizerFiles';
import { ARCHITECTURES } from '../../../../src/host/convert/gpt2Config';

const TEXTS = [
  'Hello world, this is GPT-2.',
  '  leading and  multiple spaces\ttabs\r\nCRLF',
  'Ünïcödé café, 東京タワー, emoji 👩‍👩‍👧 and 🇫🇷',
  'a literal <|endoftext|> marker',
  'antidisestablishmentarianism 12345.678',
];

const transformers = () => import('@huggingface/transformers');

describe('random model maker', function () {
  this.timeout(60000);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt2-maker-'));
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('writes the same tokenizer.json as the fixtures, and tokenizes identically with transformers.js', async () => {
    const { AutoTokenizer, env } = await transformers();
    const fixture = fs.readFileSync(
      path.join(fixturesDir, 'gpt2-tiny-lm', 'tokenizer.json'),
      'utf8',
    );
    assert.deepEqual(JSON.parse(gpt2TokenizerJson()), JSON.parse(fixture));
    makeRandomModel({
      architecture: 'GPT2Model',
      size: 'tiny',
      seed: 1,
      outDir: path.join(tmp, 'base'),
    });
    for (const name of ['tokenizer_config.json', 'special_tokens_map.json']) {
      const made = JSON.parse(fs.readFileSync(path.join(tmp, 'base', name), 'utf8'));
      const want = JSON.parse(
        fs.readFileSync(path.join(fixturesDir, 'gpt2-tiny-lm', name), 'utf8'),
      );
      assert.deepEqual(made, want, name);
    }
    env.allowRemoteModels = false;
    env.localModelPath = '';
    const mine = await AutoTokenizer.from_pretrained(path.join(tmp, 'base'));
    const theirs = await AutoTokenizer.from_pretrained(path.join(fixturesDir, 'gpt2-tiny-lm'));
    for (const text of TEXTS) assert.deepEqual(mine.encode(text), theirs.encode(text), text);
  });

  it('makes a tiny LM that transformers.js loads and greedy-generates as the step-by-step reference argmax', async () => {
    const { AutoModelForCausalLM, AutoTokenizer, env } = await transformers();
    const dir = path.join(tmp, 'lm');
    const { config, weights } = makeRandomModel({
      architecture: 'GPT2LMHeadModel',
      size: 'tiny',
      seed: 5,
      outDir: dir,
      std: 0.5,
    });
    assert.ok(fs.existsSync(path.join(dir, 'generation_config.json')));
    env.allowRemoteModels = false;
    env.localModelPath = '';
    const tokenizer = await AutoTokenizer.from_pretrained(dir);
    const model = await AutoModelForCausalLM.from_pretrained(dir, { dtype: 'fp32' });
    const inputs = tokenizer('The quick brown fox');
    const out = (await model.generate({
      ...inputs,
      max_new_tokens: 6,
      do_sample: false,
    } as never)) as { tolist(): bigint[][] };
    const ids = (inputs.input_ids.tolist() as bigint[][])[0].map(Number);
    const expected = [...ids];
    for (let step = 0; step < 6; step++) {
      const { hidden } = gpt2Forward(
        config,
        weights,
        expected,
        expected.map((_, i) => i),
        expected.map(() => 1),
      );
      const logits = lmLogits(config, weights, hidden[hidden.length - 1]);
      expected.push(logits.indexOf(Math.max(...logits)));
    }
    assert.deepEqual(out.tolist()[0].map(Number), expected);
  });

  it('makes a GPT2Model folder that transformers.js AutoModel runs', async () => {
    const { AutoModel, AutoTokenizer, env } = await transformers();
    env.allowRemoteModels = false;
    env.localModelPath = '';
    const dir = path.join(tmp, 'base');
    const model = await AutoModel.from_pretrained(dir, { dtype: 'fp32' });
    const tokenizer = await AutoTokenizer.from_pretrained(dir);
    const out = await model(tokenizer('Hello there'));
    assert.deepEqual(out.last_hidden_state.dims, [1, 2, 32]);
  });

  it('is deterministic for a seed and different across seeds', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const xs = Array.from({ length: 5 }, () => a.normal());
    assert.deepEqual(
      xs,
      Array.from({ length: 5 }, () => b.normal()),
    );
    assert.notDeepEqual(
      xs,
      Array.from({ length: 5 }, () => new SeededRandom(43).normal()),
    );
    const many = new SeededRandom(1).fill(20000, 0, 1);
    const mean = many.reduce((s, v) => s + v, 0) / many.length;
    const variance = many.reduce((s, v) => s + (v - mean) ** 2, 0) / many.length;
    assert.ok(
      Math.abs(mean) < 0.03 && Math.abs(variance - 1) < 0.05,
      `mean ${mean} variance ${variance}`,
    );
  });

  it('writes every architecture with its labels, and model.safetensors that converts to the same graph outputs', async () => {
    for (const architecture of ARCHITECTURES) {
      const dir = path.join(tmp, architecture);
      const { config } = makeRandomModel({
        architecture,
        size: 'tiny',
        seed: 9,
        outDir: dir,
        std: 0.5,
        safetensors: true,
        labels: architecture === 'GPT2ForTokenClassification' ? ['O', 'B-X', 'I-X'] : undefined,
      });
      assert.deepEqual(
        JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).architectures,
        [architecture],
      );
      if (architecture === 'GPT2ForTokenClassification')
        assert.deepEqual(config.id2label, { 0: 'O', 1: 'B-X', 2: 'I-X' });
      const converted = path.join(tmp, `${architecture}-converted`);
      convertCheckpoint(dir, converted);
      const [a, b] = await Promise.all(
        [dir, converted].map((d) =>
          ort.InferenceSession.create(path.join(d, 'onnx', 'model.onnx')),
        ),
      );
      assert.deepEqual(a.inputNames, b.inputNames);
      assert.deepEqual(a.outputNames, b.outputNames);
      assert.equal(
        fs
          .readFileSync(path.join(dir, 'onnx', 'model.onnx'))
          .equals(fs.readFileSync(path.join(converted, 'onnx', 'model.onnx'))),
        true,
        architecture,
      );
    }
  });

  it('writes model_quantized.onnx for dtype q8 that transformers.js loads with dtype q8', async () => {
    const { AutoModelForCausalLM, AutoTokenizer, env } = await transformers();
    const dir = path.join(tmp, 'lm-q8');
    makeRandomModel({
      architecture: 'GPT2LMHeadModel',
      size: 'tiny',
      seed: 5,
      outDir: dir,
      dtype: 'q8',
    });
    env.allowRemoteModels = false;
    env.localModelPath = '';
    const model = await AutoModelForCausalLM.from_pretrained(dir, { dtype: 'q8' });
    const tokenizer = await AutoTokenizer.from_pretrained(dir);
    const out = (await model.generate({
      ...tokenizer('Hi'),
      max_new_tokens: 3,
      do_sample: false,
    } as never)) as { dims: number[] };
    assert.deepEqual(out.dims, [1, 4]);
  });
});
