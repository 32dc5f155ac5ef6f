import { Tensor } from 'onnxruntime-node';
import type { InferenceSession } from 'onnxruntime-common';
import { nextToken, samplingDefaults, seededRandom, stopStringEnd } from '../heads/generation';
import type { FinishReason, GenerateResult, GenerationOptions } from '../protocol';
import { exclusive } from './inferenceQueue';
import { CancelledError, HostError, type Cancellation } from './errors';
import type { LoadedModel } from './registry';

/** Keys and values computed for `ids`, kept between requests to reuse a common prefix. */
interface KvCache {
  ids: number[];
  past: Record<string, Tensor>;
}

const caches = new WeakMap<LoadedModel, KvCache>();

export interface GenerateRequest {
  prompt: string;
  options: GenerationOptions;
  reuseCache?: boolean;
}

/**
 * Generation with the model's KV cache (GPT2LMHeadModel graphs with past_key_values inputs).
 * Each step feeds only the new tokens; a request whose prompt shares a token prefix with the
 * previous request's tokens starts from that prefix's cached keys and values.
 */
export async function generate(
  model: LoadedModel,
  request: GenerateRequest,
  token: Cancellation,
  onText: (text: string) => void = () => undefined,
): Promise<GenerateResult> {
  requireCausalLm(model);
  const { session, tokenizer, config } = model;
  const options = resolveOptions(model, request.options);
  const promptIds = tokenizer.encode(request.prompt);
  const maxContext = config.n_positions;
  // Keep room for the new tokens: the prompt is trimmed from the left on a token boundary.
  const keep = Math.max(1, maxContext - Math.min(options.max_new_tokens, maxContext - 1));
  const contextIds = promptIds.slice(-keep);
  if (contextIds.length === 0) {
    const bos = model.config.bos_token_id ?? model.config.eos_token_id;
    if (typeof bos !== 'number') throw new HostError('The prompt is empty.');
    contextIds.push(bos);
  }

  const layers = config.n_layer;
  const headDim = config.n_embd / config.n_head;
  const cached = request.reuseCache === false ? undefined : caches.get(model);
  const reused = cached ? commonPrefix(cached.ids, contextIds, contextIds.length - 1) : 0;
  let past =
    reused > 0 && cached
      ? slicePast(cached.past, reused)
      : emptyPast(layers, config.n_head, headDim);
  caches.delete(model);

  const fed = contextIds.slice(0, reused);
  let pending = contextIds.slice(reused);
  const generated: number[] = [];
  const random = seededRandom(options.seed ?? Date.now());
  const eos = new Set(eosIds(model));
  let finish: FinishReason = 'length';
  let emitted = '';
  let text = '';

  while (generated.length < options.max_new_tokens) {
    if (token.isCancellationRequested) {
      finish = 'cancelled';
      break;
    }
    if (fed.length + pending.length > maxContext) {
      finish = 'context_full';
      break;
    }
    const { logits, present } = await step(session, pending, fed.length, past, layers);
    past = present;
    fed.push(...pending);
    const next = nextToken(logits, [...fed], options, random);
    generated.push(next);
    if (eos.has(next)) {
      finish = 'eos';
      break;
    }
    text = tokenizer.decode(generated, { skip_special_tokens: true });
    const stopAt = stopStringEnd(text, options.stop_strings, emitted.length);
    if (stopAt >= 0) {
      text = text.slice(0, stopAt);
      finish = 'stop_string';
    }
    // Hold back a trailing partial character until its remaining bytes arrive.
    const ready = finish === 'stop_string' ? text : text.replace(/\uFFFD$/, '');
    if (ready.length > emitted.length && ready.startsWith(emitted)) {
      onText(ready.slice(emitted.length));
      emitted = ready;
    }
    if (finish === 'stop_string') break;
    pending = [next];
  }
  caches.set(model, { ids: fed, past });
  if (finish === 'cancelled' && generated.length === 0) throw new CancelledError();
  text =
    finish === 'stop_string' ? text : tokenizer.decode(generated, { skip_special_tokens: true });
  if (text.length > emitted.length && text.startsWith(emitted)) onText(text.slice(emitted.length));
  return {
    generated_text: request.prompt + text,
    new_text: text,
    new_token_ids: generated,
    finish_reason: finish,
    reused_tokens: reused,
    prompt_tokens: contextIds.length,
  };
}

/** One forward pass over `ids` after `pastLength` cached tokens; logits of the last position. */
async function step(
  session: InferenceSession,
  ids: number[],
  pastLength: number,
  past: Record<string, Tensor>,
  layers: number,
): Promise<{ logits: Float32Array; present: Record<string, Tensor> }> {
  const length = ids.length;
  const feeds: Record<string, Tensor> = {
    input_ids: int64(
      [1, length],
      ids.map((_, i) => ids[i]),
    ),
    attention_mask: int64([1, pastLength + length], new Array(pastLength + length).fill(1)),
  };
  if (session.inputNames.includes('position_ids')) {
    feeds.position_ids = int64(
      [1, length],
      ids.map((_, i) => pastLength + i),
    );
  }
  if (session.inputNames.includes('num_logits_to_keep')) {
    feeds.num_logits_to_keep = new Tensor('int64', BigInt64Array.from([1n]), []);
  }
  for (let layer = 0; layer < layers; layer++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_key_values.${layer}.${kind}`] = past[`${layer}.${kind}`];
    }
  }
  const outputs = await exclusive(() => session.run(feeds));
  const logits = outputs.logits as Tensor;
  const vocab = logits.dims[logits.dims.length - 1];
  const positions = logits.dims[1];
  const data = logits.data as Float32Array;
  const last = data.slice((positions - 1) * vocab, positions * vocab);
  const present: Record<string, Tensor> = {};
  for (let layer = 0; layer < layers; layer++) {
    for (const kind of ['key', 'value']) {
      present[`${layer}.${kind}`] = outputs[`present.${layer}.${kind}`] as Tensor;
    }
  }
  return { logits: last, present };
}

function requireCausalLm(model: LoadedModel): void {
  if (!model.session.inputNames.includes('past_key_values.0.key')) {
    throw new HostError(
      `"${model.source}" is a ${model.architecture} without a key/value cache, so it cannot ` +
        `generate text. Set "gpt2Heads.lm.model" to a GPT2LMHeadModel export with past_key_values ` +
        `(as transformers.js Hub repositories publish them) or to a safetensors checkpoint.`,
    );
  }
}

function resolveOptions(model: LoadedModel, options: GenerationOptions) {
  const defaults = model.generationConfig;
  const pick = <T>(key: keyof GenerationOptions & string, fallback: T): T =>
    (options[key] ?? (defaults[key] as T | undefined) ?? fallback) as T;
  const maxNew = pick('max_new_tokens', undefined as number | undefined) ?? 20;
  const resolved = {
    max_new_tokens: Math.max(0, Math.floor(maxNew)),
    do_sample: pick('do_sample', samplingDefaults.do_sample),
    temperature: pick('temperature', samplingDefaults.temperature),
    top_k: pick('top_k', samplingDefaults.top_k),
    top_p: pick('top_p', samplingDefaults.top_p),
    repetition_penalty: pick('repetition_penalty', samplingDefaults.repetition_penalty),
    stop_strings: options.stop_strings ?? (defaults.stop_strings as string[] | undefined) ?? [],
    seed: options.seed,
  };
  if (resolved.do_sample && !(resolved.temperature > 0)) {
    throw new HostError('temperature must be greater than 0 when sampling.');
  }
  if (resolved.top_p <= 0 || resolved.top_p > 1) {
    throw new HostError('top_p must be greater than 0 and at most 1.');
  }
  if (resolved.repetition_penalty <= 0) {
    throw new HostError('repetition_penalty must be greater than 0.');
  }
  return resolved;
}

function eosIds(model: LoadedModel): number[] {
  const value = model.generationConfig.eos_token_id ?? model.config.eos_token_id;
  if (Array.isArray(value)) return value.filter((id): id is number => typeof id === 'number');
  return typeof value === 'number' ? [value] : [];
}

function commonPrefix(a: readonly number[], b: readonly number[], limit: number): number {
  let n = 0;
  while (n < limit && n < a.length && n < b.length && a[n] === b[n]) n++;
  return n;
}

function emptyPast(layers: number, heads: number, headDim: number): Record<string, Tensor> {
  const past: Record<string, Tensor> = {};
  for (let layer = 0; layer < layers; layer++) {
    for (const kind of ['key', 'value']) {
      past[`${layer}.${kind}`] = new Tensor('float32', new Float32Array(0), [1, heads, 0, headDim]);
    }
  }
  return past;
}

/** The first `length` positions of each cached [1, heads, past, headDim] tensor. */
function slicePast(past: Record<string, Tensor>, length: number): Record<string, Tensor> {
  const sliced: Record<string, Tensor> = {};
  for (const [name, tensor] of Object.entries(past)) {
    const [, heads, total, headDim] = tensor.dims;
    const source = tensor.data as Float32Array;
    const data = new Float32Array(heads * length * headDim);
    for (let h = 0; h < heads; h++) {
      data.set(
        source.subarray(h * total * headDim, (h * total + length) * headDim),
        h * length * headDim,
      );
    }
    sliced[name] = new Tensor('float32', data, [1, heads, length, headDim]);
  }
  return sliced;
}

function int64(dims: number[], values: number[]): Tensor {
  return new Tensor(
    'int64',
    BigInt64Array.from(values, (v) => BigInt(v)),
    dims,
  );
}
