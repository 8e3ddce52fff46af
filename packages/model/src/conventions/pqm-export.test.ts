import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Trajectory } from "@pqm/core";
import { useBackend } from "@pqm/testing";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecoderConfigJson } from "../backbone/create-random-decoder.js";
import { ModelLoadError } from "../backbone/model-load-error.js";
import { collateRows } from "../batching/collate-rows.js";
import {
  exportHuggingFaceTokenClassification,
  HF_EXPORT_INFO_FILE,
} from "../export/hf-token-classification.js";
import { ProcessRewardModel } from "../prm/process-reward-model.js";
import { startLoopbackPoolingServer } from "../remote/loopback-pooling-server.js";
import { VllmPoolingScorer } from "../remote/vllm-pooling-scorer.js";
import { loadTokenizer } from "../tokenizer/hf-tokenizer.js";
import type { PrmTokenizer } from "../tokenizer/prm-tokenizer.js";
import { realTokenizerFolder } from "../tokenizer/real-tokenizers.test-helper.js";
import { getScoringConvention } from "./convention-catalog.js";
import { loadConventionScorer } from "./convention-scorer.js";
import {
  detectScoringConvention,
  detectScoringConventionWithReason,
  scoringConventionForFolder,
} from "./detect-convention.js";
import { readPqmExportFormat } from "./pqm-export.js";
import { readConventionFixture, worstDifference } from "./prm-conventions.test-helper.js";

// pqm's own Hugging Face export read back through the conventions: a random small PRM on a real
// tokenizer, exported for transformers and for vLLM, must score exactly as the PRM itself does, locally
// (loadConventionScorer, detected) and through vLLM's /pooling (a loopback server whose rows are the
// model's own logits at the step tags of the text it receives, sigmoid-ed as vLLM returns a one-label
// classifier's rows).

const TOLERANCE = 1e-5;

/** MATH-like solutions: LaTeX, a leading "Step n:", leading spaces, a newline inside a step, unicode. */
const trajectories: Trajectory[] = [
  {
    question: { id: "frac", text: "Compute $\\dfrac{3}{4} + \\dfrac{1}{8}$.", answer: "7/8", domain: "math" },
    steps: [
      "To add the fractions, rewrite $\\frac{3}{4}$ as $\\frac{6}{8}$.",
      "Then $\\frac{6}{8} + \\frac{1}{8} = \\frac{7}{8}$.",
      "The answer is $\\boxed{\\frac{7}{8}}$.",
    ],
  },
  {
    question: {
      id: "quad",
      text: "Find all real $x$ such that $x^2 - 5x + 6 = 0$.",
      answer: "2,3",
      domain: "math",
    },
    steps: [
      "Step 1: Factor the quadratic: $x^2 - 5x + 6 = (x-2)(x-3)$.",
      "  Setting each factor to zero gives $x = 2$ or $x = 3$.",
      "So the solutions are $x \\in \\{2, 3\\}$.\nBoth satisfy the equation.",
    ],
  },
  {
    question: { id: "comp", text: "If $f(x) = 2x + 3$, what is $f(f(1))$?", answer: "13", domain: "math" },
    steps: ["$f(1) = 2 \\cdot 1 + 3 = 5$.", "$f(5) = 2 \\cdot 5 + 3 = 13$, and 13 ≥ 10 — so $\\boxed{13}$."],
  },
  {
    question: {
      id: "circle",
      text: "A circle has radius $r = 4$. What is its area?",
      answer: "16\\pi",
      domain: "math",
    },
    steps: ["The area is $\\pi r^2 = 16\\pi$."],
  },
];

interface Case {
  label: string;
  tokenizer: "llama2" | "qwen3";
  template: string;
  addBos: boolean;
  config: DecoderConfigJson;
}

const CASES: Case[] = [
  {
    label: "Llama (SentencePiece tokenizer), pqm-alpaca, BOS first",
    tokenizer: "llama2",
    template: "pqm-alpaca",
    addBos: true,
    config: {
      model_type: "llama",
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
    },
  },
  {
    label: "Qwen2 (byte-level BPE), the chat template with the boxed instruction, no BOS",
    tokenizer: "qwen3",
    template: "pqm-chat-boxed",
    addBos: false,
    config: {
      model_type: "qwen2",
      hidden_size: 16,
      intermediate_size: 32,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      num_key_value_heads: 1,
    },
  },
];

let scratch = "";
beforeAll(async () => {
  await useBackend("cpu");
  scratch = mkdtempSync(join(tmpdir(), "pqm-export-convention-"));
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

/**
 * The rows a vLLM server gives for `text` when it serves `folder` (the export) with STEP pooling at the
 * tag: the text tokenized by the export's tokenizer (a BOS first unless `add_special_tokens` is false, as
 * a Llama tokenizer does), the model's logit at every position holding the tag id (without the bias a
 * `vllm` export leaves out of its weights), and a sigmoid, rounded to float32.
 */
function servedRows(model: ProcessRewardModel, tokenizer: PrmTokenizer, biasLeftOut: number) {
  return (text: string, request: { addSpecialTokens: boolean | undefined }): number[][] => {
    const ids = tokenizer.encode(text, { addBos: request.addSpecialTokens !== false });
    const positions = ids.flatMap((id, position) => (id === model.stepTag.id ? [position] : []));
    if (positions.length === 0) return [];
    const batch = collateRows(
      [
        {
          sourceIndex: 0,
          inputIds: Int32Array.from(ids),
          tagPositions: Int32Array.from(positions),
          hardLabels: null,
          softLabels: null,
          truncatedTokens: 0,
        },
      ],
      { padTokenId: model.padTokenId },
    );
    const { scores, mask } = model.scoreBatch(batch);
    const logits = Array.from(scores.dataSync()).slice(0, positions.length);
    scores.dispose();
    mask.dispose();
    return logits.map((logit) => [Math.fround(1 / (1 + Math.exp(-(logit - biasLeftOut))))]);
  };
}

for (const spec of CASES) {
  describe(`pqm-export: ${spec.label}`, () => {
    let model: ProcessRewardModel;
    let reference: number[][];
    const bias = 0.37;

    beforeAll(async () => {
      const tokenizer = await loadTokenizer(realTokenizerFolder(spec.tokenizer));
      model = ProcessRewardModel.fromScratch(spec.config, tokenizer, {
        seed: 11,
        template: spec.template,
        addBos: spec.addBos,
      });
      model.valueHead.bias.assign(tf.tensor1d([bias]));
      reference = await model.scoreSteps(trajectories);
    });
    afterAll(() => {
      model.dispose();
    });

    it("the reference differs from step to step, so a wrong reading shows", () => {
      const flat = reference.flat();
      expect(flat).toHaveLength(9);
      expect(Math.max(...flat) - Math.min(...flat)).toBeGreaterThan(1e-3);
    });

    for (const target of ["transformers", "vllm"] as const) {
      it(`target ${target}: detected as pqm-export; renderText gives pqm's ids; scored locally = pqm's scores (${TOLERANCE})`, async () => {
        const out = join(scratch, `${spec.tokenizer}-${target}`);
        await exportHuggingFaceTokenClassification(model, out, { target });

        expect((await detectScoringConvention(out)).name).toBe("pqm-export");
        const detection = await detectScoringConventionWithReason(out);
        expect(detection).toEqual({
          convention: "pqm-export",
          reason: expect.stringMatching(
            /^pqm_export\.json \(written by pqm's Hugging Face export\) beside \w+ForTokenClassification$/,
          ),
        });

        // The text a server receives tokenizes (without special tokens) to the ids pqm scores.
        const convention = await scoringConventionForFolder(out);
        expect(convention.stepTag).toBe(model.stepTag.text);
        expect(convention.poolingReadout).toBe("single");
        expect(convention.poolingAddSpecialTokens).toBe(false);
        expect(convention.poolingLogOddsOffset).toBeCloseTo(target === "vllm" ? bias : 0, 7);
        const exported = await loadTokenizer(out);
        for (const trajectory of trajectories) {
          const outcome = model.encoder.encode(trajectory);
          if (!outcome.ok) throw new Error(outcome.rejection.message);
          const text = convention.renderText(trajectory.question.text, trajectory.steps);
          expect(exported.encode(text)).toEqual(Array.from(outcome.row.inputIds));
          expect(model.tokenizer.encode(text)).toEqual(Array.from(outcome.row.inputIds));
          if (spec.addBos) expect(outcome.row.inputIds[0]).toBe(exported.bosTokenId);
        }

        const scorer = await loadConventionScorer(out);
        try {
          expect(scorer.convention.name).toBe("pqm-export");
          expect(scorer.detection?.convention).toBe("pqm-export");
          expect(scorer.head.outputs).toBe(1);
          for (const trajectory of trajectories) {
            const outcome = model.encoder.encode(trajectory);
            if (!outcome.ok) throw new Error(outcome.rejection.message);
            const encoding = scorer.encode(trajectory.question.text, trajectory.steps);
            expect(encoding.inputIds).toEqual(Array.from(outcome.row.inputIds));
            expect(encoding.scorePositions).toEqual(Array.from(outcome.row.tagPositions));
          }
          const scores = await scorer.scoreSteps(trajectories);
          expect(worstDifference(scores, reference)).toBeLessThanOrEqual(TOLERANCE);
          // A step holding the tag text is refused, as pqm refuses it.
          await expect(
            scorer.scoreSteps([{ ...trajectories[0]!, steps: [`a ${model.stepTag.text} b`] }]),
          ).rejects.toThrow(/step 1 contains the step tag text/);
        } finally {
          await scorer.dispose();
        }

        // TRL's layout (pieces and newlines) reads other positions: the convention matters.
        const trl = await loadConventionScorer(out, { convention: "trl-token-classification" });
        try {
          const first = trajectories[0]!;
          expect(trl.encode(first.question.text, first.steps).inputIds).not.toEqual(
            scorer.encode(first.question.text, first.steps).inputIds,
          );
          expect(trl.convention.poolingReadout).toBe("single"); // one label: vLLM's rows are sigmoid-ed
        } finally {
          await trl.dispose();
        }
      });

      it(`target ${target}: through VllmPoolingScorer against a loopback /pooling serving the export = pqm's scores (${TOLERANCE})`, async () => {
        const out = join(scratch, `${spec.tokenizer}-${target}`);
        const convention = await scoringConventionForFolder(out);
        const exported = await loadTokenizer(out);
        const server = await startLoopbackPoolingServer({
          stepTag: convention.stepTag!,
          readout: "single",
          rows: servedRows(model, exported, target === "vllm" ? bias : 0),
        });
        try {
          const prm = new VllmPoolingScorer({ endpoints: [server.url], convention, env: {}, batchSize: 3 });
          const scores = await prm.scoreSteps(trajectories);
          expect(worstDifference(scores, reference)).toBeLessThanOrEqual(TOLERANCE);
          const bodies = server.seen.map(
            (seen) => seen.body as { add_special_tokens?: boolean; input: string[] },
          );
          expect(bodies.every((body) => body.add_special_tokens === false)).toBe(true);
          // Left to the server's default (a BOS added where the tokenizer has one), other ids are read.
          if (exported.bosTokenId !== null) {
            const defaults = new VllmPoolingScorer({
              endpoints: [server.url],
              convention: { ...convention, poolingAddSpecialTokens: undefined },
              env: {},
            });
            expect(worstDifference(await defaults.scoreSteps(trajectories), reference)).toBeGreaterThan(
              TOLERANCE,
            );
          }
        } finally {
          await server.close();
        }
      });
    }
  });
}

describe("pqm-export on the wasm backend", () => {
  it(`the Llama export (target vllm) scores as pqm's model on cpu (${TOLERANCE})`, async () => {
    const spec = CASES[0]!;
    await useBackend("cpu");
    const tokenizer = await loadTokenizer(realTokenizerFolder(spec.tokenizer));
    const model = ProcessRewardModel.fromScratch(spec.config, tokenizer, {
      seed: 5,
      template: spec.template,
      addBos: true,
    });
    const reference = await model.scoreSteps(trajectories);
    const out = join(scratch, "wasm-vllm");
    await exportHuggingFaceTokenClassification(model, out, { target: "vllm" });
    model.dispose();
    const scorer = await loadConventionScorer(out, { backend: "wasm" });
    try {
      expect(tf.getBackend()).toBe("wasm");
      expect(worstDifference(await scorer.scoreSteps(trajectories), reference)).toBeLessThanOrEqual(
        TOLERANCE,
      );
    } finally {
      await scorer.dispose();
      await useBackend("cpu");
    }
  });
});

describe("pqm-export: what it refuses and explains", () => {
  it("the catalog's pqm-export has no folder to render for, and says where the text comes from", () => {
    const generic = getScoringConvention("pqm-export");
    expect(generic.poolingReadout).toBe("single");
    expect(() => generic.renderText("q", ["s"])).toThrow(/pqm_export\.json.*scoringConventionForFolder/);
  });

  it("a malformed pqm_export.json names the file and the field", async () => {
    const folder = join(scratch, "bad-info");
    mkdirSync(folder, { recursive: true });
    const good = JSON.parse(readFileSync(join(scratch, "llama2-vllm", HF_EXPORT_INFO_FILE), "utf8")) as {
      prompt: Record<string, unknown>;
      score_bias: Record<string, unknown>;
    };
    const info = join(folder, HF_EXPORT_INFO_FILE);
    writeFileSync(info, JSON.stringify({ ...good, prompt: { ...good.prompt, head: 7 } }));
    await expect(readPqmExportFormat(folder)).rejects.toThrow(
      new ModelLoadError(info, "prompt.head", "expected a string, got 7"),
    );
    writeFileSync(info, JSON.stringify({ ...good, score_bias: { ...good.score_bias, in: "elsewhere" } }));
    await expect(readPqmExportFormat(folder)).rejects.toThrow(
      /'score_bias\.in': expected "score\.bias" or "pqm_export\.json"/,
    );
    await expect(readPqmExportFormat(join(scratch, "nothing"))).rejects.toThrow(
      /pqm_export\.json: not found/,
    );
  });

  it("a bias recorded in pqm_export.json beside a score.bias tensor is refused, naming both", async () => {
    const folder = join(scratch, "both-biases");
    const source = join(scratch, "llama2-transformers");
    mkdirSync(folder, { recursive: true });
    for (const file of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) {
      writeFileSync(join(folder, file), readFileSync(join(source, file)));
    }
    const info = JSON.parse(readFileSync(join(source, HF_EXPORT_INFO_FILE), "utf8")) as {
      score_bias: Record<string, unknown>;
    };
    writeFileSync(
      join(folder, HF_EXPORT_INFO_FILE),
      JSON.stringify({ ...info, score_bias: { ...info.score_bias, in: HF_EXPORT_INFO_FILE } }),
    );
    await expect(loadConventionScorer(folder)).rejects.toThrow(
      /'score\.bias': present, but .*pqm_export\.json records the bias itself/,
    );
  });

  it("a two-label TRL classifier keeps the two-class readout", async () => {
    const fixture = readConventionFixture("trl-token-classification");
    expect(fixture).not.toBeNull();
    expect((await detectScoringConvention(fixture!.model)).poolingReadout).toBe("two-class");
  });
});
