import { Tensor } from 'onnxruntime-node';
import { nextToken, samplingDefaults, seededRandom, stopStringEnd } from '../../heads/generation';
import type { FinishReason, GenerateResult, GenerationOptions } from '../../protocol';
import { exclusive } from '../inferenceQueue';
import { int64Tensor, requireFinite } from '../tensors';
import { CancelledError, HostError, type Cancellation } from '../errors';
import type { LoadedModel } from '../models/loadedModel';
import { generateRemote } from '../models/remote/openaiCompletions';
import { completionsFor } from '../models/remote/remoteModel';

/** Keys and values computed for `ids`, kept between requests to reuse a common prefix. */
interface KvCache {
  ids: number[];
  past: PastKeyValues;
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
  const remote = completionsFor(model);
  if (remote) return generateRemote(remote, request.prompt, request.options, token, onText);
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
  const cached = caches.get(model);
  const reused =
    cached && request.reuseCache !== false
      ? commonPrefix(cached.ids, contextIds, contextIds.length - 1)
      : 0;
  // The request owns the cache until it ends: a concurrent request starts from an empty one.
  caches.delete(model);
  const past =
    cached?.past ??
    (session.outputNames.includes('new_key_values.0.key')
      ? new AppendedPast(layers, config.n_head, headDim, maxContext)
      : new PresentPast(layers, config.n_head, headDim));
  past.truncate(reused);

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
    const logits = await step(model, pending, fed.length, past);
    fed.push(...pending);
    const next = nextToken(logits, fed, options, random);
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

/**
 * One forward pass over `ids` after `pastLength` cached tokens, which also appends their keys
 * and values to `past`; returns the logits of the last position.
 */
async function step(
  { session, source }: LoadedModel,
  ids: number[],
  pastLength: number,
  past: PastKeyValues,
): Promise<Float32Array> {
  const length = ids.length;
  const feeds: Record<string, Tensor> = {
    input_ids: int64Tensor([1, length], ids),
    attention_mask: int64Tensor(
      [1, pastLength + length],
      new Array<number>(pastLength + length).fill(1),
    ),
    ...past.feeds(),
  };
  if (session.inputNames.includes('position_ids')) {
    feeds.position_ids = int64Tensor(
      [1, length],
      ids.map((_, i) => pastLength + i),
    );
  }
  if (session.inputNames.includes('num_logits_to_keep')) {
    feeds.num_logits_to_keep = int64Tensor([], [1]);
  }
  const outputs = await exclusive(() => session.run(feeds, ['logits', ...past.fetches]));
  const logits = requireFinite(source, { logits: outputs.logits as Tensor }).logits;
  const vocab = logits.dims[logits.dims.length - 1];
  const positions = logits.dims[1];
  const data = logits.data as Float32Array;
  past.update(outputs as Record<string, Tensor>, length);
  return data.slice((positions - 1) * vocab, positions * vocab);
}

/** The cache as `past_key_values.{i}.key|value` feeds, [1, heads, length, headDim] each. */
interface PastKeyValues {
  readonly length: number;
  /** Outputs that `update` reads. */
  readonly fetches: string[];
  feeds(): Record<string, Tensor>;
  /** Takes in the outputs of a step over `added` new tokens. */
  update(outputs: Record<string, Tensor>, added: number): void;
  /** Keeps the first `length` positions. */
  truncate(length: number): void;
}

const kinds = ['key', 'value'] as const;

/** Optimum's graphs: each step's presents (past + new, copied out of onnxruntime) are the next past. */
class PresentPast implements PastKeyValues {
  readonly fetches: string[] = [];
  private past: Record<string, Tensor> = {};
  length = 0;

  constructor(
    private readonly layers: number,
    private readonly heads: number,
    private readonly headDim: number,
  ) {
    for (let layer = 0; layer < layers; layer++) {
      for (const kind of kinds) this.fetches.push(`present.${layer}.${kind}`);
    }
    this.truncate(0);
  }

  feeds(): Record<string, Tensor> {
    return this.past;
  }

  update(outputs: Record<string, Tensor>): void {
    for (let layer = 0; layer < this.layers; layer++) {
      for (const kind of kinds) {
        this.past[`past_key_values.${layer}.${kind}`] = outputs[`present.${layer}.${kind}`];
      }
    }
    this.length = this.past['past_key_values.0.key'].dims[2];
  }

  truncate(length: number): void {
    if (length === this.length && this.length > 0) return;
    const next: Record<string, Tensor> = {};
    for (let layer = 0; layer < this.layers; layer++) {
      for (const kind of kinds) {
        const name = `past_key_values.${layer}.${kind}`;
        const data = new Float32Array(this.heads * length * this.headDim);
        if (length > 0) {
          const source = this.past[name].data as Float32Array;
          for (let h = 0; h < this.heads; h++) {
            data.set(
              source.subarray(
                h * this.length * this.headDim,
                (h * this.length + length) * this.headDim,
              ),
              h * length * this.headDim,
            );
          }
        }
        next[name] = new Tensor('float32', data, [1, this.heads, length, this.headDim]);
      }
    }
    this.past = next;
    this.length = length;
  }
}

/**
 * Graphs with `new_key_values.{i}.*` outputs (buildGpt2Graph's): only the new tokens' keys and
 * values leave onnxruntime, and each layer's [1, heads, length, headDim] past is kept at the
 * front of a buffer sized for the whole context, which later requests reuse. Appending moves
 * each head's rows up in place: ~3 ms at 1,000 tokens for GPT-2 small, where copying the
 * presents out (fresh memory every step) took 30-300 ms.
 */
class AppendedPast implements PastKeyValues {
  readonly fetches: string[] = [];
  private readonly buffers: Float32Array[] = [];
  length = 0;

  constructor(
    private readonly layers: number,
    private readonly heads: number,
    private readonly headDim: number,
    capacity: number,
  ) {
    for (let layer = 0; layer < layers; layer++) {
      for (const kind of kinds) {
        this.fetches.push(`new_key_values.${layer}.${kind}`);
        this.buffers.push(new Float32Array(heads * capacity * headDim));
      }
    }
  }

  feeds(): Record<string, Tensor> {
    const feeds: Record<string, Tensor> = {};
    const size = this.heads * this.length * this.headDim;
    for (let layer = 0; layer < this.layers; layer++) {
      kinds.forEach((kind, k) => {
        feeds[`past_key_values.${layer}.${kind}`] = new Tensor(
          'float32',
          this.buffers[2 * layer + k].subarray(0, size),
          [1, this.heads, this.length, this.headDim],
        );
      });
    }
    return feeds;
  }

  update(outputs: Record<string, Tensor>, added: number): void {
    const { heads, headDim, length } = this;
    const total = length + added;
    const row = headDim;
    if (heads * total * row > this.buffers[0].length) {
      throw new HostError('The key/value cache is longer than the model context.');
    }
    this.fetches.forEach((name, i) => {
      const buffer = this.buffers[i];
      const fresh = outputs[name].data as Float32Array;
      // From the last head down, so that no head's rows are overwritten before they move.
      for (let h = heads - 1; h >= 0; h--) {
        if (h > 0)
          buffer.copyWithin(h * total * row, h * length * row, (h * length + length) * row);
        buffer.set(
          fresh.subarray(h * added * row, (h + 1) * added * row),
          (h * total + length) * row,
        );
      }
    });
    this.length = total;
  }

  truncate(length: number): void {
    const { heads, headDim } = this;
    if (length >= this.length) return;
    // From the first head up: every head moves down.
    for (const buffer of this.buffers) {
      for (let h = 1; h < heads; h++) {
        buffer.copyWithin(
          h * length * headDim,
          h * this.length * headDim,
          (h * this.length + length) * headDim,
        );
      }
    }
    this.length = length;
  }
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
