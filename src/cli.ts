#!/usr/bin/env node
// `gpt2-heads`: the model host's code from the command line, for scripts, batch work and
// benchmarks. Tasks and options carry Hugging Face's names (options in kebab case); --json
// prints what HF's pipelines return, with character offsets in UTF-16 code units.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import {
  headRoles,
  type Dtype,
  type HeadRole,
  type HostSettings,
  type ModelInfo,
} from './protocol';
import { HostError, neverCancelled } from './host/errors';
import { generate } from './host/lm';
import { tagText } from './host/tagging';
import type { AggregationStrategy } from './heads/tokenClassification';
import { ModelRegistry, type LoadedModel } from './host/registry';

type Values = Record<string, string | boolean | string[] | undefined>;

interface Task {
  summary: string;
  options: NonNullable<ParseArgsConfig['options']>;
  run(values: Values, io: Io): Promise<void>;
}

interface Io {
  out(text: string): void;
  err(text: string): void;
}

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
      );
      if (values.json) {
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
      const strategy = (values['aggregation-strategy'] as string | undefined) ?? 'none';
      if (!['none', 'simple', 'first', 'average', 'max'].includes(strategy)) {
        throw new HostError(
          `--aggregation-strategy must be none, simple, first, average or max (got "${strategy}").`,
        );
      }
      const ignore = values['ignore-labels'];
      const result = await tagText(
        model,
        readInput(values),
        {
          aggregation_strategy: strategy as AggregationStrategy,
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
};

function usage(): string {
  const lines = [
    'Usage: gpt2-heads <task> --model <folder|hub id> [--input FILE|-] [--text TEXT] [options] [--json]',
    '',
    'Tasks:',
    ...Object.entries(tasks).map(([name, task]) => `  ${name.padEnd(28)}${task.summary}`),
    '',
    'Common options: --dtype auto|fp32|q8, --offline, --cache-dir DIR, --threads N, --json',
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

async function loadModel(values: Values): Promise<LoadedModel> {
  const source = values.model;
  if (typeof source !== 'string' || !source) {
    throw new HostError('Missing --model: a local model folder or a Hugging Face Hub id.');
  }
  const dtype = (values.dtype as string | undefined) ?? 'auto';
  if (!['auto', 'fp32', 'q8'].includes(dtype)) {
    throw new HostError(`--dtype must be auto, fp32 or q8 (got "${dtype}").`);
  }
  const settings: HostSettings = {
    models: Object.fromEntries(headRoles.map((role) => [role, ''])) as Record<HeadRole, string>,
    offline: values.offline === true || process.env.GPT2_HEADS_OFFLINE === '1',
    cacheDir:
      (values['cache-dir'] as string | undefined) ?? join(homedir(), '.cache', 'gpt2-heads'),
    dtype: dtype as Dtype,
    threads: numberOption(values, 'threads') ?? 0,
  };
  registry = new ModelRegistry(settings, (progress) => {
    if (!progress.done && process.stderr.isTTY) process.stderr.write(`${progress.message}\n`);
  });
  return registry.load(source);
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
    await task.run(values as Values, io);
    return 0;
  } catch (error) {
    io.err(`gpt2-heads ${name}: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  } finally {
    await registry?.dispose();
  }
}

if (require.main === module) {
  main(process.argv.slice(2), {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  }).then((code) => {
    process.exitCode = code;
  });
}
