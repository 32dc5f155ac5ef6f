import type { Tensor } from 'onnxruntime-node';
import { HostError } from '../errors';
import type { LoadedModel } from '../models/loadedModel';
import { runPadded } from './run';

/** GPT2Model's last_hidden_state [1, tokens, n_embd] for a text (HF's feature-extraction). */
export async function hiddenStates(
  model: LoadedModel,
  text: string,
): Promise<{ shape: number[]; values: Float32Array }> {
  if (!model.session.outputNames.includes('last_hidden_state')) {
    throw new HostError(
      `"${model.source}" is a ${model.architecture} without a last_hidden_state output; ` +
        `feature extraction needs a GPT2Model export.`,
    );
  }
  const ids = model.tokenizer
    .encode(text, { add_special_tokens: false })
    .slice(0, model.config.n_positions);
  if (ids.length === 0) throw new HostError('There is no text to extract features from.');
  const outputs = await runPadded(model, [ids]);
  const states = outputs.last_hidden_state as Tensor;
  return { shape: [...states.dims], values: states.data as Float32Array };
}
