import { existsSync } from "node:fs";
import { join } from "node:path";
import type { BackendChoice } from "@pqm/model";
import { CliError } from "../../shared/cli-error.js";

/** Options of `pqm export`. */
export type ExportCommandOptions =
  | { format: "hf-token-classification"; model: string; out: string; target: "transformers" | "vllm" }
  | {
      format: "onnx";
      model: string;
      /** The .onnx file (default `<model>/model.onnx`). */
      out?: string;
      dtype: "float32" | "float16";
      /** Weights in `<out>.data` even below 2 GiB. */
      externalData: boolean;
      backend?: BackendChoice;
      /** Where the backend line goes. */
      log?: (line: string) => void;
    };

/** What `pqm export` wrote. */
export interface ExportCommandResult {
  format: "hf-token-classification" | "onnx";
  /** The folder (hf-token-classification) or the .onnx file (onnx). */
  out: string;
  /** Files written, with their sizes in bytes. */
  files: { path: string; bytes: number }[];
  /** hf-token-classification: the architecture, step tag, score bias and vLLM command. */
  huggingFace?: {
    architecture: string;
    target: "transformers" | "vllm";
    stepTag: { text: string; id: number };
    scoreBias: { value: number; in: string };
    vllmCommand: string;
  };
  /** onnx: how the weights are stored. */
  onnx?: { dtype: "float32" | "float16"; externalData: boolean; outputs: string[] };
  /** The lines printed without --json. */
  summary: string[];
}

function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  return `${(bytes / 2 ** 10).toFixed(1)} KiB`;
}

/**
 * Exports a checkpoint: to a Hugging Face token-classification folder (no TF.js: the weights are copied
 * tensor by tensor) or to an ONNX file (the checkpoint is loaded on the TF.js backend, then written).
 * @throws CliError for a missing checkpoint folder; @pqm/model's errors naming the file and field.
 */
export async function runExport(options: ExportCommandOptions): Promise<ExportCommandResult> {
  if (!existsSync(options.model)) throw new CliError(`${options.model}: no such checkpoint folder`);
  const { statSync } = await import("node:fs");
  if (options.format === "hf-token-classification") {
    const { exportHuggingFaceTokenClassification } = await import("@pqm/model");
    const result = await exportHuggingFaceTokenClassification(options.model, options.out, {
      target: options.target,
    });
    const files = result.files.map((file) => {
      const path = join(options.out, file);
      return { path, bytes: statSync(path).size };
    });
    const total = files.reduce((sum, file) => sum + file.bytes, 0);
    return {
      format: options.format,
      out: options.out,
      files,
      huggingFace: {
        architecture: result.architecture,
        target: result.target,
        stepTag: result.stepTag,
        scoreBias: result.scoreBias,
        vllmCommand: result.vllmCommand,
      },
      summary: [
        `wrote ${options.out} (${result.architecture}, ${files.length} files, ${formatBytes(total)}): step tag ${JSON.stringify(result.stepTag.text)} = id ${result.stepTag.id}, value head bias ${result.scoreBias.value} in ${result.scoreBias.in}`,
        `serve with vLLM: ${result.vllmCommand}`,
      ],
    };
  }
  const { exportPrmToOnnx, loadCheckpoint, selectBackend } = await import("@pqm/model");
  const log = options.log ?? (() => {});
  const selection = await selectBackend({
    ...(options.backend === undefined ? {} : { backend: options.backend }),
    onWarning: (message) => log(`warning: ${message}`),
  });
  log(`loading on ${selection.description}`);
  const { model } = await loadCheckpoint(options.model, {
    onWarning: (message) => log(`warning: ${message}`),
  });
  try {
    const out = options.out ?? join(options.model, "model.onnx");
    const result = await exportPrmToOnnx(model, out, {
      dtype: options.dtype,
      ...(options.externalData ? { externalData: true } : {}),
    });
    const files = [
      { path: result.path, bytes: result.bytes },
      ...(result.dataPath === null ? [] : [{ path: result.dataPath, bytes: result.dataBytes }]),
    ];
    return {
      format: "onnx",
      out,
      files,
      onnx: { dtype: result.dtype, externalData: result.dataPath !== null, outputs: result.outputs },
      summary: [
        `wrote ${out} (${result.dtype} weights, ${formatBytes(result.bytes)}${
          result.dataPath === null ? "" : `; weights in ${result.dataPath}, ${formatBytes(result.dataBytes)}`
        }; outputs ${result.outputs.join(", ")})`,
      ],
    };
  } finally {
    model.dispose();
  }
}
