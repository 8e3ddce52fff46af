import { open } from "node:fs/promises";
import { ModelLoadError } from "../backbone/model-load-error.js";

/** One tensor of a safetensors file as its header describes it. */
export interface SafetensorsHeaderEntry {
  dtype: string;
  shape: number[];
  /** `[begin, end)` byte offsets into the data that follows the header. */
  dataOffsets: [number, number];
}

/** The header of a safetensors file, read without reading the tensors. */
export interface SafetensorsHeader {
  path: string;
  /** Where the tensor data starts in the file (8 + header length). */
  dataStart: number;
  metadata: Record<string, string> | undefined;
  tensors: Map<string, SafetensorsHeaderEntry>;
}

const ELEMENT_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/**
 * Reads the header of a safetensors file (8-byte little-endian length, then JSON) and checks every
 * entry's dtype, shape and byte range against the file's size, without reading the tensor data.
 * @throws ModelLoadError naming the file and the tensor for anything malformed.
 */
export async function readSafetensorsHeader(path: string): Promise<SafetensorsHeader> {
  const handle = await open(path, "r");
  try {
    const { size } = await handle.stat();
    const prefix = Buffer.alloc(8);
    if (size < 8 || (await handle.read(prefix, 0, 8, 0)).bytesRead !== 8) {
      throw new ModelLoadError(path, undefined, `${size} bytes: too short for a safetensors header`);
    }
    const length = Number(prefix.readBigUInt64LE(0));
    if (length > size - 8 || length > 100 * 2 ** 20) {
      throw new ModelLoadError(
        path,
        undefined,
        `header length ${length} (bytes 0-7) exceeds the ${size - 8} bytes after it`,
      );
    }
    const text = Buffer.alloc(length);
    await handle.read(text, 0, length, 8);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text.toString("utf8")) as Record<string, unknown>;
    } catch (cause) {
      throw new ModelLoadError(path, undefined, "the header is not valid JSON", { cause });
    }
    const dataStart = 8 + length;
    const tensors = new Map<string, SafetensorsHeaderEntry>();
    let metadata: Record<string, string> | undefined;
    for (const [name, value] of Object.entries(json)) {
      if (name === "__metadata__") {
        metadata = value as Record<string, string>;
        continue;
      }
      const entry = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      const element = typeof entry.dtype === "string" ? ELEMENT_BYTES[entry.dtype] : undefined;
      const shape = entry.shape;
      const offsets = entry.data_offsets;
      if (
        element === undefined ||
        !Array.isArray(shape) ||
        !shape.every((d) => Number.isInteger(d) && d >= 0) ||
        !Array.isArray(offsets) ||
        offsets.length !== 2
      ) {
        throw new ModelLoadError(path, name, `malformed entry ${JSON.stringify(value)}`);
      }
      const [begin, end] = offsets as [number, number];
      const count = (shape as number[]).reduce((a, b) => a * b, 1);
      if (!(begin >= 0 && end - begin === count * element && dataStart + end <= size)) {
        throw new ModelLoadError(
          path,
          name,
          `data_offsets [${begin}, ${end}] do not hold ${count * element} bytes inside the file`,
        );
      }
      tensors.set(name, {
        dtype: entry.dtype as string,
        shape: shape as number[],
        dataOffsets: [begin, end],
      });
    }
    return { path, dataStart, metadata, tensors };
  } finally {
    await handle.close();
  }
}

/** A tensor of the output file: its header entry and where its bytes come from. */
export interface StreamedTensor {
  dtype: string;
  shape: number[];
  /** Bytes copied from a file range, or given. */
  source: { file: string; begin: number; end: number } | { bytes: Uint8Array };
}

const COPY_CHUNK = 16 * 2 ** 20;

/**
 * A safetensors file as chunks, written the way Python's `safetensors` writes one (tensors sorted by
 * name, `__metadata__` first, header padded with spaces to a multiple of 8), copying each tensor's bytes
 * from its source file 16 MiB at a time: a file of any size passes through a small buffer.
 */
export async function* safetensorsChunks(
  tensors: ReadonlyMap<string, StreamedTensor>,
  metadata: Record<string, string> = { format: "pt" },
): AsyncGenerator<Uint8Array> {
  const names = [...tensors.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const tensor = tensors.get(name) as StreamedTensor;
    const bytes =
      "bytes" in tensor.source ? tensor.source.bytes.byteLength : tensor.source.end - tensor.source.begin;
    header[name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);
  yield head;
  for (const name of names) {
    const { source } = tensors.get(name) as StreamedTensor;
    if ("bytes" in source) {
      yield source.bytes;
      continue;
    }
    const handle = await open(source.file, "r");
    try {
      for (let at = source.begin; at < source.end; at += COPY_CHUNK) {
        const length = Math.min(COPY_CHUNK, source.end - at);
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, at);
        if (bytesRead !== length) throw new ModelLoadError(source.file, name, "the file ended early");
        yield buffer;
      }
    } finally {
      await handle.close();
    }
  }
}
