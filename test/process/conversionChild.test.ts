// Conversions run in a child process (convert/inChild.ts): the result is the same folder as
// converting in-process, errors keep their class and message, and a killed child is reported.
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertCheckpoint } from '../../src/host/convert/checkpoint';
import { CancelledError } from '../../src/host/errors';
import { ModelFormatError } from '../../src/host/convert/gpt2Config';
import { convertInChild } from '../../src/host/convert/inChild';
import { makeRandomModel } from '../../src/host/convert/maker';

describe('conversion in a child process', function () {
  this.timeout(120_000);
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), 'gpt2-heads-child-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the same ONNX files as converting in the host, and says how much memory it took', async () => {
    const source = join(dir, 'checkpoint');
    makeRandomModel({
      architecture: 'GPT2ForTokenClassification',
      size: 'tiny',
      seed: 3,
      outDir: source,
      safetensors: true,
    });
    convertCheckpoint(source, join(dir, 'here'), { dtype: 'q8' });
    const result = await convertInChild({
      kind: 'checkpoint',
      source,
      out: join(dir, 'child'),
      dtype: 'q8',
    });
    assert.ok(result.peakBytes > 10 * 2 ** 20, `peak ${result.peakBytes}`);
    for (const file of ['onnx/model.onnx', 'onnx/model_quantized.onnx', 'config.json']) {
      assert.deepEqual(
        readFileSync(join(dir, 'child', file)),
        readFileSync(join(dir, 'here', file)),
      );
    }
  });

  it('rejects with the ModelFormatError the conversion raised, and writes nothing', async () => {
    const error = await convertInChild({
      kind: 'checkpoint',
      source: join(dir, 'no-such-folder'),
      out: join(dir, 'nothing'),
      dtype: 'fp32',
    }).then(
      () => assert.fail('the conversion of a missing folder succeeded'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ModelFormatError, String(error));
    assert.match((error as Error).message, /no-such-folder: folder does not exist/);
    assert.ok(!existsSync(join(dir, 'nothing')));
  });

  it('stops when its load is cancelled: the child is killed and nothing is written', async () => {
    const source = join(dir, 'checkpoint');
    const abort = new AbortController();
    const converting = convertInChild(
      { kind: 'checkpoint', source, out: join(dir, 'cancelled'), dtype: 'q8' },
      abort.signal,
    );
    abort.abort();
    await assert.rejects(converting, CancelledError);
    assert.ok(!existsSync(join(dir, 'cancelled', 'onnx', 'model.onnx')));
  });
});
