import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { LabeledTrajectory, Trajectory } from "@pqm/core";
import { ArithEnvironment } from "@pqm/data";
import { useBackend } from "@pqm/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DecoderConfigJson } from "../backbone/create-random-decoder.js";
import { ModelLoadError } from "../backbone/model-load-error.js";
import { readSafetensorsFile } from "../backbone/safetensors/read-safetensors.js";
import { loadCheckpoint } from "../checkpoint/load-checkpoint.js";
import { saveCheckpoint } from "../checkpoint/save-checkpoint.js";
import { ProcessRewardModel } from "../prm/process-reward-model.js";
import { buildWordTokenizer } from "../tokenizer/builtin-tokenizer.js";
import type { HfTokenClassificationInfo } from "./hf-token-classification.js";
import { exportHuggingFaceTokenClassification, HF_EXPORT_INFO_FILE } from "./hf-token-classification.js";

// The Hugging Face token-classification export, checked three ways: its layout (names, shapes, config,
// tokenizer), an independent PyTorch reading of the folder (test/fixtures/hf-export/
// check_token_classification.py, which imports the golden decoders' reference forward pass) against
// pqm's own scores, and, without PyTorch, the committed output of that script for a committed export.

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "test", "fixtures", "hf-export");
const checkScript = join(fixtures, "check_token_classification.py");
const python = "/usr/bin/python3";
const torchAvailable = spawnSync(python, ["-c", "import torch, numpy"], { stdio: "ignore" }).status === 0;
const torchSkip = torchAvailable
  ? ""
  : ` [skipped: ${python} cannot import torch; apt-get install -y python3-torch python3-numpy]`;

/** Tolerance of the comparison with PyTorch and with the committed output (float32 on both sides). */
const TOLERANCE = 1e-4;

let scratch = "";
let corpus: LabeledTrajectory[] = [];

beforeAll(async () => {
  await useBackend("wasm");
  scratch = mkdtempSync(join(tmpdir(), "pqm-hf-export-"));
  corpus = new ArithEnvironment({ seed: 2 }).exactTrainingCorpus({ questions: 6, samplesPerQuestion: 2 });
});
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
});

function tokenizer() {
  return buildWordTokenizer(corpus.map((t) => `${t.question.text} ${t.steps.join(" ")}`));
}

function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

interface PythonOutput {
  checks: Record<string, unknown>;
  cases: { tag_positions: number[]; logits: number[] }[];
}

/** Runs the PyTorch check on an export with the token ids pqm's encoder gives the corpus. */
function pythonScores(model: ProcessRewardModel, folder: string): PythonOutput {
  const cases = corpus.map((trajectory) => {
    const outcome = model.encoder.encode(trajectory);
    if (!outcome.ok) throw new Error(outcome.rejection.message);
    return {
      input_ids: Array.from(outcome.row.inputIds),
      tag_positions: Array.from(outcome.row.tagPositions),
    };
  });
  const casesFile = join(folder, "..", `${folder.split("/").at(-1)}-cases.json`);
  writeFileSync(casesFile, JSON.stringify({ cases }));
  const run = spawnSync(python, [checkScript, folder, casesFile], { encoding: "utf8" });
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  const output = JSON.parse(run.stdout) as PythonOutput;
  output.cases.forEach((got, index) => {
    expect(got.tag_positions).toEqual(cases[index]!.tag_positions);
  });
  return output;
}

function worstDifference(got: number[][], want: number[][]): number {
  expect(got.map((row) => row.length)).toEqual(want.map((row) => row.length));
  let worst = 0;
  got.forEach((row, index) => {
    row.forEach((value, step) => {
      worst = Math.max(worst, Math.abs(value - want[index]![step]!));
    });
  });
  return worst;
}

const BACKBONES: Record<string, DecoderConfigJson> = {
  llama: {
    model_type: "llama",
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    tie_word_embeddings: false,
  },
  qwen2: {
    model_type: "qwen2",
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rope_theta: 1000000,
  },
  mistral: {
    model_type: "mistral",
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 1,
    sliding_window: 16,
  },
};

describe("exportHuggingFaceTokenClassification", () => {
  it("writes the token-classification layout: config, model.* + score tensors, tokenizer with the tag, pqm_export.json", async () => {
    const model = ProcessRewardModel.fromScratch(BACKBONES.llama!, tokenizer(), { seed: 3 });
    const checkpoint = join(scratch, "layout-checkpoint");
    await saveCheckpoint(checkpoint, model, { loss: "pqm", zeta: 4 });
    const out = join(scratch, "layout-export");
    const result = await exportHuggingFaceTokenClassification(checkpoint, out);
    expect(result.architecture).toBe("LlamaForTokenClassification");
    expect(result.stepTag).toEqual({ text: "[PRM]", id: model.stepTag.id });

    const config = readJson<Record<string, unknown>>(join(out, "config.json"));
    expect(config.architectures).toEqual(["LlamaForTokenClassification"]);
    expect(config.num_labels).toBe(1);
    expect(config.id2label).toEqual({ "0": "LABEL_0" });
    expect(config.label2id).toEqual({ LABEL_0: 0 });
    expect(config.vocab_size).toBe(model.backbone.config.vocabSize);
    expect(config.rms_norm_eps).toBe(model.backbone.config.rmsNormEps);

    const source = await readSafetensorsFile(join(checkpoint, "model.safetensors"));
    const weights = await readSafetensorsFile(join(out, "model.safetensors"));
    const names = [...weights.entries.keys()].sort();
    expect(names.filter((name) => !name.startsWith("model."))).toEqual(["score.bias", "score.weight"]);
    expect(names.filter((name) => name.startsWith("model."))).toEqual(
      [...source.entries.keys()].filter((name) => name.startsWith("model.")).sort(),
    );
    expect(source.entries.has("lm_head.weight")).toBe(true); // untied in the checkpoint, left out of the export
    expect(weights.entries.get("score.weight")!.shape).toEqual([1, 32]);
    expect(weights.entries.get("score.bias")!.shape).toEqual([1]);
    expect(weights.float32("score.weight")).toEqual(Float32Array.from(model.valueHead.weight.dataSync()));
    expect(weights.float32("score.bias")[0]).toBe(model.valueHead.bias.dataSync()[0]);
    expect(weights.float32("model.layers.1.mlp.down_proj.weight")).toEqual(
      source.float32("model.layers.1.mlp.down_proj.weight"),
    );

    const tokenizerJson = readJson<{ added_tokens: { id: number; content: string; special: boolean }[] }>(
      join(out, "tokenizer.json"),
    );
    expect(tokenizerJson.added_tokens).toContainEqual(
      expect.objectContaining({ id: model.stepTag.id, content: "[PRM]", special: true }),
    );
    const info = readJson<HfTokenClassificationInfo>(join(out, HF_EXPORT_INFO_FILE));
    expect(info.step_tag).toEqual({ text: "[PRM]", id: model.stepTag.id, mode: "special" });
    expect(info.score_bias.in).toBe("score.bias");
    expect(info.prompt.template).toBe("plain");
    expect(info.prompt.example.text).toBe(
      "Tom has 3 apples and buys 4 more. How many apples does he have? Step 1: Tom starts with 3 apples. [PRM]\nStep 2: 3 + 4 = 7. The answer is: 7 [PRM]",
    );
    expect(info.vllm.pooler_config).toEqual({ pooling_type: "STEP", step_tag_id: model.stepTag.id });
    expect(result.vllmCommand).toBe(
      `vllm serve ${out} --runner pooling --convert classify --pooler-config '{"pooling_type":"STEP","step_tag_id":${model.stepTag.id}}'`,
    );

    // A model object exports to the same files as its saved checkpoint.
    const fromModel = join(scratch, "layout-from-model");
    await exportHuggingFaceTokenClassification(model, fromModel);
    for (const file of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) {
      expect(readFileSync(join(fromModel, file)).equals(readFileSync(join(out, file)))).toBe(true);
    }
    model.dispose();
  });

  it("target vllm leaves score.bias out of the weights and records the bias in pqm_export.json", async () => {
    const model = ProcessRewardModel.fromScratch(BACKBONES.llama!, tokenizer(), { seed: 4 });
    const out = join(scratch, "vllm-export");
    const result = await exportHuggingFaceTokenClassification(model, out, { target: "vllm" });
    const weights = await readSafetensorsFile(join(out, "model.safetensors"));
    expect(weights.entries.has("score.bias")).toBe(false);
    const bias = model.valueHead.bias.dataSync()[0] as number;
    expect(result.scoreBias).toEqual({ value: bias, in: HF_EXPORT_INFO_FILE });
    const info = readJson<HfTokenClassificationInfo>(join(out, HF_EXPORT_INFO_FILE));
    expect(info.score_bias.value).toBe(bias);
    expect(info.vllm.readout).toMatch(/\+ score_bias\.value/);
    model.dispose();
  });

  it("names what is missing or unsupported", async () => {
    await expect(
      exportHuggingFaceTokenClassification(join(scratch, "nothing"), join(scratch, "x")),
    ).rejects.toThrow(ModelLoadError);
    await expect(
      exportHuggingFaceTokenClassification(join(scratch, "nothing"), join(scratch, "x")),
    ).rejects.toThrow(/pqm\.json: not found: the export needs a pqm checkpoint/);
    const model = ProcessRewardModel.fromScratch(BACKBONES.llama!, tokenizer(), { seed: 5 });
    const checkpoint = join(scratch, "gemma-checkpoint");
    await saveCheckpoint(checkpoint, model);
    model.dispose();
    const configPath = join(checkpoint, "config.json");
    writeFileSync(configPath, JSON.stringify({ ...readJson<object>(configPath), model_type: "gemma" }));
    await expect(
      exportHuggingFaceTokenClassification(checkpoint, join(scratch, "x"), { verify: false }),
    ).rejects.toThrow(/config\.json: 'model_type': "gemma" has no token-classification export/);
    // With verification on, the altered config is caught first.
    await expect(exportHuggingFaceTokenClassification(checkpoint, join(scratch, "x"))).rejects.toThrow(
      /config\.json has the right size but its SHA-256 differs|config\.json is/,
    );
  });

  for (const [family, backbone] of Object.entries(BACKBONES)) {
    it.skipIf(!torchAvailable)(
      `${family}: an independent PyTorch reading of the export gives pqm's scores at every step tag (${TOLERANCE})${torchSkip}`,
      async () => {
        const model = ProcessRewardModel.fromScratch(backbone, tokenizer(), { seed: 6 });
        const reference = await model.scoreSteps(corpus);
        const spread = Math.max(...reference.flat()) - Math.min(...reference.flat());
        expect(spread).toBeGreaterThan(0.01); // scores differ: a wrong reading can be seen
        for (const target of ["transformers", "vllm"] as const) {
          const out = join(scratch, `${family}-${target}`);
          const result = await exportHuggingFaceTokenClassification(model, out, { target });
          const output = pythonScores(model, out);
          expect(output.checks.architecture).toBe(result.architecture);
          expect(output.checks.step_tag_added_special).toBe(true);
          expect(output.checks.step_tag_in_added_tokens_decoder).toBe(true);
          const got = output.cases.map((scored) => scored.logits);
          expect(worstDifference(got, reference)).toBeLessThanOrEqual(TOLERANCE);
        }
        model.dispose();
      },
    );
  }
});

describe("the committed export (test/fixtures/hf-export/micro-llama), without PyTorch", () => {
  const root = join(fixtures, "micro-llama");

  it("re-exporting the committed checkpoint gives the committed files", async () => {
    const out = join(scratch, "micro-again");
    await exportHuggingFaceTokenClassification(join(root, "checkpoint"), out);
    for (const file of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"]) {
      expect(readFileSync(join(out, file)).equals(readFileSync(join(root, "export", file))), file).toBe(true);
    }
    const info = readJson<HfTokenClassificationInfo>(join(out, HF_EXPORT_INFO_FILE));
    const committed = readJson<HfTokenClassificationInfo>(join(root, "export", HF_EXPORT_INFO_FILE));
    const comparable = (value: HfTokenClassificationInfo) => ({
      ...value,
      vllm: { ...value.vllm, command: "" },
      source: { ...value.source, "@pqm/model": "" },
    });
    expect(comparable(info)).toEqual(comparable(committed));
  });

  it(`pqm's scores of the committed checkpoint equal the committed PyTorch reading of its export (${TOLERANCE})`, async () => {
    const { model } = await loadCheckpoint(join(root, "checkpoint"));
    const { cases } = readJson<{
      cases: { question: string; steps: string[]; input_ids: number[]; tag_positions: number[] }[];
    }>(join(root, "cases.json"));
    const expected = readJson<PythonOutput>(join(root, "expected.json"));
    const trajectories: Trajectory[] = cases.map((entry, index) => ({
      question: { id: `q${index}`, text: entry.question, answer: null, domain: "math" },
      steps: entry.steps,
    }));
    cases.forEach((entry, index) => {
      const outcome = model.encoder.encode(trajectories[index]!);
      expect(outcome.ok).toBe(true);
      if (!outcome.ok) return;
      expect(Array.from(outcome.row.inputIds)).toEqual(entry.input_ids);
      expect(expected.cases[index]!.tag_positions).toEqual(entry.tag_positions);
    });
    const scores = await model.scoreSteps(trajectories);
    const want = expected.cases.map((entry) => entry.logits);
    expect(worstDifference(scores, want)).toBeLessThanOrEqual(TOLERANCE);
    expect(Math.max(...want.flat()) - Math.min(...want.flat())).toBeGreaterThan(0.05);
    model.dispose();
  });

  it("the committed export is what check_token_classification.py reads (its checks pass)", () => {
    const expected = readJson<PythonOutput>(join(root, "expected.json"));
    expect(expected.checks).toMatchObject({
      architecture: "LlamaForTokenClassification",
      step_tag_added_special: true,
      step_tag_in_added_tokens_decoder: true,
    });
    // The folder is self-contained: copying it elsewhere keeps every file it names.
    const copy = join(scratch, "micro-copy");
    cpSync(join(root, "export"), copy, { recursive: true });
    expect(readJson<HfTokenClassificationInfo>(join(copy, HF_EXPORT_INFO_FILE)).step_tag.text).toBe("[PRM]");
  });
});
