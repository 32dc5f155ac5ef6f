// The CLI's serving options: --endpoint (a task's graph on an Open Inference Protocol server, or
// the LM on an OpenAI-compatible one), corpus mode (--input-glob … --output …), and the
// export-triton task that writes a model repository for Triton or KServe.
import type { ParseArgsConfig } from 'node:util';
import type { Io, Task, Values } from './cliTask';
import type { EndpointSettings, HeadRole } from './protocol';
import { HostError } from './host/errors';
import { runCorpus } from './host/corpus';
import { exportTriton } from './host/convert/triton';
import { plainHttpWarning } from './host/models/remote/http';

export const servingOptions: NonNullable<ParseArgsConfig['options']> = {
  endpoint: { type: 'string' },
  'endpoint-model': { type: 'string' },
  'input-glob': { type: 'string' },
  output: { type: 'string' },
  concurrency: { type: 'string' },
  'max-batch': { type: 'string' },
};

/** The role whose endpoint the task's graph runs on (it names the loader, not a setting). */
const taskRoles: Record<string, HeadRole> = {
  'token-classification': 'ner',
  'text-classification': 'classification',
  'question-answering': 'qa',
  'multiple-choice': 'multipleChoice',
  'feature-extraction': 'ner',
};

function positiveInteger(values: Values, name: string, fallback: number): number {
  const value = values[name];
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) {
    throw new HostError(`--${name} must be a whole number of at least 1 (got "${String(value)}").`);
  }
  return number;
}

/**
 * Endpoint settings from --endpoint: a URL with /v2/models/ is a model on an Open Inference
 * Protocol server; any other URL is an OpenAI-compatible server for the language model.
 */
export function endpointSettings(
  task: string,
  values: Values,
  warn: (text: string) => void,
): { role: HeadRole; settings: EndpointSettings } | undefined {
  const url = values.endpoint;
  if (url === undefined) {
    if (values['endpoint-model'] !== undefined) {
      throw new HostError('--endpoint-model names the model on --endpoint: give --endpoint too.');
    }
    return undefined;
  }
  if (typeof url !== 'string' || !url) throw new HostError('--endpoint needs a URL.');
  const openInference = url.includes('/v2/models/');
  const role: HeadRole = openInference ? (taskRoles[task] ?? 'ner') : 'lm';
  const warning = plainHttpWarning(url);
  if (warning) warn(`Warning: ${warning}`);
  return {
    role,
    settings: {
      urls: { [role]: url },
      lmModel: typeof values['endpoint-model'] === 'string' ? values['endpoint-model'] : undefined,
      concurrency: positiveInteger(values, 'concurrency', 4),
      maxBatch: positiveInteger(values, 'max-batch', 8),
      settingName: '--endpoint',
    },
  };
}

/** Runs `task` on every document of --input-glob, one JSON line each in --output. */
export async function corpusTask(task: Task, values: Values, io: Io): Promise<number> {
  const output = values.output;
  if (typeof output !== 'string' || !output) {
    throw new HostError('--input-glob needs --output FILE.jsonl (one JSON line per document).');
  }
  if (values.input !== undefined || values.text !== undefined) {
    throw new HostError('Give the documents with --input-glob, or one text with --input/--text.');
  }
  const summary = await runCorpus({
    pattern: String(values['input-glob']),
    output,
    concurrency: positiveInteger(values, 'concurrency', 4),
    cwd: process.cwd(),
    tty: process.stderr.isTTY === true,
    write: (text) => io.write?.(text, 'err') ?? io.err(text.replace(/\n$/, '')),
    runOne: async (text) => {
      let printed = '';
      await task.run(
        { ...values, 'input-glob': undefined, text, json: true },
        {
          out: (line) => (printed += `${line}\n`),
          err: () => undefined,
        },
      );
      return JSON.parse(printed) as unknown;
    },
  });
  io.err(
    `${summary.done} documents done, ${summary.failed} failed, ${summary.skipped} already in ` +
      `${output}, in ${summary.seconds.toFixed(1)} s ` +
      `(${((summary.done + summary.failed) / Math.max(summary.seconds, 1e-9)).toFixed(2)} documents/s).`,
  );
  return summary.failed > 0 ? 1 : 0;
}

export const exportTritonTask: Task = {
  summary:
    'Write a Triton model repository (config.pbtxt + 1/model.onnx); --model A,B fuses heads ' +
    'that share a backbone.',
  options: { out: { type: 'string', short: 'o' }, name: { type: 'string' } },
  async run(values, io) {
    if (typeof values.model !== 'string' || typeof values.out !== 'string') {
      throw new HostError('export-triton needs --model FOLDER[,FOLDER…] and --out REPOSITORY.');
    }
    const dtype = values.dtype ?? 'fp32';
    if (dtype !== 'fp32' && dtype !== 'q8') {
      throw new HostError(`--dtype must be fp32 or q8 (got "${String(dtype)}").`);
    }
    const result = await exportTriton({
      models: values.model.split(',').filter(Boolean),
      out: values.out,
      name: typeof values.name === 'string' ? values.name : undefined,
      dtype,
    });
    if (values.json) {
      io.out(JSON.stringify(result, null, 2));
      return;
    }
    io.out(`Wrote ${result.folder} (config.pbtxt, 1/model.onnx)`);
    for (const output of result.outputs) io.out(`  output ${output.name} [${output.dims}]`);
    for (const head of result.heads) {
      io.out(
        `  #${head.prefix}: ${head.model} (endpoint …/v2/models/${result.name}#${head.prefix})`,
      );
    }
  },
};
