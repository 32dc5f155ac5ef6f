// The surprisal lens through the host against the raw LM forward (the same ONNX graph run by
// onnxruntime-node directly, logits fetched) over the same windows, measured in this run: the
// host adds tokenisation, the log-softmax and top-k graph, IPC and the result's JSON.
import * as ort from 'onnxruntime-node';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { methods, type SurprisalParams, type SurprisalResult } from '../src/protocol';
import type { Budget } from './budget';
import { encode, typingEdits, type Tokenizer } from './documents';
import { taggingWindows } from './hostBench';
import type { BenchHost } from './hostSession';
import type { BenchModels } from './models';
import { round, stat, timed, type Stat } from './stats';

export interface SurprisalResults {
  tokens: number;
  windows: number;
  cold: Stat;
  /** Σ of the raw LM forward over the windows the host reads (each run once, after a warm-up). */
  rawLmMs: number;
  /** Cold time over rawLmMs (goal ≤ 1.1). */
  coldToRaw: number;
  edit: Stat;
  editWindowsRerun: number[];
  /** Raw LM forward of one full window (n_positions tokens). */
  rawFullWindowMs: number;
  /** Median edit time over rawFullWindowMs (goal ≤ 1.5). */
  editWindowsWorth: number;
}

function int64(dims: number[], values: ArrayLike<number>): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values as ArrayLike<number>, BigInt), dims);
}

/** The LM graph on one window of ids, with an empty past: the logits of every position. */
async function rawLmForward(
  session: ort.InferenceSession,
  ids: number[],
  heads: number,
  headDim: number,
): Promise<number> {
  const n = ids.length;
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) {
    if (name === 'input_ids') feeds[name] = int64([1, n], ids);
    else if (name === 'attention_mask') feeds[name] = int64([1, n], new Array<number>(n).fill(1));
    else if (name === 'position_ids') {
      feeds[name] = int64(
        [1, n],
        ids.map((_, i) => i),
      );
    } else if (name === 'num_logits_to_keep') feeds[name] = int64([], [0]);
    else feeds[name] = new ort.Tensor('float32', new Float32Array(0), [1, heads, 0, headDim]);
  }
  const started = performance.now();
  await session.run(feeds, ['logits']);
  return performance.now() - started;
}

export async function benchSurprisal(
  host: BenchHost,
  options: {
    models: BenchModels;
    dtype: 'fp32' | 'q8';
    text: string;
    typed: string;
    edits: number;
    tokenizer: Tokenizer;
    maxLength: number;
    budget: Budget;
    /** Raw backbone forward ms at a length, for the budget's estimate only. */
    raw: (tokens: number) => number;
  },
  log: (line: string) => void,
): Promise<SurprisalResults | undefined> {
  const { dtype, text, tokenizer, maxLength, budget } = options;
  const what = `[${dtype}] surprisal lens`;
  const ids = encode(tokenizer, text);
  const windows = taggingWindows(tokenizer, text, maxLength);
  const estimate =
    (2.5 + options.edits / windows.length) *
    windows.reduce((sum, w) => sum + 1.5 * options.raw(w.end - w.windowStart), 0);
  if (!budget.allows(`${what} (cold, raw LM, edits)`, estimate)) return undefined;

  const file = join(
    options.models.folders.lm,
    'onnx',
    dtype === 'q8' ? 'model_quantized.onnx' : 'model.onnx',
  );
  const config = JSON.parse(
    readFileSync(join(options.models.folders.lm, 'config.json'), 'utf8'),
  ) as {
    n_head: number;
    n_embd: number;
  };
  const session = await ort.InferenceSession.create(file, { interOpNumThreads: 1 });
  const forward = (window: number[]) =>
    rawLmForward(session, window, config.n_head, config.n_embd / config.n_head);
  let rawLmMs = 0;
  const fullWindow: number[] = [];
  try {
    await forward(ids.slice(0, maxLength));
    for (const w of windows) rawLmMs += await forward(ids.slice(w.windowStart, w.end));
    for (let i = 0; i < 3; i++) fullWindow.push(await forward(ids.slice(0, maxLength)));
  } finally {
    await session.release();
  }
  log(`${what}: raw LM forward over ${windows.length} windows ${Math.round(rawLmMs)} ms`);

  const request = (document: string) =>
    timed(() =>
      host.request<SurprisalParams, SurprisalResult>(methods.surprisal, {
        text: document,
        top_k: 5,
      }),
    );
  // The scorer graph is built on the first request: not part of a document's cost.
  await request('A short warm-up.');
  const cold = await request(text);
  log(
    `${what} cold: ${Math.round(cold.ms)} ms, ${cold.value.windows} windows, ${ids.length} tokens`,
  );
  const edited = typingEdits(text, options.typed).slice(0, options.edits);
  const edits = await budget.repeat(`${what} edit`, edited.length, async (i) => {
    const { ms, value } = await request(edited[i]);
    log(
      `${what} edit ${i + 1}: ${Math.round(ms)} ms, ${value.windows - value.cachedWindows} windows run`,
    );
    return { ms, rerun: value.windows - value.cachedWindows };
  });
  const editStat = stat(edits.map((e) => e.ms));
  const rawFullWindowMs = stat(fullWindow).median;
  return {
    tokens: ids.length,
    windows: cold.value.windows,
    cold: stat([cold.ms]),
    rawLmMs: round(rawLmMs),
    coldToRaw: round(cold.ms / rawLmMs, 2),
    edit: editStat,
    editWindowsRerun: edits.map((e) => e.rerun),
    rawFullWindowMs,
    editWindowsWorth: round(editStat.median / rawFullWindowMs, 2),
  };
}
