import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../run-cli.test-helper.js";
import type { ExportCommandResult } from "./export.js";

// A small committed pqm checkpoint of @pqm/model's fixtures (a micro Llama PRM) and its committed export.
const fixture = join(
  dirname(fileURLToPath(import.meta.url)),
  "../../../../../packages/model/test/fixtures/hf-export/micro-llama",
);
const checkpoint = join(fixture, "checkpoint");

let folder = "";
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "pqm-cli-export-"));
});
afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

describe("pqm export", () => {
  it("--format hf-token-classification writes the folder @pqm/model writes, and prints the vLLM command", async () => {
    const out = join(folder, "hf");
    const run = await runCli([
      "export",
      "--format",
      "hf-token-classification",
      "--model",
      checkpoint,
      "--out",
      out,
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      /^wrote .*hf \(LlamaForTokenClassification, 5 files, .*\): step tag "\[PRM\]" = id 4, value head bias .* in score\.bias$/m,
    );
    expect(run.stdout).toContain(
      `serve with vLLM: vllm serve ${out} --runner pooling --convert classify --pooler-config '{"pooling_type":"STEP","step_tag_id":4}'`,
    );
    for (const file of ["config.json", "model.safetensors", "tokenizer.json"]) {
      expect(readFileSync(join(out, file)).equals(readFileSync(join(fixture, "export", file))), file).toBe(
        true,
      );
    }
  });

  it("--target vllm keeps score.bias out (--json)", async () => {
    const out = join(folder, "hf-vllm");
    const run = await runCli([
      "export",
      "--format",
      "hf-token-classification",
      "--model",
      checkpoint,
      "--out",
      out,
      "--target",
      "vllm",
      "--json",
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as ExportCommandResult;
    expect(result.huggingFace?.target).toBe("vllm");
    expect(result.huggingFace?.scoreBias.in).toBe("pqm_export.json");
    const info = JSON.parse(readFileSync(join(out, "pqm_export.json"), "utf8")) as {
      score_bias: { in: string };
    };
    expect(info.score_bias.in).toBe("pqm_export.json");
  });

  it("--format onnx --dtype float16 --external-data writes the model and its data file", async () => {
    const out = join(folder, "onnx", "prm.onnx");
    const run = await runCli([
      "export",
      "--format",
      "onnx",
      "--model",
      checkpoint,
      "--out",
      out,
      "--dtype",
      "float16",
      "--external-data",
      "--backend",
      "cpu",
      "--json",
    ]);
    expect(run.exitCode, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout) as ExportCommandResult;
    expect(result.onnx).toEqual({
      dtype: "float16",
      externalData: true,
      outputs: ["hidden_states", "values"],
    });
    expect(result.files.map((file) => file.path)).toEqual([out, `${out}.data`]);
    expect(existsSync(`${out}.data`)).toBe(true);
  });

  it("refuses bad usage with exit code 2 and a missing checkpoint with exit code 1", async () => {
    const gguf = await runCli([
      "export",
      "--format",
      "gguf",
      "--model",
      checkpoint,
      "--out",
      join(folder, "x"),
    ]);
    expect(gguf.exitCode).toBe(2);
    expect(gguf.stderr).toContain("--format 'gguf' is not one of hf-token-classification, onnx");
    const mixed = await runCli([
      "export",
      "--format",
      "hf-token-classification",
      "--model",
      checkpoint,
      "--out",
      join(folder, "x"),
      "--dtype",
      "float16",
    ]);
    expect(mixed.exitCode).toBe(2);
    expect(mixed.stderr).toContain("--dtype applies to --format onnx only");
    const noOut = await runCli(["export", "--format", "hf-token-classification", "--model", checkpoint]);
    expect(noOut.exitCode).toBe(2);
    expect(noOut.stderr).toContain("needs --out <folder>");
    const missing = await runCli([
      "export",
      "--format",
      "hf-token-classification",
      "--model",
      join(folder, "nope"),
      "--out",
      join(folder, "x"),
    ]);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain(`pqm: ${join(folder, "nope")}: no such checkpoint folder`);
  });
});
