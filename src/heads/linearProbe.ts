// A linear probe: one linear layer on frozen features, trained with softmax cross-entropy, L2 and
// optional class weights, by Adam (mini-batches) or L-BFGS (full batch), with early stopping on a
// validation score. Everything is seeded: the same data, options and seed give the same weights.
//
// Features are standardised for the optimiser's sake (GPT-2's last hidden state has a few
// dimensions hundreds of times larger than the rest), but never copied: the weights the engine
// sees are the standardised ones folded back (see Parameters), so the head that comes out
// applies to raw features, as the saved classifier.weight / score.weight must.
//
// The heavy products (rows × dim × labels) go through a ProbeEngine: plain TypeScript here, an
// onnxruntime graph in the host (same maths, much faster).
import { seededRandom } from './generation';

export { seededRandom };

export type ProbeOptimizer = 'adam' | 'lbfgs';

export interface ProbeOptions {
  optimizer: ProbeOptimizer;
  /** Adam: passes over the data. L-BFGS: blocks of `lbfgsIterationsPerEpoch` iterations. */
  epochs: number;
  learningRate: number;
  batchSize: number;
  /** L2 penalty on the (standardised) weights, λ/2·‖W‖². */
  l2: number;
  /** Weigh each row by its class: 'balanced' = rows / (labels · rows of the class). */
  classWeights: 'none' | 'balanced';
  /** Learn a bias (token classification) or not (sequence classification's score has none). */
  bias: boolean;
  seed: number;
  /** Stop after this many epochs without a better validation score. */
  patience: number;
}

export const defaultProbeOptions: ProbeOptions = {
  optimizer: 'lbfgs',
  epochs: 10,
  learningRate: 0.01,
  batchSize: 256,
  l2: 1e-4,
  classWeights: 'none',
  bias: true,
  seed: 42,
  patience: 3,
};

export const lbfgsIterationsPerEpoch = 10;

/** Rows up to which L-BFGS (full batch) is the default; above, Adam's passes are far cheaper. */
export const lbfgsMaxRows = 20_000;

/** The optimiser and batch size used unless chosen: L-BFGS for small data, Adam for large. */
export function defaultsFor(rows: number): Pick<ProbeOptions, 'optimizer' | 'batchSize'> {
  return {
    optimizer: rows <= lbfgsMaxRows ? 'lbfgs' : 'adam',
    batchSize: Math.min(1024, Math.max(32, Math.round(rows / 50))),
  };
}

/** nn.Linear's layout: weight [labels, dim], bias [labels]. */
export interface LinearHead {
  labels: number;
  dim: number;
  weight: Float32Array;
  bias?: Float32Array;
}

/**
 * The products over the data: rows are indices into the engine's feature matrix. lossAndGradient
 * returns Σ rowWeight·cross-entropy over the rows and adds its gradient into gradW / gradB.
 */
export interface ProbeEngine {
  lossAndGradient(
    rows: Int32Array,
    weight: Float32Array,
    bias: Float32Array | undefined,
    gradW: Float32Array,
    gradB: Float32Array | undefined,
  ): Promise<number>;
  predict(
    rows: Int32Array,
    weight: Float32Array,
    bias: Float32Array | undefined,
  ): Promise<Int32Array>;
}

export interface ProbeData {
  /** Row-major [rows, dim]. */
  features: Float32Array;
  dim: number;
  /** Label id of each row. */
  targets: Int32Array;
  labels: number;
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  /** Mean training loss (with the L2 term). */
  loss: number;
  validationScore: number;
}

export interface ProbeResult {
  head: LinearHead;
  history: EpochReport[];
  bestEpoch: number;
  bestScore: number;
}

export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** A seeded split of example indices: `fraction` of them (at least one) for validation. */
export function splitIndices(
  count: number,
  fraction: number,
  seed: number,
): { train: number[]; validation: number[] } {
  if (count < 2) throw new RangeError('At least two examples are needed to hold some out.');
  const order = shuffle(
    Array.from({ length: count }, (_, i) => i),
    seededRandom(seed ^ 0x5eed),
  );
  const held = Math.min(count - 1, Math.max(1, Math.round(count * fraction)));
  return {
    validation: order.slice(0, held).sort((a, b) => a - b),
    train: order.slice(held).sort((a, b) => a - b),
  };
}

/** Per-label row weights: all 1, or 'balanced' as scikit-learn computes them. */
export function rowWeights(
  targets: Int32Array,
  rows: Int32Array,
  labels: number,
  mode: 'none' | 'balanced',
): Float32Array {
  const weights = new Float32Array(targets.length).fill(1);
  if (mode === 'none') return weights;
  const counts = new Float64Array(labels);
  for (const row of rows) counts[targets[row]]++;
  for (const row of rows) weights[row] = rows.length / (labels * counts[targets[row]]);
  return weights;
}

/** The plain TypeScript engine (also the reference the onnxruntime one is tested against). */
export function cpuEngine(data: ProbeData, weights: Float32Array): ProbeEngine {
  const { features, dim, targets, labels } = data;
  const logits = new Float64Array(labels);
  const rowLogits = (row: number, weight: Float32Array, bias: Float32Array | undefined) => {
    const offset = row * dim;
    for (let c = 0; c < labels; c++) {
      let sum = bias ? bias[c] : 0;
      const w = c * dim;
      for (let j = 0; j < dim; j++) sum += weight[w + j] * features[offset + j];
      logits[c] = sum;
    }
  };
  return {
    async lossAndGradient(rows, weight, bias, gradW, gradB) {
      let loss = 0;
      for (const row of rows) {
        rowLogits(row, weight, bias);
        let max = -Infinity;
        for (let c = 0; c < labels; c++) max = Math.max(max, logits[c]);
        let total = 0;
        for (let c = 0; c < labels; c++) total += Math.exp(logits[c] - max);
        const logTotal = Math.log(total) + max;
        const w = weights[row];
        const target = targets[row];
        loss += w * (logTotal - logits[target]);
        const offset = row * dim;
        for (let c = 0; c < labels; c++) {
          const g = w * (Math.exp(logits[c] - logTotal) - (c === target ? 1 : 0));
          if (gradB) gradB[c] += g;
          const base = c * dim;
          for (let j = 0; j < dim; j++) gradW[base + j] += g * features[offset + j];
        }
      }
      return loss;
    },
    async predict(rows, weight, bias) {
      const out = new Int32Array(rows.length);
      rows.forEach((row, i) => {
        rowLogits(row, weight, bias);
        let best = 0;
        for (let c = 1; c < labels; c++) if (logits[c] > logits[best]) best = c;
        out[i] = best;
      });
      return out;
    },
  };
}

interface Standardisation {
  mean: Float64Array;
  /** 1/σ per feature. */
  inverseScale: Float64Array;
}

function standardisation(data: ProbeData, rows: Int32Array): Standardisation {
  const { dim, features } = data;
  const mean = new Float64Array(dim);
  const square = new Float64Array(dim);
  for (const row of rows) {
    const offset = row * dim;
    for (let j = 0; j < dim; j++) {
      const x = features[offset + j];
      mean[j] += x;
      square[j] += x * x;
    }
  }
  const inverseScale = new Float64Array(dim);
  for (let j = 0; j < dim; j++) {
    mean[j] /= rows.length;
    const variance = square[j] / rows.length - mean[j] * mean[j];
    inverseScale[j] = variance > 1e-12 ? 1 / Math.sqrt(variance) : 1;
  }
  return { mean, inverseScale };
}

/**
 * The optimiser's parameters, per label: weights p on standardised features z = (x − μ)/σ and a
 * bias b, folded into the raw-feature head the engine runs.
 *
 * With a bias: W = p/σ, bias = b − (p/σ)·μ.
 * Without one (the head must be W·x alone): a bias can only come from the features' mean
 * direction u = μ/σ, since W·x = v·z + v·u with v = W⊙σ. So v = P⊥p + (b/‖u‖²)·u, with P⊥ the
 * projection orthogonal to u: every bias-free head is reachable, and b stays a well-scaled
 * bias instead of a tiny, steep step along u (which is what makes plain scaling converge slowly).
 */
class Parameters {
  readonly size: number;
  readonly weight: Float32Array;
  readonly bias: Float32Array | undefined;
  readonly gradW: Float32Array;
  readonly gradB: Float32Array | undefined;
  private readonly direction: Float64Array;
  private readonly directionNorm2: number;
  private readonly v: Float64Array;

  constructor(
    private readonly labels: number,
    private readonly dim: number,
    private readonly scale: Standardisation,
    hasBias: boolean,
  ) {
    this.size = labels * dim + labels;
    this.weight = new Float32Array(labels * dim);
    this.bias = hasBias ? new Float32Array(labels) : undefined;
    this.gradW = new Float32Array(labels * dim);
    this.gradB = hasBias ? new Float32Array(labels) : undefined;
    this.direction = scale.mean.map((m, j) => m * scale.inverseScale[j]);
    this.directionNorm2 = this.direction.reduce((sum, x) => sum + x * x, 0);
    this.v = new Float64Array(dim);
  }

  /** P⊥p + (b/‖u‖²)·u for label c. */
  private biasFree(z: Float64Array, c: number): Float64Array {
    const { dim, direction, directionNorm2, v } = this;
    const offset = c * dim;
    let along = 0;
    for (let j = 0; j < dim; j++) along += z[offset + j] * direction[j];
    const usable = directionNorm2 > 1e-12;
    const coefficient = usable ? (z[this.labels * dim + c] - along) / directionNorm2 : 0;
    for (let j = 0; j < dim; j++) v[j] = z[offset + j] + coefficient * direction[j];
    return v;
  }

  load(z: Float64Array): void {
    const { labels, dim } = this;
    const { mean, inverseScale } = this.scale;
    for (let c = 0; c < labels; c++) {
      if (!this.bias) {
        const v = this.biasFree(z, c);
        for (let j = 0; j < dim; j++) this.weight[c * dim + j] = v[j] * inverseScale[j];
        continue;
      }
      let shift = 0;
      for (let j = 0; j < dim; j++) {
        const w = z[c * dim + j] * inverseScale[j];
        this.weight[c * dim + j] = w;
        shift += w * mean[j];
      }
      this.bias[c] = z[labels * dim + c] - shift;
    }
  }

  clearGradient(): void {
    this.gradW.fill(0);
    this.gradB?.fill(0);
  }

  /** The engine's raw gradient, scaled by `factor`, as a gradient in the parameters. */
  gradientInZ(factor: number, out: Float64Array): void {
    const { labels, dim, direction, directionNorm2 } = this;
    const { mean, inverseScale } = this.scale;
    for (let c = 0; c < labels; c++) {
      const offset = c * dim;
      if (this.gradB) {
        const gb = this.gradB[c];
        for (let j = 0; j < dim; j++) {
          out[offset + j] = factor * (this.gradW[offset + j] - gb * mean[j]) * inverseScale[j];
        }
        out[labels * dim + c] = factor * gb;
        continue;
      }
      // dL/dv = gW⊙(1/σ); dL/dp = P⊥(dL/dv); dL/db = (dL/dv)·u / ‖u‖².
      let along = 0;
      for (let j = 0; j < dim; j++) {
        const gv = this.gradW[offset + j] * inverseScale[j];
        out[offset + j] = gv;
        along += gv * direction[j];
      }
      const usable = directionNorm2 > 1e-12;
      for (let j = 0; j < dim; j++) {
        out[offset + j] =
          factor * (out[offset + j] - (usable ? (along * direction[j]) / directionNorm2 : 0));
      }
      out[labels * dim + c] = usable ? (factor * along) / directionNorm2 : 0;
    }
  }

  head(): LinearHead {
    return {
      labels: this.labels,
      dim: this.dim,
      weight: Float32Array.from(this.weight),
      bias: this.bias ? Float32Array.from(this.bias) : undefined,
    };
  }
}

export interface TrainProbeInput {
  data: ProbeData;
  trainRows: Int32Array;
  validationRows: Int32Array;
  /** Higher is better; gets the validation rows' predicted label ids, in order. */
  score(predictions: Int32Array): number;
  engine?: (data: ProbeData, weights: Float32Array) => ProbeEngine;
  /** Called after each epoch; may throw to stop (cancellation). */
  onEpoch?(report: EpochReport): void | Promise<void>;
}

export async function trainProbe(
  input: TrainProbeInput,
  options: ProbeOptions = defaultProbeOptions,
): Promise<ProbeResult> {
  const { data, trainRows, validationRows } = input;
  const { labels, dim } = data;
  if (trainRows.length === 0) throw new RangeError('There are no training rows.');
  const weights = rowWeights(data.targets, trainRows, labels, options.classWeights);
  let weightSum = 0;
  for (const row of trainRows) weightSum += weights[row];
  const engine = (input.engine ?? cpuEngine)(data, weights);
  const scale = standardisation(data, trainRows);
  const params = new Parameters(labels, dim, scale, options.bias);
  const z = new Float64Array(params.size);
  const regularised = labels * dim;

  /** Mean loss + L2 over `rows`, with its gradient in z written to `gradient`. */
  const evaluate = async (rows: Int32Array, at: Float64Array, gradient: Float64Array) => {
    params.load(at);
    params.clearGradient();
    const raw = await engine.lossAndGradient(
      rows,
      params.weight,
      params.bias,
      params.gradW,
      params.gradB,
    );
    let rowsWeight = 0;
    for (const row of rows) rowsWeight += weights[row];
    params.gradientInZ(1 / rowsWeight, gradient);
    let penalty = 0;
    for (let i = 0; i < regularised; i++) {
      penalty += at[i] * at[i];
      gradient[i] += options.l2 * at[i];
    }
    return raw / rowsWeight + (options.l2 / 2) * penalty;
  };

  const history: EpochReport[] = [];
  let best = { score: -Infinity, epoch: 0, z: Float64Array.from(z) };
  let stale = 0;
  const endEpoch = async (epoch: number, loss: number): Promise<boolean> => {
    params.load(z);
    const predictions = await engine.predict(validationRows, params.weight, params.bias);
    const validationScore = validationRows.length > 0 ? input.score(predictions) : -loss;
    const report = { epoch, epochs: options.epochs, loss, validationScore };
    history.push(report);
    if (validationScore > best.score) {
      best = { score: validationScore, epoch, z: Float64Array.from(z) };
      stale = 0;
    } else stale++;
    await input.onEpoch?.(report);
    return stale >= options.patience;
  };

  const gradient = new Float64Array(params.size);
  if (options.optimizer === 'adam') {
    const random = seededRandom(options.seed);
    const m = new Float64Array(params.size);
    const v = new Float64Array(params.size);
    const order = Array.from(trainRows);
    const totalSteps = options.epochs * Math.ceil(order.length / options.batchSize);
    let step = 0;
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      shuffle(order, random);
      let lossSum = 0;
      for (let start = 0; start < order.length; start += options.batchSize) {
        const batch = Int32Array.from(order.slice(start, start + options.batchSize));
        const loss = await evaluate(batch, z, gradient);
        let batchWeight = 0;
        for (const row of batch) batchWeight += weights[row];
        lossSum += loss * batchWeight;
        step++;
        // Cosine decay to a tenth: the steps settle instead of circling the optimum.
        const lr =
          options.learningRate * (0.1 + 0.45 * (1 + Math.cos((Math.PI * step) / totalSteps)));
        const correction1 = 1 - 0.9 ** step;
        const correction2 = 1 - 0.999 ** step;
        for (let i = 0; i < params.size; i++) {
          m[i] = 0.9 * m[i] + 0.1 * gradient[i];
          v[i] = 0.999 * v[i] + 0.001 * gradient[i] * gradient[i];
          z[i] -= (lr * (m[i] / correction1)) / (Math.sqrt(v[i] / correction2) + 1e-8);
        }
      }
      if (await endEpoch(epoch, lossSum / weightSum)) break;
    }
  } else {
    const end = await lbfgs(
      (at, grad) => evaluate(trainRows, at, grad),
      z,
      options.epochs * lbfgsIterationsPerEpoch,
      async (iteration, loss) =>
        iteration % lbfgsIterationsPerEpoch === 0
          ? endEpoch(iteration / lbfgsIterationsPerEpoch, loss)
          : false,
    );
    // Converged between two checkpoints: score the weights where it stopped.
    const between = end.iteration % lbfgsIterationsPerEpoch !== 0 || history.length === 0;
    if (!end.stoppedByCaller && between) {
      await endEpoch(Math.max(1, Math.ceil(end.iteration / lbfgsIterationsPerEpoch)), end.loss);
    }
  }
  params.load(best.z);
  return { head: params.head(), history, bestEpoch: best.epoch, bestScore: best.score };
}

/**
 * L-BFGS (memory 10) with a backtracking Armijo line search; `after` runs after each iteration
 * and returns true to stop. Stops early when the gradient or the step becomes negligible.
 */
async function lbfgs(
  evaluate: (at: Float64Array, gradient: Float64Array) => Promise<number>,
  x: Float64Array,
  maxIterations: number,
  after: (iteration: number, loss: number) => Promise<boolean>,
): Promise<{ iteration: number; loss: number; stoppedByCaller: boolean }> {
  const n = x.length;
  const memory = 10;
  const s: Float64Array[] = [];
  const y: Float64Array[] = [];
  const rho: number[] = [];
  const g = new Float64Array(n);
  let f = await evaluate(x, g);
  const direction = new Float64Array(n);
  const alpha = new Float64Array(memory);
  const trial = new Float64Array(n);
  const gTrial = new Float64Array(n);
  const dot = (a: Float64Array, b: Float64Array) => {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
  };
  for (let iteration = 1; iteration <= maxIterations; iteration++) {
    direction.set(g);
    for (let k = s.length - 1; k >= 0; k--) {
      alpha[k] = rho[k] * dot(s[k], direction);
      for (let i = 0; i < n; i++) direction[i] -= alpha[k] * y[k][i];
    }
    if (s.length > 0) {
      const last = s.length - 1;
      const gamma = dot(s[last], y[last]) / dot(y[last], y[last]);
      for (let i = 0; i < n; i++) direction[i] *= gamma;
    } else {
      const norm = Math.sqrt(dot(g, g));
      if (norm > 0) for (let i = 0; i < n; i++) direction[i] /= norm;
    }
    for (let k = 0; k < s.length; k++) {
      const beta = rho[k] * dot(y[k], direction);
      for (let i = 0; i < n; i++) direction[i] += s[k][i] * (alpha[k] - beta);
    }
    for (let i = 0; i < n; i++) direction[i] = -direction[i];
    let slope = dot(g, direction);
    if (slope >= 0) {
      // Not a descent direction (curvature went wrong): restart from steepest descent.
      s.length = 0;
      y.length = 0;
      rho.length = 0;
      for (let i = 0; i < n; i++) direction[i] = -g[i];
      slope = -dot(g, g);
    }
    let step = 1;
    let fTrial = Infinity;
    for (let tries = 0; tries < 30; tries++) {
      for (let i = 0; i < n; i++) trial[i] = x[i] + step * direction[i];
      fTrial = await evaluate(trial, gTrial);
      if (fTrial <= f + 1e-4 * step * slope) break;
      step /= 2;
    }
    if (!(fTrial < f)) return { iteration: iteration - 1, loss: f, stoppedByCaller: false };
    const sk = new Float64Array(n);
    const yk = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      sk[i] = trial[i] - x[i];
      yk[i] = gTrial[i] - g[i];
    }
    const sy = dot(sk, yk);
    if (sy > 1e-12) {
      s.push(sk);
      y.push(yk);
      rho.push(1 / sy);
      if (s.length > memory) {
        s.shift();
        y.shift();
        rho.shift();
      }
    }
    const improvement = f - fTrial;
    x.set(trial);
    g.set(gTrial);
    f = fTrial;
    if (await after(iteration, f)) return { iteration, loss: f, stoppedByCaller: true };
    if (improvement < 1e-9 * Math.max(1, Math.abs(f)) || Math.sqrt(dot(g, g)) < 1e-7) {
      return { iteration, loss: f, stoppedByCaller: false };
    }
  }
  return { iteration: maxIterations, loss: f, stoppedByCaller: false };
}
