import { Tensor } from 'onnxruntime-node';
import {
  doubleHeadsInputs,
  doubleHeadsScores,
  lmChoiceScores,
  rankChoices,
} from '../../heads/multipleChoice';
import { scoreContinuations } from './classification';
import { errorCodes, type ChooseParams, type ChooseResult } from '../../protocol';
import { exclusive } from '../inferenceQueue';
import { HostError, type Cancellation } from '../errors';
import type { LoadedModel } from '../models/loadedModel';
import { int64Tensor, requireFinite } from '../tensors';

// Options are continuations of the context as given: a caller that parsed them from lines adds
// the leading space GPT-2 words carry (optionAsContinuation).

/** A choose request's result before the model's name is added. */
export type ChoiceResult = Omit<ChooseResult, 'model'>;

function checkOptions(options: readonly string[]): void {
  if (options.length < 2) {
    throw new HostError(
      `Multiple choice needs at least two options (found ${options.length}). Put each option on ` +
        `its own line after the question, e.g. "A) …", "1. …" or "- …".`,
      errorCodes.badInput,
    );
  }
}

/** GPT2DoubleHeadsModel: mc_logits at each choice's last token, softmax over the choices. */
export async function chooseWithDoubleHeads(
  model: LoadedModel,
  context: string,
  options: readonly string[],
): Promise<ChoiceResult> {
  checkOptions(options);
  if (!model.session.inputNames.includes('mc_token_ids')) {
    throw new HostError(
      `"${model.source}" is a ${model.architecture}, not a GPT2DoubleHeadsModel. Set ` +
        `"gpt2Heads.multipleChoice.model" to such a model, or leave it empty to score options with the LM.`,
    );
  }
  const context_length = model.config.n_positions;
  const optionLengths = options.map(
    (option) => model.tokenizer.encode(option, { add_special_tokens: false }).length,
  );
  const tooLong = optionLengths.findIndex((length) => length >= context_length);
  if (tooLong >= 0) {
    throw new HostError(
      `Option ${tooLong + 1} is ${optionLengths[tooLong]} tokens long, more than the model's ` +
        `${context_length}-token context. Shorten the option.`,
      errorCodes.badInput,
    );
  }
  // A question too long for the context loses its start, as with the language model: the
  // options and the end of the question are what the choice depends on.
  const rows = options.map((option) =>
    model.tokenizer.encode(context + option, { add_special_tokens: false }).slice(-context_length),
  );
  const empty = rows.findIndex((row) => row.length === 0);
  if (empty >= 0) {
    throw new HostError(
      `Option ${empty + 1} is empty and so is the question: there is nothing to score.`,
      errorCodes.badInput,
    );
  }
  const pad = model.config.pad_token_id ?? model.config.eos_token_id ?? 0;
  const inputs = doubleHeadsInputs(rows, pad);
  const width = inputs.input_ids[0].length;
  const outputs = requireFinite(
    model.source,
    (await exclusive(() =>
      model.session.run(
        {
          input_ids: int64Tensor([1, rows.length, width], inputs.input_ids.flat()),
          attention_mask: int64Tensor([1, rows.length, width], inputs.attention_mask.flat()),
          mc_token_ids: int64Tensor([1, rows.length], inputs.mc_token_ids),
        } as Record<string, Tensor>,
        // Only the choice scores: the LM logits beside them cost most of the run and are unused.
        ['mc_logits'],
      ),
    )) as Record<string, Tensor>,
  );
  const mcLogits = Array.from((outputs.mc_logits as Tensor).data as Float32Array);
  return { ranked: rankChoices(options, doubleHeadsScores(mcLogits)), method: 'double-heads' };
}

/** Without a double-heads model: each option's mean log-likelihood after the context. */
export async function chooseWithLanguageModel(
  model: LoadedModel,
  context: string,
  options: readonly string[],
  token: Cancellation,
): Promise<ChoiceResult> {
  checkOptions(options);
  const scores = await scoreContinuations(model, context, options, token);
  return { ranked: rankChoices(options, lmChoiceScores(scores, 'mean')), method: 'language-model' };
}

/**
 * A choose request: the double-heads model's mc_logits, or the LM's log-likelihoods; which one
 * is the caller's choice (by the configured role), and by default the model's architecture.
 */
export async function chooseRequest(
  model: LoadedModel,
  params: ChooseParams,
  token: Cancellation,
  method: ChoiceResult['method'] = model.architecture === 'GPT2DoubleHeadsModel'
    ? 'double-heads'
    : 'language-model',
): Promise<ChooseResult> {
  const result =
    method === 'double-heads'
      ? await chooseWithDoubleHeads(model, params.context, params.options)
      : await chooseWithLanguageModel(model, params.context, params.options, token);
  return { ...result, model: model.source };
}
