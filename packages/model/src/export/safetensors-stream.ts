import { open } from "node:fs/promises";
import { ModelLoadError } from "../backbone/model-load-error.js";

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
