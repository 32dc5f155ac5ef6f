// `gpt2-heads export-triton`: a Triton model repository (REPO/NAME/config.pbtxt and
// REPO/NAME/1/model.onnx) holding the very graph the host would run: the folder's ONNX export,
// the graph the host builds from a safetensors checkpoint, or, for several checkpoints over one
// backbone, the fused graph whose outputs are h0.logits, h1.start_logits, … (one per head).
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { InferenceSession } from 'onnxruntime-node';
import { HostError } from '../errors';
import { SharedBackbones } from '../models/sharedBackbone';
import { expandPath, inspectLocalFolder } from '../models/modelFolder';
import { convertCheckpoint } from './checkpoint';

export interface TritonExport {
  /** REPO/NAME */
  folder: string;
  name: string;
  /** Fused graphs: the output prefix of each model folder (endpoint URL fragment #h0 …). */
  heads: { prefix: string; model: string }[];
  inputs: TritonTensor[];
  outputs: TritonTensor[];
}

export interface TritonTensor {
  name: string;
  /** TYPE_INT64, TYPE_FP32, … */
  dataType: string;
  /** Without the batch axis; -1 where dynamic. */
  dims: number[];
}

const tritonTypes: Record<string, string> = {
  int64: 'TYPE_INT64',
  int32: 'TYPE_INT32',
  float32: 'TYPE_FP32',
  float16: 'TYPE_FP16',
  bool: 'TYPE_BOOL',
};

/** The largest batch Triton may form; the host sends at most gpt2Heads.endpoints.maxBatch. */
const maxBatchSize = 64;

/** A Triton model name: letters, digits, _ and - (also a safe folder name). */
export function tritonName(source: string): string {
  return (
    basename(expandPath(source))
      .replace(/[^A-Za-z0-9_-]+/g, '_')
      .replace(/^_+|_+$/g, '') || 'gpt2_heads'
  );
}

export async function exportTriton(options: {
  models: string[];
  out: string;
  name?: string;
  dtype: 'fp32' | 'q8';
  report?: (message: string) => void;
}): Promise<TritonExport> {
  const { models, out, dtype } = options;
  if (models.length === 0) throw new HostError('export-triton needs --model FOLDER.');
  const name = options.name ?? tritonName(models[0]);
  if (!/^[A-Za-z0-9_-]+$/.test(name)) {
    throw new HostError(`--name must hold only letters, digits, _ and - (got "${name}").`);
  }
  const scratch = mkdtempSync(join(tmpdir(), 'gpt2-heads-triton-'));
  try {
    let graph: string;
    let heads: TritonExport['heads'] = [];
    if (models.length === 1) graph = singleGraph(models[0], dtype, scratch);
    else ({ graph, heads } = await fusedGraph(models, dtype, scratch));
    const session = await InferenceSession.create(graph);
    const describe = (metadata: readonly InferenceSession.ValueMetadata[]): TritonTensor[] =>
      metadata.map((value) => {
        if (!value.isTensor) throw new HostError(`${value.name} is not a tensor.`);
        const dataType = tritonTypes[value.type];
        if (!dataType)
          throw new HostError(`${value.name} has type ${value.type}, unknown to Triton.`);
        return {
          name: value.name,
          dataType,
          dims: value.shape.slice(1).map((dim) => (typeof dim === 'number' ? dim : -1)),
        };
      });
    const inputs = describe(session.inputMetadata);
    const outputs = describe(session.outputMetadata);
    await session.release();
    if (inputs.some((input) => input.name.startsWith('past_key_values'))) {
      throw new HostError(
        `${models[0]} is a language model with a key/value cache: serve it with an ` +
          `OpenAI-compatible server (vLLM, llama.cpp server…) and set gpt2Heads.lm.endpoint. ` +
          `export-triton writes the heads (token/sequence classification, question answering, ` +
          `double heads, GPT2Model).`,
      );
    }
    const prefixes = new Set(outputs.map((output) => output.name.split('.')[0]));
    if (heads.length > 0 && prefixes.size !== models.length) {
      throw new HostError(
        `Only ${prefixes.size} of ${models.length} checkpoints share one backbone: export the ` +
          `others one by one.`,
      );
    }
    const folder = join(out, name);
    mkdirSync(join(folder, '1'), { recursive: true });
    copyFileSync(graph, join(folder, '1', 'model.onnx'));
    writeFileSync(join(folder, 'config.pbtxt'), configPbtxt(name, inputs, outputs, heads));
    return { folder, name, heads, inputs, outputs };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The ONNX file the host loads for one model folder (converting a checkpoint as it would). */
function singleGraph(source: string, dtype: 'fp32' | 'q8', scratch: string): string {
  const inspected = inspectLocalFolder(source);
  let folder = inspected.folder;
  if (inspected.format === 'safetensors') {
    folder = join(scratch, 'converted');
    convertCheckpoint(inspected.folder, folder, { dtype });
  }
  const file = dtype === 'q8' ? 'model_quantized.onnx' : 'model.onnx';
  const path = join(folder, 'onnx', file);
  if (!readdirSync(join(folder, 'onnx')).includes(file)) {
    throw new HostError(
      `"${source}" has no onnx/${file}. Export with --dtype ${dtype === 'q8' ? 'fp32' : 'q8'}, ` +
        `or add the file.`,
    );
  }
  return path;
}

/** The fused graph the host builds for checkpoints that share a backbone. */
async function fusedGraph(
  models: string[],
  dtype: 'fp32' | 'q8',
  scratch: string,
): Promise<{ graph: string; heads: TritonExport['heads'] }> {
  const folders = models.map((model) => inspectLocalFolder(model));
  const notCheckpoint = folders.find((folder) => folder.format !== 'safetensors');
  if (notCheckpoint) {
    throw new HostError(
      `Several heads are fused from safetensors checkpoints; "${notCheckpoint.folder}" has none.`,
    );
  }
  const paths = folders.map((folder) => folder.folder);
  const shared = new SharedBackbones(scratch, dtype === 'q8', {});
  const session = await shared.sessionFor(paths[0], paths);
  if (!session) {
    throw new HostError(
      `${models.join(', ')} do not share one backbone (their transformer.* weights differ): ` +
        `export them one by one.`,
    );
  }
  await session.release();
  const file = readdirSync(join(scratch, 'shared')).find((entry) => entry.endsWith('.onnx'));
  if (!file) throw new HostError('The fused graph was not written.');
  // The host orders a group's members by folder: h0 is the first of them.
  const heads = [...paths]
    .sort((a, b) => a.localeCompare(b))
    .map((model, index) => ({ prefix: `h${index}`, model }));
  return { graph: join(scratch, 'shared', file), heads };
}

export function configPbtxt(
  name: string,
  inputs: TritonTensor[],
  outputs: TritonTensor[],
  heads: TritonExport['heads'] = [],
): string {
  const tensor = (t: TritonTensor) =>
    `  {\n    name: "${t.name}"\n    data_type: ${t.dataType}\n    dims: [ ${t.dims.join(', ')} ]\n  }`;
  const lines = [
    `name: "${name}"`,
    'platform: "onnxruntime_onnx"',
    `max_batch_size: ${maxBatchSize}`,
    `input [\n${inputs.map(tensor).join(',\n')}\n]`,
    `output [\n${outputs.map(tensor).join(',\n')}\n]`,
    'dynamic_batching { }',
    ...heads.map(
      (head) =>
        `parameters {\n  key: "gpt2_heads.${head.prefix}"\n  value: { string_value: ${JSON.stringify(head.model)} }\n}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
