// The baseline: the backbone alone (a GPT2Model graph) run by onnxruntime-node directly,
// batch 1, no tokenizer, no IPC, no post-processing.
import * as ort from 'onnxruntime-node';
import { performance } from 'node:perf_hooks';
import { SeededRandom } from '../src/host/convert/maker';
import type { WeightDtype } from '../src/protocol';
import { stat, type Stat } from './stats';

export interface RawRun {
  dtype: WeightDtype;
  /** intraOpNumThreads; 0 = onnxruntime's default. */
  threads: number;
  loadMs: number;
  /** Forward time by sequence length. */
  forward: Record<number, Stat>;
}

function int64(dims: number[], values: ArrayLike<number>): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values as ArrayLike<number>, BigInt), dims);
}

function feeds(length: number, random: SeededRandom): Record<string, ort.Tensor> {
  const ids = Array.from({ length }, () => Math.floor(random.uniform() * 50000));
  return {
    input_ids: int64([1, length], ids),
    attention_mask: int64([1, length], new Array<number>(length).fill(1)),
    position_ids: int64(
      [1, length],
      Array.from({ length }, (_, i) => i),
    ),
  };
}

/** Loads the graph, then per length one untimed warm-up run and `reps[length]` timed runs. */
export async function rawForward(
  file: string,
  dtype: WeightDtype,
  threads: number,
  reps: Record<number, number>,
): Promise<RawRun> {
  const started = performance.now();
  const session = await ort.InferenceSession.create(file, {
    ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
    // As the host sets it: one model call at a time per session.
    interOpNumThreads: 1,
  });
  const loadMs = performance.now() - started;
  const random = new SeededRandom(7);
  const forward: Record<number, Stat> = {};
  try {
    for (const [length, count] of Object.entries(reps).map(([k, v]) => [Number(k), v])) {
      const input = feeds(length, random);
      await session.run(input);
      const samples = [];
      for (let i = 0; i < count; i++) {
        const t = performance.now();
        await session.run(input);
        samples.push(performance.now() - t);
      }
      forward[length] = stat(samples);
    }
  } finally {
    await session.release();
  }
  return { dtype, threads, loadMs: Math.round(loadMs), forward };
}
