import type { Tensor } from 'onnxruntime-node';
import {
  answerQuestion,
  type QuestionAnswer,
  type QuestionAnsweringOptions,
} from '../../heads/questionAnswering';
import {
  contextWordIds,
  defaultDocStride,
  defaultMaxSeqLen,
  questionWindows,
} from '../../text/questionWindows';
import { errorCodes, type AnswerParams, type AnswerResult } from '../../protocol';
import { HostError, throwIfCancelled, type Cancellation } from '../errors';
import type { LoadedModel } from '../models/loadedModel';
import { encode, requireArchitecture, runPadded } from './run';

export interface AnswerOptions extends QuestionAnsweringOptions {
  doc_stride?: number;
  max_seq_len?: number;
}

/**
 * transformers 4.x's question-answering pipeline for GPT2ForQuestionAnswering: the question's
 * tokens then a window of the context's, windows every doc_stride, spans scored, merged, ranked.
 */
export async function answer(
  model: LoadedModel,
  question: string,
  context: string,
  options: AnswerOptions,
  token: Cancellation,
): Promise<QuestionAnswer[]> {
  requireArchitecture(
    model,
    'GPT2ForQuestionAnswering',
    'question-answering',
    'Set "gpt2Heads.qa.model" to such a model.',
  );
  if (question.trim() === '') throw new HostError('The question is empty.', errorCodes.badInput);
  if (context.trim() === '')
    throw new HostError('There is no context to find the answer in.', errorCodes.badInput);
  const q = encode(model, question);
  const c = encode(model, context);
  const maxSeqLen = options.max_seq_len ?? defaultMaxSeqLen(model.config.n_positions);
  if (q.ids.length >= maxSeqLen - 1) {
    throw new HostError(
      `The question is ${q.ids.length} tokens long; it must leave room for the context in the ` +
        `model's ${maxSeqLen}-token window. Ask a shorter question.`,
      errorCodes.badInput,
    );
  }
  // HF's default doc_stride, unless it does not fit beside a long question (HF then fails):
  // then half the room the question leaves. An explicit doc_stride is kept as set.
  const room = maxSeqLen - q.ids.length;
  const preferredStride = defaultDocStride(maxSeqLen);
  const docStride =
    options.doc_stride ?? (preferredStride < room ? preferredStride : Math.floor(room / 2));
  let spans;
  try {
    spans = questionWindows(
      { ids: q.ids, offsets: q.offsets },
      { ids: c.ids, offsets: c.offsets, wordIds: contextWordIds(context, c.offsets) },
      { max_seq_len: maxSeqLen, doc_stride: docStride },
    );
  } catch (error) {
    throw new HostError(
      `The question cannot be asked this way: ${(error as Error).message}`,
      errorCodes.badInput,
    );
  }
  const logits = [];
  for (const span of spans) {
    throwIfCancelled(token);
    const outputs = await runPadded(model, [span.input_ids]);
    const start = outputs.start_logits as Tensor | undefined;
    const end = outputs.end_logits as Tensor | undefined;
    if (!start || !end)
      throw new HostError(`"${model.source}" has no start_logits/end_logits outputs.`);
    logits.push({ start_logits: start.data as Float32Array, end_logits: end.data as Float32Array });
    token.report?.(logits.length, spans.length);
  }
  try {
    return answerQuestion(context, spans, logits, options);
  } catch (error) {
    throw new HostError((error as Error).message);
  }
}

/** An answer request: the answers to the question over the context, and the model that gave them. */
export async function answerRequest(
  model: LoadedModel,
  params: AnswerParams,
  token: Cancellation,
): Promise<AnswerResult> {
  return {
    answers: await answer(model, params.question, params.context, params, token),
    model: model.source,
  };
}
