import { writeFileAtomic } from "@pqm/data";
import { elementCount } from "./read-safetensors.js";

/** A float32 tensor to be written: row-major data and its shape. */
export interface Float32TensorData {
  shape: readonly number[];
  data: Float32Array;
}

/**
 * Serializes float32 tensors to safetensors bytes the way Python's `safetensors` does: tensors
 * sorted by name and packed back to back, `__metadata__` first in the header, the header padded
 * with spaces to a multiple of 8 bytes so every tensor starts aligned.
 * @param metadata string map stored as `__metadata__` (omitted when undefined).
 * @throws Error when a tensor's data length does not match its shape.
 */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, Float32TensorData>,
  metadata?: Readonly<Record<string, string>>,
): Uint8Array {
  const names = [...tensors.keys()].sort((left, right) => (left < right ? -1 : left > right ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const tensor = tensors.get(name) as Float32TensorData;
    const count = elementCount(tensor.shape);
    if (count !== tensor.data.length) {
      throw new Error(
        `safetensors: tensor '${name}' has ${tensor.data.length} values for shape [${tensor.shape.join(", ")}]`,
      );
    }
    header[name] = { dtype: "F32", shape: [...tensor.shape], data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.byteLength, 8 + headerLength);
  let at = 8 + headerLength;
  for (const name of names) {
    const tensor = tensors.get(name) as Float32TensorData;
    out.set(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength), at);
    at += tensor.data.byteLength;
  }
  return out;
}

/**
 * Writes float32 tensors to `path` as safetensors, atomically (`writeFileAtomic` of @pqm/data: a
 * temporary file beside `path`, fsynced, then renamed over it), so a crash never leaves a half-written
 * checkpoint.
 * @throws Error on a shape mismatch (see `serializeSafetensors`) or a file-system error.
 */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, Float32TensorData>,
  metadata: Readonly<Record<string, string>> = { format: "pt" },
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}
