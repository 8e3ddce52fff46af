import { endianness } from "node:os";
import type {
  OnnxAttributeMessage,
  OnnxDataTypeCode,
  OnnxDimension,
  OnnxModelMessage,
  OnnxNodeMessage,
  OnnxTensorMessage,
  OnnxValueInfoMessage,
} from "./onnx-schema.js";
import { encodeOnnxModel, OnnxAttributeType, OnnxDataType } from "./onnx-schema.js";

/** An attribute value: a number is an INT unless given as `{ float }`; arrays of integers are INTS. */
export type OnnxAttributeValue = number | { float: number } | { floats: number[] } | number[] | string;

/** A graph input or output: element type and shape, a string naming a dynamic axis. */
export interface OnnxTensorSpec {
  name: string;
  dataType: OnnxDataTypeCode;
  shape: (number | string)[];
  docString?: string;
}

/** Model-level fields of {@link OnnxGraphBuilder.toModelBytes}. */
export interface OnnxModelInfo {
  /** Default-domain opset. */
  opset: number;
  /** `ModelProto.ir_version` (8 goes with opset 17). */
  irVersion: number;
  producerName: string;
  producerVersion: string;
  docString?: string;
  /** `metadata_props`, readable by any ONNX host. */
  metadata?: Record<string, string>;
}

/** The largest protobuf message (2 GiB): ONNX files above it need external data, which is not written here. */
export const ONNX_PROTOBUF_LIMIT_BYTES = 2 ** 31 - 1;

function littleEndianBytes(view: ArrayBufferView): Uint8Array {
  // Typed arrays use the platform's byte order; ONNX raw_data is little-endian.
  if (endianness() !== "LE") throw new Error("writing ONNX raw_data needs a little-endian platform");
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * Builds an ONNX graph node by node with generated unique value names, then serializes it. Small on
 * purpose: each method appends one node or initializer and returns the name of its output, so graph code
 * reads like the forward pass it mirrors.
 */
export class OnnxGraphBuilder {
  private readonly nodes: OnnxNodeMessage[] = [];
  private readonly initializers: OnnxTensorMessage[] = [];
  private readonly inputs: OnnxValueInfoMessage[] = [];
  private readonly outputs: OnnxValueInfoMessage[] = [];
  private readonly names = new Set<string>();
  private readonly int64Constants = new Map<string, string>();
  private readonly floatConstants = new Map<number, string>();
  private counter = 0;
  private initializerBytes = 0;

  constructor(readonly graphName: string) {}

  /** Bytes of initializer data so far. */
  get weightBytes(): number {
    return this.initializerBytes;
  }

  private unique(base: string): string {
    let name = base;
    while (this.names.has(name)) name = `${base}_${this.counter++}`;
    this.names.add(name);
    return name;
  }

  /** Declares a graph input; returns its name. @throws Error when the name is taken. */
  input(spec: OnnxTensorSpec): string {
    if (this.names.has(spec.name)) throw new Error(`ONNX graph: value name '${spec.name}' is already used`);
    this.names.add(spec.name);
    this.inputs.push(valueInfo(spec));
    return spec.name;
  }

  /** Declares `value` as a graph output under `spec.name` (an Identity node when the names differ). */
  output(value: string, spec: OnnxTensorSpec): void {
    const name = value === spec.name ? value : this.node("Identity", [value], {}, spec.name);
    this.outputs.push(valueInfo({ ...spec, name }));
  }

  /** A float32 initializer of `shape` (row-major); returns its name. @throws RangeError on a size mismatch. */
  float32(name: string, data: Float32Array, shape: number[]): string {
    return this.initializer(name, OnnxDataType.FLOAT, data, shape);
  }

  /** An int64 initializer; returns its name. */
  int64(name: string, values: readonly number[], shape: number[] = [values.length]): string {
    return this.initializer(name, OnnxDataType.INT64, BigInt64Array.from(values.map(BigInt)), shape);
  }

  /** A shared 1-D int64 constant (deduplicated by value), e.g. Reshape targets and axes. */
  int64Vector(values: readonly number[]): string {
    const key = values.join(",");
    let name = this.int64Constants.get(key);
    if (name === undefined) {
      name = this.int64(`const_i64_${values.map((v) => (v < 0 ? `m${-v}` : v)).join("_")}`, values);
      this.int64Constants.set(key, name);
    }
    return name;
  }

  /** A shared int64 scalar (rank 0). */
  int64Scalar(value: number): string {
    const key = `scalar:${value}`;
    let name = this.int64Constants.get(key);
    if (name === undefined) {
      name = this.int64(`const_i64_scalar_${value < 0 ? `m${-value}` : value}`, [value], []);
      this.int64Constants.set(key, name);
    }
    return name;
  }

  /** A shared float32 scalar (rank 0). */
  float32Scalar(value: number): string {
    let name = this.floatConstants.get(value);
    if (name === undefined) {
      name = this.float32(`const_f32_${this.floatConstants.size}`, Float32Array.of(value), []);
      this.floatConstants.set(value, name);
    }
    return name;
  }

  private initializer(
    name: string,
    dataType: OnnxDataTypeCode,
    data: Float32Array | BigInt64Array,
    shape: number[],
  ): string {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw new RangeError(
        `ONNX initializer '${name}': shape [${shape.join(", ")}] needs ${size} values, got ${data.length}`,
      );
    }
    const unique = this.unique(name);
    this.initializers.push({ name: unique, dims: shape, dataType, rawData: littleEndianBytes(data) });
    this.initializerBytes += data.byteLength;
    return unique;
  }

  /**
   * Appends a node of the default domain; returns the name of its first output.
   * @param outputName the output's name (default: generated from the op type).
   */
  node(
    opType: string,
    inputs: string[],
    attributes: Record<string, OnnxAttributeValue> = {},
    outputName?: string,
  ): string {
    return this.nodeWithOutputs(
      opType,
      inputs,
      1,
      attributes,
      outputName === undefined ? undefined : [outputName],
    )[0]!;
  }

  /** Appends a node with `outputCount` outputs (Split); returns their names. */
  nodeWithOutputs(
    opType: string,
    inputs: string[],
    outputCount: number,
    attributes: Record<string, OnnxAttributeValue> = {},
    outputNames?: string[],
  ): string[] {
    const name = this.unique(`${opType}_${this.nodes.length}`);
    const output = Array.from({ length: outputCount }, (_, index) =>
      this.unique(outputNames?.[index] ?? `${name}_out${index}`),
    );
    this.nodes.push({
      name,
      opType,
      input: inputs,
      output,
      attribute: Object.entries(attributes).map(([key, value]) => attribute(key, value)),
    });
    return output;
  }

  /**
   * The serialized `ModelProto`.
   * @throws Error when the weights exceed protobuf's 2 GiB message limit.
   */
  toModelBytes(info: OnnxModelInfo): Uint8Array {
    if (this.initializerBytes > ONNX_PROTOBUF_LIMIT_BYTES - 64 * 2 ** 20) {
      throw new Error(
        `ONNX graph '${this.graphName}': ${(this.initializerBytes / 2 ** 30).toFixed(2)} GiB of weights exceed ` +
          "protobuf's 2 GiB limit for one file (ONNX external data is not implemented by this writer)",
      );
    }
    const model: OnnxModelMessage = {
      irVersion: info.irVersion,
      opsetImport: [{ domain: "", version: info.opset }],
      producerName: info.producerName,
      producerVersion: info.producerVersion,
      docString: info.docString ?? "",
      graph: {
        name: this.graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(info.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
    return encodeOnnxModel(model);
  }
}

function valueInfo(spec: OnnxTensorSpec): OnnxValueInfoMessage {
  const dim: OnnxDimension[] = spec.shape.map((size) =>
    typeof size === "number" ? { dimValue: size } : { dimParam: size },
  );
  return {
    name: spec.name,
    type: { tensorType: { elemType: spec.dataType, shape: { dim } } },
    ...(spec.docString === undefined ? {} : { docString: spec.docString }),
  };
}

function attribute(name: string, value: OnnxAttributeValue): OnnxAttributeMessage {
  if (typeof value === "number") {
    if (!Number.isInteger(value))
      throw new Error(`ONNX attribute '${name}': ${value} is not an integer; pass { float }`);
    return { name, type: OnnxAttributeType.INT, i: value };
  }
  if (typeof value === "string")
    return { name, type: OnnxAttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: OnnxAttributeType.INTS, ints: value };
  if ("float" in value) return { name, type: OnnxAttributeType.FLOAT, f: value.float };
  return { name, type: OnnxAttributeType.FLOATS, floats: value.floats };
}
