// A head's graph on a serving engine that speaks the Open Inference Protocol (KServe v2) over
// REST: NVIDIA Triton, KServe, Seldon MLServer. It stands in for the onnxruntime session
// (inputNames, outputNames, run), so tokenisation, windows and Hugging Face post-processing stay
// local and unchanged, and the results are the same wherever the graph runs.
//
// Windows that arrive while requests are in flight are sent together as one padded batch
// (right padding, mask 0: a causal model's real positions do not see the padding), and each
// caller gets back its own rows, cut to its own width.
import { Tensor } from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-common';
import { EndpointError, type HttpEndpoint } from './http';

/** A tensor's description in the model metadata (`GET {endpoint}`). */
export interface TensorMetadata {
  name: string;
  datatype: string;
  /** -1 for a dynamic axis; includes the batch axis. */
  shape: number[];
}

export interface ModelMetadata {
  name: string;
  versions?: string[];
  platform?: string;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/** A tensor in an infer request or response (JSON, row-major data). */
export interface InferTensor {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

export interface EndpointUrl {
  /** The model's URL without a trailing slash or fragment: …/v2/models/NAME[/versions/N]. */
  model: string;
  /** Where /v2/health/ready lives. */
  server: string;
  /** `#h1` names one head of a fused graph: its outputs are h1.logits etc. */
  head?: string;
}

/** Reads an endpoint setting: the URL of one model on an Open Inference Protocol server. */
export function parseEndpoint(url: string, setting: string): EndpointUrl {
  const parsed = new URL(url);
  const head = parsed.hash ? decodeURIComponent(parsed.hash.slice(1)) : undefined;
  parsed.hash = '';
  const model = parsed.toString().replace(/\/+$/, '');
  const at = parsed.pathname.indexOf('/v2/models/');
  if (at < 0 || parsed.pathname.length <= at + '/v2/models/'.length) {
    throw new EndpointError(
      `"${setting}" must be a model's URL on an Open Inference Protocol server, ` +
        `e.g. http://triton:8000/v2/models/gpt2_ner (got "${url}").`,
    );
  }
  return { model, server: `${parsed.origin}${parsed.pathname.slice(0, at)}`, head };
}

/** What the local config says the served graph must look like. */
export interface ExpectedGraph {
  /** Outputs the tasks read, by their usual names (without a fused graph's head prefix). */
  outputs: string[];
  /** Output name → its width on the last axis (the label count), where the config fixes it. */
  widths: Record<string, number>;
}

const feedableInputs = new Set(['input_ids', 'attention_mask', 'position_ids', 'mc_token_ids']);
const batchableInputs = new Set(['input_ids', 'attention_mask', 'position_ids']);

/**
 * Checks the metadata of the served model against the local config: the inputs are ones the
 * host can feed, the outputs the tasks need are there, and the label counts agree.
 */
export function checkMetadata(
  metadata: ModelMetadata,
  expected: ExpectedGraph,
  endpoint: EndpointUrl,
  source: string,
  setting: string,
): void {
  const where = `The model at ${endpoint.model}`;
  if (!Array.isArray(metadata?.inputs) || !Array.isArray(metadata?.outputs)) {
    throw new EndpointError(
      `${where} sent metadata without inputs and outputs: "${setting}" must be a model's URL ` +
        `(…/v2/models/NAME), not the server's.`,
    );
  }
  const inputs = metadata.inputs.map((input) => input.name);
  const unknown = inputs.filter((name) => !feedableInputs.has(name));
  if (unknown.length > 0 || !inputs.includes('input_ids') || !inputs.includes('attention_mask')) {
    throw new EndpointError(
      `${where} takes inputs ${inputs.join(', ')}; GPT-2 Heads feeds input_ids, attention_mask ` +
        `and optionally position_ids / mc_token_ids. Serve a graph exported with ` +
        `"gpt2-heads export-triton --model ${source}".`,
    );
  }
  for (const input of metadata.inputs) {
    if (input.datatype !== 'INT64') {
      throw new EndpointError(
        `${where} takes ${input.name} as ${input.datatype}; the host sends INT64 token ids.`,
      );
    }
  }
  const prefix = endpoint.head ? `${endpoint.head}.` : '';
  const served = new Map(metadata.outputs.map((output) => [output.name, output]));
  for (const name of expected.outputs) {
    const output = served.get(prefix + name);
    if (!output) {
      const heads = [
        ...new Set(metadata.outputs.map((o) => /^(.+)\./.exec(o.name)?.[1]).filter(Boolean)),
      ];
      throw new EndpointError(
        `${where} has no output "${prefix + name}" (it has ${[...served.keys()].join(', ')}), ` +
          `which "${source}" needs.` +
          (heads.length > 0 && !endpoint.head
            ? ` It is a fused graph of several heads: add #${heads.join(' or #')} to "${setting}".`
            : ''),
      );
    }
    if (output.datatype !== 'FP32') {
      throw new EndpointError(`${where} gives ${output.name} as ${output.datatype}, not FP32.`);
    }
    const width = expected.widths[name];
    const servedWidth = output.shape[output.shape.length - 1];
    if (width !== undefined && servedWidth !== width) {
      throw new EndpointError(
        `${where} gives ${servedWidth} values per ${output.shape.length === 3 ? 'token' : 'text'} in ` +
          `"${output.name}" but the config.json of "${source}" names ${width} labels: the ` +
          `server runs a different model than "${source}". Point "${setting}" at the same model.`,
      );
    }
  }
}

interface Pending {
  feeds: Record<string, Tensor>;
  fetches: string[];
  resolve(outputs: Record<string, Tensor>): void;
  reject(error: unknown): void;
}

export interface OpenInferenceOptions {
  /** Windows per request at most (1 = one window per request). */
  maxBatch: number;
  /** Pads input_ids as runPadded does: sequence classifiers pool before the first pad token. */
  padId: number;
}

/** Forward passes sent so far, and the windows they carried (for tests and the benchmark). */
export const openInferenceStats = { requests: 0, windows: 0 };

export class OpenInferenceSession {
  readonly inputNames: string[];
  readonly outputNames: string[];
  /** Tasks run remote sessions without the local one-call-at-a-time queue. */
  readonly remote = true;
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly outputs: Map<string, TensorMetadata>;
  private readonly prefix: string;

  constructor(
    private readonly http: HttpEndpoint,
    private readonly endpoint: EndpointUrl,
    metadata: ModelMetadata,
    expected: ExpectedGraph,
    private readonly options: OpenInferenceOptions,
  ) {
    this.prefix = endpoint.head ? `${endpoint.head}.` : '';
    this.inputNames = metadata.inputs.map((input) => input.name);
    this.outputNames = expected.outputs;
    this.outputs = new Map(
      metadata.outputs
        .filter((output) => output.name.startsWith(this.prefix))
        .map((output) => [output.name.slice(this.prefix.length), output]),
    );
  }

  run(
    feeds: Record<string, Tensor>,
    fetches?: string[] | Record<string, unknown>,
  ): Promise<Record<string, Tensor>> {
    const names = Array.isArray(fetches) ? fetches : this.outputNames;
    return new Promise((resolve, reject) => {
      this.queue.push({ feeds, fetches: names, resolve, reject });
      // Let the other windows that are ready in this turn join the same request.
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  async release(): Promise<void> {
    for (const pending of this.queue.splice(0)) {
      pending.reject(new EndpointError('The model was unloaded before its request was sent.'));
    }
  }

  private pump(): void {
    while (this.queue.length > 0 && this.inFlight < this.http.options.concurrency) {
      const batch = this.takeBatch();
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  /** The first waiting call, with the later ones it can share a padded batch with. */
  private takeBatch(): Pending[] {
    const first = this.queue.shift()!;
    const batch = [first];
    if (!batchable(first)) return batch;
    const key = batchKey(first);
    for (let i = 0; i < this.queue.length && batch.length < this.options.maxBatch;) {
      const candidate = this.queue[i];
      if (batchable(candidate) && batchKey(candidate) === key) {
        batch.push(candidate);
        this.queue.splice(i, 1);
      } else i++;
    }
    return batch;
  }

  private async send(batch: Pending[]): Promise<void> {
    try {
      const rows = batch.length;
      const widths = batch.map((p) => p.feeds.input_ids.dims[1] ?? 0);
      const width = Math.max(...widths);
      const inputs: InferTensor[] = Object.keys(batch[0].feeds).map((name) => {
        const first = batch[0].feeds[name];
        if (rows === 1) {
          return {
            name,
            shape: [...first.dims],
            datatype: 'INT64',
            data: Array.from(first.data as BigInt64Array, Number),
          };
        }
        const data = new Array<number>(rows * width).fill(
          name === 'input_ids' ? this.options.padId : 0,
        );
        batch.forEach((pending, r) => {
          const values = pending.feeds[name].data as BigInt64Array;
          for (let i = 0; i < values.length; i++) data[r * width + i] = Number(values[i]);
        });
        return { name, shape: [rows, width], datatype: 'INT64', data };
      });
      const fetches = [...new Set(batch.flatMap((p) => p.fetches))];
      openInferenceStats.requests++;
      openInferenceStats.windows += rows;
      const response = await this.http.json<{ outputs?: InferTensor[]; error?: string }>(
        `${this.endpoint.model}/infer`,
        { inputs, outputs: fetches.map((name) => ({ name: this.prefix + name })) },
      );
      const outputs = this.readOutputs(response, fetches, rows, width);
      batch.forEach((pending, r) => {
        const single = rows === 1;
        pending.resolve(
          Object.fromEntries(
            pending.fetches.map((name) => [
              name,
              single ? outputs[name] : rowOf(outputs[name], r, widths[r], this.sequenceAxis(name)),
            ]),
          ),
        );
      });
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    }
  }

  /** Axis 1 of an output is the sequence when the metadata leaves it dynamic ([-1, -1, labels]). */
  private sequenceAxis(name: string): boolean {
    const shape = this.outputs.get(name)?.shape;
    return shape !== undefined && shape.length >= 2 && shape[1] === -1;
  }

  private readOutputs(
    response: { outputs?: InferTensor[]; error?: string },
    fetches: string[],
    rows: number,
    width: number,
  ): Record<string, Tensor> {
    const where = `The model at ${this.endpoint.model}`;
    if (!response || !Array.isArray(response.outputs)) {
      throw new EndpointError(
        `${where} answered without "outputs"` +
          (typeof response?.error === 'string' ? `: ${response.error}` : '') +
          '. It does not speak the Open Inference Protocol, or failed.',
      );
    }
    const result: Record<string, Tensor> = {};
    for (const name of fetches) {
      const output = response.outputs.find((o) => o.name === this.prefix + name);
      if (!output) {
        throw new EndpointError(`${where} answered without the output "${this.prefix + name}".`);
      }
      const meta = this.outputs.get(name);
      const expectedShape = (meta?.shape ?? []).map((dim, axis) =>
        axis === 0 ? rows : dim === -1 && axis === 1 ? width : dim,
      );
      const shape = output.shape;
      const data = Array.isArray(output.data) ? (output.data.flat(Infinity) as unknown[]) : [];
      const size = Array.isArray(shape) ? shape.reduce((a, b) => a * b, 1) : NaN;
      const shapeOk =
        Array.isArray(shape) &&
        shape.length === expectedShape.length &&
        shape.every((dim, axis) => expectedShape[axis] === -1 || dim === expectedShape[axis]);
      if (output.datatype !== 'FP32' || !shapeOk || data.length !== size) {
        throw new EndpointError(
          `${where} answered "${output.name}" as ${String(output.datatype)} ` +
            `${JSON.stringify(shape)} with ${data.length} values; expected FP32 ` +
            `${JSON.stringify(expectedShape)}. The served model does not match the local one.`,
        );
      }
      const values = new Float32Array(data.length);
      for (let i = 0; i < data.length; i++) {
        const value = data[i];
        if (typeof value !== 'number' && value !== null) {
          throw new EndpointError(`${where} answered "${output.name}" with non-numbers.`);
        }
        values[i] = value === null ? NaN : value;
      }
      result[name] = new Tensor('float32', values, shape);
    }
    return result;
  }
}

function batchable(pending: Pending): boolean {
  return Object.entries(pending.feeds).every(
    ([name, tensor]) =>
      batchableInputs.has(name) && tensor.dims.length === 2 && tensor.dims[0] === 1,
  );
}

function batchKey(pending: Pending): string {
  return `${Object.keys(pending.feeds).sort().join(',')}|${pending.fetches.join(',')}`;
}

/** Row `r` of a batched output, cut to `width` positions when axis 1 is the sequence. */
function rowOf(tensor: Tensor, r: number, width: number, sequence: boolean): Tensor {
  const dims = tensor.dims;
  const rowSize = dims.slice(1).reduce((a, b) => a * b, 1);
  const data = tensor.data as Float32Array;
  const row = data.subarray(r * rowSize, (r + 1) * rowSize);
  if (!sequence) return new Tensor('float32', row.slice(), [1, ...dims.slice(1)]);
  const inner = dims.slice(2).reduce((a, b) => a * b, 1);
  return new Tensor('float32', row.slice(0, width * inner), [1, width, ...dims.slice(2)]);
}

/** The session interface the tasks use, over an Open Inference Protocol endpoint. */
export function asInferenceSession(session: OpenInferenceSession): InferenceSession {
  return session as unknown as InferenceSession;
}

export function isRemoteSession(session: unknown): boolean {
  return (session as { remote?: boolean }).remote === true;
}
