// The language model on a server with an OpenAI-compatible completions API (vLLM, llama.cpp
// server, Ollama, LM Studio, TGI): `POST {base}/completions`, streamed as server-sent events.
// Deliberate differences from local generation:
// - greedy decoding is sent as temperature 0 (these servers sample at 1.0 when it is absent);
// - top_k and repetition_penalty are not part of the API and are not sent;
// - a stop string is kept at the end of the text, as Hugging Face's stop_strings keeps it, when
//   the server says which one matched (vLLM's stop_reason); otherwise the text ends before it;
// - new_token_ids is empty: the API streams text, not ids.
import type { FinishReason, GenerateResult, GenerationOptions } from '../../../protocol';
import { CancelledError, HostError, type Cancellation } from '../../errors';
import type { ContinuationScore } from '../../../heads/lmScoring';
import { EndpointError, type HttpEndpoint } from './http';

export interface CompletionsEndpoint {
  /** Base URL, e.g. http://vllm:8000/v1 (…/completions is appended). */
  url: string;
  /** The name the server knows the model by ("model" in the request). */
  model: string;
  http: HttpEndpoint;
}

interface CompletionChoice {
  index?: number;
  text?: string;
  finish_reason?: string | null;
  stop_reason?: string | number | null;
  logprobs?: {
    tokens?: string[];
    token_logprobs?: (number | null)[];
    text_offset?: number[];
  } | null;
}

interface CompletionResponse {
  choices?: CompletionChoice[];
  error?: { message?: string } | string;
}

export function completionsUrl(base: string): string {
  return `${base.replace(/\/+$/, '')}/completions`;
}

/** The request body: greedy decoding as temperature 0, sampling parameters only when sampling. */
export function completionRequest(
  model: string,
  prompt: string,
  options: GenerationOptions,
  stream: boolean,
): Record<string, unknown> {
  const sampling = options.do_sample === true;
  return {
    model,
    prompt,
    max_tokens: options.max_new_tokens ?? 20,
    temperature: sampling ? (options.temperature ?? 1) : 0,
    ...(sampling && options.top_p !== undefined ? { top_p: options.top_p } : {}),
    ...(options.stop_strings?.length ? { stop: options.stop_strings.slice(0, 4) } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    stream,
  };
}

function cancellationSignal(token: Cancellation): { signal: AbortSignal; dispose(): void } {
  const abort = new AbortController();
  const withEvent = token as { onCancellationRequested?: (listener: () => void) => unknown };
  const subscription = withEvent.onCancellationRequested?.(() => abort.abort()) as
    { dispose(): void } | undefined;
  // Tokens without an event (the CLI's) are polled.
  const timer = subscription
    ? undefined
    : setInterval(() => token.isCancellationRequested && abort.abort(), 50);
  if (token.isCancellationRequested) abort.abort();
  return {
    signal: abort.signal,
    dispose: () => {
      subscription?.dispose();
      if (timer) clearInterval(timer);
    },
  };
}

/** Streams a completion; `onText` gets each piece; cancelling closes the stream. */
export async function generateRemote(
  endpoint: CompletionsEndpoint,
  prompt: string,
  options: GenerationOptions,
  token: Cancellation,
  onText: (text: string) => void = () => undefined,
): Promise<GenerateResult> {
  if (options.do_sample && !((options.temperature ?? 1) > 0)) {
    throw new HostError('temperature must be greater than 0 when sampling.');
  }
  const url = completionsUrl(endpoint.url);
  const cancel = cancellationSignal(token);
  let text = '';
  let finish: FinishReason | undefined;
  let stopString: string | undefined;
  try {
    await endpoint.http.stream(
      url,
      completionRequest(endpoint.model, prompt, options, true),
      cancel.signal,
      async (response) => {
        const body = response.body;
        if (!body) throw new EndpointError(`${url} answered without a body.`);
        const decoder = new TextDecoder();
        let buffer = '';
        let done = false;
        const dropped = () =>
          new EndpointError(
            `The stream from ${url} ended before the completion finished ` +
              `(${text.length} characters arrived). The server stopped or the connection ` +
              `dropped; try again.`,
          );
        const chunks = (async function* () {
          try {
            yield* body as unknown as AsyncIterable<Uint8Array>;
          } catch (error) {
            if (cancel.signal.aborted) throw new CancelledError();
            throw error instanceof EndpointError ? error : dropped();
          }
        })();
        for await (const chunk of chunks) {
          buffer += decoder.decode(chunk, { stream: true });
          let end: number;
          while ((end = buffer.search(/\r?\n\r?\n/)) >= 0) {
            const event = buffer.slice(0, end);
            buffer = buffer.slice(end).replace(/^\r?\n\r?\n/, '');
            const data = event
              .split(/\r?\n/)
              .filter((line) => line.startsWith('data:'))
              .map((line) => line.slice(5).trimStart())
              .join('\n');
            if (!data) continue;
            if (data === '[DONE]') {
              done = true;
              break;
            }
            const parsed = parseEvent(data, url);
            const choice = parsed.choices?.[0];
            if (!choice) continue;
            if (choice.text) {
              text += choice.text;
              onText(choice.text);
            }
            if (choice.finish_reason) {
              finish = choice.finish_reason === 'length' ? 'length' : 'eos';
              if (typeof choice.stop_reason === 'string') stopString = choice.stop_reason;
            }
          }
          if (done) break;
        }
        if (!done && !finish) throw dropped();
      },
    );
  } catch (error) {
    if (cancel.signal.aborted || error instanceof CancelledError) {
      if (text === '') throw new CancelledError();
      finish = 'cancelled';
    } else throw error;
  } finally {
    cancel.dispose();
  }
  if (stopString !== undefined && options.stop_strings?.includes(stopString)) {
    text += stopString;
    onText(stopString);
    finish = 'stop_string';
  }
  return {
    generated_text: prompt + text,
    new_text: text,
    new_token_ids: [],
    finish_reason: finish ?? 'length',
    reused_tokens: 0,
    prompt_tokens: 0,
  };
}

function parseEvent(data: string, url: string): CompletionResponse {
  let parsed: CompletionResponse;
  try {
    parsed = JSON.parse(data) as CompletionResponse;
  } catch {
    throw new EndpointError(
      `${url} streamed an event that is not JSON (${JSON.stringify(data.slice(0, 60))}): ` +
        `it is not an OpenAI-compatible completions server.`,
    );
  }
  if (parsed?.error) {
    const message = typeof parsed.error === 'string' ? parsed.error : parsed.error.message;
    throw new EndpointError(`${url} reported an error: ${message ?? 'unknown'}`);
  }
  return parsed;
}

/**
 * Log-likelihood of each continuation after the context, from the server's prompt log-probs
 * (`echo` + `logprobs`): the same mean token log-probability the local LM scoring computes.
 * Servers without echo (llama.cpp server, Ollama, OpenAI's newer models) get a clear error.
 */
export async function scoreRemote(
  endpoint: CompletionsEndpoint,
  context: string,
  continuations: readonly string[],
  token: Cancellation,
): Promise<ContinuationScore[]> {
  const url = completionsUrl(endpoint.url);
  const cancel = cancellationSignal(token);
  let response: CompletionResponse;
  try {
    response = await endpoint.http.json<CompletionResponse>(
      url,
      {
        model: endpoint.model,
        prompt: continuations.map((continuation) => context + continuation),
        max_tokens: 1,
        temperature: 0,
        echo: true,
        logprobs: 1,
      },
      cancel.signal,
    );
  } catch (error) {
    if (cancel.signal.aborted) throw new CancelledError();
    throw error;
  } finally {
    cancel.dispose();
  }
  const unsupported = new EndpointError(
    `${url} does not return the log-probabilities of the prompt (echo + logprobs), which ` +
      `zero-shot classification and LM-scored multiple choice need. vLLM returns them; ` +
      `llama.cpp server and Ollama do not. Clear "gpt2Heads.lm.endpoint" to score with the ` +
      `local language model.`,
  );
  const choices = response?.choices;
  if (!Array.isArray(choices) || choices.length !== continuations.length) throw unsupported;
  return continuations.map((continuation, i) => {
    const choice = choices.find((c) => c.index === i) ?? choices[i];
    const logprobs = choice.logprobs;
    const offsets = logprobs?.text_offset;
    const values = logprobs?.token_logprobs;
    if (!Array.isArray(offsets) || !Array.isArray(values) || offsets.length !== values.length) {
      throw unsupported;
    }
    // text_offset counts characters as Python does (code points), not UTF-16 units.
    const contextEnd = [...context].length;
    const promptEnd = contextEnd + [...continuation].length;
    const tokenLogProbs: number[] = [];
    offsets.forEach((offset, t) => {
      if (offset >= contextEnd && offset < promptEnd) {
        const value = values[t];
        if (typeof value !== 'number') throw unsupported;
        tokenLogProbs.push(value);
      }
    });
    if (tokenLogProbs.length === 0) {
      throw new HostError(`Option ${i + 1} is empty: there is nothing to score.`);
    }
    const sum = tokenLogProbs.reduce((a, b) => a + b, 0);
    return {
      token_log_probs: tokenLogProbs,
      sum_log_prob: sum,
      n_tokens: tokenLogProbs.length,
      mean_log_prob: sum / tokenLogProbs.length,
    };
  });
}
