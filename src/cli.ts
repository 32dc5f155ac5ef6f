#!/usr/bin/env node
// `gpt2-heads`: the model host's code from the command line, for scripts, batch work and
// benchmarks. Tasks and options carry Hugging Face's names (options in kebab case); --json
// prints what HF's pipelines return, with character offsets in UTF-16 code units.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  headFor,
  modelsFor,
  taskTable,
  weightDtypes,
  type HostSettings,
  type ModelInfo,
  type WeightDtype,
} from './protocol';
import { HostError, neverCancelled } from './host/errors';
import { generate } from './host/tasks/generation';
import { tagText } from './host/tasks/tagging';
import { classifyRequest } from './host/tasks/classification';
import { convertCheckpoint } from './host/convert/checkpoint';
import { hiddenStates } from './host/tasks/features';
import { makeRandomModel } from './host/convert/maker';
import { chooseRequest } from './host/tasks/multipleChoice';
import { ARCHITECTURES } from './host/convert/gpt2Config';
import { perplexityReport } from './host/tasks/surprisal';
import { answer } from './host/tasks/questionAnswering';
import { toPipelineOutput } from './heads/questionAnswering';
import { optionAsContinuation, parseChoices } from './text/choices';
import { aggregationStrategies } from './heads/tokenClassification';
import type { LoadedModel } from './host/models/loadedModel';
import { ModelRegistry } from './host/models/registry';
import { corpusTask, endpointSettings, exportTritonTask, servingOptions } from './cliServing';
import type { Io, Task, Values } from './cliTask';
import { trainHead } from './host/tasks/training/train';
import { labelledFormats } from './text/labelledData';

export type { Io, Task, Values };

const common: NonNullable<ParseArgsConfig['options']> = {
  model: { type: 'string', short: 'm' },
  input: { type: 'string', short: 'i' },
  text: { type: 'string' },
  json: { type: 'boolean' },
  dtype: { type: 'string' },
  offline: { type: 'boolean' },
  'cache-dir': { type: 'string' },
  threads: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...servingOptions,
};

const tasks: Record<string, Task> = {
  info: {
    summary: 'Load a model and print what it is (architecture, labels, dtype, context, size).',
    options: {},
    async run(values, io) {
      const model = await loadModel(values);
      const info: Partial<ModelInfo> = { ...model.info };
      delete info.roles;
      delete info.state;
      if (values.json) io.out(JSON.stringify(info, null, 2));
      else {
        for (const [key, value] of Object.entries(info)) {
          if (value !== undefined)
            io.out(`${key}: ${Array.isArray(value) ? value.join(', ') : value}`);
        }
      }
    },
  },
  'text-generation': {
    summary: 'Continue the input text with the language model (greedy unless --do-sample).',
    options: {
      'max-new-tokens': { type: 'string' },
      'do-sample': { type: 'boolean' },
      temperature: { type: 'string' },
      'top-k': { type: 'string' },
      'top-p': { type: 'string' },
      'repetition-penalty': { type: 'string' },
      stop: { type: 'string', multiple: true },
      seed: { type: 'string' },
    },
    async run(values, io) {
      const model = await loadModel(values);
      const prompt = readInput(values);
      const stream = !values.json && io.write ? io.write.bind(io) : undefined;
      stream?.(prompt, 'out');
      const result = await generate(
        model,
        {
          prompt,
          options: {
            max_new_tokens: numberOption(values, 'max-new-tokens'),
            do_sample: values['do-sample'] === true ? true : undefined,
            temperature: numberOption(values, 'temperature'),
            top_k: numberOption(values, 'top-k'),
            top_p: numberOption(values, 'top-p'),
            repetition_penalty: numberOption(values, 'repetition-penalty'),
            stop_strings: values.stop as string[] | undefined,
            seed: numberOption(values, 'seed'),
          },
          reuseCache: false,
        },
        neverCancelled,
        (text) => stream?.(text, 'out'),
      );
      if (stream) stream('\n', 'out');
      else if (values.json) {
        io.out(
          JSON.stringify(
            [
              {
                generated_text: result.generated_text,
                generated_token_ids: result.new_token_ids,
                finish_reason: result.finish_reason,
              },
            ],
            null,
            2,
          ),
        );
      } else io.out(result.generated_text);
    },
  },
  'token-classification': {
    summary: "Tag entities or parts of speech (GPT2ForTokenClassification), as HF's pipeline.",
    options: {
      'aggregation-strategy': { type: 'string' },
      stride: { type: 'string' },
      'ignore-labels': { type: 'string' },
    },
    async run(values, io) {
      const model = await loadModel(values);
      const strategy = choice(values, 'aggregation-strategy', aggregationStrategies) ?? 'none';
      const ignore = values['ignore-labels'];
      const result = await tagText(
        model,
        readInput(values),
        {
          aggregation_strategy: strategy,
          ignore_labels: typeof ignore === 'string' ? ignore.split(',').filter(Boolean) : undefined,
          stride: numberOption(values, 'stride'),
        },
        neverCancelled,
      );
      if (values.json) io.out(JSON.stringify(result.entities, null, 2));
      else {
        for (const entity of result.entities) {
          const label = 'entity_group' in entity ? entity.entity_group : entity.entity;
          io.out(
            `${entity.start}-${entity.end}\t${label}\t${entity.score.toFixed(4)}\t${entity.word}`,
          );
        }
      }
    },
  },
  'text-classification': {
    summary: 'Label a text (GPT2ForSequenceClassification); --document reads it all in windows.',
    options: {
      'top-k': { type: 'string' },
      'function-to-apply': { type: 'string' },
      document: { type: 'boolean' },
      aggregation: { type: 'string' },
    },
    async run(values, io) {
      const model = await loadModel(values);
      const fn = choice(values, 'function-to-apply', ['softmax', 'sigmoid', 'none'] as const);
      const aggregation = choice(values, 'aggregation', ['mean', 'max'] as const);
      const topK = values['top-k'] === 'all' ? null : (numberOption(values, 'top-k') ?? 1);
      const result = await classifyRequest(
        model,
        {
          text: readInput(values),
          scope: values.document ? 'document' : 'sequence',
          function_to_apply: fn,
          aggregation,
        },
        neverCancelled,
      );
      const labels = topK === null ? result.labels : result.labels.slice(0, topK);
      if (values.json) io.out(JSON.stringify(labels, null, 2));
      else {
        for (const { label, score } of labels) io.out(`${label}\t${score.toFixed(4)}`);
        if (values.document) io.err(`${result.windows} windows, ${result.tokens} tokens`);
      }
    },
  },
  'zero-shot-classification': {
    summary: 'Label a text with the language model: each candidate label in a template, scored.',
    options: {
      'candidate-labels': { type: 'string' },
      'hypothesis-template': { type: 'string' },
    },
    async run(values, io) {
      const model = await loadModel(values);
      const labels = String(values['candidate-labels'] ?? '')
        .split(',')
        .map((label) => label.trim())
        .filter(Boolean);
      const text = readInput(values);
      const template = values['hypothesis-template'] as string | undefined;
      const result = await classifyRequest(
        model,
        { text, scope: 'sequence', zeroShot: { labels, template } },
        neverCancelled,
      );
      const output = {
        sequence: text,
        labels: result.labels.map((l) => l.label),
        scores: result.labels.map((l) => l.score),
      };
      if (values.json) io.out(JSON.stringify(output, null, 2));
      else for (const { label, score } of result.labels) io.out(`${label}\t${score.toFixed(4)}`);
    },
  },
  'question-answering': {
    summary: 'Find the answer to --question in the input text (GPT2ForQuestionAnswering).',
    options: {
      question: { type: 'string', short: 'q' },
      'top-k': { type: 'string' },
      'max-answer-len': { type: 'string' },
      'doc-stride': { type: 'string' },
      'max-seq-len': { type: 'string' },
      'handle-impossible-answer': { type: 'boolean' },
    },
    async run(values, io) {
      const model = await loadModel(values);
      if (typeof values.question !== 'string') throw new HostError('Missing --question.');
      const answers = await answer(
        model,
        values.question,
        readInput(values),
        {
          top_k: numberOption(values, 'top-k'),
          max_answer_len: numberOption(values, 'max-answer-len'),
          doc_stride: numberOption(values, 'doc-stride'),
          max_seq_len: numberOption(values, 'max-seq-len'),
          handle_impossible_answer: values['handle-impossible-answer'] === true,
        },
        neverCancelled,
      );
      if (values.json) io.out(JSON.stringify(toPipelineOutput(answers), null, 2));
      else
        for (const a of answers) io.out(`${a.score.toFixed(4)}\t${a.start}-${a.end}\t${a.answer}`);
    },
  },
  'multiple-choice': {
    summary:
      'Score options: the input is a question, then one option per line ("A) …", "1. …", "- …").',
    options: {},
    async run(values, io) {
      const model = await loadModel(values);
      const parsed = parseChoices(readInput(values));
      const options = parsed.options.map(optionAsContinuation);
      // The model given is the multiple-choice head if it is one; any other is scored as the LM.
      const head = headFor(
        'multipleChoice',
        (role) => model.architecture === taskTable[role].architecture,
      );
      const result = await chooseRequest(
        model,
        { context: parsed.context, options },
        neverCancelled,
        head === 'multipleChoice' ? 'double-heads' : 'language-model',
      );
      const byOption = parsed.options.map((option, index) => ({
        option,
        score: result.ranked.find((r) => r.index === index)?.score ?? 0,
      }));
      if (values.json)
        io.out(
          JSON.stringify(
            { context: parsed.context, method: result.method, options: byOption },
            null,
            2,
          ),
        );
      else for (const { option, score } of byOption) io.out(`${score.toFixed(4)}\t${option}`);
    },
  },
  perplexity: {
    summary:
      "Perplexity and each token's log-probability under the LM; --stride N: HF's sliding windows.",
    options: { stride: { type: 'string' }, 'top-k': { type: 'string' } },
    async run(values, io) {
      const model = await loadModel(values);
      const report = await perplexityReport(
        model,
        readInput(values),
        { stride: numberOption(values, 'stride'), top_k: numberOption(values, 'top-k') },
        neverCancelled,
      );
      if (values.json) io.out(JSON.stringify(report, null, 2));
      else {
        for (const t of report.tokens) {
          const bits = t.logprob === null ? '' : (-t.logprob / Math.LN2).toFixed(2);
          io.out(`${t.start}-${t.end}\t${bits}\t${JSON.stringify(t.text)}`);
        }
        io.out(
          `perplexity ${report.perplexity?.toFixed(4)}, mean NLL ${report.mean_nll?.toFixed(4)}`,
        );
      }
    },
  },
  'feature-extraction': {
    summary: 'Hidden states of the backbone (GPT2Model): last_hidden_state, or --pool last|mean.',
    options: { pool: { type: 'string' } },
    async run(values, io) {
      const model = await loadModel(values);
      const pool = choice(values, 'pool', ['last', 'mean'] as const);
      const { shape, values: states } = await hiddenStates(model, readInput(values));
      const [, length, width] = shape;
      const row = (i: number) => Array.from(states.subarray(i * width, (i + 1) * width));
      let output: unknown;
      if (pool === 'last') output = [row(length - 1)];
      else if (pool === 'mean') {
        const mean = new Array<number>(width).fill(0);
        for (let i = 0; i < length; i++) row(i).forEach((v, j) => (mean[j] += v / length));
        output = [mean];
      } else output = [Array.from({ length }, (_, i) => row(i))];
      if (values.json) io.out(JSON.stringify(output));
      else
        io.out(
          `last_hidden_state [${shape.join(', ')}]${pool ? `, pooled (${pool}) to ${width} values` : ''}`,
        );
    },
  },
  'build-onnx': {
    summary:
      'Convert a checkpoint folder (safetensors or pytorch_model.bin) into an ONNX model folder transformers.js loads.',
    options: { out: { type: 'string', short: 'o' } },
    async run(values, io) {
      const source = values.model;
      const out = values.out;
      if (typeof source !== 'string' || typeof out !== 'string') {
        throw new HostError('build-onnx needs --model SAFETENSORS_FOLDER and --out FOLDER.');
      }
      convertCheckpoint(source, out, { dtype: weightDtype(values) });
      io.out(`Wrote ${out}`);
    },
  },
  'export-triton': exportTritonTask,
  train: {
    summary: 'Train a linear head on a frozen backbone from labelled data; save a model folder.',
    options: {
      task: { type: 'string' },
      train: { type: 'string' },
      validation: { type: 'string' },
      format: { type: 'string' },
      'label-column': { type: 'string' },
      'label-names': { type: 'string' },
      epochs: { type: 'string' },
      seed: { type: 'string' },
      optimizer: { type: 'string' },
      'learning-rate': { type: 'string' },
      l2: { type: 'string' },
      'class-weights': { type: 'string' },
      out: { type: 'string', short: 'o' },
    },
    async run(values, io) {
      const task = choice(values, 'task', ['token-classification', 'text-classification'] as const);
      const { model, train, out } = values;
      if (
        !task ||
        typeof model !== 'string' ||
        typeof train !== 'string' ||
        typeof out !== 'string'
      ) {
        throw new HostError('train needs --task, --model BACKBONE, --train FILE and --out FOLDER.');
      }
      const names = values['label-names'];
      const { report, folder } = await trainHead(
        {
          task,
          model,
          train: resolve(train),
          validation:
            typeof values.validation === 'string' ? resolve(values.validation) : undefined,
          format: choice(values, 'format', labelledFormats),
          labelColumn: values['label-column'] as string | undefined,
          labelNames: typeof names === 'string' ? names.split(',') : undefined,
          out: resolve(out),
          epochs: numberOption(values, 'epochs'),
          seed: numberOption(values, 'seed'),
          optimizer: choice(values, 'optimizer', ['adam', 'lbfgs'] as const),
          learningRate: numberOption(values, 'learning-rate'),
          l2: numberOption(values, 'l2'),
          classWeights: choice(values, 'class-weights', ['none', 'balanced'] as const),
        },
        {
          cacheDir: (values['cache-dir'] as string | undefined) ?? defaultCacheDir,
          offline: values.offline === true || process.env.GPT2_HEADS_OFFLINE === '1',
          threads: numberOption(values, 'threads') ?? 0,
        },
        neverCancelled,
        (progress) => io.err(progress.message),
      );
      if (values.json) io.out(JSON.stringify(report, null, 2));
      else {
        const percent = (x: number) => `${(100 * x).toFixed(1)}%`;
        const { validation, baseline } = report;
        io.out(
          `accuracy ${percent(validation.accuracy)} (majority "${baseline.label}": ${percent(baseline.validation.accuracy)})`,
        );
        if (validation.entities) io.out(`entity F1 ${percent(validation.entities.f1)}`);
        io.out(`Wrote ${folder}`);
      }
    },
  },
  'make-random': {
    summary: 'Write a GPT-2 model folder with seeded random weights (tests, demos, benchmarks).',
    options: {
      architecture: { type: 'string' },
      size: { type: 'string' },
      out: { type: 'string', short: 'o' },
      seed: { type: 'string' },
      labels: { type: 'string' },
      std: { type: 'string' },
      safetensors: { type: 'boolean' },
      pytorch: { type: 'string' },
    },
    async run(values, io) {
      const architecture = choice(values, 'architecture', ARCHITECTURES) ?? 'GPT2LMHeadModel';
      const size = choice(values, 'size', ['tiny', 'small', 'full'] as const) ?? 'tiny';
      if (typeof values.out !== 'string') throw new HostError('make-random needs --out FOLDER.');
      const labels = typeof values.labels === 'string' ? values.labels.split(',') : undefined;
      makeRandomModel({
        architecture,
        size,
        seed: numberOption(values, 'seed') ?? 1,
        outDir: values.out,
        labels,
        std: numberOption(values, 'std'),
        dtype: weightDtype(values),
        safetensors: values.safetensors === true,
        pytorch: choice(values, 'pytorch', ['F32', 'F16', 'BF16'] as const),
      });
      io.out(`Wrote a random ${size} ${architecture} to ${values.out}`);
    },
  },
};

function choice<T extends string>(
  values: Values,
  name: string,
  allowed: readonly T[],
): T | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  if (!allowed.includes(value as T)) {
    throw new HostError(`--${name} must be one of ${allowed.join(', ')} (got "${String(value)}").`);
  }
  return value as T;
}

const dtypeChoices = ['auto', ...weightDtypes] as const;

/** The weights a command that writes a model folder writes: fp32, or also int8 for q8. */
function weightDtype(values: Values): WeightDtype {
  return choice(values, 'dtype', dtypeChoices) === 'q8' ? 'q8' : 'fp32';
}

function usage(): string {
  const lines = [
    'Usage: gpt2-heads <task> --model <folder|hub id> [--input FILE|-] [--text TEXT] [options] [--json]',
    '',
    'Tasks:',
    ...Object.entries(tasks).map(([name, task]) => `  ${name.padEnd(28)}${task.summary}`),
    '',
    'Common options: --dtype auto|fp32|q8, --offline, --cache-dir DIR, --threads N, --json',
    'Serving: --endpoint URL [--endpoint-model NAME] (key in GPT2_HEADS_API_KEY), corpora:',
    '  --input-glob GLOB --output FILE.jsonl [--concurrency N] [--max-batch N]',
    'Run `gpt2-heads <task> --help` for the options of a task.',
  ];
  return lines.join('\n');
}

function taskUsage(name: string, task: Task): string {
  const options = Object.entries(task.options).map(
    ([key, option]) =>
      `  --${key}${option.type === 'string' ? ' VALUE' : ''}${option.multiple ? ' (repeatable)' : ''}`,
  );
  return [
    `Usage: gpt2-heads ${name} --model M [--input FILE|-] [options]`,
    task.summary,
    '',
    ...options,
  ].join('\n');
}

let registry: ModelRegistry | undefined;
/** The model of this run; corpus mode runs the task once per document on it. */
let loaded: Promise<LoadedModel> | undefined;
let taskName = '';
const defaultCacheDir = join(homedir(), '.cache', 'gpt2-heads');

function loadModel(values: Values): Promise<LoadedModel> {
  loaded ??= loadOnce(values);
  return loaded;
}

async function loadOnce(values: Values): Promise<LoadedModel> {
  const source = values.model;
  const endpoint = endpointSettings(taskName, values, (text) => process.stderr.write(`${text}\n`));
  if ((typeof source !== 'string' || !source) && endpoint?.role !== 'lm') {
    throw new HostError('Missing --model: a local model folder or a Hugging Face Hub id.');
  }
  const settings: HostSettings = {
    models: modelsFor(() => ''),
    offline: values.offline === true || process.env.GPT2_HEADS_OFFLINE === '1',
    cacheDir: (values['cache-dir'] as string | undefined) ?? defaultCacheDir,
    dtype: choice(values, 'dtype', dtypeChoices) ?? 'auto',
    threads: numberOption(values, 'threads') ?? 0,
    endpoints: endpoint?.settings,
  };
  registry = new ModelRegistry(settings, (progress) => {
    if (!progress.done && process.stderr.isTTY) process.stderr.write(`${progress.message}\n`);
  });
  if (!endpoint) return registry.load(source as string);
  settings.models[endpoint.role] = typeof source === 'string' ? source : '';
  return registry.use(endpoint.role, async (model) => model);
}

function readInput(values: Values): string {
  if (typeof values.text === 'string') return values.text;
  const input = values.input;
  if (input === undefined)
    throw new HostError('Give the text with --input FILE, --input - (stdin) or --text.');
  return readFileSync(input === '-' ? 0 : String(input), 'utf8');
}

function numberOption(values: Values, name: string): number | undefined {
  const value = values[name];
  if (value === undefined) return undefined;
  const number = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !Number.isFinite(number)) {
    throw new HostError(`--${name} must be a number (got "${String(value)}").`);
  }
  return number;
}

export async function main(argv: string[], io: Io): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name ? 0 : 2;
  }
  const task = tasks[name];
  if (!task) {
    io.err(`Unknown task "${name}".\n\n${usage()}`);
    return 2;
  }
  try {
    const { values } = parseArgs({
      args: rest,
      options: { ...common, ...task.options },
      allowPositionals: false,
      strict: true,
    });
    if (values.help) {
      io.out(taskUsage(name, task));
      return 0;
    }
    taskName = name;
    if (values['input-glob'] !== undefined) return await corpusTask(task, values as Values, io);
    await task.run(values as Values, io);
    return 0;
  } catch (error) {
    io.err(`gpt2-heads ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await registry?.dispose();
    loaded = undefined;
  }
}

if (require.main === module) {
  main(process.argv.slice(2), {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
    write: (text, stream) => (stream === 'out' ? process.stdout : process.stderr).write(text),
  }).then((code) => {
    process.exitCode = code;
  });
}
