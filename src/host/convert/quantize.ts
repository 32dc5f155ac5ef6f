/**
 * Int8 weight quantization for the GPT-2 graphs' constant-weight MatMuls.
 *
 * The graph builder calls `quantizeColumns` and emits ORT's com.microsoft DynamicQuantizeMatMul
 * (activations quantized to uint8 at run time, weights int8, one scale per output column).
 * Onnxruntime's own `quantize_dynamic` uses one scale per tensor with DynamicQuantizeLinear +
 * MatMulInteger; per-column scales are more accurate for the same speed, and the fused op is the
 * fastest of the variants on onnxruntime-node 1.30 (see the report numbers in gpt2Graph.ts).
 */

export interface QuantizedMatrix {
  /** int8 values, row-major [rows, cols] like the input. */
  values: Int8Array;
  /** One scale per column: w ≈ values * scale. */
  scales: Float32Array;
  /** Zero point per column (always 0: symmetric). */
  zeroPoints: Int8Array;
}

/** Symmetric per-column int8 quantization of a row-major [rows, cols] matrix. */
export function quantizeColumns(data: Float32Array, rows: number, cols: number): QuantizedMatrix {
  const maxAbs = new Float32Array(cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const a = Math.abs(data[base + c]);
      if (a > maxAbs[c]) maxAbs[c] = a;
    }
  }
  const scales = new Float32Array(cols);
  const inverse = new Float32Array(cols);
  for (let c = 0; c < cols; c++) {
    scales[c] = maxAbs[c] > 0 ? maxAbs[c] / 127 : 1;
    inverse[c] = 1 / scales[c];
  }
  const values = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) {
      const q = Math.round(data[base + c] * inverse[c]);
      values[base + c] = q > 127 ? 127 : q < -127 ? -127 : q;
    }
  }
  return { values, scales, zeroPoints: new Int8Array(cols) };
}

/** Quantizes the transpose of a row-major [rows, cols] matrix (for the tied lm_head: wte is [vocab, n_embd]). */
export function quantizeTransposed(
  data: Float32Array,
  rows: number,
  cols: number,
): QuantizedMatrix {
  // Column j of the transpose is row j of the input, so scales are per input row.
  const scales = new Float32Array(rows);
  const values = new Int8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let maxAbs = 0;
    const base = r * cols;
    for (let c = 0; c < cols; c++) maxAbs = Math.max(maxAbs, Math.abs(data[base + c]));
    const scale = maxAbs > 0 ? maxAbs / 127 : 1;
    scales[r] = scale;
    const inv = 1 / scale;
    for (let c = 0; c < cols; c++) {
      const q = Math.round(data[base + c] * inv);
      values[c * rows + r] = q > 127 ? 127 : q < -127 ? -127 : q;
    }
  }
  return { values, scales, zeroPoints: new Int8Array(rows) };
}
