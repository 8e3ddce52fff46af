import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Scorer } from "@pqm/core";
import { describeEachBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createRandomDecoder } from "../backbone/create-random-decoder.js";
import { readSafetensorsFile } from "../backbone/safetensors/read-safetensors.js";
import { writeSafetensors } from "../backbone/safetensors/write-safetensors.js";
import { collateRows } from "../batching/collate-rows.js";
import { buildWordTokenizer } from "../tokenizer/builtin-tokenizer.js";
import { arithCorpus, testModel } from "./prm-fixtures.test-helper.js";
import { ProcessRewardModel } from "./process-reward-model.js";

describeEachBackend("ProcessRewardModel", () => {
  const corpus = arithCorpus(6, 3);
  let model: ProcessRewardModel;
  beforeAll(() => {
    model = testModel(corpus, "micro", 3);
  });
  afterAll(() => model?.dispose());

  it("scores all steps in one pass exactly as scoring every prefix on its own", async () => {
    const trajectories = corpus.slice(0, 6);
    const scorer: Scorer = model;
    const full = await scorer.scoreSteps(trajectories);
    const prefixes = trajectories.flatMap((trajectory) =>
      trajectory.steps.map((_, index) => ({
        question: trajectory.question,
        steps: trajectory.steps.slice(0, index + 1),
      })),
    );
    const prefixScores = await model.scoreSteps(prefixes);
    let at = 0;
    trajectories.forEach((trajectory, row) => {
      expect(full[row]).toHaveLength(trajectory.steps.length);
      trajectory.steps.forEach((_, step) => {
        const alone = prefixScores[at++]!;
        expect(alone).toHaveLength(step + 1);
        expect(Math.abs(alone[step]! - full[row]![step]!)).toBeLessThan(1e-4);
      });
    });
  });

  it("gives the same scores whatever the batch composition and order", async () => {
    const trajectories = corpus.slice(0, 9);
    const together = await model.scoreSteps(trajectories);
    const reversed = await model.scoreSteps([...trajectories].reverse());
    const alone = await model.scoreSteps([trajectories[4]!]);
    reversed.reverse().forEach((scores, row) => {
      scores.forEach((score, step) => {
        expect(Math.abs(score - together[row]![step]!)).toBeLessThan(1e-4);
      });
    });
    alone[0]!.forEach((score, step) => {
      expect(Math.abs(score - together[4]![step]!)).toBeLessThan(1e-4);
    });
  });

  it("scoreBatch returns [batch, steps] scores with the step mask", () => {
    const rows = model.encoder.encodeAll(corpus.slice(0, 3)).rows;
    const collated = collateRows(rows, { padTokenId: model.padTokenId });
    const { scores, mask } = model.scoreBatch(collated);
    expect(scores.shape).toEqual([3, collated.maxSteps]);
    expect(Array.from(mask.dataSync())).toEqual(Array.from(collated.stepMask));
    tf.dispose([scores, mask]);
  });

  it("refuses trajectories it cannot encode, naming them", async () => {
    await expect(model.scoreSteps([{ question: corpus[0]!.question, steps: [] }])).rejects.toThrow(
      /#0 \(no-steps/,
    );
  });

  it("adds the step tag to a pretrained backbone with a mean-initialized embedding row", async () => {
    const folder = await mkdtemp(join(tmpdir(), "pqm-pretrained-"));
    try {
      const tokenizer = buildWordTokenizer(["twelve plus seven"], { stepTag: null });
      const config = {
        model_type: "llama",
        vocab_size: tokenizer.vocabSize,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        num_key_value_heads: 1,
        tie_word_embeddings: false,
        max_position_embeddings: 256,
      };
      const backbone = createRandomDecoder(config, 5);
      const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
      for (const [name, tensor] of backbone.namedWeights()) {
        tensors.set(name, { shape: tensor.shape, data: tensor.dataSync() as Float32Array });
      }
      backbone.dispose();
      await writeSafetensors(join(folder, "model.safetensors"), tensors);
      await writeFile(join(folder, "config.json"), JSON.stringify(config));
      await tokenizer.save(folder);

      const { model: prm, report } = await ProcessRewardModel.fromPretrained(folder, { template: "plain" });
      expect(report).toEqual({
        addedTokens: 1,
        stepTagId: config.vocab_size,
        embeddingRowsBefore: config.vocab_size,
        embeddingRowsAfter: config.vocab_size + 1,
      });
      const weights = prm.namedWeights();
      for (const name of ["model.embed_tokens.weight", "lm_head.weight"]) {
        const table = weights.get(name)!.arraySync() as number[][];
        const stored = (await readSafetensorsFile(join(folder, "model.safetensors"))).float32(name);
        const mean = Array.from({ length: 16 }, (_, column) => {
          let sum = 0;
          for (let row = 0; row < config.vocab_size; row++) sum += stored[row * 16 + column]!;
          return sum / config.vocab_size;
        });
        table[config.vocab_size]!.forEach((value, column) => {
          expect(value).toBeCloseTo(mean[column]!, 6);
        });
      }
      tf.dispose([...weights.values()]);
      const scores = await prm.scoreSteps([
        { question: corpus[0]!.question, steps: ["twelve plus seven", "seven"] },
      ]);
      expect(scores[0]).toHaveLength(2);
      prm.dispose();
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});
