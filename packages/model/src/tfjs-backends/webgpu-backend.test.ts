import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { webgpuProbe } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRandomDecoder } from "../backbone/create-random-decoder.js";
import { loadCheckpoint } from "../checkpoint/load-checkpoint.js";
import { arithCorpus, testModel } from "../prm/prm-fixtures.test-helper.js";
import type { StepRecord, TrainingConfig } from "../training/train-prm.js";
import { trainPrm } from "../training/train-prm.js";
import { resetBackendSelection, selectBackend } from "./select-backend.js";
import { probeWebGpuInChildProcess } from "./webgpu-backend.js";

const missing = (name: string) => (specifier: string) => {
  if (specifier === name) {
    const error = new Error(`Cannot find package '${name}' imported from ${import.meta.url}`);
    return Promise.reject(Object.assign(error, { code: "ERR_MODULE_NOT_FOUND" }));
  }
  return import(specifier);
};

describe("webgpu backend: missing optional peers", () => {
  afterAll(() => resetBackendSelection());

  it("a forced webgpu names the missing package and the command that installs both", async () => {
    resetBackendSelection();
    await expect(selectBackend({ backend: "webgpu", importModule: missing("webgpu") })).rejects.toThrow(
      /^webgpu is not installed: PQM_BACKEND=webgpu needs it \(an optional peer dependency of @pqm\/model\)\. Install it: npm install webgpu@0\.6\.2 @tensorflow\/tfjs-backend-webgpu@4\.22\.0/,
    );
  });

  it("the automatic choice records a missing webgpu and goes on", async () => {
    resetBackendSelection();
    const selection = await selectBackend({ importModule: missing("webgpu") });
    expect(selection.backend).not.toBe("webgpu");
    expect(selection.skipped.webgpu).toBe("not installed (webgpu)");
  });
});

// The conformance checks of the WebGPU path, at shapes small enough for lavapipe (a CPU Vulkan) in CI:
// the same training run on wasm and on webgpu (20 steps, losses within the benchmark's 2e-3), with
// validation, a checkpoint, loading it back and scoring, all of it reading back asynchronously.
const probe = webgpuProbe();
describe.skipIf(!probe.available)(`webgpu backend${probe.skipReason}`, () => {
  const corpus = arithCorpus(10, 3);
  const config: Partial<TrainingConfig> = {
    loss: "pqm",
    learningRate: 3e-3,
    batchSize: 6,
    gradientAccumulation: 2,
    maxSteps: 20,
    warmupSteps: 2,
    weightDecay: 0.01,
    maxGradNorm: 0.5,
    evalEvery: 10,
    seed: 3,
  };
  let root: string;
  let reference: { history: StepRecord[]; scores: number[][] };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), "pqm-webgpu-"));
    resetBackendSelection();
    await selectBackend({ backend: "wasm", matmul: "wasm" }); // equals cpu to 1e-6 (bench/run.ts), faster
    const model = testModel(corpus, "micro", 1);
    const run = await trainPrm({ model, train: corpus, config });
    reference = { history: run.history, scores: await model.scoreSteps(corpus.slice(0, 4)) };
    model.dispose();
    resetBackendSelection();
  });
  afterAll(async () => {
    resetBackendSelection();
    await rm(root, { recursive: true, force: true });
  });

  it("the automatic choice's child-process probe sees the same adapter", async () => {
    const found = await probeWebGpuInChildProcess();
    expect(found.kind).toBe("adapter");
    if (found.kind === "adapter") {
      expect(found.adapter.vendor).toBe(probe.adapter?.vendor);
      expect(found.adapter.software).toBe(probe.adapter?.isFallbackAdapter);
    }
  });

  it("a forced webgpu starts on the adapter and names it", async () => {
    const selection = await selectBackend({ backend: "webgpu" });
    expect(selection.tfBackend).toBe("webgpu");
    expect(tf.getBackend()).toBe("webgpu");
    expect(selection.adapter?.vendor).toBe(probe.adapter?.vendor);
    expect(selection.adapter?.software).toBe(probe.adapter?.isFallbackAdapter);
    expect(selection.description).toMatch(/^webgpu \(/);
    expect(selection.advice === null).toBe(selection.adapter?.software === false);
  });

  it("trains 20 steps like wasm (losses within 2e-3), checkpoints, loads and scores like wasm", async () => {
    await selectBackend({ backend: "webgpu" });
    const model = testModel(corpus, "micro", 1);
    const before = tf.memory().numTensors;
    const run = await trainPrm({ model, train: corpus, config, run: { outputDir: join(root, "run") } });
    expect(run.steps).toBe(20);
    expect(tf.memory().numTensors).toBe(before);
    run.history.forEach((record, index) => {
      const expected = reference.history[index] as StepRecord;
      expect(
        Math.abs(record.loss - expected.loss) / Math.abs(expected.loss),
        `step ${index + 1}`,
      ).toBeLessThan(2e-3);
      expect(Math.abs(record.gradNorm - expected.gradNorm) / expected.gradNorm).toBeLessThan(2e-3);
    });
    expect(run.history[9]?.validation).toBeUndefined(); // evaluated before step 11, logged with it
    expect(run.history[10]?.validation?.steps).toBe(reference.history[10]?.validation?.steps);
    const scores = await model.scoreSteps(corpus.slice(0, 4));
    model.dispose();
    const { model: loaded } = await loadCheckpoint(run.checkpoints.at(-1) as string);
    const reloaded = await loaded.scoreSteps(corpus.slice(0, 4));
    loaded.dispose();
    expect(reloaded).toEqual(scores);
    scores.flat().forEach((score, index) => {
      const expected = reference.scores.flat()[index] as number;
      expect(Math.abs(score - expected), `score ${index}`).toBeLessThan(
        2e-3 * Math.max(1, Math.abs(expected)),
      );
    });
  });

  it("checks token ids on the host: out of range fails before anything runs on the device", async () => {
    await selectBackend({ backend: "webgpu" });
    const backbone = createRandomDecoder(
      {
        model_type: "llama",
        vocab_size: 40,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 1,
      },
      1,
      { mode: "frozen" },
    );
    const ids = tf.tensor2d([[1, 40]], undefined, "int32");
    expect(() => backbone.forwardHidden({ inputIds: ids })).toThrow(
      /inputIds must lie in \[0, 40\), got values from 1 to 40/,
    );
    // Ids made on the device (never on the host) need their values passed along.
    const onDevice = tf.cast(tf.add(tf.zeros([4, 300], "int32"), 1), "int32");
    expect(() => backbone.forwardHidden({ inputIds: onDevice })).toThrow(
      /inputIds cannot be read back synchronously on the webgpu backend .*pass their values as inputIdValues/,
    );
    const hidden = backbone.forwardHidden({
      inputIds: onDevice,
      inputIdValues: new Int32Array(1200).fill(1),
    });
    expect(hidden.shape).toEqual([4, 300, 16]);
    tf.dispose([ids, onDevice, hidden]);
    backbone.dispose();
  });
});
