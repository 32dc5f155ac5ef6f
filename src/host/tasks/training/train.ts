// Training a head: read the labelled files, compute the frozen backbone's features once, fit a
// linear probe with early stopping on the validation score, evaluate it against the
// majority-label baseline, and save a Hugging Face model folder (backbone + head, config,
// tokenizer, training_report.json). The folder is written under a temporary name and renamed
// into place at the end, so a cancelled or failed run leaves nothing behind.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import {
  cpuEngine,
  defaultProbeOptions,
  defaultsFor,
  splitIndices,
  trainProbe,
  type ProbeOptions,
} from '../../../heads/linearProbe';
import {
  evaluate,
  isIobLabelSet,
  majorityLabel,
  validationScore,
  type Evaluation,
} from '../../../heads/trainingMetrics';
import type { TrainParams, TrainProgress, TrainResult, TrainingReport } from '../../../protocol';
import { errorCodes } from '../../../protocol';
import {
  LabelledDataError,
  parseLabelledData,
  type LabelledData,
  type TextExample,
  type WordsExample,
} from '../../../text/labelledData';
import { alignWords } from '../../../text/wordTokens';
import { HostError, throwIfCancelled, type Cancellation } from '../../errors';
import { encodeIds, openBackbone, type Backbone, type BackboneSettings } from './backbone';
import { extractFeatures, readDim, textWindows, wordWindows } from './features';
import { onnxProbeEngine } from './probeEngine';
import { writeModelFolder } from './save';

export const validationFraction = 0.1;

/**
 * Labels in a stable order: ids (labels that are all integers) by value; otherwise O first, then
 * by entity type with B- before I-, else by name.
 */
export function orderLabels(labels: Iterable<string>): string[] {
  const unique = [...new Set(labels)];
  if (unique.every((label) => /^\d+$/.test(label))) {
    return unique.sort((a, b) => Number(a) - Number(b));
  }
  const key = (label: string) => {
    const iob = /^([BI])-(.+)$/.exec(label);
    return iob ? `${iob[2]}\u0000${iob[1]}` : label;
  };
  return unique.sort((a, b) => {
    if (a === 'O' || b === 'O') return a === 'O' ? (b === 'O' ? 0 : -1) : 1;
    const [ka, kb] = [key(a), key(b)];
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}

/** Label names of a Hugging Face `save_to_disk` dataset (dataset_info.json beside the file). */
function datasetInfoLabelNames(file: string, field: string | undefined): string[] | undefined {
  const info = join(dirname(file), 'dataset_info.json');
  if (!existsSync(info)) return undefined;
  try {
    const features = (
      JSON.parse(readFileSync(info, 'utf8')) as {
        features?: Record<string, { names?: string[]; feature?: { names?: string[] } }>;
      }
    ).features;
    if (!features) return undefined;
    const fields = field ? [field] : ['ner_tags', 'tags', 'labels', 'upos', 'pos_tags', 'label'];
    for (const name of fields) {
      const names = features[name]?.names ?? features[name]?.feature?.names;
      if (names) return names;
    }
  } catch {
    return undefined;
  }
  return undefined;
}

export function readLabelledFile(
  file: string,
  params: Pick<TrainParams, 'format' | 'labelColumn' | 'labelNames'>,
): LabelledData {
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new HostError(`The data file "${file}" does not exist.`, errorCodes.badInput);
  }
  try {
    return parseLabelledData(readFileSync(file, 'utf8'), {
      file,
      format: params.format,
      labelColumn: params.labelColumn,
      labelNames: params.labelNames ?? datasetInfoLabelNames(file, params.labelColumn),
    });
  } catch (error) {
    if (error instanceof LabelledDataError) throw new HostError(error.message, errorCodes.badInput);
    throw error;
  }
}

function requireKind(data: LabelledData, params: TrainParams, file: string): void {
  const wanted = params.task === 'token-classification' ? 'words' : 'text';
  if (data.kind !== wanted) {
    throw new HostError(
      data.kind === 'words'
        ? `"${file}" holds labelled words (token classification) but the task is text classification.`
        : `"${file}" holds labelled texts (text classification) but the task is token classification.`,
      errorCodes.badInput,
    );
  }
}

/** The output folder must be new or empty: training never overwrites a model. */
function checkOutput(out: string): string {
  const folder = resolve(out);
  if (existsSync(folder)) {
    if (!statSync(folder).isDirectory()) {
      throw new HostError(
        `"${out}" is a file; choose a new folder for the model.`,
        errorCodes.badInput,
      );
    }
    if (readdirSync(folder).length > 0) {
      throw new HostError(
        `"${out}" is not empty; choose a new or empty folder for the model.`,
        errorCodes.badInput,
      );
    }
  }
  if (!existsSync(dirname(folder))) {
    throw new HostError(`The folder "${dirname(folder)}" does not exist.`, errorCodes.badInput);
  }
  return folder;
}

function probeOptions(params: TrainParams, bias: boolean): ProbeOptions {
  const positive = (value: number | undefined, name: string, integer = false) => {
    if (value === undefined) return undefined;
    if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      throw new HostError(
        `${name} must be a positive ${integer ? 'integer' : 'number'} (got ${value}).`,
        errorCodes.badInput,
      );
    }
    return value;
  };
  if (params.l2 !== undefined && !(Number.isFinite(params.l2) && params.l2 >= 0)) {
    throw new HostError(`l2 must be 0 or more (got ${params.l2}).`, errorCodes.badInput);
  }
  if (params.seed !== undefined && !Number.isInteger(params.seed)) {
    throw new HostError(`seed must be an integer (got ${params.seed}).`, errorCodes.badInput);
  }
  return {
    ...defaultProbeOptions,
    optimizer: params.optimizer ?? defaultProbeOptions.optimizer,
    epochs: positive(params.epochs, 'epochs', true) ?? defaultProbeOptions.epochs,
    learningRate:
      positive(params.learningRate, 'learning rate') ?? defaultProbeOptions.learningRate,
    batchSize: positive(params.batchSize, 'batch size', true) ?? defaultProbeOptions.batchSize,
    l2: params.l2 ?? defaultProbeOptions.l2,
    classWeights: params.classWeights ?? 'none',
    seed: params.seed ?? defaultProbeOptions.seed,
    bias,
  };
}

interface Prepared {
  labels: string[];
  /** Gold label id per row, all examples (train then validation file). */
  targets: Int32Array;
  /** Rows of each example. */
  exampleRows: number[][];
  windows: ReturnType<typeof wordWindows>;
}

function prepareWords(backbone: Backbone, examples: WordsExample[], labels: string[]): Prepared {
  const index = new Map(labels.map((label, i) => [label, i]));
  const aligned = examples.map((example) =>
    alignWords(example.words, (text) => encodeIds(backbone, text)),
  );
  const targets = Int32Array.from(examples.flatMap((e) => e.labels.map((l) => index.get(l)!)));
  let row = 0;
  const exampleRows = examples.map((e) => e.words.map(() => row++));
  const maxLength = backbone.config.n_positions as number;
  return { labels, targets, exampleRows, windows: wordWindows(aligned, maxLength) };
}

function prepareTexts(backbone: Backbone, examples: TextExample[], labels: string[]): Prepared {
  const index = new Map(labels.map((label, i) => [label, i]));
  const ids = examples.map((example) => encodeIds(backbone, example.text));
  examples.forEach((example, i) => {
    if (ids[i].length === 0) {
      throw new HostError(
        `line ${example.line}: the text encodes to no tokens.`,
        errorCodes.badInput,
      );
    }
  });
  const maxLength = backbone.config.n_positions as number;
  return {
    labels,
    targets: Int32Array.from(examples.map((e) => index.get(e.label)!)),
    exampleRows: examples.map((_, i) => [i]),
    windows: textWindows(ids, maxLength, backbone.padTokenId),
  };
}

export interface TrainOutcome extends TrainResult {
  validationPredictions: string[][];
}

export async function trainHead(
  params: TrainParams,
  settings: BackboneSettings,
  token: Cancellation,
  report: (progress: TrainProgress) => void = () => undefined,
): Promise<TrainOutcome> {
  const out = checkOutput(params.out);
  const trainData = readLabelledFile(params.train, params);
  requireKind(trainData, params, params.train);
  const validationData = params.validation
    ? readLabelledFile(params.validation, params)
    : undefined;
  if (validationData) requireKind(validationData, params, params.validation!);
  const isWords = trainData.kind === 'words';
  const labelsOf = (data: LabelledData) =>
    data.kind === 'words'
      ? data.examples.flatMap((e) => e.labels)
      : data.examples.map((e) => e.label);
  const labels =
    params.labelNames ??
    trainData.labelNames ??
    orderLabels([...labelsOf(trainData), ...(validationData ? labelsOf(validationData) : [])]);
  if (labels.length < 2) {
    throw new HostError(
      `"${params.train}" has only one label (${labels[0]}); a classifier needs at least two.`,
      errorCodes.badInput,
    );
  }
  const options = probeOptions(params, isWords);

  const abort = new AbortController();
  const abortWatch = setInterval(() => {
    if (token.isCancellationRequested) abort.abort();
  }, 100);
  let backbone: Backbone | undefined;
  try {
    report({ phase: 'loading', message: `Loading the backbone ${params.model}…` });
    backbone = await openBackbone(params.model, settings, abort.signal, (message) =>
      report({ phase: 'loading', message }),
    );
    throwIfCancelled(token);
    const examples = [...trainData.examples, ...(validationData?.examples ?? [])] as (
      WordsExample | TextExample
    )[];
    const prepared = isWords
      ? prepareWords(backbone, examples as WordsExample[], labels)
      : prepareTexts(backbone, examples as TextExample[], labels);

    const featureStart = performance.now();
    const { features, cached } = await extractFeatures(
      backbone,
      prepared.windows.windows,
      prepared.windows.rows,
      token,
      (p) =>
        report({
          phase: 'features',
          message: `Features: ${p.tokens.toLocaleString('en')} of ${p.totalTokens.toLocaleString('en')} tokens, ${Math.round(p.tokensPerSecond).toLocaleString('en')} tokens/s, ${Math.ceil(p.etaSeconds)} s left`,
          percent: (100 * p.tokens) / Math.max(1, p.totalTokens),
          tokensPerSecond: p.tokensPerSecond,
          etaSeconds: p.etaSeconds,
        }),
      { dir: settings.cacheDir ? join(settings.cacheDir, 'training-features') : undefined },
    );
    const featureSeconds = (performance.now() - featureStart) / 1000;
    const tokens = prepared.windows.windows.reduce((sum, w) => sum + w.ids.length, 0);
    throwIfCancelled(token);

    const trainCount = trainData.examples.length;
    const split = validationData
      ? {
          train: Array.from({ length: trainCount }, (_, i) => i),
          validation: Array.from(
            { length: validationData.examples.length },
            (_, i) => trainCount + i,
          ),
        }
      : splitIndices(trainCount, validationFraction, options.seed);
    const rowsOf = (exampleIndices: number[]) =>
      Int32Array.from(exampleIndices.flatMap((i) => prepared.exampleRows[i]));
    const trainRows = rowsOf(split.train);
    const validationRows = rowsOf(split.validation);
    const automatic = defaultsFor(trainRows.length);
    options.optimizer = params.optimizer ?? automatic.optimizer;
    options.batchSize = params.batchSize ?? automatic.batchSize;
    const sentenceLengths = isWords
      ? split.validation.map((i) => prepared.exampleRows[i].length)
      : undefined;
    const gold = Int32Array.from(validationRows, (row) => prepared.targets[row]);
    const evaluateOn = (predicted: Int32Array): Evaluation =>
      evaluate(gold, predicted, labels, sentenceLengths);

    const dim = readDim(backbone);
    const onnxEngine = await onnxProbeEngine(labels.length, dim, settings.threads);
    const trainingStart = performance.now();
    let result;
    try {
      result = await trainProbe(
        {
          data: { features, dim, targets: prepared.targets, labels: labels.length },
          trainRows,
          validationRows,
          score: (predicted) => validationScore(evaluateOn(predicted)),
          engine: onnxEngine.engine,
          onEpoch: (epoch) => {
            throwIfCancelled(token);
            report({
              phase: 'training',
              message: `Epoch ${epoch.epoch} of ${epoch.epochs}: loss ${epoch.loss.toFixed(4)}, validation ${(100 * epoch.validationScore).toFixed(1)}%`,
              percent: (100 * epoch.epoch) / epoch.epochs,
              epoch: epoch.epoch,
              epochs: epoch.epochs,
              loss: epoch.loss,
              validationScore: epoch.validationScore,
            });
          },
        },
        options,
      );
      throwIfCancelled(token);
    } finally {
      await onnxEngine.release();
    }
    const trainingSeconds = (performance.now() - trainingStart) / 1000;

    // The final head on the raw features, as the saved graph computes it.
    const predicted = await cpuEngine(
      { features, dim, targets: prepared.targets, labels: labels.length },
      new Float32Array(0),
    ).predict(validationRows, result.head.weight, result.head.bias);
    const validation = evaluateOn(predicted);
    const majority = majorityLabel(
      Int32Array.from(trainRows, (row) => prepared.targets[row]),
      labels.length,
    );
    const baseline = evaluateOn(new Int32Array(validationRows.length).fill(majority));
    const trainingReport: TrainingReport = {
      task: params.task,
      architecture: isWords ? 'GPT2ForTokenClassification' : 'GPT2ForSequenceClassification',
      backbone: params.model,
      train_file: params.train,
      validation_file: params.validation ?? null,
      validation_split: validationData ? null : validationFraction,
      labels,
      examples: { train: split.train.length, validation: split.validation.length },
      rows: { train: trainRows.length, validation: validationRows.length },
      options: {
        optimizer: options.optimizer,
        epochs: options.epochs,
        learning_rate: options.learningRate,
        batch_size: options.batchSize,
        l2: options.l2,
        class_weights: options.classWeights,
        seed: options.seed,
        patience: options.patience,
      },
      validation_metric: isWords && isIobLabelSet(labels) ? 'entity_f1' : 'accuracy',
      history: result.history.map((h) => ({
        epoch: h.epoch,
        loss: h.loss,
        validation_score: h.validationScore,
      })),
      best_epoch: result.bestEpoch,
      validation,
      baseline: { label: labels[majority], validation: baseline },
      timing: {
        feature_seconds: featureSeconds,
        features_cached: cached,
        tokens,
        tokens_per_second: cached ? 0 : tokens / Math.max(1e-9, featureSeconds),
        training_seconds: trainingSeconds,
      },
    };

    report({ phase: 'saving', message: `Saving the model to ${basename(out)}…` });
    await writeModelFolder(out, backbone, result.head, trainingReport, token);
    const validationPredictions: string[][] = [];
    let offset = 0;
    for (const example of split.validation) {
      const count = prepared.exampleRows[example].length;
      validationPredictions.push(
        Array.from(predicted.subarray(offset, offset + count), (id) => labels[id]),
      );
      offset += count;
    }
    return { folder: out, report: trainingReport, validationPredictions };
  } finally {
    clearInterval(abortWatch);
    await backbone?.session.release().catch(() => undefined);
  }
}
