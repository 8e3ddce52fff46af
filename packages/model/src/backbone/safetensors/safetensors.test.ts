import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { goldenDecoderModels, goldenDecoderPath } from "../golden-decoders.test-helper.js";
import { ModelLoadError } from "../model-load-error.js";
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from "./half-float.js";
import { openSafetensorsCheckpoint, parseSafetensors, readSafetensorsFile } from "./read-safetensors.js";
import type { Float32TensorData } from "./write-safetensors.js";
import { serializeSafetensors, writeSafetensors } from "./write-safetensors.js";

/** Builds a safetensors file by hand from raw per-tensor bytes (dtype given verbatim). */
function handMade(tensors: { name: string; dtype: string; shape: number[]; bytes: number[] }[]): Uint8Array {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const tensor of tensors) {
    header[tensor.name] = {
      dtype: tensor.dtype,
      shape: tensor.shape,
      data_offsets: [offset, offset + tensor.bytes.length],
    };
    offset += tensor.bytes.length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const tensor of tensors) {
    out.set(tensor.bytes, at);
    at += tensor.bytes.length;
  }
  return out;
}

const littleEndian16 = (values: number[]): number[] => values.flatMap((value) => [value & 0xff, value >> 8]);

describe("safetensors half floats", () => {
  it("converts known F16 bit patterns", () => {
    expect(float16BitsToFloat32(0x3c00)).toBe(1);
    expect(float16BitsToFloat32(0xc000)).toBe(-2);
    expect(float16BitsToFloat32(0x7bff)).toBe(65504);
    expect(float16BitsToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16BitsToFloat32(0x3555)).toBe(0.333251953125);
    expect(float16BitsToFloat32(0x7c00)).toBe(Number.POSITIVE_INFINITY);
    expect(float16BitsToFloat32(0xfc00)).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(float16BitsToFloat32(0x7e00))).toBe(true);
    expect(Object.is(float16BitsToFloat32(0x8000), -0)).toBe(true);
  });

  it("converts known BF16 bit patterns", () => {
    expect(bfloat16BitsToFloat32(0x3f80)).toBe(1);
    expect(bfloat16BitsToFloat32(0xc049)).toBe(-3.140625);
    expect(bfloat16BitsToFloat32(0x7f80)).toBe(Number.POSITIVE_INFINITY);
    expect(bfloat16BitsToFloat32(0x0001)).toBeCloseTo(9.183549615799121e-41, 50);
  });

  it("reads F16, BF16, I32 and I64 tensors from an unaligned buffer", () => {
    const bytes = handMade([
      { name: "half", dtype: "F16", shape: [2, 2], bytes: littleEndian16([0x3c00, 0xc000, 0x3555, 0x0001]) },
      { name: "brain", dtype: "BF16", shape: [3], bytes: littleEndian16([0x3f80, 0xc049, 0x4000]) },
      { name: "ints", dtype: "I32", shape: [2], bytes: [7, 0, 0, 0, 0xff, 0xff, 0xff, 0xff] },
      {
        name: "longs",
        dtype: "I64",
        shape: [2],
        bytes: [5, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
      },
    ]);
    // Shift by one byte so no typed-array view can be taken directly.
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    const file = parseSafetensors(shifted.subarray(1), "hand.safetensors");
    expect([...file.float32("half")]).toEqual([1, -2, 0.333251953125, 2 ** -24]);
    expect([...file.float32("brain")]).toEqual([1, -3.140625, 2]);
    expect([...file.int32("ints")]).toEqual([7, -1]);
    expect([...file.int32("longs")]).toEqual([5, -2]);
    expect(() => file.float32("missing")).toThrow(/hand.safetensors: 'missing': tensor not found/);
  });

  it("rejects bad headers with the file and tensor named", () => {
    const badDtype = handMade([{ name: "x", dtype: "F64", shape: [1], bytes: [0, 0, 0, 0, 0, 0, 0, 0] }]);
    expect(() => parseSafetensors(badDtype, "a.safetensors")).toThrow(
      /a.safetensors: 'x': unsupported dtype "F64"/,
    );
    const badOffsets = handMade([{ name: "y", dtype: "F32", shape: [2], bytes: [0, 0, 0, 0] }]);
    expect(() => parseSafetensors(badOffsets, "b.safetensors")).toThrow(ModelLoadError);
    expect(() => parseSafetensors(new Uint8Array(4), "c.safetensors")).toThrow(/too short/);
  });
});

describe("safetensors write", () => {
  it("round-trips float32 tensors with metadata, a padded header and name order", async () => {
    const folder = mkdtempSync(join(tmpdir(), "pqm-safetensors-"));
    const tensors = new Map<string, Float32TensorData>([
      ["zeta", { shape: [3], data: new Float32Array([1.5, -2.25, 3e-8]) }],
      ["alpha", { shape: [2, 2], data: new Float32Array([0.1, 0.2, 0.3, Number.NaN]) }],
    ]);
    const path = join(folder, "model.safetensors");
    await writeSafetensors(path, tensors, { format: "pt", note: "test" });
    expect(readdirSync(folder)).toEqual(["model.safetensors"]);
    const raw = readFileSync(path);
    const headerLength = Number(raw.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    const file = await readSafetensorsFile(path);
    expect([...file.entries.keys()]).toEqual(["alpha", "zeta"]);
    expect(file.metadata).toEqual({ format: "pt", note: "test" });
    expect(file.entries.get("alpha")?.dataOffsets).toEqual([0, 16]);
    expect([...file.float32("zeta")]).toEqual([...new Float32Array([1.5, -2.25, 3e-8])]);
    expect(Number.isNaN(file.float32("alpha")[3])).toBe(true);
  });

  it("reads a sharded checkpoint through model.safetensors.index.json", async () => {
    const folder = mkdtempSync(join(tmpdir(), "pqm-sharded-"));
    const first = new Map([["a.weight", { shape: [2], data: new Float32Array([1, 2]) }]]);
    const second = new Map([["b.weight", { shape: [1], data: new Float32Array([3]) }]]);
    writeFileSync(join(folder, "model-00001-of-00002.safetensors"), serializeSafetensors(first));
    writeFileSync(join(folder, "model-00002-of-00002.safetensors"), serializeSafetensors(second));
    const weightMap = {
      "a.weight": "model-00001-of-00002.safetensors",
      "b.weight": "model-00002-of-00002.safetensors",
    };
    writeFileSync(
      join(folder, "model.safetensors.index.json"),
      JSON.stringify({ metadata: {}, weight_map: weightMap }),
    );
    const checkpoint = await openSafetensorsCheckpoint(folder);
    expect(checkpoint.names().sort()).toEqual(["a.weight", "b.weight"]);
    expect([...checkpoint.float32("b.weight")]).toEqual([3]);
    writeFileSync(
      join(folder, "model.safetensors.index.json"),
      JSON.stringify({ weight_map: { ...weightMap, "c.weight": "model-00003-of-00002.safetensors" } }),
    );
    await expect(openSafetensorsCheckpoint(folder)).rejects.toThrow(
      /c.weight.*shard model-00003-of-00002.safetensors does not exist/,
    );
  });

  describe("golden checkpoints", () => {
    for (const model of goldenDecoderModels) {
      it(`rewrites ${model}/model.safetensors byte for byte`, async () => {
        const path = goldenDecoderPath(model, "model.safetensors");
        const file = await readSafetensorsFile(path);
        const tensors = new Map<string, Float32TensorData>();
        for (const [name, entry] of file.entries)
          tensors.set(name, { shape: entry.shape, data: file.float32(name) });
        const rewritten = serializeSafetensors(tensors, file.metadata);
        expect(Buffer.from(rewritten).equals(readFileSync(path))).toBe(true);
      });
    }
  });
});
