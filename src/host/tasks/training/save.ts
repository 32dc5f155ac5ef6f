// The trained head as a Hugging Face model folder, what save_pretrained would write for
// GPT2ForTokenClassification (classifier.weight, classifier.bias) or GPT2ForSequenceClassification
// (score.weight, no bias): config.json with id2label/label2id, the backbone's tokenizer files,
// model.safetensors with the backbone under `transformer.` and the head, and training_report.json.
// Everything goes into a temporary sibling folder that is renamed into place last.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  renameSync,
  rmdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { LinearHead } from '../../../heads/linearProbe';
import type { TrainingReport } from '../../../protocol';
import { writeSafetensors } from '../../convert/safetensors';
import type { WeightTensor } from '../../convert/gpt2Graph';
import { throwIfCancelled, type Cancellation } from '../../errors';
import type { Backbone } from './backbone';
import { tokenizerFileNames } from '../../convert/tokenizerFiles';

const tokenizerFiles = tokenizerFileNames;

export function headConfig(backbone: Backbone, report: TrainingReport): Record<string, unknown> {
  const config: Record<string, unknown> = { ...backbone.config };
  delete config.num_labels;
  delete config.task_specific_params;
  delete config._name_or_path;
  const id2label = Object.fromEntries(report.labels.map((label, i) => [String(i), label]));
  const label2id = Object.fromEntries(report.labels.map((label, i) => [label, i]));
  return {
    ...config,
    architectures: [report.architecture],
    model_type: 'gpt2',
    id2label,
    label2id,
    // GPT-2 has no pad token; pooling and batches need one (the usual choice: end-of-text).
    pad_token_id: backbone.padTokenId,
    ...(report.architecture === 'GPT2ForSequenceClassification'
      ? { problem_type: 'single_label_classification' }
      : {}),
  };
}

export function headTensors(backbone: Backbone, head: LinearHead, report: TrainingReport) {
  const tensors = new Map<string, WeightTensor>(backbone.tensors);
  const prefix = report.architecture === 'GPT2ForTokenClassification' ? 'classifier' : 'score';
  tensors.set(`${prefix}.weight`, { shape: [head.labels, head.dim], data: head.weight });
  if (prefix === 'classifier' && head.bias) {
    tensors.set('classifier.bias', { shape: [head.labels], data: head.bias });
  }
  return tensors;
}

export async function writeModelFolder(
  out: string,
  backbone: Backbone,
  head: LinearHead,
  report: TrainingReport,
  token: Cancellation,
): Promise<void> {
  const partial = join(dirname(out), `.${basename(out)}.partial-${process.pid}-${Date.now()}`);
  try {
    mkdirSync(partial, { recursive: true });
    writeFileSync(
      join(partial, 'config.json'),
      JSON.stringify(headConfig(backbone, report), null, 2) + '\n',
    );
    for (const name of tokenizerFiles) {
      const file = join(backbone.folder, name);
      if (existsSync(file)) copyFileSync(file, join(partial, name));
    }
    writeSafetensors(join(partial, 'model.safetensors'), headTensors(backbone, head, report), {
      format: 'pt',
    });
    writeFileSync(join(partial, 'training_report.json'), JSON.stringify(report, null, 2) + '\n');
    throwIfCancelled(token);
    // An empty folder the user picked is replaced; a non-empty one was refused before training.
    if (existsSync(out)) rmdirSync(out);
    renameSync(partial, out);
  } finally {
    rmSync(partial, { recursive: true, force: true });
  }
}
