// The scoring maths every head shares, in float64, each written once. One NaN rule, as numpy
// and torch: a NaN in the input makes every probability NaN, and argmax picks the first NaN.
// The host refuses NaN logits before they get here (requireFinite); the rule keeps the heads
// honest when called directly.

/** softmax(values), shifted by the maximum. All -Infinity gives all NaN (0/0), as torch. */
export function softmax(values: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  // Math.max, unlike a comparison, carries a NaN through: then every result is NaN.
  for (let i = 0; i < values.length; i++) max = Math.max(max, values[i]);
  const out = new Float64Array(values.length);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    out[i] = Math.exp(values[i] - max);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** Softmax of each row of row-major [rows, width] values. */
export function softmaxRows(values: ArrayLike<number>, width: number): Float64Array[] {
  if (width < 1 || values.length % width !== 0) {
    throw new Error(`softmaxRows: ${values.length} values do not form rows of ${width}`);
  }
  const rows: Float64Array[] = [];
  for (let start = 0; start < values.length; start += width) {
    rows.push(softmax(rowOf(values, start, width)));
  }
  return rows;
}

/**
 * log_softmax(values[start, start + length))[index]: the log-probability of one entry of a row,
 * without allocating the row (an LM row is the whole vocabulary).
 */
export function logSoftmaxAt(
  values: ArrayLike<number>,
  index: number,
  start = 0,
  length = values.length - start,
): number {
  let max = -Infinity;
  for (let i = start; i < start + length; i++) max = Math.max(max, values[i]);
  let sum = 0;
  for (let i = start; i < start + length; i++) sum += Math.exp(values[i] - max);
  return values[start + index] - max - Math.log(sum);
}

/** numpy's argmax: the index of the first maximum, or of the first NaN if there is one. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isNaN(values[i])) return i;
    if (values[i] > values[best]) best = i;
  }
  return best;
}

export function sigmoid(value: number): number {
  return 1 / (1 + Math.exp(-value));
}

function rowOf(values: ArrayLike<number>, start: number, length: number): ArrayLike<number> {
  if (ArrayBuffer.isView(values)) {
    return (values as unknown as Float32Array).subarray(start, start + length);
  }
  return Array.prototype.slice.call(values, start, start + length) as number[];
}
