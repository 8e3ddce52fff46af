import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LabeledTrajectory } from "@pqm/core";
import { ArithEnvironment } from "@pqm/data";
import { useBackend } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelLoadError } from "../backbone/model-load-error.js";
import { saveCheckpoint } from "../checkpoint/save-checkpoint.js";
import { ProcessRewardModel } from "../prm/process-reward-model.js";
import { buildWordTokenizer } from "../tokenizer/builtin-tokenizer.js";
import { decoderOnnxBytes, exportPrmToOnnx, ONNX_MODEL_FILE, valueHeadWeights } from "./export-onnx.js";
import { OnnxPrmScorer } from "./onnx-prm-scorer.js";

let scratch = "";
let corpus: LabeledTrajectory[] = [];
let model: ProcessRewardModel;
let reference: number[][] = [];

beforeAll(async () => {
  // wasm: the TF.js reference scores take seconds on the pure-JS cpu backend.
  await useBackend("wasm");
  scratch = mkdtempSync(join(tmpdir(), "pqm-onnx-scorer-"));
  corpus = new ArithEnvironment({ seed: 3 }).exactTrainingCorpus({ questions: 12, samplesPerQuestion: 3 });
  const tokenizer = buildWordTokenizer(corpus.map((t) => `${t.question.text} ${t.steps.join(" ")}`));
  // Batches of 5 rows so that rows of different lengths share batches (right padding is exercised).
  model = ProcessRewardModel.fromScratch("tiny", tokenizer, { seed: 5, scoring: { batchSize: 5 } });
  reference = await model.scoreSteps(corpus);
});
afterAll(() => {
  model.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

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

describe("OnnxPrmScorer", () => {
  it("scores like the TF.js model's scoreSteps (to 1e-4), from a model exported to memory", async () => {
    const spread = Math.max(...reference.flat()) - Math.min(...reference.flat());
    expect(spread).toBeGreaterThan(0.05); // scores differ between steps: the comparison can fail
    const scorer = await OnnxPrmScorer.fromModel(model, { threads: 1 });
    const scores = await scorer.scoreSteps(corpus);
    await scorer.release();
    expect(worstDifference(scores, reference)).toBeLessThanOrEqual(1e-4);
  });

  it("loads a checkpoint folder with model.onnx (2 threads) and scores the same", async () => {
    const folder = join(scratch, "checkpoint");
    await saveCheckpoint(folder, model, { loss: "pqm", zeta: 4 });
    const exported = await exportPrmToOnnx(model, join(folder, ONNX_MODEL_FILE));
    expect(exported.outputs).toEqual(["hidden_states", "values"]);
    const scorer = await OnnxPrmScorer.load(folder, { threads: 2, scoring: { batchSize: 7 } });
    expect(scorer.encoder.spec).toEqual(model.spec);
    const scores = await scorer.scoreSteps(corpus);
    await scorer.release();
    expect(worstDifference(scores, reference)).toBeLessThanOrEqual(1e-4);
  });

  it("scores a backbone-only export with a value head given as numbers", async () => {
    const bytes = decoderOnnxBytes(model.backbone, undefined).bytes;
    const withoutHead = await OnnxPrmScorer.open(bytes, model.encoder);
    await expect(withoutHead.scoreSteps(corpus.slice(0, 2))).rejects.toThrow(/no 'values' output/);
    await withoutHead.release();
    const scorer = await OnnxPrmScorer.open(bytes, model.encoder, { valueHead: valueHeadWeights(model) });
    const scores = await scorer.scoreSteps(corpus);
    await scorer.release();
    expect(worstDifference(scores, reference)).toBeLessThanOrEqual(1e-4);
  });

  it("names what is missing or wrong", async () => {
    const empty = join(scratch, "empty");
    await expect(OnnxPrmScorer.load(empty)).rejects.toThrow(ModelLoadError);
    await expect(OnnxPrmScorer.load(empty)).rejects.toThrow(`${join(empty, ONNX_MODEL_FILE)}: not found`);
    const scorer = await OnnxPrmScorer.fromModel(model);
    const broken = [corpus[0]!, { ...corpus[1]!, steps: [] }];
    await expect(scorer.scoreSteps(broken)).rejects.toThrow(/1 trajectories cannot be scored: #1 \(no-steps/);
    await scorer.release();
  });
});
