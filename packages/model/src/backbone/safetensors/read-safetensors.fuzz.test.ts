import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FuzzJson, MutatedFile } from "@pqm/testing/fuzz";
import {
  applyByteMutations,
  applyJsonMutations,
  FuzzTally,
  fuzzParameters,
  fuzzRuns,
  mutatedFile,
} from "@pqm/testing/fuzz";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelLoadError } from "../model-load-error.js";
import type { SafetensorsDtype } from "./read-safetensors.js";
import { elementCount, parseSafetensors, readSafetensorsFile } from "./read-safetensors.js";

// Valid safetensors files (F32, F16, BF16, I32 and I64 tensors, a `__metadata__` map, the header
// padded as Python pads it), then mutated: header entries deleted or retyped, shapes and offsets
// changed, entries added, the header length or any byte flipped, the file cut short. The reader
// must parse each to tensors that decode, or throw a ModelLoadError naming the file and the tensor
// (or the byte range of the header).

const bytesPer: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };

const tensor = fc.record({
  name: fc.oneof(
    fc.constantFrom("model.embed_tokens.weight", "lm_head.weight", "layers.0.mlp.up_proj.weight", "é/😀"),
    fc.stringMatching(/^[a-z][a-z0-9_.]{0,12}$/),
  ),
  dtype: fc.constantFrom<SafetensorsDtype>("F32", "F16", "BF16", "I32", "I64"),
  shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }),
  seed: fc.nat(255),
});

/** The header (as JSON) and the data section of a valid file, tensors packed in order. */
function layout(tensors: { name: string; dtype: SafetensorsDtype; shape: number[]; seed: number }[]): {
  header: { [key: string]: FuzzJson };
  data: Uint8Array;
} {
  const header: { [key: string]: FuzzJson } = { __metadata__: { format: "pt" } };
  const pieces: Uint8Array[] = [];
  let offset = 0;
  for (const item of tensors) {
    if (header[item.name] !== undefined) continue;
    const size = elementCount(item.shape) * bytesPer[item.dtype];
    const bytes = new Uint8Array(size);
    // Small integers in every dtype (little-endian low byte), so I64 values fit in int32.
    for (let index = 0; index < size; index += bytesPer[item.dtype]) bytes[index] = (item.seed + index) % 100;
    header[item.name] = { dtype: item.dtype, shape: item.shape, data_offsets: [offset, offset + size] };
    pieces.push(bytes);
    offset += size;
  }
  const data = new Uint8Array(offset);
  let at = 0;
  for (const piece of pieces) {
    data.set(piece, at);
    at += piece.length;
  }
  return { header, data };
}

function serialise(header: FuzzJson, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  out.set(data, 8 + padded);
  return out;
}

const files = fc
  .array(tensor, { minLength: 1, maxLength: 4 })
  .map(layout)
  .chain((valid) =>
    mutatedFile(fc.constant(valid.header as FuzzJson)).map((input: MutatedFile<FuzzJson>) => ({
      valid,
      input,
    })),
  );

function expectModelLoadError(error: unknown, file: string, tally: FuzzTally): void {
  if (!(error instanceof ModelLoadError)) throw error;
  expect(error.file).toBe(file);
  expect(error.message.startsWith(file)).toBe(true);
  expect(error.message).not.toContain("\n");
  if (error.field !== undefined) expect(error.message).toContain(`'${error.field}'`);
  // Header problems name their byte range; tensor problems name the tensor.
  else expect(error.reason).toMatch(/bytes? \d|too short/);
  tally.reject(error.reason.replace(/[\d[\]"'].*$/, "").trim() || "other");
}

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-fuzz-safetensors-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("parseSafetensors under fuzzing", () => {
  it("parses every mutated file to decodable tensors or names file and tensor or byte range", async () => {
    const tally = new FuzzTally("safetensors");
    const file = join(folder, "model.safetensors");
    await fc.assert(
      fc.asyncProperty(files, fc.boolean(), async ({ valid, input }, fromDisk) => {
        const header = applyJsonMutations(input.records, input.json);
        const bytes = applyByteMutations(serialise(header, valid.data), input.bytes);
        try {
          let parsed: ReturnType<typeof parseSafetensors>;
          if (fromDisk) {
            await writeFile(file, bytes);
            parsed = await readSafetensorsFile(file);
          } else parsed = parseSafetensors(bytes, file);
          for (const entry of parsed.entries.values()) {
            const count = elementCount(entry.shape);
            const values =
              entry.dtype === "I32" || entry.dtype === "I64"
                ? parsed.int32(entry.name)
                : parsed.float32(entry.name);
            expect(values).toHaveLength(count);
          }
          for (const value of Object.values(parsed.metadata)) expect(typeof value).toBe("string");
          if (input.json.length === 0 && input.bytes.length === 0) {
            expect(parsed.entries.size).toBe(Object.keys(valid.header).length - 1);
          }
          tally.accept();
        } catch (error) {
          expectModelLoadError(error, file, tally);
        }
      }),
      fuzzParameters(2130, fuzzRuns(400, 12_000)),
    );
    tally.record();
    expect(tally.accepted).toBeGreaterThan(0);
  });
});

describe("safetensors inputs the fuzzing found", () => {
  const file = "found.safetensors";
  const cases: [string, FuzzJson, RegExp][] = [
    // Was a TypeError (reading `dtype` of null).
    ["an entry that is null", { a: null }, /^found\.safetensors: 'a': expected an object with dtype/],
    // Was kept as the metadata map.
    [
      "a __metadata__ that is not a map of strings",
      { __metadata__: [1] },
      /'__metadata__': expected a map of strings/,
    ],
  ];
  for (const [what, header, message] of cases) {
    it(`refuses ${what} with a ModelLoadError`, () => {
      expect(() => parseSafetensors(serialise(header, new Uint8Array(0)), file)).toThrow(message);
    });
  }

  it("names the byte range of a header length past the end of the file", () => {
    const bytes = serialise({}, new Uint8Array(0));
    new DataView(bytes.buffer).setBigUint64(0, 2n ** 63n, true);
    expect(() => parseSafetensors(bytes, file)).toThrow(
      /^found\.safetensors: header length 9223372036854775808 \(bytes 0-7\) exceeds the 8 bytes after it$/,
    );
  });
});
