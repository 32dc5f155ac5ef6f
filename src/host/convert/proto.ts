import { onnx } from 'onnx-proto';
import { writeChunksAtomic } from '../files';

/** ONNX element types used by the GPT-2 graphs (values of TensorProto.DataType). */
export const DataType = {
  float: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
} as const;
export type DataTypeName = keyof typeof DataType;

/** A dimension: a fixed size or a symbolic name ("batch_size"). */
export type Dim = number | string;

export type AttributeValue = number | string | number[] | { ints: number[] } | { float: number };

/** Typed data that can be stored as an initializer's raw_data (little-endian, as x86/ARM are). */
export type TensorData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

const ONNX_IR_VERSION = 8;
export const OPSET = 17;
export const MS_DOMAIN = 'com.microsoft';

function bytesOf(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function valueInfo(name: string, type: DataTypeName, dims: readonly Dim[]): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: DataType[type],
        shape: {
          dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

function attribute(name: string, value: AttributeValue): onnx.IAttributeProto {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof value === 'string') return { name, type: A.STRING, s: Buffer.from(value, 'utf8') };
  if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) return { name, type: A.FLOAT, f: value };
    return { name, type: A.INT, i: value };
  }
  if ('float' in value) return { name, type: A.FLOAT, f: value.float };
  return { name, type: A.INTS, ints: value.ints };
}

/**
 * Builds one ONNX ModelProto node by node. Tensor names are returned as strings so graph code
 * reads as dataflow: `const y = g.op('Add', [a, b])`.
 */
export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private readonly initializerNames = new Set<string>();
  private readonly constants = new Map<string, string>();
  private counter = 0;
  private usesMsDomain = false;

  /** A fresh tensor name with a readable prefix. */
  fresh(prefix: string): string {
    let name: string;
    do name = `/${prefix}_${this.counter++}`;
    while (this.names.has(name));
    this.names.add(name);
    return name;
  }

  input(name: string, type: DataTypeName, dims: readonly Dim[]): string {
    this.names.add(name);
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(name: string, type: DataTypeName, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Stores a constant tensor (weights) under `name`. */
  initializer(name: string, type: DataTypeName, dims: readonly number[], data: TensorData): string {
    if (this.initializerNames.has(name))
      throw new Error(`duplicate initializer name in graph: ${name}`);
    this.initializerNames.add(name);
    this.names.add(name);
    this.initializers.push({
      name,
      dataType: DataType[type],
      dims: [...dims],
      rawData: bytesOf(data),
    });
    return name;
  }

  /** A small constant (shapes, axes, scalars), shared between uses of the same value. */
  constInt64(values: readonly number[], scalar = false): string {
    const key = `i64:${scalar ? 's' : 'v'}:${values.join(',')}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = this.fresh('const');
    this.initializer(
      name,
      'int64',
      scalar ? [] : [values.length],
      BigInt64Array.from(values.map((v) => BigInt(v))),
    );
    this.constants.set(key, name);
    return name;
  }

  constFloat(value: number): string {
    const key = `f32:${value}`;
    const existing = this.constants.get(key);
    if (existing) return existing;
    const name = this.fresh('const');
    this.initializer(name, 'float', [], Float32Array.of(value));
    this.constants.set(key, name);
    return name;
  }

  /** Adds a node with one output and returns that output's name. */
  op(
    opType: string,
    inputs: readonly string[],
    attrs: Record<string, AttributeValue> = {},
    domain = '',
  ): string {
    return this.opN(opType, inputs, 1, attrs, domain)[0];
  }

  /** Adds a node with `outputCount` outputs. An input named '' is an omitted optional input. */
  opN(
    opType: string,
    inputs: readonly string[],
    outputCount: number,
    attrs: Record<string, AttributeValue> = {},
    domain = '',
  ): string[] {
    const outputs = Array.from({ length: outputCount }, () => this.fresh(opType));
    this.node(opType, inputs, outputs, attrs, domain);
    return outputs;
  }

  /** Adds a node writing to given output names (used for graph outputs). */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attrs: Record<string, AttributeValue> = {},
    domain = '',
  ): void {
    for (const o of outputs) this.names.add(o);
    if (domain === MS_DOMAIN) this.usesMsDomain = true;
    this.nodes.push({
      name: `${opType}_${this.nodes.length}`,
      opType,
      domain,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
  }

  /** Serialises the model. */
  toBytes(graphName = 'main_graph'): Uint8Array {
    const chunks: Uint8Array[] = [];
    this.encode(graphName, (chunk) => chunks.push(chunk));
    return Buffer.concat(chunks);
  }

  /**
   * Writes the same bytes as `toBytes` to `file` (through a partial file and a rename) without
   * making a second copy of the weights: each initializer's data is written from where it is.
   */
  writeTo(file: string, graphName = 'main_graph'): void {
    writeChunksAtomic(file, (write) => this.encode(graphName, write));
  }

  /**
   * The ModelProto in field order, as protobufjs encodes it (so the bytes equal its own): the
   * graph's nested length is computed first, and raw_data goes out as it is stored.
   */
  private encode(graphName: string, emit: (chunk: Uint8Array) => void): void {
    const opsetImport: onnx.IOperatorSetIdProto[] = [{ domain: '', version: OPSET }];
    if (this.usesMsDomain) opsetImport.push({ domain: MS_DOMAIN, version: 1 });
    // ModelProto: ir_version (1), producer_name (2), graph (7), opset_import (8).
    const modelHead = onnx.ModelProto.encode({
      irVersion: ONNX_IR_VERSION,
      producerName: 'gpt2-heads',
    }).finish();
    const modelTail = onnx.ModelProto.encode({ opsetImport }).finish();
    // GraphProto: node (1), name (2), initializer (5), input (11), output (12).
    const graphHead = onnx.GraphProto.encode({ node: this.nodes, name: graphName }).finish();
    const graphTail = onnx.GraphProto.encode({ input: this.inputs, output: this.outputs }).finish();
    // TensorProto: dims (1), data_type (2), name (8), raw_data (9).
    const tensors = this.initializers.map(({ rawData, ...meta }) => {
      const raw = rawData as Uint8Array;
      const head = onnx.TensorProto.encode(meta).finish();
      const rawHead = Buffer.concat([Buffer.of(RAW_DATA_TAG), varint(raw.length)]);
      return { head, rawHead, raw, length: head.length + rawHead.length + raw.length };
    });
    const graphLength =
      graphHead.length +
      tensors.reduce((sum, t) => sum + 1 + varint(t.length).length + t.length, 0) +
      graphTail.length;
    emit(modelHead);
    emit(Buffer.concat([Buffer.of(GRAPH_TAG), varint(graphLength)]));
    emit(graphHead);
    for (const tensor of tensors) {
      emit(
        Buffer.concat([
          Buffer.of(INITIALIZER_TAG),
          varint(tensor.length),
          tensor.head,
          tensor.rawHead,
        ]),
      );
      emit(tensor.raw);
    }
    emit(graphTail);
    emit(modelTail);
  }
}

// Length-delimited field tags: (field number << 3) | 2.
const GRAPH_TAG = (7 << 3) | 2; // ModelProto.graph
const INITIALIZER_TAG = (5 << 3) | 2; // GraphProto.initializer
const RAW_DATA_TAG = (9 << 3) | 2; // TensorProto.raw_data

/** A protobuf base-128 varint. */
function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v >= 0x80) {
    bytes.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}
