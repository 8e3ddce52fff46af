import { PassThrough } from "node:stream";
import type { PipelineEvent } from "@pqm/pipeline";
import { describe, expect, it } from "vitest";
import { PipelineProgressView, pipelineEventLine } from "./pipeline-progress.js";

const trained: PipelineEvent = {
  type: "model-trained",
  seed: 0,
  model: "1-zeta=4",
  loss: "pqm",
  steps: 6,
  seconds: 1.04,
  tokensPerSecond: 5125.6,
  validationAuroc: 0.8181,
};

describe("the demo's and experiments' progress lines", () => {
  it("words the demo's stages, every 50th step and each trained model", () => {
    const demo = { command: "demo" } as const;
    expect(pipelineEventLine({ type: "stage-start", seed: 0, stage: "annotate" }, demo)).toBe("annotate ...");
    expect(pipelineEventLine({ type: "stage-end", seed: 0, stage: "annotate", seconds: 0.06 }, demo)).toBe(
      "annotate done in 0.1 s",
    );
    const step = (n: number): PipelineEvent => ({
      type: "training-step",
      seed: 0,
      model: "pqm",
      loss: "pqm",
      step: n,
      totalSteps: 200,
      value: 0.6512,
    });
    expect(pipelineEventLine(step(49), demo)).toBeNull();
    expect(pipelineEventLine(step(50), demo)).toBe("  pqm: step 50, loss 0.651");
    expect(pipelineEventLine(trained, demo)).toBe(
      "  1-zeta=4: 6 steps in 1.0 s (5126 tokens/s), validation AUROC 0.818",
    );
    expect(pipelineEventLine({ ...trained, validationAuroc: null }, demo)).toMatch(/validation AUROC -$/);
  });

  it("words an experiment's stages and leaves out their ends", () => {
    const labels = { command: "experiment", experiment: "zeta", trainSteps: 150 } as const;
    expect(pipelineEventLine({ type: "stage-start", seed: 0, stage: "label" }, labels)).toBe(
      "zeta: labeling the training corpora ...",
    );
    expect(pipelineEventLine({ type: "stage-start", seed: 0, stage: "train", models: 7 }, labels)).toBe(
      "zeta: training 7 models, 150 steps each ...",
    );
    expect(pipelineEventLine({ type: "stage-end", seed: 0, stage: "train", seconds: 3 }, labels)).toBeNull();
  });

  it("prefixes the demo's lines with their seed when stderr is not a terminal", () => {
    const stream = new PassThrough() as unknown as NodeJS.WriteStream;
    let written = "";
    (stream as unknown as PassThrough).on("data", (chunk: Buffer) => {
      written += chunk.toString("utf8");
    });
    const view = new PipelineProgressView({ command: "demo" }, stream);
    view.onProgress({ type: "stage-start", seed: 3, stage: "evaluate" });
    view.onProgress({ type: "worker", state: "started", seed: 3, model: "pqm", threadId: 1 });
    view.onProgress({ ...trained, seed: 3 });
    view.close();
    expect(written).toBe(
      "[seed 3] evaluate ...\n[seed 3]   1-zeta=4: 6 steps in 1.0 s (5126 tokens/s), validation AUROC 0.818\n",
    );
  });
});
