import { auroc } from "@pqm/core/reference";
import { ArithEnvironment } from "@pqm/data";
import { useBackend } from "@pqm/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { ProcessRewardModel } from "../prm/process-reward-model.js";
import { buildWordTokenizer } from "../tokenizer/builtin-tokenizer.js";
import { decoderOnnxBytes } from "./export-onnx.js";
import { OnnxPrmScorer } from "./onnx-prm-scorer.js";
import type { TagFeatureRow } from "./tag-hidden-states.js";
import { extractTagHiddenStates } from "./tag-hidden-states.js";
import { trainValueHeadOnFeatures } from "./train-value-head-on-features.js";

beforeAll(async () => {
  await useBackend("wasm");
});

function featureScores(rows: readonly TagFeatureRow[], weight: Float32Array, bias: number): number[] {
  const out: number[] = [];
  for (const row of rows) {
    for (let step = 0; step < row.hardLabels.length; step++) {
      let sum = bias;
      for (let h = 0; h < weight.length; h++) sum += row.hidden[step * weight.length + h]! * weight[h]!;
      out.push(sum);
    }
  }
  return out;
}

describe("a value head trained on a frozen ONNX backbone's tag hidden states", () => {
  it("beats chance on held-out arith questions (PQM loss), and scores the same through OnnxPrmScorer", async () => {
    // The easy arith setting of the README's learning figures; questions split 80/20.
    const environment = new ArithEnvironment({
      seed: 0,
      problems: { minNumber: 1, maxNumber: 9, maxSteps: 4 },
      policy: { errorRate: 0.35, slipDeltas: [10, -10, 1] },
    });
    const corpus = environment.exactTrainingCorpus({ questions: 150, samplesPerQuestion: 8 });
    const tokenizer = buildWordTokenizer(corpus.map((t) => `${t.question.text} ${t.steps.join(" ")}`));
    const model = ProcessRewardModel.fromScratch("tiny", tokenizer, { seed: 0 });
    const backboneOnly = decoderOnnxBytes(model.backbone, undefined).bytes;
    const scorer = await OnnxPrmScorer.open(backboneOnly, model.encoder, { threads: 1 });
    const features = await extractTagHiddenStates(scorer, corpus);
    await scorer.release();
    const heldOut = (row: TagFeatureRow) => Number(row.questionId.split("-").at(-1)) % 5 === 0;
    const train = features.rows.filter((row) => !heldOut(row));
    const validation = features.rows.filter(heldOut);
    expect(validation.length).toBeGreaterThan(200);

    const { head, losses } = await trainValueHeadOnFeatures(train, {
      loss: "pqm",
      zeta: 4,
      epochs: 15,
      learningRate: 1e-2,
    });
    expect(losses.at(-1)!).toBeLessThan(losses[0]!);
    const labels = validation.flatMap((row) => [...row.hardLabels]);
    const validationAuroc = auroc(featureScores(validation, head.weight, head.bias), labels);
    expect(validationAuroc).toBeGreaterThan(0.6);

    // The same head served through the scorer (hidden states from the graph, head applied per tag).
    const served = await OnnxPrmScorer.open(backboneOnly, model.encoder, { valueHead: head });
    const scores = await served.scoreSteps(validation.map((row) => corpus[row.sourceIndex]!));
    await served.release();
    model.dispose();
    const expected = featureScores(validation, head.weight, head.bias);
    scores.flat().forEach((score, index) => {
      expect(Math.abs(score - expected[index]!)).toBeLessThanOrEqual(1e-4);
    });
  });

  it("refuses rows whose feature count does not match their steps, and an unknown loss", async () => {
    const row = {
      sourceIndex: 0,
      questionId: "q",
      hidden: new Float32Array(8),
      hardLabels: [1, 0],
      softLabels: null,
    };
    await expect(
      trainValueHeadOnFeatures([row, { ...row, sourceIndex: 1, hidden: new Float32Array(6) }]),
    ).rejects.toThrow(/row 1 has 6 features for 2 steps \(hidden size 4\)/);
    await expect(trainValueHeadOnFeatures([row], { loss: "nope" })).rejects.toThrow(/nope/);
    await expect(trainValueHeadOnFeatures([])).rejects.toThrow(/no rows/);
  });
});
