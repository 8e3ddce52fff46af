import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CliError } from "../../shared/cli-error.js";
import {
  checkConfigLayer,
  DEFAULT_BACKBONE,
  mergeConfigLayers,
  readTrainConfigFile,
  resolveTrainCommandConfig,
} from "./train-config.js";

let folder = "";

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-train-config-"));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("train config layers", () => {
  it("merges section by section: a later value wins, null included, undefined never", () => {
    const merged = mergeConfigLayers(
      { training: { zeta: 2, batchSize: 8 }, data: { train: "a.jsonl", validation: "v.jsonl" } },
      { training: { zeta: 6, batchSize: undefined }, data: { validation: null } },
    );
    expect(merged).toEqual({
      training: { zeta: 6, batchSize: 8 },
      data: { train: "a.jsonl", validation: null },
    });
    const config = resolveTrainCommandConfig(merged);
    expect(config.model.backbone).toBe(DEFAULT_BACKBONE);
    expect(config.data.validation).toBeNull();
    // Only the fields a layer set: @pqm/model fills the training defaults.
    expect(config.training).toEqual({ zeta: 6, batchSize: 8 });
  });

  it("makes a file's local paths relative to its folder and leaves hf:// and preset: alone", async () => {
    const path = join(folder, "local.yaml");
    await writeFile(
      path,
      "data:\n  train: data/train.jsonl\nmodel:\n  backbone: models/base\noutput:\n  dir: out\n",
    );
    const layer = await readTrainConfigFile(path);
    expect(layer.data?.train).toBe(join(folder, "data", "train.jsonl"));
    expect(layer.model?.backbone).toBe(join(folder, "models", "base"));
    expect(layer.output?.dir).toBe(join(folder, "out"));
    const hub = join(folder, "hub.json");
    await writeFile(hub, JSON.stringify({ model: { backbone: "hf://owner/name@v1" } }));
    expect((await readTrainConfigFile(hub)).model?.backbone).toBe("hf://owner/name@v1");
  });

  it("names the line of a JSON syntax error and every bad field of a layer", async () => {
    const path = join(folder, "broken.json");
    await writeFile(path, '{\n  "training": {\n    "zeta": 2,\n  }\n}\n');
    await expect(readTrainConfigFile(path)).rejects.toThrow(/broken\.json:4:3: not valid JSON/);
    let caught: unknown;
    try {
      checkConfigLayer(
        { training: { loss: "hinge", maxSteps: 0 }, run: { backend: "gpu" } },
        "command line",
        (field) => ({ "training.maxSteps": "--steps" })[field] ?? `field '${field}'`,
      );
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CliError);
    expect((caught as CliError).exitCode).toBe(2);
    expect((caught as CliError).message).toBe(
      "command line: field 'training.loss': expected one of pqm, pqm-paper, pqm-theory, pqm-ablation, bce, mse, orm, " +
        `got "hinge"; --steps: expected a whole number >= 1, got 0; field 'run.backend': expected one of auto, wasm, ` +
        `cpu, webgpu, tensorflow, tensorflow-gpu, got "gpu"`,
    );
  });
});
