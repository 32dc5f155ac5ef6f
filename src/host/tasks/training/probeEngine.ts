// The linear probe's products in onnxruntime: the same maths as cpuEngine (src/heads/linearProbe),
// as two tiny graphs, one for the loss and its gradient, one for predictions. onnxruntime's Gemm
// is one to two orders of magnitude faster than a JavaScript loop over rows × dim × labels.
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { GraphBuilder } from '../../convert/proto';
import { exclusive } from '../../inferenceQueue';
import type { ProbeData, ProbeEngine } from '../../../heads/linearProbe';

/** Rows gathered per graph call (a mini-batch, or a slice of the full batch for L-BFGS). */
const chunkRows = 8192;

function gradientGraph(labels: number, dim: number): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', 'float', ['rows', dim]);
  const w = g.input('weight', 'float', [labels, dim]);
  const b = g.input('bias', 'float', [labels]);
  const y = g.input('targets', 'int64', ['rows']);
  const rw = g.input('row_weights', 'float', ['rows']);
  const logits = g.op('Gemm', [x, w, b], { transB: 1 });
  const logp = g.op('LogSoftmax', [logits], { axis: 1 });
  const onOff = g.fresh('on_off');
  g.initializer(onOff, 'float', [2], Float32Array.of(0, 1));
  const oneHot = g.op('OneHot', [y, g.constInt64([labels], true), onOff], { axis: -1 });
  const picked = g.op('ReduceSum', [g.op('Mul', [oneHot, logp]), g.constInt64([1])], {
    keepdims: 0,
  });
  g.node('Neg', [g.op('ReduceSum', [g.op('Mul', [picked, rw])], { keepdims: 0 })], ['loss']);
  const weighted = g.op('Mul', [
    g.op('Sub', [g.op('Exp', [logp]), oneHot]),
    g.op('Unsqueeze', [rw, g.constInt64([1])]),
  ]);
  g.node('Gemm', [weighted, x], ['grad_weight'], { transA: 1 });
  g.node('ReduceSum', [weighted, g.constInt64([0])], ['grad_bias'], { keepdims: 0 });
  g.output('loss', 'float', []);
  g.output('grad_weight', 'float', [labels, dim]);
  g.output('grad_bias', 'float', [labels]);
  return g.toBytes('probe_gradient');
}

function predictGraph(labels: number, dim: number): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', 'float', ['rows', dim]);
  const w = g.input('weight', 'float', [labels, dim]);
  const b = g.input('bias', 'float', [labels]);
  const logits = g.op('Gemm', [x, w, b], { transB: 1 });
  g.node('ArgMax', [logits], ['predictions'], { axis: 1, keepdims: 0 });
  g.output('predictions', 'int64', ['rows']);
  return g.toBytes('probe_predict');
}

export interface OnnxProbeEngine {
  engine: (data: ProbeData, weights: Float32Array) => ProbeEngine;
  release(): Promise<void>;
}

/** Opens the two graphs for `labels` × `dim`; `engine` binds them to the data. */
export async function onnxProbeEngine(
  labels: number,
  dim: number,
  threads: number,
): Promise<OnnxProbeEngine> {
  const options: InferenceSession.SessionOptions = {
    ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
    interOpNumThreads: 1,
  };
  const [gradient, predict] = await Promise.all([
    InferenceSession.create(gradientGraph(labels, dim), options),
    InferenceSession.create(predictGraph(labels, dim), options),
  ]);
  const zeros = new Float32Array(labels);
  return {
    engine(data, weights) {
      const buffer = new Float32Array(Math.min(chunkRows, data.targets.length) * dim);
      const gather = (rows: Int32Array, from: number, count: number, into = buffer): Tensor => {
        const slice = into.subarray(0, count * dim);
        for (let i = 0; i < count; i++) {
          const row = rows[from + i];
          slice.set(data.features.subarray(row * dim, (row + 1) * dim), i * dim);
        }
        return new Tensor('float32', slice, [count, dim]);
      };
      interface Chunk {
        x: Tensor;
        targets: Tensor;
        rowWeights: Tensor;
      }
      const chunksOf = (rows: Int32Array, keep: boolean): Chunk[] => {
        const chunks: Chunk[] = [];
        for (let from = 0; from < rows.length; from += chunkRows) {
          const count = Math.min(chunkRows, rows.length - from);
          const targets = new BigInt64Array(count);
          const rowWeights = new Float32Array(count);
          for (let i = 0; i < count; i++) {
            targets[i] = BigInt(data.targets[rows[from + i]]);
            rowWeights[i] = weights[rows[from + i]];
          }
          chunks.push({
            x: gather(rows, from, count, keep ? new Float32Array(count * dim) : buffer),
            targets: new Tensor('int64', targets, [count]),
            rowWeights: new Tensor('float32', rowWeights, [count]),
          });
        }
        return chunks;
      };
      // L-BFGS evaluates the same training rows again and again: gather them once (a copy of
      // those rows' features) instead of at every evaluation.
      const kept = new WeakMap<Int32Array, Chunk[]>();
      return {
        async lossAndGradient(rows, weight, bias, gradW, gradB) {
          let loss = 0;
          const w = new Tensor('float32', weight, [labels, dim]);
          const b = new Tensor('float32', bias ?? zeros, [labels]);
          const many = rows.length > chunkRows;
          let chunks = kept.get(rows);
          if (!chunks) {
            // A chunk gathered into the shared buffer is run before the next one is gathered.
            chunks = many ? chunksOf(rows, true) : undefined;
            if (chunks) kept.set(rows, chunks);
          }
          const run = async (chunk: Chunk) => {
            const outputs = await exclusive(() =>
              gradient.run({
                x: chunk.x,
                weight: w,
                bias: b,
                targets: chunk.targets,
                row_weights: chunk.rowWeights,
              }),
            );
            loss += Number((outputs.loss.data as Float32Array)[0]);
            const gw = outputs.grad_weight.data as Float32Array;
            for (let i = 0; i < gw.length; i++) gradW[i] += gw[i];
            if (gradB) {
              const gb = outputs.grad_bias.data as Float32Array;
              for (let i = 0; i < gb.length; i++) gradB[i] += gb[i];
            }
          };
          if (chunks) for (const chunk of chunks) await run(chunk);
          else for (const chunk of chunksOf(rows, false)) await run(chunk);
          return loss;
        },
        async predict(rows, weight, bias) {
          const out = new Int32Array(rows.length);
          const w = new Tensor('float32', weight, [labels, dim]);
          const b = new Tensor('float32', bias ?? zeros, [labels]);
          for (let from = 0; from < rows.length; from += chunkRows) {
            const count = Math.min(chunkRows, rows.length - from);
            const outputs = await exclusive(() =>
              predict.run({ x: gather(rows, from, count), weight: w, bias: b }),
            );
            const ids = outputs.predictions.data as BigInt64Array;
            for (let i = 0; i < count; i++) out[from + i] = Number(ids[i]);
          }
          return out;
        },
      };
    },
    async release() {
      await Promise.all([gradient.release(), predict.release()]);
    },
  };
}
