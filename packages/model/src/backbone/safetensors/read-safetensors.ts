// Hand-written: npm has no maintained safetensors reader for Node (the `safetensors` package there is
// a browser toy), and the format is an 8-byte length, a JSON header and raw little-endian bytes.
import { existsSync } from "node:fs";
import { open, readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { ModelLoadError } from "../model-load-error.js";
import { decodeBfloat16, decodeFloat16 } from "./half-float.js";

/** Element types this reader decodes (to float32 for floats, to int32 for integers). */
export type SafetensorsDtype = "F32" | "F16" | "BF16" | "I32" | "I64";

const bytesPerElement: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };

/** One tensor's header entry: dtype, shape and byte range `[begin, end)` within the data section. */
export interface SafetensorsEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  dataOffsets: [number, number];
}

/** A parsed safetensors file: header entries in file order, `__metadata__`, and the raw bytes. */
export class SafetensorsFile {
  /** Entries by tensor name, in header order. */
  readonly entries: Map<string, SafetensorsEntry>;
  /** The `__metadata__` string map (empty when absent). */
  readonly metadata: Record<string, string>;
  /** The file name used in error messages. */
  readonly file: string;
  private readonly bytes: Uint8Array;
  private readonly dataStart: number;

  constructor(
    file: string,
    bytes: Uint8Array,
    dataStart: number,
    entries: Map<string, SafetensorsEntry>,
    metadata: Record<string, string>,
  ) {
    this.file = file;
    this.bytes = bytes;
    this.dataStart = dataStart;
    this.entries = entries;
    this.metadata = metadata;
  }

  /**
   * The tensor `name` as float32 (F32 copied or viewed, F16/BF16 widened). Always a fresh array
   * that the caller may keep: a view on an unaligned Node buffer is impossible, and a shared view
   * would pin the whole file.
   * @throws ModelLoadError when the tensor is absent or is an integer tensor.
   */
  float32(name: string): Float32Array {
    const entry = this.entry(name);
    const start = this.dataStart + entry.dataOffsets[0];
    const count = elementCount(entry.shape);
    switch (entry.dtype) {
      case "F32": {
        const out = new Float32Array(count);
        new Uint8Array(out.buffer).set(this.bytes.subarray(start, start + 4 * count));
        return out;
      }
      case "F16":
        return decodeFloat16(this.bytes, start, count);
      case "BF16":
        return decodeBfloat16(this.bytes, start, count);
      default:
        throw new ModelLoadError(this.file, name, `dtype ${entry.dtype} is not a float type`);
    }
  }

  /**
   * The integer tensor `name` as int32 (I64 narrowed).
   * @throws ModelLoadError when absent, a float tensor, or an I64 value outside the int32 range.
   */
  int32(name: string): Int32Array {
    const entry = this.entry(name);
    const start = this.dataStart + entry.dataOffsets[0];
    const count = elementCount(entry.shape);
    const view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    const out = new Int32Array(count);
    if (entry.dtype === "I32") {
      for (let index = 0; index < count; index++) out[index] = view.getInt32(start + 4 * index, true);
      return out;
    }
    if (entry.dtype === "I64") {
      for (let index = 0; index < count; index++) {
        const value = view.getBigInt64(start + 8 * index, true);
        if (value > 2147483647n || value < -2147483648n) {
          throw new ModelLoadError(
            this.file,
            name,
            `I64 value ${value} at index ${index} does not fit in int32`,
          );
        }
        out[index] = Number(value);
      }
      return out;
    }
    throw new ModelLoadError(this.file, name, `dtype ${entry.dtype} is not an integer type`);
  }

  /** The header entry of `name`. @throws ModelLoadError when absent. */
  entry(name: string): SafetensorsEntry {
    const entry = this.entries.get(name);
    if (entry === undefined) throw new ModelLoadError(this.file, name, "tensor not found");
    return entry;
  }
}

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const size of shape) count *= size;
  return count;
}

/**
 * Parses safetensors bytes: checks the header length, the JSON, `__metadata__` (a map of strings),
 * every entry's dtype, shape and offsets (inside the data section, matching shape × dtype size).
 * @param file the name used in error messages.
 * @throws ModelLoadError naming the file, the tensor (or `__metadata__`) and the byte range for any
 *   inconsistency or unsupported dtype.
 */
export function parseSafetensors(bytes: Uint8Array, file: string): SafetensorsFile {
  if (bytes.byteLength < 8)
    throw new ModelLoadError(file, undefined, `file is ${bytes.byteLength} bytes, too short`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = checkedHeaderLength(view.getBigUint64(0, true), bytes.byteLength, file);
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + headerLength), bytes.byteLength, file);
  return new SafetensorsFile(file, bytes, header.dataStart, header.entries, header.metadata);
}

/** A safetensors header, checked against the size of its file (see {@link parseSafetensorsHeader}). */
export interface SafetensorsHeader {
  /** Byte offset of the data section in the file. */
  dataStart: number;
  /** Entries by tensor name, in header order. */
  entries: Map<string, SafetensorsEntry>;
  /** The `__metadata__` string map (empty when absent). */
  metadata: Record<string, string>;
}

function checkedHeaderLength(declared: bigint, fileSize: number, file: string): number {
  if (declared > BigInt(fileSize - 8)) {
    throw new ModelLoadError(
      file,
      undefined,
      `header length ${declared} (bytes 0-7) exceeds the ${fileSize - 8} bytes after it`,
    );
  }
  return Number(declared);
}

/**
 * Parses and checks a safetensors header (the JSON after the 8-byte length) against the size of its
 * file, so that a header alone can be read and trusted without the tensors' bytes (a 7B model's
 * weights are never read to look at their names): every entry's dtype, shape and offsets (inside
 * the data section, matching shape × dtype size).
 * @param headerBytes the header's JSON bytes (file bytes 8 to 8 + length).
 * @param fileSize the whole file's size in bytes.
 * @param file the name used in error messages.
 * @throws ModelLoadError naming the file, the tensor (or `__metadata__`) and the byte range.
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array,
  fileSize: number,
  file: string,
): SafetensorsHeader {
  const headerLength = headerBytes.byteLength;
  const headerRange = `bytes 8-${8 + headerLength - 1}`;
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(headerBytes));
  } catch (cause) {
    const reason = cause instanceof Error ? `: ${cause.message.replace(/\s+/g, " ")}` : "";
    throw new ModelLoadError(file, undefined, `header (${headerRange}) is not valid JSON${reason}`, {
      cause,
    });
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    throw new ModelLoadError(file, undefined, `header (${headerRange}) is not a JSON object`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = fileSize - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    // A tensor name with control characters or line breaks is quoted in messages, which stay one line.
    const printable = /[\p{C}\n\r]/u.test(name) ? JSON.stringify(name) : name;
    if (name === "__metadata__") {
      if (
        typeof raw !== "object" ||
        raw === null ||
        Array.isArray(raw) ||
        !Object.values(raw).every((value) => typeof value === "string")
      ) {
        throw new ModelLoadError(file, printable, `expected a map of strings, got ${JSON.stringify(raw)}`);
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw new ModelLoadError(
        file,
        printable,
        `expected an object with dtype, shape and data_offsets, got ${JSON.stringify(raw)}`,
      );
    }
    const record = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = record.dtype;
    if (typeof dtype !== "string" || !(dtype in bytesPerElement)) {
      throw new ModelLoadError(
        file,
        printable,
        `unsupported dtype ${JSON.stringify(dtype)} (supported: F32, F16, BF16, I32, I64)`,
      );
    }
    const shape = record.shape;
    if (!Array.isArray(shape) || !shape.every((size) => Number.isInteger(size) && size >= 0)) {
      throw new ModelLoadError(file, printable, `bad shape ${JSON.stringify(shape)}`);
    }
    const offsets = record.data_offsets;
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isInteger(o) && o >= 0)
    ) {
      throw new ModelLoadError(file, printable, `bad data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const expectedBytes = elementCount(shape as number[]) * bytesPerElement[dtype as SafetensorsDtype];
    if (end - begin !== expectedBytes || end > dataLength) {
      throw new ModelLoadError(
        file,
        printable,
        `data_offsets [${begin}, ${end}] (bytes ${dataStart + begin}-${dataStart + end - 1} of the file) do not ` +
          `hold ${expectedBytes} bytes inside a data section of ${dataLength} (from byte ${dataStart})`,
      );
    }
    entries.set(name, {
      name,
      dtype: dtype as SafetensorsDtype,
      shape: shape as number[],
      dataOffsets: [begin, end],
    });
  }
  return { dataStart, entries, metadata };
}

/** Reads and parses one `.safetensors` file. @throws ModelLoadError (see `parseSafetensors`). */
export async function readSafetensorsFile(path: string): Promise<SafetensorsFile> {
  const bytes = await readFile(path);
  return parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/**
 * Reads and checks only the header of a `.safetensors` file (the tensors' bytes stay on disk).
 * @throws ModelLoadError as {@link parseSafetensorsHeader}, and for a file too short for its header.
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const lengthBytes = Buffer.alloc(8);
    if (size < 8 || (await handle.read(lengthBytes, 0, 8, 0)).bytesRead !== 8)
      throw new ModelLoadError(path, undefined, `file is ${size} bytes, too short`);
    const headerLength = checkedHeaderLength(lengthBytes.readBigUInt64LE(0), size, path);
    const header = Buffer.alloc(headerLength);
    await handle.read(header, 0, headerLength, 8);
    return parseSafetensorsHeader(header, size, path);
  } finally {
    await handle.close();
  }
}

/** All tensors of a checkpoint folder, single-file or sharded, looked up by name. */
export class SafetensorsCheckpoint {
  /** The folder the checkpoint was read from. */
  readonly folder: string;
  private readonly fileByTensor: Map<string, SafetensorsFile>;

  constructor(folder: string, fileByTensor: Map<string, SafetensorsFile>) {
    this.folder = folder;
    this.fileByTensor = fileByTensor;
  }

  /** Tensor names in the checkpoint. */
  names(): string[] {
    return [...this.fileByTensor.keys()];
  }

  /** Whether a tensor named `name` exists. */
  has(name: string): boolean {
    return this.fileByTensor.has(name);
  }

  /** The header entry of `name` and the file it is in. @throws ModelLoadError when absent. */
  locate(name: string): { file: SafetensorsFile; entry: SafetensorsEntry } {
    const file = this.fileByTensor.get(name);
    if (file === undefined) {
      throw new ModelLoadError(
        join(this.folder, "model.safetensors"),
        name,
        "tensor not found in the checkpoint",
      );
    }
    return { file, entry: file.entry(name) };
  }

  /** The tensor as float32. @throws ModelLoadError when absent or not a float tensor. */
  float32(name: string): Float32Array {
    return this.locate(name).file.float32(name);
  }
}

/**
 * Opens the weights of a Hugging Face checkpoint folder: `model.safetensors`, or the shards listed
 * in `model.safetensors.index.json` (`weight_map`: tensor name → shard file).
 * @throws ModelLoadError when neither file exists, the index is malformed, or a shard is missing
 *   or lacks a tensor the index assigns to it.
 */
export async function openSafetensorsCheckpoint(folder: string): Promise<SafetensorsCheckpoint> {
  const single = join(folder, "model.safetensors");
  const indexPath = join(folder, "model.safetensors.index.json");
  const fileByTensor = new Map<string, SafetensorsFile>();
  if (existsSync(indexPath)) {
    let index: { weight_map?: unknown };
    try {
      index = JSON.parse(await readFile(indexPath, "utf8")) as { weight_map?: unknown };
    } catch (cause) {
      throw new ModelLoadError(indexPath, undefined, "not valid JSON", { cause });
    }
    const weightMap = index.weight_map;
    if (typeof weightMap !== "object" || weightMap === null) {
      throw new ModelLoadError(indexPath, "weight_map", "missing or not an object");
    }
    const shards = new Map<string, SafetensorsFile>();
    for (const [tensor, shard] of Object.entries(weightMap as Record<string, unknown>)) {
      if (typeof shard !== "string" || shard !== basename(shard)) {
        throw new ModelLoadError(
          indexPath,
          `weight_map.${tensor}`,
          `expected a shard file name, got ${JSON.stringify(shard)}`,
        );
      }
      let file = shards.get(shard);
      if (file === undefined) {
        const shardPath = join(folder, shard);
        if (!existsSync(shardPath))
          throw new ModelLoadError(indexPath, `weight_map.${tensor}`, `shard ${shard} does not exist`);
        file = await readSafetensorsFile(shardPath);
        shards.set(shard, file);
      }
      if (!file.entries.has(tensor))
        throw new ModelLoadError(file.file, tensor, "listed in the index but not in the shard");
      fileByTensor.set(tensor, file);
    }
    return new SafetensorsCheckpoint(folder, fileByTensor);
  }
  if (!existsSync(single)) {
    throw new ModelLoadError(
      folder,
      undefined,
      "no model.safetensors or model.safetensors.index.json in this folder",
    );
  }
  const file = await readSafetensorsFile(single);
  for (const name of file.entries.keys()) fileByTensor.set(name, file);
  return new SafetensorsCheckpoint(folder, fileByTensor);
}
