import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabeledTrajectory } from "@pqm/core";
import { ArithEnvironment } from "@pqm/data";
import { useBackend } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { float16BitsToFloat32 } from "../backbone/safetensors/half-float.js";
import { saveCheckpoint } from "../checkpoint/save-checkpoint.js";
import { ProcessRewardModel } from "../prm/process-reward-model.js";
import { buildWordTokenizer } from "../tokenizer/builtin-tokenizer.js";
import { decoderOnnxBytes, exportPrmToOnnx, ONNX_MODEL_FILE } from "./export-onnx.js";
import { OnnxDecoderSession } from "./onnx-decoder-session.js";
import { OnnxExportError } from "./onnx-export-error.js";
import { float32ToFloat16Bits, OnnxGraphBuilder } from "./onnx-graph-builder.js";
import { OnnxPrmScorer } from "./onnx-prm-scorer.js";
import { decodeOnnxModel, OnnxDataType } from "./onnx-schema.js";

// ONNX external data (weights in `<file>.data`) and float16 weights: a small model exported with
// external data forced by a tiny threshold must score exactly as the inline export, and a float16 export
// within the stated tolerance at about half the size.

/** The tolerance of float16 weights on scores (README, "ONNX export and scoring"). */
const FLOAT16_SCORE_TOLERANCE = 5e-3;

let scratch = "";
let corpus: LabeledTrajectory[] = [];
let model: ProcessRewardModel;

beforeAll(async () => {
  await useBackend("wasm");
  scratch = mkdtempSync(join(tmpdir(), "pqm-onnx-external-"));
  corpus = new ArithEnvironment({ seed: 4 }).exactTrainingCorpus({ questions: 10, samplesPerQuestion: 3 });
  const tokenizer = buildWordTokenizer(corpus.map((t) => `${t.question.text} ${t.steps.join(" ")}`));
  model = ProcessRewardModel.fromScratch("tiny", tokenizer, { seed: 11, scoring: { batchSize: 6 } });
});
afterAll(() => {
  model.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

async function scoreFile(file: string): Promise<number[][]> {
  const scorer = await OnnxPrmScorer.open(file, model.encoder);
  try {
    return await scorer.scoreSteps(corpus);
  } finally {
    await scorer.release();
  }
}

function worstDifference(got: number[][], want: number[][]): number {
  expect(got.map((row) => row.length)).toEqual(want.map((row) => row.length));
  let worst = 0;
  got.forEach((row, index) => {
    row.forEach((score, step) => {
      worst = Math.max(worst, Math.abs(score - want[index]![step]!));
    });
  });
  return worst;
}

interface DecodedTensor {
  name: string;
  dims: number[];
  dataType: number;
  rawData?: Uint8Array;
  dataLocation?: number;
  externalData?: { key: string; value: string }[];
}

function initializers(file: string): DecodedTensor[] {
  const decoded = decodeOnnxModel(readFileSync(file)) as { graph: { initializer: DecodedTensor[] } };
  return decoded.graph.initializer;
}

describe("float32ToFloat16Bits", () => {
  it("gives back every half-precision value exactly (all 65,536 bit patterns)", () => {
    for (let bits = 0; bits < 0x10000; bits++) {
      const value = float16BitsToFloat32(bits);
      const again = float32ToFloat16Bits(value);
      if (Number.isNaN(value)) expect(Number.isNaN(float16BitsToFloat32(again))).toBe(true);
      else expect(again).toBe(bits);
    }
  });

  it("rounds to nearest, ties to even, overflowing to infinity and underflowing to zero", () => {
    // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties go to the even mantissa (1).
    expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01);
    expect(float32ToFloat16Bits(65504)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65519)).toBe(0x7bff);
    expect(float32ToFloat16Bits(65520)).toBe(0x7c00);
    expect(float32ToFloat16Bits(-1e6)).toBe(0xfc00);
    // Subnormals: 2^-24 is the smallest; half of it ties to zero, a bit more rounds up.
    expect(float32ToFloat16Bits(2 ** -24)).toBe(0x0001);
    expect(float32ToFloat16Bits(2 ** -25)).toBe(0x0000);
    expect(float32ToFloat16Bits(2 ** -25 * 1.01)).toBe(0x0001);
    expect(float32ToFloat16Bits(-(2 ** -14) * 0.99999)).toBe(0x8400); // rounds up into the smallest normal
    expect(float32ToFloat16Bits(0.1)).toBe(0x2e66);
  });
});

describe("ONNX external data", () => {
  it("a model exported with external data (tiny threshold) scores exactly as the inline export", async () => {
    const inline = await exportPrmToOnnx(model, join(scratch, "inline", ONNX_MODEL_FILE));
    expect(inline.dataPath).toBeNull();
    const external = await exportPrmToOnnx(model, join(scratch, "external", ONNX_MODEL_FILE), {
      externalDataThreshold: 4096,
    });
    expect(external.dataPath).toBe(join(scratch, "external", "model.onnx.data"));
    expect(statSync(external.dataPath!).size).toBe(external.dataBytes);
    // The model file holds the graph; the weights are in the data file.
    expect(external.bytes).toBeLessThan(inline.bytes / 5);
    expect(external.bytes + external.dataBytes).toBeGreaterThan(inline.bytes * 0.9);

    // Every large initializer points into the data file as the ONNX spec says; small ones stay inside.
    const tensors = initializers(external.path);
    const outside = tensors.filter((tensor) => tensor.dataLocation === 1);
    expect(outside.length).toBeGreaterThan(5);
    let end = 0;
    for (const tensor of outside) {
      expect(tensor.rawData === undefined || tensor.rawData.byteLength === 0).toBe(true);
      const entries = Object.fromEntries(tensor.externalData!.map(({ key, value }) => [key, value]));
      expect(entries.location).toBe("model.onnx.data");
      const offset = Number(entries.offset);
      const length = Number(entries.length);
      expect(length).toBe(4 * tensor.dims.reduce((a, b) => a * b, 1));
      expect(offset % 64).toBe(0);
      expect(offset).toBeGreaterThanOrEqual(end);
      end = offset + length;
    }
    expect(end).toBe(external.dataBytes);
    const insideTensors = tensors.filter((tensor) => tensor.dataLocation !== 1);
    for (const tensor of insideTensors) expect(tensor.rawData!.byteLength).toBeLessThan(1024);

    const inlineScores = await scoreFile(inline.path);
    expect(await scoreFile(external.path)).toEqual(inlineScores);
    const reference = await model.scoreSteps(corpus);
    expect(worstDifference(inlineScores, reference)).toBeLessThanOrEqual(1e-4);
  });

  it("OnnxPrmScorer.load reads a checkpoint folder whose model.onnx has external data", async () => {
    const folder = join(scratch, "checkpoint");
    await saveCheckpoint(folder, model, { loss: "pqm", zeta: 4 });
    const exported = await exportPrmToOnnx(model, join(folder, ONNX_MODEL_FILE), { externalData: true });
    expect(existsSync(join(folder, "model.onnx.data"))).toBe(true);
    const scorer = await OnnxPrmScorer.load(folder);
    const scores = await scorer.scoreSteps(corpus);
    await scorer.release();
    expect(scores).toEqual(await scoreFile(join(scratch, "inline", ONNX_MODEL_FILE)));

    // Re-exported inline, the stale data file goes.
    const again = await exportPrmToOnnx(model, exported.path, { externalData: false });
    expect(again.dataPath).toBeNull();
    expect(existsSync(join(folder, "model.onnx.data"))).toBe(false);
  });

  it("says to open by path, or to keep the data file beside the model, when the data cannot be found", async () => {
    const folder = join(scratch, "moved");
    const exported = await exportPrmToOnnx(model, join(folder, "prm.onnx"), { externalData: true });
    await expect(OnnxDecoderSession.open(readFileSync(exported.path))).rejects.toThrow(
      /must be opened from its file path/,
    );
    rmSync(exported.dataPath!);
    await expect(OnnxDecoderSession.open(exported.path)).rejects.toThrow(
      /keep prm\.onnx\.data beside prm\.onnx/,
    );
  });

  it("streams the data file one tensor at a time: the model bytes stay small and no chunk exceeds a tensor", () => {
    const graph = new OnnxGraphBuilder("streaming");
    const input = graph.input({ name: "x", dataType: OnnxDataType.FLOAT, shape: ["n", 256] });
    let value = input;
    for (let layer = 0; layer < 40; layer++) {
      const weight = new Float32Array(256 * 256).fill(layer / 40);
      value = graph.node("MatMul", [value, graph.float32(`w${layer}`, weight, [256, 256])]);
    }
    graph.output(value, { name: "y", dataType: OnnxDataType.FLOAT, shape: ["n", 256] });
    const info = { opset: 17, irVersion: 8, producerName: "test", producerVersion: "0" };
    const serialized = graph.serialize(info, "big.onnx", { externalDataThreshold: 2 ** 20 });
    expect(serialized.weightBytes).toBe(40 * 256 * 256 * 4);
    expect(serialized.model.byteLength).toBeLessThan(8 * 1024);
    let total = 0;
    let largest = 0;
    for (const chunk of serialized.dataFile!.chunks) {
      total += chunk.byteLength;
      largest = Math.max(largest, chunk.byteLength);
    }
    expect(total).toBe(serialized.dataFile!.bytes);
    expect(largest).toBe(256 * 256 * 4);
    // Written once: the chunks released the weights.
    expect(() => graph.serialize(info, "big.onnx")).toThrow(/already written/);
  });
});

describe("float16 weights", () => {
  it("halve the file and keep scores within the stated tolerance of float32", async () => {
    const full = await exportPrmToOnnx(model, join(scratch, "f32", ONNX_MODEL_FILE));
    const half = await exportPrmToOnnx(model, join(scratch, "f16", ONNX_MODEL_FILE), { dtype: "float16" });
    expect(half.dtype).toBe("float16");
    const ratio = half.bytes / full.bytes;
    expect(ratio).toBeGreaterThan(0.45);
    expect(ratio).toBeLessThan(0.55);
    const tensors = initializers(half.path);
    const stored = tensors.filter((tensor) => tensor.dataType === OnnxDataType.FLOAT16);
    expect(stored.map((tensor) => tensor.name)).toContain("model.embed_tokens.weight.float16");
    // Vectors (norms, biases) and the value head stay float32.
    expect(tensors.find((tensor) => tensor.name === "model.norm.weight")!.dataType).toBe(OnnxDataType.FLOAT);
    expect(tensors.find((tensor) => tensor.name.startsWith("v_head"))!.dataType).toBe(OnnxDataType.FLOAT);

    const fullScores = await scoreFile(full.path);
    const halfScores = await scoreFile(half.path);
    const worst = worstDifference(halfScores, fullScores);
    expect(worst).toBeGreaterThan(0); // the weights really were rounded
    expect(worst).toBeLessThanOrEqual(FLOAT16_SCORE_TOLERANCE);

    // float16 with external data: the same scores, half the data file.
    const both = await exportPrmToOnnx(model, join(scratch, "f16x", ONNX_MODEL_FILE), {
      dtype: "float16",
      externalData: true,
    });
    const fullExternal = await exportPrmToOnnx(model, join(scratch, "f32x", ONNX_MODEL_FILE), {
      externalData: true,
    });
    expect(both.dataBytes / fullExternal.dataBytes).toBeLessThan(0.55);
    expect(await scoreFile(both.path)).toEqual(halfScores);
    // In memory too.
    const bytes = decoderOnnxBytes(model.backbone, undefined, { dtype: "float16" }).bytes;
    expect(bytes.byteLength / decoderOnnxBytes(model.backbone, undefined).bytes.byteLength).toBeLessThan(
      0.55,
    );
  });

  it("refuses an unknown dtype", async () => {
    await expect(
      exportPrmToOnnx(model, join(scratch, "bad", ONNX_MODEL_FILE), { dtype: "bfloat16" as "float16" }),
    ).rejects.toThrow(OnnxExportError);
    await expect(
      exportPrmToOnnx(model, join(scratch, "bad", ONNX_MODEL_FILE), { dtype: "bfloat16" as "float16" }),
    ).rejects.toThrow(/dtype: must be float32 or float16, got "bfloat16"/);
  });
});
