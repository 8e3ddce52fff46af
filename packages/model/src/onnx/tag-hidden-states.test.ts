import type { LabeledTrajectory } from "@pqm/core";
import { ArithEnvironment } from "@pqm/data";
import { useBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessRewardModel } from "../prm/process-reward-model.js";
import { buildWordTokenizer } from "../tokenizer/builtin-tokenizer.js";
import { decoderOnnxBytes } from "./export-onnx.js";
import { OnnxPrmScorer } from "./onnx-prm-scorer.js";
import { extractTagHiddenStates } from "./tag-hidden-states.js";

let corpus: LabeledTrajectory[] = [];
let model: ProcessRewardModel;

beforeAll(async () => {
  await useBackend("wasm");
  corpus = new ArithEnvironment({ seed: 1 }).exactTrainingCorpus({ questions: 4, samplesPerQuestion: 2 });
  const tokenizer = buildWordTokenizer(corpus.map((t) => `${t.question.text} ${t.steps.join(" ")}`));
  model = ProcessRewardModel.fromScratch("tiny", tokenizer, { seed: 2, scoring: { batchSize: 3 } });
});
afterAll(() => model.dispose());

describe("extractTagHiddenStates", () => {
  it("returns the TF.js backbone's hidden state at each step tag, with labels, in input order; lists refused rows", async () => {
    const scorer = await OnnxPrmScorer.open(decoderOnnxBytes(model.backbone, undefined).bytes, model.encoder);
    const withBroken = [...corpus, { ...corpus[0]!, steps: [] }];
    const progress: number[] = [];
    const features = await extractTagHiddenStates(scorer, withBroken, {
      onProgress: ({ done }) => progress.push(done),
    });
    await scorer.release();
    expect(features.hiddenSize).toBe(64);
    expect(features.rejected.map((r) => [r.sourceIndex, r.reason])).toEqual([[corpus.length, "no-steps"]]);
    expect(features.rows.map((r) => r.sourceIndex)).toEqual(corpus.map((_, index) => index));
    expect(progress.at(-1)).toBe(corpus.length);
    let worst = 0;
    for (const row of features.rows) {
      const trajectory = corpus[row.sourceIndex]!;
      expect(row.hardLabels).toEqual(trajectory.hardLabels);
      expect(row.questionId).toBe(trajectory.question.id);
      const encoded = model.encoder.encode(trajectory);
      if (!encoded.ok) throw new Error("encoding failed");
      const { inputIds, tagPositions } = encoded.row;
      const hidden = tf.tidy(() =>
        model.backbone.forwardHidden({ inputIds: tf.tensor2d(inputIds, [1, inputIds.length], "int32") }),
      );
      const want = hidden.dataSync();
      hidden.dispose();
      expect(row.hidden.length).toBe(tagPositions.length * 64);
      tagPositions.forEach((position, step) => {
        for (let h = 0; h < 64; h++) {
          worst = Math.max(worst, Math.abs(row.hidden[step * 64 + h]! - want[position * 64 + h]!));
        }
      });
    }
    expect(worst).toBeLessThanOrEqual(1e-4);
  });
});
