import { readFileSync } from "node:fs";
import type { LabeledTrajectory } from "@pqm/core";
import { sharedAvailable, sharedPath, sharedSkipReason } from "@pqm/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { buildWordTokenizer } from "./builtin-tokenizer.js";
import { loadTokenizer } from "./hf-tokenizer.js";
import type { PrmTokenizer } from "./prm-tokenizer.js";
import { definePromptTemplate } from "./prompt-templates.js";
import {
  REAL_TOKENIZERS,
  type RealTokenizerName,
  realTokenizerFolder,
} from "./real-tokenizers.test-helper.js";
import { type AddedStepTag, addStepTagToken, useExistingStepTag } from "./step-tag.js";
import { EncodingMismatchError } from "./tokenizer-errors.js";
import type { EncodedRow, EncodingSpec } from "./trajectory-encoder.js";
import { checkEncodingSpec, TrajectoryEncoder } from "./trajectory-encoder.js";

function trajectory(question: string, steps: string[], hardLabels?: (0 | 1)[]): LabeledTrajectory {
  return {
    question: { id: "q", text: question, answer: null, domain: "gsm" },
    steps,
    hardLabels: hardLabels ?? steps.map(() => 1 as const),
  };
}

const sample = trajectory(
  "Tom has 12 apples and buys 7 more at the market on a sunny Sunday morning. How many apples does Tom have now?",
  ["Tom has 12 + 7 = 19 apples.", "He eats none of them.", "The answer is 19."],
  [1, 1, 0],
);

/** Math-Shepherd rows as trajectories: the question before "Step 1:", steps without their ки tag. */
function mathShepherdRows(): LabeledTrajectory[] {
  const lines = readFileSync(sharedPath("data", "math-shepherd", "sample.jsonl"), "utf8")
    .trim()
    .split("\n");
  return lines.map((line) => {
    const { input, label } = JSON.parse(line) as { input: string; label: string };
    const [question, ...steps] = input.split(/Step \d+:/);
    const labels = label
      .split(/Step \d+:/)
      .slice(1)
      .map((chunk) => (chunk.trim().endsWith("+") ? 1 : 0));
    return trajectory(
      question!.trim(),
      steps.map((step) => step.replace("ки", "").trim()),
      labels,
    );
  });
}

const tokenizers = new Map<RealTokenizerName, { tokenizer: PrmTokenizer; tag: AddedStepTag }>();
beforeAll(async () => {
  for (const name of REAL_TOKENIZERS) {
    const tokenizer = await loadTokenizer(realTokenizerFolder(name));
    tokenizers.set(name, { tokenizer, tag: addStepTagToken(tokenizer) });
  }
});

function expectTagsAt(row: EncodedRow, tagId: number, steps: number) {
  expect(row.tagPositions.length).toBe(steps);
  const found = [...row.inputIds].flatMap((id, position) => (id === tagId ? [position] : []));
  expect([...row.tagPositions]).toEqual(found);
}

describe.skipIf(!sharedAvailable)(`Math-Shepherd sample rows on real tokenizers${sharedSkipReason}`, () => {
  it.each(REAL_TOKENIZERS)("%s: every row encodes with one tag per step, labels kept", (name) => {
    const { tokenizer, tag } = tokenizers.get(name)!;
    const rows = mathShepherdRows();
    const summary = new TrajectoryEncoder(tokenizer, { stepTag: tag }).encodeAll(rows);
    expect(summary.rejected).toEqual([]);
    summary.rows.forEach((row, index) => {
      expectTagsAt(row, tag.id, rows[index]!.steps.length);
      expect(row.hardLabels).toEqual(rows[index]!.hardLabels);
      expect(row.inputIds[0]).not.toBe(tokenizer.bosTokenId);
    });
  });
});

describe("TrajectoryEncoder", () => {
  it("encodes the arithmetic environment's text with the built-in tokenizer, losslessly", () => {
    // The vocabulary comes from the rendered text itself, as a from-scratch run would build it.
    const renderer = new TrajectoryEncoder(buildWordTokenizer([]), {
      stepTag: { text: "[PRM]", id: 4, mode: "special" },
      template: "plain",
    });
    const tokenizer = buildWordTokenizer([renderer.render(sample)]);
    const tag = addStepTagToken(tokenizer);
    const encoder = new TrajectoryEncoder(tokenizer, { stepTag: tag, template: "plain" });
    const outcome = encoder.encode(sample, 3);
    if (!outcome.ok) throw new Error(outcome.rejection.message);
    expect(outcome.row.sourceIndex).toBe(3);
    expectTagsAt(outcome.row, tag.id, 3);
    expect(tokenizer.decode([...outcome.row.inputIds])).toBe(encoder.render(sample));
    expect(
      encoder
        .render(sample)
        .startsWith(`${sample.question.text} Step 1: Tom has 12 + 7 = 19 apples. [PRM]\nStep 2:`),
    ).toBe(true);
  });

  it("decodes back to the rendered text on Qwen3 (byte-level BPE is lossless)", () => {
    const { tokenizer, tag } = tokenizers.get("qwen3")!;
    const encoder = new TrajectoryEncoder(tokenizer, { stepTag: tag });
    const outcome = encoder.encode(sample);
    if (!outcome.ok) throw new Error(outcome.rejection.message);
    expect(tokenizer.decode([...outcome.row.inputIds])).toBe(encoder.render(sample));
  });

  it("puts BOS first when asked and shifts the tag positions", () => {
    const { tokenizer, tag } = tokenizers.get("deepseek_v3")!;
    const without = new TrajectoryEncoder(tokenizer, { stepTag: tag }).encode(sample);
    const withBos = new TrajectoryEncoder(tokenizer, { stepTag: tag, addBos: true }).encode(sample);
    if (!without.ok || !withBos.ok) throw new Error("not encoded");
    expect(withBos.row.inputIds[0]).toBe(tokenizer.bosTokenId);
    expect([...withBos.row.inputIds.subarray(1)]).toEqual([...without.row.inputIds]);
    expect([...withBos.row.tagPositions]).toEqual(
      [...without.row.tagPositions].map((position) => position + 1),
    );
  });

  it("rejects rows whose tags cannot be found one per step, with the reason", () => {
    const { tokenizer, tag } = tokenizers.get("llama2")!;
    const encoder = new TrajectoryEncoder(tokenizer, { stepTag: tag });
    const summary = encoder.encodeAll([
      sample,
      trajectory("Why [PRM]?", ["a"]),
      trajectory("q", ["a", "b [PRM] c"]),
      trajectory("q", ["a", "b"], [1]),
      trajectory("q", []),
    ]);
    expect(summary.rows.map((row) => row.sourceIndex)).toEqual([0]);
    expect(summary.rejected.map((rejection) => [rejection.sourceIndex, rejection.reason])).toEqual([
      [1, "tag-in-question"],
      [2, "tag-in-step"],
      [3, "label-count"],
      [4, "no-steps"],
    ]);
    expect(summary.rejected[1]!.message).toContain("step 2");
    expect(summary.rejectedByReason["tag-in-step"]).toBe(1);
  });

  it("finds an existing tag by its in-context id; a naive bare-tag id would find none (DeepSeek-V3, ки)", () => {
    const tokenizer = tokenizers.get("deepseek_v3")!.tokenizer;
    const tag = useExistingStepTag(tokenizer, "ки");
    const encoder = new TrajectoryEncoder(tokenizer, { stepTag: tag });
    const outcome = encoder.encode(sample);
    if (!outcome.ok) throw new Error(outcome.rejection.message);
    expectTagsAt(outcome.row, tag.id, 3);
    const naiveId = tokenizer.encode("ки")[0]!;
    expect([...outcome.row.inputIds].filter((id) => id === naiveId)).toHaveLength(0);

    // A template that glues the tag to the text yields the other id: the rows are rejected, not mis-read.
    const glued = definePromptTemplate("glued", "{question}\n{steps}", { stepFormat: { tagSeparator: "" } });
    const rejected = new TrajectoryEncoder(tokenizer, { stepTag: tag, template: glued }).encode(sample);
    expect(rejected.ok).toBe(false);
    if (!rejected.ok) expect(rejected.rejection.message).toMatch(/found 0 step tags .* for 3 steps/);
  });

  describe.each(["llama2", "qwen3"] as const)("truncation on %s never drops a tag silently", (name) => {
    it("truncates the question from its start, keeping every step", () => {
      const { tokenizer, tag } = tokenizers.get(name)!;
      const full = new TrajectoryEncoder(tokenizer, { stepTag: tag }).encode(sample);
      if (!full.ok) throw new Error(full.rejection.message);
      const fullIds = [...full.row.inputIds];
      const maxLength = fullIds.length - 6;
      const outcome = new TrajectoryEncoder(tokenizer, { stepTag: tag, maxLength }).encode(sample);
      if (!outcome.ok) throw new Error(outcome.rejection.message);
      const ids = [...outcome.row.inputIds];
      expect(ids.length).toBe(maxLength);
      expect(outcome.row.truncatedTokens).toBe(6);
      expectTagsAt(outcome.row, tag.id, 3);
      // Everything from the end of the question on is untouched.
      const firstTag = full.row.tagPositions[0]!;
      const kept = fullIds.length - (firstTag - 10);
      expect(ids.slice(-kept)).toEqual(fullIds.slice(-kept));
      // The question lost its first tokens: the decoded text lacks its opening words, keeps its end.
      const text = tokenizer.decode(ids);
      expect(text).not.toContain("Tom has 12 apples and buys");
      expect(text).toContain("How many apples does Tom have now?");
      expect(text).toContain("### Instruction:");
    });

    it("drops and counts rows that are too long with overflow: drop, or whose steps alone do not fit", () => {
      const { tokenizer, tag } = tokenizers.get(name)!;
      const full = new TrajectoryEncoder(tokenizer, { stepTag: tag }).encode(sample);
      if (!full.ok) throw new Error(full.rejection.message);
      const length = full.row.inputIds.length;
      const dropping = new TrajectoryEncoder(tokenizer, {
        stepTag: tag,
        maxLength: length - 1,
        overflow: "drop",
      });
      const summary = dropping.encodeAll([sample, trajectory("Short?", ["Yes."])]);
      expect(summary.rows).toHaveLength(1);
      expect(summary.rejectedByReason["too-long"]).toBe(1);
      expect(summary.rejected[0]!.message).toContain("overflow: drop");

      const tight = new TrajectoryEncoder(tokenizer, {
        stepTag: tag,
        maxLength: full.row.tagPositions[0]! - 20,
      });
      const outcome = tight.encode(sample);
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) expect(outcome.rejection).toMatchObject({ reason: "too-long" });
      expect(tight.encodeAll([sample]).truncatedRows).toBe(0);
    });
  });
});

describe("encoding specs: prompts formatted differently at training and evaluation", () => {
  it("passes for the same encoding after a JSON round trip and fails on any difference", () => {
    const { tokenizer, tag } = tokenizers.get("qwen3")!;
    const training = new TrajectoryEncoder(tokenizer, { stepTag: tag, template: "pqm-alpaca" });
    const saved = JSON.parse(JSON.stringify(training.spec)) as EncodingSpec;
    expect(() => new TrajectoryEncoder(tokenizer, { stepTag: tag, expectSpec: saved })).not.toThrow();

    expect(
      () => new TrajectoryEncoder(tokenizer, { stepTag: tag, template: "plain", expectSpec: saved }),
    ).toThrow(EncodingMismatchError);
    const error = (() => {
      try {
        checkEncodingSpec(
          saved,
          new TrajectoryEncoder(tokenizer, { stepTag: tag, template: "plain", addBos: true }).spec,
        );
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(EncodingMismatchError);
    const differences = (error as EncodingMismatchError).differences.map((line) => line.split(":")[0]);
    expect(differences).toEqual(["template.name", "template.layout", "addBos"]);
    // Same name, different text: caught by the stored layout.
    const impostor = definePromptTemplate("pqm-alpaca", "### Instruction:\n{question}\n{steps}");
    expect(
      () => new TrajectoryEncoder(tokenizer, { stepTag: tag, template: impostor, expectSpec: saved }),
    ).toThrow(/template\.layout/);
  });
});
