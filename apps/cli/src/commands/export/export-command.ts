import type { Command } from "commander";
import { CliError } from "../../shared/cli-error.js";
import { parseBackendOption, parseChoice, TFJS_BACKEND_CHOICES } from "../../shared/option-parsers.js";
import { printJson } from "../../shared/terminal-output.js";

/** Registers `pqm export`; its work (@pqm/model, and TF.js for ONNX) is imported only when it runs. */
export function registerExport(program: Command): void {
  program
    .command("export")
    .description(
      "export a checkpoint for other runtimes: a Hugging Face token-classification folder (transformers, vLLM) or an ONNX file (ONNX Runtime)",
    )
    .requiredOption(
      "--model <checkpoint>",
      "checkpoint folder of a process reward model (pqm train writes them)",
    )
    .requiredOption("--format <format>", "hf-token-classification or onnx")
    .option(
      "--out <path>",
      "hf-token-classification: the folder to write (required); onnx: the file (default <checkpoint>/model.onnx, where ONNX scoring looks)",
    )
    .option(
      "--target <runtime>",
      "hf-token-classification: transformers (the value head's bias as score.bias) or vllm (no score.bias tensor; the bias in pqm_export.json)",
    )
    .option("--dtype <type>", "onnx: float32 (default) or float16 weights (half the file)")
    .option(
      "--external-data",
      "onnx: weights in <file>.data beside the model even below 2 GiB (above, always)",
    )
    .option(
      "--backend <name>",
      `onnx: TF.js backend that loads the checkpoint: ${TFJS_BACKEND_CHOICES.join(", ")}`,
    )
    .option("--json", "print what was written as JSON")
    .action(
      async (options: {
        model: string;
        format: string;
        out?: string;
        target?: string;
        dtype?: string;
        externalData?: boolean;
        backend?: string;
        json?: boolean;
      }) => {
        const format = parseChoice("--format", options.format, ["hf-token-classification", "onnx"] as const);
        const { runExport } = await import("./export.js");
        if (format === "hf-token-classification") {
          for (const [flag, value] of [
            ["--dtype", options.dtype],
            ["--external-data", options.externalData],
            ["--backend", options.backend],
          ] as const) {
            if (value !== undefined) throw new CliError(`${flag} applies to --format onnx only`, 2);
          }
          if (options.out === undefined)
            throw new CliError("--format hf-token-classification needs --out <folder>", 2);
          const target = parseChoice("--target", options.target ?? "transformers", [
            "transformers",
            "vllm",
          ] as const);
          const result = await runExport({ format, model: options.model, out: options.out, target });
          if (options.json) return printJson(result);
          console.log(result.summary.join("\n"));
          return;
        }
        if (options.target !== undefined)
          throw new CliError("--target applies to --format hf-token-classification only", 2);
        const dtype = parseChoice("--dtype", options.dtype ?? "float32", ["float32", "float16"] as const);
        const backend = parseBackendOption(options.backend);
        const result = await runExport({
          format,
          model: options.model,
          ...(options.out === undefined ? {} : { out: options.out }),
          dtype,
          externalData: options.externalData === true,
          ...(backend === undefined ? {} : { backend }),
          log: options.json ? () => {} : (line) => process.stderr.write(`${line}\n`),
        });
        if (options.json) return printJson(result);
        console.log(result.summary.join("\n"));
      },
    );
}
