import { endianness } from "node:os";
import { basename } from "node:path";
import type {
  OnnxAttributeMessage,
  OnnxDataTypeCode,
  OnnxDimension,
  OnnxModelMessage,
  OnnxNodeMessage,
  OnnxTensorMessage,
  OnnxValueInfoMessage,
} from "./onnx-schema.js";
import { encodeOnnxModel, OnnxAttributeType, OnnxDataLocation, OnnxDataType } from "./onnx-schema.js";

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

/** The largest protobuf message (2 GiB): a model whose weights do not fit needs ONNX external data. */
export const ONNX_PROTOBUF_LIMIT_BYTES = 2 ** 31 - 1;

/**
 * Default threshold of {@link OnnxSerializeOptions.externalDataThreshold}: weights above it go to an
 * external data file. 64 MiB below protobuf's limit, room for the graph and the metadata.
 */
export const ONNX_EXTERNAL_DATA_THRESHOLD_BYTES = ONNX_PROTOBUF_LIMIT_BYTES - 64 * 2 ** 20;

/** Initializers smaller than this stay inside the model file even with external data (constants, scalars). */
const EXTERNAL_MIN_BYTES = 1024;

/** How float weights are stored. */
export type OnnxWeightType = "float32" | "float16";

/** How {@link OnnxGraphBuilder.serialize} lays out the weights. */
export interface OnnxSerializeOptions {
  /**
   * `float16` stores every weight matrix (rank 2, at least 2 x 2: embeddings and projections) as FLOAT16
   * and converts it back with a `Cast` to float32 at the start of the graph, so the arithmetic stays
   * float32; vectors (norm weights, biases, rotary tables) and the value head stay float32. Default float32.
   */
  weightType?: OnnxWeightType;
  /**
   * Put weights in a separate file (ONNX external data): `true`, `false`, or `"auto"` (default): when the
   * weights exceed `externalDataThreshold`.
   */
  externalData?: boolean | "auto";
  /** Bytes of weights above which `"auto"` chooses external data (default {@link ONNX_EXTERNAL_DATA_THRESHOLD_BYTES}). */
  externalDataThreshold?: number;
}

/** One chunk of the external data file, in order. */
export type OnnxDataChunk = Uint8Array;

/** What {@link OnnxGraphBuilder.serialize} produces. */
export interface SerializedOnnxModel {
  /** The `ModelProto` bytes (without the external weights when `dataFile` is set). */
  model: Uint8Array;
  /**
   * With external data: the data file's name (relative to the model file, as the tensors' `location`
   * says), its size, and its chunks, produced one tensor at a time (iterate once).
   */
  dataFile?: { location: string; bytes: number; chunks: Iterable<OnnxDataChunk> };
  /** Bytes of weights as stored (after the float16 conversion). */
  weightBytes: number;
  weightType: OnnxWeightType;
}

function littleEndianBytes(view: ArrayBufferView): Uint8Array {
  // Typed arrays use the platform's byte order; ONNX raw_data and external data are little-endian.
  if (endianness() !== "LE") throw new Error("writing ONNX weights needs a little-endian platform");
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

interface PendingInitializer {
  name: string;
  dims: number[];
  dataType: OnnxDataTypeCode;
  data: Float32Array | BigInt64Array | Uint16Array;
}

function tensorBytes(initializer: PendingInitializer): number {
  return initializer instanceof LazyFloat16Initializer ? initializer.byteLength : initializer.data.byteLength;
}

// float32 -> float16 conversion, round to nearest even (as numpy's astype(float16) and torch's .half()).
const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

/** The IEEE 754 half-precision bits of `value` rounded to nearest even; overflow gives ±Infinity. */
export function float32ToFloat16Bits(value: number): number {
  f32[0] = value;
  const bits = f32Bits[0] as number;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa === 0 ? 0 : 0x200 | (mantissa >>> 13)); // Inf, NaN
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00; // too large: infinity
  if (halfExponent <= 0) {
    // Subnormal half (or zero): value = m * 2^-24 with m = round(|value| * 2^24).
    if (halfExponent < -10) return sign; // below half the smallest subnormal: zero
    const full = mantissa | 0x800000; // 24 significant bits
    const shift = 14 - halfExponent; // 14..24
    const half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    const rounded = rest > midpoint || (rest === midpoint && (half & 1) === 1) ? half + 1 : half;
    return sign | rounded; // a carry into bit 10 gives the smallest normal, as it should
  }
  const half = (halfExponent << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  const rounded = rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1) ? half + 1 : half;
  return sign | rounded; // a carry may reach the exponent (and 0x7c00 = infinity): still correct
}

/** float32 values to float16 bits, round to nearest even. */
export function float32ArrayToFloat16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let index = 0; index < values.length; index++)
    out[index] = float32ToFloat16Bits(values[index] as number);
  return out;
}

/**
 * Builds an ONNX graph node by node with generated unique value names, then serializes it. Small on
 * purpose: each method appends one node or initializer and returns the name of its output, so graph code
 * reads like the forward pass it mirrors.
 */
export class OnnxGraphBuilder {
  private readonly nodes: OnnxNodeMessage[] = [];
  private readonly initializers: PendingInitializer[] = [];
  private readonly inputs: OnnxValueInfoMessage[] = [];
  private readonly outputs: OnnxValueInfoMessage[] = [];
  private readonly names = new Set<string>();
  private readonly int64Constants = new Map<string, string>();
  private readonly floatConstants = new Map<number, string>();
  private counter = 0;
  private initializerBytes = 0;
  private consumed = false;

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
    this.initializers.push({ name: unique, dims: shape, dataType, data });
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
   * The serialized `ModelProto`, weights inside (float32, or float16 with `weightType`).
   * @throws Error when the weights exceed protobuf's 2 GiB message limit (write a file with external
   *   data instead: {@link OnnxGraphBuilder.serialize}).
   */
  toModelBytes(info: OnnxModelInfo, options: Pick<OnnxSerializeOptions, "weightType"> = {}): Uint8Array {
    const serialized = this.serialize(info, "model.onnx", { ...options, externalData: false });
    return serialized.model;
  }

  /**
   * Serializes the model for a file named `fileName`: weights inside the `ModelProto`, or, with external
   * data, in a data file `<fileName>.data` beside it (each tensor `data_location: EXTERNAL` with
   * `location`, `offset`, `length`; offsets aligned to 64 KiB for tensors of 1 MiB or more, else to 64
   * bytes; tensors under 1 KiB stay inside). The model bytes are then small whatever the weights, and the
   * data file's chunks are produced one tensor at a time (converted to float16 on the way when asked), so
   * no buffer ever holds all the weights. Each builder serializes once with external data (the chunks
   * release the weights as they go).
   * @throws Error when weights kept inside exceed protobuf's 2 GiB limit, or the builder was consumed.
   */
  serialize(info: OnnxModelInfo, fileName: string, options: OnnxSerializeOptions = {}): SerializedOnnxModel {
    if (this.consumed) throw new Error(`ONNX graph '${this.graphName}': already written with external data`);
    const weightType = options.weightType ?? "float32";
    const { initializers, casts } = this.storedInitializers(weightType);
    const weightBytes = initializers.reduce((total, initializer) => total + tensorBytes(initializer), 0);
    const threshold = options.externalDataThreshold ?? ONNX_EXTERNAL_DATA_THRESHOLD_BYTES;
    const mode = options.externalData ?? "auto";
    const external = mode === true || (mode === "auto" && weightBytes > threshold);
    const messages: OnnxTensorMessage[] = [];
    let dataFile: SerializedOnnxModel["dataFile"];
    if (external) {
      const location = `${basename(fileName)}.data`;
      const placed: { initializer: PendingInitializer; offset: number }[] = [];
      let offset = 0;
      for (const initializer of initializers) {
        const bytes = tensorBytes(initializer);
        if (bytes < EXTERNAL_MIN_BYTES) {
          messages.push(inlineTensor(initializer));
          continue;
        }
        const alignment = bytes >= 2 ** 20 ? 65536 : 64;
        offset = Math.ceil(offset / alignment) * alignment;
        placed.push({ initializer, offset });
        messages.push({
          name: initializer.name,
          dims: initializer.dims,
          dataType: initializer.dataType,
          dataLocation: OnnxDataLocation.EXTERNAL,
          externalData: [
            { key: "location", value: location },
            { key: "offset", value: String(offset) },
            { key: "length", value: String(bytes) },
          ],
        });
        offset += bytes;
      }
      this.consumed = true;
      dataFile = { location, bytes: offset, chunks: externalChunks(placed) };
    } else {
      if (weightBytes > ONNX_PROTOBUF_LIMIT_BYTES - 64 * 2 ** 20) {
        throw new Error(
          `ONNX graph '${this.graphName}': ${(weightBytes / 2 ** 30).toFixed(2)} GiB of weights exceed ` +
            "protobuf's 2 GiB limit for one message; write a file with external data",
        );
      }
      for (const initializer of initializers) messages.push(inlineTensor(initializer));
    }
    const model: OnnxModelMessage = {
      irVersion: info.irVersion,
      opsetImport: [{ domain: "", version: info.opset }],
      producerName: info.producerName,
      producerVersion: info.producerVersion,
      docString: info.docString ?? "",
      graph: {
        name: this.graphName,
        node: withCastsBeforeUse(this.nodes, casts),
        initializer: messages,
        input: this.inputs,
        output: this.outputs,
      },
      metadataProps: Object.entries(info.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
    return {
      model: encodeOnnxModel(model),
      ...(dataFile === undefined ? {} : { dataFile }),
      weightBytes,
      weightType,
    };
  }

  /**
   * The initializers as they will be stored: with float16, each weight matrix becomes a FLOAT16 tensor
   * `<name>.float16` (converted lazily, see `externalChunks`/`inlineTensor`) and a `Cast` node gives back
   * `<name>` in float32, so the nodes that read it are unchanged.
   */
  private storedInitializers(weightType: OnnxWeightType): {
    initializers: PendingInitializer[];
    casts: OnnxNodeMessage[];
  } {
    if (weightType === "float32") return { initializers: this.initializers, casts: [] };
    const initializers: PendingInitializer[] = [];
    const casts: OnnxNodeMessage[] = [];
    for (const initializer of this.initializers) {
      const matrix =
        initializer.dataType === OnnxDataType.FLOAT &&
        initializer.dims.length === 2 &&
        (initializer.dims[0] as number) >= 2 &&
        (initializer.dims[1] as number) >= 2;
      if (!matrix) {
        initializers.push(initializer);
        continue;
      }
      const stored = `${initializer.name}.float16`;
      if (this.names.has(stored)) throw new Error(`ONNX graph: value name '${stored}' is already used`);
      initializers.push(new LazyFloat16Initializer(stored, initializer));
      casts.push({
        name: `Cast_${initializer.name}`,
        opType: "Cast",
        input: [stored],
        output: [initializer.name],
        attribute: [{ name: "to", type: OnnxAttributeType.INT, i: OnnxDataType.FLOAT }],
      });
    }
    return { initializers, casts };
  }
}

/** A float32 initializer stored as float16: converted when its bytes are first asked for. */
class LazyFloat16Initializer implements PendingInitializer {
  readonly dims: number[];
  readonly dataType = OnnxDataType.FLOAT16;
  /** Bytes once converted (known without converting). */
  readonly byteLength: number;
  private converted: Uint16Array | undefined;

  constructor(
    readonly name: string,
    /** The float32 initializer (the builder's own object). */
    readonly source: PendingInitializer,
  ) {
    this.dims = source.dims;
    this.byteLength = source.data.length * 2;
  }

  get data(): Uint16Array {
    this.converted ??= float32ArrayToFloat16(this.source.data as Float32Array);
    return this.converted;
  }

  /** Drops both copies (once written). */
  release(): void {
    this.converted = new Uint16Array(0);
    this.source.data = new Float32Array(0);
  }
}

/**
 * The nodes with each float16 `Cast` placed right before the first node that reads its output, so that a
 * runtime executing in list order (with constant folding off) holds one float32 copy at a time rather than
 * all of them. Casts whose output nothing reads are dropped.
 */
function withCastsBeforeUse(
  nodes: readonly OnnxNodeMessage[],
  casts: readonly OnnxNodeMessage[],
): OnnxNodeMessage[] {
  const pending = new Map(casts.map((cast) => [cast.output[0] as string, cast]));
  const out: OnnxNodeMessage[] = [];
  for (const node of nodes) {
    for (const input of node.input) {
      const cast = pending.get(input);
      if (cast !== undefined) {
        out.push(cast);
        pending.delete(input);
      }
    }
    out.push(node);
  }
  return out;
}

function inlineTensor(initializer: PendingInitializer): OnnxTensorMessage {
  return {
    name: initializer.name,
    dims: initializer.dims,
    dataType: initializer.dataType,
    rawData: littleEndianBytes(initializer.data),
  };
}

/**
 * The data file, tensor by tensor: zero padding up to each tensor's offset, then its little-endian bytes.
 * Once a tensor is written the builder's references to its arrays are dropped, so memory falls as the
 * file grows.
 */
function* externalChunks(
  placed: readonly { initializer: PendingInitializer; offset: number }[],
): Generator<OnnxDataChunk> {
  let position = 0;
  for (const { initializer, offset } of placed) {
    if (offset > position) {
      yield new Uint8Array(offset - position);
      position = offset;
    }
    const bytes = littleEndianBytes(initializer.data);
    yield bytes;
    position += bytes.byteLength;
    if (initializer instanceof LazyFloat16Initializer) initializer.release();
    else initializer.data = new Float32Array(0);
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
