// A stand-in for Triton on 127.0.0.1: serves the models of an exported repository
// (REPO/NAME/config.pbtxt + REPO/NAME/1/model.onnx) over the Open Inference Protocol's REST API
// with onnxruntime-node, so the export itself is what the tests run. Faults can be switched on
// to test how the host copes with a server that misbehaves.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { InferenceSession, Tensor } from 'onnxruntime-node';

export type OpenInferenceFault =
  | 'none'
  /** Answers nothing for `delayMs`. */
  | 'slow'
  /** 200 with a body that is not JSON. */
  | 'malformed'
  /** Drops the last axis of every output. */
  | 'wrong-shape'
  /** Calls the outputs FP16. */
  | 'wrong-dtype'
  /** 429 (then 503) with Retry-After for the next `busyCount` infer requests. */
  | 'busy';

interface ServedModel {
  name: string;
  session: InferenceSession;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

export interface OpenInferenceStandIn {
  url: string;
  /** …/v2/models/NAME */
  modelUrl(name: string): string;
  fault: OpenInferenceFault;
  delayMs: number;
  busyCount: number;
  retryAfterSeconds: number;
  /** Rows of each infer request, in order. */
  batches: number[];
  /** Authorization headers seen. */
  authorizations: (string | undefined)[];
  close(): Promise<void>;
}

const datatypes: Record<string, string> = {
  TYPE_INT64: 'INT64',
  TYPE_FP32: 'FP32',
  TYPE_INT32: 'INT32',
  TYPE_FP16: 'FP16',
};

/** Reads the parts of config.pbtxt the protocol's metadata reports (as Triton does). */
export function readConfigPbtxt(text: string): Pick<ServedModel, 'inputs' | 'outputs'> & {
  name: string;
  platform: string;
  maxBatchSize: number;
} {
  const field = (pattern: RegExp) => pattern.exec(text)?.[1];
  const section = (key: string) => {
    const start = text.indexOf(`${key} [`);
    if (start < 0) return [];
    const body = text.slice(start, text.indexOf('\n]', start));
    return [...body.matchAll(/name: "([^"]+)"\s+data_type: (\w+)\s+dims: \[([^\]]*)\]/g)].map(
      (m) => ({
        name: m[1],
        datatype: datatypes[m[2]] ?? m[2],
        shape: [-1, ...m[3].split(',').map((d) => Number(d.trim()))],
      }),
    );
  };
  return {
    name: field(/^name: "([^"]+)"/m) ?? '',
    platform: field(/^platform: "([^"]+)"/m) ?? '',
    maxBatchSize: Number(field(/^max_batch_size: (\d+)/m) ?? 0),
    inputs: section('input'),
    outputs: section('output'),
  };
}

export async function startOpenInferenceServer(repository: string): Promise<OpenInferenceStandIn> {
  const models = new Map<string, ServedModel>();
  for (const name of readdirSync(repository)) {
    const configFile = join(repository, name, 'config.pbtxt');
    if (!existsSync(configFile)) continue;
    const config = readConfigPbtxt(readFileSync(configFile, 'utf8'));
    if (config.platform !== 'onnxruntime_onnx' || config.name !== name) {
      throw new Error(`${configFile}: expected platform onnxruntime_onnx and name "${name}"`);
    }
    const session = await InferenceSession.create(join(repository, name, '1', 'model.onnx'), {
      intraOpNumThreads: 1,
    });
    models.set(name, { name, session, inputs: config.inputs, outputs: config.outputs });
  }
  const state: OpenInferenceStandIn = {
    url: '',
    modelUrl: (name) => `${state.url}/v2/models/${name}`,
    fault: 'none',
    delayMs: 0,
    busyCount: 0,
    retryAfterSeconds: 0,
    batches: [],
    authorizations: [],
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };

  const send = (response: ServerResponse, status: number, body: unknown, headers = {}) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    state.authorizations.push(request.headers.authorization);
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path === '/_fault' && request.method === 'POST') {
      Object.assign(state, JSON.parse(Buffer.concat(chunks).toString('utf8')));
      return send(response, 200, {});
    }
    if (path === '/_stats') return send(response, 200, { batches: state.batches });
    if (path === '/v2/health/ready') return send(response, state.fault === 'busy' ? 503 : 200, {});
    const match = /^\/v2\/models\/([^/]+)(\/versions\/\d+)?(\/infer)?$/.exec(path);
    const model = match ? models.get(match[1]) : undefined;
    if (!model) return send(response, 404, { error: `unknown model ${path}` });
    if (!match![3]) {
      return send(response, 200, {
        name: model.name,
        versions: ['1'],
        platform: 'onnxruntime_onnx',
        inputs: model.inputs,
        outputs: model.outputs,
      });
    }
    // The fault in force when the request arrived decides its fate: a slow request the client
    // has given up on must not wake later and consume a fault set by a later test.
    const fault = state.fault;
    if (fault === 'slow') {
      let abandoned = false;
      response.once('close', () => (abandoned = !response.writableEnded));
      await new Promise((resolve) => setTimeout(resolve, state.delayMs));
      if (abandoned) return;
    }
    if (fault === 'busy' && state.busyCount > 0) {
      const status = state.busyCount % 2 === 0 ? 429 : 503;
      state.busyCount--;
      return send(
        response,
        status,
        { error: 'busy' },
        { 'retry-after': String(state.retryAfterSeconds) },
      );
    }
    if (fault === 'malformed') {
      response.writeHead(200, { 'content-type': 'application/json' });
      return void response.end('{"outputs": [ {"name": "logits", "data": [1, 2');
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      inputs: { name: string; shape: number[]; datatype: string; data: number[] }[];
      outputs?: { name: string }[];
    };
    const feeds: Record<string, Tensor> = {};
    for (const input of body.inputs) {
      feeds[input.name] = new Tensor(
        'int64',
        BigInt64Array.from(input.data, (v) => BigInt(v)),
        input.shape,
      );
    }
    state.batches.push(body.inputs[0]?.shape[0] ?? 0);
    const names = body.outputs?.map((o) => o.name) ?? model.outputs.map((o) => o.name);
    let results: InferenceSession.OnnxValueMapType;
    try {
      results = await model.session.run(feeds, names);
    } catch (error) {
      return send(response, 400, { error: (error as Error).message });
    }
    send(response, 200, {
      model_name: model.name,
      model_version: '1',
      outputs: names.map((name) => {
        const tensor = results[name] as Tensor;
        const shape = [...tensor.dims];
        return {
          name,
          datatype: fault === 'wrong-dtype' ? 'FP16' : 'FP32',
          shape: fault === 'wrong-shape' ? shape.slice(0, -1) : shape,
          data: Array.from(tensor.data as Float32Array),
        };
      }),
    });
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) =>
      send(response, 500, { error: String(error) }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return state;
}
