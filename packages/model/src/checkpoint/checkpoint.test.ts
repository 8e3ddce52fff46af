import { existsSync } from "node:fs";
import { cp, mkdtemp, readdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describeEachBackend } from "@pqm/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { readSafetensorsFile } from "../backbone/safetensors/read-safetensors.js";
import { writeSafetensors } from "../backbone/safetensors/write-safetensors.js";
import { arithCorpus, testModel } from "../prm/prm-fixtures.test-helper.js";
import type { ProcessRewardModel } from "../prm/process-reward-model.js";
import { CHECKPOINT_FILES, PQM_CHECKPOINT_FORMAT } from "./checkpoint-format.js";
import { loadCheckpoint, readPqmMetadata } from "./load-checkpoint.js";
import { saveCheckpoint } from "./save-checkpoint.js";
import { CheckpointIntegrityError } from "./verify-checkpoint.js";
import { TRL_BACKBONE_PREFIX } from "./weight-source.js";

describeEachBackend("checkpoints", () => {
  const corpus = arithCorpus(5, 2);
  let model: ProcessRewardModel;
  let root: string;
  let scores: number[][];
  beforeAll(async () => {
    model = testModel(corpus, "micro", 9);
    root = await mkdtemp(join(tmpdir(), "pqm-checkpoint-"));
    scores = await model.scoreSteps(corpus);
  });
  afterAll(async () => {
    model?.dispose();
    await rm(root, { recursive: true, force: true });
  });

  it("round-trips bit for bit, with Hugging Face and TRL names and pqm.json", async () => {
    const folder = join(root, "round-trip");
    await saveCheckpoint(folder, model, { loss: "pqm", zeta: 4, step: 7, training: { learningRate: 0.001 } });
    const weights = await readSafetensorsFile(join(folder, CHECKPOINT_FILES.weights));
    const names = [...weights.entries.keys()];
    expect(names).toContain("model.embed_tokens.weight");
    expect(names).toContain("model.layers.0.self_attn.q_proj.weight");
    expect(names).toContain("v_head.summary.weight");
    expect(names).toContain("v_head.summary.bias");
    expect(names).not.toContain("lm_head.weight"); // tied
    expect(weights.entry("v_head.summary.weight").shape).toEqual([1, 16]);
    for (const file of ["config.json", "tokenizer.json", "tokenizer_config.json", "pqm.json"]) {
      expect(existsSync(join(folder, file))).toBe(true);
    }
    const metadata = await readPqmMetadata(folder);
    expect(metadata.format).toBe(PQM_CHECKPOINT_FORMAT);
    expect(metadata.loss).toBe("pqm");
    expect(metadata.zeta).toBe(4);
    expect(metadata.step).toBe(7);
    expect(metadata.stepTag).toEqual({ text: "[PRM]", id: model.stepTag.id, mode: "special" });
    expect(metadata.encoding).toEqual(model.spec);

    const loaded = await loadCheckpoint(folder);
    expect(loaded.trainingState).toBeNull();
    const again = await loaded.model.scoreSteps(corpus);
    expect(again).toEqual(scores);
    again.flat().forEach((value, index) => {
      expect(Object.is(value, scores.flat()[index])).toBe(true);
    });
    loaded.model.dispose();
  });

  it("loads a TRL checkpoint whose backbone is under pretrained_model.", async () => {
    const folder = join(root, "trl");
    await saveCheckpoint(folder, model);
    const file = await readSafetensorsFile(join(folder, CHECKPOINT_FILES.weights));
    const renamed = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [name, entry] of file.entries) {
      const trlName = name.startsWith("v_head.") ? name : `${TRL_BACKBONE_PREFIX}${name}`;
      renamed.set(trlName, { shape: entry.shape, data: file.float32(name) });
    }
    await writeSafetensors(join(folder, CHECKPOINT_FILES.weights), renamed);
    await rm(join(folder, CHECKPOINT_FILES.pqm));
    const loaded = await loadCheckpoint(folder, { template: "plain" });
    expect(loaded.metadata).toBeNull();
    expect(await loaded.model.scoreSteps(corpus)).toEqual(scores);
    loaded.model.dispose();
  });

  it("refuses a checkpoint without a value head, naming the tensor", async () => {
    const folder = join(root, "no-head");
    await saveCheckpoint(folder, model);
    const file = await readSafetensorsFile(join(folder, CHECKPOINT_FILES.weights));
    const kept = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const [name, entry] of file.entries) {
      if (!name.startsWith("v_head.")) kept.set(name, { shape: entry.shape, data: file.float32(name) });
    }
    await writeSafetensors(join(folder, CHECKPOINT_FILES.weights), kept);
    // The weights were rewritten on purpose, so their recorded digest no longer matches.
    await expect(loadCheckpoint(folder, { verify: false })).rejects.toThrow(
      /v_head\.summary\.weight.*no value head/,
    );
  });

  it("leaves the previous checkpoint intact when a save fails mid-write", async () => {
    const folder = join(root, "atomic");
    await saveCheckpoint(folder, model, { step: 1 });
    const before = await readFile(join(folder, CHECKPOINT_FILES.weights));
    const other = testModel(corpus, "micro", 10);
    await expect(
      saveCheckpoint(folder, other, {
        step: 2,
        onFileWritten: (name) => {
          if (name === CHECKPOINT_FILES.weights) throw new Error("simulated crash after the weights");
        },
      }),
    ).rejects.toThrow(/simulated crash/);
    other.dispose();
    expect(Buffer.compare(await readFile(join(folder, CHECKPOINT_FILES.weights)), before)).toBe(0);
    expect((await readPqmMetadata(folder)).step).toBe(1);
    expect((await readdir(root)).filter((entry) => entry.includes(".tmp-"))).toEqual([]);
    const loaded = await loadCheckpoint(folder);
    expect(await loaded.model.scoreSteps(corpus)).toEqual(scores);
    loaded.model.dispose();
  });

  it("records every file's size and SHA-256 in pqm.json and refuses a truncated, altered or missing file", async () => {
    const run = join(root, "verified");
    const earlier = join(run, "checkpoint-000001");
    const good = join(run, "checkpoint-000002");
    await saveCheckpoint(earlier, model, { step: 1 });
    await saveCheckpoint(good, model, { step: 2 });
    const metadata = await readPqmMetadata(good);
    const weightsSize = (await readFile(join(good, CHECKPOINT_FILES.weights))).byteLength;
    expect(metadata.files?.[CHECKPOINT_FILES.weights]?.bytes).toBe(weightsSize);
    expect(metadata.files?.[CHECKPOINT_FILES.weights]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(metadata.files ?? {}).sort()).toEqual(
      ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"].sort(),
    );

    // Each damaged copy is step 3 of its own run, beside an intact step 2.
    const damaged = async (name: string, damage: (folder: string) => Promise<void>) => {
      const folder = join(root, `damaged-${name}`, "checkpoint-000003");
      await cp(good, join(root, `damaged-${name}`, "checkpoint-000002"), { recursive: true });
      await cp(good, folder, { recursive: true });
      await damage(folder);
      return loadCheckpoint(folder).then(
        () => {
          throw new Error(`${folder} loaded`);
        },
        (error: unknown) => error,
      );
    };
    const truncated = await damaged("truncated", (folder) =>
      truncate(join(folder, CHECKPOINT_FILES.weights), 1000),
    );
    expect(truncated).toBeInstanceOf(CheckpointIntegrityError);
    expect((truncated as Error).message).toBe(
      `${join(root, "damaged-truncated", "checkpoint-000003")}: checkpoint is incomplete or corrupted: ` +
        `model.safetensors is 1,000 bytes, expected ${weightsSize.toLocaleString("en-US")}; ` +
        `delete the folder, or resume from ${join(root, "damaged-truncated", "checkpoint-000002")}`,
    );
    const flipped = await damaged("flipped", async (folder) => {
      const path = join(folder, CHECKPOINT_FILES.weights);
      const bytes = await readFile(path);
      bytes[bytes.length - 3] = (bytes[bytes.length - 3] as number) ^ 0x01;
      await writeFile(path, bytes);
    });
    expect((flipped as Error).message).toMatch(
      /checkpoint-000003: checkpoint is incomplete or corrupted: model\.safetensors has the right size but its SHA-256 differs \(altered bytes\); delete the folder, or resume from .*checkpoint-000002$/,
    );
    const deleted = await damaged("deleted", (folder) => rm(join(folder, "tokenizer.json")));
    expect((deleted as Error).message).toMatch(
      /checkpoint-000003: checkpoint is incomplete or corrupted: tokenizer\.json is missing \(expected [\d,]+ bytes\); delete the folder, or resume from .*checkpoint-000002$/,
    );
    // The first checkpoint of a run has nothing earlier to fall back on.
    await truncate(join(earlier, CHECKPOINT_FILES.config), 3);
    await expect(loadCheckpoint(earlier)).rejects.toThrow(
      /config\.json is 3 bytes, expected [\d,]+; delete the folder and save or train it again$/,
    );
  });

  it("loads a checkpoint saved before file records existed, with a warning", async () => {
    const folder = join(root, "old");
    await saveCheckpoint(folder, model);
    const path = join(folder, CHECKPOINT_FILES.pqm);
    const { files: _files, ...older } = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    await writeFile(path, JSON.stringify(older));
    const warnings: string[] = [];
    const loaded = await loadCheckpoint(folder, { onWarning: (message) => warnings.push(message) });
    expect(warnings).toEqual([
      `${folder}: pqm.json records no file sizes or digests (saved by an older @pqm/model), so its files were not verified`,
    ]);
    expect(await loaded.model.scoreSteps(corpus)).toEqual(scores);
    loaded.model.dispose();
  });
});
