import type { Trajectory } from "@pqm/core";
import { describeEachBackend, useBackend } from "@pqm/testing";
import { describe, expect, it } from "vitest";
import { goldenDecoderPath } from "../backbone/golden-decoders.test-helper.js";
import { ModelLoadError } from "../backbone/model-load-error.js";
import { loadTokenizer } from "../tokenizer/hf-tokenizer.js";
import { getScoringConvention } from "./convention-catalog.js";
import { createConventionEncoder } from "./convention-encoder.js";
import { loadConventionScorer } from "./convention-scorer.js";
import { detectScoringConvention, detectScoringConventionWithReason } from "./detect-convention.js";
import type { ConventionFixture } from "./prm-conventions.test-helper.js";
import { readConventionFixture, worstDifference } from "./prm-conventions.test-helper.js";
import type { ScoringConventionName } from "./scoring-convention.js";
import { scoringConventionNames } from "./scoring-convention.js";

const fixtures = new Map<ScoringConventionName, ConventionFixture>();
const missing: ScoringConventionName[] = [];
// pqm-export has no published checkpoint to mirror: its folders are written by pqm's own export at test
// time (pqm-export.test.ts).
for (const name of scoringConventionNames.filter((convention) => convention !== "pqm-export")) {
  const fixture = readConventionFixture(name);
  if (fixture === null) missing.push(name);
  else fixtures.set(name, fixture);
}

function trajectories(fixture: ConventionFixture): Trajectory[] {
  return fixture.cases.map((c, index) => ({
    question: { id: `q${index}`, text: c.question, answer: null, domain: "math" },
    steps: c.steps,
  }));
}

function folders(fixture: ConventionFixture) {
  return fixture.backbone === null ? {} : { backbone: fixture.backbone };
}

it("has a fixture for every convention (test/fixtures/prm-conventions)", () => {
  expect(missing).toEqual([]);
});

describe("the conventions' published texts", () => {
  // Only the families that tokenize one text have a reference text; skywork-prm and the TRL
  // conventions tokenize each piece on its own, and their ids are checked by the encoding tests.
  for (const [name, fixture] of fixtures) {
    const withText = fixture.cases.filter((c) => c.text !== undefined);
    if (withText.length === 0) continue;
    it(`${name}: renderText writes the text the reference tokenized`, () => {
      const convention = getScoringConvention(name);
      for (const c of withText) expect(convention.renderText(c.question, c.steps)).toBe(c.text);
    });
  }
});

describe("detection", () => {
  for (const [name, fixture] of fixtures) {
    it(`${name}: detected from its folder`, async () => {
      expect((await detectScoringConvention(fixture.model)).name).toBe(name);
    });
  }

  it("a folder that no rule decides: the error lists what it saw and the names to pass", async () => {
    // A plain Llama decoder without a tokenizer or a head: not a PRM of any known family.
    const error = await detectScoringConventionWithReason(goldenDecoderPath("llama-tiny")).catch((e) => e);
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toMatch(/llama-tiny: cannot tell which PRM convention/);
    expect(error.message).toMatch(/architectures \[.*\]/);
    expect(error.message).toContain(scoringConventionNames.join(", "));
  });
});

describeEachBackend("PRM conventions against their references", (backend) => {
  for (const [name, fixture] of fixtures) {
    it(`${name}: input ids, score positions and step log-odds (1e-4), batched with padding`, async () => {
      // Detected (not named), batches of 3 rows of different lengths (right padding is exercised).
      const scorer = await loadConventionScorer(fixture.model, {
        ...folders(fixture),
        scoring: { batchSize: 3 },
      });
      try {
        expect(scorer.convention.name).toBe(name);
        expect(scorer.runtime).toBe("tfjs");
        for (const c of fixture.cases) {
          const encoding = scorer.encode(c.question, c.steps);
          expect(encoding.inputIds, `${name} ${c.name}`).toEqual(c.input_ids);
          expect(encoding.scorePositions, `${name} ${c.name}`).toEqual(c.score_positions);
        }
        const scores = await scorer.scoreSteps(trajectories(fixture));
        const want = fixture.cases.map((c) => c.step_log_odds);
        expect(worstDifference(scores, want), `${name} on ${backend}`).toBeLessThanOrEqual(1e-4);
        // The scores differ between steps, so the comparison can fail.
        const flat = want.flat();
        expect(Math.max(...flat) - Math.min(...flat)).toBeGreaterThan(0.05);
      } finally {
        await scorer.dispose();
      }
    });
  }
});

describe("PRM conventions through the ONNX export on ONNX Runtime", () => {
  for (const [name, fixture] of fixtures) {
    it(`${name}: the exported graph with its head gives the reference log-odds (1e-4)`, async () => {
      await useBackend("wasm"); // TF.js only holds the weights until they are exported
      const scorer = await loadConventionScorer(fixture.model, {
        ...folders(fixture),
        convention: name,
        runtime: "onnxruntime",
        scoring: { batchSize: 2 },
      });
      try {
        expect(scorer.runtime).toBe("onnxruntime");
        const scores = await scorer.scoreSteps(trajectories(fixture));
        expect(
          worstDifference(
            scores,
            fixture.cases.map((c) => c.step_log_odds),
          ),
        ).toBeLessThanOrEqual(1e-4);
        expect(() => scorer.onnxBytes()).toThrow(/ONNX Runtime/);
      } finally {
        await scorer.dispose();
      }
    });
  }
});

describe("wrong or incomplete requests", () => {
  const qwen = fixtures.get("qwen2.5-math-prm");
  const release = fixtures.get("pqm-release");
  const shepherd = fixtures.get("math-shepherd");

  it("an unknown convention name is refused with the known names", async () => {
    expect(() => getScoringConvention("qwen-prm")).toThrow(
      `unknown scoring convention "qwen-prm"; known: ${scoringConventionNames.join(", ")}`,
    );
    await expect(loadConventionScorer(qwen!.model, { convention: "qwen-prm" })).rejects.toThrow(/known:/);
  });

  it.skipIf(qwen === undefined)(
    "a convention whose head the folder lacks names the file, the tensor and what the folder looks like",
    async () => {
      await useBackend("cpu");
      const error = await loadConventionScorer(qwen!.model, { convention: "trl-token-classification" }).catch(
        (e) => e,
      );
      expect(error).toBeInstanceOf(ModelLoadError);
      expect(error.message).toMatch(/model\.safetensors: 'score\.weight': tensor not found/);
      expect(error.message).toMatch(
        /looks like qwen2\.5-math-prm \(architectures Qwen2ForProcessRewardModel\)/,
      );
      const valueHead = await loadConventionScorer(qwen!.model, { convention: "skywork-prm" }).catch(
        (e) => e,
      );
      expect(valueHead.message).toMatch(
        /'v_head\.summary\.weight': tensor not found.*looks like qwen2\.5-math-prm/,
      );
    },
  );

  it.skipIf(shepherd === undefined)("a tokenizer without the convention's tag is named", async () => {
    const tokenizer = await loadTokenizer(shepherd!.model);
    expect(() => createConventionEncoder("qwen2.5-math-prm", tokenizer)).toThrow(
      /the tokenizer has no single token for the step tag "<extra_0>" \(it encodes as \[[\d, ]+\]\)/,
    );
    // Through the loader, the missing head is named first.
    await useBackend("cpu");
    const error = await loadConventionScorer(shepherd!.model, { convention: "qwen2.5-math-prm" }).catch(
      (e) => e,
    );
    expect(error).toBeInstanceOf(ModelLoadError);
    expect(error.message).toMatch(
      /'score\.0\.weight': tensor not found; this folder looks like math-shepherd/,
    );
  });

  it.skipIf(release === undefined)(
    "pqm-release needs its backbone folder, and no other takes one",
    async () => {
      await useBackend("cpu");
      await expect(loadConventionScorer(release!.model)).rejects.toThrow(
        /pqm-release is a bare state dict: give the base model's folder/,
      );
      await expect(loadConventionScorer(qwen!.model, { backbone: release!.backbone! })).rejects.toThrow(
        /a backbone folder belongs to pqm-release only/,
      );
    },
  );

  it.skipIf(qwen === undefined)("a solution without steps, or longer than maxLength, is named", async () => {
    await useBackend("cpu");
    const scorer = await loadConventionScorer(qwen!.model, { maxLength: 60 });
    try {
      const [first, , , long] = trajectories(qwen!);
      await expect(scorer.scoreSteps([first!, { ...first!, steps: [] }, long!])).rejects.toThrow(
        /2 trajectories cannot be scored: #1 \(the solution has no steps\); #2 \(217 tokens > maxLength 60\)/,
      );
    } finally {
      await scorer.dispose();
    }
  });
});
