// A stand-in for vLLM on 127.0.0.1: an OpenAI-compatible completions server that runs the local
// language model through the host's own generation code (so "remote equals local" is a real
// comparison), streams server-sent events, and answers echo + logprobs as vLLM does (character
// offsets in code points). Faults can be switched on.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Tensor } from 'onnxruntime-node';
import { scoreContinuation } from '../../src/heads/lmScoring';
import { headRoles, type HeadRole, type HostSettings } from '../../src/protocol';
import type { LoadedModel } from '../../src/host/models/loadedModel';
import { ModelRegistry } from '../../src/host/models/registry';
import { generate } from '../../src/host/tasks/generation';
import { encode, runPadded } from '../../src/host/tasks/run';
import { utf16ToCodePoint } from '../../src/text/offsets';

export type CompletionsFault =
  | 'none'
  /** Streams two events, then closes the connection without [DONE]. */
  | 'drop'
  /** Answers without logprobs, as llama.cpp server and Ollama do. */
  | 'no-echo'
  /** 429 with Retry-After for the next `busyCount` requests. */
  | 'busy';

export interface CompletionsStandIn {
  /** The base URL clients are given: …/v1 */
  url: string;
  modelName: string;
  fault: CompletionsFault;
  busyCount: number;
  retryAfterSeconds: number;
  /** Pause between streamed events. */
  chunkDelayMs: number;
  /** Request bodies received, in order. */
  requests: Record<string, unknown>[];
  /** Streams the client closed before the end. */
  closedEarly: number;
  close(): Promise<void>;
}

interface CompletionBody {
  model?: string;
  prompt: string | string[];
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stop?: string | string[];
  stream?: boolean;
  echo?: boolean;
  logprobs?: number;
}

export async function startCompletionsServer(
  lmFolder: string,
  modelName = 'gpt2-tiny-lm',
): Promise<CompletionsStandIn> {
  const settings: HostSettings = {
    models: Object.fromEntries(headRoles.map((role) => [role, ''])) as Record<HeadRole, string>,
    offline: true,
    cacheDir: lmFolder,
    dtype: 'fp32',
    threads: 1,
  };
  const registry = new ModelRegistry(settings);
  const model = await registry.load(lmFolder);
  const state: CompletionsStandIn = {
    url: '',
    modelName,
    fault: 'none',
    busyCount: 0,
    retryAfterSeconds: 0,
    chunkDelayMs: 0,
    requests: [],
    closedEarly: 0,
    close: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await registry.dispose();
    },
  };
  const send = (response: ServerResponse, status: number, body: unknown, headers = {}) => {
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const path = new URL(request.url ?? '/', 'http://localhost').pathname;
    if (path === '/_fault' && request.method === 'POST') {
      Object.assign(state, JSON.parse(Buffer.concat(chunks).toString('utf8')));
      return send(response, 200, {});
    }
    if (path === '/_stats') {
      return send(response, 200, {
        requests: state.requests.length,
        closedEarly: state.closedEarly,
      });
    }
    if (path === '/v1/models') {
      return send(response, 200, { object: 'list', data: [{ id: modelName, object: 'model' }] });
    }
    if (path !== '/v1/completions' || request.method !== 'POST') {
      return send(response, 404, { error: { message: `no route ${path}` } });
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CompletionBody;
    state.requests.push(body as unknown as Record<string, unknown>);
    if (state.fault === 'busy' && state.busyCount > 0) {
      state.busyCount--;
      return send(
        response,
        429,
        { error: { message: 'rate limited' } },
        { 'retry-after': String(state.retryAfterSeconds) },
      );
    }
    if (body.model !== modelName) {
      return send(response, 404, { error: { message: `The model ${body.model} does not exist.` } });
    }
    if (body.echo) return send(response, 200, await echo(body));
    if (typeof body.prompt !== 'string') {
      return send(response, 400, { error: { message: 'one prompt at a time' } });
    }
    await complete(body, body.prompt, response);
  }

  /** vLLM's echo: the prompt's tokens with their log-probabilities (the first has none). */
  async function echo(body: CompletionBody) {
    const prompts = Array.isArray(body.prompt) ? body.prompt : [body.prompt];
    const choices = [];
    for (const [index, prompt] of prompts.entries()) {
      if (state.fault === 'no-echo') {
        choices.push({ index, text: ' x', logprobs: null, finish_reason: 'length' });
        continue;
      }
      const encoded = encode(model, prompt);
      const logits = await lmLogits(model, encoded.ids);
      const scored = scoreContinuation(logits, model.config.vocab_size, {
        input_ids: encoded.ids,
        continuation_start: 1,
      });
      choices.push({
        index,
        text: prompt,
        finish_reason: 'length',
        logprobs: {
          tokens: encoded.ids.map((id) => model.tokenizer.decode([id])),
          token_logprobs: [null, ...scored.token_log_probs],
          text_offset: encoded.offsets.map(([start]) => utf16ToCodePoint(prompt, start)),
        },
      });
    }
    return { object: 'text_completion', model: modelName, choices };
  }

  async function complete(
    body: CompletionBody,
    prompt: string,
    response: ServerResponse,
  ): Promise<void> {
    const stops = body.stop === undefined ? [] : Array.isArray(body.stop) ? body.stop : [body.stop];
    const sampling = (body.temperature ?? 1) > 0;
    let closed = false;
    response.on('close', () => {
      if (!response.writableFinished) {
        closed = true;
        state.closedEarly++;
      }
    });
    const cancellation = {
      get isCancellationRequested() {
        return closed;
      },
    };
    const event = (text: string, finish: string | null, stopReason?: string) => ({
      object: 'text_completion',
      model: modelName,
      choices: [{ index: 0, text, finish_reason: finish, stop_reason: stopReason ?? null }],
    });
    // The text is generated first, then streamed event by event (`chunkDelayMs` apart), so a
    // test can cancel while the stream is open.
    const pieces: string[] = [];
    const result = await generate(
      model,
      {
        prompt,
        options: {
          max_new_tokens: body.max_tokens ?? 16,
          do_sample: sampling,
          temperature: sampling ? body.temperature : undefined,
          top_p: sampling ? body.top_p : undefined,
          seed: body.seed,
          stop_strings: stops,
        },
        reuseCache: false,
      },
      cancellation,
      (text) => pieces.push(text),
    );
    let text = result.new_text;
    let stopReason: string | undefined;
    if (result.finish_reason === 'stop_string') {
      // OpenAI servers leave the stop string out of the text.
      stopReason = stops.find((stop) => text.endsWith(stop));
      if (stopReason) text = text.slice(0, -stopReason.length);
    }
    const finish = result.finish_reason === 'length' ? 'length' : 'stop';
    if (!body.stream) return send(response, 200, event(text, finish, stopReason));
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    response.flushHeaders();
    const streamed = stopReason ? [text] : pieces;
    for (const [index, piece] of streamed.entries()) {
      if (closed) return;
      if (state.fault === 'drop' && index === 2) {
        // Let the first events reach the client, then cut the connection.
        await new Promise((done) => setTimeout(done, 100));
        return void response.socket?.destroy();
      }
      response.write(`data: ${JSON.stringify(event(piece, null))}\n\n`);
      if (state.chunkDelayMs > 0) await new Promise((done) => setTimeout(done, state.chunkDelayMs));
    }
    if (closed) return;
    response.write(`data: ${JSON.stringify(event('', finish, stopReason))}\n\n`);
    response.end('data: [DONE]\n\n');
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) send(response, 500, { error: { message: String(error) } });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  return state;
}

/** LM logits of one sequence, fed as the host feeds them when it scores (empty past). */
async function lmLogits(model: LoadedModel, ids: number[]): Promise<Float32Array> {
  const extra: Record<string, Tensor> = {};
  const headDim = model.config.n_embd / model.config.n_head;
  for (const name of model.session.inputNames) {
    if (name.startsWith('past_key_values.')) {
      extra[name] = new Tensor('float32', new Float32Array(0), [
        1,
        model.config.n_head,
        0,
        headDim,
      ]);
    }
  }
  const outputs = await runPadded(model, [ids], extra, ['logits']);
  return outputs.logits.data as Float32Array;
}
